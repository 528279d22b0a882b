"""IQA rows: a complete IQA sign-off, only on assessed criteria, referrals open until the IQA agrees."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fixtures import IQA, L3, at, found, norm, record, signed, validate, write

from tracker.rules.checks import iqa as I
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry

DAY = dt.timedelta(days=1)


def test_iqa_rows(tmp_path: Path) -> None:
    d = dt.date(2024, 6, 3)
    e = {
        "K1.1": signed(L3, "K1.1", 1, sampled=True, iqa=None),                       # no IQA name
        "K1.2": signed(L3, "K1.2", 2, sampled=True, iqa_date=None),                  # no IQA date
        "K1.5": signed(L3, "K1.5", 3, sampled=True, iqa_sampled=L.NO),               # said not sampled
        "K1.6": signed(L3, "K1.6", 4, iqa_sampled=L.YES),                        # sampled Yes, no decision
        "K2.1": signed(L3, "K2.1", 5, sampled=True),                                 # fine
        # IQA signed a criterion the assessor has not signed.
        "K2.2": CriterionEntry(evidence_refs=("E6",), iqa_sampled=L.YES, iqa=IQA, iqa_date=d,
                               iqa_decision=L.AGREED),
        # Referred back, not re-signed since.
        "K2.3": signed(L3, "K2.3", 7, sampled=True, iqa_decision=L.REFERRED_BACK),
        # Referred back and re-signed after the IQA's date: awaiting the IQA's re-check.
        "K2.4": signed(L3, "K2.4", 8, sampled=True, evidence_date=d, assessor_date=d + 9 * DAY, iqa_date=d + DAY,
                       iqa_decision=L.REFERRED_BACK),
    }
    task = validate(write(tmp_path, L3, record(e, pathway=None)))
    assert found(task, I.iqa) == norm([
        ("iqa-no-name", *at(L3, "K1.1", "iqa")),
        ("iqa-no-date", *at(L3, "K1.2", "iqa_date")),
        ("iqa-not-sampled", *at(L3, "K1.5", "iqa_sampled")),
        ("iqa-sampled-no-decision", *at(L3, "K1.6", "iqa_decision")),
        ("iqa-before-assessment", *at(L3, "K2.2", "iqa_decision")),
        ("iqa-referred-back-open", *at(L3, "K2.3", "iqa_decision")),
        ("iqa-awaiting-recheck", *at(L3, "K2.4", "iqa_decision")),
    ])
    msg = next(i.message for i in task.issues if i.code == "iqa-awaiting-recheck")
    assert msg == ("K2.4 was referred back by the IQA on 04/06/2024 and signed again by the assessor on "
                   "12/06/2024; it counts as achieved once the IQA records Agreed")
    msg = next(i.message for i in task.issues if i.code == "iqa-before-assessment")
    assert msg == "K2.2 has an IQA sign-off but the assessor has not signed it (no Decision, no Assessor, no Assessor date)"


def test_iqa_name_without_assessment_points_at_the_iqa_cell(tmp_path: Path) -> None:
    e = {"K1.1": CriterionEntry(iqa=IQA)}
    task = validate(write(tmp_path, L3, record(e, pathway=None)))
    assert found(task, I.iqa) == norm([
        ("iqa-no-decision", *at(L3, "K1.1", "iqa_decision")),
        ("iqa-before-assessment", *at(L3, "K1.1", "iqa")),
    ])
