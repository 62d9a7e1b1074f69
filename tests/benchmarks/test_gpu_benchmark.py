"""benchmarks/gpu.py: the no-GPU line, and a CPU smoke run of every section on tiny sizes."""

import json

import pytest
import torch

from tests.benchmarks._scripts import load_script


@pytest.fixture(scope="module")
def gpu_bench():
    return load_script("gpu", "gpu_bench")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_without_a_gpu_it_prints_one_line_and_exits_0(gpu_bench, tmp_path, capsys):
    assert gpu_bench.main(["--out", str(tmp_path / "gpu")]) == 0
    assert "no GPU present" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_cpu_quick_run_writes_json_and_markdown_with_ratios(gpu_bench, tmp_path, monkeypatch):
    tiny = dict(gpu_bench.SIZES["quick"], mmd_n=(60, 80), mmd_b=9, batches=(12,), dim=8, warmup=0, repeats=1)
    monkeypatch.setitem(gpu_bench.SIZES, "quick", tiny)
    assert gpu_bench.main(["--device", "cpu", "--quick", "--out", str(tmp_path / "gpu")]) == 0
    result = json.loads((tmp_path / "gpu.json").read_text())
    assert [r["n"] for r in result["mmd_test"]] == [60, 80]
    assert result["mmd_test"][0]["ratio_to_first"] == 1.0 and 0 < result["mmd_test"][1]["p_value"] <= 1
    losses = {r["loss"]: r for r in result["losses"]}
    assert set(losses) == {"MMD", "DANN", "CDAN", "JDOT", "CORAL", "Sinkhorn sinkhorn_log", "Sinkhorn auto",
                           "Sinkhorn symmetric", "SWD"}
    assert all(r["ms"] > 0 and r["peak_mib"] is None for r in losses.values())
    assert losses["MMD"]["ratio_to_mmd"] == 1.0
    assert losses["Sinkhorn symmetric"]["ratio_to_pot_sinkhorn_log"] == pytest.approx(
        losses["Sinkhorn symmetric"]["ms"] / losses["Sinkhorn sinkhorn_log"]["ms"])
    resnet = result["resnet50_dann"]
    if "skipped" not in resnet:  # eager rows timed; compiled rows on the CPU say why they are not
        rows = resnet["rows"]
        assert {(r["precision"], r["compile"]) for r in rows} == {(p, c) for p in ("fp32", "bf16") for c in (False, True)}
        assert all("skipped" in r for r in rows if r["compile"]) and all("ms" in r for r in rows if not r["compile"])
        bf16_dann = next(r for r in rows if (r["precision"], r.get("step"), r["compile"]) == ("bf16", "DANN", False))
        assert bf16_dann["ratio_to_fp32"] > 0 and bf16_dann["ratio_to_eager"] == 1.0
    markdown = (tmp_path / "gpu.md").read_text()
    assert "| Sinkhorn symmetric | 12 | 8 |" in markdown and "## ResNet-50 DANN training step" in markdown
