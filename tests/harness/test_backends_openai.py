"""The OpenAI-compatible backend: retries against a scripted local HTTP server, then a real vLLM server."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness.backends import ChatRequest, GenerationParams, make_backend
from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS

FAST = {"backoff_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 10.0}
OK_BODY = {
    "choices": [{"message": {"role": "assistant", "content": "<answer>cat</answer>"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 5},
}


class Scripted:
    """A loopback HTTP server answering POSTs from a script of (status, body) pairs (last one repeats)."""

    def __init__(self, script: list[tuple[int, dict[str, Any]]]) -> None:
        self.script = script
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.bodies.append(body)
                    status, payload = outer.script[min(len(outer.bodies), len(outer.script)) - 1]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[[list[tuple[int, dict[str, Any]]]], Scripted]]:
    servers: list[Scripted] = []

    def start(script: list[tuple[int, dict[str, Any]]]) -> Scripted:
        servers.append(Scripted(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _backend(url: str, **opts: Any) -> Any:
    return make_backend("openai", "tiny", GenerationParams(), base_url=url, **(FAST | opts))


def test_retries_twice_then_answers(scripted: Any, image_dir: Path) -> None:
    server = scripted([(503, {"error": "busy"}), (500, {"error": "oops"}), (200, OK_BODY)])
    backend = _backend(server.url, max_retries=3)
    g = backend.generate([ChatRequest("r", image_dir / "img1.png", "<image>\nWhat is it?", max_new_tokens=7)])[0]
    backend.close()
    assert (g.text, g.error, g.n_prompt_tokens, g.n_completion_tokens) == ("<answer>cat</answer>", None, 11, 5)
    assert len(server.bodies) == 3
    body = server.bodies[-1]
    assert body["max_tokens"] == 7 and body["temperature"] == 0.0 and body["stop"] == ["</answer>"]
    assert body["include_stop_str_in_output"] is True and "mm_processor_kwargs" not in body
    image_item, text_item = body["messages"][0]["content"]
    assert text_item == {"type": "text", "text": "<image>\nWhat is it?"}
    url = image_item["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.mode == "RGB" and sent.width % 28 == 0 and sent.height % 28 == 0  # smart-resized RGBA
    assert [m["role"] for m in body["messages"]] == ["user"]  # no system: the template inserts its own


def test_gives_up_after_last_retry_with_a_clear_error(scripted: Any) -> None:
    server = scripted([(503, {"error": "still busy"})])
    backend = _backend(server.url, max_retries=2)
    g = backend.generate([ChatRequest("r", None, "hi", system="S")])[0]
    assert g.finish_reason == "error" and "after 3 attempts" in (g.error or "") and "503" in (g.error or "")
    assert len(server.bodies) == 3
    assert server.bodies[0]["messages"][0] == {"role": "system", "content": "S"}


def test_client_errors_are_not_retried(scripted: Any) -> None:
    server = scripted([(400, {"error": "bad request"})])
    g = _backend(server.url).generate([ChatRequest("r", None, "hi")])[0]
    assert "HTTP 400" in (g.error or "") and len(server.bodies) == 1


def test_429_is_retried_and_malformed_answers_are_errors(scripted: Any) -> None:
    server = scripted([(429, {}), (200, {"choices": []})])
    g = _backend(server.url).generate([ChatRequest("r", None, "hi")])[0]
    assert "malformed response" in (g.error or "") and len(server.bodies) == 2


def test_connection_refused_is_retried_then_recorded() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    g = _backend(f"http://127.0.0.1:{port}/v1", max_retries=1).generate([ChatRequest("r", None, "hi")])[0]
    assert "after 2 attempts" in (g.error or "") and "ConnectError" in (g.error or "")


def test_bad_image_is_not_sent_and_others_are_concurrent(scripted: Any, image_dir: Path) -> None:
    server = scripted([(200, OK_BODY)])
    backend = _backend(server.url, concurrency=4)
    reqs = [ChatRequest(f"r{i}", image_dir / f"img{i}.png", "t") for i in range(6)]
    reqs.insert(2, ChatRequest("bad", image_dir / "corrupt.png", "t"))
    gens = backend.generate(reqs)
    assert [g.request_id for g in gens] == [r.request_id for r in reqs]
    assert "corrupt.png" in (gens[2].error or "") and all(g.ok for i, g in enumerate(gens) if i != 2)
    assert len(server.bodies) == 6


def test_strict_servers_get_no_vllm_fields_and_stop_is_applied_here(scripted: Any) -> None:
    long = {"choices": [{"message": {"content": "<answer>a</answer> trailing"}, "finish_reason": "length"}]}
    server = scripted([(200, long)])
    g = _backend(server.url, vllm_extras=False).generate([ChatRequest("r", None, "hi")])[0]
    assert (g.text, g.finish_reason) == ("<answer>a</answer>", "stop")
    assert not {"stop", "top_k", "include_stop_str_in_output", "mm_processor_kwargs"} & set(server.bodies[0])


def test_describe_hides_the_api_key_and_mm_kwargs_are_opt_in(scripted: Any) -> None:
    server = scripted([(200, OK_BODY)])
    backend = _backend(server.url, api_key="sk-secret", send_mm_kwargs=True)
    assert "sk-secret" not in json.dumps(backend.describe())
    backend.generate([ChatRequest("r", None, "hi")])
    assert server.bodies[0]["mm_processor_kwargs"] == {"min_pixels": 3136, "max_pixels": 12845056}


@pytest.mark.slow
def test_real_vllm_server_matches_offline_engine(
    vllm_server: str, vllm_backend: Any, tiny_model: Path, det_requests: list[ChatRequest], image_dir: Path
) -> None:
    """Same engine, same pixels, greedy: the served and the offline answers are identical."""
    params = GenerationParams(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
    backend = make_backend("openai", str(tiny_model), params, base_url=vllm_server, concurrency=4)
    reqs = [*det_requests, ChatRequest("corrupt", image_dir / "corrupt.png", "x")]
    try:
        served = backend.generate(reqs)
    finally:
        backend.close()
    assert "corrupt.png" in (served[-1].error or "")
    offline = vllm_backend.generate(det_requests)
    for s, o in zip(served, offline, strict=False):
        assert s.ok, s.error
        assert (s.request_id, s.text, s.n_prompt_tokens) == (o.request_id, o.text, o.n_prompt_tokens)
        assert s.n_completion_tokens == o.n_completion_tokens and s.finish_reason == o.finish_reason
