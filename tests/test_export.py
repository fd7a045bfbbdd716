"""Export: the model file as it is on disk, and a standalone script that builds and trains the same model.

The scripts are checked by running them: their model-building part must give a model with the same layers,
settings and parameter count as the run's, and the whole script must train and evaluate when
`keras.datasets.<name>.load_data` is replaced by tiny arrays (nothing is downloaded).
"""

import contextlib
import io

import numpy as np
import pytest

from core import architectures, datasets, export, runs

TRAIN_MARKER = '"""\n## Train the model'


def make_run(store, architecture, dataset="mnist_sample", **hyperparameters):
    """A run whose model is built (not trained) by `core.architectures`, as training would save it."""
    hyperparameters = architectures.resolve_hyperparameters(architecture, {"epochs": 1, **hyperparameters})
    info = datasets.get_info(dataset)
    model = architectures.build_model(architecture, info.image_shape, info.num_classes, hyperparameters)
    run = store.create(dataset=dataset, architecture=architecture, hyperparameters=hyperparameters,
                       name=f"{architecture} export test", status="completed")
    return run, model


def tiny_load_data(image_shape, labels_as_column=False):
    """A stand-in for keras.datasets.<name>.load_data: 40 training and 10 test images, no download."""
    rng = np.random.default_rng(0)

    def load_data():
        def split(count):
            labels = rng.integers(0, 10, count)
            return (rng.integers(0, 256, (count, *image_shape), dtype=np.uint8),
                    labels.reshape(-1, 1) if labels_as_column else labels)

        return split(40), split(10)

    return load_data


def run_script(source: str) -> dict:
    namespace = {"__name__": "exported_script"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, "exported_script.py", "exec"), namespace)
    return namespace


def comparable_config(layer) -> dict:
    config = dict(layer.get_config())
    config.pop("name", None)
    if "factor" in config and isinstance(config["factor"], (list, tuple)):
        config["factor"] = tuple(config["factor"])
    if "layers" in config:  # a block: compare its layers one by one, without names
        config = {"layers": [(entry["class_name"], {key: value for key, value in entry["config"].items()
                                                    if key != "name"})
                             for entry in config["layers"]]}
    return config


@pytest.fixture
def patched_datasets(monkeypatch):
    import keras

    monkeypatch.setattr(keras.datasets.mnist, "load_data", tiny_load_data((28, 28)))
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", tiny_load_data((28, 28)))
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", tiny_load_data((32, 32, 3), labels_as_column=True))


@pytest.mark.parametrize("architecture", list(architectures.ARCHITECTURES))
def test_the_script_builds_the_same_model(architecture, tmp_path, patched_datasets):
    run, model = make_run(runs.RunStore(tmp_path), architecture)
    script = export.standalone_script(run, model)
    compile(script, "exported_script.py", "exec")
    built = run_script(script.split(TRAIN_MARKER)[0])["model"]
    assert built.count_params() == model.count_params()
    original_layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    assert [type(layer).__name__ for layer in built.layers] == [type(layer).__name__ for layer in original_layers]
    for rebuilt, original in zip(built.layers, original_layers):
        assert comparable_config(rebuilt) == comparable_config(original), original.name
    assert tuple(built.inputs[0].shape[1:]) == (28, 28) and built.inputs[0].dtype == "uint8"


def test_a_colour_model_script_runs_end_to_end(tmp_path, patched_datasets, monkeypatch):
    run, model = make_run(runs.RunStore(tmp_path / "runs"), "cifar_cnn", "cifar10", batch_size=16)
    script = export.standalone_script(run, model)
    assert "keras.datasets.cifar10.load_data()" in script
    monkeypatch.chdir(tmp_path)
    namespace = run_script(script)
    assert 0.0 <= namespace["score"][1] <= 1.0
    assert list(tmp_path.glob("*_retrained.keras"))


def test_the_whole_script_trains_and_evaluates_with_the_runs_settings(trained_run, tmp_path, patched_datasets,
                                                                     monkeypatch):
    store = runs.RunStore()
    run = store.get(trained_run)
    script = export.standalone_script(run, store.load_model(run.id))
    hyperparameters = run.meta["hyperparameters"]
    # The sample is a part of MNIST: the script says so and loads MNIST itself.
    assert "keras.datasets.mnist.load_data()" in script and "offline sample" in script
    assert f"batch_size = {hyperparameters['batch_size']}" in script
    assert f"epochs = {hyperparameters['epochs']}" in script
    assert f"validation_split = {hyperparameters['validation_fraction']}" in script
    assert "keras.optimizers.Adam(learning_rate=learning_rate)" in script
    assert f"layers.Dropout({hyperparameters['dropout']})" in script

    monkeypatch.chdir(tmp_path)
    namespace = run_script(script)
    assert namespace["learning_rate"] == pytest.approx(hyperparameters["learning_rate"])
    assert len(namespace["model"].history.history["loss"]) == 1
    assert 0.0 <= namespace["score"][1] <= 1.0
    assert namespace["model"].count_params() == store.load_model(run.id).count_params()


def test_cosine_schedule_sgd_and_early_stopping_are_written(tmp_path, patched_datasets, monkeypatch):
    run, model = make_run(runs.RunStore(tmp_path / "runs"), "mlp", learning_rate_schedule="cosine",
                          early_stopping_patience=3, epochs=2, batch_size=8)
    script = export.standalone_script(run, model)
    assert "keras.optimizers.SGD(learning_rate=learning_rate)" in script
    assert "LearningRateScheduler(cosine_decay)" in script
    assert 'EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)' in script
    monkeypatch.chdir(tmp_path)
    namespace = run_script(script)
    # The schedule is the app's: half a cosine from the chosen rate (training.cosine_schedule).
    assert namespace["cosine_decay"](0) == pytest.approx(0.01)
    assert namespace["cosine_decay"](1) == pytest.approx(0.005)


def test_without_validation_the_script_watches_the_training_loss(tmp_path):
    run, model = make_run(runs.RunStore(tmp_path), "ann", validation_fraction=0.0)
    script = export.standalone_script(run, model)
    assert "validation_split" not in script
    assert 'monitor="loss"' in script


def test_an_imported_model_has_no_script(tmp_path):
    store = runs.RunStore(tmp_path)
    run, model = make_run(store, "ann")
    store.update(run.id, architecture="imported", imported_from="colleague.keras")
    with pytest.raises(export.NotExportable, match="imported"):
        export.standalone_script(store.get(run.id), model)


def test_a_layer_that_is_not_part_of_keras_is_left_out_with_a_comment():
    import keras
    from keras import layers

    class Sparkle(layers.Layer):
        def call(self, inputs):
            return inputs

    inputs = keras.Input((28, 28), dtype="uint8")
    x = layers.Rescaling(1 / 255)(inputs)
    x = Sparkle(name="sparkle")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    lines, functions, left_out = export.model_lines(keras.Model(inputs, outputs), 10)
    assert left_out == ["Sparkle"] and functions == []
    assert any(line.startswith("# Left out: Sparkle (sparkle)") for line in lines)
    assert 'layers.Dense(num_classes, activation="softmax"),' in lines


def test_a_model_with_branches_is_not_exportable():
    import keras
    from keras import layers

    inputs = keras.Input((28, 28))
    flat = layers.Flatten()(inputs)
    outputs = layers.Dense(10)(layers.Concatenate()([layers.Dense(4)(flat), layers.Dense(4)(flat)]))
    with pytest.raises(export.NotExportable, match="not one chain"):
        export.model_lines(keras.Model(inputs, outputs), 10)


def test_layer_source_reads_like_the_keras_examples():
    from keras import layers

    assert (export.layer_source(layers.Conv2D(32, kernel_size=(3, 3), activation="relu"))
            == 'layers.Conv2D(32, kernel_size=(3, 3), activation="relu")')
    assert export.layer_source(layers.MaxPooling2D(pool_size=(2, 2))) == "layers.MaxPooling2D()"
    assert export.layer_source(layers.Rescaling(1 / 255)) == "layers.Rescaling(1 / 255)"
    assert export.layer_source(layers.Dropout(0.5)) == "layers.Dropout(0.5)"


def test_the_model_download_is_the_file_on_disk(trained_run):
    run = runs.RunStore().get(trained_run)
    assert export.model_bytes(run) == (run.path / "model.keras").read_bytes()


def test_file_names_are_safe():
    assert export.safe_file_name("../x", ".keras") == "x.keras"
    assert export.safe_file_name("CNN sur MNIST épais / v2", ".keras") == "CNN_sur_MNIST_epais_v2.keras"
    assert export.safe_file_name("///", ".py") == "model.py"
    assert len(export.safe_file_name("a" * 1000, ".keras")) == 60 + len(".keras")


def test_a_run_name_with_backslashes_still_gives_a_script_that_compiles(trained_run):
    store = runs.RunStore()
    store.rename(trained_run, r'C:\Users\alice \N run """')
    run = store.get(trained_run)
    script = export.standalone_script(run, store.load_model(run.id))
    compile(script, "train.py", "exec")


def test_the_default_digit_model_exports_with_mnist_and_says_what_it_leaves_out(isolated_runs):
    store = runs.RunStore()
    run, model = make_run(store, "modern_cnn", dataset="digits_mix", filters=4)
    source = export.standalone_script(store.get(run.id), model)
    assert "keras.datasets.mnist.load_data()" in source
    assert "pen by 20 people" in source and "# MNIST alone." in source
    pen_run, pen_model = make_run(store, "cnn", dataset="pendigits")
    with pytest.raises(export.NotExportable, match="pen-drawn digits, which Keras cannot load"):
        export.standalone_script(store.get(pen_run.id), pen_model)
