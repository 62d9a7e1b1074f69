"""Distribution-gap figures: before/after adaptation, and along training."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from da import _runs as R
from da._lazy import lazy_module
from da._validation import as_frame, finite_scalar
from da.plot._layout import axes_grid
from da.plot.style import PALETTE, PHASE_COLORS, TRUTH_COLOR, colors_for, metric_label

pd = lazy_module("pandas")

__all__ = ["plot_gap_before_after", "plot_gap_trajectory", "gap_frame", "TRAJECTORY_QUANTITIES"]

#: The spaces a shift report measures in (da.diagnostics.shift_report), in drawing order.
_SPACE_ORDER = ("inputs", "features")
_GAP_ORDER = ("space", "metric", "value", "ci_low", "ci_high", "truth")
_GAP_KIND = "metric"  # the kind of a ShiftReport row holding a gap estimate (tests are "test")


def _entry(metric, entry, space, who):
    """One gap entry (a number, a dict or a GapResult-like object) -> a row."""
    if isinstance(entry, Mapping):
        if "value" not in entry:
            raise ValueError(f"{who}[{metric!r}] has no 'value' (keys: {sorted(entry)})")
        value, ci, truth = entry["value"], entry.get("ci"), entry.get("truth")
    elif hasattr(entry, "value"):
        value, ci, truth = entry.value, getattr(entry, "ci", None), getattr(entry, "truth", None)
    else:
        value, ci, truth = entry, None, None
    value = finite_scalar(value, f"{who}[{metric!r}] value")
    lo = hi = np.nan
    if ci is not None:
        if len(ci) != 2:
            raise ValueError(f"{who}[{metric!r}] ci must be (low, high), got {ci!r}")
        lo, hi = (np.nan if c is None else float(c) for c in ci)
    return {"space": space, "metric": str(metric), "value": value, "ci_low": lo, "ci_high": hi,
            "truth": np.nan if truth is None else float(truth)}


_ENTRY_KEYS = ("value", "ci", "truth")  # GapResult.to_dict()'s, and the truth drawn beside it


def _is_entry(v) -> bool:
    """A gap entry: a number, a GapResult, or a mapping with any of :data:`_ENTRY_KEYS`."""
    return not isinstance(v, Mapping) or any(k in v for k in _ENTRY_KEYS)


def _mapping_rows(report: Mapping, name: str) -> list:
    """``{metric: entry}`` or ``{space: {metric: entry}}`` -> rows."""
    rows = []
    for key, val in report.items():
        if _is_entry(val):
            rows.append(_entry(key, val, "inputs", name))
        elif all(_is_entry(v) for v in val.values()):
            rows += [_entry(metric, entry, str(key), f"{name}[{key!r}]") for metric, entry in val.items()]
        else:
            raise ValueError(f"{name}[{key!r}] is neither a gap entry nor a {{metric: entry}} mapping")
    return rows


def _report_rows(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """The gap rows of a ShiftReport table (columns :data:`da.diagnostics.report.COLUMNS`)."""
    df = df[df["kind"].astype(str) == _GAP_KIND]
    if df.empty:
        raise ValueError(f"{name} is empty: it has no rows of kind {_GAP_KIND!r} (gap estimates)")
    return df.rename(columns={"name": "metric"})


def gap_frame(report, name: str = "report") -> pd.DataFrame:
    """Normalise one side of a before/after comparison to a tidy frame.

    Returns a DataFrame with columns ``space, metric, value, ci_low, ci_high,
    truth`` (NaN where a CI or a truth is absent). See
    :func:`plot_gap_before_after` for the accepted inputs.
    """
    if report is None:
        raise ValueError(f"{name} is None; nothing to plot")
    if hasattr(report, "rows") and hasattr(report, "to_frame"):  # a ShiftReport
        report = report.to_frame()
    if isinstance(report, Mapping) and isinstance(report.get("rows"), list):  # its saved JSON
        report = pd.DataFrame(report["rows"])
    if isinstance(report, Mapping):
        df = pd.DataFrame(_mapping_rows(report, name), columns=list(_GAP_ORDER))
        if df.empty:
            raise ValueError(f"{name} is empty: it holds no gap estimates")
        return df
    df = as_frame(report, name)
    if "kind" in df.columns:
        df = _report_rows(df, name)
    for col in ("metric", "value"):
        if col not in df.columns:
            raise ValueError(f"{name} has no column {col!r}; columns are {sorted(map(str, df.columns))}")
    out = pd.DataFrame({c: df[c] if c in df.columns else np.nan for c in _GAP_ORDER},
                       index=df.index).reset_index(drop=True)
    out["space"] = out["space"].astype(object).where(out["space"].notna(), "inputs").astype(str)
    out["metric"] = out["metric"].astype(str)
    for c in ("value", "ci_low", "ci_high", "truth"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    bad = ~np.isfinite(out["value"].to_numpy())
    if bad.any():
        raise ValueError(f"{name} has NaN/inf gap values for {out.loc[bad, 'metric'].tolist()}")
    return out


def _ordered(values, order=()):
    seen = list(dict.fromkeys(values))
    return sorted(seen, key=lambda v: (order.index(v) if v in order else len(order), seen.index(v)))


def plot_gap_before_after(before, after, *, metrics=None, ax=None, labels=("before", "after")):
    """Gap metrics before and after adaptation, as grouped bars with CI error bars.

    One panel per gap metric (their scales differ: MMD² is small, the
    A-distance lies in [0, 2]). Within a panel, bars are grouped by the space
    the gap was measured in (``inputs``, ``features``), one bar per side.
    Analytic ground truth, where given, is a black diamond on the bar.

    Parameters
    ----------
    before, after : mapping, DataFrame or report object
        Each side in one of the forms :mod:`da` produces:

        - a :class:`da.diagnostics.ShiftReport`, or its saved JSON (``{"rows":
          [...], ...}``, as in a run's ``report_before.json``/``report_after.json``):
          its rows of kind ``"metric"`` are the gaps, with their ``space``,
          ``ci_low``/``ci_high`` and analytic ``truth`` (set by the report only
          where the closed form is the same quantity, e.g. an MMD² at the
          bandwidth the truth was computed for);
        - a DataFrame with that report's columns (``kind``, ``name``, ...), or
          with :func:`gap_frame`'s (``metric``, ``value`` and optionally
          ``space``, ``ci_low``, ``ci_high``, ``truth``; NaN means absent);
        - ``{metric: entry}`` or ``{space: {metric: entry}}``, where an entry is
          a :class:`~da.diagnostics.GapResult`, its ``to_dict()`` (``value``,
          ``ci``), optionally with a ``truth``, or a bare number.
    metrics : list of str, optional
        Which metrics to draw, in this order (default: all, in order of appearance).
        A (metric, space) pair missing from one side is marked "n/a" (no bar),
        and an estimate without an interval gets no error bar.
    ax : Axes or sequence of Axes, optional
        One Axes per metric; or a single Axes, on which all (metric, space)
        groups are drawn side by side.
    labels : (str, str)
        Legend names of the two sides.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If a side is empty, a value is NaN/inf, or ``metrics`` names a missing metric.

    Examples
    --------
    >>> before = {"mmd2": {"value": 0.30, "ci": (0.25, 0.35), "truth": 0.31}}
    >>> after = {"mmd2": {"value": 0.05, "ci": (0.02, 0.08)}}
    >>> fig = plot_gap_before_after(before, after)
    """
    sides = [gap_frame(before, "before"), gap_frame(after, "after")]
    both = pd.concat(sides)
    present = list(dict.fromkeys(both["metric"]))
    if metrics is None:
        metrics = present
    else:
        metrics = [str(m) for m in metrics]
        missing = [m for m in metrics if m not in present]
        if not metrics or missing:
            raise ValueError(f"metrics {missing or metrics} not found; available: {present}")
    spaces = _ordered(both["space"], _SPACE_ORDER)
    single = ax is not None and hasattr(ax, "plot")
    if single:
        fig, axes = axes_grid(ax, 1)
        groups = [[(m, s) for m in metrics for s in spaces
                   if ((both["metric"] == m) & (both["space"] == s)).any()]]
    else:
        fig, axes = axes_grid(ax, len(metrics), what="metric panels")
        groups = [[(m, s) for s in spaces if ((both["metric"] == m) & (both["space"] == s)).any()]
                  for m in metrics]
    colors = [PHASE_COLORS["before"], PHASE_COLORS["after"]]
    any_truth = False
    for a, grp in zip(axes, groups):
        x = np.arange(len(grp))
        truth_drawn = False
        for j, (side, lab) in enumerate(zip(sides, labels)):
            drew = _side_bars(a, side, grp, x + (j - 0.5) * _BAR_WIDTH, lab, colors[j], truth_drawn)
            truth_drawn |= drew
            any_truth |= drew
        _label_gap_panel(a, grp, x, single)
    handles, names = axes[0].get_legend_handles_labels()
    if any_truth and "analytic truth" not in names:
        for a in axes[1:]:
            h, n = a.get_legend_handles_labels()
            if "analytic truth" in n:
                handles.append(h[n.index("analytic truth")])
                names.append("analytic truth")
                break
    axes[-1].legend(handles, names, frameon=False, fontsize="small", loc="upper left",
                    bbox_to_anchor=(1.02, 1.0))
    return fig


_BAR_WIDTH = 0.38


def _side_bars(a, side, grp, xs, label, color, truth_drawn: bool) -> bool:
    """One side's bars (with CI error bars, "n/a" where unmeasured) and truth diamonds on ``a``;
    returns whether a truth was drawn."""
    vals, err_lo, err_hi, truths = [], [], [], []
    for m, s in grp:
        row = side[(side["metric"] == m) & (side["space"] == s)]
        if row.empty:
            vals.append(np.nan), err_lo.append(np.nan), err_hi.append(np.nan), truths.append(np.nan)
            continue
        r = row.iloc[0]
        vals.append(r["value"])
        has_ci = np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"])
        # no interval: no error bar (a zero-width cap would read as a certain value)
        err_lo.append(max(r["value"] - r["ci_low"], 0.0) if has_ci else np.nan)
        err_hi.append(max(r["ci_high"] - r["value"], 0.0) if has_ci else np.nan)
        truths.append(r["truth"])
    a.bar(xs, np.nan_to_num(vals), _BAR_WIDTH, color=color, label=label,
          yerr=[err_lo, err_hi], capsize=3, error_kw={"elinewidth": 1})
    for xi, v in zip(xs, vals):
        if not np.isfinite(v):  # not measured: say so rather than draw a zero-height bar
            a.annotate("n/a", (xi, 0), ha="center", va="bottom", fontsize=7, color="0.4")
    t = np.asarray(truths, dtype=float)
    if not np.isfinite(t).any():
        return False
    a.plot(xs[np.isfinite(t)], t[np.isfinite(t)], linestyle="none", marker="D", color=TRUTH_COLOR,
           markersize=6, zorder=5, label="_nolegend_" if truth_drawn else "analytic truth")
    return True


def _label_gap_panel(a, grp, x, single: bool) -> None:
    if single:
        a.set_xticks(x, [f"{m}\n({s})" for m, s in grp])
        a.set_ylabel("gap estimate (metric units)")
        a.set_xlabel("gap metric (space measured in)")
    else:
        a.set_xticks(x, [s for _, s in grp])
        a.set_ylabel(metric_label(grp[0][0]))
        a.set_xlabel("space measured in")
        a.set_title(grp[0][0])
    a.axhline(0, color="0.6", linewidth=0.6)


#: The quantities drawn along training, and the record keys of each as the trainer
#: writes them (:mod:`da._runs`): a gap metric ``q`` is ``diag/features_<q>`` (the
#: pipeline's feature-gap hook) or ``<term>/<q>`` (a loss's ``last_stats_``, e.g.
#: ``mmd/mmd2``); ``disc_acc`` is ``<term>/disc_acc``; ``lambda`` is ``lambda/<term>``
#: (one per loss term); the target accuracy is ``target_val_acc``/``target_test_acc``
#: (evaluation only). A key equal to the quantity's name counts too.
TRAJECTORY_QUANTITIES = {
    "mmd2": "gap",
    "proxy_a_distance": "gap",
    "disc_acc": "stat",
    "lambda": "weight",
    "target_acc": "accuracy",
}
_STEP_KEYS = (R.STEP, R.EPOCH)
# prefixes of record keys that are not a loss's statistics
_NOT_STATS = (R.LOSS_PREFIX, R.WEIGHT_PREFIX, R.SELECTION_PREFIX, R.DIAG_PREFIX)


def _is_stat(col: str, q: str) -> bool:
    """``<term>/<q>``: the statistic ``q`` of one loss term."""
    term, sep, stat = col.rpartition("/")
    return bool(sep) and stat == q and "/" not in term and not col.startswith(_NOT_STATS)


def _columns_for(df, quantity: str) -> list:
    kind = TRAJECTORY_QUANTITIES.get(quantity)
    out = []
    for col in map(str, df.columns):
        if col == quantity:
            out.append(col)
        elif kind == "gap" and (col == f"{R.DIAG_PREFIX}features_{quantity}" or _is_stat(col, quantity)):
            out.append(col)
        elif kind == "stat" and _is_stat(col, quantity):
            out.append(col)
        elif kind == "weight" and col.startswith(R.WEIGHT_PREFIX):
            out.append(col)
        elif kind == "accuracy" and col in R.TARGET_EVAL_ACCURACIES:
            out.append(col)
    return out


def _has_finite(s: pd.Series) -> bool:
    return bool(np.isfinite(pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)).any())


def _band(df, col, rows):
    """``(low, high)`` at ``rows`` from the ``<col>_lo``/``<col>_hi`` columns, where both are
    finite; else None."""
    lo_c, hi_c = (f"{col}{suffix}" for suffix in R.BOUND_SUFFIXES)
    if lo_c in df.columns and hi_c in df.columns:
        lo = pd.to_numeric(df[lo_c], errors="coerce").to_numpy(dtype=float)[rows]
        hi = pd.to_numeric(df[hi_c], errors="coerce").to_numpy(dtype=float)[rows]
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            return lo, hi
    return None


def _reject_explicit_nan(records, name):
    for i, r in enumerate(records):
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{name}[{i}][{k!r}] is {v}; NaN/inf cannot be plotted")


def _trajectory_panels(df, xcol, quantities) -> list:
    """``[(quantity, [columns])]`` with a finite value somewhere: the given quantities, or every known one."""
    panels = []
    if quantities is None:
        for q in TRAJECTORY_QUANTITIES:
            cols = [c for c in _columns_for(df, q) if c != xcol and _has_finite(df[c])]
            if cols:
                panels.append((q, cols))
        if not panels:
            raise ValueError(f"metrics has no finite value for any of {list(TRAJECTORY_QUANTITIES)}; "
                             f"columns are {sorted(map(str, df.columns))}; pass quantities=")
        return panels
    for q in [quantities] if isinstance(quantities, str) else list(quantities):
        cols = _columns_for(df, q)
        if not cols:
            raise ValueError(f"metrics has no column for {q!r}; columns are {sorted(map(str, df.columns))}")
        if not any(_has_finite(df[c]) for c in cols):
            raise ValueError(f"metrics[{q!r}] has no finite value at any step; nothing to plot")
        panels.append((q, [c for c in cols if _has_finite(df[c])]))
    if not panels:
        raise ValueError("quantities is empty")
    return panels


def plot_gap_trajectory(metrics, *, quantities=None, step=None, hue=None, truth=None, ax=None):
    """Gap metrics, λ and target accuracy against training step, one panel each.

    Parameters
    ----------
    metrics : list of dict, DataFrame or dict of columns
        Training records, as in a run's ``metrics.jsonl`` or ``FitResult.history``:
        one dict per logged step holding ``step`` or ``epoch`` and any of the
        quantities. Records may be sparse (evaluation logged every N epochs): a
        key absent from a record is simply not drawn there.
    quantities : list of str, optional
        Panels to draw: names of :data:`TRAJECTORY_QUANTITIES` or columns.
        Default: every one of MMD², proxy A-distance, discriminator accuracy,
        λ and target accuracy that has a value in the records, in that order,
        read from the keys the trainer writes (see :data:`TRAJECTORY_QUANTITIES`:
        ``diag/features_mmd2`` and ``mmd/mmd2`` are MMD², ``lambda/dann`` is λ).
        A panel with several keys draws one line per key, labelled by the key.
        A key with companions ``<key>_lo`` and ``<key>_hi`` (a confidence
        interval, as the experiments log their feature gaps) gets a shaded band.
    step : str, optional
        The x column (default ``step``, else ``epoch``).
    hue : str, optional
        A column splitting the records into several runs (e.g. ``"method"``),
        one line each.
    truth : dict, optional
        ``{quantity: value}`` drawn as a dashed black reference line.
    ax : sequence of Axes, optional
        One Axes per quantity.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        On no records, no step column, none of the quantities present, or an
        explicit NaN/inf in a record (in a DataFrame, NaN means "not logged";
        a requested quantity with no finite value at all is an error).

    Examples
    --------
    >>> recs = [{"step": s, "mmd2": 1 / (1 + s), "lambda/dann": s / 10} for s in range(10)]
    >>> fig = plot_gap_trajectory(recs)
    """
    name = "metrics"
    if isinstance(metrics, (list, tuple)):
        if not metrics:
            raise ValueError("metrics is empty; nothing to plot")
        _reject_explicit_nan(metrics, name)
    df = as_frame(metrics, name)
    xcol = step if step is not None else next((a for a in _STEP_KEYS if a in df.columns), None)
    if xcol is None or xcol not in df.columns:
        raise ValueError(f"metrics has no step column (looked for {step or list(_STEP_KEYS)}); "
                         f"columns are {sorted(map(str, df.columns))}")
    panels = _trajectory_panels(df, xcol, quantities)
    if hue is not None and hue not in df.columns:
        raise ValueError(f"metrics has no column {hue!r} for hue")
    x_all = pd.to_numeric(df[xcol], errors="coerce").to_numpy(dtype=float)
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    hue_colors = colors_for([g for g, _ in groups]) if hue is not None else {}
    fig, axes = axes_grid(ax, len(panels), figsize_per=(6.0, 1.9), ncols=1, sharex=True,
                          what="quantity panels")
    handles, truth_handle, k = {}, None, 0
    for a, (q, cols) in zip(axes, panels):
        for c in cols:
            vals = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
            finite = np.isfinite(vals) & np.isfinite(x_all)
            color = PALETTE[k % len(PALETTE)]
            k += 1
            for g, sub in groups:
                rows = df.index.get_indexer(sub.index)
                rows = rows[finite[rows]]
                if rows.size == 0:
                    continue
                order = np.argsort(x_all[rows], kind="stable")
                xs, ys = x_all[rows][order], vals[rows][order]
                if hue is not None:
                    label = str(g) if len(cols) == 1 else f"{g}: {c}"
                    color = hue_colors[g]
                else:
                    label = q if c == q else str(c)
                style = "-" if hue is None or len(cols) == 1 else ("-", "--", ":")[cols.index(c) % 3]
                (line,) = a.plot(xs, ys, color=color, linewidth=1.4, linestyle=style,
                                 marker="." if rows.size < 30 else None, label=label)
                handles.setdefault(label, line)
                band = _band(df, c, rows[order])
                if band is not None:
                    a.fill_between(xs, band[0], band[1], color=color, alpha=0.2, linewidth=0)
        if truth and q in truth:
            t = finite_scalar(truth[q], f"truth[{q!r}]")
            truth_handle = a.axhline(t, color=TRUTH_COLOR, linestyle="--", linewidth=1,
                                     label="analytic truth")
        a.set_ylabel(metric_label(q).replace(" (", "\n("), fontsize="small")
        a.grid(alpha=0.3)
    _finish_trajectory(axes, xcol, handles, truth_handle)
    return fig


def _finish_trajectory(axes, xcol, handles: dict, truth_handle) -> None:
    """Shared x axis, its label, and one legend above the first panel."""
    for a in axes[:-1]:
        a.tick_params(labelbottom=False)
    axes[-1].set_xlabel(f"training {xcol} (iterations)" if xcol != "epoch" else "training epoch (epochs)")
    if truth_handle is not None:
        handles["analytic truth"] = truth_handle
    axes[0].legend(list(handles.values()), list(handles.keys()), frameon=False, fontsize="x-small",
                   ncols=min(len(handles), 3), loc="lower left", bbox_to_anchor=(0.0, 1.02))
