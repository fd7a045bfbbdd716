"""The benchmark: how fast Neural Canvas trains, draws its live charts, reads a drawing and loads in a browser.

    python -m bench                          # full: about 17 minutes on 2 CPU cores (cost: about 4)
    python -m bench --quick                  # under a minute: checks that every measurement still runs (CI)
    python -m bench --out bench/results.json # where the JSON goes (the full mode's default)
    python -m bench --only chart_overhead    # one section (full sizes unless --quick)
    python -m bench --only training_throughput --rounds 5   # the fast-path candidates over 5 rounds

It measures, writes every figure to a JSON file (after each section, so a crash keeps what was measured) and
prints the markdown tables for the README. The machine this runs on is usually shared, so every figure is a ratio
against a baseline measured in the same run, with the absolute times beside it. The two sides of a comparison are
interleaved (one fit of the baseline, one of ours, and again; or whole trainings in rounds whose order rotates),
and a ratio is the median of those paired ratios: a neighbour's burst of work slows both sides of a pair alike.

The sections, each a function in a module of this package (`bench.training`, `bench.prediction`,
`bench.memory`, `bench.accuracy`, `bench.browser`, `bench.class_load`):

1. `training_throughput`: images per second of our pipeline (uint8 through `tf.data`, scaling inside the model,
   the app's progress callback) against the seeds' way (float64 arrays divided by 255, one-hot labels,
   `model.fit(x, y, validation_split=0.2, batch_size=32)`) for the same `cnn`, data and epochs, with the test
   accuracies and the live charts' updates per second, for the shipped defaults and each candidate fast path
   (`mixed_bfloat16`, `steps_per_execution` 8, a larger batch, combinations): every candidate a fresh model in
   each of `--rounds` rounds (3), the order rotated, ratios to the seeds' way of the same round, median and
   spread; a candidate becomes the verdict only if it beats the shipped defaults in every round at equal
   accuracy with smooth charts (`training.decide`). And TensorFlow's thread settings (`thread_settings`, one
   subprocess each: they can only be set before TensorFlow starts).
2. `chart_overhead`: training with the app's progress callbacks and a reader polling the events every 0.5 s
   (as the Train page's fragment does) against training with no callbacks, in many short interleaved fits.
3. `prediction_latency`: one canvas drawing -> `preprocess.preprocess` + `inference.Predictor.predict`,
   against the same preprocessing + `model.predict`.
4. `training_memory`: peak resident memory while training on CIFAR-10-sized data, ours against the
   float32-normalised way, each in its own subprocess.
5. `time_to_accuracy`: wall time until the test accuracy first reaches the target: the default digit model
   (the Draw page's settings) and `modern_cnn` with the registry's defaults on `mnist_sample`, and `modern_cnn`
   with the fastest settings we found on the full Fashion-MNIST (Debian's files). Or the best within a cap.
6. `browser`: the app in headless Chromium: home page first render, and mouse release on the Draw page's
   canvas -> "Prediction" shown.
7. `concurrent_predictions`: a class drawing at once: T threads (1, 8, 30) each read M different canvas
   drawings with one shared Predictor of the default digit model (briefly trained, saved and loaded as the app
   does); every answer must equal the single-thread one; latency percentiles and drawings per second.
8. `prediction_during_training`: single readings while the training queue trains a `cnn` in the background
   (the Draw page's promise), against the same readings with the queue idle, before and after.
9. `cost` (`bench.cost`): seconds per epoch and peak memory against the training-set size (Fashion-MNIST, 1k to
   60k images) and the DNN's depth (1 to 50), a fresh process per point, straight-line fits, and the plots
   docs/cost-vs-size.png and docs/cost-vs-depth.png.

Quick mode uses tiny sizes and skips the thread subprocesses, most accuracy runs, Fashion-MNIST and the browser:
it proves that the code runs, not that the targets are met.
"""

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path

from bench import accuracy, browser, class_load, cost, memory, prediction, training
from bench.machine import busy_shares, cpu_times, machine_info
from bench.report import markdown_table, write_json
from bench.settings import DEFAULT_OUT, DEFAULT_QUICK_OUT, FULL, QUICK, Settings

SECTIONS = {
    "training_throughput": training.training_throughput,
    "thread_settings": training.thread_settings,
    "chart_overhead": training.chart_overhead,
    "prediction_latency": prediction.prediction_latency,
    # Before the accuracy runs, whose caps shrink to keep the whole run within its time budget.
    "concurrent_predictions": class_load.concurrent_predictions,
    "prediction_during_training": class_load.prediction_during_training,
    "training_memory": memory.training_memory,
    "time_to_accuracy": accuracy.time_to_accuracy,
    "browser": browser.browser,
    # Last: its own fresh processes, outside the accuracy runs' time budget (about 5 minutes on 2 cores).
    "cost": cost.cost,
}


def run_benchmark(settings: Settings, out: Path, only: list[str] | None = None, log=print) -> dict:
    """Runs the sections in order, writing the JSON after each one; a failing section is recorded, not fatal."""
    results = {"quick": settings.quick, "machine": machine_info(), "sections": {}, "seconds": {}}
    started = time.perf_counter()
    counters = cpu_times()
    if settings.time_budget is not None:
        settings = dataclasses.replace(settings, deadline=started + settings.time_budget)
    if settings.quick:
        # The quick mode's plots go beside its JSON, so that a test or CI run never rewrites the docs' plots.
        settings = dataclasses.replace(settings, cost_plot_dir=out.parent, cost_plot_prefix=f"{out.stem}-")
    for name, measure in SECTIONS.items():
        if only and name not in only:
            continue
        log(f"[bench] {name} ...", flush=True)
        section_started = time.perf_counter()
        try:
            results["sections"][name] = measure(settings)
        except Exception as error:
            results["sections"][name] = {"error": f"{type(error).__name__}: {error}\n{traceback.format_exc()}"}
        results["seconds"][name] = time.perf_counter() - section_started
        log(f"[bench] {name} done in {results['seconds'][name]:.0f} s", flush=True)
        write_json(results, out)
    results["seconds"]["total"] = time.perf_counter() - started
    results["machine"]["load_average_at_end"] = round(os.getloadavg()[0], 2)
    # Time stolen by other virtual machines on the same host slows every figure; the ratios less so.
    results["machine"]["cpu_shares_during_run"] = busy_shares(counters, cpu_times())
    write_json(results, out)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the code runs (seconds)")
    parser.add_argument("--out", type=Path, help="the JSON file to write (default bench/results.json, "
                                                  "bench/results-quick.json in quick mode)")
    parser.add_argument("--only", help="comma-separated sections to run: " + ", ".join(SECTIONS))
    parser.add_argument("--rounds", type=int, help="rounds of the throughput candidates (default 3; 2 with --quick)")
    # The subprocesses the benchmark starts itself.
    parser.add_argument("--worker", choices=("memory", "threads"), help=argparse.SUPPRESS)
    parser.add_argument("--way", help=argparse.SUPPRESS)
    parser.add_argument("--images", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--inter", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--intra", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "memory":
        print(json.dumps(memory.memory_worker(args.way, args.images, args.steps)))
        return 0
    if args.worker == "threads":
        print(json.dumps(training.threads_worker(args.inter, args.intra, args.images, args.epochs)))
        return 0

    only = [name.strip() for name in args.only.split(",")] if args.only else None
    unknown = sorted(set(only or ()) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    settings = QUICK if args.quick else FULL
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error(f"--rounds must be at least 1; got {args.rounds}")
        settings = dataclasses.replace(settings, throughput_rounds=args.rounds)
    out = args.out or (DEFAULT_QUICK_OUT if args.quick else DEFAULT_OUT)
    results = run_benchmark(settings, out, only)
    print()
    print(markdown_table(results))
    print()
    print(f"JSON: {out}")
    errors = [name for name, section in results["sections"].items() if "error" in section]
    if errors:
        print(f"Failed sections: {', '.join(errors)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
