"""Tests for core/gallery.py: picking images (seeded), counting classes, enlarging without blending pixels.

Run: python -m pytest tests/test_gallery.py -q
"""

import numpy as np
import pytest

from core import gallery


def test_random_indices_are_distinct_and_repeat_with_the_same_seed():
    first = gallery.random_indices(100, 32, seed=3)
    assert len(first) == 32
    assert len(set(first.tolist())) == 32
    assert first.min() >= 0 and first.max() < 100
    np.testing.assert_array_equal(first, gallery.random_indices(100, 32, seed=3))
    assert not np.array_equal(first, gallery.random_indices(100, 32, seed=4))


def test_random_indices_give_everything_when_asked_for_more_than_there_is():
    indices = gallery.random_indices(5, 32, seed=0)
    assert sorted(indices.tolist()) == [0, 1, 2, 3, 4]


def test_random_indices_refuse_a_negative_count():
    with pytest.raises(ValueError, match="count must be zero or more"):
        gallery.random_indices(10, -1, seed=0)


def test_class_indices_pick_only_images_of_that_class():
    labels = np.array([0, 1, 2, 1, 1, 0, 2, 1, 1, 2])
    indices = gallery.class_indices(labels, class_index=1, count=3, seed=0)
    assert len(indices) == 3
    assert (labels[indices] == 1).all()
    assert len(set(indices.tolist())) == 3


def test_class_indices_return_the_whole_class_when_it_is_small():
    labels = np.array([0, 1, 2, 1, 1, 0, 2, 1, 1, 2])
    indices = gallery.class_indices(labels, class_index=0, count=10, seed=0)
    assert sorted(indices.tolist()) == [0, 5]
    assert len(gallery.class_indices(labels, class_index=7, count=10, seed=0)) == 0


def test_class_counts_count_every_class_including_empty_ones():
    counts = gallery.class_counts(np.array([0, 2, 2, 2]), num_classes=4)
    np.testing.assert_array_equal(counts, [1, 0, 3, 0])


def test_class_counts_refuse_labels_outside_the_classes():
    with pytest.raises(ValueError, match="Labels must lie between 0 and 2"):
        gallery.class_counts(np.array([0, 3]), num_classes=3)


def test_enlarge_repeats_each_pixel_into_a_square_block():
    images = np.array([[[0, 255], [128, 7]]], dtype=np.uint8)
    enlarged = gallery.enlarge(images, minimum_side=6)
    assert enlarged.shape == (1, 6, 6)
    assert enlarged.dtype == np.uint8
    # Every 3x3 block holds one original pixel, unblended.
    np.testing.assert_array_equal(enlarged[0, :3, :3], 0)
    np.testing.assert_array_equal(enlarged[0, :3, 3:], 255)
    np.testing.assert_array_equal(enlarged[0, 3:, :3], 128)
    np.testing.assert_array_equal(enlarged[0, 3:, 3:], 7)


def test_enlarge_uses_a_whole_factor_for_digits_and_colour_photos():
    digits = np.zeros((2, 28, 28), dtype=np.uint8)
    photos = np.zeros((3, 32, 32, 3), dtype=np.uint8)
    assert gallery.enlarge(digits).shape == (2, 112, 112)
    assert gallery.enlarge(photos).shape == (3, 128, 128, 3)


def test_enlarge_refuses_a_single_image_and_says_how_to_pass_it():
    with pytest.raises(ValueError, match=r"images\[None\]"):
        gallery.enlarge(np.zeros((28, 28), dtype=np.uint8))


# Grids of feature maps and filters (the Inside page).


def test_normalise_maps_stretches_each_map_to_its_own_range():
    maps = np.zeros((2, 2, 2), dtype=np.float32)
    maps[0] = [[0.0, 1.0], [2.0, 4.0]]
    maps[1] = [[0.0, 0.0], [0.0, 0.5]]
    normalised = gallery.normalise_maps(maps)
    assert normalised.dtype == np.uint8
    np.testing.assert_array_equal(normalised[0], [[0, 64], [128, 255]])
    # A weak map still shows its shape when each map gets its own range ...
    np.testing.assert_array_equal(normalised[1], [[0, 0], [0, 255]])
    # ... and looks weak beside the strong one when the layer shares one range.
    np.testing.assert_array_equal(gallery.normalise_maps(maps, per="layer")[1], [[0, 0], [0, 32]])


def test_normalise_maps_leaves_a_flat_map_black_instead_of_dividing_by_zero():
    normalised = gallery.normalise_maps(np.full((1, 3, 3), 7.0))
    np.testing.assert_array_equal(normalised, 0)


def test_normalise_maps_refuses_a_single_map_and_an_unknown_mode():
    with pytest.raises(ValueError, match=r"\(N, height, width\)"):
        gallery.normalise_maps(np.zeros((3, 3)))
    with pytest.raises(ValueError, match='"map" or "layer"'):
        gallery.normalise_maps(np.zeros((1, 3, 3)), per="image")


def test_tile_lays_images_out_in_rows_with_gaps():
    images = np.stack([np.full((2, 3), value, dtype=np.uint8) for value in (10, 20, 30)])
    grid = gallery.tile(images, columns=2, gap=1, gap_value=255)
    # Two rows of two 2x3 images, one pixel between them; the fourth place stays gap-coloured.
    assert grid.shape == (2 * 2 + 1, 2 * 3 + 1)
    np.testing.assert_array_equal(grid[:2, :3], 10)
    np.testing.assert_array_equal(grid[:2, 4:], 20)
    np.testing.assert_array_equal(grid[3:, :3], 30)
    np.testing.assert_array_equal(grid[3:, 4:], 255)
    np.testing.assert_array_equal(grid[2, :], 255)
    np.testing.assert_array_equal(grid[:, 3], 255)


def test_tile_keeps_colour_channels_and_never_makes_more_columns_than_images():
    images = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    assert gallery.tile(images, columns=8, gap=2).shape == (4, 10, 3)
    with pytest.raises(ValueError, match="non-empty batch"):
        gallery.tile(np.zeros((0, 4, 4), dtype=np.uint8), columns=8)


def test_feature_map_grid_shows_the_chosen_maps_coloured_and_enlarged():
    activations = np.zeros((7, 7, 5), dtype=np.float32)
    activations[3, 3, 4] = 1.0
    grid = gallery.feature_map_grid(activations, channels=[4, 0], columns=2, minimum_side=14, gap=2)
    # Two 7x7 maps enlarged twice (14x14), side by side with a 2-pixel white gap, in colour.
    assert grid.shape == (14, 30, 3)
    assert grid.dtype == np.uint8
    # Map 4 comes first: its one active pixel is the brightest colour of the scale, the rest the darkest.
    np.testing.assert_array_equal(grid[6, 6], gallery.VIRIDIS[255])
    np.testing.assert_array_equal(grid[0, 0], gallery.VIRIDIS[0])
    np.testing.assert_array_equal(grid[:, 14:16], 255)
    # Map 0 found nothing: all the darkest colour.
    assert (grid[:, 16:] == gallery.VIRIDIS[0]).all()


def test_filter_grid_shows_gray_and_colour_filters_as_rgb_squares():
    gray = gallery.filter_grid(np.zeros((3, 3, 3), dtype=np.uint8), columns=3, minimum_side=9, gap=1)
    assert gray.shape == (9, 29, 3)
    colour = gallery.filter_grid(np.zeros((4, 3, 3, 3), dtype=np.uint8), columns=2, minimum_side=3, gap=1)
    assert colour.shape == (7, 7, 3)
    # The gaps are a colour no gray weight has (a light gray melted into light weights); the last row's empty
    # places are the page's white.
    assert (gray[:, 9] == gallery.FILTER_GAP_COLOUR).all() and len(set(gallery.FILTER_GAP_COLOUR.tolist())) > 1
    white = gallery.filter_grid(np.zeros((4, 3, 3), dtype=np.uint8), columns=3, minimum_side=3, gap=1)
    assert white.shape == (7, 11, 3)
    assert (white[3:, 4:] == 255).all() and (white[4:, :3] == 0).all()
    assert (white[:3, 3] == gallery.FILTER_GAP_COLOUR).all()


def test_colourise_maps_gray_levels_through_the_palette():
    coloured = gallery.colourise(np.array([[0, 255]], dtype=np.uint8))
    assert coloured.shape == (1, 2, 3)
    np.testing.assert_array_equal(coloured[0, 0], [68, 1, 84])
    np.testing.assert_array_equal(coloured[0, 1], [253, 231, 37])
    with pytest.raises(ValueError, match="uint8"):
        gallery.colourise(np.zeros((2, 2)))
