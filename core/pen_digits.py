"""Digits written by real people with a pen, drawn on the canvas the way the Draw page receives them.

The 7,494 digits of 30 writers in `core/data/pendigits.npz` (UCI "Pen-Based Recognition of Handwritten
Digits", CC BY 4.0, see `core/data/LICENSE-pendigits.txt`; built by `scripts/build_pendigits.py`) are pen
trajectories: the points of each stroke, as the stylus moved. This module draws each one as a student's
drawing on the 280x280 canvas: the same pen (round, 5-40 pixels, never fatter than a fifth of the digit's
height), the same sizes (30-90% of the canvas), any position, the canvas's three backgrounds, all drawn by
`core.drawn_digits.draw_on_canvas`; then `core.preprocess.preprocess` turns it into the 28x28 digit the model
reads, exactly as on the Draw page. The shapes are the writers' own: no slant, rotation or bending is added.

Split by writer, so that a score on the test split says how well a model reads people it never saw: the
writers in `TEST_WRITERS` (every third one, 3, 6, ..., 30: a fixed third) are the test split, never trained
on and kept out of every training and tuning decision; the other 20 are the training split.

Every drawing has its own random generator, seeded with `[SEED_SPACE, seed, index]` (index: the digit's
place in the file), so a digit looks the same whichever subset it is drawn in.

Example:

```python
from core import pen_digits

images, labels = pen_digits.preprocessed(pen_digits.test_indices())   # held-out writers, 28x28 uint8
```
"""

import dataclasses
import functools
import pathlib
import zlib

import numpy as np

from core import drawn_digits

DATA_PATH = pathlib.Path(__file__).resolve().parent / "data" / "pendigits.npz"
# Every digit drawn and preprocessed with DATASET_SEED, by scripts/build_pendigits.py: drawing all 7,494 takes
# about a minute, too long for a one-click training, so the result ships too.
IMAGES_PATH = DATA_PATH.with_name("pendigits_images.npz")
NUM_WRITERS = 30
# The held-out third of the writers: every third writer, fixed once and for all (never tuned).
TEST_WRITERS = tuple(range(3, NUM_WRITERS + 1, 3))
# Its own seed space, so that no random stream here coincides with drawn_digits' or a training run's.
SEED_SPACE = 0x9E4D16
# The seed of the dataset's renderings: the registry's `pendigits` and every score on held-out writers.
DATASET_SEED = 2026


class PenDigitsUnavailable(RuntimeError):
    """The pen-drawn digits' file is missing or damaged; the message says how to rebuild it."""


@dataclasses.dataclass(frozen=True, eq=False)
class PenDigits:
    """All the pen trajectories: `strokes[i]` is a list of (n, 2) float arrays (x right, y down, tablet units)."""

    strokes: tuple[tuple[np.ndarray, ...], ...]
    labels: np.ndarray
    writers: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@functools.cache
def load() -> PenDigits:
    """Reads the trajectories from `DATA_PATH` once per process."""
    try:
        with np.load(DATA_PATH, allow_pickle=False) as arrays:
            steps = arrays["point_steps"]
            stroke_starts = arrays["stroke_starts"]
            digit_starts = arrays["digit_starts"]
            labels = arrays["labels"].astype(np.int64)
            writers = arrays["writers"].astype(np.int64)
    except (OSError, KeyError, ValueError, EOFError, zlib.error) as error:
        raise PenDigitsUnavailable(
            f"Could not read the pen-drawn digits from {DATA_PATH} ({error}). Rebuild the file with "
            "scripts/build_pendigits.py from the UCI pendigits UNIPEN file (its docstring says how).") from error
    points = np.cumsum(steps.astype(np.int32), axis=1).T.astype(float)
    all_strokes = [points[start:end] for start, end in zip(stroke_starts[:-1], stroke_starts[1:])]
    strokes = tuple(tuple(all_strokes[start:end]) for start, end in zip(digit_starts[:-1], digit_starts[1:]))
    labels.setflags(write=False)
    writers.setflags(write=False)
    return PenDigits(strokes=strokes, labels=labels, writers=writers)


def test_indices() -> np.ndarray:
    """The digits of the held-out writers (`TEST_WRITERS`), in file order."""
    return np.flatnonzero(np.isin(load().writers, TEST_WRITERS))


def train_indices() -> np.ndarray:
    """The digits of the 20 training writers, in file order."""
    return np.flatnonzero(~np.isin(load().writers, TEST_WRITERS))


def unit_strokes(strokes) -> list[np.ndarray]:
    """The strokes scaled to a height of 1 (the tallest of height and width for a flat digit), top left at 0."""
    all_points = np.concatenate(strokes)
    low = all_points.min(axis=0)
    extent = all_points.max(axis=0) - low
    height = max(float(extent[1]), float(extent[0]) * 0.5, 1.0)
    return [(stroke - low) / height for stroke in strokes]


def render(index: int, seed: int = DATASET_SEED, *, size: int = drawn_digits.CANVAS_SIZE, style: str | None = None,
           pen_width: int | None = None) -> np.ndarray:
    """Draws digit `index` on a canvas like a student's drawing; returns the (size, size, 4) uint8 RGBA canvas.

    Random (from `seed` and `index`): the background style, the pen's width (5-40 pixels on a 280 canvas), the
    size and the place, as in `core.drawn_digits.render_digit`. `style` and `pen_width` fix them instead.
    """
    data = load()
    if not 0 <= index < len(data):
        raise ValueError(f"index must be from 0 to {len(data) - 1}, got {index}.")
    if style is not None and style not in drawn_digits.STYLES:
        raise ValueError(f"Unknown style {style!r}: use one of {', '.join(drawn_digits.STYLES)}, or None.")
    rng = np.random.default_rng([SEED_SPACE, seed, index])
    random_style = drawn_digits.STYLES[rng.integers(len(drawn_digits.STYLES))]
    random_pen = int(rng.integers(drawn_digits.MIN_PEN_WIDTH, drawn_digits.MAX_PEN_WIDTH + 1))
    pen_width = random_pen if pen_width is None else pen_width
    if not drawn_digits.MIN_PEN_WIDTH <= pen_width <= drawn_digits.MAX_PEN_WIDTH:
        raise ValueError(f"pen_width must be from {drawn_digits.MIN_PEN_WIDTH} to {drawn_digits.MAX_PEN_WIDTH} "
                         f"pixels, got {pen_width}.")
    return drawn_digits.draw_on_canvas(unit_strokes(data.strokes[index]), rng, size=size,
                                       style=random_style if style is None else style,
                                       pen=pen_width * size / drawn_digits.CANVAS_SIZE)


def preprocessed(indices, seed: int = DATASET_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Draws the digits `indices` and runs each through `core.preprocess.preprocess`, as the Draw page does.

    Returns (images, labels): (n, 28, 28) uint8 white-on-black digits and int64 labels. A drawing the
    preprocessor calls blank stays all black (a model will most likely misread it: it counts as a miss).
    """
    from core import preprocess

    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    images = np.zeros((len(indices), preprocess.MNIST_SIZE, preprocess.MNIST_SIZE), dtype=np.uint8)
    for row, index in enumerate(indices):
        result = preprocess.preprocess(render(int(index), seed))
        if not result.is_blank:
            images[row] = result.image
    return images, load().labels[indices].copy()


@functools.cache
def all_images() -> np.ndarray:
    """Every digit drawn and preprocessed with `DATASET_SEED`, in file order: a read-only (7494, 28, 28) uint8 array.

    Read from `IMAGES_PATH`; drawn here (about a minute) if that file is missing or does not match the digits.
    """
    count = len(load())
    images = None
    try:
        with np.load(IMAGES_PATH, allow_pickle=False) as arrays:
            images = arrays["images"]
    except (OSError, KeyError, ValueError, EOFError, zlib.error):
        images = None
    if images is None or images.shape != (count, 28, 28) or images.dtype != np.uint8:
        images, _ = preprocessed(np.arange(count))
    images.setflags(write=False)
    return images
