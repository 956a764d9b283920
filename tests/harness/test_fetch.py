"""`vrft data fetch` end to end against a local HTTP server (127.0.0.1) that serves archives built from the
synthetic data in the upstream formats: COCO zips, the VGG Flowers102 tgz + ``imagelabels.mat`` /
``setid.mat``, the official-style ``.pth`` (``torch.save``) + ``.txt`` test list. The sources table is
pointed at these files' own sizes and sha256 (the real ones hold the publishers' checksums)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.cli import main
from harness.fetch import sources as src
from harness.fetch.download import FetchError
from harness.fetch.official_lists import read_test_list
from tasks.data.classification import load_classification
from tasks.synthetic import write_synthetic

torch = pytest.importorskip("torch")
scipy_io = pytest.importorskip("scipy.io")

CLUSTER = "/mnt/petrelfs/liuziyu/LLM_Memory/SimplyRetrieve/CLIP-Cls/data/oxford_flowers/jpg/"


class _Server(ThreadingHTTPServer):
    files: dict[str, bytes]
    drop_once: set[str]
    log: list[tuple[str, str | None]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = self.server.files.get(self.path)
        rng = self.headers.get("Range")
        self.server.log.append((self.path, rng))
        if body is None:
            self.send_error(404)
            return
        start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
        if start >= len(body):
            self.send_error(416)
            return
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path in self.server.drop_once:  # send half, then drop the connection
            self.server.drop_once.discard(self.path)
            self.wfile.write(body[start : start + (len(body) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _mat(**arrays: list[int]) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    scipy_io.savemat(buf, {k: np.array([v], dtype=np.uint16) for k, v in arrays.items()})
    return buf.getvalue()


def _torch_bytes(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _upstream(synth: Path) -> tuple[dict[str, bytes], dict]:
    """Source key -> bytes in the upstream format, and the synthetic flowers split they encode."""
    coco = synth / "coco"
    flowers = synth / "oxford_flowers"
    split = json.loads((flowers / "split_zhou_OxfordFlowers.json").read_text())
    names = {lab: name for part in split.values() for _, lab, name in part}
    ids = {p: int(p.removeprefix("image_").removesuffix(".jpg")) for part in split.values() for p, _, _ in part}
    labels = [1] * max(ids.values())
    for part in split.values():
        for p, lab, _ in part:
            labels[ids[p] - 1] = lab + 1
    test_list = [
        {
            CLUSTER + p: {
                "label": torch.tensor(lab),
                "pred_logits": torch.zeros(10, dtype=torch.float16),
                "pred_class": torch.zeros(10, dtype=torch.int64),
            }
        }
        for p, lab, _ in split["test"]
    ]
    data = {
        "coco_annotations": _zip(
            {"annotations/instances_val2017.json": (coco / "annotations" / "instances_val2017.json").read_bytes()}
        ),
        "coco_val2017": _zip({f"val2017/{p.name}": p.read_bytes() for p in sorted((coco / "val2017").iterdir())}),
        "flowers_images": _tgz({f"jpg/{p.name}": p.read_bytes() for p in sorted((flowers / "jpg").iterdir())}),
        "flowers_labels": _mat(labels=labels),
        "flowers_setid": _mat(
            trnid=[ids[p] for p, _, _ in split["train"]],
            valid=[ids[p] for p, _, _ in split["val"]],
            tstid=[ids[p] for p, _, _ in split["test"]],
        ),
        "list_flowers102_pth": _torch_bytes(test_list),
        "list_flowers102_txt": "\n".join(names[i] for i in range(len(names))).encode(),  # no trailing newline
    }
    return data, split


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict]:
    synth = tmp_path_factory.mktemp("synth")
    write_synthetic(synth, seed=0)
    return _upstream(synth)


@pytest.fixture
def server(upstream: tuple[dict[str, bytes], dict], monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    data, split = upstream
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.drop_once, httpd.log = {}, set(), []
    for key, body in data.items():
        remote = src.SOURCES[key]
        httpd.files[_path(key)] = body  # `--mirror BASE` fetches BASE/<host>/<path>
        monkeypatch.setitem(
            src.SOURCES, key, replace(remote, size=len(body), sha256=hashlib.sha256(body).hexdigest(), md5=None)
        )
    monkeypatch.setitem(src.TEST_COUNTS, "flowers102", len(split["test"]))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _mirror(httpd: _Server) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def _path(key: str) -> str:
    return "/" + src.SOURCES[key].url.split("://", 1)[1]


def _fetch(httpd: _Server, root: Path, *extra: str) -> int:
    return main(["data", "fetch", "--data-root", str(root), "--tasks", "coco_fewshot,fgvc_flowers102", *extra])


def test_fetch_lays_out_coco_and_flowers_then_checks_and_is_idempotent(
    server: _Server,
    upstream: tuple[dict[str, bytes], dict],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "data"
    assert _fetch(server, root, "--mirror", _mirror(server), "--dry-run") == 0
    listed = capsys.readouterr().out
    assert "val2017.zip" in listed and "oxford_flowers.pth" in listed and _mirror(server) in listed
    assert server.log == []  # a dry run fetches nothing

    assert _fetch(server, root, "--mirror", _mirror(server)) == 0
    assert "is in place" in capsys.readouterr().out
    test = load_classification("flowers102", root, "test")
    _, split = upstream
    assert [(s.doc_id, s.label, s.class_name) for s in test.samples] == [tuple(e) for e in split["test"]]
    train = load_classification("flowers102", root, "train", read_sizes=False)
    assert [(s.doc_id, s.label) for s in train.samples] == [(p, lab) for p, lab, _ in split["train"]]
    assert (root / "coco" / "val2017").is_dir() and not list(root.rglob("*.part"))
    assert not list(root.glob("*/.fetch-*"))  # staging folders are gone

    requests = len(server.log)
    assert _fetch(server, root, "--mirror", _mirror(server)) == 0  # everything in place: nothing fetched
    assert len(server.log) == requests
    assert _fetch(server, root, "--dry-run") == 0
    assert "nothing to fetch" in capsys.readouterr().out


def test_a_dropped_connection_resumes_with_a_range_request(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    server.drop_once.add(_path("coco_val2017"))
    assert _fetch(server, root, "--mirror", _mirror(server)) == 1
    err = capsys.readouterr().err
    assert "val2017.zip" in err and "run the command again to resume" in err
    part = root / ".downloads" / "val2017.zip.part"
    assert part.is_file() and 0 < part.stat().st_size < src.SOURCES["coco_val2017"].size  # type: ignore[operator]
    assert not (root / "coco" / "val2017").exists()  # nothing half-placed

    assert _fetch(server, root, "--mirror", _mirror(server)) == 0
    half = len(server.files[_path("coco_val2017")]) // 2
    assert (_path("coco_val2017"), f"bytes={half}-") in server.log  # asked only for the rest
    assert (root / ".downloads" / "val2017.zip").read_bytes() == server.files[_path("coco_val2017")]


def test_a_corrupted_archive_is_named_with_its_checksum_and_nothing_is_placed(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    good = server.files[_path("flowers_images")]
    server.files[_path("flowers_images")] = good[:100] + bytes(len(good) - 100)  # same size, zeroed tail
    assert _fetch(server, root, "--mirror", _mirror(server)) == 1
    err = capsys.readouterr().err
    assert "102flowers.tgz" in err and f"expected {src.SOURCES['flowers_images'].sha256}" in err
    assert "nothing was placed" in err
    assert not (root / ".downloads" / "102flowers.tgz").exists()
    assert not (root / ".downloads" / "102flowers.tgz.part").exists()
    assert not (root / "oxford_flowers").exists()


def test_a_pth_with_a_non_tensor_object_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "oxford_flowers.pth"
    torch.save([{CLUSTER + "image_00001.jpg": {"label": Fraction(1, 3)}}], bad)
    with pytest.raises(FetchError, match=r"oxford_flowers\.pth: refused: .*weights_only=True"):
        read_test_list(bad, "oxford_flowers/jpg/", 10)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"/elsewhere/image_00001.jpg": {"label": 0}}, "does not contain 'oxford_flowers/jpg/'"),
        ({CLUSTER + "image_00001.jpg": {"label": "x"}}, "0-d integer tensor"),
        ({CLUSTER + "image_00001.jpg": {"label": 12}}, "out of range 0..9"),
    ],
)
def test_bad_test_list_entries_are_named(tmp_path: Path, entry: dict, message: str) -> None:
    if isinstance(next(iter(entry.values()))["label"], int):
        entry = {k: {"label": torch.tensor(v["label"])} for k, v in entry.items()}
    path = tmp_path / "list.pth"
    torch.save([entry], path)
    with pytest.raises(FetchError, match=f"entry 0: .*{message}"):
        read_test_list(path, "oxford_flowers/jpg/", 10)
