"""Tests for core.replay: the per-epoch answers on a fixed set of test images."""

import numpy as np
import pytest

from core import replay, runs


def _replay(epochs=3, count=6, classes=3):
    rng = np.random.default_rng(0)
    labels = np.arange(count) % classes
    probabilities = rng.random((epochs, count, classes)).astype(np.float16)
    images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    return images, labels, probabilities


def test_confusion_counts_every_image_once_per_epoch():
    images, labels, probabilities = _replay()
    recorded = replay.Replay(images, labels, probabilities)
    for epoch in range(1, recorded.epochs + 1):
        matrix = recorded.confusion(epoch)
        assert matrix.sum() == len(labels)
        assert np.trace(matrix) == (recorded.predictions(epoch) == labels).sum()
        assert recorded.accuracy(epoch) == pytest.approx(np.trace(matrix) / len(labels))


def test_epochs_are_counted_from_one():
    recorded = replay.Replay(*_replay(epochs=2))
    with pytest.raises(ValueError, match="between 1 and 2"):
        recorded.predictions(0)


def test_pick_images_is_class_balanced_and_repeatable():
    labels = np.repeat(np.arange(10), 50)
    chosen = replay.pick_images(labels, count=100, seed=3)
    assert np.bincount(labels[chosen]).tolist() == [10] * 10
    assert np.array_equal(chosen, replay.pick_images(labels, count=100, seed=3))


def test_saved_replay_loads_back_and_a_run_without_one_gives_none(tmp_path):
    store = runs.RunStore(tmp_path)
    run = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={})
    assert replay.load_replay(store, run.id) is None
    images, labels, probabilities = _replay()
    replay.save_replay(store, run.id, images, labels, list(probabilities))
    loaded = replay.load_replay(store, run.id)
    assert np.array_equal(loaded.images, images) and loaded.epochs == 3
    assert np.array_equal(loaded.predictions(3), probabilities[2].astype(np.float32).argmax(axis=1))


def test_mismatched_shapes_are_refused_before_anything_is_written(tmp_path):
    store = runs.RunStore(tmp_path)
    run = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={})
    images, labels, probabilities = _replay()
    with pytest.raises(ValueError, match="Replay probabilities"):
        replay.save_replay(store, run.id, images, labels, probabilities[:, :4])
    assert replay.load_replay(store, run.id) is None
