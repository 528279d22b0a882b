"""``tracker.open_centre(DIR)``: the centre's tables as DataFrames with the columns' own types,
and Parquet without pyarrow as one line with the install command (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_centre_sample import drop, edit, items, roll, signed_ref

import tracker
from tracker.centre.create import init_centre
from tracker.centre.api import CentreData
from tracker.centre.export_tables import PYARROW_INSTALL
from tracker.errors import CentreError


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> tuple[CentreData, list, str]:
    root = tmp_path_factory.mktemp("api") / "centre"
    c, _ = init_centre(root, name="Riverside")
    batch = items(3)
    drop(c, batch)
    (c.inbox / "broken.xlsx").write_bytes(b"not a workbook")
    roll(c)
    q, s, rec = batch[0]
    ref = signed_ref(rec)
    drop(c, [(q, s, edit(rec, ref, decision="Not yet met"))], names=["second.xlsx"])
    roll(c)
    return tracker.open_centre(root), batch, ref


def test_criteria_types_and_values(centre: tuple[CentreData, list, str]) -> None:
    data, batch, ref = centre
    df = data.criteria()
    # ULN is text (a number would lose nothing here, but a ULN is an identifier, never summed),
    # dates are datetimes, unit numbers nullable integers.
    assert df["uln"].dtype == "string" and df["ref"].dtype == "string"
    for col in ("evidence_date", "assessor_date", "iqa_date", "received"):
        assert df[col].dtype == "datetime64[ns]", col
    assert df["unit"].dtype == "Int64"
    _, s, rec = batch[0]
    row = df[(df["uln"] == s.learner.uln) & (df["ref"] == ref)].iloc[0]
    entry = rec.entries[ref]
    # The oracle is the record the workbook was written from.
    assert row["decision"] == "Met"  # the accepted sign-off stands against the contradicting return
    assert row["assessor_date"] == pd.Timestamp(entry.assessor_date)
    assert row["evidence_refs"] == ", ".join(entry.evidence_refs)
    assert not pd.isna(row["conflict"])  # the row is marked as having an open conflict
    blank = df[df["iqa_date"].isna()]
    assert len(blank) > 0  # a blank date is NaT, not a string or 0


def test_learners_types_and_values(centre: tuple[CentreData, list, str]) -> None:
    data, batch, _ = centre
    df = data.learners()
    assert sorted(df["uln"]) == sorted(s.learner.uln for _, s, _ in batch)
    assert df["uln"].dtype == "string"
    assert df["registration_date"].dtype == "datetime64[ns]" and df["last_return"].dtype == "datetime64[ns]"
    assert df["criteria_met"].dtype == "Int64" and df["percent"].dtype == "float64"
    by_uln = df.set_index("uln")
    for _, s, rec in batch:
        assert by_uln.loc[s.learner.uln, "registration_date"] == pd.Timestamp(s.learner.registration_date)
        assert by_uln.loc[s.learner.uln, "name"] == s.learner.name
    assert ((df["percent"] >= 0) & (df["percent"] <= 1)).all()


def test_conflicts_and_issues(centre: tuple[CentreData, list, str]) -> None:
    data, batch, ref = centre
    k = data.conflicts()
    _, s, _ = batch[0]
    assert list(zip(k["uln"], k["ref"], k["status"])) == [(s.learner.uln, ref, "Open")]
    assert k["id"].dtype == "Int64" and k["returned_received"].dtype == "datetime64[ns]"
    assert k.loc[0, "returned_file"] == "second.xlsx"
    issues = data.issues()
    assert issues["code"].dtype == "string" and issues["uln"].dtype == "string"
    quarantined = issues[issues["file"] == "broken.xlsx"]
    assert list(quarantined["code"]) == ["centre-unreadable"]


def test_not_a_centre(tmp_path: Path) -> None:
    with pytest.raises(CentreError, match="centre"):
        tracker.open_centre(tmp_path)


def test_parquet_without_pyarrow_is_one_line_with_the_install_command(centre: tuple[CentreData, list, str],
                                                                       tmp_path: Path) -> None:
    data, _, _ = centre
    # The real entry point, in a Python where "import pyarrow" fails.
    code = ("import sys; sys.modules['pyarrow'] = None; from tracker.cli import run; "
            f"sys.argv = ['tracker', 'export', {str(data.centre.root)!r}, '--format', 'parquet', "
            f"'-o', {str(tmp_path / 'out')!r}]; run()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr == f"tracker: Parquet needs pyarrow, which is not installed; install it with: {PYARROW_INSTALL}\n"
    assert not list((tmp_path / "out").glob("*.parquet*"))
