"""Training-recipe variants of the default digit model, tried for issue 15: accuracy only, three seeds.

    python -m bench.recipe_variants NAME [key=value ...]

Keys: any hyperparameter of modern_cnn (filters=24, epochs=7, augmentation_strength=0.4, ...) over the shipped
DEFAULT_DIGIT_HYPERPARAMETERS, and the recipe changes the app does not ship: sched=step (cosine by step, not by
epoch; warm=0.1 adds a linear warm-up over that share of the steps), ls=0.1 (label smoothing), ema=0.99 (weights
averaged with that momentum), wd=0.0005 (AdamW weight decay), opt=sgd (Nesterov momentum 0.9), clean_last=1 (the
last epoch without augmentation, at 5% of the rate), layout=stem5 (another arrangement of the convolutions, see
LAYOUTS), networks=2 (that many networks side by side in one model, each with its own augmentation and its own
loss; the answer is the mean of their probabilities), seeds=42,7,1. Each seed prints the accuracy on the sample's
2,000 MNIST test digits and on the 2,498 digits of the held-out pen writers; one line per variant, with the test
digits each seed misreads, is appended to bench/recipe_variants.jsonl. Its own loop (no run store, no app
callbacks) with the app's pipeline: its times are not the app's, and most were measured two variants at a time;
compare accuracy only, and time the one you keep with bench.default_model.
"""

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.default_model import _value, convolution_layout  # noqa: E402
from core import architectures, backend, callbacks, datasets, evaluation, pen_shift, training  # noqa: E402

RESULTS = Path(__file__).with_suffix(".jsonl")
RECIPE_KEYS = {"sched": "epoch", "ls": 0.0, "ema": 0.0, "wd": 0.0, "clean_last": 0, "warm": 0.0, "opt": "adam",
               "clean_lr": None, "seeds": "42,7,1", "dataset": "digits_mix", "layout": "shipped", "networks": 1}


_block = architectures._conv_block  # modern_cnn's convolution, batch normalisation and ReLU


def _stem5(layers, x, width):
    """One 5x5 convolution at 28x28, then two 3x3 at 14x14 (twice the filters), one at 7x7 (four times): the
    shipped layout spends most of its time on its two convolutions at 28x28."""
    x = layers.MaxPooling2D(2)(_block(layers, x, width, "s", size=5))
    x = _block(layers, _block(layers, x, 2 * width, "b2a"), 2 * width, "b2b")
    return _block(layers, layers.MaxPooling2D(2)(x), 4 * width, "b3a")


def _stem5_three(layers, x, width):
    """One 5x5 convolution at 28x28, then three 3x3 at 14x14."""
    x = layers.MaxPooling2D(2)(_block(layers, x, width, "s", size=5))
    for name in ("b2a", "b2b", "b2c"):
        x = _block(layers, x, 2 * width, name)
    return layers.MaxPooling2D(2)(x)


def _residual(layers, x, width):
    """The shipped layout with each block's second convolution added to its first one's output."""
    for block, filters in (("b1", width), ("b2", 2 * width)):
        x = _block(layers, x, filters, f"{block}a")
        x = layers.MaxPooling2D(2)(layers.Add()([x, _block(layers, x, filters, f"{block}b")]))
    return x


LAYOUTS = {"stem5": _stem5, "stem5_three": _stem5_three, "residual": _residual}


def layout_builder(layout: str):
    """modern_cnn's builder with its convolutions arranged as `layout`, for grey digits: the same augmentation (a
    digit's) and the same dense head."""
    if layout == "shipped":
        return architectures.ARCHITECTURES["modern_cnn"].builder
    if layout not in LAYOUTS:
        raise ValueError(f"No layout {layout!r}: choose shipped or one of {', '.join(LAYOUTS)}.")
    stack = LAYOUTS[layout]

    def build(layers, inputs, hp, image_shape):
        if len(image_shape) != 2:
            raise ValueError(f"The {layout} layout is for grey digits, not images of shape {image_shape}.")
        x = architectures._modern_cnn_input(layers, inputs, hp, image_shape)
        return architectures._modern_cnn_head(layers, stack(layers, x, hp["filters"]), hp)

    return build


def _voting_models(keras, builder, hp, image_shape, num_classes: int, networks: int):
    """`networks` networks side by side on the same images: the model that trains them (one output, and one loss,
    each) and the model that answers (the mean of their probabilities)."""
    from keras import layers

    image = keras.Input(image_shape, dtype="uint8")
    x = layers.Rescaling(1 / 255)(image)
    outputs = []
    for index in range(networks):
        with keras.name_scope(f"m{index}"):
            member_input = keras.Input(image_shape)
            features = builder(layers, member_input, hp, image_shape)
            logits = layers.Dense(num_classes, name="logits")(features)
            probabilities = layers.Activation("softmax", dtype="float32")(logits)
            member = keras.Model(member_input, probabilities, name=f"net{index}")
        outputs.append(member(x))
    return keras.Model(image, outputs), keras.Model(image, layers.Average()(outputs))


def _optimizer(keras, recipe: dict, rate, steps_total: int):
    if recipe["sched"] == "step":
        warm_steps = int(recipe["warm"] * steps_total)
        rate = keras.optimizers.schedules.CosineDecay(
            0.0 if warm_steps else rate, steps_total - warm_steps, alpha=0.0,
            warmup_target=rate if warm_steps else None, warmup_steps=warm_steps)
    extra = {"use_ema": True, "ema_momentum": recipe["ema"]} if recipe["ema"] else {}
    if recipe["opt"] == "adamw" or recipe["wd"]:
        return keras.optimizers.AdamW(learning_rate=rate, weight_decay=recipe["wd"] or 1e-4, **extra)
    if recipe["opt"] == "sgd":
        return keras.optimizers.SGD(learning_rate=rate, momentum=0.9, nesterov=True, **extra)
    return keras.optimizers.Adam(learning_rate=rate, **extra)


def train_seed(seed: int, overrides: dict, recipe: dict, data, pen_images, pen_labels) -> dict:
    keras = backend.keras()
    tf = backend.tensorflow()
    hp = architectures.resolve_hyperparameters(
        "modern_cnn", {**architectures.DEFAULT_DIGIT_HYPERPARAMETERS, **overrides, "seed": seed})
    keras.utils.set_random_seed(seed)
    builder = layout_builder(recipe["layout"])
    networks = int(recipe["networks"])
    members = None
    if networks > 1:
        model, answer = _voting_models(keras, builder, hp, data.image_shape, data.num_classes, networks)
    else:
        with convolution_layout(recipe["layout"]):
            model = answer = architectures.build_model("modern_cnn", data.image_shape, data.num_classes, hp)
    steps = math.ceil(len(data.y_train) / hp["batch_size"])
    pipeline = training.make_pipeline(data.x_train, data.y_train, hp["batch_size"], shuffle=True, seed=seed,
                                      repeat=True)
    if networks > 1:
        members = model.outputs
        pipeline = pipeline.map(lambda images, labels: (images, (labels,) * networks))
    if recipe["ls"]:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe["ls"])
        pipeline = pipeline.map(lambda images, labels: (images, tf.one_hot(labels, 10)))
        metrics = ["categorical_accuracy"]
    else:
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    if members is not None:
        loss, metrics = [loss] * networks, None
    model.compile(optimizer=_optimizer(keras, recipe, hp["learning_rate"], steps * hp["epochs"]), loss=loss,
                  metrics=metrics)
    hooks = [callbacks.cosine_schedule(hp)] if recipe["sched"] == "epoch" else []
    began = time.time()
    model.fit(pipeline, epochs=hp["epochs"] - recipe["clean_last"], steps_per_epoch=steps, verbose=0,
              callbacks=hooks)
    if recipe["clean_last"]:
        # The same weights in a model without the augmentation layers, trained on at a small rate.
        with convolution_layout(recipe["layout"]):
            clean = architectures.build_model("modern_cnn", data.image_shape, data.num_classes,
                                              dict(hp, augmentation=False))
        trained = {layer.name: layer for layer in model.layers}
        for layer in clean.layers:
            if layer.name in trained and layer.weights:
                layer.set_weights(trained[layer.name].get_weights())
        rate = recipe["clean_lr"] or hp["learning_rate"] * 0.05
        clean.compile(optimizer=keras.optimizers.Adam(learning_rate=rate), loss=loss, metrics=metrics)
        clean.fit(pipeline, epochs=recipe["clean_last"], steps_per_epoch=steps, verbose=0)
        answer = clean
    seconds = time.time() - began
    predicted = evaluation.evaluate(answer, data.x_test, data.y_test).probabilities.argmax(axis=1)
    pen_predicted = evaluation.evaluate(answer, pen_images, pen_labels).probabilities.argmax(axis=1)
    result = {"seed": seed, "wrong": np.flatnonzero(predicted != data.y_test).tolist(),
              "mnist": float(np.mean(predicted == data.y_test)),
              "pen": round(float(np.mean(pen_predicted == pen_labels)), 4), "secs": round(seconds, 1),
              "load": os.getloadavg()[0]}
    if members is not None:
        # Each network alone, on the sample's test digits.
        result["each_network"] = [
            float(np.mean(evaluation.evaluate(keras.Model(model.inputs[0], output), data.x_test,
                                              data.y_test).probabilities.argmax(axis=1) == data.y_test))
            for output in members]
    return result


def main(argv: list[str]) -> int:
    if not argv or "=" in argv[0]:
        print(__doc__)
        return 2
    name, settings = argv[0], dict(item.split("=", 1) for item in argv[1:])
    recipe = {key: _value(settings.pop(key)) if key in settings else default for key, default in RECIPE_KEYS.items()}
    overrides = {key: _value(value) for key, value in settings.items()}
    if recipe["layout"] != "shipped" and recipe["layout"] not in LAYOUTS:
        raise SystemExit(f"layout={recipe['layout']}: choose shipped or one of {', '.join(LAYOUTS)}")
    if int(recipe["networks"]) > 1 and (recipe["clean_last"] or recipe["ls"]):
        raise SystemExit("networks > 1 goes with neither clean_last nor ls")
    data = datasets.load(recipe["dataset"])
    pen_images, pen_labels = pen_shift.held_out()
    results = []
    for seed in (int(text) for text in str(recipe["seeds"]).split(",")):
        result = train_seed(seed, overrides, recipe, data, pen_images, pen_labels)
        print(name, {key: value for key, value in result.items() if key != "wrong"}, flush=True)
        results.append(result)
    line = {"name": name, "argv": argv[1:], "base_hyperparameters": architectures.DEFAULT_DIGIT_HYPERPARAMETERS,
            "min_mnist": min(result["mnist"] for result in results),
            "mean": round(float(np.mean([result["mnist"] for result in results])), 5),
            "min_pen": min(result["pen"] for result in results), "results": results}
    with open(RESULTS, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
