"""Protocol splits: transductive = all target images for train and test, inductive = disjoint; seeded, stratified."""

import numpy as np
import pytest

from da.datasets import PROTOCOLS, split_indices
from da.datasets.images import fixed_splits


def _labels(n_per=(30, 20, 10)):
    return np.concatenate([np.full(n, k) for k, n in enumerate(n_per)])


def test_transductive_target_is_everything():
    ys, yt = _labels(), _labels((8, 12, 5))
    s = split_indices(ys, yt, protocol="transductive", seed=3)
    every = np.arange(yt.size)
    for part in (s.target_train, s.target_val, s.target_test):
        np.testing.assert_array_equal(part, every)
    a = fixed_splits(ys, seed=3)  # the source split is the built-in pairs' split
    np.testing.assert_array_equal(s.source_train, np.flatnonzero(a == 0))
    np.testing.assert_array_equal(s.source_test, np.flatnonzero(a == 2))


def test_inductive_target_is_disjoint_stratified_and_seeded():
    ys, yt = _labels(), _labels((40, 40, 20))
    s = split_indices(ys, yt, protocol="inductive", seed=5)
    parts = [s.target_train, s.target_val, s.target_test]
    assert sum(p.size for p in parts) == yt.size
    assert len(np.unique(np.concatenate(parts))) == yt.size  # a partition
    np.testing.assert_array_equal(s.target_test, np.flatnonzero(fixed_splits(yt, seed=6) == 2))
    for k, n in enumerate((40, 40, 20)):
        assert np.sum(yt[s.target_train] == k) == round(0.7 * n)  # stratified per class
    again = split_indices(ys, yt, protocol="inductive", seed=5)
    np.testing.assert_array_equal(again.target_test, s.target_test)
    other = split_indices(ys, yt, protocol="inductive", seed=7)
    assert not np.array_equal(other.target_test, s.target_test)


def test_given_assignment_and_record():
    y = _labels()
    a = np.zeros(y.size, dtype=int)
    a[-5:], a[:5] = 2, 1
    s = split_indices(y, y, protocol="inductive", source_assignment=a, target_assignment=a)
    np.testing.assert_array_equal(s.source_test, np.arange(55, 60))
    np.testing.assert_array_equal(s.target_val, np.arange(5))
    rec = s.record()
    assert rec["protocol"] == "inductive" and rec["n_target_test"] == 5 and rec["n_source_train"] == 50
    assert set(PROTOCOLS) == {"transductive", "inductive"}


def test_labels_from_a_domain_object():
    class Dom:
        targets = [0, 1, 0, 1, 0, 1, 0, 1]

    s = split_indices(Dom(), Dom(), protocol="transductive", seed=0)
    assert s.target_test.size == 8


@pytest.mark.parametrize("kwargs, match", [
    ({"protocol": "semi"}, "protocol must be one of"),
    ({"fracs": (0.5, 0.5, 0.5)}, "summing to 1"),
    ({"target_assignment": [0, 3]}, "target_assignment must be a length-60"),
])
def test_split_errors(kwargs, match):
    y = _labels()
    kwargs.setdefault("protocol", "inductive")
    with pytest.raises(ValueError, match=match):
        split_indices(y, y, **kwargs)


def test_too_few_images_and_bad_labels():
    with pytest.raises(ValueError, match="target_test is empty"):
        split_indices(_labels(), np.array([0, 1]), protocol="inductive")
    with pytest.raises(ValueError, match="non-negative integer labels"):
        split_indices(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match="at least 2 labels"):
        split_indices(np.array([0]), np.array([0, 1]))
