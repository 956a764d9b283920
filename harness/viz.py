"""`vrft viz`: one static HTML page showing what a model did on a run, sample by sample.

Why: metrics say *how much* a model gets right, not *what* it does. Reading a few dozen samples (the
image with ground-truth boxes in green and predicted boxes in red with their confidences, the
``<think>`` reasoning, the answer, the reward components from ``scores.jsonl``, the parse status or
generation error) is how one finds out whether a low score is a perception problem, a format problem or
a scoring problem. The page is self-contained (thumbnails embedded as base64 JPEG, at most 320 px), so
it can be copied off a cluster and opened anywhere. Model output is untrusted: every piece of text goes
through ``html.escape``. A missing image shows a placeholder with its path instead of failing.

Reads only the run directory (``manifest.json``, ``generations*.jsonl``, and ``scores.jsonl`` /
``metrics.json`` when the run was scored) and the task data named in the manifest; needs no model.
Predicted boxes are drawn from the strict reading of the answer block, whatever the scoring profile.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from harness.records import iter_jsonl, read_run_generations
from harness.score_cmd import summary_rows
from tasks.answer import extract_answer, extract_think
from tasks.base import Request, Task
from tasks.detection.parse import parse_strict
from tasks.geometry import norm1000_to_xyxy
from tasks.grounding.parse import parse_box_strict
from tasks.registry import get_task
from tasks.spec import Kind
from tasks.task_args import resolve_task_args

THUMB = 320
GT_COLOR, PRED_COLOR = (0, 200, 0), (230, 0, 0)
Box = tuple[float, float, float, float]
Drawn = tuple[list[Box], list[tuple[Box, float | None]]]  # (GT boxes, predicted boxes with confidence)
_STATUS_KEYS = ("generation_errors", "missing", "parse_failures", "n_unknown")
_CSS = """body{font-family:sans-serif;margin:1em}.sample{display:flex;gap:1em;border-top:1px solid #ccc;padding:.6em 0}
.noimg{width:240px;height:120px;background:#eee;color:#a00;font-size:12px;overflow-wrap:anywhere;padding:4px}
pre{white-space:pre-wrap;max-width:70em;max-height:18em;overflow:auto;background:#f6f6f6;margin:.2em 0}
.bad{color:#b00}.ok{color:#070}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px}"""


def render_report(run_dir: Path, out: Path | None = None, task: str | None = None, limit: int = 50) -> Path:
    """Write the HTML report of `run_dir` (default ``run_dir/report.html``): for each task of the run (or
    only `task`), a metrics summary and the first `limit` requests; returns the path written."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    names = [str(t["name"]) for t in manifest["tasks"]]
    if task is not None:
        if task not in names:
            raise ValueError(f"task {task!r} is not in this run: {names}")
        names = [task]
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    identity = manifest.get("identity", {})
    profile = str(manifest.get("profile", "strict"))
    metrics_path, scores_path = run_dir / "metrics.json", run_dir / "scores.jsonl"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    scores: dict[tuple[str, str], dict[str, Any]] = {}
    if scores_path.is_file():
        for _, obj, _ in iter_jsonl(scores_path):
            if obj is not None:
                scores[(str(obj.get("task", "")), str(obj.get("request_id")))] = obj
    texts, errors = read_run_generations(run_dir)
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>vrft report: {e(run_dir.name)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{e(run_dir.name)}</h1>",
        f"<p>model <code>{e(str(identity.get('model', '?')))}</code>, profile <b>{e(profile)}</b>; "
        "<span style='color:#0a0'>green</span> = ground truth, <span style='color:#d00'>red</span> = "
        "predicted (confidence)</p>",
    ]
    for name in names:
        parts.append(f"<h2>{e(name)}</h2>" + _summary_html(name, metrics.get(name)))
        try:
            t = get_task(name, identity.get("data_root", "."), **resolve_task_args(name, identity.get("task_args", {})))
            requests = [*t.requests(), *t.followup_requests(texts.get(name, {}))]
        except Exception as err:  # a viewer shows what it can: a task whose data is gone is reported, not fatal
            parts.append(f"<p class='bad'>cannot load the task's requests: {e(repr(err))}</p>")
            continue
        gens, errs = texts.get(name, {}), errors.get(name, {})
        if t.kind is Kind.DETECTION:  # (image, category) pairs with something to look at first; stable
            drawn = {r.request_id: _boxes(t, r, gens.get(r.request_id), profile) for r in requests}
            order = sorted(range(len(requests)), key=lambda i: not _interesting(requests[i], drawn, errs, scores, name))
            requests = [requests[i] for i in order]
        shown = requests[:limit]
        if t.kind is not Kind.DETECTION:
            drawn = {r.request_id: _boxes(t, r, gens.get(r.request_id), profile) for r in shown}
        parts.append(f"<p>showing {len(shown)} of {len(requests)} requests</p>")
        for req in shown:
            rid = req.request_id
            parts.append(_sample_html(t, req, gens.get(rid), errs.get(rid), scores.get((name, rid)), drawn[rid]))
    parts.append("</body></html>")
    out = Path(out) if out is not None else run_dir / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def _interesting(
    req: Request,
    drawn: Mapping[str, Drawn],
    errs: Mapping[str, str],
    scores: Mapping[tuple[str, str], Mapping[str, Any]],
    task: str,
) -> bool:
    gt, pred = drawn[req.request_id]
    parse = scores.get((task, req.request_id), {}).get("parse", "ok")
    return bool(gt or pred or req.request_id in errs or parse != "ok")


def _summary_html(name: str, m: Mapping[str, Any] | None) -> str:
    if not m:
        return "<p><i>not scored (no metrics.json entry)</i></p>"
    rows = [(k, v) for _, k, v in summary_rows(name, m)] + [(k, json.dumps(m[k])) for k in _STATUS_KEYS if k in m]
    if isinstance(m.get("reward_mean"), dict):
        rows += [(f"reward_mean/{k}", _fmt(v)) for k, v in m["reward_mean"].items()]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _boxes(task: Task, req: Request, text: str | None, profile: str) -> Drawn:
    """GT and predicted pixel boxes (annotation coordinates) of one request; nothing for existence questions."""
    w, h = req.image.width, req.image.height
    span = extract_answer(text) if text is not None else None
    gt: list[Box] = []
    pred: list[tuple[Box, float | None]] = []
    if task.kind is Kind.DETECTION and not req.request_id.startswith("exist/"):
        image_id, cat_id = (int(x) for x in req.request_id.split(":"))
        gt = [_box(b) for b in task.data.gt_boxes(image_id, cat_id)]  # type: ignore[attr-defined]
        if span is not None:
            parsed = parse_strict(span.text).boxes
            px = norm1000_to_xyxy([b.xyxy for b in parsed], w, h)
            pred = [(_box(b), p.confidence) for b, p in zip(px, parsed, strict=True)]
    elif task.kind is Kind.GROUNDING:
        from tasks.grounding.task import strict_gt_box

        sample = task.samples[req.request_id]  # type: ignore[attr-defined]
        gt = [_box(strict_gt_box(sample) if profile == "strict" else sample.gt_xyxy)]
        box = parse_box_strict(span.text) if span is not None else None
        if box is not None:
            pred = [(_box(norm1000_to_xyxy(box, w, h)[0]), None)]
    return gt, pred


def _box(b: Sequence[float] | np.ndarray) -> Box:
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def _thumbnail(req: Request, drawn: Drawn) -> str:
    """An <img> with the boxes drawn on a ≤ THUMB px JPEG, or a placeholder naming the unreadable file."""
    path = req.image.path
    try:
        with Image.open(path) as im:
            img = im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        why = html.escape(f"{path} ({type(err).__name__})")
        return f"<div class='noimg'>image not found or unreadable: {why}</div>"
    scale = THUMB / max(img.width, img.height)  # small images are enlarged too, so that boxes stay visible
    img = img.resize((max(round(img.width * scale), 1), max(round(img.height * scale), 1)), Image.Resampling.BILINEAR)
    sx, sy = img.width / max(req.image.width, 1), img.height / max(req.image.height, 1)  # annotation px -> thumbnail
    draw = ImageDraw.Draw(img)
    gt, pred = drawn
    for (x1, y1, x2, y2), color, pad in [(b, GT_COLOR, 0) for b in gt] + [(b, PRED_COLOR, 2) for b, _ in pred]:
        # a prediction is drawn 2 px outside its box, so that an exact hit leaves the GT box visible inside
        corners = [x1 * sx - pad, y1 * sy - pad, max(x1, x2) * sx + pad, max(y1, y2) * sy + pad]
        draw.rectangle(corners, outline=color, width=2)
    for (x1, y1, _, _), conf in pred:
        if conf is not None:
            xy = (x1 * sx + 3, y1 * sy + 3)
            draw.rectangle(draw.textbbox(xy, f"{conf:.2f}"), fill=(255, 255, 255))
            draw.text(xy, f"{conf:.2f}", fill=PRED_COLOR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    data = base64.b64encode(buf.getvalue()).decode()
    return f"<img src='data:image/jpeg;base64,{data}' alt='{html.escape(str(path))}'>"


def _sample_html(
    task: Task, req: Request, text: str | None, error: str | None, score: Mapping[str, Any] | None, drawn: Drawn
) -> str:
    e = html.escape
    rid = req.request_id
    lines = [f"<b>{e(rid)}</b> <small>{e(str(req.image.path))}</small>"]
    if task.kind is Kind.DETECTION and not rid.startswith("exist/"):
        cat = task.data.categories.get(int(rid.split(":")[1]), "?")  # type: ignore[attr-defined]
        lines.append(f"category <b>{e(str(cat))}</b>: {len(drawn[0])} GT box(es), {len(drawn[1])} predicted")
    span = extract_answer(text) if text is not None else None
    answer = span.text.strip() if span is not None else None
    if task.kind is Kind.CLASSIFICATION:
        gt_span = extract_answer(req.solution)
        label = str(score["label"]) if score and "label" in score else gt_span.text if gt_span else "?"
        ok = bool(score.get("correct_strict")) if score else (answer or "").strip().lower() == label.lower()
        lines.append(
            f"GT <b>{e(label)}</b> vs answer <b>{e(answer or '∅')}</b> "
            + ("<span class='ok'>correct</span>" if ok else "<span class='bad'>wrong</span>")
        )
    if error is not None:
        lines.append(f"<span class='bad'>generation error: {e(error)}</span>")
    elif text is None:
        lines.append("<span class='bad'>no generation</span>")
    if score is not None:
        parse = str(score.get("parse", "?"))
        lines.append(f"parse: <span class='{'ok' if parse == 'ok' else 'bad'}'>{e(parse)}</span>")
        comps = {k: v for k, v in score.items() if k not in ("task", "request_id", "parse", "error")}
        if comps:
            lines.append("rewards: " + ", ".join(f"{e(k)}=<b>{e(_fmt(v))}</b>" for k, v in comps.items()))
    if text is not None:
        think = extract_think(text)
        lines.append(
            f"<details><summary>reasoning ({len(think or '')} chars)</summary><pre>{e(think or '∅')}</pre></details>"
            if think is not None
            else "<i>no &lt;think&gt; block</i>"
        )
        lines.append(f"answer: <pre>{e(answer) if answer is not None else '∅ (no &lt;answer&gt; tag)'}</pre>")
        lines.append(f"<details><summary>full output</summary><pre>{e(text)}</pre></details>")
    body = "<br>".join(lines)
    return f"<div class='sample' id='{e(task.name)}-{e(rid)}'>{_thumbnail(req, drawn)}<div>{body}</div></div>"
