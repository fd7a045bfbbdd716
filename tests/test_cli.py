"""The command line, run as a user would: python -m core ..."""

import io
import os
import subprocess
import sys
from pathlib import Path

from core import __main__ as cli

ROOT = Path(__file__).resolve().parent.parent


def _run(*arguments, runs_dir):
    environment = dict(os.environ, NEURAL_CANVAS_RUNS=str(runs_dir))
    return subprocess.run([sys.executable, "-m", "core", *arguments], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_train_then_list_then_evaluate(tmp_path):
    trained = _run("train", "--dataset", "mnist_sample", "--arch", "ann", "--epochs", "1", "--batch-size", "64",
                   runs_dir=tmp_path)
    assert trained.returncode == 0, trained.stderr
    # Its output is a pipe, not a terminal: one line per epoch, no carriage-return progress line.
    assert "\r" not in trained.stderr
    epoch_lines = [line for line in trained.stderr.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 1 and epoch_lines[0].startswith("epoch 1/1 loss ")
    assert "Test accuracy 0.8" in trained.stdout or "Test accuracy 0.9" in trained.stdout
    run_id = trained.stdout.strip().splitlines()[-1].split()[1].rstrip(":")
    listed = _run("runs", runs_dir=tmp_path)
    assert run_id in listed.stdout and "completed" in listed.stdout
    evaluated = _run("evaluate", run_id, runs_dir=tmp_path)
    assert evaluated.returncode == 0 and "Per-class accuracy" in evaluated.stdout


class Terminal(io.StringIO):
    def isatty(self):
        return True


EVENTS = [
    {"kind": "batch", "epoch": 1, "epochs": 2, "progress": 0.25, "loss": 1.0, "accuracy": 0.5,
     "images_per_second": 900.0, "eta": 3.0},
    {"kind": "batch", "epoch": 1, "epochs": 2, "progress": 0.5, "loss": 0.8, "accuracy": 0.6,
     "images_per_second": 950.0, "eta": 2.0},
    {"kind": "epoch", "epoch": 1, "epochs": 2, "loss": 0.8, "accuracy": 0.6, "val_loss": 0.7, "val_accuracy": 0.7,
     "epoch_seconds": 1.5},
]


def test_progress_in_a_terminal_updates_one_line_and_into_a_file_writes_one_line_per_epoch():
    terminal, log = Terminal(), io.StringIO()
    for event in EVENTS:
        cli.TerminalProgress(terminal)(event)
        cli.TerminalProgress(log)(event)
    assert terminal.getvalue().count("\r") == 3 and "img/s ETA 0:02" in terminal.getvalue()
    assert log.getvalue() == "epoch 1/2 loss 0.8000 acc 0.6000 val_loss 0.7000 val_acc 0.7000 (1.5 s)\n"


def test_bad_values_give_a_message_not_a_traceback(tmp_path, capsys):
    assert cli.main(["--runs-dir", str(tmp_path), "train", "--arch", "dnn", "--set", "depth=1000"]) == 2
    error = capsys.readouterr().err
    assert "Hidden layers must be between 1 and 30" in error and "Traceback" not in error
    assert cli.main(["--runs-dir", str(tmp_path), "evaluate", "../../etc"]) == 2


def test_describe_prints_the_parameter_count(capsys):
    assert cli.main(["describe", "--arch", "dnn", "--set", "depth=20"]) == 0
    assert "Total parameters: 281,510" in capsys.readouterr().out


def test_fetch_of_an_offline_dataset_says_where_to_put_files(monkeypatch, capsys):
    from core import datasets

    def unavailable(name, progress=None):
        raise datasets.DatasetUnavailable("Could not download CIFAR-10 (no network). Put the file in /x/.")

    monkeypatch.setattr(datasets, "fetch", unavailable)
    assert cli.main(["fetch", "cifar10"]) == 1
    assert "Put the file in /x/" in capsys.readouterr().err
