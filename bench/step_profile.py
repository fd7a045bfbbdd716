"""Where one training step of the `cnn` spends its time, by TensorFlow op (issue 15's 2.5x, explained).

    python -m bench.step_profile                   # the shipped cnn defaults (batch 128), one profiled epoch
    python -m bench.step_profile --set batch_size=256 --out bench/step-profile-256.json

Trains the `cnn` as the throughput section does (the sample's first 6,400 training images, the app's pipeline,
seed 42), one warm-up epoch, then one epoch under TensorFlow's profiler. The trace (`*.xplane.pb`) is read with
the protobuf classes TensorFlow ships, and each op of the training step is summed over both compute threads and
divided by the steps: milliseconds per step, by op, beside the step's own wall time. Ops run on two threads at
once, so the ops' sum exceeds the wall time. Writes bench/step-profile.json and prints the table.
"""

import argparse
import collections
import json
import math
import re
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import our_model, sample_subset
from bench.machine import machine_info
from bench.settings import ROOT
from core import architectures, backend, training

DEFAULT_OUT = ROOT / "bench" / "step-profile.json"

# Op families, in the order the table lists them: what a reader can act on (a layer's forward or backward pass,
# the optimizer). An op belongs to the first family whose rule matches its TensorFlow name.
def _backward(name: str) -> bool:
    return "gradient_tape" in name


FAMILIES = (
    ("convolution, weight gradient", lambda name: "Conv2DBackpropFilter" in name),
    ("max pooling, gradient", lambda name: "MaxPoolGrad" in name),
    ("ReLU gradients", lambda name: "ReluGrad" in name),
    ("bias gradients", lambda name: "BiasAddGrad" in name),
    ("dense layers, gradients", lambda name: _backward(name) and "MatMul" in name),
    ("convolution + bias + ReLU, forward", lambda name: not _backward(name) and "Conv2D" in name),
    ("max pooling, forward", lambda name: not _backward(name) and "MaxPool" in name),
    ("dense layers, forward", lambda name: not _backward(name) and "MatMul" in name),
    ("dropout", lambda name: "dropout" in name),
    # Keras numbers a second optimizer made in the same process: adam_1/...
    ("Adam update", lambda name: re.search(r"(^|/)adam(_\d+)?/", name) is not None),
    ("loss, accuracy and the rest", lambda name: True),
)


# The table's order: the forward pass, the backward pass, then the optimizer and the rest.
DISPLAY_ORDER = (
    "convolution + bias + ReLU, forward", "max pooling, forward", "dense layers, forward", "dropout",
    "dense layers, gradients", "max pooling, gradient", "ReLU gradients", "convolution, weight gradient",
    "bias gradients", "Adam update", "loss, accuracy and the rest",
)


def family(op_name: str) -> str:
    """The op family (a row of the table) of one profiled op, from its TensorFlow name."""
    return next(label for label, rule in FAMILIES if rule(op_name))


def _op_times(trace_folder: Path) -> tuple[dict[str, float], dict[str, int]]:
    """Milliseconds and counts of every op the compute threads ran, from the profiler's xplane files."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals, counts = collections.Counter(), collections.Counter()
    for path in trace_folder.rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    name = plane.event_metadata[event.metadata_id].name
                    # The executor's own bookkeeping spans the ops it runs: counting it would count them twice.
                    if name.startswith("ExecutorState") or "/" not in name:
                        continue
                    totals[name] += event.duration_ps / 1e9
                    counts[name] += 1
    return dict(totals), dict(counts)


def profile_step(overrides: dict | None = None, train_images: int = 8000) -> dict:
    """Profiles one epoch of the `cnn` after a warm-up epoch: per-step milliseconds by op family and by op."""
    tf = backend.tensorflow()
    keras = backend.keras()
    sample, images, labels = sample_subset(train_images)
    train_indices, _ = training.stratified_split(labels, 0.2, seed=42)
    hp = architectures.resolve_hyperparameters("cnn", {"seed": 42, **(overrides or {})})
    keras.utils.set_random_seed(42)
    model = our_model("cnn", sample.image_shape, 10, hp)
    steps = math.ceil(len(train_indices) / hp["batch_size"])
    pipeline = training.make_pipeline(images, labels, hp["batch_size"], shuffle=True, seed=42,
                                      indices=train_indices, repeat=True)
    model.fit(pipeline, epochs=1, steps_per_epoch=steps, verbose=0)
    started = time.perf_counter()
    model.fit(pipeline, epochs=1, steps_per_epoch=steps, verbose=0)
    unprofiled = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="step-profile-"))
    try:
        tf.profiler.experimental.start(str(folder))
        started = time.perf_counter()
        model.fit(pipeline, epochs=1, steps_per_epoch=steps, verbose=0)
        profiled = time.perf_counter() - started
        tf.profiler.experimental.stop()
        totals, counts = _op_times(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    by_family = collections.Counter()
    for name, milliseconds in totals.items():
        by_family[family(name)] += milliseconds / steps
    top = sorted(totals.items(), key=lambda item: -item[1])[:15]
    return {
        "what": "cnn on mnist_sample, one epoch under TensorFlow's profiler after a warm-up epoch; op times summed "
                "over the compute threads, per step",
        "hyperparameters": {key: hp[key] for key in ("batch_size", "learning_rate", "filters", "dropout")},
        "steps": steps,
        "images": len(train_indices),
        "step_ms_unprofiled": 1000 * unprofiled / steps,
        "step_ms_profiled": 1000 * profiled / steps,
        "images_per_second_unprofiled": len(train_indices) / unprofiled,
        "families_ms_per_step": {label: round(by_family.get(label, 0.0), 3) for label in DISPLAY_ORDER},
        "ops_ms_per_step": [{"op": name.split("/", 1)[-1][:120], "ms": round(milliseconds / steps, 3),
                             "calls_per_step": round(counts[name] / steps, 2)} for name, milliseconds in top],
        "machine": machine_info(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(result: dict) -> str:
    """The per-family table, Markdown."""
    rows = [f"| Op family (cnn, batch {result['hyperparameters']['batch_size']}) | ms per step | share |",
            "|---|---:|---:|"]
    families = result["families_ms_per_step"]
    total = sum(families.values())
    for label in [label for label in DISPLAY_ORDER if label in families]:
        milliseconds = families[label]
        rows.append(f"| {label} | {milliseconds:.2f} | {milliseconds / total:.0%} |" if total else
                    f"| {label} | {milliseconds:.2f} | – |")
    rows.append(f"| **all ops (two threads)** | **{total:.2f}** | |")
    rows.append(f"| the step's wall time, not profiled | {result['step_ms_unprofiled']:.2f} "
                f"({result['images_per_second_unprofiled']:,.0f} images/s) | |")
    return "\n".join(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a cnn hyperparameter to change, e.g. batch_size=256")
    parser.add_argument("--images", type=int, default=8000, help="images of the sample (80%% are trained on)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = json.loads(value)
    result = profile_step(overrides, args.images)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print("\nSlowest ops:")
    for row in result["ops_ms_per_step"]:
        print(f"  {row['ms']:7.3f} ms  {row['op']}")


if __name__ == "__main__":
    main()
