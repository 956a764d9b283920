"""The one chat-message builder gives each consumer exactly the messages it sent before (table-driven).

The expected lists are written out literally: the shapes the HF, vLLM and OpenAI backends, the lmms-eval
hooks and the training rows built by hand before `tasks.chat` existed.
"""

from __future__ import annotations

from typing import Any

import pytest

from tasks.chat import HF, LMMS, OPENAI, TRL, VLLM, ChatStyle, chat_messages

IMG = object()  # stands for a PIL image: the builder only places it
URL = "data:image/png;base64,AAAA"
SYS = "You are a helpful assistant."


def _text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


CASES: list[tuple[ChatStyle, str | None, Any, list[dict[str, Any]]]] = [
    (HF, None, "img.jpg", [{"role": "user", "content": [{"type": "image"}, _text("q")]}]),
    (HF, SYS, "img.jpg", [{"role": "system", "content": [_text(SYS)]},
                          {"role": "user", "content": [{"type": "image"}, _text("q")]}]),
    (HF, None, None, [{"role": "user", "content": [_text("q")]}]),
    (VLLM, None, IMG, [{"role": "user", "content": [{"type": "image_pil", "image_pil": IMG}, _text("q")]}]),
    (VLLM, SYS, IMG, [{"role": "system", "content": SYS},
                      {"role": "user", "content": [{"type": "image_pil", "image_pil": IMG}, _text("q")]}]),
    (VLLM, None, None, [{"role": "user", "content": [_text("q")]}]),
    (OPENAI, SYS, URL, [{"role": "system", "content": SYS},
                        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": URL}}, _text("q")]}]),
    (OPENAI, None, None, [{"role": "user", "content": [_text("q")]}]),
    (LMMS, None, IMG, [{"role": "user", "content": [{"type": "image", "url": IMG}, _text("q")]}]),
    (LMMS, SYS, IMG, [{"role": "system", "content": [_text(SYS)]},
                      {"role": "user", "content": [{"type": "image", "url": IMG}, _text("q")]}]),
    (TRL, None, None, [{"role": "user", "content": "q"}]),
    (TRL, SYS, None, [{"role": "system", "content": SYS}, {"role": "user", "content": "q"}]),
]


@pytest.mark.parametrize(("style", "system", "image", "expected"), CASES)
def test_each_style_builds_the_messages_its_consumer_sent(
    style: ChatStyle, system: str | None, image: Any, expected: list[dict[str, Any]]
) -> None:
    assert chat_messages("q", system, image, style) == expected  # the image object itself, not a copy


def test_system_turn_only_when_the_request_has_one() -> None:
    for style in (HF, VLLM, OPENAI, LMMS, TRL):
        assert [m["role"] for m in chat_messages("q", None, None, style)] == ["user"]
        assert [m["role"] for m in chat_messages("q", "", None, style)] == ["system", "user"]  # empty is a turn


def test_a_style_without_image_item_refuses_an_image() -> None:
    with pytest.raises(ValueError, match="'trl' carries no image item"):
        chat_messages("q", None, IMG, TRL)
