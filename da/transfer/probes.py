r"""Label-free scores of trained models on unlabelled target rows: MixVal's mixed-sample probes
(:func:`mixup_probes`; Hu, Liang, Liew, Xue, Bai & Wang, NeurIPS 2023) and EnsV's agreement with a pool's
ensemble (:func:`ensemble_agreement`; Hu, Luo, Liang & Foo, NeurIPS 2024).

MixVal scores a model on unlabelled target rows :math:`x_1..x_n`. With
:math:`\hat y_i = \arg\max_k f_k(x_i)` the model's pseudo-labels and a fixed
mixing weight :math:`\lambda` (0.55, the authors' default), a probe mixes two
target rows, :math:`\tilde x = \lambda x_i + (1-\lambda) x_j`, and asks whether
the model still gives it the label of the dominant row:

.. math::

    \mathrm{ICE}(P) = \frac{1}{|P|}\sum_{(i, j) \in P}
        \big[\arg\max_k f_k(\lambda x_i + (1-\lambda) x_j) = \hat y_i\big]

(higher is better), over two sets of pairs:

- **intra-cluster** :math:`P_{\text{intra}}`: pairs with :math:`\hat y_i = \hat y_j`
  (each pseudo-class's rows, shuffled, paired with the next one in a cycle; no
  row is paired with itself). It rewards models whose pseudo-classes are
  convex, as on a cluster of the target;
- **inter-cluster** :math:`P_{\text{inter}}`: each row paired by one random
  permutation, pairs with :math:`\hat y_i \ne \hat y_j` kept. With
  :math:`\lambda` just above 1/2 the probe sits near the midpoint of two
  pseudo-classes, so it rewards decision boundaries that pass between the
  target's clusters rather than through them.

MixVal ranks candidate models by both (:func:`da.transfer.auto.choose` with
``rule="mixval"``: the sum of the two ranks). The authors pair rows by
reversing each batch of a shuffled list (a sorted one for the intra pairs);
random pairings are the same construction without the batch. A model that
gives every probed row one class has no inter-cluster pair: its
``ice_inter`` is 0, the score of boundaries that separate nothing. The mix is
taken in the model's input space, so the rows must be arrays (lazy image rows
are read into one).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["MIXUP_LAMBDA", "ensemble_agreement", "mixup_probes"]

#: the mixing weight of the dominant row (the authors' default)
MIXUP_LAMBDA = 0.55


def _target_rows(X, min_rows: int, need: str, max_samples: int, rng: np.random.Generator):
    """At most ``max_samples`` rows of ``X`` (an array, or lazy rows read batch by batch), drawn with ``rng``;
    a ``ValueError`` "X {need} ..." when ``X`` is not rows x features with at least ``min_rows`` rows."""
    from da.data.lazy import is_lazy
    from da.data.pair import Part
    from da.transfer.inputs import subsample_part

    X = X if is_lazy(X) else np.asarray(X)
    if len(X.shape) < 2 or len(X) < min_rows:
        raise ValueError(f"X {need} (rows x features), got shape {tuple(X.shape)}")
    return subsample_part(Part(X), max_samples, rng).X


def _pairs(pseudo: np.ndarray, rng: np.random.Generator) -> tuple:
    """``(intra, inter)``: (m, 2) index arrays of same- and different-pseudo-label pairs."""
    intra = []
    for k in np.unique(pseudo):
        g = rng.permutation(np.flatnonzero(pseudo == k))
        if len(g) >= 2:
            intra.append(np.stack([g, np.roll(g, -1)], 1))
    intra = np.concatenate(intra) if intra else np.empty((0, 2), np.int64)
    perm = rng.permutation(len(pseudo))
    inter = np.stack([np.arange(len(pseudo)), perm], 1)
    return intra, inter[pseudo != pseudo[perm]]


def mixup_probes(model, X, *, lam: float = MIXUP_LAMBDA, max_samples: int = 2000, seed=0,
                 batch_size: int = 1024) -> dict:
    r"""``{"ice_intra", "ice_inter"}`` of ``model`` on unlabelled rows ``X`` (module docstring).

    Parameters
    ----------
    model : FeaturizerHead
        Run in eval mode (its mode is restored).
    X : array-like or lazy rows
        Unlabelled target rows; at most ``max_samples`` are read (drawn with ``seed``).
    lam : float
        Mixing weight of the dominant row, in (0.5, 1).
    seed : int or numpy Generator
        Draws the subsample and the pairings.

    Returns
    -------
    dict
        ``ice_intra``, ``ice_inter`` in [0, 1], and the pair counts ``n_intra``, ``n_inter``.

    Raises
    ------
    ValueError
        If ``lam`` is not in (0.5, 1), ``X`` has fewer than 2 rows, or a row read holds NaN or inf.
    """
    from da.transfer.evaluate import predict_outputs

    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0.5 < float(lam) < 1.0:
        raise ValueError(f"lam must be a number in (0.5, 1) (the dominant row's share), got {lam!r}")
    rng = np.random.default_rng(seed)
    X = np.asarray(_target_rows(X, 2, "needs at least 2 target rows", max_samples, rng), dtype=np.float32)
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or inf values: a probe mixes rows, so every row read must be finite")
    pseudo = predict_outputs(model, X, batch_size=batch_size, features=False)["logits"].argmax(1)
    out = {}
    for name, pairs in zip(("intra", "inter"), _pairs(pseudo, rng)):
        if len(pairs) == 0:
            out[f"ice_{name}"], out[f"n_{name}"] = 0.0, 0
            continue
        xi, xj = torch.from_numpy(X[pairs[:, 0]]), torch.from_numpy(X[pairs[:, 1]])
        mixed = (float(lam) * xi + (1.0 - float(lam)) * xj).numpy()
        pred = predict_outputs(model, mixed, batch_size=batch_size, features=False)["logits"].argmax(1)
        out[f"ice_{name}"], out[f"n_{name}"] = float((pred == pseudo[pairs[:, 0]]).mean()), int(len(pairs))
    return out


def ensemble_agreement(models: dict, X, *, max_samples: int = 2000, seed=0) -> dict:
    r"""EnsV (Hu, Luo, Liang & Foo, NeurIPS 2024): each model's agreement with the pool's ensemble.

    With :math:`p_c(x)` the softmax of candidate :math:`c` on an unlabelled target row,
    the ensemble's pseudo-label is :math:`\hat y(x) = \arg\max_k \frac1{|C|}\sum_{c \in C} p_{c,k}(x)`
    and the score of :math:`c` is :math:`\frac1n\sum_i [\arg\max_k p_{c,k}(x_i) = \hat y(x_i)]`
    (higher is better). No label is read. For a convex loss such as the cross-entropy, the
    ensemble's loss is at most the members' average (Jensen): the paper's argument that the rule
    avoids the worst candidate.

    Parameters
    ----------
    models : dict
        ``name -> FeaturizerHead`` (the candidate pool, source-only included).
    X : array-like or lazy rows
        Unlabelled target rows (an array, or the lazy rows of an image dataset); at most
        ``max_samples`` of them are read (drawn with ``seed``).

    Returns
    -------
    dict
        ``name -> agreement`` in [0, 1].

    Raises
    ------
    ValueError
        If ``models`` is empty or ``X`` has no rows.
    """
    from da.transfer.evaluate import predict_outputs

    if not models:
        raise ValueError("models must hold at least one candidate model")
    X = _target_rows(X, 1, "must hold at least one target row", max_samples, np.random.default_rng(seed))
    probs = {}
    for name, m in models.items():
        logits = torch.from_numpy(predict_outputs(m, X, features=False)["logits"]).double()
        probs[name] = torch.softmax(logits, dim=1).numpy()
    pseudo = np.mean(list(probs.values()), axis=0).argmax(1)
    return {name: float((p.argmax(1) == pseudo).mean()) for name, p in probs.items()}
