"""``tracker issue``: each learner's *current* workbook written from the ledger, stamped with its base.

A re-issued workbook is written by :func:`tracker.workbook.writer.new_workbook` (protected, with
its dropdowns, exactly as ``tracker new`` writes one) with every accepted value in place: the
cover details, every criterion row (assessor, IQA and countersign columns, comments, and the
columns an assessor added to the table, right of it in the order of the latest return) and the
evidence log of the learner's latest return (with its added columns). Its hidden metadata carries the **base** stamp:
this ledger's id, the base id, the ledger revision it was issued from and a fingerprint of every
row. The base (the rows as issued) is kept in the ledger and journalled, so that a return of this
workbook is merged three-way (:mod:`tracker.centre.merge_rules`): what the holder did not change
never contradicts work that reached the ledger from another copy meanwhile.

Files go to ``OUT/<assessor>/<learner name> <ULN>.xlsx`` (default ``OUT`` = ``DIR/outbox``), so an
admin can send each assessor their learners' files.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre, RollupLock, open_centre, plain_errors
from tracker.centre.journal import append_journal, open_ledger
from tracker.centre.merge import format_stamp
from tracker.centre.merge_rules import FIELDS, Extra, extra_from_json, fingerprint, rows_json
from tracker.errors import CentreError, TrackerError
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord


@dataclass(slots=True)
class IssuedWorkbook:
    """One workbook written."""

    uln: str
    name: str
    qualification_number: str
    path: Path
    base_id: int


@dataclass(slots=True)
class IssueResult:
    """What :func:`issue_workbooks` wrote."""

    outbox: Path
    revision: int
    workbooks: list[IssuedWorkbook] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _date(v: str | None) -> dt.date | None:
    if not v:
        return None
    try:
        return dt.date.fromisoformat(v[:10])
    except ValueError:
        return None


def _entry(values: LG.Values, extra: Extra | None = None) -> CriterionEntry:
    d = dict(zip(FIELDS, values))
    refs = tuple(r.strip() for r in (d.get("evidence_refs") or "").split(",") if r.strip())
    kw: dict[str, object] = {}
    for f in FIELDS:
        if f == "evidence_refs":
            continue
        v = d.get(f)
        kw[f] = _date(v) if f.endswith("_date") else v
    return CriterionEntry(evidence_refs=refs, extra=tuple((extra or {}).items()), **kw)  # type: ignore[arg-type]


def _safe(text: str) -> str:
    """Text usable as a file or folder name on Windows and macOS."""
    return re.sub(r'[<>:"/\\|?*\x00-\x1f]+', " ", text).strip(" .") or "unnamed"


def _latest(c: Centre, conn: sqlite3.Connection, last_file: str) -> LearnerRecord | None:
    """The learner's latest return as read (the ledger keeps no evidence log, nor the headers of
    the columns an assessor added): None when it cannot be read."""
    from tracker.workbook.reader import read_workbook

    for f in LG.latest_returns(conn):
        if f.hash == last_file:
            try:
                return read_workbook(c.root / f.archive_path).to_record()
            except (TrackerError, OSError):
                return None
    return None


def issue_workbooks(centre: str | Path | Centre, *, ulns: list[str] | None = None,
                    out: str | Path | None = None, learner_ids: Iterable[int] | None = None) -> IssueResult:
    """Write every learner's (or the learners ``ulns``', or the ledger's learners ``learner_ids``')
    current workbook with its base stamp. ``learner_ids`` is how the roll-up re-issues the learners
    it changed (``reissue_after_rollup``); an empty collection writes nothing."""
    from tracker.spec.catalogue import find_spec_file, load_file, spec_hash
    from tracker.workbook.writer import new_workbook

    c = centre if isinstance(centre, Centre) else open_centre(centre)
    outbox = Path(out) if out is not None else c.root / "outbox"
    wanted = {u.strip() for u in ulns or [] if u.strip()}
    with RollupLock(c), plain_errors(c):
        conn = open_ledger(c)
        try:
            journal: list[dict[str, object]] = []
            with LG.transaction(conn):
                lid = LG.ledger_id(conn)
                rev = LG.revision(conn)
                result = IssueResult(outbox, rev)
                # No run is recorded: issuing changes no accepted value (the master stays current).
                now = LG.now()
                ids = None if learner_ids is None else set(learner_ids)
                learners = [lr for lr in LG.learners(conn) if (not wanted or lr.uln in wanted)
                            and (ids is None or lr.id in ids)]
                missing = wanted - {lr.uln for lr in learners}
                if missing:
                    raise CentreError(f"no learner with ULN {', '.join(sorted(missing))} in the ledger")
                for lr in learners:
                    spec = find_spec_file(lr.qualification_id, [c.specs])
                    q = load_file(spec)
                    accepted = LG.learner_criteria(conn, lr.id)
                    rows = {ref: a.values for ref, a in accepted.items()}
                    extras = {ref: x for ref, a in accepted.items() if (x := extra_from_json(a.extra))}
                    text = rows_json(rows, extras)
                    fp = fingerprint(lid, text)
                    base_id = LG.insert_base(conn, lr.id, rev, fp, text, now)
                    learner = Learner(name=lr.name, uln=lr.uln, pathway=lr.pathway,
                                      registration_date=_date(lr.registration_date), assessor=lr.assessor,
                                      iqa=lr.iqa, tutor=lr.tutor, employer=lr.employer)
                    latest = _latest(c, conn, lr.last_file)
                    record = LearnerRecord(
                        learner, {ref: _entry(v, extras.get(ref)) for ref, v in rows.items()},
                        latest.evidence if latest else (),
                        # The added columns in the order of the latest return (headers with no value yet
                        # included); the writer appends any other header a kept value names.
                        unit_extra_columns=latest.unit_extra_columns if latest else {},
                        evidence_extra_columns=latest.evidence_extra_columns if latest else ())
                    folder = outbox / _safe(lr.assessor or "no assessor")
                    folder.mkdir(parents=True, exist_ok=True)
                    path = folder / f"{_safe(lr.name)} {lr.uln}.xlsx"
                    new_workbook(q, record, path, reading=lr.reading or None, workbook_id=lr.workbook_id,
                                 spec_hash=spec_hash(spec), base=format_stamp(lid, base_id, rev, fp))
                    result.workbooks.append(IssuedWorkbook(lr.uln, lr.name, lr.qualification_number, path, base_id))
                    journal.append({"kind": "issue", "ledger_id": lid, "base_id": base_id, "uln": lr.uln,
                                    "qualification_number": lr.qualification_number, "revision": rev,
                                    "fingerprint": fp, "rows": text, "issued": now})
            append_journal(c, journal)
        finally:
            conn.close()
    return result


__all__ = ["IssueResult", "IssuedWorkbook", "issue_workbooks"]
