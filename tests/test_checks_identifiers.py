"""Identifiers: learner name, ULN, qualification number, unit references."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures import L2, L3, complete_record, cover_at, edit, found, header_at, record, validate, write

from tracker.rules.checks import identifiers as I

CHECKS = (I.learner_ids, I.spec_ids)


@pytest.mark.parametrize("uln, code", [
    ("1000000043", None), ("1234567899", None),
    ("9999999999", "id-uln-not-known"),
    ("1000000044", "id-uln-invalid"), ("0123456789", "id-uln-invalid"), ("12345", "id-uln-invalid"),
    ("", "id-uln-missing"),
])
def test_uln(tmp_path: Path, uln: str, code: str | None) -> None:
    task = validate(write(tmp_path, L3, record({}, pathway=None, uln=uln)))
    assert found(task, *CHECKS) == ([] if code is None else [(code, *cover_at("uln"))])


def test_learner_name_missing(tmp_path: Path) -> None:
    task = validate(write(tmp_path, L3, record({}, pathway=None, name="")))
    assert found(task, *CHECKS) == [("id-learner-name-missing", *cover_at("name"))]


@pytest.mark.parametrize("number, codes", [
    ("603/4687/6", ["id-qualification-number-check", "id-qualification-number-mismatch"]),
    ("603/4688/7", ["id-qualification-number-mismatch"]),  # the L3's number on an L2 workbook
    ("603-4687-5", ["id-qualification-number-invalid"]),
    ("", ["id-qualification-number-invalid"]),
])
def test_qualification_number(tmp_path: Path, number: str, codes: list[str]) -> None:
    # The hidden metadata still says L2, so the workbook is checked as L2.
    p = edit(write(tmp_path, L2, complete_record(L2, "face-to-face")), {cover_at("qualification_number"): number})
    task = validate(p)
    assert found(task, *CHECKS) == sorted((c, *cover_at("qualification_number")) for c in codes)


@pytest.mark.parametrize("ref, codes", [
    ("H/617/9999", ["id-unit-ref-mismatch"]),                        # well formed, not unit 2's
    ("X/617/9999", ["id-unit-ref-check", "id-unit-ref-mismatch"]),   # check letter does not fit either
    ("617/9999", ["id-unit-ref-invalid"]),
    ("", ["id-unit-ref-invalid"]),
])
def test_unit_reference(tmp_path: Path, ref: str, codes: list[str]) -> None:
    p = edit(write(tmp_path, L2, complete_record(L2, "face-to-face")), {header_at(2, "ref"): ref})
    task = validate(p)
    # The sheet is still recognised as unit 2 by its criteria: nothing else goes wrong.
    assert found(task, *CHECKS) == sorted((c, *header_at(2, "ref")) for c in codes)
    assert [i.code for i in task.issues if i.code.startswith(("tamper", "completion-q"))] == [
        "completion-qualification-complete"]
