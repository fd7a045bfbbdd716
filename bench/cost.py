"""Section 9 (`cost`): how training time and memory grow with the training set and with a network's depth.

    python -m bench --only cost            # full: Fashion-MNIST 1k..60k images (cnn), DNN depth 1..50
    python -m bench --only cost --quick    # seconds: 200/400 images, depths 1 and 2

Each point runs in a fresh process (`python -m bench.cost --worker ...`): its peak memory is its own, and no
traced graph of an earlier point is in it. A point trains `cost_epochs` epochs with the app's pipeline and
progress callback and no validation; the first epoch traces the training step, the figure is the median of the
others. The peak is the process's VmHWM during the training only (reset once the data is in place, see
`_reset_peak`), so it holds TensorFlow's own memory, the training images and what training adds.

Then straight lines are fitted (least squares, with R²): seconds per epoch against images (the cnn) and against
depth (the dnn; its parameters and multiply-adds grow linearly with depth, so linear in depth means linear in
parameters), and peak memory against both; the plots go to docs/cost-vs-size.png and docs/cost-vs-depth.png.
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench.machine import current_rss_bytes, peak_rss_bytes
from bench.settings import ROOT, Settings
from bench.stats import linear_fit
from core import architectures, backend, datasets, training

DATASET = "fashion_mnist"
SIZE_ARCHITECTURE = "cnn"


def _reset_peak() -> bool:
    """Resets this process's VmHWM to its current size (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def dnn_model(depth: int, image_shape, num_classes: int = 10):
    """The `dnn` architecture with `depth` hidden layers after the first, built as `architectures.build_model`
    builds it, but at any depth: the app stops at its slider's maximum, this curve goes further."""
    keras = backend.keras()
    from keras import layers

    spec = architectures.get_architecture("dnn")
    hp = {**architectures.resolve_hyperparameters("dnn", {"seed": 42}), "depth": int(depth)}
    inputs = keras.Input(shape=tuple(image_shape), dtype="uint8", name="image")
    x = layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = spec.builder(layers, x, hp, tuple(image_shape))
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="dnn")
    model.compile(optimizer=architectures.make_optimizer(hp["optimizer"], hp["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, hp


def cost_worker(axis: str, images: int, depth: int, epochs: int) -> dict:
    """Runs in its own process: trains one point of a curve and reports its time per epoch and peak memory."""
    from bench.common import epoch_timer
    from core import callbacks

    keras = backend.keras()
    runtime = current_rss_bytes()
    data = datasets.load(DATASET)
    if images > len(data.y_train):
        raise ValueError(f"{DATASET} has {len(data.y_train)} training images; asked for {images}.")
    order = np.random.default_rng(0).permutation(len(data.y_train))[:images]
    # Copies of the chosen images only; the whole dataset is then let go, so the memory holds what this size
    # needs (the dataset module keeps what it loaded: the benchmark forgets it, the app never does).
    x, y, image_shape = data.x_train[order], data.y_train[order], data.image_shape
    del data
    datasets._LOADED.pop(DATASET, None)
    gc.collect()
    keras.utils.set_random_seed(42)
    if axis == "size":
        hp = architectures.resolve_hyperparameters(SIZE_ARCHITECTURE, {"seed": 42, "epochs": epochs})
        model = architectures.build_model(SIZE_ARCHITECTURE, image_shape, 10, hp)
    elif axis == "depth":
        model, hp = dnn_model(depth, image_shape)
    else:
        raise ValueError(f"Unknown axis {axis!r}: use 'size' or 'depth'.")
    reset = _reset_peak()
    before = current_rss_bytes()
    pipeline = training.make_pipeline(x, y, hp["batch_size"], shuffle=True, seed=42)
    steps = -(-images // hp["batch_size"])
    progress = callbacks.ProgressEvents(lambda event: None, epochs, steps, hp["batch_size"])
    timer = epoch_timer()
    model.fit(pipeline, epochs=epochs, shuffle=False, verbose=0, callbacks=[progress, timer])
    measured = timer.wall[1:] or timer.wall
    return {"axis": axis, "images": images, "depth": depth if axis == "depth" else None,
            "architecture": SIZE_ARCHITECTURE if axis == "size" else "dnn", "batch_size": hp["batch_size"],
            "steps_per_epoch": steps, "parameters": int(model.count_params()), "epoch_seconds": timer.wall,
            "seconds_per_epoch": statistics.median(measured), "warm_up_seconds": timer.wall[0],
            "runtime_rss_bytes": runtime, "data_bytes": int(x.nbytes + y.nbytes),
            "rss_before_training_bytes": before, "peak_rss_bytes": peak_rss_bytes(),
            "peak_is_training_only": reset}


def _run_point(arguments: list[str], timeout: float) -> dict:
    completed = subprocess.run([sys.executable, "-m", "bench.cost", "--worker", *arguments], cwd=ROOT,
                               capture_output=True, text=True, timeout=timeout,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"cost worker {arguments} failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return json.loads(lines[-1])


def _fits(points: list[dict], x_key: str) -> dict:
    xs = [point[x_key] for point in points]
    time_fit = linear_fit(xs, [point["seconds_per_epoch"] for point in points])
    memory_fit = linear_fit(xs, [point["peak_rss_bytes"] for point in points])
    smallest = min(points, key=lambda point: point[x_key])
    # How much of the smallest point's epoch the fitted line puts in its fixed part (the intercept): per-epoch
    # and per-step costs that do not grow with x.
    time_fit["fixed_share_at_smallest"] = (time_fit["intercept"] / smallest["seconds_per_epoch"]
                                           if smallest["seconds_per_epoch"] > 0 else None)
    time_fit["residuals"] = [point["seconds_per_epoch"] - (time_fit["intercept"] + time_fit["slope"] * point[x_key])
                             for point in points]
    return {"time": time_fit, "memory": memory_fit}


def cost(settings: Settings) -> dict:
    """Time per epoch and peak memory against training images (cnn) and DNN depth, one process per point."""
    if not datasets.is_available(DATASET):
        return {"skipped": f"{DATASET} is not on this machine ({datasets.local_paths_hint(DATASET)})"}
    epochs = str(settings.cost_epochs)
    sizes = [_run_point(["size", "--images", str(images), "--epochs", epochs], 600)
             for images in settings.cost_sizes]
    depths = [_run_point(["depth", "--depth", str(depth), "--images", str(settings.cost_depth_images),
                          "--epochs", epochs], 600) for depth in settings.cost_depths]
    size_fits, depth_fits = _fits(sizes, "images"), _fits(depths, "depth")
    # Seconds per image and bytes per image, the slopes a reader compares with what one image is.
    size_fits["memory"]["bytes_per_image_of_data"] = sizes[-1]["data_bytes"] / sizes[-1]["images"]
    depth_fits["parameters"] = linear_fit([point["depth"] for point in depths],
                                          [point["parameters"] for point in depths])
    depth_fits["time_per_step"] = {
        "fixed_seconds_per_step": depth_fits["time"]["intercept"] / depths[0]["steps_per_epoch"],
        "seconds_per_step_per_layer": depth_fits["time"]["slope"] / depths[0]["steps_per_epoch"]}
    result = {
        "what": f"{DATASET}: seconds per epoch (median of the epochs after the first, which traces; no validation) "
                f"and peak resident memory during training (VmHWM reset after loading), each point a fresh "
                f"process; size: {SIZE_ARCHITECTURE} with its shipped defaults on N training images; depth: dnn "
                f"(width 100) with D hidden layers after the first, on {settings.cost_depth_images:,} images; "
                "straight lines fitted by least squares",
        "dataset": DATASET,
        "epochs_per_point": settings.cost_epochs,
        "size": {"points": sizes, "fit": size_fits},
        "depth": {"points": depths, "fit": depth_fits},
        "plots": [],
    }
    plot_dir, plot_prefix = settings.cost_plot_dir, settings.cost_plot_prefix
    if plot_dir is not None:
        from bench import plot

        size_path = Path(plot_dir) / f"{plot_prefix}cost-vs-size.png"
        depth_path = Path(plot_dir) / f"{plot_prefix}cost-vs-depth.png"
        plot.two_panels(size_path, f"Training cost against training-set size ({SIZE_ARCHITECTURE}, {DATASET})", [
            {"x": [p["images"] for p in sizes], "y": [p["seconds_per_epoch"] for p in sizes],
             "fit": size_fits["time"], "x_label": "training images", "y_label": "seconds per epoch"},
            {"x": [p["images"] for p in sizes], "y": [p["peak_rss_bytes"] / 2**20 for p in sizes],
             "fit": _scaled(size_fits["memory"], 2**20), "x_label": "training images", "y_label": "peak memory, MiB"},
        ])
        plot.two_panels(depth_path, f"Training cost against depth (dnn, width 100, "
                                    f"{settings.cost_depth_images:,} images)", [
            {"x": [p["depth"] for p in depths], "y": [p["seconds_per_epoch"] for p in depths],
             "fit": depth_fits["time"], "x_label": "hidden layers", "y_label": "seconds per epoch"},
            {"x": [p["depth"] for p in depths], "y": [p["peak_rss_bytes"] / 2**20 for p in depths],
             "fit": _scaled(depth_fits["memory"], 2**20), "x_label": "hidden layers", "y_label": "peak memory, MiB"},
        ])
        result["plots"] = [str(size_path), str(depth_path)]
    return result


def _scaled(fit: dict, divisor: float) -> dict:
    return {**fit, "slope": fit["slope"] / divisor, "intercept": fit["intercept"] / divisor}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.split("\n")[0])
    parser.add_argument("--worker", choices=("size", "depth"), required=True,
                        help="one point, in this process (the section starts these itself: python -m bench "
                             "--only cost)")
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--depth", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(cost_worker(args.worker, args.images, args.depth, args.epochs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
