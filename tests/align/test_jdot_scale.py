"""JDOTLoss(scale=...): alpha relative to the batch's mean / median squared feature distance."""

import numpy as np
import ot
import pytest
import torch

from da.align import JDOTLoss


@pytest.mark.parametrize("scale", ["mean", "median"])
def test_scaled_jdot_matches_pot_emd2_on_the_rescaled_cost(scale):
    """Reference: ot.emd2 on C = (alpha / ref) D + lambda_t CE, ref computed in float64 numpy."""
    rng = np.random.default_rng(0)
    fs, ft = rng.normal(size=(7, 3)) * 4, rng.normal(size=(6, 3)) * 4 + 1
    ys, lt = rng.integers(0, 3, 7), rng.normal(size=(6, 3))
    D = ((fs[:, None] - ft[None]) ** 2).sum(-1)
    ref = D.mean() if scale == "mean" else np.median(D)
    logp = lt - lt.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    C = 0.1 * D / ref + 0.3 * -logp[:, ys].T
    expected = ot.emd2(np.full(7, 1 / 7), np.full(6, 1 / 6), C)
    loss = JDOTLoss(alpha=0.1, lambda_t=0.3, scale=scale)
    got = loss(torch.tensor(fs), torch.tensor(ft), ys=torch.tensor(ys), logits_t=torch.tensor(lt))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)


def test_scaled_jdot_value_is_invariant_to_the_feature_scale():
    g = torch.Generator().manual_seed(1)
    fs, ft = torch.randn(8, 4, generator=g, dtype=torch.float64), torch.randn(8, 4, generator=g, dtype=torch.float64)
    ys, lt = torch.randint(0, 2, (8,), generator=g), torch.randn(8, 2, generator=g, dtype=torch.float64)
    loss = JDOTLoss(alpha=0.5, lambda_t=1.0, scale="mean")
    a = float(loss(fs, ft, ys=ys, logits_t=lt))
    b = float(loss(100 * fs, 100 * ft, ys=ys, logits_t=lt))
    np.testing.assert_allclose(a, b, rtol=1e-10)
    assert float(JDOTLoss(alpha=0.5)(100 * fs, 100 * ft, ys=ys, logits_t=lt)) > 100 * a  # unscaled: not


def test_unknown_scale_is_a_value_error():
    with pytest.raises(ValueError, match="scale"):
        JDOTLoss(scale="max")
