"""Reading a detection answer: ``[{'Position': [x1, y1, x2, y2], 'Confidence': c}, ...]``.

The prompt that asks for it is `tasks.detection.prompt`. Readers, one per profile:

* `parse_strict` — a small tokenizer and recursive-descent reader for the Python-literal subset the
  models write (lists, dicts, quoted strings, numbers). Never ``eval``. Each list item is validated on
  its own; a malformed item is dropped and counted instead of zeroing the answer (fixes D9). Numbers
  must be finite; confidences are clamped to [0, 1]; coordinates are clipped to [0, 1000] (D14, D26).
  A truncated list keeps its complete items (fixes D8). A fast regular-expression path handles the
  canonical well-formed answer; a property test checks it agrees with the general reader.
* `official_extract_bbox` — the official ``extract_bbox`` (PROTOCOL §5.3 step 3): slice between the
  first tags, "truncation repair", quote swap, ``json.loads``. JSON is data, not code. The official
  repository calls it on two different preparations of the text, so the `official` profile has two
  readings of one completion: `official_reward_reading` (``grpo.py``'s reward: the first single-line
  answer block, *then* the ``[[``/newline clean-up) and `official_eval_reading` (the eval script: the
  clean-up, including ``, ...``, *before* the tag search, so a multi-line answer is found).
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any, NamedTuple

from tasks.answer import ANSWER_CLOSE, ANSWER_OPEN, official_first_answer
from tasks.geometry import NORM
from tasks.geometry import clip_norm1000 as _clip

MAX_ITEMS = 1000  # more predictions than this are ignored (and counted): bounds the matching cost
MAX_DEPTH = 16

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_Q = r"['\"]"


def _item_pattern(capture: bool) -> str:
    # A permissive number: float() validates it, and anything float() rejects goes to the general reader.
    # Possessive quantifiers (Python 3.11+) never backtrack; every one is followed by a token it cannot
    # match, so they accept exactly what the greedy forms accept, 2-3x faster.
    loose = r"[-+]?+[\d.]++(?:[eE][-+]?\d+)?+"
    num = f"({loose})" if capture else loose
    ws = r"\s*+"
    return (
        rf"\{{{ws}{_Q}Position{_Q}{ws}:{ws}\[{ws}{num}{ws},{ws}{num}{ws},{ws}{num}{ws},{ws}{num}{ws}\]"
        rf"{ws},{ws}{_Q}Confidence{_Q}{ws}:{ws}{num}{ws}\}}"
    )


# The canonical answer, read in one C-level pass; anything else goes through the general reader.
_FAST_ITEM = re.compile(_item_pattern(capture=True))
# The same item exactly as the prompt spells it (single quotes, one space, no sign or exponent): a third
# faster to split. Where it tiles an answer, _FAST_ITEM splits it into the same parts (every brace starts
# an item, and both patterns take the same number texts); elsewhere _FAST_ITEM decides.
_PROMPT_ITEM = re.compile(r"\{'Position': \[([\d.]++), ([\d.]++), ([\d.]++), ([\d.]++)\], 'Confidence': ([\d.]++)\}")
_NO_OBJECTS = re.compile(r"['\"]?\s*no\s+objects?\s*['\"]?\s*\.?", re.IGNORECASE)

# The general reader reads one token at a time (`_TOKEN.match` where the last one ended) and, after a
# syntax error, moves to the next ``, {`` in one C-level match (`_RESYNC`): on junk (what a collapsing
# policy emits: brackets, tags and numbers by the thousand) almost every token lies between an error and
# the next restart point, so tokenizing the whole text first cost far more than reading. A string is one
# token and every quote outside a string starts a token (no other token holds one), so `_RESYNC`,
# stepping over strings and runs of other characters, finds exactly the comma *token* followed by a
# brace *token*. Possessive forms are the greedy ones without backtracking: nothing after them can
# match what they gave back. tests/verifiers/test_detection_reader_equivalence.py holds this reader to
# the earlier tokenize-everything one.
_STR = r"'(?:[^'\\\n]++|\\.)*+'|" + r'"(?:[^"\\\n]++|\\.)*+"'
_TOKEN = re.compile(
    rf"""\s*+(
        {_STR}                                            # string (at least 2 characters)
      | [-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?     # number (a sign or dot is followed by a digit)
      | [\[\]{{}}:,]                                        # punctuation
      | [A-Za-z_][A-Za-z0-9_]*                            # bare word
      | \S                                                # anything else: one bad character
    )""",
    re.VERBOSE,
)
# From a token boundary: strings, other characters and commas not before a brace, then the restart point.
_RESYNC = re.compile(rf"""(?:[^'",]++|,(?!\s*+\{{)|{_STR}|['"])*+,\s*+(?=\{{)""")


class PredBox(NamedTuple):
    """One predicted box in 0–1000 space (clipped) with its confidence (clamped).

    A NamedTuple rather than a frozen dataclass: rewards build millions of these during training.
    """

    x1: float
    y1: float
    x2: float
    y2: float
    confidence: float

    @property
    def degenerate(self) -> bool:
        return self.x2 <= self.x1 or self.y2 <= self.y1

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


class DetectionParse(NamedTuple):
    """What a strict read of an answer produced.

    `failure` is None when the answer was read (possibly with some items dropped), else a reason:
    ``no_list`` (no list and no "No Objects"), ``all_malformed`` (items present, none valid).
    `no_objects` marks an explicit refusal ("No Objects" or ``[]``).
    """

    boxes: tuple[PredBox, ...]
    n_malformed: int = 0
    truncated: bool = False
    no_objects: bool = False
    failure: str | None = None
    malformed_reasons: tuple[str, ...] = ()


class _Syntax(Exception):
    pass


_match_token = _TOKEN.match
_WORDS = {"True": True, "true": True, "False": False, "false": False}


class _Reader:
    """Tokens -> Python values (list, dict, str, float, bool, None, bare word as str), one token at a
    time from `pos`; `tok` is the token looked at and not yet taken (it starts at `at`)."""

    __slots__ = ("at", "pos", "text", "tok")

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos
        self.at = pos
        self.tok: str | None = None

    def peek(self) -> str | None:
        if self.tok is None:
            m = _match_token(self.text, self.pos)
            if m is None:  # only whitespace left
                return None
            self.at, self.pos, self.tok = self.pos, m.end(), m[1]
        return self.tok

    def take(self) -> str | None:
        tok = self.tok
        if tok is not None:
            self.tok = None
            return tok
        m = _match_token(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m[1]

    def value(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise _Syntax("nesting too deep")
        text = self.take()
        if text is None:
            raise _Syntax("truncated")
        c = text[0]
        if c == "[":
            return self._sequence("]", depth)
        if c == "{":
            return self._mapping(depth)
        # A one-character token starting like a number or a string is the bad-character alternative
        # (a lone sign, dot or quote); a digit always starts a number (``\d`` is Unicode's decimal
        # digit, as is `str.isdecimal`).
        if c.isdecimal() or (c in "+-." and len(text) > 1):
            return float(text)
        if c in "'\"" and len(text) > 1:
            return text[1:-1]
        if c == "_" or (c.isascii() and c.isalpha()):
            return _WORDS.get(text, text)
        raise _Syntax(f"unexpected {text!r}")

    def _sequence(self, close: str, depth: int) -> list[Any]:
        out: list[Any] = []
        while True:
            tok = self.peek()
            if tok is None:
                raise _Syntax("truncated")
            if tok == close:
                self.tok = None
                return out
            out.append(self.value(depth + 1))
            self._separator(close)

    def _mapping(self, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            tok = self.peek()
            if tok is None:
                raise _Syntax("truncated")
            if tok == "}":
                self.tok = None
                return out
            key = self.value(depth + 1)
            tok = self.peek()
            if tok is None:
                raise _Syntax("truncated")
            if tok != ":":
                raise _Syntax("missing colon")
            self.tok = None
            out[str(key).strip().lower()] = self.value(depth + 1)
            self._separator("}")

    def _separator(self, close: str) -> None:
        tok = self.peek()
        if tok is None:
            raise _Syntax("truncated")
        if tok == ",":
            self.tok = None
        elif tok != close:
            raise _Syntax("missing comma")

    def resync(self) -> bool:
        """After a syntax error: move to the next item that starts like one (``, {``), from the token
        not yet taken.

        Items of this format are objects, so ``, {`` is a reliable restart point even when the
        broken item left brackets unbalanced. False when there is none (the list ends here).
        """
        m = _RESYNC.match(self.text, self.pos if self.tok is None else self.at)
        self.tok = None
        if m is None:
            self.pos = len(self.text)
            return False
        self.pos = m.end()  # at the brace
        return True


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, float | int):
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def validate_item(item: Any) -> PredBox | str:
    """A parsed list item -> a box, or the reason it is malformed."""
    if not isinstance(item, dict):
        return "not_a_dict"
    pos = item.get("position")
    if not isinstance(pos, list) or len(pos) != 4:
        return "bad_position"
    coords = [_finite(v) for v in pos]
    if any(c is None for c in coords):
        return "non_numeric_or_non_finite_position"
    if "confidence" not in item:
        return "missing_confidence"
    conf = _finite(item["confidence"])
    if conf is None:
        return "non_numeric_or_non_finite_confidence"
    x1, y1, x2, y2 = (_clip(c) for c in coords if c is not None)
    return PredBox(x1, y1, x2, y2, min(max(conf, 0.0), 1.0))


# NamedTuple construction through the class is a Python-level call; ``tuple.__new__`` makes the same
# object several times faster (`tasks.rewards` does the same).
_make = tuple.__new__
_pred_box = functools.partial(tuple.__new__, PredBox)
_CLEAN = (0, False, False, None, ())  # DetectionParse's defaults after `boxes`
_LIST_START = re.compile(r"\[\s*+\{")


def _items(parts: list[str]) -> bool:
    """Whether ``split`` parts are ``[`` item (``,`` item)... ``]`` (or ``,]``): only commas and whitespace
    between items, and at least one item."""
    if len(parts) < 7 or parts[0].strip() != "[" or parts[-1].strip() not in ("]", ",]"):
        return False
    return len(parts) == 7 or set(map(str.strip, parts[6:-1:6])) == {","}


def _fast_path(text: str) -> DetectionParse | None:
    """The canonical answer (``[item, item, ...]``, only commas and whitespace between items) in one
    C-level ``re.split`` pass; None sends anything else to the general reader.

    ``split`` yields [prefix, 5 numbers, separator, 5 numbers, ..., suffix], so the shape check and the
    numbers come from the same scan (this path is what every GRPO step pays for). A text (stripped) that
    does not start with ``[`` and an item's brace cannot have that shape, and is not split at all.
    """
    if _LIST_START.match(text) is None:
        return None
    parts = _PROMPT_ITEM.split(text) if text.startswith("[{'Position': [") else []
    if not _items(parts):
        parts = _FAST_ITEM.split(text)
        if not _items(parts):
            return None
    del parts[::6]  # separators checked above; the numbers remain, five per item
    try:
        values = list(map(float, parts))
    except ValueError:
        return None
    if len(values) > 5 * MAX_ITEMS:
        return None
    # All in range (coordinates in [0, 1000], confidences in [0, 1], hence finite) unless one of these holds.
    if min(values) < 0.0 or max(values) > NORM or max(values[4::5]) > 1.0:
        if not math.isfinite(sum(values)):
            return None  # an overflowing exponent such as 1e400: the general reader counts it
        x1, y1, x2, y2 = ([_clip(v) for v in values[k::5]] for k in range(4))
        conf = [0.0 if c < 0.0 else 1.0 if c > 1.0 else c for c in values[4::5]]
        return _make(DetectionParse, (tuple(map(PredBox, x1, y1, x2, y2, conf)), *_CLEAN))
    five = iter(values)
    return _make(DetectionParse, (tuple(map(_pred_box, zip(five, five, five, five, five, strict=True))), *_CLEAN))


def parse_strict(answer: str) -> DetectionParse:
    """Read a detection answer (the text inside the answer tags). Never raises."""
    text = answer.strip()
    if _NO_OBJECTS.fullmatch(text):
        return DetectionParse((), no_objects=True)
    fast = _fast_path(text)
    return fast if fast is not None else parse_general(text)


def parse_general(text: str) -> DetectionParse:
    """The general reader behind `parse_strict` (public so tests can compare it with the fast path)."""
    start = text.find("[")
    brace = text.find("{")
    if start == -1 or (brace != -1 and brace < start):
        # No list (or objects before any list): read a bare sequence of objects.
        if brace == -1:
            return DetectionParse((), failure="no_list")
        reader = _Reader(text, brace)
    else:
        reader = _Reader(text, start + 1)  # past the opening bracket
    boxes: list[PredBox] = []
    reasons: list[str] = []
    truncated = False
    while True:
        tok = reader.peek()
        if tok is None:
            truncated = True
            break
        if tok == "]":
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
        if tok == ",":
            reader.tok = None
        elif tok != "]":
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


# --------------------------------------------------------------------------------------------
# Official readers (PROTOCOL §5.3 step 3 and §6.2); reproduced exactly, quirks included.


def official_extract_bbox(response: str) -> Any:
    """The official ``extract_bbox``: returns whatever ``json.loads`` gives, or None."""
    if ANSWER_OPEN not in response:
        return None
    start = response.find(ANSWER_OPEN) + len(ANSWER_OPEN)
    end = response.find(ANSWER_CLOSE)
    if end == -1:
        end = len(response)
    content = response[start:end]
    if not content.endswith("]"):
        content = content.rsplit("},", 1)[0] + "}]"
    try:
        return json.loads(content.replace("'", '"'))
    except json.JSONDecodeError:
        return None


def official_reward_reading(completion: str) -> list[Any] | None:
    """The official *reward*'s reading of a completion (``grpo.py``, PROTOCOL §5.3): the stripped first
    single-line answer block (else the whole stripped completion), re-wrapped in answer tags, ``[[``,
    ``]]`` and newlines removed, `official_extract_bbox`, then duplicates removed (first occurrence of
    each Position, by list equality). None where the official rule path scores 0: nothing read, not a
    list of dicts, or any exception of that code (its try/except)."""
    try:
        match = official_first_answer(completion)
        student = match.strip() if match is not None else completion.strip()
        student = ("<answer>" + student + "</answer>").replace("[[", "[").replace("]]", "]").replace("\n", "")
        boxes = official_extract_bbox(student)
        if boxes is None or type(boxes[0]) is not dict:
            return None
        seen: list[Any] = []
        unique = []
        for box in boxes:
            if box["Position"] not in seen:
                seen.append(box["Position"])
                unique.append(box)
        return unique
    except Exception:
        return None


def official_eval_reading(response: str) -> Any:
    """The official *eval*'s reading of a response (PROTOCOL §6.2): ``[[``, ``]]``, newlines and
    ``, ...`` removed *before* the first single-line answer block is searched (else the whole cleaned
    text), then `official_extract_bbox`. Returns what that returns (None, or any JSON value)."""
    cleaned = response.replace("[[", "[").replace("]]", "]").replace("\n", "").replace(", ...", "")
    match = official_first_answer(cleaned)
    inner = match.strip() if match is not None else cleaned.strip()
    return official_extract_bbox("<answer>" + inner + "</answer>")
