"""Reading run and sweep directories, and drawing every figure their records support.

Plotting only reads records, in the one format :mod:`da._runs` declares;
nothing here trains or re-computes a statistic. Files read (all optional;
each figure is drawn only when its inputs are there):

``metrics.jsonl`` (and a trainer run's ``steps.jsonl``)
    The training records. In a :mod:`da.experiments` run they are staged: the
    ``finetune_step`` (per step) and ``finetune`` (per epoch) records are the
    trajectory. A :func:`da.transfer.finetune` run has per-epoch records in
    ``metrics.jsonl`` and per-step ones in ``steps.jsonl``. Keys as the
    trainer writes them (:data:`da.plot.gaps.TRAJECTORY_QUANTITIES`); torn
    lines are skipped. -> ``trajectory``.
``report_before.json``, ``report_after.json``
    The diagnostics reports before and after transfer (a saved
    :class:`da.diagnostics.ShiftReport`). -> ``gap_before_after``; and, when a
    report carries ``label_shift`` estimates, ``label_shift_before`` /
    ``label_shift_after``.
``result.json`` of each run under an output root
    Read with :func:`da.experiments.collect_runs` (completed runs only; one
    row per run: dotted config columns, metric columns). Config columns that
    vary (other than the seed) are the factors. -> ``ablation_<factor>`` per
    factor (one line, or over a categorical factor one set of points with
    error bars, per method when the method varies), ``ablation_<f1>_x_<f2>``
    (a heatmap) when exactly two factors other than the method vary and every
    combination was run, ``shift_severity`` when ``data.generator.severity``
    varies, ``learning_curve`` when ``data.n_target_labeled`` varies.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from da._lazy import lazy_module

pd = lazy_module("pandas")

from da import _runs as R

__all__ = ["read_metrics", "read_results", "plot_run_dir", "run_figures"]


def read_metrics(path) -> list[dict]:
    """The records of a ``metrics.jsonl``; blank or unparsable (torn) lines are skipped.

    :func:`da._runs.read_jsonl`, except that a missing file is an error here (a
    figure was asked of it).
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no metrics file at {path}")
    return R.read_jsonl(path)


def _trajectory_records(records: list, steps: list | None = None) -> list:
    """The training trajectory: finite-valued records, fine-tuning stages only when staged.

    Per-step records (the ``finetune_step`` stage, or a trainer's
    ``steps.jsonl``) win for the keys they carry; per-epoch records add the
    rest (evaluations, feature diagnostics), so an epoch mean is never drawn
    on top of the per-step values of the same key.
    """
    def finite(recs):
        return [{k: v for k, v in r.items() if not (isinstance(v, float) and not math.isfinite(v))}
                for r in recs]

    clean = finite(records)
    if any("stage" in r for r in clean):
        steps = [r for r in clean if r.get("stage") == "finetune_step"]
        epochs = [r for r in clean if r.get("stage") == "finetune"]
    elif steps:
        steps, epochs = finite(steps), clean
    else:
        return clean
    step_keys = {k for r in steps for k in r} - {"stage", "step", "epoch"}
    return steps + [{k: v for k, v in r.items() if k not in step_keys} for r in epochs]


def read_results(root) -> pd.DataFrame:
    """One row per completed run under ``root``: :func:`da.experiments.collect_runs`, the table
    ``da collect`` prints (empty when there are none)."""
    from da.experiments.collect import collect_runs

    return collect_runs(root)


def _hashable(v):
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True)
    return v


def _factors(df: pd.DataFrame, y: str) -> list[str]:
    """Config columns that vary across runs: the sweep's factors (not metrics or seeds)."""
    from da.experiments.collect import varying_columns

    return [c for c in varying_columns(df) if c != y and not str(c).endswith(".seed")]


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
        emit("trajectory", lambda: plot_gap_trajectory(history))
    if before is not None and after is not None:
        emit("gap_before_after", lambda: plot_gap_before_after(before, after))
    for stage, rep in (("before", before), ("after", after)):
        ls = rep.get("label_shift") if isinstance(rep, dict) else None
        if isinstance(ls, dict) and ls.get("estimators"):
            emit(f"label_shift_{stage}", lambda ls=ls: plot_label_shift(
                ls.get("true_prior"), dict(ls["estimators"]), source_prior=ls.get("source_prior")))


def _history(run_dir: Path, history=None):
    """The trajectory records of a run directory (``history``: its metrics.jsonl records, if read)."""
    if history is None and (run_dir / R.METRICS).is_file():
        history = read_metrics(run_dir / R.METRICS)
    if not history:
        return None
    steps = R.read_jsonl(run_dir / R.STEPS)
    return _trajectory_records(history, steps)


def _crossed(df, a, b) -> bool:
    """Every level of ``a`` was run with every level of ``b`` (else a heatmap is mostly holes)."""
    pairs = df[[a, b]].map(_hashable).drop_duplicates()
    return len(pairs) == pairs[a].nunique() * pairs[b].nunique()


def _sweep_figures(emit, results, skipped):
    from da.plot.sweeps import plot_ablation, plot_learning_curve, plot_shift_severity

    y = R.TARGET_ACC
    if y not in results.columns:
        skipped.append(f"sweep: no {y!r} column in the runs' results")
        return
    results = results[np.isfinite(pd.to_numeric(results[y], errors="coerce"))]
    factors = _factors(results, y)
    hue = R.METHOD if R.METHOD in factors else None
    others = [f for f in factors if f != hue]
    for f in others:
        emit(f"ablation_{f.replace('.', '_')}", lambda f=f: plot_ablation(results, x=f, y=y, hue=hue))
    if hue is not None and not others:
        emit(f"ablation_{hue.replace('.', '_')}", lambda: plot_ablation(results, x=hue, y=y))
    if len(others) == 2 and _crossed(results, *others):
        a, b = others
        emit(f"ablation_{a.replace('.', '_')}_x_{b.replace('.', '_')}",
             lambda: plot_ablation(results, x=a, y=y, hue=b, kind="heatmap"))
    if R.SEVERITY in factors:
        emit("shift_severity", lambda: plot_shift_severity(results, severity=R.SEVERITY, accuracy=y,
                                                           hue=hue or R.METHOD))
    if R.N_TARGET_LABELED in factors:
        emit("learning_curve", lambda: plot_learning_curve(results, n_labeled=R.N_TARGET_LABELED,
                                                           accuracy=y, strategy=hue))


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
    emit = _Writer(Path(out_dir) if out_dir is not None else root / R.FIGURES_DIR, tuple(formats))
    _run_figures(emit, _history(root), R.read_json(root / R.REPORT_BEFORE), R.read_json(root / R.REPORT_AFTER))
    results = read_results(root)
    if len(results) >= 2:
        _sweep_figures(emit, results, emit.skipped)
    if not emit.figures:
        why = "; ".join(emit.skipped) if emit.skipped else (
            f"found none of {R.METRICS}, {R.REPORT_BEFORE} + {R.REPORT_AFTER}, "
            f"or two or more completed runs with a {R.RESULT}")
        raise ValueError(f"no figure applies to {root}: {why}")
    return {"figures": emit.figures, "skipped": emit.skipped}


def run_figures(run_dir, *, before=None, after=None, history=None, out_dir=None,
                formats=("png", "pdf")) -> list[Path]:
    """The figures of one run, from its directory or from records already in memory (``da run``
    calls it after each run).

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
    emit = _Writer(Path(out_dir) if out_dir is not None else run_dir / R.FIGURES_DIR, tuple(formats))
    before = before if before is not None else R.read_json(run_dir / R.REPORT_BEFORE)
    after = after if after is not None else R.read_json(run_dir / R.REPORT_AFTER)
    _run_figures(emit, _history(run_dir, history), before, after)
    return [p for paths in emit.figures.values() for p in paths]
