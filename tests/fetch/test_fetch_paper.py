"""`vrft data fetch --tasks paper` end to end against the local server (conftest): every dataset is laid out
from its upstream format, `vrft data check` accepts the result, a rerun fetches nothing, and `vrft eval
--backend replay` scores one task of each family on the fetched data (detection through the fetched official
exist map, ``protocol=exist-map=2B``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fetch_upstream import Server, Upstream, url_path  # tests/fetch/

from harness.cli import main
from tasks.data.classification import load_classification
from tasks.data.layout import check_layout
from tasks.registry import get_task

PAPER = "paper"


def _from_args(server: Server, given: dict[str, Path]) -> list[str]:
    # Stanford Cars as the user has it: two archives on disk and one by URL; ReasonSeg as its zip
    return [
        "--from", f"cars196={given['cars_test.tgz']}",
        "--from", f"cars196={server.base}/given/cars_train.tgz",
        "--from", f"cars196={given['car_devkit.tgz']}",
        "--from", f"lisa={given['ReasonSeg.zip']}",
    ]  # fmt: skip


def _samples(dataset: str, root: Path, split: str) -> list[tuple[str, int, str]]:
    return [
        (s.doc_id, s.label, s.class_name) for s in load_classification(dataset, root, split, read_sizes=False).samples
    ]


def _replay(root: Path, tmp_path: Path, task: str, **args: str) -> dict:
    """`vrft eval --backend replay` of perfect answers (each request's own solution) on the fetched data."""
    tmp_path.mkdir()
    saved = tmp_path / f"{task}.jsonl"
    requests = list(get_task(task, root, **args).requests())
    saved.write_text("".join(json.dumps({"request_id": r.request_id, "text": r.solution}) + "\n" for r in requests))
    run = tmp_path / f"run_{task}"
    task_args = [a for k, v in args.items() for a in ("--task-arg", f"{k}={v}")]
    argv = ["eval", "--backend", "replay", "--model", str(saved), "--tasks", task, "--data-root", str(root)]
    assert main([*argv, "--run-dir", str(run), *task_args]) == 0
    entry = json.loads((run / "manifest.json").read_text())["tasks"][0]
    assert entry["n_requests"] == len(requests) > 0
    metrics: dict = json.loads((run / "metrics.json").read_text())[task]
    assert metrics["missing"] == 0 and metrics["generation_errors"] == 0
    return metrics


def test_every_paper_dataset_is_laid_out_checked_and_scored(
    server: Server,
    upstream: Upstream,
    given: dict[str, Path],
    run_fetch: Callable[..., int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "data"
    assert run_fetch(root, PAPER, "--dry-run") == 0
    listed = capsys.readouterr().out
    assert "cars196: manual: Stanford Cars" in listed and "--from cars196=PATH_OR_URL" in listed
    assert "lisa: manual: ReasonSeg" in listed and "fgvc-aircraft-2013b.tar.gz" in listed
    assert "lvis_v1_val.json.zip" in listed and "exist_map_lvis_Qwen2_vl_7B_baseline.json" in listed
    assert server.log == []  # a dry run fetches nothing

    assert run_fetch(root, PAPER, *_from_args(server, given)) == 0
    out = capsys.readouterr().out
    assert "everything needed by" in out and "is in place" in out
    assert check_layout(root, get_task_names()) == []
    synth = upstream.synth

    # classification: the paper's test lists, the publisher's train splits
    for dataset, index in (("flowers102", "oxford_flowers/split_zhou_OxfordFlowers.json"),
                           ("pets37", "oxford_pets/split_zhou_OxfordPets.json"),
                           ("cars196", "stanford_cars/split_zhou_StanfordCars.json")):  # fmt: skip
        split = upstream.split(*index.split("/"))
        assert _samples(dataset, root, "test") == [tuple(e) for e in split["test"]], dataset
    pets_train = upstream.split("oxford_pets", "split_zhou_OxfordPets.json")
    assert sorted(_samples("pets37", root, "train")) == sorted(
        tuple(e) for e in pets_train["train"] + pets_train["val"]
    )
    cars_train = upstream.split("stanford_cars", "split_zhou_StanfordCars.json")["train"]
    assert _samples("cars196", root, "train") == [tuple(e) for e in cars_train]
    assert _samples("aircraft", root, "test") == _samples("aircraft", synth, "test")

    # detection: COCO val images from the zip; LVIS images one by one, those in coco/val2017 reused
    assert sorted(p.name for p in (root / "coco" / "val2017").iterdir()) == sorted(
        p.name for p in (synth / "coco" / "val2017").iterdir()
    )
    lvis = json.loads((root / "lvis" / "annotations" / "lvis_v1_val.json").read_text())
    by_url = {url_path(img["coco_url"]): "/".join(img["coco_url"].split("/")[-2:]) for img in lvis["images"]}
    fetched = {p for p, _ in server.log if p in by_url}
    assert fetched and all((root / "lvis" / by_url[p]).is_file() for p in fetched)
    reused = {p for p, rel in by_url.items() if (root / "coco" / rel).is_file()}
    assert len(reused) == 3 and fetched == set(by_url) - reused
    assert not (root / "lvis" / "annotations" / "lvis_v1_train.json").exists()  # only with --train
    for ds in ("coco", "lvis"):
        for size in ("2B", "7B"):
            name = f"exist_map_{ds}_Qwen2_vl_{size}_baseline.json"
            assert (root / ds / name).read_bytes() == upstream.sources[f"exist_map_{ds}_{size}"]

    # grounding: ReasonSeg pairs as in the release
    for split in ("val", "test", "train"):
        assert sorted(p.name for p in (root / "lisa" / "ReasonSeg" / split).iterdir()), split
    assert not list(root.rglob("*.part")) and not list(root.rglob(".fetch-*"))

    requests = len(server.log)
    assert run_fetch(root, PAPER, *_from_args(server, given)) == 0  # everything in place: nothing fetched
    assert len(server.log) == requests
    assert run_fetch(root, PAPER, "--dry-run") == 0
    assert "nothing to fetch" in capsys.readouterr().out

    # one task per family, scored on the fetched data with vrft eval's replay backend: the ground truth's own
    # answers score what they score on the synthetic tree the archives were built from
    assert _replay(root, tmp_path / "a", "fgvc_pets37")["accuracy"] == pytest.approx(100.0)
    coco = _replay(root, tmp_path / "b", "coco_fewshot", protocol="exist-map=2B")
    assert coco["exist_map_coverage"]["exist_map"] == str(root / "coco" / "exist_map_coco_Qwen2_vl_2B_baseline.json")
    assert coco["mAP"] == pytest.approx(100.0)
    lisa, reference = _replay(root, tmp_path / "c", "lisa_grounding"), _replay(synth, tmp_path / "d", "lisa_grounding")
    assert lisa["mIoU_val"] == reference["mIoU_val"] > 50 and lisa["mIoU_test"] == reference["mIoU_test"] > 50


def get_task_names() -> list[str]:
    from tasks.registry import expand_task_names

    return expand_task_names(PAPER)
