"""Seeded loader of paired source/target minibatches."""

from __future__ import annotations

import math

import numpy as np
import torch

from da._validation import check_array, check_labels, check_positive_int, check_same_dim

__all__ = ["PairedLoader"]


class PairedLoader:
    """Yield ``(xs, ys, xt)`` minibatches; one epoch covers the larger domain once.

    The smaller domain is cycled, reshuffled at each pass. Shuffles come from a
    ``torch.Generator`` seeded by ``seed`` and the epoch number, so iteration
    ``e`` is reproducible on its own.

    Parameters
    ----------
    Xs, ys : source features and labels
    Xt : target features (labels are never loaded)
    batch_size_source, batch_size_target : int
    seed : int
    device, dtype : where and how the batches are materialised
    """

    def __init__(self, Xs, ys, Xt, *, batch_size_source: int = 128, batch_size_target: int = 128,
                 seed: int = 0, device=None, dtype=torch.float32):
        Xs = check_array(Xs, "Xs", ndim=None)
        Xt = check_array(Xt, "Xt", ndim=None)
        check_same_dim(Xs, Xt)
        ys = check_labels(ys, "ys", n_samples=Xs.shape[0])
        self.bs = check_positive_int(batch_size_source, "batch_size_source")
        self.bt = check_positive_int(batch_size_target, "batch_size_target")
        self.Xs = torch.as_tensor(Xs, dtype=dtype, device=device)
        self.ys = torch.as_tensor(ys, dtype=torch.long, device=device)
        self.Xt = torch.as_tensor(Xt, dtype=dtype, device=device)
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return max(math.ceil(self.Xs.shape[0] / self.bs), math.ceil(self.Xt.shape[0] / self.bt))

    def _stream(self, n: int, bs: int, gen: torch.Generator):
        perm, pos = torch.randperm(n, generator=gen), 0
        while True:
            if pos + bs > n:
                # refill with a fresh permutation so every batch is full
                rest = perm[pos:]
                perm, pos = torch.cat([rest, torch.randperm(n, generator=gen)]), 0
            yield perm[pos:pos + bs]
            pos += bs

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        src = self._stream(self.Xs.shape[0], min(self.bs, self.Xs.shape[0]), gen)
        tgt = self._stream(self.Xt.shape[0], min(self.bt, self.Xt.shape[0]), gen)
        dev = self.Xs.device
        for _ in range(len(self)):
            i, j = next(src).to(dev), next(tgt).to(dev)
            yield self.Xs[i], self.ys[i], self.Xt[j]
