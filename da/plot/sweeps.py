"""Figures over many runs: shift severity, ablations and learning curves.

Each takes tidy results, one row per run (as ``da collect`` produces, or a
list of ``result.json`` records), and averages over repeated seeds: a line is
the mean and its band the Student-t confidence interval of the mean (over a
categorical factor, which has no order, a point and an error bar per level).
"""

from __future__ import annotations

import numpy as np

from da import _runs as R
from da._lazy import lazy_module
from da._validation import as_frame, check_confidence, numeric_column, require_column
from da.plot._layout import axes_grid
from da.plot._summary import COUNT, HIGH, LOW, MEAN, mean_ci
from da.plot.style import METRIC_LABELS, TRUTH_COLOR, colors_for, metric_label

pd = lazy_module("pandas")

__all__ = ["plot_shift_severity", "plot_ablation", "plot_learning_curve"]

#: Baselines (da.transfer.baselines) come first in a legend, in this order; the rest in order of appearance.
_BASELINE_ORDER = ("scratch", "source_only", "finetune_no_align", "target_only")


def _is_numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s)) and not pd.api.types.is_bool_dtype(s)


def _factor_label(df, col) -> str:
    """A numeric factor's values are as configured; a categorical one needs no unit."""
    if col in METRIC_LABELS or not _is_numeric(df[col]):
        return metric_label(col) if col in METRIC_LABELS else str(col)
    return f"{col} (as configured)"


def _support(df, y):
    """The range a band may not leave: [0, 1] for accuracies and other fractions in [0, 1]."""
    vals = df[y].to_numpy(dtype=float)
    if ("acc" in str(y).lower() or "fraction" in metric_label(y)) and vals.min() >= 0 and vals.max() <= 1:
        return 0.0, 1.0
    return -np.inf, np.inf


def _draw_lines(ax, df, x, y, hue, *, confidence, order=None, linestyle="-", colors=None):
    """Mean ± CI of ``y`` vs ``x``, one line (and band) per ``hue`` level. Returns handles.

    A categorical ``x`` has no order between its levels, so nothing joins them: each
    level gets a point with a CI error bar, the ``hue`` levels side by side around it.
    A band (or bar) is clipped to the support of ``y`` (``[0, 1]`` for an accuracy): a
    t-interval over two or three seeds can reach past it, and the mean cannot."""
    lo_clip, hi_clip = _support(df, y)
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    if hue is not None and order:
        rank = {v: i for i, v in enumerate(order)}
        groups.sort(key=lambda g: rank.get(str(g[0]), len(rank)))
    colors = colors or colors_for([g for g, _ in groups])
    numeric_x = _is_numeric(df[x])
    cats = list(dict.fromkeys(df[x])) if not numeric_x else None
    step = min(0.15, 0.6 / len(groups))  # dodge of the hue levels at one category
    handles = []
    for i, (g, sub) in enumerate(groups):
        s = mean_ci(sub, x, y, confidence)
        xs = s[x].to_numpy(dtype=float) if numeric_x else np.array([cats.index(v) for v in s[x]], float)
        order_ = np.argsort(xs, kind="stable")
        xs = xs[order_]
        mean = s[MEAN].to_numpy()[order_]
        low = np.clip(s[LOW].to_numpy()[order_], lo_clip, hi_clip)
        high = np.clip(s[HIGH].to_numpy()[order_], lo_clip, hi_clip)
        label = str(g) if hue is not None else metric_label(y).split(" (")[0]
        if not numeric_x:
            yerr = np.vstack([mean - low, high - mean]) if (s[COUNT] > 1).any() else None
            handles.append(ax.errorbar(xs + (i - (len(groups) - 1) / 2) * step, mean, yerr=yerr, fmt="o",
                                       markersize=4, capsize=3, color=colors[g], label=label))
            continue
        (line,) = ax.plot(xs, mean, marker="o", markersize=4, color=colors[g], linestyle=linestyle,
                          label=label)
        if (s[COUNT] > 1).any():
            ax.fill_between(xs, low, high, color=colors[g], alpha=0.2, linewidth=0)
        handles.append(line)
    if not numeric_x:
        ax.set_xticks(range(len(cats)), [str(c) for c in cats])
    return handles


def _tick(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else str(v)


def _log_ticks_at_data(ax, values):
    """On a log x-axis, label the swept values themselves (plain numbers, no minor labels)."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    vals = np.unique(np.asarray(values, dtype=float))
    if vals.size <= 12:
        ax.set_xticks(vals, [f"{v:g}" for v in vals])
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.xaxis.set_major_formatter(ScalarFormatter())


def _band_note(df, by, confidence):
    n = df.groupby(by).size()
    lo, hi = int(n.min()), int(n.max())
    if hi == 1:
        return "one run per point (no CI band)"
    seeds = f"{lo}" if lo == hi else f"{lo}–{hi}"
    return f"mean ± {confidence:.0%} CI over {seeds} run(s)"


def _align_zero(ax, twin):
    """Put the twin axis's zero at the height of the main axis's zero (non-negative truths),
    so a reader does not compare two baselines that differ."""
    a0, a1 = ax.get_ylim()
    _, t1 = twin.get_ylim()
    low = min((np.nanmin(ln.get_ydata()) for ln in twin.get_lines()), default=0.0)
    if not (a0 < 0 < a1) or low < 0 or t1 <= 0:
        return
    f = -a0 / (a1 - a0)  # height of zero, as a fraction of the main axis
    twin.set_ylim(-f / (1 - f) * t1, t1)


def _draw_truth(ax, df, x, hue, colors):
    """The analytic gap: one black line when it is a property of the data alone (the same
    for every method at a severity), else one dashed line per hue level, in its colour."""
    per_hue = hue is not None and bool((df.groupby(x)["_t"].nunique() > 1).any())
    if per_hue:
        groups = [(sub, colors[g], f"{g}: true gap") for g, sub in df.groupby(hue, sort=False)]
    else:
        groups = [(df, TRUTH_COLOR, "true gap (analytic)")]
    handles = []
    for sub, color, label in groups:
        tt = sub.groupby(x)["_t"].mean().sort_index()
        (tl,) = ax.plot(tt.index.to_numpy(float), tt.to_numpy(float), color=color, linestyle="--",
                        marker="D", markersize=4, label=label)
        handles.append(tl)
    return handles


def plot_shift_severity(results, *, severity=R.SEVERITY, accuracy=R.TARGET_ACC, gap=None, truth=None,
                        hue=R.METHOD,
                        truth_axis: str = "twin", confidence: float = 0.95, ax=None):
    """Target accuracy and estimated gap against shift severity, one line per method.

    Left panel: target accuracy. Right panel: the estimated gap, with the
    analytic (true) gap on a twin y-axis where the results carry it, since
    the estimate and the truth may be on different scales (e.g. an MMD² on
    learned features against the analytic MMD² on the inputs). The truth is
    one black dashed line when it depends on the severity only; when it also
    differs between hue levels (e.g. ``hue`` names the kind of shift), each
    level gets its own dashed line in its colour.

    Parameters
    ----------
    results : DataFrame, list of dict or dict of columns
        One row per run, as :func:`da.experiments.collect_runs` tabulates a
        sweep. Repeated rows (seeds) are averaged, with a CI band.
    severity : str
        The severity column (default ``data.generator.severity``).
    accuracy : str
        The accuracy column (default ``target_test_acc``).
    gap, truth : str, optional
        The estimated and the analytic gap; default ``after_features_mmd2``
        and ``true_mmd2`` when the table has them (NaN where unknown). A
        column named here must exist.
    hue : str or None
        The column naming the method; ignored when absent.
    truth_axis : {"twin", "same"}
        ``"twin"``: the truth on its own y-axis (right). ``"same"``: on the
        estimate's axis, for when both are the same quantity (e.g. MMD² at the
        same bandwidth), so that their distance can be read off.
    confidence : float
        Level of the CI bands.
    ax : sequence of 2 Axes (1 without a gap column), optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rows = [{"method": m, "data.generator.severity": s, "seed": k,
    ...          "target_test_acc": 0.9 - s / 100 * (m == "source_only"),
    ...          "after_features_mmd2": s / 60, "true_mmd2": (s / 60) ** 2}
    ...         for m in ("source_only", "dann") for s in (0, 30, 60) for k in range(3)]
    >>> fig = plot_shift_severity(rows)
    >>> len(fig.axes)  # accuracy, gap, twin axis of the truth
    3
    """
    confidence = check_confidence(confidence)
    if truth_axis not in ("twin", "same"):
        raise ValueError(f"truth_axis must be 'twin' or 'same', got {truth_axis!r}")
    df = as_frame(results, "results")
    xcol = require_column(df, severity, "results", "the shift severity")
    acc = require_column(df, accuracy, "results", "target accuracy")
    gcol = require_column(df, gap, "results", "the estimated gap") if gap is not None else \
        (R.GAP_AFTER if R.GAP_AFTER in df.columns else None)
    tcol = require_column(df, truth, "results", "the true gap") if truth is not None else \
        (R.TRUE_GAP if R.TRUE_GAP in df.columns else None)
    hue = hue if hue is not None and hue in df.columns else None
    df[xcol] = numeric_column(df, xcol, "results")
    df[acc] = numeric_column(df, acc, "results")
    if gcol is not None:
        df[gcol] = numeric_column(df, gcol, "results")
    fig, axes = axes_grid(ax, 2 if gcol is not None else 1, figsize_per=(4.6, 3.4), what="panels")
    note = _band_note(df, [xcol] + ([hue] if hue else []), confidence)
    xlabel = "shift severity (as dialled)" if xcol == R.SEVERITY else metric_label(xcol)
    colors = colors_for(list(dict.fromkeys(df[hue]))) if hue is not None else None
    h = _draw_lines(axes[0], df, xcol, acc, hue, confidence=confidence, colors=colors)
    axes[0].set_xlabel(xlabel)
    axes[0].set_ylabel(metric_label(acc))
    axes[0].legend(handles=h, frameon=False, fontsize="small", title=note, title_fontsize="x-small")
    axes[0].grid(alpha=0.3)
    if gcol is not None:
        h = _draw_lines(axes[1], df, xcol, gcol, hue, confidence=confidence, colors=colors)
        axes[1].set_xlabel(xlabel)
        axes[1].set_ylabel(f"estimated {metric_label(gcol)}" if gcol in METRIC_LABELS
                           else "estimated gap (dimensionless)")
        axes[1].grid(alpha=0.3)
        if tcol is not None:
            t = pd.to_numeric(df[tcol], errors="coerce")
            known = np.isfinite(t.to_numpy(dtype=float))
            if known.any():
                tax = axes[1].twinx() if truth_axis == "twin" else axes[1]
                h.extend(_draw_truth(tax, df[known].assign(_t=t[known]), xcol, hue, colors))
                if truth_axis == "twin":
                    _align_zero(axes[1], tax)
                    tax.set_ylabel(f"true {metric_label(tcol)}" if tcol in METRIC_LABELS
                                   else "true gap, analytic (dimensionless)")
        outside = len(h) > 5
        axes[1].legend(handles=h, frameon=False, fontsize="small" if not outside else "x-small",
                       loc="upper left", bbox_to_anchor=(1.18 if truth_axis == "twin" else 1.02, 1.0)
                       if outside else None)
    return fig


def plot_ablation(results, x, y, hue=None, *, kind: str = "line", confidence: float = 0.95, ax=None,
                  logx: bool = False, xlabel=None, ylabel=None):
    """One factor's effect on a metric: lines with CI bands (points with CI error bars for a
    categorical factor), or a heatmap over two factors.

    Parameters
    ----------
    results : DataFrame, list of dict or dict of columns
        One row per run; rows that share ``x`` (and ``hue``) are repeats
        (seeds) and are averaged.
    x : str
        The factor on the x-axis: numeric (joined by lines), or categorical in order of
        appearance (unordered, so not joined: a point with an error bar per level).
    y : str
        The metric (e.g. ``"target_acc"``).
    hue : str, optional
        A second factor: one line per level, or the heatmap's rows.
    kind : {"line", "heatmap"}
        ``"line"``: mean ± CI band (Student t over repeats; no band for a
        single run), or ± CI error bars for a categorical ``x``. ``"heatmap"``: the mean of ``y`` for each (hue, x) cell,
        annotated with the value and run count; the colour bar is its legend.
    confidence : float
    ax : Axes, optional
    logx : bool
        Log-scale x (line plots with positive numeric x).
    xlabel, ylabel : str, optional
        Override the default labels (``"<name> (as recorded)"`` for a factor).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rows = [{"lambda": lam, "method": m, "seed": k, "target_acc": 0.8 + 0.01 * k}
    ...         for lam in (0.1, 1.0, 10.0) for m in ("mmd", "dann") for k in range(3)]
    >>> fig = plot_ablation(rows, x="lambda", y="target_acc", hue="method", logx=True)
    >>> fig = plot_ablation(rows, x="lambda", y="target_acc", hue="method", kind="heatmap")
    """
    confidence = check_confidence(confidence)
    if kind not in ("line", "heatmap"):
        raise ValueError(f"kind must be 'line' or 'heatmap', got {kind!r}")
    df = as_frame(results, "results")
    for col, what in ((x, "x"), (y, "y")):
        require_column(df, col, "results", what)
    if hue is not None:
        require_column(df, hue, "results", "hue")
        if df[hue].isna().any():
            raise ValueError(f"results[{hue!r}] has missing values")
    df[y] = numeric_column(df, y, "results")
    if _is_numeric(df[x]):
        df[x] = numeric_column(df, x, "results")
    elif df[x].isna().any():
        raise ValueError(f"results[{x!r}] has missing values")
    fig, (a,) = axes_grid(ax, 1, figsize_per=(5.0, 3.6))
    if kind == "heatmap":
        if hue is None or hue == x:
            raise ValueError("a heatmap needs two factors: pass hue= as the second one, other than x")
        s = mean_ci(df, [hue, x], y, confidence)
        grid = s.pivot(index=hue, columns=x, values=MEAN)
        counts = s.pivot(index=hue, columns=x, values=COUNT)
        im = a.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto")
        a.set_xticks(range(grid.shape[1]), [_tick(v) for v in grid.columns])
        a.set_yticks(range(grid.shape[0]), [_tick(v) for v in grid.index])
        vals = grid.to_numpy(dtype=float)
        mid = np.nanmean(vals)
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if np.isfinite(vals[i, j]):
                    a.text(j, i, f"{vals[i, j]:.3g}\n(n={int(counts.iat[i, j])})", ha="center",
                           va="center", fontsize="x-small", color="white" if vals[i, j] < mid else "black")
        cb = fig.colorbar(im, ax=a)
        cb.set_label(ylabel or f"mean {metric_label(y)}")
        a.set_xlabel(xlabel or _factor_label(df, x))
        a.set_ylabel(_factor_label(df, hue))
        return fig
    h = _draw_lines(a, df, x, y, hue, confidence=confidence)
    if logx:
        if not _is_numeric(df[x]) or (df[x] <= 0).any():
            raise ValueError("logx needs a positive numeric x")
        a.set_xscale("log")
        _log_ticks_at_data(a, df[x])
    a.set_xlabel(xlabel or _factor_label(df, x))
    a.set_ylabel(ylabel or metric_label(y))
    a.grid(alpha=0.3)
    a.legend(handles=h, frameon=False, fontsize="small", title=hue,
             title_fontsize="small")
    a.set_title(_band_note(df, [x] + ([hue] if hue else []), confidence), fontsize="small")
    return fig


def plot_learning_curve(results, *, n_labeled=R.N_TARGET_LABELED, accuracy=R.TARGET_ACC, strategy=R.METHOD,
                        confidence: float = 0.95, ax=None):
    """Target accuracy against the number of labelled target examples, per strategy.

    The usual comparison is training from scratch on the labelled target
    examples (``scratch``), fine-tuning a source model on them
    (``finetune_no_align``), and fine-tuning with an alignment loss on the
    unlabelled target as well (``dann``, ``mmd``, ...); any names work.

    Parameters
    ----------
    results : DataFrame, list of dict or dict of columns
        One row per run, as :func:`da.experiments.collect_runs` tabulates a
        sweep. Repeats (seeds) become CI bands.
    n_labeled : str
        The column of labelled target examples (default ``data.n_target_labeled``).
    accuracy : str
        The accuracy column (default ``target_test_acc``).
    strategy : str or None
        The column naming what is compared, one line each (default ``method``;
        ignored when absent unless named explicitly). Baselines come first.
    confidence : float
    ax : Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The x-axis is logarithmic (symmetric-log when a 0-shot point is present),
    since budgets usually grow geometrically.

    Examples
    --------
    >>> rows = [{"method": s, "data.n_target_labeled": n, "seed": k, "target_test_acc": 0.5 + n / 400}
    ...         for s in ("scratch", "finetune_no_align", "dann") for n in (0, 10, 100) for k in range(2)]
    >>> fig = plot_learning_curve(rows)
    """
    confidence = check_confidence(confidence)
    df = as_frame(results, "results")
    xcol = require_column(df, n_labeled, "results", "the number of labelled target examples")
    acc = require_column(df, accuracy, "results", "target accuracy")
    hue = strategy if strategy in df.columns else \
        (None if strategy in (None, R.METHOD) else require_column(df, strategy, "results", "the strategy"))
    df[xcol] = numeric_column(df, xcol, "results")
    df[acc] = numeric_column(df, acc, "results")
    if (df[xcol] < 0).any():
        raise ValueError(f"results[{xcol!r}] has negative counts")
    fig, (a,) = axes_grid(ax, 1, figsize_per=(5.0, 3.6))
    h = _draw_lines(a, df, xcol, acc, hue, confidence=confidence, order=_BASELINE_ORDER)
    if (df[xcol] == 0).any():
        a.set_xscale("symlog", linthresh=1)
    else:
        a.set_xscale("log")
    _log_ticks_at_data(a, df[xcol])
    a.set_xlabel("labelled target examples (count)")
    a.set_ylabel(metric_label(acc))
    a.grid(alpha=0.3, which="both")
    a.legend(handles=h, frameon=False, fontsize="small",
             title=_band_note(df, [xcol] + ([hue] if hue else []), confidence), title_fontsize="x-small")
    return fig
