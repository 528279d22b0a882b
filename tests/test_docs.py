"""docs/issues.md is generated from the catalogue, is up to date, and documents every code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tracker.docs import DEFAULT_PATH, load_all, render
from tracker.issues import CATALOGUE, IssueType, Severity


def test_issues_md_is_up_to_date() -> None:
    current = DEFAULT_PATH.read_text(encoding="utf-8")
    assert current == render(load_all()), "docs/issues.md is out of date: run `python -m tracker.docs`"


def test_every_code_is_documented_with_meaning_and_fix() -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    catalogue = load_all()
    assert catalogue
    for code, t in catalogue.items():
        assert f'<a id="{code}"></a>`{code}`' in text, code
        section = text.split(f'<a id="{code}"></a>', 1)[1].split("### ", 1)[0]
        assert t.description in section and t.fix in section and t.severity.value in section


def test_render_notices_a_new_code() -> None:
    catalogue = load_all()
    extra = IssueType("zz-new-thing", Severity.WARNING, "New", "new {x}", "A new thing.", "Fix it.", "zz")
    assert render({**catalogue, extra.code: extra}) != render(catalogue)
    assert "zz-new-thing" not in CATALOGUE


def test_check_mode(tmp_path: Path) -> None:
    stale = tmp_path / "issues.md"
    stale.write_text("old\n")
    r = subprocess.run([sys.executable, "-m", "tracker.docs", "--check", "-o", str(stale)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "out of date" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tracker.docs", "-o", str(stale)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0
    r = subprocess.run([sys.executable, "-m", "tracker.docs", "--check", "-o", str(stale)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_messages_show_no_python_format_codes() -> None:
    # ‹known!r› and ‹n:,› were Python's conversion and format codes leaking into the page.
    t = IssueType("zz-codes", Severity.INFO, "T", "{known!r} has {n:,} rows in {label_lower}", "D.", "F.", "zz")
    assert "“‹known› has ‹n› rows in ‹label lower›”" in render({"zz-codes": t})
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    for placeholder in text.split("‹")[1:]:
        name = placeholder.split("›", 1)[0]
        if name == "…":
            continue  # the page's own explanation of ‹…›
        assert name and all(ch.isalnum() or ch == " " for ch in name), name


def test_fixes_give_the_excel_way_before_any_command() -> None:
    # An admin who only uses Excel must be able to act on every fix: a command is offered only
    # beside the add-in's way, or where there is none (said so), or for what only the command line
    # can cause.
    for code, t in load_all().items():
        if "`tracker" not in t.fix:
            continue
        excel_first = t.fix.find("add-in") != -1 and t.fix.find("add-in") < t.fix.find("`tracker")
        no_excel_way = "no way to do this from Excel" in t.fix or "whoever looks after tracker" in t.fix
        assert excel_first or no_excel_way or "command line" in t.description, code
