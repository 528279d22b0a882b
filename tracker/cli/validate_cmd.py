"""``tracker validate``: check learner workbooks; text or JSON out; optionally mark the workbooks."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from tracker.errors import UsageError
from tracker.terminal import for_terminal

_NOT_MARKED = frozenset({"file-unreadable", "internal-error", "file-not-learner-workbook"})


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in the form YYYY-MM-DD: {text!r}") from None


def add_parser(sub: Any) -> None:
    """Add ``validate`` to the top-level sub-parsers."""
    p = sub.add_parser(
        "validate", help="check learner workbooks against their qualification's rules",
        description="Check learner workbooks (files, or folders of .xlsx, .xlsm, .ods and .xls files) "
                    "against their qualification's rules. Every problem is listed with a stable code, "
                    "its severity and its sheet and cell (see docs/issues.md); the files of a folder "
                    "that were skipped are listed with the reason. Exit code 0 when no errors were "
                    "found (warnings allowed), 1 when any error was found, 2 when the command is misused.")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="learner workbooks or folders of them")
    p.add_argument("--register", metavar="REGISTER.xlsx",
                   help="centre register (staff, declared interests) for the staff and interest checks")
    p.add_argument("--centre", metavar="DIR",
                   help="centre folder whose added qualifications (DIR/specs) are known too (default: the "
                        "centre folder holding the current folder or the first workbook, if any)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--mark", action="store_true",
                   help="write the results into each .xlsx workbook: a Validation sheet and highlighted cells")
    p.add_argument("--reading", metavar="ID",
                   help="reading of an ambiguous specification to apply (default: the workbook's, else "
                        "the qualification's default)")
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD",
                   help="the date that counts as today for the 'date in the future' check")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="only the files with errors or warnings (no information), and the total")
    p.set_defaults(func=run)


def _check_reading(reading: str, spec_dirs: list[Path]) -> None:
    from tracker.spec.catalogue import list_qualifications

    known = {r.id for q in list_qualifications(spec_dirs) for r in q.readings}
    if reading not in known:
        raise UsageError(f"no installed qualification has a reading {reading!r} "
                         f"(readings: {', '.join(sorted(known)) or 'none'})")


def run(args: argparse.Namespace) -> int:
    """Validate, render, mark; returns the exit code."""
    from tracker.cli import centre_spec_dirs
    from tracker.issues import Severity, Task
    from tracker.rules.engine import scan_paths, validate_paths
    from tracker.rules.render import render_text
    from tracker.terminal import json_bytes

    for p in args.paths:
        if not Path(p).exists():
            raise UsageError(f"no such file or folder: {p}")
    files, skipped = scan_paths(args.paths)
    if not args.json:
        for path, why in skipped:
            print(f"skipped  {path}: {why}", file=sys.stderr)
    if not files:
        raise UsageError("no workbooks (.xlsx, .xlsm, .ods, .xls) found in " + ", ".join(args.paths))
    spec_dirs = centre_spec_dirs(args.centre, *args.paths)
    if args.reading is not None:
        _check_reading(args.reading, spec_dirs)
    register = None
    reg_task: Task | None = None
    if args.register:
        if not Path(args.register).is_file():
            raise UsageError(f"no such register file: {args.register}")
        from tracker.register import read_register

        register, reg_issues = read_register(args.register)
        if reg_issues:
            reg_task = Task(file=str(args.register), issues=reg_issues)

    from tracker.centre.locate import centre_root

    # Inside a centre folder (and no --reading asked for) a workbook is checked as its centre
    # checks it (its qualifications, readings, register, policy), with the centre-wide
    # independence check from the ledger. Outside one, the centre's modules are not imported.
    root = centre_root(args.centre or args.paths[0]) if args.reading is None else None
    if root is not None:
        from tracker.centre.check import find_centre, validate_in_centre

        centre = find_centre(root)
        assert centre is not None
        report = validate_in_centre(files, centre, register, args.today)
    else:
        report = validate_paths(files, register=register, reading=args.reading, today=args.today, progress=True,
                                spec_dirs=spec_dirs)
    if reg_task is not None:
        report.tasks.insert(0, reg_task)

    mark_failed = False
    if args.mark:
        mark_failed = _mark(report.tasks, reg_task)

    if args.json:
        data = report.to_dict()  # render_json's shape, plus the files of folders that were skipped
        data["skipped"] = [{"file": str(path), "reason": why} for path, why in skipped]
        sys.stdout.flush()  # bytes: a file name that is not UTF-8 is written as its JSON escape
        sys.stdout.buffer.write(json_bytes(json.dumps(data, indent=2, ensure_ascii=False) + "\n"))
        sys.stdout.buffer.flush()
    elif args.quiet:
        sys.stdout.write(render_text(report, min_severity=Severity.WARNING, only_problems=True))
    else:
        sys.stdout.write(render_text(report))
    return 0 if report.valid and not mark_failed else 1


def _mark(tasks: list[Any], reg_task: Any) -> bool:
    """Mark every workbook that can be; say on stderr what was marked, what not and why.

    The marking itself runs in worker processes with limits (it parses the file with openpyxl),
    and never replaces a file it cannot round-trip. Returns True when any workbook asked for
    could not be marked."""
    from tracker.issues import counts_text
    from tracker.workbook.marks import mark_files, mark_refusal, plan_marks

    marked = refused = 0
    jobs: list[tuple[str, Any]] = []
    counted: list[Any] = []
    for task in tasks:
        if task is reg_task:
            continue
        if any(i.code in _NOT_MARKED for i in task.issues):
            _say(f"not marked  {task.file}: it could not be read as a learner workbook (see above)")
            refused += 1
            continue
        why = mark_refusal(task.file)
        if why is not None:
            _say(f"not marked  {task.file}: {why}")
            refused += 1
            continue
        jobs.append((task.file, plan_marks(task)))
        counted.append(task)
    for task, problem in zip(counted, mark_files(jobs)):
        if problem is not None:
            _say(f"not marked  {task.file}: {problem}")
            refused += 1
        else:
            marked += 1
            _say(f"marked      {task.file}: {counts_text(task.counts)}")
    print(f"{marked} workbook(s) marked, {refused} not marked", file=sys.stderr)
    return refused > 0


def _say(text: str) -> None:
    print(for_terminal(text), file=sys.stderr)
