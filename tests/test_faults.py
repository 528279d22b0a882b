"""Faults during a roll-up: a full disk, a read-only centre folder, a master open in Excel, two
roll-ups at once.

For each: a clear one-line message (``tracker: ...``, no traceback), the previous master intact
(the same bytes) and readable, the ledger sound (``PRAGMA integrity_check``), nothing lost (the
returned file is still in the inbox, and a roll-up once the fault is gone merges it).

How the faults are made, unprivileged and on any Linux machine:

* full disk: the roll-up runs in a child process whose file-size limit (``RLIMIT_FSIZE``) is set
  low, with ``SIGXFSZ`` ignored, so any write that would grow a file past the limit fails with
  ``EFBIG`` ("File too large") exactly where a full disk fails with ``ENOSPC``. A sweep of limits
  makes the failure happen at each stage in turn: copying into the archive, writing the master,
  growing the ledger's journal;
* read-only folder: as a normal user, the folder is made read-only with chmod; as root (where
  chmod does not bind: root may write anyway) the child process drops to the unprivileged user
  ``nobody`` after its imports, so the root-owned folder is read-only to it;
* master open in another program: the owner file Excel writes for a long name (``~$ster.xlsx``)
  or LibreOffice's ``.~lock.master.xlsx#`` next to the master;
* two roll-ups: the first is held at a checkpoint (``TRACKER_ROLLUP_PAUSE_AT``) while the second
  starts, then killed.

tests/test_rollup_crash.py (the roll-up's own) covers killing it at each checkpoint, Excel's
``~$master.xlsx``, and a second roll-up while the first is merging; this file does not repeat
those.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from checkpoints import Checkpoint

CORPUS_DIR = Path(__file__).parent / "corpus"
TIMEOUT = 120


from corpus import make_corpus as mc  # tests/ is on sys.path (pytest rootdir-relative import)

# The child process: optional file-size limit, optional drop to "nobody" after a warm-up roll-up
# (which does every import while the interpreter's own files are still readable), then the CLI.
_CHILD = r"""
import contextlib, io, os, resource, signal, sys
from tracker.cli import main
limit, warm, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if warm:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(["rollup", "--quiet", "--workers", "1", warm])
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.exit(main(["rollup", "--quiet", "--workers", "1", target]))
"""


def rollup(root: Path, *, limit: int = 0, warm: Path | None = None, env: dict[str, str] | None = None,
           wait: bool = True) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    cmd = [sys.executable, "-c", _CHILD, str(limit), str(warm or ""), str(root)]
    full_env = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=full_env)


@dataclass
class Prepared:
    """A centre after one roll-up (learner A), with learner B's workbook waiting in the inbox."""

    root: Path
    master: bytes
    learners: int


def _learners(root: Path) -> int:
    with sqlite3.connect(root / "ledger.sqlite") as conn:
        return int(conn.execute("SELECT count(*) FROM learners").fetchone()[0])


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    base = tmp_path_factory.mktemp("faults")
    root = base / "centre"
    r = subprocess.run([sys.executable, "-m", "tracker", "init", str(root)], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    (root / "inbox" / "a.xlsx").write_bytes(mc.learner_xlsx(7, name="Amal Good"))
    first = rollup(root)
    assert isinstance(first, subprocess.CompletedProcess) and first.returncode == 0, first.stderr
    (root / "inbox" / "b.xlsx").write_bytes(mc.learner_xlsx(8, name="Ben Good"))
    return Prepared(root, (root / "master.xlsx").read_bytes(), _learners(root))


@pytest.fixture
def centre(template: Prepared, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "centre"
    shutil.copytree(template.root, root)
    yield root


def assert_intact(root: Path, template: Prepared) -> None:
    """The previous master, a sound ledger, nothing lost -- and a roll-up without the fault works."""
    import openpyxl

    master = root / "master.xlsx"
    assert master.read_bytes() == template.master, "the previous master was changed"
    openpyxl.load_workbook(master, read_only=True).close()
    with sqlite3.connect(root / "ledger.sqlite") as conn:  # rolls back a journal left behind
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert _learners(root) == template.learners
    assert (root / "inbox" / "b.xlsx").exists(), "the returned file is gone from the inbox"
    assert not [p for p in root.iterdir() if p.name.startswith(".~master")], "a temporary master was left"
    again = rollup(root)
    assert isinstance(again, subprocess.CompletedProcess)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _learners(root) == template.learners + 1
    assert master.read_bytes() != template.master
    openpyxl.load_workbook(master, read_only=True).close()


def assert_clear_message(r: subprocess.CompletedProcess[str]) -> str:
    """Exit 1 with one line ``tracker: ...``; returns it."""
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("tracker: "), r.stderr
    return lines[0]


# --------------------------------------------------------------------------------------------
# A full disk
# --------------------------------------------------------------------------------------------

# From no room at all (1 byte: not even the lock's holder record fits), below the size of the
# returned workbook (the archive copy fails), through the master's and the ledger journal's
# sizes, to enough for everything (the roll-up succeeds).
_LIMITS = [1, 4_096, 32_768, *range(48 * 1024, 132 * 1024, 6 * 1024), 4 * 1024 * 1024]


@pytest.mark.parametrize("limit", _LIMITS)
def test_full_disk_at_every_stage(centre: Path, template: Prepared, limit: int) -> None:
    r = rollup(centre, limit=limit)
    assert isinstance(r, subprocess.CompletedProcess)
    if r.returncode == 0:
        # Enough room: the roll-up went through, and its master is whole.
        assert "Traceback" not in r.stderr
        import openpyxl

        openpyxl.load_workbook(centre / "master.xlsx", read_only=True).close()
        assert _learners(centre) == template.learners + 1
        return
    try:
        line = assert_clear_message(r)
        assert "too large" in line.lower() or "space" in line.lower(), line
    finally:
        assert_intact(centre, template)


def test_the_sweep_starts_below_a_workbook_and_ends_with_room_for_all(template: Prepared) -> None:
    # The smallest limit makes the archive copy fail, the largest lets a whole roll-up through;
    # the steps between reach the master's and the ledger journal's sizes.
    size = (template.root / "inbox" / "b.xlsx").stat().st_size
    assert min(_LIMITS) < size
    assert max(_LIMITS) > 10 * max(size, len(template.master), (template.root / "ledger.sqlite").stat().st_size)


# --------------------------------------------------------------------------------------------
# A read-only centre folder
# --------------------------------------------------------------------------------------------


def _can_drop_to_nobody() -> bool:
    return hasattr(os, "setuid") and os.geteuid() == 0


@pytest.fixture
def world_readable_centre(template: Prepared) -> Iterator[tuple[Path, Path, Path]]:
    """Copies of the centre where the user "nobody" can read (root's temp folders are private)."""
    base = Path(tempfile.mkdtemp(prefix="tracker-ro-"))
    try:
        base.chmod(0o755)
        home = base / "home"
        home.mkdir()
        root, warm = base / "centre", base / "warm"
        shutil.copytree(template.root, root)
        shutil.copytree(template.root, warm)
        for p in [base, *base.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        yield root, warm, home
    finally:
        for p in [base, *base.rglob("*")]:
            with_perm = 0o755 if p.is_dir() else 0o644
            try:
                p.chmod(with_perm)
            except OSError:
                pass
        shutil.rmtree(base, ignore_errors=True)


def test_read_only_centre_folder(world_readable_centre: tuple[Path, Path, Path], template: Prepared) -> None:
    root, warm, home = world_readable_centre
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    if _can_drop_to_nobody():
        r = rollup(root, warm=warm, env=env)  # root-owned 0755/0644: read-only to "nobody"
    else:
        for p in [root, *root.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            r = rollup(root, env=env)
        finally:
            for p in [root, *root.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
    assert isinstance(r, subprocess.CompletedProcess)
    try:
        line = assert_clear_message(r)
        assert str(root) in line or "read-only" in line or "permission" in line.lower(), line
    finally:
        assert_intact(root, template)


# --------------------------------------------------------------------------------------------
# The master open in Excel (or LibreOffice)
# --------------------------------------------------------------------------------------------


# Excel's own ~$master.xlsx is in tests/test_rollup_crash.py; here the other owner files.
@pytest.mark.parametrize("owner", ["~$ster.xlsx", ".~lock.master.xlsx#"])
def test_master_open_in_another_program(centre: Path, template: Prepared, owner: str) -> None:
    (centre / owner).write_bytes(b"\x0bJo Bloggs" + b"\x00" * 150)  # what Excel writes: the user name
    r = rollup(centre)
    assert isinstance(r, subprocess.CompletedProcess)
    line = assert_clear_message(r)
    assert "master" in line and owner in line and "Close it" in line, line
    (centre / owner).unlink()
    assert_intact(centre, template)


# --------------------------------------------------------------------------------------------
# Two roll-ups at once
# --------------------------------------------------------------------------------------------


# "merging" is in tests/test_rollup_crash.py; here the other stages, and what the first leaves
# when it is then killed.
@pytest.mark.parametrize("hold_at", ["archived", "master-writing", "committed"])
def test_second_roll_up_refuses_while_the_first_runs(centre: Path, template: Prepared, tmp_path: Path,
                                                     hold_at: str) -> None:
    cp = Checkpoint(tmp_path)
    first = rollup(centre, wait=False, env=cp.env(hold_at))
    assert isinstance(first, subprocess.Popen)
    try:
        assert cp.wait(first) == hold_at  # paused there until killed: no race with a timer
        second = rollup(centre)
        assert isinstance(second, subprocess.CompletedProcess)
        line = assert_clear_message(second)
        assert "another roll-up is already running" in line, line
        assert str(os.getpid()) not in line  # names the holder: the first roll-up's process
        assert str(first.pid) in line, line
        with sqlite3.connect(centre / "ledger.sqlite", timeout=30) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        first.send_signal(signal.SIGKILL)  # a crash of the first: the lock goes with it
        first.communicate(timeout=TIMEOUT)
        cp.close()
    # Killed while held: the previous master or the new one -- whole either way; nothing lost.
    import openpyxl

    openpyxl.load_workbook(centre / "master.xlsx", read_only=True).close()
    after = rollup(centre)
    assert isinstance(after, subprocess.CompletedProcess)
    assert after.returncode == 0, after.stdout + after.stderr
    with sqlite3.connect(centre / "ledger.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert _learners(centre) == template.learners + 1
    openpyxl.load_workbook(centre / "master.xlsx", read_only=True).close()
