"""Installed by the wheel as the top-level module ``vrft_lmms_hooks`` (pyproject force-include), for task
files copied elsewhere with ``vrft lmms-yaml --out``: loads ``tasks/lmms_eval/vrft_lmms_hooks.py`` beside it
by file path (``import tasks`` could find a decoy package) and hands every attribute on. Standard library only."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# installed: site-packages/vrft_lmms_hooks.py beside site-packages/tasks/; in a checkout: beside the file
_PATH = next(
    (p for p in (_HERE / "tasks" / "lmms_eval" / "vrft_lmms_hooks.py", _HERE / "vrft_lmms_hooks.py") if p.is_file()),
    _HERE / "vrft_lmms_hooks.py",
)
_SPEC = importlib.util.spec_from_file_location("_vrft_lmms_hooks_impl", _PATH)
if _SPEC is None or _SPEC.loader is None:  # pragma: no cover - only outside an installed wheel
    raise ImportError(f"vrft_lmms_hooks: {_PATH} not found (this module is meant for the installed wheel)")
_IMPL = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_IMPL)


def __getattr__(name: str) -> Any:
    return getattr(_IMPL, name)
