"""End-point assessment (EPA) gateway readiness of each apprentice, for the master's Gateway sheet.

An apprentice is **ready** when every item holds, else **not ready** with the missing items named:

1. *criteria* -- every required criterion achieved (the one definition,
   :mod:`tracker.workbook.progress`, as the master counts it);
2. *IQA sampling* -- summative IQA sampling done, by :func:`summative_sampling_done`;
3. *OTJ* -- off-the-job hours logged at or above the minimum for the standard and start date
   (:func:`tracker.rules.otj_policy.otj_minimum`: the weekly rule, or the figure the centre recorded
   on its register); no known minimum is a missing item that says why;
4. *employer sign-off* -- the cover's ``Employer gateway sign-off`` date;
5. *English and maths* -- a status the centre's policy accepts (:data:`ENGLISH_MATHS_ACCEPTED`):
   since February 2025 English and maths are no longer mandatory for apprentices aged 19 or over,
   so the status is recorded and the policy decides.

**The sampling condition is one function on purpose.** Today it uses what
:mod:`tracker.centre.iqa` counts as sampled (a row with an IQA decision, or "IQA sampled: Yes"):
every unit of the learner's qualification has at least one sampled criterion, and no IQA decision
is "Referred back". When the written sampling policy (interim / summative sampling, planned
against done) lands, only :func:`summative_sampling_done` changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracker.centre import ledger as LG
from tracker.rules.otj_policy import otj_minimum
from tracker.workbook import layout as L

if TYPE_CHECKING:
    from tracker.register import Register

READY = "Ready"
NOT_READY = "Not ready"
# English and maths statuses that count as "recorded as the standard requires" (the centre's
# policy; a centre that needs evidence of achievement for every apprentice removes the others).
ENGLISH_MATHS_ACCEPTED = frozenset({L.EM_ACHIEVED, L.EM_EXEMPT, L.EM_NOT_REQUIRED})

ITEM_CRITERIA = "criteria not all achieved"
ITEM_SAMPLING = "summative IQA sampling not done"
ITEM_SIGNOFF = "no employer gateway sign-off date"


@dataclass(slots=True)
class GatewayRow:
    """One apprentice's readiness: each item's state, and the missing items in words."""

    criteria_achieved: bool
    sampling_done: bool
    otj_hours: float
    otj_minimum: float | None
    otj_how: str
    signoff: str | None  # ISO date
    english_maths: str | None
    missing: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """True when nothing is missing."""
        return not self.missing


def summative_sampling_done(unit_sampled: Mapping[int, bool], iqa_decisions: list[str | None]) -> bool:
    """Summative IQA sampling done for one learner -- the single place that defines it.

    Today: every unit has at least one criterion an IQA sampled (``unit_sampled``: unit number ->
    sampled, as :mod:`tracker.centre.iqa` counts sampling) and no criterion is referred back. To be
    switched to the centre's written sampling policy when it lands.
    """
    if not unit_sampled or not all(unit_sampled.values()):
        return False
    return all((d or "").casefold() != L.REFERRED_BACK.casefold() for d in iqa_decisions)


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def readiness(app: LG.Apprenticeship, *, criteria_achieved: bool, unit_sampled: Mapping[int, bool],
              iqa_decisions: list[str | None], register: Register | None) -> GatewayRow:
    """The gateway readiness of one apprentice."""
    m = otj_minimum(app.standard, _date(app.start_date), _date(app.planned_end_date), app.weekly_hours, register)
    row = GatewayRow(criteria_achieved, summative_sampling_done(unit_sampled, iqa_decisions), app.otj_hours,
                     m.hours, m.explanation, app.gateway_signoff_date, app.english_maths)
    if not criteria_achieved:
        row.missing.append(ITEM_CRITERIA)
    if not row.sampling_done:
        row.missing.append(ITEM_SAMPLING)
    if m.hours is None:
        row.missing.append(f"OTJ minimum unknown ({m.explanation})")
    elif app.otj_hours < m.hours:
        row.missing.append(f"OTJ hours {app.otj_hours:g} below the minimum {m.hours:g}")
    if not app.gateway_signoff_date:
        row.missing.append(ITEM_SIGNOFF)
    if app.english_maths not in ENGLISH_MATHS_ACCEPTED:
        row.missing.append(f"English and maths: {app.english_maths or 'no status recorded'}")
    return row


def gateway_record(learner: LG.LearnerRow, qualification: str, row: GatewayRow) -> dict[str, Any]:
    """The master's Gateway-sheet row of one apprentice (keyed as the master's columns)."""
    return {
        "uln": learner.uln, "name": learner.name, "qualification_number": learner.qualification_number,
        "qualification": qualification,
        "ready": READY if row.ready else NOT_READY, "missing": "; ".join(row.missing),
        "criteria": L.YES if row.criteria_achieved else L.NO,
        "sampling": L.YES if row.sampling_done else L.NO,
        "otj_hours": row.otj_hours, "otj_minimum": row.otj_minimum, "signoff": row.signoff,
        "english_maths": row.english_maths or "", "otj_how": row.otj_how,
    }
