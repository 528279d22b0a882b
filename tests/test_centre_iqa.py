"""Centre-wide checks: IQA independence across learners, IQA sampling coverage per assessor x unit
x method, trainee assessors at 100%."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from test_centre_sample import L2, drop, make_centre, roll, sheet_dicts

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre
from tracker.centre.iqa import CoverageRow, coverage_issues, involvement_issues, sampling_coverage
from tracker.register import read_register
from tracker.sample import SampleLearner
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord

D = dt.date(2025, 3, 3)


def _entry(assessor: str, method: str, iqa: str | None = None) -> CriterionEntry:
    return CriterionEntry(evidence_refs=("E1",), method=method, evidence_date=D, decision=L.MET, assessor=assessor,
                          assessor_date=D, iqa_sampled=L.YES if iqa else None, iqa=iqa,
                          iqa_date=D + dt.timedelta(days=2) if iqa else None, iqa_decision=L.AGREED if iqa else None)


def _learner(name: str, uln: str, assessor: str, iqa: str, tutor: str, entries: dict[str, CriterionEntry],
             n: int) -> tuple[object, SampleLearner, LearnerRecord]:
    lr = Learner(name=name, uln=uln, pathway="face-to-face", registration_date=dt.date(2024, 9, 2),
                 assessor=assessor, iqa=iqa, tutor=tutor, employer="Acme")
    s = SampleLearner(lr, L2.number, f"00000000-0000-4000-8000-{n:012d}", 0.5, n)
    rec = LearnerRecord(lr, entries, (EvidenceEntry("E1", "obs", "Observation", D, "file"),))
    return L2, s, rec


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Centre:
    c = make_centre(tmp_path_factory.mktemp("iqa") / "centre")
    u1 = [cr.ref for cr in L2.units[0].criteria]  # K1.1 ...
    u2 = [cr.ref for cr in L2.units[1].criteria]
    batch = [
        _learner("Ann Able", "1000000043", "Amira Khan", "Helen Price", "Sarah Bennett", {
            u1[0]: _entry("Amira Khan", "Worksheet", iqa="Helen Price"),
            u1[1]: _entry("Amira Khan", "Worksheet"),
            u2[0]: _entry("Amira Khan", "Professional discussion"),
            u2[1]: _entry("amira  khan", "Professional discussion"),
        }, 1),
        _learner("Bob Bell", "1234567899", "Daniel Hughes", "Marcus Reid", "Sarah Bennett", {
            u1[0]: _entry("Daniel Hughes / Amira Khan", "Worksheet", iqa="Marcus Reid"),
            u1[1]: _entry("Daniel Hughes / Amira Khan", "Worksheet", iqa="Marcus Reid"),
            u1[2]: _entry("Daniel Hughes / Amira Khan", "Oral questioning"),
        }, 2),
        # Helen Price quality-assures Ann, and tutors Cat: a centre-level independence finding.
        _learner("Cat Cole", "1000000051", "Grace Okafor", "Marcus Reid", "Helen Price", {
            u1[0]: _entry("Grace Okafor", "Worksheet", iqa="Marcus Reid"),
        }, 3),
    ]
    drop(c, batch, names=["ann.xlsx", "bob.xlsx", "cat.xlsx"])  # type: ignore[list-item]
    roll(c)
    return c


def _coverage(c: Centre) -> list[CoverageRow]:
    conn = LG.connect(c.ledger, create=False)
    try:
        return sampling_coverage(conn, read_register(c.register)[0])
    finally:
        conn.close()


def test_sampling_coverage_per_assessor_unit_and_method(centre: Centre) -> None:
    rows = _coverage(centre)
    got = {(r.assessor, r.scope, r.unit, r.method): (r.decisions, r.sampled, r.trainee) for r in rows}
    assert got == {
        ("Amira Khan", "All", None, ""): (4, 1, False),
        ("Amira Khan", "Unit", 1, ""): (2, 1, False),
        ("Amira Khan", "Unit", 2, ""): (2, 0, False),
        ("Amira Khan", "Method", None, "Professional discussion"): (2, 0, False),
        ("Amira Khan", "Method", None, "Worksheet"): (2, 1, False),
        ("Daniel Hughes", "All", None, ""): (3, 2, True),
        ("Daniel Hughes", "Unit", 1, ""): (3, 2, True),
        ("Daniel Hughes", "Method", None, "Oral questioning"): (1, 0, True),
        ("Daniel Hughes", "Method", None, "Worksheet"): (2, 2, True),
        ("Grace Okafor", "All", None, ""): (1, 1, False),
        ("Grace Okafor", "Unit", 1, ""): (1, 1, False),
        ("Grace Okafor", "Method", None, "Worksheet"): (1, 1, False),
        # Crossed: a gap shows per unit x method even where unit and method alone look covered.
        ("Amira Khan", "Unit x method", 1, "Worksheet"): (2, 1, False),
        ("Amira Khan", "Unit x method", 2, "Professional discussion"): (2, 0, False),
        ("Daniel Hughes", "Unit x method", 1, "Oral questioning"): (1, 0, True),
        ("Daniel Hughes", "Unit x method", 1, "Worksheet"): (2, 2, True),
        ("Grace Okafor", "Unit x method", 1, "Worksheet"): (1, 1, False),
    }
    flags = {(r.assessor, r.scope, r.unit, r.method): r.flag for r in rows if r.flag}
    assert flags[("Daniel Hughes", "All", None, "")] == "Trainee below 100%"
    assert flags[("Amira Khan", "Unit", 2, "")] == "Never sampled"


def test_centre_issues(centre: Centre) -> None:
    conn = LG.connect(centre.ledger, create=False)
    try:
        issues = coverage_issues(_coverage(centre)) + involvement_issues(conn)
    finally:
        conn.close()
    by_code = {}
    for i in issues:
        by_code.setdefault(i.code, []).append(i.message)
    assert by_code["centre-trainee-under-sampled"] == [
        "Daniel Hughes is a trainee assessor: 2 of 3 Met decision(s) sampled (67%), but every decision of a "
        "trainee must be sampled"]
    assert sorted(by_code["centre-iqa-not-sampled"]) == [
        "Amira Khan has 4 Met decision(s) but none sampled summatively by an IQA on 603/4687/5 unit 2 by "
        "Professional discussion",
        "Daniel Hughes has 3 Met decision(s) but none sampled summatively by an IQA on 603/4687/5 unit 1 by "
        "Oral questioning"]
    (involved,) = by_code["centre-iqa-involved"]
    assert involved.startswith("Helen Price quality-assures 1 learner(s) on 603/4687/5") and "Cat Cole (tutor)" in involved
    # Marcus Reid quality-assures Bob and Cat and did nothing else: no finding.
    assert "Marcus Reid" not in involved


def test_the_master_shows_them(centre: Centre) -> None:
    issues = [x for x in sheet_dicts(centre.master, "Issues") if x["Source"] == "Centre check"]
    assert {x["Code"] for x in issues} == {"centre-trainee-under-sampled", "centre-iqa-not-sampled",
                                          "centre-iqa-involved"}
    # Independence is an error now (no mitigation recorded); the sampling gaps stay warnings.
    assert {x["Code"]: x["Severity"] for x in issues}["centre-iqa-involved"] == "error"
    assert all(x["Severity"] == "warning" for x in issues if x["Code"] != "centre-iqa-involved")
    table = sheet_dicts(centre.master, "IQA sampling")
    trainee = [x for x in table if x["Assessor"] == "Daniel Hughes" and x["Scope"] == "All"][0]
    assert trainee["Trainee"] == "Yes" and trainee["% sampled"] == pytest.approx(2 / 3) and trainee["Target"] == 1
    assert trainee["Flag"] == "Trainee below 100%"


def test_same_learner_iqa_and_tutor_is_left_to_the_workbook_check(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c")
    u1 = [cr.ref for cr in L2.units[0].criteria]
    drop(c, [_learner("Dee Dean", "1000000043", "Amira Khan", "Helen Price", "Helen Price",
                      {u1[0]: _entry("Amira Khan", "Worksheet", iqa="Helen Price")}, 9)],  # type: ignore[list-item]
         names=["dee.xlsx"])
    roll(c)
    codes = {x["Code"] for x in sheet_dicts(c.master, "Issues")}
    assert "centre-iqa-involved" not in codes
    assert "coi-iqa-is-tutor" in codes  # the per-workbook independence check


def test_independence_is_an_error_unless_a_mitigation_is_recorded(centre: Centre) -> None:
    from tracker.register import Mitigation

    reg = read_register(centre.register)[0]
    conn = LG.connect(centre.ledger, create=False)
    try:
        (plain,) = involvement_issues(conn, reg)
        reg.mitigations.append(Mitigation("helen  price", L2.number, "Marcus Reid samples 10% extra"))
        (mitigated,) = involvement_issues(conn, reg)
        # Look-alike: a mitigation for another qualification leaves the error.
        reg.mitigations[0] = Mitigation("Helen Price", "600/0000/0", "elsewhere")
        (other,) = involvement_issues(conn, reg)
    finally:
        conn.close()
    assert (plain.code, plain.severity.value) == ("centre-iqa-involved", "error")
    assert (mitigated.code, mitigated.severity.value) == ("centre-iqa-involved-mitigated", "warning")
    assert "mitigation recorded: Marcus Reid samples 10% extra" in mitigated.message
    assert other.code == "centre-iqa-involved"


def test_sampled_yes_without_a_decision_is_not_sampled(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c")
    u1 = [cr.ref for cr in L2.units[0].criteria]
    yes_only = CriterionEntry(evidence_refs=("E1",), method="Worksheet", evidence_date=D, decision=L.MET,
                              assessor="Daniel Hughes / Amira Khan", assessor_date=D, iqa_sampled=L.YES)
    drop(c, [_learner("Dee Dean", "1000000043", "Daniel Hughes", "Marcus Reid", "Sarah Bennett",
                      {u1[0]: yes_only}, 9)], names=["dee.xlsx"])  # type: ignore[list-item]
    roll(c)
    (line,) = [r for r in _coverage(c) if r.scope == "All"]
    assert (line.decisions, line.sampled, line.flag) == (1, 0, "Trainee below 100%")  # a trainee is not at 100%
    codes = {x["Code"] for x in sheet_dicts(c.master, "Issues")}
    assert {"centre-learner-not-sampled", "centre-employer-not-sampled"} <= codes  # 1 criterion: no claim yet
    assert "centre-learner-claim-unsampled" not in codes


def test_a_complete_learner_without_a_summative_sample_is_an_error(tmp_path: Path) -> None:
    import dataclasses

    from fixtures import complete_record

    c = make_centre(tmp_path / "c")
    done = complete_record(L2, "face-to-face")
    unsampled = {ref: dataclasses.replace(e, assessor="Amira Khan", iqa_sampled=None, iqa=None, iqa_date=None,
                                          iqa_decision=None) for ref, e in done.entries.items()}
    _q, s, rec = _learner("Eve Eddy", "1000000043", "Amira Khan", "Marcus Reid", "Sarah Bennett", unsampled, 10)
    rec = dataclasses.replace(rec, evidence=done.evidence)
    drop(c, [(L2, s, rec)], names=["eve.xlsx"])  # type: ignore[list-item]
    roll(c)
    issues = {x["Code"]: x for x in sheet_dicts(c.master, "Issues") if x["Source"] == "Centre check"}
    assert issues["centre-learner-claim-unsampled"]["Severity"] == "error"
    assert "centre-learner-not-sampled" not in issues


def test_validate_inside_the_centre_checks_independence_from_the_ledger(
        centre: Centre, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tracker.cli import main
    from tracker.sample import write_workbooks

    u1 = [cr.ref for cr in L2.units[0].criteria]
    folder = centre.root / "checking"
    folder.mkdir()
    new = _learner("Fay Ford", "1000000086", "Grace Okafor", "Helen Price", "Sarah Bennett",
                   {u1[0]: _entry("Grace Okafor", "Worksheet")}, 11)
    ok = _learner("Gus Gray", "1000000094", "Grace Okafor", "Marcus Reid", "Sarah Bennett",
                  {u1[0]: _entry("Grace Okafor", "Worksheet")}, 12)
    (p_new, p_ok) = write_workbooks([new, ok], folder, names=["fay.xlsx", "gus.xlsx"])  # type: ignore[list-item]
    main(["validate", "--json", str(p_new), str(p_ok)])
    report = json.loads(capsys.readouterr().out)
    by_file = {Path(t["file"]).name: [(i["code"], i["sheet"], i["cell"]) for i in t["issues"]
                                      if i["code"].startswith("centre-")] for t in report["files"]}
    # Helen Price tutors Cat Cole on this qualification: her IQA role for Fay is an error at the
    # cover's IQA cell (row 10); Marcus Reid did nothing else: Gus is clean.
    assert by_file == {"fay.xlsx": [("centre-iqa-involved", "Cover", "B10")], "gus.xlsx": []}
