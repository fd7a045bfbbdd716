"""Tests for core/activations.py: which layers are shown, their shapes and titles, their values against a
hand-made computation, the first layer's filters, and the cache.

Models come untrained from `core.architectures.build_model` (their weights are random, which is all these
tests need). Run: python -m pytest tests/test_activations.py -q
"""

import numpy as np
import pytest

from core import activations, architectures


def digit(seed=0) -> np.ndarray:
    generator = np.random.default_rng(seed)
    image = np.zeros((28, 28), dtype=np.uint8)
    image[6:22, 10:18] = generator.integers(0, 256, size=(16, 8), dtype=np.uint8)
    return image


@pytest.fixture(scope="module")
def cnn():
    return architectures.build_model("cnn", (28, 28), 10, {"filters": 4, "seed": 0})


@pytest.fixture(scope="module")
def ann():
    return architectures.build_model("ann", (28, 28), 10, {"width": 16})


def test_cnn_shows_its_convolution_pooling_dense_and_output_layers_with_their_shapes(cnn):
    shown = activations.Inspector(cnn).activations(digit())
    assert [activation.kind for activation in shown] == ["convolution", "pooling", "dense", "output"]
    assert [activation.values.shape for activation in shown] == [(28, 28, 4), (14, 14, 4), (128,), (10,)]
    assert [activation.name for activation in shown] == ["conv", "pool", "dense", "probabilities"]
    assert all(activation.values.dtype == np.float32 for activation in shown)


def test_titles_say_what_each_layer_is_and_what_it_gives(cnn):
    titles = [stage.title for stage in activations.Inspector(cnn).stages]
    assert titles == [
        "Convolution 1 · 4 filters 3×3, ReLU → 28×28×4",
        "Pooling 1 · 2×2 → 14×14×4",
        "Dense 1 · 128 units, ReLU",
        "Output · 10 classes, softmax",
    ]


def test_ann_shows_its_dense_layers_and_has_no_filters(ann):
    inspector = activations.Inspector(ann)
    shown = inspector.activations(digit())
    assert [(activation.kind, activation.values.shape) for activation in shown] == [("dense", (16,)), ("output", (10,))]
    assert inspector.filters is None
    assert inspector.filter_images() is None
    assert "no convolution layer" in inspector.no_filters_message
    assert "784 numbers" in inspector.no_filters_message


def test_first_convolution_equals_a_hand_made_convolution_of_the_rescaled_image(cnn):
    image = digit(seed=3)
    maps = activations.Inspector(cnn).activations(image)[0].values
    kernel, bias = (np.asarray(weight) for weight in cnn.get_layer("conv").get_weights())
    # "same" padding: one row and column of zeros around the image, then a 3x3 window at every pixel.
    padded = np.pad(image.astype(np.float64) / 255, 1)
    expected = np.zeros((28, 28, 4))
    for row in range(28):
        for column in range(28):
            window = padded[row:row + 3, column:column + 3]
            expected[row, column] = np.tensordot(window, kernel[:, :, 0, :], axes=([0, 1], [0, 1])) + bias
    expected = np.maximum(expected, 0)
    np.testing.assert_allclose(maps, expected, atol=1e-4)


def test_output_stage_gives_the_models_probabilities(cnn):
    image = digit(seed=5)
    output = activations.Inspector(cnn).activations(image)[-1].values
    expected = np.asarray(cnn(image[np.newaxis], training=False))[0]
    np.testing.assert_allclose(output, expected, atol=1e-5)
    assert output.sum() == pytest.approx(1.0, abs=1e-4)


def test_first_layer_filters_are_its_kernel_and_become_one_image_each(cnn):
    inspector = activations.Inspector(cnn)
    assert inspector.filters.shape == (3, 3, 1, 4)
    np.testing.assert_array_equal(inspector.filters, cnn.get_layer("conv").get_weights()[0])
    assert inspector.filters_layer_name == "conv"
    assert inspector.no_filters_message is None
    images = inspector.filter_images()
    assert images.shape == (4, 3, 3) and images.dtype == np.uint8
    # Each filter is stretched on its own: its smallest weight black, its largest white.
    assert (images.reshape(4, -1).min(axis=1) == 0).all()
    assert (images.reshape(4, -1).max(axis=1) == 255).all()


def test_colour_filters_of_a_cifar_model_are_colour_images():
    model = architectures.build_model("cifar_cnn", (32, 32, 3), 10)
    inspector = activations.Inspector(model)
    assert inspector.filters.shape == (3, 3, 3, 32)
    assert inspector.filter_images().shape == (32, 3, 3, 3)
    shown = inspector.activations(np.zeros((32, 32, 3), dtype=np.uint8))
    assert [activation.values.shape for activation in shown[:2]] == [(32, 32, 32), (32, 32, 64)]


def test_a_block_of_convolution_batch_norm_and_relu_is_one_stage_after_its_relu():
    model = architectures.build_model("modern_cnn", (28, 28), 10, {"filters": 4})
    inspector = activations.Inspector(model)
    first = inspector.stages[0]
    assert first.layer_names == ("block1a_conv", "block1a_bn", "block1a_relu")
    assert first.title == "Convolution 1 · 4 filters 3×3, batch norm, ReLU → 28×28×4"
    # Augmentation, dropout and flattening change nothing at inference and are not shown.
    assert [stage.kind for stage in inspector.stages] == [
        "convolution", "convolution", "pooling", "convolution", "convolution", "pooling", "dense", "output"]
    assert len(inspector.convolution_stages) == 4
    shown = inspector.activations(digit())
    assert (shown[0].values >= 0).all()


def test_filter_images_stretch_each_filter_and_average_other_channel_counts():
    kernel = np.zeros((3, 3, 2, 2), dtype=np.float32)
    kernel[0, 0, :, 0] = 1.0  # filter 0: one bright corner
    images = activations.filter_images(kernel)
    assert images.shape == (2, 3, 3)
    assert images[0, 0, 0] == 255 and images[0, 1, 1] == 0
    # A filter of equal weights has nothing to show: mid-gray.
    assert (images[1] == 128).all()
    with pytest.raises(ValueError, match=r"\(height, width, input channels, filters\)"):
        activations.filter_images(np.zeros((3, 3, 4)))


def test_a_wrong_image_is_refused_with_what_the_model_reads(cnn):
    inspector = activations.Inspector(cnn)
    with pytest.raises(ValueError, match=r"reads one image of shape \(28, 28\)"):
        inspector.activations(np.zeros((32, 32, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="must be uint8"):
        inspector.activations(np.zeros((28, 28), dtype=np.float32))


def test_inspectors_are_built_once_per_model(cnn, ann):
    activations.clear_cache()
    first = activations.get_inspector(cnn)
    assert activations.get_inspector(cnn) is first
    assert activations.get_inspector(ann) is not first
    activations.clear_cache()
    assert activations.get_inspector(cnn) is not first


def test_strongest_units_and_maps():
    np.testing.assert_array_equal(activations.strongest_units(np.array([0.0, 3.0, 0.0, 5.0, 1.0]), 3), [3, 1, 4])
    maps = np.zeros((2, 2, 4), dtype=np.float32)
    maps[..., 1] = 1.0
    maps[..., 3] = 2.0
    # The strongest maps, given back in channel order so that they line up with the filters.
    np.testing.assert_array_equal(activations.strongest_maps(maps, 2), [1, 3])
    with pytest.raises(ValueError, match="count must be 1 or more"):
        activations.strongest_units(np.zeros(3), 0)
