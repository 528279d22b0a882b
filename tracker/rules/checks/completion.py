"""Completion: what a Met decision must carry, and how far the learner has got.

A criterion counts as achieved when its Decision is Met and no IQA referral on it is still open.
A Met decision must carry an evidence ref, a method, the assessor's name and the assessor's date
(errors), and should carry the evidence date (warning). Progress is reported as information: one
issue per required criterion that has been worked on but is not Met, one per unit that is started
but not complete, and one for the qualification -- achieved only when every required criterion of
every unit is achieved (with the learner's pathway known, when the qualification has pathways).
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check, is_used, referral_open, value
from tracker.workbook import layout as L

NOT_MET = issue_type(
    "completion-not-met", Severity.INFO, "Required criterion not yet Met",
    "{ref} is required but not yet Met (Decision: {decision})",
    "Work is recorded against a criterion the learner must achieve, but its decision is not Met "
    "yet. Criteria nobody has started are summed up per unit instead.",
    "Nothing to fix: this is progress. Record Met, with evidence, when the criterion is achieved.",
    group="completion")
MET_NO_EVIDENCE = issue_type(
    "completion-met-no-evidence", Severity.ERROR, "Met without an evidence ref",
    "{ref} is marked Met but has no evidence ref",
    "A Met decision must point at the evidence that supports it (a ref listed in the evidence log).",
    "Enter the evidence ref(s) in the Evidence refs column, or change the decision to Not yet met.",
    group="completion")
MET_NO_METHOD = issue_type(
    "completion-met-no-method", Severity.ERROR, "Met without an assessment method",
    "{ref} is marked Met but has no assessment method",
    "A Met decision must say how the criterion was assessed (observation, professional discussion ...).",
    "Choose the method from the Method column's dropdown.", group="completion")
MET_NO_ASSESSOR = issue_type(
    "completion-met-no-assessor", Severity.ERROR, "Met without the assessor's name",
    "{ref} is marked Met but no assessor has signed it (the Assessor column is empty)",
    "A Met decision must be signed off by the assessor who made it.",
    "The assessor who made the decision types their name in the Assessor column.", group="completion")
MET_NO_DATE = issue_type(
    "completion-met-no-date", Severity.ERROR, "Met without the assessor's date",
    "{ref} is marked Met but has no assessor date",
    "A Met decision must be dated by the assessor who signed it off.",
    "The assessor types the date of the decision (dd/mm/yyyy) in the Assessor date column.",
    group="completion")
MET_NO_EVIDENCE_DATE = issue_type(
    "completion-met-no-evidence-date", Severity.WARNING, "Met without an evidence date",
    "{ref} is marked Met but has no evidence date",
    "The evidence date shows when the evidence was produced; without it the order of evidence, "
    "decision and IQA cannot be checked.",
    "Enter the date the evidence was produced (dd/mm/yyyy) in the Evidence date column.",
    group="completion")
UNIT_INCOMPLETE = issue_type(
    "completion-unit-incomplete", Severity.INFO, "Unit started but not complete",
    "Unit {number}: {met} of {required} required criteria achieved; still to do: {todo}",
    "Progress on a unit that has been started: the required criteria not yet achieved.",
    "Nothing to fix: this is progress.", group="completion")
QUALIFICATION_INCOMPLETE = issue_type(
    "completion-qualification-incomplete", Severity.INFO, "Qualification not yet achieved",
    "{summary}: the qualification is not yet achieved",
    "The qualification is achieved only when every required criterion of every unit is Met "
    "(with no IQA referral open).",
    "Nothing to fix: this is progress.", group="completion")
QUALIFICATION_COMPLETE = issue_type(
    "completion-qualification-complete", Severity.INFO, "Every required criterion achieved",
    "Every required criterion of all {units} units is Met: the qualification is achieved",
    "Every required criterion of every unit is Met with no IQA referral open. Any errors listed for "
    "the workbook must still be fixed before the learner is claimed.",
    "Nothing to fix; fix any errors listed, then claim the certificate.", group="completion")

_MAX_TODO = 12


@check(NOT_MET, MET_NO_EVIDENCE, MET_NO_METHOD, MET_NO_ASSESSOR, MET_NO_DATE, MET_NO_EVIDENCE_DATE,
       UNIT_INCOMPLETE, QUALIFICATION_INCOMPLETE, QUALIFICATION_COMPLETE)
def completion(ctx: Context) -> Iterator[Issue]:
    """Met decisions carry their sign-off; progress per criterion, unit and qualification."""
    q = ctx.q
    assert q is not None
    for info in ctx.row_list:
        row = info.row
        if value(row, "decision") != L.MET:
            continue
        ref = info.criterion.ref
        cells = row.cells
        for key, itype in (("evidence_refs", MET_NO_EVIDENCE), ("method", MET_NO_METHOD),
                           ("assessor", MET_NO_ASSESSOR), ("assessor_date", MET_NO_DATE),
                           ("evidence_date", MET_NO_EVIDENCE_DATE)):
            c = cells.get(key)
            if c is not None and c.value is None and c.problem is None:
                yield ctx.issue(itype, c, unit=info.unit, criterion=ref, ref=ref)

    units_done = 0
    total_req = total_met = 0
    for unit in q.units:
        required = ctx.required.get(unit.number, [])
        met = 0
        started = False
        todo: list[str] = []
        for ref in required:
            found = ctx.rows.get(ref)
            if found is None:
                todo.append(ref)
                continue
            row = found.row
            used = is_used(row)
            started = started or used
            if value(row, "decision") == L.MET and not referral_open(row):
                met += 1
                continue
            todo.append(ref)
            if used:
                d = row.cells.get("decision")
                shown = "empty" if d is None or d.value is None else str(d.value)
                yield ctx.issue(NOT_MET, d, sheet=row.sheet, unit=unit, criterion=ref, ref=ref, decision=shown)
        total_req += len(required)
        total_met += met
        if not todo:
            units_done += 1
        elif started:
            view = ctx.sheet_of_unit.get(unit.number)
            more = len(todo) - _MAX_TODO
            shown_todo = ", ".join(todo[:_MAX_TODO]) + (f" and {more} more" if more > 0 else "")
            yield ctx.issue(UNIT_INCOMPLETE, sheet=view.sheet.sheet if view else L.unit_sheet_name(unit.number),
                    unit=unit, number=unit.number, met=met, required=len(required), todo=shown_todo)
    needs_pathway = ctx.pathway is None and any(q.active_groups(u, ctx.reading or None) for u in q.units)
    n = len(q.units)
    if units_done == n and not needs_pathway:
        yield ctx.issue(QUALIFICATION_COMPLETE, units=n)
    else:
        summary = (f"{units_done} of {n} units complete, {total_met} of {total_req} required criteria "
                   "achieved")
        if needs_pathway:
            summary += " (the pathway is not given, so the either/or criteria are not counted)"
        yield ctx.issue(QUALIFICATION_INCOMPLETE, summary=summary)
