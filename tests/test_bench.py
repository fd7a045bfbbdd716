"""The benchmark: its quick mode runs every section, writes the JSON and prints the README table."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import cli, common, report, stats
from core import architectures

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """`python -m bench --quick` once for the module: its JSON and what it printed."""
    out = tmp_path_factory.mktemp("bench") / "results.json"
    completed = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=ROOT,
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(out.read_text()), completed.stdout


def test_quick_mode_measures_every_section(quick_run):
    results, _ = quick_run
    assert results["quick"] is True
    assert set(results["sections"]) == set(cli.SECTIONS)
    failed = {name: section["error"] for name, section in results["sections"].items() if "error" in section}
    assert not failed
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["cpu"] and machine["tensorflow"] and machine["keras"]


def test_quick_mode_figures_are_measured_not_invented(quick_run):
    sections = quick_run[0]["sections"]
    configs = sections["training_throughput"]["configs"]
    assert {"seed", "defaults"} <= set(configs)
    for config in configs.values():
        assert config["images_per_second"] > 0 and 0 <= config["test_accuracy"] <= 1
    # The seeds' CNN and ours are the same network: the Rescaling layer has no weights.
    assert configs["seed"]["parameters"] == configs["defaults"]["parameters"]
    assert sections["chart_overhead"]["seconds"]["charts"]
    for model in sections["prediction_latency"]["models"].values():
        assert 0 < model["ours"]["p50_ms"] <= model["ours"]["p95_ms"]
        # The compiled predictor computes what model.predict computes.
        assert model["largest_probability_difference"] < 1e-4
    # Each way ran in its own process: each peak is at least what TensorFlow itself occupies.
    ways = sections["training_memory"]["ways"]
    assert set(ways) == {"ours", "float32"}
    for way in ways.values():
        assert way["peak_rss_bytes"] >= way["runtime_rss_bytes"] > 0
    run = sections["time_to_accuracy"]["runs"]["digit_model"]
    assert run["epochs"] and 0 <= run["best_test_accuracy"] <= 1
    assert "skipped" in sections["browser"] and "skipped" in sections["thread_settings"]


def test_quick_mode_reads_a_class_of_drawings_at_once_and_during_a_training(quick_run):
    sections = quick_run[0]["sections"]
    concurrent = sections["concurrent_predictions"]
    assert {"1", "8", "30"} <= set(concurrent["threads"])
    for threads, row in concurrent["threads"].items():
        # Every visitor got the answer one thread alone gets for the same drawing.
        assert row["wrong_answers"] == 0 and row["largest_probability_difference"] < 1e-5
        assert row["readings"] == int(threads) * concurrent["readings_per_thread"]
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["max_ms"] and row["readings_per_second"] > 0
    assert concurrent["all_correct"] is True
    assert concurrent["model"]["architecture"] == architectures.DEFAULT_DIGIT_ARCHITECTURE
    assert concurrent["drawings"] >= 30
    during = sections["prediction_during_training"]
    # The readings were taken while the queue was really training, and were right.
    assert during["training"]["ran_throughout"] is True and during["training"]["images_per_second"] > 0
    assert during["wrong_answers"] == 0
    for key in ("during_training", "idle"):
        assert during[key]["readings"] >= 6 and 0 < during[key]["p50_ms"] <= during[key]["p95_ms"]


def test_quick_mode_prints_the_table(quick_run):
    _, printed = quick_run
    assert "| Measure | Ours" in printed
    for number in ("1. Training throughput", "2. Live-chart overhead", "3. Drawing → prediction",
                   "4. Peak memory", "5. Time to", "6. Browser", "7. Drawings read at once, 30 visitors",
                   "8. Drawing → prediction while the queue trains"):
        assert number in printed
    assert "not measured" in printed


def test_table_reports_a_failed_section_instead_of_a_figure():
    results = {"quick": True, "machine": {"date": "2026-01-01T00:00:00+00:00", "cpu": "test CPU", "cores": 2,
                                          "cpu_flags": [], "tensorflow": "x", "keras": "y", "gpu": None,
                                          "load_average_at_start": 0.0},
               "sections": {"chart_overhead": {"error": "RuntimeError: boom\ntraceback"}}}
    table = report.markdown_table(results)
    assert "failed: RuntimeError: boom" in table
    assert "| GPU |" in table


def test_percentile_and_paired_ratio():
    assert stats.percentile([3, 1, 2], 0.5) == 2
    assert stats.percentile([0, 10], 0.95) == pytest.approx(9.5)
    assert stats.paired_ratio([2, 4, 9], [1, 1, 3]) == 3


def test_canvas_drawing_puts_the_digit_in_the_alpha_channel():
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[10:18, 13:15] = 255
    picture = common.canvas_drawing(digit)
    assert picture.shape == (280, 280, 4) and picture.dtype == np.uint8
    assert picture[..., 3].max() == 255 and picture[0, 0, 3] == 0
