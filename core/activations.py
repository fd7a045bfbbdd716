"""What a trained model sees: the activations of every layer for one image, and its first layer's filters.

A model of `core.architectures` is a chain of layers. This module walks that chain once and picks the stages a
student can look at: each convolution (with the batch normalisation and ReLU that follow it, when the model
has them), each pooling layer, each dense layer and the output. It then builds one Keras model that returns
all of those stages' outputs in a single call, keeps it in a small cache, and answers in milliseconds:

    from core import activations, inference, runs

    predictor = inference.get_predictor(runs.RunStore(), run_id)   # the run's model, cached
    inspector = activations.get_inspector(predictor.model)          # built once per model, cached
    for activation in inspector.activations(image):                 # raw uint8 image, the model's input shape
        print(activation.title, activation.values.shape)            # "Convolution 1 · 32 filters 3×3 → 28×28×32"
    inspector.filters                                               # (k, k, in, out) weights, or None

Layers that change nothing at inference (augmentation, dropout) and layers that only move numbers around
(rescaling, reshaping, flattening) are left out: they would show the same picture twice.
"""

import collections
import dataclasses
import threading

import numpy as np

from core import backend, lru

# Kinds of stage, in the words the page uses.
CONVOLUTION = "convolution"
POOLING = "pooling"
DENSE = "dense"
OUTPUT = "output"

# Inspectors kept in memory; each holds a reference to its model, like inference's cache of predictors.
CACHE_SIZE = 8

# Layers that finish the work of the convolution or dense layer just before them (a block such as
# conv -> batch norm -> ReLU is shown as one stage, after its activation, which is what the next layer gets).
_FOLLOWER_CLASS_NAMES = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "PReLU", "ELU", "Softmax")
_CONVOLUTION_CLASS_NAMES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose")
_POOLING_CLASS_NAMES = ("MaxPooling2D", "AveragePooling2D")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One place in the model whose output is worth showing.

    Attributes:
        name: The name of the layer whose output this stage shows (the last layer of the stage).
        layer_names: Every layer of the stage, first the convolution, pooling or dense layer itself.
        kind: "convolution", "pooling", "dense" or "output".
        title: A readable title, such as "Convolution 1 · 32 filters 3×3 → 28×28×32".
        explanation: One sentence for a student on what this stage does.
        output_shape: The shape of one image's activations: (height, width, channels) or (units,).
    """

    name: str
    layer_names: tuple[str, ...]
    kind: str
    title: str
    explanation: str
    output_shape: tuple[int, ...]

    @property
    def is_map(self) -> bool:
        """Whether the stage gives feature maps (height, width, channels) rather than a vector of units."""
        return len(self.output_shape) == 3


@dataclasses.dataclass(frozen=True)
class LayerActivation:
    """A stage's output for one image: `values` is float32, (height, width, channels) or (units,)."""

    stage: Stage
    values: np.ndarray

    @property
    def name(self) -> str:
        return self.stage.name

    @property
    def kind(self) -> str:
        return self.stage.kind

    @property
    def title(self) -> str:
        return self.stage.title


def _class_name(layer) -> str:
    return type(layer).__name__


def _is_convolution(layer) -> bool:
    return _class_name(layer) in _CONVOLUTION_CLASS_NAMES


def _is_pooling(layer) -> bool:
    return _class_name(layer) in _POOLING_CLASS_NAMES


def _is_dense(layer) -> bool:
    return _class_name(layer) == "Dense"


def _single_input(layer):
    """The tensor a layer was called on, or None for a layer used on several inputs or several times."""
    try:
        tensor = layer.input
    except (AttributeError, ValueError):
        return None
    return tensor if not isinstance(tensor, (list, tuple)) else None


def _output_shape(layer) -> tuple[int, ...]:
    return tuple(int(size) for size in layer.output.shape[1:])


def _activation_name(layer) -> str:
    """The activation function of a layer in words ("ReLU", "softmax"), or "" for none (linear)."""
    class_name = _class_name(layer)
    if class_name in ("ReLU", "LeakyReLU", "PReLU", "ELU"):
        return {"ReLU": "ReLU", "LeakyReLU": "leaky ReLU", "PReLU": "PReLU", "ELU": "ELU"}[class_name]
    if class_name == "Softmax":
        return "softmax"
    if class_name == "BatchNormalization":
        return "batch norm"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", "") if activation is not None else ""
    if name in ("", "linear"):
        return ""
    return {"relu": "ReLU", "softmax": "softmax", "sigmoid": "sigmoid", "tanh": "tanh"}.get(name, name)


def _find_stages(model) -> list[tuple[str, list]]:
    """Groups the model's layers into stages: [(kind, [main layer, followers...]), ...] in model order."""
    stages = []
    current = None
    for layer in model.layers:
        if _is_convolution(layer) or _is_dense(layer) or _is_pooling(layer):
            kind = CONVOLUTION if _is_convolution(layer) else POOLING if _is_pooling(layer) else DENSE
            # A dense layer applied to an image (not flattened first) gives maps, not a vector: skip it.
            if kind == DENSE and len(layer.output.shape) != 2:
                current = None
                continue
            if kind != DENSE and len(layer.output.shape) != 4:
                current = None
                continue
            current = (kind, [layer])
            stages.append(current)
        elif (
            current is not None
            and current[0] != POOLING
            and _class_name(layer) in _FOLLOWER_CLASS_NAMES
            and _single_input(layer) is current[1][-1].output
        ):
            current[1].append(layer)
        else:
            current = None
    # The stage that gives the model's own output is the output layer, whatever it is made of.
    if stages and stages[-1][0] == DENSE and stages[-1][1][-1].output is _model_output(model):
        stages[-1] = (OUTPUT, stages[-1][1])
    return stages


def _model_output(model):
    outputs = model.outputs
    return outputs[0] if len(outputs) == 1 else None


def model_image(image, input_shape: tuple[int, ...], hint: str) -> np.ndarray:
    """One raw image as a model with `input_shape` reads it, or a ValueError that says what is wrong with it.

    A grayscale image gets the channel axis of one that such a model may want. `hint` ends the message about a
    wrong shape: what the caller should give instead.
    """
    image = np.asarray(image)
    if image.shape != input_shape and image.shape == input_shape[:2] and input_shape[2:] == (1,):
        image = image[..., np.newaxis]
    if image.shape != input_shape:
        raise ValueError(f"This model reads one image of shape {input_shape}; got an array of shape {image.shape}. "
                         f"{hint}")
    if image.dtype != np.uint8:
        raise ValueError(
            f"Images must be uint8 (0-255), as the datasets and the preprocessor make them; got dtype "
            f"{image.dtype}. Convert with `np.clip(image, 0, 255).astype(np.uint8)`."
        )
    return image


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(size) for size in shape)


def _describe_stage(kind: str, layers: list, number: int) -> tuple[str, str]:
    """The title and the one-sentence explanation of a stage, for the page."""
    main = layers[0]
    output_shape = _output_shape(layers[-1])
    steps = [step for step in (_activation_name(layer) for layer in layers) if step]
    after = f", {', '.join(steps)}" if steps else ""
    if kind == CONVOLUTION:
        kernel = tuple(getattr(main, "kernel_size", ()) or ())
        kernel_text = f" {_shape_text(kernel)}" if kernel else ""
        filters = getattr(main, "filters", None) or output_shape[-1]
        title = f"Convolution {number} · {filters} filters{kernel_text}{after} → {_shape_text(output_shape)}"
        if number == 1:
            explanation = (
                "Each filter slides over the image and lights up where it finds its own small pattern, "
                "such as an edge or the end of a stroke: one feature map per filter."
            )
        else:
            explanation = (
                "This convolution looks at the maps of the layer before, not at pixels: it combines edges "
                "and strokes into larger parts of shapes."
            )
    elif kind == POOLING:
        pool = tuple(getattr(main, "pool_size", ()) or ())
        how = "the strongest value" if _class_name(main) == "MaxPooling2D" else "the average"
        title = f"Pooling {number} · {_shape_text(pool)} → {_shape_text(output_shape)}"
        explanation = (
            f"Pooling keeps {how} of each {_shape_text(pool)} square: the maps get smaller, and a stroke that "
            "moves by a pixel still gives the same answer."
        )
    elif kind == DENSE:
        title = f"Dense {number} · {output_shape[-1]} units{after}"
        explanation = (
            "Every unit of a dense layer weighs all the numbers of the layer before and fires when it "
            "recognises its own combination of them."
        )
    else:
        title = f"Output · {output_shape[-1]} classes{after}"
        explanation = (
            "The last layer gives one score per class; softmax turns the scores into probabilities that add "
            "up to 100%, and the largest is the prediction."
        )
    return title, explanation


def _no_convolution_message(model) -> str:
    input_shape = tuple(int(size) for size in model.input_shape[1:])
    numbers = int(np.prod(input_shape))
    return (
        f"This model has no convolution layer, so it has no filters to show: its first dense layer looks at "
        f"all {numbers:,} numbers of the image at once, with one weight per pixel and per unit. "
        "Train a CNN on the Train page to see filters."
    )


class Inspector:
    """One model's multi-output twin: returns every interesting layer's activations in a single call.

    Args:
        model: A functional (or Sequential) Keras model taking raw uint8 images, as `core.architectures`
            builds them. It is only read: the twin shares its layers and weights.

    Raises:
        ValueError: if the model's layers cannot be reached (a model without a known input, for example).
    """

    def __init__(self, model):
        keras = backend.keras()
        self.model = model
        self.input_shape = tuple(int(size) for size in model.input_shape[1:])
        grouped = _find_stages(model)
        counters = collections.Counter()
        stages = []
        for kind, layers in grouped:
            counters[kind] += 1
            title, explanation = _describe_stage(kind, layers, counters[kind])
            stages.append(Stage(
                name=layers[-1].name,
                layer_names=tuple(layer.name for layer in layers),
                kind=kind,
                title=title,
                explanation=explanation,
                output_shape=_output_shape(layers[-1]),
            ))
        self.stages: tuple[Stage, ...] = tuple(stages)
        try:
            self._twin = keras.Model(inputs=model.inputs, outputs=[layers[-1].output for _, layers in grouped])
        except (ValueError, AttributeError, TypeError) as error:
            raise ValueError(
                f"The layers of this model cannot be looked inside ({error}). Models trained in Neural Canvas "
                "always can: train one on the Train page."
            ) from None
        self._lock = threading.Lock()
        convolutions = [layers[0] for kind, layers in grouped if kind == CONVOLUTION]
        self.filters: np.ndarray | None = None
        self.filters_layer_name: str | None = None
        self.no_filters_message: str | None = None
        kernel = _kernel_of(convolutions[0]) if convolutions else None
        if kernel is not None:
            self.filters = kernel
            self.filters_layer_name = convolutions[0].name
        else:
            self.no_filters_message = _no_convolution_message(model)

    @property
    def convolution_stages(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in self.stages if stage.kind == CONVOLUTION)

    def activations(self, image: np.ndarray) -> list[LayerActivation]:
        """Every stage's activations for one raw uint8 image of the model's input shape, in model order."""
        image = model_image(image, self.input_shape, "Choose an image of the dataset the model was trained on.")
        if not self.stages:
            return []
        # Calling the model directly skips predict()'s data pipeline (tens of milliseconds per image); the
        # lock keeps two visitors from running the same graph at once on this small machine.
        with self._lock:
            outputs = self._twin([image[np.newaxis]], training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return [
            LayerActivation(stage, np.asarray(output, dtype=np.float32)[0])
            for stage, output in zip(self.stages, outputs)
        ]

    def filter_images(self) -> np.ndarray | None:
        """The first convolution's filters as images: (filters, k, k) gray or (filters, k, k, 3) colour, uint8.

        Each filter is stretched to 0-255 on its own (its most negative weight black, its most positive
        white), as the Keras examples show filters; None for a model without convolution.
        """
        return filter_images(self.filters) if self.filters is not None else None


def _kernel_of(layer) -> np.ndarray | None:
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    kernel = np.asarray(backend.keras().ops.convert_to_numpy(kernel), dtype=np.float32)
    return kernel if kernel.ndim == 4 else None


def filter_images(kernel: np.ndarray) -> np.ndarray:
    """Turns a convolution kernel (k, k, in, out) into one uint8 image per filter, each stretched to 0-255.

    One input channel gives gray images (filters, k, k); three (a colour image) give RGB images
    (filters, k, k, 3); any other number is averaged over the input channels into gray.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    if kernel.ndim != 4:
        raise ValueError(
            f"A convolution kernel has shape (height, width, input channels, filters); got shape {kernel.shape}."
        )
    filters = np.moveaxis(kernel, -1, 0)  # (out, k, k, in)
    if filters.shape[-1] == 1:
        filters = filters[..., 0]
    elif filters.shape[-1] != 3:
        filters = filters.mean(axis=-1)
    axes = tuple(range(1, filters.ndim))
    low = filters.min(axis=axes, keepdims=True)
    high = filters.max(axis=axes, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    scaled = np.where(high > low, (filters - low) / span, 0.5)
    return np.round(scaled * 255).astype(np.uint8)


def strongest_units(vector: np.ndarray, count: int) -> np.ndarray:
    """The indices of the `count` largest values of a dense layer's activations, largest first."""
    vector = np.asarray(vector).reshape(-1)
    if count < 1:
        raise ValueError(f"count must be 1 or more, received {count}.")
    # A stable sort keeps equal values (the many zeros of a ReLU layer) in unit order.
    return np.argsort(-vector, kind="stable")[:count]


def strongest_maps(maps: np.ndarray, count: int) -> np.ndarray:
    """The indices, in channel order, of the `count` feature maps (H, W, C) with the largest total activation."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"Feature maps have shape (height, width, channels); got shape {maps.shape}.")
    if count < 1:
        raise ValueError(f"count must be 1 or more, received {count}.")
    totals = maps.reshape(-1, maps.shape[-1]).sum(axis=0)
    chosen = np.argsort(-totals, kind="stable")[:count]
    return np.sort(chosen)


# --- the cache of inspectors ----------------------------------------------------------------------------------

_cache = lru.LruCache(CACHE_SIZE)


def get_inspector(model) -> Inspector:
    """The Inspector of `model`, built once and kept while the model is among the last few asked for.

    Keyed by the model object: `core.inference.get_predictor` gives the same object for a run until its model
    file changes, so a retrained model gets a fresh Inspector. Each Inspector holds its model, so the id of a
    cached model cannot be reused by another one.
    """
    key = id(model)
    inspector = _cache.get(key)
    if inspector is not None and inspector.model is model:
        return inspector
    # Building takes a moment; two visitors asking at once may both build, and one result is kept.
    inspector = Inspector(model)
    _cache.put(key, inspector)
    return inspector


def clear_cache() -> None:
    """Forgets every cached Inspector (tests; freeing memory)."""
    _cache.clear()
