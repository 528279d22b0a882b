"""Centre-wide checks: what no single learner workbook can show.

* **IQA independence across learners** -- an IQA who assessed (signed as assessor or
  countersigner) or taught (tutor on the cover) any learner on a qualification, and quality-assures
  learners on the same qualification: an error, as the specifications say the IQA "must not have
  been involved in any aspect of the delivery or assessment" of what they quality-assure; a
  warning quoting it when the register's Mitigations sheet records what the centre agreed for that
  person and qualification. The same-learner case is the per-workbook check
  ``coi-iqa-is-assessor`` / ``coi-iqa-is-tutor``.
* **IQA sampling coverage** -- sampling means a recorded IQA decision (Agreed or Referred back):
  "IQA sampled: Yes" alone does not count. An IQA decision on a Met decision is a *summative*
  sample; on work not yet Met, an *interim* one. Per assessor: Met decisions and summative samples
  over all, per unit, per method and per unit x method; a unit x method never sampled is reported
  (warning). A trainee assessor (register: "Working towards") must be sampled at 100%; a new
  assessor (first decision within the policy's ``new_assessor_days``) at the policy's high rate.
  Per learner: a learner with Met decisions and no summative sample (warning, an error once every
  criterion row is Met: a claim is near). Per employer (where recorded): an employer whose
  learners have Met decisions but no summative sample.

A decision counts for the first name in its Assessor cell (the assessor; a second name is the
countersigner). Names are compared as the register knows people (their Other names), else with
:func:`tracker.workbook.model.name_key`.

The coverage table is computed from the ledger (:func:`sampling_coverage`) and drawn on the
master's IQA sampling sheet; :func:`run_centre_checks` stores the findings in the ledger's
``centre_issues`` table, replacing the previous roll-up's.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre
from tracker.errors import TrackerError
from tracker.issues import Issue, Severity, issue_type
from tracker.register import Policy
from tracker.workbook import layout as L
from tracker.workbook.model import name_key, split_names

if TYPE_CHECKING:
    from tracker.register import Register
    from tracker.spec.models import Qualification

IQA_INVOLVED = issue_type(
    "centre-iqa-involved", Severity.ERROR, "IQA also assessed or taught learners on the qualification",
    "{iqa} quality-assures {n} learner(s) on {qualification} and also assessed or taught learners on it: "
    "{who}",
    "The specifications say the IQA must not have been involved in any aspect of the delivery or "
    "assessment of the course they quality-assure. This IQA samples decisions on a qualification on "
    "which they also assess, countersign or teach learners.",
    "Have another IQA sample this qualification. A small centre that cannot do so agrees a "
    "mitigation with its awarding body (e.g. extra sampling by another IQA) and records it on the "
    "register's Mitigations sheet; this is then a warning quoting it.",
    group="centre")
IQA_INVOLVED_MITIGATED = issue_type(
    "centre-iqa-involved-mitigated", Severity.WARNING, "IQA not independent, with a recorded mitigation",
    "{iqa} quality-assures {n} learner(s) on {qualification} and also assessed or taught learners on it "
    "({who}); mitigation recorded: {mitigation}",
    "The IQA is not independent of this qualification, but the centre register records the "
    "mitigation agreed for it. The sampling plan includes the extra sampling.",
    "Carry out the mitigation (the sampling plan lists its items) and keep the awarding body's "
    "agreement on file.", group="centre")
NOT_SAMPLED = issue_type(
    "centre-iqa-not-sampled", Severity.WARNING, "Assessor's unit and method never sampled",
    "{assessor} has {decisions} Met decision(s) but none sampled summatively by an IQA on {what}",
    "IQA sampling should cover every assessor on every unit with every assessment method they use. "
    "This assessor's Met decisions on the unit and method combinations named have never had an IQA "
    "decision.",
    "Plan IQA sampling of this assessor's decisions on those units and methods (the master's Sampling plan sheet, rebuilt by the add-in's Roll up, lists what to sample next; or `tracker plan`).",
    group="centre")
TRAINEE_UNDER_SAMPLED = issue_type(
    "centre-trainee-under-sampled", Severity.WARNING, "Trainee assessor not sampled at 100%",
    "{assessor} is a trainee assessor: {sampled} of {decisions} Met decision(s) sampled ({percent}), "
    "but every decision of a trainee must be sampled",
    "A trainee assessor's decisions are sampled at 100% until they qualify. Only a recorded IQA "
    "decision counts as sampled.",
    "Have an IQA sample the remaining decisions of this trainee.", group="centre")
NEW_UNDER_SAMPLED = issue_type(
    "centre-new-assessor-under-sampled", Severity.WARNING, "New assessor sampled below the policy's rate",
    "{assessor} is a new assessor (first decision {first}): {sampled} of {decisions} Met decision(s) "
    "sampled ({percent}), below the policy's {target} for new assessors",
    "The centre's sampling policy samples a new assessor's decisions at its high-risk rate.",
    "Sample more of this assessor's decisions (the master's Sampling plan sheet, rebuilt by the add-in's Roll up, lists which; or `tracker plan`).", group="centre")
LEARNER_NOT_SAMPLED = issue_type(
    "centre-learner-not-sampled", Severity.WARNING, "Learner's portfolio never sampled",
    "{learner} ({qualification}) has {decisions} Met decision(s) and no summative IQA sample",
    "Every learner's portfolio is sampled summatively (an IQA decision on a Met decision) at least "
    "once before a claim for certification.",
    "Plan a summative sample of this learner's work (the master's Sampling plan sheet, rebuilt by the add-in's Roll up, lists what to sample next; or `tracker plan`).", group="centre")
LEARNER_CLAIM_UNSAMPLED = issue_type(
    "centre-learner-claim-unsampled", Severity.ERROR, "Learner complete without a summative sample",
    "{learner} ({qualification}) has every criterion row Met but no summative IQA sample",
    "A claim for certification needs the learner's portfolio sampled summatively first.",
    "An IQA samples this learner's Met decisions before the claim.", group="centre")
EMPLOYER_NOT_SAMPLED = issue_type(
    "centre-employer-not-sampled", Severity.WARNING, "Employer's learners never sampled",
    "No Met decision of a learner at {employer} has been sampled summatively ({decisions} decision(s))",
    "Where learners are assessed at different employers or locations, sampling covers each of them.",
    "Plan a sample of a learner at this employer (the master's Sampling plan sheet, rebuilt by the add-in's Roll up, lists what to sample next; or `tracker plan`).", group="centre")
REGISTER_PROBLEM_NOTE = "centre register"


CENTRE_CODES = (IQA_INVOLVED, IQA_INVOLVED_MITIGATED, NOT_SAMPLED, TRAINEE_UNDER_SAMPLED, NEW_UNDER_SAMPLED,
                LEARNER_NOT_SAMPLED, LEARNER_CLAIM_UNSAMPLED, EMPLOYER_NOT_SAMPLED)

SCOPE_ALL = "All"
SCOPE_UNIT = "Unit"
SCOPE_METHOD = "Method"
SCOPE_UNIT_METHOD = "Unit x method"
_MET = L.MET.casefold()
_YES = L.YES.casefold()
_IQA_DECIDED = frozenset(d.casefold() for d in L.IQA_DECISIONS)


def is_met(decision: str | None) -> bool:
    """True for a Met assessment decision (any letter case)."""
    return (decision or "").casefold() == _MET


def iqa_decided(iqa_decision: str | None) -> bool:
    """True when the row carries an IQA decision: sampling means a recorded decision."""
    return (iqa_decision or "").strip().casefold() in _IQA_DECIDED


def person_key(register: Register | None, name: str) -> str:
    """How people are compared: as the register knows them, else by :func:`name_key`."""
    return register.key_of(name) if register is not None else name_key(name)


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """One line of the IQA sampling table."""

    assessor: str
    trainee: bool
    scope: str  # All | Unit | Method | Unit x method
    qualification_number: str
    unit: int | None
    method: str
    decisions: int
    sampled: int  # summative samples (an IQA decision on a Met decision)
    interim: int = 0  # IQA decisions on work not yet Met (on the All line)
    new: bool = False  # a new assessor (policy's new_assessor_days)
    rate: float | None = None  # the policy's target for a new assessor

    @property
    def fraction(self) -> float:
        """Sampled / decisions (0 when there are no decisions)."""
        return self.sampled / self.decisions if self.decisions else 0.0

    @property
    def target(self) -> float | None:
        """1.0 for a trainee, the policy's high rate for a new assessor, else None (coverage matters)."""
        return 1.0 if self.trainee else self.rate if self.new else None

    @property
    def flag(self) -> str:
        """A short note when this line falls short ('' when fine)."""
        if self.trainee and self.sampled < self.decisions:
            return "Trainee below 100%"
        if self.scope == SCOPE_ALL and self.target is not None and self.fraction < self.target:
            return "New assessor below target"
        if self.scope != SCOPE_ALL and self.decisions and not self.sampled:
            return "Never sampled"
        return ""


def _display_names(spellings: dict[str, set[str]]) -> dict[str, str]:
    return {k: min(v) for k, v in spellings.items()}


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


def first_decisions(rows: list[LG.SamplingRow], register: Register | None) -> dict[str, dt.date]:
    """Assessor key -> the date of their first decision in the ledger (for "new assessor")."""
    out: dict[str, dt.date] = {}
    for row in rows:
        names = split_names(row.assessor)
        d = _date(row.assessor_date)
        if names and d is not None:
            k = person_key(register, names[0])
            if k not in out or d < out[k]:
                out[k] = d
    return out


def sampling_coverage(conn: sqlite3.Connection, register: Register | None,
                      today: dt.date | None = None, rows: list[LG.SamplingRow] | None = None) -> list[CoverageRow]:
    """Per assessor: Met decisions and summative samples over all, per unit, per method and per
    unit x method (stable order). ``rows``: :func:`~tracker.centre.ledger.sampling_rows` when the
    caller has them (the roll-up reads them once for the checks and the plan)."""
    policy = register.policy if register is not None else Policy()
    today = today or dt.date.today()
    rows = LG.sampling_rows(conn) if rows is None else rows
    firsts = first_decisions(rows, register)
    spellings: dict[str, set[str]] = defaultdict(set)
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    per_unit: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    per_method: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    per_both: dict[tuple[str, str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    method_spelling: dict[str, str] = {}
    for row in rows:
        names = split_names(row.assessor)
        if not names:
            continue
        k = person_key(register, names[0])
        spellings[k].add(names[0])
        decided = iqa_decided(row.iqa_decision)
        if not is_met(row.decision):
            if decided:
                total[k][2] += 1  # an interim sample
            continue
        sampled = 1 if decided else 0
        qn, unit = row.qualification_number, int(row.unit)
        m = " ".join((row.method or "").split())
        mk = m.casefold()
        method_spelling.setdefault(mk, m or "(no method)")
        for counter in (total[k], per_unit[(k, qn, unit)], per_method[(k, mk)], per_both[(k, qn, unit, mk)]):
            counter[0] += 1
            counter[1] += sampled
    names_of = _display_names(spellings)
    out: list[CoverageRow] = []
    for k in sorted(total, key=lambda k: (names_of[k].casefold(), k)):
        member = register.member(names_of[k]) if register is not None else None
        trainee = bool(member is not None and member.trainee_assessor)
        first = firsts.get(k)
        new = first is not None and (today - first).days <= policy.new_assessor_days
        d, s, interim = total[k]
        out.append(CoverageRow(names_of[k], trainee, SCOPE_ALL, "", None, "", d, s, interim, new, policy.rate_high))
        for (ak, qn, unit), (d, s) in sorted(per_unit.items()):
            if ak == k:
                out.append(CoverageRow(names_of[k], trainee, SCOPE_UNIT, qn, unit, "", d, s))
        for (ak, mk), (d, s) in sorted(per_method.items()):
            if ak == k:
                out.append(CoverageRow(names_of[k], trainee, SCOPE_METHOD, "", None, method_spelling[mk], d, s))
        for (ak, qn, unit, mk), (d, s) in sorted(per_both.items()):
            if ak == k:
                out.append(CoverageRow(names_of[k], trainee, SCOPE_UNIT_METHOD, qn, unit, method_spelling[mk], d, s))
    return out


def coverage_issues(rows: list[CoverageRow]) -> list[Issue]:
    """Findings from the coverage table: unit x method gaps per assessor, trainees below 100%,
    new assessors below the policy's rate."""
    issues: list[Issue] = []
    by_assessor: dict[str, list[CoverageRow]] = defaultdict(list)
    for r in rows:
        by_assessor[r.assessor].append(r)
    for assessor, lines in by_assessor.items():
        overall = next(r for r in lines if r.scope == SCOPE_ALL)
        if not overall.decisions:
            continue
        if overall.trainee and overall.sampled < overall.decisions:
            issues.append(TRAINEE_UNDER_SAMPLED(assessor=assessor, sampled=overall.sampled,
                                                decisions=overall.decisions, percent=f"{overall.fraction:.0%}"))
        elif overall.new and overall.rate is not None and overall.fraction < overall.rate:
            issues.append(NEW_UNDER_SAMPLED(assessor=assessor, first="recently", sampled=overall.sampled,
                                            decisions=overall.decisions, percent=f"{overall.fraction:.0%}",
                                            target=f"{overall.rate:.0%}"))
        gaps = [f"{r.qualification_number} unit {r.unit} by {r.method}" for r in lines
                if r.scope == SCOPE_UNIT_METHOD and r.decisions and not r.sampled]
        if gaps:
            shown = ", ".join(gaps[:8]) + (f" and {len(gaps) - 8} more" if len(gaps) > 8 else "")
            issues.append(NOT_SAMPLED(assessor=assessor, decisions=overall.decisions, what=shown))
    return issues


def required_refs(conn: sqlite3.Connection, extra_dirs: tuple[str, ...] = ()) -> dict[int, frozenset[str]]:
    """Learner id -> the criteria their qualification requires on their pathway and reading (a
    learner whose qualification cannot be loaded, or whose pathway is unknown, is left out)."""
    from tracker.spec.catalogue import load_qualification

    quals: dict[str, Qualification | None] = {}
    out: dict[int, frozenset[str]] = {}
    for lid, qn, pathway, reading in LG.learner_pathways(conn):
        if qn not in quals:
            try:
                quals[qn] = load_qualification(qn, extra_dirs)
            except TrackerError:
                quals[qn] = None
        q = quals[qn]
        if q is None or (q.pathways and not pathway):
            continue
        try:
            out[lid] = frozenset(ref for u in q.units for ref in q.required(u, pathway, reading or None))
        except (KeyError, ValueError, TrackerError):
            continue
    return out


def learner_issues(conn: sqlite3.Connection, extra_dirs: tuple[str, ...] = (),
                   rows: list[LG.SamplingRow] | None = None) -> list[Issue]:
    """Learners (and employers) with Met decisions but no summative sample; an error for a learner
    whose required criteria are all Met (a claim is due) without one. ``rows``: as for
    :func:`sampling_coverage`."""
    met: dict[int, int] = defaultdict(int)
    met_refs: dict[int, set[str]] = defaultdict(set)
    summative: set[int] = set()
    about: dict[int, tuple[str, str, str | None]] = {}
    for row in LG.sampling_rows(conn) if rows is None else rows:
        about[row.learner_id] = (row.learner, row.qualification_number, row.employer)
        if is_met(row.decision):
            met[row.learner_id] += 1
            met_refs[row.learner_id].add(row.ref)
            if iqa_decided(row.iqa_decision):
                summative.add(row.learner_id)
    required = required_refs(conn, extra_dirs)
    issues: list[Issue] = []
    emp_met: dict[str, int] = defaultdict(int)
    emp_sampled: set[str] = set()
    emp_name: dict[str, str] = {}
    for lid, n in met.items():
        name, qn, employer = about[lid]
        if employer and employer.strip():
            ek = name_key(employer)
            emp_name.setdefault(ek, employer.strip())
            emp_met[ek] += n
            if lid in summative:
                emp_sampled.add(ek)
        if lid in summative:
            continue
        req = required.get(lid)
        complete = bool(req) and req is not None and req <= met_refs[lid]
        itype = LEARNER_CLAIM_UNSAMPLED if complete else LEARNER_NOT_SAMPLED
        issues.append(itype(learner=name, qualification=qn, decisions=n))
    for ek, n in sorted(emp_met.items()):
        if ek not in emp_sampled:
            issues.append(EMPLOYER_NOT_SAMPLED(employer=emp_name[ek], decisions=n))
    return issues


def involvement(conn: sqlite3.Connection, register: Register | None) -> list[Involvement]:
    """IQAs who assessed, countersigned or taught learners on a qualification they quality-assure."""
    spellings: dict[str, set[str]] = defaultdict(set)
    iqa_of: dict[tuple[str, str], set[int]] = defaultdict(set)  # (qn, person) -> learners QA'd
    involved: dict[tuple[str, str], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    names: dict[int, str] = {}

    def note(text: str | None, role: str, qn: str, lid: int) -> None:
        for n in split_names(text):
            k = person_key(register, n)
            spellings[k].add(n)
            if role == "iqa":
                iqa_of[(qn, k)].add(lid)
            else:
                involved[(qn, k)][lid].add(role)

    for lp in LG.learner_people(conn):
        names[lp.id] = lp.name
        note(lp.assessor, "assessor", lp.qualification_number, lp.id)
        note(lp.iqa, "iqa", lp.qualification_number, lp.id)
        note(lp.tutor, "tutor", lp.qualification_number, lp.id)
    for sg in LG.criterion_signers(conn):
        note(sg.assessor, "assessor", sg.qualification_number, sg.learner_id)
        note(sg.countersigner, "countersigner", sg.qualification_number, sg.learner_id)
        note(sg.iqa, "iqa", sg.qualification_number, sg.learner_id)
    shown = _display_names(spellings)
    out: list[Involvement] = []
    for (qn, k), learners in sorted(iqa_of.items()):
        others = {lid: roles for lid, roles in involved.get((qn, k), {}).items()}
        if not others:
            continue
        # Only involvement beyond the learners they quality-assure themselves is a centre-level
        # finding; the same-learner case is reported on the learner's own workbook.
        if not any(a != b for a in learners for b in others):
            continue
        who = sorted(f"{names[lid]} ({' and '.join(sorted(roles))})" for lid, roles in others.items())
        mit = register.mitigation_for(shown[k], qn) if register is not None else None
        out.append(Involvement(shown[k], k, qn, sorted(learners), who, mit.mitigation if mit else None))
    return out


@dataclass(frozen=True, slots=True)
class Involvement:
    """An IQA not independent of a qualification: who they assessed or taught, any mitigation."""

    iqa: str
    key: str
    qualification_number: str
    learners: list[int]  # the learners they quality-assure
    who: list[str]  # "Learner (assessor and tutor)" of those they assessed or taught
    mitigation: str | None


def involvement_of(conn: sqlite3.Connection, register: Register | None, qualification_number: str,
                   uln: str | None, iqa_names: list[str]) -> list[tuple[str, list[str], str | None]]:
    """For one learner's workbook being validated: each of its IQAs who assessed, countersigned or
    taught *other* learners on the qualification in the ledger, as (IQA, "Learner (roles)" list,
    mitigation or None)."""
    me = LG.find_learner(conn, uln, qualification_number) if uln else None
    wanted = {person_key(register, n): n for n in iqa_names}
    found: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    names: dict[int, str] = {}

    def note(text: str | None, role: str, qn: str, lid: int) -> None:
        if qn != qualification_number or (me is not None and lid == me.id):
            return
        for n in split_names(text):
            k = person_key(register, n)
            if k in wanted:
                found[k][lid].add(role)

    for lp in LG.learner_people(conn):
        names[lp.id] = lp.name
        note(lp.assessor, "assessor", lp.qualification_number, lp.id)
        note(lp.tutor, "tutor", lp.qualification_number, lp.id)
    for sg in LG.criterion_signers(conn):
        note(sg.assessor, "assessor", sg.qualification_number, sg.learner_id)
        note(sg.countersigner, "countersigner", sg.qualification_number, sg.learner_id)
    out = []
    for k, others in sorted(found.items()):
        who = sorted(f"{names[lid]} ({' and '.join(sorted(roles))})" for lid, roles in others.items())
        mit = register.mitigation_for(wanted[k], qualification_number) if register is not None else None
        out.append((wanted[k], who, mit.mitigation if mit else None))
    return out


def involvement_issues(conn: sqlite3.Connection, register: Register | None = None) -> list[Issue]:
    """An error per IQA not independent of a qualification; a warning quoting the mitigation."""
    issues: list[Issue] = []
    for inv in involvement(conn, register):
        text = ", ".join(inv.who[:6]) + (f" and {len(inv.who) - 6} more" if len(inv.who) > 6 else "")
        if inv.mitigation:
            issues.append(IQA_INVOLVED_MITIGATED(iqa=inv.iqa, n=len(inv.learners), qualification=inv.qualification_number,
                                                 who=text, mitigation=inv.mitigation))
        else:
            issues.append(IQA_INVOLVED(iqa=inv.iqa, n=len(inv.learners), qualification=inv.qualification_number,
                                       who=text))
    return issues


def run_centre_checks(conn: sqlite3.Connection, register: Register | None, register_issues: list[Issue],
                      centre: Centre, today: dt.date | None = None,
                      rows: list[LG.SamplingRow] | None = None) -> list[CoverageRow]:
    """Recompute the centre-wide findings and store them in ``centre_issues`` (inside the caller's
    transaction). Problems found in the centre register are stored with them. Returns the
    sampling coverage table (for the master). ``rows``: as for :func:`sampling_coverage`."""
    rows = LG.sampling_rows(conn) if rows is None else rows
    coverage = sampling_coverage(conn, register, today, rows)
    issues = (involvement_issues(conn, register) + coverage_issues(coverage)
              + learner_issues(conn, (str(centre.specs),), rows))
    found = [LG.CentreIssue(i.code, i.severity.value, i.message, "centre", None, i.sheet, i.cell) for i in issues]
    reg_name = centre.register.name
    found += [LG.CentreIssue(i.code, i.severity.value, i.message, REGISTER_PROBLEM_NOTE, reg_name, i.sheet, i.cell)
              for i in register_issues]
    LG.replace_centre_issues(conn, found)
    return coverage
