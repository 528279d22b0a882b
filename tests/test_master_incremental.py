"""The incremental master (issue 16): a master built with the cache of the last one is the master
built from nothing, part by part, whatever changed in between; only the learners whose Criteria
rows changed (or moved) are rendered again; a damaged or unreadable cache costs time, never
correctness."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from libreoffice import convert
from test_centre_sample import drop, edit, items, make_centre, master_cells, query, roll, sheet_dicts
from xlsx_compare import xlsx_differences

from tracker.centre import ledger as LG
from tracker.centre import master as M
from tracker.centre.folder import Centre
from tracker.centre.master_cache import CACHE_NAME, MasterCache


def _build(c: Centre, path: Path, cache: MasterCache | None) -> Path:
    conn = LG.connect(c.ledger, create=False)
    try:
        M.build_master(conn, c, path, cache=cache)
    finally:
        conn.close()
    return path


def _learner_id(c: Centre, uln: str) -> int:
    ((lid,),) = query(c, "SELECT id FROM learners WHERE uln = ?", uln)
    return int(lid)


def _open_conflict(c: Centre, learner_id: int, ref: str) -> None:
    """An open conflict on one row, as the merge records one (two files disagreeing)."""
    files = [h for (h,) in query(c, "SELECT hash FROM files ORDER BY seq LIMIT 2")]
    conn = LG.connect(c.ledger, create=False)
    try:
        with conn:
            conn.execute("INSERT INTO conflicts (learner_id, ref, unit, fields, accepted, accepted_file, returned, "
                         "returned_file, opened_run, status) VALUES (?, ?, 1, 'decision', ?, ?, ?, ?, 1, 'open')",
                         (learner_id, ref, json.dumps({"decision": "Met"}), files[0],
                          json.dumps({"decision": "Not yet met"}), files[-1]))
    finally:
        conn.close()


@pytest.fixture()
def centre(tmp_path: Path) -> tuple[Centre, list]:  # type: ignore[type-arg]
    c = make_centre(tmp_path / "centre")
    batch = items(6)
    drop(c, batch, names=[f"learner {i}.xlsx" for i in range(len(batch))])
    roll(c)
    return c, batch


def test_incremental_master_is_the_full_master(centre: tuple[Centre, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    c, batch = centre
    cache_file = tmp_path / "cache.sqlite"
    cold = MasterCache(cache_file)
    _build(c, tmp_path / "first.xlsx", cold)
    assert (cold.hits, cold.misses) == (0, len(batch))
    assert xlsx_differences(tmp_path / "first.xlsx", _build(c, tmp_path / "plain.xlsx", None)) == []

    # Between two masters: a new return changes one learner's comment; another learner's
    # source file is renamed in the ledger (the Source file column); a conflict opens on a third.
    q1, s1, rec1 = batch[1]
    ref = next(iter(rec1.entries))
    drop(c, [(q1, s1, edit(rec1, ref, comments="seen again at the October visit"))], names=["later 1.xlsx"])
    roll(c)
    s2 = batch[2][1]
    ((src,),) = query(c, "SELECT DISTINCT source_file FROM criteria WHERE learner_id = ?",
                      _learner_id(c, s2.learner.uln))
    conn = LG.connect(c.ledger, create=False)
    with conn:
        conn.execute("UPDATE files SET original_name = 'renamed by the admin.xlsx' WHERE hash = ?", (src,))
    conn.close()
    s3 = batch[3][1]
    _open_conflict(c, _learner_id(c, s3.learner.uln), next(iter(batch[3][2].entries)))

    warm = MasterCache(cache_file)
    inc = _build(c, tmp_path / "incremental.xlsx", warm)
    full = _build(c, tmp_path / "full.xlsx", None)
    assert xlsx_differences(inc, full) == []
    assert master_cells(inc) == master_cells(full)
    # The three changed learners were rendered again; the three others came from the cache.
    assert (warm.hits, warm.misses) == (len(batch) - 3, 3)
    crit = {(r["ULN"], r["Ref"]): r for r in sheet_dicts(inc, "Criteria")}
    assert crit[(s1.learner.uln, ref)]["Comments"] == "seen again at the October visit"
    assert {r["Source file"] for k, r in crit.items() if k[0] == s2.learner.uln} - {None} == {"renamed by the admin.xlsx"}
    assert crit[(s3.learner.uln, next(iter(batch[3][2].entries)))]["Conflict"] == M.CONFLICT_OPEN
    with zipfile.ZipFile(inc) as z:
        assert z.testzip() is None  # every member's CRC matches its content


def test_a_learner_added_moves_the_rows_after_it(centre: tuple[Centre, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    c, batch = centre
    cache_file = tmp_path / "cache.sqlite"
    _build(c, tmp_path / "first.xlsx", MasterCache(cache_file))
    before = [r["ULN"] for r in sheet_dicts(tmp_path / "first.xlsx", "Learners")]
    newcomer = items(1, seed=99)
    drop(c, newcomer, names=["newcomer.xlsx"])
    roll(c)
    warm = MasterCache(cache_file)
    inc = _build(c, tmp_path / "incremental.xlsx", warm)
    assert xlsx_differences(inc, _build(c, tmp_path / "full.xlsx", None)) == []
    after = [r["ULN"] for r in sheet_dicts(inc, "Learners")]
    at = after.index(newcomer[0][1].learner.uln)
    assert after[:at] + after[at + 1:] == before
    # Learners above the newcomer keep their rows; the newcomer and everyone below are rendered.
    assert (warm.hits, warm.misses) == (at, len(after) - at)


def test_a_damaged_or_unreadable_cache_costs_time_not_correctness(centre: tuple[Centre, list],  # type: ignore[type-arg]
                                                                   tmp_path: Path) -> None:
    c, batch = centre
    cache_file = tmp_path / "cache.sqlite"
    full = _build(c, tmp_path / "full.xlsx", None)
    _build(c, tmp_path / "first.xlsx", MasterCache(cache_file))
    # One byte of one stored segment changed: that entry fails its digest and is rendered again.
    conn = sqlite3.connect(cache_file)
    with conn:
        key, data = conn.execute("SELECT key, data FROM segments LIMIT 1").fetchone()
        conn.execute("UPDATE segments SET data = ? WHERE key = ?", (bytes([data[0] ^ 1]) + data[1:], key))
    conn.close()
    warm = MasterCache(cache_file)
    assert xlsx_differences(_build(c, tmp_path / "tampered.xlsx", warm), full) == []
    assert (warm.hits, warm.misses) == (len(batch) - 1, 1)
    # A cache file that is not a database at all: every learner rendered, the master the same.
    cache_file.write_bytes(b"not a database" * 100)
    junk = MasterCache(cache_file)
    assert xlsx_differences(_build(c, tmp_path / "junk.xlsx", junk), full) == []
    assert (junk.hits, junk.misses) == (0, len(batch))


def test_the_rollup_keeps_its_cache_beside_the_ledger(centre: tuple[Centre, list]) -> None:  # type: ignore[type-arg]
    c, batch = centre
    path = c.ledger.with_name(CACHE_NAME)
    assert path.is_file()
    (n,) = sqlite3.connect(path).execute("SELECT count(*) FROM segments").fetchone()
    assert n == len(batch)  # one entry per learner: the last master's, nothing older
    q, s, rec = batch[0]
    drop(c, [(q, s, edit(rec, next(iter(rec.entries)), comments="again"))], names=["again.xlsx"])
    roll(c)
    (n,) = sqlite3.connect(path).execute("SELECT count(*) FROM segments").fetchone()
    assert n == len(batch)
    # Deleting it is safe: the next master is written whole and the cache again.
    path.unlink()
    drop(c, [(q, s, edit(rec, next(iter(rec.entries)), comments="and again"))], names=["again 2.xlsx"])
    roll(c)
    assert path.is_file()
    crit = [r for r in sheet_dicts(c.master, "Criteria") if r["ULN"] == s.learner.uln and r["Comments"] == "and again"]
    assert len(crit) == 1


def test_libreoffice_reads_the_spliced_criteria_sheet(centre: tuple[Centre, list], tmp_path: Path) -> None:  # type: ignore[type-arg]
    c, batch = centre
    cache_file = tmp_path / "cache.sqlite"
    _build(c, tmp_path / "first.xlsx", MasterCache(cache_file))
    inc = _build(c, tmp_path / "incremental.xlsx", MasterCache(cache_file))
    saved = convert(inc, tmp_path / "lo")  # LibreOffice opens it and saves it again
    ours, theirs = master_cells(inc)["Criteria"], master_cells(saved)["Criteria"]
    assert len(ours) == 1 + sum(q.criterion_count() for q, _s, _r in batch)
    assert theirs[:len(ours)] == ours


def test_the_key_covers_every_input_of_the_criteria_rows(centre: tuple[Centre, list]) -> None:  # type: ignore[type-arg]
    c, _batch = centre
    conn = LG.connect(c.ledger, create=False)
    try:
        view = next(iter(M.iter_learners(conn, M.Qualifications([c.specs]))))
        files = LG.file_names(conn)
    finally:
        conn.close()
    ref, acc = next(iter(view.criteria.items()))
    sk = M.spec_key(view.qualification)

    def key(v: M.LearnerView = view, f: dict[str, LG.FileName] = files, refs: tuple[str, ...] = (),
            spec: bytes = sk, first: int = 1, base: bytes = b"b") -> bytes:
        return M.criteria_key(base, v, f, refs, spec, first)

    other_values = dataclasses.replace(acc, values=(*acc.values[:-1], "changed"))
    renamed = {**files, acc.source_file: dataclasses.replace(files[acc.source_file], name="other.xlsx")}
    redated = {**files, acc.source_file: dataclasses.replace(files[acc.source_file], received="2030-01-01T00:00:00")}
    variants = {
        "row": key(first=2), "base": key(base=b"c"), "spec": key(spec=b"other"), "conflict": key(refs=(ref,)),
        "file name": key(f=renamed), "file date": key(f=redated),
        "value": key(dataclasses.replace(view, criteria={**view.criteria, ref: other_values})),
        "source": key(dataclasses.replace(view, criteria={**view.criteria, ref: dataclasses.replace(
            acc, source_file=next(h for h in files if h != acc.source_file))})),
        "achieved": key(dataclasses.replace(view, achieved=view.achieved ^ {ref})),
        "required": key(dataclasses.replace(view, required={**view.required, ref: not view.required.get(ref)})),
        "name": key(dataclasses.replace(view, learner=dataclasses.replace(view.learner, name="Someone Else"))),
        "uln": key(dataclasses.replace(view, learner=dataclasses.replace(view.learner, uln="9999999999"))),
        "pathway": key(dataclasses.replace(view, learner=dataclasses.replace(view.learner, pathway="other"))),
        "qualification": key(dataclasses.replace(view, learner=dataclasses.replace(
            view.learner, qualification_number="000/0000/0"))),
    }
    assert key() == key()
    assert len({key(), *variants.values()}) == len(variants) + 1, [k for k, v in variants.items() if v == key()]
