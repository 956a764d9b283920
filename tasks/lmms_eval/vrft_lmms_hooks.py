"""The name the vrft lmms-eval task files give their hooks (``!function vrft_lmms_hooks.<name>``).

Why not ``!function tasks.lmms_eval.hooks.<name>``: ``python -m lmms_eval`` puts the working directory
first on ``sys.path``, so run from a folder that holds its own ``tasks/`` package (common in research
code) ``import tasks`` finds *that* package and every hook fails. The folder names are fixed, so the
task files name this module instead, which

1. makes the top-level name ``tasks`` mean vrft's own package (the one beside this file) before anything
   imports it, and refuses clearly when a different ``tasks`` package is already imported;
2. hands every attribute on to `tasks.lmms_eval.hooks` (module ``__getattr__``, imported on first use), so
   the hooks stay the same objects `tasks.lmms_eval.hooks` makes (they pickle by their own module and name).

The lmms-eval model entry point has the same problem with ``harness`` (``--model vrft`` imports
``harness.lmms_model``): the top-level ``vrft_lmms_model`` (`harness._lmms_model_alias`) calls `pin` here
for ``tasks`` and ``harness`` before it imports anything of vrft.

lmms-eval 0.7.3 loads a ``!function a.b`` first as the file ``a.py`` beside the YAML file, then by
``import a``. This file sits beside the task files (``--include_path`` of a checkout or of an installed
vrft); the wheel also installs it as the top-level module ``vrft_lmms_hooks``, for task files copied
elsewhere with ``vrft lmms-yaml --out``. Standard library only, and cheap: lmms-eval executes it once
per ``!function`` tag.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

PINNED = ("tasks",)
"""Top-level packages of vrft that the hooks import (never harness or train_plugin: tasks imports neither);
the model entry point pins ``harness`` too."""


def vrft_root(here: Path | None = None) -> Path | None:
    """The folder that holds vrft's ``tasks`` package, seen from this file: two levels up in a checkout or
    an installed ``tasks/lmms_eval/``, or the same folder for the top-level copy in site-packages."""
    here = (here or Path(__file__)).resolve()
    for root in (here.parents[2], here.parent):
        if (root / "tasks" / "lmms_eval" / "hooks.py").is_file():
            return root
    return None


def pin(root: Path, names: tuple[str, ...] = PINNED) -> None:
    """Make each top-level name in `names` import vrft's package under `root`, whatever ``sys.path`` says."""
    for name in names:
        init = (root / name / "__init__.py").resolve()
        loaded = sys.modules.get(name)
        if loaded is not None:
            where = getattr(loaded, "__file__", None)
            if where is not None and Path(where).resolve() == init:
                continue
            raise ImportError(
                f"vrft_lmms_hooks: a different top-level package {name!r} is already imported "
                f"({where or 'namespace package'}); the vrft lmms-eval hooks need vrft's own {init}. "
                f"Run lmms-eval from a folder without a {name}/ package, or do not import it first."
            )
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
        if spec is None or spec.loader is None:  # pragma: no cover - a file path always gives a spec
            raise ImportError(f"vrft_lmms_hooks: cannot load {init}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise


_ROOT = vrft_root()
if _ROOT is not None:
    pin(_ROOT)


@functools.cache
def _hooks() -> ModuleType:
    # imported on the first hook asked for, so that `vrft_lmms_model` can load this file just for `pin`
    return importlib.import_module("tasks.lmms_eval.hooks")


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # module protocol lookups (pickle, inspect) never import the hooks
        raise AttributeError(name)
    return getattr(_hooks(), name)
