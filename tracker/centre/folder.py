"""Open a centre folder; the roll-up lock; detecting a master open in Excel.

Creating one (:func:`tracker.centre.create.init_centre`) also builds an empty master, so it sits a
layer above, with the roll-up.

Layout of a centre folder (every path can be changed in ``centre.yaml``)::

    centre.yaml        name, number, readings per qualification, paths, workers
    register.xlsx      the centre register (staff and declared interests), edited in Excel
    inbox/             drop returned learner workbooks here
    archive/           every received file, under its content hash (ab/abcdef....xlsx)
    quarantine/        files that could not be merged, with a .txt note saying why
    ledger.sqlite      the ledger: files received, learners, accepted values, conflicts, log
    master.xlsx        the centre master workbook, rebuilt from the ledger on every roll-up
    specs/             qualifications the centre added (optional)
    export/            default output folder of ``tracker export``

``centre.yaml`` is YAML so that an admin can edit it in Notepad; it is read with the safe loader
and checked, and a mistake gives a message naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import json
import os
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

# re-exported: they were defined here first and callers import them from here
from tracker.centre.locate import CONFIG_NAME as CONFIG_NAME, is_centre as is_centre
from tracker.errors import CentreError, MasterLocked, TrackerError
from tracker.register import COUNTERSIGN_POLICIES, Policy

LOCK_NAME = ".tracker-rollup.lock"
CONFIG_VERSION = 1

# Keys of ``paths`` in centre.yaml and their defaults (relative to the centre folder).
DEFAULT_PATHS: dict[str, str] = {
    "inbox": "inbox",
    "archive": "archive",
    "quarantine": "quarantine",
    "ledger": "ledger.sqlite",
    "master": "master.xlsx",
    "register": "register.xlsx",
    "specs": "specs",
    "export": "export",
}


@dataclass(frozen=True)
class Centre:
    """An opened centre folder: its configuration with every path resolved."""

    root: Path
    name: str = ""
    number: str = ""
    # Qualification id -> reading id chosen by the centre (e.g. the L2 Unit 17 reading).
    readings: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    # Processes used to read and check returned workbooks; 0 = decide from the number of files.
    workers: int = 0
    # The IQA and sampling policy (centre.yaml's ``policy``; docs/iqa.md lists the settings).
    policy: Policy = field(default_factory=Policy)
    # centre.yaml's ``reissue_after_rollup``: after a roll-up that changed the ledger, write the
    # current workbook of every learner it changed into the outbox (as `tracker issue` does).
    reissue_after_rollup: bool = False

    def path(self, key: str) -> Path:
        """The resolved path of ``key`` (inbox, archive, quarantine, ledger, master, ...)."""
        return self.paths[key]

    @property
    def inbox(self) -> Path:
        """Where returned workbooks are dropped."""
        return self.paths["inbox"]

    @property
    def archive(self) -> Path:
        """Where every received file is kept under its content hash."""
        return self.paths["archive"]

    @property
    def quarantine(self) -> Path:
        """Where files that could not be merged are moved."""
        return self.paths["quarantine"]

    @property
    def ledger(self) -> Path:
        """The SQLite ledger."""
        return self.paths["ledger"]

    @property
    def master(self) -> Path:
        """The centre master workbook."""
        return self.paths["master"]

    @property
    def register(self) -> Path:
        """The centre register workbook."""
        return self.paths["register"]

    @property
    def specs(self) -> Path:
        """Qualifications the centre added (searched after the bundled and user ones)."""
        return self.paths["specs"]

    @property
    def config_path(self) -> Path:
        """``centre.yaml``."""
        return self.root / CONFIG_NAME

    @property
    def lock_path(self) -> Path:
        """The roll-up lock file."""
        return self.root / LOCK_NAME

    def reading_for(self, qualification_id: str) -> str | None:
        """The reading the centre chose for a qualification (None: not chosen)."""
        return self.readings.get(qualification_id)


# -- config --------------------------------------------------------------------------------------


def _q(text: str) -> str:
    # JSON strings are valid YAML double-quoted scalars: safe for any name.
    return json.dumps(text, ensure_ascii=False)


def config_text(name: str, number: str, readings: dict[str, str],
                notes: dict[str, str] | None = None, *, demo: bool = False) -> str:
    """The text of a new ``centre.yaml`` (commented, for people who edit it by hand)."""
    lines = [
        "# Centre configuration for tracker (https://example.invalid/tracker). Edit with any text",
        "# editor; paths are relative to this folder unless absolute.",
        f"version: {CONFIG_VERSION}",
        f"name: {_q(name)}",
        f"number: {_q(number)}",
        "# Where a specification is ambiguous, the reading this centre uses, per qualification id",
        "# (see `tracker spec show`). Learner workbooks are checked and rolled up under it.",
        "readings:" + ("" if readings else " {}"),
    ]
    for qid, reading in sorted(readings.items()):
        if notes and qid in notes:
            lines.append(f"  # {notes[qid]}")
        lines.append(f"  {qid}: {_q(reading)}")
    lines.append("paths:")
    for key, value in DEFAULT_PATHS.items():
        lines.append(f"  {key}: {_q(value)}")
    lines += [
        "# Processes that read and check returned workbooks during a roll-up (0 = automatic:",
        "# two when there are enough files for it to pay, 1 = no extra processes).",
        "workers: 0",
        "# true: after each roll-up that changes the ledger, write the current workbook of every",
        "# learner it changed into the outbox (as `tracker issue --learner ULN` does).",
        "reissue_after_rollup: false",
        "# The IQA and sampling policy (docs/iqa.md lists every setting and its default), e.g.:",
        "# policy:",
        "#   countersign: named      # or any: any qualified assessor may countersign a trainee",
        "#   rate_low: 0.10          # share of Met decisions sampled per risk level",
        "#   rate_medium: 0.25",
        "#   rate_high: 0.50",
        "#   same_day: 10            # criteria on one day that is a plausibility warning",
    ]
    if demo:
        lines += ["# Made by `python -m tracker.demo`; the demo may delete and rebuild this folder.",
                  "demo: true"]
    return "\n".join(lines) + "\n"


def load_config(root: Path) -> dict[str, Any]:
    """The parsed ``centre.yaml`` of ``root`` (CentreError when missing or malformed)."""
    import yaml

    path = root / CONFIG_NAME
    if not path.is_file():
        raise CentreError(f"{root} is not a centre folder (no {CONFIG_NAME}); "
                          f"create one with: tracker init {root}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise CentreError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise CentreError(f"{path}: expected keys such as name, number, readings, paths")
    return data


def _text_value(data: dict[str, Any], key: str, path: Path) -> str:
    v = data.get(key, "")
    if v is None:
        return ""
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return str(v)
    raise CentreError(f"{path}: '{key}' must be text")


def open_centre(root: str | Path, *, check_readings: bool = True) -> Centre:
    """Open the centre folder at ``root``; CentreError when it is missing or misconfigured."""
    r = Path(root).absolute()
    data = load_config(r)
    cfg = r / CONFIG_NAME
    known = {"version", "name", "number", "readings", "paths", "workers", "demo", "policy", "reissue_after_rollup"}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise CentreError(f"{cfg}: unknown setting(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    readings_raw = data.get("readings") or {}
    if not isinstance(readings_raw, dict):
        raise CentreError(f"{cfg}: 'readings' must map qualification ids to reading ids")
    readings = {str(k): str(v) for k, v in readings_raw.items()}
    paths_raw = data.get("paths") or {}
    if not isinstance(paths_raw, dict):
        raise CentreError(f"{cfg}: 'paths' must map names to folders or files")
    bad = sorted(str(k) for k in paths_raw if k not in DEFAULT_PATHS)
    if bad:
        raise CentreError(f"{cfg}: unknown path(s) {', '.join(bad)} (known: {', '.join(DEFAULT_PATHS)})")
    paths: dict[str, Path] = {}
    for key, default in DEFAULT_PATHS.items():
        value = paths_raw.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise CentreError(f"{cfg}: paths.{key} must be a file or folder name")
        p = Path(os.path.expandvars(os.path.expanduser(value.strip())))
        paths[key] = p if p.is_absolute() else r / p
    workers = data.get("workers", 0)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise CentreError(f"{cfg}: 'workers' must be a whole number (0 = automatic)")
    reissue = data.get("reissue_after_rollup", False)
    if not isinstance(reissue, bool):
        raise CentreError(f"{cfg}: 'reissue_after_rollup' must be true or false")
    centre = Centre(root=r, name=_text_value(data, "name", cfg), number=_text_value(data, "number", cfg),
                    readings=readings, paths=paths, workers=workers, policy=parse_policy(data.get("policy"), cfg),
                    reissue_after_rollup=reissue)
    if check_readings:
        _check_readings(centre)
    return centre


def parse_policy(raw: Any, cfg: Path) -> Policy:
    """The :class:`~tracker.register.Policy` of centre.yaml's ``policy`` mapping (defaults for
    what it leaves out); CentreError naming the setting when a value is of the wrong kind."""
    if raw is None:
        return Policy()
    if not isinstance(raw, dict):
        raise CentreError(f"{cfg}: 'policy' must map settings to values (see docs/iqa.md)")
    defaults = {f.name: f.default for f in dataclasses.fields(Policy)}
    bad = sorted(str(k) for k in raw if k not in defaults)
    if bad:
        raise CentreError(f"{cfg}: unknown policy setting(s) {', '.join(bad)} (known: {', '.join(defaults)})")
    values: dict[str, Any] = {}
    for key, v in raw.items():
        d = defaults[key]
        if key == "countersign":
            if v not in COUNTERSIGN_POLICIES:
                raise CentreError(f"{cfg}: policy.countersign must be one of {', '.join(COUNTERSIGN_POLICIES)}")
        elif isinstance(d, bool):
            if not isinstance(v, bool):
                raise CentreError(f"{cfg}: policy.{key} must be true or false")
        elif isinstance(d, int):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise CentreError(f"{cfg}: policy.{key} must be a whole number of at least 1")
        elif isinstance(d, float):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
                raise CentreError(f"{cfg}: policy.{key} must be a share between 0 and 1 (e.g. 0.25)")
            v = float(v)
        values[key] = v
    return Policy(**values)


def _check_readings(centre: Centre) -> None:
    from tracker.spec.catalogue import list_qualifications

    try:
        installed = {q.id: q for q in list_qualifications([centre.specs])}
    except TrackerError as e:
        raise CentreError(f"cannot load the installed qualifications: {e}") from None
    for qid, reading in centre.readings.items():
        q = installed.get(qid)
        if q is None:
            raise CentreError(f"{centre.config_path}: readings: no qualification with id {qid!r} is "
                              f"installed (installed: {', '.join(sorted(installed)) or 'none'})")
        ids = [r.id for r in q.readings]
        if reading not in ids:
            raise CentreError(f"{centre.config_path}: readings: {qid}: {reading!r} is not a reading of "
                              f"{q.number} (choose one of: {', '.join(ids) or 'none'})")


def centre_of_master(master: str | Path) -> Centre | None:
    """The centre whose master workbook is ``master`` (its folder or a parent holds centre.yaml).

    For the add-in's Roll up button, which starts from the open master workbook.
    """
    m = Path(master).absolute()
    for folder in (m.parent, *m.parent.parents):
        if is_centre(folder):
            try:
                c = open_centre(folder, check_readings=False)
            except CentreError:
                continue
            if os.path.normcase(str(c.master)) == os.path.normcase(str(m)):
                return c
    return None


# -- the roll-up lock ----------------------------------------------------------------------------


class RollupLock:
    """An exclusive lock on a centre folder, held while a roll-up (or resolve) runs.

    The lock is an OS lock on the file ``.tracker-rollup.lock``, held by the roll-up's own process:
    a POSIX record lock (``fcntl.lockf``) on POSIX, ``msvcrt.locking`` on Windows. Either is
    released by the kernel the moment the holder dies, even by SIGKILL, so a killed roll-up never
    blocks the next one. A POSIX record lock belongs to the process, not to the open file: the
    worker processes a roll-up forks do not hold it (``flock`` locks, which forked children share,
    made a killed roll-up's workers block the next roll-up until they finished). The workers die
    with their parent anyway (:mod:`tracker.isolation`).

    The file records who holds it (user, host, process id and since when) for the message a second
    roll-up prints; writing that record is best effort, so a disk with no free byte at all still
    gives the roll-up's own clear message rather than a failure here. A second roll-up refuses at
    once; it never waits.

    A lock file deleted (or replaced) by hand while a roll-up holds it would let a second roll-up
    lock a new file of the same name: so the lock is taken only on the file the name currently
    refers to, and :meth:`check_held` -- called before the ledger commit -- stops a roll-up whose
    lock file was taken away, before it changes anything.
    """

    def __init__(self, centre: Centre) -> None:
        self.centre = centre
        self._fh: IO[str] | None = None
        self._key: tuple[int, int] | None = None

    def acquire(self) -> None:
        """Take the lock or raise CentreError naming the holder."""
        path = self.centre.lock_path
        # A process-owned lock cannot stop the same process from locking again, and closing any
        # other handle on the file would release it: so this process's own locks are kept in a
        # table, checked before the file is even opened.
        with _HELD_GUARD:
            key = _file_key(path)
            if key is not None and key in _HELD:
                raise CentreError(f"another roll-up is already running on {self.centre.root} ({_HELD[key]}); "
                                  "wait for it to finish and try again")
            self._acquire(path)

    def _acquire(self, path: Path) -> None:
        for _attempt in range(5):
            try:
                fh = open(path, "a+", encoding="utf-8")
            except OSError as e:
                raise CentreError(
                    f"cannot use the centre folder {self.centre.root}: {e.strerror or e} ({path.name}); is the "
                    "folder read-only to you, or the disk full? Nothing was changed.") from None
            try:
                _lock_file(fh)
            except OSError:
                holder = _read_holder(fh)
                fh.close()
                raise CentreError(
                    f"another roll-up is already running on {self.centre.root} ({holder}); "
                    "wait for it to finish and try again") from None
            if _same_file(fh, path):
                break
            fh.close()  # the name was deleted or replaced between open and lock: lock the new file
        else:
            raise CentreError(f"cannot lock the centre folder {self.centre.root}: its lock file {path.name} keeps "
                              "being replaced; is another program removing it? Nothing was changed.")
        record = (f"user {current_user()} on {socket.gethostname()}, process {os.getpid()}, "
                  f"since {dt.datetime.now().replace(microsecond=0).isoformat(sep=' ')}")
        try:  # straight to the file, past the text buffer, so that a failed write leaves nothing pending
            os.ftruncate(fh.fileno(), 0)
            os.write(fh.fileno(), record.encode("utf-8", "backslashreplace"))
        except OSError:
            pass  # no room even for the holder record: the lock itself holds
        self._fh = fh
        st = os.fstat(fh.fileno())
        self._key = (st.st_dev, st.st_ino)
        _HELD[self._key] = f"this process, {os.getpid()}"

    def check_held(self) -> None:
        """Raise CentreError if the lock file this roll-up locked is no longer the centre's."""
        fh = self._fh
        if fh is None or not _same_file(fh, self.centre.lock_path):
            raise CentreError(
                f"the roll-up's lock file {self.centre.lock_path} was deleted or replaced while it ran, so "
                "another roll-up may have started; this one stopped before changing anything. Do not delete "
                "the lock file: it is released by itself when a roll-up ends. Roll up again.")

    def release(self) -> None:
        """Release the lock (idempotent)."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        with _HELD_GUARD:
            if self._key is not None:
                _HELD.pop(self._key, None)
                self._key = None
        try:
            try:
                os.ftruncate(fh.fileno(), 0)
            except OSError:
                pass
            _unlock_file(fh)
        except OSError:
            pass  # closing the file below releases it anyway
        finally:
            try:
                fh.close()
            except OSError:
                pass

    def __enter__(self) -> RollupLock:
        self.acquire()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


_HELD: dict[tuple[int, int], str] = {}  # (device, inode) of the lock files this process holds
_HELD_GUARD = threading.Lock()


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _read_holder(fh: IO[str]) -> str:
    try:
        fh.seek(0)
        return fh.read(500).strip() or "another process"
    except (OSError, ValueError):
        return "another process"


def _same_file(fh: IO[str], path: Path) -> bool:
    """True when ``path`` still names the file open as ``fh`` (not deleted, not replaced)."""
    try:
        a, b = os.fstat(fh.fileno()), os.stat(path)
    except OSError:
        return False
    if sys.platform == "win32":  # an open file cannot be deleted there; st_ino is not always set
        return True
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def current_user() -> str:
    """The user name recorded with a run, a lock or a resolution ("unknown" when there is none)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name on some service accounts
        return "unknown"


# What SQLite says, by kind of trouble (its messages are stable: sqlite3.c's sqlite3ErrStr).
_DAMAGED = ("not a database", "malformed", "corrupt", "no such table", "no such column")
_FULL = ("database or disk is full",)
_READ_ONLY = ("readonly", "read-only", "unable to open", "permission")
_BUSY = ("database is locked", "database table is locked")


def ledger_failure(c: Centre, e: sqlite3.Error) -> CentreError:
    """One clear message for a ledger that failed: damaged, disk full, a disk error, read-only or
    in use -- each said as what it is (a damaged ledger is not "disk full")."""
    text = str(e) or type(e).__name__
    low = text.lower()
    if any(k in low for k in _DAMAGED):
        return CentreError(
            f"the ledger {c.ledger} is damaged ({text}), so tracker cannot use it. Nothing was changed. "
            f"Restore ledger.sqlite from a backup; every file the centre received is still kept in "
            f"{c.archive}, so nothing received is lost.")
    if any(k in low for k in _FULL):
        return CentreError(
            f"the ledger {c.ledger} could not be updated: the disk is full ({text}). It was left as it was; "
            "free some space, then try again.")
    if any(k in low for k in _READ_ONLY):
        return CentreError(
            f"the ledger {c.ledger} cannot be written ({text}); is the folder read-only to you? It was left "
            "as it was; ask for write access, then try again.")
    if any(k in low for k in _BUSY):
        return CentreError(
            f"the ledger {c.ledger} is in use by another program ({text}); close it (a database browser?) "
            "and try again. Nothing was changed.")
    return CentreError(
        f"the ledger {c.ledger} could not be updated ({text}); it was left as it was. If the disk is out "
        "of space, free some; if it is a network drive, check it is connected; then try again.")


@contextmanager
def ledger_errors(c: Centre) -> Iterator[None]:
    """For commands that only read the ledger (``conflicts``, ``export``): a SQLite error is one
    clear :class:`CentreError` (see :func:`ledger_failure`), never a traceback."""
    try:
        yield
    except sqlite3.Error as e:
        raise ledger_failure(c, e) from None


@contextmanager
def plain_errors(c: Centre) -> Iterator[None]:
    """Turn a full disk, a read-only folder or a broken ledger into one clear CentreError.

    Wraps the roll-up and ``tracker resolve`` up to their ledger commit (later failures are notes
    or :class:`MasterLocked`), so the message can say that nothing was changed.
    """
    try:
        yield
    except sqlite3.Error as e:
        raise ledger_failure(c, e) from None
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise CentreError(
            f"the roll-up stopped: {e.strerror or e}{where}. Nothing was changed: the ledger and the master "
            "are as they were and the returned files are still in the inbox. If the disk is out of space, "
            "free some; if the folder is read-only, ask for write access; then roll up again.") from None


if sys.platform == "win32":
    import msvcrt

    # Windows locks are mandatory: the byte locked lies beyond the holder text, so that a second
    # roll-up can still read who holds the lock.
    _LOCK_OFFSET = 1 << 20

    def _lock_file(fh: IO[str]) -> None:
        fh.seek(_LOCK_OFFSET)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(fh: IO[str]) -> None:
        fh.seek(_LOCK_OFFSET)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    # POSIX record locks (fcntl F_SETLK), not flock: owned by this process alone, so forked
    # workers never hold them. The whole file is locked (length 0 = to the end, whatever its size).
    def _lock_file(fh: IO[str]) -> None:
        fcntl.lockf(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0, os.SEEK_SET)

    def _unlock_file(fh: IO[str]) -> None:
        fcntl.lockf(fh.fileno(), fcntl.LOCK_UN, 0, 0, os.SEEK_SET)


# -- is the master open in Excel? ----------------------------------------------------------------


def owner_files(master: Path) -> list[Path]:
    """Lock files that spreadsheet programs create next to a workbook they have open.

    Excel writes ``~$master.xlsx`` (the first two characters of the name are replaced when the
    name is long -- Excel keeps the name's tail); LibreOffice writes ``.~lock.master.xlsx#``.
    """
    folder = master.parent
    name = master.name
    candidates = [folder / f"~${name}", folder / f".~lock.{name}#"]
    if len(name) > 2:
        candidates.append(folder / f"~${name[2:]}")
    seen: list[Path] = []
    for c in candidates:
        if c.exists() and c not in seen:
            seen.append(c)
    return seen


def check_master_writable(master: Path) -> None:
    """Raise MasterLocked when the master is open in Excel (or LibreOffice).

    Two signs: an owner file next to it, and -- on Windows, where Excel opens the file without
    sharing -- failing to open it for writing (a sharing violation). A stale owner file left by a crashed Excel also
    blocks; the message says how to clear it.
    """
    owners = owner_files(master)
    if owners:
        raise MasterLocked(
            f"the master workbook {master} is open in Excel or another program "
            f"({owners[0].name} exists). Close it and roll up again. If no program has it open, "
            f"{owners[0].name} was left behind by a crash: delete it and roll up again.")
    if sys.platform == "win32" and master.exists():
        # Excel on Windows opens a workbook without write sharing: opening it for writing fails.
        # (Elsewhere a permission error means permissions, and replacing the file needs none on it.)
        try:
            with open(master, "r+b"):
                pass
        except PermissionError:
            raise MasterLocked(
                f"the master workbook {master} is locked by another program (Excel?). "
                "Close it and roll up again.") from None
        except OSError as e:
            raise CentreError(f"cannot open {master} for writing: {e.strerror or e}") from None
