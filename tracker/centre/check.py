"""Checking a workbook the way its centre does: one place for the roll-up and the add-in.

* :func:`find_centre` -- the centre folder a workbook lives in (its folder or one above it).
* :func:`load_register` -- the centre register and its problems (a missing, blank or unreadable
  register means the staff checks are skipped, not that every signer is unknown).
* :func:`qualification_of` -- which installed qualification a workbook is on (hidden metadata
  first, then the cover); the reading that applies is the centre's choice, else the one recorded
  in the workbook, else the specification's default (:meth:`Qualification.pick_reading`).
* :func:`check_in_centre` -- :func:`tracker.rules.engine.check_workbook` with all of that.
* :func:`preview_inbox` -- every file waiting in the inbox, checked as the next roll-up will
  check it, without merging anything (the add-in's Validate on the master).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.errors import TrackerError
from tracker.issues import Issue, Report, Task

if TYPE_CHECKING:
    from tracker.centre.folder import Centre
    from tracker.register import Register
    from tracker.spec.models import Qualification
    from tracker.workbook.model import LearnerWorkbook


def find_centre(path: str | Path) -> Centre | None:
    """The centre whose folder holds ``path`` (a workbook or folder), or None outside any centre.

    Raises :class:`CentreError` when a ``centre.yaml`` is found but cannot be used.
    """
    from tracker.centre.folder import is_centre, open_centre

    p = Path(path).absolute()
    for folder in (p, *p.parents) if p.is_dir() else p.parents:
        if is_centre(folder):
            return open_centre(folder)
    return None


def load_register(centre: Centre) -> tuple[Register | None, list[Issue]]:
    """The centre register and its problems.

    Without a usable register (missing, unreadable, or no staff listed yet -- a new centre) the
    staff checks are skipped rather than reporting every signer as unknown; an unreadable
    register is one issue.
    """
    if not centre.register.is_file():
        return None, []
    from tracker.register import read_register

    try:
        reg, issues = read_register(centre.register)
    except TrackerError as e:
        from tracker.rules.engine import FILE_UNREADABLE

        reason = getattr(e, "reason", str(e))
        return None, [FILE_UNREADABLE(file=centre.register.name, path=centre.register.name,
                                      reason=f"{reason} (staff checks were skipped)")]
    if not reg.staff:
        return None, issues
    return reg, issues


def qualification_of(book: LearnerWorkbook, extra_dirs: Iterable[str | Path] = ()) -> Qualification | None:
    """The installed qualification a workbook is on: the hidden metadata (written by tracker, out
    of reach of typing) first, then the cover sheet; None when neither is installed."""
    from tracker.spec.catalogue import load_qualification

    dirs = tuple(extra_dirs)
    keys = (book.meta.get("spec_number", "").strip(), book.qualification_number.strip())
    for key in dict.fromkeys(k for k in keys if k):
        try:
            return load_qualification(key, dirs)
        except TrackerError:
            continue
    return None


def check_in_centre(book: LearnerWorkbook, centre: Centre | None, register: Register | None = None,
                    today: dt.date | None = None) -> Task:
    """Check ``book`` as the roll-up of ``centre`` checks it (plainly when ``centre`` is None)."""
    from tracker.rules.engine import check_workbook

    if centre is None:
        return check_workbook(book, register=register, today=today)
    q = qualification_of(book, [centre.specs])
    reading = q.pick_reading(centre.reading_for(q.id), book.meta.get("reading", "")) if q else None
    return check_workbook(book, qualification=q, register=register, reading=reading or None, today=today)


def preview_inbox(centre: Centre, register: Register | None = None, register_issues: Iterable[Issue] = (),
                  today: dt.date | None = None) -> Report:
    """Every file waiting in the inbox, checked as the next roll-up will; nothing is merged.

    The register's own problems come first, as a task of their own.
    """
    from tracker.centre.merge import inbox_files
    from tracker.rules.engine import read_or_task

    report = Report()
    problems = list(register_issues)
    if problems:
        report.tasks.append(Task(file=str(centre.register), learner="Centre register", issues=problems))
    for p in inbox_files(centre.inbox):
        book = read_or_task(p)  # an unreadable file is one issue, as everywhere
        report.tasks.append(book if isinstance(book, Task) else check_in_centre(book, centre, register, today))
    return report

