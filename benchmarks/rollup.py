"""Benchmark: rolling up a centre, against floors measured in the same run.

    python benchmarks/rollup.py [--n 1000] [--workers N] [--pandas-files 60] [--cache DIR] [--repeat 2] [--profile]
    python benchmarks/rollup.py --scale 1000,5000,10000     # the scaling table of docs/scale.md

A centre of N learners (tracker.sample: both qualifications, both pathways, realistic partial
progress) returns N workbooks (as they stood at the end of June 2025); the benchmark times

* the **full roll-up** of the N returns into a new centre (archive, read + validate, merge,
  centre checks, master), and
* a **re-roll-up** of 10 new returns (ten learners' workbooks as of October 2025) into it,

each in a fresh process, with its wall time and peak memory (``resource.getrusage`` maxrss of the
process and, separately, of its worker processes -- tracemalloc would not see the workers).
Beside them, measured in the same run:

(a) python-calamine reading the same N files raw (open + every sheet to Python lists);
(b) writing the same master cells (every sheet, every row of the master just built) with plain
    XlsxWriter ``write_row``, no formats, tables or chart;
(c) a naive pandas script doing the job: ``pandas.read_excel(sheet_name=None)`` of every file,
    ``concat``, ``to_excel`` of a master -- run on ``--pandas-files`` files and scaled to N (it
    says so in the output).

(d) the same full roll-up without isolation, as it ran before issue 12: files checked in the
    roll-up's own process, or (with two workers) in a ``concurrent.futures`` process pool taking
    batches of up to 16 files -- no memory or time limit, no per-file worker replacement.

Targets (issue 4): full <= 1.5 x (a + b); >= 5 x faster than (c); the re-roll-up <= 25 % of the
full one; <= 300 MiB peak. Issue 12: isolation costs <= 10 % of the roll-up (full / d). The generated workbooks are cached (``--cache``, default in the
system temp folder) because writing them is not what is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
FIRST_AS_OF = dt.date(2025, 6, 30)
LATER = 10
TODAY = dt.date(2025, 11, 30)


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _rss_mib() -> tuple[float, float]:
    """Peak resident memory (MiB) of this process and of its largest finished child."""
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024  # Linux reports KiB, macOS bytes
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale)


# -- preparing the returns -------------------------------------------------------------------------


def prepare(n: int, cache: Path) -> tuple[Path, Path]:
    """N returns (June) and 10 later returns (October), generated once into ``cache``.

    The June returns are generated into one pool shared by every size (``cache/pool``: the sample
    centre of N learners is the first N of a larger one), so 1,000, 5,000 and 10,000 learners
    cost one generation of 10,000; each size gets a folder of hard links to its first N files.
    """
    from tracker.sample import progress_record, sample_learners, write_workbooks
    from tracker.spec.catalogue import load_qualification

    size = cache / f"n{n}"
    returns, later = size / "returns", size / "later"
    if (size / "done").exists():
        return returns, later
    shutil.rmtree(size, ignore_errors=True)
    t = time.perf_counter()
    people = sample_learners(n)
    quals = {s.qualification_number: load_qualification(s.qualification_number) for s in people}
    pool = cache / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    have = {p.name for p in pool.iterdir()}
    todo = [s for s in people if s.file_name not in have]
    if todo:
        first = [(quals[s.qualification_number], s,
                  progress_record(quals[s.qualification_number], s, as_of=FIRST_AS_OF)) for s in todo]
        tmp = cache / "pool.part"  # a half-written pool file never counts as generated
        shutil.rmtree(tmp, ignore_errors=True)
        write_workbooks(first, tmp, workers=os.cpu_count() or 1)
        for f in tmp.iterdir():
            f.rename(pool / f.name)
        tmp.rmdir()
    returns.mkdir(parents=True)
    for s in people:
        os.link(pool / s.file_name, returns / s.file_name)
    step = max(1, n // LATER)
    chosen = [people[i] for i in range(0, n, step)][:LATER]
    second = [(quals[s.qualification_number], s, progress_record(quals[s.qualification_number], s)) for s in chosen]
    write_workbooks(second, later, workers=1, names=[f"later {s.file_name}" for s in chosen])
    (size / "done").write_text(f"{n}\n")
    print(f"generated {len(todo)} + {len(chosen)} learner workbooks into {cache} in {time.perf_counter() - t:.1f} s "
          "(cached for the next run)", flush=True)
    return returns, later


# -- phases, each run in its own process -------------------------------------------------------------


def phase_raw(files: list[Path]) -> dict[str, Any]:
    import python_calamine

    t, cpu = time.perf_counter(), time.process_time()
    cells = 0
    for f in files:
        wb = python_calamine.CalamineWorkbook.from_path(str(f))
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            cells += sum(len(r) for r in rows)
        wb.close()
    return {"seconds": time.perf_counter() - t, "cells": cells, "cpu_timed": time.process_time() - cpu}


def _peak_mib() -> float:
    """This process's peak resident memory so far (Linux VmHWM), in MiB; 0 elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def phase_rollup(centre: Path, workers: int | None) -> dict[str, Any]:
    from tracker.centre import rollup_steps
    from tracker.centre.rollup_steps import rollup

    # The peak memory reached by each of the roll-up's checkpoints: which step holds the memory.
    peaks: dict[str, float] = {}
    real_checkpoint = rollup_steps.checkpoint

    def checkpoint(name: str) -> None:
        peaks.setdefault(name, round(_peak_mib()))
        real_checkpoint(name)

    setattr(rollup_steps, "checkpoint", checkpoint)
    own = resource.getrusage(resource.RUSAGE_SELF)
    t, cpu = time.perf_counter(), _cpu_s()
    if os.environ.get("TRACKER_BENCH_PROFILE"):  # where the time goes (cProfile of this process)
        import cProfile
        import pstats

        prof = cProfile.Profile()
        r = prof.runcall(rollup, centre, workers=workers, today=TODAY)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    else:
        r = rollup(centre, workers=workers, today=TODAY)
    secs = time.perf_counter() - t
    cpu = _cpu_s() - cpu  # this process and its workers (reaped when the pool closed)
    after = resource.getrusage(resource.RUSAGE_SELF)
    parent_cpu = after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
    self_mib, child_mib = _rss_mib()
    return {"seconds": secs, "cpu_timed": cpu, "cpu_parent": parent_cpu, "peaks": peaks, "rss": self_mib, "rss_children": child_mib, "workers": r.workers,
            "merged": r.count("merged"), "quarantined": r.count("quarantined"),
            "timings": {k: round(v, 2) for k, v in r.timings.items()}}


class _UnisolatedChecker:
    """The roll-up's checker before issue 12 (the baseline (d)): in-process for one worker, else a
    ProcessPoolExecutor (fork) mapping batches of files; a file that kills a worker kills the run."""

    def __init__(self, ctx: Any, workers: int, expected: int, limits: Any = None) -> None:
        self.ctx, self.workers = ctx, (workers if expected >= 2 else 1)
        self.pool: Any = None
        self.unlimited = 0  # as tracker.centre.pool.Checker: the roll-up notes files read without limits

    def __enter__(self) -> _UnisolatedChecker:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from tracker.centre import pool as P

        if self.workers > 1:
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("fork"),
                                            initializer=P._init_worker, initargs=(self.ctx,))
        else:
            P._init_worker(self.ctx)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def run(self, jobs: list[Any]) -> Any:
        from tracker.centre import pool as P

        if self.pool is None or len(jobs) < 2:
            for j in jobs:
                yield P._check_one(j)
            return
        size = max(1, min(16, len(jobs) // (self.workers * 8)))
        batches = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        for batch in self.pool.map(_check_batch, batches):
            yield from batch


def _check_batch(jobs: list[Any]) -> list[Any]:
    from tracker.centre import pool as P

    return [P._check_one(j) for j in jobs]


def phase_rollup_unisolated(centre: Path, workers: int | None) -> dict[str, Any]:
    from tracker.centre import rollup_steps

    setattr(rollup_steps, "Checker", _UnisolatedChecker)  # the roll-up looks the class up at run time
    return phase_rollup(centre, workers)


def _master_rows(centre: Path) -> list[tuple[str, list[list[Any]]]]:
    """Every sheet of the master as rows of plain values, from the ledger (not timed)."""
    from tracker.centre import ledger as LG
    from tracker.centre import master as M
    from tracker.centre.folder import open_centre
    from tracker.centre.iqa import sampling_coverage

    c = open_centre(centre)
    conn = LG.connect(c.ledger, create=False)
    quals = M.Qualifications([c.specs])
    files = LG.file_names(conn)
    counts = LG.issue_counts(conn)
    open_rows, per_learner = M.open_conflict_rows(conn)
    learners: list[list[Any]] = [[col.header for col in M.LEARNER_COLUMNS]]
    criteria: list[list[Any]] = [[col.header for col in M.CRITERIA_COLUMNS]]
    matrix: list[list[Any]] = [[col.header for col in M.MATRIX_FIXED]]
    for view in M.iter_learners(conn, quals):
        rec = M.learner_record(view, files, counts, per_learner)
        learners.append([rec.get(col.key) for col in M.LEARNER_COLUMNS])
        matrix.append([rec.get(col.key) for col in M.MATRIX_FIXED] + [u.status for _, u in sorted(view.units.items())])
        for crec in M.criterion_records(view, files, open_rows):
            criteria.append([crec.get(col.key) for col in M.CRITERIA_COLUMNS])

    def table(cols: tuple[M.MColumn, ...], recs: list[dict[str, Any]]) -> list[list[Any]]:
        return [[col.header for col in cols]] + [[r.get(col.key) for col in cols] for r in recs]

    out = [(M.LEARNERS, learners), (M.MATRIX, matrix), (M.CRITERIA, criteria),
           (M.ISSUES, table(M.ISSUE_COLUMNS, M.issue_records(conn, files))),
           (M.CONFLICTS, table(M.CONFLICT_COLUMNS, M.conflict_records(conn, files))),
           (M.IQA_SAMPLING, table(M.IQA_COLUMNS, M.iqa_records(sampling_coverage(conn, None)))),
           (M.MERGE_LOG, table(M.LOG_COLUMNS, M.log_records(conn, files)))]
    conn.close()
    return out


def phase_plain(centre: Path, out: Path) -> dict[str, Any]:
    import xlsxwriter

    sheets = _master_rows(centre)
    cells = sum(len(r) for _, rows in sheets for r in rows)
    t, cpu = time.perf_counter(), time.process_time()
    wb = xlsxwriter.Workbook(str(out))
    wb.add_worksheet("Dashboard")
    for name, rows in sheets:
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            ws.write_row(r, 0, row)
    wb.close()
    return {"seconds": time.perf_counter() - t, "cells": cells, "cpu_timed": time.process_time() - cpu}


def phase_pandas(files: list[Path], out: Path) -> dict[str, Any]:
    import pandas as pd

    t = time.perf_counter()
    frames = []
    for f in files:
        for sheet, df in pd.read_excel(f, sheet_name=None).items():
            df = df.astype(str)
            df.insert(0, "sheet", sheet)
            df.insert(0, "file", f.name)
            frames.append(df)
    master = pd.concat(frames, ignore_index=True)
    with pd.ExcelWriter(out) as xw:
        master.to_excel(xw, sheet_name="Criteria", index=False)
    return {"seconds": time.perf_counter() - t, "rows": len(master)}


def _run_phase(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(HERE), "--phase", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"phase {args[0]} failed")
    if env and env.get("TRACKER_BENCH_PROFILE"):
        print(proc.stderr, file=sys.stderr)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _new_centre(where: Path, returns: Path) -> Path:
    from tracker.centre.create import init_centre
    from tracker.sample import write_register

    if where.exists():
        shutil.rmtree(where)
    c, _ = init_centre(where, name="Benchmark centre")
    write_register(c.register)
    for f in returns.iterdir():
        os.link(f, c.inbox / f.name)  # the roll-up copies into the archive and removes the link
    return where


def scale(sizes: list[int], cache: Path, workers: str) -> None:
    """The scaling table: a full roll-up of each size, beside the raw read of the same files."""
    rows = []
    for n in sizes:
        returns, _later = prepare(n, cache)
        work = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
        try:
            centre = _new_centre(work / "centre", returns)
            raw = _run_phase(["raw", str(returns)])
            full = _run_phase(["rollup", str(centre), workers])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows.append((n, full, raw))
        print(f"  {n:>6,} learners: {full['seconds']:.1f} s", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"\nscaling: full roll-up of N returns into a new centre, {os.cpu_count()} core(s), load average {load:.1f}")
    print("| learners | roll-up | per learner | CPU, all processes (per learner) | of which the roll-up's process | "
          "raw read | peak memory: roll-up process | largest worker | phases |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for n, full, raw in rows:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in full["timings"].items())
        print(f"| {n:,} | {full['seconds']:.1f} s | {1000 * full['seconds'] / n:.1f} ms | {full['cpu_timed']:.1f} s "
              f"({1000 * full['cpu_timed'] / n:.1f} ms) | {full['cpu_parent']:.1f} s | {raw['seconds']:.1f} s "
              f"| {full['rss']:.0f} MiB | {full['rss_children']:.0f} MiB | {phases} |")
    for n, full, _raw in rows:
        print(f"  {n:,}: peak memory (MiB) of the roll-up's process by each step: "
              f"{', '.join(f'{k} {v}' for k, v in full['peaks'].items())}")


def _phase_main(argv: list[str]) -> None:
    name = argv[0]
    if name == "raw":
        res = phase_raw(sorted(Path(argv[1]).iterdir()))
    elif name == "rollup":
        res = phase_rollup(Path(argv[1]), int(argv[2]) if argv[2] != "auto" else None)
    elif name == "rollup-unisolated":
        res = phase_rollup_unisolated(Path(argv[1]), int(argv[2]) if argv[2] != "auto" else None)
    elif name == "plain":
        res = phase_plain(Path(argv[1]), Path(argv[2]))
    elif name == "pandas":
        files = sorted(Path(argv[1]).iterdir())[: int(argv[2])]
        res = phase_pandas(files, Path(argv[3]))
    else:
        raise SystemExit(f"unknown phase {name}")
    self_mib, child_mib = _rss_mib()
    res["cpu"] = _cpu_s()
    res.setdefault("rss", self_mib)
    res.setdefault("rss_children", child_mib)
    print(json.dumps(res))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--phase":
        _phase_main(sys.argv[2:])
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="learners (default 1000)")
    p.add_argument("--workers", default="auto", help="roll-up worker processes (default: automatic)")
    p.add_argument("--pandas-files", type=int, default=60, help="files the pandas baseline reads (scaled to N)")
    p.add_argument("--cache", type=Path, default=None, help="where the generated workbooks are kept")
    p.add_argument("--prepare-only", action="store_true", help="generate the returns (cached) and stop")
    p.add_argument("--keep", type=Path, default=None, help="keep the centre folder here")
    p.add_argument("--repeat", type=int, default=2, help="isolated / unisolated roll-up pairs for (d) (default 2)")
    p.add_argument("--scale", default="", metavar="N,N,...",
                   help="only the scaling table: a full roll-up of each size (e.g. 1000,5000,10000)")
    p.add_argument("--profile", action="store_true", help="print a cProfile of the re-roll-up's process")
    a = p.parse_args()
    cache = a.cache or Path(tempfile.gettempdir()) / "tracker-bench-rollup"
    if a.scale:
        scale([int(x) for x in a.scale.split(",")], cache, str(a.workers))
        return
    returns, later = prepare(a.n, cache)
    if a.prepare_only:
        return
    work = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    try:
        centre = a.keep or work / "centre"
        _new_centre(centre, returns)
        # The same centre twice more, for the isolation comparison (d): isolated and not, in turn.
        pairs = [(work / f"iso{i}", work / f"plain{i}") for i in range(a.repeat)]
        for iso, plain_copy in pairs:
            shutil.copytree(centre, iso)
            shutil.copytree(centre, plain_copy)

        raw = _run_phase(["raw", str(returns)])
        full = _run_phase(["rollup", str(centre), str(a.workers)])
        iso_s, plain_s = [], []
        for iso, plain_copy in pairs:
            plain_s.append(_run_phase(["rollup-unisolated", str(plain_copy), str(a.workers)])["seconds"])
            iso_s.append(_run_phase(["rollup", str(iso), str(a.workers)])["seconds"])
        plain = _run_phase(["plain", str(centre), str(work / "plain.xlsx")])
        c_inbox = centre / "inbox"
        for f in later.iterdir():
            shutil.copyfile(f, c_inbox / f.name)
        again = _run_phase(["rollup", str(centre), str(a.workers)],
                           env={"TRACKER_BENCH_PROFILE": "1"} if a.profile else None)
        m = min(a.pandas_files, a.n)
        pandas = _run_phase(["pandas", str(returns), str(m), str(work / "pandas.xlsx")])
    finally:
        shutil.rmtree(work, ignore_errors=True)

    pandas_scaled = pandas["seconds"] * a.n / m
    floor = raw["seconds"] + plain["seconds"]
    peak = max(full["rss"], full["rss_children"], again["rss"], again["rss_children"])
    cores = os.cpu_count() or 1

    def line(label: str, secs: float, extra: str = "") -> None:
        print(f"  {label:<47} {secs:7.2f} s  {extra}")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"\nroll-up benchmark: {a.n} learners, {cores} core(s), python {sys.version.split()[0]}, "
          f"load average {load:.1f} (wall times below are only comparable within one run)")
    line(f"full roll-up ({full['merged']} returns, {full['workers']} worker(s))", full["seconds"],
         f"peak {full['rss']:.0f} MiB (workers {full['rss_children']:.0f} MiB), CPU {full['cpu']:.1f} s")
    print(f"      phases: {', '.join(f'{k} {v:.2f} s' for k, v in full['timings'].items())}; "
          f"CPU of the roll-up's own process {full['cpu_parent']:.1f} s")
    print(f"      peak memory (MiB) reached by: {', '.join(f'{k} {v}' for k, v in full['peaks'].items())}")
    line(f"re-roll-up ({again['merged']} new returns)", again["seconds"],
         f"peak {again['rss']:.0f} MiB (workers {again['rss_children']:.0f} MiB), CPU {again['cpu']:.1f} s")
    print(f"      phases: {', '.join(f'{k} {v:.2f} s' for k, v in again['timings'].items())}; "
          f"CPU of the roll-up's own process {again['cpu_parent']:.1f} s")
    line("(a) python-calamine raw read of the same files", raw["seconds"],
         f"{raw['cells']:,} cells, one process")
    line("(b) the same master cells with plain xlsxwriter", plain["seconds"], f"{plain['cells']:,} cells")
    line(f"(c) naive pandas script, {m} files scaled x{a.n / m:.1f}", pandas_scaled,
         f"measured {pandas['seconds']:.2f} s on {m} files")
    if plain_s:
        line("(d) the full roll-up without isolation (best of runs)", min(plain_s),
             "runs " + ", ".join(f"{x:.2f}" for x in plain_s) + " s; isolated, in turn: "
             + ", ".join(f"{x:.2f}" for x in iso_s) + " s")

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print("\ntargets:")
    r1 = full["seconds"] / floor
    print(f"  full <= 1.5 x (a + b) = {1.5 * floor:.2f} s: {full['seconds']:.2f} s = {r1:.2f} x (a + b)  "
          f"{verdict(r1 <= 1.5)}")
    r2 = pandas_scaled / full["seconds"]
    print(f"  >= 5 x faster than pandas: {r2:.1f} x  {verdict(r2 >= 5)}")
    r3 = again["seconds"] / full["seconds"]
    print(f"  re-roll-up of {LATER} <= 25 % of full (issue 4), <= 10 % (issue 16): {r3:.1%}  "
          f"{verdict(r3 <= 0.25)} / {verdict(r3 <= 0.10)}")
    cpu_floor = raw["cpu_timed"] + plain["cpu_timed"]
    r5 = full["cpu_timed"] / cpu_floor
    print(f"  full roll-up CPU <= 2 x (raw read CPU {raw['cpu_timed']:.1f} s + plain master CPU "
          f"{plain['cpu_timed']:.1f} s): {full['cpu_timed']:.1f} s = {r5:.2f} x  {verdict(r5 <= 2)}")
    print(f"  peak <= 300 MiB: {peak:.0f} MiB  {verdict(peak <= 300)}")
    if plain_s:
        r4 = min(iso_s) / min(plain_s) - 1
        print(f"  isolation <= 10 % of the roll-up: best isolated {min(iso_s):.2f} s vs best unisolated "
              f"{min(plain_s):.2f} s = {r4:+.1%}  {verdict(r4 <= 0.10)}")


if __name__ == "__main__":
    main()
