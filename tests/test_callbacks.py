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
