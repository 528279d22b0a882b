"""``tracker report``: the EQA visit pack and the learners' tracking records (PDF).

Oracles: the PDF's text and word boxes as poppler's ``pdftotext`` reads them (another program
than the one that wrote the PDF), page counts from ``pdfinfo``, and the ledger queried here with
SQL of the test's own.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tracker.centre.folder import Centre
from tracker.centre.report import ReportResult, write_reports
from tracker.errors import CentreError

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")

# pdftotext gives a word of a base-14 font a box of ascent + descent: for Helvetica (AFM Ascender
# 718, Descender -207) that is 0.925 of the font size, so 8 pt text is 7.4 pt tall.
HELVETICA_BOX = 0.925
MIN_PT = 8.0


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Centre:
    from tracker.demo import build_demo

    c = build_demo(tmp_path_factory.mktemp("report") / "centre", learners=6, quiet=True, workers=1)
    # A declared interest, added as an admin would in Excel (the demo register has none).
    import openpyxl

    from tracker.register import INTEREST_COLUMNS, INTERESTS_SHEET

    wb = openpyxl.load_workbook(c.register)
    ws = wb[INTERESTS_SHEET]
    row = {"staff": "Helen Price", "learner": "1000000043", "nature": "Neighbour of the learner's family",
           "declared": dt.date(2025, 1, 6)}
    for i, col in enumerate(INTEREST_COLUMNS, start=1):
        ws.cell(row=2, column=i, value=row.get(col.key))
    wb.save(c.register)
    return c


@pytest.fixture(scope="module")
def result(centre: Centre) -> ReportResult:
    return write_reports(centre.root)


def text(pdf: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", "-layout", *pages, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]


def word_heights(pdf: Path) -> list[tuple[float, str]]:
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [(float(y2) - float(y1), w) for y1, y2, w in
            re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', out)]


def query(c: Centre, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(c.ledger) as conn:
        return conn.execute(sql).fetchall()


def test_pack_names_every_learner(centre: Centre, result: ReportResult) -> None:
    assert result.pack is not None
    body = " ".join(text(result.pack).split())
    learners = query(centre, "SELECT name, uln FROM learners")
    assert len(learners) == 6
    for name, uln in learners:
        assert f"{name} {uln}" in body or (str(name) in body and str(uln) in body), name


def test_pack_holds_the_sampling_record(centre: Centre, result: ReportResult) -> None:
    assert result.pack is not None
    body = " ".join(text(result.pack).split())
    sampled = query(centre, "SELECT c.iqa_date, l.uln, c.ref FROM criteria c JOIN learners l ON l.id = c.learner_id "
                            "WHERE c.iqa_decision IS NOT NULL OR lower(c.iqa_sampled) = 'yes'")
    assert sampled, "the demo has IQA sampling"
    assert f"{len(sampled)} criterion decision(s) sampled by an IQA" in body
    for iqa_date, uln, _ref in sampled:
        y, m, d = str(iqa_date)[:10].split("-")
        assert f"{d}/{m}/{y}" in body and str(uln) in body
    for heading in ("Sampling strategy", "Sampling plan", "Sampling record", "Coverage"):
        assert heading in body


def test_pack_shows_the_sampling_plan_of_tracker_plan(centre: Centre, result: ReportResult) -> None:
    assert result.pack is not None
    body = " ".join(text(result.pack).split())
    from tracker.centre.plan import centre_plan, plan_date

    with sqlite3.connect(centre.ledger) as conn:
        made = plan_date(conn)  # type: ignore[arg-type]
    plan = centre_plan(centre, made)
    assert plan.risks, "the demo's assessors have decisions"
    # The risk table's header (tracker.centre.plan.RISK_HEADERS) and each assessor with their level.
    for header in ("Risk", "Reasons", "Rate", "Met", "decisions", "Sampled", "Planned", "Overdue", "Compliant",
                   "Kind", "Reason"):
        assert header in body, header
    for r in plan.risks:
        assert re.search(rf"{re.escape(r.assessor)}\s+{r.level}\b", body), r.assessor
    assert f"{len(plan.items)} decision(s) planned for sampling." in body


def test_pack_holds_the_conflict_and_staff_registers(centre: Centre, result: ReportResult) -> None:
    assert result.pack is not None
    body = " ".join(text(result.pack).split())
    assert "Conflict-of-interest register" in body and "Staff register" in body
    # The demo's IQA tutors a learner on a qualification she quality-assures: a centre finding.
    (message,) = query(centre, "SELECT message FROM centre_issues WHERE code = 'centre-iqa-involved'")[0:1][0]
    assert " ".join(str(message).split())[:60] in body
    from tracker.register import read_register

    reg = read_register(centre.register)[0]
    assert reg.staff and reg.interests
    for m in reg.staff.values():
        assert m.name in body
    assert [(i.staff, i.learner, i.nature) for i in reg.interests] == [
        ("Helen Price", "1000000043", "Neighbour of the learner's family")]
    assert "Helen Price 1000000043 Neighbour of the learner's family 06/01/2025" in body


def test_page_counts_within_bounds(centre: Centre, result: ReportResult) -> None:
    assert result.pack is not None
    assert 4 <= pages(result.pack) <= 20
    assert len(result.learners) == 6
    for pdf in result.learners:
        # One landscape table per unit: 18 (L2) or 14 (L3) units fit in a few pages, never one per unit.
        assert 3 <= pages(pdf) <= 10, pdf.name
        assert result.pages[pdf] == pages(pdf)


def test_every_page_names_the_centre_and_the_learner(centre: Centre, result: ReportResult) -> None:
    pdf = result.learners[0]
    uln = pdf.name.split()[0]
    (name,) = query(centre, f"SELECT name FROM learners WHERE uln = '{uln}'")[0]
    n = pages(pdf)
    for p in range(1, n + 1):
        head = text(pdf, p)
        assert centre.name in head and f"{name}, ULN {uln}" in head, p
        assert f"Page {p} of {n}" in head
    assert result.pack is not None
    for p in (1, pages(result.pack)):
        assert centre.name in text(result.pack, p)


def test_body_text_is_8pt_or_more(result: ReportResult) -> None:
    assert result.pack is not None
    for pdf in (result.pack, result.learners[0]):
        heights = word_heights(pdf)
        assert len(heights) > 500
        smallest = min(heights)
        assert smallest[0] / HELVETICA_BOX >= MIN_PT - 0.01, (pdf.name, smallest)


def test_one_learner_only_and_unknown_uln(centre: Centre, tmp_path: Path) -> None:
    (uln,) = query(centre, "SELECT uln FROM learners ORDER BY uln LIMIT 1")[0]
    r = write_reports(centre.root, tmp_path / "out", [str(uln)])
    assert r.pack is None and len(r.learners) == 1 and r.learners[0].name.startswith(f"{uln} ")
    assert r.learners[0].parent == tmp_path / "out" / "learners"
    with pytest.raises(CentreError, match="1000000043"):
        write_reports(centre.root, tmp_path / "out2", ["1000000043"])
