"""Fixtures for the lmms-eval plugin tests: a synthetic data root and crafted completions.

Crafted completions (perfect, wrong, and unclosed answers with think blocks) make the metrics
non-trivial, so that "lmms-eval's number equals vrft score's" is a meaningful check, and let a test see
whether lmms-eval hands the text to the hooks untouched (think blocks kept, no stop-string cut).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tasks.base import Request, Task
from tasks.spec import Kind
from tasks.synthetic import write_synthetic

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")


@pytest.fixture(scope="session")
def lmms_data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lmms_synth") / "data"
    write_synthetic(root, seed=0)
    return root


def crafted_text(i: int, request: Request, kind: Kind) -> str:
    """Completion number `i` of a task: right (i % 4 in (0, 3)), wrong (1) or right but unclosed (2)."""
    if i % 4 in (0, 3):
        return "<think> it is clear </think> " + request.solution
    if i % 4 == 2:  # a truncated completion: strict reads the unclosed tail, official does not
        return "<think> almost </think>\n" + request.solution.removesuffix("</answer>").rstrip()
    if kind is Kind.CLASSIFICATION:
        return "<think> fur </think> <answer>sphynx</answer>"
    if kind is Kind.DETECTION:
        return "<think> one </think> <answer>[{'Position': [100, 120, 420, 400], 'Confidence': 0.6}]</answer>"
    # a decoy box in the think block: the official reading takes the first box of the whole decode
    return "<think> not (0,0),(10,10) </think>\n<answer>(100,100),(600,600)</answer>"


@pytest.fixture(scope="session")
def craft() -> Callable[[Task], dict[str, str]]:
    """task -> {request_id: crafted completion} for every request of the task."""

    def generations(task: Task) -> dict[str, str]:
        return {r.request_id: crafted_text(i, r, task.kind) for i, r in enumerate(task.requests())}

    return generations
