"""Backbones by name against the packages' own headless models; bottleneck, lr groups, frozen BN; no download.

The `vision` tests use the real torchvision and timm (the vision venv, `make
test-vision`); sockets are closed for every weight-name test, so nothing can be
downloaded.
"""

import socket
import sys

import pytest
import torch
from torch import nn

from da.transfer import FeaturizerHead
from da.transfer._rng import seeded
from da.transfer.backbones import (BottleneckFeaturizer, WeightsUnavailableError, build_backbone,
                                   build_model, param_groups)
from da.transfer.models import blocks_of


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _shake_bn(net):
    """Non-trivial BN statistics, so that loading them is checked too."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net


def _same_features(f, ref, shape=(2, 3, 32, 32)):
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0))
    f.eval()
    ref.eval()
    with torch.no_grad():
        a, b = f(x), ref(x)
    assert a.shape == b.shape and a.dim() == 2
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


# -- the real packages --------------------------------------------------------------------------

@pytest.mark.vision
@pytest.mark.parametrize("arch, shape", [("resnet18", (2, 3, 32, 32)), ("mobilenet_v3_small", (2, 3, 32, 32)),
                                         ("vit_b_16", (1, 3, 224, 224))])
def test_torchvision_random_init_is_the_package_model_without_classifier(arch, shape):
    from _vision import require

    tvm = require("torchvision.models")
    f, d = build_backbone(f"torchvision/{arch}", seed=3)
    with seeded(3):  # the same seeded draws build the package's own model
        ref = tvm.get_model(arch, weights=None)
    head = {"resnet18": "fc", "mobilenet_v3_small": "classifier.3", "vit_b_16": "heads.head"}[arch]
    parent = ref.get_submodule(head.rpartition(".")[0]) if "." in head else ref
    assert d == getattr(parent, head.rpartition(".")[2]).in_features
    setattr(parent, head.rpartition(".")[2], nn.Identity())
    _same_features(f, ref, shape)
    g, _ = build_backbone(f"torchvision/{arch}", seed=4)
    assert not all(torch.equal(p, q) for p, q in zip(f.parameters(), g.parameters()))


@pytest.mark.vision
def test_torchvision_state_dict_file(tmp_path):
    from _vision import require

    tvm = require("torchvision.models")
    ref = _shake_bn(tvm.resnet18(weights=None, num_classes=31))  # a fine-tuned 31-class model's file
    torch.save(ref.state_dict(), tmp_path / "r18.pt")
    f, d = build_backbone("torchvision/resnet18", weights=tmp_path / "r18.pt")
    assert d == 512 and len(blocks_of(f)) == 5  # the ResNet trunk: stem, layer1..4
    ref.fc = nn.Identity()
    _same_features(f, ref)
    mob = tvm.mobilenet_v3_small(weights=None)
    torch.save(mob.state_dict(), tmp_path / "mob.pth")
    g, _ = build_backbone("torchvision/mobilenet_v3_small", weights=str(tmp_path / "mob.pth"))
    mob.classifier[3] = nn.Identity()
    _same_features(g, mob)
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "bogus.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="weights do not match torchvision/resnet18"):
        build_backbone("torchvision/resnet18", weights=tmp_path / "bad.pt")


@pytest.mark.vision
@pytest.mark.parametrize("arch", ["resnet18", "vit_tiny_patch16_224"])
def test_timm_random_init_and_state_dict_file(tmp_path, arch):
    from _vision import require

    timm = require("timm")
    shape = (2, 3, 32, 32) if arch == "resnet18" else (1, 3, 224, 224)
    f, d = build_backbone(f"timm/{arch}", seed=5)
    with seeded(5):
        ref = timm.create_model(arch, pretrained=False, num_classes=0)
    assert d == ref.num_features
    _same_features(f, ref, shape)
    full = _shake_bn(timm.create_model(arch, pretrained=False))  # with its 1000-class classifier
    torch.save(full.state_dict(), tmp_path / "w.pth")
    g, _ = build_backbone(f"timm/{arch}", weights=tmp_path / "w.pth", seed=99)
    full.reset_classifier(0)  # timm's own headless model
    _same_features(g, full, shape)


@pytest.mark.vision
def test_torchvision_weight_name_from_cache_without_network(tmp_path, monkeypatch, no_network):
    from _vision import require

    tvm = require("torchvision.models")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    url = tvm.ResNet18_Weights.IMAGENET1K_V1.url
    ref = _shake_bn(tvm.resnet18(weights=None))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(ref.state_dict(), tmp_path / "hub" / "checkpoints" / url.rpartition("/")[2])
    model = build_model("torchvision/resnet18", 4, weights="IMAGENET1K_V1")
    ref.fc = nn.Identity()
    _same_features(model.featurizer.backbone, ref)
    assert model.featurizer.pretrained


@pytest.mark.vision
def test_weight_names_without_cache_or_network_fail_clearly(tmp_path, monkeypatch, no_network):
    from _vision import require

    require("torchvision")
    require("timm")
    hub = require("huggingface_hub.constants")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)  # as HF_HUB_OFFLINE=1; else the hub retries for ~45 s
    with pytest.raises(WeightsUnavailableError, match=r"'IMAGENET1K_V2' of torchvision/resnet50 are not "
                                                       r"cached \(.*resnet50-11ad3fa6\.pth\)"):
        build_backbone("torchvision/resnet50", weights="IMAGENET1K_V2")
    with pytest.raises(WeightsUnavailableError, match="'pretrained' of timm/resnet18 are not cached"):
        build_backbone("timm/resnet18", weights="pretrained")
    with pytest.raises(ValueError, match=r"unknown weights 'IMAGENET9K' .*\['DEFAULT', 'IMAGENET1K_V1'"):
        build_backbone("torchvision/resnet18", weights="IMAGENET9K")


@pytest.mark.vision
def test_unknown_package_models():
    from _vision import require

    require("torchvision")
    require("timm")
    with pytest.raises(ValueError, match="unknown torchvision model 'resnet999'"):
        build_backbone("torchvision/resnet999")
    with pytest.raises(ValueError, match="unknown timm model 'not_a_net'"):
        build_backbone("timm/not_a_net")
    with pytest.raises(ValueError, match="must be None, 'pretrained' or a state-dict file"):
        build_backbone("timm/resnet18", weights="IMAGENET1K_V2")


@pytest.mark.vision
def test_resnet_model_groups_and_bottleneck_on_images():
    from _vision import require

    require("torchvision")
    model = build_model("torchvision/resnet18", 31, bottleneck=256, seed=0)
    f, logits = model.features_and_logits(torch.rand(4, 3, 64, 64))
    assert f.shape == (4, 256) and logits.shape == (4, 31) and (f >= 0).all()
    groups = param_groups(model, 0.01)
    assert [(g["name"], g["lr"]) for g in groups] == [("backbone", 0.01), ("new", 0.01)]  # random init: 1x


@pytest.mark.vision
@pytest.mark.parametrize("name", ["torchvision/resnet18", "torchvision/mobilenet_v3_small"])
def test_package_backbone_reads_the_flat_rows_of_an_in_memory_image_domain(name):
    """Flat rows (n, C*H*W), as an EmpiricalDomain holds images, give the features of the images, bit for bit;
    the reshape adds no state (checkpoints keep their keys)."""
    from _vision import require

    require("torchvision")
    model = build_model(name, 10, seed=0, image_shape=(3, 32, 32)).eval()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(x.reshape(3, -1)), model(x))
    assert list(model.state_dict()) == list(build_model(name, 10, seed=0).state_dict())


# -- no package needed ------------------------------------------------------------------------

def test_mlp_backbone_keeps_its_flat_rows_when_given_an_image_shape():
    model = build_model("mlp", 3, in_dim=12, image_shape=(3, 2, 2), bottleneck=6, hidden=(8,))
    assert isinstance(model.featurizer.to_image, nn.Identity)
    assert model(torch.zeros(2, 12)).shape == (2, 3)


def test_missing_packages_say_which_pip(monkeypatch):
    for mod in ("torchvision", "torchvision.models", "timm"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match=r"`pip install torchvision`"):
        build_backbone("torchvision/resnet18")
    with pytest.raises(ImportError, match=r"`pip install timm`"):
        build_backbone("timm/resnet18")


def test_bottleneck_head_and_builtins():
    model = build_model("lenet", 5, image_shape=(1, 8, 8), channels=(4, 8), hidden=12, bottleneck=6)
    neck = model.featurizer.bottleneck
    assert [type(m) for m in neck] == [nn.Linear, nn.BatchNorm1d, nn.ReLU]
    assert neck[0].in_features == 12 and neck[0].out_features == 6
    assert model.head.in_features == 6 and model.head.out_features == 5
    assert len(model.featurizer.blocks) == 3 + 1  # lenet's blocks, then the bottleneck
    plain = build_model("mlp", 3, in_dim=4, hidden=(8,), bottleneck=None)
    assert isinstance(plain.featurizer.bottleneck, nn.Identity) and plain.head.in_features == 8
    a = build_model("mlp", 3, in_dim=4, hidden=(8,), seed=1)
    b = build_model("mlp", 3, in_dim=4, hidden=(8,), seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="takes no weights"):
        build_model("mlp", 3, in_dim=4, weights="IMAGENET1K_V2")
    with pytest.raises(ValueError, match="unknown backbone 'caffe/alexnet'"):
        build_backbone("caffe/alexnet")
    with pytest.raises(ValueError, match="needs in_dim"):
        build_backbone("mlp")


def test_user_module_backbone_and_state_file(tmp_path):
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.ReLU())
    m, d = build_backbone(net, image_shape=(3, 2, 2))
    assert m is net and d == 7
    other = nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.ReLU())
    torch.save(other.state_dict(), tmp_path / "mine.pt")
    model = build_model(net, 2, weights=tmp_path / "mine.pt", image_shape=(3, 2, 2))
    assert torch.equal(model.featurizer.backbone[1].weight, other[1].weight) and model.featurizer.pretrained
    with pytest.raises(ValueError, match="cannot tell the feature width"):
        build_backbone(nn.Sequential(nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="weights file .* does not exist"):
        build_backbone(net, weights=tmp_path / "nope.pt", image_shape=(3, 2, 2))


def test_param_groups_partition_and_factors():
    pre = build_model("mlp", 3, in_dim=4, hidden=(8,), bottleneck=6)
    pre.featurizer.pretrained = True  # as after loading weights
    groups = param_groups(pre, 0.02)
    assert [(g["name"], g["lr"]) for g in groups] == [("backbone", pytest.approx(0.002)), ("new", 0.02)]
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in pre.parameters()) and len(set(ids)) == len(ids)
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in pre.featurizer.backbone.parameters()}
    assert param_groups(pre, 0.02, 0.5)[0]["lr"] == pytest.approx(0.01)
    only_new = param_groups(pre, 0.02, 0.0)
    assert [g["name"] for g in only_new] == ["new"]
    assert not any(p.requires_grad for p in pre.featurizer.backbone.parameters())
    plain = FeaturizerHead(nn.Linear(4, 3), nn.Linear(3, 2))  # any FeaturizerHead: the head is new
    assert [len(g["params"]) for g in param_groups(plain, 0.1)] == [2, 2]
    with pytest.raises(ValueError, match="backbone_lr_factor must be >= 0"):
        param_groups(plain, 0.1, -1)


def test_freeze_bn_keeps_backbone_statistics_and_trains_bottleneck():
    model = build_model("lenet", 3, image_shape=(1, 8, 8), channels=(4, 8), hidden=12, bottleneck=6,
                        freeze_bn=True)
    assert isinstance(model.featurizer, BottleneckFeaturizer)
    bns = [m for m in model.featurizer.backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in bns]
    neck_bn = model.featurizer.bottleneck[1]
    neck_before = neck_bn.running_mean.clone()
    for p in model.parameters():  # a strategy may switch every parameter back on
        p.requires_grad_(True)
    model.train()
    model(torch.rand(8, 1, 8, 8) * 3 + 1)
    assert all(not m.training for m in bns) and neck_bn.training
    assert all(torch.equal(a, m.running_mean) for a, m in zip(before, bns))
    assert not torch.equal(neck_before, neck_bn.running_mean)
    assert not any(p.requires_grad for m in bns for p in m.parameters())
    names = {n for g in param_groups(model, 0.1) for n in [g["name"]]}
    assert names == {"backbone", "new"}
