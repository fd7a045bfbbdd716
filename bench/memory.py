"""Section 4: peak memory of a training on CIFAR-sized data, ours against float32 / 255, one process each."""

import concurrent.futures

import numpy as np

from bench.common import our_model, run_worker, seed_cnn
from bench.machine import current_rss_bytes, peak_rss_bytes
from bench.settings import SEED_SETTINGS, TARGET_MEMORY_RATIO, Settings
from core import backend, training

MEMORY_WAYS = ("ours", "float32")


def memory_worker(way: str, images: int, steps: int) -> dict:
    """Runs in its own process: trains on synthetic CIFAR-sized data one way and reports the peak memory."""
    keras = backend.keras()
    runtime = current_rss_bytes()
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
    return {"way": way, "images": images, "steps": steps, "peak_rss_bytes": peak_rss_bytes(),
            "runtime_rss_bytes": runtime}


def training_memory(settings: Settings) -> dict:
    """Peak resident memory of a training on CIFAR-sized uint8 data, ours against float32 / 255, one process each.

    The processes run side by side: each one's peak is its own, whatever the other does.
    """
    arguments = {way: ["--worker", "memory", "--way", way, "--images", str(settings.memory_images), "--steps",
                       str(settings.memory_steps)] for way in MEMORY_WAYS}
    with concurrent.futures.ThreadPoolExecutor(len(MEMORY_WAYS)) as pool:
        futures = {way: pool.submit(run_worker, arguments[way], 300) for way in MEMORY_WAYS}
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
