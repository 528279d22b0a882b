"""The centre ledger: one SQLite file (standard library ``sqlite3``) holding everything merged.

Tables:

* ``runs`` -- one row per roll-up or resolution that changed something (time, counts, who).
* ``files`` -- every received file by SHA-256 content hash: original name, size, modification
  time, when received, outcome (``merged`` / ``quarantined``) and why, the learner it went to,
  and where its copy is kept in ``archive/``.
* ``learners`` -- keyed by ULN + qualification number (unique); name, pathway, reading, cover
  details and the workbook id from their latest return. ``learner_workbooks`` lists every
  workbook id seen for a learner (the third part of a learner's identity).
* ``criteria`` -- the accepted value of every criterion row per learner, with the file it came
  from and the run that accepted it, and the values of columns an assessor added (``extra``).
* ``conflicts`` -- returned rows that contradicted an accepted sign-off: both values, both source
  files, the differing fields, and how the conflict was closed (an agreeing return, ``tracker
  resolve``, or superseded by a later conflicting return).
* ``issues`` -- the validation issues of every received file; ``centre_issues`` -- the
  centre-wide findings of the latest roll-up (recomputed each time).
* ``merge_log`` -- what each run did with each file and row, in order.
* ``meta`` -- schema version, and the run the master workbook was last built from.

Journal mode: the classic rollback journal (``journal_mode=DELETE``) with ``synchronous=FULL``,
not WAL. A centre folder often lives on a shared network drive, where WAL's shared-memory index
does not work; a rollback journal is safe there, leaves one self-contained file to back up or
e-mail, and a roll-up is a single writer anyway, so WAL's concurrent readers buy nothing. A
roll-up's changes are one transaction (:func:`transaction`: ``BEGIN IMMEDIATE`` ... ``COMMIT``):
a crash or kill before the commit leaves the ledger exactly as it was (SQLite rolls the hot
journal back on the next open).

Every SQL statement of the centre is a named function of this module returning named records
(slotted dataclasses), so that a schema change touches this file alone. Writes happen inside the
caller's :func:`transaction`; bulk writes take lists (``executemany``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.errors import CentreError

SCHEMA_VERSION = 6
# Schema history: 2 added the ``apprenticeships`` table and the countersign entry fields; 3 (issue
# 11) the ``bases`` table (the rows of every workbook issued by ``tracker issue``, for the
# three-way merge) and ``conflicts.base``; 4 ``criteria.extra`` (the values of columns an assessor
# added to the table); 5 (issue 14) ``learners.planned_end_date`` (the cover's Planned end date,
# for every learner: the on-track view). An older ledger is migrated on open (:func:`_migrate`);
# a learner of an older ledger has no planned end date until their next return; 6 (issue 16) the
# index of learner workbooks by workbook id (the merge looks every returned file's workbook id up:
# without it each look-up read the whole table, a cost that grew with the centre).

# Columns added after schema 1, by the schema version that added them: an older ledger gets them
# as new (NULL) columns when it is opened.
ADDED_COLUMNS: dict[int, tuple[tuple[str, str], ...]] = {
    2: (("criteria", "countersigned_by"), ("criteria", "countersign_date")),
    3: (("conflicts", "base"),),
    4: (("criteria", "extra"),),
    5: (("learners", "planned_end_date"),),
}

# How a conflict was closed (``conflicts.resolution``), and the words the master and the report
# show for each code (a reader never sees the code itself).
RESOLUTION_AGREEING = "agreeing-return"
RESOLUTION_KEPT_ACCEPTED = "kept-accepted"
RESOLUTION_KEPT_RETURNED = "kept-returned"
RESOLUTION_SUPERSEDED = "superseded"
RESOLUTION_WORDS = {
    RESOLUTION_AGREEING: "A later return agreed with the accepted value",
    RESOLUTION_KEPT_ACCEPTED: "An admin kept the accepted value",
    RESOLUTION_KEPT_RETURNED: "An admin kept the returned value",
    RESOLUTION_SUPERSEDED: "Replaced by a newer conflict on the same row",
}
# What started a run (``runs.kind``), in words.
RUN_ROLLUP, RUN_RESOLVE, RUN_REBUILD = "rollup", "resolve", "rebuild"
RUN_KIND_WORDS = {RUN_ROLLUP: "Roll-up", RUN_RESOLVE: "Conflict decision", RUN_REBUILD: "Rebuild"}

# Entry columns stored per criterion (the input columns of the learner workbook, in layout order).
ENTRY_FIELDS: tuple[str, ...] = (
    "evidence_refs", "method", "evidence_date", "decision", "assessor", "assessor_date",
    "iqa_sampled", "iqa", "iqa_date", "iqa_decision", "comments",
    "countersigned_by", "countersign_date",
)

# Version 2: what the latest return says about an apprentice (cover fields and the OTJ log's
# total). A learner who is not an apprentice has no row. The OTJ log is one log the learner and
# employer keep, not a set of signed decisions: the latest return's total stands (no three-way merge).
APPRENTICESHIPS = """
CREATE TABLE IF NOT EXISTS apprenticeships (
    learner_id INTEGER PRIMARY KEY REFERENCES learners(id),
    standard TEXT NOT NULL,
    start_date TEXT,
    planned_end_date TEXT,
    weekly_hours REAL,
    planned_otj_hours REAL,
    otj_hours REAL NOT NULL,
    gateway_signoff_date TEXT,
    english_maths TEXT,
    source_file TEXT NOT NULL
);
"""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                 -- rollup | resolve
    started TEXT NOT NULL,
    finished TEXT,
    user TEXT,
    host TEXT,
    files_new INTEGER NOT NULL DEFAULT 0,
    files_merged INTEGER NOT NULL DEFAULT 0,
    files_quarantined INTEGER NOT NULL DEFAULT 0,
    files_duplicate INTEGER NOT NULL DEFAULT 0,
    rows_accepted INTEGER NOT NULL DEFAULT 0,
    conflicts_opened INTEGER NOT NULL DEFAULT 0,
    conflicts_closed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    hash TEXT PRIMARY KEY,              -- SHA-256 of the content, hex
    original_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    modified TEXT,                      -- the file's modification time when received
    received TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    archive_path TEXT NOT NULL,         -- relative to the centre folder
    outcome TEXT NOT NULL,              -- merged | quarantined
    reason TEXT,
    learner_id INTEGER REFERENCES learners(id),
    uln TEXT,
    qualification_number TEXT,
    learner_name TEXT,
    workbook_id TEXT,
    seq INTEGER NOT NULL                -- order in which files were merged
);
CREATE TABLE IF NOT EXISTS learners (
    id INTEGER PRIMARY KEY,
    uln TEXT NOT NULL,
    qualification_number TEXT NOT NULL,
    qualification_id TEXT NOT NULL,
    name TEXT NOT NULL,
    pathway TEXT,
    reading TEXT,
    registration_date TEXT,
    assessor TEXT,
    iqa TEXT,
    tutor TEXT,
    employer TEXT,
    workbook_id TEXT,
    spec_version TEXT,
    first_run INTEGER NOT NULL,
    last_file TEXT NOT NULL,
    last_return TEXT NOT NULL,
    planned_end_date TEXT,              -- schema 4: the cover's Planned end date (template version 2)
    UNIQUE (uln, qualification_number)
);
CREATE TABLE IF NOT EXISTS learner_workbooks (
    learner_id INTEGER NOT NULL REFERENCES learners(id),
    workbook_id TEXT NOT NULL,
    first_file TEXT NOT NULL,
    PRIMARY KEY (learner_id, workbook_id)
);
CREATE INDEX IF NOT EXISTS learner_workbooks_by_id ON learner_workbooks (workbook_id);
CREATE TABLE IF NOT EXISTS criteria (
    learner_id INTEGER NOT NULL REFERENCES learners(id),
    ref TEXT NOT NULL,
    unit INTEGER NOT NULL,
    {", ".join(f"{f} TEXT" for f in ENTRY_FIELDS)},
    source_file TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    extra TEXT,                         -- JSON object: added column header -> value, or NULL
    PRIMARY KEY (learner_id, ref)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY,
    learner_id INTEGER NOT NULL REFERENCES learners(id),
    ref TEXT NOT NULL,
    unit INTEGER NOT NULL,
    fields TEXT NOT NULL,               -- the contradicted fields, comma-separated
    accepted TEXT NOT NULL,             -- JSON object of the accepted row
    accepted_file TEXT NOT NULL,
    returned TEXT NOT NULL,             -- JSON object of the returned row
    returned_file TEXT NOT NULL,
    base TEXT,                          -- JSON object of the row as issued (three-way merge), or NULL
    opened_run INTEGER NOT NULL,
    status TEXT NOT NULL,               -- open | closed
    resolution TEXT,                    -- agreeing-return | kept-accepted | kept-returned | superseded
    closed_run INTEGER,
    closed_file TEXT,
    closed_by TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS conflicts_row ON conflicts (learner_id, ref, status);
CREATE TABLE IF NOT EXISTS sample_plan (
    run_id INTEGER NOT NULL,            -- the roll-up that planned it
    planned_on TEXT NOT NULL,           -- ISO date the plan was made
    assessor TEXT NOT NULL,
    iqa TEXT,
    learner_id INTEGER NOT NULL REFERENCES learners(id),
    ref TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- interim | summative | recheck
    reason TEXT NOT NULL,
    PRIMARY KEY (learner_id, ref)
);
CREATE TABLE IF NOT EXISTS issues (
    file TEXT NOT NULL,
    seq INTEGER NOT NULL,
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    sheet TEXT,
    cell TEXT,
    unit TEXT,
    criterion TEXT,
    PRIMARY KEY (file, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS centre_issues (
    seq INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    learner_id INTEGER,
    subject TEXT,
    file TEXT,
    sheet TEXT,
    cell TEXT
);
CREATE TABLE IF NOT EXISTS bases (
    id INTEGER PRIMARY KEY,
    learner_id INTEGER NOT NULL REFERENCES learners(id),
    revision INTEGER NOT NULL,          -- the ledger revision (files recorded) it was issued from
    fingerprint TEXT NOT NULL,          -- SHA-256 of the ledger id and every row issued
    rows TEXT NOT NULL,                 -- JSON: ref -> row as issued (ENTRY_FIELDS)
    issued TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS merge_log (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    file TEXT,
    learner_id INTEGER,
    criterion TEXT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
{APPRENTICESHIPS}"""


def connect(path: str | Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and, if new, create) the ledger; rollback journal, full sync, manual transactions."""
    p = Path(path)
    if not create and not p.is_file():
        raise CentreError(f"the ledger {p} is missing; run `tracker init` on the centre folder")
    try:
        conn = sqlite3.connect(str(p), isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 and not create:
            # A 0-byte or emptied ledger opened by a command: never silently made anew.
            conn.close()
            raise CentreError(f"the ledger {p} is empty or damaged; run `tracker rebuild` on the centre folder")
        if version < SCHEMA_VERSION:
            _migrate(conn, version)
        elif version > SCHEMA_VERSION:
            conn.close()
            raise CentreError(f"the ledger {p} was written by a newer tracker (schema {version}); "
                              "update tracker")
    except sqlite3.DatabaseError as e:
        low = str(e).lower()
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            raise CentreError(
                f"the ledger {p} is damaged ({e}), so tracker cannot use it. Nothing was changed. Restore "
                "ledger.sqlite from a backup; every file the centre received is still kept in its archive "
                "folder, so nothing received is lost.") from None
        raise CentreError(f"the ledger {p} cannot be opened: {e}") from None
    return conn


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a new (0) or older ledger up to :data:`SCHEMA_VERSION`, in one transaction: every
    table a later schema has is created (``CREATE ... IF NOT EXISTS``), then each later version's
    columns are added where the table lacks them (a ledger half-way between versions, or a test's
    fake of an old one, must still migrate)."""
    with transaction(conn):
        for statement in _statements(SCHEMA):
            conn.execute(statement)
        for v in range(version + 1, SCHEMA_VERSION + 1):
            for table, column in ADDED_COLUMNS.get(v, ()):
                have = {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def check_ledger(path: str | Path, received: Iterable[str] = ()) -> str | None:
    """What is wrong with the ledger at ``path``, or None when it can be used.

    ``received``: hashes of the files the centre's journal says were received (the archive's
    manifest). A missing or 0-byte ledger, one SQLite cannot open or whose integrity check fails,
    or one that lacks a file the journal lists (a ledger restored from an old copy, or truncated)
    is damaged. The caller refuses to go on; ``tracker rebuild`` makes a new one.
    """
    p = Path(path)
    wanted = set(received)
    if not p.is_file():
        return f"the ledger {p} is missing" if wanted else None
    if p.stat().st_size == 0:
        return f"the ledger {p} is empty (0 bytes)"
    try:
        conn = sqlite3.connect(f"file:{p.as_posix()}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                return f"the ledger {p} is corrupt ({ok})"
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                return f"the ledger {p} holds no tables"
            have = {r[0] for r in conn.execute("SELECT hash FROM files")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return f"the ledger {p} is corrupt ({e})"
    missing = wanted - have
    if missing:
        return f"the ledger {p} lacks {len(missing)} file(s) the archive's journal lists"
    return None


def _statements(script: str) -> Iterator[str]:
    for part in script.split(";"):
        lines = [ln for ln in part.splitlines() if ln.strip()]
        if lines:
            yield "\n".join(lines)


class Transaction:
    """The handle of an open :func:`transaction`: :meth:`discard` rolls it back at the end instead
    of committing (a roll-up that found nothing to keep)."""

    __slots__ = ("conn", "discarded")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.discarded = False

    def discard(self) -> None:
        """Roll back, rather than commit, when the ``with`` block ends."""
        self.discarded = True


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[Transaction]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` after :meth:`Transaction.discard`).

    Rolled back on any exception, a failed ``COMMIT`` included. The roll-up writes the master's
    temporary file inside the block, so the ledger commits only once the master it shows exists.
    SQLite may already have rolled back by itself (a full disk): then there is nothing to undo,
    and the original error is the one raised.
    """
    conn.execute("BEGIN IMMEDIATE")
    tx = Transaction(conn)
    try:
        yield tx
        conn.execute("ROLLBACK" if tx.discarded else "COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction (``BEGIN`` ... ``ROLLBACK``): several queries see one consistent ledger
    even when a roll-up commits meanwhile (the export reads two tables from it)."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

def get_meta(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    """A value of the ``meta`` table."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Set a value of the ``meta`` table (inside the caller's transaction)."""
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def last_run(conn: sqlite3.Connection) -> int:
    """The id of the latest run (0 when nothing has been merged yet)."""
    row = conn.execute("SELECT max(id) FROM runs").fetchone()
    return int(row[0] or 0)


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a stable order (tests compare ledgers with it)."""
    out: dict[str, list[tuple[object, ...]]] = {}
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for name in names:
        out[name] = sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
    return out


def now() -> str:
    """The current local time as the ledger stores times ('YYYY-MM-DD HH:MM:SS')."""
    return dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


# == named queries ================================================================================
#
# Every SQL statement of the centre is below, grouped by table; each returns named records
# (slotted dataclasses) so that callers never index a positional tuple. Bulk writes take lists
# (``executemany``); the master's reads are one query per table.

Values = tuple[str | None, ...]  # a criterion row's entry fields, in ENTRY_FIELDS order
_COLS = ", ".join(ENTRY_FIELDS)
_SETS = ", ".join(f"{f} = ?" for f in ENTRY_FIELDS)
_LEARNER_ORDER = "l.qualification_number, l.name COLLATE NOCASE, l.uln"  # the master's order


# -- runs -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class RunInfo:
    """A run's id and start time."""

    id: int
    started: str


@dataclass(slots=True)
class RunCounts:
    """What a run did, for its ``runs`` row."""

    files_new: int = 0
    files_merged: int = 0
    files_quarantined: int = 0
    files_duplicate: int = 0
    rows_accepted: int = 0
    conflicts_opened: int = 0
    conflicts_closed: int = 0


def start_run(conn: sqlite3.Connection, kind: str, started: str, user: str, host: str) -> int:
    """Insert the next run (``rollup`` or ``resolve``) and return its id."""
    run_id = last_run(conn) + 1
    conn.execute("INSERT INTO runs (id, kind, started, user, host) VALUES (?, ?, ?, ?, ?)",
                 (run_id, kind, started, user, host))
    return run_id


def finish_run(conn: sqlite3.Connection, run_id: int, finished: str, counts: RunCounts) -> None:
    """Record when a run finished and what it did."""
    conn.execute(
        "UPDATE runs SET finished=?, files_new=?, files_merged=?, files_quarantined=?, files_duplicate=?, "
        "rows_accepted=?, conflicts_opened=?, conflicts_closed=? WHERE id=?",
        (finished, counts.files_new, counts.files_merged, counts.files_quarantined, counts.files_duplicate,
         counts.rows_accepted, counts.conflicts_opened, counts.conflicts_closed, run_id))


def latest_run(conn: sqlite3.Connection) -> RunInfo | None:
    """The latest run, or None before the first."""
    row = conn.execute("SELECT id, started FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return RunInfo(int(row[0]), str(row[1])) if row else None


# -- files and their issues ------------------------------------------------------------------------


@dataclass(slots=True)
class FileRecord:
    """A received file's ``files`` row."""

    hash: str
    original_name: str
    size: int
    modified: str
    received: str
    run_id: int
    archive_path: str
    outcome: str
    reason: str | None
    learner_id: int | None
    uln: str | None
    qualification_number: str | None
    learner_name: str | None
    workbook_id: str | None
    seq: int


@dataclass(slots=True)
class IssueRow:
    """One stored validation issue of a file."""

    code: str
    severity: str
    message: str
    sheet: str | None = None
    cell: str | None = None
    unit: str | None = None
    criterion: str | None = None


@dataclass(slots=True)
class FileName:
    """A received file's original name and when it was received."""

    name: str
    received: str


@dataclass(slots=True)
class LatestReturn:
    """The file a learner's latest return came from (to check it again)."""

    hash: str
    archive_path: str
    original_name: str


@dataclass(slots=True)
class FileIssue:
    """A stored issue with the file and learner it belongs to (the master's Issues sheet)."""

    file: str
    name: str | None
    uln: str | None
    qualification_number: str | None
    issue: IssueRow


@dataclass(slots=True)
class IssueCount:
    """Errors and warnings of a learner's latest return."""

    errors: int
    warnings: int


_FILE_COLS = ("original_name, size, modified, received, run_id, archive_path, outcome, reason, learner_id, uln, "
              "qualification_number, learner_name, workbook_id, seq")


def last_file_seq(conn: sqlite3.Connection) -> int:
    """The merge order number of the latest received file (0 when none)."""
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM files").fetchone()[0])


def file_outcomes(conn: sqlite3.Connection) -> dict[str, str]:
    """Content hash -> outcome (merged | quarantined) of every received file."""
    return {h: o for h, o in conn.execute("SELECT hash, outcome FROM files")}


def record_file(conn: sqlite3.Connection, f: FileRecord, issues: list[IssueRow], *, replace: bool) -> None:
    """Insert a received file with its issues; ``replace``: overwrite the record (and issues) of a
    file received before (a quarantined file tried again)."""
    params = (f.original_name, f.size, f.modified, f.received, f.run_id, f.archive_path, f.outcome, f.reason,
              f.learner_id, f.uln, f.qualification_number, f.learner_name, f.workbook_id, f.seq, f.hash)
    if replace:
        sets = ", ".join(f"{c.strip()}=?" for c in _FILE_COLS.split(","))
        conn.execute(f"UPDATE files SET {sets} WHERE hash=?", params)
    else:
        conn.execute(f"INSERT INTO files ({_FILE_COLS}, hash) VALUES ({', '.join('?' * 15)})", params)
    if replace:
        conn.execute("DELETE FROM issues WHERE file = ?", (f.hash,))
    _insert_issues(conn, f.hash, issues)


def replace_issues(conn: sqlite3.Connection, file: str, issues: list[IssueRow]) -> None:
    """Make ``issues`` (in this order) the stored issues of ``file``."""
    conn.execute("DELETE FROM issues WHERE file = ?", (file,))
    _insert_issues(conn, file, issues)


def _insert_issues(conn: sqlite3.Connection, file: str, issues: list[IssueRow]) -> None:
    conn.executemany(
        "INSERT INTO issues (file, seq, code, severity, message, sheet, cell, unit, criterion) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(file, n, i.code, i.severity, i.message, i.sheet, i.cell, i.unit, i.criterion)
         for n, i in enumerate(issues)])


def file_issues(conn: sqlite3.Connection, file: str) -> list[IssueRow]:
    """The stored issues of ``file``, in order."""
    return [IssueRow(*row) for row in conn.execute(
        "SELECT code, severity, message, sheet, cell, unit, criterion FROM issues WHERE file = ? ORDER BY seq",
        (file,))]


def file_names(conn: sqlite3.Connection) -> dict[str, FileName]:
    """Content hash -> original name and time received, of every file."""
    return {h: FileName(n, r) for h, n, r in conn.execute("SELECT hash, original_name, received FROM files")}


def file_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(files received, files quarantined)."""
    received, quarantined = conn.execute(
        "SELECT count(*), coalesce(sum(outcome = 'quarantined'), 0) FROM files").fetchone()
    return int(received), int(quarantined)


def latest_returns(conn: sqlite3.Connection) -> list[LatestReturn]:
    """Every learner's latest return, in the order the files were merged."""
    return [LatestReturn(*row) for row in conn.execute(
        "SELECT f.hash, f.archive_path, f.original_name FROM learners l JOIN files f ON f.hash = l.last_file "
        "ORDER BY f.seq")]


def quarantined_issues(conn: sqlite3.Connection) -> list[FileIssue]:
    """The issues of every quarantined file, files in merge order."""
    return [FileIssue(h, n, u, q, IssueRow(*rest)) for h, n, u, q, *rest in conn.execute(
        "SELECT f.hash, f.learner_name, f.uln, f.qualification_number, i.code, i.severity, i.message, i.sheet, "
        "i.cell, i.unit, i.criterion FROM files f JOIN issues i ON i.file = f.hash "
        "WHERE f.outcome = 'quarantined' ORDER BY f.seq, i.seq")]


def latest_return_issues(conn: sqlite3.Connection) -> list[FileIssue]:
    """The issues of every learner's latest return, learners in master order."""
    return [FileIssue(h, n, u, q, IssueRow(*rest)) for h, n, u, q, *rest in conn.execute(
        "SELECT l.last_file, l.name, l.uln, l.qualification_number, i.code, i.severity, i.message, i.sheet, "
        f"i.cell, i.unit, i.criterion FROM learners l JOIN issues i ON i.file = l.last_file "
        f"ORDER BY {_LEARNER_ORDER}, i.seq")]


def issue_counts(conn: sqlite3.Connection) -> dict[int, IssueCount]:
    """Learner id -> errors and warnings of their latest return."""
    return {int(lid): IssueCount(int(e or 0), int(w or 0)) for lid, e, w in conn.execute(
        "SELECT l.id, sum(i.severity = 'error'), sum(i.severity = 'warning') FROM learners l "
        "JOIN issues i ON i.file = l.last_file GROUP BY l.id")}


# -- learners -------------------------------------------------------------------------------------


@dataclass(slots=True)
class KnownLearner:
    """A learner on file: id and name."""

    id: int
    name: str


@dataclass(slots=True)
class LearnerName:
    """A learner's name and ULN."""

    name: str
    uln: str


@dataclass(slots=True)
class LearnerDetails:
    """What a return says about its learner (the ``learners`` columns a merge sets)."""

    qualification_id: str
    name: str
    pathway: str | None
    reading: str | None
    registration_date: str | None
    assessor: str | None
    iqa: str | None
    tutor: str | None
    employer: str | None
    workbook_id: str | None
    spec_version: str | None
    last_file: str
    last_return: str
    planned_end_date: str | None = None


@dataclass(slots=True)
class LearnerRow:
    """A learner as the master shows them."""

    id: int
    uln: str
    name: str
    qualification_number: str
    qualification_id: str
    pathway: str | None
    reading: str | None
    registration_date: str | None
    assessor: str | None
    iqa: str | None
    tutor: str | None
    employer: str | None
    workbook_id: str | None
    last_file: str
    last_return: str
    planned_end_date: str | None = None


@dataclass(slots=True)
class LearnerPeople:
    """The people named on a learner's cover (for the centre checks)."""

    id: int
    name: str
    qualification_number: str
    assessor: str | None
    iqa: str | None
    tutor: str | None


_DETAIL_COLS = ("qualification_id", "name", "pathway", "reading", "registration_date", "assessor", "iqa", "tutor",
                "employer", "workbook_id", "spec_version", "last_file", "last_return", "planned_end_date")


def _details(d: LearnerDetails) -> tuple[str | None, ...]:
    return tuple(getattr(d, c) for c in _DETAIL_COLS)


def find_learner(conn: sqlite3.Connection, uln: str, qualification_number: str) -> KnownLearner | None:
    """The learner with this ULN on this qualification, or None."""
    row = conn.execute("SELECT id, name FROM learners WHERE uln = ? AND qualification_number = ?",
                       (uln, qualification_number)).fetchone()
    return KnownLearner(int(row[0]), str(row[1])) if row else None


def insert_learner(conn: sqlite3.Connection, uln: str, qualification_number: str, first_run: int,
                   details: LearnerDetails) -> int:
    """Add a learner; returns their id."""
    cur = conn.execute(
        f"INSERT INTO learners ({', '.join(_DETAIL_COLS)}, uln, qualification_number, first_run) "
        f"VALUES ({', '.join('?' * (len(_DETAIL_COLS) + 3))})",
        (*_details(details), uln, qualification_number, first_run))
    return int(cur.lastrowid or 0)


def update_learner(conn: sqlite3.Connection, learner_id: int, details: LearnerDetails) -> None:
    """Replace what the latest return says about a learner."""
    conn.execute(f"UPDATE learners SET {', '.join(f'{c}=?' for c in _DETAIL_COLS)} WHERE id=?",
                 (*_details(details), learner_id))


def set_reading(conn: sqlite3.Connection, qualification_id: str, reading: str) -> int:
    """Put every learner on a qualification under ``reading``; returns how many changed."""
    cur = conn.execute("UPDATE learners SET reading = ? WHERE qualification_id = ? AND coalesce(reading, '') != ?",
                       (reading, qualification_id, reading))
    return int(cur.rowcount)


def learner_workbook_ids(conn: sqlite3.Connection, learner_id: int) -> set[str]:
    """Every workbook id seen for a learner."""
    return {r[0] for r in conn.execute("SELECT workbook_id FROM learner_workbooks WHERE learner_id = ?",
                                       (learner_id,))}


def add_learner_workbook(conn: sqlite3.Connection, learner_id: int, workbook_id: str, first_file: str) -> None:
    """Note a workbook id seen for a learner (no-op when known)."""
    conn.execute("INSERT OR IGNORE INTO learner_workbooks (learner_id, workbook_id, first_file) VALUES (?, ?, ?)",
                 (learner_id, workbook_id, first_file))


def other_learner_with_workbook(conn: sqlite3.Connection, workbook_id: str, uln: str,
                                qualification_number: str) -> LearnerName | None:
    """A learner other than (ULN, qualification) seen with this workbook id, or None."""
    row = conn.execute(
        "SELECT l.name, l.uln FROM learner_workbooks w JOIN learners l ON l.id = w.learner_id "
        "WHERE w.workbook_id = ? AND NOT (l.uln = ? AND l.qualification_number = ?) LIMIT 1",
        (workbook_id, uln, qualification_number)).fetchone()
    return None if row is None else LearnerName(str(row[0]), str(row[1]))


def learner_count(conn: sqlite3.Connection) -> int:
    """Learners on file."""
    return int(conn.execute("SELECT count(*) FROM learners").fetchone()[0])


def learners_per_qualification(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(qualification number, learners on it), by number."""
    return [(str(qn), int(n)) for qn, n in conn.execute(
        "SELECT qualification_number, count(*) FROM learners GROUP BY qualification_number ORDER BY 1")]


def learners(conn: sqlite3.Connection) -> list[LearnerRow]:
    """Every learner in master order (qualification number, name without letter case, ULN)."""
    return [LearnerRow(*row) for row in conn.execute(
        "SELECT l.id, l.uln, l.name, l.qualification_number, l.qualification_id, l.pathway, l.reading, "
        "l.registration_date, l.assessor, l.iqa, l.tutor, l.employer, l.workbook_id, l.last_file, l.last_return, "
        f"l.planned_end_date FROM learners l ORDER BY {_LEARNER_ORDER}")]


def learner_people(conn: sqlite3.Connection) -> list[LearnerPeople]:
    """Every learner with the assessor, IQA and tutor named on their cover."""
    return [LearnerPeople(*row) for row in conn.execute(
        "SELECT id, name, qualification_number, assessor, iqa, tutor FROM learners")]


# -- apprenticeships ------------------------------------------------------------------------------


@dataclass(slots=True)
class Apprenticeship:
    """An apprentice's programme as the latest return gives it (dates ISO text, hours numbers)."""

    standard: str
    start_date: str | None
    planned_end_date: str | None
    weekly_hours: float | None
    planned_otj_hours: float | None
    otj_hours: float
    gateway_signoff_date: str | None
    english_maths: str | None


_APP_COLS = ("standard", "start_date", "planned_end_date", "weekly_hours", "planned_otj_hours", "otj_hours",
             "gateway_signoff_date", "english_maths")


def set_apprenticeship(conn: sqlite3.Connection, learner_id: int, app: Apprenticeship | None,
                       source_file: str) -> None:
    """Record what a return says about the learner's apprenticeship (None: not an apprentice)."""
    if app is None:
        conn.execute("DELETE FROM apprenticeships WHERE learner_id = ?", (learner_id,))
        return
    conn.execute(f"INSERT OR REPLACE INTO apprenticeships (learner_id, {', '.join(_APP_COLS)}, source_file) "
                 f"VALUES ({', '.join('?' * (len(_APP_COLS) + 2))})",
                 (learner_id, *(getattr(app, c) for c in _APP_COLS), source_file))


def apprenticeships(conn: sqlite3.Connection) -> dict[int, Apprenticeship]:
    """learner id -> their apprenticeship, for every apprentice."""
    return {int(row[0]): Apprenticeship(*row[1:]) for row in conn.execute(
        f"SELECT learner_id, {', '.join(_APP_COLS)} FROM apprenticeships")}


# -- criteria -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Accepted:
    """The accepted value of one criterion row, with the file it came from and the run."""

    values: Values
    source_file: str
    run_id: int
    extra: str | None = None  # JSON object: added column header -> value (None: none)


@dataclass(slots=True)
class NewCriterion:
    """A criterion row to insert or update."""

    learner_id: int
    ref: str
    unit: int
    values: Values
    source_file: str
    run_id: int
    extra: str | None = None  # JSON object: added column header -> value (None: none)


@dataclass(slots=True)
class SignedDecision:
    """A criterion row with an assessor, as the IQA sampling coverage counts it."""

    unit: int
    method: str | None
    decision: str | None
    assessor: str
    iqa_sampled: str | None
    iqa_decision: str | None
    qualification_number: str


@dataclass(slots=True)
class Signers:
    """Who signed criterion rows of a learner as assessor, countersigner and IQA (one distinct set)."""

    learner_id: int
    qualification_number: str
    assessor: str | None
    iqa: str | None
    countersigner: str | None = None


@dataclass(slots=True)
class SamplingRow:
    """A criterion row with an assessor, as IQA sampling and the sampling plan see it (dates ISO)."""

    learner_id: int
    learner: str
    employer: str | None
    learner_iqa: str | None
    qualification_number: str
    unit: int
    ref: str
    method: str | None
    evidence_date: str | None
    decision: str | None
    assessor: str
    assessor_date: str | None
    iqa_sampled: str | None
    iqa: str | None
    iqa_date: str | None
    iqa_decision: str | None


@dataclass(slots=True)
class PlanItem:
    """One decision an IQA is to sample next, as the ledger keeps it across roll-ups."""

    run_id: int
    planned_on: str
    assessor: str
    iqa: str | None
    learner_id: int
    ref: str
    kind: str
    reason: str


def learner_criteria(conn: sqlite3.Connection, learner_id: int) -> dict[str, Accepted]:
    """Ref -> accepted value of every criterion row of one learner."""
    n = len(ENTRY_FIELDS)
    return {row[0]: Accepted(tuple(row[1:n + 1]), row[n + 1], row[n + 2], row[n + 3]) for row in conn.execute(
        f"SELECT ref, {_COLS}, source_file, run_id, extra FROM criteria WHERE learner_id = ?", (learner_id,))}


def criteria_by_learner(conn: sqlite3.Connection) -> Iterator[tuple[int, dict[str, Accepted]]]:
    """(learner id, ref -> accepted value) for every learner with criterion rows, in master order.

    One query for the whole ledger, streamed (the master does not hold every row at once)."""
    n = len(ENTRY_FIELDS)
    cols = ", ".join(f"c.{f}" for f in ENTRY_FIELDS)
    current: int | None = None
    rows: dict[str, Accepted] = {}
    for row in conn.execute(f"SELECT c.learner_id, c.ref, {cols}, c.source_file, c.run_id, c.extra FROM learners l "
                            f"JOIN criteria c ON c.learner_id = l.id ORDER BY {_LEARNER_ORDER}"):
        if row[0] != current:
            if current is not None:
                yield current, rows
            current, rows = row[0], {}
        rows[row[1]] = Accepted(tuple(row[2:n + 2]), row[n + 2], row[n + 3], row[n + 4])
    if current is not None:
        yield current, rows


def insert_criteria(conn: sqlite3.Connection, rows: list[NewCriterion]) -> None:
    """Insert new criterion rows."""
    conn.executemany(
        f"INSERT INTO criteria (learner_id, ref, unit, {_COLS}, source_file, run_id, extra) "
        f"VALUES ({', '.join('?' * (len(ENTRY_FIELDS) + 6))})",
        [(r.learner_id, r.ref, r.unit, *r.values, r.source_file, r.run_id, r.extra) for r in rows])


def update_criteria(conn: sqlite3.Connection, rows: list[NewCriterion]) -> None:
    """Replace the accepted value of criterion rows (their unit is unchanged)."""
    conn.executemany(f"UPDATE criteria SET {_SETS}, source_file = ?, run_id = ?, extra = ? "
                     "WHERE learner_id = ? AND ref = ?",
                     [(*r.values, r.source_file, r.run_id, r.extra, r.learner_id, r.ref) for r in rows])


def criteria_count(conn: sqlite3.Connection, qualification_number: str) -> int:
    """Criterion rows held for the learners on a qualification."""
    return int(conn.execute("SELECT count(*) FROM criteria c JOIN learners l ON l.id = c.learner_id "
                            "WHERE l.qualification_number = ?", (qualification_number,)).fetchone()[0])


def signed_decisions(conn: sqlite3.Connection) -> Iterator[SignedDecision]:
    """Every criterion row with an assessor (streamed)."""
    for row in conn.execute(
            "SELECT c.unit, c.method, c.decision, c.assessor, c.iqa_sampled, c.iqa_decision, l.qualification_number "
            "FROM criteria c JOIN learners l ON l.id = c.learner_id WHERE c.assessor IS NOT NULL"):
        yield SignedDecision(*row)


def criterion_signers(conn: sqlite3.Connection) -> list[Signers]:
    """Each distinct (learner, assessor, IQA) found on criterion rows."""
    return [Signers(*row) for row in conn.execute(
        "SELECT DISTINCT c.learner_id, l.qualification_number, c.assessor, c.iqa, c.countersigned_by "
        "FROM criteria c JOIN learners l ON l.id = c.learner_id "
        "WHERE c.assessor IS NOT NULL OR c.iqa IS NOT NULL OR c.countersigned_by IS NOT NULL")]


def learner_pathways(conn: sqlite3.Connection) -> list[tuple[int, str, str | None, str | None]]:
    """(learner id, qualification number, pathway, reading) of every learner."""
    return [(int(r[0]), str(r[1]), r[2], r[3]) for r in conn.execute(
        "SELECT id, qualification_number, pathway, reading FROM learners")]


def sampling_rows(conn: sqlite3.Connection) -> list[SamplingRow]:
    """Every criterion row with an assessor, with its learner's name, employer and cover IQA.

    Equal texts share one string: sqlite3 makes a new one for every value, and these rows are
    nearly all repeats (names, refs, decisions, dates: 1,417 distinct texts in 211,000 rows of a
    10,000-learner centre), which held 181 MiB as fetched and 40 MiB shared -- the largest part of
    the roll-up's peak memory, since the centre checks and the plan keep the list while they run."""
    seen: dict[Any, Any] = {}
    share = seen.setdefault
    return [SamplingRow(*[share(v, v) if type(v) is str else v for v in row]) for row in conn.execute(
        "SELECT c.learner_id, l.name, l.employer, l.iqa, l.qualification_number, c.unit, c.ref, c.method, "
        "c.evidence_date, c.decision, c.assessor, c.assessor_date, c.iqa_sampled, c.iqa, c.iqa_date, "
        "c.iqa_decision FROM criteria c JOIN learners l ON l.id = c.learner_id "
        "WHERE c.assessor IS NOT NULL ORDER BY l.id, c.unit, c.ref")]


def plan_items(conn: sqlite3.Connection) -> list[PlanItem]:
    """The sampling plan the last roll-up made (oldest planned first)."""
    return [PlanItem(*row) for row in conn.execute(
        "SELECT run_id, planned_on, assessor, iqa, learner_id, ref, kind, reason FROM sample_plan "
        "ORDER BY planned_on, assessor, learner_id, ref")]


def replace_plan(conn: sqlite3.Connection, items: list[PlanItem]) -> None:
    """Replace the stored sampling plan (inside the caller's transaction)."""
    conn.execute("DELETE FROM sample_plan")
    conn.executemany("INSERT OR REPLACE INTO sample_plan (run_id, planned_on, assessor, iqa, learner_id, ref, kind, "
                     "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(i.run_id, i.planned_on, i.assessor, i.iqa, i.learner_id, i.ref, i.kind, i.reason)
                      for i in items])


@dataclass(slots=True)
class SampledRow:
    """A criterion row an IQA sampled (IQA sampled Yes, or an IQA decision): the sampling record."""

    uln: str
    name: str
    qualification_number: str
    unit: int
    ref: str
    method: str | None
    decision: str | None
    assessor: str | None
    assessor_date: str | None
    iqa: str | None
    iqa_date: str | None
    iqa_sampled: str | None
    iqa_decision: str | None


def sampled_rows(conn: sqlite3.Connection) -> list[SampledRow]:
    """Every criterion row an IQA sampled, by IQA date (undated last), learner and criterion.

    "Sampled" is as the IQA coverage counts it: an IQA decision recorded, or IQA sampled = Yes
    in any letter case."""
    return [SampledRow(*row) for row in conn.execute(
        "SELECT l.uln, l.name, l.qualification_number, c.unit, c.ref, c.method, c.decision, c.assessor, "
        "c.assessor_date, c.iqa, c.iqa_date, c.iqa_sampled, c.iqa_decision FROM criteria c "
        "JOIN learners l ON l.id = c.learner_id "
        "WHERE c.iqa_decision IS NOT NULL OR lower(coalesce(c.iqa_sampled, '')) = 'yes' "
        "ORDER BY c.iqa_date IS NULL, c.iqa_date, l.name, l.uln, c.unit, c.ref")]


# -- conflicts ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ConflictMark:
    """A conflict a merge must know of: an open one, or a returned value an admin rejected."""

    id: int
    ref: str
    returned: str  # JSON
    open: bool


@dataclass(slots=True)
class NewConflict:
    """A conflict to open."""

    learner_id: int
    ref: str
    unit: int
    fields: tuple[str, ...]
    accepted: str  # JSON
    accepted_file: str
    returned: str  # JSON
    returned_file: str
    opened_run: int
    base: str | None = None  # JSON of the row as issued, when the return had a base


@dataclass(slots=True)
class ConflictRow:
    """A conflict with its learner, for listing (the master, ``tracker conflicts``, resolve)."""

    id: int
    learner_id: int
    status: str
    name: str
    uln: str
    qualification_number: str
    unit: int
    ref: str
    fields: tuple[str, ...]
    accepted: str  # JSON
    accepted_file: str
    returned: str  # JSON
    returned_file: str
    resolution: str | None
    closed_by: str | None
    note: str | None
    base: str | None = None  # JSON of the row as issued (three-way merge), or None


_CONFLICT_SQL = ("SELECT k.id, k.learner_id, k.status, l.name, l.uln, l.qualification_number, k.unit, k.ref, "
                 "k.fields, k.accepted, k.accepted_file, k.returned, k.returned_file, k.resolution, k.closed_by, "
                 "k.note, k.base FROM conflicts k JOIN learners l ON l.id = k.learner_id")


def _conflict(row: tuple[object, ...]) -> ConflictRow:
    values = list(row)
    values[8] = tuple(str(values[8]).split(","))
    return ConflictRow(*values)  # type: ignore[arg-type]


def conflict_marks(conn: sqlite3.Connection, learner_id: int) -> list[ConflictMark]:
    """A learner's open conflicts and the returned values an admin rejected (kept the accepted)."""
    return [ConflictMark(int(cid), ref, returned, status == "open") for cid, ref, returned, status in conn.execute(
        "SELECT id, ref, returned, status FROM conflicts WHERE learner_id = ? "
        "AND (status = 'open' OR resolution = ?)", (learner_id, RESOLUTION_KEPT_ACCEPTED))]


def open_conflict(conn: sqlite3.Connection, c: NewConflict) -> int:
    """Record a new open conflict; returns its id."""
    cur = conn.execute(
        "INSERT INTO conflicts (learner_id, ref, unit, fields, accepted, accepted_file, returned, returned_file, "
        "opened_run, status, base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
        (c.learner_id, c.ref, c.unit, ",".join(c.fields), c.accepted, c.accepted_file, c.returned,
         c.returned_file, c.opened_run, c.base))
    return int(cur.lastrowid or 0)


def close_conflict(conn: sqlite3.Connection, conflict_id: int, resolution: str, run_id: int, file: str | None,
                   by: str | None, note: str) -> None:
    """Close a conflict, recording how, in which run, by which file or person, and why."""
    conn.execute("UPDATE conflicts SET status='closed', resolution=?, closed_run=?, closed_file=?, closed_by=?, "
                 "note=? WHERE id=?", (resolution, run_id, file, by, note, conflict_id))


def conflicts(conn: sqlite3.Connection) -> list[ConflictRow]:
    """Every conflict: open ones first, then closed, each by id."""
    return [_conflict(r) for r in conn.execute(_CONFLICT_SQL + " ORDER BY k.status = 'closed', k.id")]


def open_conflicts(conn: sqlite3.Connection, uln: str | None = None, criterion: str | None = None,
                   qualification_number: str | None = None) -> list[ConflictRow]:
    """Open conflicts, oldest first; optionally of one learner (ULN), on one criterion (any letter
    case), on one qualification (written with or without slashes)."""
    sql, params = _CONFLICT_SQL + " WHERE k.status = 'open'", []
    if uln is not None:
        sql += " AND l.uln = ?"
        params.append(uln)
    if criterion is not None:
        sql += " AND upper(k.ref) = upper(?)"
        params.append(criterion)
    if qualification_number is not None:
        sql += " AND replace(l.qualification_number, '/', '') = ?"
        params.append(qualification_number.replace("/", ""))
    return [_conflict(r) for r in conn.execute(sql + " ORDER BY k.id", params)]


def conflict_by_id(conn: sqlite3.Connection, conflict_id: int) -> ConflictRow | None:
    """One conflict, open or closed, or None."""
    row = conn.execute(_CONFLICT_SQL + " WHERE k.id = ?", (conflict_id,)).fetchone()
    return None if row is None else _conflict(row)


def open_conflict_refs(conn: sqlite3.Connection) -> set[tuple[int, str]]:
    """(learner id, criterion ref) of every open conflict."""
    return {(int(lid), ref) for lid, ref in conn.execute("SELECT learner_id, ref FROM conflicts WHERE status = 'open'")}


def open_conflict_count(conn: sqlite3.Connection) -> int:
    """Open conflicts in the ledger."""
    return int(conn.execute("SELECT count(*) FROM conflicts WHERE status='open'").fetchone()[0])


# -- centre issues --------------------------------------------------------------------------------


@dataclass(slots=True)
class CentreIssue:
    """A centre-wide finding (or a problem of the centre register), as stored."""

    code: str
    severity: str
    message: str
    subject: str
    file: str | None = None
    sheet: str | None = None
    cell: str | None = None


def replace_centre_issues(conn: sqlite3.Connection, issues: list[CentreIssue]) -> None:
    """Make ``issues`` the centre-wide findings (the previous roll-up's are dropped)."""
    conn.execute("DELETE FROM centre_issues")
    conn.executemany(
        "INSERT INTO centre_issues (seq, code, severity, message, learner_id, subject, file, sheet, cell) "
        "VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)",
        [(n, i.code, i.severity, i.message, i.subject, i.file, i.sheet, i.cell) for n, i in enumerate(issues)])


def centre_issues(conn: sqlite3.Connection) -> list[CentreIssue]:
    """The stored centre-wide findings, in order."""
    return [CentreIssue(*row) for row in conn.execute(
        "SELECT code, severity, message, subject, file, sheet, cell FROM centre_issues ORDER BY seq")]


# -- merge log ------------------------------------------------------------------------------------


@dataclass(slots=True)
class LogEntry:
    """One line of the merge log, with its run and learner."""

    run_id: int
    time: str
    kind: str
    file: str | None
    name: str | None
    uln: str | None
    criterion: str | None
    action: str
    detail: str


def log(conn: sqlite3.Connection, run_id: int, action: str, detail: str, file: str | None = None,
        learner_id: int | None = None, criterion: str | None = None) -> None:
    """Append to the merge log."""
    conn.execute("INSERT INTO merge_log (run_id, file, learner_id, criterion, action, detail) "
                 "VALUES (?, ?, ?, ?, ?, ?)", (run_id, file, learner_id, criterion, action, detail))


def merge_log(conn: sqlite3.Connection) -> list[LogEntry]:
    """The merge log, newest run first, each run in order."""
    return [LogEntry(*row) for row in conn.execute(
        "SELECT m.run_id, r.started, r.kind, m.file, l.name, l.uln, m.criterion, m.action, m.detail "
        "FROM merge_log m JOIN runs r ON r.id = m.run_id LEFT JOIN learners l ON l.id = m.learner_id "
        "ORDER BY m.run_id DESC, m.id")]


# -- bases (workbooks issued by ``tracker issue``) -------------------------------------------------


@dataclass(slots=True)
class Base:
    """A workbook issued from the ledger: its learner, revision, fingerprint and rows."""

    id: int
    learner_id: int
    revision: int
    fingerprint: str
    rows: str  # JSON: ref -> {field: value}


def ledger_id(conn: sqlite3.Connection) -> str:
    """This ledger's identity (kept by a rebuild); made on first use, inside the caller's transaction."""
    v = get_meta(conn, "ledger_id")
    if not v:
        import uuid

        v = str(uuid.uuid4())
        set_meta(conn, "ledger_id", v)
    return v


def revision(conn: sqlite3.Connection) -> int:
    """The ledger's revision: the number of files it has recorded (a rebuild reaches the same one)."""
    return last_file_seq(conn)


def insert_base(conn: sqlite3.Connection, learner_id: int, revision_: int, fingerprint: str, rows: str,
                issued: str, base_id: int | None = None) -> int:
    """Record an issued workbook's base (``base_id`` given by a rebuild replaying the journal)."""
    cur = conn.execute("INSERT INTO bases (id, learner_id, revision, fingerprint, rows, issued) VALUES (?, ?, ?, ?, ?, ?)",
                       (base_id, learner_id, revision_, fingerprint, rows, issued))
    return int(cur.lastrowid or 0)


def base_by_id(conn: sqlite3.Connection, base_id: int) -> Base | None:
    """One issued base, or None."""
    row = conn.execute("SELECT id, learner_id, revision, fingerprint, rows FROM bases WHERE id = ?",
                       (base_id,)).fetchone()
    return Base(*row) if row else None


def learners_changed_in_run(conn: sqlite3.Connection, run_id: int) -> set[int]:
    """The learners a run changed: a file merged into them, a criterion row accepted, or a
    conflict of theirs opened or closed in it."""
    return {int(r[0]) for r in conn.execute(
        "SELECT learner_id FROM files WHERE run_id = ? AND outcome = 'merged' AND learner_id IS NOT NULL "
        "UNION SELECT learner_id FROM criteria WHERE run_id = ? "
        "UNION SELECT learner_id FROM conflicts WHERE opened_run = ? OR closed_run = ?",
        (run_id, run_id, run_id, run_id))}


def criterion_extras(conn: sqlite3.Connection) -> dict[tuple[str, str, str], str]:
    """(ULN, qualification number, criterion ref) -> the JSON of its added columns' values, for
    every criterion row that has any (the export lists them)."""
    return {(str(u), str(qn), str(ref)): str(x) for u, qn, ref, x in conn.execute(
        "SELECT l.uln, l.qualification_number, c.ref, c.extra FROM criteria c JOIN learners l ON l.id = c.learner_id "
        "WHERE c.extra IS NOT NULL")}


def learner_by_id(conn: sqlite3.Connection, learner_id: int) -> LearnerRow | None:
    """One learner as the master lists them, or None."""
    for lr in learners(conn):
        if lr.id == learner_id:
            return lr
    return None

