"""Centre-wide checks: what no single learner workbook can show.

* **IQA independence across learners** -- an IQA who assessed (signed as assessor or
  countersigner) or taught (tutor on the cover) any learner on a qualification, and quality-assures
  other learners on the same qualification (warning). The same-learner case is the per-workbook
  check ``coi-iqa-is-assessor`` / ``coi-iqa-is-tutor``.
* **IQA sampling coverage** -- per assessor: Met decisions signed, how many an IQA sampled, per
  unit and per assessment method. An assessor with a unit or a method never sampled is reported
  (warning); a trainee assessor (register: assessor status "Working towards") must be sampled at
  100%, and is reported below it.

A decision counts for the first name in its Assessor cell (the assessor; a second name is the
countersigner). A decision counts as sampled when the row has an IQA decision or "IQA sampled:
Yes". Names are compared with :func:`tracker.workbook.model.name_key`.

The coverage table is computed from the ledger (:func:`sampling_coverage`) and drawn on the
master's IQA sampling sheet; :func:`run_centre_checks` stores the findings in the ledger's
``centre_issues`` table, replacing the previous roll-up's.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre
from tracker.issues import Issue, Severity, issue_type
from tracker.workbook import layout as L
from tracker.workbook.model import name_key, split_names

if TYPE_CHECKING:
    from tracker.register import Register

IQA_INVOLVED = issue_type(
    "centre-iqa-involved", Severity.WARNING, "IQA also assessed or taught learners on the qualification",
    "{iqa} quality-assures {n} learner(s) on {qualification} and also assessed or taught learners on it: "
    "{who}",
    "The IQA must not have been involved in any aspect of the delivery or assessment of what they "
    "quality-assure. Across the centre, this IQA samples decisions on a qualification on which they "
    "also assess or teach other learners, so their independence can be questioned.",
    "Where possible, have another IQA sample this qualification; otherwise record why the sampling "
    "is still independent (they never sample the learners or assessors they work with).",
    group="centre")
NOT_SAMPLED = issue_type(
    "centre-iqa-not-sampled", Severity.WARNING, "Assessor's unit or method never sampled",
    "{assessor} has {decisions} Met decision(s) but none sampled by an IQA on {what}",
    "IQA sampling should cover every assessor, every unit and every assessment method. This "
    "assessor's decisions on the units or methods named have never been sampled.",
    "Plan IQA sampling of this assessor's decisions on those units and methods.", group="centre")
TRAINEE_UNDER_SAMPLED = issue_type(
    "centre-trainee-under-sampled", Severity.WARNING, "Trainee assessor not sampled at 100%",
    "{assessor} is a trainee assessor: {sampled} of {decisions} Met decision(s) sampled ({percent}), "
    "but every decision of a trainee must be sampled",
    "A trainee assessor's decisions are sampled at 100% until they qualify.",
    "Have an IQA sample the remaining decisions of this trainee.", group="centre")
REGISTER_PROBLEM_NOTE = "centre register"

CENTRE_CODES = (IQA_INVOLVED, NOT_SAMPLED, TRAINEE_UNDER_SAMPLED)

SCOPE_ALL = "All"
SCOPE_UNIT = "Unit"
SCOPE_METHOD = "Method"
_MET = L.MET.casefold()
_YES = L.YES.casefold()


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """One line of the IQA sampling table."""

    assessor: str
    trainee: bool
    scope: str  # All | Unit | Method
    qualification_number: str
    unit: int | None
    method: str
    decisions: int
    sampled: int

    @property
    def fraction(self) -> float:
        """Sampled / decisions (0 when there are no decisions)."""
        return self.sampled / self.decisions if self.decisions else 0.0

    @property
    def target(self) -> float | None:
        """1.0 for a trainee, else None (no fixed percentage; coverage matters)."""
        return 1.0 if self.trainee else None

    @property
    def flag(self) -> str:
        """A short note when this line falls short ('' when fine)."""
        if self.trainee and self.sampled < self.decisions:
            return "Trainee below 100%"
        if self.scope != SCOPE_ALL and self.decisions and not self.sampled:
            return "Never sampled"
        return ""


def _display_names(spellings: dict[str, set[str]]) -> dict[str, str]:
    return {k: min(v) for k, v in spellings.items()}


def sampling_coverage(conn: sqlite3.Connection, register: Register | None) -> list[CoverageRow]:
    """Per assessor: decisions and samples over all, per unit and per method (stable order)."""
    spellings: dict[str, set[str]] = defaultdict(set)
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_unit: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    per_method: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    method_spelling: dict[str, str] = {}
    for row in LG.signed_decisions(conn):
        if (row.decision or "").casefold() != _MET:
            continue
        names = split_names(row.assessor)
        if not names:
            continue
        k = name_key(names[0])
        spellings[k].add(names[0])
        sampled = 1 if (row.iqa_decision or (row.iqa_sampled or "").casefold() == _YES) else 0
        qn, unit = row.qualification_number, row.unit
        m = " ".join((row.method or "").split())
        mk = m.casefold()
        method_spelling.setdefault(mk, m or "(no method)")
        for counter in (total[k], per_unit[(k, qn, int(unit))], per_method[(k, mk)]):
            counter[0] += 1
            counter[1] += sampled
    names_of = _display_names(spellings)
    out: list[CoverageRow] = []
    for k in sorted(total, key=lambda k: (names_of[k].casefold(), k)):
        member = register.member(names_of[k]) if register is not None else None
        trainee = bool(member is not None and member.trainee_assessor)
        d, s = total[k]
        out.append(CoverageRow(names_of[k], trainee, SCOPE_ALL, "", None, "", d, s))
        for (ak, qn, unit), (d, s) in sorted(per_unit.items()):
            if ak == k:
                out.append(CoverageRow(names_of[k], trainee, SCOPE_UNIT, qn, unit, "", d, s))
        for (ak, mk), (d, s) in sorted(per_method.items()):
            if ak == k:
                out.append(CoverageRow(names_of[k], trainee, SCOPE_METHOD, "", None, method_spelling[mk], d, s))
    return out


def coverage_issues(rows: list[CoverageRow]) -> list[Issue]:
    """Findings from the coverage table: gaps per assessor, trainees below 100%."""
    issues: list[Issue] = []
    by_assessor: dict[str, list[CoverageRow]] = defaultdict(list)
    for r in rows:
        by_assessor[r.assessor].append(r)
    for assessor, lines in by_assessor.items():
        overall = next(r for r in lines if r.scope == SCOPE_ALL)
        if overall.trainee and overall.sampled < overall.decisions:
            issues.append(TRAINEE_UNDER_SAMPLED(assessor=assessor, sampled=overall.sampled,
                                                decisions=overall.decisions, percent=f"{overall.fraction:.0%}"))
        gaps = [f"{r.qualification_number} unit {r.unit}" for r in lines
                if r.scope == SCOPE_UNIT and r.decisions and not r.sampled]
        gaps += [f"method {r.method}" for r in lines if r.scope == SCOPE_METHOD and r.decisions and not r.sampled]
        if gaps:
            shown = ", ".join(gaps[:8]) + (f" and {len(gaps) - 8} more" if len(gaps) > 8 else "")
            issues.append(NOT_SAMPLED(assessor=assessor, decisions=overall.decisions, what=shown))
    return issues


def involvement_issues(conn: sqlite3.Connection) -> list[Issue]:
    """IQAs who assessed or taught other learners on a qualification they quality-assure."""
    spellings: dict[str, set[str]] = defaultdict(set)
    iqa_of: dict[tuple[str, str], set[int]] = defaultdict(set)  # (qn, person) -> learners QA'd
    involved: dict[tuple[str, str], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    names: dict[int, str] = {}

    def note(text: str | None, role: str, qn: str, lid: int) -> None:
        for n in split_names(text):
            k = name_key(n)
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
        note(sg.iqa, "iqa", sg.qualification_number, sg.learner_id)
    shown = _display_names(spellings)
    issues: list[Issue] = []
    for (qn, k), learners in sorted(iqa_of.items()):
        others = {lid: roles for lid, roles in involved.get((qn, k), {}).items()}
        # Only learners other than someone they quality-assure make this a centre-level finding;
        # the same-learner case is reported on the learner's own workbook.
        if not any(a != b for a in learners for b in others):
            continue
        who = sorted(f"{names[lid]} ({' and '.join(sorted(roles))})" for lid, roles in others.items())
        text = ", ".join(who[:6]) + (f" and {len(who) - 6} more" if len(who) > 6 else "")
        issues.append(IQA_INVOLVED(iqa=shown[k], n=len(learners), qualification=qn, who=text))
    return issues


def run_centre_checks(conn: sqlite3.Connection, register: Register | None, register_issues: list[Issue],
                      centre: Centre) -> list[CoverageRow]:
    """Recompute the centre-wide findings and store them in ``centre_issues`` (inside the caller's
    transaction). Problems found in the centre register are stored with them. Returns the
    sampling coverage table (for the master)."""
    coverage = sampling_coverage(conn, register)
    issues = involvement_issues(conn) + coverage_issues(coverage)
    rows = [LG.CentreIssue(i.code, i.severity.value, i.message, "centre", None, i.sheet, i.cell) for i in issues]
    reg_name = centre.register.name
    rows += [LG.CentreIssue(i.code, i.severity.value, i.message, REGISTER_PROBLEM_NOTE, reg_name, i.sheet, i.cell)
             for i in register_issues]
    LG.replace_centre_issues(conn, rows)
    return coverage
