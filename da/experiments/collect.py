r"""Tables from run records: pure functions over ``result.json`` files.

:func:`collect_runs` reads every completed run under a directory into a tidy
table (one row per run: flattened config columns with dotted names, then
metric columns with ``snake_case`` names). :func:`aggregate` averages metrics
over the runs of each group (typically: every config column but the seed), with
the sample standard deviation and a Student-t confidence interval.
:func:`to_markdown` and :func:`to_latex` format the result; nothing here
trains or re-computes anything.
"""

from __future__ import annotations

import json
import math
import numbers

import numpy as np

from da import _runs as R
from da._lazy import lazy_module

pd = lazy_module("pandas")

__all__ = ["flatten_config", "collect_runs", "config_columns", "metric_columns", "varying_columns",
           "aggregate", "to_markdown", "to_latex", "summary_table", "before_after_table", "DEFAULT_METRICS"]

#: Metrics shown when none are asked for (those present in the table).
DEFAULT_METRICS = ("target_test_acc", "source_test_acc", "pretrained_target_test_acc",
                   "before_features_mmd2", "after_features_mmd2")

_ID_COLUMNS = ("run_id", "status")
# config keys that identify a run's label or location, not a factor of the experiment
_NOT_FACTORS = ("name", "output", "seed")


def flatten_config(cfg: dict, prefix: str = "") -> dict:
    """``{"train": {"lr": 0.1}, "align": [{"loss": "mmd"}]}`` -> ``{"train.lr": 0.1, "align.0.loss": "mmd"}``.

    Lists of scalars become one JSON-text cell (``model.hidden = "[128, 64]"``),
    so every cell is hashable and groupable; an empty mapping or list is
    its JSON text too.
    """
    out: dict = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten_config(v, key + "."))
        elif isinstance(v, list) and v and any(isinstance(x, (dict, list)) for x in v):
            for i, x in enumerate(v):
                if isinstance(x, dict):
                    out.update(flatten_config(x, f"{key}.{i}."))
                else:
                    out[f"{key}.{i}"] = json.dumps(x) if isinstance(x, list) else x
        elif isinstance(v, (list, dict)):
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


def _scalar(v) -> bool:
    return v is None or isinstance(v, (numbers.Number, str, bool))


def collect_runs(path, *, include_failed: bool = False) -> pd.DataFrame:
    """One row per run under ``path`` (an output root, a folder of roots, or a run directory).

    Only *completed* runs (a valid ``result.json``) are read, unless
    ``include_failed``: then failed runs add a row with their ``error`` and
    no metrics. Partial directories (killed runs) are never read.

    Returns
    -------
    pandas.DataFrame
        Columns ``run_id``, ``status``, the flattened config (dotted names;
        ``df.attrs["config_columns"]``) and the metrics (``df.attrs["metric_columns"]``),
        sorted by run id.
    """
    rows, cfg_cols, met_cols = [], {}, {}
    for rd in R.find_run_dirs(path):
        res = R.read_result(rd)
        if res is not None:
            flat = flatten_config(res["config"])
            mets = {k: v for k, v in res["metrics"].items() if _scalar(v)}
            rows.append({"run_id": res["run_id"], "status": "completed", **flat, **mets})
        elif include_failed:
            fail = R.read_failure(rd)
            if fail is None:
                continue
            flat = flatten_config(fail.get("config") or {})
            mets = {}
            rows.append({"run_id": fail["run_id"], "status": "failed", **flat,
                         "error": f"{fail.get('error_type')}: {fail.get('error')}"})
        else:
            continue
        cfg_cols.update(dict.fromkeys(flat))
        met_cols.update(dict.fromkeys(mets))
    cfg_cols = dict.fromkeys(sorted(cfg_cols, key=_schema_rank))
    cols = list(_ID_COLUMNS) + list(cfg_cols) + [c for c in met_cols if c not in cfg_cols]
    if include_failed and any(r["status"] == "failed" for r in rows):
        cols.append("error")
    df = pd.DataFrame(rows, columns=cols)
    df = df.sort_values("run_id", kind="stable").reset_index(drop=True)
    df.attrs["config_columns"] = list(cfg_cols)
    df.attrs["metric_columns"] = [c for c in met_cols if c not in cfg_cols]
    return df


def _schema_rank(column: str) -> tuple:
    """Config columns in the order of the schema (records are stored with sorted keys)."""
    from da.experiments.config import SCHEMA

    rank, node = [], SCHEMA
    for part in column.split("."):
        if isinstance(node, dict) and part in node:
            rank.append((list(node).index(part), ""))
            node = node[part]
        else:
            rank.append((len(node) if isinstance(node, dict) else 0, part))
            node = None
    return tuple(rank)


def config_columns(df: pd.DataFrame) -> list[str]:
    """The config columns of a :func:`collect_runs` table (dotted names, or from ``attrs``)."""
    if "config_columns" in df.attrs:
        return [c for c in df.attrs["config_columns"] if c in df.columns]
    top = ("name", "output", "seed", "method", "lambda")
    return [c for c in df.columns if "." in c or c in top]


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The numeric metric columns of a :func:`collect_runs` table."""
    names = df.attrs.get("metric_columns")
    if names is None:
        cfg = set(config_columns(df))
        names = [c for c in df.columns if c not in cfg and c not in _ID_COLUMNS]
    return [c for c in names if c in df.columns and pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])]


def _n_groups(df: pd.DataFrame, cols) -> int:
    return int(df[list(cols)].astype(str).drop_duplicates().shape[0]) if cols else 1


def varying_columns(df: pd.DataFrame, exclude=_NOT_FACTORS, minimal: bool = True) -> list[str]:
    """Config columns that take more than one value (the factors of a sweep), minus ``exclude``.

    With ``minimal``, a column is dropped when the columns before it already
    determine it (``align.0.loss`` follows from ``method``), trying ``method``
    and ``lambda`` first, then ``data.*``, then the rest in table order.
    """
    cols = [c for c in config_columns(df) if c not in exclude
            and df[c].astype(str).nunique(dropna=False) > 1]
    if not minimal:
        return cols

    def rank(c):
        return (0 if c in ("method", "lambda") else 1 if c.startswith("data.") else
                3 if c == "align" or c.startswith("align.") else 2)

    chosen: list = []
    for c in sorted(cols, key=lambda c: (rank(c), cols.index(c))):
        if _n_groups(df, chosen + [c]) > _n_groups(df, chosen):
            chosen.append(c)
    return [c for c in cols if c in chosen]


def aggregate(df: pd.DataFrame, by=None, metrics=None, confidence: float = 0.95) -> pd.DataFrame:
    r"""Mean, standard deviation and Student-t confidence interval of ``metrics`` per group.

    For a group of :math:`n` runs with values :math:`x_i`:

    .. math::

        \bar x = \frac1n\sum_i x_i,\qquad
        s = \sqrt{\frac{1}{n-1}\sum_i (x_i-\bar x)^2},\qquad
        \mathrm{CI} = \bar x \pm t_{(1+c)/2,\,n-1}\,\frac{s}{\sqrt n}

    (``std`` and ``ci`` are NaN when :math:`n = 1`; NaN values are dropped per metric).

    Parameters
    ----------
    df : DataFrame
        From :func:`collect_runs` (or any table with these columns).
    by : str or list of str, optional
        Grouping columns; default :func:`varying_columns` (every config key the
        runs differ in, except the seed).
    metrics : str or list of str, optional
        Default: every numeric metric column.
    confidence : float in (0, 1)

    Returns
    -------
    DataFrame
        ``by`` columns, ``n`` (runs in the group), then ``{m}_mean``, ``{m}_std``,
        ``{m}_ci`` (half-width) for each metric; sorted by ``by``.
    """
    from scipy import stats

    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    by = varying_columns(df) if by is None else ([by] if isinstance(by, str) else list(by))
    metrics = metric_columns(df) if metrics is None else ([metrics] if isinstance(metrics, str) else list(metrics))
    missing = [c for c in list(by) + list(metrics) if c not in df.columns]
    if missing:
        raise ValueError(f"no such column(s): {missing}; columns are: {list(df.columns)}")
    rows = []
    groups = df.groupby(by, dropna=False, sort=True) if by else [((), df)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row["n"] = int(len(g))
        for m in metrics:
            x = pd.to_numeric(g[m], errors="coerce").dropna().to_numpy(dtype=np.float64)
            k = x.size
            mean = float(x.mean()) if k else math.nan
            std = float(x.std(ddof=1)) if k > 1 else math.nan
            half = float(stats.t.ppf((1 + confidence) / 2, k - 1) * std / math.sqrt(k)) if k > 1 else math.nan
            row[f"{m}_mean"], row[f"{m}_std"], row[f"{m}_ci"] = mean, std, half
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(by) + ["n"] + [f"{m}_{s}" for m in metrics
                                                          for s in ("mean", "std", "ci")])
    out.attrs.update(by=list(by), metrics=list(metrics), confidence=confidence)
    return out


def _fmt(x, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (float, np.floating)):
        return f"{x:.{digits}f}"
    return str(x)


def _fmt_key(x) -> str:
    """A group-by value as written in the config (``30``, ``0.1``, ``mmd``)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (float, np.floating)):
        return f"{x:g}"
    return str(x)


def _cells(agg: pd.DataFrame, by, metrics, digits, pm: str, wrap=lambda s: s) -> list[list[str]]:
    body = []
    for _, r in agg.iterrows():
        row = [_fmt_key(r[c]) for c in by]
        if "n" in agg.columns:
            row.append(str(int(r["n"])))
        for m in metrics:
            mean, half = r.get(f"{m}_mean"), r.get(f"{m}_ci")
            if f"{m}_mean" not in agg.columns:  # a per-run table
                mean, half = r.get(m), math.nan
            cell = _fmt(mean, digits)
            if half is not None and not (isinstance(half, float) and math.isnan(half)) and cell != "–":
                cell = f"{cell}{pm}{_fmt(half, digits)}"
            row.append(wrap(cell) if cell != "–" else cell)
        body.append(row)
    return body


def _layout(agg: pd.DataFrame, by, metrics):
    by = agg.attrs.get("by", []) if by is None else ([by] if isinstance(by, str) else list(by))
    if metrics is None:
        metrics = agg.attrs.get("metrics") or [c[:-5] for c in agg.columns if c.endswith("_mean")]
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    return by, metrics


def to_markdown(agg: pd.DataFrame, metrics=None, by=None, digits: int = 3) -> str:
    """A Markdown (GitHub) table of :func:`aggregate`'s output: ``mean ± CI half-width`` per cell.

    A plain :func:`collect_runs` table (no ``_mean`` columns) gives one row per run.
    """
    by, metrics = _layout(agg, by, metrics)
    head = list(by) + (["n"] if "n" in agg.columns else []) + list(metrics)
    body = _cells(agg, by, metrics, digits, " ± ")
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" if i < len(head) - len(metrics) else "---:" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"),
                 ("^", r"\textasciicircum{}")):
        s = s.replace(a, b)
    return s.replace(r"\textbackslash\{\}", r"\textbackslash{}").replace(
        r"\textasciitilde\{\}", r"\textasciitilde{}").replace(r"\textasciicircum\{\}", r"\textasciicircum{}")


def to_latex(agg: pd.DataFrame, metrics=None, by=None, digits: int = 3, caption: str | None = None,
             label: str | None = None) -> str:
    r"""A booktabs LaTeX ``tabular`` of :func:`aggregate`'s output: ``$\text{mean} \pm \text{CI}$``."""
    by, metrics = _layout(agg, by, metrics)
    head = list(by) + (["n"] if "n" in agg.columns else []) + list(metrics)
    n_left = len(head) - len(metrics)
    body = []
    for row in _cells(agg, by, metrics, digits, r" \pm ", wrap=lambda s: f"${s}$"):
        body.append([_tex(c) if i < n_left else c.replace("–", "--") for i, c in enumerate(row)])
    lines = []
    if caption or label:
        lines += [r"\begin{table}[t]", r"\centering"]
    lines += [r"\begin{tabular}{" + "l" * n_left + "r" * len(metrics) + "}", r"\toprule",
              " & ".join(_tex(h) for h in head) + r" \\", r"\midrule"]
    lines += [" & ".join(r) + r" \\" for r in body]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption or label:
        if caption:
            lines.append(r"\caption{" + _tex(caption) + "}")
        if label:
            lines.append(r"\label{" + label + "}")
        lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def summary_table(results, metrics=None, digits: int = 3) -> str:
    """A Markdown table of one row per run from result records (or sweep statuses).

    Columns: the run id, the config keys the runs differ in (``method`` always),
    the status and ``metrics`` (default: those of :data:`DEFAULT_METRICS` present).
    """
    recs = []
    for r in results:
        res = r if ("metrics" in r and "config" in r) else r.get("result")
        if res is None:
            recs.append({"run_id": r.get("run_id"), "status": r.get("status"), "error": r.get("error")})
            continue
        row = {"run_id": res["run_id"], "status": r.get("status", "completed"),
               **flatten_config(res["config"]),
               **{k: v for k, v in res["metrics"].items() if _scalar(v)}}
        recs.append(row)
    if not recs:
        return "(no runs)\n"
    df = pd.DataFrame(recs)
    cfg_cols = [c for c in df.columns if "." in c or c in ("method", "lambda", "seed", "name", "output")]
    df.attrs["config_columns"] = sorted(cfg_cols, key=_schema_rank)
    keys = [c for c in varying_columns(df, exclude=("name", "output")) if c != "method"]
    keys = (["method"] if "method" in df.columns else []) + keys
    if metrics is None:
        metrics = [m for m in DEFAULT_METRICS if m in df.columns]
    head = ["run_id"] + keys + ["status"] + list(metrics)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for _, r in df.iterrows():
        cells = [_fmt_key(r.get(c)) for c in ["run_id"] + keys + ["status"]]
        cells += [_fmt(r.get(m), digits) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    errs = [f"- {r['run_id']}: {r['error']}" for r in recs if r.get("error")]
    return "\n".join(lines) + "\n" + ("\n".join(errs) + "\n" if errs else "")


def before_after_table(result: dict, digits: int = 3) -> str:
    """A Markdown table of one run: each diagnostic and accuracy before transfer and after it.

    Rows come from the flat metrics of ``result.json``: ``before_X``/``after_X``
    pairs (``X`` = ``inputs_mmd2``, ``features_mmd_p``, ...) and the accuracies
    of the pretrained and the fine-tuned model.
    """
    m = result["metrics"]
    rows = []
    for part in ("source_test", "target_test"):
        if f"{part}_acc" in m:
            rows.append((f"{part}_acc", m.get(f"pretrained_{part}_acc"), m[f"{part}_acc"]))
    names = sorted({k[len("before_"):] for k in m if k.startswith("before_")} |
                   {k[len("after_"):] for k in m if k.startswith("after_")},
                   key=lambda k: (not k.startswith("inputs"), k))
    # representation-health rows other than the feature norm and rank stay in result.json only
    names = [k for k in names if not any(h in k for h in ("var_mean", "var_min", "var_max", "dead_fraction"))
             and not (k.startswith("inputs_") and any(h in k for h in ("mean_norm", "effective_rank")))]
    rows += [(k, m.get(f"before_{k}"), m.get(f"after_{k}")) for k in names]
    lines = ["| quantity | before transfer | after fine-tuning |", "|---|---:|---:|"]
    lines += [f"| {k} | {_fmt(b, digits)} | {_fmt(a, digits)} |" for k, b, a in rows]
    return "\n".join(lines) + "\n"
