"""The engine: clean workbooks are clean, unreadable files become one issue, every code is declared,
catalogued and documented, folders expand as documented, the qualification and reading resolve."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures import (
    L2,
    L3,
    TODAY,
    at,
    complete_record,
    errors,
    found,
    not_info,
    record,
    signed,
    staff_register,
    validate,
    write,
)

from tracker.issues import CATALOGUE, Issue, Severity
from tracker.rules import engine
from tracker.rules.checks import ALL_CHECKS
from tracker.rules.checks.base import Check, Context
from tracker.rules.engine import (
    ENGINE_CODES,
    FILE_UNREADABLE,
    UndeclaredCode,
    check_workbook,
    expand_paths,
    scan_paths,
    validate_file,
    validate_paths,
)
from tracker.workbook.reader import read_workbook


@pytest.mark.parametrize("q, pathway, reading", [
    (L2, "face-to-face", None),
    (L2, "non-facing", None),
    (L2, "face-to-face", "unit-guidance"),
    (L2, "non-facing", "unit-guidance"),
    (L3, None, None),
])
def test_complete_signed_workbook_has_no_error_or_warning(tmp_path: Path, q: object, pathway: str | None,
                                                          reading: str | None) -> None:
    p = write(tmp_path, q, complete_record(q, pathway, reading), reading=reading)  # type: ignore[arg-type]
    task = validate(p, register=staff_register())
    assert not_info(task) == []
    assert [i.code for i in task.issues] == ["completion-qualification-complete"]
    assert task.valid
    assert (task.learner, task.uln, task.qualification_number) == ("Bob Learner", "1000000043", q.number)  # type: ignore[attr-defined]


def test_unit_guidance_complete_is_incomplete_under_criteria_table(tmp_path: Path) -> None:
    # A non-facing learner under the unit-guidance reading skips B17.1; the default reading needs it.
    p = write(tmp_path, L2, complete_record(L2, "non-facing", "unit-guidance"), reading="unit-guidance")
    task = validate(p, reading="criteria-table")
    codes = [i.code for i in task.issues]
    assert "completion-qualification-incomplete" in codes
    assert "pathway-reading-differs" in codes


def test_unreadable_file_is_one_error_and_others_still_validated(tmp_path: Path) -> None:
    good = write(tmp_path, L3, complete_record(L3, None), name="a-good.xlsx")
    bad = tmp_path / "b-bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    csv = tmp_path / "c-renamed.xlsx"
    csv.write_text("Learner name,ULN\nBob,1000000043\n")
    report = validate_paths([tmp_path], today=TODAY)
    assert [Path(t.file).name for t in report.tasks] == ["a-good.xlsx", "b-bad.xlsx", "c-renamed.xlsx"]
    assert report.tasks[0].valid
    for t in report.tasks[1:]:
        assert [(i.code, i.severity) for i in t.issues] == [("file-unreadable", Severity.ERROR)]
        assert Path(t.file).name in t.issues[0].message
    assert not report.valid
    assert good.exists()


def test_missing_file_is_unreadable_not_an_exception(tmp_path: Path) -> None:
    task = validate_file(tmp_path / "gone.xlsx")
    assert [i.code for i in task.issues] == ["file-unreadable"]


def test_folder_expansion_skips_lock_and_temp_files(tmp_path: Path) -> None:
    for name in ("b.xlsx", "a.XLSM", "~$b.xlsx", ".~tracker-123.xlsx", "notes.txt", "c.xls"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.xlsx").mkdir()
    (tmp_path / "t.xltx").write_bytes(b"x")
    got = [p.name for p in expand_paths([tmp_path, tmp_path / "~$b.xlsx"])]
    # .xls (and .ods) are workbooks too; a file named explicitly is always taken
    assert got == ["a.XLSM", "b.xlsx", "c.xls", "~$b.xlsx"]
    files, skipped = scan_paths([tmp_path])
    assert [(p.name, why.split(" (")[0].split(":")[0]) for p, why in skipped] == [
        (".~tracker-123.xlsx", "a temporary file tracker is writing or left behind"),
        ("notes.txt", "not a spreadsheet"),
        ("sub.xlsx", "a folder"),
        ("t.xltx", "an Excel template, not a workbook"),
        ("~$b.xlsx", "an Office lock file"),
    ]


def test_every_check_declares_catalogued_documented_codes() -> None:
    codes = [t.code for chk in ALL_CHECKS for t in chk.codes] + [t.code for t in ENGINE_CODES]
    assert len(codes) == len(set(codes)), "a code is declared by two checks"
    pattern = re.compile(r"^(file|structure|value|id|tamper|pathway|completion|date|evidence|iqa|coi|staff|otj|plausible|"
                         r"internal)-[a-z0-9]+(-[a-z0-9]+)*$")
    for code in codes:
        assert pattern.match(code), code
        t = CATALOGUE[code]
        assert t.title and t.description and t.fix and t.template and t.group
    docs = (Path(__file__).parent.parent / "docs" / "issues.md").read_text(encoding="utf-8")
    for code in codes:
        assert f'<a id="{code}"></a>' in docs, f"{code} is not documented in docs/issues.md"


def test_emitting_an_undeclared_code_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = CATALOGUE["date-future"]

    def rogue(ctx: Context) -> Iterator[Issue]:
        yield ctx.issue(other)

    monkeypatch.setattr(engine, "ALL_CHECKS", (Check("rogue", (CATALOGUE["iqa-no-name"],), rogue),))
    book = read_workbook(write(tmp_path, L3, record()))
    with pytest.raises(UndeclaredCode):
        check_workbook(book)


def test_a_failing_check_becomes_one_issue_and_the_others_run(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: Context) -> Iterator[Issue]:
        raise ZeroDivisionError("boom")
        yield  # a generator, like every check

    monkeypatch.setattr(engine, "ALL_CHECKS", (Check("broken", (), broken), *ALL_CHECKS))
    p = write(tmp_path, L3, record({"K1.1": signed(L3, "K1.1")}, pathway=None, evidence=()))
    task = validate(p)
    codes = [i.code for i in task.issues]
    assert codes.count("internal-check-failed") == 1
    assert "evidence-ref-unknown" in codes
    assert "boom" in next(i.message for i in task.issues if i.code == "internal-check-failed")


def test_a_check_failing_half_way_keeps_what_it_yielded_before(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    declared = CATALOGUE["iqa-no-name"]

    def half(ctx: Context) -> Iterator[Issue]:
        yield ctx.issue(declared, sheet="Unit 1", cell="L7", ref="K1.1", decision="Agreed")
        raise KeyError("gone")

    monkeypatch.setattr(engine, "ALL_CHECKS", (Check("half", (declared,), half),))
    task = check_workbook(read_workbook(write(tmp_path, L3, record())))
    assert [(i.code, i.sheet, i.cell) for i in task.issues] == [
        ("iqa-no-name", "Unit 1", "L7"), ("internal-check-failed", None, None)]
    assert "'half' check" in task.issues[1].message and "KeyError" in task.issues[1].message


def test_an_undeclared_code_before_a_failure_still_raises(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def rogue_then_broken(ctx: Context) -> Iterator[Issue]:
        yield ctx.issue(CATALOGUE["date-future"])
        raise ValueError("late")

    monkeypatch.setattr(engine, "ALL_CHECKS", (Check("rogue", (CATALOGUE["iqa-no-name"],), rogue_then_broken),))
    with pytest.raises(UndeclaredCode):
        check_workbook(read_workbook(write(tmp_path, L3, record())))


def test_catalogue_codes_emitted_by_a_messy_workbook_are_all_known(tmp_path: Path) -> None:
    """Whatever the checks emit is in the catalogue (the engine also enforces declared codes)."""
    e = {
        "S9.4": signed(L2, "S9.4", 1, assessor=None, iqa="Bob Learner", iqa_decision="Referred back"),
        "K1.1": signed(L2, "K1.1", 2, evidence_refs=("E99",), method="Observation"),
        "K1.2": signed(L2, "K1.2", 3, decision="Done"),
    }
    p = write(tmp_path, L2, record(e, uln="1000000044"))
    task = validate(p, register=staff_register())
    assert task.issues
    for i in task.issues:
        assert i.code in CATALOGUE
        assert i.file == str(p)
        assert i.severity is CATALOGUE[i.code].severity


def test_qualification_given_explicitly_or_looked_up(tmp_path: Path) -> None:
    p = write(tmp_path, L3, complete_record(L3, None))
    assert validate(p).valid
    # Validated against the wrong qualification: the cover's number does not match, nothing is found.
    t = validate(p, qualification=L2)
    codes = {i.code for i in t.issues}
    assert "id-qualification-number-mismatch" in codes
    assert "tamper-unit-missing" in codes


def test_locations_match_the_writers_layout(tmp_path: Path) -> None:
    """The helper the tests use for locations agrees with what the reader reports."""
    p = write(tmp_path, L2, record({"S9.1": signed(L2, "S9.1", 1, evidence_refs=())}))
    task = validate(p)
    assert found(task, "completion-met-no-evidence") == [("completion-met-no-evidence", *at(L2, "S9.1", "evidence_refs"))]
    issue = next(i for i in task.issues if i.code == "completion-met-no-evidence")
    assert (issue.unit, issue.criterion) == ("9", "S9.1")
    assert issue.message == "S9.1 is marked Met but has no evidence ref"


def test_check_workbook_reading_resolution(tmp_path: Path) -> None:
    rec = complete_record(L2, "face-to-face", "unit-guidance")
    p = write(tmp_path, L2, rec, reading="unit-guidance")
    # The workbook's recorded reading is used when none is asked for.
    assert validate(p).valid
    # An unknown explicit reading is an error; the recorded one is then applied.
    t = validate(p, reading="nonsense")
    assert found(t, "pathway-reading-unknown") == [("pathway-reading-unknown", None, None)]
    assert "completion-qualification-complete" in {i.code for i in t.issues}


def test_today_defaults_to_the_real_date(tmp_path: Path) -> None:
    import datetime as dt

    far = dt.date.today() + dt.timedelta(days=30)
    e = {"K1.1": dataclasses.replace(signed(L3, "K1.1", 1), assessor_date=far)}
    p = write(tmp_path, L3, record(e, pathway=None))
    assert "date-future" in {i.code for i in validate_file(p).issues}
    assert errors(validate_file(p, today=far)) == []
