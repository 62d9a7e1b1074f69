r"""``align="auto"``: a label-free choice of alignment method and weight.

Candidates (:data:`AUTO_CANDIDATES`: source-only, MMD at its recipe weight and
at 30, and SWD, each under its method's recipe; JDOT until revision 11) are trained under one of three
**candidate trainings** (:func:`auto_select`); ``source_only`` is always the
full source-only fit:

- ``"finetune"`` (the default, :data:`AUTO_CANDIDATE_TRAINING`): each candidate
  fine-tunes the trained source model for ``epochs // 2`` epochs.
- ``"scratch"``: each candidate is trained from the same seeded initial network
  for the full epochs with its alignment from the first step -- exactly
  ``DomainAdaptationClassifier(align=m)``'s fit. Cost: one full fit per candidate.
- ``"warmup"``: a shared source-only warm-up of ``epochs // 5`` epochs, then each
  candidate continues from it with its alignment for the remaining epochs.

Each candidate's model is scored on held-out **source** validation data and the
**unlabelled** target data by the criteria of :mod:`da.transfer.selection`; no
target label is read. The default rule (:data:`AUTO_RULE`, :func:`choose` with
``rule="source_val"``) keeps ``source_only`` unless a candidate has a strictly
higher accuracy on the held-out source validation rows:

.. math::

    c^\star = \arg\max_{c \in \mathcal B} \mathrm{acc}_{S,\mathrm{val}}(c),
    \qquad \mathcal B = \{c : \mathrm{acc}_{S,\mathrm{val}}(c) >
        \mathrm{acc}_{S,\mathrm{val}}(\text{source\_only})\}

(``source_only`` when :math:`\mathcal B` is empty). Other rules: IWCV, DEV,
entropy, SND, EnsV, consensus tuples such as ``("iwcv", "dev")``, ``"borda"`` (the
rank sum over DEV, entropy and SND) and ``"mixval"`` (the rank sum of MixVal's two
mixed-sample probes, :mod:`da.transfer.probes`), each with or without a
source-accuracy guard; and ``"ensemble"``/``"ensemble_aligned"`` (:func:`da.transfer.ensemble.ensemble_members`), which
average the guarded candidates' softmax outputs (:func:`da.transfer.ensemble.softmax_ensemble`).
On the generated benchmark (23 pairs, 3 seeds) only the source-validation rule never
ended more than 0.01 below source-only under any candidate training;
``"scratch"`` with ``"borda"`` came closest to the best method chosen with target
labels on seeds 0 and 1 but ended below source-only on 3 pairs of seed 2
(``docs/defaults.md``, where the comparison reads the benchmark's target labels
and says so).

Everything is recorded in ``clf.selection_``: the candidate training, each
candidate's method, weight, recipe, scores, selected epoch and time, the rule,
the chosen one and the reason. A candidate whose training diverges
(:class:`~da.transfer.TrainingDivergedError`) is recorded with its error under
``failed`` and no scores, a ``RuntimeWarning`` names it, and the choice is made
among the others; the source-only fit, the reference, still raises.
"""

from __future__ import annotations

import copy
import time
import warnings

import numpy as np
import torch

from da.transfer.auto_options import (AUTO_CANDIDATE_TRAINING, AUTO_CANDIDATES, AUTO_CRITERIA, AUTO_PARAMS,
                                      AUTO_RULE, AUTO_TOLERANCE, BORDA_CRITERIA, CANDIDATE_TRAININGS, MARGIN,
                                      MIXVAL_CRITERIA, RANK_RULES, SOURCE_TOLERANCE, WARMUP_DIVISOR,
                                      check_auto_params, check_options, check_rule)
from da.transfer.ensemble import ENSEMBLE_RULES, ensemble_members, is_ensemble_rule
from da.transfer.probes import ensemble_agreement, mixup_probes
from da.transfer.selection import get_criterion
from da.transfer.source_guard import source_guard

__all__ = ["AUTO_CANDIDATES", "AUTO_CANDIDATE_TRAINING", "AUTO_CRITERIA", "AUTO_PARAMS", "AUTO_RULE",
           "AUTO_TOLERANCE", "BORDA_CRITERIA", "CANDIDATE_TRAININGS", "ENSEMBLE_RULES", "MIXVAL_CRITERIA", "RANK_RULES",
           "auto_finetune", "auto_select", "check_auto_params", "check_options", "check_rule", "choose",
           "ensemble_agreement", "ensemble_members", "fit_auto", "score_model"]



def score_model(model, split, criteria=AUTO_CRITERIA, *, max_samples: int = 2000, seed=0) -> dict:
    """Every criterion of ``criteria`` on ``model`` (label-free on the target).

    Parameters
    ----------
    model : FeaturizerHead
    split : Split
        Its ``source_val`` is labelled; target parts are read without labels.
    criteria : sequence of str
    max_samples : int
        Cap on the source/target training rows a criterion reads (DEV's domain classifier).
    """
    from dataclasses import replace

    from da.transfer.evaluate import predict_outputs
    from da.transfer.inputs import subsample_part

    rng = np.random.default_rng(seed)
    sp = replace(split, source_train=subsample_part(split.source_train, max_samples, rng),
                 target_train=subsample_part(split.target_train, max_samples, rng))
    fns = {c: get_criterion(c) for c in criteria}
    parts = set().union(*(set(f.needs) for f in fns.values()))
    device = next(model.parameters()).device
    outputs = {p: predict_outputs(model, getattr(sp, p).X, device=device) for p in sorted(parts)}
    cache: dict = {}
    return {c: float(f(outputs, sp, cache=cache)) for c, f in fns.items()}


def _score_pool(records: list, models: dict, split, seed) -> None:
    """Add each candidate's ``"ensv"`` (:func:`ensemble_agreement` on the unlabelled target rows) to its
    record's scores: a score of the whole pool, known once every candidate is trained; and its mixed-sample
    probes ``"ice_intra"``/``"ice_inter"`` (:func:`da.transfer.probes.mixup_probes`, pair counts in
    ``"probes"``)."""
    agree = ensemble_agreement(models, split.target_train.X, seed=seed)
    for rec in records:
        rec["scores"]["ensv"] = agree[rec["name"]]
        probes = mixup_probes(models[rec["name"]], split.target_train.X, seed=seed)
        rec["scores"].update(ice_intra=probes["ice_intra"], ice_inter=probes["ice_inter"])
        rec["probes"] = {"n_intra": probes["n_intra"], "n_inter": probes["n_inter"]}


def choose(records: list, *, rule="source_val", tolerance: float | None = SOURCE_TOLERANCE,
           margin: float = MARGIN) -> tuple:
    r"""The candidate a rule picks from the candidates' records, and why.

    Parameters
    ----------
    records : list of dict
        One per candidate, with ``name`` and ``scores`` (criterion -> score,
        higher is better); the one named ``source_only`` is the reference. A
        candidate whose training diverged (``scores`` None, ``failed`` its error) is
        never chosen.
    rule : str or tuple of str
        A criterion maximised over the guarded set; or a tuple of criteria
        (a consensus): a candidate must beat source_only on **every** one of
        them by more than ``margin``, and among those the first criterion decides;
        or ``"borda"``: the guarded candidate :math:`c` with the highest rank sum
        :math:`\sum_{k \in K} \mathrm{rank}_k(c)` over :data:`BORDA_CRITERIA` :math:`K`
        (ranks 1..n within the guarded set, ties averaged; ``margin`` unused), and
        ``source_only`` on a tie with it; or ``"mixval"``: the same rank sum over
        :data:`MIXVAL_CRITERIA` (MixVal's intra- and inter-cluster probes).
    tolerance : float or None
        Candidates whose source validation accuracy is below source_only's by more
        than this are excluded (the source guard); ``None``: no guard.
    margin : float
        A candidate replaces source_only only if it beats its score(s) by more than this.

    Returns
    -------
    (name, reason) : tuple of str
    """
    crits = (rule,) if isinstance(rule, str) else tuple(rule)
    ref, guarded, why = source_guard(records, tolerance)  # a diverged candidate (no scores) is never kept
    if isinstance(rule, str) and rule in RANK_RULES:
        from scipy.stats import rankdata

        total = sum(rankdata([r["scores"][k] for r in guarded]) for k in RANK_RULES[rule])
        sums = {r["name"]: float(t) for r, t in zip(guarded, total)}
        best = max(guarded, key=lambda r: (sums[r["name"]], r is ref))  # a tie keeps source_only
        return best["name"], why + (f"; {rule}: highest rank sum over {'/'.join(RANK_RULES[rule])}: "
                                    + ", ".join(f"{n} {v:g}" for n, v in sums.items()))
    better = [r for r in guarded if r is not ref
              and all(r["scores"][c] > ref["scores"][c] + margin for c in crits)]
    if not better:
        return "source_only", why + f"; no candidate beats source_only on {'/'.join(crits)} by > {margin:g}"
    best = max(better, key=lambda r: r["scores"][crits[0]])
    return best["name"], why + (f"; highest {crits[0]} ({best['scores'][crits[0]]:.4g}) of those beating "
                                f"source_only on {'/'.join(crits)} by > {margin:g}")


def _candidate_plan(candidate_training, base, finetune_epochs, warmup_epochs) -> dict:
    """Epochs and epoch selection of the aligned candidates under ``candidate_training`` (its name and the
    epochs it needs checked by :func:`~da.transfer.auto_options.check_options`)."""
    if candidate_training == "finetune":
        ft = max(1, base.epochs // 2) if finetune_epochs is None else int(finetune_epochs)
        return {"epochs": ft, "selection": "last", "warmup_epochs": 0}
    if candidate_training == "scratch":  # exactly a plain fit of the method: selection None, its own epoch
        return {"epochs": base.epochs, "selection": None, "warmup_epochs": 0}  # selection (recipe or user's)
    w = min(max(1, base.epochs // WARMUP_DIVISOR), base.epochs - 1) if warmup_epochs is None else int(warmup_epochs)
    if not 1 <= w < base.epochs:
        raise ValueError(f"warmup_epochs must be in [1, epochs - 1] = [1, {base.epochs - 1}], got {w}")
    return {"epochs": base.epochs - w, "selection": "last", "warmup_epochs": w}


def auto_select(start, split, *, config=None, candidates=None, candidate_training=AUTO_CANDIDATE_TRAINING,
                rule=AUTO_RULE, tolerance=AUTO_TOLERANCE, overrides: dict | None = None, strategy=None,
                source_model=None, source_record=None, finetune_epochs=None, warmup_epochs=None):
    r"""The functional core of ``align="auto"``: train each candidate, choose one without target labels.

    Parameters
    ----------
    start : FeaturizerHead
        The network every run starts from (left untouched: each run gets a copy).
    split : Split
        Labelled source train/val, unlabelled target train/val (target labels, if
        any, are never read by the choice).
    config : TrainConfig or dict, optional
        Base training configuration (its ``epochs`` are the full length :math:`E`).
    candidates : sequence of (name, method, weight), optional
        Default :data:`AUTO_CANDIDATES`; must include ``("source_only", None, None)``.
        ``weight=None``: the method's recipe weight.
    candidate_training : {"finetune", "scratch", "warmup"}
        How the aligned candidates are trained (``source_only`` is always the full
        source-only fit :math:`\theta_S` of :math:`E` epochs from ``start``):

        - ``"scratch"``: each from ``start`` for :math:`E` epochs with its alignment from
          the first step and its recipe's epoch selection (the user's, if set) -- exactly
          a plain fit of the method. Cost: one full fit per candidate.
        - ``"warmup"``: one shared source-only warm-up of :math:`w = \lfloor E/5 \rfloor`
          epochs (at least 1) from ``start``; each candidate continues from it for
          :math:`E - w` epochs with its alignment, keeping its last epoch.
        - ``"finetune"``: each from :math:`\theta_S` for ``finetune_epochs``
          (default :math:`\lfloor E/2 \rfloor`), keeping its last epoch.
    rule : str or tuple of str
        See :func:`choose`.
    tolerance : float or None
        Source guard of :func:`choose` (``None``: none).
    overrides : dict, optional
        ``weight``/``optimizer``/``lr``/``lr_schedule``/``grad_clip``/``selection`` the user set (selection:
        "scratch" only).
    strategy : optional
        Transfer strategy of every run.
    source_model : FeaturizerHead, optional
        :math:`\theta_S` when it is already trained (the estimator's source fit, the
        pipeline's pretrained model); otherwise it is trained here from ``start``.
    source_record : dict, optional
        ``best_epoch``/``recipe`` of ``source_model``, for the record.
    finetune_epochs, warmup_epochs : int, optional
        Lengths of the ``"finetune"`` runs and of the ``"warmup"`` warm-up.

    Returns
    -------
    (chosen, models, record)
        The chosen candidate's name, ``name -> model``, and the JSON record
        (strategy, rule, every candidate's scores and recipe, the choice and why).
    """
    from da.transfer.trainer import TrainConfig, Trainer

    t0 = time.perf_counter()
    candidates = tuple(AUTO_CANDIDATES if candidates is None else candidates)
    base = TrainConfig.from_kwargs(config)
    check_options(rule=rule, candidates=candidates, candidate_training=candidate_training, tolerance=tolerance,
                  finetune_epochs=finetune_epochs, warmup_epochs=warmup_epochs, epochs=base.epochs)
    plan = _candidate_plan(candidate_training, base, finetune_epochs, warmup_epochs)
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    src = dict(source_record or {})
    if source_model is None:
        res = Trainer(base, None, strategy, tags={"auto_candidate": "source_only"}).fit(copy.deepcopy(start), split)
        source_model, src = res.model, {"best_epoch": int(res.best_epoch), "recipe": None, "seconds": res.seconds}
    init, warm_seconds = {"finetune": source_model, "scratch": start}.get(candidate_training), 0.0
    if candidate_training == "warmup":  # the shared source-only warm-up, its last epoch kept
        cfg = TrainConfig.from_kwargs(base, epochs=plan["warmup_epochs"], selection="last")
        res = Trainer(cfg, None, strategy, tags={"auto_candidate": "warmup"}).fit(copy.deepcopy(start), split)
        init, warm_seconds = res.model, float(res.seconds)
    records, models = [], {}
    for name, method, weight in candidates:
        if method is None:
            models[name] = source_model
            rec = {"name": name, "method": None, "weight": None, "recipe": src.get("recipe"),
                   "best_epoch": src.get("best_epoch"), "seconds": float(src.get("seconds", 0.0))}
        else:
            rec, model = _train_candidate(name, method, weight, base, plan, overrides, strategy, init, split)
            if model is None:
                records.append(rec)
                continue
            models[name] = model
        rec["scores"] = score_model(models[name], split, seed=base.seed)
        records.append(rec)
    _score_pool([r for r in records if r["scores"] is not None], models, split, base.seed)
    chosen, why, members = _choice(records, models, split, rule, tolerance)
    record = {"candidate_training": candidate_training, "rule": rule, "tolerance": tolerance,
              "margin": MARGIN, "chosen": chosen, "why": why, "candidate_epochs": plan["epochs"],
              "warmup_epochs": plan["warmup_epochs"], "warmup_seconds": warm_seconds,
              "finetune_epochs": plan["epochs"] if candidate_training == "finetune" else None,
              "candidates": records, "seconds": time.perf_counter() - t0, "oracle": False,
              **({} if members is None else {"members": members})}
    return chosen, models, record


def _choice(records, models, split, rule, tolerance) -> tuple:
    """``(chosen, why, members)``: :func:`choose`'s pick (members None), or for a rule of
    :data:`ENSEMBLE_RULES` the ensemble of :func:`ensemble_members`, added to ``models`` as ``"ensemble"``."""
    if not is_ensemble_rule(rule):
        return (*choose(records, rule=rule, tolerance=tolerance), None)
    from da.transfer.ensemble import softmax_ensemble
    from da.transfer.inputs import example_rows

    members, why = ensemble_members(records, rule=rule, tolerance=tolerance)
    example = example_rows(split.source_val.X, "cpu")  # arrays or lazy image rows (read through their loader)
    models["ensemble"] = softmax_ensemble([models[n] for n in members], example=example)
    return "ensemble", why, members


def _train_candidate(name, method, weight, base, plan, overrides, strategy, init, split) -> tuple:
    """``(record, model)`` of one aligned candidate under its method's recipe; a candidate whose training
    diverges gets ``(record with "failed" and no scores, None)`` and a ``RuntimeWarning``."""
    from da.transfer.fit_result import TrainingDivergedError
    from da.transfer.recipes import method_recipe
    from da.transfer.trainer import TrainConfig, Trainer

    rcp = method_recipe(method)
    opt = {**rcp["optimizer"], "selection": plan["selection"] or overrides.get("selection", rcp["selection"]),
           **{k: overrides[k] for k in ("optimizer", "lr", "lr_schedule", "grad_clip") if k in overrides}}
    w = weight if weight is not None else overrides.get("weight", rcp["weight"])
    # finetune/warmup keep the last epoch: source accuracy saturates within an epoch of training a
    # source-trained model, so source_val would keep the unadapted first epoch; the label-free choice
    # between the candidates' final models is the selection
    cfg = TrainConfig.from_kwargs(base, epochs=plan["epochs"], **opt)
    rec = {"name": name, "method": method, "weight": w, "recipe": {"weight": w, **opt}}
    try:
        res = Trainer(cfg, [(method, w)], strategy, tags={"auto_candidate": name}).fit(copy.deepcopy(init), split)
    except TrainingDivergedError as exc:  # one candidate's divergence leaves the others' choice intact
        warnings.warn(f"align='auto': candidate {name!r} is left out of the choice: {exc}", RuntimeWarning,
                      stacklevel=3)
        return {**rec, "failed": str(exc), "scores": None}, None
    rec.update(best_epoch=int(res.best_epoch), seconds=float(res.seconds))
    return rec, res.model


def auto_finetune(model, split, *, config=None, candidates=None, finetune_epochs=None, rule="source_val",
                  overrides: dict | None = None, strategy=None, source_record=None):
    """:func:`auto_select` with ``candidate_training="finetune"``: every candidate fine-tunes ``model``.

    ``model`` is the trained source model (left untouched) and the ``source_only`` candidate.
    """
    return auto_select(model, split, config=config, candidates=candidates, candidate_training="finetune",
                       rule=rule, tolerance=SOURCE_TOLERANCE, overrides=overrides, strategy=strategy,
                       source_model=model, source_record=source_record, finetune_epochs=finetune_epochs)


def fit_auto(est, Xs, ys, Xt, *, yt_labeled=None, labeled_idx=None, candidates=None,
             candidate_training=None, finetune_epochs=None, rule=AUTO_RULE, tolerance=AUTO_TOLERANCE):
    """Fit ``est`` (a ``DomainAdaptationClassifier`` with ``align="auto"``) by the label-free choice.

    Trains the source model with ``est``'s settings (``align=None``; the ``source_only``
    candidate), then calls :func:`auto_select` from the same seeded initial network on
    the estimator's own split (the same held-out source validation rows), so a
    ``"scratch"`` candidate is exactly ``DomainAdaptationClassifier(align=method)``'s fit.

    Parameters
    ----------
    candidate_training : {"finetune", "scratch", "warmup"}, optional
        Default :data:`AUTO_CANDIDATE_TRAINING`; see :func:`auto_select`.
    rule, tolerance
        The choice and its source guard (:func:`choose`); default :data:`AUTO_RULE`, :data:`AUTO_TOLERANCE`.

    Returns
    -------
    est
        Fitted, with ``model_`` the chosen candidate's model, ``selection_`` the
        record of the choice (:func:`auto_select`), ``candidates_`` each
        candidate's model (by name) and ``recipe_`` the chosen one's recipe.
    """
    from sklearn.base import clone

    from da._validation import check_alignment_target, check_array
    from da.transfer.trainer import make_split

    t0 = time.perf_counter()
    candidate_training = AUTO_CANDIDATE_TRAINING if candidate_training is None else candidate_training
    check_options(rule=rule, candidates=candidates, candidate_training=candidate_training, tolerance=tolerance,
                  finetune_epochs=finetune_epochs, epochs=est.epochs)  # before any training
    Xt_arr = check_array(Xt, "Xt", ndim=None, min_samples=1)
    check_alignment_target(Xt_arr)
    base = clone(est).set_params(align=None, weight=None, auto_params=None)
    base.fit(Xs, ys, Xt, yt_labeled=yt_labeled, labeled_idx=labeled_idx)  # validates; the source model
    Xs_arr = check_array(Xs, "Xs", ndim=None, min_samples=2)
    ys_arr = np.asarray(ys.detach().cpu() if isinstance(ys, torch.Tensor) else ys)
    enc = lambda y: np.searchsorted(base.classes_, y)  # noqa: E731
    yl = None if yt_labeled is None else enc(np.asarray(yt_labeled))
    split = make_split(Xs_arr, enc(ys_arr), Xt_arr, yt_labeled=yl, labeled_idx=labeled_idx,
                       val_fraction=est.val_fraction, seed=est.seed, n_classes=len(base.classes_))
    overrides = {"weight": est.weight, "optimizer": est.optimizer, "lr": est.lr, "lr_schedule": est.lr_schedule,
                 "grad_clip": est.grad_clip, "selection": est.selection}
    chosen, models, record = auto_select(
        base._initial_model(Xs_arr, len(base.classes_)), split,
        config=_finetune_config(base.result_.config["train"], est), candidates=candidates,
        candidate_training=candidate_training, finetune_epochs=finetune_epochs, rule=rule, tolerance=tolerance,
        overrides=overrides,
        strategy=est.strategy, source_model=base.model_,
        source_record={"best_epoch": int(base.result_.best_epoch), "recipe": base.recipe_,
                       "seconds": float(base.result_.seconds)})
    record["seconds"] = time.perf_counter() - t0
    est.classes_, est.n_features_in_ = base.classes_, base.n_features_in_
    est.candidates_, est.model_ = models, models[chosen]
    est.result_, est.history_ = base.result_, base.history_
    est.result_.config["auto"] = record  # the choice travels with the run's resolved config
    recipes = {r["name"]: r["recipe"] for r in record["candidates"]}
    est.recipe_ = recipes[chosen] if chosen != "ensemble" else {"ensemble": {n: recipes[n] for n in record["members"]}}
    est.selection_ = record
    return est


def _finetune_config(resolved_train: dict, est) -> dict:
    """The source run's TrainConfig fields, less what that run resolved for itself (horizon, epoch length)."""
    from dataclasses import fields

    from da.transfer.trainer import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    cfg = {k: v for k, v in resolved_train.items() if k in names}
    cfg.update(horizon=est.horizon, steps_per_epoch=None, device=est.device)
    cfg["record_criteria"] = tuple(cfg.get("record_criteria", ()))
    return cfg
