"""The roll-up against a hostile inbox and a broken disk: one bad entry never stops a centre.

Each test puts one class of trouble beside good files and asserts: no traceback, a reason that
names the entry, the good files merged, nothing lost. Oracles are written out (the reasons, the
bytes of the archive, the ledger's rows); time is bounded by subprocess timeouts only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from test_centre_sample import make_centre, query

from tracker.centre import receive as R
from tracker.centre.conflicts import open_conflicts, resolve
from tracker.centre.create import init_centre
from tracker.centre.export_tables import export
from tracker.centre.folder import Centre, RollupLock
from tracker.centre.rollup_steps import rollup
from tracker.errors import CentreError

from corpus import make_corpus as mc  # tests/ is on sys.path

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="pipes, sockets, links and undecodable names")


def _cli(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "tracker", *map(os.fsdecode, args)], capture_output=True, timeout=300)


def _clean(r: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Traceback" not in r.stdout + r.stderr, r.stderr.decode("utf-8", "replace")


def _rollup_json(c: Centre) -> dict[str, Any]:
    r = _cli("rollup", "--json", c.root)
    _clean(r)
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


@posix_only
def test_only_ordinary_files_are_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = make_centre(tmp_path / "c", register=False)
    inbox = c.inbox
    good = mc.learner_xlsx(11)
    (inbox / "good.xlsx").write_bytes(good)
    os.mkfifo(inbox / "fifo.xlsx")
    os.symlink("/dev/zero", inbox / "zero.xlsx")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"a system file that must never reach the archive\n")
    os.symlink(secret, inbox / "passwd.xlsx")
    monkeypatch.chdir(inbox)  # a socket's path must be short: bind it relative to the inbox
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.xlsx")
    (inbox / "folder.xlsx").mkdir()
    (inbox / "folder.xlsx" / "notes.txt").write_text("kept")
    (inbox / "part.xlsx").write_bytes(b"")  # still being copied in: empty, written just now
    try:
        data = _rollup_json(c)  # would hang on the pipe, or copy /dev/zero until the disk filled
    finally:
        sock.close()
    out = {f["file"]: f for f in data["files"]}
    assert out["good.xlsx"]["outcome"] == "merged"
    reasons = {name: f["reason"] for name, f in out.items() if f["outcome"] == "skipped"}
    link = ("it is a link to another file, which tracker does not follow (it could point anywhere); put the "
            "workbook itself in the inbox")
    assert reasons == {
        "fifo.xlsx": "it is a named pipe, not an ordinary file, so it was not opened",
        "zero.xlsx": link,
        "passwd.xlsx": link,
        "sock.xlsx": "it is a socket, not an ordinary file, so it was not opened",
        "folder.xlsx": "it is a folder named like a workbook, not a workbook; put the workbook file itself in the inbox",
        "part.xlsx": "left for the next roll-up: it is empty and was written moments ago, so it is probably still "
                     "being copied in",
    }
    archived = [p.read_bytes() for p in c.archive.rglob("*") if p.is_file()]
    assert archived == [good]  # the good file only: no system file, no endless zeros
    assert sorted(p.name for p in inbox.iterdir()) == ["fifo.xlsx", "folder.xlsx", "part.xlsx", "passwd.xlsx",
                                                        "sock.xlsx", "zero.xlsx"]
    assert query(c, "SELECT count(*) FROM files") == [(1,)]


def test_a_file_that_grows_while_it_is_read_is_left_for_the_next_run(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    c = make_centre(tmp_path / "c", register=False)
    p = c.inbox / "copying.xlsx"
    p.write_bytes(mc.learner_xlsx(12)[:20_000])  # the first part of a copy in progress
    real = R._open_ordinary

    def open_then_grow(path: Path) -> tuple[int, os.stat_result]:
        got = real(path)
        with open(path, "ab") as f:  # the copying program writes more after tracker looked
            f.write(b"\0" * 1000)
        return got

    monkeypatch.setattr(R, "_open_ordinary", open_then_grow)
    skipped: list[R.Skipped] = []
    assert R.receive_all(c, [p], skipped=skipped) == []
    assert skipped == [R.Skipped("copying.xlsx", "left for the next roll-up: it changed while it was being read, "
                                                 "so it is probably still being copied in")]
    assert not [q for q in c.archive.rglob("*") if q.is_file()]  # nothing kept of a half file


def _on_another_qualification(wb: object) -> None:
    """Cover and metadata name qualification 600/0000/4 (not installed yet)."""
    from tracker.workbook import layout as L

    ws = wb[L.COVER]  # type: ignore[index]
    ws.cell(row=L.cover_row("qualification_number") + 1, column=L.COVER_VALUE_COL + 1, value="600/0000/4")
    for row in wb[L.META].iter_rows():  # type: ignore[index]
        if row[0].value == "spec_number":
            row[1].value = "600/0000/4"
        elif row[0].value == "spec_id":
            row[1].value = "centre-copy-of-l2"


def test_a_quarantined_file_is_tried_again_when_moved_back(tmp_path: Path) -> None:
    from tracker.spec.catalogue import BUNDLED_DIR

    c = make_centre(tmp_path / "c", register=False)
    (c.inbox / "a.xlsx").write_bytes(mc._with_openpyxl(mc.learner_xlsx(13), _on_another_qualification))
    first = rollup(c, workers=1)
    assert [(f.name, f.outcome) for f in first.files] == [("a.xlsx", "quarantined")]
    assert first.files[0].reason == "qualification 600/0000/4 is not installed"
    assert "move it back into the inbox" in (c.quarantine / "a.xlsx.why.txt").read_text("utf-8")
    # The cause is fixed (the centre installs the qualification), the file goes back: it merges.
    spec = (BUNDLED_DIR / "highfield-l2-diploma-customer-service-skills.yaml").read_text("utf-8")
    spec = spec.replace("id: highfield-l2-diploma-customer-service-skills", "id: centre-copy-of-l2", 1)
    (c.specs / "copy.yaml").write_text(spec.replace("number: 603/4687/5", "number: 600/0000/4", 1), "utf-8")
    shutil.move(c.quarantine / "a.xlsx", c.inbox / "a.xlsx")
    second = rollup(c, workers=1)
    assert [(f.name, f.outcome) for f in second.files] == [("a.xlsx", "merged")]
    assert query(c, "SELECT uln, qualification_number FROM learners") == [(mc.learner_uln(13), "600/0000/4")]


def test_quarantine_on_another_file_system(tmp_path: Path) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system to put the quarantine on")
    qdir = Path(tempfile.mkdtemp(prefix="tracker-quarantine-", dir=other))
    try:
        root = tmp_path / "c"
        root.mkdir()
        (root / "centre.yaml").write_text(f"name: x\npaths:\n  quarantine: '{qdir.as_posix()}'\n", encoding="utf-8")
        c, _created = init_centre(root)
        assert c.quarantine == qdir
        (c.inbox / "bad.xlsx").write_bytes(b"not a workbook at all")
        (c.inbox / "good.xlsx").write_bytes(mc.learner_xlsx(14))
        result = rollup(c, workers=1)
        assert {f.name: f.outcome for f in result.files} == {"bad.xlsx": "quarantined", "good.xlsx": "merged"}
        assert result.notes == []
        assert (qdir / "bad.xlsx").read_bytes() == b"not a workbook at all"
        assert (qdir / "bad.xlsx.why.txt").is_file()
        assert list(c.inbox.iterdir()) == [] and not list(qdir.glob(".tmp-*"))
    finally:
        shutil.rmtree(qdir, ignore_errors=True)


@posix_only
def test_names_near_the_limit_and_names_that_are_not_utf8(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c", register=False)
    long_name = "é" * 121 + ".xlsx"  # 247 bytes: its note, name + ".why.txt", would pass 255
    assert len(os.fsencode(long_name)) == 247
    (c.inbox / long_name).write_bytes(b"not a workbook")
    raw = os.path.join(os.fsencode(c.inbox), b"caf\xe9 \x1b[32mOK.xlsx")
    with open(raw, "wb") as f:
        f.write(mc.learner_xlsx(15))
    data = _rollup_json(c)
    out = {f["file"]: f["outcome"] for f in data["files"]}
    assert out == {long_name: "quarantined", "caf\\xe9 \x1b[32mOK.xlsx": "merged"}
    notes = [p for p in c.quarantine.iterdir() if p.name.endswith(".why.txt")]
    assert len(notes) == 1 and len(os.fsencode(notes[0].name)) <= 255
    assert (c.quarantine / long_name).read_bytes() == b"not a workbook"
    assert query(c, "SELECT original_name FROM files ORDER BY original_name") == [
        ("caf\\xe9 \x1b[32mOK.xlsx",), (long_name,)]
    text = _cli("rollup", c.root)  # the text output: escaped, nothing raw reaches the terminal
    _clean(text)
    assert b"\x1b" not in text.stdout + text.stderr


def test_a_lock_file_deleted_by_hand_stops_the_roll_up_that_held_it(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c", register=False)
    first = RollupLock(c)
    first.acquire()
    try:
        first.check_held()
        c.lock_path.unlink()  # by hand, while the first roll-up runs
        second = RollupLock(c)
        second.acquire()  # a new lock file: nothing can stop this one starting ...
        try:
            second.check_held()
            with pytest.raises(CentreError, match="was deleted or replaced while it ran"):
                first.check_held()  # ... but the first stops before its commit
        finally:
            second.release()
    finally:
        first.release()


def test_the_lock_belongs_to_the_roll_up_process_not_its_workers(tmp_path: Path) -> None:
    # A process forked while the lock is held (as the roll-up's workers are) does not hold it:
    # once the holder lets go, another process locks at once although the child lives on.
    c = make_centre(tmp_path / "c", register=False)
    probe = [sys.executable, "-c", "import sys; from tracker.centre.folder import RollupLock, open_centre; "
                                   "RollupLock(open_centre(sys.argv[1])).acquire(); print('locked')", str(c.root)]
    lock = RollupLock(c)
    lock.acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait until told to go (the parent closes the pipe), then leave
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    try:
        held = subprocess.run(probe, capture_output=True, text=True, timeout=120)
        assert held.returncode != 0 and "another roll-up is already running" in held.stderr
        lock.release()
        free = subprocess.run(probe, capture_output=True, text=True, timeout=120)
        assert free.returncode == 0 and free.stdout.strip() == "locked", free.stderr
    finally:
        os.close(w)
        os.waitpid(pid, 0)


def _damage(ledger: Path, how: str) -> None:
    data = bytearray(ledger.read_bytes())
    if how == "garbage":
        data = bytearray(b"\xa5" * len(data))
    elif how == "truncated":
        data = data[:len(data) // 3]
    else:  # every page after the header page overwritten
        data[4096:] = b"\xa5" * (len(data) - 4096)
    ledger.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "truncated", "pages"])
def test_a_damaged_ledger_is_said_to_be_damaged_by_every_command(tmp_path: Path, how: str) -> None:
    c = make_centre(tmp_path / "c", register=False)
    (c.inbox / "a.xlsx").write_bytes(mc.learner_xlsx(16))
    rollup(c, workers=1)
    (c.inbox / "b.xlsx").write_bytes(mc.learner_xlsx(17))
    _damage(c.ledger, how)
    damaged = c.ledger.read_bytes()
    calls = {
        "conflicts": lambda: open_conflicts(c),
        "export": lambda: export(c, "csv", tmp_path / "out"),
        "resolve": lambda: resolve(c, keep="accepted", conflict_id=1),
        "rollup": lambda: rollup(c, workers=1),
    }
    for name, call in calls.items():
        with pytest.raises(CentreError) as caught:
            call()
        message = str(caught.value)
        # Said as what it is -- damaged, with the way back -- never as a full disk.
        assert f"the ledger {c.ledger} is corrupt" in message and "nothing was changed" in message.lower(), (name, message)
        assert f"tracker rebuild {c.root}" in message, (name, message)
        assert "free some" not in message and "disk is full" not in message, (name, message)
        assert c.ledger.read_bytes() == damaged, name
    assert (c.inbox / "b.xlsx").exists()  # the return waits, nothing lost
    r = _cli("conflicts", c.root)
    _clean(r)
    assert r.returncode == 1 and r.stderr.decode().startswith(f"tracker: the ledger {c.ledger} is corrupt")


def test_metadata_naming_another_qualification_never_enrols(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c", register=False)
    files = mc.round2_corpus()
    (c.inbox / "odd.xlsx").write_bytes(files["metadata_other_qualification.xlsx"])
    (c.inbox / "good.xlsx").write_bytes(mc.learner_xlsx(18))
    result = rollup(c, workers=1)
    out = {f.name: f for f in result.files}
    assert out["good.xlsx"].outcome == "merged" and out["odd.xlsx"].outcome == "quarantined"
    assert out["odd.xlsx"].reason == ("its hidden metadata says it was made for qualification 603/4688/7 "
                                      "(603/4688/7), but its cover names 603/4687/5")
    assert query(c, "SELECT uln, qualification_number FROM learners") == [(mc.learner_uln(18), "603/4687/5")]
    codes = {code for (code,) in query(c, "SELECT code FROM issues")}
    assert "centre-metadata-mismatch" in codes
