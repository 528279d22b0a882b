"""Structure: the sheets and tables a learner workbook must have for anything else to be checked.

The reader finds sheets and columns by their text, so these issues mean the text itself is gone:
a cover sheet without its labels, a unit sheet whose criterion table header row was deleted or
renamed, a contract column missing, no evidence log, or a qualification tracker does not know.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check
from tracker.workbook import layout as L

UNKNOWN_QUALIFICATION = issue_type(
    "structure-unknown-qualification", Severity.ERROR, "Qualification not installed",
    "The workbook's qualification cannot be found: {problem}. Only the learner's details were checked",
    "The qualification number on the cover (or in the workbook's hidden metadata) is not one of the "
    "installed qualifications, so criteria, pathways and completion cannot be checked.",
    "Check the qualification number on the cover. If the qualification is new to the centre, install "
    "its specification with `tracker spec add FILE.yaml`.", group="structure")
COVER_MISSING = issue_type(
    "structure-cover-missing", Severity.ERROR, "Cover sheet missing",
    "No cover sheet was found (a sheet with the label '{label}'), so the learner's details are unknown",
    "No sheet holds the cover labels (Learner name, ULN, Qualification ...). The sheet was deleted, "
    "or its labels were overwritten.",
    "Copy the Cover sheet back from the assessor's previous version of the workbook, or re-create the "
    "workbook with `tracker new` and copy the unit entries into it.", group="structure")
COVER_FIELD_MISSING = issue_type(
    "structure-cover-field-missing", Severity.WARNING, "Cover label missing",
    "The cover sheet has no '{label}' label, so the {label_lower} could not be read",
    "One of the cover sheet's labels (Learner name, ULN, Qualification, Qualification number, Pathway, "
    "Registration date, Assessor, IQA, Tutor, Employer) is missing; the value next to it cannot be found.",
    "Type the label back in column A of the cover sheet, exactly as listed, with its value to its right.",
    group="structure")
UNIT_TABLE_MISSING = issue_type(
    "structure-unit-table-missing", Severity.ERROR, "Unit sheet without its criterion table",
    "Sheet '{name}' looks like a unit sheet but {reason}",
    "A sheet has a unit header block (Unit number, Unit reference) but its criterion table's header "
    "row was not found, so none of its criteria can be read.",
    "Restore the table's header row (Ref, Assessment criterion, Type, Evidence refs, Method, Evidence "
    "date, Decision, Assessor, Assessor date, IQA sampled, IQA, IQA date, IQA decision, Comments).",
    group="structure")
COLUMNS_MISSING = issue_type(
    "structure-columns-missing", Severity.ERROR, "Criterion table columns missing",
    "The criterion table on '{name}' has no {columns} column{s}",
    "Every unit sheet's criterion table must keep the contract's column headers; a missing column "
    "means its values cannot be read (columns may be moved, and others added).",
    "Put the column back with its header text exactly as listed (letter case does not matter).",
    group="structure")
EVIDENCE_MISSING = issue_type(
    "structure-evidence-missing", Severity.ERROR, "Evidence log missing",
    "No evidence log was found (a sheet with an '{header}' column), so evidence refs cannot be checked",
    "No sheet holds the evidence log table (Evidence ref, Description, Method, Date, Location).",
    "Copy the Evidence sheet back from an earlier version of the workbook, or restore its header row.",
    group="structure")
MACROS = issue_type(
    "structure-macros", Severity.INFO, "Workbook contains macros",
    "The workbook contains macros; tracker never runs them and only read its values",
    "The file holds VBA or Excel 4.0 macros. tracker reads values only, so the macros did nothing, "
    "but a learner workbook has no need of them.",
    "Ask the assessor to save the workbook as an Excel Workbook (.xlsx).", group="structure")


@check(UNKNOWN_QUALIFICATION, needs_spec=False)
def qualification_known(ctx: Context) -> Iterator[Issue]:
    """The qualification could be found (only emits when it could not)."""
    if ctx.q is not None:
        return
    c = ctx.cover_cell("qualification_number")
    yield ctx.issue(UNKNOWN_QUALIFICATION, c, sheet=None if c else ctx.book.cover_sheet,
                    problem=ctx.lookup_problem or "unknown qualification")


@check(COVER_MISSING, COVER_FIELD_MISSING, UNIT_TABLE_MISSING, COLUMNS_MISSING, EVIDENCE_MISSING, MACROS,
       needs_spec=False)
def structure(ctx: Context) -> Iterator[Issue]:
    """Cover labels, unit tables and their columns, the evidence log, macros."""
    book = ctx.book
    if book.cover_sheet is None:
        yield ctx.issue(COVER_MISSING, sheet=L.COVER, label=L.COVER_LABELS["name"])
    else:
        for key, label in L.COVER_FIELDS:
            if key not in book.cover and key not in L.COVER_SINCE_V2:
                yield ctx.issue(COVER_FIELD_MISSING, sheet=book.cover_sheet, label=label, label_lower=label.lower())
    for name, reason in book.broken_sheets.items():
        yield ctx.issue(UNIT_TABLE_MISSING, sheet=name, name=name, reason=reason)
    for us in book.units:
        if us.missing_columns:
            cols = ", ".join(f"'{h}'" for h in us.missing_columns)
            yield ctx.issue(COLUMNS_MISSING, sheet=us.sheet, name=us.sheet, columns=cols,
                            s="s" if len(us.missing_columns) > 1 else "")
    if book.evidence_sheet is None:
        yield ctx.issue(EVIDENCE_MISSING, sheet=L.EVIDENCE, header=L.EVIDENCE_COLUMNS[0].header)
    if book.has_macros:
        yield ctx.issue(MACROS)
