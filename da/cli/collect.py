"""``da collect DIR``: one CSV row per run, and mean ± CI tables over seeds (Markdown, LaTeX)."""

from __future__ import annotations

import sys


def _columns(values):
    out = []
    for v in values or ():
        out += [c.strip() for c in v.split(",") if c.strip()]
    return out or None


def add_parser(sub):
    p = sub.add_parser("collect", help="tabulate run records: tidy CSV, mean ± 95%% CI over seeds",
                       description=__doc__)
    p.add_argument("dir", help="an output root (or a folder of them, or one run directory)")
    p.add_argument("--group-by", "-g", action="append", metavar="COLS",
                   help="grouping columns, comma-separated or repeated (default: every config key "
                        "the runs differ in, except seed)")
    p.add_argument("--metrics", "-m", action="append", metavar="COLS",
                   help="metric columns (default: target/source test accuracy and feature MMD² when present)")
    p.add_argument("--all-metrics", action="store_true", help="aggregate every numeric metric column")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--csv", metavar="PATH", help="write the per-run table (one row per run) here")
    p.add_argument("--agg-csv", metavar="PATH", help="write the aggregated table here")
    p.add_argument("--markdown", metavar="PATH", help="write the Markdown table here")
    p.add_argument("--latex", metavar="PATH", help="write the LaTeX table here")
    p.add_argument("--format", choices=("markdown", "latex", "csv", "none"), default="markdown",
                   help="what to print (default markdown)")
    p.add_argument("--include-failed", action="store_true", help="list failed runs in the CSV too")
    p.add_argument("--digits", type=int, default=3)
    p.set_defaults(func=run)


def run(args) -> int:
    from da._io import atomic_write_text
    from da.experiments.collect import (DEFAULT_METRICS, aggregate, collect_runs, metric_columns,
                                        to_latex, to_markdown)

    df = collect_runs(args.dir, include_failed=args.include_failed)
    if args.csv:
        atomic_write_text(args.csv, df.to_csv(index=False))
    done = df[df["status"] == "completed"]
    if done.empty:
        print(f"da collect: no completed runs under {args.dir}", file=sys.stderr)
        return 1
    metrics = _columns(args.metrics)
    if metrics is None:
        metrics = metric_columns(done) if args.all_metrics else \
            [m for m in DEFAULT_METRICS if m in done.columns] or metric_columns(done)
    agg = aggregate(done, by=_columns(args.group_by), metrics=metrics, confidence=args.confidence)
    md = to_markdown(agg, digits=args.digits)
    tex = to_latex(agg, digits=args.digits)
    if args.agg_csv:
        atomic_write_text(args.agg_csv, agg.to_csv(index=False))
    if args.markdown:
        atomic_write_text(args.markdown, md)
    if args.latex:
        atomic_write_text(args.latex, tex)
    if args.format == "markdown":
        print(md, end="")
        print(f"\n{len(done)} run(s); cells: mean ± {args.confidence:.0%} CI half-width "
              "(Student t over the runs of each row)", file=sys.stderr)
    elif args.format == "latex":
        print(tex, end="")
    elif args.format == "csv":
        print(df.to_csv(index=False), end="")
    return 0


if __name__ == "__main__":  # `python -m da.cli.collect ...`, the same as `da collect ...`
    import sys as _sys

    from da.cli.run import standalone

    _sys.exit(standalone("collect", _sys.modules[__name__], _sys.argv[1:]))
