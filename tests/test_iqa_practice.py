"""IQA practice (issue 13): countersign columns, people under their other names, per-row sampling.

Cell letters are written by hand as the oracle (template version 2): Assessor H, Assessor date I,
IQA sampled J, IQA K, IQA date L, IQA decision M, Comments N, Countersigned by O, Countersign
date P; the first criterion row of a unit sheet is row 12 (L3 unit 1: K1.1, K1.2, K1.5, K1.6 ...).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import openpyxl
from fixtures import ASSESSOR, IQA, L3, LEARNER, TODAY, ULN, found, norm, record, signed, staff_register, \
    validate, write

from tracker.centre import ledger as LG
from tracker.register import COUNTERSIGN_ANY, Interest, Policy, StaffMember
from tracker.rules.checks import conflicts as C
from tracker.rules.checks import iqa as Q
from tracker.rules.checks import staff as S
from tracker.rules.checks import structure as ST
from tracker.workbook import layout as L
from tracker.workbook.reader import read_workbook

TRAINEE = "Tia Trainee"
OTHER = "Olga Other"          # a qualified assessor the register does not name as Tia's countersigner
TRAINEE_IQA = "Tess Trainee-Iqa"


def _m(name: str, roles: set[str], a: str | None = None, i: str | None = None, cs: str | None = None,
       other: tuple[str, ...] = ()) -> StaffMember:
    return StaffMember(name, frozenset(roles), "", a, "", i, cs, other_names=other)


def _reg(**policy: str) -> object:
    reg = staff_register(_m(TRAINEE, {"assessor"}, "Working towards", cs=ASSESSOR),
                         _m(OTHER, {"assessor"}, "Held"),
                         _m("Tim Trainee", {"assessor"}, "Working towards", cs=ASSESSOR),
                         _m(TRAINEE_IQA, {"IQA"}, i="Working towards"))
    reg.policy = Policy(**policy)
    return reg


def _cs(ref: str, n: int, by: str | None, on: dt.date | None = None, **kw: object) -> object:
    e = signed(L3, ref, n, assessor=TRAINEE, **kw)
    return dataclasses.replace(e, countersigned_by=by,
                               countersign_date=on if on is not None or by is None else e.assessor_date)


def test_countersign_columns_are_written_after_comments(tmp_path: Path) -> None:
    p = write(tmp_path, L3, record({}, pathway=None))
    ws = openpyxl.load_workbook(p)["Unit 1"]
    assert [ws["N11"].value, ws["O11"].value, ws["P11"].value] == ["Comments", "Countersigned by",
                                                                   "Countersign date"]


def test_countersignature_column_rules(tmp_path: Path) -> None:
    e = {
        "K1.1": _cs("K1.1", 1, ASSESSOR),                                        # clean: named, dated
        "K1.2": _cs("K1.2", 2, OTHER),                                           # another qualified assessor
        "K1.5": _cs("K1.5", 3, ASSESSOR, on=dt.date(2023, 1, 1)),                # before the decision
        "K1.6": _cs("K1.6", 4, ASSESSOR, on=TODAY + dt.timedelta(days=1)),       # in the future
        "K2.1": _cs("K2.1", 5, "Tim Trainee"),                                   # a trainee countersigns
    }
    p = write(tmp_path, L3, record(e, pathway=None))
    named = found(validate(p, register=_reg()), S.staff)
    assert named == norm([
        ("staff-countersigner-not-named", "Unit 1", "O13"),
        ("staff-countersign-before-decision", "Unit 1", "P14"),
        ("staff-countersign-future", "Unit 1", "P15"),
        ("staff-countersign-unqualified", "Unit 2", "O12"),
    ])
    # Look-alike: under the "any qualified assessor" policy Olga's countersignature is clean.
    anyone = found(validate(p, register=_reg(countersign=COUNTERSIGN_ANY)), S.staff)
    assert anyone == norm([
        ("staff-countersign-before-decision", "Unit 1", "P14"),
        ("staff-countersign-future", "Unit 1", "P15"),
        ("staff-countersign-unqualified", "Unit 2", "O12"),
    ])


def test_countersignature_without_date(tmp_path: Path) -> None:
    e = {"K1.1": dataclasses.replace(signed(L3, "K1.1", 1, assessor=TRAINEE), countersigned_by=ASSESSOR)}
    p = write(tmp_path, L3, record(e, pathway=None))
    assert found(validate(p, register=_reg()), S.staff) == [("staff-countersign-no-date", "Unit 1", "P12")]


def test_trainee_iqa_needs_a_qualified_iqa(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1, sampled=True, iqa=TRAINEE_IQA),
         "K1.2": dataclasses.replace(signed(L3, "K1.2", 2, sampled=True, iqa=TRAINEE_IQA), countersigned_by=IQA,
                                     countersign_date=signed(L3, "K1.2", 2, sampled=True).iqa_date)}
    p = write(tmp_path, L3, record(e, pathway=None))
    task = validate(p, register=_reg())
    assert found(task, S.staff) == [("staff-trainee-iqa-not-countersigned", "Unit 1", "K12")]
    # Ian Iqa (the cover's IQA) countersigning a trainee IQA's decision quality-assures; he did
    # not assess, so it is no IQA-is-assessor conflict.
    assert found(task, C.conflicts) == []


def test_countersigner_is_subject_to_conflict_checks(tmp_path: Path) -> None:
    # The learner's IQA countersigned a trainee's decision: they took part in the assessment.
    e = {"K1.1": _cs("K1.1", 1, IQA), "K1.2": signed(L3, "K1.2", 2, sampled=True)}
    p = write(tmp_path, L3, record(e, pathway=None))
    got = found(validate(p), C.conflicts)
    assert got == [("coi-iqa-is-assessor", "Cover", "B10")]  # the IQA's first appearance: the cover (row 10)
    # A countersigner with a declared interest in the learner.
    e = {"K1.1": _cs("K1.1", 1, OTHER)}
    p = write(tmp_path, L3, record(e, pathway=None), name="interest.xlsx")
    reg = _reg(countersign=COUNTERSIGN_ANY)
    reg.interests.append(Interest(OTHER, ULN, "sister"))
    assert found(validate(p, register=reg), C.declared_interests) == [("coi-declared-interest", "Unit 1", "O12")]
    # The learner countersigning their own work.
    e = {"K1.1": _cs("K1.1", 1, LEARNER)}
    p = write(tmp_path, L3, record(e, pathway=None), name="own.xlsx")
    assert found(validate(p), C.conflicts) == [("coi-learner-signed", "Unit 1", "O12")]


def test_people_matched_by_their_registered_other_names(tmp_path: Path) -> None:
    # IQA "A. Assessor" on K1.2 and assessor "Ann Assessor" everywhere: the same person once the
    # register lists "A. Assessor" among Ann's other names.
    e = {"K1.1": signed(L3, "K1.1", 1), "K1.2": signed(L3, "K1.2", 2, sampled=True, iqa="A. Assessor")}
    p = write(tmp_path, L3, record(e, pathway=None))
    reg = staff_register(_m(ASSESSOR, {"assessor", "IQA"}, "Held", "Held", other=("A. Assessor",)))
    task = validate(p, register=reg)
    assert found(task, C.conflicts) == [("coi-iqa-is-assessor", "Unit 1", "K13")]
    assert found(task, "staff-not-in-register", "staff-initials-match") == []
    # Look-alike without the other name: not matched, but a warning names who it fits.
    reg = staff_register(_m(ASSESSOR, {"assessor", "IQA"}, "Held", "Held"))
    task = validate(p, register=reg)
    assert found(task, C.conflicts) == []
    assert found(task, "staff-not-in-register", "staff-initials-match") == norm([
        ("staff-not-in-register", "Unit 1", "K13"), ("staff-initials-match", "Unit 1", "K13")])
    assert "Ann Assessor" in next(i.message for i in task.issues if i.code == "staff-initials-match")


def test_per_row_sampling_issues(tmp_path: Path) -> None:
    base = signed(L3, "K1.1", 1, sampled=True)
    e = {
        "K1.1": dataclasses.replace(base, iqa=None, iqa_date=None, iqa_decision=None),  # Yes, no decision
        "K1.2": dataclasses.replace(signed(L3, "K1.2", 2, sampled=True), iqa_sampled=None),  # blank Sampled
        "K1.5": signed(L3, "K1.5", 3, sampled=True, decision=L.NOT_YET_MET),              # interim Agreed
        "K1.6": signed(L3, "K1.6", 4, sampled=True),                                      # clean look-alike
    }
    p = write(tmp_path, L3, record(e, pathway=None))
    assert found(validate(p), Q.iqa) == norm([
        ("iqa-sampled-no-decision", "Unit 1", "M12"),
        ("iqa-sampled-blank", "Unit 1", "J13"),
        ("iqa-agreed-not-met", "Unit 1", "M14"),
    ])


def test_version_1_workbook_still_reads(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1, assessor=f"{TRAINEE} / {ASSESSOR}")}
    p = write(tmp_path, L3, record(e, pathway=None))
    wb = openpyxl.load_workbook(p)
    for name in wb.sheetnames:
        ws = wb[name]
        if ws["O11"].value == "Countersigned by":
            ws.delete_cols(15, 2)  # O:P, as a version-1 workbook has them not at all
    wb.save(p)
    book = read_workbook(p)
    assert all(not u.missing_columns for u in book.units)
    task = validate(p, register=_reg())
    assert found(task, ST.structure, S.staff) == []  # and the Assessor-cell countersignature counts


def test_ledger_of_schema_1_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    conn = LG.connect(path)
    # Make it a schema-1 ledger: without the version-2 (and version-4) columns.
    conn.execute("ALTER TABLE criteria DROP COLUMN countersigned_by")
    conn.execute("ALTER TABLE criteria DROP COLUMN countersign_date")
    conn.execute("ALTER TABLE criteria DROP COLUMN extra")
    conn.execute("PRAGMA user_version=1")
    conn.close()
    conn = LG.connect(path)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(criteria)")]
    assert cols[-5:] == ["source_file", "run_id", "countersigned_by", "countersign_date", "extra"]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LG.SCHEMA_VERSION == 6
    conn.close()
    assert sqlite3.sqlite_version_info >= (3, 35)


def test_plausibility_warnings(tmp_path: Path) -> None:
    from fixtures import evidence_for

    from tracker.rules.checks import plausibility as P
    from tracker.workbook.model import EvidenceEntry

    # Ten criteria signed on one day (the policy's same_day default); K1.1 evidenced on day 1.
    day = dt.date(2024, 5, 1)
    refs = [c.ref for u in L3.units[:3] for c in u.criteria][:10]
    assert len(refs) == 10
    e = {ref: signed(L3, ref, i + 1, assessor_date=day) for i, ref in enumerate(refs)}
    rec = record(e, pathway=None)
    log = list(evidence_for(e))
    # E1 (cited by K1.1) logged after the sign-off; E2 (cited by K1.2) logged as another method.
    log[0] = dataclasses.replace(log[0], date=day + dt.timedelta(days=3))
    log[1] = dataclasses.replace(log[1], method="Witness testimony")
    rec = dataclasses.replace(rec, evidence=tuple(log))
    p = write(tmp_path, L3, rec)
    assert found(validate(p), P.plausibility) == norm([
        ("plausible-same-day", "Unit 1", "I12"),             # Assessor date of the first of the ten
        ("plausible-evidence-after-signoff", "Unit 1", "D12"),
        ("plausible-method-differs", "Unit 1", "E13"),
    ])
    # Look-alike: nine on one day, the log agreeing: clean.
    e = {ref: signed(L3, ref, i + 1, assessor_date=day) for i, ref in enumerate(refs[:9])}
    p = write(tmp_path, L3, record(e, pathway=None), name="nine.xlsx")
    assert found(validate(p), P.plausibility) == []
    assert EvidenceEntry  # imported for the reader of this test: the log rows are EvidenceEntry


def test_typical_methods_are_the_specifications_lists(tmp_path: Path) -> None:
    from tracker.register import Register
    from tracker.rules.checks import evidence as E
    from tracker.spec.models import Kind

    # As the specification text lists them ("Examples of evidence"), written out by hand.
    assert L3.typical_methods == {
        Kind.KNOWLEDGE: ["Worksheet", "Oral questioning", "Written questioning", "Assignment or project",
                 "Candidate or peer report", "Professional discussion"],
        Kind.SKILL: ["Observation", "Witness testimony", "Professional discussion", "Candidate or peer report"],
        Kind.BEHAVIOUR: ["Observation", "Witness testimony", "Professional discussion", "Candidate or peer report"],
    }
    e = {"K1.1": signed(L3, "K1.1", 1, method="Recognition of prior learning"),
         "K1.2": signed(L3, "K1.2", 2, method="Product evidence")}
    p = write(tmp_path, L3, record(e, pathway=None))
    assert found(validate(p), "evidence-method-atypical") == norm([
        ("evidence-method-atypical", "Unit 1", "E12"), ("evidence-method-atypical", "Unit 1", "E13")])
    # A centre that applied to use RPL: RPL is typical, product evidence for knowledge still not.
    reg = staff_register()
    reg.policy = Policy(rpl=True)
    assert found(validate(p, register=reg), "evidence-method-atypical") == [
        ("evidence-method-atypical", "Unit 1", "E13")]
    assert E and Register


def test_unit_17_wording_and_reading(tmp_path: Path) -> None:
    from fixtures import L2, edit

    from tracker.rules.checks import tampering as T

    face = ("Present a professional image in line with the organisational dress code and code of conduct")
    non = ("Demonstrate a positive attitude and welcoming approach consistently when dealing with customers")
    p = write(tmp_path, L2, record({}, pathway="face-to-face"))
    ws = openpyxl.load_workbook(p)["Unit 17"]
    assert ws["A12"].value == "B17.1" and ws["B12"].value == face       # only the learner's wording
    assert ws["B9"].value.startswith("Reading applied (criteria-table): Unit 17 as its criteria table")
    assert found(validate(p), T.tampering) == []
    edit(p, {("Unit 17", "B12"): non})                                     # the other pathway's wording
    assert found(validate(p), T.tampering) == [("tamper-other-pathway-wording", "Unit 17", "B12")]
    # Pathway not chosen yet: both wordings (the specification's text), and no warning.
    p = write(tmp_path, L2, record({}, pathway=None), name="unset.xlsx")
    text = openpyxl.load_workbook(p)["Unit 17"]["B12"].value
    assert "Face-to-face" in text and "Non-facing" in text
    assert found(validate(p), T.tampering) == []
    # Units that no reading changes state none.
    assert "Reading applied" not in str(openpyxl.load_workbook(p)["Unit 1"]["B9"].value)


def test_init_records_the_reading_and_the_clarification(tmp_path: Path, capsys: object) -> None:
    from fixtures import L2

    from tracker.centre.folder import open_centre
    from tracker.cli import main

    assert main(["init", str(tmp_path / "c"), "--reading", "unit-guidance",
                 "--clarification", "Highfield email of 3 March 2025: B17.1 or B17.2 by pathway"]) == 0
    c = open_centre(tmp_path / "c")
    assert c.readings == {L2.id: "unit-guidance"}
    text = (tmp_path / "c" / "centre.yaml").read_text(encoding="utf-8")
    assert "awarding body's clarification: Highfield email of 3 March 2025" in text
    # Look-alike: no --reading (not a terminal) keeps the default reading.
    assert main(["init", str(tmp_path / "d")]) == 0
    assert open_centre(tmp_path / "d").readings == {L2.id: "criteria-table"}


def test_policy_in_centre_yaml(tmp_path: Path) -> None:
    import pytest

    from tracker.centre.create import init_centre
    from tracker.centre.folder import open_centre
    from tracker.errors import CentreError

    c, _ = init_centre(tmp_path / "c")
    assert c.policy == Policy()  # the commented example in a new centre.yaml changes nothing
    cfg = tmp_path / "c" / "centre.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "policy:\n  countersign: any\n  rate_low: 0.2\n  rpl: true\n",
                   encoding="utf-8")
    assert open_centre(tmp_path / "c").policy == Policy(countersign="any", rate_low=0.2, rpl=True)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("rate_low: 0.2", "rate_low: 20"), encoding="utf-8")
    with pytest.raises(CentreError, match="policy.rate_low must be a share between 0 and 1"):
        open_centre(tmp_path / "c")
