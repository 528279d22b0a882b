"""The worker pool of the roll-up: returned files read and checked in worker processes.

Every returned file is parsed in a worker process with a memory and a time limit
(:mod:`tracker.isolation`), never in the roll-up's own process: a file that makes the parser
abort, run out of memory or hang costs that file -- it is quarantined with a reason that says
what happened -- and the worker is replaced; every other file of the inbox is merged as usual.
Reading and checking a file (~25 ms) is the roll-up's main cost, and it is CPU-bound Python, so
two workers run when there are enough files for it to pay (:func:`auto_workers`). Results come
back in job order (the merge order), so the merge consumes them while the workers go on.

**Another executor** (``rollup(DIR, executor=...)``, :class:`ExecutorChecker`): the same read
and check runs as tasks of any :class:`concurrent.futures.Executor` -- a dask.distributed
cluster's ``client.get_executor()``, a ``ProcessPoolExecutor`` -- while the merge stays in the
roll-up's process, in job order. A task (:func:`check_parcel`) is self-contained: a few files'
*bytes* and a :class:`PortableContext` (the centre's own qualification files, readings, register,
"today"), so a worker on another machine needs tracker installed and nothing of the centre
folder. The task applies tracker's limits itself: inside the executor's worker it reads its
files in a child process under the same :class:`~tracker.isolation.Limits` as the default pool
(:func:`tracker.isolation.run_isolated`), so a hostile file costs that file whichever executor
runs it. Where the executor's worker may not start child processes (a daemonic process, as
dask's workers are unless ``distributed.worker.daemon`` is false) the task reads in the worker
itself, says so, and the roll-up notes it (never silently): the executor's own safeguards (dask's
nanny memory limit and worker restart) are then what stands between a file and the worker. A
task that fails as a whole (its worker died, the executor lost it) is split into one task per
file, and a file whose own task fails is quarantined with the executor's reason.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.centre.check import CheckContext, Checked, Job, check_returned
from tracker.centre.rollup_issues import UNREADABLE
from tracker.errors import CentreError
from tracker.isolation import DEFAULT_LIMITS, Limits, Outcome, WorkerPool, run_isolated
from tracker.isolation import auto_workers as _auto

if TYPE_CHECKING:
    import datetime as dt

    from tracker.register import Register

_CTX: CheckContext | None = None  # the worker process's context, set once by its initializer

#: what a worker needs, imported by the roll-up before the workers are forked (shared, not
#: imported again by each worker)
WORKER_MODULES = ("python_calamine", "tracker.workbook.reader", "tracker.workbook.safety", "tracker.rules.engine",
                  "tracker.spec.catalogue")


def _init_worker(ctx: CheckContext) -> None:
    global _CTX
    _CTX = ctx


def _check_one(job: Job) -> Checked:
    assert _CTX is not None
    return check_returned(job, _CTX)


def _checked(job: Job, outcome: Outcome[Checked]) -> Checked:
    """The worker's result, or the quarantine its failure (memory, time, crash) means."""
    if outcome.value is not None:
        return outcome.value
    assert outcome.failure is not None
    return Checked(job.hash, "quarantine", UNREADABLE.code, outcome.failure.reason())


def auto_workers(n_jobs: int, configured: int) -> int:
    """Worker processes for ``n_jobs`` files (``configured``: centre.yaml's setting, 0 = automatic)."""
    return _auto(n_jobs, configured or None)


class Checker:
    """Reads and checks jobs in order, each in a worker process under :class:`Limits`."""

    def __init__(self, ctx: CheckContext, workers: int, expected: int, limits: Limits = DEFAULT_LIMITS) -> None:
        self.ctx = ctx
        self.workers = workers if expected >= 2 else 1
        self.limits = limits
        self.pool: WorkerPool[Job, Checked] | None = None
        #: files read without tracker's per-file limits (always 0 here; see ExecutorChecker)
        self.unlimited = 0

    def __enter__(self) -> Checker:
        self.pool = WorkerPool(_check_one, workers=self.workers, limits=self.limits, initializer=_init_worker,
                               initargs=(self.ctx,), preload=WORKER_MODULES)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def run(self, jobs: list[Job]) -> Iterator[Checked]:
        """One :class:`Checked` per job, in job order; a worker that died, ran out of memory or
        time gives its file a quarantine with that reason."""
        if not jobs:
            return
        assert self.pool is not None, "use Checker as a context manager"
        for job, outcome in zip(jobs, self.pool.map(jobs)):
            yield _checked(job, outcome)


# -- another executor --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortableContext:
    """A :class:`CheckContext` that carries its qualifications: what a worker needs on a machine
    that has tracker installed and nothing of the centre folder."""

    #: the qualification data files the roll-up's process uses beside the bundled ones (the
    #: user's and the centre's ``specs/``), as (file name, content), one per qualification
    specs: tuple[tuple[str, bytes], ...]
    readings: dict[str, str]
    register: Register | None
    today: dt.date | None
    #: tracker's version and its bundled qualifications' hashes: a worker with another
    #: installation refuses (its checks or qualifications could differ)
    installation: str

    @classmethod
    def of(cls, ctx: CheckContext) -> PortableContext:
        """The portable form of ``ctx`` (reads the qualification files it names)."""
        from tracker.spec.catalogue import BUNDLED_DIR, spec_files

        own = [p for _n, p in sorted(spec_files(ctx.extra_dirs).items()) if p.parent.resolve() != BUNDLED_DIR.resolve()]
        specs = tuple((f"{i:03d}-{p.name}", p.read_bytes()) for i, p in enumerate(own))
        return cls(specs, dict(ctx.readings), ctx.register, ctx.today, installation())


@lru_cache(maxsize=1)
def installation() -> str:
    """What a worker's installation must match: tracker's version and the bundled data files."""
    from tracker import __version__
    from tracker.spec.catalogue import BUNDLED_DIR

    h = hashlib.sha256(__version__.encode())
    for p in sorted(BUNDLED_DIR.glob("*.yaml")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return f"tracker {__version__} ({h.hexdigest()[:12]})"


@dataclass(frozen=True, slots=True)
class Parcel:
    """One task for another executor: a few files, with what checking them needs."""

    files: tuple[tuple[Job, bytes], ...]  # each job with its file's content
    ctx: PortableContext
    limits: Limits


@dataclass(slots=True)
class ParcelResult:
    """What a task sends back: one :class:`Checked` per file, in order."""

    checked: list[Checked] = field(default_factory=list)
    #: False when the files were read in the executor's worker itself (it may not start children)
    isolated: bool = True
    #: why the worker refused the task (another installation); nothing was checked
    refused: str = ""


def check_parcel(parcel: Parcel) -> ParcelResult:
    """Read and check a parcel's files (runs in the executor's worker, anywhere).

    The files and the centre's qualification files are written to a private temporary folder;
    each file is read in a child process under ``parcel.limits`` (as the default pool does), or,
    where this process may not start one, here (``isolated`` False)."""
    mine = installation()
    if mine != parcel.ctx.installation:
        return ParcelResult(refused=f"a worker has {mine}, the roll-up {parcel.ctx.installation}")
    with tempfile.TemporaryDirectory(prefix="tracker-task-") as tmp:
        extra: tuple[str, ...] = ()
        if parcel.ctx.specs:
            specs = Path(tmp, "specs")
            specs.mkdir()
            for name, data in parcel.ctx.specs:
                (specs / Path(name).name).write_bytes(data)
            extra = (str(specs),)
        ctx = CheckContext(extra_dirs=extra, readings=parcel.ctx.readings, register=parcel.ctx.register,
                           today=parcel.ctx.today)
        jobs: list[Job] = []
        for i, (job, data) in enumerate(parcel.files):
            # The archived copy's own name (its hash and suffix) in a folder of its own.
            where = Path(tmp, str(i))
            where.mkdir()
            path = where / Path(job.archive).name
            path.write_bytes(data)
            jobs.append(replace(job, archive=str(path)))
        if multiprocessing.current_process().daemon:  # multiprocessing lets no daemon process start children
            return ParcelResult([check_returned(j, ctx) for j in jobs], isolated=False)
        outcomes = run_isolated(_check_one, jobs, limits=parcel.limits, initializer=_init_worker, initargs=(ctx,),
                                preload=WORKER_MODULES)
        return ParcelResult([_checked(j, o) for j, o in zip(jobs, outcomes)])


#: files per task, at most (a task costs a fork in the executor's worker and a round trip)
PARCEL_FILES = 16
#: tasks submitted ahead of the merge, at most: bounds the file contents held in memory
IN_FLIGHT = 32


class ExecutorChecker:
    """Reads and checks jobs in order as tasks of ``executor`` (see the module doc).

    Tasks are submitted in job order, at most :data:`IN_FLIGHT` ahead of the one being merged, so
    the roll-up's memory does not grow with the inbox. The executor is the caller's: it is not
    shut down here.
    """

    def __init__(self, ctx: CheckContext, executor: Executor, limits: Limits = DEFAULT_LIMITS,
                 parcel_files: int | None = None, in_flight: int | None = None) -> None:
        self.ctx = ctx
        self.executor = executor
        self.limits = limits
        self.parcel_files = parcel_files
        self.in_flight = in_flight or IN_FLIGHT
        self.workers = 0  # the executor's (unknown here)
        self.unlimited = 0  # files read without tracker's per-file limits (see the module doc)
        self._portable: PortableContext | None = None

    def __enter__(self) -> ExecutorChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def _parcel(self, jobs: list[Job]) -> Parcel | list[Checked]:
        """The task for ``jobs``, or their quarantines when a file cannot be read here."""
        if self._portable is None:
            self._portable = PortableContext.of(self.ctx)
        files: list[tuple[Job, bytes]] = []
        for j in jobs:
            try:
                files.append((j, Path(j.archive).read_bytes()))
            except OSError as e:  # as the reader says of a file it cannot open
                return [Checked(j.hash, "quarantine", UNREADABLE.code, f"it cannot be opened ({e.strerror})")
                        for j in jobs]
        return Parcel(tuple(files), self._portable, self.limits)

    def _submit(self, jobs: list[Job]) -> Future[ParcelResult] | list[Checked]:
        parcel = self._parcel(jobs)
        if isinstance(parcel, list):
            return parcel
        try:
            return self.executor.submit(check_parcel, parcel)
        except Exception as e:  # noqa: BLE001 - shut down or broken: reported by _collect
            failed: Future[ParcelResult] = Future()
            failed.set_exception(e)
            return failed

    def _collect(self, jobs: list[Job], pending: Future[ParcelResult] | list[Checked]) -> list[Checked]:
        if isinstance(pending, list):
            return pending
        try:
            got = pending.result()
        except (BrokenExecutor, RuntimeError) as e:  # the executor itself is unusable (shut down, broken)
            raise CentreError(f"the roll-up's executor stopped working ({type(e).__name__}: {str(e)[:200]}); "
                              "nothing was merged") from None
        except Exception as e:  # noqa: BLE001 - the executor lost the task (its worker died, ...)
            if len(jobs) > 1:  # one task per file: only the file that kills its worker is lost
                singles = [(j, self._submit([j])) for j in jobs]
                return [c for j, p in singles for c in self._collect([j], p)]
            reason = (f"the executor could not check it ({type(e).__name__}: {str(e)[:160]}); it may be damaged "
                      "or malicious - ask for the original workbook")
            return [Checked(jobs[0].hash, "quarantine", UNREADABLE.code, reason)]
        if got.refused:
            raise CentreError(f"the roll-up's executor runs another installation of tracker: {got.refused}; "
                              "install the same version everywhere")
        if len(got.checked) != len(jobs):
            raise CentreError("the roll-up's executor returned a result of the wrong size")
        if not got.isolated:
            self.unlimited += len(jobs)
        return got.checked

    def run(self, jobs: list[Job]) -> Iterator[Checked]:
        """One :class:`Checked` per job, in job order."""
        if not jobs:
            return
        size = self.parcel_files or max(1, min(PARCEL_FILES, len(jobs) // 64))
        chunks = deque(jobs[i:i + size] for i in range(0, len(jobs), size))
        flying: deque[tuple[list[Job], Future[ParcelResult] | list[Checked]]] = deque()
        try:
            while chunks or flying:
                while chunks and len(flying) < self.in_flight:
                    chunk = chunks.popleft()
                    flying.append((chunk, self._submit(chunk)))
                chunk, pending = flying.popleft()
                yield from self._collect(chunk, pending)
        finally:
            for _c, p in flying:  # abandoned half-way (an error in the merge)
                if not isinstance(p, list):
                    p.cancel()


def unlimited_note(n: int) -> str:
    """The roll-up's note when ``n`` files were read without tracker's per-file limits."""
    return (f"{n} file(s) were read by the executor's worker processes themselves, without tracker's per-file "
            "memory and time limits, because those processes may not start child processes (for dask: set "
            "distributed.worker.daemon to false); the executor's own safeguards applied instead")


__all__ = ["Checker", "ExecutorChecker", "IN_FLIGHT", "PARCEL_FILES", "Parcel", "ParcelResult", "PortableContext",
           "WORKER_MODULES", "auto_workers", "check_parcel", "installation", "unlimited_note"]
