"""The model registry: parameter counts from the seeds, shapes, uint8 input, and validated hyperparameters."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import ndimage

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


@pytest.mark.parametrize("name", list(architectures.ARCHITECTURES))
@pytest.mark.parametrize("image_shape", [(28, 28), (32, 32, 3)])
def test_an_outline_describes_the_same_model_as_a_real_build(name, image_shape):
    settings = {"depth": 3} if name == "dnn" else {}
    outline = architectures.model_outline(name, image_shape, 10, settings)
    assert architectures.describe(outline) == architectures.describe(architectures.build_model(name, image_shape, 10,
                                                                                               settings))


def test_the_largest_model_a_visitor_can_ask_for_is_outlined_without_making_a_weight():
    # 30 dense layers of 2,048 units on colour images: 132 M weights, 0.5 GB if they were made.
    from keras.src.backend.common import global_state

    outline = architectures.model_outline("dnn", (32, 32, 3), 10, {"depth": 30, "width": 2048})
    assert outline.count_params() == 132_204_554
    assert all(weight._value is None for weight in outline.weights)
    # Keras would make them at the end of the next stateless scope if they were still pending.
    pending = global_state.get_global_attribute("uninitialized_variables") or []
    assert not {id(weight) for weight in outline.weights} & {id(variable) for variable in pending}
    # A real model built afterwards still works.
    model = architectures.build_model("ann", (28, 28), 10)
    assert np.asarray(model(np.zeros((1, 28, 28), np.uint8))).shape == (1, 10)


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


def test_modern_cnn_slants_digits_and_changes_their_strokes_but_not_photos():
    grey = architectures.build_model("modern_cnn", (28, 28), 10)
    colour = architectures.build_model("modern_cnn", (32, 32, 3), 10)
    plain = architectures.build_model("modern_cnn", (28, 28), 10, {"augmentation": False})
    grey_names = [layer.name for layer in grey.layers]
    # The pen first, then the hand: thickness, slant, shift, rotation, zoom.
    assert grey_names[3:8] == ["random_stroke_thickness", "random_slant", "random_shift", "random_rotation",
                               "random_zoom"]
    assert grey.get_layer("random_slant").__class__.__name__ == "RandomShear"
    assert grey.get_layer("random_slant").x_factor == (0.0, architectures.SLANT_FACTOR)
    for model in (colour, plain):
        names = [layer.name for layer in model.layers]
        assert "random_slant" not in names and "random_stroke_thickness" not in names
    # Augmentation has no weights: the same model with or without it.
    assert grey.count_params() == plain.count_params()


def _augmentation(model):
    """The model's layers from its uint8 input up to the last augmentation layer, as a model of their own."""
    import keras

    return keras.Model(model.inputs[0], model.get_layer("random_zoom").output)


def _digits(count=8, seed=0):
    """Hand-made digit-like images at random places: a bar and a ring with soft edges, as MNIST's are."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), np.uint8)
    rows, columns = np.mgrid[:28, :28]
    for image in images:
        top, left = rng.integers(4, 9, size=2)
        ink = np.zeros((28, 28))
        ink[top:top + 16, left + 6:left + 8] = 1.0
        ink[np.abs(np.hypot(rows - 14, columns - 14) - 6) < 1] = 1.0
        ink = ndimage.gaussian_filter(ink, 0.7)
        image[:] = np.round(255 * ink / ink.max())
    return images


def test_modern_cnn_augmentation_is_the_identity_at_inference():
    model = architectures.build_model("modern_cnn", (28, 28), 10)
    images = _digits()
    seen = np.asarray(_augmentation(model)(images, training=False))[..., 0]
    # Exactly the rescaled input: a drawing is never blurred, slanted or thinned when the model reads it.
    np.testing.assert_array_equal(seen, np.asarray(model.get_layer("rescale")(images)))
    first = np.asarray(model(images, training=False))
    np.testing.assert_array_equal(first, np.asarray(model(images, training=False)))


def _seeded_layer_output(name, images, seed):
    import keras

    keras.utils.set_random_seed(seed)
    model = architectures.build_model("modern_cnn", (28, 28), 10)
    floats = (images.astype("float32") / 255)[..., np.newaxis]
    return floats[..., 0], np.asarray(model.get_layer(name)(floats, training=True))[..., 0]


def test_stroke_thickness_makes_some_training_digits_thicker_and_some_thinner():
    images = np.repeat(_digits(1), 16, axis=0)
    before, after = _seeded_layer_output("random_stroke_thickness", images, seed=3)
    ink_change = after.sum(axis=(1, 2)) / before.sum(axis=(1, 2))
    assert ink_change.max() > 1.1 and ink_change.min() < 0.9, ink_change
    # Same digit, same place: thickness moves ink only next to the strokes, never elsewhere.
    far_from_ink = ~ndimage.binary_dilation(before[0] > 0, structure=np.ones((3, 3)))
    assert np.all(after[:, far_from_ink] == 0)
    assert after.min() >= 0 and after.max() <= 1


def test_slant_shears_training_digits_sideways_and_keeps_their_ink():
    images = np.repeat(_digits(1), 16, axis=0)
    before, after = _seeded_layer_output("random_slant", images, seed=3)
    assert np.abs(after - before).max(axis=(1, 2)).min() > 0.1
    np.testing.assert_allclose(after.sum(axis=(1, 2)), before.sum(axis=(1, 2)), rtol=0.05)
    # A slant moves the top and the bottom of the upright bar apart: compare their horizontal centres.
    columns = np.arange(28)

    def centre(rows):
        ink = rows.sum(axis=1)
        return (ink * columns).sum(axis=1) / np.maximum(ink.sum(axis=1), 1e-6)

    lean = centre(after[:, 4:10]) - centre(after[:, 18:24])
    original_lean = centre(before[:, 4:10]) - centre(before[:, 18:24])
    # The two bands are 14 rows apart: a shear of s moves them up to 14 * s pixels apart, to either side.
    most = 14 * architectures.SLANT_FACTOR
    change = lean - original_lean
    assert change.max() > 0.5 * most and change.min() < -0.5 * most, change
    assert np.abs(change).max() < most + 1, change


def test_modern_cnn_with_augmentation_saves_and_loads_safely_in_a_fresh_process(tmp_path):
    model = architectures.build_model("modern_cnn", (28, 28), 10, {"filters": 4})
    images = _digits()
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "expected.npy", np.asarray(model(images, training=False)))
    # A new Python that never imported this project: only built-in Keras layers, loaded in safe mode.
    script = textwrap.dedent(f"""
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import keras, numpy as np
        model = keras.saving.load_model({str(path)!r}, safe_mode=True, compile=False)
        images = np.load({str(tmp_path / "images.npy")!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        np.testing.assert_allclose(np.asarray(model(images, training=False)), expected, rtol=1e-5, atol=1e-6)
        print("loaded", [layer.name for layer in model.layers][3:5])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded ['random_stroke_thickness', 'random_slant']" in done.stdout


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


def test_augmentation_strength_scales_shift_rotation_zoom_and_slant():
    def factors(model):
        layers = {layer.name: layer for layer in model.layers}
        return (layers["random_shift"].height_factor, layers["random_rotation"].factor,
                layers["random_zoom"].height_factor, layers["random_slant"].x_factor)

    full = factors(architectures.build_model("modern_cnn", (28, 28), 10, {"filters": 4}))
    mild = factors(architectures.build_model("modern_cnn", (28, 28), 10, {"filters": 4, "augmentation_strength": 0.5}))
    for strong, weak in zip(full, mild):
        np.testing.assert_allclose(np.abs(np.asarray(weak, float)), np.abs(np.asarray(strong, float)) / 2)
    with pytest.raises(ValueError, match="Augmentation strength"):
        architectures.resolve_hyperparameters("modern_cnn", {"augmentation_strength": 5.0})
