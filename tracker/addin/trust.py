"""What the add-in's Python process checks before it touches a workbook (README, Security).

The ribbon buttons start Python as ``python -I -c BOOTSTRAP ...`` (:data:`PYTHON_OPTIONS`,
:data:`tracker.addin.launch.BOOTSTRAP`): in isolated mode, neither the current folder nor the
``PYTHON*`` environment variables nor the user's site-packages reach ``sys.path``, and nothing
adds the workbook's folder to it, so ``tracker`` can only come from the interpreter's own
environment. :func:`check_installation` then confirms that at the start of every button's run:

* Python runs isolated (so an older add-in that starts Python the way xlwings' ``RunPython`` does,
  with the workbook's folder first on ``sys.path``, is refused rather than obeyed);
* the ``tracker`` package imported is the one ``tracker addin install`` recorded in the user's
  config file (``TRACKER_PACKAGE``), not another copy the interpreter happens to find.

A refusal is an :class:`AddinTrustError`; nothing of the workbook has been read by then.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tracker.addin.config import PACKAGE_KEY, config_file, read_config
from tracker.errors import TrackerError

# Python's command-line options for the add-in's process; the VBA (macros/Tracker.bas) and the
# macOS launcher script (macros/tracker.applescript) carry the same text (a test compares them).
PYTHON_OPTIONS = ("-I",)


class AddinTrustError(TrackerError):
    """The add-in's Python process is not the recorded installation, or was not started isolated."""


def package_dir() -> Path:
    """The folder of the ``tracker`` package this process imported."""
    import tracker

    return Path(tracker.__file__).resolve().parent


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.normcase(a.resolve()) == os.path.normcase(b.resolve())
    except OSError:
        return False


def is_isolated() -> bool:
    """True when neither the current folder nor PYTHON* variables can add modules (-I, or -E -P)."""
    flags = sys.flags
    return bool(flags.isolated or (flags.safe_path and flags.ignore_environment))


def check_installation(platform: str | None = None, home: Path | None = None) -> Path:
    """Refuse to go on unless this process is the installation the user recorded; returns it."""
    conf = config_file(platform, home)
    if not is_isolated():
        raise AddinTrustError(
            "Python was started without isolation (-I), so modules next to the workbook could have been "
            "loaded; nothing was run. An older Tracker add-in may still be installed: quit Excel and run  "
            "tracker addin install  again.")
    recorded = read_config(conf, platform).get(PACKAGE_KEY, "").strip()
    here = package_dir()
    if not recorded:
        raise AddinTrustError(
            f"{conf} records no tracker installation ({PACKAGE_KEY}); nothing was run. Quit Excel and run  "
            "tracker addin install  with the Python that should run the add-in.")
    if not _same_dir(Path(recorded), here):
        raise AddinTrustError(
            f"tracker was loaded from {here}, not from the installation recorded in {conf} ({recorded}); "
            "nothing was run. If this is the right installation, quit Excel and run  tracker addin "
            "install  from it again.")
    return here
