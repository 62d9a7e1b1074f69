"""Figures from records: gaps, trajectories, embeddings, sweeps, transport plans, calibration.

Every function takes plain data (dicts, arrays, DataFrames, or report objects
with ``.to_frame()``), draws into ``ax=`` when given, returns the Figure, and
raises :class:`ValueError` on empty or NaN input. :func:`save` writes PNG and
PDF atomically. Colours come from one colourblind-safe palette
(:mod:`da.plot.style`). Use a non-interactive backend (``MPLBACKEND=Agg``) on
machines without a display.
"""

from da.plot.calibration import plot_pvalue_calibration, uniform_order_band
from da.plot.embedding import embed_2d, plot_embedding
from da.plot.export import save
from da.plot.gaps import gap_frame, plot_gap_before_after, plot_gap_trajectory
from da.plot.label_shift import plot_label_shift
from da.plot.runs import plot_run_dir, read_metrics, read_results, run_figures
from da.plot.style import DOMAIN_COLORS, OKABE_ITO, PALETTE, colors_for
from da.plot.sweeps import plot_ablation, plot_learning_curve, plot_shift_severity
from da.plot.transport import plot_transport_plan

__all__ = [
    "plot_gap_before_after", "plot_gap_trajectory", "plot_embedding", "plot_shift_severity",
    "plot_ablation", "plot_learning_curve", "plot_transport_plan", "plot_pvalue_calibration",
    "plot_label_shift", "save", "plot_run_dir", "run_figures", "read_metrics", "read_results", "gap_frame",
    "embed_2d", "uniform_order_band", "OKABE_ITO", "PALETTE", "DOMAIN_COLORS", "colors_for",
]
