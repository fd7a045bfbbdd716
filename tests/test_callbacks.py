"""The training callbacks by name, on a tiny seeded model: stop on request, stop on NaN, best epoch, events."""

import numpy as np
import pytest

from core import backend, callbacks


def _tiny_model(learning_rate: float = 0.01):
    keras = backend.keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy")
    return model


def _data():
    generator = np.random.default_rng(0)
    return generator.normal(size=(64, 4)).astype("float32"), generator.integers(0, 3, size=64)


def test_stop_on_request_asks_a_plain_function_after_every_batch():
    x, y = _data()
    asked = []

    def should_stop():
        asked.append(True)
        return len(asked) >= 3

    with pytest.raises(callbacks.StopRequested):
        _tiny_model().fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[callbacks.StopOnRequest(should_stop)])
    assert len(asked) == 3


def test_stop_on_nan_names_the_batch():
    x, y = _data()
    x[16:] = np.nan
    with pytest.raises(callbacks.LossIsNotFinite) as raised:
        _tiny_model().fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[callbacks.StopOnNaN()])
    assert raised.value.args[0] == 3


def test_best_checkpoint_and_early_stopping_keep_the_lowest_loss_epoch():
    x, y = _data()
    saved = []
    checkpoint = callbacks.BestCheckpoint(saved.append, "loss")
    stopping = callbacks.EarlyStopping(checkpoint, patience=2)
    model = _tiny_model()
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[checkpoint, stopping])
    losses = history.history["loss"]
    assert checkpoint.best_epoch == int(np.argmin(losses)) + 1 and checkpoint.best_value == pytest.approx(min(losses))
    assert len(saved) >= 1 and checkpoint.best_weights is not None
    assert stopping.stopped_epoch is None or stopping.stopped_epoch - checkpoint.best_epoch >= 2


def test_progress_events_end_each_epoch_and_keep_the_history():
    x, y = _data()
    events = []
    progress = callbacks.ProgressEvents(events.append, epochs=2, steps=8, batch_size=8)
    _tiny_model().fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[progress])
    epochs = [event for event in events if event["kind"] == "epoch"]
    assert [event["epoch"] for event in epochs] == [1, 2] and len(progress.history["loss"]) == 2
    # The last batch of every epoch is always reported, whatever the throttle.
    assert [event["step"] for event in events if event["kind"] == "batch"][-1] == 8


def test_the_time_left_ignores_the_first_batch_and_waits_for_a_measured_pace():
    # A first batch that takes 30 s (building and compiling the model), then 0.1 s a batch: 100 batches in all.
    now = [0.0]
    events = []
    progress = callbacks.ProgressEvents(events.append, epochs=1, steps=100, batch_size=8, interval=0.0,
                                        pace_seconds=1.0, clock=lambda: now[0])
    progress.on_train_begin()
    progress.on_epoch_begin(0)
    now[0] = 30.0
    progress.on_train_batch_end(0)
    for batch in range(1, 100):
        now[0] += 0.1
        progress.on_train_batch_end(batch)
    etas = [event["eta"] for event in events]
    # "Estimating" until a second of pace has been measured after the first batch.
    assert etas[:10] == [None] * 10
    # Then the time left at 0.1 s a batch, not the 30 s of the first batch spread over the rest.
    assert etas[10] == pytest.approx(0.1 * 89, rel=0.01)
    assert all(later <= earlier + 1e-9 for earlier, later in zip(etas[10:], etas[11:]))
    assert etas[-1] == pytest.approx(0.0)
