"""The minimum off-the-job (OTJ) training hours of an apprentice, by the rules in force at their start.

The rules are data (``tracker/rules/data/otj-rules.yaml``), each with the start dates it covers:

* starts from 1 August 2022 to 31 July 2025: **weekly** -- 6 hours a week (pro rata below 30
  contracted hours a week) over the planned duration, less statutory leave;
* starts from 1 August 2025: **per standard** -- a fixed minimum the Department for Education
  publishes for each standard. The package never carries that figure: the centre records it on
  its register (:class:`tracker.register.StandardMinimum`), and a standard without a recorded
  figure gets no minimum (the OTJ check then says where to find it).

:func:`otj_minimum` is used by the workbook check (:mod:`tracker.rules.checks.otj`) and by the
centre's gateway (:mod:`tracker.centre.gateway`), so both always agree. The rule types are
dataclasses that pydantic validates when the data file is first read (only for an apprentice's
workbook), so importing this module does not import pydantic or YAML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from tracker.register import Register


@dataclass(frozen=True, slots=True, kw_only=True)
class OtjRule:
    """One OTJ rule of the data file, with the start dates it applies to."""

    __pydantic_config__: ClassVar = {"extra": "forbid"}  # a misspelt key is an error, not ignored

    id: str
    starts_from: dt.date
    starts_to: dt.date | None = None
    kind: Literal["weekly", "per-standard"]
    hours_per_week: float = 0
    full_time_weekly_hours: float = 0
    statutory_leave_weeks_per_year: float = 0
    source: str

    def covers(self, start: dt.date) -> bool:
        """True when the rule applies to an apprenticeship started on ``start``."""
        return self.starts_from <= start and (self.starts_to is None or start <= self.starts_to)


@dataclass(frozen=True, slots=True, kw_only=True)
class OtjRules:
    """The data file: every rule, in date order."""

    __pydantic_config__: ClassVar = {"extra": "forbid"}

    rules: tuple[OtjRule, ...]


@lru_cache(maxsize=1)
def rules() -> tuple[OtjRule, ...]:
    """The shipped OTJ rules (loaded and validated once)."""
    from importlib import resources

    import yaml
    from pydantic import TypeAdapter

    text = resources.files("tracker.rules").joinpath("data/otj-rules.yaml").read_text(encoding="utf-8")
    return TypeAdapter(OtjRules).validate_python(yaml.safe_load(text)).rules


def rule_for(start: dt.date) -> OtjRule | None:
    """The rule covering a start on ``start`` (None before the earliest rule)."""
    for r in rules():
        if r.covers(start):
            return r
    return None


@dataclass(frozen=True, slots=True)
class OtjMinimum:
    """The minimum OTJ hours of one apprentice, or why there is none."""

    hours: float | None  # None: not known (see ``missing``)
    rule: OtjRule | None
    explanation: str  # how the figure was found, in plain words
    missing: str = ""  # why there is no figure: "start", "end", "rule", "figure" ('' when there is one)


def weekly_minimum(rule: OtjRule, start: dt.date, end: dt.date, weekly_hours: float | None) -> float:
    """The weekly rule's minimum: hours a week (pro rata below full time) x (weeks - leave weeks).

    Planned duration in weeks = days / 7; statutory leave = leave weeks a year x duration in years.
    Without contracted hours, full time is assumed (the highest minimum: never under-states it).
    """
    weeks = max((end - start).days, 0) / 7
    leave = rule.statutory_leave_weeks_per_year * (end - start).days / 365.25 if end > start else 0.0
    ratio = 1.0 if weekly_hours is None else min(1.0, max(weekly_hours, 0.0) / rule.full_time_weekly_hours)
    return round(rule.hours_per_week * ratio * max(weeks - leave, 0.0), 1)


def otj_minimum(standard: str | None, start: dt.date | None, end: dt.date | None, weekly_hours: float | None,
                register: Register | None) -> OtjMinimum:
    """The minimum OTJ hours for an apprentice on ``standard`` started on ``start``."""
    if start is None:
        return OtjMinimum(None, None, "no start date on the cover", "start")
    rule = rule_for(start)
    if rule is None:
        return OtjMinimum(None, None, f"tracker has no OTJ rule for starts before "
                                      f"{rules()[0].starts_from:%d/%m/%Y}", "rule")
    if rule.kind == "weekly":
        if end is None:
            return OtjMinimum(None, rule, "no planned end date on the cover", "end")
        hours = weekly_minimum(rule, start, end, weekly_hours)
        basis = ("full time assumed (no contracted weekly hours on the cover)" if weekly_hours is None
                 else f"{weekly_hours:g} contracted hours a week")
        return OtjMinimum(hours, rule, f"{rule.hours_per_week:g} hours a week from {start:%d/%m/%Y} to "
                                       f"{end:%d/%m/%Y}, less statutory leave, {basis}")
    recorded = register.otj_minimum(standard, start) if register is not None else None
    if recorded is None:
        return OtjMinimum(None, rule, f"no minimum recorded for {standard or 'the standard'} on the centre "
                                      "register", "figure")
    return OtjMinimum(recorded.minimum, rule, f"the published minimum for {recorded.standard}, as recorded on "
                                              f"the centre register (row {recorded.row})")
