"""DomainAdaptationClassifier: the scikit-learn contract over the training loop."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from da.align import CORALLoss, MMDLoss
from da.transfer import DomainAdaptationClassifier, mlp
from da.transfer.losses import method_recipe


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(120, 3)).astype("float32")
    ys = (Xs[:, 0] > 0).astype(int)
    Xt = (rng.normal(size=(90, 3)) + 0.5).astype("float32")
    yt = (Xt[:, 0] > 0.5).astype(int)
    return Xs, ys, Xt, yt


FAST = dict(epochs=2, batch_size=32, hidden=(8,), device="cpu")


def test_init_stores_params_unchanged_and_clone_works():
    f, h = mlp(3, (8,), 2)
    clf = DomainAdaptationClassifier(featurizer=f, head=h, align=["mmd"], weight="ganin", epochs=5, seed=3)
    params = clf.get_params()
    assert params["align"] == ["mmd"] and params["weight"] == "ganin" and params["featurizer"] is f
    c2 = clone(clf)
    assert c2.get_params()["epochs"] == 5 and c2.featurizer is not f
    clf.set_params(epochs=7, align="coral")
    assert clf.epochs == 7 and clf.align == "coral"
    assert not hasattr(clf, "model_")


@pytest.mark.parametrize("align", [None, "mmd", "dann", "cdan", "jdot", "coral", "swd"])
def test_fit_predict_for_each_named_alignment(data, align):
    Xs, ys, Xt, _ = data
    clf = DomainAdaptationClassifier(align=align, **FAST).fit(Xs, ys, Xt)
    assert clf.predict(Xt).shape == (90,)
    proba = clf.predict_proba(Xt)
    assert proba.shape == (90, 2) and np.allclose(proba.sum(1), 1)
    logits = torch.as_tensor(clf.decision_function(Xt), dtype=torch.float64)
    assert np.allclose(proba, torch.softmax(logits, 1).numpy())  # matches torch.softmax of the logits
    assert np.array_equal(clf.predict(Xt), clf.classes_[proba.argmax(1)])
    assert clf.transform(Xt).shape == (90, 8)
    assert len(clf.history_) == 2 and clf.selection_ == method_recipe(align)["selection"]  # selection=None
    assert all(k.endswith("_") for k in ("model_", "history_", "classes_", "n_features_in_", "result_"))


def test_loss_objects_lists_and_schedules(data):
    Xs, ys, Xt, _ = data
    user_loss = CORALLoss()
    clf = DomainAdaptationClassifier(align=[(user_loss, 2.0), ("mmd", MMDLoss(), lambda p: p)], **FAST)
    clf.fit(Xs, ys, Xt)
    h = clf.history_[-1]
    assert "loss/coral" in h and "lambda/mmd" in h and h["lambda/coral"] == 2.0
    assert not user_loss.last_stats_ if hasattr(user_loss, "last_stats_") else True  # user's module untouched
    clf = DomainAdaptationClassifier(align=MMDLoss(), weight="ganin", **FAST).fit(Xs, ys, Xt)
    assert clf.history_[0]["lambda/mmd"] < clf.history_[-1]["lambda/mmd"]


def test_string_labels_tensors_and_user_modules(data):
    Xs, ys, Xt, _ = data
    names = np.array(["neg", "pos"])[ys]
    f, h = mlp(3, (6,), 2, seed=1)
    w0 = f[1][0].weight.clone()
    clf = DomainAdaptationClassifier(featurizer=f, head=h, align="coral", **FAST)
    clf.fit(torch.as_tensor(Xs), names, torch.as_tensor(Xt))
    assert set(clf.predict(Xt)) <= {"neg", "pos"} and list(clf.classes_) == ["neg", "pos"]
    assert torch.equal(f[1][0].weight, w0), "fit must not train the user's modules in place"
    assert 0 <= clf.score(Xs, names) <= 1
    only_f = DomainAdaptationClassifier(featurizer=mlp(3, (5,), 2)[0], align=None, **FAST).fit(Xs, ys, Xt)
    assert only_f.transform(Xs).shape == (120, 5)


def test_same_seed_same_predictions(data):
    Xs, ys, Xt, _ = data
    a = DomainAdaptationClassifier(align="dann", seed=1, **FAST).fit(Xs, ys, Xt).predict_proba(Xt)
    b = DomainAdaptationClassifier(align="dann", seed=1, **FAST).fit(Xs, ys, Xt).predict_proba(Xt)
    assert np.array_equal(a, b)


def test_few_shot_labels(data):
    Xs, ys, Xt, yt = data
    idx = np.arange(0, 90, 9)
    clf = DomainAdaptationClassifier(align="mmd", **FAST).fit(Xs, ys, Xt, yt_labeled=yt[idx], labeled_idx=idx)
    assert "loss/ce_target" in clf.history_[0]
    with pytest.raises(ValueError, match="n_target_labeled=91 exceeds"):
        DomainAdaptationClassifier(align="mmd", **FAST).fit(Xs, ys, Xt, yt_labeled=np.zeros(91, int),
                                                             labeled_idx=np.arange(91))


def test_errors(data):
    Xs, ys, Xt, _ = data
    with pytest.raises(NotFittedError):
        DomainAdaptationClassifier().predict(Xt)
    with pytest.raises(ValueError, match="oracle"):
        DomainAdaptationClassifier(selection="oracle", **FAST).fit(Xs, ys, Xt)
    with pytest.raises(ValueError, match="unknown alignment 'fancy'"):
        DomainAdaptationClassifier(align="fancy", **FAST).fit(Xs, ys, Xt)
    with pytest.raises(ValueError, match="Xt is empty"):
        DomainAdaptationClassifier(align="mmd", **FAST).fit(Xs, ys, Xt[:0])
    clf = DomainAdaptationClassifier(align=None, **FAST).fit(Xs, ys, Xt)
    with pytest.raises(ValueError, match="X has 4 features"):
        clf.predict(np.zeros((2, 4)))
