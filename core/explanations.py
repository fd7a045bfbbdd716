"""Why did the model say that? Saliency, occlusion, adversarial examples and what each filter wants.

Four lessons on the student's own drawing and the student's own trained model, each computed in well under a
second on a small CPU:

    from core import explanations, inference

    predictor = inference.get_predictor(store, run_id)
    explainer = explanations.get_explainer(predictor.model)           # built once per model, cached
    saliency = explainer.saliency(image, class_index=7)               # where it looks (Grad-CAM or IG)
    occlusion = explainer.occlusion(image, class_index=7)             # what covering each place costs
    fooled = explainer.adversarial(image, target=3)                   # the smallest change that makes it say 3
    wishes = explainer.filter_wishes()                                # what the first convolutions' filters want

Every image goes in and comes out as the model's raw input, a uint8 array of the model's input shape (28x28
for the digit models). Inside, the gradients are taken on a "unit image" (the same pixels on a 0-1 scale):
models carry their own `Rescaling` layer and take uint8 images, and a uint8 input has no gradient, so the
Explainer works on a twin of the model that starts right after that layer (sharing its layers and weights).
An adversarial example's size (epsilon) is measured on that 0-1 scale, as in the literature.

- **Saliency.** Grad-CAM (Selvaraju et al., 2017) for models with a convolution: the last convolution's maps,
  weighted by how much the chosen class's log-probability rises with each, made positive and enlarged to the
  input size. Integrated gradients (Sundararajan et al., 2017) for dense models: the gradient averaged along
  the straight path from a black image to the drawing, times the drawing. Either explains any class, not only
  the predicted one ("why 7 and not 1?"): pass `versus=1` to explain the difference between two classes.
- **Occlusion** (Zeiler and Fergus, 2014): a patch slides over the image; the map says how much the chosen
  class's probability falls at each place. All the covered images go through the model in one batch.
- **Adversarial examples:** the fast gradient sign method, then projected gradient steps (Madry et al.,
  2018), within an L-infinity bound epsilon, tried for a ladder of epsilons in one batch; the smallest that
  changes the answer (or gives the target class) wins.
- **What a filter wants:** gradient ascent on the input from faint noise, with a light blur and decay so the
  picture stays smooth, for every filter of the first two convolution layers at once. What climbs is the filter's
  mean answer as the next layer receives it, after its batch normalisation and ReLU.
"""

import collections
import dataclasses
import threading

import numpy as np

from core import activations, backend

GRAD_CAM = "Grad-CAM"
INTEGRATED_GRADIENTS = "Integrated gradients"

# Integrated gradients: points on the path from black to the drawing. 32 keep the sum of the attributions
# within a few percent of the change in log-probability (the method's completeness check) for our models.
INTEGRATION_STEPS = 32

# Occlusion: a 6x6 patch (a stroke is 2-3 pixels wide after the MNIST recipe, so the patch hides a piece of
# one stroke) moved 2 pixels at a time: 12x12 places, 144 images in one batch.
OCCLUSION_PATCH = 6
OCCLUSION_STRIDE = 2
GREY = 128

# Adversarial examples: the epsilons tried, on the 0-1 scale of the pixels. 0.1 is about 25 grey levels, hard
# to see on a 28x28 digit; 0.3 is the bound of the MNIST robustness literature.
EPSILON_LADDER = (0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)
ADVERSARIAL_STEPS = 10

# What a filter wants: steps of gradient ascent, their size on the 0-1 scale, and the regularisation.
FILTER_STEPS = 24
FILTER_STEP_SIZE = 0.08
FILTER_DECAY = 0.01
FILTER_BLUR_EVERY = 4
FILTER_LAYERS = 2
# At most this many filters of a layer (the first ones), as the Inside page shows at most 32 feature maps.
MAX_FILTERS = 32

# Explainers kept in memory, like core.activations' inspectors.
CACHE_SIZE = 8

_CONVOLUTION_CLASS_NAMES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")


class CannotExplain(ValueError):
    """The model cannot be explained this way (no gradient path from its input, no convolution, ...)."""


@dataclasses.dataclass(frozen=True)
class Saliency:
    """Where a model looks for one class.

    Attributes:
        method: GRAD_CAM or INTEGRATED_GRADIENTS.
        class_index: The class explained.
        versus: The class it is compared with, or None (then the class is compared with all others).
        values: The raw explanation, float32 of the image's height and width: Grad-CAM's map (0 or above) or
            the integrated gradients (signed: negative pixels speak against the class).
        heat: The positive evidence scaled to 0-1 (its largest value is 1; all zeros when there is none).
        probability: The model's probability of `class_index` for the image.
    """

    method: str
    class_index: int
    versus: int | None
    values: np.ndarray
    heat: np.ndarray
    probability: float

    def mass_on(self, mask: np.ndarray) -> float:
        """The share (0-1) of the positive evidence that lies where `mask` is true."""
        positive = np.clip(self.values, 0, None)
        total = float(positive.sum())
        return float(positive[np.asarray(mask, dtype=bool)].sum()) / total if total > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Occlusion:
    """What covering each place of the image costs one class.

    Attributes:
        class_index: The class watched.
        probability: Its probability for the uncovered image.
        drops: (rows, columns) float32: how much the probability falls when the patch covers each place
            (negative: it rises). Place (r, c) covers pixels [r*stride, r*stride+patch) x [c*stride, ...).
        heat: The drops spread over the pixels (each pixel the mean drop of the patches covering it), float32
            of the image's height and width.
        covered_classes: (rows, columns) int: the model's answer with the patch at each place.
        patch, stride, fill: The patch's side, its step and its grey level (0-255).
    """

    class_index: int
    probability: float
    drops: np.ndarray
    heat: np.ndarray
    covered_classes: np.ndarray
    patch: int
    stride: int
    fill: int

    def place_of(self, row: int, column: int) -> tuple[int, int]:
        """The patch place (row, column in `drops`) whose patch is centred nearest to pixel (row, column)."""
        rows, columns = self.drops.shape
        return (int(np.clip(round((row - self.patch / 2 + 0.5) / self.stride), 0, rows - 1)),
                int(np.clip(round((column - self.patch / 2 + 0.5) / self.stride), 0, columns - 1)))


@dataclasses.dataclass(frozen=True)
class Adversarial:
    """An adversarial example: a change too small to see that changes the model's answer.

    Attributes:
        original: The image given, uint8.
        fooled: The changed image, uint8, within `epsilon` of `original` on the 0-1 scale (at most
            `round(epsilon * 255)` grey levels per pixel).
        perturbation: `fooled - original` on the 0-1 scale, float32 (between -epsilon and +epsilon).
        original_class, original_probability: The model's answer for `original`.
        fooled_class, fooled_probability: The model's answer for `fooled`.
        target: The class asked for, or None (any other answer).
        epsilon: The smallest epsilon of the ladder that succeeded, or the largest one tried when none did.
        success: Whether the answer changed (or became `target`).
        tried: (epsilon, answer, probability of that answer) for each epsilon of the ladder.
    """

    original: np.ndarray
    fooled: np.ndarray
    perturbation: np.ndarray
    original_class: int
    original_probability: float
    fooled_class: int
    fooled_probability: float
    target: int | None
    epsilon: float
    success: bool
    tried: tuple[tuple[float, int, float], ...]

    @property
    def largest_change(self) -> float:
        """The largest change of any pixel, on the 0-1 scale."""
        return float(np.abs(self.perturbation).max()) if self.perturbation.size else 0.0


@dataclasses.dataclass(frozen=True)
class FilterWishes:
    """The input each filter of one convolution layer answers most strongly to.

    Attributes:
        layer_name: The convolution layer.
        title: "Convolution 1 · 32 filters", for a caption.
        images: (filters, height, width) uint8: the input found for each filter.
        responses: (filters,) float32: each filter's mean response to its own image.
    """

    layer_name: str
    title: str
    images: np.ndarray
    responses: np.ndarray


class Explainer:
    """One model's explanations; built once per model (see `get_explainer`), safe to share between visitors.

    Args:
        model: A Keras model taking raw images (uint8 with a first `Rescaling` layer, as every model of
            `core.architectures`; or float pixels 0-255) and returning class probabilities.

    Raises:
        CannotExplain: if no gradient can reach the model's input.
    """

    def __init__(self, model):
        self._keras = backend.keras()
        self._tf = backend.tensorflow()
        self.model = model
        self.input_shape = tuple(int(size) for size in model.input_shape[1:])
        self.num_classes = int(model.output_shape[-1])
        self._scale, self._offset, start = self._find_start(model)
        keras = self._keras
        try:
            self._twin = model if start is None else keras.Model(start, model.outputs[0])
        except (ValueError, TypeError, AttributeError) as error:
            raise CannotExplain(f"This model's layers cannot be explained ({error}).") from None
        self._start = start if start is not None else model.inputs[0]
        self._convolutions = [layer for layer in model.layers if _is_convolution(layer)]
        self._cam_model = None
        self._traced = {}
        self._wishes = {}
        self._lock = threading.Lock()

    # --- the twin that takes unit images ----------------------------------------------------------------------

    @staticmethod
    def _find_start(model):
        """(scale, offset, tensor): the twin starts at `tensor`, which is `raw * scale + offset`."""
        input_dtype = str(model.inputs[0].dtype)
        for layer in model.layers:
            name = type(layer).__name__
            if name == "InputLayer":
                continue
            if name == "Rescaling" and np.ndim(layer.scale) == 0 and np.ndim(layer.offset) == 0:
                return float(layer.scale), float(layer.offset), layer.output
            break
        if "int" in input_dtype:
            raise CannotExplain(
                "This model takes whole-number pixels and does not rescale them in its first layer, so no "
                "gradient reaches its input. Models trained in Neural Canvas always can be explained."
            )
        return 1.0, 0.0, None

    @property
    def has_convolution(self) -> bool:
        return bool(self._convolutions)

    @property
    def method(self) -> str:
        """The saliency method this model gets: Grad-CAM with a convolution, integrated gradients without."""
        return GRAD_CAM if self.has_convolution else INTEGRATED_GRADIENTS

    def _to_start(self, unit):
        """Unit images (0-1) to what the twin reads: the first layer's output."""
        return unit * (255.0 * self._scale) + self._offset

    def _unit(self, image: np.ndarray) -> np.ndarray:
        return self._check(image).astype(np.float32) / 255.0

    def _check(self, image) -> np.ndarray:
        return activations.model_image(image, self.input_shape, "Preprocess the drawing first (core.preprocess).")

    def _check_class(self, class_index, name="class_index") -> int:
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
            raise ValueError(f"{name} must be a class number, received {class_index!r}.")
        if not 0 <= int(class_index) < self.num_classes:
            raise ValueError(f"{name} must lie between 0 and {self.num_classes - 1}, received {class_index}.")
        return int(class_index)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """The class probabilities of a batch of uint8 images, through the same twin as the explanations."""
        images = np.asarray(images)
        if images.ndim == len(self.input_shape):
            images = images[np.newaxis]
        for image in images[:1]:
            self._check(image)
        # A batch of grayscale images for a model that wants a channel axis of one gets it, as _check gives one.
        images = images.reshape((len(images), *self.input_shape))
        unit = self._tf.constant(images.astype(np.float32) / 255.0)
        with self._lock:
            return np.asarray(self._twin(self._to_start(unit), training=False), dtype=np.float32)

    # --- 1. where it looks ------------------------------------------------------------------------------------

    def saliency(self, image: np.ndarray, class_index: int, *, versus: int | None = None,
                 method: str | None = None) -> Saliency:
        """Where the model looks to find `class_index` in `image` (optionally: rather than `versus`).

        `method` is GRAD_CAM (models with a convolution only) or INTEGRATED_GRADIENTS; by default the model's
        own (`self.method`). Raises ValueError for a bad image or class, CannotExplain for Grad-CAM without a
        convolution.
        """
        unit = self._unit(image)
        class_index = self._check_class(class_index)
        if versus is not None:
            versus = self._check_class(versus, "versus")
            if versus == class_index:
                raise ValueError("Compare the class with another one: versus must differ from class_index.")
        method = method or self.method
        if method == GRAD_CAM:
            values, probability = self._grad_cam(unit, class_index, versus)
        elif method == INTEGRATED_GRADIENTS:
            values, probability = self._integrated_gradients(unit, class_index, versus)
        else:
            raise ValueError(f"Unknown saliency method {method!r}: use {GRAD_CAM!r} or {INTEGRATED_GRADIENTS!r}.")
        positive = np.clip(values, 0, None)
        peak = float(positive.max())
        heat = positive / peak if peak > 0 else np.zeros_like(positive)
        return Saliency(method, class_index, versus, values.astype(np.float32), heat.astype(np.float32),
                        probability)

    def _score(self, probabilities, class_index, versus):
        # The log-probability does not saturate as the probability nears 100 %; the difference of two
        # log-probabilities is the difference of their logits: "why this class rather than that one".
        tf = self._tf
        log_probabilities = tf.math.log(probabilities + 1e-9)
        score = log_probabilities[:, class_index]
        if versus is not None:
            score = score - log_probabilities[:, versus]
        return score

    def _grad_cam_model(self):
        if self._cam_model is None:
            last = self._convolutions[-1] if self._convolutions else None
            if last is None:
                raise CannotExplain("Grad-CAM needs a convolution layer, and this model has none.")
            maps = _stage_end(self.model, last).output
            self._cam_model = self._keras.Model(self._start, [maps, self.model.outputs[0]])
        return self._cam_model

    def _grad_cam(self, unit, class_index, versus):
        tf = self._tf
        with self._lock:
            cam_model = self._grad_cam_model()
            x = tf.constant(unit[np.newaxis])
            with tf.GradientTape() as tape:
                maps, probabilities = cam_model(self._to_start(x), training=False)
                score = self._score(probabilities, class_index, versus)
            gradients = tape.gradient(score, maps)
        # Each place's own gradient, not the gradient averaged over the map as in the original Grad-CAM: our
        # CNNs flatten their maps into a dense layer (no global pooling), and there the averaged weights blur
        # away where the evidence is (HiResCAM, Draelos and Carin, 2020, shows the element-wise product is
        # exactly what a flatten-then-dense model adds up).
        cam = np.maximum((np.asarray(maps)[0] * np.asarray(gradients)[0]).sum(axis=-1), 0.0)
        height, width = self.input_shape[:2]
        if cam.shape != (height, width):
            cam = np.asarray(tf.image.resize(cam[..., np.newaxis], (height, width), method="bilinear"))[..., 0]
        return np.maximum(cam, 0.0), float(np.asarray(probabilities)[0, class_index])

    def _integrated_gradients(self, unit, class_index, versus):
        tf = self._tf
        # Midpoints of the path from black (the baseline: no ink) to the image.
        alphas = (np.arange(INTEGRATION_STEPS, dtype=np.float32) + 0.5) / INTEGRATION_STEPS
        alphas = alphas.reshape((-1,) + (1,) * unit.ndim)
        path = tf.constant(alphas * unit[np.newaxis])
        with self._lock:
            with tf.GradientTape() as tape:
                tape.watch(path)
                probabilities = self._twin(self._to_start(path), training=False)
                score = tf.reduce_sum(self._score(probabilities, class_index, versus))
            gradients = np.asarray(tape.gradient(score, path))
            probability = float(np.asarray(self._twin(self._to_start(tf.constant(unit[np.newaxis])),
                                                      training=False))[0, class_index])
        attributions = gradients.mean(axis=0) * unit
        if attributions.ndim == 3:
            attributions = attributions.sum(axis=-1)
        return attributions, probability

    # --- 2. cover it up ---------------------------------------------------------------------------------------

    def occlusion(self, image: np.ndarray, class_index: int, *, patch: int = OCCLUSION_PATCH,
                  stride: int = OCCLUSION_STRIDE, fill: int = GREY) -> Occlusion:
        """How much `class_index`'s probability falls as a `patch`-pixel square of grey `fill` covers each place."""
        image = self._check(image)
        class_index = self._check_class(class_index)
        height, width = self.input_shape[:2]
        if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or not 1 <= patch <= min(height, width):
            raise ValueError(
                f"patch must be a whole number of pixels from 1 to {min(height, width)}, received {patch!r}.")
        if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or not 1 <= stride <= patch:
            raise ValueError(
                f"stride must be a whole number of pixels from 1 to the patch ({patch}), received {stride!r}.")
        if isinstance(fill, bool) or not isinstance(fill, (int, np.integer)) or not 0 <= fill <= 255:
            raise ValueError(f"fill must be a grey level from 0 (black) to 255 (white), received {fill!r}.")
        tops = list(range(0, height - patch + 1, stride))
        lefts = list(range(0, width - patch + 1, stride))
        batch = np.repeat(image[np.newaxis], len(tops) * len(lefts) + 1, axis=0)
        places = [(top, left) for top in tops for left in lefts]
        for number, (top, left) in enumerate(places, start=1):
            batch[number, top:top + patch, left:left + patch] = fill
        probabilities = self.probabilities(batch)
        base = float(probabilities[0, class_index])
        drops = (base - probabilities[1:, class_index]).reshape(len(tops), len(lefts)).astype(np.float32)
        covered_classes = probabilities[1:].argmax(axis=-1).reshape(len(tops), len(lefts))
        total = np.zeros((height, width), dtype=np.float64)
        count = np.zeros((height, width), dtype=np.float64)
        for row, top in enumerate(tops):
            for column, left in enumerate(lefts):
                total[top:top + patch, left:left + patch] += drops[row, column]
                count[top:top + patch, left:left + patch] += 1
        heat = np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)
        return Occlusion(class_index, base, drops, heat, covered_classes, int(patch), int(stride), int(fill))

    def cover(self, image: np.ndarray, row: int, column: int, *, patch: int = OCCLUSION_PATCH,
              fill: int = GREY) -> tuple[np.ndarray, np.ndarray]:
        """Covers a `patch`-pixel square centred on pixel (row, column); returns (covered image, probabilities)."""
        covered = cover_image(self._check(image), row, column, patch=patch, fill=fill)
        return covered, self.probabilities(covered)[0]

    # --- 3. fool the model ------------------------------------------------------------------------------------

    def adversarial(self, image: np.ndarray, *, target: int | None = None,
                    epsilons=EPSILON_LADDER, steps: int = ADVERSARIAL_STEPS) -> Adversarial:
        """The smallest change of the ladder that makes the model change its answer (or say `target`).

        For each epsilon (on the 0-1 scale), one fast-gradient-sign step of size epsilon, then `steps`
        projected gradient steps of epsilon / 4, each kept within epsilon of the image and within 0-1; all
        epsilons in one batch. The result is rounded to uint8 (within the bound) and read again as it is.
        """
        tf = self._tf
        image = self._check(image)
        if target is not None:
            target = self._check_class(target, "target")
        ladder = sorted(float(value) for value in epsilons)
        epsilons = np.asarray(ladder, dtype=np.float32)
        if epsilons.size == 0 or epsilons[0] <= 0 or epsilons[-1] > 1:
            raise ValueError("epsilons must be one or more sizes of change between 0 and 1 (the 0-1 pixel scale).")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 0 <= steps <= 100:
            raise ValueError(f"steps must be a whole number from 0 to 100, received {steps!r}.")
        original_probabilities = self.probabilities(image)[0]
        original_class = int(original_probabilities.argmax())
        if target == original_class:
            raise ValueError(f"The model already says {target}: ask for another class, or for none (any other "
                             "answer).")
        if target is None:
            wanted, sign = original_class, 1.0        # climb the loss of the current answer
        else:
            wanted, sign = target, -1.0               # descend the loss of the target
        unit = self._unit(image)
        shape = (-1,) + (1,) * unit.ndim
        bound = (np.floor(epsilons * 255.0 + 1e-6) / 255.0).reshape(shape)
        start = np.repeat(unit[np.newaxis], len(epsilons), axis=0)
        low, high = np.clip(start - bound, 0, 1), np.clip(start + bound, 0, 1)
        adversarial = start.copy()
        step_sizes = [bound] + [bound / 4] * steps
        with self._lock:
            for step_size in step_sizes:
                x = tf.constant(adversarial)
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    probabilities = self._twin(self._to_start(x), training=False)
                    loss = -tf.reduce_sum(tf.math.log(probabilities[:, wanted] + 1e-9))
                gradient = np.asarray(tape.gradient(loss, x))
                adversarial = np.clip(adversarial + sign * step_size * np.sign(gradient), low, high)
        # Back to whole grey levels, within the bound: the change is counted in levels of 1/255.
        change = np.clip(np.rint((adversarial - start) * 255.0), -np.rint(bound * 255), np.rint(bound * 255))
        fooled = np.clip(image[np.newaxis].astype(np.int16) + change.astype(np.int16), 0, 255).astype(np.uint8)
        probabilities = self.probabilities(fooled)
        answers = probabilities.argmax(axis=-1)
        succeeded = answers == target if target is not None else answers != original_class
        chosen = int(np.argmax(succeeded)) if succeeded.any() else len(epsilons) - 1
        tried = tuple((epsilon, int(answer), float(row[answer]))
                      for epsilon, answer, row in zip(ladder, answers, probabilities))
        perturbation = (fooled[chosen].astype(np.float32) - image.astype(np.float32)) / 255.0
        return Adversarial(
            original=image.copy(), fooled=fooled[chosen], perturbation=perturbation,
            original_class=original_class, original_probability=float(original_probabilities[original_class]),
            fooled_class=int(answers[chosen]), fooled_probability=float(probabilities[chosen, answers[chosen]]),
            target=target, epsilon=ladder[chosen], success=bool(succeeded[chosen]), tried=tried,
        )

    # --- 4. what a filter wants -------------------------------------------------------------------------------

    def filter_wishes(self, *, layers: int = FILTER_LAYERS, steps: int = FILTER_STEPS,
                      max_filters: int = MAX_FILTERS, seed: int = 0) -> list[FilterWishes]:
        """For each of the first `layers` convolution layers, the input that excites each of its filters most.

        Only the first `max_filters` filters of a layer are shown (`images[f]` is filter f's).

        Raises CannotExplain for a model without convolution.
        """
        settings = (layers, steps, max_filters, seed)
        with self._lock:
            if settings in self._wishes:
                return self._wishes[settings]
        if not self._convolutions:
            raise CannotExplain(
                "This model has no convolution layer, so it has no filters: its dense layers look at all the "
                "pixels at once. Train a CNN to see what its filters want."
            )
        tf = self._tf
        rng = np.random.default_rng(seed)
        results = []
        for number, layer in enumerate(self._convolutions[:layers], start=1):
            all_filters = int(layer.output.shape[-1])
            filters = min(all_filters, max_filters)
            # Faint noise around dark grey: every filter gets some input to start from.
            images = (0.1 + 0.05 * rng.standard_normal((filters, *self.input_shape))).clip(0, 1).astype(np.float32)
            ascent_step = self._ascent_step(layer.name, filters)
            with self._lock:
                for step in range(steps):
                    images = ascent_step(tf.constant(images)).numpy()
                    if (step + 1) % FILTER_BLUR_EVERY == 0:
                        images = _blur(images).clip(0.0, 1.0)
            as_uint8 = np.rint(images * 255).astype(np.uint8)
            responses = self.filter_responses(layer.name, as_uint8)
            shown = (f"{all_filters} filters" if filters == all_filters
                     else f"the first {filters} of {all_filters} filters")
            results.append(FilterWishes(layer.name, f"Convolution {number} · {shown}", as_uint8,
                                        responses[np.arange(filters), np.arange(filters)]))
        # The pictures depend only on the weights and the seed: kept for the next visitor.
        with self._lock:
            self._wishes[settings] = results
        return results

    def _ascent_step(self, layer_name: str, filters: int):
        """One traced step of gradient ascent for every filter of a layer at once (traced once per layer)."""
        key = ("ascent", layer_name)
        if key not in self._traced:
            tf = self._tf
            response_model = self._keras.Model(self._start, self._answer_of(layer_name).output)
            all_filters = int(self.model.get_layer(layer_name).output.shape[-1])
            channel = tf.constant(np.eye(filters, all_filters, dtype=np.float32))

            @tf.function(reduce_retracing=True, autograph=False)
            def step(images):
                with tf.GradientTape() as tape:
                    tape.watch(images)
                    responses = response_model(self._to_start(images), training=False)
                    # Image f is scored by filter f's mean response only.
                    score = tf.reduce_sum(tf.reduce_mean(responses, axis=(1, 2)) * channel)
                gradient = tape.gradient(score, images)
                # Normalised steps: every filter climbs at the same pace whatever the scale of its weights.
                axes = list(range(1, len(images.shape)))
                norm = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=axes, keepdims=True)) + 1e-8
                images = (images + FILTER_STEP_SIZE * gradient / norm) * (1.0 - FILTER_DECAY)
                return tf.clip_by_value(images, 0.0, 1.0)

            self._traced[key] = step
        return self._traced[key]

    def _answer_of(self, layer_name: str):
        """The layer whose output is a convolution's answer as the next layer receives it: the end of its stage (batch
        normalisation and ReLU). A convolution without its own ReLU is linear: the picture that raises its mean
        answer most is then all white or all black, whatever the filter's pattern (the default model's first
        layer showed only such squares); after the ReLU, only the places where the pattern is found count."""
        return _stage_end(self.model, self.model.get_layer(layer_name))

    def filter_responses(self, layer_name: str, images: np.ndarray) -> np.ndarray:
        """(images, filters): each filter's mean response to each uint8 image, for a convolution layer."""
        layer = self.model.get_layer(layer_name)
        images = np.asarray(images)
        self._check(images[0])
        images = images.reshape((len(images), *self.input_shape))
        response_model = self._keras.Model(self._start, self._answer_of(layer.name).output)
        unit = self._tf.constant(images.astype(np.float32) / 255.0)
        with self._lock:
            responses = np.asarray(response_model(self._to_start(unit), training=False))
        return responses.mean(axis=(1, 2))


def cover_image(image: np.ndarray, row: int, column: int, *, patch: int = OCCLUSION_PATCH,
                fill: int = GREY) -> np.ndarray:
    """A copy of `image` with a `patch`-pixel square of grey `fill` centred on pixel (row, column)."""
    image = np.asarray(image)
    height, width = image.shape[:2]
    if not (0 <= row < height and 0 <= column < width):
        raise ValueError(f"The place to cover must lie in the image: row 0-{height - 1}, column 0-{width - 1}; "
                         f"received ({row}, {column}).")
    top = int(np.clip(row - patch // 2, 0, height - patch))
    left = int(np.clip(column - patch // 2, 0, width - patch))
    covered = image.copy()
    covered[top:top + patch, left:left + patch] = fill
    return covered


def _blur(images: np.ndarray) -> np.ndarray:
    """A light 3x3 blur of each image (weights 1-2-1): keeps filter pictures from turning into pixel noise."""
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1)] + [(0, 0)] * (images.ndim - 3), mode="edge")
    rows = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]) / 4
    return (rows[:, :, :-2] + 2 * rows[:, :, 1:-1] + rows[:, :, 2:]) / 4


def _is_convolution(layer) -> bool:
    return type(layer).__name__ in _CONVOLUTION_CLASS_NAMES and len(layer.output.shape) == 4


def _stage_end(model, convolution):
    """The layer that finishes a convolution's stage (its batch norm and ReLU), whose maps Grad-CAM weighs."""
    for _kind, layers in activations._find_stages(model):
        if layers[0] is convolution:
            return layers[-1]
    return convolution


def heat_overlay(image: np.ndarray, heat: np.ndarray, *, signed: bool = False) -> np.ndarray:
    """An RGB uint8 picture of `heat` over the gray `image`: red where the heat is strong (blue: negative).

    `heat` is scaled to -1..1 (signed) or 0..1; the image shows through at half brightness.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = image.mean(axis=-1)
    heat = np.asarray(heat, dtype=np.float32)
    if heat.shape != image.shape:
        raise ValueError(f"The heat map {heat.shape} and the image {image.shape} must have the same size.")
    scale = float(np.abs(heat).max()) if signed else float(heat.max())
    heat = heat / scale if scale > 0 else np.zeros_like(heat)
    base = (image / 255.0 * 0.5)[..., np.newaxis].repeat(3, axis=-1)
    positive = np.clip(heat, 0, 1)[..., np.newaxis]
    negative = np.clip(-heat, 0, 1)[..., np.newaxis] if signed else 0.0
    red = np.array([1.0, 0.25, 0.15], dtype=np.float32)
    blue = np.array([0.2, 0.5, 1.0], dtype=np.float32)
    picture = base * (1 - positive) + red * positive
    if signed:
        picture = picture * (1 - negative) + blue * negative
    return np.rint(np.clip(picture, 0, 1) * 255).astype(np.uint8)


def perturbation_picture(perturbation: np.ndarray) -> np.ndarray:
    """The adversarial change as an RGB uint8 picture: red where pixels got lighter, blue darker, black none."""
    perturbation = np.asarray(perturbation, dtype=np.float32)
    if perturbation.ndim == 3:
        perturbation = perturbation.mean(axis=-1)
    return heat_overlay(np.zeros(perturbation.shape, dtype=np.uint8), perturbation, signed=True)


# --- the cache of explainers ----------------------------------------------------------------------------------

_cache: collections.OrderedDict[int, Explainer] = collections.OrderedDict()
_cache_lock = threading.Lock()


def get_explainer(model) -> Explainer:
    """The Explainer of `model`, built once and kept while the model is among the last few asked for.

    Keyed by the model object, as `core.activations.get_inspector`: the Predictor cache hands out the same
    model until its file changes.
    """
    key = id(model)
    with _cache_lock:
        explainer = _cache.get(key)
        if explainer is not None and explainer.model is model:
            _cache.move_to_end(key)
            return explainer
    explainer = Explainer(model)
    with _cache_lock:
        _cache[key] = explainer
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return explainer


def clear_cache() -> None:
    """Forgets every cached Explainer (tests; freeing memory)."""
    with _cache_lock:
        _cache.clear()
