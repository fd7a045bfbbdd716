"""Epoch replay: what a model answered on a fixed set of test images after each epoch of its training.

During training a callback (see `core.training`) predicts a fixed, class-balanced set of test images at the
end of every epoch; the answers are saved with the run. Afterwards the Results page scrubs through the
epochs and shows how the predictions and the confusion matrix changed as the model learned.

    from core import replay, runs
    recorded = replay.load_replay(runs.RunStore(), run_id)
    if recorded is not None:
        recorded.predictions(epoch=1), recorded.confusion(epoch=recorded.epochs)
"""

import dataclasses

import numpy as np

# Enough images for a confusion matrix that means something; small enough to predict in a blink per epoch
# (1,000 images of 28x28 are 0.8 MB and about 0.1 s of a CNN on this machine's CPU).
REPLAY_IMAGES = 1000
IMAGES_ARRAY = "replay_images"
LABELS_ARRAY = "replay_labels"
PROBABILITIES_ARRAY = "replay_probabilities"


@dataclasses.dataclass(frozen=True)
class Replay:
    """The fixed test images, their labels, and the model's probabilities for them after every epoch."""

    images: np.ndarray  # (N, height, width[, channels]) uint8
    labels: np.ndarray  # (N,) int
    probabilities: np.ndarray  # (epochs, N, classes) float16

    def __post_init__(self):
        if self.probabilities.ndim != 3 or self.probabilities.shape[1] != len(self.labels):
            raise ValueError(
                f"Replay probabilities must be (epochs, {len(self.labels)}, classes); got {self.probabilities.shape}."
            )
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} replay images but {len(self.labels)} labels.")

    @property
    def epochs(self) -> int:
        return int(self.probabilities.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.probabilities.shape[2])

    def _frame(self, epoch: int) -> np.ndarray:
        if not 1 <= epoch <= self.epochs:
            raise ValueError(f"Epoch must be between 1 and {self.epochs}; got {epoch}.")
        return self.probabilities[epoch - 1].astype(np.float32)

    def predictions(self, epoch: int) -> np.ndarray:
        """The predicted class of each image after `epoch` (counted from 1)."""
        return self._frame(epoch).argmax(axis=1)

    def confidences(self, epoch: int) -> np.ndarray:
        """The probability the model gave its own answer for each image after `epoch`."""
        return self._frame(epoch).max(axis=1)

    def accuracy(self, epoch: int) -> float:
        return float((self.predictions(epoch) == self.labels).mean())

    def confusion(self, epoch: int) -> np.ndarray:
        """Counts of (true class, predicted class) after `epoch`: rows are the truth."""
        matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        np.add.at(matrix, (self.labels.astype(np.int64), self.predictions(epoch)), 1)
        return matrix


def pick_images(labels: np.ndarray, count: int = REPLAY_IMAGES, seed: int = 0) -> np.ndarray:
    """Sorted indices of about `count` images with every class equally represented (as far as they exist)."""
    labels = np.asarray(labels)
    if count >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = max(1, count // len(classes))
    chosen = [rng.permutation(np.flatnonzero(labels == value))[:per_class] for value in classes]
    return np.sort(np.concatenate(chosen))


def save_replay(store, run_id: str, images: np.ndarray, labels: np.ndarray, probabilities) -> None:
    """Saves the replay of `run_id`: `probabilities` is a list (one per epoch) or an (epochs, N, classes) array."""
    stacked = np.asarray(probabilities, dtype=np.float16)
    Replay(np.asarray(images), np.asarray(labels), stacked)  # checks the shapes before anything is written
    store.save_array(run_id, IMAGES_ARRAY, np.asarray(images, dtype=np.uint8))
    store.save_array(run_id, LABELS_ARRAY, np.asarray(labels, dtype=np.int64))
    store.save_array(run_id, PROBABILITIES_ARRAY, stacked)


def load_replay(store, run_id: str) -> Replay | None:
    """The replay saved with `run_id`, or None for a run without one (older, imported or unfinished runs)."""
    arrays = [store.load_array(run_id, name) for name in (IMAGES_ARRAY, LABELS_ARRAY, PROBABILITIES_ARRAY)]
    if any(array is None for array in arrays):
        return None
    try:
        return Replay(*arrays)
    except ValueError:
        return None
