"""Progress, defined once: when a criterion is achieved, a unit complete, a qualification achieved.

Every view of progress uses this module -- the validator's completion checks, the master, the
export, the add-in -- and the learner workbook's Summary formulas express the same rule in Excel
(:func:`summary_countifs`), so a figure never depends on where it is read.

**A required criterion is achieved** when

* its Decision is ``Met``,
* with its sign-off: an evidence ref, a method, the assessor's name and the assessor's date
  (the evidence date is recommended, not required: its absence is a warning of the checks), and
* its IQA decision is not ``Referred back``.

A referral counts against the criterion until the IQA records ``Agreed`` over it. A row the
assessor re-signed after a referral (an assessor date after the IQA date) is **awaiting IQA
re-check**: still not achieved (the checks report it as information on the row). The IQA's
``Agreed`` replaces ``Referred back`` in the same cell, so "referred back, then agreed" is simply
an achieved row.

**A unit** is *Complete* when every criterion required of the learner on it is achieved, *Not
started* when none is, else *In progress*. **The qualification** is
achieved when every unit is complete and, where the qualification has either/or pathways, the
learner's pathway is known (with the pathway unknown the either/or criteria cannot be counted).

Values are given as a ``get(key) -> value`` function over the layout's column keys so that the
checks (located cells), the ledger (stored strings) and the writer (a record) all use the same
code; values must be normalised as the reader normalises them (``Met``, ``Referred back``; dates
as :class:`datetime.date` or ISO text).

Trainee assessors: whether a trainee's Met counts also depends on a countersignature, which needs
the centre register; that is a finding of the staff checks, not of progress (a centre without a
register still sees progress).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from tracker.workbook import layout as L

Get = Callable[[str], Any]

# What a Met decision must carry to count (the validator reports each missing one as an error).
SIGN_OFF_KEYS: tuple[str, ...] = ("evidence_refs", "method", "assessor", "assessor_date")
# The entry columns whose content means "this criterion has been worked on" (IQA columns and
# comments do not count: an IQA note or a comment alone is not assessment).
WORK_KEYS: tuple[str, ...] = ("evidence_refs", "method", "evidence_date", "decision", "assessor",
                              "assessor_date")


class CriterionState(Enum):
    """Where one criterion stands (for a required criterion; required-ness is the spec's)."""

    NOT_STARTED = "Not started"
    IN_PROGRESS = "In progress"  # work recorded, decision not Met
    MET_UNSIGNED = "Met, sign-off incomplete"  # Met without evidence ref, method, assessor or date
    REFERRED_BACK = "Referred back"  # the IQA referred it back; the assessor has not re-signed
    AWAITING_RECHECK = "Awaiting IQA re-check"  # re-signed after a referral, the IQA has not agreed
    ACHIEVED = "Achieved"

    @property
    def achieved(self) -> bool:
        """True for :attr:`ACHIEVED` only."""
        return self is CriterionState.ACHIEVED


def _blank(v: Any) -> bool:
    return v is None or v == "" or v == ()


def _date(v: Any) -> dt.date | None:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v[:10])
        except ValueError:
            return None
    return None


def _is(v: Any, text: str) -> bool:
    return isinstance(v, str) and v.strip().casefold() == text.casefold()


def is_worked(get: Get) -> bool:
    """True when assessment work is recorded (any of :data:`WORK_KEYS` filled in)."""
    for k in WORK_KEYS:  # a loop, not any(generator): this runs per criterion row of a roll-up
        if not _blank(get(k)):
            return True
    return False


def resigned_after_referral(get: Get) -> bool:
    """True when a referred-back row carries an assessor date after the IQA date."""
    a, i = _date(get("assessor_date")), _date(get("iqa_date"))
    return a is not None and i is not None and a > i


def criterion_state(get: Get) -> CriterionState:
    """The :class:`CriterionState` of one criterion row (see the module doc for the rule)."""
    decision = get("decision")
    if _is(get("iqa_decision"), L.REFERRED_BACK):
        if _is(decision, L.MET) and resigned_after_referral(get):
            return CriterionState.AWAITING_RECHECK
        return CriterionState.REFERRED_BACK
    if _is(decision, L.MET):
        for k in SIGN_OFF_KEYS:
            if _blank(get(k)):
                return CriterionState.MET_UNSIGNED
        return CriterionState.ACHIEVED
    return CriterionState.IN_PROGRESS if is_worked(get) else CriterionState.NOT_STARTED


def unit_status(required: int, achieved: int) -> str:
    """Not started / In progress / Complete for a unit with ``achieved`` of its ``required``
    criteria achieved. Counted on achieved criteria only, so that the workbook's Summary formula
    (one ``COUNTIFS``) gives the same status; work in progress shows in the criteria figures."""
    # A unit with no criterion counted (the either/or unit while the pathway is unknown) is not
    # started: there is nothing to complete yet -- as the Summary's formula says (F=0 first).
    if required and achieved >= required:
        return L.STATUS_COMPLETE
    return L.STATUS_IN_PROGRESS if achieved else L.STATUS_NOT_STARTED


def qualification_achieved(unit_statuses: Iterable[str], pathway_needed: bool) -> bool:
    """True when every unit is complete and no unknown pathway leaves criteria uncounted."""
    statuses = list(unit_statuses)
    return bool(statuses) and not pathway_needed and all(s == L.STATUS_COMPLETE for s in statuses)


def summary_countifs(ranges: dict[str, str]) -> str:
    """The Excel ``COUNTIFS`` counting achieved required criteria of one unit sheet.

    ``ranges`` maps ``"required"`` and every key of :data:`SIGN_OFF_KEYS`, ``"decision"`` and
    ``"iqa_decision"`` to a range. Excel's (and LibreOffice's) criteria compare text without
    letter case, like the reader; ``"<>"`` matches a non-empty cell and ``"<>Referred back"``
    every cell but a referral (blank included). A re-signed referral still holds ``Referred back``
    in its IQA decision cell, so it does not count -- as :func:`criterion_state` says.
    """
    parts = [ranges["required"], f'"{L.REQUIRED_YES}"', ranges["decision"], f'"{L.MET}"']
    for key in SIGN_OFF_KEYS:
        parts += [ranges[key], '"<>"']
    parts += [ranges["iqa_decision"], f'"<>{L.REFERRED_BACK}"']
    return f"COUNTIFS({','.join(parts)})"


__all__ = ["SIGN_OFF_KEYS", "WORK_KEYS", "CriterionState", "criterion_state", "is_worked",
           "qualification_achieved", "resigned_after_referral", "summary_countifs", "unit_status"]
