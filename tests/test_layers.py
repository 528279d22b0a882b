"""Layers point one way, and tracker.centre has no import circle.

Every module of tracker/ is parsed with ``ast`` (nothing is imported), and every import counts:
module-level, function-local (a circle hidden in a function is still a circle: it only moves the
failure to run time), and those under ``if TYPE_CHECKING:`` -- a lower layer that names a higher
layer's types in its annotations still depends on that layer's design, and such an import turns
into a real one the day the name is needed at run time.

The layers, lowest first; a module may import its own layer and the ones below it:

    base (errors, files, identifiers, the package)  ->  spec  ->  workbook  ->  register  ->
    rules  ->  centre  ->  cli, addin  ->  tools (sample, demo, docs)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "tracker"

BASE, SPEC, WORKBOOK, REGISTER, RULES, CENTRE, FRONT, TOOLS = range(8)
LAYER_NAMES = ("base", "spec", "workbook", "register", "rules", "centre", "cli/addin", "tools")

# Module (or package prefix) -> layer. The longest matching prefix wins.
LAYERS: dict[str, int] = {
    "tracker": BASE,  # the package itself: __version__ and the lazy public API
    "tracker.errors": BASE,
    "tracker.files": BASE,
    "tracker.identifiers": BASE,
    "tracker.spec": SPEC,
    "tracker.workbook": WORKBOOK,
    "tracker.register": REGISTER,  # with the rules, below them: they check signers against it
    "tracker.rules": RULES,
    "tracker.centre": CENTRE,
    "tracker.cli": FRONT,
    "tracker.__main__": FRONT,
    "tracker.addin": FRONT,
    "tracker.sample": TOOLS,
    "tracker.demo": TOOLS,
    "tracker.docs": TOOLS,
}

# Upward imports known today, each being removed by other work. Remove an entry when its import
# has gone (test_allowed_violations_still_exist says so).
ALLOWED: set[tuple[str, str]] = {
    ("tracker.workbook.marks", "tracker.rules.issue"),  # issue 10 item 4: being moved
    ("tracker.workbook.marks", "tracker.rules.render"),  # issue 10 item 4: being moved (the Report's text)
    ("tracker.register", "tracker.rules.issue"),  # issue 10 item 4: being moved
}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported tracker module, line) for every import statement anywhere in the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tracker" or alias.name.startswith("tracker."):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:  # relative: from . import x, from ..rules import issue
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(up + ([target] if target else []))
            if target != "tracker" and not target.startswith("tracker."):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in MODULES else target), node.lineno


GRAPH: dict[str, set[str]] = {n: {t for t, _ in _imports(n, p)} - {n} for n, p in MODULES.items()}


def layer_of(module: str) -> int:
    """The layer of a tracker module (the longest prefix in LAYERS)."""
    parts = module.split(".")
    for k in range(len(parts), 1, -1):
        key = ".".join(parts[:k])
        if key in LAYERS:
            return LAYERS[key]
    if module == "tracker":  # the package only: a new tracker/x.py must be placed explicitly
        return LAYERS[module]
    raise KeyError(module)


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for m in MODULES:
        try:
            layer_of(m)
        except KeyError:
            unplaced.append(m)
    # A new top-level module or package must be given its place in LAYERS (a base module, a tool ...).
    assert unplaced == []


def test_layers_point_one_way() -> None:
    upward = []
    for m, targets in sorted(GRAPH.items()):
        for t in sorted(targets):
            if t in MODULES and layer_of(t) > layer_of(m) and (m, t) not in ALLOWED:
                line = next(n for x, n in _imports(m, MODULES[m]) if x == t)
                upward.append(f"{m} ({LAYER_NAMES[layer_of(m)]}) imports {t} ({LAYER_NAMES[layer_of(t)]}) "
                              f"at {MODULES[m].relative_to(ROOT.parent)}:{line}")
    assert upward == []


def test_allowed_violations_still_exist() -> None:
    gone = sorted(f"{m} -> {t}" for m, t in ALLOWED if t not in GRAPH.get(m, set()))
    assert gone == [], "remove these from ALLOWED: the upward import is gone"


def _cycle(graph: dict[str, set[str]], nodes: set[str]) -> list[str] | None:
    """One import circle of ``graph`` among ``nodes`` (as a path ending where it starts), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for t in sorted(graph[n] & nodes):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (found := visit(t)) is not None:
                return found
        path.pop()
        state[n] = 2
        return None

    for n in sorted(nodes):
        if n not in state and (found := visit(n)) is not None:
            return found
    return None


def test_no_import_circle_in_centre() -> None:
    centre = {m for m in MODULES if m == "tracker.centre" or m.startswith("tracker.centre.")}
    assert len(centre) > 10
    assert _cycle(GRAPH, centre) is None


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"a"}}, ["a", "a"]),
])
def test_the_circle_finder_finds_circles(graph: dict[str, set[str]], expected: list[str] | None) -> None:
    assert _cycle(graph, set(graph)) == expected


def test_function_local_and_type_checking_imports_count(tmp_path: Path) -> None:
    src = tmp_path / "mod.py"
    src.write_text("from typing import TYPE_CHECKING\n"
                   "if TYPE_CHECKING:\n    from tracker.centre.rollup_steps import RollupResult\n"
                   "def f():\n    from tracker.centre import ledger as LG\n    import tracker.errors\n",
                   encoding="utf-8")
    assert sorted(t for t, _ in _imports("tracker.centre.mod", src)) == [
        "tracker.centre.ledger", "tracker.centre.rollup_steps", "tracker.errors"]
