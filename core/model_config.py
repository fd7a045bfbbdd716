"""What a Keras model file declares, checked before Keras builds anything from it.

A `.keras` file's `config.json` names the classes and functions Keras will look up and call while loading:
layers, activations, initialisers, regularisers, constraints. Keras's safe mode refuses Python lambdas but
accepts any public `keras.*` function, so a file could name `keras.config.set_max_epochs` as an activation and
change the whole server. This module reads the config as plain JSON and

* accepts only an ALLOWLIST of the objects this app's own architectures and ordinary Keras image models use,
  refusing anything else with the name it found (`ConfigRefused`);
* works out every layer's output shape, the number of parameters and the floating-point operations per image
  from the config alone, so that a file declaring `Dense(units=400000)` is refused before a single weight is
  allocated.

    cost = model_config.check_config(json.loads(archive.read("config.json")))
    cost.parameters, cost.flops_per_image
"""

import dataclasses
import math

MAX_PARAMETERS = 5_000_000            # the app's largest architecture has about 2.1 M (cifar_cnn on CIFAR-10)
MAX_FLOPS_PER_IMAGE = 500_000_000     # 0.5 GFLOP: the app's largest needs about 0.05 GFLOP per image
MAX_LAYERS = 300                      # every layer of every nested model counted
MAX_NESTING = 8                       # models inside models, and objects inside objects, this deep at most
MAX_DIMENSION = 4096                  # no image side or channel count of an image model is larger

# Every layer Keras may build from an imported file, with what it does to the shape of its input.
_SAME_SHAPE_LAYERS = {
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Rescaling", "Dropout", "SpatialDropout2D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "BatchNormalization", "LayerNormalization",
    "Identity", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomBrightness",
    "RandomContrast", "RandomShear", "PReLU",
}
_MERGE_LAYERS = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
_SHAPE_LAYERS = {
    "InputLayer", "Flatten", "Reshape", "Dense", "Conv2D", "DepthwiseConv2D", "SeparableConv2D",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D",
    "Cropping2D", "UpSampling2D", "Concatenate",
}
ALLOWED_LAYERS = frozenset(_SAME_SHAPE_LAYERS | _MERGE_LAYERS | _SHAPE_LAYERS)
ALLOWED_MODELS = frozenset({"Functional", "Sequential", "Model"})
ALLOWED_ACTIVATIONS = frozenset({
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "sigmoid", "hard_sigmoid",
    "hard_silu", "hard_swish", "tanh", "softmax", "log_softmax", "softplus", "softsign", "linear",
    "exponential", "mish",
})
ALLOWED_INITIALIZERS = frozenset({
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal", "Zeros", "Ones",
    "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal", "Orthogonal", "VarianceScaling",
    "Identity",
})
ALLOWED_REGULARIZERS = frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"})
ALLOWED_CONSTRAINTS = frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"})

# Which module each kind of object must come from, as Keras writes it in config.json. A known class name in
# another module (say "Dense" in keras.config) is refused too: Keras would look it up there.
_ALLOWED = {
    "keras.layers": ALLOWED_LAYERS,
    "keras.initializers": ALLOWED_INITIALIZERS,
    "keras.regularizers": ALLOWED_REGULARIZERS,
    "keras.constraints": ALLOWED_CONSTRAINTS,
    "keras": ALLOWED_MODELS | {"DTypePolicy"},
    "keras.models": ALLOWED_MODELS,
    "keras.src.models.functional": {"Functional"},
    "keras.src.models.sequential": {"Sequential"},
    "keras.src.models.model": {"Model"},
    "keras.dtype_policies": {"DTypePolicy"},
}
_ACTIVATION_MODULES = {"keras.activations", "keras.src.activations.activations"}
_ALLOWED_DTYPES = {"float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16", "uint8", "int32",
                   "float64", None}


class ConfigRefused(ValueError):
    """The model file declares something this app will not build; the message names it."""


@dataclasses.dataclass(frozen=True)
class ModelCost:
    """What the model would cost, worked out from its config alone."""

    parameters: int
    flops_per_image: int
    input_shape: tuple
    output_shape: tuple
    layers: int


# --- the allowlist -----------------------------------------------------------------------------------------


def check_objects(config) -> None:
    """Raises ConfigRefused for the first object in `config` (the parsed config.json) that is not allowed.

    The top-level `compile_config` (optimizer, loss) is skipped: the app loads models with compile=False, and
    Keras then never reads it.
    """
    if not isinstance(config, dict):
        raise ConfigRefused("This model file's config.json does not describe a model.")
    top = {key: value for key, value in config.items() if key != "compile_config"}
    _check_value(top, depth=0)


def _check_value(value, depth: int, key: str = "") -> None:
    if depth > 40:
        raise ConfigRefused("This model file's config is nested too deeply to be an image model.")
    if isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1, key)
        return
    if isinstance(value, str):
        if key == "activation" and value not in ALLOWED_ACTIVATIONS:
            raise ConfigRefused(f"This model uses the activation {value!r}, which this app does not load. "
                                f"Allowed: {', '.join(sorted(ALLOWED_ACTIVATIONS))}.")
        return
    if not isinstance(value, dict):
        return
    if "class_name" in value:
        _check_object(value)
    if key == "dtype" and "class_name" not in value:
        raise ConfigRefused("This model declares a data type this app does not load.")
    for inner_key, inner in value.items():
        _check_value(inner, depth + 1, inner_key if isinstance(inner_key, str) else "")


def _check_object(entry: dict) -> None:
    class_name = entry.get("class_name")
    module = entry.get("module")
    registered = entry.get("registered_name")
    if class_name == "__keras_tensor__":
        return  # a placeholder for a layer's input: only its shape and dtype, checked with the layers
    shown = f"{module}.{class_name}" if module else str(class_name)
    if class_name in ("Lambda", "__lambda__"):
        raise ConfigRefused("This model contains a Lambda layer, which carries Python code. For everyone's "
                            "safety it is never loaded. Rebuild the model from standard Keras layers.")
    if not isinstance(class_name, str) or (module is not None and not isinstance(module, str)):
        raise ConfigRefused(f"This model names an object this app cannot read: {shown[:120]!r}.")
    if class_name == "function":
        name = entry.get("config")
        if module in _ACTIVATION_MODULES and name in ALLOWED_ACTIVATIONS and registered in (None, "function"):
            return
        raise ConfigRefused(f"This model calls the function {module}.{name} while loading, which this app "
                            "does not allow. Use a standard activation such as 'relu' or 'softmax'.")
    if registered not in (None, class_name):
        raise ConfigRefused(f"This model uses the custom object {str(registered)[:120]!r}, which this app "
                            "does not load. Rebuild it from standard Keras layers.")
    if module in _ACTIVATION_MODULES and class_name in ALLOWED_ACTIVATIONS:
        return
    if class_name in _ALLOWED.get(module, ()):
        if class_name == "DTypePolicy":
            policy = (entry.get("config") or {}).get("name") if isinstance(entry.get("config"), dict) else None
            if policy not in _ALLOWED_DTYPES:
                raise ConfigRefused(f"This model declares the data type {str(policy)[:60]!r}, which this app "
                                    "does not load.")
        return
    raise ConfigRefused(
        f"This model uses {shown[:160]!r}, which this app does not load: only standard Keras layers, "
        "activations, initialisers, regularisers and constraints of image models are allowed. Rebuild it "
        "from those."
    )


# --- shapes, parameters and operations ---------------------------------------------------------------------


@dataclasses.dataclass
class _Tally:
    parameters: int = 0
    flops: int = 0
    layers: int = 0

    def add(self, parameters: int, flops: int) -> None:
        self.parameters += parameters
        self.flops += flops
        # Stop adding up at once: a config that declares billions is refused without computing the rest.
        if self.parameters > MAX_PARAMETERS:
            raise ConfigRefused(
                f"This model has more than {self.parameters:,} parameters; models up to {MAX_PARAMETERS:,} can "
                "be imported (this app's largest has about 2.1 million)."
            )
        if self.flops > MAX_FLOPS_PER_IMAGE:
            raise ConfigRefused(
                f"This model needs more than {self.flops / 1e9:.2f} GFLOP per image; models up to "
                f"{MAX_FLOPS_PER_IMAGE / 1e9:.1f} GFLOP per image can be imported, so that checking it on the "
                "test images takes minutes at most."
            )


def check_config(config) -> ModelCost:
    """Checks the objects of a parsed config.json and returns what the model costs; raises ConfigRefused."""
    check_objects(config)
    tally = _Tally()
    input_shape, output_shape = _model(config, None, tally, depth=0)
    if len(output_shape) != 1:
        raise ConfigRefused(f"This model's output has the shape {output_shape}; a classifier gives one score "
                            "per class.")
    return ModelCost(tally.parameters, tally.flops, input_shape, output_shape, tally.layers)


def _int(value, what: str, minimum: int = 0, maximum: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ConfigRefused(f"This model declares {what} = {str(value)[:40]!r}; expected a whole number from "
                            f"{minimum} to {maximum}.")
    return value


def _pair(value, what: str, minimum: int = 1, maximum: int = MAX_DIMENSION) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigRefused(f"This model declares {what} = {str(value)[:40]!r}; expected two whole numbers.")
    return _int(value[0], what, minimum, maximum), _int(value[1], what, minimum, maximum)


def _shape(value, what: str) -> tuple:
    """An image shape without the batch axis, every side known and bounded."""
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 4:
        raise ConfigRefused(f"This model declares the shape {str(value)[:60]} for {what}; expected 1 to 4 sides.")
    return tuple(_int(side, f"a side of {what}", 1, MAX_DIMENSION) for side in value)


def _size(shape: tuple) -> int:
    return math.prod(shape)


def _model(entry: dict, input_shape: tuple | None, tally: _Tally, depth: int) -> tuple[tuple, tuple]:
    """(input shape, output shape) of a Functional or Sequential model entry, adding its costs to `tally`."""
    if depth > MAX_NESTING:
        raise ConfigRefused("This model nests models too deeply.")
    class_name = entry.get("class_name")
    config = entry.get("config")
    if class_name not in ALLOWED_MODELS or not isinstance(config, dict):
        raise ConfigRefused(f"This file does not hold a Keras model ({str(class_name)[:60]!r}).")
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ConfigRefused("This model has no layers.")
    if class_name == "Sequential":
        return _sequential(config, layers, input_shape, tally, depth)
    return _functional(config, layers, input_shape, tally, depth)


def _sequential(config, layers, input_shape, tally, depth):
    first = layers[0] if isinstance(layers[0], dict) else {}
    declared = None
    if first.get("class_name") == "InputLayer":
        declared = _input_layer_shape(first)
        layers = layers[1:]
    elif isinstance(config.get("build_input_shape"), list):
        declared = _shape(config["build_input_shape"][1:], "the model's input")
    if declared is None and input_shape is None:
        raise ConfigRefused("This model does not say the size of its input images.")
    if input_shape is not None and declared is not None and declared != input_shape:
        raise ConfigRefused(f"A model inside this model takes {declared} but is given {input_shape}.")
    start = declared or input_shape
    shape = start
    for layer in layers:
        shape = _layer(layer, [shape], tally, depth)
    return start, shape


def _history(tensor) -> tuple[str, int]:
    if isinstance(tensor, dict) and tensor.get("class_name") == "__keras_tensor__":
        history = (tensor.get("config") or {}).get("keras_history")
    elif isinstance(tensor, list) and tensor and isinstance(tensor[0], str):
        history = tensor  # the older format: [layer name, node index, tensor index, kwargs]
    else:
        raise ConfigRefused("This model connects its layers in a way this app cannot read.")
    if not isinstance(history, list) or len(history) < 2 or not isinstance(history[0], str):
        raise ConfigRefused("This model connects its layers in a way this app cannot read.")
    return history[0], _int(history[1], "a node index", 0, 1000)


def _tensors(args) -> list:
    """The input tensors of one layer call, from its `args` (a tensor, or a list of tensors for a merge)."""
    found = []
    for arg in args if isinstance(args, list) else [args]:
        if isinstance(arg, list) and arg and not isinstance(arg[0], str):
            found.extend(arg)
        elif isinstance(arg, (dict, list)):
            found.append(arg)
    return found


def _functional(config, layers, input_shape, tally, depth):
    outputs: dict[tuple[str, int], tuple] = {}
    inputs = []
    for layer in layers:
        if not isinstance(layer, dict) or not isinstance(layer.get("name"), str):
            raise ConfigRefused("This model lists a layer this app cannot read.")
        name = layer["name"]
        if layer.get("class_name") == "InputLayer":
            shape = _input_layer_shape(layer)
            if input_shape is not None and shape != input_shape:
                raise ConfigRefused(f"A model inside this model takes {shape} but is given {input_shape}.")
            outputs[(name, 0)] = shape
            inputs.append(shape)
            tally.layers += 1
            continue
        nodes = layer.get("inbound_nodes")
        if not isinstance(nodes, list) or not nodes:
            raise ConfigRefused(f"The layer {name[:60]!r} of this model is connected to nothing.")
        for index, node in enumerate(nodes):
            args = node.get("args") if isinstance(node, dict) else node
            shapes = []
            for tensor in _tensors(args):
                source = _history(tensor)
                if source not in outputs:
                    raise ConfigRefused(f"The layer {name[:60]!r} takes the output of a layer that comes later "
                                        "or does not exist.")
                shapes.append(outputs[source])
            if not shapes:
                raise ConfigRefused(f"The layer {name[:60]!r} of this model has no input.")
            outputs[(name, index)] = _layer(layer, shapes, tally, depth)
    if len(inputs) != 1:
        raise ConfigRefused(f"This model takes {len(inputs)} inputs; an image classifier takes one image.")
    ends = config.get("output_layers")
    if isinstance(ends, list) and len(ends) == 1 and isinstance(ends[0], list):
        ends = ends[0]
    if not (isinstance(ends, list) and len(ends) >= 2 and isinstance(ends[0], str)):
        raise ConfigRefused("This model has no single output; an image classifier gives one.")
    end = (ends[0], _int(ends[1], "a node index", 0, 1000))
    if end not in outputs:
        raise ConfigRefused("This model's output comes from a layer it does not have.")
    return inputs[0], outputs[end]


def _input_layer_shape(layer: dict) -> tuple:
    config = layer.get("config") or {}
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if not isinstance(shape, list) or len(shape) < 2:
        raise ConfigRefused("This model does not say the size of its input images.")
    return _shape(shape[1:], "the model's input")


def _layer(layer, shapes: list[tuple], tally: _Tally, depth: int) -> tuple:
    """The output shape of one layer call on inputs of `shapes`; its parameters and work go into `tally`."""
    if not isinstance(layer, dict):
        raise ConfigRefused("This model lists a layer this app cannot read.")
    kind = layer.get("class_name")
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    tally.layers += 1
    if tally.layers > MAX_LAYERS:
        raise ConfigRefused(f"This model has more than {MAX_LAYERS} layers; image models here have far fewer.")
    if kind in ALLOWED_MODELS:
        declared, shape = _model(layer, shapes[0], tally, depth + 1)
        return shape
    _check_build_shape(layer, shapes)
    shape = shapes[0]
    size = _size(shape)
    if config.get("data_format", "channels_last") != "channels_last":
        raise ConfigRefused(f"The layer {kind} uses channels first; this app's images have channels last.")

    if kind in _SAME_SHAPE_LAYERS:
        parameters = 0
        if kind == "BatchNormalization":
            parameters = 4 * shape[-1]
        elif kind == "LayerNormalization":
            parameters = 2 * shape[-1]
        elif kind == "PReLU":
            parameters = size
        # Augmentations resample the image while training; a handful of operations per value is plenty.
        tally.add(parameters, 10 * size)
        return shape
    if kind in _MERGE_LAYERS:
        if any(other != shape for other in shapes[1:]):
            raise ConfigRefused(f"The layer {kind} merges tensors of different shapes: {shapes}.")
        tally.add(0, size * len(shapes))
        return shape
    if kind == "Concatenate":
        axis = _int(config.get("axis", -1), "the axis of Concatenate", -4, 4)
        axis = axis % len(shape) if axis < 0 else axis - 1
        if axis < 0 or axis >= len(shape):
            raise ConfigRefused("The layer Concatenate joins along an axis its inputs do not have.")
        joined = list(shape)
        joined[axis] = sum(other[axis] for other in shapes)
        tally.add(0, _size(tuple(joined)))
        return _shape(joined, "Concatenate's output")
    if kind == "Flatten":
        return (size,)
    if kind == "Reshape":
        target = config.get("target_shape")
        if not isinstance(target, list) or not target:
            raise ConfigRefused("The layer Reshape does not say its target shape.")
        sides = [_int(side, "a side of Reshape's target", -1, size) for side in target]
        if sides.count(-1) == 1:
            known = math.prod(side for side in sides if side != -1) or 1
            sides[sides.index(-1)] = size // known
        if math.prod(sides) != size or 0 in sides:
            raise ConfigRefused(f"The layer Reshape turns {shape} into {tuple(target)}, which holds a different "
                                "number of values.")
        return _shape(sides, "Reshape's output")
    if kind == "Dense":
        units = _int(config.get("units"), "the units of Dense", 1, MAX_PARAMETERS)
        use_bias = config.get("use_bias", True) is not False
        parameters = shape[-1] * units + (units if use_bias else 0)
        tally.add(parameters, 2 * (size // shape[-1]) * shape[-1] * units)
        return (*shape[:-1], units)
    if kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        return _convolution(kind, config, shape, tally)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        _image(kind, shape)
        pool = _pair(config.get("pool_size", 2), f"the pool size of {kind}")
        strides = _pair(config.get("strides") or pool, f"the strides of {kind}")
        height, width = _sides(shape, pool, strides, config.get("padding", "valid"), (1, 1), kind)
        tally.add(0, height * width * shape[2] * pool[0] * pool[1])
        return (height, width, shape[2])
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        _image(kind, shape)
        tally.add(0, size)
        return (1, 1, shape[2]) if config.get("keepdims") else (shape[2],)
    if kind == "ZeroPadding2D":
        _image(kind, shape)
        padding = config.get("padding", 1)
        rows, columns = _padding(padding, kind)
        return _shape((shape[0] + sum(rows), shape[1] + sum(columns), shape[2]), "ZeroPadding2D's output")
    if kind == "Cropping2D":
        _image(kind, shape)
        rows, columns = _padding(config.get("cropping", 0), kind)
        return _shape((shape[0] - sum(rows), shape[1] - sum(columns), shape[2]), "Cropping2D's output")
    if kind == "UpSampling2D":
        _image(kind, shape)
        factor = _pair(config.get("size", 2), "the size of UpSampling2D", 1, 64)
        out = _shape((shape[0] * factor[0], shape[1] * factor[1], shape[2]), "UpSampling2D's output")
        tally.add(0, _size(out))
        return out
    if kind == "InputLayer":
        raise ConfigRefused("This model has an input layer in the middle of its layers.")
    raise ConfigRefused(f"This model uses the layer {str(kind)[:60]!r}, which this app does not load.")


def _check_build_shape(layer: dict, shapes: list[tuple]) -> None:
    # Keras builds a layer's weights from the input shape written in the file, not from the shape that flows
    # into it: a file that claims a larger input would allocate a larger kernel than we counted.
    build = layer.get("build_config")
    if not isinstance(build, dict) or build.get("input_shape") is None:
        return
    declared = build["input_shape"]
    given = [list(shape) for shape in shapes]
    if isinstance(declared, list) and declared and isinstance(declared[0], list):
        claimed = [list(item[1:]) for item in declared]
    elif isinstance(declared, list) and declared:
        claimed = [list(declared[1:])]
    else:
        claimed = None
    if claimed != given:
        raise ConfigRefused(f"The layer {str(layer.get('name'))[:60]!r} says it takes {str(declared)[:80]} but is "
                            f"given {shapes[0]}: this file's config contradicts itself.")


def _image(kind: str, shape: tuple) -> None:
    if len(shape) != 3:
        raise ConfigRefused(f"The layer {kind} needs images (height, width, channels); it is given {shape}.")


def _padding(value, kind: str):
    if isinstance(value, int) and not isinstance(value, bool):
        value = [[value, value], [value, value]]
    if isinstance(value, list) and len(value) == 2 and all(isinstance(item, int) for item in value):
        value = [[value[0], value[0]], [value[1], value[1]]]
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(item, list) for item in value)):
        raise ConfigRefused(f"The layer {kind} declares a padding this app cannot read.")
    return (_pair(value[0], f"the padding of {kind}", 0, MAX_DIMENSION),
            _pair(value[1], f"the padding of {kind}", 0, MAX_DIMENSION))


def _sides(shape, kernel, strides, padding, dilation, kind) -> tuple[int, int]:
    sides = []
    for side, size, stride, rate in zip(shape[:2], kernel, strides, dilation):
        reach = (size - 1) * rate + 1
        if padding == "same":
            sides.append(-(-side // stride))
        elif padding == "valid":
            sides.append((side - reach) // stride + 1 if side >= reach else 0)
        else:
            raise ConfigRefused(f"The layer {kind} declares the padding {str(padding)[:20]!r}; "
                                "'same' or 'valid' expected.")
    if min(sides) < 1:
        raise ConfigRefused(f"The layer {kind} shrinks {shape} to nothing.")
    return sides[0], sides[1]


def _convolution(kind: str, config: dict, shape: tuple, tally: _Tally) -> tuple:
    _image(kind, shape)
    channels = shape[2]
    kernel = _pair(config.get("kernel_size"), f"the kernel size of {kind}", 1, 64)
    strides = _pair(config.get("strides", 1), f"the strides of {kind}", 1, 64)
    dilation = _pair(config.get("dilation_rate", 1), f"the dilation of {kind}", 1, 64)
    height, width = _sides(shape, kernel, strides, config.get("padding", "valid"), dilation, kind)
    use_bias = config.get("use_bias", True) is not False
    window = kernel[0] * kernel[1]
    positions = height * width
    if kind == "DepthwiseConv2D":
        multiplier = _int(config.get("depth_multiplier", 1), "the depth multiplier", 1, MAX_DIMENSION)
        filters = channels * multiplier
        parameters = window * filters + (filters if use_bias else 0)
        flops = 2 * positions * window * filters
    elif kind == "SeparableConv2D":
        multiplier = _int(config.get("depth_multiplier", 1), "the depth multiplier", 1, MAX_DIMENSION)
        filters = _int(config.get("filters"), f"the filters of {kind}", 1, MAX_DIMENSION)
        depthwise = channels * multiplier
        parameters = window * depthwise + depthwise * filters + (filters if use_bias else 0)
        flops = 2 * positions * (window * depthwise + depthwise * filters)
    else:
        filters = _int(config.get("filters"), f"the filters of {kind}", 1, MAX_DIMENSION)
        groups = _int(config.get("groups", 1), "the groups of Conv2D", 1, MAX_DIMENSION)
        if channels % groups or filters % groups:
            raise ConfigRefused(f"The layer {kind} splits {channels} channels into {groups} groups.")
        parameters = window * (channels // groups) * filters + (filters if use_bias else 0)
        flops = 2 * positions * window * (channels // groups) * filters
    tally.add(parameters, flops)
    return (height, width, filters)
