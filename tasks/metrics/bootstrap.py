"""Image-level bootstrap: confidence intervals and paired significance for the headline metrics (issue 18).

The unit of resampling is the **image**, not the request: a COCO image carries one request per category,
a grounding image may carry several referring expressions, and their outcomes are correlated. A replicate
draws ``n`` images with replacement out of the ``n`` evaluated ones; an image drawn ``k`` times contributes
all its items (or detection records) ``k`` times.

Here lives what does not depend on the metric:

* :func:`draw_counts`: the replicates as multiplicity vectors. Replicate ``b`` draws its ``n`` image
  indices from its own generator, ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(b,)))``, so a
  replicate is the same whatever the chunking, and two runs over the same images get the same draws.
* :func:`bootstrap`: point estimate, 95 % percentile interval and standard error of every metric of an
  :class:`ImageStatistic`;
* :func:`paired_bootstrap`: B − A on the same drawn images for both runs, its interval and a two-sided
  p-value (formula in :class:`PairedResult`);
* :class:`MeanStatistic`: simple means over items (accuracy, box mIoU) with an item -> image mapping.

Detection AP (COCO / LVIS) is an :class:`ImageStatistic` too, in `tasks.metrics.bootstrap_coco`.
Results are frozen dataclasses whose ``as_dict()`` is json-ready: ``None`` for undefined values, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

DEFAULT_REPLICATES = 1000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95
DEFAULT_CHUNK = 100  # replicates drawn and evaluated together (memory: chunk × n_images int64 counts)

P_VALUE_FORMULA = (
    "p = min(1, 2 * (1 + c) / (1 + n)): n replicates where the difference is defined, c of them with a "
    "difference of the other sign than the observed B - A or zero (d <= 0 if B - A > 0, d >= 0 if B - A < 0); "
    "p = 1 when B - A == 0"
)


class ImageStatistic(Protocol):
    """Metrics that can be recomputed on a resampled multiset of images.

    ``image_ids``: the evaluated images (the resampling units), in a fixed order; ``point()``: every metric on
    the data as is (``None`` if undefined); ``replicates(counts)``: for a ``(B, n_images)`` integer matrix of
    image multiplicities (column j = ``image_ids[j]``), each metric's ``(B,)`` float values, NaN if undefined.
    """

    @property
    def image_ids(self) -> tuple[Hashable, ...]: ...

    def point(self) -> dict[str, float | None]: ...

    def replicates(self, counts: np.ndarray) -> dict[str, np.ndarray]: ...


def draw_counts(n_images: int, seed: int, start: int, stop: int) -> np.ndarray:
    """Image multiplicities of replicates ``start .. stop-1``: an int64 ``(stop-start, n_images)`` matrix whose
    row sums are ``n_images``. Row b is ``bincount`` of ``n_images`` uniform draws of replicate b's generator."""
    if n_images < 1:
        raise ValueError("cannot resample zero images")
    out = np.empty((stop - start, n_images), dtype=np.int64)
    for row, b in enumerate(range(start, stop)):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b,)))
        out[row] = np.bincount(rng.integers(0, n_images, size=n_images), minlength=n_images)
    return out


def image_order(keys: Iterable[Hashable]) -> tuple[Hashable, ...]:
    """The distinct image keys in a canonical order: sorted (by type name, then value) where they can be
    compared, else in order of first appearance."""
    distinct = list(dict.fromkeys(keys))
    try:
        return tuple(sorted(distinct, key=lambda k: (type(k).__name__, k)))
    except TypeError:
        return tuple(distinct)


def _check_args(n_replicates: int, confidence: float) -> None:
    if n_replicates < 1:
        raise ValueError(f"n_replicates must be >= 1, got {n_replicates}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def replicate_values(
    stat: ImageStatistic,
    *,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    chunk: int = DEFAULT_CHUNK,
) -> dict[str, np.ndarray]:
    """Every metric of ``stat`` on each of the ``n_replicates`` resamples: name -> ``(n_replicates,)`` floats,
    NaN where the metric is undefined in that replicate."""
    return _replicate_many([stat], n_replicates=n_replicates, seed=seed, chunk=chunk)[0]


def _replicate_many(
    stats: Sequence[ImageStatistic], *, n_replicates: int, seed: int, chunk: int
) -> list[dict[str, np.ndarray]]:
    """Replicate values of several statistics over the same images, on the same draws: the draws are made in
    the order of ``stats[0].image_ids`` and mapped onto the order of each other statistic."""
    base = stats[0].image_ids
    position = {img: j for j, img in enumerate(base)}
    columns = [np.array([position[img] for img in s.image_ids], dtype=np.intp) for s in stats]
    out: list[dict[str, list[np.ndarray]]] = [{} for _ in stats]
    for start in range(0, n_replicates, max(1, chunk)):
        counts = draw_counts(len(base), seed, start, min(n_replicates, start + max(1, chunk)))
        for s, cols, acc in zip(stats, columns, out, strict=True):
            for name, values in s.replicates(counts[:, cols]).items():
                acc.setdefault(name, []).append(np.asarray(values, dtype=np.float64))
    return [{name: np.concatenate(parts) for name, parts in acc.items()} for acc in out]


def _float_or_none(x: float | np.floating | None) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


@dataclass(frozen=True, kw_only=True)
class Interval:
    """One metric: the point ``estimate`` (on the data as is), the percentile interval ``[low, high]``, the
    standard error ``se`` (std of the replicates, ddof=1) and ``bias`` (mean of the replicates − estimate: the
    bootstrap's bias estimate; an interval far off-centre shows in it) over the ``n_defined`` replicates where
    the metric is defined (a class can lose all its GT in a resample). ``None`` where undefined."""

    estimate: float | None
    low: float | None
    high: float | None
    se: float | None
    bias: float | None
    n_defined: int


def _interval(estimate: float | None, values: np.ndarray, confidence: float) -> Interval:
    defined = values[np.isfinite(values)]
    if estimate is None or defined.size == 0:
        return Interval(estimate=estimate, low=None, high=None, se=None, bias=None, n_defined=int(defined.size))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(defined, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return Interval(
        estimate=estimate,
        low=_float_or_none(low),
        high=_float_or_none(high),
        se=float(np.std(defined, ddof=1)) if defined.size > 1 else None,
        bias=float(np.mean(defined)) - estimate,
        n_defined=int(defined.size),
    )


@dataclass(frozen=True, kw_only=True)
class BootstrapResult:
    """Per-metric intervals plus what is needed to reproduce them (seed, replicates, confidence, images)."""

    metrics: dict[str, Interval]
    n_replicates: int
    seed: int
    confidence: float
    n_images: int
    unit: str = "image"
    interval: str = "percentile"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["metrics"] = {name: asdict(v) for name, v in self.metrics.items()}
        return out


def bootstrap(
    stat: ImageStatistic,
    *,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    chunk: int = DEFAULT_CHUNK,
) -> BootstrapResult:
    """Image-level percentile bootstrap of every metric of ``stat`` (deterministic for a given ``seed``)."""
    _check_args(n_replicates, confidence)
    point = stat.point()
    reps = replicate_values(stat, n_replicates=n_replicates, seed=seed, chunk=chunk)
    return BootstrapResult(
        metrics={name: _interval(_float_or_none(point[name]), reps[name], confidence) for name in point},
        n_replicates=n_replicates,
        seed=seed,
        confidence=confidence,
        n_images=len(stat.image_ids),
    )


@dataclass(frozen=True, kw_only=True)
class Difference:
    """B − A for one metric: the two point values, their difference ``estimate``, the percentile interval,
    standard error and bias of the replicate differences (same images drawn for both runs), and the two-sided
    ``p_value`` (see :data:`P_VALUE_FORMULA`). ``None`` where undefined."""

    a: float | None
    b: float | None
    estimate: float | None
    low: float | None
    high: float | None
    se: float | None
    bias: float | None
    p_value: float | None
    n_defined: int


@dataclass(frozen=True, kw_only=True)
class PairedResult:
    """Per-metric paired differences B − A, with the seed, replicates and the p-value formula."""

    metrics: dict[str, Difference]
    n_replicates: int
    seed: int
    confidence: float
    n_images: int
    unit: str = "image"
    interval: str = "percentile"
    p_value_formula: str = P_VALUE_FORMULA

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["metrics"] = {name: asdict(v) for name, v in self.metrics.items()}
        return out


def paired_p_value(estimate: float, differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value of an observed difference (:data:`P_VALUE_FORMULA`); ``differences`` are
    the defined replicate differences."""
    if estimate == 0.0:
        return 1.0
    other = differences <= 0.0 if estimate > 0.0 else differences >= 0.0
    return min(1.0, 2.0 * (1.0 + float(np.count_nonzero(other))) / (1.0 + differences.size))


def _difference(a: float | None, b: float | None, diffs: np.ndarray, confidence: float) -> Difference:
    estimate = None if a is None or b is None else _float_or_none(b - a)
    iv = _interval(estimate, diffs, confidence)
    defined = diffs[np.isfinite(diffs)]
    p = None if estimate is None else paired_p_value(estimate, defined)
    return Difference(
        a=a,
        b=b,
        estimate=estimate,
        low=iv.low,
        high=iv.high,
        se=iv.se,
        bias=iv.bias,
        p_value=p,
        n_defined=iv.n_defined,
    )


def check_same_images(ids_a: Sequence[Hashable], ids_b: Sequence[Hashable]) -> None:
    """Raise ValueError, with examples, unless both runs cover the same set of images."""
    set_a, set_b = set(ids_a), set(ids_b)
    if set_a == set_b and len(set_a) == len(ids_a) == len(ids_b):
        return
    only_a, only_b = image_order(set_a - set_b), image_order(set_b - set_a)
    raise ValueError(
        "paired comparison needs both runs over the same images: "
        f"A has {len(set_a)} images, B has {len(set_b)}; {len(only_a)} only in A (e.g. {list(only_a[:5])}), "
        f"{len(only_b)} only in B (e.g. {list(only_b[:5])}). Score both runs on the same image set."
    )


def paired_bootstrap(
    stat_a: ImageStatistic,
    stat_b: ImageStatistic,
    *,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    chunk: int = DEFAULT_CHUNK,
) -> PairedResult:
    """Paired image-level bootstrap of B − A for every metric the two runs share.

    Both runs must be over the same images (ValueError otherwise) and report the same metrics (same classes).
    Each replicate draws one multiset of images and evaluates both runs on it. Identical runs give a
    difference of exactly 0, the interval [0, 0] and p = 1.
    """
    _check_args(n_replicates, confidence)
    check_same_images(stat_a.image_ids, stat_b.image_ids)
    point_a, point_b = stat_a.point(), stat_b.point()
    if point_a.keys() != point_b.keys():
        missing = sorted(set(point_a) ^ set(point_b))
        raise ValueError(f"runs A and B report different metrics (e.g. different classes): {missing[:10]}")
    reps_a, reps_b = _replicate_many([stat_a, stat_b], n_replicates=n_replicates, seed=seed, chunk=chunk)
    metrics = {
        name: _difference(
            _float_or_none(point_a[name]), _float_or_none(point_b[name]), reps_b[name] - reps_a[name], confidence
        )
        for name in point_a
    }
    return PairedResult(
        metrics=metrics, n_replicates=n_replicates, seed=seed, confidence=confidence, n_images=len(stat_a.image_ids)
    )


class MeanStatistic:
    """A mean over items (accuracy, box mIoU) resampled by image.

    ``values``: one number (or bool) per item; ``image_of``: the image of each item (default: every item is its
    own image). A replicate's value is ``scale · Σ_i k_i·sum_i / Σ_i k_i·n_i`` over images i drawn k_i times
    (sum_i, n_i: the sum and number of the image's items), i.e. the mean over the resampled items. The point
    estimate is ``scale · Σ values / n``: for ``scale=100`` and bools exactly ``100.0 * n_correct / n`` (the
    classification accuracy), for ``scale=1`` exactly ``np.mean`` (as `box_miou`).
    """

    def __init__(
        self,
        values: Sequence[float] | np.ndarray,
        image_of: Sequence[Hashable] | None = None,
        *,
        name: str = "mean",
        scale: float = 1.0,
    ) -> None:
        v = np.asarray(values, dtype=np.float64)
        if v.ndim != 1 or v.size == 0:
            raise ValueError("a mean needs a non-empty 1-D sequence of per-item values")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"per-item values must be finite; item {int(np.argmin(np.isfinite(v)))} is not")
        keys: Sequence[Hashable] = range(v.size) if image_of is None else image_of
        if len(keys) != v.size:
            raise ValueError(f"{v.size} values but {len(keys)} image keys")
        self._ids = image_order(keys)
        index = {img: j for j, img in enumerate(self._ids)}
        inverse = np.fromiter((index[k] for k in keys), dtype=np.intp, count=v.size)
        self._sums = np.bincount(inverse, weights=v, minlength=len(self._ids))
        self._n = np.bincount(inverse, minlength=len(self._ids)).astype(np.float64)
        self._values = v
        self.name = name
        self.scale = float(scale)

    @property
    def image_ids(self) -> tuple[Hashable, ...]:
        return self._ids

    def point(self) -> dict[str, float | None]:
        return {self.name: self.scale * float(np.sum(self._values)) / self._values.size}

    def replicates(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        c = np.asarray(counts, dtype=np.float64)
        return {self.name: self.scale * (c @ self._sums) / (c @ self._n)}


def bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    image_of: Sequence[Hashable] | None = None,
    *,
    name: str = "mean",
    scale: float = 1.0,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> BootstrapResult:
    """:func:`bootstrap` of a :class:`MeanStatistic` (accuracy: bools with ``scale=100``; mIoU: IoUs)."""
    stat = MeanStatistic(values, image_of, name=name, scale=scale)
    return bootstrap(stat, n_replicates=n_replicates, seed=seed, confidence=confidence)
