"""Columns an assessor adds to a table are kept: read, stored with the row in the ledger, listed
in the export, written back by `tracker issue` in the same place, merged without conflicts.

The assessor's edit is made by LibreOffice itself (UNO: tests/uno_edit.py): a header typed into
the blank header cell right of Unit 1's criterion table and of the evidence log, values typed
under it, saved as .xlsx. Oracles: the texts typed here, the cells they were typed in (read back
with openpyxl, an independent reader), and the merge rules' expected results written out below.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fixtures import at, record, signed, write
from test_centre_sample import make_centre, query, roll
from uno_edit import type_in_libreoffice

from tracker.centre.export_tables import export
from tracker.centre.folder import Centre
from tracker.centre.merge_rules import merge_extra
from tracker.centre.reissue import issue_workbooks
from tracker.spec.catalogue import load_qualification
from tracker.workbook import layout as L
from tracker.workbook.reader import read_workbook

L2 = load_qualification("603/4687/5")
UNIT1 = L.unit_sheet_name(1)
# The first blank header cell right of each table as tracker writes it: the criterion table runs
# A..Q (16 contract columns and Required), the evidence log A..E.
TABLE_EXTRA = f"R{L.UNIT_TABLE_HEADER_ROW + 1}"
EVIDENCE_EXTRA = f"F{L.EVIDENCE_HEADER_ROW + 1}"
_clock = [dt.datetime(2026, 3, 1, 9, 0).timestamp()]


def _deliver(c: Centre, path: Path, name: str) -> None:
    dst = c.inbox / name
    shutil.copyfile(path, dst)
    _clock[0] += 60
    os.utime(dst, (_clock[0], _clock[0]))


def _row_cell(ref: str) -> str:
    """Column R of criterion ``ref``'s row on Unit 1."""
    return "R" + at(L2, ref, "decision")[1][1:]


def _extra(c: Centre, ref: str) -> Any:
    (x,) = query(c, "SELECT extra FROM criteria WHERE ref = ?", ref)
    return None if x[0] is None else json.loads(x[0])


@pytest.fixture()
def issued(tmp_path: Path) -> tuple[Centre, Path]:
    """A centre holding one learner (K1.1 and K1.2 signed off), re-issued once."""
    c = make_centre(tmp_path / "centre")
    first = write(tmp_path, L2, record({"K1.1": signed(L2, "K1.1", 1), "K1.2": signed(L2, "K1.2", 2)}))
    _deliver(c, first, "first.xlsx")
    roll(c)
    (w,) = issue_workbooks(c).workbooks
    return c, Path(shutil.copy(w.path, tmp_path / "issued.xlsx"))


def test_columns_typed_in_libreoffice_are_kept_through_the_round_trip(issued: tuple[Centre, Path],
                                                                      tmp_path: Path) -> None:
    c, path = issued
    evidence_row = L.EVIDENCE_HEADER_ROW + 2  # the first evidence log row (E1)
    worked = type_in_libreoffice(path, tmp_path / "worked.xlsx", [
        (UNIT1, TABLE_EXTRA, "Assessor comments"),
        (UNIT1, _row_cell("K1.1"), "Strong answer"),
        (UNIT1, _row_cell("K1.3"), "Observe again in May"),  # a row with no other entry yet
        (L.EVIDENCE, EVIDENCE_EXTRA, "Page"),
        (L.EVIDENCE, f"F{evidence_row}", "p. 12"),
    ])
    # Read: the reader keeps the added column with each row.
    book = read_workbook(worked)
    (unit1,) = [u for u in book.units if u.sheet == UNIT1]
    assert unit1.extra_columns == ["Assessor comments"]
    assert book.to_record().entries["K1.1"].extra == (("Assessor comments", "Strong answer"),)
    # Stored with the row in the ledger.
    _deliver(c, worked, "worked.xlsx")
    result = roll(c)
    assert [f.outcome for f in result.files] == ["merged"]
    assert _extra(c, "K1.1") == {"Assessor comments": "Strong answer"}
    assert _extra(c, "K1.3") == {"Assessor comments": "Observe again in May"}
    assert _extra(c, "K1.2") is None
    # Listed in the export: a JSON object in JSON, the same object as JSON text in CSV.
    (crit_json, _) = export(c, "json", tmp_path / "json")
    rows = {r["ref"]: r for r in json.loads(crit_json.read_text(encoding="utf-8"))}
    assert rows["K1.1"]["extra"] == {"Assessor comments": "Strong answer"}
    assert rows["K1.2"]["extra"] is None
    (crit_csv, _) = export(c, "csv", tmp_path / "csv")
    with open(crit_csv, encoding="utf-8", newline="") as f:
        by_ref = {r["ref"]: r for r in csv.DictReader(f)}
    assert json.loads(by_ref["K1.3"]["extra"]) == {"Assessor comments": "Observe again in May"}
    assert by_ref["K1.2"]["extra"] == ""
    # Written back by `tracker issue` in the same place (checked with openpyxl).
    (again,) = issue_workbooks(c, out=tmp_path / "again").workbooks
    wb = openpyxl.load_workbook(again.path)
    assert wb[UNIT1][TABLE_EXTRA].value == "Assessor comments"
    assert wb[UNIT1][_row_cell("K1.1")].value == "Strong answer"
    assert wb[UNIT1][_row_cell("K1.3")].value == "Observe again in May"
    assert wb[UNIT1][_row_cell("K1.2")].value is None
    assert wb[L.EVIDENCE][EVIDENCE_EXTRA].value == "Page"
    assert wb[L.EVIDENCE][f"F{evidence_row}"].value == "p. 12"
    # The added column stays open for more work (its cells unlocked on the protected sheet, like
    # every input column: blank ones by the column format, which openpyxl does not show per cell).
    assert wb[UNIT1].protection.sheet and wb[UNIT1][_row_cell("K1.1")].protection.locked is False
    # And the written-back workbook reads back the same.
    back = read_workbook(again.path).to_record()
    assert back.entries["K1.1"].extra == (("Assessor comments", "Strong answer"),)
    assert back.unit_extra_columns == {1: ("Assessor comments",)}
    assert back.evidence[0].extra == (("Page", "p. 12"),)


def _with(path: Path, dst: Path, cells: dict[tuple[str, str], Any]) -> Path:
    wb = openpyxl.load_workbook(path)
    for (sheet, cell), v in cells.items():
        wb[sheet][cell].value = v
    wb.save(dst)
    return dst


def test_added_column_values_merge_three_way_and_are_never_a_conflict(issued: tuple[Centre, Path],
                                                                      tmp_path: Path) -> None:
    c, path = issued
    header = (UNIT1, TABLE_EXTRA)
    # Copy A (assessor) adds the column with a note on K1.1; copy B (IQA) is the same issue, untouched.
    a = _with(path, tmp_path / "a.xlsx", {header: "Notes", (UNIT1, _row_cell("K1.1")): "first note"})
    _deliver(c, a, "a.xlsx")
    roll(c)
    assert _extra(c, "K1.1") == {"Notes": "first note"}
    # A stale copy without the column says nothing about it: the note stays.
    _deliver(c, _with(path, tmp_path / "stale.xlsx", {(UNIT1, at(L2, "K1.3", "comments")[1]): "x"}), "stale.xlsx")
    roll(c)
    assert _extra(c, "K1.1") == {"Notes": "first note"}
    # Re-issued with the note; two copies of that issue: one leaves the note as issued (says
    # nothing), the other changes it (the return's value replaces it).
    (w,) = issue_workbooks(c, out=tmp_path / "issue2").workbooks
    same = _with(w.path, tmp_path / "same.xlsx", {(UNIT1, at(L2, "K1.2", "comments")[1]): "seen"})
    changed = _with(w.path, tmp_path / "changed.xlsx", {(UNIT1, _row_cell("K1.1")): "second note"})
    _deliver(c, changed, "changed.xlsx")
    _deliver(c, same, "same.xlsx")
    roll(c)
    assert _extra(c, "K1.1") == {"Notes": "second note"}
    # Both sides changed it since the base (the ledger now says "second note"; this copy of the
    # same issue says "third note"): the latest return stands, no conflict, the merge log says so.
    late = _with(w.path, tmp_path / "late.xlsx", {(UNIT1, _row_cell("K1.1")): "third note"})
    _deliver(c, late, "late.xlsx")
    r = roll(c)
    assert _extra(c, "K1.1") == {"Notes": "third note"}
    assert sum(f.conflicts_opened for f in r.files) == 0
    assert query(c, "SELECT count(*) FROM conflicts") == [(0,)]
    (log,) = query(c, "SELECT detail FROM merge_log WHERE action = 'column value replaced'")
    assert "'Notes': 'second note' -> 'third note'" in log[0]


@pytest.mark.parametrize("accepted, returned, base, want, replaced", [
    # No base: a value returned replaces; a blank clears; a column not returned is left alone.
    ({"A": "1", "B": "2"}, {"A": "9", "B": None}, None, {"A": "9"}, []),
    ({"A": "1"}, {"C": "3"}, None, {"A": "1", "C": "3"}, []),
    # Headers match without letter case or extra spaces; the return's spelling is kept.
    ({"Notes": "x"}, {"notes ": "y"}, None, {"notes ": "y"}, []),
    # With a base: unchanged since the base says nothing, even when the ledger moved on.
    ({"A": "ledger"}, {"A": "issued"}, {"A": "issued"}, {"A": "ledger"}, []),
    ({"A": "ledger"}, {"A": None}, {}, {"A": "ledger"}, []),
    # Changed only in the return: replaces.
    ({"A": "issued"}, {"A": "new"}, {"A": "issued"}, {"A": "new"}, []),
    # Changed on both sides, differently: the return stands and the replacement is reported.
    ({"A": "ledger"}, {"A": "mine"}, {"A": "issued"}, {"A": "mine"}, [("A", "ledger", "mine")]),
    ({"A": "ledger"}, {"A": None}, {"A": "issued"}, {}, [("A", "ledger", None)]),
    # The same change on both sides: agreement.
    ({"A": "same"}, {"A": "same"}, {"A": "issued"}, {"A": "same"}, []),
])
def test_merge_extra(accepted: dict[str, str], returned: dict[str, str | None], base: dict[str, str] | None,
                     want: dict[str, str], replaced: list[tuple[str, str | None, str | None]]) -> None:
    assert merge_extra(accepted, returned, base) == (want, replaced)
