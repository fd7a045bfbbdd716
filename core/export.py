"""Exporting a trained run: its model file, and a standalone Python script that trains the same model again.

The script reads like the Keras examples (keras-io `examples/vision/mnist_convnet.py`): one file, top to
bottom, that prepares the data with `keras.datasets`, builds the model, compiles it, trains it with a
validation split and evaluates it on the test set. A student can run it at home with nothing but Keras.

The model code is written from the run's saved model, layer by layer: each layer becomes
`layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu")`, naming only the arguments that
differ from Keras's defaults. So the script rebuilds the architecture the run really trained, whatever
`core.architectures` builds today. A layer that is not part of Keras (an augmentation of this app) is left
out with a comment that says so; the training settings come from the run's hyperparameters.

    from core import export, runs
    store = runs.RunStore()
    run = store.list()[0]
    print(export.standalone_script(run, store.load_model(run.id)))
"""

import datetime
import fractions
import inspect
import math
import re
import unicodedata

from core import architectures, backend, datasets

# Which `keras.datasets` module holds each dataset of the app. The offline sample is part of MNIST.
KERAS_DATASETS = {"mnist_sample": "mnist", "mnist": "mnist", "fashion_mnist": "fashion_mnist",
                  "cifar10": "cifar10", "digits_mix": "mnist"}

# Arguments the generated code never needs to repeat: every layer gets a fresh name, and is trainable.
_SKIPPED_ARGUMENTS = {"name", "trainable"}


class NotExportable(ValueError):
    """The run cannot be written as a script; the message says why and what can be downloaded instead."""


# --- file names ------------------------------------------------------------------------------------------------


def safe_file_name(name: str, suffix: str, *, fallback: str = "model") -> str:
    """A file name made from a run's name: ASCII letters, digits, '-' and '_' only, at most 60 characters.

    "../x" becomes "x", "CNN sur MNIST épais" becomes "CNN_sur_MNIST_epais", and a name with nothing usable
    left becomes `fallback`. `suffix` is added as given (".keras", ".py").
    """
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_name).strip("_-")[:60].strip("_-")
    return f"{stem or fallback}{suffix}"


def model_file_name(run) -> str:
    return safe_file_name(run.name, ".keras", fallback=run.id)


def script_file_name(run) -> str:
    # A Python file name should also be importable as a module: no dashes, no leading digit.
    stem = safe_file_name(run.name, "", fallback="model").replace("-", "_")
    if stem[0].isdigit():
        stem = f"train_{stem}"
    return f"{stem}.py"


def model_bytes(run) -> bytes:
    """The bytes of the run's saved model, exactly as they are on disk (the file the app itself loads)."""
    path = run.path / "model.keras"
    if not path.is_file():
        raise NotExportable("This run has no saved model yet: no epoch finished, so there is nothing to download.")
    return path.read_bytes()


# --- Python source for values and layers ---------------------------------------------------------------------


def python_value(value) -> str:
    """`value` as Python source in the Keras examples' style: double quotes, `1 / 255` rather than 0.0039...."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        return _python_float(value)
    if isinstance(value, tuple):
        inner = ", ".join(python_value(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(python_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python_value(key)}: {python_value(item)}" for key, item in value.items()) + "}"
    if hasattr(value, "item"):  # a NumPy number
        return python_value(value.item())
    raise NotExportable(f"A layer setting of type {type(value).__name__} cannot be written as Python.")


def _python_float(value: float) -> str:
    if not math.isfinite(value):
        return f'float("{value}")'
    text = repr(value)
    if len(text) <= 8:
        return text
    # A fraction with a small denominator reads better and is exactly the same float: 1 / 255, 1 / 24.
    fraction = fractions.Fraction(value).limit_denominator(1000)
    if fraction.denominator > 1 and fraction.numerator / fraction.denominator == value:
        return f"{fraction.numerator} / {fraction.denominator}"
    return text


def _keras_class(layer):
    """The public `keras.layers` class of `layer`, or None for a layer that is not part of Keras."""
    keras = backend.keras()
    cls = type(layer)
    return cls if getattr(keras.layers, cls.__name__, None) is cls else None


def _required_arguments(cls) -> list[str]:
    signature = inspect.signature(cls.__init__)
    return [parameter.name for parameter in list(signature.parameters.values())[1:]
            if parameter.default is inspect.Parameter.empty
            and parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]


def _policy_name(dtype) -> str | None:
    if isinstance(dtype, dict):
        return (dtype.get("config") or {}).get("name")
    return getattr(dtype, "name", dtype)


def _symmetric(value):
    # Keras stores a random layer's factor 0.1 as (-0.1, 0.1); the single number is what a person writes.
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == -value[1] and value[1] > 0:
        return value[1]
    return value


def layer_arguments(layer) -> tuple[list, dict]:
    """The positional and keyword arguments that rebuild `layer`: its required ones, then every setting
    that differs from what the same class makes by default."""
    cls = type(layer)
    config = layer.get_config()
    required = _required_arguments(cls)
    missing = [name for name in required if name not in config]
    if missing:
        raise NotExportable(f"The {cls.__name__} layer does not say its {', '.join(missing)}.")
    default_config = cls(**{name: config[name] for name in required}).get_config()
    keyword = {}
    for name, value in config.items():
        if name in _SKIPPED_ARGUMENTS or name in required:
            continue
        if name == "dtype":
            if _policy_name(value) != _policy_name(default_config.get("dtype")):
                keyword["dtype"] = _policy_name(value)
            continue
        if name in default_config and value == default_config[name]:
            continue
        keyword[name] = _symmetric(value) if name.endswith("factor") else value
    required_values = [_symmetric(config[name]) if name.endswith("factor") else config[name] for name in required]
    # The first required argument reads best without its name (layers.Dense(128), layers.Dropout(0.5)).
    positional = required_values[:1]
    keyword = {**dict(zip(required[1:], required_values[1:])), **keyword}
    return positional, keyword


def layer_source(layer, *, replacements: dict | None = None) -> str:
    """One line of Python that makes `layer`, such as `layers.Conv2D(32, kernel_size=(3, 3), activation="relu")`.

    `replacements` maps an argument name to source text used instead of its value (`units` -> `num_classes`).
    """
    cls = _keras_class(layer)
    if cls is None:
        raise NotExportable(f"{type(layer).__name__} is not a Keras layer.")
    positional, keyword = layer_arguments(layer)
    replacements = replacements or {}
    required = _required_arguments(cls)
    parts = [replacements.get(required[0], python_value(value)) if required else python_value(value)
             for value in positional]
    parts += [f"{name}={replacements.get(name, python_value(value))}" for name, value in keyword.items()]
    return f"layers.{cls.__name__}({', '.join(parts)})"


def _chain_of_layers(model) -> list:
    """The model's layers after its input, checking that each one takes the previous one's output."""
    keras = backend.keras()
    chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotExportable("Only a model with one input and one output can be written as a script.")
    previous = model.inputs[0]
    for layer in chain:
        # A block (a model used as a layer) has a node of its own inside it too: find the one of this model.
        node = next((node for node in layer._inbound_nodes
                     if len(node.input_tensors) == 1 and node.input_tensors[0] is previous), None)
        if node is None or len(node.output_tensors) != 1:
            raise NotExportable("The layers of this model are not one chain (a layer takes another input than "
                                "the previous layer's output), so it cannot be written as keras.Sequential.")
        previous = node.output_tensors[0]
    if previous is not model.outputs[0]:
        raise NotExportable("The model's output is not its last layer's, so it cannot be written as a chain.")
    return chain


def _identifier(name: str, taken: set) -> str:
    """A Python variable name made from a layer's name, different from those already `taken`."""
    base = re.sub(r"\W+", "_", str(name)).strip("_") or "x"
    if base[0].isdigit():
        base = f"x_{base}"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate


# Why a block of the app's models exists, for the comment above the function that rebuilds it.
_BLOCK_PURPOSES = {
    "random_stroke_thickness": "Draws each training digit with a thinner or thicker pen (an augmentation: at "
                               "test time it changes nothing).",
}


def block_function(block, function_name: str) -> list[str]:
    """The lines of a Python function that rebuilds `block`, a functional model used as one layer of a bigger
    model (such as the app's stroke-thickness augmentation), from the same Keras layers, in functional style."""
    keras = backend.keras()
    if not hasattr(block, "operations") or len(block.inputs) != 1 or len(block.outputs) != 1:
        raise NotExportable(f"The block {block.name} is not a functional model with one input and one output.")
    taken = set()
    names = {}  # id(tensor) -> the variable that holds it
    purpose = _BLOCK_PURPOSES.get(block.name, f"The block {block.name} of the app's model, from the same layers.")
    lines = [f"def {function_name}():", f'    """{purpose}"""']
    for operation in block.operations:
        node = operation._inbound_nodes[0]
        outputs = node.output_tensors
        if isinstance(operation, keras.layers.InputLayer):
            variable = _identifier(operation.name, taken)
            names[id(outputs[0])] = variable
            shape = tuple(int(size) for size in outputs[0].shape[1:])
            lines.append(f"    {variable} = keras.Input(shape={python_value(shape)})")
            continue
        if _keras_class(operation) is None or len(outputs) != 1:
            raise NotExportable(f"The block {block.name} uses {type(operation).__name__}, which is not a Keras layer.")
        arguments = node.arguments.args
        if len(arguments) != 1:
            raise NotExportable(f"The block {block.name} calls {operation.name} in a way the script cannot write.")
        inputs = arguments[0]
        if isinstance(inputs, (list, tuple)):
            argument = "[" + ", ".join(names[id(tensor)] for tensor in inputs) + "]"
        else:
            argument = names[id(inputs)]
        variable = _identifier(operation.name, taken)
        names[id(outputs[0])] = variable
        lines.append(f"    {variable} = {layer_source(operation)}({argument})")
    result = names[id(block.outputs[0])]
    lines.append(f'    return keras.Model({names[id(block.inputs[0])]}, {result}, name="{block.name}")')
    return lines


def _left_out_comment(layer) -> str:
    name = type(layer).__name__
    if layer.count_params():
        raise NotExportable(
            f"The model contains a {name} layer with weights, which is not part of Keras: the script could not "
            "build the same model. Download the .keras file instead."
        )
    return (f"# Left out: {name} ({layer.name}), an augmentation of Neural Canvas that is not part of Keras. "
            "It has no weights and changes only the training images.")


def model_lines(model, num_classes: int) -> tuple[list[str], list[list[str]], list[str]]:
    """What the script needs to build `model`: the lines inside `keras.Sequential([...])`, the functions that
    build its blocks (functional models used as layers), and the names of the layers left out."""
    keras = backend.keras()
    chain = _chain_of_layers(model)
    last_dense = max((index for index, layer in enumerate(chain) if type(layer).__name__ == "Dense"), default=None)
    lines = ["keras.Input(shape=input_shape, dtype=\"uint8\"),"]
    functions, left_out, taken = [], [], set()
    for index, layer in enumerate(chain):
        if isinstance(layer, keras.Model):
            function_name = _identifier(layer.name, taken)
            functions.append(block_function(layer, function_name))
            lines.append(f"{function_name}(),")
            continue
        if _keras_class(layer) is None:
            lines.append(_left_out_comment(layer))
            left_out.append(type(layer).__name__)
            continue
        replacements = {}
        if index == last_dense and layer.get_config().get("units") == num_classes:
            replacements["units"] = "num_classes"
        lines.append(layer_source(layer, replacements=replacements) + ",")
    return lines, functions, left_out


# --- the script ----------------------------------------------------------------------------------------------


def _hyperparameters(run) -> dict:
    """The run's training settings, with the app's defaults for any an older run did not record."""
    defaults = {spec.name: spec.default for spec in architectures.COMMON_HYPERPARAMETERS}
    if run.architecture in architectures.ARCHITECTURES:
        defaults.update(architectures.get_architecture(run.architecture).defaults())
    return {**defaults, **run.hyperparameters}


_OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}


def standalone_script(run, model) -> str:
    """A Python script, in the style of the Keras examples, that trains `model`'s architecture on the run's
    dataset with the run's hyperparameters. Raises NotExportable with a reason for a model it cannot write."""
    if run.imported:
        raise NotExportable("This model was imported, so the app does not know how it was trained: only its "
                            ".keras file can be downloaded.")
    if run.dataset == "pendigits":
        raise NotExportable("This run learnt from the app's pen-drawn digits, which Keras cannot load: only its "
                            ".keras file can be downloaded.")
    if run.dataset not in KERAS_DATASETS:
        raise NotExportable(f"This run names a dataset the script cannot load ({run.dataset!r}).")
    info = datasets.get_info(run.dataset)
    hp = _hyperparameters(run)
    if hp["optimizer"] not in _OPTIMIZERS:
        raise NotExportable(f"The optimizer {hp['optimizer']!r} is not one the script knows.")
    lines, functions, left_out = model_lines(model, info.num_classes)
    keras_dataset = KERAS_DATASETS[run.dataset]
    uses_validation = hp["validation_fraction"] > 0
    monitor = "val_loss" if uses_validation else "loss"
    cosine = hp["learning_rate_schedule"] == "cosine"
    patience = int(hp.get("early_stopping_patience") or 0)
    architecture = architectures.ARCHITECTURES.get(run.architecture)
    title = architecture.title if architecture else run.architecture

    out = []
    add = out.append
    add('"""')
    add(f"Title: {_one_line(run.name)}")
    add(f"Description: {title}, trained on {info.title}")
    add(f"with the settings of the Neural Canvas run {run.id}.")
    add(f"Generated: {datetime.date.today().isoformat()} by Neural Canvas")
    add("")
    add("Run it with `python " + script_file_name(run) + "` (it needs Keras 3 with a backend such as TensorFlow).")
    add("It rebuilds the same model layer by layer and trains it again from scratch, so the accuracy will be")
    add("close to the app's, not identical: the data and the random start differ a little.")
    add('"""')
    add("")
    add('"""')
    add("## Setup")
    add('"""')
    add("")
    if cosine:
        add("import math")
        add("")
    add("import keras")
    add("from keras import layers")
    add("")
    add("# The same seed fixes the starting weights, dropout and shuffling, so two runs of this script agree.")
    add(f"keras.utils.set_random_seed({int(hp['seed'])})")
    add("")
    add('"""')
    add("## Prepare the data")
    add('"""')
    add("")
    add("# Model / data parameters")
    add(f"num_classes = {info.num_classes}")
    add(f"input_shape = {python_value(tuple(info.image_shape))}")
    add("")
    add("# Load the data and split it between train and test sets.")
    add(f"(x_train, y_train), (x_test, y_test) = keras.datasets.{keras_dataset}.load_data()")
    if keras_dataset == "cifar10":
        add("# CIFAR-10 labels come as a column (50000, 1): make them a plain list of class numbers.")
        add("y_train, y_test = y_train.reshape(-1), y_test.reshape(-1)")
    if run.dataset == "mnist_sample":
        add("")
        add(f"# The app trained on its offline sample: {info.num_train:,} training and {info.num_test:,} test "
            "images taken")
        add("# from MNIST. This script uses the whole of MNIST (60,000 and 10,000). To train on as few images")
        add("# as the app did, uncomment the next line.")
        add(f"# x_train, y_train = x_train[:{info.num_train}], y_train[:{info.num_train}]")
    if run.dataset == "digits_mix":
        add("")
        add("# The app trained on its offline MNIST sample plus 4,996 digits drawn with a pen by 20 people")
        add("# (its core/data/pendigits.npz, drawn on a canvas); Keras does not have those, so this script uses")
        add("# MNIST alone.")
    add("")
    add("# The images stay whole numbers from 0 to 255: the model's first layer, Rescaling, divides them by 255,")
    add("# so the saved model takes raw images, as the app's models do.")
    add('print("x_train shape:", x_train.shape)')
    add('print(x_train.shape[0], "train samples")')
    add('print(x_test.shape[0], "test samples")')
    add("")
    add('"""')
    add("## Build the model")
    add('"""')
    add("")
    for function in functions:
        out.extend(function)
        add("")
        add("")
    add("model = keras.Sequential(")
    add("    [")
    out.extend(f"        {line}" for line in lines)
    add("    ]")
    add(")")
    add("")
    add("model.summary()")
    add("")
    add('"""')
    add("## Train the model")
    add('"""')
    add("")
    add(f"batch_size = {int(hp['batch_size'])}")
    add(f"epochs = {int(hp['epochs'])}")
    add(f"learning_rate = {python_value(float(hp['learning_rate']))}")
    if uses_validation:
        add("# Share of the training images held out to watch for overfitting (Keras takes the last ones).")
        add(f"validation_split = {python_value(float(hp['validation_fraction']))}")
    add("")
    add("model.compile(")
    add('    loss="sparse_categorical_crossentropy",')
    add(f"    optimizer=keras.optimizers.{_OPTIMIZERS[hp['optimizer']]}(learning_rate=learning_rate),")
    add('    metrics=["accuracy"],')
    add(")")
    add("")
    add("callbacks = []")
    if cosine:
        add("")
        add("")
        add("def cosine_decay(epoch):")
        add('    """The learning rate glides from its first value down to nearly zero by the last epoch, along')
        add('    half a cosine wave: big steps while the model is far off, small ones to settle it at the end."""')
        add("    return learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs))")
        add("")
        add("")
        add("callbacks.append(keras.callbacks.LearningRateScheduler(cosine_decay))")
        add("")
    if patience:
        add(f"# Stop once the {'validation ' if uses_validation else ''}loss has not improved for {patience} "
            f"epoch{'s' if patience != 1 else ''}, and keep the best epoch's weights.")
        add("callbacks.append(")
        add(f'    keras.callbacks.EarlyStopping(monitor="{monitor}", patience={patience}, '
            "restore_best_weights=True)")
        add(")")
    else:
        add(f"# Like the app, keep the weights of the epoch with the lowest {'validation ' if uses_validation else ''}"
            "loss (patience=epochs never stops early).")
        add("callbacks.append(")
        add(f'    keras.callbacks.EarlyStopping(monitor="{monitor}", patience=epochs, restore_best_weights=True)')
        add(")")
    add("")
    add("model.fit(")
    add("    x_train,")
    add("    y_train,")
    add("    batch_size=batch_size,")
    add("    epochs=epochs,")
    if uses_validation:
        add("    validation_split=validation_split,")
    add("    callbacks=callbacks,")
    add(")")
    add("")
    add('"""')
    add("## Evaluate the trained model")
    add('"""')
    add("")
    add("score = model.evaluate(x_test, y_test, verbose=0)")
    add('print("Test loss:", score[0])')
    add('print("Test accuracy:", score[1])')
    add("")
    add("# Saved like the app saves it: this file can be imported on the Results page of Neural Canvas.")
    add(f'model.save("{safe_file_name(run.name, "", fallback="model")}_retrained.keras")')
    return "\n".join(out) + "\n"


def _one_line(text) -> str:
    # Backslashes doubled: in a docstring, a run named "C:\Users" would be a broken \U escape.
    return " ".join(str(text).split()).replace("\\", "\\\\").replace('"""', "'''")
