"""The roll-up: merge every returned workbook in the inbox into the ledger, then the master.

:func:`rollup` reads top to bottom as the steps below (each file is identified by the SHA-256 of
its content, never its name):

1. **Lock** the centre folder (a second roll-up refuses at once) and refuse when the master is
   open in Excel (:class:`~tracker.errors.MasterLocked`) -- before anything is touched.
   Decisions an admin chose on the master's Conflicts sheet (Decision, Note) are read first
   (:mod:`~tracker.centre.excel_decisions`) and applied before any new file is merged.
2. **Receive** (:mod:`~tracker.centre.receive`): every file in ``inbox/`` (sub-folders too; Office
   owner files ``~$*`` and hidden files skipped) is copied into the archive before anything else,
   and flushed to disk before the ledger refers to it. A file whose hash the ledger already holds
   is a no-op (one it quarantined before is looked at again -- the qualification may be installed
   now -- but a file still not mergeable changes nothing).
3. **Read and check** the new files (:mod:`~tracker.centre.check`, in the worker processes of
   :mod:`~tracker.centre.pool` when there are enough files for it to pay) from their archived
   copies: the reader, then every check of the rules engine (with the centre register and the
   centre's reading). Unreadable files, and files that name no valid ULN or no installed
   qualification, are **quarantined**; the rest of the roll-up goes on. With ``executor=`` the
   same step runs as tasks of the caller's :class:`concurrent.futures.Executor` (a dask
   cluster, say: :class:`~tracker.centre.pool.ExecutorChecker`, docs/scale.md); the merge below
   stays in this process either way.
4. **Merge** (:mod:`~tracker.centre.merge`, rules in :mod:`~tracker.centre.merge_rules`), in one
   SQLite transaction, file by file in the order the files were last modified.
5. **Centre checks** (:mod:`tracker.centre.iqa`) on the whole ledger. When the centre register
   or a reading in ``centre.yaml`` changed since the last roll-up, every learner's latest return
   is checked again (from the archive), so the Issues sheet reflects the current register; a
   blank register (a new centre) or an unreadable one skips the staff checks.
   Each file received is then listed in the centre's journal (:mod:`~tracker.centre.journal`),
   which ``tracker rebuild`` replays.
6. **Publish** (:mod:`~tracker.centre.publish`): the master is written to a temporary file from
   the uncommitted ledger, then the ledger is committed, then the temporary file replaces the
   master. A kill at any point leaves the previous ledger (SQLite rolls back) and the previous
   master intact.
7. **Tidy the inbox**: merged and already-received files are removed from ``inbox/`` (their copies
   are in ``archive/``), quarantined files are moved to ``quarantine/`` (with the reason in a
   ``.why.txt`` beside each). A file changed since it was received is left for the next roll-up.

A roll-up with nothing new changes nothing (no run is recorded; the master is only rebuilt if it
is missing or behind the ledger). Faults -- a full disk, a read-only folder -- stop it with one
:class:`~tracker.errors.CentreError` message before the commit, leaving everything as it was.

The crash test kills the roll-up at each of :data:`CHECKPOINTS` (:func:`checkpoint`).

The module is not called ``rollup.py``: ``tracker.centre.rollup`` is the function (the package's
public name), and a submodule of that name would replace it on the package once imported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.centre import ledger as LG
from tracker.centre import publish, receive
from tracker.centre.check import CheckContext, Checked, Job, load_register
from tracker.centre.folder import Centre, RollupLock, check_master_writable, current_user, open_centre, plain_errors
from tracker.centre.conflicts import apply_resolution, resolution_entry
from tracker.centre.excel_decisions import ExcelDecision, read_decisions
from tracker.centre.iqa import run_centre_checks
from tracker.centre.plan import make_plan, store_plan
from tracker.centre.journal import append_journal, open_ledger
from tracker.centre.merge import FileOutcome, Merger, issue_rows
from tracker.centre.pool import Checker, ExecutorChecker, auto_workers, unlimited_note
from tracker.centre.receive import Disposal, Received
from tracker.centre.reissue import issue_workbooks
from tracker.centre.rollup_issues import ROLLUP_CODES
from tracker.isolation import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from tracker.register import Register
    from tracker.issues import Issue

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
    decisions: int = 0  # conflicts resolved from the master's Conflicts sheet
    # The learners this roll-up changed (ledger ids), and the workbooks re-issued for them when
    # the centre's ``reissue_after_rollup`` is on.
    changed_learners: set[int] = field(default_factory=set)
    reissued: list[Path] = field(default_factory=list)
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
            "workers": self.workers, "notes": self.notes, "decisions": self.decisions,
            "reissued": [str(p) for p in self.reissued],
            "counts": {k: self.count(k) for k in ("merged", "quarantined", "duplicate", "skipped")},
            "files": [{"file": f.name, "hash": f.hash, "outcome": f.outcome, "reason": f.reason,
                       "learner": f.learner, "uln": f.uln, "rows_accepted": f.rows_accepted,
                       "conflicts_opened": f.conflicts_opened, "conflicts_closed": f.conflicts_closed,
                       "errors": f.errors, "warnings": f.warnings} for f in self.files],
        }


@dataclass(slots=True)
class _Plan:
    """What this roll-up has to do, decided before the transaction opens."""

    new: list[Received]  # files to check and merge, in merge order
    requeued: set[str]  # hashes of those quarantined before (tried again)
    fingerprint: str  # of the register and the readings
    config_changed: bool
    master_behind: bool
    register: Register | None
    register_issues: list[Issue]
    ctx: CheckContext
    jobs: list[Job]
    recheck: list[Job]  # every learner's latest return, when the configuration changed
    decisions: list[ExcelDecision] = field(default_factory=list)  # from the master's Conflicts sheet
    journal: list[dict[str, Any]] = field(default_factory=list)  # the decisions applied, to journal


# -- the roll-up ---------------------------------------------------------------------------------


def rollup(centre: str | Path | Centre, *, workers: int | None = None, today: dt.date | None = None,
           progress: bool = False, limits: Limits | None = None, executor: Executor | None = None) -> RollupResult:
    """Roll up every returned workbook in the centre's inbox (see the module doc).

    ``limits``: what the worker reading one file may use (default
    :data:`tracker.isolation.DEFAULT_LIMITS`); a file beyond them is quarantined with the cause.
    ``executor``: a :class:`concurrent.futures.Executor` that reads and checks the files instead
    of the local worker processes (a dask.distributed ``client.get_executor()``, for one): each
    task carries its files' contents and the centre's qualifications and applies ``limits``
    itself (:class:`tracker.centre.pool.ExecutorChecker`); ``workers`` is then ignored and
    ``RollupResult.workers`` is 0. The merge stays in this process, in the same order: the
    ledger and the master are the same whichever executor checked the files. The executor stays
    the caller's (it is not shut down).
    """
    t0 = time.perf_counter()
    c = centre if isinstance(centre, Centre) else open_centre(centre)
    result = RollupResult(centre=c.root, master=c.master)
    with RollupLock(c) as lock, plain_errors(c):
        checkpoint("locked")
        check_master_writable(c.master)
        conn = open_ledger(c)  # a damaged ledger is refused (run `tracker rebuild`)
        try:
            _rollup_locked(c, conn, result, workers, today, progress, lock, limits or DEFAULT_LIMITS, executor)
        finally:
            conn.close()
    if c.reissue_after_rollup and result.changed_learners:
        # After the lock is released: issue_workbooks takes it itself (the same function as
        # `tracker issue`, so the add-in's Roll up re-issues too). A learner changed again by a
        # roll-up in between is simply issued at the newer revision.
        issued = issue_workbooks(c, learner_ids=result.changed_learners)
        result.reissued = [w.path for w in issued.workbooks]
        result.notes.append(f"{len(result.reissued)} workbook(s) re-issued into {issued.outbox}")
    result.seconds = time.perf_counter() - t0
    return result


def _rollup_locked(c: Centre, conn: sqlite3.Connection, result: RollupResult, workers: int | None,
                   today: dt.date | None, progress: bool, lock: RollupLock, limits: Limits,
                   executor: Executor | None = None) -> None:
    receive.remove_leftovers(c)
    publish.remove_leftovers(c)
    # Decisions typed on the master's Conflicts sheet, read before the master is written again.
    decisions, note = read_decisions(c.master)
    if note:
        result.notes.append(note)

    t = time.perf_counter()
    paths, skipped = receive.scan_inbox(c.inbox)
    received = receive.receive_all(c, paths, on_first=lambda: checkpoint("archiving"), skipped=skipped)
    result.files += [FileOutcome(s.name, "", "skipped", s.reason) for s in skipped]
    new, requeued = _sort_out(received, LG.file_outcomes(conn), result)
    # Archived copies are flushed to disk in the background while the files are read; the ledger
    # commit waits for it (the ledger must never name a copy that a power cut could lose).
    flusher = threading.Thread(target=receive.fsync_all, args=([r.archive for r in new],), daemon=True)
    flusher.start()
    checkpoint("archived")
    result.timings["receive"] = time.perf_counter() - t

    plan = _plan(c, conn, new, requeued, today, decisions)
    plan.recheck = _verified(plan.recheck, result)
    expected = len(plan.jobs) + len(plan.recheck)
    n_workers = workers if workers is not None else auto_workers(expected, c.workers)
    with (Checker(plan.ctx, n_workers, expected, limits) if executor is None
          else ExecutorChecker(plan.ctx, executor, limits)) as checker:
        result.workers = checker.workers
        checked = checker.run(plan.jobs)
        if progress and plan.jobs:
            from tqdm import tqdm

            checked = iter(tqdm(checked, total=len(plan.jobs), desc="rolling up", unit="file", leave=False,
                                disable=None))
        tmp = _merge_and_write_master(c, conn, result, plan, checked, flusher.join,
                                      lambda: checker.run(plan.recheck), lock.check_held)
        if checker.unlimited:
            result.notes.append(unlimited_note(checker.unlimited))
    checkpoint("committed")
    if result.run_id is not None:
        result.changed_learners = LG.learners_changed_in_run(conn, result.run_id)
        # The archive's manifest, in merge order, for `tracker rebuild` (after the commit: see journal.py).
        append_journal(c, plan.journal + [{"kind": "file", "hash": r.hash, "archive": r.archive_rel, "name": r.name}
                           for r in plan.new if r.hash not in plan.requeued])

    if tmp is not None:
        t = time.perf_counter()
        publish.replace_master(tmp, c.master)
        checkpoint("replaced")
        note = publish.note_master_run(conn)
        if note:
            result.notes.append(note)
        result.master_rebuilt = True
        result.timings["publish"] = time.perf_counter() - t

    result.notes += receive.tidy_inbox(c, received, _disposal(result.files))
    result.learners = LG.learner_count(conn)
    result.open_conflicts = LG.open_conflict_count(conn)
    checkpoint("done")


def _sort_out(received: list[Received], known: dict[str, str],
              result: RollupResult) -> tuple[list[Received], set[str]]:
    """The files to merge, in the order they were last modified, and those quarantined before;
    duplicates (the same content twice in the inbox, or received before) are noted in ``result``."""
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
    return new, requeued


def config_fingerprint(centre: Centre) -> str:
    """A hash of what the checks depend on beside the files: the readings and the register."""
    h = hashlib.sha256(json.dumps(centre.readings, sort_keys=True).encode())
    h.update(repr(centre.policy).encode())  # the policy decides what the staff checks accept
    if centre.register.is_file():
        h.update(centre.register.read_bytes())
    return h.hexdigest()


def _plan(c: Centre, conn: sqlite3.Connection, new: list[Received], requeued: set[str],
          today: dt.date | None, decisions: list[ExcelDecision]) -> _Plan:
    fingerprint = config_fingerprint(c)
    config_changed = LG.get_meta(conn, "fingerprint") != fingerprint
    register, register_issues = load_register(c) if (new or config_changed or decisions) else (None, [])
    ctx = CheckContext(extra_dirs=(str(c.specs),), readings=dict(c.readings), register=register, today=today)
    jobs = [Job(r.hash, str(r.archive), r.name) for r in new]
    # A changed register or reading: every learner's latest return is checked again, so that the
    # Issues sheet shows what the current register says (the merged values do not change).
    recheck: list[Job] = []
    if config_changed:
        fresh = {r.hash for r in new}
        recheck = [Job(f.hash, str(c.root / f.archive_path), f.original_name) for f in LG.latest_returns(conn)
                   if f.hash not in fresh]
    return _Plan(new, requeued, fingerprint, config_changed, publish.master_behind(conn, c), register,
                 register_issues, ctx, jobs, recheck, decisions)


def _merge_and_write_master(c: Centre, conn: sqlite3.Connection, result: RollupResult, plan: _Plan,
                            checked: Iterator[Checked], flushed: Callable[[], None],
                            rechecked: Callable[[], Iterator[Checked]],
                            still_locked: Callable[[], None] = lambda: None) -> Path | None:
    """Steps 4 to 6 up to the commit: the temporary master to swap in, or None."""
    tmp: Path | None = None
    try:
        with LG.transaction(conn) as tx:
            _apply_decisions(conn, plan, result)
            now = LG.now()
            run_id = LG.start_run(conn, LG.RUN_ROLLUP, now, current_user(), socket.gethostname())
            merger = Merger(conn, run_id, now)
            checkpoint("merging")
            t = time.perf_counter()
            for rec, res in zip(plan.new, checked):
                result.files.append(merger.merge(rec, res, requeued=rec.hash in plan.requeued))
            totals = merger.totals
            changed = totals.merged > 0 or totals.quarantined > 0 or plan.config_changed or result.decisions > 0
            result.timings["read+check+merge"] = time.perf_counter() - t
            checkpoint("merged")

            t = time.perf_counter()
            coverage = None
            sampling_plan = None
            if plan.config_changed:
                _apply_config(conn, c, merger, rechecked())
                LG.set_meta(conn, "fingerprint", plan.fingerprint)
            if changed:
                # Every assessed criterion row, read once for the centre checks and the plan.
                rows = LG.sampling_rows(conn)
                coverage = run_centre_checks(conn, plan.register, plan.register_issues, c, plan.ctx.today, rows)
                # The sampling plan, kept so that the next roll-up can tell planned from done.
                # Made once: the master shows this plan (test_master_plan_once).
                sampling_plan = make_plan(conn, plan.register, plan.ctx.today, (str(c.specs),), rows)
                del rows
                store_plan(conn, sampling_plan, run_id, plan.ctx.today)
                LG.finish_run(conn, run_id, LG.now(), LG.RunCounts(
                    files_new=len(plan.new), files_merged=totals.merged, files_quarantined=totals.quarantined,
                    files_duplicate=result.count("duplicate"), rows_accepted=totals.rows,
                    conflicts_opened=totals.opened, conflicts_closed=totals.closed))
            result.timings["centre checks"] = time.perf_counter() - t

            t = time.perf_counter()
            if changed:
                tmp = publish.write_master_tmp(c, conn, plan.register, coverage,
                                               on_progress=lambda: checkpoint("master-writing"),
                                               notes=result.notes, sampling_plan=sampling_plan)
                checkpoint("master-written")
                check_master_writable(c.master)
                result.run_id = run_id
                flushed()
                still_locked()  # last moment before the commit: the lock file is still ours
            else:
                tx.discard()  # nothing new: not even the run is recorded
        if not changed and plan.master_behind:  # built from the committed ledger, outside any transaction
            tmp = publish.write_master_tmp(c, conn, notes=result.notes)
        result.timings["master"] = time.perf_counter() - t
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    return tmp


def _verified(jobs: list[Job], result: RollupResult) -> list[Job]:
    """The archived copies to check again whose content still has their hash; a missing or
    altered copy is reported in ``result.notes`` and left out (its earlier issues stand)."""
    out: list[Job] = []
    for j in jobs:
        p = Path(j.archive)
        try:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            result.notes.append(f"the archived copy of {j.name} ({p.name}) is missing; it was not checked again")
            continue
        if h.hexdigest() != j.hash:
            result.notes.append(f"the archived copy of {j.name} ({p.name}) was altered (its hash no longer matches); "
                                "it was not checked again")
            continue
        out.append(j)
    return out


def _apply_decisions(conn: sqlite3.Connection, plan: _Plan, result: RollupResult) -> None:
    """Resolve each conflict an admin decided on the master's Conflicts sheet (still open, by
    number), before any new file is merged: the decision was made on the master as it stood."""
    who = current_user()
    for d in plan.decisions:
        k = LG.conflict_by_id(conn, d.conflict_id)
        if k is None or k.status != "open":
            result.notes.append(f"the Decision on conflict #{d.conflict_id} was not applied: it is no longer open")
            continue
        apply_resolution(conn, k, d.keep, who, d.note)
        plan.journal.append(resolution_entry(k, d.keep, who, d.note))
        result.decisions += 1


def _apply_config(conn: sqlite3.Connection, c: Centre, merger: Merger, rechecked: Iterable[Checked]) -> None:
    """The register or the readings changed: record each learner's reading, and replace the issues
    of every learner's latest return with those of a fresh check (the roll-up's own are kept)."""
    for qid, reading in c.readings.items():
        n = LG.set_reading(conn, qid, reading)
        if n:
            merger.log("configuration", f"{n} learner(s) on {qid} now under reading {reading!r}")
    own = {t.code for t in ROLLUP_CODES}
    n = 0
    for res in rechecked:
        if res.status != "ok":
            continue  # the archived copy cannot be read now: its earlier issues stand
        kept = [i for i in LG.file_issues(conn, res.hash) if i.code in own]
        LG.replace_issues(conn, res.hash, kept + issue_rows(res.issues))
        n += 1
    merger.log("configuration", f"register or centre configuration changed: {n} latest return(s) checked again, "
                                "centre checks recomputed")


def _disposal(files: list[FileOutcome]) -> dict[str, Disposal]:
    """Per inbox name, what to do with the file now (its first outcome counts)."""
    out: dict[str, Disposal] = {}
    for f in files:
        if f.outcome != "skipped":  # never received: stays where it is
            out.setdefault(f.name, Disposal(f.outcome == "quarantined", f.reason))
    return out


__all__ = ["CHECKPOINTS", "config_fingerprint", "PAUSE_ENV", "PAUSE_FILE_ENV", "PAUSE_SECONDS_ENV", "RollupResult", "checkpoint",
           "rollup"]
