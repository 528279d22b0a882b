"""The checks, one module per concern; :data:`ALL_CHECKS` is what the engine runs, in order.

Each check is declared with :func:`tracker.rules.checks.base.check` and names the issue types it
may emit (see ``docs/issues.md`` for every code).
"""

from __future__ import annotations

from tracker.rules.checks import (
    addin,
    conflicts,
    dates,
    evidence,
    identifiers,
    iqa,
    otj,
    pathways,
    plausibility,
    progress,
    signoff,
    staff,
    structure,
    tampering,
    values,
)
from tracker.rules.checks.base import Check

ALL_CHECKS: tuple[Check, ...] = (
    structure.qualification_known,
    structure.structure,
    addin.addin_content,
    values.values,
    identifiers.learner_ids,
    identifiers.spec_ids,
    tampering.tampering,
    pathways.reading,
    pathways.pathways,
    signoff.signoff,
    signoff.hidden_signoff,
    progress.progress,
    dates.dates,
    evidence.evidence,
    iqa.iqa,
    conflicts.conflicts,
    conflicts.declared_interests,
    staff.staff,
    otj.otj,
    otj.otj_minimum_hours,
    plausibility.plausibility,
)

__all__ = ["ALL_CHECKS", "Check"]
