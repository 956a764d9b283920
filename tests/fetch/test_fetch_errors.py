"""`vrft data fetch` when things go wrong: a dropped connection (the rerun resumes with a Range request), a
corrupted archive (named with the expected checksum, nothing placed), an official list holding a non-tensor
object (refused by ``weights_only``), images that are missing upstream or do not decode, and ``--from``
input that is absent, incomplete or ambiguous (the message says what to download)."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from fetch_upstream import CLUSTER, Server, url_path  # tests/fetch/

from harness.fetch import parse_given
from harness.fetch import sources as src
from harness.fetch.download import FetchError
from harness.fetch.official_lists import read_test_list
from tasks.data.detection import lvis_relative_path

FLOWERS = CLUSTER + "oxford_flowers/jpg/"


def test_a_dropped_connection_resumes_with_a_range_request(
    server: Server, run_fetch: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    val = url_path(src.SOURCES["coco_val2017"].url)
    server.drop_once.add(val)
    assert run_fetch(root, "coco_fewshot") == 1
    err = capsys.readouterr().err
    assert "val2017.zip" in err and "run the command again to resume" in err
    part = root / ".downloads" / "val2017.zip.part"
    assert part.is_file() and 0 < part.stat().st_size < len(server.files[val])
    assert not (root / "coco" / "val2017").exists()  # nothing half-placed

    assert run_fetch(root, "coco_fewshot") == 0
    assert (val, f"bytes={len(server.files[val]) // 2}-") in server.log  # asked only for the rest
    assert (root / ".downloads" / "val2017.zip").read_bytes() == server.files[val]


def test_a_corrupted_archive_is_named_with_its_checksum_and_nothing_is_placed(
    server: Server, run_fetch: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    path = url_path(src.SOURCES["flowers_images"].url)
    good = server.files[path]
    server.files[path] = good[:100] + bytes(len(good) - 100)  # same size, zeroed tail
    assert run_fetch(root, "fgvc_flowers102") == 1
    err = capsys.readouterr().err
    assert "102flowers.tgz" in err and f"expected {src.SOURCES['flowers_images'].sha256}" in err
    assert "nothing was placed" in err
    assert not list((root / ".downloads").glob("102flowers.tgz*"))
    assert not (root / "oxford_flowers").exists()


def test_a_pth_with_a_non_tensor_object_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "oxford_flowers.pth"
    torch.save([{FLOWERS + "image_00001.jpg": {"label": Fraction(1, 3)}}], bad)
    with pytest.raises(FetchError, match=r"oxford_flowers\.pth: refused: .*weights_only=True"):
        read_test_list(bad, "oxford_flowers/jpg/", 10)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"/elsewhere/image_00001.jpg": {"label": 0}}, "does not contain 'oxford_flowers/jpg/'"),
        ({FLOWERS + "image_00001.jpg": {"label": "x"}}, "0-d integer tensor"),
        ({FLOWERS + "image_00001.jpg": {"label": 12}}, "out of range 0..9"),
    ],
)
def test_bad_test_list_entries_are_named(tmp_path: Path, entry: dict, message: str) -> None:
    if isinstance(next(iter(entry.values()))["label"], int):
        entry = {k: {"label": torch.tensor(v["label"])} for k, v in entry.items()}
    path = tmp_path / "list.pth"
    torch.save([entry], path)
    with pytest.raises(FetchError, match=f"entry 0: .*{message}"):
        read_test_list(path, "oxford_flowers/jpg/", 10)


def test_lvis_images_missing_upstream_or_undecodable_are_named_and_the_rest_resumes(
    server: Server, run_fetch: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    zpath = server.files[url_path(src.SOURCES["lvis_val"].url)]
    with zipfile.ZipFile(io.BytesIO(zpath)) as zf:
        urls = [img["coco_url"] for img in json.loads(zf.read("lvis_v1_val.json"))["images"]]
    gone, garbled = url_path(urls[0]), url_path(urls[1])
    saved = {p: server.files[p] for p in (gone, garbled)}
    del server.files[gone]
    server.files[garbled] = b"\xff\xd8 not really a jpeg"
    assert run_fetch(root, "lvis_fewshot") == 1
    err = capsys.readouterr().err
    assert "2 of" in err and "LVIS images could not be fetched" in err and "HTTP 404" in err
    assert "not a decodable image" in err and "run the command again to fetch the rest" in err
    lvis = root / "lvis"
    assert not (lvis / lvis_relative_path(urls[0])).exists() and not (lvis / lvis_relative_path(urls[1])).exists()
    assert (lvis / lvis_relative_path(urls[2])).is_file()  # the others are placed

    server.files.update(saved)
    before = len(server.log)
    assert run_fetch(root, "lvis_fewshot") == 0
    images = {p for p, _ in server.log[before:] if p.startswith("/images.cocodataset.org/")}
    assert images == {gone, garbled}  # only what was still missing


def test_stanford_cars_without_from_says_what_to_download(
    server: Server, run_fetch: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_fetch(tmp_path / "data", "fgvc_cars196") == 1  # not in place: the check's verdict
    out = capsys.readouterr().out
    assert "cars196: Stanford Cars: the original host" in out and "--from cars196=PATH_OR_URL" in out
    assert "cars_test.tgz" in out and "8,041 images" in out
    assert not any("stanford_cars.pth" in p for p, _ in server.log)  # nothing fetched for it


def test_from_input_without_the_expected_folders_is_refused_and_nothing_placed(
    server: Server,
    given: dict[str, Path],
    run_fetch: Callable[..., int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "data"
    assert run_fetch(root, "fgvc_cars196", "--from", str(given["car_devkit.tgz"])) == 1
    err = capsys.readouterr().err
    assert "car_devkit.tgz: no cars_test/ folder of .jpg images" in err and "cars_test.tgz" in err
    assert not (root / "stanford_cars").exists()

    wrong = tmp_path / "not_reasonseg"
    (wrong / "val").mkdir(parents=True)
    assert run_fetch(root, "lisa_grounding", "--from", str(wrong)) == 1
    err = capsys.readouterr().err
    assert f"{wrong}: no folder with val/ and test/ inside" in err and "dvlab-research/LISA" in err
    assert not (root / "lisa").exists()


def test_incomplete_cars_test_names_the_missing_images(
    server: Server,
    given: dict[str, Path],
    run_fetch: Callable[..., int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mine = tmp_path / "mine"
    with tarfile.open(given["cars_test.tgz"]) as tf:
        tf.extractall(mine, filter="data")
    first = sorted((mine / "cars_test").iterdir())[0]
    first.unlink()
    assert run_fetch(tmp_path / "data", "fgvc_cars196", "--from", str(mine)) == 1
    err = capsys.readouterr().err
    assert f"1 of the {src.TEST_COUNTS['cars196']} test images" in err and f"cars_test/{first.name}" in err
    assert not (tmp_path / "data" / "stanford_cars").exists()


def test_a_reasonseg_folder_is_copied_and_left_as_it_was(
    server: Server, given: dict[str, Path], run_fetch: Callable[..., int], tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    shutil.unpack_archive(given["ReasonSeg.zip"], mine)
    before = sorted(p.relative_to(mine) for p in mine.rglob("*"))
    assert run_fetch(tmp_path / "data", "lisa_grounding", "--from", str(mine)) == 0
    assert sorted(p.relative_to(mine) for p in mine.rglob("*")) == before  # the user's copy is untouched
    placed = tmp_path / "data" / "lisa" / "ReasonSeg"
    assert sorted(p.name for p in (placed / "val").iterdir()) == sorted(
        p.name for p in (mine / "ReasonSeg" / "val").iterdir()
    )


@pytest.mark.parametrize(
    ("values", "datasets", "message"),
    [
        (["/x.tgz"], ["cars196", "lisa"], r"say which dataset it is for: --from DATASET=PATH_OR_URL \(cars196, lisa\)"),
        (["coco=/x.zip"], ["coco", "cars196"], "coco=/x.zip: it is fetched from its public source"),
        (["lisa=/x.zip"], ["cars196"], "lisa=/x.zip: no selected task reads it"),
    ],
)
def test_ambiguous_or_misplaced_from_is_refused(values: list[str], datasets: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_given(values, datasets)
    assert parse_given(["/a.tgz", "cars196=/b.tgz"], ["coco", "cars196"]) == {"cars196": ["/a.tgz", "/b.tgz"]}


def test_an_archive_that_does_not_unpack_is_named_and_nothing_placed(
    server: Server,
    run_fetch: Callable[..., int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # FGVC-Aircraft has no published checksum: a complete download that is not a tar must still stop the run
    path = url_path(src.SOURCES["aircraft"].url)
    server.files[path] = b"<html>the mirror's error page</html>"
    monkeypatch.setitem(src.SOURCES, "aircraft", replace(src.SOURCES["aircraft"], size=None, sha256=None))
    root = tmp_path / "data"
    assert run_fetch(root, "fgvc_aircraft") == 1
    err = capsys.readouterr().err
    assert f"{root / '.downloads' / 'fgvc-aircraft-2013b.tar.gz'}: broken archive" in err and "delete it" in err
    assert not (root / "fgvc_aircraft").exists()
