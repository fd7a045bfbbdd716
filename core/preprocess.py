"""Turn a drawing from the canvas into a 28x28 digit that looks like one from MNIST.

A model trained on MNIST has only ever seen digits prepared in one particular way (LeCun et al., 1998):
the digit is cropped to its bounding box, scaled so that its longer side is 20 pixels (keeping its aspect
ratio, with anti-aliasing), and placed in a 28x28 field so that its centre of mass sits in the middle.
A drawing from the canvas reaches the model through the same recipe, which is what lets the model read it:

1. Find the ink. The canvas returns RGBA with a transparent background, so alpha is the ink; an uploaded
   picture has no transparency, so the ink is how far each pixel's colour is from the background colour
   (the colour that dominates the border). White on black and black on white therefore give the same ink,
   and background noise as strong as the border's is removed.
2. Remove stray specks: tiny blobs far from the digit would otherwise stretch the bounding box.
3. Crop to the ink's bounding box.
4. Make the pen look like MNIST's (optional): MNIST strokes are about 2-3 pixels wide in a 20-pixel box,
   whatever pen the student picked, so strokes are thickened or thinned towards that width.
5. Fit the box into 20x20 keeping the aspect ratio, then centre it by its centre of mass in 28x28.

Every step is kept as an image in `Preprocessed.stages`, so the Draw page can show the recipe at work.

Example:

```python
from core import preprocess

result = preprocess.preprocess(canvas_result.image_data)
if result.is_blank:
    st.info(result.message)
else:
    probabilities = model.predict(result.image[None, ..., None], verbose=0)
```

This module uses numpy, scipy and Pillow only (no Streamlit, TensorFlow or Keras), so it is cheap to import
and to test. Preprocessing a 280x280 canvas takes about 2 ms on one CPU core.
"""

import dataclasses
import io
import math
import warnings

import numpy as np
from PIL import Image
from scipy import ndimage

MNIST_SIZE = 28
FIT_SIZE = 20
# MNIST digits have their centre of mass at (14.0, 14.0) in row/column index coordinates (measured on the
# training digits); LeCun's recipe rounds the shift to whole pixels, so we aim at the same point.
CENTRE_OF_MASS_TARGET = 14.0

# Bigger pictures are shrunk to at most this many pixels on the long side before any other work, so that a
# 5000x5000 upload costs about as much as a canvas. It is twice the canvas size, so a canvas is never shrunk.
MAX_WORKING_SIDE = 560
# The largest picture accepted at all, checked before any work: a phone photo (4032 x 3024) fits, and it is
# shrunk to MAX_WORKING_SIDE at once. The Draw page's 280-pixel canvas is at most 840 pixels on a side on a 3x
# screen: its PNG may be at most MAX_CANVAS_SIDE. A PNG of 0.7 MB can declare 12,000 x 12,000 pixels, which
# would decode to 549 MB.
MAX_PICTURE_SIDE = 4096
MAX_CANVAS_SIDE = 1024
MAX_PICTURE_BYTES = 8 * 1024 * 1024

# Pixels whose colour differs from the background by less than this (on a 0-1 scale) hold no ink; it keeps
# the noise of a photographed or compressed picture from being read as a faint digit.
MIN_INK_CONTRAST = 0.15
# Background noise is removed up to at most this much ink, so that a digit that covers much of the border
# keeps its strokes.
MAX_NOISE_FLOOR = 0.35
# A pixel is part of a stroke when it holds at least this much ink (after scaling the darkest ink to 1).
STROKE_THRESHOLD = 0.5
# Pixels with less ink than this are left out of connected components (anti-aliased fringes are included).
COMPONENT_THRESHOLD = 0.1
# When more than this fraction of the picture is ink, there is no background left to draw a digit on.
FULL_INK_FRACTION = 0.9

# A blob is a stray speck, and is dropped, when it is both small (less ink than this fraction of the
# largest blob) and far from the digit (a gap wider than this fraction of the digit's longer side).
# Separate strokes of a real digit (the bar of a 4, the flag of a 5) are either large or close.
SPECK_AREA_RATIO = 0.15
SPECK_GAP_RATIO = 0.25

# A drawing is too small to be a digit when its bounding box is under this fraction of the picture's
# longer side in both directions, or when it is a dot: not even this many stroke widths long, and small
# (under MAX_DOT_SIDE_RATIO of the picture). A big blob is not called a dot: it is read as it is.
MIN_DIGIT_SIDE_RATIO = 0.03
MIN_DIGIT_LENGTH_IN_STROKES = 2.5
MAX_DOT_SIDE_RATIO = 0.2

# MNIST strokes are about 2.5 pixels wide in the 20-pixel box (median over the training digits), that is
# about 0.13 of the box's longer side. Stroke normalisation aims at that width.
TARGET_STROKE_RATIO = 0.13
# Stroke normalisation works on the cropped digit resized so that its longer side is about this many pixels:
# fine enough for smooth edges after fitting into 20 pixels, small enough to be fast.
STROKE_WORKING_SIDE = 64
STROKE_MAX_WORKING_SIDE = 192
STROKE_MIN_WORKING_WIDTH = 2.5

MESSAGE_EMPTY = "Draw a digit: the canvas is empty."
MESSAGE_TOO_LITTLE_INK = "Draw a bigger digit: there is too little ink."
MESSAGE_FULL_OF_INK = "The canvas is full of ink: clear it and draw a digit."
# The same three cases for an uploaded picture, where there is no canvas to draw on or clear.
UPLOAD_MESSAGES = {
    MESSAGE_EMPTY: "This picture is blank: upload a picture of a digit.",
    MESSAGE_TOO_LITTLE_INK: "This picture holds too little ink for a digit: upload one where the digit is bigger.",
    MESSAGE_FULL_OF_INK: "This picture is all ink: upload a picture of one digit on a plain background.",
}


# The same messages for a model of clothes (Fashion-MNIST), which is given a drawing of a piece of clothing.
CLOTHES_MESSAGES = {
    MESSAGE_EMPTY: "Draw a piece of clothing: the canvas is empty.",
    MESSAGE_TOO_LITTLE_INK: "Draw it bigger: there is too little ink.",
    MESSAGE_FULL_OF_INK: "The canvas is full of ink: clear it and draw one piece of clothing.",
}
CLOTHES_UPLOAD_MESSAGES = {
    MESSAGE_EMPTY: "This picture is blank: upload a picture of a piece of clothing.",
    MESSAGE_TOO_LITTLE_INK: "This picture holds too little ink: upload one where the piece of clothing is bigger.",
    MESSAGE_FULL_OF_INK: "This picture is all ink: upload a picture of one piece of clothing on a plain background.",
}


def upload_message(message: str, *, digits: bool = True) -> str:
    """What to tell a student whose uploaded picture holds no digit (or, `digits=False`, no piece of clothing),
    for a canvas's `message`."""
    return (UPLOAD_MESSAGES if digits else CLOTHES_UPLOAD_MESSAGES).get(message, message)


def canvas_message(message: str, *, digits: bool = True) -> str:
    """A canvas's `message` as said to a student drawing for a model of digits or, `digits=False`, of clothes."""
    return message if digits else CLOTHES_MESSAGES.get(message, message)


@dataclasses.dataclass(frozen=True)
class Preprocessed:
    """The result of `preprocess`.

    Attributes:
        image: The MNIST-style digit, a (28, 28) uint8 array with a white digit on black, or `None` when
            there is no digit to read (`is_blank`).
        is_blank: Whether the canvas holds no digit: it is empty, holds too little ink, or is full of ink.
        message: What to tell the student when `is_blank` (for example
            "Draw a digit: the canvas is empty."), otherwise "".
        stages: The steps of the recipe as uint8 grayscale images, in order, for display: "ink" (the ink
            found in the whole picture), "crop" (the ink's bounding box), "fit" (the box fitted into 20x20
            with the stroke normalised) and "centred" (the final 28x28 image). Only the stages that were
            reached are present.
    """

    image: np.ndarray | None
    is_blank: bool
    message: str
    stages: dict[str, np.ndarray]


def ink_from_rgba(rgba: np.ndarray) -> np.ndarray:
    """Says how much ink each pixel of a picture holds.

    Args:
        rgba: The picture: the (height, width, 4) uint8 RGBA array the canvas returns, or an RGB
            (height, width, 3) or grayscale (height, width) picture. Integer pictures hold values 0-255
            (uint16 ones 0-65535), float pictures values in [0, 1].

    Returns:
        A float32 (height, width) array in [0, 1]: 0 on the background, 1 where the ink is strongest.
        Where the picture has a transparent background the ink is its alpha channel; otherwise it is the
        difference in colour from the dominant colour of the border, so that a white digit on black and a
        black digit on white give the same ink. A picture of one colour holds no ink.

    Raises:
        ValueError: If the array is not a picture (see `preprocess`).
    """
    pixels, full_scale = _validated_pixels(rgba, shrink=False)
    ink, _ = _ink_map(pixels, full_scale)
    return ink


def preprocess(image: np.ndarray, *, normalise_stroke: bool = True) -> Preprocessed:
    """Turns a drawing into an MNIST-style 28x28 digit: crop, fit into 20x20, centre by centre of mass.

    Args:
        image: The drawing: the (height, width, 4) uint8 RGBA array the canvas returns, or an uploaded
            RGB (height, width, 3) or grayscale (height, width) picture, uint8 (0-255) or float ([0, 1]),
            of any size and with any background and stroke colour.
        normalise_stroke: Whether to thicken thin strokes and thin thick ones towards MNIST's stroke
            width, so that the pen width the student picked matters little.

    Returns:
        A `Preprocessed`: the (28, 28) uint8 digit, white on black, or `is_blank` with a message saying
        what to draw when the canvas is empty, holds too little ink (a dot) or is full of ink.

    Raises:
        ValueError: If `image` is not a picture: not 2-D or 3-D, empty, more than 4 channels, not numeric,
            holding NaN or infinity, or holding values outside 0-255 (integers) or [0, 1] (floats).
    """
    pixels, full_scale = _validated_pixels(image, shrink=True)
    ink, is_solid_colour = _ink_map(pixels, full_scale)
    stages = {"ink": _to_uint8(ink)}
    stroke_fraction = np.count_nonzero(ink >= STROKE_THRESHOLD) / ink.size
    if is_solid_colour or stroke_fraction > FULL_INK_FRACTION:
        return _blank(MESSAGE_FULL_OF_INK, stages)
    if not ink.any():
        return _blank(MESSAGE_EMPTY, stages)

    ink, bounding_box = _without_specks(ink)
    if bounding_box is None:
        return _blank(MESSAGE_EMPTY, stages)
    crop = ink[bounding_box]
    stages["crop"] = _to_uint8(crop)
    stroke_width = _stroke_width(crop >= STROKE_THRESHOLD, crop.sum())
    crop_long_side = max(crop.shape)
    picture_long_side = max(ink.shape)
    is_dot = (
        crop_long_side < MIN_DIGIT_LENGTH_IN_STROKES * stroke_width
        and crop_long_side < MAX_DOT_SIDE_RATIO * picture_long_side
    )
    if is_dot or crop_long_side < MIN_DIGIT_SIDE_RATIO * picture_long_side:
        return _blank(MESSAGE_TOO_LITTLE_INK, stages)

    if normalise_stroke:
        crop = _normalised_stroke(crop, stroke_width)
    fitted = _fit_into_box(crop, FIT_SIZE)
    # The darkest stroke becomes 255, as in MNIST, whatever the pen's opacity or the picture's contrast.
    fitted = fitted * (1.0 / fitted.max())
    stages["fit"] = _to_uint8(fitted)
    centred = _to_uint8(_centred_by_mass(fitted, MNIST_SIZE))
    stages["centred"] = centred
    return Preprocessed(image=centred, is_blank=False, message="", stages=stages)


def naive_resize(image: np.ndarray) -> np.ndarray:
    """Squeezes the whole picture's ink into 28x28, without cropping, fitting or centring.

    This is what a model would get without MNIST-style preprocessing: a small, faint digit wherever it was
    drawn. The Draw page shows it next to `preprocess` to explain why the recipe matters.

    Args:
        image: The drawing, as for `preprocess`.

    Returns:
        A (28, 28) uint8 array, white ink on black (all black for an empty canvas).

    Raises:
        ValueError: If `image` is not a picture (see `preprocess`).
    """
    pixels, full_scale = _validated_pixels(image, shrink=True)
    ink, is_solid_colour = _ink_map(pixels, full_scale)
    if is_solid_colour:
        ink = np.ones_like(ink)
    return _to_uint8(_resized(ink, MNIST_SIZE, MNIST_SIZE))


def decode_png(data: bytes, max_side: int = MAX_CANVAS_SIDE) -> np.ndarray:
    """The pixels of a PNG picture (the canvas's drawing as the browser sends it), after checking its declared
    size: a picture larger than `max_side` on a side is refused with a ValueError before it is decoded."""
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"Expected the bytes of a PNG picture, got {type(data).__name__}.")
    if len(data) > MAX_PICTURE_BYTES:
        raise ValueError(f"The picture is {len(data) / 2**20:.1f} MB; drawings up to "
                         f"{MAX_PICTURE_BYTES // 2**20} MB are read.")
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own limit; the side is checked here, well below it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # PNG only: the canvas sends nothing else, and no other decoder is reached through it.
            picture = Image.open(io.BytesIO(bytes(data)), formats=["PNG"])  # reads the header only
    except Image.DecompressionBombError:
        raise ValueError(f"The picture declares hundreds of millions of pixels; pictures up to {max_side} "
                         "pixels on a side are read.") from None
    except (OSError, SyntaxError) as error:
        raise ValueError(f"The picture cannot be read ({error}).") from None
    width, height = picture.size
    _check_side(height, width, max_side)
    try:
        return np.asarray(picture)
    except (OSError, SyntaxError) as error:
        raise ValueError(f"The picture cannot be read ({error}).") from None


def _check_side(height: int, width: int, max_side: int = MAX_PICTURE_SIDE) -> None:
    if max(height, width) > max_side:
        raise ValueError(f"The picture is {width} x {height} pixels; pictures up to {max_side} pixels "
                         "on a side are read. Draw on the canvas, or upload a smaller photo.")


def _blank(message, stages):
    return Preprocessed(image=None, is_blank=True, message=message, stages=stages)


def _validated_pixels(image, *, shrink):
    """Checks that `image` is a picture; returns it as (height, width, channels) and its full-scale value.

    The pixels keep their dtype (converting the whole RGBA canvas to float would cost more than the rest of
    the recipe) unless the picture is shrunk; `full_scale` is the value that means full intensity.
    """
    try:
        pixels = np.asarray(image)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Expected a picture as a numpy array of shape (height, width), (height, width, 3) or "
            f"(height, width, 4); could not convert {type(image).__name__} to an array: {error}"
        ) from error
    if pixels.dtype.kind not in "biuf":
        raise ValueError(
            f"Expected a picture with numeric pixels (uint8 0-255 or float in [0, 1]), got dtype "
            f"{pixels.dtype}. Convert it first, for example with `np.asarray(pil_image.convert('RGBA'))`."
        )
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    if pixels.ndim != 3:
        raise ValueError(
            f"Expected a picture of shape (height, width), (height, width, 3) or (height, width, 4), got an "
            f"array of shape {pixels.shape}. Pass one picture at a time, without a batch dimension."
        )
    height, width, channels = pixels.shape
    _check_side(height, width)  # before any work on the pixels
    if height == 0 or width == 0:
        raise ValueError(f"Expected a picture with at least one pixel, got an array of shape {pixels.shape}.")
    if not 1 <= channels <= 4:
        raise ValueError(
            f"Expected a picture with 1 (gray), 3 (RGB) or 4 (RGBA) channels in the last dimension, got "
            f"shape {pixels.shape}. Channels-first pictures must be transposed to channels-last."
        )

    if pixels.dtype.kind == "b":
        full_scale = 1.0
    elif pixels.dtype == np.uint16:
        full_scale = 65535.0
    else:
        # min and max spot NaN (they return NaN) and infinity without building a mask as big as the picture.
        lowest, highest = float(pixels.min()), float(pixels.max())
        if not (math.isfinite(lowest) and math.isfinite(highest)):
            raise ValueError(
                "The picture holds NaN or infinite values. Replace them (for example with "
                "`np.nan_to_num(image)`) before preprocessing."
            )
        if pixels.dtype.kind == "f":
            full_scale = 1.0
            if lowest < 0.0 or highest > 1.0:
                raise ValueError(
                    f"Float pictures must hold values in [0, 1], got values from {lowest:g} to {highest:g}. "
                    f"Divide a 0-255 picture by 255, or pass it as uint8."
                )
        else:
            full_scale = 255.0
            if lowest < 0 or highest > 255:
                raise ValueError(
                    f"Integer pictures must hold values from 0 to 255, got values from {lowest:g} to "
                    f"{highest:g}. Rescale the picture to 0-255 and pass it as uint8."
                )

    if shrink and max(height, width) > MAX_WORKING_SIDE:
        pixels = _shrunk(pixels, math.ceil(max(height, width) / MAX_WORKING_SIDE))
    return pixels, full_scale


def _shrunk(pixels, factor):
    """Shrinks a picture by an integer factor, averaging each factor x factor block (area resampling)."""
    height, width, channels = pixels.shape
    # A picture thinner than the factor (say 1x6000) is only shrunk along its long side.
    factor_y, factor_x = min(factor, height), min(factor, width)
    new_height, new_width = height // factor_y, width // factor_x
    blocks = pixels[: new_height * factor_y, : new_width * factor_x].reshape(
        new_height, factor_y, new_width, factor_x, channels
    )
    # Averaging one channel at a time keeps the float32 working memory to a quarter of the picture's pixels.
    shrunk = np.empty((new_height, new_width, channels), dtype=np.float32)
    for channel in range(channels):
        shrunk[:, :, channel] = blocks[..., channel].mean(axis=(1, 3), dtype=np.float32)
    return shrunk


def _ink_map(pixels, full_scale):
    """Returns (ink, is_solid_colour): ink in [0, 1], and whether an opaque RGBA picture is one colour.

    A canvas that the student has covered entirely comes back opaque and of one colour; an RGB or grayscale
    picture of one colour is read as an empty picture instead, since it is most likely a blank upload.
    "One colour" allows differences below MIN_INK_CONTRAST, such as compression noise.
    """
    height, width, channels = pixels.shape
    has_alpha = channels in (2, 4)
    colour = pixels[:, :, :-1] if has_alpha else pixels

    if has_alpha:
        alpha = pixels[:, :, -1]
        border_alpha = _border_pixels(alpha[:, :, np.newaxis])[:, 0]
        if np.median(border_alpha) < 0.5 * full_scale:
            # A transparent background (the canvas): alpha says where the pen went, whatever its colour.
            # The colour under transparent pixels is meaningless (the canvas leaves it black).
            return _scaled_to_unit(alpha.astype(np.float32), full_scale), False

    background = _dominant_border_colour(colour)
    # The Chebyshev distance (largest difference over the channels) gives 1 to a pure red stroke on black
    # just as to a white one, and it grows linearly with an anti-aliased pixel's coverage.
    distance = np.abs(colour[:, :, 0].astype(np.float32) - background[0])
    for channel in range(1, colour.shape[2]):
        np.maximum(distance, np.abs(colour[:, :, channel].astype(np.float32) - background[channel]), out=distance)
    if has_alpha:
        # A semi-transparent pixel on an opaque background shows only part of its colour.
        distance *= pixels[:, :, -1].astype(np.float32) * np.float32(1.0 / full_scale)
    contrast = float(distance.max())
    if contrast < MIN_INK_CONTRAST * full_scale:
        return np.zeros((height, width), dtype=np.float32), has_alpha
    ink = _scaled_to_unit(distance, contrast)

    # A photographed or compressed picture has noise in its background. The border shows how strong it is
    # (the digit rarely covers a tenth of the border), and ink below twice that level is taken as noise.
    noise_floor = min(MAX_NOISE_FLOOR, 2.0 * float(np.percentile(_border_pixels(ink[:, :, np.newaxis]), 90)))
    if noise_floor > 0.0:
        ink -= np.float32(noise_floor)
        np.maximum(ink, 0.0, out=ink)
        ink *= np.float32(1.0 / (1.0 - noise_floor))
    return ink, False


def _scaled_to_unit(values, full_scale):
    """Scales float32 ink so that its strongest pixel is 1; no ink at all (below the minimum contrast) is 0."""
    strongest = float(values.max())
    if strongest < MIN_INK_CONTRAST * full_scale:
        return np.zeros(values.shape, dtype=np.float32)
    values *= np.float32(1.0 / strongest)
    return values


def _border_pixels(pixels):
    """Returns the pixels along the picture's four edges as a (count, channels) array."""
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


def _dominant_border_colour(colour):
    """Returns the most common colour along the border: the background of a picture without transparency.

    Border colours are grouped into 8 levels per channel, so that noise and compression do not split the
    background into many colours; the background is the median of the biggest group.
    """
    border = _border_pixels(colour).astype(np.float64)
    lowest, highest = float(border.min()), float(border.max())
    if highest == lowest:
        return np.full(colour.shape[2], lowest, dtype=np.float32)
    levels = np.minimum((border - lowest) * (8.0 / (highest - lowest)), 7).astype(np.int64)
    codes = (levels * (8 ** np.arange(colour.shape[2]))).sum(axis=1)
    dominant_code = np.bincount(codes).argmax()
    return np.median(border[codes == dominant_code], axis=0).astype(np.float32)


def _without_specks(ink):
    """Removes stray specks far from the digit; returns the cleaned ink and the slices of its bounding box.

    The bounding box is None when no pixel holds enough ink to count. Starting from the largest blob of ink, the
    digit grows by every blob that is large or close to it; what is left (small and far away) is a speck. Pixels
    too faint to belong to any blob are dropped as well.
    """
    blobs = ink > COMPONENT_THRESHOLD
    labels, count = ndimage.label(blobs, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return ink, None
    if count == 1:
        rows, cols = np.flatnonzero(blobs.any(axis=1)), np.flatnonzero(blobs.any(axis=0))
        cleaned = np.where(blobs, ink, np.float32(0))
        return cleaned, (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))

    boxes = ndimage.find_objects(labels)

    # bounds[i] = (top, bottom, left, right) of blob i + 1, bottom and right exclusive.
    bounds = np.array([(rows.start, rows.stop, cols.start, cols.stop) for rows, cols in boxes])
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    in_digit = np.zeros(count, dtype=bool)
    in_digit[areas.argmax()] = True
    is_large = areas >= SPECK_AREA_RATIO * areas.max()
    while True:
        top, left = bounds[in_digit, 0].min(), bounds[in_digit, 2].min()
        bottom, right = bounds[in_digit, 1].max(), bounds[in_digit, 3].max()
        gap_y = np.maximum(0, np.maximum(bounds[:, 0] - bottom, top - bounds[:, 1]))
        gap_x = np.maximum(0, np.maximum(bounds[:, 2] - right, left - bounds[:, 3]))
        is_close = np.maximum(gap_y, gap_x) <= SPECK_GAP_RATIO * max(bottom - top, right - left)
        grown = in_digit | is_large | is_close
        if np.array_equal(grown, in_digit):
            break
        in_digit = grown

    keep = np.concatenate([[False], in_digit])
    cleaned = np.where(keep[labels], ink, np.float32(0))
    bounding_box = (slice(int(top), int(bottom)), slice(int(left), int(right)))
    return cleaned, bounding_box


def _stroke_width(strokes, ink_area):
    """Estimates the pen width in pixels as twice the ink's area over its perimeter.

    A stroke of length L and width w has area L*w and perimeter about 2*L. The perimeter is counted as the
    number of pixel edges between ink and background, which over-counts a slanted edge by 4/pi on average.
    """
    padded = np.pad(strokes, 1)
    edges = np.count_nonzero(padded[1:, :] != padded[:-1, :]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    if edges == 0:
        return 0.0
    return float(2.0 * ink_area / (edges * math.pi / 4.0))


def _normalised_stroke(crop, stroke_width):
    """Redraws the digit with MNIST's stroke width by growing or shrinking its strokes.

    The strokes become a signed distance field (positive inside the ink), which is shifted by half the
    difference between the wanted and the current width: growing it thickens the pen, shrinking it thins
    it, and the coverage of each pixel is anti-aliased over one pixel. The work is done on the crop resized
    to about 64 pixels (never so small that a thin stroke disappears), which is fast and fine enough for a
    20-pixel result.
    """
    long_side = max(crop.shape)
    scale = STROKE_WORKING_SIDE / long_side
    scale = max(scale, STROKE_MIN_WORKING_WIDTH / max(stroke_width, 1e-6))
    scale = min(scale, STROKE_MAX_WORKING_SIDE / long_side)
    working_height = max(1, round(crop.shape[0] * scale))
    working_width = max(1, round(crop.shape[1] * scale))
    working = _resized(crop, working_height, working_width)
    # A thin line averaged into bigger pixels gets fainter; scaling the strongest pixel to 1 keeps it a line.
    strokes = working >= STROKE_THRESHOLD * working.max()

    current_width = _stroke_width(strokes, np.count_nonzero(strokes))
    # The wanted width is a fraction of the final box, and the box itself grows or shrinks with the strokes:
    # target = ratio * (long side - current width + target).
    strokes_long_side = max(strokes.shape)
    target_width = TARGET_STROKE_RATIO * (strokes_long_side - current_width) / (1.0 - TARGET_STROKE_RATIO)
    growth = 0.5 * (target_width - current_width)

    margin = max(0, math.ceil(growth)) + 2
    strokes = np.pad(strokes, margin)
    if growth >= 0:
        # Growing: pixels inside stay ink, pixels outside get ink by their distance to the strokes.
        distance_outside = ndimage.distance_transform_edt(~strokes)
        coverage = np.clip(growth + 1.0 - distance_outside, 0.0, 1.0)
    else:
        # Shrinking: pixels outside stay empty, pixels inside keep ink by their depth in the strokes.
        distance_inside = ndimage.distance_transform_edt(strokes)
        coverage = np.clip(distance_inside + growth, 0.0, 1.0)
    coverage = coverage.astype(np.float32)

    rows = np.flatnonzero(coverage.any(axis=1))
    cols = np.flatnonzero(coverage.any(axis=0))
    if rows.size == 0:
        # Thinning never removes a stroke of the estimated width, but keep the original crop just in case.
        return crop
    return coverage[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_into_box(crop, box_size):
    """Resizes the crop so that its longer side is `box_size`, keeping its aspect ratio (a 1 stays thin)."""
    height, width = crop.shape
    scale = box_size / max(height, width)
    return _resized(crop, max(1, round(height * scale)), max(1, round(width * scale)))


def _resized(values, height, width):
    """Resizes a float32 image with anti-aliasing: area averaging when shrinking, bilinear when growing."""
    if values.shape == (height, width):
        return values
    shrinking = height <= values.shape[0] and width <= values.shape[1]
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32))
    resized = np.asarray(image.resize((width, height), resample=resample), dtype=np.float32)
    return np.clip(resized, 0.0, 1.0)


def _centred_by_mass(box, size):
    """Places the box in a size x size field so that its centre of mass lands on the centre (LeCun's recipe).

    The shift is rounded to whole pixels, as in MNIST, and limited so that no ink falls off the field.
    """
    height, width = box.shape
    total = float(box.sum())
    centre_y = float(box.sum(axis=1) @ np.arange(height)) / total
    centre_x = float(box.sum(axis=0) @ np.arange(width)) / total
    top = math.floor(CENTRE_OF_MASS_TARGET - centre_y + 0.5)
    left = math.floor(CENTRE_OF_MASS_TARGET - centre_x + 0.5)
    top = min(max(top, 0), size - height)
    left = min(max(left, 0), size - width)
    field = np.zeros((size, size), dtype=np.float32)
    field[top : top + height, left : left + width] = box
    return field


def _to_uint8(values):
    """Converts ink in [0, 1] to a uint8 image in 0-255."""
    return (values * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
