"""Optimizers, learning-rate annealing and numerical precision of the training loop."""

from __future__ import annotations

import contextlib
import warnings

import torch

from da.align.schedules import LR_SCHEDULES

__all__ = ["make_optimizer", "lr_factor", "Precision", "accelerate"]


def make_optimizer(config, groups) -> torch.optim.Optimizer:
    """One optimizer (``config.optimizer``) over every parameter group.

    Always torch's ``foreach`` implementation (each update one call over all the tensors), which
    torch picks by default on CUDA only: on the CPU it gives the same parameters bit for bit as the
    per-tensor loop, in less time (Adam on the quickstart's MLP: 0.43 ms a step instead of 0.60;
    with a discriminator's 4 more tensors, 0.60 instead of 1.06).
    """
    c = config
    if c.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov,
                               weight_decay=c.weight_decay, foreach=True)
    if c.optimizer == "adam":
        return torch.optim.Adam(groups, lr=c.lr, weight_decay=c.weight_decay, foreach=True)
    if c.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=c.lr, weight_decay=c.weight_decay, foreach=True)
    raise ValueError(f"optimizer must be one of sgd, adam, adamw, got {c.optimizer!r}")


def lr_factor(schedule: str, p: float) -> float:
    r"""Learning-rate multiplier at progress ``p`` (:data:`da.align.schedules.LR_SCHEDULES`).

    ``"constant"``: 1. ``"ganin"``: :math:`1/(1+10p)^{0.75}` (Ganin & Lempitsky
    2015). ``"cosine"``: :math:`\tfrac12(1+\cos\pi p)`.
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {tuple(LR_SCHEDULES)}, got {schedule!r}")
    return LR_SCHEDULES[schedule](p)


def _clip_grad_norm(params, max_norm: float) -> None:
    """:func:`torch.nn.utils.clip_grad_norm_`, bit for bit, skipping its multiply where it is by 1.

    torch scales every gradient by :math:`\\min(1, c)`, :math:`c = \\text{max\\_norm} / (\\lVert g
    \\rVert_2 + 10^{-6})`. When :math:`c \\ge 1` that is a multiply by 1.0, which changes no bit.
    So on the CPU, with one gradient dtype, the norm is computed as torch does (per tensor, then
    the norm of the norms) and the multiply is skipped where the norm is below half the clip, which
    no rounding can bring to :math:`c < 1`; near the clip, or with a NaN norm, torch's own scaling
    runs on that norm. A converged DANN or CDAN run never comes near the recipes' clip of 100.
    Elsewhere (another device, where reading the norm would synchronise; mixed dtypes) it is
    torch's call.
    """
    params = list(params)
    grads = [p.grad for p in params if p.grad is not None]
    clip_with = getattr(torch.nn.utils, "clip_grads_with_norm_", None)  # torch >= 2.6
    if (clip_with is None or not grads or any(g.device.type != "cpu" or g.dtype != grads[0].dtype
                                              for g in grads)):
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        return
    # CPU foreach ops are a loop over linalg.vector_norm, as in torch's own norm here
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    if not float(norm) < 0.5 * max_norm:
        clip_with(params, max_norm, norm)


class Precision:
    """Autocast and gradient scaling for ``precision`` on ``device``.

    ``"32"``: float32 (plus the deprecated ``amp=True``: autocast on CUDA only, bfloat16
    where supported, else float16 with a scaler). ``"bf16"``: the forward pass under
    ``torch.autocast(dtype=torch.bfloat16)`` on any device. ``"16"``: float16 autocast,
    with a :class:`torch.amp.GradScaler` on CUDA. Losses are computed in float32 from
    autocast outputs (the trainer casts them), so the divergence guard sees float32.
    """

    def __init__(self, precision: str, device: torch.device, amp: bool = False):
        self.dtype = None
        if precision == "bf16":
            self.dtype = torch.bfloat16
        elif precision == "16":
            self.dtype = torch.float16
        elif amp and device.type == "cuda":
            warnings.warn("TrainConfig.amp is deprecated; use precision='bf16' or '16'", DeprecationWarning,
                          stacklevel=4)
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.device_type = device.type
        use_scaler = self.dtype == torch.float16 and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward_step(self, total, optimizer, params, grad_clip):
        """Backward pass, optional clipping of the global gradient norm, optimizer step."""
        if self.scaler is not None:
            self.scaler.scale(total).backward()
            if grad_clip is not None:
                self.scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            self.scaler.step(optimizer)
            self.scaler.update()
            return
        total.backward()
        if grad_clip is not None:
            _clip_grad_norm(params, grad_clip)
        optimizer.step()

    def state_dict(self) -> dict:
        return {} if self.scaler is None else {"scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def accelerate(forward, model, config, device: torch.device):
    """The training forward with the speed options of ``config``: on CUDA, the model and 4-d inputs
    in channels-last memory format (``channels_last``); ``torch.compile`` (``compile``). Both leave
    the numbers of a step unchanged up to floating-point reordering; on the CPU channels-last is off."""
    fn = forward
    if config.channels_last and device.type == "cuda":
        model.to(memory_format=torch.channels_last)

        def fn(x, _forward=forward):
            return _forward(x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x)
    if config.compile:
        fn = torch.compile(fn)
    return fn
