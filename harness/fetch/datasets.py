"""Every dataset `vrft data fetch` lays out (`PLANS`, in the order they are fetched: COCO before LVIS, whose
images reuse ``coco/val2017/``), what a dataset's tasks also need (`COMPANIONS`), and the README's sources
table, generated from `PLANS` and `SOURCES` (a test holds the README to it).

The handlers live by family: `harness.fetch.detection` (COCO, LVIS, exist maps), `harness.fetch.fgvc`
(Flowers102, Pets, FGVC-Aircraft, Stanford Cars), `harness.fetch.lisa` (ReasonSeg).
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.fetch import detection, fgvc, lisa
from harness.fetch.download import Remote
from harness.fetch.plan import Job, Plan
from harness.fetch.sources import SOURCES

__all__ = ["COMPANIONS", "PLANS", "Job", "Plan", "sources_table"]

PLANS: dict[str, Plan] = {**detection.PLANS, **fgvc.PLANS, **lisa.PLANS}
COMPANIONS: dict[str, tuple[str, ...]] = detection.COMPANIONS

TABLE_BEGIN = "<!-- fetch-sources:begin -->"
TABLE_END = "<!-- fetch-sources:end -->"


def _check(remote: Remote) -> str:
    parts = [name for name, value in (("md5", remote.md5), ("sha256", remote.sha256)) if value]
    return " + ".join([*parts, *(["size"] if remote.size is not None else [])]) or "announced length; unpacks"


def _verified_by(plan: Plan, remotes: list[Remote]) -> str:
    kinds = [_check(r) for r in remotes]
    distinct = list(dict.fromkeys(kinds))
    text = "; ".join(
        f"{k} ({kinds.count(k)} file{'s' if kinds.count(k) > 1 else ''})" if len(distinct) > 1 else k for k in distinct
    )
    return f"your copy: unpacked, checked file by file{'; lists: ' + text if text else ''}" if plan.given else text


def sources_table(sources: Mapping[str, Remote] = SOURCES) -> str:
    """The README's table: one row per dataset, its URLs (`SOURCES`), how they are verified, the layout."""
    lines = [
        TABLE_BEGIN,
        "<!-- generated from harness/fetch/datasets.py and sources.py (sources_table): edit those, not these lines -->",
        "| dataset | source (`harness/fetch/sources.py`) | verified by | laid out as |",
        "|---|---|---|---|",
    ]
    for plan in PLANS.values():
        keys = [*plan.sources, *plan.train_sources]
        remotes = [sources[k] for k in keys]
        urls = "<br>".join(f"`{r.url}`" + (" (`--train`)" if k in plan.train_sources else "") for k, r in
                           zip(keys, remotes, strict=True))  # fmt: skip
        if plan.given:
            urls = "`--from` PATH or URL (no public source a script can reach)" + (f"<br>{urls}" if urls else "")
        lines.append(f"| {plan.title} | {urls} | {_verified_by(plan, remotes)} | {plan.layout} |")
    lines.append(TABLE_END)
    return "\n".join(lines)
