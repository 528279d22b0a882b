"""Export the criteria long table and the learners table for scripts: CSV, JSON or Parquet.

``tracker export DIR --format csv|json|parquet [-o OUT]`` writes two files into ``OUT`` (default:
the centre's ``export/`` folder): ``criteria.<ext>`` (one row per learner x criterion, every
sign-off column -- the master's Criteria sheet) and ``learners.<ext>`` (the master's Learners
sheet). Both come from the ledger, computed exactly as the master computes them.

Column names are the master's column keys in snake_case (``uln``, ``qualification_number``,
``decision``, ``assessor_date`` ...), stable for scripts; the master's column headers are the
human-readable names of the same columns.

The criteria table ends with one more column, ``extra``: the values of the columns an assessor
added to the unit sheet (a header the layout does not know, e.g. "Assessor comments"), as one
object ``{"Assessor comments": "..."}`` in column order -- a JSON object in JSON, the same object
as JSON text in CSV and Parquet, blank (``null``) for a row with none. One column rather than a
column per header: the columns a script reads stay the same whatever assessors typed
(``df["extra"].map(json.loads)`` or ``pandas.json_normalize`` spreads them out).

* CSV: UTF-8, a header row, ISO dates (``2025-02-03``) and date-times (``2025-02-03 14:05:00``),
  empty for blank; ``pandas.read_csv(path, dtype={"uln": str})`` reads it. Text that a
  spreadsheet would run as a formula when the CSV is opened in Excel -- a cell starting with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, such as a learner name
  ``=HYPERLINK(...)`` (OWASP "CSV injection") -- is written with a leading ``'``, which Excel
  shows as text and does not display; numbers are never changed. ``raw=True`` (``--raw``)
  writes every value exactly as it is, for scripts that read the CSV as data.
* JSON: an array of objects per file, ``null`` for blank; ``pandas.read_json(path)`` reads it.
* Parquet (pyarrow): typed columns -- dates as dates, counts as integers, % complete as a float.

pandas is imported here only, and only for Parquet.

The module is not called ``export.py``: ``tracker.centre.export`` is the function (the package's
public name), and a submodule of that name would replace it on the package once imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tracker.centre import ledger as LG
from tracker.centre import master as M
from tracker.centre.folder import Centre, ledger_errors, open_centre
from tracker.centre.journal import open_ledger
from tracker.centre.merge_rules import extra_from_json
from tracker.errors import UsageError

FORMATS = ("csv", "json", "parquet")
TABLES = ("criteria", "learners")


#: the criteria table's last column: the added columns' values (see the module doc)
EXTRA_COLUMN = M.MColumn("extra", "Added columns", 30)


def _columns(table: str) -> tuple[M.MColumn, ...]:
    return (*M.CRITERIA_COLUMNS, EXTRA_COLUMN) if table == "criteria" else M.LEARNER_COLUMNS


def iter_table(conn: sqlite3.Connection, centre: Centre, table: str) -> Iterator[dict[str, Any]]:
    """Rows of the ``criteria`` or ``learners`` table as dicts keyed by column key."""
    quals = M.Qualifications([centre.specs])
    files = LG.file_names(conn)
    open_rows, per_learner = M.open_conflict_rows(conn)
    counts = LG.issue_counts(conn) if table == "learners" else {}
    extras = LG.criterion_extras(conn) if table == "criteria" else {}
    keys = [c.key for c in _columns(table)]
    run = LG.latest_run(conn)
    as_of = dt.date.fromisoformat(run.started[:10]) if run else None  # as the master judges it
    for view in M.iter_learners(conn, quals):
        if table == "learners":
            rec = M.learner_record(view, files, counts, per_learner, as_of)
            yield {k: rec.get(k) for k in keys}
        else:
            for rec in M.criterion_records(view, files, open_rows):
                row = {k: rec.get(k) for k in keys}
                text = extras.get((str(rec.get("uln")), str(rec.get("qualification_number")), str(rec.get("ref"))))
                row["extra"] = extra_from_json(text) or None
                yield row


def export(centre: str | Path | Centre, fmt: str, out: str | Path | None = None, *,
           raw: bool = False) -> list[Path]:
    """Write ``criteria.<fmt>`` and ``learners.<fmt>`` into ``out``; returns the paths written.

    ``raw``: CSV text exactly as recorded, without the ``'`` that defuses formula-like text.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    c = centre if isinstance(centre, Centre) else open_centre(centre)
    folder = Path(out) if out is not None else c.path("export")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file; -o names the folder that receives criteria.{fmt} and learners.{fmt}")
    folder.mkdir(parents=True, exist_ok=True)
    with ledger_errors(c):
        conn = open_ledger(c)
        written: list[Path] = []
        try:
            with LG.snapshot(conn):  # one consistent ledger for both tables
                for table in TABLES:
                    path = folder / f"{table}.{fmt}"
                    tmp = path.with_name(f".~{path.name}.tmp")
                    try:
                        rows = iter_table(conn, c, table)
                        if fmt == "csv":
                            _write_csv(tmp, table, rows, raw=raw)
                        elif fmt == "json":
                            _write_json(tmp, rows)
                        else:
                            _write_parquet(tmp, table, rows)
                        os.replace(tmp, path)
                    except BaseException:
                        tmp.unlink(missing_ok=True)
                        raise
                    written.append(path)
        finally:
            conn.close()
    return written


def _plain(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    return v


#: what makes a spreadsheet read a CSV cell as a formula (or a DDE command)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> Any:
    """A CSV cell that Excel and LibreOffice show as the text it is: text starting with a
    formula character gets a leading ``'``; everything else (numbers included) is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _as_text(v: Any) -> Any:
    # The criteria table's ``extra`` object, as JSON text in CSV and Parquet.
    return json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v


def _write_csv(path: Path, table: str, rows: Iterator[dict[str, Any]], *, raw: bool = False) -> None:
    keys = [c.key for c in _columns(table)]
    def cell(v: Any) -> Any:
        text = _plain(_as_text(v))
        return text if raw else defuse(text)

    with open(path, "w", encoding="utf-8", newline="", errors="surrogateescape") as f:
        w = csv.writer(f)
        w.writerow(keys)
        for rec in rows:
            w.writerow(["" if rec[k] is None else cell(rec[k]) for k in keys])


def _write_json(path: Path, rows: Iterator[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        for n, rec in enumerate(rows):
            f.write(",\n" if n else "\n")
            f.write(json.dumps({k: _plain(v) for k, v in rec.items()}, ensure_ascii=False))
        f.write("\n]\n")


PYARROW_INSTALL = "pip install 'tracker[data]'"


def require_pyarrow() -> None:
    """Raise :class:`~tracker.errors.MissingDependency` with the install command when pyarrow is
    missing (pandas writes Parquet through it; it is the ``data`` extra, not a core dependency)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        from tracker.errors import MissingDependency

        raise MissingDependency(f"Parquet needs pyarrow, which is not installed; install it with: "
                                f"{PYARROW_INSTALL}") from None


def _write_parquet(path: Path, table: str, rows: Iterator[dict[str, Any]]) -> None:
    require_pyarrow()  # a one-line message with the install command, not a traceback
    import pandas as pd

    cols = _columns(table)
    df = pd.DataFrame.from_records([{k: _as_text(v) for k, v in r.items()} for r in rows],
                                   columns=[c.key for c in cols])
    for c in cols:
        if c.kind == "date":
            df[c.key] = [dt.date.fromisoformat(v) if isinstance(v, str) else None for v in df[c.key]]
        elif c.kind == "datetime":
            df[c.key] = pd.to_datetime(df[c.key], errors="coerce")
        elif c.kind == "int":
            df[c.key] = df[c.key].astype("Int64")
        elif c.kind == "percent":
            df[c.key] = df[c.key].astype("float64")
        else:
            df[c.key] = df[c.key].astype("string")
    df.to_parquet(path, index=False, engine="pyarrow")
