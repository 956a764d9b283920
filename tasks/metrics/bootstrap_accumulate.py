"""Re-accumulation of COCO / LVIS precision for any multiset of images, from one evaluation (issue 18).

pycocotools ``COCOeval.evaluate()`` (or ``LVISEval.evaluate()``) runs **once**; its per-image records
(``evalImgs`` / ``eval_imgs``: dtScores, dtMatches, dtIgnore, gtIgnore per (category, area, image)) hold
everything ``accumulate`` needs. This module re-does ``accumulate`` for any multiset of images, vectorised in
numpy over replicates.

What ``accumulate`` computes, per (category, area, maxDets) and IoU threshold t: the detections of all
images concatenated in image order (each image's list cut to maxDets), stably sorted by descending score
(mergesort); ``tp``/``fp`` = matched / unmatched among the not-ignored ones; their cumulative sums give the
points ``rc = tp/npig`` (npig: GT with gtIgnore == 0) and ``pr = tp / (tp + fp + eps)``; ``pr`` is replaced by
its running maximum from the right (the envelope) and read at the first index where ``rc >= r`` for each
recall threshold r (``searchsorted(side='left')``), 0 where no point reaches r; ``-1`` where npig == 0 (AP
undefined). LVIS does the same with its federated records (detections outside a category's pos ∪ neg images
are dropped and unmatched ones on not-exhaustive images ignored by ``evaluate``; the 300-per-image cap is
applied when the results are loaded), and no maxDets cut in ``accumulate``.

Equivalently, the precision at r is ``max{pr_j : rc_j >= r}`` over the points j (0 if none). For a multiset
with image multiplicities k this module uses **weights** instead of copies: the sort order of one category's
detections is fixed once, and a replicate is a cumulative sum where a detection of an image drawn k times
counts k (and its GT k·n_gt). That is exactly the accumulation over the *duplicated records* in which every
record of the image is repeated k times in place (the k copies of a detection adjacent, as a stable sort of
the repeated list keeps them; the copy made by ``np.repeat`` of each per-image array): inside a block of k
copies of a true positive the points rise in both recall and precision, so the block's last point, which is
the weighted point, dominates the others; inside a block of false positives (or ignored detections) the
point before the block dominates. Zero-weight detections repeat the previous point. The maximum over the
points is therefore the same float, bit for bit (tests compare against pycocotools' and lvis' own
``accumulate`` run on explicitly duplicated records). Where an image has **several detections with the same
score**, duplicating the image's record as a *separate* ``evalImgs`` entry would interleave the copies
(a b a b instead of a a b b) and can change which copy ranks first among the tied ones; this module uses the
in-place convention. Without within-image ties both conventions agree (tested).

Vectorised: a chunk of replicates is a ``(B, A, T, N)`` array of weighted cumulative counts. The first point
reaching recall r is the first with ``tp >= tau(r)`` (:func:`min_tp`, integer and exact), found for all rows
at once by one ``searchsorted`` over the rows laid end to end; the precision at r is then the running maximum
from the right over thresholds of the per-segment maxima ``max(pr[start_r:start_r+1])`` (``reduceat``),
which equals the envelope read at ``start_r`` without building the envelope.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools.cocoeval import COCOeval

_EPS = np.spacing(1)  # pycocotools / lvis: pr = tp / (fp + tp + np.spacing(1))
_MAX_ELEMENTS = 1 << 22  # replicates × areas × IoUs × detections per vectorised step (~32 MB per array)
_COCO_KEYS = ("dtScores", "dtMatches", "dtIgnore", "gtIgnore")
_LVIS_KEYS = ("dt_scores", "dt_matches", "dt_ignore", "gt_ignore")


@dataclass(frozen=True, eq=False)
class ClassTable:
    """One category's records at one maxDets cut, in ``accumulate``'s order (stable sort by -score).

    ``img``: population index of each detection's image ``(N,)``; ``tp`` (0/1): matched and not ignored
    ``(A, T, N)``; ``hit`` (0/1): not ignored, i.e. tp or fp, ``(A, T, N)`` or ``(A, 1, N)`` when the same at
    every IoU threshold; ``gt_img`` ``(G,)`` / ``gt_n`` ``(A, G)``: the images with records and their number of
    non-ignored GT per area. Detections ignored in every row are left out: they repeat the previous point.
    """

    img: np.ndarray
    tp: np.ndarray
    hit: np.ndarray
    gt_img: np.ndarray
    gt_n: np.ndarray

    def precision(self, counts: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
        """``accumulate``'s precision for each row of image multiplicities: ``(B, A, T, R)``, -1 where the
        resample has no non-ignored GT."""
        b = counts.shape[0]
        a, t, n = self.tp.shape
        npig = counts[:, self.gt_img] @ self.gt_n.T  # (B, A)
        if n == 0:
            out = np.zeros((b, a, t, rec_thrs.size))
            out[npig == 0] = -1.0
            return out
        step = max(1, _MAX_ELEMENTS // (a * t * n))
        parts = [self._chunk(counts[s : s + step], npig[s : s + step], rec_thrs) for s in range(0, b, step)]
        return np.concatenate(parts)

    def _chunk(self, counts: np.ndarray, npig: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
        b = counts.shape[0]
        a, t, n = self.tp.shape
        r = rec_thrs.size
        rows = b * a * t
        w = counts[:, self.img][:, None, None, :]  # (b, 1, 1, N)
        tpc = self.tp * w
        np.cumsum(tpc, axis=-1, out=tpc)  # (b, A, T, N)
        nc = self.hit * w  # (b, A, T or 1, N)
        np.cumsum(nc, axis=-1, out=nc)
        pr = np.empty(rows * n + 1)  # one spare slot: reduceat below may point one past the last row
        pr[-1] = 0.0
        np.divide(tpc, nc + _EPS, out=pr[:-1].reshape(b, a, t, n))
        del nc
        # The first point j with rc_j >= r is the first with tp_j >= tau(r); rows laid end to end (offset by
        # more than any count) stay sorted, so one searchsorted finds it for every row and threshold.
        tau = np.broadcast_to(min_tp(npig, rec_thrs)[:, :, None, :], (b, a, t, r)).reshape(rows, r)
        big = int(max(tpc[..., -1].max(), tau.max())) + 1
        keys = tpc.reshape(rows, n)
        keys += (np.arange(rows, dtype=np.int64) * big)[:, None]
        starts = np.searchsorted(keys.ravel(), (tau + (np.arange(rows, dtype=np.int64) * big)[:, None]).ravel())
        del tpc, keys
        starts = starts.reshape(rows, r)
        found = starts - (np.arange(rows) * n)[:, None] < n
        # precision at r = max(pr[j] for j >= start_r): the max over each segment [start_r, start_{r+1}) (the
        # row's end closing the last one; an empty segment gives pr[start_r], which is in the suffix anyway),
        # then a running max from the right over the thresholds
        bounds = np.empty((rows, r + 1), dtype=np.intp)
        bounds[:, :r] = starts
        bounds[:, r] = (np.arange(rows) + 1) * n
        seg = np.maximum.reduceat(pr, bounds.ravel()).reshape(rows, r + 1)[:, :r]
        seg[~found] = 0.0  # no point reaches r: 0, as accumulate leaves it; pr >= 0 so the running max is unchanged
        out = np.maximum.accumulate(seg[:, ::-1], axis=1)[:, ::-1].reshape(b, a, t, r)
        out[npig == 0] = -1.0
        return out


def min_tp(npig: np.ndarray, rec_thrs: np.ndarray) -> np.ndarray:
    """The least integer tp with ``tp / npig >= r`` in float64 (as ``accumulate`` compares), per npig and r:
    ``npig[..., None]``-shaped int64. Where npig == 0 the value is meaningless (the precision is -1)."""
    n = np.where(npig > 0, npig, 1).astype(np.float64)[..., None]
    tp = np.ceil(rec_thrs * n)
    for _ in range(8):  # ceil(r·n) is off by at most one; float division is monotone in tp
        lower = (tp >= 1) & ((tp - 1) / n >= rec_thrs)
        higher = tp / n < rec_thrs
        if not (lower.any() or higher.any()):
            return tp.astype(np.int64)
        tp = tp - lower + higher
    raise AssertionError("min_tp did not converge")


def _build_table(
    entries: Sequence[Sequence[Mapping[str, Any] | None]],
    keys: tuple[str, str, str, str],
    max_det: int | None,
    population: np.ndarray,
    n_thr: int,
) -> ClassTable:
    """``entries[a][i]``: the record of image i (evaluation order) at area a; ``population[i]``: its index."""
    k_score, k_match, k_dtig, k_gtig = keys
    scores, img, tp, hit, gt_img, gt_n = [], [], [], [], [], []
    for i, first in enumerate(entries[0]):
        if first is None:  # None at one area is None at every area (no GT and no detection)
            continue
        s = first[k_score][0:max_det]
        scores.append(s)
        img.append(np.full(len(s), population[i], dtype=np.intp))
        rows = [entries[a][i] for a in range(len(entries))]
        dtm = np.stack([e[k_match][:, 0:max_det] for e in rows])  # type: ignore[index]  # (A, T, D)
        not_ig = np.logical_not(np.stack([e[k_dtig][:, 0:max_det] for e in rows]))  # type: ignore[index]
        tp.append(np.logical_and(dtm, not_ig))
        hit.append(not_ig)
        gt_img.append(population[i])
        gt_n.append([np.count_nonzero(np.asarray(e[k_gtig]) == 0) for e in rows])  # type: ignore[index]
    n_area = len(entries)
    if not scores:
        empty = np.zeros((n_area, n_thr, 0), dtype=np.int64)
        return ClassTable(np.zeros(0, np.intp), empty, empty, np.zeros(0, np.intp), np.zeros((n_area, 0), np.int64))
    order = np.argsort(-np.concatenate(scores), kind="mergesort")  # exactly accumulate's sort
    tp_all = np.concatenate(tp, axis=-1)[..., order]
    hit_all = np.concatenate(hit, axis=-1)[..., order]
    keep = hit_all.any(axis=(0, 1))
    hit_all = hit_all[..., keep]
    if (hit_all == hit_all[:, :1]).all():  # the usual case: no IoU-dependent ignore (crowd match)
        hit_all = hit_all[:, :1]
    return ClassTable(
        img=np.concatenate(img)[order][keep],
        tp=tp_all[..., keep].astype(np.int64),  # 0/1 as int64: int × int products are several times faster
        hit=hit_all.astype(np.int64),
        gt_img=np.asarray(gt_img, dtype=np.intp),
        gt_n=np.asarray(gt_n, dtype=np.int64).T.copy(),
    )


@dataclass(frozen=True, eq=False)
class DetectionRecords:
    """The per-image evaluation records of one detection run, ready for re-accumulation.

    ``image_ids``: the resampling population (sorted); ``category_ids`` in the evaluator's (sorted) order;
    ``areas``: the area labels kept (official order); ``max_dets``: the maxDets cuts kept (``None``: no cut,
    LVIS). ``tables[(category_id, max_det)]`` holds the areas in ``areas`` order.
    """

    kind: str
    image_ids: tuple[Hashable, ...]
    category_ids: tuple[int, ...]
    areas: tuple[str, ...]
    max_dets: tuple[int | None, ...]
    iou_thrs: np.ndarray
    rec_thrs: np.ndarray
    tables: dict[tuple[int, int | None], ClassTable]

    def identity(self) -> np.ndarray:
        """The multiplicities of the data as is: every image once, ``(1, n_images)``."""
        return np.ones((1, len(self.image_ids)), dtype=np.int64)

    def precision(self, counts: np.ndarray, max_det: int | None = None) -> np.ndarray:
        """Precision per replicate: ``(B, K, A, T, R)`` for the given multiplicities ``(B, n_images)``, -1 where
        undefined. ``max_det`` defaults to the largest cut kept."""
        m = self.max_dets[-1] if max_det is None else max_det
        counts = np.asarray(counts, dtype=np.int64)
        return np.stack([self.tables[(c, m)].precision(counts, self.rec_thrs) for c in self.category_ids], axis=1)

    def official_precision(self, counts: np.ndarray) -> np.ndarray:
        """One replicate's precision in the evaluator's layout, for parity checks: COCO ``[T, R, K, A, M]``,
        LVIS ``[T, R, K, A]`` (only the areas and maxDets kept)."""
        per_m = [self.precision(np.asarray(counts)[None, :], m)[0] for m in self.max_dets]  # each (K, A, T, R)
        arr = np.stack(per_m, axis=-1).transpose(2, 3, 0, 1, 4)  # (T, R, K, A, M)
        return arr[..., 0] if self.kind == "lvis" else arr


def _population(eval_ids: Sequence[Hashable], image_ids: Sequence[Hashable] | None) -> tuple[Hashable, ...]:
    if image_ids is None:
        return tuple(sorted(int(i) for i in eval_ids))  # type: ignore[call-overload]
    population = tuple(sorted(set(image_ids)))  # type: ignore[type-var]
    missing = set(eval_ids) - set(population)
    if missing:
        raise ValueError(f"evaluated images {sorted(missing)[:10]} are not in image_ids")  # type: ignore[type-var]
    return population


def _records_from_eval_imgs(
    kind: str,
    eval_imgs: Sequence[Mapping[str, Any] | None],
    eval_img_ids: Sequence[Hashable],
    cat_ids: Sequence[int],
    area_labels: Sequence[str],
    areas: Sequence[str] | None,
    max_dets: Sequence[int | None],
    iou_thrs: np.ndarray,
    rec_thrs: np.ndarray,
    image_ids: Sequence[Hashable] | None,
) -> DetectionRecords:
    population = _population(eval_img_ids, image_ids)
    index = {img: j for j, img in enumerate(population)}
    pop = np.array([index[i] for i in eval_img_ids], dtype=np.intp)
    labels = list(area_labels)
    keep = [lbl for lbl in labels if areas is None or lbl in areas]
    unknown = set(areas or ()) - set(labels)
    if unknown:
        raise ValueError(f"unknown area labels {sorted(unknown)}; the evaluator has {labels}")
    n_img, n_area = len(eval_img_ids), len(labels)
    keys = _COCO_KEYS if kind == "coco" else _LVIS_KEYS
    tables = {}
    for k, cat in enumerate(cat_ids):
        entries = [
            eval_imgs[(k * n_area + labels.index(lbl)) * n_img : (k * n_area + labels.index(lbl) + 1) * n_img]
            for lbl in keep
        ]
        for m in max_dets:
            tables[(int(cat), m)] = _build_table(entries, keys, m, pop, len(iou_thrs))
    return DetectionRecords(
        kind=kind,
        image_ids=population,
        category_ids=tuple(int(c) for c in cat_ids),
        areas=tuple(keep),
        max_dets=tuple(max_dets),
        iou_thrs=np.asarray(iou_thrs),
        rec_thrs=np.asarray(rec_thrs),
        tables=tables,
    )


def records_from_cocoeval(
    ev: COCOeval,
    *,
    image_ids: Sequence[Hashable] | None = None,
    areas: Sequence[str] | None = None,
    max_dets: Sequence[int] | None = None,
) -> DetectionRecords:
    """Records of a ``COCOeval`` after ``evaluate()`` (bbox or segm, ``useCats=1``). ``image_ids``: the
    resampling population (default: the evaluated images; must contain them); ``areas`` / ``max_dets``: which
    of the evaluator's area ranges / maxDets to keep (default: all)."""
    pe = ev._paramsEval
    if not pe.useCats:
        raise ValueError("COCOeval with useCats=0 is not supported")
    unknown = set(max_dets or ()) - set(pe.maxDets)
    if unknown:
        raise ValueError(f"maxDets {sorted(unknown)} not evaluated; the evaluator has {pe.maxDets}")
    return _records_from_eval_imgs(
        "coco",
        ev.evalImgs,
        [int(i) for i in pe.imgIds],
        list(pe.catIds),
        list(pe.areaRngLbl),
        areas,
        [m for m in pe.maxDets if max_dets is None or m in max_dets],
        ev.params.iouThrs,
        ev.params.recThrs,
        image_ids,
    )


def records_from_lvis_eval(
    ev: Any, *, image_ids: Sequence[Hashable] | None = None, areas: Sequence[str] | None = None
) -> DetectionRecords:
    """Records of an ``LVISEval`` after ``evaluate()``; arguments as :func:`records_from_cocoeval`."""
    p = ev.params
    return _records_from_eval_imgs(
        "lvis",
        ev.eval_imgs if p.img_ids else [],
        [int(i) for i in p.img_ids],
        list(p.cat_ids),
        list(p.area_rng_lbl),
        areas,
        [None],
        p.iou_thrs,
        p.rec_thrs,
        image_ids,
    )
