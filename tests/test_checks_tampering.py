"""Tampering: criteria and units changed, missing, added, duplicated or moved; specification version."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from fixtures import L2, L3, at, col, complete_record, edit, found, header_at, norm, row_after_table, set_meta, validate, write

from tracker.rules.checks import tampering as T
from tracker.workbook import layout as L


def _complete(tmp_path: Path, name: str = "w.xlsx", **kw: object) -> Path:
    return write(tmp_path, L2, complete_record(L2, "face-to-face"), name=name, **kw)


def test_untouched_and_renamed_sheets_are_fine(tmp_path: Path) -> None:
    p = edit(_complete(tmp_path), rename={"Unit 6": "Complaints", "Unit 1": "U1"})
    task = validate(p)
    assert found(task, T.tampering) == []
    assert task.valid


def test_criterion_text_ref_and_type_changed(tmp_path: Path) -> None:
    k11 = L2.unit(1).criterion("K1.1")  # type: ignore[union-attr]
    assert k11 is not None
    p = edit(_complete(tmp_path), {
        at(L2, "K1.1", "text"): "Know about customers",
        at(L2, "K1.2", "ref"): "K1.9",
        at(L2, "K1.3", "kind"): "Skill",
        # Whitespace differences are not changes.
        at(L2, "K2.1", "text"): "  " + L2.unit(2).criteria[0].text.replace(" ", "\n", 2) + " ",  # type: ignore[union-attr]
    })
    task = validate(p)
    assert found(task, T.tampering) == norm([
        ("tamper-criterion-text", *at(L2, "K1.1", "text")),
        ("tamper-criterion-ref", *at(L2, "K1.2", "ref")),
        ("tamper-criterion-kind", *at(L2, "K1.3", "kind")),
    ])
    # The renamed row still counts as K1.2: the unit is still complete.
    assert "completion-unit-incomplete" not in {i.code for i in task.issues}


def test_b17_1_pathway_wording_is_accepted(tmp_path: Path) -> None:
    b171 = L2.unit(17).criterion("B17.1")  # type: ignore[union-attr]
    assert b171 is not None
    # The learner's own pathway wording, and the specification's full text, are accepted ...
    p = edit(_complete(tmp_path), {at(L2, "B17.1", "text"): b171.variants["face-to-face"]})
    assert found(validate(p), T.tampering) == []
    p = edit(_complete(tmp_path, "full.xlsx"), {at(L2, "B17.1", "text"): b171.text})
    assert found(validate(p), T.tampering) == []
    # ... the other pathway's wording is a warning (issue 13).
    p = edit(_complete(tmp_path, "other.xlsx"), {at(L2, "B17.1", "text"): b171.variants["non-facing"]})
    assert found(validate(p), T.tampering) == [("tamper-other-pathway-wording", *at(L2, "B17.1", "text"))]


def test_rows_missing_unknown_duplicated_moved(tmp_path: Path) -> None:
    p = _complete(tmp_path)
    wb = openpyxl.load_workbook(p)
    # K1.3's row deleted (cleared), and a row for it added under Unit 2's table instead.
    u1 = wb["Unit 1"]
    for c in L.UNIT_TABLE_COLUMNS:
        u1.cell(row=L.UNIT_FIRST_DATA_ROW + 3, column=col(c.key) + 1).value = None
    u2 = wb["Unit 2"]
    r = row_after_table(L2, 2) + 1
    u2.cell(row=r, column=col("ref") + 1).value = "K1.3"
    u2.cell(row=r, column=col("text") + 1).value = L2.unit(1).criteria[2].text  # type: ignore[union-attr]
    # K2.1 again, and an unknown criterion, under Unit 2's table.
    u2.cell(row=r + 1, column=col("ref") + 1).value = "K2.1"
    u2.cell(row=r + 2, column=col("ref") + 1).value = "K2.9"
    u2.cell(row=r + 2, column=col("decision") + 1).value = "Met"
    # A note typed under the table is ignored; entries on a row without a ref are reported.
    u2.cell(row=r + 3, column=col("comments") + 1).value = "Checked by EQA"
    u2.cell(row=r + 4, column=col("decision") + 1).value = "Met"
    # K2.2 deleted, with nothing in its place.
    for c in L.UNIT_TABLE_COLUMNS:
        u2.cell(row=L.UNIT_FIRST_DATA_ROW + 2, column=col(c.key) + 1).value = None
    wb.save(p)
    task = validate(p)
    ref = L.cell_ref
    assert found(task, T.tampering) == norm([
        ("tamper-criterion-moved", "Unit 2", ref(r - 1, col("ref"))),
        ("tamper-criterion-duplicate", "Unit 2", ref(r, col("ref"))),
        ("tamper-criterion-unknown", "Unit 2", ref(r + 1, col("ref"))),
        ("tamper-criterion-unknown", "Unit 2", ref(r + 3, col("ref"))),
        ("tamper-criterion-missing", "Unit 2", None),
    ])
    missing = next(i for i in task.issues if i.code == "tamper-criterion-missing")
    assert (missing.criterion, missing.message) == ("K2.2", "Unit 2 has no row for K2.2")


def test_units_missing_duplicated_unknown(tmp_path: Path) -> None:
    p = edit(_complete(tmp_path), delete_sheets=["Unit 5"], copy_sheets={"Unit 7": "Unit 7 again",
                                                                         "Unit 8": "Stranger"})
    # The stranger sheet: no known unit reference, number or criterion.
    wb = openpyxl.load_workbook(p)
    ws = wb["Stranger"]
    ws[header_at(8, "ref")[1]] = "H/617/9999"
    ws[header_at(8, "number")[1]] = None
    for i in range(3):
        ws.cell(row=L.UNIT_FIRST_DATA_ROW + 1 + i, column=col("ref") + 1).value = f"Z{i}.1"
    wb.save(p)
    task = validate(p)
    assert found(task, T.tampering) == norm([
        ("tamper-unit-missing", "Unit 5", None),
        ("tamper-unit-duplicate", "Unit 7 again", None),
        ("tamper-unit-unknown", "Stranger", None),
    ])


def test_specification_version_and_metadata(tmp_path: Path) -> None:
    p = set_meta(_complete(tmp_path, "old.xlsx"), spec_version="0")
    assert found(validate(p), T.tampering) == [("tamper-spec-version", None, None)]
    # Same version, different content hash than the installed file.
    p = _complete(tmp_path, "edited.xlsx", spec_hash="0123456789abcdef")
    assert found(validate(p), T.tampering) == [("tamper-spec-version", None, None)]
    p = edit(_complete(tmp_path, "foreign.xlsx"), delete_sheets=[L.META])
    task = validate(p)
    assert found(task, T.tampering) == [("tamper-no-metadata", None, None)]
    assert task.valid  # found by the cover's qualification number, still checked


def test_matching_spec_hash_is_fine(tmp_path: Path) -> None:
    from tracker.spec.catalogue import find_spec_file, spec_hash

    h = spec_hash(find_spec_file(L3.number))
    p = write(tmp_path, L3, complete_record(L3, None), spec_hash=h)
    assert found(validate(p), T.tampering) == []
