"""The mask stage of lisa_grounding (issue 16): ``vrft eval --sam`` on synthetic ReasonSeg data, replayed answers
and a tiny random SAM (all real components, CPU): masks.jsonl, gIoU/cIoU in both profiles, Table 5, resuming
after a kill, the SAM call itself, and bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from harness import mask_stage
from harness.cli import main
from harness.mask_records import MASKS, read_run_masks
from harness.sam import SamMasker, build_tiny_sam, resolve_sam
from tasks.grounding.masks import rle_decode
from tasks.registry import get_task
from tasks.synthetic.lisa import write_lisa

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools


@pytest.fixture(scope="module")
def tiny_sam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sam(tmp_path_factory.mktemp("tiny_sam"), seed=0)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lisa")
    write_lisa(root, np.random.default_rng(3), 3)  # 3 val + 3 test items, three image sizes
    return root


def answers(root: Path) -> dict[str, str]:
    """Perfect answers, except one without a box and one with a corner past 1000 (official: unclipped)."""
    out = {}
    for i, r in enumerate(get_task("lisa_grounding", root).requests()):
        out[r.request_id] = "<think>x</think>" + r.solution
        if i == 1:
            out[r.request_id] = "<think>no idea</think><answer>nothing</answer>"
        if i == 4:
            out[r.request_id] = "<think>big</think><answer>(100,200),(1400,900)</answer>"
    return out


@pytest.fixture(scope="module")
def replay(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "answers.jsonl"
    path.write_text("".join(json.dumps({"request_id": k, "text": v}) + "\n" for k, v in answers(data_root).items()))
    return path


def _eval(replay: Path, root: Path, run_dir: Path, *extra: str) -> int:
    argv = ["eval", "--model", str(replay), "--backend", "replay", "--data-root", str(root), "--tasks"]
    return main([*argv, "lisa_grounding", "--run-dir", str(run_dir), "--bootstrap", "20", *extra])


def _metrics(run_dir: Path, name: str = "metrics.json") -> dict:
    return json.loads((run_dir / name).read_text())["lisa_grounding"]


def _lines(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / MASKS).read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def sam_run(replay: Path, data_root: Path, tiny_sam: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "sam"
    assert _eval(replay, data_root, run_dir, "--sam", str(tiny_sam), "--sam-batch-size", "2") == 0
    return run_dir


def test_eval_with_sam_fills_table_5_in_both_profiles(
    sam_run: Path, data_root: Path, tiny_sam: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(sam_run)
    texts = answers(data_root)
    task = get_task("lisa_grounding", data_root)
    wanted = {(rid, p.box) for prof in ("strict", "official") for rid, p in task.mask_prompts(texts, prof).items()}
    assert {(x["request_id"], tuple(x["box"])) for x in lines} == wanted and len(lines) == len(wanted)
    assert len(wanted) > len(texts) - 1  # strict float boxes and official int boxes differ: both made
    assert all(x["sam"]["model"] == str(tiny_sam) and len(x["sam"]["fingerprint"]) == 64 for x in lines)
    strict = _metrics(sam_run)
    for key in ("gIoU_test", "cIoU_test", "gIoU_val", "cIoU_val", "gIoU_box_test"):
        assert isinstance(strict[key], float) and 0.0 <= strict[key] <= 100.0, key
    assert strict["masks"]["no_box"] == 1 and strict["masks"]["missing"] == 0
    assert strict["uncertainty"]["metrics"]["gIoU_test"]["estimate"] == strict["gIoU_test"]
    # official re-score from the stored masks alone: SAM is gone
    shutil.move(tiny_sam, tmp_path / "gone")
    try:
        assert main(["score", str(sam_run), "--profile", "official", "--bootstrap", "0"]) == 0
    finally:
        shutil.move(tmp_path / "gone", tiny_sam)
    official = _metrics(sam_run, "metrics.official.json")
    assert isinstance(official["gIoU_test"], float) and official["masks"]["boxes_outside"] == 1
    assert official["gIoU_test"] != strict["gIoU_test"]  # other GT (shapes[0]) and other boxes
    capsys.readouterr()
    assert main(["tables", "--runs", str(sam_run)]) == 0
    table5 = capsys.readouterr().out.split("### Table 5", 1)[1].split("### Table", 1)[0]
    row = next(line for line in table5.splitlines() if line.startswith("| answers.jsonl"))
    assert row.rstrip(" |").endswith(f"{strict['gIoU_test']:.1f}")


def test_without_sam_the_paper_column_stays_empty(replay: Path, data_root: Path, tmp_path: Path) -> None:
    assert _eval(replay, data_root, tmp_path / "run") == 0
    metrics = _metrics(tmp_path / "run")
    assert metrics["gIoU_test"] is None and metrics["cIoU_test"] is None
    assert isinstance(metrics["gIoU_box_test"], float)  # the labelled box fallback
    assert not (tmp_path / "run" / MASKS).exists()


def test_the_stage_mask_is_sammodel_called_by_hand(sam_run: Path, data_root: Path, tiny_sam: Path) -> None:
    from PIL import Image
    from transformers import SamModel, SamProcessor
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    model = SamModel.from_pretrained(tiny_sam).eval()
    processor = SamProcessor(image_processor=SamImageProcessorPil.from_pretrained(tiny_sam))
    task = get_task("lisa_grounding", data_root)
    checked = 0
    for line in _lines(sam_run):
        if line["request_id"] not in ("test/rs_test_000", "val/rs_val_002"):
            continue
        image = Image.open(task.samples[line["request_id"]].image.path).convert("RGB")
        inputs = processor(images=image, input_boxes=[[line["box"]]], return_tensors="pt")
        with torch.no_grad():
            pred = model(**inputs, multimask_output=False).pred_masks
        by_hand = processor.post_process_masks(pred, inputs["original_sizes"], inputs["reshaped_input_sizes"])[0]
        stored = rle_decode(line["rle"])
        assert stored.shape == (image.height, image.width)
        np.testing.assert_array_equal(stored, by_hand[0, 0].numpy())
        checked += 1
    assert checked >= 3  # two profiles' boxes of one request, and another image size
    # the prompt is the answer's own box: x/1000 * W (strict, floats), int(x/1000 * W) (official)
    x1, y1, x2, y2 = (int(v) for v in re.findall(r"\d+", answers(data_root)["test/rs_test_000"].split("<answer>")[1]))
    s = task.samples["test/rs_test_000"]
    w, h = s.image.width, s.image.height
    boxes = {tuple(x["box"]): x["profiles"] for x in _lines(sam_run) if x["request_id"] == "test/rs_test_000"}
    assert "strict" in boxes[(x1 * w / 1000, y1 * h / 1000, x2 * w / 1000, y2 * h / 1000)]
    official = tuple(float(int(v / 1000 * side)) for v, side in zip((x1, y1, x2, y2), (w, h, w, h), strict=True))
    assert "official" in boxes[official]


@pytest.mark.slow
def test_killed_mask_stage_resumes_without_making_a_mask_twice(
    replay: Path, data_root: Path, tiny_sam: Path, sam_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    assert _eval(replay, data_root, run_dir) == 0  # generations, scored without masks
    made: list[tuple[str, tuple[float, ...]]] = []
    real = SamMasker.masks

    def counting(self: SamMasker, images, boxes, stop_after: int | None = None):  # the real SAM, counted
        out = real(self, images, boxes)
        made.extend((img.size, tuple(b)) for img, bxs in zip(images, boxes, strict=True) for b in bxs)
        if stop_after is not None and len(made) >= stop_after:
            raise KeyboardInterrupt  # killed right after this batch was computed (before it was written)
        return out

    monkeypatch.setattr(SamMasker, "masks", lambda self, i, b: counting(self, i, b, stop_after=3))
    with pytest.raises(KeyboardInterrupt):
        mask_stage.make_masks(run_dir, str(tiny_sam), batch_size=1)
    first = list(made)
    written = _lines(run_dir)
    assert 0 < len(written) < len(first)  # batches before the kill are on disk, the one in flight is lost
    with (run_dir / MASKS).open("a") as f:
        f.write('{"task": "lisa_grounding", "request_id": "val/rs_val_0')  # a line torn by kill -9
    made.clear()
    monkeypatch.setattr(SamMasker, "masks", lambda self, i, b: counting(self, i, b))
    report = mask_stage.make_masks(run_dir, str(tiny_sam), batch_size=1)
    stored_first = {(x["request_id"], tuple(x["box"])) for x in written}
    assert report.present == len(stored_first) and report.made == len(made)
    assert report.made + report.present == report.wanted
    again = {(x["request_id"], tuple(x["box"])) for x in _lines(run_dir)[len(written) :]}
    assert not again & stored_first  # no mask made twice
    assert mask_stage.make_masks(run_dir, str(tiny_sam)).made == 0  # and a third run makes nothing
    assert main(["score", str(run_dir), "--bootstrap", "20"]) == 0
    resumed, clean = _metrics(run_dir), _metrics(sam_run)
    for key in ("gIoU_test", "cIoU_test", "gIoU_val", "cIoU_val"):
        assert resumed[key] == clean[key], key
    assert read_run_masks(run_dir) == read_run_masks(sam_run)


@pytest.mark.slow
def test_bad_input_never_costs_a_generation(
    replay: Path, data_root: Path, tiny_sam: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    run_dir = tmp_path / "run"
    assert _eval(replay, root, run_dir) == 0
    generations = (run_dir / "generations.jsonl").read_bytes()
    capsys.readouterr()
    # a missing checkpoint: named, with what to download; the hub id offline likewise
    assert _eval(replay, root, run_dir, "--sam", str(tmp_path / "no_sam")) == 2
    err = capsys.readouterr().err
    assert "--sam" in err and "hf download facebook/sam-vit-huge" in err
    assert _eval(replay, root, run_dir, "--sam") == 2  # the default, facebook/sam-vit-huge, is not here
    assert "--sam facebook/sam-vit-huge" in capsys.readouterr().err
    assert (run_dir / "generations.jsonl").read_bytes() == generations and not (run_dir / MASKS).exists()
    # an image that became unreadable after generation: an error line, an empty mask, counted
    image = root / "lisa" / "ReasonSeg" / "test" / "rs_test_000.jpg"
    kept = image.read_bytes()
    image.write_bytes(b"not a jpeg")
    assert main(["score", str(run_dir), "--sam", str(tiny_sam), "--bootstrap", "0"]) == 0
    bad = [x for x in _lines(run_dir) if x["request_id"] == "test/rs_test_000"]
    assert bad and all("error" in x and "rle" not in x for x in bad)
    metrics = _metrics(run_dir)
    assert metrics["masks"]["mask_errors"] == 1 and isinstance(metrics["gIoU_test"], float)
    image.write_bytes(kept)  # restored: the next stage makes the missing masks (only those)
    assert main(["score", str(run_dir), "--sam", str(tiny_sam), "--bootstrap", "0"]) == 0
    assert f"masks: {len(bad)} made" in capsys.readouterr().out
    assert _metrics(run_dir)["masks"]["mask_errors"] == 0
    # masks of another SAM are not mixed in
    other = build_tiny_sam(tmp_path / "other_sam", seed=1)
    (run_dir / MASKS).write_text("".join(json.dumps(x) + "\n" for x in _lines(run_dir)[:-1]))  # one to make
    assert main(["score", str(run_dir), "--sam", str(other), "--bootstrap", "0"]) == 2
    assert "another model" in capsys.readouterr().err
    assert (run_dir / "generations.jsonl").read_bytes() == generations


def test_sam_needs_a_grounding_task_and_a_sam_checkpoint(tiny_sam: Path, tmp_path: Path) -> None:
    assert resolve_sam(str(tiny_sam)) == tiny_sam
    not_sam = tmp_path / "qwen"
    not_sam.mkdir()
    (not_sam / "config.json").write_text('{"model_type": "qwen2_vl"}')
    with pytest.raises(ValueError, match="not a SAM checkpoint"):
        resolve_sam(str(not_sam))
    with pytest.raises(ValueError, match="no such SAM checkpoint directory"):
        resolve_sam(str(tmp_path / "nothing"))
    assert main(["tiny", "--sam", "--out", str(tmp_path / "tiny")]) == 0
    assert resolve_sam(str(tmp_path / "tiny")) == tmp_path / "tiny"
    assert main(["eval", "--model", "x.jsonl", "--backend", "replay", "--data-root", str(tmp_path),
                 "--tasks", "fgvc_pets37", "--sam", str(tiny_sam)]) == 2  # fmt: skip
