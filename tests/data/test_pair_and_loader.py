"""DomainPair splits, EmpiricalDomain sampling and the paired loader."""

import numpy as np
import pytest
import torch

from da.data import DomainPair, EmpiricalDomain, GaussianDomain, MoonsDomain, PairedLoader


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


def test_paired_loader_cycles_shorter_and_is_seeded():
    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(100, 3)), rng.integers(2, size=100)
    Xt = rng.normal(size=(30, 3)).astype(np.float32)
    loader = PairedLoader(Xs, ys, Xt, batch_size_source=20, batch_size_target=8, seed=5)
    batches = list(loader)
    assert len(batches) == len(loader) == 5
    assert all(b[0].shape == (20, 3) and b[2].shape == (8, 3) for b in batches)
    # the source is covered exactly once per epoch
    seen = torch.cat([b[0] for b in batches])
    assert torch.unique(seen, dim=0).shape[0] == 100
    again = list(PairedLoader(Xs, ys, Xt, batch_size_source=20, batch_size_target=8, seed=5))
    assert all(torch.equal(a[2], b[2]) for a, b in zip(batches, again))
    with pytest.raises(ValueError, match="different feature dimensions"):
        PairedLoader(Xs, ys, Xt[:, :2])
    with pytest.raises(ValueError, match="batch_size_source"):
        PairedLoader(Xs, ys, Xt, batch_size_source=0)
