"""The start of the add-in's Python process: what a ribbon button runs.

The add-in's VBA (``macros/Tracker.bas``, Windows) and its launcher script
(``macros/tracker.applescript``, macOS) start the recorded interpreter as::

    python -I -c BOOTSTRAP LOG_FILE ACTION --wb=BOOK --from_xl=1 [--hwnd=HWND]

:data:`BOOTSTRAP` sends everything Python writes to stderr -- a refusal, a traceback, even "No
module named tracker" -- to ``LOG_FILE``, which the VBA shows in a message box when Python ends
(there is no console to see it in), then calls :func:`main` with ``ACTION``. ``--wb``,
``--from_xl`` and ``--hwnd`` are the arguments ``xw.Book.caller()`` reads to find the workbook, as
xlwings' ``RunPython`` passes them. Nothing of xlwings' own start-up runs: no settings are read
from the workbook or its folder, and ``xlwings.utils.prepare_sys_path`` (which puts the workbook's
folder first on ``sys.path``) is never called (README, Security).
"""

from __future__ import annotations

import sys

# The Python code of the command line, as the VBA and the AppleScript carry it (a test compares
# them). Single quotes only: the Windows command line quotes the whole code in double quotes.
BOOTSTRAP = ("import sys;sys.stderr=open(sys.argv[1],'a',errors='replace');"
             "import tracker.addin.launch as t;t.main(sys.argv[2])")

# ACTION -> the function of tracker.addin.excel it runs (the only functions a button can run).
ACTIONS = {
    "validate": "validate",
    "rollup": "rollup",
    "new-workbook": "new_workbook",
    "open-centre-folder": "open_centre_folder",
    "issue-workbooks": "issue_workbooks",
    "report": "report",
}

EXIT_USAGE = 2
EXIT_REFUSED = 3


def main(action: str) -> None:
    """Run the button ``action`` on the calling workbook; a refusal ends the process with a message.

    Any other error propagates: Python prints its traceback to the log and exits with status 1.
    """
    from tracker.addin.trust import AddinTrustError

    name = ACTIONS.get(action)
    if name is None:
        print(f"Tracker: unknown action {action!r} (known: {', '.join(ACTIONS)})", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    from tracker.addin import excel

    try:
        getattr(excel, name)()
    except AddinTrustError as e:
        print(f"Tracker refused to run: {e}", file=sys.stderr)
        raise SystemExit(EXIT_REFUSED) from None
