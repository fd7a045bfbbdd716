"""How trained models do on the class drawings: the students' own handwriting as a test set.

A model can score 98% on MNIST's test set and far less on digits drawn with a mouse by a class: other pens,
other habits, other sizes. This module scores one run, or every digit run, on the drawings of
`core.class_set` and words the comparison. The metrics are those of the Results page (`core.evaluation`).

    from core import class_evaluation, class_set, runs

    store = runs.RunStore()
    images, labels = class_set.ClassSet().images_and_labels()
    for run in class_evaluation.digit_runs(store.list()):
        result = class_evaluation.evaluate_run(store, run, images, labels)
        print(class_evaluation.comparison_sentence(run, result))
"""

import math

import numpy as np

from core import evaluation, inference, runs, text


def digit_runs(candidates) -> list:
    """The runs that can be scored on the class drawings: a saved model trained on digits (MNIST or its
    sample), which reads 28x28 greyscale images; the most accurate on its own test images first (see
    `inference.compatible_runs`)."""
    return [run for run in inference.compatible_runs(candidates) if inference.reads_digits(run)]


def evaluate_run(store, run, images: np.ndarray, labels: np.ndarray) -> evaluation.Evaluation:
    """The run's evaluation on the drawings: accuracy, confusion matrix, mistakes (see core.evaluation).

    The model is the one the Draw page uses (loaded once per process). Raises ValueError if there are no
    drawings or the model does not read 28x28 greyscale digits.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if len(images) == 0:
        raise ValueError("There are no class drawings to score the model on yet: save some on the Draw page.")
    predictor = inference.get_predictor(store, run.id)
    if predictor.input_shape != tuple(images.shape[1:]) or predictor.num_classes != 10:
        raise ValueError(
            f"This model reads images of shape {predictor.input_shape} into {predictor.num_classes} classes; the "
            "class drawings are 28x28 digits. Choose a model trained on MNIST or the MNIST sample."
        )
    return evaluation.evaluate(predictor.model, images, labels)


def comparison_sentence(run, result: evaluation.Evaluation) -> str:
    """One sentence (Markdown) comparing the model on the class drawings with its own test set."""
    right = int((result.predictions == result.labels).sum())
    total = len(result.labels)
    sentence = (f"This model reads **{right:,} of {total:,}** class drawings right "
                f"(**{result.accuracy:.1%}**)")
    test_accuracy = run.test_accuracy
    if test_accuracy is None:
        return sentence + "."
    sentence += f", against **{test_accuracy:.1%}** on its own test set."
    # A score on a few drawings is a rough one: the 95% interval says how rough, and whether the gap is real.
    low, high = score_interval(right, total)
    sentence += (f" From {total:,} drawing{'s' if total != 1 else ''}, its score on the class's handwriting is likely "
                 f"between {low:.0%} and {high:.0%}.")
    if test_accuracy > high:
        sentence += (" The class's handwriting is harder for it than the test images, which come from the same "
                     "writers as its training images.")
    elif test_accuracy < low:
        sentence += " The class draws more clearly than its test set."
    elif high - low > WIDE_INTERVAL:
        sentence += (" Its test score lies in that range: more drawings will tell whether the class's handwriting "
                     "is harder for it.")
    else:
        sentence += " It copes with the class's handwriting about as well as with its test images."
    return sentence


# An interval wider than this (ten points) does not say "about as well": it says "more drawings".
WIDE_INTERVAL = 0.10


def score_interval(right: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% with z = 1.96) of an accuracy of `right` out of `total`: where the model's
    true accuracy on such drawings likely lies. Sound for small counts, unlike the plain +/- 2 standard errors."""
    if total <= 0:
        raise ValueError(f"An accuracy needs at least one drawing; got {total}.")
    share = right / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def hardest_digit_sentence(result: evaluation.Evaluation) -> str | None:
    """Which digit of the class the model reads worst, in one sentence (None when it reads every one right)."""
    counts = np.bincount(result.labels, minlength=result.confusion.shape[0])
    right = np.diag(result.confusion)
    drawn = np.flatnonzero(counts)
    if len(drawn) == 0 or np.all(right[drawn] == counts[drawn]):
        return None
    # Worst share of right answers; among equals, the digit with more drawings (the surer finding).
    digit = int(min(drawn, key=lambda index: (right[index] / counts[index], -counts[index])))
    confused_with = result.confusion[digit].copy()
    confused_with[digit] = 0
    sentence = (f"The class's hardest digit for this model is **{digit}**: {int(right[digit])} of "
                f"{int(counts[digit])} read right")
    if confused_with.max() > 0:
        sentence += f", most often mistaken for **{int(confused_with.argmax())}**"
    return sentence + "."


def score_row(run, result: evaluation.Evaluation) -> dict:
    """One row of the table that scores every model: what the run is and how it does, on both test sets."""
    test_accuracy = run.test_accuracy
    right = int((result.predictions == result.labels).sum())
    low, high = score_interval(right, len(result.labels))
    return {
        "Model": run.name,
        # The names every other page uses ("Modern CNN", "MNIST sample"), not the registries' keys.
        "Architecture": runs.readable_architecture(run.architecture),
        "Trained on": runs.readable_dataset(run.dataset),
        "Test set accuracy": test_accuracy,
        "Class drawings accuracy": result.accuracy,
        # Where its accuracy on such drawings likely lies (95%): a difference inside it is no finding.
        "Likely range": f"{low:.0%} to {high:.0%}",
        # In percentage points: how much worse (negative) the model reads the class than its own test set.
        "Difference": None if test_accuracy is None else round(100 * (result.accuracy - test_accuracy), 1),
        "Mistakes": int((result.predictions != result.labels).sum()),
    }


def best_sentence(rows: list[dict]) -> str:
    """Which model reads the class drawings best (all of them when several tie), from `score_row` rows."""
    if not rows:
        return "No model could be scored."
    # A model imported from elsewhere may have learnt these very drawings (anyone can export the collection): it
    # is scored in the table, not named the best.
    trained_here = [row for row in rows if row["Architecture"] != "imported"]
    if trained_here and len(trained_here) < len(rows):
        return best_sentence(trained_here) + " (Imported models are left out: they may have learnt these drawings.)"
    best_accuracy = max(row["Class drawings accuracy"] for row in rows)
    best = [row for row in rows if row["Class drawings accuracy"] == best_accuracy]
    if len(rows) == 1:
        return "Only one digit model so far: train another architecture to compare them on the class drawings."
    if len(best) == len(rows):
        return f"Every model reads the class drawings equally well: **{best_accuracy:.1%}**."
    names = [f"**{text.markdown_escape(row['Model'])}** ({row['Architecture']})" for row in best]
    who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"Best on the class drawings: {who}, **{best_accuracy:.1%}**."


def few_drawings_warning(labels: np.ndarray, minimum_per_digit: int = 3) -> str | None:
    """A sentence saying why the scores are shaky when some digits have few or no drawings, else None."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=10)
    missing = [str(digit) for digit in range(10) if counts[digit] == 0]
    scarce = [str(digit) for digit in range(10) if 0 < counts[digit] < minimum_per_digit]
    parts = []
    if missing:
        parts.append(f"no drawing of {_list(missing)}")
    if scarce:
        parts.append(f"fewer than {minimum_per_digit} of {_list(scarce)}")
    if not parts:
        return None
    return (f"The collection has {' and '.join(parts)}: scores on so few drawings change a lot with each new one. "
            "Draw more of those digits on the Draw page.")


def _list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
