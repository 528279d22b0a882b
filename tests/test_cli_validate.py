"""`tracker validate` through the real entry point: exit codes, text and JSON, --mark, --register."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
from fixtures import L2, L3, TODAY, at, complete_record, record, signed, write

from tracker.register import INTERESTS_SHEET, STAFF_COLUMNS, STAFF_SHEET, new_register
from tracker.workbook import layout as L


def tracker(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracker", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_exit_0_when_clean_even_with_warnings(tmp_path: Path) -> None:
    p = write(tmp_path, L3, complete_record(L3, None, uln="9999999999"))
    r = tracker("validate", p, "--today", TODAY.isoformat())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[id-uln-not-known]" in r.stdout
    assert r.stdout.splitlines()[-1] == "1 file: 0 with errors; 0 errors, 1 warning, 1 info"


def test_exit_1_and_text_output_on_errors(tmp_path: Path) -> None:
    p = write(tmp_path, L2, record({"S9.1": signed(L2, "S9.1", 1, evidence_refs=())}))
    r = tracker("validate", p, "--today", TODAY.isoformat())
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == f"{p} - Bob Learner (ULN 1000000043), 603/4687/5"
    sheet, cell = at(L2, "S9.1", "evidence_refs")
    line = next(x for x in lines if "completion-met-no-evidence" in x)
    assert line.startswith("  ERROR ")
    assert f"{sheet}!{cell}  S9.1 is marked Met but has no evidence ref [completion-met-no-evidence]" in line
    quiet = tracker("validate", p, "-q", "--today", TODAY.isoformat())
    assert "INFO" not in quiet.stdout and "ERROR" in quiet.stdout


def test_json_shape_and_unreadable_files(tmp_path: Path) -> None:
    write(tmp_path, L2, record({"S9.1": signed(L2, "S9.1", 1, method=None)}), name="a.xlsx")
    (tmp_path / "b.xlsx").write_bytes(b"\x00" * 100)
    (tmp_path / "~$a.xlsx").write_bytes(b"lock")
    r = tracker("validate", tmp_path, "--json", "--today", TODAY.isoformat())
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert set(data) == {"files", "counts", "skipped"}
    assert data["skipped"] == [{"file": str(tmp_path / "~$a.xlsx"),
                                "reason": "an Office lock file (the workbook is open in Excel or LibreOffice)"}]
    assert set(data["counts"]) == {"files", "error", "warning", "info"}
    assert data["counts"]["files"] == 2
    a, b = data["files"]
    for f in (a, b):
        assert set(f) == {"file", "learner", "uln", "qualification_number", "issues", "counts"}
        for i in f["issues"]:
            assert set(i) == {"code", "severity", "message", "sheet", "cell", "unit", "criterion"}
    assert (a["learner"], a["uln"], a["qualification_number"]) == ("Bob Learner", "1000000043", "603/4687/5")
    issue = next(i for i in a["issues"] if i["code"] == "completion-met-no-method")
    sheet, cell = at(L2, "S9.1", "method")
    assert issue == {"code": "completion-met-no-method", "severity": "error",
                     "message": "S9.1 is marked Met but has no assessment method", "sheet": sheet, "cell": cell,
                     "unit": "9", "criterion": "S9.1"}
    assert [i["code"] for i in b["issues"]] == ["file-unreadable"]
    assert b["counts"] == {"error": 1, "warning": 0, "info": 0}


def test_misuse_exits_2(tmp_path: Path) -> None:
    p = write(tmp_path, L3, complete_record(L3, None))
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["validate", tmp_path / "missing.xlsx"],
                 ["validate", p, "--today", "31/12/2024"],
                 ["validate", p, "--no-such-option"],
                 ["validate"],
                 ["validate", empty],
                 ["validate", p, "--reading", "no-such-reading"],
                 ["validate", p, "--register", tmp_path / "no-register.xlsx"]):
        r = tracker(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.strip()


def test_mark_writes_validation_sheet_and_is_repeatable(tmp_path: Path) -> None:
    p = write(tmp_path, L2, record({"S9.1": signed(L2, "S9.1", 1, evidence_refs=())}))
    bad = tmp_path / "bad.xlsx"
    bad.write_text("nope")
    for _ in range(2):
        r = tracker("validate", tmp_path, "--mark", "--today", TODAY.isoformat())
        assert r.returncode == 1
        # What was marked and what was not, and why, on stderr.
        assert f"marked      {p}: 0 errors, 1 warning" in r.stderr or f"marked      {p}:" in r.stderr
        assert f"not marked  {bad}: it could not be read" in r.stderr
        assert "1 workbook(s) marked, 1 not marked" in r.stderr
    wb = openpyxl.load_workbook(p)
    assert wb.sheetnames.count(L.VALIDATION) == 1
    assert bad.read_text() == "nope"  # an unreadable file is left alone


def test_register_findings_and_staff_checks(tmp_path: Path) -> None:
    p = write(tmp_path, L3, complete_record(L3, None))
    reg = new_register(tmp_path / "reg" / "register.xlsx")
    wb = openpyxl.load_workbook(reg)
    col = {c.key: i + 1 for i, c in enumerate(STAFF_COLUMNS)}
    ws = wb[STAFF_SHEET]
    for n, (name, roles, a, i) in enumerate([("Ann Assessor", "assessor", "Held", None),
                                             ("Ian Iqa", "IQA", None, "Held"),
                                             ("Tom Tutor", "teacher", None, None)], start=2):
        ws.cell(row=n, column=col["name"]).value = name
        ws.cell(row=n, column=col["roles"]).value = roles
        ws.cell(row=n, column=col["assessor_status"]).value = a
        ws.cell(row=n, column=col["iqa_status"]).value = i
    wb[INTERESTS_SHEET].append(["Ann Assessor", "1000000043", "mother", None])
    wb.save(reg)
    r = tracker("validate", p, "--register", reg, "--json", "--today", TODAY.isoformat())
    assert r.returncode == 1
    files = json.loads(r.stdout)["files"]
    assert [f["file"] for f in files] == [str(reg), str(p)]
    assert [i["code"] for i in files[0]["issues"]] == ["register-unknown-role"]
    assert [i["code"] for i in files[1]["issues"] if i["severity"] == "error"] == ["coi-declared-interest"]


def test_one_file_does_not_import_openpyxl_or_pandas(tmp_path: Path) -> None:
    p = write(tmp_path, L3, complete_record(L3, None))
    code = ("import sys; from tracker.cli import main; rc = main(['validate', sys.argv[1], '-q']); "
            "print(rc, 'openpyxl' in sys.modules, 'pandas' in sys.modules, 'xlsxwriter' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=120)
    assert r.stdout.splitlines()[-1] == "0 False False False", r.stdout + r.stderr
