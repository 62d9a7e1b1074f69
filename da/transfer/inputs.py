"""What the training loop accepts as data (a :class:`~da.data.Split`, or arrays made into one) and
the minibatch streams it draws from them."""

from __future__ import annotations

import numpy as np
import torch

from da._validation import check_array, check_labels, check_random_state
from da.data.lazy import is_lazy
from da.data.loader import LoaderStream, TensorStream
from da.data.pair import Part, Split, TargetLabels
from da.transfer._rng import torch_seed

__all__ = ["make_split", "as_split", "check_split", "subsample_part", "example_rows", "make_streams"]


def _labeled_rows(Xt, yt_labeled, labeled_idx):
    if (yt_labeled is None) != (labeled_idx is None):
        if yt_labeled is not None and len(yt_labeled) == len(Xt):
            labeled_idx = np.arange(len(Xt))
        else:
            raise ValueError("yt_labeled and labeled_idx go together: labeled_idx are the rows of Xt "
                             "whose labels are yt_labeled")
    if labeled_idx is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    labeled_idx = np.asarray(labeled_idx)
    if labeled_idx.ndim != 1 or (labeled_idx.size and not np.issubdtype(labeled_idx.dtype, np.integer)):
        raise ValueError(f"labeled_idx must be a 1-D integer array, got shape {labeled_idx.shape}")
    if labeled_idx.size > len(Xt):
        raise ValueError(f"n_target_labeled={labeled_idx.size} exceeds the {len(Xt)} target samples")
    if labeled_idx.size and (labeled_idx.min() < 0 or labeled_idx.max() >= len(Xt)):
        raise ValueError(f"labeled_idx has rows out of range [0, {len(Xt)})")
    if np.unique(labeled_idx).size != labeled_idx.size:
        raise ValueError("labeled_idx has repeated rows")
    return labeled_idx, check_labels(yt_labeled, "yt_labeled", n_samples=labeled_idx.size)


def make_split(Xs, ys, Xt=None, *, yt_labeled=None, labeled_idx=None, Xt_val=None,
               val_fraction: float = 0.1, seed=0, n_classes: int | None = None) -> Split:
    """Arrays -> :class:`~da.data.Split` (transductive target).

    The source is split into train/validation (``val_fraction``); the target
    train and validation parts are both ``Xt`` (unless ``Xt_val`` is given),
    as in transductive adaptation. ``labeled_idx`` rows of ``Xt`` are the
    labelled target examples, with labels ``yt_labeled``.
    """
    Xs = check_array(Xs, "Xs", ndim=None, min_samples=2)
    ys = check_labels(ys, "ys", n_samples=Xs.shape[0])
    if Xt is None:
        Xt = Xs[:0]
    Xt = check_array(Xt, "Xt", ndim=None, min_samples=0)
    if Xt.shape[1:] != Xs.shape[1:]:
        raise ValueError(f"Xs and Xt have different feature dimensions: {Xs.shape} vs {Xt.shape}")
    labeled_idx, yt_labeled = _labeled_rows(Xt, yt_labeled, labeled_idx)
    k = int(n_classes) if n_classes is not None else int(max(ys.max(), yt_labeled.max(initial=-1))) + 1
    rng = check_random_state(seed)
    perm = rng.permutation(len(Xs))
    n_val = max(1, int(round(val_fraction * len(Xs))))
    tr, va = np.sort(perm[n_val:]), np.sort(perm[:n_val])
    Xv = Xt if Xt_val is None else check_array(Xt_val, "Xt_val", ndim=None)
    return Split(source_train=Part(Xs[tr], ys[tr]), source_val=Part(Xs[va], ys[va]),
                 source_test=Part(Xs[:0], ys[:0]), target_train=Part(Xt), target_val=Part(Xv),
                 target_test=Part(Xt[:0]), target_labeled=Part(Xt[labeled_idx], yt_labeled),
                 target_labeled_idx=labeled_idx.astype(np.int64),
                 eval_labels=TargetLabels(None, None, None), n_classes=k, seed=None)


def as_split(data, val_fraction: float, seed) -> Split:
    """A Split, a dict of :func:`make_split` arguments, or a tuple ``(Xs, ys[, Xt])``."""
    if isinstance(data, Split):
        return data
    if isinstance(data, dict):
        return make_split(**data, val_fraction=val_fraction, seed=seed)
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return make_split(*data, val_fraction=val_fraction, seed=seed)
    raise ValueError("data must be a da.data.Split, a dict of arrays (Xs, ys, Xt, ...) or a tuple "
                     f"(Xs, ys[, Xt]); got {type(data).__name__}")


def check_split(split: Split) -> None:
    """What every fit needs of its split: source training rows, no more labelled target than target rows."""
    if len(split.source_train) < 1:
        raise ValueError("the source training part is empty")
    n_lab = len(split.target_labeled)
    if n_lab > len(split.target_train):
        raise ValueError(f"n_target_labeled={n_lab} exceeds the {len(split.target_train)} target "
                         "training samples")


def subsample_part(part: Part, n_max: int, rng: np.random.Generator) -> Part:
    """At most ``n_max`` rows of ``part``, drawn without replacement, in their original order."""
    if len(part) <= n_max:
        return part
    idx = np.sort(rng.choice(len(part), n_max, replace=False))
    return Part(part.X[idx], None if part.y is None else part.y[idx])


def example_rows(X, device) -> torch.Tensor:
    """Two rows of ``X`` (an array or lazy rows) as a float32 tensor, to check a model's dimensions."""
    if is_lazy(X):
        return next(iter(X[:2].loader(2)))[0].float().to(device)
    return torch.as_tensor(X[:2], dtype=torch.float32, device=device)


def _stream(part, labels, batch_size: int, gen, device, seed, name: str, rank: int, world: int,
            sampling: str = "shuffle"):
    """A :class:`LoaderStream` over lazy rows (training transform), else a :class:`TensorStream`."""
    if world > 1 and min(batch_size, len(part)) % world:
        raise ValueError(f"{name}={min(batch_size, len(part))}"
                         + (f" (capped at the {len(part)} rows)" if batch_size > len(part) else "")
                         + f" is a global batch and must be divisible by the number of processes ({world})")
    if is_lazy(part.X):
        # augmentations differ between ranks (each rank's workers seeded apart)
        return LoaderStream(part.X.view(train=True), batch_size, gen, num_workers=part.X.num_workers,
                            pin_memory=device.type == "cuda", persistent_workers=part.X.num_workers > 0,
                            worker_seed=(torch_seed(seed) + rank) % (2**31), device=device,
                            labels=labels if labels is not None else False, rank=rank, world_size=world,
                            sampling=sampling)
    X = torch.as_tensor(part.X, dtype=torch.float32, device=device)
    y = torch.as_tensor(labels, dtype=torch.long, device=device) if labels is not None else None
    return TensorStream((X, y), batch_size, gen, rank=rank, world_size=world, sampling=sampling)


def make_streams(split: Split, config, align: bool, device, rank: int = 0, world_size: int = 1) -> dict:
    """The streams a fit draws from, sharing one generator seeded by ``config.seed``, in this order:
    labelled source ``s`` (when the CE or an alignment needs it), unlabelled target ``t`` (with
    alignment) and labelled target ``l`` (few-shot labels with ``target_weight > 0``). The source
    and target rows are ordered by ``config.source_sampling`` and ``config.target_sampling``
    (:func:`da.data.loader.epoch_indices`); the labelled target is always shuffled.

    With ``world_size > 1`` each stream yields this rank's share of the same global batches
    (:mod:`da.data.loader`); every (capped) batch size must divide by ``world_size``."""
    c, sh = config, (rank, world_size)
    if align and len(split.target_train) < 1:
        raise ValueError("the target training part has no samples; alignment needs unlabelled target data")
    use_labeled = len(split.target_labeled) > 0 and c.target_weight > 0
    use_source = c.source_weight > 0 or align
    if not (use_source or use_labeled):
        raise ValueError("nothing to train on: source_weight=0, no labelled target and no alignment")
    gen = torch.Generator().manual_seed(torch_seed(c.seed))
    streams = {}
    if use_source:
        streams["s"] = _stream(split.source_train, split.source_train.y, c.batch_size, gen, device, c.seed,
                               "batch_size", *sh, sampling=c.source_sampling)
    if align:
        # target labels for logging only: never enter the objective or a non-oracle criterion
        streams["t"] = _stream(split.target_train, split.eval_labels.train, c.batch_size_target or c.batch_size,
                               gen, device, c.seed, "batch_size_target", *sh, sampling=c.target_sampling)
    if use_labeled:
        streams["l"] = _stream(split.target_labeled, split.target_labeled.y,
                               c.batch_size_labeled or c.batch_size, gen, device, c.seed, "batch_size_labeled", *sh)
    return streams
