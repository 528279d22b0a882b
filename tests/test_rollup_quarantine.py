"""Files that cannot be merged are reported and quarantined, and the rest of the roll-up goes on;
learners are identified by ULN + qualification number (+ workbook id), never by name or file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import openpyxl
from test_centre_sample import L2, drop, items, make_centre, query, roll, sheet_dicts

from tracker.workbook import layout as L


def test_corrupt_and_unidentifiable_files_among_good_ones(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    batch = items(5)
    drop(c, batch[:2])
    (c.inbox / "truncated.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 30)
    (c.inbox / "notes.txt").write_text("not a workbook", encoding="utf-8")
    (c.inbox / "old format.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    q, s, rec = batch[2]
    bad = dataclasses.replace(s.learner, uln=s.learner.uln[:-1] + str((int(s.learner.uln[-1]) + 1) % 10))
    drop(c, [(q, dataclasses.replace(s, learner=bad), dataclasses.replace(rec, learner=bad))], names=["typo.xlsx"])
    unknown = dataclasses.replace(s.learner, uln="9999999999")
    drop(c, [(q, dataclasses.replace(s, learner=unknown), dataclasses.replace(rec, learner=unknown))],
         names=["not known.xlsx"])
    drop(c, batch[3:])

    r = roll(c)
    outcome = {f.name: f.outcome for f in r.files}
    assert outcome == {
        batch[0][1].file_name: "merged", batch[1][1].file_name: "merged", batch[3][1].file_name: "merged",
        batch[4][1].file_name: "merged", "truncated.xlsx": "quarantined", "notes.txt": "quarantined",
        "old format.xls": "quarantined", "typo.xlsx": "quarantined", "not known.xlsx": "quarantined"}
    reasons = {f.name: f.reason for f in r.files}
    assert "check digit" in reasons["typo.xlsx"] and "not known" in reasons["not known.xlsx"]
    # Every received file is archived, the good ones left the inbox, the bad ones are in quarantine/.
    assert len(list(c.archive.rglob("*.*"))) == 9
    assert list(c.inbox.iterdir()) == []
    quarantined = sorted(p.name for p in c.quarantine.iterdir())
    assert quarantined == sorted(["truncated.xlsx", "truncated.xlsx.why.txt", "notes.txt", "notes.txt.why.txt",
                                  "old format.xls", "old format.xls.why.txt", "typo.xlsx", "typo.xlsx.why.txt",
                                  "not known.xlsx", "not known.xlsx.why.txt"])
    assert "check digit" in (c.quarantine / "typo.xlsx.why.txt").read_text(encoding="utf-8")
    # The ledger records them, and the master lists them with a reason.
    assert sorted(query(c, "SELECT original_name, outcome FROM files WHERE outcome = 'quarantined'")) == sorted(
        (n, "quarantined") for n in ("truncated.xlsx", "notes.txt", "old format.xls", "typo.xlsx", "not known.xlsx"))
    issues = [x for x in sheet_dicts(c.master, "Issues") if x["Source"] == "Quarantined file"]
    assert {x["File"] for x in issues} == {"truncated.xlsx", "notes.txt", "old format.xls", "typo.xlsx",
                                           "not known.xlsx"}
    codes = {x["File"]: x["Code"] for x in issues if x["Severity"] == "error" and x["Code"].startswith("centre-")}
    assert codes["truncated.xlsx"] == "centre-unreadable" and codes["typo.xlsx"] == "centre-unknown-learner"
    assert len(sheet_dicts(c.master, "Learners")) == 4
    # Every message was made from its template (a missing template value gives "Title ('key')").
    from tracker.issues import CATALOGUE

    for x in sheet_dicts(c.master, "Issues"):
        assert not x["Message"].startswith(CATALOGUE[x["Code"]].title + " ("), x
    assert all(x["Message"].startswith(x["File"]) for x in issues if x["Code"].startswith("centre-"))

    # Dropped again unchanged, a quarantined file is looked at again but nothing changes.
    (c.quarantine / "typo.xlsx").rename(c.inbox / "typo.xlsx")
    r2 = roll(c)
    assert not r2.changed and [(f.name, f.outcome) for f in r2.files] == [("typo.xlsx", "quarantined")]


def test_unknown_qualification_is_quarantined(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    (path,) = drop(c, items(1))
    wb = openpyxl.load_workbook(path)
    cover = wb[L.COVER]
    cover.cell(row=L.cover_row("qualification_number") + 1, column=L.COVER_VALUE_COL + 1, value="601/0000/1")
    meta = wb[L.META]
    for row in meta.iter_rows(min_row=2):
        if row[0].value == "spec_number":
            row[1].value = "601/0000/1"
        if row[0].value == "spec_id":
            row[1].value = "some-other-qualification"
    wb.save(path)
    r = roll(c)
    (f,) = r.files
    assert f.outcome == "quarantined" and "601/0000/1 is not installed" in f.reason
    assert query(c, "SELECT count(*) FROM learners") == [(0,)]


def test_cover_qualification_typo_with_intact_metadata_is_merged(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    ((q, s, rec),) = items(1)
    (path,) = drop(c, [(q, s, rec)])
    wb = openpyxl.load_workbook(path)
    wb[L.COVER].cell(row=L.cover_row("qualification_number") + 1, column=L.COVER_VALUE_COL + 1, value="603/4867/5")
    wb.save(path)
    r = roll(c)
    assert r.files[0].outcome == "merged" and r.files[0].errors + r.files[0].warnings >= 1
    assert query(c, "SELECT qualification_number FROM learners") == [(q.number,)]


def test_two_learners_with_the_same_name_stay_apart(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    batch = items(6)
    a, b = batch[0], batch[1]
    assert a[1].learner.name == b[1].learner.name and a[1].learner.uln != b[1].learner.uln
    drop(c, batch)
    roll(c)
    rows = query(c, "SELECT l.uln, count(c.ref) FROM learners l LEFT JOIN criteria c ON c.learner_id = l.id "
                    "WHERE l.name = ? GROUP BY l.uln ORDER BY l.uln", a[1].learner.name)
    expected = sorted((s.learner.uln, len(r.entries)) for _q, s, r in (a, b))
    assert rows == expected
    learners = [x for x in sheet_dicts(c.master, "Learners") if x["Learner name"] == a[1].learner.name]
    assert sorted(x["ULN"] for x in learners) == sorted([a[1].learner.uln, b[1].learner.uln])
    assert {x["Employer"] for x in learners} == {a[1].learner.employer, b[1].learner.employer}
    # A second return of one of them changes only that one.
    qa, sa, ra = a
    ref = next(cr.ref for u in qa.units for cr in u.criteria if cr.ref not in ra.entries)
    drop(c, [(qa, sa, dataclasses.replace(ra, entries={**ra.entries, ref: dataclasses.replace(
        next(iter(ra.entries.values())), comments="extra")}))])
    roll(c)
    rows2 = dict(query(c, "SELECT l.uln, count(c.ref) FROM learners l JOIN criteria c ON c.learner_id = l.id "
                          "WHERE l.name = ? GROUP BY l.uln", a[1].learner.name))
    assert rows2[sa.learner.uln] == len(ra.entries) + 1
    assert rows2[b[1].learner.uln] == len(b[2].entries)


def test_same_uln_with_another_name(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    q, s, rec = items(3)[2]
    drop(c, [(q, s, rec)])
    roll(c)
    # Another workbook, another name, same ULN: probably another learner with a mistyped ULN.
    other = dataclasses.replace(s, learner=dataclasses.replace(s.learner, name="Somebody Else"),
                                workbook_id="00000000-0000-4000-8000-000000000001")
    drop(c, [(q, other, dataclasses.replace(rec, learner=other.learner))], names=["other.xlsx"])
    r = roll(c)
    assert r.files[0].outcome == "quarantined" and "is on file for" in r.files[0].reason
    assert query(c, "SELECT name FROM learners") == [(s.learner.name,)]
    # The same workbook with the name corrected: merged, with a warning.
    renamed = dataclasses.replace(s, learner=dataclasses.replace(s.learner, name=s.learner.name + "-Smith"))
    drop(c, [(q, renamed, dataclasses.replace(rec, learner=renamed.learner))], names=["renamed.xlsx"])
    r = roll(c)
    assert r.files[0].outcome == "merged" and r.files[0].warnings >= 1
    assert query(c, "SELECT name FROM learners") == [(renamed.learner.name,)]
    codes = {x["Code"] for x in sheet_dicts(c.master, "Issues") if x["ULN"] == s.learner.uln}
    assert "centre-name-changed" in codes


def test_replacement_workbook_and_copied_workbook(tmp_path: Path) -> None:
    c = make_centre(tmp_path / "centre")
    (qa, sa, ra), (qb, sb, rb) = items(4)[2:4]
    drop(c, [(qa, sa, ra), (qb, sb, rb)])
    roll(c)
    # A new workbook for the same learner (same name and ULN): the same learner record.
    new_wb = dataclasses.replace(sa, workbook_id="00000000-0000-4000-8000-00000000000a")
    drop(c, [(qa, new_wb, ra)], names=["reissued.xlsx"])
    r = roll(c)
    assert r.files[0].outcome == "merged"
    assert query(c, "SELECT count(*) FROM learners") == [(2,)]
    assert len(query(c, "SELECT * FROM learner_workbooks WHERE learner_id = (SELECT id FROM learners WHERE uln = ?)",
                     sa.learner.uln)) == 2
    # Learner B's workbook started as a copy of A's (same workbook id): merged for B, flagged.
    copied = dataclasses.replace(sb, workbook_id=sa.workbook_id)
    if qb.number == qa.number:
        drop(c, [(qb, copied, rb)], names=["copied.xlsx"])
        r = roll(c)
        assert r.files[0].outcome == "merged"
        codes = {x["Code"] for x in sheet_dicts(c.master, "Issues") if x["ULN"] == sb.learner.uln}
        assert "centre-workbook-shared" in codes


def test_the_same_learner_on_two_qualifications(tmp_path: Path) -> None:
    from tracker.spec.catalogue import load_qualification

    c = make_centre(tmp_path / "centre")
    q2, s, rec = items(1)[0]
    assert q2.number == L2.number
    q3 = load_qualification("603/4688/7")
    from tracker.sample import progress_record

    s3 = dataclasses.replace(s, qualification_number=q3.number, workbook_id="00000000-0000-4000-8000-0000000000b3")
    drop(c, [(q2, s, rec), (q3, s3, progress_record(q3, s3))], names=["level 2.xlsx", "level 3.xlsx"])
    roll(c)
    assert sorted(query(c, "SELECT qualification_number FROM learners WHERE uln = ?", s.learner.uln)) == [
        (q2.number,), (q3.number,)]
