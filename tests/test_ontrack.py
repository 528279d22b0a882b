"""On track: hand-written cases (expected statuses worked out by hand from the rule in the issue:
behind at 10 points of planned time ahead of the share achieved, far behind at 25, overdue past
the planned end date or after the centre's weeks without activity)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tracker.centre import ledger as LG
from tracker.centre import ontrack as OT

D = dt.date
REG = D(2025, 1, 1)
END = D(2025, 12, 31)  # 364 days after REG
MID = D(2025, 7, 2)    # 182 days: exactly half the planned time elapsed


@pytest.mark.parametrize(("achieved", "required", "complete", "reg", "end", "last", "today", "want"), [
    # half the time gone, 60% achieved: ahead
    (60, 100, False, REG, END, D(2025, 6, 30), MID, OT.ON_TRACK),
    # half gone, 41% achieved: 9 points behind -- still on track
    (41, 100, False, REG, END, D(2025, 6, 30), MID, OT.ON_TRACK),
    # half gone, 40% achieved: exactly 10 points -- behind
    (40, 100, False, REG, END, D(2025, 6, 30), MID, OT.BEHIND),
    # half gone, 26%: 24 points -- behind, not far behind
    (26, 100, False, REG, END, D(2025, 6, 30), MID, OT.BEHIND),
    # half gone, 25%: 25 points -- far behind
    (25, 100, False, REG, END, D(2025, 6, 30), MID, OT.FAR_BEHIND),
    # past the planned end date, even at 99%
    (99, 100, False, REG, END, D(2026, 1, 2), D(2026, 1, 5), OT.OVERDUE),
    # 8 weeks (56 days) without activity
    (60, 100, False, REG, END, MID - dt.timedelta(days=56), MID, OT.OVERDUE),
    # 55 days without activity: not yet
    (60, 100, False, REG, END, MID - dt.timedelta(days=55), MID, OT.ON_TRACK),
    # no activity at all, registered 8 weeks ago
    (0, 100, False, REG, END, None, REG + dt.timedelta(days=56), OT.OVERDUE),
    # no planned end date
    (10, 100, False, REG, None, D(2025, 6, 30), MID, OT.NO_END_DATE),
    # complete beats everything, even past the end date
    (100, 100, True, REG, END, D(2025, 3, 1), D(2026, 6, 1), OT.COMPLETE),
])
def test_on_track_cases(achieved: int, required: int, complete: bool, reg: dt.date, end: dt.date | None,
                        last: dt.date | None, today: dt.date, want: str) -> None:
    assert OT.on_track(required=required, achieved=achieved, complete=complete, registration=reg,
                       planned_end=end, last=last, today=today) == want


def test_last_activity_is_the_latest_date() -> None:
    assert OT.last_activity([None, D(2025, 3, 1), D(2025, 5, 2), D(2024, 1, 1)]) == D(2025, 5, 2)
    assert OT.last_activity([None, None]) is None


def test_a_schema_3_ledger_gains_the_planned_end_date_on_open(tmp_path: Path) -> None:
    p = tmp_path / "ledger.sqlite"
    conn = LG.connect(p)
    # Make it a schema-3 ledger: learners without the version-5 column.
    conn.execute("ALTER TABLE learners DROP COLUMN planned_end_date")
    conn.execute("INSERT INTO learners (uln, qualification_number, qualification_id, name, first_run, last_file, "
                 "last_return) VALUES ('1000000043', '603/4687/5', 'q', 'Jo', 1, 'a.xlsx', '2025-01-01')")
    conn.execute("PRAGMA user_version=3")
    conn.close()
    conn = LG.connect(p)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LG.SCHEMA_VERSION == 6
        cols = [r[1] for r in conn.execute("PRAGMA table_info(learners)")]
        assert cols[-1] == "planned_end_date"
        assert conn.execute("SELECT uln, name, planned_end_date FROM learners").fetchall() == [("1000000043", "Jo", None)]
    finally:
        conn.close()
