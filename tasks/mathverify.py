"""The official code's math_verify short-circuit (PROTOCOL.md §5.2, defects D1/D2), for the
`official` profile only.

Every official accuracy reward first runs ``math_verify.parse`` on the whole completion and the whole
solution, then ``verify``; a positive result makes the reward 1.0 and skips the rule path. We call the
real package when it is installed (that is the official behaviour), so the reproduction is exact
rather than imitated. Without the package the short-circuit never fires, which matches the golden
vectors' ``output_if_math_verify_never_matches``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import lru_cache
from typing import Any


def available() -> bool:
    """Whether the math-verify package can be imported."""
    return importlib.util.find_spec("math_verify") is not None


@lru_cache(maxsize=1)
def _functions() -> tuple[Callable[..., Any], Callable[..., Any]]:
    from math_verify import parse, verify

    return parse, verify


@lru_cache(maxsize=4096)
def _parse_solution(solution: str) -> Any:
    parse, _ = _functions()
    return parse(solution)


def short_circuit(completion: str, solution: str) -> bool:
    """True when the official code would return 1.0 before its rule path. Never raises: the
    official code swallows every exception here."""
    try:
        parse, verify = _functions()
        gold = _parse_solution(solution)
        if not gold:
            # verify() is False whenever either side parses to nothing (e.g. a "No Objects" solution):
            # skip parsing the completion, the expensive half.
            return False
        return float(verify(parse(completion), gold)) > 0
    except Exception:
        return False
