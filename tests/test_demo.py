"""``python -m tracker.demo DIR`` runs end to end (with a small learner count)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
from test_centre_sample import query, sheet_dicts

from tracker.centre.folder import open_centre


def test_demo_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "demo centre"
    proc = subprocess.run([sys.executable, "-m", "tracker.demo", str(root), "--learners", "12"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    c = open_centre(root)
    assert str(c.master) in proc.stdout
    assert "roll-up 1:" in proc.stdout and "roll-up 2:" in proc.stdout
    # The deliberate problems and conflicts are there.
    quarantined = {n for (n,) in query(c, "SELECT original_name FROM files WHERE outcome = 'quarantined'")}
    assert quarantined == {"Scan of paper tracker.xlsx", "returned by email.xlsx"}
    conflicts = query(c, "SELECT status, resolution FROM conflicts ORDER BY id")
    assert len(conflicts) == 3
    assert sorted(r for _s, r in conflicts if r) == ["agreeing-return", "kept-accepted"]
    assert [s for s, _r in conflicts].count("open") == 1
    # Round 4: two parallel copies of one re-issue, both merged, no conflict (three-way merge).
    assert "round 4:" in proc.stdout and "2 merged, 0 conflict(s) opened -- both kept" in proc.stdout
    both = query(c, "SELECT count(*) FROM criteria WHERE source_file IN (SELECT hash FROM files WHERE "
                    "original_name LIKE '% (IQA copy).xlsx' OR original_name LIKE '% (assessor copy).xlsx')")
    assert both == [(2,)]  # the IQA's sampled row and the assessor's new sign-off
    learners = sheet_dicts(c.master, "Learners")
    assert len(learners) == 12
    names = [x["Learner name"] for x in learners]
    assert len(set(names)) < len(names)  # two learners with the same name, kept apart
    codes = {x["Code"] for x in sheet_dicts(c.master, "Issues")}
    assert {"evidence-ref-unknown", "centre-unreadable", "centre-unknown-learner"} <= codes
    crit = pd.read_csv(c.path("export") / "criteria.csv", dtype={"uln": str})
    assert len(crit) == len(pd.read_excel(c.master, sheet_name="Criteria", engine="openpyxl"))
    # The EQA visit pack and one tracking record per learner (tracker report).
    pack = root / "reports" / "centre-pack.pdf"
    assert "EQA visit pack (" in proc.stdout and str(pack) in proc.stdout
    assert pack.read_bytes()[:5] == b"%PDF-"
    records = sorted((root / "reports" / "learners").glob("*.pdf"))
    assert len(records) == 12 and all(p.read_bytes()[:5] == b"%PDF-" for p in records)
    # Run again on the same folder: an earlier demo is replaced.
    again = subprocess.run([sys.executable, "-m", "tracker.demo", str(root), "--learners", "6", "--quiet", "--no-report"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(c.master)
    assert len(sheet_dicts(c.master, "Learners")) == 6


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    proc = subprocess.run([sys.executable, "-m", "tracker.demo", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "not an earlier demo centre" in proc.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
