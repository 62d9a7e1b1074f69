"""``da plot RUN_OR_SWEEP_DIR``: write every figure the run's or sweep's records support."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("plot", help="draw the figures of a run or sweep directory into figures/",
                       description="Reads metrics.jsonl (-> trajectory), report_before.json + "
                                   "report_after.json (-> gap_before_after) and the result.json of "
                                   "the runs of a sweep (-> ablation, shift severity, learning "
                                   "curve); writes PNG and PDF files.")
    p.add_argument("path", metavar="RUN_OR_SWEEP_DIR", help="a run directory or a sweep directory")
    p.add_argument("--out", default=None, help="output directory (default: RUN_OR_SWEEP_DIR/figures)")
    p.add_argument("--formats", nargs="+", default=["png", "pdf"], metavar="FMT",
                   help="file formats (default: png pdf)")
    p.set_defaults(func=run)


def run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    from da.plot import plot_run_dir

    done = plot_run_dir(args.path, args.out, formats=tuple(args.formats))
    for name, paths in done["figures"].items():
        print(f"{name:<28} " + "  ".join(str(p) for p in paths))
    for reason in done["skipped"]:
        print(f"skipped: {reason}")
    return 0
