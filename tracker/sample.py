"""Realistic sample data for a training centre: staff, learners and their workbooks' contents.

Deterministic: the same seed gives the same centre, byte for byte in every value (file contents
differ only in the creation time the writer records). Used by ``python -m tracker.demo``, the
benchmarks and the tests.

* :func:`sample_staff` -- assessors (one a trainee with a countersigner), IQAs, tutors.
* :func:`sample_learners` -- learners on the installed Highfield diplomas with valid ULNs
  (:func:`tracker.identifiers.uln_check_digit`), both pathways, registration dates, their
  assessor, IQA, tutor and employer -- and, whenever there are two or more, two different learners
  with the same name.
* :func:`progress_record` -- a :class:`~tracker.workbook.model.LearnerRecord` part-way through
  the qualification: units worked in order, earlier ones signed off, the current one in progress
  (some criteria "Not yet met"), an evidence log entry for every evidence ref, dates in order
  (evidence <= assessor <= IQA, none before registration, none after ``as_of``), methods typical
  of each criterion's kind, a trainee's decisions countersigned, and IQA sampling of a share of
  the decisions (every one of a trainee's).
* :func:`write_register` / :func:`write_workbooks` -- the centre register and the learners'
  workbooks as files.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tracker.identifiers import uln_check_digit
from tracker.spec.models import Qualification
from tracker.workbook import layout as L
from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord

FIRST_NAMES = (
    "Aisha", "Ben", "Chloe", "Darius", "Ella", "Femi", "Grace", "Harvey", "Isla", "Jamal", "Katie", "Liam",
    "Maya", "Nathan", "Olivia", "Priya", "Quinn", "Rhys", "Sophie", "Tariq", "Una", "Vikram", "Willow",
    "Yusuf", "Zara", "Callum", "Niamh", "Owen", "Leah", "Mohammed", "Freya", "Dylan", "Amelia", "Kieran",
)
LAST_NAMES = (
    "Ahmed", "Bennett", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes", "Iqbal", "Jones", "Khan",
    "Lewis", "Morgan", "Nowak", "O'Brien", "Patel", "Quinn", "Roberts", "Singh", "Taylor", "Usman",
    "Walker", "Williams", "Young", "MacLeod", "Kowalski", "Thompson", "Begum", "Murphy", "Edwards",
)
EMPLOYERS = (
    "Northgate Retail Ltd", "Riverside Leisure Centre", "Brightwater Housing Association", "Castle Motors",
    "The Old Mill Hotel", "Greenfield Council Contact Centre", "Harbour Energy Services", "Oakwood Dental Care",
)
EVIDENCE_LOCATIONS = ("Portfolio p.{n}", "OneDrive/Evidence/{ref}.pdf", "Recording {ref}.mp3",
                      "Workplace file, shelf {n}")

SAMPLE_SEED = 2024
AS_OF = dt.date(2025, 10, 31)
FIRST_REGISTRATION = dt.date(2024, 9, 2)
L2 = "603/4687/5"
L3 = "603/4688/7"


@dataclass(frozen=True, slots=True)
class SampleStaff:
    """A member of staff as the centre register lists them."""

    name: str
    roles: str
    assessor_status: str = ""
    iqa_status: str = ""
    countersigner: str = ""
    assessor_qualification: str = ""
    iqa_qualification: str = ""


@dataclass(frozen=True, slots=True)
class SampleLearner:
    """A learner of the sample centre, with the qualification and workbook id they were issued."""

    learner: Learner
    qualification_number: str
    workbook_id: str
    progress: float  # share of the qualification reached by ``AS_OF`` (0..1)
    seed: int

    @property
    def file_name(self) -> str:
        """A realistic file name: Surname_Firstname_ULN.xlsx (never used to identify anyone)."""
        parts = self.learner.name.split()
        first, last = (parts[0], parts[-1]) if parts else ("", "")
        safe = "".join(ch for ch in f"{last}_{first}" if ch.isalnum() or ch in "_-")
        return f"{safe}_{self.learner.uln}.xlsx"


ASSESSOR_QUAL = "TAQA Level 3 Certificate in Assessing Vocational Achievement"
IQA_QUAL = "TAQA Level 4 Award in the Internal Quality Assurance of Assessment Processes and Practice"


def sample_staff() -> list[SampleStaff]:
    """The sample centre's staff: four assessors (one trainee), two IQAs, two tutors."""
    return [
        SampleStaff("Amira Khan", "assessor", "Held", "None", assessor_qualification=ASSESSOR_QUAL),
        SampleStaff("Daniel Hughes", "assessor", "Working towards", "None", countersigner="Amira Khan",
                    assessor_qualification=ASSESSOR_QUAL),
        SampleStaff("Grace Okafor", "assessor", "Held", "None", assessor_qualification=ASSESSOR_QUAL),
        SampleStaff("Tom Fletcher", "assessor", "Held", "None", assessor_qualification=ASSESSOR_QUAL),
        SampleStaff("Helen Price", "IQA, lead IQA", "Held", "Held", assessor_qualification=ASSESSOR_QUAL,
                    iqa_qualification=IQA_QUAL),
        SampleStaff("Marcus Reid", "IQA", "Held", "Held", assessor_qualification=ASSESSOR_QUAL,
                    iqa_qualification=IQA_QUAL),
        SampleStaff("Sarah Bennett", "tutor"),
        SampleStaff("Owen Lloyd", "tutor"),
    ]


ASSESSORS = ("Amira Khan", "Daniel Hughes", "Grace Okafor", "Tom Fletcher")
TRAINEE = "Daniel Hughes"
COUNTERSIGNER = "Amira Khan"
IQAS = ("Helen Price", "Marcus Reid")
TUTORS = ("Sarah Bennett", "Owen Lloyd")


def make_uln(rng: random.Random, taken: set[str]) -> str:
    """A new valid ULN (10 digits, first not 0, correct check digit), not in ``taken``."""
    while True:
        first = str(rng.randint(100_000_000, 999_999_999))
        d = uln_check_digit(first)
        if d is None or d > 9:
            continue
        uln = f"{first}{d}"
        if uln not in taken and uln != "9999999999":
            taken.add(uln)
            return uln


def sample_learners(n: int, *, seed: int = SAMPLE_SEED, qualifications: Sequence[Qualification] = (),
                    same_name_pair: bool = True) -> list[SampleLearner]:
    """``n`` learners spread over ``qualifications`` (default: the two bundled diplomas, 2:1).

    With ``same_name_pair`` and n >= 2, learners 0 and 1 have the same name (different ULNs,
    employers and workbooks): the roll-up must keep them apart.
    """
    from tracker.spec.catalogue import load_qualification

    quals = list(qualifications) or [load_qualification(L2), load_qualification(L2), load_qualification(L3)]
    rng = random.Random(seed)
    taken: set[str] = set()
    out: list[SampleLearner] = []
    for i in range(n):
        q = quals[i % len(quals)]
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if same_name_pair and i == 1 and out:
            name = out[0].learner.name
        pathway = rng.choice([p.id for p in q.pathways]) if q.pathways else None
        registered = FIRST_REGISTRATION + dt.timedelta(days=rng.randint(0, 150))
        assessor = ASSESSORS[rng.randrange(len(ASSESSORS))]
        iqa = IQAS[rng.randrange(len(IQAS))]
        learner = Learner(name=name, uln=make_uln(rng, taken), pathway=pathway, registration_date=registered,
                          assessor=assessor, iqa=iqa, tutor=TUTORS[rng.randrange(len(TUTORS))],
                          employer=EMPLOYERS[rng.randrange(len(EMPLOYERS))],
                          # 12 to 18 months' planned duration; from the index, not the random
                          # stream, so every other sample value stays as it was.
                          planned_end_date=registered + dt.timedelta(days=365 + 60 * (i % 4)))
        # Progress: a spread from just started to complete, most part-way.
        progress = min(1.0, max(0.0, rng.betavariate(2.0, 1.6) * 1.15))
        wid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        out.append(SampleLearner(learner, q.number, wid, progress, rng.getrandbits(32)))
    return out


def _signature(assessor: str) -> str:
    # A trainee's decisions carry the countersigner's name in the Assessor cell.
    return f"{assessor} / {COUNTERSIGNER}" if assessor == TRAINEE else assessor


@dataclass(frozen=True, slots=True)
class _Step:
    """One criterion on the learner's timeline (dates fixed once, whatever the snapshot date)."""

    unit: int
    ref: str
    kind: str
    method: str
    evidence_ref: str
    location: str
    evidence_date: dt.date
    first_attempt: dt.date | None  # a "Not yet met" before the Met decision
    met_date: dt.date | None  # None: still not met at the end
    iqa_date: dt.date | None


def timeline(q: Qualification, s: SampleLearner, *, reading: str | None = None, sample_rate: float = 0.25,
             progress: float | None = None) -> list[_Step]:
    """The learner's whole programme up to :data:`AS_OF` (deterministic per learner)."""
    rng = random.Random(s.seed)
    lr = s.learner
    share = s.progress if progress is None else progress
    reading = q.default_reading if reading is None else reading
    start = lr.registration_date or FIRST_REGISTRATION
    span = max(30, (AS_OF - start).days)
    required = [(u, c) for u in q.units for c in u.criteria if c.ref in set(q.required(u, lr.pathway, reading))]
    reached = int(round(share * len(required)))
    assessor = lr.assessor or ASSESSORS[0]
    steps: list[_Step] = []
    for n, (unit, crit) in enumerate(required[:reached]):
        # A steady pace: criterion n is signed off at the matching share of the time so far.
        day = start + dt.timedelta(days=int(span * (n + 1) / max(reached, 1) * 0.97))
        ev_date = max(start, day - dt.timedelta(days=rng.randint(0, 10)))
        methods = q.typical_methods.get(crit.kind) or list(L.METHODS)
        method = methods[rng.randrange(min(len(methods), 4))]
        ref = f"E{n + 1:03d}"
        loc = EVIDENCE_LOCATIONS[rng.randrange(len(EVIDENCE_LOCATIONS))].format(n=n + 3, ref=ref)
        never_met = share < 1.0 and n >= reached - 3 and rng.random() < 0.4  # still being worked on
        retry = never_met or rng.random() < 0.12
        first = max(ev_date, day - dt.timedelta(days=rng.randint(7, 20))) if retry else None
        if first is not None and first >= day:
            first = ev_date
        sampled = assessor == TRAINEE or rng.random() < sample_rate
        iqa_date = day + dt.timedelta(days=rng.randint(3, 21))
        steps.append(_Step(unit.number, crit.ref, crit.kind.value, method, ref, loc, ev_date,
                           first if first is not None and first < day else (ev_date if never_met else None),
                           None if never_met else day,
                           iqa_date if sampled and not never_met and iqa_date <= AS_OF else None))
    return steps


def progress_record(q: Qualification, s: SampleLearner, *, reading: str | None = None, as_of: dt.date = AS_OF,
                    progress: float | None = None, sample_rate: float = 0.25) -> LearnerRecord:
    """The learner's workbook contents as they stand on ``as_of`` (a snapshot of :func:`timeline`).

    Snapshots of the same learner at two dates agree on everything the earlier one holds, apart
    from "Not yet met" decisions that later became "Met" -- so returns over time are new work, not
    conflicts.
    """
    lr = s.learner
    assessor = lr.assessor or ASSESSORS[0]
    entries: dict[str, CriterionEntry] = {}
    evidence: list[EvidenceEntry] = []
    for st in timeline(q, s, reading=reading, sample_rate=sample_rate, progress=progress):
        if st.evidence_date > as_of:
            continue
        decided = st.met_date is not None and st.met_date <= as_of
        tried = st.first_attempt is not None and st.first_attempt <= as_of
        evidence.append(EvidenceEntry(st.evidence_ref, f"{st.method} - unit {st.unit}, {st.ref}", st.method,
                                      st.evidence_date, st.location))
        entry = CriterionEntry(evidence_refs=(st.evidence_ref,), method=st.method, evidence_date=st.evidence_date)
        if decided:
            assert st.met_date is not None
            entry = replace(entry, decision=L.MET, assessor=_signature(assessor), assessor_date=st.met_date)
            if st.iqa_date is not None and st.iqa_date <= as_of:
                entry = replace(entry, iqa_sampled=L.YES, iqa=lr.iqa, iqa_date=st.iqa_date,
                                iqa_decision=L.AGREED)
        elif tried:
            entry = replace(entry, decision=L.NOT_YET_MET, assessor=_signature(assessor),
                            assessor_date=st.first_attempt, comments="Resubmit with a workplace example")
        entries[st.ref] = entry
    return LearnerRecord(learner=lr, entries=entries, evidence=tuple(evidence))


def write_register(path: str | Path, staff: Sequence[SampleStaff] | None = None) -> Path:
    """A centre register listing ``staff`` (default :func:`sample_staff`)."""
    import openpyxl

    from tracker.register import HEADER_ROW, STAFF_COLUMNS, STAFF_SHEET, new_register

    p = new_register(path)
    wb = openpyxl.load_workbook(p)
    ws = wb[STAFF_SHEET]
    for r, m in enumerate(staff if staff is not None else sample_staff(), start=HEADER_ROW + 2):
        values = {"name": m.name, "roles": m.roles, "assessor_qualification": m.assessor_qualification,
                  "assessor_status": m.assessor_status or "None", "iqa_qualification": m.iqa_qualification,
                  "iqa_status": m.iqa_status or "None", "countersigner": m.countersigner}
        for c, col in enumerate(STAFF_COLUMNS, start=1):
            v = values.get(col.key, "")
            if v:
                ws.cell(row=r, column=c, value=v)
    wb.save(p)
    return p


def _write_one(args: tuple[Qualification, LearnerRecord, str, str | None, str]) -> str:
    from tracker.workbook.writer import new_workbook

    q, record, path, reading, wid = args
    new_workbook(q, record, path, reading=reading, workbook_id=wid,
                 created=dt.datetime(2024, 9, 1, 9, 0, 0))
    return path


def write_workbooks(items: Sequence[tuple[Qualification, SampleLearner, LearnerRecord]], folder: str | Path, *,
                    readings: dict[str, str] | None = None, workers: int = 1,
                    names: Sequence[str] | None = None) -> list[Path]:
    """Write each learner's workbook into ``folder`` (file names from :attr:`SampleLearner.file_name`)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(q, rec, str(out / (names[i] if names else s.file_name)), (readings or {}).get(q.id), s.workbook_id)
            for i, (q, s, rec) in enumerate(items)]
    if workers > 1 and len(jobs) > 8:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            paths = list(pool.map(_write_one, jobs, chunksize=8))
    else:
        paths = [_write_one(j) for j in jobs]
    return [Path(p) for p in paths]
