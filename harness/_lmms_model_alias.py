"""Installed by the wheel as the top-level module ``vrft_lmms_model`` (pyproject force-include): the
``lmms_eval.models`` entry point of ``--model vrft``.

Why not ``harness.lmms_model:manifest`` directly: lmms-eval loads every model entry point when it starts, and
``python -m lmms_eval`` puts the working directory first on ``sys.path``; run from a folder that holds its own
``harness/`` package (the project's folder names are fixed, and common in research code), ``import
harness.lmms_model`` finds *that* package, the entry point fails (lmms-eval only logs a warning) and
``--model vrft`` is "not found". So this module first pins the top-level names ``tasks`` and ``harness`` to
vrft's own packages (`vrft_lmms_hooks.pin`, found through the ``vrft_lmms_hooks`` alias beside it, which never
goes through ``sys.path`` for vrft), then imports `harness.lmms_model` and hands every attribute on. The
manifest's class path ``harness.lmms_model.VrftModel`` then resolves to vrft's, since ``harness`` is pinned.
Standard library only.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOOKS = importlib.import_module("vrft_lmms_hooks")  # the top-level alias (tasks/lmms_eval/_toplevel_alias.py)
_ROOT = _HOOKS.vrft_root()
if _ROOT is None:  # pragma: no cover - the alias found the file, so the folder above it holds `tasks`
    raise ImportError(f"vrft_lmms_model: vrft's packages not found from {_HOOKS.__file__}")
_HOOKS.pin(_ROOT, ("tasks", "harness"))
_MODEL = importlib.import_module("harness.lmms_model")
manifest = _MODEL.manifest


def __getattr__(name: str) -> Any:
    return getattr(_MODEL, name)
