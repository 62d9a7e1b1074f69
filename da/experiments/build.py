"""What a config builds before anything trains: the pair, the model and the loss terms."""

from __future__ import annotations

import inspect

import numpy as np

from da.experiments.config import ConfigError

__all__ = ["build_pair", "build_model", "build_losses", "weight_schedule", "train_config"]


# --------------------------------------------------------------------------------------
# Data and model
# --------------------------------------------------------------------------------------

def _gaussian_source(g: dict):
    from da.data import GaussianDomain

    K, d, r = g["n_classes"], g["dim"], g["separation"]
    means = np.zeros((K, d))
    if d == 1:
        means[:, 0] = r * (np.arange(K) - (K - 1) / 2)
    else:
        ang = 2 * np.pi * np.arange(K) / K
        means[:, 0], means[:, 1] = r * np.cos(ang), r * np.sin(ang)
    return GaussianDomain(means, np.eye(d), name=f"gaussian{d}d")


def _call_checked(fn, path: str, *args, **kwargs):
    """Call a shift operator with config params, naming the key path on an unknown parameter."""
    sig = inspect.signature(fn).parameters
    for k in kwargs:
        if k not in sig:
            valid = [p for p in sig if p not in ("domain",)]
            raise ConfigError(f"{path}.{k}", f"not a parameter of da.data.{fn.__name__}; valid: "
                                             f"{', '.join(valid)}")
    return fn(*args, **kwargs)


def build_pair(data: dict):
    """The :class:`~da.data.DomainPair` of a resolved ``data`` section."""
    from da import data as D

    if data["source"] is not None:
        from da.experiments.image_data import build_image_pair

        return build_image_pair(data)
    if data["pair"] is not None:
        from da.datasets import load_pair

        return load_pair(data["pair"])
    g = data["generator"]
    src = _gaussian_source(g) if g["domain"] == "gaussian" else D.MoonsDomain(noise=g["noise"])
    s, params, path = g["severity"], dict(g["params"]), "data.generator.params"
    shift = g["shift"]
    if shift == "none":
        tgt = src
    elif shift == "label":
        params.setdefault("seed", g["seed"])
        if "prior" in params:
            params["new_prior"] = params.pop("prior")
        tgt = _call_checked(D.label_shift, path, src, severity=s, **params)
    elif shift == "covariate":
        params.setdefault("seed", g["seed"])
        tgt = _call_checked(D.covariate_shift, path, src, severity=s, **params)
    elif shift == "conditional":
        params.setdefault("seed", g["seed"])
        tgt = _call_checked(D.conditional_shift, path, src, severity=s, **params)
    elif shift == "rotation":
        if g["domain"] == "moons":
            params.setdefault("center", [0.5, 0.25])  # the moons' centre, as in the DANN toy
        tgt = _call_checked(D.rotation, path, src, deg=s, **params)
    elif shift == "subspace":
        tgt = _call_checked(D.subspace_shift, path, src, severity=s, **params)
    else:  # pragma: no cover - the schema rejects it
        raise ConfigError("data.generator.shift", f"unknown shift {shift!r}")
    return D.DomainPair(src, tgt, name=f"{g['domain']}|{shift}({s:g})")


def build_model(model: dict, pair, seed: int):
    """A :class:`~da.transfer.FeaturizerHead` for the pair's inputs and classes."""
    from da.transfer import FeaturizerHead, lenet, mlp

    K = pair.n_classes
    if model["backbone"] is not None:
        from da.transfer.backbones import build_model as build_backbone_model

        try:
            return build_backbone_model(model["backbone"], K, weights=model["weights"],
                                        bottleneck=model["bottleneck"] or None, freeze_bn=model["freeze_bn"],
                                        seed=seed, in_dim=pair.source.dim, image_shape=pair.source.image_shape)
        except ValueError as exc:
            raise ConfigError("model.backbone", str(exc)) from None
    if model["arch"] == "mlp":
        f, h = mlp(pair.source.dim, hidden=model["hidden"], n_classes=K, activation=model["activation"],
                   dropout=model["dropout"], seed=seed)
    else:
        shape = pair.source.image_shape
        if shape is None:
            raise ConfigError("model.arch", f"lenet needs image inputs; the pair {pair.name!r} has none")
        f, h = lenet(shape, n_classes=K, channels=model["channels"], hidden=model["hidden"][-1],
                     dropout=model["dropout"], seed=seed)
    return FeaturizerHead(f, h)


def weight_schedule(spec, lam: float = 1.0):
    r"""A weight spec of the config -> ``p -> lam * w(p)`` (:func:`da.align.schedule_from_spec`).

    ``constant``: :math:`w = v`; ``ganin``: :math:`w = w_{\max}\,(2/(1+e^{-\gamma p}) - 1)`
    (:func:`da.align.ganin_lambda`); ``linear``: :math:`w = a + (b-a)\,p`.
    """
    from da.align.schedules import schedule_from_spec

    return schedule_from_spec(spec, scale=lam)


def build_losses(align: list, lam: float, in_features: int, n_classes: int, seed: int) -> list:
    """``[(name, loss module, weight schedule), ...]`` for :func:`da.transfer.finetune`."""
    from da.transfer import make_alignment

    terms = []
    for i, entry in enumerate(align):
        try:
            loss = make_alignment(entry["loss"], in_features, n_classes, seed, **entry["params"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"align[{i}].params", str(exc)) from None
        terms.append((entry["loss"], loss, weight_schedule(entry["weight"], lam)))
    return terms


def train_config(section: dict, seed: int, *, stage: str) -> dict:
    """A resolved ``pretrain``/``train`` section -> :class:`da.transfer.TrainConfig` fields (the
    section's keys are the dataclass's fields; ``seed`` is the config's top-level seed)."""
    return {**section, "seed": int(seed)}


# --------------------------------------------------------------------------------------
