"""Progress by the one definition of "achieved" (tracker.workbook.progress), as the validator says it.

Every case starts from a complete Level 3 workbook (all 48 required criteria of its 14 units Met
and signed) and changes one criterion, K1.2 (Unit 1, table row 13), so "achieved or not" shows
in the qualification's own verdict. Expected codes, cells and messages are written out by hand:
Unit 1 holds K1.1, K1.2, K1.5 and K1.6 in rows 12-15; column D is Evidence refs, E Method,
G Decision, H Assessor, I Assessor date, M IQA decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fixtures import IQA, L3, complete_record, found, not_info, validate, write

from tracker.issues import Task
from tracker.rules.checks import iqa as I
from tracker.rules.checks import progress as P
from tracker.rules.checks import signoff as S
from tracker.workbook import layout as L

# K1.2 of the complete record: evidence 03/02/2024, signed off 04/02/2024, not sampled.
IQA_DATE = dt.date(2024, 2, 10)
RESIGNED = dt.date(2024, 2, 20)
AGREED = dt.date(2024, 2, 25)

UNIT1_TODO = "Unit 1: 3 of 4 required criteria achieved; still to do: K1.2"
NOT_ACHIEVED = ("13 of 14 units complete, 47 of 48 required criteria achieved: the qualification is "
                "not yet achieved")


def _with_k12(tmp_path: Path, **changes: Any) -> Task:
    rec = complete_record(L3, None)
    entries = dict(rec.entries)
    entries["K1.2"] = dataclasses.replace(entries["K1.2"], **changes)
    return validate(write(tmp_path, L3, dataclasses.replace(rec, entries=entries)))


def _progress(task: Task) -> list[tuple[str, str | None, str | None]]:
    return found(task, S.signoff, P.progress, I.iqa)


def _message(task: Task, code: str) -> str:
    return next(i.message for i in task.issues if i.code == code)


def test_the_unchanged_workbook_is_achieved(tmp_path: Path) -> None:
    task = _with_k12(tmp_path)
    assert _progress(task) == [("completion-qualification-complete", None, None)]


def test_referred_back_is_not_achieved(tmp_path: Path) -> None:
    task = _with_k12(tmp_path, iqa_sampled=L.YES, iqa=IQA, iqa_date=IQA_DATE, iqa_decision=L.REFERRED_BACK)
    assert _progress(task) == [
        ("completion-qualification-incomplete", None, None),
        ("completion-unit-incomplete", "Unit 1", None),
        ("iqa-referred-back-open", "Unit 1", "M13"),
    ]
    assert _message(task, "completion-unit-incomplete") == UNIT1_TODO
    assert _message(task, "completion-qualification-incomplete") == NOT_ACHIEVED
    assert _message(task, "iqa-referred-back-open") == (
        "K1.2 was referred back by the IQA on 10/02/2024 and the assessor has not signed it again since")


def test_referred_back_and_re_signed_awaits_the_iqa_and_is_not_achieved(tmp_path: Path) -> None:
    task = _with_k12(tmp_path, assessor_date=RESIGNED, iqa_sampled=L.YES, iqa=IQA, iqa_date=IQA_DATE,
                     iqa_decision=L.REFERRED_BACK)
    assert _progress(task) == [
        ("completion-qualification-incomplete", None, None),
        ("completion-unit-incomplete", "Unit 1", None),
        ("iqa-awaiting-recheck", "Unit 1", "M13"),
    ]
    assert _message(task, "iqa-awaiting-recheck") == (
        "K1.2 was referred back by the IQA on 10/02/2024 and signed again by the assessor on 20/02/2024; "
        "it counts as achieved once the IQA records Agreed")
    assert _message(task, "completion-unit-incomplete") == UNIT1_TODO
    assert _message(task, "completion-qualification-incomplete") == NOT_ACHIEVED
    # An assessor date after the IQA's is how a referral is answered: no date-order error, no error at all.
    assert not_info(task) == []


def test_referred_back_then_agreed_is_achieved(tmp_path: Path) -> None:
    # The IQA's Agreed replaces Referred back in the same cell, with the re-check's date.
    task = _with_k12(tmp_path, assessor_date=RESIGNED, iqa_sampled=L.YES, iqa=IQA, iqa_date=AGREED,
                     iqa_decision=L.AGREED)
    assert _progress(task) == [("completion-qualification-complete", None, None)]
    assert not_info(task) == []


def test_referred_back_then_not_yet_met_is_progress_not_an_open_referral(tmp_path: Path) -> None:
    # The assessor answered the referral by re-assessing as Not yet met (dated after the IQA).
    task = _with_k12(tmp_path, decision=L.NOT_YET_MET, assessor_date=RESIGNED, iqa_sampled=L.YES, iqa=IQA,
                     iqa_date=IQA_DATE, iqa_decision=L.REFERRED_BACK)
    assert _progress(task) == [
        ("completion-not-met", "Unit 1", "G13"),
        ("completion-qualification-incomplete", None, None),
        ("completion-unit-incomplete", "Unit 1", None),
    ]
    assert _message(task, "completion-not-met") == "K1.2 is required but not yet Met (Decision: Not yet met)"


@pytest.mark.parametrize("blank, code, cell", [
    ({"evidence_refs": ()}, "completion-met-no-evidence", "D13"),
    ({"method": None}, "completion-met-no-method", "E13"),
    ({"assessor": None}, "completion-met-no-assessor", "H13"),
    ({"assessor_date": None}, "completion-met-no-date", "I13"),
])
def test_met_without_its_sign_off_is_not_achieved(tmp_path: Path, blank: dict[str, Any], code: str,
                                                  cell: str) -> None:
    task = _with_k12(tmp_path, **blank)
    assert _progress(task) == [
        (code, "Unit 1", cell),
        ("completion-qualification-incomplete", None, None),
        ("completion-unit-incomplete", "Unit 1", None),
    ]
    assert _message(task, "completion-unit-incomplete") == UNIT1_TODO
    assert _message(task, "completion-qualification-incomplete") == NOT_ACHIEVED


def test_met_without_an_evidence_date_is_still_achieved(tmp_path: Path) -> None:
    # The evidence date is recommended, not part of the sign-off: a warning, and the criterion counts.
    task = _with_k12(tmp_path, evidence_date=None)
    assert _progress(task) == [
        ("completion-met-no-evidence-date", "Unit 1", "F13"),
        ("completion-qualification-complete", None, None),
    ]
