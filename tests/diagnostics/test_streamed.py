"""The streamed permutation path (pooled rows >= _STREAM_MIN_ROWS) against a float64 reference loop:
scipy's cdist kernel matrix indexed once per permutation, on the very same permutations."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from da.diagnostics import energy_test, mmd_test
from da.diagnostics import _streamed, permutation
from da.diagnostics.permutation import _batched_energy_test, _batched_mmd_test, _split_indicators


def _reference_stats(X, Y, A, kernel):
    """Statistic of every split column of A (column 0 observed) by indexing a stored float64 matrix."""
    Z = np.concatenate([X, Y])
    n, m = len(X), len(Y)
    M = kernel(cdist(Z, Z, "sqeuclidean"))
    out = []
    for col in A.T.astype(bool):
        ix, jx = np.flatnonzero(col), np.flatnonzero(~col)
        out.append((M[np.ix_(ix, ix)], M[np.ix_(jx, jx)], M[np.ix_(ix, jx)], n, m))
    return out


def _reference_pvalue(stats):
    """(1 + #{T_b >= T_obs}) / (B + 1) with the observed statistic in column 0."""
    stats = np.asarray(stats)
    return (1 + np.sum(stats[1:] >= stats[0] - 1e-10 * np.abs(stats).max())) / stats.size


def _lower_median_distance(Z):
    d2 = cdist(Z, Z, "sqeuclidean")[np.triu_indices(len(Z), 1)]
    return float(np.sqrt(np.partition(d2, (d2.size - 1) // 2)[(d2.size - 1) // 2]))


@pytest.fixture
def small_blocks(monkeypatch):
    """Stream from 64 pooled rows on, in blocks of 41 rows (the last block is a remainder)."""
    monkeypatch.setattr(permutation, "_STREAM_MIN_ROWS", 64)
    monkeypatch.setattr(_streamed, "_BLOCK_ENTRIES", 41 * 150)
    assert _streamed._block_rows(150) == 41


def test_streamed_mmd_equals_float64_reference_loop(small_blocks):
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(80, 4)), rng.normal(size=(70, 4)) + 0.15
    B = 200
    res = _batched_mmd_test(X[None], Y[None], n_permutations=B, rng=np.random.default_rng(7))
    h = _lower_median_distance(np.concatenate([X, Y]))
    assert res["bandwidths"][0, 0] == pytest.approx(h, rel=1e-13)
    A = _split_indicators(np.random.default_rng(7), 80, 70, B, 1)[0].numpy()
    stats = [(Kxx.sum() - n) / (n * (n - 1)) + (Kyy.sum() - m) / (m * (m - 1)) - 2 * Kxy.mean()
             for Kxx, Kyy, Kxy, n, m in _reference_stats(X, Y, A, lambda d2: np.exp(-d2 / (2 * h * h)))]
    assert res["mmd2"][0, 0] == pytest.approx(stats[0], rel=1e-12, abs=1e-15)
    assert res["pvalue"][0] == _reference_pvalue(stats)
    assert 0.001 < res["pvalue"][0] < 0.999  # a p-value that can move


def test_streamed_aggregated_and_energy_equal_the_stored_matrix_path(small_blocks, monkeypatch):
    """Streamed vs batched-on-stored-matrices (itself checked against double loops): same p-values."""
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(90, 3)), rng.normal(size=(60, 3)) * 1.1
    agg = mmd_test(X, Y, n_permutations=150, seed=1, aggregate=True)
    eng = energy_test(X, Y, n_permutations=150, seed=1)
    monkeypatch.setattr(permutation, "_STREAM_MIN_ROWS", 10 ** 9)
    agg_ref = mmd_test(X, Y, n_permutations=150, seed=1, aggregate=True)
    eng_ref = energy_test(X, Y, n_permutations=150, seed=1)
    assert agg.pvalue == agg_ref.pvalue and agg.details["pvalues"] == agg_ref.details["pvalues"]
    np.testing.assert_allclose(agg.details["mmd2"], agg_ref.details["mmd2"], rtol=1e-12, atol=1e-13)  # kernel scale 1
    assert agg.details["bandwidths"] == pytest.approx(agg_ref.details["bandwidths"], rel=1e-14)
    assert eng.pvalue == eng_ref.pvalue
    assert eng.statistic == pytest.approx(eng_ref.statistic, rel=1e-12)


def test_streamed_energy_equals_float64_reference_loop(small_blocks):
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(75, 2)), rng.normal(size=(75, 2)) + 0.2
    res = _batched_energy_test(X[None], Y[None], n_permutations=120, rng=np.random.default_rng(2))
    A = _split_indicators(np.random.default_rng(2), 75, 75, 120, 1)[0].numpy()
    stats = [(2 * Dxy.mean() - Dxx.mean() - Dyy.mean()) * n * m / (n + m)
             for Dxx, Dyy, Dxy, n, m in _reference_stats(X, Y, A, np.sqrt)]
    assert res["statistic"][0] == pytest.approx(stats[0], rel=1e-12)
    assert res["pvalue"][0] == _reference_pvalue(stats)


@pytest.mark.parametrize("half_width", [400, 0])
@pytest.mark.parametrize("kind", ["ties", "spread"])
def test_streamed_median_is_the_exact_lower_median(kind, half_width, monkeypatch):
    """Tied distances (integer grid) and a bracket too narrow to hold the median (the fallback) both
    give the exact lower median of the pair distances."""
    monkeypatch.setattr(_streamed, "_BRACKET_HALF_WIDTH", half_width)
    rng = np.random.default_rng(6)
    Z = rng.integers(0, 3, size=(700, 2)).astype(float) if kind == "ties" else rng.normal(size=(700, 3))
    got = _streamed._streamed_median(torch.as_tensor(Z))
    assert got == pytest.approx(_lower_median_distance(Z), rel=1e-14)


def test_streamed_path_is_taken_at_scale_and_is_reproducible():
    """mmd_test at 1100 pooled rows streams (no 1100 x 1100 matrix) and repeats itself bit for bit."""
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(600, 3)), rng.normal(size=(500, 3))
    assert 600 + 500 >= permutation._STREAM_MIN_ROWS
    a = mmd_test(X, Y, n_permutations=50, seed=0)
    b = mmd_test(X, Y, n_permutations=50, seed=0)
    assert a.statistic == b.statistic and a.pvalue == b.pvalue


@pytest.mark.parametrize("batch", [1, 3])
def test_split_indicators_are_the_n_smallest_uniforms_with_or_without_scratch(batch):
    """Independent construction: column b >= 1 marks the n smallest of N uniforms (argsort), drawn
    replication by replication from one stream; a reused float64 scratch gives the same columns and
    leaves the generator in the same state; a too-small or float32 scratch is not used."""
    n, m, B = 23, 17, 60
    u = np.random.default_rng(5).random((batch, B, n + m))
    ref = np.zeros((batch, n + m, B + 1))
    ref[:, :n, 0] = 1.0
    for r in range(batch):
        for b in range(B):
            ref[r, np.argsort(u[r, b])[:n], b + 1] = 1.0
    for scratch in (None, torch.full((B * (n + m),), np.nan, dtype=torch.float64),
                    torch.empty(B, dtype=torch.float64), torch.empty(B * (n + m), dtype=torch.float32)):
        rng = np.random.default_rng(5)
        A = _split_indicators(rng, n, m, B, batch, scratch=scratch)
        np.testing.assert_array_equal(A.numpy(), ref)
        assert rng.random() == np.random.default_rng(5).random((batch * B * (n + m) + 1))[-1]
