"""The table of gap-metric specs (each metric declared once) and exact OT by default.
References: the public functions' own signatures and values, ot.emd2 on the full cost matrix."""

import inspect

import numpy as np
import ot
import pytest

import da.diagnostics as D
from da.diagnostics import GAP_METRICS, GAP_SPECS, GapTracker, gap, wasserstein
from da.diagnostics import gaps as G


def _pair(n=120, m=100, d=3, shift=0.7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) + shift


def test_gap_metrics_are_the_table_and_keep_their_names():
    assert GAP_METRICS == ("mmd2", "energy_distance", "coral_distance", "wasserstein",
                           "sliced_wasserstein", "proxy_a_distance")
    assert GAP_METRICS == tuple(GAP_SPECS) and D.GAP_METRICS is GAP_METRICS
    assert all(GAP_SPECS[name].name == name for name in GAP_METRICS)


@pytest.mark.parametrize("name", GAP_METRICS)
def test_spec_defaults_are_the_functions_keyword_defaults(name):
    """Declared once: every option default of the table is the public function's default."""
    spec = GAP_SPECS[name]
    params = inspect.signature(spec.function).parameters
    for option, default in spec.defaults.items():
        if option == "block_size":  # gap-only option of mmd2 (the block estimator)
            continue
        assert params[option].default == default, (name, option)


@pytest.mark.parametrize("name", GAP_METRICS)
def test_gap_value_and_tracker_value_equal_the_public_function(name):
    Xs, Xt = _pair()
    seeded = {"sliced_wasserstein", "proxy_a_distance"}
    kw = {"seed": 3} if name in seeded else {}
    expected = getattr(D, name)(Xs, Xt, **kw)
    res = gap(Xs, Xt, name, n_bootstrap=0, seed=np.random.default_rng(3) if kw else None)
    assert res.value == pytest.approx(expected, rel=1e-10, abs=1e-14)
    tracker = GapTracker(Xs, Xt, metrics=[name], health=False, max_samples=10_000)
    got = tracker((Xs, Xt), epoch=0)[name]
    if name not in seeded:  # the tracker's own per-epoch generator draws other directions/splits
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-14)


def test_unknown_option_names_what_the_metric_accepts():
    Xs, Xt = _pair()
    with pytest.raises(ValueError, match="unexpected argument.*n_projections.*it accepts: bandwidth"):
        gap(Xs, Xt, "mmd2", n_projections=3)


def test_wasserstein_is_exact_by_default_up_to_5000_rows_and_equals_emd2():
    assert G.WASSERSTEIN_DEFAULTS["max_exact"] >= 5000
    assert inspect.signature(wasserstein).parameters["max_exact"].default >= 5000
    Xs, Xt = _pair(300, 260, d=4)
    ref = np.sqrt(ot.emd2(np.full(300, 1 / 300), np.full(260, 1 / 260), ot.dist(Xs, Xt), numItermax=10 ** 8))
    assert wasserstein(Xs, Xt) == pytest.approx(ref, rel=1e-12)
    res = gap(Xs, Xt, "wasserstein", n_bootstrap=0)
    assert res.method == "wasserstein/emd2" and res.details["n_source"] == 300


def test_wasserstein_warns_when_the_network_simplex_stops_early(monkeypatch):
    monkeypatch.setattr(G, "_EMD_ITER", 5)
    Xs, Xt = _pair(80, 80)
    with pytest.warns(RuntimeWarning, match="did not reach the optimum"):
        wasserstein(Xs, Xt, method="exact")


def test_subsample_estimate_error_shrinks_with_the_subsample_size():
    """Reference: the exact W2 of all 1200 rows; mean |error| over seeds falls as max_exact grows."""
    Xs, Xt = _pair(1200, 1200, d=2, shift=0.5, seed=1)
    exact = wasserstein(Xs, Xt, method="exact")
    errors = []
    for size in (75, 300, 1000):
        est = [wasserstein(Xs, Xt, max_exact=size, seed=s) for s in range(6)]
        errors.append(np.mean(np.abs(np.array(est) - exact)))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.05 * exact


def test_subsample_result_reports_estimator_size_and_interval():
    Xs, Xt = _pair(700, 650, d=2)
    res = gap(Xs, Xt, "wasserstein", max_exact=200, n_bootstrap=30, seed=0)
    assert res.method == "wasserstein/emd2-subsample"
    assert res.details["subsample_size"] == (200, 200) and "max_exact = 200" in res.details["reason"]
    exact = wasserstein(Xs, Xt, method="exact")
    lo, hi = res.ci
    assert lo < res.value < hi and lo < exact * 1.2 and hi > exact * 0.9
