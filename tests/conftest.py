import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def two_gaussians():
    from da.data import GaussianDomain

    return GaussianDomain([[0.0, 0.0], [2.0, 1.0]],
                          [[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]]], prior=[0.3, 0.7])


@pytest.fixture
def rng():
    return np.random.default_rng(0)
