"""`vrft data check` checks every image, and no data path leaves the data root."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from tasks.data import ALLOW_OUTSIDE_ENV, DataError, load_classification, load_coco_detection, load_lvis_detection
from tasks.data.layout import check_data, check_layout
from tasks.registry import get_task

FLOWERS = "oxford_flowers/split_zhou_OxfordFlowers.json"


def flowers_images(root: Path) -> list[Path]:
    return [root / "oxford_flowers/jpg" / e[0] for e in json.loads((root / FLOWERS).read_text())["test"]]


# ---- 3: every referenced image, not a spot check ---------------------------------------------------------


def test_every_image_is_checked_and_the_first_bad_ones_named(fresh_root: Path) -> None:
    images = flowers_images(fresh_root)
    n = len(images)
    old_spot_check = {round(i * (n - 1) / 4) for i in range(5)}  # the 5 images checked before
    hidden = [i for i in range(n) if i not in old_spot_check][:2]
    images[hidden[0]].unlink()
    images[hidden[1]].unlink()  # a hard link into the session tree: replace it, never rewrite it
    images[hidden[1]].write_bytes(b"")
    report = check_data(fresh_root, ["fgvc_flowers102", "fgvc_pets37"])
    [problem] = report.problems
    assert problem.tasks == ("fgvc_flowers102",) and problem.path == images[hidden[0]]
    assert f"2 of {n} images referenced by the annotations are missing or empty" in problem.what
    assert f"{images[hidden[0]]} (missing)" in problem.what and f"{images[hidden[1]]} (empty)" in problem.what
    assert report.images["fgvc_flowers102"].bad == 2 and report.images["fgvc_pets37"].bad == 0
    assert f"fgvc_flowers102: {n} images, 2 missing or empty" in report.summary()
    assert any(line.startswith("fgvc_pets37: ") and line.endswith("all present") for line in report.summary())


def test_many_missing_images_are_counted_and_the_first_few_shown(fresh_root: Path) -> None:
    refs = sorted((fresh_root / "coco/val2017").iterdir())
    for path in refs[1:-1]:
        path.unlink()
    [problem] = check_layout(fresh_root, ["coco_fewshot", "coco_ov"])
    assert problem.tasks == ("coco_fewshot", "coco_ov")
    assert f"{len(refs) - 2} of {len(refs)} images" in problem.what and f"and {len(refs) - 2 - 5} more" in problem.what


def test_deep_decodes_every_image(fresh_root: Path) -> None:
    image = flowers_images(fresh_root)[3]
    image.unlink()  # a hard link into the session tree: replace it, never rewrite it
    image.write_bytes(b"\xff\xd8\xff garbage, not a jpeg")
    assert check_layout(fresh_root, ["fgvc_flowers102"]) == []  # a stat sees a non-empty file
    [problem] = check_layout(fresh_root, ["fgvc_flowers102"], deep=True)
    assert (
        problem.path == image and "missing, empty or undecodable" in problem.what and "does not decode" in problem.what
    )
    assert "1 missing, empty or undecodable" in check_data(fresh_root, ["fgvc_flowers102"], deep=True).summary()[0]


def test_cli_data_check_prints_counts(fresh_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = len(flowers_images(fresh_root))
    assert main(["data", "check", "--data-root", str(fresh_root), "--tasks", "fgvc_flowers102"]) == 0
    out = capsys.readouterr().out
    assert f"fgvc_flowers102: {n} images, all present" in out and "is in place" in out
    flowers_images(fresh_root)[5].unlink()
    assert main(["data", "check", "--data-root", str(fresh_root), "--tasks", "fgvc_flowers102", "--deep"]) == 1
    out = capsys.readouterr().out
    assert f"fgvc_flowers102: {n} images, 1 missing, empty or undecodable" in out and "(missing)" in out


# ---- 4: no data path leaves the data root ---------------------------------------------------------------


@pytest.fixture
def outside(fresh_root: Path) -> Path:
    """A real image outside the data root."""
    path = fresh_root.parent / "outside.jpg"
    path.write_bytes(flowers_images(fresh_root)[0].read_bytes())
    return path


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))


def coco(root: Path) -> object:
    return load_coco_detection(root / "coco/annotations/instances_val2017.json", root / "coco/val2017")


def lvis(root: Path) -> object:
    return load_lvis_detection(root / "lvis/annotations/lvis_v1_val.json", [root / "lvis", root / "coco"])


def set_coco_name(name: Callable[[Path], str]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        def change(obj: Any) -> None:
            obj["images"][0]["file_name"] = name(root)

        edit_json(root / "coco/annotations/instances_val2017.json", change)

    return damage


def set_impath(name: Callable[[Path], str]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        def change(obj: Any) -> None:
            obj["test"][1][0] = name(root)

        edit_json(root / FLOWERS, change)

    return damage


def set_coco_url(url: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        def change(obj: Any) -> None:
            obj["images"][2]["coco_url"] = url

        edit_json(root / "lvis/annotations/lvis_v1_val.json", change)

    return damage


def set_aircraft_id(image_id: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / "fgvc_aircraft/images_variant_test.txt"
        rows = path.read_text().splitlines()
        rows[0] = f"{image_id} {rows[0].split(' ', 1)[1]}"
        path.write_text("\n".join(rows) + "\n")

    return damage


ESCAPES = [
    ("coco_dotdot", set_coco_name(lambda r: "../../../outside.jpg"), coco, ["images[0] (id", "'file_name'"]),
    ("coco_absolute", set_coco_name(lambda r: str(r.parent / "outside.jpg")), coco, ["images[0]", "outside.jpg"]),
    ("lvis_dotdot", set_coco_url("http://images.cocodataset.org/../.."), lvis, ["images[2]", "'coco_url' '../..'"]),
    ("coop_dotdot", set_impath(lambda r: "../../../outside.jpg"), None, ["flowers102 test[1]", "image path"]),
    ("coop_absolute", set_impath(lambda r: str(r.parent / "outside.jpg")), None, ["flowers102 test[1]"]),
    ("aircraft_dotdot", set_aircraft_id("../../../outside"), None, ["aircraft test[0]", "'../../../outside.jpg'"]),
]


def load_of(case_load: Callable[[Path], object] | None, case_id: str) -> Callable[[Path], object]:
    if case_load is not None:
        return case_load
    dataset = "aircraft" if case_id.startswith("aircraft") else "flowers102"
    return lambda root: load_classification(dataset, root)


@pytest.fixture
def no_allow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(ALLOW_OUTSIDE_ENV, "0")  # off; restored after the test, whatever the CLI sets
    yield


@pytest.mark.usefixtures("no_allow")
@pytest.mark.parametrize(("case_id", "damage", "load", "fragments"), ESCAPES, ids=[c[0] for c in ESCAPES])
def test_a_path_leaving_the_data_root_is_refused(
    fresh_root: Path,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
    case_id: str,
    damage: Callable[[Path], None],
    load: Callable[[Path], object] | None,
    fragments: list[str],
) -> None:
    loader = load_of(load, case_id)
    loader(fresh_root)  # intact first
    damage(fresh_root)
    with pytest.raises(DataError) as info:
        loader(fresh_root)
    message = str(info.value)
    for fragment in ("points outside", "--allow-outside-data-root", *fragments):
        assert fragment in message, (fragment, message)
    monkeypatch.setenv(ALLOW_OUTSIDE_ENV, "1")  # the explicit escape hatch
    loader(fresh_root)


@pytest.mark.usefixtures("no_allow")
def test_no_request_points_outside_and_the_flag_allows_it(
    fresh_root: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_impath(lambda r: "../../../outside.jpg")(fresh_root)
    with pytest.raises(DataError, match="points outside"):
        list(get_task("fgvc_flowers102", fresh_root).requests())
    check = ["data", "check", "--data-root", str(fresh_root), "--tasks", "fgvc_flowers102"]
    assert main(check) == 1
    assert "points outside" in capsys.readouterr().out
    assert main([*check, "--allow-outside-data-root"]) == 0
    requests = list(get_task("fgvc_flowers102", fresh_root).requests())  # allowed now, in this process
    assert requests[1].image.path.resolve() == outside.resolve()
