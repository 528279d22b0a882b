"""`tracker new` through the real entry point: one learner, a cohort CSV, and misuse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tracker.spec.catalogue import load_qualification
from tracker.workbook.reader import read_workbook


def tracker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True, text=True, timeout=120)


def test_new_one_learner(tmp_path: Path) -> None:
    out = tmp_path / "jo.xlsx"
    r = tracker("new", "--qualification", "603/4687/5", "--learner-name", "Jo Bloggs", "--uln", "1000000043",
                "--pathway", "non-facing", "--assessor", "Ann Assessor", "--iqa", "Ian Iqa", "--tutor", "Tia",
                "--registration-date", "2024-09-02", "-o", str(out))
    assert r.returncode == 0, r.stderr
    book = read_workbook(out, load_qualification("603/4687/5"))
    assert (book.learner_name, book.uln, book.pathway) == ("Jo Bloggs", "1000000043", "non-facing")
    assert book.cover_value("assessor") == "Ann Assessor"
    assert str(book.cover_value("registration_date")) == "2024-09-02"
    assert book.meta["reading"] == "criteria-table" and len(book.meta["workbook_id"]) == 36


def test_new_with_the_other_reading(tmp_path: Path) -> None:
    out = tmp_path / "jo.xlsx"
    r = tracker("new", "-q", "603/4687/5", "--learner-name", "Jo", "--uln", "1000000043",
                "--pathway", "face-to-face", "--reading", "unit-guidance", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert read_workbook(out).meta["reading"] == "unit-guidance"


def test_new_l3_needs_no_pathway(tmp_path: Path) -> None:
    r = tracker("new", "-q", "603/4688/7", "--learner-name", "Al", "--uln", "1234567899", "-o", str(tmp_path / "a.xlsx"))
    assert r.returncode == 0, r.stderr


def test_new_refuses_bad_learner_details(tmp_path: Path) -> None:
    out = tmp_path / "x.xlsx"
    for args, fragment in [
        (["--uln", "1000000044", "--pathway", "face-to-face"], "check digit"),
        (["--uln", "1000000043"], "give the pathway"),
        (["--uln", "1000000043", "--pathway", "telepathic"], "unknown pathway"),
        (["--uln", "1000000043", "--pathway", "face-to-face", "--registration-date", "soon"], "not a date"),
    ]:
        r = tracker("new", "-q", "603/4687/5", "--learner-name", "Jo", *args, "-o", str(out))
        assert r.returncode == 1 and fragment in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_new_misuse_exits_2(tmp_path: Path) -> None:
    r = tracker("new", "-q", "603/4687/5", "--learner-name", "Jo")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = tracker("new", "-q", "603/4687/5", "--learner-name", "Jo", "--uln", "1000000043",
                "--pathway", "face-to-face", "--reading", "nonsense", "-o", str(tmp_path / "x.xlsx"))
    assert r.returncode == 2 and "nonsense" in r.stderr
    r = tracker("new")
    assert r.returncode == 2


def test_unknown_qualification(tmp_path: Path) -> None:
    r = tracker("new", "-q", "999/9999/9", "--learner-name", "Jo", "--uln", "1000000043", "-o", str(tmp_path / "x.xlsx"))
    assert r.returncode == 1 and "999/9999/9" in r.stderr


def test_cohort_csv(tmp_path: Path) -> None:
    csv = tmp_path / "cohort.csv"
    csv.write_text(
        "\ufeffLearner name,ULN,Pathway,Assessor,IQA,Tutor,Employer,Registration date\n"
        "Jo Bloggs,1000000043,face-to-face,Ann Assessor,Ian Iqa,Tia,Acme,02/09/2024\n"
        "Sam Smith,1000000044,non-facing,Ann Assessor,Ian Iqa,Tia,Acme,2024-09-02\n"
        "\n"
        "Jo Bloggs,1234567899,Non-facing,Bob Assessor,Ian Iqa,Tia,Beta Ltd,2024-09-03\n"
        "Kim Lee,9999999999,face-to-face,,,,,\n"
        "Dup,1000000043,face-to-face,,,,,\n", encoding="utf-8")
    out = tmp_path / "out"
    r = tracker("new", "-q", "603/4687/5", "--cohort", str(csv), "--out-dir", str(out))
    assert r.returncode == 1  # two bad rows
    assert f"{csv}, line 3:" in r.stderr and "check digit" in r.stderr
    assert f"{csv}, line 7:" in r.stderr and "already on line 2" in r.stderr
    files = sorted(p.name for p in out.glob("*.xlsx"))
    assert files == ["Jo_Bloggs_1000000043.xlsx", "Jo_Bloggs_1234567899.xlsx", "Kim_Lee_9999999999.xlsx"]
    assert "3 workbook(s) written" in r.stdout
    second = read_workbook(out / "Jo_Bloggs_1234567899.xlsx", load_qualification("603/4687/5"))
    assert second.pathway == "non-facing" and second.cover_value("employer") == "Beta Ltd"


def test_cohort_unknown_column_names_it(tmp_path: Path) -> None:
    csv = tmp_path / "cohort.csv"
    csv.write_text("Learner name,ULN,Favourite colour\nJo,1000000043,blue\n")
    r = tracker("new", "-q", "603/4687/5", "--cohort", str(csv), "--out-dir", str(tmp_path / "o"))
    assert r.returncode == 2 and "Favourite colour" in r.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
