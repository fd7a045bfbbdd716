"""Section 3: one canvas drawing -> probabilities, our Predictor against `model.predict`."""

import time

import numpy as np

from bench.common import canvas_drawing, our_model
from bench.settings import TARGET_PREDICTION_P50_MS, TARGET_PREDICTION_SPEEDUP, Settings
from bench.stats import percentile
from core import architectures, backend, datasets, inference, preprocess


def prediction_latency(settings: Settings) -> dict:
    """Milliseconds from a canvas picture to probabilities: Predictor against model.predict, calls interleaved."""
    keras = backend.keras()
    sample = datasets.load("mnist_sample")
    # Ten test digits, one of each class, drawn as the canvas returns them.
    pictures = [canvas_drawing(sample.x_test[np.flatnonzero(sample.y_test == digit)[0]]) for digit in range(10)]
    results = {}
    for architecture in settings.prediction_architectures:
        keras.utils.set_random_seed(42)
        # The weights do not change the time of a prediction: an untrained model of the same shape will do. The
        # default digit model has the Draw page's settings (its filters).
        hyperparameters = {"seed": 42}
        if architecture == architectures.DEFAULT_DIGIT_ARCHITECTURE:
            hyperparameters.update(architectures.DEFAULT_DIGIT_HYPERPARAMETERS)
        model = our_model(architecture, (28, 28), 10, hyperparameters)
        started = time.perf_counter()
        predictor = inference.Predictor(model)
        trace_seconds = time.perf_counter() - started
        image = preprocess.preprocess(pictures[0]).image
        for _ in range(3):
            model.predict(image[np.newaxis], verbose=0)
            predictor.predict(image)
        ours, baseline, preprocessing, predictor_only, keras_predict = [], [], [], [], []
        largest_difference = 0.0
        for call in range(settings.prediction_calls):
            picture = pictures[call % len(pictures)]
            started = time.perf_counter()
            prepared = preprocess.preprocess(picture)
            middle = time.perf_counter()
            probabilities = predictor.predict(prepared.image)
            ended = time.perf_counter()
            ours.append(ended - started)
            preprocessing.append(middle - started)
            predictor_only.append(ended - middle)

            started = time.perf_counter()
            prepared = preprocess.preprocess(picture)
            middle = time.perf_counter()
            expected = model.predict(prepared.image[np.newaxis], verbose=0)[0]
            ended = time.perf_counter()
            baseline.append(ended - started)
            keras_predict.append(ended - middle)
            largest_difference = max(largest_difference, float(np.abs(probabilities - expected).max()))

        def summary(seconds):
            return {"p50_ms": 1000 * percentile(seconds, 0.5), "p95_ms": 1000 * percentile(seconds, 0.95)}

        row = {
            "ours": summary(ours),
            "baseline": summary(baseline),
            "preprocess": summary(preprocessing),
            "predictor_predict": summary(predictor_only),
            "model_predict": summary(keras_predict),
            "predictor_trace_seconds": trace_seconds,
            "speedup_p50": percentile(baseline, 0.5) / percentile(ours, 0.5),
            "predictor_only_speedup_p50": percentile(keras_predict, 0.5) / percentile(predictor_only, 0.5),
            "largest_probability_difference": largest_difference,
        }
        row["meets_target"] = bool(row["ours"]["p50_ms"] <= TARGET_PREDICTION_P50_MS
                                   and row["speedup_p50"] >= TARGET_PREDICTION_SPEEDUP)
        results[architecture] = row
    return {
        "what": "a 280x280 RGBA canvas picture -> probabilities; ours = preprocess.preprocess + "
                "Predictor.predict, baseline = the same preprocessing + model.predict(verbose=0); calls interleaved",
        "calls": settings.prediction_calls,
        "default_architecture": architectures.DEFAULT_DIGIT_ARCHITECTURE,
        "target": f"p50 <= {TARGET_PREDICTION_P50_MS:g} ms and >= {TARGET_PREDICTION_SPEEDUP:g}x faster",
        "models": results,
    }
