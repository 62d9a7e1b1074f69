"""Reading run and sweep directories, and drawing every figure their records support.

Plotting only reads records; nothing here trains or re-computes a statistic.

Files read (all optional; each figure is drawn only when its inputs are there):

``metrics.jsonl``
    One JSON object per line, appended during training: a step key (``step``,
    ``global_step``, ``iteration`` or ``epoch``) and any logged quantities
    (``mmd2``, ``proxy_a``/``a_distance``, ``disc_acc``, ``lambda``,
    ``target_acc``...; nested dicts are flattened with ``"."``). Unreadable
    lines (a run killed mid-write) are skipped. -> ``trajectory``.
``report_before.json``, ``report_after.json``
    A shift report each (see :func:`da.plot.gap_frame` for the layouts
    understood: ``{metric: {"value", "ci", "truth"}}``, ``{space: {...}}``, a
    ``"gaps"`` key holding either, or a list of row dicts under ``"rows"``).
    -> ``gap_before_after``.
``result.json`` in each run directory of a sweep
    One JSON object per run, e.g. ``{"config": {...}, "metrics": {...}}``;
    flattened to one row (``config.lambda``, ``metrics.target_acc``...).
    Config leaves that vary across runs (other than seeds) are the factors.
    -> ``ablation_<factor>`` per factor (one line per method when the method
    varies), ``shift_severity`` when the severity varies, ``learning_curve``
    when the number of labelled target examples varies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["read_metrics", "read_results", "plot_run_dir"]

_RESULT = "result.json"
_SEED_KEYS = ("seed", "data.generator.seed", "run_id", "name", "output")
_METHOD_KEYS = ("method", "strategy", "transfer.strategy")
_SEVERITY_KEYS = ("data.generator.severity", "severity")
_N_LABELED_KEYS = ("data.n_target_labeled", "n_target_labeled", "n_labeled")


def read_metrics(path) -> list[dict]:
    """The records of a ``metrics.jsonl``; blank or unparsable lines are skipped."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                records.append(rec)
    return records


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None


def _result_files(root: Path) -> list[Path]:
    """``result.json`` of the runs under ``root`` (up to two levels down), sorted."""
    found = sorted(root.glob(f"*/{_RESULT}")) + sorted(root.glob(f"*/*/{_RESULT}"))
    return [p for p in found if "figures" not in p.parts]


def read_results(root) -> pd.DataFrame:
    """One flattened row per ``result.json`` found under ``root``.

    Nested keys become dotted columns; a ``config.`` prefix is dropped, so a
    factor is named by its config path (``lambda``, ``data.generator.severity``).
    A ``run_dir`` column holds each run's directory. Unreadable files are skipped.
    """
    rows = []
    for p in _result_files(Path(root)):
        rec = _read_json(p)
        if isinstance(rec, dict):
            rec = dict(rec, run_dir=str(p.parent))
            rows.append(rec)
    if not rows:
        return pd.DataFrame()
    df = pd.json_normalize(rows, sep=".")
    df.columns = [c[len("config."):] if str(c).startswith("config.") else c for c in df.columns]
    return df.loc[:, ~pd.Index(df.columns).duplicated()]


def _hashable(v):
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True)
    return v


def _factors(df: pd.DataFrame, y: str) -> list[str]:
    """Config columns that vary across runs (not metrics, seeds or bookkeeping)."""
    out = []
    for c in df.columns:
        c = str(c)
        if c == y or c == "run_dir" or c in _SEED_KEYS or c.endswith(".seed") \
                or c.startswith(("metrics.", "result.", "timing.", "report", "diagnostics.")) \
                or c.endswith(("_acc", "_loss", "time", "_s")):
            continue
        vals = df[c].map(_hashable)
        if vals.nunique(dropna=True) > 1:
            out.append(c)
    return out


def _target_acc_column(df):
    from da.plot.sweeps import TARGET_ACC

    for a in TARGET_ACC:
        if a in df.columns:
            return a
    for c in df.columns:
        if str(c).endswith(("target_acc", "target_test_acc", "target.test_acc")):
            return c
    return None


def _first(cols, keys):
    return next((k for k in keys if k in cols), None)


def plot_run_dir(path, out_dir=None, *, formats=("png", "pdf")) -> dict:
    """Draw every figure the records under ``path`` support, into ``path/figures``.

    Parameters
    ----------
    path : str or path-like
        A run directory, or a sweep directory holding run directories.
    out_dir : str or path-like, optional
        Where figures go (default ``<path>/figures``).
    formats : sequence of str
        Passed to :func:`da.plot.save`.

    Returns
    -------
    dict
        ``{"figures": {name: [paths written]}, "skipped": [reasons]}``; a
        figure whose records exist but are unusable is skipped, with the reason.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a directory.
    ValueError
        If no figure applies (nothing recognised under ``path``).
    """
    import matplotlib.pyplot as plt

    from da.plot.export import save
    from da.plot.gaps import gap_frame, plot_gap_before_after, plot_gap_trajectory
    from da.plot.sweeps import plot_ablation, plot_learning_curve, plot_shift_severity

    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    out = Path(out_dir) if out_dir is not None else root / "figures"
    figures: dict = {}
    skipped: list[str] = []

    def emit(name, draw):
        try:
            fig = draw()
        except ValueError as exc:  # a figure whose records are unusable is skipped, not fatal
            skipped.append(f"{name}: {exc}")
            return
        try:
            figures[name] = save(fig, out / name, formats=formats)
        finally:
            plt.close(fig)

    metrics = root / "metrics.jsonl"
    if metrics.is_file():
        records = [r for r in read_metrics(metrics)
                   if all(not (isinstance(v, float) and not math.isfinite(v)) for v in r.values())]
        emit("trajectory", lambda: plot_gap_trajectory(records))
    before, after = _read_json(root / "report_before.json"), _read_json(root / "report_after.json")
    if before is not None and after is not None:
        emit("gap_before_after", lambda: plot_gap_before_after(gap_frame(_rows(before), "before"),
                                                               gap_frame(_rows(after), "after")))
    results = read_results(root)
    if len(results) >= 2:
        y = _target_acc_column(results)
        if y is None:
            skipped.append("sweep: no target-accuracy column in result.json records")
        else:
            results = results[np.isfinite(pd.to_numeric(results[y], errors="coerce"))]
            factors = _factors(results, y)
            hue = _first(factors, _METHOD_KEYS)
            sev = _first(factors, _SEVERITY_KEYS)
            nlab = _first(factors, _N_LABELED_KEYS)
            for f in factors:
                if f == hue:
                    continue
                emit(f"ablation_{f.replace('.', '_')}", lambda f=f: plot_ablation(
                    results, x=f, y=y, hue=hue, logx=False))
            if hue is not None and len(factors) == 1:
                emit(f"ablation_{hue.replace('.', '_')}", lambda: plot_ablation(results, x=hue, y=y))
            if sev is not None:
                emit("shift_severity", lambda: plot_shift_severity(
                    results, severity=sev, accuracy=y, hue=hue or "method"))
            if nlab is not None:
                emit("learning_curve", lambda: plot_learning_curve(
                    results, n_labeled=nlab, accuracy=y, strategy=hue))
    if not figures:
        why = "; ".join(skipped) if skipped else (
            "found none of metrics.jsonl, report_before.json + report_after.json, "
            f"or two or more */{_RESULT}")
        raise ValueError(f"no figure applies to {root}: {why}")
    return {"figures": figures, "skipped": skipped}


def _rows(report):
    """A report's JSON: a list of rows under ``rows``/``records``/``gaps`` becomes a DataFrame."""
    if isinstance(report, dict):
        for key in ("rows", "records", "gaps"):
            if isinstance(report.get(key), list):
                return pd.DataFrame(report[key])
    if isinstance(report, list):
        return pd.DataFrame(report)
    return report
