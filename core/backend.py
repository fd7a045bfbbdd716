"""One place that imports TensorFlow and Keras and configures them for this process.

TensorFlow is slow to import (seconds), so the home page and `import core` never pay for it: modules call
`tensorflow()` or `keras()` when they first need the library. The first call also quiets TensorFlow's
start-up chatter, turns GPU memory growth on (so a training does not grab the whole card and a second one can
still run), and reports which device trains.
"""

import functools
import os
import threading

_lock = threading.Lock()


@functools.cache
def tensorflow():
    """Returns the imported `tensorflow` module, configured for this process."""
    # Keep TensorFlow's C++ log lines out of the terminal a teacher is looking at: on a machine without a GPU
    # it prints a frightening "CUDA error" that is harmless. Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _lock:
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                # Memory growth can only be set before the GPU is initialised; it already was.
                pass
        return tf


@functools.cache
def keras():
    """Returns the imported `keras` module (TensorFlow backend).

    The app trains with TensorFlow. Another backend named in KERAS_BACKEND (JAX on a GPU machine that has no
    TensorFlow, for the benchmark's GPU column) is left alone: the models are built from Keras layers only.
    """
    if os.environ.setdefault("KERAS_BACKEND", "tensorflow") == "tensorflow":
        tensorflow()
    # Under the lock: a page's thread and a background one (jobs.count_parameters_ahead) may both get here first.
    with _lock:
        import keras as keras_module

    return keras_module


@functools.cache
def device_name() -> str:
    """The device that trains: the first GPU's name, or "CPU" followed by the number of cores."""
    tf = tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return f"CPU ({os.cpu_count()} cores)"


def has_gpu() -> bool:
    return device_name().startswith("GPU")


def device_hint() -> str:
    """The training device, told without importing TensorFlow (for the home page, which must appear at once).

    Once TensorFlow is loaded this is `device_name()`. Before, an NVIDIA driver's GPU list decides; TensorFlow
    uses that GPU only if it was installed with CUDA (`tensorflow[and-cuda]`).
    """
    import glob
    import sys

    if "tensorflow" in sys.modules:
        return device_name()
    for information in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        try:
            with open(information, encoding="utf-8") as file:
                for line in file:
                    if line.startswith("Model:"):
                        return f"GPU: {line.split(':', 1)[1].strip()}"
        except OSError:
            continue
    return f"CPU ({os.cpu_count()} cores)"
