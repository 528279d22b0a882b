"""Benchmark: generating and reading learner workbooks, against floors measured in the same run.

    python benchmarks/generate.py [--n 1000]

Writes N learner workbooks (both qualifications, both pathways, realistic partial progress) with
``tracker.workbook.writer.new_workbook`` and prints the time per workbook beside the floor: bare
XlsxWriter writing the same cells (same values, same formulas with their cached results) with no
formats, validations, protection or print setup. Then reads them all back into the model with
``tracker.workbook.reader.read_workbook`` (safety gate included) beside python-calamine's raw read
of the same files (open + every sheet to Python lists). Targets: generation <= 1.5 x the floor;
reading <= 3 x the raw read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import openpyxl
import python_calamine
import xlsxwriter

from tracker.identifiers import uln_check_digit
from tracker.spec.catalogue import load_qualification
from tracker.spec.models import Qualification
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord
from tracker.workbook.reader import read_workbook
from tracker.workbook.writer import new_workbook

FIRST = ["Amira", "Ben", "Chloe", "Dev", "Ella", "Femi", "Grace", "Harry", "Isla", "Jack", "Kai", "Lena"]
LAST = ["Ahmed", "Brown", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes", "Iqbal", "Jones"]


def uln(n: int) -> str:
    """The n-th valid ULN above 1000000000 (skipping prefixes with no check digit)."""
    base = 100_000_000 + n * 7
    while True:
        d = uln_check_digit(str(base))
        if d is not None and d < 10:
            return f"{base}{d}"
        base += 1


def record(q: Qualification, i: int, rng: random.Random) -> LearnerRecord:
    """A learner part-way through: earlier units mostly signed off, later ones untouched."""
    pathway = rng.choice([p.id for p in q.pathways]) if q.pathways else None
    start = dt.date(2024, 9, 2) + dt.timedelta(days=rng.randint(0, 120))
    learner = Learner(f"{rng.choice(FIRST)} {rng.choice(LAST)}", uln(i), pathway, start,
                      "Ann Assessor", "Ian Iqa", "Tia Tutor", "Acme Retail Ltd")
    progress = rng.random()
    entries: dict[str, CriterionEntry] = {}
    evidence: list[EvidenceEntry] = []
    day = start
    for unit in q.units:
        if rng.random() > progress:
            continue
        for ref in q.required(unit, pathway):
            kind = ref[0]
            method = rng.choice(L.TYPICAL_METHODS[kind])
            day += dt.timedelta(days=rng.randint(0, 3))
            ev = f"E{len(evidence) + 1}"
            evidence.append(EvidenceEntry(ev, f"{method} for {ref}", method, day, f"Portfolio p{len(evidence) + 1}"))
            met = rng.random() < 0.9
            sampled = met and rng.random() < 0.3
            entries[ref] = CriterionEntry(
                (ev,), method, day, L.MET if met else L.NOT_YET_MET, "Ann Assessor", day + dt.timedelta(days=1),
                L.YES if sampled else None, "Ian Iqa" if sampled else None,
                day + dt.timedelta(days=5) if sampled else None, L.AGREED if sampled else None, None)
    return LearnerRecord(learner, entries, tuple(evidence))


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
    rng = random.Random(args.seed)
    quals = [load_qualification("603/4687/5"), load_qualification("603/4688/7")]
    records = [(quals[i % 2], record(quals[i % 2], i, rng)) for i in range(args.n)]
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as d:
        folder = Path(d)
        # Cell lists for the floor come from one sample workbook per qualification and pathway.
        t0 = time.perf_counter()
        paths = []
        for i, (q, rec) in enumerate(records):
            paths.append(new_workbook(q, rec, folder / f"w{i:05d}.xlsx"))
        gen = time.perf_counter() - t0

        samples = [cells_of(p) for p in paths]
        t0 = time.perf_counter()
        for i, sheets in enumerate(samples):
            write_floor(folder / f"floor{i:05d}.xlsx", sheets)
        floor = time.perf_counter() - t0

        t0 = time.perf_counter()
        for p in paths:
            raw_read(p)
        raw = time.perf_counter() - t0

        t0 = time.perf_counter()
        ok = 0
        for (q, rec), p in zip(records, paths):
            ok += read_workbook(p, q).to_record() == rec
        read = time.perf_counter() - t0
        size = statistics.mean(p.stat().st_size for p in paths) / 1024

    n = args.n
    print(f"learner workbooks: {n} (both qualifications, both pathways), mean size {size:.0f} KiB")
    print(f"generate  tracker        {gen / n * 1000:7.2f} ms/workbook")
    print(f"          xlsxwriter floor {floor / n * 1000:5.2f} ms/workbook (same cells, no styling)")
    print(f"          ratio          {gen / floor:7.2f} x  (target <= 1.5)")
    print(f"read      tracker        {read / n * 1000:7.2f} ms/workbook (safety gate + model)")
    print(f"          calamine raw   {raw / n * 1000:7.2f} ms/workbook")
    print(f"          ratio          {read / raw:7.2f} x  (target <= 3)")
    print(f"round trip exact: {ok}/{n}")
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(main())
