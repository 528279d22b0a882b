"""tracker.isolation: one item's crash, memory blow-up or hang costs that item only.

The work functions below do exactly one bad thing each (abort, segfault, allocate 4 GiB, never
return, raise), so each expected outcome is known in advance; the native case is real: python-
calamine aborting on a sheet the gate would refuse ("memory allocation of ... bytes failed").
No test sleeps or measures time: a time limit is only ever exceeded by an item that never ends.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tracker.isolation import Failure, Limits, WorkerPool, auto_workers, run_isolated
from tracker.rules.engine import validate_paths

from corpus import make_corpus as mc  # tests/ is on sys.path

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, RLIMIT_AS and PDEATHSIG")


def work(item: str) -> str:
    if item == "abort":
        os.abort()
    if item == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if item == "memory":
        return str(len(bytearray(4 << 30)))
    if item == "hang":
        threading.Event().wait()
    if item == "raise":
        raise ValueError("boom")
    if item.startswith("calamine:"):
        import python_calamine

        wb = python_calamine.CalamineWorkbook.from_path(item.split(":", 1)[1])
        return str([len(wb.get_sheet_by_name(n).to_python()) for n in wb.sheet_names])
    return item.upper()


@linux_only
def test_each_bad_item_costs_only_itself_and_its_worker_is_replaced() -> None:
    items = ["a", "abort", "b", "memory", "segv", "c", "raise", "hang", "d"]
    with WorkerPool(work, workers=2, limits=Limits(memory=512 << 20, seconds=2)) as pool:
        got = list(pool.map(items))
        assert pool.replaced == 4  # abort, memory, segv, hang; a raised exception keeps its worker
    assert [o.value for o in got] == ["A", None, "B", None, None, "C", None, None, "D"]
    failures = {items[i]: o.failure for i, o in enumerate(got) if o.failure is not None}
    assert {k: (f.kind, f.detail) for k, f in failures.items()} == {
        "abort": ("crashed", "SIGABRT"), "memory": ("memory", ""), "segv": ("crashed", "SIGSEGV"),
        "raise": ("error", "ValueError: boom"), "hang": ("timeout", "")}


@linux_only
def test_a_native_allocation_failure_is_reported_as_memory(tmp_path: Path) -> None:
    # A1 and XFD20000: calamine allocates 20,000 x 16,384 cells (10 GB) and the Rust runtime
    # aborts. (The gate refuses this file; here it is handed to calamine directly.)
    body = '<row r="1"><c r="A1"><v>1</v></c></row><row r="20000"><c r="XFD20000"><v>1</v></c></row>'
    xml = f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{body}</sheetData></worksheet>'
    p = tmp_path / "sparse.xlsx"
    p.write_bytes(mc._rezip(mc.small_xlsx(), replace={"xl/worksheets/sheet2.xml": xml.encode()}))
    [outcome] = run_isolated(work, [f"calamine:{p}"], limits=Limits(memory=512 << 20, seconds=60))
    assert outcome.failure is not None and outcome.failure.kind == "memory"
    assert "512 MB" in outcome.failure.reason()


def test_failure_reasons_are_sentences_for_a_person() -> None:
    limits = Limits(memory=256 << 20, seconds=30)
    assert "more memory than tracker allows for one workbook (256 MB)" in Failure("memory", limits=limits).reason()
    assert "longer than tracker allows for one workbook (30 s)" in Failure("timeout", limits=limits).reason()
    assert "stopped abruptly on it (SIGSEGV)" in Failure("crashed", "SIGSEGV").reason()
    assert "internal error" in Failure("error", "KeyError: 'x'").reason()


def test_auto_workers() -> None:
    assert auto_workers(1) == 1 and auto_workers(500, 3) == 3
    assert auto_workers(500) == (2 if (os.cpu_count() or 1) >= 2 else 1)


@linux_only
def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    # The parent starts two workers that each write one byte to an inherited pipe and then hang.
    # Once the parent is killed with SIGKILL, the pipe reaches end-of-file only when every
    # process holding its write end -- the parent and both workers -- is gone.
    script = textwrap.dedent("""
        import os, sys, threading
        from tracker.isolation import Limits, WorkerPool
        fd = int(sys.argv[1])
        def hang(item):
            os.write(fd, b"x")
            threading.Event().wait()
        with WorkerPool(hang, workers=2, limits=Limits(seconds=3600)) as pool:
            list(pool.map([1, 2]))
    """)
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", script, str(w)], pass_fds=(w,))
    os.close(w)
    try:
        started = b""
        while len(started) < 2:
            ready, _, _ = select.select([r], [], [], 120)
            assert ready, "the workers never started"
            chunk = os.read(r, 2)
            assert chunk, "the pipe closed before both workers started"
            started += chunk
        proc.kill()
        proc.wait(60)
        ready, _, _ = select.select([r], [], [], 60)
        assert ready and os.read(r, 1) == b"", "a worker outlived its parent"
    finally:
        os.close(r)
        if proc.poll() is None:
            proc.kill()


def _amplifying_workbook() -> bytes:
    """Legal in every way the gate checks (200 x 200 cells), but each cell names the same
    50,000-character shared string, which the parser copies once per cell: about 4 GB."""
    import io
    import zipfile

    from tracker.workbook.layout import col_letter

    base = mc.small_xlsx()
    with zipfile.ZipFile(io.BytesIO(base)) as z:
        sst = z.read("xl/sharedStrings.xml").decode()
    index = sst.count("<si>")
    sst = sst.replace("</sst>", f"<si><t>{'x' * 50_000}</t></si></sst>")
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{col_letter(c)}{r}" t="s"><v>{index}</v></c>' for c in range(200))
                   + "</row>" for r in range(1, 201))
    xml = f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'
    return mc._rezip(base, replace={"xl/worksheets/sheet2.xml": xml.encode(), "xl/sharedStrings.xml": sst.encode()})


@linux_only
def test_validate_reports_a_memory_bomb_and_checks_the_other_files(tmp_path: Path) -> None:
    (tmp_path / "a_good.xlsx").write_bytes(mc.learner_xlsx())
    (tmp_path / "b_bomb.xlsx").write_bytes(_amplifying_workbook())
    (tmp_path / "c_good.xlsx").write_bytes(mc.learner_xlsx(3))
    report = validate_paths([tmp_path], limits=Limits(memory=384 << 20, seconds=120))
    by_name = {Path(t.file).name: t for t in report.tasks}
    assert list(by_name) == ["a_good.xlsx", "b_bomb.xlsx", "c_good.xlsx"]
    assert by_name["a_good.xlsx"].uln == mc.LEARNER_ULN and by_name["c_good.xlsx"].uln == mc.learner_uln(3)
    [issue] = by_name["b_bomb.xlsx"].issues
    assert issue.code == "file-unreadable"
    assert issue.message.startswith("b_bomb.xlsx cannot be read: reading it needs more memory than tracker allows")
