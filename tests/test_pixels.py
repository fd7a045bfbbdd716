"""Tests for core/pixels.py: the pixel table, the one-hot label and flattening, as the Datasets page shows them.

Run: python -m pytest tests/test_pixels.py -q
"""

import numpy as np
import pytest

from core import pixels


def test_pixel_table_is_the_image_itself():
    image = np.arange(28 * 28, dtype=np.int64).reshape(28, 28).astype(np.uint8)
    table = pixels.pixel_table(image)
    assert table.shape == (28, 28)
    np.testing.assert_array_equal(table, image)
    # Integers, so that 200 + 100 does not wrap around as uint8 would in a reader's experiment.
    assert table.dtype == np.int64


def test_pixel_table_of_a_colour_image_shows_the_chosen_channel():
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30
    assert (pixels.pixel_table(image, channel=1) == 20).all()
    with pytest.raises(ValueError, match="choose one with channel=0"):
        pixels.pixel_table(image)
    with pytest.raises(ValueError, match=r"\(height, width\)"):
        pixels.pixel_table(np.zeros((4, 4, 5), dtype=np.uint8))


def test_one_hot_has_a_single_one_at_the_label():
    vector = pixels.one_hot(3, 10)
    np.testing.assert_array_equal(vector, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    assert pixels.format_vector(vector) == "[0 0 0 1 0 0 0 0 0 0]"
    assert pixels.one_hot(np.int64(0), 2).tolist() == [1, 0]


def test_one_hot_refuses_a_label_outside_the_classes():
    with pytest.raises(ValueError, match="between 0 and 9, received 10"):
        pixels.one_hot(10, 10)
    with pytest.raises(ValueError, match="num_classes must be 2 or more"):
        pixels.one_hot(0, 1)


def test_flatten_lays_the_rows_end_to_end_as_keras_does():
    image = np.arange(28 * 28).reshape(28, 28).astype(np.uint16)
    flat = pixels.flatten(image)
    assert flat.shape == (784,)
    # Row 1 starts right after row 0 ends: pixel (1, 0) is number 28, just below pixel (0, 0).
    np.testing.assert_array_equal(flat[:28], image[0])
    np.testing.assert_array_equal(flat[28:56], image[1])
    colour = np.arange(32 * 32 * 3).reshape(32, 32, 3)
    flat_colour = pixels.flatten(colour)
    assert flat_colour.shape == (3072,)
    # Each pixel's red, green and blue one after the other, as keras.layers.Flatten reads channels-last images.
    np.testing.assert_array_equal(flat_colour[:6], [*colour[0, 0], *colour[0, 1]])


def test_flattened_rows_say_where_each_row_lands():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[7, 5] = 200
    assert pixels.first_ink_row(image) == 7
    assert pixels.first_ink_row(np.zeros((28, 28), dtype=np.uint8)) == 0
    rows = pixels.flattened_rows(image, first_row=7, row_count=3)
    assert [(row, start) for row, start, _ in rows] == [(7, 196), (8, 224), (9, 252)]
    assert rows[0][2][5] == 200 and len(rows[0][2]) == 28
    # Asking past the bottom gives the rows there are.
    assert [row for row, _, _ in pixels.flattened_rows(image, first_row=26, row_count=5)] == [26, 27]
    colour_rows = pixels.flattened_rows(np.zeros((32, 32, 3), dtype=np.uint8), first_row=2, row_count=1)
    assert colour_rows[0][1] == 2 * 96 and len(colour_rows[0][2]) == 96


def test_pixel_table_figure_holds_the_values_and_labels_every_cell():
    table = np.zeros((28, 28), dtype=np.int64)
    table[10, 3] = 200
    figure = pixels.pixel_table_figure(table)
    np.testing.assert_array_equal(np.array(figure.data[0].z), table)
    # Every cell gets its number, light numbers on dark cells and dark ones on light cells.
    dark_cells, light_cells = figure.data[1], figure.data[2]
    assert len(dark_cells.text) + len(light_cells.text) == 28 * 28
    assert list(light_cells.text) == ["200"] and (light_cells.x[0], light_cells.y[0]) == (3, 10)
    with pytest.raises(ValueError, match=r"\(height, width\)"):
        pixels.pixel_table_figure(np.zeros((2, 2, 3)))


def test_flattened_figure_is_one_row_of_all_the_numbers_with_rows_marked():
    image = np.arange(28 * 28).reshape(28, 28).astype(np.uint8)
    figure = pixels.flattened_figure(image)
    np.testing.assert_array_equal(figure.data[0].z[0], image.reshape(-1))
    assert figure.layout.xaxis.ticktext[:2] == ("row 0", "row 4")
    assert figure.layout.xaxis.tickvals[1] == 4 * 28
