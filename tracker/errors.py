"""The few exceptions of the package: broken files and misuse, never learner data.

Problems *in* learner data are issues (see ``tracker.rules``); these exceptions are for files
that cannot be read at all, specification files that are wrong, and a centre folder or master
that cannot be used. Every message names the file so that a person can act on it.
"""

from __future__ import annotations

from pathlib import Path


class TrackerError(Exception):
    """Base class: an error whose message is meant for a person, shown without a traceback."""


class SpecError(TrackerError):
    """A qualification data file is missing, malformed or internally inconsistent."""

    def __init__(self, source: str | Path, problem: str) -> None:
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class UnknownQualification(TrackerError):
    """No qualification with that number (or id) is installed."""


class UnreadableWorkbook(TrackerError):
    """A workbook cannot be read: corrupt, foreign, encrypted, hostile or missing its structure.

    ``sheet`` and ``cell`` say where, when known.
    """

    def __init__(self, path: str | Path, reason: str, sheet: str | None = None,
                 cell: str | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.sheet = sheet
        self.cell = cell
        where = ""
        if sheet:
            where = f" (sheet '{sheet}'" + (f", cell {cell})" if cell else ")")
        super().__init__(f"{path}{where}: {reason}")


class CentreError(TrackerError):
    """A centre folder is missing, incomplete, or cannot be written."""


class MasterLocked(CentreError):
    """The centre master workbook is open in another program (Excel keeps a lock on it)."""


class MissingDependency(TrackerError):
    """An optional package a feature needs is not installed (the message says how to install it)."""


class UsageError(TrackerError):
    """A command was called with arguments that cannot work (exit code 2)."""
