"""Fuzzing: valid learner workbooks, mutated at random, never make the reader or validator crash.

Two levels:

* grids (many examples, fast): a real workbook is read once into grids of values, as calamine
  gives them; hypothesis then changes cell values (every Python type calamine can return,
  formula-looking text, error values, garbage dates, huge numbers), header cells, sheet names
  (renamed, deleted, re-ordered), and rows (deleted, duplicated, swapped, cut short), and
  :func:`read_grids` + :func:`check_workbook` must return a Task;
* files (a few examples, slow): the same kinds of change made with openpyxl and saved, then
  :func:`read_workbook` + :func:`check_workbook` must return a Task or raise
  :class:`UnreadableWorkbook` -- never anything else.

"Never anything else" includes the engine's safety net: a check that raises is turned into an
``internal-check-failed`` issue, and a reader defect into ``internal-error``; both count as crashes
here.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import UnreadableWorkbook
from tracker.issues import Task
from tracker.rules.engine import check_workbook
from tracker.workbook import layout as L
from tracker.workbook.model import CellError
from tracker.workbook.reader import read_grids, read_workbook

CORPUS_DIR = Path(__file__).parent / "corpus"
TODAY = dt.date(2025, 6, 30)
CRASH_CODES = {"internal-check-failed", "internal-error"}


from corpus import make_corpus as mc  # tests/ is on sys.path (pytest rootdir-relative import)


def _grids_of(xlsx: bytes) -> tuple[list[str], dict[str, list[list[Any]]]]:
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(xlsx))
    names = list(wb.sheet_names)
    grids = {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in names}
    wb.close()
    return names, grids


_BASE_XLSX = mc.learner_xlsx()
_BASE = _grids_of(_BASE_XLSX)


def _assert_sound(task: object) -> None:
    assert isinstance(task, Task)
    codes = {i.code for i in task.issues}
    assert not codes & CRASH_CODES, [i.message for i in task.issues if i.code in CRASH_CODES]
    for i in task.issues:
        assert i.message.strip(), i


# --------------------------------------------------------------------------------------------
# What a cell may hold
# --------------------------------------------------------------------------------------------

_FORMULA_TEXT = st.sampled_from([
    "=1+1", "=TODAY()", "=A1", '=HYPERLINK("http://example.invalid","x")', "+cmd|' /C calc'!A0",
    "-2+3", "@SUM(1)", "=#REF!", "=", "==", "'=quoted",
])
_ERROR_TEXT = st.sampled_from(["#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NUM!", "#NULL!",
                               "#SPILL!", "#CALC!", "#GETTING_DATA"])
_DATE_TEXT = st.sampled_from([
    "31/02/2024", "00/00/0000", "1/1/1", "2024-13-01", "29/02/2023", "yesterday", "TBC", "n/a",
    "12/10/24", "2024-10-05T25:61:00", "5th Octobre 2024", "5 Oct 2024", "05.10.2024", "9999-12-31",
    "0001-01-01", "  ", "\t", "31/12/99999",
])
_DROPDOWN_TEXT = st.sampled_from([*L.DECISIONS, *L.METHODS, *L.YES_NO, *L.IQA_DECISIONS, "MET", "met ",
                                  " not YET met", "yes", "Referred Back", "Met; Not yet met"])
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
VALUES = st.one_of(
    st.none(), st.just(""), _TEXT, _FORMULA_TEXT, _ERROR_TEXT, _ERROR_TEXT.map(CellError), _DATE_TEXT,
    _DROPDOWN_TEXT,
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 45566.0, 45566.75, 2958465.0, 2958466.0, 1e308, -1.5, math.nan]),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.times(), st.timedeltas(min_value=dt.timedelta(days=-10**6), max_value=dt.timedelta(days=10**6)),
    st.text(min_size=300, max_size=2000),
)
HEADER_TEXT = st.one_of(
    st.sampled_from([c.header for c in L.UNIT_TABLE_COLUMNS]),
    st.sampled_from(["Outcome", "decision", " DECISION ", "Ref.", "Evidence  refs", "", "Assessor date "]),
    VALUES,
)
SHEET_NAME = st.one_of(
    st.sampled_from(["Unit 1", "Unit 2", "Cover", "Evidence", "_tracker", "Summary", "Unit 99",
                     "Μονάδα 3", "Sheet1", "unit 1", "Validation"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="[]:*?/\\"),
            min_size=1, max_size=31),
)

# --------------------------------------------------------------------------------------------
# Mutations on grids
# --------------------------------------------------------------------------------------------


@st.composite
def mutation(draw: st.DrawFn) -> tuple[Any, ...]:
    kind = draw(st.sampled_from(["cell", "cell", "cell", "table_cell", "table_cell", "header", "rename",
                                 "delete_sheet", "move_sheet", "delete_row", "duplicate_row", "swap_rows",
                                 "cut_grid", "ragged_row", "meta", "cover"]))
    idx = draw(st.integers(min_value=0, max_value=10**6))
    r = draw(st.integers(min_value=0, max_value=80))
    c = draw(st.integers(min_value=0, max_value=20))
    if kind in ("cell", "table_cell", "meta", "cover"):
        return (kind, idx, r, c, draw(VALUES))
    if kind == "header":
        return (kind, idx, r, c, draw(HEADER_TEXT))
    if kind == "rename":
        return (kind, idx, r, c, draw(SHEET_NAME))
    return (kind, idx, r, c, None)


def _set(grid: list[list[Any]], r: int, c: int, value: Any) -> None:
    while len(grid) <= r:
        grid.append([])
    row = grid[r]
    if len(row) <= c:
        row.extend([""] * (c + 1 - len(row)))
    row[c] = value


def apply(names: list[str], grids: dict[str, list[list[Any]]], m: tuple[Any, ...]) -> None:
    kind, idx, r, c, value = m
    if not names:
        return
    name = names[idx % len(names)]
    grid = grids[name]
    if kind == "cell":
        _set(grid, r, c, value)
    elif kind == "table_cell":  # inside the criterion table, where it matters most
        _set(grid, mc.UNIT_HEADER_ROW + r % 6, c % 15, value)
    elif kind == "header":
        _set(grid, mc.UNIT_HEADER_ROW - 1, c % 16, value)
    elif kind == "rename":
        if value not in grids:
            grids[value] = grids.pop(name)
            names[names.index(name)] = value
    elif kind == "delete_sheet":
        names.remove(name)
        del grids[name]
    elif kind == "move_sheet":
        names.remove(name)
        names.insert(r % (len(names) + 1), name)
    elif grid and kind == "delete_row":
        del grid[r % len(grid)]
    elif grid and kind == "duplicate_row":
        i = r % len(grid)
        grid.insert(i, list(grid[i]))
    elif grid and kind == "swap_rows":
        i, j = r % len(grid), (r + c + 1) % len(grid)
        grid[i], grid[j] = grid[j], grid[i]
    elif kind == "cut_grid":
        del grid[r % (len(grid) + 1):]
    elif grid and kind == "ragged_row":
        row = grid[r % len(grid)]
        del row[c % (len(row) + 1):]
    elif kind == "meta" and L.META in grids:
        meta = grids[L.META]
        if meta:
            _set(meta, 1 + r % max(1, len(meta) - 1), 1, value)
    elif kind == "cover" and L.COVER in grids:
        _set(grids[L.COVER], 2 + r % 12, 1, value)


def _copy(base: tuple[list[str], dict[str, list[list[Any]]]]) -> tuple[list[str], dict[str, list[list[Any]]]]:
    names, grids = base
    return list(names), {n: [list(row) for row in g] for n, g in grids.items()}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation(), min_size=1, max_size=8))
def test_mutated_grids_never_crash_the_reader_or_the_checks(mutations: list[tuple[Any, ...]]) -> None:
    names, grids = _copy(_BASE)
    for m in mutations:
        apply(names, grids, m)
    try:
        book = read_grids(Path("fuzz.xlsx"), names, grids)
    except UnreadableWorkbook as e:
        assert "\n" not in str(e)
        return
    _assert_sound(check_workbook(book, today=TODAY))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 13), VALUES), min_size=1, max_size=20))
def test_any_values_in_the_criterion_rows(cells: list[tuple[int, int, Any]]) -> None:
    # Concentrated on the first unit's rows and every input column.
    names, grids = _copy(_BASE)
    grid = grids[mc.UNIT1_SHEET]
    for row, col, value in cells:
        _set(grid, mc.UNIT1_FIRST_ROW - 1 + row, col, value)
    _assert_sound(check_workbook(read_grids(Path("fuzz.xlsx"), names, grids), today=TODAY))


# --------------------------------------------------------------------------------------------
# Mutations on files (openpyxl), fewer: each costs a load and a save
# --------------------------------------------------------------------------------------------


@st.composite
def file_edit(draw: st.DrawFn) -> tuple[Any, ...]:
    kind = draw(st.sampled_from(["cell", "cell", "header", "rename", "delete_sheet", "delete_rows",
                                 "insert_rows", "move_rows"]))
    value = draw(st.one_of(st.none(), _TEXT, _FORMULA_TEXT, _ERROR_TEXT, _DATE_TEXT, _DROPDOWN_TEXT,
                           st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False),
                           st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31))))
    return (kind, draw(st.integers(0, 10**6)), draw(st.integers(1, 20)), draw(st.integers(1, 16)), value,
            draw(SHEET_NAME))


def _edit_file(wb: Any, edit: tuple[Any, ...]) -> None:
    kind, idx, r, c, value, name = edit
    ws = wb.worksheets[idx % len(wb.worksheets)]
    if kind == "cell":
        ws.cell(row=mc.UNIT_HEADER_ROW + r % 6, column=c, value=value)
    elif kind == "header":
        ws.cell(row=mc.UNIT_HEADER_ROW, column=c, value=value)
    elif kind == "rename" and name not in wb.sheetnames:
        ws.title = name
    elif kind == "delete_sheet" and len(wb.worksheets) > 1:
        wb.remove(ws)
    elif kind == "delete_rows":
        ws.delete_rows(mc.UNIT_HEADER_ROW + r % 5, 1 + c % 3)
    elif kind == "insert_rows":
        ws.insert_rows(mc.UNIT_HEADER_ROW + r % 5, 1 + c % 3)
    elif kind == "move_rows":
        ws.move_range(f"A{mc.UNIT_HEADER_ROW + 1}:O{mc.UNIT_HEADER_ROW + 2}", rows=1 + r % 3)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(file_edit(), min_size=1, max_size=6))
def test_workbooks_edited_in_openpyxl_never_crash(tmp_path: Path, edits: list[tuple[Any, ...]]) -> None:
    import openpyxl
    from openpyxl.utils.exceptions import IllegalCharacterError

    wb = openpyxl.load_workbook(io.BytesIO(_BASE_XLSX))
    for e in edits:
        try:
            _edit_file(wb, e)
        except (ValueError, IllegalCharacterError):
            pass  # openpyxl refused the edit itself (a control character, a bad sheet title)
    path = tmp_path / "edited.xlsx"
    try:
        wb.save(path)
    except (ValueError, TypeError, AttributeError):
        # openpyxl could not write it (an AttributeError from its cell writer, seen when an edit
        # leaves a number where it expects a formula's text): nothing to read
        return
    try:
        book = read_workbook(path)
    except UnreadableWorkbook as e:
        assert "\n" not in str(e) and path.name in str(e)
        return
    _assert_sound(check_workbook(book, today=TODAY))


def test_messages_stay_on_one_line_when_the_file_holds_line_breaks() -> None:
    names, grids = _copy(_BASE)
    meta = grids[L.META]
    row = next(i for i, r in enumerate(meta) if r and r[0] == "spec_version")
    meta[row][1] = "0\n0"
    _set(grids[mc.UNIT1_SHEET], mc.UNIT1_FIRST_ROW - 1, 6, "Met\nor not")
    task = check_workbook(read_grids(Path("fuzz.xlsx"), names, grids), today=TODAY)
    _assert_sound(task)
    assert [i.message for i in task.issues if "\n" in i.message] == []
