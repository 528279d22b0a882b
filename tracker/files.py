"""Writing a file so that a crash never leaves it half-written: write beside it, then rename.

Every file tracker writes for people (learner workbooks, the register, marks, add-in, data files)
goes through :func:`replaced_atomically`; the roll-up's master and ledger have their own, stricter
protocol in :mod:`tracker.centre.publish`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Temporary files start with this, so that folder scans (tracker validate DIR, the roll-up's
# inbox) can pass them over.
TEMP_PREFIX = ".~tracker-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def replaced_atomically(target: str | Path, *, suffix: str = ".tmp", fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; when the block ends normally it replaces
    ``target`` (``os.replace``, atomic on one file system), otherwise it is removed.

    The new file gets the permissions of the file it replaces, or those of a new file (mkstemp
    alone would leave it private, 0600). ``fsync`` flushes it to disk before the rename.
    """
    out = Path(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if out.exists():
            shutil.copymode(out, tmp)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomically(target: str | Path, data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``target`` through :func:`replaced_atomically`."""
    with replaced_atomically(target, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(target)
