"""Tests of core.class_evaluation: which runs can be scored on the class drawings, the score, and its words."""

import numpy as np
import pytest

from core import class_evaluation, datasets, evaluation, runs


def result_of(predictions, labels) -> evaluation.Evaluation:
    """An evaluation whose model answers `predictions` with 90% confidence."""
    probabilities = np.full((len(labels), 10), 0.1 / 9, dtype=np.float32)
    probabilities[np.arange(len(labels)), predictions] = 0.9
    return evaluation.evaluate_probabilities(probabilities, np.asarray(labels))


def fake_run(test_accuracy=None, dataset="mnist_sample"):
    meta = {"name": "cnn on mnist_sample", "architecture": "cnn", "dataset": dataset}
    if test_accuracy is not None:
        meta["test"] = {"accuracy": test_accuracy}
    return runs.Run(id="20260101-000000-cnn-abcdef", path=None, meta=meta, status="completed")


def test_the_score_is_core_evaluation_of_the_runs_model(trained_run):
    sample = datasets.load("mnist_sample", download=False)
    images, labels = sample.x_test[:40], sample.y_test[:40]
    store = runs.RunStore()
    result = class_evaluation.evaluate_run(store, store.get(trained_run), images, labels)
    expected = evaluation.evaluate(store.load_model(trained_run), images, labels)
    assert result.accuracy == expected.accuracy
    np.testing.assert_array_equal(result.confusion, expected.confusion)
    np.testing.assert_allclose(result.probabilities, expected.probabilities, atol=1e-5)


def test_only_runs_trained_on_digits_are_offered(trained_run, isolated_runs):
    store = runs.RunStore()
    clothes = store.create(dataset="fashion_mnist", architecture="cnn", hyperparameters={}, status="completed")
    (clothes.path / "model.keras").write_bytes((isolated_runs / trained_run / "model.keras").read_bytes())
    assert [run.id for run in class_evaluation.digit_runs(store.list())] == [trained_run]


def test_scoring_no_drawings_says_how_to_get_some(trained_run):
    store = runs.RunStore()
    with pytest.raises(ValueError, match="save some on the Draw page"):
        class_evaluation.evaluate_run(store, store.get(trained_run), np.zeros((0, 28, 28), np.uint8),
                                      np.zeros(0, np.int64))


def test_the_comparison_names_both_accuracies_and_what_the_gap_means():
    result = result_of([1, 2, 3, 0], [1, 2, 3, 4])
    sentence = class_evaluation.comparison_sentence(fake_run(test_accuracy=0.98), result)
    assert "**3 of 4**" in sentence and "**75.0%**" in sentence and "**98.0%**" in sentence
    assert "harder for it than the test images" in sentence
    # Four drawings say little: the score's 95% interval is 30% to 95%, which holds a test score of 77%.
    assert "From 4 drawings, its score on the class's handwriting is likely between 30% and 95%." in sentence
    close = class_evaluation.comparison_sentence(fake_run(test_accuracy=0.77), result)
    assert "more drawings will tell" in close and "about as well" not in close
    assert class_evaluation.comparison_sentence(fake_run(), result).endswith("(**75.0%**).")
    # Two hundred drawings: a narrow interval (91% to 97%) decides.
    many = result_of([1] * 190 + [2] * 10, [1] * 200)
    assert "about as well" in class_evaluation.comparison_sentence(fake_run(test_accuracy=0.96), many)
    assert "harder for it" in class_evaluation.comparison_sentence(fake_run(test_accuracy=0.99), many)
    perfect = result_of([1] * 200, [1] * 200)
    assert "more clearly" in class_evaluation.comparison_sentence(fake_run(test_accuracy=0.90), perfect)


def test_the_score_interval_is_wilsons():
    low, high = class_evaluation.score_interval(3, 4)
    assert (round(low, 4), round(high, 4)) == (0.3006, 0.9544)
    assert class_evaluation.score_interval(0, 5)[0] == 0.0 and class_evaluation.score_interval(5, 5)[1] == 1.0
    low, high = class_evaluation.score_interval(190, 200)
    assert 0.90 < low < 0.95 < high < 0.98
    with pytest.raises(ValueError, match="at least one drawing"):
        class_evaluation.score_interval(0, 0)


def test_the_hardest_digit_is_the_one_read_worst_with_what_it_is_taken_for():
    labels = [7, 7, 7, 1, 1, 3]
    predictions = [1, 1, 7, 1, 1, 3]
    sentence = class_evaluation.hardest_digit_sentence(result_of(predictions, labels))
    assert "**7**: 1 of 3 read right" in sentence and "mistaken for **1**" in sentence
    assert class_evaluation.hardest_digit_sentence(result_of(labels, labels)) is None


def test_few_drawings_of_some_digits_are_pointed_out():
    labels = [0, 0, 0, 1] + [digit for digit in range(2, 10) for _ in range(3)]
    warning = class_evaluation.few_drawings_warning(labels)
    assert "fewer than 3 of 1" in warning and "no drawing" not in warning
    missing = class_evaluation.few_drawings_warning([0, 0, 0])
    assert "no drawing of 1, 2, 3, 4, 5, 6, 7, 8 or 9" in missing
    assert class_evaluation.few_drawings_warning(np.repeat(np.arange(10), 3)) is None


def test_a_score_row_has_both_accuracies():
    row = class_evaluation.score_row(fake_run(test_accuracy=0.9), result_of([1, 2], [1, 3]))
    assert row["Test set accuracy"] == 0.9 and row["Class drawings accuracy"] == 0.5 and row["Mistakes"] == 1
    assert row["Difference"] == -40.0
    # The names the other pages use, and where the class score likely lies (1 of 2 right: 9% to 91%).
    assert (row["Architecture"], row["Trained on"]) == ("CNN", "MNIST sample (offline)")
    assert row["Likely range"] == "9% to 91%"


def test_the_best_model_sentence_names_every_model_that_ties():
    rows = [{"Model": name, "Architecture": architecture, "Class drawings accuracy": accuracy}
            for name, architecture, accuracy in [("a", "cnn", 0.9), ("b", "ann", 0.9), ("c", "dnn", 0.5)]]
    assert class_evaluation.best_sentence(rows) == "Best on the class drawings: **a** (cnn) and **b** (ann), **90.0%**."
    assert "equally well" in class_evaluation.best_sentence(rows[:2])
    assert "Only one digit model" in class_evaluation.best_sentence(rows[:1])
    # A model imported from elsewhere may have learnt these very drawings (anyone can export them): not named best.
    champion = {"Model": "Class champion", "Architecture": "imported", "Class drawings accuracy": 0.99}
    assert class_evaluation.best_sentence([*rows, champion]) == (
        "Best on the class drawings: **a** (cnn) and **b** (ann), **90.0%**. (Imported models are left out: they may "
        "have learnt these drawings.)")
    assert "Only one digit model" in class_evaluation.best_sentence([champion])
