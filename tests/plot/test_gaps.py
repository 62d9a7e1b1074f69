"""Before/after gap bars and the training trajectory."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from da.plot import gap_frame, plot_gap_before_after, plot_gap_trajectory

from plot_checks import assert_labelled, assert_saves, bar_containers, legend_texts

BEFORE = {"inputs": {"mmd2": {"value": 0.30, "ci": (0.25, 0.35), "truth": 0.31},
                     "proxy_a_distance": {"value": 1.2, "ci": (1.1, 1.3)}},
          "features": {"mmd2": {"value": 0.50, "ci": (0.40, 0.60)},
                       "proxy_a_distance": {"value": 1.5, "ci": (1.4, 1.6)}}}
AFTER = {"inputs": {"mmd2": {"value": 0.30, "ci": (0.25, 0.35), "truth": 0.31},
                    "proxy_a_distance": {"value": 1.2, "ci": (1.1, 1.3)}},
         "features": {"mmd2": {"value": 0.05, "ci": (0.02, 0.08)},
                      "proxy_a_distance": {"value": 0.3, "ci": None}}}


class FakeReport:
    """Duck-typed ShiftReport: only ``to_frame()`` is used."""

    def __init__(self, frame):
        self.frame = frame

    def to_frame(self):
        return self.frame


def test_before_after_draws_one_panel_per_metric(tmp_path):
    fig = plot_gap_before_after(BEFORE, AFTER)
    axes = fig.axes
    assert len(axes) == 2
    for ax in axes:
        assert_labelled(ax)
        bars = bar_containers(ax)
        assert len(bars) == 2 and all(len(b) == 2 for b in bars)  # before/after x inputs/features
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["inputs", "features"]
    assert set(legend_texts(axes[-1])) == {"before", "after", "analytic truth"}
    truth = [ln for ln in axes[0].get_lines() if ln.get_marker() == "D"]
    assert len(truth) == 2 and np.allclose(truth[0].get_ydata(), 0.31)  # one marker per side
    heights = [r.get_height() for r in bar_containers(axes[0])[1]]
    assert np.allclose(heights, [0.30, 0.05])
    assert_saves(fig, tmp_path)


def test_before_after_accepts_report_objects_and_a_single_axes():
    rows = pd.DataFrame({"metric": ["mmd2", "mmd2"], "space": ["inputs", "features"],
                         "value": [0.3, 0.5], "ci_low": [0.2, np.nan], "ci_high": [0.4, np.nan],
                         "truth": [0.31, np.nan]})
    after = rows.assign(value=[0.3, 0.1])
    fig, ax = plt.subplots()
    out = plot_gap_before_after(FakeReport(rows), FakeReport(after), ax=ax)
    assert out is fig and len(fig.axes) == 1
    assert [len(b) for b in bar_containers(ax)] == [2, 2]
    assert_labelled(ax)
    assert "analytic truth" in legend_texts(ax)


def test_gap_frame_formats_agree():
    flat = gap_frame({"mmd2": {"value": 0.3, "ci": (0.2, 0.4), "truth": 0.31}, "proxy_a_distance": 1.1})
    assert flat["space"].tolist() == ["inputs", "inputs"]
    assert flat.loc[1, "value"] == 1.1 and np.isnan(flat.loc[1, "ci_low"])
    spaced = gap_frame({"inputs": {"mmd2": {"value": 0.3, "ci": [0.2, 0.4], "truth": 0.31}}})
    pd.testing.assert_frame_equal(spaced, flat.iloc[:1])
    df = gap_frame(pd.DataFrame({"metric": ["mmd2"], "value": [0.3], "ci_low": [0.2], "ci_high": [0.4]}))
    assert df.loc[0, "ci_high"] == 0.4 and df.loc[0, "space"] == "inputs"
    pd.testing.assert_frame_equal(gap_frame(df), df)  # gap_frame's own output reads back unchanged


@pytest.mark.parametrize("bad, match", [
    ({}, "empty"),
    ({"mmd2": {"value": float("nan")}}, "NaN"),
    ({"mmd2": {"ci": (0, 1)}}, "no 'value'"),
    (pd.DataFrame({"metric": ["mmd2"], "value": [np.nan]}), "NaN"),
    (pd.DataFrame(), "empty"),
])
def test_before_after_rejects_empty_and_nan(bad, match):
    with pytest.raises(ValueError, match=match):
        plot_gap_before_after(bad, AFTER)


def test_before_after_metric_selection():
    fig = plot_gap_before_after(BEFORE, AFTER, metrics=["proxy_a_distance"])
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "proxy_a_distance"
    with pytest.raises(ValueError, match="not found"):
        plot_gap_before_after(BEFORE, AFTER, metrics=["kl"])
    with pytest.raises(ValueError, match="2 metric panels"):
        _, axs = plt.subplots(1, 3)
        plot_gap_before_after(BEFORE, AFTER, ax=axs)


def _records():
    recs = [{"step": s, "mmd2": np.exp(-s / 100), "lambda": 1 - np.exp(-s / 50),
             "disc_acc": 0.9 - 0.4 * s / 500, "proxy_a_distance": 1.5 - s / 500} for s in range(0, 500, 50)]
    recs += [{"step": s, "target_acc": 0.6 + s / 2000} for s in range(0, 500, 100)]  # sparse eval records
    return recs


def test_trajectory_one_panel_per_quantity_with_shared_x(tmp_path):
    fig = plot_gap_trajectory(_records(), truth={"mmd2": 0.1})
    axes = fig.axes
    assert len(axes) == 5
    assert all(len([ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]) == 1 for ax in axes)
    assert axes[-1].get_xlabel().startswith("training step")
    assert axes[0].get_shared_x_axes().joined(axes[0], axes[-1])
    for ax in axes:
        assert ax.get_ylabel().strip() and "(" in ax.get_ylabel()
    assert legend_texts(axes[0]) == ["mmd2", "proxy_a_distance", "disc_acc", "lambda", "target_acc",
                                     "analytic truth"]
    assert len(axes[-1].get_lines()[0].get_xdata()) == 5  # only the steps where it was logged
    assert_saves(fig, tmp_path)


def test_trajectory_hue():
    recs = [{"step": s, "method": m, "mmd2": s * k} for m, k in (("dann", 1), ("mmd", 2)) for s in range(5)]
    fig = plot_gap_trajectory(pd.DataFrame(recs), hue="method")
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 2 and legend_texts(ax) == ["dann", "mmd"]
    fig = plot_gap_trajectory(recs, quantities=["mmd2"])
    assert len(fig.axes) == 1


@pytest.mark.parametrize("bad, match", [
    ([], "empty"),
    ([{"step": 0, "mmd2": float("nan")}], "NaN"),
    ([{"mmd2": 0.1}], "no step column"),
    ([{"step": 0, "unrelated": 1.0}], "any of"),
    (pd.DataFrame({"step": [0, 1], "mmd2": [np.nan, np.nan]}), "no finite value"),
    ([{"step": 0, "true_mmd2": 0.1, "before_features_mmd2": 0.2}], "any of"),  # not trajectories
])
def test_trajectory_rejects_empty_and_nan(bad, match):
    with pytest.raises(ValueError, match=match):
        plot_gap_trajectory(bad)


def test_trajectory_reads_trainer_keys():
    """Keys as da.transfer's trainer logs them: lambda/<term>, <term>/disc_acc, diag/features_*."""
    recs = [{"epoch": e, "step": 10 * e, "lambda/dann": e / 5, "dann/disc_acc": 0.9 - e / 20,
             "dann/disc_acc_s": 0.9, "diag/features_mmd2": 0.5 / (1 + e), "target_val_acc": 0.6 + e / 50,
             "loss/total": 1.0} for e in range(5)]
    fig = plot_gap_trajectory(recs)
    assert [a.get_ylabel().split("\n")[0] for a in fig.axes] == [
        "MMD²", "domain-discriminator accuracy", "λ, alignment weight", "target accuracy"]
    assert legend_texts(fig.axes[0]) == ["diag/features_mmd2", "dann/disc_acc", "lambda/dann",
                                         "target_val_acc"]
    fig = plot_gap_trajectory(recs + [dict(r, **{"lambda/mmd": 1.0}) for r in recs], quantities=["lambda"])
    assert len(fig.axes[0].get_lines()) == 2  # one line per lambda/<term>


def test_trajectory_draws_ci_bands_from_lo_hi_columns():
    recs = [{"step": s, "diag/features_mmd2": 0.3 - s / 100, "diag/features_mmd2_lo": 0.25 - s / 100,
             "diag/features_mmd2_hi": 0.35 - s / 100} for s in range(5)]
    fig = plot_gap_trajectory(recs)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 1 and len(ax.collections) == 1  # the line and its band


def test_before_after_reads_a_real_shift_report():
    """da.diagnostics.ShiftReport: only its 'metric' rows are gaps; the truth rides along."""
    D = pytest.importorskip("da.diagnostics")
    if not hasattr(D, "shift_report"):
        pytest.skip("da.diagnostics.shift_report not available")
    from da.data import DomainPair, GaussianDomain, rotation

    src = GaussianDomain([[0.0, 0.0], [2.0, 1.0]], np.eye(2))
    pair = DomainPair(src, rotation(src, 30))
    rep = D.shift_report(pair.sample(300, 300, seed=0), metrics=["mmd2", "proxy_a_distance"],
                         tests=["mmd_test"], n_permutations=20, n_bootstrap=10, ground_truth=pair,
                         bandwidth=1.0)
    df = gap_frame(rep)
    assert list(df["metric"]) == ["mmd2", "proxy_a_distance"]
    assert df.loc[0, "truth"] == pytest.approx(pair.ground_truth(bandwidth=1.0)["mmd2"])
    pd.testing.assert_frame_equal(gap_frame(rep.to_dict()), df)  # the saved JSON reads the same
    fig = plot_gap_before_after(rep, rep)
    assert len(fig.axes) == 2


def test_missing_gap_is_marked_not_drawn_and_no_ci_means_no_error_bar():
    """A pair measured on one side only says "n/a" on the other; no interval, no error bar."""
    import matplotlib.pyplot as plt

    from da.plot import plot_gap_before_after

    before = {"inputs": {"mmd2": {"value": 0.2, "ci": (0.15, 0.25)}},
              "features": {"mmd2": {"value": 0.1}}}
    after = {"inputs": {"mmd2": {"value": 0.18, "ci": (0.12, 0.22)}}}
    fig = plot_gap_before_after(before, after)
    ax = fig.axes[0]
    notes = [t.get_text() for t in ax.texts]
    assert notes.count("n/a") == 1
    # error-bar segments: one per bar with a finite interval (inputs before, inputs after)
    import numpy as np

    segs = [seg for c in ax.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    assert sum(bool(np.size(seg) and np.isfinite(seg).all()) for seg in segs) == 2
    plt.close(fig)
