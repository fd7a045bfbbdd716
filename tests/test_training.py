"""Training: the stratified shuffled split, the uint8 pipeline, events, stop, NaN, determinism, accuracy."""

import threading

import numpy as np
import pytest

from core import datasets, runs, training


def test_split_is_stratified_shuffled_and_disjoint():
    labels = np.repeat(np.arange(10), 100)  # stored in class order, like the sample
    train_indices, validation_indices = training.stratified_split(labels, 0.2, seed=0)
    assert len(validation_indices) == 200 and len(train_indices) == 800
    assert not set(train_indices) & set(validation_indices)
    np.testing.assert_array_equal(np.bincount(labels[validation_indices]), np.full(10, 20))
    # Shuffled: the validation labels are not in class order.
    assert not np.all(np.diff(labels[validation_indices]) >= 0)


def test_split_depends_on_the_seed_only():
    labels = np.repeat(np.arange(3), 50)
    first = training.stratified_split(labels, 0.1, seed=7)
    again = training.stratified_split(labels, 0.1, seed=7)
    other = training.stratified_split(labels, 0.1, seed=8)
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_class_ordered_sample_validates_on_every_class():
    # The seeds' fit(validation_split=0.2) validates on the sample's last 20%: nearly all 8s and 9s.
    sample = datasets.load("mnist_sample")
    last_fifth = sample.y_train[-len(sample.y_train) // 5:]
    assert np.isin(last_fifth, [8, 9]).mean() > 0.95
    _, validation_indices = training.stratified_split(sample.y_train, 0.2, seed=0)
    assert set(np.unique(sample.y_train[validation_indices])) == set(range(10))


def test_pipeline_keeps_uint8_and_covers_every_image_once_per_epoch():
    images = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
    labels = np.arange(10)
    batches = list(training.make_pipeline(images, labels, 3, shuffle=True, seed=1))
    assert [batch[0].dtype.name for batch in batches] == ["uint8"] * 4
    seen = np.concatenate([batch[1].numpy() for batch in batches])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))


def test_the_pipeline_runs_without_tf_data_autotuning():
    # Its thread made deleting an iterator wait: 2-4 s at the start of every other epoch, up to 40 s at the end.
    images = np.zeros((10, 2, 2), dtype=np.uint8)
    for repeat in (False, True):
        pipeline = training.make_pipeline(images, np.arange(10), 3, shuffle=True, repeat=repeat)
        assert pipeline.options().autotune.enabled is False


def test_an_endless_pipeline_gives_every_image_once_per_epoch_in_a_new_order():
    images = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
    labels = np.arange(10)
    # 10 images in batches of 3: an epoch is 4 batches (3, 3, 3, 1), and the next epoch begins after it.
    batches = list(training.make_pipeline(images, labels, 3, shuffle=True, seed=1, repeat=True).take(8))
    assert [len(batch[1]) for batch in batches] == [3, 3, 3, 1] * 2
    first, second = (np.concatenate([batch[1].numpy() for batch in part]) for part in (batches[:4], batches[4:]))
    assert sorted(first) == sorted(second) == list(range(10))
    assert list(first) != list(second)


def _train(store, **settings):
    events = []
    hyperparameters = {"epochs": 1, "batch_size": 64, "seed": 3, **settings.pop("hyperparameters", {})}
    meta = training.train("mnist_sample", settings.pop("architecture", "ann"), hyperparameters, store=store,
                          on_event=events.append, limit_train=settings.pop("limit_train", 800), **settings)
    return meta, events


def test_events_history_and_saved_run(tmp_path):
    store = runs.RunStore(tmp_path)
    meta, events = _train(store, hyperparameters={"epochs": 2})
    kinds = [event["kind"] for event in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 2
    batch = next(event for event in events if event["kind"] == "batch")
    assert {"loss", "accuracy", "images_per_second", "elapsed", "eta", "epoch", "step", "steps"} <= set(batch)
    assert meta["status"] == "completed"
    assert len(meta["history"]["val_accuracy"]) == 2
    assert (store.root / meta["id"] / "model.keras").is_file()
    probabilities = store.load_array(meta["id"], "test_probabilities")
    assert probabilities.shape == (2000, 10)
    labels = datasets.load("mnist_sample").y_test
    assert meta["test"]["accuracy"] == pytest.approx(float((probabilities.argmax(1) == labels).mean()))


def test_same_seed_gives_the_same_first_epoch(tmp_path):
    store = runs.RunStore(tmp_path)
    first, _ = _train(store, hyperparameters={"seed": 11})
    second, _ = _train(store, hyperparameters={"seed": 11})
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert first["history"][key][0] == pytest.approx(second["history"][key][0], rel=1e-5, abs=1e-6)


def test_stop_keeps_history_and_best_finished_epoch(tmp_path):
    store = runs.RunStore(tmp_path)
    stop = threading.Event()
    events = []

    def on_event(event):
        events.append(event)
        if event["kind"] == "epoch" and event["epoch"] == 2:
            stop.set()

    meta = training.train("mnist_sample", "ann", {"epochs": 50, "batch_size": 32}, store=store,
                          on_event=on_event, stop_event=stop, limit_train=800)
    assert meta["status"] == "stopped"
    assert len(meta["history"]["loss"]) == 2  # the interrupted third epoch is not counted
    assert meta["best_epoch"] in (1, 2)
    assert store.get(meta["id"]).has_model
    assert "test" in meta
    # The replay keeps the two finished epochs too.
    from core import replay

    assert replay.load_replay(store, meta["id"]).epochs == 2


def test_who_stopped_it_is_written_with_the_stopped_status_in_one_update(tmp_path):
    # A reader between two updates (another process) must never see "stopped" without the reason.
    store = runs.RunStore(tmp_path)
    stop = threading.Event()
    updates, events = [], []
    update = store.update

    def recording_update(run_id, **fields):
        updates.append(dict(fields))
        return update(run_id, **fields)

    store.update = recording_update

    def on_event(event):
        events.append(event)
        if event["kind"] == "epoch":
            stop.set()

    teacher = {"problem": "Stopped by the teacher.", "stop_reason": "teacher"}
    meta = training.train("mnist_sample", "ann", {"epochs": 20, "batch_size": 32}, store=store,
                          on_event=on_event, stop_event=stop, stop_details=lambda: dict(teacher), limit_train=400)
    said = "Stopped by the teacher. The run keeps its best finished epoch."
    stopped = [fields for fields in updates if fields.get("status") == "stopped"]
    assert stopped and all(fields["problem"] == said for fields in stopped)
    assert meta["stop_reason"] == "teacher" and meta["problem"] == said
    assert events[-1]["message"] == said and events[-1]["stop_reason"] == "teacher"


def test_a_run_stopped_before_its_first_epoch_says_there_is_no_model_to_keep(tmp_path):
    stop = threading.Event()
    stop.set()
    meta = training.train("mnist_sample", "ann", {"epochs": 3, "batch_size": 32}, store=runs.RunStore(tmp_path),
                          stop_event=stop, limit_train=400)
    assert meta["status"] == "stopped"
    assert meta["problem"] == "Stopped by request. No epoch had finished, so there is no model to keep."


def test_nan_loss_fails_the_run_and_keeps_history(tmp_path, monkeypatch):
    import keras

    build_model = training.architectures.build_model

    def model_whose_loss_explodes(*args, **kwargs):
        # A learning rate far too high ends the same way; this makes it certain and fast.
        model = build_model(*args, **kwargs)
        model.compile(optimizer="sgd", metrics=["accuracy"],
                      loss=lambda labels, outputs: keras.ops.mean(outputs) * float("nan"))
        return model

    monkeypatch.setattr(training.architectures, "build_model", model_whose_loss_explodes)
    store = runs.RunStore(tmp_path)
    meta, events = _train(store, hyperparameters={"epochs": 3})
    assert meta["status"] == "failed"
    assert "learning rate is too high" in meta["problem"]
    assert events[-1]["kind"] == "end" and events[-1]["status"] == "failed"
    assert store.get(meta["id"]).status == "failed"
    assert not store.get(meta["id"]).has_model


def test_batch_larger_than_the_data_is_refused_before_saving(tmp_path):
    store = runs.RunStore(tmp_path)
    with pytest.raises(ValueError, match="larger than the 100 training images"):
        _train(store, hyperparameters={"batch_size": 128}, limit_train=100)
    assert store.list() == []


def test_cnn_reaches_95_percent_on_the_sample_in_two_epochs(tmp_path):
    store = runs.RunStore(tmp_path)
    meta = training.train("mnist_sample", "cnn", {"epochs": 2, "seed": 42}, store=store)
    assert meta["test"]["accuracy"] >= 0.95


def test_cosine_schedule_lowers_the_learning_rate_epoch_by_epoch(tmp_path):
    meta, _ = _train(runs.RunStore(tmp_path), limit_train=300,
                     hyperparameters={"epochs": 2, "learning_rate": 0.01, "learning_rate_schedule": "cosine"})
    assert meta["history"]["learning_rate"] == pytest.approx([0.01, 0.005])


OVERFITS_FAST = {"epochs": 12, "batch_size": 32, "learning_rate": 0.01}


def test_early_stopping_ends_the_run_and_keeps_the_best_epoch(tmp_path):
    # A dense network on 200 images at a high learning rate: the validation loss turns up within a few epochs.
    store = runs.RunStore(tmp_path)
    meta, events = _train(store, limit_train=200, hyperparameters={**OVERFITS_FAST, "early_stopping_patience": 2})
    assert meta["status"] == "completed"
    stopped = meta["stopped_early"]
    assert stopped["epoch"] == meta["epochs_done"] < 12
    assert stopped["epoch"] - stopped["best_epoch"] == 2 and stopped["best_epoch"] == meta["best_epoch"]
    assert stopped["patience"] == 2 and stopped["monitor"] == "val_loss"
    validation_losses = meta["history"]["val_loss"]
    assert min(validation_losses) == validation_losses[stopped["best_epoch"] - 1]
    assert events[-1]["stopped_early"] == stopped
    assert store.get(meta["id"]).has_model and "test" in meta


def test_patience_zero_trains_every_epoch(tmp_path):
    store = runs.RunStore(tmp_path)
    meta, _ = _train(store, limit_train=200, hyperparameters={**OVERFITS_FAST, "epochs": 4})
    assert meta["epochs_done"] == 4 and meta["stopped_early"] is None


def test_every_epoch_is_recorded_for_the_replay(tmp_path):
    from core import replay

    store = runs.RunStore(tmp_path)
    meta, _ = _train(store, limit_train=300, hyperparameters={"epochs": 2})
    recorded = replay.load_replay(store, meta["id"])
    assert recorded.epochs == 2 and recorded.num_classes == 10
    assert recorded.images.shape == (replay.REPLAY_IMAGES, 28, 28) and recorded.images.dtype.name == "uint8"
    assert recorded.probabilities.shape == (2, replay.REPLAY_IMAGES, 10)
    # Every class equally, and the images are the test images with those labels.
    sample = datasets.load("mnist_sample")
    assert np.bincount(recorded.labels).tolist() == [100] * 10
    indices = replay.pick_images(sample.y_test, seed=3)
    np.testing.assert_array_equal(recorded.images, sample.x_test[indices])
    np.testing.assert_allclose(recorded.probabilities.astype(np.float32).sum(axis=2), 1.0, atol=0.01)


def test_a_disk_that_fills_up_during_training_fails_the_run_with_a_clear_message(tmp_path, monkeypatch):
    import errno

    store = runs.RunStore(tmp_path)

    def disk_full(run_id, model):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "save_model", disk_full)
    meta, events = _train(store, limit_train=300, hyperparameters={"epochs": 3})
    assert meta["status"] == "failed"
    assert "It stopped after epoch 1 because its results could not be saved" in meta["problem"]
    assert "is full. Free some disk space" in meta["problem"] and "NEURAL_CANVAS_RUNS" in meta["problem"]
    assert events[-1]["status"] == "failed" and events[-1]["message"] == meta["problem"]
    run = store.get(meta["id"])
    assert run.status == "failed" and not run.has_model and len(run.meta["history"]["loss"]) == 1


def test_storage_problems_say_what_to_do():
    import errno

    folder = "/srv/runs"
    forbidden = training.storage_problem(PermissionError(errno.EACCES, "Permission denied"), folder)
    assert "not allowed to write to the runs folder (/srv/runs)" in forbidden
    wrapped = runs.RunStoreError("Cannot save a new run")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert "is full" in training.storage_problem(wrapped, folder)
    assert "could not be written (Input/output error)" in training.storage_problem(
        OSError(errno.EIO, "Input/output error"), folder)
