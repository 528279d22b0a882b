"""The bundled qualification data files agree with the awarding body's specification text.

The expected references below were written out by hand from the specification text in
tests/data/specs/, independently of the data files; the word-for-word checks compare every text
in the data files with that source text (whitespace-normalised, as the model stores it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tracker.errors import SpecError
from tracker.spec.catalogue import BUNDLED_DIR, load_file, load_qualification
from tracker.spec.models import Qualification, normalise_text

SPECS = Path(__file__).parent / "data" / "specs"
L2 = "603/4687/5"
L3 = "603/4688/7"
L2_FILE = BUNDLED_DIR / "highfield-l2-diploma-customer-service-skills.yaml"
L3_FILE = BUNDLED_DIR / "highfield-l3-diploma-customer-service-skills.yaml"

# PDF page furniture: a running footer with the page number, e.g.
# "Highfield Level 3 Diploma for Customer Service Skills (RQF) 8". Not part of any text.
_PAGE_NOISE = re.compile(r"^\s*Highfield Level \d Diploma \w+ Customer Service Skills \(RQF\) \d+\s*$",
                         re.MULTILINE)


@pytest.fixture(autouse=True)
def _only_bundled_specs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a user's own installed specifications out of these tests."""
    monkeypatch.setenv("TRACKER_SPEC_DIR", str(tmp_path_factory.mktemp("no-user-specs")))


def _source(qual: Qualification) -> str:
    """The whitespace-normalised specification text the data file was transcribed from."""
    raw = (SPECS / qual.source).read_text(encoding="utf-8")
    return normalise_text(_PAGE_NOISE.sub("", raw))


def _structure_table(src: str) -> str:
    return src[src.index("Appendix 1: Qualification structure"):src.index("Appendix 2: Qualification content")]


def _unit_sections(src: str) -> dict[int, str]:
    """Unit number -> its text in Appendix 2, from "Unit N:" up to the next unit or Appendix 3."""
    content = src[src.index("Appendix 2: Qualification content"):src.index("Appendix 3:")]
    starts = [(int(m.group(1)), m.start()) for m in re.finditer(r"Unit (\d+): ", content)]
    ends = [s for _, s in starts[1:]] + [len(content)]
    return {n: content[s:e].strip() for (n, s), e in zip(starts, ends)}


# -- expected facts, from the specification text --------------------------------------------------

L2_REFS: dict[int, list[str]] = {
    1: ["K1.1", "K1.2", "K1.3"],
    2: ["K2.1", "K2.2", "K2.3", "K2.4", "K2.5"],
    3: ["K3.1", "K3.2", "K3.3"],
    4: ["K4.1", "K4.2"],
    5: ["K5.1", "K5.2"],
    6: ["K6.1", "K6.2"],
    7: ["K7.1", "K7.2"],
    8: ["S8.1", "S8.2", "S8.3"],
    9: ["S9.1", "S9.2", "S9.3", "S9.4", "S9.5", "S9.6"],
    10: ["S10.1", "S10.2", "S10.3"],
    11: ["S11.1", "S11.2"],
    12: ["S12.1", "S12.2", "S12.3", "S12.4", "S12.5", "S12.6"],
    13: ["B13.1", "B13.2"],
    14: ["B14.1", "B14.2"],
    15: ["B15.1", "B15.2", "B15.3"],
    16: ["B16.1", "B16.2"],
    17: ["B17.1", "B17.2"],
    18: ["B18.1", "B18.2", "B18.3", "B18.4", "B18.5", "B18.6"],
}

L3_REFS: dict[int, list[str]] = {
    1: ["K1.1", "K1.2", "K1.5", "K1.6"],
    2: ["K2.1", "K2.2", "K2.3", "K2.4"],
    3: ["K3.1", "K3.2", "K3.3", "K3.4", "K3.5"],
    4: ["K4.1", "K4.2", "K4.3", "K4.4", "K4.5", "K4.6"],
    5: ["S1.1", "S1.2", "S1.4"],
    6: ["S2.1", "S2.3", "S2.4", "S2.5", "S2.6", "S2.7", "S2.9", "S2.10"],
    7: ["S3.1", "S3.2"],
    8: ["S4.1", "S4.2"],
    9: ["S5.1", "S5.2", "S5.3"],
    10: ["B1.1"],
    11: ["B2.1", "B2.2", "B2.3"],
    12: ["B3.1", "B3.2", "B3.3"],
    13: ["B4.1", "B4.2"],
    14: ["B5.1", "B5.2"],
}

# (unit reference, title as in the Appendix 1 structure table, GLH, credit)
L2_UNITS = [
    ("J/617/6433", "Knowing your customers", 10, 2),
    ("L/617/6434", "Understanding the organisation", 26, 3),
    ("R/617/6435", "Meeting regulations and legislation", 16, 3),
    ("Y/617/6436", "Systems and resources", 6, 1),
    ("D/617/6437", "Your role and responsibility", 5, 1),
    ("H/617/6438", "Customer experience", 8, 1),
    ("D/617/6440", "Product and service knowledge", 16, 2),
    ("H/617/6441", "Interpersonal skills", 9, 1),
    ("M/617/6443", "Communication", 40, 5),
    ("A/617/6445", "Influencing skills", 8, 1),
    ("F/617/6446", "Personal organisation", 18, 2),
    ("J/617/6447", "Dealing with customer conflict and challenge", 30, 5),
    ("L/617/6448", "Developing self", 12, 2),
    ("R/617/6449", "Being open to feedback", 15, 2),
    ("J/617/6450", "Team working", 16, 2),
    ("L/617/6451", "Equality \u2013 treating all customer as individuals", 12, 2),
    ("R/617/6452", "Presentation \u2013 dress code, professional language", 18, 2),
    ("Y/617/6453", "Right first time", 15, 2),
]

L3_UNITS = [
    ("D/617/6454", "Business Knowledge and Understanding", 20, 4),
    ("H/617/6455", "Customer Journey Knowledge", 30, 5),
    ("K/617/6456", "Knowing your customers and their needs/Customer Insight", 30, 5),
    ("M/617/6457", "Customer service culture and environment awareness", 30, 5),
    ("T/617/6458", "Business focused service delivery", 15, 2),
    ("A/617/6459", "Providing a positive customer experience", 50, 7),
    ("M/617/6460", "Working with your customers/customer insights", 10, 2),
    ("T/617/6461", "Customer service performance", 10, 2),
    ("A/617/6462", "Service Improvement", 18, 3),
    ("F/617/6463", "Develop self", 5, 1),
    ("J/617/6464", "Ownership/Responsibility", 12, 2),
    ("L/617/6465", "Team Working", 10, 2),
    ("R/617/6466", "Equality", 5, 1),
    ("Y/617/6467", "Personal Presentation", 5, 1),
]

EXPECTED = {
    # number: (id, title, level, credit, glh, tqt, units, refs, criteria total)
    L2: ("highfield-l2-diploma-customer-service-skills",
         "Highfield Level 2 Diploma in Customer Service Skills (RQF)", 2, 39, 280, 390, L2_UNITS, L2_REFS, 56),
    L3: ("highfield-l3-diploma-customer-service-skills",
         "Highfield Level 3 Diploma for Customer Service Skills (RQF)", 3, 42, 250, 420, L3_UNITS, L3_REFS, 48),
}

BOTH = pytest.mark.parametrize("number", [L2, L3])


# -- key facts and structure -----------------------------------------------------------------------

@BOTH
def test_loads_with_key_facts(number: str) -> None:
    ident, title, level, credit, glh, tqt, units, _, _ = EXPECTED[number]
    q = load_qualification(number)
    assert (q.id, q.number, q.title, q.level) == (ident, number, title, level)
    assert (q.credit, q.glh, q.tqt) == (credit, glh, tqt)
    assert q.awarding_body == "Highfield Qualifications"
    assert q.version == "1"
    assert len(q.units) == len(units)
    assert sum(u.credit for u in q.units) == credit
    assert sum(u.glh for u in q.units) == glh


@BOTH
def test_key_facts_are_those_printed(number: str) -> None:
    q = load_qualification(number)
    src = _source(q)
    assert f"Qualification number: {q.number}" in src
    assert f"Credit value: {q.credit}" in src
    assert f"Guided learning hours (GLH): {q.glh}" in src
    assert f"Total qualification time (TQT): {q.tqt}" in src
    assert src.startswith(q.title)


def test_found_by_number_with_or_without_slashes_and_by_id() -> None:
    assert load_qualification("60346875").number == L2
    assert load_qualification("highfield-l3-diploma-customer-service-skills").number == L3


@BOTH
def test_units_in_order_with_reference_title_glh_credit(number: str) -> None:
    q = load_qualification(number)
    expected = EXPECTED[number][6]
    got = [(u.ref, u.title, u.glh, u.credit) for u in q.units]
    assert got == expected
    assert [u.number for u in q.units] == list(range(1, len(expected) + 1))
    assert {u.level for u in q.units} == {q.level}


@BOTH
def test_units_agree_with_structure_table_and_unit_headings(number: str) -> None:
    q = load_qualification(number)
    src = _source(q)
    table = _structure_table(src)
    sections = _unit_sections(src)
    assert sorted(sections) == [u.number for u in q.units]
    for u in q.units:
        assert f"{u.ref} {u.title} {u.level} {u.glh} {u.credit}" in table, u.number
        assert f"Unit Ref: {u.ref} GLH: {u.glh} Credit: {u.credit}" in sections[u.number], u.number


@BOTH
def test_criterion_references_per_unit_exactly_as_printed(number: str) -> None:
    q = load_qualification(number)
    expected = EXPECTED[number][7]
    assert {u.number: [c.ref for c in u.criteria] for u in q.units} == expected
    assert q.criterion_count() == EXPECTED[number][8] == sum(len(v) for v in expected.values())


def test_l3_non_sequential_references_are_not_renumbered() -> None:
    q = load_qualification(L3)
    refs = {c.ref for u in q.units for c in u.criteria}
    assert {"K1.5", "K1.6", "S1.4", "S2.9", "S2.10"} <= refs
    assert not {"K1.3", "K1.4", "S1.3", "S2.2", "S2.8", "S2.11"} & refs
    assert [c.ref for c in q.unit(6).criteria][-2:] == ["S2.9", "S2.10"]  # printed order, not string order


@BOTH
def test_kind_is_the_prefix(number: str) -> None:
    q = load_qualification(number)
    for u in q.units:
        for c in u.criteria:
            assert c.kind.value == c.ref[0]
        for lo in u.learning_outcomes:
            assert all(c.ref.startswith(lo.ref + ".") for c in u.criteria), u.number


# -- word for word ---------------------------------------------------------------------------------

_BLOCK_ENDS = ("Amplification and Guidance", "Unit Guidance")


@BOTH
def test_criterion_texts_word_for_word(number: str) -> None:
    """Each criterion's text is printed right after its reference, in its unit, whole: what follows
    it is the next criterion (possibly after the "Non-Facing" subheading) or the end of the table."""
    q = load_qualification(number)
    sections = _unit_sections(_source(q))
    for u in q.units:
        section = sections[u.number]
        for i, c in enumerate(u.criteria):
            needle = f"{c.ref} {c.text}"
            assert section.count(needle) == 1, f"{c.ref} not printed as {c.text!r}"
            after = section[section.index(needle) + len(needle):].strip()
            if i + 1 < len(u.criteria):
                nxt = u.criteria[i + 1].ref
                assert after.startswith(f"{nxt} ") or after.startswith(f"Non-Facing {nxt} "), c.ref
            else:
                assert after == "" or after.startswith(_BLOCK_ENDS), c.ref


def test_known_typos_are_kept() -> None:
    q = load_qualification(L2)
    assert q.unit(6).criterion("K6.1").text.startswith("Explain how an understand of the facts")
    l3 = load_qualification(L3)
    assert "their role of emotions" in l3.unit(3).criterion("K3.4").text


@BOTH
def test_learning_outcome_texts_word_for_word(number: str) -> None:
    q = load_qualification(number)
    sections = _unit_sections(_source(q))
    for u in q.units:
        section = sections[u.number]
        assert len(u.learning_outcomes) == 1
        lo = u.learning_outcomes[0]
        needle = f"Learning Outcomes Assessment Criteria {lo.ref} {lo.text}"
        assert needle in section, lo.ref
        after = section[section.index(needle) + len(needle):].strip()
        first = u.criteria[0].ref
        assert after.startswith(f"{first} ") or after.startswith(f"Face to Face {first} "), lo.ref


@BOTH
def test_amplification_and_guidance_word_for_word(number: str) -> None:
    q = load_qualification(number)
    sections = _unit_sections(_source(q))
    for u in q.units:
        section = sections[u.number]
        if u.amplification:
            needle = f"Amplification and Guidance {u.amplification}"
            assert needle in section, u.number
            after = section[section.index(needle) + len(needle):].strip()
            assert after == "" or after.startswith("Unit Guidance"), u.number
            assert u.amplification.startswith("\u2022 ")
        else:
            assert "Amplification and Guidance" not in section, u.number
        if u.guidance:
            assert section.endswith(f"Unit Guidance {u.guidance}"), u.number
        else:
            assert "Unit Guidance" not in section, u.number


def test_which_units_have_amplification_and_guidance() -> None:
    l2, l3 = load_qualification(L2), load_qualification(L3)
    assert [u.number for u in l2.units if u.amplification] == [2, 4, 7, 9, 10]
    assert [u.number for u in l2.units if u.guidance] == [9, 17]
    assert [u.number for u in l3.units if u.amplification] == [1, 2, 3, 6, 9, 10, 11, 13, 14]
    assert [u.number for u in l3.units if u.guidance] == []


def test_b17_1_whole_text_and_pathway_wordings() -> None:
    q = load_qualification(L2)
    b171 = q.unit(17).criterion("B17.1")
    assert b171 is not None
    face = "Present a professional image in line with the organisational dress code and code of conduct"
    non = "Demonstrate a positive attitude and welcoming approach consistently when dealing with customers"
    assert b171.text == f"Face-to-face {face} OR Non-facing {non}"
    assert b171.variants == {"face-to-face": face, "non-facing": non}


# -- pathways and readings -------------------------------------------------------------------------

def test_l2_pathways_and_readings() -> None:
    q = load_qualification(L2)
    assert [(p.id, p.label) for p in q.pathways] == [("face-to-face", "Face-to-face"), ("non-facing", "Non-facing")]
    assert [r.id for r in q.readings] == ["criteria-table", "unit-guidance"]
    assert q.default_reading == "criteria-table"
    assert q.pathway_by_label("Face to face").id == "face-to-face"  # type: ignore[union-attr]
    groups = {u.number: [g.id for g in u.pathway_groups] for u in q.units if u.pathway_groups}
    assert groups == {9: ["unit-9-role"], 17: ["unit-17-role"]}


def test_l3_has_no_pathways_or_readings() -> None:
    q = load_qualification(L3)
    assert q.pathways == [] and q.readings == [] and q.default_reading == ""
    assert all(not u.pathway_groups for u in q.units)
    for u in q.units:
        assert q.required(u, None) == [c.ref for c in u.criteria]


READINGS = [None, "criteria-table", "unit-guidance"]


@pytest.mark.parametrize("reading", READINGS)
def test_l2_unit_9_either_or_under_every_reading(reading: str | None) -> None:
    q = load_qualification(L2)
    u9 = q.unit(9)
    assert u9 is not None
    assert q.required(u9, "face-to-face", reading) == ["S9.1", "S9.2", "S9.3"]
    assert q.required(u9, "non-facing", reading) == ["S9.4", "S9.5", "S9.6"]
    assert q.required(u9, None, reading) == []


@pytest.mark.parametrize("reading", [None, "criteria-table"])
def test_l2_unit_17_criteria_table_reading_is_default(reading: str | None) -> None:
    q = load_qualification(L2)
    u17 = q.unit(17)
    assert u17 is not None
    assert q.required(u17, "face-to-face", reading) == ["B17.1", "B17.2"]
    assert q.required(u17, "non-facing", reading) == ["B17.1", "B17.2"]
    assert q.required(u17, None, reading) == ["B17.1", "B17.2"]


def test_l2_unit_17_unit_guidance_reading() -> None:
    q = load_qualification(L2)
    u17 = q.unit(17)
    assert u17 is not None
    assert q.required(u17, "face-to-face", "unit-guidance") == ["B17.1"]
    assert q.required(u17, "non-facing", "unit-guidance") == ["B17.2"]
    assert q.required(u17, None, "unit-guidance") == []


@pytest.mark.parametrize("pathway", ["face-to-face", "non-facing"])
def test_default_reading_never_requires_less(pathway: str) -> None:
    """The default is the superset: complete under it means complete under the other reading."""
    q = load_qualification(L2)
    for u in q.units:
        assert set(q.required(u, pathway, "unit-guidance")) <= set(q.required(u, pathway, "criteria-table"))


@pytest.mark.parametrize("pathway", [None, "face-to-face", "non-facing"])
@pytest.mark.parametrize("reading", READINGS)
def test_other_l2_units_require_everything(pathway: str | None, reading: str | None) -> None:
    q = load_qualification(L2)
    for u in q.units:
        if u.number not in (9, 17):
            assert q.required(u, pathway, reading) == [c.ref for c in u.criteria]


# -- broken specifications are rejected ------------------------------------------------------------

def _l2_data() -> dict[str, Any]:
    data = yaml.safe_load(L2_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _rejected(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_file(path)
    assert info.value.source.endswith(path.name)
    message = str(info.value)
    assert path.name in message
    return message


def test_unbroken_copy_loads(tmp_path: Path) -> None:
    q = load_file(_write(tmp_path, "copy.yaml", _l2_data()))
    assert q == load_file(L2_FILE)


def test_credit_total_off_is_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    data["credit"] = 40
    msg = _rejected(_write(tmp_path, "credit-off.yaml", data))
    assert "unit credits add up to 39, but the credit value is 40" in msg


def test_unit_credit_off_is_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    data["units"][8]["credit"] = 4
    msg = _rejected(_write(tmp_path, "unit-credit-off.yaml", data))
    assert "unit credits add up to 38, but the credit value is 39" in msg


def test_glh_total_off_is_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    data["units"][0]["glh"] = 11
    msg = _rejected(_write(tmp_path, "glh-off.yaml", data))
    assert "unit GLH add up to 281, but the qualification GLH is 280" in msg


def test_duplicate_criterion_reference_is_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    data["units"][1]["criteria"][0]["ref"] = "K1.1"
    msg = _rejected(_write(tmp_path, "duplicate.yaml", data))
    assert "duplicate criterion reference K1.1 (unit 2)" in msg


def test_duplicate_unit_reference_is_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    data["units"][1]["ref"] = data["units"][0]["ref"]
    msg = _rejected(_write(tmp_path, "duplicate-unit.yaml", data))
    assert "duplicate unit reference: J/617/6433" in msg


def test_pathway_group_naming_unknown_criterion_is_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    group = data["units"][8]["pathway_groups"][0]
    assert group["id"] == "unit-9-role"
    group["options"]["non-facing"] = ["S9.4", "S9.5", "S9.7"]
    msg = _rejected(_write(tmp_path, "unknown-criterion.yaml", data))
    assert "unit 9 pathway group unit-9-role: unknown criterion S9.7" in msg


def test_pathway_group_naming_unknown_reading_is_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    data["units"][16]["pathway_groups"][0]["readings"] = ["unit-guidence"]
    msg = _rejected(_write(tmp_path, "unknown-reading.yaml", data))
    assert "unit 17 pathway group unit-17-role: unknown reading 'unit-guidence'" in msg


def test_two_default_readings_are_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    for r in data["readings"]:
        r["default"] = True
    msg = _rejected(_write(tmp_path, "two-defaults.yaml", data))
    assert "exactly one reading must be the default" in msg


def test_kind_not_matching_prefix_is_rejected(tmp_path: Path) -> None:
    data = _l2_data()
    data["units"][0]["criteria"][0]["kind"] = "S"
    msg = _rejected(_write(tmp_path, "kind.yaml", data))
    assert "criterion K1.1: kind S does not match its prefix" in msg
    assert "units.0.criteria.0" in msg


def test_not_yaml_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "not-yaml.yaml"
    path.write_text("id: [unclosed\nunits: {\n", encoding="utf-8")
    msg = _rejected(path)
    assert "not valid YAML" in msg


def test_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "a-list.yaml", ["603/4687/5"])
    msg = _rejected(path)
    assert "expected a mapping" in msg


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    msg = _rejected(tmp_path / "absent.yaml")
    assert "no such file" in msg
