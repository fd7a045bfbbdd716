"""The model registry: parameter counts from the seeds, shapes, uint8 input, and validated hyperparameters."""

import numpy as np
import pytest

from core import architectures


@pytest.mark.parametrize(
    "name, image_shape, settings, expected",
    [
        ("ann", (28, 28), {}, 79_510),
        ("dnn", (28, 28), {"depth": 20}, 281_510),
        ("mlp", (28, 28), {}, 407_050),
        ("cnn", (28, 28), {}, 804_554),
        ("cnn_deep", (28, 28), {}, 1_199_882),
        ("cifar_cnn", (32, 32, 3), {}, 2_125_578),
    ],
)
def test_parameter_counts_match_the_seeds(name, image_shape, settings, expected):
    model = architectures.build_model(name, image_shape, 10, settings)
    assert model.count_params() == expected
    assert architectures.describe(model)["total"] == expected


@pytest.mark.parametrize("name", list(architectures.ARCHITECTURES))
@pytest.mark.parametrize("image_shape", [(28, 28), (32, 32, 3)])
def test_every_architecture_takes_uint8_images_and_returns_probabilities(name, image_shape):
    model = architectures.build_model(name, image_shape, 10, {"depth": 2} if name == "dnn" else {})
    images = np.random.default_rng(0).integers(0, 256, size=(3, *image_shape), dtype=np.uint8)
    probabilities = np.asarray(model(images, training=False))
    assert model.inputs[0].dtype == "uint8"
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_rescaling_is_inside_the_model():
    model = architectures.build_model("ann", (28, 28), 10)
    assert model.layers[1].__class__.__name__ == "Rescaling"


def test_describe_lists_layers_with_shapes():
    table = architectures.describe(architectures.build_model("cnn", (28, 28), 10))
    conv = next(row for row in table["layers"] if row["name"] == "conv")
    assert conv == {"name": "conv", "type": "Conv2D", "output_shape": "(batch, 28, 28, 32)", "parameters": 320}
    assert table["trainable"] == table["total"]


def test_mlp_defaults_to_plain_sgd():
    assert architectures.resolve_hyperparameters("mlp")["optimizer"] == "sgd"
    assert architectures.build_model("mlp", (28, 28), 10).optimizer.__class__.__name__ == "SGD"


def test_modern_cnn_has_batch_norm_and_augmentation_and_flips_only_colour():
    grey = [layer.__class__.__name__ for layer in architectures.build_model("modern_cnn", (28, 28), 10).layers]
    colour = [layer.__class__.__name__ for layer in architectures.build_model("modern_cnn", (32, 32, 3), 10).layers]
    assert "BatchNormalization" in grey and "RandomRotation" in grey
    assert "RandomFlip" not in grey and "RandomFlip" in colour
    plain = architectures.build_model("modern_cnn", (28, 28), 10, {"augmentation": False})
    assert "RandomRotation" not in [layer.__class__.__name__ for layer in plain.layers]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epochs": 0}, "Epochs must be between 1 and 200"),
        ({"batch_size": 0}, "Batch size must be between 1"),
        ({"learning_rate": -0.1}, "Learning rate must be between"),
        ({"depth": 1000}, "Hidden layers must be between 1 and 30"),
        ({"dropout": 1.5}, "Dropout must be between 0 and 0.9"),
        ({"epochs": 2.5}, "whole number"),
        ({"optimizer": "adamw"}, "Optimizer must be one of"),
        ({"learning_rate": float("nan")}, "Learning rate must be between"),
        ({"colour": 3}, "has no hyperparameter 'colour'"),
    ],
)
def test_out_of_range_hyperparameters_raise_actionable_errors(settings, message):
    with pytest.raises(ValueError, match=message):
        architectures.resolve_hyperparameters("dnn", settings)


def test_unknown_architecture_lists_the_choices():
    with pytest.raises(ValueError, match="Choose one of: ann, dnn"):
        architectures.build_model("resnet", (28, 28), 10)


def test_mixed_precision_keeps_float32_probabilities_and_restores_the_policy():
    import keras

    model = architectures.build_model("cnn", (28, 28), 10, mixed_precision="mixed_bfloat16")
    assert model.layers[-1].compute_dtype == "float32"
    assert model.get_layer("conv").compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"
