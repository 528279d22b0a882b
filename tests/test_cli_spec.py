"""``tracker spec`` through the real entry point (``python -m tracker``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tracker.spec.catalogue import BUNDLED_DIR, load_file
from tracker.spec.models import to_data

SPECS = Path(__file__).parent / "data" / "specs"
L2_TXT = SPECS / "highfield-L2-diploma-customer-service-skills-603-4687-5.txt"
L3_TXT = SPECS / "highfield-L3-diploma-customer-service-skills-603-4688-7.txt"
L3_YAML = BUNDLED_DIR / "highfield-l3-diploma-customer-service-skills.yaml"


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    return tmp_path / "user-specs"


def tracker(spec_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACKER_SPEC_DIR": str(spec_dir)}
    return subprocess.run([sys.executable, "-m", "tracker", "spec", *args], capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=120)


def test_list(spec_dir: Path) -> None:
    r = tracker(spec_dir, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "603/4687/5  Highfield Level 2 Diploma in Customer Service Skills (RQF)  "
        "(18 units, 56 criteria)",
        "603/4688/7  Highfield Level 3 Diploma for Customer Service Skills (RQF)  "
        "(14 units, 48 criteria)",
    ]


def test_show_json_shape(spec_dir: Path) -> None:
    r = tracker(spec_dir, "show", "603/4687/5", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"qualification_number", "title", "level", "credit", "glh", "tqt",
                         "pathways", "readings", "units"}
    assert (data["qualification_number"], data["level"], data["credit"], data["glh"],
            data["tqt"]) == ("603/4687/5", 2, 39, 280, 390)
    assert [p["id"] for p in data["pathways"]] == ["face-to-face", "non-facing"]
    assert [(x["id"], x["default"]) for x in data["readings"]] == [("criteria-table", True),
                                                                  ("unit-guidance", False)]
    assert all(set(x) == {"id", "description", "default"} for x in data["readings"])
    assert len(data["units"]) == 18
    for unit in data["units"]:
        assert set(unit) == {"number", "ref", "title", "level", "glh", "credit", "criteria",
                             "pathway_groups"}
        for c in unit["criteria"]:
            assert set(c) == {"ref", "text", "kind"}
            assert c["kind"] == c["ref"][0]
        for g in unit["pathway_groups"]:
            assert set(g) == {"id", "readings", "options"}
    unit9 = data["units"][8]
    assert unit9["pathway_groups"] == [{"id": "unit-9-role", "readings": [], "options": {
        "face-to-face": ["S9.1", "S9.2", "S9.3"], "non-facing": ["S9.4", "S9.5", "S9.6"]}}]
    assert data["units"][16]["pathway_groups"][0]["readings"] == ["unit-guidance"]


def test_show_text_by_number_without_slashes(spec_dir: Path) -> None:
    r = tracker(spec_dir, "show", "60346887")
    assert r.returncode == 0, r.stderr
    assert "Unit 1: Business Knowledge and Understanding" in r.stdout
    assert "K1.6" in r.stdout and "K1.3" not in r.stdout


def test_show_unknown_qualification(spec_dir: Path) -> None:
    r = tracker(spec_dir, "show", "999/9999/9")
    assert r.returncode == 1
    assert r.stdout == ""
    assert "no qualification '999/9999/9' is installed" in r.stderr
    assert "Traceback" not in r.stderr


def test_import_to_file(spec_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "l2.yaml"
    r = tracker(spec_dir, "import", str(L2_TXT), "-o", str(out))
    assert r.returncode == 0, r.stderr
    q = load_file(out)
    bundled = load_file(BUNDLED_DIR / "highfield-l2-diploma-customer-service-skills.yaml")
    # everything but the pathway groups' notes, which are prose (see tests/test_importer.py)
    def without(obj: object, key: str) -> dict[str, object]:
        return {k: v for k, v in to_data(obj).items() if k != key}

    assert [without(u, "pathway_groups") for u in q.units] == [without(u, "pathway_groups") for u in bundled.units]
    assert [[without(g, "note") for g in u.pathway_groups] for u in q.units] == [
        [without(g, "note") for g in u.pathway_groups] for u in bundled.units]
    assert (q.number, q.credit, q.glh, q.tqt) == (bundled.number, 39, 280, 390)
    # findings with line numbers, and the question for a person, on stderr
    assert f"{L2_TXT.name}:754: warning: unit 16" in r.stderr
    assert "question (Unit 17)" in r.stderr
    assert r.stdout == ""


def test_import_to_stdout(spec_dir: Path) -> None:
    r = tracker(spec_dir, "import", str(L3_TXT))
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(r.stdout)
    assert data["number"] == "603/4688/7" and len(data["units"]) == 14
    assert r.stderr == ""


def test_import_with_errors_exits_1(spec_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    text = L3_TXT.read_text(encoding="utf-8").replace("Credit value: 42", "Credit value: 40")
    bad.write_text(text, encoding="utf-8")
    r = tracker(spec_dir, "import", str(bad), "-o", str(tmp_path / "bad.yaml"))
    assert r.returncode == 1
    assert "bad.txt:18: error: the structure table's unit credits add up to 42" in r.stderr
    assert "Traceback" not in r.stderr


def test_import_missing_file(spec_dir: Path, tmp_path: Path) -> None:
    r = tracker(spec_dir, "import", str(tmp_path / "nope.txt"))
    assert r.returncode == 1
    assert "nope.txt" in r.stderr and "Traceback" not in r.stderr


def test_add_then_list(spec_dir: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(L3_YAML.read_text(encoding="utf-8"))
    data.update(id="example-l3-copy", number="600/0000/4",
                title="Example Level 3 Diploma (copy for a test)")
    src = tmp_path / "copy.yaml"
    src.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    r = tracker(spec_dir, "add", str(src))
    assert r.returncode == 0, r.stderr
    assert (spec_dir / "example-l3-copy.yaml").is_file()
    r = tracker(spec_dir, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == (
        "600/0000/4  Example Level 3 Diploma (copy for a test)  (14 units, 48 criteria)")
    assert len(r.stdout.splitlines()) == 3
    r = tracker(spec_dir, "show", "600/0000/4", "--json")
    assert json.loads(r.stdout)["title"] == "Example Level 3 Diploma (copy for a test)"


def test_add_invalid_file(spec_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(L3_YAML.read_text(encoding="utf-8").replace("glh: 250", "glh: 251"),
                   encoding="utf-8")
    r = tracker(spec_dir, "add", str(bad))
    assert r.returncode == 1
    assert str(bad) in r.stderr and "GLH" in r.stderr
    assert "Traceback" not in r.stderr
    assert not spec_dir.exists() or not any(spec_dir.iterdir())


def test_spec_without_subcommand_is_misuse(spec_dir: Path) -> None:
    r = tracker(spec_dir)
    assert r.returncode == 2


def test_broken_user_spec_is_skipped_not_fatal(tmp_path: Path) -> None:
    import os

    (tmp_path / "broken.yaml").write_text("id: broken\nnumber: [not, valid\n")
    env = {**os.environ, "TRACKER_SPEC_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "tracker", "spec", "list"], capture_output=True, text=True, env=env)
    assert r.returncode == 0
    assert "603/4687/5" in r.stdout and "broken.yaml" in r.stderr
