"""The roll-up: merge every returned workbook in the inbox into the ledger, then the master.

Steps of :func:`rollup` (each file is identified by the SHA-256 of its content, never its name):

1. **Lock** the centre folder (a second roll-up refuses at once) and refuse when the master is
   open in Excel (:class:`~tracker.errors.MasterLocked`) -- before anything is touched.
2. **Receive**: every file in ``inbox/`` (sub-folders too; Office owner files ``~$*`` and hidden
   files skipped) is copied into ``archive/<2 hex>/<hash>.<ext>`` before anything else, and
   flushed to disk before the ledger refers to it. A file whose hash the ledger already holds is a
   no-op (one it quarantined before is looked at again -- the qualification may be installed now
   -- but a file still not mergeable changes nothing).
3. **Read and check** the new files -- in two worker processes when there are enough files for it
   to pay -- from their archived copies: the reader, then every check of the rules engine (with the
   centre register and the centre's reading). Unreadable files, and files that name no valid ULN or
   no installed qualification, are **quarantined**: recorded, moved to ``quarantine/`` with a
   ``.why.txt`` note, and listed on the master's Issues sheet; the rest of the roll-up goes on.
4. **Merge**, in one SQLite transaction, file by file in the order the files were last modified:
   learners by ULN + qualification number (+ workbook id), criterion rows by the rules below.
5. **Centre checks** (:mod:`tracker.centre.iqa`) on the whole ledger. When the centre register
   or a reading in ``centre.yaml`` changed since the last roll-up, every learner's latest return
   is checked again (from the archive), so the Issues sheet reflects the current register; a
   blank register (a new centre) or an unreadable one skips the staff checks.
6. **Publish**: the master is written to a temporary file from the uncommitted ledger, then the
   ledger is committed, then the temporary file replaces the master (``os.replace``, atomic). A kill
   at any point leaves the previous ledger (SQLite rolls back) and the previous master intact. If
   the process dies between the commit and the replace, the ledger records that the master is
   behind (``meta.master_run``) and the next roll-up rebuilds it.
7. **Tidy the inbox**: merged and already-received files are removed from ``inbox/`` (their copies
   are in ``archive/``), quarantined files are moved to ``quarantine/`` (with the reason in a
   ``.why.txt`` beside each). A file changed since it was received is left for the next roll-up.

A roll-up with nothing new changes nothing (no run is recorded; the master is only rebuilt if it
is missing or behind the ledger). Faults -- a full disk, a read-only folder -- stop it with one
:class:`~tracker.errors.CentreError` message before the commit, leaving everything as it was.

Merge rules per criterion row (fields are the workbook's input columns):

* A row the ledger has not seen, or whose accepted value is not signed off, takes the returned
  values: new work is accepted (a cleared field is cleared).
* A row is **signed off** by the assessor when its accepted decision is ``Met``; by the IQA when
  it has an IQA decision. Signed fields -- decision, assessor, assessor date, evidence refs,
  method, evidence date (assessor); IQA sampled, IQA, IQA date, IQA decision (IQA) -- may be filled
  in where blank (and evidence refs added to), but a returned row that changes or removes a signed
  value is a **conflict**: the accepted row stays, and the conflict records both rows, both source
  files and the fields concerned. An IQA decision ``Referred back`` reopens the row (the assessor
  re-assesses, the IQA re-samples), so nothing on it is guarded.
* A cell the reader could not understand (text in a date column) or a column missing from the
  returned sheet says nothing: the accepted value is kept. Rows missing from a return (a deleted
  sheet) are left as they are.
* An open conflict is closed when a later return agrees with the accepted row (``agreeing-return``),
  replaced when a later return contradicts it differently (``superseded``), or closed by
  :func:`resolve` (``tracker resolve``: ``kept-accepted`` or ``kept-returned``), recorded with who,
  when and a note. A returned value an admin already rejected is not raised again.

Learner identity: ULN + qualification number. A return for a known learner whose name differs is
accepted when it comes from a workbook already seen for that learner (a corrected name, warning)
and quarantined when it comes from a workbook never seen for them (a different person with a
mistyped ULN); two learners with the same name and different ULNs are always two learners.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import multiprocessing
import os
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.centre import ledger as LG
from tracker.centre.check import load_register
from tracker.centre.folder import Centre, RollupLock, check_master_writable, open_centre
from tracker.errors import CentreError, MasterLocked, UsageError
from tracker.identifiers import check_uln
from tracker.issues import Issue, Severity, issue_type
from tracker.workbook import layout as L
from tracker.workbook.model import name_key

if TYPE_CHECKING:
    from tracker.centre.iqa import CoverageRow
    from tracker.register import Register
    from tracker.spec.models import Qualification
    from tracker.workbook.model import LearnerWorkbook

# -- issue types of the roll-up ------------------------------------------------------------------

UNKNOWN_LEARNER = issue_type(
    "centre-unknown-learner", Severity.ERROR, "Returned workbook names no learner",
    "{name} was not merged: {reason}",
    "A returned workbook is matched to a learner by the ULN on its cover sheet (with the "
    "qualification number), never by its file name. This file gives no valid ULN, so it cannot be "
    "matched; it was moved to the quarantine folder and nothing in it was merged.",
    "Correct the ULN on the workbook's cover sheet and drop the file into the inbox again.",
    group="centre")
UNKNOWN_QUALIFICATION = issue_type(
    "centre-unknown-qualification", Severity.ERROR, "Returned workbook names no installed qualification",
    "{name} was not merged: {reason}",
    "The workbook's qualification number (on the cover sheet, or on the workbook's hidden details sheet) is missing or is not "
    "an installed qualification, so its criteria cannot be checked; it was moved to the "
    "quarantine folder.",
    "Correct the qualification number on the workbook's cover and drop the file into the inbox again. "
    "If the qualification is new to the centre, whoever looks after tracker installs it first (there "
    "is no way to do this from Excel: `tracker spec add FILE.yaml --centre CENTRE`).", group="centre")
UNREADABLE = issue_type(
    "centre-unreadable", Severity.ERROR, "Returned file cannot be read",
    "{name} was not merged: {reason}",
    "The file is not a learner workbook tracker can open (damaged, cut short, password "
    "protected, not a spreadsheet, or built to harm the computer that opens it). It was moved to the quarantine "
    "folder; the rest of the roll-up went on.",
    "Open it in Excel or LibreOffice; if it opens, save it as an Excel Workbook (.xlsx) without a password and drop "
    "it into the inbox again. Otherwise ask the assessor for the file again.", group="centre")
IDENTITY_MISMATCH = issue_type(
    "centre-identity-mismatch", Severity.ERROR, "ULN belongs to another learner",
    "{name} was not merged: its ULN {uln} is on file for '{known}', but this workbook names "
    "'{learner}' and is not a workbook seen for them before",
    "Two people must never be merged into one record. The ULN in this workbook is already held by "
    "a learner with a different name, and the workbook is a different one from theirs, so it is "
    "probably another learner's workbook with a mistyped (or copied) ULN.",
    "Check the ULN on the workbook's cover sheet against the learner's record and correct it; if it "
    "really is the same person under a new name, correct the name on their original workbook.",
    group="centre")
NAME_CHANGED = issue_type(
    "centre-name-changed", Severity.WARNING, "Learner's name changed",
    "The learner's name changed from '{old}' to '{new}' in a workbook already on file for ULN {uln}",
    "The same workbook (tracker tells workbooks apart by a hidden id) for the same ULN now gives a different learner name. The return "
    "was merged and the new name used.",
    "If the change is a correction, nothing to do. If not, correct the name on the cover sheet.",
    group="centre")
NEW_WORKBOOK = issue_type(
    "centre-new-workbook", Severity.INFO, "Second workbook for a learner",
    "This is a different workbook (id {workbook_id}) from the one on file for {name} (ULN {uln}); "
    "it was merged into the same learner record",
    "Returns are matched by ULN and qualification number. A learner whose workbook was replaced "
    "(lost, or re-issued) is still one learner; rows that contradict what was accepted from the "
    "old workbook show as conflicts.",
    "Nothing to do if the learner was given a new workbook.", group="centre")
WORKBOOK_SHARED = issue_type(
    "centre-workbook-shared", Severity.WARNING, "Workbook copied from another learner's",
    "This workbook has the same workbook id as the one on file for {other} (ULN {other_uln}): it "
    "was probably copied from theirs",
    "Each learner's workbook is generated with its own id. The same id for two learners means one "
    "workbook was copied to start another, and may still hold the first learner's sign-offs.",
    "Check every sign-off in this workbook belongs to this learner; make each new learner's "
    "workbook with the add-in's New learner workbook button rather than copying another's.", group="centre")

ROLLUP_CODES = (UNKNOWN_LEARNER, UNKNOWN_QUALIFICATION, UNREADABLE, IDENTITY_MISMATCH, NAME_CHANGED,
                NEW_WORKBOOK, WORKBOOK_SHARED)

ASSESSOR_FIELDS = ("evidence_refs", "method", "evidence_date", "decision", "assessor", "assessor_date")
IQA_FIELDS = ("iqa_sampled", "iqa", "iqa_date", "iqa_decision")
FIELDS = LG.ENTRY_FIELDS
_IDX = {f: i for i, f in enumerate(FIELDS)}
_DECISION = _IDX["decision"]
_IQA_DECISION = _IDX["iqa_decision"]
_NAME_FIELDS = frozenset({"assessor", "iqa"})
_CASELESS = frozenset({"method", "decision", "iqa_sampled", "iqa_decision"})

Values = tuple[str | None, ...]
_BLANK: Values = (None,) * len(FIELDS)

# -- checkpoints for the crash test --------------------------------------------------------------

PAUSE_ENV = "TRACKER_ROLLUP_PAUSE_AT"
PAUSE_FILE_ENV = "TRACKER_ROLLUP_PAUSE_FILE"
PAUSE_SECONDS_ENV = "TRACKER_ROLLUP_PAUSE_SECONDS"
CHECKPOINTS = ("locked", "archiving", "archived", "merging", "merged", "master-writing",
               "master-written", "committed", "replaced", "done")


def checkpoint(name: str) -> None:
    """Pause here when ``$TRACKER_ROLLUP_PAUSE_AT`` names this point (tests kill the process).

    Costs one environment look-up when unused. ``$TRACKER_ROLLUP_PAUSE_FILE`` is written on
    arrival so that a test knows when to kill.
    """
    if os.environ.get(PAUSE_ENV) != name:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(name, encoding="utf-8")
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "60")))


# -- results -------------------------------------------------------------------------------------


@dataclass(slots=True)
class FileOutcome:
    """What happened to one file of the inbox."""

    name: str  # path relative to the inbox
    hash: str
    outcome: str  # merged | quarantined | duplicate
    reason: str = ""
    learner: str = ""
    uln: str = ""
    rows_accepted: int = 0
    conflicts_opened: int = 0
    conflicts_closed: int = 0
    errors: int = 0
    warnings: int = 0


@dataclass(slots=True)
class RollupResult:
    """The outcome of a roll-up (what the CLI prints and the add-in shows)."""

    centre: Path
    master: Path
    run_id: int | None = None  # None when nothing changed
    files: list[FileOutcome] = field(default_factory=list)
    master_rebuilt: bool = False
    learners: int = 0
    open_conflicts: int = 0
    seconds: float = 0.0
    workers: int = 1
    notes: list[str] = field(default_factory=list)
    # Seconds per phase: receive, read+check+merge, centre checks, master, publish (for benchmarks).
    timings: dict[str, float] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        """Number of files with this outcome."""
        return sum(1 for f in self.files if f.outcome == outcome)

    @property
    def changed(self) -> bool:
        """True when the ledger changed."""
        return self.run_id is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``tracker rollup --json``)."""
        return {
            "centre": str(self.centre), "master": str(self.master), "run": self.run_id,
            "master_rebuilt": self.master_rebuilt, "learners": self.learners,
            "open_conflicts": self.open_conflicts, "seconds": round(self.seconds, 3),
            "workers": self.workers, "notes": self.notes,
            "counts": {k: self.count(k) for k in ("merged", "quarantined", "duplicate")},
            "files": [{"file": f.name, "hash": f.hash, "outcome": f.outcome, "reason": f.reason,
                       "learner": f.learner, "uln": f.uln, "rows_accepted": f.rows_accepted,
                       "conflicts_opened": f.conflicts_opened, "conflicts_closed": f.conflicts_closed,
                       "errors": f.errors, "warnings": f.warnings} for f in self.files],
        }


# -- receiving files -----------------------------------------------------------------------------


@dataclass(slots=True)
class Received:
    """An inbox file, hashed and copied into the archive."""

    path: Path  # in the inbox
    name: str  # relative to the inbox, with forward slashes
    hash: str
    size: int
    mtime_ns: int
    archive: Path  # the archived copy (absolute)
    archive_rel: str  # relative to the centre folder


_SKIP_PREFIXES = ("~$", ".")


def inbox_files(inbox: Path) -> list[Path]:
    """Every file in the inbox and its sub-folders, except Office owner files and hidden files."""
    out: list[Path] = []
    if not inbox.is_dir():
        raise CentreError(f"the inbox {inbox} is missing; run `tracker init` on the centre folder")
    for dirpath, dirnames, filenames in os.walk(inbox):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for n in sorted(filenames):
            if not n.startswith(_SKIP_PREFIXES):
                out.append(Path(dirpath) / n)
    return out


def _archive_name(digest: str, name: str) -> str:
    suffix = Path(name).suffix.lower()
    if not suffix or len(suffix) > 8 or not suffix[1:].isalnum():
        suffix = ".bin"
    return f"{digest[:2]}/{digest}{suffix}"


def receive(centre: Centre, path: Path, folders: set[Path] | None = None) -> Received:
    """Hash ``path`` while copying it into the archive (temporary name, then renamed).

    ``folders``: archive folders known to exist (saves a mkdir per file).
    """
    folders = set() if folders is None else folders
    st = path.stat()
    rel = path.relative_to(centre.inbox).as_posix()
    h = hashlib.sha256()
    if centre.archive not in folders:
        centre.archive.mkdir(parents=True, exist_ok=True)
        folders.add(centre.archive)
    tmp = centre.archive / f".tmp-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
    try:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                dst.write(chunk)
        digest = h.hexdigest()
        target = centre.archive / _archive_name(digest, path.name)
        if target.exists():
            tmp.unlink()
        else:
            if target.parent not in folders:
                target.parent.mkdir(exist_ok=True)
                folders.add(target.parent)
            os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CentreError(f"cannot copy {path} into the archive: {e.strerror or e}") from None
    return Received(path=path, name=rel, hash=digest, size=st.st_size, mtime_ns=st.st_mtime_ns,
                    archive=target, archive_rel=target.relative_to(centre.root).as_posix())


def _fsync(paths: Iterable[Path]) -> None:
    """Flush archived copies (and their folders) to disk before the ledger refers to them."""
    dirs: set[Path] = set()
    for p in paths:
        try:
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        except OSError:
            pass
        dirs.add(p.parent)
    if sys.platform != "win32":
        for d in dirs:
            try:
                fd = os.open(d, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)


# -- read + check (runs in worker processes) -----------------------------------------------------


@dataclass(slots=True)
class Job:
    """One file to read and check."""

    hash: str
    archive: str
    name: str


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
    cover: tuple[str | None, ...] = ()  # registration_date, assessor, iqa, tutor, employer
    # (ref, unit number, values in FIELDS order, indices of fields that said nothing)
    rows: list[tuple[str, int, Values, frozenset[int]]] = field(default_factory=list)


COVER_KEYS = ("registration_date", "assessor", "iqa", "tutor", "employer")


@dataclass(slots=True)
class _WorkerContext:
    extra_dirs: tuple[str, ...]
    readings: dict[str, str]
    register: Register | None
    today: dt.date | None


_CTX: _WorkerContext | None = None


def _init_worker(ctx: _WorkerContext) -> None:
    global _CTX
    _CTX = ctx


def _check_many(jobs: Sequence[Job]) -> list[Checked]:
    return [_check_one(j) for j in jobs]


def _check_one(job: Job) -> Checked:
    """Read and check one archived file (worker side); never raises for a bad file."""
    ctx = _CTX
    assert ctx is not None
    try:
        return _check_file(job, ctx)
    except Exception as e:  # a defect must not stop the roll-up: quarantine the file, say why
        reason = f"internal error while processing it ({type(e).__name__}: {str(e)[:160]}); please report"
        return Checked(job.hash, "quarantine", UNREADABLE.code, reason)


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _check_file(job: Job, ctx: _WorkerContext) -> Checked:
    from tracker.errors import UnreadableWorkbook
    from tracker.centre.check import qualification_of
    from tracker.rules.engine import check_workbook
    from tracker.workbook.identity import resolve_pathway
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
    # The hidden metadata first, then the cover sheet -- the order the rules engine uses; a cover
    # that disagrees is reported by the checks.
    q = qualification_of(book, ctx.extra_dirs)
    if q is None:
        base.status, base.code = "quarantine", UNKNOWN_QUALIFICATION.code
        base.reason = f"qualification {qn} is not installed"
        return base
    base.qualification_number = q.number
    base.qualification_id = q.id
    base.spec_version = book.meta.get("spec_version", "")
    # The reader resolved the pathway against the installed qualifications; this one may be the
    # centre's own (specs/), so resolve it again against the qualification found.
    book.pathway = resolve_pathway(book, q)
    base.pathway = book.pathway
    base.reading = q.pick_reading(ctx.readings.get(q.id), book.meta.get("reading", ""))
    task = check_workbook(book, qualification=q, register=ctx.register, reading=base.reading,
                          today=ctx.today)
    base.issues = task.issues
    base.cover = tuple(_cover_text(book, k) for k in COVER_KEYS)
    base.rows = _rows(book, q)
    return base


def _cover_text(book: LearnerWorkbook, key: str) -> str | None:
    c = book.cover.get(key)
    if c is None or c.problem or c.value is None:
        return None
    return _iso(c.value) if key == "registration_date" else str(c.value)


def _rows(book: LearnerWorkbook, q: Qualification) -> list[tuple[str, int, Values, frozenset[int]]]:
    unit_of = {c.ref: u.number for u in q.units for c in u.criteria}
    out: list[tuple[str, int, Values, frozenset[int]]] = []
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
        for i, key in enumerate(FIELDS):
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


# -- merge rules ---------------------------------------------------------------------------------


def _norm(f: str, v: str | None) -> Any:
    if v is None:
        return None
    if f in _NAME_FIELDS:
        return name_key(v)
    if f == "evidence_refs":
        return tuple(sorted({r.strip().casefold() for r in v.split(",") if r.strip()}))
    if f in _CASELESS:
        return " ".join(v.split()).casefold()
    return " ".join(v.split())


def _refs(v: str | None) -> set[str]:
    return {r.strip().casefold() for r in (v or "").split(",") if r.strip()}


def guarded_fields(accepted: Values) -> frozenset[str]:
    """The fields of an accepted row that a return may not change (see the module doc)."""
    if accepted[_IQA_DECISION] is not None and _norm("iqa_decision", accepted[_IQA_DECISION]) == \
            L.REFERRED_BACK.casefold():
        return frozenset()
    g: set[str] = set()
    if accepted[_DECISION] is not None and _norm("decision", accepted[_DECISION]) == L.MET.casefold():
        g.update(ASSESSOR_FIELDS)
    if accepted[_IQA_DECISION] is not None:
        g.update(IQA_FIELDS)
    return frozenset(g)


def decide(accepted: Values, returned: Values, silent: frozenset[int] = frozenset()) -> tuple[Values, list[str]]:
    """(candidate row, contradicted fields) for a returned row against the accepted one.

    The candidate is the accepted row with every change of the return applied; when the list of
    contradicted fields is empty it is the new accepted row.
    """
    guarded = guarded_fields(accepted)
    out = list(accepted)
    contradicted: list[str] = []
    for i, f in enumerate(FIELDS):
        if i in silent:
            continue
        a, r = accepted[i], returned[i]
        if _norm(f, a) == _norm(f, r):
            continue
        out[i] = r
        if f in guarded and a is not None:
            if f == "evidence_refs" and _refs(a) <= _refs(r):
                continue  # evidence added to a signed row: new work
            contradicted.append(f)
    return tuple(out), contradicted


def values_json(values: Values) -> str:
    """A row as the JSON object stored with a conflict."""
    return json.dumps(dict(zip(FIELDS, values)), ensure_ascii=False, sort_keys=True)


def values_from_json(text: str) -> Values:
    """The inverse of :func:`values_json`."""
    d = json.loads(text)
    return tuple(d.get(f) for f in FIELDS)


# -- the merger ----------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


class Merger:
    """Merges checked files into the ledger inside the caller's transaction."""

    def __init__(self, conn: sqlite3.Connection, run_id: int, now: str) -> None:
        self.conn = conn
        self.run_id = run_id
        self.now = now
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM files").fetchone()
        self.seq = int(row[0])
        self.totals = {"merged": 0, "quarantined": 0, "rows": 0, "opened": 0, "closed": 0}

    def log(self, action: str, detail: str, file: str | None = None, learner_id: int | None = None,
            criterion: str | None = None) -> None:
        """Append to the merge log."""
        self.conn.execute("INSERT INTO merge_log (run_id, file, learner_id, criterion, action, detail) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (self.run_id, file, learner_id, criterion, action, detail))

    def _record_file(self, rec: Received, res: Checked, outcome: str, reason: str,
                     learner_id: int | None, issues: list[Issue], requeued: bool) -> None:
        self.seq += 1
        params = (rec.name.rsplit("/", 1)[-1], rec.size,
                  dt.datetime.fromtimestamp(rec.mtime_ns / 1e9).replace(microsecond=0).isoformat(sep=" "),
                  self.now, self.run_id, rec.archive_rel, outcome, reason or None, learner_id,
                  res.uln or None, res.qualification_number or None, res.name or None,
                  res.workbook_id or None, self.seq)
        if requeued:
            self.conn.execute(
                "UPDATE files SET original_name=?, size=?, modified=?, received=?, run_id=?, archive_path=?, "
                "outcome=?, reason=?, learner_id=?, uln=?, qualification_number=?, learner_name=?, "
                "workbook_id=?, seq=? WHERE hash=?", (*params, rec.hash))
            self.conn.execute("DELETE FROM issues WHERE file = ?", (rec.hash,))
        else:
            self.conn.execute(
                "INSERT INTO files (original_name, size, modified, received, run_id, archive_path, outcome, "
                "reason, learner_id, uln, qualification_number, learner_name, workbook_id, seq, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (*params, rec.hash))
        self.conn.executemany(
            "INSERT INTO issues (file, seq, code, severity, message, sheet, cell, unit, criterion) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(rec.hash, n, i.code, i.severity.value, i.message, i.sheet, i.cell, i.unit, i.criterion)
             for n, i in enumerate(sorted(issues, key=lambda i: i.sort_key))])

    def quarantine(self, rec: Received, res: Checked, code: str, reason: str, requeued: bool,
                   extra: list[Issue] | None = None) -> FileOutcome:
        """Record a file that is not merged."""
        from tracker.issues import CATALOGUE

        if requeued:
            # Quarantined before and still not mergeable: the ledger keeps its first record.
            return FileOutcome(rec.name, rec.hash, "quarantined", reason, res.name, res.uln)
        display = rec.name.rsplit("/", 1)[-1]
        issue = CATALOGUE[code](file=display, name=display, reason=reason) if code in CATALOGUE else None
        issues = [issue] if issue else []
        issues += extra or []
        issues += res.issues
        self._record_file(rec, res, "quarantined", reason, None, issues, requeued)
        self.log("quarantined", reason, rec.hash)
        self.totals["quarantined"] += 1
        return FileOutcome(rec.name, rec.hash, "quarantined", reason, res.name, res.uln)

    def merge(self, rec: Received, res: Checked, requeued: bool = False) -> FileOutcome:
        """Merge one checked file (or quarantine it)."""
        if res.status != "ok":
            return self.quarantine(rec, res, res.code, res.reason, requeued)
        conn = self.conn
        extra: list[Issue] = []
        found = conn.execute("SELECT id, name FROM learners WHERE uln = ? AND qualification_number = ?",
                             (res.uln, res.qualification_number)).fetchone()
        workbooks: set[str] = set()
        if found is not None:
            learner_id, known_name = int(found[0]), str(found[1])
            workbooks = {r[0] for r in conn.execute(
                "SELECT workbook_id FROM learner_workbooks WHERE learner_id = ?", (learner_id,))}
            same_workbook = bool(res.workbook_id) and res.workbook_id in workbooks
            if not res.name.strip():
                res.name = known_name  # a name deleted from the cover sheet: the one on file stands
            if name_key(known_name) != name_key(res.name):
                if not same_workbook:
                    issue = IDENTITY_MISMATCH(file=rec.name, name=rec.name, uln=res.uln, known=known_name,
                                              learner=res.name)
                    return self.quarantine(rec, res, IDENTITY_MISMATCH.code, issue.message, requeued)
                extra.append(NAME_CHANGED(old=known_name, new=res.name, uln=res.uln))
            elif res.workbook_id and not same_workbook:
                extra.append(NEW_WORKBOOK(workbook_id=res.workbook_id, name=known_name, uln=res.uln))
        if res.workbook_id:
            other = conn.execute(
                "SELECT l.name, l.uln FROM learner_workbooks w JOIN learners l ON l.id = w.learner_id "
                "WHERE w.workbook_id = ? AND NOT (l.uln = ? AND l.qualification_number = ?) LIMIT 1",
                (res.workbook_id, res.uln, res.qualification_number)).fetchone()
            if other is not None:
                extra.append(WORKBOOK_SHARED(other=other[0], other_uln=other[1]))
        cover = dict(zip(COVER_KEYS, res.cover or (None,) * len(COVER_KEYS)))
        learner_values = (res.qualification_id, res.name, res.pathway, res.reading or None,
                          cover["registration_date"], cover["assessor"], cover["iqa"], cover["tutor"],
                          cover["employer"], res.workbook_id or None, res.spec_version or None,
                          rec.hash, self.now)
        if found is None:
            cur = conn.execute(
                "INSERT INTO learners (qualification_id, name, pathway, reading, registration_date, assessor, "
                "iqa, tutor, employer, workbook_id, spec_version, last_file, last_return, uln, "
                "qualification_number, first_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*learner_values, res.uln, res.qualification_number, self.run_id))
            learner_id = int(cur.lastrowid or 0)
            self.log("new learner", f"{res.name} (ULN {res.uln}, {res.qualification_number})", rec.hash,
                     learner_id)
        else:
            conn.execute(
                "UPDATE learners SET qualification_id=?, name=?, pathway=?, reading=?, registration_date=?, "
                "assessor=?, iqa=?, tutor=?, employer=?, workbook_id=?, spec_version=?, last_file=?, "
                "last_return=? WHERE id=?", (*learner_values, learner_id))
        if res.workbook_id and res.workbook_id not in workbooks:
            conn.execute("INSERT OR IGNORE INTO learner_workbooks (learner_id, workbook_id, first_file) "
                         "VALUES (?, ?, ?)", (learner_id, res.workbook_id, rec.hash))
        out = FileOutcome(rec.name, rec.hash, "merged", "", res.name, res.uln)
        self._merge_rows(learner_id, rec, res, out)
        issues = extra + res.issues
        self._record_file(rec, res, "merged", "", learner_id, issues, requeued)
        counts = {s: sum(1 for i in issues if i.severity.value == s) for s in ("error", "warning")}
        out.errors, out.warnings = counts["error"], counts["warning"]
        self.log("merged", f"{out.rows_accepted} row(s) accepted, {out.conflicts_opened} conflict(s) opened, "
                           f"{out.conflicts_closed} closed; {out.errors} error(s), {out.warnings} warning(s)",
                 rec.hash, learner_id)
        self.totals["merged"] += 1
        self.totals["rows"] += out.rows_accepted
        self.totals["opened"] += out.conflicts_opened
        self.totals["closed"] += out.conflicts_closed
        return out

    def _merge_rows(self, learner_id: int, rec: Received, res: Checked, out: FileOutcome) -> None:
        conn = self.conn
        cols = ", ".join(FIELDS)
        existing: dict[str, tuple[Values, str]] = {}
        for row in conn.execute(f"SELECT ref, {cols}, source_file FROM criteria WHERE learner_id = ?",
                                (learner_id,)):
            existing[row[0]] = (tuple(row[1:-1]), row[-1])
        open_conf: dict[str, tuple[int, str]] = {}
        rejected: set[tuple[str, str]] = set()
        for cid, ref, returned, status, resolution in conn.execute(
                "SELECT id, ref, returned, status, resolution FROM conflicts WHERE learner_id = ? "
                "AND (status = 'open' OR resolution = 'kept-accepted')", (learner_id,)):
            if status == "open":
                open_conf[ref] = (int(cid), returned)
            else:
                rejected.add((ref, returned))
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for ref, unit, values, silent in res.rows:
            acc = existing.get(ref)
            if acc is None:
                if values == _BLANK:
                    continue
                inserts.append((learner_id, ref, unit, *values, rec.hash, self.run_id))
                out.rows_accepted += 1
                continue
            accepted, source = acc
            candidate, contradicted = decide(accepted, values, silent)
            if contradicted:
                rj = values_json(candidate)
                oc = open_conf.get(ref)
                if oc is not None and oc[1] == rj:
                    continue  # the same contradiction again: the open conflict stands
                if (ref, rj) in rejected:
                    self.log("ignored", "the returned row repeats a value an admin rejected", rec.hash,
                             learner_id, ref)
                    continue
                if oc is not None:
                    self._close(oc[0], "superseded", rec.hash, None, "a later return contradicts it differently")
                    out.conflicts_closed += 1
                cur = conn.execute(
                    "INSERT INTO conflicts (learner_id, ref, unit, fields, accepted, accepted_file, returned, "
                    "returned_file, opened_run, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')",
                    (learner_id, ref, unit, ",".join(contradicted), values_json(accepted), source, rj,
                     rec.hash, self.run_id))
                open_conf[ref] = (int(cur.lastrowid or 0), rj)
                out.conflicts_opened += 1
                self.log("conflict", f"#{cur.lastrowid}: {', '.join(_label(f) for f in contradicted)} "
                                     "differ from the accepted sign-off; accepted value kept",
                         rec.hash, learner_id, ref)
                continue
            if candidate != accepted:
                updates.append((*candidate, rec.hash, self.run_id, learner_id, ref))
                out.rows_accepted += 1
            oc = open_conf.pop(ref, None)
            if oc is not None:
                self._close(oc[0], "agreeing-return", rec.hash, None, "a later return agrees with the accepted row")
                out.conflicts_closed += 1
                self.log("conflict closed", f"#{oc[0]}: a later return agrees with the accepted row",
                         rec.hash, learner_id, ref)
        if inserts:
            conn.executemany(
                f"INSERT INTO criteria (learner_id, ref, unit, {cols}, source_file, run_id) "
                f"VALUES ({', '.join('?' * (len(FIELDS) + 5))})", inserts)
        if updates:
            sets = ", ".join(f"{f} = ?" for f in FIELDS)
            conn.executemany(f"UPDATE criteria SET {sets}, source_file = ?, run_id = ? "
                             "WHERE learner_id = ? AND ref = ?", updates)

    def _close(self, conflict_id: int, resolution: str, file: str | None, by: str | None, note: str) -> None:
        self.conn.execute("UPDATE conflicts SET status='closed', resolution=?, closed_run=?, closed_file=?, "
                          "closed_by=?, note=? WHERE id=?",
                          (resolution, self.run_id, file, by, note, conflict_id))


def _label(f: str) -> str:
    return L.column_by_key(L.CRITERION_COLUMNS, f).header


# -- the roll-up ---------------------------------------------------------------------------------


def _auto_workers(n_jobs: int, configured: int) -> int:
    if configured:
        return max(1, configured)
    cpus = os.cpu_count() or 1
    # Starting a worker costs ~50 ms with fork and ~0.5 s with spawn; a file costs ~25 ms.
    threshold = 12 if sys.platform.startswith("linux") else 60
    return 2 if cpus >= 2 and n_jobs >= threshold else 1


class _Checker:
    """Reads and checks jobs in order, in-process or in a pool started before the transaction."""

    def __init__(self, ctx: _WorkerContext, workers: int, expected: int) -> None:
        self.ctx = ctx
        self.workers = workers if expected >= 2 else 1
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Checker:
        if self.workers > 1:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self.pool = ProcessPoolExecutor(max_workers=self.workers,
                                            mp_context=multiprocessing.get_context(method),
                                            initializer=_init_worker, initargs=(self.ctx,))
        else:
            _init_worker(self.ctx)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def run(self, jobs: list[Job]) -> Iterator[Checked]:
        """One :class:`Checked` per job, in job order."""
        if self.pool is None or len(jobs) < 2:
            for j in jobs:
                yield _check_one(j)
            return
        # Batches keep inter-process traffic low while both workers stay busy to the end.
        size = max(1, min(16, len(jobs) // (self.workers * 8)))
        batches = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        for batch in self.pool.map(_check_many, batches):
            yield from batch


def _fingerprint(centre: Centre) -> str:
    h = hashlib.sha256(json.dumps(centre.readings, sort_keys=True).encode())
    if centre.register.is_file():
        h.update(centre.register.read_bytes())
    return h.hexdigest()


def rollup(centre: str | Path | Centre, *, workers: int | None = None, today: dt.date | None = None,
           progress: bool = False) -> RollupResult:
    """Roll up every returned workbook in the centre's inbox (see the module doc)."""
    t0 = time.perf_counter()
    c = centre if isinstance(centre, Centre) else open_centre(centre)
    result = RollupResult(centre=c.root, master=c.master)
    with RollupLock(c), _plain_errors(c):
        checkpoint("locked")
        check_master_writable(c.master)
        conn = LG.connect(c.ledger, create=False)
        try:
            _rollup_locked(c, conn, result, workers, today, progress)
        finally:
            conn.close()
    result.seconds = time.perf_counter() - t0
    return result


@contextmanager
def _plain_errors(c: Centre) -> Iterator[None]:
    """Turn a full disk, a read-only folder or a broken ledger into one clear CentreError.

    Raised only before the ledger commit (later failures are notes or MasterLocked), so the
    message can say that nothing was changed.
    """
    try:
        yield
    except sqlite3.Error as e:
        raise CentreError(
            f"the ledger {c.ledger} could not be updated ({e}); it was left as it was. If the disk is out "
            "of space, free some; if the folder is read-only, ask for write access; then roll up again.") from None
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise CentreError(
            f"the roll-up stopped: {e.strerror or e}{where}. Nothing was changed: the ledger and the master "
            "are as they were and the returned files are still in the inbox. If the disk is out of space, "
            "free some; if the folder is read-only, ask for write access; then roll up again.") from None


def _remove_leftovers(c: Centre) -> None:
    """Temporary files a killed roll-up left behind (the caller holds the lock, so none is live)."""
    for p in c.master.parent.glob(f".~{c.master.stem}-*.tmp{c.master.suffix}"):
        _unlink_quietly(p)
    if c.archive.is_dir():
        for p in c.archive.glob(".tmp-*"):
            _unlink_quietly(p)


def _rollup_locked(c: Centre, conn: sqlite3.Connection, result: RollupResult, workers: int | None,
                   today: dt.date | None, progress: bool) -> None:
    _remove_leftovers(c)
    t = time.perf_counter()
    paths = inbox_files(c.inbox)
    received: list[Received] = []
    folders: set[Path] = set()
    if paths:
        received.append(receive(c, paths[0], folders))
        checkpoint("archiving")
    if len(paths) > 1:
        # Opening, hashing and copying release the GIL: a few threads keep the disk busy.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as threads:
            received.extend(threads.map(lambda p: receive(c, p, folders), paths[1:]))
    known = {h: outcome for h, outcome in conn.execute("SELECT hash, outcome FROM files")}
    new: list[Received] = []
    requeued: set[str] = set()
    seen: set[str] = set()
    for r in sorted(received, key=lambda r: (r.mtime_ns, r.name, r.hash)):
        if r.hash in seen:
            result.files.append(FileOutcome(r.name, r.hash, "duplicate", "the same file is also in the inbox"))
            continue
        seen.add(r.hash)
        if known.get(r.hash) == "quarantined":
            requeued.add(r.hash)  # tried again: the qualification may be installed now
            new.append(r)
        elif r.hash in known:
            result.files.append(FileOutcome(r.name, r.hash, "duplicate", "already received"))
        else:
            new.append(r)
    # Archived copies are flushed to disk in the background while the files are read; the ledger
    # commit waits for it (the ledger must never name a copy that a power cut could lose).
    flusher = threading.Thread(target=_fsync, args=([r.archive for r in new],), daemon=True)
    flusher.start()
    checkpoint("archived")
    result.timings["receive"] = time.perf_counter() - t

    fingerprint = _fingerprint(c)
    config_changed = LG.get_meta(conn, "fingerprint") != fingerprint
    last = LG.last_run(conn)
    master_behind = LG.get_meta(conn, "master_run") != str(last) or not c.master.exists()
    register, register_issues = load_register(c) if (new or config_changed) else (None, [])
    ctx = _WorkerContext(extra_dirs=(str(c.specs),), readings=dict(c.readings), register=register,
                         today=today)
    jobs = [Job(r.hash, str(r.archive), r.name) for r in new]
    # A changed register or reading: every learner's latest return is checked again, so that the
    # Issues sheet shows what the current register says (the merged values do not change).
    recheck: list[Job] = []
    if config_changed:
        fresh = {r.hash for r in new}
        recheck = [Job(h, str(c.root / ap), n) for h, ap, n in conn.execute(
            "SELECT f.hash, f.archive_path, f.original_name FROM learners l JOIN files f ON f.hash = l.last_file "
            "ORDER BY f.seq") if h not in fresh]
    expected = len(jobs) + len(recheck)
    n_workers = workers if workers is not None else _auto_workers(expected, c.workers)
    with _Checker(ctx, n_workers, expected) as checker:
        result.workers = checker.workers
        checked = checker.run(jobs)
        if progress and jobs:
            from tqdm import tqdm

            checked = iter(tqdm(checked, total=len(jobs), desc="rolling up", unit="file", leave=False,
                                disable=None))
        _merge_and_publish(c, conn, result, new, requeued, checked, fingerprint, config_changed,
                           master_behind, register, register_issues, flusher.join,
                           lambda: checker.run(recheck))
    _tidy_inbox(c, received, result)
    result.learners = int(conn.execute("SELECT count(*) FROM learners").fetchone()[0])
    result.open_conflicts = int(conn.execute("SELECT count(*) FROM conflicts WHERE status='open'").fetchone()[0])
    checkpoint("done")


def _merge_and_publish(c: Centre, conn: sqlite3.Connection, result: RollupResult, new: list[Received],
                       requeued: set[str], checked: Iterator[Checked], fingerprint: str, config_changed: bool,
                       master_behind: bool, register: Register | None, register_issues: list[Issue],
                       flushed: Callable[[], None], rechecked: Callable[[], Iterator[Checked]]) -> None:
    now = _now()
    tmp: Path | None = None
    changed = False
    conn.execute("BEGIN IMMEDIATE")
    try:
        run_id = LG.last_run(conn) + 1
        conn.execute("INSERT INTO runs (id, kind, started, user, host) VALUES (?, 'rollup', ?, ?, ?)",
                     (run_id, now, _user(), socket.gethostname()))
        merger = Merger(conn, run_id, now)
        checkpoint("merging")
        t0 = time.perf_counter()
        for rec, res in zip(new, checked):
            result.files.append(merger.merge(rec, res, requeued=rec.hash in requeued))
        changed = merger.totals["merged"] > 0 or merger.totals["quarantined"] > 0 or config_changed
        result.timings["read+check+merge"] = time.perf_counter() - t0
        checkpoint("merged")
        t0 = time.perf_counter()
        if config_changed:
            _apply_config(conn, c, merger, rechecked())
            LG.set_meta(conn, "fingerprint", fingerprint)
        coverage: list[CoverageRow] | None = None
        if changed:
            from tracker.centre.iqa import run_centre_checks

            coverage = run_centre_checks(conn, register, register_issues, c)
            t = merger.totals
            conn.execute(
                "UPDATE runs SET finished=?, files_new=?, files_merged=?, files_quarantined=?, files_duplicate=?, "
                "rows_accepted=?, conflicts_opened=?, conflicts_closed=? WHERE id=?",
                (_now(), len(new), t["merged"], t["quarantined"], result.count("duplicate"), t["rows"],
                 t["opened"], t["closed"], run_id))
        result.timings["centre checks"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if changed:
            tmp = _write_master_tmp(c, conn, register, coverage)
            checkpoint("master-written")
            check_master_writable(c.master)
            result.run_id = run_id
            flushed()
            conn.execute("COMMIT")
        else:
            conn.execute("ROLLBACK")
            if master_behind:  # built from the committed ledger, outside any transaction
                tmp = _write_master_tmp(c, conn)
        result.timings["master"] = time.perf_counter() - t0
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    checkpoint("committed")
    if tmp is not None:
        t0 = time.perf_counter()
        _replace_master(tmp, c.master)
        checkpoint("replaced")
        _note_master_run(conn, result)
        result.master_rebuilt = True
        result.timings["publish"] = time.perf_counter() - t0


def _note_master_run(conn: sqlite3.Connection, result: RollupResult | None = None) -> None:
    """Record that the master now shows the latest run (if this fails, the next roll-up rebuilds it)."""
    try:
        LG.set_meta(conn, "master_run", str(LG.last_run(conn)))
    except sqlite3.Error as e:
        if result is not None:
            result.notes.append(f"the master was published, but the ledger could not note it ({e}); "
                                "the next roll-up rebuilds the master")


def _apply_config(conn: sqlite3.Connection, c: Centre, merger: Merger, rechecked: Iterable[Checked]) -> None:
    """The register or the readings changed: record each learner's reading, and replace the issues
    of every learner's latest return with those of a fresh check (the roll-up's own are kept)."""
    for qid, reading in c.readings.items():
        cur = conn.execute("UPDATE learners SET reading = ? WHERE qualification_id = ? AND "
                           "coalesce(reading, '') != ?", (reading, qid, reading))
        if cur.rowcount:
            merger.log("configuration", f"{cur.rowcount} learner(s) on {qid} now under reading {reading!r}")
    own = {t.code for t in ROLLUP_CODES}
    n = 0
    for res in rechecked:
        if res.status != "ok":
            continue  # the archived copy cannot be read now: its earlier issues stand
        kept = [row for row in conn.execute(
            "SELECT code, severity, message, sheet, cell, unit, criterion FROM issues WHERE file = ? ORDER BY seq",
            (res.hash,)) if row[0] in own]
        fresh = [(i.code, i.severity.value, i.message, i.sheet, i.cell, i.unit, i.criterion)
                 for i in sorted(res.issues, key=lambda i: i.sort_key)]
        conn.execute("DELETE FROM issues WHERE file = ?", (res.hash,))
        conn.executemany("INSERT INTO issues (file, seq, code, severity, message, sheet, cell, unit, criterion) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         [(res.hash, k, *row) for k, row in enumerate(kept + fresh)])
        n += 1
    merger.log("configuration", f"register or centre configuration changed: {n} latest return(s) checked again, "
                                "centre checks recomputed")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _write_master_tmp(c: Centre, conn: sqlite3.Connection, register: Register | None = None,
                      coverage: list[CoverageRow] | None = None) -> Path:
    from xlsxwriter.exceptions import FileCreateError

    from tracker.centre.master import build_master

    tmp = c.master.with_name(f".~{c.master.stem}-{os.getpid()}.tmp{c.master.suffix}")
    try:
        c.master.parent.mkdir(parents=True, exist_ok=True)
        build_master(conn, c, tmp, register=register, coverage=coverage,
                     on_progress=lambda: checkpoint("master-writing"))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    except (OSError, FileCreateError) as e:
        _unlink_quietly(tmp)
        cause = e.args[0] if isinstance(e, FileCreateError) and e.args and isinstance(e.args[0], OSError) else e
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        raise CentreError(
            f"cannot write the master workbook next to {c.master}: {reason}. Nothing was changed: the "
            "ledger and the master are as they were. If the disk is out of space, free some; then roll up "
            "again.") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _unlink_quietly(p: Path) -> None:
    try:
        p.unlink(missing_ok=True)
    except OSError:
        pass


def _replace_master(tmp: Path, master: Path) -> None:
    try:
        os.replace(tmp, master)
    except PermissionError:
        _unlink_quietly(tmp)
        raise MasterLocked(
            f"the ledger was updated, but the master workbook {master} is open in Excel and could not "
            "be replaced. Close it and run `tracker rollup` again to rebuild it.") from None
    except OSError as e:
        _unlink_quietly(tmp)
        raise CentreError(
            f"the ledger was updated, but the master workbook {master} could not be replaced "
            f"({e.strerror or e}); run `tracker rollup` again to rebuild it.") from None


def publish_master(c: Centre) -> Path:
    """Rebuild the master from the ledger as it stands (the caller holds the roll-up lock)."""
    check_master_writable(c.master)
    conn = LG.connect(c.ledger)
    try:
        tmp = _write_master_tmp(c, conn)
        _replace_master(tmp, c.master)
        _note_master_run(conn)
    finally:
        conn.close()
    return c.master


def _tidy_inbox(c: Centre, received: list[Received], result: RollupResult) -> None:
    """Remove merged and duplicate files from the inbox; move quarantined ones to quarantine/."""
    outcome: dict[str, FileOutcome] = {}
    for fo in result.files:
        outcome.setdefault(fo.name, fo)
    for r in received:
        f = outcome.get(r.name)
        if f is None:
            continue
        try:
            st = r.path.stat()
        except FileNotFoundError:
            continue
        if (st.st_size, st.st_mtime_ns) != (r.size, r.mtime_ns):
            continue  # changed since it was received: leave it for the next roll-up
        try:
            if f.outcome == "quarantined":
                target = _free_name(c.quarantine / r.path.name)
                c.quarantine.mkdir(parents=True, exist_ok=True)
                os.replace(r.path, target)
                target.with_name(target.name + ".why.txt").write_text(
                    f"{r.name} was not merged into the centre ledger.\n\nWhy: {f.reason}\n\n"
                    f"Content hash (SHA-256): {r.hash}\nA copy is kept in {r.archive_rel}.\n"
                    "Fix the file and drop it into the inbox again.\n", encoding="utf-8")
            else:
                r.path.unlink()
        except OSError as e:  # e.g. the file is open in Excel on Windows: leave it
            result.notes.append(f"could not tidy {r.name} from the inbox: {e.strerror or e}")
    # Empty sub-folders of the inbox are removed too (never the inbox itself).
    for dirpath, _dirs, _files in sorted(os.walk(c.inbox), key=lambda t: -len(t[0])):
        if Path(dirpath) != c.inbox:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def _free_name(p: Path) -> Path:
    if not p.exists():
        return p
    n = 2
    while True:
        q = p.with_name(f"{p.stem} ({n}){p.suffix}")
        if not q.exists():
            return q
        n += 1


# -- resolve -------------------------------------------------------------------------------------


@dataclass(slots=True)
class ResolveResult:
    """The outcome of :func:`resolve`."""

    conflict_id: int
    learner: str
    uln: str
    criterion: str
    kept: str
    master: Path


def open_conflicts(centre: str | Path | Centre, uln: str | None = None) -> list[dict[str, Any]]:
    """Open conflicts (optionally of one learner), oldest first, for listing."""
    c = centre if isinstance(centre, Centre) else open_centre(centre)
    conn = LG.connect(c.ledger, create=False)
    try:
        sql = ("SELECT k.id, l.uln, l.name, l.qualification_number, k.ref, k.fields, k.accepted, k.returned, "
               "fa.original_name, fr.original_name FROM conflicts k JOIN learners l ON l.id = k.learner_id "
               "LEFT JOIN files fa ON fa.hash = k.accepted_file LEFT JOIN files fr ON fr.hash = k.returned_file "
               "WHERE k.status = 'open'" + (" AND l.uln = ?" if uln else "") + " ORDER BY k.id")
        rows = conn.execute(sql, (uln,) if uln else ()).fetchall()
    finally:
        conn.close()
    out = []
    for cid, u, name, qn, ref, fields, acc, ret, fa, fr in rows:
        a, r = json.loads(acc), json.loads(ret)
        flist = fields.split(",")
        out.append({"id": cid, "uln": u, "learner": name, "qualification_number": qn, "criterion": ref,
                    "fields": flist, "accepted": {f: a.get(f) for f in flist},
                    "returned": {f: r.get(f) for f in flist}, "accepted_file": fa, "returned_file": fr})
    return out


def resolve(centre: str | Path | Centre, *, keep: str, uln: str | None = None, criterion: str | None = None,
            qualification: str | None = None, conflict_id: int | None = None, note: str = "",
            by: str | None = None) -> ResolveResult:
    """Close an open conflict, keeping the accepted or the returned row; rebuilds the master.

    The conflict is named by ``conflict_id`` or by ``uln`` + ``criterion`` (+ ``qualification``
    when the learner is on more than one). Recorded in the ledger with who, when and the note.
    """
    if keep not in ("accepted", "returned"):
        raise UsageError("--keep must be 'accepted' or 'returned'")
    c = centre if isinstance(centre, Centre) else open_centre(centre)
    who = by or _user()
    with RollupLock(c), _plain_errors(c):
        check_master_writable(c.master)
        conn = LG.connect(c.ledger, create=False)
        try:
            return _resolve_locked(c, conn, keep, uln, criterion, qualification, conflict_id, note, who)
        finally:
            conn.close()


def _find_conflict(conn: sqlite3.Connection, uln: str | None, criterion: str | None, qualification: str | None,
                   conflict_id: int | None) -> tuple[Any, ...]:
    base = ("SELECT k.id, k.learner_id, k.ref, k.returned, k.returned_file, l.name, l.uln, l.qualification_number "
            "FROM conflicts k JOIN learners l ON l.id = k.learner_id WHERE k.status = 'open'")
    if conflict_id is not None:
        row = conn.execute(base + " AND k.id = ?", (conflict_id,)).fetchone()
        if row is None:
            st = conn.execute("SELECT status, resolution FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
            if st is None:
                raise CentreError(f"there is no conflict #{conflict_id}")
            raise CentreError(f"conflict #{conflict_id} is already closed ({st[1]})")
        return tuple(row)
    if not uln or not criterion:
        raise UsageError("name the conflict with --learner ULN and --criterion REF, or with --conflict ID")
    sql = base + " AND l.uln = ? AND upper(k.ref) = upper(?)"
    params: list[Any] = [uln.strip(), criterion.strip()]
    if qualification:
        sql += " AND replace(l.qualification_number, '/', '') = ?"
        params.append(qualification.strip().replace("/", ""))
    rows = conn.execute(sql, params).fetchall()
    if not rows:
        others = [r[0] for r in conn.execute(
            "SELECT k.ref FROM conflicts k JOIN learners l ON l.id = k.learner_id WHERE k.status='open' "
            "AND l.uln = ? ORDER BY k.id", (uln.strip(),))]
        hint = f" (open conflicts for this learner: {', '.join(others)})" if others else \
            " (this learner has no open conflict)"
        raise CentreError(f"no open conflict for learner {uln} on criterion {criterion}{hint}")
    if len(rows) > 1:
        qns = ", ".join(sorted({r[7] for r in rows}))
        raise UsageError(f"learner {uln} has a conflict on {criterion} on more than one qualification "
                         f"({qns}): add --qualification")
    return tuple(rows[0])


def _resolve_locked(c: Centre, conn: sqlite3.Connection, keep: str, uln: str | None, criterion: str | None,
                    qualification: str | None, conflict_id: int | None, note: str, who: str) -> ResolveResult:
    tmp: Path | None = None
    conn.execute("BEGIN IMMEDIATE")
    try:
        cid, learner_id, ref, returned, returned_file, name, luln, _qn = _find_conflict(
            conn, uln, criterion, qualification, conflict_id)
        now = _now()
        run_id = LG.last_run(conn) + 1
        conn.execute("INSERT INTO runs (id, kind, started, finished, user, host, conflicts_closed) "
                     "VALUES (?, 'resolve', ?, ?, ?, ?, 1)", (run_id, now, now, who, socket.gethostname()))
        merger = Merger(conn, run_id, now)
        if keep == "returned":
            values = values_from_json(returned)
            sets = ", ".join(f"{f} = ?" for f in FIELDS)
            conn.execute(f"UPDATE criteria SET {sets}, source_file = ?, run_id = ? WHERE learner_id = ? AND ref = ?",
                         (*values, returned_file, run_id, learner_id, ref))
            conn.execute("UPDATE runs SET rows_accepted = 1 WHERE id = ?", (run_id,))
        resolution = f"kept-{keep}"
        merger._close(int(cid), resolution, None, who, note or "")
        merger.log("resolved", f"#{cid}: kept the {keep} value" + (f" ({note})" if note else "") + f", by {who}",
                   None, learner_id, ref)
        from tracker.centre.iqa import run_centre_checks

        register, register_issues = load_register(c)
        coverage = run_centre_checks(conn, register, register_issues, c)
        tmp = _write_master_tmp(c, conn, register, coverage)
        check_master_writable(c.master)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    _replace_master(tmp, c.master)
    _note_master_run(conn)
    return ResolveResult(int(cid), str(name), str(luln), str(ref), keep, c.master)


__all__ = ["CHECKPOINTS", "Checked", "FileOutcome", "Job", "Merger", "Received", "ResolveResult",
           "RollupResult", "decide", "guarded_fields", "open_conflicts", "publish_master", "resolve",
           "rollup"]
