"""Tampering: the workbook no longer matches the specification it was made from.

Units are identified by the unit reference in each sheet's header block, else by the criterion
references on the sheet (else by the unit number), never by sheet name, so a renamed sheet is
fine. Criterion rows are matched by reference; a row whose reference was changed is still
recognised by its text (reported as a changed reference). Criterion texts are compared
whitespace-normalised with the specification's text (or, for a criterion worded per pathway, any
of its wordings).

* errors: a criterion reference or text changed, a criterion row missing, a unit sheet missing, a
  criterion present twice on a sheet, copies of a unit sheet whose entries for a criterion differ;
* warnings: a unit sheet present twice (both copies are read: see
  :func:`tracker.rules.checks.base.copies_differ`), rows with criteria the specification does not have, a criterion moved to another
  unit's sheet, a Type changed, a sheet with a criterion table of no known unit, a workbook made
  from another version of the specification (version or content hash), a workbook without
  tracker's hidden metadata (not made by tracker).
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check, is_used, row_text
from tracker.workbook import layout as L

CRITERION_TEXT = issue_type(
    "tamper-criterion-text", Severity.ERROR, "Criterion text changed",
    "{ref}'s text differs from the specification: \"{found}\" instead of \"{expected}\"",
    "The wording of an assessment criterion was edited. Learners are assessed against the "
    "specification's exact wording, so the row no longer shows what is being assessed.",
    "Restore the criterion text from the specification (or from a newly generated workbook); criterion "
    "cells are normally locked.", group="tampering")
OTHER_PATHWAY_WORDING = issue_type(
    "tamper-other-pathway-wording", Severity.WARNING, "Criterion shows another pathway's wording",
    "{ref} shows the {other} wording, but the learner's pathway is {pathway}",
    "A criterion worded per pathway shows only the learner's pathway wording once the pathway is "
    "set; this row shows the other pathway's, so the learner may be assessed against the wrong one.",
    "Restore the wording of the learner's pathway (a newly generated workbook has it), or correct the "
    "cover's Pathway.", group="tampering")
CRITERION_REF = issue_type(
    "tamper-criterion-ref", Severity.ERROR, "Criterion reference changed",
    "The row with {ref}'s text shows the reference '{found}' instead of {ref}",
    "A criterion's reference was changed (the row was recognised by its text). References are "
    "exactly as printed in the specification and never renumbered.",
    "Restore the reference as printed in the specification.", group="tampering")
CRITERION_MISSING = issue_type(
    "tamper-criterion-missing", Severity.ERROR, "Criterion row missing",
    "Unit {number} has no row for {ref}",
    "A criterion of the unit has no row in the workbook: it was deleted (or its reference and text "
    "both changed), so it cannot be assessed or counted.",
    "Restore the row from an earlier version of the workbook, or copy it from a newly generated one.",
    group="tampering")
CRITERION_UNKNOWN = issue_type(
    "tamper-criterion-unknown", Severity.WARNING, "Criterion not in the specification",
    "{what}; the row is ignored",
    "A row in a criterion table has a reference the specification does not have (an added criterion, "
    "a typo in a reference, or entries on a row without a reference). It is not counted.",
    "Delete the row, or correct its reference if it was meant to be one of the unit's criteria.",
    group="tampering")
CRITERION_DUPLICATE = issue_type(
    "tamper-criterion-duplicate", Severity.ERROR, "Criterion listed twice",
    "{ref} appears again on row {row} (first on {first}); only the first row is used",
    "The same criterion has more than one row, so it is ambiguous which decision counts.",
    "Merge the rows into one and delete the other.", group="tampering")
CRITERION_MOVED = issue_type(
    "tamper-criterion-moved", Severity.WARNING, "Criterion on another unit's sheet",
    "{ref} belongs to unit {number} but is on the sheet of unit {sheet_unit}",
    "A criterion row sits on a different unit's sheet. It is still counted for its own unit.",
    "Move the row back to its unit's sheet.", group="tampering")
CRITERION_KIND = issue_type(
    "tamper-criterion-kind", Severity.WARNING, "Criterion type changed",
    "{ref}'s Type is '{found}' but the specification makes it {expected}",
    "The Type column (Knowledge / Skill / Behaviour) follows the criterion's reference prefix.",
    "Restore the type shown in a newly generated workbook.", group="tampering")
UNIT_MISSING = issue_type(
    "tamper-unit-missing", Severity.ERROR, "Unit sheet missing",
    "No sheet holds unit {number} ({unit_ref} {title})",
    "No sheet of the workbook holds this unit's criterion table (units are found by their unit "
    "reference or their criteria, whatever the sheet is called): the sheet was deleted.",
    "Restore the sheet from an earlier version, or copy it from a newly generated workbook.",
    group="tampering")
UNIT_DUPLICATE = issue_type(
    "tamper-unit-duplicate", Severity.WARNING, "Unit present twice",
    "Sheet '{name}' holds unit {number} again (it is already on sheet '{first}'); both sheets are read",
    "Two sheets hold the same unit (Excel's Move or Copy puts the copy before the original). Both "
    "are read: a criterion with entries on only one copy is taken from that copy, and copies whose "
    "entries for a criterion differ are an error (tamper-copies-disagree). Nothing on either copy is "
    "ignored.",
    "Merge the entries into one sheet and delete the copy.", group="tampering")
COPIES_DISAGREE = issue_type(
    "tamper-copies-disagree", Severity.ERROR, "Two copies of a unit sheet disagree",
    "Criterion {ref} is on sheet '{sheet}' and again on sheet '{other}' with different entries "
    "({fields}); neither is used",
    "The workbook holds a unit sheet twice. Entries found on only one copy are taken from it; but "
    "here both copies hold entries for this criterion and they differ, so it is unclear which is "
    "genuine. The roll-up merges neither (the accepted values stay).",
    "Keep one copy of the sheet with the right entries, delete the other, and return the workbook again.",
    group="tampering")
UNIT_UNKNOWN = issue_type(
    "tamper-unit-unknown", Severity.WARNING, "Criterion table of no known unit",
    "Sheet '{name}' has a criterion table, but neither its unit reference nor its criteria belong to "
    "this qualification; it is ignored",
    "A sheet holds a criterion table whose unit is not in the qualification (a sheet copied from "
    "another workbook, or a unit reference and criteria all changed).",
    "Delete the sheet, or restore its unit reference and criteria.", group="tampering")
SPEC_VERSION = issue_type(
    "tamper-spec-version", Severity.WARNING, "Made from another version of the specification",
    "The workbook was made from {qualification} {what}, but the installed specification is {installed}",
    "The qualification data installed now differs from the data the workbook was generated from "
    "(another version, or the same version edited). Criteria, texts or pathways may have changed; "
    "the workbook was checked against the installed one.",
    "If the awarding body has updated the specification, make the learner a workbook from the new "
    "version with the add-in's New learner workbook button (or `tracker new`) and copy their entries into it; otherwise ask whoever looks after tracker to "
    "install the version the workbook was made from.",
    group="tampering")
NO_METADATA = issue_type(
    "tamper-no-metadata", Severity.WARNING, "Workbook not made by tracker",
    "The workbook has no hidden details sheet ('{meta}'), so it was not made by tracker or that sheet "
    "was removed; it was checked against the qualification on its cover",
    "Every workbook tracker makes carries a hidden sheet saying which workbook it is, which "
    "qualification and which version of its specification it was made from, the pathway and the "
    "reading. Without it tracker cannot tell which version of the specification the workbook follows.",
    "Make the learner a new workbook with the add-in's New learner workbook button (or `tracker new`) and copy the entries into it.",
    group="tampering")


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


@check(CRITERION_TEXT, OTHER_PATHWAY_WORDING, CRITERION_REF, CRITERION_MISSING, CRITERION_UNKNOWN, CRITERION_DUPLICATE,
       CRITERION_MOVED, CRITERION_KIND, UNIT_MISSING, UNIT_DUPLICATE, COPIES_DISAGREE, UNIT_UNKNOWN, SPEC_VERSION,
       NO_METADATA)
def tampering(ctx: Context) -> Iterator[Issue]:
    """Units, criterion rows, references, texts and the specification version."""
    q = ctx.q
    idx = ctx.spec
    assert q is not None and idx is not None
    book = ctx.book
    meta = book.meta
    if not meta.get("spec_id") and not meta.get("spec_number"):
        yield ctx.issue(NO_METADATA, meta=L.META)
    else:
        version = meta.get("spec_version", "")
        recorded_hash = meta.get("spec_hash", "")
        if version and version != q.version:
            yield ctx.issue(SPEC_VERSION, qualification=q.number, what=f"version {version}",
                            installed=f"version {q.version}")
        elif recorded_hash and ctx.installed_hash and recorded_hash != ctx.installed_hash:
            yield ctx.issue(SPEC_VERSION, qualification=q.number,
                            what=f"version {version or '?'} (content {recorded_hash})",
                            installed=f"version {q.version} with different content ({ctx.installed_hash})")

    broken = set(book.broken_sheets)
    for view in ctx.views:
        if view.duplicate_of is not None and view.unit is not None:
            yield ctx.issue(UNIT_DUPLICATE, sheet=view.sheet.sheet, unit=view.unit, name=view.sheet.sheet,
                            number=view.unit.number, first=view.duplicate_of)
        elif view.unit is None:
            yield ctx.issue(UNIT_UNKNOWN, sheet=view.sheet.sheet, name=view.sheet.sheet)
    for dref, (copies, differ) in ctx.disagree.items():
        unit = idx.by_ref[dref][0]
        for crow in copies:
            elsewhere = next(r.sheet for r in copies if r.sheet != crow.sheet)
            yield ctx.issue(COPIES_DISAGREE, crow.cells.get("decision"), sheet=crow.sheet, unit=unit,
                            criterion=dref, ref=dref, other=elsewhere, fields=", ".join(differ))
    for unit in q.units:
        uview = ctx.sheet_of_unit.get(unit.number)
        if uview is None:
            expected = L.unit_sheet_name(unit.number)
            if expected not in broken:  # structure-unit-table-missing already says so
                yield ctx.issue(UNIT_MISSING, sheet=expected, unit=unit, number=unit.number, unit_ref=unit.ref,
                                title=unit.title)
            continue
        if "ref" not in uview.sheet.columns:
            continue  # structure-columns-missing already says so
        for c in unit.criteria:
            if c.ref not in ctx.rows:
                yield ctx.issue(CRITERION_MISSING, sheet=uview.sheet.sheet, unit=unit, criterion=c.ref,
                                number=unit.number, ref=c.ref)

    for info, written in ctx.renamed:
        yield ctx.issue(CRITERION_REF, info.row.cells.get("ref"), sheet=info.row.sheet, unit=info.unit,
                        criterion=info.criterion.ref, ref=info.criterion.ref, found=written)
    for info in ctx.misplaced:
        su = info.view.unit
        yield ctx.issue(CRITERION_MOVED, info.row.cells.get("ref"), sheet=info.row.sheet, unit=info.unit,
                        criterion=info.criterion.ref, ref=info.criterion.ref, number=info.unit.number,
                        sheet_unit=su.number if su is not None else "?")
    for view, row, why in ctx.stray:
        at = row.cells.get("ref")
        if why == "duplicate":
            first = ctx.rows[row.ref].row
            fc = first.cells.get("ref")
            yield ctx.issue(CRITERION_DUPLICATE, at, sheet=row.sheet, unit=view.unit, criterion=row.ref, ref=row.ref,
                            row=row.row, first=f"{fc.sheet}!{fc.ref}" if fc is not None else f"row {first.row}")
        elif row.ref:
            yield ctx.issue(CRITERION_UNKNOWN, at, sheet=row.sheet, unit=view.unit,
                            what=f"'{_short(row.ref, 30)}' is not a criterion of {q.number}")
        elif is_used(row) or row_text(row):
            yield ctx.issue(CRITERION_UNKNOWN, at, sheet=row.sheet, unit=view.unit,
                            what=f"Row {row.row} has entries but no criterion reference")

    texts = idx.texts
    for info in ctx.row_list:
        row = info.row
        crit = info.criterion
        t = row_text(row)
        if t is not None and t not in texts[crit.ref]:
            yield ctx.issue(CRITERION_TEXT, row.cells.get("text"), sheet=row.sheet, unit=info.unit, criterion=crit.ref,
                            ref=crit.ref, found=_short(t), expected=_short(crit.text))
        elif t is not None and ctx.pathway and crit.variants and ctx.pathway in crit.variants:
            other = [p for p, v in crit.variants.items() if p != ctx.pathway and v.casefold() == t.casefold()]
            if other and q is not None:
                labels = {p.id: p.label for p in q.pathways}
                yield ctx.issue(OTHER_PATHWAY_WORDING, row.cells.get("text"), sheet=row.sheet, unit=info.unit,
                                criterion=crit.ref, ref=crit.ref, other=labels.get(other[0], other[0]).lower(),
                                pathway=labels.get(ctx.pathway, ctx.pathway).lower())
        k = row.cells.get("kind")
        if k is not None and k.problem is None and k.value is not None:
            found = str(k.value).strip()
            if found.casefold() != crit.kind.label.casefold():
                yield ctx.issue(CRITERION_KIND, k, unit=info.unit, criterion=crit.ref, ref=crit.ref, found=found,
                                expected=crit.kind.label)

