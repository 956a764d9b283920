"""vrft's backends as an lmms-eval 0.7.3 model (``--model vrft``) for the ``vrft_*`` tasks.

Why: lmms-eval's built-in models render a vrft request their own way (one system prompt for every task,
their own image resize, stop strings dropped from the text). This model sends each vrft document through
the same backend code as ``vrft eval``: the task's own system turn (or the template default), the
official image policy (RGBA on white, smart_resize with min/max_pixels), generation stopped at
``</answer>`` *kept* in the text, and each request's own ``max_new_tokens`` (capped by lmms-eval's
``--gen_kwargs max_new_tokens=N`` when given). So ``lmms-eval --model vrft`` generates what
``vrft eval`` generates and scores it with the same code.

Registered through the ``lmms_eval.models`` entry point ``vrft = "vrft_lmms_model:manifest"``, a top-level
module that pins ``harness`` to this package before importing it (`harness._lmms_model_alias`: a ``harness/``
in the working directory would win otherwise)::

    lmms-eval --model vrft --model_args pretrained=CKPT,backend=vllm --tasks vrft_coco_fewshot \
        --include_path tasks/lmms_eval --log_samples --output_path logs

model_args: ``pretrained`` (or ``model``: a local checkpoint, a served model name for ``backend=openai``),
``backend`` (``vllm`` default, ``hf``, ``openai``), sampling ``temperature top_p top_k seed``, ``stop``
(``|``-separated, default ``</answer>``), ``min_pixels max_pixels``; anything else goes to the backend
(e.g. ``max_model_len=4096`` for vllm, ``dtype=float32`` for hf, ``base_url=...`` for openai). Only
documents of the vrft task files are accepted. This module imports lmms_eval (it is the plugin).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmms_eval.api.instance import GenerationResult, Instance, TokenCounts
from lmms_eval.api.model import lmms
from lmms_eval.models.registry_v2 import ModelManifest

from harness.backends import ChatRequest, GenerationParams, make_backend
from harness.backends.base import DEFAULT_STOP

log = logging.getLogger("vrft.lmms_model")

VRFT_DOC_KEYS = frozenset({"request_id", "image_path", "text", "system", "max_new_tokens", "vrft"})
_SAMPLING = ("temperature", "top_p", "top_k", "seed")


def manifest() -> ModelManifest:
    """The entry-point payload: model id ``vrft`` (a chat model: it reads whole documents)."""
    return ModelManifest(model_id="vrft", chat_class_path="harness.lmms_model.VrftModel")


class VrftModel(lmms):
    """An lmms-eval model backed by `harness.backends` (see the module docstring)."""

    is_simple = False

    def __init__(
        self,
        pretrained: str | None = None,
        model: str | None = None,
        backend: str = "vllm",
        stop: str | None = None,
        batch_size: int | str | None = None,
        max_batch_size: int | None = None,
        device: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        path = pretrained or model
        if not path:
            raise ValueError("vrft model: give pretrained=CHECKPOINT (or model=NAME) in --model_args")
        sampling = {k: options.pop(k) for k in (*_SAMPLING, "min_pixels", "max_pixels") if k in options}
        stops = DEFAULT_STOP if stop is None else tuple(s for s in str(stop).split("|") if s)
        self.params = GenerationParams(stop=stops, **sampling)
        if backend == "hf":
            if batch_size not in (None, "auto"):
                options.setdefault("batch_size", int(batch_size))
            if device is not None:
                options.setdefault("device", device)
        self.backend_name = backend
        self.backend = make_backend(backend, str(path), self.params, **options)
        self._warned: set[str] = set()

    # ---- lmms-eval interface ----------------------------------------------------------------------

    def generate_until(self, requests: list[Instance]) -> list[GenerationResult]:
        chats = [self._chat_request(i, req) for i, req in enumerate(requests)]
        generations = self.backend.generate(chats)
        out = []
        for chat, gen in zip(chats, generations, strict=True):
            if gen.error is not None:
                log.warning("vrft model: %s failed (%s); scored as an empty answer", chat.request_id, gen.error)
            counts = TokenCounts(input_tokens=gen.n_prompt_tokens or None, output_tokens=gen.n_completion_tokens)
            out.append(GenerationResult(text=gen.text, token_counts=counts))
        return out

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError("vrft model: generation tasks only (the vrft_* task files)")

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        raise NotImplementedError("vrft model: single-turn generation only (the vrft_* task files)")

    # ---- documents -> ChatRequests ----------------------------------------------------------------

    def _chat_request(self, index: int, req: Instance) -> ChatRequest:
        _ctx, _messages, gen_kwargs, doc_id, task, split = req.args
        doc: Mapping[str, Any] = self.task_dict[task][split][doc_id]
        if not VRFT_DOC_KEYS.issubset(doc.keys()):
            raise ValueError(
                f"vrft model: task {task!r} is not a vrft task file (documents need {sorted(VRFT_DOC_KEYS)}); "
                "use it with --include_path tasks/lmms_eval --tasks vrft_..."
            )
        self._check_sampling(gen_kwargs or {})
        cap = (gen_kwargs or {}).get("max_new_tokens")
        max_new = int(doc["max_new_tokens"]) if cap is None else min(int(doc["max_new_tokens"]), int(cap))
        return ChatRequest(
            # unique within one generate_until call, which may mix tasks
            request_id=f"{task}/{index}/{doc['request_id']}",
            image_path=Path(doc["image_path"]),
            text=doc["text"],
            system=doc["system"],
            max_new_tokens=max_new,
        )

    def _check_sampling(self, gen_kwargs: Mapping[str, Any]) -> None:
        for key in _SAMPLING:
            value = gen_kwargs.get(key)
            if value is None or key in self._warned or float(value) == float(getattr(self.params, key)):
                continue
            self._warned.add(key)
            log.warning(
                "vrft model: %s=%s from the task/--gen_kwargs is ignored: sampling settings come from --model_args "
                "(%s=%s)",
                key,
                value,
                key,
                getattr(self.params, key),
            )

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = self.backend.describe()
        return described

    def close(self) -> None:
        self.backend.close()
