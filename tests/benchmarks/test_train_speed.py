"""benchmarks/train_speed.py: the table's ratios and same-result column, and a tiny whole-fit round."""

import pytest

from tests.benchmarks._scripts import load_script


@pytest.fixture(scope="module")
def train_speed():
    return load_script("train_speed", "train_speed_bench")


def test_table_ratios_to_source_only_and_to_the_baseline(train_speed):
    best = {"this tree": {"source_only": [0.5, "aaaa", 0.70], "mmd": [1.0, "bbbb", 0.80]},
            "da/ at abc": {"source_only": [0.5, "aaaa", 0.70], "mmd": [2.0, "cccc", 0.75]}}
    rows = train_speed.format_table(best, "s/fit").splitlines()
    assert rows[0].startswith("| method | s/fit | x source-only |") and "this tree / baseline" in rows[0]
    so, mmd = rows[2].split("|"), rows[3].split("|")
    assert [c.strip() for c in so[2:4]] == ["0.500", "1.00"] and so[8].strip() == "yes"
    assert [c.strip() for c in mmd[2:4]] == ["1.000", "2.00"]  # 1.0 / 0.5
    assert [c.strip() for c in mmd[5:9]] == ["2.000", "4.00", "0.50", "no"]
    assert "(baseline 0.750)" in rows[3]


def test_table_of_plain_seconds_keeps_the_old_format(train_speed):
    rows = train_speed.format_table({"source_only": 0.05, "sinkhorn_pot": 0.2, "sinkhorn": 0.1}).splitlines()
    assert rows[0] == "| method | s/epoch | x source-only | x replaced |"
    assert rows[4] == "| sinkhorn | 0.100 | 2.00 | 0.50 (sinkhorn_pot) |"


def test_whole_fit_round_times_each_method_and_checksums_its_model(train_speed):
    res = train_speed.one_round(["source_only", "coral"], whole_fit=True, epochs=1, clock="cpu")
    assert set(res) == {"source_only", "coral"}
    for seconds, checksum, acc in res.values():
        assert seconds > 0 and len(checksum) == 8 and 0.0 <= acc <= 1.0
    again = train_speed.one_round(["coral"], whole_fit=True, epochs=1, clock="cpu")
    assert again["coral"][1] == res["coral"][1]  # seeded: the same fitted model, bit for bit
    assert res["coral"][1] != res["source_only"][1]


def test_loss_round_times_each_loss_and_checksums_value_and_gradients(train_speed):
    res = train_speed.one_round(["coral", "swd"], whole_fit=False, epochs=1, clock="cpu", losses=3)
    assert set(res) == {"coral", "swd"}
    assert all(seconds > 0 and len(checksum) == 8 for seconds, checksum in res.values())
    again = train_speed.one_round(["swd"], whole_fit=False, epochs=1, clock="cpu", losses=3)
    assert again["swd"][1] == res["swd"][1]


def test_table_gives_the_median_and_range_of_each_rounds_own_ratio(train_speed):
    best = {"this tree": {"source_only": [0.5, "aaaa"], "mmd": [1.2, "bbbb"]},
            "da/ at abc": {"source_only": [0.5, "aaaa"], "mmd": [1.5, "cccc"]}}
    paired = {"this tree": {"source_only": [1.0, 1.0, 1.0], "mmd": [2.5, 2.0, 2.1]},
              "da/ at abc": {"source_only": [1.0, 1.0], "mmd": [3.0, 2.8]}}
    rows = train_speed.format_table(best, paired=paired).splitlines()
    assert "x source-only per round, median (range) |" in rows[0] and "median (range) at baseline" in rows[0]
    mmd = [c.strip() for c in rows[3].split("|")]
    assert mmd[3] == "2.40"  # the ratio of the minima
    assert mmd[5:7] == ["2.10 (2.00-2.50)", "2.90 (2.80-3.00)"]


def test_timed_rounds_pairs_each_method_with_source_only_of_its_own_round(train_speed, monkeypatch):
    rounds = iter([{"source_only": [1.0, "a"], "mmd": [2.0, "b"]}, {"source_only": [2.0, "a"], "mmd": [3.0, "b"]}])
    monkeypatch.setattr(train_speed, "one_round", lambda *a, **k: next(rounds))
    monkeypatch.setattr(train_speed, "load_pair", lambda name: type("P", (), {"sample": lambda self, seed: None})())
    args = type("A", (), dict(baseline=None, pretrain=0, rounds=2, whole_fit=False, epochs=1, clock="wall",
                              losses=0))()
    best, paired = train_speed.timed_rounds(args, ["source_only", "mmd"])
    assert best["this tree"]["mmd"][0] == 2.0 and best["this tree"]["source_only"][0] == 1.0
    assert paired["this tree"]["mmd"] == [2.0, 1.5]
