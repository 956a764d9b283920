"""transformers `generate` backend: the reference implementation the official scripts use.

Slow but simple and exact: it is the parity reference for the vLLM backend, runs where vLLM does not,
and `per_sample=True` reproduces the official `*_infere.py` loop (one image at a time, batch size 1)
for the benchmark. Batches are padded on the LEFT (decoder-only; right padding misaligns the image
tokens), the prompt is trimmed from the output and special tokens are skipped when decoding
(PROTOCOL.md §1.4); `use_cache=True` is passed explicitly because fine-tuned checkpoints may carry
``use_cache: null`` in their config (D32).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import (
    ChatRequest,
    Generation,
    GenerationParams,
    check_unique_ids,
    load_request_image,
    truncate_at_stop,
)
from harness.backends.images import ImageLoadError
from harness.provenance import model_fingerprint, package_versions
from tasks.chat import HF, chat_messages

log = logging.getLogger(__name__)


HF_MODEL_ARGS = frozenset(
    {"dtype", "attn_implementation", "revision", "trust_remote_code", "local_files_only", "low_cpu_mem_usage"}
)
"""``--model-arg`` keys the hf backend passes to ``from_pretrained`` (dtype: a torch dtype name)."""


class HFBackend:
    """Options: batch_size (default 8), per_sample (batch size 1), device ("cuda" when available,
    else "cpu"), dtype ("float32" on CPU, "bfloat16" on CUDA), attn_implementation."""

    name = "hf"

    def __init__(
        self,
        model: str | Path,
        params: GenerationParams,
        *,
        batch_size: int = 8,
        per_sample: bool = False,
        device: str | None = None,
        dtype: str | None = None,
        attn_implementation: str | None = None,
        model_args: Mapping[str, Any] | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        model_args = dict(model_args or {})
        unknown = sorted(set(model_args) - HF_MODEL_ARGS)
        if unknown:
            raise ValueError(
                f"hf backend: --model-arg {', '.join(unknown)}: not accepted; the hf backend takes "
                f"{', '.join(sorted(HF_MODEL_ARGS))}"
            )
        if "revision" in model_args:  # --model-arg revision=1234 is typed as a number
            model_args["revision"] = str(model_args["revision"])
        dtype = model_args.pop("dtype", dtype)
        attn_implementation = model_args.pop("attn_implementation", attn_implementation)
        self.model_args = dict(model_args)
        if batch_size < 1:
            raise ValueError(f"HFBackend batch_size={batch_size}: must be >= 1")
        self.model_path = str(model)
        self.params = params
        self.batch_size = 1 if per_sample else batch_size
        self.per_sample = per_sample
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = dtype or ("bfloat16" if self.device.startswith("cuda") else "float32")
        shared = {k: model_args[k] for k in ("revision", "trust_remote_code", "local_files_only") if k in model_args}
        self.processor: Any = AutoProcessor.from_pretrained(self.model_path, **shared)
        self.processor.tokenizer.padding_side = "left"
        kwargs: dict[str, Any] = {**model_args, "dtype": getattr(torch, self.dtype)}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        self.attn_implementation = attn_implementation
        loaded: Any = AutoModelForImageTextToText.from_pretrained(self.model_path, **kwargs)
        self.model: Any = loaded.to(self.device).eval()
        tok = self.processor.tokenizer
        eos = self.model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else [tok.eos_token_id]
        self.eos_ids = {int(i) for i in eos_ids if i is not None}
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else next(iter(self.eos_ids)))

    def _prompt(self, req: ChatRequest) -> str:
        messages = chat_messages(req.text, req.system, req.image_path, HF)
        prompt: str = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return prompt

    def _generate_chunk(self, reqs: Sequence[ChatRequest], images: Sequence[Any]) -> list[Generation]:
        import torch

        p = self.params
        texts = [self._prompt(r) for r in reqs]
        present = [im for im in images if im is not None]
        size = {"shortest_edge": p.min_pixels, "longest_edge": p.max_pixels}
        inputs = self.processor(
            text=texts,
            images=present or None,
            padding=True,
            return_tensors="pt",
            images_kwargs={"size": size},
        ).to(self.device)
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": max(r.max_new_tokens for r in reqs),
            "use_cache": True,
            "pad_token_id": self.pad_id,
            "stop_strings": list(p.stop) or None,
            "tokenizer": self.processor.tokenizer,
            "do_sample": not p.greedy,
        }
        if p.greedy:  # neutralise sampling fields a checkpoint's generation_config may carry
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            gen_kwargs.update(temperature=p.temperature, top_p=p.top_p, top_k=p.top_k if p.top_k > 0 else None)
            torch.manual_seed(p.seed)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **gen_kwargs)
        n_prompt = int(inputs["input_ids"].shape[1])
        prompt_lens = inputs["attention_mask"].sum(dim=1).tolist()
        results = []
        for i, req in enumerate(reqs):
            ids = out[i, n_prompt:].tolist()[: req.max_new_tokens]
            n_done, hit_eos = len(ids), False
            for j, t in enumerate(ids):
                if t in self.eos_ids:  # EOS counted like vLLM; pad after a stop string is not
                    n_done, hit_eos = (j if t == self.pad_id else j + 1), True
                    break
            text = self.processor.tokenizer.decode(ids[:n_done], skip_special_tokens=True)
            text, hit_stop = truncate_at_stop(text, p.stop)
            results.append(
                Generation(
                    request_id=req.request_id,
                    text=text,
                    n_prompt_tokens=int(prompt_lens[i]),
                    n_completion_tokens=n_done,
                    finish_reason="stop" if (hit_eos or hit_stop) else "length",
                )
            )
        return results

    def generate(self, requests: Sequence[ChatRequest]) -> list[Generation]:
        """Chunks of `batch_size` requests; a failing chunk is retried one request at a time so that
        only the culprit gets an error Generation."""
        check_unique_ids(requests)
        by_id: dict[str, Generation] = {}
        ready: list[tuple[ChatRequest, Any]] = []
        for req in requests:
            try:
                ready.append((req, load_request_image(req, self.params)))
            except ImageLoadError as exc:
                by_id[req.request_id] = Generation.failed(req.request_id, str(exc))
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start : start + self.batch_size]
            try:
                gens = self._generate_chunk([r for r, _ in chunk], [im for _, im in chunk])
            except Exception as exc:
                if len(chunk) == 1:
                    gens = [Generation.failed(chunk[0][0].request_id, f"hf: {type(exc).__name__}: {exc}")]
                else:
                    log.warning("hf generate failed on a chunk of %d (%s); retrying one by one", len(chunk), exc)
                    gens = []
                    for req, im in chunk:
                        try:
                            gens.extend(self._generate_chunk([req], [im]))
                        except Exception as one:
                            gens.append(Generation.failed(req.request_id, f"hf: {type(one).__name__}: {one}"))
            by_id.update((g.request_id, g) for g in gens)
        return [by_id[r.request_id] for r in requests]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model_path,
            "fingerprint": model_fingerprint(self.model_path),
            "device": self.device,
            "dtype": self.dtype,
            "attn_implementation": self.attn_implementation,
            "model_args": dict(self.model_args),
            "batch_size": self.batch_size,
            "per_sample": self.per_sample,
            "params": self.params.as_dict(),
            "versions": package_versions("torch", "transformers"),
        }

    def close(self) -> None:
        """Drop the model and free accelerator memory (idempotent)."""
        if getattr(self, "model", None) is None:
            return
        self.model = None
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
