"""Create learner workbooks: one learner from arguments, or a cohort from a CSV file or sheet.

The cohort file (a CSV as Excel saves it in any of its encodings and separators, or an .xlsx
sheet; see :func:`read_cohort`) has a header row that uses the cover-sheet labels (``Learner
name``, ``ULN``, ``Pathway``, ``Assessor``, ``IQA``, ``Tutor``, ``Employer``, ``Registration
date``, and for template version 2 ``Planned end date`` and, for apprentices, ``Apprenticeship
standard``, ``Start date``, ``Contracted weekly hours``, ``Planned OTJ hours``, ``English and
maths``); dates are real dates, YYYY-MM-DD or dd/mm/yyyy. An unknown column is an error naming
it (nothing is written). A bad row is reported
by its line number and the other rows are still written.

Decisions: a learner needs a valid ULN (9999999999, "not known", is accepted -- the validator
warns about it) and, for a qualification with either/or pathways, a pathway; a workbook is never
silently written for a learner who could not be told apart from another.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import TrackerError, UsageError
from tracker.identifiers import check_uln
from tracker.spec.models import Qualification
from tracker.workbook import layout as L
from tracker.workbook.model import Learner, LearnerRecord
from tracker.workbook.reader import parse_date, parse_hours

# CSV columns accepted: the cover labels a person fills in (the qualification comes from -q).
CSV_FIELDS = ("name", "uln", "pathway", "assessor", "iqa", "tutor", "employer", "registration_date",
              # template version 2; the apprenticeship columns make the learner an apprentice
              "planned_end_date", "standard", "start_date", "weekly_hours", "planned_otj_hours",
              "english_maths")
_CSV_LABELS = {L.COVER_LABELS[k].casefold(): k for k in CSV_FIELDS}


class LearnerError(TrackerError):
    """Learner details that cannot make a workbook (bad ULN, unknown pathway, bad date)."""


def make_learner(q: Qualification, *, name: str, uln: str, pathway: str | None = None,
                 assessor: str | None = None, iqa: str | None = None, tutor: str | None = None,
                 employer: str | None = None, registration_date: str | dt.date | None = None,
                 planned_end_date: str | dt.date | None = None, standard: str | None = None,
                 start_date: str | dt.date | None = None, weekly_hours: str | float | None = None,
                 planned_otj_hours: str | float | None = None, english_maths: str | None = None) -> Learner:
    """Validated :class:`Learner` for qualification ``q`` from text values.

    A learner with a ``standard`` is an apprentice: their workbook gets the apprenticeship cover
    fields and the Off-the-job log. The other apprenticeship values need the standard.
    """
    name = " ".join((name or "").split())
    if not name:
        raise LearnerError("the learner's name is empty")
    check = check_uln(uln)
    if check.severity == "error":
        raise LearnerError(check.problem)
    pathway_id: str | None = None
    if pathway and pathway.strip():
        if not q.pathways:
            raise LearnerError(f"{q.number} has no pathways; leave the pathway empty")
        p = q.pathway_by_label(pathway)
        if p is None:
            raise LearnerError(f"unknown pathway {pathway!r} (use one of: "
                               + ", ".join(x.id for x in q.pathways) + ")")
        pathway_id = p.id
    elif any(u.pathway_groups for u in q.units):
        raise LearnerError(f"{q.number} has either/or criteria: give the pathway ("
                           + ", ".join(x.id for x in q.pathways) + ")")
    code = "".join((standard or "").split()).upper() or None
    if code is None and any(_opt(v if isinstance(v, str) or v is None else str(v))
                            for v in (start_date, weekly_hours, planned_otj_hours, english_maths)):
        raise LearnerError("apprenticeship details given without the apprenticeship standard (e.g. ST0072)")
    if code is not None and not re.fullmatch(r"ST\d{4}", code):
        raise LearnerError(f"apprenticeship standard {standard!r} is not a standard code (e.g. ST0072)")
    em = _opt(english_maths)
    if em is not None:
        known = {v.casefold(): v for v in L.ENGLISH_MATHS}
        if em.casefold() not in known:
            raise LearnerError(f"English and maths {em!r} is not one of: " + ", ".join(L.ENGLISH_MATHS))
        em = known[em.casefold()]
    return Learner(name=name, uln=check.value, pathway=pathway_id,
                   registration_date=_date("registration date", registration_date),
                   assessor=_opt(assessor), iqa=_opt(iqa), tutor=_opt(tutor), employer=_opt(employer),
                   planned_end_date=_date("planned end date", planned_end_date), standard=code,
                   start_date=_date("start date", start_date),
                   weekly_hours=_hours("contracted weekly hours", weekly_hours),
                   planned_otj_hours=_hours("planned OTJ hours", planned_otj_hours), english_maths=em)


def _date(what: str, value: str | dt.date | None) -> dt.date | None:
    if isinstance(value, dt.date) or value is None:
        return value
    d, problem = parse_date(value)
    if problem:
        raise LearnerError(f"{what}: {problem}")
    return d


def _hours(what: str, value: str | float | None) -> float | None:
    if value is None or isinstance(value, float):
        return value
    h, problem = parse_hours(value)
    if problem:
        raise LearnerError(f"{what}: {problem}")
    if h is not None and h < 0:
        raise LearnerError(f"{what}: {value!r} is negative")
    return h


def _opt(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text or None


def workbook_filename(learner: Learner) -> str:
    """A safe, unique-per-learner file name: ``Surname_Forename_ULN.xlsx``."""
    safe = re.sub(r"[^\w\-]+", "_", learner.name, flags=re.UNICODE).strip("_")[:60] or "learner"
    return f"{safe}_{learner.uln}.xlsx"


@dataclass
class CohortRow:
    """A CSV line's outcome: the learner, or the problem."""

    line: int
    learner: Learner | None = None
    problem: str = ""
    #: what ``line`` counts: "line" (of a CSV file) or "row" (of a spreadsheet)
    where: str = "line"


@dataclass
class CohortResult:
    """Outcome of a cohort run."""

    written: list[Path] = field(default_factory=list)
    failed: list[CohortRow] = field(default_factory=list)


_COLUMNS_HINT = ", ".join(L.COVER_LABELS[k] for k in CSV_FIELDS)
# Separators Excel writes: "," in English locales, ";" where "," is the decimal mark (most of
# Europe), a tab in "Unicode Text". Which one a file uses is told by its header row (below).
_SEPARATORS = (",", ";", "\t")
_SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".ods", ".xls")


def read_cohort(q: Qualification, path: str | Path) -> list[CohortRow]:
    """Parse a cohort file into rows (each a learner or a problem with its line or row number).

    A CSV as Excel or LibreOffice writes it -- UTF-8 with or without a byte order mark,
    Windows-1252 (Excel's "CSV (Comma delimited)" on a Western European Windows), UTF-16 ("Unicode
    Text"); comma, semicolon or tab separated -- or a spreadsheet (.xlsx, .ods, .xls: its first
    sheet holding the header row). Raises :class:`UsageError` for an unreadable file, a missing
    header or an unknown column, with the line and how to fix it.
    """
    p = Path(path)
    if p.suffix.lower() in _SPREADSHEET_SUFFIXES:
        return _rows(q, p, _sheet_lines(p), "row")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise UsageError(f"{p}: cannot read the cohort file ({e.strerror or e})") from None
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise UsageError(f"{p}: this is a spreadsheet with a text file's name; name it .xlsx (or .ods, "
                         ".xls) as it was saved, or save it from Excel as 'CSV UTF-8 (Comma delimited)'")
    text = _decode(p, raw)
    lines = text.splitlines()
    sep = None
    if lines and lines[0].strip().lower().startswith("sep=") and len(lines[0].strip()) == 5:
        sep = lines[0].strip()[4]  # Excel's own hint line: "sep=;"
        lines[0] = ""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise UsageError(f"{p}: the cohort file is empty; its first line must be the header row ({_COLUMNS_HINT})")
    sep = sep or _separator(lines[first])
    reader = csv.reader(lines, delimiter=sep)
    return _rows(q, p, _numbered(reader), "line")


def read_cohort_csv(q: Qualification, path: str | Path) -> list[CohortRow]:
    """Former name of :func:`read_cohort` (kept for scripts)."""
    return read_cohort(q, path)


def _decode(p: Path, raw: bytes) -> str:
    """The text of a CSV in the encodings Excel and LibreOffice save."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")  # Excel's "Unicode Text"
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # Excel's "CSV UTF-8" starts with a byte order mark
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Not UTF-8: Excel's plain "CSV (Comma delimited)" uses the Windows code page, which in the
    # UK and Western Europe is Windows-1252 ("José" is 4A 6F 73 E9). Five byte values are
    # undefined there; a file holding one is in some other encoding.
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise UsageError(f"{p}: line {line}: the file is neither UTF-8 nor Windows-1252 text; save it from "
                         "Excel as 'CSV UTF-8 (Comma delimited)' (File > Save As) and try again") from None


def _separator(header: str) -> str:
    """The separator that splits the header row into the most known column names.

    Told by the header, which tracker knows, rather than by guessing from the data
    (``csv.Sniffer`` may pick a character that merely occurs often, such as a space in names).
    """
    def known(sep: str) -> int:
        cells = next(csv.reader([header], delimiter=sep), [])
        return sum(1 for c in cells if " ".join(c.split()).casefold() in _CSV_LABELS)

    return max(_SEPARATORS, key=lambda sep: (known(sep), header.count(sep)))


def _sheet_lines(p: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, cell texts) of the first sheet of a cohort spreadsheet."""
    from tracker.errors import UnreadableWorkbook
    from tracker.workbook.reader import normalise
    from tracker.workbook.safety import check_spreadsheet_file

    try:
        check_spreadsheet_file(p)
        import python_calamine

        with open(p, "rb") as f:
            wb = python_calamine.CalamineWorkbook.from_filelike(f)
        grid = wb.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except UnreadableWorkbook as e:
        raise UsageError(str(e)) from None
    except Exception as e:  # calamine raises several unrelated types for broken files
        raise UsageError(f"{p}: cannot read the cohort spreadsheet ({type(e).__name__}); open it in Excel "
                         "and save it again") from None
    for r, row in enumerate(grid, start=1):
        # Real dates stay dates (make_learner takes them); a ULN typed as a number loses its ".0".
        yield r, [v.isoformat() if isinstance(v, dt.date) else (normalise("text", "", v)[0] or "") for v in row]


def _rows(q: Qualification, p: Path, numbered: Iterator[tuple[int, list[str]]], where: str) -> list[CohortRow]:
    header: list[str] | None = None
    line = 0
    for line, values in numbered:
        if any(v.strip() for v in values):
            header = values
            break
    if header is None:
        raise UsageError(f"{p}: the cohort file is empty; its first {where} must be the header row ({_COLUMNS_HINT})")
    while header and not header[-1].strip():
        header.pop()  # spreadsheets often carry empty cells after the last column
    keys: list[str] = []
    for h in header:
        key = _CSV_LABELS.get(" ".join(h.split()).casefold())
        if key is None:
            close = difflib.get_close_matches(h.strip(), list(L.COVER_LABELS[k] for k in CSV_FIELDS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UsageError(f"{p}: {where} {line}: unknown column '{h.strip()}'{hint} (the header row uses "
                             f"the cover's labels: {_COLUMNS_HINT}; only Learner name and ULN are required)")
        keys.append(key)
    for required in ("name", "uln"):
        if required not in keys:
            raise UsageError(f"{p}: {where} {line}: the header row has no '{L.COVER_LABELS[required]}' column; "
                             f"add it (columns: {_COLUMNS_HINT})")
    rows: list[CohortRow] = []
    for line, values in numbered:
        if not any(v.strip() for v in values):
            continue
        extra = values[len(keys):]
        if any(v.strip() for v in extra):
            rows.append(CohortRow(line, problem=f"{len(values)} values for {len(keys)} columns (a value holding "
                                                "the separator must be in double quotes)", where=where))
            continue
        data = dict(zip(keys, values))
        try:
            rows.append(CohortRow(line, make_learner(q, **data), where=where))
        except LearnerError as e:
            rows.append(CohortRow(line, problem=str(e), where=where))
    return rows


def _numbered(reader: Any) -> Iterator[tuple[int, list[str]]]:
    # csv.reader's line_num counts physical lines (quoted newlines included): report that.
    for values in reader:
        yield reader.line_num, values


def make_cohort(q: Qualification, csv_path: str | Path, out_dir: str | Path, *,
                reading: str | None = None, progress: bool = False, force: bool = False,
                spec_dirs: Iterable[str | Path] = ()) -> CohortResult:
    """Write one workbook per valid row of the cohort file into ``out_dir``; report bad rows by
    line number. An existing workbook is not overwritten unless ``force``; ``spec_dirs``: more
    folders of qualification data files (a centre's ``specs/``)."""
    from tracker.spec.catalogue import find_spec_file, spec_hash
    from tracker.workbook.writer import new_workbook

    rows = read_cohort(q, csv_path)
    out = Path(out_dir)
    result = CohortResult(failed=[r for r in rows if r.learner is None])
    good = [r for r in rows if r.learner is not None]
    seen: dict[str, int] = {}
    digest = spec_hash(find_spec_file(q.number, spec_dirs))
    iterator = good
    if progress and len(good) > 1:
        from tqdm import tqdm

        iterator = tqdm(good, desc="workbooks", unit="wb", leave=False)
    for row in iterator:
        assert row.learner is not None
        if row.learner.uln in seen and row.learner.uln != "9999999999":
            result.failed.append(CohortRow(row.line, problem=f"ULN {row.learner.uln} is already on {row.where} "
                                                             f"{seen[row.learner.uln]}", where=row.where))
            continue
        seen[row.learner.uln] = row.line
        path = out / workbook_filename(row.learner)
        if path.exists() and not force:
            result.failed.append(CohortRow(row.line, problem=f"{path} already exists; not overwritten "
                                                             "(use --force to replace it)", where=row.where))
            continue
        new_workbook(q, LearnerRecord(row.learner), path, reading=reading, spec_hash=digest)
        result.written.append(path)
    result.failed.sort(key=lambda r: r.line)
    return result


def resolve_reading(q: Qualification, reading: str | None) -> str:
    """The reading id to use: ``reading`` if the qualification knows it, else its default."""
    if reading is None or reading == "":
        return q.default_reading
    known = [r.id for r in q.readings]
    if reading not in known:
        raise UsageError(f"{q.number} has no reading {reading!r} (readings: {', '.join(known) or 'none'})")
    return reading
