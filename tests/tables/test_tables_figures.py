"""Figures are written, non-empty, and survive having no runs."""

from __future__ import annotations

from pathlib import Path

from harness.tables import RunResult
from harness.tables.figures import plot_curve, plot_family

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_ok(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_plot_family_without_runs(paper_dir: Path, tmp_path: Path) -> None:
    paths = plot_family(paper_dir, [], tmp_path / "fig")
    assert [p.name for p in paths] == [f"table{n}.png" for n in (2, 3, 4, 5, 6)]
    assert all(_png_ok(p) for p in paths)


def test_plot_family_with_partial_runs(paper_dir: Path, tmp_path: Path) -> None:
    runs = [
        RunResult("Qwen2-VL-2B", "1", "zero-shot", "official", {"coco_fewshot": {"mAP": 21.0, "AP/cat": 30.0}}),
        RunResult("Qwen2-VL-2B", "1", "grpo", "official", {"fgvc_pets37": {"accuracy": 70.0}}, step=100),
    ]
    paths = plot_family(paper_dir, runs, tmp_path, tables=[2, 3])
    assert [p.name for p in paths] == ["table2.png", "table3.png"]
    assert all(_png_ok(p) for p in paths)
    again = plot_family(paper_dir, runs, tmp_path / "again", tables=[3])
    assert again[0].read_bytes() == paths[1].read_bytes()


def test_plot_curve(tmp_path: Path) -> None:
    runs = [
        RunResult("Qwen2-VL-2B", "1", proto, "official", {"fgvc_pets37": {"accuracy": acc}}, step=step)
        for proto, base in (("grpo", 60.0), ("sft", 50.0))
        for step, acc in ((0, base), (100, base + 10), (200, base + 15))
    ]
    runs.append(RunResult("Qwen2-VL-2B", "1", "grpo", "official", {"coco_fewshot": {"AP/cat": 10.0}}, step=50))
    runs.append(RunResult("Qwen2-VL-2B", "1", "zero-shot", "official", {"fgvc_pets37": {"accuracy": 1.0}}))
    assert _png_ok(plot_curve(runs, tmp_path / "curve.png"))
    assert _png_ok(plot_curve(runs, tmp_path / "curve_cat.png", metrics={"coco_fewshot": "AP/cat"}))


def test_plot_curve_without_stepped_runs(tmp_path: Path) -> None:
    assert _png_ok(plot_curve([], tmp_path / "empty.png"))
    no_step = [RunResult("M", "1", "p", "f", {"coco_ov": {"mAPn": 3.0}})]
    assert _png_ok(plot_curve(no_step, tmp_path / "sub" / "none.png"))
