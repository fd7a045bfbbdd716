"""Sections 1 and 2: training throughput against the seeds' way (the candidate fast paths in rotated rounds, and
the rule that picks a new default from them), TensorFlow's thread settings, and the cost of the live charts'
callbacks."""

import gc
import math
import statistics
import threading
import time

import numpy as np

from bench.common import EventLog, accuracy, epoch_timer, our_model, run_worker, sample_subset, seed_cnn
from bench.settings import (
    ACCURACY_TOLERANCE,
    CHART_UPDATES_ROUNDING,
    SEED_SETTINGS,
    TARGET_CHART_OVERHEAD,
    TARGET_CHART_UPDATES_PER_SECOND,
    TARGET_THROUGHPUT_RATIO,
    Settings,
)
from bench.stats import paired_ratio, percentile
from core import architectures, backend, callbacks, training


def _throughput_configs(settings: Settings) -> list[dict]:
    """The candidates to compare with the seeds' way: the shipped `cnn` defaults first, then the fast paths."""
    defaults = architectures.resolve_hyperparameters("cnn")
    batch, rate = defaults["batch_size"], defaults["learning_rate"]
    shipped = f"batch {batch}, lr {rate:g}"
    seeds = f"batch {SEED_SETTINGS['batch_size']}, lr {SEED_SETTINGS['learning_rate']:g}"
    # Twice the batch, the rate scaled by about sqrt(2) (the square-root rule suits Adam better than the linear
    # one): half the steps, each as far in expectation.
    larger = {"batch_size": 2 * batch, "learning_rate": float(f"{rate * math.sqrt(2):.2g}")}
    larger_text = f"batch {larger['batch_size']}, lr {larger['learning_rate']:g}"
    bf16 = {"mixed_precision": "mixed_bfloat16"}
    spe8 = {"steps_per_execution": 8}
    configs = [
        {"name": "defaults", "label": f"ours, shipped cnn defaults ({shipped})", "hyperparameters": {}},
        {"name": "bf16", "label": f"ours, {shipped}, mixed_bfloat16", "hyperparameters": {}, **bf16},
        {"name": "spe8", "label": f"ours, {shipped}, steps_per_execution 8", "hyperparameters": {}, **spe8},
        {"name": "larger_batch", "label": f"ours, {larger_text}", "hyperparameters": larger},
        {"name": "bf16_larger_batch", "label": f"ours, {larger_text}, mixed_bfloat16", "hyperparameters": larger,
         **bf16},
        {"name": "bf16_spe8", "label": f"ours, {shipped}, mixed_bfloat16, steps_per_execution 8",
         "hyperparameters": {}, **bf16, **spe8},
        {"name": "batch32", "label": f"ours, cnn with the seeds' settings ({seeds})",
         "hyperparameters": SEED_SETTINGS},
        {"name": "jit", "label": f"ours, {shipped}, jit_compile (XLA)", "hyperparameters": {}, "jit_compile": True},
    ]
    return [config for config in configs if config["name"] in settings.throughput_configs]


SEED_CONFIG = {"name": "seed", "label": "seeds' way (float64 / 255, one-hot, validation_split, batch 32)"}


def round_orders(names: list[str], rounds: int) -> list[list[str]]:
    """Each round's order: the list rotated by one more place each round, so that no candidate always runs first
    (in a cooler machine) or always follows the same one."""
    return [names[index % len(names):] + names[:index % len(names)] for index in range(rounds)]


def _batch_counter():
    """A callback that counts the batch ends Keras reports per epoch (fewer with steps_per_execution)."""
    keras = backend.keras()

    class BatchCounter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.per_epoch = []

        def on_epoch_begin(self, epoch, logs=None):
            self.per_epoch.append(0)

        def on_train_batch_end(self, batch, logs=None):
            self.per_epoch[-1] += 1

    return BatchCounter()


def chart_pace(events: list[tuple[float, dict]], epoch_seconds: list[float], batch_calls: list[int]) -> dict:
    """How often the live charts move during the measured epochs (all but the first), from the timed progress
    events.

    The pace is one over the median wait between two batch events of the same epoch: an epoch's last batch always
    sends one, however soon after the one before, and counting it would flatter a short epoch. With fewer than two
    events in every epoch it is the other events per second. Beside it: the batch ends Keras reported per second (fewer
    with steps_per_execution), and the longest wait."""
    measured = [(when, event) for when, event in events if event["kind"] == "batch" and event["epoch"] > 1]
    seconds = sum(epoch_seconds[1:])
    gaps = [later[0] - earlier[0] for earlier, later in zip(measured, measured[1:])
            if later[1]["epoch"] == earlier[1]["epoch"] and later[1]["step"] != later[1]["steps"]]
    if gaps:
        pace = 1 / statistics.median(gaps)
    else:
        timed = [event for _, event in measured if event["step"] != event["steps"]]
        pace = len(timed) / seconds if seconds > 0 else 0.0
    return {"chart_updates_per_second": pace,
            "batch_calls_per_second": sum(batch_calls[1:]) / seconds if seconds > 0 else 0.0,
            "largest_update_gap_seconds": max(gaps) if gaps else None}


def _train_candidate(config: dict, sample, images, labels, x_test, y_test, train_indices, validation_indices,
                     epochs: int) -> dict:
    """One fresh model of a candidate, trained `epochs` epochs in one fit as the app does: its pace and accuracy."""
    keras = backend.keras()
    # Each candidate starts from a clean Keras state and the same seed; the dtype policy is not global state
    # here (build_model holds it for the build only), which the check after the fit confirms.
    keras.backend.clear_session()
    gc.collect()
    keras.utils.set_random_seed(42)
    timer = epoch_timer()
    if config["name"] == "seed":
        # verbose=0 spares the seed the cost of printing a progress bar, which the seeds paid. The images are in
        # a random order (sample_subset), so that validation_split's last 20% holds every class.
        model = seed_cnn(sample.image_shape)
        x_float = images.astype(np.float64) / 255
        y_one_hot = keras.utils.to_categorical(labels, 10)
        model.fit(x_float, y_one_hot, validation_split=0.2, batch_size=SEED_SETTINGS["batch_size"], epochs=epochs,
                  verbose=0, callbacks=[timer])
        row = {"batch_size": SEED_SETTINGS["batch_size"], "learning_rate": SEED_SETTINGS["learning_rate"],
               "pipeline": "NumPy arrays to fit", "chart_updates_per_second": None, "batch_calls_per_second": None,
               "largest_update_gap_seconds": None}
        test_images = x_test.astype(np.float64) / 255
    else:
        hp = architectures.resolve_hyperparameters("cnn", {"seed": 42, "epochs": epochs,
                                                           **config["hyperparameters"]})
        model = our_model("cnn", sample.image_shape, 10, hp, mixed_precision=config.get("mixed_precision"),
                          jit_compile=config.get("jit_compile", False),
                          steps_per_execution=config.get("steps_per_execution", 1))
        # As training.train builds its pipelines and its progress callback.
        pipeline = training.make_pipeline(images, labels, hp["batch_size"], shuffle=True, seed=42,
                                          indices=train_indices, repeat=True)
        validation = training.make_pipeline(images, labels, 512, shuffle=False, indices=validation_indices)
        events = []
        steps = math.ceil(len(train_indices) / hp["batch_size"])
        progress = callbacks.ProgressEvents(lambda event: events.append((time.perf_counter(), event)), epochs,
                                            steps, hp["batch_size"])
        counter = _batch_counter()
        model.fit(pipeline, validation_data=validation, epochs=epochs, steps_per_epoch=steps, shuffle=False,
                  verbose=0, callbacks=[progress, counter, timer])
        row = {"batch_size": hp["batch_size"], "learning_rate": hp["learning_rate"],
               "pipeline": "training.make_pipeline", **chart_pace(events, timer.wall, counter.per_epoch)}
        test_images = x_test
    policy = keras.config.dtype_policy().name
    if policy != "float32":
        raise RuntimeError(f"{config['name']} left Keras's dtype policy at {policy}: the next candidate would "
                           "inherit it")
    wall = timer.wall[1:]
    return {**row, "warm_up_epoch_seconds": timer.wall[0], "epoch_seconds": wall, "epoch_cpu_seconds": timer.cpu[1:],
            "images_per_second": len(train_indices) / statistics.median(wall),
            "test_accuracy": accuracy(model, test_images, y_test), "parameters": int(model.count_params())}


def decide(rounds: dict[str, list[dict]], *, seed: str = "seed", shipped: str = "defaults",
           target_ratio: float = TARGET_THROUGHPUT_RATIO, accuracy_tolerance: float = ACCURACY_TOLERANCE,
           smooth_updates: float = TARGET_CHART_UPDATES_PER_SECOND * CHART_UPDATES_ROUNDING) -> dict:
    """The rule of issue 15 on the rounds' figures: which candidate, if any, should become the default.

    `rounds[name]` lists one dict per round with `images_per_second`, `test_accuracy` and
    `chart_updates_per_second` (None for the seed). A candidate qualifies when it is faster than the shipped
    default in every round, its median accuracy is at least the seed's and at most `accuracy_tolerance` below
    the shipped default's, and its live charts get at least `smooth_updates` updates per second (median over
    rounds). Of those that qualify, the fastest by median ratio to the seed becomes the verdict.
    """
    count = len(rounds[seed])
    if count == 0 or any(len(runs) != count for runs in rounds.values()):
        raise ValueError(f"Every candidate needs the same number of rounds (at least one); got "
                         f"{ {name: len(runs) for name, runs in rounds.items()} }.")
    seed_speed = [run["images_per_second"] for run in rounds[seed]]
    shipped_speed = [run["images_per_second"] for run in rounds[shipped]]
    seed_accuracy = statistics.median(run["test_accuracy"] for run in rounds[seed])
    shipped_accuracy = statistics.median(run["test_accuracy"] for run in rounds[shipped])
    rows = {}
    for name, runs in rounds.items():
        ratios = [run["images_per_second"] / base for run, base in zip(runs, seed_speed)]
        median_accuracy = statistics.median(run["test_accuracy"] for run in runs)
        updates = [run["chart_updates_per_second"] for run in runs if run.get("chart_updates_per_second") is not None]
        row = {"ratios": ratios, "speedup_vs_seed": statistics.median(ratios), "speedup_min": min(ratios),
               "speedup_max": max(ratios),
               "images_per_second": statistics.median(run["images_per_second"] for run in runs),
               "test_accuracy": median_accuracy, "accuracy_minus_seed": median_accuracy - seed_accuracy,
               "chart_updates_per_second": statistics.median(updates) if updates else None}
        if name != seed:
            row["smooth"] = bool(updates) and row["chart_updates_per_second"] >= smooth_updates
            row["meets_target"] = bool(row["speedup_vs_seed"] >= target_ratio and median_accuracy >= seed_accuracy)
        if name not in (seed, shipped):
            wins = [run["images_per_second"] > base for run, base in zip(runs, shipped_speed)]
            row["rounds_won"] = sum(wins)
            row["wins_every_round"] = all(wins)
            row["accuracy_ok"] = bool(median_accuracy >= seed_accuracy
                                      and median_accuracy >= shipped_accuracy - accuracy_tolerance)
            row["qualifies"] = row["wins_every_round"] and row["accuracy_ok"] and row["smooth"]
        rows[name] = row
    qualifying = [name for name, row in rows.items() if row.get("qualifies")]
    best = max(qualifying, key=lambda name: rows[name]["speedup_vs_seed"]) if qualifying else None
    if best:
        text = (f"make {best} the default: faster than the shipped default in all {count} rounds, "
                f"{rows[best]['speedup_vs_seed']:.2f}x the seeds' way (median), accuracy "
                f"{rows[best]['test_accuracy']:.2%}, {rows[best]['chart_updates_per_second']:.1f} chart updates/s")
    else:
        reasons = []
        for name, row in rows.items():
            if name in (seed, shipped):
                continue
            why = [f"won {row['rounds_won']} of {count} rounds"] if not row["wins_every_round"] else []
            if not row["accuracy_ok"]:
                why.append(f"accuracy {row['test_accuracy']:.2%}")
            if not row["smooth"]:
                pace = row["chart_updates_per_second"]
                why.append(f"{pace:.1f} chart updates/s" if pace is not None else "no chart updates")
            reasons.append(f"{name} ({', '.join(why)})")
        text = "keep the shipped default" + (": " + "; ".join(reasons) if reasons else "")
    return {"default": best, "text": text, "rows": rows}


def training_throughput(settings: Settings) -> dict:
    """Images per second, test accuracy and live-chart pace of each candidate against the seeds' way, in rounds.

    Every round trains each candidate (the seeds' way included) as a fresh model on the same images for the
    same epochs, in an order rotated from round to round; a ratio compares a candidate with the seeds' way of
    the same round, and `decide` applies the rule for a new default to the rounds.
    """
    sample, images, labels = sample_subset(settings.train_images)
    x_test, y_test = sample.x_test[:settings.test_images], sample.y_test[:settings.test_images]
    validation_fraction = 0.2
    train_indices, validation_indices = training.stratified_split(labels, validation_fraction, seed=42)
    epochs = 1 + settings.measured_epochs
    configs = {config["name"]: config for config in [SEED_CONFIG, *_throughput_configs(settings)]}
    if "defaults" not in configs:
        raise ValueError("The throughput section compares with the shipped defaults: keep 'defaults' in "
                         "throughput_configs.")
    if settings.throughput_rounds < 1:
        raise ValueError(f"The throughput section needs at least 1 round; got {settings.throughput_rounds}.")
    orders = round_orders(list(configs), settings.throughput_rounds)
    rounds = {name: [] for name in configs}
    for order in orders:
        for name in order:
            rounds[name].append(_train_candidate(configs[name], sample, images, labels, x_test, y_test,
                                                 train_indices, validation_indices, epochs))
    decision = decide(rounds)
    rows = {}
    for name, config in configs.items():
        runs = rounds[name]
        first = runs[0]
        rows[name] = {
            "label": config["label"],
            "batch_size": first["batch_size"],
            "learning_rate": first["learning_rate"],
            "pipeline": first["pipeline"],
            "mixed_precision": config.get("mixed_precision"),
            "jit_compile": config.get("jit_compile", False),
            "steps_per_execution": config.get("steps_per_execution", 1),
            "parameters": first["parameters"],
            "warm_up_epoch_seconds": statistics.median(run["warm_up_epoch_seconds"] for run in runs),
            **decision["rows"][name],
            "rounds": runs,
        }
    return {
        "what": f"cnn on mnist_sample, {settings.throughput_rounds} rounds; in each, every candidate is a fresh "
                f"model trained {epochs} epochs in one fit, the order rotated from round to round; images/s from "
                "the median epoch after the first (which traces); ratio = images/s / the seeds' way's in the same "
                "round, median and min-max over the rounds; accuracy on the sample's test split, median over the "
                "rounds; chart updates/s = 1 / the median wait between two of ProgressEvents' batch events in an epoch "
                "(the epochs after the first)",
        "rounds": settings.throughput_rounds,
        "orders": orders,
        "train_images": len(train_indices),
        "validation_images": len(validation_indices),
        "test_images": len(y_test),
        "epochs": epochs,
        "target": f">= {TARGET_THROUGHPUT_RATIO:g}x the seeds' way (median over rounds), test accuracy >= the seed's",
        "rule": "a candidate becomes the default only if it is faster than the shipped default in every round, its "
                f"median accuracy is >= the seed's and at most {ACCURACY_TOLERANCE * 100:.1f} points below the "
                f"shipped default's, and the live charts get >= {TARGET_CHART_UPDATES_PER_SECOND:g} updates/s (less "
                f"the throttle's rounding: >= {TARGET_CHART_UPDATES_PER_SECOND * CHART_UPDATES_ROUNDING:.1f})",
        "verdict": {"default": decision["default"], "text": decision["text"]},
        "configs": rows,
    }


THREAD_SETTINGS = [(0, 0), (1, 2), (2, 1), (1, 1)]


def threads_worker(inter: int, intra: int, train_images: int, epochs: int) -> dict:
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
    timer = epoch_timer()
    model.fit(pipeline, validation_data=validation, epochs=epochs, shuffle=False, verbose=0, callbacks=[timer])
    return {"inter_op": inter, "intra_op": intra, "epoch_seconds": timer.wall[1:], "cpu_seconds": timer.cpu[1:],
            "train_images": len(train_indices)}


def thread_settings(settings: Settings) -> dict:
    """Our fast cnn set-up under TensorFlow's inter-op / intra-op thread settings (0 = TensorFlow's choice)."""
    if not settings.threads:
        return {"skipped": "quick mode: the thread settings need one TensorFlow process each"}
    rows = []
    for inter, intra in THREAD_SETTINGS:
        rows.append(run_worker(["--worker", "threads", "--inter", str(inter), "--intra", str(intra),
                                 "--images", str(settings.train_images), "--epochs", "4"], timeout=300))
    default = rows[0]
    for row in rows:
        row["median_epoch_seconds"] = statistics.median(row["epoch_seconds"])
        row["images_per_second"] = row["train_images"] / row["median_epoch_seconds"]
        row["speedup_vs_default"] = statistics.median(default["epoch_seconds"]) / row["median_epoch_seconds"]
    return {"what": "cnn with its shipped defaults, one process per setting (not interleaved: noisier), "
                    "3 epochs after a warm-up; (0, 0) is TensorFlow's default",
            "settings": rows}


# "none_again" is a control: the same as "none", so that its difference from "none" shows the noise of the machine.
CHART_VARIANTS = ("none", "charts", "app", "none_again")


def chart_overhead(settings: Settings) -> dict:
    """Training time with the app's callbacks and a polling reader, against no callbacks at all.

    Variants: "charts" is the ProgressEvents callback with a reader thread polling its events every 0.5 s; "app" is
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
    total_epochs = 2 + len(CHART_VARIANTS) * settings.overhead_rounds
    epoch = 0
    times = {variant: [] for variant in CHART_VARIANTS}
    cpu = {variant: [] for variant in CHART_VARIANTS}
    events_seen = {variant: 0 for variant in CHART_VARIANTS}
    reads = {variant: 0 for variant in CHART_VARIANTS}

    def callbacks_for(variant, log):
        progress = callbacks.ProgressEvents(log.emit, total_epochs, steps, hp["batch_size"])
        if variant == "charts":
            return [progress]
        # The callbacks train() passes to fit that act at every batch, the best checkpoint kept in memory instead
        # of written to disk. (Early stopping and the epoch replay act once per epoch; these chunks are not
        # epochs, so they would count the replay's predictions many times over.)
        return [progress, callbacks.StopOnNaN(), callbacks.StopOnRequest(threading.Event().is_set),
                callbacks.BestCheckpoint(None, "val_loss")]

    def run(variant, record=True):
        nonlocal epoch
        timer = epoch_timer()
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
                "(seconds with callbacks / without) - 1. charts = ProgressEvents + a reader polling every "
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
