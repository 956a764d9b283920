"""`vrft data fetch --train`: what the paper's training runs need beyond the evaluation data.

Registered with `harness.fetch.register_training` when the training plugin joins the `vrft` command
(`train_plugin.cli.add_parser`), so that harness never imports train_plugin. For each chosen task:

* the paper's published training sets of its recipes (``Recipe.paper_dataset``, PROTOCOL §4.1) are loaded
  once with ``datasets.load_dataset``, which leaves them in the Hugging Face cache for
  ``vrft train --dataset paper`` (offline later, or ``HF_DATASETS_OFFLINE=1``: then only the cache is read,
  and a set missing from it is an error that names it);
* for detection, the k-shot sample of each recipe that samples from task data (`sample_kshot`, the run's
  seed) is drawn from the data root's train annotations, and only the images it picked that are missing are
  fetched one by one through their ``coco_url`` (`harness.fetch.images`; ``--mirror`` applies), instead of
  COCO's 19 GB train2017 archive. Classification and ReasonSeg training images come with their datasets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from harness.fetch import FetchError
from harness.fetch.images import coco_urls, fetch_images, url_for
from tasks.data import DataError
from tasks.registry import TASKS
from tasks.spec import Kind
from train_plugin.data import TrainDataError, load_paper_dataset
from train_plugin.kshot import sample_kshot
from train_plugin.recipes import RECIPES


def cache_paper_sets(ids: Sequence[str]) -> Iterator[str]:
    """Load each published training set once (into the HF cache), saying what is cached."""
    for dataset_id in dict.fromkeys(ids):
        try:
            rows = len(load_paper_dataset(dataset_id))
        except (TrainDataError, OSError) as err:  # offline: ConnectionError from datasets
            raise FetchError(
                f"{dataset_id}: the paper's training set could not be fetched into the Hugging Face cache: {err} "
                "(offline, or HF_DATASETS_OFFLINE=1 with the set not cached yet? fetch it on a machine with "
                "access and copy the cache, or pass --dataset DIR to vrft train)"
            ) from None
        yield f"{dataset_id}: {rows} rows in the Hugging Face cache (vrft train --dataset paper)"


def fetch_kshot_images(task: str, root: Path, shots: int | None, seed: int, mirror: str | None) -> int:
    """Fetch the missing images of `task`'s k-shot sample (`shots`, `seed`) by their ``coco_url``; how many."""
    try:
        sample = sample_kshot(task, root, shots, seed)
    except (DataError, ValueError) as err:
        raise FetchError(f"{task}: cannot draw the k-shot sample to fetch its images: {err}") from None
    annotation = Path(sample.pool.sampled_from)
    missing = [Path(r.image.path) for r in sample.rows if not Path(r.image.path).is_file()]
    if not missing:
        return 0
    urls = coco_urls(annotation)
    return fetch_images(
        [(url_for(p, urls, annotation), p) for p in missing], mirror=mirror, what=f"{task} {shots}-shot train images"
    )


def fetch_training_data(root: Path, tasks: Sequence[str], *, mirror: str | None = None, seed: int = 0) -> Iterator[str]:
    """Everything the paper's recipes of `tasks` need beyond the evaluation data (module docstring), saying
    what is done as it goes: the k-shot images first, then the published sets."""
    recipes = [r for r in RECIPES.values() if r.task in set(tasks)]
    for recipe in recipes:
        if TASKS[recipe.task].kind is not Kind.DETECTION or recipe.shots is None:
            continue
        n = fetch_kshot_images(recipe.task, Path(root), recipe.shots, seed, mirror)
        yield f"{recipe.name}: k-shot sample (seed {seed}) in place, {n} image(s) fetched by coco_url"
    yield from cache_paper_sets([r.paper_dataset for r in recipes if r.paper_dataset])
