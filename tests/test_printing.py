"""What the learner workbook and the centre master look like printed: LibreOffice prints them to
PDF (one conversion per file, module-scoped), poppler's pdftotext reads the pages back.

Legibility is measured relative to the learner workbook's cover, whose two columns fit an A4
page at 100%: its 10 pt values give the height of a 10 pt word in whatever font LibreOffice
substitutes for Calibri; a body word printed at 8 pt or more is at least 0.8 of that.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from libreoffice import convert

from tracker.centre.folder import Centre

pytestmark = [pytest.mark.libreoffice,
              pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")]

NAME = "Jo O'Neil & Sons"  # an ampersand: Excel's header codes start with '&'
ULN = "1000000043"


def page_text(pdf: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def page_count(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]


def heights(pdf: Path, first: int, last: int) -> list[float]:
    out = subprocess.run(["pdftotext", "-bbox", "-f", str(first), "-l", str(last), str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    return [float(b) - float(a) for a, b in re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" '
                                                        r'yMax="([\d.]+)">', out)]


@pytest.fixture(scope="module")
def learner_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tracker.spec.catalogue import load_qualification
    from tracker.workbook.model import Learner, LearnerRecord
    from tracker.workbook.writer import new_workbook

    d = tmp_path_factory.mktemp("print-learner")
    q = load_qualification("603/4687/5")
    record = LearnerRecord(Learner(name=NAME, uln=ULN, pathway="face-to-face"))
    new_workbook(q, record, d / "jo.xlsx")
    return convert(d / "jo.xlsx", d, "pdf")


def test_every_learner_page_names_the_learner(learner_pdf: Path) -> None:
    n = page_count(learner_pdf)
    for p in range(1, n + 1):
        assert f"{NAME}, ULN {ULN}" in page_text(learner_pdf, p), p


def ten_pt(learner_pdf: Path) -> float:
    """The height of a 10 pt word: the cover's values and labels (most of its words)."""
    cover = heights(learner_pdf, 1, 1)
    return max(set(cover), key=cover.count)


def test_unit_pages_print_at_8pt_or_more_within_a_page_bound(learner_pdf: Path) -> None:
    ten = ten_pt(learner_pdf)
    n = page_count(learner_pdf)
    body = heights(learner_pdf, 3, n)
    assert min(body) >= 0.8 * ten - 0.05, (min(body), ten)
    # 18 units: at most 3 pages each, plus cover, summary and evidence log (was 21 at ~6 pt).
    assert n <= 18 * 3 + 6


@pytest.fixture(scope="module")
def master_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Centre, Path]:
    from tracker.demo import build_demo

    c = build_demo(tmp_path_factory.mktemp("print-master") / "centre", learners=6, quiet=True, workers=1)
    return c, convert(c.master, c.root / "printed", "pdf")


def sheet_pages(texts: list[str]) -> Counter[str]:
    """Pages per sheet, from each page's footer ("<sheet>   Page n of N   <date>")."""
    out: Counter[str] = Counter()
    for t in texts:
        m = re.search(r"^\s*(\S.*?)\s{2,}Page \d+ of \d+", t, re.M)
        out[m.group(1) if m else "?"] += 1
    return out


def test_master_prints_within_its_page_bound_legibly(master_pdf: tuple[Centre, Path], learner_pdf: Path) -> None:
    import sqlite3

    c, pdf = master_pdf
    with sqlite3.connect(c.ledger) as conn:
        rows = conn.execute("SELECT count(*) FROM criteria").fetchone()[0]
    n = page_count(pdf)
    from openpyxl import load_workbook

    wb = load_workbook(c.master, read_only=True)
    coverage = wb["IQA sampling"].max_row - 1  # one row per assessor x (unit, method, unit x method)
    wb.close()
    texts = [page_text(pdf, p) for p in range(1, n + 1)]
    pages = sheet_pages(texts)
    # Criteria and IQA sampling: one page width, >= 30 rows a page. The Dashboard: figures and two
    # charts, then the caseload and the month table. The Matrix: one block per qualification,
    # each across at most 4 pages (18 units at 85%). The rest: a page or two for 6 learners.
    assert pages["Criteria"] <= rows // 30 + 1, (pages, rows)
    assert pages["IQA sampling"] <= coverage // 30 + 1, (pages, coverage)
    assert pages["Dashboard"] <= 2 and pages["Matrix"] <= 2 * 4, pages
    for sheet in ("Learners", "Caseload", "Issues", "Progress notes", "Conflicts", "Sampling plan", "Gateway",
                  "Merge log"):
        assert pages[sheet] <= 3, (sheet, pages)
    assert set(pages) <= {"Dashboard", "Learners", "Caseload", "Matrix", "Criteria", "Issues", "Progress notes",
                          "Conflicts", "IQA sampling", "Sampling plan", "Gateway", "Merge log"}, pages
    crit_pages = [t for t in texts if re.search(r"^\s*Criteria\s+Page \d+ of", t, re.M)]  # the footer
    assert crit_pages, "the Criteria sheet printed"
    for t in crit_pages:
        head = t.lstrip().splitlines()[:3]
        assert any("ULN" in h and "Decision" in h for h in head), head  # header row repeated, sign-offs shown
    # Legibility: the master's cells are Calibri 10 like the learner cover's, printed at 80% or
    # more -- the Dashboard too (fitted to the page width only).
    body = heights(pdf, 1, n)
    assert min(body) >= 0.8 * ten_pt(learner_pdf) - 0.05, min(body)
