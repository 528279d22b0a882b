"""The centre commands through the real entry point: ``python -m tracker init|rollup|conflicts|
resolve|export`` -- output, exit codes, JSON, and no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_centre_sample import drop, edit, items, signed_ref

from tracker.centre.folder import open_centre


def tracker(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_help_lists_the_centre_commands() -> None:
    out = tracker("--help").stdout
    for cmd in ("init", "rollup", "conflicts", "resolve", "export"):
        assert f"    {cmd}" in out
        assert tracker(cmd, "--help").returncode == 0


def test_init_rollup_conflicts_resolve(tmp_path: Path) -> None:
    root = tmp_path / "centre"
    p = tracker("init", str(root), "--name", "Riverside", "--number", "1234")
    assert p.returncode == 0 and "created centre.yaml" in p.stdout
    p = tracker("init", str(root))
    assert p.returncode == 0 and "nothing to create" in p.stdout
    p = tracker("init", str(root), "--name", "Elsewhere")
    assert p.returncode == 1 and "already a centre folder" in p.stderr

    c = open_centre(root)
    batch = items(4)
    drop(c, batch)
    (c.inbox / "broken.xlsx").write_bytes(b"not a zip")
    p = tracker("rollup", str(root), "--quiet")
    assert p.returncode == 0, p.stderr
    assert "4 merged, 1 quarantined, 0 already received; 4 learner(s), 0 open conflict(s)" in p.stdout

    q, s, rec = batch[1]
    ref = signed_ref(rec)
    drop(c, [(q, s, edit(rec, ref, decision="Not yet met"))], names=["second.xlsx"])
    p = tracker("rollup", str(root), "--json")
    assert p.returncode == 0
    out = json.loads(p.stdout)
    assert out["counts"] == {"merged": 1, "quarantined": 0, "duplicate": 0, "skipped": 0}
    assert out["open_conflicts"] == 1 and out["files"][0]["conflicts_opened"] == 1
    assert {"file", "hash", "outcome", "reason", "learner", "uln"} <= set(out["files"][0])

    p = tracker("conflicts", str(root))
    assert p.returncode == 0 and f"ULN {s.learner.uln}" in p.stdout and ref in p.stdout
    # In words: the column's header, both values quoted, no Python (decision=..., None).
    assert '    Decision: accepted "Met", returned "Not yet met"' in p.stdout
    assert "the contradicting one from second.xlsx" in p.stdout
    assert "=" not in p.stdout and "None" not in p.stdout
    listed = json.loads(tracker("conflicts", str(root), "--json").stdout)
    assert [(k["uln"], k["criterion"], k["fields"]) for k in listed] == [(s.learner.uln, ref, ["decision"])]
    assert listed[0]["accepted"] == {"decision": "Met"} and listed[0]["returned"] == {"decision": "Not yet met"}
    assert listed[0]["returned_file"] == "second.xlsx"

    p = tracker("resolve", str(root), "--keep", "accepted")
    assert p.returncode == 2 and "--learner" in p.stderr
    p = tracker("resolve", str(root), "--learner", s.learner.uln, "--criterion", ref, "--keep", "maybe")
    assert p.returncode == 2
    p = tracker("resolve", str(root), "--learner", s.learner.uln, "--criterion", ref, "--keep", "accepted",
                "--note", "checked with the assessor", "--by", "Admin")
    assert p.returncode == 0 and "closed: kept the accepted value" in p.stdout
    p = tracker("resolve", str(root), "--learner", s.learner.uln, "--criterion", ref, "--keep", "accepted")
    assert p.returncode == 1 and "no open conflict" in p.stderr
    assert "no open conflicts" in tracker("conflicts", str(root)).stdout

    p = tracker("rollup", str(root))
    assert p.returncode == 0 and "nothing new; master unchanged" in p.stdout


def test_rollup_of_something_that_is_not_a_centre(tmp_path: Path) -> None:
    p = tracker("rollup", str(tmp_path))
    assert p.returncode == 1 and "not a centre folder" in p.stderr and "tracker init" in p.stderr
    p = tracker("export", str(tmp_path / "missing"), "--format", "csv")
    assert p.returncode == 1


def test_resolve_by_conflict_id(tmp_path: Path) -> None:
    root = tmp_path / "centre"
    tracker("init", str(root))
    c = open_centre(root)
    (q, s, rec), = items(1)
    drop(c, [(q, s, rec)])
    tracker("rollup", str(root), "--quiet")
    ref = signed_ref(rec)
    drop(c, [(q, s, edit(rec, ref, assessor="Somebody Else"))])
    tracker("rollup", str(root), "--quiet")
    (k,) = json.loads(tracker("conflicts", str(root), "--json").stdout)
    p = tracker("resolve", str(root), "--conflict", str(k["id"]), "--keep", "returned")
    assert p.returncode == 0 and f"#{k['id']}" in p.stdout
    p = tracker("resolve", str(root), "--conflict", str(k["id"]), "--keep", "returned")
    assert p.returncode == 1 and "already closed" in p.stderr
