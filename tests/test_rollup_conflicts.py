"""Merge rules: new work is accepted; a return contradicting an accepted sign-off is a conflict
(the accepted value stays, both values and both sources are listed) until a later return agrees
or an admin resolves it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from test_centre_sample import Item, drop, edit, items, make_centre, query, roll, sheet_dicts, signed_ref

from tracker.centre.folder import Centre
from tracker.centre.merge_rules import FIELDS, decide, guarded_fields
from tracker.centre.conflicts import open_conflicts, resolve
from tracker.errors import CentreError, UsageError
from tracker.workbook import layout as L


def _criterion(c: Centre, uln: str, ref: str) -> dict[str, Any]:
    rows = query(c, f"SELECT c.{', c.'.join(FIELDS)}, f.original_name FROM criteria c JOIN learners l ON "
                    "l.id = c.learner_id JOIN files f ON f.hash = c.source_file WHERE l.uln = ? AND c.ref = ?", uln, ref)
    assert len(rows) == 1
    return dict(zip((*FIELDS, "source"), rows[0]))


def _conflicts(c: Centre) -> list[dict[str, Any]]:
    cols = ("id", "ref", "fields", "status", "resolution", "accepted_file", "returned_file", "closed_by", "note")
    rows = query(c, f"SELECT k.{', k.'.join(cols)} FROM conflicts k ORDER BY k.id")
    return [dict(zip(cols, r)) for r in rows]


def _names(c: Centre) -> dict[str, str]:
    return dict(query(c, "SELECT hash, original_name FROM files"))


@pytest.fixture()
def centre(tmp_path: Path) -> tuple[Centre, Item]:
    c = make_centre(tmp_path / "centre")
    batch = items(3)
    item = next(i for i in batch if any(e.iqa_decision for e in i[2].entries.values()))
    drop(c, [item], names=["first.xlsx"])
    roll(c)
    return c, item


def test_changed_met_decision_is_a_conflict_and_the_accepted_value_stays(centre: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = centre
    ref = signed_ref(rec)
    before = _criterion(c, s.learner.uln, ref)
    drop(c, [(q, s, edit(rec, ref, decision=L.NOT_YET_MET))], names=["second.xlsx"])
    r = roll(c)
    assert r.files[0].conflicts_opened == 1 and r.open_conflicts == 1
    assert _criterion(c, s.learner.uln, ref) == before  # nothing overwritten
    (k,) = _conflicts(c)
    names = _names(c)
    assert (k["ref"], k["fields"], k["status"]) == (ref, "decision", "open")
    assert names[k["accepted_file"]] == "first.xlsx" and names[k["returned_file"]] == "second.xlsx"
    # The master shows both values and both sources.
    (row,) = sheet_dicts(c.master, "Conflicts")
    assert row["Status"] == "Open" and row["Ref"] == ref and row["ULN"] == s.learner.uln
    assert row["Accepted value"] == "Decision: Met" and row["Returned value"] == "Decision: Not yet met"
    assert row["Accepted from"] == "first.xlsx" and row["Returned in"] == "second.xlsx"
    assert f"--conflict {k['id']}" in row["To resolve"]
    crit = [x for x in sheet_dicts(c.master, "Criteria") if x["ULN"] == s.learner.uln and x["Ref"] == ref]
    assert crit[0]["Decision"] == "Met" and crit[0]["Conflict"] == "Open" and crit[0]["Source file"] == "first.xlsx"
    learner = [x for x in sheet_dicts(c.master, "Learners") if x["ULN"] == s.learner.uln][0]
    assert learner["Open conflicts"] == 1
    log = sheet_dicts(c.master, "Merge log")
    assert any(x["Action"] == "conflict" and x["Criterion"] == ref and x["File"] == "second.xlsx" for x in log)


@pytest.mark.parametrize("field, value", [
    ("assessor", "Someone Else"),
    ("assessor_date", "shift"),
    ("decision", None),
    ("assessor", None),
    ("evidence_refs", ("E777",)),
    ("method", "Observation-ish"),
])
def test_each_signed_field_is_guarded(centre: tuple[Centre, Item], field: str, value: Any) -> None:
    c, (q, s, rec) = centre
    ref = signed_ref(rec)
    old = getattr(rec.entries[ref], field)
    if value == "shift":
        value = old + dt.timedelta(days=1)
    drop(c, [(q, s, edit(rec, ref, **{field: value}))])
    roll(c)
    (k,) = _conflicts(c)
    assert k["fields"] == field and k["status"] == "open"


def test_iqa_outcome_changed_or_removed_is_a_conflict(centre: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = centre
    ref = signed_ref(rec, iqa=True)
    drop(c, [(q, s, edit(rec, ref, iqa_decision=L.REFERRED_BACK))])
    roll(c)
    drop(c, [(q, s, edit(rec, ref, iqa_decision=None, iqa=None, iqa_date=None, iqa_sampled=None))])
    roll(c)
    ks = _conflicts(c)
    assert [k["fields"] for k in ks] == ["iqa_decision", "iqa_sampled,iqa,iqa_date,iqa_decision"]
    # The second contradiction replaced the first (one open conflict per criterion).
    assert [(k["status"], k["resolution"]) for k in ks] == [("closed", "superseded"), ("open", None)]
    assert _criterion(c, s.learner.uln, ref)["iqa_decision"] == L.AGREED


def test_new_work_is_accepted(centre: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = centre
    signed = signed_ref(rec)
    unsigned = [u.criteria for u in q.units]
    todo = next(cr.ref for crs in unsigned for cr in crs if cr.ref not in rec.entries)
    e = rec.entries[signed]
    later = edit(rec, signed, evidence_refs=(*e.evidence_refs, "E500"), iqa_sampled=L.YES, iqa="Helen Price",
                 iqa_date=e.assessor_date, iqa_decision=L.AGREED, comments="Good work")
    later = edit(later, todo, evidence_refs=("E501",), method="Observation", evidence_date=dt.date(2025, 5, 1),
                 decision=L.NOT_YET_MET, assessor="Amira Khan", assessor_date=dt.date(2025, 5, 2))
    drop(c, [(q, s, later)])
    r = roll(c)
    assert r.files[0].rows_accepted == 2 and r.files[0].conflicts_opened == 0
    got = _criterion(c, s.learner.uln, signed)
    assert got["iqa_decision"] == L.AGREED and got["evidence_refs"].endswith("E500") and got["comments"] == "Good work"
    # A "Not yet met" row is not a sign-off: it may change freely.
    drop(c, [(q, s, edit(later, todo, decision=L.MET, assessor_date=dt.date(2025, 6, 1)))])
    roll(c)
    assert _criterion(c, s.learner.uln, todo)["decision"] == L.MET
    assert _conflicts(c) == []


def test_referred_back_reopens_the_row(centre: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = centre
    ref = signed_ref(rec)
    e = rec.entries[ref]
    assert e.assessor_date is not None
    referred = edit(rec, ref, iqa_sampled=L.YES, iqa="Helen Price", iqa_date=e.assessor_date,
                    iqa_decision=L.REFERRED_BACK)
    drop(c, [(q, s, referred)])
    roll(c)
    reassessed = edit(referred, ref, assessor_date=e.assessor_date + dt.timedelta(days=20),
                      iqa_date=e.assessor_date + dt.timedelta(days=25), iqa_decision=L.AGREED)
    drop(c, [(q, s, reassessed)])
    roll(c)
    assert _conflicts(c) == []
    got = _criterion(c, s.learner.uln, ref)
    assert got["iqa_decision"] == L.AGREED and got["assessor_date"] == (e.assessor_date + dt.timedelta(days=20)).isoformat()


def test_a_later_agreeing_return_closes_the_conflict(centre: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = centre
    ref = signed_ref(rec)
    drop(c, [(q, s, edit(rec, ref, decision=L.NOT_YET_MET))], names=["wrong.xlsx"])
    roll(c)
    drop(c, [(q, s, edit(rec, ref, comments="Decision restored"))], names=["fixed.xlsx"])
    r = roll(c)
    assert r.files[0].conflicts_closed == 1 and r.open_conflicts == 0
    (k,) = _conflicts(c)
    assert (k["status"], k["resolution"]) == ("closed", "agreeing-return")
    assert _criterion(c, s.learner.uln, ref)["comments"] == "Decision restored"
    (row,) = sheet_dicts(c.master, "Conflicts")
    assert row["Status"] == "Closed" and row["To resolve"] is None
    assert row["Resolution"] == "A later return agreed with the accepted value"  # in words, not the code


def test_resolve_keeping_the_returned_value(centre: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = centre
    ref = signed_ref(rec)
    drop(c, [(q, s, edit(rec, ref, decision=L.NOT_YET_MET, comments="reassess"))], names=["second.xlsx"])
    roll(c)
    out = resolve(c, keep="returned", uln=s.learner.uln, criterion=ref.lower(), note="agreed with the assessor",
                  by="Admin A")
    assert out.kept == "returned" and out.criterion == ref
    got = _criterion(c, s.learner.uln, ref)
    assert got["decision"] == L.NOT_YET_MET and got["comments"] == "reassess" and got["source"] == "second.xlsx"
    (k,) = _conflicts(c)
    assert (k["status"], k["resolution"], k["closed_by"], k["note"]) == (
        "closed", "kept-returned", "Admin A", "agreed with the assessor")
    (row,) = sheet_dicts(c.master, "Conflicts")
    assert row["Resolution"] == "An admin kept the returned value" and row["Note"] == "agreed with the assessor"
    assert any(x["Action"] == "resolved" and x["What ran"] == "Conflict decision" for x in sheet_dicts(c.master, "Merge log"))
    with pytest.raises(CentreError, match="no open conflict"):
        resolve(c, keep="accepted", uln=s.learner.uln, criterion=ref)


def test_resolve_keeping_the_accepted_value_is_not_asked_again(centre: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = centre
    ref = signed_ref(rec)
    wrong = edit(rec, ref, decision=L.NOT_YET_MET)
    drop(c, [(q, s, wrong)])
    roll(c)
    (k,) = open_conflicts(c)
    resolve(c, keep="accepted", conflict_id=k["id"])
    assert _criterion(c, s.learner.uln, ref)["decision"] == L.MET
    # The assessor's copy still says "Not yet met" in the next return (with other new work):
    # the admin already decided, so it is not raised again.
    drop(c, [(q, s, edit(wrong, next(iter(rec.entries)), comments="more work"))])
    r = roll(c)
    assert r.files[0].conflicts_opened == 0 and r.open_conflicts == 0
    # A different contradiction is still a conflict.
    drop(c, [(q, s, edit(rec, ref, assessor="Someone Else"))])
    assert roll(c).open_conflicts == 1


def test_resolve_errors(centre: tuple[Centre, Item]) -> None:
    c, (q, s, rec) = centre
    with pytest.raises(UsageError):
        resolve(c, keep="both", conflict_id=1)
    with pytest.raises(UsageError):
        resolve(c, keep="accepted")
    with pytest.raises(CentreError, match="no conflict #99"):
        resolve(c, keep="accepted", conflict_id=99)
    with pytest.raises(CentreError, match="has no open conflict"):
        resolve(c, keep="accepted", uln=s.learner.uln, criterion="K1.1")


def test_unreadable_cell_on_a_signed_row_keeps_the_accepted_value(centre: tuple[Centre, Item], tmp_path: Path) -> None:
    c, (q, s, rec) = centre
    ref = signed_ref(rec)
    (path,) = drop(c, [(q, s, rec)], names=["garbled.xlsx"])
    unit = next(u for u in q.units if u.criterion(ref))
    row = L.UNIT_FIRST_DATA_ROW + [cr.ref for cr in unit.criteria].index(ref) + 1
    col = [x.key for x in L.UNIT_TABLE_COLUMNS].index("assessor_date") + 1
    wb = openpyxl.load_workbook(path)
    wb[L.unit_sheet_name(unit.number)].cell(row=row, column=col, value="last Tuesday")
    wb.save(path)
    r = roll(c)
    assert r.files[0].conflicts_opened == 0
    assert _criterion(c, s.learner.uln, ref)["assessor_date"] == rec.entries[ref].assessor_date.isoformat()  # type: ignore[union-attr]
    issues = [x for x in sheet_dicts(c.master, "Issues") if x["ULN"] == s.learner.uln]
    assert any(x["Criterion"] == ref or x["Cell"] for x in issues)


def test_returns_in_one_roll_up_merge_oldest_first(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    q, s, rec = items(3)[2]
    ref = signed_ref(rec)
    # Written newest first, but the older file (by modification time) is merged first.
    drop(c, [(q, s, rec)], names=["b-older.xlsx"])
    drop(c, [(q, s, edit(rec, ref, decision=L.NOT_YET_MET))], names=["a-newer.xlsx"])
    r = roll(c)
    assert [f.name for f in r.files] == ["b-older.xlsx", "a-newer.xlsx"]
    assert r.open_conflicts == 1
    assert _criterion(c, s.learner.uln, ref)["decision"] == L.MET


# -- the rules themselves ----------------------------------------------------------------------------

_I = {f: i for i, f in enumerate(FIELDS)}


def _row(**kw: str | None) -> tuple[str | None, ...]:
    return tuple(kw.get(f) for f in FIELDS)


SIGNED = _row(evidence_refs="E1, E2", method="Observation", evidence_date="2025-01-02", decision="Met",
              assessor="Amira Khan", assessor_date="2025-01-03")


def test_decide_rules() -> None:
    assert guarded_fields(_row()) == frozenset()
    assert guarded_fields(_row(decision="Not yet met", assessor="A")) == frozenset()
    assert "decision" in guarded_fields(SIGNED) and "iqa" not in guarded_fields(SIGNED)
    iqa = SIGNED[:6] + ("Yes", "Helen Price", "2025-02-01", "Agreed", None, None, None)  # + countersign
    assert {"iqa", "iqa_decision", "decision"} <= guarded_fields(iqa)
    referred = iqa[:9] + ("Referred back", None, None, None)
    assert guarded_fields(referred) == frozenset()

    same, conflicts = decide(SIGNED, SIGNED)
    assert (same, conflicts) == (SIGNED, [])
    # Spelling, case, spacing and order of names and refs are not changes.
    respelt = _row(evidence_refs="e2;E1".replace(";", ", "), method="observation", evidence_date="2025-01-02",
                   decision="MET", assessor="  amira   KHAN ", assessor_date="2025-01-03")
    assert decide(SIGNED, respelt) == (SIGNED, [])
    # Filling in a blank is new work, even on a signed row; adding evidence too.
    filled = SIGNED[:10] + ("note",) + SIGNED[11:]
    assert decide(SIGNED, filled) == (filled, [])
    more = ("E1, E2, E3",) + SIGNED[1:]
    assert decide(SIGNED, more) == (more, [])
    # Removing or changing signed values is not.
    for f, v in (("decision", None), ("decision", "Not yet met"), ("assessor", "Tom Fletcher"),
                 ("assessor_date", "2025-01-04"), ("evidence_refs", "E1"), ("method", None)):
        changed = tuple(v if i == _I[f] else x for i, x in enumerate(SIGNED))
        cand, conflicts = decide(SIGNED, changed)
        assert conflicts == [f] and cand == changed
    # Fields the reader could not understand say nothing.
    garbled = tuple(None if i == _I["assessor_date"] else x for i, x in enumerate(SIGNED))
    assert decide(SIGNED, garbled, frozenset({_I["assessor_date"]})) == (SIGNED, [])
    # An unsigned row takes whatever comes back, blanks included.
    draft = _row(evidence_refs="E1", decision="Not yet met")
    assert decide(draft, _row()) == (_row(), [])
