r"""One run of an experiment: pretrain (cached), diagnose, fine-tune, diagnose, evaluate.

:func:`run_experiment` is the whole pipeline behind ``da run``; every sweep
backend calls it once per resolved config. It writes the run directory
described in :mod:`da.experiments.records`, ``result.json`` last.

The stages call the public functions of the modules to their left:
:mod:`da.data` / :mod:`da.datasets` build the pair, :mod:`da.transfer`
pretrains and fine-tunes (:func:`~da.transfer.pretrain`,
:func:`~da.transfer.finetune`), :mod:`da.diagnostics` compares source and target
(two-sample tests, gap metrics, label-shift estimates), and :mod:`da.plot`
draws figures when it is installed.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import platform
import threading
import time
import traceback
from pathlib import Path

import numpy as np

import da
from da._io import atomic_write_json, atomic_write_text
from da.experiments import records as R
from da.experiments.config import (TESTS, ConfigError, config_hash, dump_config,
                                   pretrain_key, resolve_config)

__all__ = ["run_experiment", "build_pair", "build_model", "build_losses", "weight_schedule",
           "diagnose", "flat_metrics"]

log = logging.getLogger("da.experiments")


# --------------------------------------------------------------------------------------
# Data and model
# --------------------------------------------------------------------------------------

def _gaussian_source(g: dict):
    from da.data import GaussianDomain

    K, d, r = g["n_classes"], g["dim"], g["separation"]
    means = np.zeros((K, d))
    if d == 1:
        means[:, 0] = r * (np.arange(K) - (K - 1) / 2)
    else:
        ang = 2 * np.pi * np.arange(K) / K
        means[:, 0], means[:, 1] = r * np.cos(ang), r * np.sin(ang)
    return GaussianDomain(means, np.eye(d), name=f"gaussian{d}d")


def _call_checked(fn, path: str, *args, **kwargs):
    """Call a shift operator with config params, naming the key path on an unknown parameter."""
    sig = inspect.signature(fn).parameters
    for k in kwargs:
        if k not in sig:
            valid = [p for p in sig if p not in ("domain",)]
            raise ConfigError(f"{path}.{k}", f"not a parameter of da.data.{fn.__name__}; valid: "
                                             f"{', '.join(valid)}")
    return fn(*args, **kwargs)


def build_pair(data: dict):
    """The :class:`~da.data.DomainPair` of a resolved ``data`` section."""
    from da import data as D

    if data["pair"] is not None:
        from da.datasets import load_pair

        return load_pair(data["pair"])
    g = data["generator"]
    src = _gaussian_source(g) if g["domain"] == "gaussian" else D.MoonsDomain(noise=g["noise"])
    s, params, path = g["severity"], dict(g["params"]), "data.generator.params"
    shift = g["shift"]
    if shift == "none":
        tgt = src
    elif shift == "label":
        params.setdefault("seed", g["seed"])
        if "prior" in params:
            params["new_prior"] = params.pop("prior")
        tgt = _call_checked(D.label_shift, path, src, severity=s, **params)
    elif shift == "covariate":
        params.setdefault("seed", g["seed"])
        tgt = _call_checked(D.covariate_shift, path, src, severity=s, **params)
    elif shift == "conditional":
        params.setdefault("seed", g["seed"])
        tgt = _call_checked(D.conditional_shift, path, src, severity=s, **params)
    elif shift == "rotation":
        if g["domain"] == "moons":
            params.setdefault("center", [0.5, 0.25])  # the moons' centre, as in the DANN toy
        tgt = _call_checked(D.rotation, path, src, deg=s, **params)
    elif shift == "subspace":
        tgt = _call_checked(D.subspace_shift, path, src, severity=s, **params)
    else:  # pragma: no cover - the schema rejects it
        raise ConfigError("data.generator.shift", f"unknown shift {shift!r}")
    return D.DomainPair(src, tgt, name=f"{g['domain']}|{shift}({s:g})")


def build_model(model: dict, pair, seed: int):
    """A :class:`~da.transfer.FeaturizerHead` for the pair's inputs and classes."""
    from da.transfer import FeaturizerHead, lenet, mlp

    K = pair.n_classes
    if model["arch"] == "mlp":
        f, h = mlp(pair.source.dim, hidden=model["hidden"], n_classes=K, activation=model["activation"],
                   dropout=model["dropout"], seed=seed)
    else:
        shape = pair.source.image_shape
        if shape is None:
            raise ConfigError("model.arch", f"lenet needs image inputs; the pair {pair.name!r} has none")
        f, h = lenet(shape, n_classes=K, channels=model["channels"], hidden=model["hidden"][-1],
                     dropout=model["dropout"], seed=seed)
    return FeaturizerHead(f, h)


def weight_schedule(spec, lam: float = 1.0):
    r"""A weight spec of the config -> ``p -> lam * w(p)`` (:func:`da.align.schedule_from_spec`).

    ``constant``: :math:`w = v`; ``ganin``: :math:`w = w_{\max}\,(2/(1+e^{-\gamma p}) - 1)`
    (:func:`da.align.ganin_lambda`); ``linear``: :math:`w = a + (b-a)\,p`.
    """
    from da.align.schedules import schedule_from_spec

    return schedule_from_spec(spec, scale=lam)


def build_losses(align: list, lam: float, in_features: int, n_classes: int, seed: int) -> list:
    """``[(name, loss module, weight schedule), ...]`` for :func:`da.transfer.finetune`."""
    from da.transfer import make_alignment

    terms = []
    for i, entry in enumerate(align):
        try:
            loss = make_alignment(entry["loss"], in_features, n_classes, seed, **entry["params"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"align[{i}].params", str(exc)) from None
        terms.append((entry["loss"], loss, weight_schedule(entry["weight"], lam)))
    return terms


def _train_config(section: dict, seed: int, *, stage: str) -> dict:
    """A resolved ``pretrain``/``train`` section -> :class:`da.transfer.TrainConfig` fields (the
    section's keys are the dataclass's fields; ``seed`` is the config's top-level seed)."""
    return {**section, "seed": int(seed)}


# --------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------

def _sub(X, n_max: int, rng) -> np.ndarray:
    if X.shape[0] <= n_max:
        return X
    return X[np.sort(rng.choice(X.shape[0], n_max, replace=False))]


def _held_out(split, which: str, n_max: int, seed: int):
    """Held-out source and target rows (the same rows at every stage of a run)."""
    rng = np.random.default_rng([int(seed), 7919])
    src = getattr(split, f"source_{which}").X
    tgt = getattr(split, f"target_{which}").X
    return _sub(src, n_max, rng), _sub(tgt, n_max, rng)


def _features(model, X) -> np.ndarray:
    from da.transfer.evaluate import predict_outputs

    return predict_outputs(model, X, features=True)["features"]


def _accuracy(model, split) -> dict:
    from da.transfer import evaluate

    out = {}
    for part, y in (("source_test", split.source_test.y), ("target_test", split.eval_labels.test)):
        X = getattr(split, part).X
        if y is not None and len(y):
            out[part] = evaluate(model, X, y, n_classes=split.n_classes)
    return out


def _label_shift(model, split, pair, cfg: dict) -> dict:
    """Target prior estimates (BBSE, MLLS) from the model's outputs, with their errors.

    Both read the model's probabilities on labelled source validation rows and on the
    unlabelled target test rows; errors are against the target's true prior (analytic
    for synthetic pairs, the class frequencies for real ones) and against the class
    frequencies of the target test rows themselves.
    """
    from scipy.special import softmax

    import da.diagnostics as Dg
    from da.transfer.evaluate import predict_outputs

    ls = cfg["label_shift"]
    if not ls["estimators"]:
        return {}
    estimate = getattr(Dg, "estimate_label_shift", None)
    if estimate is None:
        try:
            from da.diagnostics.label_shift import estimate_label_shift as estimate
        except ImportError:
            raise ImportError("label_shift.estimators needs da.diagnostics.estimate_label_shift, "
                              "which this build of da does not have") from None
    K = split.n_classes
    true = np.asarray(pair.target.prior, dtype=np.float64)
    yt = split.eval_labels.test
    empirical = np.bincount(yt, minlength=K) / max(len(yt), 1) if yt is not None else None
    val = split.source_val
    p_val = softmax(predict_outputs(model, val.X, features=False)["logits"].astype(np.float64), axis=1)
    p_t = softmax(predict_outputs(model, split.target_test.X, features=False)["logits"].astype(np.float64),
                  axis=1)
    out = {"true_prior": true.tolist(), "source_prior": np.asarray(pair.source.prior).tolist(),
           "target_test_frequencies": None if empirical is None else empirical.tolist(), "estimators": {}}
    for name in ls["estimators"]:
        res = estimate(p_val, val.y, p_t, method=name, n_bootstrap=ls["n_bootstrap"], seed=cfg["seed"])
        q = np.asarray(res.prior, dtype=np.float64)
        rec = {"target_prior": q.tolist(), "l1_error": float(np.abs(q - true).sum()),
               "l2_error": float(np.linalg.norm(q - true)), "result": res.to_dict()}
        if empirical is not None:
            rec["l1_error_empirical"] = float(np.abs(q - empirical).sum())
        out["estimators"][name] = rec
    return out


_TEST_SHORT = {v: k for k, v in TESTS.items()}


def diagnose(model, split, pair, cfg: dict, *, stage: str) -> dict:
    """The diagnostics report of one stage (``"before"`` or ``"after"`` transfer).

    A :func:`da.diagnostics.shift_report` of the held-out source and target rows
    (``diagnostics.split``, subsampled to ``max_samples`` with a seed of the run,
    so every stage compares the same rows) on the inputs and on the model's
    features, with the pair's analytic ground truth next to the estimates; plus
    the model's accuracies and, when asked, label-shift estimates.
    """
    from da.diagnostics import shift_report

    diag = cfg["diagnostics"]
    seed = cfg["seed"]
    Xs, Xt = _held_out(split, diag["split"], diag["max_samples"], seed)
    rep = shift_report((Xs, Xt), features=(lambda X: _features(model, X)) if "features" in diag["compare"]
                       else None, metrics=diag["gaps"], tests=[TESTS[t] for t in diag["tests"]], seed=seed,
                       ground_truth=pair, n_permutations=diag["n_permutations"],
                       n_bootstrap=diag["n_bootstrap"], bandwidth=diag["bandwidth"])
    report = {**rep.to_dict(), "stage": stage, "split": diag["split"]}
    report["rows"] = [r for r in report["rows"] if r["space"] in diag["compare"]]
    report["accuracy"] = _accuracy(model, split)
    if stage in cfg["label_shift"]["when"]:
        ls = _label_shift(model, split, pair, cfg)
        if ls:
            report["label_shift"] = ls
    return report


def _tracker(model_split_cfg):
    """A trainer hook ``(model, epoch) -> dict``: feature gaps every ``diagnostics.every`` epochs
    (:class:`da.diagnostics.GapTracker`), recorded as ``diag/features_<metric>``."""
    from da.diagnostics import GapTracker

    split, cfg = model_split_cfg
    diag = cfg["diagnostics"]
    Xs, Xt = _held_out(split, diag["split"], diag["max_samples"], cfg["seed"])
    tracker = GapTracker(Xs, Xt, metrics=diag["gaps"], every=diag["every"], bandwidth=diag["bandwidth"],
                         max_samples=diag["max_samples"], feature_fn=_features, seed=cfg["seed"])

    def hook(model, epoch):
        # GapTracker measures when its epoch is a multiple of `every`: give it completed epochs
        out = tracker(model, epoch + 1)
        return {f"diag/features_{k.replace('/', '_')}": v for k, v in out.items()}

    return hook


# --------------------------------------------------------------------------------------
# Result records
# --------------------------------------------------------------------------------------

def _flat_report(stage: str, rep: dict, out: dict) -> None:
    """``{stage}_{space}_{name}`` scalars of a report's rows (tests: ``_stat`` and ``_p``)."""
    for r in rep.get("rows", []):
        key = f"{stage}_{r['space']}_"
        if r["kind"] == "metric":
            out[key + r["name"]] = r["value"]
            if r.get("ci_low") is not None:
                out[key + r["name"] + "_lo"], out[key + r["name"] + "_hi"] = r["ci_low"], r["ci_high"]
        elif r["kind"] == "test":
            short = _TEST_SHORT.get(r["name"], r["name"])
            out[key + short + "_stat"], out[key + short + "_p"] = r["value"], r["pvalue"]
        else:  # health: mean_norm/source -> ..._mean_norm_source
            out[key + r["name"].replace("/", "_")] = r["value"]


def flat_metrics(fit_metrics: dict, before: dict | None, after: dict | None, extra: dict) -> dict:
    """The scalar metrics of ``result.json``: flat ``snake_case`` names (config columns use dots).

    ``{part}_{acc,f1,ece}`` of the selected model; ``pretrained_{part}_acc``
    before transfer; ``{before,after}_{inputs,features}_{gap}`` and
    ``..._{test}_{stat,p}`` from the shift reports; ``true_{quantity}`` from the
    pair's analytic ground truth (``true_mmd2`` at the bandwidth of the input-space
    estimate); ``{before,after}_{estimator}_l1_error`` for label-shift estimates.
    """
    out: dict = {}
    for part, m in (fit_metrics or {}).items():
        out[f"{part}_acc"] = m["accuracy"]
        out[f"{part}_f1"] = m["macro_f1"]
        out[f"{part}_ece"] = m["ece"]
    for stage, rep in (("before", before), ("after", after)):
        if not rep:
            continue
        _flat_report(stage, rep, out)
        if stage == "before":
            for part, m in rep.get("accuracy", {}).items():
                out[f"pretrained_{part}_acc"] = m["accuracy"]
        for name, e in rep.get("label_shift", {}).get("estimators", {}).items():
            out[f"{stage}_{name}_l1_error"] = e["l1_error"]
            out[f"{stage}_{name}_l2_error"] = e["l2_error"]
            if "l1_error_empirical" in e:
                out[f"{stage}_{name}_l1_error_empirical"] = e["l1_error_empirical"]
    rep = before or after or {}
    for k, v in (rep.get("ground_truth") or {}).items():
        if k in ("mmd2", "mmd2_bandwidth"):
            continue  # at bandwidth 1; the row below has it at the estimate's bandwidth
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"true_{k}"] = float(v)
        elif isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
            out[f"true_{k}_mean"] = float(np.mean(v))
    for r in rep.get("rows", []):
        if r["space"] == "inputs" and r["kind"] == "metric" and r["name"] == "mmd2" and r.get("truth") is not None:
            out["true_mmd2"] = float(r["truth"])
            out["true_mmd2_bandwidth"] = float(r["details"]["bandwidth"])
    out.update(extra)
    return {k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in out.items()}


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------

class _Bar:
    """An epoch progress bar (tqdm) for one stage, or nothing."""

    def __init__(self, enabled: bool, total: int, desc: str):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=False)

    def hook(self, model, epoch):
        if self.bar is not None:
            self.bar.n = epoch + 1
            self.bar.refresh()
        return {}

    def close(self):
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def _run_logging(path: Path):
    """Send the ``da`` loggers (this run's and da.transfer's) to ``run.log`` while the run lasts."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # a dask worker with several threads runs several runs in one process: each log keeps its own
    thread = threading.get_ident()
    handler.addFilter(lambda record: record.thread == thread)
    logger = logging.getLogger("da")
    old = logger.level
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
        handler.close()


def _pretrained(model, split, cfg: dict, cache_dir: Path, metrics_path: Path, bars: bool) -> dict:
    """Pretrain on the source, or load the cached result of the same pretraining config."""
    from da.transfer import load_checkpoint, pretrain, save_checkpoint
    from da.transfer.distributed import broadcast_object, context as dist_context

    key = pretrain_key(cfg)
    info = {"pretrain_key": key, "pretrain_cached": False, "pretrain_seconds": 0.0}
    if cfg["pretrain"]["epochs"] == 0:
        append = {"stage": "pretrain", "skipped": True}
        R.append_jsonl(metrics_path, append)
        return info
    path = cache_dir / "pretrain" / f"{key}.pt"
    ctx = dist_context()  # distributed: rank 0 holds the lock and decides; all ranks pretrain or load
    with R.file_lock(cache_dir / "pretrain" / f"{key}.lock") if ctx.is_writer else contextlib.nullcontext():
        ckpt = None
        if path.exists() and ctx.is_writer:
            try:
                ckpt = load_checkpoint(path, model)
            except Exception as exc:  # a cache entry we cannot read is recomputed, never trusted
                log.warning("pretrain cache %s unreadable (%s); pretraining again", path, exc)
                ckpt = None
        if broadcast_object(ctx, ckpt is not None) and ckpt is None:
            ckpt = load_checkpoint(path, model)
        if ckpt is not None:
            info["pretrain_cached"] = True
            history = ckpt["metrics"].get("history", [])
            info["pretrain_seconds"] = float(ckpt["metrics"].get("seconds", 0.0))
            log.info("pretrained model loaded from the cache (%s)", path)
        else:
            bar = _Bar(bars, cfg["pretrain"]["epochs"], "pretrain")
            t0 = time.perf_counter()
            try:
                res = pretrain(model, split, config=_train_config(cfg["pretrain"], cfg["seed"],
                                                                  stage="pretrain"),
                               hooks=[(1, bar.hook)], verbose=True)
            finally:
                bar.close()
            history = res.history
            info["pretrain_seconds"] = time.perf_counter() - t0
            if ctx.is_writer:
                save_checkpoint(path, model, {"pretrain_key": key, "data": cfg["data"], "model": cfg["model"],
                                              "pretrain": cfg["pretrain"], "seed": cfg["seed"]},
                                {"history": history, "metrics": res.metrics, "seconds": info["pretrain_seconds"]})
    for rec in history:
        R.append_jsonl(metrics_path, {"stage": "pretrain", "cached": info["pretrain_cached"], **rec})
    return info


def _figures(run_dir: Path) -> list[str]:
    """Figures drawn from the run's records by :func:`da.plot.plot_run_dir`, when da.plot is
    importable; plotting is a by-product, so it never fails the run."""
    try:
        from da.plot import plot_run_dir
    except ImportError:
        return []
    try:
        out = plot_run_dir(run_dir, run_dir / "figures", formats=("png",))
    except Exception as exc:
        log.warning("figures skipped: %s: %s", type(exc).__name__, exc)
        return []
    for reason in out.get("skipped", []):
        log.info("figure skipped: %s", reason)
    return sorted(str(Path(p).relative_to(run_dir)) for paths in out.get("figures", {}).values()
                  for p in (paths if isinstance(paths, (list, tuple)) else [paths]))


def run_experiment(config: dict, out_dir=None, *, progress: bool = False, cache_dir=None) -> dict:
    """Run one resolved (or raw, sweep-free) config; returns the ``result.json`` record.

    Parameters
    ----------
    config : dict
        A config without ``grid``/``zip`` blocks; it is resolved here.
    out_dir : path, optional
        Output root (default ``config["output"]``). The run directory is
        ``out_dir/<run_id>``; it is emptied first, so this always runs (the
        sweep machinery decides what to skip).
    progress : bool
        Show tqdm bars over the epochs.
    cache_dir : path, optional
        Pretraining cache (default ``out_dir/_cache``).

    Returns
    -------
    dict
        ``run_id``, ``status="completed"``, ``config``, ``metrics`` (flat
        scalars, see :func:`flat_metrics`), ``run_dir`` and timing.

    Raises
    ------
    Exception
        Whatever stopped the run, after recording it in ``failed.json``.
    """
    cfg = resolve_config(config)
    rid = config_hash(cfg)
    root = Path(out_dir if out_dir is not None else cfg["output"])
    cache = Path(cache_dir) if cache_dir is not None else root / R.CACHE_DIR
    run_dir = root / rid
    prev = R.read_failure(run_dir)
    attempts = (prev or {}).get("attempts", 0) + 1
    R.reset_run_dir(run_dir)
    atomic_write_text(run_dir / R.CONFIG, dump_config(cfg))
    t_start = time.time()
    with _run_logging(run_dir / R.LOG):
        log.info("run %s (%s, method=%s) in %s", rid, cfg["name"], cfg["method"], run_dir)
        try:
            result = _run(cfg, rid, run_dir, cache, progress, t_start, attempts)
        except Exception as exc:
            log.error("run %s failed: %s: %s", rid, type(exc).__name__, exc)
            R.write_failure(run_dir, rid, exc, traceback.format_exc(), attempts=attempts,
                            config=cfg, seconds=time.time() - t_start)
            raise
    return result


def _run(cfg, rid, run_dir, cache, progress, t_start, attempts) -> dict:
    import torch

    from da.transfer import finetune, save_checkpoint
    from da.transfer.distributed import context as dist_context
    from da.transfer.models import feature_dim

    metrics_path = run_dir / R.METRICS
    timing: dict = {}
    t = time.perf_counter()
    pair = build_pair(cfg["data"])
    d = cfg["data"]
    split = pair.sample(d["n_source"], d["n_target"], seed=cfg["seed"],
                        n_target_labeled=d["n_target_labeled"],
                        **({"val_frac": d["val_frac"], "test_frac": d["test_frac"]}
                           if d["generator"] is not None else {}))
    timing["data_seconds"] = time.perf_counter() - t
    R.append_jsonl(metrics_path, {"stage": "data", "pair": pair.name, "sizes": split.sizes(),
                                  "n_classes": int(split.n_classes)})

    # (1) pretrain, cached by the hash of the pretraining part of the config
    model = build_model(cfg["model"], pair, cfg["seed"])
    pre = _pretrained(model, split, cfg, cache, metrics_path, progress)
    timing["pretrain_seconds"] = pre["pretrain_seconds"]

    # (2) diagnostics before transfer
    diag = cfg["diagnostics"]
    t = time.perf_counter()
    before = diagnose(model, split, pair, cfg, stage="before") if diag["before"] else None
    if before is not None:
        atomic_write_json(run_dir / R.REPORT_BEFORE, before)
        R.append_jsonl(metrics_path, {"stage": "before", **flat_metrics({}, before, None, {})})
    timing["diagnostics_before_seconds"] = time.perf_counter() - t

    # (3) fine-tune, diagnosing the features every k epochs
    example = torch.as_tensor(split.source_train.X[:2], dtype=torch.float32)
    in_features = feature_dim(model.featurizer, example)
    terms = build_losses(cfg["align"], cfg["lambda"], in_features, split.n_classes, cfg["seed"])
    bar = _Bar(progress, cfg["train"]["epochs"], f"{cfg['method']}")
    hooks = [(1, bar.hook)]
    if diag["every"] and diag["gaps"]:
        hooks.append((1, _tracker((split, cfg))))
    t = time.perf_counter()
    try:
        fit = finetune(model, split, terms, strategy=_strategy(cfg["transfer"]),
                       config=_train_config(cfg["train"], cfg["seed"], stage="train"), hooks=hooks,
                       verbose=True)
    finally:
        bar.close()
    timing["finetune_seconds"] = time.perf_counter() - t
    for rec in fit.history:
        R.append_jsonl(metrics_path, {"stage": "finetune", **rec})
    if cfg["train"]["log_every"]:
        for rec in fit.steps:
            R.append_jsonl(metrics_path, {"stage": "finetune_step", **rec})
    if cfg["train"]["checkpoint"]:
        save_checkpoint(run_dir / R.CHECKPOINT, model, cfg, fit.metrics)

    # (4) diagnostics after
    t = time.perf_counter()
    after = None
    if diag["after"]:
        after = diagnose(model, split, pair, cfg, stage="after")
        atomic_write_json(run_dir / R.REPORT_AFTER, after)
    timing["diagnostics_after_seconds"] = time.perf_counter() - t

    # (5) evaluate, figures, and result.json last
    extra = {"best_epoch": fit.best_epoch, "n_steps": fit.n_steps,
             "seconds": time.time() - t_start, "pretrain_cached": pre["pretrain_cached"]}
    metrics = flat_metrics(fit.metrics, before, after, extra)
    R.append_jsonl(metrics_path, {"stage": "eval", **metrics})
    figures = _figures(run_dir) if cfg["figures"] else []
    result = {
        "run_id": rid, "status": "completed", "name": cfg["name"], "method": cfg["method"],
        "config": cfg, "metrics": metrics, "run_dir": str(run_dir),
        "pair": pair.name, "selection": fit.selection, "oracle": bool(fit.oracle),
        "pretrain_key": pre["pretrain_key"], "timing": timing, "attempts": attempts,
        # every loss's constructor arguments, including those make_alignment sized to the features
        "losses": fit.config["losses"],
        "seconds": metrics["seconds"], "figures": figures,
        "started_at": t_start, "finished_at": time.time(),
        "versions": {"da": da.__version__, "torch": torch.__version__, "python": platform.python_version()},
        # float reductions depend on the thread count: identical configs give identical numbers
        # only at the same torch_threads (sweeps default to CPUs / jobs per worker)
        "runtime": {"torch_threads": torch.get_num_threads(), "device": fit.config["train"]["device"],
                    "distributed": fit.config.get("distributed"),  # backend and world size, or None
                    "host": platform.node(), "pid": os.getpid()},
    }
    log.info("run %s completed in %.1fs; writing result.json", rid, metrics["seconds"])
    for h in logging.getLogger("da").handlers:  # nothing may land in the run directory after result.json
        h.flush()
    dist_context().barrier()  # distributed: no result.json unless every rank got here
    atomic_write_json(run_dir / R.RESULT, result)
    return result


def _strategy(transfer: dict):
    from da.transfer import STRATEGIES

    make = STRATEGIES[transfer["strategy"]]
    try:
        return make(**transfer["params"])
    except TypeError as exc:
        valid = [p for p in inspect.signature(make).parameters]
        raise ConfigError("transfer.params", f"{exc}; valid for {transfer['strategy']!r}: "
                                             f"{', '.join(valid) or '(none)'}") from None
