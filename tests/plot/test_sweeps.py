"""Shift severity, ablation (lines with CI bands, heatmap) and learning curves."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from da.plot import plot_ablation, plot_learning_curve, plot_shift_severity
from da.plot._summary import mean_ci
from plot_checks import assert_labelled, assert_saves, legend_texts

# the columns of the sweep_rows fixture (the defaults are the names da collect writes: tested below)
COLS = dict(severity="severity", accuracy="target_acc", gap="gap", truth="true_gap")


def test_mean_ci_is_student_t():
    df = pd.DataFrame({"g": [0, 0, 0, 1], "y": [1.0, 2.0, 3.0, 5.0]})
    s = mean_ci(df, "g", "y")
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert s.loc[0, "_mean"] == 2.0 and s.loc[0, "_high"] == pytest.approx(2.0 + half)
    assert s.loc[1, "_low"] == s.loc[1, "_high"] == 5.0 and s.loc[1, "_n"] == 1  # one run: no band
    assert list(mean_ci(df.rename(columns={"g": "n"}), "n", "y").columns) == ["n", "_mean", "_n", "_low", "_high"]


def test_shift_severity_lines_bands_and_twin_truth(sweep_rows, tmp_path):
    fig = plot_shift_severity(sweep_rows, **COLS)
    acc, gap, twin = fig.axes
    assert len(acc.get_lines()) == 3 and len(gap.get_lines()) == 3  # one line per method
    assert len(acc.collections) == 3  # one CI band per method
    assert twin.get_ylabel().startswith("true gap") and len(twin.get_lines()) == 1
    assert legend_texts(acc) == ["source_only", "dann", "mmd"]
    assert legend_texts(gap)[-1] == "true gap (analytic)"
    assert np.allclose(twin.get_lines()[0].get_ydata(), [0, 0.25, 1])
    for ax in (acc, gap):
        assert_labelled(ax)
    assert_saves(fig, tmp_path)


def test_shift_severity_without_gap_or_truth():
    rows = [{"severity": s, "target_acc": 1 - s / 100} for s in (0, 10, 20)]
    fig = plot_shift_severity(rows, severity="severity", accuracy="target_acc")
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 1 and not ax.collections  # single runs: no band
    assert legend_texts(ax)


def test_ablation_lines_with_ci_bands(sweep_rows, tmp_path):
    fig, ax = plt.subplots()
    assert plot_ablation(sweep_rows, x="severity", y="target_acc", hue="method", ax=ax) is fig
    assert len(ax.get_lines()) == 3 and len(ax.collections) == 3
    assert_labelled(ax)
    assert legend_texts(ax) == ["source_only", "dann", "mmd"]
    assert "95% CI over 3 run(s)" in ax.get_title()
    assert_saves(fig, tmp_path)


def test_ablation_categorical_x_and_heatmap(sweep_rows):
    fig = plot_ablation(sweep_rows, x="method", y="target_acc")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["source_only", "dann", "mmd"]
    fig = plot_ablation(sweep_rows, x="severity", y="target_acc", hue="method", kind="heatmap")
    ax, cbar = fig.axes
    assert ax.images and ax.images[0].get_array().shape == (3, 3)
    assert "target accuracy" in cbar.get_ylabel()
    assert len(ax.texts) == 9
    with pytest.raises(ValueError, match="two factors"):
        plot_ablation(sweep_rows, x="severity", y="target_acc", kind="heatmap")


def test_ablation_categorical_x_has_error_bars_and_no_connecting_line(sweep_rows):
    from matplotlib.container import ErrorbarContainer

    for hue in (None, "severity"):
        fig = plot_ablation(sweep_rows, x="method", y="target_acc", hue=hue)
        (ax,) = fig.axes
        joined = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1
                  and ln.get_linestyle() not in ("None", "none", "", " ")]
        assert not joined, "methods are unordered: nothing may join them"
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(bars) == (1 if hue is None else 3) and all(c.has_yerr for c in bars)
        assert all(len(c.lines[2][0].get_segments()) == 3 for c in bars)  # one bar per method
        assert not ax.collections[len(bars):]  # no fill_between bands
    # the bar is mean +- the Student-t half-width (mean_ci), read off independently here
    acc = np.array([r["target_acc"] for r in sweep_rows if r["method"] == "dann" and r["severity"] == 30])
    half = stats.t.ppf(0.975, 2) * acc.std(ddof=1) / np.sqrt(3)
    (ax,) = plot_ablation([r for r in sweep_rows if r["severity"] == 30], x="method", y="target_acc").axes
    (seg_dann,) = [sg for sg in ax.containers[0].lines[2][0].get_segments() if sg[0, 0] == 1]
    assert seg_dann[:, 1] == pytest.approx([acc.mean() - half, acc.mean() + half])
    single = [r for r in sweep_rows if r["seed"] == 0 and r["severity"] == 0]
    (ax,) = plot_ablation(single, x="method", y="target_acc").axes
    assert not ax.containers[0].has_yerr  # one run per point: no bar


def test_learning_curve_three_strategies(tmp_path):
    rng = np.random.default_rng(1)
    rows = [{"method": s, "data.n_target_labeled": n, "seed": k,
             "target_test_acc": 0.5 + 0.05 * np.log1p(n) + rng.normal(0, .01)}
            for s in ("dann", "scratch", "finetune_no_align") for n in (0, 10, 100) for k in range(2)]
    fig = plot_learning_curve(rows)  # the defaults: da collect's column names
    (ax,) = fig.axes
    assert legend_texts(ax) == ["scratch", "finetune_no_align", "dann"]  # baselines first
    assert len(ax.get_lines()) == 3 and len(ax.collections) == 3
    assert ax.get_xscale() == "symlog"
    assert_labelled(ax)
    assert_saves(fig, tmp_path)


@pytest.mark.parametrize("fn, kwargs", [
    (plot_shift_severity, {"severity": "severity", "accuracy": "target_acc"}),
    (plot_ablation, {"x": "severity", "y": "target_acc"}),
    (plot_learning_curve, {"n_labeled": "n_labeled", "accuracy": "target_acc", "strategy": "method"}),
])
def test_sweep_plots_reject_empty_and_nan(fn, kwargs):
    with pytest.raises(ValueError, match="empty"):
        fn([], **kwargs)
    nan_rows = [{"severity": 0, "n_labeled": 1, "method": "a", "target_acc": np.nan},
                {"severity": 1, "n_labeled": 2, "method": "a", "target_acc": 0.5}]
    with pytest.raises(ValueError, match="NaN"):
        fn(nan_rows, **kwargs)


@pytest.mark.parametrize("bad", [0, 1, 1.5, "high", None])
def test_confidence_outside_zero_one_or_not_a_number_is_named(sweep_rows, bad):
    from da.plot import plot_pvalue_calibration

    for call in (lambda: plot_ablation(sweep_rows, x="severity", y="target_acc", confidence=bad),
                 lambda: plot_shift_severity(sweep_rows, confidence=bad, **COLS),
                 lambda: plot_pvalue_calibration(np.linspace(0, 1, 20), confidence=bad)):
        with pytest.raises(ValueError, match="confidence must be"):
            call()


def test_heatmap_rejects_the_same_factor_twice(sweep_rows):
    with pytest.raises(ValueError, match="two factors"):
        plot_ablation(sweep_rows, x="severity", y="target_acc", hue="severity", kind="heatmap")


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="no column 'lr'"):
        plot_ablation([{"a": 1, "target_acc": 0.5}], x="lr", y="target_acc")
    with pytest.raises(ValueError, match="shift severity"):
        plot_shift_severity([{"target_acc": 0.5}])


def test_shift_severity_truth_per_hue_when_it_differs():
    rows = [{"shift": k, "severity": s, "target_acc": 1 - s / 2, "gap": s * f, "true_gap": s * f}
            for k, f in (("rotation", 1.0), ("label", 0.2)) for s in (0.0, 0.5, 1.0)]
    fig = plot_shift_severity(rows, hue="shift", **COLS)
    twin = fig.axes[2]
    assert len(twin.get_lines()) == 2
    assert legend_texts(fig.axes[1])[-2:] == ["rotation: true gap", "label: true gap"]


def test_truth_lines_share_the_method_colour_and_can_share_the_axis():
    rows = [{"shift": k, "severity": s, "target_acc": 0.9, "gap": s * f,
             "true_gap": np.nan if k == "covariate" else s * f}
            for k, f in (("label", 0.2), ("covariate", 0.5), ("rotation", 1.0)) for s in (0.0, 1.0)]
    fig = plot_shift_severity(rows, hue="shift", truth_axis="same", **COLS)
    assert len(fig.axes) == 2  # no twin axis
    lines = {ln.get_label(): ln.get_color() for ln in fig.axes[1].get_lines()}
    assert lines["rotation: true gap"] == lines["rotation"] and lines["label: true gap"] == lines["label"]
    with pytest.raises(ValueError, match="truth_axis"):
        plot_shift_severity(rows, hue="shift", truth_axis="left", **COLS)


def test_log_x_is_labelled_at_the_swept_values():
    rows = [{"n": n, "acc": 0.5 + np.log(n) / 20 + s / 100, "seed": s} for n in (150, 400, 1000, 3000)
            for s in range(2)]
    fig = plot_ablation(rows, x="n", y="acc", logx=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["150", "400", "1000", "3000"]
    with pytest.raises(ValueError, match="positive"):
        plot_ablation([{"n": 0, "acc": 0.5}, {"n": 1, "acc": 0.6}], x="n", y="acc", logx=True)


def test_accuracy_bands_stay_within_zero_one():
    rows = [{"x": x, "target_acc": a, "seed": s} for x in (0, 1) for s, a in enumerate((0.1, 0.95))]
    fig = plot_ablation(rows, x="x", y="target_acc")
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() >= 0.0 and band.max() <= 1.0  # a 2-seed t-interval would reach [-5, 6]


def test_twin_truth_axis_shares_the_zero_level(sweep_rows):
    rows = [dict(r, gap=r["gap"] - 0.3) for r in sweep_rows]  # estimates dip below zero
    acc, gap, twin = plot_shift_severity(rows, **COLS).axes
    (a0, a1), (t0, t1) = gap.get_ylim(), twin.get_ylim()
    assert -a0 / (a1 - a0) == pytest.approx(-t0 / (t1 - t0))


def test_shift_severity_defaults_read_a_da_collect_table(sweep_rows):
    """collect_runs columns: data.generator.severity, target_test_acc, after_features_mmd2, true_mmd2."""
    names = {"severity": "data.generator.severity", "target_acc": "target_test_acc",
             "gap": "after_features_mmd2", "true_gap": "true_mmd2"}
    table = pd.DataFrame(sweep_rows).rename(columns=names)
    acc, gap, twin = plot_shift_severity(table).axes
    assert legend_texts(acc) == ["source_only", "dann", "mmd"] and len(gap.get_lines()) == 3
    assert np.allclose(twin.get_lines()[0].get_ydata(), [0, 0.25, 1])
    (only_acc,) = plot_shift_severity(table.drop(columns=["after_features_mmd2", "true_mmd2"])).axes
    with pytest.raises(ValueError, match="no column 'gap'"):
        plot_shift_severity(table, gap="gap")  # a column named explicitly must exist
