"""Features or outputs of a model over a dataset, in batches, on a capped subsample.

Diagnostics and selection criteria need features of up to ``max_samples``
images per domain, never the domain itself: :func:`extract_outputs` draws a
seeded subsample of indices, streams it through a ``DataLoader`` under
``torch.no_grad()`` and keeps only the outputs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from da._validation import check_positive_int, check_random_state

__all__ = ["subsample_indices", "extract_outputs"]


def subsample_indices(n: int, max_samples: int | None = None, seed=0) -> np.ndarray:
    """Sorted indices of a seeded subsample of ``range(n)`` without replacement.

    All ``n`` indices when ``max_samples`` is None or at least ``n``.

    Examples
    --------
    >>> subsample_indices(5, None).tolist()
    [0, 1, 2, 3, 4]
    >>> len(subsample_indices(1000, 10, seed=0))
    10
    """
    n = check_positive_int(n, "n")
    if max_samples is None or int(max_samples) >= n:
        return np.arange(n, dtype=np.int64)
    k = check_positive_int(max_samples, "max_samples")
    rng = check_random_state(seed)
    return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)


def _module_of(fn):
    if isinstance(fn, nn.Module):
        return fn
    owner = getattr(fn, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def _to_cpu(out):
    if isinstance(out, (tuple, list)):
        return tuple(o.detach().cpu() for o in out)
    return out.detach().cpu()


@torch.no_grad()
def extract_outputs(fn, dataset, *, max_samples: int | None = None, seed=0, batch_size: int = 256,
                    num_workers: int = 0, device=None, indices=None):
    """Run ``fn`` over (a capped, seeded subsample of) ``dataset`` in batches.

    Parameters
    ----------
    fn : callable
        ``fn(x_batch) -> tensor`` or a tuple of tensors, e.g. a featurizer or
        ``model.features_and_logits``. When ``fn`` is an ``nn.Module`` or a bound
        method of one, the module runs in eval mode and its mode is restored.
    dataset : map-style dataset of ``(x, y)`` or ``x`` items
        Already transformed (the evaluation transform, for diagnostics).
    max_samples : int, optional
        Cap on the number of items, drawn with :func:`subsample_indices`.
    seed : int or Generator
        Seeds the subsample.
    batch_size, num_workers : int
        Of the ``DataLoader`` (in order, no shuffling).
    device : torch.device or str, optional
        Where ``fn`` runs; outputs come back on the CPU.
    indices : array-like of int, optional
        Restrict to these items first (e.g. a split), then subsample.

    Returns
    -------
    outputs : Tensor or tuple of Tensor
        Concatenated over batches, on the CPU, in ``indices`` order.
    labels : Tensor of int64 or None
        When items are ``(x, y)`` pairs.
    indices : ndarray of int64
        The dataset items used.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    pool = np.arange(len(dataset), dtype=np.int64) if indices is None else np.asarray(indices, np.int64)
    if pool.size == 0:
        raise ValueError("extract_outputs: the dataset (or the given indices) is empty")
    idx = pool[subsample_indices(pool.size, max_samples, seed)]
    loader = DataLoader(Subset(dataset, idx.tolist()), batch_size=batch_size, shuffle=False,
                        num_workers=int(num_workers))
    module = _module_of(fn)
    was = module.training if module is not None else None
    if module is not None:
        module.eval()
    outs, labels = [], []
    try:
        for batch in loader:
            x, y = (batch[0], batch[1]) if isinstance(batch, (tuple, list)) else (batch, None)
            if device is not None:
                x = x.to(device, non_blocking=True)
            outs.append(_to_cpu(fn(x)))
            if y is not None:
                labels.append(torch.as_tensor(y, dtype=torch.long))
    finally:
        if module is not None:
            module.train(was)
    if isinstance(outs[0], tuple):
        out = tuple(torch.cat([o[i] for o in outs]) for i in range(len(outs[0])))
    else:
        out = torch.cat(outs)
    return out, (torch.cat(labels) if labels else None), idx
