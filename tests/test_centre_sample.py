"""The sample centre generator (tracker.sample), and helpers shared by the centre tests.

The helpers (imported by tests/test_centre_*.py, test_rollup_*.py, test_export.py) build a centre
folder with a register and learners' returns made by the real writer, roll it up with a fixed
"today", and read the master back cell by cell with openpyxl.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tracker.centre import ledger as LG
from tracker.centre.create import init_centre
from tracker.centre.folder import Centre
from tracker.centre.rollup_steps import RollupResult, rollup
from tracker.identifiers import check_uln
from tracker.sample import (
    AS_OF,
    SampleLearner,
    progress_record,
    sample_learners,
    timeline,
    write_register,
    write_workbooks,
)
from tracker.spec.catalogue import load_qualification
from tracker.spec.models import Kind, Qualification
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, LearnerRecord

TODAY = dt.date(2025, 11, 30)
EARLY = dt.date(2025, 3, 31)
L2 = load_qualification("603/4687/5")
L3 = load_qualification("603/4688/7")

Item = tuple[Qualification, SampleLearner, LearnerRecord]


# -- helpers for the other centre tests ------------------------------------------------------------


def make_centre(root: Path, *, register: bool = True) -> Centre:
    """A new centre folder at ``root`` with the sample staff register."""
    c, _ = init_centre(root, name="Test Centre", number="T-001")
    if register:
        write_register(c.register)
    return c


def items(n: int, *, as_of: dt.date = AS_OF, seed: int = 7) -> list[Item]:
    """``n`` sample learners with their records as of ``as_of``."""
    out = []
    for s in sample_learners(n, seed=seed):
        q = load_qualification(s.qualification_number)
        out.append((q, s, progress_record(q, s, as_of=as_of)))
    return out


_stamp_clock = [dt.datetime(2025, 1, 1, 9, 0).timestamp()]


def drop(c: Centre, batch: list[Item], names: list[str] | None = None) -> list[Path]:
    """Write ``batch`` into the inbox, each file newer than every file dropped before."""
    paths = write_workbooks(batch, c.inbox, names=names)
    for p in paths:
        _stamp_clock[0] += 60
        os.utime(p, (_stamp_clock[0], _stamp_clock[0]))
    return paths


def roll(c: Centre, **kw: Any) -> RollupResult:
    """Roll up with the tests' fixed today."""
    kw.setdefault("today", TODAY)
    kw.setdefault("workers", 1)
    return rollup(c, **kw)


def edit(record: LearnerRecord, ref: str, **changes: Any) -> LearnerRecord:
    """The record with criterion ``ref``'s entry changed."""
    entry = dataclasses.replace(record.entries.get(ref, CriterionEntry()), **changes)
    return dataclasses.replace(record, entries={**record.entries, ref: entry})


def signed_ref(record: LearnerRecord, *, iqa: bool = False) -> str:
    """A criterion the record has signed off as Met (with an IQA decision when ``iqa``)."""
    for ref, e in record.entries.items():
        if e.decision == L.MET and (e.iqa_decision is not None) == iqa:
            return ref
    raise AssertionError("no signed-off criterion in this record")


def master_cells(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's values, row by row (openpyxl, the way a reader sees them)."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


def sheet_dicts(path: Path, sheet: str) -> list[dict[str, Any]]:
    """A master sheet with a header row as dicts keyed by header text."""
    rows = master_cells(path)[sheet]
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:] if any(v is not None for v in r)]


def matrix_blocks(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The Matrix sheet's blocks by qualification number: each learner's row as a dict keyed by
    its block's headers, a unit column by its first line ("Unit 3", the title below it)."""
    rows = master_cells(path)["Matrix"]
    blocks: dict[str, list[dict[str, Any]]] = {}
    head: list[str] | None = None
    qn = ""
    for k, r in enumerate(rows):
        if r and r[0] == "ULN":
            head = [str(h).split("\n")[0] if h else "" for h in r]
            qn = str(rows[k - 1][0]).split()[0]  # the block's title: "<number>  <title> [(continued)]"
            blocks.setdefault(qn, [])
        elif head is not None and r and r[0] is not None:
            blocks[qn].append(dict(zip(head, r)))
        elif head is not None:
            head = None  # the blank row after a block
    return blocks


def matrix_dicts(path: Path) -> list[dict[str, Any]]:
    """Every learner row of the Matrix, whatever its block."""
    return [row for rows in matrix_blocks(path).values() for row in rows]


def ledger_dump(c: Centre) -> dict[str, list[tuple[object, ...]]]:
    """Every ledger row."""
    conn = LG.connect(c.ledger, create=False)
    try:
        return LG.dump(conn)
    finally:
        conn.close()


def query(c: Centre, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the ledger."""
    conn = LG.connect(c.ledger, create=False)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# -- tests of the generator ------------------------------------------------------------------------


def test_learners_have_valid_unique_ulns_and_one_shared_name() -> None:
    people = sample_learners(60)
    ulns = [s.learner.uln for s in people]
    assert len(set(ulns)) == 60
    assert all(check_uln(u).ok for u in ulns)
    assert people[0].learner.name == people[1].learner.name
    assert people[0].learner.uln != people[1].learner.uln
    assert {s.qualification_number for s in people} == {L2.number, L3.number}
    assert {s.learner.pathway for s in people if s.qualification_number == L2.number} == {"face-to-face", "non-facing"}


def test_generation_is_deterministic() -> None:
    a = [(s, progress_record(load_qualification(s.qualification_number), s)) for s in sample_learners(8, seed=3)]
    b = [(s, progress_record(load_qualification(s.qualification_number), s)) for s in sample_learners(8, seed=3)]
    assert a == b
    c = sample_learners(8, seed=4)
    assert [s.learner.uln for s, _ in a] != [s.learner.uln for s in c]


@pytest.mark.parametrize("seed", range(5))
def test_records_are_realistic(seed: int) -> None:
    for q, s, rec in items(12, seed=seed):
        lr = s.learner
        assert lr.registration_date is not None
        refs = {e.ref for e in rec.evidence}
        required = {r for u in q.units for r in q.required(u, lr.pathway)}
        for ref, e in rec.entries.items():
            assert ref in required
            assert set(e.evidence_refs) <= refs  # every evidence ref is in the evidence log
            assert e.evidence_date is not None and lr.registration_date <= e.evidence_date <= AS_OF
            if e.decision is not None:
                assert e.assessor_date is not None and e.evidence_date <= e.assessor_date <= AS_OF
            if e.iqa_decision is not None:
                assert e.decision == L.MET and e.iqa_date is not None and e.assessor_date is not None
                assert e.assessor_date <= e.iqa_date <= AS_OF
            assert e.method in q.typical_methods[Kind(ref[0])]


def test_progress_is_spread_and_trainee_fully_sampled() -> None:
    recs = items(40)
    shares = [len(r.entries) / max(1, sum(len(q.required(u, s.learner.pathway)) for u in q.units)) for q, s, r in recs]
    assert min(shares) < 0.3 and max(shares) > 0.9
    trainee = [e for _q, s, r in recs if s.learner.assessor == "Daniel Hughes" for e in r.entries.values()
               if e.decision == L.MET]
    assert trainee and all("/" in (e.assessor or "") for e in trainee)  # countersigned
    # Sampled unless the IQA's date would fall after the snapshot.
    assert sum(e.iqa_decision is not None for e in trainee) >= 0.9 * len(trainee)


def test_earlier_snapshot_agrees_with_later_one() -> None:
    """A later return only adds work or turns 'Not yet met' into 'Met' (never a conflict)."""
    for q, s, later in items(15):
        early = progress_record(q, s, as_of=EARLY)
        for ref, e in early.entries.items():
            f = later.entries[ref]
            assert f.evidence_refs == e.evidence_refs and f.method == e.method and f.evidence_date == e.evidence_date
            if e.decision == L.MET:
                assert (f.decision, f.assessor, f.assessor_date) == (e.decision, e.assessor, e.assessor_date)
            if e.iqa_decision is not None:
                assert (f.iqa, f.iqa_date, f.iqa_decision) == (e.iqa, e.iqa_date, e.iqa_decision)


def test_timeline_does_not_depend_on_snapshot() -> None:
    q, s, _ = items(3)[2]
    assert timeline(q, s) == timeline(q, s)
    assert [st.ref for st in timeline(q, s)] == [st.ref for st in timeline(q, s)]
    rng = random.Random(1)
    for _ in range(5):
        d = AS_OF - dt.timedelta(days=rng.randint(0, 300))
        rec = progress_record(q, s, as_of=d)
        assert all(e.evidence_date is not None and e.evidence_date <= d for e in rec.entries.values())


def test_register_lists_the_staff(tmp_path: Path) -> None:
    from tracker.register import read_register

    path = write_register(tmp_path / "register.xlsx")
    reg, issues = read_register(path)
    assert issues == []
    trainee = reg.member("daniel  HUGHES")
    assert trainee is not None and trainee.trainee_assessor and trainee.countersigner == "Amira Khan"
    iqa = reg.member("Helen Price")
    assert iqa is not None and iqa.is_iqa
