"""The detection prompts (PROTOCOL §2.3) and the stage-1 existence question, verbatim; their answers
are read by `tasks.detection.parse` (boxes) and `says_yes` below (existence)."""

from __future__ import annotations

from tasks.answer import extract_answer
from tasks.prompts import Prompt, with_image_prefix

# §2.3 (the missing space in "tags.The" is original)
DETECTION_PROMPT = (
    "Detect all objects belonging to the category '{category}' in the image, and provide the bounding boxes "
    "(between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places).\n"
    "If no object belonging to the category '{category}' in the image, return 'No Objects'.\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "The output answer format should be as follows:\n"
    "<think> ... </think> <answer>[{{'Position': [x1, y1, x2, y2], 'Confidence': number}}, ...]</answer>\n"
    "Please strictly follow the format."
)

# Stage 1 of the `two-stage` protocol. The official wording is unpublished (PROTOCOL §9); this one is
# ours, documented in the README, and answered with the same think/answer format.
EXISTENCE_PROMPT = (
    "Is there any object belonging to the category '{category}' in the image? "
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "The output answer format should be as follows:\n"
    "<think> ... </think> <answer>yes</answer> or <think> ... </think> <answer>no</answer>\n"
    "Please strictly follow the format."
)


def detection_prompt(category: str, style: str = "strict") -> Prompt:
    return with_image_prefix(DETECTION_PROMPT.format(category=category), style)


def existence_prompt(category: str) -> Prompt:
    return Prompt(EXISTENCE_PROMPT.format(category=category))


def says_yes(answer: str) -> bool:
    """Our reading of an `EXISTENCE_PROMPT` answer: the answer block (or the whole text) starts with "yes"."""
    span = extract_answer(answer)
    text = (span.text if span is not None else answer).strip().strip("'\"").lower()
    return text.startswith("yes")
