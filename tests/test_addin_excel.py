"""The add-in's Python side run through xlwings' own Book implementation, without Excel.

xlwings' *remote engine* (``xw.Book(json=...)``) is the object model the buttons use (Book, Sheet,
Range, notes, conditional formats, alerts), backed by a JSON description of a workbook instead of
Excel; every change becomes an *action* (``book.json()["actions"]``) that a client would apply.
The tests build that JSON from a real generated workbook, run the add-in's functions on it, replay
the actions onto a copy of the file with openpyxl (:class:`Replay`), and compare the result with
what ``tracker validate --mark`` writes into the same file.

The remote engine is xlwings PRO code (PolyForm Noncommercial licence): it is used here, in tests
only, with the key ``noncommercial`` set by the :func:`remote` fixture; the package itself never
imports it (:func:`test_the_package_never_imports_xlwings_pro`).

Where the remote engine cannot answer synchronously what Excel answers through COM or AppleScript
(the conditional formats of a sheet, the text of a note) and cannot open a file, the fixture
answers from the file, as Excel would (:func:`remote`): that is the emulated part. An Excel owner
file (``~$master.xlsx``) is created while a book is "open" and removed when it is closed, as Excel
does, so the roll-up tests prove that the master is closed before the roll-up replaces it.

These tests must not be skipped in CI: the skip (xlwings without its remote engine) turns into a
failure when ``CI`` or ``TRACKER_REQUIRE_XLWINGS_REMOTE=1`` is set
(:func:`test_remote_engine_tests_cannot_be_skipped_in_ci`).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fixtures import L2, at, complete_record, cover_at, edit, signed, write
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.comments import Comment
from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.formatting.rule import Rule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter, range_boundaries
from openpyxl.worksheet.hyperlink import Hyperlink

from tracker.addin import excel as X
from tracker.issues import Report, Task
from tracker.rules.engine import validate_file
from tracker.workbook import layout as L
from tracker.workbook.marks import FILLS, FONTS, MARK_AUTHOR, RULE_MARK, TITLE, is_mark_note

REPO = Path(__file__).resolve().parents[1]
LICENSE_ENV = "XLWINGS_LICENSE_KEY"
REQUIRE_ENV = "TRACKER_REQUIRE_XLWINGS_REMOTE"
EXCEL_USER = "Excel user"  # the author Excel gives a note added from code (Application.UserName)


# == must run in CI ================================================================================


def must_run() -> bool:
    """True in CI (``CI`` set, as GitHub Actions and most CI services do) or when required."""
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get(REQUIRE_ENV) == "1"


def skip_or_fail(reason: str) -> None:
    """Skip -- except where these tests must run, where it is a failure."""
    if must_run():
        pytest.fail(f"the xlwings remote-engine tests must run here but cannot: {reason}")
    pytest.skip(reason)


def _remote_engine(xw: Any) -> Any:
    """xlwings' remote engine module, registering it when xlwings was imported before the key was set."""
    from xlwings.pro import _xlremote  # tests only: PolyForm Noncommercial, key set by the fixture

    if "remote" not in [e.name for e in xw.engines]:
        xw.engines.add(xw.main.Engine(impl=_xlremote.engine))
    return _xlremote


# == the workbook as the remote engine's JSON ======================================================


def _json_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.replace(microsecond=0).isoformat() + ".000Z"
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day).isoformat() + ".000Z"
    if isinstance(v, dt.time):
        return v.isoformat()
    if isinstance(v, str) and _ISO_DATETIME.match(v):
        # The JSON protocol reads every ISO date-time string as a date (and xlwings mangles one without
        # "Z"): such a text -- the hidden metadata's creation time -- arrives as a date-time. No check
        # reads it.
        return v if v.endswith("Z") else v + "Z"
    return v


_ISO_DATETIME = re.compile(r"^-?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _rule_entry(rule: Any) -> dict[str, Any]:
    formula = str(rule.formula[0]) if rule.formula else None
    return {"type": "Custom" if rule.type == "expression" else "CellValue",
            "formula": None if formula is None else "=" + formula, "stop_if_true": rule.stopIfTrue,
            "fill_color": None, "font_color": None, "font_bold": None, "font_italic": None}


def payload(path: Path, name: str | None = None) -> dict[str, Any]:
    """The JSON the remote engine takes for the workbook at ``path`` (values as calamine reads them).

    ``book.name`` is the full path, which makes ``book.fullname`` the file as on the desktop engines.
    Each sheet also carries what Excel would answer when asked (``_cf``: its conditional-format
    rules in priority order; ``_text`` of each note) -- read by the emulation in :func:`remote`.
    """
    import python_calamine
    import xlwings as xw

    cal = python_calamine.CalamineWorkbook.from_path(str(path))
    owb = openpyxl.load_workbook(path, rich_text=True)
    sheets = []
    try:
        for sheet_name in cal.sheet_names:
            grid = cal.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
            width = max((len(r) for r in grid), default=0)
            values = [[_json_value(v) for v in r] + [""] * (width - len(r)) for r in grid] or [[""]]
            ows = owb[sheet_name]
            for row in ows.iter_rows():
                for c in row:
                    if c.data_type == "e":  # calamine leaves error cells blank; Excel sends their text
                        while len(values) < c.row:
                            values.append([""] * width)
                        line = values[c.row - 1]
                        line.extend([""] * (c.column - len(line)))
                        line[c.column - 1] = c.value
            notes = [{"address": c.coordinate, "_text": c.comment.text}
                     for row in ows.iter_rows() for c in row if c.comment is not None]
            rules = sorted(((r.priority or 0, r) for cf in ows.conditional_formatting for r in cf.rules),
                           key=lambda t: t[0])
            state = {"visible": "Visible", "hidden": "Hidden", "veryHidden": "VeryHidden"}[ows.sheet_state]
            sheets.append({"name": sheet_name, "values": values, "pictures": [], "tables": [], "charts": [],
                           "shapes": [], "notes": notes, "visibility": state, "print_area": None,
                           "_cf": [_rule_entry(r) for _, r in rules]})
    finally:
        cal.close()
    data = {"client": "Office.js", "version": xw.__version__,
            "book": {"name": name or str(path), "active_sheet_index": 0, "selection": "A1"},
            "names": [], "sheets": sheets}
    return json.loads(json.dumps(data))  # what travels is JSON


def owner_file(path: Path) -> Path:
    return path.parent / f"~${path.name}"


@pytest.fixture(scope="module")
def remote() -> Iterator[Any]:
    """xlwings with its remote engine, plus the emulation of what Excel answers synchronously."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(LICENSE_ENV, "noncommercial")
        try:
            import xlwings as xw

            R = _remote_engine(xw)
        except Exception as e:  # ImportError, xlwings.LicenseError, AttributeError ...
            skip_or_fail(f"xlwings' remote engine is not available: {type(e).__name__}: {e}")
        from xlwings import main as M
        from xlwings.constants import MAX_COLUMNS, MAX_ROWS

        def conditional_formats(self: Any) -> Any:
            whole_sheet = self.shape == (MAX_ROWS, MAX_COLUMNS)
            return R.ConditionalFormats(self, self.sheet.api.get("_cf") if whole_sheet else None)

        mp.setattr(R.Range, "conditional_formats", property(conditional_formats))
        mp.setattr(R.Note, "text", property(lambda self: (self._entry or {}).get("_text")))

        opened: list[Path] = []
        original_open = M.Books.open

        def books_open(self: Any, fullname: Any = None, *args: Any, json: Any = None, **kw: Any) -> Any:
            if self.impl.app.engine.type == "remote" and fullname is not None and json is None:
                p = Path(fullname)
                opened.append(p)
                owner_file(p).write_text("Excel user")
                return original_open(self, json=payload(p))
            return original_open(self, fullname, *args, json=json, **kw)

        original_close = R.Book.close

        def book_close(self: Any) -> None:
            owner = owner_file(Path(self.api["book"]["name"]))
            original_close(self)
            owner.unlink(missing_ok=True)

        mp.setattr(M.Books, "open", books_open)
        mp.setattr(R.Book, "close", book_close)
        yield type("Remote", (), {"xw": xw, "R": R, "opened": opened})


def open_book(remote: Any, path: Path) -> Any:
    """The workbook at ``path`` as an open remote Book (its Excel owner file created)."""
    owner_file(path).write_text("Excel user")
    return remote.xw.Book(json=payload(path))


def actions(book: Any) -> list[dict[str, Any]]:
    return list(book.json()["actions"])


def alerts(book: Any) -> list[tuple[str, str]]:
    """(text, mode) of every message box."""
    return [(a["args"][0], a["args"][3]) for a in actions(book) if a["func"] == "alert"]


# == replaying actions with openpyxl ===============================================================


class Replay:
    """Applies remote-engine actions to an .xlsx as Excel would (the subset the add-in emits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wb = openpyxl.load_workbook(path, rich_text=True)
        self.alerts: list[str] = []

    def run(self, acts: list[dict[str, Any]]) -> Replay:
        for a in acts:
            handler = getattr(self, "_" + a["func"], None)
            assert handler is not None, f"the replayer does not know the action {a['func']}: add it"
            handler(a)
        return self

    def save(self) -> Path:
        self.wb.save(self.path)
        return self.path

    def _ws(self, a: dict[str, Any]) -> Any:
        return self.wb.worksheets[a["sheet_position"]]

    def _cells(self, a: dict[str, Any]) -> Iterator[Any]:
        ws = self._ws(a)
        for r in range(a["row_count"]):
            for c in range(a["column_count"]):
                yield ws.cell(row=a["start_row"] + 1 + r, column=a["start_column"] + 1 + c)

    def _ref(self, a: dict[str, Any]) -> str:
        first = f"{get_column_letter(a['start_column'] + 1)}{a['start_row'] + 1}"
        last = f"{get_column_letter(a['start_column'] + a['column_count'])}{a['start_row'] + a['row_count']}"
        return first if first == last else f"{first}:{last}"

    def _setScreenUpdating(self, a: dict[str, Any]) -> None:
        pass

    def _alert(self, a: dict[str, Any]) -> None:
        self.alerts.append(a["args"][0])

    def _sheetDelete(self, a: dict[str, Any]) -> None:
        del self.wb[self._ws(a).title]

    def _addSheet(self, a: dict[str, Any]) -> None:
        ix, name = a["args"]
        self.wb.create_sheet(name, ix)

    def _activateSheet(self, a: dict[str, Any]) -> None:
        ix = a["args"][0]
        self.wb.active = ix
        for i, ws in enumerate(self.wb.worksheets):
            ws.sheet_view.tabSelected = i == ix

    def _deleteConditionalFormat(self, a: dict[str, Any]) -> None:
        ws = self._ws(a)
        formula = (a["args"][1].get("formula") or "").lstrip("=")
        kept = ConditionalFormattingList()
        done = False
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                if not done and rule.formula and str(rule.formula[0]) == formula:
                    done = True  # Excel deletes the rule from every range it applies to
                    continue
                kept._cf_rules.setdefault(cf, []).append(rule)
        assert done, f"no rule {formula} on {ws.title}"
        ws.conditional_formatting = kept

    def _addConditionalFormat(self, a: dict[str, Any]) -> None:
        entry = a["args"][0]
        assert entry["type"] == "Custom"
        fill = entry["fill_color"].lstrip("#").upper()
        font = entry["font_color"].lstrip("#").upper()
        dxf = DifferentialStyle(fill=PatternFill(start_color=fill, end_color=fill, fill_type="solid"),
                                font=Font(color=font))
        ws = self._ws(a)
        for cf in ws.conditional_formatting:  # Excel puts a rule added from code at the top of the order
            for r in cf.rules:
                r.priority = (r.priority or 0) + 1
        rule = Rule(type="expression", dxf=dxf, formula=[entry["formula"].lstrip("=")])
        rule.priority = 1
        ws.conditional_formatting.add(self._ref(a), rule)

    def _deleteNote(self, a: dict[str, Any]) -> None:
        self._ws(a)[a["args"][0].replace("$", "")].comment = None

    def _addNote(self, a: dict[str, Any]) -> None:
        address, text = a["args"]
        cell = self._ws(a)[address.replace("$", "")]
        assert cell.comment is None, "Excel refuses a second note on a cell"
        cell.comment = Comment(text, EXCEL_USER)

    def _setValues(self, a: dict[str, Any]) -> None:
        ws = self._ws(a)
        for r, row in enumerate(a["values"]):
            for c, v in enumerate(row):
                if v is None or v == "":
                    continue
                cell = ws.cell(row=a["start_row"] + 1 + r, column=a["start_column"] + 1 + c)
                if isinstance(v, str):
                    assert v.startswith("'"), f"Excel would not keep {v!r} as typed"
                    cell.value = v[1:]  # Excel's text prefix is not part of the value
                    cell.data_type = "s"
                else:
                    cell.value = v

    def _setFontProperty(self, a: dict[str, Any]) -> None:
        prop, value = a["args"]
        for cell in self._cells(a):
            f = copy.copy(cell.font)
            if prop == "color":
                f = Font(name=f.name, size=f.size, bold=f.bold, italic=f.italic, underline=f.underline,
                         color=value.lstrip("#").upper())
            else:
                setattr(f, {"bold": "b", "italic": "i", "size": "sz"}.get(prop, prop), value)
            cell.font = f

    def _setRangeColor(self, a: dict[str, Any]) -> None:
        color = a["args"][0].lstrip("#").upper()
        for cell in self._cells(a):
            cell.fill = PatternFill(start_color=color, end_color=color, fill_type="solid")

    def _setColumnWidth(self, a: dict[str, Any]) -> None:
        ws = self._ws(a)
        for c in range(a["column_count"]):
            ws.column_dimensions[get_column_letter(a["start_column"] + 1 + c)].width = a["args"][0]

    def _setVerticalAlignment(self, a: dict[str, Any]) -> None:
        for cell in self._cells(a):
            cell.alignment = Alignment(horizontal=cell.alignment.horizontal, wrap_text=cell.alignment.wrap_text,
                                       vertical=a["args"][0].lower())

    def _setWrapText(self, a: dict[str, Any]) -> None:
        for cell in self._cells(a):
            cell.alignment = Alignment(horizontal=cell.alignment.horizontal, vertical=cell.alignment.vertical,
                                       wrap_text=bool(a["args"][0]))

    def _addHyperlink(self, a: dict[str, Any]) -> None:
        address, text, _tip = a["args"]
        cell = next(self._cells(a))
        assert address.startswith("#"), address
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=address[1:], display=text)
        cell.value = text  # Excel shows TextToDisplay in the cell
        cell.data_type = "s"

    def _freezePaneAtRange(self, a: dict[str, Any]) -> None:
        m = re.fullmatch(r"1:(\d+)", a["args"][0])
        assert m, a["args"]
        self._ws(a).freeze_panes = f"A{int(m.group(1)) + 1}"


# == what to compare ===============================================================================


def _rgb(color: Any) -> str:
    return str(color.rgb)[-6:].upper() if color is not None and color.rgb else ""


def highlights(wb: Any) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(sheet, cell) -> (severity, fill, font) of tracker's highlight rules; a cell covered twice fails."""
    out: dict[tuple[str, str], tuple[str, str, str]] = {}
    for ws in wb.worksheets:
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                f = str(rule.formula[0]) if rule.formula else ""
                if not f.startswith(RULE_MARK):
                    continue
                sev = f[len(RULE_MARK):].rstrip('")')
                look = (sev, _rgb(rule.dxf.fill.fgColor if rule.dxf.fill.fgColor.rgb != "00000000"
                                  else rule.dxf.fill.start_color), _rgb(rule.dxf.font.color))
                for rng in str(cf.sqref).split():
                    c1, r1, c2, r2 = range_boundaries(rng)
                    for r in range(r1, r2 + 1):
                        for c in range(c1, c2 + 1):
                            key = (ws.title, f"{get_column_letter(c)}{r}")
                            assert key not in out, f"{key} highlighted twice"
                            out[key] = look
    return out


def our_rules_first(wb: Any) -> bool:
    """Every sheet's tracker rules come before its own rules in priority order."""
    for ws in wb.worksheets:
        rules = sorted((r.priority or 0, bool(r.formula) and str(r.formula[0]).startswith(RULE_MARK))
                       for cf in ws.conditional_formatting for r in cf.rules)
        flags = [ours for _, ours in rules]
        if flags != sorted(flags, reverse=True):
            return False
    return True


def notes(wb: Any) -> dict[tuple[str, str], str]:
    return {(ws.title, c.coordinate): c.comment.text for ws in wb.worksheets
            for row in ws.iter_rows() for c in row if c.comment is not None}


def values(ws: Any) -> list[list[Any]]:
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows


def validation_sheet(wb: Any) -> dict[str, Any]:
    ws = wb[L.VALIDATION]
    return {
        "values": values(ws),
        "links": {c.coordinate: c.hyperlink.location for row in ws.iter_rows() for c in row if c.hyperlink},
        "severity_fills": [(c.row, _rgb(c.fill.start_color), _rgb(c.font.color), bool(c.font.b))
                           for c in ws["A"][4:] if c.value],
        "header": [(_rgb(c.fill.start_color), _rgb(c.font.color), bool(c.font.b)) for c in ws[4] if c.value],
        "freeze": ws.freeze_panes,
    }


def assert_same_marks(addin: Path, cli: Path) -> None:
    """The add-in's replayed workbook shows what ``tracker validate --mark`` wrote."""
    a = openpyxl.load_workbook(addin, rich_text=True)
    c = openpyxl.load_workbook(cli, rich_text=True)
    assert a.sheetnames == c.sheetnames
    assert a.sheetnames[0] == L.VALIDATION and a.active.title == L.VALIDATION == c.active.title
    assert validation_sheet(a) == validation_sheet(c)
    assert highlights(a) == highlights(c)
    assert our_rules_first(a) and our_rules_first(c)
    # Workbook's own rules: untouched on both sides.
    for ws in a.worksheets:
        own = lambda w: sorted((str(cf.sqref), tuple(map(str, r.formula or ())))  # noqa: E731
                               for cf in w.conditional_formatting for r in cf.rules
                               if not (r.formula and str(r.formula[0]).startswith(RULE_MARK)))
        assert own(ws) == own(c[ws.title]), ws.title
    assert notes(a) == notes(c)
    for ws in a.worksheets:
        if ws.title != L.VALIDATION:
            assert values(ws) == values(c[ws.title]), ws.title


def cli_mark(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker", "validate", "--mark", *extra, str(path)],
                          capture_output=True, text=True, timeout=300, cwd=path.parent)


def messy(tmp: Path, name: str = "learner.xlsx", uln: str = "1000000044") -> Path:
    """A learner workbook with errors, warnings and information, formula-looking text, several
    issues on one cell, and issues without a cell."""
    rec = complete_record(L2, "face-to-face")
    e = dict(rec.entries)
    e["K1.1"] = dataclasses.replace(e["K1.1"], evidence_refs=())                       # error
    e["K1.2"] = dataclasses.replace(e["K1.2"], method="Observation")                   # warning
    e["K1.3"] = dataclasses.replace(e["K1.3"], evidence_refs=(), method="Observation")  # both
    e["S9.4"] = signed(L2, "S9.4", 99, assessor="=1+1")                                # pathway + odd signer
    del e["K2.1"]                                                                      # not met
    learner = dataclasses.replace(rec.learner, employer="=cmd|' /C calc'!A0", uln=uln)  # default: bad check digit
    rec = dataclasses.replace(rec, entries=e, learner=learner)
    return write(tmp, L2, rec, name=name, workbook_id="wb-addin", created=dt.datetime(2024, 1, 8, 9, 0))


# == Validate on a learner workbook ================================================================


def test_validate_marks_the_open_book_as_the_cli_marks_the_file(remote: Any, tmp_path: Path) -> None:
    src = messy(tmp_path)
    book = open_book(remote, src)
    task = X.validate(book)
    assert isinstance(task, Task)
    expected = validate_file(src)
    assert sorted(i.to_dict().items() for i in task.issues) == sorted(i.to_dict().items() for i in expected.issues)
    assert {i.severity.value for i in task.issues} == {"error", "warning", "info"}

    acts = actions(book)
    funcs = [a["func"] for a in acts]
    assert funcs.count("setValues") == 1, "the Validation sheet is written in one bulk call"
    assert funcs.count("addSheet") == 1 and funcs[-1] == "alert"
    (text, mode), = alerts(book)
    assert mode == "info"
    counts = task.counts
    assert f"{counts['error']} errors" in text and "not in a centre folder" in text

    addin = tmp_path / "addin.xlsx"
    shutil.copy(src, addin)
    Replay(addin).run(acts).save()
    result = cli_mark(src)
    assert result.returncode == 1, result.stderr  # errors found
    assert_same_marks(addin, src)
    wb = openpyxl.load_workbook(addin)
    hl = highlights(wb)
    sheet, cell = at(L2, "K1.3", "evidence_refs")
    assert hl[(sheet, cell)] == ("error", FILLS[next(s for s in FILLS if s.value == "error")],
                                 FONTS[next(s for s in FONTS if s.value == "error")])
    assert wb[L.VALIDATION]["A1"].value == TITLE
    employer = cover_at("employer")
    assert wb[employer[0]][employer[1]].value == "=cmd|' /C calc'!A0"  # text stays text


def test_validate_again_replaces_old_marks_and_keeps_other_notes(remote: Any, tmp_path: Path) -> None:
    src = messy(tmp_path)
    assert cli_mark(src).returncode == 1  # marked once by the CLI
    # Someone's own note on a cell that is highlighted again, and a fix of one problem.
    sheet, cell = at(L2, "K1.1", "evidence_refs")
    wb = openpyxl.load_workbook(src, rich_text=True)
    wb[sheet][cell].comment = Comment("Chase the assessor", "Ann Admin")
    wb[sheet][cell].value = None
    fixed_sheet, fixed_cell = at(L2, "K1.2", "method")
    wb[fixed_sheet][fixed_cell].value = "Worksheet"
    wb.save(src)

    book = open_book(remote, src)
    task = X.validate(book)
    assert isinstance(task, Task)
    funcs = [a["func"] for a in actions(book)]
    assert "sheetDelete" in funcs and "deleteConditionalFormat" in funcs and "deleteNote" in funcs
    addin = tmp_path / "addin.xlsx"
    shutil.copy(src, addin)
    Replay(addin).run(actions(book)).save()
    assert cli_mark(src).returncode == 1
    assert_same_marks(addin, src)
    n = notes(openpyxl.load_workbook(addin))
    assert n[(sheet, cell)] == "Chase the assessor"
    assert (fixed_sheet, fixed_cell) not in highlights(openpyxl.load_workbook(addin))


def test_validate_twice_in_excel_gives_the_same_marks(remote: Any, tmp_path: Path) -> None:
    src = messy(tmp_path)
    once = tmp_path / "once.xlsx"
    shutil.copy(src, once)
    book = open_book(remote, once)
    X.validate(book)
    Replay(once).run(actions(book)).save()
    # The notes Excel wrote carry its user's name, not tracker's: they are still recognised.
    assert all(t for t in notes(openpyxl.load_workbook(once)).values())
    twice = tmp_path / "twice.xlsx"
    shutil.copy(once, twice)
    book2 = open_book(remote, twice)
    X.validate(book2)
    Replay(twice).run(actions(book2)).save()
    a, b = openpyxl.load_workbook(once, rich_text=True), openpyxl.load_workbook(twice, rich_text=True)
    assert validation_sheet(a) == validation_sheet(b)
    assert highlights(a) == highlights(b)
    assert notes(a) == notes(b)


def test_a_validation_sheet_tracker_did_not_write_is_left_alone(remote: Any, tmp_path: Path) -> None:
    src = messy(tmp_path)
    wb = openpyxl.load_workbook(src)
    wb.create_sheet(L.VALIDATION)["A1"] = "My own checks"
    wb.save(src)
    book = open_book(remote, src)
    assert X.validate(book) is None
    assert [a["func"] for a in actions(book)] == ["alert"]
    (text, mode), = alerts(book)
    assert mode == "critical" and "did not write" in text


def test_clean_workbook_gets_an_empty_validation_sheet(remote: Any, tmp_path: Path) -> None:
    src = write(tmp_path, L2, complete_record(L2, "face-to-face"), workbook_id="wb-clean")
    book = open_book(remote, src)
    task = X.validate(book)
    assert isinstance(task, Task)
    addin = tmp_path / "addin.xlsx"
    shutil.copy(src, addin)
    Replay(addin).run(actions(book)).save()
    cli_mark(src)
    assert_same_marks(addin, src)
    if not task.issues:
        assert "no problems found" in alerts(book)[0][0]


def test_a_foreign_workbook_is_not_marked(remote: Any, tmp_path: Path) -> None:
    p = tmp_path / "budget.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Budget"
    wb.save(p)
    book = open_book(remote, p)
    assert X.validate(book) is None
    assert [a["func"] for a in actions(book)] == ["alert"]
    assert "not a learner workbook" in alerts(book)[0][0]


# == in a centre folder ============================================================================


@pytest.fixture
def centre(tmp_path: Path) -> Any:
    from tracker.centre.create import init_centre
    from tracker.sample import sample_staff, write_register

    c, _ = init_centre(tmp_path / "centre", name="Test Centre", number="12345")
    staff = [s for s in sample_staff()]
    write_register(c.register, staff)
    return c


def test_in_a_centre_the_register_is_used(remote: Any, centre: Any, tmp_path: Path) -> None:
    src = messy(centre.inbox)
    book = open_book(remote, src)
    task = X.validate(book)
    assert isinstance(task, Task)
    with_register = validate_file(src, register=__import__("tracker.register", fromlist=["x"]).read_register(
        centre.register)[0])
    assert sorted(i.to_dict().items() for i in task.issues) == \
        sorted(i.to_dict().items() for i in with_register.issues)
    assert any(i.code.startswith("staff-") for i in task.issues)  # our signers are not on the register
    text = alerts(book)[0][0]
    assert f"centre register {centre.register}" in text
    addin = tmp_path / "addin.xlsx"
    shutil.copy(src, addin)
    Replay(addin).run(actions(book)).save()
    assert cli_mark(src, "--register", str(centre.register)).returncode == 1
    assert_same_marks(addin, src)


def test_a_workbook_carrying_xlwings_settings_is_not_placed_in_its_centre(remote: Any, centre: Any) -> None:
    # For an online workbook, xlwings' book.fullname maps the address to a folder with roots taken from
    # the workbook's own xlwings.conf sheet: such a workbook could choose the centre. Its location is
    # not used at all -- so no register, no roll-up from it.
    src = messy(centre.inbox)
    wb = openpyxl.load_workbook(src)
    conf = wb.create_sheet("xlwings.conf")
    conf["A1"], conf["B1"] = "SHAREPOINT_WIN", "C:\\elsewhere"
    conf.sheet_state = "veryHidden"
    wb.save(src)
    first = open_book(remote, src)
    task = X.validate(first)
    assert isinstance(task, Task)
    assert "structure-addin-settings" in {i.code for i in task.issues}
    assert "carries add-in settings or code (sheet 'xlwings.conf')" in alerts(first)[0][0]
    assert not any(i.code.startswith("staff-") for i in task.issues)  # the centre register was not used
    book = open_book(remote, src)
    assert X.rollup(book) is None
    text, mode = alerts(book)[0]
    assert mode == "critical" and "saved file" in text
    assert remote.opened == []


def test_the_register_workbook_is_checked_as_a_register(remote: Any, centre: Any) -> None:
    from tracker.register import STAFF_SHEET

    wb = openpyxl.load_workbook(centre.register)
    ws = wb[STAFF_SHEET]
    ws.cell(row=ws.max_row + 1, column=1, value="Nora Nobody")
    ws.cell(row=ws.max_row, column=2, value="juggler")
    wb.save(centre.register)
    book = open_book(remote, centre.register)
    task = X.validate(book)
    assert isinstance(task, Task) and task.learner == "Centre register"
    assert any(i.sheet == STAFF_SHEET for i in task.issues)
    assert any(a["func"] == "addConditionalFormat" for a in actions(book))


def test_validate_on_the_master_checks_the_inbox(remote: Any, centre: Any) -> None:
    messy(centre.inbox, "one.xlsx")
    write(centre.inbox, L2, complete_record(L2, "non-facing"), name="two.xlsx", workbook_id="wb-two")
    (centre.inbox / "broken.xlsx").write_bytes(b"not a workbook")
    book = open_book(remote, centre.master)
    report = X.validate(book)
    assert isinstance(report, Report)
    files = sorted(Path(t.file).name for t in report.tasks)
    assert files == ["broken.xlsx", "one.xlsx", "two.xlsx"]
    broken = next(t for t in report.tasks if t.file.endswith("broken.xlsx"))
    assert [i.code for i in broken.issues] == ["file-unreadable"]
    sv = next(a for a in actions(book) if a["func"] == "setValues")
    cells = [[v[1:] if isinstance(v, str) else v for v in r] for r in sv["values"]]  # without the "'"
    assert cells[3][:2] == ["File", "Severity"]
    rows = cells[4:]
    assert {r[0] for r in rows} == {"one.xlsx", "broken.xlsx"} | ({"two.xlsx"} if any(
        t.issues for t in report.tasks if t.file.endswith("two.xlsx")) else set())
    assert not any(a["func"] == "addHyperlink" for a in actions(book))
    text = alerts(book)[0][0]
    assert "3 files waiting in the inbox" in text
    # Nothing was merged: validate only looks.
    assert sorted(p.name for p in centre.inbox.iterdir()) == ["broken.xlsx", "one.xlsx", "two.xlsx"]


# == Roll up =======================================================================================


def _sheet_values(path: Path, sheet: str) -> list[list[Any]]:
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        return list(wb.get_sheet_by_name(sheet).to_python())
    finally:
        wb.close()


def test_rollup_closes_the_master_rolls_up_and_reopens_it(remote: Any, centre: Any) -> None:
    from tracker.centre.master import LEARNERS

    messy(centre.inbox, "one.xlsx", uln="1234567899")
    write(centre.inbox, L2, complete_record(L2, "non-facing"), name="two.xlsx", workbook_id="wb-two")
    remote.opened.clear()
    book = open_book(remote, centre.master)
    assert owner_file(centre.master).exists()  # "open in Excel": a roll-up now would refuse
    app = book.app
    result = X.rollup(book)
    assert result is not None and result.count("merged") == 2 and result.master_rebuilt
    assert book.impl.books is None, "the caller's book was closed"
    assert remote.opened == [centre.master]
    reopened = app.books.active
    assert reopened.fullname == str(centre.master)
    assert owner_file(centre.master).exists()  # open again
    # The reopened book shows the rebuilt master.
    names = {str(r[1]) for r in _sheet_values(centre.master, LEARNERS)[1:]}
    assert "Bob Learner" in names
    assert reopened.sheets[LEARNERS].used_range.value == \
        remote.xw.Book(json=payload(centre.master)).sheets[LEARNERS].used_range.value
    (text, mode), = alerts(reopened)
    assert mode == "info" and "2 merged" in text
    assert list(centre.inbox.iterdir()) == []


def test_rollup_failure_reopens_the_previous_master(remote: Any, centre: Any) -> None:
    from tracker.centre.folder import RollupLock

    messy(centre.inbox, "one.xlsx")
    before = centre.master.read_bytes()
    remote.opened.clear()
    book = open_book(remote, centre.master)
    app = book.app
    with RollupLock(centre):
        assert X.rollup(book) is None
    assert remote.opened == [centre.master]
    assert centre.master.read_bytes() == before
    (text, mode), = alerts(app.books.active)
    assert mode == "critical" and "another roll-up is already running" in text


def test_rollup_from_a_learner_workbook_opens_the_master(remote: Any, centre: Any) -> None:
    src = messy(centre.inbox, "one.xlsx")
    remote.opened.clear()
    book = open_book(remote, src)
    result = X.rollup(book)
    owner_file(src).unlink()
    assert result is not None and result.master_rebuilt
    assert remote.opened == [centre.master]


def test_rollup_outside_a_centre_says_so(remote: Any, tmp_path: Path) -> None:
    book = open_book(remote, messy(tmp_path))
    assert X.rollup(book) is None
    (text, mode), = alerts(book)
    assert mode == "critical" and "not in a centre folder" in text


# == New learner workbook / Open centre folder ======================================================


def test_new_workbook_in_a_centre(remote: Any, centre: Any) -> None:
    from tracker.workbook.reader import read_workbook

    src = messy(centre.inbox)
    remote.opened.clear()
    path = X.new_workbook(open_book(remote, src))
    assert path == centre.root / "New learner 603-4687-5.xlsx"
    assert remote.opened == [path]
    model = read_workbook(path)
    assert model.qualification_number == L2.number and not model.learner_name
    assert X.new_workbook(open_book(remote, src)) == centre.root / "New learner 603-4687-5 (2).xlsx"


def test_new_workbook_needs_a_qualification(remote: Any, tmp_path: Path) -> None:
    p = tmp_path / "budget.xlsx"
    openpyxl.Workbook().save(p)
    book = open_book(remote, p)
    assert X.new_workbook(book) is None
    assert "tracker new" in alerts(book)[0][0]


def test_open_centre_folder(remote: Any, centre: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Path] = []
    monkeypatch.setattr(X, "_show_folder", shown.append)
    assert X.open_centre_folder(open_book(remote, messy(centre.inbox))) == centre.root
    assert X.open_centre_folder(open_book(remote, messy(tmp_path))) == tmp_path
    assert shown == [centre.root, tmp_path]


def test_report_writes_the_centre_pdfs_and_shows_their_folder(remote: Any, centre: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Path] = []
    monkeypatch.setattr(X, "_show_folder", shown.append)
    assert X.report(open_book(remote, messy(centre.inbox))) == centre.root / "reports"
    assert (centre.root / "reports" / "centre-pack.pdf").read_bytes().startswith(b"%PDF")
    assert shown == [centre.root / "reports"]
    assert X.report(open_book(remote, messy(tmp_path))) is None  # not in a centre: a message, no files
    assert not (tmp_path / "reports").exists()


# == reading the open book =========================================================================


def test_read_book_keeps_positions_types_and_errors(remote: Any, tmp_path: Path) -> None:
    from tracker.workbook.model import CellError

    p = tmp_path / "w.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["C5"] = "x"
    ws["D6"] = dt.datetime(2025, 1, 6)
    ws["E7"] = 12
    ws["F8"] = "#N/A"
    wb.save(p)
    data = payload(p)
    # Office.js reports the used range where it starts (C5), with values anchored at A1.
    data["sheets"][0]["used_range_address"] = "$C$5:$F$8"
    book = remote.xw.Book(json=data)
    names, grids, notes_ = X.read_book(book)
    assert names == ["S"] and notes_ == []
    g = grids["S"]
    assert len(g) == 8 and all(len(r) == 6 for r in g)
    assert g[4][2] == "x" and g[5][3] == dt.datetime(2025, 1, 6) and g[6][4] == 12
    assert isinstance(g[7][5], CellError) and g[0][0] == ""


# == helpers =======================================================================================


@given(st.sets(st.tuples(st.integers(0, 30), st.integers(1, 60)), max_size=40))
def test_cell_runs_cover_exactly_the_cells(cells: set[tuple[int, int]]) -> None:
    refs = [L.cell_ref(r - 1, c) for c, r in cells]
    runs = X.cell_runs(refs)
    covered = []
    for rng in runs:
        c1, r1, c2, r2 = range_boundaries(rng)
        assert c1 == c2
        covered += [(c1 - 1, r) for r in range(r1, r2 + 1)]
    assert sorted(covered) == sorted(cells)
    assert len(covered) == len(set(covered))


def test_is_mark_note() -> None:
    assert is_mark_note("ERROR: K1.1 is marked Met but has no evidence [completion-met-no-evidence]")
    assert is_mark_note("ERROR: a [x-y]\nWARNING: b [z]")
    assert is_mark_note("INFO: " + "x" * 30 + "…")
    assert not is_mark_note("Chase the assessor")
    assert not is_mark_note("ERROR: a [x]\nand my own remark")
    assert not is_mark_note(None)


@pytest.mark.parametrize("text", ["=1+1", "+44 7700", "-dash", "@at", "9", "01/02/2025", "1 Jan 2025", "TRUE",
                                  "'quoted", "Unit 9", "K1.1 is marked Met"])
def test_every_text_is_written_with_the_text_prefix(text: str) -> None:
    assert X.excel_text(text) == "'" + text
    assert X.excel_text("") is None and X.excel_text(None) is None


# == the package and CI ============================================================================


def test_the_package_never_imports_xlwings_pro() -> None:
    for f in (REPO / "tracker").rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"xlwings\.pro|from\s+xlwings\s+import\s+[^\n]*\bpro\b|_xlremote", text), f


def test_the_module_imports_without_xlwings() -> None:
    code = ("import sys; sys.modules['xlwings'] = None; import tracker.addin.excel as t; "
            "assert all(callable(getattr(t, f)) for f in ('validate', 'rollup', 'new_workbook', "
            "'open_centre_folder'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_remote_engine_tests_cannot_be_skipped_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    # The skip of the fixture turns into a failure where the tests must run ...
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        skip_or_fail("test")
    monkeypatch.delenv("CI")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception):
        skip_or_fail("test")
    monkeypatch.delenv(REQUIRE_ENV)
    with pytest.raises(pytest.skip.Exception):
        skip_or_fail("test")


def test_remote_engine_is_available_with_the_noncommercial_key() -> None:
    # ... and in a fresh interpreter, the key makes xlwings register its remote engine at import.
    env = {k: v for k, v in os.environ.items() if k != LICENSE_ENV}
    env[LICENSE_ENV] = "noncommercial"
    code = ("import xlwings as xw; assert 'remote' in [e.name for e in xw.engines], xw.engines; "
            "b = xw.Book(json={'version': xw.__version__, 'client': 'Office.js', 'book': {'name': 'B', "
            "'active_sheet_index': 0, 'selection': 'A1'}, 'names': [], 'sheets': [{'name': 'S', "
            "'values': [['x']], 'pictures': [], 'tables': []}]}); b.sheets[0]['A1'].value = 1; "
            "assert b.json()['actions'][0]['func'] == 'setValues'")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        skip_or_fail(f"xlwings' remote engine does not work with the noncommercial key: {result.stderr[-500:]}")


def test_issue_workbooks_button_reissues_and_opens_the_outbox(remote: Any, centre: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue workbooks calls the library function behind `tracker issue` (stamped workbooks in
    outbox/<assessor>/), opens the outbox and says how many it wrote."""
    from tracker.centre.rollup_steps import rollup

    shown: list[Path] = []
    monkeypatch.setattr(X, "_show_folder", shown.append)
    write(centre.inbox, L2, complete_record(L2, "non-facing"), name="two.xlsx", workbook_id="wb-two")
    rollup(centre, workers=1)
    book = open_book(remote, centre.master)
    assert X.issue_workbooks(book) == centre.root / "outbox"
    (issued,) = list((centre.root / "outbox").glob("*/*.xlsx"))
    from tracker.workbook.reader import read_workbook

    assert read_workbook(issued).meta["base"].count("/") == 3
    assert shown == [centre.root / "outbox"]
    assert alerts(book)[0][0].startswith("1 workbook issued into")
