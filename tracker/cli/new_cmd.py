"""``tracker new`` (one learner or a cohort CSV) and ``tracker templates``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tracker.errors import UsageError
from tracker.terminal import for_terminal


def add_parser(sub: Any) -> None:
    """Add ``new`` and ``templates``."""
    p = sub.add_parser("new", help="create learner workbooks (one learner, or a cohort from CSV)",
                       description="Create a learner workbook, or one per row of a cohort file whose "
                                   "header row uses the cover labels (Learner name, ULN, Pathway, "
                                   "Assessor, IQA, Tutor, Employer, Registration date): a CSV as Excel "
                                   "or LibreOffice saves it (UTF-8 with or without BOM, Windows-1252 or "
                                   "UTF-16; comma, semicolon or tab separated) or an .xlsx/.ods/.xls "
                                   "sheet. An existing workbook is never overwritten without --force.")
    p.add_argument("--qualification", "-q", required=True, help="qualification number, e.g. 603/4687/5")
    p.add_argument("--learner-name")
    p.add_argument("--uln")
    p.add_argument("--pathway", help="face-to-face or non-facing (qualifications with either/or criteria)")
    p.add_argument("--assessor")
    p.add_argument("--iqa")
    p.add_argument("--tutor")
    p.add_argument("--employer")
    p.add_argument("--registration-date", help="YYYY-MM-DD or dd/mm/yyyy")
    p.add_argument("--planned-end-date", help="YYYY-MM-DD or dd/mm/yyyy")
    p.add_argument("--standard", help="apprenticeship standard code, e.g. ST0072 (makes the learner an apprentice)")
    p.add_argument("--start-date", help="the apprenticeship's start date")
    p.add_argument("--weekly-hours", help="contracted working hours a week")
    p.add_argument("--planned-otj-hours", help="planned off-the-job training hours")
    p.add_argument("--english-maths", help="English and maths status (see docs/apprenticeships.md)")
    p.add_argument("--reading", help="reading of an ambiguous specification (default: the spec's default)")
    p.add_argument("-o", "--output", type=Path, help="the workbook to write (one learner)")
    p.add_argument("--cohort", type=Path, help="cohort file (CSV, .xlsx, .ods, .xls): one workbook per row")
    p.add_argument("--out-dir", type=Path, help="folder for the cohort's workbooks")
    p.add_argument("--force", action="store_true", help="replace workbooks that already exist")
    p.add_argument("--centre", metavar="DIR",
                   help="centre folder whose added qualifications (DIR/specs) are known too (default: the "
                        "centre folder holding the current folder, if any)")
    p.set_defaults(func=_new)

    t = sub.add_parser("templates", help="regenerate workbook_templates/ (one blank workbook per qualification)")
    t.add_argument("--out", type=Path, default=Path("workbook_templates"))
    t.set_defaults(func=_templates)


def _new(args: argparse.Namespace) -> int:
    from tracker.spec.catalogue import find_spec_file, load_file, spec_hash
    from tracker.workbook.cohort import make_cohort, make_learner, resolve_reading
    from tracker.workbook.model import LearnerRecord
    from tracker.workbook.writer import new_workbook

    from tracker.cli import centre_spec_dirs

    spec_dirs = centre_spec_dirs(args.centre)
    spec = find_spec_file(args.qualification, spec_dirs)
    q = load_file(spec)
    reading = resolve_reading(q, args.reading)
    if args.cohort:
        if args.output or args.learner_name or args.uln:
            raise UsageError("--cohort makes one workbook per CSV row: drop --learner-name/--uln/-o")
        if not args.out_dir:
            raise UsageError("--cohort needs --out-dir")
        result = make_cohort(q, args.cohort, args.out_dir, reading=reading, progress=sys.stderr.isatty(),
                             force=args.force, spec_dirs=spec_dirs)
        for row in result.failed:
            print(for_terminal(f"{args.cohort}, {row.where} {row.line}: {row.problem}"), file=sys.stderr)
        print(f"{len(result.written)} workbook(s) written to {args.out_dir}; {len(result.failed)} row(s) failed")
        return 1 if result.failed else 0
    if not (args.learner_name and args.uln and args.output):
        raise UsageError("give --learner-name, --uln and -o FILE.xlsx (or --cohort CSV --out-dir DIR)")
    if args.output.exists() and not args.force:
        # It may be a learner's filled-in workbook: months of sign-offs.
        raise UsageError(f"{args.output} already exists; nothing was written (use --force to replace it)")
    learner = make_learner(q, name=args.learner_name, uln=args.uln, pathway=args.pathway,
                           assessor=args.assessor, iqa=args.iqa, tutor=args.tutor,
                           employer=args.employer, registration_date=args.registration_date,
                           planned_end_date=args.planned_end_date, standard=args.standard,
                           start_date=args.start_date, weekly_hours=args.weekly_hours,
                           planned_otj_hours=args.planned_otj_hours, english_maths=args.english_maths)
    path = new_workbook(q, LearnerRecord(learner), args.output, reading=reading, spec_hash=spec_hash(spec))
    print(for_terminal(str(path)))
    return 0


def _templates(args: argparse.Namespace) -> int:
    from tracker.workbook.templates import write_templates

    for path in write_templates(args.out):
        print(for_terminal(str(path)))
    return 0
