"""align="auto": the label-free choice among candidates fine-tuned from one shared source model."""

import numpy as np
import pytest

from da.transfer import DomainAdaptationClassifier
from da.transfer.auto import choose


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(160, 3)).astype("float32")
    ys = (Xs[:, 0] > 0).astype(int)
    Xt = (rng.normal(size=(120, 3)) + 0.5).astype("float32")
    yt = (Xt[:, 0] > 0.5).astype(int)
    return Xs, ys, Xt, yt


FAST = dict(epochs=2, batch_size=32, hidden=(8,), device="cpu")
CANDS = (("source_only", None, None), ("mmd", "mmd", None), ("coral", "coral", 3.0))


def _fit(data, **kw):
    Xs, ys, Xt, _ = data
    clf = DomainAdaptationClassifier(align="auto", **FAST, **kw)
    from da.transfer.auto import fit_auto

    return fit_auto(clf, Xs, ys, Xt, candidates=CANDS)


def test_auto_records_every_candidate_and_its_choice(data):
    clf = _fit(data)
    sel = clf.selection_
    assert [c["name"] for c in sel["candidates"]] == ["source_only", "mmd", "coral"]
    for c in sel["candidates"]:
        assert set(c["scores"]) == {"source_val", "iwcv", "dev", "entropy", "snd"}
        assert all(np.isfinite(v) for v in c["scores"].values())
    assert sel["chosen"] in clf.candidates_ and clf.model_ is clf.candidates_[sel["chosen"]]
    assert sel["oracle"] is False and sel["rule"] in sel["why"]
    assert clf.result_.config["auto"] is sel  # and in the run's resolved config
    assert sel["candidates"][2]["weight"] == 3.0  # an explicit candidate weight is kept
    # the choice is the rule applied to the recorded scores (a pure function of the record)
    assert choose(sel["candidates"], rule=sel["rule"])[0] == sel["chosen"]
    assert clf.predict(data[2]).shape == (120,)


def test_source_only_candidate_is_the_shared_source_model(data):
    """The source_only candidate is the pretraining run itself: the same model as align=None."""
    Xs, ys, Xt, _ = data
    clf = _fit(data)
    ref = DomainAdaptationClassifier(align=None, **FAST).fit(Xs, ys, Xt)
    np.testing.assert_array_equal(clf.candidates_["source_only"](__import__("torch").as_tensor(Xt)).detach().numpy(),
                                  ref.model_(__import__("torch").as_tensor(Xt)).detach().numpy())


def test_auto_is_deterministic(data):
    a, b = _fit(data), _fit(data)
    assert a.selection_["chosen"] == b.selection_["chosen"]
    assert [c["scores"] for c in a.selection_["candidates"]] == [c["scores"] for c in b.selection_["candidates"]]


def test_choose_guards_the_source_accuracy_and_needs_a_margin():
    recs = [{"name": "source_only", "scores": {"source_val": 0.90, "iwcv": -0.50}},
            {"name": "a", "scores": {"source_val": 0.80, "iwcv": -0.10}},   # forgets the source: excluded
            {"name": "b", "scores": {"source_val": 0.89, "iwcv": -0.40}}]
    name, why = choose(recs, rule="iwcv", tolerance=0.02)
    assert name == "b" and "excluded: a" in why
    assert choose(recs, rule="iwcv", tolerance=0.02, margin=0.2)[0] == "source_only"
    assert choose(recs, rule="iwcv", tolerance=0.2)[0] == "a"


def test_auto_through_the_estimator_and_bad_xt(data):
    Xs, ys, Xt, _ = data
    with pytest.raises(ValueError, match="Xt needs at least 2 samples"):
        DomainAdaptationClassifier(align="auto", **FAST).fit(Xs, ys, Xt[:1])
    with pytest.raises(ValueError, match="source_only"):
        from da.transfer.auto import fit_auto

        fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, candidates=(("m", "mmd", 1.0),))
