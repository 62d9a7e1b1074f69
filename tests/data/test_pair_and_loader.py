"""DomainPair splits, EmpiricalDomain sampling and the paired loader."""

import numpy as np
import pytest
import torch

from da.data import LoaderStream, TensorStream, epoch_indices
from da.data import DomainPair, EmpiricalDomain, GaussianDomain, MoonsDomain
from tests._rows import Rows


def test_split_parts_sizes_and_hidden_labels(two_gaussians):
    pair = DomainPair(two_gaussians, MoonsDomain())
    sp = pair.sample(1000, 500, seed=0, n_target_labeled=7)
    assert sp.sizes() == {"source_train": 600, "source_val": 200, "source_test": 200, "target_train": 300,
                          "target_val": 100, "target_test": 100, "target_labeled": 7}
    assert sp.target_train.y is None and sp.target_val.y is None and sp.target_test.y is None
    assert sp.source_train.y.dtype == np.int64
    np.testing.assert_array_equal(sp.target_labeled.X, sp.target_train.X[sp.target_labeled_idx])
    np.testing.assert_array_equal(sp.target_labeled.y, sp.eval_labels.train[sp.target_labeled_idx])


def test_split_same_seed_identical(two_gaussians):
    pair = DomainPair(two_gaussians, two_gaussians)
    a, b = pair.sample(300, 300, seed=3), pair.sample(300, 300, seed=3)
    np.testing.assert_array_equal(a.source_train.X, b.source_train.X)
    np.testing.assert_array_equal(a.target_test.X, b.target_test.X)


def test_empirical_sample_without_replacement_and_fixed_splits():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.repeat([0, 1], 10)
    splits = np.array([0] * 12 + [1] * 4 + [2] * 4)
    dom = EmpiricalDomain(X, y, splits=splits)
    Xs, ys = dom.sample(20, seed=0)
    assert len(np.unique(Xs[:, 0])) == 20  # without replacement: a permutation
    with pytest.raises(ValueError, match="without replacement"):
        dom.sample(21)
    sp = DomainPair(dom, dom).sample(seed=1)
    assert set(sp.source_val.X[:, 0] // 2) == set(range(12, 16))
    assert set(sp.source_test.X[:, 0] // 2) == set(range(16, 20))


def test_unlabelled_target():
    rng = np.random.default_rng(0)
    src = EmpiricalDomain(rng.normal(size=(50, 3)), rng.integers(3, size=50), n_classes=3)
    tgt = EmpiricalDomain(rng.normal(size=(40, 3)))
    X, y = tgt.sample(10, seed=0)
    assert y is None and X.shape == (10, 3)
    sp = DomainPair(src, tgt).sample(seed=0)
    assert sp.eval_labels.test is None
    with pytest.raises(ValueError, match="unlabelled"):
        DomainPair(src, tgt).sample(seed=0, n_target_labeled=2)


def test_empirical_from_dataset_adapter():
    from da.datasets import ArrayDataset

    rng = np.random.default_rng(0)
    X = rng.uniform(size=(12, 1, 4, 4)).astype(np.float32)
    y = rng.integers(3, size=12)
    dom = EmpiricalDomain.from_dataset(ArrayDataset(X, y), n_classes=3)
    assert dom.image_shape == (1, 4, 4) and dom.dim == 16
    np.testing.assert_array_equal(dom.X, X.reshape(12, -1))
    np.testing.assert_array_equal(dom.y, y)


@pytest.mark.parametrize("make, match", [
    (lambda: EmpiricalDomain(np.zeros((0, 2))), "empty"),
    (lambda: EmpiricalDomain(np.array([[1.0, np.inf]])), "NaN or inf"),
    (lambda: EmpiricalDomain(np.zeros((3, 2)), [0, 1, 5], n_classes=3), "out of range"),
    (lambda: EmpiricalDomain(np.zeros((3, 2)), [0, -1, 1]), "out of range"),
    (lambda: EmpiricalDomain(np.zeros((3, 2)), [0, 1]), "labels but X has"),
    (lambda: EmpiricalDomain(np.zeros(3)), "2-D"),
    (lambda: DomainPair(GaussianDomain([[0, 0]], np.eye(2)), GaussianDomain([[0, 0, 0]], np.eye(3))),
     "different feature dimensions"),
    (lambda: DomainPair(GaussianDomain([[0, 0]], np.eye(2)), GaussianDomain([[0, 0]], np.eye(2)))
     .sample(100, 100, n_target_labeled=1000), "exceeds"),
    (lambda: DomainPair(GaussianDomain([[0, 0]], np.eye(2)), GaussianDomain([[0, 0]], np.eye(2)))
     .sample(2, 100), "too small"),
    (lambda: DomainPair(GaussianDomain([[0, 0]], np.eye(2)), GaussianDomain([[0, 0]], np.eye(2)))
     .sample(None, 100), "required"),
])
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_tensor_stream_cycles_a_short_stream_without_stop_and_is_seeded():
    X = torch.arange(30.0).view(10, 3)
    y = torch.arange(10)
    gen = torch.Generator().manual_seed(5)
    stream = TensorStream((X, y, None), 4, gen)
    batches = list(stream.epoch(7))  # 28 rows from a 10-row stream: three permutations
    assert len(batches) == 7 and all(b[0].shape == (4, 3) and b[2] is None for b in batches)
    rows = torch.cat([b[1] for b in batches])
    # the first 10 and the next 10 rows are each a permutation of all rows
    assert sorted(rows[:10].tolist()) == list(range(10)) == sorted(rows[10:20].tolist())
    assert all(torch.equal(b[0], X[b[1]]) for b in batches)  # tensors are indexed together
    again = list(TensorStream((X, y, None), 4, torch.Generator().manual_seed(5)).epoch(7))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again))
    # the same indices as epoch_indices on a fresh generator of the same seed
    ref = epoch_indices(10, 4, 7, torch.Generator().manual_seed(5))
    assert torch.equal(rows, ref.reshape(-1))
    assert TensorStream((X,), 50, gen).batch_size == 10  # capped at the rows
    with pytest.raises(ValueError, match="batch_size"):
        TensorStream((X,), 0, gen)


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_stream_yields_the_tensor_streams_rows(workers):
    X = torch.randn(13, 2, generator=torch.Generator().manual_seed(0))
    y = torch.arange(13)
    a = TensorStream((X, y), 5, torch.Generator().manual_seed(3))
    b = LoaderStream(Rows(X, y), 5, torch.Generator().manual_seed(3), num_workers=workers,
                     persistent_workers=True)
    for _ in range(2):  # two epochs: the persistent workers serve both
        ea, eb = list(a.epoch(4)), list(b.epoch(4))
        assert len(eb) == 4
        for (xa, ya), (xb, yb) in zip(ea, eb):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    with pytest.raises(ValueError, match="empty"):
        LoaderStream(Rows(X[:0], y[:0]), 5, torch.Generator())
