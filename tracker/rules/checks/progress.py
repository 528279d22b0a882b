"""Progress: how far the learner has got, per criterion, unit and qualification (information).

What counts is defined once, in :mod:`tracker.workbook.progress` (the master, the export and the
workbook's Summary formulas use the same rule): a required criterion is achieved when its
Decision is Met with its sign-off (evidence ref, method, assessor, assessor date) and its IQA
decision is not Referred back -- a referral counts again only once the IQA records Agreed. A unit
is complete when every criterion required of the learner on it is achieved; the qualification
when every unit is, with the learner's pathway known where the qualification has pathways.

Reported as information: one issue per required criterion that has been worked on but whose
Decision is not Met, one per unit that is started but not complete, and one for the
qualification. A Met decision that does not count yet is explained on its row by the check that
owns the reason (the sign-off check: what is missing; the IQA check: the referral still open, or
awaiting the IQA's re-check); it is listed with the unit's criteria still to do. The codes keep
their ``completion-`` prefix (codes are stable).
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check, is_used, row_state, value
from tracker.workbook import layout as L
from tracker.workbook.progress import qualification_achieved, unit_status

NOT_MET = issue_type(
    "completion-not-met", Severity.INFO, "Required criterion not yet Met",
    "{ref} is required but not yet Met (Decision: {decision})",
    "Work is recorded against a criterion the learner must achieve, but its decision is not Met "
    "yet. Criteria nobody has started are summed up per unit instead.",
    "Nothing to fix: this is progress. Record Met, with evidence, when the criterion is achieved.",
    group="completion")
UNIT_INCOMPLETE = issue_type(
    "completion-unit-incomplete", Severity.INFO, "Unit started but not complete",
    "Unit {number}: {met} of {required} required criteria achieved; still to do: {todo}",
    "Progress on a unit that has been started: the required criteria not yet achieved (not Met; "
    "Met without its full sign-off; or referred back by the IQA and not yet agreed).",
    "Nothing to fix: this is progress.", group="completion")
QUALIFICATION_INCOMPLETE = issue_type(
    "completion-qualification-incomplete", Severity.INFO, "Qualification not yet achieved",
    "{summary}: the qualification is not yet achieved",
    "The qualification is achieved only when every required criterion of every unit is achieved: "
    "Met with its sign-off (evidence ref, method, assessor and assessor date) and not referred back "
    "by the IQA. A criterion referred back counts again only once the IQA records Agreed.",
    "Nothing to fix: this is progress.", group="completion")
QUALIFICATION_COMPLETE = issue_type(
    "completion-qualification-complete", Severity.INFO, "Every required criterion achieved",
    "Every required criterion of all {units} units is Met and signed off: the qualification is achieved",
    "Every required criterion of every unit is Met with its sign-off, and none is referred back by "
    "the IQA. Any errors listed for the workbook must still be fixed before the learner is claimed.",
    "Nothing to fix; fix any errors listed, then claim the certificate.", group="completion")

_MAX_TODO = 12


@check(NOT_MET, UNIT_INCOMPLETE, QUALIFICATION_INCOMPLETE, QUALIFICATION_COMPLETE)
def progress(ctx: Context) -> Iterator[Issue]:
    """Progress per criterion, unit and qualification."""
    q = ctx.q
    assert q is not None
    statuses: list[str] = []
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
            if not is_used(row):  # nothing entered, so no Met: not achieved, and nothing to say
                todo.append(ref)
                continue
            started = True
            if row_state(row).achieved:
                met += 1
                continue
            todo.append(ref)
            # A Met that does not count is explained by the sign-off and IQA checks.
            if value(row, "decision") != L.MET:
                d = row.cells.get("decision")
                shown = "empty" if d is None or d.value is None else str(d.value)
                yield ctx.issue(NOT_MET, d, sheet=row.sheet, unit=unit, criterion=ref, ref=ref, decision=shown)
        total_req += len(required)
        total_met += met
        status = unit_status(len(required), met)
        statuses.append(status)
        if status != L.STATUS_COMPLETE and started:
            view = ctx.sheet_of_unit.get(unit.number)
            more = len(todo) - _MAX_TODO
            shown_todo = ", ".join(todo[:_MAX_TODO]) + (f" and {more} more" if more > 0 else "")
            yield ctx.issue(UNIT_INCOMPLETE, sheet=view.sheet.sheet if view else L.unit_sheet_name(unit.number),
                            unit=unit, number=unit.number, met=met, required=len(required), todo=shown_todo)
    needs_pathway = ctx.pathway is None and any(q.active_groups(u, ctx.reading or None) for u in q.units)
    n = len(q.units)
    if qualification_achieved(statuses, needs_pathway):
        yield ctx.issue(QUALIFICATION_COMPLETE, units=n)
    else:
        units_done = statuses.count(L.STATUS_COMPLETE)
        summary = (f"{units_done} of {n} units complete, {total_met} of {total_req} required criteria "
                   "achieved")
        if needs_pathway:
            summary += " (the pathway is not given, so the either/or criteria are not counted)"
        yield ctx.issue(QUALIFICATION_INCOMPLETE, summary=summary)
