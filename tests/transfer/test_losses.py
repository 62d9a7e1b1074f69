"""make_alignment: the name-based defaults sized to the features, and their record in the resolved config."""

import pytest
import torch

from da.align import CDANLoss, DANNLoss, JDOTLoss, MMDLoss, SinkhornLoss
from da.transfer import FeaturizerHead, alignment_defaults, finetune, make_alignment, mlp


def _hidden_widths(loss):
    return [m.out_features for m in loss.discriminator if isinstance(m, torch.nn.Linear)][:-1]


@pytest.mark.parametrize("in_features,width", [(2, 100), (64, 100), (100, 100), (128, 128), (255, 255)])
def test_dann_small_features_get_one_hidden_layer_of_max_d_100(in_features, width):
    loss = make_alignment("dann", in_features, 10)
    assert loss.hidden == (width,) and _hidden_widths(loss) == [width]


@pytest.mark.parametrize("in_features", [256, 2048])
def test_dann_wide_features_keep_the_class_default_1024_1024(in_features):
    loss = make_alignment("dann", in_features, 10)
    assert loss.hidden == DANNLoss(in_features).hidden == (1024, 1024)
    assert _hidden_widths(loss) == [1024, 1024]


def test_cdan_small_features_randomized_map_as_wide_as_the_discriminator():
    loss = make_alignment("cdan", 128, 10)  # exact map: 1280 wide
    assert (loss.hidden, loss.randomized, loss.random_dim) == ((128,), True, 128)
    assert loss.random_matrix_f.shape == (128, 128) and loss.discriminator[0].in_features == 128
    narrow = make_alignment("cdan", 8, 3)  # exact map 24 <= 100: kept
    assert narrow.hidden == (100,) and not narrow._use_random and narrow.discriminator[0].in_features == 24
    wide = make_alignment("cdan", 256, 31)  # the class defaults: (1024, 1024), randomized 1024 above 4096
    assert wide.hidden == (1024, 1024) and wide._use_random and wide.random_dim == 1024


def test_sinkhorn_name_defaults_relative_reg_looser_tol_auto_method():
    loss = make_alignment("sinkhorn", 128, 10)
    assert (loss.reg, loss.scale, loss.tol, loss.method, loss.normalize) == (0.2, "median", 1e-4, "symmetric", True)
    assert not SinkhornLoss().normalize  # revision 8 normalises the name's divergence only
    assert SinkhornLoss().reg == 0.1  # revision 4 doubled the relative reg of the name only
    assert SinkhornLoss().scale is None  # the class default is unchanged


def test_revision_3_name_defaults():
    """The benchmark's choices (docs/defaults.md): Laplacian MMD, scaled JDOT; CORAL and SWD as their classes."""
    mmd = make_alignment("mmd", 128, 10)
    assert mmd.kernel == "laplacian" and mmd.multipliers == tuple(2.0 ** k for k in range(-4, 5))
    jdot = make_alignment("jdot", 128, 10)
    assert (jdot.alpha, jdot.lambda_t, jdot.scale, jdot.scale_grad) == (0.03, 0.1, "mean", False)
    assert alignment_defaults("coral", 128, 10) == {} and alignment_defaults("swd", 128, 10) == {}
    assert MMDLoss().kernel == "gaussian" and JDOTLoss().scale is None  # the classes keep their papers' defaults


def test_bare_names_get_their_method_weight_and_modules_weight_1():
    from da.transfer.losses import METHOD_RECIPES, as_terms

    terms = as_terms(["mmd", "coral", MMDLoss()], in_features=8, n_classes=3)
    assert [t.weight for t in terms] == [METHOD_RECIPES["mmd"]["weight"], METHOD_RECIPES["coral"]["weight"], 1.0]
    assert as_terms("mmd", in_features=8, n_classes=3, weight=2.0)[0].weight == 2.0


def test_a_combination_name_expands_to_its_terms_and_a_number_scales_them():
    from da.align import CORALLoss, InformationMaximizationLoss
    from da.transfer.losses import as_terms, method_of_terms

    terms = as_terms("infomax_coral", in_features=8, n_classes=3)
    assert [(t.name, type(t.loss), t.weight) for t in terms] == [
        ("infomax", InformationMaximizationLoss, 2.0), ("coral", CORALLoss, 1e4)]
    assert [t.weight for t in as_terms([("infomax_coral", 0.1)], in_features=8, n_classes=3)] == [0.2, 1e3]
    assert terms[0].loss.n_classes == 3
    # the recipe of a list: only exactly the combination's losses (in any order) train under its recipe
    assert method_of_terms(["coral", "infomax"]) == method_of_terms(["infomax", "coral"]) == "infomax_coral"
    assert method_of_terms(["mmd", "coral"]) is None and method_of_terms(["infomax", "coral", "mmd"]) is None
    assert method_of_terms(["coral", "dann"]) == "dann"
    with pytest.raises(ValueError, match=r"'infomax_coral' is a sum of losses \(infomax, coral\), not one"):
        make_alignment("infomax_coral", 8, 3)


def test_keyword_arguments_override_the_name_defaults():
    assert make_alignment("dann", 128, 10, hidden=(1024, 1024)).hidden == (1024, 1024)
    cdan = make_alignment("cdan", 128, 10, randomized=False)
    assert cdan.randomized is False and cdan.discriminator[0].in_features == 1280
    assert make_alignment("sinkhorn", 128, 10, scale=None).scale is None
    assert make_alignment("mmd", 128, 10, kernel="gaussian").kernel == "gaussian"


def test_alignment_defaults_returns_a_fresh_dict():
    a = alignment_defaults("dann", 128, 10)
    a["hidden"] = (1,)
    assert alignment_defaults("dann", 128, 10) == {"hidden": (128,)}


def test_unknown_name_is_rejected():
    with pytest.raises(ValueError, match="unknown alignment 'dan'"):
        make_alignment("dan", 128, 10)


def test_resolved_config_records_the_constructor_arguments(split, fast):
    model = FeaturizerHead(*mlp(4, (16, 8), 3, seed=0))
    res = finetune(model, split, [("dann", 1.0), ("sinkhorn", 0.5)], **fast)
    dann, sink = res.config["losses"]
    assert dann["class"] == "DANNLoss" and dann["params"]["hidden"] == [100] and dann["params"]["in_features"] == 8
    assert sink["params"]["scale"] == "median" and sink["params"]["tol"] == 1e-4 and sink["params"]["method"] == "symmetric"
    assert sink["params"]["reg"] == 0.2 and sink["params"]["normalize"] is True
    explicit = finetune(FeaturizerHead(*mlp(4, (16, 8), 3, seed=0)), split, [(DANNLoss(8, hidden=(100,)), 1.0),
                                                                          (SinkhornLoss(reg=0.2, scale="median", tol=1e-4,
                                                                                        method="symmetric",
                                                                                        normalize=True), 0.5)],
                        **fast)
    assert [t["params"] for t in explicit.config["losses"]] == [dann["params"], sink["params"]]
    assert explicit.metrics == res.metrics  # the name is only a spelling of those arguments


def test_cdan_params_record_is_json():
    import json

    from da.transfer.losses import _loss_params

    p = _loss_params(CDANLoss(8, 3, hidden=[4], seed=None))
    assert json.loads(json.dumps(p)) == p and p["hidden"] == [4] and p["seed"] is None


def test_feature_scale_normalized_divides_by_the_mean_cross_distance_float64_loop():
    """Reference: the wrapped loss's value / (mean over i, j of ||fs_i - ft_j||^2)^q, the mean by explicit loops."""
    import numpy as np
    import torch

    from da.align import CORALLoss
    from da.transfer.losses import FeatureScaleNormalized

    g = torch.Generator().manual_seed(0)
    fs = torch.randn(7, 4, generator=g, dtype=torch.float64) * 3
    ft = torch.randn(5, 4, generator=g, dtype=torch.float64) + 1
    a, b = fs.numpy(), ft.numpy()
    dbar = sum(float(((a[i] - b[j]) ** 2).sum()) for i in range(7) for j in range(5)) / 35
    loss = FeatureScaleNormalized(CORALLoss(), power=2)
    np.testing.assert_allclose(float(loss(fs, ft)), float(CORALLoss()(fs, ft)) / dbar ** 2, rtol=1e-6)
    assert loss.last_stats_["feature_scale"] == pytest.approx(dbar, rel=1e-6)
    # scale-free: rescaling the features leaves the value unchanged (CORAL itself moves by 10^4)
    np.testing.assert_allclose(float(loss(10 * fs, 10 * ft)), float(loss(fs, ft)), rtol=1e-5)
    with pytest.raises(ValueError, match="power"):
        FeatureScaleNormalized(CORALLoss(), power=0)


def test_feature_scale_normalized_with_grad_keeps_the_normaliser_in_the_graph():
    """grad=True: the same value, and the gradient of L / Dbar^q with Dbar differentiated too (reference: float64
    autograd through the dense mean of the (N, M) distances); a scale-free loss has no pull along the scale."""
    import numpy as np
    import torch

    from da.align import CORALLoss
    from da.transfer.losses import FeatureScaleNormalized

    g = torch.Generator().manual_seed(1)
    fs = (torch.randn(7, 4, generator=g, dtype=torch.float64) * 3).requires_grad_()
    ft = (torch.randn(5, 4, generator=g, dtype=torch.float64) + 1).requires_grad_()
    loss = FeatureScaleNormalized(CORALLoss(), power=2, grad=True)
    value = loss(fs, ft)
    value.backward()
    a, b = fs.detach().clone().requires_grad_(), ft.detach().clone().requires_grad_()
    dense = ((a[:, None] - b[None]) ** 2).sum(-1).mean()
    ref = CORALLoss()(a, b) / dense ** 2
    ref.backward()
    np.testing.assert_allclose(float(value.detach()), float(ref.detach()), rtol=1e-12)
    np.testing.assert_allclose(fs.grad.numpy(), a.grad.numpy(), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ft.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-15)
    assert value.dtype == torch.float64
    # CORAL / Dbar^2 is homogeneous of degree 0: no gradient along (fs, ft) (the detached normaliser's is 4 L)
    pull = float((fs.grad * fs.detach()).sum() + (ft.grad * ft.detach()).sum())
    assert abs(pull) < 1e-9 * float(value.detach())
    fs.grad = ft.grad = None
    detached = FeatureScaleNormalized(CORALLoss(), power=2)(fs, ft)
    detached.backward()
    pull = float((fs.grad * fs.detach()).sum() + (ft.grad * ft.detach()).sum())
    np.testing.assert_allclose(pull, 4 * float(detached.detach()), rtol=1e-5)
    with pytest.raises(ValueError, match="grad must be True or False"):
        FeatureScaleNormalized(CORALLoss(), grad="yes")


def test_make_alignment_feature_scale_power_wraps_the_loss():
    from da.align import SinkhornLoss
    from da.transfer.losses import FeatureScaleNormalized

    loss = make_alignment("sinkhorn", 8, 3, feature_scale_power=1.0)
    assert isinstance(loss, FeatureScaleNormalized) and isinstance(loss.loss, SinkhornLoss) and loss.power == 1.0
    assert not loss.grad
    assert make_alignment("sinkhorn", 8, 3, feature_scale_power=1.0, feature_scale_grad=True).grad


def test_revision_7_sinkhorn_as_documented_is_the_name_without_normalize():
    """docs/defaults.md (stage 8) tells users how to get revision 7's Sinkhorn back as a module: it must be
    the name's loss with normalize=False, value for value, and the normalised one its value over the mean
    squared distance."""
    import torch

    from da._kernels import mean_sq_dist

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 6, generator=g), torch.randn(16, 6, generator=g) + 1
    old = SinkhornLoss(reg=0.2, scale="median", tol=1e-4, method="symmetric")
    assert float(old(x, y)) == float(make_alignment("sinkhorn", 6, 3, normalize=False)(x, y))
    new = make_alignment("sinkhorn", 6, 3)(x, y)
    assert float(new) == pytest.approx(float(old(x, y)) / float(mean_sq_dist(x, y)), rel=1e-6)
