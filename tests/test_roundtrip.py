"""Write -> read gives back exactly what was written (a hypothesis property), and the reader
survives what people do to workbooks: added/moved columns, re-ordered rows, text dates, renamed
sheets, formula-looking text."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.spec.catalogue import load_qualification
from tracker.workbook import layout as L
from tracker.workbook.model import CellError, CriterionEntry, EvidenceEntry, Learner, LearnerRecord
from tracker.workbook.reader import normalise, parse_date, read_workbook
from tracker.workbook.writer import new_workbook

L2 = load_qualification("603/4687/5")
L3 = load_qualification("603/4688/7")

# Text as people type it: any printable text incl. non-Latin letters and "=" / "+" / "@" starts,
# trimmed (the reader trims), never empty (empty means "not recorded").
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1, max_size=40,
).map(lambda s: " ".join(s.split())).filter(bool)
_name = st.one_of(_text, st.sampled_from(["=1+1", "+44 7700", "-dash", "@at", "Zoë Ōtsuka", "Иван Петров"]))
_date = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 12, 31))
_ref = st.from_regex(r"[A-Z]{1,3}[0-9]{1,3}", fullmatch=True)


@st.composite
def entries(draw: st.DrawFn) -> CriterionEntry:
    return CriterionEntry(
        evidence_refs=tuple(draw(st.lists(_ref, max_size=3, unique=True))),
        method=draw(st.none() | st.sampled_from(L.METHODS) | _text),
        evidence_date=draw(st.none() | _date),
        decision=draw(st.none() | st.sampled_from(L.DECISIONS)),
        assessor=draw(st.none() | _name),
        assessor_date=draw(st.none() | _date),
        iqa_sampled=draw(st.none() | st.sampled_from(L.YES_NO)),
        iqa=draw(st.none() | _name),
        iqa_date=draw(st.none() | _date),
        iqa_decision=draw(st.none() | st.sampled_from(L.IQA_DECISIONS)),
        comments=draw(st.none() | _text),
    )


@st.composite
def records(draw: st.DrawFn) -> tuple[object, LearnerRecord]:
    q = draw(st.sampled_from([L2, L3]))
    refs = [c.ref for u in q.units for c in u.criteria]
    chosen = draw(st.lists(st.sampled_from(refs), unique=True, max_size=12))
    ents = {r: e for r in chosen if not (e := draw(entries())).is_blank()}
    evidence = tuple(
        EvidenceEntry(ref=r, description=draw(st.none() | _text),
                      method=draw(st.none() | st.sampled_from(L.METHODS)),
                      date=draw(st.none() | _date), location=draw(st.none() | _text))
        for r in draw(st.lists(_ref, unique=True, max_size=5)))
    learner = Learner(
        name=draw(_name), uln=draw(st.sampled_from(["1000000043", "1234567899", "9999999999"])),
        pathway=draw(st.sampled_from([p.id for p in q.pathways])) if q.pathways else None,
        registration_date=draw(st.none() | _date), assessor=draw(st.none() | _name),
        iqa=draw(st.none() | _name), tutor=draw(st.none() | _name), employer=draw(st.none() | _text))
    return q, LearnerRecord(learner, ents, evidence)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_round_trip(case: tuple[object, LearnerRecord]) -> None:
    q, record = case
    with tempfile.TemporaryDirectory() as d:
        path = new_workbook(q, record, Path(d) / "w.xlsx")  # type: ignore[arg-type]
        assert read_workbook(path, q).to_record() == record  # type: ignore[arg-type]


# -- robustness against what people do ----------------------------------------------------------


def _filled(tmp_path: Path) -> Path:
    rec = LearnerRecord(
        Learner("Jo Bloggs", "1000000043", "face-to-face", dt.date(2024, 9, 2), "Ann Assessor", "Ian Iqa"),
        {"K1.1": CriterionEntry(("E1",), "Worksheet", dt.date(2025, 1, 6), "Met", "Ann Assessor",
                                dt.date(2025, 1, 7)),
         "K1.2": CriterionEntry(("E2",), "Oral questioning", dt.date(2025, 1, 8), "Not yet met", "Ann Assessor",
                                dt.date(2025, 1, 9))},
        (EvidenceEntry("E1", "Worksheet 1", "Worksheet", dt.date(2025, 1, 6), "Portfolio p1"),))
    return new_workbook(L2, rec, tmp_path / "jo.xlsx")


def _edit(path: Path, fn: object) -> Path:
    wb = openpyxl.load_workbook(path)
    fn(wb)  # type: ignore[operator]
    for ws in wb.worksheets:
        ws.protection.sheet = False
    wb.save(path)
    return path


def _k11(book: object) -> object:
    return next(r for r in book.rows() if r.ref == "K1.1")  # type: ignore[attr-defined]


def test_added_column(tmp_path: Path) -> None:
    path = _edit(_filled(tmp_path), lambda wb: wb["Unit 1"].insert_cols(3))
    book = read_workbook(path, L2)
    row = _k11(book)
    assert row.value("decision") == "Met" and row.cell("decision").ref.startswith("H")  # moved right
    assert book.to_record().entries["K1.1"].decision == "Met"


def test_moved_columns(tmp_path: Path) -> None:
    def swap(wb: openpyxl.Workbook) -> None:
        ws = wb["Unit 1"]
        dec = L.col_letter([c.key for c in L.UNIT_TABLE_COLUMNS].index("decision"))
        com = L.col_letter([c.key for c in L.UNIT_TABLE_COLUMNS].index("comments"))
        for r in range(L.UNIT_TABLE_HEADER_ROW + 1, ws.max_row + 1):  # the table, below the merged header block
            a, b = ws[f"{dec}{r}"], ws[f"{com}{r}"]
            a.value, b.value = b.value, a.value
    book = read_workbook(_edit(_filled(tmp_path), swap), L2)
    row = _k11(book)
    assert row.value("decision") == "Met" and row.cell("decision").ref[0] != row.cell("comments").ref[0]


def test_reordered_rows(tmp_path: Path) -> None:
    first = L.UNIT_FIRST_DATA_ROW + 1

    def swap(wb: openpyxl.Workbook) -> None:
        ws = wb["Unit 1"]
        for c in range(1, len(L.UNIT_TABLE_COLUMNS) + 1):
            a, b = ws.cell(first, c), ws.cell(first + 2, c)
            a.value, b.value = b.value, a.value
    book = read_workbook(_edit(_filled(tmp_path), swap), L2)
    assert [r.ref for r in book.units[0].rows] == ["K1.3", "K1.2", "K1.1"]
    assert _k11(book).row == first + 2
    assert book.to_record().entries["K1.1"].decision == "Met"


@pytest.mark.parametrize("text,expected", [
    ("06/01/2025", dt.date(2025, 1, 6)), ("6/1/2025", dt.date(2025, 1, 6)), ("06.01.2025", dt.date(2025, 1, 6)),
    ("06-01-25", dt.date(2025, 1, 6)), ("2025-01-06", dt.date(2025, 1, 6)), ("6 Jan 2025", dt.date(2025, 1, 6)),
    ("6th January 2025", dt.date(2025, 1, 6)), (45663, dt.date(2025, 1, 6)), (45663.0, dt.date(2025, 1, 6)),
])
def test_dates_in_usual_forms(text: object, expected: dt.date) -> None:
    assert parse_date(text) == (expected, None)


@pytest.mark.parametrize("bad", ["yesterday", "31/02/2025", "13/13/2025", "#REF!", CellError("#REF!"), True])
def test_bad_dates_are_problems_not_exceptions(bad: object) -> None:
    value, problem = parse_date(bad)
    assert value is None and problem


def test_error_value_only_from_error_cells() -> None:
    # Text a person typed that happens to look like an error stays text.
    assert normalise("text", "comments", "#N/A") == ("#N/A", None)
    assert normalise("text", "comments", CellError("#N/A")) == (None, "formula error #N/A")


def test_text_dates_in_the_sheet(tmp_path: Path) -> None:
    col = L.col_letter([c.key for c in L.UNIT_TABLE_COLUMNS].index("assessor_date"))
    row = L.UNIT_FIRST_DATA_ROW + 1

    def texts(wb: openpyxl.Workbook) -> None:
        wb["Unit 1"][f"{col}{row}"] = "07/01/2025"
        wb["Unit 1"][f"{col}{row + 1}"] = "next week"
    book = read_workbook(_edit(_filled(tmp_path), texts), L2)
    assert _k11(book).value("assessor_date") == dt.date(2025, 1, 7)
    bad = next(r for r in book.rows() if r.ref == "K1.2").cell("assessor_date")
    assert bad.value is None and "not a date" in (bad.problem or "") and bad.ref == f"{col}{row + 1}"


def test_renamed_unit_sheet(tmp_path: Path) -> None:
    def rename(wb: openpyxl.Workbook) -> None:
        wb["Unit 1"].title = "Customers (Jo)"
    book = read_workbook(_edit(_filled(tmp_path), rename), L2)
    unit = next(u for u in book.units if u.unit_ref == "J/617/6433")
    assert unit.sheet == "Customers (Jo)" and _k11(book).sheet == "Customers (Jo)"
    assert book.to_record().entries["K1.1"].decision == "Met"


def test_dropdown_values_in_any_case_and_names_trimmed(tmp_path: Path) -> None:
    dec = L.col_letter([c.key for c in L.UNIT_TABLE_COLUMNS].index("decision"))
    ass = L.col_letter([c.key for c in L.UNIT_TABLE_COLUMNS].index("assessor"))
    row = L.UNIT_FIRST_DATA_ROW + 1

    def edit(wb: openpyxl.Workbook) -> None:
        wb["Unit 1"][f"{dec}{row}"] = "  MET "
        wb["Unit 1"][f"{ass}{row}"] = "  Ann   Assessor  "
    book = read_workbook(_edit(_filled(tmp_path), edit), L2)
    assert _k11(book).value("decision") == "Met"
    assert _k11(book).value("assessor") == "Ann   Assessor"
    from tracker.workbook.model import name_key
    assert name_key(_k11(book).value("assessor")) == "ann assessor"


def test_formula_text_stays_text(tmp_path: Path) -> None:
    rec = LearnerRecord(Learner("=HYPERLINK(\"http://x\",\"y\")", "1000000043", "non-facing"),
                        {"K1.1": CriterionEntry(comments="=1+1", assessor="@SUM(A1)")})
    path = new_workbook(L2, rec, tmp_path / "f.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb["Cover"]["B3"].data_type == "s"  # a string cell, not a formula
    book = read_workbook(path, L2)
    assert book.learner_name.startswith("=HYPERLINK")
    assert book.to_record() == rec


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    from tracker.errors import UnreadableWorkbook

    bad = tmp_path / "not-a-workbook.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(UnreadableWorkbook) as e:
        read_workbook(bad)
    assert "not-a-workbook.xlsx" in str(e.value) and "\n" not in str(e.value)


def test_foreign_workbook_reads_to_an_empty_model(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Shopping list"
    wb.save(tmp_path / "foreign.xlsx")
    book = read_workbook(tmp_path / "foreign.xlsx")
    assert book.units == [] and book.meta == {} and book.cover_sheet is None
