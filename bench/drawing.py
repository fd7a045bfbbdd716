"""How well each architecture reads digits drawn on the canvas, not only MNIST's own test digits.

    python -m bench.drawing            # every architecture, about 8 minutes on 2 cores
    python -m bench.drawing --quick    # a smoke test in seconds (tiny trainings, 50 drawings)

Each architecture is trained on the offline MNIST sample with its default hyperparameters, then scored on
three test sets: the sample's own 2,000 MNIST test digits; 1,000 synthetic digits drawn as pen strokes by
`core.drawn_digits` (random templates, sizes, positions, slants, pen widths and the canvas's three
backgrounds); and the 2,498 digits of the 10 held-out pen writers (`core.pen_digits`: real people's
handwriting, writers no model here trains on), both drawn on the canvas and turned into 28x28 images by
`core.preprocess` exactly as the Draw page does. The synthetic digits also go through a naive resize, to
show what the preprocessing buys. The synthetic set measures the generator as much as the model; the
held-out writers are the honest figure.

The default digit model is measured twice: trained on the MNIST sample only (as every other row), and as the
Draw page's one click trains it (`architectures.DEFAULT_DIGIT_DATASET`, `DEFAULT_DIGIT_HYPERPARAMETERS`: the
sample plus the 20 training writers' pen digits). It writes JSON and prints the markdown table that
docs/benchmarks.md shows.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core import architectures, backend, datasets, drawn_digits, evaluation, preprocess, training
from core.runs import RunStore

DRAWN_SEED = 2026


def drawn_test_set(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The drawn digits as the model receives them: MNIST-style preprocessed, and naively resized."""
    prepared, naive, labels = [], [], []
    for canvas, label in drawn_digits.iter_test_set(count, seed=DRAWN_SEED):
        result = preprocess.preprocess(canvas)
        # A blank result counts as a miss: an all-black image is what the model would get.
        prepared.append(result.image if result.image is not None else np.zeros((28, 28), np.uint8))
        naive.append(preprocess.naive_resize(canvas))
        labels.append(label)
    return np.stack(prepared), np.stack(naive), np.asarray(labels)


def settings_for(architecture: str) -> dict:
    if architecture == architectures.DEFAULT_DIGIT_ARCHITECTURE:
        return dict(architectures.DEFAULT_DIGIT_HYPERPARAMETERS)
    return {}


def measure(architecture: str, drawn: tuple, *, quick: bool, store: RunStore, dataset: str = "mnist_sample",
            pen: tuple | None = None) -> dict:
    overrides = settings_for(architecture)
    if quick:
        overrides.update(epochs=1)
    started = time.perf_counter()
    meta = training.train(dataset, architecture, overrides, store=store, limit_train=500 if quick else None)
    seconds = time.perf_counter() - started
    model = store.load_model(meta["id"])
    prepared, naive, labels = drawn
    sample = datasets.load("mnist_sample")
    pen_images, pen_labels = pen if pen is not None else held_out_writers(quick)
    return {
        "architecture": architecture,
        "dataset": dataset,
        "hyperparameters": meta["hyperparameters"],
        "train_seconds": seconds,
        "load_average": os.getloadavg()[0],
        "epochs": meta.get("epochs_done"),
        "sample_test_accuracy": evaluation.evaluate(model, sample.x_test, sample.y_test).accuracy,
        "drawn_accuracy": evaluation.evaluate(model, prepared, labels).accuracy,
        "drawn_naive_accuracy": evaluation.evaluate(model, naive, labels).accuracy,
        "pen_writers_accuracy": evaluation.evaluate(model, pen_images, pen_labels).accuracy,
        "pen_writers_count": len(pen_labels),
    }


def held_out_writers(quick: bool) -> tuple[np.ndarray, np.ndarray]:
    """The held-out writers' digits as the Draw page prepares them (every 25th in quick mode)."""
    pen = datasets.load("pendigits")
    step = 25 if quick else 1
    return pen.x_test[::step], pen.y_test[::step]


def markdown_table(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {results['machine']} ({results['device']}); "
        f"{results['drawn_count']} synthetic drawn digits, seed {DRAWN_SEED}; "
        f"{results.get('pen_writers_count', 0)} digits of the 10 held-out pen writers; training times under a "
        f"load average of {results.get('load_average', 0):.1f} on {os.cpu_count()} cores.",
        "",
        "| architecture | trained on | epochs | training time | MNIST test split | synthetic strokes "
        "| held-out writers | synthetic strokes, naive resize |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["architectures"]:
        default = " (default digit model)" if row["architecture"] == architectures.DEFAULT_DIGIT_ARCHITECTURE else ""
        trained_on = datasets.get_info(row.get("dataset", "mnist_sample")).title
        lines.append(
            f"| `{row['architecture']}`{default} | {trained_on} | {row['epochs']} | {row['train_seconds']:.0f} s "
            f"| {row['sample_test_accuracy']:.2%} | {row['drawn_accuracy']:.2%} "
            f"| {row.get('pen_writers_accuracy', float('nan')):.2%} | {row['drawn_naive_accuracy']:.2%} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drawing", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny trainings and 50 drawings: checks it runs")
    parser.add_argument("--out", default="bench/drawing.json", help="where to write the JSON results")
    parser.add_argument("--architectures", nargs="*", default=list(architectures.ARCHITECTURES))
    options = parser.parse_args(argv)

    count = 50 if options.quick else 1000
    drawn = drawn_test_set(count)
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "device": backend.device_name(),
        "quick": options.quick,
        "drawn_count": count,
        "architectures": [],
    }
    pen = held_out_writers(options.quick)
    results["pen_writers_count"] = len(pen[1])
    loads = []
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        jobs = [(architecture, "mnist_sample") for architecture in options.architectures]
        if architectures.DEFAULT_DIGIT_ARCHITECTURE in options.architectures:
            jobs.append((architectures.DEFAULT_DIGIT_ARCHITECTURE, architectures.DEFAULT_DIGIT_DATASET))
        for architecture, dataset in jobs:
            row = measure(architecture, drawn, quick=options.quick, store=store, dataset=dataset, pen=pen)
            loads.append(row["load_average"])
            print(f"[drawing] {architecture} on {dataset}: sample {row['sample_test_accuracy']:.4f}, drawn "
                  f"{row['drawn_accuracy']:.4f}, held-out writers {row['pen_writers_accuracy']:.4f}, naive "
                  f"{row['drawn_naive_accuracy']:.4f}, {row['train_seconds']:.0f} s", file=sys.stderr)
            results["architectures"].append(row)
    results["load_average"] = float(np.mean(loads)) if loads else 0.0
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
