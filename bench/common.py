"""What the benchmark's sections share: the seeds' model and ours, an epoch timer, the sample, a polled event
log, canvas-like pictures, and the subprocesses (`python -m bench --worker ...`) some sections run in."""

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

from bench.settings import ROOT
from core import architectures, backend, datasets, evaluation


def epoch_timer():
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
    hp = architectures.resolve_hyperparameters(architecture, hyperparameters)
    model = architectures.build_model(architecture, image_shape, num_classes, hp, mixed_precision=mixed_precision)
    if jit_compile or steps_per_execution != 1:
        model.compile(optimizer=architectures.make_optimizer(hp["optimizer"], hp["learning_rate"]),
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


def canvas_drawing(digit: np.ndarray, size: int = 280) -> np.ndarray:
    """A canvas-like RGBA picture of a 28x28 digit: white ink whose alpha is the stroke, on transparency."""
    from PIL import Image

    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    picture = np.zeros((size, size, 4), dtype=np.uint8)
    picture[..., :3] = 255
    picture[..., 3] = ink
    return picture


def run_worker(arguments: list[str], timeout: float) -> dict:
    """Runs `python -m bench --worker ...` and returns the JSON object it prints last."""
    completed = subprocess.run([sys.executable, "-m", "bench", *arguments], cwd=ROOT, capture_output=True,
                               text=True, timeout=timeout, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"worker {arguments} failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return json.loads(lines[-1])
