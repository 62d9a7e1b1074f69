"""The source guard of ``align="auto"``: the candidates whose held-out source accuracy stays near source-only's.

One function, shared by the rules that choose a candidate (:func:`da.transfer.auto.choose`) and those that
average several (:func:`da.transfer.ensemble.ensemble_members`).
"""

from __future__ import annotations

__all__ = ["source_guard"]


def source_guard(records: list, tolerance: float | None) -> tuple:
    r"""The candidate records that pass the source guard, and why.

    .. math:: \mathcal G = \{c : \mathrm{acc}_{S,\mathrm{val}}(c) \ge
              \mathrm{acc}_{S,\mathrm{val}}(\text{source\_only}) - \tau\}

    Parameters
    ----------
    records : list of dict
        One per candidate, with ``name`` and ``scores`` (``scores["source_val"]``); a diverged candidate
        (``scores`` None) is never kept. The one named ``source_only`` is the reference.
    tolerance : float or None
        :math:`\tau`; ``None``: no guard (every scored candidate passes).

    Returns
    -------
    (ref, guarded, reason) : (dict, list of dict, str)
        The source-only record, the records that pass (in their order), and the guard's description.
    """
    records = [r for r in records if r.get("scores") is not None]
    ref = next((r for r in records if r["name"] == "source_only"), None)
    if ref is None:
        raise ValueError("records must hold a scored 'source_only' candidate, the reference of the source guard")
    if tolerance is None:
        return ref, records, "no source guard"
    floor = ref["scores"]["source_val"] - tolerance
    guarded = [r for r in records if r["scores"]["source_val"] >= floor]
    excluded = sorted(r["name"] for r in records if r not in guarded)
    return ref, guarded, (f"source guard: source validation accuracy >= source_only's - {tolerance:g} = {floor:.4g}"
                          + (f" (excluded: {', '.join(excluded)})" if excluded else ""))
