"""The ``tracker`` command: thin adapters that parse arguments, call one library function each,
and render the result. No domain logic lives here.

Each sub-command lives in its own module in this package and exposes ``add_parser(sub)``, which
adds its parser to the ``argparse`` sub-parsers and sets ``func`` (taking the parsed namespace and
returning the exit code). Exit codes: 0 success, 1 errors found / operation failed, 2 misuse.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tracker.errors import TrackerError, UsageError

# Modules are imported lazily by name so that `tracker validate` does not pay for pandas etc.
COMMAND_MODULES = [
    "tracker.cli.spec_cmd",
    "tracker.cli.new_cmd",
    "tracker.cli.validate_cmd",
    "tracker.cli.register_cmd",
    "tracker.cli.centre_cmd",
    "tracker.cli.report_cmd",
    "tracker.cli.addin_cmd",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on misuse already; keep its one-line message and usage.
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the test that every command is documented)."""
    parser = _Parser(prog="tracker", description=(
        "Tracking workbooks for portfolio-assessed qualifications: create learner workbooks, "
        "validate returned ones, roll a centre's returns up into its master workbook. "
        "`tracker COMMAND --help` explains each command."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except UsageError as e:
        print(f"tracker: {e}", file=sys.stderr)
        return 2
    except TrackerError as e:
        print(f"tracker: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tracker: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


def run() -> None:
    """Console-script wrapper: exit with main()'s code."""
    sys.exit(main())
