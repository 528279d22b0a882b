"""The master's fast row writer: the centre layer's one reliance on XlsxWriter's internals
(the learner workbook's is tracker/workbook/xlsx_cells.py).

The long sheets of the master (Criteria: one row per learner x criterion, about a million cells
for 1,000 learners) are written in XlsxWriter's ``constant_memory`` mode, and their rows are
rendered here as XML in one string each, straight into the worksheet's row file, instead of
through XlsxWriter's per-cell API (~7 us a cell: argument checks, a cell tuple, a dict, then the
XML). The XML is what XlsxWriter itself writes (inline strings, numbers with an ``s`` style index,
the same escaping), and the worksheet's bookkeeping (dimensions, last row) is updated to match.

Measured (the 500-learner benchmark centre, best of three, same run): the master in 1.94 s with
this writer against 5.18 s through the public API (``write_string`` / ``write_number`` per cell):
2.7x. That is why it is kept, under these rules:

* it is confined to this module and uses only ``row_data_fh``, ``previous_row``,
  ``_write_single_row``, ``_check_dimensions``, ``_escape_control_characters``,
  ``Format._get_xf_index``, ``add_table``'s ``tables`` entry and ``_write_string``;
* the XlsxWriter versions it is known to match are pinned in pyproject.toml (``>=3.2,<3.4``);
* when a worksheet lacks any of those internals (another version), :class:`RowStream` writes
  every cell through the public API instead -- same file content, slower; and
* a differential test (tests/test_centre_master.py) writes the master both ways and compares
  them cell by cell.

It also declares the Excel tables of ``constant_memory`` sheets (:func:`add_table`; XlsxWriter
refuses ``add_table`` in that mode only because the table would write its header cells into rows
already flushed) and knows Excel's sheet size (:data:`EXCEL_MAX_ROWS`), so a long table is split
over numbered sheets (:func:`split_sheets`) rather than written past the last row Excel accepts
(Excel "repairs" such a file by dropping rows -- a master that silently lies).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tracker.workbook import layout as WL

EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet, the header row included
LINE_POINTS = 13.0  # the height of a line of Calibri 10, in points
_SHEET_NAME_MAX = 31  # characters in an Excel sheet name
_TABLE_NAME = re.compile(r"[^A-Za-z0-9_]")

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_XML_SPECIAL = re.compile("[&<>]")
_MAX_STR = 32767  # Excel's limit, in UTF-16 code units
_INTERNALS = ("row_data_fh", "previous_row", "_write_single_row", "_check_dimensions",
              "_escape_control_characters")


class RowColumn(Protocol):
    """A column as the row writer needs it: the record key and how to write the value."""

    @property
    def key(self) -> str: ...

    @property
    def kind(self) -> str: ...  # text | wrap | int | percent | date | datetime | status


WriteCell = Callable[[Any, int, int, Any, Any], None]  # (ws, row, col, column, value): the public API
Serial = Callable[[str, bool], "float | None"]  # (ISO text, with time) -> Excel serial, or None


def xml_text(ws: Any, text: str) -> str:
    """A string as an inline-string cell body, escaped exactly as XlsxWriter escapes it."""
    if len(text) > _MAX_STR // 2 and len(text.encode("utf-16-le")) // 2 > _MAX_STR:
        text = text.encode("utf-16-le")[:_MAX_STR * 2].decode("utf-16-le", "ignore")
    if _CTRL.search(text):
        text = ws._escape_control_characters(text)
    if _XML_SPECIAL.search(text):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if text[:1].isspace() or text[-1:].isspace():
        return f'<is><t xml:space="preserve">{text}</t></is>'
    return f"<is><t>{text}</t></is>"


class RowStream:
    """Whole rows written straight into a ``constant_memory`` worksheet's row file.

    ``styles`` holds the formats of the ``date``, ``datetime``, ``percent`` and ``wrap`` (long text
    wrapped in its cell, the row as tall as it needs) kinds, and ``status:<word>`` for each word a
    ``status`` column may hold (a status shown in its colour);
    ``write_cell`` writes one value through the public API (used when the internals are missing,
    and by the differential test); ``serial`` turns ISO date text into an Excel serial.
    """

    fast_ok = True  # tests switch the fast path off to compare

    def __init__(self, ws: Any, cols: Sequence[RowColumn], styles: dict[str, Any], write_cell: WriteCell,
                 serial: Serial) -> None:
        self.ws = ws
        self.cols = cols
        self.write_cell = write_cell
        self.serial = serial
        self.fast = (self.fast_ok and bool(getattr(ws, "constant_memory", False))
                     and all(hasattr(ws, a) for a in _INTERNALS))
        self.letters = [WL.col_letter(i) for i in range(len(cols))]
        self.styles = styles
        self.started = False
        self.resumed = False
        self.last = 0
        # (kind, value) -> the cell's XML after its reference (see render).
        self.tails: dict[tuple[str, str], str] = {}
        self.plan = [(c.key, c.kind, letter) for c, letter in zip(cols, self.letters)]
        # Wrapped columns: (index, characters a line) -- the row is made as tall as its longest
        # wrapped text, since neither Excel nor LibreOffice fits a row's height on opening a file.
        # Calibri 10 fits about 1.15 characters per unit of column width (the width of a Calibri 11 "0").
        self.wraps = [(i, max(int(getattr(c, "width", 10) * 1.15) - 2, 4)) for i, c in enumerate(cols)
                      if c.kind == "wrap"]

    def height(self, rec: dict[str, Any]) -> float | None:
        """The row height (points) its wrapped texts need, or None for the default height."""
        lines = 1
        for i, per_line in self.wraps:
            v = rec.get(self.cols[i].key)
            if v:
                n = sum(max(1, -(-len(part) // per_line)) for part in str(v).split("\n"))
                lines = max(lines, n)
        return None if lines == 1 else round(LINE_POINTS * lines + 2, 2)

    def row(self, r: int, rec: dict[str, Any]) -> None:
        """Write row ``r`` (0-based) from ``rec`` keyed by column key; blanks are skipped."""
        if r >= EXCEL_MAX_ROWS:
            raise ValueError(f"row {r + 1} is past Excel's last row ({EXCEL_MAX_ROWS}); split the sheet")
        if not self.fast:
            h = self.height(rec) if self.wraps else None
            if h is not None:
                self.ws.set_row(r, h)
            for c, col in enumerate(self.cols):
                self.write_cell(self.ws, r, c, col, rec.get(col.key))
            return
        if self.resumed:
            # Rows were written through the API since the last one of ours (the Matrix's block
            # headers): XlsxWriter still holds the latest of them, so it is flushed first.
            self.ws._write_single_row(r)
            self.resumed = False
        self.start(r)
        xml = self.render(r, rec)
        if xml:
            self.ws.row_data_fh.write(xml)
            self.last = r

    def resume(self) -> None:
        """Say that cells were written through the API since the last row of this stream."""
        self.resumed = self.started

    def start(self, r: int) -> None:
        """Before the first data row ``r`` of the fast path: flush the header row written through
        the API (XlsxWriter holds the current row until a later one starts) and fix the styles."""
        if not self.started:
            self.ws._write_single_row(r)
            self.started = True
            self.xf = {k: int(f._get_xf_index()) for k, f in self.styles.items()}

    def render(self, r: int, rec: dict[str, Any]) -> str:
        """The XML of row ``r`` (0-based) from ``rec``, as XlsxWriter writes it ("" when every
        value is blank: no row element, as XlsxWriter leaves out an empty row). Fast path only,
        after :meth:`start`."""
        h = self.height(rec) if self.wraps else None
        n = r + 1
        parts = [f'<row r="{n}">' if h is None else f'<row r="{n}" ht="{h:.16G}" customHeight="1">']
        tails = self.tails
        if len(tails) > 200_000:
            tails.clear()
        for key, kind, letter in self.plan:
            v = rec.get(key)
            if v is None or v == "":
                continue
            if kind in ("int", "percent") and not isinstance(v, str):
                # Numbers are not cached: equal numbers may print differently (0.0 and -0.0).
                style = f' s="{self.xf["percent"]}"' if kind == "percent" else ""
                parts.append(f'<c r="{letter}{n}"{style}><v>{v:.16G}</v></c>')
                continue
            if type(v) is not str:  # a unit number in a text column: not cached (1 == 1.0 == True)
                parts.append(f'<c r="{letter}{n}{self._tail(kind, v)}')
                continue
            # Everything after the cell's reference depends on the kind and the text only, and
            # most texts repeat (names, ULNs, refs, dates, Yes/No): made once each.
            tail = tails.get((kind, v))
            if tail is None:
                tail = tails[(kind, v)] = self._tail(kind, v)
            parts.append(f'<c r="{letter}{n}{tail}')
        if len(parts) == 1:
            return ""
        parts.append("</row>")
        return "".join(parts)

    def _tail(self, kind: str, v: Any) -> str:
        """A cell's XML after its reference (``<c r="A2`` is the caller's), as XlsxWriter writes it."""
        ws = self.ws
        if kind == "wrap":
            return f'" s="{self.xf["wrap"]}" t="inlineStr">{xml_text(ws, str(v))}</c>'
        if kind == "status":  # a status word in the style named after it (the Matrix's colours)
            return f'" s="{self.xf["status:" + str(v)]}" t="inlineStr">{xml_text(ws, str(v))}</c>'
        if kind in ("date", "datetime"):
            serial = self.serial(str(v), kind == "datetime")
            if serial is not None:
                return f'" s="{self.xf[kind]}"><v>{serial:.16G}</v></c>'
        return f'" t="inlineStr">{xml_text(ws, str(v))}</c>'  # text, and any value as text

    def finish(self, last_col: int | None = None) -> None:
        """Record the written extent in the worksheet (its dimension and last row); ``last_col``:
        the last column the sheet uses, when not the stream's last."""
        if self.fast and self.started:
            ws = self.ws
            ws._check_dimensions(self.last, len(self.cols) - 1 if last_col is None else last_col)
            ws.previous_row = self.last


def add_table(ws: Any, name: str, headers: Sequence[str], header_format: Any, n_rows: int,
              header_formats: Sequence[Any] | None = None) -> None:
    """Declare an Excel table over row 0 (header) to ``n_rows`` data rows of a ``constant_memory``
    sheet, then write the header again as inline strings (``header_formats``: one per column,
    e.g. right-aligned over numbers; else ``header_format`` for all)."""
    assert len({h.casefold() for h in headers}) == len(headers), f"duplicate header in {name}"
    from xlsxwriter.utility import xl_range

    saved = ws.constant_memory
    ws.constant_memory = False
    # add_table's own header writes would go to the shared-string table; ours follow inline.
    ws._write_string = lambda *args, **kw: 0
    try:
        # Declared over one data row, then widened: add_table records every cell of its range for
        # an overlap check (1.3 million dict entries, 130 MB, for 1,000 learners' criteria).
        ws.add_table(0, 0, 1, len(headers) - 1, {
            "name": name, "style": "Table Style Light 9",
            "columns": [{"header": h, "header_format": header_format} for h in headers]})
    finally:
        ws.constant_memory = saved
        del ws._write_string
    table = ws.tables[-1]
    full = xl_range(0, 0, max(n_rows, 1), len(headers) - 1)
    table["range"] = table["a_range"] = table["autofilter"] = full
    for i, h in enumerate(headers):
        ws.write_string(0, i, h, header_formats[i] if header_formats else header_format)
    ws.set_row(0, 30)
    ws.freeze_panes(1, 0)


@dataclass(frozen=True, slots=True)
class SheetPart:
    """One sheet of a (possibly split) table: its name, its Excel table name, its data rows."""

    sheet: str
    table: str
    rows: int


def split_sheets(sheet: str, table: str, n_rows: int, row_limit: int = EXCEL_MAX_ROWS) -> list[SheetPart]:
    """The sheets a table of ``n_rows`` data rows needs when a sheet holds ``row_limit`` rows
    (its header row included): ``sheet``, then ``sheet 2``, ``sheet 3`` ..., each with the same
    columns and a table of its own (``table``, ``table2`` ...). Always at least one sheet."""
    per_sheet = row_limit - 1
    if per_sheet < 1:
        raise ValueError("a sheet must hold its header row and at least one data row")
    parts: list[SheetPart] = []
    left = n_rows
    k = 1
    while True:
        take = min(left, per_sheet)
        name = sheet if k == 1 else f"{sheet[:_SHEET_NAME_MAX - len(str(k)) - 1]} {k}"
        tname = table if k == 1 else _TABLE_NAME.sub("", f"{table}{k}")
        parts.append(SheetPart(name, tname, take))
        left -= take
        if left <= 0:
            return parts
        k += 1


__all__ = ["EXCEL_MAX_ROWS", "RowColumn", "RowStream", "SheetPart", "add_table", "split_sheets", "xml_text"]
