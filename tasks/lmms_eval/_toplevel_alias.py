"""Installed by the wheel as the top-level module ``vrft_lmms_hooks`` (pyproject force-include), for task
files copied elsewhere with ``vrft lmms-yaml --out``: loads ``tasks/lmms_eval/vrft_lmms_hooks.py`` of vrft by
file path (``import tasks`` could find a decoy package) and hands every attribute on. The top-level
``vrft_lmms_model`` (`harness._lmms_model_alias`) goes through it too. Standard library only.

Where vrft is: beside this file in site-packages (a wheel); in the checkout an editable install names (its
``direct_url.json``: the copy in site-packages has no ``tasks/`` beside it); or two levels up when this file
is loaded from the checkout itself.
"""

from __future__ import annotations

import importlib.util
import json
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

_IMPL_REL = Path("tasks") / "lmms_eval" / "vrft_lmms_hooks.py"


def _editable_checkout() -> Path | None:
    """The source folder of an editable install of vrft (``direct_url.json``), if that is what is installed."""
    try:
        info = json.loads(distribution("vrft").read_text("direct_url.json") or "{}")
    except (PackageNotFoundError, ValueError):
        return None
    url = info.get("url", "") if isinstance(info, dict) else ""
    if not (info.get("dir_info") or {}).get("editable") or not url.startswith("file://"):
        return None
    return Path(unquote(urlsplit(url).path))


def vrft_checkout(here: Path | None = None) -> Path:
    """The folder holding vrft's ``tasks`` package, seen from this file (module docstring)."""
    here = (here or Path(__file__)).resolve().parent
    for root in (here, here.parents[1], _editable_checkout()):
        if root is not None and (root / _IMPL_REL).is_file():
            return root
    raise ImportError(f"vrft_lmms_hooks: no {_IMPL_REL} beside {here} nor in an editable install of vrft")


_PATH = vrft_checkout() / _IMPL_REL
_SPEC = importlib.util.spec_from_file_location("_vrft_lmms_hooks_impl", _PATH)
if _SPEC is None or _SPEC.loader is None:  # pragma: no cover - a file path always gives a spec
    raise ImportError(f"vrft_lmms_hooks: cannot load {_PATH}")
_IMPL = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_IMPL)


def __getattr__(name: str) -> Any:
    return getattr(_IMPL, name)
