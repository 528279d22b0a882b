"""The IQA sampling plan: a centre with a trainee, a new assessor and a gap gets exactly the planned
items expected, each with its reason, through the roll-up, `tracker plan` (CSV) and the master."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest
from test_centre_sample import L2, TODAY, drop, make_centre, roll, sheet_dicts

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre
from tracker.centre.plan import centre_plan, write_plan_csv
from tracker.cli import main
from tracker.sample import SampleLearner
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord

OLD = TODAY - dt.timedelta(days=400)   # Amira Khan: an established assessor
NEW = TODAY - dt.timedelta(days=30)    # Grace Okafor's first decision: a new assessor (policy: 180 days)


def _entry(assessor: str, method: str, on: dt.date, iqa: str | None = None,
           decision: str = L.MET) -> CriterionEntry:
    return CriterionEntry(evidence_refs=("E1",), method=method, evidence_date=on, decision=decision,
                          assessor=assessor, assessor_date=on, iqa_sampled=L.YES if iqa else None, iqa=iqa,
                          iqa_date=on + dt.timedelta(days=2) if iqa else None,
                          iqa_decision=L.AGREED if iqa else None)


def _learner(name: str, uln: str, iqa: str, employer: str, entries: dict[str, CriterionEntry],
             n: int) -> tuple[object, SampleLearner, LearnerRecord]:
    first = next(iter(entries.values())).assessor or ""
    lr = Learner(name=name, uln=uln, pathway="face-to-face", registration_date=dt.date(2024, 9, 2),
                 assessor=first.split(" / ")[0], iqa=iqa, tutor="Sarah Bennett", employer=employer)
    s = SampleLearner(lr, L2.number, f"00000000-0000-4000-8000-{n:012d}", 0.5, n)
    return L2, s, LearnerRecord(lr, entries, (EvidenceEntry("E1", "obs", "Observation", OLD, "file"),))


U1 = [cr.ref for cr in L2.units[0].criteria]
U2 = [cr.ref for cr in L2.units[1].criteria]


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Centre:
    c = make_centre(tmp_path_factory.mktemp("plan") / "centre")
    batch = [
        _learner("Ann Able", "1000000043", "Helen Price", "Acme", {
            U1[0]: _entry("Amira Khan", "Worksheet", OLD, iqa="Helen Price"),
            U1[1]: _entry("Amira Khan", "Worksheet", OLD),
            U2[0]: _entry("Amira Khan", "Professional discussion", OLD),      # a unit x method gap
        }, 1),
        _learner("Bob Bell", "1234567899", "Marcus Reid", "Acme", {
            U1[0]: _entry("Daniel Hughes / Amira Khan", "Worksheet", OLD, iqa="Marcus Reid"),
            U1[1]: _entry("Daniel Hughes / Amira Khan", "Worksheet", OLD),    # trainee: 100%
        }, 2),
        _learner("Cat Cole", "1000000051", "Marcus Reid", "Beta Ltd", {
            U1[0]: _entry("Grace Okafor", "Worksheet", NEW),
            U1[1]: _entry("Grace Okafor", "Worksheet", NEW),
            U1[2]: _entry("Grace Okafor", "Oral questioning", NEW),
            U2[0]: _entry("Grace Okafor", "Worksheet", NEW, decision=L.NOT_YET_MET),  # work in progress
        }, 3),
    ]
    drop(c, batch, names=["ann.xlsx", "bob.xlsx", "cat.xlsx"])  # type: ignore[list-item]
    roll(c)
    return c


EXPECTED = [
    # (IQA, assessor, learner, ref, kind, reason) -- written by hand from the policy's defaults.
    ("Helen Price", "Amira Khan", "Ann Able", U2[0], "summative", "gap: unit 2 by Professional discussion never sampled"),
    ("Marcus Reid", "Daniel Hughes", "Bob Bell", U1[1], "summative", "trainee assessor: every decision sampled"),
    ("Marcus Reid", "Grace Okafor", "Cat Cole", U1[0], "summative", "gap: unit 1 by Worksheet never sampled"),
    ("Marcus Reid", "Grace Okafor", "Cat Cole", U1[2], "summative", "gap: unit 1 by Oral questioning never sampled"),
    ("Marcus Reid", "Grace Okafor", "Cat Cole", U1[1], "summative", "employer Beta Ltd not covered"),
    ("Marcus Reid", "Grace Okafor", "Cat Cole", U2[0], "interim", "interim: work in progress"),
]


def test_plan_items_and_reasons(centre: Centre) -> None:
    plan = centre_plan(centre, today=TODAY)
    got = [(i.iqa, i.assessor, i.learner, i.ref, i.kind, i.reason) for i in plan.items]
    assert got == EXPECTED
    risks = {r.assessor: (r.level, r.reasons, r.compliant) for r in plan.risks}
    assert risks == {
        "Amira Khan": ("low", ["no risk factor"], False),           # 1 of 3 sampled >= 10%, but a gap
        "Daniel Hughes": ("high", ["trainee assessor"], False),
        "Grace Okafor": ("high", [f"new assessor (first decision {NEW.strftime('%d/%m/%Y')})"], False),
    }


def test_the_rollup_stores_the_plan_and_the_master_shows_it(centre: Centre) -> None:
    conn = LG.connect(centre.ledger, create=False)
    try:
        stored = {(p.ref, p.reason) for p in LG.plan_items(conn)}
    finally:
        conn.close()
    assert stored == {(ref, reason) for *_, ref, _k, reason in EXPECTED}
    sheet = sheet_dicts(centre.master, "Sampling plan")
    assert [(x["Assessor"], x["Ref"], x["Reason"]) for x in sheet] == [(a, ref, reason) for _i, a, _l, ref, _k, reason
                                                                       in EXPECTED]
    assert {x["Compliant"] for x in sheet} == {"No"}
    # The same plan as the roll-up made (its today): Grace Okafor is a new, high-risk assessor there.
    assert {(x["Assessor"], x["Risk"]) for x in sheet} == {("Amira Khan", "low"), ("Daniel Hughes", "high"),
                                                           ("Grace Okafor", "high")}


def test_csv_for_scripts(centre: Centre, capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    write_plan_csv(centre_plan(centre, today=TODAY), buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == ["IQA", "Assessor", "Learner", "Qualification number", "Unit", "Ref", "Kind", "Reason",
                       "Planned on"]
    assert [(r[5], r[7]) for r in rows[1:]] == [(ref, reason) for *_, ref, _k, reason in EXPECTED]
    assert main(["plan", str(centre.root)]) == 0
    out = capsys.readouterr().out
    assert "Daniel Hughes: high risk (trainee assessor)" in out and "6 decision(s) planned for sampling" in out


def test_planned_versus_done_across_rollups(centre: Centre, tmp_path: Path) -> None:
    import shutil

    from tracker.centre.check import load_register
    from tracker.centre.plan import make_plan

    copy = tmp_path / "ledger.sqlite"
    shutil.copy(centre.ledger, copy)
    conn = LG.connect(copy, create=False)
    try:
        items = LG.plan_items(conn)
        # Amira's gap item was planned 100 days ago (the policy's period is 90) and is still undone.
        old = [dataclasses.replace(i, planned_on=(TODAY - dt.timedelta(days=100)).isoformat())
               if i.assessor == "Amira Khan" else i for i in items]
        LG.replace_plan(conn, old)
        register, _ = load_register(centre)
        plan = make_plan(conn, register, TODAY)
    finally:
        conn.close()
    overdue = {r.assessor: r.overdue for r in plan.risks}
    assert overdue == {"Amira Khan": 1, "Daniel Hughes": 0, "Grace Okafor": 0}
    (amira,) = [i for i in plan.items if i.assessor == "Amira Khan"]
    assert amira.planned_on == TODAY - dt.timedelta(days=100)  # kept from the earlier plan


def test_compliance_rule() -> None:
    from tracker.centre.plan import AssessorRisk

    # 1 of 10 sampled reaches a 10% rate (ceil(1.0) = 1); 1 of 11 does not (ceil(1.1) = 2).
    assert AssessorRisk("A", "low", [], 0.10, 10, 1).compliant
    assert not AssessorRisk("A", "low", [], 0.10, 11, 1).compliant
    assert not AssessorRisk("A", "low", [], 0.10, 10, 1, gaps=1).compliant
    assert not AssessorRisk("A", "low", [], 0.10, 10, 1, overdue=1).compliant
