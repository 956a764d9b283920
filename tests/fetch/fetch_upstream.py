"""Builders for the fetch tests (their fixtures: conftest.py): a local HTTP server (127.0.0.1) serving every
source of `vrft data fetch` in its *upstream* format, built from the synthetic data: COCO and LVIS zips, every
COCO/LVIS image at its ``coco_url`` path, the VGG archives (Flowers102 ``102flowers.tgz`` + ``imagelabels.mat``
/ ``setid.mat``, Pets ``images.tar.gz`` + ``annotations.tar.gz``), ``fgvc-aircraft-2013b.tar.gz``, the
official-style test lists (``torch.save``d ``.pth`` + ``.txt``) and exist maps. Stanford Cars
(``cars_test.tgz``, ``cars_train.tgz``, ``car_devkit.tgz``) and ReasonSeg (``ReasonSeg.zip``) are built too,
for ``--from`` (a local file or a URL on the same server). The server honours ``Range``, can drop a
connection half-way (`drop_once`) and logs every request.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tasks.synthetic import SyntheticSizes, write_synthetic

torch = pytest.importorskip("torch")
scipy_io = pytest.importorskip("scipy.io")

CLUSTER = "/mnt/petrelfs/liuziyu/LLM_Memory/SimplyRetrieve/CLIP-Cls/data/"
SIZES = SyntheticSizes(coco_train_images=40)  # more train images than one k-shot sample takes


class Server(ThreadingHTTPServer):
    files: dict[str, bytes]
    drop_once: set[str]
    log: list[tuple[str, str | None]]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Server

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


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tgz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def mat_bytes(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    scipy_io.savemat(buf, arrays)
    return buf.getvalue()


def torch_bytes(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def url_path(url: str) -> str:
    """The path `--mirror BASE` fetches `url` from (``BASE/<host>/<path>``)."""
    return "/" + url.split("://", 1)[1]


def _files(folder: Path, prefix: str) -> dict[str, bytes]:
    return {f"{prefix}{p.name}": p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _official_list(dataset_dir: str, split: dict[str, list[list[Any]]], image_dir: str = "") -> dict[str, bytes]:
    """The official ``<dataset>.pth`` (cluster paths, 0-d label tensors and the baseline's logits) + ``.txt``."""
    names = {lab: name for part in split.values() for _, lab, name in part}
    entries = [
        {
            f"{CLUSTER}{dataset_dir}/{image_dir}{p}": {
                "label": torch.tensor(lab),
                "pred_logits": torch.zeros(10, dtype=torch.float16),
                "pred_class": torch.zeros(10, dtype=torch.int64),
            }
        }
        for p, lab, _ in split["test"]
    ]
    return {"pth": torch_bytes(entries), "txt": "\n".join(names[i] for i in range(len(names))).encode()}


@dataclass(frozen=True)
class Upstream:
    """Source key -> bytes (served under its URL), extra paths (images by coco_url, --from files) -> bytes,
    and the synthetic tree they were built from."""

    sources: dict[str, bytes]
    extra: dict[str, bytes]
    given: dict[str, bytes]  # --from files: name -> bytes
    synth: Path

    def split(self, folder: str, index: str) -> dict[str, list[list[Any]]]:
        data: dict[str, list[list[Any]]] = json.loads((self.synth / folder / index).read_text())
        return data


def _vgg_flowers(synth: Path, out: dict[str, bytes]) -> None:
    flowers = synth / "oxford_flowers"
    split = json.loads((flowers / "split_zhou_OxfordFlowers.json").read_text())
    ids = {p: int(p.removeprefix("image_").removesuffix(".jpg")) for part in split.values() for p, _, _ in part}
    labels = [1] * max(ids.values())
    for part in split.values():
        for p, lab, _ in part:
            labels[ids[p] - 1] = lab + 1
    row = {
        k: np.array([v], dtype=np.uint16)
        for k, v in {
            "trnid": [ids[p] for p, _, _ in split["train"]],
            "valid": [ids[p] for p, _, _ in split["val"]],
            "tstid": [ids[p] for p, _, _ in split["test"]],
        }.items()
    }
    official = _official_list("oxford_flowers", split, "jpg/")
    out.update(
        flowers_images=tgz_bytes(_files(flowers / "jpg", "jpg/")),
        flowers_labels=mat_bytes(labels=np.array([labels], dtype=np.uint16)),
        flowers_setid=mat_bytes(**row),
        list_flowers102_pth=official["pth"],
        list_flowers102_txt=official["txt"],
    )


def _vgg_pets(synth: Path, out: dict[str, bytes]) -> None:
    pets = synth / "oxford_pets"
    split = json.loads((pets / "split_zhou_OxfordPets.json").read_text())

    def lines(parts: list[list[Any]]) -> bytes:
        rows = [f"{p.removesuffix('.jpg')} {lab + 1} {1 + (p[0].isupper())} {lab + 1}" for p, lab, _ in parts]
        return ("#Image CLASS-ID SPECIES BREED ID\n" + "\n".join(rows) + "\n").encode()

    official = _official_list("oxford_pets", split, "images/")
    out.update(
        pets_images=tgz_bytes({**_files(pets / "images", "images/"), "images/Abyssinian_100.mat": b"stray"}),
        pets_annotations=tgz_bytes(
            {
                "annotations/trainval.txt": lines(split["train"] + split["val"]),
                "annotations/test.txt": lines(split["test"]),
                "annotations/list.txt": lines(split["train"] + split["val"] + split["test"]),
                "annotations/xmls/Abyssinian_1.xml": b"<annotation/>",
            }
        ),
        list_pets37_pth=official["pth"],
        list_pets37_txt=official["txt"],
    )


def _aircraft(synth: Path, out: dict[str, bytes]) -> None:
    folder = synth / "fgvc_aircraft"
    data = "fgvc-aircraft-2013b/data/"
    texts = {p.name: p.read_bytes() for p in folder.glob("*.txt")}
    trainval = texts["images_variant_train.txt"] + texts["images_variant_val.txt"]
    variants = (folder / "variants.txt").read_text().splitlines()
    rows = [line.partition(" ") for line in (folder / "images_variant_test.txt").read_text().splitlines()]
    official = _official_list(
        "fgvc_aircraft", {"test": [[f"{i}.jpg", variants.index(v), v] for i, _, v in rows]}, "images/"
    )
    out.update(list_aircraft_pth=official["pth"], list_aircraft_txt="\n".join(variants).encode())
    out["aircraft"] = tgz_bytes(
        {
            "fgvc-aircraft-2013b/README.html": b"<html/>",
            **{data + n: b for n, b in texts.items()},
            data + "images_variant_trainval.txt": trainval,
            data + "images_family_test.txt": b"",
            **_files(folder / "images", data + "images/"),
        }
    )


def _cars(synth: Path, out: dict[str, bytes], given: dict[str, bytes]) -> None:
    cars = synth / "stanford_cars"
    split = json.loads((cars / "split_zhou_StanfordCars.json").read_text())
    official = _official_list("stanford_cars", split)
    out.update(list_cars196_pth=official["pth"], list_cars196_txt=official["txt"])
    rec = np.zeros((1, len(split["train"])), dtype=[("bbox_x1", "O"), ("class", "O"), ("fname", "O")])
    for i, (p, lab, _) in enumerate(split["train"]):
        rec[0, i] = (np.array([[1]], dtype=np.uint8), np.array([[lab + 1]], dtype=np.uint8), p.split("/")[1])
    given["cars_test.tgz"] = tgz_bytes(_files(cars / "cars_test", "cars_test/"))
    given["cars_train.tgz"] = tgz_bytes(_files(cars / "cars_train", "cars_train/"))
    given["car_devkit.tgz"] = tgz_bytes(
        {"devkit/cars_train_annos.mat": mat_bytes(annotations=rec), "devkit/README.txt": b"devkit"}
    )


def _detection(synth: Path, out: dict[str, bytes], extra: dict[str, bytes]) -> None:
    coco, lvis = synth / "coco", synth / "lvis"
    out["coco_annotations"] = zip_bytes(_files(coco / "annotations", "annotations/"))
    out["coco_val2017"] = zip_bytes(_files(coco / "val2017", "val2017/"))
    # as in the real LVIS val, some of its images are COCO val2017 images (fetch reuses them, never fetches them)
    lvis_val = json.loads((lvis / "annotations" / "lvis_v1_val.json").read_text())
    for img in json.loads((coco / "annotations" / "instances_val2017.json").read_text())["images"][:3]:
        keys = ("id", "coco_url", "height", "width")
        lvis_val["images"].append(
            {**{k: img[k] for k in keys}, "neg_category_ids": [], "not_exhaustive_category_ids": []}
        )
    out["lvis_val"] = zip_bytes({"lvis_v1_val.json": json.dumps(lvis_val).encode()})
    out["lvis_train"] = zip_bytes({"lvis_v1_train.json": (lvis / "annotations" / "lvis_v1_train.json").read_bytes()})
    for ann, root in [
        (coco / "annotations" / f, coco) for f in ("instances_val2017.json", "instances_train2017.json")
    ] + [(lvis / "annotations" / f, lvis) for f in ("lvis_v1_val.json", "lvis_v1_train.json")]:
        for img in json.loads(ann.read_text())["images"]:
            rel = "/".join(img["coco_url"].split("/")[-2:])
            extra[url_path(img["coco_url"])] = (root / rel).read_bytes()
    for ds, ann in (
        ("coco", coco / "annotations" / "instances_val2017.json"),
        ("lvis", lvis / "annotations" / "lvis_v1_val.json"),
    ):
        gt = json.loads(ann.read_text())
        names = {c["id"]: c["name"] for c in gt["categories"]}
        present: dict[str, list[str]] = {str(img["id"]): [] for img in gt["images"]}
        for a in gt["annotations"]:
            if names[a["category_id"]] not in present[str(a["image_id"])]:
                present[str(a["image_id"])].append(names[a["category_id"]])
        for size in ("2B", "7B"):
            out[f"exist_map_{ds}_{size}"] = json.dumps(present).encode()


def _reasonseg(synth: Path, given: dict[str, bytes]) -> None:
    folder = synth / "lisa" / "ReasonSeg"
    members = {
        f"ReasonSeg/{split}/{p.name}": p.read_bytes()
        for split in ("val", "test")
        for p in sorted((folder / split).iterdir())
    }
    members.update({k.replace("/val/", "/train/"): v for k, v in members.items() if "/val/" in k})
    given["ReasonSeg.zip"] = zip_bytes(members)


def build_upstream(synth: Path) -> Upstream:
    """Write the synthetic tree to `synth` and build every upstream file from it."""
    write_synthetic(synth, seed=0, sizes=SIZES)
    out: dict[str, bytes] = {}
    extra: dict[str, bytes] = {}
    given: dict[str, bytes] = {}
    _detection(synth, out, extra)
    _vgg_flowers(synth, out)
    _vgg_pets(synth, out)
    _aircraft(synth, out)
    _cars(synth, out, given)
    _reasonseg(synth, given)
    return Upstream(out, extra, given, synth)


def start_server(upstream: Upstream) -> Server:
    """Serve the COCO/LVIS images at their coco_url paths and the --from files under /given/ (the sources are
    added by the caller, under their URLs)."""
    httpd = Server(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.drop_once, httpd.log = dict(upstream.extra), set(), []
    for name, body in upstream.given.items():
        httpd.files[f"/given/{name}"] = body
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd
