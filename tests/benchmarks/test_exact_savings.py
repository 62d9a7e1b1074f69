"""benchmarks/exact_savings.py: switching the savings off puts torch's calls back and restores ours,
and the two variants fit the same model (where torch's dropout takes its non-MKL path)."""

import pytest
import torch

import da._dropout as dropout_module
import da.transfer.optim as optim_module
from da.datasets import load_pair
from tests.benchmarks._scripts import load_script
from tests.test_dropout import _bernoulli_takes_the_default_path


@pytest.fixture(scope="module")
def bench():
    return load_script("exact_savings", "exact_savings_bench")


def test_savings_off_swaps_in_torch_and_restores(bench):
    ours = dropout_module.Dropout.forward, optim_module._clip_grad_norm
    with bench.savings_off():
        assert dropout_module.Dropout.forward is torch.nn.Dropout.forward
        assert optim_module._clip_grad_norm is not ours[1]
    assert (dropout_module.Dropout.forward, optim_module._clip_grad_norm) == ours


@pytest.mark.skipif(not _bernoulli_takes_the_default_path(), reason="torch's dropout mask comes from MKL here")
def test_cdan_fits_the_same_model_with_the_savings_off_and_on(bench):
    split = load_pair("mnist->digits").sample(seed=0)
    with bench.savings_off():
        _, off, _ = bench.fit_seconds(split, "cdan", 1)
    _, on, _ = bench.fit_seconds(split, "cdan", 1)
    assert off == on


def test_alternate_times_both_calls(bench):
    calls = []
    r = bench._alternate(lambda: calls.append("off"), lambda: calls.append("on"), 5)
    assert calls[-10:] == ["off", "on"] * 5 and len(calls) == 110
    assert set(r) == {"off", "on"} and all(p10 <= med for p10, med in r.values())
