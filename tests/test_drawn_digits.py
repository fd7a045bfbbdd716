"""Tests for `core.drawn_digits`: the drawn-digit test set that models are scored on.

Canvases are rendered small (64 or 96 pixels) where the size does not matter, so the whole file runs in a few
seconds; the checks that go through `core.preprocess` use the app's 280x280 canvas.
"""

import numpy as np
import pytest

from core import drawn_digits

SMALL = 64


@pytest.fixture(scope="module")
def preprocessed_drawings():
    """A hundred and fifty 280x280 drawings through the preprocessor, shared by the tests below (about 1.5 s)."""
    from core import preprocess

    return [(preprocess.preprocess(canvas), label) for canvas, label in drawn_digits.iter_test_set(150, seed=7)]


def _ink(canvas):
    """The ink of a canvas of any of the three styles, as 0-255 floats."""
    if canvas[0, 0, 3] == 0:
        return canvas[:, :, 3].astype(float)
    if canvas[0, 0, 0] == 0:
        return canvas[:, :, 0].astype(float)
    return 255.0 - canvas[:, :, 0]


def _stroke_width(canvas):
    """The pen width in pixels: twice the ink's area over its perimeter (a stroke of length L is L*w by 2L)."""
    strokes = _ink(canvas) >= 128
    padded = np.pad(strokes, 1)
    edges = np.count_nonzero(padded[1:] != padded[:-1]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    return 2.0 * strokes.sum() / (edges * np.pi / 4.0)


def test_render_digit_returns_an_rgba_canvas():
    canvas = drawn_digits.render_digit(3, np.random.default_rng(0))
    assert canvas.shape == (280, 280, 4)
    assert canvas.dtype == np.uint8
    assert _ink(canvas).max() == 255


def test_render_digit_follows_the_size():
    canvas = drawn_digits.render_digit(3, np.random.default_rng(0), size=SMALL)
    assert canvas.shape == (SMALL, SMALL, 4)


def test_the_same_generator_state_gives_the_same_drawing():
    first = drawn_digits.render_digit(8, np.random.default_rng(5), size=SMALL)
    again = drawn_digits.render_digit(8, np.random.default_rng(5), size=SMALL)
    other = drawn_digits.render_digit(8, np.random.default_rng(6), size=SMALL)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_make_test_set_is_reproducible_and_depends_on_the_seed():
    canvases, labels = drawn_digits.make_test_set(12, seed=3, size=SMALL)
    again, again_labels = drawn_digits.make_test_set(12, seed=3, size=SMALL)
    other, _ = drawn_digits.make_test_set(12, seed=4, size=SMALL)
    np.testing.assert_array_equal(canvases, again)
    np.testing.assert_array_equal(labels, again_labels)
    assert not np.array_equal(canvases, other)


def test_make_test_set_shapes_and_dtypes():
    canvases, labels = drawn_digits.make_test_set(5, size=SMALL)
    assert canvases.shape == (5, SMALL, SMALL, 4)
    assert canvases.dtype == np.uint8
    assert labels.shape == (5,)
    assert labels.dtype == np.int64


@pytest.mark.parametrize("count", [10, 30, 47])
def test_labels_are_balanced(count):
    _, labels = drawn_digits.make_test_set(count, size=32)
    per_digit = np.bincount(labels, minlength=10)
    assert per_digit.max() - per_digit.min() <= 1
    assert per_digit.sum() == count


def test_iter_test_set_yields_the_same_drawings_as_make_test_set():
    canvases, labels = drawn_digits.make_test_set(6, seed=11, size=SMALL)
    pairs = list(drawn_digits.iter_test_set(6, seed=11, size=SMALL))
    assert [label for _, label in pairs] == labels.tolist()
    for (canvas, _), expected in zip(pairs, canvases):
        np.testing.assert_array_equal(canvas, expected)


def test_a_smaller_set_is_the_start_of_a_bigger_one():
    small, small_labels = drawn_digits.make_test_set(7, size=SMALL)
    big, big_labels = drawn_digits.make_test_set(15, size=SMALL)
    np.testing.assert_array_equal(small, big[:7])
    np.testing.assert_array_equal(small_labels, big_labels[:7])


def test_the_set_leaves_the_global_random_state_alone():
    before = np.random.get_state()[1].copy()
    drawn_digits.make_test_set(3, size=32)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_all_three_styles_occur():
    styles = set()
    for canvas, _ in drawn_digits.iter_test_set(30, size=SMALL):
        if canvas[0, 0, 3] == 0:
            styles.add("transparent")
        elif canvas[0, 0, 0] == 0:
            styles.add("black")
        else:
            styles.add("white")
    assert styles == set(drawn_digits.STYLES)


def test_black_style_is_a_white_stroke_on_opaque_black():
    canvas = drawn_digits.render_digit(7, np.random.default_rng(1), size=SMALL, style="black")
    assert (canvas[:, :, 3] == 255).all()
    assert (canvas[:, :, 0] == canvas[:, :, 1]).all() and (canvas[:, :, 1] == canvas[:, :, 2]).all()
    assert canvas[0, 0, 0] == 0 and canvas[:, :, 0].max() == 255


def test_white_style_is_a_black_stroke_on_opaque_white():
    canvas = drawn_digits.render_digit(7, np.random.default_rng(1), size=SMALL, style="white")
    assert (canvas[:, :, 3] == 255).all()
    assert canvas[0, 0, 0] == 255 and canvas[:, :, 0].min() == 0


def test_transparent_style_has_no_colour_and_no_alpha_off_the_strokes():
    for seed in range(6):
        canvas = drawn_digits.render_digit(7, np.random.default_rng(seed), size=SMALL, style="transparent")
        off_strokes = canvas[:, :, 3] == 0
        assert off_strokes.any() and (~off_strokes).any()
        assert (canvas[off_strokes, :3] == 0).all()
        assert canvas[:, :, 3].max() == 255


def test_transparent_strokes_come_in_white_and_in_colours():
    colours = set()
    for seed in range(20):
        canvas = drawn_digits.render_digit(1, np.random.default_rng(seed), size=32, style="transparent")
        colours.add(tuple(canvas[canvas[:, :, 3] == 255][0, :3]))
    assert (255, 255, 255) in colours
    assert len(colours) >= 3


def test_the_style_changes_only_the_colours():
    inks = [_ink(drawn_digits.render_digit(5, np.random.default_rng(3), size=SMALL, style=style))
            for style in drawn_digits.STYLES]
    for ink in inks[1:]:
        np.testing.assert_array_equal(ink, inks[0])


def test_the_ink_stays_inside_the_canvas():
    for canvas, _ in drawn_digits.iter_test_set(40, seed=5, size=96):
        ink = _ink(canvas)
        assert not (ink[0].any() or ink[-1].any() or ink[:, 0].any() or ink[:, -1].any())


def test_pen_width_sets_the_stroke_width():
    thin = drawn_digits.render_digit(0, np.random.default_rng(2), style="black", pen_width=5)
    thick = drawn_digits.render_digit(0, np.random.default_rng(2), style="black", pen_width=40)
    assert 3 <= _stroke_width(thin) <= 8
    assert 32 <= _stroke_width(thick) <= 48


def test_random_pen_widths_span_the_slider():
    widths = [_stroke_width(drawn_digits.render_digit(1, np.random.default_rng(seed), style="black"))
              for seed in range(40)]
    assert min(widths) < 10
    assert max(widths) > 30


def test_digit_sizes_span_the_canvas():
    heights = []
    for canvas, _ in drawn_digits.iter_test_set(60, seed=9, size=96):
        rows = np.flatnonzero(_ink(canvas).max(axis=1) > 0)
        heights.append((rows[-1] - rows[0] + 1) / 96)
    assert min(heights) < 0.5
    assert max(heights) > 0.85


def test_every_template_draws_strokes_in_the_unit_box():
    for digit, variants in drawn_digits.TEMPLATES.items():
        assert 2 <= len(variants) <= 5
        assert len(drawn_digits.VARIANT_WEIGHTS[digit]) == len(variants)
        assert sum(drawn_digits.VARIANT_WEIGHTS[digit]) == pytest.approx(1.0)
        for variant in range(len(variants)):
            for stroke in drawn_digits.template_strokes(digit, variant):
                assert stroke.ndim == 2 and stroke.shape[1] == 2 and len(stroke) >= 2
                assert stroke.min() > -0.1 and stroke.max() < 1.1


def test_preprocessing_never_finds_a_generated_digit_blank(preprocessed_drawings):
    for result, label in preprocessed_drawings:
        assert not result.is_blank, f"a drawn {label} was read as blank: {result.message}"


def test_make_preprocessed_test_set_gives_what_the_preprocessor_makes(preprocessed_drawings):
    images, labels = drawn_digits.make_preprocessed_test_set(12, seed=7)
    assert images.shape == (12, 28, 28)
    assert images.dtype == np.uint8
    assert labels.dtype == np.int64
    for image, label, (result, expected_label) in zip(images, labels, preprocessed_drawings):
        np.testing.assert_array_equal(image, result.image)
        assert label == expected_label


def test_the_digits_differ_from_each_other(preprocessed_drawings):
    images = np.stack([result.image for result, _ in preprocessed_drawings]).reshape(150, -1) / 255.0
    labels = np.array([label for _, label in preprocessed_drawings])
    # The mean image of each digit over the first hundred drawings (ten of each) is unlike the others...
    means = np.stack([images[:100][labels[:100] == digit].mean(axis=0) for digit in range(10)])
    distances = np.linalg.norm(means[:, None] - means[None], axis=2)
    assert distances[~np.eye(10, dtype=bool)].min() > 2.0
    # ...and the nearest mean reads most of the other fifty drawings, far more than the 10% of guessing.
    nearest = np.linalg.norm(images[100:, None] - means[None], axis=2).argmin(axis=1)
    assert (nearest == labels[100:]).mean() > 0.6


@pytest.mark.parametrize("digit", [-1, 10, 2.0, True, "3"])
def test_a_bad_digit_raises(digit):
    with pytest.raises(ValueError, match="digit must be an integer from 0 to 9"):
        drawn_digits.render_digit(digit, np.random.default_rng(0), size=32)


def test_a_bad_style_raises():
    with pytest.raises(ValueError, match="Unknown style 'grey'"):
        drawn_digits.render_digit(1, np.random.default_rng(0), size=32, style="grey")


@pytest.mark.parametrize("pen_width", [4, 41])
def test_a_pen_outside_the_slider_raises(pen_width):
    with pytest.raises(ValueError, match="pen_width must be from 5 to 40"):
        drawn_digits.render_digit(1, np.random.default_rng(0), size=32, pen_width=pen_width)


def test_a_bad_variant_raises():
    with pytest.raises(ValueError, match="Digit 1 has variants 0 to 3"):
        drawn_digits.template_strokes(1, 4)


def variant_of(digit, name):
    return [template.__name__ for template in drawn_digits.TEMPLATES[digit]].index(name)


def test_the_styles_people_write_in_are_templates():
    # The styles that models trained on MNIST misread (issue 16): each has its own template, drawn often enough.
    styles = {1: "_one_long_flag_and_base", 4: "_four_open_curved", 6: "_six_open_loop", 7: "_seven_hooked_foot",
              9: "_nine_curled"}
    for digit, name in styles.items():
        assert drawn_digits.VARIANT_WEIGHTS[digit][variant_of(digit, name)] >= 0.1
    assert drawn_digits.VARIANT_WEIGHTS[7][variant_of(7, "_seven_crossed_hook")] >= 0.1
    assert drawn_digits.VARIANT_WEIGHTS[9][variant_of(9, "_nine_open_loop")] >= 0.1


def test_the_continental_seven_has_a_hook_and_a_crossbar_through_its_stem():
    first, bar = drawn_digits.template_strokes(7, variant_of(7, "_seven_crossed_hook"))
    assert first[0, 1] > first[:, 1].min() + 0.15       # starts well below the top bar: the hook
    stem = first[first[:, 1] > 0.1]
    stem_x = np.interp(bar[:, 1].mean(), stem[:, 1], stem[:, 0])
    assert bar[:, 0].min() < stem_x - 0.1 and bar[:, 0].max() > stem_x + 0.1


def test_the_hooked_seven_ends_in_a_foot_to_the_right_and_the_flagged_one_has_a_long_flag_and_base():
    (seven,) = drawn_digits.template_strokes(7, variant_of(7, "_seven_hooked_foot"))
    lowest = seven[:, 1].argmax()
    assert seven[-1, 0] > seven[lowest, 0] + 0.1
    flag_and_stem, base = drawn_digits.template_strokes(1, variant_of(1, "_one_long_flag_and_base"))
    assert flag_and_stem[0, 1] > 0.3 and flag_and_stem[:, 1].argmin() > 0     # the flag goes up to the stem's top
    assert np.ptp(base[:, 0]) > 0.5


def test_open_loops_stay_open_and_the_curled_nine_curls_back():
    (six,) = drawn_digits.template_strokes(6, variant_of(6, "_six_open_loop"))
    lower_stem = six[(six[:, 1] > 0.55) & (six[:, 0] < 0.3)]
    assert np.hypot(*(six[-1] - lower_stem[0])) > 0.2
    (nine,) = drawn_digits.template_strokes(9, variant_of(9, "_nine_open_loop"))
    loop_end = np.flatnonzero(nine[:, 1] < 0.3).max()
    assert np.hypot(*(nine[0] - nine[loop_end])) > 0.1
    (curled,) = drawn_digits.template_strokes(9, variant_of(9, "_nine_curled"))
    assert curled[-1, 0] < 0.3 and curled[-1, 1] > 0.7
    assert curled[-1, 1] < curled[:, 1].max() - 0.1        # it turns back up
