"""The paper's classification test lists: the official ``classification/val_data/<dataset>.pth`` + ``.txt``.

* ``.txt``: class names in label order, one per line, no trailing newline (PROTOCOL §4.4).
* ``.pth``: a ``torch.save``d list of one-key dicts ``{<cluster path>: {'label': 0-d int tensor, ...}}``.
  It is read only with ``torch.load(..., weights_only=True)``: anything but tensors, dicts, lists and
  strings is refused by torch's restricted unpickler; nothing else is ever unpickled. torch is imported
  here, lazily (harness layer; tasks never imports torch).

`read_test_list` returns ``(image path relative to the dataset's image folder, label)`` pairs: the cluster
paths (``/mnt/petrelfs/.../oxford_flowers/jpg/image_00001.jpg``) are remapped by cutting everything up to
the dataset's image folder marker (``oxford_flowers/jpg/``).
"""

from __future__ import annotations

from pathlib import Path

from harness.fetch.download import FetchError


def read_class_names(path: Path) -> list[str]:
    """Class names in label order from an official ``.txt`` (no trailing newline; one tolerated)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FetchError(f"{path}: cannot read the class list: {err}") from None
    names = text.removesuffix("\n").split("\n")
    if not names or any(not n.strip() for n in names):
        raise FetchError(f"{path}: expected one non-empty class name per line")
    if len(set(names)) != len(names):
        raise FetchError(f"{path}: duplicate class names")
    return [n.strip() for n in names]


def _load_weights_only(path: Path) -> object:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's restricted unpickler raises UnpicklingError (and others) on anything else
        raise FetchError(
            f"{path}: refused: not a tensors-only file loadable with torch.load(weights_only=True) ({err})"
        ) from None


def read_test_list(path: Path, marker: str, n_classes: int) -> list[tuple[str, int]]:
    """``(relative image path, label)`` per entry of an official ``.pth``, in file order.

    `marker` is the dataset's image folder as it appears in the cluster paths (``oxford_flowers/jpg/``);
    every path must contain it, every label must be a 0-d integer tensor in ``0..n_classes-1``.
    """
    data = _load_weights_only(Path(path))
    if not isinstance(data, list) or not data:
        raise FetchError(f"{path}: expected a non-empty list of {{image path: {{'label': tensor}}}} dicts")
    out: list[tuple[str, int]] = []
    for i, entry in enumerate(data):
        where = f"{path}: entry {i}"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise FetchError(
                f"{where}: expected a one-key dict {{image path: {{'label': tensor}}}}, got {entry!r:.120}"
            )
        ((image, info),) = entry.items()
        label = info.get("label") if isinstance(info, dict) else None
        if not isinstance(image, str) or marker not in image:
            raise FetchError(f"{where}: image path {image!r:.160} does not contain {marker!r}")
        if label is None or getattr(label, "ndim", None) != 0 or label.is_floating_point():
            raise FetchError(f"{where}: 'label' must be a 0-d integer tensor, got {label!r:.80}")
        value = int(label.item())
        if not 0 <= value < n_classes:
            raise FetchError(f"{where}: label {value} out of range 0..{n_classes - 1}")
        out.append((image.split(marker, 1)[1], value))
    if len({p for p, _ in out}) != len(out):
        raise FetchError(f"{path}: an image is listed twice")
    return out
