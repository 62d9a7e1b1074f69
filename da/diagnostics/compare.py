r"""Before/after: :func:`compare` reads two shift reports into one table, with health flags."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from da.diagnostics.gap_specs import GAP_SPECS
from da.diagnostics.health import health_flags
from da.diagnostics.report import ShiftReport

__all__ = ["compare"]

#: Metrics that shrink when the features are rescaled by c < 1.
_SCALE_DEPENDENT = tuple(name for name, spec in GAP_SPECS.items() if spec.scale_dependent)


def _as_frame(rep):
    import pandas as pd

    if isinstance(rep, ShiftReport):
        return rep.to_frame()
    if isinstance(rep, pd.DataFrame):
        return rep
    if isinstance(rep, Mapping):
        return ShiftReport.from_dict(rep).to_frame()
    if isinstance(rep, (str, Path)):
        return ShiftReport.load(rep).to_frame()
    raise ValueError(f"expected a ShiftReport, its to_frame(), its to_dict() or a path; got {type(rep).__name__}")


def _long(df):
    """(space, kind, name) -> value, with each test's p-value as an extra ``<name>.pvalue`` entry."""
    import pandas as pd

    parts = [df[["space", "kind", "name", "value"]]]
    tests = df[df["kind"] == "test"]
    if len(tests):
        parts.append(pd.DataFrame({"space": tests["space"], "kind": "test",
                                   "name": tests["name"] + ".pvalue", "value": tests["pvalue"]}))
    out = pd.concat(parts, ignore_index=True)
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out.set_index(["space", "kind", "name"])["value"]


def _health_of(df, space, domain) -> dict | None:
    rows = df[(df["space"] == space) & (df["kind"] == "health")]
    vals = {n.split("/")[0]: v for n, v in zip(rows["name"], rows["value"]) if n.endswith("/" + domain)}
    return vals if all(s in vals for s in ("mean_norm", "effective_rank", "dead_fraction")) else None


def compare(before, after):
    r"""Before/after table of two reports: ``before``, ``after``, ``delta``, ``rel_change``.

    Parameters
    ----------
    before, after : ShiftReport, its ``to_frame()``, its ``to_dict()`` or a saved path

    Returns
    -------
    pandas.DataFrame
        Indexed by (space, kind, name); a test contributes its statistic and a
        ``<name>.pvalue`` row. :math:`\delta = \text{after} - \text{before}` and
        ``rel_change`` :math:`= \delta / |\text{before}|` (NaN when before is 0).
        The ``flag`` column marks gaps that may have fallen because the
        representation shrank (scale-dependent metrics) or collapsed (all
        metrics); the messages are in ``df.attrs["warnings"]``.

    Examples
    --------
    >>> from da.diagnostics.report import shift_report
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 1
    >>> kw = dict(metrics=["energy_distance"], tests=[], n_bootstrap=0)
    >>> df = compare(shift_report((X, Y), **kw), shift_report((X / 10, Y / 10), **kw))
    >>> df.loc[("inputs", "metric", "energy_distance"), "flag"]
    'features shrank'
    """
    import pandas as pd

    fb, fa = _as_frame(before), _as_frame(after)
    lb, la = _long(fb), _long(fa)
    df = pd.concat({"before": lb, "after": la}, axis=1)
    df["delta"] = df["after"] - df["before"]
    with np.errstate(divide="ignore", invalid="ignore"):
        df["rel_change"] = np.where(df["before"].abs() > 0, df["delta"] / df["before"].abs(), np.nan)
    df["flag"] = ""
    warnings = []
    for space in sorted(set(fb["space"]) & set(fa["space"])):
        for domain in ("source", "target"):
            hb, ha = _health_of(fb, space, domain), _health_of(fa, space, domain)
            if hb is None or ha is None:
                continue
            for msg in health_flags(hb, ha):
                warnings.append(f"{space}/{domain}: {msg}")
                label = "features shrank" if msg.startswith("feature norm") else "features collapsed"
                for key in df.index:
                    if key[0] != space or key[1] != "metric":
                        continue
                    if label == "features collapsed" or key[2] in _SCALE_DEPENDENT:
                        if label not in df.at[key, "flag"]:
                            df.at[key, "flag"] = "; ".join(filter(None, [df.at[key, "flag"], label]))
    df.attrs["warnings"] = warnings
    return df
