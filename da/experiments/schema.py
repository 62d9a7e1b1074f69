"""The schema of an experiment config: every section, key, default, range and doc.

:data:`SCHEMA` maps each top-level key to a leaf of :mod:`da._schema` or to a section
(a dict of leaves). The ``train:`` and ``pretrain:`` sections are derived from
:class:`da.transfer.TrainConfig`'s fields; the names a value may take come from
:mod:`da._names` and the registries of the subpackages. :mod:`da.experiments.config`
resolves configs against it.
"""

from __future__ import annotations

import difflib
import numbers
from typing import Any

from da._names import ARCHS, LOSS_CLASSES, STRATEGIES, WEIGHT_SCHEDULES, canonical
from da._schema import Bool, ConfigError, Custom, ListOf, Mapping, Num, Str
from da.diagnostics.gap_specs import GAP_METRICS
from da.diagnostics.label_shift import LABEL_SHIFT_METHODS
from da.diagnostics.report import TEST_SHORT_NAMES
from da.experiments.schema_auto import AUTO_SECTION
from da._schema import check_section as _check_section
from da._schema import describe as _describe

__all__ = ["SCHEMA", "METHODS", "LOSSES", "SHIFTS", "DOMAINS", "SCHEDULES", "TESTS", "GAPS",
           "LABEL_SHIFT_ESTIMATORS"]


# --------------------------------------------------------------------------------------
# Registries: what a name in a config may refer to.
# --------------------------------------------------------------------------------------

#: alignment loss name -> class name in :mod:`da.align` (:data:`da._names.LOSS_CLASSES`).
LOSSES = dict(LOSS_CLASSES)

#: method preset -> the ``align`` list it stands for (``lambda`` multiplies every weight);
#: its keys are :data:`da._names.METHODS`, its weights the methods' recipes.
def _preset(loss: str, **params) -> list:
    """A one-loss preset at the method's recipe weight (:data:`da.transfer.recipes.METHOD_RECIPES`,
    the weights the one-liner uses too), so that YAML and Python share one default."""
    from da.transfer.recipes import METHOD_RECIPES

    entry = {"loss": loss, "weight": float(METHOD_RECIPES[loss]["weight"])}
    return [{**entry, "params": params} if params else entry]


def _combination(method: str) -> list:
    """A sum-of-losses preset: the terms of :data:`da.transfer.recipes.COMBINATIONS` at their weights."""
    from da.transfer.recipes import COMBINATIONS

    return [{"loss": loss, "weight": float(w)} for loss, w in COMBINATIONS[method]]


METHODS = {
    "source_only": [],
    "mmd": _preset("mmd"),
    "jan": [{"loss": "mmd", "weight": 1.0, "params": {"joint": True}}],
    "coral": _preset("coral"),
    "dann": _preset("dann"),
    "cdan": _preset("cdan"),
    "jdot": _preset("jdot"),
    "sinkhorn": _preset("sinkhorn"),
    "swd": _preset("swd"),
    "infomax": _preset("infomax"),
    "infomax_coral": _combination("infomax_coral"),
    # a label-free choice among da.transfer.auto.AUTO_CANDIDATES, fine-tuned from the pretrained model
    "auto": [],
    # ORACLE: trains on the target's training labels (da.transfer.target_only); marked oracle: true
    "target_only": [],
}

#: synthetic domain kinds (``data.generator.domain``).
DOMAINS = ("gaussian", "moons")

#: synthetic shift kinds (``data.generator.shift``) and what ``severity`` means for each.
SHIFTS = {
    "none": "no shift (severity ignored)",
    "label": "prior -> (1-s) prior + s q, q ~ Dirichlet(alpha) or `prior`; s in [0, 1]",
    "covariate": "importance resampling along a direction; s >= 0 (da.data.covariate_shift)",
    "conditional": "class-dependent affine map of X|Y; s >= 0 (da.data.conditional_shift)",
    "rotation": "rotation by s degrees in the (0, 1) plane",
    "subspace": "top principal subspace turned by s*90 degrees; s in [0, 1]",
}

#: names a ``weight`` schedule may take (``{schedule: NAME, ...}``) and their parameters.
SCHEDULES = WEIGHT_SCHEDULES
DIAG_ON = ("inputs", "features")
LABEL_SHIFT_ESTIMATORS = LABEL_SHIFT_METHODS  # declared in da.diagnostics.label_shift




# --------------------------------------------------------------------------------------
# Values with structure of their own: alignment weights, align entries, generator specs.
# --------------------------------------------------------------------------------------

def _check_weight(value, path):
    """A number, or ``{schedule: constant|ganin|linear, ...}``; returns the canonical form."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            if value in SCHEDULES:
                value = {"schedule": value}
            else:
                raise ConfigError(path, f"expected a number or a schedule, got {_describe(value)}; "
                                        f"schedules: {', '.join(SCHEDULES)}") from None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return Num(None, lo=0.0).check(value, path)
    if not isinstance(value, dict) or "schedule" not in value:
        raise ConfigError(path, f"expected a number or a schedule ({{schedule: "
                                f"{'|'.join(SCHEDULES)}, ...}}), got {_describe(value)}")
    kind = Str(None, choices=tuple(SCHEDULES)).check(value["schedule"], f"{path}.schedule")
    allowed = SCHEDULES[kind]
    defaults = {"value": 1.0, "max": 1.0, "gamma": 10.0, "start": 0.0, "end": 1.0}
    out = {"schedule": kind}
    for k, v in value.items():
        if k == "schedule":
            continue
        if k not in allowed:
            raise ConfigError(f"{path}.{k}", f"unknown key for schedule {kind!r}; valid: {', '.join(allowed)}")
    for k in allowed:
        lo = 0.0
        out[k] = Num(None, lo=lo, lo_open=(k == "gamma")).check(value.get(k, defaults[k]), f"{path}.{k}")
    return out


def _loss_signature(loss: str):
    """Keyword arguments a loss accepts from a config (``in_features``/``n_classes`` come from the model, ``seed``
    from the config's top-level ``seed``)."""
    import inspect

    import da.align as align

    cls = getattr(align, LOSSES[loss])
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in ("self", "in_features", "n_classes", "seed")
            and params[p].kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)]


def _check_params(params: dict, allowed, path: str, what: str) -> dict:
    for k in params:
        if k not in allowed:
            hint = difflib.get_close_matches(k, allowed, n=1)
            raise ConfigError(f"{path}.{k}", f"not a parameter of {what}"
                              + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; valid: {', '.join(allowed) or '(none)'}")
    return params


_ALIGN_ENTRY = {
    "loss": Str(None, "alignment loss", choices=tuple(LOSSES)),
    "weight": Custom(1.0, _check_weight, "a number or {schedule: ganin|constant|linear, ...}"),
    "params": Mapping({}, "keyword arguments of the loss class in da.align"),
}


def _check_align_entry(value, path):
    if isinstance(value, str):
        value = {"loss": value}
    if isinstance(value, dict) and isinstance(value.get("loss"), str):
        value = {**value, "loss": canonical("loss", value["loss"])}
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a mapping {{loss, weight, params}}, got {_describe(value)}")
    if "loss" not in value:
        raise ConfigError(f"{path}.loss", f"missing; valid: {', '.join(LOSSES)}")
    out = _check_section(value, _ALIGN_ENTRY, path)
    try:
        allowed = _loss_signature(out["loss"])
    except ImportError:  # da.align not importable here: checked when the run builds the loss
        allowed = None
    if allowed is not None:
        if "seed" in out["params"]:
            raise ConfigError(f"{path}.params.seed", "the loss is seeded by the config's top-level seed (which "
                                                     "also seeds sampling and training); set that instead")
        _check_params(out["params"], allowed, f"{path}.params", f"da.align.{LOSSES[out['loss']]}")
    return out


_GENERATOR = {
    "domain": Str("gaussian", "synthetic domain kind", choices=DOMAINS),
    "dim": Num(2, "gaussian: feature dimension", lo=1, integer=True),
    "n_classes": Num(2, "gaussian: number of classes", lo=2, integer=True),
    "separation": Num(3.0, "gaussian: distance of the class means from the origin", lo=0.0),
    "noise": Num(0.1, "moons: noise standard deviation", lo=0.0),
    "shift": Str("rotation", "shift operator applied to the source to make the target",
                 choices=tuple(SHIFTS)),
    "severity": Num(30.0, "shift strength; its meaning per shift is in SHIFTS", lo=0.0),
    "params": Mapping({}, "extra keyword arguments of the shift operator in da.data"),
    "seed": Num(0, "seed of the domain's construction (means, Dirichlet prior, random maps)",
                lo=0, integer=True),
}

_DATA = {
    "pair": Str(None, "a named real pair (da.datasets.PAIRS); exclusive with generator",
                optional=True),
    "generator": Custom(None, lambda v, p: _check_generator(v, p), "a synthetic pair spec"),
    "n_source": Num(None, "source samples over train+val+test (null: all rows of a real pair; "
                          "2000 for a generator)", lo=3, integer=True, optional=True),
    "n_target": Num(None, "target samples over train+val+test (as n_source)", lo=3, integer=True,
                    optional=True),
    "n_target_labeled": Num(0, "target training rows whose labels a method may use", lo=0,
                            integer=True),
    "val_frac": Num(0.2, "validation fraction (synthetic pairs)", lo=0.0, hi=1.0, lo_open=True),
    "test_frac": Num(0.2, "test fraction (synthetic pairs)", lo=0.0, hi=1.0, lo_open=True),
    "source": Custom(None, lambda v, p: _check_domain_entry(v, p),
                     "an image domain on disk: {folder: DIR}, {list: FILE, root: DIR} or {layout: office31|"
                     "office_home|visda2017|domainnet, root: DIR, domain: NAME}; with target, exclusive "
                     "with pair and generator"),
    "target": Custom(None, lambda v, p: _check_domain_entry(v, p), "the target image domain (as source)"),
    "protocol": Str("transductive", "image domains: transductive (train on all unlabelled target images, "
                                    "test on the same) or inductive (a held-out target test split)",
                    choices=("transductive", "inductive")),
    "image_size": Num(224, "image domains: the side of the images the model sees", lo=8, integer=True),
    "augment": Str("imagenet", "image domains: transform preset (da.datasets.PRESETS)",
                   choices=("imagenet", "digits", "none")),
    "augment_source": Str(None, "image domains: the source's own training preset (null: augment)",
                          choices=("imagenet", "digits", "none"), optional=True),
    "augment_target": Str(None, "image domains: the target's own training preset (null: augment)",
                          choices=("imagenet", "digits", "none"), optional=True),
    "num_workers": Num(0, "image domains: DataLoader workers per stream", lo=0, integer=True),
}

_DOMAIN_KEYS = {"folder": ("folder",), "list": ("list", "root", "classes"), "layout": ("layout", "root", "domain")}


def _check_domain_entry(value, path):
    if value is None:
        return None
    if isinstance(value, str):
        value = {"folder": value}
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected {{folder: DIR}}, {{list: FILE, root: DIR}} or {{layout: NAME, root: "
                                f"DIR, domain: NAME}}, got {_describe(value)}")
    kinds = [k for k in _DOMAIN_KEYS if k in value]
    if len(kinds) != 1:
        raise ConfigError(path, f"give exactly one of folder, list, layout; got keys {sorted(value)}")
    for k in value:
        if k not in _DOMAIN_KEYS[kinds[0]]:
            raise ConfigError(f"{path}.{k}", f"unknown key for a {kinds[0]!r} entry; valid: "
                                             f"{', '.join(_DOMAIN_KEYS[kinds[0]])}")
    if kinds[0] == "layout":
        from da.datasets.layouts import LAYOUTS

        Str(None, choices=tuple(LAYOUTS)).check(value["layout"], f"{path}.layout")
        for k in ("root", "domain"):
            if k not in value:
                raise ConfigError(f"{path}.{k}", "missing: a layout entry needs layout, root and domain")
    out = {k: (str(v) if k != "classes" else v) for k, v in value.items()}
    return out


def _check_generator(value, path):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a mapping (domain, shift, severity, ...), got {_describe(value)}")
    out = _check_section(value, _GENERATOR, path)
    if out["shift"] in ("label", "subspace") and out["severity"] > 1:
        raise ConfigError(f"{path}.severity", f"must be in [0, 1] for shift {out['shift']!r}, "
                                              f"got {out['severity']}")
    if out["domain"] == "moons" and "dim" in value and out["dim"] != 2:
        raise ConfigError(f"{path}.dim", "moons domains are 2-D")
    if out["domain"] == "moons" and "n_classes" in value and out["n_classes"] != 2:
        raise ConfigError(f"{path}.n_classes", "moons domains have 2 classes")
    return out


def _check_pair_name(value, path):
    if value is None:
        return None
    from da.datasets import PAIRS

    key = str(value).strip().lower().replace(" ", "")
    return Str(None, choices=tuple(PAIRS)).check(key, path)


_DATA["pair"] = Custom(None, _check_pair_name, "a named real pair (da.datasets.PAIRS); exclusive "
                                                "with generator")

_MODEL = {
    "arch": Str("mlp", "mlp (flattened inputs) or lenet (images)", choices=ARCHS),
    "hidden": ListOf(Num(None, lo=1, integer=True), [128, 64],
                     "mlp: hidden widths (the featurizer); lenet: [width of the dense layer]"),
    "channels": ListOf(Num(None, lo=1, integer=True), [16, 32], "lenet: conv channels"),
    "dropout": Num(0.0, "dropout probability", lo=0.0, hi=1.0),
    "activation": Str("relu", "mlp activation", choices=("relu", "tanh", "sigmoid", "gelu", "elu",
                                                         "leaky_relu")),
    "backbone": Str(None, "a named backbone: torchvision/<name> (resnet50, vit_b_16, ...), timm/<name>, "
                          "mlp or lenet, followed by model.bottleneck and a linear head (null: model.arch "
                          "with its hidden/channels)", optional=True),
    "weights": Str(None, "backbone weights: null (random init, seeded), a local state-dict file, or the "
                         "package's weight name (IMAGENET1K_V2; pretrained for timm), which downloads on "
                         "first use", optional=True),
    "bottleneck": Num(256, "with a backbone: width of the Linear+BatchNorm1d+ReLU bottleneck the losses see "
                           "(0: none)", lo=0, integer=True),
    "freeze_bn": Bool(False, "with a backbone: keep its BatchNorm statistics and affine parameters fixed"),
}

def _train_section(stage: str) -> dict:
    """The ``train:``/``pretrain:`` schema: one leaf per :class:`da.transfer.TrainConfig` field
    (same defaults, ranges and docs); pretraining may have 0 epochs (no pretraining)."""
    from da.transfer.train_config import yaml_section

    section = yaml_section()
    if stage == "pretrain":
        epochs = section["epochs"]
        section["epochs"] = Num(epochs.default, "epochs of supervised source training (0: none)", lo=0,
                                integer=True)
        section["selection"] = Str("source_val", "pretraining sees no target: source_val or last",
                                   choices=("source_val", "last"))
    return section


_PRETRAIN = _train_section("pretrain")
_TRAIN = _train_section("train")

_TRANSFER = {
    "strategy": Str("full", "da.transfer strategy name", choices=STRATEGIES),
    "params": Mapping({}, "keyword arguments of the strategy constructor"),
}

#: two-sample test name -> function in da.diagnostics (declared there).
TESTS = dict(TEST_SHORT_NAMES)
#: gap metric names (:data:`da.diagnostics.GAP_METRICS`, declared with their specs).
GAPS = GAP_METRICS

_DIAGNOSTICS = {
    "tests": ListOf(Str(None, choices=tuple(TESTS)), ["mmd"], "two-sample tests (da.diagnostics)"),
    "gaps": ListOf(Str(None, choices=GAPS), ["mmd2", "proxy_a_distance"],
                   "gap metrics (da.diagnostics.gap)"),
    "compare": ListOf(Str(None, choices=DIAG_ON), ["inputs", "features"],
                      "what to compare: raw inputs and/or the featurizer's outputs"),
    "before": Bool(True, "diagnose before transfer (after pretraining)"),
    "after": Bool(True, "diagnose after fine-tuning"),
    "every": Num(0, "also diagnose the features every k fine-tuning epochs (0: never)", lo=0,
                 integer=True),
    "split": Str("test", "which held-out parts to compare", choices=("val", "test")),
    "max_samples": Num(500, "subsample each domain to at most this many rows", lo=10, integer=True),
    "n_permutations": Num(200, "permutations of the two-sample tests", lo=1, integer=True),
    "n_bootstrap": Num(200, "bootstrap resamples of the gap metrics (0: point estimates)", lo=0,
                       integer=True),
    "bandwidth": Num(None, "Gaussian-kernel bandwidth of the MMD test and gap (null: median "
                           "heuristic); fix it to compare with the analytic MMD", lo=0.0,
                     lo_open=True, optional=True),
}

_LABEL_SHIFT = {
    "estimators": ListOf(Str(None, choices=LABEL_SHIFT_ESTIMATORS), [],
                         "estimate the target prior with these (da.diagnostics.estimate_label_shift)"),
    "when": ListOf(Str(None, choices=("before", "after")), ["before"],
                   "with the model before and/or after fine-tuning"),
    "n_bootstrap": Num(0, "bootstrap resamples of each estimate (0: point estimates)", lo=0,
                       integer=True),
}

#: The one registry of config keys, their defaults and what they mean.
SCHEMA: dict[str, Any] = {
    "name": Str("experiment", "label, not hashed"),
    "output": Str("runs", "output root, not hashed: runs go to OUTPUT/<run_id>/"),
    "figures": Bool(True, "draw figures/ from the records with da.plot when it is installed; not hashed"),
    "summary": ListOf(Str(None), None, "metrics in the summary table `da run` prints (null: accuracies "
                                       "and feature MMD^2); not hashed", optional=True),
    "seed": Num(0, "seed of sampling, initialisation and training", lo=0, integer=True),
    "method": Str("source_only", "method preset: fills `align` when align is absent",
                  choices=tuple(METHODS) + ("custom",)),
    "recipe": Bool(False, "take train.optimizer, lr, lr_schedule, grad_clip and selection left out of the config from the "
                          "method's recipe (da.transfer.recipes.method_recipe), as DomainAdaptationClassifier(align="
                          "method) does; not hashed (the values it fills are)"),
    "lambda": Num(1.0, "global alignment weight: loss = CE + lambda * sum_i w_i(p) L_i", lo=0.0),
    "data": _DATA,
    "model": _MODEL,
    "pretrain": _PRETRAIN,
    "transfer": _TRANSFER,
    "align": ListOf(Custom(None, _check_align_entry), None,
                    "alignment losses [{loss, weight, params}] (null: the method's preset)",
                    optional=True),
    "train": _TRAIN,
    "auto": AUTO_SECTION,
    "diagnostics": _DIAGNOSTICS,
    "label_shift": _LABEL_SHIFT,
}


def describe_schema(schema: dict | None = None, prefix: str = "") -> str:
    """Every key of :data:`SCHEMA` as ``path: default  # doc``, in schema order (``da run --show-defaults``)."""
    lines = []
    for k, spec in (SCHEMA if schema is None else schema).items():
        path = f"{prefix}{k}"
        if isinstance(spec, dict):
            lines.append(f"{path}:")
            lines.append(describe_schema(spec, f"{path}."))
        else:
            default = spec.default
            default = "null" if default is None else default
            lines.append(f"{path}: {default}" + (f"  # {spec.doc}" if spec.doc else ""))
    return "\n".join(lines)
