"""check_layout: silent on a complete tree; names the broken path and its download page otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.data.layout import TASK_DATASETS, Problem, check_layout, format_problems

ALL_TASKS = list(TASK_DATASETS)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, format_problems(problems)
    return problems[0]


def test_synthetic_tree_is_complete(synthetic_root: Path) -> None:
    assert check_layout(synthetic_root, ALL_TASKS) == []
    assert format_problems([], synthetic_root) == f"data layout OK under {synthetic_root}"


@pytest.mark.parametrize(
    ("rel", "tasks", "url"),
    [
        ("coco/annotations/instances_val2017.json", ("coco_fewshot", "coco_ov"), "https://cocodataset.org/#download"),
        ("lvis/annotations/lvis_v1_val.json", ("lvis_fewshot", "lvis_ov"), "https://www.lvisdataset.org/dataset"),
        (
            "oxford_flowers/split_zhou_OxfordFlowers.json",
            ("fgvc_flowers102",),
            "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/",
        ),
        ("oxford_pets/split_zhou_OxfordPets.json", ("fgvc_pets37",), "https://www.robots.ox.ac.uk/~vgg/data/pets/"),
        ("fgvc_aircraft/variants.txt", ("fgvc_aircraft",), "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/"),
        ("fgvc_aircraft/images_variant_test.txt", ("fgvc_aircraft",), "fgvc-aircraft-2013b.tar.gz"),
        (
            "stanford_cars/split_zhou_StanfordCars.json",
            ("fgvc_cars196",),
            "https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md",
        ),
    ],
)
def test_missing_index_file(fresh_root: Path, rel: str, tasks: tuple[str, ...], url: str) -> None:
    (fresh_root / rel).unlink()
    p = only(check_layout(fresh_root, ALL_TASKS))
    assert p.path == fresh_root / rel and p.what == "missing file" and p.tasks == tasks
    assert url in p.fix and url in str(p) and str(fresh_root / rel) in str(p)


def test_missing_referenced_image_is_spotted(fresh_root: Path) -> None:
    first = fresh_root / "oxford_flowers/jpg/image_00019.jpg"  # the first test image: always spot-checked
    first.unlink()
    p = only(check_layout(fresh_root, ["fgvc_flowers102", "coco_fewshot"]))
    assert p.path == first and "missing" in p.what and "flowers/102" in p.fix


def test_missing_image_folder(fresh_root: Path) -> None:
    for f in (fresh_root / "coco/val2017").iterdir():
        f.unlink()
    (fresh_root / "coco/val2017").rmdir()
    p = only(check_layout(fresh_root, ["coco_ov"]))
    assert p.path == fresh_root / "coco/val2017" and p.what == "missing image folder"
    assert "2017 Val images" in p.fix


def test_truncated_annotation_is_reported_not_raised(fresh_root: Path) -> None:
    ann = fresh_root / "lvis/annotations/lvis_v1_val.json"
    ann.write_bytes(ann.read_bytes()[:1000])
    p = only(check_layout(fresh_root, ["lvis_fewshot", "lvis_ov"]))
    assert p.path == ann and p.tasks == ("lvis_fewshot", "lvis_ov")
    assert "does not load" in p.what and "malformed JSON" in p.what


def test_missing_lisa_split(fresh_root: Path) -> None:
    folder = fresh_root / "lisa/ReasonSeg/test"
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    p = only(check_layout(fresh_root, ["lisa_grounding"]))
    assert p.path == folder and "https://github.com/dvlab-research/LISA" in p.fix


def test_unknown_task(synthetic_root: Path) -> None:
    p = only(check_layout(synthetic_root, ["coco"]))
    assert p.what == "unknown task name" and "coco_fewshot" in p.fix


def test_empty_root_lists_every_dataset(tmp_path: Path) -> None:
    problems = check_layout(tmp_path, ALL_TASKS)
    assert {p.tasks for p in problems} >= {(t,) for t in ALL_TASKS if not t.startswith(("coco", "lvis"))}
    assert all(p.fix for p in problems)


def test_broken_file_is_the_one_blamed(fresh_root: Path) -> None:
    lst = fresh_root / "fgvc_aircraft/images_variant_test.txt"
    lst.write_text("1234567\n")
    p = only(check_layout(fresh_root, ["fgvc_aircraft"]))
    assert p.path == lst and "has no variant" in p.what
    item = sorted((fresh_root / "lisa/ReasonSeg/val").glob("*.json"))[3]
    item.write_text("{}")
    p = only(check_layout(fresh_root, ["lisa_grounding"]))
    assert p.path == item and "missing required key 'text'" in p.what
