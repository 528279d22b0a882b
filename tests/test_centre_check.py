"""tracker.centre.check: the one place where "check it as the centre does" is decided, shared by
the roll-up and the add-in's Validate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_centre_sample import L2, make_centre

from tracker.centre.check import check_in_centre, find_centre, identify_in_centre, preview_inbox
from tracker.errors import CentreError
from tracker.workbook.model import CriterionEntry, Learner, LearnerRecord
from tracker.workbook.reader import read_workbook
from tracker.workbook.writer import new_workbook


def _learner_file(folder: Path, name: str = "jo.xlsx", reading: str | None = None) -> Path:
    rec = LearnerRecord(Learner("Jo Bloggs", "1000000043", "non-facing"),
                        {"B17.1": CriterionEntry(decision="Met")})
    return new_workbook(L2, rec, folder / name, reading=reading)


def test_find_centre_walks_up_and_stops_outside(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c")
    deep = c.inbox / "2025" / "march"
    deep.mkdir(parents=True)
    found = find_centre(_learner_file(deep))
    assert found is not None and found.root == c.root
    assert find_centre(_learner_file(tmp_path)) is None


def test_find_centre_with_a_broken_config_says_so(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c")
    c.config_path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(CentreError):
        find_centre(c.inbox / "x.xlsx")


def test_pick_reading_prefers_the_centre_then_the_workbook_then_the_default() -> None:
    assert L2.pick_reading("unit-guidance", "criteria-table") == "unit-guidance"
    assert L2.pick_reading(None, "unit-guidance") == "unit-guidance"
    assert L2.pick_reading("nonsense", "also-nonsense") == L2.default_reading


def test_check_in_centre_applies_the_centres_reading(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c")
    book = read_workbook(_learner_file(tmp_path, reading="criteria-table"))
    assert identify_in_centre(book, [], {}).qualification is not None
    plain = {i.code for i in check_in_centre(book, None).issues}
    text = c.config_path.read_text(encoding="utf-8").replace('"criteria-table"', '"unit-guidance"')
    c.config_path.write_text(text, encoding="utf-8")
    centre = find_centre(c.inbox / "x.xlsx")
    assert centre is not None and centre.reading_for(L2.id) == "unit-guidance"
    in_centre = {i.code for i in check_in_centre(book, centre).issues}
    # Under the unit-guidance reading a non-facing learner takes B17.2, not B17.1: Met on B17.1
    # is now work on the other option; under the workbook's own reading it was not.
    assert plain != in_centre


def test_preview_inbox_checks_without_merging(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c")
    good = _learner_file(c.inbox)
    bad = c.inbox / "broken.xlsx"
    bad.write_bytes(b"not a workbook")
    before = sorted(p.name for p in c.inbox.iterdir())
    report = preview_inbox(c)
    assert {Path(t.file).name for t in report.tasks} == {good.name, bad.name}
    broken = next(t for t in report.tasks if Path(t.file).name == bad.name)
    assert [i.code for i in broken.issues] == ["file-unreadable"]
    assert sorted(p.name for p in c.inbox.iterdir()) == before  # nothing moved, nothing merged
    shutil.rmtree(c.inbox)
    c.inbox.mkdir()
    assert preview_inbox(c).tasks == []
