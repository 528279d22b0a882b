"""Checking a workbook the way its centre does: one place for the roll-up and the add-in.

* :func:`find_centre` -- the centre folder a workbook lives in (its folder or one above it).
* :func:`load_register` -- the centre register and its problems (a missing, blank or unreadable
  register means the staff checks are skipped, not that every signer is unknown).
* :func:`identify_in_centre` -- the one lookup (:func:`tracker.workbook.identity.identify`) with
  the centre's own qualifications first; the reading that applies is the centre's choice, else the
  one recorded in the workbook, else the specification's default.
* :func:`check_in_centre` -- :func:`tracker.rules.engine.check_workbook` with all of that.
* :func:`preview_inbox` -- every file waiting in the inbox, checked as the next roll-up will
  check it, without merging anything (the add-in's Validate on the master).
* :func:`check_returned` -- one returned file as the roll-up takes it (run in worker processes
  by :mod:`tracker.centre.pool`): read, identify the learner and qualification, run every check,
  and extract the criterion rows to merge; a file that cannot be merged comes back with the
  reason it goes to quarantine. It never raises for a bad file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.centre.folder import Centre, is_centre, open_centre
from tracker.centre.ledger import ENTRY_FIELDS, Values
from tracker.centre.receive import inbox_files
from tracker.centre.rollup_issues import UNKNOWN_LEARNER, UNKNOWN_QUALIFICATION, UNREADABLE
from tracker.errors import TrackerError, UnreadableWorkbook
from tracker.identifiers import check_uln
from tracker.issues import Issue, Report, Task
from tracker.workbook.identity import Identity, identify

if TYPE_CHECKING:
    from tracker.register import Register
    from tracker.spec.models import Qualification
    from tracker.workbook.model import LearnerWorkbook


def find_centre(path: str | Path) -> Centre | None:
    """The centre whose folder holds ``path`` (a workbook or folder), or None outside any centre.

    Raises :class:`CentreError` when a ``centre.yaml`` is found but cannot be used.
    """
    p = Path(path).absolute()
    for folder in (p, *p.parents) if p.is_dir() else p.parents:
        if is_centre(folder):
            return open_centre(folder)
    return None


def load_register(centre: Centre) -> tuple[Register | None, list[Issue]]:
    """The centre register and its problems.

    Without a usable register (missing, unreadable, or no staff listed yet -- a new centre) the
    staff checks are skipped rather than reporting every signer as unknown; an unreadable
    register is one issue.
    """
    if not centre.register.is_file():
        return None, []
    from tracker.register import read_register

    try:
        reg, issues = read_register(centre.register)
    except TrackerError as e:
        from tracker.rules.engine import FILE_UNREADABLE

        reason = getattr(e, "reason", str(e))
        return None, [FILE_UNREADABLE(file=centre.register.name, path=centre.register.name,
                                      reason=f"{reason} (staff checks were skipped)")]
    if not reg.staff:
        return None, issues
    return reg, issues


def check_in_centre(book: LearnerWorkbook, centre: Centre | None, register: Register | None = None,
                    today: dt.date | None = None) -> Task:
    """Check ``book`` as the roll-up of ``centre`` checks it (plainly when ``centre`` is None)."""
    from tracker.rules.engine import check_workbook

    if centre is None:
        return check_workbook(book, register=register, today=today)
    return check_workbook(book, register=register, today=today,
                          identity=identify_in_centre(book, [centre.specs], centre.readings))


def identify_in_centre(book: LearnerWorkbook, extra_dirs: Iterable[str | Path],
                       readings: dict[str, str]) -> Identity:
    """The workbook's qualification (the centre's own qualifications, ``extra_dirs``, first),
    under the centre's reading for it, else the one recorded in the workbook, else the default."""
    ident = identify(book, extra_dirs=extra_dirs)
    q = ident.qualification
    if q is None or q.id not in readings:
        return ident
    return identify(book, qualification=q, reading=readings[q.id])


def preview_inbox(centre: Centre, register: Register | None = None, register_issues: Iterable[Issue] = (),
                  today: dt.date | None = None) -> Report:
    """Every file waiting in the inbox, checked as the next roll-up will; nothing is merged.

    The register's own problems come first, as a task of their own.
    """
    from tracker.rules.engine import read_or_task

    report = Report()
    problems = list(register_issues)
    if problems:
        report.tasks.append(Task(file=str(centre.register), learner="Centre register", issues=problems))
    for p in inbox_files(centre.inbox):
        book = read_or_task(p)  # an unreadable file is one issue, as everywhere
        report.tasks.append(book if isinstance(book, Task) else check_in_centre(book, centre, register, today))
    return report



# -- a returned file, as the roll-up takes it ------------------------------------------------------


@dataclass(slots=True)
class Job:
    """One archived file to read and check."""

    hash: str
    archive: str
    name: str


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What the centre checks a returned file with (sent once to each worker process)."""

    extra_dirs: tuple[str, ...]  # the centre's own qualifications (specs/)
    readings: dict[str, str]  # qualification id -> the centre's reading
    register: Register | None
    today: dt.date | None


# (ref, unit number, values in ENTRY_FIELDS order, indices of the fields that said nothing)
Row = tuple[str, int, Values, frozenset[int]]


@dataclass(slots=True)
class Checked:
    """The result of reading and checking one file: identity, issues, criterion rows."""

    hash: str
    status: str  # ok | quarantine
    code: str = ""  # issue code of the quarantine reason
    reason: str = ""
    issues: list[Issue] = field(default_factory=list)
    uln: str = ""
    qualification_number: str = ""
    qualification_id: str = ""
    spec_version: str = ""
    workbook_id: str = ""
    name: str = ""
    pathway: str | None = None
    reading: str = ""
    cover: tuple[str | None, ...] = ()  # in COVER_KEYS order
    rows: list[Row] = field(default_factory=list)


COVER_KEYS = ("registration_date", "assessor", "iqa", "tutor", "employer", "planned_end_date")


def check_returned(job: Job, ctx: CheckContext) -> Checked:
    """Read and check one archived file; never raises for a bad file (it is quarantined)."""
    try:
        return _check_returned(job, ctx)
    except Exception as e:  # a defect must not stop the roll-up: quarantine the file, say why
        reason = f"internal error while processing it ({type(e).__name__}: {str(e)[:160]}); please report"
        return Checked(job.hash, "quarantine", UNREADABLE.code, reason)


def _check_returned(job: Job, ctx: CheckContext) -> Checked:
    from tracker.rules.engine import check_workbook
    from tracker.workbook.reader import read_workbook

    try:
        book = read_workbook(Path(job.archive))
    except UnreadableWorkbook as e:
        where = f" (sheet '{e.sheet}')" if e.sheet else ""
        return Checked(job.hash, "quarantine", UNREADABLE.code, f"{e.reason}{where}")
    uln = book.uln.strip()
    ident = check_uln(book.cover_value("uln"))
    qn = book.qualification_number.strip()
    base = Checked(job.hash, "ok", uln=ident.value or uln, qualification_number=qn,
                   workbook_id=book.meta.get("workbook_id", "").strip(), name=book.learner_name.strip())
    if not ident.ok:
        base.status, base.code = "quarantine", UNKNOWN_LEARNER.code
        base.reason = ident.problem if ident.value else "the cover sheet gives no ULN"
        if ident.value == "9999999999":
            base.reason = "its ULN is 9999999999 ('not known'); the learner cannot be identified"
        return base
    if not qn:
        base.status, base.code = "quarantine", UNKNOWN_QUALIFICATION.code
        base.reason = "it names no qualification number"
        return base
    # The one lookup (hidden metadata first, then the cover; a cover that disagrees is reported by
    # the checks), done once and handed to the checks.
    identity = identify_in_centre(book, ctx.extra_dirs, ctx.readings)
    q = identity.qualification
    if q is None:
        base.status, base.code = "quarantine", UNKNOWN_QUALIFICATION.code
        base.reason = f"qualification {qn} is not installed"
        return base
    base.qualification_number = q.number
    base.qualification_id = q.id
    base.spec_version = book.meta.get("spec_version", "")
    book.pathway = base.pathway = identity.pathway
    base.reading = identity.reading
    task = check_workbook(book, register=ctx.register, today=ctx.today, identity=identity)
    base.issues = task.issues
    base.cover = tuple(_cover_text(book, k) for k in COVER_KEYS)
    base.rows = _rows(book, q)
    return base


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _cover_text(book: LearnerWorkbook, key: str) -> str | None:
    c = book.cover.get(key)
    if c is None or c.problem or c.value is None:
        return None
    return _iso(c.value) if key in ("registration_date", "planned_end_date") else str(c.value)


def _rows(book: LearnerWorkbook, q: Qualification) -> list[Row]:
    unit_of = {c.ref: u.number for u in q.units for c in u.criteria}
    out: list[Row] = []
    seen: set[str] = set()
    for row in book.rows():
        ref = row.ref.strip()
        if ref not in unit_of:
            ref = ref.upper()
            if ref not in unit_of:
                continue  # not a criterion of this qualification (the checks report it)
        if ref in seen:
            continue  # a duplicated row: the first one counts (the checks report it)
        seen.add(ref)
        values: list[str | None] = []
        silent: set[int] = set()
        for i, key in enumerate(ENTRY_FIELDS):
            c = row.cells.get(key)
            if c is None or c.problem:
                values.append(None)
                silent.add(i)
            elif key == "evidence_refs":
                refs = c.value or ()
                values.append(", ".join(refs) if refs else None)
            else:
                values.append(_iso(c.value) if c.value is not None else None)
        out.append((ref, unit_of[ref], tuple(values), frozenset(silent)))
    return out


__all__ = ["COVER_KEYS", "CheckContext", "Checked", "Job", "check_in_centre", "check_returned", "find_centre",
           "load_register", "preview_inbox", "identify_in_centre"]
