"""`tracker rebuild` equals the incremental ledger, and a damaged ledger is refused, never replaced.

The property: over random sequences of returns, duplicates, stale copies, re-issues, edits that
conflict and admin resolutions, the ledger the roll-ups built incrementally and the one
`tracker rebuild` replays from the archive and the journal hold the same learners, accepted
rows, conflicts (with their resolutions), files and bases. The oracle is the incremental ledger
itself, read with SQL independent of the rebuild's code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from test_centre_sample import Item, items, make_centre, query, roll

from tracker.centre.conflicts import open_conflicts, resolve
from tracker.centre.folder import Centre
from tracker.centre.merge_rules import FIELDS
from tracker.centre.rebuild import rebuild
from tracker.centre.reissue import issue_workbooks
from tracker.errors import CentreError
from tracker.sample import write_workbooks
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry
from tracker.workbook.reader import read_workbook
from tracker.workbook.writer import new_workbook

_clock = [dt.datetime(2026, 3, 1, 9, 0).timestamp()]


def _deliver(c: Centre, src: Path, name: str) -> None:
    dst = c.inbox / name
    shutil.copyfile(src, dst)
    _clock[0] += 60
    os.utime(dst, (_clock[0], _clock[0]))


def stable(c: Centre) -> dict[str, list[tuple[Any, ...]]]:
    """The ledger's content without run ids and times (a replay runs when it runs)."""
    return {
        "learners": sorted(query(c, "SELECT uln, qualification_number, name, pathway, reading, registration_date, "
                                    "assessor, iqa, tutor, employer, workbook_id, last_file FROM learners")),
        "criteria": sorted(query(c, f"SELECT l.uln, c.ref, c.unit, c.{', c.'.join(FIELDS)}, c.source_file "
                                    "FROM criteria c JOIN learners l ON l.id = c.learner_id"), key=repr),
        "conflicts": sorted(query(c, "SELECT k.id, l.uln, k.ref, k.fields, k.accepted, k.accepted_file, k.returned, "
                                     "k.returned_file, k.base, k.status, k.resolution, k.closed_file, k.closed_by, "
                                     "k.note FROM conflicts k JOIN learners l ON l.id = k.learner_id")),
        "files": sorted(query(c, "SELECT hash, outcome, seq, uln FROM files")),
        "bases": sorted(query(c, "SELECT b.id, l.uln, b.revision, b.fingerprint, b.rows FROM bases b "
                                 "JOIN learners l ON l.id = b.learner_id")),
        "issues": sorted(query(c, "SELECT file, code, severity, message, sheet, cell FROM issues"), key=repr),
    }


# the ops of a random history
OPS = ("fresh", "duplicate", "stale", "issue", "issued-copy", "conflict", "resolve-accepted", "resolve-returned")


def _apply(c: Centre, work: Path, learners: list[Item], op: str, k: int, n: int,
           delivered: list[Path], issued: list[Path]) -> None:
    q, s, rec = learners[k % len(learners)]
    name = f"f{n}.xlsx"
    if op == "fresh":
        # The learner's record with one more comment (new work on an unsigned field).
        ref = sorted(rec.entries)[n % len(rec.entries)]
        e = dataclasses.replace(rec.entries[ref], comments=f"note {n}")
        rec2 = dataclasses.replace(rec, entries={**rec.entries, ref: e})
        (p,) = write_workbooks([(q, s, rec2)], work / f"w{n}", names=[name])
        delivered.append(p)
        _deliver(c, p, name)
    elif op == "duplicate" and delivered:
        _deliver(c, delivered[-1], name)
    elif op == "stale" and delivered:
        _deliver(c, delivered[0], name)
    elif op == "issue":
        issued[:] = [w.path for w in issue_workbooks(c, out=work / f"out{n}").workbooks]
        return
    elif op == "issued-copy" and issued:
        src = issued[k % len(issued)]
        book = read_workbook(src)
        r = book.to_record()
        ref = sorted(r.entries)[0] if r.entries else next(cr.ref for u in q.units for cr in u.criteria)
        e = dataclasses.replace(r.entries.get(ref, CriterionEntry()), comments=f"issued {n}")
        p = work / f"ic{n}.xlsx"
        from tracker.spec.catalogue import load_qualification

        new_workbook(load_qualification(book.meta["spec_id"]), dataclasses.replace(r, entries={**r.entries, ref: e}),
                     p, workbook_id=book.meta["workbook_id"], base=book.meta["base"], reading=book.meta["reading"])
        delivered.append(p)
        _deliver(c, p, name)
    elif op == "conflict":
        met = [ref for ref, e in rec.entries.items() if e.decision == L.MET]
        if not met:
            return
        ref = met[n % len(met)]
        rec2 = dataclasses.replace(rec, entries={**rec.entries, ref: dataclasses.replace(
            rec.entries[ref], assessor=f"Other Person {n % 2}")})
        (p,) = write_workbooks([(q, s, rec2)], work / f"w{n}", names=[name])
        delivered.append(p)
        _deliver(c, p, name)
    elif op.startswith("resolve"):
        rows = open_conflicts(c)
        if rows:
            resolve(c, keep=op.split("-")[1], conflict_id=rows[k % len(rows)]["id"], note=f"n{n}", by="Admin")
        return
    else:
        return
    roll(c)


# Few examples, each a whole history of roll-ups; no shrinking (each step writes and reads workbooks).
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
          phases=(Phase.explicit, Phase.generate))
@example([("issue", 0), ("issued-copy", 0), ("conflict", 0), ("resolve-returned", 0), ("stale", 1),
          ("duplicate", 0), ("issue", 1), ("conflict", 1), ("resolve-accepted", 0), ("issued-copy", 1)])
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3)), min_size=3, max_size=7))
def test_rebuild_equals_incremental(history: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        c = make_centre(root / "centre")
        learners = items(2)
        (p0, p1) = write_workbooks(learners, root / "w", names=["a.xlsx", "b.xlsx"])
        _deliver(c, p0, "a.xlsx")
        _deliver(c, p1, "b.xlsx")
        roll(c)
        delivered: list[Path] = [p0, p1]
        issued: list[Path] = []
        for n, (op, k) in enumerate(history):
            _apply(c, root, learners, op, k, n, delivered, issued)
        before = stable(c)
        master_rows = _criteria_sheet(c)
        r = rebuild(c, today=dt.date(2026, 3, 2))
        assert not r.problems
        assert stable(c) == before
        assert _criteria_sheet(c) == master_rows


def _criteria_sheet(c: Centre) -> list[tuple[Any, ...]]:
    """The master's Criteria sheet without the times files were received (a replay's own)."""
    from test_centre_sample import master_cells

    rows = master_cells(c.master)["Criteria"]
    drop = {i for i, h in enumerate(rows[0]) if h in ("Received", "Last return")}
    return [tuple(v for i, v in enumerate(r) if i not in drop) for r in rows]


# -- a damaged ledger is refused ------------------------------------------------------------------


@pytest.fixture()
def rolled(tmp_path: Path) -> tuple[Centre, bytes]:
    """A centre after two roll-ups (two files received), and its ledger's bytes after the first."""
    c = make_centre(tmp_path / "centre")
    a, b = items(2)
    (pa,) = write_workbooks([a], tmp_path / "w1")
    _deliver(c, pa, "a.xlsx")
    roll(c)
    first = c.ledger.read_bytes()
    (pb,) = write_workbooks([b], tmp_path / "w2")
    _deliver(c, pb, "b.xlsx")
    roll(c)
    return c, first


def _zero(c: Centre, first: bytes) -> None:
    c.ledger.write_bytes(b"")


def _truncated(c: Centre, first: bytes) -> None:
    data = c.ledger.read_bytes()
    c.ledger.write_bytes(data[: len(data) // 3])


def _corrupt(c: Centre, first: bytes) -> None:
    data = bytearray(c.ledger.read_bytes())
    data[100:] = bytes((i * 37) % 251 for i in range(len(data) - 100))  # header kept, every page scrambled
    c.ledger.write_bytes(bytes(data))


def _missing(c: Centre, first: bytes) -> None:
    c.ledger.unlink()


def _restored_old_copy(c: Centre, first: bytes) -> None:
    c.ledger.write_bytes(first)  # intact, but lacks the second file the journal lists


@pytest.mark.parametrize("damage", [_zero, _truncated, _corrupt, _missing, _restored_old_copy])
def test_damaged_ledger_refused_by_every_command_master_unchanged(rolled: tuple[Centre, bytes], damage: Any,
                                                                  tmp_path: Path) -> None:
    c, first = rolled
    master = c.master.read_bytes()
    good = stable(c)
    damage(c, first)
    damaged = c.ledger.read_bytes() if c.ledger.exists() else None
    commands = [lambda: roll(c), lambda: open_conflicts(c), lambda: issue_workbooks(c, out=tmp_path / "o"),
                lambda: resolve(c, keep="accepted", conflict_id=1)]
    for command in commands:
        with pytest.raises(CentreError) as e:
            command()
        msg = str(e.value)
        assert "tracker rebuild" in msg and "\n" not in msg
        assert c.master.read_bytes() == master
        assert (c.ledger.read_bytes() if c.ledger.exists() else None) == damaged  # never silently replaced
    r = rebuild(c, today=dt.date(2026, 3, 2))
    assert r.files == 2 and not r.problems
    assert stable(c) == good
    if damaged is not None:
        assert r.kept_old is not None and r.kept_old.read_bytes() == damaged  # the old one is kept
    assert roll(c).files == []  # usable again


def test_rebuild_reports_missing_and_altered_archive_copies(rolled: tuple[Centre, bytes]) -> None:
    c, _ = rolled
    copies = sorted(p for p in c.archive.glob("*/*") if p.is_file())
    assert len(copies) == 2
    copies[0].write_bytes(copies[0].read_bytes() + b"x")
    copies[1].unlink()
    r = rebuild(c, today=dt.date(2026, 3, 2))
    assert r.files == 0
    assert sorted(p.split(": ", 1)[1].split(" ")[-1] for p in r.problems) != []
    assert any("altered" in p for p in r.problems) and any("missing" in p for p in r.problems)


def test_schema_1_ledger_is_migrated_on_open(tmp_path: Path) -> None:
    """A ledger written before bases existed opens, gains the new table and column, keeps its rows."""
    import sqlite3

    from tracker.centre import ledger as LG

    c = make_centre(tmp_path / "centre")
    a, = items(1)
    (pa,) = write_workbooks([a], tmp_path / "w")
    _deliver(c, pa, "a.xlsx")
    roll(c)
    before = query(c, "SELECT * FROM criteria")
    conn = sqlite3.connect(c.ledger)
    conn.executescript("DROP TABLE bases; ALTER TABLE conflicts DROP COLUMN base; "
                       "ALTER TABLE criteria DROP COLUMN extra; PRAGMA user_version=1;")
    conn.close()
    conn = LG.connect(c.ledger, create=False)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LG.SCHEMA_VERSION == 6
    cols = {r[1] for r in conn.execute("PRAGMA table_info(conflicts)")}
    assert "base" in cols and conn.execute("SELECT count(*) FROM bases").fetchone()[0] == 0
    assert "extra" in {r[1] for r in conn.execute("PRAGMA table_info(criteria)")}  # schema 4
    conn.close()
    assert query(c, "SELECT * FROM criteria") == before  # the rows kept (extra: NULL, as before)


def test_recheck_verifies_archive_copies_by_hash(rolled: tuple[Centre, bytes]) -> None:
    """A changed register makes the roll-up check every latest return again from the archive:
    a copy altered or missing since it was received is reported, not checked."""
    from tracker.sample import sample_staff, write_register

    c, _ = rolled
    copies = sorted((p for p in c.archive.glob("*/*") if p.is_file()), key=lambda p: p.name)
    copies[0].write_bytes(copies[0].read_bytes() + b"x")
    copies[1].unlink()
    write_register(c.register, sample_staff()[:-1])  # the configuration changed: everything is checked again
    r = roll(c)
    assert sum("was altered" in n for n in r.notes) == 1 and sum("is missing" in n for n in r.notes) == 1


def test_init_on_a_centre_whose_ledger_was_lost_refuses(rolled: tuple[Centre, bytes]) -> None:
    """`tracker init` creates what is missing -- but never a new, empty ledger beside an archive."""
    from tracker.centre.create import init_centre

    c, _ = rolled
    master = c.master.read_bytes()
    c.ledger.unlink()
    with pytest.raises(CentreError, match="tracker rebuild"):
        init_centre(c.root)
    assert not c.ledger.exists() and c.master.read_bytes() == master
