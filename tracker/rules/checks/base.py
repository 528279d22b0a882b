"""What every check shares: the :class:`Check` declaration and the per-workbook :class:`Context`.

A check is a small generator ``run(ctx) -> Iterator[Issue]`` that yields its findings, built
with :meth:`Context.issue`, declared with :func:`check` together with the issue types (codes) it
may yield -- as frictionless-py's checks yield their errors. The engine builds one
:class:`Context` per workbook -- the qualification, the reading, the learner's pathway, which
sheet holds which unit, the criterion rows indexed by reference, the required criteria -- runs
every check on it and collects what they yield, so no check re-reads a file, re-derives what
another one needs or sees another check's findings.

Everything here is plain dataclasses and dict lookups: a roll-up runs the checks on a thousand
workbooks, so the per-row path avoids pydantic, regular expressions and repeated spec queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import partial
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracker.issues import Issue, IssueType
from tracker.spec.models import Criterion, Qualification, Unit, normalise_text
from tracker.workbook import layout as L
from tracker.workbook.model import Cell, CriterionRow, LearnerWorkbook, UnitSheet, name_key, split_names
from tracker.workbook.progress import WORK_KEYS, CriterionState, Get, criterion_state

if TYPE_CHECKING:
    from tracker.register import Register

Run = Callable[["Context"], Iterator[Issue]]
"""What a check runs: the workbook's :class:`Context` in, its findings out."""


@dataclass(frozen=True, slots=True)
class Check:
    """A named check, the issue types it may yield, and what it needs to run."""

    name: str
    codes: tuple[IssueType, ...]
    run: Run
    needs_spec: bool = True
    needs_register: bool = False

    @property
    def code_set(self) -> frozenset[str]:
        """The codes this check declares."""
        return frozenset(t.code for t in self.codes)


def check(*codes: IssueType, needs_spec: bool = True,
          needs_register: bool = False) -> Callable[[Run], Check]:
    """Decorator: turn the generator ``run(ctx)`` into a :class:`Check` declaring ``codes``."""
    def wrap(fn: Run) -> Check:
        return Check(fn.__name__.strip("_"), tuple(codes), fn, needs_spec, needs_register)
    return wrap


# -- per-qualification index (built once per Qualification object) ---------------------------------


@dataclass(slots=True)
class SpecIndex:
    """Lookups over one qualification: criterion ref -> (unit, criterion), accepted texts."""

    by_ref: dict[str, tuple[Unit, Criterion]]
    # criterion ref -> every text a row may show (the text, and each pathway wording)
    texts: dict[str, frozenset[str]]
    # unit number -> every text of the unit's criteria -> criterion (to pair renamed refs)
    text_to_ref: dict[int, dict[str, str]]


_INDEXES: dict[int, tuple[Qualification, SpecIndex]] = {}


def spec_index(q: Qualification) -> SpecIndex:
    """The (cached) :class:`SpecIndex` of ``q``."""
    hit = _INDEXES.get(id(q))
    if hit is not None and hit[0] is q:
        return hit[1]
    by_ref: dict[str, tuple[Unit, Criterion]] = {}
    texts: dict[str, frozenset[str]] = {}
    text_to_ref: dict[int, dict[str, str]] = {}
    for u in q.units:
        t2r: dict[str, str] = {}
        for c in u.criteria:
            by_ref[c.ref] = (u, c)
            accepted = frozenset({c.text, *c.variants.values()})
            texts[c.ref] = accepted
            for t in accepted:
                t2r.setdefault(t.casefold(), c.ref)
        text_to_ref[u.number] = t2r
    idx = SpecIndex(by_ref, texts, text_to_ref)
    if len(_INDEXES) > 32:
        _INDEXES.clear()
    _INDEXES[id(q)] = (q, idx)
    return idx


# -- the context -------------------------------------------------------------------------------------


@dataclass(slots=True)
class UnitView:
    """A unit sheet of the workbook and the specification unit it was identified as."""

    sheet: UnitSheet
    unit: Unit | None
    how: str  # "ref" (header block's unit reference), "criteria", "number", or "" (unidentified)
    duplicate_of: str | None = None  # the sheet that already holds this unit


@dataclass(slots=True)
class RowInfo:
    """A criterion row identified as a specification criterion."""

    row: CriterionRow
    unit: Unit
    criterion: Criterion
    view: UnitView  # the sheet it is on (may be another unit's sheet)


@dataclass(slots=True)
class Person:
    """Where one person's name appears in one role: first cell, cover or not, criterion rows."""

    name: str
    first: Cell
    on_cover: bool = False
    rows: list[RowInfo] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)  # the row cells holding the name

    def where(self) -> str:
        """A short phrase saying where the name appears ("named on the cover and signed 3 ...")."""
        parts = []
        if self.on_cover:
            parts.append("named on the cover")
        if self.rows:
            n = len(self.rows)
            first = self.cells[0]
            parts.append(f"signed {n} criteri{'on' if n == 1 else 'a'} (first {first.sheet}!{first.ref})")
        return " and ".join(parts)


def value(row: CriterionRow, key: str) -> Any:
    """The normalised value of column ``key`` (None when missing, blank or unreadable)."""
    c = row.cells.get(key)
    if c is None or c.problem is not None:
        return None
    return c.value


def cell(row: CriterionRow, key: str) -> Cell | None:
    """The located cell of column ``key`` (None when the column is missing)."""
    return row.cells.get(key)


def values_of(row: CriterionRow) -> Get:
    """``get(key)`` over the row's normalised values (:func:`value`), as the progress rules of
    :mod:`tracker.workbook.progress` take them."""
    return partial(value, row)


def is_used(row: CriterionRow) -> bool:
    """True when assessment work is recorded on the row: any of the columns that
    :data:`tracker.workbook.progress.WORK_KEYS` names as work is filled in.

    Unlike :func:`~tracker.workbook.progress.is_worked` (on normalised values), a cell whose
    content cannot be read counts here: something was entered in it, and the row must not pass for
    an empty one (the values and dates checks say what is wrong with the cell).
    """
    cells = row.cells
    for k in WORK_KEYS:
        c = cells.get(k)
        if c is not None and (c.value is not None or c.problem is not None):
            return True
    return False


def has_entries(row: CriterionRow) -> bool:
    """True when any input column of the row (layout.ENTRY_KEYS) holds something, readable or not."""
    cells = row.cells
    for k in L.ENTRY_KEYS:
        c = cells.get(k)
        if c is not None and (c.value is not None or c.problem is not None):
            return True
    return False


def _entry_text(c: Cell | None) -> str:
    if c is None or (c.value is None and c.problem is None):
        return ""
    v = c.value if c.problem is None else c.raw
    if isinstance(v, tuple):
        v = ", ".join(str(x) for x in v)
    elif isinstance(v, dt.datetime):
        v = v.date().isoformat()
    elif isinstance(v, dt.date):
        v = v.isoformat()
    return " ".join(str(v).split()).casefold()


def copies_differ(rows: list[CriterionRow]) -> list[str]:
    """The headers of the input columns whose entries differ between ``rows`` (one criterion's
    rows on copies of a unit sheet), compared without letter case or extra spaces.

    The one definition of copies that disagree, used by the tampering check (validate) and by the
    roll-up (which then merges nothing of that criterion): a unit sheet copied with Excel's Move or
    Copy is read on both copies; a criterion with entries on one copy only is taken from it
    (:func:`has_entries`); copies that both hold entries and differ here disagree."""
    first, *others = rows
    return [c.header for c in L.CRITERION_COLUMNS if c.input
            and any(_entry_text(first.cells.get(c.key)) != _entry_text(o.cells.get(c.key)) for o in others)]


def row_state(row: CriterionRow) -> CriterionState:
    """Where the criterion on ``row`` stands, by the one definition of progress
    (:func:`tracker.workbook.progress.criterion_state` on the row's normalised values)."""
    return criterion_state(partial(value, row))


@dataclass(slots=True)
class Context:
    """Everything the checks need about one workbook, computed once by the engine."""

    book: LearnerWorkbook
    file: str
    q: Qualification | None
    reading: str  # the reading applied ('' when the qualification has none)
    register: Register | None
    today: dt.date
    reading_requested: str | None = None  # the reading asked for explicitly, if any
    lookup_problem: str = ""  # why the qualification could not be found (q None)
    pathway: str | None = None  # pathway id resolved from the cover, None when blank/unknown
    installed_hash: str = ""  # content hash of the installed spec file ('' when unknown)
    spec: SpecIndex | None = None
    views: list[UnitView] = field(default_factory=list)
    sheet_of_unit: dict[int, UnitView] = field(default_factory=dict)
    rows: dict[str, RowInfo] = field(default_factory=dict)  # criterion ref -> its row
    row_list: list[RowInfo] = field(default_factory=list)  # in sheet order
    # rows not identified as a spec criterion: (view, row, reason) reason = unknown/duplicate/noref
    stray: list[tuple[UnitView, CriterionRow, str]] = field(default_factory=list)
    renamed: list[tuple[RowInfo, str]] = field(default_factory=list)  # row found by text, ref as written
    misplaced: list[RowInfo] = field(default_factory=list)  # on another unit's sheet
    # criterion ref -> (its rows on copies of a unit sheet, in sheet order, that hold entries which
    # differ; the headers of the differing columns): see copies_differ
    disagree: dict[str, tuple[list[CriterionRow], list[str]]] = field(default_factory=dict)
    required: dict[int, list[str]] = field(default_factory=dict)  # unit number -> required refs

    # -- findings ---------------------------------------------------------------------------------

    def issue(self, itype: IssueType, at: Cell | None = None, *, sheet: str | None = None,
              cell: str | None = None, unit: Unit | str | int | None = None, criterion: str | None = None,
              **values: Any) -> Issue:
        """An issue of ``itype`` in this workbook at cell ``at`` (or at ``sheet``/``cell``)."""
        if at is not None:
            sheet = at.sheet
            cell = at.ref or None
        u = str(unit.number) if isinstance(unit, Unit) else (None if unit is None else str(unit))
        return itype(file=self.file, sheet=sheet, cell=cell, unit=u, criterion=criterion, **values)

    # -- people -----------------------------------------------------------------------------------

    def cover_cell(self, key: str) -> Cell | None:
        """The cover's value cell for ``key`` (None when the label is missing)."""
        return self.book.cover.get(key)

    def cover_names(self, key: str) -> list[str]:
        """Names in a cover cell (several allowed, see :func:`split_names`)."""
        c = self.book.cover.get(key)
        if c is None or c.problem is not None or c.value is None:
            return []
        return split_names(str(c.value))

    def name_key(self, name: str | None) -> str:
        """The key a person is compared by: the register's person when the name is one of their
        registered forms (initials, other spellings), else :func:`name_key` of the name."""
        if self.register is not None:
            return self.register.key_of(name)
        return name_key(name)

    def people(self, role: str) -> dict[str, Person]:
        """key -> :class:`Person` for ``role`` "assessor", "iqa" or "countersigner" (the rows'
        Countersigned by column), cover first, then rows; keyed by :meth:`name_key`."""
        out: dict[str, Person] = {}
        column = PEOPLE_COLUMNS[role]
        cover = self.book.cover.get(role) if role in L.COVER_LABELS else None
        if cover is not None:
            for n in self.cover_names(role):
                k = self.name_key(n)
                if k and k not in out:
                    out[k] = Person(n, cover, on_cover=True)
        for info in self.row_list:
            c = info.row.cells.get(column)
            if c is None or c.problem is not None or c.value is None:
                continue
            for n in split_names(str(c.value)):
                k = self.name_key(n)
                if not k:
                    continue
                p = out.get(k)
                if p is None:
                    p = out[k] = Person(n, c)
                if not p.rows or p.rows[-1] is not info:
                    p.rows.append(info)
                    p.cells.append(c)
        return out


# The criterion column each signing role is read from.
PEOPLE_COLUMNS = {"assessor": "assessor", "iqa": "iqa", "countersigner": "countersigned_by"}


def row_text(row: CriterionRow) -> str | None:
    """The criterion text of a row, whitespace-normalised (None when the column is missing)."""
    c = row.cells.get("text")
    if c is None:
        return None
    return normalise_text(str(c.value)) if c.value is not None else ""


COLUMN_HEADERS = {c.key: c.header for c in L.UNIT_TABLE_COLUMNS}
