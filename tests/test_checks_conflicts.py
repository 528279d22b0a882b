"""Conflicts of interest inside one learner's workbook."""

from __future__ import annotations

from pathlib import Path

from fixtures import ASSESSOR, IQA, L3, LEARNER, ULN, at, cover_at, found, norm, record, signed, staff_register, validate, write

from tracker.register import Interest
from tracker.rules.checks import conflicts as C


def test_clean(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1, sampled=True)}
    assert found(validate(write(tmp_path, L3, record(e, pathway=None))), C.conflicts) == []


def test_iqa_on_the_cover_is_also_the_assessor(tmp_path: Path) -> None:
    # Several names in the cover's Assessor cell; names compared ignoring case and spacing.
    rec = record({}, pathway=None, assessor=f"Zed Other; {IQA.upper()}")
    task = validate(write(tmp_path, L3, rec))
    assert found(task, C.conflicts) == [("coi-iqa-is-assessor", *cover_at("iqa"))]
    msg = next(i.message for i in task.issues if i.code == "coi-iqa-is-assessor")
    assert msg.startswith("Ian Iqa is this learner's IQA (named on the cover) and also their assessor (named on the cover)")


def test_row_iqa_assessed_other_criteria(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1, assessor="Pat Smith"),
         "K1.2": signed(L3, "K1.2", 2, sampled=True, iqa=" pat  smith ")}
    task = validate(write(tmp_path, L3, record(e, pathway=None)))
    assert found(task, C.conflicts) == [("coi-iqa-is-assessor", *at(L3, "K1.2", "iqa"))]


def test_iqa_is_tutor_and_learner_signs(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1, assessor=LEARNER)}
    rec = record(e, pathway=None, tutor=IQA)
    task = validate(write(tmp_path, L3, rec))
    assert found(task, C.conflicts) == norm([
        ("coi-iqa-is-tutor", *cover_at("iqa")),
        ("coi-learner-signed", *at(L3, "K1.1", "assessor")),
    ])


def test_declared_interest(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1), "K1.2": signed(L3, "K1.2", 2, sampled=True)}
    p = write(tmp_path, L3, record(e, pathway=None))
    by_uln = staff_register(interests=[Interest(ASSESSOR, ULN, "sister")])
    assert found(validate(p, register=by_uln), C.declared_interests) == [
        ("coi-declared-interest", *cover_at("assessor"))]
    by_name = staff_register(interests=[Interest(IQA, "bob  LEARNER", "neighbour")])
    task = validate(p, register=by_name)
    assert found(task, C.declared_interests) == [("coi-declared-interest", *cover_at("iqa"))]
    msg = next(i.message for i in task.issues if i.code == "coi-declared-interest")
    assert msg == ("Ian Iqa declared a personal interest in this learner (neighbour) but acted as IQA "
                   f"(named on the cover and signed 1 criterion (first {at(L3, 'K1.2', 'iqa')[0]}!{at(L3, 'K1.2', 'iqa')[1]}))")
    other = staff_register(interests=[Interest(IQA, "Someone Else", "friend")])
    assert found(validate(p, register=other), C.declared_interests) == []
