"""Run LibreOffice headless on a workbook: the real spreadsheet application on Linux.

Each call uses its own user profile so that parallel test workers do not fight over one.
Tests using it skip when soffice is missing, unless TRACKER_REQUIRE_LIBREOFFICE=1 (set by
.ci/run), in which case they fail: CI must prove what openpyxl cannot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def soffice() -> str:
    """Path of soffice, or skip/fail the test."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        if os.environ.get("TRACKER_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail("LibreOffice (soffice) is required here but not installed")
        pytest.skip("LibreOffice (soffice) not installed")
    return exe


def convert(src: Path, out_dir: Path, target: str = "xlsx") -> Path:
    """Open ``src`` in LibreOffice (which recalculates it) and save it as ``target`` in out_dir."""
    exe = soffice()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run(
            [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
             "--convert-to", target, "--outdir", str(out_dir), str(src)],
            check=True, capture_output=True, timeout=180)
    ext = target.split(":")[0]
    out = out_dir / f"{src.stem}.{ext}"
    assert out.exists(), f"LibreOffice did not write {out}"
    return out
