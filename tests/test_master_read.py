"""The master as people read it: Caseload, Matrix blocks, Issues by severity, progress notes on
their own sheet, words instead of internal codes, the Dashboard's charts. Expected values are
written here by hand (the unit titles from the specifications, the phrases of each code)."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from tracker.centre import ledger as LG
from tracker.centre import master as M
from tracker.centre.folder import Centre
from tracker.workbook import layout as L

from test_centre_sample import matrix_blocks, sheet_dicts

D = dt.date


def test_caseload_records_hand_written() -> None:
    learners = [
        ("Amira Khan", "On track", "2025-03-01"),
        ("amira  KHAN; Tom Fletcher", "Behind", "2025-05-02"),  # the first assessor on the cover counts
        ("Tom Fletcher", "Far behind", None),
        ("Tom Fletcher", "Overdue", "2024-12-31"),
        (None, "No planned end date", None),
        ("Tom Fletcher", "Complete", "2025-01-10"),
        ("Tom Fletcher", "No registration date", None),
    ]
    rows = M.caseload_records(learners, ["Amira Khan", "Zoe Ward", "zoe ward"])
    got = [(r["assessor"], r["learners"], r["on_track"], r["behind"], r["far_behind"], r["overdue"],
            r["complete"], r["not_judged"], r["last_activity"], r["awaiting_iqa"]) for r in rows]
    assert got == [
        ("Amira Khan", 2, 1, 1, 0, 0, 0, 0, "2025-05-02", 1),
        ("Tom Fletcher", 4, 0, 0, 1, 1, 1, 1, "2025-01-10", 0),
        ("Zoe Ward", 0, 0, 0, 0, 0, 0, 0, None, 2),  # decisions awaiting IQA, no learner on a cover
        ("(no assessor on the cover)", 1, 0, 0, 0, 0, 0, 1, None, 0),
    ]


def test_cumulative_by_month_fills_the_gaps() -> None:
    span, series = M.cumulative_by_month({
        "603/4688/7": Counter({D(2025, 3, 1): 2}),
        "603/4687/5": Counter({D(2024, 12, 1): 3, D(2025, 2, 1): 1}),
    })
    assert span == [D(2024, 12, 1), D(2025, 1, 1), D(2025, 2, 1), D(2025, 3, 1)]
    assert series == {"603/4687/5": [3, 3, 4, 4], "603/4688/7": [0, 0, 0, 2]}
    assert M.cumulative_by_month({}) == ([], {})


def test_every_resolution_and_run_kind_has_words() -> None:
    # The codes the ledger stores (its schema comment) and what a reader sees instead.
    assert LG.RESOLUTION_WORDS == {
        "agreeing-return": "A later return agreed with the accepted value",
        "kept-accepted": "An admin kept the accepted value",
        "kept-returned": "An admin kept the returned value",
        "superseded": "Replaced by a newer conflict on the same row",
    }
    assert LG.RUN_KIND_WORDS == {"rollup": "Roll-up", "resolve": "Conflict decision", "rebuild": "Rebuild"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Centre:
    from tracker.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("read") / "centre", learners=36, quiet=True, workers=1)


def test_sheets_in_order(demo: Centre) -> None:
    wb = openpyxl.load_workbook(demo.master, read_only=True)
    assert wb.sheetnames == ["Dashboard", "Learners", "Caseload", "Matrix", "Criteria", "Issues", "Progress notes",
                             "Conflicts", "IQA sampling", "Sampling plan", "Gateway", "Merge log"]
    assert tuple(wb.sheetnames) == M.SHEETS == L.MASTER_SHEETS
    wb.close()


def test_matrix_one_block_per_qualification_with_unit_titles(demo: Centre) -> None:
    wb = openpyxl.load_workbook(demo.master)
    ws = wb["Matrix"]
    assert [c.value for c in ws[2]][:1] == ["Colour key"]
    assert {c.value for c in ws[2]} >= {"Not started", "In progress", "Complete", "IQA sampled"}
    headers = {}  # block title -> its header row
    for row in ws.iter_rows(values_only=True):
        if row[0] == "ULN":
            headers[title] = row
        title = row[0]
    assert sorted(headers) == ["603/4687/5  Highfield Level 2 Diploma in Customer Service Skills (RQF)",
                               "603/4688/7  Highfield Level 3 Diploma for Customer Service Skills (RQF)"]
    l2, l3 = (headers[t] for t in sorted(headers))
    first = len(M.MATRIX_FIXED)
    assert l2[first] == "Unit 1\nKnowing your customers"
    assert str(l2[first + 17]).startswith("Unit 18\n") and all(v is None for v in l2[first + 18:])
    assert l3[first] == "Unit 1\nBusiness Knowledge and Understanding"
    assert l3[first + 2] == "Unit 3\nKnowing your customers and their needs/Customer Insight"
    assert all(v is None for v in l3[first + 14:])  # 14 units: no Level 2 unit columns
    blocks = matrix_blocks(demo.master)
    learners = {r["ULN"]: r["Qualification number"] for r in sheet_dicts(demo.master, "Learners")}
    assert {r["ULN"] for r in blocks["603/4687/5"]} == {u for u, q in learners.items() if q == "603/4687/5"}
    assert {r["ULN"] for r in blocks["603/4688/7"]} == {u for u, q in learners.items() if q == "603/4688/7"}
    assert [b.id for b in ws.row_breaks.brk], "the second block starts a new printed page"


def test_issues_by_severity_coloured_and_progress_notes_apart(demo: Centre) -> None:
    issues = sheet_dicts(demo.master, "Issues")
    notes = sheet_dicts(demo.master, "Progress notes")
    rank = {"error": 0, "warning": 1, "info": 2}
    order = [rank[r["Severity"]] for r in issues]
    assert order == sorted(order) and order[0] == 0
    progress = {"completion-not-met", "completion-unit-incomplete", "completion-qualification-incomplete",
                "completion-qualification-complete", "iqa-awaiting-recheck", "iqa-agreed-not-met"}
    assert notes and {r["Code"] for r in notes} <= progress
    assert not {r["Code"] for r in issues} & progress
    wb = openpyxl.load_workbook(demo.master)
    rules = [r for cf in wb["Issues"].conditional_formatting for r in cf.rules]
    fills = {r.formula[0]: r.dxf.fill.bgColor.rgb[-6:] for r in rules}
    assert fills == {'$A2="error"': "FFC7CE", '$A2="warning"': "FFEB9C", '$A2="info"': "DDEBF7"}


def test_dashboard_error_and_warning_figures_are_the_issues_sheets_rows(demo: Centre) -> None:
    rows = sheet_dicts(demo.master, "Issues") + sheet_dicts(demo.master, "Progress notes")
    on_sheets = Counter(r["Severity"] for r in rows)
    wb = openpyxl.load_workbook(demo.master, read_only=True)
    figures = {r[0]: r[1] for r in wb["Dashboard"].iter_rows(values_only=True) if r and r[0] in ("Errors", "Warnings")}
    wb.close()
    assert on_sheets["error"] > 0 and on_sheets["warning"] > 0  # the demo has both
    assert figures == {"Errors": on_sheets["error"], "Warnings": on_sheets["warning"]}


def test_conflicts_and_merge_log_in_words(demo: Centre) -> None:
    codes = {"agreeing-return", "kept-accepted", "kept-returned", "superseded", "rollup", "resolve", "rebuild"}
    for sheet in ("Conflicts", "Merge log"):
        for row in sheet_dicts(demo.master, sheet):
            assert not {str(v) for v in row.values()} & codes, (sheet, row)
    closed = [r["Resolution"] for r in sheet_dicts(demo.master, "Conflicts") if r["Status"] == "Closed"]
    assert closed and set(closed) <= set(LG.RESOLUTION_WORDS.values())
    # The demo rolls up, and an admin decides one conflict.
    assert {r["What ran"] for r in sheet_dicts(demo.master, "Merge log")} == {"Roll-up", "Conflict decision"}


def test_caseload_sheet_counts_every_learner(demo: Centre) -> None:
    rows = sheet_dicts(demo.master, "Caseload")
    learners = sheet_dicts(demo.master, "Learners")
    assert sum(r["Learners"] for r in rows) == len(learners) == 36
    statuses = ("On track", "Behind", "Far behind", "Overdue", "Complete", "Not judged (no planned end date)")
    for r in rows:
        assert sum(r[s] or 0 for s in statuses) == r["Learners"]
    # The demo's assessors (tracker.sample), each on the cover of some learners.
    assert {r["Assessor"] for r in rows} == {x["Assessor"].split(";")[0].strip() for x in learners}
    by_status = Counter(x["On track"] for x in learners)
    assert sum(r["Overdue"] or 0 for r in rows) == by_status["Overdue"]


def test_dashboard_has_three_charts(demo: Centre) -> None:
    with zipfile.ZipFile(demo.master) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 3
    text = "".join(charts)
    for title in ("Learners by status, per qualification", "Criteria achieved over time",
                  "Caseload per assessor, by on-track status"):
        assert title in text
    assert "Caseload!$A$2" in text  # the caseload chart draws from the Caseload sheet


def test_dashboard_numbers_right_aligned_under_right_aligned_headers(demo: Centre) -> None:
    ws = openpyxl.load_workbook(demo.master)["Dashboard"]
    head = next(r for r in ws.iter_rows() if r[0].value == L.COVER_LABELS["qualification_number"])
    below = ws[head[0].row + 1]
    for c in range(2, 7):
        assert head[c].alignment.horizontal == "right" and below[c].alignment.horizontal == "right", c


def test_a_long_matrix_block_continues_under_its_header(demo: Centre, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(M, "MATRIX_ROWS_PER_PAGE", 10)
    out = tmp_path / "master.xlsx"
    conn = LG.connect(demo.ledger, create=False)
    try:
        M.build_master(conn, demo, out)
    finally:
        conn.close()
    ws = openpyxl.load_workbook(out)["Matrix"]
    titles = [r[0] for r in ws.iter_rows(values_only=True) if r[0] and str(r[0]).startswith("603/")]
    l2 = "603/4687/5  Highfield Level 2 Diploma in Customer Service Skills (RQF)"
    l3 = "603/4688/7  Highfield Level 3 Diploma for Customer Service Skills (RQF)"
    # 24 Level 2 learners: 10 + 10 + 4; 12 Level 3 learners: 10 + 2.
    assert titles == [l2, f"{l2} (continued)", f"{l2} (continued)", l3, f"{l3} (continued)"]
    assert len(ws.row_breaks.brk) == 4
    blocks = matrix_blocks(out)
    assert (len(blocks["603/4687/5"]), len(blocks["603/4688/7"])) == (24, 12)


def test_master_plan_once(demo: Centre, tmp_path: Path) -> None:
    """The roll-up hands the plan it made and stored to the master (made once per roll-up); the
    master shows the plan a master built afterwards from the committed ledger makes for itself."""
    import sqlite3

    out = tmp_path / "again.xlsx"
    conn = sqlite3.connect(demo.ledger)
    try:
        M.build_master(conn, demo, out)
    finally:
        conn.close()
    for sheet in ("Sampling plan", "Caseload"):
        rolled, rebuilt = sheet_dicts(demo.master, sheet), sheet_dicts(out, sheet)
        assert rolled, sheet  # the demo plans samples and has assessors
        assert rolled == rebuilt, sheet
