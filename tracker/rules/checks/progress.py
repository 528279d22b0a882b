"""Progress: how far the learner has got, per criterion, unit and qualification (information).

A criterion counts as achieved when its Decision is Met and no IQA referral on it is still open.
Progress is reported as information: one issue per required criterion that has been worked on but
is not Met, one per unit that is started but not complete, and one for the qualification --
achieved only when every required criterion of every unit is achieved (with the learner's pathway
known, when the qualification has pathways). The codes keep their ``completion-`` prefix (codes
are stable).
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


@check(NOT_MET, UNIT_INCOMPLETE, QUALIFICATION_INCOMPLETE, QUALIFICATION_COMPLETE)
def progress(ctx: Context) -> Iterator[Issue]:
    """Progress per criterion, unit and qualification."""
    q = ctx.q
    assert q is not None
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
