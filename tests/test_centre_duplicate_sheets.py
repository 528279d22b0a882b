"""Nothing dropped from a workbook: a unit sheet that appears twice (Excel's Move or Copy puts the
copy *before* the original) is read on both copies when the roll-up takes the file.

Oracle: the values typed by hand on one copy or the other (openpyxl, as Excel's copy would be),
and the rows `check_returned` hands to the merge.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from fixtures import at, record, write

from tracker.centre.check import CheckContext, Job, check_returned
from tracker.centre.ledger import ENTRY_FIELDS
from tracker.spec.catalogue import load_qualification
from tracker.workbook import layout as L

L2 = load_qualification("603/4687/5")
REF = "K1.1"
CTX = CheckContext(extra_dirs=(), readings={}, register=None, today=dt.date(2026, 3, 1))


def _with_copy(tmp: Path, work_on: dict[str, str | None]) -> Path:
    """A blank-for-K1.1 workbook whose unit-1 sheet is copied before the original (as Excel's
    Move or Copy does); ``work_on``: sheet role ('copy' / 'original') -> the decision typed there."""
    path = write(tmp, L2, record({}))
    sheet, cell = at(L2, REF, "decision")
    wb = openpyxl.load_workbook(path)
    original = wb[sheet]
    copy = wb.copy_worksheet(original)
    copy.title = f"{sheet} (2)"
    wb.move_sheet(copy, offset=wb.index(original) - wb.index(copy))  # before the original
    assert wb.sheetnames.index(copy.title) < wb.sheetnames.index(sheet)
    for role, ws in (("copy", copy), ("original", original)):
        value = work_on.get(role)
        if value is not None:
            ws[cell].value = value
            ws[cell].data_type = "s"
    wb.save(path)
    return path


def _checked(path: Path) -> tuple[dict[str, tuple[str | None, ...]], list[tuple[str, str | None, str | None]]]:
    res = check_returned(Job("h", str(path), path.name), CTX)
    assert res.status == "ok", res.reason
    rows = {ref: values for ref, _u, values, _s in res.rows}
    return rows, [(i.code, i.sheet, i.cell) for i in res.issues if i.code == "tamper-copies-disagree"]


@pytest.mark.parametrize("role", ["copy", "original"])
def test_work_on_only_one_copy_is_taken_from_it(tmp_path: Path, role: str) -> None:
    rows, disagree = _checked(_with_copy(tmp_path, {role: L.MET}))
    assert rows[REF][ENTRY_FIELDS.index("decision")] == L.MET
    assert disagree == []


def test_same_work_on_both_copies_is_taken(tmp_path: Path) -> None:
    rows, disagree = _checked(_with_copy(tmp_path, {"copy": L.MET, "original": "met "}))
    assert rows[REF][ENTRY_FIELDS.index("decision")] == L.MET and disagree == []


def test_copies_that_disagree_are_an_error_at_both_cells_and_merge_nothing(tmp_path: Path) -> None:
    res = check_returned(Job("h", str(p := _with_copy(tmp_path, {"copy": L.MET, "original": L.NOT_YET_MET})),
                             p.name), CTX)
    sheet, cell = at(L2, REF, "decision")
    found = sorted((i.sheet, i.cell) for i in res.issues if i.code == "tamper-copies-disagree")
    assert found == sorted([(sheet, cell), (f"{sheet} (2)", cell)])
    (row,) = [r for r in res.rows if r[0] == REF]
    assert row[2] == (None,) * len(ENTRY_FIELDS) and row[3] == frozenset(range(len(ENTRY_FIELDS)))  # says nothing


def test_header_twice_is_an_error_naming_both_columns_and_neither_is_merged(tmp_path: Path) -> None:
    """A hidden column headed Decision beside the visible one: neither is preferred silently."""
    from fixtures import col

    path = write(tmp_path, L2, record({}))
    sheet, cell = at(L2, REF, "decision")
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    extra = len(L.UNIT_TABLE_COLUMNS) + 1  # 1-based: the first column after the table
    ws.cell(row=L.UNIT_FIRST_DATA_ROW, column=extra, value="Decision")  # the header row is just above the data
    ws[cell].value = L.NOT_YET_MET
    ws.cell(row=ws[cell].row, column=extra, value=L.MET)
    letter = openpyxl.utils.get_column_letter(extra)
    ws.column_dimensions[letter].hidden = True
    wb.save(path)
    res = check_returned(Job("h", str(path), path.name), CTX)
    (issue,) = [i for i in res.issues if i.code == "structure-header-twice"]
    visible = openpyxl.utils.get_column_letter(col("decision") + 1)
    assert f"columns {visible} and {letter}" in issue.message and issue.sheet == sheet
    (row,) = [r for r in res.rows if r[0] == REF]
    i = ENTRY_FIELDS.index("decision")
    assert row[2][i] is None and i in row[3]  # the decision says nothing: the accepted value stays


def _issues(found: list[object]) -> list[tuple[str, str | None, str | None, str]]:
    return sorted((i.code, i.sheet, i.cell, i.message) for i in found)  # type: ignore[attr-defined]


@pytest.mark.parametrize("work_on", [{"original": L.MET}, {"copy": L.MET, "original": L.NOT_YET_MET}])
def test_validate_reports_exactly_what_the_rollup_reports_for_a_copied_sheet(
        tmp_path: Path, work_on: dict[str, str | None]) -> None:
    from tracker.rules.engine import validate_file

    path = _with_copy(tmp_path, work_on)
    rolled = check_returned(Job("h", str(path), path.name), CTX).issues
    validated = validate_file(path, today=CTX.today).issues
    assert _issues(validated) == _issues(rolled)
    sheet, cell = at(L2, REF, "decision")
    codes = {(i.code, i.sheet) for i in validated}
    assert ("tamper-unit-duplicate", sheet) in codes  # the later sheet holds the unit again
    disagree = sorted((i.sheet, i.cell) for i in validated if i.code == "tamper-copies-disagree")
    assert disagree == ([] if len(work_on) == 1 else sorted([(sheet, cell), (f"{sheet} (2)", cell)]))
    if len(work_on) == 1:
        # The work on the original (the later sheet, which holds the unit again) is what validate checks:
        # K1.1 Met without an assessor is reported there, not on the blank copy.
        met = {i.sheet for i in validated if i.criterion == REF and i.code.startswith("completion-met")}
        assert met == {sheet}


def test_validate_reports_exactly_what_the_rollup_reports_for_a_header_twice(tmp_path: Path) -> None:
    from tracker.rules.engine import validate_file

    path = write(tmp_path, L2, record({}))
    sheet, _cell = at(L2, REF, "decision")
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    ws.cell(row=L.UNIT_FIRST_DATA_ROW, column=len(L.UNIT_TABLE_COLUMNS) + 1, value="Decision")
    wb.save(path)
    rolled = check_returned(Job("h", str(path), path.name), CTX).issues
    validated = validate_file(path, today=CTX.today).issues
    assert _issues(validated) == _issues(rolled)
    assert [i.code for i in validated if i.code == "structure-header-twice"] == ["structure-header-twice"]
