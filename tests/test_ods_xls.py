"""Returns saved by LibreOffice as .ods (its default) and as .xls (Excel 97-2003) are read,
validated, previewed and rolled up like .xlsx ones; --mark refuses them with the way to .xlsx;
and the two new gates refuse hostile or locked files with a message (issue 15).

The .ods and .xls files are made by LibreOffice itself from learner workbooks written by tracker
(one conversion per format for the whole module), so the oracle for what they hold is the record
each workbook was written from, and LibreOffice's own calculation of a formula error.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from fixtures import L2, L3, at, complete_record
from libreoffice import convert

import tracker
from corpus.make_corpus import cfb
from tracker.centre.check import preview_inbox
from tracker.centre.create import init_centre
from tracker.errors import UnreadableWorkbook
from tracker.workbook.safety import Limits, check_spreadsheet_file, check_workbook_file
from tracker.workbook.writer import new_workbook

ODS_LEARNER = ("Bob Learner", "1000000043")
XLS_LEARNER = ("Zoë Ødegaard-Núñez", "1234567899")  # non-Latin text through BIFF8's UTF-16 strings
SLIP = "S9.1"  # Met without a method in the .ods learner's workbook
ERROR_AT = at(L2, "K1.1", "comments")  # holds =1/0 in the .ods learner's workbook


def _records() -> tuple:
    ods = complete_record(L2, "face-to-face", name=ODS_LEARNER[0], uln=ODS_LEARNER[1])
    ods = dataclasses.replace(ods, entries={**ods.entries, SLIP: dataclasses.replace(ods.entries[SLIP], method=None)})
    xls = complete_record(L3, None, name=XLS_LEARNER[0], uln=XLS_LEARNER[1])
    return ods, xls


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    src = tmp_path_factory.mktemp("src")
    ods_rec, xls_rec = _records()
    a = new_workbook(L2, ods_rec, src / "bob.xlsx")
    wb = openpyxl.load_workbook(a)
    wb[ERROR_AT[0]][ERROR_AT[1]] = "=1/0"  # LibreOffice calculates it: #DIV/0!
    wb.save(a)
    b = new_workbook(L3, xls_rec, src / "zoe.xlsx")
    out = tmp_path_factory.mktemp("lo")
    return {"ods": convert(a, out, "ods"), "xls": convert(b, out, "xls"), "xlsx": a}


def tracker_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "tracker", *map(str, args)], capture_output=True, text=True,
                       encoding="utf-8", timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def _problems(file: dict) -> list[tuple[str, str | None, str | None]]:
    return sorted((i["code"], i["sheet"], i["cell"]) for i in file["issues"] if i["severity"] != "info")


def test_validate_a_folder_of_ods_and_xls_returns(returns: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    for kind in ("ods", "xls"):
        shutil.copy(returns[kind], folder)
    (folder / "template.xltx").write_bytes(b"x")
    r = tracker_cli("validate", folder, "--json")
    assert r.returncode == 1  # the slip is an error
    data = json.loads(r.stdout)
    files = {Path(f["file"]).suffix: f for f in data["files"]}
    assert set(files) == {".ods", ".xls"}
    assert (files[".ods"]["learner"], files[".ods"]["uln"]) == ODS_LEARNER
    assert (files[".xls"]["learner"], files[".xls"]["uln"], files[".xls"]["qualification_number"]) == \
        (*XLS_LEARNER, L3.number)
    method_at = at(L2, SLIP, "method")
    assert _problems(files[".ods"]) == sorted([("completion-met-no-method", *method_at),
                                               ("value-error", *ERROR_AT)])
    error = next(i for i in files[".ods"]["issues"] if i["code"] == "value-error")
    assert "#DIV/0!" in error["message"]  # LibreOffice's result, put back where calamine reads ""
    assert _problems(files[".xls"]) == []
    assert data["skipped"] == [{"file": str(folder / "template.xltx"),
                                "reason": "an Excel template, not a workbook: make learner workbooks with tracker new"}]
    # The text report names the skipped file too (on stderr, so stdout stays the report).
    text = tracker_cli("validate", folder)
    assert f"skipped  {folder / 'template.xltx'}: an Excel template" in text.stderr


def test_an_ods_with_an_xlsx_name_is_read_by_its_content(returns: dict[str, Path], tmp_path: Path) -> None:
    renamed = tmp_path / "bob.xlsx"
    shutil.copy(returns["ods"], renamed)
    info = check_spreadsheet_file(renamed)
    assert info.format == "ods" and ("Unit 1", ERROR_AT[1], "#DIV/0!") in info.error_cells
    book = tracker.read_workbook(renamed)
    assert (book.learner_name, book.uln) == ODS_LEARNER
    # What edits .xlsx in place (--mark, the register) still refuses it, and now truly says why.
    with pytest.raises(UnreadableWorkbook, match=r"OpenDocument spreadsheet \(\.ods.*with an \.xlsx name"):
        check_workbook_file(renamed)


def test_mark_refuses_ods_and_xls_and_says_to_save_as_xlsx(returns: dict[str, Path], tmp_path: Path) -> None:
    for kind, words in (("ods", "LibreOffice: File > Save As, file type 'Excel 2007-365'"),
                        ("xls", "Excel: File > Save As > Excel Workbook")):
        p = tmp_path / returns[kind].name
        shutil.copy(returns[kind], p)
        before = p.read_bytes()
        r = tracker_cli("validate", p, "--mark")
        assert r.returncode == 1
        assert f"not marked  {p}: it is" in r.stderr and "save a copy as .xlsx" in r.stderr and words in r.stderr
        assert "0 workbook(s) marked, 1 not marked" in r.stderr
        assert p.read_bytes() == before


def test_inbox_preview_and_rollup_take_ods_and_xls(returns: dict[str, Path], tmp_path: Path) -> None:
    c, _ = init_centre(tmp_path / "centre")
    for kind in ("ods", "xls"):
        shutil.copy(returns[kind], c.inbox)
    # The add-in's Validate on the master shows what the next roll-up would take in.
    preview = {Path(t.file).suffix: t for t in preview_inbox(c).tasks}
    assert (preview[".ods"].uln, preview[".xls"].uln) == (ODS_LEARNER[1], XLS_LEARNER[1])
    assert "completion-met-no-method" in {i.code for i in preview[".ods"].issues}

    r = tracker_cli("rollup", c.root, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts"] == {"merged": 2, "quarantined": 0, "duplicate": 0, "skipped": 0}, out
    criteria = tracker.open_centre(c.root).criteria()
    ods_rec, xls_rec = _records()
    for (_, uln), rec in ((ODS_LEARNER, ods_rec), (XLS_LEARNER, xls_rec)):
        rows = criteria[criteria["uln"] == uln].set_index("ref")
        met = {ref for ref, e in rec.entries.items() if e.decision == "Met"}
        assert set(rows.index[rows["decision"] == "Met"]) == met
        some = sorted(met)[0]
        assert rows.loc[some, "assessor"] == rec.entries[some].assessor
    learners = tracker.open_centre(c.root).learners().set_index("uln")
    assert learners.loc[XLS_LEARNER[1], "name"] == XLS_LEARNER[0]


# -- hostile and locked files, made byte by byte ------------------------------------------------

_ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"
_CONTENT_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content '
                 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                 'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                 'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
                 '<office:body><office:spreadsheet><table:table table:name="Sheet1">')
_CONTENT_TAIL = "</table:table></office:spreadsheet></office:body></office:document-content>"
_CELL = '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'


def _ods(path: Path, rows: str, manifest: str = "", doctype: str = "") -> Path:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), _ODS_MIME, zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                   f'{manifest}</manifest:manifest>')
        head = _CONTENT_HEAD.replace("\n", "\n" + doctype) if doctype else _CONTENT_HEAD
        z.writestr("content.xml", head + rows + _CONTENT_TAIL)
    path.write_bytes(out.getvalue())
    return path


def _refused(path: Path, limits: Limits = Limits()) -> str:
    with pytest.raises(UnreadableWorkbook) as e:
        check_spreadsheet_file(path, limits)
    return e.value.reason


def test_ods_gate(tmp_path: Path) -> None:
    ok = check_spreadsheet_file(_ods(tmp_path / "ok.ods", f'<table:table-row table:number-rows-repeated="5">{_CELL}'
                                     '</table:table-row><table:table-row table:number-rows-repeated="1048570">'
                                     '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'))
    # Blank repeats (how LibreOffice fills a sheet to its end) do not count; content does.
    assert ok.format == "ods" and ok.sheets == (("Sheet1", "content.xml"),) and ok.max_rows == (("Sheet1", 5),)
    # A few bytes standing for a million rows of content: the repeat bomb.
    bomb = _ods(tmp_path / "rows.ods", f'<table:table-row table:number-rows-repeated="1000000">{_CELL}</table:table-row>')
    assert "reaches row 1,000,000" in _refused(bomb)
    wide = _ods(tmp_path / "wide.ods", '<table:table-row><table:table-cell table:number-columns-repeated="9000" '
                f'office:value-type="float" office:value="1"/></table:table-row>' * 600)
    assert "would fill" in _refused(wide)
    locked = _ods(tmp_path / "locked.ods", _CELL, manifest='<manifest:file-entry manifest:full-path="content.xml">'
                  '<manifest:encryption-data/></manifest:file-entry>')
    assert "password-protected" in _refused(locked) and "Save with password" in _refused(locked)
    laughs = _ods(tmp_path / "laughs.ods", _CELL, doctype='<!DOCTYPE x [<!ENTITY a "aaaa">]>')
    assert "XML entity declarations" in _refused(laughs)


def _biff(rtype: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", rtype, len(data)) + data


def _xls(path: Path, *, version: int = 0x0600, filepass: bool = False, rows: int = 3) -> Path:
    """A BIFF8 workbook: globals (BOF, BOUNDSHEET, EOF), then one sheet with a NUMBER per row."""
    bof = _biff(0x0809, struct.pack("<HHHHLL", version, 0x0005, 0x0DBB, 0x07CC, 0, 0x0406))
    name = b"Data"

    def globals_(offset: int) -> bytes:
        sheet = _biff(0x0085, struct.pack("<LBBBB", offset, 0, 0, len(name), 0) + name)
        return bof + (_biff(0x002F, b"\x01\x00" + bytes(52)) if filepass else b"") + sheet + _biff(0x000A)

    cells = b"".join(_biff(0x0203, struct.pack("<HHHd", r, 0, 0, float(r))) for r in range(rows))
    # BOOLERR holding #REF! at B2 (row 1, column 1): fError = 1, bBoolErr = 0x17.
    err = _biff(0x0205, struct.pack("<HHHBB", 1, 1, 0, 0x17, 1))
    sheet_bof = _biff(0x0809, struct.pack("<HHHHLL", version, 0x0010, 0x0DBB, 0x07CC, 0, 0x0406))
    offset = len(globals_(0))
    path.write_bytes(cfb({"Workbook": globals_(offset) + sheet_bof + cells + err + _biff(0x000A)}))
    return path


def test_xls_gate(tmp_path: Path) -> None:
    info = check_spreadsheet_file(_xls(tmp_path / "ok.xls"))
    assert info.format == "xls" and info.sheets == (("Data", "Workbook"),)
    assert info.max_rows == (("Data", 3),) and info.error_cells == (("Data", "B2", "#REF!"),)
    assert "password-protected" in _refused(_xls(tmp_path / "locked.xls", filepass=True))
    assert "Excel 5.0/95" in _refused(_xls(tmp_path / "old.xls", version=0x0500))
    assert "reaches row 21" in _refused(_xls(tmp_path / "long.xls", rows=30), Limits(max_rows=20))
