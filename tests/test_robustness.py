"""Tests of core.robustness: moving, turning, resizing and thickening a 28x28 digit for the robustness sliders."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies
from PIL import Image, ImageDraw

from core import datasets, preprocess, robustness


@pytest.fixture(scope="module")
def digits():
    """Eight real digits from the offline sample (white on black, centred by mass) with a 4-pixel margin."""
    images = datasets.load("mnist_sample").x_test
    inked_rows = images.any(axis=2)
    inked_columns = images.any(axis=1)
    margin = ~inked_rows[:, :4].any(axis=1) & ~inked_rows[:, 24:].any(axis=1) & \
        ~inked_columns[:, :4].any(axis=1) & ~inked_columns[:, 24:].any(axis=1)
    return images[np.flatnonzero(margin)[::37][:8]]


def bar(horizontal=True):
    """A 28x28 picture of one bar, 14 pixels long and 2 wide, through the middle."""
    image = np.zeros((28, 28), dtype=np.uint8)
    if horizontal:
        image[13:15, 7:21] = 255
    else:
        image[7:21, 13:15] = 255
    return image


def ink_extent(image, threshold=64):
    """(rows, columns) spanned by the pixels holding at least `threshold` ink."""
    rows, columns = np.nonzero(image >= threshold)
    return rows.max() - rows.min() + 1, columns.max() - columns.min() + 1


def test_the_default_transform_changes_nothing(digits):
    for digit in digits:
        result = robustness.apply(digit, robustness.Transform())
        np.testing.assert_array_equal(result, digit)
        # A copy: bending it later must not change the drawing the page keeps.
        assert result is not digit


def test_no_turn_size_one_and_no_thickening_is_the_identity(digits):
    transform = robustness.Transform(shift_x=0, shift_y=0, rotation=0, scale=1.0, thickness=0.0)
    assert transform.is_identity
    np.testing.assert_array_equal(robustness.apply(digits[0], transform), digits[0])


@pytest.mark.parametrize("shift_x, shift_y", [(3, 0), (0, -3), (-2, 3), (1, 1)])
def test_a_shift_moves_the_centre_of_mass_by_the_shift(digits, shift_x, shift_y):
    # Only digits with room to move: ink that leaves the image would move the centre of mass less.
    rows, columns = np.nonzero(digits.max(axis=0))
    assert rows.min() >= 4 and columns.min() >= 4 and rows.max() <= 23 and columns.max() <= 23
    for digit in digits:
        row, column = robustness.centre_of_mass(digit)
        moved = robustness.apply(digit, robustness.Transform(shift_x=shift_x, shift_y=shift_y))
        moved_row, moved_column = robustness.centre_of_mass(moved)
        # No ink is lost, so the shift is exact: the same pixels in new places.
        assert moved_column - column == pytest.approx(shift_x, abs=1e-9)
        assert moved_row - row == pytest.approx(shift_y, abs=1e-9)
        assert int(moved.sum()) == int(digit.sum())


def test_a_shift_past_the_border_loses_the_ink_that_leaves():
    image = bar(horizontal=True)
    moved = robustness.apply(image, robustness.Transform(shift_x=8))
    assert moved[:, 20:].sum() > 0
    assert moved.sum() < image.sum()


def test_a_quarter_turn_makes_a_lying_bar_stand_up():
    turned = robustness.apply(bar(horizontal=True), robustness.Transform(rotation=90))
    rows, columns = ink_extent(turned)
    assert rows >= 13 and columns <= 3


def test_turning_and_resizing_keep_the_centre_of_mass(digits):
    for transform in (robustness.Transform(rotation=35), robustness.Transform(rotation=-120),
                      robustness.Transform(scale=0.6), robustness.Transform(scale=1.3)):
        for digit in digits:
            before = np.array(robustness.centre_of_mass(digit))
            after = np.array(robustness.centre_of_mass(robustness.apply(digit, transform)))
            assert np.abs(after - before).max() < 0.6, transform


def test_the_size_slider_resizes_the_digit(digits):
    for digit in digits:
        rows, columns = ink_extent(digit)
        small_rows, small_columns = ink_extent(robustness.apply(digit, robustness.Transform(scale=0.5)))
        assert abs(small_rows - rows / 2) <= 2 and abs(small_columns - columns / 2) <= 2


def test_thickening_adds_ink_and_thinning_removes_it(digits):
    for digit in digits:
        ink = [int(robustness.apply(digit, robustness.Transform(thickness=value)).sum())
               for value in (-1.0, -0.5, 0.0, 0.5, 1.0, 2.0)]
        assert ink == sorted(ink) and len(set(ink)) == len(ink)
        # A thinner pen still draws at full strength.
        assert robustness.apply(digit, robustness.Transform(thickness=-1.0)).max() == digit.max()


def test_thickening_a_bar_widens_it_by_about_twice_the_thickness():
    thick = robustness.apply(bar(horizontal=True), robustness.Transform(thickness=2.0))
    rows, _ = ink_extent(thick, threshold=128)
    assert 5 <= rows <= 7  # 2 pixels wide, plus 2 on each side


@settings(max_examples=40, deadline=None)
@given(
    shift_x=strategies.integers(-robustness.MAX_SHIFT, robustness.MAX_SHIFT),
    shift_y=strategies.integers(-robustness.MAX_SHIFT, robustness.MAX_SHIFT),
    rotation=strategies.floats(-robustness.MAX_ROTATION, robustness.MAX_ROTATION),
    scale=strategies.floats(robustness.MIN_SCALE, robustness.MAX_SCALE),
    thickness=strategies.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.5, 2.0]),
    seed=strategies.integers(0, 2**16),
)
def test_the_output_is_always_a_28x28_uint8_image(shift_x, shift_y, rotation, scale, thickness, seed):
    image = np.random.default_rng(seed).integers(0, 256, size=(28, 28), dtype=np.uint8)
    transform = robustness.Transform(shift_x, shift_y, rotation, scale, thickness)
    result = robustness.apply(image, transform)
    assert result.shape == (28, 28) and result.dtype == np.uint8


def test_an_empty_image_stays_empty():
    empty = np.zeros((28, 28), dtype=np.uint8)
    result = robustness.apply(empty, robustness.Transform(shift_x=3, rotation=40, scale=1.5, thickness=2.0))
    assert result.shape == (28, 28) and not result.any()


def test_the_transform_is_described_in_words():
    assert robustness.Transform().describe() == "as drawn"
    assert robustness.Transform(shift_x=4, shift_y=-2).describe() == "moved 4 px right and 2 px up"
    assert robustness.Transform(rotation=-15).describe() == "turned 15° right"
    assert robustness.Transform(scale=1.25, thickness=-0.5).describe() == "1.25× the size, strokes 0.5 px thinner"


@pytest.mark.parametrize("arguments, message", [
    ({"shift_x": 9}, "shift_x must be between -8 and 8"),
    ({"shift_y": 1.5}, "shift_y must be a whole number"),
    ({"rotation": 181}, "rotation must be between -180 and 180"),
    ({"scale": 0.2}, "scale must be between 0.5 and 1.5"),
    ({"scale": float("nan")}, "scale must be between"),
    ({"thickness": 3}, "thickness must be between -1 and 2"),
    ({"rotation": "a lot"}, "rotation must be a number"),
])
def test_out_of_range_settings_are_refused_with_the_range(arguments, message):
    with pytest.raises(ValueError, match=message):
        robustness.Transform(**arguments)


def test_anything_but_the_model_input_is_refused():
    with pytest.raises(ValueError, match=r"\(28, 28\) uint8 image.*\(280, 280, 4\)"):
        robustness.apply(np.zeros((280, 280, 4), dtype=np.uint8), robustness.Transform())
    with pytest.raises(ValueError, match="dtype float32"):
        robustness.apply(np.zeros((28, 28), dtype=np.float32), robustness.Transform())
    with pytest.raises(ValueError, match="robustness.Transform"):
        robustness.apply(np.zeros((28, 28), dtype=np.uint8), {"shift_x": 2})


def _canvas_with_a_small_one_in_a_corner():
    picture = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(picture).line([(40, 20), (40, 100)], fill=(255, 255, 255, 255), width=14)
    return np.asarray(picture)


def test_the_model_input_is_the_prepared_digit_or_the_naive_squeeze():
    picture = _canvas_with_a_small_one_in_a_corner()
    prepared = preprocess.preprocess(picture).image

    image, words = robustness.model_input(prepared, picture)
    np.testing.assert_array_equal(image, prepared)
    assert words == "as drawn"

    image, words = robustness.model_input(prepared, picture, naive=True)
    np.testing.assert_array_equal(image, preprocess.naive_resize(picture))
    assert words == "squeezed without the recipe"
    # The naive squeeze leaves the digit small and in its corner: its centre is far from the middle.
    row, column = robustness.centre_of_mass(image)
    assert row < 8 and column < 8

    image, words = robustness.model_input(prepared, picture, robustness.Transform(shift_x=2), naive=True)
    np.testing.assert_array_equal(image, robustness.apply(preprocess.naive_resize(picture),
                                                          robustness.Transform(shift_x=2)))
    assert words == "squeezed without the recipe, moved 2 px right"


def test_the_naive_squeeze_needs_the_picture():
    with pytest.raises(ValueError, match="pass the picture"):
        robustness.model_input(np.zeros((28, 28), dtype=np.uint8), None, naive=True)
