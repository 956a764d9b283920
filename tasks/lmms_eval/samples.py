"""lmms-eval ``--log_samples`` files -> a vrft generations file, to re-score with ``vrft score``.

Each sample line of a vrft task carries, under every metric name, the item `process_results` returned:
``{"vrft": <task settings>, "request_id", "text"}``, i.e. exactly the text lmms-eval scored (after its
own whitespace strip). This module writes those as ``{"task", "request_id", "text"}`` lines and prints
the ``vrft score`` command that reproduces the lmms-eval numbers::

    python -m tasks.lmms_eval.samples OUT/generations.jsonl LOGS/*_samples_vrft_*.jsonl
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tasks.lmms_eval.hooks import Settings


def sample_item(sample: Mapping[str, Any]) -> dict[str, str] | None:
    """The vrft item of one lmms-eval sample record (None for a sample of another task)."""
    for value in sample.values():
        if isinstance(value, dict) and {"vrft", "request_id", "text"} <= value.keys():
            return value
    return None


def generations_from_samples(samples: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, str]]:
    """``{"task", "request_id", "text"}`` per vrft sample, in file order; other samples are skipped."""
    for sample in samples:
        item = sample_item(sample)
        if item is not None:
            yield {"task": Settings.from_key(item["vrft"]).task, "request_id": item["request_id"], "text": item["text"]}


def read_samples(paths: Sequence[Path]) -> tuple[list[dict[str, str]], dict[str, Settings]]:
    """Generations of every vrft sample in `paths`, and the settings of each task seen."""
    rows: list[dict[str, str]] = []
    settings: dict[str, Settings] = {}
    for path in paths:
        with Path(path).open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    sample = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{number}: not a JSON line ({err})") from None
                item = sample_item(sample) if isinstance(sample, dict) else None
                if item is None:
                    continue
                s = Settings.from_key(item["vrft"])
                if settings.setdefault(s.task, s) != s:
                    raise ValueError(f"{path}:{number}: {s.task} samples from two different settings")
                rows.append({"task": s.task, "request_id": item["request_id"], "text": item["text"]})
    return rows, settings


def score_command(settings: Settings, generations: Path, *, allow_missing: bool = True) -> list[str]:
    """The ``vrft score`` command line that scores `generations` as lmms-eval did."""
    cmd = ["vrft", "score", "--task", settings.task, "--data-root", settings.data_root]
    cmd += ["--generations", str(generations), "--profile", settings.profile]
    for key, value in settings.args:
        cmd += ["--task-arg", f"{key}={value}"]
    return [*cmd, "--allow-missing"] if allow_missing else cmd


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tasks.lmms_eval.samples", description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="generations JSONL to write")
    p.add_argument("samples", type=Path, nargs="+", help="lmms-eval *_samples_vrft_*.jsonl files")
    args = p.parse_args(argv)
    try:
        rows, settings = read_samples(args.samples)
    except (OSError, ValueError) as err:
        print(f"tasks.lmms_eval.samples: {err}", file=sys.stderr)
        return 2
    if not rows:
        print("tasks.lmms_eval.samples: no vrft samples in the given files", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} generation(s) to {args.out}; score them with:")
    for s in settings.values():
        print("  " + shlex.join(score_command(s, args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
