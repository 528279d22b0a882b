"""The centre's IQA policy as the checks need it (set in ``centre.yaml``, see docs/iqa.md).

Part of the register layer, kept in a module of its own so that a check needing only the policy's
defaults (a workbook validated outside a centre has no register) does not import
:mod:`tracker.register`, whose dataclasses cost a one-file ``tracker validate`` ~6% of its start-up
(they are built, method by method, when the module is imported). :mod:`tracker.register`
re-exports everything here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COUNTERSIGN_ANY", "COUNTERSIGN_NAMED", "COUNTERSIGN_POLICIES", "Policy"]

COUNTERSIGN_NAMED = "named"
COUNTERSIGN_ANY = "any"
COUNTERSIGN_POLICIES = (COUNTERSIGN_NAMED, COUNTERSIGN_ANY)


@dataclass(frozen=True, slots=True)
class Policy:
    """The centre's IQA policy as the checks need it (set in ``centre.yaml``, see docs/iqa.md).

    ``countersign``: "named" -- a trainee's decisions are countersigned only by the countersigner
    the register names; "any" -- by any assessor whose assessor qualification is Held.
    """

    countersign: str = COUNTERSIGN_NAMED
    # Share of an assessor's decisions the IQA samples, per risk level (a trainee: always 100%).
    rate_low: float = 0.10
    rate_medium: float = 0.25
    rate_high: float = 0.50
    # Share of the planned samples taken from work in progress (interim) rather than Met decisions.
    interim_share: float = 0.25
    # The planning period: a plan covers this many days; planned vs done is judged over it.
    period_days: int = 90
    # An assessor whose first decision is this recent is a new assessor (high risk).
    new_assessor_days: int = 180
    # A referral rate (IQA referrals / sampled decisions) above this raises an assessor's risk.
    referral_rate: float = 0.20
    # A learner with this share of criteria Met or more is near completion.
    near_completion: float = 0.80
    # Plausibility: this many criteria or more evidenced, or signed, on one day is a warning.
    same_day: int = 10
    # The centre applied to use recognition of prior learning (RPL is then a typical method).
    rpl: bool = False
