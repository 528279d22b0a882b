"""Write validation results into a learner workbook (``tracker validate --mark``).

Split in two so that the Excel add-in can reuse the first half with the open book:

* :func:`plan_marks` -- pure data from a :class:`~tracker.issues.Task`: the Validation
  sheet's rows (severity, code, sheet, cell, unit, criterion, message, hyperlink target such as
  ``#'Unit 9'!G14``) and the cells to highlight (worst severity's fill colour, a short note);
* :func:`apply_marks_to_file` -- applies a plan to an .xlsx file with openpyxl.

How marks stay idempotent (running twice gives the same contents as running once) without
touching anything the workbook had:

* highlights are **conditional-format rules**, not cell fills: one rule per sheet and severity whose
  formula is ``ISTEXT("tracker validate: <severity>")`` (always true, and recognisable). The cells'
  own styles are never changed, so there is nothing to remember or restore. Our rules get the
  highest priorities (so they show over the workbook's own green/amber/grey rules); the
  workbook's rules keep their relative order behind them. Re-marking first deletes every rule
  with that formula;
* notes are cell comments whose author is ``tracker validate``; a cell that already has someone
  else's comment keeps it and gets no note. Re-marking first deletes every comment by that author;
* the Validation sheet is recognised by its title cell A1 and replaced; it is put first and made
  the active sheet. A sheet called Validation that tracker did not write is never overwritten.

Everything else -- values (text starting with "=" stays text), styles, dropdowns (data
validation), conditional formats, sheet protection, hidden and very hidden sheets, defined names
(print areas and titles) -- is loaded and saved as it was. openpyxl does not keep formulas'
cached results, so the workbook is saved with "recalculate on open" (Excel and LibreOffice show
the Summary's figures again when it is opened). Macro-enabled workbooks (.xlsm) are not marked:
tracker never rewrites a file with macros. The file is written to a temporary name in the same
folder and renamed over the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.errors import TrackerError
from tracker.files import replaced_atomically
from tracker.issues import Issue, Severity, Task
from tracker.workbook import layout as L

MARK_AUTHOR = "tracker validate"
RULE_MARK = 'ISTEXT("tracker validate: '
TITLE = "Validation by tracker"
# Fill colours per severity (Excel's "bad", "neutral" and a light blue).
FILLS = {Severity.ERROR: "FFC7CE", Severity.WARNING: "FFEB9C", Severity.INFO: "DDEBF7"}
FONTS = {Severity.ERROR: "9C0006", Severity.WARNING: "9C5700", Severity.INFO: "1F3864"}
HEADERS = ("Severity", "Code", "Sheet", "Cell", "Unit", "Criterion", "Message")
WIDTHS = (10, 30, 12, 8, 6, 10, 100)
HEADER_ROW = 4  # 1-based; rows 1-2 hold the title and the summary
_NOTE_MAX = 1000


class MarkError(TrackerError):
    """The marks could not be written (macro-enabled file, file open elsewhere, foreign sheet ...)."""


@dataclass(frozen=True, slots=True)
class MarkRow:
    """One row of the Validation sheet."""

    severity: str
    code: str
    sheet: str | None
    cell: str | None
    unit: str | None
    criterion: str | None
    message: str
    link: str | None  # "#'Unit 9'!G14", or None when there is nowhere to go


@dataclass(frozen=True, slots=True)
class Highlight:
    """A cell to highlight: the worst severity of its issues, its fill colour and a note."""

    sheet: str
    cell: str
    severity: str
    fill: str
    note: str


@dataclass(frozen=True, slots=True)
class MarkPlan:
    """Everything to write into one workbook."""

    title: str
    summary: str
    rows: tuple[MarkRow, ...]
    highlights: tuple[Highlight, ...]


def _link(issue: Issue) -> str | None:
    if not issue.sheet:
        return None
    return f"#{L.quote_sheet(issue.sheet)}!{issue.cell or 'A1'}"


def plan_marks(task: Task) -> MarkPlan:
    """The Validation sheet rows and the highlights for ``task`` (pure data)."""
    from tracker.issues import counts_text

    issues = task.sorted_issues()
    rows = tuple(MarkRow(i.severity.value, i.code, i.sheet, i.cell, i.unit, i.criterion, i.message, _link(i))
                 for i in issues)
    by_cell: dict[tuple[str, str], list[Issue]] = {}
    for i in issues:
        if i.sheet and i.cell:
            by_cell.setdefault((i.sheet, i.cell), []).append(i)
    highlights = []
    for (sheet, cell), found in by_cell.items():
        worst = min(found, key=lambda i: i.severity.rank).severity
        note = "\n".join(f"{i.severity.value.upper()}: {i.message} [{i.code}]" for i in found)
        if len(note) > _NOTE_MAX:
            note = note[:_NOTE_MAX - 1] + "…"
        highlights.append(Highlight(sheet, cell, worst.value, FILLS[worst], note))
    who = task.learner or "Unnamed learner"
    if task.uln:
        who += f" (ULN {task.uln})"
    if task.qualification_number:
        who += f", {task.qualification_number}"
    summary = (f"{who}: {counts_text(task.counts)}." if task.issues else f"{who}: no problems found.")
    summary += " Click a cell reference to go to the problem; problem cells are highlighted (red: error, " \
               "yellow: warning, blue: information) and carry a note."
    return MarkPlan(TITLE, summary, rows, tuple(highlights))


# -- applying to a file ------------------------------------------------------------------------------


def _is_ours_rule(rule: Any) -> bool:
    return any(isinstance(f, str) and f.startswith(RULE_MARK) for f in (rule.formula or ()))


def _put(ws: Any, row: int, col: int, value: Any) -> Any:
    """Write a value; text is always text (never a formula or an error code)."""
    c = ws.cell(row=row, column=col)
    c.value = value
    if isinstance(value, str):
        c.data_type = "s"
    return c


_NOTE_LINE = re.compile(r"^(ERROR|WARNING|INFO): .*(\[[a-z0-9][a-z0-9-]*\]|…)$")


def is_mark_note(text: str | None) -> bool:
    """True for the text of a note tracker wrote (every line ``SEVERITY: message [code]``)."""
    if not text:
        return False
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return all(_NOTE_LINE.match(line) for line in lines)


def _strip_marks(wb: Any) -> None:
    from openpyxl.formatting.formatting import ConditionalFormattingList

    for ws in wb.worksheets:
        for c in list(ws._cells.values()):
            # Excel records its own user as the author of notes the add-in adds: know ours by
            # their text too, so `--mark` after the Validate button replaces, never stacks.
            if c.comment is not None and (c.comment.author == MARK_AUTHOR or is_mark_note(c.comment.text)):
                c.comment = None
        cfs = ws.conditional_formatting
        kept = ConditionalFormattingList()
        for cf in cfs:
            rules = [r for r in cf.rules if not _is_ours_rule(r)]
            if rules:
                kept._cf_rules[cf] = rules
        ws.conditional_formatting = kept


def _rebuild_cf(ws: Any, ours: list[tuple[str, Any]]) -> None:
    """Our rules first (priorities 1..k), then the workbook's in their old priority order."""
    from openpyxl.formatting.formatting import ConditionalFormatting, ConditionalFormattingList

    old = [(cf, r) for cf in ws.conditional_formatting for r in cf.rules]
    new = ConditionalFormattingList()
    n = 0
    for sqref, rule in ours:
        n += 1
        rule.priority = n
        new._cf_rules.setdefault(ConditionalFormatting(sqref), []).append(rule)
    for cf, rule in sorted(old, key=lambda x: x[1].priority or 0):
        n += 1
        rule.priority = n
        new._cf_rules.setdefault(ConditionalFormatting(str(cf.sqref)), []).append(rule)
    new.max_priority = n
    ws.conditional_formatting = new


def inherited_style(ws: Any, row: int, col: int) -> Any:
    """The style a cell that is not in the file shows: its row's (if formatted), else its column's."""
    if row in ws.row_dimensions:
        rd = ws.row_dimensions[row]
        if rd.customFormat:
            return rd._style
    for cd in ws.column_dimensions.values():
        lo = cd.min
        hi = cd.max
        if lo is None or hi is None:
            from openpyxl.utils.cell import column_index_from_string

            lo = hi = column_index_from_string(cd.index)
        if lo <= col <= hi:
            return cd._style if cd.has_style else None
    return None


def _cell_for_note(ws: Any, coord: str) -> Any:
    """The cell at ``coord``; a cell not in the file is created with the style it showed (an
    unlocked input column stays unlocked)."""
    from copy import copy

    from openpyxl.utils.cell import coordinate_to_tuple

    row, col = coordinate_to_tuple(coord)
    c = ws._cells.get((row, col))
    if c is None:
        style = inherited_style(ws, row, col)
        c = ws.cell(row=row, column=col)
        if style is not None:
            c._style = copy(style)
    return c


def _highlight(wb: Any, plan: MarkPlan) -> None:
    from openpyxl.comments import Comment
    from openpyxl.formatting.rule import Rule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.styles.differential import DifferentialStyle
    from openpyxl.utils.cell import coordinate_from_string

    sheets = {ws.title: ws for ws in wb.worksheets}
    per_sheet: dict[str, dict[str, list[str]]] = {}
    for h in plan.highlights:
        ws = sheets.get(h.sheet)
        if ws is None:
            continue
        try:
            coordinate_from_string(h.cell)
        except ValueError:
            continue
        per_sheet.setdefault(h.sheet, {}).setdefault(h.severity, []).append(h.cell)
        c = _cell_for_note(ws, h.cell)
        if c.comment is None:
            note = Comment(h.note, MARK_AUTHOR)
            note.width = 320
            note.height = min(60 + 15 * (h.note.count("\n") + len(h.note) // 45), 400)
            c.comment = note
    for name, ws in sheets.items():
        ours = []
        for sev in Severity:
            cells = per_sheet.get(name, {}).get(sev.value)
            if not cells:
                continue
            color = FILLS[sev]
            dxf = DifferentialStyle(fill=PatternFill(start_color=color, end_color=color, fill_type="solid"),
                                    font=Font(color=FONTS[sev]))
            rule = Rule(type="expression", dxf=dxf, formula=[f'{RULE_MARK}{sev.value}")'])
            ours.append((" ".join(cells), rule))
        _rebuild_cf(ws, ours)


def _validation_sheet(wb: Any, plan: MarkPlan) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.hyperlink import Hyperlink

    ws = wb.create_sheet(L.VALIDATION, 0)
    _put(ws, 1, 1, plan.title).font = Font(bold=True, size=14, color="1F3864")
    _put(ws, 2, 1, plan.summary).font = Font(italic=True, color="595959")
    head_fill = PatternFill(start_color="1F3864", end_color="1F3864", fill_type="solid")
    for i, (h, w) in enumerate(zip(HEADERS, WIDTHS), start=1):
        c = _put(ws, HEADER_ROW, i, h)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = head_fill
        ws.column_dimensions[L.col_letter(i - 1)].width = w
    existing = set(wb.sheetnames)
    link_font = Font(color="0563C1", underline="single")
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    for n, r in enumerate(plan.rows, start=HEADER_ROW + 1):
        sev = Severity(r.severity)
        values = (sev.value.upper(), r.code, r.sheet, r.cell, r.unit, r.criterion, r.message)
        for i, v in enumerate(values, start=1):
            c = _put(ws, n, i, v)
            c.alignment = wrap if i == len(values) else top
        sc = ws.cell(row=n, column=1)
        sc.fill = PatternFill(start_color=FILLS[sev], end_color=FILLS[sev], fill_type="solid")
        sc.font = Font(bold=True, color=FONTS[sev])
        if r.link and r.sheet in existing:
            target = ws.cell(row=n, column=4)
            if target.value is None:
                _put(ws, n, 4, "(go)")
            target.hyperlink = Hyperlink(ref=target.coordinate, location=r.link[1:],
                                         display=str(target.value))
            target.font = link_font
    last = HEADER_ROW + max(len(plan.rows), 1)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{L.col_letter(len(HEADERS) - 1)}{last}"
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    # Printed as a list someone works through: A4 landscape, the header row on every page, fitted
    # to the page width only (the columns sum to ~176 characters: about 8.5 pt of Calibri 11).
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.oddFooter.left.text = "&F"
    ws.oddFooter.center.text = "Page &P of &N"
    ws.oddFooter.right.text = "&A"
    ws.sheet_view.tabSelected = True
    for other in wb.worksheets:
        if other is not ws:
            other.sheet_view.tabSelected = False
    wb.active = 0


def apply_marks_to_file(path: str | Path, plan: MarkPlan) -> None:
    """Write ``plan`` into the workbook at ``path`` (replacing earlier marks); see the module doc."""
    p = Path(path)
    if p.suffix.lower() != ".xlsx":
        raise MarkError(f"{p}: only .xlsx workbooks are marked (tracker never rewrites a file with macros)")
    from tracker.workbook.safety import check_workbook_file

    check_workbook_file(p)
    import openpyxl

    try:
        wb = openpyxl.load_workbook(p, keep_vba=False, keep_links=True, rich_text=True)
    except Exception as e:  # openpyxl raises many unrelated types for files it cannot load
        raise MarkError(f"{p}: cannot be opened for marking ({type(e).__name__}: {e})") from None
    if L.VALIDATION in wb.sheetnames:
        old = wb[L.VALIDATION]
        if getattr(old, "title", None) and old.cell(row=1, column=1).value != TITLE:
            raise MarkError(f"{p}: it already has a sheet called '{L.VALIDATION}' that tracker did not write; "
                            "rename that sheet to mark the workbook")
        del wb[L.VALIDATION]
    _strip_marks(wb)
    _highlight(wb, plan)
    _validation_sheet(wb, plan)
    wb.calculation.fullCalcOnLoad = True
    try:
        with replaced_atomically(p, suffix=".xlsx") as tmp:
            wb.save(tmp)
    except OSError as e:
        raise MarkError(f"{p}: cannot be written ({e.strerror or e}); is it open in Excel?") from None
