"""The demo's memory as a user's machine feels it: the peak, over time, of the summed PSS of the demo's processes.

Why not ``ru_maxrss``: with tasks in parallel worker processes, the per-process peaks neither add up (they
happen at different times) nor stand alone (torch's shared libraries are counted in full by every process's
RSS). PSS (proportional set size, Linux ``/proc/PID/smaps_rollup``) splits each shared page between the
processes mapping it, so the sum over the process tree is the memory the demo really occupies; a thread
samples it while the demo runs. Elsewhere than Linux the figure is ``None`` and the ``ru_maxrss`` peaks remain.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")


def _read(path: Path) -> str:
    """The file's text, or "" when the process ended between listing and reading (or the file is missing)."""
    try:
        return path.read_text()
    except OSError:
        return ""


def _pss_kib(pid: int) -> int:
    for line in _read(PROC / str(pid) / "smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (``/proc/PID/task/*/children``)."""
    tasks = PROC / str(pid) / "task"
    try:
        threads = list(tasks.iterdir())
    except OSError:  # the process ended
        return []
    return [int(x) for task in threads for x in _read(task / "children").split()]


def tree_pss_mib(root: int | None = None) -> float | None:
    """Summed PSS of `root` (default: this process) and all its descendants, in MiB; None without /proc."""
    root = os.getpid() if root is None else root
    if not (PROC / str(root) / "smaps_rollup").is_file():
        return None
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _pss_kib(pid)
        todo += _children(pid)
    return round(total / 1024, 1)


class PeakMemory:
    """``with PeakMemory() as peak: ...`` samples `tree_pss_mib` every `interval` s; `peak.mib` is the maximum."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.mib: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vrft-demo-memory", daemon=True)

    def _sample(self) -> None:
        now = tree_pss_mib()
        if now is not None:
            self.mib = now if self.mib is None else max(self.mib, now)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
