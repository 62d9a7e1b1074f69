"""MixVal's mixed-sample probes (da.transfer.probes) against closed forms on 1-d models whose every
probe's answer is known, and their input checks."""

import numpy as np
import pytest
import torch

from da.transfer import FeaturizerHead
from da.transfer.probes import MIXUP_LAMBDA, mixup_probes


class _Threshold(torch.nn.Module):
    """Two logits (t - x, x - t) of a 1-d input: class 1 exactly when x > t."""

    def __init__(self, t):
        super().__init__()
        self.t = torch.nn.Parameter(torch.tensor(float(t)), requires_grad=False)

    def forward(self, x):
        return torch.cat([self.t - x, x - self.t], 1)


class _Outside(torch.nn.Module):
    """Class 1 exactly when |x| > 1: a pseudo-class that is not convex."""

    def __init__(self):
        super().__init__()
        self.one = torch.nn.Parameter(torch.tensor(1.0), requires_grad=False)

    def forward(self, x):
        return torch.cat([self.one - x.abs(), x.abs() - self.one], 1)


def _model(head):
    return FeaturizerHead(torch.nn.Identity(), head)


def _two_clusters(n_a=30, n_b=20):
    return np.concatenate([np.full((n_a, 1), -1.0), np.full((n_b, 1), 1.0)]).astype("float32")


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_boundary_between_the_clusters_passes_every_probe(seed):
    """Threshold at 0 between clusters at -1 and +1: a 0.55 mix sits at +-0.1, on its dominant row's side."""
    X = _two_clusters()
    got = mixup_probes(_model(_Threshold(0.0)), X, seed=seed)
    assert got["ice_intra"] == 1.0 and got["ice_inter"] == 1.0
    assert got["n_intra"] == 50  # every row starts one same-class pair (both classes have >= 2 rows)
    assert 0 < got["n_inter"] <= 50


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_an_off_centre_boundary_fails_exactly_half_the_inter_cluster_probes(seed):
    """Threshold at 0.2: a mix dominated by a -1 row (at -0.1) keeps class 0, one dominated by a +1 row (at 0.1)
    falls to class 0 as well. A permutation sends as many rows from A to B as from B to A, so exactly half of
    the inter-cluster pairs are dominated by each cluster: ICE_inter = 1/2 for every seed."""
    got = mixup_probes(_model(_Threshold(0.2)), _two_clusters(), seed=seed)
    assert got["ice_inter"] == 0.5 and got["ice_intra"] == 1.0


def test_a_non_convex_pseudo_class_fails_its_intra_cluster_probes():
    """|x| > 1 is class 1: its rows at -2 and +2 mix to +-0.2 (class 0), so both of its intra pairs fail; the
    two class-0 rows at 0 mix to 0 and pass: ICE_intra = 2/4."""
    X = np.array([[-2.0], [2.0], [0.0], [0.0]], dtype="float32")
    got = mixup_probes(_model(_Outside()), X, seed=0)
    assert got["n_intra"] == 4 and got["ice_intra"] == 0.5


def test_one_predicted_class_has_no_inter_cluster_pair_and_scores_zero():
    got = mixup_probes(_model(_Threshold(5.0)), _two_clusters(), seed=0)
    assert got["n_inter"] == 0 and got["ice_inter"] == 0.0 and got["ice_intra"] == 1.0


def test_probes_against_a_float64_loop_on_a_random_network():
    """A random MLP on 3-d rows: each probe recomputed by a plain float64 loop over the same pairs (drawn as the
    module documents: the subsample, then per pseudo-class a shuffled cycle, then one permutation)."""
    from da.transfer.models import mlp

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3)).astype("float32")
    model = FeaturizerHead(*mlp(3, hidden=(16,), n_classes=3, seed=2))
    got = mixup_probes(model, X, seed=5, max_samples=200)

    def predict(rows):
        with torch.no_grad():
            return model.eval()(torch.as_tensor(np.asarray(rows, dtype="float32"))).numpy().argmax(1)

    r = np.random.default_rng(5)
    S = X[np.sort(r.choice(300, 200, replace=False))]
    pseudo = predict(S)
    intra_ok, intra_n = 0, 0
    for k in np.unique(pseudo):
        g = r.permutation(np.flatnonzero(pseudo == k))
        for a, b in zip(g, np.roll(g, -1)) if len(g) >= 2 else ():
            mixed = MIXUP_LAMBDA * S[a].astype(np.float64) + (1 - MIXUP_LAMBDA) * S[b].astype(np.float64)
            intra_ok += int(predict(mixed[None])[0] == pseudo[a])
            intra_n += 1
    perm = r.permutation(200)
    inter = [(i, int(perm[i])) for i in range(200) if pseudo[i] != pseudo[perm[i]]]
    inter_ok = sum(int(predict((MIXUP_LAMBDA * S[i].astype(np.float64)
                                + (1 - MIXUP_LAMBDA) * S[j].astype(np.float64))[None])[0] == pseudo[i])
                   for i, j in inter)
    assert (got["n_intra"], got["n_inter"]) == (intra_n, len(inter)) and len(inter) > 20
    assert got["ice_intra"] == pytest.approx(intra_ok / intra_n, abs=1e-12)
    assert got["ice_inter"] == pytest.approx(inter_ok / len(inter), abs=1e-12)
    assert 0.0 < got["ice_inter"] < 1.0


def test_same_seed_same_probes_and_the_model_mode_is_restored():
    from da.transfer.models import mlp

    X = np.random.default_rng(0).normal(size=(80, 3)).astype("float32")
    model = FeaturizerHead(*mlp(3, hidden=(8,), n_classes=2, seed=0)).train()
    assert mixup_probes(model, X, seed=3) == mixup_probes(model, X, seed=3)
    assert model.training


@pytest.mark.parametrize("lam", [0.5, 1.0, 0.2, True, "0.6"])
def test_lam_outside_the_open_interval_is_refused(lam):
    with pytest.raises(ValueError, match=r"lam must be a number in \(0.5, 1\)"):
        mixup_probes(_model(_Threshold(0.0)), _two_clusters(), lam=lam)


@pytest.mark.parametrize("X", [np.zeros((1, 1), "float32"), np.zeros((0, 1), "float32"), np.zeros(5, "float32")])
def test_too_few_rows_are_refused_naming_X(X):
    with pytest.raises(ValueError, match="X needs at least 2 target rows"):
        mixup_probes(_model(_Threshold(0.0)), X)


def test_lazy_rows_give_the_probes_of_the_same_array():
    """Image-folder rows (DatasetRows, read through their DataLoader) are probed as the array they hold."""
    from da.data.lazy import DatasetRows
    from da.transfer.models import mlp

    X = np.random.default_rng(1).normal(size=(90, 3)).astype("float32")
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.zeros(90, dtype=torch.long))
    model = FeaturizerHead(*mlp(3, hidden=(8,), n_classes=3, seed=1))
    assert mixup_probes(model, DatasetRows(ds), seed=2, max_samples=60) == mixup_probes(model, X, seed=2,
                                                                                         max_samples=60)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rows_are_refused_naming_X(bad):
    X = _two_clusters()
    X[3, 0] = bad
    with pytest.raises(ValueError, match="X holds NaN or inf values"):
        mixup_probes(_model(_Threshold(0.0)), X)
