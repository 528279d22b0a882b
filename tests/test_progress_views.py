"""One definition of progress, three views that must agree (issue 10).

Each case below is one criterion of one learner, put on a unit of its own so that the unit's
figures in every view are the criterion's answer. The expected values are written out by hand
from the rule in ``tracker/workbook/progress.py`` (a required criterion is achieved when it is
Met with evidence ref, method, assessor and assessor date, and its IQA decision is not Referred
back; a referral counts again only once the IQA records Agreed), never computed by that module.

The three views:

* the validator (``tracker validate``): the per-unit progress issues and the qualification line;
* the master/export (``tracker rollup`` then ``tracker export``): the Criteria table's Achieved
  column and the Learners table's figures;
* the workbook's own Summary sheet, recalculated by LibreOffice from a file that holds no cached
  formula results (openpyxl saved it), so every figure read back was computed by LibreOffice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from fixtures import IQA, ULN, complete_record, record, signed, validate, write
from libreoffice import convert
from tracker import rollup
from tracker.centre.create import init_centre
from tracker.centre.export_tables import export
from tracker.spec.catalogue import load_qualification
from tracker.workbook import layout as L

L2 = load_qualification("603/4687/5")
D = dt.date(2024, 3, 1)
LATER = dt.date(2024, 3, 20)

# case -> (criterion, its entry, achieved?). A face-to-face learner on the default reading.
CASES = {
    "met": ("K1.1", signed(L2, "K1.1", 1), True),
    "met without sign-off": ("K2.1", signed(L2, "K2.1", 2, evidence_refs=(), assessor=None), False),
    "not yet met": ("K6.1", signed(L2, "K6.1", 6, decision=L.NOT_YET_MET), False),
    "referred back": ("K3.1", signed(L2, "K3.1", 3, assessor_date=D, iqa_sampled=L.YES, iqa=IQA,
                                     iqa_date=D + dt.timedelta(days=2), iqa_decision=L.REFERRED_BACK), False),
    # The assessor re-signed after the referral (assessor date after the IQA date): awaiting the
    # IQA's re-check, still not achieved.
    "referred back and re-signed": ("K4.1", signed(L2, "K4.1", 4, assessor_date=LATER, iqa_sampled=L.YES,
                                                   iqa=IQA, iqa_date=D, iqa_decision=L.REFERRED_BACK), False),
    # ... and then the IQA agreed: Agreed replaces Referred back in the same cell.
    "referred back then agreed": ("K5.1", signed(L2, "K5.1", 5, assessor_date=LATER, iqa_sampled=L.YES,
                                                 iqa=IQA, iqa_date=LATER + dt.timedelta(days=1),
                                                 iqa_decision=L.AGREED), True),
    # S9.4 is on the non-facing option: Met and signed, but not required of this learner.
    "not required": ("S9.4", signed(L2, "S9.4", 9), False),
}
# unit -> (criteria required, achieved, status), by hand: the unit sizes are the specification's.
UNITS = {
    1: (3, 1, L.STATUS_IN_PROGRESS),
    2: (5, 0, L.STATUS_NOT_STARTED),
    3: (3, 0, L.STATUS_NOT_STARTED),
    4: (2, 0, L.STATUS_NOT_STARTED),
    5: (2, 1, L.STATUS_IN_PROGRESS),
    6: (2, 0, L.STATUS_NOT_STARTED),
    9: (3, 0, L.STATUS_NOT_STARTED),
}
ACHIEVED = {"K1.1", "K5.1"}
REQUIRED_TOTAL = 3 + 5 + 3 + 2 + 2 + 2 + 2 + 3 + 3 + 3 + 2 + 6 + 2 + 2 + 3 + 2 + 2 + 6  # 53, face-to-face


def _cases_record() -> object:
    return record({ref: entry for ref, entry, _ in CASES.values()})


def _strip_cached(path: Path) -> Path:
    """Re-save with openpyxl, which writes formulas without cached results."""
    wb = openpyxl.load_workbook(path)
    wb.save(path)
    return path


def _summary(path: Path) -> tuple[dict[int, list[object]], object]:
    """unit -> [required, achieved, fraction, status] and the qualification line's value."""
    grid = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(L.SUMMARY).to_python(
        skip_empty_area=False)
    units: dict[int, list[object]] = {}
    qualification: object = None
    for row in grid[L.SUMMARY_HEADER_ROW + 1:]:
        if isinstance(row[0], (int, float)) and row[0]:
            units[int(row[0])] = list(row[4:8])
        if len(row) > 3 and row[2] == "Qualification":
            qualification = row[3]
    return units, qualification


def _export(tmp: Path, *paths: Path) -> tuple[dict[tuple[str, str], str], dict[str, dict[str, object]]]:
    centre, _ = init_centre(tmp / "centre", name="Progress Centre", number="12345")
    for p in paths:
        (centre.inbox / p.name).write_bytes(p.read_bytes())
    rollup(centre, workers=1)
    out = tmp / "export"
    export(centre, "json", out)
    criteria = json.loads((out / "criteria.json").read_text(encoding="utf-8"))
    learners = json.loads((out / "learners.json").read_text(encoding="utf-8"))
    return ({(r["uln"], r["ref"]): r["achieved"] for r in criteria},
            {r["uln"]: r for r in learners})


def _unit_messages(task: object) -> dict[str, str]:
    return {i.unit: i.message for i in task.issues  # type: ignore[attr-defined]
            if i.code == "completion-unit-incomplete"}


def test_validator_counts_only_achieved_criteria(tmp_path: Path) -> None:
    task = validate(write(tmp_path, L2, _cases_record()))
    units = _unit_messages(task)
    # A unit is reported as incomplete once it is started (work recorded), with its figures.
    assert units["1"].startswith("Unit 1: 1 of 3 required criteria achieved")
    assert units["2"].startswith("Unit 2: 0 of 5 required criteria achieved")
    assert units["3"].startswith("Unit 3: 0 of 3 required criteria achieved")
    assert units["4"].startswith("Unit 4: 0 of 2 required criteria achieved")
    assert units["5"].startswith("Unit 5: 1 of 2 required criteria achieved")
    assert units["6"].startswith("Unit 6: 0 of 2 required criteria achieved")
    assert "9" not in units  # S9.4 is not required: Unit 9 is not started for this learner
    codes = {i.code for i in task.issues}
    assert "completion-qualification-complete" not in codes
    line = next(i.message for i in task.issues if i.code == "completion-qualification-incomplete")
    assert f"2 of {REQUIRED_TOTAL} required criteria achieved" in line


def test_master_and_export_count_only_achieved_criteria(tmp_path: Path) -> None:
    achieved, learners = _export(tmp_path, write(tmp_path, L2, _cases_record()))
    for case, (ref, _entry, expected) in CASES.items():
        assert achieved[(ULN, ref)] == (L.YES if expected else L.NO), case
    row = learners[ULN]
    assert (row["criteria_met"], row["criteria_required"]) == (2, REQUIRED_TOTAL)
    assert row["units_complete"] == 0
    assert row["status"] == L.STATUS_IN_PROGRESS


@pytest.mark.libreoffice
def test_workbook_summary_counts_only_achieved_criteria(tmp_path: Path) -> None:
    path = _strip_cached(write(tmp_path, L2, _cases_record()))
    assert _summary(path)[0][1][0] in ("", None)  # no cached figures: LibreOffice must compute them
    units, qualification = _summary(convert(path, tmp_path / "lo"))
    for number, (required, achieved, status) in UNITS.items():
        assert [int(v) for v in units[number][0:2]] == [required, achieved], number  # type: ignore[call-overload]
        assert units[number][3] == status, number
    assert qualification == L.STATUS_IN_PROGRESS


# -- the qualification as a whole: complete, and complete but with no pathway ---------------------

COMPLETE = complete_record(L2, "face-to-face")
# Every criterion outside the either/or groups signed, but no pathway on the cover: the either/or
# criteria cannot be counted, so the qualification is not achieved in any view.
NO_PATHWAY = dataclasses.replace(complete_record(L2, None), learner=dataclasses.replace(
    complete_record(L2, None).learner, uln="1234567899"))


def test_validator_qualification_status(tmp_path: Path) -> None:
    complete = validate(write(tmp_path, L2, COMPLETE, "complete.xlsx"))
    assert "completion-qualification-complete" in {i.code for i in complete.issues}
    unset = validate(write(tmp_path, L2, NO_PATHWAY, "unset.xlsx"))
    codes = {i.code for i in unset.issues}
    assert "completion-qualification-complete" not in codes
    assert "completion-qualification-incomplete" in codes


def test_master_qualification_status(tmp_path: Path) -> None:
    _achieved, learners = _export(tmp_path, write(tmp_path, L2, COMPLETE, "complete.xlsx"),
                                  write(tmp_path, L2, NO_PATHWAY, "unset.xlsx"))
    assert learners[ULN]["status"] == L.STATUS_COMPLETE
    assert learners[ULN]["criteria_met"] == REQUIRED_TOTAL
    assert learners["1234567899"]["status"] != L.STATUS_COMPLETE


@pytest.mark.libreoffice
def test_workbook_summary_qualification_status(tmp_path: Path) -> None:
    done = _strip_cached(write(tmp_path, L2, COMPLETE, "complete.xlsx"))
    unset = _strip_cached(write(tmp_path, L2, NO_PATHWAY, "unset.xlsx"))
    assert _summary(convert(done, tmp_path / "lo"))[1] == L.QUALIFICATION_ACHIEVED
    assert _summary(convert(unset, tmp_path / "lo"))[1] == L.STATUS_IN_PROGRESS

