"""Staff, against the centre register (only when a register is given).

* every assessor and IQA named in the workbook (cover and rows) is on the register's staff list,
  with the role they act in (assessor; IQA or lead IQA);
* an assessor has an assessor qualification held or being worked towards, an IQA an IQA
  qualification held or being worked towards;
* **countersignature rule** -- a trainee assessor (Assessor status "Working towards") may record a
  Met decision only when it is countersigned: the register names the trainee's Countersigner, that
  countersigner is on the staff list as an assessor whose assessor qualification is Held, and the
  row carries the countersigner's name, either as a second name in the Assessor cell
  ("Trainee Name / Countersigner Name") or anywhere in the row's Comments
  ("Countersigned by Countersigner Name 03/05/2024"). A missing or unqualified countersigner is
  reported once per trainee; a Met row without the countersigner's name once per row.

Each person-level issue is reported once, at the first cell where the person appears.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.register import ROLE_ASSESSOR, ROLE_IQA, STATUS_HELD, STATUS_WORKING
from tracker.rules.checks.base import Context, check, value
from tracker.workbook import layout as L
from tracker.workbook.model import name_key, split_names

NOT_IN_REGISTER = issue_type(
    "staff-not-in-register", Severity.ERROR, "Signer not on the centre register",
    "{name} acted as {role} ({where}) but is not on the centre register's staff list",
    "Everyone who assesses or quality-assures must be on the centre's staff list, with their role and "
    "qualifications, so that the awarding body can check they are competent to do so.",
    "Add the person to the Staff sheet of the centre register, or correct the spelling of the name "
    "in the workbook.", group="staff")
MISSING_ROLE = issue_type(
    "staff-missing-role", Severity.ERROR, "Signer without that role",
    "{name} acted as {role} ({where}) but the centre register does not give them the {role} role",
    "The person is on the staff list but without the role they acted in (assessor; IQA or lead IQA).",
    "Add the role on the Staff sheet if they hold it; otherwise the decisions must be made by someone "
    "who does.", group="staff")
ASSESSOR_UNQUALIFIED = issue_type(
    "staff-assessor-unqualified", Severity.ERROR, "Assessor without an assessor qualification",
    "{name} acted as assessor ({where}) but holds no assessor qualification and is not working towards one",
    "An assessor must hold an assessor qualification, or be working towards one with their decisions "
    "countersigned.",
    "Record the person's assessor qualification and status in the register, or have a qualified "
    "assessor make the decisions.", group="staff")
IQA_UNQUALIFIED = issue_type(
    "staff-iqa-unqualified", Severity.ERROR, "IQA without an IQA qualification",
    "{name} acted as IQA ({where}) but holds no IQA qualification and is not working towards one",
    "An internal quality assurer must hold an IQA qualification or be working towards one.",
    "Record the person's IQA qualification and status in the register, or have a qualified IQA "
    "sample the decisions.", group="staff")
TRAINEE_NO_COUNTERSIGNER = issue_type(
    "staff-trainee-no-countersigner", Severity.ERROR, "Trainee assessor without a countersigner",
    "{name} is a trainee assessor (working towards the qualification) with no countersigner in the "
    "centre register, so their Met decisions ({where}) are not countersigned",
    "A trainee assessor's decisions must be countersigned by a qualified assessor, named as the "
    "trainee's Countersigner in the centre register.",
    "Enter the trainee's countersigner (a qualified assessor) on the Staff sheet; that person then "
    "countersigns each decision.", group="staff")
COUNTERSIGNER_UNQUALIFIED = issue_type(
    "staff-countersigner-unqualified", Severity.ERROR, "Countersigner not a qualified assessor",
    "{name}'s countersigner {countersigner} is not a qualified assessor in the centre register ({why})",
    "A trainee's countersigner must be on the staff list as an assessor whose assessor qualification "
    "is Held.",
    "Choose a qualified assessor as the trainee's countersigner on the Staff sheet.", group="staff")
NOT_COUNTERSIGNED = issue_type(
    "staff-trainee-not-countersigned", Severity.ERROR, "Trainee's decision not countersigned",
    "{ref} was marked Met by trainee assessor {name} without a countersignature by {countersigner}",
    "A Met decision by a trainee assessor counts only when the trainee's countersigner has signed it "
    "too: the countersigner's name as a second name in the Assessor cell (\"Trainee / "
    "Countersigner\") or in the row's Comments.",
    "The countersigner reviews the decision and adds their name to the Assessor cell after the "
    "trainee's (\"Trainee / Countersigner\") or in Comments (\"Countersigned by ... on ...\").",
    group="staff")


@check(NOT_IN_REGISTER, MISSING_ROLE, ASSESSOR_UNQUALIFIED, IQA_UNQUALIFIED, TRAINEE_NO_COUNTERSIGNER,
       COUNTERSIGNER_UNQUALIFIED, NOT_COUNTERSIGNED, needs_register=True)
def staff(ctx: Context) -> Iterator[Issue]:
    """Signers on the register with their role and qualification; trainees countersigned."""
    reg = ctx.register
    assert reg is not None
    for role, people in ((ROLE_ASSESSOR, ctx.people("assessor")), (ROLE_IQA, ctx.people("iqa"))):
        for p in people.values():
            m = reg.member(p.name)
            if m is None:
                yield ctx.issue(NOT_IN_REGISTER, p.first, name=p.name, role=role, where=p.where())
            elif role == ROLE_ASSESSOR:
                if not m.is_assessor:
                    yield ctx.issue(MISSING_ROLE, p.first, name=p.name, role=role, where=p.where())
                elif m.assessor_status not in (STATUS_HELD, STATUS_WORKING):
                    yield ctx.issue(ASSESSOR_UNQUALIFIED, p.first, name=p.name, where=p.where())
            else:
                if not m.is_iqa:
                    yield ctx.issue(MISSING_ROLE, p.first, name=p.name, role=role, where=p.where())
                elif m.iqa_status not in (STATUS_HELD, STATUS_WORKING):
                    yield ctx.issue(IQA_UNQUALIFIED, p.first, name=p.name, where=p.where())

    # Countersignature of trainees' Met decisions.
    reported: set[str] = set()
    for info in ctx.row_list:
        row = info.row
        if value(row, "decision") != L.MET:
            continue
        a = row.cells.get("assessor")
        if a is None or a.value is None or a.problem is not None:
            continue
        names = split_names(str(a.value))
        keys = {name_key(n) for n in names}
        for n in names:
            m = reg.member(n)
            if m is None or not m.is_assessor or not m.trainee_assessor:
                continue
            k = name_key(n)
            cs = m.countersigner
            if not cs:
                if k not in reported:
                    reported.add(k)
                    yield ctx.issue(TRAINEE_NO_COUNTERSIGNER, a, unit=info.unit, criterion=info.criterion.ref, name=n,
                                    where=f"first {a.sheet}!{a.ref}")
                continue
            csm = reg.member(cs)
            why = ("not on the staff list" if csm is None else "no assessor role" if not csm.is_assessor
                   else "assessor qualification not held" if not csm.qualified_assessor else "")
            if why:
                if k not in reported:
                    reported.add(k)
                    yield ctx.issue(COUNTERSIGNER_UNQUALIFIED, a, unit=info.unit, criterion=info.criterion.ref, name=n,
                                    countersigner=cs, why=why)
                continue
            cs_key = name_key(cs)
            comments = value(row, "comments")
            if cs_key in keys or (comments is not None and cs_key in name_key(str(comments))):
                continue
            yield ctx.issue(NOT_COUNTERSIGNED, a, unit=info.unit, criterion=info.criterion.ref, ref=info.criterion.ref,
                            name=n, countersigner=cs)
