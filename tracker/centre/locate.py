"""Where a centre folder is: the one file that marks it, and the search upwards for it.

Kept apart from :mod:`tracker.centre.folder` (which opens a centre and brings SQLite, the register
and the lock with it) so that a command run outside any centre -- ``tracker validate FILE`` --
can tell that it is outside one without importing any of that.
"""

from __future__ import annotations

from pathlib import Path

#: the file that makes a folder a centre folder
CONFIG_NAME = "centre.yaml"


def is_centre(root: str | Path) -> bool:
    """True when ``root`` holds a ``centre.yaml``."""
    return (Path(root) / CONFIG_NAME).is_file()


def centre_root(path: str | Path) -> Path | None:
    """The centre folder holding ``path`` (a workbook or folder: itself or a folder above it),
    or None outside any centre."""
    p = Path(path).absolute()
    for folder in (p, *p.parents) if p.is_dir() else p.parents:
        if is_centre(folder):
            return folder
    return None
