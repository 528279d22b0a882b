"""Publishing the master: written to a temporary file beside it, then swapped in.

The master is written from the ledger as the caller's connection sees it -- inside the roll-up's
transaction, so it shows the ledger about to be committed -- into ``.~master-<pid>.tmp.xlsx``
next to the master, flushed to disk; after the commit :func:`replace_master` swaps it in with
``os.replace`` (atomic). A kill at any point leaves the previous master intact. The ledger's
``meta.master_run`` records which run the master shows; when the process dies between the commit
and the swap, the next roll-up sees the master behind and rebuilds it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre, check_master_writable
from tracker.centre.master import build_master
from tracker.centre.master_cache import MasterCache
from tracker.errors import CentreError, MasterLocked

if TYPE_CHECKING:
    from tracker.centre.iqa import CoverageRow
    from tracker.centre.plan import SamplingPlan
    from tracker.register import Register


def _tmp_glob(master: Path) -> str:
    return f".~{master.stem}-*.tmp{master.suffix}"


def write_master_tmp(c: Centre, conn: sqlite3.Connection, register: Register | None = None,
                     coverage: list[CoverageRow] | None = None,
                     on_progress: Callable[[], None] | None = None, notes: list[str] | None = None,
                     sampling_plan: SamplingPlan | None = None) -> Path:
    """Write the master of the ledger behind ``conn`` to a temporary file beside the master and
    flush it; a full disk or a read-only folder is one :class:`CentreError` saying nothing changed.

    What the master says about itself (a long table split over several sheets) is appended to
    ``notes`` (the roll-up's output)."""
    from xlsxwriter.exceptions import FileCreateError

    tmp = c.master.with_name(f".~{c.master.stem}-{os.getpid()}.tmp{c.master.suffix}")
    try:
        c.master.parent.mkdir(parents=True, exist_ok=True)
        cache = MasterCache.beside(c.ledger)
        try:
            said = build_master(conn, c, tmp, register=register, coverage=coverage, on_progress=on_progress,
                                sampling_plan=sampling_plan, cache=cache)
        finally:
            cache.close()  # after a failure: the cache stays as the last master left it
        if notes is not None:
            notes += said
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    except (OSError, FileCreateError) as e:
        unlink_quietly(tmp)
        # XlsxWriter wraps the OSError of its final zip write in FileCreateError.
        cause = e.args[0] if isinstance(e, FileCreateError) and e.args and isinstance(e.args[0], OSError) else e
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        raise CentreError(
            f"cannot write the master workbook next to {c.master}: {reason}. Nothing was changed: the "
            "ledger and the master are as they were. If the disk is out of space, free some; then roll up "
            "again.") from None
    except BaseException:
        unlink_quietly(tmp)
        raise
    return tmp


def unlink_quietly(p: Path) -> None:
    """Remove ``p`` if it can be removed."""
    try:
        p.unlink(missing_ok=True)
    except OSError:
        pass


def replace_master(tmp: Path, master: Path) -> None:
    """Swap the temporary master in (called after the ledger committed, so messages say so)."""
    try:
        os.replace(tmp, master)
    except PermissionError:
        unlink_quietly(tmp)
        raise MasterLocked(
            f"the ledger was updated, but the master workbook {master} is open in Excel and could not "
            "be replaced. Close it and run `tracker rollup` again to rebuild it.") from None
    except OSError as e:
        unlink_quietly(tmp)
        raise CentreError(
            f"the ledger was updated, but the master workbook {master} could not be replaced "
            f"({e.strerror or e}); run `tracker rollup` again to rebuild it.") from None


def note_master_run(conn: sqlite3.Connection) -> str | None:
    """Record that the master now shows the latest run; a note when that failed (the next roll-up
    then rebuilds the master), else None."""
    try:
        LG.set_meta(conn, "master_run", str(LG.last_run(conn)))
    except sqlite3.Error as e:
        return (f"the master was published, but the ledger could not note it ({e}); "
                "the next roll-up rebuilds the master")
    return None


def master_behind(conn: sqlite3.Connection, c: Centre) -> bool:
    """True when the master is missing or does not show the ledger's latest run."""
    return LG.get_meta(conn, "master_run") != str(LG.last_run(conn)) or not c.master.exists()


def publish_master(c: Centre) -> Path:
    """Rebuild the master from the ledger as it stands (the caller holds the roll-up lock)."""
    check_master_writable(c.master)
    conn = LG.connect(c.ledger, create=False)  # an emptied ledger is refused, never made anew
    try:
        tmp = write_master_tmp(c, conn)
        replace_master(tmp, c.master)
        note_master_run(conn)
    finally:
        conn.close()
    return c.master


def remove_leftovers(c: Centre) -> None:
    """Temporary masters a killed roll-up left behind (the caller holds the lock, so none is live)."""
    for p in c.master.parent.glob(_tmp_glob(c.master)):
        unlink_quietly(p)


__all__ = ["master_behind", "note_master_run", "publish_master", "remove_leftovers", "replace_master",
           "unlink_quietly", "write_master_tmp"]
