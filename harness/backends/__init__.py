"""Model backends behind one protocol: vllm (offline engine), hf (transformers), openai (any
OpenAI-compatible server) and replay (saved generations).

Importing this package is cheap: the engines (torch, vllm, transformers, httpx) are imported only when
`make_backend` constructs a backend, so `vrft score` and the task code never pay for them.
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.backends.base import (
    Backend,
    ChatRequest,
    Generation,
    GenerationParams,
)
from harness.backends.images import ImageLoadError, fetch_image, load_image, smart_resize

# name -> (module, class); resolved lazily so that unused engines are never imported.
BACKENDS: dict[str, tuple[str, str]] = {
    "vllm": ("harness.backends.vllm_backend", "VLLMBackend"),
    "hf": ("harness.backends.hf_backend", "HFBackend"),
    "openai": ("harness.backends.openai_backend", "OpenAIBackend"),
    "replay": ("harness.backends.replay", "ReplayBackend"),
}


def make_backend(name: str, model: str, params: GenerationParams | None = None, **opts: Any) -> Backend:
    """Construct backend `name` for `model` (a local directory, a served model name, or for `replay`
    a generations JSONL file). `opts` are the backend's own keyword options (see each class)."""
    try:
        module_name, class_name = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}: expected one of {sorted(BACKENDS)}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    backend: Backend = cls(model, params or GenerationParams(), **opts)
    return backend


__all__ = [
    "BACKENDS",
    "Backend",
    "ChatRequest",
    "Generation",
    "GenerationParams",
    "ImageLoadError",
    "fetch_image",
    "load_image",
    "make_backend",
    "smart_resize",
]
