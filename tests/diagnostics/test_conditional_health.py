"""Class-conditional gaps (pure label shift vs conditional shift) and representation health
(effective rank vs an SVD reference, scale and collapse flags)."""

import numpy as np
import pytest

from da.data import GaussianDomain
from da.diagnostics import (class_conditional_gap, effective_rank, energy_distance, health_flags, mmd2,
                            representation_health)


def test_pure_label_shift_has_zero_conditional_gap():
    """Reference: under label shift P(x|y) is unchanged, so every per-class MMD² is ~0."""
    src = GaussianDomain([[0, 0], [4, 0], [0, 4]], np.eye(2))
    Xs, ys = src.sample(900, seed=0)
    Xt, yt = src.with_prior([0.7, 0.2, 0.1]).sample(900, seed=1)
    res = class_conditional_gap(Xs, ys, Xt, yt)
    assert res.label_source == "target labels"
    assert res.marginal > 0.05
    assert max(abs(v) for v in res.per_class.values()) < 0.02
    assert res.counts[0][1] > res.counts[2][1]


def test_conditional_shift_is_located_in_its_class():
    src = GaussianDomain([[0, 0], [4, 0]], np.eye(2))
    tgt = GaussianDomain([[0, 0], [4, 2]], np.eye(2))
    Xs, ys = src.sample(600, seed=2)
    Xt, yt = tgt.sample(600, seed=3)
    res = class_conditional_gap(Xs, ys, Xt, yt, bandwidth=1.0)
    assert res.per_class[1] > 10 * abs(res.per_class[0])
    assert res.bandwidth == 1.0
    # pseudo-labels given as probabilities: argmax, and recorded as such
    probs = src.posterior(Xt)
    pl = class_conditional_gap(Xs, ys, Xt, pseudo_labels=probs, bandwidth=1.0)
    assert pl.label_source == "pseudo-labels"
    assert pl == class_conditional_gap(Xs, ys, Xt, pseudo_labels=probs.argmax(1), bandwidth=1.0)


def test_conditional_gap_skips_tiny_classes_and_checks_input():
    rng = np.random.default_rng(4)
    Xs, Xt = rng.normal(size=(50, 2)), rng.normal(size=(40, 2))
    ys = np.r_[np.zeros(49, int), 1]
    yt = np.zeros(40, int)
    res = class_conditional_gap(Xs, ys, Xt, yt)
    assert 1 in res.skipped and 0 in res.per_class
    with pytest.raises(ValueError, match="exactly one of yt"):
        class_conditional_gap(Xs, ys, Xt)
    with pytest.raises(ValueError, match="exactly one of yt"):
        class_conditional_gap(Xs, ys, Xt, yt, pseudo_labels=yt)
    with pytest.raises(ValueError, match="yt has 39 labels"):
        class_conditional_gap(Xs, ys, Xt, yt[:39])



def test_conditional_gap_values_equal_mmd2_per_class_and_target_weighted_mean():
    """Reference: mmd2 on each class's rows at the shared bandwidth, weighted by target class counts."""
    rng = np.random.default_rng(8)
    Xs, Xt = rng.normal(size=(60, 2)), rng.normal(size=(50, 2)) + [0.5, 0.0]
    ys, yt = rng.integers(0, 3, 60), rng.integers(0, 3, 50)
    for bandwidth in (None, 0.7):
        res = class_conditional_gap(Xs, ys, Xt, yt, bandwidth=bandwidth)
        h = res.bandwidth
        if bandwidth is not None:
            assert h == bandwidth
        assert res.marginal == pytest.approx(mmd2(Xs, Xt, bandwidth=h), rel=1e-10)
        assert res.marginal == pytest.approx(mmd2(Xs, Xt, bandwidth=bandwidth), rel=1e-10)
        want = {k: mmd2(Xs[ys == k], Xt[yt == k], bandwidth=h) for k in range(3)}
        assert res.per_class == pytest.approx(want, rel=1e-10)
        counts = np.bincount(yt, minlength=3)
        assert res.weighted_mean == pytest.approx(sum(counts[k] * want[k] for k in range(3)) / counts.sum(),
                                                  rel=1e-10)
        assert res.counts == {k: (int((ys == k).sum()), int(counts[k])) for k in range(3)}


def test_effective_rank_matches_svd_definition():
    """Reference: exp(entropy) of normalised singular values from numpy.linalg.svd."""
    rng = np.random.default_rng(5)
    F = rng.normal(size=(200, 6)) @ np.diag([5, 3, 1, 0.5, 0.1, 0.01])
    s = np.linalg.svd(F - F.mean(0), compute_uv=False)
    p = s / s.sum()
    assert effective_rank(F) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-8)
    assert effective_rank(np.eye(4), center=False) == pytest.approx(4.0)
    assert effective_rank(np.outer(rng.normal(size=50), rng.normal(size=3))) == pytest.approx(1.0)


def test_representation_health_values_and_flags():
    rng = np.random.default_rng(6)
    F = rng.normal(size=(500, 8))
    h = representation_health(F)
    assert h.mean_norm == pytest.approx(np.linalg.norm(F, axis=1).mean())
    assert h.var_min == pytest.approx(F.var(0).min()) and h.dead_fraction == 0
    assert health_flags(h, representation_health(F * 1.1)) == []
    shrunk = health_flags(h, representation_health(F * 0.1))
    assert len(shrunk) == 1 and shrunk[0].startswith("feature norm fell")
    collapsed = health_flags(h, representation_health(F[:, :1] @ np.ones((1, 8))))
    assert any("effective rank" in f for f in collapsed) and any("dead" not in f for f in collapsed)


def test_median_mmd_is_scale_free_but_energy_is_not():
    """Why health matters: a shrinking representation lowers scale-dependent gaps only."""
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + 0.5
    assert mmd2(0.1 * X, 0.1 * Y) == pytest.approx(mmd2(X, Y), rel=1e-9)
    assert energy_distance(0.1 * X, 0.1 * Y) == pytest.approx(np.sqrt(0.1) * energy_distance(X, Y), rel=1e-9)


def test_health_thresholds_are_validated():
    """NaN, non-numbers and out-of-range thresholds get a ValueError naming the argument."""
    import numpy as np
    import pytest

    from da.diagnostics import health_flags, representation_health

    F = np.random.default_rng(0).normal(size=(50, 4))
    for bad in (float("nan"), "x", -0.1, 2.0):
        with pytest.raises(ValueError, match="dead_tol"):
            representation_health(F, dead_tol=bad)
    h = representation_health(F)
    with pytest.raises(ValueError, match="shrink"):
        health_flags(h, h, shrink=float("nan"))
    with pytest.raises(ValueError, match="rank_drop"):
        health_flags(h, h, rank_drop=1.5)
    assert health_flags(h, h) == []
