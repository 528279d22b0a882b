"""The Python side of the Excel add-in: the functions the ribbon buttons run.

``macros/Tracker.bas`` starts Python through :mod:`tracker.addin.launch`, which calls one of these
on the active workbook (``xw.Book.caller()``). Called that way (no book given), each first checks
that this process is the installation ``tracker addin install`` recorded and runs isolated
(:func:`tracker.addin.trust.check_installation`); a refusal propagates to the launcher, which
reports it. The functions are:

* :func:`validate` -- **Validate**. On a learner workbook: its sheets are read in bulk (one read of
  each sheet's values, positions kept from A1), the model is built by
  :func:`tracker.workbook.reader.read_grids`, checked by
  :func:`tracker.rules.engine.check_workbook` -- the same reader and engine as ``tracker
  validate`` -- and the :class:`~tracker.workbook.marks.MarkPlan` of
  :func:`~tracker.workbook.marks.plan_marks` is rendered into the open book exactly as ``tracker
  validate --mark`` renders it into a file (see *Marks* below). On the centre master: the centre is
  checked as a whole (see *The master*). On the centre register: the register's own checks. A
  message box says how many errors, warnings and notes were found. Nothing is saved: the admin
  decides whether to keep the marks.
* :func:`rollup` -- **Roll up**: rolls up the centre folder of the active workbook with
  :func:`tracker.centre.rollup_steps.rollup` (the function behind ``tracker rollup``), then shows the
  rebuilt master (see *Refreshing the master*).
* :func:`new_workbook` -- **New learner workbook**: a blank learner workbook for the active
  workbook's qualification, written by :func:`tracker.workbook.writer.new_workbook` and opened.
* :func:`open_centre_folder` -- **Open centre folder** in Explorer / the Finder.
* :func:`issue_workbooks` -- **Issue workbooks**: every learner's current workbook written from the
  ledger by :func:`tracker.centre.reissue.issue_workbooks` (the function behind ``tracker issue``)
  into the centre's ``outbox/``, which is then opened.

Only the open-source (BSD) part of xlwings is used: ``import xlwings`` and the public
Book/Sheet/Range API. xlwings is imported inside the functions, so ``import tracker.addin.excel``
works without xlwings or Excel, and every function takes the book as an optional argument (default
``xw.Book.caller()``) so that tests hand it a book of xlwings' remote engine.

**The centre of a workbook.** The folder of the workbook (``book.fullname``) and each folder above
it are searched for the ``centre.yaml`` that ``tracker init`` writes; the first one found is the
workbook's centre (so a workbook in ``inbox/``, ``quarantine/``, a sub-folder of either, or the
centre folder itself belongs to that centre). A learner workbook of a centre is checked with the
centre register (``register.xlsx``, or the path set in ``centre.yaml``), the centre's reading of an
ambiguous specification and the qualifications the centre added -- as the roll-up checks it. A
workbook outside any centre folder (or not saved yet) is checked without a register, like
``tracker validate`` without ``--register``; the message box says which register was used.

**Marks** (the same end state as :func:`tracker.workbook.marks.apply_marks_to_file`):

* a previous Validation sheet written by tracker (its A1 holds the title) is deleted; a sheet
  called Validation that tracker did not write is left alone and nothing is marked;
* previous highlights -- conditional-format rules whose formula is ``ISTEXT("tracker validate:
  <severity>")`` -- are deleted from every sheet, and so are previous notes written by tracker
  (recognised by their text: every line ``ERROR|WARNING|INFO: message [code]``, because Excel
  records its own user name, not "tracker validate", as the author of a note added from code);
* each highlighted cell gets the same rule (fill and font colour of its worst severity) at the top
  of its sheet's rule order, so it shows over the workbook's own green/amber/grey rules, which are
  never touched, and the cells' own formats are never changed: there is nothing to remember or
  restore. The file version puts a sheet's cells of one severity in one rule; here each run of
  adjacent cells in a column gets its rule, because xlwings addresses rectangular ranges only
  (Excel shows the same);
* a cell gets the plan's note unless it already has somebody else's;
* the new Validation sheet is put first and activated: title, summary, header row and one row per
  issue, written with **one** ``range.value = rows`` call (every text with Excel's text prefix
  ``'``, so that nothing becomes a formula, a number or a date); the severity cells are
  coloured per run of equal severity, and each row with a location gets a hyperlink to it.

**Protected sheets.** Learner workbooks are protected without a password, and Excel refuses
conditional formats and notes from code on a protected sheet. The **VBA** deals with it, not
Python: the Validate Sub unprotects every password-less protected sheet before Python starts and
protects it again with the same options when Python has ended, whatever happens
(``macros/Tracker.bas``; on macOS, where Python runs in the background, the launcher script calls
the add-in back when Python ends).
Python never touches protection, so nothing of it reaches the library, and the code behaves the
same under every xlwings engine. A sheet protected *with* a password stays protected: marking it
fails, and the message box lists it.

**The master.** On the centre master (recognised as the file ``paths.master`` of its centre, or by
its sheet names), Validate checks what the next Roll up would take in: every workbook waiting in
the inbox, read and checked as the roll-up checks it (centre register, centre readings), plus the
register itself. Everything already merged is on the master's Issues sheet, recomputed by every
roll-up, so re-checking the archive would only repeat it. The results go on a Validation sheet of
the master (one row per issue, with the file it is in); the master is rebuilt by the next roll-up,
so they are a preview and are never saved into it.

**Refreshing the master.** Roll up closes the open master (without saving: the master is rebuilt
from the ledger on every roll-up, and a master edited by hand would be overwritten anyway), runs the
roll-up and opens the rebuilt file again. Writing the rebuilt sheets' values into the open book
instead was rejected: Excel keeps the open master locked on Windows, so the library's atomic
replace of the file would fail (:class:`~tracker.errors.MasterLocked`), the open copy would no
longer match the file on disk (tables, RAG colours and the chart are built with the file, not by
values), and saving it would overwrite the rebuilt master with a half-updated one. If the roll-up
fails, the previous master is opened again and the message box says why. When Roll up is clicked
on another workbook of the centre, a master open in the same Excel is closed and reopened the same
way.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.errors import TrackerError

if TYPE_CHECKING:
    import xlwings as xw

    from tracker.centre.folder import Centre
    from tracker.centre.rollup_steps import RollupResult
    from tracker.register import Register
    from tracker.issues import Issue, Report, Task
    from tracker.workbook.marks import MarkPlan, MarkRow

TITLE = "Tracker"

# Bulk reads are bounded: a learner workbook has a few hundred rows per sheet at most; a used range
# stretched by formatting whole columns must not pull a million rows through COM.
MAX_READ_ROWS = 20_000
MAX_READ_COLS = 200

# Error values as xlwings gives them with err_to_str=True. Every engine hands over an error cell as
# this text, so a cell holding exactly such a text (typed with a leading apostrophe) reads as the
# error too -- the one place where the add-in cannot tell what the file reader tells apart.
EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
                          "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!", "#CONNECT!", "#BUSY!",
                          "#PYTHON!", "#DATA!"})

# A note written by tracker: every line "SEVERITY: message [code]" (the last may be cut with "…").


# == the buttons =================================================================================


def validate(book: xw.Book | None = None) -> Task | Report | None:
    """Validate the active workbook and mark the results in it (the **Validate** button).

    Returns the learner workbook's :class:`Task`, the master's :class:`Report` (inbox and
    register), or None when nothing was validated (the reason is shown in a message box).
    """
    book = _caller(book)
    try:
        return _validate(book)
    except TrackerError as e:
        _alert(book, f"Validate stopped: {e}", critical=True)
        return None


def rollup(book: xw.Book | None = None) -> RollupResult | None:
    """Roll up the centre folder of the active workbook and show the rebuilt master."""
    book = _caller(book)
    app = book.app  # the book may be closed by the time there is something to say
    try:
        return _rollup(book, app)
    except TrackerError as e:
        _alert(book, f"Roll up stopped: {e}", critical=True, app=app)
        return None


def new_workbook(book: xw.Book | None = None) -> Path | None:
    """Write and open a blank learner workbook for the active workbook's qualification.

    Written next to the active workbook, or in the centre folder when the active workbook is in a
    centre (never into its inbox, where the roll-up would pick it up). Returns the new file.
    """
    book = _caller(book)
    try:
        return _new_workbook(book)
    except TrackerError as e:
        _alert(book, f"New learner workbook: {e}", critical=True)
        return None


def report(book: xw.Book | None = None) -> Path | None:
    """Write the active workbook's centre reports (as ``tracker report`` does) and open their folder."""
    book = _caller(book)
    try:
        _path, centre = _required_centre(book)
        from tracker.centre.report import write_reports

        result = write_reports(centre.root)
        folder = result.folder or centre.root
        _show_folder(folder)
        _alert(book, f"Report: {len(result.pages)} PDF file(s) written to {folder}.")
        return folder
    except TrackerError as e:
        _alert(book, f"Report: {e}", critical=True)
        return None


def open_centre_folder(book: xw.Book | None = None) -> Path | None:
    """Open the active workbook's centre folder (or, outside a centre, its own folder)."""
    book = _caller(book)
    try:
        path = _book_path(book)
        if path is None:
            raise TrackerError("save the workbook first: it has no folder yet")
        centre = _find_centre(path, _Notes())
        folder = centre.root if centre is not None else path.parent
        _show_folder(folder)
        return folder
    except TrackerError as e:
        _alert(book, f"Open centre folder: {e}", critical=True)
        return None


def issue_workbooks(book: xw.Book | None = None) -> Path | None:
    """Re-issue every learner's current workbook of the active workbook's centre; opens the outbox."""
    from tracker.centre.reissue import issue_workbooks as run_issue

    book = _caller(book)
    try:
        result = run_issue(_required_centre(book)[1])
        _show_folder(result.outbox)
        _alert(book, f"{_plural(len(result.workbooks), 'workbook')} issued into {result.outbox}, one folder per "
                     "assessor. Send each assessor their folder; returned copies go into the inbox as usual.")
        return result.outbox
    except TrackerError as e:
        _alert(book, f"Issue workbooks: {e}", critical=True)
        return None


# == reading the open book ========================================================================


def _caller(book: xw.Book | None) -> xw.Book:
    """``book``; or, called from Excel, the calling workbook once the installation is confirmed."""
    if book is not None:
        return book
    from tracker.addin.trust import check_installation

    check_installation()
    import xlwings as xw

    return xw.Book.caller()


def _book_path(book: xw.Book) -> Path | None:
    """The workbook's file, or None when it is not a saved local file (a new book, a web URL) or
    when the workbook carries xlwings settings.

    For a workbook on OneDrive or SharePoint, xlwings' ``book.fullname`` maps the web address to a
    local folder with the roots set in the workbook's own ``xlwings.conf`` sheet: such a workbook
    could choose the "centre" the add-in works on, so its location is not used at all.
    """
    if carries_xlwings_sheets(book):
        return None
    try:
        name = book.fullname
    except Exception:  # an engine without file names
        return None
    if not name or "://" in name:
        return None
    p = Path(name)
    return p if p.is_absolute() and p.is_file() else None


def carries_xlwings_sheets(book: xw.Book) -> list[str]:
    """The sheets of ``book`` that xlwings would take settings or code from (see the layout)."""
    from tracker.workbook import layout as L

    try:
        return [s.name for s in book.sheets if L.xlwings_sheet_kind(s.name)]
    except Exception:  # an engine that cannot list sheets: nothing to find
        return []


def read_book(book: xw.Book) -> tuple[list[str], dict[str, list[list[Any]]], list[str]]:
    """(sheet names, grids, notes) of every sheet, hidden ones too; one bulk read per sheet.

    A grid's row 0 is spreadsheet row 1 and column 0 is column A, whatever the used range is;
    empty cells are ``""`` as calamine gives them, dates come as datetimes, numbers as floats,
    formula errors as their text (``#DIV/0!``).
    """
    names: list[str] = []
    grids: dict[str, list[list[Any]]] = {}
    notes: list[str] = []
    for sheet in book.sheets:
        name = sheet.name
        names.append(name)
        last = sheet.used_range.last_cell
        rows, cols = last.row, last.column
        if rows > MAX_READ_ROWS or cols > MAX_READ_COLS:
            notes.append(f"sheet '{name}' is very large: only its first {min(rows, MAX_READ_ROWS)} rows "
                         f"and {min(cols, MAX_READ_COLS)} columns were read")
            rows, cols = min(rows, MAX_READ_ROWS), min(cols, MAX_READ_COLS)
        values = sheet.range((1, 1), (rows, cols)).options(ndim=2, err_to_str=True).value
        grids[name] = [[_cell_value(v) for v in row] for row in (values or [])]
    return names, grids, notes


def _cell_value(v: Any) -> Any:
    if v is None:
        return ""
    if type(v) is str and v in EXCEL_ERRORS:
        from tracker.workbook.model import CellError

        return CellError(v)
    return v


# == the centre of a workbook ====================================================================


@dataclass(slots=True)
class _Notes:
    """Lines for the message box besides the counts."""

    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.lines.append(text)


def _required_centre(book: xw.Book) -> tuple[Path, Centre]:
    """The active (saved) workbook's path and its centre folder, for the buttons that work on a
    centre (Roll up, Issue workbooks, Report); a TrackerError saying why there is none."""
    path = _book_path(book)
    if path is None:
        raise TrackerError("open the centre master (or a workbook of the centre folder) from its saved file")
    notes = _Notes()
    centre = _find_centre(path, notes)
    if centre is None:
        raise TrackerError(" ".join(notes.lines) or f"{path.name} is not in a centre folder (no centre.yaml in "
                           "its folder or above); create one with: tracker init FOLDER")
    return path, centre


def _find_centre(path: Path, notes: _Notes) -> Centre | None:
    """The centre folder holding ``path``, or None (a note says why when one is unusable)."""
    from tracker.centre.check import find_centre

    try:
        return find_centre(path)
    except TrackerError as e:
        notes.add(f"The centre folder above {path.parent} could not be used: {e}")
        return None


def _load_register(centre: Centre | None, notes: _Notes) -> tuple[Register | None, list[Issue]]:
    from tracker.centre.check import load_register

    if centre is None:
        notes.add("Checked without a centre register: the workbook is not in a centre folder "
                  "(no centre.yaml in its folder or above).")
        return None, []
    register, issues = load_register(centre)
    if register is None:
        notes.add(f"Checked without a centre register: {centre.register} is missing, unreadable or "
                  "lists no staff yet.")
    else:
        notes.add(f"Checked with the centre register {centre.register}.")
    if issues:
        notes.add(f"The centre register itself has {_plural(len(issues), 'problem')}: open it and click "
                  "Validate.")
    return register, issues


# == Validate ====================================================================================


# The public Range.conditional_formats and Range.add_note used for the marks.
MIN_XLWINGS = (0, 37, 5)


def _require_xlwings() -> None:
    import xlwings

    parts = re.findall(r"\d+", xlwings.__version__)[:3]
    version = tuple(int(p) for p in parts)
    if version and version < MIN_XLWINGS:
        raise TrackerError(f"the add-in needs xlwings {'.'.join(map(str, MIN_XLWINGS))} or later (this Python "
                           f"has {xlwings.__version__}): run  pip install -U xlwings  for the interpreter in "
                           "xlwings.conf")


def _validate(book: xw.Book) -> Task | Report | None:
    from tracker.register import INTERESTS_SHEET, STAFF_SHEET
    from tracker.workbook import layout as L
    from tracker.workbook.reader import read_grids

    _require_xlwings()

    names, grids, read_notes = read_book(book)
    notes = _Notes(list(read_notes))
    path = _book_path(book)
    foreign = [n for n in names if L.xlwings_sheet_kind(n)]
    if foreign:
        notes.add(f"The workbook carries add-in settings or code (sheet '{foreign[0]}'), so its location was not "
                  "used either: it was checked without a centre register.")
    centre = _find_centre(path, notes) if path is not None else None
    if _is_master(book, names, path, centre):
        return _validate_master(book, centre, notes)
    folded = {n.casefold() for n in names}
    model = read_grids(path or Path(book.name), names, grids, has_macros=_has_macros(path))
    if model.cover_sheet is None and not model.units:
        if STAFF_SHEET.casefold() in folded and INTERESTS_SHEET.casefold() in folded:
            return _validate_register(book, names, grids, path)
        _alert(book, f"{book.name} is not a learner workbook, a centre master or a centre register: "
                     "it has no cover sheet and no unit sheet. Nothing was checked.")
        return None
    register, _ = _load_register(centre, notes) if not foreign else (None, [])
    from tracker.centre.check import check_in_centre

    task = check_in_centre(model, centre, register)
    from tracker.workbook.marks import plan_marks

    plan = plan_marks(task)
    failed = render_marks(book, plan, names, grids)
    _alert(book, _validate_message(task, notes, failed))
    return task


def _has_macros(path: Path | None) -> bool:
    """Whether the saved file holds macros (the open book's VBA is not visible to xlwings)."""
    if path is None or path.suffix.lower() not in (".xlsm", ".xlsb", ".xltm"):
        return False
    from tracker.workbook.safety import check_workbook_file

    try:
        return bool(check_workbook_file(path).has_macros)
    except (TrackerError, OSError):
        return True  # a macro-enabled type that cannot be inspected: say so rather than not


def _validate_register(book: xw.Book, names: list[str], grids: dict[str, list[list[Any]]],
                       path: Path | None) -> Task:
    from tracker.register import read_register_grids
    from tracker.issues import Task
    from tracker.workbook.marks import plan_marks

    file = str(path or book.name)
    _, issues = read_register_grids(file, names, grids)
    task = Task(file=file, learner="Centre register", issues=issues)
    failed = render_marks(book, plan_marks(task), names, grids)
    _alert(book, _validate_message(task, _Notes(), failed))
    return task


def _validate_message(task: Task, notes: _Notes, failed: list[str]) -> str:
    from tracker.issues import counts_text

    who = task.learner or "The workbook"
    if task.issues:
        head = f"{who}: {counts_text(task.counts)}. Problem cells are highlighted; the Validation sheet lists them."
    else:
        head = f"{who}: no problems found."
    lines = [head, *notes.lines]
    if failed:
        lines.append("Not marked (protected with a password?): " + ", ".join(failed) + ".")
    lines.append("The workbook was not saved.")
    return "\n\n".join(lines)


# -- the master -----------------------------------------------------------------------------------


def _is_master(book: xw.Book, names: list[str], path: Path | None, centre: Centre | None) -> bool:
    if centre is not None and path is not None and _same_file(path, centre.master):
        return True
    from tracker.centre.master import SHEETS

    return {s.casefold() for s in SHEETS} <= {n.casefold() for n in names}


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _validate_master(book: xw.Book, centre: Centre | None, notes: _Notes) -> Report | None:
    if centre is None:
        _alert(book, "This looks like a centre master, but it is not in a centre folder (no centre.yaml "
                     "in its folder or above), so there is nothing to check it against. Open the master "
                     "of the centre folder.")
        return None
    from tracker.centre.check import preview_inbox

    register, register_issues = _load_register(centre, notes)
    report = preview_inbox(centre, register, register_issues)
    waiting = [t for t in report.tasks if t.file != str(centre.register)]
    render_master_report(book, report, centre)
    from tracker.issues import counts_text

    c = report.counts
    n_files = len(waiting)
    if n_files:
        bad = sum(1 for t in report.tasks if not t.valid and t.file != str(centre.register))
        head = (f"{_plural(n_files, 'file')} waiting in the inbox ({bad} with errors): "
                f"{counts_text(c)}. The Validation sheet lists them; Roll up merges them.")
    else:
        head = "No files are waiting in the inbox."
    lines = [head, *notes.lines,
             "Problems of the workbooks already merged are on the Issues sheet (recomputed by every roll-up).",
             "The Validation sheet is a preview: the next roll-up rebuilds the master without it."]
    _alert(book, "\n\n".join(lines))
    return report


# == rendering marks into the open book ============================================================


def render_marks(book: xw.Book, plan: MarkPlan, names: list[str], grids: dict[str, list[list[Any]]]) -> list[str]:
    """Render ``plan`` into ``book`` as :func:`~tracker.workbook.marks.apply_marks_to_file` does.

    ``names`` and ``grids`` are what :func:`read_book` read (the old Validation sheet's title is
    taken from them). Returns the sheets that could not be marked.
    """
    from tracker.workbook import layout as L
    from tracker.workbook.marks import HEADER_ROW, HEADERS, TITLE as MARK_TITLE

    old = _sheet_named(names, L.VALIDATION)
    if old is not None:
        grid = grids.get(old) or [[""]]
        if not grid or not grid[0] or grid[0][0] != MARK_TITLE:
            raise TrackerError(f"the workbook already has a sheet called '{old}' that tracker did not "
                               "write; rename that sheet and click Validate again")
    app = book.app
    _screen_updating(app, False)
    try:
        if old is not None:
            book.sheets[old].delete()
        kept = [n for n in names if n != old]
        failed = _strip_marks(book, kept)
        failed += [s for s in _highlight(book, plan, kept) if s not in failed]
        existing = set(kept)
        rows = [(r, r.link is not None and r.sheet in existing) for r in plan.rows]
        _validation_sheet(book, plan.title, plan.summary, HEADERS, HEADER_ROW,
                          [(None, r, linked) for r, linked in rows])
    finally:
        _screen_updating(app, True)
    return failed


def render_master_report(book: xw.Book, report: Report, centre: Centre) -> None:
    """The master's Validation sheet: the plan rows of every task, with the file each is in."""
    from tracker.workbook import layout as L
    from tracker.workbook.marks import HEADER_ROW, HEADERS, TITLE as MARK_TITLE, plan_marks

    names = [s.name for s in book.sheets]
    old = _sheet_named(names, L.VALIDATION)
    rows: list[tuple[str | None, MarkRow, bool]] = []
    for task in report.tasks:
        file = _relative(Path(task.file), centre.inbox, centre.root)
        for r in plan_marks(task).rows:
            rows.append((file, r, False))  # the problem cells are in other files: nothing to link
    from tracker.issues import counts_text

    c = report.counts
    summary = (f"{centre.name or centre.root.name}: {_plural(c['files'], 'file')} checked "
               f"(the inbox and the centre register): {counts_text(c)}. Workbooks already merged: see the "
               "Issues sheet.")
    app = book.app
    _screen_updating(app, False)
    try:
        if old is not None:
            book.sheets[old].delete()
        _validation_sheet(book, MARK_TITLE, summary, ("File", *HEADERS), HEADER_ROW, rows)
    finally:
        _screen_updating(app, True)


def _relative(p: Path, *bases: Path) -> str:
    for base in bases:
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            continue
    return p.name


def _sheet_named(names: Iterable[str], wanted: str) -> str | None:
    """The sheet called ``wanted`` in any letter case (Excel's sheet names ignore case)."""
    w = wanted.casefold()
    return next((n for n in names if n.casefold() == w), None)


def _screen_updating(app: Any, on: bool) -> None:
    try:
        app.screen_updating = on
    except Exception:  # not every engine can switch it
        pass


def _strip_marks(book: xw.Book, sheets: list[str]) -> list[str]:
    """Delete tracker's highlight rules and notes from every sheet; returns sheets that failed."""
    from tracker.workbook.marks import RULE_MARK, is_mark_note

    failed = []
    for name in sheets:
        sheet = book.sheets[name]
        try:
            ours = [cf for cf in sheet.cells.conditional_formats
                    if (cf.formula or "").lstrip("=").startswith(RULE_MARK)]
            for cf in reversed(ours):
                cf.delete()
            for note in [n for n in sheet.notes if is_mark_note(n.text)]:
                note.delete()
        except NotImplementedError as e:
            raise TrackerError(f"this Excel cannot list the workbook's conditional formats or notes ({e}); "
                               "use Excel for Windows or macOS") from None
        except Exception:  # a COM error: a sheet protected with a password
            failed.append(name)
    return failed


def cell_runs(cells: Iterable[str]) -> list[str]:
    """A1 cells grouped into vertical runs of adjacent cells: ["G14", "G15", "H3"] -> ["G14:G15", "H3"]."""
    from tracker.workbook import layout as L

    by_col: dict[int, set[int]] = {}
    for cell in cells:
        m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d{1,7})", cell.strip())
        if m is None:
            continue
        col = 0
        for ch in m.group(1).upper():
            col = col * 26 + ord(ch) - 64
        row = int(m.group(2))
        if row < 1 or col > 16384:
            continue
        by_col.setdefault(col - 1, set()).add(row)
    out: list[str] = []
    for col in sorted(by_col):
        letters = L.col_letter(col)
        for first, last in _runs(sorted(by_col[col])):
            out.append(f"{letters}{first}" if first == last else f"{letters}{first}:{letters}{last}")
    return out


def _runs(numbers: list[int]) -> Iterator[tuple[int, int]]:
    start = prev = numbers[0]
    for n in numbers[1:]:
        if n != prev + 1:
            yield start, prev
            start = n
        prev = n
    yield start, prev


def _highlight(book: xw.Book, plan: MarkPlan, sheets: list[str]) -> list[str]:
    """Add the highlight rules and notes of ``plan``; returns sheets that failed."""
    from tracker.issues import Severity
    from tracker.workbook.marks import FILLS, FONTS, RULE_MARK

    present = {n.casefold(): n for n in sheets}
    per_sheet: dict[str, dict[str, list[str]]] = {}
    notes: dict[str, list[tuple[str, str]]] = {}
    for h in plan.highlights:
        name = present.get(h.sheet.casefold())
        if name is None or not cell_runs([h.cell]):
            continue  # the sheet was deleted or renamed, or the cell is not a cell reference
        per_sheet.setdefault(name, {}).setdefault(h.severity, []).append(h.cell)
        notes.setdefault(name, []).append((h.cell, h.note))
    failed = []
    for name, by_severity in per_sheet.items():
        sheet = book.sheets[name]
        try:
            # Added in reverse order of severity: every rule added goes to the top of the sheet's order.
            for sev in reversed(list(Severity)):
                for address in reversed(cell_runs(by_severity.get(sev.value, []))):
                    sheet.range(address).conditional_formats.add_custom(
                        f'={RULE_MARK}{sev.value}")', fill_color=f"#{FILLS[sev]}", font_color=f"#{FONTS[sev]}")
        except NotImplementedError as e:
            raise TrackerError(f"this Excel cannot add conditional formats from code ({e}); "
                               "use Excel for Windows or macOS") from None
        except Exception:  # a COM error: a sheet protected with a password
            failed.append(name)
            continue
        for cell, text in notes[name]:
            try:
                rng = sheet.range(cell)
                if rng.note is None:
                    _size_note(rng.add_note(text), text)
            except NotImplementedError as e:
                raise TrackerError(f"this Excel cannot add notes from code ({e}); use Excel for Windows or "
                                   "macOS") from None
            except Exception:  # e.g. the cell has a threaded comment: like a note of somebody else's, it stays
                continue
    return failed


def _size_note(note: Any, text: str) -> None:
    """Give a note the file version's size where the engine allows it (Windows: the note's shape)."""
    try:
        shape = note.api.Shape
        shape.Width = 320
        shape.Height = min(60 + 15 * (text.count("\n") + len(text) // 45), 400)
    except Exception:  # other engines keep Excel's default size
        pass


def excel_text(value: str | None) -> str | None:
    """A text as written through ``range.value`` so that Excel keeps it as typed: with Excel's text
    prefix ``'``, which is not part of the value (otherwise ``=...`` would become a formula, ``9`` a
    number, ``1 Jan 2025`` a date, ``TRUE`` a boolean)."""
    if value is None or value == "":
        return None
    return "'" + value


def _validation_sheet(book: xw.Book, title: str, summary: str, headers: tuple[str, ...], header_row: int,
                      rows: list[tuple[str | None, MarkRow, bool]]) -> None:
    """Add the Validation sheet first and fill it: one bulk write, then formats and hyperlinks.

    Each row is (file or None, plan row, whether to link it); with a file, ``headers`` starts with
    a File column.
    """
    from tracker.issues import Severity
    from tracker.workbook import layout as L
    from tracker.workbook.marks import FILLS, FONTS, WIDTHS

    width = len(headers)
    lead = width - 7  # 1 with a File column
    sheet = book.sheets.add(L.VALIDATION, before=book.sheets[0])
    values: list[list[Any]] = [[None] * width for _ in range(header_row + len(rows))]
    values[0][0] = excel_text(title)
    values[1][0] = excel_text(summary)
    values[header_row - 1] = [excel_text(h) for h in headers]
    cell_col = lead + 3  # 0-based column of "Cell"
    for n, (file, r, linked) in enumerate(rows, start=header_row):
        cell = r.cell if r.cell or not linked else "(go)"
        line = [Severity(r.severity).value.upper(), r.code, r.sheet, cell, r.unit, r.criterion, r.message]
        values[n] = [excel_text(v) for v in ([file] if lead else []) + line]
    sheet.range("A1").value = values

    last_col = L.col_letter(width - 1)
    sheet.range("A1").font.bold = True
    sheet.range("A1").font.size = 14
    sheet.range("A1").font.color = "#1F3864"
    sheet.range("A2").font.italic = True
    sheet.range("A2").font.color = "#595959"
    head = sheet.range(f"A{header_row}:{last_col}{header_row}")
    head.color = "#1F3864"
    head.font.bold = True
    head.font.color = "#FFFFFF"
    for i, w in enumerate(((40,) if lead else ()) + WIDTHS):
        letter = L.col_letter(i)
        sheet.range(f"{letter}:{letter}").column_width = w
    if rows:
        first, last = header_row + 1, header_row + len(rows)
        sheet.range(f"A{first}:{last_col}{last}").vertical_alignment = "top"
        sheet.range(f"{last_col}{first}:{last_col}{last}").wrap_text = True
        sev_col = L.col_letter(lead)
        start = first
        for sev, count in _severity_runs([r.severity for _, r, _ in rows]):
            s = Severity(sev)
            cells = sheet.range(f"{sev_col}{start}:{sev_col}{start + count - 1}")
            cells.color = f"#{FILLS[s]}"
            cells.font.bold = True
            cells.font.color = f"#{FONTS[s]}"
            start += count
        letter = L.col_letter(cell_col)
        for n, (_, r, linked) in enumerate(rows, start=first):
            if linked and r.link:
                display = r.cell or "(go)"
                sheet.range(f"{letter}{n}").add_hyperlink(
                    r.link, text_to_display=display, screen_tip=f"Go to {r.sheet}!{r.cell or 'A1'}")
    sheet.freeze_panes.freeze_at(f"1:{header_row}")
    sheet.activate()


def _severity_runs(severities: list[str]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for s in severities:
        if out and out[-1][0] == s:
            out[-1] = (s, out[-1][1] + 1)
        else:
            out.append((s, 1))
    return out


# == Roll up ======================================================================================


def _rollup(book: xw.Book, app: Any) -> RollupResult | None:
    from tracker.centre.rollup_steps import rollup as run_rollup

    path, centre = _required_centre(book)
    master_book = book if _same_file(path, centre.master) else _open_book(app, centre.master)
    was_open = master_book is not None
    if master_book is not None:
        master_book.close()  # Excel locks an open file on Windows: the roll-up must replace it
    try:
        result = run_rollup(centre)
    except BaseException:
        if was_open and centre.master.is_file():  # the previous master, as it was
            try:
                _reopen(app, centre.master)
            except Exception:  # the roll-up's own error is the one to show
                pass
        raise
    reopened = _reopen(app, centre.master) if (was_open or result.master_rebuilt) else None
    _alert(reopened or book, _rollup_message(result), app=app)
    return result


def _open_book(app: Any, path: Path) -> Any:
    """The book of ``app`` that is the file ``path``, or None."""
    for b in app.books:
        p = _book_path(b)
        if p is not None and _same_file(p, path):
            return b
    return None


def _reopen(app: Any, path: Path) -> Any:
    book = app.books.open(str(path))
    try:
        book.activate()
    except Exception:  # activation is cosmetic
        pass
    return book


def _rollup_message(result: RollupResult) -> str:
    merged, quarantined, duplicate = (result.count(k) for k in ("merged", "quarantined", "duplicate"))
    if not result.files:
        head = "No workbooks were waiting in the inbox."
    else:
        skipped = result.count("skipped")
        head = (f"{_plural(len(result.files), 'file')} in the inbox: {merged} merged, {quarantined} "
                f"quarantined, {duplicate} already received" + (f", {skipped} skipped." if skipped else "."))
    lines = [head, f"The master lists {_plural(result.learners, 'learner')}; "
                   f"{_plural(result.open_conflicts, 'open conflict')}."]
    for f in result.files:
        if f.outcome == "quarantined":
            lines.append(f"Quarantined {f.name}: {f.reason}")
        elif f.outcome == "skipped":
            lines.append(f"Skipped {f.name}: {f.reason}")
    if result.open_conflicts:
        lines.append("Conflicts (a returned row contradicting a signed-off decision) are on the Conflicts sheet; "
                     "choose a Decision there, save and close the master, and roll up again.")
    if result.decisions:
        lines.append(f"{_plural(result.decisions, 'decision')} from the Conflicts sheet applied.")
    lines += result.notes
    if not result.master_rebuilt:
        lines.append("Nothing changed, so the master was not rebuilt.")
    return "\n\n".join(lines)


# == New learner workbook / Open centre folder ===================================================


def _new_workbook(book: xw.Book) -> Path:
    from tracker.spec.catalogue import find_spec_file, spec_hash
    from tracker.workbook.identity import find_qualification, lookup_keys
    from tracker.workbook.reader import read_grids
    from tracker.workbook.writer import new_workbook as write_workbook

    path = _book_path(book)
    notes = _Notes()
    centre = _find_centre(path, notes) if path is not None else None
    names, grids, _ = read_book(book)
    model = read_grids(path or Path(book.name), names, grids)
    extra = [centre.specs] if centre is not None else []
    q, problem = find_qualification(model, extra)
    if q is None:
        if not lookup_keys(model):
            raise TrackerError("the active workbook names no qualification. Open a learner workbook of the "
                               "qualification wanted, or create workbooks with: tracker new --qualification "
                               "NUMBER --learner-name NAME --uln ULN -o FILE.xlsx")
        raise TrackerError(problem)
    spec = find_spec_file(q.number, extra)
    reading = centre.reading_for(q.id) if centre is not None else None
    if centre is not None:
        folder = centre.root
    elif path is not None:
        folder = path.parent
    else:
        raise TrackerError("save the active workbook first: the new workbook is written next to it")
    target = _free_name(folder / f"New learner {q.number.replace('/', '-')}.xlsx")
    write_workbook(q, None, target, reading=reading, spec_hash=spec_hash(spec))
    book.app.books.open(str(target))
    return target


def _free_name(p: Path) -> Path:
    n = 2
    candidate = p
    while candidate.exists():
        candidate = p.with_name(f"{p.stem} ({n}){p.suffix}")
        n += 1
    return candidate


def _show_folder(folder: Path) -> None:
    """Open ``folder`` in the operating system's file browser."""
    if sys.platform.startswith("win"):
        os.startfile(folder)  # type: ignore[attr-defined]  # noqa: S606 -- a folder we found, not user text
    else:
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        subprocess.Popen([opener, str(folder)])  # noqa: S603


# == message boxes ================================================================================


def _alert(book: Any, text: str, *, critical: bool = False, app: Any = None) -> None:
    """A message box (on the remote engine: an ``alert`` action)."""
    try:
        (app or book.app).alert(text, title=TITLE, mode="critical" if critical else "info")
    except Exception:  # no way to show it (e.g. Excel is busy): print it to the xlwings console
        print(f"{TITLE}: {text}", file=sys.stderr)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
