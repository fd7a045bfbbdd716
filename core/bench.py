"""The benchmark: how fast Neural Canvas trains, draws its live charts, reads a drawing and loads in a browser.

    python -m core.bench                          # full: about 11 minutes on 2 CPU cores
    python -m core.bench --quick                  # under a minute: checks that every measurement still runs (CI)
    python -m core.bench --out bench/results.json # where the JSON goes (the full mode's default)
    python -m core.bench --only chart_overhead    # one section (full sizes unless --quick)

It measures, writes every figure to a JSON file (after each section, so a crash keeps what was measured) and
prints the markdown tables for the README. The machine this runs on is usually shared, so every figure is a ratio
against a baseline measured in the same run, with the absolute times beside it. The two sides of a comparison are
interleaved (one epoch of the baseline, one of ours, and again), and a ratio is the median of those paired
ratios: a neighbour's burst of work slows both sides of a pair alike.

The sections, each a function below:

1. `training_throughput`: images per second of our pipeline (uint8 through `tf.data`, scaling inside the model,
   the app's progress callback) against the seeds' way (float64 arrays divided by 255, one-hot labels,
   `model.fit(x, y, validation_split=0.2, batch_size=32)`) for the same `cnn`, data and epochs, with both test
   accuracies; and the other paths we tried: the seeds' batch size, `mixed_bfloat16`, `steps_per_execution`, XLA
   (`jit_compile`), and TensorFlow's thread settings (`thread_settings`, one subprocess each: they can only be
   set before TensorFlow starts).
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

Quick mode uses tiny sizes and skips the thread subprocesses, most accuracy runs, Fashion-MNIST and the browser:
it proves that the code runs, not that the targets are met.
"""

import argparse
import concurrent.futures
import dataclasses
import datetime
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from core import (
    app_server,
    architectures,
    backend,
    datasets,
    evaluation,
    inference,
    jobs,
    preprocess,
    runs,
    training,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results.json"
# Quick runs (CI, tests) must never overwrite the full results that the README quotes.
DEFAULT_QUICK_OUT = ROOT / "bench" / "results-quick.json"

# The targets of the performance issue.
TARGET_THROUGHPUT_RATIO = 2.0
TARGET_CHART_OVERHEAD = 0.05
TARGET_PREDICTION_P50_MS = 10.0
TARGET_PREDICTION_SPEEDUP = 5.0
TARGET_MEMORY_RATIO = 0.5
TARGET_DIGIT_ACCURACY = 0.985
TARGET_DIGIT_SECONDS = 60.0
TARGET_FASHION_ACCURACY = 0.92
TARGET_FASHION_SECONDS = 300.0
TARGET_RELEASE_TO_PREDICTION_MS = 1000.0
# A class drawing at the same instant: each drawing still read within the canvas's one-second budget.
TARGET_CONCURRENT_P95_MS = 1000.0
# While a training runs, a reading must still feel instant: a tenth of the canvas's budget.
TARGET_DURING_TRAINING_P95_MS = 100.0

# The seeds' training settings (batch 32, Adam at 0.001), to run through our pipeline as well.
SEED_SETTINGS = {"batch_size": 32, "learning_rate": 0.001}
# The fastest settings we found for `modern_cnn` on the full Fashion-MNIST (see time_to_accuracy): half the
# filters, batches of 128, no augmentation (photos of clothes, not drawings), and a cosine schedule over four
# epochs (with a constant rate it took five epochs and just reached 92.0%).
FAST_FASHION_SETTINGS = {"filters": 16, "batch_size": 128, "learning_rate": 0.003, "augmentation": False,
                         "learning_rate_schedule": "cosine", "epochs": 4}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The sizes of one benchmark mode."""

    quick: bool
    # Section 1: images of the sample used (80% train, 20% validation), test images, epochs after the warm-up.
    train_images: int
    test_images: int
    measured_epochs: int
    # Section 2: rounds of every callback variant, one chunk of training steps each.
    overhead_rounds: int
    overhead_steps: int
    # Section 3: calls to each predictor.
    prediction_calls: int
    # Section 4: synthetic CIFAR-sized images and training steps in each memory subprocess.
    memory_images: int
    memory_steps: int
    # Section 5: time caps in seconds; training images for the digit model (None: the whole sample).
    digit_cap: float
    fashion_cap: float | None
    digit_train_limit: int | None
    # Which of the slower extras run.
    throughput_configs: tuple[str, ...]
    prediction_architectures: tuple[str, ...]
    accuracy_runs: tuple[str, ...]
    threads: bool
    browser: bool
    # Sections 7 and 8: training images of the served model; thread counts and readings per thread; readings
    # while a training runs (and as many with the queue idle).
    served_model_train_images: int = 3000
    concurrent_threads: tuple[int, ...] = (1, 8, 30)
    concurrent_calls: int = 20
    during_training_calls: int = 150
    # The whole run's time budget in seconds: the accuracy runs' caps shrink to keep within it (None: no budget).
    time_budget: float | None = None
    # When the budget runs out (time.perf_counter()); set by run_benchmark.
    deadline: float | None = None


QUICK = Settings(
    quick=True, train_images=1000, test_images=500, measured_epochs=1, overhead_rounds=1, overhead_steps=10,
    prediction_calls=20, memory_images=5000, memory_steps=10, digit_cap=15.0, fashion_cap=None,
    digit_train_limit=500, throughput_configs=("defaults", "spe8"), prediction_architectures=("cnn",),
    accuracy_runs=("digit_model",), threads=False, browser=False,
    served_model_train_images=500, concurrent_calls=3, during_training_calls=12,
)
FULL = Settings(
    quick=False, train_images=8000, test_images=2000, measured_epochs=3, overhead_rounds=36, overhead_steps=50,
    prediction_calls=200, memory_images=50000, memory_steps=100, digit_cap=90.0,
    fashion_cap=TARGET_FASHION_SECONDS, digit_train_limit=None,
    throughput_configs=("defaults", "batch32", "spe8", "bf16", "bf16_batch32", "jit"),
    prediction_architectures=(architectures.DEFAULT_DIGIT_ARCHITECTURE, "cnn"),
    accuracy_runs=("digit_model", "modern_cnn_defaults", "fashion"), threads=True, browser=True,
    time_budget=14 * 60,
)


# --- the machine --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags(wanted=("avx2", "avx512f", "avx512_bf16", "amx_bf16")) -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [flag for flag in wanted if flag in flags]
    except OSError:
        pass
    return []


def machine_info() -> dict:
    """Date, CPU, core count, versions and the training device of this run."""
    tf = backend.tensorflow()
    keras = backend.keras()
    gpus = tf.config.list_physical_devices("GPU")
    gpu = None
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        gpu = details.get("device_name", gpus[0].name)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cpu_flags": cpu_flags(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "device": backend.device_name(),
        "gpu": gpu,
        # The other programs on a shared machine: the 1-minute load average when this run started.
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters (/proc/stat: user, nice, system, idle, iowait, irq, softirq, steal...)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def busy_shares(before, after) -> dict | None:
    """How the CPUs spent the time between two cpu_times(): busy (anyone here), idle, and stolen by other VMs."""
    if not before or not after:
        return None
    spent = [late - early for early, late in zip(before, after)]
    total = max(1, sum(spent[:8]))
    idle = spent[3] + spent[4]
    steal = spent[7] if len(spent) > 7 else 0
    return {"busy": (total - idle - steal) / total, "idle": idle / total, "stolen": steal / total}


# --- shared pieces ------------------------------------------------------------------------------------------


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def paired_ratio(numerators, denominators) -> float:
    """The median of numerator/denominator over pairs measured side by side."""
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def _epoch_timer():
    """A callback that records each epoch's wall and CPU seconds (epoch hooks only, so Keras stays asynchronous)."""
    keras = backend.keras()

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.wall, self.cpu = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self._wall, self._cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.wall.append(time.perf_counter() - self._wall)
            self.cpu.append(time.process_time() - self._cpu)

    return EpochTimer()


def seed_cnn(image_shape, num_classes: int = 10, filters: int = 32, dropout: float = 0.3):
    """The seeds' CNN: the same layers as our `cnn`, but it takes float images already divided by 255.

    Compiled as the seeds did: Adam at its default rate, one-hot labels, categorical cross-entropy.
    """
    keras = backend.keras()
    from keras import layers

    inputs = keras.Input(shape=tuple(image_shape), name="image")
    x = inputs
    if len(image_shape) == 2:
        x = layers.Reshape((*image_shape, 1), name="add_channel")(x)
    x = layers.Conv2D(filters, kernel_size=(3, 3), padding="same", activation="relu", name="conv")(x)
    x = layers.MaxPooling2D(pool_size=(2, 2), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="seed_cnn")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def our_model(architecture: str, image_shape, num_classes: int, hyperparameters: dict, *,
              mixed_precision: str | None = None, jit_compile: bool = False, steps_per_execution: int = 1):
    """`architectures.build_model`, compiled again only when a fast path needs other compile settings."""
    keras = backend.keras()
    hp = architectures.resolve_hyperparameters(architecture, hyperparameters)
    model = architectures.build_model(architecture, image_shape, num_classes, hp, mixed_precision=mixed_precision)
    if jit_compile or steps_per_execution != 1:
        model.compile(optimizer=architectures._optimizer(keras, hp["optimizer"], hp["learning_rate"]),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit_compile,
                      steps_per_execution=steps_per_execution)
    return model


def accuracy(model, images, labels) -> float:
    """The share of `images` the model classifies as `labels`."""
    return float((evaluation.predict_probabilities(model, images).argmax(axis=1) == labels).mean())


def sample_subset(count: int, seed: int = 0):
    """`count` training images of the sample in a fixed random order (the sample itself is stored by class)."""
    sample = datasets.load("mnist_sample")
    order = np.random.default_rng(seed).permutation(len(sample.y_train))[:count]
    return sample, sample.x_train[order], sample.y_train[order]


class EventLog:
    """Where progress events go while training, read by a thread every 0.5 s as the Train page's fragment does."""

    def __init__(self, poll_seconds: float = 0.5):
        self.events, self.lock = [], threading.Lock()
        self.poll_seconds, self.reads, self.curves = poll_seconds, 0, []
        self._stop = threading.Event()
        self._reader = None

    def emit(self, event):
        with self.lock:
            self.events.append(event)

    def _read(self):
        while not self._stop.wait(self.poll_seconds):
            with self.lock:
                snapshot = list(self.events)
            # What the fragment draws from them: the loss and accuracy curves of the batch events.
            self.curves = [(event["loss"], event["accuracy"]) for event in snapshot if event["kind"] == "batch"]
            self.reads += 1

    def __enter__(self):
        self._stop.clear()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._reader.join()


# --- 1. training throughput -----------------------------------------------------------------------------------


def _throughput_configs(settings: Settings) -> list[dict]:
    """Our training set-ups to compare with the seeds' way: the shipped `cnn` defaults first, then the others."""
    defaults = architectures.resolve_hyperparameters("cnn")
    shipped = f"batch {defaults['batch_size']}, lr {defaults['learning_rate']:g}"
    seeds = f"batch {SEED_SETTINGS['batch_size']}, lr {SEED_SETTINGS['learning_rate']:g}"
    configs = [
        {"name": "defaults", "label": f"ours, shipped cnn defaults ({shipped})", "hyperparameters": {}},
        {"name": "batch32", "label": f"ours, cnn with the seeds' settings ({seeds})",
         "hyperparameters": SEED_SETTINGS},
        {"name": "spe8", "label": f"ours, {shipped}, steps_per_execution 8", "hyperparameters": {},
         "steps_per_execution": 8},
        {"name": "bf16", "label": f"ours, {shipped}, mixed_bfloat16", "hyperparameters": {},
         "mixed_precision": "mixed_bfloat16"},
        {"name": "bf16_batch32", "label": f"ours, {seeds}, mixed_bfloat16", "hyperparameters": SEED_SETTINGS,
         "mixed_precision": "mixed_bfloat16"},
        {"name": "jit", "label": f"ours, {shipped}, jit_compile (XLA)", "hyperparameters": {}, "jit_compile": True},
    ]
    return [config for config in configs if config["name"] in settings.throughput_configs]


def training_throughput(settings: Settings) -> dict:
    """Images per second and test accuracy: the seeds' way against ours, epoch by epoch, interleaved."""
    keras = backend.keras()
    sample, images, labels = sample_subset(settings.train_images)
    x_test, y_test = sample.x_test[:settings.test_images], sample.y_test[:settings.test_images]
    validation_fraction = 0.2
    train_indices, validation_indices = training.stratified_split(labels, validation_fraction, seed=42)
    train_count = len(images) - int(round(len(images) * validation_fraction))
    epochs = 1 + settings.measured_epochs
    ProgressCallback = training._make_callbacks()[0]

    runners = []

    # The seeds' way. The images are in a random order (sample_subset), so that validation_split's last 20% holds
    # every class: the sample's own order would leave the seed no 8s or 9s to learn from. verbose=0 spares it the
    # cost of printing a progress bar, which the seeds paid.
    keras.utils.set_random_seed(42)
    seed_model = seed_cnn(sample.image_shape)
    x_float = images.astype(np.float64) / 255
    y_one_hot = keras.utils.to_categorical(labels, 10)
    seed_timer = _epoch_timer()

    def seed_epoch(epoch):
        seed_model.fit(x_float, y_one_hot, validation_split=validation_fraction, batch_size=32, epochs=epoch + 1,
                       initial_epoch=epoch, verbose=0, callbacks=[seed_timer])

    runners.append({"name": "seed", "label": "seeds' way (float64 / 255, one-hot, validation_split, batch 32)",
                    "model": seed_model, "timer": seed_timer, "epoch": seed_epoch, "batch_size": 32,
                    "learning_rate": 0.001, "test_images": x_test.astype(np.float64) / 255})

    validation_pipeline = training.make_pipeline(images, labels, 512, shuffle=False, indices=validation_indices)
    for config in _throughput_configs(settings):
        hp = architectures.resolve_hyperparameters("cnn", {"seed": 42, "epochs": epochs, **config["hyperparameters"]})
        keras.utils.set_random_seed(42)
        model = our_model("cnn", sample.image_shape, 10, hp, mixed_precision=config.get("mixed_precision"),
                          jit_compile=config.get("jit_compile", False),
                          steps_per_execution=config.get("steps_per_execution", 1))
        batch_size = hp["batch_size"]
        # As training.train builds its pipelines.
        pipeline = training.make_pipeline(images, labels, batch_size, shuffle=True, seed=42, indices=train_indices)
        timer = _epoch_timer()
        events = []
        progress = ProgressCallback(events.append, epochs, math.ceil(len(train_indices) / batch_size), batch_size)

        def our_epoch(epoch, model=model, pipeline=pipeline, timer=timer, progress=progress):
            model.fit(pipeline, validation_data=validation_pipeline, epochs=epoch + 1, initial_epoch=epoch,
                      shuffle=False, verbose=0, callbacks=[progress, timer])

        runners.append({**config, "model": model, "timer": timer, "epoch": our_epoch, "batch_size": batch_size,
                        "learning_rate": hp["learning_rate"], "test_images": x_test})

    for epoch in range(epochs):
        for runner in runners:
            runner["epoch"](epoch)

    seed_runner = runners[0]
    seed_wall = seed_runner["timer"].wall[1:]
    seed_cpu = seed_runner["timer"].cpu[1:]
    rows = {}
    for runner in runners:
        wall, cpu = runner["timer"].wall[1:], runner["timer"].cpu[1:]
        row = {
            "label": runner["label"],
            "batch_size": runner["batch_size"],
            "learning_rate": runner["learning_rate"],
            "pipeline": "NumPy arrays to fit" if runner["name"] == "seed" else "training.make_pipeline",
            "mixed_precision": runner.get("mixed_precision"),
            "jit_compile": runner.get("jit_compile", False),
            "steps_per_execution": runner.get("steps_per_execution", 1),
            "warm_up_epoch_seconds": runner["timer"].wall[0],
            "epoch_seconds": wall,
            "epoch_cpu_seconds": cpu,
            "median_epoch_seconds": statistics.median(wall),
            "images_per_second": train_count / statistics.median(wall),
            "test_accuracy": accuracy(runner["model"], runner["test_images"], y_test),
            "parameters": int(runner["model"].count_params()),
        }
        row["speedup_vs_seed"] = paired_ratio(seed_wall, wall)
        row["cpu_speedup_vs_seed"] = paired_ratio(seed_cpu, cpu)
        rows[runner["name"]] = row
    seed_accuracy = rows["seed"]["test_accuracy"]
    for name, row in rows.items():
        if name != "seed":
            row["accuracy_minus_seed"] = row["test_accuracy"] - seed_accuracy
            row["meets_target"] = bool(row["speedup_vs_seed"] >= TARGET_THROUGHPUT_RATIO
                                       and row["test_accuracy"] >= seed_accuracy)
    return {
        "what": "cnn on mnist_sample: seconds per epoch (after a warm-up epoch that traces), epochs interleaved; "
                "speedup = median over epochs of seed seconds / our seconds; accuracy on the sample's test split "
                f"after {epochs} epochs each",
        "train_images": train_count,
        "validation_images": len(images) - train_count,
        "test_images": len(y_test),
        "epochs": epochs,
        "target": f">= {TARGET_THROUGHPUT_RATIO:g}x, test accuracy >= the seed's",
        "configs": rows,
    }


# --- 1b. thread settings --------------------------------------------------------------------------------------

THREAD_SETTINGS = [(0, 0), (1, 2), (2, 1), (1, 1)]


def _threads_worker(inter: int, intra: int, train_images: int, epochs: int) -> dict:
    """Runs in its own process: sets TensorFlow's thread pools, then times the cnn with its shipped defaults."""
    tf = backend.tensorflow()
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    keras = backend.keras()
    sample, images, labels = sample_subset(train_images)
    train_indices, validation_indices = training.stratified_split(labels, 0.2, seed=42)
    keras.utils.set_random_seed(42)
    hp = architectures.resolve_hyperparameters("cnn", {"seed": 42})
    model = our_model("cnn", sample.image_shape, 10, hp)
    pipeline = training.make_pipeline(images, labels, hp["batch_size"], shuffle=True, seed=42, indices=train_indices)
    validation = training.make_pipeline(images, labels, 512, shuffle=False, indices=validation_indices)
    timer = _epoch_timer()
    model.fit(pipeline, validation_data=validation, epochs=epochs, shuffle=False, verbose=0, callbacks=[timer])
    return {"inter_op": inter, "intra_op": intra, "epoch_seconds": timer.wall[1:], "cpu_seconds": timer.cpu[1:],
            "train_images": len(train_indices)}


def _run_worker(arguments: list[str], timeout: float) -> dict:
    """Runs `python -m core.bench --worker ...` and returns the JSON object it prints last."""
    completed = subprocess.run([sys.executable, "-m", "core.bench", *arguments], cwd=ROOT, capture_output=True,
                               text=True, timeout=timeout, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"worker {arguments} failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return json.loads(lines[-1])


def thread_settings(settings: Settings) -> dict:
    """Our fast cnn set-up under TensorFlow's inter-op / intra-op thread settings (0 = TensorFlow's choice)."""
    if not settings.threads:
        return {"skipped": "quick mode: the thread settings need one TensorFlow process each"}
    rows = []
    for inter, intra in THREAD_SETTINGS:
        rows.append(_run_worker(["--worker", "threads", "--inter", str(inter), "--intra", str(intra),
                                 "--images", str(settings.train_images), "--epochs", "4"], timeout=300))
    default = rows[0]
    for row in rows:
        row["median_epoch_seconds"] = statistics.median(row["epoch_seconds"])
        row["images_per_second"] = row["train_images"] / row["median_epoch_seconds"]
        row["speedup_vs_default"] = statistics.median(default["epoch_seconds"]) / row["median_epoch_seconds"]
    return {"what": "cnn with its shipped defaults, one process per setting (not interleaved: noisier), "
                    "3 epochs after a warm-up; (0, 0) is TensorFlow's default",
            "settings": rows}


# --- 2. live-chart overhead -----------------------------------------------------------------------------------


# "none_again" is a control: the same as "none", so that its difference from "none" shows the noise of the machine.
CHART_VARIANTS = ("none", "charts", "app", "none_again")


def chart_overhead(settings: Settings) -> dict:
    """Training time with the app's callbacks and a polling reader, against no callbacks at all.

    Variants: "charts" is the ProgressCallback with a reader thread polling its events every 0.5 s; "app" is
    the callbacks train() passes to fit that act at every batch; "none" and "none_again" have no callbacks.
    Many short fits, interleaved, rather than a few epochs: the median of many pairs is what survives a busy
    neighbour.
    """
    keras = backend.keras()
    sample, images, labels = sample_subset(settings.train_images)
    # Batches of 32, the most callback calls per image (the shipped cnn default is larger).
    hp = architectures.resolve_hyperparameters("cnn", {"seed": 42, **SEED_SETTINGS})
    train_indices, _ = training.stratified_split(labels, hp["validation_fraction"], hp["seed"])
    keras.utils.set_random_seed(hp["seed"])
    model = our_model("cnn", sample.image_shape, 10, hp)
    pipeline = training.make_pipeline(images, labels, hp["batch_size"], shuffle=True, indices=train_indices)
    steps = settings.overhead_steps
    classes = training._make_callbacks()
    total_epochs = 2 + len(CHART_VARIANTS) * settings.overhead_rounds
    epoch = 0
    times = {variant: [] for variant in CHART_VARIANTS}
    cpu = {variant: [] for variant in CHART_VARIANTS}
    events_seen = {variant: 0 for variant in CHART_VARIANTS}
    reads = {variant: 0 for variant in CHART_VARIANTS}

    def callbacks_for(variant, log):
        progress_class, stop_class, nan_class, checkpoint_class = classes[:4]
        progress = progress_class(log.emit, total_epochs, steps, hp["batch_size"])
        if variant == "charts":
            return [progress]
        # The callbacks train() passes to fit that act at every batch, the best checkpoint kept in memory instead
        # of written to disk. (Early stopping and the epoch replay act once per epoch; these chunks are not
        # epochs, so they would count the replay's predictions many times over.)
        return [progress, nan_class(), stop_class(threading.Event()), checkpoint_class(None, "val_loss")]

    def run(variant, record=True):
        nonlocal epoch
        timer = _epoch_timer()
        log = EventLog()
        # A chunk of `steps` training steps, without validation (which costs every variant the same).
        if variant.startswith("none"):
            model.fit(pipeline, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps, shuffle=False,
                      verbose=0, callbacks=[timer])
        else:
            with log:
                model.fit(pipeline, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps, shuffle=False,
                          verbose=0, callbacks=[*callbacks_for(variant, log), timer])
        epoch += 1
        if record:
            times[variant].append(timer.wall[0])
            cpu[variant].append(timer.cpu[0])
            events_seen[variant] += len(log.events)
            reads[variant] += log.reads

    # Warm-up: the first fit traces the training step; the second one warms the callbacks' path.
    run("none", record=False)
    run("charts", record=False)
    for round_number in range(settings.overhead_rounds):
        # The order rotates from round to round, so that no variant always follows the same one.
        shift = round_number % len(CHART_VARIANTS)
        for variant in CHART_VARIANTS[shift:] + CHART_VARIANTS[:shift]:
            run(variant)
    overheads = {variant: paired_ratio(times[variant], times["none"]) - 1 for variant in CHART_VARIANTS[1:]}
    return {
        "what": f"cnn on mnist_sample in batches of 32 (the most callback calls per image); "
                f"one fit of {steps} steps per variant per round, order rotated; overhead = median over rounds of "
                "(seconds with callbacks / without) - 1. charts = ProgressCallback + a reader polling every "
                "0.5 s; app = train()'s per-batch callbacks; none_again = no callbacks (a control for the noise)",
        "steps_per_fit": steps,
        "rounds": settings.overhead_rounds,
        "seconds": times,
        "cpu_seconds": cpu,
        "median_seconds": {name: statistics.median(values) for name, values in times.items()},
        "overhead": overheads["charts"],
        "overheads": overheads,
        # The spread of the charts/none pairs: a quarter of the pairs lie below the first, a quarter above.
        "charts_ratio_quartiles": [percentile([a / b for a, b in zip(times["charts"], times["none"])], fraction)
                                   for fraction in (0.25, 0.75)],
        "cpu_overheads": {variant: paired_ratio(cpu[variant], cpu["none"]) - 1 for variant in CHART_VARIANTS[1:]},
        "events_per_fit": events_seen["charts"] / max(1, len(times["charts"])),
        "reader_polls_per_fit": reads["charts"] / max(1, len(times["charts"])),
        "target": f"<= {TARGET_CHART_OVERHEAD:.0%}",
        "meets_target": bool(overheads["charts"] <= TARGET_CHART_OVERHEAD),
    }


# --- 3. one drawing -> prediction -----------------------------------------------------------------------------


def canvas_drawing(digit: np.ndarray, size: int = 280) -> np.ndarray:
    """A canvas-like RGBA picture of a 28x28 digit: white ink whose alpha is the stroke, on transparency."""
    from PIL import Image

    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    picture = np.zeros((size, size, 4), dtype=np.uint8)
    picture[..., :3] = 255
    picture[..., 3] = ink
    return picture


def prediction_latency(settings: Settings) -> dict:
    """Milliseconds from a canvas picture to probabilities: Predictor against model.predict, calls interleaved."""
    keras = backend.keras()
    sample = datasets.load("mnist_sample")
    # Ten test digits, one of each class, drawn as the canvas returns them.
    pictures = [canvas_drawing(sample.x_test[np.flatnonzero(sample.y_test == digit)[0]]) for digit in range(10)]
    results = {}
    for architecture in settings.prediction_architectures:
        keras.utils.set_random_seed(42)
        # The weights do not change the time of a prediction: an untrained model of the same shape will do. The
        # default digit model has the Draw page's settings (its filters).
        hyperparameters = {"seed": 42}
        if architecture == architectures.DEFAULT_DIGIT_ARCHITECTURE:
            hyperparameters.update(architectures.DEFAULT_DIGIT_HYPERPARAMETERS)
        model = our_model(architecture, (28, 28), 10, hyperparameters)
        started = time.perf_counter()
        predictor = inference.Predictor(model)
        trace_seconds = time.perf_counter() - started
        image = preprocess.preprocess(pictures[0]).image
        for _ in range(3):
            model.predict(image[np.newaxis], verbose=0)
            predictor.predict(image)
        ours, baseline, preprocessing, predictor_only, keras_predict = [], [], [], [], []
        largest_difference = 0.0
        for call in range(settings.prediction_calls):
            picture = pictures[call % len(pictures)]
            started = time.perf_counter()
            prepared = preprocess.preprocess(picture)
            middle = time.perf_counter()
            probabilities = predictor.predict(prepared.image)
            ended = time.perf_counter()
            ours.append(ended - started)
            preprocessing.append(middle - started)
            predictor_only.append(ended - middle)

            started = time.perf_counter()
            prepared = preprocess.preprocess(picture)
            middle = time.perf_counter()
            expected = model.predict(prepared.image[np.newaxis], verbose=0)[0]
            ended = time.perf_counter()
            baseline.append(ended - started)
            keras_predict.append(ended - middle)
            largest_difference = max(largest_difference, float(np.abs(probabilities - expected).max()))

        def summary(seconds):
            return {"p50_ms": 1000 * percentile(seconds, 0.5), "p95_ms": 1000 * percentile(seconds, 0.95)}

        row = {
            "ours": summary(ours),
            "baseline": summary(baseline),
            "preprocess": summary(preprocessing),
            "predictor_predict": summary(predictor_only),
            "model_predict": summary(keras_predict),
            "predictor_trace_seconds": trace_seconds,
            "speedup_p50": percentile(baseline, 0.5) / percentile(ours, 0.5),
            "predictor_only_speedup_p50": percentile(keras_predict, 0.5) / percentile(predictor_only, 0.5),
            "largest_probability_difference": largest_difference,
        }
        row["meets_target"] = bool(row["ours"]["p50_ms"] <= TARGET_PREDICTION_P50_MS
                                   and row["speedup_p50"] >= TARGET_PREDICTION_SPEEDUP)
        results[architecture] = row
    return {
        "what": "a 280x280 RGBA canvas picture -> probabilities; ours = preprocess.preprocess + "
                "Predictor.predict, baseline = the same preprocessing + model.predict(verbose=0); calls interleaved",
        "calls": settings.prediction_calls,
        "default_architecture": architectures.DEFAULT_DIGIT_ARCHITECTURE,
        "target": f"p50 <= {TARGET_PREDICTION_P50_MS:g} ms and >= {TARGET_PREDICTION_SPEEDUP:g}x faster",
        "models": results,
    }


# --- 7 and 8. a whole class at once ----------------------------------------------------------------------------

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


def _latency_summary(seconds: list[float]) -> dict:
    return {"p50_ms": 1000 * percentile(seconds, 0.5), "p95_ms": 1000 * percentile(seconds, 0.95),
            "max_ms": 1000 * max(seconds)}


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
            "threads": threads, "readings": len(seconds), **_latency_summary(seconds),
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
    during_summary, idle_summary = _latency_summary(during), _latency_summary(idle)
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


# --- 4. peak memory -------------------------------------------------------------------------------------------


def _status_bytes(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status ("VmRSS", "VmHWM"), in bytes; None if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _peak_rss_bytes() -> int:
    """The most resident memory this process has used.

    VmHWM rather than getrusage's ru_maxrss: Linux carries ru_maxrss over an exec from the process that started
    it, so a worker started by a big benchmark process would report its parent's size instead of its own.
    """
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _current_rss_bytes() -> int:
    return _status_bytes("VmRSS") or 0


MEMORY_WAYS = ("ours", "float32")


def _memory_worker(way: str, images: int, steps: int) -> dict:
    """Runs in its own process: trains on synthetic CIFAR-sized data one way and reports the peak memory."""
    keras = backend.keras()
    runtime = _current_rss_bytes()
    generator = np.random.default_rng(0)
    x = generator.integers(0, 256, size=(images, 32, 32, 3), dtype=np.uint8)
    y = generator.integers(0, 10, size=images)
    keras.utils.set_random_seed(42)
    if way == "ours":
        # What training.train does with a dataset: a stratified 10% hold-out, uint8 pipelines over the one array,
        # rescaling inside the model.
        model = our_model("cnn", (32, 32, 3), 10, {"seed": 42, **SEED_SETTINGS})
        train_indices, validation_indices = training.stratified_split(y, 0.1, 42)
        pipeline = training.make_pipeline(x, y, 32, shuffle=True, seed=42, indices=train_indices)
        validation = training.make_pipeline(x, y, 512, shuffle=False, indices=validation_indices)
        model.fit(pipeline, validation_data=validation, epochs=1, steps_per_epoch=steps, validation_steps=2,
                  shuffle=False, verbose=0)
    elif way == "float32":
        # The float32-normalised way: the whole array converted, then handed to fit as NumPy.
        x = x.astype("float32") / 255
        y = keras.utils.to_categorical(y, 10)
        model = seed_cnn((32, 32, 3))
        model.fit(x, y, validation_split=0.1, batch_size=32, epochs=1, steps_per_epoch=steps, validation_steps=2,
                  verbose=0)
    else:
        raise ValueError(f"Unknown way {way!r}: use one of {', '.join(MEMORY_WAYS)}.")
    return {"way": way, "images": images, "steps": steps, "peak_rss_bytes": _peak_rss_bytes(),
            "runtime_rss_bytes": runtime}


def training_memory(settings: Settings) -> dict:
    """Peak resident memory of a training on CIFAR-sized uint8 data, ours against float32 / 255, one process each.

    The processes run side by side: each one's peak is its own, whatever the other does.
    """
    arguments = {way: ["--worker", "memory", "--way", way, "--images", str(settings.memory_images), "--steps",
                       str(settings.memory_steps)] for way in MEMORY_WAYS}
    with concurrent.futures.ThreadPoolExecutor(len(MEMORY_WAYS)) as pool:
        futures = {way: pool.submit(_run_worker, arguments[way], 300) for way in MEMORY_WAYS}
        rows = {way: future.result() for way, future in futures.items()}
    for row in rows.values():
        # Above what TensorFlow occupies once imported (the same for both ways): the data and the training.
        row["above_runtime_bytes"] = row["peak_rss_bytes"] - row["runtime_rss_bytes"]
    ours, baseline = rows["ours"], rows["float32"]
    ratio = ours["peak_rss_bytes"] / baseline["peak_rss_bytes"]
    return {
        "what": f"{settings.memory_images:,} x 32 x 32 x 3 random uint8 images, random labels, cnn, "
                f"{settings.memory_steps} training steps of batch 32 and a 10% hold-out, each way in its own "
                "process; peak RSS is the process's VmHWM",
        "ways": rows,
        "ratio": ratio,
        "ratio_above_runtime": ours["above_runtime_bytes"] / max(1, baseline["above_runtime_bytes"]),
        "target": f"<= {TARGET_MEMORY_RATIO:g}x",
        "meets_target": bool(ratio <= TARGET_MEMORY_RATIO),
    }


# --- 5. time to accuracy --------------------------------------------------------------------------------------


def run_to_accuracy(dataset: str, architecture: str, hyperparameters: dict, target: float, cap_seconds: float, *,
                    train_limit: int | None = None) -> dict:
    """Trains as training.train does, testing after every epoch, until the test accuracy reaches `target`.

    The clock runs from building the model to the end of the epoch that first reaches the target; it includes
    tracing and each epoch's validation, not our own test evaluations. Past `cap_seconds` the training stops at
    the next batch, and the best test accuracy is reported instead. With a constant learning rate the training
    goes on past its `epochs` (more epochs is all the target asks); with the cosine schedule, whose course the
    epochs set, it stops after them, as the app's would.
    """
    keras = backend.keras()
    data = datasets.load(dataset)
    hp = architectures.resolve_hyperparameters(architecture, hyperparameters)
    scheduled = hp["learning_rate_schedule"] != "constant"
    max_epochs = hp["epochs"] if scheduled else 200
    train_indices, validation_indices = training.stratified_split(data.y_train, hp["validation_fraction"],
                                                                  hp["seed"])
    x_test, y_test = data.x_test, data.y_test
    if train_limit is not None:
        train_indices = train_indices[:train_limit]
        x_test, y_test = x_test[:train_limit], y_test[:train_limit]
    ProgressCallback = training._make_callbacks()[0]
    history = []
    clock = {"paused": 0.0}

    class UntilAccurate(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - started - clock["paused"] > cap_seconds:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            epoch_ended = time.perf_counter()
            score = accuracy(self.model, x_test, y_test)
            seconds = epoch_ended - started - clock["paused"]
            # The clock stops while we test: the app itself tests once, at the end.
            clock["paused"] += time.perf_counter() - epoch_ended
            history.append({"epoch": epoch + 1, "seconds": seconds, "test_accuracy": score,
                            "val_accuracy": (logs or {}).get("val_accuracy"),
                            "learning_rate": (logs or {}).get("learning_rate")})
            if score >= target or seconds > cap_seconds:
                self.model.stop_training = True

    steps = math.ceil(len(train_indices) / hp["batch_size"])
    started = time.perf_counter()
    keras.utils.set_random_seed(hp["seed"])
    model = our_model(architecture, data.image_shape, data.num_classes, hp)
    pipeline = training.make_pipeline(data.x_train, data.y_train, hp["batch_size"], shuffle=True, seed=hp["seed"],
                                      indices=train_indices)
    validation = training.make_pipeline(data.x_train, data.y_train, 512, shuffle=False, indices=validation_indices)
    callbacks = [ProgressCallback(lambda event: None, max_epochs, steps, hp["batch_size"]), UntilAccurate()]
    if scheduled:
        callbacks.insert(0, training.cosine_schedule(hp))
    model.fit(pipeline, validation_data=validation, epochs=max_epochs, shuffle=False, verbose=0,
              callbacks=callbacks)
    reached = next((row for row in history if row["test_accuracy"] >= target), None)
    best = max(history, key=lambda row: row["test_accuracy"])
    defaults = architectures.get_architecture(architecture).defaults()
    changed = {name: value for name, value in hp.items()
               if value != defaults[name] and (name != "epochs" or scheduled)}
    return {
        "dataset": dataset,
        "architecture": architecture,
        "hyperparameters": hp,
        "changed_from_defaults": changed,
        "train_images": len(train_indices),
        "test_images": len(y_test),
        "target_accuracy": target,
        "cap_seconds": cap_seconds,
        "reached": reached is not None,
        "seconds_to_target": reached["seconds"] if reached else None,
        "epochs_to_target": reached["epoch"] if reached else None,
        "best_test_accuracy": best["test_accuracy"],
        "best_at_seconds": best["seconds"],
        "epochs": history,
    }


def _accuracy_plans(settings: Settings) -> dict:
    """The time-to-accuracy runs: (dataset, architecture, hyperparameters, target, cap)."""
    digit = architectures.DEFAULT_DIGIT_ARCHITECTURE
    return {
        # The default digit model exactly as the Draw page trains it.
        "digit_model": ("mnist_sample", digit, architectures.DEFAULT_DIGIT_HYPERPARAMETERS, TARGET_DIGIT_ACCURACY,
                        settings.digit_cap),
        # The same architecture with the registry's defaults, for comparison.
        "modern_cnn_defaults": ("mnist_sample", digit, {}, TARGET_DIGIT_ACCURACY, settings.digit_cap),
        "fashion": ("fashion_mnist", "modern_cnn", FAST_FASHION_SETTINGS, TARGET_FASHION_ACCURACY,
                    settings.fashion_cap),
    }


# Seconds kept for the browser section, which comes after the accuracy runs.
BROWSER_RESERVE_SECONDS = 50


def time_to_accuracy(settings: Settings) -> dict:
    """The default digit model on the sample (the Draw page's settings, the registry's), then Fashion-MNIST.

    On a busy machine the caps shrink so that the whole benchmark stays within its time budget: each run keeps
    what the runs after it may need at most, and Fashion-MNIST, whose cap is its target, runs first.
    """
    results = {}
    plans = [(name, plan) for name, plan in _accuracy_plans(settings).items()
             if name in settings.accuracy_runs and plan[-1] is not None]
    # Fashion-MNIST first: its cap is its target, and the digit runs can make do with what it leaves.
    plans.sort(key=lambda item: item[1][0] != "fashion_mnist")
    for name in _accuracy_plans(settings):
        if name not in dict(plans):
            results[name] = {"skipped": "quick mode: full mode only"}
    for index, (name, plan) in enumerate(plans):
        dataset, architecture, hyperparameters, target, cap = plan
        shortened = False
        if settings.deadline is not None:
            later = sum(later_plan[-1] for _, later_plan in plans[index + 1:])
            left = settings.deadline - time.perf_counter() - BROWSER_RESERVE_SECONDS - later
            if left < cap:
                cap, shortened = max(20.0, left), True
        row = run_to_accuracy(dataset, architecture, hyperparameters, target, cap,
                              train_limit=settings.digit_train_limit if dataset == "mnist_sample" else None)
        row["target_seconds"] = TARGET_DIGIT_SECONDS if dataset == "mnist_sample" else TARGET_FASHION_SECONDS
        row["meets_target"] = bool(row["reached"] and row["seconds_to_target"] <= row["target_seconds"])
        row["cap_shortened_by_time_budget"] = shortened
        results[name] = row
    results = {name: results[name] for name in _accuracy_plans(settings)}
    return {"what": "wall time from building the model to the end of the first epoch whose test accuracy reaches "
                    "the target (tracing and validation included, our per-epoch test evaluation excluded)",
            "runs": results}


# --- 6. the app in a real browser -----------------------------------------------------------------------------

CHROMIUM, CHROMIUM_ARGS = app_server.CHROMIUM, app_server.CHROMIUM_ARGS

# Installed in the page before a stroke: the time of the mouse release, and the time the "Prediction" metric
# first shows a value, both on the page's own clock.
WATCH_PREDICTION = """
() => {
  const state = { released: null, shown: null, value: null };
  window.neuralCanvasBench = state;
  document.addEventListener("mouseup", () => { if (state.released === null) state.released = performance.now(); },
                            { capture: true });
  const look = () => {
    if (state.released === null || state.shown !== null) return;
    for (const metric of document.querySelectorAll("[data-testid='stMetric']")) {
      const label = metric.querySelector("[data-testid='stMetricLabel']");
      const value = metric.querySelector("[data-testid='stMetricValue']");
      if (label && value && label.textContent.includes("Prediction") && value.textContent.trim()) {
        state.shown = performance.now();
        state.value = value.textContent.trim();
        return;
      }
    }
  };
  new MutationObserver(look).observe(document.body, { childList: true, subtree: true, characterData: true });
}
"""


def _wait_idle(page) -> None:
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_selector("[data-test-script-state='notRunning']")


def _stroke(page, box, points) -> None:
    """Draws one stroke through `points` (fractions of the canvas), ending with the mouse release."""
    xs = [box["x"] + fx * box["width"] for fx, _ in points]
    ys = [box["y"] + fy * box["height"] for _, fy in points]
    page.mouse.move(xs[0], ys[0])
    page.mouse.down()
    for x, y in zip(xs[1:], ys[1:]):
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def browser(settings: Settings) -> dict:
    """Home page first render, and canvas mouse release -> "Prediction" shown, in headless Chromium."""
    if not settings.browser:
        return {"skipped": "quick mode: no browser"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "Playwright is not installed (pip install -r requirements-dev.txt)"}
    if not Path(CHROMIUM).exists():
        return {"skipped": f"{CHROMIUM} is missing (apt-get install chromium)"}

    result = {"what": "streamlit run streamlit_app.py as a subprocess; Debian's Chromium through Playwright; "
                      "times on the page's own clock (performance.now())"}
    with tempfile.TemporaryDirectory(prefix="neural-canvas-bench-") as folder:
        store = runs.RunStore(Path(folder) / "runs")
        started = time.perf_counter()
        meta = training.train("mnist_sample", "cnn", {"epochs": 1, "seed": 1}, store=store, name="bench cnn")
        result["model"] = {"architecture": "cnn", "epochs": 1, "test_accuracy": meta.get("test", {}).get("accuracy"),
                           "training_seconds": time.perf_counter() - started}
        started = time.perf_counter()
        with app_server.running_app(store.root, Path(folder) / "streamlit.log") as url:
            result["server_start_seconds"] = time.perf_counter() - started
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    result["home"] = _measure_home(chromium, url)
                    result["draw"] = _measure_draw(chromium, url)
                finally:
                    chromium.close()
    return result


def _measure_home(chromium, url: str, loads: int = 4) -> dict:
    """Navigation start -> the app rendered with its script finished, for a first visit and later ones."""
    times = []
    for _ in range(loads):
        # A fresh browser context each time: no cache, a new Streamlit session, as a new student would see it.
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url, wait_until="commit")
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning'] h1")
        times.append(page.evaluate("performance.now()"))
        context.close()
    return {"first_visit_ms": times[0], "later_visits_ms": times[1:],
            "later_visits_median_ms": statistics.median(times[1:])}


# Strokes that draw a 1, a 7 and an L-ish 4, in fractions of the canvas; none starts under the toolbar.
STROKES = [
    [(0.5, 0.2), (0.5, 0.5), (0.5, 0.8)],
    [(0.25, 0.25), (0.45, 0.25), (0.7, 0.25), (0.55, 0.5), (0.4, 0.8)],
    [(0.3, 0.2), (0.3, 0.55), (0.75, 0.55)],
]


def _measure_draw(chromium, url: str, trials: int = 5) -> dict:
    """Mouse release on a fresh canvas -> the "Prediction" metric shows a value, a few times.

    The first drawing on a freshly opened page is reported apart: it also pays for the page's first chart.
    """
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        started = time.perf_counter()
        page.goto(f"{url}/draw")
        _wait_idle(page)
        try:
            page.wait_for_selector("canvas.upper-canvas", timeout=30_000)
        except Exception:
            return {"skipped": "the Draw page shows no canvas.upper-canvas (page not ready)"}
        first_render = time.perf_counter() - started
        times, values = [], []
        for trial in range(trials):
            # Let the fresh canvas mount (and the page hide its toolbar) before drawing on it.
            page.wait_for_timeout(1000)
            page.evaluate(WATCH_PREDICTION)
            box = page.locator("canvas.upper-canvas").first.bounding_box()
            _stroke(page, box, STROKES[trial % len(STROKES)])
            page.wait_for_function("() => window.neuralCanvasBench && window.neuralCanvasBench.shown !== null",
                                   timeout=30_000)
            state = page.evaluate("window.neuralCanvasBench")
            times.append(state["shown"] - state["released"])
            values.append(state["value"])
            _wait_idle(page)
            if trial + 1 < trials:
                page.get_by_role("button", name="Clear").click()
                page.wait_for_selector("[data-testid='stMetric']", state="detached")
                _wait_idle(page)
        return {"draw_page_first_render_seconds": first_render, "release_to_prediction_ms": times,
                "first_ms": times[0], "later_median_ms": statistics.median(times[1:]),
                "median_ms": statistics.median(times), "max_ms": max(times), "predictions": values,
                "target": f"median <= {TARGET_RELEASE_TO_PREDICTION_MS:g} ms",
                "meets_target": bool(statistics.median(times) <= TARGET_RELEASE_TO_PREDICTION_MS)}
    except Exception as error:
        return {"skipped": f"the Draw page could not be measured: {type(error).__name__}: {error}"[:500]}
    finally:
        context.close()


# --- the report -----------------------------------------------------------------------------------------------

SECTIONS = {
    "training_throughput": training_throughput,
    "thread_settings": thread_settings,
    "chart_overhead": chart_overhead,
    "prediction_latency": prediction_latency,
    # Before the accuracy runs, whose caps shrink to keep the whole run within its time budget.
    "concurrent_predictions": concurrent_predictions,
    "prediction_during_training": prediction_during_training,
    "training_memory": training_memory,
    "time_to_accuracy": time_to_accuracy,
    "browser": browser,
}


def _yes_no(flag) -> str:
    return "yes" if flag else "**no**"


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"


def _sharing(machine: dict) -> str:
    shares = machine.get("cpu_shares_during_run")
    if not shares:
        return ""
    return (f" The CPUs were {shares['busy']:.0%} busy and {shares['stolen']:.0%} taken by other virtual machines "
            "during the run (a shared host: absolute times vary, ratios much less).")


def markdown_table(results: dict) -> str:
    """The README table: one row per figure, ours beside the baseline of the same run, and whether it is met."""
    machine = results["machine"]
    device = machine["gpu"] and f"GPU: {machine['gpu']}"
    here = device or f"CPU, {machine['cores']} cores"
    other = "CPU" if device else "GPU"
    sections = results["sections"]
    lines = [
        f"Measured {machine['date'][:10]} on {machine['cpu']} ({machine['cores']} cores, "
        f"{', '.join(machine['cpu_flags']) or 'no AVX'}), TensorFlow {machine['tensorflow']}, "
        f"Keras {machine['keras']}, {'quick mode' if results['quick'] else 'full mode'}, "
        f"{results.get('seconds', {}).get('total', 0) / 60:.1f} minutes.{_sharing(machine)}",
        "",
        f"| Measure | Ours ({here}) | Baseline, same run | Ratio | Target | Met | {other} |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(measure, ours, baseline, ratio, target, met):
        lines.append(f"| {measure} | {ours} | {baseline} | {ratio} | {target} | {met} | not measured |")

    def failed(name):
        section = sections.get(name, {})
        if "error" in section:
            row(name.replace("_", " "), "failed: " + section["error"].splitlines()[0][:80], "", "", "", "")
            return True
        return name not in sections

    if not failed("training_throughput"):
        configs = sections["training_throughput"]["configs"]
        seed = configs["seed"]
        for name in [name for name in ("defaults", "batch32") if name in configs]:
            config = configs[name]
            row(f"1. Training throughput, {config['label'].removeprefix('ours, ')}",
                f"{config['images_per_second']:,.0f} img/s, test acc {config['test_accuracy']:.2%}",
                f"{seed['images_per_second']:,.0f} img/s, test acc {seed['test_accuracy']:.2%}",
                f"{config['speedup_vs_seed']:.2f}×", "≥ 2×, acc ≥ seed", _yes_no(config["meets_target"]))
    if not failed("chart_overhead"):
        section = sections["chart_overhead"]
        medians = section["median_seconds"]
        per = f"s per {section['steps_per_fit']} steps"
        control = section["overheads"]["none_again"]
        for variant, title in (("charts", "progress callback + reader polling every 0.5 s"),
                               ("app", "train()'s per-batch callbacks + reader")):
            overhead = section["overheads"][variant]
            row(f"2. Live-chart overhead, {title}",
                f"{medians[variant]:.2f} {per}; CPU time {section['cpu_overheads'][variant]:+.1%}",
                f"{medians['none']:.2f} {per} (no callbacks); no-callback control {control:+.1%}",
                f"{overhead:+.1%}", "≤ 5%", _yes_no(overhead <= TARGET_CHART_OVERHEAD))
    if not failed("prediction_latency"):
        section = sections["prediction_latency"]
        for architecture, model_row in section["models"].items():
            row(f"3. Drawing → prediction, {architecture}",
                f"p50 {model_row['ours']['p50_ms']:.1f} ms, p95 {model_row['ours']['p95_ms']:.1f} ms",
                f"p50 {model_row['baseline']['p50_ms']:.1f} ms, p95 {model_row['baseline']['p95_ms']:.1f} ms "
                "(model.predict)", f"{model_row['speedup_p50']:.1f}× faster", "≤ 10 ms, ≥ 5×",
                _yes_no(model_row["meets_target"]))
    if not failed("training_memory"):
        section = sections["training_memory"]
        ways = section["ways"]
        row(f"4. Peak memory, training on {ways['ours']['images']:,} CIFAR-sized images",
            _gib(ways["ours"]["peak_rss_bytes"]), _gib(ways["float32"]["peak_rss_bytes"]) + " (float32 / 255)",
            f"{section['ratio']:.2f}× ({section['ratio_above_runtime']:.2f}× above TensorFlow's own "
            f"{_gib(ways['ours']['runtime_rss_bytes'])})", "≤ 0.5×", _yes_no(section["meets_target"]))
    if not failed("time_to_accuracy"):
        for name, run in sections["time_to_accuracy"]["runs"].items():
            if "skipped" in run:
                row(f"5. Time to accuracy, {name.replace('_', ' ')}", "not measured: " + run["skipped"], "", "", "",
                    "")
                continue
            changes = [f"{key} {value}" for key, value in run["changed_from_defaults"].items()]
            setup = f"{run['architecture']} on {run['dataset']} ({', '.join(changes) or 'registry defaults'})"
            if name == "digit_model":
                setup = f"default digit model: {setup}"
            if run["reached"]:
                ours = f"{run['seconds_to_target']:.0f} s ({run['epochs_to_target']} epochs)"
            else:
                ours = (f"not reached in {run['cap_seconds']:.0f} s: best {run['best_test_accuracy']:.2%} "
                        f"at {run['best_at_seconds']:.0f} s ({len(run['epochs'])} epochs)")
                if run.get("cap_shortened_by_time_budget"):
                    ours += ", cap shortened to keep the run within its time budget"
            row(f"5. Time to {run['target_accuracy']:.1%} test acc., {setup}", ours, "–", "–",
                f"≤ {run['target_seconds']:.0f} s", _yes_no(run["meets_target"]))
    if not failed("browser"):
        section = sections["browser"]
        if "skipped" in section:
            row("6. Browser: home render, canvas release → prediction", "not measured: " + section["skipped"],
                "", "", "", "")
        else:
            home = section["home"]
            row("6. Home page first render (navigation → idle)", f"{home['first_visit_ms']:.0f} ms first visit, "
                f"{home['later_visits_median_ms']:.0f} ms later", "–", "–", "–", "–")
            draw = section["draw"]
            if "skipped" in draw:
                row("6. Canvas mouse release → \"Prediction\" shown", "not measured: " + draw["skipped"], "", "",
                    "≤ 1 s", "")
            else:
                row(f"6. Canvas mouse release → \"Prediction\" shown ({len(draw['release_to_prediction_ms'])} "
                    "drawings)", f"median {draw['median_ms']:.0f} ms; first drawing on the page "
                    f"{draw['first_ms']:.0f} ms, later ones median {draw['later_median_ms']:.0f} ms, "
                    f"max {max(draw['release_to_prediction_ms'][1:]):.0f} ms", "–", "–", "≤ 1 s",
                    _yes_no(draw["meets_target"]))
    if not failed("concurrent_predictions"):
        section = sections["concurrent_predictions"]
        single = section["threads"].get("1")
        for threads, thread_row in section["threads"].items():
            if threads == "1":
                continue
            baseline = (f"1 thread: p50 {single['p50_ms']:.1f} ms, p95 {single['p95_ms']:.1f} ms, "
                        f"{single['readings_per_second']:,.0f}/s" if single else "–")
            correct = ("all answers equal the single-thread ones" if thread_row["wrong_answers"] == 0
                       else f"**{thread_row['wrong_answers']} wrong answers**")
            row(f"7. Drawings read at once, {threads} visitors × {section['readings_per_thread']} drawings, "
                "one shared model", f"p50 {thread_row['p50_ms']:.0f} ms, p95 {thread_row['p95_ms']:.0f} ms, "
                f"max {thread_row['max_ms']:.0f} ms; {thread_row['readings_per_second']:,.0f} drawings/s; "
                f"{correct}", baseline,
                f"p95 {thread_row['p95_ms'] / single['p95_ms']:.1f}×" if single else "–",
                f"all right, p95 ≤ {TARGET_CONCURRENT_P95_MS / 1000:g} s",
                _yes_no(thread_row["wrong_answers"] == 0 and thread_row["p95_ms"] <= TARGET_CONCURRENT_P95_MS))
    if not failed("prediction_during_training"):
        section = sections["prediction_during_training"]
        during, idle, trained = section["during_training"], section["idle"], section["training"]
        row(f"8. Drawing → prediction while the queue trains {trained['architecture']} "
            f"({trained['images_per_second']:,.0f} img/s)",
            f"p50 {during['p50_ms']:.1f} ms, p95 {during['p95_ms']:.1f} ms, max {during['max_ms']:.0f} ms "
            f"({during['readings']} drawings)",
            f"p50 {idle['p50_ms']:.1f} ms, p95 {idle['p95_ms']:.1f} ms (queue idle)",
            f"p95 {section['p95_ratio']:.1f}×", f"p95 ≤ {TARGET_DURING_TRAINING_P95_MS:g} ms",
            _yes_no(section["meets_target"]))
    lines += ["", *fast_path_table(results)]
    return "\n".join(lines)


def fast_path_table(results: dict) -> list[str]:
    """The second table: every training set-up we tried, against the seeds' way in the same run."""
    sections = results["sections"]
    throughput = sections.get("training_throughput", {})
    if "configs" not in throughput:
        return []
    lines = ["| Fast path tried (cnn, mnist_sample) | Images/s | vs seeds' way | Test accuracy | Warm-up epoch |",
             "|---|---|---|---|---|"]
    for config in throughput["configs"].values():
        lines.append(f"| {config['label']} | {config['images_per_second']:,.0f} | "
                     f"{config['speedup_vs_seed']:.2f}× | {config['test_accuracy']:.2%} | "
                     f"{config['warm_up_epoch_seconds']:.1f} s |")
    threads = sections.get("thread_settings", {})
    for setting in threads.get("settings", []):
        name = "TensorFlow's default" if setting["inter_op"] == 0 else \
            f"inter_op {setting['inter_op']}, intra_op {setting['intra_op']}"
        lines.append(f"| threads: {name} (shipped defaults, own process) | {setting['images_per_second']:,.0f} | "
                     f"{setting['speedup_vs_default']:.2f}× vs default threads | – | – |")
    return lines


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(results, indent=2, default=float) + "\n")
    partial.replace(path)


def run_benchmark(settings: Settings, out: Path, only: list[str] | None = None, log=print) -> dict:
    """Runs the sections in order, writing the JSON after each one; a failing section is recorded, not fatal."""
    results = {"quick": settings.quick, "machine": machine_info(), "sections": {}, "seconds": {}}
    started = time.perf_counter()
    counters = cpu_times()
    if settings.time_budget is not None:
        settings = dataclasses.replace(settings, deadline=started + settings.time_budget)
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
    parser = argparse.ArgumentParser(prog="python -m core.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that the code runs (seconds)")
    parser.add_argument("--out", type=Path, help="the JSON file to write (default bench/results.json, "
                                                  "bench/results-quick.json in quick mode)")
    parser.add_argument("--only", help="comma-separated sections to run: " + ", ".join(SECTIONS))
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
        print(json.dumps(_memory_worker(args.way, args.images, args.steps)))
        return 0
    if args.worker == "threads":
        print(json.dumps(_threads_worker(args.inter, args.intra, args.images, args.epochs)))
        return 0

    only = [name.strip() for name in args.only.split(",")] if args.only else None
    unknown = sorted(set(only or ()) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    settings = QUICK if args.quick else FULL
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
