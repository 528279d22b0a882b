"""Identifiers: Unique Learner Number, Ofqual qualification number, Ofqual unit reference.

Each check returns an :class:`IdCheck` rather than raising: a bad identifier in a learner's
workbook is learner data, reported as an issue, not an exception.

* ULN: 10 digits, first not 0. Weights 10, 9, ..., 2 on digits 1-9; r = sum mod 11; r = 0 is
  invalid, otherwise the 10th digit must be 10 - r. 9999999999 is the sector's "not known" value:
  accepted with a warning.
* Qualification number ``603/4687/5`` and unit reference ``J/617/6433``: the format is certain.
  The check character (weights 8..2 over the seven digits, sum mod 11; for qualification numbers
  10 is written 'X'; for unit references the letter is "ADFHJKLMRTY"[sum mod 11]) fits every real
  number we have seen but is not officially published, so a mismatch is only a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ULN_NOT_KNOWN = "9999999999"
_UNIT_LETTERS = "ADFHJKLMRTY"
_QN = re.compile(r"^(\d{3})/(\d{4})/([\dX])$")
_UNIT = re.compile(r"^([A-Z])/(\d{3})/(\d{4})$")


@dataclass(frozen=True, slots=True)
class IdCheck:
    """Outcome of an identifier check: ``severity`` is None when the value is fine."""

    value: str
    severity: Literal["error", "warning"] | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        """True when there is nothing to report."""
        return self.severity is None


def _weighted(digits: str, first_weight: int) -> int:
    return sum(int(d) * w for d, w in zip(digits, range(first_weight, 1, -1)))


def uln_check_digit(first_nine: str) -> int | None:
    """The check digit for the first nine digits of a ULN, or None when no digit can be valid."""
    r = _weighted(first_nine, 10) % 11
    return None if r == 0 else 10 - r


def check_uln(value: object) -> IdCheck:
    """Check a Unique Learner Number (str or int)."""
    text = _as_text(value)
    if not text:
        return IdCheck(text, "error", "no ULN given")
    if text == ULN_NOT_KNOWN:
        return IdCheck(text, "warning", "ULN 9999999999 means 'not known'; record the real ULN")
    if not re.fullmatch(r"\d{10}", text):
        return IdCheck(text, "error", f"ULN {text!r} is not 10 digits")
    if text[0] == "0":
        return IdCheck(text, "error", f"ULN {text} starts with 0")
    expected = uln_check_digit(text[:9])
    if expected is None:
        return IdCheck(text, "error", f"ULN {text} cannot be valid (its first nine digits give no check digit)")
    if int(text[9]) != expected:
        return IdCheck(text, "error", f"ULN {text} fails its check digit (a digit is mistyped)")
    return IdCheck(text)


def check_qualification_number(value: object) -> IdCheck:
    """Check an Ofqual qualification number such as 603/4687/5."""
    text = _as_text(value)
    m = _QN.match(text)
    if not m:
        return IdCheck(text, "error", f"qualification number {text!r} is not in the form 123/4567/8")
    total = _weighted(m.group(1) + m.group(2), 8) % 11
    expected = "X" if total == 10 else str(total)
    if m.group(3) != expected:
        return IdCheck(text, "warning",
                       f"qualification number {text}: check character is {m.group(3)}, expected {expected}")
    return IdCheck(text)


def check_unit_ref(value: object) -> IdCheck:
    """Check an Ofqual unit reference such as J/617/6433."""
    text = _as_text(value)
    m = _UNIT.match(text)
    if not m:
        return IdCheck(text, "error", f"unit reference {text!r} is not in the form A/123/4567")
    expected = _UNIT_LETTERS[_weighted(m.group(2) + m.group(3), 8) % 11]
    if m.group(1) != expected:
        return IdCheck(text, "warning", f"unit reference {text}: check letter is {m.group(1)}, expected {expected}")
    return IdCheck(text)


def _as_text(value: object) -> str:
    # Excel stores a typed ULN as a float (1000000043.0); never show that as text.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()
