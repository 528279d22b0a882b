"""Shared helpers for the rules tests: records, workbooks, edits, and where things are.

Workbooks are written with the real writer from a :class:`LearnerRecord`; cases the writer cannot
produce (text in a date cell, a deleted row or sheet, a changed criterion) are made by editing
the written file with openpyxl. Cell locations are computed from the layout module, the same way
the writer places things, so the tests do not hard-code column letters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openpyxl

from tracker.issues import Severity, Task
from tracker.register import Interest, Register, StaffMember
from tracker.rules.checks.base import Check
from tracker.rules.engine import validate_file
from tracker.spec.catalogue import load_qualification
from tracker.spec.models import Qualification
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord
from tracker.workbook.writer import new_workbook

L2 = load_qualification("603/4687/5")
L3 = load_qualification("603/4688/7")

TODAY = dt.date(2025, 6, 30)
REGISTERED = dt.date(2024, 1, 8)
ASSESSOR = "Ann Assessor"
IQA = "Ian Iqa"
TUTOR = "Tom Tutor"
LEARNER = "Bob Learner"
ULN = "1000000043"
FIRST_EVIDENCE = dt.date(2024, 2, 1)

TYPICAL = {"K": "Worksheet", "S": "Observation", "B": "Witness testimony"}

Found = list[tuple[str, str | None, str | None]]


def learner(pathway: str | None = "face-to-face", **kw: Any) -> Learner:
    """The test learner, with keyword overrides."""
    base: dict[str, Any] = dict(name=LEARNER, uln=ULN, pathway=pathway, registration_date=REGISTERED,
                                assessor=ASSESSOR, iqa=IQA, tutor=TUTOR, employer="Acme Ltd")
    base.update(kw)
    return Learner(**base)


def signed(q: Qualification, ref: str, n: int = 0, *, sampled: bool = False, **kw: Any) -> CriterionEntry:
    """A correctly completed, signed-off Met entry for criterion ``ref`` (evidence E<n>)."""
    ev = FIRST_EVIDENCE + dt.timedelta(days=n % 400)
    e = CriterionEntry(evidence_refs=(f"E{n}",), method=TYPICAL[ref[0]], evidence_date=ev, decision=L.MET,
                       assessor=ASSESSOR, assessor_date=ev + dt.timedelta(days=1))
    if sampled:
        e = dataclasses.replace(e, iqa_sampled=L.YES, iqa=IQA, iqa_date=ev + dt.timedelta(days=3),
                                iqa_decision=L.AGREED)
    return dataclasses.replace(e, **kw) if kw else e


def evidence_for(entries: dict[str, CriterionEntry]) -> tuple[EvidenceEntry, ...]:
    """An evidence log listing every ref the entries quote."""
    refs: dict[str, EvidenceEntry] = {}
    for ref, e in entries.items():
        for r in e.evidence_refs:
            refs.setdefault(r, EvidenceEntry(r, f"Evidence for {ref}", e.method, e.evidence_date,
                                             "Portfolio, section 1"))
    return tuple(refs.values())


def complete_record(q: Qualification, pathway: str | None, reading: str | None = None,
                    **learner_kw: Any) -> LearnerRecord:
    """Every required criterion Met, signed and dated, every third one IQA-sampled and agreed."""
    entries: dict[str, CriterionEntry] = {}
    n = 0
    for unit in q.units:
        for ref in q.required(unit, pathway, reading):
            n += 1
            entries[ref] = signed(q, ref, n, sampled=n % 3 == 0)
    return LearnerRecord(learner(pathway, **learner_kw), entries, evidence_for(entries))


def record(entries: dict[str, CriterionEntry] | None = None, *, pathway: str | None = "face-to-face",
           evidence: Iterable[EvidenceEntry] | None = None, **learner_kw: Any) -> LearnerRecord:
    """A record with the given entries (evidence log covering them unless given)."""
    entries = entries or {}
    ev = tuple(evidence) if evidence is not None else evidence_for(entries)
    return LearnerRecord(learner(pathway, **learner_kw), entries, ev)


def write(tmp: Path, q: Qualification, rec: LearnerRecord, name: str = "learner.xlsx", **kw: Any) -> Path:
    """Write ``rec`` as a learner workbook in ``tmp``."""
    return new_workbook(q, rec, tmp / name, **kw)


def validate(path: Path, **kw: Any) -> Task:
    """Validate with today fixed at :data:`TODAY` unless given."""
    kw.setdefault("today", TODAY)
    return validate_file(path, **kw)


# -- where things are ------------------------------------------------------------------------------


def unit_of(q: Qualification, ref: str) -> int:
    """The unit number holding criterion ``ref``."""
    for u in q.units:
        if u.criterion(ref) is not None:
            return u.number
    raise KeyError(ref)


def at(q: Qualification, ref: str, key: str) -> tuple[str, str]:
    """(sheet, A1 cell) of criterion ``ref``'s column ``key`` as the writer places it."""
    for u in q.units:
        for i, c in enumerate(u.criteria):
            if c.ref == ref:
                col = [x.key for x in L.UNIT_TABLE_COLUMNS].index(key)
                return L.unit_sheet_name(u.number), L.cell_ref(L.UNIT_FIRST_DATA_ROW + i, col)
    raise KeyError(ref)


def row_after_table(q: Qualification, unit: int, extra: int = 0) -> int:
    """0-based row just below unit ``unit``'s criterion table (plus ``extra``)."""
    u = q.unit(unit)
    assert u is not None
    return L.UNIT_FIRST_DATA_ROW + len(u.criteria) + extra


def col(key: str) -> int:
    """0-based column of a criterion table column."""
    return [x.key for x in L.UNIT_TABLE_COLUMNS].index(key)


def cover_at(key: str) -> tuple[str, str]:
    """(sheet, A1 cell) of a cover value."""
    return L.COVER, L.cell_ref(L.cover_row(key), L.COVER_VALUE_COL)


def header_at(unit: int, key: str) -> tuple[str, str]:
    """(sheet, A1 cell) of a unit header-block value."""
    return L.unit_sheet_name(unit), L.cell_ref(L.unit_header_row(key), 1)


def evidence_at(i: int, key: str) -> tuple[str, str]:
    """(sheet, A1 cell) of evidence log row ``i`` (0-based), column ``key``."""
    c = [x.key for x in L.EVIDENCE_COLUMNS].index(key)
    return L.EVIDENCE, L.cell_ref(L.EVIDENCE_HEADER_ROW + 1 + i, c)


# -- editing a written workbook -----------------------------------------------------------------------


def edit(path: Path, cells: dict[tuple[str, str], Any] | None = None, *, delete_sheets: Iterable[str] = (),
         rename: dict[str, str] | None = None, copy_sheets: dict[str, str] | None = None,
         errors: dict[tuple[str, str], str] | None = None) -> Path:
    """Change cells (text always as text; ``errors`` as real error cells such as #REF!), copy, rename
    and delete sheets, in place, with openpyxl."""
    wb = openpyxl.load_workbook(path)
    for src, dst in (copy_sheets or {}).items():
        wb.copy_worksheet(wb[src]).title = dst
    for (sheet, ref), v in (cells or {}).items():
        c = wb[sheet][ref]
        c.value = v
        if isinstance(v, str):
            c.data_type = "s"
    for (sheet, ref), err in (errors or {}).items():
        c = wb[sheet][ref]
        c.value = err
        assert c.data_type == "e", err
    for old, new in (rename or {}).items():
        wb[old].title = new
    for s in delete_sheets:
        del wb[s]
    wb.save(path)
    return path


def set_meta(path: Path, **values: str) -> Path:
    """Change keys of the hidden metadata sheet."""
    wb = openpyxl.load_workbook(path)
    ws = wb[L.META]
    for row in ws.iter_rows(min_row=2):
        if row[0].value in values:
            row[1].value = values[row[0].value]
    wb.save(path)
    return path


# -- what was found ---------------------------------------------------------------------------------


def norm(items: Iterable[tuple[str, str | None, str | None]]) -> Found:
    """A list of (code, sheet, cell) in a canonical order (so that tests compare contents)."""
    return sorted(items, key=lambda t: tuple(x or "" for x in t))


def found(task: Task, *checks_or_codes: Check | str) -> Found:
    """(code, sheet, cell) of the task's issues emitted by the given checks (or with the given codes),
    in the canonical order of :func:`norm`."""
    codes: set[str] = set()
    for c in checks_or_codes:
        codes |= set(c.code_set) if isinstance(c, Check) else {c}
    return norm((i.code, i.sheet, i.cell) for i in task.issues if i.code in codes)


def errors(task: Task) -> list[str]:
    """Messages of every error, for assertion messages."""
    return [f"{i.code} {i.sheet}!{i.cell} {i.message}" for i in task.issues if i.severity is Severity.ERROR]


def not_info(task: Task) -> list[str]:
    """Messages of every error and warning."""
    return [f"{i.code} {i.sheet}!{i.cell} {i.message}" for i in task.issues if i.severity is not Severity.INFO]


# -- a register -------------------------------------------------------------------------------------


def staff_register(*extra: StaffMember, interests: Iterable[Interest] = ()) -> Register:
    """A register with the usual assessor, IQA and tutor, plus ``extra`` members."""
    base = [
        StaffMember(ASSESSOR, frozenset({"assessor"}), "TAQA L3 CAVA", "Held"),
        StaffMember(IQA, frozenset({"IQA"}), "", None, "TAQA L4 IQA", "Held"),
        StaffMember(TUTOR, frozenset({"tutor"})),
    ]
    return Register.of([*extra, *base], interests)
