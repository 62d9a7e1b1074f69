"""An independent ResNet-18 in torchvision's and timm's layouts, for testing the
:func:`da.transfer.resnet` adapter where neither package can be installed.

torchvision's PyPI wheels are built against the CUDA torch and fail to load next
to the CPU build used here, and timm imports torchvision; the adapter's wiring
(stem, the four stages, global pooling, dropping ``fc``, loading a state dict
from a file) is what these stand-ins let the tests check. The architecture
follows He et al. (2016) as torchvision writes it: 7x7/2 conv, BN, ReLU, 3x3/2
max-pool, four stages of two BasicBlocks (64, 128, 256, 512 channels; stride 2
and a 1x1 projection from the second stage on), global average pooling, ``fc``.
"""

from __future__ import annotations

import sys
import types

from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, act: str):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        setattr(self, act, nn.ReLU())
        self._act = act
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        act = getattr(self, self._act)
        out = act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return act(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """``timm=False``: torchvision names (``relu``, ``avgpool``); ``timm=True``: timm's (``act1``, ``global_pool``)."""

    def __init__(self, num_classes: int = 1000, timm: bool = False):
        super().__init__()
        act = "act1" if timm else "relu"
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        setattr(self, act, nn.ReLU())
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, c_in = (64, 128, 256, 512), 64
        for i, w in enumerate(widths, start=1):
            stride = 1 if i == 1 else 2
            block_act = "act1" if timm else "relu"
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(c_in, w, stride, block_act),
                                                     BasicBlock(w, w, 1, block_act)))
            c_in = w
        pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        setattr(self, "global_pool" if timm else "avgpool", pool)
        self.fc = nn.Linear(512, num_classes)
        self._act, self._pool = act, "global_pool" if timm else "avgpool"

    def forward(self, x):
        x = self.maxpool(getattr(self, self._act)(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(getattr(self, self._pool)(x))


def install_fake_backends(monkeypatch) -> None:
    """Put stand-in ``torchvision.models`` and ``timm`` modules in ``sys.modules``."""
    tv = types.ModuleType("torchvision")
    tvm = types.ModuleType("torchvision.models")

    def resnet18(weights=None):
        assert weights is None, "the adapter must never ask torchvision for pretrained weights"
        return ResNet18()

    tvm.resnet18 = resnet18
    tv.models = tvm
    timm = types.ModuleType("timm")

    def create_model(name, pretrained=False):
        assert name == "resnet18" and pretrained is False, "the adapter must never download weights"
        return ResNet18(timm=True)

    timm.create_model = create_model
    for name, mod in (("torchvision", tv), ("torchvision.models", tvm), ("timm", timm)):
        monkeypatch.setitem(sys.modules, name, mod)
