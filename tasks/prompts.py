"""Every prompt of the paper, verbatim (PROTOCOL.md §2), and how each profile renders it.

Kept in one module beside the parsers' package so that a prompt change is one diff; each task's
version (tasks.registry) must be bumped when a rendering changes, because run manifests and tables
carry it.

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

# §2.4: the aircraft prompt is the only published one; the other datasets use the same template with
# their object noun (the Flowers wording follows the paper's Table 1 "plant" prompt).
CLASSIFICATION_PROMPT = (
    "This is an image containing {article} {noun}. Please identify the {attribute} of the {noun} based on the "
    "image.\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "The output answer format should be as follows:\n"
    "<think> ... </think> <answer>species name</answer>\n"
    "Please strictly follow the format."
)


@dataclass(frozen=True)
class ClassificationNoun:
    article: str
    noun: str
    attribute: str


CLASSIFICATION_NOUNS = {
    "flowers102": ClassificationNoun("a", "plant", "species"),
    "pets37": ClassificationNoun("a", "pet", "breed"),
    "aircraft": ClassificationNoun("an", "aircraft", "model"),  # verbatim official prompt
    "cars196": ClassificationNoun("a", "car", "model"),
}

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

IMAGE_PREFIX = "<image>\n"  # the official eval's literal text prefix (PROTOCOL §2.6), not a special token

STYLES = ("strict", "official")


@dataclass(frozen=True)
class Prompt:
    """A rendered user turn: optional system message (None = the chat template's default) + text."""

    text: str
    system: str | None = None


def _check(style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown prompt style {style!r}: expected one of {STYLES}")


def detection_prompt(category: str, style: str = "strict") -> Prompt:
    _check(style)
    text = DETECTION_PROMPT.format(category=category)
    return Prompt(IMAGE_PREFIX + text if style == "official" else text)


def existence_prompt(category: str) -> Prompt:
    return Prompt(EXISTENCE_PROMPT.format(category=category))


def classification_prompt(dataset: str, style: str = "strict") -> Prompt:
    _check(style)
    try:
        noun = CLASSIFICATION_NOUNS[dataset]
    except KeyError:
        raise ValueError(
            f"no classification prompt for {dataset!r}: expected one of {sorted(CLASSIFICATION_NOUNS)}"
        ) from None
    text = CLASSIFICATION_PROMPT.format(article=noun.article, noun=noun.noun, attribute=noun.attribute)
    return Prompt(IMAGE_PREFIX + text if style == "official" else text)


def grounding_prompt(instruction: str, style: str = "strict") -> Prompt:
    _check(style)
    if style == "official":
        return Prompt(LISA_EVAL_PROMPT.format(instruction=instruction), system=R1_SYSTEM_PROMPT)
    return Prompt(LISA_TRAIN_PROMPT.format(instruction=instruction))
