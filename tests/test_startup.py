"""What a one-file ``tracker validate`` imports and how it ends (issue 16's start-up), never timed:
the modules that made it slow must stay out, and the quick exit must keep the output, the exit
code and the atexit handlers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fixtures import L2, TODAY, record, signed, write

REPO = Path(__file__).resolve().parents[1]
#: imported by other commands, never needed to validate one file outside a centre
HEAVY = ("pydantic", "yaml", "openpyxl", "xlsxwriter", "pandas", "tqdm", "sqlite3", "tracker.centre.ledger",
         "tracker.centre.folder", "tracker.spec.schema")


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_one_file_outside_a_centre_imports_none_of_the_heavy_modules(tmp_path: Path) -> None:
    p = write(tmp_path, L2, record({"S9.1": signed(L2, "S9.1", 1, evidence_refs=())}))
    code = (f"import sys; from tracker.cli import main; code = main(['validate', {str(p)!r}, '--today', "
            f"{TODAY.isoformat()!r}]); print('exit', code); "
            f"print('loaded', *[m for m in {HEAVY!r} if m in sys.modules])")
    _python(code, tmp_path)  # the first run validates the qualification files and fills the cache
    r = _python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "completion-met-no-evidence" in r.stdout  # it did validate
    assert lines[-2:] == ["exit 1", "loaded"]


def test_quick_exit_keeps_output_exit_code_and_atexit_handlers(tmp_path: Path) -> None:
    p = write(tmp_path, L2, record({"S9.1": signed(L2, "S9.1", 1, evidence_refs=())}))
    code = ("import atexit, sys; atexit.register(lambda: print('atexit ran', flush=True)); "
            f"sys.argv = ['tracker', 'validate', {str(p)!r}, '--today', {TODAY.isoformat()!r}]; "
            "from tracker.cli import run; run()")
    r = _python(code, tmp_path)
    assert r.returncode == 1
    out = r.stdout.splitlines()
    assert out[0].startswith(str(p)) and out[-1] == "atexit ran"
    assert out[-2].startswith("1 file: 1 with errors; 1 error, 0 warnings")  # the total, before the handler
