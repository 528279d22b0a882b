"""Blank workbook templates, one per installed qualification, kept in ``workbook_templates/``.

Templates are written deterministically (fixed workbook id and creation time) so that a test can
regenerate them and compare with the committed files: a specification or layout change that is
not followed by ``tracker templates`` fails the test suite.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tracker.spec.catalogue import BUNDLED_DIR, load_file, spec_hash
from tracker.spec.models import Qualification
from tracker.workbook.writer import new_workbook

# Fixed so that regenerating gives identical content.
TEMPLATE_CREATED = dt.datetime(2025, 1, 1)


def template_name(q: Qualification) -> str:
    """File name of a qualification's template: its number (slashes as dashes) and id."""
    return f"{q.number.replace('/', '-')}_{q.id}.xlsx"


def write_templates(folder: str | Path) -> list[Path]:
    """(Re)write the blank template of every bundled qualification into ``folder``."""
    out = Path(folder)
    written = []
    for spec in sorted(BUNDLED_DIR.glob("*.yaml")):
        q = load_file(spec)
        written.append(new_workbook(q, None, out / template_name(q), workbook_id=f"template-{q.id}",
                                    spec_hash=spec_hash(spec), created=TEMPLATE_CREATED))
    return written
