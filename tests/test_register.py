"""The centre register: a blank one with dropdowns, reading good and bad rows, lookups, the command."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from fixtures import norm

from tracker.errors import UnreadableWorkbook
from tracker.register import (
    INTEREST_COLUMNS,
    INTERESTS_SHEET,
    STAFF_COLUMNS,
    STAFF_SHEET,
    STATUSES,
    Interest,
    Register,
    StaffMember,
    new_register,
    read_register,
)
from tracker.workbook.layout import cell_ref

S = {c.key: i for i, c in enumerate(STAFF_COLUMNS)}
I = {c.key: i for i, c in enumerate(INTEREST_COLUMNS)}


def _fill(path: Path, staff: list[dict[str, object]], interests: list[dict[str, object]]) -> Path:
    wb = openpyxl.load_workbook(path)
    for sheet, rows, cols in ((STAFF_SHEET, staff, S), (INTERESTS_SHEET, interests, I)):
        ws = wb[sheet]
        for r, row in enumerate(rows, start=2):
            for k, v in row.items():
                ws.cell(row=r, column=cols[k] + 1).value = v
    wb.save(path)
    return path


def test_new_register_has_headers_and_dropdowns(tmp_path: Path) -> None:
    p = new_register(tmp_path / "register.xlsx")
    wb = openpyxl.load_workbook(p)
    # The blank register has the optional apprenticeship standards sheet too (empty).
    assert wb.sheetnames == [STAFF_SHEET, INTERESTS_SHEET, "Apprenticeship standards"]
    assert [c.value for c in wb[STAFF_SHEET][1]] == [c.header for c in STAFF_COLUMNS]
    assert [c.value for c in wb[INTERESTS_SHEET][1]] == [c.header for c in INTEREST_COLUMNS]
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in wb[STAFF_SHEET].data_validations.dataValidation
             if dv.type == "list"}
    status = cell_ref(1, S["assessor_status"])
    assert lists[status] == '"' + ",".join(STATUSES) + '"'
    assert STAFF_SHEET in lists[cell_ref(1, S["countersigner"])]  # names from the Staff sheet
    reg, issues = read_register(p)
    assert (reg.staff, reg.interests, issues) == ({}, [], [])


def test_read_good_and_bad_rows(tmp_path: Path) -> None:
    p = _fill(new_register(tmp_path / "r.xlsx"), staff=[
        {"name": "Ann Assessor", "roles": "assessor, tutor", "assessor_status": "Held"},
        {"name": "Tia Trainee", "roles": "Assessor", "assessor_status": "working towards",
         "countersigner": "ann  assessor"},
        {"name": "Ian Iqa", "roles": "IQA; Lead IQA", "iqa_status": "HELD"},
        {"roles": "assessor", "assessor_status": "Held"},                      # no name
        {"name": "ANN ASSESSOR", "roles": "tutor"},                             # duplicate
        {"name": "Wes Wrong", "roles": "assessor, manager", "assessor_status": "Maybe"},  # unknown role, status
        {"name": "Nia Norole"},                                                # no role
        {"name": "Cal Counter", "roles": "assessor", "assessor_status": "Working towards",
         "countersigner": "Ghost Person"},                                     # countersigner unknown
    ], interests=[
        {"staff": "Ian Iqa", "learner": 1000000043, "nature": "cousin", "declared": dt.datetime(2024, 2, 1)},
        {"staff": "Ann Assessor", "learner": "Bob Learner", "nature": "neighbour", "declared": "last year"},
        {"staff": "Stranger Danger", "learner": "Bob Learner", "nature": "friend"},
        {"staff": "Ann Assessor", "nature": "friend"},                         # no learner
    ])
    reg, issues = read_register(p)
    got = norm((i.code, i.sheet, i.cell) for i in issues)
    assert got == norm([
        ("register-name-missing", STAFF_SHEET, cell_ref(4, S["name"])),
        ("register-duplicate-staff", STAFF_SHEET, cell_ref(5, S["name"])),
        ("register-unknown-role", STAFF_SHEET, cell_ref(6, S["roles"])),
        ("register-bad-status", STAFF_SHEET, cell_ref(6, S["assessor_status"])),
        ("register-no-role", STAFF_SHEET, cell_ref(7, S["roles"])),
        ("register-countersigner-unknown", STAFF_SHEET, cell_ref(8, S["countersigner"])),
        ("register-date-unparseable", INTERESTS_SHEET, cell_ref(2, I["declared"])),
        ("register-interest-staff-unknown", INTERESTS_SHEET, cell_ref(3, I["staff"])),
        ("register-interest-incomplete", INTERESTS_SHEET, cell_ref(4, I["learner"])),
    ])
    assert all(i.file == str(p) for i in issues)
    dup = next(i for i in issues if i.code == "register-duplicate-staff")
    assert dup.message == "ANN ASSESSOR is listed twice (rows 2 and 6); only row 2 is used"
    ann = reg.member("  ann ASSESSOR ")
    assert ann is not None and ann.roles == {"assessor", "tutor"} and ann.qualified_assessor
    tia = reg.member("Tia Trainee")
    assert tia is not None and tia.trainee_assessor and tia.countersigner == "ann assessor"
    ian = reg.member("ian iqa")
    assert ian is not None and ian.is_iqa and ian.roles == {"IQA", "lead IQA"} and ian.iqa_status == "Held"
    wes = reg.member("Wes Wrong")
    assert wes is not None and wes.roles == {"assessor"} and wes.assessor_status == "None"
    assert reg.member("Nobody") is None
    assert [i.staff for i in reg.interests_for("1000000043", "Someone")] == ["Ian Iqa"]
    assert [i.staff for i in reg.interests_for("", "bob learner")] == ["Ann Assessor", "Stranger Danger"]
    assert reg.interests[0].declared == dt.date(2024, 2, 1)


def test_columns_found_by_header_in_any_order(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "People"
    ws.append(["Notes", "roles", "NAME", "Assessor status"])
    ws.append(["x", "assessor", "Ann Assessor", "Held"])
    p = tmp_path / "moved.xlsx"
    wb.save(p)
    reg, issues = read_register(p)
    assert reg.member("Ann Assessor") == StaffMember("Ann Assessor", frozenset({"assessor"}), "", "Held", "", None,
                                                     None, 2)
    assert norm((i.code, i.sheet, i.cell) for i in issues) == [("register-columns-missing", "People", None)]


def test_no_staff_sheet(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["Something", "else"])
    p = tmp_path / "empty.xlsx"
    wb.save(p)
    reg, issues = read_register(p)
    assert [(i.code, i.sheet) for i in issues] == [("register-sheet-missing", STAFF_SHEET)]
    assert reg.staff == {}


def test_unreadable_register_raises(tmp_path: Path) -> None:
    p = tmp_path / "r.xlsx"
    p.write_text("not a workbook")
    with pytest.raises(UnreadableWorkbook):
        read_register(p)


def test_register_of_keeps_the_first_of_each_name() -> None:
    reg = Register.of([StaffMember("A B", frozenset({"tutor"})), StaffMember("a  b", frozenset({"IQA"}))],
                      [Interest("A B", "1000000043")])
    m = reg.member("A B")
    assert m is not None and m.roles == {"tutor"}
    assert len(reg.interests_for("1000000043", None)) == 1


def _tracker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True, text=True, timeout=120)


def test_register_commands(tmp_path: Path) -> None:
    out = tmp_path / "centre" / "register.xlsx"
    r = _tracker("register", "new", str(out))
    assert r.returncode == 0, r.stderr
    assert out.is_file()
    r = _tracker("register", "new", str(out))
    assert r.returncode == 2 and "already exists" in r.stderr
    r = _tracker("register", "check", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    _fill(out, staff=[{"name": "Ann", "roles": "boss"}], interests=[])
    r = _tracker("register", "check", str(out))
    assert r.returncode == 1
    assert "[register-unknown-role]" in r.stdout
