"""What the training curves say: the best epoch, early stopping, and whether the model overfits, in words.

Pure functions of a run's history (`run.json`'s `history`: one value per epoch for `loss`, `accuracy`,
`val_loss`, `val_accuracy`; NaN stored as None). The Train page, live and finished, and the Results page put
these sentences under the curves; `core.charts` marks the best epoch on them.

    from core import overfitting
    overfitting.best_epoch({"val_loss": [0.5, 0.3, 0.4]})   # 2
    overfitting.overfitting_sentence(history)                # "Since epoch 4 the training accuracy ..."

The best epoch is chosen exactly as training's checkpoint chooses the model it keeps: the first epoch with the
lowest validation loss, or the lowest training loss when nothing was held out for validation.
"""

import math

# Training accuracy must rise by more than this (0.2 percentage points) after the best epoch to count as
# "still rising": less is noise between two epochs.
RISING_ACCURACY = 0.002
# The validation loss must end more than this (3%) above its lowest to count as "got worse": less is the same
# loss give or take an epoch's noise (0.213 → 0.216), where the model has stopped improving on new images
# rather than begun to memorise.
WORSE_LOSS = 0.03


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def history_from_events(events) -> dict:
    """A run's history (one list per metric) rebuilt from training's epoch events, for the live view."""
    history: dict[str, list] = {}
    for event in events:
        if event.get("kind") != "epoch":
            continue
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in event:
                history.setdefault(key, []).append(event[key])
    return history


def monitored_metric(history: dict) -> str:
    """"val_loss" when the run validates (any finite value), else "loss": the one the best epoch is chosen by."""
    return "val_loss" if any(_finite(value) for value in (history or {}).get("val_loss") or []) else "loss"


def best_epoch(history: dict) -> int | None:
    """The epoch (from 1) with the lowest validation loss (training loss without validation); None before any."""
    values = (history or {}).get(monitored_metric(history)) or []
    best, best_value = None, math.inf
    for epoch, value in enumerate(values, start=1):
        # Strictly lower, as the checkpoint decides: a tie keeps the earlier epoch.
        if _finite(value) and value < best_value:
            best, best_value = epoch, value
    return best


def epochs_done(history: dict) -> int:
    return len((history or {}).get("loss") or [])


def epochs_without_improvement(history: dict) -> int:
    """How many finished epochs came after the best one: what early stopping counts."""
    best = best_epoch(history)
    return 0 if best is None else epochs_done(history) - best


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def overfitting_sentence(history: dict, *, hold_out_chosen: bool = True) -> str:
    """One sentence that says what the curves show: still learning, overfitting, or stuck.

    Meant for a class: it names the epoch where the validation loss was lowest and the numbers that moved
    since, e.g. "Since epoch 4 the training accuracy has kept rising (97.1% → 99.3%) while the validation
    loss got worse (0.121 → 0.183): the model is memorising the training images (overfitting)."

    `hold_out_chosen`: whoever started the training chose how many images to hold out (False for the Draw page's
    one-click default digit model, which holds none by design: the sentence then says why, not to change it).
    """
    history = history or {}
    done = epochs_done(history)
    if not hold_out_chosen:
        return ("The default digit model holds no images out for validation: it learns from all of its training "
                "images, to read handwriting as well as it can, so these curves cannot show overfitting. To see "
                "it, train a model on this page: it holds some images out (its validation fraction).")
    if done == 0:
        return "The curves start after the first epoch: watch whether the validation loss keeps falling."
    if monitored_metric(history) == "loss":
        return ("No images were held out for validation, so the curves cannot show overfitting: "
                "set a validation fraction above 0 to see it.")
    best = best_epoch(history)
    if done == 1:
        return ("After one epoch it is too early to tell: overfitting shows when the validation loss stops "
                "falling while the training accuracy keeps rising.")
    validation_losses = history["val_loss"]
    if best == done:
        first = next(value for value in validation_losses if _finite(value))
        return (f"The validation loss is still falling ({first:.3f} → {validation_losses[-1]:.3f}, lowest at "
                f"the last epoch): the model is still learning.")
    since = done - best
    best_loss, last_loss = validation_losses[best - 1], validation_losses[-1]
    loss_change = (f"({best_loss:.3f} → {last_loss:.3f})" if _finite(last_loss)
                   else f"(lowest {best_loss:.3f} at epoch {best})")
    accuracies = history.get("accuracy") or []
    best_accuracy = accuracies[best - 1] if len(accuracies) >= best else None
    last_accuracy = accuracies[-1] if accuracies else None
    rising = (_finite(best_accuracy) and _finite(last_accuracy)
              and last_accuracy - best_accuracy > RISING_ACCURACY)
    if since == 1:
        return (f"The validation loss rose in the last epoch {loss_change} after its lowest at epoch {best}: "
                "one epoch may be noise, but if it keeps rising while the training accuracy climbs, the model "
                "is starting to overfit.")
    worse = not _finite(last_loss) or last_loss > best_loss * (1 + WORSE_LOSS)
    if rising and worse:
        return (f"Since epoch {best} the training accuracy has kept rising "
                f"({_percent(best_accuracy)} → {_percent(last_accuracy)}) while the validation loss got worse "
                f"{loss_change}: the model is memorising the training images (overfitting).")
    if rising:
        return (f"Since epoch {best} the training accuracy has kept rising "
                f"({_percent(best_accuracy)} → {_percent(last_accuracy)}) while the validation loss stayed about "
                f"the same {loss_change}: the model no longer gets better on images it has not seen, the first "
                "sign of overfitting. More epochs would not help.")
    return (f"The validation loss has not improved for {since} epochs since epoch {best} {loss_change}, and the "
            "training accuracy has stopped rising too: the model has learnt what it can with these settings.")


def early_stopping_sentence(stopped_early: dict | None) -> str | None:
    """What early stopping did, from run.json's `stopped_early` record; None for a run it did not stop.

    e.g. "Stopped early after epoch 7: the validation loss had not improved for 3 epochs; the model keeps
    epoch 4."
    """
    if not stopped_early:
        return None
    loss = "validation loss" if stopped_early.get("monitor", "val_loss") == "val_loss" else "training loss"
    patience = stopped_early["patience"]
    return (f"Stopped early after epoch {stopped_early['epoch']}: the {loss} had not improved for {patience} "
            f"epoch{'s' if patience != 1 else ''}; the model keeps epoch {stopped_early['best_epoch']}, its best.")


def early_stopping_progress(history: dict, patience: int) -> str | None:
    """A live note while early stopping watches the run, e.g. "Early stopping: no improvement for 1 of 3
    epochs."; None when early stopping is off."""
    if not patience:
        return None
    loss = "validation loss" if monitored_metric(history) == "val_loss" else "training loss"
    waited = epochs_without_improvement(history)
    if waited == 0:
        return (f"Early stopping is on: training ends once the {loss} has not improved for {patience} "
                f"epoch{'s' if patience != 1 else ''} in a row.")
    return (f"Early stopping: the {loss} has not improved for {waited} of {patience} epochs "
            f"(best so far: epoch {best_epoch(history)}).")
