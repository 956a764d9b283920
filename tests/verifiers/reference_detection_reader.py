"""The strict detection reader as it was before the token-list rewrite (issue 19), kept frozen as the
reference `test_detection_reader_equivalence` holds the optimized reader to.

This is the old code, unchanged but for names: one ``re.finditer`` match per token with its group
name as the kind, a ``(kind, text)`` tuple per token, and a token-by-token scan to resynchronise.
Slow on long junk (a Python loop per token over up to 64 KiB of text), plainly correct otherwise.
Do not "fix" it: it is the specification the fast reader is compared with.
"""

from __future__ import annotations

import re
from typing import Any

from tasks.detection.parse import MAX_DEPTH, MAX_ITEMS, DetectionParse, PredBox, validate_item

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
      | (?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<punct>[\[\]{}:,])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)


_NO_OBJECTS = re.compile(r"['\"]?\s*no\s+objects?\s*['\"]?\s*\.?", re.IGNORECASE)


class _Syntax(Exception):
    pass


class _Reader:
    def __init__(self, text: str, pos: int) -> None:
        self.tokens: list[tuple[str, str]] = []
        for m in _TOKEN.finditer(text, pos):
            kind = m.lastgroup
            if kind is None:
                break
            self.tokens.append((kind, m.group(kind)))
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def value(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise _Syntax("nesting too deep")
        tok = self.peek()
        if tok is None:
            raise _Syntax("truncated")
        kind, text = tok
        self.i += 1
        if kind == "num":
            return float(text)
        if kind == "str":
            return text[1:-1]
        if kind == "word":
            return {"True": True, "true": True, "False": False, "false": False}.get(text, text)
        if text == "[":
            return self._sequence("]", depth)
        if text == "{":
            return self._mapping(depth)
        raise _Syntax(f"unexpected {text!r}")

    def _sequence(self, close: str, depth: int) -> list[Any]:
        out: list[Any] = []
        while True:
            tok = self.peek()
            if tok is None:
                raise _Syntax("truncated")
            if tok[1] == close:
                self.i += 1
                return out
            out.append(self.value(depth + 1))
            self._separator(close)

    def _mapping(self, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            tok = self.peek()
            if tok is None:
                raise _Syntax("truncated")
            if tok[1] == "}":
                self.i += 1
                return out
            key = self.value(depth + 1)
            tok = self.peek()
            if tok is None:
                raise _Syntax("truncated")
            if tok[1] != ":":
                raise _Syntax("missing colon")
            self.i += 1
            out[str(key).strip().lower()] = self.value(depth + 1)
            self._separator("}")

    def _separator(self, close: str) -> None:
        tok = self.peek()
        if tok is None:
            raise _Syntax("truncated")
        if tok[1] == ",":
            self.i += 1
        elif tok[1] != close:
            raise _Syntax("missing comma")

    def resync(self) -> bool:
        for j in range(max(self.i, 1), len(self.tokens) - 1):
            if self.tokens[j][1] == "," and self.tokens[j + 1][1] == "{":
                self.i = j + 1
                return True
        self.i = len(self.tokens)
        return False


def reference_parse_strict(answer: str) -> DetectionParse:
    """The old `tasks.detection.parse.parse_strict` without its regular-expression fast path, which
    is only a shortcut: wherever it answers, it must answer what the general reader does."""
    text = answer.strip()
    if _NO_OBJECTS.fullmatch(text):
        return DetectionParse((), no_objects=True)
    return reference_parse_general(text)


def reference_parse_general(text: str) -> DetectionParse:
    """The old `tasks.detection.parse.parse_general`."""
    start = text.find("[")
    brace = text.find("{")
    if start == -1 or (brace != -1 and brace < start):
        if brace == -1:
            return DetectionParse((), failure="no_list")
        reader = _Reader("[" + text[brace:], 0)
    else:
        reader = _Reader(text, start)
    reader.i = 1
    boxes: list[PredBox] = []
    reasons: list[str] = []
    truncated = False
    while True:
        tok = reader.peek()
        if tok is None:
            truncated = True
            break
        if tok[1] == "]":
            break
        if len(boxes) + len(reasons) >= MAX_ITEMS:
            reasons.append("too_many_items")
            break
        try:
            item = reader.value(1)
        except (_Syntax, RecursionError, ValueError, OverflowError) as err:
            reasons.append("truncated" if str(err) == "truncated" else "syntax")
            if reader.resync():
                continue
            truncated = str(err) == "truncated"
            break
        result = validate_item(item)
        if isinstance(result, PredBox):
            boxes.append(result)
        else:
            reasons.append(result)
        tok = reader.peek()
        if tok is None:
            truncated = True
            break
        if tok[1] == ",":
            reader.i += 1
        elif tok[1] != "]":
            reasons.append("missing_comma")
            if not reader.resync():
                break
    failure = "all_malformed" if reasons and not boxes else None
    return DetectionParse(
        tuple(boxes),
        n_malformed=len(reasons),
        truncated=truncated,
        no_objects=not boxes and not reasons,
        failure=failure,
        malformed_reasons=tuple(reasons),
    )
