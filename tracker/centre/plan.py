"""The IQA sampling plan: which decisions each IQA should sample next, and why.

Made from the ledger and the centre's sampling policy (``policy`` in centre.yaml, see
:class:`tracker.register.Policy` and docs/iqa.md):

* each assessor gets a **risk rating** with its reasons -- high: a trainee (sampled at 100%) or
  a new assessor (first decision within ``new_assessor_days``); medium: a referral rate above
  ``referral_rate``, or an IQA on their learners working under a recorded conflict mitigation;
  low otherwise -- and the rate of that level (``rate_low`` / ``rate_medium`` / ``rate_high``);
* **planned items**, each with its reason, in this order: a referral awaiting the IQA's re-check;
  every unsampled Met decision of a trainee; the first unsampled Met decision of each gap in
  assessor x unit x method; a learner near completion (``near_completion``) without a summative
  sample; an employer whose learners were never sampled; learners whose IQA works under a
  mitigation (sampled by another IQA); then more Met decisions until the assessor's rate is
  reached. ``interim_share`` of the summative items is added again as interim samples (work not
  yet Met) of the same assessor;
* **planned versus done**: a roll-up stores the plan in the ledger (``sample_plan``); an item
  counts as done once its row has an IQA decision dated on or after the day it was planned. An
  item still undone ``period_days`` after it was planned is overdue. An assessor is *compliant*
  when their summative sampling reaches their rate, no unit x method is a gap and none of their
  items is overdue.

Only the ledger is read; nothing here opens a learner workbook.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre
from tracker.centre.iqa import first_decisions, involvement, iqa_decided, is_met, person_key, required_refs
from tracker.register import Policy
from tracker.workbook import layout as L
from tracker.workbook.model import name_key, split_names

if TYPE_CHECKING:
    from tracker.register import Register

RISK_HIGH, RISK_MEDIUM, RISK_LOW = "high", "medium", "low"
KIND_SUMMATIVE, KIND_INTERIM, KIND_RECHECK = "summative", "interim", "recheck"

REASON_RECHECK = "referral awaiting re-check"
REASON_TRAINEE = "trainee assessor: every decision sampled"
REASON_GAP = "gap: unit {unit} by {method} never sampled"
REASON_NEAR = "learner near completion without a summative sample"
REASON_EMPLOYER = "employer {employer} not covered"
REASON_MITIGATION = "conflict mitigation: {mitigation}"
REASON_RATE = "{level} risk: {rate} of decisions"
REASON_INTERIM = "interim: work in progress"


@dataclass(frozen=True, slots=True)
class PlannedSample:
    """One decision to sample next."""

    iqa: str  # who should sample it ('' when the plan cannot name anyone)
    assessor: str
    learner: str
    qualification_number: str
    unit: int
    ref: str
    kind: str  # summative | interim | recheck
    reason: str
    learner_id: int = 0
    planned_on: dt.date | None = None


@dataclass(slots=True)
class AssessorRisk:
    """An assessor's risk rating, its reasons, their sampling against the rate, and compliance."""

    assessor: str
    level: str
    reasons: list[str]
    rate: float
    decisions: int
    sampled: int
    planned: int = 0
    overdue: int = 0
    gaps: int = 0

    @property
    def compliant(self) -> bool:
        """Rate reached, no unit x method gap, no overdue planned item."""
        reached = self.sampled >= math.ceil(self.rate * self.decisions - 1e-9)
        return reached and not self.gaps and not self.overdue


@dataclass(slots=True)
class SamplingPlan:
    """The plan: items to sample and each assessor's risk."""

    items: list[PlannedSample] = field(default_factory=list)
    risks: list[AssessorRisk] = field(default_factory=list)


def _d(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat((text or "")[:10])
    except ValueError:
        return None


def _awaiting_recheck(r: LG.SamplingRow) -> bool:
    """Referred back by the IQA and re-signed as Met after the IQA's date."""
    if (r.iqa_decision or "").strip().casefold() != L.REFERRED_BACK.casefold() or not is_met(r.decision):
        return False
    a, i = _d(r.assessor_date), _d(r.iqa_date)
    return a is not None and i is not None and a > i


def make_plan(conn: sqlite3.Connection, register: Register | None, today: dt.date | None = None,
              extra_dirs: tuple[str, ...] = (), rows: list[LG.SamplingRow] | None = None) -> SamplingPlan:
    """The sampling plan from the ledger under the register's policy (see the module docstring);
    ``extra_dirs``: where the centre's own qualifications are (for "near completion"); ``rows``:
    :func:`~tracker.centre.ledger.sampling_rows` when the caller has them."""
    policy = register.policy if register is not None else Policy()
    today = today or dt.date.today()
    rows = LG.sampling_rows(conn) if rows is None else rows
    previous = {(p.learner_id, p.ref): p for p in LG.plan_items(conn)}
    firsts = first_decisions(rows, register)
    mitigated: dict[tuple[str, str], str] = {}  # (qn, iqa key) -> mitigation
    involved_keys: dict[str, set[str]] = defaultdict(set)  # qn -> IQA keys not independent
    for inv in involvement(conn, register):
        involved_keys[inv.qualification_number].add(inv.key)
        if inv.mitigation:
            mitigated[(inv.qualification_number, inv.key)] = inv.mitigation

    by_assessor: dict[str, list[LG.SamplingRow]] = defaultdict(list)
    shown: dict[str, str] = {}
    for r in rows:
        names = split_names(r.assessor)
        if names:
            k = person_key(register, names[0])
            by_assessor[k].append(r)
            shown.setdefault(k, names[0])

    # Learner-level facts: Met share, summative sample, employer coverage.
    met_of: dict[int, set[str]] = defaultdict(set)
    summative: set[int] = set()
    employer_sampled: set[str] = set()
    required = required_refs(conn, extra_dirs)
    for r in rows:
        if is_met(r.decision):
            met_of[r.learner_id].add(r.ref)
            if iqa_decided(r.iqa_decision):
                summative.add(r.learner_id)
                if r.employer:
                    employer_sampled.add(name_key(r.employer))

    def sampler(r: LG.SamplingRow) -> tuple[str, str | None]:
        """(IQA to sample the row, the mitigation that applies to the learner's IQA, if any)."""
        iqa = (split_names(r.learner_iqa) or [""])[0]
        mit = mitigated.get((r.qualification_number, person_key(register, iqa))) if iqa else None
        if mit is None:
            return iqa, None
        # Extra sampling by another IQA: a qualified IQA independent of the qualification.
        bad = involved_keys.get(r.qualification_number, set())
        others = sorted(m.name for m in (register.staff.values() if register is not None else ())
                        if m.is_iqa and m.qualified_iqa and name_key(m.name) not in bad
                        and name_key(m.name) != person_key(register, iqa))
        return (others[0] if others else ""), mit

    plan = SamplingPlan()
    planned_keys: set[tuple[int, str]] = set()
    employers_planned: set[str] = set()
    learners_planned: set[int] = set()

    def add(r: LG.SamplingRow, kind: str, reason: str, assessor: str) -> None:
        key = (r.learner_id, r.ref)
        if key in planned_keys:
            return
        planned_keys.add(key)
        prev = previous.get(key)
        on = _d(prev.planned_on) if prev is not None else today
        plan.items.append(PlannedSample(sampler(r)[0], assessor, "", r.qualification_number, int(r.unit), r.ref,
                                        kind, reason, r.learner_id, on))

    names_of = {lp.id: lp.name for lp in LG.learner_people(conn)}
    for k in sorted(by_assessor, key=lambda k: (shown[k].casefold(), k)):
        arows = by_assessor[k]
        who = shown[k]
        member = register.member(who) if register is not None else None
        reasons: list[str] = []
        level = RISK_LOW
        trainee = bool(member is not None and member.trainee_assessor)
        first = firsts.get(k)
        if trainee:
            level, rate = RISK_HIGH, 1.0
            reasons.append("trainee assessor")
        elif first is not None and (today - first).days <= policy.new_assessor_days:
            level = RISK_HIGH
            reasons.append(f"new assessor (first decision {first.strftime('%d/%m/%Y')})")
        decided = [r for r in arows if iqa_decided(r.iqa_decision)]
        referred = [r for r in decided if (r.iqa_decision or "").strip().casefold() == L.REFERRED_BACK.casefold()]
        if decided and len(referred) / len(decided) > policy.referral_rate:
            if level == RISK_LOW:
                level = RISK_MEDIUM
            reasons.append(f"referral rate {len(referred) / len(decided):.0%}")
        mits = sorted({m for r in arows if (m := sampler(r)[1])})
        if mits:
            if level == RISK_LOW:
                level = RISK_MEDIUM
            reasons.append("IQA under a conflict mitigation")
        if not reasons:
            reasons.append("no risk factor")
        rate = 1.0 if trainee else {RISK_HIGH: policy.rate_high, RISK_MEDIUM: policy.rate_medium,
                                    RISK_LOW: policy.rate_low}[level]
        met_rows = [r for r in arows if is_met(r.decision)]
        unsampled = [r for r in met_rows if not iqa_decided(r.iqa_decision)]
        sampled = len(met_rows) - len(unsampled)
        covered = {(r.qualification_number, int(r.unit), " ".join((r.method or "").split()).casefold())
                   for r in met_rows if iqa_decided(r.iqa_decision)}
        gaps: dict[tuple[str, int, str], LG.SamplingRow] = {}
        for r in unsampled:
            gk = (r.qualification_number, int(r.unit), " ".join((r.method or "").split()).casefold())
            if gk not in covered:
                gaps.setdefault(gk, r)
        risk = AssessorRisk(who, level, reasons, rate, len(met_rows), sampled, gaps=len(gaps))
        plan.risks.append(risk)
        before = len(plan.items)
        summative_before = sum(1 for i in plan.items if i.kind == KIND_SUMMATIVE)
        for r in arows:
            if _awaiting_recheck(r):
                add(r, KIND_RECHECK, REASON_RECHECK, who)
        if trainee:
            for r in unsampled:
                add(r, KIND_SUMMATIVE, REASON_TRAINEE, who)
        for (qn, unit, _m), r in gaps.items():
            add(r, KIND_SUMMATIVE, REASON_GAP.format(unit=unit, method=(r.method or "no method").strip()), who)
        # A learner or employer already planned by an item above is covered by it; otherwise the
        # first of their unsampled decisions not yet planned.
        for r in unsampled:
            lid = r.learner_id
            req = required.get(lid)
            if (lid not in summative and lid not in learners_planned and req
                    and len(met_of[lid] & req) / len(req) >= policy.near_completion):
                learners_planned.add(lid)
                if not any(i.learner_id == lid for i in plan.items):
                    add(r, KIND_SUMMATIVE, REASON_NEAR, who)
        for r in unsampled:
            ek = name_key(r.employer)
            if ek and ek not in employer_sampled and ek not in employers_planned \
                    and (r.learner_id, r.ref) not in planned_keys:
                employers_planned.add(ek)
                add(r, KIND_SUMMATIVE, REASON_EMPLOYER.format(employer=(r.employer or "").strip()), who)
        for r in unsampled:
            mit = sampler(r)[1]
            if mit and r.learner_id not in learners_planned:
                learners_planned.add(r.learner_id)
                add(r, KIND_SUMMATIVE, REASON_MITIGATION.format(mitigation=mit), who)
        target = math.ceil(rate * len(met_rows) - 1e-9)
        planned_now = sum(1 for i in plan.items[before:] if i.kind == KIND_SUMMATIVE)
        for r in unsampled:
            if sampled + planned_now >= target:
                break
            if (r.learner_id, r.ref) not in planned_keys:
                add(r, KIND_SUMMATIVE, REASON_RATE.format(level=level, rate=f"{rate:.0%}"), who)
                planned_now += 1
        summative_now = sum(1 for i in plan.items if i.kind == KIND_SUMMATIVE) - summative_before
        interim_wanted = math.ceil(policy.interim_share * summative_now - 1e-9)
        wip = [r for r in arows if not is_met(r.decision) and not iqa_decided(r.iqa_decision)]
        for r in wip[:interim_wanted]:
            add(r, KIND_INTERIM, REASON_INTERIM, who)
        risk.planned = len(plan.items) - before
        # Overdue: planned at least a period ago and still not sampled.
        for it in plan.items[before:]:
            if it.planned_on is not None and (today - it.planned_on).days > policy.period_days:
                risk.overdue += 1
    plan.items = [PlannedSample(i.iqa, i.assessor, names_of.get(i.learner_id, ""), i.qualification_number, i.unit,
                                i.ref, i.kind, i.reason, i.learner_id, i.planned_on) for i in plan.items]
    return plan


PLAN_DATE_KEY = "plan_date"


def store_plan(conn: sqlite3.Connection, plan: SamplingPlan, run_id: int, today: dt.date | None = None) -> None:
    """Keep the plan in the ledger (inside the caller's transaction), each item with the day it
    was first planned, so that the next roll-up can tell planned from done and overdue; and the
    day it was made (:func:`plan_date`), so that the master shows the same plan."""
    LG.set_meta(conn, PLAN_DATE_KEY, (today or dt.date.today()).isoformat())
    LG.replace_plan(conn, [LG.PlanItem(run_id, (i.planned_on or dt.date.today()).isoformat(), i.assessor, i.iqa or None,
                                       i.learner_id, i.ref, i.kind, i.reason) for i in plan.items])


def plan_date(conn: sqlite3.Connection) -> dt.date | None:
    """The day the stored plan was made (None before the first roll-up that planned)."""
    return _d(LG.get_meta(conn, PLAN_DATE_KEY)) if LG.get_meta(conn, PLAN_DATE_KEY) else None


PLAN_HEADERS = ("IQA", "Assessor", "Learner", "Qualification number", "Unit", "Ref", "Kind", "Reason",
                "Planned on")
RISK_HEADERS = ("Assessor", "Risk", "Reasons", "Rate", "Met decisions", "Sampled", "Planned", "Overdue",
                "Compliant")


def plan_rows(plan: SamplingPlan) -> list[tuple[object, ...]]:
    """The plan's items as rows under :data:`PLAN_HEADERS` (for the CSV and the master)."""
    return [(i.iqa, i.assessor, i.learner, i.qualification_number, i.unit, i.ref, i.kind, i.reason,
             i.planned_on) for i in plan.items]


def risk_rows(plan: SamplingPlan) -> list[tuple[object, ...]]:
    """Each assessor's risk as rows under :data:`RISK_HEADERS`."""
    return [(r.assessor, r.level, "; ".join(r.reasons), r.rate, r.decisions, r.sampled, r.planned, r.overdue,
             L.YES if r.compliant else L.NO) for r in plan.risks]


def centre_plan(centre: str | Path | Centre, today: dt.date | None = None) -> SamplingPlan:
    """The sampling plan of a centre folder, from its ledger, register and policy (read only)."""
    from tracker.centre.check import load_register
    from tracker.centre.folder import open_centre

    c = centre if isinstance(centre, Centre) else open_centre(centre, check_readings=False)
    register, _ = load_register(c)
    if register is None:
        from tracker.register import Register as _Register

        register = _Register(policy=c.policy)
    conn = LG.connect(c.ledger, create=False)
    try:
        return make_plan(conn, register, today, (str(c.specs),))
    finally:
        conn.close()


def write_plan_csv(plan: SamplingPlan, out: IO[str]) -> None:
    """The planned items as CSV (header row :data:`PLAN_HEADERS`, dates ISO), for scripts."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(PLAN_HEADERS)
    for row in plan_rows(plan):
        w.writerow(["" if v is None else v.isoformat() if isinstance(v, dt.date) else v for v in row])


def master_records(plan: SamplingPlan) -> list[dict[str, object]]:
    """The master's Sampling plan rows: each planned item with its assessor's risk and compliance,
    and one line for an assessor with nothing planned (keys as the master's columns)."""
    risk_of = {r.assessor: r for r in plan.risks}
    out: list[dict[str, object]] = []
    with_items = {i.assessor for i in plan.items}

    def base(r: AssessorRisk) -> dict[str, object]:
        return {"assessor": r.assessor, "risk": r.level, "risk_reasons": "; ".join(r.reasons), "rate": r.rate,
                "compliant": L.YES if r.compliant else L.NO}

    for i in plan.items:
        rec = base(risk_of[i.assessor])
        rec.update({"iqa": i.iqa or None, "learner": i.learner, "qualification_number": i.qualification_number,
                    "unit": i.unit, "ref": i.ref, "kind": i.kind, "reason": i.reason, "planned_on": i.planned_on})
        out.append(rec)
    for r in plan.risks:
        if r.assessor not in with_items:
            rec = base(r)
            rec["reason"] = "nothing to plan"
            out.append(rec)
    return out
