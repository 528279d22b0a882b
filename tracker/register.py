"""The centre register: staff (roles, assessor / IQA qualifications, countersigner) and declared
interests, kept as an Excel workbook that admins edit.

Layout (described once, here):

* sheet ``Staff``, header row 1: Name, Roles (one or more of assessor / IQA / lead IQA / tutor,
  comma-separated), Assessor qualification, Assessor status (Held / Working towards / None), IQA
  qualification, IQA status (Held / Working towards / None), Countersigner (for a trainee
  assessor: the qualified assessor who countersigns their decisions);
* sheet ``Interests``, header row 1: Staff member, Learner ULN or name, Nature of interest, Date
  declared;
* sheet ``Apprenticeship standards`` (optional; only centres delivering apprenticeships need it),
  header row 1: Standard, Minimum OTJ hours, For starts from, Source -- the minimum off-the-job
  hours the Department for Education publishes for each standard the centre delivers, as the
  centre recorded it (the package never ships such a figure; docs/apprenticeships.md).

Columns are found by their header text (any letter case; columns may be moved or added), dropdown
values are accepted in any letter case, and names are compared with
:func:`tracker.workbook.model.name_key`. :func:`new_register` writes a blank register with
dropdowns; :func:`read_register` returns the :class:`Register` built from the good rows and an
:class:`~tracker.issues.Issue` (with sheet and cell) for every bad one: a missing name, an
unknown role or status, a duplicate staff member, a countersigner who is not on the staff list ...
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import UnreadableWorkbook
from tracker.files import replaced_atomically
from tracker.issues import Issue, Severity, issue_type
from tracker.policy import COUNTERSIGN_ANY as COUNTERSIGN_ANY
from tracker.policy import COUNTERSIGN_NAMED as COUNTERSIGN_NAMED
from tracker.policy import COUNTERSIGN_POLICIES as COUNTERSIGN_POLICIES
from tracker.policy import Policy as Policy
from tracker.workbook.layout import cell_ref, col_letter
from tracker.workbook.model import name_key, split_names

# -- layout ----------------------------------------------------------------------------------------

STAFF_SHEET = "Staff"
INTERESTS_SHEET = "Interests"
STANDARDS_SHEET = "Apprenticeship standards"

ROLE_ASSESSOR = "assessor"
ROLE_IQA = "IQA"
ROLE_LEAD_IQA = "lead IQA"
ROLE_TUTOR = "tutor"
ROLES = (ROLE_ASSESSOR, ROLE_IQA, ROLE_LEAD_IQA, ROLE_TUTOR)
IQA_ROLES = frozenset({ROLE_IQA, ROLE_LEAD_IQA})
# The Roles dropdown offers single roles and the usual combinations; any comma-separated list of
# roles may be typed (the dropdown only informs).
ROLE_CHOICES = (*ROLES, "assessor, tutor", "assessor, IQA", "IQA, lead IQA", "assessor, IQA, lead IQA")

STATUS_HELD = "Held"
STATUS_WORKING = "Working towards"
STATUS_NONE = "None"
STATUSES = (STATUS_HELD, STATUS_WORKING, STATUS_NONE)

HEADER_ROW = 0  # 0-based: headers in spreadsheet row 1, data from row 2
MAX_ROWS = 500  # rows covered by the blank register's dropdowns


@dataclass(frozen=True, slots=True)
class RegisterColumn:
    """One column of a register sheet: model key, header text, width, dropdown, help text."""

    key: str
    header: str
    width: float
    choices: tuple[str, ...] = ()
    kind: str = "text"  # text / date / number / staff (a name from the Staff sheet)
    strict: bool = True
    help: str = ""


STAFF_COLUMNS: tuple[RegisterColumn, ...] = (
    RegisterColumn("name", "Name", 26, help="Full name, as the person signs the learner workbooks."),
    RegisterColumn("roles", "Roles", 24, ROLE_CHOICES, strict=False,
                   help="One or more of: assessor, IQA, lead IQA, tutor (separate them with commas)."),
    RegisterColumn("assessor_qualification", "Assessor qualification", 30,
                   help="e.g. TAQA Level 3 Certificate in Assessing Vocational Achievement, A1, D32/33."),
    RegisterColumn("assessor_status", "Assessor status", 16, STATUSES,
                   help="Held, Working towards (a trainee: needs a countersigner), or None."),
    RegisterColumn("iqa_qualification", "IQA qualification", 30,
                   help="e.g. TAQA Level 4 Award in the Internal Quality Assurance ..., V1, D34."),
    RegisterColumn("iqa_status", "IQA status", 16, STATUSES, help="Held, Working towards, or None."),
    RegisterColumn("countersigner", "Countersigner", 26, kind="staff", strict=False,
                   help="For a trainee assessor: the qualified assessor who countersigns their decisions."),
    # Added with template version 2 (optional: an older register without it still reads).
    RegisterColumn("other_names", "Other names", 30,
                   help="Other forms the person signs with (initials, other spellings), separated by ';'."),
)
# Staff columns an older register may lack without a "column missing" issue.
_OPTIONAL_STAFF = frozenset({"other_names"})
INTEREST_COLUMNS: tuple[RegisterColumn, ...] = (
    RegisterColumn("staff", "Staff member", 26, kind="staff", strict=False,
                   help="The member of staff (as on the Staff sheet) who has the interest."),
    RegisterColumn("learner", "Learner ULN or name", 24,
                   help="The learner's ULN (preferred) or full name."),
    RegisterColumn("nature", "Nature of interest", 40,
                   help="e.g. family member, friend, line manager, financial."),
    RegisterColumn("declared", "Date declared", 14, kind="date", help="dd/mm/yyyy"),
)
STANDARD_COLUMNS: tuple[RegisterColumn, ...] = (
    RegisterColumn("standard", "Standard", 14, help="The apprenticeship standard's code, e.g. ST0072."),
    RegisterColumn("minimum", "Minimum OTJ hours", 14, kind="number",
                   help="The minimum off-the-job hours the DfE publishes for this standard (starts from "
                        "1 August 2025), copied from the standard's page on GOV.UK."),
    RegisterColumn("starts_from", "For starts from", 14, kind="date",
                   help="dd/mm/yyyy: the first start date the figure applies to (e.g. 01/08/2025)."),
    RegisterColumn("source", "Source", 50, help="Where the figure was copied from (address and date read)."),
)
MITIGATIONS_SHEET = "Mitigations"
MITIGATION_COLUMNS: tuple[RegisterColumn, ...] = (
    RegisterColumn("staff", "Staff member", 26, kind="staff", strict=False,
                   help="The IQA who also assessed or taught learners on the qualification."),
    RegisterColumn("qualification_number", "Qualification number", 18, help="e.g. 603/4688/7"),
    RegisterColumn("mitigation", "Mitigation", 60,
                   help="What the centre agreed with its awarding body, e.g. extra sampling by another IQA."),
)
_SHEETS = ((STAFF_SHEET, STAFF_COLUMNS), (INTERESTS_SHEET, INTEREST_COLUMNS),
           (MITIGATIONS_SHEET, MITIGATION_COLUMNS), (STANDARDS_SHEET, STANDARD_COLUMNS))
_REQUIRED_STAFF = ("name", "roles")
_REQUIRED_INTERESTS = ("staff", "learner")

# -- issue types -------------------------------------------------------------------------------------

_G = "register"
SHEET_MISSING = issue_type(
    "register-sheet-missing", Severity.ERROR, "Register sheet missing",
    "The register has no '{name}' sheet (with the headers {headers})",
    "The centre register needs a Staff sheet (and an Interests sheet for declared interests), "
    "found by name or by their header row.",
    "Copy the missing sheet back, with its header row, from an earlier copy of the register (right-click "
    "its tab, Move or Copy). If there is none, ask whoever looks after tracker for a blank register "
    "(`tracker register new FILE.xlsx`) and copy the staff list into it.",
    group=_G)
COLUMNS_MISSING = issue_type(
    "register-columns-missing", Severity.ERROR, "Register column missing",
    "The '{name}' sheet has no {columns} column{s}",
    "A column the register needs was deleted or its header renamed.",
    "Put the column back with its header text exactly as in a new register.", group=_G)
NAME_MISSING = issue_type(
    "register-name-missing", Severity.ERROR, "Staff row without a name",
    "Row {row} of the staff list has details but no name; it is ignored",
    "Every staff row needs the person's name, as they sign learner workbooks.",
    "Type the name, or delete the row.", group=_G)
DUPLICATE_STAFF = issue_type(
    "register-duplicate-staff", Severity.ERROR, "Staff member listed twice",
    "{name} is listed twice (rows {first} and {row}); only row {first} is used",
    "Two staff rows have the same name (ignoring letter case and spacing), so it is unclear which "
    "roles and qualifications apply.",
    "Merge the two rows into one.", group=_G)
UNKNOWN_ROLE = issue_type(
    "register-unknown-role", Severity.ERROR, "Unknown role",
    "{name}'s role '{role}' is not one of: {roles}",
    "Roles are assessor, IQA, lead IQA and tutor (several separated by commas). An unknown role is "
    "ignored, so the person may be reported as lacking the role they act in.",
    "Correct the role to one of the listed roles.", group=_G)
NO_ROLE = issue_type(
    "register-no-role", Severity.WARNING, "Staff member without a role",
    "{name} has no role, so any assessment or IQA they sign is reported",
    "A staff member with no role cannot sign as assessor or IQA.",
    "Enter the person's roles (assessor, IQA, lead IQA, tutor).", group=_G)
BAD_STATUS = issue_type(
    "register-bad-status", Severity.ERROR, "Qualification status not recognised",
    "{name}'s {column} '{value}' is not one of: {statuses}; it is treated as None",
    "An assessor or IQA qualification status is Held, Working towards or None.",
    "Choose the status from the cell's dropdown.", group=_G)
COUNTERSIGNER_UNKNOWN = issue_type(
    "register-countersigner-unknown", Severity.ERROR, "Countersigner not on the staff list",
    "{name}'s countersigner {countersigner} is not on the staff list",
    "A trainee assessor's countersigner must be a qualified assessor listed on the Staff sheet.",
    "Add the countersigner to the Staff sheet, or correct the name.", group=_G)
INTEREST_INCOMPLETE = issue_type(
    "register-interest-incomplete", Severity.ERROR, "Declared interest incomplete",
    "Row {row} of the {what} list has no {missing}; it is ignored",
    "A declared interest needs the staff member and the learner (ULN or name); a mitigation needs "
    "the staff member, the qualification number and the mitigation.",
    "Complete the row, or delete it.", group=_G)
INTEREST_STAFF_UNKNOWN = issue_type(
    "register-interest-staff-unknown", Severity.WARNING, "Interest declared by someone not on the staff list",
    "{name} declared an interest (row {row}) but is not on the staff list",
    "The interest is still applied (by name), but the staff list may be incomplete or the name "
    "misspelt.",
    "Check the name against the Staff sheet.", group=_G)
BAD_DATE = issue_type(
    "register-date-unparseable", Severity.WARNING, "Date declared not understood",
    "Row {row} of the interests list: {problem}",
    "The date an interest was declared is not a date.",
    "Type the date as dd/mm/yyyy.", group=_G)

BAD_STANDARD = issue_type(
    "register-standard-bad", Severity.ERROR, "Apprenticeship standard row not understood",
    "Row {row} of the apprenticeship standards: {problem}; the row is ignored",
    "Each row records the minimum off-the-job hours the DfE publishes for one standard: the standard's "
    "code, the hours as a number, and the first start date they apply to.",
    "Correct the row: a code such as ST0072, the hours as a number, the date as dd/mm/yyyy.", group=_G)

REGISTER_CODES = (SHEET_MISSING, COLUMNS_MISSING, NAME_MISSING, DUPLICATE_STAFF, UNKNOWN_ROLE, NO_ROLE,
                  BAD_STATUS, COUNTERSIGNER_UNKNOWN, INTEREST_INCOMPLETE, INTEREST_STAFF_UNKNOWN, BAD_DATE,
                  BAD_STANDARD)

# -- the model ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffMember:
    """One person on the staff list. Roles and statuses are in their canonical spelling."""

    name: str
    roles: frozenset[str] = frozenset()
    assessor_qualification: str = ""
    assessor_status: str | None = None
    iqa_qualification: str = ""
    iqa_status: str | None = None
    countersigner: str | None = None
    row: int = 0  # 1-based spreadsheet row
    other_names: tuple[str, ...] = ()  # initials and other spellings the person signs with

    @property
    def is_assessor(self) -> bool:
        """True when the person has the assessor role."""
        return ROLE_ASSESSOR in self.roles

    @property
    def is_iqa(self) -> bool:
        """True when the person has the IQA or lead IQA role."""
        return bool(self.roles & IQA_ROLES)

    @property
    def qualified_assessor(self) -> bool:
        """Assessor qualification held."""
        return self.assessor_status == STATUS_HELD

    @property
    def trainee_assessor(self) -> bool:
        """Assessor qualification being worked towards: decisions need a countersignature."""
        return self.assessor_status == STATUS_WORKING

    @property
    def qualified_iqa(self) -> bool:
        """IQA qualification held."""
        return self.iqa_status == STATUS_HELD

    @property
    def trainee_iqa(self) -> bool:
        """IQA qualification being worked towards: decisions need a qualified IQA's countersignature."""
        return self.is_iqa and self.iqa_status == STATUS_WORKING


@dataclass(frozen=True, slots=True)
class Interest:
    """A declared personal interest of a staff member in a learner."""

    staff: str
    learner: str
    nature: str = ""
    declared: dt.date | None = None
    row: int = 0


@dataclass(frozen=True, slots=True)
class StandardMinimum:
    """The published minimum off-the-job hours of one standard, as the centre recorded it."""

    standard: str  # upper case, spaces removed (ST0072)
    minimum: float
    starts_from: dt.date | None = None  # None: for every start the fixed-minimum rule covers
    source: str = ""
    row: int = 0


def standard_key(code: str | None) -> str:
    """A standard code for comparison: spaces removed, upper case ("st 0072" -> "ST0072")."""
    return "".join((code or "").split()).upper()


@dataclass(slots=True)
class Mitigation:
    """What the centre agreed (with its awarding body) where an IQA is not independent of a
    qualification: e.g. extra sampling of their learners by another IQA."""

    staff: str
    qualification_number: str
    mitigation: str
    row: int = 0


@dataclass(slots=True)
class Register:
    """The centre register: staff by name key, declared interests, recorded OTJ minimums."""

    staff: dict[str, StaffMember] = field(default_factory=dict)
    interests: list[Interest] = field(default_factory=list)
    path: str = ""
    standards: list[StandardMinimum] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)
    mitigations: list[Mitigation] = field(default_factory=list)
    # other forms of a name (initials, spellings) -> the name key of the person
    aliases: dict[str, str] = field(default_factory=dict)
    # key_of's answers: the checks ask for the same few hundred names a hundred thousand times
    # per roll-up. Cleared by add(); staff and aliases are changed through add() only.
    _keys: dict[str | None, str] = field(default_factory=dict, repr=False, compare=False)

    def otj_minimum(self, standard: str | None, start: dt.date | None) -> StandardMinimum | None:
        """The recorded minimum for ``standard`` that applies to a start on ``start``: the row with
        the latest "for starts from" date on or before it (a row without a date applies to any)."""
        key = standard_key(standard)
        best: StandardMinimum | None = None
        for m in self.standards:
            if m.standard != key:
                continue
            if m.starts_from is not None and (start is None or m.starts_from > start):
                continue
            if best is None or (m.starts_from or dt.date.min) >= (best.starts_from or dt.date.min):
                best = m
        return best

    @classmethod
    def of(cls, staff: Iterable[StaffMember], interests: Iterable[Interest] = (), path: str = "") -> Register:
        """A register from staff members (first of each name wins) and interests."""
        reg = cls(path=path)
        for m in staff:
            reg.add(m)
        reg.interests.extend(interests)
        return reg

    def add(self, m: StaffMember) -> None:
        """Add ``m`` (the first of each name wins) with their other names as aliases."""
        k = name_key(m.name)
        if k in self.staff:
            return
        self.staff[k] = m
        for other in m.other_names:
            self.aliases.setdefault(name_key(other), k)
        self._keys.clear()

    def member(self, name: str | None) -> StaffMember | None:
        """The staff member called ``name`` (any letter case and spacing), or known by that other
        name (initials, another spelling) in their Other names, or None."""
        k = name_key(name)
        m = self.staff.get(k)
        if m is None and k in self.aliases:
            m = self.staff.get(self.aliases[k])
        return m

    def mitigation_for(self, name: str | None, qualification_number: str) -> Mitigation | None:
        """The mitigation recorded for person ``name`` on a qualification, if any."""
        k = self.key_of(name)
        qn = "".join(qualification_number.split())
        for m in self.mitigations:
            if self.key_of(m.staff) == k and "".join(m.qualification_number.split()) == qn:
                return m
        return None

    def key_of(self, name: str | None) -> str:
        """The name key of the person ``name`` stands for: a registered person's own key when the
        name is one of their forms, else the name's own key (so "A. Assessor", registered as
        Alice Assessor's initials, is the same person as "Alice Assessor" in every check)."""
        k = self._keys.get(name)
        if k is None:
            m = self.member(name)
            k = self._keys[name] = name_key(m.name) if m is not None else name_key(name)
        return k

    def initials_match(self, name: str | None) -> list[StaffMember]:
        """Registered people whose initials and surname fit an unregistered ``name``
        ("A. Assessor" fits Alice Assessor); empty when ``name`` is registered."""
        if self.member(name) is not None:
            return []
        parts = name_key(name).replace(".", " ").split()
        if len(parts) < 2:
            return []
        out = []
        for m in self.staff.values():
            mp = name_key(m.name).split()
            if len(mp) < 2 or mp[-1] != parts[-1]:
                continue
            if all(len(p) == 1 for p in parts[:-1]) and [p[0] for p in parts[:-1]] == [x[0] for x in mp[:-1]][:len(parts) - 1]:
                out.append(m)
        return out

    def interests_for(self, uln: str | None, learner_name: str | None) -> list[Interest]:
        """Interests declared in a learner, matched by ULN or by name."""
        u = "".join((uln or "").split())
        n = name_key(learner_name)
        out = []
        for it in self.interests:
            key = name_key(it.learner)
            if (u and key.replace(" ", "") == u) or (n and key == n):
                out.append(it)
        return out


# -- writing a blank register --------------------------------------------------------------------------


def new_register(path: str | Path) -> Path:
    """Write a blank register (Staff and Interests sheets, with dropdowns) to ``path``."""
    import xlsxwriter

    out = Path(path)
    with replaced_atomically(out, suffix=".xlsx") as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_numbers": False,
                                       "strings_to_urls": False})
        wb.set_properties({"title": "Centre register", "author": "tracker"})
        head = wb.add_format({"bold": True, "bg_color": "#1F3864", "font_color": "#FFFFFF", "text_wrap": True,
                              "valign": "vcenter", "border": 1, "border_color": "#A6A6A6"})
        date_fmt = wb.add_format({"num_format": "dd/mm/yyyy", "align": "left"})
        first, last = HEADER_ROW + 1, HEADER_ROW + MAX_ROWS
        staff_col = col_letter(0)
        names = f"='{STAFF_SHEET}'!${staff_col}${first + 1}:${staff_col}${last + 1}"
        for sheet, cols in _SHEETS:
            ws = wb.add_worksheet(sheet)
            ws.set_row(HEADER_ROW, 30)
            for i, c in enumerate(cols):
                ws.set_column(i, i, c.width, date_fmt if c.kind == "date" else None)
                ws.write_string(HEADER_ROW, i, c.header, head)
                opts: dict[str, Any] = {"input_title": c.header[:32], "input_message": c.help[:255]}
                if c.choices or c.kind == "staff":
                    opts.update({"validate": "list", "source": list(c.choices) if c.choices else names,
                                 "error_type": "stop" if c.strict else "information",
                                 "error_title": c.header[:32],
                                 "error_message": "Choose a value from the list." if c.strict else
                                 "This is not one of the listed values; keep it only if it is right."})
                elif c.kind == "number":
                    opts.update({"validate": "decimal", "criteria": ">", "value": 0,
                                 "error_message": "Enter the number of hours."})
                elif c.kind == "date":
                    opts.update({"validate": "date", "criteria": "between",
                                 "minimum": dt.date(2000, 1, 1), "maximum": dt.date(2100, 12, 31),
                                 "error_message": "Enter a date as dd/mm/yyyy."})
                else:
                    opts["validate"] = "any"
                ws.data_validation(first, i, last, i, opts)
            ws.freeze_panes(first, 1)
            ws.autofilter(HEADER_ROW, 0, last, len(cols) - 1)
        wb.close()
    return out


# -- reading -----------------------------------------------------------------------------------------


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    return " ".join(str(v).split())


def _find(names: list[str], grids: dict[str, list[list[Any]]], wanted: str,
          cols: tuple[RegisterColumn, ...]) -> tuple[str, int, dict[str, int]] | None:
    """(sheet, header row, key -> column index) of a register table, by sheet name or headers."""
    by_text = {c.header.casefold(): c.key for c in cols}
    order = sorted(names, key=lambda n: n.casefold() != wanted.casefold())
    for name in order:
        for r, row in enumerate(grids[name][:20]):
            found = {by_text[t]: i for i, v in enumerate(row)
                     if isinstance(v, str) and (t := " ".join(v.split()).casefold()) in by_text}
            if cols[0].key in found and len(found) >= 2:
                return name, r, found
    return None


_ROLE_BY_KEY = {name_key(r): r for r in ROLES}
_ROLE_SPLIT = re.compile(r"[,;/\n]+|\band\b")
_STATUS_BY_KEY: dict[str, str | None] = {name_key(s): s for s in STATUSES}
_STATUS_BY_KEY.update({"": None, "working toward": STATUS_WORKING, "trainee": STATUS_WORKING,
                       "n/a": STATUS_NONE})


def read_register(path: str | Path) -> tuple[Register, list[Issue]]:
    """Read a centre register; bad rows become issues (with sheet and cell) and are left out.

    Raises :class:`~tracker.errors.UnreadableWorkbook` when the file is not a readable workbook.
    """
    p = Path(path)
    from tracker.workbook.safety import check_workbook_file

    check_workbook_file(p)
    import python_calamine

    try:
        wb = python_calamine.CalamineWorkbook.from_path(str(p))
        try:
            names = list(wb.sheet_names)
            grids = {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in names}
        finally:
            wb.close()
    except Exception as e:  # calamine raises several unrelated types for corrupt files
        raise UnreadableWorkbook(p, f"not a readable spreadsheet ({str(e)[:200] or type(e).__name__})") from None
    return read_register_grids(str(p), names, grids)


def read_register_grids(file: str, names: list[str], grids: dict[str, list[list[Any]]]) -> tuple[Register, list[Issue]]:
    """Build the register from sheets given as grids of values (shared with the add-in)."""
    from tracker.workbook.reader import parse_date

    issues: list[Issue] = []
    reg = Register(path=file)

    def table(wanted: str, cols: tuple[RegisterColumn, ...], required: tuple[str, ...],
              severity_missing: bool) -> tuple[str, int, dict[str, int]] | None:
        t = _find(names, grids, wanted, cols)
        if t is None:
            if severity_missing:
                issues.append(SHEET_MISSING(file=file, sheet=wanted, name=wanted,
                                            headers=", ".join(c.header for c in cols)))
            return None
        missing = [c.header for c in cols if c.key not in t[2] and c.key not in _OPTIONAL_STAFF]
        if missing:
            issues.append(COLUMNS_MISSING(file=file, sheet=t[0], name=t[0], columns=", ".join(f"'{h}'" for h in missing),
                                          s="s" if len(missing) > 1 else ""))
            if any(k not in t[2] for k in required):
                return None
        return t

    staff_t = table(STAFF_SHEET, STAFF_COLUMNS, _REQUIRED_STAFF, True)
    rows_of: dict[str, int] = {}
    pending_cs: list[tuple[StaffMember, str]] = []
    if staff_t is not None:
        sheet, hr, cols = staff_t
        grid = grids[sheet]
        for r in range(hr + 1, len(grid)):
            row = grid[r]

            def get(key: str) -> tuple[str, str | None]:
                i = cols.get(key)
                if i is None:
                    return "", None
                return (_text(row[i]) if i < len(row) else ""), cell_ref(r, i)

            values = {c.key: get(c.key) for c in STAFF_COLUMNS}
            if not any(v for v, _ in values.values()):
                continue
            name, name_cell = values["name"]
            if not name:
                issues.append(NAME_MISSING(file=file, sheet=sheet, cell=name_cell, row=r + 1))
                continue
            k = name_key(name)
            if k in rows_of:
                issues.append(DUPLICATE_STAFF(file=file, sheet=sheet, cell=name_cell, name=name,
                                              first=rows_of[k], row=r + 1))
                continue
            rows_of[k] = r + 1
            roles_text, roles_cell = values["roles"]
            roles: set[str] = set()
            for part in _ROLE_SPLIT.split(roles_text):
                part = part.strip()
                if not part:
                    continue
                role = _ROLE_BY_KEY.get(name_key(part))
                if role is None:
                    issues.append(UNKNOWN_ROLE(file=file, sheet=sheet, cell=roles_cell, name=name, role=part,
                                               roles=", ".join(ROLES)))
                else:
                    roles.add(role)
            if not roles_text:
                issues.append(NO_ROLE(file=file, sheet=sheet, cell=roles_cell, name=name))
            statuses: dict[str, str | None] = {}
            for key in ("assessor_status", "iqa_status"):
                text, c = values[key]
                if name_key(text) in _STATUS_BY_KEY:
                    statuses[key] = _STATUS_BY_KEY[name_key(text)]
                else:
                    header = next(col.header for col in STAFF_COLUMNS if col.key == key)
                    issues.append(BAD_STATUS(file=file, sheet=sheet, cell=c, name=name, column=header,
                                             value=text, statuses=" / ".join(STATUSES)))
                    statuses[key] = STATUS_NONE
            cs = values["countersigner"][0] or None
            m = StaffMember(name=name, roles=frozenset(roles),
                            assessor_qualification=values["assessor_qualification"][0],
                            assessor_status=statuses["assessor_status"],
                            iqa_qualification=values["iqa_qualification"][0],
                            iqa_status=statuses["iqa_status"], countersigner=cs, row=r + 1,
                            other_names=tuple(n.strip() for n in values["other_names"][0].split(";") if n.strip()))
            reg.add(m)
            if cs:
                pending_cs.append((m, values["countersigner"][1] or ""))
        for m, c in pending_cs:
            assert m.countersigner is not None
            if name_key(m.countersigner) not in reg.staff:
                issues.append(COUNTERSIGNER_UNKNOWN(file=file, sheet=sheet, cell=c or None, name=m.name,
                                                    countersigner=m.countersigner))

    mit_t = table(MITIGATIONS_SHEET, MITIGATION_COLUMNS, ("staff", "qualification_number", "mitigation"), False)
    if mit_t is not None:
        sheet, hr, cols = mit_t
        grid = grids[sheet]
        for r in range(hr + 1, len(grid)):
            row = grid[r]
            texts = {c.key: (_text(row[cols[c.key]]) if cols[c.key] < len(row) else "") for c in MITIGATION_COLUMNS}
            if not any(texts.values()):
                continue
            absent = [c for c in MITIGATION_COLUMNS if not texts[c.key]]
            if absent:
                issues.append(INTEREST_INCOMPLETE(file=file, sheet=sheet, cell=cell_ref(r, cols[absent[0].key]),
                                                  row=r + 1, missing=" or ".join(c.header.lower() for c in absent),
                                                  what="mitigations"))
                continue
            reg.mitigations.append(Mitigation(texts["staff"], texts["qualification_number"], texts["mitigation"], r + 1))

    int_t = table(INTERESTS_SHEET, INTEREST_COLUMNS, _REQUIRED_INTERESTS, False)
    if int_t is not None:
        sheet, hr, cols = int_t
        grid = grids[sheet]
        for r in range(hr + 1, len(grid)):
            row = grid[r]
            raw = {c.key: (row[cols[c.key]] if c.key in cols and cols[c.key] < len(row) else None)
                   for c in INTEREST_COLUMNS}
            texts = {k: _text(v) for k, v in raw.items()}
            if not any(texts.values()):
                continue
            missing = [c.header for c in INTEREST_COLUMNS if c.key in _REQUIRED_INTERESTS and not texts[c.key]]
            if missing:
                first_missing = next(c.key for c in INTEREST_COLUMNS if c.header == missing[0])
                issues.append(INTEREST_INCOMPLETE(file=file, sheet=sheet, cell=cell_ref(r, cols[first_missing]),
                                                  row=r + 1, missing=" or ".join(m.lower() for m in missing),
                                                  what="interests"))
                continue
            declared, problem = parse_date(raw["declared"])
            if problem:
                issues.append(BAD_DATE(file=file, sheet=sheet, cell=cell_ref(r, cols["declared"]), row=r + 1,
                                       problem=problem))
            staff = texts["staff"]
            for person in split_names(staff) or [staff]:
                if name_key(person) not in reg.staff:
                    issues.append(INTEREST_STAFF_UNKNOWN(file=file, sheet=sheet, cell=cell_ref(r, cols["staff"]),
                                                         name=person, row=r + 1))
                reg.interests.append(Interest(person, texts["learner"], texts["nature"], declared, r + 1))

    std_t = table(STANDARDS_SHEET, STANDARD_COLUMNS, ("standard", "minimum"), False)
    if std_t is not None:
        sheet, hr, cols = std_t
        grid = grids[sheet]
        for r in range(hr + 1, len(grid)):
            row = grid[r]
            raw = {c.key: (row[cols[c.key]] if c.key in cols and cols[c.key] < len(row) else None)
                   for c in STANDARD_COLUMNS}
            texts = {k: _text(v) for k, v in raw.items()}
            if not any(texts.values()):
                continue
            code = standard_key(texts["standard"])
            raw_min = raw["minimum"]
            minimum = 0.0
            problem = ""
            if not code:
                problem = "no standard code"
            elif isinstance(raw_min, (int, float)) and not isinstance(raw_min, bool):
                minimum = float(raw_min)
            else:
                try:
                    minimum = float(texts["minimum"])
                except ValueError:
                    problem = f"the minimum '{texts['minimum']}' is not a number of hours"
            if not problem and not 0 < minimum < 10000:
                problem = f"the minimum {texts['minimum']} is not a plausible number of hours"
            starts, date_problem = parse_date(raw["starts_from"])
            if not problem and date_problem:
                problem = f"for starts from: {date_problem}"
            if problem:
                key = "standard" if not code else ("minimum" if "minimum" in problem else "starts_from")
                issues.append(BAD_STANDARD(file=file, sheet=sheet, cell=cell_ref(r, cols.get(key, 0)), row=r + 1,
                                           problem=problem))
                continue
            reg.standards.append(StandardMinimum(code, minimum, starts, texts["source"], r + 1))
    return reg, issues
