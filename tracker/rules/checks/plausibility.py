"""Plausibility: what an external quality assurer (EQA) looks for in a portfolio.

Nothing here is wrong in itself, so every finding is a warning:

* many criteria evidenced on one day, or signed off on one day (the centre policy's ``same_day``,
  10 by default): a whole unit or qualification "done" at once suggests back-filling;
* an evidence-log entry dated after the sign-off that cites it: the assessor signed the criterion
  before the evidence existed;
* a row's method that none of the evidence-log entries it cites shows (the log says the evidence
  was a witness testimony, the row says observation).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.policy import Policy
from tracker.rules.checks.base import Context, RowInfo, check, value
from tracker.rules.checks.evidence import evidence_key

SAME_DAY = issue_type(
    "plausible-same-day", Severity.WARNING, "Many criteria on one day",
    "{n} criteria were {what} on {day} (first {first}); check the dates are real",
    "An EQA looks twice at many criteria evidenced, or signed off, on the same day: it can mean the "
    "dates were filled in afterwards. The centre policy's same_day setting says how many is many.",
    "Check the dates against the evidence. If they are right (e.g. a long observation covering many "
    "criteria), nothing needs changing.", group="plausibility")
LOG_AFTER_SIGNOFF = issue_type(
    "plausible-evidence-after-signoff", Severity.WARNING, "Evidence dated after the sign-off that cites it",
    "{ref} was signed off on {signed} but cites evidence {evidence} dated {dated} in the evidence log",
    "The assessor's decision cannot rest on evidence that did not exist yet.",
    "Correct the evidence log date or the Assessor date, or re-assess the criterion on the evidence.",
    group="plausibility")
LOG_METHOD_DIFFERS = issue_type(
    "plausible-method-differs", Severity.WARNING, "Method differs from the evidence log",
    "{ref} says the method was {method}, but the evidence it cites is logged as {logged}",
    "The row's assessment method and the evidence log's method for the cited evidence disagree.",
    "Correct the Method on the row or in the evidence log.", group="plausibility")

_WHAT = {"evidence_date": "evidenced", "assessor_date": "signed off"}


def _fmt(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


@check(SAME_DAY, LOG_AFTER_SIGNOFF, LOG_METHOD_DIFFERS)
def plausibility(ctx: Context) -> Iterator[Issue]:
    """Many criteria on one day; evidence after the sign-off; a method the log contradicts."""
    policy = ctx.register.policy if ctx.register is not None else Policy()
    for key, what in _WHAT.items():
        by_day: dict[dt.date, list[RowInfo]] = defaultdict(list)
        for info in ctx.row_list:
            d = value(info.row, key)
            if isinstance(d, dt.date):
                by_day[d].append(info)
        for day, infos in sorted(by_day.items()):
            if len(infos) >= policy.same_day:
                first = infos[0]
                c = first.row.cells.get(key)
                yield ctx.issue(SAME_DAY, c, unit=first.unit, criterion=first.criterion.ref, n=len(infos),
                                what=what, day=_fmt(day), first=first.criterion.ref)
    log: dict[str, tuple[str, dt.date | None, str | None]] = {}
    for er in ctx.book.evidence:
        ref = er.value("ref")
        if ref:
            d = er.value("date")
            m = er.value("method")
            log.setdefault(evidence_key(str(ref)), (str(ref), d if isinstance(d, dt.date) else None,
                                                    " ".join(str(m).split()) if m else None))
    for info in ctx.row_list:
        row = info.row
        refs = value(row, "evidence_refs")
        if not refs:
            continue
        ref = info.criterion.ref
        cited = [log[k] for k in (evidence_key(r) for r in refs) if k in log]
        signed = value(row, "assessor_date")
        if isinstance(signed, dt.date):
            for ev, dated, _m in cited:
                if dated is not None and dated > signed:
                    yield ctx.issue(LOG_AFTER_SIGNOFF, row.cells.get("evidence_refs"), unit=info.unit, criterion=ref,
                                    ref=ref, signed=_fmt(signed), evidence=ev, dated=_fmt(dated))
        method = value(row, "method")
        logged = sorted({m for _r, _d, m in cited if m})
        if method and logged and str(method).casefold() not in {m.casefold() for m in logged}:
            yield ctx.issue(LOG_METHOD_DIFFERS, row.cells.get("method"), unit=info.unit, criterion=ref, ref=ref,
                            method=str(method).lower(), logged=" / ".join(m.lower() for m in logged))
