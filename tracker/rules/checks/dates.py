"""Dates: readable, in order, not in the future, not before the learner's registration.

On each criterion row: evidence date <= assessor date <= IQA date. The IQA-after-assessor rule is
not applied to a row whose IQA decision is Referred back: there the assessor signs again *after*
the IQA's date, which is how the assessor answers a referral (the referral stays open until the
IQA records Agreed, with a new IQA date; see the IQA check). No date may be after ``today`` (the run's
date, injectable for tests). No criterion date may be before the cover's registration date, except
an evidence date on a row assessed by Recognition of prior learning (prior evidence predates the
registration by nature). Evidence log dates are checked for readability and the future only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import COLUMN_HEADERS, Context, check, value
from tracker.spec.models import Unit
from tracker.workbook import layout as L
from tracker.workbook.model import Cell

RPL = "Recognition of prior learning"

UNPARSEABLE = issue_type(
    "date-unparseable", Severity.ERROR, "Date not understood",
    "{what}: {problem}",
    "A date cell holds something that is not a date: text such as 'last week', an impossible date "
    "such as 31/02/2024, a number, or a formula error. Dates are read as real Excel dates or as "
    "dd/mm/yyyy text.",
    "Type the date as dd/mm/yyyy (or pick it in Excel's date format).", group="dates")
FUTURE = issue_type(
    "date-future", Severity.ERROR, "Date in the future",
    "{what} is {date}, which is in the future (today is {today}){hint}",
    "Evidence, decisions and IQA sampling can only be dated on or before the day they happen.",
    "Correct the date (a typing slip in the year or month is the usual cause).", group="dates")
BEFORE_REGISTRATION = issue_type(
    "date-before-registration", Severity.ERROR, "Date before the learner's registration",
    "{what} is {date}, before the learner's registration date {registered}{hint}",
    "Assessment evidence, decisions and IQA cannot predate the learner's registration on the "
    "qualification (evidence gathered by Recognition of prior learning is exempt).",
    "Correct the date, or the registration date on the cover if that is the one that is wrong.",
    group="dates")
ASSESSED_BEFORE_EVIDENCE = issue_type(
    "date-assessed-before-evidence", Severity.ERROR, "Signed off before the evidence date",
    "{ref} was signed off on {assessed}, before its evidence date {evidence}{hint}",
    "An assessor's decision must come after the evidence it is based on.",
    "Correct the evidence date or the assessor date, whichever is wrong.", group="dates")
IQA_BEFORE_ASSESSMENT = issue_type(
    "date-iqa-before-assessment", Severity.ERROR, "IQA dated before the assessor's sign-off",
    "{ref}'s IQA date {iqa} is before the assessor's date {assessed}{hint}",
    "Internal quality assurance samples decisions already made, so its date must be on or after the "
    "assessor's date. On a row the IQA referred back the assessor signs again after the IQA's date: "
    "that is expected and not reported; when the IQA then records Agreed, the IQA date is updated too.",
    "Correct the IQA date or the assessor date, whichever is wrong.", group="dates")
REGISTRATION_MISSING = issue_type(
    "date-registration-missing", Severity.WARNING, "Registration date missing",
    "The learner's registration date is empty on the cover, so dates cannot be checked against it",
    "Without the registration date, tracker cannot check that no assessment predates the learner's "
    "registration.",
    "Type the registration date (dd/mm/yyyy) on the cover sheet.", group="dates")


def _fmt(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def _swapped(d: dt.date) -> dt.date | None:
    """``d`` with day and month exchanged, when that is another real date.

    A date typed dd/mm in a spreadsheet set to a US locale (LibreOffice's default on many
    installs) is stored month first: 06/05/2025 meant as 6 May becomes 5 June, silently. tracker
    cannot tell such a date from a real one, but when exchanging day and month would make an
    order error disappear, it says so.
    """
    if d.day > 12 or d.day == d.month:
        return None
    return dt.date(d.year, d.day, d.month)


def _hint(what: str, d: dt.date, fits: bool) -> str:
    """The 'possibly typed as month/day' tail of a message ('' when swapping would not help)."""
    other = _swapped(d)
    if other is None or not fits:
        return ""
    return (f" (possibly typed as month/day: if {what} was meant as {other.day} {other:%B %Y}, it is in order; "
            "set the spreadsheet to UK dates, as the cover sheet says, and type it again)")


def _order_hint(first: tuple[str, dt.date], second: tuple[str, dt.date]) -> str:
    """The hint for ``first`` <= ``second`` broken: which of the two, swapped, would mend it."""
    (fname, f), (sname, s) = first, second
    f2, s2 = _swapped(f), _swapped(s)
    if s2 is not None and f <= s2:
        return _hint(sname, s, True)
    if f2 is not None and f2 <= s:
        return _hint(fname, f, True)
    return ""


def _date(c: Cell) -> dt.date | None:
    """The cell's date (None when blank, unreadable or not a date)."""
    d = c.value
    return d if c.problem is None and isinstance(d, dt.date) else None


@check(UNPARSEABLE, FUTURE, BEFORE_REGISTRATION, ASSESSED_BEFORE_EVIDENCE, IQA_BEFORE_ASSESSMENT,
       REGISTRATION_MISSING, needs_spec=False)
def dates(ctx: Context) -> Iterator[Issue]:
    """Every date cell of the cover, the criterion rows and the evidence log."""
    today = ctx.today
    book = ctx.book

    def plain(c: Cell, what: str, unit: Unit | None = None, ref: str | None = None) -> Issue | None:
        """What is wrong with one date cell on its own: unreadable, or in the future (at most one
        finding, so a plain function: a generator per date cell would cost more than the check)."""
        if c.problem is not None:
            return ctx.issue(UNPARSEABLE, c, unit=unit, criterion=ref, what=what, problem=c.problem)
        if isinstance(d := c.value, dt.date) and d > today:
            other = _swapped(d)
            return ctx.issue(FUTURE, c, unit=unit, criterion=ref, what=what, date=_fmt(d), today=_fmt(today),
                             hint=_hint("the date", d, other is not None and other <= today))
        return None

    registered: dt.date | None = None
    reg = book.cover.get("registration_date")
    if reg is not None:
        if (bad := plain(reg, "The registration date")) is not None:
            yield bad
        registered = _date(reg)
        if reg.value is None and reg.problem is None:
            yield ctx.issue(REGISTRATION_MISSING, reg)

    for info in ctx.row_list:
        row = info.row
        ref = info.criterion.ref
        found: dict[str, dt.date] = {}
        for key in ("evidence_date", "assessor_date", "iqa_date"):
            c = row.cells.get(key)
            if c is None or (c.value is None and c.problem is None):
                continue
            what = f"{ref}'s {COLUMN_HEADERS[key]}"
            if (bad := plain(c, what, info.unit, ref)) is not None:
                yield bad
            d = _date(c)
            if d is None:
                continue
            found[key] = d
            if registered is not None and d < registered:
                if key == "evidence_date" and value(row, "method") == RPL:
                    continue
                other = _swapped(d)
                yield ctx.issue(BEFORE_REGISTRATION, c, unit=info.unit, criterion=ref, what=what, date=_fmt(d),
                                registered=_fmt(registered),
                                hint=_hint("the date", d, other is not None and registered <= other <= today))
        e, a, i = found.get("evidence_date"), found.get("assessor_date"), found.get("iqa_date")
        if e is not None and a is not None and a < e:
            yield ctx.issue(ASSESSED_BEFORE_EVIDENCE, row.cells["assessor_date"], unit=info.unit, criterion=ref,
                            ref=ref, assessed=_fmt(a), evidence=_fmt(e),
                            hint=_order_hint(("the evidence date", e), ("the assessor date", a)))
        # A referred-back row re-signed by the assessor is dated after the IQA: expected (the IQA's
        # Agreed over it comes with a new IQA date, and is checked again then).
        if a is not None and i is not None and i < a and value(row, "iqa_decision") != L.REFERRED_BACK:
            yield ctx.issue(IQA_BEFORE_ASSESSMENT, row.cells["iqa_date"], unit=info.unit, criterion=ref, ref=ref,
                            iqa=_fmt(i), assessed=_fmt(a),
                            hint=_order_hint(("the assessor date", a), ("the IQA date", i)))

    header = {c.key: c.header for c in L.EVIDENCE_COLUMNS}
    for er in book.evidence:
        c = er.cells.get("date")
        if c is not None and (c.value is not None or c.problem is not None):
            ref = er.value("ref")
            bad = plain(c, f"Evidence log {header['date']}" + (f" of {ref}" if ref else f" on row {er.row}"))
            if bad is not None:
                yield bad
