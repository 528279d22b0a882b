"""The specification-text importer: the shipped texts import to exactly the bundled data, the
result does not depend on line wrapping, page-break noise or unit order, and every cross-check
failure is reported with the right line number."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import SpecError
from tracker.spec.catalogue import BUNDLED_DIR, load_file
from tracker.spec.importer import (
    Finding,
    ImportResult,
    add_spec,
    dump_yaml,
    import_spec_file,
    import_spec_text,
    slugify_title,
    write_yaml,
)
from tracker.spec.models import Qualification, to_data

SPECS = Path(__file__).parent / "data" / "specs"
L2_TXT = SPECS / "highfield-L2-diploma-customer-service-skills-603-4687-5.txt"
L3_TXT = SPECS / "highfield-L3-diploma-customer-service-skills-603-4688-7.txt"
L2_YAML = BUNDLED_DIR / "highfield-l2-diploma-customer-service-skills.yaml"
L3_YAML = BUNDLED_DIR / "highfield-l3-diploma-customer-service-skills.yaml"
PAIRS = {"L2": (L2_TXT, L2_YAML), "L3": (L3_TXT, L3_YAML)}
TITLES = {"L2": "Highfield Level 2 Diploma in Customer Service Skills (RQF)",
          "L3": "Highfield Level 3 Diploma for Customer Service Skills (RQF)"}
UNIT_HEADING = re.compile(r"^\s*Unit \d+:")
APPENDIX_3 = re.compile(r"^\s*Appendix 3:")


def _text(key: str) -> str:
    return PAIRS[key][0].read_text(encoding="utf-8")


def _import(text: str, key: str) -> ImportResult:
    return import_spec_text(text, PAIRS[key][0].name)


# Prose a person writes: the importer writes its own (generic) wording for these, so they are the
# only fields not compared with the hand-written files. Questions are also not compared: the
# bundled L2 file records the Unit 17 question as a YAML comment, the importer as `questions`
# (checked separately below).
PROSE_LEFT_TO_A_PERSON = ("readings[].description", "pathway_groups[].note", "questions")


def _comparable(q: Qualification) -> dict[str, Any]:
    d = to_data(q)
    for r in d["readings"]:
        del r["description"]
    for u in d["units"]:
        for g in u["pathway_groups"]:
            del g["note"]
    del d["questions"]
    return d


_BASELINE: dict[str, Qualification] = {}


def _baseline(key: str) -> Qualification:
    if key not in _BASELINE:
        result = _import(_text(key), key)
        assert result.qualification is not None
        _BASELINE[key] = result.qualification
    return _BASELINE[key]


# -- the shipped texts give exactly the bundled data -------------------------------------------


@pytest.mark.parametrize("key", ["L2", "L3"])
def test_shipped_text_imports_to_the_bundled_data(key: str) -> None:
    txt, bundled_file = PAIRS[key]
    result = import_spec_file(txt)
    assert result.ok, [str(f) for f in result.errors]
    assert result.qualification is not None
    bundled = load_file(bundled_file)
    got, want = _comparable(result.qualification), _comparable(bundled)
    # Field by field first, for a readable failure; then the whole thing.
    for k in want:
        if k != "units":
            assert got[k] == want[k], k
    assert [u["ref"] for u in got["units"]] == [u["ref"] for u in want["units"]]
    for gu, wu in zip(got["units"], want["units"], strict=True):
        assert gu == wu, f"unit {wu['number']}"
    assert got == want


@pytest.mark.parametrize("key", ["L2", "L3"])
def test_key_facts_and_totals(key: str) -> None:
    q = _baseline(key)
    bundled = load_file(PAIRS[key][1])
    assert (q.id, q.version, q.awarding_body, q.number, q.title, q.level, q.credit, q.glh, q.tqt,
            q.source) == (bundled.id, bundled.version, bundled.awarding_body, bundled.number,
                          bundled.title, bundled.level, bundled.credit, bundled.glh, bundled.tqt,
                          PAIRS[key][0].name)
    assert sum(u.credit for u in q.units) == q.credit
    assert sum(u.glh for u in q.units) == q.glh


def test_l3_non_sequential_references_kept() -> None:
    q = _baseline("L3")
    refs = {u.number: [c.ref for c in u.criteria] for u in q.units}
    assert refs[1] == ["K1.1", "K1.2", "K1.5", "K1.6"]
    assert refs[5] == ["S1.1", "S1.2", "S1.4"]
    assert refs[6] == ["S2.1", "S2.3", "S2.4", "S2.5", "S2.6", "S2.7", "S2.9", "S2.10"]


def test_l3_has_no_pathways_readings_or_questions() -> None:
    result = _import(_text("L3"), "L3")
    q = result.qualification
    assert q is not None
    assert (q.pathways, q.readings, result.questions) == ([], [], [])
    assert all(not u.pathway_groups for u in q.units)
    assert result.findings == []  # the page-number line "... (RQF) 8" is noise, not an error


def test_l2_unit_9_from_sub_headings_and_guidance() -> None:
    unit = _baseline("L2").unit(9)
    assert unit is not None
    [group] = unit.pathway_groups
    assert (group.id, group.readings) == ("unit-9-role", [])
    assert group.options == {"face-to-face": ["S9.1", "S9.2", "S9.3"],
                             "non-facing": ["S9.4", "S9.5", "S9.6"]}


def test_l2_unit_17_both_readings_and_a_question() -> None:
    result = _import(_text("L2"), "L2")
    q = result.qualification
    assert q is not None
    assert [(r.id, r.default) for r in q.readings] == [("criteria-table", True),
                                                      ("unit-guidance", False)]
    unit = q.unit(17)
    assert unit is not None
    b171 = unit.criterion("B17.1")
    assert b171 is not None
    assert b171.text.startswith("Face-to-face Present a professional image")
    assert " OR Non-facing Demonstrate a positive attitude" in b171.text
    assert set(b171.variants) == {"face-to-face", "non-facing"}
    [group] = unit.pathway_groups
    assert (group.id, group.readings, group.options) == (
        "unit-17-role", ["unit-guidance"], {"face-to-face": ["B17.1"], "non-facing": ["B17.2"]})
    assert q.required(unit, "non-facing") == ["B17.1", "B17.2"]
    assert q.required(unit, "non-facing", "unit-guidance") == ["B17.2"]
    [question] = result.questions
    assert question.where == "Unit 17"
    for word in ("criteria table", "unit guidance", "B17.1", "B17.2",
                 "'criteria-table' (the default)"):
        assert word in question.text
    assert q.questions == result.questions  # kept in the data for the record
    # reported, with the line of the unit heading, as a warning (a person decides, not an error)
    assert Finding(774, result.findings[-1].message, "warning") == result.findings[-1]


def test_l2_title_mismatch_is_a_warning_at_the_unit_heading() -> None:
    result = _import(_text("L2"), "L2")
    [warning] = [f for f in result.findings if "title" in f.message]
    assert (warning.line, warning.severity) == (754, "warning")
    assert "customers as individuals" in warning.message
    assert "customer as individuals" in warning.message
    assert _text("L2").splitlines()[753].strip().startswith("Unit 16:")


def test_slug() -> None:
    assert slugify_title(TITLES["L2"]) == "highfield-l2-diploma-customer-service-skills"
    assert slugify_title(TITLES["L3"]) == "highfield-l3-diploma-customer-service-skills"


# -- robustness: wrapping, page-break noise, unit order ----------------------------------------


def _rewrap(text: str, rng: random.Random) -> str:
    """Re-flow every paragraph (run of non-blank lines) at a random width; the first line (the
    document title, a heading) is kept as it is."""
    lines = text.split("\n")
    out = [lines[0]]
    para: list[str] = []

    def flush() -> None:
        words = " ".join(para).split()
        para.clear()
        width = rng.choice([12, 25, 40, 60, 80, 120, 250, 10_000])
        cur = ""
        for w in words:
            if cur and len(cur) + 1 + len(w) > width:
                out.append(cur)
                cur = w
            else:
                cur = f"{cur} {w}" if cur else w
        if cur:
            out.append(cur)

    for line in lines[1:]:
        if line.strip():
            para.append(line)
        else:
            if para:
                flush()
            out.append(line)
    if para:
        flush()
    return "\n".join(out)


def _add_noise(text: str, key: str, rng: random.Random, count: int = 25) -> str:
    lines = text.split("\n")
    for _ in range(count):
        kind = rng.randrange(5)
        pos = rng.randrange(len(lines) + 1)
        if kind == 0:
            lines.insert(pos, f"{TITLES[key]} {rng.randrange(1, 60)} ")
        elif kind == 1:
            lines.insert(pos, f"  {TITLES[key]}  ")
        elif kind == 2:
            lines.insert(pos, "\f")
        elif kind == 3 and pos < len(lines):
            lines[pos] = "\f" + lines[pos]  # pdftotext starts each page with a form feed
        else:
            lines[pos:pos] = ["", " ", ""]
    return "\n".join(lines)


def _unit_blocks(lines: list[str]) -> list[tuple[int, int]]:
    starts = [i for i, ln in enumerate(lines) if UNIT_HEADING.match(ln)
              and i + 1 < len(lines) and lines[i + 1].lstrip().startswith("Unit Ref")]
    end = next(i for i, ln in enumerate(lines) if APPENDIX_3.match(ln))
    return list(zip(starts, [*starts[1:], end], strict=True))


def _move_block(text: str, src: int, dest: int) -> str:
    """Move the src-th unit block (0-based) to where the dest-th one starts (or the end)."""
    lines = text.split("\n")
    blocks = _unit_blocks(lines)
    s, e = blocks[src]
    block = lines[s:e]
    at = blocks[dest][0] if dest < len(blocks) else blocks[-1][1]
    if s <= at <= e:
        return text
    if at > e:
        at -= len(block)
    del lines[s:e]
    lines[at:at] = block
    return "\n".join(lines)


def _same_as_shipped(text: str, key: str) -> ImportResult:
    result = _import(text, key)
    assert not result.errors, [str(f) for f in result.errors]
    assert result.qualification == _baseline(key)
    return result


@pytest.mark.parametrize("key", ["L2", "L3"])
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_rewrapped_text_imports_the_same(key: str, seed: int) -> None:
    _same_as_shipped(_rewrap(_text(key), random.Random(seed)), key)


@pytest.mark.parametrize("key", ["L2", "L3"])
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_page_break_noise_anywhere_imports_the_same(key: str, seed: int) -> None:
    _same_as_shipped(_add_noise(_text(key), key, random.Random(seed)), key)


@pytest.mark.parametrize("key", ["L2", "L3"])
@given(data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_unit_block_moved_imports_the_same(key: str, data: st.DataObject) -> None:
    n = len(_unit_blocks(_text(key).split("\n")))
    src = data.draw(st.integers(0, n - 1), label="src")
    dest = data.draw(st.integers(0, n), label="dest")
    _same_as_shipped(_move_block(_text(key), src, dest), key)


@pytest.mark.parametrize("key", ["L2", "L3"])
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_all_variations_together_import_the_same(key: str, seed: int) -> None:
    rng = random.Random(seed)
    text = _text(key)
    n = len(_unit_blocks(text.split("\n")))
    text = _move_block(text, rng.randrange(n), rng.randrange(n + 1))
    text = _add_noise(_rewrap(text, rng), key, rng)
    _same_as_shipped(text, key)


def test_one_field_per_line_structure_table() -> None:
    """A structure table rendered one field per line, blank lines between, imports the same."""
    row = re.compile(
        r"^(?P<ref>[A-Z]/\d{3}/\d{4}) (?P<title>.+?) (?P<l>\d+) (?P<g>\d+) (?P<c>\d+) *$")

    def split_row(m: re.Match[str]) -> str:
        return "\n\n".join([m["ref"], m["title"], m["l"], m["g"], m["c"]])

    for key in ("L2", "L3"):
        lines = [row.sub(split_row, ln) for ln in _text(key).split("\n")]
        assert sum("\n" in ln for ln in lines) >= 13
        _same_as_shipped("\n".join(lines), key)


def test_line_numbers_follow_the_noisy_text() -> None:
    text = _add_noise(_text("L2"), "L2", random.Random(7), count=40)
    result = _import(text, "L2")
    [warning] = [f for f in result.findings if "title" in f.message]
    assert text.split("\n")[warning.line - 1].lstrip("\f ").startswith("Unit 16:")


# -- cross-check failures, with line numbers ---------------------------------------------------


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def _errors(result: ImportResult) -> list[tuple[int, str]]:
    return [(f.line, f.message) for f in result.errors]


@pytest.mark.parametrize("key,index", [("L2", 4), ("L2", 17), ("L3", 0), ("L3", 8)])
def test_deleted_unit_block_is_reported_at_its_structure_table_row(key: str, index: int) -> None:
    text = _add_noise(_text(key), key, random.Random(index), count=10)
    lines = text.split("\n")
    s, e = _unit_blocks(lines)[index]
    ref = re.search(r"[A-Z]/\d{3}/\d{4}", "\n".join(lines[s:e]))
    assert ref is not None
    text = "\n".join(lines[:s] + lines[e:])
    result = _import(text, key)
    row_line = _line_of(text, f"{ref[0]} ")  # the structure table row comes first
    assert text.split("\n")[row_line - 1].strip().startswith(ref[0])
    errors = _errors(result)
    assert any(line == row_line and ref[0] in msg and "no content block" in msg
               for line, msg in errors), errors
    assert result.qualification is None
    assert not result.ok


@pytest.mark.parametrize("key,old,new", [("L2", "Credit value: 39", "Credit value: 40"),
                                         ("L3", "Credit value: 42", "Credit value: 41")])
def test_changed_credit_total_is_reported_at_the_key_fact(key: str, old: str, new: str) -> None:
    text = _add_noise(_text(key), key, random.Random(3), count=10).replace(old, new)
    result = _import(text, key)
    line = _line_of(text, new)
    total = old.split()[-1]
    assert _errors(result) == [(line, f"the structure table's unit credits add up to {total}, "
                                      f"but the key facts give credit value {new.split()[-1]}")]
    assert result.qualification is None  # the model rejects it too


def test_changed_glh_total_is_reported() -> None:
    text = _text("L2").replace("Guided learning hours (GLH): 280",
                               "Guided learning hours (GLH): 281")
    assert _errors(_import(text, "L2")) == [
        (24, "the structure table's unit GLH add up to 280, but the key facts give guided "
             "learning hours (GLH) 281")]


def test_unit_heading_disagreeing_with_structure_table() -> None:
    text = _text("L2").replace("Unit Ref: M/617/6443  GLH: 40 Credit: 5",
                               "Unit Ref: M/617/6443  GLH: 40 Credit: 4")
    [(line, msg)] = _errors(_import(text, "L2"))
    assert line == 548
    assert "credit 4" in msg and "gives 5" in msg and "line 310" in msg


def test_duplicate_criterion_reference() -> None:
    text = _text("L2").replace("K1.3 Explain when", "K1.2 Explain when")
    [(line, msg)] = _errors(_import(text, "L2"))
    assert (line, msg) == (360, "criterion reference K1.2 is used twice (first at line 356)")


def test_criterion_prefix_must_match_its_learning_outcome() -> None:
    text = _text("L3").replace("K2.3 Explain why", "K3.3 Explain why")
    errors = _errors(_import(text, "L3"))
    assert (358, "unit 2: criterion K3.3 is printed under learning outcome K2, so its reference "
                 "should start K2.") in errors
    assert any(line == 400 and "K3.3 is used twice" in msg for line, msg in errors)


def test_unit_missing_from_structure_table() -> None:
    text = _text("L3").replace("F/617/6463 Develop self 3 5 1", "")
    errors = _errors(_import(text, "L3"))
    assert (601, "unit 10 (F/617/6463) has a content block but is not in the structure table") in [
        (line, msg) for line, msg in errors]
    assert any(line == 18 and "add up to 41" in msg for line, msg in errors)
    assert any(line == 20 and "add up to 245" in msg for line, msg in errors)


def test_missing_key_facts_and_empty_text() -> None:
    result = import_spec_text("", "empty.txt")
    assert result.qualification is None
    messages = [f.message for f in result.errors]
    assert "key facts: no qualification number found" in messages
    assert any(m.startswith("no unit blocks found") for m in messages)
    assert any(m.startswith("no structure table found") for m in messages)


# -- generic either/or handling on a made-up specification -------------------------------------

MINI = """\
Example Level 1 Award in Widgets (RQF)

Key facts
Qualification number: 600/0000/1
Credit value: 3
Guided learning hours (GLH): 20
Total qualification time (TQT): 30

This qualification has been developed and is awarded by Example Awards, and sits on the RQF.

Appendix 1: Qualification structure
Unit reference Unit title Level GLH Credit
A/100/0001 Widget basics 1 10 1
A/100/0002 Talking about widgets to people
who buy them 1 10 2
Appendix 2: Qualification content
Unit 1: Widget basics
Unit Ref: A/100/0001 GLH: 10 Credit: 1
Learning Outcomes Assessment Criteria
K1 Know widgets
K1.1 Name three widgets
K1.2 Describe a widget
Unit 2: Talking about widgets
Unit Ref: A/100/0002 GLH: 10 Credit: 2
Learning Outcomes Assessment Criteria
S1 Talk about widgets
S1.1 Explain widgets in person
S1.2 Show widgets in person
S1.3 Explain widgets over the phone
S1.4 Explain widgets by email
Unit Guidance
Learners choose by role. Face-to-face learners take S1.1-S1.2. Learners who are non-facing take
S1.3 to S1.4.
Appendix 3: Sample Assessment Material
"""


def test_guidance_only_either_or_with_ranges() -> None:
    result = import_spec_text(MINI, "mini.txt")
    assert result.ok, [str(f) for f in result.findings]
    q = result.qualification
    assert q is not None
    assert (q.id, q.awarding_body, q.level, q.title) == (
        "example-l1-award-widgets", "Example Awards", 1, "Example Level 1 Award in Widgets (RQF)")
    assert [u.title for u in q.units] == ["Widget basics",
                                          "Talking about widgets to people who buy them"]
    unit = q.unit(2)
    assert unit is not None
    [group] = unit.pathway_groups
    assert group.options == {"face-to-face": ["S1.1", "S1.2"], "non-facing": ["S1.3", "S1.4"]}
    assert group.readings == [] and q.readings == [] and result.questions == []
    assert [p.id for p in q.pathways] == ["face-to-face", "non-facing"]


def test_sub_headings_and_guidance_agreeing_or_not() -> None:
    text = MINI.replace("S1.1 Explain widgets in person",
                        "Face to Face\nS1.1 Explain widgets in person")
    text = text.replace("S1.3 Explain widgets over the phone",
                        "Non-Facing\nS1.3 Explain widgets over the phone")
    result = import_spec_text(text, "mini.txt")
    q = result.qualification
    assert q is not None and not result.errors
    unit = q.unit(2)
    assert unit is not None
    # Same options from sub-headings and guidance: one group, no readings, no question.
    assert [(g.id, g.readings) for g in unit.pathway_groups] == [("unit-2-role", [])]
    assert result.questions == []
    clash = text.replace("S1.3 to S1.4", "S1.4")
    result = import_spec_text(clash, "mini.txt")
    q = result.qualification
    assert q is not None and not result.errors
    unit = q.unit(2)
    assert unit is not None
    assert [(g.id, g.readings) for g in unit.pathway_groups] == [
        ("unit-2-role", ["criteria-table"]), ("unit-2-role-guidance", ["unit-guidance"])]
    assert q.default_reading == "criteria-table"
    assert [qq.where for qq in result.questions] == ["Unit 2"]


# -- YAML and installing -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["L2", "L3"])
def test_written_yaml_loads_back_to_the_same_qualification(key: str, tmp_path: Path) -> None:
    result = _import(_text(key), key)
    out = write_yaml(result, tmp_path / "q.yaml")
    assert load_file(out) == result.qualification
    text = out.read_text(encoding="utf-8")
    assert 'version: "1"' in text and "\n  - number: 1\n" in text
    if key == "L2":
        assert "face-to-face: [S9.1, S9.2, S9.3]" in text
        assert "readings: [unit-guidance]" in text
    assert yaml.safe_load(dump_yaml(result)) == result.data


def test_add_spec_installs_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SPEC_DIR", str(tmp_path / "specs"))
    data = yaml.safe_load(L3_YAML.read_text(encoding="utf-8"))
    data.update(id="example-copy", number="600/0000/1")
    src = tmp_path / "copy.yaml"
    src.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    dest = add_spec(src)
    assert dest == tmp_path / "specs" / "example-copy.yaml"
    assert load_file(dest).number == "600/0000/1"
    assert add_spec(src) == dest  # installing again replaces it
    data["id"] = "another-id"
    src.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SpecError, match="already installed"):
        add_spec(src)


def test_add_spec_rejects_an_invalid_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SPEC_DIR", str(tmp_path / "specs"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(L3_YAML.read_text(encoding="utf-8").replace("credit: 42", "credit: 43"),
                   encoding="utf-8")
    with pytest.raises(SpecError) as err:
        add_spec(bad)
    assert str(bad) in str(err.value) and "credit" in str(err.value)
    assert not (tmp_path / "specs").exists() or not any((tmp_path / "specs").iterdir())


def test_several_outcomes_page_footers_and_run_together_key_facts() -> None:
    text = MINI.replace(
        "Qualification number: 600/0000/1\nCredit value: 3\n",
        "Qualification number: 600/0000/1 Credit value: 3\n",
    ).replace(
        "K1.2 Describe a widget\n",
        "K1.2 Describe a\nPage 3 of 40\nwidget\nK2 Use widgets safely\n"
        "K2.1 State one widget\nrule\nLearning Outcomes Assessment Criteria\nK2.2 Say why\n"
        "Assessment Guidance\nUse a worksheet.\n",
    )
    result = import_spec_text(text, "mini.txt")
    assert result.ok, [str(f) for f in result.findings]
    q = result.qualification
    assert q is not None
    unit = q.unit(1)
    assert unit is not None
    assert [(o.ref, o.text) for o in unit.learning_outcomes] == [("K1", "Know widgets"),
                                                                 ("K2", "Use widgets safely")]
    assert [(c.ref, c.text) for c in unit.criteria] == [
        ("K1.1", "Name three widgets"), ("K1.2", "Describe a widget"),
        ("K2.1", "State one widget rule"), ("K2.2", "Say why")]
    assert unit.guidance == "Use a worksheet."
    assert (q.credit, q.glh) == (3, 20)
