"""Staff, against the centre register (only when a register is given).

* every assessor and IQA named in the workbook (cover and rows) is on the register's staff list,
  with the role they act in (assessor; IQA or lead IQA);
* an assessor has an assessor qualification held or being worked towards, an IQA an IQA
  qualification held or being worked towards;
* **countersignature rule** -- a trainee assessor (Assessor status "Working towards") may record a
  Met decision only when it is countersigned: a name in the row's ``Countersigned by`` column
  (template version 2), or a second name in the Assessor cell ("Trainee Name / Countersigner
  Name", the version-1 way); a name in Comments does not count. The countersigner must be an
  assessor whose assessor qualification is Held; under the centre policy "named" (the default)
  only the countersigner the register names for the trainee, under "any" any qualified assessor.
  The ``Countersign date`` must be on or after the Assessor date and not in the future. A trainee
  IQA's decisions likewise need a countersignature by an IQA whose IQA qualification is Held.
  A missing or unqualified named countersigner is reported once per trainee; the rest per row.
* a name that is not on the register but fits a registered person's initials and surname is a
  warning naming them (add it to their Other names if it is them).

Each person-level issue is reported once, at the first cell where the person appears.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tracker.issues import Issue, Severity, issue_type
from tracker.policy import COUNTERSIGN_NAMED
from tracker.rules.checks.base import Context, RowInfo, check, value
from tracker.workbook import layout as L
from tracker.workbook.model import name_key, split_names

if TYPE_CHECKING:
    # Imported when the check runs, i.e. only with a register: a workbook validated outside a
    # centre does not pay for tracker.register's import (see tracker.policy).
    from tracker.register import Register, StaffMember

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
    "Under the centre policy 'named', a trainee assessor's decisions must be countersigned by the "
    "qualified assessor named as the trainee's Countersigner in the centre register.",
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
    "{ref} was marked Met by trainee assessor {name} without a countersignature{by}",
    "A Met decision by a trainee assessor counts only when a qualified assessor has countersigned "
    "it: their name in the row's Countersigned by column (or as a second name in the Assessor cell, "
    "\"Trainee / Countersigner\"). A name mentioned in Comments is not a countersignature.",
    "The countersigner reviews the decision and types their name in Countersigned by and the date "
    "in Countersign date.", group="staff")
WRONG_COUNTERSIGNER = issue_type(
    "staff-countersigner-not-named", Severity.ERROR, "Countersigned by someone other than the named countersigner",
    "{ref} was countersigned by {signer}, but the centre register names {countersigner} as {name}'s countersigner",
    "Under the centre policy 'named' only the countersigner the register names for a trainee may "
    "countersign their decisions.",
    "Have the named countersigner countersign, or change the trainee's Countersigner on the Staff "
    "sheet; a centre that lets any qualified assessor countersign sets `countersign: any` in the "
    "policy of centre.yaml.", group="staff")
SIGNER_UNQUALIFIED = issue_type(
    "staff-countersign-unqualified", Severity.ERROR, "Countersigned by someone not qualified to countersign",
    "{ref} was countersigned by {signer}, who is not {needed} in the centre register ({why})",
    "A countersignature counts only from someone whose qualification is Held: an assessor for a "
    "trainee assessor's decision, an IQA for a trainee IQA's decision.",
    "Have a qualified person countersign the decision, or correct the register.", group="staff")
COUNTERSIGN_NO_DATE = issue_type(
    "staff-countersign-no-date", Severity.ERROR, "Countersignature without a date",
    "{ref} is countersigned by {signer} but Countersign date is blank",
    "A countersignature must be dated, so that it can be seen to follow the trainee's decision.",
    "The countersigner types the date (dd/mm/yyyy) in Countersign date.", group="staff")
COUNTERSIGN_EARLY = issue_type(
    "staff-countersign-before-decision", Severity.ERROR, "Countersigned before the decision",
    "{ref} is countersigned on {date}, before the decision it countersigns ({decided})",
    "A countersignature confirms a decision already made; it cannot be dated before it.",
    "Correct the Countersign date (or the decision's date).", group="staff")
COUNTERSIGN_FUTURE = issue_type(
    "staff-countersign-future", Severity.ERROR, "Countersign date in the future",
    "{ref} is countersigned on {date}, which is after today",
    "A countersignature cannot be dated in the future.",
    "Correct the Countersign date.", group="staff")
IQA_NOT_COUNTERSIGNED = issue_type(
    "staff-trainee-iqa-not-countersigned", Severity.ERROR, "Trainee IQA's decision not countersigned",
    "{ref}: the IQA decision by trainee IQA {name} is not countersigned by a qualified IQA",
    "An IQA working towards the IQA qualification has their decisions countersigned by an IQA whose "
    "IQA qualification is Held.",
    "A qualified IQA reviews the decision and types their name in Countersigned by and the date in "
    "Countersign date.", group="staff")
INITIALS_MATCH = issue_type(
    "staff-initials-match", Severity.WARNING, "Signer not on the register but fits a registered person",
    "{name} ({where}) is not on the centre register but fits {matches}",
    "The name is not on the staff list, but its initials and surname fit a registered person: it may "
    "be them signing with initials, or someone else. Until the register says so it is not treated as them.",
    "If it is them, add this form to their Other names on the Staff sheet; otherwise add the person "
    "to the staff list.", group="staff")


def _fmt(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


@check(NOT_IN_REGISTER, MISSING_ROLE, ASSESSOR_UNQUALIFIED, IQA_UNQUALIFIED, TRAINEE_NO_COUNTERSIGNER,
       COUNTERSIGNER_UNQUALIFIED, NOT_COUNTERSIGNED, WRONG_COUNTERSIGNER, SIGNER_UNQUALIFIED,
       COUNTERSIGN_NO_DATE, COUNTERSIGN_EARLY, COUNTERSIGN_FUTURE, IQA_NOT_COUNTERSIGNED, INITIALS_MATCH,
       needs_register=True)
def staff(ctx: Context) -> Iterator[Issue]:
    """Signers on the register with their role and qualification; trainees countersigned."""
    from tracker.register import ROLE_ASSESSOR, ROLE_IQA, STATUS_HELD, STATUS_WORKING

    reg = ctx.register
    assert reg is not None
    for role, people in ((ROLE_ASSESSOR, ctx.people("assessor")), (ROLE_IQA, ctx.people("iqa")),
                         ("countersigner", ctx.people("countersigner"))):
        for p in people.values():
            m = reg.member(p.name)
            if m is None:
                yield ctx.issue(NOT_IN_REGISTER, p.first, name=p.name, role=role, where=p.where())
                matches = reg.initials_match(p.name)
                if matches:
                    yield ctx.issue(INITIALS_MATCH, p.first, name=p.name, where=p.where(),
                                    matches=" or ".join(x.name for x in matches))
            elif role == ROLE_ASSESSOR:
                if not m.is_assessor:
                    yield ctx.issue(MISSING_ROLE, p.first, name=p.name, role=role, where=p.where())
                elif m.assessor_status not in (STATUS_HELD, STATUS_WORKING):
                    yield ctx.issue(ASSESSOR_UNQUALIFIED, p.first, name=p.name, where=p.where())
            elif role == ROLE_IQA:
                if not m.is_iqa:
                    yield ctx.issue(MISSING_ROLE, p.first, name=p.name, role=role, where=p.where())
                elif m.iqa_status not in (STATUS_HELD, STATUS_WORKING):
                    yield ctx.issue(IQA_UNQUALIFIED, p.first, name=p.name, where=p.where())
            # a countersigner's qualification is checked per row, below
    yield from _countersignatures(ctx, reg)


def _countersignatures(ctx: Context, reg: Register) -> Iterator[Issue]:
    """Trainee assessors' Met decisions and trainee IQAs' decisions countersigned, per row."""
    named_only = reg.policy.countersign == COUNTERSIGN_NAMED
    reported: set[str] = set()
    for info in ctx.row_list:
        row = info.row
        ref = info.criterion.ref
        cs_cell = row.cells.get("countersigned_by")
        cs_names = split_names(str(value(row, "countersigned_by") or ""))
        cs_date = value(row, "countersign_date")
        a = row.cells.get("assessor")
        countersigned_trainee = False
        if value(row, "decision") == L.MET and a is not None and a.value is not None and a.problem is None:
            names = split_names(str(a.value))
            for i, n in enumerate(names):
                m = reg.member(n)
                if m is None or not m.is_assessor or not m.trainee_assessor:
                    continue
                k = name_key(m.name)
                # Who countersigned: the Countersigned by column, or the other names in the Assessor cell.
                signers = cs_names + [x for j, x in enumerate(names) if j != i]
                cs = m.countersigner
                if named_only:
                    if not cs:
                        if k not in reported:
                            reported.add(k)
                            yield ctx.issue(TRAINEE_NO_COUNTERSIGNER, a, unit=info.unit, criterion=ref, name=n,
                                            where=f"first {a.sheet}!{a.ref}")
                        continue
                    csm = reg.member(cs)
                    why = _not_qualified_assessor(csm)
                    if why:
                        if k not in reported:
                            reported.add(k)
                            yield ctx.issue(COUNTERSIGNER_UNQUALIFIED, a, unit=info.unit, criterion=ref, name=n,
                                            countersigner=cs, why=why)
                        continue
                if not signers:
                    by = f" by {cs}" if named_only and cs else ""
                    yield ctx.issue(NOT_COUNTERSIGNED, a, unit=info.unit, criterion=ref, ref=ref, name=n, by=by)
                    continue
                at = cs_cell if cs_names else a
                ok = False
                for signer in signers:
                    sm = reg.member(signer)
                    why = _not_qualified_assessor(sm)
                    if why:
                        yield ctx.issue(SIGNER_UNQUALIFIED, at, unit=info.unit, criterion=ref, ref=ref, signer=signer,
                                        needed="a qualified assessor", why=why)
                    elif named_only and cs and reg.key_of(signer) != reg.key_of(cs):
                        yield ctx.issue(WRONG_COUNTERSIGNER, at, unit=info.unit, criterion=ref, ref=ref,
                                        signer=signer, countersigner=cs, name=n)
                    else:
                        ok = True
                countersigned_trainee = countersigned_trainee or (ok and bool(cs_names))
        iqa_name = value(row, "iqa")
        if value(row, "iqa_decision") is not None and iqa_name is not None:
            for n in split_names(str(iqa_name)):
                m = reg.member(n)
                if m is None or not m.trainee_iqa:
                    continue
                if not any(_qualified_iqa(reg.member(x)) for x in cs_names):
                    yield ctx.issue(IQA_NOT_COUNTERSIGNED, row.cells.get("iqa"), unit=info.unit, criterion=ref,
                                    ref=ref, name=n)
                else:
                    countersigned_trainee = True
        if cs_names and countersigned_trainee:
            yield from _countersign_date(ctx, info, cs_names[0], cs_date)


def _countersign_date(ctx: Context, info: RowInfo, signer: str, date: Any) -> Iterator[Issue]:
    row = info.row
    ref = info.criterion.ref
    dc = row.cells.get("countersign_date")
    if dc is not None and dc.problem is not None:
        return  # the dates check reports an unreadable date
    if not isinstance(date, dt.date):
        yield ctx.issue(COUNTERSIGN_NO_DATE, dc or row.cells.get("countersigned_by"), unit=info.unit,
                        criterion=ref, ref=ref, signer=signer)
        return
    decided = [d for d in (value(row, "assessor_date"), value(row, "iqa_date")) if isinstance(d, dt.date)]
    if decided and date < min(decided):
        yield ctx.issue(COUNTERSIGN_EARLY, dc, unit=info.unit, criterion=ref, ref=ref, date=_fmt(date),
                        decided=_fmt(min(decided)))
    if date > ctx.today:
        yield ctx.issue(COUNTERSIGN_FUTURE, dc, unit=info.unit, criterion=ref, ref=ref, date=_fmt(date))


def _not_qualified_assessor(m: StaffMember | None) -> str:
    """Why ``m`` may not countersign an assessor's decision ('' when they may)."""
    return ("not on the staff list" if m is None else "no assessor role" if not m.is_assessor
            else "assessor qualification not held" if not m.qualified_assessor else "")


def _qualified_iqa(m: StaffMember | None) -> bool:
    return m is not None and m.is_iqa and m.qualified_iqa
