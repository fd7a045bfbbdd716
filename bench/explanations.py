"""How long each explanation takes for one drawing, and the map for 2,000 test images.

    python3 -m bench.explanations            # about two minutes on two CPU cores
    python3 -m bench.explanations --quick    # the map of 300 images only

Trains an ANN, a one-convolution CNN and a two-convolution CNN on the offline MNIST sample (a few seconds
each, in a temporary folder), then for one drawn 7 times: the saliency map, the occlusion map, an untargeted
and a targeted adversarial example (the whole ladder of epsilons), what the filters want, and the map of the
test set (computed, then read back from the run's folder). Each explanation is timed cold (its first call on
the model, building and tracing included) and warm (the median of three later calls). Writes
bench/explanations.json and the table of docs/benchmarks.md's "Explanations" section (between its markers).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core import backend, datasets, embedding, explanations, inference, preprocess, runs, training  # noqa: E402

ARCHITECTURES = (("ann", {"epochs": 2}), ("cnn", {"epochs": 1}), ("cnn_deep", {"epochs": 1}))
TARGET_SECONDS = 1.0
MAP_TARGET_SECONDS = 20.0
START_MARKER = "<!-- explanations-table:start -->"
END_MARKER = "<!-- explanations-table:end -->"


def drawn_seven() -> np.ndarray:
    picture = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(picture).line([(80, 50), (210, 50), (120, 240)], fill=(255, 255, 255, 255), width=18,
                                 joint="curve")
    return preprocess.preprocess(np.asarray(picture)).image


def timed(function, repeats: int = 3) -> tuple[float, float]:
    """(cold seconds, warm median seconds) of `function()`."""
    started = time.perf_counter()
    function()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        warm.append(time.perf_counter() - started)
    return cold, statistics.median(warm)


def measure_model(explainer, image, answer: int, target: int) -> dict:
    """(cold, warm) seconds of each explanation of `image` by one model."""
    seconds = {
        "saliency": timed(lambda: explainer.saliency(image, answer)),
        "occlusion": timed(lambda: explainer.occlusion(image, answer)),
        "adversarial": timed(lambda: explainer.adversarial(image)),
        "adversarial_targeted": timed(lambda: explainer.adversarial(image, target=target)),
    }
    if explainer.has_convolution:
        # The pictures are kept per model after the first call: a new seed each time times the work itself.
        seeds = iter(range(1, 100))
        seconds["filter_wishes"] = timed(lambda: explainer.filter_wishes(seed=next(seeds)), repeats=1)
    return seconds


def measure(map_count: int) -> dict:
    data = datasets.load("mnist_sample", download=False)
    image = drawn_seven()
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, "
               f"{os.cpu_count()} cores", "device": backend.device_name(), "map_images": map_count,
               "load_average_at_start": round(os.getloadavg()[0], 1), "models": {}}
    with tempfile.TemporaryDirectory() as folder:
        store = runs.RunStore(Path(folder) / "runs")
        for architecture, hyperparameters in ARCHITECTURES:
            meta = training.train("mnist_sample", architecture, dict(hyperparameters, seed=1), store=store,
                                  name=f"bench {architecture}", limit_train=4000)
            model = inference.get_predictor(store, meta["id"]).model
            explanations.clear_cache()
            explainer = explanations.get_explainer(model)
            answer = int(explainer.probabilities(image)[0].argmax())
            target = 3 if answer != 3 else 5
            row = {"test_accuracy": meta["test"]["accuracy"]}
            row["seconds"] = measure_model(explainer, image, answer, target)
            fooled = explainer.adversarial(image)
            row["adversarial"] = {"epsilon": fooled.epsilon, "success": fooled.success,
                                  "answer": fooled.original_class, "fooled_answer": fooled.fooled_class}
            run = store.get(meta["id"])
            started = time.perf_counter()
            embedding.get_map(run, model, data, count=map_count)
            computed = time.perf_counter() - started
            started = time.perf_counter()
            test_map = embedding.get_map(run, model, data, count=map_count)
            cached = time.perf_counter() - started
            row["map"] = {"seconds": computed, "cached_seconds": cached,
                          "nearest_neighbour_agreement": embedding.nearest_neighbour_agreement(
                              test_map.coordinates, test_map.labels)}
            results["models"][architecture] = row
            print(architecture, json.dumps(row), flush=True)
    # Other work on the machine slows every figure down: say how busy it was.
    results["load_average_at_end"] = round(os.getloadavg()[0], 1)
    return results


def table(results: dict) -> str:
    names = {"saliency": "Where it looks (saliency)", "occlusion": "Cover it up (occlusion, 144 patches)",
             "adversarial": "Fool the model (ladder of 9 epsilons)",
             "adversarial_targeted": "Fool the model, targeted", "filter_wishes": "What the filters want"}
    architectures = list(results["models"])
    lines = ["| Explanation (one drawing) | " + " | ".join(architectures) + " |",
             "| --- | " + " | ".join("---:" for _ in architectures) + " |"]
    for key, title in names.items():
        cells = []
        for architecture in architectures:
            value = results["models"][architecture]["seconds"].get(key)
            cells.append("—" if value is None else f"{value[1]:.2f} s (first {value[0]:.2f} s)")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    count = results["map_images"]
    lines.append(f"| Map of {count:,} test images: made / read back | " + " | ".join(
        f"{results['models'][name]['map']['seconds']:.1f} s / {results['models'][name]['map']['cached_seconds']:.3f} s"
        for name in architectures) + " |")
    lines.append("| Map: 1-NN agreement with the labels in 2-D | " + " | ".join(
        f"{results['models'][name]['map']['nearest_neighbour_agreement']:.1%}" for name in architectures) + " |")
    lines.append("| Smallest epsilon that fooled it | " + " | ".join(
        (f"{results['models'][name]['adversarial']['epsilon']:g}" if results['models'][name]['adversarial']['success']
         else "not fooled") for name in architectures) + " |")
    lines.append("")
    lines.append(f"Measured {results['date']} on {results['machine']} ({results['device']}), load average "
                 f"{results.get('load_average_at_start', '?')} at the start and "
                 f"{results.get('load_average_at_end', '?')} "
                 "at the end (a load above the number of cores means other work shared them).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a map of 300 test images instead of 2,000")
    options = parser.parse_args()
    results = measure(300 if options.quick else embedding.DEFAULT_COUNT)
    (ROOT / "bench" / "explanations.json").write_text(json.dumps(results, indent=1) + "\n")
    text = table(results)
    print(text)
    page = ROOT / "docs" / "benchmarks.md"
    if page.is_file():
        content = page.read_text()
        if START_MARKER in content and END_MARKER in content:
            before, rest = content.split(START_MARKER, 1)
            _, after = rest.split(END_MARKER, 1)
            page.write_text(f"{before}{START_MARKER}\n{text}\n{END_MARKER}{after}")


if __name__ == "__main__":
    main()
