"""The learner workbook's layout, described once.

The writer, the reader, the checks (for issue locations) and the add-in all take sheet names,
header texts, columns, dropdown lists and cell positions from here; no column letter is typed
anywhere else. The reader does not rely on the positions below: it finds the criterion table by
its header texts and the cover values by their labels, so users may add columns, move columns or
re-order rows. Positions here are where the *writer* puts things.

Workbook contract (the README's "The learner workbook" section describes it for users):

* ``Cover`` -- labels in column A, values in column B.
* ``Summary`` -- per unit: criteria required / met, % complete, status, as live formulas.
* ``Unit N`` (one per unit) -- a header block (unit number, reference, level, GLH, credit,
  learning outcomes, guidance), then the criterion table with the 14 contract headers plus a
  ``Required`` column (a formula on the cover's pathway: "Yes" / "Not required").
* ``Evidence`` -- the evidence log.
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
# Methods the specifications list as typical per criterion kind; any other method is allowed
# when valid and reliable, so an atypical method is a warning, never an error.
TYPICAL_METHODS = {
    "K": ("Worksheet", "Oral questioning", "Written questioning", "Assignment or project",
          "Candidate or peer report", "Professional discussion", "Recognition of prior learning"),
    "S": ("Observation", "Witness testimony", "Professional discussion", "Candidate or peer report",
          "Product evidence", "Recognition of prior learning"),
    "B": ("Observation", "Witness testimony", "Professional discussion", "Candidate or peer report",
          "Recognition of prior learning"),
}
REQUIRED_YES = "Yes"
REQUIRED_NO = "Not required"
PATHWAY_UNSET = "Choose pathway"

ValueKind = Literal["text", "date", "choice", "refs", "int"]


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
    # Template version 2 (added at the end; older workbooks have no such label):
    ("planned_end_date", "Planned end date"),
)
# Cover fields added in template version 2: optional for reading, so a version-1 workbook still
# reads and validates without new issues.
COVER_SINCE_V2 = frozenset({"planned_end_date"})
COVER_LABELS = {key: label for key, label in COVER_FIELDS}
# Cover values the writer locks (they come from the specification).
COVER_LOCKED = frozenset({"qualification", "qualification_number"})
COVER_DATE_KEYS = frozenset({"registration_date", "planned_end_date"})
COVER_TITLE_ROW = 0  # 0-based rows and columns below, as xlsxwriter takes them
COVER_FIRST_ROW = 2
COVER_LABEL_COL = 0
COVER_VALUE_COL = 1


def cover_row(key: str) -> int:
    """0-based row of a cover field as written."""
    return COVER_FIRST_ROW + [k for k, _ in COVER_FIELDS].index(key)


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
             "template_version", "pathway", "reading", "created", "generator")

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
