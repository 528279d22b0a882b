"""Benchmark: validating learner workbooks, against python-calamine's raw read measured in the same run.

    python benchmarks/validate.py [--n 200] [--seed 1] [--keep DIR]

Writes N learner workbooks (both qualifications, both pathways, realistic partial progress, one in
ten with a deliberate slip) into a temporary folder, then measures, alternating each twice and
keeping the better run:

* raw read -- python-calamine opens each file and turns every sheet into Python lists;
* validate -- ``tracker.rules.engine.validate_paths`` on the folder (safety gate, reader, every
  check) with one worker process, each file in that worker under its memory and time limits, split
  into its reading part (``read_workbook``) and its checking part (``check_workbook`` on workbooks
  already read);
* the same without isolation -- ``validate_file`` on each file in this process, as ``validate``
  ran before issue 12: the ratio of the two is the cost of isolation;
* where the time of one workbook goes (in this process, warm): the safety gate
  (``check_spreadsheet_file``: every part decompressed and scanned), the parse (python-calamine
  opening the file and turning every sheet into lists, as the reader calls it), the model
  (``read_grids``: the grids into a LearnerWorkbook) and the checks;
* one file from the command line -- ``python -m tracker validate FILE`` as a whole process, run
  from the workbooks' folder (not inside a checkout or a centre) with Python's bytecode cache
  allowed (as an installed package has it: ``PYTHONDONTWRITEBYTECODE`` is dropped for it) and the
  cache of validated qualifications warm (one run first); against a bare ``python -c pass``,
  alternated, best of each.

Targets (issue 16): validate <= 3 x the raw read; the one-file command <= 6 x bare Python.
Each figure is printed beside its baseline (measured before issue 16, on the same 2-core machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import python_calamine

from tracker.rules.engine import check_workbook, expand_paths, validate_file, validate_paths
from tracker.sample import progress_record, sample_learners
from tracker.spec.catalogue import load_qualification
from tracker.spec.models import Qualification
from tracker.workbook.model import LearnerRecord
from tracker.workbook.reader import _grid, read_grids, read_workbook
from tracker.workbook.safety import check_spreadsheet_file
from tracker.workbook.writer import new_workbook

TODAY = dt.date(2025, 7, 31)
#: before issue 16 (same machine): validate / raw read; one-file command / bare python
BASELINE_RATIO = "3.6-4.0"
BASELINE_ONE_FILE = "313 ms = 11.6 x bare python (27 ms)"
#: the last quiet measurement before issue 16's second round (validate 12.66 ms = 4.9 x a raw read
#: of 2.58 ms; one file 184 ms = 6.1 x bare python, 30 ms): each part as a multiple of the raw read
BASELINE_ROUND2 = {"validate": 4.9, "gate": 1.84, "parse": 1.23, "model": 1.76, "checks": 0.64}
BASELINE_ONE_FILE_ROUND2 = "184 ms = 6.1 x bare python (30 ms)"


def make_records(n: int, seed: int) -> list[tuple[Qualification, LearnerRecord]]:
    """The sample centre's learners part-way through; one in ten with slips (Met without an
    evidence ref on every fifth signed criterion), so that the checks have errors to report."""
    quals: dict[str, Qualification] = {}
    out = []
    for i, s in enumerate(sample_learners(n, seed=seed)):
        q = quals.setdefault(s.qualification_number, load_qualification(s.qualification_number))
        rec = progress_record(q, s, as_of=TODAY)
        if i % 10 == 0:
            entries = {ref: dataclasses.replace(e, evidence_refs=()) if k % 5 == 0 else e
                       for k, (ref, e) in enumerate(rec.entries.items())}
            rec = dataclasses.replace(rec, entries=entries)
        out.append((q, rec))
    return out


def raw_read(files: list[Path]) -> None:
    for f in files:
        wb = python_calamine.CalamineWorkbook.from_path(str(f))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
        wb.close()


def best_of(fn: Callable[[], object], runs: int = 2) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def breakdown(files: list[Path]) -> tuple[float, float, float]:
    """Seconds for all ``files``: the gate, the parse and the model, each on its own (best of 2)."""
    gate = best_of(lambda: [check_spreadsheet_file(f) for f in files])
    grids: list[tuple[Path, list[str], dict[str, list[list[object]]]]] = []

    def parse() -> None:
        grids.clear()
        for f in files:
            wb = python_calamine.CalamineWorkbook.from_path(str(f))
            names = list(wb.sheet_names)
            grids.append((f, names, {n: _grid(wb, f, n) for n in names}))
            wb.close()
    parsed = best_of(parse)
    model = best_of(lambda: [read_grids(f, names, g) for f, names, g in grids])  # type: ignore[arg-type]
    return gate, parsed, model


def one_file(path: Path, folder: Path, runs: int = 7) -> None:
    """``python -m tracker validate FILE`` as a whole process beside a bare ``python -c pass``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "tracker", "validate", str(path), "--today", TODAY.isoformat()]
    subprocess.run(cmd, capture_output=True, check=False, env=env, cwd=folder)  # warm both caches
    runs_t, bare = [], []
    for _ in range(runs):  # alternated, so both see the same machine load
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False, env=env, cwd=folder)
        runs_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, env=env, cwd=folder)
        bare.append(time.perf_counter() - t)
    v, b = min(runs_t), min(bare)
    print(f"one file, `python -m tracker validate FILE` as a process: {v * 1000:.0f} ms = {v / b:.1f} x bare "
          f"python ({b * 1000:.0f} ms); median {statistics.median(runs_t) * 1000:.0f} ms")
    print(f"  baseline before issue 16: {BASELINE_ONE_FILE}; before its second round: {BASELINE_ONE_FILE_ROUND2}; "
          "target <= 6 x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="number of learner workbooks (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="write the workbooks here and keep them")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        for i, (q, rec) in enumerate(make_records(args.n, args.seed)):
            new_workbook(q, rec, folder / f"learner-{i:05d}.xlsx")
        print(f"generated {args.n} workbooks in {time.perf_counter() - t:.1f} s ({folder})")
        files = list(expand_paths([folder]))
        n = len(files)

        raw_times, val_times, inproc_times = [], [], []
        report = None
        for _ in range(3):  # alternate, so all three see the same cache state and machine load
            raw_times.append(best_of(lambda: raw_read(files), 1))
            t = time.perf_counter()
            report = validate_paths([folder], today=TODAY, workers=1)
            val_times.append(time.perf_counter() - t)
            inproc_times.append(best_of(lambda: [validate_file(f, today=TODAY) for f in files], 1))
        assert report is not None
        raw, val, inproc = min(raw_times), min(val_times), min(inproc_times)
        books: list[object] = []
        read = best_of(lambda: books.__setitem__(slice(None), [read_workbook(f) for f in files]))
        check = best_of(lambda: [check_workbook(b, today=TODAY) for b in books])  # type: ignore[arg-type]
        gate, parse, model = breakdown(files)

        c = report.counts
        print(f"validated {n} workbooks: {c['error']} errors, {c['warning']} warnings, {c['info']} info; "
              f"{sum(1 for t in report.tasks if not t.valid)} workbooks with errors")
        ms = 1000 / n
        print(f"raw read (python-calamine, every sheet): {raw * ms:7.2f} ms/workbook")
        print(f"validate (validate_paths):               {val * ms:7.2f} ms/workbook   "
              f"ratio {val / raw:.2f} x raw read (target <= 3)")
        b = BASELINE_ROUND2
        print(f"  baseline before issue 16: {BASELINE_RATIO} x; before its second round: {b['validate']} x; "
              "target <= 3 x")
        print(f"  of which read_workbook:                {read * ms:7.2f} ms/workbook   ({read / raw:.2f} x raw read)")
        print(f"    safety gate (decompress + scan):     {gate * ms:7.2f} ms/workbook   ({gate / raw:.2f} x raw read; "
              f"was {b['gate']} x)")
        print(f"    parse (calamine, every sheet):       {parse * ms:7.2f} ms/workbook   ({parse / raw:.2f} x raw read; "
              f"was {b['parse']} x)")
        print(f"    model (grids -> LearnerWorkbook):    {model * ms:7.2f} ms/workbook   ({model / raw:.2f} x raw read; "
              f"was {b['model']} x)")
        print(f"  of which checks:                       {check * ms:7.2f} ms/workbook   ({check / raw:.2f} x raw read; "
              f"was {b['checks']} x)")
        print(f"validate without isolation (in process): {inproc * ms:7.2f} ms/workbook   "
              f"isolation costs {val / inproc - 1:+.1%}")

        one_file(files[0], folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
