"""IQA on each criterion row: a complete sign-off, on an assessed criterion, referrals followed up.

* an IQA decision needs the IQA's name and date (errors);
* an IQA name or date without a decision is sampling left unfinished (warning); "IQA sampled:
  Yes" with no decision is its own warning (the row is *not* counted as sampled: sampling means a
  recorded IQA decision); a decision on a row marked "IQA sampled: No" contradicts itself
  (warning), and a decision with IQA sampled left blank is a warning of its own;
* "Agreed" on a criterion whose decision is not Met is interim sampling of work in progress: it
  says nothing about an achievement decision (information), and only a later Agreed on the Met
  decision is a summative sample;
* the IQA may only sign off a criterion the assessor has signed: Decision, Assessor and Assessor
  date all present (error);
* "Referred back" stays open until the IQA records Agreed over it (the criterion does not count
  as achieved meanwhile, see :mod:`tracker.workbook.progress`). While the assessor has not signed
  it again since the IQA's date, that is an error; once the assessor has re-signed it as Met (an
  assessor date after the IQA date), the row is awaiting the IQA's re-check (information).
  Sampling rules across learners (each assessor, unit and method sampled; trainees at 100%)
  belong to the centre roll-up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from tracker.issues import Issue, IssueType, Severity, issue_type
from tracker.rules.checks.base import COLUMN_HEADERS, Context, check, row_state, value, values_of
from tracker.workbook import layout as L
from tracker.workbook.model import Cell
from tracker.workbook.progress import CriterionState, resigned_after_referral

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
SAMPLED_NO_DECISION = issue_type(
    "iqa-sampled-no-decision", Severity.WARNING, "Marked sampled but no IQA decision",
    "{ref} says IQA sampled: Yes but has no IQA decision, so it does not count as sampled",
    "Sampling means a recorded IQA decision. 'IQA sampled: Yes' alone records a plan or an "
    "unfinished sample; tracker does not count it in the IQA's coverage.",
    "The IQA records the outcome (Agreed or Referred back) with their name and date, or sets IQA "
    "sampled back to blank until the sample is done.", group="iqa")
SAMPLED_BLANK = issue_type(
    "iqa-sampled-blank", Severity.WARNING, "IQA decision with IQA sampled left blank",
    "{ref} has an IQA decision ({decision}) but IQA sampled is blank",
    "The row carries an IQA decision, but its IQA sampled column was not filled in. The decision "
    "still counts as a sample; the column keeps the sampling record readable for an EQA.",
    "Set IQA sampled to Yes.", group="iqa")
AGREED_NOT_MET = issue_type(
    "iqa-agreed-not-met", Severity.INFO, "Agreed on a criterion not yet Met (interim sample)",
    "{ref} has IQA decision Agreed but its assessment decision is {decision}: an interim sample only",
    "The IQA agreed with work in progress (the criterion is not Met). That is interim sampling: it "
    "does not quality-assure an achievement decision, so it is not a summative sample of this "
    "criterion.",
    "Nothing is wrong. When the criterion is marked Met, the IQA may sample it again summatively.",
    group="iqa")
BEFORE_ASSESSMENT = issue_type(
    "iqa-before-assessment", Severity.ERROR, "IQA sign-off on a criterion not yet signed by the assessor",
    "{ref} has an IQA sign-off but the assessor has not signed it ({missing})",
    "The IQA quality-assures assessment decisions; a criterion the assessor has not signed off "
    "(decision, name and date) has nothing to sample yet.",
    "Clear the IQA entries until the assessor has signed the criterion off, or complete the "
    "assessor's sign-off if it was left out.", group="iqa")
REFERRAL_OPEN = issue_type(
    "iqa-referred-back-open", Severity.ERROR, "IQA referral not yet acted on",
    "{ref} was referred back by the IQA{when} and the assessor has not signed it again since",
    "The IQA referred the assessor's decision back, and the row shows no assessor date after the "
    "IQA's date: the assessor has not yet dealt with it. A criterion referred back does not count "
    "as achieved until the IQA checks it again and records Agreed.",
    "The assessor acts on the IQA's feedback, then updates the decision and the Assessor date; the "
    "IQA then checks it again and records Agreed (with the date) in the IQA decision column.",
    group="iqa")
AWAITING_RECHECK = issue_type(
    "iqa-awaiting-recheck", Severity.INFO, "Re-signed after a referral, awaiting the IQA's re-check",
    "{ref} was referred back by the IQA{when} and signed again by the assessor on {resigned}; it "
    "counts as achieved once the IQA records Agreed",
    "The assessor has acted on the IQA's referral and signed the decision again (an assessor date "
    "after the IQA date). The criterion still does not count as achieved: a referral stays open "
    "until the IQA checks the criterion again and replaces Referred back with Agreed.",
    "Nothing for the assessor to do. The IQA re-checks the criterion and records Agreed, with their "
    "name and the date, in the IQA decision, IQA and IQA date columns (or refers it back again).",
    group="iqa")


def _fmt(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


@check(NO_NAME, NO_DATE, NO_DECISION, SAMPLED_NO_DECISION, NOT_SAMPLED, SAMPLED_BLANK, AGREED_NOT_MET,
       BEFORE_ASSESSMENT, REFERRAL_OPEN, AWAITING_RECHECK)
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
            sc = cells.get("iqa_sampled")
            if sampled == L.NO:
                yield emit(NOT_SAMPLED, sc, decision=decision)
            elif sampled is None and sc is not None and sc.problem is None:
                yield emit(SAMPLED_BLANK, sc, decision=decision)
            assessed = value(row, "decision")
            if decision == L.AGREED and assessed is not None and assessed != L.MET:
                yield emit(AGREED_NOT_MET, cells.get("iqa_decision"), decision=assessed)
        elif name is None and date is None:
            yield emit(SAMPLED_NO_DECISION, cells.get("iqa_decision"))
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
        if decision == L.REFERRED_BACK:
            when = f" on {_fmt(date)}" if isinstance(date, dt.date) else ""
            if row_state(row) is CriterionState.AWAITING_RECHECK:
                yield emit(AWAITING_RECHECK, cells.get("iqa_decision"), when=when,
                           resigned=_fmt(value(row, "assessor_date")))
            elif not resigned_after_referral(values_of(row)):
                yield emit(REFERRAL_OPEN, cells.get("iqa_decision"), when=when)
            # Re-dated but not Met again: the assessor is working on it (progress reports the row).
