"""Type into a workbook with LibreOffice itself (UNO), as an assessor would, and save it as .xlsx.

The edit runs as a Python macro *inside* a headless soffice started for it (its own user profile,
the macro placed in the profile's ``Scripts/python`` folder, told what to do by a JSON file named
in an environment variable): soffice loads the workbook, unprotects each sheet edited (tracker
protects them without a password), types each text into its cell, saves with Calc's own "Excel
2007-365" filter and quits. No socket, no port, nothing to wait for: the command returns when
LibreOffice has finished.

Needs LibreOffice's Python script provider (Debian: ``libreoffice-script-provider-python``, which
brings ``python3-uno``). Tests using it skip without it, unless TRACKER_REQUIRE_LIBREOFFICE=1
(``.ci/run``), in which case they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from libreoffice import soffice

# Part of LibreOffice's Python script provider (what runs a Python macro).
_PROVIDER = Path("/usr/lib/libreoffice/program/pythonscript.py")

_MACRO = '''
import json, os
import uno
from com.sun.star.beans import PropertyValue


def _prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def run(*_args):
    job = json.load(open(os.environ["TRACKER_UNO_JOB"], encoding="utf-8"))
    desktop = XSCRIPTCONTEXT.getDesktop()
    try:
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(job["src"]), "_blank", 0,
                                           (_prop("Hidden", True),))
        for sheet_name, cell, text in job["edits"]:
            sheet = doc.Sheets.getByName(sheet_name)
            if sheet.isProtected():
                sheet.unprotect("")
            sheet.getCellRangeByName(cell).setString(text)
        doc.storeToURL(uno.systemPathToFileUrl(job["dst"]), (_prop("FilterName", "Calc MS Excel 2007 XML"),))
        doc.close(True)
        with open(job["dst"] + ".done", "w", encoding="utf-8") as f:
            f.write("ok")
    finally:
        desktop.terminate()
'''


def require_uno() -> None:
    """Skip (or, in CI, fail) when LibreOffice cannot run a Python macro."""
    soffice()
    if not _PROVIDER.is_file():
        if os.environ.get("TRACKER_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail("LibreOffice's Python script provider is required here but not installed")
        pytest.skip("LibreOffice's Python script provider (libreoffice-script-provider-python) not installed")


def type_in_libreoffice(src: Path, dst: Path, edits: list[tuple[str, str, str]]) -> Path:
    """``src`` opened in LibreOffice, each (sheet, A1 cell, text) typed in, saved as ``dst`` (.xlsx)."""
    require_uno()
    exe = soffice()
    with tempfile.TemporaryDirectory(prefix="lo-uno-") as tmp:
        profile = Path(tmp) / "profile"
        scripts = profile / "user" / "Scripts" / "python"
        scripts.mkdir(parents=True)
        (scripts / "tracker_edit.py").write_text(_MACRO, encoding="utf-8")
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"src": str(src.absolute()), "dst": str(dst.absolute()), "edits": edits}),
                       encoding="utf-8")
        subprocess.run(
            [exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
             "vnd.sun.star.script:tracker_edit.py$run?language=Python&location=user"],
            check=True, capture_output=True, timeout=180, env={**os.environ, "TRACKER_UNO_JOB": str(job)})
    done = Path(str(dst) + ".done")
    assert done.is_file(), f"LibreOffice did not save {dst}"
    done.unlink()
    return dst
