r"""Deep joint distribution optimal transport loss (DeepJDOT)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from da._kernels import mean_sq_dist, pairwise_sq_dists
from da._lazy import lazy_function, lazy_module
from da._validation import check_positive_int
from da._validation import (check_option as _check_choice, check_class_labels as _check_class_labels,
                             check_features as _check_features, check_logits as _check_logits,
                             check_nonnegative as _check_nonnegative, check_positive as _check_positive)
from da.align.ot_losses import _uniform

linear_sum_assignment = lazy_function("scipy.optimize", "linear_sum_assignment")

ot = lazy_module("ot")  # POT imports scikit-learn, pandas and networkx: seconds, paid on first use

__all__ = ["JDOTLoss", "em_target_prior"]

_SOLVERS = ("emd", "sinkhorn")
_SCALES = ("mean", "median")
_PRIORS = ("em",)
#: target_prior="em": the weight of the running estimates' past (online EM: one EM step per batch)
_EM_MOMENTUM = 0.9


def em_target_prior(probs: torch.Tensor, source_prior: torch.Tensor, start: torch.Tensor,
                    n_steps: int = 100) -> torch.Tensor:
    r"""Saerens, Latinne & Decaestecker's (2002) EM estimate of the target class prior.

    With a classifier's target posteriors :math:`p_{jk}` (trained under the source prior
    :math:`\pi^s`), each step re-weights them to the current prior and averages:

    .. math:: q_{jk} = \frac{p_{jk}\,\pi_k / \pi^s_k}{\sum_l p_{jl}\,\pi_l / \pi^s_l}, \qquad
              \pi_k \leftarrow \frac1M \sum_j q_{jk},

    which increases the likelihood :math:`\sum_j \log \sum_k p_{jk} \pi_k / \pi^s_k` (MLLS) at every
    step. ``probs`` (M, C), ``source_prior`` and ``start`` (C,), positive; returns (C,).
    """
    if probs.dim() != 2 or probs.shape[0] < 1:
        raise ValueError(f"probs must have shape (n_samples, n_classes) with n_samples >= 1, got {tuple(probs.shape)}")
    for name, v in (("source_prior", source_prior), ("start", start)):
        if v.shape != (probs.shape[1],):
            raise ValueError(f"{name} must have shape ({probs.shape[1]},) (one entry per class of probs), "
                             f"got {tuple(v.shape)}")
        if not bool(torch.isfinite(v).all()) or not bool((v > 0).all()):
            raise ValueError(f"{name} must hold finite, positive class priors")
    if not bool(torch.isfinite(probs).all()) or bool((probs < 0).any()):
        raise ValueError("probs must hold finite, nonnegative posteriors")
    check_positive_int(n_steps, "n_steps")
    prior = start
    ratio_s = 1.0 / source_prior
    for _ in range(n_steps):
        q = probs * (prior * ratio_s)
        q = q / q.sum(1, keepdim=True)
        prior = q.mean(0)
    return prior


class JDOTLoss(nn.Module):
    r"""DeepJDOT alignment loss: optimal transport on joint feature/label costs.

    For source features and labels :math:`(f_s^i, y_s^i)_{i \le N}` and target
    features and logits :math:`(f_t^j, a_t^j)_{j \le M}` the ground cost is

    .. math:: C_{ij} = \alpha \lVert f_s^i - f_t^j \rVert^2
                     + \lambda_t\, \mathrm{CE}\big(y_s^i, a_t^j\big),
              \qquad \mathrm{CE}(y, a) = -\log \mathrm{softmax}(a)_y,

    the plan :math:`\gamma` solves the transport problem between the uniform
    weights :math:`\mathbf 1/N` and :math:`\mathbf 1/M` for the **detached**
    cost, and the loss is

    .. math:: \mathcal{L} = \sum_{ij} \gamma_{ij} C_{ij},

    differentiated through :math:`C` with :math:`\gamma` held fixed (the
    alternating scheme of the paper: a transport step, then a gradient step).

    Parameters
    ----------
    alpha : float, default 1
        Weight :math:`\alpha` of the feature distance. The paper uses 0.001
        with un-normalised CNN features; scale it so that both terms of
        :math:`C` are comparable for your features.
    lambda_t : float, default 1
        Weight :math:`\lambda_t` of the target classification term.
    solver : {"emd", "sinkhorn"}, default "emd"
        ``"emd"``: the exact plan (:func:`ot.emd`; for :math:`N = M` the
        same optimum as an assignment, :func:`scipy.optimize.linear_sum_assignment`,
        which is faster). ``"sinkhorn"``: the
        entropic plan (:func:`ot.sinkhorn`, ``method="sinkhorn_log"``) with
        regularisation ``reg``, in the units of :math:`C`.
    reg : float, default 0.1
        Entropic regularisation for ``solver="sinkhorn"``.
    max_iter : int, default 1000
        ``numItermax`` of :func:`ot.sinkhorn` (``solver="sinkhorn"`` only); a
        solve that has not met ``tol`` by then uses its last plan, silently.
    tol : float, default 1e-6
        ``stopThr`` of :func:`ot.sinkhorn` (``solver="sinkhorn"`` only); POT's
        1e-9 is below float32 rounding error.
    scale : {None, "mean", "median"}, default None
        ``None``: :math:`\alpha` is absolute. ``"mean"`` / ``"median"``:
        :math:`\alpha` is relative to the mean / median squared feature
        distance :math:`\bar D` of the batch (detached), i.e. the feature
        cost is :math:`(\alpha/\bar D)\lVert f_s^i - f_t^j\rVert^2`, so the same
        :math:`\alpha` balances the two terms of :math:`C` at any feature
        scale (as Sinkhorn's ``scale="median"`` does for its ``reg``).
    scale_grad : bool, default False
        With ``scale="mean"`` only: keep :math:`\bar D` in the graph (computed
        in closed form, :math:`\overline{\lVert f_s\rVert^2} + \overline{\lVert f_t\rVert^2}
        - 2\bar f_s^\top \bar f_t`), so the feature term is invariant to rescaling
        the features and its gradient has no component along the scale. Detached,
        :math:`\bar D` is a constant within the step and shrinking every feature
        lowers the feature term by :math:`c^2`. Not a name-based default: at
        ``alpha=1`` it was better on the defaults benchmark but below the
        held-out MNIST->digits check's bar (docs/defaults.md, stage 8).

    target_prior : {None, "em"}, default None
        ``None``: uniform weights :math:`\mathbf 1/N` on the source rows. ``"em"``: under label
        shift the uniform plan must send target mass of a frequent class to source rows of a rare
        one; each source row :math:`i` is weighted by :math:`w_{y_s^i} = \hat\pi^t_{y} / \hat\pi^s_{y}`
        (normalised), with :math:`\hat\pi^s` a running mean of the source batches' class frequencies
        and :math:`\hat\pi^t` a running estimate of the target prior: :func:`em_target_prior` on each
        batch's target posteriors (detached), one step from the running estimate (which starts at
        :math:`\hat\pi^s`), averaged into it with momentum 0.9: online EM. The plan is then
        :func:`ot.emd`'s (no assignment shortcut). Updated in training mode with gradients on only.
        Not a name-based default (docs/defaults.md, stage 15).
    prior_clip : float >= 1, optional
        With ``target_prior``: clip each class's ratio :math:`\hat\pi^t_k / \hat\pi^s_k` to
        ``[1 / prior_clip, prior_clip]``.

    Attributes
    ----------
    last_plan_ : torch.Tensor of shape (N, M)
        The plan :math:`\gamma` of the last call (detached).
    last_stats_ : dict
        ``transport_cost`` (the returned value), ``feature_cost``
        (:math:`\sum\gamma_{ij}\alpha\lVert f_s^i-f_t^j\rVert^2`) and
        ``label_cost`` (:math:`\sum\gamma_{ij}\lambda_t\mathrm{CE}`).
    prior_s_, prior_t_ : torch.Tensor of shape (C,) or None
        With ``target_prior="em"``: the running source and target class priors.

    Notes
    -----
    Call as ``loss(fs, ft, ys=ys, logits_t=logits_t)``; ``ys`` (N,) are integer
    source labels and ``logits_t`` (M, C) the classifier's target logits. The
    source classification loss of DeepJDOT is the trainer's task loss and is
    not included here. ``logits_s`` and ``p`` are ignored.

    **Distributed training** (:mod:`da.transfer.distributed`). By default each
    process evaluates this loss on its own shard of the global batch (``B/W`` rows
    per domain) and DDP averages the gradients: the step minimises the mean of
    :math:`W` per-process JDOT costs (a minibatch estimate at batch ``B/W``, each an
    exact OT plan between the shards). With ``TrainConfig.gather_features`` the
    features, source labels and logits of all processes are gathered
    (``torch.distributed.nn.functional.all_gather``, gradients flowing back to each
    shard) and the loss is that of the global batch, with the one-process value and
    gradient.

    References
    ----------
    Damodaran, B. B., Kellenberger, B., Flamary, R., Tuia, D. & Courty, N.
    (2018). DeepJDOT: Deep joint distribution optimal transport for
    unsupervised domain adaptation. ECCV.

    Courty, N., Flamary, R., Habrard, A. & Rakotomamonjy, A. (2017). Joint
    distribution optimal transportation for domain adaptation. NeurIPS.

    Examples
    --------
    >>> loss = JDOTLoss()
    >>> fs, ft = torch.randn(6, 3), torch.randn(4, 3)
    >>> value = loss(fs, ft, ys=torch.tensor([0, 1, 2, 0, 1, 2]), logits_t=torch.randn(4, 3))
    >>> loss.last_plan_.shape
    torch.Size([6, 4])
    """

    def __init__(self, alpha: float = 1.0, lambda_t: float = 1.0, solver: str = "emd", reg: float = 0.1,
                 max_iter: int = 1000, tol: float = 1e-6, scale: str | None = None, scale_grad: bool = False,
                 target_prior: str | None = None, prior_clip: float | None = None):
        super().__init__()
        if target_prior is not None:
            _check_choice(target_prior, "target_prior", _PRIORS)
        if prior_clip is not None and not (isinstance(prior_clip, (int, float)) and not isinstance(prior_clip, bool)
                                           and prior_clip >= 1):
            raise ValueError(f"prior_clip must be None or a number >= 1, got {prior_clip!r}")
        if prior_clip is not None and target_prior is None:
            raise ValueError("prior_clip clips the ratios of target_prior's weights: it needs target_prior='em'")
        self.target_prior, self.prior_clip = target_prior, prior_clip
        self.prior_s_ = self.prior_t_ = None
        self.alpha = alpha
        self.lambda_t = lambda_t
        self.solver = solver
        self.reg = reg
        self.max_iter = max_iter
        self.tol = tol
        self.scale = scale
        self.scale_grad = scale_grad
        if scale is not None:
            _check_choice(scale, "scale", _SCALES)
        if not isinstance(scale_grad, bool):
            raise ValueError(f"scale_grad must be True or False, got {scale_grad!r}")
        if scale_grad and scale != "mean":
            raise ValueError(f"scale_grad=True needs scale='mean' (the normaliser it keeps in the graph), got "
                             f"scale={scale!r}")
        _check_nonnegative(alpha, "alpha")
        _check_nonnegative(lambda_t, "lambda_t")
        _check_choice(solver, "solver", _SOLVERS)
        _check_positive(reg, "reg")
        check_positive_int(max_iter, "max_iter")
        _check_positive(tol, "tol")

    def forward(self, fs: torch.Tensor, ft: torch.Tensor, *, logits_s=None, logits_t=None, ys=None,
                p: float | None = None) -> torch.Tensor:
        fs, ft = _check_features(fs, ft)
        logits_t = _check_logits(logits_t, "logits_t", ft, "ft")
        ys = _check_class_labels(ys, "ys", fs.shape[0], logits_t.shape[1], fs.device)

        n, m = fs.shape[0], ft.shape[0]
        weights = None if self.target_prior is None else self._source_weights(ys, logits_t)
        assignment = self.solver == "emd" and n == m and weights is None
        # log softmax(a_t) once; CE(y_s^i, a_t^j) = -log softmax(a_t^j)[y_s^i]
        log_p = F.log_softmax(logits_t.to(fs.dtype), dim=1)
        alpha = self.alpha
        if self.scale_grad:  # relative to the mean squared distance, kept in the graph (exactly, O((N + M) d))
            alpha = alpha / mean_sq_dist(fs, ft).clamp_min(torch.finfo(fs.dtype).tiny)
        # an assignment's value is differentiated on its N pairs only: the (N, M) cost needs no graph
        with torch.set_grad_enabled(torch.is_grad_enabled() and not assignment):
            d2 = pairwise_sq_dists(fs, ft)
            if self.scale is not None and not self.scale_grad:
                ref = d2.detach().mean() if self.scale == "mean" else d2.detach().reshape(-1).quantile(0.5)
                alpha = alpha / ref.clamp_min(torch.finfo(d2.dtype).tiny)
            feature_cost = alpha * d2
            label_cost = self.lambda_t * -log_p.index_select(1, ys).T
            cost = feature_cost + label_cost
        if assignment:
            return self._assignment_loss(fs, ft, log_p, ys, cost, alpha)
        plan = self._plan(cost.detach(), weights)
        value = (plan * cost).sum()
        self.last_plan_ = plan
        self.last_stats_ = {"transport_cost": float(value.detach()),
                            "feature_cost": float((plan * feature_cost.detach()).sum()),
                            "label_cost": float((plan * label_cost.detach()).sum())}
        return value

    def _source_weights(self, ys: torch.Tensor, logits_t: torch.Tensor) -> torch.Tensor | None:
        """``target_prior="em"``: the source rows' weights from the running priors (updated first, in
        training with gradients on); None (uniform) before the first update."""
        n_classes, dtype = logits_t.shape[1], torch.float64
        if self.prior_s_ is None or self.prior_s_.numel() != n_classes:
            self.prior_s_ = self.prior_t_ = None
        if self.training and torch.is_grad_enabled():
            with torch.no_grad():
                counts = torch.bincount(ys, minlength=n_classes).to(dtype) / ys.numel()
                # a class absent from every batch so far keeps a small prior, so that no ratio divides by 0
                prior_s = counts if self.prior_s_ is None else _EM_MOMENTUM * self.prior_s_ + (1 - _EM_MOMENTUM) * counts
                prior_s = prior_s.clamp_min(1e-3 / n_classes)
                prior_s = prior_s / prior_s.sum()
                probs = F.softmax(logits_t.detach().to(dtype), dim=1)
                # online EM (a stochastic approximation of the MLLS fixed point over the target): one EM
                # step on this batch from the running estimate, averaged into it
                start = prior_s if self.prior_t_ is None else self.prior_t_
                est = em_target_prior(probs, prior_s, start, n_steps=1)
                prior_t = _EM_MOMENTUM * start + (1 - _EM_MOMENTUM) * est
                self.prior_s_, self.prior_t_ = prior_s, prior_t / prior_t.sum()
        if self.prior_t_ is None:  # evaluated before any training step: uniform
            return None
        ratio = self.prior_t_ / self.prior_s_
        if self.prior_clip is not None:
            ratio = ratio.clamp(1.0 / self.prior_clip, float(self.prior_clip))
        w = ratio[ys]
        return (w / w.sum()).to(logits_t.dtype if logits_t.is_floating_point() else torch.float32)

    def _assignment_loss(self, fs, ft, log_p, ys, cost, alpha) -> torch.Tensor:
        r"""The exact loss for :math:`N = M`: the plan is a permutation :math:`\sigma` over :math:`N`, so

        .. math:: \sum_{ij} \gamma_{ij} C_{ij} = \frac1N \sum_i \alpha \lVert f_s^i - f_t^{\sigma(i)} \rVert^2
                  + \lambda_t\, \mathrm{CE}\big(y_s^i, a_t^{\sigma(i)}\big),

        evaluated (and differentiated) on the :math:`N` matched pairs, :math:`O(Nd)`, instead of
        through the :math:`(N, M)` cost matrix, :math:`O(NMd)`. The gradient is the same; the
        distances are exact differences rather than the expansion
        :math:`\lVert x\rVert^2 + \lVert y\rVert^2 - 2x^\top y` the plan is solved on.
        """
        n = cost.shape[0]
        # Equal sizes and uniform weights: the vertices of the transport polytope are the
        # permutation matrices / n (Birkhoff), so the exact plan is an assignment, which
        # scipy's Jonker-Volgenant solver finds about 3x faster than the network simplex.
        # a square problem's row indices are 0..n-1 in order: source row i is matched to cols[i]
        _, cols = linear_sum_assignment(cost.detach().cpu().double().numpy())
        cols = torch.as_tensor(cols, device=fs.device)
        plan = torch.zeros_like(cost)
        plan[torch.arange(n, device=fs.device), cols] = 1.0 / n
        diff = fs - ft.index_select(0, cols)
        feature = alpha * (diff * diff).sum(1)
        label = self.lambda_t * -log_p[cols, ys]
        value = (feature + label).sum() / n
        self.last_plan_ = plan
        stats = torch.stack([value.detach(), feature.detach().sum() / n, label.detach().sum() / n]).tolist()
        self.last_stats_ = dict(zip(("transport_cost", "feature_cost", "label_cost"), stats))
        return value

    def _plan(self, cost: torch.Tensor, weights=None) -> torch.Tensor:
        """The plan of the general case: ``ot.emd`` (``N != M`` or weighted rows) or ``ot.sinkhorn``."""
        n, m = cost.shape
        a = _uniform(n, cost) if weights is None else weights.to(cost.dtype)
        b = _uniform(m, cost)
        if self.solver == "emd":
            return ot.emd(a, b, cost)
        return ot.sinkhorn(a, b, cost, float(self.reg), method="sinkhorn_log", numItermax=self.max_iter,
                           stopThr=float(self.tol), warn=False)

    def extra_repr(self) -> str:
        return (f"alpha={self.alpha}, lambda_t={self.lambda_t}, solver={self.solver!r}, reg={self.reg}, "
                f"scale={self.scale!r}, scale_grad={self.scale_grad}, target_prior={self.target_prior!r}, "
                f"prior_clip={self.prior_clip}")
