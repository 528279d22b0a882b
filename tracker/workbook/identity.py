"""Which qualification a workbook is on, under which reading, on which pathway: decided once.

Every path that needs it -- the rules engine, the centre's roll-up and inbox preview, the add-in,
the master -- calls :func:`identify` (or, given a qualification number alone, the catalogue's
:func:`~tracker.spec.catalogue.load_qualification`) instead of reading the metadata itself, and
passes the :class:`Identity` on, so a returned workbook's qualification is looked up once on its
way from the inbox to the checks. The reader stays structural: it reports what the file holds
(metadata, cover values) and never queries the catalogue.

The lookup order:

1. the hidden metadata's qualification number (``spec_number``), then its specification id
   (``spec_id``) -- written by tracker, out of reach of typing;
2. the cover's qualification number;

each searched among the centre's own qualifications (``extra_dirs``: a centre's ``specs/``)
and then the installed ones. The metadata's specification *version* is not part of the lookup
(one version of a qualification is installed at a time); a workbook built from another version
is reported by the tampering check. A cover that disagrees with the metadata is reported by the
checks, not resolved here.

The reading of an ambiguous specification (L2 Unit 17) is the first the qualification knows of:
the caller's choice (a command-line option, the centre's configuration), the reading recorded in
the workbook, the specification's default (:meth:`Qualification.pick_reading`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tracker.errors import TrackerError
from tracker.spec.models import Qualification
from tracker.workbook.model import LearnerWorkbook


@dataclass(frozen=True, slots=True)
class Identity:
    """A workbook's qualification (None when not installed), why not, reading and pathway id."""

    qualification: Qualification | None
    problem: str = ""  # why the qualification was not found ('' when found)
    reading: str = ""  # the reading applied ('' without a qualification or readings)
    pathway: str | None = None  # pathway id the cover names under the qualification, else None


def lookup_keys(book: LearnerWorkbook) -> list[str]:
    """The keys a workbook names its qualification by, in lookup order, without repeats."""
    keys = (book.meta.get("spec_number", ""), book.meta.get("spec_id", ""), book.qualification_number)
    return list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))


def find_qualification(book: LearnerWorkbook,
                       extra_dirs: Iterable[str | Path] = ()) -> tuple[Qualification | None, str]:
    """(qualification, problem): the first key of :func:`lookup_keys` that is installed."""
    from tracker.spec.catalogue import load_qualification

    dirs = tuple(extra_dirs)
    keys = lookup_keys(book)
    if not keys:
        return None, "the workbook names no qualification number"
    first_problem = ""
    for key in keys:
        try:
            return load_qualification(key, dirs), ""
        except TrackerError as e:
            first_problem = first_problem or str(e)
    return None, first_problem


def resolve_pathway(book: LearnerWorkbook, q: Qualification | None) -> str | None:
    """The pathway id the cover's Pathway text names under ``q``; None when blank, unknown or
    without a qualification."""
    text = book.cover_value("pathway")
    if not text or q is None:
        return None
    p = q.pathway_by_label(str(text))
    return p.id if p else None


def _plain_number(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def metadata_disagreement(book: LearnerWorkbook, q: Qualification | None,
                          extra_dirs: Iterable[str | Path] = ()) -> str | None:
    """Why the hidden metadata and the cover name two different qualifications, or None.

    ``q`` is what :func:`identify` found (the metadata first). A cover naming *another real
    qualification* -- one that is installed, or a number whose check character fits -- makes the
    file contradict itself: trusting either side could enrol the learner on a qualification they
    are not on. A cover number that is neither is taken for a typo (the metadata, out of reach of
    typing, stands; the checks report the cover).
    """
    from tracker.identifiers import check_qualification_number
    from tracker.spec.catalogue import load_qualification

    cover = str(book.cover_value("qualification_number") or "").strip()
    meta = (book.meta.get("spec_number", "") or book.meta.get("spec_id", "")).strip()
    if q is None or not cover or not meta or _plain_number(cover) == _plain_number(q.number):
        return None
    try:
        other: Qualification | None = load_qualification(cover, tuple(extra_dirs))
    except TrackerError:
        other = None
    if other is None and check_qualification_number(cover).severity is not None:
        return None  # not a real qualification number: a typo on the cover
    if other is not None and other.number == q.number:
        return None
    return (f"its hidden metadata says it was made for qualification {meta} ({q.number}), but its cover "
            f"names {cover}")


def identify(book: LearnerWorkbook, *, qualification: Qualification | None = None,
             extra_dirs: Iterable[str | Path] = (), reading: str | None = None) -> Identity:
    """The :class:`Identity` of ``book`` (``qualification`` given: no lookup).

    ``reading`` is the caller's preferred reading (command line or centre); the workbook's own
    recorded reading comes next, then the specification's default.
    """
    q, problem = (qualification, "") if qualification is not None else find_qualification(book, extra_dirs)
    if q is None:
        return Identity(None, problem)
    return Identity(q, "", q.pick_reading(reading, book.meta.get("reading", "")), resolve_pathway(book, q))


__all__ = ["Identity", "find_qualification", "identify", "lookup_keys", "metadata_disagreement", "resolve_pathway"]
