"""The worker pool of the roll-up: returned files read and checked in worker processes.

Reading and checking a file (~25 ms) is the roll-up's main cost, and it is CPU-bound Python, so
it runs in processes: two when there are enough files for it to pay (:func:`auto_workers`), else
in the roll-up's own process. Results come back in job order (the merge order), so the merge can
consume them while the workers go on with the next files.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from tracker.centre.check import CheckContext, Checked, Job, check_returned

_CTX: CheckContext | None = None  # the worker process's context, set once by its initializer


def _init_worker(ctx: CheckContext) -> None:
    global _CTX
    _CTX = ctx


def _check_one(job: Job) -> Checked:
    assert _CTX is not None
    return check_returned(job, _CTX)


def _check_many(jobs: Sequence[Job]) -> list[Checked]:
    return [_check_one(j) for j in jobs]


def auto_workers(n_jobs: int, configured: int) -> int:
    """Worker processes for ``n_jobs`` files (``configured``: centre.yaml's setting, 0 = automatic)."""
    if configured:
        return max(1, configured)
    cpus = os.cpu_count() or 1
    # Starting a worker costs ~50 ms with fork and ~0.5 s with spawn; a file costs ~25 ms.
    threshold = 12 if sys.platform.startswith("linux") else 60
    return 2 if cpus >= 2 and n_jobs >= threshold else 1


class Checker:
    """Reads and checks jobs in order, in-process or in a pool of worker processes."""

    def __init__(self, ctx: CheckContext, workers: int, expected: int) -> None:
        self.ctx = ctx
        self.workers = workers if expected >= 2 else 1
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Checker:
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
                yield check_returned(j, self.ctx)
            return
        # Batches keep inter-process traffic low while both workers stay busy to the end.
        size = max(1, min(16, len(jobs) // (self.workers * 8)))
        batches = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        for batch in self.pool.map(_check_many, batches):
            yield from batch


__all__ = ["Checker", "auto_workers"]
