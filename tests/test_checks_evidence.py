"""Evidence: refs exist in the log (any case and spacing); methods listed and typical for the kind."""

from __future__ import annotations

from pathlib import Path

from fixtures import L2, at, evidence_at, found, norm, record, signed, validate, write

from tracker.rules.checks import evidence as E
from tracker.workbook.model import EvidenceEntry


def test_refs_must_be_in_the_log(tmp_path: Path) -> None:
    e = {"K1.1": signed(L2, "K1.1", 1, evidence_refs=("E1", "E99")),
         "K1.2": signed(L2, "K1.2", 2, evidence_refs=("e 2",))}  # matches "E2"
    ev = (EvidenceEntry("E1"), EvidenceEntry("E2"))
    task = validate(write(tmp_path, L2, record(e, evidence=ev)))
    assert found(task, E.evidence) == [("evidence-ref-unknown", *at(L2, "K1.1", "evidence_refs"))]
    msg = next(i.message for i in task.issues if i.code == "evidence-ref-unknown")
    assert msg == "K1.1 quotes evidence ref 'E99', which is not in the evidence log"


def test_methods(tmp_path: Path) -> None:
    e = {"K1.1": signed(L2, "K1.1", 1, method="Observation"),        # atypical for knowledge
         "S8.1": signed(L2, "S8.1", 2, method="Worksheet"),          # atypical for a skill
         "B13.1": signed(L2, "B13.1", 3, method="Product evidence"),  # atypical for a behaviour
         "K1.2": signed(L2, "K1.2", 4, method="Telepathy"),          # not in the list at all
         "K1.3": signed(L2, "K1.3", 5, method="oral QUESTIONING"),   # listed, any case
         "S8.2": signed(L2, "S8.2", 6, method="Professional discussion")}
    task = validate(write(tmp_path, L2, record(e)))
    assert found(task, E.evidence) == norm([
        ("evidence-method-atypical", *at(L2, "K1.1", "method")),
        ("evidence-method-atypical", *at(L2, "S8.1", "method")),
        ("evidence-method-atypical", *at(L2, "B13.1", "method")),
        ("evidence-method-unlisted", *at(L2, "K1.2", "method")),
    ])
    assert all(i.severity.value == "warning" for i in task.issues if i.code.startswith("evidence-method"))


def test_evidence_log_rows(tmp_path: Path) -> None:
    ev = (EvidenceEntry("E1", "first"), EvidenceEntry("E2"), EvidenceEntry("e1", "again"))
    e = {"K1.1": signed(L2, "K1.1", 1)}
    task = validate(write(tmp_path, L2, record(e, evidence=ev)))
    assert found(task, E.evidence) == [("evidence-log-duplicate", *evidence_at(2, "ref"))]


def test_log_row_without_ref(tmp_path: Path) -> None:
    from fixtures import edit

    e = {"K1.1": signed(L2, "K1.1", 1)}
    p = edit(write(tmp_path, L2, record(e)), {evidence_at(3, "description"): "Witness statement from manager"})
    assert found(validate(p), E.evidence) == [("evidence-log-no-ref", *evidence_at(3, "ref"))]
