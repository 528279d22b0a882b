"""The gate's worksheet checks (tracker.workbook.gridscan): references, dimensions, merged ranges,
cell budget, and numbers a parser cannot convert.

Each crafted sheet below is one that made python-calamine abort, panic, wrap round or allocate
gigabytes before the gate knew about it (see docs/bad-inputs.md, round 2). Oracles: the expected
refusal phrase or the exact figures, written out here; where it matters, calamine itself shows
the file is a real trap.
"""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from pathlib import Path
from xml.etree.ElementTree import fromstring

import pytest

from tracker.errors import UnreadableWorkbook
from tracker.rules.engine import validate_file
from tracker.workbook import gridscan as G
from tracker.workbook import safety
from tracker.workbook.reader import read_workbook
from tracker.workbook.safety import Limits, check_workbook_file

from corpus import make_corpus as mc  # tests/ is on sys.path

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
PEAK_LIMIT = 50 * 1024 * 1024


def sheet(body: str, head: str = "", attrs: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}{attrs}>{head}<sheetData>{body}'
            f"</sheetData></worksheet>").encode()


def with_unit1(tmp_path: Path, xml: bytes, name: str = "t.xlsx", extra: str = "") -> Path:
    """The small corpus workbook with its second sheet ('Unit 1') replaced by ``xml``."""
    data = mc.small_xlsx()
    if extra:  # appended after sheetData (merged cells live there)
        xml = xml.replace(b"</worksheet>", extra.encode() + b"</worksheet>")
    p = tmp_path / name
    p.write_bytes(mc._rezip(data, replace={"xl/worksheets/sheet2.xml": xml}))
    return p


def refusal(p: Path) -> UnreadableWorkbook:
    with pytest.raises(UnreadableWorkbook) as caught:
        check_workbook_file(p)
    return caught.value


REFUSED = {
    # name: (sheet XML body, extra after sheetData, phrase of the refusal)
    "cell_below_its_row": ('<row r="1"><c r="A1048576"><v>1</v></c></row>', "", "cell A1048576 is written in row 1"),
    "cell_far_in_row_1": ('<row r="1"><c r="A1"><v>1</v></c><c r="XFD20000"><v>1</v></c></row>', "",
                          "cell XFD20000 is written in row 1"),
    "column_beyond_xfd": ('<row r="1"><c r="XFE1"><v>1</v></c></row>', "", "column XFE, beyond Excel's last column"),
    "four_letters": ('<row r="1"><c r="ZZZZ1"><v>1</v></c></row>', "", "column ZZZZ"),
    "row_wraps_2_32": ('<row r="1"><c r="A4294967297"><v>1</v></c></row>', "", "cell A4294967297 is written in row 1"),
    "not_a_reference": ('<row r="1"><c r="A99999999999"><v>1</v></c></row>', "", "is not a cell reference"),
    "unnumbered_after_xfd": ('<row r="1"><c r="XFD1"><v>1</v></c><c><v>2</v></c></row>', "",
                             "beyond Excel's last column"),
    "cell_outside_rows": ('<c r="A1"><v>1</v></c><row r="1"/>', "", "written in no row"),
    "row_zero": ('<row r="0"><c r="A0"><v>1</v></c></row>', "", "rows start at 1"),
    "row_beyond_excel": ('<row r="1048577"><c r="A1048577"><v>1</v></c></row>', "", "beyond Excel's last row"),
    "sparse_but_legal_rows": ('<row r="1"><c r="A1"><v>1</v></c></row><row r="20000"><c r="XFD20000"><v>1</v></c></row>',
                              "", "this one 20,000 rows x 16,384 columns"),
    "merge_whole_grid": ('<row r="1"><c r="A1"><v>1</v></c></row>',
                         '<mergeCells count="1"><mergeCell ref="A1:XFD20000"/></mergeCells>', "merge 327,680,000 cells"),
    "merge_garbage": ('<row r="1"><c r="A1"><v>1</v></c></row>', '<mergeCells count="1"><mergeCell ref="A1:"/></mergeCells>',
                      "merged range ('A1:') is not a cell range"),
    "attributes_reordered": ('<row r="1"><c s="0" r="A7"><v>1</v></c></row>', "", "cell A7 is written in row 1"),
    "prefixed": ('<x:row r="1"><x:c r="B9"><x:v>1</x:v></x:c></x:row>', "", "cell B9 is written in row 1"),
    "unnumbered_rows_then_ref": ('<row><c r="A1"/></row><row><c r="A5"/></row>', "", "cell A5 is written in row 2"),
    # calamine counts a negative shared-string index from the end: "-1" would show the last text
    "shared_text_negative": ('<row r="1"><c r="A1" t="s"><v>-1</v></c></row>', "",
                             "cell A1 points at shared text '-1', which is not an entry number"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_grid_tricks_are_refused_at_the_sheet(tmp_path: Path, name: str) -> None:
    body, extra, phrase = REFUSED[name]
    attrs = ' xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"' if name == "prefixed" else ""
    p = with_unit1(tmp_path, sheet(body, attrs=attrs), f"{name}.xlsx", extra)
    tracemalloc.start()
    try:
        err = refusal(p)
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert phrase in err.reason, err.reason
    assert err.sheet == "Unit 1" and p.name in str(err) and "\n" not in str(err)
    assert peak < PEAK_LIMIT


@pytest.mark.parametrize("dim, phrase", [("hello", "is not a cell range"), ("A1:XFD1048577", "beyond Excel's grid"),
                                         ("A0:B2", "beyond Excel's grid"), ("A1:ZZZZ9", "beyond Excel's grid")])
def test_dimension_must_be_a_range_inside_the_grid(tmp_path: Path, dim: str, phrase: str) -> None:
    p = with_unit1(tmp_path, sheet('<row r="1"><c r="A1"><v>1</v></c></row>', head=f'<dimension ref="{dim}"/>'))
    assert phrase in refusal(p).reason


def _xml_extent(xml: bytes) -> tuple[int, int]:
    """Independent oracle: (max row, max column) of the cell references, by ElementTree."""
    rows = cols = 0
    for c in fromstring(xml).iter("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}c"):
        m = re.fullmatch(r"([A-Z]+)([0-9]+)", c.get("r", ""))
        assert m is not None
        rows = max(rows, int(m.group(2)))
        cols = max(cols, G.col_number(m.group(1).encode()))
    return rows, cols


def test_a_real_learner_workbook_passes_with_its_exact_extent(tmp_path: Path) -> None:
    p = tmp_path / "learner.xlsx"
    p.write_bytes(mc.learner_xlsx())
    info = check_workbook_file(p)
    assert info.bad_numbers == ()
    with zipfile.ZipFile(p) as z:
        extents = {name: _xml_extent(z.read(part)) for name, part in info.sheets if "worksheets" in part}
    for name, rows, cols in info.grid:
        assert rows >= extents[name][0] and cols == extents[name][1], name
    assert sum(r * c for _n, r, c in info.grid) < Limits().max_cells


def test_references_in_the_careful_forms_are_placed_as_parsers_place_them(tmp_path: Path) -> None:
    # 20 cells without r in row 3 -> columns A..T; leading zeros are the same row; a prefixed
    # sheet takes the careful path and gives the same figures.
    body = '<row r="3">' + "<c><v>1</v></c>" * 20 + '</row><row r="12"><c r="B012"><v>1</v></c></row>'
    info = check_workbook_file(with_unit1(tmp_path, sheet(body)))
    assert dict((n, (r, c)) for n, r, c in info.grid)["Unit 1"] == (12, 20)
    prefixed = body.replace("<row", "<x:row").replace("</row", "</x:row").replace("<c", "<x:c").replace(
        "</c>", "</x:c>").replace("<v>", "<x:v>").replace("</v>", "</x:v>")
    info2 = check_workbook_file(with_unit1(tmp_path, sheet(prefixed, attrs=' xmlns:x="urn:x"'), "p.xlsx"))
    assert dict((n, (r, c)) for n, r, c in info2.grid)["Unit 1"] == (12, 20)


def test_figures_do_not_depend_on_where_pieces_are_cut() -> None:
    rows = "".join(f'<row r="{r}"><c r="A{r}" s="1"><v>{-r * 1e19}</v></c><c r="C{r}"><v>2</v></c></row>'
                   for r in range(1, 40))
    doc = sheet(rows, head='<dimension ref="A1:C39"/>')
    whole = safety._XmlScanner("s.xml", sheet="S", max_rows=1000)
    whole.feed(doc)
    whole.close()
    assert whole.grid is not None and (whole.grid.last_row, whole.grid.last_col) == (39, 3)
    assert [t.ref for t in whole.grid.numbers] == [f"A{r}" for r in range(1, 40)]
    for size in (1, 2, 3, 7, 13, 64, 200):
        s = safety._XmlScanner("s.xml", sheet="S", max_rows=1000)
        for i in range(0, len(doc), size):
            s.feed(doc[i:i + size])
        s.close()
        assert s.grid is not None
        assert (s.grid.last_row, s.grid.last_col, s.grid.numbers) == (39, 3, whole.grid.numbers), size


# -- numbers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, kind", [
    (b"1", "ok"), (b"45570", "ok"), (b"2958465.99", "ok"), (b"1.5E-3", "ok"), (b"0", "ok"),
    (b"-1", "range"), (b"2958466", "range"), (b"1e11", "range"), (b"999999999999999", "range"),
    (b"1e15", "extreme"), (b"-1e20", "extreme"), (b"1E+300", "extreme"),
    (b"NaN", "special"), (b"-inf", "special"), (b"Infinity", "special"), (b"1e999", "special"),
    (b" 5", None), (b"1_0", None), (b"0x10", None), (b"abc", None), (b"", None),
])
def test_number_kind(text: bytes, kind: str | None) -> None:
    assert G.number_kind(text) == kind


def test_date_styles_from_builtin_ids_and_custom_codes() -> None:
    styles = (b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="4">'
              b'<numFmt numFmtId="164" formatCode="dd/mm/yyyy"/><numFmt numFmtId="165" formatCode="0.0 &quot;days&quot;"/>'
              b'<numFmt numFmtId="166" formatCode="[h]:mm"/><numFmt numFmtId="167" formatCode="[Red]#,##0"/></numFmts>'
              b'<cellXfs count="7"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/>'
              b'<xf numFmtId="166"/><xf numFmtId="167"/><xf numFmtId="46"/></cellXfs></styleSheet>')
    assert G.date_styles(styles) == frozenset({1, 2, 4, 6})
    assert G.date_styles(b"<not xml") is None


def _learner_with(tmp_path: Path, cells: dict[str, str], name: str = "numbers.xlsx") -> Path:
    def edit(x: str) -> str:
        for ref, xml in cells.items():
            x = mc.set_cell(x, ref, xml)
        return x

    data = mc._edit_parts(mc.learner_xlsx(), **{mc.UNIT1_PART.replace("/", "__").replace(".", "_"): edit})
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_unusable_numbers_are_issues_at_their_cells(tmp_path: Path) -> None:
    r = mc.UNIT1_FIRST_ROW
    f, n = mc.COLUMN["evidence_date"], mc.COLUMN["comments"]
    # F is a date column (style 17 in the writer's file), N a text column (style 16).
    p = _learner_with(tmp_path, {
        f"{f}{r}": f'<c r="{f}{r}" s="17"><v>-1e20</v></c>',  # panics calamine's date conversion
        f"{f}{r + 1}": f'<c r="{f}{r + 1}" s="17"><v>-5</v></c>',  # no date (Excel shows ####)
        f"{n}{r}": f'<c r="{n}{r}" s="16"><v>-5</v></c>',  # a plain negative number: fine
        f"{n}{r + 1}": f'<c r="{n}{r + 1}" s="16"><v>NaN</v></c>',
    })
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_path(str(p))
    with pytest.raises(BaseException) as caught:  # the trap is real: a Rust panic
        wb.get_sheet_by_name(mc.UNIT1_SHEET).to_python()
    assert type(caught.value).__name__ == "PanicException"

    info = check_workbook_file(p)
    assert [(s, ref, text) for s, ref, text, _why in info.bad_numbers] == [
        (mc.UNIT1_SHEET, f"{f}{r}", "-1e20"), (mc.UNIT1_SHEET, f"{f}{r + 1}", "-5"), (mc.UNIT1_SHEET, f"{n}{r + 1}", "NaN")]
    book = read_workbook(p)
    row = book.units[0].rows[0]
    assert row.cells["evidence_date"].raw in ("", None)  # left out
    assert book.units[0].rows[0].cells["comments"].raw == -5.0  # kept
    found = {(i.sheet, i.cell) for i in validate_file(p).issues if i.code == "value-number-invalid"}
    assert found == {(mc.UNIT1_SHEET, f"{f}{r}"), (mc.UNIT1_SHEET, f"{f}{r + 1}"), (mc.UNIT1_SHEET, f"{n}{r + 1}")}


def test_blank_numbers_empties_only_the_named_numeric_cells() -> None:
    xml = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet><sheetData><row r="1">'
           b'<c r="A1" s="2"><v>-1e20</v></c><c r="B1" t="str"><v>-1e20</v></c><c r="C1"><f>1/0</f><v>NaN</v></c>'
           b'<c r="D1"/><c><v>NaN</v></c><c r="F1"><v>-1e20</v></c></row></sheetData></worksheet>')
    out = G.blank_numbers(xml, frozenset({"A1", "C1"}), frozenset({"NaN"}))
    assert out == (b'<?xml version="1.0" encoding="UTF-8"?><worksheet><sheetData><row r="1">'
                   b'<c r="A1" s="2"></c><c r="B1" t="str"><v>-1e20</v></c><c r="C1"><f>1/0</f></c>'
                   b'<c r="D1"/><c></c><c r="F1"><v>-1e20</v></c></row></sheetData></worksheet>')
    utf16 = xml.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert G.blank_numbers(utf16, frozenset({"A1"}), frozenset()).decode("utf-16").count("-1e20") == 2
