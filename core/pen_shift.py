"""Domain shift: how well a digit model reads the handwriting of people it never saw.

A model that aces its own test set can stumble on digits from elsewhere: trained on MNIST's scanned digits, it
meets digits drawn with a pen by other people. Every run on a 28x28 grey digit dataset is therefore also scored
on the held-out pen writers (`core.pen_digits.TEST_WRITERS`: 10 writers no model here trains on, 2,498 digits
drawn on the canvas and preprocessed as the Draw page does), and the score goes into run.json next to the test
accuracy, under the key `pen_writers`:

    {"accuracy": 0.937, "count": 2498, "wrong": [[index, predicted], ...]}

`index` is a digit's place in the `pendigits` dataset's test split (`datasets.load("pendigits").x_test`), and
`wrong` lists the first `MAX_WRONG_KEPT` digits read wrong, in that order, so a page can show them.

Example:

```python
from core import pen_shift

summary = pen_shift.score(model, "mnist_sample")   # None for datasets that are not 28x28 digits
```
"""

import numpy as np

from core import datasets, evaluation, runs

RUN_KEY = "pen_writers"
MAX_WRONG_KEPT = 60


def applies_to(dataset: str) -> bool:
    """Whether runs on `dataset` read 28x28 grey digits, and so can be scored on the pen writers."""
    try:
        info = datasets.get_info(dataset)
    except ValueError:
        return False
    return info.is_digits and tuple(info.image_shape) == (28, 28)


def held_out() -> tuple[np.ndarray, np.ndarray]:
    """The held-out writers' digits, as the Draw page prepares them: (images, labels)."""
    pen = datasets.load("pendigits")
    return pen.x_test, pen.y_test


def score(model, dataset: str) -> dict | None:
    """Scores `model` on the held-out pen writers; None when `dataset` is not a 28x28 digit set."""
    if not applies_to(dataset):
        return None
    images, labels = held_out()
    result = evaluation.evaluate(model, images, labels)
    predicted = np.asarray(result.probabilities).argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "count": int(len(labels)),
        "wrong": [[int(index), int(predicted[index])] for index in wrong[:MAX_WRONG_KEPT]],
    }


def summary_of(meta: dict) -> dict | None:
    """The run's pen-writer score from run.json's contents, or None when it has none (or a damaged one: an accuracy
    that is not a fraction between 0 and 1, a count that is not a whole number)."""
    value = meta.get(RUN_KEY) if isinstance(meta, dict) else None
    return value if runs.is_pen_summary(value) else None


def sentence(test_accuracy: float | None, summary: dict, dataset_title: str) -> str:
    """One sentence for a teacher, e.g. "Trained on MNIST sample (offline): 98.7% of its test digits, 93.7% of
    2,498 digits drawn with a pen by 10 people it never saw."."""
    test = f"{test_accuracy:.1%} of its test digits, " if test_accuracy is not None else ""
    return (f"Trained on {dataset_title}: {test}{summary['accuracy']:.1%} of {summary['count']:,} digits drawn "
            f"with a pen by 10 people it never saw.")
