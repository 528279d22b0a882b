"""Staff against the centre register, including the trainee countersignature rule."""

from __future__ import annotations

from pathlib import Path

from fixtures import ASSESSOR, IQA, L3, at, cover_at, found, norm, record, signed, staff_register, validate, write

from tracker.register import StaffMember
from tracker.rules.checks import staff as S

TRAINEE = "Tia Trainee"


def _m(name: str, roles: set[str], a: str | None = None, i: str | None = None, cs: str | None = None) -> StaffMember:
    return StaffMember(name, frozenset(roles), "", a, "", i, cs)


def test_not_needed_without_a_register(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1, assessor="Nobody Known")}
    assert found(validate(write(tmp_path, L3, record(e, pathway=None))), S.staff) == []


def test_signers_roles_and_qualifications(tmp_path: Path) -> None:
    e = {"K1.1": signed(L3, "K1.1", 1, assessor="Nobody Known"),
         "K1.2": signed(L3, "K1.2", 2, assessor="Tom Tutor"),            # tutor only
         "K1.5": signed(L3, "K1.5", 3, assessor="Una Unqualified"),      # assessor, status None
         "K1.6": signed(L3, "K1.6", 4, sampled=True, iqa="Ivy Iqa")}    # IQA without a qualification
    reg = staff_register(_m("Una Unqualified", {"assessor"}, "None"), _m("Ivy Iqa", {"lead IQA"}, i=None))
    task = validate(write(tmp_path, L3, record(e, pathway=None)), register=reg)
    assert found(task, S.staff) == norm([
        ("staff-not-in-register", *at(L3, "K1.1", "assessor")),
        ("staff-missing-role", *at(L3, "K1.2", "assessor")),
        ("staff-assessor-unqualified", *at(L3, "K1.5", "assessor")),
        ("staff-iqa-unqualified", *at(L3, "K1.6", "iqa")),
    ])


def test_cover_names_are_checked(tmp_path: Path) -> None:
    reg = staff_register()
    reg.staff.pop("ian iqa")
    task = validate(write(tmp_path, L3, record({}, pathway=None)), register=reg)
    assert found(task, S.staff) == [("staff-not-in-register", *cover_at("iqa"))]


def test_trainee_countersignature(tmp_path: Path) -> None:
    e = {
        "K1.1": signed(L3, "K1.1", 1, assessor=TRAINEE),                                   # not countersigned
        "K1.2": signed(L3, "K1.2", 2, assessor=f"{TRAINEE} / {ASSESSOR}"),                 # countersigned in Assessor
        # A name in Comments is not a countersignature (it used to count as a substring).
        "K1.5": signed(L3, "K1.5", 3, assessor=TRAINEE, comments=f"Awaiting countersignature by {ASSESSOR}"),
        "K1.6": signed(L3, "K1.6", 4, assessor=TRAINEE, decision="Not yet met", assessor_date=None),  # not Met
        "K2.1": signed(L3, "K2.1", 5, assessor=TRAINEE, comments="Countersigned by Someone Else"),
    }
    p = write(tmp_path, L3, record(e, pathway=None))
    reg = staff_register(_m(TRAINEE, {"assessor"}, "Working towards", cs=ASSESSOR))
    # Assessor is column H; the first criterion row of a unit sheet is row 12 (K1.5 is unit 1's 3rd).
    assert found(validate(p, register=reg), S.staff) == norm([
        ("staff-trainee-not-countersigned", "Unit 1", "H12"),
        ("staff-trainee-not-countersigned", "Unit 1", "H14"),
        ("staff-trainee-not-countersigned", "Unit 2", "H12"),
    ])
    # No countersigner named in the register: once per trainee, at the first Met decision.
    reg = staff_register(_m(TRAINEE, {"assessor"}, "Working towards"))
    assert found(validate(p, register=reg), S.staff) == [
        ("staff-trainee-no-countersigner", *at(L3, "K1.1", "assessor"))]
    # The countersigner is a trainee too.
    reg = staff_register(_m(TRAINEE, {"assessor"}, "Working towards", cs="Tim Trainee"),
                         _m("Tim Trainee", {"assessor"}, "Working towards", cs=ASSESSOR))
    task = validate(p, register=reg)
    assert found(task, S.staff) == [("staff-countersigner-unqualified", *at(L3, "K1.1", "assessor"))]
    assert "assessor qualification not held" in next(i.message for i in task.issues
                                                      if i.code == "staff-countersigner-unqualified")
