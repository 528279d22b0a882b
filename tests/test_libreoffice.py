"""What only a real spreadsheet application can prove: the summary formulas calculate to the
right figures, and a workbook saved by LibreOffice reads back to the same model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import python_calamine

from libreoffice import convert
from tracker.spec.catalogue import load_qualification
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord
from tracker.workbook.reader import read_workbook
from tracker.workbook.writer import new_workbook

L2 = load_qualification("603/4687/5")


def _summary_rows(path: Path) -> dict[int, list[object]]:
    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    grid = wb.get_sheet_by_name(L.SUMMARY).to_python(skip_empty_area=False)
    out = {}
    for row in grid[L.SUMMARY_HEADER_ROW + 1:]:
        if isinstance(row[0], (int, float)) and row[0]:
            out[int(row[0])] = row[:8]
    return out


def test_summary_formulas_recalculate_in_libreoffice(tmp_path: Path) -> None:
    # A face-to-face learner; fill criteria with openpyxl, which stores formulas WITHOUT cached
    # results -- so any figure in the converted file was calculated by LibreOffice.
    path = new_workbook(L2, LearnerRecord(Learner("Jo Bloggs", "1000000043", "face-to-face")),
                        tmp_path / "jo.xlsx")
    wb = openpyxl.load_workbook(path)
    keys = [c.key for c in L.UNIT_TABLE_COLUMNS]
    first = L.UNIT_FIRST_DATA_ROW + 1

    def met(unit: int, n: int, value: str = "Met") -> None:
        # A decision with its sign-off (evidence ref, method, assessor, assessor date): only then
        # does a Met count (tracker.workbook.progress).
        ws = wb[L.unit_sheet_name(unit)]
        for key, v in (("decision", value), ("evidence_refs", "E1"), ("method", "Observation"),
                       ("assessor", "Ann Assessor"), ("assessor_date", dt.datetime(2024, 3, 1))):
            ws[f"{L.col_letter(keys.index(key))}{first + n}"] = v

    for n in range(3):          # Unit 1: all three criteria met -> complete
        met(1, n)
    met(2, 0)                   # Unit 2: 1 of 5
    met(2, 1, "Not yet met")    # does not count
    met(9, 0)                   # Unit 9: S9.1 (face-to-face) counts
    met(9, 3)                   # S9.4 is non-facing: not required, must not count
    met(17, 0)                  # Unit 17 (default reading): B17.1 and B17.2 required
    wb.save(path)

    calculated = _summary_rows(convert(path, tmp_path / "lo"))
    # unit: [unit, ref, title, credit, required, met, fraction, status]
    assert calculated[1][4:8] == [3, 3, 1, L.STATUS_COMPLETE]
    assert calculated[2][4:6] == [5, 1] and calculated[2][7] == L.STATUS_IN_PROGRESS
    assert calculated[9][4:6] == [3, 1]
    assert calculated[17][4:6] == [2, 1]
    assert calculated[18][4:8] == [6, 0, 0, L.STATUS_NOT_STARTED]
    # The workbook as saved by openpyxl had no cached figures at all: prove the test sees that.
    assert _summary_rows(path)[1][4] in ("", None)


def test_pathway_change_in_the_spreadsheet_changes_required(tmp_path: Path) -> None:
    path = new_workbook(L2, LearnerRecord(Learner("Jo Bloggs", "1000000043", "face-to-face")),
                        tmp_path / "jo.xlsx")
    wb = openpyxl.load_workbook(path)
    wb[L.COVER].cell(L.cover_row("pathway") + 1, L.COVER_VALUE_COL + 1).value = "Non-facing"
    wb.save(path)
    calculated = _summary_rows(convert(path, tmp_path / "lo"))
    assert calculated[9][4] == 3
    grid = python_calamine.CalamineWorkbook.from_path(str(tmp_path / "lo" / "jo.xlsx")).get_sheet_by_name(
        L.unit_sheet_name(9)).to_python(skip_empty_area=False)
    required = [r[len(L.UNIT_TABLE_COLUMNS) - 1] for r in grid[L.UNIT_FIRST_DATA_ROW:L.UNIT_FIRST_DATA_ROW + 6]]
    assert required == [L.REQUIRED_NO] * 3 + [L.REQUIRED_YES] * 3


def test_saved_by_libreoffice_reads_back_the_same(tmp_path: Path) -> None:
    record = LearnerRecord(
        Learner("Zoë Ōtsuka-Smith", "1234567899", "non-facing", dt.date(2024, 9, 2), "Ann Assessor",
                "Ian Iqa", "Tia Tutor", "Acme Ltd"),
        {"K1.1": CriterionEntry(("E1", "E2"), "Worksheet", dt.date(2025, 1, 6), "Met", "Ann Assessor",
                                dt.date(2025, 1, 7), "Yes", "Ian Iqa", dt.date(2025, 2, 1), "Agreed", "=not a formula"),
         "S9.4": CriterionEntry(("E3",), "Observation", dt.date(2025, 3, 1), "Not yet met", "Ann Assessor",
                                dt.date(2025, 3, 2))},
        (EvidenceEntry("E1", "Worksheet 1", "Worksheet", dt.date(2025, 1, 6), "Portfolio p1"),
         EvidenceEntry("E3", "Call observation", "Observation", dt.date(2025, 3, 1), "\\\\share\\jo\\obs.pdf")))
    path = new_workbook(L2, record, tmp_path / "zoe.xlsx")
    resaved = convert(path, tmp_path / "lo")
    book = read_workbook(resaved, L2)
    assert book.to_record() == record
    assert book.meta["spec_number"] == L2.number
