"""Identifiers: the learner's name and ULN, the qualification number, each unit's reference.

ULN, qualification number and unit reference use :mod:`tracker.identifiers` (check digits and
formats). A qualification number or unit reference whose check character does not fit is only a
warning: the algorithm fits every real number seen but is not officially published. A unit
reference that is well formed but differs from the specification's reference for the unit on that
sheet (identified by its criteria) is an error: the workbook no longer says what it assesses.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.identifiers import check_qualification_number, check_uln, check_unit_ref
from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check
from tracker.workbook import layout as L

NAME_MISSING = issue_type(
    "id-learner-name-missing", Severity.ERROR, "Learner name missing",
    "The learner's name is empty on the cover sheet",
    "Every workbook belongs to one named learner; without the name it cannot be matched to the "
    "learner or reported to the awarding body.",
    "Type the learner's full name on the cover sheet.", group="identifiers")
ULN_MISSING = issue_type(
    "id-uln-missing", Severity.ERROR, "ULN missing",
    "The learner's ULN (Unique Learner Number) is empty on the cover sheet",
    "The ULN identifies the learner to the awarding body and is needed for registration and claims.",
    "Type the learner's 10-digit ULN on the cover sheet (9999999999 only if it is genuinely not known).",
    group="identifiers")
ULN_INVALID = issue_type(
    "id-uln-invalid", Severity.ERROR, "ULN not valid",
    "{problem}",
    "A ULN has 10 digits, does not start with 0, and its last digit is a check digit computed from the "
    "other nine; a value that fails this was mistyped.",
    "Copy the ULN again from the learner's registration or the Learning Records Service.",
    group="identifiers")
ULN_NOT_KNOWN = issue_type(
    "id-uln-not-known", Severity.WARNING, "ULN 'not known'",
    "{problem}",
    "9999999999 is the sector's value for a ULN that is not known yet. It is accepted, but the real "
    "ULN is needed before certification.",
    "Replace it with the learner's real ULN as soon as it is known.", group="identifiers")
QN_INVALID = issue_type(
    "id-qualification-number-invalid", Severity.ERROR, "Qualification number not valid",
    "{problem}",
    "The Ofqual qualification number has the form 123/4567/8.",
    "Restore the qualification number printed on the specification (the cover's value is normally "
    "locked; re-create the workbook if it was changed).", group="identifiers")
QN_CHECK = issue_type(
    "id-qualification-number-check", Severity.WARNING, "Qualification number check character",
    "{problem}",
    "The qualification number's last character does not fit the usual check-character rule. The rule "
    "is not officially published, so this is only a warning.",
    "Compare the number with the awarding body's specification.", group="identifiers")
QN_MISMATCH = issue_type(
    "id-qualification-number-mismatch", Severity.ERROR, "Qualification number does not match",
    "The cover says qualification {found}, but the workbook is checked as {expected} ({title})",
    "The qualification number on the cover differs from the qualification the workbook was made for "
    "(recorded on its hidden details sheet) or was validated against.",
    "Put back the qualification number of the workbook's qualification. If the learner is really on "
    "the other qualification, make them a workbook for it with the add-in's New learner workbook button (or `tracker new`) and copy the entries into it.",
    group="identifiers")
UNIT_REF_INVALID = issue_type(
    "id-unit-ref-invalid", Severity.ERROR, "Unit reference not valid",
    "Unit {number}'s reference: {problem}",
    "An Ofqual unit reference has the form A/123/4567.",
    "Restore the unit reference printed on the specification in the unit sheet's header block.",
    group="identifiers")
UNIT_REF_CHECK = issue_type(
    "id-unit-ref-check", Severity.WARNING, "Unit reference check letter",
    "Unit {number}'s reference: {problem}",
    "The unit reference's first letter does not fit the usual check-letter rule (not officially "
    "published, so only a warning).",
    "Compare the reference with the awarding body's specification.", group="identifiers")
UNIT_REF_MISMATCH = issue_type(
    "id-unit-ref-mismatch", Severity.ERROR, "Unit reference differs from the specification",
    "The sheet holds unit {number}'s criteria, but its unit reference is {found} instead of {expected}",
    "The unit reference in a unit sheet's header block is not the specification's reference for the "
    "unit whose criteria are on the sheet.",
    "Restore the unit reference given in the specification (the message names it).", group="identifiers")


@check(NAME_MISSING, ULN_MISSING, ULN_INVALID, ULN_NOT_KNOWN, QN_INVALID, QN_CHECK, needs_spec=False)
def learner_ids(ctx: Context) -> Iterator[Issue]:
    """Learner name, ULN and qualification number on the cover (no specification needed)."""
    book = ctx.book
    if book.cover_sheet is None:
        return  # structure-cover-missing says it all
    name = book.cover.get("name")
    if name is not None and name.blank:
        yield ctx.issue(NAME_MISSING, name)
    uln = book.cover.get("uln")
    if uln is not None and uln.problem is None:
        res = check_uln(uln.value)
        if not res.value:
            yield ctx.issue(ULN_MISSING, uln)
        elif res.severity == "error":
            yield ctx.issue(ULN_INVALID, uln, problem=res.problem)
        elif res.severity == "warning":
            yield ctx.issue(ULN_NOT_KNOWN, uln, problem=res.problem)
    qn = book.cover.get("qualification_number")
    if qn is not None and qn.problem is None:
        res = check_qualification_number(qn.value)
        if not res.value:
            yield ctx.issue(QN_INVALID, qn, problem="no qualification number is given")
        elif res.severity == "error":
            yield ctx.issue(QN_INVALID, qn, problem=res.problem)
        elif res.severity == "warning":
            yield ctx.issue(QN_CHECK, qn, problem=res.problem)


@check(QN_MISMATCH, UNIT_REF_INVALID, UNIT_REF_CHECK, UNIT_REF_MISMATCH)
def spec_ids(ctx: Context) -> Iterator[Issue]:
    """The cover's qualification number and each unit sheet's unit reference against the spec."""
    q = ctx.q
    assert q is not None
    qn = ctx.book.cover.get("qualification_number")
    if qn is not None and qn.value and qn.problem is None and str(qn.value).strip() != q.number:
        if check_qualification_number(qn.value).severity != "error":
            yield ctx.issue(QN_MISMATCH, qn, found=str(qn.value).strip(), expected=q.number, title=q.title)
    for view in ctx.views:
        unit = view.unit
        if unit is None or view.duplicate_of is not None:
            continue
        c = view.sheet.header.get("ref")
        found = view.sheet.unit_ref.strip()
        if found == unit.ref:
            continue
        label = L.UNIT_HEADER_LABELS["ref"]
        if c is None:
            continue  # no label: the reference is simply absent; the sheet was found by its criteria
        res = check_unit_ref(found)
        if not found:
            yield ctx.issue(UNIT_REF_INVALID, c, unit=unit, number=unit.number, problem=f"the {label} is empty")
            continue
        if res.severity == "error":
            yield ctx.issue(UNIT_REF_INVALID, c, unit=unit, number=unit.number, problem=res.problem)
            continue
        if res.severity == "warning":
            yield ctx.issue(UNIT_REF_CHECK, c, unit=unit, number=unit.number, problem=res.problem)
        yield ctx.issue(UNIT_REF_MISMATCH, c, unit=unit, number=unit.number, found=found, expected=unit.ref)
