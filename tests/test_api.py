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
