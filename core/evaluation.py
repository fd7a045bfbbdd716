"""How good a trained model is on the test set, and where it goes wrong.

`evaluate(model, x_test, y_test)` predicts once and derives everything else with numpy: loss, accuracy,
per-class accuracy, the confusion matrix, the mistakes sorted by confidence and the macro one-vs-rest ROC AUC.
The AUC is computed from the probabilities (the seeds' `roc_auc_score(np.round(preds), y_test)` swapped the
arguments and rounded the scores, which gives a meaningless number).
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Evaluation:
    probabilities: np.ndarray        # (N, classes) float32
    labels: np.ndarray               # (N,) true classes
    loss: float
    accuracy: float
    per_class_accuracy: np.ndarray   # (classes,), NaN for a class absent from the test set
    confusion: np.ndarray            # (classes, classes) counts, rows = true class, columns = predicted
    roc_auc: float                   # macro average of one-vs-rest AUCs

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)

    def mistakes(self, true_class: int | None = None, predicted_class: int | None = None,
                 most_confident_first: bool = True) -> np.ndarray:
        """Indices of misclassified test images, optionally of one true or predicted class, sorted by confidence."""
        return mistakes(self.probabilities, self.labels, true_class, predicted_class, most_confident_first)

    def summary(self) -> dict:
        """Plain numbers for run.json."""
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "per_class_accuracy": [None if np.isnan(value) else float(value) for value in self.per_class_accuracy],
            "confusion": self.confusion.tolist(),
            "roc_auc": self.roc_auc,
            "mistakes": int((self.predictions != self.labels).sum()),
        }


def predict_probabilities(model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The model's class probabilities for a stack of uint8 images, computed in batches."""
    outputs = [
        np.asarray(model(images[start:start + batch_size], training=False), dtype=np.float32)
        for start in range(0, len(images), batch_size)
    ]
    if not outputs:
        return np.zeros((0, model.output_shape[-1]), dtype=np.float32)
    return np.concatenate(outputs)


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def roc_auc_one_vs_rest(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative (ties half)."""
    positive = positive.astype(bool)
    positives, negatives = int(positive.sum()), int((~positive).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    # Mann-Whitney U with average ranks for ties.
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    unique, first_index, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average_rank = first_index + (counts + 1) / 2.0
    ranks[order] = np.repeat(average_rank, counts)
    rank_sum = ranks[positive].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def macro_roc_auc(probabilities: np.ndarray, labels: np.ndarray) -> float:
    aucs = [roc_auc_one_vs_rest(probabilities[:, index], labels == index) for index in range(probabilities.shape[1])]
    aucs = [value for value in aucs if not np.isnan(value)]
    return float(np.mean(aucs)) if aucs else float("nan")


def mistakes(probabilities, labels, true_class=None, predicted_class=None, most_confident_first=True):
    predictions = probabilities.argmax(axis=1)
    wrong = predictions != labels
    if true_class is not None:
        wrong &= labels == true_class
    if predicted_class is not None:
        wrong &= predictions == predicted_class
    indices = np.flatnonzero(wrong)
    confidence = probabilities[indices, predictions[indices]]
    order = np.argsort(-confidence if most_confident_first else confidence, kind="stable")
    return indices[order]


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Every metric from the probabilities a model gave to the test images."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ValueError(
            f"Expected one row of probabilities per label; got {probabilities.shape} for {len(labels)} labels."
        )
    num_classes = probabilities.shape[1]
    predictions = probabilities.argmax(axis=1)
    confusion = confusion_matrix(labels, predictions, num_classes)
    per_class_total = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class_accuracy = np.diag(confusion) / per_class_total
    return Evaluation(
        probabilities=probabilities,
        labels=labels,
        loss=cross_entropy(probabilities, labels) if len(labels) else float("nan"),
        accuracy=float((predictions == labels).mean()) if len(labels) else float("nan"),
        per_class_accuracy=per_class_accuracy.astype(np.float64),
        confusion=confusion,
        roc_auc=macro_roc_auc(probabilities, labels),
    )


def evaluate(model, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> Evaluation:
    """Predicts the test images once and computes every metric from the result."""
    return evaluate_probabilities(predict_probabilities(model, images, batch_size), labels)
