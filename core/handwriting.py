"""Learn my handwriting: fine-tune a digit model on the class's own saved drawings, and measure what it bought.

The class's drawings (`core.class_set`) are split, per digit, into drawings to learn from and drawings held back
(a quarter by default, at least one of each digit that has two or more). The chosen model is scored on the held-back
drawings, trained a few epochs more on the others, mixed with as many digits of the MNIST sample so that it does not
forget everyone else's handwriting, with a small learning rate, and scored again on the same held-back drawings. The
result is a new run (the original is left as it was), whose run.json says where it came from and what it bought:

    {"fine_tuned_from": "<run id>",
     "handwriting": {"before": 0.82, "after": 0.95, "held_back": 40, "learnt_from": 120, "epochs": 5}}

and whose test figures are on the original dataset's test split, as for any run, so a teacher sees both sides.

The app runs it as a job (`core.jobs`, kind "finetune"): the server checks the request (`check`) and queues a new
run, and a worker process calls `learn_handwriting` with that run's id, sending the same progress events as a
training and obeying its stop flag and time limit.

Example:

```python
from core import class_set, handwriting
from core.runs import RunStore

images, labels = class_set.ClassSet().images_and_labels()
meta = handwriting.learn_handwriting(RunStore(), run_id, images, labels)
print(meta["handwriting"]["before"], "->", meta["handwriting"]["after"])
```
"""

import math
import threading
import time

import numpy as np

from core import backend, datasets, evaluation, inference, pen_shift, runs
from core.runs import RunStore

MIN_DRAWINGS = 20
HELD_BACK_FRACTION = 0.25
DEFAULT_EPOCHS = 5
# Small steps: the model already reads digits; it should adapt to the class, not start over.
LEARNING_RATE = 3e-4
BATCH_SIZE = 32
# How many MNIST-sample digits join each class drawing in training, against forgetting.
REPLAY_PER_DRAWING = 1


def split_drawings(labels: np.ndarray, held_back_fraction: float = HELD_BACK_FRACTION,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the drawings to learn from and of those held back, per digit, seeded.

    Each digit with two or more drawings keeps at least one back and learns from at least one; a digit drawn once
    is only learnt from.
    """
    if not 0.0 < held_back_fraction < 1.0:
        raise ValueError(f"The held-back fraction must be between 0 and 1, got {held_back_fraction}.")
    labels = np.asarray(labels).reshape(-1)
    generator = np.random.default_rng(seed)
    learn, held = [], []
    for digit in np.unique(labels):
        members = generator.permutation(np.flatnonzero(labels == digit))
        count = 0 if len(members) < 2 else min(len(members) - 1, max(1, round(len(members) * held_back_fraction)))
        held.extend(members[:count].tolist())
        learn.extend(members[count:].tolist())
    return np.array(sorted(learn), dtype=np.int64), np.array(sorted(held), dtype=np.int64)


def check_drawings(images: np.ndarray, labels: np.ndarray, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawings as arrays, or ValueError saying what is wrong with them (or with `epochs`)."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"The drawings must be 28x28 uint8 images, got an array of shape {images.shape} and "
                         f"dtype {images.dtype}.")
    if len(labels) != len(images):
        raise ValueError(f"There are {len(images)} drawings but {len(labels)} labels.")
    if len(images) < MIN_DRAWINGS:
        raise ValueError(f"Learning a class's handwriting needs at least {MIN_DRAWINGS} saved drawings, there are "
                         f"{len(images)}: save more on the Draw page.")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise ValueError("The labels must be digits from 0 to 9.")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 1 <= epochs <= 50:
        raise ValueError(f"Epochs must be a whole number from 1 to 50, got {epochs!r}.")
    return images, labels


def check(store: RunStore, run_id: str, images: np.ndarray, labels: np.ndarray, *, epochs: int = DEFAULT_EPOCHS,
          held_back_fraction: float = HELD_BACK_FRACTION, seed: int = 0):
    """Everything that can be checked before any training: the drawings, the epochs and the model to start from.

    Returns the run to fine-tune. Raises ValueError with a message for the class: too few drawings, bad images or
    labels, epochs outside 1-50, a run that is gone, or one that is not a digit model with a saved model.
    """
    images, labels = check_drawings(images, labels, epochs)
    try:
        run = store.get(run_id)
    except (KeyError, ValueError, OSError):
        raise ValueError("The model to learn from was not found: it may have been deleted. Choose another "
                         "model.") from None
    if not run.has_model or not inference.reads_digits(run):
        raise ValueError(f"{run.name} is not a digit model with a saved model: choose a model trained on digits.")
    if len(split_drawings(labels, held_back_fraction, seed)[1]) == 0:
        raise ValueError("Every digit was drawn only once: there is nothing to hold back to measure with.")
    return run


def new_run_name(run) -> str:
    """The fine-tuned run's name: the original's, and what was added (once: fine-tuning it again says nothing new)."""
    suffix = " + class handwriting"
    if run.name.endswith(suffix):
        return run.name
    # A long name is shortened, not the suffix: a name cut to the run store's limit would be exactly the
    # source's, and two runs would look the same.
    room = runs.MAX_NAME_LENGTH - len(suffix)
    name = run.name if len(run.name) <= room else run.name[:room - 1].rstrip() + "…"
    return f"{name}{suffix}"


def learn_handwriting(store: RunStore, run_id: str, images: np.ndarray, labels: np.ndarray, *,
                      epochs: int = DEFAULT_EPOCHS, held_back_fraction: float = HELD_BACK_FRACTION, seed: int = 0,
                      name: str = "", owner: str = "", new_run_id: str | None = None, on_event=None,
                      stop_event: threading.Event | None = None, stop_details=None) -> dict:
    """Fine-tunes run `run_id`'s model on the class drawings; saves and returns the new run's run.json contents.

    `new_run_id` continues a run the caller already created (the job engine does, to show it queued); otherwise a
    new run is made. `on_event` gets the same start, batch, epoch and end events as a training (`core.training`);
    setting `stop_event` ends it at the next batch, as "stopped", without a model (`stop_details()` may give the
    `problem` and `stop_reason` to record, as for a training).

    Raises:
        ValueError: fewer than MIN_DRAWINGS drawings, images that are not 28x28 uint8 digits, labels outside 0-9,
            epochs outside 1-50, or a run that is not a digit model with a saved model.
    """
    run = check(store, run_id, images, labels, epochs=epochs, held_back_fraction=held_back_fraction, seed=seed)
    images, labels = np.asarray(images), np.asarray(labels)
    emit = on_event or (lambda event: None)
    stop_event = stop_event or threading.Event()

    learn, held = split_drawings(labels, held_back_fraction, seed)
    if new_run_id is None:
        new_run_id = store.create(dataset=run.dataset, architecture=run.architecture,
                                  hyperparameters=dict(run.meta.get("hyperparameters") or {}),
                                  name=name or new_run_name(run), owner=owner, status="running").id
    started = time.time()
    device = backend.device_name()
    store.update(new_run_id, status="running", fine_tuned_from=run_id, started=started, device=device)
    model = store.load_model(run_id)
    before = evaluation.evaluate(model, images[held], labels[held]).accuracy

    keras = backend.keras()
    keras.utils.set_random_seed(seed)
    sample = datasets.load("mnist_sample")
    generator = np.random.default_rng(seed)
    replay = generator.choice(len(sample.x_train), len(learn) * REPLAY_PER_DRAWING, replace=False)
    train_images = np.concatenate([images[learn], sample.x_train[replay]])
    train_labels = np.concatenate([labels[learn], sample.y_train[replay]]).astype(np.int64)
    order = generator.permutation(len(train_images))
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    # Imported here: it imports Keras, and this module is imported by the app's pages.
    from core import callbacks

    steps = math.ceil(len(train_images) / BATCH_SIZE)
    progress = callbacks.ProgressEvents(emit, int(epochs), steps, BATCH_SIZE)
    emit({"kind": "start", "run_id": new_run_id, "dataset": run.dataset, "architecture": run.architecture,
          "epochs": int(epochs), "steps_per_epoch": steps, "device": device, "train_images": len(train_images),
          "validation_images": 0, "early_stopping_patience": 0, "fine_tuned_from": run_id,
          "before": float(before)})
    try:
        model.fit(train_images[order], train_labels[order], batch_size=BATCH_SIZE, epochs=int(epochs), verbose=0,
                  shuffle=True, callbacks=[progress, callbacks.StopOnNaN(), callbacks.StopOnRequest(stop_event.is_set)])
    except (callbacks.StopRequested, KeyboardInterrupt):
        stopped_by = dict(stop_details() if stop_details else {})
        message = (stopped_by.pop("problem", None) or "Stopped by request.") + \
            " It stopped before it finished: no new model was saved."
        fields = {"status": "stopped", "problem": message, "duration": time.time() - started,
                  "epochs_done": len(progress.history.get("loss", [])), **stopped_by}
        meta = store.update(new_run_id, **fields)
        emit({"kind": "end", "status": "stopped", "message": message, "run_id": new_run_id,
              "elapsed": fields["duration"], **({"stop_reason": stopped_by["stop_reason"]}
                                                 if stopped_by.get("stop_reason") else {})})
        return meta
    except callbacks.LossIsNotFinite as error:
        raise ValueError(f"The loss became NaN (not a number) at batch {error.args[0]}: this model cannot learn "
                         "from the drawings with this learning rate.") from None
    after = evaluation.evaluate(model, images[held], labels[held]).accuracy

    store.save_model(new_run_id, model)
    figures = {"before": float(before), "after": float(after), "held_back": int(len(held)),
               "learnt_from": int(len(learn)), "epochs": int(epochs)}
    fields = {
        "status": "completed",
        "problem": "",
        "fine_tuned_from": run_id,
        "handwriting": figures,
        "epochs_done": int(epochs),
        "duration": time.time() - started,
    }
    if run.dataset in datasets.DATASETS:
        data = datasets.load(run.dataset)
        result = evaluation.evaluate(model, data.x_test, data.y_test)
        store.save_array(new_run_id, "test_probabilities", result.probabilities)
        fields["test"] = result.summary()
        pen_writers = pen_shift.score(model, run.dataset)
        if pen_writers is not None:
            fields[pen_shift.RUN_KEY] = pen_writers
    meta = store.update(new_run_id, **fields)
    emit({"kind": "end", "status": "completed", "message": "", "run_id": new_run_id, "test": fields.get("test"),
          "elapsed": fields["duration"], "handwriting": figures})
    return meta
