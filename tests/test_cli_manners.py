"""The command line's manners, through the real entry point (issue 15): --version, the
sub-command's usage for a misspelt option, -q, a closed pipe, a master or register given to
validate, never overwriting a workbook, and a centre's own qualifications everywhere."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import yaml
from fixtures import L2, REGISTERED, complete_record, record, signed, write

from tracker.centre.create import init_centre
from tracker.spec.catalogue import BUNDLED_DIR
from tracker.workbook import layout as L
from tracker.workbook.reader import read_workbook


def tracker(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            **kw: object) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "tracker", *map(str, args)], capture_output=True, text=True,
                       encoding="utf-8", timeout=120, cwd=cwd, env={**os.environ, **(env or {})})
    assert "Traceback" not in r.stderr, r.stderr
    return r


def test_version_is_the_installed_package_version() -> None:
    r = tracker("--version")
    assert (r.returncode, r.stdout) == (0, f"tracker {importlib.metadata.version('tracker')}\n")


def test_misspelt_option_shows_the_sub_commands_usage_and_a_close_match(tmp_path: Path) -> None:
    r = tracker("validate", tmp_path, "--jsn")
    assert r.returncode == 2
    assert r.stderr.startswith("usage: tracker validate ")
    assert r.stderr.endswith("tracker validate: error: unrecognized arguments: --jsn (did you mean --json?)\n")
    r = tracker("spec", "show", "603/4687/5", "--jsno")  # two levels down
    assert r.returncode == 2 and r.stderr.startswith("usage: tracker spec show ")
    assert "(did you mean --json?)" in r.stderr
    r = tracker("new", "-q", "603/4687/5", "--zzz")  # nothing close: no guess
    assert r.returncode == 2 and r.stderr.startswith("usage: tracker new ")
    assert r.stderr.endswith("unrecognized arguments: --zzz\n")


def test_quiet_shows_only_files_with_problems_and_the_total(tmp_path: Path) -> None:
    write(tmp_path, L2, complete_record(L2, "face-to-face"), "a_clean.xlsx")
    write(tmp_path, L2, record({}), "b_progress.xlsx")  # nothing done yet: information only
    bad = write(tmp_path, L2, record({"S9.1": signed(L2, "S9.1", 1, method=None)}), "c_slip.xlsx")
    r = tracker("validate", tmp_path, "-q", "--today", "2025-06-30")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{bad} - Bob Learner")
    assert all("a_clean" not in x and "b_progress" not in x and "INFO" not in x for x in lines)
    # The total still counts every file and every finding (the progress information too).
    assert lines[-1].startswith("3 files: 1 with errors; 1 error, 0 warnings, ")
    assert len(lines) == 4, lines  # heading, the error, the file's counts, the total


def test_a_closed_pipe_ends_quietly() -> None:
    # The reader of the pipe is gone before tracker writes a byte (closed here, never inherited),
    # so every write fails: deterministic, unlike racing a real `| head`.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = subprocess.run([sys.executable, "-m", "tracker", "spec", "show", "603/4687/5"], stdout=write_end,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert (r.returncode, r.stderr) == (1, "")


def test_the_master_sheet_names_the_engine_knows_are_the_masters() -> None:
    from tracker.centre.master import SHEETS

    assert L.MASTER_SHEETS == SHEETS


def test_a_master_or_register_is_named_for_what_it_is(tmp_path: Path) -> None:
    c, _ = init_centre(tmp_path / "centre")
    other = tmp_path / "shopping.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Eggs"
    wb.save(other)
    r = tracker("validate", c.master, c.register, other, "--json")
    assert r.returncode == 1
    files = {Path(f["file"]).name: f["issues"] for f in json.loads(r.stdout)["files"]}
    assert {n: [(i["code"], i["message"]) for i in v] for n, v in files.items()} == {
        c.master.name: [("file-not-learner-workbook", f"{c.master.name} is a centre master workbook, not a learner "
                         "workbook, so it was not checked; validate the learner workbooks or the centre's inbox "
                         "folder instead")],
        c.register.name: [("file-not-learner-workbook", f"{c.register.name} is a centre register, not a learner "
                           "workbook, so it was not checked; check it with: tracker register check FILE")],
        "shopping.xlsx": [("file-not-learner-workbook", "shopping.xlsx is a workbook with no cover sheet and no "
                           "unit sheets, not a learner workbook, so it was not checked")],
    }


def test_new_never_overwrites_without_force(tmp_path: Path) -> None:
    out = tmp_path / "jo.xlsx"
    args = ["new", "-q", "603/4687/5", "--uln", "1000000043", "--pathway", "face-to-face", "-o", out]
    assert tracker(*args, "--learner-name", "Jo Bloggs").returncode == 0
    wb = openpyxl.load_workbook(out)  # the assessor's work since
    wb[L.unit_sheet_name(1)]["A1"] = "filled in"
    wb.save(out)
    before = out.read_bytes()
    r = tracker(*args, "--learner-name", "Someone Else")
    assert r.returncode == 2
    assert r.stderr == f"tracker: {out} already exists; nothing was written (use --force to replace it)\n"
    assert out.read_bytes() == before
    assert tracker(*args, "--learner-name", "Someone Else", "--force").returncode == 0
    assert read_workbook(out).learner_name == "Someone Else"


def test_a_centres_qualifications_are_seen_by_new_validate_and_spec(tmp_path: Path) -> None:
    user_specs = {"TRACKER_SPEC_DIR": str(tmp_path / "user-specs")}  # keep the user's own folder out
    c, _ = init_centre(tmp_path / "centre")
    data = yaml.safe_load(next(BUNDLED_DIR.glob("*l2*.yaml")).read_text(encoding="utf-8"))
    data.update(id="centre-own", number="600/0000/1")
    src = tmp_path / "own.yaml"
    src.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    r = tracker("spec", "add", src, "--centre", c.root, env=user_specs)
    assert r.returncode == 0 and f"as {c.specs / 'centre-own.yaml'}" in r.stdout
    # Outside the centre it is not installed...
    assert tracker("new", "-q", "600/0000/1", "--learner-name", "Jo", "--uln", "1000000043", "--pathway",
                   "face-to-face", "-o", tmp_path / "x.xlsx", env=user_specs).returncode == 1
    # ...inside (or with --centre) it is.
    out = c.root / "jo.xlsx"
    r = tracker("new", "-q", "600/0000/1", "--learner-name", "Jo", "--uln", "1000000043", "--pathway",
                "face-to-face", "--registration-date", REGISTERED.isoformat(), "-o", out, cwd=c.root, env=user_specs)
    assert r.returncode == 0, r.stderr
    assert read_workbook(out).qualification_number == "600/0000/1"
    # validate finds the centre from the workbook's folder, or is told it with --centre.
    for extra in ([], ["--centre", c.root]):
        r = tracker("validate", out, "--json", *extra, cwd=tmp_path, env=user_specs)
        codes = {i["code"] for i in json.loads(r.stdout)["files"][0]["issues"]}
        assert "structure-unknown-qualification" not in codes and r.returncode == 0, r.stdout
    outside = tmp_path / "y.xlsx"
    outside.write_bytes(out.read_bytes())
    r = tracker("validate", outside, "--json", cwd=tmp_path, env=user_specs)
    assert {i["code"] for i in json.loads(r.stdout)["files"][0]["issues"]} >= {"structure-unknown-qualification"}
    assert "600/0000/1" in tracker("spec", "list", "--centre", c.root, env=user_specs).stdout
    assert "600/0000/1" not in tracker("spec", "list", cwd=tmp_path, env=user_specs).stdout
