"""The one small protocol between the runner and a model: requests in, generations out.

A backend turns a batch of `ChatRequest`s into `Generation`s, one per request, keyed by
`request_id`. Batching, caching and persistence are the caller's job, so a backend stays a thin
adapter over one engine. Per-request failures (an unreadable image, a server that keeps failing)
are *values* (`Generation.error`), never exceptions: one bad sample must not kill a 5,000-image run.

Pure Python: importing this module (or `harness.backends`) imports no torch, vllm, transformers or
httpx; each backend imports its engine in its constructor.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.backends.images import MAX_PIXELS, MIN_PIXELS, fetch_image

DEFAULT_STOP: tuple[str, ...] = ("</answer>",)


@dataclass(frozen=True)
class ChatRequest:
    """One single-turn chat: [system], user = [image] + text, then the assistant generation prompt.

    `text` follows the image directly in the same user turn (the official eval text starts with the
    literal ``<image>\\n``, PROTOCOL.md §2.6; the task decides). `system=None` lets the chat template
    insert its default system turn, which is what the paper's detection/classification eval does.
    """

    request_id: str
    image_path: Path | None
    text: str
    system: str | None = None
    max_new_tokens: int = 1024

    def __post_init__(self) -> None:
        if not self.request_id:
            raise ValueError("ChatRequest.request_id: must be a non-empty string")
        if self.max_new_tokens < 1:
            raise ValueError(f"ChatRequest.max_new_tokens={self.max_new_tokens} for {self.request_id!r}: must be >= 1")
        if self.image_path is not None and not isinstance(self.image_path, Path):
            object.__setattr__(self, "image_path", Path(self.image_path))


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings and image policy shared by every backend (PROTOCOL.md §1.2, §1.4).

    temperature 0 means greedy. `stop` strings end the generation and are *kept* in the text, so
    that ``</answer>`` closes the answer the parser looks for. min/max_pixels is the smart_resize
    policy applied when images are loaded; the defaults are the official evaluation's.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = -1  # -1 = disabled (vLLM convention)
    seed: int = 0
    stop: tuple[str, ...] = DEFAULT_STOP
    min_pixels: int = MIN_PIXELS
    max_pixels: int = MAX_PIXELS

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"GenerationParams.temperature={self.temperature}: must be >= 0 (0 = greedy)")
        if not (0 < self.top_p <= 1):
            raise ValueError(f"GenerationParams.top_p={self.top_p}: must be in (0, 1]")
        if self.top_k != -1 and self.top_k < 1:
            raise ValueError(f"GenerationParams.top_k={self.top_k}: must be -1 (off) or >= 1")
        if isinstance(self.stop, str) or not all(isinstance(s, str) and s for s in self.stop):
            raise ValueError(f"GenerationParams.stop={self.stop!r}: must be a tuple of non-empty strings")
        object.__setattr__(self, "stop", tuple(self.stop))
        if not (0 < self.min_pixels <= self.max_pixels):
            raise ValueError(
                f"GenerationParams.min_pixels={self.min_pixels}, max_pixels={self.max_pixels}: "
                "need 0 < min_pixels <= max_pixels"
            )

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class Generation:
    """The result for one request. `error` is set (and `text` empty) when it could not be generated.

    finish_reason: ``stop`` (EOS or a stop string), ``length`` (max_new_tokens reached), ``error``.
    """

    request_id: str
    text: str
    n_prompt_tokens: int = 0
    n_completion_tokens: int = 0
    finish_reason: str = "stop"
    error: str | None = None

    @classmethod
    def failed(cls, request_id: str, error: str) -> Generation:
        return cls(request_id=request_id, text="", finish_reason="error", error=error)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    """What the runner needs from a model. `generate` returns one Generation per request, same order."""

    name: str

    def generate(self, requests: Sequence[ChatRequest]) -> list[Generation]: ...

    def close(self) -> None: ...

    def describe(self) -> dict[str, Any]: ...


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut `text` right after the earliest stop string (kept). Returns (text, stopped)."""
    cut = min(((i + len(s)) for s in stop if (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def load_request_image(req: ChatRequest, params: GenerationParams) -> Any:
    """The request's image resized by the params' pixel policy (None when the request has none)."""
    if req.image_path is None:
        return None
    return fetch_image(req.image_path, params.min_pixels, params.max_pixels)


def request_seed(seed: int, request_id: str) -> int:
    """A per-request sampling seed, so a sampled completion does not depend on batch composition."""
    digest = hashlib.sha256(f"{seed}\0{request_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def check_unique_ids(requests: Sequence[ChatRequest]) -> None:
    """Results are keyed by request_id, so a batch with duplicates is a caller bug."""
    seen: set[str] = set()
    for r in requests:
        if r.request_id in seen:
            raise ValueError(f"duplicate request_id {r.request_id!r} in one batch")
        seen.add(r.request_id)
