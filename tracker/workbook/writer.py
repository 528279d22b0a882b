"""Write a learner workbook (or a blank template) for a qualification with XlsxWriter.

Why XlsxWriter and not openpyxl for writing: it is 2-3x faster, writes data validation,
protection, conditional formats and print setup directly, and -- unlike openpyxl -- stores a
cached result with each formula, so readers that do not recalculate (previewers, the reader
itself) still see figures. Excel recalculates on open anyway: XlsxWriter sets
``fullCalcOnLoad``, and LibreOffice recalculates files not written by itself.

Everything about positions, headers and lists comes from :mod:`tracker.workbook.layout`.
Values that came from people (names, comments, evidence refs) are always written with
``put_string`` (XlsxWriter's ``write_string``): a value starting with ``=`` stays text, never a
formula. Cells, merges, validations and conditional formats go through the ``put_*`` methods of
:class:`tracker.workbook.xlsx_cells.Sheet`: the same file as XlsxWriter's public calls, cheaper.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook

import tracker
from tracker.files import replaced_atomically
from tracker.spec.models import Qualification, Unit
from tracker.workbook import layout as L
from tracker.workbook import progress
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord, OtjEntry
from tracker.workbook.xlsx_cells import Sheet

_BLANK = CriterionEntry()
_LAST_COL = len(L.UNIT_TABLE_COLUMNS) - 1

# Excel's date validation takes serial numbers or dates; these bound plausible dates.
_DATE_MIN = dt.date(L.DATE_MIN_YEAR, 1, 1)
_DATE_MAX = dt.date(L.DATE_MAX_YEAR, 12, 31)


class _Formats:
    """Every cell format of one workbook, created once (formats belong to a workbook)."""

    def __init__(self, wb: Workbook) -> None:
        base = {"font_name": "Calibri", "font_size": 10, "valign": "top"}
        border = {"border": 1, "border_color": "#A6A6A6"}

        def fmt(**kw: Any) -> Format:
            return wb.add_format({**base, **kw})

        self.title = fmt(bold=True, font_size=14, font_color="#1F3864", valign="vcenter")
        self.subtitle = fmt(italic=True, font_color="#595959")
        self.label = fmt(bold=True, font_color="#1F3864", text_wrap=True)
        self.value = fmt(text_wrap=True, align="left")
        self.value_overflow = fmt(align="left")  # no wrap: runs on over the empty cells to its right
        self.value_input = fmt(text_wrap=True, align="left", locked=False, bg_color="#FFF9E5", **border)
        self.value_input_text = fmt(num_format="@", align="left", locked=False, bg_color="#FFF9E5", **border)
        self.date_input = fmt(num_format=L.DATE_FORMAT, align="left", locked=False, bg_color="#FFF9E5", **border)
        self.long_text = fmt(text_wrap=True)
        self.header = fmt(bold=True, text_wrap=True, bg_color="#1F3864", font_color="#FFFFFF",
                          valign="vcenter", **border)
        self.cell = fmt(text_wrap=True, **border)
        self.cell_bold = fmt(text_wrap=True, bold=True, **border)
        self.cell_center = fmt(align="center", **border)
        # Input columns carry their format as a *column* format (unlocked; dates as dates), so
        # blank input cells need not be written at all; borders come from one conditional
        # format over the table (see _table_borders), which keeps files small and fast.
        self.input = fmt(text_wrap=True, locked=False)
        self.input_date = fmt(num_format=L.DATE_FORMAT, locked=False, align="center")
        self.border = wb.add_format({"border": 1, "border_color": "#A6A6A6"})
        self.percent = fmt(num_format="0%", align="center", **border)
        self.number = fmt(align="center", **border)
        self.total = fmt(bold=True, top=2, align="center")
        self.total_label = fmt(bold=True, top=2)
        self.total_percent = fmt(bold=True, top=2, num_format="0%", align="center")
        self.note = fmt(italic=True, font_color="#595959")
        self.note_wrap = fmt(italic=True, font_color="#595959", text_wrap=True)
        # Conditional formats carry the table border too: LibreOffice shows only one conditional
        # format per cell where ranges overlap (Excel merges them), so each must be complete.
        self.green = wb.add_format({"bg_color": "#C6EFCE", "font_color": "#006100", **border})
        self.amber = wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700", **border})
        self.grey = wb.add_format({"bg_color": "#EDEDED", "font_color": "#808080", **border})


def new_workbook(
    qualification: Qualification,
    record: LearnerRecord | None,
    path: str | Path,
    *,
    reading: str | None = None,
    workbook_id: str | None = None,
    spec_hash: str = "",
    created: dt.datetime | None = None,
    base: str = "",
) -> Path:
    """Write a learner workbook for ``record`` (None: a blank template) to ``path``.

    The file is written to a temporary name in the same folder and renamed, so a crash never
    leaves a half-written workbook under the real name. Returns the path written. ``base``: the
    stamp of the ledger revision a re-issued workbook comes from (``tracker issue``).
    """
    out = Path(path)
    record = record or LearnerRecord(Learner(name="", uln=""))
    reading = qualification.default_reading if reading is None else reading
    created = created or dt.datetime.now().replace(microsecond=0)
    meta = {
        "workbook_id": workbook_id or str(uuid.uuid4()),
        "spec_id": qualification.id,
        "spec_number": qualification.number,
        "spec_version": qualification.version,
        "spec_hash": spec_hash,
        "template_version": L.TEMPLATE_VERSION,
        "pathway": record.learner.pathway or "",
        "reading": reading,
        "created": created.isoformat(),
        "generator": f"tracker {tracker.__version__}",
        "base": base,
    }
    with replaced_atomically(out, suffix=".xlsx") as tmp:
        _write(qualification, record, reading, meta, created, str(tmp))
    return out


def _write(q: Qualification, record: LearnerRecord, reading: str, meta: dict[str, str],
           created: dt.datetime, filename: str) -> None:
    wb = xlsxwriter.Workbook(filename, {
        # Never turn learner text into formulas, numbers or links.
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        # Assemble the zip in memory: no temporary file per part (half the time on small books).
        "in_memory": True,
    })
    wb.set_properties({
        "title": f"{record.learner.name or 'Blank'} - {q.title}",
        "subject": q.number,
        "author": "tracker",
        "company": q.awarding_body,
        "created": created,
    })
    f = _Formats(wb)
    cover = wb.add_worksheet(L.COVER, Sheet)
    summary = wb.add_worksheet(L.SUMMARY, Sheet)
    unit_sheets = [(u, wb.add_worksheet(L.unit_sheet_name(u.number), Sheet)) for u in q.units]
    evidence = wb.add_worksheet(L.EVIDENCE, Sheet)
    otj = wb.add_worksheet(L.OTJ, Sheet) if record.learner.apprentice else None
    meta_ws = wb.add_worksheet(L.META, Sheet)

    _write_cover(cover, f, q, record.learner, reading)
    rows_per_unit = {u.number: len(u.criteria) for u in q.units}
    for unit, ws in unit_sheets:
        _write_unit(ws, f, q, unit, record, reading)
    _write_summary(summary, f, q, record, reading, rows_per_unit)
    _write_evidence(evidence, f, record.evidence, page_header(record.learner), record.evidence_extra_columns)
    if otj is not None:
        _write_otj(otj, f, record.otj, page_header(record.learner))
    _write_meta(meta_ws, meta)
    cover.activate()
    wb.close()


# -- cover ---------------------------------------------------------------------------------------


def _pathway_cell() -> str:
    """Absolute reference of the cover's Pathway value (used by the Required formulas)."""
    return f"{L.quote_sheet(L.COVER)}!${L.col_letter(L.COVER_VALUE_COL)}${L.cover_row('pathway') + 1}"


def _write_cover(ws: Sheet, f: _Formats, q: Qualification, learner: Learner, reading: str) -> None:
    ws.set_column(L.COVER_LABEL_COL, L.COVER_LABEL_COL, 24)
    ws.set_column(L.COVER_VALUE_COL, L.COVER_VALUE_COL, 60)
    ws.set_row(L.COVER_TITLE_ROW, 24)
    ws.put_string(L.COVER_TITLE_ROW, 0, "Learner tracking workbook", f.title)
    ws.put_string(L.COVER_TITLE_ROW + 1, 0, f"{q.awarding_body} - {q.title}", f.subtitle)
    pathway_label = ""
    if learner.pathway:
        p = q.pathway_by_label(learner.pathway)
        pathway_label = p.label if p else learner.pathway
    values: dict[str, Any] = {
        "name": learner.name,
        "uln": learner.uln,
        "qualification": q.title,
        "qualification_number": q.number,
        "pathway": pathway_label if q.pathways else "Not applicable",
        "registration_date": learner.registration_date,
        "assessor": learner.assessor,
        "iqa": learner.iqa,
        "tutor": learner.tutor,
        "employer": learner.employer,
        "planned_end_date": learner.planned_end_date,
        "standard": learner.standard,
        "start_date": learner.start_date,
        "weekly_hours": learner.weekly_hours,
        "planned_otj_hours": learner.planned_otj_hours,
        "gateway_signoff_date": learner.gateway_signoff_date,
        "english_maths": learner.english_maths,
    }
    last_row = 0
    for key, label in L.COVER_FIELDS:
        if key in L.COVER_APPRENTICE and not learner.apprentice:
            continue  # a learner who is not an apprentice sees none of the apprenticeship fields
        r = last_row = L.cover_row(key)
        ws.put_string(r, L.COVER_LABEL_COL, label, f.label)
        v = values[key]
        locked = key in L.COVER_LOCKED or (key == "pathway" and not q.pathways)
        if key in L.COVER_DATE_KEYS:
            _write_date(ws, r, L.COVER_VALUE_COL, v, f.date_input)
            _date_validation(ws, r, L.COVER_VALUE_COL, r, L.COVER_VALUE_COL)
        elif key in L.COVER_NUMBER_KEYS:
            if isinstance(v, (int, float)):
                ws.put_number(r, L.COVER_VALUE_COL, v, f.value_input)
            else:
                ws.put_blank(r, L.COVER_VALUE_COL, f.value_input)
            ws.put_validation(r, L.COVER_VALUE_COL, r, L.COVER_VALUE_COL, {
                "validate": "decimal", "criteria": ">=", "value": 0,
                "error_title": label, "error_message": "Enter a number of hours, e.g. 30 or 37.5."})
        elif key == "uln":
            # Text format: a ULN is an identifier, not a number (no 1.00E+09, no lost digits).
            ws.put_string(r, L.COVER_VALUE_COL, v or "", f.value_input_text)
        else:
            ws.put_string(r, L.COVER_VALUE_COL, v or "", f.value if locked else f.value_input)
    if q.pathways:
        r = L.cover_row("pathway")
        ws.put_validation(r, L.COVER_VALUE_COL, r, L.COVER_VALUE_COL, {
            "validate": "list", "source": [p.label for p in q.pathways],
            "input_title": "Pathway", "input_message": "The learner's role decides the either/or criteria.",
        })
    if learner.apprentice:
        r = L.cover_row("english_maths")
        _list_validation(ws, r, L.COVER_VALUE_COL, r, L.COVER_VALUE_COL, L.ENGLISH_MATHS,
                         "English and maths", strict=True)
    notes = [
        "How to use this workbook",
        "Yellow cells and the white cells of each unit table are for you to fill in; the rest is locked.",
        "Record each criterion's evidence refs (as listed on the Evidence sheet), method, evidence date, "
        "decision, your name and the date you signed it off. The IQA records sampling on the same row.",
        "Dates as dd/mm/yyyy, day first. Criteria marked 'Not required' are not on this learner's pathway.",
        # A US locale silently stores 06/05/2025 as 5 June (LibreOffice's default on many installs).
        "If your spreadsheet shows a date you typed with day and month swapped, set it to UK dates. "
        "LibreOffice: Tools > Options > Language Settings > Languages > Locale setting: English (UK). "
        "Excel follows the computer: Windows Settings > Time & language > Language & region > Regional "
        "format: English (United Kingdom); on a Mac, System Settings > General > Language & Region > "
        "Region: United Kingdom.",
        "The Summary sheet shows progress; the centre's tracker validates the workbook when it is returned.",
    ]
    for rd in q.readings:
        if rd.id == reading:
            notes.append(f"Reading of the specification used: {rd.description}")
    if learner.apprentice:
        notes.append("Apprentice: log off-the-job training on the Off-the-job sheet (hours as a number, "
                     "e.g. 2.5); the Summary shows the total against the planned hours.")
    first = last_row + 2
    ws.put_string(first, 0, notes[0], f.label)
    for i, text in enumerate(notes[1:], start=1):
        ws.put_merge(first + i, 0, first + i, 1, text, f.note_wrap)
        ws.set_row(first + i, 13.5 * _lines(text, 90) + 2)
    ws.protect("", {"format_columns": True, "format_rows": True})
    _print_setup(ws, landscape=False, last_col=1, header=page_header(learner))


# -- unit sheets ---------------------------------------------------------------------------------


def _outcomes_text(unit: Unit) -> str:
    return "\n".join(f"{lo.ref} {lo.text}" for lo in unit.learning_outcomes)


def _bullets(text: str) -> str:
    # The specification's bullets come through as "• Term o explanation"; show one per line.
    return text.replace(" • ", "\n• ").replace(" o ", "\n    o ").strip()


def _guidance_text(q: Qualification, unit: Unit, reading: str) -> str:
    parts = []
    # A unit whose criteria depend on the reading (L2 Unit 17) states the reading applied.
    if len({tuple(g.id for g in q.active_groups(unit, rd.id)) for rd in q.readings}) > 1:
        rd = next((x for x in q.readings if x.id == reading), None)
        if rd is not None:
            parts.append(f"Reading applied ({rd.id}): {rd.description}")
    for g in q.active_groups(unit, reading):
        opts = "; ".join(
            f"{p.label.lower()} learners take {', '.join(g.options.get(p.id, []))}"
            for p in q.pathways if g.options.get(p.id)
        )
        parts.append(f"Either/or by pathway: {opts}.")
    if unit.amplification:
        parts.append("Amplification and guidance:\n" + _bullets(unit.amplification))
    if unit.guidance:
        parts.append("Unit guidance: " + _bullets(unit.guidance))
    return "\n".join(parts) or "-"


def _lines(text: str, chars_per_line: int) -> int:
    return max(1, sum(math.ceil(max(1, len(p)) / chars_per_line) for p in text.split("\n")))


def _required_formula(q: Qualification, unit: Unit, ref: str, reading: str) -> str | None:
    """A formula deciding 'Yes' / 'Not required' from the cover's pathway, or None if always Yes."""
    labels = []
    grouped = False
    for g in q.active_groups(unit, reading):
        if ref in g.criteria:
            grouped = True
            labels += [p.label for p in q.pathways if ref in g.options.get(p.id, [])]
    if not grouped:
        return None
    cell = _pathway_cell()
    # Excel's "=" on text ignores letter case, like the reader.
    match = "OR(" + ",".join(f'{cell}="{lab}"' for lab in labels) + ")" if labels else "FALSE"
    return (f'=IF({match},"{L.REQUIRED_YES}",IF({cell}="","{L.PATHWAY_UNSET}","{L.REQUIRED_NO}"))')


def _entry_getter(e: CriterionEntry) -> Callable[[str], Any]:
    """``key -> value`` over a record's entry, as :mod:`tracker.workbook.progress` reads rows."""
    return lambda key: getattr(e, key, None)


def required_refs(q: Qualification, unit: Unit, pathway: str | None, reading: str) -> set[str]:
    """Criterion refs of ``unit`` required on ``pathway`` (id) under ``reading``."""
    return set(q.required(unit, pathway, reading))


def _write_unit(ws: Sheet, f: _Formats, q: Qualification, unit: Unit, record: LearnerRecord,
                reading: str) -> None:
    cols = L.UNIT_TABLE_COLUMNS
    _set_columns(ws, f, cols)
    ws.set_row(L.UNIT_TITLE_ROW, 22)
    # Title and qualification lines are not merged: their text runs on over the empty cells to the
    # right, and a merge would make XlsxWriter write a formatted blank into every merged cell.
    ws.put_string(L.UNIT_TITLE_ROW, 0, f"Unit {unit.number}: {unit.title}", f.title)
    header_values: dict[str, Any] = {
        "qualification": f"{q.title} ({q.number})",
        "number": unit.number,
        "ref": unit.ref,
        "level": unit.level,
        "glh": unit.glh,
        "credit": unit.credit,
        "outcomes": _outcomes_text(unit),
        "guidance": _guidance_text(q, unit, reading),
    }
    long_last = _first_page_last_col(cols)
    merged_width = sum(c.width for c in cols[1:long_last + 1]) * 0.95
    for key, label in L.UNIT_HEADER_FIELDS:
        r = L.unit_header_row(key)
        ws.put_string(r, 0, label, f.label)
        v = header_values[key]
        if isinstance(v, int):
            ws.put_number(r, 1, v, f.value)
        elif key == "qualification":
            ws.put_string(r, 1, v, f.value_overflow)
        elif key in ("outcomes", "guidance"):
            # Merged over the columns of the first printed page only: wider, the wrapped lines
            # would run on to the page printed across, cut in the middle of their words.
            ws.put_merge(r, 1, r, long_last, v, f.long_text)
            # Neither Excel nor LibreOffice sizes a merged cell's row to its text: set it here.
            ws.set_row(r, 13.5 * _lines(v, int(merged_width)) + 2)
        else:
            ws.put_string(r, 1, v, f.value)
    hr = L.UNIT_TABLE_HEADER_ROW
    ws.set_row(hr, 28)
    for i, c in enumerate(cols):
        ws.put_string(hr, i, c.header, f.header)
    required = required_refs(q, unit, record.learner.pathway, reading)
    first = L.UNIT_FIRST_DATA_ROW
    last = first + len(unit.criteria) - 1
    text_width = L.column_by_key(cols, "text").width
    for n, crit in enumerate(unit.criteria):
        r = first + n
        entry = record.entries.get(crit.ref, _BLANK)
        shown = crit.variants.get(record.learner.pathway or "", crit.text)
        for i, c in enumerate(cols):
            if c.key == "ref":
                ws.put_string(r, i, crit.ref, f.cell_bold)
            elif c.key == "text":
                # A criterion worded per pathway shows only the learner's wording once the pathway
                # is known; both (the specification's text) while it is unset.
                ws.put_string(r, i, shown, f.cell)
            elif c.key == "kind":
                ws.put_string(r, i, crit.kind.label, f.cell)
            elif c.key == "required":
                formula = _required_formula(q, unit, crit.ref, reading)
                cached = L.REQUIRED_YES if crit.ref in required else (
                    L.PATHWAY_UNSET if record.learner.pathway is None else L.REQUIRED_NO)
                if formula is None:
                    ws.put_string(r, i, L.REQUIRED_YES, f.cell_center)
                else:
                    ws.put_formula(r, i, formula, f.cell_center, cached)
            else:
                _write_entry_value(ws, r, i, c, getattr(entry, c.key), f)
        # Rows are sized for the criterion text (Excel does not auto-size rows it did not lay out).
        ws.set_row(r, 13.5 * max(_lines(shown, int(text_width * 1.1)), 2) + 3)
    extra = _extra_headers(record.unit_extra_columns.get(unit.number, ()),
                           (record.entries.get(c.ref, _BLANK).extra for c in unit.criteria))
    _write_extra(ws, f, extra, hr, first, [record.entries.get(c.ref, _BLANK).extra for c in unit.criteria],
                 len(cols))
    table_last = _LAST_COL + len(extra)
    _table_validations(ws, cols, first, last)
    # All rules share one range, in priority order: LibreOffice applies only the first true
    # rule of a range and ignores other ranges over the same cell; Excel merges all true rules.
    req_col = L.col_letter(_LAST_COL)
    dec_i = cols.index(L.column_by_key(cols, "decision"))
    dec_col = L.col_letter(dec_i)
    row1 = first + 1
    on_decision = f"COLUMN()={dec_i + 1}"
    for criteria, fmt in (
        (f'=${req_col}{row1}="{L.REQUIRED_NO}"', f.grey),
        (f'=AND({on_decision},${dec_col}{row1}="{L.MET}")', f.green),
        (f'=AND({on_decision},${dec_col}{row1}="{L.NOT_YET_MET}")', f.amber),
    ):
        ws.put_conditional(first, 0, last, _LAST_COL, {"type": "formula", "criteria": criteria, "format": fmt})
    _table_borders(ws, f, first, last, table_last)
    ws.autofilter(hr, 0, last, table_last)
    ws.freeze_panes(first, 2)
    ws.repeat_rows(hr)
    ws.protect("", {"format_columns": True, "format_rows": True, "autofilter": True, "sort": False})
    _print_setup(ws, landscape=True, last_col=table_last, last_row=last, header=page_header(record.learner),
                 wide=True)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _extra_headers(listed: Iterable[str], extras: Iterable[tuple[tuple[str, str], ...]]) -> list[str]:
    """The added columns of a table, in order: the headers ``listed`` (as the latest return had
    them), then any header only a value names (a column since removed whose value the ledger kept)."""
    out: list[str] = []
    seen: set[str] = set()
    for h in (*listed, *(h for e in extras for h, _v in e)):
        if _fold(h) not in seen:
            seen.add(_fold(h))
            out.append(h)
    return out


def _write_extra(ws: Sheet, f: _Formats, headers: list[str], header_row: int, first: int,
                 rows: list[tuple[tuple[str, str], ...]], start_col: int) -> None:
    """Columns an assessor added, right of the table (``start_col`` on), in order: a header cell,
    then each row's value as text. Unlocked like every input column, so work can go on in them."""
    for j, h in enumerate(headers):
        c = start_col + j
        ws.set_column(c, c, 18, f.input)
        ws.put_string(header_row, c, h, f.header)
    if not headers:
        return
    at = {_fold(h): start_col + j for j, h in enumerate(headers)}
    for n, extra in enumerate(rows):
        for h, v in extra:
            ws.put_string(first + n, at[_fold(h)], v, f.input)


def _set_columns(ws: Sheet, f: _Formats, cols: tuple[L.Column, ...]) -> None:
    for i, c in enumerate(cols):
        fmt = (f.input_date if c.kind == "date" else f.input) if c.input else None
        ws.set_column(i, i, c.width, fmt)


def _table_borders(ws: Sheet, f: _Formats, first: int, last: int, last_col: int) -> None:
    # One always-true rule draws the grid, blank input cells included (Excel and LibreOffice
    # both allow borders in conditional formats and print them).
    ws.put_conditional(first, 0, last, last_col, {"type": "formula", "criteria": "=TRUE", "format": f.border})


def _write_entry_value(ws: Sheet, r: int, i: int, c: L.Column, v: Any, f: _Formats) -> None:
    # Blank input cells are not written: the column format (unlocked, date format) covers them.
    if v is None or v == () or v == "":
        return
    if c.kind == "date":
        _write_date(ws, r, i, v, f.input_date)
    elif c.kind == "refs":
        ws.put_string(r, i, ", ".join(v), f.input)
    else:
        ws.put_string(r, i, str(v), f.input)


def _write_date(ws: Sheet, r: int, c: int, v: Any, fmt: Format) -> None:
    if isinstance(v, dt.date):
        # Real dates (serial numbers with a date format), never text.
        ws.put_datetime(r, c, dt.datetime(v.year, v.month, v.day), fmt)
    else:
        ws.put_blank(r, c, fmt)


def _list_validation(ws: Sheet, r1: int, c1: int, r2: int, c2: int, choices: Iterable[str],
                     title: str, strict: bool) -> None:
    ws.put_validation(r1, c1, r2, c2, {
        "validate": "list",
        "source": list(choices),
        "error_type": "stop" if strict else "warning",
        "error_title": title,
        "error_message": "Choose a value from the list." if strict
        else "This is not one of the usual values. Keep it only if it is valid and reliable.",
    })


def _table_validations(ws: Sheet, cols: tuple[L.Column, ...], first: int, last: int) -> None:
    """Dropdowns and date checks over the whole column range of a table's rows."""
    date_cols = [i for i, c in enumerate(cols) if c.kind == "date"]
    for i, c in enumerate(cols):
        if c.kind == "choice":
            _list_validation(ws, first, i, last, i, c.choices, c.header, c.strict)
    if date_cols:
        # One rule for every date column (one <dataValidation> with several ranges).
        _date_validation(ws, first, date_cols[0], last, date_cols[0],
                         [[first, i, last, i] for i in date_cols[1:]])


def _date_validation(ws: Sheet, r1: int, c1: int, r2: int, c2: int,
                     other_cells: list[list[int]] | None = None) -> None:
    ws.put_validation(r1, c1, r2, c2, {
        **({"other_cells": other_cells} if other_cells else {}),
        "validate": "date",
        "criteria": "between",
        "minimum": _DATE_MIN,
        "maximum": _DATE_MAX,
        "error_title": "Date",
        "error_message": "Enter a date as dd/mm/yyyy.",
    })


# -- summary -------------------------------------------------------------------------------------


def _write_summary(ws: Sheet, f: _Formats, q: Qualification, record: LearnerRecord, reading: str,
                   rows_per_unit: dict[int, int]) -> None:
    for i, w in enumerate(L.SUMMARY_WIDTHS):
        ws.set_column(i, i, w)
    ws.set_row(0, 22)
    ws.put_string(0, 0, f"Progress summary - {record.learner.name or 'learner'}", f.title)
    ws.put_string(1, 0, "Live formulas: figures update as the unit sheets are filled in. "
                          "Only criteria required on the learner's pathway count.", f.note)
    hr = L.SUMMARY_HEADER_ROW
    ws.set_row(hr, 28)
    for i, h in enumerate(L.SUMMARY_HEADERS):
        ws.put_string(hr, i, h, f.header)
    cols = L.UNIT_TABLE_COLUMNS
    counted = ("required", "decision", "iqa_decision", *progress.SIGN_OFF_KEYS)
    col_of = {k: L.col_letter(cols.index(L.column_by_key(cols, k))) for k in counted}
    first = hr + 1
    totals = {"credit": 0, "req": 0, "met": 0, "complete": 0, "credits_done": 0}
    for n, unit in enumerate(q.units):
        r = first + n
        sheet = L.quote_sheet(L.unit_sheet_name(unit.number))
        r1 = L.UNIT_FIRST_DATA_ROW + 1
        r2 = L.UNIT_FIRST_DATA_ROW + rows_per_unit[unit.number]
        ranges = {k: f"{sheet}!${c}${r1}:${c}${r2}" for k, c in col_of.items()}
        required = required_refs(q, unit, record.learner.pathway, reading)
        # Cached results follow the same rule as the formula (tracker.workbook.progress).
        met = sum(1 for ref in required if (e := record.entries.get(ref))
                  and progress.criterion_state(_entry_getter(e)).achieved)
        status = progress.unit_status(len(required), met)
        xr = r + 1  # 1-based row for formulas
        ws.put_number(r, 0, unit.number, f.number)
        ws.put_string(r, 1, unit.ref, f.cell)
        ws.put_string(r, 2, unit.title, f.cell)
        ws.put_number(r, 3, unit.credit, f.number)
        ws.put_formula(r, 4, f'=COUNTIF({ranges["required"]},"{L.REQUIRED_YES}")', f.number, len(required))
        ws.put_formula(r, 5, f"={progress.summary_countifs(ranges)}", f.number, met)
        ws.put_formula(r, 6, f"=IF(E{xr}=0,0,F{xr}/E{xr})", f.percent, met / len(required) if required else 0)
        ws.put_formula(r, 7, f'=IF(F{xr}=0,"{L.STATUS_NOT_STARTED}",IF(F{xr}>=E{xr},"{L.STATUS_COMPLETE}",'
                               f'"{L.STATUS_IN_PROGRESS}"))', f.cell_center, status)
        totals["credit"] += unit.credit
        totals["req"] += len(required)
        totals["met"] += met
        if status == L.STATUS_COMPLETE:
            totals["complete"] += 1
            totals["credits_done"] += unit.credit
    last = first + len(q.units) - 1
    t = last + 1
    a, b = first + 1, last + 1
    ws.put_string(t, 2, "Total", f.total_label)
    ws.put_formula(t, 3, f"=SUM(D{a}:D{b})", f.total, totals["credit"])
    ws.put_formula(t, 4, f"=SUM(E{a}:E{b})", f.total, totals["req"])
    ws.put_formula(t, 5, f"=SUM(F{a}:F{b})", f.total, totals["met"])
    ws.put_formula(t, 6, f"=IF(E{t + 1}=0,0,F{t + 1}/E{t + 1})", f.total_percent,
                     totals["met"] / totals["req"] if totals["req"] else 0)
    n_units = len(q.units)
    ws.put_string(t + 2, 2, "Units complete", f.label)
    ws.put_formula(t + 2, 3, f'=COUNTIF(H{a}:H{b},"{L.STATUS_COMPLETE}")', f.number, totals["complete"])
    ws.put_string(t + 2, 4, f"of {n_units}", f.value)
    ws.put_string(t + 3, 2, "Credits achieved", f.label)
    ws.put_formula(t + 3, 3, f'=SUMIF(H{a}:H{b},"{L.STATUS_COMPLETE}",D{a}:D{b})', f.number,
                     totals["credits_done"])
    ws.put_string(t + 3, 4, f"of {q.credit}", f.value)
    ws.put_string(t + 4, 2, "Qualification", f.label)
    # With either/or pathways, the qualification needs the cover's pathway: without it the
    # either/or criteria are not counted (progress.qualification_achieved).
    has_groups = any(q.active_groups(u, reading) for u in q.units)
    pathway_needed = has_groups and record.learner.pathway is None
    statuses = [L.STATUS_COMPLETE] * totals["complete"] + [L.STATUS_IN_PROGRESS] * (n_units - totals["complete"])
    done = L.QUALIFICATION_ACHIEVED if progress.qualification_achieved(statuses, pathway_needed) else (
        L.STATUS_IN_PROGRESS)
    all_units = f"D{t + 3}={n_units}"
    condition = f'AND({all_units},{_pathway_cell()}<>"")' if has_groups else all_units
    ws.put_formula(t + 4, 3, f'=IF({condition},"{L.QUALIFICATION_ACHIEVED}","{L.STATUS_IN_PROGRESS}")',
                     f.value, done)
    if record.learner.apprentice:
        _summary_otj(ws, f, t + 6, record)
    ws.put_conditional(first, 7, last, 7, {"type": "cell", "criteria": "==",
                                              "value": f'"{L.STATUS_COMPLETE}"', "format": f.green})
    ws.put_conditional(first, 7, last, 7, {"type": "cell", "criteria": "==",
                                              "value": f'"{L.STATUS_IN_PROGRESS}"', "format": f.amber})
    # No data bar on % complete: it is an Excel 2010 extension that openpyxl drops when
    # `tracker validate --mark` re-saves the file; colour scales and formulas survive.
    ws.put_conditional(first, 6, last, 6, {"type": "2_color_scale", "min_type": "num", "min_value": 0,
                                              "max_type": "num", "max_value": 1,
                                              "min_color": "#FFFFFF", "max_color": "#63BE7B"})
    ws.freeze_panes(first, 0)
    ws.protect("", {"format_columns": True, "format_rows": True})
    _print_setup(ws, landscape=True, last_col=len(L.SUMMARY_HEADERS) - 1, header=page_header(record.learner))


# -- evidence log --------------------------------------------------------------------------------


def _write_evidence(ws: Sheet, f: _Formats, entries: tuple[EvidenceEntry, ...], header: str,
                    extra_columns: tuple[str, ...] = ()) -> None:
    cols = L.EVIDENCE_COLUMNS
    hr = L.EVIDENCE_HEADER_ROW
    first = _log_head(ws, f, cols, hr, 20, "Evidence log",
                      "One row per piece of evidence. Quote the Evidence ref in the unit sheets' "
                      "'Evidence refs' column.")
    last = first + max(L.EVIDENCE_BLANK_ROWS, len(entries) + 50) - 1
    for n, e in enumerate(entries):
        for i, c in enumerate(cols):
            _write_entry_value(ws, first + n, i, c, getattr(e, c.key), f)
    extra = _extra_headers(extra_columns, (e.extra for e in entries))
    _write_extra(ws, f, extra, hr, first, [e.extra for e in entries], len(cols))
    table_last = len(cols) - 1 + len(extra)
    _table_validations(ws, cols, first, last)
    _log_finish(ws, f, hr, last, table_last, header)


def _log_head(ws: Sheet, f: _Formats, cols: tuple[L.Column, ...], header_row: int, header_height: float,
              title: str, note: str) -> int:
    """A log sheet's title, note and table header (the evidence and off-the-job logs); returns
    its first data row."""
    _set_columns(ws, f, cols)
    ws.set_row(0, 22)
    ws.put_string(0, 0, title, f.title)
    ws.put_string(1, 0, note, f.note)
    ws.set_row(header_row, header_height)
    for i, c in enumerate(cols):
        ws.put_string(header_row, i, c.header, f.header)
    return header_row + 1


def _log_finish(ws: Sheet, f: _Formats, header_row: int, last: int, last_col: int, header: str) -> None:
    """A log sheet's borders, filter, frozen header, protection and page setup."""
    first = header_row + 1
    _table_borders(ws, f, first, last, last_col)
    ws.autofilter(header_row, 0, last, last_col)
    ws.freeze_panes(first, 1)
    ws.repeat_rows(header_row)
    ws.protect("", {"format_columns": True, "format_rows": True, "autofilter": True})
    _print_setup(ws, landscape=True, last_col=last_col, header=header)


# -- off-the-job log (apprentices only) -----------------------------------------------------------


def _otj_range() -> str:
    """Absolute reference of the OTJ log's whole Hours column below its header (for the Summary)."""
    i = L.OTJ_COLUMNS.index(L.column_by_key(L.OTJ_COLUMNS, "hours"))
    c = L.col_letter(i)
    return f"{L.quote_sheet(L.OTJ)}!${c}${L.OTJ_HEADER_ROW + 2}:${c}$1048576"


def _summary_otj(ws: Sheet, f: _Formats, r: int, record: LearnerRecord) -> None:
    """The live OTJ total and the plan (the cover's Planned OTJ hours) on the Summary."""
    # SUM ignores text, so hours typed as text ("2h30") are not counted here either; the
    # validator reports them at their cell.
    logged = sum(e.hours for e in record.otj if isinstance(e.hours, (int, float)))
    planned = record.learner.planned_otj_hours
    cover_planned = f"{L.quote_sheet(L.COVER)}!${L.col_letter(L.COVER_VALUE_COL)}${L.cover_row('planned_otj_hours') + 1}"
    ws.put_string(r, 2, L.SUMMARY_OTJ_TOTAL, f.label)
    ws.put_formula(r, 3, f"=SUM({_otj_range()})", f.number, logged)
    ws.put_string(r + 1, 2, L.SUMMARY_OTJ_PLANNED, f.label)
    ws.put_formula(r + 1, 3, f'=IF({cover_planned}="","",{cover_planned})', f.number,
                     planned if planned is not None else "")
    ws.put_formula(r + 1, 4, f'=IF(D{r + 2}="","",IF(D{r + 1}>=D{r + 2},"Plan met",'
                               f'"To go: "&TEXT(D{r + 2}-D{r + 1},"0.0")))', f.value,
                     "" if planned is None else ("Plan met" if logged >= planned else f"To go: {planned - logged:.1f}"))


def _write_otj(ws: Sheet, f: _Formats, entries: tuple[OtjEntry, ...], header: str) -> None:
    cols = L.OTJ_COLUMNS
    hr = L.OTJ_HEADER_ROW
    first = _log_head(ws, f, cols, hr, 30, "Off-the-job training log",
                      "One row per activity. Hours as a number (2.5, not 2h30). Quote the Evidence ref "
                      "from the Evidence sheet.")
    last = first + max(L.OTJ_BLANK_ROWS, len(entries) + 50) - 1
    hours_col = cols.index(L.column_by_key(cols, "hours"))
    for n, e in enumerate(entries):
        for i, c in enumerate(cols):
            v = getattr(e, c.key)
            if c.kind == "hours" and isinstance(v, (int, float)):
                ws.put_number(first + n, i, v, f.input)
            else:
                _write_entry_value(ws, first + n, i, c, v, f)
    _table_validations(ws, cols, first, last)
    ws.put_validation(first, hours_col, last, hours_col, {
        "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": L.OTJ_MAX_HOURS_PER_DAY,
        "error_type": "warning", "error_title": "Hours",
        "error_message": f"Hours as a number from 0 to {L.OTJ_MAX_HOURS_PER_DAY:g} (2.5 for two and a half hours)."})
    _log_finish(ws, f, hr, last, len(cols) - 1, header)


# -- metadata ------------------------------------------------------------------------------------


def _write_meta(ws: Sheet, meta: dict[str, str]) -> None:
    ws.put_string(0, 0, "key")
    ws.put_string(0, 1, "value")
    for i, key in enumerate(L.META_KEYS, start=1):
        ws.put_string(i, 0, key)
        ws.put_string(i, 1, meta.get(key, ""))
    # "Very hidden": not listed in Excel's Unhide dialog; only VBA or a file editor shows it.
    ws.very_hidden()
    ws.protect("")


# Printed size of the wide criterion table: 85% of Calibri 10 is 8.5 pt, the smallest an EQA
# reads comfortably. Fitting its 15+ columns to one page width would print at about 6.5 pt, so the
# table runs on to a second page across instead, repeating the Ref and criterion columns.
TABLE_PRINT_SCALE = 85


#: Column widths (characters) of the first printed page of a unit sheet at TABLE_PRINT_SCALE on
#: A4 landscape: LibreOffice prints columns A to H (123.5 characters) there, then repeats column A.
FIRST_PAGE_WIDTH = 125


def _first_page_last_col(cols: tuple[L.Column, ...]) -> int:
    """The last column that prints on the first page (see :data:`FIRST_PAGE_WIDTH`)."""
    total, last = 0.0, 0
    for i, c in enumerate(cols):
        total += c.width
        if total > FIRST_PAGE_WIDTH:
            break
        last = i
    return last


def page_header(learner: Learner) -> str:
    """The printed page header naming the learner: "&L<name>, ULN <uln>" ('&' doubled: a lone '&'
    starts an Excel header code). Set when the workbook is written; a name corrected later on the
    cover is not followed (a header cannot be a formula)."""
    name = (learner.name or "Learner").replace("&", "&&")
    uln = (learner.uln or "").replace("&", "&&")
    return f"&L&\"-,Bold\"{name}, ULN {uln}&R&A"


def _print_setup(ws: Sheet, *, landscape: bool, last_col: int, last_row: int | None = None,
                 header: str = "", wide: bool = False) -> None:
    if landscape:
        ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.set_margins(left=0.4, right=0.4, top=0.75, bottom=0.6)
    if wide:
        ws.set_print_scale(TABLE_PRINT_SCALE)
        ws.repeat_columns(0)
        ws.print_across()  # the columns of a row block before the next rows: a row is read in one go
    else:
        ws.fit_to_pages(1, 0)  # all columns on one page width, as many pages down as needed
    if header:
        ws.set_header(header, {"margin": 0.3})
    ws.set_footer("&L&F&CPage &P of &N&R&A")
    if last_row is not None:
        ws.print_area(0, 0, last_row, last_col)
