"""Dates: readable; evidence <= assessor <= IQA; nothing in the future; nothing before registration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fixtures import L3, REGISTERED, TODAY, at, cover_at, edit, evidence_at, found, norm, record, signed, validate, write

from tracker.rules.checks import dates as D
from tracker.workbook import layout as L
from tracker.workbook.model import EvidenceEntry

DAY = dt.timedelta(days=1)


def test_unparseable_dates(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1), "K1.2": signed(L3, "K1.2", 2), "K1.5": signed(L3, "K1.5", 3, sampled=True)}
    p = edit(write(tmp_path, L3, record(e, pathway=None)), {
        at(L3, "K1.1", "evidence_date"): "last week",
        at(L3, "K1.2", "assessor_date"): "31/02/2024",
        at(L3, "K1.5", "iqa_date"): "#VALUE!",
        cover_at("registration_date"): "sometime in 2024",
    })
    task = validate(p)
    assert found(task, D.dates) == norm([
        ("date-unparseable", *at(L3, "K1.1", "evidence_date")),
        ("date-unparseable", *at(L3, "K1.2", "assessor_date")),
        ("date-unparseable", *at(L3, "K1.5", "iqa_date")),
        ("date-unparseable", *cover_at("registration_date")),
    ])
    msgs = {i.cell: i.message for i in task.issues if i.code == "date-unparseable"}
    assert msgs[at(L3, "K1.2", "assessor_date")[1]] == "K1.2's Assessor date: '31/02/2024' is not a real date"
    # An unreadable date is not also reported as missing.
    assert "completion-met-no-date" not in {i.code for i in task.issues}


def test_future_dates(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1, assessor_date=TODAY + DAY, evidence_date=TODAY),
         "K1.2": signed(L3, "K1.2", 2, evidence_date=TODAY, assessor_date=TODAY)}  # today is fine
    ev = (EvidenceEntry("E1", date=TODAY + 10 * DAY), EvidenceEntry("E2", date=TODAY))
    task = validate(write(tmp_path, L3, record(e, pathway=None, evidence=ev)))
    assert found(task, D.dates) == norm([
        ("date-future", *at(L3, "K1.1", "assessor_date")),
        ("date-future", *evidence_at(0, "date")),
    ])


def test_before_registration_except_prior_learning(tmp_path: Path) -> None:
    early = REGISTERED - 30 * DAY
    e = {"K1.1": signed(L3, "K1.1", 1, evidence_date=early),
         "K1.2": signed(L3, "K1.2", 2, evidence_date=early, method="Recognition of prior learning"),
         "K1.5": signed(L3, "K1.5", 3, evidence_date=early, assessor_date=REGISTERED - DAY)}
    task = validate(write(tmp_path, L3, record(e, pathway=None)))
    assert found(task, D.dates) == norm([
        ("date-before-registration", *at(L3, "K1.1", "evidence_date")),
        ("date-before-registration", *at(L3, "K1.5", "evidence_date")),
        ("date-before-registration", *at(L3, "K1.5", "assessor_date")),
    ])


def test_order_of_dates(tmp_path: Path) -> None:
    d = dt.date(2024, 5, 10)
    e = {"K1.1": signed(L3, "K1.1", 1, evidence_date=d, assessor_date=d - DAY),
         "K1.2": signed(L3, "K1.2", 2, sampled=True, evidence_date=d, assessor_date=d, iqa_date=d - DAY),
         "K1.5": signed(L3, "K1.5", 3, sampled=True, evidence_date=d, assessor_date=d, iqa_date=d),  # same day: fine
         # Referred back, then re-signed after the IQA's date: not an order problem.
         "K1.6": signed(L3, "K1.6", 4, sampled=True, evidence_date=d, assessor_date=d + 5 * DAY, iqa_date=d + DAY,
                        iqa_decision=L.REFERRED_BACK)}
    task = validate(write(tmp_path, L3, record(e, pathway=None)))
    assert found(task, D.dates) == norm([
        ("date-assessed-before-evidence", *at(L3, "K1.1", "assessor_date")),
        ("date-iqa-before-assessment", *at(L3, "K1.2", "iqa_date")),
    ])


def test_registration_date_missing(tmp_path: Path) -> None:
    task = validate(write(tmp_path, L3, record({}, pathway=None, registration_date=None)))
    assert found(task, D.dates) == [("date-registration-missing", *cover_at("registration_date"))]


def test_text_dates_in_uk_form_are_understood(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1)}
    p = edit(write(tmp_path, L3, record(e, pathway=None)), {
        at(L3, "K1.1", "evidence_date"): "01/03/2024", at(L3, "K1.1", "assessor_date"): "2 March 2024"})
    assert found(validate(p), D.dates) == []


def test_an_order_error_that_swapping_day_and_month_would_mend_says_so(tmp_path: Path) -> None:
    # As a UK assessor types them into a spreadsheet set to US dates: "06/05/2024" meant as 6 May
    # is stored as 5 June; "20/05/2024" is no US date, stays text and reads as 20 May.
    tail = "; set the spreadsheet to UK dates, as the cover sheet says, and type it again)"
    e = {"K1.1": signed(L3, "K1.1", 1, evidence_date=dt.date(2024, 6, 5), assessor_date=dt.date(2024, 5, 20)),
         # 20 and 15 cannot be months: no hint
         "K1.2": signed(L3, "K1.2", 2, evidence_date=dt.date(2024, 3, 20), assessor_date=dt.date(2024, 3, 15)),
         # IQA "04/05/2024" meant as 4 May, stored as 5 April, before the assessor's 10 April
         "K1.5": signed(L3, "K1.5", 3, sampled=True, evidence_date=dt.date(2024, 4, 1),
                        assessor_date=dt.date(2024, 4, 10), iqa_date=dt.date(2024, 4, 5)),
         # "12/03/2025" meant as 12 March, stored as 3 December: in the future on 30 June 2025
         "K1.6": signed(L3, "K1.6", 4, evidence_date=dt.date(2025, 3, 1), assessor_date=dt.date(2025, 12, 3)),
         # registered 8 January 2024; "01/03/2024" meant as 1 March, stored as 3 January
         "K2.1": signed(L3, "K2.1", 5, evidence_date=dt.date(2024, 1, 3), assessor_date=dt.date(2024, 3, 2))}
    task = validate(write(tmp_path, L3, record(e, pathway=None)), today=TODAY)
    msgs = {(i.code, i.criterion): i.message for i in task.issues if i.code.startswith("date-")}
    assert msgs[("date-assessed-before-evidence", "K1.1")] == (
        "K1.1 was signed off on 20/05/2024, before its evidence date 05/06/2024 (possibly typed as month/day: "
        "if the evidence date was meant as 6 May 2024, it is in order" + tail)
    assert msgs[("date-assessed-before-evidence", "K1.2")] == \
        "K1.2 was signed off on 15/03/2024, before its evidence date 20/03/2024"
    assert msgs[("date-iqa-before-assessment", "K1.5")] == (
        "K1.5's IQA date 05/04/2024 is before the assessor's date 10/04/2024 (possibly typed as month/day: "
        "if the IQA date was meant as 4 May 2024, it is in order" + tail)
    assert msgs[("date-future", "K1.6")].endswith(
        "(today is 30/06/2025) (possibly typed as month/day: if the date was meant as 12 March 2025, it is in order"
        + tail)
    assert msgs[("date-before-registration", "K2.1")].endswith(
        "registration date 08/01/2024 (possibly typed as month/day: if the date was meant as 1 March 2024, it is in "
        "order" + tail)
