"""Work on untrusted files in worker processes that may die without taking the caller with them.

A returned workbook is parsed by native code (python-calamine is Rust; openpyxl drives expat and
zlib). The safety gate refuses every file it knows to be dangerous, but a parser that aborts on
a file nobody foresaw ("memory allocation of ... bytes failed", a Rust panic outside Python's
reach, a segmentation fault) must cost one file, not the whole ``tracker validate`` or roll-up.
So each file is handled in a worker process with limits, and the caller gets, for each item, in
order, either the worker's result or a :class:`Failure` that says what happened:

* **memory**: the worker's address space is limited (``RLIMIT_AS``: what it had when it started
  plus :attr:`Limits.memory`); a Python ``MemoryError`` and a native allocation failure (reported
  by the Rust runtime on the worker's standard error before it aborts) both count;
* **timeout**: an item that takes longer than :attr:`Limits.seconds` of wall-clock time has its
  worker killed; a CPU-time limit (``RLIMIT_CPU``, renewed per item) also ends a worker whose
  parent is gone;
* **crashed**: any other death (a signal such as SIGSEGV or SIGABRT, an unexpected exit);
* **error**: the function raised (a defect, reported as such).

The pool then starts a new worker for the remaining items. Workers die with their parent: on
Linux the kernel kills them when the process that started them ends
(``prctl(PR_SET_PDEATHSIG)``), elsewhere a watchdog thread ends a worker whose parent's end of
a pipe closes. Workers start with ``fork`` on Linux (milliseconds, and the modules the parent
imported -- see ``preload`` -- are shared) and ``spawn`` elsewhere (about half a second each);
the memory and CPU limits need the ``resource`` module, so on Windows only the time limit and
the crash isolation apply.

A worker's standard error goes to a private file, read only to tell a native out-of-memory abort
from another crash; Rust's panic messages never reach the user's terminal.

Cost (``benchmarks/rollup.py`` and ``benchmarks/validate.py`` report it against in-process work
in the same run): one pipe round trip and the pickling of one item and one result per file, plus
starting the workers.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Final, Generic, Literal, TypeVar

__all__ = ["Failure", "Limits", "Outcome", "WorkerPool", "auto_workers", "run_isolated"]

T = TypeVar("T")
R = TypeVar("R")

_MiB: Final = 1024 * 1024
#: how much of each end of a dead worker's standard error is read to tell why it died
_STDERR_TAIL: Final = 8192


@dataclass(frozen=True, slots=True)
class Limits:
    """What one worker may use for one item."""

    #: address space a worker may add to what it held when it started (RLIMIT_AS), in bytes.
    #: Reading a learner workbook takes ~40 MB; the safety gate lets through at most 200 MB of
    #: unpacked parts and 2 million cells.
    memory: int = 1024 * _MiB
    #: wall-clock seconds per item (a learner workbook takes ~25 ms)
    seconds: float = 60.0


DEFAULT_LIMITS: Final = Limits()

FailureKind = Literal["memory", "timeout", "crashed", "error"]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a worker produced no result for an item."""

    kind: FailureKind
    #: a short technical detail (signal name, exception text); '' when there is none
    detail: str = ""
    limits: Limits = DEFAULT_LIMITS

    def reason(self) -> str:
        """One sentence for a person, without the file name (the caller adds it)."""
        if self.kind == "memory":
            return (f"reading it needs more memory than tracker allows for one workbook "
                    f"({self.limits.memory // _MiB:,} MB); it may be damaged or malicious, so it was not "
                    "read - ask for the original workbook")
        if self.kind == "timeout":
            return (f"reading it took longer than tracker allows for one workbook "
                    f"({self.limits.seconds:,.0f} s), so it was stopped; it may be damaged or malicious - "
                    "ask for the original workbook")
        if self.kind == "crashed":
            how = f" ({self.detail})" if self.detail else ""
            return (f"the spreadsheet reader stopped abruptly on it{how}; it may be damaged or malicious, "
                    "so it was not read - ask for the original workbook")
        return f"internal error while reading it ({self.detail}); please report it"


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    """An item's result, or the :class:`Failure` that stopped it."""

    value: R | None = None
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        """True when the worker returned a result."""
        return self.failure is None


def auto_workers(n_items: int, configured: int | None = None) -> int:
    """How many workers to start for ``n_items``: ``configured`` if given, else 1, or 2 when
    there are enough items to repay a second worker (a file takes ~25 ms; a worker costs
    milliseconds to fork, ~0.5 s to spawn)."""
    if configured:
        return max(1, configured)
    cpus = os.cpu_count() or 1
    threshold = 12 if sys.platform.startswith("linux") else 60
    return 2 if cpus >= 2 and n_items >= threshold else 1


# -- the worker side --------------------------------------------------------------------------------


def _die_with_parent(parent: int, lifeline: Connection | None) -> None:
    """Make sure this worker does not outlive the process that started it."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    if lifeline is not None:
        def watch() -> None:
            try:
                lifeline.recv_bytes()
            except (EOFError, OSError):
                pass
            os._exit(1)

        threading.Thread(target=watch, name="tracker-lifeline", daemon=True).start()


def _limit_resources(limits: Limits) -> None:
    try:
        import resource
    except ImportError:  # Windows
        return
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not write a core file
    except (OSError, ValueError):
        pass
    current = _address_space()
    if current is not None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = current + limits.memory
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))
        except (OSError, ValueError):
            pass


def _address_space() -> int | None:
    """This process's virtual memory size in bytes (Linux), else None."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[0])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _renew_cpu_limit(limits: Limits) -> None:
    """Let this item use ``limits.seconds`` more CPU seconds; beyond that the kernel ends the
    worker (SIGXCPU), even if its parent is gone and nobody watches the clock."""
    try:
        import resource
    except ImportError:
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(used.ru_utime + used.ru_stime + limits.seconds) + 2
    _cur, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (OSError, ValueError):
        pass


def _worker_main(conn: Connection, lifeline: Connection | None, parent: int, fn: Callable[[Any], Any],
                 limits: Limits, stderr_path: str, initializer: Callable[..., None] | None,
                 initargs: tuple[Any, ...]) -> None:
    """A worker's life: set limits, then take items until told to stop or the parent goes."""
    _die_with_parent(parent, lifeline)
    err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(err, 2)
    os.close(err)
    _limit_resources(limits)
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        if msg is None:
            os._exit(0)
        index, item = msg
        try:  # each item's native messages only
            os.ftruncate(2, 0)
            os.lseek(2, 0, os.SEEK_SET)
        except OSError:
            pass
        _renew_cpu_limit(limits)
        try:
            result = fn(item)
        except MemoryError:
            _send_or_exit(conn, (index, "memory", ""))
            os._exit(3)  # the heap may be in any state: a fresh worker takes over
        except Exception as e:  # a defect in fn: report it, keep the worker
            _send_or_exit(conn, (index, "error", f"{type(e).__name__}: {e}"[:300]))
            continue
        try:
            conn.send((index, "ok", result))
        except MemoryError:
            _send_or_exit(conn, (index, "memory", ""))
            os._exit(3)
        except Exception as e:  # noqa: BLE001 - e.g. a result that cannot be pickled
            _send_or_exit(conn, (index, "error", f"{type(e).__name__}: {e}"[:300]))


def _send_or_exit(conn: Connection, msg: tuple[Any, ...]) -> None:
    try:
        conn.send(msg)
    except Exception:  # noqa: BLE001 - the parent is gone or the pipe broke
        os._exit(4)


# -- the parent side --------------------------------------------------------------------------------


class _Worker:
    """One worker process and what it is doing."""

    def __init__(self, pool: WorkerPool[Any, Any], number: int) -> None:
        ctx = pool._ctx
        self.conn, child = ctx.Pipe(duplex=True)
        lifeline_r: Connection | None = None
        self._lifeline_w: Connection | None = None
        if not sys.platform.startswith("linux"):
            lifeline_r, self._lifeline_w = ctx.Pipe(duplex=False)
        self.stderr_path = os.path.join(pool._tmp, f"worker-{number}.stderr")
        self.proc = ctx.Process(
            target=_worker_main, name=f"tracker-worker-{number}", daemon=True,
            args=(child, lifeline_r, os.getpid(), pool._fn, pool.limits, self.stderr_path, pool._initializer,
                  pool._initargs))
        self.proc.start()
        child.close()
        if lifeline_r is not None:
            lifeline_r.close()
        # Items sent and not answered yet, in order: the first is being worked on (since
        # ``started``), the others wait in the pipe, so the worker never idles while the caller is
        # busy with a result.
        self.queue: deque[tuple[int, Any]] = deque()
        self.started = 0.0

    @property
    def item(self) -> int | None:
        """Index of the item being worked on, if any."""
        return self.queue[0][0] if self.queue else None

    def deadline(self, seconds: float) -> float:
        return self.started + seconds

    def give(self, index: int, item: Any) -> None:
        self.conn.send((index, item))
        if not self.queue:
            self.started = time.monotonic()
        self.queue.append((index, item))

    def done_with_first(self) -> None:
        self.queue.popleft()
        self.started = time.monotonic()  # the next one began as this one's answer was sent

    def stop(self) -> None:
        """Ask an idle worker to finish; used at the end of the pool."""
        try:
            self.conn.send(None)
        except OSError:
            pass

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.close()

    def close(self) -> None:
        for c in (self.conn, self._lifeline_w):
            if c is not None:
                try:
                    c.close()
                except OSError:
                    pass

    def death(self, limits: Limits) -> Failure:
        """Why this (dead) worker died."""
        self.proc.join(5)
        code = self.proc.exitcode
        tail = ""
        try:  # the message comes first, a long native backtrace may follow: read both ends
            with open(self.stderr_path, "rb") as f:
                head = f.read(_STDERR_TAIL)
                f.seek(0, os.SEEK_END)
                f.seek(max(len(head), f.tell() - _STDERR_TAIL))
                tail = (head + f.read()).decode("utf-8", "replace")
        except OSError:
            pass
        self.close()
        # The Rust runtime prints this before aborting on a failed allocation (RLIMIT_AS).
        if "memory allocation of" in tail or "MemoryError" in tail or "Cannot allocate memory" in tail:
            return Failure("memory", limits=limits)
        if code is not None and code < 0:
            sig = -code
            if sig == getattr(signal, "SIGXCPU", -1):
                return Failure("timeout", limits=limits)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            return Failure("crashed", name, limits)
        return Failure("crashed", f"exit code {code}", limits)


class WorkerPool(Generic[T, R]):
    """Workers that apply ``fn`` to items, each item under :class:`Limits`.

    ``fn`` must be a module-level function (it is pickled where workers are spawned);
    ``initializer(*initargs)`` runs once in each worker (for shared read-only state such as a
    register). ``preload`` names modules the parent imports before forking, so that each forked
    worker does not import them again. Use as a context manager; :meth:`map` may be called more
    than once.
    """

    def __init__(self, fn: Callable[[T], R], *, workers: int = 1, limits: Limits = DEFAULT_LIMITS,
                 initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (),
                 preload: Sequence[str] = (), prefetch: int = 2) -> None:
        self._fn = fn
        self.workers = max(1, workers)
        #: items sent ahead to each worker (the time limit counts from when it starts on one)
        self.prefetch = max(1, prefetch)
        self.limits = limits
        self._initializer = initializer
        self._initargs = initargs
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self._ctx: Any = multiprocessing.get_context(method)  # typeshed's BaseContext lacks Process
        if method == "fork":
            for name in preload:
                importlib.import_module(name)
        self._tmp = tempfile.mkdtemp(prefix="tracker-workers-")
        self._idle: list[_Worker] = []
        self._started = 0
        #: how many workers died or were killed (replaced by new ones)
        self.replaced = 0

    def __enter__(self) -> WorkerPool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker and remove the pool's temporary files."""
        for w in self._idle:
            w.stop()
        for w in self._idle:
            w.proc.join(5)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(5)
            w.close()
        self._idle = []
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _new_worker(self) -> _Worker:
        self._started += 1
        return _Worker(self, self._started)

    def map(self, items: Iterable[T]) -> Iterator[Outcome[R]]:
        """One :class:`Outcome` per item, in the items' order, as soon as it is known."""
        todo: deque[tuple[int, Any]] = deque(enumerate(items))
        live: list[_Worker] = []
        done: dict[int, Outcome[R]] = {}
        next_out = 0
        try:
            while todo or any(w.queue for w in live):
                self._feed(todo, live, done)
                if any(w.queue for w in live):
                    self._collect(live, todo, done)
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
            for w in live:
                self._idle.append(w)
            live = []
        finally:
            for w in live:  # abandoned half-way (the caller stopped early, or an error)
                w.kill()

    def _feed(self, todo: deque[tuple[int, Any]], live: list[_Worker], done: dict[int, Outcome[R]]) -> None:
        """Start workers as needed and keep each one's pipe holding ``prefetch`` items."""
        while todo and len(live) < self.workers:
            live.append(self._idle.pop() if self._idle else self._new_worker())
        for depth in range(1, self.prefetch + 1):  # round by round: every worker gets one first
            for w in list(live):
                if not todo or len(w.queue) >= depth:
                    continue
                index, item = todo.popleft()
                try:
                    w.give(index, item)
                except (OSError, EOFError):  # it died while waiting: hand its items back, replace it
                    todo.appendleft((index, item))
                    self._retire(w, live, todo)
                except Exception as e:  # noqa: BLE001 - the item cannot be pickled
                    done[index] = Outcome(failure=Failure("error", f"{type(e).__name__}: {e}"[:300], self.limits))

    def _retire(self, w: _Worker, live: list[_Worker], todo: deque[tuple[int, Any]], *, keep_first: bool = False) -> None:
        """Kill ``w``; the items it had not started go back to the front of ``todo``."""
        waiting = list(w.queue)[1:] if keep_first else list(w.queue)
        for pair in reversed(waiting):
            todo.appendleft(pair)
        w.queue.clear()
        w.kill()
        live.remove(w)
        self.replaced += 1

    def _collect(self, live: list[_Worker], todo: deque[tuple[int, Any]], done: dict[int, Outcome[R]]) -> None:
        """Wait for at least one worker to answer, die or run out of time."""
        busy = [w for w in live if w.queue]
        now = time.monotonic()
        timeout = max(0.0, min(w.deadline(self.limits.seconds) for w in busy) - now)
        handles: list[Any] = [w.conn for w in busy] + [w.proc.sentinel for w in busy]
        ready = set(wait(handles, timeout))
        for w in busy:
            index = w.item
            assert index is not None
            if w.conn in ready:
                try:
                    got, status, payload = w.conn.recv()
                except (EOFError, OSError):
                    got, status, payload = index, "dead", None
                if status == "ok":
                    done[got] = Outcome(value=payload)
                    w.done_with_first()
                    continue
                if status == "error":
                    done[got] = Outcome(failure=Failure("error", str(payload), self.limits))
                    w.done_with_first()
                    continue
                if status == "memory":  # the worker ends itself: a fresh one takes the rest
                    done[got] = Outcome(failure=Failure("memory", limits=self.limits))
                    w.queue.popleft()
                    self._retire(w, live, todo)
                    continue
            if w.conn in ready or w.proc.sentinel in ready:  # died without a word
                done[index] = Outcome(failure=w.death(self.limits))
                w.queue.popleft()
                self._retire(w, live, todo)
                continue
            if time.monotonic() >= w.deadline(self.limits.seconds):
                done[index] = Outcome(failure=Failure("timeout", limits=self.limits))
                w.queue.popleft()
                self._retire(w, live, todo)


def run_isolated(fn: Callable[[T], R], items: Iterable[T], *, workers: int = 1,
                 limits: Limits = DEFAULT_LIMITS, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = (), preload: Sequence[str] = ()) -> list[Outcome[R]]:
    """``fn`` applied to every item in workers (see :class:`WorkerPool`); outcomes in order."""
    with WorkerPool(fn, workers=workers, limits=limits, initializer=initializer, initargs=initargs,
                    preload=preload) as pool:
        return list(pool.map(items))
