"""The centre folder: returned workbooks in, one ledger and one master workbook out.

A centre folder (``tracker init DIR``) holds ``centre.yaml`` (name, number, readings, paths),
the centre register, ``inbox/`` where returned learner workbooks are dropped, ``archive/`` where
every received file is kept under its content hash, ``quarantine/`` for files that cannot be
merged, the ledger (SQLite) and the master workbook.

Modules, lowest layer first (each imports only modules above it in this list):

* :mod:`tracker.centre.locate` -- is a folder a centre folder, which centre holds a file (cheap to
  import: what a command outside any centre needs).
* :mod:`tracker.centre.folder` -- open a centre folder (``centre.yaml``); the roll-up lock; is the
  master open in Excel.
* :mod:`tracker.centre.ledger` -- the SQLite ledger: schema, transactions, and every query, as
  named functions returning named records.
* :mod:`tracker.centre.rollup_issues` -- the roll-up's own issue types.
* :mod:`tracker.centre.receive` -- list the inbox, archive by content hash, tidy the inbox.
* :mod:`tracker.centre.check` -- check a workbook as the centre does (add-in and roll-up).
* :mod:`tracker.centre.pool` -- worker processes reading and checking returned files.
* :mod:`tracker.centre.merge_rules` -- what a returned row may change in the accepted one.
* :mod:`tracker.centre.merge` -- a checked file written into the ledger.
* :mod:`tracker.centre.iqa` -- centre-wide checks (IQA independence, IQA sampling coverage).
* :mod:`tracker.centre.master` -- the master workbook, rebuilt from the ledger.
* :mod:`tracker.centre.publish` -- the master written beside itself, then swapped in.
* :mod:`tracker.centre.create` -- create a centre folder (with its first, empty master).
* :mod:`tracker.centre.conflicts` -- open conflicts and ``tracker resolve``.
* :mod:`tracker.centre.rollup_steps` -- the roll-up, step by step.
* :mod:`tracker.centre.export_tables` -- the criteria and learners tables as CSV, JSON or Parquet.
* :mod:`tracker.centre.api` -- the centre's tables as pandas DataFrames (``tracker.open_centre``).

The names below are imported lazily so that ``import tracker.centre`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.centre.export_tables import export
    from tracker.centre.create import init_centre
    from tracker.centre.folder import Centre, centre_of_master, open_centre
    from tracker.centre.conflicts import resolve
    from tracker.centre.rollup_steps import RollupResult, rollup

__all__ = ["Centre", "RollupResult", "centre_of_master", "export", "init_centre", "open_centre", "resolve",
           "rollup"]

_WHERE = {
    "Centre": "tracker.centre.folder",
    "init_centre": "tracker.centre.create",
    "centre_of_master": "tracker.centre.folder",
    "open_centre": "tracker.centre.folder",
    "RollupResult": "tracker.centre.rollup_steps",
    "rollup": "tracker.centre.rollup_steps",
    "resolve": "tracker.centre.conflicts",
    "export": "tracker.centre.export_tables",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)
