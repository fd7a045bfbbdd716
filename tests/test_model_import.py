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


# --- what a file declares is checked before Keras builds anything (core/model_config.py) ----------------


def _app_model_file(tmp_path, architecture="ann", shape=(28, 28)) -> bytes:
    """A .keras file as the app itself saves it: one of its own architectures, untrained."""
    from core import architectures

    hyperparameters = architectures.resolve_hyperparameters(architecture, {})
    model = architectures.build_model(architecture, shape, 10, hyperparameters)
    return _keras_bytes(model, tmp_path)


def _with_config(data: bytes, change) -> bytes:
    """`data` with its config.json changed by change(config), the rest of the archive as it was."""
    import json

    source = zipfile.ZipFile(io.BytesIO(data))
    config = json.loads(source.read("config.json"))
    change(config)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in source.infolist():
            content = json.dumps(config) if entry.filename == "config.json" else source.read(entry)
            archive.writestr(entry.filename, content)
    return buffer.getvalue()


def _layer(config, name):
    return next(layer for layer in config["config"]["layers"] if layer["name"] == name)


@pytest.mark.parametrize("activation", [
    {"module": "keras.config", "class_name": "set_max_epochs", "config": {}, "registered_name": None},
    {"module": "keras.config", "class_name": "function", "config": "set_max_epochs", "registered_name": "function"},
], ids=["as-class", "as-function"])
def test_a_keras_function_named_as_activation_is_refused_and_changes_nothing(activation, tmp_path):
    import keras

    before = keras.config.max_epochs()
    data = _with_config(_app_model_file(tmp_path),
                        lambda config: _layer(config, "hidden")["config"].update(activation=activation))
    store = runs.RunStore(tmp_path / "runs")
    with pytest.raises(model_import.ModelRejected, match=r"keras\.config\.set_max_epochs"):
        model_import.import_model(data, "poison.keras", store, dataset="mnist_sample")
    assert keras.config.max_epochs() == before
    assert store.list() == []


def test_an_activation_name_outside_the_allowlist_is_named(tmp_path):
    data = _with_config(_app_model_file(tmp_path),
                        lambda config: _layer(config, "hidden")["config"].update(activation="set_max_epochs"))
    with pytest.raises(model_import.ModelRejected, match="activation 'set_max_epochs'"):
        model_import.load_model_bytes(data, "poison.keras")


def test_a_custom_registered_object_is_refused(tmp_path):
    data = _with_config(_app_model_file(tmp_path),
                        lambda config: _layer(config, "hidden").update(registered_name="evil>Dense"))
    with pytest.raises(model_import.ModelRejected, match="custom object 'evil>Dense'"):
        model_import.load_model_bytes(data, "custom.keras")


def test_a_huge_dense_layer_is_refused_from_its_config_in_no_time(tmp_path):
    import time
    import tracemalloc

    # The review's attack: 26 KB declaring Dense(units=400000) took 12 s and 4.5 GB before Keras refused it.
    data = _with_config(_app_model_file(tmp_path),
                        lambda config: _layer(config, "hidden")["config"].update(units=400_000))
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(model_import.ModelRejected, match="parameters; models up to 5,000,000"):
        model_import.import_model(data, "huge.keras", runs.RunStore(tmp_path / "runs"), dataset="mnist_sample")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 1.0 and peak < 20 * 2**20, (seconds, peak)


def test_a_model_that_is_small_on_disk_but_slow_to_run_is_refused(tmp_path):
    import copy

    # The review's second file: 21 Conv2D(512) layers of zero weights, 0.18 MB, about 25 minutes to evaluate.
    def widen(config):
        layers = config["config"]["layers"]
        conv = copy.deepcopy(_layer(config, "conv"))
        conv["config"].update(filters=512)
        conv["build_config"] = None
        conv["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["conv", 0, 0]
        position = layers.index(_layer(config, "conv")) + 1
        for index in range(20):
            extra = copy.deepcopy(conv)
            extra["name"] = extra["config"]["name"] = f"extra_{index}"
            previous = "conv" if index == 0 else f"extra_{index - 1}"
            extra["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = [previous, 0, 0]
            layers.insert(position + index, extra)
        _layer(config, "pool")["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["extra_19", 0, 0]
        _layer(config, "pool")["build_config"] = None

    data = _with_config(_app_model_file(tmp_path, "cnn"), widen)
    with pytest.raises(model_import.ModelRejected, match="GFLOP per image; models up to 0.5 GFLOP"):
        model_import.load_model_bytes(data, "slow.keras")


def test_a_layer_that_claims_a_larger_input_than_it_gets_is_refused(tmp_path):
    # Keras builds a layer's kernel from the shape written in build_config: a lie there would allocate more
    # than the count from the connections says.
    data = _with_config(_app_model_file(tmp_path),
                        lambda config: _layer(config, "hidden")["build_config"].update(input_shape=[None, 10**6]))
    with pytest.raises(model_import.ModelRejected, match="contradicts itself"):
        model_import.load_model_bytes(data, "liar.keras")


@pytest.mark.parametrize("architecture, shape", [("cnn", (28, 28)), ("modern_cnn", (32, 32, 3)),
                                                 ("mlp", (28, 28))])
def test_the_apps_own_architectures_pass_with_their_exact_cost(architecture, shape, tmp_path):
    from core import architectures, model_config

    data = _app_model_file(tmp_path, architecture, shape)
    cost = model_import.check_declared_model(data)
    hyperparameters = architectures.resolve_hyperparameters(architecture, {})
    model = architectures.build_model(architecture, shape, 10, hyperparameters)
    assert cost.parameters == model.count_params()
    assert cost.flops_per_image < model_config.MAX_FLOPS_PER_IMAGE / 5


def test_an_imported_run_can_be_imported_again(tmp_path):
    # An imported run's model.keras nests the colleague's model inside the app's scaling: a model in a model.
    store = runs.RunStore(tmp_path / "runs")
    run = model_import.import_model(_keras_bytes(_seed_style_cnn(), tmp_path), "colleague.keras", store,
                                    dataset="mnist_sample")
    again = model_import.import_model((run.path / "model.keras").read_bytes(), "again.keras", store,
                                      dataset="mnist_sample")
    assert again.status == "completed"


def test_a_run_larger_than_the_cap_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(model_import, "MAX_STORED_RUN_BYTES", 1000)
    store = runs.RunStore(tmp_path / "runs")
    with pytest.raises(model_import.ModelRejected, match="imported runs are kept up to"):
        model_import.import_model(_keras_bytes(_seed_style_cnn(), tmp_path), "colleague.keras", store,
                                  dataset="mnist_sample")
    assert store.list() == []
