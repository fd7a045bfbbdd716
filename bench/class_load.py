"""Sections 7 and 8: a whole class reading drawings at once, and readings while the queue trains a model."""

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import canvas_drawing
from bench.settings import TARGET_CONCURRENT_P95_MS, TARGET_DURING_TRAINING_P95_MS, Settings
from bench.stats import latency_summary
from core import architectures, datasets, inference, jobs, runs, training

# Between two readings of one student in section 8: a student lifts the pen, looks, and draws again.
READING_PAUSE_SECONDS = 0.05
_served_models: dict[int, tuple] = {}


def served_predictor(settings: Settings):
    """The Draw page's model, as the app serves it: the default digit model trained for one epoch by
    `training.train`, saved in a run store, loaded back safely and wrapped in a Predictor. Made once per run.

    Returns the Predictor and what it is (architecture, images, test accuracy, training seconds).
    """
    images = settings.served_model_train_images
    if images not in _served_models:
        hyperparameters = {**architectures.DEFAULT_DIGIT_HYPERPARAMETERS, "epochs": 1, "seed": 1}
        with tempfile.TemporaryDirectory(prefix="neural-canvas-bench-") as folder:
            store = runs.RunStore(Path(folder) / "runs")
            started = time.perf_counter()
            meta = training.train("mnist_sample", architectures.DEFAULT_DIGIT_ARCHITECTURE, hyperparameters,
                                  store=store, name="bench served model", limit_train=images)
            seconds = time.perf_counter() - started
            predictor = inference.Predictor(store.load_model(meta["id"]))
        _served_models[images] = (predictor, {
            "architecture": architectures.DEFAULT_DIGIT_ARCHITECTURE, "epochs": 1, "train_images": images,
            "test_accuracy": (meta.get("test") or {}).get("accuracy"), "training_seconds": seconds})
    return _served_models[images]


def class_drawings(count: int) -> list[np.ndarray]:
    """`count` different canvas pictures: the sample's first test digits, drawn as the canvas returns them."""
    sample = datasets.load("mnist_sample")
    return [canvas_drawing(digit) for digit in sample.x_test[:count]]


def _reading(predictor, picture) -> tuple[float, np.ndarray]:
    """Seconds for one drawing -> probabilities (preprocessing included, as on the Draw page), and the answer."""
    started = time.perf_counter()
    reading = inference.read_picture(predictor, picture)
    return time.perf_counter() - started, reading.probabilities


def _wrong(probabilities: np.ndarray, expected: np.ndarray) -> float | None:
    """The largest probability difference from the expected answer, or None if the predicted class differs."""
    if probabilities is None or int(np.argmax(probabilities)) != int(np.argmax(expected)):
        return None
    return float(np.abs(probabilities - expected).max())


def concurrent_predictions(settings: Settings) -> dict:
    """T threads (visitors) each reading M different drawings at once with one shared Predictor.

    Each answer is compared with the single-thread answer for the same drawing; the threads start together
    (a barrier), as a class lifting their pens in the same second would.
    """
    predictor, model = served_predictor(settings)
    most = max(settings.concurrent_threads) * settings.concurrent_calls
    pictures = class_drawings(min(most, 300))
    # The reference answers, one thread, one drawing at a time.
    expected = [_reading(predictor, picture)[1] for picture in pictures]
    rows = {}
    for threads in settings.concurrent_threads:
        latencies = [[] for _ in range(threads)]
        differences = [[] for _ in range(threads)]
        barrier = threading.Barrier(threads + 1)

        def visitor(index, barrier, latencies, differences):
            barrier.wait()
            for call in range(settings.concurrent_calls):
                which = (index * settings.concurrent_calls + call) % len(pictures)
                seconds, probabilities = _reading(predictor, pictures[which])
                latencies[index].append(seconds)
                differences[index].append(_wrong(probabilities, expected[which]))

        workers = [threading.Thread(target=visitor, args=(index, barrier, latencies, differences), daemon=True)
                   for index in range(threads)]
        for worker in workers:
            worker.start()
        barrier.wait()
        started = time.perf_counter()
        for worker in workers:
            worker.join()
        wall = time.perf_counter() - started
        seconds = [value for values in latencies for value in values]
        compared = [value for values in differences for value in values]
        wrong = sum(1 for value in compared if value is None or value > 1e-5)
        rows[str(threads)] = {
            "threads": threads, "readings": len(seconds), **latency_summary(seconds),
            "readings_per_second": len(seconds) / wall, "wall_seconds": wall, "wrong_answers": wrong,
            "largest_probability_difference": max((value for value in compared if value is not None), default=0.0),
        }
    largest = max(row["threads"] for row in rows.values())
    all_correct = all(row["wrong_answers"] == 0 for row in rows.values())
    return {
        "what": "T threads, each reading M different 280x280 canvas drawings (preprocess + predict, as the Draw "
                "page does) with one shared Predictor; answers compared with single-thread answers",
        "model": model, "readings_per_thread": settings.concurrent_calls, "drawings": len(pictures),
        "threads": rows, "all_correct": all_correct,
        "target": f"every answer equal to the single-thread one; p95 <= {TARGET_CONCURRENT_P95_MS:g} ms "
                  f"with {largest} threads",
        "meets_target": bool(all_correct and rows[str(largest)]["p95_ms"] <= TARGET_CONCURRENT_P95_MS),
    }


def _single_readings(predictor, pictures, expected, calls: int, offset: int = 0) -> tuple[list, int]:
    """`calls` readings one after another, with a student's pause between them; their seconds and wrong answers."""
    seconds, wrong = [], 0
    for call in range(calls):
        which = (offset + call) % len(pictures)
        took, probabilities = _reading(predictor, pictures[which])
        seconds.append(took)
        difference = _wrong(probabilities, expected[which])
        wrong += difference is None or difference > 1e-5
        time.sleep(READING_PAUSE_SECONDS)
    return seconds, wrong


def prediction_during_training(settings: Settings) -> dict:
    """Readings of single drawings while the app's training queue trains a model, against an idle queue."""
    predictor, model = served_predictor(settings)
    pictures = class_drawings(50)
    expected = [_reading(predictor, picture)[1] for picture in pictures]
    half = max(1, settings.during_training_calls // 2)
    idle_before, wrong_idle = _single_readings(predictor, pictures, expected, half)
    with tempfile.TemporaryDirectory(prefix="neural-canvas-bench-") as folder:
        queue = jobs.TrainingQueue(runs.RunStore(Path(folder) / "runs"))
        # The Train page's default model with its defaults, given epochs enough to outlast the readings.
        run_id = queue.submit("mnist_sample", architectures.DEFAULT_ARCHITECTURE, {"epochs": 200},
                              owner="bench", name="background training")
        deadline = time.perf_counter() + 300
        while queue.status(run_id).latest_batch is None:
            if queue.status(run_id).state == "finished" or time.perf_counter() > deadline:
                raise RuntimeError(f"The background training did not start: {queue.status(run_id).message}")
            time.sleep(0.1)
        first_batch = queue.status(run_id).latest_batch
        during, wrong_during = _single_readings(predictor, pictures, expected, settings.during_training_calls)
        status = queue.status(run_id)
        ran_throughout = status.state == "running"
        last_batch = status.latest_batch
        queue.stop(run_id, owner="bench")
        while queue.status(run_id).state != "finished":
            time.sleep(0.1)
    idle_after, wrong_after = _single_readings(predictor, pictures, expected, half, offset=half)
    idle = idle_before + idle_after
    during_summary, idle_summary = latency_summary(during), latency_summary(idle)
    return {
        "what": "one visitor's readings (preprocess + predict, a pause of "
                f"{READING_PAUSE_SECONDS * 1000:.0f} ms between them) while the training queue trains "
                f"{architectures.DEFAULT_ARCHITECTURE} on mnist_sample in the same process, against the same "
                "readings with the queue idle (half before, half after)",
        "model": model,
        "training": {"architecture": architectures.DEFAULT_ARCHITECTURE, "ran_throughout": ran_throughout,
                     "images_per_second": last_batch["images_per_second"],
                     "epoch_at_start": first_batch["epoch"], "epoch_at_end": last_batch["epoch"]},
        "during_training": {"readings": len(during), **during_summary},
        "idle": {"readings": len(idle), **idle_summary},
        "p95_ratio": during_summary["p95_ms"] / idle_summary["p95_ms"],
        "wrong_answers": wrong_idle + wrong_during + wrong_after,
        "target": f"p95 <= {TARGET_DURING_TRAINING_P95_MS:g} ms while training",
        "meets_target": bool(ran_throughout and during_summary["p95_ms"] <= TARGET_DURING_TRAINING_P95_MS
                             and wrong_idle + wrong_during + wrong_after == 0),
    }
