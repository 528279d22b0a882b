"""Ready-compressed rows spliced into a zip member (tracker.centre.xlsx_splice): the archive is
one that zipfile and Info-ZIP's ``unzip -t`` accept, holding exactly the text the pieces stand for."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from tracker.centre import xlsx_splice as XS


def _archive(path: Path, member_text: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b"<Types/>" * 50)
        z.writestr("xl/worksheets/sheet1.xml", member_text)
        z.writestr("xl/styles.xml", b"<styleSheet/>" * 80)


PIECES = [b"", b"<row r=\"2\"/>", bytes(range(256)) * 40, b"\x00" * 70_000, "ünïcödé 🙂".encode() * 999]


@pytest.mark.parametrize("a", [b"", b"abc", bytes(range(256)) * 300])
@pytest.mark.parametrize("b", [b"", b"x", b"\x00" * 100_000, b"tail" * 5000])
def test_crc32_combine_is_the_crc_of_the_concatenation(a: bytes, b: bytes) -> None:
    # zlib computing the CRC of the joined bytes is the oracle.
    assert XS.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_spliced_member_holds_the_pieces_in_order(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    _archive(path, b"<worksheet><sheetData><row r=\"1\"/>" + XS.MARKER + b"</sheetData></worksheet>")
    XS.splice_rows(path, "xl/worksheets/sheet1.xml", [XS.deflate_segment(p) for p in PIECES])
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert [i.filename for i in z.infolist()] == ["[Content_Types].xml", "xl/worksheets/sheet1.xml",
                                                      "xl/styles.xml"]
        assert z.read("xl/worksheets/sheet1.xml") == (b"<worksheet><sheetData><row r=\"1\"/>" + b"".join(PIECES)
                                                      + b"</sheetData></worksheet>")
        assert z.read("xl/styles.xml") == b"<styleSheet/>" * 80
    if shutil.which("unzip"):  # another implementation's reading of the same archive
        out = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
        assert out.returncode == 0 and "No errors detected" in out.stdout, out.stdout


def test_a_member_too_big_for_a_plain_entry_is_written_with_zip64(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "book.xlsx"
    _archive(path, b"<a>" + XS.MARKER + b"</a>")
    monkeypatch.setattr(XS, "_ZIP32_LIMIT", 1000)  # stands in for 4 GiB
    XS.splice_rows(path, "xl/worksheets/sheet1.xml", [XS.deflate_segment(p) for p in PIECES])
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert z.read("xl/worksheets/sheet1.xml") == b"<a>" + b"".join(PIECES) + b"</a>"
        assert z.getinfo("xl/worksheets/sheet1.xml").compress_type == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize("text", [b"<a></a>", b"<a>" + XS.MARKER * 2 + b"</a>"])
def test_the_marker_must_be_there_once(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "book.xlsx"
    _archive(path, text)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="row marker"):
        XS.splice_rows(path, "xl/worksheets/sheet1.xml", [XS.deflate_segment(b"<row/>")])
    assert path.read_bytes() == before  # refused before anything was written
