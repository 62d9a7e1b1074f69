"""The trainer reads lazy dataset rows through DataLoader streams with the same batches as in memory."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from da.align import MMDLoss
from da.data import DatasetRows, Part
from da.transfer import finetune, make_split, mlp


class _Arrays(torch.utils.data.Dataset):
    """A map-style dataset that counts its reads (to show nothing is read up front)."""

    def __init__(self, X, y):
        self.X, self.y, self.reads = X, y, 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        return torch.as_tensor(self.X[i]), int(self.y[i])


def _lazy(part, labels, workers=0):
    ds = _Arrays(part.X, labels if labels is not None else np.zeros(len(part), int))
    return Part(DatasetRows(ds, num_workers=workers), part.y), ds


@pytest.mark.parametrize("workers", [0, 2])
def test_lazy_split_trains_bit_identically_to_the_in_memory_split(workers):
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(90, 4)).astype("float32")
    ys = (Xs[:, 0] > 0).astype(int)
    Xt = (rng.normal(size=(70, 4)) + 0.5).astype("float32")
    split = make_split(Xs, ys, Xt, seed=0)
    src, ds_s = _lazy(split.source_train, split.source_train.y, workers)
    tgt, ds_t = _lazy(split.target_train, None, workers)
    lazy = replace(split, source_train=src, target_train=tgt, source_val=_lazy(split.source_val,
                                                                               split.source_val.y)[0],
                   target_val=_lazy(split.target_val, None)[0])
    assert ds_s.reads == 0  # building the split reads nothing
    kw = dict(epochs=3, batch_size=16, device="cpu", seed=1, log_every=1, selection="dev")
    a = finetune(mlp(4, (8,), 2, seed=0), split, [(MMDLoss(), 1.0)], **kw)
    b = finetune(mlp(4, (8,), 2, seed=0), lazy, [(MMDLoss(), 1.0)], **kw)
    for ra, rb in zip(a.history, b.history):
        for k, v in ra.items():
            assert rb[k] == v, k
    assert [s["loss/total"] for s in a.steps] == [s["loss/total"] for s in b.steps]
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    if workers == 0:
        assert ds_s.reads > 0 and ds_t.reads > 0


def test_dataset_rows_index_lazily_and_materialise_only_when_asked():
    X = np.arange(24, dtype="float32").reshape(12, 2)
    ds = _Arrays(X, np.arange(12))
    rows = DatasetRows(ds, transform=lambda x: x * 2)
    sub = rows[np.array([3, 5, 7])]
    assert ds.reads == 0 and len(sub) == 3 and sub.shape == (3, 2)
    np.testing.assert_array_equal(np.asarray(sub), 2 * X[[3, 5, 7]])
    np.testing.assert_array_equal(sub[1].numpy(), 2 * X[5])
    with pytest.raises(ValueError, match="out of range"):
        DatasetRows(ds, [12])


def test_a_killed_run_resumes_from_its_last_epoch_and_matches_the_uninterrupted_run(tmp_path):
    """Model, optimizer, discriminator, stream and dropout RNG state all come back from resume.pt."""
    from da.align import DANNLoss

    rng = np.random.default_rng(1)
    Xs = rng.normal(size=(80, 4)).astype("float32")
    ys = (Xs[:, 1] > 0).astype(int)
    Xt = (rng.normal(size=(60, 4)) + 0.3).astype("float32")
    split = make_split(Xs, ys, Xt, seed=0)
    kw = dict(epochs=5, batch_size=16, device="cpu", seed=3, optimizer="adam", log_every=2)

    def model():
        return mlp(4, (8,), 2, dropout=0.3, seed=0)

    full = finetune(model(), split, [(DANNLoss(8, hidden=(8,), seed=0), 1.0)], run_dir=tmp_path / "a", **kw)

    class Killed(RuntimeError):
        pass

    def kill(m, epoch):
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        finetune(model(), split, [(DANNLoss(8, hidden=(8,), seed=0), 1.0)], run_dir=tmp_path / "b",
                 hooks=[(1, kill)], **kw)
    assert not (tmp_path / "b" / "result.json").exists() and (tmp_path / "b" / "resume.pt").exists()
    again = finetune(model(), split, [(DANNLoss(8, hidden=(8,), seed=0), 1.0)], run_dir=tmp_path / "b", **kw)
    assert [h["loss/total"] for h in again.history] == [h["loss/total"] for h in full.history]
    assert again.best_epoch == full.best_epoch and again.n_steps == full.n_steps
    assert full.resumed_after_epoch is None and again.resumed_after_epoch == 1  # killed in epoch 2
    assert [s["step"] for s in again.steps] == [s["step"] for s in full.steps]
    for pa, pb in zip(full.model.parameters(), again.model.parameters()):
        assert torch.equal(pa, pb)
    # a different configuration never reads another run's resume state
    other = finetune(model(), split, [(DANNLoss(8, hidden=(8,), seed=0), 1.0)], run_dir=tmp_path / "b",
                     **dict(kw, epochs=3))
    assert len(other.history) == 3 and other.history[0]["epoch"] == 0 and other.resumed_after_epoch is None


def test_resume_dir_alone_keeps_only_the_resume_state_and_an_early_stop_stays_stopped(tmp_path):
    """``resume_dir`` without ``run_dir`` writes resume.pt and nothing else; a run rerun after it
    stopped early (patience) trains no further epoch (reference: the uninterrupted run)."""
    rng = np.random.default_rng(2)
    Xs = rng.normal(size=(80, 4)).astype("float32")
    ys = (Xs[:, 0] > 0).astype(int)
    Xt = (rng.normal(size=(60, 4)) + 0.3).astype("float32")
    split = make_split(Xs, ys, Xt, seed=0)
    kw = dict(epochs=30, batch_size=16, device="cpu", seed=0, patience=1, lr=1e-2)
    full = finetune(mlp(4, (8,), 2, seed=0), split, [(MMDLoss(), 1.0)], **kw)
    assert full.stopped_early and len(full.history) < 30
    first = finetune(mlp(4, (8,), 2, seed=0), split, [(MMDLoss(), 1.0)], resume_dir=tmp_path / "r", **kw)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["resume.pt"]
    again = finetune(mlp(4, (8,), 2, seed=0), split, [(MMDLoss(), 1.0)], resume_dir=tmp_path / "r", **kw)
    for res in (first, again):
        assert res.stopped_early and res.history == full.history and res.best_epoch == full.best_epoch
        assert all(torch.equal(a, b) for a, b in zip(full.model.parameters(), res.model.parameters()))
    assert again.n_steps == full.n_steps
