"""The centre folder: returned workbooks in, one ledger and one master workbook out.

A centre folder (``tracker init DIR``) holds ``centre.yaml`` (name, number, readings, paths),
the centre register, ``inbox/`` where returned learner workbooks are dropped, ``archive/`` where
every received file is kept under its content hash, ``quarantine/`` for files that cannot be
merged, the ledger (SQLite) and the master workbook.

* :mod:`tracker.centre.folder` -- create and open a centre folder; the roll-up lock.
* :mod:`tracker.centre.ledger` -- the SQLite ledger (schema, queries).
* :mod:`tracker.centre.merge` -- the roll-up: archive, read + check, merge, publish.
* :mod:`tracker.centre.iqa` -- centre-wide checks (IQA independence, IQA sampling coverage).
* :mod:`tracker.centre.master` -- the master workbook, rebuilt from the ledger.
* :mod:`tracker.centre.export` -- the criteria and learners tables as CSV, JSON or Parquet.
* :mod:`tracker.centre.api` -- the centre's tables as pandas DataFrames (``tracker.open_centre``).

The names below are imported lazily so that ``import tracker.centre`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.centre.export import export
    from tracker.centre.folder import Centre, centre_of_master, init_centre, open_centre
    from tracker.centre.merge import RollupResult, resolve, rollup

__all__ = ["Centre", "RollupResult", "centre_of_master", "export", "init_centre", "open_centre", "resolve",
           "rollup"]

_WHERE = {
    "Centre": "tracker.centre.folder",
    "init_centre": "tracker.centre.folder",
    "centre_of_master": "tracker.centre.folder",
    "open_centre": "tracker.centre.folder",
    "RollupResult": "tracker.centre.merge",
    "rollup": "tracker.centre.merge",
    "resolve": "tracker.centre.merge",
    "export": "tracker.centre.export",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)
