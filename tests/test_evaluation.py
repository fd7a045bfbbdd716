"""Evaluation metrics against hand-computed values and an independent AUC reference."""

import numpy as np
import pytest

from core import evaluation


def test_confusion_accuracy_and_per_class_accuracy():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([0, 1, 1, 2])
    result = evaluation.evaluate_probabilities(probabilities, labels)
    assert result.accuracy == 0.75
    np.testing.assert_array_equal(result.confusion, [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
    np.testing.assert_allclose(result.per_class_accuracy, [1.0, 0.5, 1.0])
    expected_loss = -np.mean(np.log([0.9, 0.7, 0.3, 0.8]))
    assert result.loss == pytest.approx(expected_loss, rel=1e-5)


def test_mistakes_are_sorted_by_confidence_and_filterable():
    probabilities = np.array([[0.2, 0.8], [0.4, 0.6], [0.95, 0.05], [0.7, 0.3]], np.float32)
    labels = np.array([0, 0, 1, 0])
    result = evaluation.evaluate_probabilities(probabilities, labels)
    np.testing.assert_array_equal(result.mistakes(), [2, 0, 1])
    np.testing.assert_array_equal(result.mistakes(most_confident_first=False), [1, 0, 2])
    np.testing.assert_array_equal(result.mistakes(true_class=1), [2])
    np.testing.assert_array_equal(result.mistakes(predicted_class=1), [0, 1])


def _auc_by_pairs(scores, positive):
    # The definition: the share of (positive, negative) pairs ranked right, ties counting half.
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_roc_auc_matches_the_pairwise_definition_with_ties():
    generator = np.random.default_rng(0)
    scores = np.round(generator.random(200), 1)  # many ties
    positive = generator.random(200) < 0.3
    assert evaluation.roc_auc_one_vs_rest(scores, positive) == pytest.approx(_auc_by_pairs(scores, positive))


def test_macro_auc_uses_probabilities_not_rounded_predictions():
    generator = np.random.default_rng(1)
    labels = generator.integers(0, 3, 300)
    logits = generator.normal(size=(300, 3)) + 2.0 * np.eye(3)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = np.mean([_auc_by_pairs(probabilities[:, k], labels == k) for k in range(3)])
    assert evaluation.macro_roc_auc(probabilities, labels) == pytest.approx(expected)
    assert 0.8 < expected < 1.0


def test_perfect_and_inverted_auc():
    scores = np.array([0.1, 0.2, 0.8, 0.9])
    assert evaluation.roc_auc_one_vs_rest(scores, np.array([0, 0, 1, 1], bool)) == 1.0
    assert evaluation.roc_auc_one_vs_rest(scores, np.array([1, 1, 0, 0], bool)) == 0.0


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="one row of probabilities per label"):
        evaluation.evaluate_probabilities(np.zeros((3, 2)), np.zeros(4, int))
