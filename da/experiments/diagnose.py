"""The diagnostics stages of a run: shift reports before and after transfer, gap tracking
during fine-tuning, label-shift estimates, and the flat metrics of ``result.json``."""

from __future__ import annotations

import numpy as np

from da import _runs as R
from da.data.lazy import is_lazy
from da.experiments.config import TESTS

__all__ = ["diagnose", "flat_metrics", "gap_tracker"]


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
    shape = None
    if is_lazy(Xs):  # images read from disk: the capped subsample, flat; the model sees images again
        shape = Xs.item_shape
        Xs, Xt = (np.asarray(X).reshape(len(X), -1) for X in (Xs, Xt))
    rep = shift_report((Xs, Xt), features=(lambda X: _features(model, X if shape is None else
                                                                X.reshape(-1, *shape)))
                       if "features" in diag["compare"] else None, metrics=diag["gaps"], tests=[TESTS[t] for t in diag["tests"]], seed=seed,
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


def gap_tracker(model_split_cfg):
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
    out.update(R.flat_fit_metrics(fit_metrics))
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
