r"""Evaluation on held-out labels: accuracy, macro-F1, per-class accuracy, calibration.

These functions read labels that a method never trains on (the target
``eval_labels``); they are for reporting only.
"""

from __future__ import annotations

import numpy as np
import torch

from da._lazy import lazy_function
from da._validation import check_labels, check_positive_int
from da.data.lazy import is_lazy

softmax = lazy_function("scipy.special", "softmax")

__all__ = ["expected_calibration_error", "classification_metrics", "predict_outputs", "evaluate",
           "part_outputs", "target_accuracy", "final_metrics"]


def expected_calibration_error(probs, y, n_bins: int = 15) -> float:
    r"""Expected calibration error with equal-width confidence bins.

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|B_b|}{n}\,
            \bigl|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\bigr|

    where :math:`B_b` holds the samples whose confidence
    :math:`\max_k p_k(x)` lies in :math:`((b-1)/B, b/B]`.

    Parameters
    ----------
    probs : array of shape (n, n_classes)
        Predicted class probabilities.
    y : array of shape (n,)
    n_bins : int, default 15

    Returns
    -------
    float

    References
    ----------
    C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger. "On calibration of modern
    neural networks." ICML 2017.

    Examples
    --------
    >>> expected_calibration_error(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]), n_bins=10)
    0.35
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probs must be 2-D (n, n_classes), got shape {probs.shape}")
    y = check_labels(y, "y", n_samples=probs.shape[0], n_classes=probs.shape[1])
    n_bins = check_positive_int(n_bins, "n_bins")
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(np.float64)
    # bin b holds conf in ((b-1)/B, b/B]; conf == 0 goes to the first bin
    idx = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(round(ece, 12))


def classification_metrics(probs, y, n_classes: int | None = None, n_bins: int = 15) -> dict:
    """Accuracy, macro-F1, per-class accuracy (recall) and ECE of predicted probabilities.

    Parameters
    ----------
    probs : array of shape (n, n_classes)
    y : array of shape (n,)
    n_classes : int, optional
        Classes absent from ``y`` get per-class accuracy NaN and count in
        macro-F1 only when predicted.
    n_bins : int

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``per_class_accuracy`` (list), ``ece``, ``n``.
    """
    from sklearn.metrics import f1_score

    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1] if n_classes is None else int(n_classes)
    y = check_labels(y, "y", n_samples=probs.shape[0], n_classes=k)
    pred = probs.argmax(1)
    per_class = [float((pred[y == c] == c).mean()) if (y == c).any() else float("nan") for c in range(k)]
    labels = np.union1d(np.unique(y), np.unique(pred))
    return {"accuracy": float((pred == y).mean()),
            "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
            "per_class_accuracy": per_class,
            "ece": expected_calibration_error(probs, y, n_bins),
            "n": int(y.size)}


def _batches(X, batch_size: int):
    """Float32 batches of ``X``: an array or tensor in slices, or lazy rows through their DataLoader."""
    if is_lazy(X):
        for xb, _ in X.loader(batch_size):
            yield xb.float()
        return
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X, dtype=torch.float32)
    for i in range(0, X.shape[0], batch_size):
        yield X[i:i + batch_size]


@torch.no_grad()
def predict_outputs(model, X, *, batch_size: int = 1024, device=None, features: bool = True) -> dict:
    """Run ``model`` (a :class:`~da.transfer.FeaturizerHead`) in eval mode.

    Returns
    -------
    dict
        ``logits`` (n, K) and, when ``features``, ``features`` (n, d), as float32 numpy.
    """
    if device is None:
        device = next(model.parameters()).device
    was = model.training
    model.eval()
    logits, feats = [], []
    try:
        for xb in _batches(X, batch_size):
            f = model.featurizer(xb.to(device, non_blocking=True))
            logits.append(model.head(f).float().cpu())
            if features:
                feats.append(f.float().cpu())
    finally:
        model.train(was)
    out = {"logits": torch.cat(logits).numpy() if logits else np.empty((0, 0), np.float32)}
    if features:
        out["features"] = torch.cat(feats).numpy() if feats else np.empty((0, 0), np.float32)
    return out


def evaluate(model, X, y, *, n_classes: int | None = None, n_bins: int = 15, batch_size: int = 1024,
             device=None) -> dict:
    """Metrics of ``model`` on labelled data (:func:`classification_metrics`)."""
    out = predict_outputs(model, X, batch_size=batch_size, device=device, features=False)
    return classification_metrics(softmax(out["logits"].astype(np.float64), axis=1), y, n_classes, n_bins)


def part_outputs(model, split, parts, device) -> dict:
    """:func:`predict_outputs` of each non-empty named part of ``split`` (for the selection criteria)."""
    return {p: predict_outputs(model, getattr(split, p).X, device=device) for p in sorted(parts)
            if len(getattr(split, p))}


def target_accuracy(model, split, device) -> dict:
    """Target accuracy for **evaluation only** (never read by a non-oracle criterion)."""
    out = {}
    for part, y in (("target_val", split.eval_labels.val), ("target_test", split.eval_labels.test)):
        if y is not None and len(getattr(split, part)):
            lg = predict_outputs(model, getattr(split, part).X, device=device, features=False)["logits"]
            out[f"{part}_acc"] = float((lg.argmax(1) == y).mean())
    return out


def final_metrics(model, split, device) -> dict:
    """:func:`classification_metrics` of the labelled held-out parts (target labels: evaluation only)."""
    out = {}
    parts = [("source_val", split.source_val.y), ("source_test", split.source_test.y),
             ("target_val", split.eval_labels.val), ("target_test", split.eval_labels.test)]
    for part, y in parts:
        X = getattr(split, part).X
        if y is not None and len(y) and len(X):
            lg = predict_outputs(model, X, device=device, features=False)["logits"]
            out[part] = classification_metrics(softmax(lg.astype(np.float64), axis=1), y, split.n_classes)
    return out
