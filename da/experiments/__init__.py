"""Experiments: configs, one run, sweeps with resume, and tables over the records.

- :mod:`~da.experiments.config`: YAML configs validated against one schema of
  defaults (:data:`SCHEMA`), ``key.path=value`` overrides, ``grid``/``zip``
  sweeps, run ids (hash of the resolved config);
- :mod:`~da.experiments.pipeline`: :func:`run_experiment`, pretrain (cached) →
  diagnose → fine-tune → diagnose → evaluate, records written atomically;
- :mod:`~da.experiments.sweep`: :func:`run_sweep` on a local process pool or a
  dask cluster; reruns skip completed runs and record failures;
- :mod:`~da.experiments.collect`: :func:`collect_runs`, :func:`aggregate`,
  :func:`to_markdown`, :func:`to_latex`: pure functions over the records.
"""

from da.experiments.collect import (aggregate, collect_runs, flatten_config, summary_table, to_latex,
                                    to_markdown)
from da.experiments.config import (METHODS, SCHEMA, ConfigError, apply_overrides, expand_sweep,
                                   load_config, resolve_config, run_id)
from da.experiments.pipeline import run_experiment
from da.experiments.sweep import run_sweep

__all__ = [
    "SCHEMA", "METHODS", "ConfigError", "load_config", "resolve_config", "apply_overrides",
    "expand_sweep", "run_id", "run_experiment", "run_sweep", "collect_runs", "aggregate",
    "to_markdown", "to_latex", "flatten_config", "summary_table",
]
