"""Conflicts resolved from Excel: the Decision and Note an admin chose on the master's Conflicts sheet.

The master's Conflicts sheet has a Decision dropdown (Keep accepted / Keep returned) on every open
conflict and a Note column. :func:`read_decisions` reads them back from the master (through the
same safety gate as any workbook); the next roll-up applies each to the conflict of that number
while it is still open (:func:`tracker.centre.conflicts.apply_resolution`) and journals it, so the
decision survives a rebuild. An admin never needs the command line for conflicts.

A master that cannot be read, or a Conflicts sheet without the Decision column (a master written
before it existed), yields no decisions: the roll-up goes on and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.centre.master import CONFLICT_COLUMNS, CONFLICT_OPEN_LABEL, CONFLICTS, DECISION_CHOICES
from tracker.errors import TrackerError


@dataclass(frozen=True, slots=True)
class ExcelDecision:
    """One decision typed on the master's Conflicts sheet."""

    conflict_id: int
    keep: str  # accepted | returned
    note: str


def _header(key: str) -> str:
    return next(c.header for c in CONFLICT_COLUMNS if c.key == key)


def read_decisions(master: Path) -> tuple[list[ExcelDecision], str | None]:
    """The decisions on open conflicts of ``master``'s Conflicts sheet, and a note when it could not be read."""
    if not master.is_file():
        return [], None
    from tracker.workbook.safety import check_workbook_file

    try:
        check_workbook_file(master)
        import python_calamine

        wb = python_calamine.CalamineWorkbook.from_path(str(master))
        if CONFLICTS not in wb.sheet_names:
            return [], None
        rows: list[list[Any]] = wb.get_sheet_by_name(CONFLICTS).to_python()
    except (TrackerError, OSError, ValueError) as e:
        return [], f"the decisions on the master's Conflicts sheet could not be read ({e}); none applied"
    except Exception as e:  # calamine raises several unrelated types for a damaged file
        return [], f"the decisions on the master's Conflicts sheet could not be read ({type(e).__name__}); none applied"
    if not rows:
        return [], None
    head = [str(h).strip() if h is not None else "" for h in rows[0]]
    try:
        i_id, i_status = head.index(_header("id")), head.index(_header("status"))
        i_decision, i_note = head.index(_header("decision")), head.index(_header("note"))
    except ValueError:
        return [], None  # a master from before the Decision column
    choices = {k.casefold(): v for k, v in DECISION_CHOICES.items()}
    out: list[ExcelDecision] = []
    for r in rows[1:]:
        cell = r[i_decision] if i_decision < len(r) else None
        keep = choices.get(str(cell).strip().casefold()) if cell not in (None, "") else None
        if keep is None or str(r[i_status]).strip() != CONFLICT_OPEN_LABEL:
            continue
        try:
            cid = int(float(r[i_id]))
        except (TypeError, ValueError):
            continue
        note = r[i_note] if i_note < len(r) and r[i_note] not in (None, "") else ""
        out.append(ExcelDecision(cid, keep, str(note).strip()))
    return out, None


__all__ = ["ExcelDecision", "read_decisions"]
