"""Add-in content: sheets that carry settings or code for xlwings, which drives Excel add-ins.

xlwings' own VBA reads a sheet named ``xlwings.conf`` (or ``<add-in>.conf``) of the workbook it
runs on *before* the user's config file -- the Python interpreter to start, its import path -- and
runs the Python code of sheets named ``*.py``. A returned workbook is data from outside the centre:
the Tracker add-in never reads such sheets (README, Security), and a workbook that carries one is
reported, so that nobody trusts it by mistake with another tool. The sheet is found whether it is
visible, hidden or very hidden (the reader lists them all).
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.issues import Issue, Severity, issue_type
from tracker.rules.checks.base import Context, check
from tracker.workbook import layout as L

ADDIN_SETTINGS = issue_type(
    "structure-addin-settings", Severity.ERROR, "Workbook carries add-in settings",
    "This workbook carries add-in settings (sheet '{name}'); they were not used",
    "The workbook has a sheet whose name ends in .conf, such as xlwings.conf. Excel add-ins built "
    "on xlwings read such a sheet for their settings, including which program to start, so a "
    "returned workbook could use it to run a program of the sender's choosing. tracker's add-in "
    "never reads it, and a learner workbook has no need of it.",
    "Ask the sender why the workbook has this sheet. Delete the sheet (right-click its tab > Delete; "
    "a hidden sheet first needs right-click > Unhide) and save, or copy the entries into a fresh "
    "workbook from the centre.", group="structure")
ADDIN_CODE = issue_type(
    "structure-addin-code", Severity.ERROR, "Workbook carries Python code",
    "This workbook carries Python code for an add-in (sheet '{name}'); it was not run",
    "The workbook has a sheet whose name ends in .py. Excel add-ins built on xlwings run the text "
    "of such a sheet as Python code. tracker never runs it, and a learner workbook has no need of it.",
    "Ask the sender why the workbook has this sheet. Delete the sheet (right-click its tab > Delete; "
    "a hidden sheet first needs right-click > Unhide) and save, or copy the entries into a fresh "
    "workbook from the centre.", group="structure")

_BY_KIND = {"settings": ADDIN_SETTINGS, "code": ADDIN_CODE}


@check(ADDIN_SETTINGS, ADDIN_CODE, needs_spec=False)
def addin_content(ctx: Context) -> Iterator[Issue]:
    """Sheets named like xlwings' settings (``*.conf``) or code (``*.py``) sheets."""
    for name in ctx.book.sheet_names:
        kind = L.xlwings_sheet_kind(name)
        if kind is not None:
            yield ctx.issue(_BY_KIND[kind], sheet=name, name=name)
