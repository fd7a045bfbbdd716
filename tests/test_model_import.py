"""Importing a colleague's model: every bad file is refused with a reason; a good one becomes a run."""

import io
import zipfile

import numpy as np
import pytest

from core import model_import, runs


def _keras_bytes(model, tmp_path) -> bytes:
    path = tmp_path / "model.keras"
    model.save(path)
    return path.read_bytes()


def _seed_style_cnn():
    # The seeds' way: float input divided by 255 outside the model, with a channel axis.
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])


def test_a_seed_style_model_is_wrapped_to_take_raw_images(tmp_path):
    store = runs.RunStore(tmp_path / "runs")
    run = model_import.import_model(_keras_bytes(_seed_style_cnn(), tmp_path), "colleague.keras", store,
                                    dataset="mnist_sample", owner="teacher")
    assert run.status == "completed" and run.architecture == "imported"
    assert run.test_accuracy is not None
    model = store.load_model(run.id)
    assert tuple(model.inputs[0].shape[1:]) == (28, 28)
    probabilities = np.asarray(model(np.zeros((2, 28, 28), np.uint8)))
    assert probabilities.shape == (2, 10)


@pytest.mark.parametrize(
    "data, filename, message",
    [
        (b"not a zip at all", "model.keras", "not a Keras model"),
        (b"\x89HDF\r\n", "model.h5", "Legacy .h5"),
        (b"anything", "model.pt", "ending in .keras"),
        (b"x" * (model_import.MAX_FILE_BYTES + 1), "big.keras", "up to 50 MB"),
    ],
    ids=["not-a-zip", "h5", "other-suffix", "too-large"],
)
def test_bad_files_are_refused_with_a_reason(data, filename, message, tmp_path):
    with pytest.raises(model_import.ModelRejected, match=message):
        model_import.import_model(data, filename, runs.RunStore(tmp_path), dataset="mnist_sample")


def test_a_zip_without_config_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(model_import.ModelRejected, match="no config.json"):
        model_import.load_model_bytes(buffer.getvalue(), "model.keras")


def test_a_lambda_layer_is_never_loaded(tmp_path):
    import keras
    from keras import layers

    marker = tmp_path / "ran"
    inputs = keras.Input((28, 28))
    outputs = layers.Lambda(lambda x: x * 2)(inputs)
    data = _keras_bytes(keras.Model(inputs, outputs), tmp_path)
    with pytest.raises(model_import.ModelRejected, match="Lambda layer"):
        model_import.load_model_bytes(data, "evil.keras")
    assert not marker.exists()


def test_a_model_for_other_images_is_refused(tmp_path):
    import keras
    from keras import layers

    colour = keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), layers.Dense(10, activation="softmax")])
    with pytest.raises(model_import.ModelRejected, match=r"takes images of shape \(32, 32, 3\)"):
        model_import.import_model(_keras_bytes(colour, tmp_path), "cifar.keras", runs.RunStore(tmp_path),
                                  dataset="mnist_sample")
    three = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(3, activation="softmax")])
    with pytest.raises(model_import.ModelRejected, match="scores 3 classes"):
        model_import.import_model(_keras_bytes(three, tmp_path), "three.keras", runs.RunStore(tmp_path),
                                  dataset="mnist_sample")


def test_a_dataset_not_on_this_machine_is_named_and_nothing_is_stored(tmp_path, monkeypatch):
    from core import datasets

    def unavailable(name, download=True):
        assert download is False  # an import never starts a download
        raise datasets.DatasetUnavailable("not here")

    monkeypatch.setattr(datasets, "load", unavailable)
    store = runs.RunStore(tmp_path / "runs")
    with pytest.raises(model_import.ModelRejected, match="Download them on the Datasets page"):
        model_import.import_model(_keras_bytes(_seed_style_cnn(), tmp_path), "colleague.keras", store,
                                  dataset="mnist")
    assert store.list() == []


def test_a_failure_while_saving_leaves_no_half_run(tmp_path, monkeypatch):
    store = runs.RunStore(tmp_path / "runs")

    def full_disk(run_id, model):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "save_model", full_disk)
    with pytest.raises(OSError, match="No space left"):
        model_import.import_model(_keras_bytes(_seed_style_cnn(), tmp_path), "colleague.keras", store,
                                  dataset="mnist_sample")
    assert store.list() == [] and not any((tmp_path / "runs").iterdir())
