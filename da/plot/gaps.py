"""Distribution-gap figures: before/after adaptation, and along training."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from da.plot._inputs import as_frame, finite_scalar, pick_column
from da.plot._layout import axes_grid
from da.plot.style import PALETTE, PHASE_COLORS, TRUTH_COLOR, colors_for, metric_label

__all__ = ["plot_gap_before_after", "plot_gap_trajectory", "gap_frame", "TRAJECTORY_QUANTITIES"]

_SPACE_ORDER = ("inputs", "input", "features", "feature")
_GAP_COLUMNS = {
    "metric": ("metric", "name", "gap", "statistic"),
    "value": ("value", "estimate", "gap_value"),
    "ci_low": ("ci_low", "ci_lo", "low", "lower"),
    "ci_high": ("ci_high", "ci_hi", "high", "upper"),
    "truth": ("truth", "ground_truth", "true_value", "analytic"),
    "space": ("space", "representation", "level", "where"),
}


def _entry(metric, entry, space, who):
    """One gap entry (a number, a dict or a GapResult-like object) -> a row."""
    if isinstance(entry, Mapping):
        if "value" not in entry:
            raise ValueError(f"{who}[{metric!r}] has no 'value' (keys: {sorted(entry)})")
        value, ci, truth = entry["value"], entry.get("ci"), entry.get("truth")
        if ci is None and ("ci_low" in entry or "ci_high" in entry):
            ci = (entry.get("ci_low"), entry.get("ci_high"))
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


_ENTRY_KEYS = ("value", "ci", "truth", "ci_low", "ci_high")


def _is_entry(v) -> bool:
    return not isinstance(v, Mapping) or any(k in v for k in _ENTRY_KEYS)


def gap_frame(report, name: str = "report") -> pd.DataFrame:
    """Normalise one side of a before/after comparison to a tidy frame.

    Returns a DataFrame with columns ``space, metric, value, ci_low, ci_high,
    truth`` (NaN where a CI or a truth is absent). See
    :func:`plot_gap_before_after` for the accepted inputs.
    """
    if report is None:
        raise ValueError(f"{name} is None; nothing to plot")
    if not isinstance(report, (Mapping, pd.DataFrame)) and not hasattr(report, "to_frame") \
            and hasattr(report, "to_dict"):
        report = report.to_dict()
    if isinstance(report, Mapping):
        body = report.get("gaps", report) if isinstance(report.get("gaps"), Mapping) else report
        rows = []
        for key, val in body.items():
            if _is_entry(val):
                rows.append(_entry(key, val, "inputs", name))
            elif all(_is_entry(v) for v in val.values()):  # {space: {metric: entry}}
                rows.extend(_entry(m, e, str(key), f"{name}[{key!r}]") for m, e in val.items())
            else:
                raise ValueError(f"{name}[{key!r}] is neither a gap entry nor a {{metric: entry}} mapping")
        df = pd.DataFrame(rows, columns=["space", "metric", "value", "ci_low", "ci_high", "truth"])
        if df.empty:
            raise ValueError(f"{name} is empty; nothing to plot")
        return df
    df = as_frame(report, name)
    cols = {}
    for canon, aliases in _GAP_COLUMNS.items():
        col = pick_column(df, None, aliases, name, canon, required=canon in ("metric", "value"))
        cols[canon] = df[col] if col is not None else np.nan
    if "ci" in df.columns and not any(a in df.columns for a in _GAP_COLUMNS["ci_low"]):
        ci = [(np.nan, np.nan) if c is None or (np.isscalar(c) and pd.isna(c)) else tuple(c) for c in df["ci"]]
        cols["ci_low"], cols["ci_high"] = [c[0] for c in ci], [c[1] for c in ci]
    out = pd.DataFrame(cols, index=df.index).reset_index(drop=True)
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
        Each side in one of these formats:

        - ``{metric: {"value": v, "ci": (lo, hi), "truth": t}}`` where ``ci``
          and ``truth`` are optional (``None`` or absent); an entry may also be
          a bare number or an object with ``.value``/``.ci`` (a ``GapResult``);
        - ``{space: {metric: entry}}``, e.g. ``{"inputs": {...}, "features": {...}}``;
        - a mapping with a ``"gaps"`` key holding either of the above (a
          report's JSON);
        - a DataFrame, or an object whose ``.to_frame()`` returns one (a
          ``ShiftReport``), with columns ``metric`` and ``value`` and, optionally,
          ``ci_low``, ``ci_high`` (or a ``ci`` column of pairs), ``truth`` and
          ``space`` (default ``"inputs"``). NaN in ``ci_*``/``truth`` means absent.
    metrics : list of str, optional
        Which metrics to draw, in this order (default: all, in order of appearance).
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
    width = 0.38
    any_truth = False
    for a, grp in zip(axes, groups):
        x = np.arange(len(grp))
        truth_drawn = False
        for j, (side, lab) in enumerate(zip(sides, labels)):
            vals, err_lo, err_hi, truths = [], [], [], []
            for m, s in grp:
                row = side[(side["metric"] == m) & (side["space"] == s)]
                if row.empty:
                    vals.append(np.nan), err_lo.append(0.0), err_hi.append(0.0), truths.append(np.nan)
                    continue
                r = row.iloc[0]
                vals.append(r["value"])
                lo = r["ci_low"] if np.isfinite(r["ci_low"]) else r["value"]
                hi = r["ci_high"] if np.isfinite(r["ci_high"]) else r["value"]
                err_lo.append(max(r["value"] - lo, 0.0))
                err_hi.append(max(hi - r["value"], 0.0))
                truths.append(r["truth"])
            xs = x + (j - 0.5) * width
            a.bar(xs, np.nan_to_num(vals), width, color=colors[j], label=lab,
                  yerr=[err_lo, err_hi], capsize=3, error_kw={"elinewidth": 1})
            t = np.asarray(truths, dtype=float)
            if np.isfinite(t).any():
                any_truth = True
                a.plot(xs[np.isfinite(t)], t[np.isfinite(t)], linestyle="none", marker="D",
                       color=TRUTH_COLOR, markersize=6, zorder=5,
                       label="_nolegend_" if truth_drawn else "analytic truth")
                truth_drawn = True
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
    handles, names = axes[0].get_legend_handles_labels()
    if any_truth and "analytic truth" not in names:
        for a in axes[1:]:
            h, n = a.get_legend_handles_labels()
            if "analytic truth" in n:
                handles.append(h[n.index("analytic truth")])
                names.append("analytic truth")
                break
    axes[0].legend(handles, names, frameon=False, fontsize="small")
    return fig


#: Canonical trajectory quantities and the record keys accepted for each.
TRAJECTORY_QUANTITIES = {
    "mmd2": ("mmd2", "mmd2_features", "feature_mmd2", "gap_mmd2"),
    "a_distance": ("a_distance", "proxy_a", "proxy_a_distance", "pad"),
    "disc_acc": ("disc_acc", "domain_acc", "discriminator_acc", "domain_accuracy"),
    "lambda": ("lambda", "lam", "lambda_", "lmbda", "align_weight"),
    "target_acc": ("target_acc", "acc_target", "target_accuracy", "val_target_acc",
                   "target_val_acc", "test_target_acc"),
}
_STEP_ALIASES = ("step", "global_step", "iteration", "iter", "epoch")


def _find(df, aliases):
    """A column equal to an alias, or ending in ``.alias`` (flattened nested records)."""
    for a in aliases:
        if a in df.columns:
            return a
    for a in aliases:
        for c in df.columns:
            if str(c).endswith("." + a) or str(c).endswith("/" + a):
                return c
    return None


def _reject_explicit_nan(records, name):
    for i, r in enumerate(records):
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{name}[{i}][{k!r}] is {v}; NaN/inf cannot be plotted")


def plot_gap_trajectory(metrics, *, quantities=None, step=None, hue=None, truth=None, ax=None):
    """Gap metrics, λ and target accuracy against training step, one panel each.

    Parameters
    ----------
    metrics : list of dict, DataFrame or dict of columns
        Training records, as in a run's ``metrics.jsonl``: one dict per logged
        step holding a step key (``step``, ``global_step``, ``iteration`` or
        ``epoch``) and any of the quantities. Records may be sparse (evaluation
        logged every N steps): a key absent from a record is simply not drawn
        there. Nested dicts are flattened, and ``"metrics.mmd2"`` counts as ``mmd2``.
    quantities : list of str, optional
        Columns to draw, one panel each. Default: those present among
        :data:`TRAJECTORY_QUANTITIES` (MMD², proxy A-distance, discriminator
        accuracy, λ, target accuracy), in that order.
    step : str, optional
        The x column (default: first of the step keys above).
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
        a quantity with no finite value at all is an error).
    """
    name = "metrics"
    if isinstance(metrics, (list, tuple)):
        if not metrics:
            raise ValueError("metrics is empty; nothing to plot")
        _reject_explicit_nan(metrics, name)
    df = as_frame(metrics, name)
    xcol = step if step is not None else _find(df, _STEP_ALIASES)
    if xcol is None or xcol not in df.columns:
        raise ValueError(f"metrics has no step column (looked for {step or list(_STEP_ALIASES)}); "
                         f"columns are {sorted(map(str, df.columns))}")
    if quantities is None:
        cols = [(canon, _find(df, aliases)) for canon, aliases in TRAJECTORY_QUANTITIES.items()]
        cols = [(canon, c) for canon, c in cols if c is not None]
        if not cols:
            raise ValueError(f"metrics holds none of {list(TRAJECTORY_QUANTITIES)}; "
                             f"columns are {sorted(map(str, df.columns))}; pass quantities=")
    else:
        if isinstance(quantities, str):
            quantities = [quantities]
        cols = []
        for q in quantities:
            c = q if q in df.columns else _find(df, TRAJECTORY_QUANTITIES.get(q, (q,)))
            if c is None:
                raise ValueError(f"metrics has no column {q!r}; columns are {sorted(map(str, df.columns))}")
            cols.append((q, c))
        if not cols:
            raise ValueError("quantities is empty")
    if hue is not None and hue not in df.columns:
        raise ValueError(f"metrics has no column {hue!r} for hue")
    x_all = pd.to_numeric(df[xcol], errors="coerce")
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    hue_colors = colors_for([g for g, _ in groups]) if hue is not None else {}
    fig, axes = axes_grid(ax, len(cols), figsize_per=(6.0, 1.9), ncols=1, sharex=True,
                          what="quantity panels")
    handles, truth_handle = {}, None
    for i, (a, (canon, c)) in enumerate(zip(axes, cols)):
        vals = pd.to_numeric(df[c], errors="coerce")
        finite = np.isfinite(vals.to_numpy(dtype=float)) & np.isfinite(x_all.to_numpy(dtype=float))
        if not finite.any():
            raise ValueError(f"metrics[{c!r}] has no finite value at any step; nothing to plot")
        for g, sub in groups:
            m = finite[df.index.get_indexer(sub.index)]
            if not m.any():
                continue
            xs, ys = x_all[sub.index[m]].to_numpy(float), vals[sub.index[m]].to_numpy(float)
            order = np.argsort(xs, kind="stable")
            color = hue_colors[g] if hue is not None else PALETTE[i % len(PALETTE)]
            label = str(g) if hue is not None else canon
            (line,) = a.plot(xs[order], ys[order], color=color, linewidth=1.4,
                             marker="." if m.sum() < 30 else None, label=label)
            handles.setdefault(label, line)
        if truth and canon in truth:
            t = finite_scalar(truth[canon], f"truth[{canon!r}]")
            truth_handle = a.axhline(t, color=TRUTH_COLOR, linestyle="--", linewidth=1,
                                     label="analytic truth")
        a.set_ylabel(metric_label(canon).replace(" (", "\n("), fontsize="small")
        a.grid(alpha=0.3)
    for a in axes[:-1]:
        a.tick_params(labelbottom=False)
    axes[-1].set_xlabel(f"training {xcol} (iterations)" if xcol != "epoch" else "training epoch (epochs)")
    if truth_handle is not None:
        handles["analytic truth"] = truth_handle
    axes[0].legend(list(handles.values()), list(handles.keys()), frameon=False, fontsize="small",
                   ncols=min(len(handles), 4), loc="best")
    return fig
