"""IQA on each criterion row: a complete sign-off, on an assessed criterion, referrals closed.

* an IQA decision needs the IQA's name and date (errors);
* an IQA name or date without a decision is sampling left unfinished (warning), and a decision on
  a row marked "IQA sampled: No" contradicts itself (warning);
* the IQA may only sign off a criterion the assessor has signed: Decision, Assessor and Assessor
  date all present (error);
* "Referred back" is open until the assessor re-signs: an assessor date *after* the IQA date
  closes it (error while open). Sampling rules across learners (each assessor, unit and method
  sampled; trainees at 100%) belong to the centre roll-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracker.issues import Issue, IssueType, Severity, issue_type
from tracker.rules.checks.base import COLUMN_HEADERS, Context, check, referral_open, value
from tracker.workbook import layout as L
from tracker.workbook.model import Cell

NO_NAME = issue_type(
    "iqa-no-name", Severity.ERROR, "IQA decision without the IQA's name",
    "{ref} has an IQA decision ({decision}) but no IQA name",
    "An IQA decision must be signed by the internal quality assurer who made it.",
    "The IQA types their name in the IQA column.", group="iqa")
NO_DATE = issue_type(
    "iqa-no-date", Severity.ERROR, "IQA decision without a date",
    "{ref} has an IQA decision ({decision}) but no IQA date",
    "An IQA decision must be dated.",
    "The IQA types the date of their decision (dd/mm/yyyy) in the IQA date column.", group="iqa")
NO_DECISION = issue_type(
    "iqa-no-decision", Severity.WARNING, "IQA sampling without a decision",
    "{ref} shows IQA sampling ({what}) but no IQA decision",
    "The row has an IQA name, IQA date or 'IQA sampled: Yes', but no IQA decision: sampling that "
    "was started but not finished.",
    "The IQA records the outcome (Agreed or Referred back) in the IQA decision column.", group="iqa")
NOT_SAMPLED = issue_type(
    "iqa-not-sampled", Severity.WARNING, "IQA decision on a row not sampled",
    "{ref} has an IQA decision ({decision}) but IQA sampled says No",
    "The row says it was not sampled, yet carries an IQA decision.",
    "Set IQA sampled to Yes, or clear the IQA decision if the criterion was not sampled.", group="iqa")
BEFORE_ASSESSMENT = issue_type(
    "iqa-before-assessment", Severity.ERROR, "IQA sign-off on a criterion not yet signed by the assessor",
    "{ref} has an IQA sign-off but the assessor has not signed it ({missing})",
    "The IQA quality-assures assessment decisions; a criterion the assessor has not signed off "
    "(decision, name and date) has nothing to sample yet.",
    "Clear the IQA entries until the assessor has signed the criterion off, or complete the "
    "assessor's sign-off if it was left out.", group="iqa")
REFERRAL_OPEN = issue_type(
    "iqa-referred-back-open", Severity.ERROR, "IQA referral still open",
    "{ref} was referred back by the IQA{when} and the assessor has not signed it again since",
    "A decision the IQA referred back stands until the assessor has dealt with it and re-signed "
    "(an assessor date after the IQA date). Until then the criterion does not count as achieved.",
    "The assessor acts on the IQA's feedback, then updates the decision and the Assessor date; the "
    "IQA may then sample it again.", group="iqa")


@check(NO_NAME, NO_DATE, NO_DECISION, NOT_SAMPLED, BEFORE_ASSESSMENT, REFERRAL_OPEN)
def iqa(ctx: Context) -> Iterator[Issue]:
    """Per-row IQA rules."""
    for info in ctx.row_list:
        row = info.row
        cells = row.cells
        ref = info.criterion.ref
        decision = value(row, "iqa_decision")
        name = value(row, "iqa")
        date_cell = cells.get("iqa_date")
        date = value(row, "iqa_date")
        sampled = value(row, "iqa_sampled")
        signed = decision is not None or name is not None or date is not None
        if not signed and sampled != L.YES:
            continue
        def emit(itype: IssueType, at: Cell | None, **values: Any) -> Issue:
            return ctx.issue(itype, at, sheet=row.sheet, unit=info.unit, criterion=ref, ref=ref, **values)

        if decision is not None:
            c = cells.get("iqa")
            if name is None and c is not None and c.problem is None:
                yield emit(NO_NAME, c, decision=decision)
            if date is None and date_cell is not None and date_cell.problem is None:
                yield emit(NO_DATE, date_cell, decision=decision)
            if sampled == L.NO:
                yield emit(NOT_SAMPLED, cells.get("iqa_sampled"), decision=decision)
        else:
            what = ", ".join(w for w, v in (("sampled Yes", sampled == L.YES), ("name", name is not None),
                                             ("date", date is not None)) if v)
            yield emit(NO_DECISION, cells.get("iqa_decision"), what=what)
        if signed:
            missing = [COLUMN_HEADERS[key] for key in ("decision", "assessor", "assessor_date")
                       if value(row, key) is None and (cells.get(key) is None or cells[key].problem is None)]
            if missing:
                at = cells.get("iqa_decision") if decision is not None else (
                    cells.get("iqa") if name is not None else date_cell)
                yield emit(BEFORE_ASSESSMENT, at, missing="no " + ", no ".join(missing))
        if decision == L.REFERRED_BACK and referral_open(row):
            when = f" on {date.strftime('%d/%m/%Y')}" if date is not None else ""
            yield emit(REFERRAL_OPEN, cells.get("iqa_decision"), when=when)
