"""`vrft score RUN_DIR --profile P` re-scores a run exactly as `vrft eval --profile P` scores it (issue 12):
the official profile renders the official prompts (`prompt=official`), whose text the official reward reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from tasks.registry import get_task
from tasks.synthetic import write_synthetic

TASKS = ("fgvc_pets37", "coco_fewshot", "lisa_grounding")  # one task of every family


def _eval(gens: Path, root: Path, run: Path, profile: str) -> list[str]:
    return [
        "eval",
        "--backend",
        "replay",
        "--model",
        str(gens),
        "--tasks",
        ",".join(TASKS),
        "--data-root",
        str(root),
        "--run-dir",
        str(run),
        "--profile",
        profile,
        "--task-arg",
        "limit=3",
    ]


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("profiles")
    root = tmp / "data"
    write_synthetic(root)
    gens = tmp / "saved.jsonl"
    with gens.open("w") as f:
        for name in TASKS:  # every other answer right; ids do not depend on the prompt style
            for i, r in enumerate(get_task(name, root, limit=3).requests()):
                text = "<think>x</think>" + r.solution if i % 2 == 0 else "<answer>No Objects</answer> (10,10),(20,20)"
                f.write(json.dumps({"request_id": r.request_id, "text": text}) + "\n")
    out = {profile: tmp / profile for profile in ("strict", "official")}
    for profile, run in out.items():
        assert main(_eval(gens, root, run, profile)) == 0
    return out


def test_official_rescore_of_a_strict_run_equals_an_official_eval(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    strict, official = runs["strict"], runs["official"]
    assert main(["score", str(strict), "--profile", "official"]) == 0
    out = capsys.readouterr().out
    assert "value (official)" in out and f"wrote {strict / 'metrics.official.json'}" in out
    rescored = json.loads((strict / "metrics.official.json").read_text())
    evaluated = json.loads((official / "metrics.json").read_text())
    for name in TASKS:
        assert rescored[name]["args"]["prompt"] == "official", name
        assert rescored[name] == evaluated[name], name
    assert _lines(strict / "scores.official.jsonl") == _lines(official / "scores.jsonl")
    # the run's own scores are untouched: strict prompts, strict profile
    own = json.loads((strict / "metrics.json").read_text())
    assert all(own[n]["args"]["prompt"] == "strict" and own[n]["profile"] == "strict" for n in TASKS)


def test_strict_rescore_of_an_official_run_keeps_its_prompts(runs: dict[str, Path]) -> None:
    """The run's own task arguments are kept; a profile only adds the prompt it implies when none is given."""
    official = runs["official"]
    assert main(["score", str(official), "--profile", "strict"]) == 0
    rescored = json.loads((official / "metrics.strict.json").read_text())
    assert all(rescored[n]["args"]["prompt"] == "official" and rescored[n]["profile"] == "strict" for n in TASKS)


def test_official_score_of_a_generations_file_renders_official_prompts(runs: dict[str, Path], tmp_path: Path) -> None:
    """`vrft score --task … --generations FILE --profile official` builds its tasks by the same rule."""
    official = runs["official"]
    root = official.parent / "data"
    gens = official.parent / "saved.jsonl"
    argv = ["score", "--task", ",".join(TASKS), "--data-root", str(root), "--generations", str(gens)]
    argv += ["--task-arg", "limit=3", "--profile", "official", "--out", str(tmp_path)]
    assert main(argv) == 0
    scored = json.loads((tmp_path / "metrics.json").read_text())
    evaluated = json.loads((official / "metrics.json").read_text())
    for name in TASKS:
        assert scored[name]["args"]["prompt"] == "official", name
        same = ("args", "profile", "version", "accuracy", "mAP", "mIoU_val", "mIoU_test", "parse_failures")
        assert {k: scored[name].get(k) for k in same} == {k: evaluated[name].get(k) for k in same}, name
