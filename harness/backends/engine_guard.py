"""Engine processes die with the process that started them, however it ends.

vLLM's offline engine runs in child processes (``VLLM::EngineCore``, which starts ``VLLM::Worker``s). The
workers follow the engine core, but the core does not follow its parent: after ``kill -9`` of ``vrft eval``
it lives on, re-parented to PID 1, holding gigabytes of memory (and on a GPU the device, which blocks the
resume). So a backend that starts engine processes starts a guard first:

* `EngineGuard.start` launches a small watchdog process (this file run as a script; it needs nothing but
  the standard library) that watches this process;
* `EngineGuard.tagging` marks every process started inside the block (the engine and, through
  inheritance, its workers) with a random token in its environment (``VRFT_ENGINE_GUARD``); the token
  is removed from this process's environment when the block ends, so nothing started later carries it;
* when this process dies (any signal, ``kill -9`` included) the watchdog sees it within a fraction of a
  second and ends every process that carries the token: SIGTERM, then SIGKILL after `GRACE_S`. When the
  backend closes normally, `EngineGuard.stop` asks the watchdog to do the same sweep (for anything a
  clean shutdown left behind) and waits for it.

Linux only (the token is read from ``/proc/<pid>/environ``, which holds the environment a process was
started with); elsewhere `EngineGuard.start` returns None and nothing is guarded. Only processes of the
same user carrying this exact token are ever signalled.
"""

from __future__ import annotations

import logging
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "VRFT_ENGINE_GUARD"
GRACE_S = 2.0  # SIGTERM -> SIGKILL
POLL_S = 0.2  # how often the watchdog checks that its parent is alive
STOP = b"stop\n"


def tagged_pids(token: str, exclude: tuple[int, ...] = ()) -> list[int]:
    """Processes whose start-up environment holds ``VRFT_ENGINE_GUARD=<token>`` (unreadable ones skipped)."""
    needle = f"{ENV}={token}".encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        with suppress(OSError):  # gone, or not ours
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def sweep(token: str, grace_s: float = GRACE_S) -> int:
    """End every process carrying `token` (this one excluded): SIGTERM, then SIGKILL whatever is left after
    `grace_s`. Returns how many processes were signalled."""
    me = (os.getpid(),)
    pids = tagged_pids(token, me)
    if not pids:
        return 0
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        alive = [p for p in tagged_pids(token, me) if p in pids and not _is_zombie(p)]
        if not alive:
            return len(pids)
        time.sleep(0.05)
    _signal_all(tagged_pids(token, me), signal.SIGKILL)
    time.sleep(0.1)  # a process caught mid-exec shows its environment only once the exec is through
    _signal_all(tagged_pids(token, me), signal.SIGKILL)
    return len(pids)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


class EngineGuard:
    """A running watchdog and the token it sweeps for (see the module docstring)."""

    def __init__(self, token: str, proc: subprocess.Popen[bytes]) -> None:
        self.token, self.proc = token, proc

    @classmethod
    def start(cls) -> EngineGuard | None:
        """Launch the watchdog of this process; None where it cannot work (not Linux, or it fails to start)."""
        if not sys.platform.startswith("linux") or not Path("/proc/self/environ").exists():
            return None
        token = f"{os.getpid()}-{secrets.token_hex(8)}"
        env = {k: v for k, v in os.environ.items() if k != ENV}  # the watchdog itself carries no token
        try:
            # this file run as a script: the watchdog imports only the standard library, so a `harness`
            # package in the working directory (or none installed) cannot break it
            script = f"import runpy; runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__main__')"
            proc = subprocess.Popen(
                [sys.executable, "-c", script, token, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                env=env,
                cwd="/",
                close_fds=True,
            )
        except OSError as err:
            log.warning("engine processes are not guarded (the watchdog did not start: %s)", err)
            return None
        return cls(token, proc)

    @contextmanager
    def tagging(self) -> Iterator[None]:
        """Processes started inside the block carry the token (and pass it to theirs)."""
        saved = os.environ.get(ENV)
        os.environ[ENV] = self.token
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop(ENV, None)
            else:
                os.environ[ENV] = saved

    def stop(self, timeout_s: float = GRACE_S + 8.0) -> None:
        """Sweep what the engine's own shutdown left behind, then end the watchdog (idempotent)."""
        if self.proc.poll() is None:
            with suppress(OSError, ValueError):  # the watchdog may be gone already
                assert self.proc.stdin is not None
                self.proc.stdin.write(STOP)
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if tagged_pids(self.token):  # the watchdog was gone: sweep from here
            sweep(self.token)


def watch(token: str, parent: int) -> int:
    """The watchdog's loop: sweep when `parent` dies or asks for it (a line on stdin, or stdin closed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent handles it
    while os.getppid() == parent:
        ready, _, _ = select.select([sys.stdin.buffer], [], [], POLL_S)
        if ready:
            os.read(sys.stdin.buffer.fileno(), 64)  # STOP, or b"" when the parent closed the pipe / died
            break
    sweep(token)
    return 0


if __name__ == "__main__":
    sys.exit(watch(sys.argv[1], int(sys.argv[2])))
