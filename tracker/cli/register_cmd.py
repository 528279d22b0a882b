"""``tracker register``: create a blank centre register, or check one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tracker.errors import UsageError


def add_parser(sub: Any) -> None:
    """Add ``register`` and its sub-commands to the top-level sub-parsers."""
    p = sub.add_parser("register", help="create or check the centre register (staff, declared interests)",
                       description="The centre register is an Excel workbook admins edit: a Staff sheet "
                                   "(name, roles, assessor and IQA qualifications and status, "
                                   "countersigner) and an Interests sheet (declared personal interests).")
    rs = p.add_subparsers(dest="register_command", metavar="SUBCOMMAND")
    rs.required = True
    new = rs.add_parser("new", help="write a blank register with dropdowns")
    new.add_argument("file", metavar="FILE.xlsx")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.set_defaults(func=_new)
    chk = rs.add_parser("check", help="read a register and list its bad rows (exit 1 on errors)")
    chk.add_argument("file", metavar="FILE.xlsx")
    chk.add_argument("--json", action="store_true", help="print the findings as JSON")
    chk.set_defaults(func=_check)


def _new(args: argparse.Namespace) -> int:
    from tracker.register import new_register

    out = Path(args.file)
    if out.exists() and not args.force:
        raise UsageError(f"{out} already exists (use --force to overwrite it)")
    if out.suffix.lower() != ".xlsx":
        raise UsageError(f"{out}: the register must be an .xlsx file")
    new_register(out)
    print(f"wrote {out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from tracker.register import read_register
    from tracker.issues import Report, Task
    from tracker.rules.render import render_json, render_text

    if not Path(args.file).is_file():
        raise UsageError(f"no such file: {args.file}")
    reg, issues = read_register(args.file)
    report = Report([Task(file=args.file, issues=issues)])
    if args.json:
        from tracker.terminal import json_bytes

        sys.stdout.flush()
        sys.stdout.buffer.write(json_bytes(render_json(report)))
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(render_text(report))
        print(f"{len(reg.staff)} staff, {len(reg.interests)} declared interest(s)")
    return 0 if report.valid else 1
