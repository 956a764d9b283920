"""Single images by URL (COCO's ``coco_url``): the LVIS images a task references and the sampled train2017
images of a k-shot run, instead of the 19 GB train2017 archive.

Each image goes through `download` (resumable ``.part``, complete by ``Content-Length``, placed atomically)
and must decode before it is placed (no checksum is published per image). Several are fetched at once
(`WORKERS`), with one progress bar for all; images already on disk are not fetched again. A failed image
does not stop the others: the run ends with one `FetchError` that counts and names them, and a rerun
fetches only what is still missing. ``--mirror`` rewrites every URL like any other source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from harness.fetch.download import FetchError, Remote, download
from tasks.data import read_json
from tasks.data.detection import lvis_relative_path

WORKERS = 8
SHOWN = 5  # failed images named in the error


def decodes(path: Path) -> str | None:
    """Why `path` is not a usable image (None when it decodes)."""
    try:
        with Image.open(path) as im:
            im.load()
    except Exception as err:  # any decoder failure is a finding: the download is not placed
        return f"not a decodable image ({type(err).__name__}: {err})"
    return None


def coco_urls(annotation: Path) -> dict[str, str]:
    """``<split>/<file>`` (the last two parts of each ``coco_url``, e.g. ``train2017/000000397133.jpg``) ->
    the URL, for every image of a COCO or LVIS annotation file."""
    data: Any = read_json(Path(annotation), "COCO/LVIS annotation file")
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise FetchError(f"{annotation}: expected a COCO/LVIS annotation file with an 'images' list")
    out: dict[str, str] = {}
    for i, img in enumerate(images):
        url = img.get("coco_url") if isinstance(img, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise FetchError(f"{annotation}: images[{i}] has no http(s) 'coco_url' to fetch it from")
        out[lvis_relative_path(url)] = url
    return out


def url_for(path: Path, urls: Mapping[str, str], annotation: Path) -> str:
    """The URL of the image `path` (``.../<split>/<file>``) in `urls` (`coco_urls` of `annotation`)."""
    key = "/".join(Path(path).parts[-2:])
    if key not in urls:
        raise FetchError(f"{path}: {annotation} has no image whose coco_url ends in {key}")
    return urls[key]


def fetch_images(
    wanted: Iterable[tuple[str, Path]], *, mirror: str | None = None, what: str = "images", workers: int = WORKERS
) -> int:
    """Fetch every ``(url, destination)`` whose destination is not a file yet; returns how many were fetched.
    Raises one `FetchError` for all the images that failed (the others stay placed)."""
    todo: Sequence[tuple[str, Path]] = [(u, Path(d)) for u, d in dict.fromkeys(wanted) if not Path(d).is_file()]
    if not todo:
        return 0
    failed: list[str] = []
    with (
        tqdm(total=len(todo), unit="img", desc=what, position=1, leave=False) as bar,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):

        def one(item: tuple[str, Path]) -> None:
            url, dest = item
            try:
                download(Remote(url, dest.name), dest, mirror=mirror, quiet=True, validate=decodes)
            except FetchError as err:
                failed.append(str(err))
            finally:
                bar.update(1)

        list(pool.map(one, todo))
    if failed:
        shown = "; ".join(sorted(failed)[:SHOWN])
        more = f" and {len(failed) - SHOWN} more" if len(failed) > SHOWN else ""
        raise FetchError(
            f"{len(failed)} of {len(todo)} {what} could not be fetched ({shown}{more}); the others are in place: "
            "run the command again to fetch the rest"
        )
    return len(todo)
