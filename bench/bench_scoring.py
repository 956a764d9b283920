"""End-to-end detection scoring time (parse + rewards + metric) through the real task code, as ``vrft score``.

    .venv/bin/python bench/bench_scoring.py [--seed 0] [--only coco|lvis] [--with-nomv] [--root DIR]
        [--quick] [--json PATH]

Documented size (bench/RESULTS.md): the sizes below; ``--quick``: 300 COCO and 1,000 LVIS images (a smoke run).

Writes a synthetic data root (json only: the detection loaders read image sizes from the annotation
files and never open an image, which this script enforces by making ``PIL.Image.open`` raise):

* COCO: ``coco/annotations/instances_val2017.json``, 5,000 images, all 80 real categories. Each
  (image, few-shot class) pair holds 1–3 boxes with p=0.3 (the 8 classes of ``coco_fewshot``; denser
  than real val2017), plus on average ``--coco-background`` boxes per image of the other 72 classes
  (real val2017: 36,781 annotations, ~7 per image; here ~49k).
* LVIS: ``lvis/annotations/lvis_v1_val.json``, 20,000 images, the 18 LVIS v1 categories of
  ``tasks.synthetic.categories`` with their real ids and frequencies. Each (image, few-shot rare class)
  pair is positive with p=0.05 (1–3 boxes; 20 % of them also not-exhaustive) or verified negative with
  p=0.05; ``--lvis-background`` boxes per image of the 12 other categories (real LVIS v1 val: ~12 per
  image, 245k annotations). Every annotation has a polygon ``segmentation`` as the real files do.

Then ``get_task("coco_fewshot" | "lvis_fewshot", root)`` (protocol ``direct``: every image × class,
40,000 / 120,000 requests) gets one generation per request in the paper's format
(``<think>…</think>\\n<answer>[{'Position': [x1, y1, x2, y2], 'Confidence': 0.87}, ...]</answer>``,
0–1000 coordinates): jittered GT boxes (some missed, some extra) for present pairs, ``No Objects``
or a false positive for absent ones; 2 % of the box answers are cut off mid-answer. Timed per profile:

* ``parse s``: the response -> result-entry loop alone (``strict_eval_results`` / ``official_eval_results``);
* ``score s``: ``task.score(gens, profile)``, of which ``reward s`` (the per-request verifier reading and
  scoring each completion; in the official profile it runs the math-verify short-circuit when that package
  is installed) and
  ``metric s`` (pycocotools / lvis; for LVIS the share spent in ``LVISResults``' deepcopy of the whole
  GT dataset is printed too) are measured inside the same call by thin timing wrappers; ``other s`` is
  the rest (building the requests and their solutions, parsing, per-request records).

``--with-nomv`` adds an ``official-nomv`` row: the official profile with the math-verify short-circuit
switched off (as without the package), to show its share (about a minute more). One-time imports
(pycocotools, lvis, math-verify) are done and timed before the rows. Not a test: nothing asserts on
time. Deterministic for a given ``--seed`` (data, generations and metrics; not the timings).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _result import add_json_arg, emit, table
from _scoring_data import make_generations, write_coco, write_lvis

from tasks import mathverify
from tasks.detection.metric import official_eval_results, strict_eval_results
from tasks.registry import get_task

# ---- timing ------------------------------------------------------------------------------------


@contextlib.contextmanager
def no_image_opened() -> Iterator[None]:
    """Make any image read fail loudly: scoring must work from the annotation files alone."""
    from PIL import Image

    original = Image.open

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"scoring opened an image: {args[:1]!r}")

    Image.open = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        Image.open = original  # type: ignore[assignment]


class _Stopwatch:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        return timed


class _TimedVerifier:
    """The verifier `DetectionTask.score` asks for, with its reward calls (reading the completion and scoring
    it: ``parse`` + ``score_parsed``, or ``score``) timed; everything else is forwarded."""

    TIMED = ("parse", "score_parsed", "score")

    def __init__(self, inner: Any, watch: _Stopwatch) -> None:
        self._inner = inner
        for name in self.TIMED:
            if callable(getattr(inner, name, None)):
                setattr(self, name, watch.wrap(getattr(inner, name)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def timed_score(task: Any, gens: dict[str, str], profile: str) -> tuple[Any, dict[str, float]]:
    """``task.score(gens, profile)`` with the verifier and metric time measured inside the call."""
    reward, metric, gt_copy = _Stopwatch(), _Stopwatch(), _Stopwatch()
    real_verifier = type(task).verifier.__get__(task)
    task.verifier = lambda *a, **k: _TimedVerifier(real_verifier(*a, **k), reward)
    task._metrics = metric.wrap(type(task)._metrics.__get__(task))
    lvis_results = sys.modules.get("lvis.results")  # imported by tasks.metrics.lvis._lvis_api
    real_deepcopy = lvis_results.deepcopy if lvis_results is not None else None
    if lvis_results is not None:
        lvis_results.deepcopy = gt_copy.wrap(real_deepcopy)  # LVISResults.__init__: deepcopy(lvis_gt.dataset)
    try:
        t0 = time.perf_counter()
        result = task.score(gens, profile)
        total = time.perf_counter() - t0
    finally:
        del task.verifier
        del task._metrics
        if lvis_results is not None:
            lvis_results.deepcopy = real_deepcopy
    return result, {"score": total, "reward": reward.seconds, "metric": metric.seconds, "gt_copy": gt_copy.seconds}


def time_parse(task: Any, gens: dict[str, str], profile: str) -> tuple[float, int]:
    convert = official_eval_results if profile.startswith("official") else strict_eval_results
    images = task.data.images
    items = []
    for rid, text in gens.items():
        image_id, cat_id = (int(x) for x in rid.split(":"))
        ref = images[image_id]
        items.append((text, image_id, cat_id, ref.width, ref.height))
    n = 0
    t0 = time.perf_counter()
    for text, image_id, cat_id, w, h in items:
        n += len(convert(text, image_id, cat_id, w, h).results)
    return time.perf_counter() - t0, n


@contextlib.contextmanager
def math_verify_off() -> Iterator[None]:
    """The official verifier as without the math-verify package (its short-circuit never fires)."""
    original = mathverify.available
    mathverify.available = lambda: False  # type: ignore[assignment]
    try:
        yield
    finally:
        mathverify.available = original  # type: ignore[assignment]


def _line(label: str, seconds: float, extra: str = "") -> None:
    print(f"  {label:<44s} {seconds:8.2f} s  {extra}")


def run_dataset(dataset: str, root: Path, rng: random.Random, args: argparse.Namespace, rows: list[list[Any]]) -> None:
    task_name = "coco_fewshot" if dataset == "coco" else "lvis_fewshot"
    t0 = time.perf_counter()
    if dataset == "coco":
        path, stats = write_coco(root, rng, args.coco_images, args.coco_background)
    else:
        path, stats = write_lvis(root, rng, args.lvis_images, args.lvis_background)
    write_s = time.perf_counter() - t0
    print(f"\n{dataset.upper()}: {path.relative_to(root)}  " + ", ".join(f"{k} {v:,}" for k, v in stats.items()))
    _line("write synthetic json", write_s)

    task = get_task(task_name, root)
    t0 = time.perf_counter()
    data = task.data
    _line(
        "data load (json + index: task.data)",
        time.perf_counter() - t0,
        f"{len(data.images):,} images, {len(data.categories)} categories",
    )
    t0 = time.perf_counter()
    n_req = sum(1 for _ in task.requests())
    _line("build requests (task.requests())", time.perf_counter() - t0, f"{n_req:,} requests")
    t0 = time.perf_counter()
    gens, kinds = make_generations(task, rng)
    _line("synthesize generations (not scoring)", time.perf_counter() - t0, str(kinds))

    profiles = ["strict", "official"] + (["official-nomv"] if args.with_nomv else [])
    for profile in profiles:
        parse_s, n_results = time_parse(task, gens, profile)
        ctx = math_verify_off() if profile == "official-nomv" else contextlib.nullcontext()
        with ctx:
            result, t = timed_score(task, gens, profile.split("-")[0])
        m = result.metrics
        assert not result.missing and not result.unknown, (len(result.missing), len(result.unknown))
        assert m["n_results"] == n_results, (m["n_results"], n_results)
        other = t["score"] - t["reward"] - t["metric"]
        rate = m["n_requests"] / t["score"]
        rows.append([dataset, profile, m["n_requests"], parse_s, t["reward"], t["metric"], other, t["score"], rate])
        copy = f"  (metric: {t['gt_copy']:.2f} s in LVISResults' GT deepcopy)" if dataset == "lvis" else ""
        print(
            f"  {profile:<14s} mAP {m['mAP']:.2f}  AP50 {m['AP50']:.2f}  results {m['n_results']:,}  "
            f"failures {m['parse_failures']}  errors {m['errors']}  reward_mean total {m['reward_mean']['total']:.4f}"
            + copy
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=("coco", "lvis"), help="run one dataset only")
    ap.add_argument("--coco-images", type=int, help="default 5,000 (--quick 300)")
    ap.add_argument("--lvis-images", type=int, help="default 20,000 (--quick 1,000)")
    ap.add_argument("--coco-background", type=int, default=5, help="mean non-few-shot boxes per COCO image")
    ap.add_argument("--lvis-background", type=int, default=12, help="mean non-few-shot boxes per LVIS image")
    ap.add_argument("--with-nomv", action="store_true", help="add the official profile without math-verify")
    ap.add_argument("--root", type=Path, help="write the synthetic data here (kept) instead of a temp dir")
    ap.add_argument("--quick", action="store_true", help="smoke size: 300 COCO images, 1,000 LVIS images")
    add_json_arg(ap)
    args = ap.parse_args()
    args.coco_images = args.coco_images or (300 if args.quick else 5000)
    args.lvis_images = args.lvis_images or (1000 if args.quick else 20000)

    print(f"math-verify installed (official short-circuit active): {mathverify.available()}")
    # One-time imports, outside the timed rows: pycocotools, lvis (pulls in cv2 and matplotlib) and
    # math-verify (sympy) are imported lazily by the first scoring call of a process.
    t0 = time.perf_counter()
    from tasks.metrics.lvis import _lvis_api

    _lvis_api()
    _line("import pycocotools + lvis (once per process)", time.perf_counter() - t0)
    if mathverify.available():
        t0 = time.perf_counter()
        mathverify.short_circuit("<answer>1</answer>", "<answer>2</answer>")
        _line("import + first call of math-verify (once)", time.perf_counter() - t0)
    rows: list[list[Any]] = []
    t_all = time.perf_counter()
    with contextlib.ExitStack() as stack:
        root = args.root or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vrft-bench-")))
        stack.enter_context(no_image_opened())
        for k, dataset in enumerate(("coco", "lvis")):
            if args.only in (None, dataset):
                run_dataset(dataset, root / dataset, random.Random(args.seed * 1000 + k), args, rows)

    head = ["dataset", "profile", "requests", "parse s", "reward s", "metric s", "other s", "score s", "req/s"]
    print("\n" + f"{head[0]:<8s} {head[1]:<14s}" + "".join(f"{h:>10s}" for h in head[2:]))
    for r in rows:
        print(f"{r[0]:<8s} {r[1]:<14s}{r[2]:>10,d}" + "".join(f"{v:10.2f}" for v in r[3:8]) + f"{r[8]:10,.0f}")
    print(
        "score s = task.score(gens, profile) end to end = reward s + metric s + other s (measured inside it); "
        "parse s is the standalone parse loop (the same work is also inside other s)."
    )
    total = time.perf_counter() - t_all
    print(f"total wall time {total:.1f} s")
    keys = ("dataset", "profile", "requests", "parse_s", "reward_s", "metric_s", "other_s", "score_s", "req_per_s")
    cells = [[r[0], r[1], f"{r[2]:,d}", *(f"{v:.2f}" for v in r[3:8]), f"{r[8]:,.0f}"] for r in rows]
    emit(
        "scoring",
        {k: getattr(args, k) for k in ("coco_images", "lvis_images", "coco_background", "lvis_background", "seed")}
        | {"only": args.only or "coco+lvis", "with_nomv": args.with_nomv},
        {"rows": [dict(zip(keys, [*r[:3], *(round(v, 2) for v in r[3:8]), round(r[8])], strict=True)) for r in rows],
         "total_wall_s": round(total, 1)},
        [table("task.score end to end, seconds (score s = reward s + metric s + other s)", head, cells)],
        args.json,
    )


if __name__ == "__main__":
    main()
