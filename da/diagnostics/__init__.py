"""Shift diagnostics: how far P_T is from P_S, on inputs and on learned features."""

from da.diagnostics.gaps import (GAP_METRICS, coral_distance, energy_distance, gap, mmd2,
                                  proxy_a_distance, sliced_wasserstein, wasserstein)
from da.diagnostics.results import GapResult, TestResult
from da.diagnostics.two_sample import c2st, energy_test, ks_test, linear_mmd_test, mmd_test

__all__ = ["TestResult", "GapResult", "GAP_METRICS", "mmd2", "energy_distance", "coral_distance",
           "wasserstein", "sliced_wasserstein", "proxy_a_distance", "gap", "mmd_test", "energy_test", "c2st", "ks_test", "linear_mmd_test"]
