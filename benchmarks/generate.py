"""Benchmark: generating and reading learner workbooks, against floors measured in the same run.

    python benchmarks/generate.py [--n 1000]

Writes N learner workbooks (the sample centre of ``tracker.sample``: both qualifications, both
pathways, realistic partial progress) with ``tracker.workbook.writer.new_workbook`` and prints the
time per workbook beside the floor: bare XlsxWriter writing the same cells (same values, same
formulas with their cached results) with no formats, validations, protection or print setup. Then
reads them all back into the model with ``tracker.workbook.reader.read_workbook`` (safety gate
included) beside python-calamine's raw read of the same files (open + every sheet to Python
lists). Each pair alternates workbook by workbook, so both see the same machine load. Targets:
generation <= 1.5 x the floor; reading <= 3 x the raw read. Each ratio is printed beside its
baseline (before issue 16, same 2-core machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import openpyxl
import python_calamine
import xlsxwriter

from tracker.sample import progress_record, sample_learners
from tracker.spec.catalogue import load_qualification
from tracker.spec.models import Qualification
from tracker.workbook import layout as L
from tracker.workbook.reader import read_workbook
from tracker.workbook.writer import new_workbook

#: ratios before issue 16 (same machine, ratios in one run)
BASELINE_GENERATE = "1.5-1.8"
BASELINE_READ = "2.85"

def cells_of(path: Path) -> list[tuple[str, list[tuple[int, int, Any, Any]]]]:
    """(sheet, [(row, col, value or formula, cached)]) of a generated workbook, for the floor."""
    wb = openpyxl.load_workbook(path)
    out = []
    for ws in wb.worksheets:
        cells = [(c.row - 1, c.column - 1, c.value, None) for row in ws.iter_rows() for c in row
                 if c.value is not None]
        out.append((ws.title, cells))
    return out


def write_floor(path: Path, sheets: list[tuple[str, list[tuple[int, int, Any, Any]]]]) -> None:
    """Bare XlsxWriter: the same cells, no styling of any kind."""
    wb = xlsxwriter.Workbook(str(path), {"in_memory": True, "strings_to_formulas": False})
    date_fmt = wb.add_format({"num_format": L.DATE_FORMAT})  # a date needs a number format to be a date
    for name, cells in sheets:
        ws = wb.add_worksheet(name)
        for r, c, v, _ in cells:
            if isinstance(v, str) and v.startswith("="):
                ws.write_formula(r, c, v, None, 0)
            elif isinstance(v, str):
                ws.write_string(r, c, v)
            elif isinstance(v, (dt.date, dt.datetime)):
                ws.write_datetime(r, c, v, date_fmt)
            else:
                ws.write(r, c, v)
    wb.close()


def raw_read(path: Path) -> int:
    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    n = sum(len(wb.get_sheet_by_name(s).to_python(skip_empty_area=False)) for s in wb.sheet_names)
    wb.close()
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    # The sample centre's learners (both qualifications, both pathways, realistic progress).
    quals: dict[str, Qualification] = {}
    records = []
    for s in sample_learners(args.n, seed=args.seed):
        q = quals.setdefault(s.qualification_number, load_qualification(s.qualification_number))
        records.append((q, progress_record(q, s)))
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as d:
        folder = Path(d)
        # Interleaved, workbook by workbook: tracker's write and the floor's (from the cells of
        # the workbook just written) see the same machine load, as do the two reads; on a busy
        # machine, timing one whole pass after the other made the ratio drift by +-30%.
        gen = floor = raw = read = 0.0
        paths = []
        for i, (q, rec) in enumerate(records):
            t0 = time.perf_counter()
            paths.append(new_workbook(q, rec, folder / f"w{i:05d}.xlsx"))
            gen += time.perf_counter() - t0
            sheets = cells_of(paths[-1])
            t0 = time.perf_counter()
            write_floor(folder / f"floor{i:05d}.xlsx", sheets)
            floor += time.perf_counter() - t0
        for (q, _), p in zip(records, paths):
            t0 = time.perf_counter()
            raw_read(p)
            raw += time.perf_counter() - t0
            t0 = time.perf_counter()
            read_workbook(p, q)
            read += time.perf_counter() - t0
        # The round trip is checked outside the timing.
        ok = sum(read_workbook(p, q).to_record() == rec for (q, rec), p in zip(records, paths))
        size = statistics.mean(p.stat().st_size for p in paths) / 1024

    n = args.n
    print(f"learner workbooks: {n} (both qualifications, both pathways), mean size {size:.0f} KiB")
    print(f"generate  tracker        {gen / n * 1000:7.2f} ms/workbook")
    print(f"          xlsxwriter floor {floor / n * 1000:5.2f} ms/workbook (same cells, no styling)")
    print(f"          ratio          {gen / floor:7.2f} x  (target <= 1.5; baseline {BASELINE_GENERATE} x)")
    print(f"read      tracker        {read / n * 1000:7.2f} ms/workbook (safety gate + model)")
    print(f"          calamine raw   {raw / n * 1000:7.2f} ms/workbook")
    print(f"          ratio          {read / raw:7.2f} x  (target <= 3; baseline {BASELINE_READ} x)")
    print(f"round trip exact: {ok}/{n}")
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(main())
