"""``python -m tracker.demo DIR``: a demo centre, end to end, on generated sample data.

What it does (``make demo`` runs it; about half a minute for the default 36 learners, half of
it the PDF reports):

1. creates a centre folder (``tracker init``) with a filled-in centre register;
2. generates learners on both bundled qualifications (:mod:`tracker.sample`): two of them share a
   name, one IQA also tutors a learner on the qualification she quality-assures;
3. drops their first returns (as they stood at the end of March 2025) into the inbox, with a few
   deliberate problems: a corrupt file, an exact copy of a return under another name, a workbook
   whose ULN was mistyped, an evidence ref missing from a learner's evidence log, and a comment
   that starts with "=" -- validates the inbox (the checks of ``tracker validate`` with the
   centre's register) and rolls up;
4. drops a second round of returns (end of October 2025), three of them contradicting sign-offs
   accepted in the first round (a Met decision changed to Not yet met, a sign-off date changed, an
   IQA decision removed) -- and rolls up: the accepted values stay, the conflicts are listed;
5. a corrected return closes one conflict, and the admin resolves another with ``tracker
   resolve`` (the third stays open for you to try);
6. re-issues the learners' current workbooks (``tracker issue``) and works on two copies of one
   of them in parallel -- the IQA samples a criterion on one, the assessor signs another off on
   the other -- both returned and rolled up: no false conflict, both kept (the three-way merge);
7. exports the criteria and learners tables as CSV, writes the EQA visit pack and a tracking
   record per learner as PDF (``tracker report``; ``--no-report`` leaves them out), and prints
   where the master workbook is.

DIR is created; if it exists it must be empty or an earlier demo centre (which is replaced).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tracker.centre.export_tables import export
from tracker.centre.create import init_centre
from tracker.centre.folder import Centre, is_centre, load_config
from tracker.centre.conflicts import open_conflicts, resolve
from tracker.centre.rollup_steps import RollupResult, rollup
from tracker.errors import CentreError
from tracker.sample import (
    AS_OF,
    IQAS,
    SampleLearner,
    progress_record,
    sample_learners,
    write_register,
    write_workbooks,
)
from tracker.spec.catalogue import load_qualification
from tracker.spec.models import Qualification
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, LearnerRecord

FIRST_ROUND = dt.date(2025, 3, 31)
SECOND_ROUND = AS_OF
TODAY = dt.date(2025, 11, 14)  # the demo's "today" for date checks, so it gives the same results every day
DEFAULT_LEARNERS = 36
CENTRE_NAME = "Riverside Training Centre (demo)"
CENTRE_NUMBER = "DEMO-0001"


def _prepare_folder(root: Path) -> None:
    if not root.exists():
        return
    if not root.is_dir():
        raise CentreError(f"{root} exists and is not a folder")
    if not any(root.iterdir()):
        return
    if is_centre(root) and load_config(root).get("demo") is True:
        shutil.rmtree(root)
        return
    raise CentreError(f"{root} exists and is not an earlier demo centre: choose an empty or new folder")


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, flush=True)


def _first_signed(record: LearnerRecord, *, with_iqa: bool = False) -> str | None:
    for ref, e in record.entries.items():
        if e.decision == L.MET and (e.iqa_decision is not None) == with_iqa:
            return ref
    return None


def _edit(record: LearnerRecord, ref: str, **changes: object) -> LearnerRecord:
    entry = dataclasses.replace(record.entries[ref], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(record, entries={**record.entries, ref: entry})


def _stamp(folder: Path, day: dt.date) -> None:
    """Give the files in ``folder`` modification times on ``day`` (the roll-up merges in that order)."""
    base = dt.datetime(day.year, day.month, day.day, 17, 0).timestamp()
    for i, p in enumerate(sorted(folder.iterdir())):
        if p.is_file():
            os.utime(p, (base + i, base + i))


def _summary(label: str, r: RollupResult) -> str:
    return (f"{label}: {r.count('merged')} merged, {r.count('quarantined')} quarantined, "
            f"{r.count('duplicate')} already received; {r.learners} learners, {r.open_conflicts} open "
            f"conflict(s) ({r.seconds:.1f} s, {r.workers} process(es))")


def build_demo(root: str | Path, *, learners: int = DEFAULT_LEARNERS, quiet: bool = False,
               workers: int = 2, reports: bool = False) -> Centre:
    """Build the demo centre at ``root`` (see the module doc); returns the centre.

    ``reports``: also write the PDF reports (step 7). Off by default because the tests that build
    a demo centre for its ledger and master do not need them (they take as long as the rest);
    ``make demo`` turns them on."""
    t0 = time.perf_counter()
    root = Path(root)
    _prepare_folder(root)
    centre, _created = init_centre(root, name=CENTRE_NAME, number=CENTRE_NUMBER, demo=True)
    write_register(centre.register)
    _say(quiet, f"centre folder {centre.root} created, with a centre register of 8 staff")

    people = sample_learners(max(learners, 6))
    # One IQA also tutors a learner on a qualification she quality-assures elsewhere in the centre.
    iqa = IQAS[0]
    for i, s in enumerate(people):
        if s.learner.iqa != iqa and s.qualification_number == people[0].qualification_number and i > 1:
            people[i] = dataclasses.replace(s, learner=dataclasses.replace(s.learner, tutor=iqa))
            break
    quals: dict[str, Qualification] = {s.qualification_number: load_qualification(s.qualification_number)
                                       for s in people}
    n_same = sum(1 for s in people if s.learner.name == people[0].learner.name)
    _say(quiet, f"{len(people)} learners on {len(quals)} qualifications ({n_same} called {people[0].learner.name}, "
                "with different ULNs)")

    # -- round 1 ------------------------------------------------------------------------------
    first = [(quals[s.qualification_number], s, progress_record(quals[s.qualification_number], s, as_of=FIRST_ROUND))
             for s in people]
    active = [(q, s, r) for q, s, r in first if r.entries]
    # Deliberate problems for the Issues sheet, kept in the learner's later returns too.
    marked = active[0][1].learner.uln
    ref0 = next(iter(active[0][2].entries))

    def mark(rec: LearnerRecord) -> LearnerRecord:
        e = rec.entries[ref0]
        return _edit(rec, ref0, evidence_refs=(*e.evidence_refs, "E999"),
                     comments="=see portfolio p.12 (typed with a leading '=')")

    active[0] = (active[0][0], active[0][1], mark(active[0][2]))
    write_workbooks(active, centre.inbox, workers=workers)
    (centre.inbox / "Scan of paper tracker.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 40 + b"truncated")
    copied = active[1][1].file_name
    shutil.copyfile(centre.inbox / copied, centre.inbox / f"Copy of {copied}")
    q2, s2, rec2 = active[2]
    wrong = s2.learner.uln[:-1] + str((int(s2.learner.uln[-1]) + 1) % 10)  # a mistyped check digit
    typo = dataclasses.replace(s2, learner=dataclasses.replace(s2.learner, uln=wrong))
    write_workbooks([(q2, typo, dataclasses.replace(rec2, learner=typo.learner))], centre.inbox, workers=1,
                    names=["returned by email.xlsx"])
    _stamp(centre.inbox, FIRST_ROUND)
    _say(quiet, f"round 1: {len(active)} returns dropped into the inbox, plus a corrupt file, a copy of a "
                "return and a workbook with a mistyped ULN")
    _say(quiet, _validated(centre))
    r1 = rollup(centre, today=TODAY, workers=workers)
    _say(quiet, _summary("roll-up 1", r1))

    # -- round 2 ------------------------------------------------------------------------------
    second = {s.learner.uln: (q, s, progress_record(q, s, as_of=SECOND_ROUND)) for q, s, _r in first}
    q, s, r = second[marked]
    second[marked] = (q, s, mark(r))
    conflicts_made: list[str] = []
    candidates = [(q, s, r) for q, s, r in active[3:]]
    used: set[str] = set()

    def pick(with_iqa: bool) -> tuple[SampleLearner, str] | None:
        for _q, s, r in candidates:
            ref = _first_signed(r, with_iqa=with_iqa)
            if ref is not None and s.learner.uln not in used:
                used.add(s.learner.uln)
                return s, ref
        return None

    changed_date: tuple[SampleLearner, str] | None = None
    if (a := pick(False)) is not None:
        sa, ref = a
        q, s, r = second[sa.learner.uln]
        second[sa.learner.uln] = (q, s, _edit(r, ref, decision=L.NOT_YET_MET,
                                              comments="Changed my mind - needs a second observation"))
        conflicts_made.append(f"{sa.learner.name} {ref}: Met changed to Not yet met")
    if (b := pick(False)) is not None:
        sb, ref = b
        q, s, r = second[sb.learner.uln]
        old = r.entries[ref].assessor_date
        assert old is not None
        second[sb.learner.uln] = (q, s, _edit(r, ref, assessor_date=old + dt.timedelta(days=7)))
        conflicts_made.append(f"{sb.learner.name} {ref}: assessor date changed")
        changed_date = b
    if (c := pick(True)) is not None:
        sc, ref = c
        q, s, r = second[sc.learner.uln]
        second[sc.learner.uln] = (q, s, _edit(r, ref, iqa_sampled=None, iqa=None, iqa_date=None, iqa_decision=None))
        conflicts_made.append(f"{sc.learner.name} {ref}: IQA decision removed")
    write_workbooks(list(second.values()), centre.inbox, workers=workers)
    _stamp(centre.inbox, SECOND_ROUND)
    _say(quiet, f"round 2: {len(second)} returns, {len(conflicts_made)} contradicting an accepted sign-off "
                f"({'; '.join(conflicts_made)})")
    r2 = rollup(centre, today=TODAY, workers=workers)
    _say(quiet, _summary("roll-up 2", r2))

    # -- round 3: a corrected return closes one conflict; the admin decides another ------------
    if changed_date is not None:
        sb, _ref = changed_date
        q, s, r = second[sb.learner.uln]
        corrected = progress_record(q, s, as_of=SECOND_ROUND)
        last = list(corrected.entries)[-1]
        corrected = _edit(corrected, last, comments="Sign-off date corrected back")
        write_workbooks([(q, s, corrected)], centre.inbox, workers=1,
                        names=[f"{Path(s.file_name).stem} (corrected).xlsx"])
        _stamp(centre.inbox, SECOND_ROUND + dt.timedelta(days=3))
        r3 = rollup(centre, today=TODAY, workers=1)
        _say(quiet, _summary("roll-up 3 (a corrected return)", r3))
    still = open_conflicts(centre)
    if still:
        c0 = still[0]
        resolve(centre, conflict_id=int(c0["id"]), keep="accepted", by="Centre admin (demo)",
                note="Checked with the assessor: the original observation stands")
        _say(quiet, f"resolved conflict #{c0['id']} ({c0['learner']}, {c0['criterion']}): kept the accepted value")
    _say(quiet, _reissue_round(centre, workers))
    paths = export(centre, "csv")
    left = open_conflicts(centre)
    _say(quiet, f"exported {', '.join(p.name for p in paths)} to {paths[0].parent}")
    if reports:
        from tracker.centre.report import LEARNER_DIR, write_reports

        rep = write_reports(centre.root)
        pack_pages = rep.pages[rep.pack] if rep.pack is not None else 0
        _say(quiet, f"EQA visit pack ({pack_pages} pages): {rep.pack}; {len(rep.learners)} learner tracking "
                    f"records in {(rep.folder or centre.root) / LEARNER_DIR}")
    _say(quiet, "")
    _say(quiet, f"Done in {time.perf_counter() - t0:.1f} s. The centre master workbook is:\n  {centre.master}")
    if left:
        first_left = left[0]
        _say(quiet, f"{len(left)} conflict(s) still open; try:\n  tracker conflicts {root}\n"
                    f"  tracker resolve {root} --conflict {first_left['id']} --keep returned --note \"agreed with IQA\""
                    "\nor choose a Decision on the master's Conflicts sheet, save, close it and roll up again")
    _say(quiet, f"Quarantined files and why: {centre.quarantine}")
    return centre


def _reissue_round(centre: Centre, workers: int) -> str:
    """Round 4: re-issue, two copies of one learner's workbook worked on in parallel, both returned."""
    from tracker.centre.reissue import issue_workbooks
    from tracker.workbook.reader import read_workbook
    from tracker.workbook.writer import new_workbook

    issued = issue_workbooks(centre)
    busy = {k["uln"] for k in open_conflicts(centre)}
    for w in issued.workbooks:
        if w.uln in busy:
            continue
        book = read_workbook(w.path)
        rec = book.to_record()
        q = load_qualification(book.meta["spec_id"])
        sample = next((ref for ref, e in rec.entries.items() if e.decision == L.MET and e.iqa_decision is None), None)
        todo = next((c.ref for u in q.units for c in u.criteria if c.ref not in rec.entries), None)
        if sample is None or todo is None:
            continue
        iqa = rec.learner.iqa or IQAS[0]
        day = SECOND_ROUND + dt.timedelta(days=10)
        copies = {
            "IQA copy": _edit(rec, sample, iqa_sampled=L.YES, iqa=iqa, iqa_date=day, iqa_decision=L.AGREED),
            "assessor copy": _edit(dataclasses.replace(rec, entries={**rec.entries, todo: CriterionEntry()}), todo,
                                   decision=L.MET, assessor=rec.learner.assessor, assessor_date=day,
                                   method="Observation", evidence_date=day),
        }
        for label, edited in copies.items():  # as each holder saves their copy in Excel
            new_workbook(q, edited, centre.inbox / f"{w.path.stem} ({label}).xlsx", reading=book.meta["reading"],
                         workbook_id=book.meta["workbook_id"], base=book.meta["base"])
        _stamp(centre.inbox, SECOND_ROUND + dt.timedelta(days=12))
        r4 = rollup(centre, today=TODAY, workers=1)
        opened = sum(f.conflicts_opened for f in r4.files)
        return (f"round 4: {len(issued.workbooks)} workbooks re-issued into {issued.outbox}; {w.name}'s IQA copy "
                f"(sampled {sample}) and assessor copy (signed {todo} off) both returned: {r4.count('merged')} merged, "
                f"{opened} conflict(s) opened -- both kept")
    return f"round 4: {len(issued.workbooks)} workbooks re-issued into {issued.outbox}"


def _validated(centre: Centre) -> str:
    """Validate the inbox as `tracker validate inbox --register register.xlsx` would, with the
    centre's readings (the same checks the roll-up then runs), and say what was found."""
    from tracker.centre.check import load_register, preview_inbox
    from tracker.issues import Severity

    register, register_issues = load_register(centre)
    report = preview_inbox(centre, register, register_issues, today=TODAY)
    c = report.counts
    with_errors = sum(1 for t in report.tasks if not t.valid)
    first = next((f"{Path(t.file).name}: {i.message}" for t, i in report.issues()
                  if i.severity is Severity.ERROR), "")
    return (f"validate: {c['files']} files checked, {with_errors} with errors ({c['error']} errors, "
            f"{c['warning']} warnings, {c['info']} notes on progress)" + (f"; e.g. {first}" if first else ""))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tracker.demo``."""
    p = argparse.ArgumentParser(prog="python -m tracker.demo", description=__doc__.split("\n\n")[0] if __doc__ else "")
    p.add_argument("dir", metavar="DIR", help="the demo centre folder to create")
    p.add_argument("--learners", type=int, default=DEFAULT_LEARNERS, help=f"how many (default {DEFAULT_LEARNERS})")
    p.add_argument("--quiet", action="store_true", help="print only the master's path")
    p.add_argument("--workers", type=int, default=2, help="processes for writing and rolling up (default 2)")
    p.add_argument("--no-report", action="store_true", help="leave out the PDF reports (tracker report)")
    args = p.parse_args(argv)
    try:
        centre = build_demo(args.dir, learners=args.learners, quiet=args.quiet, workers=args.workers,
                            reports=not args.no_report)
    except CentreError as e:
        print(f"tracker.demo: {e}", file=sys.stderr)
        return 1
    if args.quiet:
        print(centre.master)
    return 0


if __name__ == "__main__":
    sys.exit(main())
