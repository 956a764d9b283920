"""`harness.viz.render_report` on a hand-built, scored run directory over the synthetic data."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.score_cmd import score_run
from harness.viz import render_report
from tasks.grounding.task import strict_gt_box
from tasks.registry import get_task
from tasks.synthetic import write_synthetic

TASKS = ("coco_fewshot", "fgvc_pets37", "lisa_grounding")
XSS = "<think>hm</think><answer><script>alert(1)</script></answer>"
_IMG = re.compile(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)")


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_synthetic(root)
    run = tmp_path / "run"
    run.mkdir()
    manifest = {
        "identity": {"data_root": str(root), "task_args": {}, "model": "fake/model"},
        "tasks": [{"name": n, "version": "1"} for n in TASKS],
        "profile": "strict",
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    lines = []
    for name in TASKS:
        for i, req in enumerate(get_task(name, root).requests()):
            line: dict[str, object] = {"task": name, "request_id": req.request_id, "error": None}
            if i % 5 == 3:
                line.update(text=None, error="backend timeout after 600s")
            elif i % 5 == 4:
                line["text"] = XSS if (name, i) == ("fgvc_pets37", 4) else "garbage, no tags"
            else:
                line["text"] = "<think>x</think>" + req.solution
            lines.append(json.dumps(line))
    (run / "generations.jsonl").write_text("\n".join(lines) + "\n")
    score_run(run)
    return run


def _sample(page: str, sample_id: str) -> str:
    start = page.index(f"id='{sample_id}'")
    end = page.find("<div class='sample'", start)
    return page[start : end if end != -1 else len(page)]


def _decode(chunk: str) -> Image.Image:
    m = _IMG.search(chunk)
    assert m is not None, "no embedded thumbnail"
    return Image.open(io.BytesIO(base64.b64decode(m.group(1)))).convert("RGB")


def test_report_contents(run_dir: Path) -> None:
    out = render_report(run_dir)
    assert out == run_dir / "report.html" and out.is_file()
    page = out.read_text(encoding="utf-8")
    assert "<img src='data:image/jpeg;base64," in page
    for name in TASKS:
        assert f"<h2>{name}</h2>" in page
    assert "mIoU_val" in page and "accuracy_strict" in page and "mAP" in page  # summaries from metrics.json
    # untrusted model text is escaped
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the generation error reason is shown
    assert "backend timeout after 600s" in page
    # reward values of a known request (a correct grounding answer: IoU 1, format 1, total 2)
    scores = [json.loads(x) for x in (run_dir / "scores.jsonl").read_text().splitlines()]
    rec = next(s for s in scores if s["task"] == "lisa_grounding" and s["request_id"] == "val/rs_val_000")
    chunk = _sample(page, "lisa_grounding-val/rs_val_000")
    assert rec["total"] > 1.9
    for key in ("accuracy", "format", "total"):
        assert f"{key}=<b>{rec[key]:.4g}</b>" in chunk
    assert "parse: <span class='ok'>ok</span>" in chunk
    # a garbage answer shows its parse failure
    bad = next(s for s in scores if s["task"] == "fgvc_pets37" and s["parse"] not in ("ok", "generation_error"))
    assert bad["parse"] in _sample(page, f"fgvc_pets37-{bad['request_id']}")
    assert "<span class='ok'>correct</span>" in page and "<span class='bad'>wrong</span>" in page


def test_gt_box_is_drawn(run_dir: Path) -> None:
    page = render_report(run_dir, task="lisa_grounding").read_text(encoding="utf-8")
    root = Path(json.loads((run_dir / "manifest.json").read_text())["identity"]["data_root"])
    task = get_task("lisa_grounding", root)
    rid = "val/rs_val_003"  # i % 5 == 3: a generation error, so only the green GT box is drawn
    thumb = np.asarray(_decode(_sample(page, f"lisa_grounding-{rid}")), dtype=np.int32)
    sample = task.samples[rid]
    raw = Image.open(sample.image.path).convert("RGB").resize((thumb.shape[1], thumb.shape[0]))
    base = np.asarray(raw, dtype=np.int32)

    def greenish(a: np.ndarray) -> np.ndarray:
        return (a[..., 1] > 140) & (a[..., 1] - a[..., 0] > 60) & (a[..., 1] - a[..., 2] > 60)

    assert greenish(thumb).sum() > greenish(base).sum() + 50
    # and it sits on the box's top-left corner
    sx, sy = thumb.shape[1] / sample.image.width, thumb.shape[0] / sample.image.height
    gx1, gy1, _, _ = strict_gt_box(sample)  # the box the strict profile scores against
    x1, y1 = int(gx1 * sx), int(gy1 * sy)
    patch = thumb[max(y1 - 2, 0) : y1 + 3, max(x1 - 2, 0) : x1 + 8]
    assert greenish(patch).any()
    assert max(thumb.shape[:2]) <= 320


def test_limit_and_task_filter(run_dir: Path) -> None:
    out = render_report(run_dir, out=run_dir / "sub" / "r.html", task="coco_fewshot", limit=7)
    assert out == run_dir / "sub" / "r.html"
    page = out.read_text(encoding="utf-8")
    assert page.count("<div class='sample'") == 7
    assert "showing 7 of 192 requests" in page
    assert "fgvc_pets37" not in page and "lisa_grounding" not in page
    # detection: pairs with boxes or a failure come first, not the true negatives of the empty image 0
    chunks = page.split("<div class='sample'")[1:]
    assert all(": 0 GT box(es), 0 predicted" not in c or "class='bad'" in c for c in chunks)
    full = render_report(run_dir, task="coco_fewshot", limit=1000).read_text(encoding="utf-8")
    quiet = [
        ": 0 GT box(es), 0 predicted" in c and "class='bad'" not in c for c in full.split("<div class='sample'")[1:]
    ]
    assert len(quiet) == 192 and 0 < sum(quiet) < 192 and quiet == sorted(quiet)  # true negatives last
    page = render_report(run_dir, limit=0).read_text(encoding="utf-8")
    assert "<div class='sample'" not in page and "<h2>lisa_grounding</h2>" in page
    with pytest.raises(ValueError, match="not in this run"):
        render_report(run_dir, task="fgvc_aircraft")


def test_missing_image_gives_placeholder(run_dir: Path) -> None:
    page = render_report(run_dir, task="coco_fewshot", limit=3).read_text(encoding="utf-8")
    first = re.search(
        r"<div class='sample' id='coco_fewshot-([^']+)'><img[^>]*><div><b>[^<]*</b> <small>([^<]+)</small>", page
    )
    assert first is not None
    rid, path = first.group(1), Path(first.group(2))
    path.unlink()
    page = render_report(run_dir, task="coco_fewshot", limit=3).read_text(encoding="utf-8")
    chunk = _sample(page, f"coco_fewshot-{rid}")
    assert "image not found or unreadable" in chunk and str(path) in chunk
    assert "data:image/jpeg" not in chunk
    assert page.count("<div class='sample'") == 3


def test_task_whose_data_cannot_load(run_dir: Path) -> None:
    # a missing image costs its own sample only (the loaders record its size as unknown): the report shows
    # a placeholder naming the file and renders every task
    root = Path(json.loads((run_dir / "manifest.json").read_text())["identity"]["data_root"])
    image = next(iter(get_task("fgvc_pets37", root).requests())).image.path
    image.unlink()
    page = render_report(run_dir, limit=2).read_text(encoding="utf-8")
    assert f"image not found or unreadable: {image}" in page
    assert page.count("<div class='sample'") == 6
    # a task whose index file is gone cannot load: the report says so for that task and renders the others
    (root / "oxford_pets" / "split_zhou_OxfordPets.json").unlink()
    page = render_report(run_dir, limit=2).read_text(encoding="utf-8")
    assert "cannot load the task&#x27;s requests" in page or "cannot load the task's requests" in page
    assert page.count("<div class='sample'") == 4


def test_unscored_run(run_dir: Path) -> None:
    (run_dir / "scores.jsonl").unlink()
    (run_dir / "metrics.json").unlink()
    page = render_report(run_dir, limit=2).read_text(encoding="utf-8")
    assert page.count("not scored") == 3 and "rewards:" not in page
    assert page.count("<div class='sample'") == 6
