"""Fixtures of the `vrft data fetch` tests: the upstream files built from the synthetic data and a local
HTTP server serving them (`fetch_upstream`). The sources table is pointed at these files' own sizes and
sha256 (the real one holds the publishers' checksums), the paper's test-list lengths at the synthetic ones."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fetch_upstream import Server, Upstream, build_upstream, start_server, url_path  # tests/fetch/

from harness.cli import main
from harness.fetch import sources as src

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Upstream:
    return build_upstream(tmp_path_factory.mktemp("synth") / "data")


@pytest.fixture
def server(upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    httpd = start_server(upstream)
    for key, body in upstream.sources.items():
        remote = src.SOURCES[key]
        httpd.files[url_path(remote.url)] = body
        monkeypatch.setitem(
            src.SOURCES, key, replace(remote, size=len(body), sha256=hashlib.sha256(body).hexdigest(), md5=None)
        )
    for dataset, index in (
        ("flowers102", "oxford_flowers/split_zhou_OxfordFlowers.json"),
        ("pets37", "oxford_pets/split_zhou_OxfordPets.json"),
        ("cars196", "stanford_cars/split_zhou_StanfordCars.json"),
    ):
        monkeypatch.setitem(src.TEST_COUNTS, dataset, len(json.loads((upstream.synth / index).read_text())["test"]))
    aircraft_test = (upstream.synth / "fgvc_aircraft" / "images_variant_test.txt").read_text().splitlines()
    monkeypatch.setitem(src.TEST_COUNTS, "aircraft", len(aircraft_test))
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def given(upstream: Upstream, tmp_path: Path) -> dict[str, Path]:
    """The --from files (cars_test.tgz, cars_train.tgz, car_devkit.tgz, ReasonSeg.zip) on local disk."""
    folder = tmp_path / "downloads_by_hand"
    folder.mkdir()
    for name, body in upstream.given.items():
        (folder / name).write_bytes(body)
    return {name: folder / name for name in upstream.given}


@pytest.fixture
def run_fetch(server: Server) -> Callable[..., int]:
    """`vrft data fetch --data-root ROOT --tasks TASKS [--mirror <test server>] ...` through the CLI."""

    def run(root: Path, tasks: str, *extra: str, mirror: bool = True) -> int:
        mirror_args = ["--mirror", server.base] if mirror else []
        return main(["data", "fetch", "--data-root", str(root), "--tasks", tasks, *mirror_args, *extra])

    return run
