"""``tracker export``: the criteria and learners tables as CSV, JSON and Parquet, read by pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_centre_sample import Item, drop, edit, items, make_centre, roll, sheet_dicts, signed_ref

from tracker.centre import master as M
from tracker.centre.export_tables import export
from tracker.centre.folder import Centre
from tracker.errors import UsageError


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> tuple[Centre, list[Item]]:
    c = make_centre(tmp_path_factory.mktemp("export") / "centre")
    batch = items(5)
    drop(c, batch)
    roll(c)
    q, s, rec = batch[1]
    drop(c, [(q, s, edit(rec, signed_ref(rec), decision="Not yet met"))], names=["conflict.xlsx"])
    roll(c)
    return c, batch


def _read(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(path, dtype={"uln": str}, keep_default_na=False, na_values=[""])
    if fmt == "json":
        return pd.read_json(path, dtype={"uln": str})
    return pd.read_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export_matches_the_master(centre: tuple[Centre, list[Item]], fmt: str, tmp_path: Path) -> None:
    c, batch = centre
    paths = export(c, fmt, tmp_path / fmt)
    assert [p.name for p in paths] == [f"criteria.{fmt}", f"learners.{fmt}"]
    crit = _read(paths[0], fmt)
    learners = _read(paths[1], fmt)
    assert list(crit.columns) == [col.key for col in M.CRITERIA_COLUMNS]
    assert list(learners.columns) == [col.key for col in M.LEARNER_COLUMNS]
    assert len(crit) == sum(q.criterion_count() for q, _s, _r in batch)
    assert sorted(learners["uln"]) == sorted(s.learner.uln for _q, s, _r in batch)
    master = sheet_dicts(c.master, "Criteria")
    header_of = {col.key: col.header for col in M.CRITERIA_COLUMNS}
    for i in (0, 7, len(master) - 1):
        for key in ("uln", "ref", "decision", "assessor", "required", "conflict"):
            want = master[i][header_of[key]]
            got = crit.iloc[i][key]
            assert (pd.isna(got) and want is None) or str(got) == str(want), (key, got, want)
        want_date = master[i][header_of["assessor_date"]]
        got_date = crit.iloc[i]["assessor_date"]
        assert (want_date is None and pd.isna(got_date)) or pd.Timestamp(got_date).date() == want_date.date()
    assert (crit["conflict"] == "Open").sum() == 1
    percent = dict(zip(learners["uln"], learners["percent"]))
    for row in sheet_dicts(c.master, "Learners"):
        assert percent[row["ULN"]] == pytest.approx(row["% complete"], abs=1e-6)


def test_parquet_columns_are_typed(centre: tuple[Centre, list[Item]], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    c, _ = centre
    export(c, "parquet", tmp_path)
    schema = pq.read_schema(tmp_path / "criteria.parquet")
    assert str(schema.field("assessor_date").type) == "date32[day]"
    assert str(schema.field("unit").type) == "int64"
    assert str(schema.field("received").type).startswith("timestamp")
    schema = pq.read_schema(tmp_path / "learners.parquet")
    assert str(schema.field("percent").type) == "double"
    assert str(schema.field("units_complete").type) == "int64"


def test_default_folder_and_bad_arguments(centre: tuple[Centre, list[Item]], tmp_path: Path) -> None:
    c, _ = centre
    paths = export(c, "json")
    assert paths[0].parent == c.path("export")
    data = json.loads(paths[1].read_text(encoding="utf-8"))
    assert isinstance(data, list) and {"uln", "percent", "status"} <= set(data[0])
    with pytest.raises(UsageError):
        export(c, "xlsx")
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(UsageError):
        export(c, "csv", f)


def test_export_through_the_command_line(centre: tuple[Centre, list[Item]], tmp_path: Path) -> None:
    c, batch = centre
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "tracker", "export", str(c.root), "--format", "csv", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(out / "criteria.csv"), str(out / "learners.csv")]
    assert len(pd.read_csv(out / "learners.csv")) == len(batch)
    bad = subprocess.run([sys.executable, "-m", "tracker", "export", str(c.root), "--format", "xls"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
