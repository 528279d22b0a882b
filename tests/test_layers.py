"""Layers point one way: base -> spec -> workbook -> register -> rules -> centre -> cli / add-in.

Every import of a tracker module is read from the source (function-local imports included, since
those are how an upward import hides), so the test needs no import side effects.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import tracker

ROOT = Path(tracker.__file__).resolve().parent

# Layer of each tracker module, by dotted-name prefix (the longest prefix wins). Written out by
# hand: this table *is* the architecture being asserted.
LAYERS: dict[str, int] = {
    "tracker.errors": 0, "tracker.files": 0, "tracker.identifiers": 0, "tracker.issues": 0,
    "tracker.spec": 1,
    "tracker.workbook": 2,
    "tracker.register": 3,
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
