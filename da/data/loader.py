"""Minibatch streams: the one sampler behind every training loop of ``da``.

A stream draws, at the start of each epoch, ``ceil(steps * b / n)`` fresh
permutations of its ``n`` rows from a ``torch.Generator``, concatenates them and
cuts the first ``steps * b`` indices into ``steps`` batches of ``b`` rows. So a
stream never raises ``StopIteration`` (a short stream cycles, reshuffled), every
batch is full, and the batches of an epoch depend only on the generator's state
at its start, which makes a run resumable by saving that state.

That is ``sampling="shuffle"``, the default. Two other orders exist for
protocols that prescribe them (:data:`SAMPLINGS`): ``"stored"`` visits the rows
in their stored order, cycled (``0, 1, ..., n-1, 0, ...``, restarting at row 0
each epoch; it draws nothing), and ``"replacement"`` draws every index uniformly
with replacement (``torch.randint``). The sample-wise SGD of Ganin et al. (2016,
§5.1) visits the source in its stored order and draws each step's target
example with replacement.

Two streams share this sampler:

- :class:`TensorStream` indexes tensors held in memory (small domains; the
  arrays may already sit on the training device);
- :class:`LoaderStream` reads a map-style :class:`torch.utils.data.Dataset`
  through a :class:`torch.utils.data.DataLoader` (workers, pinned memory,
  persistent workers), so a domain is never materialised. With the same
  generator it yields the same rows as a :class:`TensorStream` over the same data.

Several streams of one run share one generator, drawn in a fixed order
(source, unlabelled target, labelled target).

**Distributed runs.** With ``world_size`` :math:`W > 1`, every rank draws the same
epoch indices from the same seeded generator and keeps the columns
``[rank * b/W, (rank+1) * b/W)`` of each ``(steps, b)`` batch: its share of the same
global batch. That is a ``DistributedSampler`` with ``set_epoch`` (one seeded
permutation on all ranks, each rank its part), cut per batch, so a run on :math:`W`
processes sees exactly the batches of a run on one. ``b`` must divide by :math:`W`.
"""

from __future__ import annotations

import math

import torch

from da._names import SAMPLINGS
from da._validation import check_positive_int

__all__ = ["SAMPLINGS", "epoch_indices", "TensorStream", "LoaderStream"]


def _check_sampling(sampling) -> str:
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    return sampling


def epoch_indices(n: int, batch_size: int, n_steps: int, generator: torch.Generator,
                  sampling: str = "shuffle") -> torch.Tensor:
    """``(n_steps, b)`` row indices of one epoch, ``b = min(batch_size, n)``, in the order
    ``sampling`` (:data:`SAMPLINGS`); see the module doc."""
    bs = min(batch_size, n)
    need = n_steps * bs
    if _check_sampling(sampling) == "stored":
        return (torch.arange(need) % n).view(n_steps, bs)
    if sampling == "replacement":
        return torch.randint(n, (n_steps, bs), generator=generator)
    perms = [torch.randperm(n, generator=generator) for _ in range(math.ceil(need / n))]
    return torch.cat(perms)[:need].view(n_steps, bs)


def _shard(batch_size: int, rank: int, world_size: int) -> slice:
    """The columns of rank ``rank`` in a global batch of ``batch_size`` rows."""
    check_positive_int(world_size, "world_size")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank={rank} is not in [0, world_size={world_size})")
    if batch_size % world_size:
        raise ValueError(f"batch_size={batch_size} (capped at the number of rows) is the global batch and "
                         f"must be divisible by the number of processes ({world_size})")
    per = batch_size // world_size
    return slice(rank * per, (rank + 1) * per)


class TensorStream:
    """Batches of in-memory tensors (all with the same first dimension).

    Parameters
    ----------
    tensors : sequence of torch.Tensor or None
        Indexed together; ``None`` entries are yielded as ``None``.
    batch_size : int
        Capped at the number of rows.
    generator : torch.Generator
        Shared by the streams of a run.
    rank, world_size : int
        This process's share of each global batch (distributed runs; see the module doc).
    sampling : {"shuffle", "stored", "replacement"}, default "shuffle"
        The order of the rows within an epoch (see the module doc).

    Examples
    --------
    >>> gen = torch.Generator().manual_seed(0)
    >>> s = TensorStream((torch.arange(5.0),), 2, gen)
    >>> [tuple(b[0].shape) for b in s.epoch(3)]
    [(2,), (2,), (2,)]
    """

    def __init__(self, tensors, batch_size: int, generator: torch.Generator, *, rank: int = 0,
                 world_size: int = 1, sampling: str = "shuffle"):
        self.tensors = tuple(tensors)
        self.sampling = _check_sampling(sampling)
        lead = next(t for t in self.tensors if t is not None)
        self.n = int(lead.shape[0])
        if self.n < 1:
            raise ValueError("a stream needs at least one row")
        self.batch_size = min(check_positive_int(batch_size, "batch_size"), self.n)
        self.generator = generator
        self.shard = _shard(self.batch_size, rank, world_size)

    def __len__(self) -> int:
        return self.n

    def epoch(self, n_steps: int):
        """An iterator over this epoch's ``n_steps`` batches (the indices are drawn now)."""
        idx = epoch_indices(self.n, self.batch_size, n_steps, self.generator, self.sampling)[:, self.shard]

        def batches():
            for i in range(n_steps):
                rows = None
                for t in self.tensors:
                    if t is not None:
                        rows = idx[i].to(t.device)
                        break
                yield tuple(None if t is None else t[rows] for t in self.tensors)
        return batches()


class _EpochBatches:
    """A batch sampler whose batches are set per epoch (so persistent workers survive epochs)."""

    def __init__(self):
        self.batches = torch.empty(0, 0, dtype=torch.long)

    def __iter__(self):
        return iter(self.batches.tolist())

    def __len__(self) -> int:
        return len(self.batches)


class LoaderStream:
    """Batches of a map-style ``Dataset`` read through a ``DataLoader``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        ``dataset[i]`` returns a tuple (``(image, label)``, ``(image,)``, ...) or a tensor.
    batch_size : int
    generator : torch.Generator
    num_workers : int
    pin_memory : bool
        Page-locked batches, for fast copies to a CUDA device.
    persistent_workers : bool
        Keep the workers between epochs (only with ``num_workers > 0``).
    collate_fn : callable, optional
        Default: :func:`torch.utils.data.default_collate`.
    worker_seed : int
        Seed of the DataLoader's own generator, from which its workers' RNGs (random
        augmentations) are seeded, so augmentations are reproducible.
    labels : array, optional
        Replace the second element of each batch by ``labels[rows]`` (e.g. the
        target's evaluation-only labels, or labels remapped from the dataset's).
        ``False`` drops it (``None`` in its place).
    device : torch.device, optional
        Where the batches are moved (non-blocking when ``pin_memory``).
    rank, world_size : int
        This process's share of each global batch (distributed runs; see the module doc).
    sampling : {"shuffle", "stored", "replacement"}, default "shuffle"
        The order of the rows within an epoch (see the module doc).
    """

    def __init__(self, dataset, batch_size: int, generator: torch.Generator, *, num_workers: int = 0,
                 pin_memory: bool = False, persistent_workers: bool = False, collate_fn=None,
                 worker_seed: int = 0, labels=None, device=None, rank: int = 0, world_size: int = 1,
                 sampling: str = "shuffle"):
        from torch.utils.data import DataLoader

        self.sampling = _check_sampling(sampling)
        self.n = len(dataset)
        if self.n < 1:
            raise ValueError("a stream needs at least one row; the dataset is empty")
        self.batch_size = min(check_positive_int(batch_size, "batch_size"), self.n)
        self.shard = _shard(self.batch_size, rank, world_size)
        self.generator = generator
        self.dataset = dataset
        self.labels = None if labels is None or labels is False else torch.as_tensor(labels, dtype=torch.long)
        self.drop_labels = labels is False
        self.device = torch.device(device) if device is not None else None
        self.pin_memory = bool(pin_memory)
        num_workers = check_positive_int(num_workers, "num_workers", minimum=0)
        self._sampler = _EpochBatches()
        self._worker_gen = torch.Generator().manual_seed(int(worker_seed))
        self.loader = DataLoader(dataset, batch_sampler=self._sampler, num_workers=num_workers,
                                 pin_memory=bool(pin_memory), collate_fn=collate_fn,
                                 persistent_workers=bool(persistent_workers) and num_workers > 0,
                                 generator=self._worker_gen)

    def __len__(self) -> int:
        return self.n

    def epoch(self, n_steps: int):
        """An iterator over this epoch's ``n_steps`` batches (the indices are drawn now)."""
        rows = epoch_indices(self.n, self.batch_size, n_steps, self.generator, self.sampling)[:, self.shard]
        self._sampler.batches = rows
        it = iter(self.loader)

        def batches():
            for i, b in enumerate(it):
                b = list(b) if isinstance(b, (tuple, list)) else [b]
                if self.labels is not None:
                    b[1:2] = [self.labels[rows[i]]]
                elif self.drop_labels:
                    b[1:2] = [None]
                if self.device is not None:
                    b = [t.to(self.device, non_blocking=self.pin_memory) if t is not None else None for t in b]
                yield tuple(b)
        return batches()
