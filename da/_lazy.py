"""Modules imported on first use, so that ``import da.align`` does not pay for POT.

``ot = lazy_module("ot")`` at the top of a module reads like the import it
replaces (and ``logsumexp = lazy_function("scipy.special", "logsumexp")`` like
``from scipy.special import logsumexp``); the real ``import ot`` (seconds: POT pulls in scikit-learn, scipy.stats,
pandas and networkx) runs at the first attribute access, ``ot.emd(...)``, and
every later access goes straight to the imported module.
"""

from __future__ import annotations

import importlib
import types

__all__ = ["lazy_module", "lazy_function"]


class _LazyModule(types.ModuleType):
    """A stand-in module whose attributes are those of ``importlib.import_module(name)``."""

    def __getattr__(self, attr):
        module = self.__dict__.get("_module")
        if module is None:
            module = importlib.import_module(self.__name__)
            self.__dict__["_module"] = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self.__dict__.get("_module") is not None else "not imported yet"
        return f"<lazy module {self.__name__!r} ({state})>"


def lazy_module(name: str) -> types.ModuleType:
    """A module object that imports ``name`` when one of its attributes is first read.

    Examples
    --------
    >>> json = lazy_module("json")
    >>> json.dumps([1])
    '[1]'
    """
    return _LazyModule(name)


def lazy_function(module: str, name: str):
    """A function that imports ``module`` on its first call and then calls ``module.name``.

    Examples
    --------
    >>> dumps = lazy_function("json", "dumps")
    >>> dumps([1])
    '[1]'
    """
    source = lazy_module(module)

    def call(*args, **kwargs):
        return getattr(source, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported on first call."
    return call
