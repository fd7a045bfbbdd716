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
Batch events are throttled (a few per second) so that drawing live charts costs training almost nothing. The
callbacks behind the events, the stop, the NaN check, the best epoch and the replay are in `core.callbacks`.

Besides the model, a run keeps its epoch replay (`core.replay`): the answers on a fixed set of test images
after every epoch. With `early_stopping_patience` N > 0, training ends once the validation loss has not
improved for N epochs, and run.json records it in `stopped_early`; the model kept is the best epoch either way.
A runs folder that fills up or cannot be written ends the run as failed with a message that says what to do.
"""

import errno
import math
import threading
import time
from collections.abc import Callable

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


# The input pipeline's fixed parallelism (see make_pipeline): batches gathered at once, and batches ready ahead.
PIPELINE_PARALLEL_CALLS = 2
PREFETCH_BATCHES = 2


def make_pipeline(images: np.ndarray, labels: np.ndarray, batch_size: int, *, shuffle: bool, seed: int = 0,
                  indices: np.ndarray | None = None, repeat: bool = False):
    """A `tf.data.Dataset` of (uint8 images, int labels) batches, of `images[indices]` (all by default).

    `repeat` makes it endless, epoch after epoch (each reshuffled, each ending with its own smaller last batch):
    give `fit` its `steps_per_epoch` then, and Keras keeps one iterator for the whole training.

    tf.data's autotuning is off, with a fixed parallelism instead: its background thread sleeps for longer and
    longer (up to a minute), and deleting an iterator waited for it to wake up. With a new iterator every epoch,
    that stalled the first step of about half the epochs by 2-4 s; with one endless iterator, the end of a
    training by up to 40 s. Gathering a batch is one NumPy indexing, which needs no tuning.

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

    pipeline = pipeline.batch(batch_size).map(gather, num_parallel_calls=PIPELINE_PARALLEL_CALLS, deterministic=True)
    if repeat:
        pipeline = pipeline.repeat()
    options = tf.data.Options()
    options.autotune.enabled = False
    return pipeline.prefetch(PREFETCH_BATCHES).with_options(options)


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
    stop_details: Callable[[], dict] | None = None,
    mixed_precision: str | None = None,
    limit_train: int | None = None,
) -> dict:
    """Trains `architecture` on `dataset`, saves the run and returns its run.json contents.

    `run_id` continues a run the caller already created (the app's queue does, to show it as queued);
    otherwise a new run is made. `limit_train` trains on the first N shuffled training images only (tests,
    quick demos). `stop_details`, asked when a stop request ended the training, gives the fields that say who
    or what stopped it (`problem`, `stop_reason`); they are written with the status, in the same update, and
    sent in the end event. Bad hyperparameters raise ValueError before anything is saved.
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
                                   indices=train_indices, repeat=True)
    validation_pipeline = None
    if len(validation_indices):
        validation_pipeline = make_pipeline(data.x_train, data.y_train, 512, shuffle=False,
                                            indices=validation_indices)
    steps = math.ceil(len(train_indices) / hp["batch_size"])

    def emit_and_record(event):
        if event["kind"] == "epoch":
            store.update(run_id, history=progress.history, epochs_done=event["epoch"])
        emit(event)

    # Imported here, not at the top: it imports Keras, and this module is imported by the app's router.
    from core import callbacks

    progress = callbacks.ProgressEvents(emit_and_record, hp["epochs"], steps, hp["batch_size"])
    monitor = "val_loss" if validation_pipeline is not None else "loss"
    checkpoint = callbacks.BestCheckpoint(lambda model: store.save_model(run_id, model), monitor)
    # The same test images every epoch, every class equally, chosen by the run's seed.
    replay_indices = replay.pick_images(data.y_test, seed=hp["seed"])
    recorder = callbacks.ReplayRecorder(data.x_test[replay_indices], save=lambda: save_replay())
    emit({"kind": "start", "run_id": run_id, "dataset": dataset, "architecture": architecture,
          "epochs": hp["epochs"], "steps_per_epoch": steps, "device": device,
          "train_images": len(train_indices), "validation_images": len(validation_indices),
          "early_stopping_patience": hp["early_stopping_patience"]})

    # The recorder comes before the checkpoint, so that an epoch whose model cannot be saved is still replayed
    # like the history records it; early stopping comes after it, to read the epoch it has just judged.
    hooks = [progress, recorder, callbacks.StopOnNaN(), callbacks.StopOnRequest(stop_event.is_set), checkpoint]
    early_stopping = None
    if hp["early_stopping_patience"] > 0:
        early_stopping = callbacks.EarlyStopping(checkpoint, hp["early_stopping_patience"])
        hooks.append(early_stopping)
    if hp["learning_rate_schedule"] == "cosine":
        # First, so that the rate it sets is in the logs the progress callback records.
        hooks.insert(0, callbacks.cosine_schedule(hp))

    def save_replay() -> None:
        if recorder.probabilities:
            replay.save_replay(store, run_id, recorder.images, data.y_test[replay_indices], recorder.probabilities)

    storage_failed = False
    stopped_by: dict = {}
    try:
        model.fit(
            train_pipeline,
            validation_data=validation_pipeline,
            epochs=hp["epochs"],
            # The pipeline is endless (see make_pipeline): an epoch is this many batches, the last one smaller.
            steps_per_epoch=steps,
            # The pipeline already reshuffles every epoch.
            shuffle=False,
            callbacks=hooks,
            verbose=0,
        )
        status, message = "completed", ""
    except (callbacks.StopRequested, KeyboardInterrupt):
        stopped_by = dict(stop_details() if stop_details else {})
        # Who stopped it (the owner, the teacher, the time limit), then what is left of it.
        status = "stopped"
        message = stopped_by.pop("problem", "Stopped by request.") + (
            " The run keeps its best finished epoch." if checkpoint.best_weights is not None
            else " No epoch had finished, so there is no model to keep.")
    except callbacks.LossIsNotFinite as error:
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
    if status == "stopped":
        fields.update(stopped_by)
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
          "test": fields.get("test"), "elapsed": fields["duration"], "stopped_early": stopped_early,
          **({"stop_reason": fields["stop_reason"]} if fields.get("stop_reason") else {})})
    return meta
