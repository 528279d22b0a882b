"""Killing a roll-up at any point leaves the previous ledger and master intact and readable, and
the next roll-up completes with the same result as an uninterrupted one. Also: the roll-up lock,
and a master open in Excel.

The roll-up runs as ``python -m tracker rollup`` in its own process group; the environment
variable ``TRACKER_ROLLUP_PAUSE_AT`` makes it stop at a named point (and say so through a named
pipe the test blocks on: tests/checkpoints.py), where it is killed with SIGKILL -- the whole group,
or the roll-up's process alone, whose worker processes must then die with it. Nothing here waits
a fixed time or depends on how fast the machine is.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from checkpoints import Checkpoint
from test_centre_sample import drop, edit, items, ledger_dump, make_centre, master_cells, roll, signed_ref

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre, open_centre
from tracker.centre.rollup_steps import CHECKPOINTS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL of a process group")

TIMES = {"Received", "Last return", "Time", "Accepted received", "Returned received"}


def _base(root: Path) -> Centre:
    """A centre after one roll-up, with a second batch (new work, new learners, a conflict) waiting."""
    c = make_centre(root)
    batch = items(10)
    drop(c, batch[:5])
    roll(c)
    q, s, rec = batch[2]
    later = [edit(rec, signed_ref(rec), decision="Not yet met")]
    drop(c, [(q, s, later[0])], names=["conflicting.xlsx"])
    drop(c, batch[5:])
    return c


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Path]:
    """(the waiting centre, its ledger and master before, the centre after an uninterrupted roll-up)."""
    root = tmp_path_factory.mktemp("crash") / "base"
    c = _base(root)
    before = {"ledger": ledger_dump(c), "master": master_cells(c.master)}
    done = root.parent / "reference"
    shutil.copytree(root, done)
    roll(open_centre(done), workers=2)
    return root, before, done


def _start(centre: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tracker", "rollup", str(centre), "--quiet", "--workers", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _kill(proc: subprocess.Popen[bytes], *, group: bool = True) -> None:
    """SIGKILL the roll-up's whole process group, or (``group=False``) its own process alone."""
    if group:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def _integrity(c: Centre) -> None:
    conn = sqlite3.connect(str(c.ledger))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


def _semantic(cells: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """Master content without the times of roll-ups (which differ between two runs)."""
    out = {}
    for sheet in ("Learners", "Matrix", "Criteria", "Issues", "Conflicts", "IQA sampling"):
        rows = cells[sheet]
        keep = [i for i, h in enumerate(rows[0]) if h not in TIMES]
        out[sheet] = [tuple(r[i] for i in keep) for r in rows]
    return out


def _check_after_kill(root: Path, before: dict[str, Any], reference: Path, committed: bool,
                      finished: bool = False) -> None:
    c = open_centre(root)
    _integrity(c)
    if committed:
        # Killed after the commit: the new ledger, and a master that is the old one or the new one.
        assert ledger_dump(c) != before["ledger"]
    else:
        assert ledger_dump(c) == before["ledger"]
        assert master_cells(c.master) == before["master"]
    # Everything received is still somewhere: in the inbox or in the archive.
    assert len(list(c.inbox.rglob("*.xlsx"))) == 6 or committed
    # The lock died with the process: the next roll-up runs, and ends where an uninterrupted one does.
    r = roll(c, workers=2)
    # (A roll-up killed while tidying the inbox had already published its master.)
    assert r.master_rebuilt or finished
    _integrity(c)
    want = _semantic(master_cells(open_centre(reference).master))
    assert _semantic(master_cells(c.master)) == want
    conn = LG.connect(c.ledger, create=False)
    try:
        assert LG.get_meta(conn, "master_run") == str(LG.last_run(conn))
    finally:
        conn.close()
    assert not list(c.master.parent.glob(".~*"))  # no temporary master left behind
    assert not list(c.archive.glob(".tmp-*"))
    assert list(c.inbox.iterdir()) == []


POINTS = [p for p in CHECKPOINTS if p not in ("locked", "done")]


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_point(point: str, base: tuple[Path, dict[str, Any], Path], tmp_path: Path) -> None:
    root, before, reference = base
    case = tmp_path / "centre"
    shutil.copytree(root, case)
    with Checkpoint(tmp_path) as cp:
        proc = _start(case, cp.env(point))
        assert cp.wait(proc) == point
        _kill(proc)
    committed = CHECKPOINTS.index(point) >= CHECKPOINTS.index("committed")
    if point == "replaced":
        assert master_cells(case / "master.xlsx") != before["master"]
    _check_after_kill(case, before, reference, committed)


def test_kill_at_random_moments(base: tuple[Path, dict[str, Any], Path], tmp_path: Path) -> None:
    # kill -9 of the roll-up's own process (its two workers are not signalled: they must die with
    # it) at moments drawn at random from every stage, then a next roll-up at once: the lock went
    # with the killed process, so it runs, and ends where an uninterrupted one does.
    root, before, reference = base
    rng = random.Random(4)
    moments = [rng.choice(CHECKPOINTS[1:]) for _ in range(4)]
    for i, point in enumerate(moments):
        case = tmp_path / f"centre{i}"
        shutil.copytree(root, case)
        with Checkpoint(tmp_path / f"centre{i}") as cp:
            proc = _start(case, cp.env(point))
            assert cp.wait(proc) == point
            _kill(proc, group=False)
        c = open_centre(case)
        _integrity(c)
        committed = ledger_dump(c) != before["ledger"]
        assert committed == (CHECKPOINTS.index(point) > CHECKPOINTS.index("master-written"))
        if not committed:
            assert master_cells(c.master) == before["master"]
        _check_after_kill(case, before, reference, committed, finished=point == "done")


def test_a_second_roll_up_refuses_while_one_runs(base: tuple[Path, dict[str, Any], Path], tmp_path: Path) -> None:
    root, _before, _reference = base
    case = tmp_path / "centre"
    shutil.copytree(root, case)
    cp = Checkpoint(tmp_path)
    proc = _start(case, cp.env("merging"))
    try:
        cp.wait(proc)
        second = subprocess.run([sys.executable, "-m", "tracker", "rollup", str(case)], capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 1
        assert "another roll-up is already running" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        _kill(proc)
        cp.close()


def test_master_open_in_excel(base: tuple[Path, dict[str, Any], Path], tmp_path: Path) -> None:
    root, before, _reference = base
    case = tmp_path / "centre"
    shutil.copytree(root, case)
    owner = case / "~$master.xlsx"
    owner.write_bytes(b"\x0bSomeone    ")
    inbox = sorted(p.name for p in (case / "inbox").iterdir())
    proc = subprocess.run([sys.executable, "-m", "tracker", "rollup", str(case)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert "open in Excel" in proc.stderr and "~$master.xlsx" in proc.stderr and "Traceback" not in proc.stderr
    c = open_centre(case)
    assert ledger_dump(c) == before["ledger"]
    assert sorted(p.name for p in c.inbox.iterdir()) == inbox
    owner.unlink()
    assert roll(c).changed
