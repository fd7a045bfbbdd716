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
