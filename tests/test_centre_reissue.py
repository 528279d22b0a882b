"""The round trip: `tracker issue` -> copies worked on in parallel -> returns merged three-way
against their base -> `tracker rebuild` from what was received.

Oracles: the values written by hand into the issued copies (with openpyxl, as a holder edits in
Excel), and the ledger's own rows read back with SQL.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fixtures import at, edit, set_meta
from test_centre_sample import Item, drop, items, make_centre, query, roll, signed_ref

from tracker.centre.conflicts import open_conflicts
from tracker.centre.folder import Centre
from tracker.centre.merge_rules import FIELDS
from tracker.centre.reissue import issue_workbooks
from tracker.workbook import layout as L
from tracker.workbook.reader import read_workbook

_clock = [dt.datetime(2026, 1, 1, 9, 0).timestamp()]


def _deliver(c: Centre, path: Path, name: str) -> Path:
    """Copy a worked-on workbook into the inbox, newer than every file delivered before."""
    dst = c.inbox / name
    shutil.copyfile(path, dst)
    _clock[0] += 60
    os.utime(dst, (_clock[0], _clock[0]))
    return dst


def _row(c: Centre, uln: str, ref: str) -> dict[str, Any]:
    (r,) = query(c, f"SELECT c.{', c.'.join(FIELDS)} FROM criteria c JOIN learners l ON l.id = c.learner_id "
                    "WHERE l.uln = ? AND c.ref = ?", uln, ref)
    return dict(zip(FIELDS, r))


def _unassessed(item: Item) -> str:
    q, _, rec = item
    for u in q.units:
        for cr in u.criteria:
            e = rec.entries.get(cr.ref)
            if e is None or e.decision is None:
                return cr.ref
    raise AssertionError("every criterion assessed")


@pytest.fixture()
def issued(tmp_path: Path) -> tuple[Centre, Item, Path]:
    """A centre with one learner rolled up once, then re-issued."""
    c = make_centre(tmp_path / "centre")
    item = next(i for i in items(3) if any(e.decision == L.MET and e.iqa_decision is None
                                           for e in i[2].entries.values()))
    drop(c, [item], names=["first.xlsx"])
    roll(c)
    r = issue_workbooks(c)
    (w,) = [w for w in r.workbooks if w.uln == item[1].learner.uln]
    return c, item, w.path


def _iqa_sample(q: Any, path: Path, ref: str, iqa: str) -> Path:
    return edit(path, {at(q, ref, "iqa_sampled"): L.YES, at(q, ref, "iqa"): iqa,
                       at(q, ref, "iqa_date"): dt.datetime(2026, 2, 2), at(q, ref, "iqa_decision"): L.AGREED})


def test_issued_workbook_carries_every_accepted_value_and_its_base(issued: tuple[Centre, Item, Path]) -> None:
    c, (q, s, rec), path = issued
    book = read_workbook(path)
    stamp = book.meta["base"].split("/")
    assert len(stamp) == 4 and stamp[2] == "1"  # ledger id / base id / revision 1 (one file) / fingerprint
    assert book.uln == s.learner.uln and book.learner_name == s.learner.name
    back = book.to_record()
    assert back.entries == {ref: e for ref, e in rec.entries.items() if not e.is_blank()}
    assert back.evidence == rec.evidence
    assert path.parent.name == (s.learner.assessor or "no assessor")  # grouped per assessor


def test_parallel_iqa_and_assessor_copies_both_kept_without_conflict(issued: tuple[Centre, Item, Path],
                                                                      tmp_path: Path) -> None:
    """The story of the issue: the IQA samples on one copy while the assessor carries on with
    another copy of the same issue; the assessor's copy, returned last, removes nothing."""
    c, item, path = issued
    q, s, rec = item
    sampled = signed_ref(rec)
    new_ref = _unassessed(item)
    iqa_copy = _iqa_sample(q, Path(shutil.copy(path, tmp_path / "iqa.xlsx")), sampled, "Iqa Person")
    assessor_copy = edit(Path(shutil.copy(path, tmp_path / "assessor.xlsx")), {
        at(q, new_ref, "decision"): L.MET, at(q, new_ref, "assessor"): rec.learner.assessor,
        at(q, new_ref, "assessor_date"): dt.datetime(2026, 2, 3), at(q, new_ref, "method"): "Observation"})
    _deliver(c, iqa_copy, "iqa.xlsx")
    _deliver(c, assessor_copy, "assessor.xlsx")
    r = roll(c)
    assert [f.outcome for f in r.files] == ["merged", "merged"]
    assert r.open_conflicts == 0 and sum(f.conflicts_opened for f in r.files) == 0
    row = _row(c, s.learner.uln, sampled)
    assert (row["iqa"], row["iqa_decision"], row["iqa_date"]) == ("Iqa Person", L.AGREED, "2026-02-02")
    row = _row(c, s.learner.uln, new_ref)
    assert (row["decision"], row["assessor_date"]) == (L.MET, "2026-02-03")


def test_stale_copy_removing_an_iqa_decision_keeps_it(issued: tuple[Centre, Item, Path], tmp_path: Path) -> None:
    """The IQA's sample reaches the ledger first; a copy issued before it (so without it) comes
    back with nothing changed on that row: no conflict, the decision stays."""
    c, (q, s, rec), path = issued
    ref = signed_ref(rec)
    stale = Path(shutil.copy(path, tmp_path / "stale.xlsx"))
    _deliver(c, _iqa_sample(q, path, ref, "Iqa Person"), "iqa.xlsx")
    roll(c)
    _deliver(c, stale, "stale.xlsx")
    r = roll(c)
    assert r.files[0].outcome == "merged" and r.open_conflicts == 0
    assert _row(c, s.learner.uln, ref)["iqa_decision"] == L.AGREED


def test_same_workbook_without_base_still_conflicts(issued: tuple[Centre, Item, Path], tmp_path: Path) -> None:
    """Control for the test above: the same stale copy with its stamp blanked follows the old
    two-way rules (a removed IQA decision is a conflict), so it is the base that prevents it."""
    c, (q, s, rec), path = issued
    ref = signed_ref(rec)
    stale = set_meta(Path(shutil.copy(path, tmp_path / "stale.xlsx")), base="")
    _deliver(c, _iqa_sample(q, path, ref, "Iqa Person"), "iqa.xlsx")
    roll(c)
    _deliver(c, stale, "stale.xlsx")
    r = roll(c)
    assert r.open_conflicts == 1


def test_true_concurrent_edit_is_one_conflict_with_base_accepted_and_returned(
        issued: tuple[Centre, Item, Path], tmp_path: Path) -> None:
    c, (q, s, rec), path = issued
    ref = _unassessed((q, s, rec))
    one = edit(Path(shutil.copy(path, tmp_path / "one.xlsx")), {at(q, ref, "comments"): "first view"})
    two = edit(Path(shutil.copy(path, tmp_path / "two.xlsx")), {at(q, ref, "comments"): "second view"})
    _deliver(c, one, "one.xlsx")
    _deliver(c, two, "two.xlsx")
    r = roll(c)
    assert r.open_conflicts == 1
    (k,) = open_conflicts(c)
    assert k["criterion"] == ref and k["fields"] == ["comments"]
    assert k["accepted"] == {"comments": "first view"} and k["returned"] == {"comments": "second view"}
    assert k["base"] == {"comments": None}
    assert (k["accepted_file"], k["returned_file"]) == ("one.xlsx", "two.xlsx")


def test_same_change_on_both_copies_is_agreement(issued: tuple[Centre, Item, Path], tmp_path: Path) -> None:
    c, (q, s, rec), path = issued
    ref = _unassessed((q, s, rec))
    for name in ("one.xlsx", "two.xlsx"):
        _deliver(c, edit(Path(shutil.copy(path, tmp_path / name)), {at(q, ref, "comments"): "same"}), name)
    assert roll(c).open_conflicts == 0


def test_changing_a_signed_value_on_an_issued_copy_is_still_a_conflict(issued: tuple[Centre, Item, Path]) -> None:
    """Only the return changed it (the ledger did not move): the old rule still guards sign-offs."""
    c, (q, s, rec), path = issued
    ref = signed_ref(rec)
    _deliver(c, edit(path, {at(q, ref, "decision"): L.NOT_YET_MET}), "changed.xlsx")
    assert roll(c).open_conflicts == 1


@pytest.mark.parametrize("stamp, code", [
    ("not-a-stamp", "centre-base-untrusted"),
    ("00000000-0000-0000-0000-000000000000/1/1/abc", "centre-base-untrusted"),  # another ledger
])
def test_forged_or_foreign_stamp_is_a_return_with_no_base(issued: tuple[Centre, Item, Path], tmp_path: Path,
                                                         stamp: str, code: str) -> None:
    c, (q, s, rec), path = issued
    ref = signed_ref(rec)
    stale = set_meta(Path(shutil.copy(path, tmp_path / "stale.xlsx")), base=stamp)
    _deliver(c, _iqa_sample(q, path, ref, "Iqa Person"), "iqa.xlsx")
    roll(c)
    _deliver(c, stale, "stale.xlsx")
    r = roll(c)
    assert r.files[0].outcome == "merged" and r.open_conflicts == 1  # two-way rules
    codes = {x[0] for x in query(c, "SELECT i.code FROM issues i JOIN files f ON f.hash = i.file "
                                    "WHERE f.original_name = 'stale.xlsx'")}
    assert code in codes


def test_altered_fingerprint_is_not_trusted(issued: tuple[Centre, Item, Path], tmp_path: Path) -> None:
    c, (q, s, rec), path = issued
    lid, bid, rev, fp = read_workbook(path).meta["base"].split("/")
    forged = set_meta(Path(shutil.copy(path, tmp_path / "f.xlsx")), base=f"{lid}/{bid}/{rev}/{'0' * 64}")
    _deliver(c, forged, "forged.xlsx")
    roll(c)
    codes = {x[0] for x in query(c, "SELECT code FROM issues")}
    assert "centre-base-untrusted" in codes


def test_base_from_the_future_quarantines_that_file_only(issued: tuple[Centre, Item, Path], tmp_path: Path) -> None:
    c, (q, s, rec), path = issued
    lid, bid, rev, fp = read_workbook(path).meta["base"].split("/")
    future = set_meta(Path(shutil.copy(path, tmp_path / "f.xlsx")), base=f"{lid}/{bid}/99/{fp}")
    _deliver(c, future, "future.xlsx")
    _deliver(c, path, "fine.xlsx")
    r = roll(c)
    outcome = {f.name: (f.outcome, f.reason) for f in r.files}
    assert outcome["fine.xlsx"][0] == "merged"
    assert outcome["future.xlsx"][0] == "quarantined" and "revision 99" in outcome["future.xlsx"][1]
    assert "future.xlsx" in outcome["future.xlsx"][1]


def test_cli_issue_then_damage_then_rebuild(tmp_path: Path) -> None:
    """`tracker issue` and `tracker rebuild` as an admin types them; a 0-byte ledger in between
    is refused with one line naming `tracker rebuild` (exit code 1)."""
    import subprocess
    import sys

    def tracker(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True, text=True, timeout=300)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    c = make_centre(tmp_path / "centre")
    batch = items(2)
    drop(c, batch)
    roll(c)
    uln = batch[0][1].learner.uln
    p = tracker("issue", str(c.root), "--learner", uln, "-o", str(tmp_path / "out"))
    assert p.returncode == 0 and "1 workbook(s) issued from ledger revision 2" in p.stdout
    (issued,) = (tmp_path / "out").glob("*/*.xlsx")
    assert uln in issued.name and read_workbook(issued).meta["base"]
    assert tracker("issue", str(c.root), "--learner", "1234567890").returncode == 1
    c.ledger.write_bytes(b"")
    p = tracker("rollup", str(c.root))
    assert p.returncode == 1 and "tracker rebuild" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = tracker("rebuild", str(c.root))
    assert p.returncode == 0 and "ledger rebuilt from 2 archived file(s), 0 decision(s) and 1 issue(s)" in p.stdout
    assert tracker("rollup", str(c.root)).returncode == 0


# -- reissue_after_rollup (a centre option, default off) -----------------------------------------


def _enable_reissue(c: Centre) -> Centre:
    from tracker.centre.folder import open_centre

    text = c.config_path.read_text(encoding="utf-8")
    assert "reissue_after_rollup: false" in text  # tracker init writes the option, off
    c.config_path.write_text(text.replace("reissue_after_rollup: false", "reissue_after_rollup: true"),
                             encoding="utf-8")
    return open_centre(c.root)


def test_reissue_after_rollup_is_off_by_default(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    drop(c, items(2))
    result = roll(c)
    assert result.reissued == [] and not (c.root / "outbox").exists()


def test_reissue_after_rollup_writes_exactly_the_changed_learners(tmp_path: Path) -> None:
    c = _enable_reissue(make_centre(tmp_path / "centre"))
    three = items(3)
    drop(c, three, names=["a.xlsx", "b.xlsx", "c.xlsx"])
    first = roll(c)
    # All three learners are new: three current workbooks, one per learner.
    assert sorted(read_workbook(p).uln for p in first.reissued) == sorted(i[1].learner.uln for i in three)
    q, s, _rec = three[1]
    (issued,) = [p for p in first.reissued if read_workbook(p).uln == s.learner.uln]
    issued = Path(shutil.copy(issued, tmp_path / "copy.xlsx"))
    outbox = c.root / "outbox"
    shutil.rmtree(outbox)
    # One learner's assessor adds work on the re-issued workbook; the others send nothing.
    ref = _unassessed(three[1])
    worked = edit(issued, {at(q, ref, "evidence_refs"): "E99", at(q, ref, "method"): "Observation"})
    _deliver(c, worked, "back.xlsx")
    second = roll(c)
    assert [f.outcome for f in second.files] == ["merged"]
    files = sorted(outbox.rglob("*.xlsx"))
    assert [read_workbook(p).uln for p in files] == [s.learner.uln]
    back = read_workbook(files[0])
    assert back.meta["base"].split("/")[2] == "4"  # issued from revision 4: three files, then the return
    assert back.to_record().entries[ref].evidence_refs == ("E99",)
    # Nothing new: no run, nothing re-issued.
    third = roll(c)
    assert third.reissued == [] and sorted(outbox.rglob("*.xlsx")) == files
