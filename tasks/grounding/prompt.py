"""The LISA grounding prompts (PROTOCOL §2.5), train and eval wording; the answer ``(x1,y1),(x2,y2)``
is read by `tasks.grounding.parse`."""

from __future__ import annotations

from tasks.prompts import R1_SYSTEM_PROMPT, Prompt, check_style

# §2.5 (the typo "grouding" and the stray ")" are original)
_LISA_FORMAT = (
    "Output the thinking process in <think> </think> and your grouding box. Following "
    '"<think> thinking process </think>\n<answer>(x1,y1),(x2,y2)</answer>)" format.'
)
LISA_TRAIN_PROMPT = (
    "Output the bounding box in the image corresponding to the instruction: {instruction} " + _LISA_FORMAT
)
LISA_EVAL_PROMPT = (
    "Output the bounding box in the image corresponding to the instruction: {instruction}. " + _LISA_FORMAT
)


def grounding_prompt(instruction: str, style: str = "strict") -> Prompt:
    check_style(style)
    if style == "official":
        return Prompt(LISA_EVAL_PROMPT.format(instruction=instruction), system=R1_SYSTEM_PROMPT)
    return Prompt(LISA_TRAIN_PROMPT.format(instruction=instruction))
