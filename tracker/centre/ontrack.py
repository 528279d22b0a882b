"""Is a learner on track? Progress against the planned time, and activity, as the centre reads it.

A learner is

* **Complete** when the qualification is achieved;
* **Overdue** past the planned end date, or when nothing has been recorded (no evidence,
  assessor or IQA date) for :data:`INACTIVITY_WEEKS` weeks -- counted from the registration date
  when there has been no activity at all;
* **Far behind** when the share of required criteria achieved trails the share of the planned
  time elapsed (registration date to planned end date) by :data:`FAR_BEHIND_POINTS` points or more,
  **Behind** at :data:`BEHIND_POINTS`, else **On track**;
* **No planned end date** (or **No registration date**) when the time share cannot be known.

Pure functions of dates and counts: the master and the report call them with ``today``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

ON_TRACK = "On track"
BEHIND = "Behind"
FAR_BEHIND = "Far behind"
OVERDUE = "Overdue"
COMPLETE = "Complete"
NO_END_DATE = "No planned end date"
NO_START_DATE = "No registration date"
STATUSES = (ON_TRACK, BEHIND, FAR_BEHIND, OVERDUE, COMPLETE, NO_END_DATE, NO_START_DATE)

BEHIND_POINTS = 10
FAR_BEHIND_POINTS = 25
#: The centre's policy on inactivity: weeks without any recorded date before a learner is overdue.
INACTIVITY_WEEKS = 8


def last_activity(dates: Iterable[dt.date | None]) -> dt.date | None:
    """The latest of the given dates (evidence, assessor and IQA dates), or None."""
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def on_track(*, required: int, achieved: int, complete: bool, registration: dt.date | None,
             planned_end: dt.date | None, last: dt.date | None, today: dt.date,
             inactivity_weeks: int = INACTIVITY_WEEKS) -> str:
    """The on-track status of one learner (see the module doc)."""
    if complete:
        return COMPLETE
    if planned_end is None:
        return NO_END_DATE
    if today > planned_end:
        return OVERDUE
    since = last or registration
    if since is not None and (today - since).days >= 7 * inactivity_weeks:
        return OVERDUE
    if registration is None:
        return NO_START_DATE
    span = (planned_end - registration).days
    elapsed = 1.0 if span <= 0 else min(max((today - registration).days / span, 0.0), 1.0)
    done = achieved / required if required else 1.0
    gap = round((elapsed - done) * 100, 6)  # 0.5 - 0.4 is 0.0999...: a 10-point gap is behind
    if gap >= FAR_BEHIND_POINTS:
        return FAR_BEHIND
    if gap >= BEHIND_POINTS:
        return BEHIND
    return ON_TRACK
