"""Conflicts resolved from Excel: a Decision (and Note) chosen on the master's Conflicts sheet is
applied by the next roll-up, journalled, and survives `tracker rebuild`.

The master is edited with openpyxl, as an admin edits it in Excel (a value in the Decision cell,
text in the Note cell, saved); the oracle is the ledger read with SQL and the journal's lines.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from test_centre_sample import Item, drop, edit, items, make_centre, query, roll, sheet_dicts, signed_ref

from tracker.centre.folder import Centre
from tracker.centre.journal import read_journal
from tracker.centre.master import CONFLICTS, KEEP_ACCEPTED, KEEP_RETURNED
from tracker.centre.rebuild import rebuild
from tracker.workbook import layout as L


@pytest.fixture()
def two_conflicts(tmp_path: Path) -> tuple[Centre, Item]:
    c = make_centre(tmp_path / "centre")
    (item,) = [i for i in items(3) if sum(e.decision == L.MET for e in i[2].entries.values()) >= 2][:1]
    q, s, rec = item
    drop(c, [item], names=["first.xlsx"])
    roll(c)
    refs = [ref for ref, e in rec.entries.items() if e.decision == L.MET][:2]
    changed = edit(edit(rec, refs[0], decision=L.NOT_YET_MET), refs[1], assessor="Someone Else")
    drop(c, [(q, s, changed)], names=["second.xlsx"])
    assert roll(c).open_conflicts == 2
    return c, item


def _decide(master: Path, decisions: dict[int, tuple[str, str]]) -> None:
    wb = openpyxl.load_workbook(master)
    ws = wb[CONFLICTS]
    head = [c.value for c in ws[1]]
    i_id, i_dec, i_note = head.index("Conflict"), head.index("Decision"), head.index("Note")
    for row in ws.iter_rows(min_row=2):
        if row[i_id].value in decisions:
            row[i_dec].value, row[i_note].value = decisions[row[i_id].value]
    wb.save(master)


def test_master_conflicts_sheet_offers_the_decision_dropdown(two_conflicts: tuple[Centre, Item]) -> None:
    c, _ = two_conflicts
    ws = openpyxl.load_workbook(c.master)[CONFLICTS]
    head = [x.value for x in ws[1]]
    col = openpyxl.utils.get_column_letter(head.index("Decision") + 1)
    (dv,) = [d for d in ws.data_validations.dataValidation if col in str(d.sqref)]
    assert dv.type == "list" and dv.formula1 == f'"{KEEP_ACCEPTED},{KEEP_RETURNED}"'
    assert str(dv.sqref) == f"{col}2:{col}3"  # the two open conflicts


def test_decisions_on_the_master_applied_journalled_and_surviving_a_rebuild(
        two_conflicts: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = two_conflicts
    ids = [r[0] for r in query(c, "SELECT id FROM conflicts ORDER BY id")]
    _decide(c.master, {ids[0]: (KEEP_RETURNED, "assessor corrected it"), ids[1]: (KEEP_ACCEPTED, "")})
    r = roll(c)
    assert r.decisions == 2 and r.open_conflicts == 0

    def state() -> list[tuple[object, ...]]:
        return query(c, "SELECT id, status, resolution, note FROM conflicts ORDER BY id")

    after = state()
    assert after == [(ids[0], "closed", "kept-returned", "assessor corrected it"),
                     (ids[1], "closed", "kept-accepted", "")]
    ref0 = query(c, "SELECT ref FROM conflicts WHERE id = ?", ids[0])[0][0]
    assert query(c, "SELECT c.decision FROM criteria c JOIN learners l ON l.id = c.learner_id "
                    "WHERE l.uln = ? AND c.ref = ?", s.learner.uln, ref0) == [(L.NOT_YET_MET,)]
    journalled = [(e["ref"], e["keep"], e["note"]) for e in read_journal(c) if e["kind"] == "resolve"]
    assert sorted(journalled) == sorted([(ref0, "returned", "assessor corrected it"),
                                         (query(c, "SELECT ref FROM conflicts WHERE id = ?", ids[1])[0][0],
                                          "accepted", "")])
    rows = sheet_dicts(c.master, CONFLICTS)
    assert {x["Status"] for x in rows} == {"Closed"} and all(x["Decision"] is None for x in rows)
    assert roll(c).decisions == 0  # the rebuilt master offers nothing to apply again
    rebuild(c, today=dt.date(2026, 3, 2))
    assert state() == after


def test_decision_on_a_conflict_closed_meanwhile_is_not_applied(two_conflicts: tuple[Centre, Item]) -> None:
    from tracker.centre.conflicts import resolve

    c, _ = two_conflicts
    ids = [r[0] for r in query(c, "SELECT id FROM conflicts ORDER BY id")]
    master = c.master.read_bytes()
    resolve(c, keep="accepted", conflict_id=ids[0], by="Admin")  # rebuilds the master
    c.master.write_bytes(master)  # an admin's copy of the master from before, with a decision on it
    _decide(c.master, {ids[0]: (KEEP_RETURNED, "late")})
    r = roll(c)
    assert r.decisions == 0 and any(f"#{ids[0]}" in n for n in r.notes)
    assert query(c, "SELECT resolution FROM conflicts WHERE id = ?", ids[0]) == [("kept-accepted",)]
