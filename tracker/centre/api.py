"""The centre's data as pandas DataFrames, for scripts: ``tracker.open_centre(DIR)``.

::

    import tracker

    centre = tracker.open_centre("riverside/")
    criteria = centre.criteria()          # one row per learner x criterion
    met = criteria[criteria["decision"] == "Met"]
    met.groupby("assessor")["assessor_date"].max()

Four tables, the same rows and columns as the master's sheets and ``tracker export`` (column
names are the master's column keys, ``uln``, ``qualification_number``, ``assessor_date`` ...):

* :meth:`CentreData.criteria` -- the Criteria sheet (every sign-off column);
* :meth:`CentreData.learners` -- the Learners sheet (progress, counts, % complete);
* :meth:`CentreData.issues` -- the Issues sheet (centre checks, register, quarantined files,
  every learner's latest return);
* :meth:`CentreData.conflicts` -- the Conflicts sheet (open ones first, then closed).

Types are the columns' own, never guessed from the values: text as pandas' ``string`` dtype (a
ULN stays ``"0123..."``-safe text, never a number), dates and date-times as ``datetime64``
(blank: ``NaT``), counts as nullable ``Int64``, % complete as ``float64``. Each call reads the
ledger afresh in one read transaction (a roll-up running meanwhile is seen whole or not at all).

pandas is imported here only (``import tracker`` and the command line never pay for it); Parquet
is :mod:`tracker.centre.export_tables`' business.
The rows come from the same functions as the master and ``tracker export``
(:func:`tracker.centre.export_tables.iter_table` and the master's record builders), so the three never
disagree.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from tracker.centre.folder import Centre
    from tracker.centre.master import MColumn


class CentreData:
    """A centre folder's ledger, read as DataFrames (see the module docstring)."""

    def __init__(self, centre: Centre) -> None:
        self.centre = centre

    def __repr__(self) -> str:
        return f"CentreData({str(self.centre.root)!r})"

    def criteria(self) -> pd.DataFrame:
        """One row per learner x criterion, with every sign-off column (the master's Criteria sheet)."""
        from tracker.centre import master as M
        from tracker.centre.export_tables import iter_table

        return self._frame(M.CRITERIA_COLUMNS, lambda conn: iter_table(conn, self.centre, "criteria"))

    def learners(self) -> pd.DataFrame:
        """One row per learner and qualification, with progress (the master's Learners sheet)."""
        from tracker.centre import master as M
        from tracker.centre.export_tables import iter_table

        return self._frame(M.LEARNER_COLUMNS, lambda conn: iter_table(conn, self.centre, "learners"))

    def issues(self) -> pd.DataFrame:
        """Every finding the master lists (the master's Issues sheet)."""
        from tracker.centre import ledger as LG
        from tracker.centre import master as M

        return self._frame(M.ISSUE_COLUMNS, lambda conn: M.issue_records(conn, LG.file_names(conn)))

    def conflicts(self) -> pd.DataFrame:
        """Merge conflicts, open ones first, then closed (the master's Conflicts sheet)."""
        from tracker.centre import ledger as LG
        from tracker.centre import master as M

        return self._frame(M.CONFLICT_COLUMNS, lambda conn: M.conflict_records(conn, LG.file_names(conn)))

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        from tracker.centre import ledger as LG

        conn = LG.connect(self.centre.ledger, create=False)
        try:
            with LG.snapshot(conn):  # one consistent read
                yield conn
        finally:
            conn.close()

    def _frame(self, columns: tuple[MColumn, ...],
               records: Callable[[sqlite3.Connection], Iterable[dict[str, Any]]]) -> pd.DataFrame:
        with self._snapshot() as conn:
            rows = [{c.key: rec.get(c.key) for c in columns} for rec in records(conn)]
        return typed_frame(rows, columns)


def typed_frame(rows: list[dict[str, Any]], columns: tuple[MColumn, ...]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with each column's dtype set from its kind, never from its values.

    Inference would make a column of ULNs integers and a column of blanks ``object``; the kinds
    are the master's (text, int, date, datetime, percent).
    """
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=[c.key for c in columns])
    for c in columns:
        s = df[c.key]
        if c.kind in ("date", "datetime"):
            # The ledger keeps ISO text (2025-02-03, 2025-02-03 14:05:00); blank -> NaT.
            df[c.key] = pd.to_datetime(s.astype("string"), format="ISO8601", errors="coerce").astype("datetime64[ns]")
        elif c.kind == "int":
            df[c.key] = pd.to_numeric(s, errors="coerce").astype("Int64")
        elif c.kind == "percent":
            df[c.key] = pd.to_numeric(s, errors="coerce").astype("float64")
        else:
            df[c.key] = s.map(_text, na_action="ignore").astype("string")
    return df


def _text(value: Any) -> Any:
    # Evidence refs and other lists as the master shows them; everything else as its text.
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def open_centre(root: str | Path) -> CentreData:
    """The data of the centre folder at ``root`` (made by ``tracker init``, filled by roll-ups).

    Raises :class:`~tracker.errors.CentreError` when ``root`` is not a centre folder.
    """
    from tracker.centre.folder import open_centre as open_folder

    return CentreData(open_folder(root))
