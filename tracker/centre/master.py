"""The centre master workbook, rebuilt from the ledger on every roll-up (XlsxWriter).

Sheets: Dashboard (key figures, a status table per qualification, charts of status, progress over
time and caseload), Learners (one row per learner), Caseload (per assessor), Matrix (one block per
qualification: learner x unit, RAG colours, unit titles, a colour key), Criteria (the long table:
one row per learner x criterion with every sign-off column), Issues (by severity, coloured),
Progress notes, Conflicts, IQA sampling, Sampling plan, Gateway, Merge log.

Per-learner rows are made by functions of the learner's data alone (:func:`learner_record`,
:func:`criterion_records`, :func:`matrix_statuses`, :func:`achieved_months`), so that they can be
cached by ledger revision.

Rules the master keeps:

* every figure (status, % complete, units complete, credits) is computed from the ledger's
  accepted values and the qualification data by the one definition of progress,
  :mod:`tracker.workbook.progress` (a criterion achieved, a unit's status, the qualification's;
  the Matrix shows a complete unit an IQA sampled as *IQA sampled*) -- nothing is read back from
  formula cells, and the
  master holds no formulas at all (so it shows the same figures in every program, recalculated or
  not);
* every value that came from a learner file is written with ``write_string`` and the workbook is
  opened with ``strings_to_formulas`` / ``strings_to_numbers`` / ``strings_to_urls`` off: a name
  that starts with ``=`` stays text;
* the long sheets are Excel tables (autofilter, banded rows) with a frozen header row in row 1, so
  ``pandas.read_excel(master, sheet_name="Criteria")`` reads them directly;
* the workbook is written in XlsxWriter's ``constant_memory`` mode (rows streamed to disk), so a
  centre of thousands of learners is written in bounded memory.

The long tables are written by :mod:`tracker.centre.xlsx_rows`, the one module that relies on
XlsxWriter's internals (rows rendered as XML, tables declared in ``constant_memory`` mode; its
doc gives the figures and the version pin). A table longer than a sheet holds (Excel: 1,048,576
rows, header included) is **split over numbered sheets** -- Criteria, Criteria 2 ... -- with the
same columns and a table each; the Dashboard and the roll-up's output say so. Split rather than
left out: the master stays the complete record an admin or a pivot table reads, and
``pandas.read_excel(sheet_name=None)`` concatenates the parts; the row limit is a parameter of
:func:`build_master` so that tests prove the split on a few rows.

Layout: the sheet names and column headers of the master are described once, in the section
below; the learner-workbook headers they repeat (Ref, Evidence refs, Decision ...) come from
:mod:`tracker.workbook.layout`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import textwrap
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.centre import gateway
from tracker.centre import ledger as LG
from tracker.centre.master_cache import MasterCache
from tracker.centre.xlsx_rows import EXCEL_MAX_ROWS, RowStream, add_table, split_sheets
from tracker.centre.xlsx_splice import MARKER as ROW_MARKER
from tracker.centre.xlsx_splice import Segment, deflate_segment, splice_rows
from tracker.centre.folder import Centre
from tracker.centre.iqa import REGISTER_PROBLEM_NOTE, CoverageRow, sampling_coverage
from tracker.centre import ontrack as OT
from tracker.centre.ontrack import last_activity, on_track
from tracker.errors import TrackerError
from tracker.rules.checks import iqa as iqa_checks
from tracker.rules.checks import progress as progress_checks
from tracker.workbook import layout as WL
from tracker.workbook.model import name_key, split_names
from tracker.workbook.progress import criterion_state, qualification_achieved, unit_status

if TYPE_CHECKING:
    from tracker.centre.plan import SamplingPlan
    from tracker.register import Register
    from tracker.spec.models import Qualification

# == layout of the master =========================================================================

DASHBOARD = "Dashboard"
LEARNERS = "Learners"
MATRIX = "Matrix"
CRITERIA = "Criteria"
ISSUES = "Issues"
CONFLICTS = "Conflicts"
IQA_SAMPLING = "IQA sampling"
SAMPLING_PLAN = "Sampling plan"
MERGE_LOG = "Merge log"
GATEWAY = "Gateway"
CASELOAD = "Caseload"
PROGRESS_NOTES = "Progress notes"
SHEETS = (DASHBOARD, LEARNERS, CASELOAD, MATRIX, CRITERIA, ISSUES, PROGRESS_NOTES, CONFLICTS, IQA_SAMPLING,
          SAMPLING_PLAN, GATEWAY, MERGE_LOG)
#: How many leading columns of each table sheet are printed (see the note above CRITERIA_COLUMNS).
# Measured with LibreOffice: about 140 characters of column width print at 80% of A4 landscape.
PRINTED_COLUMNS = {LEARNERS: 11, CRITERIA: 13, ISSUES: 6, PROGRESS_NOTES: 6, CONFLICTS: 9, IQA_SAMPLING: 11,
                   SAMPLING_PLAN: 9, GATEWAY: 8, MERGE_LOG: 7, CASELOAD: 10}
TABLE_NAMES = {LEARNERS: "Learners", CRITERIA: "Criteria", ISSUES: "Issues", CONFLICTS: "Conflicts",
               IQA_SAMPLING: "IQASampling", SAMPLING_PLAN: "SamplingPlan", MERGE_LOG: "MergeLog",
               GATEWAY: "Gateway", CASELOAD: "Caseload", PROGRESS_NOTES: "ProgressNotes"}

STATUS_NOT_STARTED = WL.STATUS_NOT_STARTED
STATUS_IN_PROGRESS = WL.STATUS_IN_PROGRESS
STATUS_COMPLETE = WL.STATUS_COMPLETE
STATUS_IQA_SAMPLED = "IQA sampled"
STATUSES = (STATUS_NOT_STARTED, STATUS_IN_PROGRESS, STATUS_COMPLETE)
RAG = {  # Matrix colours: red / amber / green, and blue once an IQA has sampled a complete unit
    STATUS_NOT_STARTED: ("#FFC7CE", "#9C0006"),
    STATUS_IN_PROGRESS: ("#FFEB9C", "#9C5700"),
    STATUS_COMPLETE: ("#C6EFCE", "#006100"),
    STATUS_IQA_SAMPLED: ("#BDD7EE", "#1F3864"),
}
YES, NO = WL.YES, WL.NO
CONFLICT_OPEN = "Open"


@dataclass(frozen=True, slots=True)
class MColumn:
    """A master column: key, header text, width, kind (text, wrap, int, date, datetime, percent)."""

    key: str
    header: str
    width: float = 14
    kind: str = "text"


def _wl(key: str, **kw: Any) -> MColumn:
    """A master column repeating a learner-workbook criterion column (same header text)."""
    c = WL.column_by_key(WL.CRITERION_COLUMNS, key)
    return MColumn(key, c.header, kw.get("width", max(c.width, 11)), "date" if c.kind == "date" else "text")


_COVER = WL.COVER_LABELS

# The Gateway sheet (apprentices only; rows from tracker.centre.gateway).
# The first 8 columns print (A4 landscape at 8 pt or more): who, the verdict, what is missing.
GATEWAY_COLUMNS: tuple[MColumn, ...] = (
    MColumn("uln", _COVER["uln"], 12), MColumn("name", _COVER["name"], 20),
    MColumn("ready", "Gateway", 10),
    MColumn("criteria", "All criteria achieved", 10), MColumn("sampling", "Summative IQA sampling", 10),
    MColumn("otj_hours", "OTJ hours logged", 9, "int"), MColumn("otj_minimum", "OTJ minimum", 9, "int"),
    MColumn("missing", "Missing", 50, "wrap"),
    MColumn("signoff", _COVER["gateway_signoff_date"], 12, "date"),
    MColumn("english_maths", _COVER["english_maths"], 18),
    MColumn("qualification_number", _COVER["qualification_number"], 13),
    MColumn("standard", _COVER["standard"], 12), MColumn("start_date", _COVER["start_date"], 12, "date"),
    MColumn("otj_how", "How the OTJ minimum was found", 50),
)

LEARNER_COLUMNS: tuple[MColumn, ...] = (
    MColumn("uln", _COVER["uln"], 12),
    MColumn("name", _COVER["name"], 22),
    MColumn("qualification_number", _COVER["qualification_number"], 13),
    MColumn("assessor", _COVER["assessor"], 16),
    MColumn("criteria_met", "Criteria met", 9, "int"),
    MColumn("criteria_required", "Criteria required", 9, "int"),
    MColumn("percent", "% complete", 10, "percent"),
    MColumn("status", "Status", 12),
    MColumn("last_activity", "Last activity", 11, "date"),
    MColumn("planned_end_date", _COVER["planned_end_date"], 11, "date"),
    MColumn("on_track", "On track", 12),
    MColumn("iqa", _COVER["iqa"], 16),
    MColumn("registration_date", _COVER["registration_date"], 11, "date"),
    MColumn("units_complete", "Units complete", 9, "int"),
    MColumn("last_return", "Last return", 16, "datetime"),
    MColumn("units_total", "Units", 7, "int"),
    MColumn("qualification", _COVER["qualification"], 34),
    MColumn("pathway", _COVER["pathway"], 13),
    MColumn("tutor", _COVER["tutor"], 18),
    MColumn("employer", _COVER["employer"], 20),
    MColumn("credits", "Credits achieved", 9, "int"),
    MColumn("credit_total", "Credits", 8, "int"),
    MColumn("open_issues", "Open issues", 8, "int"),
    MColumn("errors", "Errors", 8, "int"),
    MColumn("warnings", "Warnings", 9, "int"),
    MColumn("conflicts", "Open conflicts", 9, "int"),
    MColumn("last_file", "Last file", 28),
    MColumn("workbook_id", "Workbook id", 38),
)

MATRIX_FIXED: tuple[MColumn, ...] = (
    MColumn("uln", _COVER["uln"], 12),
    MColumn("name", _COVER["name"], 24),
    MColumn("qualification_number", _COVER["qualification_number"], 13),
    MColumn("percent", "% complete", 10, "percent"),
)

# The long tables print only their leading columns (the print area), fitted to the page width:
# all of Criteria's 27 columns on one page width would print at about 3 pt, and across pages by
# column at 185 pages for the demo. The leading columns are chosen (and ordered first) so that
# they fit A4 landscape at 80% or more of Calibri 10 (8 pt): at most ~175 characters of width.
_CRITERIA_PRINTED_ENTRIES = ("decision", "assessor", "assessor_date", "iqa_sampled", "iqa", "iqa_date",
                             "iqa_decision")
CRITERIA_COLUMNS: tuple[MColumn, ...] = (
    MColumn("uln", _COVER["uln"], 11),
    MColumn("name", _COVER["name"], 20),
    MColumn("qualification_number", _COVER["qualification_number"], 11),
    MColumn("unit", "Unit", 6, "int"),
    MColumn("ref", WL.column_by_key(WL.CRITERION_COLUMNS, "ref").header, 7),
    MColumn("achieved", "Achieved", 8),
    *(_wl(k, width=12) if k in ("assessor", "iqa") else _wl(k) for k in _CRITERIA_PRINTED_ENTRIES),
    MColumn("pathway", _COVER["pathway"], 12),
    MColumn("unit_ref", WL.UNIT_HEADER_LABELS["ref"], 12),
    MColumn("kind", WL.column_by_key(WL.CRITERION_COLUMNS, "kind").header, 10),
    MColumn("required", WL.REQUIRED_COLUMN.header, 9),
    *(_wl(k) for k in WL.ENTRY_KEYS if k not in _CRITERIA_PRINTED_ENTRIES),
    MColumn("source", "Source file", 26),
    MColumn("received", "Received", 16, "datetime"),
    MColumn("conflict", "Conflict", 8),
)

# The Sampling plan sheet (rows: tracker.centre.plan.master_records). The first 9 columns print
# (what to sample, by whom, why); the assessor's risk and its reasons follow on screen.
PLAN_COLUMNS: tuple[MColumn, ...] = (
    MColumn("iqa", "IQA", 16), MColumn("assessor", "Assessor", 16), MColumn("learner", "Learner", 18),
    MColumn("qualification_number", "Qualification number", 11), MColumn("unit", "Unit", 6, "int"),
    MColumn("ref", "Ref", 7), MColumn("kind", "Kind", 10), MColumn("reason", "Reason", 36, "wrap"),
    MColumn("planned_on", "Planned on", 11, "date"), MColumn("risk", "Risk", 8),
    MColumn("rate", "Rate", 7, "percent"),
    MColumn("compliant", "Compliant", 10), MColumn("risk_reasons", "Risk reasons", 40),
)
ISSUE_COLUMNS: tuple[MColumn, ...] = (
    MColumn("severity", "Severity", 9),
    MColumn("code", "Code", 26),
    MColumn("message", "Message", 64, "wrap"),
    MColumn("name", _COVER["name"], 22),
    MColumn("uln", _COVER["uln"], 12),
    MColumn("qualification_number", _COVER["qualification_number"], 13),
    MColumn("file", "File", 26),
    MColumn("sheet", "Sheet", 12),
    MColumn("cell", "Cell", 7),
    MColumn("unit", "Unit", 7),
    MColumn("criterion", "Criterion", 9),
    MColumn("source", "Source", 16),
)
ISSUE_SOURCE_LATEST = "Latest return"
ISSUE_SOURCE_QUARANTINE = "Quarantined file"
ISSUE_SOURCE_CENTRE = "Centre check"
ISSUE_SOURCE_REGISTER = "Centre register"

CONFLICT_COLUMNS: tuple[MColumn, ...] = (
    MColumn("id", "Conflict", 9, "int"),
    MColumn("status", "Status", 8),
    MColumn("name", _COVER["name"], 18),
    MColumn("uln", _COVER["uln"], 11),
    MColumn("ref", "Ref", 7),
    MColumn("fields", "Fields", 14, "wrap"),
    MColumn("accepted", "Accepted value", 24, "wrap"),
    MColumn("returned", "Returned value", 24, "wrap"),
    MColumn("resolution", "Resolution", 24, "wrap"),
    MColumn("unit", "Unit", 6, "int"),
    MColumn("qualification_number", _COVER["qualification_number"], 13),
    MColumn("accepted_file", "Accepted from", 26),
    MColumn("accepted_received", "Accepted received", 16, "datetime"),
    MColumn("returned_file", "Returned in", 26),
    MColumn("returned_received", "Returned received", 16, "datetime"),
    MColumn("closed_by", "Closed by", 16),
    MColumn("note", "Note", 30),
    MColumn("resolve", "To resolve", 60),
    # Issue 11: the admin's decision, typed here (a dropdown on open rows) with a Note; the next
    # roll-up applies and journals it (tracker.centre.excel_decisions).
    MColumn("decision", "Decision", 16),
)
KEEP_ACCEPTED = "Keep accepted"
KEEP_RETURNED = "Keep returned"
DECISION_CHOICES = {KEEP_ACCEPTED: "accepted", KEEP_RETURNED: "returned"}
CONFLICT_OPEN_LABEL = "Open"
CONFLICT_CLOSED_LABEL = "Closed"

IQA_COLUMNS: tuple[MColumn, ...] = (
    MColumn("assessor", "Assessor", 22),
    MColumn("trainee", "Trainee", 8),
    MColumn("scope", "Scope", 8),
    MColumn("qualification_number", _COVER["qualification_number"], 13),
    MColumn("unit", "Unit", 6, "int"),
    MColumn("method", "Method", 24),
    MColumn("decisions", "Met decisions", 10, "int"),
    MColumn("sampled", "Sampled", 9, "int"),
    MColumn("percent", "% sampled", 10, "percent"),
    MColumn("target", "Target", 8, "percent"),
    MColumn("flag", "Flag", 20),
)

LOG_COLUMNS: tuple[MColumn, ...] = (
    MColumn("run", "Run", 6, "int"),
    MColumn("time", "Time", 17, "datetime"),
    MColumn("name", _COVER["name"], 22),
    MColumn("uln", _COVER["uln"], 12),
    MColumn("criterion", "Criterion", 9),
    MColumn("action", "Action", 14),
    MColumn("detail", "Detail", 70, "wrap"),
    MColumn("kind", "What ran", 16),
    MColumn("file", "File", 28),
    MColumn("hash", "Content hash", 14),
)

# The Caseload sheet: one row per assessor (the first assessor named on a learner's cover), their
# learners by on-track status (tracker.centre.ontrack) and the decisions the sampling plan has for
# an IQA to sample (tracker.centre.plan).
NO_ASSESSOR = "(no assessor on the cover)"
NOT_JUDGED = "Not judged"  # no planned end date, or no registration date
CASELOAD_COLUMNS: tuple[MColumn, ...] = (
    MColumn("assessor", "Assessor", 24),
    MColumn("learners", "Learners", 9, "int"),
    MColumn("on_track", OT.ON_TRACK, 9, "int"),
    MColumn("behind", OT.BEHIND, 9, "int"),
    MColumn("far_behind", OT.FAR_BEHIND, 9, "int"),
    MColumn("overdue", OT.OVERDUE, 9, "int"),
    MColumn("complete", OT.COMPLETE, 9, "int"),
    MColumn("not_judged", f"{NOT_JUDGED} (no planned end date)", 14, "int"),
    MColumn("last_activity", "Last activity", 12, "date"),
    MColumn("awaiting_iqa", "Decisions awaiting IQA", 12, "int"),
)
_CASELOAD_STATUS = {OT.ON_TRACK: "on_track", OT.BEHIND: "behind", OT.FAR_BEHIND: "far_behind",
                    OT.OVERDUE: "overdue", OT.COMPLETE: "complete", OT.NO_END_DATE: "not_judged",
                    OT.NO_START_DATE: "not_judged"}
# Caseload chart colours per on-track status (the order the bars stack in).
CASELOAD_COLOURS = {"on_track": "#63BE7B", "behind": "#FFD966", "far_behind": "#F4B183", "overdue": "#E06666",
                    "complete": "#9DC3E6", "not_judged": "#D9D9D9"}

# Progress notes: the information-level findings that only say how far a learner has got (or
# that a row awaits the IQA's re-check). They go to their own sheet so that Issues lists what
# someone must act on. The codes are the rule modules' own.
PROGRESS_NOTE_CODES = frozenset(t.code for t in (
    progress_checks.NOT_MET, progress_checks.UNIT_INCOMPLETE, progress_checks.QUALIFICATION_INCOMPLETE,
    progress_checks.QUALIFICATION_COMPLETE, iqa_checks.AWAITING_RECHECK, iqa_checks.AGREED_NOT_MET))
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
SEVERITY_COLOURS = {"error": ("#FFC7CE", "#9C0006"), "warning": ("#FFEB9C", "#9C5700"),
                    "info": ("#DDEBF7", "#1F3864")}

DASHBOARD_TITLE = "Centre master"
DASHBOARD_FIGURES = ("Learners", "Complete", "In progress", "Not started", "Average % complete",
                     "Open conflicts", "Errors", "Warnings", "Files received", "Files quarantined",
                     "Last roll-up")
DASHBOARD_QUAL_HEADERS = (_COVER["qualification_number"], _COVER["qualification"], "Learners",
                          STATUS_NOT_STARTED, STATUS_IN_PROGRESS, STATUS_COMPLETE, "Average % complete")
DATE_FORMAT = WL.DATE_FORMAT
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
# Bumped when the Criteria rows render differently for the same data (the master cache's keys).
_CRITERIA_FORMAT = 1

# == data from the ledger =========================================================================

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def excel_serial(value: str | None, with_time: bool = False) -> float | None:
    """An ISO date or 'YYYY-MM-DD HH:MM:SS' as an Excel serial number (None when absent/bad)."""
    if not value:
        return None
    try:
        d = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    delta = d - _EXCEL_EPOCH
    serial = delta.days + delta.seconds / 86400
    return serial if with_time else float(delta.days)


@dataclass(slots=True)
class UnitProgress:
    """One unit of one learner: required criteria, how many are achieved, whether an IQA sampled it."""

    required: int
    achieved: int
    sampled: bool

    @property
    def progress(self) -> str:
        """Not started / In progress / Complete, as :func:`tracker.workbook.progress.unit_status` says."""
        return unit_status(self.required, self.achieved)

    @property
    def status(self) -> str:
        """The Matrix colour: :attr:`progress`, with a complete unit an IQA sampled shown as IQA sampled."""
        s = self.progress
        return STATUS_IQA_SAMPLED if s == STATUS_COMPLETE and self.sampled else s


@dataclass(slots=True)
class LearnerView:
    """A learner with everything the master shows about them, computed from the ledger."""

    learner: LG.LearnerRow
    qualification: Qualification | None
    criteria: dict[str, LG.Accepted]
    units: dict[int, UnitProgress] = field(default_factory=dict)
    required: dict[str, bool] = field(default_factory=dict)
    achieved: set[str] = field(default_factory=set)  # refs whose row is achieved (required or not)
    # The learner's pathway is unknown and the qualification has either/or criteria under their
    # reading: those criteria cannot be counted, so the qualification is not achieved.
    pathway_needed: bool = False

    @property
    def id(self) -> int:
        """The learner's ledger id."""
        return self.learner.id

    @property
    def criteria_required(self) -> int:
        """Required criteria over all units."""
        return sum(u.required for u in self.units.values())

    @property
    def criteria_met(self) -> int:
        """Required criteria achieved."""
        return sum(u.achieved for u in self.units.values())

    @property
    def percent(self) -> float:
        """Achieved / required (0..1)."""
        r = self.criteria_required
        return self.criteria_met / r if r else 0.0

    @property
    def status(self) -> str:
        """Complete when :func:`~tracker.workbook.progress.qualification_achieved`, else Not started
        (nothing achieved) or In progress."""
        if qualification_achieved((u.progress for u in self.units.values()), self.pathway_needed):
            return STATUS_COMPLETE
        return STATUS_NOT_STARTED if self.criteria_met == 0 else STATUS_IN_PROGRESS

    def units_complete(self) -> int:
        """Units with every required criterion achieved."""
        return sum(1 for u in self.units.values() if u.progress == STATUS_COMPLETE)

    def credits(self) -> int:
        """Credits of the complete units."""
        q = self.qualification
        if q is None:
            return 0
        return sum(u.credit for u in q.units
                   if (p := self.units.get(u.number)) is not None and p.progress == STATUS_COMPLETE)


_F = LG.ENTRY_FIELDS
_IDX = {f: i for i, f in enumerate(_F)}
_I_IQA_DECISION = _IDX["iqa_decision"]
_I_IQA_SAMPLED = _IDX["iqa_sampled"]


def achieved(values: LG.Values) -> bool:
    """True when a stored criterion row is achieved (:func:`tracker.workbook.progress.criterion_state`)."""
    return criterion_state(lambda key: values[_IDX[key]]).achieved


def _sampled(values: LG.Values) -> bool:
    return bool(values[_I_IQA_DECISION] is not None or values[_I_IQA_SAMPLED] == WL.YES)


class Qualifications:
    """Qualification look-ups by number, memoised; None for one no longer installed."""

    def __init__(self, extra_dirs: list[Path]) -> None:
        self.extra = extra_dirs
        self.cache: dict[str, Qualification | None] = {}

    def get(self, number: str) -> Qualification | None:
        """The installed qualification with this number, or None."""
        if number not in self.cache:
            from tracker.spec.catalogue import load_qualification

            try:
                self.cache[number] = load_qualification(number, self.extra)
            except TrackerError:
                self.cache[number] = None
        return self.cache[number]


def iter_learners(conn: sqlite3.Connection, quals: Qualifications) -> Iterator[LearnerView]:
    """Every learner in master order (qualification, name, ULN) with their progress computed.

    Two queries for the whole ledger: the learners, and every criterion row in the same order
    (streamed, grouped per learner here)."""
    rows = iter(LG.criteria_by_learner(conn))
    pending = next(rows, None)
    either_or: dict[tuple[str, str | None], bool] = {}  # (qualification, reading) -> has active groups
    # (qualification, unit, pathway, reading) -> required refs: a few dozen combinations, asked
    # for every unit of every learner.
    required: dict[tuple[str, int, str | None, str | None], frozenset[str]] = {}
    for learner in LG.learners(conn):
        crit: dict[str, LG.Accepted] = {}
        if pending is not None and pending[0] == learner.id:
            crit = pending[1]
            pending = next(rows, None)
        q = quals.get(learner.qualification_number)
        view = LearnerView(learner, q, crit)
        view.achieved = {ref for ref, acc in crit.items() if achieved(acc.values)}
        if q is not None:
            reading = learner.reading or None
            key = (q.id, reading)
            if key not in either_or:
                either_or[key] = any(q.active_groups(u, reading) for u in q.units)
            view.pathway_needed = not learner.pathway and either_or[key]
            for unit in q.units:
                rk = (q.id, unit.number, learner.pathway, reading)
                req_set = required.get(rk)
                if req_set is None:
                    req_set = required[rk] = frozenset(q.required(unit, learner.pathway, reading))
                met = 0
                sampled = False
                for c in unit.criteria:
                    view.required[c.ref] = c.ref in req_set
                    acc = crit.get(c.ref)
                    if acc is None:
                        continue
                    if c.ref in req_set and c.ref in view.achieved:
                        met += 1
                    if _sampled(acc.values):
                        sampled = True
                view.units[unit.number] = UnitProgress(len(req_set), met, sampled)
        yield view


def pathway_label(q: Qualification | None, pathway: str | None) -> str | None:
    """The pathway's label (Face-to-face) for its id, or the id."""
    if not pathway:
        return None
    if q is not None:
        for p in q.pathways:
            if p.id == pathway:
                return p.label
    return pathway


def _file_name(files: dict[str, LG.FileName], file: str | None) -> str | None:
    f = files.get(file or "")
    return f.name if f is not None else None


_ACTIVITY_FIELDS = tuple(_IDX[k] for k in ("evidence_date", "assessor_date", "iqa_date"))


def _iso_date(text: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None


def learner_activity(v: LearnerView) -> dt.date | None:
    """The learner's last assessment activity: the latest evidence, assessor or IQA date."""
    return last_activity(_iso_date(acc.values[i]) for acc in v.criteria.values() for i in _ACTIVITY_FIELDS)


def learner_on_track(v: LearnerView, today: dt.date, activity: dt.date | None = None) -> str:
    """:func:`tracker.centre.ontrack.on_track` for a learner, as of ``today``; ``activity``: their
    :func:`learner_activity` when the caller has it already."""
    d = v.learner
    return on_track(required=v.criteria_required, achieved=v.criteria_met, complete=v.status == STATUS_COMPLETE,
                    registration=_iso_date(d.registration_date), planned_end=_iso_date(d.planned_end_date),
                    last=learner_activity(v) if activity is None else activity, today=today)


def learner_record(v: LearnerView, files: dict[str, LG.FileName], counts: dict[int, LG.IssueCount],
                   conflicts: Counter[int], today: dt.date | None = None) -> dict[str, Any]:
    """The Learners-sheet row of a learner, keyed by column key (also used by the export).
    On track is judged as of ``today`` (the master: the day of the latest roll-up)."""
    d = v.learner
    q = v.qualification
    n = counts.get(v.id, LG.IssueCount(0, 0))
    activity = learner_activity(v)
    return {
        "uln": d.uln, "name": d.name, "qualification": q.title if q else "(not installed)",
        "qualification_number": d.qualification_number, "pathway": pathway_label(q, d.pathway),
        "assessor": d.assessor, "iqa": d.iqa, "tutor": d.tutor, "employer": d.employer,
        "registration_date": d.registration_date, "units_complete": v.units_complete(),
        "units_total": len(q.units) if q else 0, "credits": v.credits(), "credit_total": q.credit if q else 0,
        "criteria_met": v.criteria_met, "criteria_required": v.criteria_required, "percent": v.percent,
        "status": v.status, "last_activity": activity.isoformat() if activity else None,
        "planned_end_date": d.planned_end_date,
        "on_track": learner_on_track(v, today or dt.date.today(), activity), "last_return": d.last_return,
        "open_issues": n.errors + n.warnings,
        "errors": n.errors, "warnings": n.warnings,
        "conflicts": conflicts.get(v.id, 0), "last_file": _file_name(files, d.last_file) or "",
        "workbook_id": d.workbook_id,
    }


def caseload_assessor(assessor: str | None) -> str:
    """The assessor a learner counts under on the Caseload sheet: the first one on the cover."""
    names = split_names(assessor)
    return names[0] if names else NO_ASSESSOR


def caseload_records(learners: Iterable[tuple[str | None, str, str | None]],
                     awaiting: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The Caseload rows, by assessor (letter case ignored, the first spelling shown).

    ``learners``: (cover assessor, on-track status, last activity as ISO date) per learner;
    ``awaiting``: the assessor of each decision the sampling plan has for an IQA to sample (an
    assessor with decisions awaiting and no learner on their cover gets a row of their own)."""
    rows: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        key = name_key(name) if name != NO_ASSESSOR else ""
        if key not in rows:
            rows[key] = {"assessor": name, "learners": 0, **{k: 0 for k in CASELOAD_COLOURS},
                         "last_activity": None, "awaiting_iqa": 0}
        return rows[key]

    for assessor, status, activity in learners:
        r = row(caseload_assessor(assessor))
        r["learners"] += 1
        r[_CASELOAD_STATUS.get(status, "not_judged")] += 1
        if activity and (r["last_activity"] is None or activity > r["last_activity"]):
            r["last_activity"] = activity
    for name in awaiting:
        row(name or NO_ASSESSOR)["awaiting_iqa"] += 1
    return sorted(rows.values(), key=lambda r: (r["assessor"] == NO_ASSESSOR, str(r["assessor"]).casefold()))


_I_ASSESSOR_DATE = _IDX["assessor_date"]


def achieved_months(v: LearnerView) -> Counter[dt.date]:
    """The learner's required criteria achieved, by month (first day) of the assessor's date --
    the history of progress the ledger holds. Rows without a good date are left out (they cannot
    be placed in time)."""
    out: Counter[dt.date] = Counter()
    for ref in v.achieved:
        if v.required.get(ref):
            d = _iso_date(v.criteria[ref].values[_I_ASSESSOR_DATE])
            if d is not None:
                out[d.replace(day=1)] += 1
    return out


def cumulative_by_month(per_qual: dict[str, Counter[dt.date]]) -> tuple[list[dt.date], dict[str, list[int]]]:
    """Months from the first to the last with a decision, and per qualification the criteria
    achieved up to the end of each month (a running total)."""
    months = sorted({m for c in per_qual.values() for m in c})
    if not months:
        return [], {}
    span: list[dt.date] = []
    m = months[0]
    while m <= months[-1]:
        span.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    out: dict[str, list[int]] = {}
    for qn in sorted(per_qual):
        total, series = 0, []
        for m in span:
            total += per_qual[qn].get(m, 0)
            series.append(total)
        out[qn] = series
    return span, out


def criterion_records(v: LearnerView, files: dict[str, LG.FileName],
                      open_rows: set[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    """The Criteria-sheet rows of a learner (one per criterion of the qualification, spec order)."""
    d = v.learner
    q = v.qualification
    pathway = pathway_label(q, d.pathway)
    if q is not None:
        order = [(u.number, u.ref, c.ref, c.kind.label) for u in q.units for c in u.criteria]
    else:  # qualification no longer installed: what the ledger holds
        order = [(0, "", r, "") for r in sorted(v.criteria)]
    blank: LG.Values = (None,) * len(_F)
    for unit, unit_ref, ref, kind in order:
        acc = v.criteria.get(ref)
        vals = acc.values if acc is not None else blank
        src = files.get(acc.source_file) if acc is not None else None
        rec: dict[str, Any] = {
            "uln": d.uln, "name": d.name, "qualification_number": d.qualification_number,
            "pathway": pathway, "unit": unit or None, "unit_ref": unit_ref or None, "ref": ref, "kind": kind or None,
            "required": (YES if v.required.get(ref) else NO) if q is not None else None,
            # Progress counts required criteria only: one the learner need not take is never
            # "achieved", whatever its row says (without the qualification, the row decides).
            "achieved": YES if ref in v.achieved and (q is None or v.required.get(ref)) else NO,
            "source": src.name if src else None, "received": src.received if src else None,
            "conflict": CONFLICT_OPEN if (v.id, ref) in open_rows else None,
        }
        for i, f in enumerate(_F):
            rec[f] = vals[i]
        yield rec


def criteria_key(base: bytes, v: LearnerView, files: dict[str, LG.FileName], open_refs: Iterable[str],
                 spec_key: bytes, first_row: int) -> bytes:
    """The master cache's key of a learner's Criteria rows starting on row ``first_row``.

    It covers every input of :func:`criterion_records` -- keep the two in step: the learner's
    identity and pathway, the qualification's units and criteria (``spec_key``), which criteria
    are required and achieved, each row's accepted values and the name and date of the file they
    came from, and the learner's open conflicts -- and ``base``: what the rendering depends on
    (the columns, the workbook's styles, the versions of tracker and XlsxWriter)."""
    d = v.learner
    h = hashlib.blake2b(base, digest_size=20)
    h.update(repr((first_row, d.uln, d.name, d.qualification_number, d.pathway, spec_key,
                   sorted(v.achieved), [r for r, req in v.required.items() if req], sorted(open_refs))).encode())
    for ref, acc in v.criteria.items():
        src = files.get(acc.source_file)
        h.update(repr((ref, acc.values, src.name if src else None, src.received if src else None)).encode())
    return h.digest()


def spec_key(q: Qualification | None) -> bytes:
    """What a qualification contributes to its learners' Criteria rows: units, criteria, kinds
    and pathway labels, in order (a changed specification renders its learners again)."""
    if q is None:
        return b"-"
    return hashlib.blake2b(repr((q.id, q.version, [(u.number, u.ref, [(c.ref, c.kind.label) for c in u.criteria])
                                                   for u in q.units],
                                 [(p.id, p.label) for p in q.pathways])).encode(), digest_size=16).digest()


def open_conflict_rows(conn: sqlite3.Connection) -> tuple[set[tuple[int, str]], Counter[int]]:
    """(learner id, ref) of open conflicts, and open conflicts per learner."""
    rows = LG.open_conflict_refs(conn)
    return rows, Counter(lid for lid, _ in rows)


def _field_label(f: str) -> str:
    return WL.column_by_key(WL.CRITERION_COLUMNS, f).header


def _show_value(f: str, v: Any) -> str:
    if v is None:
        return "(blank)"
    if f.endswith("_date"):
        try:
            return dt.date.fromisoformat(str(v)).strftime("%d/%m/%Y")
        except ValueError:
            return str(v)
    return str(v)


def describe_fields(fields: list[str], values: dict[str, Any]) -> str:
    """'Decision: Met; Assessor date: 03/02/2025' for the contradicted fields of a conflict row."""
    return "; ".join(f"{_field_label(f)}: {_show_value(f, values.get(f))}" for f in fields)


def conflict_records(conn: sqlite3.Connection, files: dict[str, LG.FileName]) -> list[dict[str, Any]]:
    """The Conflicts-sheet rows: open ones first, then closed, each by id."""
    out = []
    for k in LG.conflicts(conn):
        flist = list(k.fields)
        a, r = json.loads(k.accepted), json.loads(k.returned)
        af, rf = files.get(k.accepted_file), files.get(k.returned_file)
        is_open = k.status == "open"
        out.append({
            "id": k.id, "status": CONFLICT_OPEN_LABEL if is_open else CONFLICT_CLOSED_LABEL,
            "name": k.name, "uln": k.uln, "qualification_number": k.qualification_number, "unit": k.unit,
            "ref": k.ref, "fields": ", ".join(_field_label(f) for f in flist),
            "accepted": describe_fields(flist, a), "accepted_file": af.name if af else "",
            "accepted_received": af.received if af else None,
            "returned": describe_fields(flist, r), "returned_file": rf.name if rf else "",
            "returned_received": rf.received if rf else None,
            "resolution": LG.RESOLUTION_WORDS.get(k.resolution or "", k.resolution), "closed_by": k.closed_by,
            "note": k.note,
            "resolve": (f"choose a Decision here and roll up, or: tracker resolve CENTRE --conflict {k.id} "
                        "--keep accepted|returned") if is_open else None,
            "decision": None,
        })
    return out


def _decision_dropdown(ws: Any, rows: list[dict[str, Any]]) -> None:
    """A Keep accepted / Keep returned dropdown in the Decision cell of every open conflict (open
    ones come first, so one range); the Note cell beside them takes the admin's reason."""
    n_open = sum(1 for r in rows if r["status"] == CONFLICT_OPEN_LABEL)
    if ws is None or not n_open:
        return
    col = [c.key for c in CONFLICT_COLUMNS].index("decision")
    ws.data_validation(1, col, n_open, col, {
        "validate": "list", "source": list(DECISION_CHOICES),
        "input_title": "Decision", "input_message": "Keep the accepted or the returned value; applied by the next roll-up",
        "error_title": "Decision", "error_message": f"Choose {KEEP_ACCEPTED} or {KEEP_RETURNED}."})


def _issue_record(fi: LG.FileIssue, files: dict[str, LG.FileName], source: str) -> dict[str, Any]:
    i = fi.issue
    return {"severity": i.severity, "code": i.code, "message": i.message, "name": fi.name, "uln": fi.uln,
            "qualification_number": fi.qualification_number, "file": _file_name(files, fi.file) or "",
            "sheet": i.sheet, "cell": i.cell, "unit": i.unit, "criterion": i.criterion, "source": source}


def issue_records(conn: sqlite3.Connection, files: dict[str, LG.FileName]) -> list[dict[str, Any]]:
    """The Issues-sheet rows, from the ledger: centre checks and register problems, quarantined
    files, then the issues of every learner's latest return (errors first, learners in order)."""
    out: list[dict[str, Any]] = []
    for ci in LG.centre_issues(conn):
        out.append({"severity": ci.severity, "code": ci.code, "message": ci.message, "name": None, "uln": None,
                    "qualification_number": None, "file": ci.file, "sheet": ci.sheet, "cell": ci.cell,
                    "unit": None, "criterion": None,
                    "source": ISSUE_SOURCE_REGISTER if ci.subject == REGISTER_PROBLEM_NOTE else ISSUE_SOURCE_CENTRE})
    out += [_issue_record(fi, files, ISSUE_SOURCE_QUARANTINE) for fi in LG.quarantined_issues(conn)]
    out += [_issue_record(fi, files, ISSUE_SOURCE_LATEST) for fi in LG.latest_return_issues(conn)]
    # By severity (errors, warnings, information); stable, so within one severity the centre's
    # findings come first, then quarantined files, then learners in master order.
    out.sort(key=lambda r: SEVERITY_RANK.get(r["severity"], 3))
    return out


def split_progress_notes(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Issues rows as (issues to act on, progress notes): see :data:`PROGRESS_NOTE_CODES`."""
    issues = [r for r in rows if r["code"] not in PROGRESS_NOTE_CODES]
    notes = [r for r in rows if r["code"] in PROGRESS_NOTE_CODES]
    return issues, notes


def log_records(conn: sqlite3.Connection, files: dict[str, LG.FileName]) -> list[dict[str, Any]]:
    """The Merge-log rows, newest run first."""
    return [{"run": e.run_id, "time": e.time, "kind": LG.RUN_KIND_WORDS.get(e.kind, e.kind),
             "file": _file_name(files, e.file),
             "hash": e.file[:12] if e.file else None, "name": e.name, "uln": e.uln, "criterion": e.criterion,
             "action": e.action, "detail": e.detail} for e in LG.merge_log(conn)]


def iqa_records(rows: list[CoverageRow]) -> list[dict[str, Any]]:
    """The IQA-sampling-sheet rows."""
    return [{"assessor": r.assessor, "trainee": YES if r.trainee else NO, "scope": r.scope,
             "qualification_number": r.qualification_number or None, "unit": r.unit, "method": r.method or None,
             "decisions": r.decisions, "sampled": r.sampled, "percent": r.fraction, "target": r.target,
             "flag": r.flag or None} for r in rows]


# == writing ======================================================================================


class _Writer:
    """Formats and typed cell writers for one master workbook."""

    def __init__(self, wb: Any) -> None:
        base = {"font_name": "Calibri", "font_size": 10, "valign": "top"}
        self.wb = wb
        self.header = wb.add_format({**base, "bold": True, "text_wrap": True, "valign": "vcenter"})
        self.date = wb.add_format({**base, "num_format": DATE_FORMAT, "align": "left"})
        self.datetime = wb.add_format({**base, "num_format": DATETIME_FORMAT, "align": "left"})
        self.percent = wb.add_format({**base, "num_format": "0%"})
        self.text = wb.add_format(base)
        # Bottom-aligned like the unformatted cells beside it (an unstyled cell sits at the bottom).
        self.wrap = wb.add_format({**base, "text_wrap": True, "valign": "bottom"})
        # Headers over numbers are right-aligned like the numbers (a left-aligned header over
        # right-aligned figures reads as the next column's).
        self.header_right = wb.add_format({**base, "bold": True, "text_wrap": True, "valign": "vcenter",
                                           "align": "right"})
        self.title = wb.add_format({**base, "bold": True, "font_size": 14, "font_color": "#1F3864"})
        self.note = wb.add_format({**base, "italic": True, "font_color": "#595959"})
        self.label = wb.add_format({**base, "bold": True, "font_color": "#1F3864"})
        self.big = wb.add_format({**base, "font_size": 12, "bold": True, "align": "left"})
        self.big_percent = wb.add_format({**base, "font_size": 12, "bold": True, "num_format": "0%", "align": "left"})
        self.big_datetime = wb.add_format({**base, "font_size": 12, "bold": True, "num_format": DATETIME_FORMAT,
                                           "align": "left"})
        # The Dashboard's figures under their headers: numbers right-aligned like their headers
        # (left-aligned headers over right-aligned numbers read as one column off).
        self.count_right = wb.add_format({**base, "align": "right"})
        self.percent_right = wb.add_format({**base, "num_format": "0%", "align": "right"})
        self.qual_header_right = wb.add_format({**base, "bold": True, "bg_color": "#1F3864", "font_color": "#FFFFFF",
                                                "text_wrap": True, "valign": "vcenter", "align": "right"})
        self.qual_header = wb.add_format({**base, "bold": True, "bg_color": "#1F3864", "font_color": "#FFFFFF",
                                          "text_wrap": True})
        self.rag = {s: wb.add_format({**base, "bg_color": bg, "font_color": fg, "align": "center",
                                      "border": 1, "border_color": "#FFFFFF"}) for s, (bg, fg) in RAG.items()}
        # Conditional formats take a fill and a font colour only (Excel's dxf), no font or size.
        self.severity = {s: wb.add_format({"bg_color": bg, "font_color": fg})
                         for s, (bg, fg) in SEVERITY_COLOURS.items()}
        self.block_title = wb.add_format({**base, "bold": True, "font_size": 12, "font_color": "#1F3864",
                                          "valign": "bottom"})
        self.unit_header = wb.add_format({**base, "bold": True, "text_wrap": True, "valign": "top",
                                          "bg_color": "#D9E1F2", "border": 1, "border_color": "#FFFFFF"})
        self.fixed_header = wb.add_format({**base, "bold": True, "text_wrap": True, "valign": "bottom",
                                           "bg_color": "#D9E1F2", "border": 1, "border_color": "#FFFFFF"})
        self.fixed_header_right = wb.add_format({**base, "bold": True, "text_wrap": True, "valign": "bottom",
                                                 "align": "right", "bg_color": "#D9E1F2", "border": 1,
                                                 "border_color": "#FFFFFF"})
        self.month = wb.add_format({**base, "num_format": "mmm yyyy", "align": "left"})

    def cell(self, ws: Any, r: int, c: int, col: MColumn, v: Any) -> None:
        """Write one value by its column kind; learner text always as a string, never a formula."""
        if v is None or v == "":
            return
        kind = col.kind
        if kind == "text":
            ws.write_string(r, c, str(v))
        elif kind == "wrap":
            ws.write_string(r, c, str(v), self.wrap)
        elif kind == "int" or kind == "percent":
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(r, c, v, self.percent if kind == "percent" else None)
            else:
                ws.write_string(r, c, str(v))
        elif kind == "status":
            ws.write_string(r, c, str(v), self.rag[str(v)])
        elif kind in ("date", "datetime"):
            serial = excel_serial(str(v), kind == "datetime")
            if serial is None:
                ws.write_string(r, c, str(v))
            else:
                ws.write_number(r, c, serial, self.date if kind == "date" else self.datetime)
        else:  # pragma: no cover - every column kind is listed above
            ws.write_string(r, c, str(v))


def _setup_columns(ws: Any, cols: tuple[MColumn, ...]) -> None:
    for i, c in enumerate(cols):
        ws.set_column(i, i, c.width)


def _print_setup(ws: Any, *, fit_width: bool = True, fit_page: bool = False, rows: int | None = None,
                 columns: int | None = None) -> None:
    """A4 landscape, the header row repeated on every page, fitted to the page width; with
    ``columns``, only the first ``columns`` columns of the header and ``rows`` data rows print."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&L&A&CPage &P of &N&R&D")
    if fit_page:
        ws.fit_to_pages(1, 1)
        return
    ws.repeat_rows(0)
    if fit_width:
        ws.fit_to_pages(1, 0)
    if columns is not None:
        ws.print_area(0, 0, max(rows or 0, 1), columns - 1)


def _stream(ws: Any, w: _Writer, cols: tuple[MColumn, ...]) -> RowStream:
    return RowStream(ws, cols, {"date": w.date, "datetime": w.datetime, "percent": w.percent, "wrap": w.wrap},
                     w.cell, excel_serial)


class _LongTable:
    """A table streamed over one sheet, or over numbered sheets when it passes ``row_limit``
    rows (Criteria, Criteria 2 ...: same columns, a table each; see xlsx_rows.split_sheets)."""

    def __init__(self, wb: Any, w: _Writer, sheet: str, cols: tuple[MColumn, ...], n_rows: int,
                 row_limit: int, freeze_cols: int = 0, fit_width: bool = True, first: Any = None) -> None:
        self.parts = split_sheets(sheet, TABLE_NAMES[sheet], n_rows, row_limit)
        self.streams: list[RowStream] = []
        self.sheets: list[Any] = []
        for k, part in enumerate(self.parts):
            # ``first``: a sheet added earlier, so that it keeps its place in the tab order
            # although its rows are known only later (the Caseload, after the learners).
            ws = first if k == 0 and first is not None else wb.add_worksheet(part.sheet)
            self.sheets.append(ws)
            _setup_columns(ws, cols)
            add_table(ws, part.table, [c.header for c in cols], w.header, part.rows,
                      [w.header_right if c.kind in ("int", "percent") else w.header for c in cols])
            if freeze_cols:
                ws.freeze_panes(1, freeze_cols)
            _print_setup(ws, fit_width=fit_width, rows=part.rows, columns=PRINTED_COLUMNS.get(sheet))
            self.streams.append(_stream(ws, w, cols))
        self.sheet = sheet
        self.k = 0
        self.r = 0
        self.total = 0

    def row(self, rec: dict[str, Any]) -> None:
        """Write the next data row (on the next sheet once this one is full)."""
        while self.r >= self.parts[self.k].rows and self.k + 1 < len(self.parts):
            self.k += 1
            self.r = 0
        self.r += 1
        self.total += 1
        self.streams[self.k].row(self.r, rec)

    def finish(self) -> None:
        """Close every sheet's stream."""
        for s in self.streams:
            s.finish()

    def shade_severity(self, w: _Writer, n_cols: int) -> None:
        """Colour each row by its severity (column A): conditional formats, so a row keeps its
        colour when the table is sorted or filtered in Excel."""
        for part, ws in zip(self.parts, self.sheets):
            for sev in SEVERITY_RANK:
                ws.conditional_format(1, 0, max(part.rows, 1), n_cols - 1, {
                    "type": "formula", "criteria": f'=$A2="{sev}"', "format": w.severity[sev]})

    def note(self) -> str | None:
        """What the Dashboard and the roll-up say when the table was split, else None."""
        if len(self.parts) == 1:
            return None
        names = ", ".join(p.sheet for p in self.parts)
        return (f"{self.sheet}: {self.total:,} rows, more than one Excel sheet holds, are split over "
                f"{len(self.parts)} sheets ({names}), each with the same columns.")


def _table_sheet(wb: Any, w: _Writer, sheet: str, cols: tuple[MColumn, ...], rows: list[dict[str, Any]],
                 row_limit: int, freeze_cols: int = 0, *, first: Any = None, shade: bool = False) -> str | None:
    table = _LongTable(wb, w, sheet, cols, len(rows), row_limit, freeze_cols, first=first)
    for rec in rows:
        table.row(rec)
    table.finish()
    if shade:
        table.shade_severity(w, len(cols))
    return table.note()


class _CriteriaRows:
    """The Criteria sheet's rows written as one compressed segment per learner and spliced into
    the archive after XlsxWriter closes it (tracker.centre.xlsx_splice); a learner whose rows
    the master cache holds at the same key is not rendered again. Used on the fast row path when
    the table fits one sheet; otherwise the rows are streamed as every other table's."""

    def __init__(self, table: _LongTable, cache: MasterCache, open_rows: set[tuple[int, str]]) -> None:
        self.table = table
        self.stream = table.streams[0]
        self.cache = cache
        self.segments: list[Segment] = []
        self.spec_keys: dict[str, bytes] = {}
        self.open_refs: dict[int, list[str]] = defaultdict(list)
        for lid, ref in open_rows:
            self.open_refs[lid].append(ref)
        self.open_rows = open_rows
        self.base = b""

    @staticmethod
    def usable(table: _LongTable) -> bool:
        """Whether the table can be written this way (one sheet, the fast row path)."""
        return len(table.parts) == 1 and table.streams[0].fast

    def learner(self, view: LearnerView, files: dict[str, LG.FileName]) -> None:
        """Add the rows of ``view`` (from the cache, or rendered and compressed)."""
        t = self.table
        stream = self.stream
        first = t.r + 1
        if not self.segments:
            stream.start(first)
            stream.ws.row_data_fh.write(ROW_MARKER.decode())
            import xlsxwriter

            import tracker

            self.base = repr((tracker.__version__, xlsxwriter.__version__, _CRITERIA_FORMAT,
                              [(c.key, c.kind, getattr(c, "width", None)) for c in stream.cols], sorted(stream.xf.items()))).encode()
        qn = view.learner.qualification_number
        sk = self.spec_keys.get(qn)
        if sk is None:
            sk = self.spec_keys[qn] = spec_key(view.qualification)
        key = criteria_key(self.base, view, files, self.open_refs.get(view.id, ()), sk, first)
        hit = self.cache.get(key)
        if hit is None:
            parts: list[str] = []
            r = first
            for crec in criterion_records(view, files, self.open_rows):
                parts.append(stream.render(r, crec))
                r += 1
            hit = (deflate_segment("".join(parts).encode()), r - first)
            self.cache.put(key, *hit)
        seg, n = hit
        self.segments.append(seg)
        t.r += n
        t.total += n
        if n:
            # Every Criteria row has its learner's ULN and reference, so none is left out.
            stream.last = first + n - 1

    def splice(self, path: Path) -> None:
        """Put the rows into the closed workbook at ``path``."""
        if self.segments:
            member = f"xl/worksheets/sheet{self.stream.ws.index + 1}.xml"
            splice_rows(path, member, self.segments)


MATRIX_TITLE = "Unit status per learner: one block per qualification, its own units as columns"
MATRIX_KEY = "Colour key"
MATRIX_UNIT_WIDTH = 13
_MATRIX_FIRST_BLOCK = 3  # rows 0-2: title, colour key, blank
# Learners a printed Matrix page holds under its block's header (A4 landscape at 85%, rows of
# 15 pt under a header up to 80 pt tall): a longer block continues on a new page under its title
# and header written again, since a sheet repeats one set of rows on every page, not one per block.
MATRIX_ROWS_PER_PAGE = 30
MATRIX_CONTINUED = "(continued)"


def matrix_unit_header(unit: Any) -> str:
    """A Matrix unit column's header: "Unit 3" and the unit's title on the lines below."""
    return f"{WL.unit_sheet_name(unit.number)}\n{unit.title}"


def matrix_statuses(view: LearnerView) -> list[str | None]:
    """The learner's Matrix cells: each unit's status in the qualification's unit order."""
    q = view.qualification
    if q is None:
        return []
    return [p.status if (p := view.units.get(u.number)) is not None else None for u in q.units]


class _Matrix:
    """The Matrix sheet, streamed a learner at a time (learners come in qualification order): a
    title and a colour key, then per qualification a block -- its title, a header row with that
    qualification's units (number and title), its learners -- so that Level 2 and Level 3
    learners are never under the same unit columns. Each block starts a new printed page."""

    def __init__(self, ws: Any, w: _Writer, quals: Qualifications, max_units: int, row_limit: int) -> None:
        self.ws, self.w, self.quals, self.limit = ws, w, quals, row_limit
        self.first_unit = len(MATRIX_FIXED)
        _setup_columns(ws, MATRIX_FIXED)
        ws.set_column(self.first_unit, self.first_unit + max(max_units, 4) - 1, MATRIX_UNIT_WIDTH)
        ws.write_string(0, 0, MATRIX_TITLE, w.title)
        ws.write_string(1, 0, MATRIX_KEY, w.label)
        for k, status in enumerate((STATUS_NOT_STARTED, STATUS_IN_PROGRESS, STATUS_COMPLETE, STATUS_IQA_SAMPLED)):
            ws.write_string(1, self.first_unit + k, status, w.rag[status])
        self.r = _MATRIX_FIRST_BLOCK
        # The learners' rows: the fixed columns, then a status column per unit position.
        self.cols = (*MATRIX_FIXED, *(MColumn(f"unit {k}", "", MATRIX_UNIT_WIDTH, "status")
                                      for k in range(max(max_units, 4))))
        self.stream = RowStream(ws, self.cols, {"percent": w.percent, **{f"status:{s}": f for s, f in w.rag.items()}},
                                w.cell, excel_serial)
        self.last_col = self.first_unit + 3  # the colour key's last cell
        self.qn: str | None = None
        self.in_block = 0  # learners under the current header
        self.written = 0
        self.full = False
        self.breaks: list[int] = []

    def _block(self, qn: str, q: Qualification | None, continued: bool = False) -> None:
        ws, w = self.ws, self.w
        if self.qn is not None:
            self.r += 1  # a blank row between blocks
            self.breaks.append(self.r)
        self.qn = qn
        self.in_block = 0
        ws.set_row(self.r, 22)
        title = f"{qn}  {q.title if q else '(qualification not installed)'}"
        ws.write_string(self.r, 0, f"{title} {MATRIX_CONTINUED}" if continued else title, w.block_title)
        self.r += 1
        for c, mc in enumerate(MATRIX_FIXED):
            ws.write_string(self.r, c, mc.header, w.fixed_header_right if mc.kind == "percent" else w.fixed_header)
        lines = 2
        for k, unit in enumerate(q.units if q else ()):
            ws.write_string(self.r, self.first_unit + k, matrix_unit_header(unit), w.unit_header)
            self.last_col = max(self.last_col, self.first_unit + k)
            # Bold Calibri 10 fits about 1.1 characters per unit of column width.
            lines = max(lines, 1 + len(textwrap.wrap(unit.title, int(MATRIX_UNIT_WIDTH * 1.1) - 1)))
        ws.set_row(self.r, 13.5 * lines + 3)  # the unit titles wrap in their cells
        self.r += 1

    def row(self, view: LearnerView, rec: dict[str, Any]) -> None:
        """Write the learner's row (a new block first when their qualification differs)."""
        if self.full:
            return
        qn = view.learner.qualification_number
        new = qn != self.qn or self.in_block >= MATRIX_ROWS_PER_PAGE
        need = 4 if new else 1
        if self.r + need > self.limit:  # one sheet's rows: the rest are on Learners (the note)
            self.full = True
            return
        if new:
            self._block(qn, view.qualification, continued=qn == self.qn)
            self.stream.resume()
        row = {c.key: rec.get(c.key) for c in MATRIX_FIXED}
        for k, st in enumerate(matrix_statuses(view)):
            row[self.cols[self.first_unit + k].key] = st
        self.stream.row(self.r, row)
        self.r += 1
        self.in_block += 1
        self.written += 1

    def finish(self) -> None:
        """Page setup: each block on new pages; up to 18 unit columns would print at about 5 pt
        fitted to one page width, so the Matrix prints at 85% across pages, ULN and name repeated."""
        ws = self.ws
        self.stream.finish(self.last_col)
        ws.freeze_panes(_MATRIX_FIRST_BLOCK, 2)
        _print_setup(ws, fit_width=False)
        ws.set_print_scale(85)
        ws.repeat_columns(0, 1)
        ws.print_across()
        if self.breaks:
            ws.set_h_pagebreaks(self.breaks)

    def note(self, n_learners: int) -> str | None:
        """What the Dashboard says when not every learner fits on the sheet."""
        if self.written >= n_learners:
            return None
        return (f"{MATRIX}: the first {self.written:,} learners of {n_learners:,} (one sheet's rows); "
                f"every learner is on {LEARNERS}.")


def build_master(conn: sqlite3.Connection, centre: Centre, path: str | Path, *,
                 register: Register | None = None, coverage: list[CoverageRow] | None = None,
                 on_progress: Callable[[], None] | None = None, row_limit: int = EXCEL_MAX_ROWS,
                 sampling_plan: SamplingPlan | None = None, cache: MasterCache | None = None) -> list[str]:
    """Write the master workbook for the ledger behind ``conn`` to ``path``; returns notes for
    the roll-up's output (a long table split over several sheets).

    ``row_limit``: rows a sheet may hold (Excel's 1,048,576; tests pass a small one). A long
    table past it is split over numbered sheets with the same columns -- never cut, and never
    written past the last row Excel accepts.

    Reads inside the caller's transaction (so a roll-up writes the master of the ledger it is
    about to commit). ``register`` and ``coverage`` (the IQA sampling table) are computed when not
    given. ``on_progress`` is called once while the long sheets are being written (the crash test
    pauses there). ``sampling_plan``: the plan the roll-up has just made and stored (it is the
    plan :func:`tracker.centre.plan.make_plan` gives again for the stored plan's day); made here
    when not given (a master rebuilt outside a roll-up).
    """
    import xlsxwriter

    if coverage is None and register is None and centre.register.is_file():
        from tracker.register import read_register

        try:
            register = read_register(centre.register)[0]
            register.policy = centre.policy
        except TrackerError:
            register = None
    out = Path(path)
    quals = Qualifications([centre.specs])
    files = LG.file_names(conn)
    counts = LG.issue_counts(conn)
    open_rows, open_per_learner = open_conflict_rows(conn)
    last_run = LG.latest_run(conn)
    n_learners = LG.learner_count(conn)
    qn_counts = LG.learners_per_qualification(conn)
    n_criteria_rows = 0
    max_units = 0
    for qn, n in qn_counts:
        q = quals.get(qn)
        if q is not None:
            n_criteria_rows += n * q.criterion_count()
            max_units = max(max_units, max(u.number for u in q.units))
        else:
            n_criteria_rows += LG.criteria_count(conn, qn)

    wb = xlsxwriter.Workbook(str(out), {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
        "default_date_format": DATE_FORMAT,
    })
    created = dt.datetime.fromisoformat(last_run.started) if last_run else dt.datetime(2000, 1, 1)
    # On track is judged as of the latest roll-up, so the master depends on the ledger alone.
    as_of = created.date() if last_run else dt.date.today()
    wb.set_properties({"title": f"Centre master - {centre.name}".strip(" -"), "author": "tracker",
                       "comments": "Rebuilt from the centre ledger by `tracker rollup`; edits are lost at "
                                   "the next roll-up.", "created": created})
    wb.set_custom_property("tracker_run", str(last_run.id if last_run else 0))
    w = _Writer(wb)
    dash = wb.add_worksheet(DASHBOARD)
    learners = _LongTable(wb, w, LEARNERS, LEARNER_COLUMNS, n_learners, row_limit, freeze_cols=2)
    caseload_ws = wb.add_worksheet(CASELOAD)  # its rows are known after the learners
    matrix_ws = wb.add_worksheet(MATRIX)
    criteria = _LongTable(wb, w, CRITERIA, CRITERIA_COLUMNS, n_criteria_rows, row_limit, freeze_cols=2)
    matrix = _Matrix(matrix_ws, w, quals, max_units, row_limit)
    segmented = _CriteriaRows(criteria, cache or MasterCache(None), open_rows) if _CriteriaRows.usable(criteria) else None

    # Streamed: one learner at a time into Learners, Matrix and Criteria.
    per_qual: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0.0])  # n, ns, ip, c, sum %
    status_counts: Counter[str] = Counter()
    apprentices = LG.apprenticeships(conn)
    gateway_rows: list[dict[str, Any]] = []
    load: list[tuple[str | None, str, str | None]] = []  # (assessor, on track, last activity) per learner
    months: dict[str, Counter[dt.date]] = defaultdict(Counter)
    for n, view in enumerate(iter_learners(conn, quals), start=1):
        rec = learner_record(view, files, counts, open_per_learner, as_of)
        learners.row(rec)
        matrix.row(view, rec)
        if segmented is not None:
            segmented.learner(view, files)
        else:
            for crec in criterion_records(view, files, open_rows):
                criteria.row(crec)
        if (app := apprentices.get(view.id)) is not None:
            gateway_rows.append(_gateway_record(view, app, register))
        if n == 1 and on_progress is not None:
            on_progress()
        s = rec["status"]
        status_counts[s] += 1
        pq = per_qual[rec["qualification_number"]]
        pq[0] += 1
        pq[1 + STATUSES.index(s)] += 1
        pq[4] += rec["percent"]
        load.append((view.learner.assessor, rec["on_track"], rec["last_activity"]))
        months[view.learner.qualification_number].update(achieved_months(view))
    learners.finish()
    criteria.finish()
    matrix.finish()
    notes = [learners.note(), criteria.note(), matrix.note(n_learners)]

    from tracker.centre.plan import make_plan, master_records, plan_date

    if sampling_plan is None:
        # The plan as of the roll-up that made it (the same day, so the same plan).
        sampling_plan = make_plan(conn, register, plan_date(conn), (str(centre.specs),))
    caseload = caseload_records(load, (i.assessor for i in sampling_plan.items))
    notes.append(_table_sheet(wb, w, CASELOAD, CASELOAD_COLUMNS, caseload, row_limit, freeze_cols=1,
                              first=caseload_ws))
    all_issue_rows = issue_records(conn, files)
    issue_rows, progress_rows = split_progress_notes(all_issue_rows)
    notes.append(_table_sheet(wb, w, ISSUES, ISSUE_COLUMNS, issue_rows, row_limit, shade=True))
    notes.append(_table_sheet(wb, w, PROGRESS_NOTES, ISSUE_COLUMNS, progress_rows, row_limit))
    conflict_rows = conflict_records(conn, files)
    notes.append(_table_sheet(wb, w, CONFLICTS, CONFLICT_COLUMNS, conflict_rows, row_limit, freeze_cols=1))
    _decision_dropdown(wb.get_worksheet_by_name(CONFLICTS), conflict_rows)
    if coverage is None:
        coverage = sampling_coverage(conn, register)
    notes.append(_table_sheet(wb, w, IQA_SAMPLING, IQA_COLUMNS, iqa_records(coverage), row_limit, freeze_cols=1))
    notes.append(_table_sheet(wb, w, SAMPLING_PLAN, PLAN_COLUMNS, master_records(sampling_plan), row_limit,
                              freeze_cols=2))
    notes.append(_table_sheet(wb, w, GATEWAY, GATEWAY_COLUMNS, gateway_rows, row_limit, freeze_cols=2))
    notes.append(_table_sheet(wb, w, MERGE_LOG, LOG_COLUMNS, log_records(conn, files), row_limit))

    said = [n for n in notes if n]
    figures = _figures(conn, n_learners, status_counts, per_qual, open_per_learner, last_run, all_issue_rows)
    _dashboard(dash, w, centre, quals, figures, per_qual, last_run, said, cumulative_by_month(months),
               len(caseload))
    dash.activate()
    wb.close()
    if segmented is not None:
        segmented.splice(out)
    if cache is not None:
        cache.save()
    return said


def _gateway_record(view: LearnerView, app: LG.Apprenticeship, register: Register | None) -> dict[str, Any]:
    """A Gateway-sheet row: the readiness rules are tracker.centre.gateway's; progress is the view's."""
    row = gateway.readiness(app, criteria_achieved=view.status == STATUS_COMPLETE,
                            unit_sampled={n: u.sampled for n, u in view.units.items()},
                            iqa_decisions=[a.values[_I_IQA_DECISION] for a in view.criteria.values()],
                            register=register)
    q = view.qualification
    return {**gateway.gateway_record(view.learner, q.title if q else "", row), "standard": app.standard,
            "start_date": app.start_date}


def _figures(conn: sqlite3.Connection, n_learners: int, status_counts: Counter[str],
             per_qual: dict[str, list[Any]], open_per_learner: Counter[int],
             last_run: LG.RunInfo | None, issue_rows: list[dict[str, Any]]) -> list[tuple[str, Any, str]]:
    total_pct = sum(v[4] for v in per_qual.values())
    # Counted from the rows the Issues and Progress notes sheets show (centre checks, quarantined
    # files, latest returns), so the Dashboard's figure is the number a reader counts there.
    severities = Counter(r["severity"] for r in issue_rows)
    errors, warnings = severities["error"], severities["warning"]
    received, quarantined = LG.file_counts(conn)
    values: list[tuple[Any, str]] = [
        (n_learners, "int"), (status_counts[STATUS_COMPLETE], "int"), (status_counts[STATUS_IN_PROGRESS], "int"),
        (status_counts[STATUS_NOT_STARTED], "int"), (total_pct / n_learners if n_learners else 0.0, "percent"),
        (sum(open_per_learner.values()), "int"), (errors, "int"), (warnings, "int"), (received, "int"),
        (quarantined, "int"), (last_run.started if last_run else None, "datetime"),
    ]
    return [(label, v, kind) for label, (v, kind) in zip(DASHBOARD_FIGURES, values)]


_MONTH_COL = 2  # the month table's first figures column (column B is the wide title column)


def _dashboard(ws: Any, w: _Writer, centre: Centre, quals: Qualifications, figures: list[tuple[str, Any, str]],
               per_qual: dict[str, list[Any]], last_run: LG.RunInfo | None, notes: list[str],
               months: tuple[list[dt.date], dict[str, list[int]]], n_caseload: int) -> None:
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 56)
    ws.set_column(2, 6, 12)
    # Fitted to the page width only: the charts and the month table run on to a second page
    # rather than shrinking everything onto one.
    _print_setup(ws)
    who = " ".join(p for p in (centre.name, f"({centre.number})" if centre.number else "") if p)
    ws.write_string(0, 0, f"{DASHBOARD_TITLE}{' - ' + who if who else ''}", w.title)
    run_text = f"run {last_run.id} on {last_run.started}" if last_run else "no roll-up yet"
    ws.write_string(1, 0, f"Rebuilt from the centre ledger after {run_text}. Every figure is computed from the "
                          "accepted values; edits made here are lost at the next roll-up.", w.note)
    r = 3
    for note in notes:  # long tables split over several sheets (Excel's row limit)
        ws.write_string(r - 1, 0, note, w.note)
        r += 1
    for label, value, kind in figures:
        ws.write_string(r, 0, label, w.label)
        if value is None:
            pass
        elif kind == "percent":
            ws.write_number(r, 1, value, w.big_percent)
        elif kind == "datetime":
            serial = excel_serial(str(value), True)
            if serial is not None:
                ws.write_number(r, 1, serial, w.big_datetime)
        else:
            ws.write_number(r, 1, value, w.big)
        r += 1
    r += 1
    head_row = r
    for i, h in enumerate(DASHBOARD_QUAL_HEADERS):
        ws.write_string(r, i, h, w.qual_header if i < 2 else w.qual_header_right)
    ws.set_row(r, 30)
    for qn in sorted(per_qual):
        r += 1
        n, ns, ip, c, pct = per_qual[qn]
        q = quals.get(qn)
        ws.write_string(r, 0, qn)
        ws.write_string(r, 1, q.title if q else "(not installed)")
        for i, v in enumerate((n, ns, ip, c), start=2):
            ws.write_number(r, i, v, w.count_right)
        ws.write_number(r, 6, pct / n if n else 0.0, w.percent_right)
    last_row = r
    if last_row == head_row:
        return
    # Charts below the tables: status per qualification and progress over time side by side,
    # then the caseload; the month table they draw from comes last. Row heights: 20 px each.
    span, series = months
    top = last_row + 2
    height = max(260, 150 + 45 * (last_row - head_row))
    chart = w.wb.add_chart({"type": "bar", "subtype": "stacked"})
    for i, status in enumerate(STATUSES, start=3):
        bg, _fg = RAG[status]
        chart.add_series({
            "name": [DASHBOARD, head_row, i],
            "categories": [DASHBOARD, head_row + 1, 0, last_row, 0],
            "values": [DASHBOARD, head_row + 1, i, last_row, i],
            "fill": {"color": bg}, "border": {"color": "#808080"},
            "data_labels": {"value": True, "num_format": "0;-0;;"},  # a zero segment unlabelled
        })
    chart.set_title({"name": "Learners by status, per qualification", "name_font": {"size": 11}})
    chart.set_x_axis({"name": "Learners", "major_gridlines": {"visible": True}})
    chart.set_y_axis({"reverse": True})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 575, "height": height})
    ws.insert_chart(top, 0, chart, {"x_offset": 2, "y_offset": 4})
    chart_rows = height // 20 + 2
    caseload_top = top + chart_rows
    case_height = 110 + 26 * max(n_caseload, 1)
    table_top = caseload_top + (case_height // 20 + 2 if n_caseload else 0)
    if span:
        line = w.wb.add_chart({"type": "line"})
        for k, qn in enumerate(series, start=_MONTH_COL):
            line.add_series({"name": [DASHBOARD, table_top + 1, k],
                             "categories": [DASHBOARD, table_top + 2, 0, table_top + 1 + len(span), 0],
                             "values": [DASHBOARD, table_top + 2, k, table_top + 1 + len(span), k],
                             "marker": {"type": "circle", "size": 5}})
        line.set_title({"name": "Criteria achieved over time", "name_font": {"size": 11}})
        line.set_x_axis({"date_axis": True, "num_format": "mmm yy", "major_unit": 1 if len(span) <= 8 else 3,
                         "major_unit_type": "months"})
        line.set_y_axis({"name": "Required criteria achieved", "major_gridlines": {"visible": True}})
        line.set_legend({"position": "bottom"})
        line.set_size({"width": 430, "height": height})
        ws.insert_chart(top, 2, line, {"x_offset": 8, "y_offset": 4})
    if n_caseload:
        bars = w.wb.add_chart({"type": "bar", "subtype": "stacked"})
        keys = [c.key for c in CASELOAD_COLUMNS]
        for key, colour in CASELOAD_COLOURS.items():
            col = keys.index(key)
            bars.add_series({"name": [CASELOAD, 0, col], "categories": [CASELOAD, 1, 0, n_caseload, 0],
                             "values": [CASELOAD, 1, col, n_caseload, col],
                             "fill": {"color": colour}, "border": {"color": "#808080"}})
        bars.set_title({"name": "Caseload per assessor, by on-track status", "name_font": {"size": 11}})
        bars.set_x_axis({"name": "Learners", "major_gridlines": {"visible": True}})
        bars.set_y_axis({"reverse": True})
        bars.set_legend({"position": "right"})
        bars.set_size({"width": 1010, "height": case_height})
        ws.insert_chart(caseload_top, 0, bars, {"x_offset": 2, "y_offset": 4})
    ws.set_h_pagebreaks([caseload_top])  # the caseload and the month table on page 2
    r = table_top
    ws.write_string(r, 0, "Required criteria achieved, running total by month of the assessor's date", w.label)
    if not span:
        ws.write_string(r + 1, 0, "No dated decisions yet.", w.note)
        return
    r += 1
    ws.write_string(r, 0, "Month", w.qual_header)
    ws.write_blank(r, 1, None, w.qual_header)
    for k, qn in enumerate(series, start=_MONTH_COL):
        ws.write_string(r, k, qn, w.qual_header_right)
    for m_i, month in enumerate(span):
        r += 1
        ws.write_number(r, 0, excel_serial(month.isoformat()) or 0.0, w.month)
        for k, qn in enumerate(series, start=_MONTH_COL):
            ws.write_number(r, k, series[qn][m_i], w.count_right)
