"""Cheap cells for XlsxWriter worksheets: the workbook layer's one reliance on XlsxWriter internals.

A learner workbook has about 1,600 cells, 90 data validations, 70 conditional-format rules and 300
column records. Through XlsxWriter's public API a cell costs ~6 us to store (argument conversion,
range checks, a named tuple) and ~7 us to serialise (a list of attribute pairs, each escaped); a
validation ~40 us (its options checked and written out again in every unit sheet). :class:`Sheet`
stores a cell as one small tuple holding its XML already rendered -- all but the style index,
which XlsxWriter hands out lazily while it writes the sheets and which is asked for at that same
moment, in that same order -- and writes it out in one ``write``. Validations, rules and column
records are rendered once per process by XlsxWriter's own element writers and the XML reused
wherever the same one recurs (the unit sheets repeat them). The result is byte for byte the file
the public API writes (shared strings in the same order, numbers as ``{:.16G}``, formulas with
their cached result, the same escaping); tests/test_writer_fast.py writes workbooks both ways and
compares every part of the zip.

Rules, as for the master's row writer (tracker/centre/xlsx_rows.py):

* only this module touches the internals: the worksheet's ``table``, ``str_table``
  (``_get_shared_string_index``), ``_check_dimensions``, ``_convert_date_time``, ``row_info``,
  ``col_info``, ``merged_cells``, ``table_cells``, ``merge``, ``validations``, ``cond_formats``,
  ``dxf_priority``, ``date_1904``, ``remove_timezone``, ``fh`` (its XML stream), the element
  writers ``_write_cell``, ``_write_data_validation``, ``_write_cf_rule`` and ``_write_col_info``
  (extended, never replaced: anything not ours goes to XlsxWriter's), and ``Format``'s
  ``_get_xf_index`` / ``_get_dxf_index``;
* the XlsxWriter versions they are known to match are pinned in pyproject.toml (``>=3.2,<3.4``);
* a worksheet without them (another version), or with :attr:`Sheet.fast_ok` switched off (the
  differential test), writes everything through the public API instead: same file, slower.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_range
from xlsxwriter.worksheet import Worksheet

from tracker.workbook import layout as L

# What XlsxWriter escapes in the text of an element (formula and cached result): not quotes.
_DATA_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Cached formula results XlsxWriter marks as errors rather than text.
_ERROR_CODES = frozenset(("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"))
# A string at most this long cannot exceed Excel's 32,767 UTF-16 units; longer ones take the
# public API, which truncates them.
_SHORT = 32767 // 2
_INTERNALS = ("table", "str_table", "_check_dimensions", "_convert_date_time", "row_info", "col_info",
              "_write_cell", "merged_cells", "table_cells", "merge", "validations", "_write_data_validation",
              "date_1904", "fh", "cond_formats", "dxf_priority", "_write_cf_rule", "remove_timezone")
_INTERNALS_OK = all(hasattr(Format, a) for a in ("_get_xf_index", "_get_dxf_index")) and all(
    hasattr(Worksheet, a) for a in ("_initialize", "_write_data_validation", "_write_cf_rule"))
# The <col> cache keys on what the record's width depends on (XlsxWriter 3.3's names).
_COLUMN_CACHE_OK = all(hasattr(Worksheet, a) for a in ("_write_col_info", "_write_cols"))
_LETTERS = [L.col_letter(i) for i in range(64)]


class _Cell(tuple):  # type: ignore[type-arg]
    """A stored cell: (format or None, the XML after the style attribute)."""

    __slots__ = ()


class _Xml(str):
    """An element XlsxWriter rendered once, written as it is wherever it recurs."""

    __slots__ = ()


_CACHE_MAX = 4096
_VALIDATIONS: dict[tuple[Any, ...], _Xml] = {}
_DATES: dict[tuple[Any, ...], str] = {}
_COLUMNS: dict[tuple[Any, ...], str] = {}
_CONDITIONALS: dict[tuple[Any, ...], tuple[str, _Xml]] = {}


class Sheet(Worksheet):  # type: ignore[misc]
    """XlsxWriter worksheet with cheap ``put_*`` cell writers and no future-function rewriting.

    Formulas: XlsxWriter runs ~80 regular expressions over every formula (and conditional-format
    formula) to prefix Excel 365 functions with ``_xlfn.``; that was a third of the writing time.
    Our formulas use only classic functions (IF, OR, AND, SUM, SUMIF, COUNTIF, COUNTIFS, TEXT), so
    stripping the leading "=" is all that is needed. ``add_worksheet(worksheet_class=...)`` is
    XlsxWriter's documented extension point.

    The ``put_*`` methods take the arguments of the matching ``write_*`` (row and column numbers
    only, no A1 strings) and leave the same content in the file.
    """

    fast_ok = True  # the differential test switches the fast path off to compare
    fast = False  # this sheet takes the fast path (decided once XlsxWriter has initialised it)
    fh: Any  # XlsxWriter's XML stream for the sheet (a StringIO while the file is assembled)

    def _initialize(self, init_data: dict[str, Any]) -> None:
        super()._initialize(init_data)
        # In constant_memory mode XlsxWriter streams rows as they are written: not for us.
        self.fast = (self.fast_ok and not getattr(self, "constant_memory", True) and _INTERNALS_OK
                     and all(hasattr(self, a) for a in _INTERNALS)
                     and hasattr(self.str_table, "_get_shared_string_index"))

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        return formula[1:] if formula.startswith("=") else formula

    # -- storing -------------------------------------------------------------------------------

    def _store(self, row: int, col: int, fmt: Format | None, body: str) -> None:
        if self._check_dimensions(row, col) == 0:
            self.table[row][col] = _Cell((fmt, body))

    def put_string(self, row: int, col: int, text: str, fmt: Format | None = None) -> None:
        """``write_string``: text, never a formula or number (a shared string)."""
        if not self.fast or len(text) > _SHORT:
            self.write_string(row, col, text, fmt)
            return
        if self._check_dimensions(row, col) == 0:
            # The index is taken now, as write_string takes it: the shared-string order is kept.
            self.table[row][col] = _Cell((fmt, f' t="s"><v>{self.str_table._get_shared_string_index(text)}</v></c>'))

    def put_number(self, row: int, col: int, number: float, fmt: Format | None = None) -> None:
        """``write_number`` for a finite number."""
        if not self.fast or number != number or number in (float("inf"), float("-inf")):
            self.write_number(row, col, number, fmt)
            return
        self._store(row, col, fmt, f"><v>{number:.16G}</v></c>")

    def put_datetime(self, row: int, col: int, value: dt.datetime, fmt: Format) -> None:
        """``write_datetime`` with a (date) format."""
        if not self.fast:
            self.write_datetime(row, col, value, fmt)
            return
        key = (value, self.date_1904, self.remove_timezone)
        body = _DATES.get(key)
        if body is None:
            if len(_DATES) >= _CACHE_MAX:
                _DATES.clear()
            body = _DATES[key] = f"><v>{self._convert_date_time(value):.16G}</v></c>"
        self._store(row, col, fmt, body)

    def put_blank(self, row: int, col: int, fmt: Format | None) -> None:
        """``write_blank``: a formatted empty cell (nothing at all without a format)."""
        if not self.fast:
            self.write_blank(row, col, None, fmt)
        elif fmt is not None:
            self._store(row, col, fmt, "/>")

    def put_formula(self, row: int, col: int, formula: str, fmt: Format | None, value: Any) -> None:
        """``write_formula`` of a classic formula (no array or dynamic-array functions) with its
        cached result ``value`` (a number, text or bool)."""
        if not self.fast:
            self.write_formula(row, col, formula, fmt, value)
            return
        kind = ""
        if isinstance(value, bool):
            kind, value = ' t="b"', int(value)
        elif isinstance(value, str):
            if value in _ERROR_CODES:
                kind = ' t="e"'
            elif value:
                kind = ' t="str"'
            value = value.translate(_DATA_ESCAPES)
        text = self._prepare_formula(formula).translate(_DATA_ESCAPES)
        self._store(row, col, fmt, f"{kind}><f>{text}</f><v>{value}</v></c>")

    def put_merge(self, first_row: int, first_col: int, last_row: int, last_col: int, text: str,
                  fmt: Format) -> None:
        """``merge_range`` of text over a range of more than one cell (first row and column first)."""
        if not self.fast:
            self.merge_range(first_row, first_col, last_row, last_col, text, fmt)
            return
        if (first_row, first_col) == (last_row, last_col) or first_row > last_row or first_col > last_col:
            raise ValueError("a merge covers more than one cell, given first row and column first")
        if self._check_dimensions(first_row, first_col) or self._check_dimensions(last_row, last_col):
            return
        cells = [(r, c) for r in range(first_row, last_row + 1) for c in range(first_col, last_col + 1)]
        label = f"{L.col_letter(first_col)}{first_row + 1}:{L.col_letter(last_col)}{last_row + 1}"
        # Overlapping merges are a file Excel refuses to open: XlsxWriter's check, kept.
        for rc in cells:
            if rc in self.merged_cells or rc in self.table_cells:
                raise ValueError(f"merge range {label} overlaps a merged range or table")
        for rc in cells:
            self.merged_cells[rc] = label
        self.merge.append([first_row, first_col, last_row, last_col])
        # The text in the first cell (empty text: a blank), a formatted blank in every other, as
        # merge_range writes them.
        if text:
            self.put_string(first_row, first_col, text, fmt)
        else:
            self._store(first_row, first_col, fmt, "/>")
        for r, c in cells[1:]:
            self._store(r, c, fmt, "/>")

    def put_validation(self, first_row: int, first_col: int, last_row: int, last_col: int,
                       options: dict[str, Any]) -> None:
        """``data_validation``. Its XML depends only on the range and the options, so it is made
        once per process by XlsxWriter itself and reused (XlsxWriter spends ~40 us a validation
        checking and writing options that are the same in every unit sheet)."""
        if not self.fast:
            self.data_validation(first_row, first_col, last_row, last_col, options)
            return
        key = (first_row, first_col, last_row, last_col, self.date_1904, repr(sorted(options.items())))
        xml = _VALIDATIONS.get(key)
        if xml is None:
            n = len(self.validations)
            if self.data_validation(first_row, first_col, last_row, last_col, options) != 0:
                return
            xml = _Xml(self._render(self._write_data_validation, self.validations.pop()))
            assert len(self.validations) == n
            if len(_VALIDATIONS) >= _CACHE_MAX:
                _VALIDATIONS.clear()
            _VALIDATIONS[key] = xml
        self.validations.append(xml)

    def put_conditional(self, first_row: int, first_col: int, last_row: int, last_col: int,
                        options: dict[str, Any]) -> None:
        """``conditional_format``. Like a validation, a rule's XML is made once by XlsxWriter and
        reused (data bars and ``multi_range`` rules excepted); the key includes the rule's format
        (its dxf index, handed out now, in this order, as conditional_format does) and its
        priority (the sheet's count of rules so far)."""
        if not self.fast or options.get("type") == "data_bar" or "multi_range" in options:
            self.conditional_format(first_row, first_col, last_row, last_col, options)
            return
        fmt = options.get("format")
        dxf = fmt._get_dxf_index() if fmt else None
        rest = sorted((k, v) for k, v in options.items() if k != "format")
        key = (first_row, first_col, last_row, last_col, dxf, self.dxf_priority, self.date_1904, repr(rest))
        hit = _CONDITIONALS.get(key)
        if hit is None:
            cell_range = xl_range(first_row, first_col, last_row, last_col)
            if self.conditional_format(first_row, first_col, last_row, last_col, options) != 0:
                return
            rules = self.cond_formats[cell_range]
            xml = _Xml(self._render(self._write_cf_rule, rules[-1]))
            rules[-1] = xml
            if len(_CONDITIONALS) >= _CACHE_MAX:
                _CONDITIONALS.clear()
            _CONDITIONALS[key] = (cell_range, xml)
            return
        cell_range, xml = hit
        self.dxf_priority += 1
        self.cond_formats.setdefault(cell_range, []).append(xml)

    def _write_cf_rule(self, params: Any) -> None:
        if type(params) is _Xml:
            self.fh.write(params)
        else:
            super()._write_cf_rule(params)

    def _write_col_info(self, col_min: int, col_max: int, col_info: Any) -> None:
        # A <col> record (300 a workbook, the same in every unit sheet) made once by XlsxWriter:
        # keyed by its fields with the format's style index, handed out here as XlsxWriter does.
        if not (self.fast and _COLUMN_CACHE_OK and hasattr(col_info, "__dict__")):
            super()._write_col_info(col_min, col_max, col_info)
            return
        fields = tuple((k, v._get_xf_index() if isinstance(v, Format) else v) for k, v in vars(col_info).items())
        key = (col_min, col_max, fields, getattr(self, "default_col_width", None),
               getattr(self, "max_digit_width", None))
        xml = _COLUMNS.get(key)
        if xml is None:
            xml = self._render(super()._write_col_info, col_min, col_max, col_info)
            if len(_COLUMNS) >= _CACHE_MAX:
                _COLUMNS.clear()
            _COLUMNS[key] = xml
        self.fh.write(xml)

    def _render(self, write: Any, *args: Any) -> str:
        """What one of XlsxWriter's element writers writes, as a string."""
        saved = self.fh
        out = io.StringIO()
        self.fh = out
        try:
            write(*args)
        finally:
            self.fh = saved
        return out.getvalue()

    def _write_data_validation(self, options: Any) -> None:
        if type(options) is _Xml:
            self.fh.write(options)
        else:
            super()._write_data_validation(options)

    # -- writing -------------------------------------------------------------------------------

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        if type(cell) is not _Cell:
            super()._write_cell(row, col, cell)
            return
        fmt, body = cell
        # The style as XlsxWriter picks it: the cell's format, else the row's, else the column's.
        if fmt is None:
            info = self.row_info.get(row)
            fmt = info.row_format if info is not None else None
            if not fmt and col in self.col_info:
                fmt = self.col_info[col].column_format
        ref = f"{_LETTERS[col] if col < 64 else L.col_letter(col)}{row + 1}"
        if fmt:
            self.fh.write(f'<c r="{ref}" s="{fmt._get_xf_index()}"{body}')
        else:
            self.fh.write(f'<c r="{ref}"{body}')


__all__ = ["Sheet"]
