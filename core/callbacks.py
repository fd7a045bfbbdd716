"""The Keras callbacks a training runs with, one concept each: progress events, stop, NaN, best epoch, early
stopping, the epoch replay and the cosine learning-rate schedule.

    from core import callbacks
    progress = callbacks.ProgressEvents(print, epochs=2, steps=100, batch_size=64)
    model.fit(pipeline, epochs=2, callbacks=[progress, callbacks.StopOnNaN()])

`core.training.train` puts them together; the benchmark uses them by name to time what the app runs. Importing
this module imports Keras (seconds): `core.training` imports it only when a training starts, so that the home
page never pays for it.
"""

import math
import time
from collections.abc import Callable

import numpy as np

from core import backend

keras = backend.keras()


class StopRequested(Exception):
    """Raised inside `fit` to end training now: someone asked for a stop."""


class LossIsNotFinite(Exception):
    """Raised inside `fit` when the loss becomes NaN or infinite; its argument is the batch number (from 1)."""


def number(value) -> float | None:
    """A log value as a plain float, or None when Keras logged nothing usable."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class ProgressEvents(keras.callbacks.Callback):
    """Emits throttled batch events and every epoch end; the live charts are drawn from these.

    A batch event goes out at most every `interval` seconds (and at an epoch's last batch), so that drawing
    live charts costs training almost nothing. `history` collects every epoch's logs, as Keras's own does.

    The time left (`eta`, seconds) comes from the pace measured after the first batch, which also pays for
    building and compiling the model (it alone can take longer than a whole small training), and only once
    that pace has been watched for `pace_seconds`; until then `eta` is None ("estimating").
    """

    def __init__(self, emit: Callable[[dict], None], epochs: int, steps: int, batch_size: int, interval: float = 0.25,
                 pace_seconds: float = 1.0, clock: Callable[[], float] = time.perf_counter):
        super().__init__()
        self.emit, self.epochs, self.steps, self.batch_size = emit, epochs, steps, batch_size
        self.interval, self.pace_seconds, self.clock = interval, pace_seconds, clock
        self.history: dict[str, list] = {}

    def on_train_begin(self, logs=None):
        self.start = self.clock()
        self.last_emit = 0.0
        # (time, batches done) at the end of the first batch: the pace is measured from there.
        self.pace_start: tuple[float, int] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_start = self.clock()

    def time_left(self, now: float, done: int, total: int) -> float | None:
        """Seconds left at the pace since the first batch, or None while that pace is not measured yet."""
        if self.pace_start is None:
            self.pace_start = (now, done)
            return None
        since, done_then = self.pace_start
        if now - since < self.pace_seconds or done <= done_then:
            return None
        return (now - since) / (done - done_then) * (total - done)

    def on_train_batch_end(self, batch, logs=None):
        now = self.clock()
        done = self.epoch * self.steps + batch + 1
        total = self.epochs * self.steps
        eta = self.time_left(now, done, total)
        last = batch + 1 == self.steps
        if now - self.last_emit < self.interval and not last:
            return
        self.last_emit = now
        logs = logs or {}
        elapsed = now - self.start
        epoch_elapsed = max(now - self.epoch_start, 1e-9)
        self.emit({
            "kind": "batch",
            "epoch": self.epoch + 1,
            "epochs": self.epochs,
            "step": batch + 1,
            "steps": self.steps,
            "progress": done / total,
            "loss": number(logs.get("loss")),
            "accuracy": number(logs.get("accuracy")),
            "images_per_second": (batch + 1) * self.batch_size / epoch_elapsed,
            "elapsed": elapsed,
            "eta": eta,
        })

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: number(value) for key, value in (logs or {}).items()}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.emit({"kind": "epoch", "epoch": epoch + 1, "epochs": self.epochs,
                   "elapsed": self.clock() - self.start,
                   "epoch_seconds": self.clock() - self.epoch_start, **logs})


class StopOnRequest(keras.callbacks.Callback):
    """Ends training at the next batch once `should_stop()` says so (the Stop button, Ctrl-C, a stop flag).

    `should_stop` is any function without arguments: a `threading.Event`'s `is_set`, or one that reads a flag
    from a file or Redis. It is asked after every batch, so it should answer in microseconds.

    It raises rather than setting `model.stop_training`, because Keras would then finish the epoch's
    bookkeeping: validate the half-trained epoch (seconds on CIFAR-10) and report it as a whole one.
    """

    def __init__(self, should_stop: Callable[[], bool]):
        super().__init__()
        self.should_stop = should_stop

    def on_train_batch_end(self, batch, logs=None):
        if self.should_stop():
            raise StopRequested()


class StopOnNaN(keras.callbacks.Callback):
    """Stops a run whose loss became NaN or infinite (a learning rate far too high) by raising LossIsNotFinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = number((logs or {}).get("loss"))
        if loss is not None and not math.isfinite(loss):
            raise LossIsNotFinite(batch + 1)


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the weights of the best finished epoch, in memory and through `save(model)` (None: memory only).

    The best epoch is the one with the lowest `monitor` value (the validation loss, or the training loss without
    validation), as `ModelCheckpoint(save_best_only=True)` chooses it. A NaN epoch is never the best.
    """

    def __init__(self, save: Callable | None, monitor: str):
        super().__init__()
        self.save, self.monitor = save, monitor
        self.best_value, self.best_epoch, self.best_weights = math.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = number((logs or {}).get(self.monitor))
        if value is None or not math.isfinite(value) or value >= self.best_value:
            return
        self.best_value, self.best_epoch = value, epoch + 1
        self.best_weights = self.model.get_weights()
        if self.save is not None:
            self.save(self.model)


class EarlyStopping(keras.callbacks.Callback):
    """Ends training once `patience` epochs have passed without a new best epoch.

    It reads the best epoch from the checkpoint (which must run before it) instead of keeping its own, so that
    the epoch it says it keeps is always the one saved. Like Keras's `EarlyStopping`, it sets
    `model.stop_training`: the finished epoch is complete, nothing is cut short.
    """

    def __init__(self, checkpoint: BestCheckpoint, patience: int):
        super().__init__()
        self.checkpoint, self.patience = checkpoint, patience
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 - (self.checkpoint.best_epoch or 0) >= self.patience:
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True


class ReplayRecorder(keras.callbacks.Callback):
    """Predicts a fixed set of test images after every epoch: the run's epoch replay (`core.replay`).

    Batches of 250 keep the memory of a convolution's activations small on colour images; the thousand
    images cost a fraction of a second per epoch. `save()`, if given, is called after every epoch.
    """

    def __init__(self, images, batch_size: int = 250, save: Callable | None = None):
        super().__init__()
        self.images, self.batch_size, self.save = images, batch_size, save
        self.probabilities: list[np.ndarray] = []
        self.seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        parts = [np.asarray(self.model.predict_on_batch(self.images[first:first + self.batch_size]))
                 for first in range(0, len(self.images), self.batch_size)]
        self.probabilities.append(np.concatenate(parts).astype(np.float16))
        self.seconds += time.perf_counter() - start
        # Saved every epoch, like the history: a server killed mid-training keeps the replay so far.
        if self.save is not None:
            self.save()


def cosine_schedule(hyperparameters: dict) -> keras.callbacks.LearningRateScheduler:
    """Lowers the learning rate epoch by epoch from the chosen rate towards zero, along half a cosine wave: big
    steps while the model is far off, small ones to settle it at the end."""
    rate, epochs = hyperparameters["learning_rate"], hyperparameters["epochs"]
    return keras.callbacks.LearningRateScheduler(lambda epoch: rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs)))
