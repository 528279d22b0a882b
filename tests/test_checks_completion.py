"""Completion: a Met decision carries evidence, method, assessor and date (the sign-off check);
progress per criterion, unit and qualification (the progress check)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fixtures import L2, L3, at, complete_record, found, norm, record, signed, validate, write

from tracker.rules.checks import progress as P
from tracker.rules.checks import signoff as S
from tracker.workbook import layout as L


def test_met_without_its_sign_off(tmp_path: Path) -> None:
    e = {
        "K1.1": signed(L2, "K1.1", 1, evidence_refs=()),
        "K1.2": signed(L2, "K1.2", 2, method=None),
        "K1.3": signed(L2, "K1.3", 3, assessor=None),
        "K2.1": signed(L2, "K2.1", 4, assessor_date=None),
        "K2.2": signed(L2, "K2.2", 5, evidence_date=None),
        "K2.3": signed(L2, "K2.3", 6, decision=L.NOT_YET_MET, assessor_date=None),  # not Met: no sign-off needed
    }
    task = validate(write(tmp_path, L2, record(e)))
    assert found(task, S.signoff, P.progress) == norm([
        ("completion-met-no-evidence", *at(L2, "K1.1", "evidence_refs")),
        ("completion-met-no-method", *at(L2, "K1.2", "method")),
        ("completion-met-no-assessor", *at(L2, "K1.3", "assessor")),
        ("completion-met-no-date", *at(L2, "K2.1", "assessor_date")),
        ("completion-met-no-evidence-date", *at(L2, "K2.2", "evidence_date")),
        ("completion-not-met", *at(L2, "K2.3", "decision")),
        # A Met without its sign-off is not achieved: Unit 1 (K1.1-K1.3) is not complete.
        ("completion-unit-incomplete", "Unit 1", None),
        ("completion-unit-incomplete", "Unit 2", None),
        ("completion-qualification-incomplete", None, None),
    ])
    unit1, unit2 = (i for i in task.issues if i.code == "completion-unit-incomplete")
    assert unit1.message == "Unit 1: 0 of 3 required criteria achieved; still to do: K1.1, K1.2, K1.3"
    # K2.2 lacks only its evidence date (a warning): achieved; K2.1 lacks the assessor date: not.
    assert unit2.message == "Unit 2: 1 of 5 required criteria achieved; still to do: K2.1, K2.3, K2.4, K2.5"
    assert (unit1.unit, unit2.unit) == ("1", "2")
    q = next(i for i in task.issues if i.code == "completion-qualification-incomplete")
    assert q.message.startswith("0 of 18 units complete, 1 of 53 required criteria achieved")


def test_complete_qualification(tmp_path: Path) -> None:
    task = validate(write(tmp_path, L3, complete_record(L3, None)))
    assert found(task, S.signoff, P.progress) == [("completion-qualification-complete", None, None)]


def test_open_referral_does_not_count_as_achieved(tmp_path: Path) -> None:
    rec = complete_record(L3, None)
    e = dict(rec.entries)
    e["B5.2"] = dataclasses.replace(e["B5.2"], iqa_sampled="Yes", iqa="Ian Iqa", iqa_date=e["B5.2"].assessor_date,
                                    iqa_decision=L.REFERRED_BACK)
    task = validate(write(tmp_path, L3, dataclasses.replace(rec, entries=e)))
    # B5.2 is still Met: the row is explained by the IQA check (iqa-referred-back-open), not as
    # "not yet Met"; the unit lists it as still to do.
    assert found(task, S.signoff, P.progress) == norm([
        ("completion-unit-incomplete", "Unit 14", None),
        ("completion-qualification-incomplete", None, None),
    ])


def test_untouched_units_are_summed_up_not_listed(tmp_path: Path) -> None:
    task = validate(write(tmp_path, L3, record({}, pathway=None)))
    assert found(task, S.signoff, P.progress) == [("completion-qualification-incomplete", None, None)]


def test_either_or_criteria_not_counted_without_a_pathway(tmp_path: Path) -> None:
    rec = complete_record(L2, "face-to-face")
    rec = dataclasses.replace(rec, learner=dataclasses.replace(rec.learner, pathway=None))
    task = validate(write(tmp_path, L2, rec))
    assert found(task, S.signoff, P.progress) == [("completion-qualification-incomplete", None, None)]
    msg = next(i.message for i in task.issues if i.code == "completion-qualification-incomplete")
    assert "pathway is not given" in msg
