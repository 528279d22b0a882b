"""Rolling up is idempotent: the same files again change nothing, and the master is a pure
function of the ledger (rebuilt, it is identical cell by cell)."""

from __future__ import annotations

import shutil
from pathlib import Path

from test_centre_sample import TODAY, drop, items, ledger_dump, make_centre, master_cells, query, roll

from tracker.centre.rollup_steps import rollup


def test_roll_up_twice_changes_nothing(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    batch = items(8)
    drop(c, batch)
    first = roll(c)
    assert first.count("merged") == 8 and first.changed
    assert list(c.inbox.iterdir()) == []  # merged files leave the inbox ...
    archived = sorted(p.name for p in c.archive.rglob("*.xlsx"))
    assert len(archived) == 8  # ... and are kept under their content hash
    ledger_a = ledger_dump(c)
    cells_a = master_cells(c.master)
    master_bytes = c.master.read_bytes()

    # The very same files dropped again, under other names: no-ops.
    for p in c.archive.rglob("*.xlsx"):
        shutil.copyfile(p, c.inbox / f"again {p.name}")
    second = roll(c)
    assert not second.changed and second.count("duplicate") == 8 and second.count("merged") == 0
    assert not second.master_rebuilt
    assert ledger_dump(c) == ledger_a
    assert master_cells(c.master) == cells_a
    assert c.master.read_bytes() == master_bytes
    assert list(c.inbox.iterdir()) == []

    # An empty inbox: nothing either.
    third = roll(c)
    assert not third.changed and third.files == []
    assert ledger_dump(c) == ledger_a


def test_master_rebuilt_from_ledger_is_identical(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    drop(c, items(6))
    roll(c)
    cells = master_cells(c.master)
    ledger = ledger_dump(c)
    c.master.unlink()
    r = roll(c)
    assert r.master_rebuilt and not r.changed
    assert master_cells(c.master) == cells
    assert ledger_dump(c) == ledger
    # The ledger records that the master is up to date: it is not rebuilt again.
    assert roll(c).master_rebuilt is False


def test_parallel_and_serial_roll_ups_agree(tmp_path: Path) -> None:
    batch = items(14)
    results = []
    for workers in (1, 2):
        c = make_centre(tmp_path / f"centre{workers}")
        drop(c, batch)
        r = rollup(c, workers=workers, today=TODAY)
        assert r.workers == workers
        rows = query(c, "SELECT l.uln, c.ref, c.decision, c.assessor_date, c.iqa_decision FROM criteria c "
                        "JOIN learners l ON l.id = c.learner_id ORDER BY 1, 2")
        sheets = master_cells(c.master)
        results.append((rows, sheets["Criteria"], sheets["Learners"], sheets["Matrix"]))
    assert results[0][0] == results[1][0]
    assert results[0][3] == results[1][3]
    # Criteria and Learners differ only in the times of the two roll-ups.
    for k, times in ((1, {"Received"}), (2, {"Last return"})):
        assert _without(results[0][k], times) == _without(results[1][k], times)


def _without(rows: list[tuple[object, ...]], headers: set[str]) -> list[list[object]]:
    keep = [i for i, h in enumerate(rows[0]) if h not in headers]
    return [[r[i] for i in keep] for r in rows]

def test_learners_are_not_identified_by_file_name(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    batch = items(4)
    # Every learner's file is called the same; in sub-folders so that they can coexist.
    for i, item in enumerate(batch):
        drop(c, [item], names=[f"batch{i}/tracker.xlsx"])
    r = roll(c)
    assert r.count("merged") == 4
    names = {row[0] for row in query(c, "SELECT name FROM learners")}
    assert names == {s.learner.name for _q, s, _r in batch}
    assert not any(c.inbox.iterdir())  # emptied sub-folders removed too
