"""Stream row orders (da.data.loader SAMPLINGS): "stored" is arange cycled and draws nothing;
"replacement" is uniform with replacement (scipy.stats.chisquare); both streams agree."""

import numpy as np
import pytest
import torch

from da.data import LoaderStream, TensorStream, epoch_indices
from da.transfer import TrainConfig
from tests._rows import Rows


def test_stored_order_is_the_rows_cycled_from_row_0_and_draws_nothing():
    gen = torch.Generator().manual_seed(0)
    state = gen.get_state()
    idx = epoch_indices(5, 2, 4, gen, "stored")
    assert idx.tolist() == [[0, 1], [2, 3], [4, 0], [1, 2]]
    assert torch.equal(gen.get_state(), state)  # the other streams' draws are unchanged
    assert epoch_indices(5, 9, 2, gen, "stored").tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]  # capped batch


def test_replacement_is_uniform_with_repeats_and_seeded():
    from scipy.stats import chisquare

    draw = lambda: epoch_indices(10, 1, 20_000, torch.Generator().manual_seed(3), "replacement")  # noqa: E731
    idx = draw()
    assert idx.shape == (20_000, 1) and torch.equal(idx, draw())
    counts = np.bincount(idx.ravel().numpy(), minlength=10)
    assert chisquare(counts).pvalue > 1e-3
    # not permutations: within consecutive windows of n draws some rows repeat
    windows = idx.view(-1, 10)
    assert sum(len(set(w.tolist())) < 10 for w in windows) > 0.99 * len(windows)
    shuffled = epoch_indices(10, 1, 20_000, torch.Generator().manual_seed(3)).view(-1, 10)
    assert all(sorted(w.tolist()) == list(range(10)) for w in shuffled)  # the default: permutations


@pytest.mark.parametrize("sampling", ["stored", "replacement"])
def test_tensor_and_loader_streams_yield_the_same_rows(sampling):
    X, y = torch.randn(7, 2, generator=torch.Generator().manual_seed(0)), torch.arange(7)
    a = TensorStream((X, y), 3, torch.Generator().manual_seed(1), sampling=sampling)
    b = LoaderStream(Rows(X, y), 3, torch.Generator().manual_seed(1), sampling=sampling)
    for _ in range(2):
        rows_a = [r[1].tolist() for r in a.epoch(5)]
        assert rows_a == [r[1].tolist() for r in b.epoch(5)]
    if sampling == "stored":
        assert sum(rows_a, []) == [i % 7 for i in range(15)]


def test_bad_sampling_names_the_argument():
    with pytest.raises(ValueError, match="sampling must be one of"):
        TensorStream((torch.zeros(3),), 1, torch.Generator(), sampling="sorted")
    with pytest.raises(ValueError, match="source_sampling"):
        TrainConfig.from_kwargs(source_sampling="sorted")
    with pytest.raises(ValueError, match="target_sampling"):
        TrainConfig.from_kwargs(target_sampling=None)
