"""The master cache: each learner's Criteria rows, compressed, from the last master built.

A re-roll-up of ten returns into a centre of 1,000 learners used to render and compress the
whole Criteria sheet again (one row per learner x criterion: 2 of its 2.6 s). Now the master
keeps, per learner, the compressed XML of their rows (an :class:`~tracker.centre.xlsx_splice.Segment`)
under a key made from everything those rows show and the row they start on
(:func:`tracker.centre.master.criteria_key`); the next master takes every learner whose key it
finds and renders only the others. The master is the same as one built without a cache
(tests/test_master_incremental.py compares them member by member and cell by cell).

Decisions:

* **Beside the ledger, not in it** (``master-cache.sqlite`` in the ledger's folder): it is
  derived data, safe to delete at any time (the next master renders every learner and writes it
  again); the ledger holds only what was received and decided, and rebuilding the ledger
  (``tracker rebuild``) never has to know about it.
* **Never trusted blindly:** every entry carries a BLAKE2b digest of its content, checked on
  reading; an entry that fails, an unreadable or locked file, or a file from another format is
  treated as absent, and a cache that cannot be written is skipped -- the master is then slower,
  never wrong and never missing.
* **Only the last master's entries are kept:** saving deletes every entry the master did not use,
  so the cache stays the size of one master's Criteria sheet compressed (about 3 MB for 1,000
  learners).
* Its own SQL lives here, not in ``ledger.py``, because it is not the ledger.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from pathlib import Path

from tracker.centre.xlsx_splice import Segment

CACHE_NAME = "master-cache.sqlite"
FORMAT = 1  # bumped when an entry's layout changes
_META = struct.Struct("<QQQQ")  # crc, size, zero crc, rows


def _digest(key: bytes, seg: Segment, rows: int) -> bytes:
    h = hashlib.blake2b(key, digest_size=16)
    h.update(_META.pack(seg.crc, seg.size, seg.zero_crc, rows))
    h.update(seg.data)
    return h.digest()


class MasterCache:
    """Compressed learner rows by key; reads a file once opened, writes it on :meth:`save`.

    ``MasterCache(None)`` keeps nothing (a master built without a cache)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.new: dict[bytes, tuple[Segment, int]] = {}
        self.used: set[bytes] = set()
        self.hits = 0
        self.misses = 0
        self.stored: dict[bytes, tuple[Segment, int]] | None = None  # read at the first get
        self.conn: sqlite3.Connection | None = None
        if path is None:
            return
        try:
            # A short timeout: another process writing the cache makes this master render
            # everything rather than wait.
            self.conn = sqlite3.connect(path, timeout=0.5, isolation_level=None)
            self.conn.execute("CREATE TABLE IF NOT EXISTS segments (key BLOB PRIMARY KEY, rows INTEGER NOT NULL, "
                              "crc INTEGER NOT NULL, size INTEGER NOT NULL, zero_crc INTEGER NOT NULL, "
                              "data BLOB NOT NULL, digest BLOB NOT NULL) WITHOUT ROWID")
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            got = self.conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if got is None or got[0] != str(FORMAT):
                self.conn.execute("DELETE FROM segments")
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (str(FORMAT),))
        except sqlite3.Error:
            self._close()

    @classmethod
    def beside(cls, ledger: Path) -> MasterCache:
        """The cache of the centre whose ledger is ``ledger``."""
        return cls(ledger.with_name(CACHE_NAME))

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except sqlite3.Error:
                pass
        self.conn = None

    def get(self, key: bytes) -> tuple[Segment, int] | None:
        """The segment and its number of rows stored under ``key``, or None."""
        self.used.add(key)
        if self.stored is None:
            self.stored = self._load()
        hit = self.new.get(key) or self.stored.pop(key, None)
        if hit is None:
            self.misses += 1
        else:
            self.hits += 1
        return hit

    def _load(self) -> dict[bytes, tuple[Segment, int]]:
        """Every entry whose digest holds, in one query (a query per learner cost more than the
        reading: 1,000 round trips for a 1,000-learner master)."""
        out: dict[bytes, tuple[Segment, int]] = {}
        if self.conn is None:
            return out
        try:
            rows = self.conn.execute("SELECT key, rows, crc, size, zero_crc, data, digest FROM segments").fetchall()
        except sqlite3.Error:
            self._close()
            return out
        for key, n, crc, size, zero_crc, data, digest in rows:
            seg = Segment(bytes(data), crc, size, zero_crc)
            if _digest(bytes(key), seg, n) == bytes(digest):
                out[bytes(key)] = (seg, n)
        return out

    def put(self, key: bytes, seg: Segment, rows: int) -> None:
        """Keep ``seg`` (``rows`` rows) under ``key`` for the next master."""
        self.used.add(key)
        self.new[key] = (seg, rows)

    def save(self) -> None:
        """Write the new entries and drop those this master did not use; a failure leaves the
        cache as it was (or empty) and is not an error."""
        if self.conn is None:
            return
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO segments VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(k, rows, s.crc, s.size, s.zero_crc, s.data, _digest(k, s, rows))
                              for k, (s, rows) in self.new.items()])
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS used (key BLOB PRIMARY KEY) WITHOUT ROWID")
            conn.execute("DELETE FROM used")
            conn.executemany("INSERT OR IGNORE INTO used VALUES (?)", [(k,) for k in self.used])
            conn.execute("DELETE FROM segments WHERE key NOT IN (SELECT key FROM used)")
            conn.execute("COMMIT")
        except sqlite3.Error:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        finally:
            self._close()
        self.new.clear()

    def close(self) -> None:
        """Close without saving."""
        self._close()


__all__ = ["CACHE_NAME", "FORMAT", "MasterCache"]
