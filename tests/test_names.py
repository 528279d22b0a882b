"""Any file name the OS allows, and any text in a cell, reaches the terminal escaped and JSON exact.

Oracles: the escaped forms are written out here; a non-UTF-8 name must come back byte for byte
through JSON (json.loads, then os.fsencode), which is what a script using the JSON needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.terminal import for_terminal, json_bytes

from corpus import make_corpus as mc  # tests/ is on sys.path


@pytest.mark.parametrize("text, shown", [
    ("plain Café Ελένη 王小明 🎉", "plain Café Ελένη 王小明 🎉"),
    ("\x1b[2K\rOK", "\\x1b[2K\\x0dOK"),
    ("two\nlines\ttab", "two\\x0alines\\x09tab"),
    ("\x9b31m C1 CSI", "\\x9b31m C1 CSI"),
    ("abc\u202edcba", "abc\\u202edcba"),
    ("caf" + b"\xe9".decode("utf-8", "surrogateescape"), "caf\\xe9"),
    ("\x7f", "\\x7f"),
])
def test_for_terminal(text: str, shown: str) -> None:
    assert for_terminal(text) == shown


def test_json_bytes_keep_an_undecodable_name_exact() -> None:
    name = os.fsdecode(b"/in/caf\xe9.xlsx")
    data = json_bytes(json.dumps({"file": name}, ensure_ascii=False))
    assert os.fsencode(json.loads(data)["file"]) == b"/in/caf\xe9.xlsx"


def _tracker(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "tracker", *map(os.fsdecode, args)], capture_output=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.mark.skipif(sys.platform != "linux", reason="file names that are not UTF-8 exist on Linux")
def test_validate_with_hostile_names_and_text(tmp_path: Path) -> None:
    raw_name = b"caf\xe9 \x1b[32mOK\x1b[0m.xlsx"  # not UTF-8, with an escape sequence
    long_name = ("é" * 120 + ".xlsx").encode()  # 245 bytes: near the 255-byte limit
    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, raw_name), "wb") as f:
        f.write(mc.learner_xlsx(1, name="Jo \x1b[2K\rAll files OK"))
    with open(os.path.join(folder, long_name), "wb") as f:
        f.write(mc.learner_xlsx(2))
    r = _tracker("validate", tmp_path)
    out, err = r.stdout, r.stderr
    assert b"Traceback" not in out + err and r.returncode == 0, err
    assert b"\x1b" not in out and b"\r" not in out
    text = out.decode("utf-8")
    assert "caf\\xe9 \\x1b[32mOK\\x1b[0m.xlsx - Jo \\x1b[2K\\x0dAll files OK (ULN " in text
    assert "é" * 120 + ".xlsx - " in text
    j = _tracker("validate", "--json", tmp_path)
    assert j.returncode == 0, j.stderr
    files = {os.fsencode(f["file"]) for f in json.loads(j.stdout)["files"]}
    assert files == {os.path.join(folder, raw_name), os.path.join(folder, long_name)}
    learners = {f["learner"] for f in json.loads(j.stdout)["files"]}
    assert "Jo \x1b[2K\rAll files OK" in learners  # JSON is exact (control characters as \\u escapes)


def test_a_terminal_that_cannot_show_a_name_gets_an_escape_not_a_traceback(tmp_path: Path) -> None:
    p = tmp_path / "greek.xlsx"
    p.write_bytes(mc.learner_xlsx(4, name="Ελένη Παπαδοπούλου"))
    r = _tracker("validate", p, env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 0 and b"Traceback" not in r.stdout + r.stderr, r.stderr
    assert b"\\u0395\\u03bb\\u03ad\\u03bd\\u03b7" in r.stdout  # backslashreplace, on an ASCII stream
