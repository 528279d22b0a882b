"""Open conflicts and their resolution by an admin (``tracker conflicts``, ``tracker resolve``).

:func:`resolve` closes one open conflict, keeping the accepted row or the returned one, as a run
of its own (kind ``resolve``) recorded with who, when and a note; the centre checks are run again
and the master is rebuilt, in one transaction as in the roll-up (the master's temporary file is
written before the commit and swapped in after it).

The module is not called ``resolve.py``: ``tracker.centre.resolve`` is the function (the
package's public name), and a submodule of that name would replace it on the package once
imported.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.centre import ledger as LG
from tracker.centre import publish
from tracker.centre.check import load_register
from tracker.centre.folder import (Centre, RollupLock, check_master_writable, current_user, ledger_errors, open_centre,
                                   plain_errors)
from tracker.centre.iqa import run_centre_checks
from tracker.centre.journal import append_journal, open_ledger
from tracker.centre.merge import Merger
from tracker.centre.merge_rules import values_from_json
from tracker.errors import CentreError, UsageError


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
    with ledger_errors(c):
        conn = open_ledger(c)
        try:
            rows = LG.open_conflicts(conn, uln=uln or None)
            names = LG.file_names(conn)
        finally:
            conn.close()
    out = []
    for k in rows:
        a, r = json.loads(k.accepted), json.loads(k.returned)
        b = json.loads(k.base) if k.base else None  # the row as issued (a three-way conflict)
        flist = list(k.fields)
        fa, fr = names.get(k.accepted_file), names.get(k.returned_file)
        out.append({"id": k.id, "uln": k.uln, "learner": k.name, "qualification_number": k.qualification_number,
                    "criterion": k.ref, "fields": flist, "accepted": {f: a.get(f) for f in flist},
                    "returned": {f: r.get(f) for f in flist},
                    "base": {f: b.get(f) for f in flist} if b is not None else None, "accepted_file": fa.name if fa else None,
                    "returned_file": fr.name if fr else None})
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
    who = by or current_user()
    with RollupLock(c), plain_errors(c):
        check_master_writable(c.master)
        conn = open_ledger(c)
        try:
            return _resolve_locked(c, conn, keep, uln, criterion, qualification, conflict_id, note, who)
        finally:
            conn.close()


def _find_conflict(conn: sqlite3.Connection, uln: str | None, criterion: str | None, qualification: str | None,
                   conflict_id: int | None) -> LG.ConflictRow:
    if conflict_id is not None:
        k = LG.conflict_by_id(conn, conflict_id)
        if k is None:
            raise CentreError(f"there is no conflict #{conflict_id}")
        if k.status != "open":
            raise CentreError(f"conflict #{conflict_id} is already closed ({k.resolution})")
        return k
    if not uln or not criterion:
        raise UsageError("name the conflict with --learner ULN and --criterion REF, or with --conflict ID")
    rows = LG.open_conflicts(conn, uln=uln.strip(), criterion=criterion.strip(),
                             qualification_number=qualification.strip() if qualification else None)
    if not rows:
        others = [k.ref for k in LG.open_conflicts(conn, uln=uln.strip())]
        hint = f" (open conflicts for this learner: {', '.join(others)})" if others else \
            " (this learner has no open conflict)"
        raise CentreError(f"no open conflict for learner {uln} on criterion {criterion}{hint}")
    if len(rows) > 1:
        qns = ", ".join(sorted({k.qualification_number for k in rows}))
        raise UsageError(f"learner {uln} has a conflict on {criterion} on more than one qualification "
                         f"({qns}): add --qualification")
    return rows[0]


def apply_resolution(conn: sqlite3.Connection, k: LG.ConflictRow, keep: str, who: str, note: str) -> None:
    """Close open conflict ``k`` keeping the ``keep`` (accepted | returned) row, as a run of its own
    (inside the caller's transaction; ``tracker rebuild`` replays journalled decisions with it)."""
    now = LG.now()
    run_id = LG.start_run(conn, LG.RUN_RESOLVE, now, who, socket.gethostname())
    merger = Merger(conn, run_id, now)
    counts = LG.RunCounts(conflicts_closed=1)
    if keep == "returned":
        # The added columns' values are not part of a conflict (merge_rules.merge_extra): kept as they are.
        held = LG.learner_criteria(conn, k.learner_id).get(k.ref)
        LG.update_criteria(conn, [LG.NewCriterion(k.learner_id, k.ref, k.unit, values_from_json(k.returned),
                                                  k.returned_file, run_id, held.extra if held else None)])
        counts.rows_accepted = 1
    LG.finish_run(conn, run_id, now, counts)
    merger.close(k.id, LG.RESOLUTION_KEPT_RETURNED if keep == "returned" else LG.RESOLUTION_KEPT_ACCEPTED,
                 None, who, note or "")
    merger.log("resolved", f"#{k.id}: kept the {keep} value" + (f" ({note})" if note else "") + f", by {who}",
               None, k.learner_id, k.ref)


def resolution_entry(k: LG.ConflictRow, keep: str, who: str, note: str) -> dict[str, Any]:
    """The journal line of an admin's decision (found again on a rebuild by learner, ref and returned row)."""
    return {"kind": "resolve", "uln": k.uln, "qualification_number": k.qualification_number, "ref": k.ref,
            "returned": k.returned, "keep": keep, "by": who, "note": note or ""}


def _resolve_locked(c: Centre, conn: sqlite3.Connection, keep: str, uln: str | None, criterion: str | None,
                    qualification: str | None, conflict_id: int | None, note: str, who: str) -> ResolveResult:
    tmp: Path | None = None
    try:
        with LG.transaction(conn):
            k = _find_conflict(conn, uln, criterion, qualification, conflict_id)
            apply_resolution(conn, k, keep, who, note)
            register, register_issues = load_register(c)
            coverage = run_centre_checks(conn, register, register_issues, c)
            tmp = publish.write_master_tmp(c, conn, register, coverage)
            check_master_writable(c.master)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    assert tmp is not None  # written inside the transaction above
    append_journal(c, [resolution_entry(k, keep, who, note)])
    publish.replace_master(tmp, c.master)
    publish.note_master_run(conn)
    return ResolveResult(k.id, k.name, k.uln, k.ref, keep, c.master)


__all__ = ["ResolveResult", "apply_resolution", "open_conflicts", "resolution_entry", "resolve"]
