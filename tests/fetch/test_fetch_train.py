"""`vrft data fetch --train`: the LVIS train annotations, only the k-shot images the paper's recipes sample
(seed 0, fetched one by one by ``coco_url`` from the local server), and the paper's ``datasets`` training
sets: offline (``HF_DATASETS_OFFLINE=1``, set by conftest) an uncached set is an error that names it, after
the images are in place; a local copy goes through the same loader."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fetch_upstream import Server, Upstream, url_path  # tests/fetch/

from train_plugin.fetch import cache_paper_sets
from train_plugin.kshot import build_kshot, sample_kshot
from train_plugin.recipes import RECIPES

TASKS = ("coco_fewshot", "lvis_fewshot")


def _sampled(root: Path, seed: int) -> set[Path]:
    return {
        Path(row.image.path)
        for r in RECIPES.values()
        if r.task in TASKS
        for row in sample_kshot(r.task, root, r.shots, seed).rows
    }


def test_train_fetches_only_the_sampled_images_then_names_the_uncached_paper_set(
    server: Server,
    upstream: Upstream,
    run_fetch: Callable[..., int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "data"
    assert run_fetch(root, ",".join(TASKS), "--train", "--dry-run") == 0
    assert "lvis_v1_train.json.zip" in capsys.readouterr().out and server.log == []

    assert run_fetch(root, ",".join(TASKS), "--train") == 1
    captured = capsys.readouterr()
    assert "laolao77/ViRFT_COCO_8_cate_4_shot: the paper's training set could not be fetched" in captured.err
    assert "HF_DATASETS_OFFLINE" in captured.err
    assert "coco_fewshot_4shot: k-shot sample (seed 0) in place" in captured.out
    assert (root / "lvis" / "annotations" / "lvis_v1_train.json").is_file()

    sampled = _sampled(root, seed=0)
    urls = _train_urls(upstream, root)  # url path -> where it lands under the data root
    on_disk = {path for path in urls.values() if path.is_file()}
    assert sampled and sampled <= on_disk == sampled  # the sampled images, and nothing else
    assert {p for p, _ in server.log if p in urls} == {u for u, path in urls.items() if path in on_disk}
    coco_train = {p.name for p in (root / "coco" / "train2017").iterdir()}
    assert 0 < len(coco_train) < 40  # only the sample, not every train image upstream

    # what the fetch prepared is what vrft train samples
    data = build_kshot("coco_fewshot", root, 4, 0)  # refuses a sample whose images are missing
    assert len(data.dataset) == len(sample_kshot("coco_fewshot", root, 4, 0).rows) > 0

    before = len(server.log)
    assert run_fetch(root, ",".join(TASKS), "--train") == 1  # the paper set is still not cached ...
    assert not [p for p, _ in server.log[before:] if p in urls]  # ... and no image is fetched again


def _train_urls(upstream: Upstream, root: Path) -> dict[str, Path]:
    """Every train image upstream: its URL path on the server -> where a fetch puts it under `root`."""
    out = {}
    for ann, folder in (
        ("coco/annotations/instances_train2017.json", "coco"),
        ("lvis/annotations/lvis_v1_train.json", "lvis"),
    ):
        for img in json.loads((upstream.synth / ann).read_text())["images"]:
            out[url_path(img["coco_url"])] = root / folder / "/".join(img["coco_url"].split("/")[-2:])
    return out


def test_a_paper_set_goes_through_the_training_loader(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    image = tmp_path / "x.png"
    Image.new("RGB", (32, 32), "red").save(image)
    rows = {"image": [str(image)], "problem": ["which flower?"], "solution": ["<answer>pink primrose</answer>"]}
    datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image()).save_to_disk(str(tmp_path / "set"))
    assert list(cache_paper_sets([str(tmp_path / "set")])) == [
        f"{tmp_path / 'set'}: 1 rows in the Hugging Face cache (vrft train --dataset paper)"
    ]
