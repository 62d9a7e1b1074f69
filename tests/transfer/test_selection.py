"""Selection criteria as plain functions: hand-computed values, IWCV/DEV formulas, name checks."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from da.transfer import CRITERIA, get_criterion
from da.transfer.selection import (DRIFT_WEIGHT, bnm, class_ami, dev, domain_importance_weights, im, iwcv,
                                   oracle, snd, source_val,
                                   source_val_drift, source_val_loss)
from da.transfer.selection import entropy as entropy_criterion


def _ce(logits, y):
    z = logits - logits.max(1, keepdims=True)
    return np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]


@pytest.fixture
def outputs(split):
    rng = np.random.default_rng(1)
    out = {}
    for part in ("source_train", "source_val", "target_train", "target_val"):
        n = len(getattr(split, part))
        out[part] = {"logits": rng.normal(size=(n, 3)), "features": getattr(split, part).X + rng.normal(
            scale=0.1, size=getattr(split, part).X.shape)}
    return out


def test_source_val_is_accuracy(outputs, split):
    expected = (outputs["source_val"]["logits"].argmax(1) == split.source_val.y).mean()
    assert source_val(outputs, split) == pytest.approx(expected)


def test_source_val_loss_is_minus_the_mean_cross_entropy(outputs, split):
    """Against torch's cross-entropy in float64, and iwcv with unit weights."""
    import torch

    lg, y = outputs["source_val"]["logits"], split.source_val.y
    expected = -float(torch.nn.functional.cross_entropy(torch.as_tensor(lg, dtype=torch.float64),
                                                        torch.as_tensor(y)))
    assert source_val_loss(outputs, split) == pytest.approx(expected, rel=1e-12)
    assert CRITERIA["source_val_loss"] is source_val_loss and source_val_loss.needs == ("source_val",)
    better = {"source_val": {"logits": lg + 5.0 * np.eye(lg.shape[1])[y]}}  # more mass on the true class
    assert source_val_loss(better, split) > source_val_loss(outputs, split)


def test_source_val_drift_against_torch_cross_entropy_and_scipy_kl(outputs, split):
    """-CE (torch, float64) - beta KL(mean target softmax || mean source-val softmax) (scipy.stats.entropy)."""
    import torch

    lg_s, lg_t, y = outputs["source_val"]["logits"], outputs["target_val"]["logits"], split.source_val.y
    ce = float(torch.nn.functional.cross_entropy(torch.as_tensor(lg_s, dtype=torch.float64), torch.as_tensor(y)))
    mean_p = lambda lg: torch.softmax(torch.as_tensor(lg, dtype=torch.float64), 1).mean(0).numpy()  # noqa: E731
    kl = float(scipy_entropy(mean_p(lg_t), mean_p(lg_s)))
    assert kl > 1e-4  # the fixture's random logits: the two parts' proportions differ
    assert source_val_drift(outputs, split) == pytest.approx(-ce - DRIFT_WEIGHT * kl, rel=1e-12)
    assert source_val_drift(outputs, split, beta=2.0) == pytest.approx(-ce - 2.0 * kl, rel=1e-12)
    assert CRITERIA["source_val_drift"] is source_val_drift
    assert set(source_val_drift.needs) == {"source_val", "target_val"} and DRIFT_WEIGHT == 0.3


def test_source_val_drift_penalises_target_rows_sent_to_one_class(outputs, split):
    """The same source outputs: a target whose predictions pile onto one class scores lower, and a
    target with the source's proportions costs nothing beyond the source loss."""
    same = {**outputs, "target_val": outputs["source_val"]}
    assert source_val_drift(same, split) == pytest.approx(source_val_loss(outputs, split), abs=1e-12)
    lg = outputs["target_val"]["logits"].copy()
    lg[:, 0] += 8.0  # nearly every target row now predicted as class 0
    piled = {**outputs, "target_val": {"logits": lg}}
    assert source_val_drift(piled, split) < source_val_drift(outputs, split) - 0.1
    assert source_val_loss(piled, split) == source_val_loss(outputs, split)  # the source loss cannot see it


def test_entropy_matches_scipy(outputs, split):
    lg = outputs["target_val"]["logits"]
    p = np.exp(lg) / np.exp(lg).sum(1, keepdims=True)
    assert entropy_criterion(outputs, split) == pytest.approx(-np.mean(scipy_entropy(p, axis=1)), rel=1e-6)


def test_snd_matches_direct_loop(outputs, split):
    lg = outputs["target_val"]["logits"][:40]
    small = {"target_val": {"logits": lg}}
    p = np.exp(lg) / np.exp(lg).sum(1, keepdims=True)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    hs = []
    for i in range(len(p)):
        s = np.array([p[i] @ p[j] / 0.05 for j in range(len(p)) if j != i])
        q = np.exp(s - s.max())
        q /= q.sum()
        hs.append(-(q * np.log(q)).sum())
    assert snd(small, split) == pytest.approx(np.mean(hs), rel=1e-9)


def test_im_is_the_entropy_of_the_mean_minus_the_mean_entropy_scipy(outputs, split):
    """IM = H(mean p) - mean H(p) (scipy.stats.entropy); a target sent to one class scores about 0."""
    lg = outputs["target_val"]["logits"]
    p = np.exp(lg) / np.exp(lg).sum(1, keepdims=True)
    expected = scipy_entropy(p.mean(0)) - np.mean(scipy_entropy(p, axis=1))
    assert im(outputs, split) == pytest.approx(expected, rel=1e-9)
    onehot = np.eye(3)[np.arange(30) % 3] * 30.0  # confident, balanced: IM -> log 3
    assert im({"target_val": {"logits": onehot}}, split) == pytest.approx(np.log(3), abs=1e-6)
    collapsed = np.tile([30.0, 0.0, 0.0], (30, 1))  # confident, one class: IM -> 0
    assert abs(im({"target_val": {"logits": collapsed}}, split)) < 1e-6
    assert im.needs == ("target_val",) and CRITERIA["im"] is im


def test_bnm_is_the_nuclear_norm_over_n_torch(outputs, split):
    """||softmax(logits)||_* / n against torch.linalg.matrix_norm(ord="nuc") in float64; balanced one-hot
    predictions score sum_k sqrt(n_k) / n."""
    import torch

    lg = outputs["target_val"]["logits"]
    p = torch.softmax(torch.as_tensor(lg, dtype=torch.float64), 1)
    expected = float(torch.linalg.matrix_norm(p, ord="nuc")) / len(lg)
    assert bnm(outputs, split) == pytest.approx(expected, rel=1e-10)
    n = 30
    onehot = np.eye(3)[np.arange(n) % 3] * 40.0
    assert bnm({"target_val": {"logits": onehot}}, split) == pytest.approx(3 * np.sqrt(n / 3) / n, rel=1e-9)
    collapsed = np.tile([40.0, 0.0, 0.0], (n, 1))
    assert bnm({"target_val": {"logits": collapsed}}, split) == pytest.approx(np.sqrt(n) / n, rel=1e-9)
    assert CRITERIA["bnm"] is bnm


def test_class_ami_against_sklearn_kmeans_and_ami(split):
    """1 when the predicted classes are the feature clusters, about 0 for unrelated predictions; and equal
    to sklearn's KMeans (n_init 10, seed 0) on L2-normalised features followed by adjusted_mutual_info_score."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score

    rng = np.random.default_rng(3)
    centres = np.array([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]])
    y = np.repeat(np.arange(3), 40)
    feats = centres[y] + rng.normal(scale=0.3, size=(120, 3))
    clustered = {"target_val": {"logits": 10.0 * np.eye(3)[y], "features": feats}}
    assert class_ami(clustered, split) == pytest.approx(1.0)
    unrelated = {"target_val": {"logits": rng.normal(size=(120, 3)), "features": feats}}
    assert abs(class_ami(unrelated, split)) < 0.05
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    km = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(f)
    lg = unrelated["target_val"]["logits"]
    assert class_ami(unrelated, split) == pytest.approx(adjusted_mutual_info_score(lg.argmax(1), km), abs=1e-12)
    assert class_ami.needs == ("target_val",)


def test_iwcv_is_weighted_source_val_risk(outputs, split):
    w = domain_importance_weights(split.source_train.X, split.target_train.X, split.source_val.X)
    expected = -np.mean(w * _ce(outputs["source_val"]["logits"], split.source_val.y))
    cache = {}
    assert iwcv(outputs, split, cache=cache) == pytest.approx(expected)
    assert "iwcv_weights" in cache  # model-independent: computed once per run


def test_importance_weights_match_gaussian_density_ratio():
    # p_S = N(0, I), p_T = N(mu, I): log p_T/p_S (x) = mu.x - |mu|^2 / 2, linear as the logistic model
    rng = np.random.default_rng(0)
    mu = np.array([0.5, -0.5])
    Xs, Xt = rng.normal(size=(3000, 2)), rng.normal(size=(2000, 2)) + mu
    Xe = rng.normal(size=(200, 2))
    w = domain_importance_weights(Xs, Xt, Xe)
    true = Xe @ mu - mu @ mu / 2
    assert np.abs(np.log(w) - true).mean() < 0.1


def test_dev_control_variate_formula(outputs, split):
    w = domain_importance_weights(outputs["source_train"]["features"], outputs["target_train"]["features"],
                                  outputs["source_val"]["features"])
    L = w * _ce(outputs["source_val"]["logits"], split.source_val.y)
    eta = -np.cov(L, w)[0, 1] / np.var(w, ddof=1)
    assert dev(outputs, split) == pytest.approx(-(L.mean() + eta * w.mean() - eta))


def test_oracle_reads_target_val_labels_and_is_marked(outputs, split):
    assert oracle.oracle is True and not any(CRITERIA[k].oracle for k in CRITERIA if k != "oracle")
    expected = (outputs["target_val"]["logits"].argmax(1) == split.eval_labels.val).mean()
    assert oracle(outputs, split) == pytest.approx(expected)
    no_labels = replace(split, eval_labels=replace(split.eval_labels, val=None))
    with pytest.raises(ValueError, match="oracle"):
        oracle(outputs, no_labels)


def test_only_oracle_needs_target_labels(outputs, split):
    blind = replace(split, eval_labels=replace(split.eval_labels, train=None, val=None, test=None))
    for name in ("source_val", "source_val_loss", "source_val_drift", "iwcv", "dev", "entropy", "snd", "im", "bnm",
                 "class_ami"):
        assert get_criterion(name)(outputs, blind) == pytest.approx(get_criterion(name)(outputs, split))


def test_unknown_criterion_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown selection criterion 'best'.*dev.*entropy.*iwcv.*oracle"):
        get_criterion("best")
