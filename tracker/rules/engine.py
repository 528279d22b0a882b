"""The rules engine: run every check on a learner workbook and collect the issues in a Task.

* :func:`check_workbook` -- one workbook already read (the add-in reads the open book itself);
* :func:`validate_file` -- read then check; a file that cannot be read becomes a Task with one
  ``file-unreadable`` error naming the file and the reason, never an exception;
* :func:`validate_paths` -- files and folders (each folder's ``*.xlsx`` / ``*.xlsm`` / ``*.ods`` /
  ``*.xls``, skipping Office lock files ``~$*`` and tracker's own ``.~tracker-*`` temporary files)
  into a Report; :func:`scan_paths` also says which files of a folder were skipped and why.
  Each file is read and checked in a worker process with a memory and a time limit
  (:mod:`tracker.isolation`): a file that makes the parser abort, run out of memory or hang is
  one ``file-unreadable`` error saying so, and the other files are still validated.

The engine builds one :class:`~tracker.rules.checks.base.Context` per workbook: the
qualification (given, or looked up from the workbook's hidden metadata or its cover's
qualification number), the reading of an ambiguous specification (given, else the one recorded in
the workbook if the qualification knows it, else the default), the learner's pathway, which sheet
holds which unit (identified by the header block's unit reference or by the criterion references
on it, never by sheet name), and the criterion rows indexed by reference. Every check then runs on
that context and yields its findings; the engine collects them into the workbook's Task. A
check that yields a code it did not declare is a programming error (raised). A check that fails
on data nobody foresaw does not stop the others: it becomes one ``internal-check-failed`` error
on that workbook, after the findings it yielded before failing.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.errors import TrackerError, UnreadableWorkbook
from tracker.files import TEMP_PREFIX
from tracker.issues import Issue, Report, Severity, Task, issue_type
from tracker.rules.checks import ALL_CHECKS
from tracker.rules.checks.base import (Context, RowInfo, UnitView, copies_differ, has_entries, is_used, row_text,
                                      spec_index)
from tracker.spec.models import Qualification
from tracker.workbook.model import CriterionRow, LearnerWorkbook
from tracker.workbook.identity import Identity, identify

if TYPE_CHECKING:
    from tracker.isolation import Failure, Limits, Outcome
    from tracker.register import Register

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods", ".xls")
_SKIP_PREFIXES = ("~$", TEMP_PREFIX)  # Office lock files; our own half-written files
# Why a file in a folder is not validated, by its name ending (anything else: not a spreadsheet).
_SKIP_REASONS = {
    ".xltx": "an Excel template, not a workbook: make learner workbooks with tracker new",
    ".xltm": "an Excel template, not a workbook: make learner workbooks with tracker new",
    ".ots": "a LibreOffice template, not a workbook: make learner workbooks with tracker new",
    ".xlsb": "an Excel binary workbook (.xlsb): open it in Excel and save it as .xlsx",
    ".xlam": "an Excel add-in, not a workbook",
    ".csv": "a CSV text file, not a workbook",
}

FILE_UNREADABLE = issue_type(
    "file-unreadable", Severity.ERROR, "Workbook cannot be read",
    "{path} cannot be read: {reason}",
    "The file is not a workbook tracker can open: damaged or cut short, password protected, an Excel "
    "5.0/95 file, not a spreadsheet at all, or built to harm the computer that opens it (tracker "
    "refuses such files without opening them). Nothing in it was checked; the other files were still "
    "validated.",
    "Open the file in Excel or LibreOffice; if it opens, save it again as an Excel Workbook (.xlsx) without a "
    "password. If it does not open, ask the assessor for the file again.", group="file")
INTERNAL_ERROR = issue_type(
    "internal-error", Severity.ERROR, "Internal error while reading",
    "tracker could not process {path} because of an internal error ({error}); please report it",
    "Reading the workbook failed in a way tracker does not expect. This is a defect in tracker, "
    "not in the workbook; the other files were still validated.",
    "Report the message and, if you can, the file to whoever maintains tracker.", group="internal")
CHECK_FAILED = issue_type(
    "internal-check-failed", Severity.ERROR, "A check could not finish",
    "The '{check}' check could not finish on this workbook ({error}); its findings may be "
    "incomplete. Please report it",
    "One of the checks met data it did not expect and stopped. The other checks still ran. This "
    "is a defect in tracker.",
    "Report the message and, if you can, the workbook to whoever maintains tracker.", group="internal")

NOT_LEARNER_WORKBOOK = issue_type(
    "file-not-learner-workbook", Severity.ERROR, "Not a learner workbook",
    "{path} is {what}, not a learner workbook, so it was not checked{hint}",
    "The file opened, but it is not a learner's tracking workbook: it has no unit sheets and none of "
    "the hidden details tracker writes into every learner workbook. A centre master or a centre "
    "register is checked in other ways.",
    "For a centre master, use the add-in's Validate button on the master (it checks what is waiting "
    "in the inbox). For a centre register, open it with the add-in and press Validate. Otherwise "
    "choose the learner's own workbook.", group="file")

ENGINE_CODES = (FILE_UNREADABLE, INTERNAL_ERROR, CHECK_FAILED, NOT_LEARNER_WORKBOOK)


class UndeclaredCode(RuntimeError):
    """A check emitted an issue code it did not declare (a programming error)."""


@dataclass(slots=True)
class _Specs:
    """Installed spec hashes, memoised for one run."""

    hashes: dict[int, str] = field(default_factory=dict)
    #: folders searched after the bundled and user ones (a centre's ``specs/``)
    dirs: tuple[Path, ...] = ()

    def installed_hash(self, q: Qualification) -> str:
        """Content hash of the installed data file of ``q`` ('' when ``q`` is not installed)."""
        h = self.hashes.get(id(q))
        if h is None:
            from tracker.spec.catalogue import find_spec_file, load_file, spec_hash

            try:
                f = find_spec_file(q.number, self.dirs)
                h = spec_hash(f) if load_file(f) is q else ""
            except TrackerError:
                h = ""
            self.hashes[id(q)] = h
        return h


def check_workbook(book: LearnerWorkbook, *, qualification: Qualification | None = None,
                   register: Register | None = None, reading: str | None = None,
                   today: dt.date | None = None, identity: Identity | None = None,
                   _specs: _Specs | None = None) -> Task:
    """Run every check on ``book``; returns its :class:`Task`.

    ``identity`` -- the workbook's qualification, reading and pathway as the caller already
    decided them (:func:`tracker.workbook.identity.identify`; the roll-up does); otherwise they
    are decided here, from ``qualification`` when given. ``reading`` is the reading asked for (an
    unknown one is reported by the checks).
    """
    specs = _specs or _Specs()
    ident = identity or identify(book, qualification=qualification, reading=reading, extra_dirs=specs.dirs)
    q = ident.qualification
    ctx = Context(book=book, file=str(book.path), q=q, reading=ident.reading, register=register,
                  today=today or dt.date.today(), reading_requested=reading, lookup_problem=ident.problem,
                  pathway=ident.pathway)
    if q is not None:
        _prepare(ctx, q)
        ctx.installed_hash = specs.installed_hash(q)
    return Task(file=ctx.file, learner=book.learner_name, uln=book.uln,
                qualification_number=book.qualification_number, workbook_id=book.meta.get("workbook_id", ""),
                issues=_run_checks(ctx))


def _run_checks(ctx: Context) -> list[Issue]:
    """Every applicable check's findings, in check order."""
    issues: list[Issue] = []
    for chk in ALL_CHECKS:
        if chk.needs_spec and ctx.q is None:
            continue
        if chk.needs_register and ctx.register is None:
            continue
        found: list[Issue] = []
        failed: Issue | None = None
        try:
            for issue in chk.run(ctx):
                found.append(issue)
        except Exception as e:  # a defect meeting unforeseen data: report it, keep going
            # What the check yielded before failing is kept: those findings are sound.
            failed = ctx.issue(CHECK_FAILED, check=chk.name, error=f"{type(e).__name__}: {e}"[:200])
        declared = chk.code_set
        for issue in found:
            if issue.code not in declared:
                raise UndeclaredCode(f"check {chk.name!r} emitted undeclared code {issue.code!r}")
        issues += found
        if failed is not None:
            issues.append(failed)
    return issues


def _prepare(ctx: Context, q: Qualification) -> None:
    book = ctx.book
    ctx.spec = idx = spec_index(q)

    # Which sheet holds which unit.
    for us in book.units:
        unit = q.unit_by_ref(us.unit_ref.strip())
        how = "ref"
        if unit is None:
            counts = Counter(hit[0].number for r in us.rows if (hit := idx.by_ref.get(r.ref)) is not None)
            if counts:
                unit, how = q.unit(counts.most_common(1)[0][0]), "criteria"
            elif us.unit_number is not None and (unit := q.unit(us.unit_number)) is not None:
                how = "number"
            else:
                how = ""
        view = UnitView(us, unit, how)
        if unit is not None:
            first = ctx.sheet_of_unit.get(unit.number)
            if first is None:
                ctx.sheet_of_unit[unit.number] = view
            else:
                view.duplicate_of = first.sheet.sheet
        ctx.views.append(view)

    # Criterion rows by reference.
    order: dict[int, int] = {}
    for vi, view in enumerate(ctx.views):
        if view.duplicate_of is not None or view.unit is None:
            continue
        order[id(view)] = vi
        for row in view.sheet.rows:
            hit = idx.by_ref.get(row.ref)
            if hit is None:
                ctx.stray.append((view, row, "unknown" if row.ref or row_text(row) else "noref"))
            elif row.ref in ctx.rows:
                ctx.stray.append((view, row, "duplicate"))
            else:
                info = RowInfo(row, hit[0], hit[1], view)
                ctx.rows[row.ref] = info
                if hit[0].number != view.unit.number:
                    ctx.misplaced.append(info)
    # A unit sheet present twice (Excel's Move or Copy): both copies are read. A criterion with
    # entries on one copy only is checked where the entries are; copies whose entries differ
    # disagree (tamper-copies-disagree; the roll-up merges neither, tracker.centre.check).
    copies: dict[str, list[tuple[UnitView, CriterionRow]]] = {}
    for vi, view in enumerate(ctx.views):
        if view.duplicate_of is None or view.unit is None:
            continue
        for row in view.sheet.rows:
            held = ctx.rows.get(row.ref)
            if held is not None and held.row.sheet != row.sheet:
                order.setdefault(id(view), vi)
                copies.setdefault(row.ref, [(held.view, held.row)]).append((view, row))
    for cref, found in copies.items():
        with_work = [(v, r) for v, r in found if has_entries(r)]
        if len(with_work) == 1 and with_work[0][1] is not found[0][1]:
            v, r = with_work[0]
            taken = ctx.rows[cref]
            ctx.rows[cref] = RowInfo(r, taken.unit, taken.criterion, v)
        elif len(with_work) > 1 and (differ := copies_differ([r for _v, r in with_work])):
            ctx.disagree[cref] = ([r for _v, r in with_work], differ)
    # A row whose reference was changed is still found by its text (on its unit's sheet).
    if ctx.stray:
        kept: list[tuple[UnitView, CriterionRow, str]] = []
        for view, row, why in ctx.stray:
            if why != "duplicate" and view.unit is not None:
                t = row_text(row)
                ref = idx.text_to_ref[view.unit.number].get(t.casefold()) if t else None
                if ref is not None and ref not in ctx.rows:
                    u, c = idx.by_ref[ref]
                    info = RowInfo(row, u, c, view)
                    ctx.rows[ref] = info
                    ctx.renamed.append((info, row.ref))
                    continue
            if why == "noref" and not is_used(row):
                continue  # a note typed under the table: nothing to check
            kept.append((view, row, why))
        ctx.stray = kept
    ctx.row_list = sorted(ctx.rows.values(), key=lambda i: (order.get(id(i.view), 0), i.row.row))
    for u in q.units:
        ctx.required[u.number] = q.required(u, ctx.pathway, ctx.reading or None)


def validate_file(path: str | Path, *, qualification: Qualification | None = None,
                  register: Register | None = None, reading: str | None = None,
                  today: dt.date | None = None, _specs: _Specs | None = None) -> Task:
    """Read the workbook at ``path`` and check it; an unreadable file is a Task with one error."""
    book = read_or_task(path, qualification)
    if isinstance(book, Task):
        return book
    return check_workbook(book, qualification=qualification, register=register, reading=reading,
                          today=today, _specs=_specs)


def read_or_task(path: str | Path, qualification: Qualification | None = None) -> LearnerWorkbook | Task:
    """The workbook at ``path``; or, when it cannot be read, a Task holding that one error."""
    from tracker.workbook.reader import read_workbook

    p = Path(path)
    try:
        book = read_workbook(p, qualification)
    except UnreadableWorkbook as e:
        return Task(file=str(p), issues=[FILE_UNREADABLE(file=str(p), sheet=e.sheet, cell=e.cell,
                                                         path=p.name, reason=e.reason)])
    except MemoryError:
        raise  # a worker's memory limit: tracker.isolation reports it for this file
    except Exception as e:  # a reader defect must not stop a folder's validation
        return Task(file=str(p), issues=[INTERNAL_ERROR(file=str(p), path=p.name, error=f"{type(e).__name__}: {e}"[:200])])
    other = other_workbook_kind(book)
    if other is not None:
        what, hint = other
        return Task(file=str(p), issues=[NOT_LEARNER_WORKBOOK(file=str(p), path=p.name, what=what, hint=hint)])
    return book


def other_workbook_kind(book: LearnerWorkbook) -> tuple[str, str] | None:
    """(what it is, a hint) for a workbook that is no learner workbook; None for a learner's.

    A workbook with tracker's hidden metadata is a learner's (even with every unit sheet deleted).
    Without it, a centre master (its sheets: its Criteria table has a unit table's headers) or a
    register (its Staff and Interests sheets) would otherwise be read as a learner whose cover is
    the Learners sheet ("ULN 'Learner name' is not 10 digits"); a workbook with neither a cover
    nor a unit sheet is nothing tracker knows.
    """
    if book.meta:
        return None
    from tracker.register import INTERESTS_SHEET, STAFF_SHEET
    from tracker.workbook import layout as L

    names = {n.casefold() for n in book.sheet_names}
    # All but at most four of the master's sheets: a master written by an older version lacks the
    # sheets added since (Sampling plan and Gateway, then Caseload and Progress notes).
    if len({s.casefold() for s in L.MASTER_SHEETS} & names) >= len(L.MASTER_SHEETS) - 4:
        return "a centre master workbook", "; validate the learner workbooks or the centre's inbox folder instead"
    if {STAFF_SHEET.casefold(), INTERESTS_SHEET.casefold()} <= names:
        return "a centre register", "; check it with: tracker register check FILE"
    if book.cover_sheet is None and not book.units:
        return "a workbook with no cover sheet and no unit sheets", ""
    return None


def is_workbook_name(name: str) -> bool:
    """True for a file name validate picks up from a folder."""
    return name.lower().endswith(WORKBOOK_SUFFIXES) and not name.startswith(_SKIP_PREFIXES)


def skip_reason(path: Path) -> str | None:
    """Why the file ``path`` found in a folder is not validated; None when it is."""
    name = path.name
    if name.startswith("~$"):
        return "an Office lock file (the workbook is open in Excel or LibreOffice)"
    if name.startswith(TEMP_PREFIX):
        return "a temporary file tracker is writing or left behind"
    if path.is_dir():
        return "a folder (folders inside folders are not searched)"
    if not path.is_file():
        return "not an ordinary file"
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return None
    return _SKIP_REASONS.get(suffix, "not a spreadsheet (.xlsx, .xlsm, .ods or .xls)")


def scan_paths(paths: Iterable[Path | str]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(files to validate, (file, why) of each file of a folder that was skipped).

    Files named explicitly are validated whatever their name; folders give their workbook files
    (not recursive), in name order.
    """
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for p in map(Path, paths):
        if not p.is_dir():
            files.append(p)
            continue
        try:
            names = sorted(os.listdir(p))
        except OSError:
            files.append(p)  # reported as unreadable by validate_file
            continue
        for n in names:
            why = skip_reason(p / n)
            if why is None:
                files.append(p / n)
            else:
                skipped.append((p / n, why))
    return files, skipped


def expand_paths(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Files as given; folders as their workbook files (not recursive), in name order."""
    yield from scan_paths(paths)[0]


@dataclass(slots=True)
class _WorkerState:
    register: Register | None = None
    reading: str | None = None
    today: dt.date | None = None
    specs: _Specs = field(default_factory=_Specs)


_STATE = _WorkerState()

#: modules a validation worker needs: imported once in the parent before workers are forked
WORKER_MODULES = ("python_calamine", "tracker.workbook.reader", "tracker.workbook.safety",
                  "tracker.spec.catalogue")


def _init_validate_worker(register: Register | None, reading: str | None, today: dt.date | None,
                          spec_dirs: tuple[Path, ...] = ()) -> None:
    global _STATE
    _STATE = _WorkerState(register, reading, today, _Specs(dirs=spec_dirs))


def _validate_in_worker(path: Path) -> Task:
    st = _STATE
    return validate_file(path, register=st.register, reading=st.reading, today=st.today, _specs=st.specs)


def failed_task(path: Path, failure: Failure) -> Task:
    """The one-issue Task of a file whose worker died, ran out of memory or time, or failed."""
    p = str(path)
    if failure.kind == "error":
        return Task(file=p, issues=[INTERNAL_ERROR(file=p, path=path.name, error=failure.detail[:200])])
    return Task(file=p, issues=[FILE_UNREADABLE(file=p, path=path.name, reason=failure.reason())])


def validate_paths(paths: Iterable[Path | str], *, register: Register | None = None,
                   reading: str | None = None, today: dt.date | None = None,
                   progress: bool = False, spec_dirs: Iterable[Path | str] = (), workers: int | None = None,
                   limits: Limits | None = None) -> Report:
    """Validate every workbook in ``paths`` (files and folders) into one :class:`Report`.

    ``spec_dirs``: more folders of qualification data files (a centre's ``specs/``).
    Every file is read and checked in a worker process (``workers``: how many; default one, or
    two for a large folder) under ``limits`` (default :data:`tracker.isolation.DEFAULT_LIMITS`).
    """
    from tracker.isolation import DEFAULT_LIMITS, WorkerPool, auto_workers

    files = list(expand_paths(paths))
    report = Report()
    if not files:
        return report
    with WorkerPool(_validate_in_worker, workers=min(auto_workers(len(files), workers), len(files)),
                    limits=limits or DEFAULT_LIMITS, initializer=_init_validate_worker,
                    initargs=(register, reading, today, tuple(Path(d) for d in spec_dirs)),
                    preload=WORKER_MODULES) as pool:
        outcomes: Iterable[Outcome[Task]] = pool.map(files)
        if progress and len(files) > 1:
            from tqdm import tqdm

            outcomes = tqdm(outcomes, total=len(files), desc="validating", unit="file", leave=False,
                            disable=None)
        for f, outcome in zip(files, outcomes):
            if outcome.value is not None:
                report.tasks.append(outcome.value)
            else:
                assert outcome.failure is not None
                report.tasks.append(failed_task(f, outcome.failure))
    return report
