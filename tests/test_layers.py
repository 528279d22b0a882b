"""Layers point one way: base -> spec -> workbook -> register -> rules -> centre -> cli / add-in;
and tracker.centre has no import circle.

Every import of a tracker module is read from the source (function-local imports included, since
those are how an upward import hides), so the test needs no import side effects. Imports under
``if TYPE_CHECKING:`` count too: a module that names another's types in its annotations depends
on that module's design, and such an import becomes a real one the day the name is needed at run
time.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracker

ROOT = Path(tracker.__file__).resolve().parent

# Layer of each tracker module, by dotted-name prefix (the longest prefix wins). Written out by
# hand: this table *is* the architecture being asserted.
LAYERS: dict[str, int] = {
    "tracker.errors": 0, "tracker.files": 0, "tracker.identifiers": 0, "tracker.issues": 0,
    "tracker.isolation": 0, "tracker.terminal": 0,
    "tracker.spec": 1,
    "tracker.workbook": 2,
    "tracker.register": 3, "tracker.policy": 3,
    "tracker.rules": 4,
    "tracker.centre": 5,
    "tracker.cli": 6, "tracker.addin": 6, "tracker.demo": 6, "tracker.sample": 6, "tracker.docs": 6,
    "tracker.__main__": 6,
}


def _layer(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return None if best is None else best[1]


def _module_name(path: Path) -> str:
    parts = ("tracker", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file (absolute imports only: the package uses no
    relative ones)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            if node.module:
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def _sources() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    missing = [m for m in map(_module_name, _sources()) if m != "tracker" and _layer(m) is None]
    assert missing == []


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for path in _sources():
        mod = _module_name(path)
        own = _layer(mod)
        if own is None:  # the package's public-API facade re-exports from every layer, lazily
            continue
        for imp in _imports(path):
            if imp == "tracker":  # ``tracker.__version__``: package metadata, no layer
                continue
            if imp.startswith("tracker."):
                theirs = _layer(imp)
                assert theirs is not None, f"{mod} imports {imp}, which has no layer"
                if theirs > own:
                    upward.append(f"{mod} -> {imp}")
    assert upward == []


def test_the_issue_base_module_needs_only_the_standard_library() -> None:
    imports = _imports(ROOT / "issues.py")
    outside = {i for i in imports
               if i.split(".")[0] not in sys.stdlib_module_names and i != "__future__"
               and i != "tracker.errors"}
    assert outside == set()


def test_workbook_and_register_do_not_reach_into_the_rules() -> None:
    # The case that motivated the base module, named so a failure says what came back.
    for path in [*sorted((ROOT / "workbook").glob("*.py")), ROOT / "register.py"]:
        assert not {i for i in _imports(path) if i.startswith("tracker.rules")}, path


# -- no import circle in tracker.centre -----------------------------------------------------------


def _resolved_imports(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every tracker module ``module`` imports, with ``from package import submodule`` resolved to
    the submodule (``from tracker.centre import ledger`` is an import of tracker.centre.ledger)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("tracker."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tracker"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                yield sub if sub in known else node.module


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in _sources()}
    known = set(paths)
    return {m: set(_resolved_imports(m, p, known)) - {m} for m, p in paths.items()}


def _cycle(graph: dict[str, set[str]], nodes: set[str]) -> list[str] | None:
    """One import circle of ``graph`` among ``nodes`` (a path ending where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for t in sorted(graph.get(n, set()) & nodes):
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
    graph = _graph()
    centre = {m for m in graph if m == "tracker.centre" or m.startswith("tracker.centre.")}
    assert len(centre) > 10
    assert _cycle(graph, centre) is None


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
    known = {"tracker.centre.ledger", "tracker.centre.rollup_steps", "tracker.errors"}
    assert sorted(_resolved_imports("tracker.centre.mod", src, known)) == sorted(known)
