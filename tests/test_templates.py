"""The committed blank templates are what the current code and spec data generate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from xlsx_compare import xlsx_differences

from tracker.spec.catalogue import BUNDLED_DIR, load_file
from tracker.workbook.reader import read_workbook
from tracker.workbook.templates import template_name, write_templates

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "workbook_templates"


def test_one_template_per_bundled_qualification() -> None:
    expected = sorted(template_name(load_file(p)) for p in BUNDLED_DIR.glob("*.yaml"))
    assert sorted(p.name for p in COMMITTED.glob("*.xlsx")) == expected


def test_committed_templates_are_up_to_date(tmp_path: Path) -> None:
    fresh = write_templates(tmp_path)
    for path in fresh:
        diffs = xlsx_differences(path, COMMITTED / path.name)
        assert not diffs, (f"{path.name} is out of date: run `tracker templates` and commit.\n"
                           + "\n".join(diffs[:5]))


def test_comparison_sees_a_changed_cell(tmp_path: Path) -> None:
    # The sync test above is only worth something if the comparison notices a real change.
    import openpyxl

    src = sorted(COMMITTED.glob("*.xlsx"))[0]
    wb = openpyxl.load_workbook(src)
    wb["Cover"]["B3"] = "Someone"
    changed = tmp_path / src.name
    wb.save(changed)
    assert xlsx_differences(changed, src)


def test_templates_command_through_entry_point(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "tracker", "templates", "--out", str(tmp_path)],
                         capture_output=True, text=True, check=True)
    written = [Path(line) for line in out.stdout.splitlines()]
    assert len(written) == len(list(BUNDLED_DIR.glob("*.yaml")))
    for path in written:
        book = read_workbook(path)
        assert book.meta["workbook_id"].startswith("template-")
        assert book.learner_name == ""
        assert len(book.units) == len(load_file(next(
            p for p in BUNDLED_DIR.glob("*.yaml") if load_file(p).id == book.meta["spec_id"])).units)
