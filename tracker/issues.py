"""Issues as data: issue types (the catalogue), issues found, one task per workbook, the report.

Shaped after frictionless-py: every kind of finding is an :class:`IssueType` with a stable code,
a severity, a title, a description, how to fix it and a message template; a check declares the
types it can emit. An :class:`Issue` is one finding with its location (file, sheet, A1 cell,
unit, criterion). A :class:`Task` holds one workbook's issues; a :class:`Report` holds the tasks
of a validation run and is what the validation renderers (terminal text, JSON, the Validation
sheet) draw from.

This is a base module: the workbook layer (the Validation sheet), the centre register and the
rules all use it, so it imports nothing of tracker's but the standard library.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How serious a finding is: errors block completion; warnings and info do not."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for error, 1 for warning, 2 for info (for sorting)."""
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, slots=True)
class IssueType:
    """One kind of finding. ``template`` is formatted with the keyword values of each issue."""

    code: str
    severity: Severity
    title: str
    template: str
    description: str
    fix: str
    group: str = ""

    def __call__(self, *, file: str = "", sheet: str | None = None, cell: str | None = None,
                 unit: str | None = None, criterion: str | None = None, **values: Any) -> Issue:
        """An :class:`Issue` of this type at the given location."""
        try:
            message = self.template.format(**values)
        except (KeyError, IndexError) as e:  # a programming error in a check: keep the issue anyway
            message = f"{self.title} ({e})"
        # Values quoted from a workbook may hold line breaks; a message is one line wherever it
        # is shown (terminal, JSON consumers, one row of the Validation sheet).
        if "\n" in message or "\r" in message:
            message = " ".join(message.split())
        return Issue(self.code, self.severity, message, file, sheet, cell, unit, criterion)


CATALOGUE: dict[str, IssueType] = {}


def issue_type(code: str, severity: Severity | str, title: str, template: str, description: str,
               fix: str, group: str = "") -> IssueType:
    """Declare an issue type and register it in :data:`CATALOGUE` (codes are unique)."""
    if code in CATALOGUE:
        raise ValueError(f"issue code {code} declared twice")
    t = IssueType(code, Severity(severity), title, template, description, fix, group)
    CATALOGUE[code] = t
    return t


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding with its location. ``cell`` is an A1 reference on ``sheet``."""

    code: str
    severity: Severity
    message: str
    file: str = ""
    sheet: str | None = None
    cell: str | None = None
    unit: str | None = None
    criterion: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``issues`` entries of ``tracker validate --json``)."""
        return {"code": self.code, "severity": self.severity.value, "message": self.message,
                "sheet": self.sheet, "cell": self.cell, "unit": self.unit, "criterion": self.criterion}

    @property
    def sort_key(self) -> tuple[Any, ...]:
        """Stable order: severity, then sheet, then row/column of the cell, then code."""
        return (self.severity.rank, self.sheet or "", _cell_order(self.cell), self.code, self.message)


def _cell_order(cell: str | None) -> tuple[int, str]:
    if not cell:
        return (0, "")
    letters = "".join(ch for ch in cell if ch.isalpha())
    digits = "".join(ch for ch in cell if ch.isdigit())
    return (int(digits) if digits else 0, letters.rjust(3))


def count(issues: list[Issue]) -> dict[str, int]:
    """Counts per severity (always all three keys)."""
    c = Counter(i.severity.value for i in issues)
    return {s.value: c.get(s.value, 0) for s in Severity}


def _plural(n: int, word: str) -> str:
    if word == "info":
        return f"{n} info"
    return f"{n} {word}{'' if n == 1 else 's'}"


def counts_text(counts: dict[str, int]) -> str:
    """'3 errors, 1 warning, 2 info' for the severity counts of :func:`count`."""
    return ", ".join(_plural(counts.get(s.value, 0), s.value) for s in Severity)


@dataclass(slots=True)
class Task:
    """One workbook's validation: who, which file, its issues."""

    file: str
    learner: str = ""
    uln: str = ""
    qualification_number: str = ""
    workbook_id: str = ""
    issues: list[Issue] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Issues per severity."""
        return count(self.issues)

    @property
    def valid(self) -> bool:
        """True when the workbook has no error."""
        return not any(i.severity is Severity.ERROR for i in self.issues)

    def sorted_issues(self) -> list[Issue]:
        """Issues in display order."""
        return sorted(self.issues, key=lambda i: i.sort_key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one entry of ``files``)."""
        return {"file": self.file, "learner": self.learner, "uln": self.uln,
                "qualification_number": self.qualification_number,
                "issues": [i.to_dict() for i in self.sorted_issues()], "counts": self.counts}


@dataclass(slots=True)
class Report:
    """Tasks of a validation run; ``valid`` when no task has an error."""

    tasks: list[Task] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Issues per severity over all tasks, plus the number of files."""
        c = count([i for t in self.tasks for i in t.issues])
        return {"files": len(self.tasks), **c}

    @property
    def valid(self) -> bool:
        """True when no task has an error."""
        return all(t.valid for t in self.tasks)

    def issues(self) -> list[tuple[Task, Issue]]:
        """Every issue with its task, tasks in order, issues in display order."""
        return [(t, i) for t in self.tasks for i in t.sorted_issues()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of ``tracker validate --json``."""
        return {"files": [t.to_dict() for t in self.tasks], "counts": self.counts}
