"""Training-recipe variants of the default digit model, tried for issue 15: accuracy only, three seeds.

    python -m bench.recipe_variants NAME [key=value ...]

Keys: any hyperparameter of modern_cnn (filters=24, epochs=7, augmentation_strength=0.4, ...) over the shipped
DEFAULT_DIGIT_HYPERPARAMETERS, and the recipe changes the app does not ship: sched=step (cosine by step, not by
epoch; warm=0.1 adds a linear warm-up over that share of the steps), ls=0.1 (label smoothing), ema=0.99 (weights
averaged with that momentum), wd=0.0005 (AdamW weight decay), opt=sgd (Nesterov momentum 0.9), clean_last=1 (the
last epoch without augmentation, at 5% of the rate), seeds=42,7,1. Each seed prints the accuracy on the sample's
2,000 MNIST test digits and on the 2,498 digits of the held-out pen writers, and the test digits it misreads; one
line per variant is appended to bench/recipe_variants.jsonl. Its own loop (no run store, no app callbacks) with
the app's pipeline: its times are not the app's, and most were measured two variants at a time; compare accuracy
only, and time the one you keep with bench.default_model.
"""
import sys, time, json, math, os
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
import numpy as np
from core import architectures, datasets, training, backend, pen_shift, evaluation
keras = backend.keras()
import tensorflow as tf
name = sys.argv[1]
opts = dict(a.split("=", 1) for a in sys.argv[2:])
def num(v):
    try: return int(v)
    except ValueError:
        try: return float(v)
        except ValueError: return v
opts = {k: num(v) for k, v in opts.items()}
seeds = [int(s) for s in str(opts.pop("seeds", "42,7,1")).split(",")]
dataset = opts.pop("dataset", "digits_mix")
sched = opts.pop("sched", "epoch"); ls = float(opts.pop("ls", 0)); ema = float(opts.pop("ema", 0)); wd = float(opts.pop("wd", 0))
clean_last = int(opts.pop("clean_last", 0)); warm = float(opts.pop("warm", 0)); opt_name = opts.pop("opt", "adam")
data = datasets.load(dataset)
pen_images, pen_labels = pen_shift.held_out()
out = []
for seed in seeds:
    hp = architectures.resolve_hyperparameters("modern_cnn", {**architectures.DEFAULT_DIGIT_HYPERPARAMETERS, **opts, "seed": seed})
    keras.utils.set_random_seed(seed)
    model = architectures.build_model("modern_cnn", data.image_shape, data.num_classes, hp)
    steps = math.ceil(len(data.y_train) / hp["batch_size"]); total = steps * hp["epochs"]
    lr = hp["learning_rate"]
    if sched == "step":
        w = int(warm * total)
        schedule = keras.optimizers.schedules.CosineDecay(lr if w == 0 else 0.0, total - w, alpha=0.0, warmup_target=lr if w else None, warmup_steps=w)
        lr_arg = schedule
    else:
        lr_arg = lr
    kw = {}
    if ema: kw.update(use_ema=True, ema_momentum=ema)
    if opt_name == "adamw" or wd:
        opt = keras.optimizers.AdamW(learning_rate=lr_arg, weight_decay=wd or 1e-4, **kw)
    elif opt_name == "sgd":
        opt = keras.optimizers.SGD(learning_rate=lr_arg, momentum=0.9, nesterov=True, **kw)
    else:
        opt = keras.optimizers.Adam(learning_rate=lr_arg, **kw)
    if ls:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=ls)
        pipe = training.make_pipeline(data.x_train, data.y_train, hp["batch_size"], shuffle=True, seed=seed, repeat=True).map(lambda x, y: (x, tf.one_hot(y, 10)))
        metrics = ["categorical_accuracy"]
    else:
        loss = "sparse_categorical_crossentropy"; metrics = ["accuracy"]
        pipe = training.make_pipeline(data.x_train, data.y_train, hp["batch_size"], shuffle=True, seed=seed, repeat=True)
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    cbs = []
    if sched == "epoch":
        from core import callbacks
        cbs.append(callbacks.cosine_schedule(hp))
    t = time.time()
    epochs_main = hp["epochs"] - clean_last
    model.fit(pipe, epochs=epochs_main, steps_per_epoch=steps, verbose=0, callbacks=cbs)
    if clean_last:
        # same model without augmentation: copy weights into an aug-free build
        hp2 = dict(hp, augmentation=False)
        m2 = architectures.build_model("modern_cnn", data.image_shape, data.num_classes, hp2)
        src = {l.name: l for l in model.layers}
        for l in m2.layers:
            if l.name in src and l.weights: l.set_weights(src[l.name].get_weights())
        m2.compile(optimizer=keras.optimizers.Adam(learning_rate=float(opts.get("clean_lr", lr * 0.05))), loss=loss, metrics=metrics)
        m2.fit(pipe, epochs=clean_last, steps_per_epoch=steps, verbose=0)
        model = m2
    secs = time.time() - t
    r = evaluation.evaluate(model, data.x_test, data.y_test)
    p = evaluation.evaluate(model, pen_images, pen_labels)
    m = float(np.mean(np.argmax(r.probabilities, 1) == data.y_test)); pn = float(np.mean(np.argmax(p.probabilities, 1) == pen_labels))
    res = {"seed": seed, "wrong": np.flatnonzero(np.argmax(r.probabilities, 1) != data.y_test).tolist(), "mnist": m, "pen": round(pn, 4), "secs": round(secs, 1), "load": os.getloadavg()[0]}
    print(name, {k: v for k, v in res.items() if k != "wrong"}, flush=True); out.append(res)
line = {"name": name, "argv": sys.argv[2:], "base_hyperparameters": architectures.DEFAULT_DIGIT_HYPERPARAMETERS, "min_mnist": min(r["mnist"] for r in out), "mean": round(np.mean([r["mnist"] for r in out]), 5), "min_pen": min(r["pen"] for r in out), "results": out}
print("SUMMARY", json.dumps(line), flush=True)
open(__import__("pathlib").Path(__file__).with_suffix(".jsonl"), "a").write(json.dumps(line) + "\n")
