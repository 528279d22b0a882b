"""The centre master workbook: values from learner files stay data, figures are computed from the
data, the long sheets are tables that pandas reads directly, the RAG matrix, the dashboard."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from test_centre_sample import (L2, Item, drop, items, make_centre, master_cells, matrix_blocks, matrix_dicts, roll,
                                sheet_dicts)

from tracker.centre import ledger as LG
from tracker.centre import master as M
from tracker.centre.xlsx_rows import RowStream
from tracker.centre.export_tables import iter_table
from tracker.centre.folder import Centre
from tracker.sample import SampleLearner, progress_record
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, Learner, LearnerRecord

HOSTILE = {
    "name": '=HYPERLINK("http://example.invalid/x","click me")',
    "employer": "+44 20 7946 0000",
    "tutor": "@SUM(A1:A2)",
    "comment": "=1+1",
    "evidence": "-E1",
}


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> tuple[Centre, list[Item]]:
    c = make_centre(tmp_path_factory.mktemp("master") / "centre")
    batch = items(8)
    q, s, rec = batch[3]
    lr = dataclasses.replace(s.learner, name=HOSTILE["name"], employer=HOSTILE["employer"], tutor=HOSTILE["tutor"])
    s = dataclasses.replace(s, learner=lr)
    ref = next(iter(rec.entries))
    e = rec.entries[ref]
    rec = dataclasses.replace(rec, learner=lr, entries={**rec.entries, ref: dataclasses.replace(
        e, comments=HOSTILE["comment"], evidence_refs=(*e.evidence_refs, HOSTILE["evidence"]))})
    batch[3] = (q, s, rec)
    # One learner complete on every unit.
    q5, s5, _r5 = batch[5]
    batch[5] = (q5, s5, progress_record(q5, s5, progress=1.0))
    drop(c, batch, names=[f"learner {i}.xlsx" for i in range(len(batch))])
    roll(c)
    return c, batch


def test_formula_looking_values_stay_text(centre: tuple[Centre, list[Item]]) -> None:
    c, batch = centre
    # No formula anywhere in the master's XML ...
    with zipfile.ZipFile(c.master) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name)
    # ... and the values read back exactly as typed, as text.
    wb = openpyxl.load_workbook(c.master)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    learners = sheet_dicts(c.master, "Learners")
    (row,) = [x for x in learners if x["ULN"] == batch[3][1].learner.uln]
    assert row["Learner name"] == HOSTILE["name"]
    assert row["Employer"] == HOSTILE["employer"] and row["Tutor"] == HOSTILE["tutor"]
    crit = [x for x in sheet_dicts(c.master, "Criteria") if x["ULN"] == batch[3][1].learner.uln and x["Comments"]]
    assert crit[0]["Comments"] == HOSTILE["comment"] and crit[0]["Evidence refs"].endswith(HOSTILE["evidence"])
    names = {r["Learner name"] for r in matrix_dicts(c.master)}
    assert HOSTILE["name"] in names


def _expected(q: Any, s: Any, rec: Any) -> tuple[int, int, int, str]:
    required = met = units_done = 0
    for u in q.units:
        req = q.required(u, s.learner.pathway)
        m = sum(1 for r in req if (e := rec.entries.get(r)) and e.decision == L.MET)
        required += len(req)
        met += m
        units_done += m == len(req)
    status = "Complete" if met == required else ("Not started" if met == 0 else "In progress")
    return met, required, units_done, status


def test_figures_are_computed_from_the_data(centre: tuple[Centre, list[Item]]) -> None:
    c, batch = centre
    rows = {x["ULN"]: x for x in sheet_dicts(c.master, "Learners")}
    assert len(rows) == len(batch)
    for q, s, rec in batch:
        met, required, units_done, status = _expected(q, s, rec)
        row = rows[s.learner.uln]
        assert (row["Criteria met"], row["Criteria required"], row["Units complete"], row["Status"]) == (
            met, required, units_done, status), s.learner.name
        assert row["% complete"] == pytest.approx(met / required)
        assert row["Units"] == len(q.units)
        credits = sum(u.credit for u in q.units
                      if all((e := rec.entries.get(r)) and e.decision == L.MET for r in q.required(u, s.learner.pathway)))
        assert row["Credits achieved"] == credits
    full = rows[batch[5][1].learner.uln]
    assert full["Status"] == "Complete" and full["Credits achieved"] == full["Credits"]
    dash = master_cells(c.master)["Dashboard"]
    figures = {r[0]: r[1] for r in dash if r and isinstance(r[0], str)}
    assert figures["Learners"] == len(batch)
    assert figures["Complete"] == sum(1 for x in rows.values() if x["Status"] == "Complete")
    assert figures["Average % complete"] == pytest.approx(sum(x["% complete"] for x in rows.values()) / len(rows))


@pytest.mark.parametrize("engine", ["openpyxl", "calamine"])
def test_pandas_reads_the_criteria_sheet(centre: tuple[Centre, list[Item]], engine: str) -> None:
    c, batch = centre
    df = pd.read_excel(c.master, sheet_name="Criteria", dtype={"ULN": str}, engine=engine)
    assert list(df.columns) == [col.header for col in M.CRITERIA_COLUMNS]
    assert len(df) == sum(q.criterion_count() for q, _s, _r in batch)
    for q, s, rec in batch:
        mine = df[df["ULN"] == s.learner.uln]
        assert list(mine["Ref"]) == [cr.ref for u in q.units for cr in u.criteria]
        for ref, e in rec.entries.items():
            row = mine[mine["Ref"] == ref].iloc[0]
            assert row["Decision"] == e.decision
            assert pd.Timestamp(row["Evidence date"]).date() == e.evidence_date
            if e.assessor_date:
                assert pd.Timestamp(row["Assessor date"]).date() == e.assessor_date
            assert row["Source file"].startswith("learner ")
        blank = mine[~mine["Ref"].isin(list(rec.entries))]
        assert blank["Decision"].isna().all()
        required = {r for u in q.units for r in q.required(u, s.learner.pathway)}
        assert set(mine[mine["Required"] == "Yes"]["Ref"]) == required
    learners = pd.read_excel(c.master, sheet_name="Learners", dtype={"ULN": str}, engine=engine)
    assert len(learners) == len(batch)


def test_tables_frozen_headers_and_rag_colours(centre: tuple[Centre, list[Item]]) -> None:
    c, batch = centre
    wb = openpyxl.load_workbook(c.master)
    assert wb.sheetnames == list(M.SHEETS)
    n_crit = sum(q.criterion_count() for q, _s, _r in batch)
    assert dict(wb["Criteria"].tables.items()) == {"Criteria": f"A1:{L.col_letter(len(M.CRITERIA_COLUMNS) - 1)}{n_crit + 1}"}
    assert dict(wb["Learners"].tables.items()) == {"Learners": f"A1:{L.col_letter(len(M.LEARNER_COLUMNS) - 1)}{len(batch) + 1}"}
    for sheet in ("Issues", "Conflicts", "IQA sampling", "Merge log"):
        assert len(wb[sheet].tables) == 1
    for sheet in ("Learners", "Criteria", "Issues", "Merge log"):
        assert wb[sheet].freeze_panes in ("A2", "B2", "C2")
    matrix = wb["Matrix"]
    assert matrix.freeze_panes == "C4"  # title and colour key, ULN and name
    colours = {}
    for row in matrix.iter_rows(min_row=2, min_col=len(M.MATRIX_FIXED) + 1):
        for cell in row:
            if cell.value in M.RAG:
                colours.setdefault(cell.value, cell.fill.fgColor.rgb)
    assert set(colours) <= set(M.RAG)
    for status, rgb in colours.items():
        assert rgb[-6:] == M.RAG[status][0].lstrip("#")
    assert {"Complete", "Not started"} <= set(colours) or {"IQA sampled", "Not started"} <= set(colours)
    with zipfile.ZipFile(c.master) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())


def test_matrix_statuses(centre: tuple[Centre, list[Item]]) -> None:
    c, batch = centre
    blocks = matrix_blocks(c.master)
    by_uln = {r["ULN"]: r for rows in blocks.values() for r in rows}
    for q, s, rec in batch:
        row = by_uln[s.learner.uln]
        assert row in blocks[q.number]  # in its own qualification's block
        for u in q.units:
            req = q.required(u, s.learner.pathway)
            met = sum(1 for r in req if (e := rec.entries.get(r)) and e.decision == L.MET)
            sampled = any(rec.entries.get(cr.ref) and rec.entries[cr.ref].iqa_decision for cr in u.criteria)
            want = ("IQA sampled" if sampled else "Complete") if met == len(req) else (
                "Not started" if met == 0 else "In progress")
            assert row[L.unit_sheet_name(u.number)] == want
        if q.number != L2.number:  # Level 3 learners have no column for L2's further units
            assert L.unit_sheet_name(len(q.units) + 1) not in row


def test_fast_row_writer_matches_the_public_api(centre: tuple[Centre, list[Item]], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    c, _batch = centre
    conn = LG.connect(c.ledger, create=False)
    try:
        fast, slow = tmp_path / "fast.xlsx", tmp_path / "slow.xlsx"
        assert M.build_master(conn, c, fast) == []  # nothing split
        monkeypatch.setattr(RowStream, "fast_ok", False)
        M.build_master(conn, c, slow)
    finally:
        conn.close()
    a, b = master_cells(fast), master_cells(slow)
    assert a == b
    assert a == master_cells(c.master)
    wa, wb_ = openpyxl.load_workbook(fast), openpyxl.load_workbook(slow)
    for sheet in ("Criteria", "Learners", "Matrix"):
        assert wa[sheet].dimensions == wb_[sheet].dimensions
        for ra, rb in zip(wa[sheet].iter_rows(), wb_[sheet].iter_rows()):
            assert [x.number_format for x in ra] == [x.number_format for x in rb]
            # The Matrix's status colours and every cell's font, as the public API writes them.
            assert [(x.fill.fgColor.rgb, x.font.color.rgb if x.font.color else None, x.font.b) for x in ra] == [
                (x.fill.fgColor.rgb, x.font.color.rgb if x.font.color else None, x.font.b) for x in rb]


def test_awkward_text_survives_the_fast_writer(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    (q, s, rec), = items(1)
    ref = next(iter(rec.entries))
    text = " <b>&amp;\" _x0041_ tab\there ünïcödé 🙂 "
    rec = dataclasses.replace(rec, entries={**rec.entries, ref: dataclasses.replace(rec.entries[ref], comments=text)})
    drop(c, [(q, s, rec)])
    roll(c)
    # python-calamine (like Excel) reads the _xHHHH_ escapes back; openpyxl does not undo them.
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_path(str(c.master))
    rows = wb.get_sheet_by_name("Criteria").to_python()
    head = rows[0]
    got = [r[head.index("Comments")] for r in rows[1:] if r[head.index("Ref")] == ref]
    assert got == [text.strip()]  # the learner-workbook reader trims


def test_empty_centre_master(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    cells = master_cells(c.master)
    assert list(cells) == list(M.SHEETS)
    assert cells["Criteria"][0] == tuple(col.header for col in M.CRITERIA_COLUMNS)
    df = pd.read_excel(c.master, sheet_name="Criteria", engine="openpyxl")
    assert len(df) == 0


@pytest.mark.libreoffice
def test_libreoffice_opens_the_master(centre: tuple[Centre, list[Item]], tmp_path: Path) -> None:
    from libreoffice import convert

    c, batch = centre
    out = convert(c.master, tmp_path / "lo")
    df = pd.read_excel(out, sheet_name="Criteria", dtype={"ULN": str}, engine="openpyxl")
    assert len(df) == sum(q.criterion_count() for q, _s, _r in batch)
    assert isinstance(df["Assessor date"].dropna().iloc[0], (pd.Timestamp, dt.datetime))


# -- progress: the master and the export count as tracker.workbook.progress defines -------------------

_EV, _AS, _IQ, _RESIGNED = dt.date(2025, 1, 10), dt.date(2025, 1, 15), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


def _signed(ref: str, **kw: Any) -> CriterionEntry:
    """A Met with its full sign-off (evidence ref, method, assessor, assessor date)."""
    base: dict[str, Any] = dict(evidence_refs=(f"E-{ref}",), method="Observation", evidence_date=_EV,
                                decision=L.MET, assessor="Sam Assessor", assessor_date=_AS)
    return CriterionEntry(**{**base, **kw})


# Learner A (face-to-face): one row per case; what the Criteria sheet's Achieved column must say.
PROGRESS_CASES: dict[str, tuple[CriterionEntry, str]] = {
    "K2.1": (_signed("K2.1"), "Yes"),  # Met, signed off
    "K2.2": (_signed("K2.2", assessor_date=None), "No"),  # Met, sign-off incomplete
    "K2.3": (_signed("K2.3", iqa="Ivy IQA", iqa_date=_IQ, iqa_decision="Referred back"), "No"),  # referred back
    "K2.4": (_signed("K2.4", assessor_date=_RESIGNED, iqa="Ivy IQA", iqa_date=_IQ,
                     iqa_decision="Referred back"), "No"),  # re-signed after the referral: awaiting re-check
    "K2.5": (_signed("K2.5", iqa="Ivy IQA", iqa_date=_IQ, iqa_decision="Agreed"), "Yes"),  # referral then Agreed
    "S9.1": (_signed("S9.1"), "Yes"),  # required of a face-to-face learner
    "S9.4": (_signed("S9.4"), "No"),  # signed, but not required of a face-to-face learner: does not count
}


def _progress_batch() -> list[Item]:
    a = Learner("Ada Cases", "1000000043", pathway="face-to-face", registration_date=dt.date(2024, 9, 1))
    rec_a = LearnerRecord(a, {ref: e for ref, (e, _want) in PROGRESS_CASES.items()})
    # Learner B: every criterion Met and signed off, but no pathway: the either/or criteria of
    # unit 9 cannot be counted, so the qualification is not complete.
    b = Learner("Bo Nopathway", "1234567899", pathway=None, registration_date=dt.date(2024, 9, 1))
    rec_b = LearnerRecord(b, {c.ref: _signed(c.ref) for u in L2.units for c in u.criteria})
    return [(L2, SampleLearner(a, L2.number, "wb-cases-a", 0.5, 1), rec_a),
            (L2, SampleLearner(b, L2.number, "wb-cases-b", 1.0, 2), rec_b)]


def test_progress_cases_in_the_master_and_the_export(tmp_path: Path) -> None:
    from tracker.centre.export_tables import export

    c = make_centre(tmp_path / "centre", register=False)
    drop(c, _progress_batch())
    assert roll(c).count("merged") == 2
    crit = {(x["ULN"], x["Ref"]): x for x in sheet_dicts(c.master, "Criteria")}
    for ref, (_e, want) in PROGRESS_CASES.items():
        assert crit[("1000000043", ref)]["Achieved"] == want, ref
    assert crit[("1000000043", "S9.4")]["Required"] == "No"
    assert crit[("1000000043", "K1.1")]["Achieved"] == "No"  # nothing recorded
    learners = {x["ULN"]: x for x in sheet_dicts(c.master, "Learners")}
    a, b = learners["1000000043"], learners["1234567899"]
    # A: K2.1, K2.5 and S9.1 count; K2.2 (no assessor date), K2.3 and K2.4 (referred back) do not,
    # S9.4 is not required of A.
    assert (a["Criteria met"], a["Units complete"], a["Credits achieved"], a["Status"]) == (3, 0, 0, "In progress")
    # B: every unit complete but unit 9, which counts nothing while the pathway is unknown (Not
    # started, as the workbook's Summary formula says): 17 units, 39 - 5 = 34 credits; every
    # counted criterion achieved -- but the qualification is not achieved.
    assert (b["Units complete"], b["Credits achieved"], b["% complete"], b["Status"]) == (17, 34, 1.0, "In progress")
    assert b["Criteria met"] == b["Criteria required"]
    matrix = matrix_dicts(c.master)
    row_a = next(x for x in matrix if x["ULN"] == "1000000043")
    assert (row_a[L.unit_sheet_name(1)], row_a[L.unit_sheet_name(2)], row_a[L.unit_sheet_name(9)]) == (
        "Not started", "In progress", "In progress")

    export(c, "csv", tmp_path / "out")
    rows = list(csv.DictReader((tmp_path / "out" / "criteria.csv").open(encoding="utf-8")))
    got = {r["ref"]: r["achieved"] for r in rows if r["uln"] == "1000000043" and r["ref"] in PROGRESS_CASES}
    assert got == {ref: want for ref, (_e, want) in PROGRESS_CASES.items()}
    people = {r["uln"]: r for r in csv.DictReader((tmp_path / "out" / "learners.csv").open(encoding="utf-8"))}
    assert (people["1000000043"]["criteria_met"], people["1000000043"]["status"]) == ("3", "In progress")
    assert (people["1234567899"]["units_complete"], people["1234567899"]["status"]) == ("17", "In progress")


# -- Excel's row limit (issue 19): a long table is split over numbered sheets ----------------------


def test_long_tables_split_over_numbered_sheets_at_the_row_limit(centre: tuple[Centre, list[Item]],
                                                                tmp_path: Path) -> None:
    c, _batch = centre
    conn = LG.connect(c.ledger, create=False)
    try:
        n_criteria = sum(1 for _ in iter_table(conn, c, "criteria"))
        n_learners = LG.learner_count(conn)
        path = tmp_path / "split.xlsx"
        # A sheet of 40 rows: the header and 39 data rows.
        notes = M.build_master(conn, c, path, row_limit=40)
    finally:
        conn.close()
    wb = openpyxl.load_workbook(path, read_only=True)
    names = wb.sheetnames
    parts = [n for n in names if n == "Criteria" or n.startswith("Criteria ")]
    # Written out by hand: ceil(n / 39) sheets, named Criteria, Criteria 2, ... in order.
    assert parts == ["Criteria"] + [f"Criteria {k}" for k in range(2, -(-n_criteria // 39) + 1)]
    assert names.index("Criteria 2") == names.index("Criteria") + 1
    rows = []
    for name in parts:
        ws_rows = list(wb[name].iter_rows(values_only=True))
        assert len(ws_rows) <= 40
        assert ws_rows[0] == tuple(col.header for col in M.CRITERIA_COLUMNS)  # same columns on each
        rows += ws_rows[1:]
    # The parts add up to the ledger's rows, none lost, none twice.
    assert len(rows) == n_criteria
    i_ref = [col.key for col in M.CRITERIA_COLUMNS].index("ref")
    keys = [(r[0], r[i_ref]) for r in rows]  # ULN, Ref
    assert len(set(keys)) == n_criteria
    # The roll-up's output and the Dashboard say it.
    said = " ".join(notes)
    assert f"Criteria: {n_criteria:,} rows" in said and "Criteria 2" in said
    dash = [v for row in wb["Dashboard"].iter_rows(values_only=True) for v in row if isinstance(v, str)]
    assert any(v.startswith(f"Criteria: {n_criteria:,} rows") for v in dash)
    if n_learners > 39:
        assert "Learners 2" in names
    # Every part is an Excel table of its own, over exactly its rows.
    full = openpyxl.load_workbook(path)
    for k, name in enumerate(parts, start=1):
        (table,) = full[name].tables.values()
        assert table.name == ("Criteria" if k == 1 else f"Criteria{k}")
        assert table.ref.endswith(str(full[name].max_row))


def test_split_sheets_plans_parts_by_hand() -> None:
    from tracker.centre.xlsx_rows import SheetPart, split_sheets

    assert split_sheets("Issues", "Issues", 0, 10) == [SheetPart("Issues", "Issues", 0)]
    assert split_sheets("Issues", "Issues", 9, 10) == [SheetPart("Issues", "Issues", 9)]
    assert split_sheets("Issues", "Issues", 10, 10) == [SheetPart("Issues", "Issues", 9),
                                                         SheetPart("Issues 2", "Issues2", 1)]
    assert split_sheets("Merge log", "MergeLog", 20, 5) == [
        SheetPart("Merge log", "MergeLog", 4), SheetPart("Merge log 2", "MergeLog2", 4),
        SheetPart("Merge log 3", "MergeLog3", 4), SheetPart("Merge log 4", "MergeLog4", 4),
        SheetPart("Merge log 5", "MergeLog5", 4)]


def test_the_row_writer_refuses_a_row_past_excels_last() -> None:
    from tracker.centre.xlsx_rows import EXCEL_MAX_ROWS

    stream = RowStream(object(), (), {}, lambda *a: None, lambda v, t: None)
    with pytest.raises(ValueError, match="past Excel's last row"):
        stream.row(EXCEL_MAX_ROWS, {})
