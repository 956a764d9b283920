"""The one chat-message builder: a task request as the message list every consumer sends.

A request is one single-turn chat: a system turn only when the request has one (None = the chat
template's default), then one user turn holding the image, then the text (the official order,
PROTOCOL §2.6). Consumers differ only in how they spell the parts, so each passes a `ChatStyle`:

* ``HF`` (transformers chat template): image ``{"type": "image"}`` (the pixels go to the processor),
  system ``[text item]``;
* ``VLLM`` (``LLM.chat``): image ``{"type": "image_pil", "image_pil": PIL}``, system as a string;
* ``OPENAI`` (chat completions): image ``{"type": "image_url", "image_url": {"url": data URL}}``, system
  as a string;
* ``LMMS`` (lmms-eval ``doc_to_messages``): image ``{"type": "image", "url": PIL}``, system ``[text item]``;
* ``TRL`` (training rows): no image item (TRL inserts the image before the text), user content = the text.

The text item is ``{"type": "text", "text": text}``. Pure data: no image is opened or encoded here
(the caller hands in what its image item holds: a PIL image, a data URL, or anything for HF).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]


def text_item(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _placeholder(_image: Any) -> dict[str, Any]:
    return {"type": "image"}


def _image_pil(image: Any) -> dict[str, Any]:
    return {"type": "image_pil", "image_pil": image}


def _image_url(url: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _image_url_field(image: Any) -> dict[str, Any]:
    return {"type": "image", "url": image}


@dataclass(frozen=True)
class ChatStyle:
    """How one consumer spells a message's parts.

    `image_item` turns the image into the user turn's first item (None: the message carries no image,
    the consumer adds it); `system_parts` writes the system content as ``[text item]`` instead of the
    string; `user_parts` writes the user content as ``[image item, text item]`` instead of the bare text.
    """

    name: str
    image_item: Callable[[Any], dict[str, Any]] | None
    system_parts: bool = False
    user_parts: bool = True


HF = ChatStyle("hf", _placeholder, system_parts=True)
VLLM = ChatStyle("vllm", _image_pil)
OPENAI = ChatStyle("openai", _image_url)
LMMS = ChatStyle("lmms", _image_url_field, system_parts=True)
TRL = ChatStyle("trl", None, user_parts=False)


def chat_messages(text: str, system: str | None, image: Any, style: ChatStyle) -> list[Message]:
    """``[system turn if `system` is not None] + [user turn: image item (when `image` is not None), text]``.

    `image` is what the style's image item holds (a PIL image, a data URL; for HF only its presence
    counts). A style without image item (TRL) takes no image: the trainer adds it from the row.
    """
    if image is not None and style.image_item is None:
        raise ValueError(f"chat style {style.name!r} carries no image item; pass image=None (the consumer adds it)")
    messages: list[Message] = []
    if system is not None:
        messages.append({"role": "system", "content": [text_item(system)] if style.system_parts else system})
    if not style.user_parts:
        messages.append({"role": "user", "content": text})
        return messages
    content: list[dict[str, Any]] = []
    if image is not None and style.image_item is not None:
        content.append(style.image_item(image))
    content.append(text_item(text))
    messages.append({"role": "user", "content": content})
    return messages
