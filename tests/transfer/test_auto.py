"""align="auto": the label-free choice among candidates trained from scratch, after a shared warm-up, or
fine-tuned from one shared source model."""

import numpy as np
import pytest

from da.transfer import DomainAdaptationClassifier
from da.transfer.auto import AUTO_CRITERIA, MIXVAL_CRITERIA, choose


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


def _fit(data, candidate_training=None, **kw):
    Xs, ys, Xt, _ = data
    clf = DomainAdaptationClassifier(align="auto", **FAST, **kw)
    from da.transfer.auto import fit_auto

    return fit_auto(clf, Xs, ys, Xt, candidates=CANDS, candidate_training=candidate_training)


def _logits(model, X):
    import torch

    with torch.no_grad():
        return model.eval()(torch.as_tensor(X)).numpy()


def test_auto_records_every_candidate_and_its_choice(data):
    clf = _fit(data)
    sel = clf.selection_
    assert [c["name"] for c in sel["candidates"]] == ["source_only", "mmd", "coral"]
    for c in sel["candidates"]:
        assert set(c["scores"]) == {*AUTO_CRITERIA, "ensv", *MIXVAL_CRITERIA} and "source_val_loss" in AUTO_CRITERIA
        assert all(np.isfinite(v) for v in c["scores"].values())
    assert sel["chosen"] in clf.candidates_ and clf.model_ is clf.candidates_[sel["chosen"]]
    assert sel["oracle"] is False and sel["rule"] in sel["why"]
    from da.transfer.auto import AUTO_CANDIDATE_TRAINING

    assert sel["candidate_training"] == AUTO_CANDIDATE_TRAINING
    assert clf.result_.config["auto"] is sel  # and in the run's resolved config
    assert sel["candidates"][2]["weight"] == 3.0  # an explicit candidate weight is kept
    # the choice is the rule applied to the recorded scores (a pure function of the record)
    assert choose(sel["candidates"], rule=sel["rule"], tolerance=sel["tolerance"])[0] == sel["chosen"]
    from da.transfer.auto import AUTO_RULE, AUTO_TOLERANCE

    assert (sel["rule"], sel["tolerance"]) == (AUTO_RULE, AUTO_TOLERANCE)
    assert clf.predict(data[2]).shape == (120,)
    # EnsV is each candidate's agreement with the pool's ensemble, recomputed from the candidates' models
    from da.transfer.auto import ensemble_agreement

    agree = ensemble_agreement(clf.candidates_, data[2])
    assert [c["scores"]["ensv"] for c in sel["candidates"]] == [agree[c["name"]] for c in sel["candidates"]]
    # and MixVal's probes are each candidate's, recomputed from its model with the run's seed
    from da.transfer.probes import mixup_probes

    for c in sel["candidates"]:
        got = mixup_probes(clf.candidates_[c["name"]], data[2], seed=0)
        assert (c["scores"]["ice_intra"], c["scores"]["ice_inter"]) == (got["ice_intra"], got["ice_inter"])
        assert c["probes"] == {"n_intra": got["n_intra"], "n_inter": got["n_inter"]}


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


def test_scratch_candidates_are_plain_fits_of_their_method_bit_for_bit(data):
    """candidate_training="scratch": each candidate is DomainAdaptationClassifier(align=method) itself."""
    Xs, ys, Xt, _ = data
    clf = _fit(data, candidate_training="scratch")
    assert clf.selection_["candidate_training"] == "scratch" and clf.selection_["candidate_epochs"] == FAST["epochs"]
    for name, kw in (("mmd", {"align": "mmd"}), ("coral", {"align": "coral", "weight": 3.0}),
                     ("source_only", {"align": None})):
        ref = DomainAdaptationClassifier(**kw, **FAST).fit(Xs, ys, Xt)
        np.testing.assert_array_equal(_logits(clf.candidates_[name], Xt), _logits(ref.model_, Xt))
    # with its method's epoch selection (MMD's recipe is not the source model's), as recorded
    from da.transfer.losses import method_recipe

    rec = {r["name"]: r for r in clf.selection_["candidates"]}
    assert rec["mmd"]["recipe"]["selection"] == method_recipe("mmd")["selection"] != method_recipe(None)["selection"]


def test_warmup_candidates_continue_from_the_shared_warmup(data):
    """candidate_training="warmup": w source-only epochs, then each method for the remaining epochs."""
    Xs, ys, Xt, _ = data
    fast = dict(FAST, epochs=5)
    from da.transfer.auto import fit_auto

    clf = fit_auto(DomainAdaptationClassifier(align="auto", **fast), Xs, ys, Xt, candidates=CANDS,
                   candidate_training="warmup")
    sel = clf.selection_
    assert sel["candidate_training"] == "warmup" and (sel["warmup_epochs"], sel["candidate_epochs"]) == (1, 4)
    # reference: a plain 1-epoch source-only fit (its last epoch), continued by a plain fit of the method
    warm = DomainAdaptationClassifier(align=None, **dict(fast, epochs=1), selection="last").fit(Xs, ys, Xt).model_
    ref = DomainAdaptationClassifier(warm.featurizer, warm.head, align="mmd", **dict(fast, epochs=4),
                                     selection="last").fit(Xs, ys, Xt)
    np.testing.assert_array_equal(_logits(clf.candidates_["mmd"], Xt), _logits(ref.model_, Xt))
    # the source_only candidate is still the full source-only fit
    so = DomainAdaptationClassifier(align=None, **fast).fit(Xs, ys, Xt)
    np.testing.assert_array_equal(_logits(clf.candidates_["source_only"], Xt), _logits(so.model_, Xt))


def test_unknown_candidate_training_and_a_warmup_without_room_are_refused(data):
    Xs, ys, Xt, _ = data
    from da.transfer.auto import fit_auto

    with pytest.raises(ValueError, match="candidate_training must be one of finetune, scratch, warmup"):
        fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, candidate_training="bogus")
    with pytest.raises(ValueError, match="warmup.*epochs >= 2"):
        fit_auto(DomainAdaptationClassifier(align="auto", **dict(FAST, epochs=1)), Xs, ys, Xt,
                 candidates=CANDS, candidate_training="warmup")


def test_borda_rule_sums_ranks_over_the_guarded_candidates_and_a_tie_keeps_source_only():
    def rec(name, sv, dev, ent, snd):
        return {"name": name, "scores": {"source_val": sv, "dev": dev, "entropy": ent, "snd": snd}}

    recs = [rec("source_only", 0.90, -0.5, -0.5, 1.0),
            rec("a", 0.95, -0.1, -0.6, 3.0),   # ranks 3 + 1 + 3 = 7
            rec("b", 0.91, -0.3, -0.1, 2.0),   # ranks 2 + 3 + 2 = 7 (source_only: 1 + 2 + 1 = 4)
            rec("c", 0.50, 9.0, 9.0, 9.0)]     # forgets the source: excluded, never ranked
    name, why = choose(recs, rule="borda", tolerance=0.02)
    assert name == "a" and "excluded: c" in why  # a tie between a and b: the first listed
    recs[1]["scores"]["dev"] = -0.6  # a: ranks 1 + 1 + 3 = 5; b: 3 + 3 + 2 = 8; source_only: 2 + 2 + 1 = 5
    assert choose(recs, rule="borda", tolerance=0.02)[0] == "b"
    name, why = choose(recs, rule="borda", tolerance=None)  # no guard: c is ranked, and first on all three
    assert name == "c" and why.startswith("no source guard")
    tie = [rec("source_only", 0.9, 0.0, 0.0, 2.0), rec("a", 0.9, 0.0, 0.0, 2.0)]
    assert choose(tie, rule="borda")[0] == "source_only"


def test_mixval_rule_sums_the_two_probe_ranks_over_the_guarded_candidates():
    def rec(name, sv, intra, inter):
        return {"name": name, "scores": {"source_val": sv, "ice_intra": intra, "ice_inter": inter}}

    recs = [rec("source_only", 0.90, 0.80, 0.40),   # ranks 1 + 1 = 2
            rec("a", 0.90, 0.95, 0.45),             # ranks 3 + 2 = 5
            rec("b", 0.89, 0.90, 0.60),             # ranks 2 + 3 = 5: a tie with a, the first listed wins
            rec("c", 0.60, 1.00, 1.00)]             # forgets the source: excluded by the guard
    name, why = choose(recs, rule="mixval", tolerance=0.02)
    assert name == "a" and "excluded: c" in why and "ice_intra/ice_inter" in why
    recs[1]["scores"]["ice_inter"] = 0.30  # a: 3 + 1 = 4 < b: 2 + 3 = 5
    assert choose(recs, rule="mixval", tolerance=0.02)[0] == "b"
    assert choose(recs, rule="mixval", tolerance=None)[0] == "c"
    tie = [rec("source_only", 0.9, 0.5, 0.5), rec("a", 0.9, 0.5, 0.5)]
    assert choose(tie, rule="mixval")[0] == "source_only"


def test_ensemble_agreement_against_a_float64_loop():
    """EnsV on three fixed linear models: the softmax average's argmax, and each model's agreement with it,
    against a plain numpy loop; a model that always agrees with the ensemble scores 1."""
    import torch

    from da.transfer import FeaturizerHead
    from da.transfer.auto import ensemble_agreement

    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4)).astype("float32")
    models, weights = {}, []
    for k in range(3):
        W, b = rng.normal(size=(3, 4)), rng.normal(size=3)
        head = torch.nn.Linear(4, 3)
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(W)), head.bias.copy_(torch.as_tensor(b))
        models[f"m{k}"] = FeaturizerHead(torch.nn.Identity(), head)
        weights.append((W, b))
    got = ensemble_agreement(models, X)
    probs = []
    for W, b in weights:
        z = X.astype(np.float64) @ W.T.astype(np.float32).astype(np.float64) + b.astype(np.float32)
        z = np.exp(z - z.max(1, keepdims=True))
        probs.append(z / z.sum(1, keepdims=True))
    pseudo = [int(np.argmax(sum(p[i] for p in probs))) for i in range(len(X))]
    for k, p in enumerate(probs):
        want = sum(int(np.argmax(p[i]) == pseudo[i]) for i in range(len(X))) / len(X)
        assert got[f"m{k}"] == pytest.approx(want, abs=1e-12)
    assert 0 < min(got.values()) < 1  # the three models disagree somewhere
    assert ensemble_agreement({"a": models["m0"], "b": models["m0"]}, X) == {"a": 1.0, "b": 1.0}
    sub = ensemble_agreement(models, X, max_samples=20, seed=1)  # a seeded subsample of the rows
    assert sub == ensemble_agreement(models, X, max_samples=20, seed=1)
    assert all(v * 20 == int(v * 20) for v in sub.values())
    # the lazy rows of a dataset (image folders) give the same scores as the array, subsample included
    from torch.utils.data import TensorDataset

    from da.data.lazy import DatasetRows

    class Counted(TensorDataset):  # counts the rows read
        reads = 0

        def __getitem__(self, i):
            Counted.reads += 1
            return super().__getitem__(i)

    rows = DatasetRows(Counted(torch.as_tensor(X), torch.zeros(len(X), dtype=torch.long)))
    assert ensemble_agreement(models, rows) == got
    Counted.reads = 0
    assert ensemble_agreement(models, rows, max_samples=20, seed=1) == sub
    assert Counted.reads == 3 * 20  # only the subsample, once per model: the rows are never materialised
    with pytest.raises(ValueError, match="models must hold at least one"):
        ensemble_agreement({}, X)
    with pytest.raises(ValueError, match=r"X must hold at least one target row .*shape \(0, 4\)"):
        ensemble_agreement(models, X[:0])


def test_a_diverging_candidate_is_recorded_and_left_out_of_the_choice(data):
    """One candidate's NaN loss (a TrainingDivergedError in its own fit) must not sink the others: it is
    recorded with its error and no scores, named in a RuntimeWarning, never chosen; the rest are scored as
    without it."""
    import torch

    from da.transfer.auto import fit_auto

    class Exploding(torch.nn.Module):
        def forward(self, fs, ft, **kw):
            return (fs.mean() - ft.mean()) ** 2 * float("nan")

    Xs, ys, Xt, _ = data
    cands = (("source_only", None, None), ("bad", Exploding(), 1.0), ("mmd", "mmd", None))
    with pytest.warns(RuntimeWarning, match="candidate 'bad' is left out of the choice: training diverged at step 0"):
        clf = fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, candidates=cands,
                       candidate_training="scratch")
    recs = {c["name"]: c for c in clf.selection_["candidates"]}
    assert recs["bad"]["scores"] is None and "loss term 'exploding' is nan" in recs["bad"]["failed"]
    assert set(clf.candidates_) == {"source_only", "mmd"} and clf.selection_["chosen"] != "bad"
    ref = fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, candidates=(cands[0], cands[2]),
                   candidate_training="scratch")
    assert [c["scores"] for c in ref.selection_["candidates"]] == [recs[n]["scores"] for n in ("source_only", "mmd")]
    assert choose(clf.selection_["candidates"], rule="mixval")[0] in {"source_only", "mmd"}


def test_ensemble_rule_averages_the_guarded_candidates_softmax(data):
    """rule="ensemble": the model is the mean softmax of the candidates ensemble_members names (float64 loop),
    recorded with its members; the guard excludes a candidate whose source accuracy is too low."""
    import torch

    from da.transfer.auto import fit_auto

    Xs, ys, Xt, _ = data
    clf = fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, candidates=CANDS,
                   candidate_training="scratch", rule="ensemble", tolerance=None)
    sel = clf.selection_
    assert sel["chosen"] == "ensemble" and sel["members"] == ["source_only", "mmd", "coral"]
    assert clf.model_ is clf.candidates_["ensemble"] and set(clf.recipe_["ensemble"]) == set(sel["members"])
    p = np.mean([torch.softmax(torch.as_tensor(_logits(clf.candidates_[n], Xt), dtype=torch.float64), 1).numpy()
                 for n in sel["members"]], 0)
    assert np.allclose(clf.predict_proba(Xt), p, atol=1e-6)
    assert np.array_equal(clf.predict(Xt), clf.classes_[p.argmax(1)])
    from da.transfer.auto import ensemble_members

    recs = [{"name": "source_only", "scores": {"source_val": 0.9}}, {"name": "a", "scores": {"source_val": 0.85}},
            {"name": "b", "scores": {"source_val": 0.89}}, {"name": "c", "scores": None}]
    assert ensemble_members(recs, tolerance=0.02)[0] == ["source_only", "b"]
    assert ensemble_members(recs, rule="ensemble_aligned", tolerance=0.02)[0] == ["b"]
    assert ensemble_members(recs, rule="ensemble_aligned", tolerance=0.0)[0] == ["source_only"]
    assert ensemble_members(recs, tolerance=None)[0] == ["source_only", "a", "b"]
    with pytest.raises(ValueError, match="rule must be one of"):
        ensemble_members(recs, rule="mean", tolerance=0.02)
    with pytest.raises(ValueError, match="rename the candidate of that name"):  # before any candidate trains
        fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, rule="ensemble",
                 candidates=CANDS + (("ensemble", "coral", None),))


def test_top_k_ensemble_averages_the_k_guarded_candidates_with_the_highest_criterion(data):
    """rule="ensemble_top{k}:{criterion}": the members are the k guarded candidates with the highest score (a tie
    keeps the earlier; fewer than k: all), and the model is their mean softmax (float64 loop)."""
    import torch

    from da.transfer.auto import ensemble_members, fit_auto

    recs = [{"name": "source_only", "scores": {"source_val": 0.9, "bnm": 0.2}},
            {"name": "a", "scores": {"source_val": 0.85, "bnm": 0.9}},
            {"name": "b", "scores": {"source_val": 0.89, "bnm": 0.5}},
            {"name": "c", "scores": {"source_val": 0.91, "bnm": 0.5}}, {"name": "d", "scores": None}]
    assert ensemble_members(recs, rule="ensemble_top2:bnm", tolerance=None)[0] == ["a", "b"]  # b before c: a tie
    assert ensemble_members(recs, rule="ensemble_top2:bnm", tolerance=0.02)[0] == ["b", "c"]  # a is out of the guard
    assert ensemble_members(recs, rule="ensemble_top9:bnm", tolerance=None)[0] == ["a", "b", "c", "source_only"]
    assert "the 1 highest by bnm (a 0.9)" in ensemble_members(recs, rule="ensemble_top1:bnm", tolerance=None)[1]
    with pytest.raises(ValueError, match=r"candidates \['a', 'b', 'c'\] have no 'dev' score"):
        ensemble_members([{**recs[0], "scores": {**recs[0]["scores"], "dev": 0.1}}, *recs[1:4]],
                         rule="ensemble_top2:dev", tolerance=None)
    Xs, ys, Xt, _ = data
    clf = fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, candidates=CANDS,
                   candidate_training="scratch", rule="ensemble_top2:bnm", tolerance=None)
    sel = clf.selection_
    scored = sorted(sel["candidates"], key=lambda c: -c["scores"]["bnm"])
    assert sel["chosen"] == "ensemble" and sel["members"] == [c["name"] for c in scored[:2]]
    p = np.mean([torch.softmax(torch.as_tensor(_logits(clf.candidates_[n], Xt), dtype=torch.float64), 1).numpy()
                 for n in sel["members"]], 0)
    assert np.allclose(clf.predict_proba(Xt), p, atol=1e-6)


@pytest.mark.parametrize("rule", ["best", ("dev", "nope"), (), 3])
def test_an_unknown_rule_is_refused_before_any_candidate_trains(data, rule, monkeypatch):
    from da.transfer import auto

    def no_training(*args, **kwargs):
        raise AssertionError("a candidate trained")

    monkeypatch.setattr(auto, "_train_candidate", no_training)
    Xs, ys, Xt, _ = data
    with pytest.raises(ValueError, match="rule must be a criterion of .*ensv.*, a tuple of them, one of borda"):
        auto.fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, candidates=CANDS, rule=rule)
    for bad, match in (("ensemble_top0:bnm", "integer K >= 1"), ("ensemble_top3", "integer K >= 1"),
                       ("ensemble_top2:acc", "'acc' is not a criterion")):
        with pytest.raises(ValueError, match=match):
            auto.fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, candidates=CANDS, rule=bad)
    for valid in ("iwcv", ("iwcv", "dev"), ["iwcv", "dev"], "borda", "mixval", "ensemble", "ensemble_aligned",
                  "ensemble_top3:bnm", "ensemble_top1:ensv"):
        auto.check_rule(valid, CANDS)  # every rule choose accepted before the check, lists included


def test_auto_params_give_the_estimator_fit_autos_options_and_bad_ones_are_refused(data):
    """DomainAdaptationClassifier(align="auto", auto_params=...) is fit_auto with those options, bit for bit."""
    from sklearn.base import clone

    from da.transfer.auto import fit_auto

    Xs, ys, Xt, _ = data
    opts = {"candidates": CANDS, "candidate_training": "scratch", "rule": "ensemble", "tolerance": None}
    clf = DomainAdaptationClassifier(align="auto", auto_params=opts, **FAST)
    assert clone(clf).get_params()["auto_params"] == opts
    clf.fit(Xs, ys, Xt)
    ref = fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, **opts)
    assert clf.selection_["chosen"] == "ensemble" and clf.selection_["members"] == ["source_only", "mmd", "coral"]
    assert clf.selection_["candidate_training"] == "scratch" and clf.selection_["tolerance"] is None
    np.testing.assert_array_equal(clf.predict_proba(Xt), ref.predict_proba(Xt))
    for bad, match in [({"rules": "dev"}, r"auto_params: unknown option\(s\) 'rules'; valid: candidates"),
                       (["dev"], "auto_params must be a dict of fit_auto options, got list"),
                       ({"rule": "best"}, "rule must be a criterion of")]:
        with pytest.raises(ValueError, match=match):
            DomainAdaptationClassifier(align="auto", auto_params=bad, **FAST).fit(Xs, ys, Xt)
    with pytest.raises(ValueError, match="auto_params is for align='auto' only"):
        DomainAdaptationClassifier(align="mmd", auto_params={"rule": "dev"}, **FAST).fit(Xs, ys, Xt)


def test_an_ensemble_of_candidates_trained_on_lazy_rows_is_the_in_memory_ones(data):
    """rule="ensemble" on a split of lazy dataset rows (image folders): the same choice and outputs as in memory
    (it failed at building the ensemble, which probed the member widths with an array slice of the rows)."""
    from dataclasses import replace

    import torch

    from da.data import DatasetRows, Part
    from da.transfer import make_split, mlp
    from da.transfer.auto import auto_select

    def lazy(part):
        y = part.y if part.y is not None else np.zeros(len(part), int)
        return Part(DatasetRows(torch.utils.data.TensorDataset(torch.as_tensor(part.X), torch.as_tensor(y))),
                    part.y)

    Xs, ys, Xt, _ = data
    split = make_split(Xs, ys, Xt, seed=0)
    rows = replace(split, **{k: lazy(getattr(split, k)) for k in ("source_train", "source_val", "target_train",
                                                                  "target_val")})
    kw = dict(config=dict(epochs=2, batch_size=32, device="cpu", seed=0), candidates=CANDS,
              candidate_training="scratch", rule="ensemble", tolerance=None)
    a, models_a, rec_a = auto_select(mlp(3, (8,), 2, seed=0), split, **kw)
    b, models_b, rec_b = auto_select(mlp(3, (8,), 2, seed=0), rows, **kw)
    assert a == b == "ensemble" and rec_a["members"] == rec_b["members"] == ["source_only", "mmd", "coral"]
    assert [c["scores"] for c in rec_a["candidates"]] == [c["scores"] for c in rec_b["candidates"]]
    np.testing.assert_array_equal(_logits(models_a["ensemble"], Xt), _logits(models_b["ensemble"], Xt))


@pytest.mark.parametrize("opts, match", [
    ({"tolerance": -0.1}, r"tolerance must be a number >= 0 or None \(no source guard\), got -0.1"),
    ({"tolerance": float("nan")}, "tolerance must be a number >= 0 or None"),
    ({"candidate_training": "scratch", "finetune_epochs": 3},
     "finetune_epochs is for candidate_training='finetune'; got candidate_training='scratch'"),
    ({"finetune_epochs": 0}, "finetune_epochs must be an integer >= 1, got 0"),
    ({"finetune_epochs": 1.5}, "finetune_epochs must be an integer >= 1, got 1.5"),
    ({"candidates": CANDS + (("src2", None, None),)}, r"only 'source_only' is trained without alignment .*'src2'"),
    ({"candidates": CANDS + (("mmd", "coral", None),)}, "candidate names must be distinct"),
    ({"candidate_training": "pretrain"}, "candidate_training must be one of finetune, scratch, warmup"),
])
def test_bad_auto_options_are_refused_before_anything_trains(data, opts, match, monkeypatch):
    """fit_auto (and auto_params) check every option before the source fit, as a config's auto: section is checked."""
    from da.transfer import auto

    def no_training(*args, **kwargs):
        raise AssertionError("something trained")

    monkeypatch.setattr(DomainAdaptationClassifier, "_initial_model", no_training)
    Xs, ys, Xt, _ = data
    with pytest.raises(ValueError, match=match):
        auto.fit_auto(DomainAdaptationClassifier(align="auto", **FAST), Xs, ys, Xt, **{"candidates": CANDS, **opts})
    with pytest.raises(ValueError, match="needs epochs >= 2"):
        auto.fit_auto(DomainAdaptationClassifier(align="auto", **{**FAST, "epochs": 1}), Xs, ys, Xt,
                      candidates=CANDS, candidate_training="warmup")


def test_an_ensemble_of_models_on_two_devices_is_refused():
    import torch

    from da.transfer import FeaturizerHead, mlp, softmax_ensemble

    a, b, c = (FeaturizerHead(*mlp(3, (4,), 2, seed=s)) for s in (0, 1, 1))
    with pytest.raises(ValueError, match="models must all be on one device, got parameters on cpu, meta"):
        softmax_ensemble([a, b.to("meta")])
    assert softmax_ensemble([a, c])(torch.zeros(1, 3)).shape == (1, 2)
