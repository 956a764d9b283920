"""Backend for any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, SGLang, a hosted API).

Why a server backend at all: a served model can be data-parallel across machines, outlives one run,
and lets `vrft eval` score models we cannot load in-process. Images are loaded and smart-resized here
(same pixels as the in-process backends) and sent as base64 PNG data URLs.

Robustness: requests run on a bounded thread pool; connection errors, timeouts, 429 and 5xx are
retried with exponential back-off; after the last attempt the request gets a Generation whose
`error` says what happened (other 4xx are not retried: they will not get better).

`vllm_extras` (default on) sends vLLM's extra sampling fields (top_k, include_stop_str_in_output,
skip_special_tokens). Turn it off for strict servers that reject unknown fields: stop strings are
then applied client-side (the server generates on to EOS/max_tokens and the text is cut here).

Image policy: images are smart-resized here, so the server's own resize is the identity only if its
processor allows our size (server min_pixels <= ours, max_pixels >= ours). vLLM refuses per-request
`mm_processor_kwargs` (HTTP 400) unless started with ``--trust-request-mm-kwargs``; so either start
it with ``--mm-processor-kwargs '{"min_pixels": ..., "max_pixels": ...}'`` equal to the params, or
start it trusting requests and pass `send_mm_kwargs=True`.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.backends.base import (
    ChatRequest,
    Generation,
    GenerationParams,
    check_unique_ids,
    load_request_image,
    request_seed,
    truncate_at_stop,
)
from harness.backends.images import ImageLoadError
from harness.provenance import model_fingerprint, package_versions
from tasks.chat import OPENAI, chat_messages

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class RequestFailed(RuntimeError):
    """A request that failed for good (after retries, or with a non-retryable status)."""


def png_data_url(image: Any) -> str:
    """A PIL image as a base64 PNG data URL (lossless, so the server sees our exact pixels)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class OpenAIBackend:
    """Options: base_url (``http://127.0.0.1:8000/v1``), api_key (default: $OPENAI_API_KEY),
    concurrency (8), timeout_s (600), max_retries (4), backoff_s (1.0, doubled per retry, capped at
    backoff_max_s=30), vllm_extras (True), send_mm_kwargs (False)."""

    name = "openai"

    def __init__(
        self,
        model: str | Path,
        params: GenerationParams,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 600.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        vllm_extras: bool = True,
        send_mm_kwargs: bool = False,
    ) -> None:
        import httpx

        if concurrency < 1 or max_retries < 0 or timeout_s <= 0 or backoff_s < 0:
            raise ValueError(
                f"OpenAIBackend: need concurrency >= 1 (got {concurrency}), max_retries >= 0 "
                f"(got {max_retries}), timeout_s > 0 (got {timeout_s}), backoff_s >= 0 (got {backoff_s})"
            )
        self.model = str(model)
        self.params = params
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.vllm_extras = vllm_extras
        self.send_mm_kwargs = send_mm_kwargs
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client: Any = httpx.Client(
            timeout=timeout_s, headers=headers, limits=httpx.Limits(max_connections=concurrency)
        )

    def _body(self, req: ChatRequest, image: Any) -> dict[str, Any]:
        p = self.params
        messages = chat_messages(req.text, req.system, None if image is None else png_data_url(image), OPENAI)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": req.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "seed": request_seed(p.seed, req.request_id),
        }
        if self.vllm_extras:
            body.update(
                stop=list(p.stop),
                include_stop_str_in_output=True,
                skip_special_tokens=True,
            )
            if p.top_k > 0:
                body["top_k"] = p.top_k
        if self.send_mm_kwargs:
            body["mm_processor_kwargs"] = {"min_pixels": p.min_pixels, "max_pixels": p.max_pixels}
        return body

    def _post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """POST with retries; returns the decoded JSON or raises RequestFailed."""
        import httpx

        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))
                log.info("retry %d/%d for %s in %.1fs (%s)", attempt, self.max_retries, request_id, delay, last)
                time.sleep(delay)
            try:
                resp = self._client.post(url, json=body)
            except httpx.TransportError as exc:  # connect/read errors and timeouts
                last = f"{type(exc).__name__}: {exc}"
                continue
            if resp.status_code == 200:
                data: dict[str, Any] = resp.json()
                return data
            last = f"HTTP {resp.status_code}: {resp.text[:300]}"
            if resp.status_code not in RETRY_STATUS:
                raise RequestFailed(f"{url} answered {last}")
        raise RequestFailed(f"{url} failed after {self.max_retries + 1} attempts; last error: {last}")

    def _one(self, req: ChatRequest) -> Generation:
        try:
            body = self._body(req, load_request_image(req, self.params))
            data = self._post(body, req.request_id)
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            usage = data.get("usage") or {}
        except ImageLoadError as exc:
            return Generation.failed(req.request_id, str(exc))
        except RequestFailed as exc:
            return Generation.failed(req.request_id, f"openai: {exc}")
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            return Generation.failed(req.request_id, f"openai: malformed response: {type(exc).__name__}: {exc}")
        finish = str(choice.get("finish_reason") or "stop")
        if not self.vllm_extras:
            text, stopped = truncate_at_stop(text, self.params.stop)
            finish = "stop" if stopped else finish
        return Generation(
            request_id=req.request_id,
            text=text,
            n_prompt_tokens=int(usage.get("prompt_tokens") or 0),
            n_completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=finish,
        )

    def generate(self, requests: Sequence[ChatRequest]) -> list[Generation]:
        check_unique_ids(requests)
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
            return list(pool.map(self._one, requests))

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "fingerprint": model_fingerprint(self.model),
            "base_url": self.base_url,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
            "vllm_extras": self.vllm_extras,
            "send_mm_kwargs": self.send_mm_kwargs,
            "params": self.params.as_dict(),
            "versions": package_versions("httpx"),
        }

    def close(self) -> None:
        self._client.close()
