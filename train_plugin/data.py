"""Training sets in the paper's format: HF ``datasets`` with columns ``image``, ``problem``, ``solution``.

Two sources, one shape:
* the published sets (PROTOCOL §4.1, e.g. ``laolao77/ViRFT_COCO_8_cate_4_shot``): a hub id or a local
  directory in *either* layout, hub parquet (``load_dataset``) or ``save_to_disk`` (``load_from_disk``).
  The official code only read the second one (D30). ``problem`` is the user text verbatim (PROTOCOL §2.1);
* k-shot sets sampled from task data (`train_plugin.kshot`), whose ``problem`` is the task's own
  ``Request.text`` in the training rendering, so train and eval prompts are byte-identical.

`validate` checks every row before a step is spent: a missing column names the expected ones, an
unparseable solution names its row. `to_grpo` / `to_sft` add the conversational columns TRL expects
(`tasks.chat` in the TRL style: the image goes before the text in the user turn, no system message: the
official training prompt).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.chat import TRL, chat_messages
from tasks.registry import get_task
from tasks.spec import Profile

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger("vrft.train")

REQUIRED_COLUMNS = ("image", "problem", "solution")


class TrainDataError(ValueError):
    """A training set that cannot be used; the message names the dataset, the column or the row."""


@dataclass
class TrainData:
    """A validated training set plus how it was made (``spec`` goes into the run manifest)."""

    dataset: Dataset
    spec: dict[str, Any]
    sample_ids: list[str] = field(default_factory=list)

    def manifest_entry(self) -> dict[str, Any]:
        return {**self.spec, "rows": len(self.dataset), "sample_ids": list(self.sample_ids)}


def _is_save_to_disk_dir(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def load_paper_dataset(source: str | Path, split: str = "train") -> Dataset:
    """A published training set from a hub id or a local directory (hub parquet or save_to_disk layout)."""
    import datasets

    path = Path(source)
    try:
        if path.is_dir() and _is_save_to_disk_dir(path):
            loaded: Any = datasets.load_from_disk(str(path))
        else:
            loaded = datasets.load_dataset(str(source), split=split)
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as err:
        raise TrainDataError(
            f"training dataset {str(source)!r} cannot be loaded ({type(err).__name__}: {err}); expected a hub id "
            f"(e.g. laolao77/ViRFT_COCO_8_cate_4_shot) or a directory written by `datasets` "
            f"(parquet files, or save_to_disk)"
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise TrainDataError(f"training dataset {str(source)!r} has splits {sorted(loaded)}, not {split!r}")
        loaded = loaded[split]
    if not isinstance(loaded, datasets.Dataset):
        raise TrainDataError(f"training dataset {str(source)!r}: expected a Dataset, got {type(loaded).__name__}")
    return loaded


def validate(dataset: Dataset, task: str, name: str = "training dataset") -> None:
    """Check the columns and that every solution parses with `task`'s verifier.

    Solutions are read by the task's strict verifier whatever the reward profile: the official one accepts
    any string (it parses inside each reward call and scores 0 on failure), which would hide a broken row.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in dataset.column_names]
    if missing:
        raise TrainDataError(
            f"{name}: missing column(s) {missing}; expected columns {list(REQUIRED_COLUMNS)} "
            f"(image: the picture, problem: the user text, solution: '<answer>...</answer>'), "
            f"found {dataset.column_names}"
        )
    if len(dataset) == 0:
        raise TrainDataError(f"{name}: no rows")
    t = get_task(task, Path())  # built without data: only its verifier is needed, which reads none
    verifier = t.verifier(Profile.STRICT)
    for i, (problem, solution) in enumerate(zip(dataset["problem"], dataset["solution"], strict=True)):
        if not isinstance(problem, str) or not problem.strip():
            raise TrainDataError(f"{name}: row {i}: 'problem' must be non-empty text, got {problem!r:.80}")
        if not isinstance(solution, str):
            raise TrainDataError(f"{name}: row {i}: 'solution' must be text, got {type(solution).__name__}")
        try:
            verifier.parse_target(solution)
        except ValueError as err:
            raise TrainDataError(
                f"{name}: row {i}: unparseable solution for task {task} ({t.kind.value}): {err}"
            ) from None


def from_paper_dataset(source: str | Path, task: str, split: str = "train") -> TrainData:
    """Load and validate a published training set; the sample ids are the row indices."""
    dataset = load_paper_dataset(source, split)
    validate(dataset, task, f"training dataset {str(source)!r}")
    spec = {"source": "dataset", "dataset": str(source), "split": split, "task": task}
    return TrainData(dataset, spec, [str(i) for i in range(len(dataset))])


def _user_turn(example: dict[str, Any]) -> list[dict[str, Any]]:
    # String content: TRL inserts the image placeholder before the text (trl.data_utils.prepare_multimodal_messages).
    return chat_messages(example["problem"], None, None, TRL)


def to_grpo(dataset: Dataset) -> Dataset:
    """Add the conversational ``prompt`` column GRPOTrainer renders with the processor's chat template."""
    return dataset.map(lambda ex: {"prompt": _user_turn(ex)})


class ImagePolicy:
    """Resize each row's image to the training policy on access (RGB, Qwen2-VL `smart_resize`, bicubic).

    Used for vLLM rollouts: vLLM runs its *own* processor, loaded from the model directory with that
    directory's pixel limits, so the image must already have the training size for both engines to see
    the same pixels (the processors' resize is then the identity). Picklable for data-loader workers.
    """

    def __init__(self, min_pixels: int, max_pixels: int) -> None:
        self.min_pixels, self.max_pixels = min_pixels, max_pixels

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        from PIL import Image

        from harness.backends.images import smart_resize, to_rgb

        images = []
        for image in batch["image"]:
            image = to_rgb(image)
            h, w = smart_resize(image.height, image.width, min_pixels=self.min_pixels, max_pixels=self.max_pixels)
            images.append(image if (w, h) == image.size else image.resize((w, h), Image.Resampling.BICUBIC))
        return {**batch, "image": images}


def with_image_policy(dataset: Dataset, min_pixels: int, max_pixels: int) -> Dataset:
    """`dataset` whose images come out already resized to the policy (lazily, nothing is rewritten)."""
    return dataset.with_transform(ImagePolicy(min_pixels, max_pixels))


def sft_target(solution: str, think: str = "") -> str:
    """The SFT assistant message: the solution's answer block, after a ``<think>`` block when `think` is given.

    The paper's "+SFT" rows imitate the ground truth; a reasoning trace for ``<think>`` does not exist in
    the data, so by default the target is the ``<answer>...</answer>`` block alone (the strict format reward of
    such a model is 0; its accuracy is scored normally by `vrft eval`). `think` (`Recipe.sft_think`) is a fixed
    template reasoning put before it, ``<think>{think}</think><answer>...</answer>``: a warm start that teaches
    the whole format the strict reward asks for (the demo's), not a reasoning to imitate.
    """
    answer = solution.strip()
    return f"<think>{think}</think>{answer}" if think else answer


def to_sft(dataset: Dataset, think: str = "", shuffle_seed: int | None = None) -> Dataset:
    """Prompt-completion conversational columns for SFTTrainer (loss on the completion only); `think`: see
    `sft_target`.

    `shuffle_seed`: when set, row i's target is the solution of row perm[i] (a permutation drawn from the seed)
    instead of its own: a warm start that learns the answer format and vocabulary (class names, box syntax,
    typical sizes) but, by construction, nothing about which answer fits which image (`Recipe.sft_shuffled`).
    """
    solutions = list(dataset["solution"])
    if shuffle_seed is not None:
        import numpy as np

        solutions = [solutions[j] for j in np.random.default_rng(shuffle_seed).permutation(len(solutions))]

    def columns(ex: dict[str, Any], i: int) -> dict[str, Any]:
        target = sft_target(solutions[i], think)
        return {"prompt": _user_turn(ex), "completion": [{"role": "assistant", "content": target}]}

    return dataset.map(columns, with_indices=True)
