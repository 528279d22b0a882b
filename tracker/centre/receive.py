"""Receiving returned files: list the inbox, copy each file into the archive under its content
hash, flush the copies to disk, and tidy the inbox once the ledger has committed.

Nothing is ever lost: a file is copied into ``archive/<2 hex>/<sha256>.<ext>`` (under a temporary
name, then renamed) before the ledger refers to it, and leaves the inbox only after the commit --
deleted when merged or already received, moved to ``quarantine/`` with a ``.why.txt`` beside it
when it could not be merged. A file changed since it was received stays for the next roll-up.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tracker.centre.folder import Centre
from tracker.errors import CentreError

# Office owner files (~$book.xlsx) and hidden files (.DS_Store, .~lock...#) are never returns.
_SKIP_PREFIXES = ("~$", ".")
_TMP_PREFIX = ".tmp-"


@dataclass(slots=True)
class Received:
    """An inbox file, hashed and copied into the archive."""

    path: Path  # in the inbox
    name: str  # relative to the inbox, with forward slashes
    hash: str
    size: int
    mtime_ns: int
    archive: Path  # the archived copy (absolute)
    archive_rel: str  # relative to the centre folder


@dataclass(frozen=True, slots=True)
class Disposal:
    """What to do with a received file once the ledger has committed."""

    quarantine: bool  # move to quarantine/ (else delete from the inbox)
    reason: str = ""  # why it was quarantined (written beside it)


def inbox_files(inbox: Path) -> list[Path]:
    """Every file in the inbox and its sub-folders, except Office owner files and hidden files."""
    out: list[Path] = []
    if not inbox.is_dir():
        raise CentreError(f"the inbox {inbox} is missing; run `tracker init` on the centre folder")
    for dirpath, dirnames, filenames in os.walk(inbox):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for n in sorted(filenames):
            if not n.startswith(_SKIP_PREFIXES):
                out.append(Path(dirpath) / n)
    return out


def _archive_name(digest: str, name: str) -> str:
    suffix = Path(name).suffix.lower()
    if not suffix or len(suffix) > 8 or not suffix[1:].isalnum():
        suffix = ".bin"
    return f"{digest[:2]}/{digest}{suffix}"


def receive(centre: Centre, path: Path, folders: set[Path] | None = None) -> Received:
    """Hash ``path`` while copying it into the archive (temporary name, then renamed).

    ``folders``: archive folders known to exist (saves a mkdir per file).
    """
    folders = set() if folders is None else folders
    st = path.stat()
    rel = path.relative_to(centre.inbox).as_posix()
    h = hashlib.sha256()
    if centre.archive not in folders:
        centre.archive.mkdir(parents=True, exist_ok=True)
        folders.add(centre.archive)
    tmp = centre.archive / f"{_TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
    try:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                dst.write(chunk)
        digest = h.hexdigest()
        target = centre.archive / _archive_name(digest, path.name)
        if target.exists():
            tmp.unlink()
        else:
            if target.parent not in folders:
                target.parent.mkdir(exist_ok=True)
                folders.add(target.parent)
            os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CentreError(f"cannot copy {path} into the archive: {e.strerror or e}") from None
    return Received(path=path, name=rel, hash=digest, size=st.st_size, mtime_ns=st.st_mtime_ns,
                    archive=target, archive_rel=target.relative_to(centre.root).as_posix())


def receive_all(centre: Centre, paths: list[Path], on_first: Callable[[], None] | None = None) -> list[Received]:
    """:func:`receive` every path; the first alone (then ``on_first``: the crash test's
    checkpoint), the rest on a few threads (opening, hashing and copying release the GIL, so
    threads keep the disk busy)."""
    received: list[Received] = []
    folders: set[Path] = set()
    if paths:
        received.append(receive(centre, paths[0], folders))
        if on_first is not None:
            on_first()
    if len(paths) > 1:
        with ThreadPoolExecutor(max_workers=4) as threads:
            received.extend(threads.map(lambda p: receive(centre, p, folders), paths[1:]))
    return received


def fsync_all(paths: Iterable[Path]) -> None:
    """Flush archived copies (and their folders) to disk before the ledger refers to them."""
    dirs: set[Path] = set()
    for p in paths:
        try:
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        except OSError:
            pass
        dirs.add(p.parent)
    if sys.platform != "win32":  # Windows cannot open a folder to flush it
        for d in dirs:
            try:
                fd = os.open(d, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)


def remove_leftovers(centre: Centre) -> None:
    """Temporary copies a killed roll-up left in the archive (the caller holds the lock)."""
    if centre.archive.is_dir():
        for p in centre.archive.glob(f"{_TMP_PREFIX}*"):
            try:
                p.unlink(missing_ok=True)
            except OSError:
                pass


def tidy_inbox(centre: Centre, received: list[Received], disposal: Mapping[str, Disposal]) -> list[str]:
    """Remove received files from the inbox, or move them to quarantine/, per ``disposal`` (keyed
    by the name relative to the inbox; a file without one stays). Returns notes for what could
    not be tidied."""
    notes: list[str] = []
    for r in received:
        d = disposal.get(r.name)
        if d is None:
            continue
        try:
            st = r.path.stat()
        except FileNotFoundError:
            continue
        if (st.st_size, st.st_mtime_ns) != (r.size, r.mtime_ns):
            continue  # changed since it was received: leave it for the next roll-up
        try:
            if d.quarantine:
                target = _free_name(centre.quarantine / r.path.name)
                centre.quarantine.mkdir(parents=True, exist_ok=True)
                os.replace(r.path, target)
                target.with_name(target.name + ".why.txt").write_text(
                    f"{r.name} was not merged into the centre ledger.\n\nWhy: {d.reason}\n\n"
                    f"Content hash (SHA-256): {r.hash}\nA copy is kept in {r.archive_rel}.\n"
                    "Fix the file and drop it into the inbox again.\n", encoding="utf-8")
            else:
                r.path.unlink()
        except OSError as e:  # e.g. the file is open in Excel on Windows: leave it
            notes.append(f"could not tidy {r.name} from the inbox: {e.strerror or e}")
    # Empty sub-folders of the inbox are removed too (never the inbox itself).
    for dirpath, _dirs, _files in sorted(os.walk(centre.inbox), key=lambda t: -len(t[0])):
        if Path(dirpath) != centre.inbox:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    return notes


def _free_name(p: Path) -> Path:
    if not p.exists():
        return p
    n = 2
    while True:
        q = p.with_name(f"{p.stem} ({n}){p.suffix}")
        if not q.exists():
            return q
        n += 1


__all__ = ["Disposal", "Received", "fsync_all", "inbox_files", "receive", "receive_all", "remove_leftovers",
           "tidy_inbox"]
