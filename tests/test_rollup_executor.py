"""``rollup(DIR, executor=...)``: the per-file read and check run by another executor.

Oracles: counts written out here (what the sample returns hold), and the default roll-up of the
same files, compared cell by cell (ledger rows and every master sheet, the times of the runs
left out). A task carries its files and the centre's qualifications (nothing of the centre folder
is reachable from it: the files are read from a private copy) and applies tracker's limits itself
in a child process; a worker that may not start one says so.
"""

from __future__ import annotations

import datetime as dt
import faulthandler
import multiprocessing
import os
import re
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_centre_hostile import _on_another_qualification
from test_centre_sample import TODAY, drop, items, ledger_dump, make_centre, master_cells, query

from tracker.centre import pool as P
from tracker.centre.check import CheckContext, Job
from tracker.centre.folder import Centre
from tracker.centre.rollup_steps import RollupResult, rollup
from tracker.errors import CentreError
from tracker.isolation import Limits

from corpus import make_corpus as mc  # tests/ is on sys.path

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and resource limits")

# The six sample learners of items(6): ULN -> (criterion rows with work, Met decisions), counted
# from the generated records (tracker.sample, seed 7) by hand once and written out.
EXPECTED = {"7257638631": (12, 10), "6977143834": (28, 27), "7646564922": (42, 41), "4688042115": (37, 36),
            "8465677157": (20, 17), "8694732369": (16, 15)}

# Ledger tables stamped with the time of a run (they differ between any two roll-ups).
LEDGER_TIMES = {"runs", "files", "learners", "meta"}
_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _without_times(sheets: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[list[Any]]]:
    """The master's cells with the times of the run replaced: the sample's dates are all on or
    before the tests' fixed TODAY, a run's time is after it (the real clock)."""
    def plain(v: Any) -> Any:
        if isinstance(v, dt.datetime) and v.date() > TODAY:
            return "<run time>"
        return _STAMP.sub("<run time>", v) if isinstance(v, str) else v

    return {name: [[plain(v) for v in r] for r in rows] for name, rows in sheets.items()}


def _ledger(c: Centre) -> dict[str, list[tuple[object, ...]]]:
    """Every ledger table except those stamped with the run's time, plus what they hold besides."""
    d = {k: v for k, v in ledger_dump(c).items() if k not in LEDGER_TIMES}
    d["files"] = query(c, "SELECT hash, original_name, outcome, reason FROM files ORDER BY hash")
    d["learners"] = query(c, "SELECT uln, name, qualification_number, pathway FROM learners ORDER BY uln")
    return d


def _counts(c: Centre) -> dict[str, tuple[int, int]]:
    rows = query(c, "SELECT l.uln, COUNT(*), SUM(c.decision = 'Met') FROM criteria c "
                    "JOIN learners l ON l.id = c.learner_id GROUP BY l.uln")
    return {uln: (n, met) for uln, n, met in rows}


@pytest.fixture(scope="module")
def batch() -> list[Any]:
    return items(6)


@pytest.fixture(scope="module")
def default_run(batch: list[Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[RollupResult, Centre]:
    c = make_centre(tmp_path_factory.mktemp("default") / "centre")
    drop(c, batch)
    return rollup(c, today=TODAY, workers=1), c


def _same_as_default(r: RollupResult, c: Centre, default: tuple[RollupResult, Centre]) -> None:
    d_result, d_centre = default
    assert (r.count("merged"), r.count("quarantined")) == (6, 0)
    assert _counts(c) == EXPECTED
    assert [(f.name, f.outcome, f.rows_accepted, f.errors, f.warnings) for f in r.files] == \
        [(f.name, f.outcome, f.rows_accepted, f.errors, f.warnings) for f in d_result.files]
    assert _ledger(c) == _ledger(d_centre)
    assert _without_times(master_cells(c.master)) == _without_times(master_cells(d_centre.master))


def _roll_with(executor: Executor, batch: list[Any], root: Path, **kw: Any) -> tuple[RollupResult, Centre]:
    c = make_centre(root)
    drop(c, batch)
    return rollup(c, today=TODAY, executor=executor, **kw), c


def test_default_run_holds_the_expected_counts(default_run: tuple[RollupResult, Centre]) -> None:
    r, c = default_run
    assert (r.count("merged"), r.count("quarantined")) == (6, 0)
    assert _counts(c) == EXPECTED


@pytest.mark.parametrize("kind", ["threads", "fork processes", "spawned processes"])
def test_any_executor_gives_the_default_ledger_and_master(kind: str, batch: list[Any], tmp_path: Path,
                                                         default_run: tuple[RollupResult, Centre]) -> None:
    if kind != "threads" and not sys.platform.startswith("linux"):
        pytest.skip("fork is Linux's")
    ex: Executor = (ThreadPoolExecutor(2) if kind == "threads" else
                    ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(
                        "fork" if kind == "fork processes" else "spawn")))
    with ex:
        r, c = _roll_with(ex, batch, tmp_path / "centre")
    assert r.workers == 0 and r.notes == []
    _same_as_default(r, c, default_run)


def test_dask_local_cluster_gives_the_default_ledger_and_master(batch: list[Any], tmp_path: Path,
                                                               default_run: tuple[RollupResult, Centre]) -> None:
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    # Workers that may start child processes, so that each task reads under tracker's limits;
    # ports chosen by the system (scheduler_port=0 is LocalCluster's default), no dashboard.
    with dask.config.set({"distributed.worker.daemon": False}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      scheduler_port=0) as cluster, distributed.Client(cluster) as client:
            r, c = _roll_with(client.get_executor(), batch, tmp_path / "centre")
    assert r.notes == []  # read under the limits, in child processes of the dask workers
    _same_as_default(r, c, default_run)


# -- limits inside the executor's tasks ------------------------------------------------------------


def _misbehave_on(name: str, how: Callable[[], None]) -> Callable[[Job, CheckContext], Any]:
    real = P.check_returned

    def check(job: Job, ctx: CheckContext) -> Any:
        if Path(job.archive).name.endswith(".xlsx") and job.name == name:
            how()
        return real(job, ctx)

    return check


def _segfault() -> None:
    faulthandler.disable()  # pytest's handler would print the child's stack on the terminal
    os.kill(os.getpid(), signal.SIGSEGV)


def _hog() -> None:
    bytearray(512 << 20)  # more than the limit below: MemoryError under RLIMIT_AS


@linux_only
@pytest.mark.parametrize("how, reason", [(_segfault, "the spreadsheet reader stopped abruptly on it (SIGSEGV)"),
                                         (_hog, "more memory than tracker allows for one workbook (64 MB)")])
def test_a_file_that_kills_or_exhausts_its_reader_costs_that_file_only(
        how: Callable[[], None], reason: str, batch: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The task's child process is forked from this one (a thread of the executor), so the
    # misbehaving check reaches it; the executor's thread and this process go on.
    victim = batch[2][1].file_name
    monkeypatch.setattr(P, "check_returned", _misbehave_on(victim, how))
    with ThreadPoolExecutor(1) as ex:
        r, c = _roll_with(ex, batch, tmp_path / "centre", limits=Limits(memory=64 << 20, seconds=600))
    outcomes = {f.name: (f.outcome, f.reason) for f in r.files}
    assert outcomes.pop(victim)[0] == "quarantined"
    assert reason in (c.quarantine / f"{victim}.why.txt").read_text("utf-8")
    assert set(outcomes.values()) == {("merged", "")} and len(outcomes) == 5


class _DaemonPoolExecutor(Executor):
    """An executor whose workers are daemonic processes (as dask's are by default)."""

    def __init__(self) -> None:
        self.pool = multiprocessing.get_context("fork").Pool(1)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        f: Future[Any] = Future()
        self.pool.apply_async(fn, args, kwargs, callback=f.set_result, error_callback=f.set_exception)
        return f

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.close()
        self.pool.join()


@linux_only
def test_a_worker_that_may_not_start_children_reads_in_place_and_the_roll_up_says_so(
        batch: list[Any], tmp_path: Path, default_run: tuple[RollupResult, Centre]) -> None:
    with _DaemonPoolExecutor() as ex:
        r, c = _roll_with(ex, batch, tmp_path / "centre")
    assert r.notes == [P.unlimited_note(6)]
    assert "6 file(s) were read by the executor's worker processes themselves, without tracker's per-file " \
           "memory and time limits" in r.notes[0]
    r.notes = []
    _same_as_default(r, c, default_run)


# -- what a task carries ------------------------------------------------------------------------------


def test_the_centres_own_qualification_travels_with_the_task(tmp_path: Path) -> None:
    from tracker.spec.catalogue import BUNDLED_DIR

    c = make_centre(tmp_path / "c", register=False)
    spec = (BUNDLED_DIR / "highfield-l2-diploma-customer-service-skills.yaml").read_text("utf-8")
    spec = spec.replace("id: highfield-l2-diploma-customer-service-skills", "id: centre-copy-of-l2", 1)
    (c.specs / "copy.yaml").write_text(spec.replace("number: 603/4687/5", "number: 600/0000/4", 1), "utf-8")
    (c.inbox / "a.xlsx").write_bytes(mc._with_openpyxl(mc.learner_xlsx(13), _on_another_qualification))
    # A spawned worker starts from nothing: it knows the centre's qualification only from the task.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        r = rollup(c, executor=ex)
    assert [(f.name, f.outcome) for f in r.files] == [("a.xlsx", "merged")]
    assert query(c, "SELECT uln, qualification_number FROM learners") == [(mc.learner_uln(13), "600/0000/4")]


def test_a_worker_with_another_installation_refuses_and_nothing_is_merged(batch: list[Any], tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    c = make_centre(tmp_path / "centre")
    drop(c, batch[:2])
    parcel = P.Parcel((), P.PortableContext((), {}, None, TODAY, "tracker 0.0.1 (000000000000)"), Limits())
    got = P.check_parcel(parcel)
    assert got.checked == [] and got.refused.startswith("a worker has tracker ")
    assert got.refused.endswith("the roll-up tracker 0.0.1 (000000000000)")
    # The roll-up's side: the same refusal stops the roll-up before anything is committed.
    monkeypatch.setattr(P, "installation", lambda: "tracker 0.0.1 (000000000000)")
    monkeypatch.setattr(P, "check_parcel", _refusing)
    with ThreadPoolExecutor(1) as ex, pytest.raises(CentreError, match="another installation of tracker"):
        rollup(c, today=TODAY, executor=ex)
    assert query(c, "SELECT COUNT(*) FROM files") == [(0,)]
    assert len(list(c.inbox.iterdir())) == 2  # left where they were


def _refusing(parcel: P.Parcel) -> P.ParcelResult:
    return P.ParcelResult(refused="a worker has tracker 9.9 (x), the roll-up " + parcel.ctx.installation)


def test_a_task_lost_by_the_executor_costs_its_file_only(batch: list[Any], tmp_path: Path,
                                                         default_run: tuple[RollupResult, Centre]) -> None:
    # An executor that loses every task holding the third file (as dask does with KilledWorker
    # after the file killed its workers): the parcel is split, only that file is quarantined.
    victim = batch[2][1].file_name

    class Losing(ThreadPoolExecutor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            parcel = args[0]
            if any(j.name == victim for j, _data in parcel.files):
                f: Future[Any] = Future()
                f.set_exception(OSError("worker lost"))
                return f
            return super().submit(fn, *args, **kwargs)

    with Losing(1) as ex:
        c = make_centre(tmp_path / "centre")
        drop(c, batch)
        r = rollup(c, today=TODAY, executor=ex)
    outcomes = {f.name: (f.outcome, f.reason) for f in r.files}
    assert outcomes.pop(victim) == ("quarantined", "the executor could not check it (OSError: worker lost); it may "
                                                   "be damaged or malicious - ask for the original workbook")
    assert set(outcomes.values()) == {("merged", "")}


def test_a_broken_executor_stops_the_roll_up_before_anything_changes(batch: list[Any], tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    drop(c, batch[:2])
    ex = ThreadPoolExecutor(1)
    ex.shutdown()
    with pytest.raises(CentreError, match=r"the roll-up's executor stopped working \(RuntimeError: cannot schedule"):
        rollup(c, today=TODAY, executor=ex)
    assert query(c, "SELECT COUNT(*) FROM files") == [(0,)]
    assert len(list(c.inbox.iterdir())) == 2


def test_tasks_are_submitted_a_bounded_way_ahead_and_merged_in_order(tmp_path: Path) -> None:
    # A fake executor notes, at each submission, how many tasks are ahead of the merge (submitted,
    # results not yet taken): the file contents in memory stay bounded whatever the inbox holds.
    taken = [0]
    ahead: list[int] = []

    class Counting(Executor):
        submitted = 0

        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            self.submitted += 1
            ahead.append(self.submitted - taken[0] // 3)
            f: Future[Any] = Future()
            f.set_result(P.ParcelResult([P.Checked(j.hash, "quarantine", "x", "y") for j, _d in args[0].files]))
            return f

    files = []
    for i in range(40):
        p = tmp_path / f"{i:02d}.xlsx"
        p.write_bytes(b"x")
        files.append(Job(f"h{i:02d}", str(p), p.name))
    ctx = CheckContext(extra_dirs=(), readings={}, register=None, today=TODAY)
    got = []
    for checked in P.ExecutorChecker(ctx, Counting(), parcel_files=3, in_flight=4).run(files):
        got.append(checked.hash)
        taken[0] += 1
    assert got == [j.hash for j in files]
    assert len(ahead) == 14 and max(ahead) == 4  # ceil(40 / 3) tasks, never more than 4 ahead
