"""Reading run and sweep directories, and drawing every figure their records support.

Plotting only reads records; nothing here trains or re-computes a statistic.

Files read (all optional; each figure is drawn only when its inputs are there),
as :mod:`da.experiments` writes them:

``metrics.jsonl``
    One JSON object per line. Records with a ``"stage"`` key are a
    :mod:`da.experiments` run's: the ``finetune_step`` (per step) and
    ``finetune`` (per epoch) records are the training trajectory. Without
    stages, every record counts. Each needs a step key (``step``,
    ``global_step``, ``iteration`` or ``epoch``) and any of the logged
    quantities (see :data:`da.plot.gaps.TRAJECTORY_QUANTITIES`). Torn lines
    are skipped. -> ``trajectory``.
``report_before.json``, ``report_after.json``
    The diagnostics reports before and after transfer (any layout
    :func:`da.plot.gap_frame` reads). -> ``gap_before_after``; and, when a
    report carries ``label_shift`` estimates (``{"true_prior",
    "source_prior", "estimators": {name: {"target_prior": [...]}}}``),
    -> ``label_shift_before`` / ``label_shift_after``.
``result.json`` of each run of a sweep
    Read with :func:`da.experiments.collect_runs` (completed runs only; one
    row per run: dotted config columns, metric columns); when that finds
    fewer than two runs, any ``*/result.json`` or ``*/*/result.json`` is read
    as a flat record (``{"config": {...}, "metrics": {...}}``, nested keys
    joined with ``"."``, the ``config.`` and ``metrics.`` prefixes dropped).
    Config columns that vary (other than the seed) are the factors.
    -> ``ablation_<factor>`` per factor (one line, or over a categorical factor
    one set of points with error bars, per method when the method varies),
    ``ablation_<f1>_x_<f2>`` (a heatmap) when exactly two factors
    other than the method vary and every combination was run, ``shift_severity`` when
    ``data.generator.severity`` varies, ``learning_curve`` when
    ``data.n_target_labeled`` varies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from da._lazy import lazy_module

pd = lazy_module("pandas")

__all__ = ["read_metrics", "read_results", "plot_run_dir", "run_figures"]

_RESULT = "result.json"
_NOT_FACTORS = ("seed", "name", "output", "run_id", "status", "run_dir")
_METHOD_KEYS = ("method", "strategy", "transfer.strategy")
_SEVERITY_KEYS = ("data.generator.severity", "severity")
_N_LABELED_KEYS = ("data.n_target_labeled", "n_target_labeled", "n_labeled")


def read_metrics(path) -> list[dict]:
    """The records of a ``metrics.jsonl``; blank or unparsable (torn) lines are skipped.

    The same reader as :func:`da.experiments.records.read_jsonl`, but a missing
    file is an error here (a figure was asked of it).
    """
    from da.experiments.records import read_jsonl

    if not Path(path).is_file():
        raise FileNotFoundError(f"no metrics file at {path}")
    return read_jsonl(path)


def _trajectory_records(records: list) -> list:
    """The training trajectory: finite-valued records, fine-tuning stages only when staged.

    Per-step records win for the keys they carry; per-epoch records add the
    rest (evaluations, feature diagnostics), so an epoch mean is never drawn
    on top of the per-step values of the same key.
    """
    clean = [{k: v for k, v in r.items() if not (isinstance(v, float) and not math.isfinite(v))}
             for r in records]
    if not any("stage" in r for r in clean):
        return clean
    steps = [r for r in clean if r.get("stage") == "finetune_step"]
    epochs = [r for r in clean if r.get("stage") == "finetune"]
    step_keys = {k for r in steps for k in r} - {"stage", "step", "epoch"}
    return steps + [{k: v for k, v in r.items() if k not in step_keys} for r in epochs]


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _flat_results(root: Path) -> pd.DataFrame:
    rows = []
    found = sorted(root.glob(f"*/{_RESULT}")) + sorted(root.glob(f"*/*/{_RESULT}"))
    for p in found:
        if "figures" in p.parts or any(part.startswith("_") for part in p.relative_to(root).parts):
            continue
        rec = _read_json(p)
        if isinstance(rec, dict):
            rows.append(dict(rec, run_dir=str(p.parent)))
    if not rows:
        return pd.DataFrame()
    df = pd.json_normalize(rows, sep=".")
    strip = {c: c.split(".", 1)[1] for c in df.columns if str(c).startswith(("config.", "metrics."))}
    df = df.rename(columns=strip)
    return df.loc[:, ~pd.Index(df.columns).duplicated()]


def read_results(root) -> pd.DataFrame:
    """One row per completed run under ``root``.

    Uses :func:`da.experiments.collect_runs` (the table ``da collect``
    prints); falls back to reading every ``*/result.json`` as a flat record
    when that finds fewer than two runs. Returns an empty frame when there are none.
    """
    root = Path(root)
    try:
        from da.experiments import collect_runs

        df = collect_runs(root)
    except Exception:  # no experiments subpackage, or records it does not recognise
        df = pd.DataFrame()
    if len(df) >= 2:
        return df
    flat = _flat_results(root)
    return flat if len(flat) >= len(df) else df


def _hashable(v):
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True)
    return v


def _factors(df: pd.DataFrame, y: str) -> list[str]:
    """Config columns that vary across runs: the sweep's factors (not metrics or seeds)."""
    try:
        from da.experiments.collect import varying_columns

        if "config_columns" in df.attrs:
            return [c for c in varying_columns(df) if c != y and not str(c).endswith(".seed")]
    except ImportError:
        pass
    metrics = set(df.attrs.get("metric_columns", ()))
    out = []
    for c in df.columns:
        c = str(c)
        if c == y or c in metrics or c in _NOT_FACTORS or c.endswith(".seed") \
                or c.startswith(("timing.", "versions.", "selection", "figures", "started", "finished")) \
                or c.endswith(("_acc", "_f1", "_ece", "_error", "seconds", "_p", "_stat")):
            continue
        if df[c].map(_hashable).nunique(dropna=True) > 1:
            out.append(c)
    return out


def _target_acc_column(df):
    from da.plot.sweeps import TARGET_ACC

    for a in ("target_test_acc",) + TARGET_ACC:
        if a in df.columns:
            return a
    return None


def _first(cols, keys):
    return next((k for k in keys if k in cols), None)


class _Writer:
    """Draw, save and close figures; a figure whose records are unusable is skipped, with why."""

    def __init__(self, out: Path, formats):
        self.out, self.formats = out, formats
        self.figures: dict = {}
        self.skipped: list = []

    def __call__(self, name, draw):
        import matplotlib.pyplot as plt

        from da.plot.export import save

        try:
            fig = draw()
        except ValueError as exc:
            self.skipped.append(f"{name}: {exc}")
            return
        try:
            self.figures[name] = save(fig, self.out / name, formats=self.formats)
        finally:
            plt.close(fig)


def _run_figures(emit, history, before, after):
    from da.plot.gaps import plot_gap_before_after, plot_gap_trajectory
    from da.plot.label_shift import plot_label_shift

    if history:
        emit("trajectory", lambda: plot_gap_trajectory(_trajectory_records(history)))
    if before is not None and after is not None:
        emit("gap_before_after", lambda: plot_gap_before_after(_rows(before), _rows(after)))
    for stage, rep in (("before", before), ("after", after)):
        ls = rep.get("label_shift") if isinstance(rep, dict) else None
        if isinstance(ls, dict) and ls.get("estimators"):
            emit(f"label_shift_{stage}", lambda ls=ls: plot_label_shift(
                ls.get("true_prior"), {k: v for k, v in ls["estimators"].items()},
                source_prior=ls.get("source_prior")))


def _crossed(df, a, b) -> bool:
    """Every level of ``a`` was run with every level of ``b`` (else a heatmap is mostly holes)."""
    pairs = df[[a, b]].map(_hashable).drop_duplicates()
    return len(pairs) == pairs[a].nunique() * pairs[b].nunique()


def _sweep_figures(emit, results, skipped):
    from da.plot.sweeps import plot_ablation, plot_learning_curve, plot_shift_severity

    y = _target_acc_column(results)
    if y is None:
        skipped.append("sweep: no target-accuracy column in the runs' results")
        return
    results = results[np.isfinite(pd.to_numeric(results[y], errors="coerce"))]
    factors = _factors(results, y)
    hue = _first(factors, _METHOD_KEYS)
    others = [f for f in factors if f != hue]
    for f in others:
        emit(f"ablation_{f.replace('.', '_')}", lambda f=f: plot_ablation(results, x=f, y=y, hue=hue))
    if hue is not None and not others:
        emit(f"ablation_{hue.replace('.', '_')}", lambda: plot_ablation(results, x=hue, y=y))
    if len(others) == 2 and _crossed(results, *others):
        a, b = others
        emit(f"ablation_{a.replace('.', '_')}_x_{b.replace('.', '_')}",
             lambda: plot_ablation(results, x=a, y=y, hue=b, kind="heatmap"))
    sev = _first(factors, _SEVERITY_KEYS)
    if sev is not None:
        emit("shift_severity", lambda: plot_shift_severity(results, severity=sev, accuracy=y,
                                                           hue=hue or "method"))
    nlab = _first(factors, _N_LABELED_KEYS)
    if nlab is not None:
        emit("learning_curve", lambda: plot_learning_curve(results, n_labeled=nlab, accuracy=y,
                                                           strategy=hue))


def plot_run_dir(path, out_dir=None, *, formats=("png", "pdf")) -> dict:
    """Draw every figure the records under ``path`` support, into ``path/figures``.

    Parameters
    ----------
    path : str or path-like
        A run directory, or a sweep (output root) holding run directories.
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
    
    Examples
    --------
    >>> import json, tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "metrics.jsonl").write_text("".join(
    ...     json.dumps({"step": s, "mmd2": 1 / (1 + s)}) + "\\n" for s in range(10)))
    >>> sorted(plot_run_dir(run)["figures"])
    ['trajectory']
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    emit = _Writer(Path(out_dir) if out_dir is not None else root / "figures", tuple(formats))
    metrics = root / "metrics.jsonl"
    history = read_metrics(metrics) if metrics.is_file() else None
    _run_figures(emit, history, _read_json(root / "report_before.json"),
                 _read_json(root / "report_after.json"))
    results = read_results(root)
    if len(results) >= 2:
        _sweep_figures(emit, results, emit.skipped)
    if not emit.figures:
        why = "; ".join(emit.skipped) if emit.skipped else (
            "found none of metrics.jsonl, report_before.json + report_after.json, "
            f"or two or more runs with a {_RESULT}")
        raise ValueError(f"no figure applies to {root}: {why}")
    return {"figures": emit.figures, "skipped": emit.skipped}


def run_figures(run_dir, *, before=None, after=None, history=None, out_dir=None,
                formats=("png", "pdf")) -> list[Path]:
    """The figures of one run, from records already in memory (the hook :mod:`da.experiments` calls).

    Parameters
    ----------
    run_dir : path-like
        The run directory; records not passed in are read from it.
    before, after : dict, optional
        The diagnostics reports (as in ``report_before.json``/``report_after.json``).
    history : list of dict, optional
        Training records (as in ``metrics.jsonl``, staged or not).
    out_dir : path-like, optional
        Default ``<run_dir>/figures``.
    formats : sequence of str

    Returns
    -------
    list of pathlib.Path
        Every file written; empty when no figure applies. Never raises on
        unusable records (they are skipped).
    """
    run_dir = Path(run_dir)
    emit = _Writer(Path(out_dir) if out_dir is not None else run_dir / "figures", tuple(formats))
    if history is None and (run_dir / "metrics.jsonl").is_file():
        history = read_metrics(run_dir / "metrics.jsonl")
    before = before if before is not None else _read_json(run_dir / "report_before.json")
    after = after if after is not None else _read_json(run_dir / "report_after.json")
    _run_figures(emit, history, before, after)
    return [p for paths in emit.figures.values() for p in paths]


def _rows(report):
    """A report's JSON: a list of rows under ``rows``/``records``/``gaps`` becomes a DataFrame."""
    if isinstance(report, dict):
        for key in ("rows", "records", "gaps"):
            if isinstance(report.get(key), list):
                return pd.DataFrame(report[key])
    if isinstance(report, list):
        return pd.DataFrame(report)
    return report
