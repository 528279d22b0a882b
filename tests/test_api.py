"""The public API of the package: every name resolves, and importing tracker stays cheap."""

from __future__ import annotations

import subprocess
import sys

import tracker


def test_public_names_resolve() -> None:
    for name in tracker.__all__:
        assert getattr(tracker, name) is not None


def test_import_is_cheap() -> None:
    code = "import sys, tracker; print(' '.join(m for m in ('openpyxl', 'pandas', 'xlsxwriter', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_centre_names_stay_functions_once_every_module_is_imported() -> None:
    # A submodule named like a public name (tracker/centre/rollup.py) would replace the function
    # on the package as soon as anything imported it.
    code = ("import importlib, pkgutil, types, tracker.centre as C\n"
            "for m in pkgutil.iter_modules(C.__path__): importlib.import_module('tracker.centre.' + m.name)\n"
            "print(' '.join(n for n in C.__all__ if isinstance(getattr(C, n), types.ModuleType)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
