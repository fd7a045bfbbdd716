"""Fast predictions for the Draw page: a saved model compiled once, shared by every visitor, read in milliseconds.

`model.predict()` costs about 45 ms per call on a small CPU, almost all of it Keras setting up a data pipeline
for one image. A `Predictor` instead traces the model once into a TensorFlow graph (`tf.function` with a fixed
input signature) and calls that graph directly: one 28x28 drawing is preprocessed and read in a few
milliseconds, so the page answers as soon as the student lifts the pen.

    from core import inference, preprocess, runs

    store = runs.RunStore()
    predictor = inference.get_predictor(store, run_id)      # loaded once per process, then cached
    reading = inference.read_picture(predictor, canvas_rgba)
    if reading.is_blank:
        print(reading.preprocessed.message)
    else:
        print(reading.predicted_class, reading.probabilities)

It also lists the runs whose model can read a drawing (`compatible_runs`), lets every one of them read the
same image at once (`voters` and `vote`, for the Draw page's "Every model votes" table) and opens uploaded
image files safely (`load_image_file`): anything that is not a picture, is damaged or would blow up in memory
is refused with a ValueError whose message can be shown to the student as it is.

    chosen_voters, left_out = inference.voters(inference.compatible_runs(store.list()), chosen_run)
    for vote in inference.vote(store, chosen_voters, image28):
        print(vote.run.name, vote.architecture, vote.predicted_class, vote.confidence)
"""

import collections
import dataclasses
import io
import math
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from core import architectures, backend, datasets, lru, preprocess, text

# How many models vote on one drawing at most: the chosen one and the newest others. Each model that is not
# in memory yet takes 0.1-0.5 s to load on two CPU cores (once per server, the first time the table is
# opened), and each vote about a millisecond after that; twelve keeps that first opening to a few seconds and
# the table readable on a projector.
MAX_VOTERS = 12
# The Predictors kept in memory. A small model with its traced graph takes a few to a few tens of megabytes
# (measured: under 30 MB each for the ANN, MLP and CNN). Every voter stays cached, with room left for the
# models other visitors are looking at, so that moving a robustness slider never reloads a model.
CACHE_SIZE = MAX_VOTERS + 8

# Uploaded files: the formats we read, and the limits that keep a hostile or huge file from exhausting memory.
# A decoded 25-megapixel RGBA picture is 100 MB, which this machine can afford for one visitor at a time.
UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 25_000_000


class Predictor:
    """A loaded Keras model compiled for prediction; safe to call from many threads at once.

    Args:
        model: A Keras model that takes a batch of uint8 images (it rescales them itself, as every model of
            `core.architectures` does) and returns class probabilities.

    The graph is traced once, here, with a warm-up call, so that the first visitor does not wait for it and
    concurrent calls never trace at the same time. Calling a traced graph from several threads is safe: the
    model runs with `training=False`, which reads its weights and changes nothing.
    """

    def __init__(self, model):
        tf = backend.tensorflow()
        self.model = model
        self.input_shape = tuple(int(size) for size in model.input_shape[1:])
        self.num_classes = int(model.output_shape[-1])

        def probabilities(images):
            return model(images, training=False)

        graph = tf.function(probabilities, input_signature=[tf.TensorSpec([None, *self.input_shape], tf.uint8)])
        # The concrete function is the traced graph itself: calling it skips tf.function's argument matching.
        self._graph = graph.get_concrete_function()
        self._tensorflow = tf
        self.predict_batch(np.zeros((1, *self.input_shape), dtype=np.uint8))

    def predict(self, image: np.ndarray) -> np.ndarray:
        """The probabilities of each class for one image, a float32 array of shape (num_classes,)."""
        image = np.asarray(image)
        if image.shape != self.input_shape:
            raise ValueError(
                f"This model reads one image of shape {self.input_shape}; got an array of shape {image.shape}. "
                f"Preprocess the drawing to {self.input_shape[0]}x{self.input_shape[1]} first "
                "(core.preprocess.preprocess), or use predict_batch for several images."
            )
        return self.predict_batch(image[np.newaxis])[0]

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """The probabilities for a batch of images, a float32 array of shape (batch, num_classes)."""
        images = np.asarray(images)
        if images.ndim != len(self.input_shape) + 1 or images.shape[1:] != self.input_shape:
            raise ValueError(
                f"This model reads batches of images of shape {self.input_shape}, that is arrays of shape "
                f"(batch, {', '.join(map(str, self.input_shape))}); got an array of shape {images.shape}."
            )
        if images.dtype != np.uint8:
            raise ValueError(
                f"Images must be uint8 (0-255), as the datasets and the preprocessor make them; got dtype "
                f"{images.dtype}. Convert with `np.clip(images, 0, 255).astype(np.uint8)`."
            )
        if len(images) == 0:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        output = self._graph(self._tensorflow.constant(images))
        return np.asarray(output, dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class Reading:
    """What a model made of one picture: the preprocessing (with its stages) and, unless blank, the answer."""

    preprocessed: preprocess.Preprocessed
    probabilities: np.ndarray | None

    @property
    def is_blank(self) -> bool:
        return self.probabilities is None

    @property
    def predicted_class(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float | None:
        return None if self.probabilities is None else float(np.max(self.probabilities))


def read_picture(predictor: Predictor, picture: np.ndarray, *, normalise_stroke: bool = True) -> Reading:
    """Preprocesses a drawing (or an uploaded picture) the MNIST way and predicts its class.

    A blank picture (empty, a dot, all ink) gets no prediction: `reading.preprocessed.message` says what to do.
    Raises ValueError if `picture` is not a picture, or if the model does not read 28x28 grayscale images.
    """
    if predictor.input_shape != (preprocess.MNIST_SIZE, preprocess.MNIST_SIZE):
        raise ValueError(
            f"Drawings are read as 28x28 grayscale images, but this model reads images of shape "
            f"{predictor.input_shape}. Choose a model trained on MNIST, the MNIST sample or Fashion-MNIST."
        )
    preprocessed = preprocess.preprocess(picture, normalise_stroke=normalise_stroke)
    if preprocessed.is_blank:
        return Reading(preprocessed, None)
    return Reading(preprocessed, predictor.predict(preprocessed.image))


# --- the process-wide cache of predictors --------------------------------------------------------------------

_cache = lru.LruCache(CACHE_SIZE)
# One lock per model being loaded, so that two visitors asking for the same model load it once, while a
# cached model is still served at once to everybody else.
_loading_locks: dict[tuple[str, int], threading.Lock] = {}
_loading_locks_lock = threading.Lock()


def get_predictor(store, run_id: str) -> Predictor:
    """The Predictor of a run's saved model, loaded once per process and shared by every visitor.

    The cache is keyed by the run's folder and the model file's modification time, so a model that a
    training in progress saves again (a better epoch) is loaded afresh. Raises `runs.RunNotFound` if the run
    or its model does not exist.
    """
    run = store.get(run_id)
    model_path = Path(run.path) / "model.keras"
    try:
        modified = model_path.stat().st_mtime_ns
    except FileNotFoundError:
        from core.runs import RunNotFound

        raise RunNotFound(f"Run {run_id} has no saved model yet (no epoch finished).") from None
    key = (str(Path(run.path).resolve()), modified)

    predictor = _cache.get(key)
    if predictor is not None:
        return predictor
    with _loading_locks_lock:
        loading_lock = _loading_locks.setdefault(key, threading.Lock())

    with loading_lock:
        predictor = _cache.get(key)
        if predictor is not None:
            return predictor
        predictor = Predictor(store.load_model(run_id))
        # An older version of the same run's model will not be asked for again.
        _cache.discard(lambda cached: cached[0] == key[0])
        _cache.put(key, predictor)
        with _loading_locks_lock:
            _loading_locks.pop(key, None)
        return predictor


def clear_cache() -> None:
    """Forgets every cached Predictor (tests; freeing memory)."""
    _cache.clear()


# --- which runs can read a drawing ---------------------------------------------------------------------------


def reads_digits(run) -> bool:
    """Whether a run's model was trained on handwritten digits (rather than, say, clothes)."""
    try:
        return datasets.get_info(run.dataset).is_digits
    except ValueError:
        return False


def compatible_runs(candidates, image_shape: tuple[int, ...] = (28, 28)) -> list:
    """The runs whose saved model reads grayscale images of `image_shape`: digit models first, then others.

    Within each group the class's own trainings come first, the most accurate on its test images first, then those
    without a test score (still training), then imported models (trained elsewhere, perhaps on these very test
    images, which ship with the app: their score does not compare); among equals the order of `candidates` is
    kept (the run store lists the newest first). So a page that starts on the first one gives a new visitor the
    best model the class has, not the latest, which anyone may have trained badly on purpose, nor a model whose
    score was made up. Runs without a model (nothing finished yet), damaged runs and runs on an unknown dataset
    are left out.
    """
    usable = []
    for run in candidates:
        if run.damaged or not run.has_model:
            continue
        try:
            info = datasets.get_info(run.dataset)
        except ValueError:
            continue
        if tuple(info.image_shape) == tuple(image_shape):
            usable.append(run)

    def best_first(run) -> tuple[bool, bool, float]:
        accuracy = run.test_accuracy
        known = isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) and math.isfinite(accuracy)
        return (run.imported, not known, -float(accuracy) if known else 0.0)

    usable.sort(key=best_first)
    return [run for run in usable if reads_digits(run)] + [run for run in usable if not reads_digits(run)]


# --- every model votes ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Vote:
    """What one run's model makes of an image: its probabilities, or why it could not vote.

    Attributes:
        run: The `runs.Run` that voted.
        architecture: The architecture's title, such as "CNN: one convolution" (the architecture's name
            when it is not in the registry, for example an imported model).
        probabilities: The probability of each class, or None when the model could not be loaded.
        error: Why the model could not vote ("" when it did).
    """

    run: object
    architecture: str
    probabilities: np.ndarray | None
    error: str = ""

    predicted_class = Reading.predicted_class
    confidence = Reading.confidence


def voters(candidates, chosen=None, limit: int | None = None) -> tuple[list, int]:
    """The runs that vote with `chosen`, and how many more could have voted but were left out.

    Voters are the `compatible_runs` that know the same classes as `chosen` (digit models vote on a digit,
    clothes models on clothes), newest first as the run store lists them, at most `limit` of them
    (`MAX_VOTERS` by default). The chosen run always votes and comes first. Without `chosen`, the first
    compatible run decides the classes.
    """
    limit = MAX_VOTERS if limit is None else limit
    if limit < 1:
        raise ValueError(f"limit must be 1 or more (how many models vote), received {limit}.")
    compatible = compatible_runs(candidates)
    if chosen is None:
        if not compatible:
            return [], 0
        chosen = compatible[0]
    classes = _class_names(chosen)
    same_classes = [run for run in compatible if run.id != chosen.id and _class_names(run) == classes]
    chosen_voters = [chosen] + same_classes[: limit - 1]
    return chosen_voters, len(same_classes) - len(chosen_voters[1:])


def vote(store, runs, image: np.ndarray, on_progress=None) -> list[Vote]:
    """Every run in `runs` reads the same 28x28 image; returns their votes in the same order.

    The models come from the shared Predictor cache (see `get_predictor`), so only models that nobody has
    used since the server started are loaded, about a second each. A model that cannot be loaded (deleted
    meanwhile, damaged) gets a Vote with its `error` instead of stopping the others.

    Args:
        store: The run store holding the runs.
        runs: The runs to ask, for example from `voters`.
        image: The image every model reads, a (28, 28) uint8 array.
        on_progress: Called as `on_progress(done, total)` after each model has voted, to show progress
            while models load.

    Raises:
        ValueError: If `image` is not a (28, 28) uint8 array.
    """
    image = np.asarray(image)
    if image.shape != (preprocess.MNIST_SIZE, preprocess.MNIST_SIZE) or image.dtype != np.uint8:
        raise ValueError(
            f"Every model votes on one 28x28 uint8 image, the model's input; got an array of shape {image.shape} "
            f"and dtype {image.dtype}. Preprocess the drawing first (core.preprocess)."
        )
    runs = list(runs)
    votes = []
    for done, run in enumerate(runs, start=1):
        title = _architecture_title(run.architecture)
        try:
            probabilities = get_predictor(store, run.id).predict(image)
        except (KeyError, OSError, ValueError) as error:
            votes.append(Vote(run, title, None, f"could not be loaded ({error})"))
        else:
            votes.append(Vote(run, title, probabilities))
        if on_progress is not None:
            on_progress(done, len(runs))
    return votes


def majority(votes: list[Vote]) -> int | None:
    """The class most models voted for (ties: the one the earliest voter chose); None when nobody voted."""
    predictions = [vote.predicted_class for vote in votes if vote.predicted_class is not None]
    if not predictions:
        return None
    counts = collections.Counter(predictions)
    best = max(counts.values())
    return next(prediction for prediction in predictions if counts[prediction] == best)


def describe_votes(votes: list[Vote], class_names, expected: int | None = None) -> str:
    """One sentence for the class, such as "3 of 4 models say **7**; ANN says 5.".

    `expected` is the class the drawing is meant to be (the student's label, or the chosen model's answer on
    the drawing as drawn); without it, the votes are counted against the majority.
    """
    counted = [vote for vote in votes if vote.predicted_class is not None]
    if not counted:
        return "No model could vote: train a model, or choose another one."
    if expected is None:
        expected = majority(votes)
    if len(counted) == 1:
        return (f"Only one model can read this drawing, and it says **{class_names[counted[0].predicted_class]}**. "
                "Train another one (say an ANN and a CNN) to compare them.")
    agreeing = sum(vote.predicted_class == expected for vote in counted)
    others = "; ".join(f"{text.markdown_escape(vote.run.name)} says {class_names[vote.predicted_class]}"
                       for vote in counted if vote.predicted_class != expected)
    if agreeing == len(counted):
        return f"All {len(counted)} models say **{class_names[expected]}**."
    if agreeing == 0:
        return f"None of the {len(counted)} models says **{class_names[expected]}**: {others}."
    return f"{agreeing} of {len(counted)} models say **{class_names[expected]}**; {others}."


def _class_names(run) -> tuple[str, ...] | None:
    try:
        return datasets.get_info(run.dataset).class_names
    except ValueError:
        return None


def _architecture_title(name) -> str:
    return architectures.title_of(name) or str(name or "unknown architecture")


# --- uploaded pictures ----------------------------------------------------------------------------------------


def load_image_file(data: bytes) -> np.ndarray:
    """Decodes an uploaded PNG, JPEG, GIF or WebP file into a uint8 array (gray, RGB or RGBA).

    The size is checked from the file's header before any pixel is decoded, so a small file that claims
    to be a huge picture (a decompression bomb) is refused without using memory. An animated GIF gives its
    first frame; a phone photo is turned upright by its EXIF orientation.

    Raises:
        ValueError: with a message for the student, if the file is empty or too big, is not a picture in
            one of the formats above, is damaged or truncated, or has too many pixels.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"Expected the bytes of an image file, got {type(data).__name__}.")
    data = bytes(data)
    if not data:
        raise ValueError("The file is empty: choose a PNG, JPEG, GIF or WebP picture.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"The file is too big ({len(data) / 2**20:.0f} MB; at most {MAX_UPLOAD_BYTES // 2**20} MB). "
            "A photo of one digit does not need more: shrink it first."
        )
    formats = "PNG, JPEG, GIF or WebP"
    with warnings.catch_warnings():
        # Pillow only warns about pictures between its own limit and twice that; our limit is lower anyway.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS)
        except Image.DecompressionBombError:
            raise ValueError(_too_many_pixels_message(None)) from None
        except (OSError, SyntaxError, ValueError):
            # Pillow raises UnidentifiedImageError (an OSError) for anything that is not a picture it knows.
            raise ValueError(f"This file is not a picture Neural Canvas can read: upload a {formats} file.") from None
        with image:
            width, height = image.size
            if width < 1 or height < 1:
                raise ValueError("The picture has no pixels: upload another file.")
            if width * height > MAX_UPLOAD_PIXELS:
                raise ValueError(_too_many_pixels_message((width, height)))
            try:
                image.seek(0)
                image.load()
                image = ImageOps.exif_transpose(image)
                pixels = np.asarray(_as_gray_rgb_or_rgba(image))
            except Image.DecompressionBombError:
                raise ValueError(_too_many_pixels_message((width, height))) from None
            except (OSError, SyntaxError, ValueError, EOFError):
                raise ValueError(
                    f"The picture is damaged or cut short, so it cannot be read: save it again as a {formats} "
                    "file and upload that."
                ) from None
    return np.array(pixels, dtype=np.uint8, copy=True)


def _too_many_pixels_message(size) -> str:
    claimed = f" ({size[0]}x{size[1]} pixels)" if size else ""
    return (
        f"The picture is far too large{claimed}: at most {MAX_UPLOAD_PIXELS // 1_000_000} million pixels are "
        "accepted. Shrink it first."
    )


def _as_gray_rgb_or_rgba(image: Image.Image) -> Image.Image:
    """Converts any Pillow mode to L, RGB or RGBA, keeping transparency, as the preprocessor expects."""
    if image.mode in ("L", "RGB", "RGBA"):
        return image
    if image.mode in ("1", "I", "I;16", "I;16B", "I;16L", "F"):
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            # Deep grayscale: scale its own range to 0-255 rather than clipping everything above 255.
            values = np.asarray(image, dtype=np.float64)
            low, high = float(values.min()), float(values.max())
            scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
            return Image.fromarray(scaled.astype(np.uint8), mode="L")
        return image.convert("L")
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
