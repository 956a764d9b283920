"""Reading a grounding answer ``(x1,y1),(x2,y2)`` (0–1000 integers; the prompt: `tasks.grounding.prompt`).

Three readings of a completion, one per use:

* `parse_box_strict` (profile ``strict``, reward *and* metric): the first box of the answer block,
  ``(x1,y1),(x2,y2)`` or ``[x1, y1, x2, y2]``, any finite numbers, clipped to [0, 1000], corners sorted.
* `official_reward_reading` (profile ``official``, the reward of ``grpo_lisa.py``,
  PROTOCOL §5.7): the stripped first answer block (newlines allowed; else the whole stripped
  completion), then every ``(int,int),(int,int)`` of it as points ``/ 1000``; the solution is read
  the same way except that its answer block must sit on one line (`official_solution_answer`).
* `official_eval_box` (profile ``official``, the metric of ``Qwen2_VL_lisa_infere.py``, §6.5): the
  first ``(int,int),(int,int)`` anywhere in the *untrimmed decode* (`official_decode`: system prompt,
  user text and completion, D22), each integer ``/ 1000``.
"""

from __future__ import annotations

import math
import re

from tasks.answer import official_first_answer
from tasks.geometry import OFFICIAL_NORM, Box, clip_norm1000, sort_box

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_STRICT_BOX = re.compile(
    rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)\s*,?\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*\)"
    rf"|\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]"
)
# Both official scripts: whitespace allowed around every number and between the two tuples (so a box
# split over two lines matches); the first match of re.findall = the first re.search match.
OFFICIAL_BOX = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*,\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def parse_box_strict(text: str) -> Box | None:
    """The first box in `text`, as sorted 0–1000 corners (clipped), or None. Never raises."""
    m = _STRICT_BOX.search(text)
    if m is None:
        return None
    vals = [float(g) for g in m.groups() if g is not None]
    if not all(math.isfinite(v) for v in vals):
        return None
    x1, y1, x2, y2 = (clip_norm1000(v) for v in vals)
    return sort_box(x1, y1, x2, y2)


def official_reward_reading(completion: str) -> tuple[str, list[tuple[float, float]] | None]:
    """The official reward's reading of a completion: its answer text (the stripped first answer block,
    newlines allowed, else the whole stripped completion) and that text's points (`official_points`;
    None where reading them raises, which the official code's try/except turns into accuracy 0)."""
    ans = official_first_answer(completion, dotall=True)
    student = ans.strip() if ans is not None else completion.strip()
    try:
        return student, official_points(student)
    except Exception:
        return student, None


def official_solution_answer(solution: str) -> str:
    """The official LISA reward's reading of the *solution*: the same, but the answer block must sit
    on one line (the solution's regex has no DOTALL)."""
    sol = official_first_answer(solution)
    return sol.strip() if sol is not None else solution.strip()


def official_points(text: str) -> list[tuple[float, float]]:
    """The official reward's points: the first corners of every match, then the second corners,
    each integer ``/ 1000``. Raises where the official code raises (an integer too long for int())."""
    matches = OFFICIAL_BOX.findall(text)
    n = OFFICIAL_NORM  # a local: read eight times per box
    tops = [(int(a) / n, int(b) / n) for a, b, _, _ in matches]
    bottoms = [(int(c) / n, int(d) / n) for _, _, c, d in matches]
    return tops + bottoms


def official_decode(system: str | None, prompt: str, completion: str) -> str:
    """What the official LISA eval searches: its untrimmed decode, prompt text included (D22)."""
    return "\n".join(x for x in (system, prompt, completion) if x)


def official_eval_box(decoded: str) -> Box | None:
    """The official eval's box: the first match in the decoded text, each integer divided by 1000."""
    m = OFFICIAL_BOX.search(decoded)
    if m is None:
        return None
    try:
        x1, y1, x2, y2 = (int(v) / OFFICIAL_NORM for v in m.groups())
    except (OverflowError, ValueError):  # a number past float range (or int()'s digit limit): the official
        return None  # script's per-item try/except records IoU 0, as for no box
    return x1, y1, x2, y2
