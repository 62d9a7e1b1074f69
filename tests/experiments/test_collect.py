"""`da collect`: tables over result.json records match a direct pandas/scipy computation."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from da._io import atomic_write_json
from da.experiments.collect import (aggregate, collect_runs, flatten_config, to_latex, to_markdown,
                                    varying_columns)
from da.experiments.config import config_hash, resolve_config


def _fake_runs(root, tiny, rng):
    """result.json records as run_experiment writes them, with made-up metrics (no training)."""
    truth = []
    for method in ("mmd", "dann"):
        for lam in (0.1, 1.0):
            for seed in range(4):
                cfg = resolve_config(dict(tiny, method=method, seed=seed, **{"lambda": lam}))
                rid = config_hash(cfg)
                m = {"target_test_acc": float(rng.uniform(0.5, 0.9)), "after_features_mmd2": float(rng.normal()),
                     "per_class": [0.1, 0.2]}  # non-scalars are left out of the table
                atomic_write_json(root / rid / "result.json",
                                  {"run_id": rid, "status": "completed", "config": cfg, "metrics": m})
                truth.append({"run_id": rid, "method": method, "lambda": lam, "seed": seed,
                              "target_test_acc": m["target_test_acc"],
                              "after_features_mmd2": m["after_features_mmd2"]})
    return pd.DataFrame(truth)


def test_collect_and_aggregate_match_pandas(tmp_path, tiny):
    truth = _fake_runs(tmp_path, tiny, np.random.default_rng(0))
    # records that must not count: a killed run (no result.json), a torn result.json, a foreign one
    (tmp_path / "0123456789ab").mkdir()
    (tmp_path / "0123456789ab" / "metrics.jsonl").write_text('{"epoch": 0}\n{"epo')
    (tmp_path / "aaaaaaaaaaaa").mkdir()
    (tmp_path / "aaaaaaaaaaaa" / "result.json").write_text('{"run_id": "aaaaaaaaaaaa", "status": "comp')
    (tmp_path / "bbbbbbbbbbbb").mkdir()
    (tmp_path / "bbbbbbbbbbbb" / "result.json").write_text(json.dumps(
        {"run_id": "cccccccccccc", "status": "completed", "config": {}, "metrics": {}}))
    df = collect_runs(tmp_path)
    assert len(df) == 16 and df["run_id"].is_unique and set(df["run_id"]) == set(truth["run_id"])
    assert {"train.lr", "align.0.loss", "data.generator.severity", "model.hidden"} <= set(df.columns)
    assert df["model.hidden"].iloc[0] == "[8]"
    assert "per_class" not in df.columns
    assert varying_columns(df) == ["method", "lambda"]  # align.0.loss follows from method

    agg = aggregate(df)  # default: group by the varying config columns, all metrics
    ref = truth.groupby(["method", "lambda"])[["target_test_acc", "after_features_mmd2"]]
    mean, std, n = ref.mean(), ref.std(ddof=1), ref.count()
    for _, row in agg.iterrows():
        key = (row["method"], row["lambda"])
        for m in ("target_test_acc", "after_features_mmd2"):
            assert row["n"] == n.loc[key, m] == 4
            assert row[f"{m}_mean"] == pytest.approx(mean.loc[key, m], rel=1e-12)
            assert row[f"{m}_std"] == pytest.approx(std.loc[key, m], rel=1e-12)
            half = stats.t.ppf(0.975, 3) * std.loc[key, m] / math.sqrt(4)
            assert row[f"{m}_ci"] == pytest.approx(half, rel=1e-12)

    by_method = aggregate(df, by="method", metrics=["target_test_acc"], confidence=0.9)
    r = by_method.set_index("method").loc["dann"]
    x = truth[truth.method == "dann"]["target_test_acc"]
    assert r["n"] == 8 and r["target_test_acc_mean"] == pytest.approx(x.mean())
    assert r["target_test_acc_ci"] == pytest.approx(stats.t.ppf(0.95, 7) * x.std() / math.sqrt(8))

    md = to_markdown(by_method)
    assert md.splitlines()[0] == "| method | n | target_test_acc |"
    assert f"{x.mean():.3f} ± {stats.t.ppf(0.95, 7) * x.std() / math.sqrt(8):.3f}" in md
    tex = to_latex(by_method, caption="Target accuracy", label="tab:acc")
    assert r"target\_test\_acc" in tex and r"\pm" in tex and r"\label{tab:acc}" in tex
    assert tex.count(r"\\") == 3  # header + 2 rows


def test_a_single_run_group_has_no_interval(tmp_path, tiny):
    _fake_runs(tmp_path, tiny, np.random.default_rng(1))
    df = collect_runs(tmp_path)
    agg = aggregate(df, by=["method", "lambda", "seed"], metrics=["target_test_acc"])
    assert (agg["n"] == 1).all() and agg["target_test_acc_std"].isna().all()
    assert "±" not in to_markdown(agg)
    with pytest.raises(ValueError, match="no such column"):
        aggregate(df, by="nope")


def test_flatten_config():
    flat = flatten_config({"a": {"b": 1, "c": [1, 2]}, "align": [{"loss": "mmd", "params": {}}], "e": []})
    assert flat == {"a.b": 1, "a.c": "[1, 2]", "align.0.loss": "mmd", "align.0.params": "{}", "e": "[]"}


def test_collect_cli_writes_csv_markdown_latex(tmp_path, tiny, cli, capsys):
    truth = _fake_runs(tmp_path / "runs", tiny, np.random.default_rng(2))
    out = tmp_path / "out"
    code = cli(["collect", str(tmp_path / "runs"), "-g", "method", "-m", "target_test_acc",
                "--csv", str(out / "runs.csv"), "--markdown", str(out / "t.md"), "--latex", str(out / "t.tex")])
    assert code == 0
    printed = capsys.readouterr().out
    csv = pd.read_csv(out / "runs.csv")
    assert len(csv) == 16 and set(csv["run_id"]) == set(truth["run_id"])
    x = truth[truth.method == "mmd"]["target_test_acc"]
    assert f"| mmd | 8 | {x.mean():.3f} ± " in printed
    assert (out / "t.md").read_text() == printed
    assert r"\toprule" in (out / "t.tex").read_text()
    assert cli(["collect", str(tmp_path / "out")]) == 1  # no runs there


def test_aggregate_rejects_a_non_numeric_confidence():
    import pandas as pd
    import pytest

    from da.experiments.collect import aggregate

    df = pd.DataFrame({"method": ["a", "a"], "seed": [0, 1], "acc": [0.5, 0.6]})
    for bad in ("x", None, 1.5, True):
        with pytest.raises(ValueError, match="confidence"):
            aggregate(df, by="method", metrics="acc", confidence=bad)
