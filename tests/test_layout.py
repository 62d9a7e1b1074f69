"""The package layout: no module imports a subpackage to its right (parsed with ast, lazy imports included).

Order, left to right (the path the data takes)::

    data -> datasets -> align -> transfer -> diagnostics -> experiments -> plot -> cli

A module may import its own subpackage, any subpackage to its left, and the
shared bottom modules ``da/_*.py``; a bottom module imports only other bottom
modules. ``import da`` / ``from da import __version__`` (the root package)
is allowed anywhere; ``da/__init__.py`` itself re-exports and is not checked.

Every ``import`` statement counts, including those inside functions: a lazy
import postpones a cycle to the first call, it does not remove it. Imports
under ``if TYPE_CHECKING:`` would be exempt (there are none today).

``python tests/test_layout.py`` prints the import graph between subpackages.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "da"
ORDER = ("data", "datasets", "align", "transfer", "diagnostics", "experiments", "plot", "cli")
BOTTOM = "_bottom"  # da/_*.py

#: Upward edges that are known and being fixed elsewhere, with the reason. Remove an entry
#: when its fix lands: the test then guards the edge like any other.
KNOWN_UPWARD: dict = {}


def _layer_of_module(mod: str) -> str | None:
    """``da.align.mmd`` -> ``align``; ``da._runs`` -> bottom; ``da`` -> None (the root package)."""
    parts = mod.split(".")
    if parts[0] != "da" or len(parts) == 1:
        return None
    return BOTTOM if parts[1].startswith("_") else parts[1]


def _is_type_checking(node) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> list[tuple[str, int]]:
    """``(imported da module, line)`` for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    skip = {id(n) for node in ast.walk(tree) if _is_type_checking(node) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "da"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "da":
                continue
            if mod == "da":  # from da import data, _runs, __version__
                out += [(f"da.{a.name}", node.lineno) for a in node.names
                        if a.name in ORDER or a.name.startswith("_") and a.name != "__version__"]
            else:
                out.append((mod, node.lineno))
    return out


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel == Path("__init__.py"):
            continue
        layer = BOTTOM if len(rel.parts) == 1 else rel.parts[0]
        yield path, layer


def import_graph() -> tuple[Counter, list[str]]:
    """(edges ``(from, to) -> count`` between different layers, violations as text)."""
    edges, bad = Counter(), []
    for path, src in _modules():
        for mod, line in _imports(path):
            dst = _layer_of_module(mod)
            if dst is None or dst == src:
                continue
            edges[(src, dst)] += 1
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {mod}"
            if src == BOTTOM:
                bad.append(f"{where}: a bottom module imports only bottom modules")
            elif dst != BOTTOM and ORDER.index(dst) > ORDER.index(src) and (src, dst) not in KNOWN_UPWARD:
                bad.append(f"{where}: {dst} is to the right of {src}")
    return edges, bad


def format_graph(edges: Counter) -> str:
    lines = ["import graph between subpackages (imports per edge; _bottom = da/_*.py):"]
    for src in (BOTTOM,) + ORDER:
        outs = [(dst, n) for (s, dst), n in edges.items() if s == src]
        outs.sort(key=lambda e: (e[0] != BOTTOM, ORDER.index(e[0]) if e[0] in ORDER else -1))
        lines.append(f"  {src:<12} -> " + (", ".join(f"{d} ({n})" for d, n in outs) or "(nothing)"))
    return "\n".join(lines)


def test_no_upward_import_between_subpackages():
    edges, bad = import_graph()
    print(format_graph(edges))
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    """A lazy import inside a function and a relative import are both edges (and both caught)."""
    fake = tmp_path / "da"
    (fake / "align").mkdir(parents=True)
    (fake / "_bottom.py").write_text("import json\n")
    (fake / "align" / "lazy.py").write_text("def f():\n    from da.plot import save\n    return save\n")
    (fake / "align" / "rel.py").write_text("from ..experiments import config\nfrom . import lazy\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    edges, bad = import_graph()
    assert edges == Counter({("align", "plot"): 1, ("align", "experiments"): 1})
    assert len(bad) == 2 and "lazy.py:2" in bad[0] + bad[1] and "rel.py:1" in bad[0] + bad[1]


if __name__ == "__main__":
    g, violations = import_graph()
    print(format_graph(g))
    print("\n".join(violations) or "no upward import")
    for edge, why in KNOWN_UPWARD.items():
        print(f"known exception {edge[0]} -> {edge[1]}: {why}")


#: "about 450 lines" a file, "about 100" a function, docstring included (issue #11).
MAX_FILE_LINES, MAX_FUNCTION_LINES = 470, 100


def test_files_and_functions_stay_small():
    import ast

    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_FILE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE.parent)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE.parent)}:{node.name}: {n} lines")
    assert not too_long, too_long
