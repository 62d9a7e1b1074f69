r"""Shift diagnostics: how far :math:`P_T` is from :math:`P_S`, on inputs and on learned features.

Always measured on held-out data, before and after transfer.

* Two-sample tests (:mod:`~da.diagnostics.two_sample`): :func:`mmd_test`
  (optionally aggregated over bandwidths), :func:`energy_test`, :func:`c2st`,
  :func:`ks_test`, :func:`linear_mmd_test`, each returning a :class:`TestResult`.
* Gap metrics (:mod:`~da.diagnostics.gaps`): :func:`mmd2`,
  :func:`energy_distance`, :func:`coral_distance`, :func:`wasserstein`,
  :func:`sliced_wasserstein`, :func:`proxy_a_distance` return floats;
  :func:`gap` adds a bootstrap interval and the estimator used (:class:`GapResult`);
  each metric is declared once in :data:`GAP_SPECS` (:mod:`~da.diagnostics.gap_specs`).
* Representation health (:mod:`~da.diagnostics.health`).
* Label shift (:mod:`~da.diagnostics.label_shift`): :func:`estimate_label_shift`
  (BBSE, MLLS with BCTS calibration); class-conditional gaps
  (:func:`class_conditional_gap`).
* Reports (:mod:`~da.diagnostics.report`): :func:`shift_report`,
  :func:`load_report`; :func:`compare` (:mod:`~da.diagnostics.compare`); the training hook :class:`GapTracker`.
"""

from da.diagnostics.conditional import ConditionalGapResult, class_conditional_gap
from da.diagnostics.gap_specs import GAP_METRICS, GAP_SPECS, GapSpec, gap
from da.diagnostics.gaps import (coral_distance, energy_distance, mmd2, proxy_a_distance,
                                 sliced_wasserstein, wasserstein)
from da.diagnostics.health import (RepresentationHealth, effective_rank, health_flags,
                                   representation_health)
from da.diagnostics.label_shift import (LABEL_SHIFT_METHODS, LabelShiftResult, estimate_label_shift,
                                        fit_bcts)
from da.diagnostics.compare import compare
from da.diagnostics.report import TEST_NAMES, ShiftReport, load_report, shift_report
from da.diagnostics.results import GapResult, TestResult
from da.diagnostics.tracking import GapTracker
from da.diagnostics.two_sample import c2st, energy_test, ks_test, linear_mmd_test, mmd_test

__all__ = [
    # two-sample tests
    "TestResult", "mmd_test", "energy_test", "c2st", "ks_test", "linear_mmd_test", "TEST_NAMES",
    # gaps
    "GapResult", "GAP_METRICS", "GAP_SPECS", "GapSpec", "gap", "mmd2", "energy_distance",
    "coral_distance", "wasserstein", "sliced_wasserstein", "proxy_a_distance",
    # representation health
    "RepresentationHealth", "representation_health", "effective_rank", "health_flags",
    # label shift and conditional gaps
    "LabelShiftResult", "LABEL_SHIFT_METHODS", "estimate_label_shift", "fit_bcts",
    "ConditionalGapResult", "class_conditional_gap",
    # reports and tracking
    "ShiftReport", "shift_report", "compare", "load_report", "GapTracker",
]
