import numpy as np
import pytest
import torch

from da.data import DomainPair, GaussianDomain


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def blobs_pair():
    """Three Gaussian classes in 4-D; the target is shifted by +1 in every coordinate."""
    means = np.array([[0, 0, 0, 0], [3, 0, 0, 0], [0, 3, 0, 0]], dtype=float)
    covs = np.stack([np.eye(4) * 0.5] * 3)
    return DomainPair(GaussianDomain(means, covs, name="s"), GaussianDomain(means + 1.0, covs, name="t"))


@pytest.fixture(scope="session")
def split(blobs_pair):
    return blobs_pair.sample(300, 200, seed=0)


@pytest.fixture(scope="session")
def split_fewshot(blobs_pair):
    return blobs_pair.sample(300, 200, seed=0, n_target_labeled=12)


@pytest.fixture
def fast():
    """Training settings small enough for the test suite."""
    return dict(epochs=3, batch_size=32, lr=1e-2, device="cpu")
