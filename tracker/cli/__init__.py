"""The ``tracker`` command: thin adapters that parse arguments, call one library function each,
and render the result. No domain logic lives here.

Each sub-command lives in its own module in this package and exposes ``add_parser(sub)``, which
adds its parser to the ``argparse`` sub-parsers and sets ``func`` (taking the parsed namespace and
returning the exit code). Exit codes: 0 success, 1 errors found / operation failed, 2 misuse.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tracker.errors import TrackerError, UsageError
from tracker.terminal import for_terminal

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
    from tracker import __version__

    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    _remember_parsers(parser)
    return parser


def _remember_parsers(parser: argparse.ArgumentParser) -> None:
    """Set ``_parser`` on the namespace to the deepest sub-command parser that parsed it.

    argparse hands an option no sub-command knows up to the top-level parser, which then shows
    the top-level usage; with this, :func:`main` reports it with the sub-command's own usage.
    (A sub-parser's defaults are copied onto the namespace after its parent's, so the deepest
    wins.)
    """
    parser.set_defaults(_parser=parser)
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _remember_parsers(child)


def _unknown_options(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """'unrecognized arguments: --jsn (did you mean --json?)'."""
    import difflib

    known = [o for a in parser._actions for o in a.option_strings]
    hints = []
    for extra in extras:
        close = difflib.get_close_matches(extra.split("=", 1)[0], known, n=1) if extra.startswith("-") else []
        hints.append(f"{extra} (did you mean {close[0]}?)" if close else extra)
    return "unrecognized arguments: " + " ".join(hints)


def centre_spec_dirs(centre: str | None, *near: str | Path) -> list[Path]:
    """The qualification folders of the centre a command works in: ``--centre DIR`` when given,
    else the centre folder holding the current directory, else the one holding the first of
    ``near`` (the files the command works on). Empty outside any centre."""
    from tracker.centre.locate import centre_root

    if centre is None:
        roots = (centre_root(place) for place in (Path.cwd(), *near[:1]))
        centre = next((str(r) for r in roots if r is not None), None)
        if centre is None:  # outside any centre: nothing of the centre's is imported
            return []
    from tracker.centre.folder import open_centre

    return [open_centre(centre).specs]


def _tolerant_streams() -> None:
    """Never fail on printing: a character the terminal's encoding lacks (a Greek name on a
    cp1252 console) is written as an escape instead of raising UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    _tolerant_streams()
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub: argparse.ArgumentParser = getattr(args, "_parser", parser)
        sub.error(_unknown_options(sub, extras))
    try:
        code = args.func(args)
    except UsageError as e:
        print(f"tracker: {for_terminal(str(e))}", file=sys.stderr)
        return 2
    except TrackerError as e:
        print(f"tracker: {for_terminal(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tracker: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


def run() -> None:
    """Console-script wrapper: exit with main()'s code.

    A reader that goes away (``tracker validate DIR | head``) closes the pipe: that ends the
    command quietly with exit code 1 instead of a BrokenPipeError traceback. What is still
    buffered cannot be written, so stdout is pointed at the null device before Python's own
    flush at exit tries again (the recipe of the Python documentation, "Note on SIGPIPE").
    """
    try:
        code = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 1
    _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down, when nothing else needs to happen.

    The command has finished and its output is flushed. What a normal exit does next -- freeing
    every object of the few hundred modules a command imports -- takes 20-40 ms, a tenth of a
    one-file ``tracker validate``, and does nothing a finished command needs. So: the ``atexit``
    handlers still run (the standard library's and ours, e.g. multiprocessing ending its
    children), then ``os._exit``. Not while another thread is alive (a normal exit waits for
    non-daemon threads), and not under a tracer or coverage (they write their data at
    finalization); returns so the caller exits normally then.
    """
    import threading

    if threading.active_count() > 1 or sys.gettrace() is not None or "coverage" in sys.modules:
        return
    import atexit

    atexit._run_exitfuncs()  # what a normal exit runs first (CPython's own entry point for it)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)
