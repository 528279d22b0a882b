"""Pathways: pathway given and known, one option per either/or group, matching the pathway; the
reading of L2 Unit 17."""

from __future__ import annotations

from pathlib import Path

from fixtures import L2, L3, at, complete_record, cover_at, edit, found, norm, record, set_meta, signed, validate, write

from tracker.rules.checks import pathways as P


def test_no_pathway(tmp_path: Path) -> None:
    task = validate(write(tmp_path, L2, record({}, pathway=None)))
    assert found(task, P.pathways, P.reading) == [("pathway-missing", *cover_at("pathway"))]


def test_unknown_pathway(tmp_path: Path) -> None:
    p = edit(write(tmp_path, L2, record({})), {cover_at("pathway"): "Telephone"})
    task = validate(p)
    assert found(task, P.pathways, P.reading) == [("pathway-unknown", *cover_at("pathway"))]
    msg = next(i.message for i in task.issues if i.code == "pathway-unknown")
    assert msg == "The cover's pathway 'Telephone' is not one of: Face-to-face, Non-facing"


def test_pathway_in_any_letter_case(tmp_path: Path) -> None:
    p = edit(write(tmp_path, L2, complete_record(L2, "non-facing")), {cover_at("pathway"): "NON-FACING"})
    assert found(validate(p), P.pathways, P.reading) == []


def test_both_options_used(tmp_path: Path) -> None:
    e = {"S9.1": signed(L2, "S9.1", 1), "S9.2": signed(L2, "S9.2", 2), "S9.4": signed(L2, "S9.4", 3)}
    task = validate(write(tmp_path, L2, record(e, pathway="face-to-face")))
    assert found(task, P.pathways, P.reading) == norm([
        ("pathway-options-mixed", *at(L2, "S9.4", "ref")),
        ("pathway-option-mismatch", *at(L2, "S9.4", "decision")),
    ])


def test_both_options_used_without_a_pathway(tmp_path: Path) -> None:
    e = {"S9.1": signed(L2, "S9.1", 1), "S9.5": signed(L2, "S9.5", 3)}
    task = validate(write(tmp_path, L2, record(e, pathway=None)))
    assert found(task, P.pathways, P.reading) == norm([
        ("pathway-missing", *cover_at("pathway")),
        ("pathway-options-mixed", *at(L2, "S9.5", "ref")),
    ])


def test_other_pathways_option(tmp_path: Path) -> None:
    # Evidence recorded without a decision still counts as the option being used.
    e = {"S9.5": signed(L2, "S9.5", 1, decision=None, assessor=None, assessor_date=None),
         "S9.6": signed(L2, "S9.6", 2)}
    task = validate(write(tmp_path, L2, record(e, pathway="face-to-face")))
    assert found(task, P.pathways, P.reading) == norm([
        ("pathway-option-mismatch", *at(L2, "S9.5", "decision")),
        ("pathway-option-mismatch", *at(L2, "S9.6", "decision")),
    ])


def test_comments_and_iqa_notes_do_not_use_an_option(tmp_path: Path) -> None:
    from tracker.workbook.model import CriterionEntry

    e = {"S9.4": CriterionEntry(comments="N/A - face-to-face learner")}
    assert found(validate(write(tmp_path, L2, record(e))), P.pathways) == []


def test_unit_17_depends_on_the_reading(tmp_path: Path) -> None:
    e = {"B17.1": signed(L2, "B17.1", 1), "B17.2": signed(L2, "B17.2", 2)}
    default = write(tmp_path, L2, record(e, pathway="face-to-face"), name="default.xlsx")
    assert found(validate(default), P.pathways, P.reading) == []
    guidance = write(tmp_path, L2, record(e, pathway="face-to-face"), name="guidance.xlsx", reading="unit-guidance")
    assert found(validate(guidance), P.pathways, P.reading) == norm([
        ("pathway-options-mixed", *at(L2, "B17.2", "ref")),
        ("pathway-option-mismatch", *at(L2, "B17.2", "decision")),
    ])
    # The centre's chosen reading applied explicitly to a workbook made under the other one.
    assert found(validate(default, reading="unit-guidance"), P.pathways, P.reading) == norm([
        ("pathway-options-mixed", *at(L2, "B17.2", "ref")),
        ("pathway-option-mismatch", *at(L2, "B17.2", "decision")),
        ("pathway-reading-differs", None, None),
    ])


def test_unknown_readings(tmp_path: Path) -> None:
    p = write(tmp_path, L2, complete_record(L2, "face-to-face"))
    assert found(validate(p, reading="nonsense"), P.pathways, P.reading) == [("pathway-reading-unknown", None, None)]
    set_meta(p, reading="bogus")
    assert found(validate(p), P.pathways, P.reading) == [("pathway-reading-recorded-unknown", None, None)]


def test_no_pathways_qualification(tmp_path: Path) -> None:
    task = validate(write(tmp_path, L3, complete_record(L3, None)), reading="whatever")
    assert found(task, P.pathways, P.reading) == []
