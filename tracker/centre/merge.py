"""The merge: a checked file written into the ledger, inside the caller's transaction.

:class:`Merger` takes one :class:`~tracker.centre.check.Checked` file at a time, in the order the
files were last modified:

* **the learner** is found by ULN + qualification number (+ workbook id) or added. A return for a
  known learner whose name differs is accepted when it comes from a workbook already seen for
  that learner (a corrected name, warning) and quarantined when it comes from a workbook never
  seen for them (a different person with a mistyped ULN); two learners with the same name and
  different ULNs are always two learners;
* **the base**: a workbook re-issued by ``tracker issue`` carries a stamp naming the rows it was
  issued with (:func:`resolve_base`); its rows are merged three-way against them. A stamp that
  names another ledger, or does not match what was issued, is not trusted (a warning; merged
  with no base); one from a revision the ledger has not reached quarantines the file;
* **each criterion row** is merged by the rules of :mod:`tracker.centre.merge_rules`: accepted, or
  a conflict opened (an open conflict is closed by an agreeing return, superseded by a different
  contradiction; a value an admin rejected is not raised again);
* **the file** is recorded with its outcome and its issues, and the merge log says what happened.

A file that cannot be merged is recorded as quarantined (:meth:`Merger.quarantine`).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from tracker.centre import ledger as LG
from tracker.centre.check import COVER_KEYS, Checked
from tracker.centre.merge_rules import (BLANK, Extra, Values, decide, extra_from_json, extra_json, extras_from_json,
                                       field_label, fingerprint, merge_extra, rows_from_json, values_json)
from tracker.centre.receive import Received
from tracker.centre.rollup_issues import BASE_FUTURE, BASE_UNTRUSTED, IDENTITY_MISMATCH, NAME_CHANGED, NEW_WORKBOOK, WORKBOOK_SHARED
from tracker.issues import CATALOGUE, Issue
from tracker.workbook.model import name_key


@dataclass(slots=True)
class FileOutcome:
    """What happened to one file of the inbox."""

    name: str  # path relative to the inbox
    hash: str
    outcome: str  # merged | quarantined | duplicate | skipped (not an ordinary file, or still being copied)
    reason: str = ""
    learner: str = ""
    uln: str = ""
    rows_accepted: int = 0
    conflicts_opened: int = 0
    conflicts_closed: int = 0
    errors: int = 0
    warnings: int = 0


@dataclass(slots=True)
class Totals:
    """What a run's merges did (for its ``runs`` row)."""

    merged: int = 0
    quarantined: int = 0
    rows: int = 0
    opened: int = 0
    closed: int = 0


def format_stamp(ledger_id: str, base_id: int, revision: int, fp: str) -> str:
    """The stamp written in a re-issued workbook's hidden metadata (``base``)."""
    return f"{ledger_id}/{base_id}/{revision}/{fp}"


@dataclass(slots=True)
class BaseFound:
    """What a return's stamp says: its base rows, or why it has none (a warning or an error)."""

    rows: dict[str, Values] | None = None
    extras: dict[str, Extra] | None = None  # the added columns' values as issued (ref -> values)
    untrusted: str = ""  # why the stamp was not trusted (a warning)
    future: tuple[int, int] | None = None  # (stamped revision, current revision): an error


def resolve_base(conn: sqlite3.Connection, stamp: str, learner_id: int | None) -> BaseFound:
    """The base rows a return's stamp names (see the module doc); ``learner_id``: the learner the
    return was matched to (a stamp issued for another learner is not trusted)."""
    if not stamp:
        return BaseFound()
    parts = stamp.split("/")
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return BaseFound(untrusted="is not in the form tracker writes")
    lid, base_id, rev, fp = parts[0], int(parts[1]), int(parts[2]), parts[3]
    if lid != LG.ledger_id(conn):
        return BaseFound(untrusted="names another centre's ledger")
    current = LG.revision(conn)
    if rev > current:
        return BaseFound(future=(rev, current))
    b = LG.base_by_id(conn, base_id)
    if b is None or b.revision != rev or b.fingerprint != fp or fingerprint(lid, b.rows) != fp:
        return BaseFound(untrusted="does not match any workbook this centre issued")
    if learner_id is not None and b.learner_id != learner_id:
        return BaseFound(untrusted="was issued for another learner")
    return BaseFound(rows=rows_from_json(b.rows), extras=extras_from_json(b.rows))


def issue_rows(issues: list[Issue]) -> list[LG.IssueRow]:
    """Issues as stored, in report order."""
    return [LG.IssueRow(i.code, i.severity.value, i.message, i.sheet, i.cell, i.unit, i.criterion)
            for i in sorted(issues, key=lambda i: i.sort_key)]


class Merger:
    """Merges checked files into the ledger inside the caller's transaction."""

    def __init__(self, conn: sqlite3.Connection, run_id: int, now: str) -> None:
        self.conn = conn
        self.run_id = run_id
        self.now = now
        self.seq = LG.last_file_seq(conn)
        self.totals = Totals()

    def log(self, action: str, detail: str, file: str | None = None, learner_id: int | None = None,
            criterion: str | None = None) -> None:
        """Append to the merge log."""
        LG.log(self.conn, self.run_id, action, detail, file, learner_id, criterion)

    def close(self, conflict_id: int, resolution: str, file: str | None, by: str | None, note: str) -> None:
        """Close a conflict in this run."""
        LG.close_conflict(self.conn, conflict_id, resolution, self.run_id, file, by, note)

    def _record_file(self, rec: Received, res: Checked, outcome: str, reason: str,
                     learner_id: int | None, issues: list[Issue], requeued: bool) -> None:
        self.seq += 1
        f = LG.FileRecord(
            hash=rec.hash, original_name=rec.name.rsplit("/", 1)[-1], size=rec.size,
            modified=dt.datetime.fromtimestamp(rec.mtime_ns / 1e9).replace(microsecond=0).isoformat(sep=" "),
            received=self.now, run_id=self.run_id, archive_path=rec.archive_rel, outcome=outcome,
            reason=reason or None, learner_id=learner_id, uln=res.uln or None,
            qualification_number=res.qualification_number or None, learner_name=res.name or None,
            workbook_id=res.workbook_id or None, seq=self.seq)
        LG.record_file(self.conn, f, issue_rows(issues), replace=requeued)

    def quarantine(self, rec: Received, res: Checked, code: str, reason: str, requeued: bool,
                   extra: list[Issue] | None = None) -> FileOutcome:
        """Record a file that is not merged."""
        if requeued:
            # Quarantined before and still not mergeable: the ledger keeps its first record.
            return FileOutcome(rec.name, rec.hash, "quarantined", reason, res.name, res.uln)
        display = rec.name.rsplit("/", 1)[-1]
        issue = CATALOGUE[code](file=display, name=display, reason=reason) if code in CATALOGUE else None
        issues = [issue] if issue else []
        issues += extra or []
        issues += res.issues
        self._record_file(rec, res, "quarantined", reason, None, issues, requeued)
        self.log("quarantined", reason, rec.hash)
        self.totals.quarantined += 1
        return FileOutcome(rec.name, rec.hash, "quarantined", reason, res.name, res.uln)

    def merge(self, rec: Received, res: Checked, requeued: bool = False) -> FileOutcome:
        """Merge one checked file (or quarantine it)."""
        if res.status != "ok":
            return self.quarantine(rec, res, res.code, res.reason, requeued)
        conn = self.conn
        extra: list[Issue] = []
        found = LG.find_learner(conn, res.uln, res.qualification_number)
        workbooks: set[str] = set()
        if found is not None:
            workbooks = LG.learner_workbook_ids(conn, found.id)
            same_workbook = bool(res.workbook_id) and res.workbook_id in workbooks
            if not res.name.strip():
                res.name = found.name  # a name deleted from the cover sheet: the one on file stands
            if name_key(found.name) != name_key(res.name):
                if not same_workbook:
                    issue = IDENTITY_MISMATCH(file=rec.name, name=rec.name, uln=res.uln, known=found.name,
                                              learner=res.name)
                    return self.quarantine(rec, res, IDENTITY_MISMATCH.code, issue.message, requeued)
                extra.append(NAME_CHANGED(old=found.name, new=res.name, uln=res.uln))
            elif res.workbook_id and not same_workbook:
                extra.append(NEW_WORKBOOK(workbook_id=res.workbook_id, name=found.name, uln=res.uln))
        if res.workbook_id:
            other = LG.other_learner_with_workbook(conn, res.workbook_id, res.uln, res.qualification_number)
            if other is not None:
                extra.append(WORKBOOK_SHARED(other=other.name, other_uln=other.uln))
        base = resolve_base(conn, res.base_stamp, found.id if found is not None else None)
        if base.future is not None:
            display = rec.name.rsplit("/", 1)[-1]
            issue = BASE_FUTURE(name=display, revision=base.future[0], current=base.future[1])
            return self.quarantine(rec, res, BASE_FUTURE.code, issue.message, requeued)
        if base.untrusted:
            extra.append(BASE_UNTRUSTED(why=base.untrusted))
        cover = dict(zip(COVER_KEYS, res.cover or (None,) * len(COVER_KEYS)))
        details = LG.LearnerDetails(
            qualification_id=res.qualification_id, name=res.name, pathway=res.pathway, reading=res.reading or None,
            registration_date=cover["registration_date"], assessor=cover["assessor"], iqa=cover["iqa"],
            tutor=cover["tutor"], employer=cover["employer"], workbook_id=res.workbook_id or None,
            planned_end_date=cover["planned_end_date"],
            spec_version=res.spec_version or None, last_file=rec.hash, last_return=self.now)
        if found is None:
            learner_id = LG.insert_learner(conn, res.uln, res.qualification_number, self.run_id, details)
            self.log("new learner", f"{res.name} (ULN {res.uln}, {res.qualification_number})", rec.hash,
                     learner_id)
        else:
            learner_id = found.id
            LG.update_learner(conn, learner_id, details)
        LG.set_apprenticeship(conn, learner_id, res.apprenticeship, rec.hash)
        if res.workbook_id and res.workbook_id not in workbooks:
            LG.add_learner_workbook(conn, learner_id, res.workbook_id, rec.hash)
        out = FileOutcome(rec.name, rec.hash, "merged", "", res.name, res.uln)
        self._merge_rows(learner_id, rec, res, out, base.rows, base.extras)
        issues = extra + res.issues
        self._record_file(rec, res, "merged", "", learner_id, issues, requeued)
        out.errors = sum(1 for i in issues if i.severity.value == "error")
        out.warnings = sum(1 for i in issues if i.severity.value == "warning")
        self.log("merged", f"{out.rows_accepted} row(s) accepted, {out.conflicts_opened} conflict(s) opened, "
                           f"{out.conflicts_closed} closed; {out.errors} error(s), {out.warnings} warning(s)",
                 rec.hash, learner_id)
        t = self.totals
        t.merged += 1
        t.rows += out.rows_accepted
        t.opened += out.conflicts_opened
        t.closed += out.conflicts_closed
        return out

    def _merge_rows(self, learner_id: int, rec: Received, res: Checked, out: FileOutcome,
                    base: dict[str, Values] | None, base_extras: dict[str, Extra] | None = None) -> None:
        conn = self.conn
        existing = LG.learner_criteria(conn, learner_id)
        open_conf: dict[str, tuple[int, str]] = {}
        rejected: set[tuple[str, str]] = set()
        for mark in LG.conflict_marks(conn, learner_id):
            if mark.open:
                open_conf[mark.ref] = (mark.id, mark.returned)
            else:
                rejected.add((mark.ref, mark.returned))
        inserts: list[LG.NewCriterion] = []
        updates: list[LG.NewCriterion] = []
        for ref, unit, values, silent in res.rows:
            acc = existing.get(ref)
            returned_extra = res.extras.get(ref)
            if acc is None:
                new_extra, _ = merge_extra({}, returned_extra or {})
                if values == BLANK and not new_extra:
                    continue
                inserts.append(LG.NewCriterion(learner_id, ref, unit, values, rec.hash, self.run_id,
                                               extra_json(new_extra)))
                out.rows_accepted += 1
                continue
            # Added columns first: never a conflict, whatever happens to the sign-off fields.
            extra_text = acc.extra
            if returned_extra is not None:
                held = extra_from_json(acc.extra)
                b_extra = None if base is None else (base_extras or {}).get(ref, {})
                merged, replaced = merge_extra(held, returned_extra, b_extra)
                if merged != held:
                    extra_text = extra_json(merged)
                for header, was, now in replaced:
                    self.log("column value replaced", f"'{header}': {was!r} -> {now!r} (changed on both sides "
                                                      "since the workbook was issued; the latest return stands)",
                             rec.hash, learner_id, ref)
            b = None if base is None else base.get(ref, BLANK)
            candidate, contradicted = decide(acc.values, values, silent, b)
            if contradicted:
                if extra_text != acc.extra:
                    updates.append(LG.NewCriterion(learner_id, ref, unit, acc.values, acc.source_file, acc.run_id,
                                                   extra_text))
                rj = values_json(candidate)
                oc = open_conf.get(ref)
                if oc is not None and oc[1] == rj:
                    continue  # the same contradiction again: the open conflict stands
                if (ref, rj) in rejected:
                    self.log("ignored", "the returned row repeats a value an admin rejected", rec.hash,
                             learner_id, ref)
                    continue
                if oc is not None:
                    self.close(oc[0], LG.RESOLUTION_SUPERSEDED, rec.hash, None,
                               "a later return contradicts it differently")
                    out.conflicts_closed += 1
                cid = LG.open_conflict(conn, LG.NewConflict(
                    learner_id, ref, unit, tuple(contradicted), values_json(acc.values), acc.source_file, rj,
                    rec.hash, self.run_id, None if b is None else values_json(b)))
                open_conf[ref] = (cid, rj)
                out.conflicts_opened += 1
                self.log("conflict", f"#{cid}: {', '.join(field_label(f) for f in contradicted)} "
                                     "differ from the accepted sign-off; accepted value kept",
                         rec.hash, learner_id, ref)
                continue
            if candidate != acc.values or extra_text != acc.extra:
                updates.append(LG.NewCriterion(learner_id, ref, unit, candidate, rec.hash, self.run_id, extra_text))
                out.rows_accepted += 1
            oc = open_conf.pop(ref, None)
            if oc is not None:
                self.close(oc[0], LG.RESOLUTION_AGREEING, rec.hash, None,
                           "a later return agrees with the accepted row")
                out.conflicts_closed += 1
                self.log("conflict closed", f"#{oc[0]}: a later return agrees with the accepted row",
                         rec.hash, learner_id, ref)
        if inserts:
            LG.insert_criteria(conn, inserts)
        if updates:
            LG.update_criteria(conn, updates)


__all__ = ["BaseFound", "FileOutcome", "Merger", "Totals", "format_stamp", "issue_rows", "resolve_base"]
