"""``tracker addin build|install|status``: the Excel add-in (tracker.xlam)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    """Add the ``addin`` command and its three actions to the sub-parsers ``sub``."""
    parser = sub.add_parser(
        "addin",
        help="build, install or inspect the Excel add-in (tracker.xlam)",
        description="The Excel add-in: a ribbon tab 'Tracker' whose buttons run this "
        "package's functions on the open workbook through xlwings.",
    )
    actions = parser.add_subparsers(dest="addin_action", metavar="ACTION")
    actions.required = True

    build = actions.add_parser(
        "build", help="build tracker.xlam from macros/ (works on any OS)",
        description="Build the add-in from the VBA and ribbon sources in macros/ and the "
        "installed xlwings; Excel is not needed.")
    build.add_argument("-o", "--output", type=Path, default=Path("tracker.xlam"),
                       metavar="PATH", help="where to write the add-in (default: tracker.xlam)")
    build.set_defaults(func=_build)

    install = actions.add_parser(
        "install", help="install the add-in into Excel's startup folder (Windows, macOS)",
        description="Copy the add-in into Excel's per-user startup folder and record this "
        "Python interpreter in xlwings.conf. Quit Excel first.")
    install.add_argument("--xlam", type=Path, default=None, metavar="PATH",
                         help="the add-in to install (default: build it now)")
    install.set_defaults(func=_install)

    status = actions.add_parser(
        "status", help="say where the add-in is installed and which Python it runs",
        description="Show where the add-in is (or would be) installed and which interpreter "
        "it is configured to run.")
    status.set_defaults(func=_status)


def _build(args: argparse.Namespace) -> int:
    from tracker.addin.build import build_addin

    path = build_addin(args.output)
    print(f"built {path}")
    return 0


def _install(args: argparse.Namespace) -> int:
    from tracker.addin.install import install

    path = install(args.xlam)
    print(f"installed {path}; restart Excel to load it")
    return 0


def _status(args: argparse.Namespace) -> int:
    from tracker.addin.install import status

    info = status()
    for key, value in info.items():
        print(f"{key}: {'-' if value is None else value}")
    return 0
