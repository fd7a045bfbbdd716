"""How well each architecture reads digits drawn on the canvas, not only MNIST's own test digits.

    python -m bench.drawing            # every architecture, about 5 minutes on 2 cores
    python -m bench.drawing --quick    # a smoke test in seconds (tiny trainings, 50 drawings)

Each architecture is trained on the offline MNIST sample with its default hyperparameters (the default digit
model with the settings the Draw page uses), then scored on two test sets: the sample's own 2,000 test
digits, and 1,000 digits drawn as pen strokes by `core.drawn_digits` (random sizes, positions, slants, pen
widths and the canvas's three backgrounds), each turned into a 28x28 image by `core.preprocess` exactly as
the Draw page does. The drawn digits also go through a naive resize, to show what the preprocessing buys.
It writes JSON and prints the markdown table that the README shows.
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

from core import architectures, backend, drawn_digits, evaluation, preprocess, training
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


def measure(architecture: str, drawn: tuple, *, quick: bool, store: RunStore) -> dict:
    overrides = settings_for(architecture)
    if quick:
        overrides.update(epochs=1)
    started = time.perf_counter()
    meta = training.train("mnist_sample", architecture, overrides, store=store,
                          limit_train=500 if quick else None)
    seconds = time.perf_counter() - started
    model = store.load_model(meta["id"])
    prepared, naive, labels = drawn
    return {
        "architecture": architecture,
        "hyperparameters": meta["hyperparameters"],
        "train_seconds": seconds,
        "epochs": meta.get("epochs_done"),
        "sample_test_accuracy": meta["test"]["accuracy"],
        "drawn_accuracy": evaluation.evaluate(model, prepared, labels).accuracy,
        "drawn_naive_accuracy": evaluation.evaluate(model, naive, labels).accuracy,
    }


def markdown_table(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {results['machine']} ({results['device']}); "
        f"{results['drawn_count']} drawn digits, seed {DRAWN_SEED}.",
        "",
        "| architecture | epochs | training time | sample test accuracy | drawn digits, MNIST-style preprocessing "
        "| drawn digits, naive resize |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in results["architectures"]:
        default = " (default digit model)" if row["architecture"] == architectures.DEFAULT_DIGIT_ARCHITECTURE else ""
        lines.append(
            f"| `{row['architecture']}`{default} | {row['epochs']} | {row['train_seconds']:.0f} s "
            f"| {row['sample_test_accuracy']:.2%} | {row['drawn_accuracy']:.2%} | {row['drawn_naive_accuracy']:.2%} |"
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
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        for architecture in options.architectures:
            row = measure(architecture, drawn, quick=options.quick, store=store)
            print(f"[drawing] {architecture}: sample {row['sample_test_accuracy']:.4f}, drawn "
                  f"{row['drawn_accuracy']:.4f}, naive {row['drawn_naive_accuracy']:.4f}, "
                  f"{row['train_seconds']:.0f} s", file=sys.stderr)
            results["architectures"].append(row)
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
