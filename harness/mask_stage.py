"""The mask stage (``vrft eval --sam`` / ``vrft score RUN_DIR --sam``): each predicted grounding box -> a SAM
mask in ``RUN_DIR/masks.jsonl``, after generation and before scoring (paper Table 5's gIoU, PROTOCOL §6.5).

Which boxes: every answer's box in *both* profiles (`GroundingTask.mask_prompts`: the strict reading in
float pixels, the official one as ``box2mask.py`` truncates it), so the run re-scores in either profile
without SAM; a box both profiles share is made once. The image encoder, the expensive part, runs once per
image for all its boxes.

Resumable like generation: the stage makes only the (request, box) pairs masks.jsonl lacks (an error line,
an image that did not load, is tried again), appends one line per box and flushes per batch, so a kill
loses at most the batch in flight and a rerun makes no mask twice. SAM is loaded only when something is
left to make; masks of another SAM model than the file's are refused. Nothing here touches the
generations: a missing checkpoint or a bad image never costs an answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from harness.backends.images import ImageLoadError, load_image
from harness.mask_records import MASKS, mask_line, masks_lock, read_run_masks
from harness.records import drop_torn_tail, write_error
from harness.sam import SamMasker, resolve_sam, sam_identity
from harness.score_cmd import run_inputs, run_manifest
from tasks.grounding.masks import PixelBox, rle_encode
from tasks.spec import ImageRef, Profile

log = logging.getLogger("vrft.masks")
DEFAULT_BATCH = 4  # images per image-encoder call (ViT-H in float32: a few GB of activations per image)


@dataclass
class ImagePrompts:
    """One request's image and the boxes to segment on it (box -> the profiles that read it)."""

    task: str
    request_id: str
    image: ImageRef
    boxes: dict[PixelBox, set[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class MaskReport:
    """What one mask stage did: boxes wanted, already there, made now, failed (image unreadable), and the seconds
    spent making them (not loading SAM)."""

    wanted: int
    present: int
    made: int
    errors: int
    seconds: float
    sam: dict[str, Any]

    @property
    def masks_per_s(self) -> float | None:
        return self.made / self.seconds if self.made and self.seconds > 0 else None


def wanted_prompts(run_dir: Path) -> list[ImagePrompts]:
    """Every (request, box) the run's answers ask SAM for, in both profiles, grouped by request (sorted)."""
    manifest = run_manifest(run_dir)
    by_request: dict[tuple[str, str], ImagePrompts] = {}
    for profile in Profile:
        tasks, texts, _errors = run_inputs(run_dir, manifest, profile.value)
        if not any(hasattr(t, "mask_prompts") for t in tasks):
            names = ", ".join(t.name for t in tasks)
            raise ValueError(f"--sam: none of the tasks of {run_dir} ({names}) makes masks (lisa_grounding does)")
        for task in tasks:
            mask_prompts = getattr(task, "mask_prompts", None)
            if mask_prompts is None:
                continue
            samples = task.samples  # type: ignore[attr-defined]
            for rid, prompt in mask_prompts(texts.get(task.name, {}), profile).items():
                item = by_request.setdefault((task.name, rid), ImagePrompts(task.name, rid, samples[rid].image))
                item.boxes.setdefault(prompt.box, set()).add(profile.value)
    return [by_request[k] for k in sorted(by_request)]


def make_masks(run_dir: Path, sam: str, *, batch_size: int = DEFAULT_BATCH, device: str | None = None) -> MaskReport:
    """Make the masks `run_dir` lacks with the SAM checkpoint `sam` (a SamModel directory or hub id) and append
    them to masks.jsonl (created even when no answer has a box: the stage ran). SAM is looked up and loaded
    only when a mask is missing. Returns what was done."""
    if batch_size < 1:
        raise ValueError(f"--sam-batch-size {batch_size}: expected a positive number of images")
    wanted = wanted_prompts(run_dir)
    path = run_dir / MASKS
    with masks_lock(run_dir):
        stored = read_run_masks(run_dir) or {}
        todo: list[ImagePrompts] = []
        for item in wanted:
            done = stored[item.task].rles if item.task in stored else {}
            left = {box: p for box, p in item.boxes.items() if (item.request_id, box) not in done}
            if left:
                todo.append(ImagePrompts(item.task, item.request_id, item.image, left))
        identity = next((dict(m.sam) for m in stored.values() if m.sam), {"model": sam})
        drop_torn_tail(path)
        try:
            sink = path.open("a", encoding="utf-8")  # created even with nothing to do: the stage ran
        except OSError as err:
            raise write_error(path, err) from err
        errors, seconds = 0, 0.0
        with sink:
            if todo:
                sam_path = resolve_sam(sam)
                identity = _same_sam(identity, sam_identity(sam, sam_path), path, bool(stored))
                masker = SamMasker.load(sam_path, device)
                t0 = time.perf_counter()  # masks/s: images read, segmented and written; not the model load
                errors = _run(todo, masker, identity, sink, batch_size)
                seconds = time.perf_counter() - t0
    n_wanted, n_todo = sum(len(i.boxes) for i in wanted), sum(len(i.boxes) for i in todo)
    report = MaskReport(n_wanted, n_wanted - n_todo, n_todo - errors, errors, seconds, identity)
    log.info("masks: %d wanted, %d already made, %d made now, %d failed", n_wanted, report.present, report.made, errors)
    return report


def _same_sam(stored: dict[str, Any], given: dict[str, Any], path: Path, has_masks: bool) -> dict[str, Any]:
    """`given` if the file's masks (if any) come from the same SAM; otherwise refuse to mix two models."""
    if has_masks and stored.get("fingerprint") != given["fingerprint"]:
        raise ValueError(
            f"{path} holds masks made by SAM {stored.get('model')!r}; --sam {given['model']} is another model "
            f"(fingerprint {str(given['fingerprint'])[:12]}): give that one, or move {path} away to make every "
            "mask with the new one"
        )
    return given


def _batches(items: Sequence[ImagePrompts], size: int) -> Iterator[Sequence[ImagePrompts]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _run(todo: Sequence[ImagePrompts], masker: SamMasker, identity: dict[str, Any], sink: TextIO, batch: int) -> int:
    """Segment every pending box, one flushed batch of images at a time; returns the number of error lines."""
    errors = 0
    with tqdm(total=sum(len(i.boxes) for i in todo), desc="masks", unit="mask", dynamic_ncols=True) as bar:
        for chunk in _batches(todo, batch):
            lines: list[str] = []
            ready: list[tuple[ImagePrompts, Any]] = []
            for item in chunk:
                try:
                    image = load_image(item.image.path)
                    if image.size != (item.image.width, item.image.height):
                        raise ImageLoadError(
                            f"image {item.image.path} is {image.width}x{image.height} now, the run read it as "
                            f"{item.image.width}x{item.image.height}"
                        )
                except ImageLoadError as err:
                    log.warning("%s %s: no mask: %s", item.task, item.request_id, err)
                    errors += len(item.boxes)
                    lines += [_line(item, box, identity, error=str(err)) for box in item.boxes]
                    continue
                ready.append((item, image))
            if ready:
                masks = masker.masks([img for _, img in ready], [list(item.boxes) for item, _ in ready])
                for (item, _), item_masks in zip(ready, masks, strict=True):
                    lines += [
                        _line(item, box, identity, rle=rle_encode(m))
                        for box, m in zip(item.boxes, item_masks, strict=True)
                    ]
            try:
                sink.write("".join(lines))
                sink.flush()
            except OSError as err:  # a full disk: the lines flushed before are whole, a torn one is cut on resume
                raise write_error(Path(sink.name), err) from err
            bar.update(sum(len(item.boxes) for item in chunk))
    return errors


def _line(item: ImagePrompts, box: PixelBox, identity: dict[str, Any], **result: Any) -> str:
    wh = (item.image.width, item.image.height)
    return mask_line(item.task, item.request_id, box, identity, item.boxes[box], wh, **result)
