"""``tracker rebuild``: the ledger and the master made again from the archive and the journal.

The journal (:mod:`tracker.centre.journal`) lists every received file in the order it was merged,
every admin decision on a conflict and every workbook issued. The rebuild replays it in order
into a new ledger -- each archived file checked (:func:`tracker.centre.check.check_returned`) and
merged (:class:`tracker.centre.merge.Merger`) exactly as the roll-up does, each decision applied
(:func:`tracker.centre.conflicts.apply_resolution`) to the open conflict it was made on, each base
recorded under its id -- then archived files the journal does not list (the last roll-up's, had a
crash come between its commit and the journal) in the order they were last modified. The new
ledger keeps the old one's id, so re-issued workbooks keep their base.

Every archived copy is verified by hash; a listed copy that is missing or altered is reported
(and skipped). The old ledger is never deleted: it is kept beside the new one as
``<ledger>.replaced-<time>``. The result equals the ledger the roll-ups built (a property test).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from tracker.centre import ledger as LG
from tracker.centre import publish
from tracker.centre.check import CheckContext, Job, check_returned, load_register
from tracker.centre.conflicts import apply_resolution
from tracker.centre.folder import Centre, RollupLock, check_master_writable, current_user, open_centre, plain_errors
from tracker.centre.iqa import run_centre_checks
from tracker.centre.journal import read_journal
from tracker.centre.merge import Merger
from tracker.centre.receive import Received
from tracker.centre.rollup_steps import config_fingerprint


@dataclass(slots=True)
class RebuildResult:
    """What :func:`rebuild` did."""

    ledger: Path
    master: Path
    files: int = 0
    decisions: int = 0
    bases: int = 0
    kept_old: Path | None = None
    problems: list[str] = field(default_factory=list)  # archived copies missing or altered


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _old_ledger_id(path: Path) -> str:
    """The damaged ledger's id when it can still be read (else the journal's, else a new one)."""
    try:
        conn = sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'ledger_id'").fetchone()
            return str(row[0]) if row else ""
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return ""


def rebuild(centre: str | Path | Centre, *, today: dt.date | None = None) -> RebuildResult:
    """Rebuild the ledger and the master from ``archive/`` and the journal (see the module doc)."""
    c = centre if isinstance(centre, Centre) else open_centre(centre)
    result = RebuildResult(c.ledger, c.master)
    with RollupLock(c), plain_errors(c):
        check_master_writable(c.master)
        tmp = c.ledger.with_name(f".~{c.ledger.name}-rebuild-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        conn = LG.connect(tmp)
        master_tmp: Path | None = None
        try:
            with LG.transaction(conn):
                master_tmp = _replay(c, conn, result, today)
            check_master_writable(c.master)
        except BaseException:
            conn.close()
            tmp.unlink(missing_ok=True)
            if master_tmp is not None:
                master_tmp.unlink(missing_ok=True)
            raise
        conn.close()
        if c.ledger.exists():
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            result.kept_old = c.ledger.with_name(f"{c.ledger.name}.replaced-{stamp}")
            os.replace(c.ledger, result.kept_old)
        os.replace(tmp, c.ledger)
        assert master_tmp is not None
        publish.replace_master(master_tmp, c.master)
    return result


def _replay(c: Centre, conn: sqlite3.Connection, result: RebuildResult, today: dt.date | None) -> Path:
    journal = read_journal(c)
    lid = _old_ledger_id(c.ledger) or next((str(e["ledger_id"]) for e in journal if e.get("ledger_id")), "")
    if lid:
        LG.set_meta(conn, "ledger_id", lid)
    register, register_issues = load_register(c)
    ctx = CheckContext(extra_dirs=(str(c.specs),), readings=dict(c.readings), register=register, today=today)
    now = LG.now()
    merger: Merger | None = None
    seen: set[str] = set()

    def merge_file(digest: str, rel: str, name: str) -> None:
        nonlocal merger
        if digest in seen:
            return
        seen.add(digest)
        p = c.root / rel
        if not p.is_file():
            result.problems.append(f"{name}: its archived copy {rel} is missing")
            return
        if _sha256(p) != digest:
            result.problems.append(f"{name}: its archived copy {rel} was altered (its hash no longer matches)")
            return
        if merger is None:
            merger = Merger(conn, LG.start_run(conn, LG.RUN_REBUILD, now, current_user(), socket.gethostname()), now)
        st = p.stat()
        rec = Received(p, name, digest, st.st_size, st.st_mtime_ns, p, rel)
        merger.merge(rec, check_returned(Job(digest, str(p), name), ctx))
        result.files += 1

    for e in journal:
        kind = e.get("kind")
        if kind == "file":
            merge_file(str(e["hash"]), str(e["archive"]), str(e.get("name", "")))
            continue
        merger = None  # a decision or an issue ends the roll-up it followed
        if kind == "resolve":
            rows = LG.open_conflicts(conn, uln=str(e["uln"]), criterion=str(e["ref"]),
                                     qualification_number=str(e["qualification_number"]))
            k = next((k for k in rows if k.returned == e["returned"]), None)
            if k is not None:
                apply_resolution(conn, k, str(e["keep"]), str(e.get("by", "")), str(e.get("note", "")))
                result.decisions += 1
        elif kind == "issue":
            found = LG.find_learner(conn, str(e["uln"]), str(e["qualification_number"]))
            if found is not None:
                LG.insert_base(conn, found.id, int(e["revision"]), str(e["fingerprint"]), str(e["rows"]),
                               str(e.get("issued", now)), base_id=int(e["base_id"]))
                result.bases += 1
    # Archived files the journal does not list, oldest first (see the module doc).
    listed = [p for p in c.archive.glob("*/*") if p.is_file() and not p.name.startswith(".")]
    for p in sorted(listed, key=lambda p: (p.stat().st_mtime_ns, p.name)):
        digest = p.name.split(".", 1)[0]
        if digest not in seen and len(digest) == 64:
            merge_file(digest, p.relative_to(c.root).as_posix(), p.name)
    coverage = run_centre_checks(conn, register, register_issues, c)
    LG.set_meta(conn, "fingerprint", config_fingerprint(c))  # the next roll-up need not check everything again
    tmp = publish.write_master_tmp(c, conn, register, coverage)
    LG.set_meta(conn, "master_run", str(LG.last_run(conn)))
    return tmp


__all__ = ["RebuildResult", "rebuild"]
