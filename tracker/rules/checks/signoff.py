"""Sign-off: what a Met decision must carry.

A Met decision must carry an evidence ref, a method, the assessor's name and the assessor's date
(errors: without them it does not count as achieved, see :mod:`tracker.workbook.progress`), and
should carry the evidence date (a warning: the order of evidence, decision and IQA cannot be
checked without it). A cell that holds something unreadable is reported by the values and dates
checks, not here. A sign-off value in a row or column hidden in Excel is a warning (whoever
reads or prints the sheet does not see it). The codes keep their ``completion-`` prefix (codes are stable).
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check
from tracker.workbook import layout as L
from tracker.workbook.model import Cell

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

SIGNOFF_HIDDEN = issue_type(
    "completion-signoff-hidden", Severity.WARNING, "Sign-off in a hidden row or column",
    "{ref}'s sign-off is in a hidden {what} ({cells})",
    "A decision, a signature or a date of this criterion sits in a row or column hidden in Excel, so "
    "whoever reads or prints the sheet does not see it, yet it counts. It may be an old entry kept "
    "out of sight, or a column hidden by mistake.",
    "Unhide the row or column (select the rows or columns around it, right-click, Unhide), check the "
    "entry, and correct or clear it if it is not meant to count.", group="completion")

# The columns that sign a criterion off: a value in one of them, hidden, is SIGNOFF_HIDDEN.
SIGNOFF_KEYS = ("decision", "assessor", "assessor_date", "iqa_sampled", "iqa", "iqa_date", "iqa_decision",
                "countersigned_by", "countersign_date")

# Column -> what is reported when a Met row leaves it blank.
_REQUIRED = (("evidence_refs", MET_NO_EVIDENCE), ("method", MET_NO_METHOD), ("assessor", MET_NO_ASSESSOR),
             ("assessor_date", MET_NO_DATE), ("evidence_date", MET_NO_EVIDENCE_DATE))


@check(SIGNOFF_HIDDEN)
def hidden_signoff(ctx: Context) -> Iterator[Issue]:
    """A sign-off value (decision, signatures, dates) in a hidden row or column is a warning."""
    book = ctx.book
    if not book.hidden:
        return
    for info in ctx.row_list:
        if info.row.sheet not in book.hidden:
            continue
        found: list[tuple[str, Cell, str]] = []  # (header, cell, "row" / "column")
        for key in SIGNOFF_KEYS:
            c = info.row.cells.get(key)
            if c is not None and not c.blank and (what := book.hidden_at(c)) is not None:
                found.append((L.column_by_key(L.CRITERION_COLUMNS, key).header, c, what))
        if found:
            yield ctx.issue(SIGNOFF_HIDDEN, found[0][1], sheet=info.row.sheet, unit=info.unit,
                            criterion=info.criterion.ref, ref=info.criterion.ref,
                            what=" and ".join(sorted({w for _h, _c, w in found})),
                            cells=", ".join(f"{h} {c.ref}" for h, c, _w in found))


@check(MET_NO_EVIDENCE, MET_NO_METHOD, MET_NO_ASSESSOR, MET_NO_DATE, MET_NO_EVIDENCE_DATE)
def signoff(ctx: Context) -> Iterator[Issue]:
    """Every Met decision carries its evidence ref, method, assessor, assessor date (and evidence date)."""
    for info in ctx.row_list:
        cells = info.row.cells
        d = cells.get("decision")  # inline value(): this loop visits every criterion row
        if d is None or d.value != L.MET or d.problem is not None:
            continue
        ref = info.criterion.ref
        for key, itype in _REQUIRED:
            c = cells.get(key)
            if c is not None and c.value is None and c.problem is None:
                yield ctx.issue(itype, c, unit=info.unit, criterion=ref, ref=ref)
