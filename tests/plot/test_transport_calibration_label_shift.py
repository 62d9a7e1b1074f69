"""Transport plans, p-value QQ plots and label-shift bars."""

import numpy as np
import ot
import pytest
from scipy import stats

from da.plot import (plot_label_shift, plot_pvalue_calibration, plot_transport_plan,
                     uniform_order_band)
from plot_checks import assert_labelled, assert_saves, bar_containers, legend_texts


def test_transport_plan_segments_follow_mass(rng, tmp_path):
    Xs, Xt = rng.normal(size=(12, 2)), rng.normal(2.0, 1.0, size=(15, 2))
    G = ot.emd(np.full(12, 1 / 12), np.full(15, 1 / 15), ot.dist(Xs, Xt))  # matches ot.emd
    fig = plot_transport_plan(Xs, Xt, G)
    (ax,) = fig.axes
    segs = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    assert len(segs) == 1 and len(segs[0].get_segments()) == int((G > 0).sum())
    alphas = segs[0].get_colors()[:, 3]
    assert alphas.max() == pytest.approx(1.0) and (alphas > 0).all()
    assert len(ax.collections) == 3  # segments + source + target
    assert legend_texts(ax)[:2] == ["source", "target"]
    assert_labelled(ax)
    assert_saves(fig, tmp_path)


def test_transport_plan_caps_segments_and_projects_high_dim(rng):
    Xs, Xt = rng.normal(size=(30, 5)), rng.normal(size=(30, 5))
    G = np.full((30, 30), 1 / 900)
    fig = plot_transport_plan(Xs, Xt, G, max_segments=50)
    seg = [c for c in fig.axes[0].collections if c.__class__.__name__ == "LineCollection"][0]
    assert len(seg.get_segments()) == 50
    assert fig.axes[0].get_xlabel().startswith("PC 1")


@pytest.mark.parametrize("Xs, Xt, plan, match", [
    (np.empty((0, 2)), np.ones((2, 2)), np.ones((0, 2)), "empty"),
    (np.ones((2, 2)), np.ones((2, 2)), np.array([[np.nan, 1], [1, 1]]), "NaN"),
    (np.ones((2, 2)), np.ones((3, 2)), np.ones((2, 2)), "shape"),
    (np.ones((2, 2)), np.ones((2, 2)), np.zeros((2, 2)), "all zeros"),
    (np.ones((2, 2)), np.ones((2, 2)), -np.ones((2, 2)), "negative"),
])
def test_transport_plan_rejects_bad_input(Xs, Xt, plan, match):
    with pytest.raises(ValueError, match=match):
        plot_transport_plan(Xs, Xt, plan)


def test_order_band_is_beta_quantiles():
    e, lo, hi = uniform_order_band(9, 0.9)
    assert np.allclose(e, np.arange(1, 10) / 10)
    assert lo[0] == pytest.approx(stats.beta.ppf(0.05, 1, 9)) and hi[-1] == pytest.approx(stats.beta.ppf(0.95, 9, 1))
    # coverage: the pointwise band at rank i holds a Uniform order statistic with prob 0.9
    u = np.sort(np.random.default_rng(0).uniform(size=(4000, 9)), axis=1)
    assert np.mean((u[:, 4] >= lo[4]) & (u[:, 4] <= hi[4])) == pytest.approx(0.9, abs=0.02)
    for n, conf, match in ((0, 0.9, "n must be"), (2.5, 0.9, "n must be"), (9, 1.5, "confidence must be")):
        with pytest.raises(ValueError, match=match):
            uniform_order_band(n, conf)


def test_pvalue_calibration_draws_band_diagonal_and_series(rng, tmp_path):
    fig = plot_pvalue_calibration({"mmd": rng.uniform(size=100), "bad": rng.uniform(size=100) ** 3})
    (ax,) = fig.axes
    assert len(ax.collections) == 1  # one band (same n)
    assert len(ax.get_lines()) == 3  # diagonal + two series
    texts = legend_texts(ax)
    assert texts[0].startswith("95% pointwise band") and any(t.startswith("bad (KS p") for t in texts)
    assert_labelled(ax)
    assert_saves(fig, tmp_path)


@pytest.mark.parametrize("bad, match", [([], "empty"), ([0.1, np.nan], "NaN"), ([0.2, 1.5], r"\[0, 1\]"),
                                        ({}, "empty")])
def test_pvalue_calibration_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        plot_pvalue_calibration(bad)


def test_label_shift_bars_with_cis(tmp_path):
    est = {"bbse": [0.6, 0.3, 0.1],
           "mlls": {"prior": [0.68, 0.22, 0.1], "ci": ([0.6, 0.15, 0.05], [0.75, 0.3, 0.15])}}
    fig = plot_label_shift([0.7, 0.2, 0.1], est, source_prior=[1 / 3] * 3, class_names=["a", "b", "c"])
    (ax,) = fig.axes
    bars = bar_containers(ax)
    assert len(bars) == 4 and all(len(b) == 3 for b in bars)
    assert legend_texts(ax) == ["source prior", "true target prior", "bbse", "mlls"]
    assert [r.get_height() for r in bars[1]] == pytest.approx([0.7, 0.2, 0.1])
    assert bars[3].errorbar is not None and bars[2].errorbar is None
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert_labelled(ax)
    assert_saves(fig, tmp_path)


class _Estimate:
    """Duck-typed LabelShiftResult."""

    prior = np.array([0.5, 0.5])
    ci = np.array([[0.4, 0.6], [0.4, 0.6]])


def test_label_shift_accepts_result_objects_and_unknown_truth():
    fig = plot_label_shift(None, {"em": _Estimate(), "bbse": ([0.55, 0.45], ([0.5, 0.4], [0.6, 0.5]))})
    assert len(bar_containers(fig.axes[0])) == 2


@pytest.mark.parametrize("truth, est, match", [
    ([], {}, "empty"),
    (None, {}, "nothing to plot"),
    ([0.5, 0.5], {"m": [np.nan, 1.0]}, "NaN"),
    ([0.5, 0.5], {"m": [0.2, 0.3, 0.5]}, "classes"),
    ([0.5, 0.5], [0.5, 0.5], "dict"),
])
def test_label_shift_rejects_bad_input(truth, est, match):
    with pytest.raises(ValueError, match=match):
        plot_label_shift(truth, est)


def test_label_shift_two_class_ci_layouts_agree():
    """With K = 2 a (K, 2) interval and a (low, high) pair have the same shape; both read right."""
    per_class = np.array([[0.6, 0.8], [0.2, 0.4]])  # rows: class 0, class 1

    class Res:
        prior = np.array([0.7, 0.3])
        ci = per_class

    fig = plot_label_shift([0.7, 0.3], {"obj": Res(), "pair": ([0.7, 0.3], per_class.T)})
    bars = bar_containers(fig.axes[0])[1:]
    for b in bars:
        lows = [seg[0][1] for seg in b.errorbar.lines[2][0].get_segments()]
        assert lows == pytest.approx([0.6, 0.2])


def test_label_shift_reads_a_real_estimate():
    D = pytest.importorskip("da.diagnostics")
    if not hasattr(D, "estimate_label_shift"):
        pytest.skip("da.diagnostics.estimate_label_shift not available")
    from da.data import GaussianDomain

    src = GaussianDomain([[0.0, 0.0], [3.0, 0.0]], np.eye(2))
    Xv, yv = src.sample(500, seed=0)
    Xt, _ = src.with_prior([0.2, 0.8]).sample(500, seed=1)
    res = D.estimate_label_shift(src.posterior(Xv), yv, src.posterior(Xt), n_bootstrap=20, seed=0)
    fig = plot_label_shift([0.2, 0.8], {"mlls": res}, source_prior=res.source_prior)
    bars = bar_containers(fig.axes[0])
    assert len(bars) == 3 and bars[2].errorbar is not None


def test_transport_plan_rejects_bad_max_segments():
    import numpy as np
    import pytest

    from da.plot import plot_transport_plan

    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="max_segments"):
            plot_transport_plan(Xs, Xt, np.full((5, 4), 0.05), max_segments=bad)
