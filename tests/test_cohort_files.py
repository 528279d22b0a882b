"""Cohort files as Excel and LibreOffice save them, through ``tracker new --cohort`` (issue 15):
every encoding and separator Excel writes, an .xlsx sheet, and errors that name the line and say
how to fix it. Each file is written byte by byte here, as the spreadsheet program would."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from tracker.workbook.reader import read_workbook

QN = "603/4687/5"
HEADER = ["Learner name", "ULN", "Pathway", "Registration date"]
ROWS = [["José Núñez", "1000000043", "Face-to-face", "06/01/2025"],
        ["Zoë O'Brien", "1234567899", "Non-facing", "07/01/2025"]]


def tracker(*args: str | Path) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "tracker", *map(str, args)], capture_output=True, text=True,
                       encoding="utf-8", timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def _csv(sep: str, rows: list[list[str]] = ROWS) -> str:
    return "\r\n".join(sep.join(r) for r in [HEADER, *rows]) + "\r\n"  # Excel ends lines with CRLF


CASES = {
    # Excel "CSV UTF-8 (Comma delimited)": a byte order mark first
    "utf8-bom-comma": ("\ufeff" + _csv(",")).encode("utf-8"),
    # LibreOffice's default CSV: UTF-8 without a BOM
    "utf8-comma": _csv(",").encode("utf-8"),
    # Excel "CSV (Comma delimited)" on a UK Windows: the ANSI code page, "é" is one byte E9
    "cp1252-comma": _csv(",").encode("cp1252"),
    # the same in a European locale, where the list separator is ";"
    "cp1252-semicolon": _csv(";").encode("cp1252"),
    "utf8-bom-semicolon": ("\ufeff" + _csv(";")).encode("utf-8"),
    # Excel's "sep=" hint line, which Excel itself honours when opening a CSV
    "sep-line": ("sep=;\r\n" + _csv(";")).encode("cp1252"),
    # Excel "Unicode Text": UTF-16 with a byte order mark, tab separated
    "utf16-tab": _csv("\t").encode("utf-16"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_cohort_csv_as_excel_saves_it(case: str, tmp_path: Path) -> None:
    assert "José".encode("cp1252") == b"Jos\xe9"  # the byte that used to fail as UTF-8
    src = tmp_path / "cohort.csv"
    src.write_bytes(CASES[case])
    out = tmp_path / "out"
    r = tracker("new", "-q", QN, "--cohort", src, "--out-dir", out)
    assert r.returncode == 0, r.stderr
    assert "2 workbook(s) written" in r.stdout
    books = sorted((read_workbook(p) for p in out.glob("*.xlsx")), key=lambda b: b.uln)
    assert [(b.learner_name, b.uln, b.cover_value("pathway"), b.cover["registration_date"].value) for b in books] == [
        ("José Núñez", "1000000043", "Face-to-face", dt.date(2025, 1, 6)),
        ("Zoë O'Brien", "1234567899", "Non-facing", dt.date(2025, 1, 7)),
    ]


def test_cohort_xlsx_sheet(tmp_path: Path) -> None:
    src = tmp_path / "cohort.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    # As a person types them in Excel: the ULN becomes a number, the date a real date.
    ws.append(["José Núñez", 1000000043, "Face-to-face", dt.date(2025, 1, 6)])
    ws.append([None, None, None, None])  # a blank row in between is skipped
    ws.append(["Zoë O'Brien", "1234567899", "non-facing", "07/01/2025"])
    wb.save(src)
    out = tmp_path / "out"
    r = tracker("new", "-q", QN, "--cohort", src, "--out-dir", out)
    assert r.returncode == 0, r.stderr
    books = sorted((read_workbook(p) for p in out.glob("*.xlsx")), key=lambda b: b.uln)
    assert [(b.learner_name, b.uln, b.cover["registration_date"].value) for b in books] == [
        ("José Núñez", "1000000043", dt.date(2025, 1, 6)), ("Zoë O'Brien", "1234567899", dt.date(2025, 1, 7))]


def test_errors_name_the_line_and_the_fix(tmp_path: Path) -> None:
    src = tmp_path / "c.csv"
    out = tmp_path / "out"
    src.write_text("Lerner name;ULN\r\nJo;1000000043\r\n", encoding="utf-8")
    r = tracker("new", "-q", QN, "--cohort", src, "--out-dir", out)
    assert r.returncode == 2
    assert f"{src}: line 1: unknown column 'Lerner name'; did you mean 'Learner name'?" in r.stderr

    src.write_text("\r\n\r\nLearner name,ULN,Pathway\r\n" "Jo Smith,1000000043,Face-to-face\r\n"
                   "Ann, Bee,1234567899,Face-to-face\r\n" "Cy,123,Face-to-face\r\n", encoding="utf-8")
    r = tracker("new", "-q", QN, "--cohort", src, "--out-dir", out)
    assert r.returncode == 1
    # Physical lines, blank ones counted: the header is on line 3.
    assert f"{src}, line 5: 4 values for 3 columns (a value holding the separator must be in double quotes)" \
        in r.stderr
    assert f"{src}, line 6: ULN '123' is not 10 digits" in r.stderr
    assert "1 workbook(s) written" in r.stdout

    src.write_bytes(b"Learner name,ULN\r\nJo,1000000043\r\nA\x81,1234567899\r\n")  # 0x81: no character in cp1252
    r = tracker("new", "-q", QN, "--cohort", src, "--out-dir", out)
    assert r.returncode == 2
    assert f"{src}: line 3: the file is neither UTF-8 nor Windows-1252 text; save it from Excel as " \
           "'CSV UTF-8 (Comma delimited)'" in r.stderr

    src.write_text("ULN,Pathway\r\n1000000043,Face-to-face\r\n", encoding="utf-8")
    r = tracker("new", "-q", QN, "--cohort", src, "--out-dir", out)
    assert r.returncode == 2 and "line 1: the header row has no 'Learner name' column" in r.stderr
