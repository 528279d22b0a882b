"""The centre's journal: the archive's manifest and every admin decision, one JSON line each.

``journal.jsonl`` in the centre folder is what ``tracker rebuild`` replays when the ledger is lost
or damaged, so it lives outside the ledger. It is appended (and flushed to disk) right after each
ledger commit:

* ``{"kind": "file", "hash", "archive", "name"}`` -- a file received, in the order merged;
* ``{"kind": "resolve", "uln", "qualification_number", "ref", "returned", "keep", "by", "note"}`` --
  an admin's decision on a conflict (``tracker resolve`` or the master's Conflicts sheet);
* ``{"kind": "issue", "ledger_id", "base_id", "uln", "qualification_number", "revision",
  "fingerprint", "rows"}`` -- a workbook re-issued by ``tracker issue`` (its base).

Appending after the commit means a crash between the two can lose the last line: the rebuild
then replays archived files the journal does not list at the end (an admin decision made in that
instant would be lost and shows again as an open conflict -- never a wrong value).

:func:`open_ledger` is how every command opens the ledger: refused, with one line that says to
run ``tracker rebuild``, when :func:`tracker.centre.ledger.check_ledger` finds it damaged.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tracker.centre import ledger as LG
from tracker.centre.folder import Centre
from tracker.errors import CentreError

JOURNAL_NAME = "journal.jsonl"


def journal_path(c: Centre) -> Path:
    """The journal of a centre folder."""
    return c.root / JOURNAL_NAME


def read_journal(c: Centre) -> list[dict[str, Any]]:
    """Every entry, oldest first; a torn last line (a crash while appending) is skipped."""
    p = journal_path(c)
    if not p.is_file():
        return []
    out: list[dict[str, Any]] = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


def append_journal(c: Centre, entries: Iterable[dict[str, Any]]) -> None:
    """Append entries and flush them to disk."""
    lines = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
    if not lines:
        return
    with open(journal_path(c), "a", encoding="utf-8") as f:
        f.write(lines)
        f.flush()
        os.fsync(f.fileno())


def received_hashes(c: Centre) -> set[str]:
    """Hashes of the files the journal says were received."""
    return {str(e["hash"]) for e in read_journal(c) if e.get("kind") == "file" and "hash" in e}


def open_ledger(c: Centre) -> sqlite3.Connection:
    """The centre's ledger, checked first (see the module doc); raises CentreError when damaged."""
    problem = LG.check_ledger(c.ledger, received_hashes(c))
    if problem is None and not c.ledger.is_file() and any(c.archive.glob("*/*")):
        problem = f"the ledger {c.ledger} is missing"
    if problem is not None:
        raise CentreError(f"{problem}; nothing was changed. Run `tracker rebuild {c.root}` to rebuild it from "
                          "the archive")
    return LG.connect(c.ledger, create=False)


__all__ = ["JOURNAL_NAME", "append_journal", "journal_path", "open_ledger", "read_journal", "received_hashes"]
