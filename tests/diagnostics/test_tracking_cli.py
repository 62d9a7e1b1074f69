"""GapTracker (training hook) and the `da diagnose` CLI module."""

import argparse
import json

import numpy as np
import pytest
import torch

from da.cli import diagnose
from da.diagnostics import (GapTracker, coral_distance, energy_distance, mmd2, sliced_wasserstein,
                            wasserstein)


def test_tracker_measures_every_k_epochs_and_keeps_history():
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(300, 4)), rng.normal(size=(200, 4)) + 1
    tr = GapTracker(Xs, Xt, metrics=("mmd2", "energy_distance", "coral_distance"), every=3, max_samples=150)
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    outs = {e: tr(net, e) for e in range(7)}
    assert [e for e, o in outs.items() if o] == [0, 3, 6]
    assert all(isinstance(v, float) for v in outs[3].values())
    assert set(outs[3]) >= {"mmd2", "energy_distance", "coral_distance", "mean_norm/source",
                            "effective_rank/target"}
    assert list(tr.to_frame()["epoch"]) == [0, 3, 6]
    assert outs[0] == outs[3]  # the same model on the same stored rows


def test_tracker_accepts_precomputed_features_and_feature_fn():
    """Reference: the plain metric functions on the same features."""
    rng = np.random.default_rng(1)
    Xs, Xt = rng.normal(size=(100, 3)), rng.normal(size=(120, 3)) + 0.5
    tr = GapTracker(Xs, Xt, metrics=["mmd2", "proxy_a_distance"], bandwidth=1.0, health=False)
    out = tr((Xs * 2, Xt * 2), epoch=0)
    assert out["mmd2"] == pytest.approx(mmd2(Xs * 2, Xt * 2, bandwidth=1.0))
    assert 0 <= out["proxy_a_distance"] <= 2
    tr2 = GapTracker(Xs, Xt, feature_fn=lambda model, X: model * X, health=False, bandwidth=1.0)
    assert tr2(2.0, epoch=0)["mmd2"] == pytest.approx(out["mmd2"])
    with pytest.raises(ValueError, match="every"):
        GapTracker(Xs, Xt, every=0)
    with pytest.raises(ValueError, match="unknown metric"):
        GapTracker(Xs, Xt, metrics=["kl"])



def test_tracker_values_equal_the_public_gap_functions():
    """Reference: mmd2, energy_distance, coral_distance, wasserstein and sliced_wasserstein on the
    same features; the tracker's generator for epoch e is default_rng([seed, e])."""
    rng = np.random.default_rng(2)
    Fs, Ft = rng.normal(size=(80, 3)), rng.normal(size=(90, 3)) * 1.5 + 0.3
    names = ("mmd2", "energy_distance", "coral_distance", "wasserstein", "sliced_wasserstein")
    out = GapTracker(Fs, Ft, metrics=names, health=False, seed=4)((Fs, Ft), epoch=2)
    assert out["mmd2"] == pytest.approx(mmd2(Fs, Ft), rel=1e-10)
    assert out["energy_distance"] == pytest.approx(energy_distance(Fs, Ft), rel=1e-10)
    assert out["coral_distance"] == pytest.approx(coral_distance(Fs, Ft), rel=1e-10)
    assert out["wasserstein"] == pytest.approx(wasserstein(Fs, Ft), rel=1e-10)
    # the metrics before it draw nothing, so sliced W takes the epoch generator's first draw
    assert out["sliced_wasserstein"] == pytest.approx(
        sliced_wasserstein(Fs, Ft, seed=np.random.default_rng([4, 2])), rel=1e-10)


def _parse(argv):
    parser = argparse.ArgumentParser(prog="da")
    diagnose.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["diagnose"] + argv)


def test_cli_on_npy_and_npz_files(tmp_path, capsys):
    rng = np.random.default_rng(2)
    Xs, Xt = rng.normal(size=(120, 3)), rng.normal(size=(100, 3)) + 0.8
    np.save(tmp_path / "s.npy", Xs)
    np.save(tmp_path / "t.npy", Xt)
    np.savez(tmp_path / "st.npz", Xs=Xs, Xt=Xt)
    out = tmp_path / "rep.json"
    args = _parse([str(tmp_path / "s.npy"), str(tmp_path / "t.npy"), "--metrics", "mmd2,coral_distance",
                   "--tests", "mmd,ks", "--n-permutations", "50", "--n-bootstrap", "10", "--out", str(out)])
    assert diagnose.run(args) == 0
    text = capsys.readouterr().out
    assert "mmd_test" in text and "coral_distance" in text and "saved" in text
    saved = json.loads(out.read_text())
    assert saved["format"] == "da.diagnostics.ShiftReport/1"
    assert diagnose.run(_parse([str(tmp_path / "st.npz"), "--metrics", "mmd2", "--tests", "mmd",
                                "--n-permutations", "50", "--n-bootstrap", "0", "--json"])) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    mm = [r for r in rows if r["name"] == "mmd2"][0]
    assert mm["value"] == pytest.approx(saved["rows"][0]["value"])


def test_cli_errors(tmp_path):
    np.savez(tmp_path / "bad.npz", A=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="expected 'Xs' and 'Xt'"):
        diagnose.run(_parse([str(tmp_path / "bad.npz")]))
    with pytest.raises(ValueError, match="give SOURCE.npy TARGET.npy"):
        diagnose.run(_parse([]))


def test_cli_through_da_main_when_registered(tmp_path, capsys):
    main = pytest.importorskip("da.cli.main")
    if "diagnose" not in getattr(main, "COMMANDS", {}):
        pytest.skip("da diagnose is not registered in da.cli.main")
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "st.npz", Xs=rng.normal(size=(50, 2)), Xt=rng.normal(size=(50, 2)))
    assert main.main(["diagnose", str(tmp_path / "st.npz"), "--tests", "ks", "--metrics", "coral_distance",
                      "--n-bootstrap", "0"]) == 0
    assert main.main(["diagnose", str(tmp_path / "st.npz"), "--tests", "nope"]) == 2
    assert "unknown test 'nope'" in capsys.readouterr().err
