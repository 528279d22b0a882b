"""Structure and values: sheets, tables and columns the checks need; unusable cell values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fixtures import L2, L3, TODAY, at, col, complete_record, cover_at, edit, found, header_at, norm, record, signed, validate, write

from tracker.rules.checks import structure as S
from tracker.rules.checks import values as V
from tracker.rules.engine import check_workbook
from tracker.workbook import layout as L
from tracker.workbook.reader import read_grids, read_workbook

CHECKS = (S.structure, S.qualification_known)


def test_cover_evidence_and_tables(tmp_path: Path) -> None:
    p = edit(write(tmp_path, L3, complete_record(L3, None)), {
        (L.COVER, L.cell_ref(L.cover_row("employer"), L.COVER_LABEL_COL)): "Company",
        ("Unit 2", L.cell_ref(L.UNIT_TABLE_HEADER_ROW, col("comments"))): "Notes",
    }, delete_sheets=[L.EVIDENCE])
    # Unit 3's table header row overwritten: only its header block is left.
    import openpyxl
    wb = openpyxl.load_workbook(p)
    for c in L.UNIT_TABLE_COLUMNS:
        wb["Unit 3"].cell(row=L.UNIT_TABLE_HEADER_ROW + 1, column=col(c.key) + 1).value = None
    wb.save(p)
    task = validate(p)
    assert found(task, *CHECKS) == norm([
        ("structure-cover-field-missing", L.COVER, None),
        ("structure-columns-missing", "Unit 2", None),
        ("structure-unit-table-missing", "Unit 3", None),
        ("structure-evidence-missing", L.EVIDENCE, None),
    ])
    # Unit 3 is reported once (not also as a missing unit).
    assert "tamper-unit-missing" not in {i.code for i in task.issues}


def test_cover_missing(tmp_path: Path) -> None:
    p = edit(write(tmp_path, L3, complete_record(L3, None)), delete_sheets=[L.COVER])
    task = validate(p)
    assert found(task, *CHECKS) == [("structure-cover-missing", L.COVER, None)]


def test_unknown_qualification(tmp_path: Path) -> None:
    p = edit(write(tmp_path, L3, record({}, pathway=None)), {cover_at("qualification_number"): "601/0000/1"},
             delete_sheets=[L.META])
    task = validate(p)
    assert found(task, *CHECKS) == [("structure-unknown-qualification", *cover_at("qualification_number"))]
    # The learner's own details are still checked.
    assert {i.code for i in task.issues} >= {"structure-unknown-qualification", "id-qualification-number-check"}


def test_macros_are_reported(tmp_path: Path) -> None:
    import python_calamine

    p = write(tmp_path, L3, complete_record(L3, None))
    wb = python_calamine.CalamineWorkbook.from_path(str(p))
    names = list(wb.sheet_names)
    grids = {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in names}
    book = read_grids(p, names, grids, has_macros=True)
    assert found(check_workbook(book, today=TODAY), *CHECKS) == [("structure-macros", None, None)]


def test_values(tmp_path: Path) -> None:
    e = {"K1.1": signed(L2, "K1.1", 1, decision="Done"),
         "K1.2": signed(L2, "K1.2", 2, assessor="=HYPERLINK(\"http://x\",\"click\")"),
         "K1.3": signed(L2, "K1.3", 3, iqa_sampled="maybe"),
         "K2.1": signed(L2, "K2.1", 4, decision="met", iqa_decision="agreed", iqa="Ian Iqa",
                        iqa_date=dt.date(2024, 6, 1))}  # any letter case is fine
    p = edit(write(tmp_path, L2, record(e)), {at(L2, "K2.2", "iqa"): "#N/A"},  # typed text stays text
             errors={at(L2, "K1.3", "iqa"): "#REF!"})                        # a real error cell
    task = validate(p)
    assert found(task, V.values) == norm([
        ("value-not-in-list", *at(L2, "K1.1", "decision")),
        ("value-formula-text", *at(L2, "K1.2", "assessor")),
        ("value-error", *at(L2, "K1.3", "iqa")),
        ("value-not-in-list", *at(L2, "K1.3", "iqa_sampled")),
    ])
    # "=..." text is data: the reader kept it as the name it is.
    book = read_workbook(tmp_path / "learner.xlsx")
    row = next(r for r in book.rows() if r.ref == "K1.2")
    assert row.value("assessor").startswith("=HYPERLINK")


def test_header_block_is_not_tampering(tmp_path: Path) -> None:
    p = edit(write(tmp_path, L3, complete_record(L3, None)), {header_at(3, "glh"): "lots"})
    assert validate(p).valid


def test_a_version_1_cover_without_planned_end_date_validates_as_before(tmp_path: Path) -> None:
    # Template version 2 added "Planned end date" at the end of the cover; a version-1 workbook
    # has no such label. Blanking the label and value stands for one.
    p = edit(write(tmp_path, L3, complete_record(L3, None, planned_end_date=dt.date(2026, 6, 30))), {
        (L.COVER, L.cell_ref(L.cover_row("planned_end_date"), L.COVER_LABEL_COL)): None,
        cover_at("planned_end_date"): None,
    })
    task = validate(p)
    assert found(task, *CHECKS) == []
    assert read_workbook(p).to_record().learner.planned_end_date is None
    # In a version-2 workbook the date reads back.
    q = write(tmp_path, L3, complete_record(L3, None, planned_end_date=dt.date(2026, 6, 30)), name="v2.xlsx")
    assert read_workbook(q).to_record().learner.planned_end_date == dt.date(2026, 6, 30)
