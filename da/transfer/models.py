"""Models as a featurizer followed by a head, and the built-in architectures.

Any pair of ``nn.Module`` works: ``featurizer(x) -> (n, d)`` features and
``head(features) -> (n, n_classes)`` logits. The built-ins are an MLP, a small
LeNet-like CNN and an adapter for torchvision/timm ResNets. Each returns the
``(featurizer, head)`` pair; :class:`FeaturizerHead` joins them.

A featurizer is a sequence of *blocks* (its top-level children holding
parameters, or its ``blocks`` attribute): partial fine-tuning freezes the first
``k`` of them (:mod:`da.transfer.strategies`).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from da._dropout import Dropout
from da._validation import check_positive_int
from da.transfer._rng import seeded

__all__ = ["FeaturizerHead", "mlp", "lenet", "resnet", "blocks_of", "as_model", "check_model_dims",
           "feature_dim", "load_backbone_state"]

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
                "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}


class FeaturizerHead(nn.Module):
    """``head(featurizer(x))``, with the features available on their own.

    Parameters
    ----------
    featurizer : nn.Module
        Maps inputs to ``(n, d)`` features.
    head : nn.Module
        Maps ``(n, d)`` features to ``(n, n_classes)`` logits.

    Examples
    --------
    >>> f, h = mlp(4, hidden=(8,), n_classes=3, seed=0)
    >>> model = FeaturizerHead(f, h)
    >>> model(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, featurizer: nn.Module, head: nn.Module):
        super().__init__()
        if not isinstance(featurizer, nn.Module) or not isinstance(head, nn.Module):
            raise ValueError("featurizer and head must be torch.nn.Module instances, got "
                             f"{type(featurizer).__name__} and {type(head).__name__}")
        self.featurizer = featurizer
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.featurizer(x))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.featurizer(x)
        return f, self.head(f)


def as_model(model) -> FeaturizerHead:
    """Accept a :class:`FeaturizerHead` or a ``(featurizer, head)`` pair."""
    if isinstance(model, FeaturizerHead):
        return model
    if isinstance(model, (tuple, list)) and len(model) == 2:
        return FeaturizerHead(*model)
    raise ValueError("model must be a FeaturizerHead or a (featurizer, head) pair of nn.Modules, "
                     f"got {type(model).__name__}")


def blocks_of(featurizer: nn.Module) -> list[nn.Module]:
    """The featurizer's blocks, input side first: its ``blocks`` attribute if it
    has one, else its top-level children that hold parameters."""
    if hasattr(featurizer, "blocks"):
        return list(featurizer.blocks)
    return [m for m in featurizer.children() if any(True for _ in m.parameters())]


def _activation(activation):
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} or an nn.Module "
                             f"class, got {activation!r}")
        return _ACTIVATIONS[activation]
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation
    raise ValueError(f"activation must be a name or an nn.Module class, got {activation!r}")


def mlp(in_dim: int, hidden: Sequence[int] = (256, 128), n_classes: int = 2, *,
        activation="relu", dropout: float = 0.0, seed=0) -> tuple[nn.Sequential, nn.Linear]:
    """A multilayer perceptron split into featurizer and linear head.

    Parameters
    ----------
    in_dim : int
        Input features (images are flattened).
    hidden : sequence of int
        Widths of the hidden layers; the last one is the feature dimension.
        Empty: the featurizer is the identity and the head is a linear model.
    n_classes : int
    activation : str or nn.Module class
        ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"gelu"``, ``"elu"``, ``"leaky_relu"``.
    dropout : float
        Dropout after each hidden activation.
    seed : int or None
        Seeds the initialisation (the global torch RNG is left untouched).

    Returns
    -------
    featurizer : nn.Sequential
        One block ``Linear -> activation [-> Dropout]`` per hidden layer.
    head : nn.Linear

    Examples
    --------
    >>> f, h = mlp(64, (256, 128), 10)
    >>> h.in_features
    128
    """
    in_dim = check_positive_int(in_dim, "in_dim")
    n_classes = check_positive_int(n_classes, "n_classes")
    hidden = tuple(check_positive_int(w, "hidden") for w in hidden)
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    act = _activation(activation)
    with seeded(seed):
        blocks, d = [], in_dim
        for w in hidden:
            layers = [nn.Linear(d, w), act()]
            if dropout:
                layers.append(Dropout(dropout))
            blocks.append(nn.Sequential(*layers))
            d = w
        featurizer = nn.Sequential(nn.Flatten(), *blocks)
        head = nn.Linear(d, n_classes)
    return featurizer, head


class ToImage(nn.Module):
    """Reshape flat rows ``(n, C*H*W)`` to images ``(n, C, H, W)``; images pass through."""

    def __init__(self, image_shape: Sequence[int]):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return x.reshape(x.shape[0], *self.image_shape)
        return x

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}"


def lenet(image_shape: Sequence[int] = (1, 28, 28), n_classes: int = 10, *,
          channels: Sequence[int] = (32, 64), hidden: int = 128, kernel_size: int = 3,
          batch_norm: bool = True, dropout: float = 0.0, seed=0) -> tuple[nn.Sequential, nn.Linear]:
    """A small LeNet-like CNN for 8x8, 16x16 or 28x28 images.

    Each conv block is ``Conv(k, padding=k//2) -> [BatchNorm] -> ReLU -> MaxPool(2)``,
    followed by a ``Flatten -> Linear(hidden) -> ReLU`` block; the head is linear.
    Inputs may be flat rows; they are reshaped to ``image_shape``.

    Parameters
    ----------
    image_shape : (C, H, W)
        H and W must be divisible by ``2 ** len(channels)``.
    n_classes : int
    channels : sequence of int
        Output channels of each conv block.
    hidden : int
        Feature dimension.
    kernel_size : int
    batch_norm : bool
    dropout : float
        Dropout before the feature layer.
    seed : int or None

    Returns
    -------
    featurizer : nn.Sequential
    head : nn.Linear

    Examples
    --------
    >>> f, h = lenet((1, 8, 8), 10, channels=(8, 16), hidden=32)
    >>> f(torch.zeros(2, 64)).shape
    torch.Size([2, 32])
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    channels = tuple(check_positive_int(c, "channels") for c in channels)
    scale = 2 ** len(channels)
    C, H, W = shape
    if H % scale or W % scale:
        raise ValueError(f"image_shape {shape}: H and W must be divisible by 2**len(channels)={scale}")
    hidden = check_positive_int(hidden, "hidden")
    n_classes = check_positive_int(n_classes, "n_classes")
    k = check_positive_int(kernel_size, "kernel_size")
    with seeded(seed):
        blocks, c_in = [], C
        for c in channels:
            layers = [nn.Conv2d(c_in, c, k, padding=k // 2)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(c))
            layers += [nn.ReLU(), nn.MaxPool2d(2)]
            blocks.append(nn.Sequential(*layers))
            c_in = c
        flat = c_in * (H // scale) * (W // scale)
        fc = [nn.Flatten()] + ([Dropout(dropout)] if dropout else []) + [nn.Linear(flat, hidden), nn.ReLU()]
        featurizer = nn.Sequential(ToImage(shape), *blocks, nn.Sequential(*fc))
        head = nn.Linear(hidden, n_classes)
    return featurizer, head


_RESNET_DIMS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048}


class _ResNetTrunk(nn.Module):
    """A ResNet without its classifier: stem, layer1..layer4, global pool, flatten."""

    def __init__(self, net: nn.Module, image_shape=None):
        super().__init__()
        self.to_image = ToImage(image_shape) if image_shape is not None else nn.Identity()
        self.stem = nn.Sequential(net.conv1, net.bn1, getattr(net, "relu", None) or net.act1, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.blocks = [self.stem, self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x):
        x = self.stem(self.to_image(x))
        return self.pool(self.layer4(self.layer3(self.layer2(self.layer1(x)))))


def resnet(arch: str = "resnet18", n_classes: int = 10, *, weights=None, backend: str = "auto",
           image_shape=None, seed=0) -> tuple[nn.Module, nn.Linear]:
    """A torchvision or timm ResNet as ``(featurizer, head)``; nothing is downloaded.

    Parameters
    ----------
    arch : {"resnet18", "resnet34", "resnet50"}
    n_classes : int
        The new head is ``Linear(512 or 2048, n_classes)``.
    weights : str, Path, dict or None
        ``None``: random initialisation. A path to a state dict of the backbone
        (loaded with ``weights_only=True``) or the dict itself, in the backend's
        own key names; its ``fc`` entries are ignored.
    backend : {"auto", "torchvision", "timm"}
        ``"auto"`` uses torchvision when installed, else timm.
    image_shape : (C, H, W), optional
        Reshape flat input rows to images.
    seed : int or None

    Returns
    -------
    featurizer : nn.Module
        Blocks: stem, layer1, layer2, layer3, layer4 (then global pooling).
    head : nn.Linear

    Raises
    ------
    ImportError
        When neither torchvision nor timm is installed; the message names the
        ``pip install`` to run.
    """
    if arch not in _RESNET_DIMS:
        raise ValueError(f"arch must be one of {sorted(_RESNET_DIMS)}, got {arch!r}")
    if backend not in ("auto", "torchvision", "timm"):
        raise ValueError(f"backend must be 'auto', 'torchvision' or 'timm', got {backend!r}")
    n_classes = check_positive_int(n_classes, "n_classes")
    net = None
    with seeded(seed):
        if backend in ("auto", "torchvision"):
            try:
                import torchvision.models as tvm
            except ImportError:
                if backend == "torchvision":
                    raise ImportError(f"resnet({arch!r}) with backend='torchvision' needs torchvision: "
                                      "run `pip install torchvision`") from None
            else:
                net = getattr(tvm, arch)(weights=None)
        if net is None:
            try:
                import timm
            except ImportError:
                raise ImportError(f"resnet({arch!r}) needs torchvision or timm, and neither is "
                                  "installed: run `pip install torchvision` (or `pip install timm`)") \
                    from None
            net = timm.create_model(arch, pretrained=False)
        head = nn.Linear(_RESNET_DIMS[arch], n_classes)
    if weights is not None:
        load_backbone_state(net, weights, ("fc", "head.fc"), arch)
    return _ResNetTrunk(net, image_shape), head


def load_backbone_state(net: nn.Module, weights, skip_prefixes: Sequence[str], name: str) -> None:
    """Load a state dict, or a file of one (``weights_only=True``), into ``net``.

    Entries under ``skip_prefixes`` (the classifier: ``"fc"``) are ignored in the
    file and may be missing from it; any other missing or unexpected key, or a
    shape mismatch, raises ``ValueError`` naming ``name``.
    """
    from da._io import torch_load

    state = weights if isinstance(weights, dict) else torch_load(weights, map_location="cpu")
    if not isinstance(state, dict):
        raise ValueError(f"weights for {name} must hold a state dict, got {type(state).__name__}")
    skip = tuple(p + "." for p in skip_prefixes)
    state = {k: v for k, v in state.items() if not k.startswith(skip)}
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ValueError(f"weights do not match {name}: {str(exc)[:300]}") from None
    missing = [k for k in missing if not k.startswith(skip)]
    if missing or unexpected:
        raise ValueError(f"weights do not match {name}: missing {missing[:5]}, unexpected "
                         f"{list(unexpected)[:5]}")


@torch.no_grad()
def feature_dim(featurizer: nn.Module, example: torch.Tensor) -> int:
    """Width of the featurizer's output on a dry forward of ``example`` (eval mode)."""
    was = featurizer.training
    featurizer.eval()
    try:
        out = featurizer(example)
    finally:
        featurizer.train(was)
    if out.dim() != 2:
        raise ValueError(f"the featurizer must return (n, d) features, got shape {tuple(out.shape)}")
    return int(out.shape[1])


@torch.no_grad()
def check_model_dims(model: FeaturizerHead, example: torch.Tensor, n_classes: int | None = None,
                     losses: Sequence = ()) -> int:
    """Dry forward: the featurizer's output must fit the head and every loss.

    Raises
    ------
    ValueError
        Naming the featurizer width and the module (head or loss) expecting another.
    """
    was = model.training
    model.eval()
    try:
        try:
            f = model.featurizer(example)
        except Exception as exc:
            raise ValueError(f"the featurizer failed on an input of shape {tuple(example.shape)}: "
                             f"{exc}") from None
        if f.dim() != 2:
            raise ValueError(f"the featurizer must return (n, d) features, got shape {tuple(f.shape)}")
        d = int(f.shape[1])
        want = getattr(model.head, "in_features", None)
        if want is not None and want != d:
            raise ValueError(f"the featurizer outputs {d} features but the head expects "
                             f"in_features={want}")
        try:
            logits = model.head(f)
        except Exception as exc:
            raise ValueError(f"the featurizer outputs {d} features, which the head "
                             f"({type(model.head).__name__}) cannot take: {exc}") from None
        if logits.dim() != 2:
            raise ValueError(f"the head must return (n, n_classes) logits, got {tuple(logits.shape)}")
        if n_classes is not None and logits.shape[1] != n_classes:
            raise ValueError(f"the head outputs {logits.shape[1]} logits but the data have "
                             f"{n_classes} classes")
        for loss in losses:
            want = getattr(loss, "in_features", None)
            if want is not None and int(want) != d:
                raise ValueError(f"the featurizer outputs {d} features but {type(loss).__name__} "
                                 f"expects in_features={want}")
            nc = getattr(loss, "n_classes", None)
            if nc is not None and n_classes is not None and int(nc) != n_classes:
                raise ValueError(f"{type(loss).__name__} expects n_classes={nc} but the data have "
                                 f"{n_classes}")
    finally:
        model.train(was)
    return d
