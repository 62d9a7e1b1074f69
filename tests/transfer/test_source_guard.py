"""source_guard: the candidates within tau of source-only's held-out source accuracy, shared by auto's rules."""

import pytest

from da.transfer.source_guard import source_guard

RECS = [{"name": "source_only", "scores": {"source_val": 0.90}}, {"name": "a", "scores": {"source_val": 0.87}},
        {"name": "b", "scores": {"source_val": 0.88}}, {"name": "c", "scores": None}]


def test_keeps_the_candidates_within_tau_and_names_the_excluded():
    ref, kept, why = source_guard(RECS, 0.02)
    assert ref is RECS[0] and [r["name"] for r in kept] == ["source_only", "b"] and kept[1] is RECS[2]
    assert why == "source guard: source validation accuracy >= source_only's - 0.02 = 0.88 (excluded: a)"
    assert [r["name"] for r in source_guard(RECS, 0.0)[1]] == ["source_only"]


def test_no_guard_keeps_every_scored_candidate_and_never_a_diverged_one():
    _, kept, why = source_guard(RECS, None)
    assert [r["name"] for r in kept] == ["source_only", "a", "b"] and why == "no source guard"


def test_without_a_scored_source_only_record_there_is_no_reference():
    with pytest.raises(ValueError, match="scored 'source_only' candidate"):
        source_guard(RECS[1:], 0.02)
    with pytest.raises(ValueError, match="scored 'source_only' candidate"):
        source_guard([{"name": "source_only", "scores": None}] + RECS[1:], None)
