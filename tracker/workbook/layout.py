"""The learner workbook's layout, described once.

The writer, the reader, the checks (for issue locations) and the add-in all take sheet names,
header texts, columns, dropdown lists and cell positions from here; no column letter is typed
anywhere else. The reader does not rely on the positions below: it finds the criterion table by
its header texts and the cover values by their labels, so users may add columns, move columns or
re-order rows. Positions here are where the *writer* puts things. A header the layout does not
know, found in a table's header row, is a column an assessor added: the reader keeps its values
with each row, and the writer puts such columns right of the table (after ``Required``, or after
``Location`` in the evidence log), in the order given.

Workbook contract (the README's "The learner workbook" section describes it for users):

* ``Cover`` -- labels in column A, values in column B.
* ``Summary`` -- per unit: criteria required / met, % complete, status, as live formulas.
* ``Unit N`` (one per unit) -- a header block (unit number, reference, level, GLH, credit,
  learning outcomes, guidance), then the criterion table with the 14 contract headers (16 since template version 2: Countersigned by,
  Countersign date) plus a
  ``Required`` column (a formula on the cover's pathway: "Yes" / "Not required").
* ``Evidence`` -- the evidence log.
* ``Off-the-job`` -- (apprentices only, template version 2) the off-the-job training log.
* ``_tracker`` -- very hidden key/value metadata (workbook id, spec id/number/version/hash,
  template version, pathway, reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

TEMPLATE_VERSION = "2"

COVER = "Cover"
SUMMARY = "Summary"
EVIDENCE = "Evidence"
META = "_tracker"
VALIDATION = "Validation"
# The centre master's sheets, so that lower layers (the rules engine) can tell a master given to
# `tracker validate` from a learner workbook without importing tracker.centre. They are the same
# names as tracker.centre.master.SHEETS (a test keeps the two equal).
MASTER_SHEETS = ("Dashboard", "Learners", "Caseload", "Matrix", "Criteria", "Issues", "Progress notes", "Conflicts",
                 "IQA sampling", "Sampling plan", "Gateway", "Merge log")


def unit_sheet_name(number: int) -> str:
    """The sheet name the writer gives unit ``number``."""
    return f"Unit {number}"


# Sheets that xlwings' VBA acts on when its RunPython is called on a workbook: a sheet named
# "<project>.conf" ("xlwings.conf" for xlwings' own add-in, "_xlwings.conf" in its templates) holds
# settings read *before* the user's own config file -- the Python interpreter to start, its
# import path, conda --, and a sheet whose name ends in ".py" is Python code xlwings runs (its
# embedded-code feature). A learner workbook needs neither; the Tracker add-in never reads them
# (README, Security), and the checks report them. Excel compares sheet names ignoring case.
XLWINGS_SETTINGS_SUFFIX = ".conf"
XLWINGS_CODE_SUFFIX = ".py"


def xlwings_sheet_kind(name: str) -> str | None:
    """``"settings"`` or ``"code"`` for a sheet xlwings would act on (see above), else None."""
    folded = name.casefold()
    if folded.endswith(XLWINGS_SETTINGS_SUFFIX):
        return "settings"
    if folded.endswith(XLWINGS_CODE_SUFFIX):
        return "code"
    return None


# -- dropdown lists (the reader accepts them in any letter case) ---------------------------------

MET = "Met"
NOT_YET_MET = "Not yet met"
DECISIONS = (MET, NOT_YET_MET)
YES, NO = "Yes", "No"
YES_NO = (YES, NO)
AGREED, REFERRED_BACK = "Agreed", "Referred back"
IQA_DECISIONS = (AGREED, REFERRED_BACK)
METHODS = (
    "Observation",
    "Witness testimony",
    "Professional discussion",
    "Oral questioning",
    "Written questioning",
    "Worksheet",
    "Assignment or project",
    "Candidate or peer report",
    "Product evidence",
    "Recognition of prior learning",
)
RPL_METHOD = "Recognition of prior learning"
# The methods typical of each criterion kind are qualification data (Qualification.typical_methods),
# not layout: each specification lists its own.
REQUIRED_YES = "Yes"
REQUIRED_NO = "Not required"
PATHWAY_UNSET = "Choose pathway"

ValueKind = Literal["text", "date", "choice", "refs", "int", "hours"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table: model key, exact header text, and how it is written and read."""

    key: str
    header: str
    width: float
    kind: ValueKind = "text"
    choices: tuple[str, ...] = ()
    # A strict dropdown refuses other values in Excel; a loose one only warns (Method).
    strict: bool = True
    input: bool = True
    wrap: bool = False
    # The template version that added the column: a workbook made before it may lack it, and
    # the structure check must not report it missing there.
    since: int = 1


CRITERION_COLUMNS: tuple[Column, ...] = (
    Column("ref", "Ref", 13, input=False),
    Column("text", "Assessment criterion", 42, input=False, wrap=True),
    Column("kind", "Type", 9, input=False),
    Column("evidence_refs", "Evidence refs", 11, kind="refs", wrap=True),
    Column("method", "Method", 15, kind="choice", choices=METHODS, strict=False, wrap=True),
    Column("evidence_date", "Evidence date", 10.5, kind="date"),
    Column("decision", "Decision", 10, kind="choice", choices=DECISIONS, wrap=True),
    Column("assessor", "Assessor", 13, wrap=True),
    Column("assessor_date", "Assessor date", 10.5, kind="date"),
    Column("iqa_sampled", "IQA sampled", 8, kind="choice", choices=YES_NO),
    Column("iqa", "IQA", 13, wrap=True),
    Column("iqa_date", "IQA date", 10.5, kind="date"),
    Column("iqa_decision", "IQA decision", 10, kind="choice", choices=IQA_DECISIONS, wrap=True),
    Column("comments", "Comments", 22, wrap=True),
    # Version 2: a trainee assessor's (or trainee IQA's) decision is countersigned here.
    Column("countersigned_by", "Countersigned by", 13, wrap=True, since=2),
    Column("countersign_date", "Countersign date", 10.5, kind="date", since=2),
)
# Written after the contract columns; display only (the reader never trusts it: required-ness
# is computed from the spec and the cover's pathway).
REQUIRED_COLUMN = Column("required", "Required", 10, input=False)
UNIT_TABLE_COLUMNS: tuple[Column, ...] = (*CRITERION_COLUMNS, REQUIRED_COLUMN)

# The columns a person fills in (the rest come from the specification).
ENTRY_KEYS: tuple[str, ...] = tuple(c.key for c in CRITERION_COLUMNS if c.input)

EVIDENCE_COLUMNS: tuple[Column, ...] = (
    Column("ref", "Evidence ref", 14),
    Column("description", "Description", 50, wrap=True),
    Column("method", "Method", 22, kind="choice", choices=METHODS, strict=False),
    Column("date", "Date", 12, kind="date"),
    Column("location", "Location", 50, wrap=True),
)


def column_by_key(columns: tuple[Column, ...], key: str) -> Column:
    """The column with ``key``; KeyError if there is none."""
    for c in columns:
        if c.key == key:
            return c
    raise KeyError(key)


# -- cover sheet ---------------------------------------------------------------------------------

# Label texts exactly as the contract gives them, with the model key of each.
COVER_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "Learner name"),
    ("uln", "ULN"),
    ("qualification", "Qualification"),
    ("qualification_number", "Qualification number"),
    ("pathway", "Pathway"),
    ("registration_date", "Registration date"),
    ("assessor", "Assessor"),
    ("iqa", "IQA"),
    ("tutor", "Tutor"),
    ("employer", "Employer"),
    # Template version 2 (added at the end; a version-1 workbook lacks them and still reads).
    ("planned_end_date", "Planned end date"),
    # Apprentices only: written when the learner has an apprenticeship standard.
    ("standard", "Apprenticeship standard"),
    ("start_date", "Start date"),
    ("weekly_hours", "Contracted weekly hours"),
    ("planned_otj_hours", "Planned OTJ hours"),
    ("gateway_signoff_date", "Employer gateway sign-off"),
    ("english_maths", "English and maths"),
)
COVER_LABELS = {key: label for key, label in COVER_FIELDS}
# Cover fields a version-1 workbook does not have: never reported missing by the structure check.
COVER_SINCE_V2 = frozenset({"planned_end_date", "standard", "start_date", "weekly_hours", "planned_otj_hours",
                            "gateway_signoff_date", "english_maths"})
# Cover fields written only for an apprentice (a learner with an apprenticeship standard).
COVER_APPRENTICE = frozenset({"standard", "start_date", "weekly_hours", "planned_otj_hours",
                              "gateway_signoff_date", "english_maths"})
COVER_NUMBER_KEYS = frozenset({"weekly_hours", "planned_otj_hours"})
# English and maths status on the cover (a dropdown; the centre's policy decides which statuses
# count for the gateway, see tracker.centre.gateway). Since February 2025 English and maths are
# no longer mandatory for apprentices aged 19 or over, so "Not required" is a status of its own.
EM_ACHIEVED = "Achieved"
EM_EXEMPT = "Exempt (prior attainment)"
EM_NOT_REQUIRED = "Not required (aged 19+)"
EM_IN_PROGRESS = "In progress"
EM_NOT_STARTED = "Not started"
ENGLISH_MATHS = (EM_ACHIEVED, EM_EXEMPT, EM_NOT_REQUIRED, EM_IN_PROGRESS, EM_NOT_STARTED)
# Cover values the writer locks (they come from the specification).
COVER_LOCKED = frozenset({"qualification", "qualification_number"})
COVER_DATE_KEYS = frozenset({"registration_date", "planned_end_date", "start_date", "gateway_signoff_date"})
COVER_TITLE_ROW = 0  # 0-based rows and columns below, as xlsxwriter takes them
COVER_FIRST_ROW = 2
COVER_LABEL_COL = 0
COVER_VALUE_COL = 1


def cover_row(key: str) -> int:
    """0-based row of a cover field as written."""
    return COVER_FIRST_ROW + [k for k, _ in COVER_FIELDS].index(key)


# -- off-the-job training log (apprentices only) --------------------------------------------------

OTJ = "Off-the-job"
# Kinds of off-the-job activity, after the examples the DfE funding rules give (teaching of theory,
# practical training, learning support, writing assignments). A loose dropdown: other activities
# are allowed if they are off-the-job training, so the list only guides.
OTJ_TYPES = (
    "Teaching of theory",
    "Practical training",
    "Shadowing or mentoring",
    "Online learning",
    "Simulation or role play",
    "Industry visit",
    "Writing assignments",
    "Learning support",
    "Other",
)
OTJ_COLUMNS: tuple[Column, ...] = (
    Column("date", "Date", 11, kind="date", since=2),
    Column("activity", "Activity", 40, wrap=True, since=2),
    Column("otj_type", "Type of activity", 20, kind="choice", choices=OTJ_TYPES, strict=False, wrap=True,
           since=2),
    Column("hours", "Hours", 8, kind="hours", since=2),
    # "Evidence refs", not "Evidence ref": the reader finds the evidence log by an
    # "Evidence ref" header, and this sheet must never be mistaken for it.
    Column("evidence_refs", "Evidence refs", 12, kind="refs", wrap=True, since=2),
    Column("learner_confirmed", "Learner confirmed", 10, kind="choice", choices=YES_NO, since=2),
    Column("confirmed_by", "Confirmed by (provider or employer)", 22, wrap=True, since=2),
)
# The headers that make a sheet the OTJ log (the reader's test, before the evidence log's).
OTJ_KEY_HEADERS = ("Activity", "Hours")
OTJ_HEADER_ROW = 2
OTJ_BLANK_ROWS = 200
# Hours typed per day above this are implausible (a policy limit of the package, not a DfE
# figure: a full working day plus a little); a centre can only lower its hours, never raise them.
OTJ_MAX_HOURS_PER_DAY = 10.0

# -- unit sheet header block ---------------------------------------------------------------------

UNIT_HEADER_FIELDS: tuple[tuple[str, str], ...] = (
    ("qualification", "Qualification"),
    ("number", "Unit number"),
    ("ref", "Unit reference"),
    ("level", "Level"),
    ("glh", "GLH"),
    ("credit", "Credit"),
    ("outcomes", "Learning outcomes"),
    ("guidance", "Guidance"),
)
UNIT_HEADER_LABELS = {key: label for key, label in UNIT_HEADER_FIELDS}
UNIT_TITLE_ROW = 0
UNIT_HEADER_FIRST_ROW = 1
UNIT_TABLE_HEADER_ROW = UNIT_HEADER_FIRST_ROW + len(UNIT_HEADER_FIELDS) + 1
UNIT_FIRST_DATA_ROW = UNIT_TABLE_HEADER_ROW + 1


def unit_header_row(key: str) -> int:
    """0-based row of a unit header-block field as written."""
    return UNIT_HEADER_FIRST_ROW + [k for k, _ in UNIT_HEADER_FIELDS].index(key)


# -- summary sheet -------------------------------------------------------------------------------

SUMMARY_HEADERS = ("Unit", "Unit reference", "Title", "Credit", "Criteria required",
                   "Criteria met", "% complete", "Status")
SUMMARY_WIDTHS = (8, 14, 46, 8, 11, 11, 11, 14)
SUMMARY_HEADER_ROW = 2
# The Summary's off-the-job lines (apprentices only), below the qualification line.
SUMMARY_OTJ_TOTAL = "Off-the-job hours logged"
SUMMARY_OTJ_PLANNED = "Planned OTJ hours"
STATUS_NOT_STARTED = "Not started"
STATUS_IN_PROGRESS = "In progress"
STATUS_COMPLETE = "Complete"
# The Summary sheet's qualification line when every unit is complete (and the pathway known).
QUALIFICATION_ACHIEVED = "All units complete"

# -- evidence sheet ------------------------------------------------------------------------------

EVIDENCE_HEADER_ROW = 2
EVIDENCE_BLANK_ROWS = 150

# -- hidden metadata -----------------------------------------------------------------------------

META_KEYS = ("workbook_id", "spec_id", "spec_number", "spec_version", "spec_hash",
             "template_version", "pathway", "reading", "created", "generator",
             # Added at the end (issue 11): the ledger revision a re-issued workbook came from
             # ("ledger id/base id/revision/fingerprint"); blank in a workbook from `tracker new`.
             "base")

# -- limits shared by the writer's dropdowns and the reader ---------------------------------------

DATE_MIN_YEAR = 2000
DATE_MAX_YEAR = 2100
DATE_FORMAT = "dd/mm/yyyy"


@lru_cache(maxsize=1024)
def col_letter(index: int) -> str:
    """Spreadsheet column letters of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def cell_ref(row: int, col: int) -> str:
    """A1-style reference of a 0-based (row, col)."""
    return f"{col_letter(col)}{row + 1}"


def quote_sheet(name: str) -> str:
    """A sheet name as a formula reference needs it ('Unit 1'!A1): quotes doubled inside."""
    return "'" + name.replace("'", "''") + "'"
