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
    auto:        {candidate_training, rule, tolerance, finetune_epochs, candidates}   # method: auto only
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
import itertools
import json
import re
from pathlib import Path
from typing import Any

import yaml

from da._names import canonical
from da._schema import ConfigError
from da._schema import describe as _describe
from da.experiments.schema import (DOMAINS, GAPS, LOSSES, METHODS, SCHEMA, SHIFTS, TESTS,
                                   _check_align_entry, _check_section)

__all__ = ["ConfigError", "SCHEMA", "METHODS", "LOSSES", "SHIFTS", "DOMAINS", "TESTS", "GAPS", "load_config",
           "resolve_config", "apply_overrides", "parse_override", "set_path", "get_path",
           "expand_sweep", "run_id", "config_hash", "pretrain_key", "dump_config", "defaults"]


# keys that label or file a run without changing what it computes: not hashed.
_UNHASHED = ("name", "output", "figures", "summary", "recipe")
#: the ``train`` keys that ``recipe: true`` fills from the method's recipe when the config leaves them out
RECIPE_KEYS = ("optimizer", "lr", "lr_schedule", "grad_clip", "selection")
# keys that only sweeps use: removed by expand_sweep, rejected by resolve_config.
_SWEEP_KEYS = ("grid", "zip")


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
    if isinstance(raw.get("method"), str):
        raw["method"] = canonical("method", raw["method"])
    if raw.get("align") is None and "align" in raw:
        del raw["align"]
    cfg = _check_section(raw, SCHEMA, "")
    data = cfg["data"]
    if (data["source"] is None) != (data["target"] is None):
        raise ConfigError("data.target" if data["target"] is None else "data.source",
                          "image domains come in pairs: give both data.source and data.target")
    given = [k for k in ("pair", "generator", "source") if data[k] is not None]
    if len(given) != 1:
        raise ConfigError("data", "give exactly one of data.pair (a named real pair), data.generator (a "
                                  "synthetic pair) and data.source + data.target (image domains on disk)"
                          + (f"; got {', '.join(given)}" if given else ""))
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
    if cfg["method"] == "auto":
        _check_auto(cfg["auto"], cfg["train"]["epochs"])
    if cfg["recipe"]:
        _fill_from_recipe(cfg, raw.get("train") or {})
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


def auto_candidates(section: dict) -> tuple:
    """The ``(name, method, weight)`` candidates of a resolved ``auto:`` section
    (:data:`da.transfer.auto.AUTO_CANDIDATES` when it names none)."""
    from da.transfer.auto_options import AUTO_CANDIDATES

    if section["candidates"] is None:
        return AUTO_CANDIDATES
    return tuple((c["name"], c["method"], c["weight"]) for c in section["candidates"])


def _check_auto(section: dict, epochs: int) -> None:
    """``method: auto``: what the schema's leaves cannot see (the rule's name is the schema's): the candidates as
    :func:`da.transfer.auto_options.check_rule` needs them, and the lengths each candidate training reads, so
    that a bad set fails here and not after the pretraining."""
    from da.transfer.auto_options import check_rule

    training = section["candidate_training"]
    if section["finetune_epochs"] is not None and training != "finetune":
        raise ConfigError("auto.finetune_epochs", f"is for candidate_training: finetune; {training} does not read "
                                                  "it (null)")
    if training == "warmup" and epochs < 2:
        raise ConfigError("auto.candidate_training", f"warmup needs train.epochs >= 2 (a warm-up and a "
                                                     f"continuation), got {epochs}")
    cands = auto_candidates(section)
    if ("source_only", None, None) not in cands:
        raise ConfigError("auto.candidates", "must include {name: source_only, method: null}, the reference of "
                                             "the choice")
    try:
        check_rule(section["rule"], cands)
    except ValueError as exc:
        raise ConfigError("auto.candidates", str(exc)) from None


def _fill_from_recipe(cfg: dict, given: dict) -> None:
    """``recipe: true``: the :data:`RECIPE_KEYS` of ``train`` that the raw config did not give (``given``)
    take the values of the method's recipe, resolved as the estimator resolves them (a ``custom``
    combination trains under :func:`da.transfer.recipes.method_of_terms`' method; a name without a
    recipe gets the generic one: Adam at 1e-3, source-validation accuracy)."""
    from da.transfer.recipes import method_of, method_of_terms, method_recipe

    method = cfg["method"]
    if method == "custom":
        method = method_of_terms([method_of(e["loss"]) for e in cfg["align"]])
    recipe = method_recipe(method)
    values = {**recipe["optimizer"], "selection": recipe["selection"]}
    for key in RECIPE_KEYS:
        if key not in given:
            cfg["train"][key] = values[key]


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
        method = canonical("method", cfg.get("method", SCHEMA["method"].default))
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
    """:func:`da._runs.digest`: the one hash of run ids (a resolved config holds no NaN)."""
    from da._runs import digest

    json.dumps(obj, allow_nan=False)  # a NaN in a config is an error, not a hashable value
    return digest(obj, n)


def config_hash(cfg: dict, n: int = 12) -> str:
    """SHA-256 (first ``n`` hex digits) of the canonical JSON of a resolved config,
    without the keys that only label or file it (``name``, ``output``), and without ``auto``
    unless the method is ``auto`` (no other method reads it).

    A config with alignment losses also hashes
    :data:`da.transfer.losses.ALIGNMENT_DEFAULTS_REVISION`: losses given by
    name are built with defaults sized to the features, which the config does
    not spell out, so a change of those defaults must change the run id.
    """
    body = {k: v for k, v in cfg.items() if k not in _UNHASHED and (k != "auto" or cfg.get("method") == "auto")}
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
