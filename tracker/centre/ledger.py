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
  from and the run that accepted it.
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
roll-up's changes are one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): a crash or kill
before the commit leaves the ledger exactly as it was (SQLite rolls the hot journal back on the
next open).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tracker.errors import CentreError

SCHEMA_VERSION = 1

# Entry columns stored per criterion (the input columns of the learner workbook, in layout order).
ENTRY_FIELDS: tuple[str, ...] = (
    "evidence_refs", "method", "evidence_date", "decision", "assessor", "assessor_date",
    "iqa_sampled", "iqa", "iqa_date", "iqa_decision", "comments",
)

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
    UNIQUE (uln, qualification_number)
);
CREATE TABLE IF NOT EXISTS learner_workbooks (
    learner_id INTEGER NOT NULL REFERENCES learners(id),
    workbook_id TEXT NOT NULL,
    first_file TEXT NOT NULL,
    PRIMARY KEY (learner_id, workbook_id)
);
CREATE TABLE IF NOT EXISTS criteria (
    learner_id INTEGER NOT NULL REFERENCES learners(id),
    ref TEXT NOT NULL,
    unit INTEGER NOT NULL,
    {", ".join(f"{f} TEXT" for f in ENTRY_FIELDS)},
    source_file TEXT NOT NULL,
    run_id INTEGER NOT NULL,
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
    opened_run INTEGER NOT NULL,
    status TEXT NOT NULL,               -- open | closed
    resolution TEXT,                    -- agreeing-return | kept-accepted | kept-returned | superseded
    closed_run INTEGER,
    closed_file TEXT,
    closed_by TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS conflicts_row ON conflicts (learner_id, ref, status);
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
CREATE TABLE IF NOT EXISTS merge_log (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    file TEXT,
    learner_id INTEGER,
    criterion TEXT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


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
        if version == 0:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(SCHEMA):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        elif version > SCHEMA_VERSION:
            conn.close()
            raise CentreError(f"the ledger {p} was written by a newer tracker (schema {version}); "
                              "update tracker")
    except sqlite3.DatabaseError as e:
        raise CentreError(f"the ledger {p} cannot be opened: {e}") from None
    return conn


def _statements(script: str) -> Iterator[str]:
    for part in script.split(";"):
        lines = [ln for ln in part.splitlines() if ln.strip()]
        if lines:
            yield "\n".join(lines)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


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
