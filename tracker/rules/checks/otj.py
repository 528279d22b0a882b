"""Off-the-job (OTJ) training: the apprentice's log and its total against the plan and the minimum.

Applies only to an apprentice (a cover with an ``Apprenticeship standard``); a learner who is not an
apprentice gets nothing from here. Per row of the ``Off-the-job`` sheet: hours a number (text such
as "2h30" is reported with the number to type, and not counted), above zero, a plausible total per
day (:data:`tracker.workbook.layout.OTJ_MAX_HOURS_PER_DAY`, a policy limit of the package); the date
readable, inside the programme (start date to planned end date) and not in the future; evidence
refs in the evidence log. Then the total against the cover's planned hours, and the plan against
the minimum for the standard and start date (:mod:`tracker.rules.otj_policy`): with the register,
a standard whose published minimum the centre has not recorded is a warning saying where to find it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check
from tracker.rules.checks.evidence import evidence_key
from tracker.rules.otj_policy import otj_minimum
from tracker.workbook import layout as L
from tracker.workbook.model import Cell, EvidenceRow

_G = "otj"
LOG_MISSING = issue_type(
    "otj-log-missing", Severity.ERROR, "Off-the-job log missing",
    "The learner is an apprentice ({standard}) but the workbook has no off-the-job log (a sheet with the "
    "headers {headers})",
    "An apprentice's off-the-job training must be logged; the sheet was deleted or its headers changed.",
    "Copy the Off-the-job sheet back from an earlier version of the workbook.", group=_G)
STANDARD_UNKNOWN = issue_type(
    "otj-standard-unknown", Severity.ERROR, "Apprenticeship standard not recognised",
    "The apprenticeship standard '{value}' is not a standard code (ST followed by four digits, e.g. ST0072)",
    "The cover's Apprenticeship standard names the standard the apprentice is on, by its code as "
    "published by the Institute for Apprenticeships and Technical Education.",
    "Type the standard's code, e.g. ST0072 (Customer Service Practitioner) or ST0071 (Customer Service "
    "Specialist).", group=_G)
EM_UNKNOWN = issue_type(
    "otj-english-maths-unknown", Severity.WARNING, "English and maths status not recognised",
    "The cover's English and maths status '{value}' is not one of: {choices}",
    "The gateway needs English and maths recorded as one of the dropdown's statuses; anything else "
    "counts as not recorded.",
    "Choose the status from the cell's dropdown.", group=_G)
COVER_DATE_BAD = issue_type(
    "otj-cover-date-unreadable", Severity.ERROR, "Apprenticeship date not understood",
    "The cover's {label}: {problem}",
    "The apprenticeship's start, planned end and gateway sign-off dates must be real dates.",
    "Type the date as dd/mm/yyyy.", group=_G)
DATES_MISSING = issue_type(
    "otj-programme-dates-missing", Severity.WARNING, "Programme dates missing",
    "The cover has no {label}, so off-the-job dates and the minimum hours cannot be checked",
    "The start date and planned end date of the apprenticeship bound the off-the-job log and decide the "
    "minimum hours.",
    "Enter the date on the cover.", group=_G)
HOURS_BAD = issue_type(
    "otj-hours-unreadable", Severity.ERROR, "Hours not understood",
    "Off-the-job row {row}: {problem}; the row's hours are not counted",
    "Hours are a number (2.5 for two and a half hours), so they can be added up. Text such as '2h30' or "
    "'2.5 hours' cannot be counted reliably.",
    "Type the hours as a number.", group=_G)
HOURS_NOT_POSITIVE = issue_type(
    "otj-hours-not-positive", Severity.ERROR, "Hours zero or negative",
    "Off-the-job row {row} has {hours} hours; only positive hours are counted",
    "An off-the-job activity takes some time; zero or negative hours are a slip.",
    "Type the hours the activity took, or delete the row.", group=_G)
DAY_IMPLAUSIBLE = issue_type(
    "otj-day-implausible", Severity.WARNING, "Implausible hours in one day",
    "{hours} off-the-job hours are logged on {date} (rows {rows}), more than {limit} in a day",
    "More hours in one day than a working day can hold usually means a slip (minutes typed as hours, a "
    "week's total on one row).",
    "Check the hours; log a block of several days one row per day.", group=_G)
DATE_MISSING = issue_type(
    "otj-date-missing", Severity.ERROR, "Off-the-job row without a date",
    "Off-the-job row {row} logs hours but has no date",
    "Each off-the-job activity needs its date, to show it falls inside the programme.",
    "Type the date of the activity.", group=_G)
DATE_BAD = issue_type(
    "otj-date-unreadable", Severity.ERROR, "Off-the-job date not understood",
    "Off-the-job row {row}: {problem}",
    "The date of an activity must be a real date.", "Type the date as dd/mm/yyyy.", group=_G)
DATE_OUTSIDE = issue_type(
    "otj-date-outside-programme", Severity.ERROR, "Off-the-job date outside the programme",
    "Off-the-job row {row} is dated {date}, {where}",
    "Only training between the apprenticeship's start date and its planned end date counts as "
    "off-the-job training for it.",
    "Correct the date, or the start / planned end date on the cover if that is wrong.", group=_G)
DATE_FUTURE = issue_type(
    "otj-date-future", Severity.ERROR, "Off-the-job date in the future",
    "Off-the-job row {row} is dated {date}, after today ({today})",
    "Training can only be logged once it has taken place.", "Correct the date.", group=_G)
EVIDENCE_UNKNOWN = issue_type(
    "otj-evidence-unknown", Severity.ERROR, "Off-the-job evidence ref not in the evidence log",
    "Off-the-job row {row} quotes evidence ref '{evidence}', which is not in the evidence log",
    "Evidence quoted for an off-the-job activity must be listed on the Evidence sheet.",
    "Add the evidence to the Evidence sheet, or correct the ref.", group=_G)
BELOW_PLAN = issue_type(
    "otj-below-plan", Severity.INFO, "Off-the-job hours below the plan",
    "{logged} off-the-job hours logged of {planned} planned",
    "The total logged so far, against the planned hours on the cover.",
    "Nothing to do while the programme runs; plan the remaining hours.", group=_G)
PLAN_BELOW_MINIMUM = issue_type(
    "otj-plan-below-minimum", Severity.WARNING, "Planned OTJ hours below the minimum",
    "The planned {planned} off-the-job hours are below the minimum of {minimum} ({how})",
    "An apprenticeship must plan at least the minimum off-the-job hours for its standard and start date.",
    "Raise the planned hours on the cover (and the training plan) to at least the minimum.", group=_G)
BELOW_MINIMUM = issue_type(
    "otj-below-minimum", Severity.WARNING, "Off-the-job hours below the minimum",
    "{logged} off-the-job hours logged, below the minimum of {minimum} ({how}), {when}",
    "By the planned end date (and before the end-point assessment gateway) an apprentice needs at least "
    "the minimum off-the-job hours.",
    "Log the missing training, or review the plan with the employer.", group=_G)
MINIMUM_UNRECORDED = issue_type(
    "otj-minimum-unrecorded", Severity.WARNING, "Minimum OTJ hours not recorded for the standard",
    "No minimum off-the-job hours are recorded for {standard} (start {start}): {source}",
    "For starts from 1 August 2025 the Department for Education publishes a fixed minimum of off-the-job "
    "hours per standard. tracker does not invent that figure: the centre records it.",
    "Look the figure up on GOV.UK (the standard's page on 'Find apprenticeship training' and the funding "
    "rules) and record it on the register's 'Apprenticeship standards' sheet.", group=_G)

_STANDARD = re.compile(r"^ST\d{4}$")
_OTJ_HEADERS = {c.key: c.header for c in L.OTJ_COLUMNS}


def _fmt(d: dt.date) -> str:
    return f"{d:%d/%m/%Y}"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _cover_date(ctx: Context, key: str) -> tuple[dt.date | None, Cell | None]:
    c = ctx.book.cover.get(key)
    if c is None or c.problem is not None or not isinstance(c.value, dt.date):
        return None, c
    return c.value, c


def _cover_number(ctx: Context, key: str) -> float | None:
    c = ctx.book.cover.get(key)
    return c.value if c is not None and c.problem is None and isinstance(c.value, float) else None


def standard_of(ctx: Context) -> str | None:
    """The cover's apprenticeship standard (None: not an apprentice)."""
    c = ctx.book.cover.get("standard")
    if c is None or c.value is None:
        return None
    return "".join(str(c.value).split()).upper()


def logged_hours(rows: list[EvidenceRow]) -> float:
    """The total of the OTJ log's countable hours (positive numbers; text and negatives not counted)."""
    total = 0.0
    for r in rows:
        c = r.cells.get("hours")
        if c is not None and c.problem is None and isinstance(c.value, float) and c.value > 0:
            total += c.value
    return total


@check(LOG_MISSING, STANDARD_UNKNOWN, EM_UNKNOWN, COVER_DATE_BAD, DATES_MISSING, HOURS_BAD, HOURS_NOT_POSITIVE,
       DAY_IMPLAUSIBLE, DATE_MISSING, DATE_BAD, DATE_OUTSIDE, DATE_FUTURE, EVIDENCE_UNKNOWN, BELOW_PLAN,
       needs_spec=False)
def otj(ctx: Context) -> Iterator[Issue]:
    """The apprentice's cover fields and off-the-job log, row by row, and the total against the plan."""
    book = ctx.book
    standard = standard_of(ctx)
    if standard is None:
        return
    sc = book.cover["standard"]
    if not _STANDARD.match(standard):
        yield ctx.issue(STANDARD_UNKNOWN, sc, value=str(sc.value))
    em = book.cover.get("english_maths")
    if em is not None and em.problem is None and em.value is not None and em.value not in L.ENGLISH_MATHS:
        yield ctx.issue(EM_UNKNOWN, em, value=str(em.value), choices=", ".join(L.ENGLISH_MATHS))
    for key in ("start_date", "planned_end_date", "gateway_signoff_date"):
        c = book.cover.get(key)
        if c is not None and c.problem is not None:
            yield ctx.issue(COVER_DATE_BAD, c, label=L.COVER_LABELS[key], problem=c.problem)
    start, start_cell = _cover_date(ctx, "start_date")
    end, end_cell = _cover_date(ctx, "planned_end_date")
    for key, d, c in (("start_date", start, start_cell), ("planned_end_date", end, end_cell)):
        if d is None and (c is None or c.problem is None):
            yield ctx.issue(DATES_MISSING, c, sheet=None if c else book.cover_sheet,
                            label=L.COVER_LABELS[key].lower())
    if book.otj_sheet is None:
        yield ctx.issue(LOG_MISSING, sheet=L.OTJ, standard=standard,
                        headers=", ".join(c.header for c in L.OTJ_COLUMNS))
        return
    logged = {evidence_key(str(v)) for er in book.evidence if (v := er.value("ref"))}
    per_day: dict[dt.date, list[tuple[EvidenceRow, float]]] = {}
    for r in book.otj:
        hc = r.cells.get("hours")
        dc = r.cells.get("date")
        hours: float | None = None
        if hc is not None and hc.problem is not None:
            yield ctx.issue(HOURS_BAD, hc, row=r.row, problem=hc.problem)
        elif hc is not None and isinstance(hc.value, float):
            if hc.value <= 0:
                yield ctx.issue(HOURS_NOT_POSITIVE, hc, row=r.row, hours=_num(hc.value))
            else:
                hours = hc.value
        if dc is None or (dc.value is None and dc.problem is None):
            if hours is not None:
                yield ctx.issue(DATE_MISSING, dc, sheet=r.sheet, row=r.row)
        elif dc.problem is not None:
            yield ctx.issue(DATE_BAD, dc, row=r.row, problem=dc.problem)
        elif isinstance(d := dc.value, dt.date):
            if d > ctx.today:
                yield ctx.issue(DATE_FUTURE, dc, row=r.row, date=_fmt(d), today=_fmt(ctx.today))
            elif start is not None and d < start:
                yield ctx.issue(DATE_OUTSIDE, dc, row=r.row, date=_fmt(d), where=f"before the start date {_fmt(start)}")
            elif end is not None and d > end:
                yield ctx.issue(DATE_OUTSIDE, dc, row=r.row, date=_fmt(d),
                                where=f"after the planned end date {_fmt(end)}")
            if hours is not None:
                per_day.setdefault(d, []).append((r, hours))
        ec = r.cells.get("evidence_refs")
        if book.evidence_sheet is not None and ec is not None and ec.value:
            for ev in ec.value:
                if evidence_key(ev) not in logged:
                    yield ctx.issue(EVIDENCE_UNKNOWN, ec, row=r.row, evidence=ev)
    for d, entries in sorted(per_day.items()):
        total = sum(h for _, h in entries)
        if total > L.OTJ_MAX_HOURS_PER_DAY:
            first = entries[0][0]
            yield ctx.issue(DAY_IMPLAUSIBLE, first.cells.get("hours"), hours=_num(total), date=_fmt(d),
                            rows=", ".join(str(r.row) for r, _ in entries), limit=_num(L.OTJ_MAX_HOURS_PER_DAY))
    planned = _cover_number(ctx, "planned_otj_hours")
    total = logged_hours(book.otj)
    if planned is not None and total < planned:
        yield ctx.issue(BELOW_PLAN, book.cover.get("planned_otj_hours"), logged=_num(total), planned=_num(planned))


@check(PLAN_BELOW_MINIMUM, BELOW_MINIMUM, MINIMUM_UNRECORDED, needs_spec=False, needs_register=True)
def otj_minimum_hours(ctx: Context) -> Iterator[Issue]:
    """The planned and logged OTJ hours against the minimum for the standard and start date."""
    standard = standard_of(ctx)
    if standard is None:
        return
    start, _ = _cover_date(ctx, "start_date")
    end, _ = _cover_date(ctx, "planned_end_date")
    signed, _ = _cover_date(ctx, "gateway_signoff_date")
    m = otj_minimum(standard, start, end, _cover_number(ctx, "weekly_hours"), ctx.register)
    if m.hours is None:
        if m.missing == "figure" and start is not None and m.rule is not None:
            yield ctx.issue(MINIMUM_UNRECORDED, ctx.book.cover.get("standard"), standard=standard,
                            start=_fmt(start), source=m.rule.source)
        return
    planned = _cover_number(ctx, "planned_otj_hours")
    pc = ctx.book.cover.get("planned_otj_hours")
    if planned is not None and planned < m.hours:
        yield ctx.issue(PLAN_BELOW_MINIMUM, pc, planned=_num(planned), minimum=_num(m.hours), how=m.explanation)
    total = logged_hours(ctx.book.otj)
    # While the programme runs, fewer hours than the minimum is normal: a finding only once the
    # planned end date has passed or the employer has signed the gateway.
    due = signed is not None or (end is not None and end <= ctx.today)
    if due and total < m.hours:
        when = "and the employer has signed the gateway" if signed is not None else "and the planned end date has passed"
        yield ctx.issue(BELOW_MINIMUM, pc, sheet=None if pc else ctx.book.cover_sheet, logged=_num(total),
                        minimum=_num(m.hours), how=m.explanation, when=when)
