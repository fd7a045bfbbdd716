"""Tests for `core.preprocess`: canvas drawings become MNIST-style 28x28 digits.

The drawings are built by hand with Pillow's `ImageDraw` on 280x280 canvases, like the ones
streamlit-drawable-canvas returns, so every test is small, fast and deterministic.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies
from PIL import Image, ImageDraw
from scipy import ndimage

from core import preprocess

CANVAS_SIZE = 280

# Strokes of a few digits as polylines on a 280x280 canvas, roughly centred.
SEVEN = [[(80, 50), (200, 50), (120, 240)]]
FOUR = [[(170, 40), (80, 170), (210, 170)], [(170, 100), (170, 250)]]
ZERO = [[(140, 40), (90, 80), (80, 140), (95, 210), (140, 240), (185, 210), (200, 140), (190, 80), (140, 40)]]
ONE = [[(140, 40), (140, 240)]]

# Background and stroke colours of the canvas styles the app can meet.
STYLES = {
    "transparent": ("RGBA", (0, 0, 0, 0), (0, 0, 0, 255)),
    "white_on_black": ("RGB", (0, 0, 0), (255, 255, 255)),
    "black_on_white": ("RGB", (255, 255, 255), (0, 0, 0)),
    "red_on_black": ("RGB", (0, 0, 0), (255, 0, 0)),
    "light_yellow_on_black": ("RGB", (0, 0, 0), (255, 255, 160)),
    "blue_on_white": ("RGB", (255, 255, 255), (30, 60, 200)),
}


def draw_canvas(strokes, pen_width=20, style="transparent", shift=(0, 0), scale=1.0, size=CANVAS_SIZE):
    """Draws polylines with a round pen, as the canvas does, and returns the picture as a uint8 array.

    `scale` shrinks the drawing around the canvas centre and `shift` then moves it by (x, y) pixels.
    """
    mode, background, stroke_colour = STYLES[style]
    image = Image.new(mode, (size, size), background)
    drawing = ImageDraw.Draw(image)
    centre = CANVAS_SIZE / 2
    radius = pen_width / 2
    for stroke in strokes:
        points = [
            ((x - centre) * scale + centre + shift[0], (y - centre) * scale + centre + shift[1]) for x, y in stroke
        ]
        drawing.line(points, fill=stroke_colour, width=pen_width, joint="curve")
        # ImageDraw.line has square ends; round caps make it look like a pen.
        for x, y in points:
            drawing.ellipse((x - radius, y - radius, x + radius, y + radius), fill=stroke_colour)
    return np.asarray(image)


def mean_absolute_difference(first, second):
    return float(np.abs(first.astype(np.float64) - second.astype(np.float64)).mean())


def correlation(first, second):
    return float(np.corrcoef(first.ravel().astype(np.float64), second.ravel().astype(np.float64))[0, 1])


def test_output_is_an_mnist_style_uint8_image():
    result = preprocess.preprocess(draw_canvas(SEVEN))

    assert not result.is_blank
    assert result.message == ""
    assert result.image.dtype == np.uint8
    assert result.image.shape == (28, 28)
    assert result.image.max() >= 250
    # The background is exactly 0, as in MNIST: most of the field, and its corners, hold no ink at all.
    assert np.count_nonzero(result.image == 0) > 0.6 * result.image.size
    assert result.image[[0, 0, -1, -1], [0, -1, 0, -1]].max() == 0


def test_stages_are_reported_in_order():
    result = preprocess.preprocess(draw_canvas(SEVEN))

    assert list(result.stages) == ["ink", "crop", "fit", "centred"]
    assert all(stage.dtype == np.uint8 and stage.ndim == 2 for stage in result.stages.values())
    assert result.stages["ink"].shape == (CANVAS_SIZE, CANVAS_SIZE)
    assert max(result.stages["fit"].shape) == 20
    np.testing.assert_array_equal(result.stages["centred"], result.image)


def test_square_in_a_corner_is_centred_by_its_centre_of_mass():
    rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[10:90, 10:90, 3] = 255

    image = preprocess.preprocess(rgba).image

    centre_y, centre_x = ndimage.center_of_mass(image)
    assert 13.0 <= centre_y <= 14.5 and 13.0 <= centre_x <= 14.5
    rows, cols = np.nonzero(image)
    assert rows.max() - rows.min() + 1 <= 20 and cols.max() - cols.min() + 1 <= 20


def test_digit_drawn_in_a_corner_matches_the_same_digit_in_the_middle():
    middle = preprocess.preprocess(draw_canvas(SEVEN, scale=0.4)).image
    corner = preprocess.preprocess(draw_canvas(SEVEN, scale=0.4, shift=(-90, 85))).image

    assert mean_absolute_difference(middle, corner) < 2.0


def test_thin_digit_stays_thin():
    result = preprocess.preprocess(draw_canvas(ONE, pen_width=10))

    fit_height, fit_width = result.stages["fit"].shape
    assert fit_height == 20
    assert fit_width <= 6


@pytest.mark.parametrize("style", [name for name in STYLES if name != "transparent"])
def test_background_and_stroke_colours_give_the_same_digit(style):
    reference = preprocess.preprocess(draw_canvas(FOUR, style="transparent")).image

    image = preprocess.preprocess(draw_canvas(FOUR, style=style)).image

    assert mean_absolute_difference(reference, image) < 3.0


def test_grayscale_float_picture_gives_the_same_digit_as_uint8():
    gray = draw_canvas(FOUR, style="black_on_white")[:, :, 0]

    from_uint8 = preprocess.preprocess(gray).image
    from_float = preprocess.preprocess(gray.astype(np.float32) / 255.0).image

    assert mean_absolute_difference(from_uint8, from_float) < 1.0


def test_noisy_photo_gives_the_same_digit_as_a_clean_picture():
    clean = draw_canvas(SEVEN, pen_width=15, style="black_on_white")
    random = np.random.default_rng(0)
    # A grey-ish, low-contrast photo with sensor noise in every channel.
    noisy = clean.astype(np.float64) * 0.8 + 30 + random.normal(0, 12, size=clean.shape)
    photo = np.clip(noisy, 0, 255).astype(np.uint8)

    clean_result = preprocess.preprocess(clean)
    photo_result = preprocess.preprocess(photo)

    assert photo_result.stages["crop"].shape == clean_result.stages["crop"].shape
    assert mean_absolute_difference(clean_result.image, photo_result.image) < 3.0


def test_transparent_canvas_ignores_the_colour_under_transparent_pixels():
    rgba = draw_canvas(SEVEN).copy()
    rgba[rgba[:, :, 3] == 0, :3] = 255

    reference = preprocess.preprocess(draw_canvas(SEVEN)).image

    np.testing.assert_array_equal(preprocess.preprocess(rgba).image, reference)


def test_thin_and_thick_pens_give_similar_digits():
    thin = preprocess.preprocess(draw_canvas(ZERO, pen_width=5)).image
    thick = preprocess.preprocess(draw_canvas(ZERO, pen_width=30)).image

    assert correlation(thin, thick) > 0.8


def test_without_stroke_normalisation_the_pen_width_shows():
    thin = preprocess.preprocess(draw_canvas(ZERO, pen_width=5), normalise_stroke=False).image
    thick = preprocess.preprocess(draw_canvas(ZERO, pen_width=30), normalise_stroke=False).image

    assert thick.sum() > 2 * thin.sum()


def test_far_speck_does_not_change_the_crop():
    clean = draw_canvas(SEVEN, scale=0.6)
    speckled = clean.copy()
    speckled[260:263, 10:13, 3] = 255

    clean_result = preprocess.preprocess(clean)
    speckled_result = preprocess.preprocess(speckled)

    assert speckled_result.stages["crop"].shape == clean_result.stages["crop"].shape
    np.testing.assert_array_equal(speckled_result.image, clean_result.image)


def test_separate_stroke_near_the_digit_is_kept():
    # A 5 whose top bar was drawn apart from its body, with a gap.
    five = [[(110, 60), (100, 130), (150, 120), (180, 160), (170, 210), (120, 225), (95, 205)], [(125, 50), (185, 50)]]
    body_only = preprocess.preprocess(draw_canvas(five[:1], pen_width=10))

    result = preprocess.preprocess(draw_canvas(five, pen_width=10))

    assert result.stages["crop"].shape[0] > body_only.stages["crop"].shape[0]
    assert result.stages["crop"].shape[1] > body_only.stages["crop"].shape[1]


def test_empty_canvas_is_blank():
    result = preprocess.preprocess(np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8))

    assert result.is_blank
    assert result.image is None
    assert result.message == preprocess.MESSAGE_EMPTY
    assert list(result.stages) == ["ink"]


def test_plain_white_picture_is_blank():
    result = preprocess.preprocess(np.full((100, 120, 3), 255, dtype=np.uint8))

    assert result.is_blank
    assert "empty" in result.message


@pytest.mark.parametrize("pen_width", [5, 40])
def test_single_dot_is_blank(pen_width):
    dot = draw_canvas([[(150, 120)]], pen_width=pen_width)

    result = preprocess.preprocess(dot)

    assert result.is_blank
    assert result.image is None
    assert result.message == preprocess.MESSAGE_TOO_LITTLE_INK


def test_canvas_full_of_ink_is_blank():
    result = preprocess.preprocess(np.full((CANVAS_SIZE, CANVAS_SIZE, 4), 255, dtype=np.uint8))

    assert result.is_blank
    assert result.message == preprocess.MESSAGE_FULL_OF_INK


def test_canvas_almost_full_of_ink_is_blank():
    rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[4:-4, 4:-4, 3] = 255

    result = preprocess.preprocess(rgba)

    assert result.is_blank
    assert result.message == preprocess.MESSAGE_FULL_OF_INK


@pytest.mark.parametrize(
    "image, match",
    [
        (np.zeros((2, 28, 28, 4), dtype=np.uint8), "batch dimension"),
        (np.zeros(784, dtype=np.uint8), "shape"),
        (np.zeros((0, 280, 4), dtype=np.uint8), "at least one pixel"),
        (np.zeros((28, 28, 5), dtype=np.uint8), "channels"),
        (np.full((28, 28), "a"), "numeric"),
        (np.full((28, 28), None, dtype=object), "numeric"),
        (np.full((28, 28), np.nan), "NaN"),
        (np.full((28, 28), 255.0), r"\[0, 1\]"),
        (np.full((28, 28), -3, dtype=np.int64), "0 to 255"),
    ],
    ids=["batch", "flat", "empty", "five_channels", "strings", "objects", "nan", "float_0_255", "negative"],
)
def test_bad_input_raises_an_actionable_error(image, match):
    with pytest.raises(ValueError, match=match):
        preprocess.preprocess(image)


def test_huge_picture_is_shrunk_before_the_work():
    gray = np.zeros((3000, 2000), dtype=np.uint8)
    gray[600:2400, 900:1100] = 255

    result = preprocess.preprocess(gray)

    assert not result.is_blank
    assert max(result.stages["ink"].shape) <= preprocess.MAX_WORKING_SIDE


def test_ink_from_rgba_uses_alpha_on_a_transparent_canvas():
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[4:6, 2:8] = (200, 10, 10, 255)
    rgba[3, 2:8, 3] = 51

    ink = preprocess.ink_from_rgba(rgba)

    assert ink.dtype == np.float32 and ink.shape == (10, 10)
    np.testing.assert_allclose(ink[4, 2:8], 1.0)
    np.testing.assert_allclose(ink[3, 2:8], 0.2)
    assert ink[0].max() == 0.0


def test_ink_from_rgba_is_the_same_for_white_on_black_and_black_on_white():
    white_on_black = preprocess.ink_from_rgba(draw_canvas(FOUR, style="white_on_black"))
    black_on_white = preprocess.ink_from_rgba(draw_canvas(FOUR, style="black_on_white"))

    np.testing.assert_array_equal(white_on_black, black_on_white)


def test_naive_resize_keeps_the_digit_where_it_was_drawn():
    corner = draw_canvas(SEVEN, scale=0.3, shift=(-90, -90))

    image = preprocess.naive_resize(corner)

    assert image.dtype == np.uint8 and image.shape == (28, 28)
    centre_y, centre_x = ndimage.center_of_mass(image)
    assert centre_y < 8 and centre_x < 8


@strategies.composite
def arbitrary_arrays(draw):
    """Arrays of many shapes, dtypes and contents, most of them pictures and some of them not."""
    ndim = draw(strategies.sampled_from([1, 2, 3, 3, 3, 4]))
    largest_side = 600 if ndim in (2, 3) else 8
    shape = [draw(strategies.integers(0, largest_side)) for _ in range(ndim)]
    if ndim == 3:
        shape[2] = draw(strategies.sampled_from([1, 2, 3, 4, 4, 5]))
    dtype = draw(
        strategies.sampled_from([np.uint8, np.float32, np.float64, np.int64, np.int16, np.bool_, np.uint16])
    )
    content = draw(strategies.sampled_from(["zeros", "full", "noise", "rectangles", "wild"]))
    random = np.random.default_rng(draw(strategies.integers(0, 2**32 - 1)))
    full_scale = 1 if np.dtype(dtype).kind in "bf" else 255

    values = np.zeros(shape, dtype=np.float64)
    if content == "full":
        values[...] = full_scale
    elif content == "noise":
        values = random.uniform(0, full_scale, size=shape)
    elif content == "rectangles" and ndim >= 2 and values.size:
        for _ in range(random.integers(1, 5)):
            top, left = random.integers(0, shape[0]), random.integers(0, shape[1])
            height, width = random.integers(1, 200, size=2)
            values[top : top + height, left : left + width] = random.uniform(0, full_scale)
    elif content == "wild":
        values = random.normal(0, 1000, size=shape)
        values.flat[: random.integers(0, 2)] = np.nan
    with np.errstate(invalid="ignore"):
        return values.astype(dtype)


@settings(max_examples=200, deadline=None)
@given(arbitrary_arrays())
def test_any_array_gives_a_digit_a_blank_or_a_value_error(array):
    try:
        result = preprocess.preprocess(array)
    except ValueError:
        return
    if result.is_blank:
        assert result.image is None
        assert result.message
    else:
        assert result.image.shape == (28, 28)
        assert result.image.dtype == np.uint8
        assert result.message == ""
    assert all(stage.dtype == np.uint8 and stage.ndim == 2 for stage in result.stages.values())


# --- a picture's size is checked before any work -----------------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds no pixel data: tiny on disk, huge if decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_canvas_png_that_declares_a_huge_picture_is_refused_before_decoding():
    import time
    import tracemalloc

    # The review's attack: 0.7 MB of data URL decoding to a 549 MB array (12,000 x 12,000 RGBA).
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ValueError, match="12000 x 12000 pixels; pictures up to 1024"):
        preprocess.decode_png(_png_header(12_000, 12_000))
    assert time.perf_counter() - started < 0.5
    assert tracemalloc.get_traced_memory()[1] < 2 * 2**20
    tracemalloc.stop()


def test_a_canvas_png_of_the_right_size_is_decoded():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(buffer, format="PNG")
    assert preprocess.decode_png(buffer.getvalue()).shape == (280, 280, 4)


def test_the_canvas_decoder_reads_png_only():
    import io

    from PIL import Image

    # The canvas sends PNG; a JPEG or GIF in its place (a crafted message) reaches no other decoder.
    for kind in ("JPEG", "GIF"):
        buffer = io.BytesIO()
        Image.new("RGB", (280, 280)).save(buffer, format=kind)
        with pytest.raises(ValueError, match="cannot be read"):
            preprocess.decode_png(buffer.getvalue())


def test_a_huge_array_is_refused_before_any_work():
    import time

    # A view that costs no memory but would take minutes to scan.
    huge = np.broadcast_to(np.zeros((1, 1, 4), np.uint8), (100_000, 100_000, 4))
    started = time.perf_counter()
    with pytest.raises(ValueError, match="pictures up to 4096 pixels on a side"):
        preprocess.preprocess(huge)
    assert time.perf_counter() - started < 0.5


def test_a_blank_uploaded_picture_is_told_about_its_picture_not_a_canvas():
    for message in (preprocess.MESSAGE_EMPTY, preprocess.MESSAGE_TOO_LITTLE_INK, preprocess.MESSAGE_FULL_OF_INK):
        upload = preprocess.upload_message(message)
        assert upload.startswith("This picture") and "canvas" not in upload and "draw" not in upload.lower()
    assert preprocess.upload_message("something else") == "something else"
    # For a model of clothes: a piece of clothing, on the canvas and in an upload alike.
    for message in (preprocess.MESSAGE_EMPTY, preprocess.MESSAGE_TOO_LITTLE_INK, preprocess.MESSAGE_FULL_OF_INK):
        clothes = preprocess.canvas_message(message, digits=False), preprocess.upload_message(message, digits=False)
        for told in clothes:
            assert "digit" not in told and told.endswith(".")
        assert preprocess.canvas_message(message) == message
    assert "clothing" in preprocess.upload_message(preprocess.MESSAGE_EMPTY, digits=False)
    assert preprocess.canvas_message("something else", digits=False) == "something else"
