"""Apprenticeships: the OTJ minimum rules around 1 August 2025, hours typed as text, the OTJ log's
round trip, one fixture per OTJ rule, and gateway readiness per missing item (unit and roll-up).

Expected figures are worked out by hand in the comments (the oracle), never by the code under test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from fixtures import L2, TODAY, complete_record, edit, found, signed, validate, write
from test_centre_sample import make_centre, roll, sheet_dicts

from tracker.centre import gateway as G
from tracker.centre import ledger as LG
from tracker.centre import master as M
from tracker.register import Register, StandardMinimum
from tracker.rules.checks import otj as O
from tracker.rules.otj_policy import otj_minimum
from tracker.workbook import layout as L
from tracker.workbook.model import EvidenceEntry, LearnerRecord, OtjEntry
from tracker.workbook.reader import parse_hours, read_workbook
from tracker.workbook.writer import new_workbook

START = dt.date(2024, 1, 8)
END = dt.date(2025, 1, 6)  # 364 days after START: 52 weeks
OTJ_FIRST_ROW = L.OTJ_HEADER_ROW + 2  # 1-based spreadsheet row of the log's first entry (row 4)


def _cell(key: str, row: int) -> str:
    """A1 reference of OTJ column ``key`` on 1-based spreadsheet ``row``."""
    return L.col_letter([c.key for c in L.OTJ_COLUMNS].index(key)) + str(row)


def _cover(key: str) -> str:
    return L.cell_ref(L.cover_row(key), L.COVER_VALUE_COL)


# -- the minimum rules ---------------------------------------------------------------------------


def test_weekly_rule_before_1_august_2025() -> None:
    # 364 days = 52 weeks; statutory leave 5.6 weeks a year x 364/365.25 = 5.5808 weeks;
    # 6 h x (52 - 5.5808) = 278.52 -> 278.5 (full time, also when the hours are not given).
    assert otj_minimum("ST0072", START, END, 37.5, None).hours == 278.5
    assert otj_minimum("ST0072", START, END, None, None).hours == 278.5
    # 15 contracted hours a week: pro rata 15/30 -> 139.26 -> 139.3.
    assert otj_minimum("ST0072", START, END, 15, None).hours == 139.3
    # The last day of the weekly rule: 31/07/2025, 52 weeks to 29/07/2026.
    last = otj_minimum("ST0072", dt.date(2025, 7, 31), dt.date(2026, 7, 30), None, None)
    assert (last.hours, last.rule.id if last.rule else None) == (278.5, "weekly-6-hours")


def test_fixed_minimum_from_1_august_2025_comes_from_the_register_only() -> None:
    aug1 = dt.date(2025, 8, 1)
    end = dt.date(2026, 7, 31)
    # No register, or a register without the standard: no figure (never invented), and says so.
    for reg in (None, Register()):
        m = otj_minimum("ST0072", aug1, end, None, reg)
        assert (m.hours, m.missing, m.rule.id if m.rule else None) == (None, "figure", "fixed-per-standard")
    reg = Register(standards=[
        StandardMinimum("ST0072", 187.0, aug1, "recorded by the test", 2),
        StandardMinimum("ST0072", 150.0, dt.date(2026, 8, 1), "a later figure", 3),
        StandardMinimum("ST0071", 300.0, None, "other standard", 4),
    ])
    assert otj_minimum("ST0072", aug1, end, None, reg).hours == 187.0
    assert otj_minimum("st 0072", dt.date(2026, 9, 1), end, None, reg).hours == 150.0  # latest that applies
    assert otj_minimum("ST0071", aug1, end, None, reg).hours == 300.0
    # The day before: the weekly rule, whatever the register says.
    assert otj_minimum("ST0072", dt.date(2025, 7, 31), dt.date(2026, 7, 30), None, reg).hours == 278.5
    # Before 1 August 2022 tracker ships no rule.
    assert otj_minimum("ST0072", dt.date(2022, 7, 31), END, None, reg).missing == "rule"


@pytest.mark.parametrize(("raw", "value", "suggests"), [
    (2.5, 2.5, None), (3, 3.0, None), ("2.5", 2.5, None),
    ("2h30", None, "2.5"), ("2.5 hours", None, "2.5"), ("2:15", None, "2.25"), ("45 mins", None, "0.75"),
    ("lots", None, ""), (True, None, ""),
])
def test_hours_typed_as_text_are_a_problem_naming_the_number(raw: object, value: float | None,
                                                               suggests: str | None) -> None:
    v, problem = parse_hours(raw)
    assert v == value
    if suggests is None:
        assert problem is None
    else:
        assert problem is not None and (not suggests or f"type the number {suggests})" in problem)


# -- the workbook ----------------------------------------------------------------------------------


def apprentice(q=L2, *, otj: tuple[OtjEntry, ...] = (), evidence: tuple[EvidenceEntry, ...] = (),
               sampled: bool = True, **learner_kw: object) -> LearnerRecord:
    """A complete L2 learner (every criterion IQA-sampled when ``sampled``) on ST0072."""
    rec = complete_record(q, "face-to-face")
    if sampled:
        rec = dataclasses.replace(rec, entries={r: dataclasses.replace(e, iqa_sampled=L.YES, iqa="Ian Iqa",
                                                                      iqa_date=e.assessor_date, iqa_decision=L.AGREED)
                                                for r, e in rec.entries.items()})
    kw: dict[str, object] = dict(standard="ST0072", start_date=START, planned_end_date=END, weekly_hours=37.5,
                                 planned_otj_hours=280.0, english_maths=L.EM_ACHIEVED)
    kw.update(learner_kw)
    return dataclasses.replace(rec, learner=dataclasses.replace(rec.learner, **kw),
                               otj=otj, evidence=rec.evidence + evidence)


# 40 weekly sessions of 7 hours = 280 hours, 15/01/2024 to 14/10/2024 (inside the programme).
FULL_LOG = tuple(OtjEntry(START + dt.timedelta(days=7 + 7 * i), f"Session {i + 1}", "Teaching of theory", 7.0,
                          ("OTJ1",), L.YES, "Pat Provider") for i in range(40))
OTJ_EVIDENCE = (EvidenceEntry("OTJ1", "Training records", None, START, "LMS"),)


def test_otj_log_round_trips_and_only_apprentices_see_it(tmp_path: Path) -> None:
    rec = apprentice(otj=FULL_LOG[:3] + (OtjEntry(None, "Note only"),), evidence=OTJ_EVIDENCE)
    p = write(tmp_path, L2, rec, "a.xlsx")
    book = read_workbook(p, L2)
    assert book.otj_sheet == L.OTJ
    assert book.to_record() == rec
    plain = write(tmp_path, L2, complete_record(L2, "face-to-face"), "b.xlsx")
    wb = openpyxl.load_workbook(plain)
    labels = {c.value for c in wb[L.COVER]["A"]}
    assert L.OTJ not in wb.sheetnames
    assert not labels & {L.COVER_LABELS[k] for k in L.COVER_APPRENTICE}
    assert L.COVER_LABELS["planned_end_date"] in labels  # template version 2, for everyone
    # ... and reads and validates without a structure finding for the fields it lacks.
    task = validate(plain)
    assert [i.code for i in task.issues if i.code.startswith(("structure-", "otj-"))] == []


def test_version_1_cover_without_the_new_labels_is_not_a_structure_error(tmp_path: Path) -> None:
    p = write(tmp_path, L2, apprentice(otj=FULL_LOG, evidence=OTJ_EVIDENCE, standard=None))
    edit(p, {(L.COVER, L.cell_ref(L.cover_row("planned_end_date"), 0)): None})
    assert [i.code for i in validate(p).issues if i.code.startswith("structure-")] == []


def test_one_fixture_per_otj_row_rule(tmp_path: Path) -> None:
    future = TODAY + dt.timedelta(days=1)
    day = dt.date(2024, 3, 4)
    log = (
        OtjEntry(dt.date(2024, 2, 5), "Negative", hours=-1.0),                      # row 4
        OtjEntry(START - dt.timedelta(days=1), "Before the start", hours=1.0),      # row 5
        OtjEntry(future, "Tomorrow", hours=1.0),                                     # row 6
        OtjEntry(dt.date(2024, 2, 6), "Unknown evidence", hours=1.0, evidence_refs=("NOPE",)),  # row 7
        OtjEntry(day, "Long day 1", hours=6.0),                                      # row 8
        OtjEntry(day, "Long day 2", hours=6.0),                                      # row 9: 12 h on one day
        OtjEntry(None, "No date", hours=2.0),                                        # row 10
        OtjEntry(dt.date(2024, 2, 7), "Typed as text", hours=1.0),                   # row 11, edited below
    )
    p = write(tmp_path, L2, apprentice(otj=log, planned_end_date=dt.date(2025, 6, 1)))
    edit(p, {(L.OTJ, _cell("hours", 11)): "2h30", (L.OTJ, _cell("date", 12)): "31/02/2024",
             (L.OTJ, _cell("hours", 12)): 1.0, (L.OTJ, _cell("date", 13)): dt.datetime(2025, 6, 2),
             (L.OTJ, _cell("hours", 13)): 1.0})
    task = validate(p)
    assert found(task, O.otj) == sorted([
        ("otj-hours-not-positive", L.OTJ, _cell("hours", 4)),
        ("otj-date-outside-programme", L.OTJ, _cell("date", 5)),
        ("otj-date-future", L.OTJ, _cell("date", 6)),
        ("otj-evidence-unknown", L.OTJ, _cell("evidence_refs", 7)),
        ("otj-day-implausible", L.OTJ, _cell("hours", 8)),
        ("otj-date-missing", L.OTJ, _cell("date", 10)),
        ("otj-hours-unreadable", L.OTJ, _cell("hours", 11)),
        ("otj-date-unreadable", L.OTJ, _cell("date", 12)),
        ("otj-date-outside-programme", L.OTJ, _cell("date", 13)),  # after the planned end date
        ("otj-below-plan", L.COVER, _cover("planned_otj_hours")),
    ])
    text = next(i for i in task.issues if i.code == "otj-hours-unreadable")
    assert "'2h30'" in text.message and "2.5" in text.message


def test_cover_rules_standard_dates_and_missing_log(tmp_path: Path) -> None:
    p = write(tmp_path, L2, apprentice(otj=FULL_LOG, evidence=OTJ_EVIDENCE, standard="XX12", start_date=None))
    edit(p, {(L.COVER, _cover("gateway_signoff_date")): "soon", (L.COVER, _cover("english_maths")): "Passed"},
         delete_sheets=[L.OTJ])
    assert found(validate(p), O.otj) == sorted([
        ("otj-standard-unknown", L.COVER, _cover("standard")),
        ("otj-english-maths-unknown", L.COVER, _cover("english_maths")),
        ("otj-programme-dates-missing", L.COVER, _cover("start_date")),
        ("otj-cover-date-unreadable", L.COVER, _cover("gateway_signoff_date")),
        ("otj-log-missing", L.OTJ, None),
    ])


def test_minimum_rules_with_the_register(tmp_path: Path) -> None:
    reg = Register(standards=[StandardMinimum("ST0072", 300.0, dt.date(2025, 8, 1), "test", 2)])
    # Weekly rule (278.5): planned 200 is below it; 280 logged; signed off -> nothing more.
    p = write(tmp_path, L2, apprentice(otj=FULL_LOG, evidence=OTJ_EVIDENCE, planned_otj_hours=200.0,
                                       gateway_signoff_date=dt.date(2025, 1, 10)), "a.xlsx")
    assert found(validate(p, register=reg), O.otj_minimum_hours) == [
        ("otj-plan-below-minimum", L.COVER, _cover("planned_otj_hours"))]
    # Signed off with 140 hours logged (20 x 7): below the minimum.
    p = write(tmp_path, L2, apprentice(otj=FULL_LOG[:20], evidence=OTJ_EVIDENCE,
                                       gateway_signoff_date=dt.date(2025, 1, 10)), "b.xlsx")
    assert found(validate(p, register=reg), O.otj_minimum_hours) == [
        ("otj-below-minimum", L.COVER, _cover("planned_otj_hours"))]
    # Same, still in programme (planned end after today, not signed): not yet a finding. (723 days:
    # 6 x (103.29 - 11.08 leave weeks) = 553.2 minimum, so plan 600.)
    p = write(tmp_path, L2, apprentice(otj=FULL_LOG[:20], evidence=OTJ_EVIDENCE, planned_otj_hours=600.0,
                                       planned_end_date=dt.date(2025, 12, 31)), "c.xlsx")
    assert found(validate(p, register=reg), O.otj_minimum_hours) == []
    # A start from 1 August 2025 on a standard the register has no figure for: where to get it.
    late = dict(start_date=dt.date(2025, 8, 1), planned_end_date=dt.date(2026, 8, 1), standard="ST0071")
    p = write(tmp_path, L2, apprentice(**late), "d.xlsx")
    task = validate(p, register=reg, today=dt.date(2025, 8, 1))
    assert found(task, O.otj_minimum_hours) == [("otj-minimum-unrecorded", L.COVER, _cover("standard"))]
    assert "Apprenticeship standards" in task.issues[[i.code for i in task.issues].index(
        "otj-minimum-unrecorded")].message


# -- the gateway -------------------------------------------------------------------------------------

READY_APP = LG.Apprenticeship("ST0072", START.isoformat(), END.isoformat(), 37.5, 280.0, 280.0,
                              "2025-01-10", L.EM_ACHIEVED)


def _ready(app: LG.Apprenticeship = READY_APP, *, criteria: bool = True, sampled: dict[int, bool] | None = None,
           decisions: list[str | None] | None = None, register: Register | None = None) -> G.GatewayRow:
    return G.readiness(app, criteria_achieved=criteria, unit_sampled={1: True, 2: True} if sampled is None
                       else sampled, iqa_decisions=decisions or [L.AGREED], register=register)


def test_gateway_ready_and_each_missing_item() -> None:
    assert _ready().missing == [] and _ready().ready
    assert _ready(criteria=False).missing == [G.ITEM_CRITERIA]
    assert _ready(sampled={1: True, 2: False}).missing == [G.ITEM_SAMPLING]
    assert _ready(decisions=[L.AGREED, L.REFERRED_BACK]).missing == [G.ITEM_SAMPLING]
    # 278.5 is the minimum (see test_weekly_rule_before_1_august_2025): 278 is below it.
    assert _ready(dataclasses.replace(READY_APP, otj_hours=278.0)).missing == [
        "OTJ hours 278 below the minimum 278.5"]
    assert _ready(dataclasses.replace(READY_APP, gateway_signoff_date=None)).missing == [G.ITEM_SIGNOFF]
    assert _ready(dataclasses.replace(READY_APP, english_maths=L.EM_IN_PROGRESS)).missing == [
        "English and maths: In progress"]
    assert _ready(dataclasses.replace(READY_APP, english_maths=L.EM_NOT_REQUIRED)).ready  # 19+, the policy
    late = dataclasses.replace(READY_APP, start_date="2025-08-01", planned_end_date="2026-08-01")
    assert [m.split(" (")[0] for m in _ready(late).missing] == ["OTJ minimum unknown"]
    reg = Register(standards=[StandardMinimum("ST0072", 250.0, dt.date(2025, 8, 1), "test", 2)])
    assert _ready(late, register=reg).ready


@pytest.fixture(scope="module")
def rolled(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    c = make_centre(tmp_path_factory.mktemp("gw"))
    ready = apprentice(otj=FULL_LOG, evidence=OTJ_EVIDENCE, gateway_signoff_date=dt.date(2025, 1, 10))
    not_ready = dataclasses.replace(ready, learner=dataclasses.replace(
        ready.learner, name="Nora Notready", uln="1234567899", gateway_signoff_date=None))
    plain = dataclasses.replace(complete_record(L2, "face-to-face"), learner=dataclasses.replace(
        ready.learner, name="Pat Plain", uln="1000000051", standard=None))
    for i, rec in enumerate((ready, not_ready, plain)):
        new_workbook(L2, rec, c.inbox / f"{i}.xlsx")
    roll(c, today=TODAY)
    return sheet_dicts(c.master, M.GATEWAY)


def test_rollup_gateway_sheet(rolled: list[dict[str, object]]) -> None:
    by_name = {r[L.COVER_LABELS["name"]]: r for r in rolled}
    assert sorted(by_name) == [ "Bob Learner", "Nora Notready"]  # the non-apprentice is not listed
    assert by_name["Bob Learner"]["Gateway"] == G.READY
    assert by_name["Bob Learner"]["OTJ hours logged"] == 280
    assert by_name["Bob Learner"]["OTJ minimum"] == 278.5
    assert (by_name["Nora Notready"]["Gateway"], by_name["Nora Notready"]["Missing"]) == (
        G.NOT_READY, G.ITEM_SIGNOFF)


def test_version_1_ledger_is_migrated(tmp_path: Path) -> None:
    conn = LG.connect(tmp_path / "l.sqlite")
    conn.execute("DROP TABLE apprenticeships")
    conn.execute("PRAGMA user_version=1")
    conn.close()
    conn = LG.connect(tmp_path / "l.sqlite")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LG.SCHEMA_VERSION == 6
        assert LG.apprenticeships(conn) == {}
    finally:
        conn.close()


def test_summary_otj_total_recalculates_in_libreoffice_and_log_survives_its_resave(tmp_path: Path) -> None:
    from libreoffice import convert
    from python_calamine import CalamineWorkbook

    rec = apprentice(otj=FULL_LOG[:3], evidence=OTJ_EVIDENCE)  # 3 x 7 = 21 hours
    p = write(tmp_path, L2, rec)
    # Added after writing (so the cached total, 21, is stale): 1.5 hours as a number and "2h30"
    # as text, which SUM -- like the validator -- does not count: 21 + 1.5 = 22.5; 280 - 22.5 = 257.5.
    edit(p, {(L.OTJ, _cell("date", 7)): dt.datetime(2024, 2, 12), (L.OTJ, _cell("hours", 7)): 1.5,
             (L.OTJ, _cell("date", 8)): dt.datetime(2024, 2, 13), (L.OTJ, _cell("hours", 8)): "2h30"})
    out = convert(p, tmp_path / "lo")
    wb = CalamineWorkbook.from_path(str(out))
    rows = wb.get_sheet_by_name(L.SUMMARY).to_python()
    by_label = {r[2]: r[3:5] for r in rows if len(r) > 4 and isinstance(r[2], str)}
    assert by_label[L.SUMMARY_OTJ_TOTAL][0] == 22.5
    assert by_label[L.SUMMARY_OTJ_PLANNED] == [280, "To go: 257.5"]
    back = read_workbook(out, L2).to_record()
    assert back.otj[:3] == rec.otj
    assert back.otj[3] == OtjEntry(dt.date(2024, 2, 12), hours=1.5)


def test_cohort_csv_takes_the_apprenticeship_columns(tmp_path: Path) -> None:
    from tracker.workbook.cohort import make_cohort

    labels = L.COVER_LABELS
    csv_path = tmp_path / "cohort.csv"
    csv_path.write_text(
        f"{labels['name']},{labels['uln']},{labels['pathway']},{labels['standard']},{labels['start_date']},"
        f"{labels['planned_end_date']},{labels['planned_otj_hours']},{labels['english_maths']}\n"
        "Ann Apprentice,1000000043,face-to-face,st0072,01/08/2025,31/07/2026,300,not required (aged 19+)\n"
        "Pat Plain,1234567899,face-to-face,,,31/07/2026,,\n"
        "Bad Code,1000000051,face-to-face,XX1,01/08/2025,31/07/2026,300,\n"
        "Text Hours,1000000078,face-to-face,ST0072,01/08/2025,31/07/2026,2h30,\n", encoding="utf-8")
    result = make_cohort(L2, csv_path, tmp_path / "out")
    assert [(r.line, r.problem.split(":")[0]) for r in result.failed] == [
        (4, "apprenticeship standard 'XX1' is not a standard code (e.g. ST0072)"), (5, "planned OTJ hours")]
    books = {read_workbook(p, L2).to_record().learner.name: read_workbook(p, L2) for p in result.written}
    ann = books["Ann Apprentice"].to_record().learner
    assert (ann.standard, ann.start_date, ann.planned_otj_hours, ann.english_maths) == (
        "ST0072", dt.date(2025, 8, 1), 300.0, L.EM_NOT_REQUIRED)
    assert books["Ann Apprentice"].otj_sheet == L.OTJ
    assert books["Pat Plain"].otj_sheet is None
    assert books["Pat Plain"].to_record().learner.planned_end_date == dt.date(2026, 7, 31)
