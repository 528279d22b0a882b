"""Receiving returned files: list the inbox, copy each file into the archive under its content
hash, flush the copies to disk, and tidy the inbox once the ledger has committed.

Nothing is ever lost: a file is copied into ``archive/<2 hex>/<sha256>.<ext>`` (under a temporary
name, then renamed) before the ledger refers to it, and leaves the inbox only after the commit --
deleted when merged or already received, moved to ``quarantine/`` with a ``.why.txt`` beside it
when it could not be merged (moved back into the inbox, it is tried again). A file changed since
it was received stays for the next roll-up.

The inbox is a folder anyone can drop anything into, so it is not trusted:

* only ordinary files are opened. Symbolic links (a link to ``/dev/zero`` would copy until the
  disk is full, a link to a system file would put that file in the archive), pipes (opening one
  would wait for ever, holding the lock), devices, sockets and folders named like workbooks are
  listed with the reason they were skipped (:class:`Skipped`) and never opened; a file is opened
  without following links and without waiting, and must still be the ordinary file listed;
* a file whose size or modification time changes while it is read, or that is empty and was
  written in the last two minutes, is still being copied in: it is left for the next roll-up;
* a name that is not UTF-8 (Linux allows any bytes) is recorded in a readable form (``\xe9``),
  while the file itself is handled by its real name; a quarantine note whose name would pass the
  255-byte limit is shortened; a quarantine folder on another file system is moved into by copy,
  flush and rename.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
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
#: folder names that look like a returned file (a folder is never one)
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".csv")
#: an empty file younger than this is taken to be still being copied in
EMPTY_GRACE_SECONDS = 120
#: the longest file name most file systems allow, in bytes
_NAME_MAX = 255
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def display_name(name: str) -> str:
    """A file name as text that can be stored and shown: bytes that are not UTF-8 (kept by Python
    as lone surrogates, PEP 383) written as ``\xe9``; everything else unchanged."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class Skipped:
    """An inbox entry the roll-up did not take, and why (shown to the admin, never opened)."""

    name: str  # relative to the inbox, readable (see display_name)
    reason: str


class NotReady(Exception):
    """A file that is still being written: left in the inbox for the next roll-up."""


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


def scan_inbox(inbox: Path) -> tuple[list[Path], list[Skipped]]:
    """The ordinary files in the inbox and its sub-folders (Office owner files and hidden files
    left out), and every other entry with the reason it is skipped. Nothing is opened or followed."""
    if not inbox.is_dir():
        raise CentreError(f"the inbox {inbox} is missing; run `tracker init` on the centre folder")
    files: list[Path] = []
    skipped: list[Skipped] = []

    def walk(folder: Path) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            skipped.append(Skipped(_rel(inbox, folder), f"the folder cannot be read ({e.strerror or e})"))
            return
        for entry in entries:
            if entry.name.startswith(_SKIP_PREFIXES):
                continue
            path = Path(entry.path)
            why = _not_a_return(entry)
            if why == "folder":
                walk(path)
            elif why:
                skipped.append(Skipped(_rel(inbox, path), why))
            else:
                files.append(path)

    walk(inbox)
    return files, skipped


def _not_a_return(entry: os.DirEntry[str]) -> str:
    """'' for an ordinary file, 'folder' for a sub-folder to look into, else why it is skipped."""
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as e:
        return f"it cannot be looked at ({e.strerror or e})"
    if stat.S_ISLNK(mode):
        return ("it is a link to another file, which tracker does not follow (it could point anywhere); "
                "put the workbook itself in the inbox")
    if stat.S_ISDIR(mode):
        if entry.name.lower().endswith(_WORKBOOK_SUFFIXES):
            return "it is a folder named like a workbook, not a workbook; put the workbook file itself in the inbox"
        return "folder"
    if not stat.S_ISREG(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        return f"it is {kind}, not an ordinary file, so it was not opened"
    return ""


def _rel(inbox: Path, path: Path) -> str:
    return display_name(path.relative_to(inbox).as_posix())


def inbox_files(inbox: Path) -> list[Path]:
    """The ordinary files of the inbox and its sub-folders (see :func:`scan_inbox`)."""
    return scan_inbox(inbox)[0]


def _archive_name(digest: str, name: str) -> str:
    suffix = Path(name).suffix.lower()
    if not suffix or len(suffix) > 8 or not suffix[1:].isalnum():
        suffix = ".bin"
    return f"{digest[:2]}/{digest}{suffix}"


def _open_ordinary(path: Path) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading only if it is (still) an ordinary file: no link followed, no
    waiting on a pipe that was put in its place since the inbox was listed."""
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        raise NotReady("it disappeared while the inbox was read") from None
    if not stat.S_ISREG(before.st_mode):
        raise NotReady("it was replaced by something that is not an ordinary file")
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise NotReady("it was replaced by something that is not an ordinary file")
    return fd, st


def receive(centre: Centre, path: Path, folders: set[Path] | None = None) -> Received:
    """Hash ``path`` while copying it into the archive (temporary name, then renamed).

    ``folders``: archive folders known to exist (saves a mkdir per file). Raises
    :class:`NotReady` for a file that is still being written (nothing is kept of it).
    """
    folders = set() if folders is None else folders
    rel = display_name(path.relative_to(centre.inbox).as_posix())
    h = hashlib.sha256()
    if centre.archive not in folders:
        centre.archive.mkdir(parents=True, exist_ok=True)
        folders.add(centre.archive)
    tmp = centre.archive / f"{_TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
    try:
        fd, st = _open_ordinary(path)
    except OSError as e:  # gone, replaced by a link (O_NOFOLLOW), not readable: not this run's
        raise NotReady(f"it cannot be opened ({e.strerror or e})") from None
    try:
        if st.st_size == 0 and time.time() - st.st_mtime < EMPTY_GRACE_SECONDS:
            os.close(fd)
            raise NotReady("it is empty and was written moments ago, so it is probably still being copied in")
        copied = 0
        with os.fdopen(fd, "rb") as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                dst.write(chunk)
                copied += len(chunk)
            after = os.fstat(src.fileno())
        if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or copied != st.st_size:
            tmp.unlink(missing_ok=True)
            raise NotReady("it changed while it was being read, so it is probably still being copied in")
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
        raise CentreError(f"cannot copy {display_name(str(path))} into the archive: {e.strerror or e}") from None
    return Received(path=path, name=rel, hash=digest, size=st.st_size, mtime_ns=st.st_mtime_ns,
                    archive=target, archive_rel=target.relative_to(centre.root).as_posix())


def receive_all(centre: Centre, paths: list[Path], on_first: Callable[[], None] | None = None,
                skipped: list[Skipped] | None = None) -> list[Received]:
    """:func:`receive` every path; the first alone (then ``on_first``: the crash test's
    checkpoint), the rest on a few threads (opening, hashing and copying release the GIL, so
    threads keep the disk busy). Files still being written are added to ``skipped``."""
    received: list[Received] = []
    folders: set[Path] = set()

    def one(p: Path) -> Received | Skipped:
        try:
            return receive(centre, p, folders)
        except NotReady as e:
            return Skipped(display_name(p.relative_to(centre.inbox).as_posix()),
                           f"left for the next roll-up: {e}")

    results: list[Received | Skipped] = []
    if paths:
        results.append(one(paths[0]))
        if on_first is not None:
            on_first()
    if len(paths) > 1:
        with ThreadPoolExecutor(max_workers=4) as threads:
            results.extend(threads.map(one, paths[1:]))
    for r in results:
        if isinstance(r, Received):
            received.append(r)
        elif skipped is not None:
            skipped.append(r)
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
            st = os.lstat(r.path)
        except FileNotFoundError:
            continue
        if (st.st_size, st.st_mtime_ns) != (r.size, r.mtime_ns):
            continue  # changed since it was received: leave it for the next roll-up
        try:
            if d.quarantine:
                centre.quarantine.mkdir(parents=True, exist_ok=True)
                target = _free_name(centre.quarantine / r.path.name)
                _move(r.path, target)
                _note_path(target).write_text(
                    f"{r.name} was not merged into the centre ledger.\n\nWhy: {d.reason}\n\n"
                    f"Content hash (SHA-256): {r.hash}\nA copy is kept in {r.archive_rel}.\n"
                    "Fix the file (or what it needs: an installed qualification, say) and move it back into "
                    "the inbox: the next roll-up tries it again.\n", encoding="utf-8")
            else:
                r.path.unlink()
        except OSError as e:  # e.g. the file is open in Excel on Windows: leave it
            notes.append(f"could not tidy {r.name} from the inbox: {e.strerror or e}")
        except UnicodeError as e:  # a name the file system cannot take (should not happen)
            notes.append(f"could not tidy {r.name} from the inbox: {e}")
    # Empty sub-folders of the inbox are removed too (never the inbox itself).
    for dirpath, _dirs, _files in sorted(os.walk(centre.inbox), key=lambda t: -len(t[0])):
        if Path(dirpath) != centre.inbox:
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    return notes


def _fit(stem: str, tail: str) -> str:
    """``stem + tail``, the stem shortened (whole characters) so the name fits in 255 bytes."""
    room = _NAME_MAX - len(os.fsencode(tail))
    while len(os.fsencode(stem)) > room:
        stem = stem[:-1]
    return stem + tail


def _free_name(p: Path) -> Path:
    """A name in ``p``'s folder that is not taken, within the file name length limit."""
    base = p.with_name(_fit(p.stem, p.suffix))
    if not os.path.lexists(base):
        return base
    n = 2
    while True:
        q = p.with_name(_fit(p.stem, f" ({n}){p.suffix}"))
        if not os.path.lexists(q):
            return q
        n += 1


def _note_path(target: Path) -> Path:
    """Where the quarantine note of ``target`` goes: beside it, ``<name>.why.txt``, shortened
    to fit the file name length limit."""
    return target.with_name(_fit(target.name, ".why.txt"))


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; across file systems (EXDEV) copy, flush, rename into place, then
    delete the original -- never a moment without a whole copy."""
    try:
        os.replace(src, dst)
        return
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
    tmp = dst.with_name(_fit(f"{_TMP_PREFIX}{dst.stem}", dst.suffix))
    try:
        shutil.copy2(src, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    src.unlink()


__all__ = ["Disposal", "NotReady", "Received", "Skipped", "display_name", "fsync_all", "inbox_files", "receive",
           "receive_all", "remove_leftovers", "scan_inbox", "tidy_inbox"]
