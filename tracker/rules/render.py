"""Renderers of a validation :class:`~tracker.issues.Report`: terminal text and JSON.

Text, grouped per file::

    learners/Bob_Learner_1000000043.xlsx - Bob Learner (ULN 1000000043), 603/4687/5
      ERROR    Unit 9!G15    S9.4 belongs to the non-facing option, but ... [pathway-option-mismatch]
      WARNING  Unit 9!F12    S9.1 is marked Met but has no evidence date [completion-met-no-evidence-date]
      3 errors, 1 warning, 2 info
    2 files: 1 with errors; 3 errors, 1 warning, 2 info

JSON has exactly the shape documented for ``tracker validate --json``:
``{"files": [{"file", "learner", "uln", "qualification_number", "issues": [{"code", "severity",
"message", "sheet", "cell", "unit", "criterion"}], "counts"}], "counts"}``.
(The in-workbook Validation sheet is :mod:`tracker.workbook.marks`.)

Text is for a terminal: every line is passed through :func:`tracker.terminal.for_terminal`, so a
file name or a cell's text can never move the cursor, erase a line or break one in two.
"""

from __future__ import annotations

import json

from tracker.issues import Issue, Report, Severity, Task, counts_text
from tracker.terminal import for_terminal

_LABEL = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}


def location(issue: Issue) -> str:
    """'Unit 9!G14', 'Cover', or '' -- where an issue is, as a person reads it."""
    if issue.sheet and issue.cell:
        return f"{issue.sheet}!{issue.cell}"
    return issue.sheet or ""


def task_heading(task: Task) -> str:
    """The first line of a file's block."""
    who = task.learner or "(no learner name)"
    if task.uln:
        who += f" (ULN {task.uln})"
    qn = f", {task.qualification_number}" if task.qualification_number else ""
    if not task.learner and not task.uln and not task.qualification_number:
        return task.file
    return f"{task.file} - {who}{qn}"


def render_text(report: Report, *, min_severity: Severity = Severity.INFO, only_problems: bool = False) -> str:
    """The report as text for a terminal; issues less severe than ``min_severity`` are left out,
    and with ``only_problems`` so are the files with nothing left to show (the total stays)."""
    lines: list[str] = []
    for task in report.tasks:
        shown = [i for i in task.sorted_issues() if i.severity.rank <= min_severity.rank]
        if only_problems and not shown:
            continue
        lines.append(task_heading(task))
        width = max((len(location(i)) for i in shown), default=0)
        width = min(max(width, 8), 24)
        for i in shown:
            lines.append(f"  {_LABEL[i.severity]:<8} {location(i):<{width}}  {i.message} [{i.code}]")
        if not task.issues:
            lines.append("  no problems found")
        else:
            lines.append(f"  {counts_text(task.counts)}")
    c = report.counts
    n = c["files"]
    bad = sum(1 for t in report.tasks if not t.valid)
    lines.append(f"{n} file{'' if n == 1 else 's'}: {bad} with errors; {counts_text(c)}")
    return "\n".join(for_terminal(line) for line in lines) + "\n"


def render_json(report: Report, *, indent: int | None = 2) -> str:
    """The report as JSON (see the module docstring for the shape)."""
    return json.dumps(report.to_dict(), indent=indent, ensure_ascii=False) + "\n"
