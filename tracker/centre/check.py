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

from tracker.centre.folder import Centre, open_centre
from tracker.centre.locate import centre_root
from tracker.centre.ledger import ENTRY_FIELDS, Apprenticeship, Values
from tracker.centre.receive import inbox_files
from tracker.centre.rollup_issues import METADATA_MISMATCH, UNKNOWN_LEARNER, UNKNOWN_QUALIFICATION, UNREADABLE
from tracker.errors import TrackerError, UnreadableWorkbook
from tracker.identifiers import check_uln
from tracker.issues import Issue, Report, Task
from tracker.workbook import layout as L
from tracker.workbook.identity import Identity, identify, metadata_disagreement

if TYPE_CHECKING:
    from tracker.register import Register
    from tracker.spec.models import Qualification
    from tracker.workbook.model import CriterionRow, LearnerWorkbook


def find_centre(path: str | Path) -> Centre | None:
    """The centre whose folder holds ``path`` (a workbook or folder), or None outside any centre.

    Raises :class:`CentreError` when a ``centre.yaml`` is found but cannot be used.
    """
    root = centre_root(path)
    return open_centre(root) if root is not None else None


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
    reg.policy = centre.policy
    return reg, issues


def check_in_centre(book: LearnerWorkbook, centre: Centre | None, register: Register | None = None,
                    today: dt.date | None = None) -> Task:
    """Check ``book`` as the roll-up of ``centre`` checks it (plainly when ``centre`` is None)."""
    from tracker.rules.engine import check_workbook

    if centre is None:
        return check_workbook(book, register=register, today=today)
    task = check_workbook(book, register=register, today=today,
                          identity=identify_in_centre(book, [centre.specs], centre.readings))
    task.issues.extend(ledger_independence(book, centre, register))
    return task


def ledger_independence(book: LearnerWorkbook, centre: Centre, register: Register | None) -> list[Issue]:
    """The centre-wide independence check for one workbook, from the centre's ledger: the
    workbook's IQA (cover or rows) assessed, countersigned or taught other learners on the same
    qualification (nothing when the centre has no ledger yet)."""
    from tracker.centre import ledger as LG
    from tracker.centre.iqa import IQA_INVOLVED, IQA_INVOLVED_MITIGATED, involvement_of
    from tracker.workbook.model import split_names

    qn_cell = book.cover.get("qualification_number")
    qn = "".join(str(qn_cell.value).split()) if qn_cell is not None and qn_cell.value else ""
    if not qn or not centre.ledger.is_file():
        return []
    iqa_cell = book.cover.get("iqa")
    names = split_names(str(iqa_cell.value)) if iqa_cell is not None and iqa_cell.value else []
    for row in book.rows():
        c = row.cells.get("iqa")
        if c is not None and c.value and c.problem is None:
            names += [n for n in split_names(str(c.value)) if n not in names]
    if not names:
        return []
    conn = LG.connect(centre.ledger, create=False)
    try:
        found = involvement_of(conn, register, qn, book.uln, names)
    finally:
        conn.close()
    sheet = iqa_cell.sheet if iqa_cell is not None else None
    ref = iqa_cell.ref if iqa_cell is not None else None
    out: list[Issue] = []
    for iqa, who, mitigation in found:
        text = ", ".join(who[:6]) + (f" and {len(who) - 6} more" if len(who) > 6 else "")
        if mitigation:
            out.append(IQA_INVOLVED_MITIGATED(file=str(book.path), sheet=sheet, cell=ref, iqa=iqa, n=1,
                                              qualification=qn, who=text, mitigation=mitigation))
        else:
            out.append(IQA_INVOLVED(file=str(book.path), sheet=sheet, cell=ref, iqa=iqa, n=1, qualification=qn,
                                    who=text))
    return out


def identify_in_centre(book: LearnerWorkbook, extra_dirs: Iterable[str | Path],
                       readings: dict[str, str]) -> Identity:
    """The workbook's qualification (the centre's own qualifications, ``extra_dirs``, first),
    under the centre's reading for it, else the one recorded in the workbook, else the default."""
    ident = identify(book, extra_dirs=extra_dirs)
    q = ident.qualification
    if q is None or q.id not in readings:
        return ident
    return identify(book, qualification=q, reading=readings[q.id])


def validate_in_centre(files: Iterable[Path], centre: Centre, register: Register | None = None,
                       today: dt.date | None = None) -> Report:
    """``tracker validate`` on workbooks inside a centre folder: each checked as the centre checks
    it (its qualifications, readings, register and policy), plus the centre-wide independence
    check from the ledger. The register's own problems come first when it is the centre's."""
    from tracker.rules.engine import read_or_task

    problems: list[Issue] = []
    if register is None:
        register, problems = load_register(centre)
    report = Report()
    if problems:
        report.tasks.append(Task(file=str(centre.register), learner="Centre register", issues=problems))
    for p in files:
        book = read_or_task(p)
        report.tasks.append(book if isinstance(book, Task) else check_in_centre(book, centre, register, today))
    return report


def preview_inbox(centre: Centre, register: Register | None = None, register_issues: Iterable[Issue] = (),
                  today: dt.date | None = None) -> Report:
    """Every file waiting in the inbox, checked as the next roll-up will; nothing is merged.

    The register's own problems come first, as a task of their own. Each file is read in a worker
    process with limits (:mod:`tracker.isolation`), as the roll-up reads it: a file that kills its
    worker is one error for that file, never the end of the caller (the add-in runs in Excel's
    Python process).
    """
    from tracker.isolation import WorkerPool, auto_workers
    from tracker.rules.engine import WORKER_MODULES, failed_task

    report = Report()
    problems = list(register_issues)
    if problems:
        report.tasks.append(Task(file=str(centre.register), learner="Centre register", issues=problems))
    paths = inbox_files(centre.inbox)
    if not paths:
        return report
    with WorkerPool(_preview_one, workers=min(auto_workers(len(paths)), len(paths)), initializer=_init_preview,
                    initargs=(centre, register, today), preload=WORKER_MODULES) as pool:
        for p, outcome in zip(paths, pool.map(paths)):
            if outcome.value is not None:
                report.tasks.append(outcome.value)
            else:
                assert outcome.failure is not None
                report.tasks.append(failed_task(p, outcome.failure))
    return report


_PREVIEW: tuple[Centre, Register | None, dt.date | None] | None = None


def _init_preview(centre: Centre, register: Register | None, today: dt.date | None) -> None:
    global _PREVIEW
    _PREVIEW = (centre, register, today)


def _preview_one(path: Path) -> Task:
    from tracker.rules.engine import read_or_task

    assert _PREVIEW is not None
    centre, register, today = _PREVIEW
    book = read_or_task(path)  # an unreadable file is one issue, as everywhere
    return book if isinstance(book, Task) else check_in_centre(book, centre, register, today)



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
    # ref -> every column an assessor added on the row's sheet: header -> value (None: blank).
    # Rows without added columns are absent (the accepted values stay; merge_rules.merge_extra).
    extras: dict[str, dict[str, str | None]] = field(default_factory=dict)
    apprenticeship: Apprenticeship | None = None  # None: not an apprentice
    base_stamp: str = ""  # the hidden stamp of a re-issued workbook (``tracker issue``), or ""


COVER_KEYS = ("registration_date", "assessor", "iqa", "tutor", "employer", "planned_end_date")


def check_returned(job: Job, ctx: CheckContext) -> Checked:
    """Read and check one archived file; never raises for a bad file (it is quarantined)."""
    try:
        return _check_returned(job, ctx)
    except MemoryError:
        raise  # the worker's memory limit: tracker.isolation reports it as such
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
                   workbook_id=book.meta.get("workbook_id", "").strip(), name=book.learner_name.strip(),
                   base_stamp=book.meta.get("base", "").strip())
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
    # The one lookup (hidden metadata first, then the cover), done once and handed to the checks.
    # A cover that names another real qualification quarantines the file; a typo is reported by
    # the checks.
    identity = identify_in_centre(book, ctx.extra_dirs, ctx.readings)
    q = identity.qualification
    if q is None:
        base.status, base.code = "quarantine", UNKNOWN_QUALIFICATION.code
        base.reason = f"qualification {qn} is not installed"
        return base
    conflict = metadata_disagreement(book, q, ctx.extra_dirs)
    if conflict is not None:  # never enrol on a qualification the file itself contradicts
        base.status, base.code, base.reason = "quarantine", METADATA_MISMATCH.code, conflict
        return base
    base.qualification_number = q.number
    base.qualification_id = q.id
    base.spec_version = book.meta.get("spec_version", "")
    book.pathway = base.pathway = identity.pathway
    base.reading = identity.reading
    task = check_workbook(book, register=ctx.register, today=ctx.today, identity=identity)
    base.issues = task.issues
    base.cover = tuple(_cover_text(book, k) for k in COVER_KEYS)
    base.rows, base.extras = _rows(book, q)
    base.apprenticeship = apprenticeship_of(book)
    return base


def apprenticeship_of(book: LearnerWorkbook) -> Apprenticeship | None:
    """The apprenticeship a returned workbook records (None when the learner is not an apprentice)."""
    from tracker.rules.checks.otj import logged_hours

    standard = _cover_text(book, "standard")
    if not standard:
        return None

    def number(key: str) -> float | None:
        c = book.cover.get(key)
        return c.value if c is not None and c.problem is None and isinstance(c.value, float) else None

    return Apprenticeship(
        standard="".join(standard.split()).upper(), start_date=_cover_text(book, "start_date"),
        planned_end_date=_cover_text(book, "planned_end_date"), weekly_hours=number("weekly_hours"),
        planned_otj_hours=number("planned_otj_hours"), otj_hours=logged_hours(book.otj),
        gateway_signoff_date=_cover_text(book, "gateway_signoff_date"),
        english_maths=_cover_text(book, "english_maths"))


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
    return _iso(c.value) if key in _DATE_KEYS else str(c.value)


_DATE_KEYS = frozenset({"registration_date", "start_date", "planned_end_date", "gateway_signoff_date"})


def _rows(book: LearnerWorkbook, q: Qualification) -> tuple[list[Row], dict[str, dict[str, str | None]]]:
    """The criterion rows to merge. A criterion on two sheets (a unit sheet copied with Excel's
    Move or Copy) is taken from the copy that holds entries; copies that both hold entries and
    differ (:func:`tracker.rules.checks.base.copies_differ`, which the tampering check reports as
    tamper-copies-disagree at both cells) say nothing: all fields silent, the accepted values stay.
    A header found twice on a sheet (structure-header-twice) says nothing for that field on the
    sheet's rows. Never silently the first copy only. The issues are the checks' (validate reports
    the same): nothing is reported here. Also returns, per criterion, the added columns of the row
    taken (none for copies that disagree)."""
    from tracker.rules.checks.base import copies_differ, has_entries

    unit_of = {c.ref: u.number for u in q.units for c in u.criteria}
    # A header found twice on a sheet: neither column is preferred silently.
    twice: dict[str, frozenset[int]] = {}
    for u in book.units:
        if u.duplicate_columns:
            twice[u.sheet] = frozenset(ENTRY_FIELDS.index(k) for k in u.duplicate_columns if k in ENTRY_FIELDS)
    found: dict[str, list[tuple[Row, CriterionRow]]] = {}  # ref -> (row to merge, row as read)
    order: list[str] = []
    for row in book.rows():
        ref = row.ref.strip()
        if ref not in unit_of:
            ref = ref.upper()
            if ref not in unit_of:
                continue  # not a criterion of this qualification (the checks report it)
        values, silent = _values(row)
        sheet = row.sheet
        if sheet in twice:
            silent = silent | twice[sheet]
            values = tuple(None if i in twice[sheet] else v for i, v in enumerate(values))
        if any(read.sheet == sheet for _r, read in found.get(ref, [])):
            continue  # a row repeated on one sheet: the first one counts (the checks report it)
        if ref not in found:
            order.append(ref)
        found.setdefault(ref, []).append(((ref, unit_of[ref], values, silent), row))
    out: list[Row] = []
    extras: dict[str, dict[str, str | None]] = {}
    for ref in order:
        copies = found[ref]
        with_work = [c for c in copies if has_entries(c[1])]
        if len(with_work) > 1 and copies_differ([read for _r, read in with_work]):
            out.append((ref, unit_of[ref], (None,) * len(ENTRY_FIELDS), frozenset(range(len(ENTRY_FIELDS)))))
            continue
        taken = (with_work or copies)[0]
        out.append(taken[0])
        if taken[1].extra:
            extras[ref] = {h: (None if c.value is None or c.problem else str(c.value)) for h, c in taken[1].extra.items()}
    return out, extras


def _values(row: CriterionRow) -> tuple[tuple[str | None, ...], frozenset[int]]:
    """A criterion row's entry fields as stored, and the indices of those that said nothing."""
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
    return tuple(values), frozenset(silent)


__all__ = ["COVER_KEYS", "CheckContext", "Checked", "Job", "check_in_centre", "check_returned", "find_centre",
           "ledger_independence", "load_register", "preview_inbox", "identify_in_centre", "validate_in_centre"]
