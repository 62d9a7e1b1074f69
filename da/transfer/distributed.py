r"""Training on several processes: :mod:`torch.distributed` under ``torchrun`` (or ``srun``).

The training loop (:class:`~da.transfer.Trainer`) runs distributed whenever a
process group is initialised (``torch.distributed.is_initialized()``): ``da run
--nproc-per-node N`` starts ``torchrun``, whose workers call :func:`init_from_env`
(the backend is ``nccl`` on CUDA, ``gloo`` on the CPU, and is recorded in the
resolved config under ``distributed``). Nothing here launches processes.

**Data.** ``batch_size`` is the *global* batch :math:`B`. Every rank draws the
same epoch indices (:func:`da.data.loader.epoch_indices`, from the same seeded
generator) and takes its slice ``[r B/W, (r+1) B/W)`` of each global batch
(:func:`shard_bounds`), for each stream (source, unlabelled target, labelled
target). This is what a ``DistributedSampler`` with ``set_epoch`` does (the
same seeded permutation on every rank, each rank its share), cut at the batch
rather than at the epoch, so that a run on :math:`W` processes sees exactly the
batches of the run on one. :math:`B` must divide by :math:`W`
(:func:`check_divisible`).

**Gradients.** The featurizer and head are one :class:`DistributedDataParallel`
module (:class:`FeaturesLogits`); every loss module with trainable parameters
(the discriminators of DANN and CDAN) is wrapped in its own DDP, so its
gradients are averaged over ranks like the model's. DDP averages the per-rank
gradients: with per-rank mean losses on equal shards :math:`S_r` of size
:math:`B/W`,

.. math::

    \frac1W\sum_{r=1}^W \nabla\Big(\frac{W}{B}\sum_{i\in S_r}\ell_i\Big)
    = \frac1B\sum_{i=1}^{B}\nabla\ell_i ,

the gradient of the global-batch mean (cross-entropies, and the discriminator's
loss). An alignment loss :math:`L` evaluated per rank is instead the mean of
:math:`W` minibatch estimates on :math:`B/W` rows each (the default, as DANN and
MMD are trained per minibatch). With ``gather_features`` the non-parametric
losses (kernel, moment and OT, and infomax on the logits) are evaluated on the features gathered from all
ranks with :func:`torch.distributed.nn.functional.all_gather`, whose backward
sums the output gradients of all ranks: each rank holds the same :math:`L`, so
rank :math:`r` receives :math:`W\,\partial L/\partial f_r` and the DDP average
gives :math:`\sum_r \partial L/\partial f_r\,\partial f_r/\partial\theta =
\nabla_\theta L`, the one-process gradient of the global-batch loss.

**Metrics** of each step are averaged over ranks (one ``all_reduce``) before they
are logged or checked for divergence, so every rank takes the same decisions.
Selection, target accuracy and hooks run on every rank on identical replicas and
data, so they give the numbers of one process without a broadcast (rank 0 alone
would take as long: the other ranks would wait for it); only rank 0 writes.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistContext", "context", "init_from_env", "check_divisible", "check_batches", "shard_bounds",
           "FeaturesLogits", "sync_batchnorm", "wrap_model", "term_forward", "reduce_step",
           "launch_env_world_size", "default_device", "broadcast_object"]


@dataclass(frozen=True)
class DistContext:
    """Rank, world size and backend of this process (``world_size == 1``: not distributed)."""

    rank: int = 0
    world_size: int = 1
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes run directories, checkpoints and records."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def describe(self) -> dict:
        return {"backend": self.backend, "world_size": self.world_size}


def context() -> DistContext:
    """The context of the initialised process group, or the one-process context."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return DistContext(dist.get_rank(), dist.get_world_size(), str(dist.get_backend()))
    return DistContext()


def launch_env_world_size() -> int:
    """The world size announced by the launcher's environment, 1 outside a launcher.

    torchrun: ``WORLD_SIZE``. srun: ``SLURM_NTASKS``, only when the job script exported
    ``MASTER_ADDR`` (a batch script or a dask-jobqueue worker inside a many-task
    allocation is not a rank of a distributed run).
    """
    env = os.environ
    if env.get("WORLD_SIZE"):
        return int(env["WORLD_SIZE"])
    if env.get("SLURM_NTASKS") and env.get("SLURM_PROCID") and env.get("MASTER_ADDR"):
        return int(env["SLURM_NTASKS"])
    return 1


def init_from_env() -> DistContext:
    """Initialise the process group from a launcher's environment, if there is one and it is not done.

    ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT``; under ``srun`` the rank and world size come from ``SLURM_PROCID``,
    ``SLURM_NTASKS`` and ``SLURM_LOCALID`` and ``MASTER_ADDR``/``MASTER_PORT`` must be
    exported by the job script (docs/sweeps.md). The backend is ``nccl`` when CUDA is
    available (each process on ``cuda:LOCAL_RANK``), else ``gloo``.
    """
    if not dist.is_available() or dist.is_initialized() or launch_env_world_size() <= 1:
        return context()
    if "RANK" not in os.environ:  # srun
        os.environ.update(RANK=os.environ["SLURM_PROCID"], WORLD_SIZE=os.environ["SLURM_NTASKS"],
                          LOCAL_RANK=os.environ.get("SLURM_LOCALID", "0"))
    for key in ("MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise ValueError(f"{key} is not set: torchrun sets it; under srun export MASTER_ADDR and "
                             "MASTER_PORT in the job script (docs/sweeps.md)")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend)
    return context()


def default_device(ctx: DistContext) -> torch.device:
    """``cuda:LOCAL_RANK`` for a distributed run on CUDA, ``cuda`` or ``cpu`` otherwise."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    if ctx.enabled:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))
    return torch.device("cuda")


def check_divisible(batch_size: int, world_size: int, name: str = "batch_size") -> None:
    """The global batch must split evenly over the ranks."""
    if world_size > 1 and batch_size % world_size:
        raise ValueError(f"{name}={batch_size} is the global batch and must be divisible by the number "
                         f"of processes ({world_size}): each rank takes {name}/{world_size} rows")


def shard_bounds(batch_size: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[start, stop)`` of rank ``rank``'s slice of a global batch of ``batch_size`` rows."""
    check_divisible(batch_size, world_size)
    per = batch_size // world_size
    return rank * per, (rank + 1) * per


class FeaturesLogits(nn.Module):
    """``x -> (featurizer(x), head(featurizer(x)))``: the one module DDP wraps (same parameters)."""

    def __init__(self, model):
        super().__init__()
        self.featurizer, self.head = model.featurizer, model.head

    def forward(self, x):
        f = self.featurizer(x)
        return f, self.head(f)


def _ddp(module, device):
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device] if device.type == "cuda" else None
    return DDP(module, device_ids=ids)


def check_batches(train: dict, world_size: int, section: str = "train") -> None:
    """Every global batch size of a ``train``/``pretrain`` section (or TrainConfig dict) divides."""
    for key in ("batch_size", "batch_size_target", "batch_size_labeled"):
        if train.get(key) is not None:
            check_divisible(int(train[key]), world_size, f"{section}.{key}" if section else key)


def sync_batchnorm(model, device, ctx: DistContext, sync: bool):
    """With ``sync``, replace the BatchNorm layers of ``model`` by :class:`torch.nn.SyncBatchNorm`
    (statistics over the global batch; CUDA only). A no-op on one process."""
    if ctx.enabled and sync:
        if device.type != "cuda":
            raise ValueError("sync_bn=True needs CUDA devices (torch.nn.SyncBatchNorm); set sync_bn: false "
                             "on the CPU, where each process normalises its own shard")
        model.featurizer = nn.SyncBatchNorm.convert_sync_batchnorm(model.featurizer)
        model.head = nn.SyncBatchNorm.convert_sync_batchnorm(model.head)
    return model


def wrap_model(model, device, ctx: DistContext):
    """The training forward ``x -> (features, logits)``: DDP when distributed, else the model's own."""
    if not ctx.enabled:
        return model.features_and_logits
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("a distributed run needs trainable model parameters (DDP has nothing to reduce)")
    return _ddp(FeaturesLogits(model), device)


_GATHERABLE = ("MMDLoss", "CORALLoss", "JDOTLoss", "SinkhornLoss", "SlicedWassersteinLoss",
               "InformationMaximizationLoss")


def _gather(x):
    if x is None:
        return None
    if not x.requires_grad:
        out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out)
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():  # deprecated in favour of a private module; still the public API
        warnings.simplefilter("ignore", FutureWarning)
        return torch.cat(all_gather(x.contiguous()))


def term_forward(loss, device, ctx: DistContext, gather: bool):
    """How the step calls one alignment loss: itself, its DDP wrapper (trainable parameters), or
    itself on the features (and logits, labels) gathered from all ranks."""
    if not ctx.enabled:
        return loss
    if any(p.requires_grad for p in loss.parameters()):
        return _ddp(loss, device)
    if not gather:
        return loss
    if type(loss).__name__ not in _GATHERABLE:
        raise ValueError(f"gather_features applies to the kernel, moment, OT and information-maximisation losses "
                         f"{_GATHERABLE}; {type(loss).__name__} has no gathered form")

    def gathered(fs, ft, *, logits_s=None, logits_t=None, ys=None, p=None):
        return loss(_gather(fs), _gather(ft), logits_s=_gather(logits_s), logits_t=_gather(logits_t),
                    ys=_gather(ys), p=p)
    return gathered


def reduce_step(ctx: DistContext, means: dict, counts: dict) -> tuple[dict, dict]:
    """Average ``means`` and sum ``counts`` over ranks (one ``all_reduce``; identity on one process).

    The keys are the same on every rank (they follow from the configuration).
    """
    if not ctx.enabled:
        return means, counts
    keys = sorted(means)
    ckeys = sorted(counts)
    vec = torch.tensor([means[k] for k in keys] + [float(counts[k]) for k in ckeys], dtype=torch.float64)
    if ctx.backend == "nccl":
        vec = vec.cuda()
    dist.all_reduce(vec)
    vec = vec.cpu().tolist()
    return ({k: v / ctx.world_size for k, v in zip(keys, vec)},
            {k: int(round(v)) for k, v in zip(ckeys, vec[len(keys):])})


def broadcast_object(ctx: DistContext, obj):
    """Rank 0's ``obj`` on every rank (picklable; identity on one process)."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
