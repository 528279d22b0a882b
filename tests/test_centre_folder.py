"""The centre folder: init, centre.yaml, the roll-up lock, a master open in Excel, readings and
register changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_centre_sample import L2, drop, items, make_centre, query, roll, sheet_dicts

from tracker.centre.create import init_centre
from tracker.centre.folder import (
    CONFIG_NAME,
    RollupLock,
    check_master_writable,
    open_centre,
)
from tracker.errors import CentreError, MasterLocked
from tracker.sample import write_register


def test_init_creates_everything_and_never_overwrites(tmp_path: Path) -> None:
    root = tmp_path / "centre"
    c, created = init_centre(root, name="Riverside", number="12345")
    assert created == ["centre.yaml", "inbox/", "archive/", "quarantine/", "specs/", "register.xlsx",
                       "ledger.sqlite", "master.xlsx"]
    for p in (c.inbox, c.archive, c.quarantine, c.specs):
        assert p.is_dir()
    for p in (c.register, c.ledger, c.master, c.config_path):
        assert p.is_file()
    cfg = yaml.safe_load(c.config_path.read_text(encoding="utf-8"))
    assert cfg["name"] == "Riverside" and cfg["number"] == "12345"
    assert cfg["readings"] == {L2.id: L2.default_reading}
    assert (c.name, c.number, c.reading_for(L2.id)) == ("Riverside", "12345", "criteria-table")
    # Completing a folder creates only what is missing.
    c.register.unlink()
    (c.root / "inbox").rmdir()
    before = c.config_path.read_text(encoding="utf-8")
    _c2, created2 = init_centre(root)
    assert created2 == ["inbox/", "register.xlsx"]
    assert c.config_path.read_text(encoding="utf-8") == before
    with pytest.raises(CentreError, match="already a centre folder"):
        init_centre(root, name="Another name")


def test_names_that_need_quoting(tmp_path: Path) -> None:
    c, _ = init_centre(tmp_path / "c", name='St. Mary\'s: "Centre" # 1', number="007")
    again = open_centre(c.root)
    assert again.name == 'St. Mary\'s: "Centre" # 1' and again.number == "007"


@pytest.mark.parametrize("text, message", [
    ("name: [unclosed", "not valid YAML"),
    ("- a list", "expected keys"),
    ("name: x\ncolour: blue\n", "unknown setting"),
    ("readings:\n  no-such-qualification: x\n", "no qualification with id"),
    (f"readings:\n  {L2.id}: sideways\n", "is not a reading"),
    ("paths:\n  outbox: x\n", "unknown path"),
    ("workers: many\n", "whole number"),
])
def test_bad_config_is_explained(tmp_path: Path, text: str, message: str) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / CONFIG_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(CentreError, match=message):
        open_centre(root)


def test_not_a_centre(tmp_path: Path) -> None:
    with pytest.raises(CentreError, match="not a centre folder"):
        open_centre(tmp_path)


def test_centre_of_master(tmp_path: Path) -> None:
    from tracker.centre.folder import centre_of_master

    c = make_centre(tmp_path / "c", register=False)
    found = centre_of_master(c.master)
    assert found is not None and found.root == c.root
    assert centre_of_master(tmp_path / "elsewhere.xlsx") is None
    assert centre_of_master(c.root / "inbox" / "master.xlsx") is None


def test_paths_can_be_moved(tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    shared = tmp_path / "shared drive"
    (root / CONFIG_NAME).write_text(
        f"name: x\npaths:\n  inbox: returns\n  master: '{(shared / 'Master.xlsx').as_posix()}'\n", encoding="utf-8")
    c, created = init_centre(root)
    assert c.inbox == root / "returns" and c.inbox.is_dir()
    assert c.master == shared / "Master.xlsx" and c.master.is_file()
    drop(c, items(1))
    assert roll(c).count("merged") == 1


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c", register=False)
    with RollupLock(c):
        with pytest.raises(CentreError, match="another roll-up is already running.*process"):
            RollupLock(c).acquire()
        with pytest.raises(CentreError, match="already running"):
            roll(c)
    with RollupLock(c):
        pass
    roll(c)


@pytest.mark.parametrize("owner", ["~$master.xlsx", ".~lock.master.xlsx#"])
def test_master_open_elsewhere(tmp_path: Path, owner: str) -> None:
    c = make_centre(tmp_path / "c", register=False)
    drop(c, items(1))
    (c.master.parent / owner).write_text("x")
    with pytest.raises(MasterLocked, match="Close it and roll up again"):
        check_master_writable(c.master)
    with pytest.raises(MasterLocked):
        roll(c)
    assert len(list(c.inbox.iterdir())) == 1  # nothing received
    (c.master.parent / owner).unlink()
    assert roll(c).count("merged") == 1


def test_sharing_violation_on_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows: Excel opened the master between the check and the swap (os.replace fails)."""
    import tracker.centre.publish as publish

    c = make_centre(tmp_path / "c", register=False)
    old = c.master.read_bytes()
    drop(c, items(2))
    real = publish.os.replace

    def refuse(src: object, dst: object) -> None:
        if Path(str(dst)) == c.master:
            raise PermissionError(13, "The process cannot access the file because it is being used")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(publish.os, "replace", refuse)
    with pytest.raises(MasterLocked, match="run `tracker rollup` again"):
        roll(c)
    assert c.master.read_bytes() == old  # the old master stands
    assert not list(c.master.parent.glob(".~*"))
    monkeypatch.setattr(publish.os, "replace", real)
    r = roll(c)  # nothing new to merge, but the master was behind the ledger: rebuilt
    assert not r.changed and r.master_rebuilt
    assert len(sheet_dicts(c.master, "Learners")) == 2


def test_the_centre_reading_applies(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c")
    batch = [i for i in items(9) if i[0].number == L2.number][:3]
    drop(c, batch)
    roll(c)
    unit17 = L2.unit(17)
    assert unit17 is not None

    def required17() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for x in sheet_dicts(c.master, "Criteria"):
            if x["Unit"] == 17 and x["Required"] == "Yes":
                out.setdefault(x["Pathway"], set()).add(x["Ref"])
        return out

    assert set(map(frozenset, required17().values())) == {frozenset({"B17.1", "B17.2"})}
    # The centre switches to the unit-guidance reading: no new files, but the change is rolled up.
    text = c.config_path.read_text(encoding="utf-8").replace('"criteria-table"', '"unit-guidance"')
    c.config_path.write_text(text, encoding="utf-8")
    c = open_centre(c.root)
    r = roll(c)
    assert r.changed and r.master_rebuilt
    assert {row[0] for row in query(c, "SELECT reading FROM learners")} == {"unit-guidance"}
    got = required17()
    assert got.get("Face-to-face", {"B17.1"}) == {"B17.1"} and got.get("Non-facing", {"B17.2"}) == {"B17.2"}
    assert not roll(c).changed  # and only once


def test_register_change_is_rolled_up(tmp_path: Path) -> None:
    from tracker.sample import sample_staff

    c = make_centre(tmp_path / "c", register=False)
    c.register.unlink()
    batch = items(12)
    drop(c, batch)
    roll(c)
    codes = {x["Code"] for x in sheet_dicts(c.master, "Issues")}
    assert "centre-trainee-under-sampled" not in codes  # nobody is known to be a trainee yet
    assert not any(code.startswith("staff-") for code in codes)  # no register: no staff checks
    # A register that forgot Tom Fletcher: his learners' latest returns are checked again.
    write_register(c.register, [m for m in sample_staff() if m.name != "Tom Fletcher"])
    r = roll(c)
    assert r.changed and r.count("merged") == 0
    iqa = {x["Assessor"]: x["Trainee"] for x in sheet_dicts(c.master, "IQA sampling") if x["Scope"] == "All"}
    assert iqa.get("Daniel Hughes") == "Yes" and iqa.get("Amira Khan") == "No"
    toms = {s.learner.uln for _q, s, rec in batch if s.learner.assessor == "Tom Fletcher" and rec.entries}
    flagged = {x["ULN"] for x in sheet_dicts(c.master, "Issues") if x["Code"] == "staff-not-in-register"}
    assert toms and flagged == toms
    # Tom is added: the findings go away.
    write_register(c.register)
    roll(c)
    assert not [x for x in sheet_dicts(c.master, "Issues") if x["Code"] == "staff-not-in-register"]


def test_blank_or_broken_register(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "c", register=False)  # the blank register `tracker init` writes
    drop(c, items(3))
    roll(c)
    codes = {x["Code"] for x in sheet_dicts(c.master, "Issues")}
    assert not any(code.startswith("staff-") for code in codes)  # no staff listed yet: not checked
    c.register.write_bytes(b"this is not a workbook")
    drop(c, items(4)[3:])
    r = roll(c)
    assert r.count("merged") == 1  # the roll-up goes on
    rows = [x for x in sheet_dicts(c.master, "Issues") if x["Source"] == "Centre register"]
    assert [x["Code"] for x in rows] == ["file-unreadable"]
    assert rows[0]["Message"].startswith("register.xlsx cannot be read") and "staff checks" in rows[0]["Message"]
