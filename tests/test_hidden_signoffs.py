"""Sign-offs in hidden rows or columns are a warning (completion-signoff-hidden).

The parser (python-calamine) does not say which rows and columns are hidden; the safety gate's
scan of the sheet XML does (tracker.workbook.gridscan). Oracles: the rows and columns hidden by
hand here (with openpyxl, as a script would, and then re-saved by LibreOffice, which writes
hidden="true"), and the cells the writer puts each value in (fixtures.at).
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from fixtures import at, col, found, record, signed, validate, write
from libreoffice import convert

from tracker.spec.catalogue import load_qualification
from tracker.workbook import layout as L
from tracker.workbook.gridscan import SheetGrid
from tracker.workbook.reader import read_workbook

L2 = load_qualification("603/4687/5")
CODE = "completion-signoff-hidden"
SIGNED = ("K1.1", "K1.2")  # both Met and signed on Unit 1; K1.3 left blank


def _book(tmp: Path, *, rows: tuple[str, ...] = (), cols: tuple[str, ...] = ()) -> Path:
    """A workbook with SIGNED signed off, the rows of ``rows`` (criterion refs) and the columns
    ``cols`` (layout keys) of Unit 1 hidden."""
    path = write(tmp, L2, record({ref: signed(L2, ref, n) for n, ref in enumerate(SIGNED, start=1)}))
    wb = openpyxl.load_workbook(path)
    ws = wb[L.unit_sheet_name(1)]
    for ref in rows:
        ws.row_dimensions[int(at(L2, ref, "decision")[1][1:])].hidden = True
    for key in cols:
        ws.column_dimensions[openpyxl.utils.get_column_letter(col(key) + 1)].hidden = True
    wb.save(path)
    return path


def test_a_workbook_as_written_hides_nothing(tmp_path: Path) -> None:
    path = _book(tmp_path)
    assert read_workbook(path).hidden == {}
    assert found(validate(path), CODE) == []


def test_a_signed_row_hidden_is_a_warning_at_its_decision(tmp_path: Path) -> None:
    path = _book(tmp_path, rows=("K1.1", "K1.3"))  # K1.3 is hidden too, but holds no sign-off
    task = validate(path)
    assert found(task, CODE) == [(CODE, "Unit 1", at(L2, "K1.1", "decision")[1])]
    (issue,) = [i for i in task.issues if i.code == CODE]
    assert issue.severity.value == "warning" and issue.criterion == "K1.1"
    assert "hidden row" in issue.message and "Decision G12" in issue.message


def test_a_hidden_assessor_column_is_a_warning_on_every_signed_row(tmp_path: Path) -> None:
    path = _book(tmp_path, cols=("assessor",))
    task = validate(path)
    assert found(task, CODE) == sorted((CODE, "Unit 1", at(L2, ref, "assessor")[1]) for ref in SIGNED)
    assert all("hidden column (Assessor H" in i.message for i in task.issues if i.code == CODE)


def test_a_hidden_column_with_no_sign_off_is_no_warning(tmp_path: Path) -> None:
    path = _book(tmp_path, cols=("comments", "required"))
    assert found(validate(path), CODE) == []


def test_libreoffice_saved_hidden_row_and_column_are_found(tmp_path: Path) -> None:
    path = _book(tmp_path / "src", rows=("K1.2",), cols=("iqa",))
    # K1.1 is sampled by the IQA on the copy LibreOffice saves: its IQA cell is in the hidden column.
    wb = openpyxl.load_workbook(path)
    sheet, cell = at(L2, "K1.1", "iqa")
    wb[sheet][cell].value = "Ivy Quality"
    wb.save(path)
    saved = convert(path, tmp_path / "lo")
    xml = _sheet_xml(saved, sheet)
    assert 'hidden="true"' in xml or 'hidden="1"' in xml  # what LibreOffice wrote
    h = read_workbook(saved).hidden[sheet]
    assert int(at(L2, "K1.2", "decision")[1][1:]) in h.rows
    assert h.hides(cell) == "column"
    assert found(validate(saved), CODE) == sorted([(CODE, sheet, at(L2, "K1.2", "decision")[1]),
                                                    (CODE, sheet, cell)])


def _sheet_xml(path: Path, sheet: str) -> str:
    import zipfile

    wb = openpyxl.load_workbook(path, read_only=True)
    index = wb.sheetnames.index(sheet) + 1
    wb.close()
    with zipfile.ZipFile(path) as z:
        return z.read(f"xl/worksheets/sheet{index}.xml").decode()


@pytest.mark.parametrize("xml, rows, cols", [
    (b'<cols><col min="7" max="8" hidden="1" width="0"/></cols><sheetData><row r="3" hidden="1">'
     b'<c r="A3"/></row><row r="4"><c r="A4"/></row></sheetData>', [3], [(7, 8)]),
    (b'<cols><col collapsed="false" customWidth="true" hidden="true" max="9" min="9" width="0"/>'
     b'</cols><sheetData><row r="12" customFormat="false" hidden="true" ht="0">', [12], [(9, 9)]),
    (b'<x:sheetData><x:row r="5" hidden="1"><x:c r="A5"/></x:row></x:sheetData>', [5], []),
    (b'<sheetData><row r="6" hidden="0"><c r="A6"><is><t>hidden="1"</t></is></c></row></sheetData>', [], []),
])
def test_gridscan_finds_hidden_rows_and_columns(xml: bytes, rows: list[int], cols: list[tuple[int, int]]) -> None:
    g = SheetGrid(max_rows=100_000)
    g.feed(xml)
    assert (g.hidden_rows, g.hidden_cols) == (rows, cols)
