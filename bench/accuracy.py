"""Section 5: wall time until a model first reaches a target test accuracy."""

import math
import time

from bench.common import accuracy, our_model
from bench.settings import (
    FAST_FASHION_SETTINGS,
    TARGET_DIGIT_ACCURACY,
    TARGET_DIGIT_SECONDS,
    TARGET_FASHION_ACCURACY,
    TARGET_FASHION_SECONDS,
    Settings,
)
from core import architectures, backend, callbacks, datasets, training


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
                                      indices=train_indices, repeat=True)
    validation = training.make_pipeline(data.x_train, data.y_train, 512, shuffle=False, indices=validation_indices)
    hooks = [callbacks.ProgressEvents(lambda event: None, max_epochs, steps, hp["batch_size"]), UntilAccurate()]
    if scheduled:
        hooks.insert(0, callbacks.cosine_schedule(hp))
    model.fit(pipeline, validation_data=validation, epochs=max_epochs, steps_per_epoch=steps, shuffle=False,
              verbose=0, callbacks=hooks)
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
