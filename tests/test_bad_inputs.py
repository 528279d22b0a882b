"""Bad input through the whole tool: every corpus file, `tracker validate` and `tracker rollup`.

The corpus (tests/corpus/make_corpus.py, outcomes in tests/corpus/expected.yaml) holds files that
are not workbooks at all, hostile files, damaged files, and real learner workbooks with bad
content. For each, through the real entry point (``python -m tracker``): a clear message naming
the file (and sheet and cell where known), the expected exit code, no traceback, bounded time.
A roll-up over the whole corpus merges what can be merged, quarantines the rest, and writes a
master in which everything that came from a learner file is data, never a formula or a macro.

Also here: the gate's error-cell collection (``SafeInfo.error_cells``) and the reader putting
``#REF!`` back where calamine leaves a blank; docs/bad-inputs.md kept in step with the corpus.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.errors import UnreadableWorkbook
from tracker.workbook import layout as L
from tracker.workbook import safety
from tracker.workbook.reader import read_workbook
from tracker.workbook.safety import MAX_ERROR_CELLS, check_workbook_file

CORPUS_DIR = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS_DIR / "expected.yaml").read_text("utf-8"))
DOC = Path(__file__).parent.parent / "docs" / "bad-inputs.md"
TIMEOUT = 60  # seconds for any one command on any one corpus file
PEAK_LIMIT = 50 * 1024 * 1024


from corpus import make_corpus as mc  # tests/ is on sys.path (pytest rootdir-relative import)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    files: dict[str, Path] = mc.make_corpus(tmp_path_factory.mktemp("corpus"))
    return files


#: every command runs with at most this much address space (its workers too): memory is bounded
#: by the limit, not measured, so the assertion holds however busy the machine is
ADDRESS_SPACE = 4 << 30


def _bounded() -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def tracker(*args: str | Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """The command, bounded in time (killed after ``timeout``) and memory (``ADDRESS_SPACE``)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    r = subprocess.run([sys.executable, "-m", "tracker", *map(str, args)], capture_output=True,
                       text=True, encoding="utf-8", timeout=timeout, env=env,
                       preexec_fn=_bounded if sys.platform.startswith("linux") else None)
    assert r.returncode >= 0, f"tracker {args[0]} died of signal {-r.returncode}: {r.stderr}"
    return r


def _assert_no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    both = r.stdout + r.stderr
    assert "Traceback" not in both, both
    # Anything on stderr is the tool's own one-line message, not a Python error.
    for line in r.stderr.splitlines():
        assert line.startswith(("tracker:", "usage:")) or not line.strip(), r.stderr


def _refused(name: str) -> bool:
    return EXPECTED[name]["outcome"] == "refused"


def _where(issue: dict[str, Any]) -> str:
    if issue["sheet"] and issue["cell"]:
        return f"{issue['sheet']}!{issue['cell']}"
    return issue["sheet"] or ""


# --------------------------------------------------------------------------------------------
# The corpus itself
# --------------------------------------------------------------------------------------------


def test_every_case_the_issue_lists_is_in_the_corpus() -> None:
    # issue 6: "covering at least" these; each maps to the corpus file(s) that cover it.
    required = {
        "empty file": ["empty.xlsx"], "random bytes": ["random.xlsx"], "truncated": ["truncated.xlsx"],
        ".xls": ["biff.xlsx"], ".ods": ["ods.xlsx"], ".csv": ["csv.xlsx"], "encrypted": ["encrypted.xlsx"],
        "zip bomb": ["zipbomb.xlsx", "ratio_bomb.xlsx"], "billion laughs": ["billion_laughs.xlsx"],
        "external entities": ["xxe.xlsx"], "unit sheet deleted": ["unit_sheet_deleted.xlsx"],
        "unit sheet renamed": ["unit_sheet_renamed.xlsx"], "header row edited": ["header_edited.xlsx"],
        "merged cells": ["merged_cells.xlsx"], "text in date cells": ["text_in_dates.xlsx"],
        "#REF!/#VALUE!": ["error_cells.xlsx"], "formulas where values belong": ["formulas_as_values.xlsx"],
        "1,048,576 rows": ["huge_rows.xlsx"],
        "name starting = + - @": ["name_equals.xlsx", "name_plus.xlsx", "name_minus.xlsx", "name_at.xlsx"],
        "non-Latin names": ["non_latin.xlsx"], ".xlsm with macros": ["learner_macros.xlsm", "macros.xlsm"],
        "saved by openpyxl": ["openpyxl_saved.xlsx"],
        # issue 11: validate reports what the roll-up reports
        "unit sheet copied": ["unit_sheet_copied.xlsx"], "header twice": ["header_twice.xlsx"],
    }
    for case, names in required.items():
        for n in names:
            assert n in EXPECTED, f"{case}: {n} missing from expected.yaml"
    for name, e in EXPECTED.items():
        assert e.get("what"), f"{name}: say what the file is (what:)"
        assert _refused(name) or "validate" in e, f"{name}: expected validate outcome missing"


def test_corpus_positions_match_the_layout(corpus: dict[str, Path]) -> None:
    # make_corpus edits cells by position; if the writer moves things, say so here, not in a
    # confusing failure further down.
    book = read_workbook(corpus["learner_good.xlsx"])
    unit1 = next(u for u in book.units if u.sheet == mc.UNIT1_SHEET)
    assert unit1.header_row == mc.UNIT_HEADER_ROW
    for key, letter in mc.COLUMN.items():
        assert unit1.columns[key] == letter, key
    assert unit1.rows[0].row == mc.UNIT1_FIRST_ROW and unit1.rows[0].ref == "K1.1"
    name = book.cover["name"]
    assert (name.sheet, name.ref, name.value) == (L.COVER, mc.COVER_NAME_CELL, mc.LEARNER_NAME)
    with zipfile.ZipFile(corpus["learner_good.xlsx"]) as z:
        assert [s for s, _ in check_workbook_file(corpus["learner_good.xlsx"]).sheets][:3] == \
            [L.COVER, L.SUMMARY, mc.UNIT1_SHEET]
        assert mc.UNIT1_PART in z.namelist() and mc.COVER_PART in z.namelist()


# --------------------------------------------------------------------------------------------
# tracker validate FILE, for every file
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_each_file(corpus: dict[str, Path], name: str) -> None:
    path = corpus[name]
    expected = EXPECTED[name]
    r = tracker("validate", path)  # bounded: the command is killed (and the test fails) after TIMEOUT
    _assert_no_traceback(r)
    out = r.stdout
    assert out.splitlines()[0].startswith(str(path)), out  # the report starts by naming the file
    if _refused(name):
        assert r.returncode == 1, out + r.stderr
        # One line that names the file, says what it is and what to do.
        line = next(x for x in out.splitlines() if "[file-unreadable]" in x)
        assert f"{name} cannot be read: " in line
        assert str(expected["message"]) in line
        if "sheet" in expected:
            assert f" {expected['sheet']} " in line
        return
    v = expected["validate"]
    assert r.returncode == v["exit"], out + r.stderr
    lines = out.splitlines()
    for code, where in v.get("issues", []):
        hits = [x for x in lines if x.endswith(f"[{code}]")]
        assert hits, f"{name}: no {code} in\n{out}"
        if where:
            assert any(f" {where} " in x for x in hits), f"{name}: {code} not at {where} in\n{out}"
    for code in v.get("absent", []):
        assert f"[{code}]" not in out
    if "name" in v:
        assert lines[0] == f"{path} - {v['name']} (ULN {_uln_of(name)}), 603/4687/5"


def _uln_of(name: str) -> str:
    if name in mc.INJECTION_NAMES:
        return str(mc.learner_uln(list(mc.INJECTION_NAMES).index(name) + 1))
    return {"name_real_formula.xlsx": mc.learner_uln(5), "non_latin.xlsx": mc.learner_uln(6)}.get(
        name, mc.LEARNER_ULN)


def test_validate_folder_of_the_whole_corpus_still_validates_the_good_workbook(
        corpus: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    for name, path in corpus.items():
        shutil.copy(path, folder / name)
    good = folder / "zz_good_learner.xlsx"
    good.write_bytes(mc.learner_xlsx(9, name="Good Learner"))
    r = tracker("validate", "--json", folder, timeout=TIMEOUT * 2)
    _assert_no_traceback(r)
    assert r.returncode == 1
    data = json.loads(r.stdout)
    tasks = {Path(t["file"]).name: t for t in data["files"]}
    assert set(tasks) == set(corpus) | {good.name}
    assert tasks[good.name]["counts"]["error"] == 0
    assert tasks[good.name]["learner"] == "Good Learner"
    for name, task in tasks.items():
        if name == good.name:
            continue
        found = {(i["code"], _where(i)) for i in task["issues"]}
        codes = {i["code"] for i in task["issues"]}
        for i in task["issues"]:
            assert "\n" not in i["message"], i
        if _refused(name):
            assert [i["code"] for i in task["issues"]] == ["file-unreadable"], name
            issue = task["issues"][0]
            assert name in issue["message"] and str(EXPECTED[name]["message"]) in issue["message"]
            assert issue["sheet"] == EXPECTED[name].get("sheet")
            continue
        v = EXPECTED[name]["validate"]
        assert (task["counts"]["error"] > 0) == (v["exit"] == 1), (name, task["issues"])
        for code, where in v.get("issues", []):
            assert (code, where) in found if where else code in codes, (name, code, where, sorted(found))
        assert not codes & set(v.get("absent", [])), name


def test_validating_the_zip_bomb_in_process_uses_little_memory(corpus: dict[str, Path]) -> None:
    from tracker.rules.engine import validate_file

    validate_file(corpus["learner_good.xlsx"])  # imports and caches do not count
    for name in ("zipbomb.xlsx", "ratio_bomb.xlsx", "lying_stream.xlsx", "billion_laughs.xlsx", "huge_rows.xlsx"):
        tracemalloc.start()
        try:
            task = validate_file(corpus[name])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert [i.code for i in task.issues] == ["file-unreadable"], name
        assert peak < PEAK_LIMIT, f"{name}: peak {peak / 2**20:.1f} MiB"


def test_openpyxl_runs_with_defusedxml() -> None:
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True  # so openpyxl alone also refuses entity attacks


# --------------------------------------------------------------------------------------------
# Formula errors: the gate finds them, the reader reports them instead of blanks
# --------------------------------------------------------------------------------------------


def test_gate_lists_error_cells_with_sheet_cell_and_text(corpus: dict[str, Path]) -> None:
    info = check_workbook_file(corpus["error_cells.xlsx"])
    r = mc.UNIT1_FIRST_ROW
    c = mc.COLUMN
    assert info.error_cells == (
        (mc.UNIT1_SHEET, f"{c['evidence_date']}{r}", "#DIV/0!"),
        (mc.UNIT1_SHEET, f"{c['decision']}{r}", "#REF!"),
        (mc.UNIT1_SHEET, f"{c['assessor_date']}{r + 1}", "#VALUE!"),
    )
    assert check_workbook_file(corpus["learner_good.xlsx"]).error_cells == ()


def test_reader_reports_formula_errors_where_calamine_sees_blanks(corpus: dict[str, Path]) -> None:
    book = read_workbook(corpus["error_cells.xlsx"])
    rows = {row.ref: row for row in book.rows()}
    assert rows["K1.1"].cell("decision").problem == "formula error #REF!"
    assert rows["K1.1"].cell("decision").value is None
    assert rows["K1.1"].cell("evidence_date").problem == "formula error #DIV/0!"
    assert rows["K1.2"].cell("assessor_date").problem == "formula error #VALUE!"
    assert rows["K1.2"].cell("assessor_date").ref == f"{mc.COLUMN['assessor_date']}{mc.UNIT1_FIRST_ROW + 1}"
    assert rows["K1.3"].cell("decision").problem is None and rows["K1.3"].value("decision") == "Met"


def _sheet_with(cells: str, pad_rows: int = 300) -> bytes:
    """A worksheet with ``pad_rows`` ordinary rows (so it is longer than the 4 KiB head) then ``cells``."""
    pad = "".join(f'<row r="{i}"><c r="A{i}" t="s"><v>{i}</v></c><c r="B{i}"><v>{i * 7}</v></c></row>'
                  for i in range(1, pad_rows + 1))
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{mc._MAIN_NS}"><sheetData>{pad}'
            f'<row r="{pad_rows + 1}">{cells}</row></sheetData></worksheet>').encode()


def _scan(doc: bytes, cuts: list[int]) -> list[tuple[str, str]]:
    scanner = safety._XmlScanner("sheet1.xml", sheet="S", max_rows=1_000_000)
    last = 0
    for cut in [*cuts, len(doc)]:
        scanner.feed(doc[last:cut])
        last = cut
    scanner.close()
    return scanner.error_cells


def test_error_cells_found_across_every_chunk_boundary() -> None:
    cells = ('<c r="C301" s="4" t="e"><f>VLOOKUP(A1,Sheet2!A:B,2,FALSE)</f><v>#N/A</v></c>'
             '<x:c r="D301" t = \'e\'><x:v>#REF!</x:v></x:c>'
             '<c r="E301" t="e"/><c r="F301" t="s"><v>3</v></c><c r="G301" t="e"><v>&#35;NAME?</v></c>')
    doc = _sheet_with(cells)
    start = doc.index(b'<c r="C301"')
    want = [("C301", "#N/A"), ("D301", "#REF!"), ("G301", "#NAME?")]
    assert _scan(doc, []) == want
    for cut in range(start - 5, len(doc) - 20):
        assert _scan(doc, [cut]) == want, cut
    for cut in range(start, start + 120, 7):
        assert _scan(doc, [cut, cut + 9, cut + 31]) == want, cut


_ERROR_DOC = _sheet_with(
    '<c r="C301" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="D301" t="str"><f>"#x"</f><v>#x</v></c>'
    '<c r="E301" s="2" t="e"><f>' + "A1+" * 900 + 'A1</f><v>#VALUE!</v></c>')


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(_ERROR_DOC)), max_size=12))
def test_error_cells_found_however_the_sheet_is_cut(cuts: list[int]) -> None:
    assert _scan(_ERROR_DOC, sorted(set(cuts))) == [("C301", "#DIV/0!"), ("E301", "#VALUE!")]


def test_error_cells_are_bounded(tmp_path: Path) -> None:
    many = "".join(f'<row r="{i}"><c r="A{i}" t="e"><f>#REF!</f><v>#REF!</v></c></row>' for i in range(1, 5001))
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{mc._MAIN_NS}"><sheetData>{many}'
             '</sheetData></worksheet>').encode()
    xlsx = mc._rezip(mc.small_xlsx(), replace={"xl/worksheets/sheet2.xml": sheet})
    path = tmp_path / "many_errors.xlsx"
    path.write_bytes(xlsx)
    info = check_workbook_file(path)
    assert len(info.error_cells) == MAX_ERROR_CELLS
    assert info.error_cells[0] == ("Unit 1", "A1", "#REF!")
    assert info.error_cells[-1] == ("Unit 1", f"A{MAX_ERROR_CELLS}", "#REF!")


# --------------------------------------------------------------------------------------------
# tracker rollup over the whole corpus
# --------------------------------------------------------------------------------------------


def _rollup_outcome(name: str) -> str:
    return str(EXPECTED[name].get("rollup") or ("quarantined" if _refused(name) else "merged"))


@pytest.fixture(scope="module")
def rolled_up(corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("centre") / "centre"
    r = tracker("init", root, "--name", "Bad Input College")
    _assert_no_traceback(r)
    assert r.returncode == 0, r.stderr
    inbox = root / "inbox"
    for name, path in corpus.items():
        shutil.copy(path, inbox / name)
    (inbox / "good_one.xlsx").write_bytes(mc.learner_xlsx(7, name="Amal Good"))
    (inbox / "good_two.xlsx").write_bytes(mc.learner_xlsx(8, name="Ben Good"))
    r = tracker("rollup", "--json", root, timeout=TIMEOUT * 3)
    _assert_no_traceback(r)
    assert r.returncode == 0, r.stdout + r.stderr
    return root, json.loads(r.stdout)


def test_rollup_merges_the_good_and_quarantines_the_bad(corpus: dict[str, Path],
                                                        rolled_up: tuple[Path, dict[str, Any]]) -> None:
    root, result = rolled_up
    outcomes = {f["file"]: f for f in result["files"]}
    assert set(outcomes) == set(corpus) | {"good_one.xlsx", "good_two.xlsx"}
    for good in ("good_one.xlsx", "good_two.xlsx"):
        assert outcomes[good]["outcome"] == "merged"
    for name in corpus:
        want = _rollup_outcome(name)
        assert outcomes[name]["outcome"] == want, (name, outcomes[name])
        if want == "quarantined":
            kept = root / "quarantine" / name
            # Nothing lost: the very bytes received, with a note saying why.
            assert kept.read_bytes() == corpus[name].read_bytes()
            why = (root / "quarantine" / f"{name}.why.txt").read_text("utf-8")
            assert outcomes[name]["reason"] and outcomes[name]["reason"] in why
            if _refused(name):
                assert str(EXPECTED[name]["message"]) in outcomes[name]["reason"]
    # Only what was left for the next roll-up (an empty file written moments ago) is still there.
    left = {n for n in corpus if _rollup_outcome(n) == "skipped"}
    assert {p.name for p in (root / "inbox").iterdir()} == left
    for name in left:
        assert outcomes[name]["reason"].startswith("left for the next roll-up")
    # Every received file is archived by content, byte for byte.
    archived = {p.read_bytes() for p in (root / "archive").rglob("*") if p.is_file()}
    for name in corpus:
        if _rollup_outcome(name) == "merged":
            assert corpus[name].read_bytes() in archived, name


def test_rollup_master_is_written_and_learner_text_is_data(rolled_up: tuple[Path, dict[str, Any]]) -> None:
    import openpyxl

    root, result = rolled_up
    master = Path(result["master"])
    assert master.exists() and result["master_rebuilt"]
    wb = openpyxl.load_workbook(master)
    seen: dict[str, set[str]] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    seen.setdefault(c.value, set()).add(c.data_type)
    for name in [*mc.INJECTION_NAMES.values(), mc.NON_LATIN["name"], "Amal Good", "Ben Good"]:
        assert name in seen, f"{name!r} not in the master"
        assert seen[name] == {"s"}, (name, seen[name])
    # Nothing from a learner file became a formula: scan the raw XML of every part.
    with zipfile.ZipFile(master) as z:
        names = z.namelist()
        assert not [n for n in names if "vba" in n.lower() or n.lower().endswith(".bin")]
        for n in names:
            if n.endswith(".xml"):
                for f in re.findall(rb"<f[^>]*>([^<]*)</f>", z.read(n)):
                    assert b"cmd|" not in f and b"HYPERLINK" not in f and b"example.invalid" not in f, (n, f)


def test_no_file_we_write_keeps_macros(rolled_up: tuple[Path, dict[str, Any]]) -> None:
    root, _ = rolled_up
    for p in root.rglob("*"):
        if not p.is_file() or p.parts[-2] in ("quarantine", "inbox") or "archive" in p.relative_to(root).parts:
            continue  # received files are kept as they came (never opened by Excel through us)
        if p.suffix.lower() in (".xlsx", ".xlsm", ".xlam"):
            with zipfile.ZipFile(p) as z:
                assert not [n for n in z.namelist() if "vbaproject" in n.lower()], p
            assert p.suffix.lower() == ".xlsx", p


def test_rollup_ledger_is_sound_and_a_second_run_is_idempotent(
        corpus: dict[str, Path], rolled_up: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, first = rolled_up
    ledgers = list(root.glob("*.sqlite"))
    assert ledgers
    for ledger in ledgers:
        with sqlite3.connect(ledger) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # The same files again: nothing new is merged, nothing breaks.
    copy = tmp_path / "again"
    shutil.copytree(root, copy)
    for name, path in corpus.items():
        if _rollup_outcome(name) == "merged":
            shutil.copy(path, copy / "inbox" / name)
    r = tracker("rollup", "--json", copy, timeout=TIMEOUT * 3)
    _assert_no_traceback(r)
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    assert again["counts"]["merged"] == 0
    assert again["learners"] == first["learners"]


# --------------------------------------------------------------------------------------------
# docs/bad-inputs.md
# --------------------------------------------------------------------------------------------


def test_bad_inputs_doc_is_up_to_date(corpus: dict[str, Path]) -> None:
    expected = mc.render_doc(corpus)
    current = DOC.read_text("utf-8") if DOC.exists() else ""
    assert current == expected, (
        "docs/bad-inputs.md is out of date; regenerate it with\n"
        "    .venv/bin/python tests/corpus/make_corpus.py --doc docs/bad-inputs.md")
    for name in corpus:
        assert f"`{name}`" in current


def test_unreadable_workbook_messages_are_one_line(corpus: dict[str, Path]) -> None:
    for name in EXPECTED:
        if not _refused(name):
            continue
        with pytest.raises(UnreadableWorkbook) as caught:
            read_workbook(corpus[name])
        text = str(caught.value)
        assert "\n" not in text and text.startswith(str(corpus[name]))
