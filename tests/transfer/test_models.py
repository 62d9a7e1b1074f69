"""Built-in models: shapes, blocks, seeding, dry-forward dimension checks, the ResNet adapter."""

import builtins
import sys

import pytest
import torch

from da.align import DANNLoss
from da.transfer import FeaturizerHead, lenet, mlp, resnet
from da.transfer.models import blocks_of, check_model_dims


def test_mlp_shapes_and_blocks():
    f, h = mlp(64, (256, 128), 10, seed=0)
    assert f(torch.zeros(5, 64)).shape == (5, 128)
    assert h.in_features == 128 and h.out_features == 10
    assert len(blocks_of(f)) == 2
    f2, _ = mlp(4, (), 3)
    assert f2(torch.ones(2, 4)).shape == (2, 4)  # no hidden layer: identity features


def test_mlp_seed_is_local_and_reproducible():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, _ = mlp(5, (7,), 2, seed=3)
    after = torch.rand(1)
    b, _ = mlp(5, (7,), 2, seed=3)
    c, _ = mlp(5, (7,), 2, seed=4)
    assert torch.equal(before, after), "building a model must not consume the global RNG"
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_mlp_bad_activation():
    with pytest.raises(ValueError, match="activation"):
        mlp(3, (4,), 2, activation="swishy")


@pytest.mark.parametrize("side", [8, 16, 28])
def test_lenet_sizes(side):
    f, h = lenet((1, side, side), 10, channels=(4, 8), hidden=16)
    x = torch.rand(3, side * side)  # flat rows are reshaped
    assert f(x).shape == (3, 16)
    assert FeaturizerHead(f, h)(x.reshape(3, 1, side, side)).shape == (3, 10)
    assert len(blocks_of(f)) == 3


def test_lenet_rejects_indivisible_shape():
    with pytest.raises(ValueError, match="divisible"):
        lenet((1, 10, 10), channels=(4, 8, 16))


def test_dry_forward_catches_head_mismatch():
    f, _ = mlp(6, (8,), 3)
    _, h = mlp(6, (5,), 3)
    with pytest.raises(ValueError, match="outputs 8 features but the head expects in_features=5"):
        check_model_dims(FeaturizerHead(f, h), torch.zeros(2, 6))


def test_dry_forward_catches_loss_mismatch():
    f, h = mlp(6, (8,), 3)
    with pytest.raises(ValueError, match="DANNLoss expects in_features=7"):
        check_model_dims(FeaturizerHead(f, h), torch.zeros(2, 6), 3, [DANNLoss(7, hidden=(4,))])


def test_resnet_import_error_names_pip_install(monkeypatch):
    real_import = builtins.__import__

    def no_vision(name, *args, **kwargs):
        if name.split(".")[0] in ("torchvision", "timm"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vision)
    for mod in [m for m in sys.modules if m.split(".")[0] in ("torchvision", "timm")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(ImportError, match=r"pip install torchvision"):
        resnet("resnet18", 10)
    with pytest.raises(ImportError, match=r"`pip install torchvision`"):
        resnet("resnet18", 10, backend="torchvision")


def test_resnet_rejects_unknown_arch():
    with pytest.raises(ValueError, match="arch"):
        resnet("vgg16")


@pytest.mark.vision
def test_resnet18_random_init_and_state_dict_file(tmp_path):
    """The adapter on the real torchvision (the vision venv): features equal resnet18 with fc=Identity."""
    from _vision import require

    tvm = require("torchvision.models")
    ref = tvm.resnet18(weights=None)
    torch.save(ref.state_dict(), tmp_path / "r18.pt")
    f, h = resnet("resnet18", 7, weights=tmp_path / "r18.pt", backend="torchvision", image_shape=(3, 32, 32))
    assert torch.equal(f.stem[0].weight, ref.conv1.weight)
    x = torch.rand(2, 3 * 32 * 32)
    f.eval()
    ref.eval()
    assert f(x).shape == (2, 512) and h.out_features == 7
    # the trunk computes the same features as the reference network without its fc layer
    ref.fc = torch.nn.Identity()
    assert torch.allclose(f(x), ref(x.reshape(2, 3, 32, 32)), atol=1e-5)
    assert len(blocks_of(f)) == 5
    f_rand, _ = resnet("resnet18", 7, backend="torchvision", seed=0)
    assert not torch.equal(f_rand.stem[0].weight, ref.conv1.weight)


@pytest.mark.parametrize("backend", ["torchvision", "timm"])
def test_resnet_adapter_wiring_with_reference_backbone(tmp_path, monkeypatch, backend):
    """The adapter on an independent ResNet-18 in each backend's layout (torchvision and
    timm cannot be installed next to the CPU torch here): features equal the reference
    network without its classifier, a state dict saved to a file is loaded (with
    ``weights_only``) and its ``fc`` entries are ignored, five freezable blocks."""
    from _reference_resnet import ResNet18, install_fake_backends

    install_fake_backends(monkeypatch)
    torch.manual_seed(0)
    ref = ResNet18(num_classes=1000, timm=backend == "timm")
    with torch.no_grad():  # non-trivial BN statistics, so that loading them is checked too
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    torch.save(ref.state_dict(), tmp_path / "r18.pt")
    f, h = resnet("resnet18", 7, weights=tmp_path / "r18.pt", backend=backend, image_shape=(3, 32, 32))
    assert h.in_features == 512 and h.out_features == 7
    assert len(blocks_of(f)) == 5
    x = torch.rand(2, 3 * 32 * 32)
    f.eval()
    ref.eval()
    ref.fc = torch.nn.Identity()
    with torch.no_grad():
        assert torch.allclose(f(x), ref(x.reshape(2, 3, 32, 32)), atol=1e-5)
    # random initialisation (no weights): seeded, and not the saved weights
    a, _ = resnet("resnet18", 7, backend=backend, seed=1)
    b, _ = resnet("resnet18", 7, backend=backend, seed=1)
    assert torch.equal(a.stem[0].weight, b.stem[0].weight)
    assert not torch.equal(a.stem[0].weight, f.stem[0].weight)


def test_resnet_adapter_rejects_mismatched_state_dict(tmp_path, monkeypatch):
    from _reference_resnet import install_fake_backends

    install_fake_backends(monkeypatch)
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "not_a_layer.weight": torch.zeros(3)},
               tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="do not match resnet18"):
        resnet("resnet18", 3, weights=tmp_path / "bad.pt", backend="torchvision")
