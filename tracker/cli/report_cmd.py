"""``tracker report``: the EQA visit pack and the learners' tracking records as PDF files."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """Add ``tracker report`` to the top-level sub-parsers."""
    p = sub.add_parser(
        "report", help="write the EQA visit pack and each learner's tracking record as PDF files",
        description="Write, from the centre ledger, centre-pack.pdf (summary with charts, sampling strategy, "
                    "plan and record, conflict-of-interest register, staff register, open issues) and "
                    "learners/<ULN> <name> <qualification>.pdf (one tracking record per learner) into OUT "
                    "(default DIR/reports). With --learner, only those learners' records are written.")
    p.add_argument("dir", metavar="DIR", help="the centre folder")
    p.add_argument("-o", "--output", metavar="OUT", help="output folder (default: DIR/reports)")
    p.add_argument("--learner", metavar="ULN", action="append", default=[],
                   help="only this learner's tracking record (repeatable)")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from tracker.centre.report import write_reports

    result = write_reports(args.dir, args.output, args.learner)
    for path, pages in result.pages.items():
        print(f"{path} ({pages} page(s))")
    return 0
