"""--mark: the plan is pure data; applying it keeps everything the workbook had, and applying it
again (or a newer plan) replaces the old marks instead of stacking them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fixtures import L2, at, complete_record, record, signed, validate, write

from tracker.issues import Severity
from tracker.workbook import layout as L
from tracker.workbook.marks import (
    FILLS,
    HEADER_ROW,
    HEADERS,
    MARK_AUTHOR,
    RULE_MARK,
    TITLE,
    MarkError,
    inherited_style,
    apply_marks_to_file,
    plan_marks,
)
from tracker.workbook.reader import read_workbook


def _messy(tmp_path: Path, name: str = "w.xlsx") -> Path:
    rec = complete_record(L2, "face-to-face")
    e = dict(rec.entries)
    e["K1.1"] = dataclasses.replace(e["K1.1"], evidence_refs=())                 # error
    e["K1.2"] = dataclasses.replace(e["K1.2"], method="Observation")             # warning
    e["K1.3"] = dataclasses.replace(e["K1.3"], evidence_refs=(), method="Observation")  # both, one cell each
    e["S9.4"] = signed(L2, "S9.4", 99, assessor="=1+1")                          # formula-looking text
    rec = dataclasses.replace(rec, entries=e, learner=dataclasses.replace(rec.learner, employer="=cmd|' /C calc'!A0"))
    return write(tmp_path, L2, rec, name=name, workbook_id="wb-1", created=dt.datetime(2024, 1, 8, 9, 0))


def _is_ours_rule(r: Any) -> bool:
    return any(str(f).startswith(RULE_MARK) for f in r.formula or ())


def snapshot(path: Path, *, ours: bool = True) -> dict[str, Any]:
    """Everything openpyxl sees in a workbook; with ours=False, tracker's marks are left out."""
    wb = openpyxl.load_workbook(path, rich_text=True)
    snap: dict[str, Any] = {
        "sheets": [(ws.title, ws.sheet_state) for ws in wb.worksheets if ours or ws.title != L.VALIDATION],
        "names": sorted((n, str(d.value)) for n, d in wb.defined_names.items()),
        "calc": wb.calculation.fullCalcOnLoad,
    }
    if ours:
        snap["active"] = wb.active.title
    for ws in wb.worksheets:
        if not ours and ws.title == L.VALIDATION:
            continue
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                comment = None if c.comment is None else (c.comment.text, c.comment.author)
                if not ours and c.comment is not None and c.comment.author == MARK_AUTHOR:
                    comment = None
                # A blank cell styled as its row or column shows is the same as no cell at all.
                if c.value is None and comment is None and c.hyperlink is None and (
                        not c.has_style or c._style == inherited_style(ws, c.row, c.column)):
                    continue
                cells[c.coordinate] = (c.value, c.data_type, repr(c.font), repr(c.fill), repr(c.border),
                                       c.number_format, repr(c.protection), repr(c.alignment), comment,
                                       c.hyperlink.location if c.hyperlink else None)
        rules = sorted(((r.priority or 0), str(cf.sqref), r.type, tuple(map(str, r.formula or ())), repr(r.dxf))
                       for cf in ws.conditional_formatting for r in cf.rules if ours or not _is_ours_rule(r))
        snap[ws.title] = {
            "cells": cells,
            # Our rules go first, so the workbook's own rules keep their order but not their numbers.
            "cf": rules if ours else [r[1:] for r in rules],
            "dv": sorted((str(dv.sqref), dv.type, dv.formula1, dv.formula2, dv.errorStyle, dv.showErrorMessage,
                          dv.prompt, dv.error) for dv in ws.data_validations.dataValidation),
            "protection": repr(ws.protection),
            "merged": sorted(str(m) for m in ws.merged_cells.ranges),
            "freeze": ws.freeze_panes,
            "filter": ws.auto_filter.ref,
            "print": (ws.print_area, ws.print_title_rows, repr(ws.page_setup), repr(ws.print_options)),
            "widths": sorted((k, d.width, d.hidden) for k, d in ws.column_dimensions.items()),
            "heights": sorted((k, d.height) for k, d in ws.row_dimensions.items()),
            "state": ws.sheet_state,
        }
        if ours:
            snap[ws.title]["selected"] = ws.sheet_view.tabSelected
    return snap


def test_plan_is_pure_data(tmp_path: Path) -> None:
    task = validate(_messy(tmp_path))
    plan = plan_marks(task)
    assert len(plan.rows) == len(task.issues)
    assert [r.code for r in plan.rows] == [i.code for i in task.sorted_issues()]
    k11 = next(r for r in plan.rows if r.code == "completion-met-no-evidence" and r.criterion == "K1.1")
    assert k11.link == f"#'Unit 1'!{at(L2, 'K1.1', 'evidence_refs')[1]}"
    summary = next(r for r in plan.rows if r.sheet is None)
    assert summary.link is None
    cells = {(h.sheet, h.cell): h for h in plan.highlights}
    # K1.3's evidence refs cell: error (no evidence); its method cell: warning (atypical).
    assert cells[at(L2, "K1.3", "evidence_refs")].severity == "error"
    assert cells[at(L2, "K1.3", "method")].fill == FILLS[Severity.WARNING]
    assert "[evidence-method-atypical]" in cells[at(L2, "K1.3", "method")].note


def test_marks_keep_everything_the_workbook_had(tmp_path: Path) -> None:
    p = _messy(tmp_path)
    # Compare with the same workbook as openpyxl saves it (what openpyxl itself changes is not ours).
    baseline = tmp_path / "baseline.xlsx"
    shutil.copy(p, baseline)
    openpyxl.load_workbook(baseline, rich_text=True).save(baseline)
    before_record = read_workbook(p).to_record()
    task = validate(p)
    apply_marks_to_file(p, plan_marks(task))
    assert snapshot(p, ours=False) == snapshot(baseline, ours=False)
    # What the reader sees is unchanged, and validating again finds the same.
    assert read_workbook(p).to_record() == before_record
    again = validate(p)
    assert [(i.code, i.sheet, i.cell) for i in again.sorted_issues()] == [
        (i.code, i.sheet, i.cell) for i in task.sorted_issues()]
    wb = openpyxl.load_workbook(p)
    assert wb[L.META].sheet_state == "veryHidden"
    assert wb[L.META].protection.sheet
    unit1 = wb["Unit 1"]
    assert unit1.protection.sheet
    assert unit1.data_validations.dataValidation
    # Learner text starting with "=" is still text, never a formula.
    cell = wb["Unit 9"][at(L2, "S9.4", "assessor")[1]]
    assert (cell.value, cell.data_type) == ("=1+1", "s")


def test_validation_sheet_and_highlights(tmp_path: Path) -> None:
    p = _messy(tmp_path)
    task = validate(p)
    apply_marks_to_file(p, plan_marks(task))
    wb = openpyxl.load_workbook(p)
    assert wb.sheetnames[0] == L.VALIDATION and wb.active.title == L.VALIDATION
    assert [ws.title for ws in wb.worksheets if ws.sheet_view.tabSelected] == [L.VALIDATION]
    v = wb[L.VALIDATION]
    assert v["A1"].value == TITLE
    assert [c.value for c in v[HEADER_ROW]] == list(HEADERS)
    assert v.freeze_panes == f"A{HEADER_ROW + 1}"
    assert v.auto_filter.ref == f"A{HEADER_ROW}:G{HEADER_ROW + len(task.issues)}"
    rows = list(v.iter_rows(min_row=HEADER_ROW + 1, values_only=True))
    assert len(rows) == len(task.issues)
    first = next(r for r in v.iter_rows(min_row=HEADER_ROW + 1) if r[5].value == "K1.1")
    assert first[0].value == "ERROR"
    assert first[3].hyperlink.location == f"'Unit 1'!{at(L2, 'K1.1', 'evidence_refs')[1]}"
    # Messages quoting learner text that starts with "=" are text too.
    assert all(c.data_type == "s" for r in v.iter_rows(min_row=HEADER_ROW + 1) for c in r if c.value is not None)
    # Highlights: one rule per severity, first in priority, covering the cells; notes by tracker.
    unit1 = wb["Unit 1"]
    ours = sorted(((r.priority, str(cf.sqref), r.formula[0]) for cf in unit1.conditional_formatting
                   for r in cf.rules if _is_ours_rule(r)))
    assert [(p_, f) for p_, _, f in ours] == [(1, f'{RULE_MARK}error")'), (2, f'{RULE_MARK}warning")')]
    err_cells = set(ours[0][1].split())
    assert {at(L2, "K1.1", "evidence_refs")[1], at(L2, "K1.3", "evidence_refs")[1]} <= err_cells
    others = [r.priority for cf in unit1.conditional_formatting for r in cf.rules if not _is_ours_rule(r)]
    assert others and min(others) > 2
    noted = unit1[at(L2, "K1.1", "evidence_refs")[1]]
    assert noted.protection.locked is False  # still an input cell on the protected sheet
    note = noted.comment
    assert note is not None and note.author == MARK_AUTHOR and "[completion-met-no-evidence]" in note.text


def test_marking_twice_is_marking_once(tmp_path: Path) -> None:
    p = _messy(tmp_path)
    apply_marks_to_file(p, plan_marks(validate(p)))
    once = snapshot(p)
    apply_marks_to_file(p, plan_marks(validate(p)))
    assert snapshot(p) == once


def test_new_marks_replace_old_ones(tmp_path: Path) -> None:
    p = _messy(tmp_path, "a.xlsx")
    q = _messy(tmp_path, "b.xlsx")
    apply_marks_to_file(p, plan_marks(validate(p)))
    # The problems are fixed: a clean plan, applied over the old marks and to a never-marked copy.
    clean = plan_marks(validate(write(tmp_path, L2, complete_record(L2, "face-to-face"), name="c.xlsx")))
    apply_marks_to_file(p, clean)
    apply_marks_to_file(q, clean)
    assert snapshot(p) == snapshot(q)
    wb = openpyxl.load_workbook(p)
    assert not any(_is_ours_rule(r) for ws in wb.worksheets for cf in ws.conditional_formatting for r in cf.rules)
    assert not any(c.comment for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def test_someone_elses_comment_is_kept(tmp_path: Path) -> None:
    from openpyxl.comments import Comment

    p = _messy(tmp_path)
    wb = openpyxl.load_workbook(p)
    wb["Unit 1"][at(L2, "K1.1", "evidence_refs")[1]].comment = Comment("Evidence is in the blue folder", "Ann")
    wb.save(p)
    apply_marks_to_file(p, plan_marks(validate(p)))
    apply_marks_to_file(p, plan_marks(validate(p)))
    c = openpyxl.load_workbook(p)["Unit 1"][at(L2, "K1.1", "evidence_refs")[1]].comment
    assert (c.text, c.author) == ("Evidence is in the blue folder", "Ann")


def test_refuses_macro_files_and_foreign_validation_sheets(tmp_path: Path) -> None:
    p = write(tmp_path, L2, record({}))
    plan = plan_marks(validate(p))
    xlsm = tmp_path / "w.xlsm"
    shutil.copy(p, xlsm)
    with pytest.raises(MarkError, match="never re-saves a file with macros"):
        apply_marks_to_file(xlsm, plan)
    for suffix in (".ods", ".xls"):  # refused by name before anything opens them: save as .xlsx
        with pytest.raises(MarkError, match=r"marks only \.xlsx workbooks; save a copy as \.xlsx"):
            apply_marks_to_file(tmp_path / f"w{suffix}", plan)
    wb = openpyxl.load_workbook(p)
    wb.create_sheet(L.VALIDATION)["A1"] = "Our own validation notes"
    wb.save(p)
    before = p.read_bytes()
    with pytest.raises(MarkError, match="did not write"):
        apply_marks_to_file(p, plan)
    assert p.read_bytes() == before
    assert not list(tmp_path.glob(".~tracker-*"))


def test_mark_replaces_notes_the_addin_wrote_under_another_author(tmp_path: Path) -> None:
    # Excel records its own user as the author of notes the Validate button adds; a later
    # `--mark` must still know them as tracker's and replace them, not stack them.
    from openpyxl.comments import Comment

    from tracker.workbook.marks import is_mark_note

    p = _messy(tmp_path)
    ours = at(L2, "K1.2", "comments")[1]
    theirs = at(L2, "K1.3", "comments")[1]
    wb = openpyxl.load_workbook(p)
    wb["Unit 1"][ours].comment = Comment("ERROR: stale [completion-met-no-evidence]", "Jane in Excel")
    wb["Unit 1"][theirs].comment = Comment("Chase the assessor", "Jane in Excel")
    wb.save(p)
    assert is_mark_note("ERROR: stale [completion-met-no-evidence]") and not is_mark_note("Chase the assessor")
    apply_marks_to_file(p, plan_marks(validate(write(tmp_path, L2, complete_record(L2, "face-to-face"),
                                                        name="clean.xlsx"))))
    ws = openpyxl.load_workbook(p)["Unit 1"]
    assert ws[ours].comment is None
    assert ws[theirs].comment is not None and ws[theirs].comment.text == "Chase the assessor"


# -- --mark never harms a file (issue 12) ------------------------------------------------------------


def _strict(xlsx: bytes) -> bytes:
    """The same workbook in Strict Open XML (ISO/IEC 29500 strict namespaces), as Excel's "Strict
    Open XML Spreadsheet" saves it; openpyxl reads such a file as a workbook with no sheets."""
    import io
    import zipfile

    pairs = [("http://schemas.openxmlformats.org/spreadsheetml/2006/main", "http://purl.oclc.org/ooxml/spreadsheetml/main"),
             ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
              "http://purl.oclc.org/ooxml/officeDocument/relationships")]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith((".xml", ".rels")):
                text = data.decode()
                for a, b in pairs:
                    text = text.replace(a, b)
                data = text.encode()
            zout.writestr(info, data)
    return out.getvalue()


def test_strict_open_xml_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    p = _messy(tmp_path)
    p.write_bytes(_strict(p.read_bytes()))
    before = p.read_bytes()
    assert read_workbook(p).learner_name  # tracker itself reads it fine
    assert openpyxl.load_workbook(p).sheetnames == []  # what used to replace it
    with pytest.raises(MarkError, match="Strict Open XML"):
        apply_marks_to_file(p, plan_marks(validate(p)))
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == [p.name]  # no temporary file left behind


def test_a_change_the_reader_would_see_refuses_the_mark(tmp_path: Path) -> None:
    # Evidence date of K1.1 as Excel saves =TODAY(): a formula with its cached result. openpyxl
    # keeps the formula but not the result, so after marking the reader would find a blank.
    import re
    import zipfile

    from corpus import make_corpus as mc

    from tracker.workbook.safety import check_workbook_file

    p = write(tmp_path, L2, record({"K1.1": signed(L2, "K1.1", 1)}))
    sheet, cell = at(L2, "K1.1", "evidence_date")
    part = dict(check_workbook_file(p).sheets)[sheet]
    with zipfile.ZipFile(p) as z:
        xml = z.read(part).decode()
    m = re.search(rf'<c r="{cell}" s="(\d+)"', xml)
    assert m is not None
    xml = mc.set_cell(xml, cell, f'<c r="{cell}" s="{m.group(1)}"><f>TODAY()</f><v>45570</v></c>')
    members = mc._members(p.read_bytes())
    members[part] = xml.encode()
    p.write_bytes(mc._zip_of(members))
    before = p.read_bytes()
    with pytest.raises(MarkError) as caught:
        apply_marks_to_file(p, plan_marks(validate(p)))
    assert f"{sheet}!{cell}" in str(caught.value) and "would become blank" in str(caught.value)
    assert "the file was not changed" in str(caught.value)
    assert p.read_bytes() == before
    assert sorted(q.name for q in tmp_path.iterdir()) == [p.name]


def test_control_characters_in_cells_are_marked_without_a_traceback(tmp_path: Path) -> None:
    name = "Ann\x01\x07 Smith"
    rec = complete_record(L2, "face-to-face")
    rec = dataclasses.replace(rec, learner=dataclasses.replace(rec.learner, name=name),
                              entries={**rec.entries, "K1.1": dataclasses.replace(rec.entries["K1.1"], comments="x\x1by")})
    p = write(tmp_path, L2, rec)
    before = read_workbook(p)
    apply_marks_to_file(p, plan_marks(validate(p)))
    after = read_workbook(p)
    assert after.learner_name == before.learner_name
    summary = openpyxl.load_workbook(p)[L.VALIDATION].cell(row=2, column=1).value
    assert summary.startswith("Ann\\x01\\x07 Smith (ULN ")  # shown, not stored raw


def test_mark_cli_reports_each_refusal_and_marks_the_rest(tmp_path: Path) -> None:
    import subprocess
    import sys

    good = _messy(tmp_path, "good.xlsx")
    strict = _messy(tmp_path, "strict.xlsx")
    strict.write_bytes(_strict(strict.read_bytes()))
    strict_before = strict.read_bytes()
    r = subprocess.run([sys.executable, "-m", "tracker", "validate", "--mark", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert "Traceback" not in r.stdout + r.stderr
    assert r.returncode == 1
    assert f"not marked  {strict}: it is saved as Strict Open XML" in r.stderr
    assert f"marked      {good}: " in r.stderr
    assert strict.read_bytes() == strict_before
    assert openpyxl.load_workbook(good).sheetnames[0] == L.VALIDATION
