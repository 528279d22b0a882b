"""A cache of validated qualification data files, so that a command does not validate them again.

Validating a data file means parsing its YAML and running pydantic over it, which costs more than
the rest of a one-file ``tracker validate`` put together (pydantic alone takes ~100 ms to import
and build its schema). Once a file has been validated, its data is written here as JSON, keyed by
a hash of the file's bytes and of the code that defines the format; the next run rebuilds the
qualification from that JSON (:func:`tracker.spec.models.from_data`) without importing pydantic.

Where: ``$TRACKER_CACHE_DIR`` if set (set it empty to turn the cache off), else
``$XDG_CACHE_HOME/tracker``, else the platform's user cache folder (``~/.cache/tracker``,
``~/Library/Caches/tracker``, ``%LOCALAPPDATA%\\tracker\\Cache``); entries go in its ``specs/``.

Why it is safe to trust:

* an entry is used only for the exact bytes it was made from (the key is the SHA-256 of the data
  file, of this package's version and of the source of :mod:`tracker.spec.models` and
  :mod:`tracker.spec.schema`), so an edited data file or a changed format is validated afresh;
* it is JSON, never pickle: whatever is in the folder, reading it cannot run code;
* an entry whose payload does not match the hash recorded with it (a torn write, a disk error),
  that is not owned by the current user (a folder another account can write), or whose data does
  not rebuild (wrong shape; ``__post_init__`` re-checks the arithmetic and references) is ignored:
  the file is validated in full, as without a cache;
* writing is atomic (a temporary file renamed into place) and never fails a command: a read-only
  or full disk only means no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

import tracker.spec.models as _models
from tracker.spec.models import Qualification, from_data, to_data

#: bump when the layout of an entry changes
FORMAT = 1


def cache_dir() -> Path | None:
    """The user's cache folder for tracker, or None when the cache is turned off."""
    env = os.environ.get("TRACKER_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "tracker"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "tracker" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "tracker"
    return Path.home() / ".cache" / "tracker"


@lru_cache(maxsize=1)
def _code_version() -> bytes:
    """What the meaning of cached data depends on: the package version and the format's code."""
    from tracker import __version__

    h = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    here = Path(_models.__file__)
    for source in (here, here.with_name("schema.py")):  # the types, and how pydantic reads them
        try:
            h.update(source.read_bytes())
        except OSError:  # no source file (a frozen or zipped install): the version decides
            pass
    return h.digest()


def entry_path(file_digest: str) -> Path | None:
    """Where the entry of a data file with SHA-256 ``file_digest`` (hex) lives (None: no cache)."""
    root = cache_dir()
    if root is None:
        return None
    key = hashlib.sha256(_code_version() + file_digest.encode()).hexdigest()
    return root / "specs" / f"{key[:40]}.json"


def load(file_digest: str) -> Qualification | None:
    """The cached qualification of the data file with SHA-256 ``file_digest``, or None when there
    is no usable entry (then the caller validates the file and calls :func:`store`)."""
    path = entry_path(file_digest)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            if hasattr(os, "getuid") and os.fstat(f.fileno()).st_uid != os.getuid():
                return None  # written by another account: not ours to trust
            header, _, payload = f.read().partition(b"\n")
        meta = json.loads(header)
        if (meta.get("format") != FORMAT or meta.get("file") != file_digest
                or meta.get("sha256") != hashlib.sha256(payload).hexdigest()):
            return None
        return from_data(Qualification, json.loads(payload))
    except Exception:  # noqa: BLE001 - any damage at all means "no entry": validate in full instead
        return None


def store(file_digest: str, q: Qualification) -> None:
    """Remember ``q``, validated from the data file with SHA-256 ``file_digest``. Never raises
    for a folder that cannot be written (no cache then)."""
    path = entry_path(file_digest)
    if path is None:
        return
    payload = json.dumps(to_data(q), ensure_ascii=False, separators=(",", ":")).encode()
    header = json.dumps({"format": FORMAT, "file": file_digest,
                         "sha256": hashlib.sha256(payload).hexdigest()}).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header + b"\n" + payload)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass
