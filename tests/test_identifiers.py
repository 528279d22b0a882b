"""ULN, qualification number and unit reference checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.identifiers import (check_qualification_number, check_uln, check_unit_ref,
                                 uln_check_digit)


@pytest.mark.parametrize("uln", ["1000000043", "1234567899", 1000000043, 1000000043.0, " 1234567899 "])
def test_valid_ulns(uln: object) -> None:
    assert check_uln(uln).ok


@pytest.mark.parametrize("uln,fragment", [
    ("1000000044", "check digit"),
    ("1234567890", "check digit"),
    ("0123456789", "starts with 0"),
    ("123456789", "10 digits"),
    ("12345678901", "10 digits"),
    ("12345A7899", "10 digits"),
    ("", "no ULN"),
    (None, "no ULN"),
])
def test_invalid_ulns(uln: object, fragment: str) -> None:
    c = check_uln(uln)
    assert c.severity == "error" and fragment in c.problem


def test_not_known_uln_is_a_warning() -> None:
    c = check_uln("9999999999")
    assert c.severity == "warning" and "not known" in c.problem


def test_remainder_zero_has_no_valid_check_digit() -> None:
    # 1000000090: 1*10 + 9*2 = 28; 28 mod 11 = 6 -> fine; find a prefix with r = 0 by search.
    prefix = next(f"1{n:08d}" for n in range(10**8) if uln_check_digit(f"1{n:08d}") is None)
    for last in "0123456789":
        assert check_uln(prefix + last).severity == "error"


@given(st.integers(min_value=100_000_000, max_value=999_999_999))
def test_exactly_one_check_digit_per_prefix(n: int) -> None:
    prefix = str(n)
    valid = [d for d in "0123456789" if check_uln(prefix + d).ok]
    expected = uln_check_digit(prefix)
    assert valid == ([] if expected is None or expected == 10 else [str(expected)])


@pytest.mark.parametrize("qn", ["603/4687/5", "603/4688/7"])
def test_real_qualification_numbers(qn: str) -> None:
    assert check_qualification_number(qn).ok


def test_qualification_number_mismatch_is_a_warning() -> None:
    c = check_qualification_number("603/4687/6")
    assert c.severity == "warning" and "expected 5" in c.problem


@pytest.mark.parametrize("bad", ["6034687/5", "603/4687", "603-4687-5", "60/34687/5", ""])
def test_qualification_number_format_is_an_error(bad: str) -> None:
    assert check_qualification_number(bad).severity == "error"


def test_qualification_number_check_x() -> None:
    # Find a number whose weighted sum is 10 mod 11: its check character is written X.
    for n in range(10**7):
        digits = f"{n:07d}"
        if sum(int(d) * w for d, w in zip(digits, range(8, 1, -1))) % 11 == 10:
            qn = f"{digits[:3]}/{digits[3:]}/X"
            assert check_qualification_number(qn).ok
            break


@pytest.mark.parametrize("ref", ["J/617/6433", "L/617/6434", "Y/617/6453", "D/617/6454", "K/617/6456"])
def test_real_unit_refs(ref: str) -> None:
    assert check_unit_ref(ref).ok


def test_unit_ref_mismatch_is_a_warning_and_bad_format_an_error() -> None:
    assert check_unit_ref("A/617/6433").severity == "warning"
    assert check_unit_ref("J6176433").severity == "error"
    assert check_unit_ref("j/617/6433").severity == "error"
