"""What a learner workbook holds, as data: the record written and the located view read back.

* :class:`LearnerRecord` is what the writer takes and what :meth:`LearnerWorkbook.to_record`
  gives back -- learner details, per-criterion entries, evidence log. The round trip
  ``read(write(record)).to_record() == record`` is the reader's contract (tested as a property).
* :class:`LearnerWorkbook` is what the reader returns: every value as a :class:`Cell` that keeps
  its sheet and A1 reference, the raw value found, the normalised value, and a problem (text
  where a date belongs, a formula error, a value not in the dropdown list) for the checks to
  report. Dataclasses, not pydantic: a roll-up reads tens of thousands of rows.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.workbook import layout


@functools.lru_cache(maxsize=16384)
def name_key(name: str | None) -> str:
    """A person's name for comparison: trimmed, inner spaces collapsed, case-folded.

    Cached: a centre has a few hundred names, compared tens of thousands of times per roll-up
    (every criterion row's assessor and IQA, in the master, the sampling plan and the checks)."""
    return " ".join((name or "").split()).casefold()


def split_names(text: str | None) -> list[str]:
    """Several names in one cell ("A Smith; B Jones", "A Smith, B Jones", "A Smith / B Jones")."""
    if not text:
        return []
    return list(_split_names(text))


@functools.lru_cache(maxsize=4096)
def _split_names(text: str) -> tuple[str, ...]:
    # Cached like name_key: a centre's cells hold a few hundred distinct names, split for every
    # criterion row by the centre checks, the sampling plan and the master.
    for sep in (";", ",", "/", "\n"):
        text = text.replace(sep, "\x00")
    return tuple(n.strip() for n in text.split("\x00") if n.strip())


class CellError(str):
    """A spreadsheet error value (``#REF!``, ``#VALUE!`` ...) found in a cell.

    A distinct type so that text a person typed (a comment reading "#N/A") is never mistaken
    for a formula error: only cells the file stores as errors become CellError.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Learner:
    """The learner's details as on the cover sheet."""

    name: str
    uln: str
    pathway: str | None = None  # pathway id (face-to-face / non-facing) or None
    registration_date: dt.date | None = None
    assessor: str | None = None
    iqa: str | None = None
    tutor: str | None = None
    employer: str | None = None
    # Template version 2.
    planned_end_date: dt.date | None = None
    # Apprentices only (a learner with a standard is an apprentice; the rest stay None).
    standard: str | None = None  # apprenticeship standard code, e.g. ST0072
    start_date: dt.date | None = None  # the apprenticeship's start date
    weekly_hours: float | None = None  # contracted working hours a week
    planned_otj_hours: float | None = None
    gateway_signoff_date: dt.date | None = None  # the employer's gateway sign-off
    english_maths: str | None = None  # one of layout.ENGLISH_MATHS

    @property
    def apprentice(self) -> bool:
        """True when the learner is on an apprenticeship standard (the OTJ log applies)."""
        return bool(self.standard)


@dataclass(frozen=True, slots=True)
class OtjEntry:
    """One row of the off-the-job training log."""

    date: dt.date | None = None
    activity: str | None = None
    otj_type: str | None = None
    hours: float | None = None
    evidence_refs: tuple[str, ...] = ()
    learner_confirmed: str | None = None
    confirmed_by: str | None = None


@dataclass(frozen=True, slots=True)
class CriterionEntry:
    """What assessors and IQAs record against one criterion (the input columns)."""

    evidence_refs: tuple[str, ...] = ()
    method: str | None = None
    evidence_date: dt.date | None = None
    decision: str | None = None
    assessor: str | None = None
    assessor_date: dt.date | None = None
    iqa_sampled: str | None = None
    iqa: str | None = None
    iqa_date: dt.date | None = None
    iqa_decision: str | None = None
    comments: str | None = None
    countersigned_by: str | None = None
    countersign_date: dt.date | None = None
    # Columns an assessor added to the table (headers the layout does not know): (header, value)
    # in column order, blank values left out. Kept by the roll-up and written back by `tracker issue`.
    extra: tuple[tuple[str, str], ...] = ()

    def is_blank(self) -> bool:
        """True when nothing has been recorded."""
        return self == _BLANK_ENTRY


_BLANK_ENTRY = CriterionEntry()


@dataclass(frozen=True, slots=True)
class EvidenceEntry:
    """One row of the evidence log."""

    ref: str
    description: str | None = None
    method: str | None = None
    date: dt.date | None = None
    location: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # added columns, as CriterionEntry.extra


@dataclass(frozen=True, slots=True)
class LearnerRecord:
    """Everything the writer needs besides the qualification, and the reader gives back."""

    learner: Learner
    entries: dict[str, CriterionEntry] = field(default_factory=dict)  # criterion ref -> entry
    evidence: tuple[EvidenceEntry, ...] = ()
    otj: tuple[OtjEntry, ...] = ()  # the off-the-job log (apprentices only)
    # The headers of the columns an assessor added, in column order: per unit number, and for the
    # evidence log. The writer puts them right of the table (a header with no value yet is kept).
    unit_extra_columns: dict[int, tuple[str, ...]] = field(default_factory=dict)
    evidence_extra_columns: tuple[str, ...] = ()


def _otj_entry(r: EvidenceRow) -> OtjEntry:
    """An OTJ log row as an :class:`OtjEntry` (values with problems become None)."""
    kw: dict[str, Any] = {}
    for c in layout.OTJ_COLUMNS:
        cl = r.cells.get(c.key)
        v = None if cl is None or cl.problem else cl.value
        kw[c.key] = tuple(v or ()) if c.key == "evidence_refs" else v
    return OtjEntry(**kw)


# -- the located view ----------------------------------------------------------------------------


# Not frozen: a learner workbook has ~1,000 cells and a roll-up reads a thousand workbooks;
# a frozen dataclass's __init__ costs twice as much. Treat Cells as read-only all the same.
@dataclass(slots=True)
class Cell:
    """A value with where it was found. ``value`` is normalised; ``raw`` is what the file held.

    ``problem`` is set when the raw value could not be understood (e.g. text in a date column).
    """

    sheet: str
    ref: str
    raw: Any
    value: Any
    problem: str | None = None

    @property
    def blank(self) -> bool:
        """True when the cell held nothing usable (empty, or spaces)."""
        return self.value is None and self.problem is None


@dataclass(slots=True)
class CriterionRow:
    """One row of a unit's criterion table; ``cells`` is keyed by layout column key."""

    sheet: str
    row: int  # 1-based spreadsheet row
    cells: dict[str, Cell]
    # The columns an assessor added (headers the layout does not know): header -> cell, in column order.
    extra: dict[str, Cell] = field(default_factory=dict)

    def cell(self, key: str) -> Cell:
        """The cell of column ``key`` (a blank placeholder when the column is missing)."""
        c = self.cells.get(key)
        if c is None:
            return Cell(self.sheet, "", None, None)
        return c

    def value(self, key: str) -> Any:
        """The normalised value of column ``key``."""
        c = self.cells.get(key)  # as self.cell(key).value, without building a placeholder
        return None if c is None else c.value

    @property
    def ref(self) -> str:
        """The criterion reference as written in the row ('' when blank)."""
        # Asked for hundreds of times per workbook by the checks: one lookup, no nested calls.
        c = self.cells.get("ref")
        v = None if c is None else c.value
        return v if isinstance(v, str) else ""

    def entry(self) -> CriterionEntry:
        """The entry columns as a :class:`CriterionEntry` (values with problems become None)."""
        kw: dict[str, Any] = {}
        for key in layout.ENTRY_KEYS:
            c = self.cells.get(key)
            v = None if c is None or c.problem else c.value
            if key == "evidence_refs":
                v = tuple(v or ())
            kw[key] = v
        return CriterionEntry(**kw, extra=extra_values(self.extra))


@dataclass(slots=True)
class UnitSheet:
    """A sheet recognised as a unit sheet (it holds the criterion table's header row)."""

    sheet: str
    header: dict[str, Cell]  # unit header-block key -> value cell
    header_row: int  # 1-based row of the table header
    columns: dict[str, str]  # column key -> column letters where its header was found
    missing_columns: list[str]  # header texts not found
    rows: list[CriterionRow]
    extra_columns: list[str] = field(default_factory=list)  # headers not in the contract
    # Column key -> every column letters where its header was found, for a header found more than
    # once (a hidden column headed "Decision" beside the visible one); the cells read are the last's.
    duplicate_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unit_ref(self) -> str:
        """The unit reference in the header block ('' when missing)."""
        c = self.header.get("ref")
        return str(c.value) if c is not None and c.value is not None else ""

    @property
    def unit_number(self) -> int | None:
        """The unit number in the header block, if readable."""
        c = self.header.get("number")
        return c.value if c is not None and isinstance(c.value, int) else None


def extra_values(cells: dict[str, Cell]) -> tuple[tuple[str, str], ...]:
    """(header, value as text) of the added columns' cells that hold something readable."""
    return tuple((h, str(c.value)) for h, c in cells.items() if c.value is not None and c.problem is None)


@dataclass(slots=True)
class EvidenceRow:
    """One row of the evidence log; ``cells`` keyed by layout evidence column key."""

    sheet: str
    row: int
    cells: dict[str, Cell]
    extra: dict[str, Cell] = field(default_factory=dict)  # added columns, as CriterionRow.extra

    def value(self, key: str) -> Any:
        """The normalised value of column ``key`` (None when missing)."""
        c = self.cells.get(key)
        return None if c is None else c.value


@dataclass(frozen=True, slots=True)
class Hidden:
    """The hidden rows and columns of one sheet (1-based numbers; columns as inclusive ranges)."""

    rows: frozenset[int] = frozenset()
    cols: tuple[tuple[int, int], ...] = ()

    def hides(self, ref: str) -> str | None:
        """"row" or "column" when the cell at A1 reference ``ref`` is hidden, else None."""
        letters = ref.rstrip("0123456789")
        digits = ref[len(letters):]
        if digits and int(digits) in self.rows:
            return "row"
        if letters and self.cols:
            n = 0
            for ch in letters.upper():
                n = n * 26 + ord(ch) - 64
            if any(lo <= n <= hi for lo, hi in self.cols):
                return "column"
        return None


@dataclass(slots=True)
class LearnerWorkbook:
    """A learner workbook as read: metadata, cover values, unit tables, evidence log."""

    path: Path
    sheet_names: list[str]
    meta: dict[str, str]
    cover: dict[str, Cell]  # cover key -> value cell (only labels found)
    cover_sheet: str | None
    units: list[UnitSheet]
    evidence: list[EvidenceRow]
    evidence_sheet: str | None
    # Sheets that look like unit sheets (a header block) but whose table header was not found.
    broken_sheets: dict[str, str] = field(default_factory=dict)
    has_macros: bool = False
    # Numeric cells whose value could not be used and was left out when reading: (sheet, A1
    # reference or "", the value as written, why). Found by the safety gate (NaN, infinity, 15
    # digits or more, or no date in a date cell); the checks report each at its cell.
    bad_numbers: tuple[tuple[str, str, str, str], ...] = ()
    # Pathway id resolved from the cover's Pathway text against the qualification (None when
    # blank or not recognised; the cover cell keeps what was typed).
    pathway: str | None = None
    # The off-the-job log (template version 2, apprentices only): rows keyed by layout.OTJ_COLUMNS.
    otj: list[EvidenceRow] = field(default_factory=list)
    otj_sheet: str | None = None
    evidence_extra_columns: list[str] = field(default_factory=list)  # headers the layout does not know
    # Sheet name -> its hidden rows and columns (.xlsx files, from the safety gate's scan of the
    # sheet XML; the parser does not tell). Empty for .ods, .xls and the add-in's open book.
    hidden: dict[str, Hidden] = field(default_factory=dict)

    def hidden_at(self, cell: Cell) -> str | None:
        """"row" or "column" when ``cell`` is in a hidden row or column of its sheet, else None."""
        h = self.hidden.get(cell.sheet)
        return None if h is None or not cell.ref else h.hides(cell.ref)

    def cover_value(self, key: str) -> Any:
        """The normalised cover value for ``key`` (None when missing or blank)."""
        c = self.cover.get(key)
        return None if c is None else c.value

    @property
    def learner_name(self) -> str:
        """The learner's name as written ('' when missing)."""
        v = self.cover_value("name")
        return str(v) if v else ""

    @property
    def uln(self) -> str:
        """The ULN as text ('' when missing)."""
        v = self.cover_value("uln")
        return str(v) if v else ""

    @property
    def qualification_number(self) -> str:
        """The qualification number: cover sheet first, else hidden metadata."""
        v = self.cover_value("qualification_number")
        return str(v) if v else self.meta.get("spec_number", "")

    def rows(self) -> list[CriterionRow]:
        """Every criterion row of every unit sheet, in sheet order."""
        return [r for u in self.units for r in u.rows]

    def to_record(self) -> LearnerRecord:
        """The data as a :class:`LearnerRecord` (the writer's input type).

        Rows without a reference and blank entries are left out.
        """
        def text(key: str) -> str | None:
            c = self.cover.get(key)
            return None if c is None or c.problem or c.value is None else str(c.value)

        def date(key: str) -> dt.date | None:
            c = self.cover.get(key)
            return None if c is None or c.problem or not isinstance(c.value, dt.date) else c.value

        def number(key: str) -> float | None:
            c = self.cover.get(key)
            return None if c is None or c.problem or not isinstance(c.value, float) else c.value

        reg = self.cover.get("registration_date")
        learner = Learner(
            name=self.learner_name,
            uln=self.uln,
            pathway=self.pathway,
            registration_date=None if reg is None or reg.problem else reg.value,
            assessor=text("assessor"),
            iqa=text("iqa"),
            tutor=text("tutor"),
            employer=text("employer"),
            planned_end_date=date("planned_end_date"),
            standard=text("standard"),
            start_date=date("start_date"),
            weekly_hours=number("weekly_hours"),
            planned_otj_hours=number("planned_otj_hours"),
            gateway_signoff_date=date("gateway_signoff_date"),
            english_maths=text("english_maths"),
        )
        entries: dict[str, CriterionEntry] = {}
        for row in self.rows():
            e = row.entry()
            if row.ref and not e.is_blank():
                entries[row.ref] = e
        evidence = tuple(
            EvidenceEntry(
                ref=str(r.value("ref")),
                description=r.value("description"),
                method=r.value("method"),
                date=r.value("date"),
                location=r.value("location"),
                extra=extra_values(r.extra),
            )
            for r in self.evidence
            if r.value("ref")
        )
        otj = tuple(_otj_entry(r) for r in self.otj)
        unit_extra = {u.unit_number: tuple(u.extra_columns) for u in self.units
                      if u.extra_columns and u.unit_number is not None}
        return LearnerRecord(learner=learner, entries=entries, evidence=evidence, otj=otj,
                             unit_extra_columns=unit_extra, evidence_extra_columns=tuple(self.evidence_extra_columns))
