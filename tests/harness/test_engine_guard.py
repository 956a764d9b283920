"""Engine processes die with `vrft eval`: after ``kill -9`` (the watchdog ends them) and after a normal
close; SIGTERM shuts the backend down cleanly, said once. The watchdog is tested on a stand-in process
tree (fast), then on the real thing: `vrft eval --backend vllm` on the tiny model, killed mid-generation.
SIGTERM goes through the same code for every backend and is tested on the hf one (it starts in seconds)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.backends.engine_guard import EngineGuard, tagged_pids

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guard reads /proc")

SURVIVOR_TIMEOUT_S = 15.0  # the watchdog needs ~0.2 s to notice and GRACE_S (2 s) before SIGKILL


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def wait_gone(procs: list[psutil.Process], timeout_s: float = SURVIVOR_TIMEOUT_S) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while (left := alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill_all(procs: list[psutil.Process]) -> None:
    for p in alive(procs):
        try:
            p.kill()
        except psutil.NoSuchProcess:
            continue


@pytest.fixture
def cleanup() -> Iterator[list[psutil.Process]]:
    """Processes a test started: killed at the end whatever happened (a failing test leaves nothing behind)."""
    procs: list[psutil.Process] = []
    yield procs
    kill_all(procs)


PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from harness.backends.engine_guard import EngineGuard
    guard = EngineGuard.start()
    with guard.tagging():  # an "engine" that starts its own "worker"
        subprocess.Popen([sys.executable, "-c",
            "import subprocess, sys, time; subprocess.Popen(['sleep', '300']); time.sleep(300)"])
    subprocess.Popen(["sleep", "301"])  # started after the engine: not tagged, not the guard's business
    print("ready", flush=True)
    time.sleep(300)
    """
)


def test_kill_9_of_the_parent_ends_the_tagged_processes(cleanup: list[psutil.Process]) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, start_new_session=True)
    cleanup.append(psutil.Process(parent.pid))
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 30
        while len(psutil.Process(parent.pid).children(recursive=True)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        family = psutil.Process(parent.pid).children(recursive=True)
        cleanup.extend(family)
        untagged = [p for p in family if p.cmdline() == ["sleep", "301"]]
        tagged = [p for p in family if p not in untagged]
        assert len(untagged) == 1 and len(tagged) == 3  # watchdog, engine, worker
        parent.kill()  # kill -9
        parent.wait(timeout=10)
        assert wait_gone(tagged) == []
        assert alive(untagged) == untagged
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)


def test_stop_ends_what_a_shutdown_left_behind(cleanup: list[psutil.Process]) -> None:
    guard = EngineGuard.start()
    assert guard is not None
    cleanup.append(psutil.Process(guard.proc.pid))
    with guard.tagging():
        leftover = subprocess.Popen(["sleep", "300"])
    cleanup.append(psutil.Process(leftover.pid))
    assert os.environ.get("VRFT_ENGINE_GUARD") is None  # nothing started later carries the token
    deadline = time.monotonic() + 10  # /proc/PID/environ reads empty until the child's exec is through
    while tagged_pids(guard.token) != [leftover.pid] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert tagged_pids(guard.token) == [leftover.pid]
    guard.stop()
    assert leftover.wait(timeout=SURVIVOR_TIMEOUT_S) == -signal.SIGTERM
    assert guard.proc.poll() is not None


# ---- the real thing: vrft eval on vLLM, killed mid-generation -----------------------------------------------


def vrft_eval(backend: str, model: Path, data_root: Path, run_dir: Path) -> list[str]:
    from harness.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS

    return [
        sys.executable, "-m", "harness.cli", "eval", "--backend", backend, "--model", str(model),
        "--tasks", "fgvc_pets37", "--data-root", str(data_root), "--run-dir", str(run_dir),
        "--batch-size", "1", "--task-arg", "limit=40", "--task-arg", "max_new_tokens=48",
        "--min-pixels", str(TINY_MIN_PIXELS), "--max-pixels", str(TINY_MAX_PIXELS),
    ] + (["--max-model-len", "2048"] if backend == "vllm" else [])  # fmt: skip


def start_and_wait_for_generation(cmd: list[str], out: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600  # engine start-up: ~1-2 min on 2 loaded cores
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 2:
            return proc
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"no generation started (exit {proc.poll()}):\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tasks.synthetic import write_synthetic

    root = tmp_path_factory.mktemp("guard") / "data"
    write_synthetic(root)
    return root


@pytest.mark.slow
def test_sigterm_shuts_the_backend_down_says_so_once_and_keeps_the_lines(
    tiny_model: Path, data_root: Path, tmp_path: Path
) -> None:
    """The same path for every backend (`harness.runner._shut_down`); the hf backend starts in seconds."""
    run = tmp_path / "run"
    log = tmp_path / "term.log"
    proc = start_and_wait_for_generation(vrft_eval("hf", tiny_model, data_root, run), run / "generations.jsonl", log)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert text.count("interrupted: shutting down the hf backend") == 1, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    kept = (run / "generations.jsonl").read_text()
    assert kept.endswith("\n") and all(json.loads(x)["request_id"] for x in kept.splitlines())


@pytest.mark.slow
def test_vllm_engine_processes_do_not_outlive_kill_9_of_vrft_eval(
    tiny_model: Path, data_root: Path, tmp_path: Path, cleanup: list[psutil.Process]
) -> None:
    run = tmp_path / "run"
    cmd = vrft_eval("vllm", tiny_model, data_root, run)
    proc = start_and_wait_for_generation(cmd, run / "generations.jsonl", tmp_path / "kill.log")
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
        cleanup.extend(family)
        names = " ".join(" ".join(p.cmdline()) + p.name() for p in family)
        assert "engine_guard.py" in names and "EngineCore" in names, names  # the watchdog, the engine
        proc.kill()  # kill -9 of the main process, mid-generation
        proc.wait(timeout=30)
        assert wait_gone(family) == [], [p.cmdline() for p in alive(family)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
