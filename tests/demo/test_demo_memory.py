"""The demo's peak memory counts its worker processes (`train_plugin.demo.memory`): a child holding 200 MiB
shows in the summed PSS and in the sampled peak after it exits."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from train_plugin.demo.memory import PeakMemory, tree_pss_mib

pytestmark = pytest.mark.skipif(not Path("/proc/self/smaps_rollup").is_file(), reason="needs Linux /proc")

HOLD = ("import time; b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); "
        "print('ready', flush=True); time.sleep(30)")


def test_a_child_holding_memory_counts_in_the_tree_and_the_peak_outlives_it() -> None:
    before = tree_pss_mib()
    assert before is not None and before > 0
    with PeakMemory(interval=0.05) as peak:
        child = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            during = tree_pss_mib()
            time.sleep(0.3)  # a few samples while the child holds its memory
        finally:
            child.kill()
            child.wait()
    after = tree_pss_mib()
    assert during is not None and after is not None and peak.mib is not None
    assert during - before >= 180  # the child's 200 MiB (its interpreter adds a few more)
    assert peak.mib >= during - 20  # sampled while the child lived
    assert after < peak.mib - 150  # and the child is gone from the tree


def test_no_proc_means_no_figure() -> None:
    assert tree_pss_mib(root=2**22 + 12345) is None  # no such process
