"""shift_report / ShiftReport / compare: ground truth next to estimates (closed-form Gaussian MMD²),
estimator switching at scale, JSON round trip, before/after table and health flags."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from da.data import GaussianDomain, gaussian_mixture_mmd2
from da.diagnostics import ShiftReport, compare, load_report, shift_report

FAST = dict(n_permutations=50, n_bootstrap=20)


@pytest.fixture(scope="module")
def gauss_pair():
    src = GaussianDomain([[0, 0, 0], [2, 0, 0]], np.eye(3))
    tgt = GaussianDomain([[0, 0.5, 0], [2, 0.5, 0]], np.eye(3), prior=[0.3, 0.7])
    return src, tgt, src.sample(300, seed=0)[0], tgt.sample(250, seed=1)[0]


def _no_seconds(df):
    return df.drop(columns=["seconds"])


def test_report_on_arrays_has_every_entry_and_sizes(gauss_pair):
    _, _, Xs, Xt = gauss_pair
    rep = shift_report((Xs, Xt), seed=1, **FAST)
    df = rep.to_frame()
    assert list(df.columns) == ["space", "kind", "name", "value", "pvalue", "ci_low", "ci_high", "truth",
                                "method", "estimator", "n_source", "n_target", "seconds", "note"]
    assert set(df[df.kind == "metric"].name) == {"mmd2", "energy_distance", "coral_distance", "wasserstein",
                                                 "sliced_wasserstein", "proxy_a_distance"}
    assert set(df[df.kind == "test"].name) == {"mmd_test", "energy_test", "c2st", "ks_test"}
    assert (df.estimator[df.kind != "health"] == "exact").all()
    assert rep.meta["n_source"] == 300 and rep.meta["n_target"] == 250 and rep.meta["seed"] == 1
    assert rep.get("mmd_test")["pvalue"] < 0.05
    # the report's MMD test is the public test with the report's bandwidth and per-entry seed
    assert rep.get("mmd2")["value"] == pytest.approx(rep.get("mmd_test")["value"])
    with pytest.raises(KeyError, match="inputs/mmd2"):
        rep.get("nope")


def test_ground_truth_sits_next_to_the_estimate(gauss_pair):
    """Reference: da.data.gaussian_mixture_mmd2 at the bandwidth the report used."""
    src, tgt, Xs, Xt = gauss_pair
    truth = gaussian_mixture_mmd2(src, tgt, 1.0)
    rep = shift_report((Xs, Xt), metrics=["mmd2"], tests=["mmd"], bandwidth=1.0,
                       ground_truth={"mmd2": truth, "mmd2_bandwidth": 1.0, "prior_tv": 0.2}, **FAST)
    row = rep.get("mmd2")
    assert row["truth"] == truth and rep.get("mmd_test")["truth"] == truth
    assert row["ci_low"] <= truth <= row["ci_high"]
    assert rep.ground_truth["prior_tv"] == 0.2
    # a ground truth at another bandwidth is not attached, and the row says why
    rep2 = shift_report((Xs, Xt), metrics=["mmd2"], tests=[], ground_truth={"mmd2": truth, "mmd2_bandwidth": 1.0},
                        **FAST)
    assert rep2.get("mmd2")["truth"] is None and "bandwidth" in rep2.get("mmd2")["note"]


def test_split_and_domain_pair_ground_truth(gauss_pair):
    """A DomainPair split (duck-typed), with pair.ground_truth evaluated at the median bandwidth."""
    pair_mod = pytest.importorskip("da.data.pair")
    src, tgt, _, _ = gauss_pair
    pair = pair_mod.DomainPair(src, tgt)
    split = pair.sample(1000, 1000, seed=0)
    rep = shift_report(split, ground_truth=pair, metrics=["mmd2"], tests=["mmd"], **FAST)
    h = rep.meta["bandwidth"]["inputs"]["value"]
    assert rep.meta["data"] == "split.test (held-out)"
    assert rep.meta["n_source"] == len(split.source_test.X)
    assert rep.get("mmd2")["truth"] == pytest.approx(gaussian_mixture_mmd2(src, tgt, h))
    assert "kl_joint" in rep.ground_truth
    # a GroundTruth object at the right bandwidth works too
    rep2 = shift_report(split, ground_truth=pair.ground_truth(bandwidth=h), metrics=["mmd2"], tests=[], **FAST)
    assert rep2.get("mmd2")["truth"] == pytest.approx(gaussian_mixture_mmd2(src, tgt, h))


def test_features_space_from_module_and_callable(gauss_pair):
    _, _, Xs, Xt = gauss_pair
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU())
    net.train()
    rep = shift_report((Xs, Xt), features=net, metrics=["mmd2", "coral_distance"], tests=["mmd"], **FAST)
    assert net.training  # mode restored
    f = rep.to_frame()
    assert set(f.space) == {"inputs", "features"} and rep.meta["feature_dim"] == 5
    with torch.no_grad():
        Fs = net(torch.as_tensor(Xs, dtype=torch.float32)).double().numpy()
        Ft = net(torch.as_tensor(Xt, dtype=torch.float32)).double().numpy()
    from da.diagnostics import coral_distance

    assert rep.get("coral_distance", "features")["value"] == pytest.approx(coral_distance(Fs, Ft), rel=1e-6)
    rep2 = shift_report((Xs, Xt), features=lambda X: X[:, :2] * 2, metrics=["coral_distance"], tests=[],
                        **FAST)
    assert rep2.get("coral_distance", "features")["value"] == pytest.approx(
        coral_distance(Xs[:, :2] * 2, Xt[:, :2] * 2))


def test_large_n_switches_estimators_and_says_why():
    rng = np.random.default_rng(2)
    Xs, Xt = rng.normal(size=(700, 4)), rng.normal(size=(600, 4)) + 0.3
    rep = shift_report((Xs, Xt), max_exact=200, max_fit=300, **FAST)
    est = {r["name"]: (r["estimator"], r["n_source"], r["note"]) for r in rep.rows if r["kind"] != "health"}
    assert est["mmd2"][0] == "block" and est["mmd2"][1] == 700
    assert est["energy_distance"][:2] == ("subsample", 200)
    assert est["wasserstein"][0] == "subsample" and "exact OT" in est["wasserstein"][2]
    assert est["mmd_test"][:2] == ("subsample", 200) and "max_exact = 200" in est["mmd_test"][2]
    assert est["c2st"][:2] == ("subsample", 300) and est["ks_test"][:2] == ("exact", 700)
    assert est["linear_mmd_test"][0] == "linear" and "added because" in est["linear_mmd_test"][2]
    assert est["coral_distance"][:2] == ("exact", 700)
    assert rep.get("linear_mmd_test")["pvalue"] < 0.05


def test_json_round_trip_save_and_load(tmp_path, gauss_pair):
    _, _, Xs, Xt = gauss_pair
    rep = shift_report((Xs, Xt), features=lambda X: X ** 2, ground_truth={"prior_tv": 0.2}, **FAST)
    path = rep.save(tmp_path / "sub" / "report.json")
    assert path.exists() and not list(path.parent.glob(".*tmp"))
    back = load_report(path)
    pd.testing.assert_frame_equal(back.to_frame(), rep.to_frame(), check_dtype=False)
    assert back.meta == json.loads(rep.to_json())["meta"] and back.ground_truth == {"prior_tv": 0.2}
    assert ShiftReport.from_dict(json.loads(rep.to_json())).rows == back.rows
    with pytest.raises(ValueError, match="not a shift report"):
        ShiftReport.from_dict({"rows": []})
    assert "shift report" in str(rep)


def test_same_seed_same_report_and_entries_have_independent_seeds(gauss_pair):
    _, _, Xs, Xt = gauss_pair
    a = shift_report((Xs, Xt), seed=3, **FAST)
    b = shift_report((Xs, Xt), seed=3, **FAST)
    pd.testing.assert_frame_equal(_no_seconds(a.to_frame()), _no_seconds(b.to_frame()))
    only = shift_report((Xs, Xt), seed=3, metrics=[], tests=["mmd_test"], **FAST)
    assert only.get("mmd_test")["pvalue"] == a.get("mmd_test")["pvalue"]


def test_compare_before_after_and_shrink_flag(gauss_pair):
    _, _, Xs, Xt = gauss_pair
    kw = dict(metrics=["mmd2", "energy_distance"], tests=["mmd"], **FAST)
    before = shift_report((Xs, Xt), features=lambda X: X, **kw)
    after = shift_report((Xs, Xt), features=lambda X: 0.05 * X, **kw)
    df = compare(before, after)
    assert list(df.columns) == ["before", "after", "delta", "rel_change", "flag"]
    row = df.loc[("features", "metric", "energy_distance")]
    assert row["delta"] == pytest.approx(row["after"] - row["before"])
    assert row["rel_change"] == pytest.approx(np.sqrt(0.05) - 1, rel=1e-6)
    assert row["flag"] == "features shrank"
    # the median-heuristic MMD is scale-free: unchanged and not flagged
    mm = df.loc[("features", "metric", "mmd2")]
    assert mm["rel_change"] == pytest.approx(0, abs=1e-6) and mm["flag"] == ""
    assert df.loc[("inputs", "metric", "energy_distance"), "flag"] == ""
    assert ("features", "test", "mmd_test.pvalue") in df.index
    assert any("feature norm fell" in w for w in df.attrs["warnings"])
    # frames and saved paths are accepted too
    pd.testing.assert_frame_equal(compare(before.to_frame(), after.to_dict()), df)


def test_report_bad_input(gauss_pair):
    _, _, Xs, Xt = gauss_pair
    with pytest.raises(ValueError, match="unknown metric 'mmd'; valid: mmd2, energy_distance"):
        shift_report((Xs, Xt), metrics=["mmd"])
    with pytest.raises(ValueError, match="unknown test 't'.*aliases"):
        shift_report((Xs, Xt), tests=["t"])
    with pytest.raises(ValueError, match="data must be"):
        shift_report(Xs)
    with pytest.raises(ValueError, match="different feature dimensions"):
        shift_report((Xs, Xt[:, :2]))
    with pytest.raises(ValueError, match="n_permutations"):
        shift_report((Xs, Xt), n_permutations=0)
    with pytest.raises(ValueError, match="features must be"):
        shift_report((Xs, Xt), features=3)
    with pytest.raises(ValueError, match="ground_truth must be"):
        shift_report((Xs, Xt), ground_truth=5, tests=[], metrics=["mmd2"])


def test_report_bad_split_is_named_before_the_data_is_read():
    from types import SimpleNamespace

    part = SimpleNamespace(X=np.zeros((4, 2)))
    split = SimpleNamespace(source_test=part, target_test=part)
    with pytest.raises(ValueError, match="unknown split 'train'; valid: 'test', 'val'"):
        shift_report(split, split="train")
