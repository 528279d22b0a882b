"""The writer's cheap cells (tracker/workbook/xlsx_cells.py) leave the file XlsxWriter's public API
writes: every part of the zip, byte for byte -- so every cell value, formula and cached result,
style (locked/unlocked, number format), validation, conditional format, merged range, protection
and print setting is the same.

The oracle is XlsxWriter itself: the same workbook written with the fast path switched off
(``Sheet.fast_ok = False``: every cell, merge, validation, rule and column through the public
``write_*`` / ``merge_range`` / ``data_validation`` / ``conditional_format`` calls).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tracker.sample import progress_record, sample_learners
from tracker.spec.catalogue import load_qualification
from tracker.workbook import layout as L
from tracker.workbook import xlsx_cells
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord, OtjEntry
from tracker.workbook.writer import new_workbook

L2 = load_qualification("603/4687/5")
L3 = load_qualification("603/4688/7")
CREATED = dt.datetime(2025, 3, 4, 5, 6, 7)

# Text that needs escaping or special handling everywhere it can go: XML specials, quotes, a
# leading "=", control characters and XlsxWriter's own _xHHHH_ escape, spaces at the ends.
AWKWARD = ' Tom & "Jerry" <b> =1+1 \x07 _x0041_ '


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(q: object, record: LearnerRecord | None, path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(xlsx_cells.Sheet, "fast_ok", fast)
    return new_workbook(q, record, path, workbook_id="wb-1", spec_hash="h", created=CREATED)  # type: ignore[arg-type]


def _assert_same(record: LearnerRecord | None, q: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for cache in (xlsx_cells._VALIDATIONS, xlsx_cells._CONDITIONALS, xlsx_cells._COLUMNS, xlsx_cells._DATES):
        cache.clear()
    cold = _parts(_write(q, record, tmp_path / "cold.xlsx", True, monkeypatch))  # caches filled
    warm = _parts(_write(q, record, tmp_path / "warm.xlsx", True, monkeypatch))  # caches used
    slow = _parts(_write(q, record, tmp_path / "slow.xlsx", False, monkeypatch))
    assert list(cold) == list(slow) and list(warm) == list(slow)
    for name, data in slow.items():
        assert cold[name] == data, f"{name} differs (fast path, empty caches)"
        assert warm[name] == data, f"{name} differs (fast path, caches in use)"


@pytest.mark.parametrize("n", range(6))
def test_sample_learners_written_alike(n: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both qualifications and pathways, realistic partial progress (the benchmark's learners)."""
    s = sample_learners(6, seed=11)[n]
    q = L2 if s.qualification_number == L2.number else L3
    _assert_same(progress_record(q, s), q, tmp_path, monkeypatch)


@pytest.mark.parametrize("q", [L2, L3], ids=["L2", "L3"])
def test_blank_templates_written_alike(q: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(None, q, tmp_path, monkeypatch)


def test_awkward_apprentice_written_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An apprentice (cover fields, OTJ log, Summary OTJ formulas) with awkward text in every kind
    of cell, added columns, a text longer than Excel keeps and dates at the edges."""
    unit = L3.units[0]
    refs = [c.ref for c in unit.criteria]
    long_text = "x" * 40_000  # over Excel's 32,767: the public API truncates it, the fast path defers
    entries = {
        refs[0]: CriterionEntry(evidence_refs=("E1", AWKWARD), method=AWKWARD, evidence_date=dt.date(1900, 1, 1),
                                decision=L.MET, assessor=AWKWARD, assessor_date=dt.date(2099, 12, 31),
                                comments=long_text, extra=(("Notes & more", AWKWARD),)),
        refs[1]: CriterionEntry(decision=L.NOT_YET_MET, comments="", iqa_sampled=L.YES,
                                iqa_date=dt.date(2024, 2, 29)),
    }
    learner = Learner(name=AWKWARD, uln="0012345678", pathway=None, registration_date=dt.date(2024, 1, 8),
                      assessor=AWKWARD, standard="ST0072", start_date=dt.date(2024, 1, 8), weekly_hours=37.5,
                      planned_otj_hours=278.4, english_maths=L.ENGLISH_MATHS[0])
    record = LearnerRecord(
        learner, entries,
        evidence=(EvidenceEntry("E1", AWKWARD, "Observation", dt.date(2024, 3, 1), AWKWARD,
                                extra=(("Where <kept>", "shelf"),)),),
        otj=(OtjEntry(dt.date(2024, 3, 2), AWKWARD, None, 2.5, ("E1",)), OtjEntry(hours=1e-7),
             OtjEntry(dt.date(2024, 3, 3), "text hours", None, None)),
        unit_extra_columns={unit.number: ("Notes & more", "Empty added")},
        evidence_extra_columns=("Where <kept>",),
    )
    _assert_same(record, L3, tmp_path, monkeypatch)
    # And the file holds what was written (read back independently of XlsxWriter).
    book = openpyxl.load_workbook(tmp_path / "cold.xlsx")
    cover = book[L.COVER]
    assert 'Tom & "Jerry" <b> =1+1' in cover.cell(L.cover_row("name") + 1, L.COVER_VALUE_COL + 1).value
    sheet = book[L.unit_sheet_name(unit.number)]
    comments = L.UNIT_TABLE_COLUMNS.index(L.column_by_key(L.UNIT_TABLE_COLUMNS, "comments")) + 1
    assert sheet.cell(L.UNIT_FIRST_DATA_ROW + 1, comments).value == "x" * 32_767


def test_switched_off_without_the_internals(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A worksheet missing an internal the fast path relies on (another XlsxWriter) takes the
    public API for everything."""
    monkeypatch.setattr(xlsx_cells, "_INTERNALS", (*xlsx_cells._INTERNALS, "no_such_internal"))
    seen: list[bool] = []
    original = xlsx_cells.Sheet._initialize

    def spy(self: xlsx_cells.Sheet, init_data: dict[str, object]) -> None:
        original(self, init_data)
        seen.append(self.fast)

    monkeypatch.setattr(xlsx_cells.Sheet, "_initialize", spy)
    new_workbook(L2, None, tmp_path / "t.xlsx", created=CREATED)
    assert seen and not any(seen)
    assert openpyxl.load_workbook(tmp_path / "t.xlsx")[L.COVER]["A1"].value == "Learner tracking workbook"


def test_cells_replace_earlier_ones_like_the_api(tmp_path: Path) -> None:
    """A cell written twice keeps the second value, whichever path wrote each (as in XlsxWriter)."""
    import xlsxwriter

    path = tmp_path / "t.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True})
    ws = wb.add_worksheet("S", xlsx_cells.Sheet)
    ws.write_string(0, 0, "api")
    ws.put_string(0, 0, "fast")
    ws.put_number(0, 1, 1)
    ws.write_number(0, 1, 2)
    ws.put_formula(0, 2, '=IF(A1="fast","yes","no")', None, "yes")
    wb.close()
    got = openpyxl.load_workbook(path)["S"]
    assert [got["A1"].value, got["B1"].value, got["C1"].value] == ["fast", 2, '=IF(A1="fast","yes","no")']

