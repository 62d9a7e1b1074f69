r"""A small schema language for configs: typed leaves that check and canonicalise one
value each, sections (dicts of leaves) checked with errors that name the key path and
suggest the close match.

Why our own and not pydantic: the leaves are data (``Num(lo=0, integer=True)``,
``Str(choices=...)``), they are shared by :class:`da.transfer.TrainConfig`'s fields and
the YAML sections derived from them, and the errors they raise are
:class:`ConfigError` with the full key path (``train.lr: must be > 0.0``) and a
"did you mean" hint. A pydantic model would give us a second type system to keep in
step with the dataclass the trainer takes, and error paths in its own format. The
whole language is about 150 lines with no dependency beyond the standard library.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
from typing import Callable

__all__ = ["ConfigError", "Num", "Str", "Bool", "ListOf", "Mapping", "Custom", "check_section",
           "canonical", "describe"]


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type. ``path`` names the key."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)



class _Leaf:
    def __init__(self, default, doc: str = ""):
        self.default = default
        self.doc = doc

    def check(self, value, path: str):  # pragma: no cover - abstract
        raise NotImplementedError


def describe(value) -> str:
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
                raise ConfigError(path, f"expected {kind}, got {describe(value)}") from None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(path, f"expected {kind}" + (" or null" if self.optional else "")
                              + f", got {describe(value)}")
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
            raise ConfigError(path, f"expected a string, got {describe(value)}")
        if self.choices is not None and value not in self.choices:
            hint = difflib.get_close_matches(value, list(self.choices), n=1)
            raise ConfigError(path, f"unknown value {value!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; valid: {', '.join(map(str, self.choices))}")
        return value


class Bool(_Leaf):
    def check(self, value, path):
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {describe(value)}")
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
            raise ConfigError(path, f"expected a mapping of keyword arguments, got {describe(value)}")
        for k in value:
            if not isinstance(k, str):
                raise ConfigError(path, f"keys must be strings, got {k!r}")
        return canonical(copy.deepcopy(value))


class Custom(_Leaf):
    def __init__(self, default, fn: Callable, doc=""):
        super().__init__(default, doc)
        self.fn = fn

    def check(self, value, path):
        return self.fn(value, path)


def canonical(obj):
    """Plain JSON types, ints that are whole floats kept as written (hash stability comes
    from the schema's typed leaves; free-form params are hashed as given)."""
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    return obj


def check_section(value, schema: dict, path: str) -> dict:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a mapping, got {describe(value)}")
    for k in value:
        if k not in schema:
            hint = difflib.get_close_matches(str(k), list(schema), n=1)
            raise ConfigError(join_path(path, k), "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                              + f"; valid: {', '.join(schema)}")
    out = {}
    for k, spec in schema.items():
        sub = join_path(path, k)
        if isinstance(spec, dict):
            out[k] = check_section(value.get(k), spec, sub)
        elif k in value:
            out[k] = spec.check(value[k], sub)
        else:
            out[k] = spec.check(copy.deepcopy(spec.default), sub) if spec.default is not None else (
                spec.check(None, sub) if isinstance(spec, Custom) else None)
    return out


def join_path(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)
