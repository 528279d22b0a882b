"""Create learner workbooks: one learner from arguments, or a cohort from a CSV file.

The cohort CSV's header row uses the cover-sheet labels (``Learner name``, ``ULN``, ``Pathway``,
``Assessor``, ``IQA``, ``Tutor``, ``Employer``, ``Registration date``, and for template version 2
``Planned end date`` and, for apprentices, ``Apprenticeship standard``, ``Start date``,
``Contracted weekly hours``, ``Planned OTJ hours``, ``English and maths``); dates are YYYY-MM-DD or
dd/mm/yyyy. An unknown column is an error naming it (nothing is written). A bad row is reported
by its line number and the other rows are still written.

Decisions: a learner needs a valid ULN (9999999999, "not known", is accepted -- the validator
warns about it) and, for a qualification with either/or pathways, a pathway; a workbook is never
silently written for a learner who could not be told apart from another.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class CohortResult:
    """Outcome of a cohort run."""

    written: list[Path] = field(default_factory=list)
    failed: list[CohortRow] = field(default_factory=list)


def read_cohort_csv(q: Qualification, path: str | Path) -> list[CohortRow]:
    """Parse the cohort CSV into rows (each a learner or a problem with its line number).

    Raises :class:`UsageError` for an unreadable file, a missing header or an unknown column.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # Excel writes a BOM in "CSV UTF-8"
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{p}: cannot read the cohort CSV ({e})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise UsageError(f"{p}: the cohort CSV is empty")
    keys: list[str] = []
    for h in header:
        key = _CSV_LABELS.get(" ".join(h.split()).casefold())
        if key is None:
            raise UsageError(f"{p}: unknown column {h!r} (columns: "
                             + ", ".join(L.COVER_LABELS[k] for k in CSV_FIELDS) + ")")
        keys.append(key)
    for required in ("name", "uln"):
        if required not in keys:
            raise UsageError(f"{p}: the column {L.COVER_LABELS[required]!r} is missing")
    rows: list[CohortRow] = []
    for line, values in _numbered(reader):
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(keys):
            rows.append(CohortRow(line, problem=f"{len(values)} values for {len(keys)} columns"))
            continue
        data = dict(zip(keys, values))
        try:
            rows.append(CohortRow(line, make_learner(q, **data)))
        except LearnerError as e:
            rows.append(CohortRow(line, problem=str(e)))
    return rows


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    # csv.reader's line_num counts physical lines (quoted newlines included): report that.
    for values in reader:
        yield reader.line_num, values  # type: ignore[attr-defined]


def make_cohort(q: Qualification, csv_path: str | Path, out_dir: str | Path, *,
                reading: str | None = None, progress: bool = False) -> CohortResult:
    """Write one workbook per valid CSV row into ``out_dir``; report bad rows by line number."""
    from tracker.spec.catalogue import find_spec_file, spec_hash
    from tracker.workbook.writer import new_workbook

    rows = read_cohort_csv(q, csv_path)
    out = Path(out_dir)
    result = CohortResult(failed=[r for r in rows if r.learner is None])
    good = [r for r in rows if r.learner is not None]
    seen: dict[str, int] = {}
    digest = spec_hash(find_spec_file(q.number))
    iterator = good
    if progress and len(good) > 1:
        from tqdm import tqdm

        iterator = tqdm(good, desc="workbooks", unit="wb", leave=False)
    for row in iterator:
        assert row.learner is not None
        if row.learner.uln in seen and row.learner.uln != "9999999999":
            result.failed.append(CohortRow(row.line, problem=f"ULN {row.learner.uln} is already on line "
                                                             f"{seen[row.learner.uln]}"))
            continue
        seen[row.learner.uln] = row.line
        path = out / workbook_filename(row.learner)
        if path.exists():
            result.failed.append(CohortRow(row.line, problem=f"{path} already exists; not overwritten"))
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
