"""Conflicts of interest within one learner's workbook.

Names are compared trimmed, with inner spaces collapsed and case-folded
(:func:`tracker.workbook.model.name_key`); a cover cell may hold several names ("A Smith; B Jones",
see :func:`~tracker.workbook.model.split_names`). A person's roles for this learner are gathered
from the cover (Assessor, IQA, Tutor) and from every criterion row (Assessor, IQA), and each
conflict is reported once per person, at the first cell where they appear, with where else.

* the IQA is also an assessor of this learner (on the cover, signed any criterion as assessor, or
  countersigned a trainee's decision: a countersigner takes part in the assessment);
* the IQA is also the learner's tutor;
* the learner signs their own work, as assessor or IQA;
* a staff member with a personal interest in this learner declared in the centre register (matched
  by ULN or name) assessed, countersigned or quality-assured them.

With a register, a person is matched under every form the register lists for them (Other names:
initials, other spellings), so "A. Assessor" is Alice Assessor here.

Across learners ("the IQA assessed or taught anyone on the same qualification") is the roll-up's.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, Person, check
from tracker.workbook.model import split_names

IQA_IS_ASSESSOR = issue_type(
    "coi-iqa-is-assessor", Severity.ERROR, "IQA also assessed the learner",
    "{name} is this learner's IQA ({as_iqa}) and also their assessor ({as_assessor}); an IQA must not "
    "quality-assure a learner they assessed",
    "The internal quality assurer must not have been involved in the assessment of what they "
    "quality-assure. Here the same person appears as assessor and as IQA for this learner.",
    "Ask another IQA, with no part in this learner's assessment, to sample the decisions, and record "
    "their name as IQA.", group="conflicts")
IQA_IS_TUTOR = issue_type(
    "coi-iqa-is-tutor", Severity.ERROR, "IQA is the learner's tutor",
    "{name} is this learner's IQA ({as_iqa}) and also their tutor; an IQA must not quality-assure a "
    "learner they taught",
    "The internal quality assurer must not have been involved in the delivery of what they "
    "quality-assure. Here the learner's tutor is also their IQA.",
    "Ask an IQA who did not teach this learner to sample the decisions.", group="conflicts")
LEARNER_SIGNED = issue_type(
    "coi-learner-signed", Severity.ERROR, "Learner signed their own work",
    "The learner {name} appears as {role} ({where}); nobody may assess or quality-assure their own work",
    "The learner's own name appears as assessor or IQA: a learner cannot assess or quality-assure "
    "their own work.",
    "The decisions must be made and signed by a qualified assessor (and IQA) other than the learner.",
    group="conflicts")
DECLARED_INTEREST = issue_type(
    "coi-declared-interest", Severity.ERROR, "Staff member with a declared interest",
    "{name} declared a personal interest in this learner ({nature}) but acted as {role} ({where})",
    "The centre register records a personal interest (family, friendship, line management ...) "
    "between this staff member and the learner; they must take no part in the learner's assessment "
    "or quality assurance.",
    "Have the criteria assessed (or sampled) again by someone without an interest, and record their "
    "name.", group="conflicts")


def assessment_countersigners(ctx: Context) -> dict[str, Person]:
    """Countersigners of assessment decisions: the Countersigned by names, less a qualified IQA
    countersigning a trainee IQA's decision on the row (that is quality assurance, not assessment;
    told apart only with a register)."""
    people = ctx.people("countersigner")
    reg = ctx.register
    if reg is None:
        return people
    out: dict[str, Person] = {}
    for k, p in people.items():
        m = reg.member(p.name)
        keep = []
        for info, c in zip(p.rows, p.cells):
            iqa = info.row.cells.get("iqa")
            names = split_names(str(iqa.value)) if iqa is not None and iqa.value and iqa.problem is None else []
            trainee_iqa = any((x := reg.member(n)) is not None and x.trainee_iqa for n in names)
            if not (trainee_iqa and m is not None and m.is_iqa and not m.is_assessor):
                keep.append((info, c))
        if keep:
            out[k] = Person(p.name, keep[0][1], rows=[i for i, _ in keep], cells=[c for _, c in keep])
    return out


@check(IQA_IS_ASSESSOR, IQA_IS_TUTOR, LEARNER_SIGNED)
def conflicts(ctx: Context) -> Iterator[Issue]:
    """IQA vs assessor and tutor; the learner as signer."""
    assessors = ctx.people("assessor")
    countersigners = assessment_countersigners(ctx)
    iqas = ctx.people("iqa")
    tutors = {ctx.name_key(n) for n in ctx.cover_names("tutor")}
    for k, p in iqas.items():
        a = assessors.get(k)
        cs = countersigners.get(k)
        if a is not None:
            yield ctx.issue(IQA_IS_ASSESSOR, p.first, name=p.name, as_iqa=p.where(), as_assessor=a.where())
        elif cs is not None:
            yield ctx.issue(IQA_IS_ASSESSOR, p.first, name=p.name, as_iqa=p.where(),
                            as_assessor="as countersigner: " + cs.where())
        if k in tutors:
            yield ctx.issue(IQA_IS_TUTOR, p.first, name=p.name, as_iqa=p.where())
    learner = ctx.name_key(ctx.book.learner_name)
    if learner:
        for role, people in (("assessor", assessors), ("countersigner", countersigners), ("IQA", iqas)):
            who = people.get(learner)
            if who is not None:
                yield ctx.issue(LEARNER_SIGNED, who.first, name=who.name, role=role, where=who.where())


@check(DECLARED_INTEREST, needs_register=True)
def declared_interests(ctx: Context) -> Iterator[Issue]:
    """Staff with a declared interest in this learner did not assess or quality-assure them."""
    reg = ctx.register
    assert reg is not None
    interests = reg.interests_for(ctx.book.uln, ctx.book.learner_name)
    if not interests:
        return
    assessors = ctx.people("assessor")
    countersigners = ctx.people("countersigner")
    iqas = ctx.people("iqa")
    for it in interests:
        k = ctx.name_key(it.staff)
        for role, people in (("assessor", assessors), ("countersigner", countersigners), ("IQA", iqas)):
            p = people.get(k)
            if p is not None:
                yield ctx.issue(DECLARED_INTEREST, p.first, name=p.name, nature=it.nature or "nature not given",
                                role=role, where=p.where())
