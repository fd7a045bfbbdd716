"""core.overfitting: the best epoch and the sentences under the curves, on hand-made histories."""

from core import overfitting

# Training accuracy climbs all along; the validation loss is lowest at epoch 4 and then rises.
OVERFITTING = {
    "loss": [0.9, 0.4, 0.2, 0.1, 0.06, 0.04, 0.03],
    "accuracy": [0.80, 0.90, 0.95, 0.971, 0.980, 0.988, 0.993],
    "val_loss": [0.5, 0.3, 0.2, 0.121, 0.13, 0.16, 0.183],
    "val_accuracy": [0.85, 0.9, 0.94, 0.96, 0.958, 0.957, 0.955],
}


def test_best_epoch_is_the_first_lowest_validation_loss():
    assert overfitting.best_epoch(OVERFITTING) == 4
    assert overfitting.best_epoch({"loss": [1, 1], "val_loss": [0.3, 0.3]}) == 1
    # A NaN epoch (stored as None) is never the best; without validation the training loss decides.
    assert overfitting.best_epoch({"loss": [0.5, None], "val_loss": [0.4, None]}) == 1
    assert overfitting.best_epoch({"loss": [0.5, 0.4, 0.45]}) == 2
    assert overfitting.best_epoch({}) is None
    assert overfitting.epochs_without_improvement(OVERFITTING) == 3


def test_overfitting_is_named_with_the_numbers_that_moved():
    sentence = overfitting.overfitting_sentence(OVERFITTING)
    assert sentence == ("Since epoch 4 the training accuracy has kept rising (97.1% → 99.3%) while the validation "
                        "loss got worse (0.121 → 0.183): the model is memorising the training images "
                        "(overfitting).")


def test_a_validation_loss_that_barely_moved_is_the_first_sign_not_memorising():
    """A teacher review: 0.213 → 0.216 was called memorising. Within 3% of its lowest, the loss stayed about the
    same: the model has stopped improving on new images, the first sign of overfitting."""
    history = {"loss": [0.5, 0.3, 0.2, 0.15, 0.1], "accuracy": [0.9, 0.95, 0.986, 0.99, 0.995],
               "val_loss": [0.4, 0.25, 0.213, 0.215, 0.216]}
    sentence = overfitting.overfitting_sentence(history)
    assert sentence.startswith("Since epoch 3 the training accuracy has kept rising (98.6% → 99.5%) while the "
                               "validation loss stayed about the same (0.213 → 0.216)")
    assert "first sign of overfitting" in sentence and "memorising" not in sentence


def test_a_model_still_learning_says_so():
    history = {"loss": [0.9, 0.5, 0.3], "accuracy": [0.7, 0.85, 0.9], "val_loss": [0.6, 0.4, 0.35]}
    sentence = overfitting.overfitting_sentence(history)
    assert "still falling (0.600 → 0.350" in sentence and "still learning" in sentence


def test_one_worse_epoch_may_be_noise():
    history = {"loss": [0.9, 0.5, 0.3], "accuracy": [0.7, 0.85, 0.9], "val_loss": [0.6, 0.4, 0.45]}
    assert "one epoch may be noise" in overfitting.overfitting_sentence(history)


def test_a_plateau_is_not_called_overfitting():
    history = {"loss": [0.5, 0.4, 0.4, 0.4], "accuracy": [0.9, 0.92, 0.921, 0.92],
               "val_loss": [0.4, 0.3, 0.31, 0.32]}
    sentence = overfitting.overfitting_sentence(history)
    assert "not improved for 2 epochs since epoch 2" in sentence and "overfitting" not in sentence


def test_too_early_or_without_validation():
    assert "first epoch" in overfitting.overfitting_sentence({})
    assert "too early" in overfitting.overfitting_sentence({"loss": [0.5], "val_loss": [0.4]})
    assert "validation fraction above 0" in overfitting.overfitting_sentence({"loss": [0.5, 0.4]})
    # The one click's default digit model holds none out by design: the sentence says why, not "set" a fraction.
    by_design = overfitting.overfitting_sentence({"loss": [0.5, 0.4]}, hold_out_chosen=False)
    assert by_design.startswith("The default digit model holds no images out for validation: it learns from all")
    assert by_design.endswith("train a model on this page: it holds some images out (its validation fraction).")
    # From the start: not "watch whether the validation loss keeps falling", which it has none of.
    assert overfitting.overfitting_sentence({}, hold_out_chosen=False) == by_design


def test_live_history_is_rebuilt_from_epoch_events():
    events = [{"kind": "start"}, {"kind": "batch", "loss": 9.0},
              {"kind": "epoch", "epoch": 1, "loss": 0.5, "accuracy": 0.8, "val_loss": 0.4, "val_accuracy": 0.85},
              {"kind": "epoch", "epoch": 2, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.45, "val_accuracy": 0.84}]
    history = overfitting.history_from_events(events)
    assert history == {"loss": [0.5, 0.3], "accuracy": [0.8, 0.9], "val_loss": [0.4, 0.45],
                       "val_accuracy": [0.85, 0.84]}
    assert overfitting.best_epoch(history) == 1


def test_early_stopping_sentences():
    record = {"epoch": 7, "patience": 3, "best_epoch": 4, "monitor": "val_loss"}
    assert overfitting.early_stopping_sentence(record) == (
        "Stopped early after epoch 7: the validation loss had not improved for 3 epochs; "
        "the model keeps epoch 4, its best.")
    assert overfitting.early_stopping_sentence(None) is None
    assert overfitting.early_stopping_progress(OVERFITTING, 0) is None
    assert "not improved for 3 of 5 epochs (best so far: epoch 4)" in overfitting.early_stopping_progress(
        OVERFITTING, 5)
    assert "Early stopping is on" in overfitting.early_stopping_progress({"loss": [1.0], "val_loss": [1.0]}, 2)
