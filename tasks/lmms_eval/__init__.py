"""lmms-eval 0.7.3 task files for the vrft benchmarks (``--include_path`` this folder).

The YAML files here name hooks in `tasks.lmms_eval.hooks` (``!function``), which build the vrft task
with `tasks.registry.get_task`, turn its requests into lmms-eval documents and score the gathered
generations with the task's own ``score()``: lmms-eval reports the numbers ``vrft score`` reports.
`tasks.lmms_eval.samples` converts lmms-eval's ``--log_samples`` output back into a vrft generations
file. The task files are generated from `tasks.registry` by `tasks.lmms_eval.generate` (``vrft lmms-yaml``).
Nothing here imports lmms_eval or torch. See README.md in this folder.
"""

from __future__ import annotations

from pathlib import Path

INCLUDE_PATH = Path(__file__).resolve().parent
"""The folder to pass to ``lmms-eval --include_path``."""
