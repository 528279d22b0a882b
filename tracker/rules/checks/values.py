"""Values: cells whose content cannot be used as typed.

* a formula error (``#REF!``, ``#VALUE!`` ...) where a value belongs;
* a Decision / IQA sampled / IQA decision that is not one of the dropdown's values (the reader
  accepts them in any letter case; anything else is not understood);
* text starting with ``=`` in a learner cell: kept as text and never evaluated, but worth a look
  (a pasted formula, or a formula-injection attempt);
* a number no spreadsheet can use, in any cell of any sheet (not-a-number, infinity, 15 digits or
  more, or no date at all in a date cell): the reader left it out (the safety gate found it).

Date cells are the dates check's business (``date-unparseable``).
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import COLUMN_HEADERS, Context, check
from tracker.workbook import layout as L
from tracker.workbook.model import Cell

VALUE_ERROR = issue_type(
    "value-error", Severity.ERROR, "Formula error in a cell",
    "{what} holds {problem} instead of a value",
    "A cell holds a spreadsheet error such as #REF! or #VALUE! (a broken formula, or one pasted from "
    "elsewhere) where a value was expected; the value cannot be used.",
    "Type the value itself into the cell (not a formula).", group="value")
NOT_IN_LIST = issue_type(
    "value-not-in-list", Severity.ERROR, "Value not in the dropdown list",
    "{what} is '{value}', which is not one of: {choices}",
    "Decision, IQA sampled and IQA decision take one of their dropdown's values (any letter case). "
    "Anything else cannot be understood, so the criterion is not counted.",
    "Choose a value from the cell's dropdown list.", group="value")
FORMULA_TEXT = issue_type(
    "value-formula-text", Severity.WARNING, "Text that looks like a formula",
    "{what} holds text starting with '=' ({value}); it is kept as text and never calculated",
    "A learner cell holds text that starts with '='. tracker treats every learner value as data and "
    "never evaluates it, but such text is usually a pasted formula, or text crafted to run as a formula when the data is opened in another program.",
    "Replace it with the plain value (a name, a date, a reference).", group="value")

NUMBER_INVALID = issue_type(
    "value-number-invalid", Severity.ERROR, "Number that cannot be used",
    "The cell holds {text}, {why}; the value was left out",
    "A cell holds a number no spreadsheet program can show or use: not-a-number or infinity "
    "(which Excel never writes), a number of 15 digits or more (beyond what Excel holds exactly), "
    "or, in a cell formatted as a date or time, a number that is no date (negative, or after the "
    "year 9999; Excel shows ####). Such values usually come from a script or a damaged file. "
    "tracker read the workbook without it.",
    "Type the intended value (for a date: dd/mm/yyyy) into the cell, or clear it.", group="value")

_STRICT = {c.key: c for c in L.CRITERION_COLUMNS if c.kind == "choice" and c.strict}
_DATE_KEYS = frozenset(c.key for c in L.UNIT_TABLE_COLUMNS if c.kind == "date") | frozenset(
    c.key for c in L.EVIDENCE_COLUMNS if c.kind == "date")
_INPUT_KEYS = frozenset(L.ENTRY_KEYS)
_EVIDENCE_HEADERS = {c.key: c.header for c in L.EVIDENCE_COLUMNS}


def _short(v: object, limit: int = 40) -> str:
    s = str(v)
    return s if len(s) <= limit else s[:limit - 1] + "…"


def _formula_text(c: Cell) -> bool:
    raw = c.raw
    return isinstance(raw, str) and raw[:1] == "="


def _scan(ctx: Context, c: Cell, what: str, date: bool, unit: str | None = None,
          criterion: str | None = None) -> Iterator[Issue]:
    if _formula_text(c):
        yield ctx.issue(FORMULA_TEXT, c, unit=unit, criterion=criterion, what=what, value=_short(c.raw))
    if c.problem is not None and not date:
        yield ctx.issue(VALUE_ERROR, c, unit=unit, criterion=criterion, what=what, problem=c.problem)


@check(VALUE_ERROR, NOT_IN_LIST, FORMULA_TEXT, NUMBER_INVALID, needs_spec=False)
def values(ctx: Context) -> Iterator[Issue]:
    """Formula errors, values outside strict dropdowns, '=' text, in every table and the cover;
    unusable numbers in any cell."""
    book = ctx.book
    for sheet, cell, text, why in book.bad_numbers:
        yield ctx.issue(NUMBER_INVALID, sheet=sheet, cell=cell or None, text=_short(text), why=why)
    for key, label in L.COVER_FIELDS:
        c = book.cover.get(key)
        if c is not None and (c.problem is not None or isinstance(c.raw, str)):
            yield from _scan(ctx, c, f"The cover's {label}", key in L.COVER_DATE_KEYS)
    for us in book.units:
        unit = str(us.unit_number) if us.unit_number is not None else None
        for row in us.rows:
            ref = row.ref or None
            for key, c in row.cells.items():
                if key not in _INPUT_KEYS or (c.value is None and c.problem is None):
                    continue
                col = _STRICT.get(key)
                off_list = col is not None and c.problem is None and c.value not in col.choices
                # The common case, a clean cell, costs neither a message nor a generator.
                if not (off_list or c.problem is not None or _formula_text(c)):
                    continue
                what = f"{ref}'s {COLUMN_HEADERS[key]}" if ref else f"The {COLUMN_HEADERS[key]} on row {row.row}"
                yield from _scan(ctx, c, what, key in _DATE_KEYS, unit, ref)
                if off_list:
                    assert col is not None
                    yield ctx.issue(NOT_IN_LIST, c, unit=unit, criterion=ref, what=what, value=_short(c.value),
                                    choices=" / ".join(col.choices))
    for er in book.evidence:
        for key, c in er.cells.items():
            if c.value is None and c.problem is None:
                continue
            yield from _scan(ctx, c, f"Evidence log {_EVIDENCE_HEADERS[key]}", key in _DATE_KEYS)
