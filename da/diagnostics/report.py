r"""One record of every chosen gap and test, on inputs and on features: :class:`ShiftReport`.

:func:`shift_report` measures, :func:`compare` reads two reports (before and
after transfer) into one table. Reports are plain JSON records
(:meth:`ShiftReport.save` writes atomically), so analyses never recompute.

Scale. Quadratic-cost estimators switch automatically when a domain has more
than ``max_exact`` rows, and every row records which estimator ran and why:

================================  ===================================================
estimator                         above ``max_exact`` (``max_fit``) rows per domain
================================  ===================================================
MMD² gap                          block estimator on all rows, blocks of ``max_exact/4``
energy, sliced W, W2              seeded subsample of ``max_exact`` rows per domain
MMD / energy permutation tests    seeded subsample; a linear-time MMD test on all rows
                                  is added
C2ST, proxy A-distance            seeded subsample of ``max_fit`` rows per domain
KS test, CORAL                    all rows (linear cost)
================================  ===================================================
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from da._io import atomic_write_json
from da._json import json_default as _json_default
from da._validation import check_positive_int
from da.diagnostics._features import _extract_features
from da._validation import (check_bandwidth as _check_bandwidth, check_choice as _check_choice,
                             check_pair as _check_pair, subsample_rows as _subsample)
from da.diagnostics.gap_specs import GAP_METRICS, GAP_SPECS, gap
from da.diagnostics.gaps import _resolve_bandwidth
from da.diagnostics.health import representation_health
from da.diagnostics.results import _jsonable
from da.diagnostics.two_sample import c2st, energy_test, ks_test, linear_mmd_test, mmd_test

__all__ = ["ShiftReport", "shift_report", "load_report", "TEST_NAMES",
           "DEFAULT_METRICS", "DEFAULT_TESTS"]

#: Two-sample tests a report can run (short aliases: mmd, energy, ks, linear_mmd).
TEST_NAMES = ("mmd_test", "energy_test", "c2st", "ks_test", "linear_mmd_test")
DEFAULT_METRICS = GAP_METRICS
DEFAULT_TESTS = ("mmd_test", "energy_test", "c2st", "ks_test")
_ALIASES = {"mmd": "mmd_test", "energy": "energy_test", "ks": "ks_test", "linear_mmd": "linear_mmd_test"}
#: the short name of each test (configs, result keys ``..._mmd_p``) -> its function's name
TEST_SHORT_NAMES = {"mmd": "mmd_test", "energy": "energy_test", "c2st": "c2st", "ks": "ks_test",
                    "linear_mmd": "linear_mmd_test"}
_TESTS = {"mmd_test": mmd_test, "energy_test": energy_test, "c2st": c2st, "ks_test": ks_test,
          "linear_mmd_test": linear_mmd_test}
_HEALTH_STATS = ("mean_norm", "var_mean", "var_min", "var_max", "dead_fraction", "effective_rank")
COLUMNS = ("space", "kind", "name", "value", "pvalue", "ci_low", "ci_high", "truth", "method",
           "estimator", "n_source", "n_target", "seconds", "note")
_FORMAT = "da.diagnostics.ShiftReport/1"


@dataclass
class ShiftReport:
    """Every gap, test and health summary of one :func:`shift_report` call.

    Attributes
    ----------
    rows : list of dict
        One per (space, kind, name): ``space`` is ``"inputs"`` or
        ``"features"``; ``kind`` is ``"metric"``, ``"test"`` or ``"health"``;
        the other keys are :data:`COLUMNS` plus ``details``.
    meta : dict
        Seed, sample sizes, options, bandwidths, data source.
    ground_truth : dict
        Analytic quantities of the data-generating pair (JSON values), if given.
    """

    rows: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    ground_truth: dict = field(default_factory=dict)

    def to_frame(self):
        """A :class:`pandas.DataFrame` with one row per entry and the columns :data:`COLUMNS`."""
        import pandas as pd

        return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in self.rows], columns=list(COLUMNS))

    def get(self, name: str, space: str = "inputs", kind: str | None = None) -> dict:
        """The row of ``name`` in ``space`` (``KeyError`` listing what exists)."""
        name = _ALIASES.get(name, name)
        for r in self.rows:
            if r["name"] == name and r["space"] == space and (kind is None or r["kind"] == kind):
                return r
        have = sorted({f"{r['space']}/{r['name']}" for r in self.rows})
        raise KeyError(f"no entry {space}/{name}; the report has: {', '.join(have)}")

    def to_dict(self) -> dict:
        return {"format": _FORMAT, "rows": _jsonable(self.rows), "meta": _jsonable(self.meta),
                "ground_truth": _jsonable(self.ground_truth)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, default=_json_default)

    def save(self, path) -> Path:
        """Write :meth:`to_dict` as JSON, atomically (temporary file, then rename)."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping) -> "ShiftReport":
        if d.get("format") != _FORMAT:
            raise ValueError(f"not a shift report: format {d.get('format')!r}, expected {_FORMAT!r}")
        return cls(rows=list(d["rows"]), meta=dict(d["meta"]), ground_truth=dict(d.get("ground_truth", {})))

    @classmethod
    def load(cls, path) -> "ShiftReport":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def summary(self) -> str:
        """The table as text, with sizes and seed on top."""
        import pandas as pd

        df = self.to_frame().drop(columns=["method", "note"])
        if df["truth"].isna().all():
            df = df.drop(columns=["truth"])
        m = self.meta
        head = (f"shift report: n_source={m.get('n_source')} n_target={m.get('n_target')} "
                f"seed={m.get('seed')} data={m.get('data')}")
        with pd.option_context("display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 60, "display.float_format", "{:.4g}".format):
            body = df.to_string(index=False)
        notes = [f"  {r['space']}/{r['name']}: {r['note']}" for r in self.rows if r.get("note")]
        return "\n".join([head, body] + (["notes:"] + notes if notes else []))

    def __str__(self) -> str:
        return self.summary()


def load_report(path) -> ShiftReport:
    """Read a report written by :meth:`ShiftReport.save`."""
    return ShiftReport.load(path)


# --- inputs ------------------------------------------------------------------------------

def _resolve_data(data, split: str):
    """(Xs, Xt, description) from arrays, a mapping with Xs/Xt, or a split with source_/target_ parts."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1], "arrays"
    if isinstance(data, Mapping) and "Xs" in data and "Xt" in data:
        return data["Xs"], data["Xt"], "mapping"
    s, t = getattr(data, f"source_{split}", None), getattr(data, f"target_{split}", None)
    if s is not None and t is not None:
        return s.X, t.X, f"split.{split} (held-out)"
    if hasattr(data, "sample") and hasattr(data, "ground_truth"):
        raise ValueError("shift_report needs samples: pass pair.sample(...) (a split) as data and "
                         "ground_truth=pair")
    raise ValueError("data must be (Xs, Xt), a mapping with 'Xs' and 'Xt', or a split with "
                     f"source_{split}/target_{split} parts; got {type(data).__name__}")


def _resolve_names(names, valid, aliases, what) -> list[str]:
    if isinstance(names, str):
        names = (names,)
    out = []
    for n in names:
        n = aliases.get(n, n)
        if n not in valid:
            raise ValueError(f"unknown {what} {n!r}; valid: {', '.join(valid)}"
                             + (f" (aliases: {', '.join(aliases)})" if aliases else ""))
        if n not in out:
            out.append(n)
    return out


class _Truth:
    """Ground truth from a GroundTruth-like object, a mapping, a pair or a ``bandwidth -> truth`` callable."""

    def __init__(self, gt):
        self.values, self.unavailable, self._pair_fn, self._mmd2_fn = {}, {}, None, None
        if gt is None:
            return
        if hasattr(gt, "ground_truth") and callable(gt.ground_truth):
            gt = gt.ground_truth
        if callable(gt) and not hasattr(gt, "values"):
            self._pair_fn = gt
            gt = gt(bandwidth=1.0)
        vals = gt.values if hasattr(gt, "values") and isinstance(gt.values, Mapping) else gt
        if not isinstance(vals, Mapping):
            raise ValueError("ground_truth must be a mapping, an object with .values, a DomainPair "
                             f"or a callable bandwidth -> ground truth; got {type(gt).__name__}")
        self.unavailable = dict(getattr(gt, "unavailable", {}) or {})
        self._mmd2_fn = vals.get("mmd2_fn") if callable(vals.get("mmd2_fn")) else None
        for k, v in vals.items():
            if callable(v):
                continue
            self.values[k] = np.asarray(v).tolist() if isinstance(v, (np.ndarray, list, tuple)) else v

    def mmd2(self, h: float):
        """(truth, note) of the MMD² at bandwidth ``h``."""
        if self._mmd2_fn is not None:
            return float(self._mmd2_fn(h)), None
        if self._pair_fn is not None and "mmd2" in self.values:
            return float(self._pair_fn(bandwidth=h).values["mmd2"]), None
        if "mmd2" in self.values:
            bw = self.values.get("mmd2_bandwidth")
            if bw is not None and np.isclose(float(bw), h, rtol=1e-6):
                return float(self.values["mmd2"]), None
            return None, (f"ground-truth mmd2 is at bandwidth {bw}, the estimate at {h:.4g}: "
                          "pass bandwidth= to compare them")
        if "mmd2" in self.unavailable:
            return None, f"no ground-truth mmd2: {self.unavailable['mmd2']}"
        return None, None


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator per (seed, space, name): adding an entry never changes another's seed."""
    return np.random.default_rng([seed] + [zlib.crc32(p.encode()) for p in parts])


# --- the report ------------------------------------------------------------------------------

def shift_report(data, *, features=None, metrics=DEFAULT_METRICS, tests=DEFAULT_TESTS, seed: int = 0,
                 ground_truth=None, max_exact: int = 2000, max_fit: int = 10_000,
                 n_permutations: int = 500, n_bootstrap: int = 100, bandwidth=None,
                 split: str = "test", bootstrap_ot: bool = False, ci_method: str = "percentile",
                 batch_size: int = 4096) -> ShiftReport:
    r"""Measure the source/target shift on held-out inputs and, optionally, on learned features.

    Parameters
    ----------
    data : (Xs, Xt), mapping with ``"Xs"``/``"Xt"``, or a split
        A split (e.g. from :meth:`da.data.DomainPair.sample`) is read
        duck-typed: ``data.source_<split>.X`` and ``data.target_<split>.X``.
        Rows beyond the first axis are flattened for the input-space statistics.
    features : torch.nn.Module or callable, optional
        ``X -> features``; when given, everything is measured again on the
        features of the same rows.
    metrics : sequence of str
        Gap metrics from :data:`~da.diagnostics.GAP_METRICS`.
    tests : sequence of str
        From :data:`TEST_NAMES` (or the aliases ``mmd``, ``energy``, ``ks``,
        ``linear_mmd``).
    seed : int
        Every entry draws from its own generator seeded by
        ``(seed, space, name)``.
    ground_truth : GroundTruth, mapping, DomainPair or callable, optional
        Analytic values of the pair (``pair``, ``pair.ground_truth`` or
        ``pair.ground_truth(bandwidth=h)``). The closed-form MMD² is put next
        to the input-space MMD² estimates at the bandwidth they used.
    max_exact : int
        Above this many rows in a domain, quadratic-cost estimators switch (see
        the module docstring); each row notes the switch and the reason.
    max_fit : int
        Rows per domain for the domain classifiers (C2ST, proxy A-distance).
    n_permutations : int
    n_bootstrap : int
        Bootstrap resamples of each gap's interval (0: none).
    bandwidth : float or None
        Gaussian-kernel bandwidth of every MMD in the report; ``None``: the
        median heuristic on the pooled sample of each space, shared by the MMD
        gap and tests of that space.
    split : {"test", "val"}
        Which held-out parts of a split to compare.
    ci_method : {"percentile", "bias-corrected"}
        Interval of every bootstrapped gap (see :func:`~da.diagnostics.gap`);
        a row's note says when a percentile interval excludes its estimate.
    bootstrap_ot : bool
        Also bootstrap the Wasserstein distance (one exact OT solve per
        resample; off by default because each costs about a second at 2000 rows).
    batch_size : int
        Rows per forward pass of ``features``.

    Returns
    -------
    ShiftReport

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rep = shift_report((rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + 0.5),
    ...                    metrics=["mmd2"], tests=["mmd_test"], n_permutations=100, n_bootstrap=20)
    >>> rep.get("mmd_test")["pvalue"] < 0.05
    True
    """
    _check_choice(split, "split", ("test", "val"))
    Xs_raw, Xt_raw, desc = _resolve_data(data, split)
    metrics = _resolve_names(metrics, GAP_METRICS, {}, "metric")
    tests = _resolve_names(tests, TEST_NAMES, _ALIASES, "test")
    max_exact = check_positive_int(max_exact, "max_exact", minimum=4)
    max_fit = check_positive_int(max_fit, "max_fit", minimum=4)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    seed = check_positive_int(seed, "seed", minimum=0)
    if bandwidth is not None:
        bandwidth = _check_bandwidth(bandwidth)
    Xs_raw, Xt_raw = np.asarray(Xs_raw), np.asarray(Xt_raw)
    if Xs_raw.ndim < 2 or Xt_raw.ndim < 2:
        raise ValueError(f"Xs and Xt must be at least 2-D (n_samples, ...), got shapes "
                         f"{Xs_raw.shape} and {Xt_raw.shape}")
    Xs, Xt = _check_pair(Xs_raw.reshape(len(Xs_raw), -1), Xt_raw.reshape(len(Xt_raw), -1))
    truth = _Truth(ground_truth)
    _check_choice(ci_method, "ci_method", ("percentile", "bias-corrected"))
    opts = dict(max_exact=max_exact, max_fit=max_fit, n_permutations=n_permutations,
                n_bootstrap=n_bootstrap, bootstrap_ot=bootstrap_ot, ci_method=ci_method)
    meta = {"data": desc, "split": split, "seed": seed, "n_source": int(Xs.shape[0]),
            "n_target": int(Xt.shape[0]), "dim": int(Xs.shape[1]), "metrics": metrics, "tests": tests,
            **opts, "bandwidth": {}, "ground_truth_unavailable": truth.unavailable, "seconds": {}}
    import da

    meta["da_version"] = getattr(da, "__version__", None)
    rows = []
    for space, A, B in _spaces(Xs, Xt, Xs_raw, Xt_raw, features, batch_size, meta):
        t0 = time.perf_counter()
        rows += _diagnose_space(space, A, B, metrics, tests, seed, bandwidth,
                                truth if space == "inputs" else None, meta, **opts)
        meta["seconds"][space] = time.perf_counter() - t0
    return ShiftReport(rows=rows, meta=meta, ground_truth=truth.values)


def _spaces(Xs, Xt, Xs_raw, Xt_raw, features, batch_size, meta) -> list:
    """[("inputs", Xs, Xt)] plus ("features", F(Xs), F(Xt)) when a feature map is given."""
    spaces = [("inputs", Xs, Xt)]
    if features is not None:
        t0 = time.perf_counter()
        Fs = _extract_features(features, Xs_raw, batch_size)
        Ft = _extract_features(features, Xt_raw, batch_size)
        meta["seconds"]["features"] = time.perf_counter() - t0
        Fs, Ft = _check_pair(Fs, Ft, ("features(Xs)", "features(Xt)"))
        meta["feature_dim"] = int(Fs.shape[1])
        spaces.append(("features", Fs, Ft))
    return spaces


def _row(space, kind, name, **kw) -> dict:
    r = {c: None for c in COLUMNS}
    r.update(space=space, kind=kind, name=name, note="", details={})
    r.update(kw)
    return r


def _large_sample_plan(spec, A, B, ex, fit, big, fit_big, why_exact, why_fit, h, max_exact):
    """(X1, X2, estimator, note, options) for one metric under its spec's large-sample rule."""
    kw = {"bandwidth": h} if spec.name == "mmd2" else {}
    rule = spec.large_sample
    if rule == "block" and big:
        return A, B, "block", f"{why_exact}: block MMD² over all rows (linear memory)", {
            **kw, "block_size": max(2, max_exact // 4)}
    if rule == "subsample" and big:
        return ex[0], ex[1], "subsample", f"{why_exact}: seeded subsample", kw
    if rule == "metric":  # the metric subsamples itself and reports it
        note = (f"{why_exact}: exact OT on a seeded subsample of {max_exact} rows per domain"
                if big else "")
        return A, B, "subsample" if big else "exact", note, {**kw, "max_exact": max_exact}
    if rule == "classifier" and fit_big:
        return fit[0], fit[1], "subsample", f"{why_fit}: classifier on a seeded subsample", kw
    return A, B, "exact", "", kw


def _metric_row(space, name, A, B, ex, fit, big, fit_big, why_exact, why_fit, h, truth_mmd2,
                truth_note, seed, *, max_exact, n_bootstrap, bootstrap_ot, ci_method) -> dict:
    spec = GAP_SPECS[name]
    rng = _rng(seed, space, name)
    t0 = time.perf_counter()
    X1, X2, est, note, kw = _large_sample_plan(spec, A, B, ex, fit, big, fit_big, why_exact, why_fit,
                                               h, max_exact)
    B_boot = n_bootstrap
    if spec.bootstrap_solves and not bootstrap_ot:
        B_boot = 0
        note = (note + "; " if note else "") + "no bootstrap interval (bootstrap_ot=False)"
    res = gap(X1, X2, name, n_bootstrap=B_boot, seed=rng, ci_method=ci_method, **kw)
    if res.ci is not None and not res.ci[0] <= res.value <= res.ci[1]:
        note = (note + "; " if note else "") + (
            f"bootstrap bias {res.details.get('bootstrap_bias', 0):+.3g}: the {ci_method} interval "
            "excludes the estimate" + (" (try ci_method='bias-corrected')"
                                       if ci_method == "percentile" else ""))
    r = _row(space, "metric", name, value=res.value, method=res.method, estimator=est,
             n_source=int(X1.shape[0]), n_target=int(X2.shape[0]), note=note,
             ci_low=None if res.ci is None else res.ci[0], ci_high=None if res.ci is None else res.ci[1],
             details={**res.details, "n_bootstrap": res.n_bootstrap, "confidence": res.confidence})
    if name == "mmd2":
        r["truth"] = truth_mmd2
        if truth_note:
            r["note"] = (r["note"] + "; " if r["note"] else "") + truth_note
    r["seconds"] = time.perf_counter() - t0
    return r


def _diagnose_space(space, A, B, metrics, tests, seed, bandwidth, truth, meta, *, max_exact, max_fit,
                    n_permutations, n_bootstrap, bootstrap_ot, ci_method) -> list[dict]:
    n, m = A.shape[0], B.shape[0]
    big = max(n, m) > max_exact
    sub_rng = _rng(seed, space, "subsample")
    A_ex, B_ex = (_subsample(A, max_exact, sub_rng), _subsample(B, max_exact, sub_rng)) if big else (A, B)
    fit_big = max(n, m) > max_fit
    A_fit, B_fit = ((_subsample(A, max_fit, sub_rng), _subsample(B, max_fit, sub_rng)) if fit_big
                    else (A, B))
    why_exact = f"max(n_source, n_target) = {max(n, m)} > max_exact = {max_exact}"
    why_fit = f"max(n_source, n_target) = {max(n, m)} > max_fit = {max_fit}"
    h, rule = _resolve_bandwidth(A, B, bandwidth)
    meta["bandwidth"][space] = {"value": h, "rule": rule}
    truth_mmd2, truth_note = truth.mmd2(h) if truth is not None else (None, None)
    rows = []

    for name in metrics:
        rows.append(_metric_row(space, name, A, B, (A_ex, B_ex), (A_fit, B_fit), big, fit_big,
                                why_exact, why_fit, h, truth_mmd2, truth_note, seed, max_exact=max_exact,
                                n_bootstrap=n_bootstrap, bootstrap_ot=bootstrap_ot, ci_method=ci_method))

    run = list(tests)
    added = big and "mmd_test" in run and "linear_mmd_test" not in run
    if added:
        run.append("linear_mmd_test")
    for name in run:
        rng = _rng(seed, space, name)
        t0 = time.perf_counter()
        est, note, X1, X2 = "exact", "", A, B
        kw = {"seed": rng}
        if name in ("mmd_test", "energy_test"):
            kw["n_permutations"] = n_permutations
            if big:
                X1, X2, est, note = A_ex, B_ex, "subsample", f"{why_exact}: permutation test on a seeded subsample"
        elif name == "c2st" and fit_big:
            X1, X2, est, note = A_fit, B_fit, "subsample", f"{why_fit}: classifier on a seeded subsample"
        elif name == "linear_mmd_test":
            est = "linear"
            if added:
                note = f"added because {why_exact}: the quadratic-time MMD test ran on a subsample"
        if name in ("mmd_test", "linear_mmd_test"):
            kw["bandwidth"] = h
        res = _TESTS[name](X1, X2, **kw)
        r = _row(space, "test", name, value=res.statistic, pvalue=res.pvalue, method=res.method,
                 estimator=est, n_source=int(X1.shape[0]), n_target=int(X2.shape[0]), note=note,
                 details={**res.details, "n_permutations": res.n_permutations})
        if name in ("mmd_test", "linear_mmd_test"):
            r["truth"] = truth_mmd2  # both statistics are unbiased estimates of MMD² at h
        r["seconds"] = time.perf_counter() - t0
        rows.append(r)

    for domain, X in (("source", A), ("target", B)):
        hl = representation_health(X).to_dict()
        for stat in _HEALTH_STATS:
            rows.append(_row(space, "health", f"{stat}/{domain}", value=hl[stat], method="health",
                             estimator="exact", n_source=n, n_target=m))
    return rows
