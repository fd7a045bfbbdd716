"""The run store: atomic writes, safe names, damaged and interrupted runs, owners."""

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from core import runs


@pytest.fixture
def store(tmp_path):
    return runs.RunStore(tmp_path / "runs")


def _new(store, **fields):
    defaults = {"dataset": "mnist_sample", "architecture": "cnn", "hyperparameters": {"epochs": 1}}
    return store.create(**{**defaults, **fields})


def test_create_update_and_list(store):
    run = _new(store, name="first", owner="alice")
    store.update(run.id, status="completed", history={"loss": [1.0, 0.5]})
    (run.path / "model.keras").write_bytes(b"placeholder")
    listed = store.list()
    assert [item.id for item in listed] == [run.id]
    assert listed[0].status == "completed"
    assert listed[0].meta["history"]["loss"] == [1.0, 0.5]
    assert listed[0].name == "first"


@pytest.mark.parametrize("typed", ["../x", "a/b", "..", "/etc/passwd", "x" * 1000, "naïve ✏️ model", "", "  "])
def test_typed_names_are_labels_never_paths(store, typed):
    run = _new(store, name=typed)
    assert run.path.parent == store.root
    assert len(run.meta["name"]) <= runs.MAX_NAME_LENGTH
    assert run.meta["name"]  # an empty name gets a default label
    assert sorted(path.name for path in store.root.iterdir()) == [run.id]


def test_rename_cleans_labels_and_refuses_empty(store):
    run = _new(store)
    assert store.rename(run.id, "  my\nmodel\t ")["name"] == "my model"
    with pytest.raises(ValueError, match="cannot be empty"):
        store.rename(run.id, "   ")


@pytest.mark.parametrize("bad_id", ["../x", "x", "20261123-154210-cnn-1a2b3c/../../etc", None])
def test_ids_that_are_not_run_ids_are_refused(store, bad_id):
    with pytest.raises(runs.RunNotFound):
        store.get(bad_id)


def test_damaged_runs_are_listed_not_raised(store):
    good = _new(store)
    broken = _new(store)
    (broken.path / "run.json").write_text("{ not json")
    missing = _new(store)
    os.remove(missing.path / "run.json")
    by_id = {run.id: run for run in store.list()}
    assert by_id[broken.id].damaged and "cannot be read" in by_id[broken.id].problem
    assert by_id[missing.id].damaged and "missing" in by_id[missing.id].problem
    assert not by_id[good.id].damaged


def test_completed_run_without_model_is_damaged(store):
    run = _new(store)
    store.update(run.id, status="completed")
    assert store.get(run.id).status == "damaged"


def test_run_left_running_by_a_dead_process_is_interrupted(store):
    run = _new(store, status="running")
    store.update(run.id, process="12345-deadbeef", history={"loss": [0.9]})
    listed = store.get(run.id)
    assert listed.status == "interrupted"
    assert listed.meta["history"] == {"loss": [0.9]}


def test_failed_write_leaves_previous_run_json(store, monkeypatch):
    run = _new(store, name="kept")

    def broken_dumps(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs.json, "dumps", broken_dumps)
    with pytest.raises(OSError):
        store.update(run.id, name="lost")
    monkeypatch.undo()
    assert store.get(run.id).name == "kept"
    # No temporary file left (run.lock is the run's lock file, see run_lock).
    assert sorted(path.name for path in run.path.iterdir()) == ["run.json", "run.lock"]


def test_unwritable_runs_folder_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = runs.RunStore(blocker / "runs")
    with pytest.raises(runs.RunStoreError, match="Set NEURAL_CANVAS_RUNS"):
        _new(store)


def test_nan_in_history_is_stored_as_null(store):
    run = _new(store)
    store.update(run.id, history={"loss": [1.0, float("nan")]})
    stored = json.loads((run.path / "run.json").read_text())
    assert stored["history"]["loss"] == [1.0, None]


def test_only_the_owner_deletes(store):
    run = _new(store, owner="alice")
    store.update(run.id, status="stopped")
    with pytest.raises(PermissionError, match="Only the student who trained"):
        store.delete(run.id, owner="bob")
    store.delete(run.id, owner="alice")
    assert store.list() == []


def test_a_run_without_owner_is_deleted_only_by_the_teacher(store):
    run = _new(store)
    store.update(run.id, status="completed")
    assert not store.get(run.id).owner
    for student in ("bob", ""):
        with pytest.raises(PermissionError, match="only the teacher can delete it"):
            store.delete(run.id, owner=student)
    # The teacher (and the command line) delete without an owner.
    store.delete(run.id, owner=None)
    assert store.list() == []


def test_arrays_round_trip(store):
    run = _new(store)
    store.save_array(run.id, "test_probabilities", np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(store.load_array(run.id, "test_probabilities"), np.eye(3))
    with pytest.raises(ValueError):
        store.save_array(run.id, "../evil", np.zeros(1))


def test_runs_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.RUNS_DIR_VARIABLE, str(tmp_path / "elsewhere"))
    assert runs.RunStore().root == tmp_path / "elsewhere"


# --- a full disk, a folder that cannot be written, a damaged model ---------------------------------------------


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _tiny_model():
    import keras

    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))


class _ModelThatFillsTheDisk:
    """Writes half a model file, then fails as a full disk does in the middle of `model.save`."""

    def save(self, path):
        with open(path, "wb") as file:
            file.write(b"PK\x03\x04 half a model")
        raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_saving_a_model_keeps_the_previous_model(store):
    run = _new(store)
    store.save_model(run.id, _tiny_model())
    store.update(run.id, status="completed")
    before = (run.path / "model.keras").read_bytes()
    with pytest.raises(runs.RunStoreError, match="disk is full.*delete old runs") as error_info:
        store.save_model(run.id, _ModelThatFillsTheDisk())
    assert "previous version is kept" in str(error_info.value)
    assert (run.path / "model.keras").read_bytes() == before
    assert sorted(path.name for path in run.path.iterdir()) == ["model.keras", "run.json", "run.lock"]
    assert store.get(run.id).status == "completed"
    assert store.load_model(run.id).output_shape == (None, 2)


def test_disk_full_while_recording_an_epoch_keeps_the_previous_run_json(store, monkeypatch):
    run = _new(store, name="kept")
    store.update(run.id, history={"loss": [0.9]})
    monkeypatch.setattr(runs.os, "fsync", _disk_full)
    with pytest.raises(runs.RunStoreError, match="disk is full"):
        store.update(run.id, history={"loss": [0.9, 0.5]})
    monkeypatch.undo()
    assert store.get(run.id).meta["history"] == {"loss": [0.9]}
    assert sorted(path.name for path in run.path.iterdir()) == ["run.json", "run.lock"]


def test_disk_full_when_a_run_starts_leaves_no_half_made_run(store, monkeypatch):
    _new(store)  # the runs folder exists and holds one run
    before = sorted(path.name for path in store.root.iterdir())
    monkeypatch.setattr(runs.os, "fsync", _disk_full)
    with pytest.raises(runs.RunStoreError, match="nothing was started.*disk is full"):
        _new(store, name="never made")
    monkeypatch.undo()
    assert sorted(path.name for path in store.root.iterdir()) == before
    assert [run.name for run in store.list()] == ["cnn on mnist_sample"]


def test_read_only_runs_folder_says_what_to_do_and_leaves_nothing(store, monkeypatch):
    store.root.mkdir(parents=True)
    real_mkdir = Path.mkdir

    def read_only_mkdir(self, *args, exist_ok=False, **kwargs):
        if not (exist_ok and self.is_dir()):
            raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "mkdir", read_only_mkdir)
    with pytest.raises(runs.RunStoreError, match="cannot be written to.*NEURAL_CANVAS_RUNS"):
        _new(store)
    monkeypatch.setattr(Path, "mkdir", real_mkdir)
    assert list(store.root.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to any folder, whatever its permissions")
def test_runs_folder_without_write_permission(store):
    store.root.mkdir(parents=True)
    store.root.chmod(0o555)
    try:
        with pytest.raises(runs.RunStoreError, match="cannot be written to"):
            _new(store)
    finally:
        store.root.chmod(0o755)
    assert list(store.root.iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 cut short", b"not a model"])
def test_damaged_model_file_is_refused_with_a_message_then_listed_as_damaged(store, content):
    run = _new(store)
    store.update(run.id, status="completed")
    (run.path / "model.keras").write_bytes(content)
    with pytest.raises(ValueError, match="model.keras is damaged.*Train the model again, or delete this run"):
        store.load_model(run.id)
    listed = {item.id: item for item in store.list()}[run.id]
    assert listed.damaged and "model.keras is damaged" in listed.problem
    # Saved anew (trained again into the same run), it is whole again.
    store.save_model(run.id, _tiny_model())
    assert store.get(run.id).status == "completed"
    assert store.load_model(run.id).output_shape == (None, 2)


def test_markdown_safe_shows_a_name_as_typed_never_as_a_link_or_image():
    escaped = runs.markdown_safe("![](http://tracker/x.png) [Log in](http://evil) **bold**")
    assert "](" not in escaped.replace("\\](", "") and "\\[" in escaped and "\\*\\*" in escaped


# --- one typed schema for run.json ------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("status", ["completed"]), ("name", 12345), ("test", "abc"), ("history", {"loss": "down"}),
    ("duration", "slow"), ("best_epoch", -1), ("hyperparameters", [1, 2]), ("owner", {"me": 1}),
    ("test", {"accuracy": "high"}), ("stopped_early", {"epoch": "3"}), ("epochs_done", 2.5),
    # Scores that are not fractions (a hand-edited run.json): "nan%" or "5500.0%" on a page, or a crash formatting
    # 10**400 as a percentage.
    ("test", {"accuracy": float("nan")}), ("test", {"accuracy": 10 ** 400}), ("test", {"roc_auc": 1.5}),
    ("pen_writers", {"accuracy": 55, "count": 10}), ("pen_writers", {"accuracy": True, "count": 10}),
    ("pen_writers", {"accuracy": 0.9}),
])
def test_a_run_json_with_wrong_types_is_damaged_and_never_raises(store, field, value):
    run = _new(store, name="typed")
    (run.path / "model.keras").write_bytes(b"placeholder")
    meta = json.loads((run.path / "run.json").read_text())
    meta.update(status="completed", test={"accuracy": 0.5}, history={"loss": [1.0]})
    meta[field] = value
    (run.path / "run.json").write_text(json.dumps(meta))
    [listed] = store.list()
    assert listed.damaged and field in listed.problem
    # Every property keeps its type: nothing a page formats can fail.
    assert listed.name == run.id and listed.owner == "" and listed.history == {} and listed.test == {}
    assert listed.test_accuracy is None and listed.duration is None and listed.best_epoch is None
    assert listed.epochs_done == 0 and listed.hyperparameters == {} and isinstance(listed.label, str)


def test_typed_properties_of_a_good_run(store):
    run = _new(store, name="good", owner="alice", hyperparameters={"epochs": 3})
    store.update(run.id, status="completed", history={"loss": [1.0, 0.5]}, duration=12.5, best_epoch=2,
                 epochs_done=3, test={"accuracy": 0.9, "loss": 0.3, "mistakes": 10})
    (run.path / "model.keras").write_bytes(b"placeholder")
    run = store.get(run.id)
    assert (run.status, run.name, run.owner, run.epochs, run.epochs_done) == ("completed", "good", "alice", 3, 3)
    assert (run.duration, run.best_epoch, run.test_accuracy) == (12.5, 2, 0.9)
    assert run.history == {"loss": [1.0, 0.5]} and run.dataset == "mnist_sample"


def test_the_cli_lists_a_run_with_wrong_types_as_damaged(store, capsys):
    from core import __main__ as cli

    run = _new(store)
    (run.path / "run.json").write_text(json.dumps({"id": run.id, "status": ["completed"], "name": 12345,
                                                   "test": "abc"}))
    assert cli.main(["--runs-dir", str(store.root), "runs"]) == 0
    output = capsys.readouterr().out
    assert "damaged" in output and "status has the wrong type" in output


# --- one lock per run, across RunStore objects and processes -----------------------------------------------


def test_two_run_stores_updating_one_run_lose_nothing(store):
    import threading

    run = _new(store)
    second = runs.RunStore(store.root)  # as a page and a training thread each make their own

    def write(writer, prefix):
        for index in range(40):
            writer.update(run.id, **{f"{prefix}{index}": index})

    threads = [threading.Thread(target=write, args=(writer, prefix))
               for writer, prefix in ((store, "a"), (second, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    meta = store.get(run.id).meta
    assert all(f"a{index}" in meta and f"b{index}" in meta for index in range(40))


def test_two_processes_updating_one_run_lose_nothing(store):
    import subprocess
    import sys

    run = _new(store)
    root = Path(__file__).resolve().parent.parent
    script = ("import sys; from core import runs; store = runs.RunStore(sys.argv[1]); "
              "[store.update(sys.argv[2], **{f'{sys.argv[3]}{i}': i}) for i in range(60)]")
    workers = [subprocess.Popen([sys.executable, "-c", script, str(store.root), run.id, prefix], cwd=root)
               for prefix in ("p", "q")]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    meta = store.get(run.id).meta
    missing = [f"{prefix}{index}" for prefix in "pq" for index in range(60) if f"{prefix}{index}" not in meta]
    assert missing == []


def test_a_run_the_job_engine_marked_interrupted_is_not_damaged(tmp_path):
    store = runs.RunStore(tmp_path)
    run = store.create(dataset="mnist_sample", architecture="ann", hyperparameters={"epochs": 1})
    store.update(run.id, status="interrupted", problem="its worker stopped", best_epoch=1)
    assert store.get(run.id).status == "interrupted"
    assert [listed.status for listed in store.list()] == ["interrupted"]


def test_a_runs_label_names_its_architecture_and_dataset_in_words(store):
    unnamed = _new(store)  # named by its keys: "cnn on mnist_sample"
    assert store.get(unnamed.id).label == "queued · CNN on MNIST sample (offline)"
    named = store.create(dataset="digits_mix", architecture="modern_cnn", hyperparameters={},
                         name="Default digit model")
    (store.get(named.id).path / "model.keras").write_bytes(b"weights")
    store.update(named.id, status="completed", test={"accuracy": 0.988, "loss": 0.04})
    # What the app measured first, then the name: a phone's select box cuts the end of the line.
    assert store.get(named.id).label == "98.8% · Default digit model · Modern CNN on MNIST sample + pen-drawn digits"
    # A name cannot pass for another run's accuracy or status: its dots become hyphens.
    faked = store.create(dataset="mnist_sample", architecture="dnn", hyperparameters={},
                         name="Default digit model · 99.9% • completed")
    assert store.get(faked.id).label == ("queued · Default digit model - 99.9% - completed · "
                                         "DNN on MNIST sample (offline)")
    # One still training says so in words ("running" read as cryptic to a teacher).
    store.update(unnamed.id, status="running")
    assert store.get(unnamed.id).label == "still training · CNN on MNIST sample (offline)"
    # Keys the registries do not know (a model imported from elsewhere) are shown as they are.
    assert runs.readable_training("resnet9", "my_photos") == "resnet9 on my_photos"


def test_the_saved_epoch_says_what_chose_it(store):
    with_validation = _new(store, hyperparameters={"validation_fraction": 0.1})
    without = _new(store, hyperparameters={"validation_fraction": 0.0})
    store.update(with_validation.id, best_epoch=3)
    store.update(without.id, best_epoch=6)
    assert runs.best_epoch_words(store.get(with_validation.id)) == "epoch 3, the best on validation"
    assert runs.best_epoch_words(store.get(without.id)) == "epoch 6, the best on training loss"
