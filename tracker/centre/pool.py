"""The worker pool of the roll-up: returned files read and checked in worker processes.

Every returned file is parsed in a worker process with a memory and a time limit
(:mod:`tracker.isolation`), never in the roll-up's own process: a file that makes the parser
abort, run out of memory or hang costs that file -- it is quarantined with a reason that says
what happened -- and the worker is replaced; every other file of the inbox is merged as usual.
Reading and checking a file (~25 ms) is the roll-up's main cost, and it is CPU-bound Python, so
two workers run when there are enough files for it to pay (:func:`auto_workers`). Results come
back in job order (the merge order), so the merge consumes them while the workers go on.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.centre.check import CheckContext, Checked, Job, check_returned
from tracker.centre.rollup_issues import UNREADABLE
from tracker.isolation import DEFAULT_LIMITS, Limits, WorkerPool
from tracker.isolation import auto_workers as _auto

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
            if outcome.value is not None:
                yield outcome.value
            else:
                assert outcome.failure is not None
                yield Checked(job.hash, "quarantine", UNREADABLE.code, outcome.failure.reason())


__all__ = ["Checker", "WORKER_MODULES", "auto_workers"]
