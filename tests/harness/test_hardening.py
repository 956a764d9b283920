"""Nothing lost, nothing left behind: `vrft eval` / `vrft score` against bad images, torn files, kills,
full disks, read-only and corrupt run directories, and two processes on one run directory.

Model-free: `ImageBackend` loads every image exactly as the real backends do (`load_request_image`) and
answers from a table, so an unreadable image fails its request the way it does on vLLM.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness import score_cmd
from harness.backends.base import ChatRequest, Generation, GenerationParams, load_request_image
from harness.backends.images import ImageLoadError, load_image
from harness.cli import main
from harness.config import EvalConfig, Shard
from harness.records import RunLockedError, drop_torn_tail, run_lock
from harness.runner import run_eval
from harness.score_cmd import ScoreError, score_run
from tasks.metrics.coco import OfficialEvaluatorError
from tasks.registry import get_task
from tasks.synthetic import write_synthetic

TASKS = ("fgvc_pets37", "coco_fewshot", "lisa_grounding")  # one task of every family
LIMIT = 4


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hardening") / "data"
    write_synthetic(root)
    return root


@pytest.fixture
def root(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the synthetic data root that a test may damage."""
    dst = tmp_path / "data"
    shutil.copytree(pristine, dst)
    return dst


def perfect(root: Path, tasks: Sequence[str] = TASKS, **args: Any) -> dict[str, str]:
    return {
        r.request_id: "<think>x</think>" + r.solution
        for name in tasks
        for r in get_task(name, root, limit=LIMIT, **args).requests()
    }


class ImageBackend:
    """Loads each request's image as every backend does; answers from `answers`; `hook` runs before a batch."""

    name = "fake"

    def __init__(self, answers: dict[str, str], hook: Callable[[], None] | None = None) -> None:
        self.answers, self.hook, self.closed = answers, hook, False

    def generate(self, requests: Sequence[ChatRequest]) -> list[Generation]:
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        out = []
        for r in requests:
            try:
                load_request_image(r, GenerationParams())
            except ImageLoadError as exc:
                out.append(Generation.failed(r.request_id, str(exc)))
                continue
            out.append(Generation(r.request_id, self.answers.get(r.request_id, "<answer>?</answer>")))
        return out

    def close(self) -> None:
        self.closed = True

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name}


def config(root: Path, tasks: Sequence[str] = TASKS, model: str = "fake-model", backend: str = "fake") -> EvalConfig:
    return EvalConfig(
        model=model, tasks=tuple(tasks), data_root=str(root), backend=backend, task_args={"limit": LIMIT}, batch_size=2
    )


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def saved_generations(root: Path, path: Path, tasks: Sequence[str] = TASKS) -> Path:
    path.write_text("".join(json.dumps({"request_id": k, "text": v}) + "\n" for k, v in perfect(root, tasks).items()))
    return path


# ---- 2: an unreadable image costs its request, in every family; scoring needs no images ------------------


def test_unreadable_images_fail_their_requests_and_the_run_goes_on(root: Path, tmp_path: Path) -> None:
    answers = perfect(root)
    pets = [r.image.path for r in get_task("fgvc_pets37", root, limit=LIMIT).requests()]
    pets[0].unlink()  # missing
    pets[1].write_bytes(b"")  # empty
    pets[2].write_bytes(b"\xff\xd8 not a jpeg at all")  # undecodable
    lisa = next(get_task("lisa_grounding", root, limit=LIMIT).requests())
    lisa.image.path.unlink()
    coco = next(get_task("coco_fewshot", root, limit=LIMIT).requests())
    coco.image.path.write_bytes(b"")

    run = run_eval(config(root), tmp_path / "run", backend=ImageBackend(answers))  # type: ignore[arg-type]
    report = score_run(run)

    pets_m, coco_m, lisa_m = (report[n] for n in TASKS)
    assert pets_m["generation_errors"] == 3 and pets_m["n"] == LIMIT
    assert pets_m["accuracy"] == pytest.approx(100 / LIMIT)  # the failed requests count as wrong
    assert lisa_m["generation_errors"] == 1 and coco_m["generation_errors"] >= 1
    errors = {s["request_id"]: s["error"] for s in lines(run / "scores.jsonl") if s["parse"] == "generation_error"}
    assert "image not found" in errors["Abyssinian_2001.jpg"] and str(pets[0]) in errors["Abyssinian_2001.jpg"]
    assert "cannot read image" in errors[pets[1].name] and "cannot read image" in errors[pets[2].name]
    assert ["fgvc_pets37", "generation errors", "3"] in report.rows()  # in the printed summary too

    # the images are gone: the run is re-scored from its files alone (LISA sizes from the run record)
    for image in root.rglob("*"):
        if image.suffix in (".jpg", ".png"):
            image.unlink()
    again = score_run(run)
    for name in TASKS:
        for key in ("accuracy", "mAP", "mIoU_val", "mIoU_test", "generation_errors"):
            assert again[name].get(key) == report[name].get(key), (name, key)


def test_scoring_without_images_or_sizes_is_a_clear_error_for_lisa(root: Path, tmp_path: Path) -> None:
    gens = saved_generations(root, tmp_path / "gens.jsonl", ["lisa_grounding"])
    task = get_task("lisa_grounding", root, limit=LIMIT)
    first = next(task.requests())
    first.image.path.unlink()
    fresh = get_task("lisa_grounding", root, limit=LIMIT)
    assert next(fresh.requests()).image.width == 0  # loads: size unknown, the request still goes out
    texts = {r: t for r, t in (json.loads(x).values() for x in gens.read_text().splitlines())}
    with pytest.raises(ValueError, match=f"{first.request_id}: an answer exists but the size of .*unknown"):
        fresh.score(texts, "strict")


def test_a_decompression_bomb_is_an_image_error(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    image = next(get_task("fgvc_pets37", root, limit=1).requests()).image.path
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(ImageLoadError, match="DecompressionBombError"):
        load_image(image)


# ---- 9: a complete last line without its newline is kept ---------------------------------------------------


def test_drop_torn_tail_keeps_a_complete_line_and_cuts_a_torn_one(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    whole = [json.dumps({"request_id": str(i), "text": "x"}) for i in range(3)]
    path.write_text("\n".join(whole))  # the last line lacks only its newline
    drop_torn_tail(path)
    assert path.read_text() == "\n".join(whole) + "\n"
    path.write_text("\n".join(whole) + "\n" + whole[0][:-5])  # a torn line
    drop_torn_tail(path)
    assert path.read_text() == "\n".join(whole) + "\n"


def test_resume_after_a_kill_before_the_last_newline(root: Path, tmp_path: Path) -> None:
    cfg = config(root, ["fgvc_pets37"])
    run = run_eval(cfg, tmp_path / "run", backend=ImageBackend(perfect(root)))  # type: ignore[arg-type]
    gens = run / "generations.jsonl"
    kept = gens.read_text().splitlines()
    # killed after writing line 3 but before its newline, with line 4 still pending
    gens.write_text("\n".join(kept[:3]))
    run_eval(cfg, run, backend=ImageBackend(perfect(root)))  # type: ignore[arg-type]
    assert sorted(g["request_id"] for g in lines(gens)) == sorted(json.loads(x)["request_id"] for x in kept)
    assert score_run(run)["fgvc_pets37"]["accuracy"] == 100.0  # one rerun is enough


# ---- 7: one writer per run directory (per shard) ------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_holder_named(root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    backend = ImageBackend(perfect(root))
    with run_lock(run, "generations.jsonl"), pytest.raises(RunLockedError) as info:
        run_eval(config(root), run, backend=backend)  # type: ignore[arg-type]
    message = str(info.value)
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in message and "--run-dir" in message
    assert not (run / "generations.jsonl").exists()
    # shards lock their own files: shard 1 runs while shard 0 is held
    with run_lock(run, Shard(0, 2).filename):
        run_eval(config(root), run, Shard(1, 2), backend=backend)  # type: ignore[arg-type]
    assert lines(run / Shard(1, 2).filename)
    # the lock dies with its holder: after the block the same run goes ahead
    run_eval(config(root), run, Shard(0, 2), backend=backend)  # type: ignore[arg-type]


def test_a_second_vrft_eval_process_is_refused(root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    saved = saved_generations(root, tmp_path / "saved.jsonl", ["fgvc_pets37"])
    cmd = [sys.executable, "-m", "harness.cli", "eval", "--backend", "replay", "--model", str(saved)]
    cmd += ["--tasks", "fgvc_pets37", "--data-root", str(root), "--run-dir", str(run), "--task-arg", "limit=2"]
    with run_lock(run, "generations.jsonl"):
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 2, res.stderr
    assert f"is locked by pid {os.getpid()}" in res.stderr and "Traceback" not in res.stderr
    assert not (run / "generations.jsonl").exists()


def test_concurrent_shards_keep_each_others_manifest_entries(root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    answers = perfect(root)

    def shard_1_meanwhile() -> None:  # runs while shard 0 is generating
        run_eval(config(root), run, Shard(1, 2), backend=ImageBackend(answers))  # type: ignore[arg-type]

    run_eval(config(root), run, Shard(0, 2), backend=ImageBackend(answers, hook=shard_1_meanwhile))  # type: ignore[arg-type]
    manifest = json.loads((run / "manifest.json").read_text())
    assert sorted(s["shard"] for s in manifest["sessions"]) == ["0/2", "1/2"]
    assert len(manifest["timing"]) == 2
    assert score_run(run)["fgvc_pets37"]["accuracy"] == 100.0


# ---- 8: scores.jsonl first, metrics.json last -----------------------------------------------------------


class Killed(BaseException):
    pass


def test_metrics_json_exists_only_when_scoring_completed(root: Path, tmp_path: Path, monkeypatch: Any) -> None:
    run = run_eval(config(root, ["fgvc_pets37"]), tmp_path / "run", backend=ImageBackend(perfect(root)))  # type: ignore[arg-type]
    score_run(run)
    assert (run / "metrics.json").is_file()

    def killed(*args: Any) -> None:
        raise Killed

    monkeypatch.setattr(score_cmd, "atomic_write_jsonl", killed)  # killed while writing scores.jsonl
    with pytest.raises(Killed):
        score_run(run)
    assert not (run / "metrics.json").exists()  # no metrics.json without its scores.jsonl
    monkeypatch.undo()
    monkeypatch.setattr(score_cmd, "atomic_write_json", killed)  # killed while writing metrics.json
    with pytest.raises(Killed):
        score_run(run)
    assert (run / "scores.jsonl").is_file() and not (run / "metrics.json").exists()


# ---- 5: the official evaluator's crash names the generations line --------------------------------------------


def test_official_evaluator_error_names_the_generations_line(root: Path, tmp_path: Path) -> None:
    answers = perfect(root, ["coco_fewshot"])
    task = get_task("coco_fewshot", root, limit=LIMIT)
    bad = next(r.request_id for r in task.requests() if "Position" in r.solution)
    answers[bad] = "<answer>[{'Position': [1, 2, 300, 400], 'Confidence': 'high'}]</answer>"
    run = run_eval(config(root, ["coco_fewshot"]), tmp_path / "run", backend=ImageBackend(answers))  # type: ignore[arg-type]
    number = next(i for i, g in enumerate(lines(run / "generations.jsonl"), 1) if g["request_id"] == bad)
    with pytest.raises(OfficialEvaluatorError) as info:
        score_run(run, "official")
    message = str(info.value)
    assert f"request {bad} (Confidence 'high'" in message and "coco_fewshot" in message
    assert f"{bad} at {run / 'generations.jsonl'}:{number}" in message


# ---- 10: one clear line for a full disk, a read-only run, a missing replay file, a corrupt manifest -----------


def eval_args(root: Path, run: Path, model: Path, *extra: str) -> list[str]:
    return [
        "eval",
        "--backend",
        "replay",
        "--model",
        str(model),
        "--tasks",
        "fgvc_pets37",
        "--data-root",
        str(root),
        "--run-dir",
        str(run),
        "--task-arg",
        "limit=3",
        *extra,
    ]


def one_error_line(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("vrft ")]
    assert len(err) == 1, err
    for needle in needles:
        assert needle in err[0], (needle, err[0])
    return err[0]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_clear_line(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "generations.jsonl").symlink_to("/dev/full")  # every write: ENOSPC
    saved = saved_generations(root, tmp_path / "saved.jsonl", ["fgvc_pets37"])
    assert main(eval_args(root, run, saved)) == 2
    one_error_line(capsys, str(run / "generations.jsonl"), "No space left on device", "rerun the same command")


def test_a_read_only_run_is_scored_elsewhere(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_eval(config(root, ["fgvc_pets37"]), tmp_path / "run", backend=ImageBackend(perfect(root)))  # type: ignore[arg-type]
    real = tempfile.mkstemp

    def read_only(*args: Any, dir: Any = None, **kw: Any) -> tuple[int, str]:
        if Path(dir) == run:
            raise OSError(errno.EROFS, "Read-only file system", str(run))
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert main(["score", str(run)]) == 2
    one_error_line(capsys, str(run / "scores.jsonl"), "Read-only file system", "--out DIR")
    out = tmp_path / "elsewhere"
    assert main(["score", str(run), "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["fgvc_pets37"]["accuracy"] == 100.0
    assert not (run / "metrics.json").exists()


def test_a_missing_replay_file_is_one_clear_line(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(eval_args(root, tmp_path / "run", missing)) == 2
    one_error_line(capsys, str(missing), "not found")


@pytest.mark.parametrize(
    ("content", "needle"),
    [('{"identity": ', "corrupt (not valid JSON"), ("[1, 2]", "not a vrft run manifest"), ("{}", "identity")],
)
def test_a_corrupt_manifest_is_named(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    saved = saved_generations(root, tmp_path / "saved.jsonl", ["fgvc_pets37"])
    run = tmp_path / "run"
    assert main(eval_args(root, run, saved)) == 0
    capsys.readouterr()
    (run / "manifest.json").write_text(content)
    assert main(["score", str(run)]) == 2
    one_error_line(capsys, str(run / "manifest.json"), needle)
    assert main(eval_args(root, run, saved)) == 2
    one_error_line(capsys, str(run / "manifest.json"), needle)


def test_a_replay_file_with_a_bad_byte_names_file_and_line(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = saved_generations(root, tmp_path / "saved.jsonl", ["fgvc_pets37"])
    data = saved.read_bytes().split(b"\n")
    data[1] = data[1].replace(b"think", b"th\xffnk")
    saved.write_bytes(b"\n".join(data))
    assert main(eval_args(root, tmp_path / "run", saved)) == 2
    one_error_line(capsys, f"{saved}:2", "not valid UTF-8")


def test_scoring_a_run_with_a_corrupt_generations_line_names_what_is_missing(root: Path, tmp_path: Path) -> None:
    run = run_eval(config(root, ["fgvc_pets37"]), tmp_path / "run", backend=ImageBackend(perfect(root)))  # type: ignore[arg-type]
    gens = run / "generations.jsonl"
    data = gens.read_bytes().split(b"\n")
    data[0] = data[0][:10] + b"\xff" + data[0][11:]
    gens.write_bytes(b"\n".join(data))
    with pytest.raises(ScoreError, match="1 request\\(s\\) have no generation"):
        score_run(run)
