"""What every family's prompt shares: the R1 system prompt, the ``<image>\\n`` prefix, the rendering
styles and the rendered-prompt container. Each family's own prompt text lives beside its parser
(``tasks/<family>/prompt.py``); each task's version (tasks.registry) must be bumped when a rendering
changes, because run manifests and tables carry it.

Rendering styles:
* ``strict`` (default): the *training* rendering for evaluation too, so that train and eval prompts
  are byte-identical (fixes D27): no literal ``<image>\\n`` prefix, no R1 system prompt for LISA.
* ``official``: what the official evaluation scripts send: ``<image>\\n`` + question for detection and
  classification, the R1 system prompt and the extra ``.`` after the instruction for LISA.
"""

from __future__ import annotations

from dataclasses import dataclass

R1_SYSTEM_PROMPT = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think><answer> answer here </answer>"
)

IMAGE_PREFIX = "<image>\n"  # the official eval's literal text prefix (PROTOCOL §2.6), not a special token

STYLES = ("strict", "official")


@dataclass(frozen=True)
class Prompt:
    """A rendered user turn: optional system message (None = the chat template's default) + text."""

    text: str
    system: str | None = None


def check_style(style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}: expected one of {STYLES}")


def with_image_prefix(text: str, style: str) -> Prompt:
    """The detection/classification rendering: the official eval prefixes ``<image>\\n``."""
    check_style(style)
    return Prompt(IMAGE_PREFIX + text if style == "official" else text)
