"""One file over HTTP(S): resumable (HTTP Range), verified, placed atomically, with a progress bar.

The bytes go to ``<dest>.part``; a rerun asks the server for the rest (``Range: bytes=N-``) and appends
when it answers 206 (a 200 starts again). Only a complete file whose size and checksum match is renamed
to ``dest`` (``os.replace``); a mismatch deletes the partial file and raises `FetchError` naming the file,
the URL and the expected value. A `dest` that exists with the expected size (and checksum, when one is
known and ``verify_existing``) is not fetched again.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

CHUNK = 1 << 16
TIMEOUT_S = 60


class FetchError(RuntimeError):
    """A download or an archive failed; the message names the file, the source and what was expected."""


@dataclass(frozen=True)
class Remote:
    """One file to fetch: where from, and what it must be (size in bytes, sha256 or the publisher's md5)."""

    url: str
    name: str  # the file name it is stored under
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None

    def expected(self) -> str:
        parts = [f"sha256 {self.sha256}"] if self.sha256 else []
        parts += [f"md5 {self.md5}"] if self.md5 else []
        parts += [f"{self.size} bytes"] if self.size is not None else []
        return ", ".join(parts) or "any content (no checksum known)"


def mirrored(url: str, mirror: str | None) -> str:
    """`url` served by `mirror` (``BASE/<host>/<path>``), for proxies and the tests; `url` itself without one."""
    if not mirror:
        return url
    rest = url.split("://", 1)[1]
    return mirror.rstrip("/") + "/" + rest


def _digests(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def verify(path: Path, remote: Remote) -> str | None:
    """Why `path` is not `remote` (size or checksum), or None when it matches."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"size {size} bytes, expected {remote.size}"
    if remote.sha256 or remote.md5:
        sha, md5 = _digests(path)
        if remote.sha256 and sha != remote.sha256:
            return f"sha256 {sha}, expected {remote.sha256}"
        if remote.md5 and md5 != remote.md5:
            return f"md5 {md5}, expected {remote.md5}"
    return None


def _open(url: str, offset: int) -> http.client.HTTPResponse:
    if not url.startswith(("http://", "https://")):
        raise FetchError(f"{url}: only http(s) URLs are fetched (use --from for a local file)")
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})  # noqa: S310
    response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310
    return response


def download(
    remote: Remote,
    dest: Path,
    *,
    mirror: str | None = None,
    position: int = 0,
    quiet: bool = False,
    validate: Callable[[Path], str | None] | None = None,
) -> bool:
    """Fetch `remote` to `dest` unless it is already there and matches; True when bytes were fetched.

    `quiet`: no progress bar of its own (many small files: the caller shows one); `validate(part)` says
    why a complete download is unusable (e.g. an image that does not decode) before it is placed."""
    dest = Path(dest)
    if dest.is_file() and (remote.size is None or dest.stat().st_size == remote.size):
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    url = mirrored(remote.url, mirror)
    offset = part.stat().st_size if part.is_file() else 0
    total: int | None = remote.size
    try:
        response = _open(url, offset)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # the partial file is already complete (or longer than the file)
            response = None
        else:
            raise FetchError(f"{dest.name}: {url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise FetchError(f"{dest.name}: {url}: {err}") from None
    if response is not None:
        with response:
            if offset and getattr(response, "status", 200) != 206:  # the server ignored Range: start again
                offset = 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else remote.size
            with (
                part.open("ab" if offset else "wb") as out,
                tqdm(
                    total=total,
                    initial=offset,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=remote.name,
                    position=position,
                    leave=False,
                    disable=quiet,
                ) as bar,
            ):
                try:
                    while block := response.read(CHUNK):
                        out.write(block)
                        bar.update(len(block))
                # connection dropped: keep the part for the next run
                except (OSError, http.client.HTTPException) as err:
                    raise FetchError(
                        f"{dest.name}: {url}: connection lost after {out.tell()} bytes ({err}); "
                        "run the command again to resume"
                    ) from None
    want = remote.size if remote.size is not None else total
    if want is not None and part.stat().st_size < want:
        raise FetchError(
            f"{dest.name}: {url}: got {part.stat().st_size} of {want} bytes (connection lost); "
            "run the command again to resume"
        )
    problem = verify(part, remote)
    if problem is None and validate is not None:
        problem = validate(part)
    if problem is not None:
        part.unlink()
        raise FetchError(f"{dest.name}: {url}: {problem}; the download was deleted, nothing was placed")
    os.replace(part, dest)
    return True
