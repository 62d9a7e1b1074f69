r"""Experiment configs: one schema with every default, validation that names the key path,
``key.path=value`` overrides, sweep expansion and run ids.

A config is plain YAML (read with ``yaml.safe_load``). :func:`resolve_config`
fills every default from :data:`SCHEMA`, checks types and ranges, expands the
``method`` preset into an explicit ``align`` list and returns a canonical
plain dict: the *resolved config*. Its hash (without ``name`` and ``output``,
which say where and under what label a run is filed, not what it computes) is
the run id, so the same computation always gets the same id whatever sweep,
file or key order produced it.

Top-level sections (``da run --show-defaults`` prints them all)::

    name: quickstart            # label only
    output: runs/quickstart     # output root (runs/<run_id>/, _cache/)
    seed: 0                     # data sampling, initialisation, training
    method: dann                # preset for `align` when align is absent
    lambda: 1.0                 # global weight: loss = CE + lambda * sum_i w_i(p) L_i
    data:        {pair: mnist->digits}  or  {generator: {domain, shift, severity, ...}}
    model:       {arch: mlp, hidden: [128, 64], ...}
    pretrain:    {epochs, batch_size, lr, optimizer, ...}     # hashed into the pretrain cache key
    transfer:    {strategy: full, params: {}}
    align:       [{loss: mmd, weight: 1.0 | {schedule: ganin, max: 1.0}, params: {...}}]
    train:       {epochs, batch_size, lr, optimizer, horizon, lr_schedule, ...}
    diagnostics: {tests, gaps, compare: [inputs, features], before, after, every, ...}
    label_shift: {estimators: [bbse, mlls], ...}
    grid: {key.path: [values]}  zip: {key.path: [values]}   # sweeps only

Sweeps: ``grid`` takes the product of its lists, ``zip`` pairs its lists
element-wise (all the same length; a list of such blocks zips each block and
takes their product); both combine as a product. Keys are the same dotted
paths as the command-line overrides.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
import numbers
import re
from pathlib import Path
from typing import Any, Callable

import yaml

__all__ = ["ConfigError", "SCHEMA", "METHODS", "LOSSES", "SHIFTS", "DOMAINS", "TESTS", "GAPS", "load_config",
           "resolve_config", "apply_overrides", "parse_override", "set_path", "get_path",
           "expand_sweep", "run_id", "config_hash", "pretrain_key", "dump_config", "defaults"]


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type. ``path`` names the key."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


# --------------------------------------------------------------------------------------
# Registries: what a name in a config may refer to.
# --------------------------------------------------------------------------------------

#: alignment loss name -> class name in :mod:`da.align`.
LOSSES = {
    "mmd": "MMDLoss", "coral": "CORALLoss", "sinkhorn": "SinkhornLoss",
    "swd": "SlicedWassersteinLoss", "jdot": "JDOTLoss", "dann": "DANNLoss", "cdan": "CDANLoss",
}

#: method preset -> the ``align`` list it stands for (``lambda`` multiplies every weight).
METHODS = {
    "source_only": [],
    "mmd": [{"loss": "mmd", "weight": 1.0}],
    "jan": [{"loss": "mmd", "weight": 1.0, "params": {"joint": True}}],
    "coral": [{"loss": "coral", "weight": 1.0}],
    "dann": [{"loss": "dann", "weight": 1.0}],
    "cdan": [{"loss": "cdan", "weight": 1.0}],
    "deepjdot": [{"loss": "jdot", "weight": 1.0}],
    "sinkhorn": [{"loss": "sinkhorn", "weight": 1.0}],
    "swd": [{"loss": "swd", "weight": 1.0}],
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

#: names a ``weight`` schedule may take (``{schedule: NAME, ...}``).
SCHEDULES = {
    "constant": ("value",),
    "ganin": ("max", "gamma"),
    "linear": ("start", "end"),
}

OPTIMIZERS = ("sgd", "adam", "adamw")
LR_SCHEDULES = ("constant", "ganin", "cosine")
ARCHS = ("mlp", "lenet")
DIAG_ON = ("inputs", "features")
LABEL_SHIFT_ESTIMATORS = ("bbse", "mlls")

# keys that label or file a run without changing what it computes: not hashed.
_UNHASHED = ("name", "output", "figures", "summary")
# keys that only sweeps use: removed by expand_sweep, rejected by resolve_config.
_SWEEP_KEYS = ("grid", "zip")


# --------------------------------------------------------------------------------------
# A small schema language: each leaf checks and canonicalises one value.
# --------------------------------------------------------------------------------------

class _Leaf:
    def __init__(self, default, doc: str = ""):
        self.default = default
        self.doc = doc

    def check(self, value, path: str):  # pragma: no cover - abstract
        raise NotImplementedError


def _describe(value) -> str:
    return f"{value!r} ({type(value).__name__})"


class Num(_Leaf):
    """A finite number in ``[lo, hi]``; an int when ``integer``; ``None`` allowed when ``optional``."""

    def __init__(self, default, doc="", *, lo=None, hi=None, integer=False, optional=False,
                 lo_open=False):
        super().__init__(default, doc)
        self.lo, self.hi, self.integer, self.optional, self.lo_open = lo, hi, integer, optional, lo_open

    def check(self, value, path):
        if value is None and self.optional:
            return None
        kind = "an integer" if self.integer else "a number"
        # YAML 1.1 reads `1e-3` as a string; accept numeric strings for numeric keys.
        if isinstance(value, str):
            try:
                value = float(value) if not self.integer else int(value)
            except ValueError:
                raise ConfigError(path, f"expected {kind}, got {_describe(value)}") from None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(path, f"expected {kind}" + (" or null" if self.optional else "")
                              + f", got {_describe(value)}")
        if self.integer:
            if float(value) != int(value):
                raise ConfigError(path, f"expected an integer, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(path, f"expected a finite number, got {value!r}")
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            raise ConfigError(path, f"must be {'>' if self.lo_open else '>='} {self.lo}, got {value!r}")
        if self.hi is not None and value > self.hi:
            raise ConfigError(path, f"must be <= {self.hi}, got {value!r}")
        return value


class Str(_Leaf):
    def __init__(self, default, doc="", *, choices=None, optional=False):
        super().__init__(default, doc)
        self.choices, self.optional = choices, optional

    def check(self, value, path):
        if value is None and self.optional:
            return None
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, got {_describe(value)}")
        if self.choices is not None and value not in self.choices:
            hint = difflib.get_close_matches(value, list(self.choices), n=1)
            raise ConfigError(path, f"unknown value {value!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; valid: {', '.join(map(str, self.choices))}")
        return value


class Bool(_Leaf):
    def check(self, value, path):
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {_describe(value)}")
        return value


class ListOf(_Leaf):
    """A list whose items all pass ``item``; a scalar is read as a one-item list."""

    def __init__(self, item: _Leaf, default, doc="", *, min_len=0, optional=False):
        super().__init__(default, doc)
        self.item, self.min_len, self.optional = item, min_len, optional

    def check(self, value, path):
        if value is None and self.optional:
            return None
        if not isinstance(value, (list, tuple)):
            value = [value]
        if len(value) < self.min_len:
            raise ConfigError(path, f"expected a list of at least {self.min_len} item(s), got {value!r}")
        return [self.item.check(v, f"{path}[{i}]") for i, v in enumerate(value)]


class Mapping(_Leaf):
    """Free-form keyword arguments (checked later against the callee's signature)."""

    def check(self, value, path):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping of keyword arguments, got {_describe(value)}")
        for k in value:
            if not isinstance(k, str):
                raise ConfigError(path, f"keys must be strings, got {k!r}")
        return _canonical(copy.deepcopy(value))


class Custom(_Leaf):
    def __init__(self, default, fn: Callable, doc=""):
        super().__init__(default, doc)
        self.fn = fn

    def check(self, value, path):
        return self.fn(value, path)


def _canonical(obj):
    """Plain JSON types, ints that are whole floats kept as written (hash stability comes
    from the schema's typed leaves; free-form params are hashed as given)."""
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    return obj


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
    """Keyword arguments a loss accepts from a config (``in_features``/``n_classes`` come from the model)."""
    import inspect

    import da.align as align

    cls = getattr(align, LOSSES[loss])
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in ("self", "in_features", "n_classes")
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
}


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
}

_OPTIM = {
    "epochs": Num(10, "epochs", lo=0, integer=True),
    "batch_size": Num(64, "batch size (source; target batches have the same size)", lo=1, integer=True),
    "lr": Num(1e-3, "learning rate", lo=0.0, lo_open=True),
    "optimizer": Str("adam", "optimizer", choices=OPTIMIZERS),
    "momentum": Num(0.9, "sgd momentum", lo=0.0, hi=1.0),
    "weight_decay": Num(0.0, "L2 weight decay", lo=0.0),
}

_PRETRAIN = dict(_OPTIM, epochs=Num(10, "epochs of supervised source training (0: none)", lo=0,
                                    integer=True))

_TRAIN = dict(
    _OPTIM,
    epochs=Num(10, "fine-tuning epochs (passes over the larger of the source and target streams)",
               lo=1, integer=True),
    horizon=Num(None, "steps over which the progress p goes 0 -> 1 (null: epochs x steps per epoch)",
                lo=1, integer=True, optional=True),
    lr_schedule=Str("constant", "learning-rate schedule of p", choices=LR_SCHEDULES),
    grad_clip=Num(None, "clip the global gradient norm (null: no clipping)", lo=0.0, lo_open=True,
                  optional=True),
    discriminator_lr_factor=Num(1.0, "discriminators' lr = lr x this", lo=0.0),
    target_weight=Num(1.0, "weight of the labelled-target cross-entropy (data.n_target_labeled > 0)",
                      lo=0.0),
    selection=Str("source_val", "model-selection criterion (da.transfer.CRITERIA)",
                  choices=("source_val", "iwcv", "dev", "entropy", "snd", "oracle", "last")),
    patience=Num(None, "stop after this many evaluations without improvement", lo=1, integer=True,
                 optional=True),
    eval_every=Num(1, "score the selection criterion every k epochs", lo=1, integer=True),
    log_every=Num(0, "also append a per-step record to metrics.jsonl every k steps (0: epochs only)",
                  lo=0, integer=True),
    device=Str(None, "torch device (null: cuda when available, else cpu)", optional=True),
    checkpoint=Bool(True, "save the fine-tuned weights as model.pt"),
)

_TRANSFER = {
    "strategy": Str("full", "da.transfer strategy name", choices=(
        "full", "partial", "linear_probe", "head_reinit", "discriminative_lr", "l2sp")),
    "params": Mapping({}, "keyword arguments of the strategy constructor"),
}

#: two-sample test name -> function in da.diagnostics.
TESTS = {"mmd": "mmd_test", "energy": "energy_test", "c2st": "c2st", "ks": "ks_test",
         "linear_mmd": "linear_mmd_test"}
#: gap metric names (da.diagnostics.GAP_METRICS).
GAPS = ("mmd2", "energy_distance", "coral_distance", "wasserstein", "sliced_wasserstein",
        "proxy_a_distance")

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
    "lambda": Num(1.0, "global alignment weight: loss = CE + lambda * sum_i w_i(p) L_i", lo=0.0),
    "data": _DATA,
    "model": _MODEL,
    "pretrain": _PRETRAIN,
    "transfer": _TRANSFER,
    "align": ListOf(Custom(None, _check_align_entry), None,
                    "alignment losses [{loss, weight, params}] (null: the method's preset)",
                    optional=True),
    "train": _TRAIN,
    "diagnostics": _DIAGNOSTICS,
    "label_shift": _LABEL_SHIFT,
}


def _check_section(value, schema: dict, path: str) -> dict:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a mapping, got {_describe(value)}")
    for k in value:
        if k not in schema:
            hint = difflib.get_close_matches(str(k), list(schema), n=1)
            raise ConfigError(_join(path, k), "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; valid: {', '.join(schema)}")
    out = {}
    for k, spec in schema.items():
        sub = _join(path, k)
        if isinstance(spec, dict):
            out[k] = _check_section(value.get(k), spec, sub)
        elif k in value:
            out[k] = spec.check(value[k], sub)
        else:
            out[k] = spec.check(copy.deepcopy(spec.default), sub) if spec.default is not None else (
                spec.check(None, sub) if isinstance(spec, Custom) else None)
    return out


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def defaults() -> dict:
    """The resolved config of an empty YAML file plus ``data.generator: {}`` (every default)."""
    return resolve_config({"data": {"generator": {}}})


# --------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------

def resolve_config(raw: dict) -> dict:
    """Validate ``raw`` and fill every default; returns the canonical resolved config.

    Idempotent: resolving a resolved config returns an equal dict.

    Raises
    ------
    ConfigError
        Naming the key path, e.g. ``align[1].weight: expected a number or a schedule``.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"a config must be a mapping at the top level, got {_describe(raw)}")
    for k in _SWEEP_KEYS:
        if k in raw:
            raise ConfigError(k, "a sweep block; expand it with expand_sweep() (da sweep / da run do)")
    raw = copy.deepcopy(raw)
    if raw.get("align") is None and "align" in raw:
        del raw["align"]
    cfg = _check_section(raw, SCHEMA, "")
    data = cfg["data"]
    if (data["pair"] is None) == (data["generator"] is None):
        raise ConfigError("data", "give exactly one of data.pair (a named real pair) and "
                                  "data.generator (a synthetic pair)")
    if cfg["align"] is None:
        if cfg["method"] == "custom":
            raise ConfigError("align", "method 'custom' needs an explicit align list")
        cfg["align"] = [_check_align_entry(copy.deepcopy(e), f"align[{i}]")
                        for i, e in enumerate(METHODS[cfg["method"]])]
    elif cfg["method"] != "custom":
        # `method` labels the run in every table: an explicit align list must be that method's
        want = [e["loss"] for e in METHODS[cfg["method"]]]
        got = [e["loss"] for e in cfg["align"]]
        if got != want:
            raise ConfigError("align", f"method {cfg['method']!r} means align losses {want}, got {got}; "
                                       "set method: custom for another combination")
    if cfg["model"]["arch"] == "lenet" and data["generator"] is not None:
        raise ConfigError("model.arch", "lenet needs image inputs; synthetic domains are vectors (use mlp)")
    if data["generator"] is not None and data["pair"] is None:
        for k in ("n_source", "n_target"):
            if data[k] is None:
                data[k] = 2000
    for i, e in enumerate(cfg["align"]):
        if e["loss"] in ("jdot",) and cfg["train"]["batch_size"] > 2048:
            raise ConfigError(f"align[{i}].loss", "jdot solves an exact OT problem per batch; "
                                                  "keep train.batch_size <= 2048")
    if cfg["label_shift"]["estimators"] and len(set(cfg["label_shift"]["estimators"])) != \
            len(cfg["label_shift"]["estimators"]):
        raise ConfigError("label_shift.estimators", "duplicate estimator")
    return cfg


# --------------------------------------------------------------------------------------
# Key paths and overrides
# --------------------------------------------------------------------------------------

_INDEX = re.compile(r"\[(\d+)\]")


def _split_path(path: str) -> list:
    """``align[1].weight`` or ``align.1.weight`` -> ``["align", 1, "weight"]``."""
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(str(path), "empty key path")
    parts = []
    for tok in _INDEX.sub(r".\1", path.strip()).split("."):
        if tok == "":
            raise ConfigError(path, "malformed key path")
        parts.append(int(tok) if tok.isdigit() else tok)
    return parts


def _fmt_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def get_path(cfg: dict, path: str, default=KeyError):
    node = cfg
    for p in _split_path(path):
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            if default is KeyError:
                raise ConfigError(path, "no such key") from None
            return default
    return node


def set_path(cfg: dict, path: str, value) -> dict:
    """Set ``path`` in ``cfg`` in place, creating mappings as needed.

    A list index may address one past the end (append). Editing ``align.<i>...``
    in a config that names only a ``method`` first writes the method's preset
    out as an explicit ``align`` list, so ``align.0.weight=0.5`` edits the preset.
    """
    parts = _split_path(path)
    if parts[0] == "align" and len(parts) > 1 and cfg.get("align") is None:
        method = cfg.get("method", SCHEMA["method"].default)
        if method not in METHODS:
            raise ConfigError("method", f"unknown method {method!r}; valid: {', '.join(METHODS)}")
        cfg["align"] = copy.deepcopy(METHODS[method])
    node = cfg
    for i, p in enumerate(parts[:-1]):
        here = _fmt_path(parts[:i + 1])
        nxt = parts[i + 1]
        if isinstance(p, int):
            if not isinstance(node, list):
                raise ConfigError(here, f"{_fmt_path(parts[:i]) or 'config'} is not a list")
            if p >= len(node):
                raise ConfigError(here, f"index out of range (the list has {len(node)} items)")
            if node[p] is None or not isinstance(node[p], (dict, list)):
                node[p] = [] if isinstance(nxt, int) else {}
            node = node[p]
        else:
            if not isinstance(node, dict):
                raise ConfigError(here, f"{_fmt_path(parts[:i]) or 'config'} is not a mapping")
            if node.get(p) is None or not isinstance(node[p], (dict, list)):
                if isinstance(nxt, int):
                    raise ConfigError(_fmt_path(parts[:i + 2]), f"{here} is not a list")
                node[p] = {}
            node = node[p]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list):
            raise ConfigError(path, f"{_fmt_path(parts[:-1])} is not a list")
        if last < len(node):
            node[last] = value
        elif last == len(node):
            node.append(value)
        else:
            raise ConfigError(_fmt_path(parts), f"index out of range (the list has {len(node)} items)")
    else:
        if not isinstance(node, dict):
            raise ConfigError(path, f"{_fmt_path(parts[:-1])} is not a mapping")
        node[last] = value
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.lr=1e-3"`` -> ``("train.lr", 0.001)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(text, "an override must look like key.path=value")
    key, _, val = text.partition("=")
    key = key.strip()
    try:
        value = yaml.safe_load(val) if val.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(key, f"could not parse the value {val!r} as YAML: {exc}") from None
    _split_path(key)
    return key, value


def apply_overrides(cfg: dict, overrides) -> dict:
    """Return a copy of ``cfg`` with each ``key.path=value`` (or ``(path, value)``) applied in order."""
    out = copy.deepcopy(cfg) if cfg is not None else {}
    for ov in overrides or ():
        key, value = parse_override(ov) if isinstance(ov, str) else ov
        set_path(out, key, value)
    return out


def load_config(source, overrides=()) -> dict:
    """Read a YAML file (or a mapping) and apply overrides; returns the *raw* config
    (sweep blocks still in place). :func:`expand_sweep` and :func:`resolve_config` follow."""
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError("", f"{path}: invalid YAML: {exc}") from None
        if raw is None:
            raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"a config must be a mapping at the top level, got {_describe(raw)}")
    return apply_overrides(raw, overrides)


# --------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------

def _assign_order(key: str) -> tuple:
    # `method` decides the preset that `align.<i>` paths edit, so it goes first.
    parts = _split_path(key)
    return (0 if parts[0] == "method" else 1 if parts[0] != "align" else 2,)


def _check_sweep_block(block, where: str) -> None:
    if not isinstance(block, dict) or not block:
        raise ConfigError(where, "expected a non-empty mapping {key.path: [values]}")
    for k, v in block.items():
        _split_path(str(k))
        if not isinstance(v, list) or not v:
            raise ConfigError(f"{where}.{k}", f"expected a non-empty list of values, got {_describe(v)}")


def _grid_points(grid, where="grid") -> list[dict]:
    if grid is None:
        return [{}]
    _check_sweep_block(grid, where)
    keys = [str(k) for k in grid]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in grid))]


def _zip_points(zblock, where="zip") -> list[dict]:
    if zblock is None:
        return [{}]
    blocks = zblock if isinstance(zblock, list) else [zblock]
    per_block = []
    for b, block in enumerate(blocks):
        here = where if not isinstance(zblock, list) else f"{where}[{b}]"
        _check_sweep_block(block, here)
        lengths = {k: len(v) for k, v in block.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError(here, f"zipped lists must have the same length, got {lengths}")
        n = next(iter(lengths.values()))
        per_block.append([{str(k): block[k][i] for k in block} for i in range(n)])
    return [dict(itertools.chain.from_iterable(p.items() for p in combo))
            for combo in itertools.product(*per_block)]


def expand_sweep(raw: dict, overrides=()) -> list[dict]:
    """All resolved configs of a (possibly) sweeping raw config.

    ``overrides`` are applied to every point after the sweep's own values, so
    the command line wins. Points that resolve to the same config (e.g. a
    grid over a key that another key makes irrelevant) are kept once, in
    first-seen order.
    """
    raw = copy.deepcopy(raw)
    grid, zblock = raw.pop("grid", None), raw.pop("zip", None)
    gpts, zpts = _grid_points(grid), _zip_points(zblock)
    overlap = set().union(*gpts) & set().union(*zpts)
    if overlap:
        raise ConfigError("zip", f"keys in both grid and zip: {sorted(overlap)}")
    out, seen = [], set()
    for g in gpts:
        for z in zpts:
            point = {**g, **z}
            cfg = copy.deepcopy(raw)
            for key in sorted(point, key=_assign_order):
                set_path(cfg, key, copy.deepcopy(point[key]))
            cfg = apply_overrides(cfg, overrides)
            try:
                resolved = resolve_config(cfg)
            except ConfigError as exc:
                label = ", ".join(f"{k}={v!r}" for k, v in point.items())
                raise ConfigError(exc.path, f"{str(exc)[len(exc.path) + 2 if exc.path else 0:]}"
                                            + (f" (sweep point {label})" if label else "")) from None
            rid = run_id(resolved)
            if rid not in seen:
                seen.add(rid)
                out.append(resolved)
    return out


# --------------------------------------------------------------------------------------
# Hashes
# --------------------------------------------------------------------------------------

def _digest(obj, n: int = 12) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()[:n]


def config_hash(cfg: dict, n: int = 12) -> str:
    """SHA-256 (first ``n`` hex digits) of the canonical JSON of a resolved config,
    without the keys that only label or file it (``name``, ``output``).

    A config with alignment losses also hashes
    :data:`da.transfer.losses.ALIGNMENT_DEFAULTS_REVISION`: losses given by
    name are built with defaults sized to the features, which the config does
    not spell out, so a change of those defaults must change the run id.
    """
    body = {k: v for k, v in cfg.items() if k not in _UNHASHED}
    if cfg.get("align"):
        from da.transfer.losses import ALIGNMENT_DEFAULTS_REVISION

        body["_alignment_defaults_revision"] = ALIGNMENT_DEFAULTS_REVISION
    return _digest(body, n)


def run_id(cfg: dict) -> str:
    """The run id of a config: :func:`config_hash` of its resolved form."""
    return config_hash(resolve_config(cfg))


def pretrain_key(cfg: dict) -> str:
    """Hash of what pretraining depends on (data, model, pretrain, seed), so runs that differ
    only in transfer, alignment, training or diagnostics share one pretrained model."""
    cfg = resolve_config(cfg)
    return _digest({"data": cfg["data"], "model": cfg["model"], "pretrain": cfg["pretrain"],
                    "seed": cfg["seed"], "v": 1}, 16)


def dump_config(cfg: dict) -> str:
    """YAML text of a config, keys in schema order."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, width=100)
