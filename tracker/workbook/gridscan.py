"""What a worksheet's XML tells a parser about the grid it must build, checked before it does.

The safety gate (:mod:`tracker.workbook.safety`) feeds each ``.xlsx`` worksheet part, in
decompressed pieces, to a :class:`SheetGrid`. A parser such as python-calamine places each cell
where its ``r`` attribute says and allocates the whole rectangle from A1 to the furthest cell, so
the references themselves are what must be bounded -- not only the ``<row r="...">`` elements and
the ``<dimension>`` record, which a crafted file can keep small while one cell says ``XFD20000``
(a 10 GB allocation: the Rust allocator aborts the process) or ``A1048576`` inside row 1 (3 GB
and 30 s). :class:`SheetGrid` therefore checks, per sheet:

* every cell reference is a real A1 reference inside Excel's grid (columns A..XFD, rows
  1..1,048,576; a row number beyond 2**32 would even wrap round to another row) and lies in the
  row it is written in; a cell without ``r`` follows the one before it, as parsers place it;
* the ``<dimension>`` record is a valid range inside that grid;
* ``<mergeCell>`` ranges are valid and bounded (openpyxl, used by ``--mark``, creates one object
  per merged cell);
* rows stay under the gate's row limit however they are numbered;
* which rows and columns are hidden (``<row r="12" hidden="1">``, ``<col min="7" max="7"
  hidden="1"/>``; LibreOffice writes ``hidden="true"``), which the parser does not tell: collected
  (:attr:`SheetGrid.hidden_rows`, :attr:`SheetGrid.hidden_cols`) so that the checks can warn of a
  sign-off nobody sees. Only pieces holding the word ``hidden`` are searched (a learner workbook
  as written has none); a row without ``r`` is not placed (no producer writes one hidden);
* numbers a parser cannot turn into a value: ``NaN`` and infinities (Excel never writes them),
  numbers of 15 or more digits (beyond what Excel holds exactly), and -- in cells formatted as a
  date or time -- numbers outside Excel's dates (python-calamine panics on ``-1e20`` in a date
  cell and overflows on ``1e10`` in an ``[h]:mm`` one). These do not refuse the file: they are
  collected (:attr:`SheetGrid.numbers`) so that the reader can leave them out and report an issue
  at each cell (:func:`blank_numbers`).

Cost: the usual form of every producer (``<row r="12" ...><c r="A12" ...>``, no namespace prefix)
is handled with one C-level search per piece and a short loop over the matches; anything else
(prefixed elements, cells or rows without ``r``, attributes in another order) takes a careful
path that parses each tag. Measured on a filled Level 2 learner workbook (22 sheets, 1,585 cells,
best of 7 x 50, interleaved with the gate before these checks): 2.3 -> 4.1 ms. Each further pass
over the ~140 KB of sheet XML costs 0.1-0.5 ms in Python's regular-expression engine; the
references with their rows (one pass whose fourth group catches any row or cell tag in another
form), the prefixed tags, the merged ranges and the numbers take four (a pattern combining
references and numbers, a per-row split, a per-row backreference pattern and vectorised checks on
the matches were each measured slower; folding the "<row" and cell-tag counts into the reference
pass saved ~0.4 ms of ~2.3 ms on the filled workbook).
"""

from __future__ import annotations

import math
import re
from operator import itemgetter
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

from tracker.workbook.layout import col_letter

__all__ = [
    "EXCEL_MAX_COL",
    "EXCEL_MAX_ROW",
    "GridRefused",
    "NumberTrap",
    "SheetGrid",
    "blank_numbers",
    "date_styles",
    "number_kind",
]

#: Excel's grid since Excel 2007 (ECMA-376 allows no more): 1,048,576 rows, columns A..XFD
EXCEL_MAX_ROW: Final = 1_048_576
EXCEL_MAX_COL: Final = 16_384
#: the largest Excel serial date, 9999-12-31 is 2,958,465; a date cell must hold 0 <= x < this
DATE_SERIAL_END: Final = 2_958_466
#: Excel keeps 15 significant digits; a number this large cannot have been typed exactly
EXTREME: Final = 1e15

NumberKind = Literal["ok", "special", "extreme", "range"]


class GridRefused(Exception):
    """A worksheet the parser must not see; ``reason`` is a sentence for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NumberTrap:
    """A numeric cell value a parser cannot use safely (see :func:`number_kind`)."""

    #: the cell's A1 reference, upper case ("" when the cell has no ``r`` attribute)
    ref: str
    #: the value as written in the file (at most 40 characters)
    text: str
    #: "special", "extreme" or "range" (a problem only in a date or time cell)
    kind: str
    #: the cell's style index (``s``), or -1 when the cell's start tag could not be seen
    style: int


_DAMAGED: Final = "it is damaged or malicious, so it was not opened - ask for the original workbook"


@lru_cache(maxsize=4096)
def col_number(letters: bytes) -> int:
    """1-based column number of column letters (``b"A"`` -> 1, ``b"XFD"`` -> 16384)."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


# -- numbers --------------------------------------------------------------------------------------

# What Rust's ``str::parse::<f64>`` (python-calamine) accepts: no spaces, no underscores, no hex.
# Anything else in a numeric cell is returned as text, which is harmless.
_FLOAT_RE: Final = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_RE: Final = re.compile(rb"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def number_kind(text: bytes) -> NumberKind | None:
    """How a parser will take ``text`` found in a numeric cell's ``<v>``.

    None: not a number at all (the parser keeps it as text); "ok"; "special" (NaN or an infinity,
    including a literal that overflows such as ``1e999``); "extreme" (15 digits or more: Excel
    never holds such a number exactly); "range" (negative, or beyond 9999-12-31 as a serial
    date: fine as a number, unusable in a date or time cell).
    """
    if _SPECIAL_RE.fullmatch(text):
        return "special"
    if not _FLOAT_RE.fullmatch(text):
        return None
    value = float(text)
    if not math.isfinite(value):
        return "special"
    if abs(value) >= EXTREME:
        return "extreme"
    if value < 0 or value >= DATE_SERIAL_END:
        return "range"
    return "ok"


# Built-in number formats that show a date or time (ECMA-376 18.8.30, plus the East Asian
# date ids 27-36 and 50-58 and the Thai ones 71-81 that Excel also maps to dates). A superset of
# what python-calamine treats as dates, so nothing it converts is missed.
_BUILTIN_DATE_IDS: Final = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59),
                                      *range(71, 82)])


@lru_cache(maxsize=1)
def _date_format_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Quoted text and escapes, [Red]/[$-409] blocks, and the characters of a date or time.

    Compiled on first use, not at import: only a workbook holding a number outside Excel's dates
    needs them, and compiling them is ~1 ms of a one-file ``tracker validate``'s start-up.
    """
    return (re.compile(r'"[^"]*"|\\.|_.|\*.'),
            re.compile(r"\[(?![hms]+\])[^\]]*\]", re.IGNORECASE),
            re.compile(r"[dmyhsDMYHS]|A/P|AM/PM|\[[hmsHMS]+\]", re.IGNORECASE))


def _is_date_format(code: str) -> bool:
    """True when a custom number format may show a date or time (over-approximated on purpose:
    every section, with quoted text, escapes and [Red]/[$-409] blocks taken out)."""
    quoted, bracket, date_chars = _date_format_patterns()
    bare = bracket.sub("", quoted.sub("", code))
    return date_chars.search(bare) is not None


def date_styles(styles_xml: bytes) -> frozenset[int] | None:
    """The cell style indices (``<c s="...">``) whose number format shows a date or time.

    ``styles_xml`` has passed the gate's entity scan. None when it cannot be understood: the
    caller then treats every style as a date style.
    """
    from xml.etree.ElementTree import fromstring

    try:
        root = fromstring(styles_xml)
    except Exception:  # noqa: BLE001 - any parse failure means "unknown"
        return None
    custom: dict[str, str] = {}
    dated: set[int] = set()
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "numFmt":
            custom[(el.get("numFmtId") or "").strip()] = el.get("formatCode") or ""
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] != "cellXfs":
            continue
        xfs = [x for x in el if x.tag.rsplit("}", 1)[-1] == "xf"]
        for i, xf in enumerate(xfs):
            fid = (xf.get("numFmtId") or "0").strip()
            code = custom.get(fid)
            if code is not None:
                if _is_date_format(code):
                    dated.add(i)
            elif fid.isdigit() and int(fid) in _BUILTIN_DATE_IDS:
                dated.add(i)
        break
    return frozenset(dated)


# -- the scanner ----------------------------------------------------------------------------------

# The usual form: unprefixed, ``r`` the first attribute, in double quotes.
# A fourth group catches every other row or cell start tag, so that one pass both reads the usual
# tags and tells whether the piece holds any other (each further pass costs ~0.1-0.2 ms a workbook).
_TOKEN_FAST_RE: Final = re.compile(rb'<(?:row r="([0-9]{1,10})"|c r="([A-Z]{1,4})([0-9]{1,10})"|(row|c)[\s/>])')
_LETTERS: Final = itemgetter(1)
_OTHER_TAG: Final = itemgetter(3)
_PREFIXED_TAG_RE: Final = re.compile(rb":(?:row|c)[\s/>]")
# Any row or cell start tag (the careful path), with or without a namespace prefix.
_TAG_RE: Final = re.compile(rb"<(?:[A-Za-z_][\w.\-]{0,40}:)?(row|c)(?=[\s/>])([^>]{0,2048})(>?)")
_ROW_R_RE: Final = re.compile(rb"""(?:^|\s)r\s*=\s*["']\s*([0-9]{1,12})\s*["']""")
_ANY_R_RE: Final = re.compile(rb"""(?:^|\s)r\s*=\s*(["'])(.{0,64}?)\1""", re.DOTALL)
_T_ATTR_RE: Final = re.compile(rb"""(?:^|\s)t\s*=\s*["']([^"']{0,16})["']""")
_S_ATTR_RE: Final = re.compile(rb"""(?:^|\s)s\s*=\s*["']\s*([0-9]{1,9})\s*["']""")
_REF_RE: Final = re.compile(rb"([A-Za-z]{1,4})([0-9]{1,10})")
_RANGE_RE: Final = re.compile(rb"\s*([A-Za-z]{1,4})([0-9]{1,10})(?::([A-Za-z]{1,4})([0-9]{1,10}))?\s*")
_DIMENSION_RE: Final = re.compile(
    rb"""<(?:[A-Za-z_][\w.\-]*:)?dimension\s[^>]*?\bref\s*=\s*["']([^"']{1,64})["']""")
# Starts with the literal name so the search jumps between candidates ("<mergeCells" does not
# match: a space must follow); a stray "mergeCell ref=" in text would only be counted too.
_MERGE_RE: Final = re.compile(rb"""mergeCell\s[^>]{0,512}?\bref\s*=\s*["']([^"']{0,64})["']""")
#: ``<dimension>`` is looked for in the first this-many bytes of a worksheet
_DIMENSION_WINDOW: Final = 16 * 1024
# A value that is surely a harmless number (0 to 999,999.x) needs no closer look; the lookahead
# finds every other <v> quickly (one C-level search for "<v>").
_V_ODD_RE: Final = re.compile(rb"<v(?:\s[^>]{0,256})?>(?![0-9]{1,6}(?:\.[0-9]{1,17})?<)")
_V_ANY_RE: Final = re.compile(rb"<(?:[A-Za-z_][\w.\-]{0,40}:)?v(?:\s[^>]{0,256})?>(?![0-9]{1,6}(?:\.[0-9]{1,17})?<)")
_CELL_TAG_RE: Final = re.compile(rb"<(?:[A-Za-z_][\w.\-]{0,40}:)?c(?=[\s/>])([^>]{0,2048})>")
_CELL_END_RE: Final = re.compile(rb"</(?:[A-Za-z_][\w.\-]{0,40}:)?c\s*>")
#: how far back a suspicious value's cell start tag is looked for (a long formula sits between)
_TAG_WINDOW: Final = 16 * 1024
#: a value is read up to its "<" within this many bytes; longer is no number Excel writes
_VALUE_MAX: Final = 4096
#: at most this many suspicious numbers are kept per sheet (a sheet full of them is one problem)
MAX_NUMBERS: Final = 1000
# A row or column start tag that says hidden="1" (or "true"), with or without a namespace prefix.
_HIDDEN_RE: Final = re.compile(
    rb"""<(?:[A-Za-z_][\w.\-]{0,40}:)?(row|col)\s([^>]{0,2048}?\bhidden\s*=\s*["']\s*(?:1|true)\s*["'][^>]{0,2048}?)/?>""")
_MIN_RE: Final = re.compile(rb"""(?:^|\s)min\s*=\s*["']\s*([0-9]{1,6})\s*["']""")
_MAX_RE: Final = re.compile(rb"""(?:^|\s)max\s*=\s*["']\s*([0-9]{1,6})\s*["']""")
#: at most this many hidden rows (and hidden column ranges) are kept per sheet
MAX_HIDDEN: Final = 10_000


class SheetGrid:
    """Follows one worksheet's rows and cells, piece by piece, in bounded memory.

    Pieces must not cut a tag, and must not cut a ``<v>`` element's text from its start tag
    (the gate's scanner carries the text after the last ``<`` of a piece over to the next).
    """

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        #: highest row number seen (rows, cells, dimension)
        self.last_row = 0
        #: highest column number seen (cells, dimension)
        self.last_col = 0
        #: cells covered by merged ranges
        self.merged_cells = 0
        #: numeric values a parser cannot use safely, in file order
        self.numbers: list[NumberTrap] = []
        #: 1-based numbers of the rows marked hidden, in file order (at most MAX_HIDDEN)
        self.hidden_rows: list[int] = []
        #: 1-based inclusive (first, last) column ranges marked hidden (at most MAX_HIDDEN)
        self.hidden_cols: list[tuple[int, int]] = []
        self._row = 0  # the row the cells being read belong to (0: before the first row)
        self._row_b = b""  # the same, as the digits the fast path compares
        self._col = 0  # the column of the last cell read in that row
        self._seen = 0
        self._tail = b""  # the end of the previous piece (a value's cell tag may be there)

    # -- input ------------------------------------------------------------------------------

    def feed(self, seg: bytes) -> None:
        """Scan the next piece."""
        if self._seen < _DIMENSION_WINDOW:
            dim = _DIMENSION_RE.search(seg, 0, _DIMENSION_WINDOW - self._seen + 200)
            if dim is not None:
                self._dimension(dim.group(1))
        if b"mergeCell" in seg:
            for m in _MERGE_RE.finditer(seg):
                self._merge(m.group(1))
        if b"hidden" in seg:
            self._hidden(seg)
        tokens = _TOKEN_FAST_RE.findall(seg)
        usual = bool(tokens) and _PREFIXED_TAG_RE.search(seg) is None and self._fast(tokens)
        if not usual:
            self._careful(seg)
        # Values: "<v>" (or "<v ...>") in the usual form; prefixed ones ("<x:v>") only where the
        # piece is unusual anyway (prefixed cells take the careful path).
        self._numbers(seg, _V_ODD_RE if usual else _V_ANY_RE)
        self._seen += len(seg)
        self._tail = seg[-_TAG_WINDOW:]

    # -- rows and cells -----------------------------------------------------------------------

    def _fast(self, tokens: list[tuple[bytes, bytes, bytes, bytes]]) -> bool:
        """The usual form; False (having changed nothing) when the piece holds anything else."""
        if any(map(_OTHER_TAG, tokens)):
            return False  # a row or cell start tag in another form (attributes first, no r ...)
        row, row_b, top = self._row, self._row_b, self.last_row
        for r, col, digits, _other in tokens:
            if r:
                row_b = r
                row = int(r)
                if row > top:
                    top = row
                elif row < 1:
                    self._bad_row(row)
            elif digits != row_b and (row < 1 or int(digits) != row):
                self._inconsistent(col + digits, row)
        self._row, self._row_b = row, row_b
        self._note_row(top)
        # The columns, as a set built in C (a row token has no letters).
        letters = set(map(_LETTERS, tokens))
        letters.discard(b"")
        for col in letters:
            self._note_col(col_number(col), col)
        last = tokens[-1]
        if last[1]:
            self._col = col_number(last[1])  # the piece ends inside a row: its last cell's column
        elif last[0]:
            self._col = 0
        return True

    def _careful(self, seg: bytes) -> None:
        """Every row and cell start tag, whatever its form: rows without ``r`` follow the one
        before, cells without ``r`` the cell before (as parsers place them)."""
        for m in _TAG_RE.finditer(seg):
            if not m.group(3):
                raise GridRefused(f"a row or cell of the sheet is written in a form no spreadsheet program uses; {_DAMAGED}")
            attrs = m.group(2)
            if m.group(1) == b"row":
                r = _ROW_R_RE.search(attrs)
                self._row = int(r.group(1)) if r is not None else self._row + 1
                self._row_b = str(self._row).encode()
                self._col = 0
                if self._row < 1:
                    self._bad_row(self._row)
                self._note_row(self._row)
                continue
            r = _ANY_R_RE.search(attrs)
            if r is None:
                self._col += 1
                self._note_col(self._col, b"")
                continue
            ref = _REF_RE.fullmatch(r.group(2))
            if ref is None:
                raise GridRefused(
                    f"a cell's reference ('{_show(r.group(2))}') is not a cell reference such as B12; {_DAMAGED}")
            col, digits = ref.groups()
            if self._row < 1 or int(digits) != self._row:
                self._inconsistent(col + digits, self._row)
            self._col = col_number(col)
            self._note_col(self._col, col)

    def _note_row(self, row: int) -> None:
        if row <= self.last_row:
            return
        self.last_row = row
        if row > EXCEL_MAX_ROW:
            raise GridRefused(
                f"the sheet claims a row {row:,}, beyond Excel's last row (1,048,576); {_DAMAGED}")
        if row > self.max_rows:
            raise GridRefused(
                f"the sheet reaches row {row:,}, far beyond any learner workbook (limit "
                f"{self.max_rows:,} rows); it may be damaged or malicious - ask for the "
                "original workbook, or delete the unused rows below the table in Excel and "
                "save it again")

    def _note_col(self, col: int, letters: bytes) -> None:
        if col <= self.last_col:
            return
        if col > EXCEL_MAX_COL:
            shown = _show(letters) if letters else col_letter(col - 1)
            raise GridRefused(
                f"the sheet has a cell in column {shown}, beyond Excel's last column (XFD); {_DAMAGED}")
        self.last_col = col

    def _inconsistent(self, ref: bytes, row: int) -> None:
        where = f"row {row:,}" if row >= 1 else "no row"
        raise GridRefused(
            f"cell {_show(ref)} is written in {where}, which no spreadsheet program does (the cell "
            f"would be read somewhere other than where Excel shows it); {_DAMAGED}")

    def _bad_row(self, row: int) -> None:
        raise GridRefused(f"the sheet has a row numbered {row}, but rows start at 1; {_DAMAGED}")

    # -- dimension and merged cells -------------------------------------------------------------

    def _range(self, text: bytes, what: str) -> tuple[int, int, int, int]:
        m = _RANGE_RE.fullmatch(text)
        if m is None:
            raise GridRefused(f"the sheet's {what} ('{_show(text)}') is not a cell range such as A1:N40; {_DAMAGED}")
        c1, r1 = col_number(m.group(1)), int(m.group(2))
        c2, r2 = (col_number(m.group(3)), int(m.group(4))) if m.group(3) else (c1, r1)
        if min(r1, r2) < 1 or max(r1, r2) > EXCEL_MAX_ROW or max(c1, c2) > EXCEL_MAX_COL:
            raise GridRefused(
                f"the sheet's {what} ('{_show(text)}') reaches beyond Excel's grid (XFD1048576); {_DAMAGED}")
        return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)

    def _dimension(self, text: bytes) -> None:
        _r1, _c1, r2, c2 = self._range(text, "size record (dimension)")
        self._note_row(r2)
        self._note_col(c2, b"")

    def _merge(self, text: bytes) -> None:
        r1, c1, r2, c2 = self._range(text, "merged range")
        self.merged_cells += (r2 - r1 + 1) * (c2 - c1 + 1)

    def _hidden(self, seg: bytes) -> None:
        for m in _HIDDEN_RE.finditer(seg):
            attrs = m.group(2)
            if m.group(1) == b"row":
                r = _ROW_R_RE.search(attrs)
                if r is not None and len(self.hidden_rows) < MAX_HIDDEN:
                    self.hidden_rows.append(int(r.group(1)))
            else:
                lo, hi = _MIN_RE.search(attrs), _MAX_RE.search(attrs)
                if lo is not None and len(self.hidden_cols) < MAX_HIDDEN:
                    first = int(lo.group(1))
                    last = int(hi.group(1)) if hi is not None else first
                    self.hidden_cols.append((first, min(max(first, last), EXCEL_MAX_COL)))

    # -- numbers ----------------------------------------------------------------------------------

    def _numbers(self, seg: bytes, pattern: re.Pattern[bytes]) -> None:
        for m in pattern.finditer(seg):
            start = m.end()
            end = seg.find(b"<", start, start + _VALUE_MAX)
            text = seg[start:end] if end >= 0 else seg[start:start + 40]
            kind = "special" if end < 0 else number_kind(text)
            if kind is None or kind == "ok":
                continue
            ref, t, style = self._cell_of(seg, m.start())
            if t == b"s" and not text.strip().isdigit():
                # calamine reads a negative shared-string index as one counted from the end, so
                # "-1" shows the table's last text in this cell: a value Excel would not show.
                raise GridRefused(
                    f"cell {ref or '?'} points at shared text {_show(text[:40])!r}, which is not an "
                    f"entry number; {_DAMAGED}")
            if t not in (b"", b"n"):
                continue  # text, shared string index, error, boolean: not a number to the parser
            if len(self.numbers) < MAX_NUMBERS:
                shown = text.decode("ascii", "replace")
                self.numbers.append(NumberTrap(ref, shown[:40], kind, style))

    def _cell_of(self, seg: bytes, pos: int) -> tuple[str, bytes, int]:
        """(reference, type, style) of the cell whose value starts at ``pos``; ("", b"", -1) when
        its start tag is out of sight (then it counts as a number in a date cell)."""
        window = seg[pos - _TAG_WINDOW:pos] if pos >= _TAG_WINDOW else (self._tail + seg[:pos])[-_TAG_WINDOW:]
        last = None
        for last in _CELL_TAG_RE.finditer(window):
            pass
        if last is None or last.group(1).endswith(b"/") or _CELL_END_RE.search(window, last.end()):
            return "", b"", -1
        attrs = last.group(1)
        r = _ANY_R_RE.search(attrs)
        t = _T_ATTR_RE.search(attrs)
        s = _S_ATTR_RE.search(attrs)
        ref = r.group(2).decode("ascii", "replace").upper() if r is not None and _REF_RE.fullmatch(r.group(2)) else ""
        return ref, (t.group(1).strip() if t else b""), (int(s.group(1)) if s else 0)


def _show(text: bytes) -> str:
    """Bytes from the file, made safe for a one-line message."""
    s = text.decode("utf-8", "replace")
    s = "".join(ch if ch.isprintable() else "?" for ch in s)
    return s if len(s) <= 40 else s[:37] + "..."


# -- the reader's side: leave the traps out --------------------------------------------------------

_CELL_ELEMENT_RE: Final = re.compile(
    r"<(?P<p>(?:[A-Za-z_][\w.\-]{0,40}:)?)c(?P<a>\s[^>]*?)?(?:/>|>(?P<body>.*?)</(?P=p)c\s*>)", re.DOTALL)
_V_ELEMENT_RE: Final = re.compile(r"<(?P<p>(?:[A-Za-z_][\w.\-]{0,40}:)?)v(?:\s[^>]*)?>(?P<text>[^<]*)</(?P=p)v\s*>")
_STR_R_RE: Final = re.compile(r"""(?:^|\s)r\s*=\s*["']([^"']*)["']""")
_STR_T_RE: Final = re.compile(r"""(?:^|\s)t\s*=\s*["']([^"']*)["']""")
_DECL_ENCODING_RE: Final = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([^"']{1,40})["']""")


def blank_numbers(xml: bytes, refs: frozenset[str], texts: frozenset[str]) -> bytes:
    """The worksheet ``xml`` with the values of the trapped numeric cells taken out.

    A cell is emptied when it is numeric (no ``t``, or ``t="n"``) and either its reference is in
    ``refs`` or -- for a cell without ``r`` -- its value's text is in ``texts``. The part keeps its
    text encoding (UTF-8, UTF-16 or a declared single-byte one: the gate allowed no other).
    """
    if xml.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif xml.startswith(b"<\x00"):
        encoding = "utf-16-le"
    elif xml.startswith(b"\x00<"):
        encoding = "utf-16-be"
    else:
        m = _DECL_ENCODING_RE.match(xml.removeprefix(b"\xef\xbb\xbf"))
        encoding = m.group(1).decode("ascii") if m else "utf-8"
    # surrogateescape: bytes a declared single-byte encoding does not define go back unchanged
    text = xml.decode(encoding, "surrogateescape")

    def cell(m: re.Match[str]) -> str:
        body = m.group("body")
        if not body:
            return m.group(0)
        attrs = m.group("a") or ""
        t = _STR_T_RE.search(attrs)
        if t is not None and t.group(1).strip() not in ("", "n"):
            return m.group(0)
        r = _STR_R_RE.search(attrs)
        ref = r.group(1).strip().upper() if r is not None else ""

        def value(v: re.Match[str]) -> str:
            hit = ref in refs if ref else v.group("text") in texts
            return "" if hit else v.group(0)

        new_body = _V_ELEMENT_RE.sub(value, body)
        if new_body == body:
            return m.group(0)
        whole, at = m.group(0), m.start("body") - m.start()
        return whole[:at] + new_body + whole[at + len(body):]

    return _CELL_ELEMENT_RE.sub(cell, text).encode(encoding, "surrogateescape")
