"""Read a learner workbook back into a :class:`~tracker.workbook.model.LearnerWorkbook`.

Reading goes through python-calamine (Rust): it reads cached values only -- formulas are never
evaluated, macros never run -- and it is several times faster than openpyxl. Every file first
passes :func:`tracker.workbook.safety.check_spreadsheet_file` (size, zip-bomb, entity and row
limits; .xlsx, .ods and .xls alike), so the parser only ever sees files it can handle in bounded time and memory.

The reader locates things by their text, never by fixed cells:

* the cover values by their labels (``Learner name`` ...), value in the next cell to the right;
* a unit sheet by its criterion table's header row (any sheet; renamed sheets still count),
  each column by its header text, so added, moved or re-ordered columns and rows still read;
* the evidence log by its header row (``Evidence ref`` ...);
* columns an assessor added to a criterion table or the evidence log (a header the layout does
  not know, e.g. "Assessor comments" typed right of the table): kept with each row as text
  (``CriterionRow.extra``, ``EvidenceRow.extra``), so the roll-up stores them and ``tracker issue``
  writes them back;
* the hidden metadata by its ``key``/``value`` rows.

Values are normalised per column kind (see :mod:`tracker.workbook.layout`): dates from real
dates, Excel serial numbers or UK text forms (dd/mm/yyyy ...); dropdown values to their
canonical spelling in any letter case; evidence refs split on commas, semicolons and line breaks.
Anything that cannot be understood keeps its raw value with a ``problem`` for the checks.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from itertools import compress
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.errors import UnreadableWorkbook
from tracker.spec.models import Qualification
from tracker.workbook import layout as L
from tracker.workbook.identity import resolve_pathway
from tracker.workbook.model import Cell, CellError, CriterionRow, EvidenceRow, Hidden, LearnerWorkbook, UnitSheet

if TYPE_CHECKING:
    from tracker.workbook.safety import SafeInfo

# How far the reader looks for labels and header rows before giving up on a sheet.
_SCAN_ROWS = 60
_SCAN_COLS = 40
_EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 1 = 1900-01-01 once Excel's 1900 leap bug is allowed for

_UNIT_HEADER_BY_TEXT = {label.casefold(): key for key, label in L.UNIT_HEADER_FIELDS}
_COVER_BY_TEXT = {label.casefold(): key for key, label in L.COVER_FIELDS}
_TABLE_BY_TEXT = {c.header.casefold(): c for c in L.UNIT_TABLE_COLUMNS}
_EVIDENCE_BY_TEXT = {c.header.casefold(): c for c in L.EVIDENCE_COLUMNS}
_OTJ_BY_TEXT = {c.header.casefold(): c for c in L.OTJ_COLUMNS}
_OTJ_KEYS = frozenset(h.casefold() for h in L.OTJ_KEY_HEADERS)
_REF_HEADER = L.column_by_key(L.CRITERION_COLUMNS, "ref").header.casefold()
_EVIDENCE_REF_HEADER = L.column_by_key(L.EVIDENCE_COLUMNS, "ref").header.casefold()
_CHOICES = {c.key: {v.casefold(): v for v in c.choices}
            for c in (*L.UNIT_TABLE_COLUMNS, *L.EVIDENCE_COLUMNS, *L.OTJ_COLUMNS) if c.choices}
_COVER_CHOICES = {"english_maths": {v.casefold(): v for v in L.ENGLISH_MATHS}}
_REFS_SPLIT = re.compile(r"[,;\n]+")

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+)?$")
_D_MON_Y = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[\s\-]+([A-Za-z]{3,9})\.?,?[\s\-]+(\d{2}|\d{4})$")


def _header_text(v: Any) -> str:
    # Called on every cell of every scanned row: the cache makes repeated texts free.
    return _fold(v) if type(v) is str and v else ""


@lru_cache(maxsize=8192)
def _fold(v: str) -> str:
    return " ".join(v.split()).casefold()


# -- value normalisation -------------------------------------------------------------------------


def parse_date(raw: Any) -> tuple[dt.date | None, str | None]:
    """(date, problem) from a cell value: a date, an Excel serial number, or UK text."""
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, dt.datetime):
        return raw.date(), None
    if isinstance(raw, dt.date):
        return raw, None
    if isinstance(raw, bool):
        return None, f"{raw} is not a date"
    if isinstance(raw, (int, float)):
        # A serial number: cells typed as dates in a sheet whose format was lost.
        if 1 <= raw < 2958466:
            return _EXCEL_EPOCH + dt.timedelta(days=int(raw)), None
        return None, f"{raw} is not a date"
    if isinstance(raw, CellError):
        return None, f"formula error {raw}"
    text = str(raw).strip()
    if not text:
        return None, None
    try:
        if m := _DMY.match(text):
            d, mo, y = (int(g) for g in m.groups())
            return dt.date(_year(y), mo, d), None
        if m := _YMD.match(text):
            y, mo, d = (int(g) for g in m.groups())
            return dt.date(y, mo, d), None
        if m := _D_MON_Y.match(text):
            month = _MONTHS.get(m.group(2)[:3].casefold())
            if month:
                return dt.date(_year(int(m.group(3))), month, int(m.group(1))), None
    except ValueError:
        return None, f"'{text}' is not a real date"
    return None, f"'{text}' is not a date (write it as dd/mm/yyyy)"


def _year(y: int) -> int:
    # Two-digit years: 00-69 -> 2000s, 70-99 -> 1900s (Excel's own rule).
    if y >= 100:
        return y
    return 2000 + y if y < 70 else 1900 + y


def _text(raw: Any) -> tuple[str | None, str | None]:
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, bool):
        return ("TRUE" if raw else "FALSE"), None
    if isinstance(raw, float):
        return (str(int(raw)) if raw.is_integer() else repr(raw)), None
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat(), None
    if isinstance(raw, (int, dt.date)):
        return str(raw), None
    if isinstance(raw, CellError):
        return None, f"formula error {raw}"
    text = str(raw).strip()
    return (text or None), None


_HOURS_TEXT = re.compile(
    r"^(?:(\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\.?\s*)?(?:(\d+)\s*(?:m|mins?|minutes?)?\.?)?$", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_HOURS_COLON = re.compile(r"^(\d+):([0-5]\d)$")


def hours_in_text(text: str) -> float | None:
    """The hours a person meant by text such as "2h30", "2.5 hours", "2:30", "45 mins" (None when
    it does not read as hours). Only used to *suggest* the number in an issue: text is never
    counted as hours, because "2.30" typed as text could mean 2.3 or 2 and a half."""
    t = " ".join(text.split())
    m = _HOURS_COLON.match(t)
    if m:
        return int(m.group(1)) + int(m.group(2)) / 60
    m = _HOURS_TEXT.match(t)
    if not m or not t or (m.group(1) is None and not re.search(r"[a-z]", t, re.IGNORECASE)):
        return None
    h = float(m.group(1) or 0)
    minutes = int(m.group(2) or 0)
    if m.group(1) is None:
        return minutes / 60  # "45 mins"
    return h + minutes / 60


def parse_hours(raw: Any) -> tuple[float | None, str | None]:
    """(hours, problem) for an Hours cell: a number; text is a problem that says what to type."""
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, bool):
        return None, f"'{raw}' is not a number of hours"
    if isinstance(raw, (int, float)):
        return float(raw), None
    if isinstance(raw, CellError):
        return None, f"formula error {raw}"
    if isinstance(raw, (dt.time, dt.timedelta)):
        # A cell formatted as a time: Excel stores hh:mm as a fraction of a day.
        return None, "a time of day, not a number of hours (type e.g. 2.5 for two and a half hours)"
    text = str(raw).strip()
    if not text:
        return None, None
    if _PLAIN_NUMBER.match(text):
        return float(text), None  # a plain number stored as text (e.g. pasted): unambiguous
    meant = hours_in_text(text)
    if meant is not None:
        shown = f"{meant:.2f}".rstrip("0").rstrip(".")
        return None, f"hours typed as text '{text}' (type the number {shown})"
    return None, f"'{text}' is not a number of hours"


def normalise(kind: str, key: str, raw: Any) -> tuple[Any, str | None]:
    """(value, problem) for a raw cell value in a column of ``kind`` with model ``key``."""
    if kind == "date":
        return parse_date(raw)
    if kind == "hours":
        return parse_hours(raw)
    text, problem = _text(raw)
    if text is None:
        return None, problem
    if kind == "choice":
        return _CHOICES.get(key, {}).get(_fold(text), text), None
    if kind == "refs":
        return tuple(r.strip() for r in _REFS_SPLIT.split(text) if r.strip()), None
    if kind == "int":
        try:
            return int(float(text)), None
        except ValueError:
            return text, f"'{text}' is not a whole number"
    return text, None


# -- the reader ----------------------------------------------------------------------------------


# File name endings calamine takes each format by (it chooses its parser by the name).
_SUFFIXES = {"xlsx": (".xlsx", ".xlsm"), "ods": (".ods",), "xls": (".xls",)}


def _open(path: Path) -> tuple[Any, SafeInfo]:
    """Run the safety gate, then open with calamine; any failure becomes UnreadableWorkbook.

    .xlsx/.xlsm, .ods (LibreOffice's own format) and .xls (Excel 97-2003) are read alike; the
    gate tells them apart by content. calamine picks its parser by the file name, so a file
    whose name does not match its content (an .ods saved as "x.xlsx") is handed over as bytes,
    which calamine identifies by content. A workbook holding numbers the parser cannot convert
    (``SafeInfo.bad_numbers``) is opened from a copy in memory with those values left out (see
    :mod:`tracker.workbook.gridscan`).
    """
    from tracker.workbook.safety import check_spreadsheet_file

    info = check_spreadsheet_file(path)
    import python_calamine

    try:
        if info.bad_numbers:
            return python_calamine.CalamineWorkbook.from_filelike(_without_bad_numbers(info)), info
        if path.suffix.lower() in _SUFFIXES.get(info.format, ()) and _utf8_name(path):
            return python_calamine.CalamineWorkbook.from_path(str(path)), info
        # A name that does not match the content, or is not UTF-8 (Linux allows any bytes, and
        # such a name cannot cross into Rust as a path): the bytes instead (the gate bounded them).
        with open(path, "rb") as f:
            return python_calamine.CalamineWorkbook.from_filelike(f), info
    except BaseException as e:  # calamine raises several unrelated types for corrupt files
        _reraise_unless_parser_error(e)
        raise UnreadableWorkbook(path, f"not a readable spreadsheet ({_short(e)})") from None


def _utf8_name(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reraise_unless_parser_error(e: BaseException) -> None:
    """Re-raise ``e`` unless it is how python-calamine fails on a bad file.

    A Rust panic inside python-calamine (a date cell holding -1e20, say) reaches Python as pyo3's
    ``PanicException``, which derives from BaseException so that ``except Exception`` does not
    swallow it; its class lives in a module pyo3 creates at run time, so it is known by name. It
    is a failure to read this one file. MemoryError, KeyboardInterrupt and SystemExit propagate.
    """
    if isinstance(e, MemoryError) or (not isinstance(e, Exception) and type(e).__name__ != "PanicException"):
        raise e  # out of memory is the caller's (the isolation layer says so); not this file's fault alone


def _without_bad_numbers(info: SafeInfo) -> Any:
    """The workbook as an in-memory zip whose trapped numeric cells have no value."""
    import zipfile

    from tracker.workbook.gridscan import blank_numbers

    part_of = {name: part.lower() for name, part in info.sheets}
    refs: dict[str, set[str]] = {}
    texts: dict[str, set[str]] = {}
    for sheet, ref, text, _why in info.bad_numbers:
        part = part_of.get(sheet)
        if part is None:
            continue
        (refs.setdefault(part, set()).add(ref) if ref else texts.setdefault(part, set()).add(text))
    out = io.BytesIO()
    # The gate has verified every member's size and CRC, so reading them whole is bounded.
    with zipfile.ZipFile(info.path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            key = item.filename.lower()
            if key in refs or key in texts:
                data = blank_numbers(data, frozenset(refs.get(key, ())), frozenset(texts.get(key, ())))
            zout.writestr(zipfile.ZipInfo(item.filename, item.date_time), data)
    out.seek(0)
    return out


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


def _grid(wb: Any, path: Path, name: str) -> list[list[Any]]:
    try:
        rows: list[list[Any]] = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        return rows
    except BaseException as e:
        _reraise_unless_parser_error(e)
        raise UnreadableWorkbook(path, f"cannot read the sheet ({_short(e)})", sheet=name) from None


def read_workbook(path: str | Path, qualification: Qualification | None = None) -> LearnerWorkbook:
    """Read the learner workbook at ``path``.

    ``qualification`` resolves the cover's pathway text to a pathway id; when None the pathway is
    left None (the reader never queries the catalogue: :func:`tracker.workbook.identity.identify`
    finds the qualification and resolves the pathway).
    Raises :class:`UnreadableWorkbook` for a file that is not a readable workbook.
    """
    p = Path(path)
    wb, info = _open(p)
    try:
        names: list[str] = list(wb.sheet_names)
        grids = {name: _grid(wb, p, name) for name in names}
    finally:
        wb.close()
    _restore_error_cells(grids, info.error_cells)
    book = read_grids(p, names, grids, qualification, has_macros=info.has_macros, bad_numbers=info.bad_numbers)
    book.hidden = {name: Hidden(frozenset(rows), cols) for name, rows, cols in info.hidden}
    return book


_A1 = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")


def _restore_error_cells(grids: dict[str, list[list[Any]]], error_cells: tuple[tuple[str, str, str], ...]) -> None:
    """Put formula errors (``#REF!`` ...) back where calamine left empty strings.

    The safety gate collects them while it scans the sheets (see ``SafeInfo.error_cells``);
    with the text in place, :func:`normalise` reports "formula error #REF!" instead of a blank.
    """
    for sheet, ref, text in error_cells:
        grid = grids.get(sheet)
        m = _A1.match(ref)
        if grid is None or m is None:
            continue
        col = 0
        for ch in m.group(1):
            col = col * 26 + ord(ch) - 64
        r, c = int(m.group(2)) - 1, col - 1
        if r >= len(grid) or c >= 16384:
            continue  # outside what calamine read (the gate has bounded the rows already)
        row = grid[r]
        if c >= len(row):
            row.extend([""] * (c + 1 - len(row)))
        if row[c] in ("", None):
            row[c] = CellError(text)


def read_grids(path: Path, names: list[str], grids: dict[str, list[list[Any]]],
               qualification: Qualification | None = None, *, has_macros: bool = False,
               bad_numbers: tuple[tuple[str, str, str, str], ...] = ()) -> LearnerWorkbook:
    """Build the model from sheets given as grids of values (row 0 = spreadsheet row 1).

    Shared by the file reader and the add-in, which reads the open book's values in bulk.
    """
    meta = _read_meta(grids.get(L.META) or [])
    cover_sheet, cover = _find_cover(names, grids)
    units: list[UnitSheet] = []
    broken: dict[str, str] = {}
    evidence_sheet: str | None = None
    evidence: list[EvidenceRow] = []
    otj_sheet: str | None = None
    otj: list[EvidenceRow] = []
    evidence_extra: list[str] = []
    for name in names:
        if name in (L.META, cover_sheet):
            continue
        grid = grids[name]
        found = _find_table(grid)
        if found is not None:
            header_row, columns = found
            if any(c.key == "ref" for c in columns.values()) and any(
                    c.key == "decision" for c in columns.values()):
                units.append(_read_unit(name, grid, header_row, columns))
                continue
        # The OTJ log before the evidence log: it has an "Evidence refs" column of its own.
        ot = _find_otj_table(grid) if otj_sheet is None else None
        if ot is not None:
            otj_sheet = name
            otj = _read_evidence(name, grid, *ot)
            continue
        ev = _find_evidence_table(grid)
        if ev is not None and evidence_sheet is None:
            evidence_sheet = name
            ev_extra = _extra_columns(grid[ev[0]], ev[1])
            evidence = _read_evidence(name, grid, *ev, extra=ev_extra)
            evidence_extra = list(ev_extra.values())
            continue
        header = _read_label_block(name, grid, _UNIT_HEADER_BY_TEXT, len(grid))
        # Both labels: the Summary sheet's table has a "Unit reference" header but no "Unit number".
        if "ref" in header and "number" in header:
            broken[name] = ("the criterion table's header row was not found (it must hold the headers "
                            + ", ".join(c.header for c in L.CRITERION_COLUMNS) + ")")
    book = LearnerWorkbook(
        path=path, sheet_names=names, meta=meta, cover=cover, cover_sheet=cover_sheet, units=units,
        evidence=evidence, evidence_sheet=evidence_sheet, broken_sheets=broken, has_macros=has_macros,
        otj=otj, otj_sheet=otj_sheet, bad_numbers=bad_numbers, evidence_extra_columns=evidence_extra)
    # Structural only: the pathway id is resolved here when the caller names the qualification;
    # otherwise tracker.workbook.identity resolves it once the qualification is known.
    book.pathway = resolve_pathway(book, qualification) if qualification is not None else None
    return book


def _read_meta(grid: list[list[Any]]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for row in grid[:200]:
        if len(row) >= 2 and isinstance(row[0], str) and row[0] and row[0] != "key":
            meta[row[0].strip()] = _text(row[1])[0] or ""
    return meta


def _read_label_block(sheet: str, grid: list[list[Any]], labels: dict[str, str],
                      max_rows: int) -> dict[str, Cell]:
    """Label cells anywhere in the block; each value is the next non-empty cell to the right."""
    found: dict[str, Cell] = {}
    for r, row in enumerate(grid[:min(max_rows, _SCAN_ROWS)]):
        # Only the cells holding something, picked out in C (most of a header block is empty
        # strings: merged-over cells and spacers).
        for c in compress(range(min(len(row), _SCAN_COLS)), row):
            v = row[c]
            if type(v) is not str:
                continue
            key = labels.get(_fold(v))
            if key is None or key in found:
                continue
            vc = c + 1
            while vc < len(row) and vc < c + 4 and row[vc] in ("", None):
                vc += 1  # a merged value cell or a spacer column
            raw = row[vc] if vc < len(row) and vc < c + 4 else None
            if raw in ("", None):
                raw, vc = None, c + 1
            found[key] = Cell(sheet, L.cell_ref(r, vc), raw, *_cover_value(key, raw))
            break
    return found


def _cover_value(key: str, raw: Any) -> tuple[Any, str | None]:
    if key in L.COVER_DATE_KEYS:
        return parse_date(raw)
    if key in ("number", "level", "glh", "credit"):
        return normalise("int", key, raw)
    if key in L.COVER_NUMBER_KEYS:
        return parse_hours(raw)
    if key in _COVER_CHOICES:
        text, problem = _text(raw)
        return (None, problem) if text is None else (_COVER_CHOICES[key].get(_fold(text), text), None)
    return _text(raw)


def _find_cover(names: list[str], grids: dict[str, list[list[Any]]]) -> tuple[str | None, dict[str, Cell]]:
    order = sorted(names, key=lambda n: n != L.COVER)  # the usual sheet first, then any other
    name_label = L.COVER_LABELS["name"].casefold()
    for name in order:
        grid = grids[name]
        if any(_header_text(v) == name_label for row in grid[:_SCAN_ROWS] for v in row[:_SCAN_COLS]):
            return name, _read_label_block(name, grid, _COVER_BY_TEXT, _SCAN_ROWS)
    return None, {}


def _find_table(grid: list[list[Any]]) -> tuple[int, dict[int, L.Column]] | None:
    """The criterion table's header row (0-based) and its columns by index, if present."""
    for r, row in enumerate(grid[:_SCAN_ROWS]):
        # Cheap pre-filter, counted in C: a row with fewer than four values at all (title rows,
        # label/value rows, spacers) cannot hold four header texts.
        if len(row) - row.count("") - row.count(None) < 4:
            continue
        texts = [(c, v) for c in compress(range(min(len(row), _SCAN_COLS)), row) if type(v := row[c]) is str]
        if len(texts) < 4:
            continue  # title rows, label/value rows, data rows of other sheets
        cols = {c: _TABLE_BY_TEXT[t] for c, v in texts if (t := _fold(v)) in _TABLE_BY_TEXT}
        # A real header row holds several contract headers (a stray "IQA" label does not count).
        if len(cols) >= 4:
            return r, cols
    return None


def _find_otj_table(grid: list[list[Any]]) -> tuple[int, dict[int, L.Column]] | None:
    for r, row in enumerate(grid[:_SCAN_ROWS]):
        texts = [_header_text(v) for v in row[:_SCAN_COLS]]
        if _OTJ_KEYS.issubset(texts):
            return r, {c: _OTJ_BY_TEXT[t] for c, t in enumerate(texts) if t in _OTJ_BY_TEXT}
    return None


def _find_evidence_table(grid: list[list[Any]]) -> tuple[int, dict[int, L.Column]] | None:
    for r, row in enumerate(grid[:_SCAN_ROWS]):
        if not any(type(v) is str and v for v in row[:_SCAN_COLS]):
            continue
        texts = [_header_text(v) for v in row]
        if _EVIDENCE_REF_HEADER in texts:
            return r, {c: _EVIDENCE_BY_TEXT[t] for c, t in enumerate(texts) if t in _EVIDENCE_BY_TEXT}
    return None


_Normaliser = Callable[[Any], tuple[Any, "str | None"]]


def _plain_text(raw: Any) -> tuple[Any, str | None]:
    if type(raw) is str:  # the usual case, without _text's chain of type tests
        text = raw.strip()
        return (text or None), None
    return _text(raw)


@lru_cache(maxsize=64)
def _normaliser(kind: str, key: str) -> _Normaliser:
    """The value normaliser of a column, chosen once per column rather than per cell."""
    if kind == "text":
        return _plain_text
    if kind == "date":
        return parse_date
    if kind == "choice":
        choices = _CHOICES.get(key, {})

        def choice(raw: Any) -> tuple[Any, str | None]:
            text, problem = _plain_text(raw)
            return (None, problem) if text is None else (choices.get(_fold(text), text), None)
        return choice
    if kind == "hours":
        return parse_hours
    if kind == "refs":
        return _refs
    return lambda raw: normalise(kind, key, raw)


def _refs(raw: Any) -> tuple[Any, str | None]:
    """An evidence-refs cell (as :func:`normalise` reads kind "refs", without its dispatch)."""
    text, problem = _plain_text(raw)
    if text is None:
        return None, problem
    return tuple(r.strip() for r in _REFS_SPLIT.split(text) if r.strip()), None


def _row_cells(sheet: str, r: int, row: list[Any],
               columns: dict[int, tuple[str, str, _Normaliser]]) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    width = len(row)
    rownum = str(r + 1)
    for c, (key, letters, norm) in columns.items():
        raw = row[c] if c < width else ""
        if raw == "" or raw is None:  # most input cells are blank: skip normalising them
            cells[key] = Cell(sheet, letters + rownum, raw, None, None)
            continue
        value, problem = norm(raw)
        cells[key] = Cell(sheet, letters + rownum, raw, value, problem)
    return cells


def _with_letters(columns: dict[int, L.Column]) -> dict[int, tuple[str, str, _Normaliser]]:
    return {c: (col.key, L.col_letter(c), _normaliser(col.kind, col.key)) for c, col in columns.items()}


def _extra_columns(header_cells: list[Any], columns: dict[int, L.Column]) -> dict[int, str]:
    """Column index -> header text (trimmed) of the header cells the layout does not know: columns
    an assessor added. A header repeated among them gets " (2)", " (3)" ... so no value is lost."""
    out: dict[int, str] = {}
    seen: set[str] = set()
    for c, v in enumerate(header_cells):
        if c in columns or not isinstance(v, str) or not v.strip():
            continue
        header = " ".join(v.split())
        name, n = header, 1
        while _fold(name) in seen:
            n += 1
            name = f"{header} ({n})"
        seen.add(_fold(name))
        out[c] = name
    return out


def _extra_cells(sheet: str, r: int, row: list[Any], extra: dict[int, str]) -> dict[str, Cell]:
    """An added column's cells of one row, as text (a number or date typed there is kept as text)."""
    cells: dict[str, Cell] = {}
    for c, header in extra.items():
        raw = row[c] if c < len(row) else ""
        value, problem = (None, None) if raw == "" or raw is None else _text(raw)
        cells[header] = Cell(sheet, L.cell_ref(r - 1, c), raw, value, problem)
    return cells


def _read_unit(sheet: str, grid: list[list[Any]], header_row: int, columns: dict[int, L.Column]) -> UnitSheet:
    header = _read_label_block(sheet, grid, _UNIT_HEADER_BY_TEXT, header_row)
    found_keys = {c.key for c in columns.values()}
    # A column added in a later template version is optional: a workbook made before it lacks it.
    missing = [c.header for c in L.CRITERION_COLUMNS if c.key not in found_keys and c.since == 1]
    extra = _extra_columns(grid[header_row], columns)
    rows = [CriterionRow(sheet, r, cells, _extra_cells(sheet, r, grid[r - 1], extra) if extra else {})
            for r, cells in _table_rows(sheet, grid, header_row, columns)]
    where: dict[str, list[str]] = {}
    for i, c in sorted(columns.items()):
        where.setdefault(c.key, []).append(L.col_letter(i))
    return UnitSheet(sheet=sheet, header=header, header_row=header_row + 1,
                     columns={c.key: L.col_letter(i) for i, c in columns.items()},
                     missing_columns=missing, rows=rows, extra_columns=list(extra.values()),
                     duplicate_columns={k: v for k, v in where.items() if len(v) > 1})


def _read_evidence(sheet: str, grid: list[list[Any]], header_row: int,
                   columns: dict[int, L.Column], extra: dict[int, str] | None = None) -> list[EvidenceRow]:
    return [EvidenceRow(sheet, r, cells, _extra_cells(sheet, r, grid[r - 1], extra) if extra else {})
            for r, cells in _table_rows(sheet, grid, header_row, columns)]


def _table_rows(sheet: str, grid: list[list[Any]], header_row: int,
                columns: dict[int, L.Column]) -> list[tuple[int, dict[str, Cell]]]:
    """(1-based row, cells) of every non-blank row below a table's header row."""
    lettered = _with_letters(columns)
    return [(r + 1, _row_cells(sheet, r, grid[r], lettered)) for r in range(header_row + 1, len(grid))
            if not _blank_row(grid[r])]


def _blank_row(row: list[Any]) -> bool:
    """True when every cell of ``row`` is empty ("" or None), counted in C rather than per cell
    in Python (``list.count`` compares with ``==``, as ``v in ("", None)`` does)."""
    return row.count("") + row.count(None) == len(row)
