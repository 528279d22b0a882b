"""A returned workbook that carries xlwings settings or code is reported by ``tracker validate``
and the roll-up, and nothing of it reaches what the roll-up writes (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fixtures import L2, complete_record, validate, write
from test_centre_sample import items, make_centre, master_cells, roll, sheet_dicts

from tracker.rules.checks.addin import ADDIN_CODE, ADDIN_SETTINGS

# What an attacker would put on the sheet: the interpreter xlwings' VBA would start.
PAYLOAD = "C:\\Users\\Public\\evil.exe"


def add_sheet(path: Path, name: str, state: str = "visible") -> Path:
    """``path`` with a sheet ``name`` holding xlwings settings, in the given visibility."""
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet(name)
    ws["A1"], ws["B1"] = "INTERPRETER_WIN", PAYLOAD
    ws["A2"], ws["B2"] = "PYTHONPATH", "C:\\Users\\Public"
    ws.sheet_state = state
    wb.save(path)
    return path


def codes(path: Path) -> list[tuple[str, str | None]]:
    return sorted((i.code, i.sheet) for i in validate(path).issues if i.code.startswith("structure-addin"))


@pytest.mark.parametrize("name, state", [
    ("xlwings.conf", "veryHidden"),  # the way an attacker would hide it: only the VBA editor shows it
    ("XLWINGS.CONF", "hidden"),  # Excel finds sheet names in any letter case
    ("_xlwings.conf", "visible"),
    ("myaddin.conf", "visible"),  # the settings sheet of any xlwings add-in named myaddin
])
def test_a_settings_sheet_is_an_error(tmp_path: Path, name: str, state: str) -> None:
    p = add_sheet(write(tmp_path, L2, complete_record(L2, "face-to-face")), name, state)
    assert codes(p) == [(ADDIN_SETTINGS.code, name)]
    issue = next(i for i in validate(p).issues if i.code == ADDIN_SETTINGS.code)
    assert issue.severity.value == "error"
    assert issue.message == f"This workbook carries add-in settings (sheet '{name}'); they were not used"


def test_a_python_code_sheet_is_an_error(tmp_path: Path) -> None:
    p = add_sheet(write(tmp_path, L2, complete_record(L2, "face-to-face")), "module.py", "veryHidden")
    assert codes(p) == [(ADDIN_CODE.code, "module.py")]


def test_an_ordinary_workbook_carries_none(tmp_path: Path) -> None:
    # Catches a check that fires on every workbook (or on names merely containing "conf" / "py").
    p = add_sheet(write(tmp_path, L2, complete_record(L2, "face-to-face")), "conf notes.pyramid")
    assert codes(p) == []


def test_tracker_validate_reports_it_and_fails(tmp_path: Path) -> None:
    p = add_sheet(write(tmp_path, L2, complete_record(L2, "face-to-face")), "xlwings.conf", "veryHidden")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    done = subprocess.run([sys.executable, "-m", "tracker", "validate", "--today", "2025-06-30", str(p)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "carries add-in settings (sheet 'xlwings.conf'); they were not used [structure-addin-settings]" \
        in done.stdout


def test_the_roll_up_reports_it_and_copies_nothing_of_it(tmp_path: Path) -> None:
    from tracker.workbook.writer import new_workbook

    c = make_centre(tmp_path / "centre")
    q, s, rec = items(1)[0]
    p = add_sheet(new_workbook(q, rec, c.inbox / "return.xlsx"), "xlwings.conf", "veryHidden")
    result = roll(c)
    assert [f.outcome for f in result.files] == ["merged"]  # the learner's data still counts
    issues = [x for x in sheet_dicts(c.master, "Issues") if x["Code"] == ADDIN_SETTINGS.code]
    assert [(x["Severity"], x["File"]) for x in issues] == [("error", p.name)]
    cells: dict[str, list[tuple[Any, ...]]] = master_cells(c.master)
    assert not [n for n in cells if n.casefold().endswith(".conf")]
    assert not [v for rows in cells.values() for row in rows for v in row
                if isinstance(v, str) and (PAYLOAD in v or v == "INTERPRETER_WIN")]
