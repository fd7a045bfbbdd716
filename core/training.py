"""Training: a dataset and an architecture in, a saved run out, with progress events along the way.

    from core import training
    run = training.train("mnist_sample", "cnn", {"epochs": 2}, on_event=print)

The images stay `uint8` all the way into the model (it scales them itself), and reach it through `tf.data`:
shuffled indices, a batched gather and prefetching, so that nothing is copied to float first. The validation
images are a stratified, shuffled hold-out of the training set: the embedded sample is stored in class order,
and Keras's own `validation_split` would keep its last 20%, only 8s and 9s, for validation.

Everything the app and the command line show comes out of `on_event` as plain dictionaries:
    {"kind": "start", "epochs", "steps_per_epoch", "device", "run_id", ...}
    {"kind": "batch", "epoch", "step", "steps", "loss", "accuracy", "images_per_second", "elapsed", "eta"}
    {"kind": "epoch", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "elapsed"}
    {"kind": "end", "status", "test": {...}, "elapsed", "message", "stopped_early"}
Batch events are throttled (a few per second) so that drawing live charts costs training almost nothing.

Besides the model, a run keeps its epoch replay (`core.replay`): the answers on a fixed set of test images
after every epoch. With `early_stopping_patience` N > 0, training ends once the validation loss has not
improved for N epochs, and run.json records it in `stopped_early`; the model kept is the best epoch either way.
A runs folder that fills up or cannot be written ends the run as failed with a message that says what to do.
"""

import errno
import math
import threading
import time
from typing import Callable

import numpy as np

from core import architectures, backend, datasets, evaluation, pen_shift, replay
from core.runs import RUNS_DIR_VARIABLE, RunStore

Event = dict
EventHandler = Callable[[Event], None]


def stratified_split(labels: np.ndarray, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled training and validation indices, each class split in the same proportion."""
    labels = np.asarray(labels).reshape(-1)
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"Validation fraction must be at least 0 and below 1; got {validation_fraction}.")
    generator = np.random.default_rng(seed)
    train_parts, validation_parts = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        generator.shuffle(members)
        count = int(round(len(members) * validation_fraction))
        validation_parts.append(members[:count])
        train_parts.append(members[count:])
    train_indices = np.concatenate(train_parts)
    validation_indices = np.concatenate(validation_parts)
    generator.shuffle(train_indices)
    generator.shuffle(validation_indices)
    return train_indices, validation_indices


def make_pipeline(images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int = 0,
                  indices: np.ndarray | None = None):
    """A `tf.data.Dataset` of (uint8 images, int labels) batches, of `images[indices]` (all by default).

    TensorFlow holds only the indices: they are shuffled, batched, and each batch of images is gathered from
    the one NumPy array in a single step. Nothing is copied up front (`tf.constant(images)` kept about two
    more copies of CIFAR-10 inside TensorFlow), so training memory stays close to the dataset's own size.
    """
    tf = backend.tensorflow()
    labels = np.asarray(labels).astype(np.int32)
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    image_shape = images.shape[1:]
    pipeline = tf.data.Dataset.from_tensor_slices(indices.astype(np.int64))
    if shuffle:
        pipeline = pipeline.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)

    def gather(batch):
        batch_images, batch_labels = tf.numpy_function(
            lambda rows: (images[rows], labels[rows]), [batch], (tf.uint8, tf.int32), stateful=False)
        batch_images.set_shape((None, *image_shape))
        batch_labels.set_shape((None,))
        return batch_images, batch_labels

    pipeline = pipeline.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return pipeline.prefetch(tf.data.AUTOTUNE)


class StopRequested(Exception):
    """Raised inside `fit` to end training now: someone asked for a stop."""


class LossIsNotFinite(Exception):
    """Raised inside `fit` when the loss becomes NaN or infinite."""


def _make_callbacks():
    """The callback classes, made on first use so that importing this module does not import Keras."""
    keras = backend.keras()

    class ProgressCallback(keras.callbacks.Callback):
        """Emits throttled batch events and every epoch end; the live charts are drawn from these."""

        def __init__(self, emit: EventHandler, epochs: int, steps: int, batch_size: int,
                     interval: float = 0.25):
            super().__init__()
            self.emit, self.epochs, self.steps, self.batch_size = emit, epochs, steps, batch_size
            self.interval = interval
            self.history: dict[str, list] = {}

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()
            self.last_emit = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            last = batch + 1 == self.steps
            if now - self.last_emit < self.interval and not last:
                return
            self.last_emit = now
            logs = logs or {}
            elapsed = now - self.start
            done = self.epoch * self.steps + batch + 1
            total = self.epochs * self.steps
            epoch_elapsed = max(now - self.epoch_start, 1e-9)
            self.emit({
                "kind": "batch",
                "epoch": self.epoch + 1,
                "epochs": self.epochs,
                "step": batch + 1,
                "steps": self.steps,
                "progress": done / total,
                "loss": _number(logs.get("loss")),
                "accuracy": _number(logs.get("accuracy")),
                "images_per_second": (batch + 1) * self.batch_size / epoch_elapsed,
                "elapsed": elapsed,
                "eta": elapsed / done * (total - done),
            })

        def on_epoch_end(self, epoch, logs=None):
            logs = {key: _number(value) for key, value in (logs or {}).items()}
            for key, value in logs.items():
                self.history.setdefault(key, []).append(value)
            self.emit({"kind": "epoch", "epoch": epoch + 1, "epochs": self.epochs,
                       "elapsed": time.perf_counter() - self.start,
                       "epoch_seconds": time.perf_counter() - self.epoch_start, **logs})

    class StopCallback(keras.callbacks.Callback):
        """Ends training at the next batch once `stop_event` is set (the Stop button, or Ctrl-C).

        It raises rather than setting `model.stop_training`, because Keras would then finish the epoch's
        bookkeeping: validate the half-trained epoch (seconds on CIFAR-10) and report it as a whole one.
        """

        def __init__(self, stop_event: threading.Event):
            super().__init__()
            self.stop_event = stop_event

        def on_train_batch_end(self, batch, logs=None):
            if self.stop_event.is_set():
                raise StopRequested()

    class NaNCallback(keras.callbacks.Callback):
        """Stops a run whose loss became NaN or infinite (a learning rate far too high)."""

        def on_train_batch_end(self, batch, logs=None):
            loss = _number((logs or {}).get("loss"))
            if loss is not None and not math.isfinite(loss):
                raise LossIsNotFinite(batch + 1)

    class BestCheckpoint(keras.callbacks.Callback):
        """Keeps the weights of the best finished epoch, in memory and in the run folder.

        The best epoch is the one with the lowest validation loss (training loss without validation), as
        `ModelCheckpoint(save_best_only=True)` chooses it. A NaN epoch is never the best.
        """

        def __init__(self, save: Callable | None, monitor: str):
            super().__init__()
            self.save, self.monitor = save, monitor
            self.best_value, self.best_epoch, self.best_weights = math.inf, None, None

        def on_epoch_end(self, epoch, logs=None):
            value = _number((logs or {}).get(self.monitor))
            if value is None or not math.isfinite(value) or value >= self.best_value:
                return
            self.best_value, self.best_epoch = value, epoch + 1
            self.best_weights = self.model.get_weights()
            if self.save is not None:
                self.save(self.model)

    class EarlyStopping(keras.callbacks.Callback):
        """Ends training once `patience` epochs have passed without a new best epoch.

        It reads the best epoch from the checkpoint (which runs before it) instead of keeping its own, so that
        the epoch it says it keeps is always the one saved. Like Keras's `EarlyStopping`, it sets
        `model.stop_training`: the finished epoch is complete, nothing is cut short.
        """

        def __init__(self, checkpoint, patience: int):
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
        images cost a fraction of a second per epoch.
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

    return ProgressCallback, StopCallback, NaNCallback, BestCheckpoint, EarlyStopping, ReplayRecorder


def _number(value):
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def cosine_schedule(hyperparameters: dict):
    """A callback that lowers the learning rate epoch by epoch from the chosen rate towards zero, along half a
    cosine wave: big steps while the model is far off, small ones to settle it at the end."""
    keras = backend.keras()
    rate, epochs = hyperparameters["learning_rate"], hyperparameters["epochs"]
    return keras.callbacks.LearningRateScheduler(lambda epoch: rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs)))


def _errno(error: BaseException) -> int | None:
    """The operating system's error number behind `error`, looking through the exceptions it wraps."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "errno", None):
            return error.errno
        error = error.__cause__ or error.__context__
    return None


def storage_problem(error: BaseException, folder) -> str:
    """What a teacher should know and do when the runs folder cannot be written: full, forbidden, or else."""
    number = _errno(error)
    if number in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return (f"The disk that holds the runs folder ({folder}) is full. Free some disk space (old runs can be "
                f"deleted on the Results page), or set "
                f"{RUNS_DIR_VARIABLE} to a folder on another disk and restart the app, then train again.")
    if number in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"The app is not allowed to write to the runs folder ({folder}). Give it write access, or set "
                f"{RUNS_DIR_VARIABLE} to a folder it can write to and restart the app, then train again.")
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return (f"The runs folder ({folder}) could not be written ({reason}). Check the disk, or set "
            f"{RUNS_DIR_VARIABLE} to another folder and restart the app, then train again.")


def validate_training_data(hyperparameters: dict, train_count: int) -> None:
    if hyperparameters["batch_size"] > train_count:
        raise ValueError(
            f"Batch size {hyperparameters['batch_size']} is larger than the {train_count} training images left "
            "after the validation hold-out: choose a smaller batch."
        )


def train(
    dataset: str,
    architecture: str,
    hyperparameters: dict | None = None,
    *,
    name: str = "",
    owner: str = "",
    store: RunStore | None = None,
    run_id: str | None = None,
    on_event: EventHandler | None = None,
    stop_event: threading.Event | None = None,
    mixed_precision: str | None = None,
    limit_train: int | None = None,
) -> dict:
    """Trains `architecture` on `dataset`, saves the run and returns its run.json contents.

    `run_id` continues a run the caller already created (the app's queue does, to show it as queued);
    otherwise a new run is made. `limit_train` trains on the first N shuffled training images only (tests,
    quick demos). Bad hyperparameters raise ValueError before anything is saved.
    """
    hp = architectures.resolve_hyperparameters(architecture, hyperparameters)
    data = datasets.load(dataset)
    emit = on_event or (lambda event: None)
    stop_event = stop_event or threading.Event()
    store = store or RunStore()

    train_indices, validation_indices = stratified_split(data.y_train, hp["validation_fraction"], hp["seed"])
    if limit_train is not None:
        train_indices = train_indices[:limit_train]
    validate_training_data(hp, len(train_indices))

    if run_id is None:
        run = store.create(dataset=dataset, architecture=architecture, hyperparameters=hp, name=name,
                           owner=owner, status="running")
        run_id = run.id
    device = backend.device_name()
    started = time.time()
    store.update(run_id, status="running", hyperparameters=hp, device=device, started=started,
                 train_images=len(train_indices), validation_images=len(validation_indices))

    keras = backend.keras()
    # One seed fixes the weights' initialisation, dropout and the shuffling order: same seed, same run.
    keras.utils.set_random_seed(hp["seed"])
    model = architectures.build_model(architecture, data.image_shape, data.num_classes, hp,
                                      mixed_precision=mixed_precision)
    train_pipeline = make_pipeline(data.x_train, data.y_train, hp["batch_size"], shuffle=True, seed=hp["seed"],
                                   indices=train_indices)
    validation_pipeline = None
    if len(validation_indices):
        validation_pipeline = make_pipeline(data.x_train, data.y_train, 512, shuffle=False,
                                            indices=validation_indices)
    steps = math.ceil(len(train_indices) / hp["batch_size"])

    def emit_and_record(event):
        if event["kind"] == "epoch":
            store.update(run_id, history=progress.history, epochs_done=event["epoch"])
        emit(event)

    ProgressCallback, StopCallback, NaNCallback, BestCheckpoint, EarlyStopping, ReplayRecorder = _make_callbacks()
    progress = ProgressCallback(emit_and_record, hp["epochs"], steps, hp["batch_size"])
    monitor = "val_loss" if validation_pipeline is not None else "loss"
    checkpoint = BestCheckpoint(lambda model: store.save_model(run_id, model), monitor)
    # The same test images every epoch, every class equally, chosen by the run's seed.
    replay_indices = replay.pick_images(data.y_test, seed=hp["seed"])
    recorder = ReplayRecorder(data.x_test[replay_indices], save=lambda: save_replay())
    emit({"kind": "start", "run_id": run_id, "dataset": dataset, "architecture": architecture,
          "epochs": hp["epochs"], "steps_per_epoch": steps, "device": device,
          "train_images": len(train_indices), "validation_images": len(validation_indices),
          "early_stopping_patience": hp["early_stopping_patience"]})

    # The recorder comes before the checkpoint, so that an epoch whose model cannot be saved is still replayed
    # like the history records it; early stopping comes after it, to read the epoch it has just judged.
    callbacks = [progress, recorder, NaNCallback(), StopCallback(stop_event), checkpoint]
    early_stopping = None
    if hp["early_stopping_patience"] > 0:
        early_stopping = EarlyStopping(checkpoint, hp["early_stopping_patience"])
        callbacks.append(early_stopping)
    if hp["learning_rate_schedule"] == "cosine":
        # First, so that the rate it sets is in the logs the progress callback records.
        callbacks.insert(0, cosine_schedule(hp))

    def save_replay() -> None:
        if recorder.probabilities:
            replay.save_replay(store, run_id, recorder.images, data.y_test[replay_indices], recorder.probabilities)

    storage_failed = False
    try:
        model.fit(
            train_pipeline,
            validation_data=validation_pipeline,
            epochs=hp["epochs"],
            # The pipeline already reshuffles every epoch.
            shuffle=False,
            callbacks=callbacks,
            verbose=0,
        )
        status, message = "completed", ""
    except (StopRequested, KeyboardInterrupt):
        status, message = "stopped", "Stopped by request: the run keeps its best finished epoch."
    except LossIsNotFinite as error:
        status = "failed"
        message = (f"The loss became NaN (not a number) at batch {error.args[0]} of epoch "
                   f"{len(progress.history.get('loss', [])) + 1}: the learning rate is too high for this model. "
                   "Try a learning rate ten times smaller.")
    except OSError as error:
        # The disk filled up, or the runs folder became read-only, while saving an epoch.
        status, storage_failed = "failed", True
        message = (f"It stopped after epoch {len(progress.history.get('loss', []))} because its results "
                   f"could not be saved. {storage_problem(error, store.root)}")
    except Exception as error:
        # A crash inside fit (out of memory, a bug): keep what was learnt, say what happened, re-raise.
        message = f"Training failed: {error}"
        try:
            save_replay()
        except OSError:
            pass
        store.update(run_id, status="failed", problem=message, history=progress.history,
                     duration=time.time() - started, best_epoch=checkpoint.best_epoch)
        emit({"kind": "end", "status": "failed", "message": message, "run_id": run_id})
        raise

    epochs_done = len(progress.history.get("loss", []))
    stopped_early = None
    if early_stopping is not None and early_stopping.stopped_epoch is not None and status == "completed" \
            and early_stopping.stopped_epoch < hp["epochs"]:
        stopped_early = {"epoch": early_stopping.stopped_epoch, "patience": hp["early_stopping_patience"],
                         "best_epoch": checkpoint.best_epoch, "monitor": monitor}
    fields = {"status": status, "problem": message, "history": progress.history,
              "duration": time.time() - started, "best_epoch": checkpoint.best_epoch,
              "epochs_done": epochs_done, "stopped_early": stopped_early,
              "replay_seconds_per_epoch": recorder.seconds / epochs_done if epochs_done else None}
    if storage_failed:
        # Nothing more is written but the status, which may fail too: the page then reads the end event.
        try:
            meta = store.update(run_id, **fields)
        except OSError:
            meta = {"id": run_id, **fields}
    else:
        save_replay()
        if checkpoint.best_weights is not None:
            # The saved model is the best epoch, and so are the test figures.
            model.set_weights(checkpoint.best_weights)
            result = evaluation.evaluate(model, data.x_test, data.y_test)
            store.save_array(run_id, "test_probabilities", result.probabilities)
            fields["test"] = result.summary()
            # Digit models are also scored on handwriting they never saw: domain shift (core.pen_shift).
            pen_writers = pen_shift.score(model, dataset)
            if pen_writers is not None:
                fields[pen_shift.RUN_KEY] = pen_writers
        meta = store.update(run_id, **fields)
    emit({"kind": "end", "status": status, "message": message, "run_id": run_id,
          "test": fields.get("test"), "elapsed": fields["duration"], "stopped_early": stopped_early})
    return meta
