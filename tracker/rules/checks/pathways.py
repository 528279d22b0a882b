"""Pathways: either/or criteria chosen by the learner's role, and the reading of the specification.

A pathway group (L2 Unit 9: S9.1-S9.3 face-to-face OR S9.4-S9.6 non-facing) is in force under the
readings it names (L2 Unit 17's group only under the ``unit-guidance`` reading). A group's option
is *used* when any assessment work is recorded on one of its criteria (evidence refs, method,
dates, decision or assessor; an IQA note or a comment alone does not count). Then:

* a learner on a qualification with pathway groups needs a pathway on the cover;
* only one option of a group may be used;
* the option used must be the learner's pathway's.

The reading applied is the one asked for (``--reading``), else the one recorded in the workbook
when the qualification knows it, else the qualification's default; a difference from the reading
the workbook was made under is a warning (its Required column and summary follow the other one).
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, RowInfo, check, is_used

PATHWAY_MISSING = issue_type(
    "pathway-missing", Severity.ERROR, "Pathway not given",
    "The learner's pathway is empty on the cover; it decides which either/or criteria they take ({choices})",
    "The qualification has either/or criteria chosen by the learner's role, so the cover must say "
    "which pathway the learner is on. Until it does, those criteria are not counted.",
    "Choose the learner's pathway from the dropdown in the cover's Pathway cell.", group="pathways")
PATHWAY_UNKNOWN = issue_type(
    "pathway-unknown", Severity.ERROR, "Pathway not recognised",
    "The cover's pathway '{value}' is not one of: {choices}",
    "The cover's Pathway holds text that is not one of the qualification's pathways.",
    "Choose the learner's pathway from the dropdown in the cover's Pathway cell.", group="pathways")
OPTIONS_MIXED = issue_type(
    "pathway-options-mixed", Severity.ERROR, "Both options of an either/or used",
    "Unit {number} mixes its either/or options: there are entries on {used}, but a learner takes only one option",
    "Assessment is recorded against criteria of more than one option of an either/or group (for "
    "example both the face-to-face and the non-facing criteria of L2 Unit 9).",
    "Keep the option of the learner's pathway and clear the entries recorded against the other.",
    group="pathways")
OPTION_MISMATCH = issue_type(
    "pathway-option-mismatch", Severity.ERROR, "Criterion not on the learner's pathway",
    "{ref} belongs to the {option} option, but the learner's pathway is {pathway}; it should not be assessed",
    "Assessment is recorded against an either/or criterion that belongs to another pathway than the "
    "one on the cover.",
    "Either correct the learner's pathway on the cover, or clear this row and assess the criteria of "
    "the learner's pathway instead.", group="pathways")
READING_UNKNOWN = issue_type(
    "pathway-reading-unknown", Severity.ERROR, "Unknown reading requested",
    "{qualification} has no reading '{reading}' (readings: {known}); validated under '{applied}'",
    "A reading is how tracker takes a part of the specification that can be read two ways (such as L2 "
    "Unit 17). The reading asked for on the command line is not one this qualification has; the add-in "
    "and the roll-up never ask for one of their own.",
    "Ask for one of the readings the message lists (`tracker spec show NUMBER` describes each).",
    group="pathways")
READING_RECORDED_UNKNOWN = issue_type(
    "pathway-reading-recorded-unknown", Severity.WARNING, "Workbook made under an unknown reading",
    "The workbook was made under a reading '{reading}' that {qualification} does not define; "
    "validated under '{applied}'",
    "The workbook's hidden details sheet names a reading of the specification (how a part that can be "
    "read two ways is taken) that the installed qualification does not know: an older or edited "
    "specification.",
    "Make the learner a new workbook with the add-in's New learner workbook button (or `tracker new`) and copy the entries into it.", group="pathways")
READING_DIFFERS = issue_type(
    "pathway-reading-differs", Severity.WARNING, "Validated under another reading",
    "Validated under the '{applied}' reading, but the workbook was made under '{recorded}': its "
    "Required column and summary count the criteria of the other reading",
    "The reading asked for differs from the one recorded in the workbook, so what the workbook shows "
    "as required may differ from what was checked.",
    "Use the centre's chosen reading for every learner (it is set once, in the centre folder's "
    "centre.yaml). For this learner, a new workbook made with the add-in's New learner workbook button (or `tracker new`) shows the right Required column.",
    group="pathways")


@check(READING_UNKNOWN, READING_RECORDED_UNKNOWN, READING_DIFFERS)
def reading(ctx: Context) -> Iterator[Issue]:
    """The reading asked for and the one recorded in the workbook exist, and agree."""
    q = ctx.q
    assert q is not None
    known = [r.id for r in q.readings]
    if not known:
        return
    recorded = ctx.book.meta.get("reading", "")
    asked = ctx.reading_requested
    if asked is not None and asked not in known:
        yield ctx.issue(READING_UNKNOWN, qualification=q.number, reading=asked, known=", ".join(known),
                        applied=ctx.reading)
    if recorded and recorded not in known:
        yield ctx.issue(READING_RECORDED_UNKNOWN, reading=recorded, qualification=q.number, applied=ctx.reading)
    elif recorded and recorded != ctx.reading:
        yield ctx.issue(READING_DIFFERS, applied=ctx.reading, recorded=recorded)


@check(PATHWAY_MISSING, PATHWAY_UNKNOWN, OPTIONS_MIXED, OPTION_MISMATCH)
def pathways(ctx: Context) -> Iterator[Issue]:
    """Pathway on the cover; either/or options used one at a time, matching the pathway."""
    q = ctx.q
    assert q is not None
    reading_id = ctx.reading or None
    groups = [(u, g) for u in q.units for g in q.active_groups(u, reading_id)]
    if not groups:
        return
    labels = {p.id: p.label for p in q.pathways}
    choices = ", ".join(labels.values())
    c = ctx.cover_cell("pathway")
    if ctx.pathway is None and ctx.book.cover_sheet is not None:
        if c is None or c.value is None:
            yield ctx.issue(PATHWAY_MISSING, c, sheet=ctx.book.cover_sheet, choices=choices)
        else:
            yield ctx.issue(PATHWAY_UNKNOWN, c, value=str(c.value), choices=choices)
    for unit, g in groups:
        used: dict[str, list[RowInfo]] = {}
        for option, refs in g.options.items():
            for ref in refs:
                info = ctx.rows.get(ref)
                if info is not None and is_used(info.row):
                    used.setdefault(option, []).append(info)
        if not used:
            continue
        if len(used) > 1:
            names = []
            for option, infos in used.items():
                names.append(f"{', '.join(i.criterion.ref for i in infos)} ({labels.get(option, option).lower()})")
            others = [o for o in used if o != ctx.pathway] if ctx.pathway in used else list(used)[1:]
            first = min((i for o in others for i in used[o]), key=lambda i: i.row.row)
            ref_cell = first.row.cells.get("ref")
            yield ctx.issue(OPTIONS_MIXED, ref_cell, sheet=first.row.sheet, unit=unit, criterion=first.criterion.ref,
                            number=unit.number, used=" and ".join(names))
        if ctx.pathway is None:
            continue
        mine = set(g.options.get(ctx.pathway, []))
        for option, infos in used.items():
            if option == ctx.pathway:
                continue
            for info in infos:
                if info.criterion.ref in mine:
                    continue
                at = info.row.cells.get("decision") or info.row.cells.get("ref")
                yield ctx.issue(OPTION_MISMATCH, at, sheet=info.row.sheet, unit=unit, criterion=info.criterion.ref,
                                ref=info.criterion.ref, option=labels.get(option, option).lower(),
                                pathway=labels.get(ctx.pathway, ctx.pathway).lower())
