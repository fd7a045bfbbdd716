"""Sections 1 and 2: training throughput against the seeds' way, TensorFlow's thread settings, and the cost
of the live charts' callbacks."""

import math
import statistics
import threading

import numpy as np

from bench.common import EventLog, accuracy, epoch_timer, our_model, run_worker, sample_subset, seed_cnn
from bench.settings import SEED_SETTINGS, TARGET_CHART_OVERHEAD, TARGET_THROUGHPUT_RATIO, Settings
from bench.stats import paired_ratio, percentile
from core import architectures, backend, callbacks, training


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

    runners = []

    # The seeds' way. The images are in a random order (sample_subset), so that validation_split's last 20% holds
    # every class: the sample's own order would leave the seed no 8s or 9s to learn from. verbose=0 spares it the
    # cost of printing a progress bar, which the seeds paid.
    keras.utils.set_random_seed(42)
    seed_model = seed_cnn(sample.image_shape)
    x_float = images.astype(np.float64) / 255
    y_one_hot = keras.utils.to_categorical(labels, 10)
    seed_timer = epoch_timer()

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
        timer = epoch_timer()
        events = []
        steps = math.ceil(len(train_indices) / batch_size)
        progress = callbacks.ProgressEvents(events.append, epochs, steps, batch_size)

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
