"""Bend a 28x28 digit on purpose: move, turn, resize and thicken it, to see what a model can take.

The Draw page's robustness sliders call this module. A student draws a digit, then moves it a few pixels to
the side, turns it, makes it bigger or smaller, or draws it with a thicker or thinner pen, and watches the
prediction change. A convolutional network usually shrugs a small shift off; a dense network, which learned
each pixel's place by heart, often does not.

    from core import robustness

    transform = robustness.Transform(shift_x=4, rotation=15)
    moved = robustness.apply(reading.preprocessed.image, transform)   # (28, 28) uint8
    print(transform.describe())                                       # "moved 4 px right, turned 15° left"

Turning and resizing happen around the digit's centre of mass, so a turned digit stays where it was and only
the shift moves it. The stroke is thickened or thinned on a four-times finer grid, so half a pixel is
possible and the edges stay smooth. Pure NumPy and SciPy: no Streamlit, no TensorFlow.
"""

import dataclasses
import math

import numpy as np
from scipy import ndimage

from core import preprocess

IMAGE_SIZE = 28

# The ranges the sliders offer. A shift of 8 pixels moves a 20-pixel digit almost to the border; a half turn
# makes a 6 out of a 9; below half size or above one and a half the digit stops looking like MNIST at all.
MAX_SHIFT = 8
MAX_ROTATION = 180.0
MIN_SCALE = 0.5
MAX_SCALE = 1.5
MIN_THICKNESS = -1.0
MAX_THICKNESS = 2.0

# Thickening works on the image enlarged this many times, so that the stroke can grow by half a pixel.
_FINE_GRID = 4


@dataclasses.dataclass(frozen=True)
class Transform:
    """How to bend a digit; the defaults change nothing.

    Attributes:
        shift_x: Pixels to move the digit to the right (negative: to the left), from -8 to 8.
        shift_y: Pixels to move the digit down (negative: up), from -8 to 8.
        rotation: Degrees to turn the digit anticlockwise (negative: clockwise), from -180 to 180.
        scale: How much bigger the digit gets (0.5 is half size, 1.5 half as big again), from 0.5 to 1.5.
        thickness: Pixels added to each side of every stroke (negative: taken away), from -1 to 2.
    """

    shift_x: int = 0
    shift_y: int = 0
    rotation: float = 0.0
    scale: float = 1.0
    thickness: float = 0.0

    def __post_init__(self):
        for name in ("shift_x", "shift_y"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ValueError(f"{name} must be a whole number of pixels, received {value!r}.")
            if not -MAX_SHIFT <= value <= MAX_SHIFT:
                raise ValueError(
                    f"{name} must be between {-MAX_SHIFT} and {MAX_SHIFT} pixels, received {value}: further "
                    "and the digit leaves the 28x28 image."
                )
        _check_range("rotation", self.rotation, -MAX_ROTATION, MAX_ROTATION, "degrees")
        _check_range("scale", self.scale, MIN_SCALE, MAX_SCALE, "times the drawn size")
        _check_range("thickness", self.thickness, MIN_THICKNESS, MAX_THICKNESS, "pixels")

    @property
    def is_identity(self) -> bool:
        """Whether this transform leaves every image as it is."""
        return self == Transform()

    def describe(self) -> str:
        """The transform in words for a caption, such as "moved 4 px right, turned 15° left"; "as drawn"."""
        parts = []
        moves = []
        if self.shift_x:
            moves.append(f"{abs(self.shift_x)} px {'right' if self.shift_x > 0 else 'left'}")
        if self.shift_y:
            moves.append(f"{abs(self.shift_y)} px {'down' if self.shift_y > 0 else 'up'}")
        if moves:
            parts.append("moved " + " and ".join(moves))
        if self.rotation:
            direction = "left" if self.rotation > 0 else "right"
            parts.append(f"turned {abs(self.rotation):g}° {direction}")
        if self.scale != 1.0:
            parts.append(f"{self.scale:g}× the size")
        if self.thickness:
            parts.append(f"strokes {abs(self.thickness):g} px {'thicker' if self.thickness > 0 else 'thinner'}")
        return ", ".join(parts) if parts else "as drawn"


def _check_range(name, value, low, high, unit):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, received {value!r}.")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g} {unit}, received {value!r}.")


def apply(image: np.ndarray, transform: Transform) -> np.ndarray:
    """Returns a bent copy of a 28x28 digit: turned and resized around its centre of mass, moved, thickened.

    Args:
        image: The digit as the model reads it, a (28, 28) uint8 array, white ink on black.
        transform: What to do to it (`Transform()` returns an unchanged copy).

    Returns:
        A new (28, 28) uint8 array. Ink moved past the border is lost, as it would be on paper.

    Raises:
        ValueError: If `image` is not a (28, 28) uint8 array, or `transform` is not a `Transform`.
    """
    image = np.asarray(image)
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE) or image.dtype != np.uint8:
        raise ValueError(
            f"Expected the model's input, a ({IMAGE_SIZE}, {IMAGE_SIZE}) uint8 image, got an array of shape "
            f"{image.shape} and dtype {image.dtype}. Preprocess the drawing first (core.preprocess)."
        )
    if not isinstance(transform, Transform):
        raise ValueError(f"Expected a robustness.Transform, received {type(transform).__name__}.")
    if transform.is_identity or not image.any():
        return image.copy()

    ink = image.astype(np.float32)
    if (transform.shift_x, transform.shift_y, transform.rotation, transform.scale) != (0, 0, 0.0, 1.0):
        ink = _moved(ink, transform)
    if transform.thickness:
        ink = _thickened(ink, transform.thickness)
    return np.clip(np.rint(ink), 0, 255).astype(np.uint8)


def model_input(image: np.ndarray, picture=None, transform: Transform = Transform(), *,
                naive: bool = False) -> tuple[np.ndarray, str]:
    """The image the Draw page's experiments give the models, and a few words saying what was done to it.

    Args:
        image: The MNIST-style (28, 28) uint8 digit that `core.preprocess` made of the drawing.
        picture: The drawing itself (the canvas's RGBA array or an uploaded picture); needed when `naive`.
        transform: How to bend the image.
        naive: Start from the whole picture squeezed into 28x28 (`preprocess.naive_resize`) instead of the
            MNIST-style image, to show what a model gets without the recipe.

    Returns:
        (the bent (28, 28) uint8 image, words for a caption such as "squeezed without the recipe, moved
        2 px left" or "as drawn").
    """
    if naive:
        if picture is None:
            raise ValueError("The naive resize squeezes the drawing itself: pass the picture as well.")
        image = preprocess.naive_resize(picture)
    words = transform.describe()
    if naive:
        words = "squeezed without the recipe" + ("" if transform.is_identity else f", {words}")
    return apply(image, transform), words


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """The (row, column) of the ink's centre of mass; the middle of the image when there is no ink."""
    image = np.asarray(image, dtype=np.float64)
    if not image.any():
        return ((image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2)
    row, column = ndimage.center_of_mass(image)
    return float(row), float(column)


def _moved(ink, transform):
    """Turns and resizes around the centre of mass, then shifts, in one resampling (bilinear)."""
    pivot = np.array(centre_of_mass(ink))
    angle = math.radians(transform.rotation)
    cosine, sine = math.cos(angle), math.sin(angle)
    # In (row, column) coordinates, with rows going down, an anticlockwise turn on screen maps
    # (row, column) to (cos * row - sin * column, sin * row + cos * column). affine_transform needs the inverse
    # map, from each output pixel back to where it comes from: the transposed turn, divided by the scale.
    inverse = np.array([[cosine, sine], [-sine, cosine]]) / transform.scale
    shift = np.array([transform.shift_y, transform.shift_x], dtype=np.float64)
    offset = pivot - inverse @ (pivot + shift)
    # A pure whole-pixel shift lands exactly on pixels: round away floating-point dust so it copies them.
    if transform.rotation == 0 and transform.scale == 1.0:
        offset = np.rint(offset)
    return ndimage.affine_transform(ink, inverse, offset=offset, order=1, mode="constant", cval=0.0)


def _thickened(ink, thickness):
    """Grows (or shrinks) every stroke by `thickness` pixels on each side, on a finer grid."""
    peak = float(ink.max())
    fine = np.repeat(np.repeat(ink, _FINE_GRID, axis=0), _FINE_GRID, axis=1)
    # A little smoothing first, so that the disc does not print square pixel corners into the result.
    fine = ndimage.uniform_filter(fine, size=_FINE_GRID - 1, mode="constant")
    radius = abs(thickness) * _FINE_GRID
    span = math.ceil(radius)
    rows, columns = np.mgrid[-span : span + 1, -span : span + 1]
    disc = rows**2 + columns**2 <= radius**2 + 1e-9
    if thickness > 0:
        fine = ndimage.grey_dilation(fine, footprint=disc, mode="constant", cval=0.0)
    else:
        fine = ndimage.grey_erosion(fine, footprint=disc, mode="constant", cval=0.0)
    coarse = fine.reshape(IMAGE_SIZE, _FINE_GRID, IMAGE_SIZE, _FINE_GRID).mean(axis=(1, 3))
    # A thinner pen still draws full ink: the strongest remaining stroke gets the original's strength back.
    if thickness < 0 and coarse.max() > 0:
        coarse = coarse * (peak / coarse.max())
    return coarse
