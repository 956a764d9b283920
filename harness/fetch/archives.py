"""Unpacking verified downloads (and what the user hands over with ``--from``) without leaving anything
half-placed.

Everything is unpacked into a temporary folder beside its target (`staging`) and moved into place with
``os.replace`` only when complete, so an interrupted run leaves the data root as it was; the temporary
folder is removed either way. Tar members go through the ``data`` extraction filter and zip members with
absolute or ``..`` paths are refused, so an archive can never write outside its folder.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from harness.fetch.download import FetchError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


@contextmanager
def staging(target_parent: Path) -> Iterator[Path]:
    """A fresh temporary folder inside `target_parent` (same file system: ``os.replace`` works), removed
    on exit whatever happened, with `target_parent` itself when this made it and nothing was placed."""
    created = not target_parent.exists()
    target_parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target_parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(target_parent.iterdir()):
            target_parent.rmdir()


def move_into_place(src: Path, dest: Path, archive: Path | str = "") -> None:
    """Replace `dest` (a file or a folder) by `src`; `archive` names where `src` should have come from."""
    if not src.exists():
        where = f"{archive}: " if archive else ""
        raise FetchError(f"{dest}: {where}no {src.name} where the upstream layout has it")
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    os.replace(src, dest)


def extract_tar(archive: Path, into: Path, members: Callable[[str], bool] = lambda _: True) -> None:
    """Unpack the members of a tar (gz or not) whose name `members` accepts."""
    try:
        with tarfile.open(archive) as tf:
            chosen = [m for m in tf.getmembers() if members(m.name.removeprefix("./"))]
            tf.extractall(into, members=chosen, filter="data")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise FetchError(f"{archive}: broken archive ({err}); delete it and run again") from None


def read_tar_member(archive: Path, name: str) -> bytes:
    """The bytes of one member of a tar archive (a missing member names the archive and the member)."""
    try:
        with tarfile.open(archive) as tf:
            member = next((m for m in tf if m.isfile() and m.name.removeprefix("./") == name), None)
            handle = tf.extractfile(member) if member is not None else None
            if handle is None:
                raise KeyError(name)
            return handle.read()
    except KeyError:
        raise FetchError(f"{archive}: no member {name!r} (expected the upstream archive)") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise FetchError(f"{archive}: broken archive ({err}); delete it and run again") from None


def extract_zip(archive: Path, into: Path, members: Callable[[str], bool] = lambda _: True) -> None:
    """Unpack the members of a zip whose name `members` accepts; a member leading outside is refused."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                path = PurePosixPath(name)
                if path.is_absolute() or ".." in path.parts:
                    raise FetchError(f"{archive}: member {name!r} points outside the archive; refused")
                if members(name):
                    zf.extract(name, into)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as err:
        raise FetchError(f"{archive}: broken archive ({err}); delete it and run again") from None


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def unpack_given(given: Path, into: Path) -> Path:
    """What the user handed over (``--from``): a folder is used where it is (read only, never moved), an
    archive is unpacked into `into`; returns the folder to search."""
    if given.is_dir():
        return given
    if not given.is_file():
        raise FetchError(f"{given}: not found (--from takes a folder, an archive or an http(s) URL)")
    if not is_archive(given):
        raise FetchError(f"{given}: not a folder or an archive ({', '.join(ARCHIVE_SUFFIXES)})")
    into.mkdir(parents=True, exist_ok=True)
    if given.name.lower().endswith(".zip"):
        extract_zip(given, into)
    else:
        extract_tar(given, into)
    return into


def find_dirs(roots: list[Path], accept: Callable[[Path], bool], max_depth: int = 4) -> list[Path]:
    """Folders under `roots` (themselves included, at most `max_depth` levels down) that `accept`, in a
    fixed order (shallowest first)."""
    found: list[Path] = []
    for root in roots:
        level = [root]
        for _ in range(max_depth + 1):
            found += [d for d in level if accept(d)]
            level = sorted(c for d in level for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
    return found


def copy_or_move(src: Path, dest: Path, *, keep_source: bool) -> None:
    """Put the folder `src` at `dest` atomically: copied first (the user's own folder is never touched)
    or moved (an unpacked temporary folder), then swapped in with ``os.replace``."""
    if not keep_source:
        move_into_place(src, dest)
        return
    with staging(dest.parent) as tmp:
        shutil.copytree(src, tmp / dest.name)
        move_into_place(tmp / dest.name, dest)
