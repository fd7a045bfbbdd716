"""Importing a model file someone else trained (a colleague's `.keras`), safely.

A Keras file is a zip archive with a `config.json` that says which layers to build. Loading one must never
run code from it: we load with `safe_mode=True` (a `Lambda` layer, which would carry Python code, is refused),
never accept legacy `.h5` files (safe mode does not cover them), bound the file's size and its unpacked size,
and check that the model fits the chosen dataset before it becomes a run like any other. Safe mode alone still
lets a file call any public `keras.*` function, so `config.json` is first read as plain JSON and checked
against an allowlist, and its parameters and work per image are counted and capped, before Keras builds
anything (`core/model_config.py`). The stored run is capped in size too.

    run = model_import.import_model(data, "digits.keras", store, dataset="mnist")
"""

import io
import json
import os
import shutil
import tempfile
import zipfile

from core import backend, datasets, evaluation, model_config
from core.runs import Run, RunStore

MAX_FILE_BYTES = 50 * 1024 * 1024        # the same limit as server.maxUploadSize in .streamlit/config.toml
MAX_UNPACKED_BYTES = 200 * 1024 * 1024   # a small zip that unpacks to gigabytes is refused before loading
MAX_CONFIG_BYTES = 2 * 1024 * 1024       # the app's largest model's config.json is about 40 KB
# 5 M float32 parameters take 20 MB; the test probabilities and run.json add under 1 MB.
MAX_STORED_RUN_BYTES = 48 * 1024 * 1024


class ModelRejected(ValueError):
    """The file is not a model this app will load; the message says why and what would work."""


def read_config(data: bytes) -> dict:
    """The parsed config.json of a Keras archive (already checked by check_model_file)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entry = archive.getinfo("config.json")
        if entry.file_size > MAX_CONFIG_BYTES:
            raise ModelRejected(f"This model's config.json is {entry.file_size / 2**20:.1f} MB; image models "
                                f"describe themselves in far less than {MAX_CONFIG_BYTES // 2**20} MB.")
        with archive.open(entry) as file:
            text = file.read(MAX_CONFIG_BYTES + 1)
    if len(text) > MAX_CONFIG_BYTES:
        raise ModelRejected("This model's config.json is larger than its archive says: the file is damaged.")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ModelRejected(f"This model's config.json cannot be read ({str(error)[:120]}).") from None


def check_declared_model(data: bytes) -> model_config.ModelCost:
    """Checks what the file's config declares (allowlist, parameters, work per image) before Keras sees it."""
    try:
        return model_config.check_config(read_config(data))
    except model_config.ConfigRefused as error:
        raise ModelRejected(str(error)) from None


def check_model_file(data: bytes, filename: str) -> None:
    """Refuses files that are not safe, well-formed Keras archives, before Keras sees them."""
    suffix = os.path.splitext(filename or "")[1].lower()
    if suffix in (".h5", ".hdf5"):
        raise ModelRejected(
            "Legacy .h5 model files are refused: they cannot be loaded safely. In the colleague's Keras, "
            "save the model with model.save('model.keras') and upload that file."
        )
    if suffix != ".keras":
        raise ModelRejected(f"Upload a Keras model file ending in .keras; {filename!r} is not one.")
    if len(data) > MAX_FILE_BYTES:
        raise ModelRejected(
            f"The file is {len(data) / 2**20:.0f} MB; models up to {MAX_FILE_BYTES // 2**20} MB can be imported."
        )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ModelRejected("This file is not a Keras model: a .keras file is a zip archive, and this is not one.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as error:
        raise ModelRejected(f"This model file is damaged ({error}).") from None
    names = {entry.filename for entry in entries}
    if "config.json" not in names:
        raise ModelRejected("This zip archive is not a Keras model: it has no config.json.")
    if sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
        raise ModelRejected("This model file unpacks to more than 200 MB: too large to import.")


def load_model_bytes(data: bytes, filename: str):
    """The Keras model in `data`, loaded safely; raises ModelRejected with a clear reason otherwise."""
    check_model_file(data, filename)
    check_declared_model(data)
    keras = backend.keras()
    handle, path = tempfile.mkstemp(suffix=".keras")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as error:  # noqa: BLE001 - Keras raises many kinds; each becomes one clear message
            text = str(error)
            if "Lambda" in text or "unsafe" in text.lower() or "safe_mode" in text:
                raise ModelRejected(
                    "This model contains a Lambda layer, which carries Python code. For everyone's safety it "
                    "is never loaded. Rebuild the model from standard Keras layers."
                ) from None
            raise ModelRejected(f"Keras could not load this model: {text.splitlines()[0][:300]}") from None
    finally:
        os.unlink(path)
    # The count from the config decided whether to build; the built model must agree with it.
    if model.count_params() > model_config.MAX_PARAMETERS:
        raise ModelRejected(f"This model has {model.count_params():,} parameters; models up to "
                            f"{model_config.MAX_PARAMETERS:,} can be imported.")
    return model


def adapt_to_dataset(model, info: datasets.DatasetInfo):
    """A model that takes the dataset's raw uint8 images, as every model of this app does.

    Models trained the seeds' way expect pixels divided by 255 and often a channel axis, (28, 28, 1): the
    import wraps them with the scaling and the reshape they need. A model that already starts with a
    `Rescaling` layer (one of ours) gets the raw pixels unchanged.
    """
    keras = backend.keras()
    from keras import layers

    input_shape = tuple(model.inputs[0].shape[1:])
    accepted = {info.image_shape, (*info.image_shape, 1)} if info.is_grayscale else {info.image_shape}
    if input_shape not in accepted:
        raise ModelRejected(
            f"This model takes images of shape {input_shape}, but {info.title} images are {info.image_shape}: "
            "choose the dataset it was trained on."
        )
    outputs = model.outputs[0].shape[-1]
    if outputs != info.num_classes:
        raise ModelRejected(
            f"This model scores {outputs} classes, but {info.title} has {info.num_classes}: choose the dataset it "
            "was trained on."
        )
    scales_itself = any(isinstance(layer, layers.Rescaling) for layer in model.layers[:3])
    if scales_itself and input_shape == info.image_shape:
        return model
    inputs = keras.Input(shape=info.image_shape, dtype="uint8", name="image")
    x = inputs if scales_itself else layers.Rescaling(1 / 255, name="rescale")(inputs)
    if input_shape != info.image_shape:
        x = layers.Reshape(input_shape, name="add_channel")(x)
    return keras.Model(inputs, model(x), name=f"imported_{model.name}")


def import_model(data: bytes, filename: str, store: RunStore, *, dataset: str, owner: str = "",
                 name: str = "") -> Run:
    """Checks, loads and evaluates an uploaded model, then saves it as a completed run."""
    info = datasets.get_info(dataset)
    model = adapt_to_dataset(load_model_bytes(data, filename), info)
    try:
        # Never a download here: a teacher importing a model in class gets an answer at once.
        data_set = datasets.load(dataset, download=False)
    except datasets.DatasetUnavailable:
        raise ModelRejected(
            f"The test images of {info.title} are not on this machine, so the model cannot be checked. Download "
            "them on the Datasets page first, or choose the MNIST sample."
        ) from None
    try:
        result = evaluation.evaluate(model, data_set.x_test, data_set.y_test)
    except Exception as error:  # noqa: BLE001 - a model that loads may still fail to run; say so, store nothing
        raise ModelRejected(f"The model loaded but could not classify the test images: "
                            f"{str(error).splitlines()[0][:300]}") from None
    base_name = os.path.basename(filename)
    run = store.create(dataset=dataset, architecture="imported", hyperparameters={}, owner=owner,
                       name=name or os.path.splitext(base_name)[0], status="running")
    try:
        store.save_model(run.id, model)
        store.save_array(run.id, "test_probabilities", result.probabilities)
        stored = sum(path.stat().st_size for path in run.path.rglob("*") if path.is_file())
        if stored > MAX_STORED_RUN_BYTES:
            raise ModelRejected(f"This model takes {stored / 2**20:.0f} MB once stored; imported runs are kept up "
                                f"to {MAX_STORED_RUN_BYTES // 2**20} MB. Nothing was saved.")
        store.update(run.id, status="completed", test=result.summary(), imported_from=base_name)
    except BaseException:
        # Half a run would be listed as interrupted or damaged: take it away again.
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return store.get(run.id)
