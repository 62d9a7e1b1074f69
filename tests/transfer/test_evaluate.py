"""Evaluation metrics: accuracy, macro-F1, per-class accuracy against sklearn.metrics; ECE against a hand loop."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from da.transfer import classification_metrics, expected_calibration_error


def _hand_ece(probs, y, n_bins=15):
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.sum():
            total += m.sum() / len(y) * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return total


def test_metrics_match_sklearn_and_hand_ece():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 4)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, 4, 500)
    m = classification_metrics(probs, y)
    pred = probs.argmax(1)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["per_class_accuracy"] == pytest.approx(list(recall_score(y, pred, average=None)))
    assert m["ece"] == pytest.approx(_hand_ece(probs, y), abs=1e-12)


def test_ece_small_example():
    # bins of width 0.1: conf 0.9 (correct) -> |1-0.9|; conf 0.6 (wrong) -> |0-0.6|; ECE = (0.1+0.6)/2
    probs = np.array([[0.9, 0.1], [0.6, 0.4]])
    assert expected_calibration_error(probs, np.array([0, 1]), n_bins=10) == pytest.approx(0.35)
    perfect = np.eye(3)
    assert expected_calibration_error(perfect, np.arange(3)) == 0.0


def test_metrics_reject_bad_labels():
    with pytest.raises(ValueError, match="y"):
        classification_metrics(np.full((3, 2), 0.5), np.array([0, 1, 2]))
