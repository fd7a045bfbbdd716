"""The pen-drawn digits: the shipped file, its build script, the drawing on the canvas and the writer split."""

import importlib.util
import pathlib

import numpy as np
import pytest

from core import datasets, drawn_digits, pen_digits, preprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def build_script():
    spec = importlib.util.spec_from_file_location("build_pendigits", ROOT / "scripts" / "build_pendigits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The shipped file and its licence.


def test_the_file_holds_7494_digits_of_30_writers_with_their_labels():
    data = pen_digits.load()
    assert len(data) == 7494
    assert sorted(set(data.writers.tolist())) == list(range(1, 31))
    assert np.bincount(data.labels).min() >= 700
    # Every writer wrote every digit, about 25 times each.
    for writer in range(1, 31):
        assert set(data.labels[data.writers == writer].tolist()) == set(range(10))
    points = np.concatenate([stroke for strokes in data.strokes for stroke in strokes])
    assert points.min() >= 0 and points.max() <= 500
    assert pen_digits.DATA_PATH.stat().st_size < 600_000


def test_licence_and_attribution_ship_beside_the_file():
    licence = (pen_digits.DATA_PATH.parent / "LICENSE-pendigits.txt").read_text()
    assert "CC BY 4.0" in licence and "Alpaydin" in licence and "Alimoglu" in licence
    assert "UCI Machine Learning Repository" in licence


def test_build_script_parses_unipen_and_flips_y():
    text = """.SEGMENT DIGIT    0 ? "7"
.COMMENT 7 12  224
.PEN_DOWN
 10  490
 20  480
.PEN_UP
.DT 100
.PEN_DOWN
 30 300
 40 300
 50 310
.PEN_UP

.SEGMENT DIGIT    6-7 ? "1"
.COMMENT 1  3  117
.PEN_DOWN
 5  5
 5  6
.PEN_UP
"""
    arrays = build_script().parse(text)
    assert arrays["labels"].tolist() == [7, 1]
    assert arrays["writers"].tolist() == [12, 3]
    assert arrays["digit_starts"].tolist() == [0, 2, 3]
    assert arrays["stroke_starts"].tolist() == [0, 2, 5, 7]
    assert arrays["points"][:2].tolist() == [[10, 10], [20, 20]]


@pytest.mark.parametrize("text, message", [
    ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 5 1 1\n', "label 5 is not the segment's 7"),
    ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 1\n 10 10\n', "a point outside a stroke"),
    ('.SEGMENT DIGIT 0 ? "7"\n.COMMENT 7 1 1\n.PEN_DOWN\n 10 10\n', "ends inside a stroke"),
    ('.SEGMENT DIGIT 0 ? "7"\n.PEN_DOWN\n 10 10\n.PEN_UP\n', "no writer"),
])
def test_build_script_refuses_a_damaged_file(text, message):
    with pytest.raises(ValueError, match=message):
        build_script().parse(text)


# Drawing on the canvas.


def test_a_digit_is_drawn_on_a_canvas_like_the_draw_page_s_with_ink_inside():
    canvas = pen_digits.render(0, style="black", pen_width=12)
    assert canvas.shape == (drawn_digits.CANVAS_SIZE, drawn_digits.CANVAS_SIZE, 4)
    assert canvas.dtype == np.uint8
    ink = canvas[:, :, 0] > 0
    assert ink.any()
    # Nothing touches the edge, and the digit is 30-90% of the canvas tall.
    assert not ink[0].any() and not ink[-1].any() and not ink[:, 0].any() and not ink[:, -1].any()
    rows = np.flatnonzero(ink.any(axis=1))
    assert 0.3 * 280 - 12 <= rows[-1] - rows[0] <= 0.9 * 280 + 12


def test_drawings_are_seeded_and_vary_in_pen_size_place_and_style():
    first = pen_digits.render(5)
    np.testing.assert_array_equal(first, pen_digits.render(5))
    assert not np.array_equal(first, pen_digits.render(5, seed=7))
    transparent = pen_digits.render(5, style="transparent")
    assert transparent[0, 0, 3] == 0
    white = pen_digits.render(5, style="white")
    assert tuple(white[0, 0]) == (255, 255, 255, 255)
    # Thin and fat pens, small and big digits, anywhere on the canvas.
    inked, heights, centres = [], [], []
    for index in range(30):
        ink = pen_digits.render(index, style="black")[:, :, 0] > 127
        rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        inked.append(ink.sum() / max(rows[-1] - rows[0], 1))
        heights.append(rows[-1] - rows[0])
        centres.append(((rows[0] + rows[-1]) / 2, (columns[0] + columns[-1]) / 2))
    assert max(inked) > 3 * min(inked)
    assert max(heights) > 1.8 * min(heights)
    assert np.ptp(np.array(centres), axis=0).min() > 60


@pytest.mark.parametrize("kwargs, message", [
    ({"index": -1}, "index must be from 0 to 7493"),
    ({"index": 7494}, "index must be from 0 to 7493"),
    ({"index": 0, "style": "pink"}, "Unknown style 'pink'"),
    ({"index": 0, "pen_width": 2}, "pen_width must be from 5 to 40"),
])
def test_bad_requests_raise_clear_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pen_digits.render(**kwargs)


def test_shipped_images_are_the_digits_drawn_and_preprocessed_again():
    # The shipped images save a minute of drawing: they must be exactly what drawing them again gives.
    indices = np.random.default_rng(0).choice(len(pen_digits.load()), 12, replace=False)
    images, labels = pen_digits.preprocessed(indices)
    np.testing.assert_array_equal(images, pen_digits.all_images()[indices])
    np.testing.assert_array_equal(labels, pen_digits.load().labels[indices])
    canvas = pen_digits.render(int(indices[0]))
    np.testing.assert_array_equal(preprocess.preprocess(canvas).image, images[0])


# The writer split and the registry.


def test_a_fixed_third_of_the_writers_is_held_out():
    assert pen_digits.TEST_WRITERS == (3, 6, 9, 12, 15, 18, 21, 24, 27, 30)
    writers = pen_digits.load().writers
    test, train = pen_digits.test_indices(), pen_digits.train_indices()
    assert len(test) + len(train) == 7494
    assert not set(writers[test].tolist()) & set(writers[train].tolist())


def test_the_pendigits_dataset_trains_on_20_writers_and_tests_on_the_other_10():
    dataset = datasets.load("pendigits")
    info = datasets.get_info("pendigits")
    assert info.title == "Pen-drawn digits, 30 writers"
    assert info.is_digits
    assert datasets.is_available("pendigits")
    assert dataset.x_train.shape == (4996, 28, 28) and dataset.x_test.shape == (2498, 28, 28)
    images, labels = pen_digits.all_images(), pen_digits.load().labels
    np.testing.assert_array_equal(dataset.x_test, images[pen_digits.test_indices()])
    np.testing.assert_array_equal(dataset.y_train, labels[pen_digits.train_indices()])
    # The images are MNIST-style: white digits on black, centred.
    assert dataset.x_train[:, 0, :].max() == 0 and dataset.x_train.mean() > 10


def test_digits_mix_adds_the_training_writers_to_the_sample_and_tests_on_mnist():
    mix, sample, pen = datasets.load("digits_mix"), datasets.load("mnist_sample"), datasets.load("pendigits")
    np.testing.assert_array_equal(mix.x_train, np.concatenate([sample.x_train, pen.x_train]))
    np.testing.assert_array_equal(mix.y_train, np.concatenate([sample.y_train, pen.y_train]))
    np.testing.assert_array_equal(mix.x_test, sample.x_test)
    assert "pendigits" in datasets.local_paths_hint("digits_mix")


def test_a_missing_file_says_how_to_rebuild_it(monkeypatch, tmp_path):
    monkeypatch.setattr(pen_digits, "DATA_PATH", tmp_path / "pendigits.npz")
    pen_digits.load.cache_clear()
    try:
        with pytest.raises(pen_digits.PenDigitsUnavailable, match="scripts/build_pendigits.py"):
            pen_digits.load()
    finally:
        pen_digits.load.cache_clear()
