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
the Summary's figures again when it is opened). Only .xlsx workbooks are marked: tracker never
rewrites a file with macros (.xlsm), and openpyxl writes neither .ods nor .xls (see
:func:`mark_refusal`). The file is written to a temporary name in the same
folder and renamed over the original.

**Marking never harms a file.** The marked workbook is written to a temporary file in the same
folder, read back with tracker's own reader, and compared with what the reader found in the
original -- every sheet, cover value, criterion row cell, evidence row cell and metadata value;
only when nothing differs does it replace the original. Otherwise the original is left exactly as
it was and the workbook is refused with the first difference (for example a formula whose cached
result openpyxl cannot keep). A workbook saved as *Strict Open XML* (which openpyxl reads as an
empty workbook) is refused before anything is written. Text tracker writes into cells and notes
never holds characters a workbook cannot store (control characters are shown as ``\\x01``).
:func:`mark_files` does the marking in worker processes with memory and time limits
(:mod:`tracker.isolation`), like every other parse of a returned file.
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
from tracker.workbook.model import LearnerWorkbook

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


_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def storable(text: str) -> str:
    """``text`` with the characters an .xlsx cell or note cannot hold (XML 1.0 forbids most
    control characters; lone surrogates cannot be encoded) written as visible escapes."""
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256
                           else f"\\u{ord(m.group(0)):04x}", text)


def _put(ws: Any, row: int, col: int, value: Any) -> Any:
    """Write a value; text is always text (never a formula or an error code)."""
    c = ws.cell(row=row, column=col)
    if isinstance(value, str):
        value = storable(value)
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
            note = Comment(storable(h.note), MARK_AUTHOR)
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
            target.hyperlink = Hyperlink(ref=target.coordinate, location=storable(r.link[1:]),
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


# Why a file is not marked, by its name ending. openpyxl, which marks, writes .xlsx only; a
# macro-enabled file re-saved by it would lose its macros.
_NOT_MARKABLE = {
    ".xlsm": "it holds macros (.xlsm) and tracker never re-saves a file with macros; its problems "
             "are listed above",
    ".ods": "it is a LibreOffice (.ods) spreadsheet and tracker marks only .xlsx workbooks; save a "
            "copy as .xlsx (LibreOffice: File > Save As, file type 'Excel 2007-365') and mark that",
    ".xls": "it is an old Excel 97-2003 (.xls) workbook and tracker marks only .xlsx workbooks; save "
            "a copy as .xlsx (Excel: File > Save As > Excel Workbook) and mark that",
}


def mark_refusal(path: str | Path) -> str | None:
    """Why the workbook at ``path`` cannot be marked (by its kind), or None when it can."""
    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx":
        return None
    return _NOT_MARKABLE.get(suffix, "tracker marks only .xlsx workbooks; save a copy as .xlsx and mark that")


_STRICT_NAMESPACE = b"purl.oclc.org/ooxml/spreadsheetml"


def apply_marks_to_file(path: str | Path, plan: MarkPlan) -> None:
    """Write ``plan`` into the workbook at ``path`` (replacing earlier marks); see the module doc.

    Raises :class:`MarkError`, leaving the file untouched, when the workbook cannot be marked
    without changing what is in it.
    """
    import warnings

    p = Path(path)
    refusal = mark_refusal(p)
    if refusal is not None:
        raise MarkError(f"{p}: not marked: {refusal}")
    from tracker.workbook.reader import read_workbook
    from tracker.workbook.safety import check_workbook_file

    info = check_workbook_file(p)
    before = read_workbook(p)
    if _is_strict(p):
        raise MarkError(f"{p}: not marked: it is saved as Strict Open XML, which tracker cannot rewrite "
                        "without losing its contents (save it in Excel as 'Excel Workbook (*.xlsx)' to have "
                        "it marked); the file was not changed")
    import openpyxl

    with warnings.catch_warnings():  # openpyxl's complaints about odd files are not for the user
        warnings.simplefilter("ignore")
        try:
            wb = openpyxl.load_workbook(p, keep_vba=False, keep_links=True, rich_text=True)
        except Exception as e:  # openpyxl raises many unrelated types for files it cannot load
            raise MarkError(f"{p}: cannot be opened for marking ({type(e).__name__}: {e}); the file was "
                            "not changed") from None
        loaded = [n for n in wb.sheetnames if n != L.VALIDATION]
        expected = [name for name, _part in info.sheets if name != L.VALIDATION]
        if loaded != expected:
            raise MarkError(f"{p}: not marked: the workbook editor tracker uses read {len(loaded)} of its "
                            f"{len(expected)} sheets, so marking it would lose the others; the file was not changed")
        if L.VALIDATION in wb.sheetnames:
            old = wb[L.VALIDATION]
            if getattr(old, "title", None) and old.cell(row=1, column=1).value != TITLE:
                raise MarkError(f"{p}: it already has a sheet called '{L.VALIDATION}' that tracker did not write; "
                                "rename that sheet to mark the workbook")
            del wb[L.VALIDATION]
        try:
            _strip_marks(wb)
            _highlight(wb, plan)
            _validation_sheet(wb, plan)
            wb.calculation.fullCalcOnLoad = True
        except Exception as e:  # a value openpyxl refuses, a damaged part it loaded half-way
            raise MarkError(f"{p}: cannot be marked ({type(e).__name__}: {e}); the file was not changed") from None
        try:
            with replaced_atomically(p, suffix=".xlsx") as tmp:
                wb.save(tmp)
                _check_round_trip(p, before, tmp)
        except OSError as e:
            raise MarkError(f"{p}: cannot be written ({e.strerror or e}); is it open in Excel? The file was "
                            "not changed") from None
        except TrackerError:
            raise
        except Exception as e:  # openpyxl failing half-way through writing
            raise MarkError(f"{p}: cannot be marked ({type(e).__name__}: {e}); the file was not changed") from None


def _is_strict(p: Path) -> bool:
    """True for a workbook saved as Strict Open XML (ISO 29500 strict namespaces)."""
    import zipfile

    with zipfile.ZipFile(p) as z:
        name = next((n for n in z.namelist() if n.lower() == "xl/workbook.xml"), None)
        if name is None:
            return False
        with z.open(name) as f:
            head = f.read(4096)  # the root element and its namespaces come first
    return _STRICT_NAMESPACE in head


def _check_round_trip(original: Path, before: LearnerWorkbook, written: Path) -> None:
    """Refuse (MarkError) unless the written file reads back as the original did."""
    from tracker.errors import UnreadableWorkbook
    from tracker.workbook.reader import read_workbook

    try:
        after = read_workbook(written)
    except UnreadableWorkbook as e:
        raise MarkError(f"{original}: not marked: the marked copy could not be read back ({e.reason}); the "
                        "file was not changed") from None
    diff = first_difference(before, after)
    if diff is not None:
        raise MarkError(f"{original}: not marked: marking would change what the workbook holds ({diff}); "
                        "the file was not changed")


_DATA_KEYS = frozenset(c.key for c in L.CRITERION_COLUMNS)


def _cells(book: LearnerWorkbook) -> dict[str, Any]:
    """Every value the reader found, keyed by where it is ("Sheet!A1", "meta:key", "sheets")."""
    out: dict[str, Any] = {"sheets": [n for n in book.sheet_names if n != L.VALIDATION]}
    for key, value in book.meta.items():
        out[f"hidden metadata '{key}'"] = value
    for c in book.cover.values():
        out[f"{c.sheet}!{c.ref}"] = c.raw
    for unit in book.units:
        for c in unit.header.values():
            out[f"{c.sheet}!{c.ref}"] = c.raw
        for row in unit.rows:
            for key, c in row.cells.items():
                # The Required column is a formula of tracker's own, shown only: openpyxl does not
                # keep formulas' cached results, and the reader never trusts that column.
                if key in _DATA_KEYS:
                    out[f"{c.sheet}!{c.ref}"] = c.raw
    for erow in book.evidence:
        for c in erow.cells.values():
            out[f"{c.sheet}!{c.ref}"] = c.raw
    for sheet, ref, text, _why in book.bad_numbers:
        out[f"{sheet}!{ref or '?'} (unusable number)"] = text
    return out


def first_difference(before: LearnerWorkbook, after: LearnerWorkbook) -> str | None:
    """Where ``after`` reads differently from ``before`` (a phrase), or None when it does not."""
    a, b = _cells(before), _cells(after)
    for key in a.keys() | b.keys():
        va, vb = a.get(key), b.get(key)
        if _blank(va) and _blank(vb):
            continue
        if va != vb:
            if key == "sheets":
                return "its sheets would change"
            return f"{key}: {_shown(va)} would become {_shown(vb)}"
    return None


def _blank(v: Any) -> bool:
    return v is None or v == ""


def _shown(v: Any) -> str:
    if _blank(v):
        return "blank"
    text = storable(str(v))
    return repr(text if len(text) <= 40 else text[:39] + "…")


def _mark_in_worker(job: tuple[str, MarkPlan]) -> str | None:
    path, plan = job
    try:
        apply_marks_to_file(path, plan)
    except TrackerError as e:
        message, prefix = str(e), f"{path}: "
        message = message[len(prefix):] if message.startswith(prefix) else message
        return message[len("not marked: "):] if message.startswith("not marked: ") else message
    return None


def mark_files(jobs: list[tuple[str, MarkPlan]], *, workers: int | None = None) -> list[str | None]:
    """Mark each (path, plan) in worker processes (see :mod:`tracker.isolation`); for each job,
    None when it was marked, else why the file was left as it was (without the file's name)."""
    from tracker.isolation import WorkerPool, auto_workers

    if not jobs:
        return []
    out: list[str | None] = []
    with WorkerPool(_mark_in_worker, workers=min(auto_workers(len(jobs), workers), len(jobs)),
                    preload=("openpyxl", "python_calamine", "tracker.workbook.reader")) as pool:
        for (path, _plan), outcome in zip(jobs, pool.map(jobs)):
            if outcome.failure is not None:
                out.append(f"{outcome.failure.reason()}; the file was not changed")
            else:
                out.append(outcome.value)
    return out
