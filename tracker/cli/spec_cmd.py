"""``tracker spec``: list, show, import and add qualification specifications."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tracker.errors import SpecError


def add_parser(sub: Any) -> None:
    """Add ``spec`` and its sub-commands to the top-level sub-parsers."""
    p = sub.add_parser("spec", help="list, show, import and add qualification specifications",
                       description="Qualification specifications: list the installed ones, show "
                                   "one, import one from the awarding body's text, install one.")
    spec_sub = p.add_subparsers(dest="spec_command", metavar="SUBCOMMAND")
    spec_sub.required = True

    ls = spec_sub.add_parser("list", help="one line per installed qualification")
    ls.add_argument("--centre", metavar="DIR",
                    help="include the centre folder's added qualifications (default: the centre folder "
                         "holding the current folder, if any)")
    ls.set_defaults(func=_list)

    show = spec_sub.add_parser("show", help="units and criteria of one qualification")
    show.add_argument("number", metavar="QUALIFICATION_NUMBER",
                      help="qualification number (603/4687/5 or 60346875) or id")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=_show)

    imp = spec_sub.add_parser(
        "import", help="import a qualification from its specification text",
        description="Parse a specification's text into a qualification data file. Findings "
                    "(with line numbers) and questions for a person go to stderr; exit 1 when a "
                    "cross-check fails.")
    imp.add_argument("text", metavar="SPEC.txt", help="the specification as text")
    imp.add_argument("-o", "--output", metavar="FILE.yaml",
                     help="write the YAML here (default: stdout)")
    imp.set_defaults(func=_import)

    add = spec_sub.add_parser(
        "add", help="validate a qualification data file and install it",
        description="Validate a qualification data file and install it for this user, or with --centre "
                    "into a centre folder's specs/ (then every command working in that centre sees it).")
    add.add_argument("file", metavar="FILE.yaml")
    add.add_argument("--centre", metavar="DIR", help="install into this centre folder's specs/")
    add.set_defaults(func=_add)


def _list(args: argparse.Namespace) -> int:
    from tracker.spec.catalogue import broken_spec_files, list_qualifications

    from tracker.cli import centre_spec_dirs

    dirs = centre_spec_dirs(args.centre)
    for q in list_qualifications(dirs):
        print(f"{q.number}  {q.title}  ({len(q.units)} units, {q.criterion_count()} criteria)")
    for problem in broken_spec_files(dirs):
        print(f"skipped (broken): {problem}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from tracker.spec.catalogue import load_qualification
    from tracker.spec.export import to_public_dict, to_text

    q = load_qualification(args.number)
    if args.json:
        print(json.dumps(to_public_dict(q), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(to_text(q))
    return 0


def _import(args: argparse.Namespace) -> int:
    from tracker.spec.importer import dump_yaml, import_spec_file, iter_messages, write_yaml

    result = import_spec_file(args.text)
    if args.output:
        write_yaml(result, args.output)
    else:
        sys.stdout.write(dump_yaml(result))
    for line in iter_messages(result):
        print(line, file=sys.stderr)
    if result.errors:
        print(f"tracker: {len(result.errors)} error(s) in {args.text}: fix the text or the YAML "
              "before `tracker spec add`", file=sys.stderr)
        return 1
    if result.qualification is None:  # pragma: no cover - every invalid import has an error
        raise SpecError(args.text, "the imported data does not validate")
    if args.output:
        print(f"wrote {args.output}: {len(result.qualification.units)} units, "
              f"{result.qualification.criterion_count()} criteria, {len(result.questions)} "
              "question(s) to review", file=sys.stderr)
    return 0


def _add(args: argparse.Namespace) -> int:
    from tracker.spec.importer import add_spec

    folder = None
    if args.centre:
        from tracker.centre.folder import open_centre

        folder = open_centre(args.centre).specs
    dest = add_spec(Path(args.file), folder)
    print(f"installed {args.file} as {dest}")
    return 0
