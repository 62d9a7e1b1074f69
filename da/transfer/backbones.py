"""Backbones by name, a bottleneck and a new head, and their learning-rate groups.

``backbone`` names:

* ``torchvision/<name>`` — any ``torchvision.models.list_models()`` entry
  (``resnet18``, ``resnet50``, ``vit_b_16``, ...). ResNets become the
  :func:`~da.transfer.models.resnet` trunk (stem, layer1..4, pooling: five
  freezable blocks); other models keep their layers with their final
  ``nn.Linear`` replaced by ``nn.Identity``.
* ``timm/<name>`` — ``timm.create_model(name, num_classes=0)``, timm's own
  headless model (pooled pre-logit features).
* ``mlp``, ``lenet`` — the built-ins of :mod:`da.transfer.models`.
* an ``nn.Module`` — used as the backbone as it is.

``weights``: ``None`` (random initialisation under ``seed``), a local state-dict
file (``torch.load(weights_only=True)``; keys in the package's own names, the
classifier's entries ignored), or the package's weight name: a torchvision
weight enum member (``IMAGENET1K_V2``, ``DEFAULT``) or ``pretrained`` for timm.
A weight name downloads into the package's cache on first use; without a
network and without a cached copy it raises :class:`WeightsUnavailableError`.

The model is ``head(bottleneck(backbone(x)))`` with TLlib's DANN bottleneck,
``Linear(d, b) -> BatchNorm1d(b) -> ReLU``, and a linear head; the featurizer
(what alignment losses see) is ``bottleneck ∘ backbone``.
:func:`param_groups` puts the backbone at ``backbone_lr_factor × lr`` (0.1 by
default when the weights are pretrained, as TLlib does) and the new layers at
``lr``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from da._validation import check_positive_int
from da.transfer._rng import seeded
from da.transfer.models import (FeaturizerHead, ToImage, _ResNetTrunk, blocks_of, lenet, load_backbone_state,
                                mlp)

__all__ = ["build_backbone", "build_model", "BottleneckFeaturizer", "param_groups",
           "WeightsUnavailableError", "PRETRAINED_BACKBONE_LR_FACTOR"]

#: The backbone's learning-rate factor for pretrained weights (TLlib's 0.1).
PRETRAINED_BACKBONE_LR_FACTOR = 0.1
_FILE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")


class WeightsUnavailableError(RuntimeError):
    """A named weight is neither cached nor downloadable (no network)."""


def _import(package: str):
    try:
        return __import__(package)
    except Exception as exc:  # missing, or a build that does not match torch
        raise ImportError(f"backbone '{package}/...' needs {package}: run `pip install {package}` (or "
                          f"`pip install da[vision]`); importing it failed with: {exc}") from None


def _weights_file(weights):
    """The path when ``weights`` names a file (a Path, a path-like string), else None."""
    if isinstance(weights, Path) or (isinstance(weights, str) and (
            os.sep in weights or weights.endswith(_FILE_SUFFIXES) or os.path.exists(weights))):
        path = Path(weights)
        if not path.is_file():
            raise ValueError(f"weights file {str(path)!r} does not exist")
        return path
    return None


def _final_linear(net: nn.Module):
    last = None
    for qual, m in net.named_modules():
        if isinstance(m, nn.Linear):
            last = qual
    if last is None:
        raise ValueError(f"{type(net).__name__} has no final nn.Linear classifier to remove; pass the "
                         "headless module itself as backbone")
    return last


def _strip(net: nn.Module, qual: str) -> int:
    parent = net.get_submodule(qual.rpartition(".")[0]) if "." in qual else net
    leaf = qual.rpartition(".")[2]
    d = int(getattr(parent, leaf).in_features)
    setattr(parent, leaf, nn.Identity())
    return d


def _download_error(spec: str, exc: Exception, where: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"weights {spec} are not cached ({where}) and could not be downloaded ({type(exc).__name__}: "
        f"{str(exc)[:200]}). Download them once on a machine with a network (they are cached there), or "
        "pass a local state-dict file as weights, or weights: null for random initialisation")


def _torchvision_backbone(arch: str, weights, seed):
    tv = _import("torchvision")
    models = tv.models
    if arch not in models.list_models():
        raise ValueError(f"unknown torchvision model {arch!r}; see torchvision.models.list_models()")
    path = None if weights is None or isinstance(weights, dict) else _weights_file(weights)
    enum = None
    if weights is not None and path is None and not isinstance(weights, dict):
        members = models.get_model_weights(arch).__members__
        key = str(weights).rpartition(".")[2]
        if key not in members:
            raise ValueError(f"unknown weights {weights!r} for torchvision/{arch}; its weights are "
                             f"{sorted(members)}, or a state-dict file, or None")
        enum = members[key]
    with seeded(seed):
        if enum is None:
            net = models.get_model(arch, weights=None)
        else:
            cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)
            try:
                net = models.get_model(arch, weights=enum)
            except Exception as exc:
                if cached.is_file():
                    raise
                raise _download_error(f"{weights!r} of torchvision/{arch}", exc, str(cached)) from None
    if hasattr(net, "layer4") and hasattr(net, "fc"):  # ResNet family: the adapter's trunk
        d = int(net.fc.in_features)
        if weights is not None and enum is None:
            load_backbone_state(net, weights if path is None else path, ("fc",), f"torchvision/{arch}")
        return _ResNetTrunk(net), d
    head = _final_linear(net)
    if weights is not None and enum is None:
        load_backbone_state(net, weights if path is None else path, (head,), f"torchvision/{arch}")
    return net, _strip(net, head)


def _timm_backbone(arch: str, weights, seed):
    timm = _import("timm")
    if not timm.is_model(arch.partition(".")[0]):
        raise ValueError(f"unknown timm model {arch!r}; see timm.list_models()")
    pretrained = weights is True or (isinstance(weights, str) and weights == "pretrained")
    path = None
    if weights is not None and not pretrained and not isinstance(weights, dict):
        path = _weights_file(weights)
        if path is None:
            raise ValueError(f"weights for timm/{arch} must be None, 'pretrained' or a state-dict file, "
                             f"got {weights!r}")
    with seeded(seed):
        try:
            net = timm.create_model(arch, pretrained=pretrained, num_classes=0)
        except Exception as exc:
            if not pretrained:
                raise
            raise _download_error(f"'pretrained' of timm/{arch}", exc,
                                  "the Hugging Face cache, HF_HOME") from None
    if weights is not None and not pretrained:
        classifier = net.pretrained_cfg.get("classifier", "fc")
        skip = (classifier,) if isinstance(classifier, str) else tuple(classifier)
        load_backbone_state(net, weights if path is None else path, skip, f"timm/{arch}")
    return net, int(net.num_features)


def build_backbone(backbone, *, weights=None, seed=0, in_dim: int | None = None, image_shape=None,
                   **kwargs) -> tuple[nn.Module, int]:
    """A headless backbone by name, and its feature width.

    Parameters
    ----------
    backbone : str or nn.Module
        ``torchvision/<name>``, ``timm/<name>``, ``mlp``, ``lenet`` or a module.
    weights : None, str, Path or dict
        See the module docstring; only ``None`` for ``mlp``, ``lenet`` and modules.
    seed : int or None
        Seeds the random initialisation (the global torch RNG is left untouched).
    in_dim : int, optional
        Input features, for ``mlp``.
    image_shape : (C, H, W), optional
        For ``lenet``, and for the dry forward that measures a module's width.
    **kwargs
        Passed to :func:`~da.transfer.models.mlp` or :func:`~da.transfer.models.lenet`.

    Returns
    -------
    backbone : nn.Module
        Maps ``(n, C, H, W)`` images (or ``(n, d)`` rows) to ``(n, d)`` features.
    dim : int

    Raises
    ------
    ValueError
        An unknown name or weight name, a missing weights file, or weights that
        do not match the architecture.
    ImportError
        When torchvision or timm is needed and cannot be imported.
    WeightsUnavailableError
        A weight name with neither a cached copy nor a network.
    """
    if isinstance(backbone, nn.Module):
        if weights is not None:
            state = weights if isinstance(weights, dict) else _weights_file(weights)
            if state is None:
                raise ValueError(f"weights for a user module must be a state dict or a state-dict file, "
                                 f"got {weights!r}")
            load_backbone_state(backbone, state, (), type(backbone).__name__)
        return backbone, _module_width(backbone, in_dim, image_shape)
    if not isinstance(backbone, str):
        raise ValueError(f"backbone must be a name or an nn.Module, got {type(backbone).__name__}")
    source, _, arch = backbone.partition("/")
    if source == "torchvision" and arch:
        return _torchvision_backbone(arch, weights, seed)
    if source == "timm" and arch:
        return _timm_backbone(arch, weights, seed)
    if backbone in ("mlp", "lenet"):
        if weights is not None:
            raise ValueError(f"backbone {backbone!r} takes no weights (got {weights!r}); pretrain it with "
                             "da.transfer.pretrain instead")
        if backbone == "mlp":
            if in_dim is None:
                raise ValueError("backbone 'mlp' needs in_dim (the input features)")
            f, h = mlp(in_dim, n_classes=1, seed=seed, **kwargs)
        else:
            f, h = lenet(image_shape if image_shape is not None else (1, 28, 28), n_classes=1, seed=seed,
                         **kwargs)
        return f, int(h.in_features)
    raise ValueError(f"unknown backbone {backbone!r}; use 'torchvision/<name>', 'timm/<name>', 'mlp', "
                     "'lenet' or an nn.Module")


@torch.no_grad()
def _module_width(module: nn.Module, in_dim, image_shape) -> int:
    for attr in ("out_features", "num_features"):
        if isinstance(getattr(module, attr, None), int):
            return int(getattr(module, attr))
    if image_shape is None and in_dim is None:
        raise ValueError(f"cannot tell the feature width of {type(module).__name__}: give it an "
                         "out_features attribute, or pass image_shape (or in_dim) for a dry forward")
    shape = tuple(image_shape) if image_shape is not None else (int(in_dim),)
    was = module.training
    module.eval()
    try:
        out = module(torch.zeros(2, *shape))
    finally:
        module.train(was)
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ValueError(f"backbone {type(module).__name__} must return (n, d) features, got "
                         f"{getattr(out, 'shape', type(out).__name__)}")
    return int(out.shape[1])


class BottleneckFeaturizer(nn.Module):
    """``bottleneck(backbone(x))``: what the head and the alignment losses see.

    Parameters
    ----------
    backbone : nn.Module
    bottleneck : nn.Module
        ``nn.Identity()`` for none.
    pretrained : bool
        Whether the backbone's weights were loaded (sets the default
        learning-rate factor of :func:`param_groups`).
    freeze_bn : bool
        Keep the backbone's BatchNorm layers in eval mode (running statistics
        fixed) and their affine parameters frozen, whatever ``train()`` is
        called with; the bottleneck's BatchNorm still trains.
    image_shape : (C, H, W), optional
        Reshape flat rows ``(n, C*H*W)`` (an in-memory image domain) to images
        before the backbone; images pass through.

    Attributes
    ----------
    blocks : list of nn.Module
        The backbone's blocks, then the bottleneck (for partial fine-tuning).
    """

    def __init__(self, backbone: nn.Module, bottleneck: nn.Module, *, pretrained: bool = False,
                 freeze_bn: bool = False, image_shape=None):
        super().__init__()
        # flat rows of an in-memory image domain (n, C*H*W) -> (n, C, H, W); no parameters
        self.to_image = ToImage(image_shape) if image_shape is not None else nn.Identity()
        self.backbone = backbone
        self.bottleneck = bottleneck
        self.pretrained = bool(pretrained)
        self.freeze_bn = bool(freeze_bn)
        self.train(self.training)

    @property
    def blocks(self) -> list:
        extra = [self.bottleneck] if any(True for _ in self.bottleneck.parameters()) else []
        return blocks_of(self.backbone) + extra

    def _backbone_bn(self):
        return [m for m in self.backbone.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_bn:  # re-applied here: a strategy may have switched requires_grad back on
            for m in self._backbone_bn():
                m.eval()
                for p in m.parameters():
                    p.requires_grad_(False)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bottleneck(self.backbone(self.to_image(x)))


def build_model(backbone, n_classes: int, *, weights=None, bottleneck: int | None = 256,
                freeze_bn: bool = False, seed=0, in_dim: int | None = None, image_shape=None,
                **kwargs) -> FeaturizerHead:
    """A :class:`~da.transfer.models.FeaturizerHead`: backbone, bottleneck, linear head.

    Parameters
    ----------
    backbone, weights, in_dim, image_shape, **kwargs
        As for :func:`build_backbone`.
    n_classes : int
    bottleneck : int or None
        Width ``b`` of ``Linear(d, b) -> BatchNorm1d(b) -> ReLU`` (TLlib's DANN
        bottleneck); ``None`` or 0 puts the head on the backbone's features.
    freeze_bn : bool
        See :class:`BottleneckFeaturizer`.
    seed : int or None
        Seeds the backbone's random initialisation and the new layers.

    Returns
    -------
    FeaturizerHead
        ``featurizer`` is a :class:`BottleneckFeaturizer`; ``head`` is
        ``Linear(b or d, n_classes)``.

    Examples
    --------
    >>> model = build_model("mlp", 3, in_dim=4, bottleneck=8, hidden=(16,))
    >>> model(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """
    n_classes = check_positive_int(n_classes, "n_classes")
    net, d = build_backbone(backbone, weights=weights, seed=seed, in_dim=in_dim, image_shape=image_shape,
                            **kwargs)
    with seeded(seed):
        torch.rand(1)  # the new layers' draws differ from the backbone's under the same seed
        if bottleneck:
            b = check_positive_int(bottleneck, "bottleneck")
            neck = nn.Sequential(nn.Linear(d, b), nn.BatchNorm1d(b), nn.ReLU())
        else:
            b, neck = d, nn.Identity()
        head = nn.Linear(b, n_classes)
    # a package's image model gets flat rows reshaped to image_shape (mlp and modules take them as they are)
    images = image_shape is not None and isinstance(backbone, str) and backbone.partition("/")[0] in (
        "torchvision", "timm")
    featurizer = BottleneckFeaturizer(net, neck, pretrained=weights is not None, freeze_bn=freeze_bn,
                                      image_shape=image_shape if images else None)
    return FeaturizerHead(featurizer, head)


def param_groups(model: FeaturizerHead, lr: float, backbone_lr_factor: float | None = None) -> list[dict]:
    """Optimizer parameter groups: the backbone at ``lr × factor``, new layers at ``lr``.

    Parameters
    ----------
    model : FeaturizerHead
        From :func:`build_model` (new layers: bottleneck and head), or any
        ``FeaturizerHead`` (backbone: the featurizer; new layers: the head).
    lr : float
    backbone_lr_factor : float, optional
        Defaults to :data:`PRETRAINED_BACKBONE_LR_FACTOR` (0.1) when the
        backbone's weights were loaded, else 1. With 0 the backbone is frozen
        (``requires_grad`` set to False) and left out.

    Returns
    -------
    list of dict
        ``{"params", "lr", "name"}`` with names ``"backbone"`` and ``"new"``;
        parameters that do not require gradients are left out.

    Examples
    --------
    >>> model = build_model("mlp", 3, in_dim=4, hidden=(8,), bottleneck=6)
    >>> [(g["name"], g["lr"]) for g in param_groups(model, 0.01, 0.1)]
    [('backbone', 0.001), ('new', 0.01)]
    """
    if not float(lr) > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    f = model.featurizer
    if isinstance(f, BottleneckFeaturizer):
        backbone, new = f.backbone, [f.bottleneck, model.head]
        pretrained = f.pretrained
    else:
        backbone, new, pretrained = f, [model.head], False
    if backbone_lr_factor is None:
        backbone_lr_factor = PRETRAINED_BACKBONE_LR_FACTOR if pretrained else 1.0
    if not float(backbone_lr_factor) >= 0:
        raise ValueError(f"backbone_lr_factor must be >= 0, got {backbone_lr_factor!r}")
    groups = []
    if float(backbone_lr_factor) > 0:
        params = [p for p in backbone.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": float(lr) * float(backbone_lr_factor), "name": "backbone"})
    else:
        for p in backbone.parameters():
            p.requires_grad_(False)
    params = [p for m in new for p in m.parameters() if p.requires_grad]
    if params:
        groups.append({"params": params, "lr": float(lr), "name": "new"})
    if not groups:
        raise ValueError("param_groups: the model has no trainable parameter")
    return groups
