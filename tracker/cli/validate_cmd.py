"""``tracker validate``: check learner workbooks; text or JSON out; optionally mark the workbooks."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from tracker.errors import TrackerError, UsageError

_NOT_MARKED = frozenset({"file-unreadable", "internal-error"})


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in the form YYYY-MM-DD: {text!r}") from None


def add_parser(sub: Any) -> None:
    """Add ``validate`` to the top-level sub-parsers."""
    p = sub.add_parser(
        "validate", help="check learner workbooks against their qualification's rules",
        description="Check learner workbooks (files, or folders of .xlsx/.xlsm files) against their "
                    "qualification's rules. Every problem is listed with a stable code, its severity and "
                    "its sheet and cell (see docs/issues.md). Exit code 0 when no errors were found "
                    "(warnings allowed), 1 when any error was found, 2 when the command is misused.")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="learner workbooks or folders of them")
    p.add_argument("--register", metavar="REGISTER.xlsx",
                   help="centre register (staff, declared interests) for the staff and interest checks")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--mark", action="store_true",
                   help="write the results into each workbook: a Validation sheet and highlighted cells")
    p.add_argument("--reading", metavar="ID",
                   help="reading of an ambiguous specification to apply (default: the workbook's, else "
                        "the qualification's default)")
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD",
                   help="the date that counts as today for the 'date in the future' check")
    p.add_argument("-q", "--quiet", action="store_true", help="leave information (progress) out of the text")
    p.set_defaults(func=run)


def _check_reading(reading: str) -> None:
    from tracker.spec.catalogue import list_qualifications

    known = {r.id for q in list_qualifications() for r in q.readings}
    if reading not in known:
        raise UsageError(f"no installed qualification has a reading {reading!r} "
                         f"(readings: {', '.join(sorted(known)) or 'none'})")


def run(args: argparse.Namespace) -> int:
    """Validate, render, mark; returns the exit code."""
    from tracker.rules.engine import expand_paths, validate_paths
    from tracker.issues import Severity, Task
    from tracker.rules.render import render_json, render_text

    for p in args.paths:
        if not Path(p).exists():
            raise UsageError(f"no such file or folder: {p}")
    files = list(expand_paths(args.paths))
    if not files:
        raise UsageError("no workbooks (.xlsx, .xlsm) found in " + ", ".join(args.paths))
    if args.reading is not None:
        _check_reading(args.reading)
    register = None
    reg_task: Task | None = None
    if args.register:
        if not Path(args.register).is_file():
            raise UsageError(f"no such register file: {args.register}")
        from tracker.register import read_register

        register, reg_issues = read_register(args.register)
        if reg_issues:
            reg_task = Task(file=str(args.register), issues=reg_issues)

    from tracker.centre.check import find_centre, validate_in_centre

    # Inside a centre folder (and no --reading asked for) a workbook is checked as its centre
    # checks it, with the centre-wide independence check from the ledger.
    centre = find_centre(args.paths[0]) if args.reading is None else None
    if centre is not None:
        report = validate_in_centre(files, centre, register, args.today)
    else:
        report = validate_paths(files, register=register, reading=args.reading, today=args.today, progress=True)
    if reg_task is not None:
        report.tasks.insert(0, reg_task)

    mark_failed = False
    if args.mark:
        from tracker.workbook.marks import apply_marks_to_file, plan_marks

        for task in report.tasks:
            if task is reg_task or any(i.code in _NOT_MARKED for i in task.issues):
                continue
            try:
                apply_marks_to_file(task.file, plan_marks(task))
            except TrackerError as e:
                print(f"tracker: not marked: {e}", file=sys.stderr)
                mark_failed = True

    if args.json:
        sys.stdout.write(render_json(report))
    else:
        sys.stdout.write(render_text(report, min_severity=Severity.WARNING if args.quiet else Severity.INFO))
    return 0 if report.valid and not mark_failed else 1
