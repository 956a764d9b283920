"""The classification prompt (PROTOCOL §2.4) and each dataset's noun; the answer is read by
`tasks.classification.parse`."""

from __future__ import annotations

from dataclasses import dataclass

from tasks.prompts import Prompt, check_style, with_image_prefix

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


def classification_prompt(dataset: str, style: str = "strict") -> Prompt:
    check_style(style)
    try:
        noun = CLASSIFICATION_NOUNS[dataset]
    except KeyError:
        raise ValueError(
            f"no classification prompt for {dataset!r}: expected one of {sorted(CLASSIFICATION_NOUNS)}"
        ) from None
    text = CLASSIFICATION_PROMPT.format(article=noun.article, noun=noun.noun, attribute=noun.attribute)
    return with_image_prefix(text, style)
