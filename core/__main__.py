"""Neural Canvas on the command line: the same training and evaluation as the app, in a terminal.

    python -m core train --dataset mnist_sample --arch cnn --epochs 3
    python -m core runs
    python -m core evaluate RUN_ID
    python -m core fetch all            # download the datasets ahead of a class
    python -m core describe --arch dnn --set depth=20
    python -m core architectures        # what can be trained, with hyperparameters
"""

import argparse
import json
import signal
import sys
import threading

from core import architectures, datasets, runs


def _progress_bar(fraction: float, width: int = 30) -> str:
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class TerminalProgress:
    """Draws training events: in a terminal, one updating progress line and one line per finished epoch; into a
    file or a pipe (a log), only the line per epoch, so that a log holds a line per epoch, not thousands."""

    def __init__(self, stream=sys.stderr, live: bool | None = None):
        self.stream = stream
        self.live = stream.isatty() if live is None else live

    def __call__(self, event: dict) -> None:
        kind = event["kind"]
        if kind == "start":
            print(f"Training {event['architecture']} on {event['dataset']} ({event['train_images']} images, "
                  f"{event['validation_images']} for validation) on {event['device']}. Run {event['run_id']}",
                  file=self.stream)
        elif kind == "batch" and self.live:
            line = (f"\repoch {event['epoch']}/{event['epochs']} {_progress_bar(event['progress'])} "
                    f"loss {event['loss']:.4f} acc {event['accuracy']:.4f} "
                    f"{event['images_per_second']:.0f} img/s ETA "
                    f"{'estimating' if event['eta'] is None else _format_seconds(event['eta'])}")
            self.stream.write(line.ljust(100))
            self.stream.flush()
        elif kind == "epoch":
            validation = ""
            if event.get("val_loss") is not None:
                validation = f" val_loss {event['val_loss']:.4f} val_acc {event['val_accuracy']:.4f}"
            line = (f"epoch {event['epoch']}/{event['epochs']} loss {event['loss']:.4f} "
                    f"acc {event['accuracy']:.4f}{validation} ({event['epoch_seconds']:.1f} s)")
            # In a terminal the epoch's line takes the place of its progress line.
            self.stream.write(("\r" + line.ljust(100) if self.live else line) + "\n")
            self.stream.flush()
        elif kind == "end" and event.get("message"):
            print(event["message"], file=self.stream)


def _parse_settings(pairs: list[str]) -> dict:
    settings = {}
    for pair in pairs or []:
        key, separator, value = pair.partition("=")
        if not separator:
            raise ValueError(f"--set takes name=value, such as depth=20; got {pair!r}.")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value.strip()
    return settings


def command_train(options) -> int:
    from core import training

    hyperparameters = _parse_settings(options.set)
    for name in ("epochs", "batch_size", "learning_rate", "optimizer", "validation_fraction", "seed"):
        value = getattr(options, name)
        if value is not None:
            hyperparameters[name] = value
    stop_event = threading.Event()
    # Ctrl-C asks for a clean stop: the run keeps its history and best epoch. A second Ctrl-C quits at once.
    def request_stop(signum, frame):
        if stop_event.is_set():
            raise KeyboardInterrupt
        print("\nStopping after this batch (Ctrl-C again to quit now)...", file=sys.stderr)
        stop_event.set()

    signal.signal(signal.SIGINT, request_stop)
    meta = training.train(options.dataset, options.arch, hyperparameters, name=options.name or "",
                          store=runs.RunStore(options.runs_dir), on_event=TerminalProgress(),
                          stop_event=stop_event, mixed_precision=options.mixed_precision)
    test = meta.get("test")
    if test:
        print(f"Test accuracy {test['accuracy']:.4f}, loss {test['loss']:.4f}, ROC AUC {test['roc_auc']:.4f}, "
              f"{test['mistakes']} mistakes.")
    print(f"Run {meta['id']}: {meta['status']}.")
    return 0 if meta["status"] in ("completed", "stopped") else 1


def command_runs(options) -> int:
    store = runs.RunStore(options.runs_dir)
    listing = store.list()
    if not listing:
        print(f"No runs yet in {store.root}. Train one: python -m core train --dataset mnist_sample --arch cnn")
        return 0
    print(f"{'run id':32} {'status':11} {'dataset':14} {'arch':11} {'test acc':>8}  name")
    for run in listing:
        accuracy = f"{run.test_accuracy:.4f}" if run.test_accuracy is not None else "-"
        print(f"{run.id:32} {run.status:11} {run.dataset or '-':14} {run.architecture or '-':11} {accuracy:>8}  "
              f"{run.name if not run.damaged else run.problem}")
    return 0


def command_evaluate(options) -> int:
    from core import evaluation

    store = runs.RunStore(options.runs_dir)
    run = store.get(options.run)
    data = datasets.load(run.dataset)
    result = evaluation.evaluate(store.load_model(run.id), data.x_test, data.y_test)
    print(f"{run.label}\nTest loss {result.loss:.4f}, accuracy {result.accuracy:.4f}, "
          f"macro ROC AUC {result.roc_auc:.4f}, {len(result.mistakes())} mistakes of {len(result.labels)}.")
    print("Per-class accuracy:")
    for name, accuracy in zip(data.class_names, result.per_class_accuracy):
        print(f"  {name:12} {accuracy:.4f}")
    return 0


def command_fetch(options) -> int:
    names = list(datasets.DATASETS) if not options.names or "all" in options.names else options.names
    failures = 0
    for name in names:
        info = datasets.get_info(name)

        def progress(done, total, title=info.title):
            fraction = done / total if total else 0.0
            sys.stderr.write(f"\r{title}: {_progress_bar(fraction)} {done / 1e6:.1f}/{total / 1e6:.1f} MB")
            sys.stderr.flush()

        try:
            data = datasets.fetch(name, progress=progress)
        except datasets.DatasetUnavailable as error:
            failures += 1
            print(f"\n{error}", file=sys.stderr)
            continue
        print(f"\r{info.title}: ready, {len(data.x_train)} training and {len(data.x_test)} test images.".ljust(80))
    return 1 if failures else 0


def command_describe(options) -> int:
    info = datasets.get_info(options.dataset)
    table = architectures.describe(architectures.model_outline(options.arch, info.image_shape, info.num_classes,
                                                               _parse_settings(options.set)))
    print(f"{architectures.get_architecture(options.arch).title} for {info.title}")
    print(f"{'layer':20} {'type':20} {'output shape':22} {'parameters':>12}")
    for row in table["layers"]:
        print(f"{row['name']:20} {row['type']:20} {row['output_shape']:22} {row['parameters']:>12,}")
    print(f"Total parameters: {table['total']:,} (trainable {table['trainable']:,})")
    return 0


def command_architectures(options) -> int:
    for spec in architectures.ARCHITECTURES.values():
        print(f"{spec.name}: {spec.title}\n  {spec.description}")
        for parameter in spec.hyperparameters:
            allowed = (", ".join(map(str, parameter.choices)) if parameter.choices
                       else "true/false" if parameter.kind is bool
                       else f"{parameter.minimum:g} to {parameter.maximum:g}")
            print(f"    {parameter.name:20} default {parameter.default!s:8} ({allowed})")
    return 0


def command_worker(options) -> int:
    from core import job_rq

    if options.runs_dir:
        import os

        os.environ[runs.RUNS_DIR_VARIABLE] = options.runs_dir
    # A GPU worker takes GPU trainings first and helps with the others when it has none.
    queues = ["gpu", "cpu"] if options.queue == "gpu" else ["cpu"]
    return job_rq.worker_main(queues, options.url, burst=options.burst, name=options.name)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core",
                                     description="Neural Canvas: train and study image classifiers.")
    parser.add_argument("--runs-dir", help=f"where runs are kept (default: ${runs.RUNS_DIR_VARIABLE} or ./runs)")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model and save the run")
    train.add_argument("--dataset", default=datasets.DEFAULT_DATASET, choices=list(datasets.DATASETS))
    train.add_argument("--arch", default=architectures.DEFAULT_ARCHITECTURE, choices=list(architectures.ARCHITECTURES))
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", dest="batch_size", type=int)
    train.add_argument("--learning-rate", dest="learning_rate", type=float)
    train.add_argument("--optimizer", choices=["adam", "sgd", "rmsprop"])
    train.add_argument("--validation-fraction", dest="validation_fraction", type=float)
    train.add_argument("--seed", type=int)
    train.add_argument("--set", action="append", metavar="NAME=VALUE", help="an architecture setting, e.g. depth=20")
    train.add_argument("--name", help="a label for the run")
    train.add_argument("--mixed-precision", dest="mixed_precision", choices=["mixed_float16", "mixed_bfloat16"],
                       help="compute in 16-bit floats (GPUs: mixed_float16)")
    train.set_defaults(handler=command_train)

    commands.add_parser("runs", help="list saved runs").set_defaults(handler=command_runs)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved run on its test set")
    evaluate.add_argument("run", help="a run id from `python -m core runs`")
    evaluate.set_defaults(handler=command_evaluate)

    fetch = commands.add_parser("fetch", help="download datasets ahead of time")
    fetch.add_argument("names", nargs="*", help=f"dataset names or 'all' ({', '.join(datasets.DATASETS)})")
    fetch.set_defaults(handler=command_fetch)

    describe = commands.add_parser("describe", help="print a model's layers and parameter counts")
    describe.add_argument("--arch", default=architectures.DEFAULT_ARCHITECTURE,
                          choices=list(architectures.ARCHITECTURES))
    describe.add_argument("--dataset", default=datasets.DEFAULT_DATASET, choices=list(datasets.DATASETS))
    describe.add_argument("--set", action="append", metavar="NAME=VALUE")
    describe.set_defaults(handler=command_describe)

    worker = commands.add_parser("worker", help="run class trainings from Redis (RQ); see the README")
    worker.add_argument("--queue", choices=["cpu", "gpu"], default="cpu", help="gpu: this machine has a GPU")
    worker.add_argument("--url", help="the Redis URL (default: $NEURAL_CANVAS_REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="stop once the queues are empty")
    worker.add_argument("--name", help="a name for this worker in Redis (the machine's name is a good one)")
    worker.set_defaults(handler=command_worker)

    commands.add_parser("architectures", help="list architectures and their settings").set_defaults(
        handler=command_architectures)
    return parser


def main(argv=None) -> int:
    options = make_parser().parse_args(argv)
    try:
        return options.handler(options)
    except (ValueError, KeyError, datasets.DatasetUnavailable, runs.RunStoreError, PermissionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
