"""The safety gate (tracker.workbook.safety) against a generated corpus of bad workbooks.

The corpus is built by tests/corpus/make_corpus.py into a temporary folder (nothing binary is
committed); tests/corpus/expected.yaml says what must happen to each file.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import UnreadableWorkbook
from tracker.workbook import safety
from tracker.workbook.safety import (
    DEFAULT_LIMITS,
    Limits,
    SafeInfo,
    check_spreadsheet_file,
    check_workbook_file,
    check_xml_safe,
    scan_xml_chunks,
)

CORPUS_DIR = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, object]] = yaml.safe_load((CORPUS_DIR / "expected.yaml").read_text("utf-8"))
PEAK_LIMIT = 50 * 1024 * 1024


from corpus import make_corpus as mc  # tests/ is on sys.path (pytest rootdir-relative import)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    files: dict[str, Path] = mc.make_corpus(tmp_path_factory.mktemp("corpus"))
    return files


def _refusal(path: Path, limits: Limits = DEFAULT_LIMITS) -> UnreadableWorkbook:
    with pytest.raises(UnreadableWorkbook) as caught:
        check_spreadsheet_file(path, limits)
    return caught.value


def _assert_good_message(err: UnreadableWorkbook, path: Path) -> None:
    text = str(err)
    assert path.name in text
    assert "\n" not in text and "\r" not in text
    assert err.path == str(path)


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


def test_expected_covers_the_whole_corpus(corpus: dict[str, Path]) -> None:
    assert set(corpus) == set(EXPECTED)


def test_corpus_is_deterministic(corpus: dict[str, Path], tmp_path: Path) -> None:
    again = mc.make_corpus(tmp_path)
    for name, path in corpus.items():
        assert again[name].read_bytes() == path.read_bytes(), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_outcome(corpus: dict[str, Path], name: str) -> None:
    path = corpus[name]
    expected = EXPECTED[name]
    if "xlsx_gate" in expected:  # readable, but not by what edits .xlsx files in place
        with pytest.raises(UnreadableWorkbook) as exc:
            check_workbook_file(path)
        assert str(expected["xlsx_gate"]) in exc.value.reason
    if expected["outcome"] == "ok":
        info = check_spreadsheet_file(path)
        assert isinstance(info, SafeInfo)
        assert info.has_macros is expected["has_macros"]
        assert [sheet for sheet, _ in info.sheets] == expected["sheets"]
        assert info.size == path.stat().st_size
        return
    assert expected["outcome"] == "refused"
    err = _refusal(path)
    _assert_good_message(err, path)
    assert str(expected["message"]) in err.reason
    if "sheet" in expected:
        assert err.sheet == expected["sheet"]
        assert f"sheet '{expected['sheet']}'" in str(err)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e.get("bounded")))
def test_hostile_files_are_checked_in_bounded_memory(corpus: dict[str, Path], name: str) -> None:
    check_workbook_file(corpus["normal.xlsx"])  # warm up: imports do not count
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableWorkbook):
            check_workbook_file(corpus[name])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"{name}: peak {peak / 2**20:.1f} MiB"


def test_the_zip_bomb_really_is_one(corpus: dict[str, Path]) -> None:
    # The file is small, but declares 1 GiB of zeros with a valid deflate stream and CRC.
    path = corpus["zipbomb.xlsx"]
    assert path.stat().st_size < 2 * 2**20
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/media/zeros.bin")
        assert info.file_size == 2**30
        with z.open(info) as member:  # read a little of it: it is real deflated data
            assert member.read(1 << 16) == b"\0" * (1 << 16)


def test_encrypted_corpus_file_is_really_encrypted(corpus: dict[str, Path]) -> None:
    import msoffcrypto

    with open(corpus["encrypted.xlsx"], "rb") as f:
        office = msoffcrypto.OfficeFile(f)
        assert office.is_encrypted()
        office.load_key(password="secret")
        out = io.BytesIO()
        office.decrypt(out)
    assert zipfile.ZipFile(out).namelist()


def test_biff_corpus_file_is_an_ole2_workbook(corpus: dict[str, Path]) -> None:
    olefile = pytest.importorskip("olefile")
    with olefile.OleFileIO(str(corpus["biff.xlsx"])) as ole:
        assert ole.exists("Workbook")
        assert ole.openstream("Workbook").read(2) == b"\x09\x08"  # BIFF8 BOF record


@pytest.mark.parametrize("name", ["biff.xlsx", "encrypted.xlsx"])
def test_ole2_detection_without_olefile(corpus: dict[str, Path], name: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # The .xlsx gate's own fallback (olefile is a dependency of the .xls gate, not of this one).
    monkeypatch.setitem(sys.modules, "olefile", None)  # "import olefile" now fails
    with pytest.raises(UnreadableWorkbook) as caught:
        check_workbook_file(corpus[name])
    assert str(EXPECTED[name].get("xlsx_gate") or EXPECTED[name]["message"]) in caught.value.reason


def test_openpyxl_refuses_billion_laughs_by_itself(corpus: dict[str, Path]) -> None:
    """Defence in depth: even past the gate, openpyxl (with defusedxml) does not expand entities."""
    import openpyxl
    import openpyxl.xml
    from defusedxml.common import DefusedXmlException

    assert openpyxl.xml.DEFUSEDXML is True
    with pytest.raises(Exception) as caught:
        openpyxl.load_workbook(corpus["billion_laughs.xlsx"])
    causes = [caught.value, caught.value.__cause__, caught.value.__context__]
    assert any(isinstance(c, DefusedXmlException) for c in causes), causes


# --------------------------------------------------------------------------------------------
# Files that are not files
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "gone.xlsx"
    err = _refusal(path)
    _assert_good_message(err, path)
    assert "not found" in err.reason


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "folder.xlsx"
    path.mkdir()
    err = _refusal(path)
    _assert_good_message(err, path)
    assert "folder" in err.reason


@pytest.mark.parametrize(("content", "expected"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
    (b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">', "XML Spreadsheet 2003"),
    ("Ref\tDecision\r\nK1.1\tMet\r\n".encode("utf-16"), "text file (for example CSV)"),
    (b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4, "not an Excel workbook"),
])
def test_other_kinds_of_file_are_named(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "renamed.xlsx"
    path.write_bytes(content)
    err = _refusal(path)
    _assert_good_message(err, path)
    assert expected in err.reason


def test_file_too_large_for_the_limits(corpus: dict[str, Path]) -> None:
    err = _refusal(corpus["normal.xlsx"], Limits(max_file_size=1000))
    assert "far larger than any learner workbook" in err.reason


# --------------------------------------------------------------------------------------------
# Good workbooks pass
# --------------------------------------------------------------------------------------------


def test_xlsxwriter_workbook_passes_with_its_sheets(tmp_path: Path) -> None:
    names = ("Cover", "Summary", "Unit 1", "Unit 2 & 3 <draft>", "Evidence")
    path = tmp_path / "learner.xlsx"
    path.write_bytes(mc.small_xlsx(sheets=names, rows=40))
    info = check_workbook_file(path)
    assert [n for n, _ in info.sheets] == list(names)
    assert [p for _, p in info.sheets] == [f"xl/worksheets/sheet{i}.xml" for i in range(1, 6)]
    assert dict(info.max_rows) == {n: 42 for n in names}
    assert info.has_macros is False
    assert info.path == path
    with zipfile.ZipFile(path) as z:
        assert info.uncompressed_total == sum(i.file_size for i in z.infolist())
        assert info.members == len(z.infolist())


def test_openpyxl_workbook_passes(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Cover"
    wb.active["A1"] = "Learner name"
    unit = wb.create_sheet("Unit 1")
    for r in range(1, 30):
        unit.cell(r, 1, f"K1.{r}")
    unit["B1"] = "=COUNTA(A:A)"
    path = tmp_path / "saved-by-openpyxl.xlsx"
    wb.save(path)
    info = check_workbook_file(path)
    assert [n for n, _ in info.sheets] == ["Cover", "Unit 1"]
    assert dict(info.max_rows)["Unit 1"] == 29


def test_real_learner_workbook_passes(tmp_path: Path) -> None:
    """A workbook from the package's own writer (skipped if that module is not there yet)."""
    try:
        from tracker.spec import load_qualification
        from tracker.workbook.writer import new_workbook
    except ImportError as e:  # pragma: no cover - built by another part of the project
        pytest.skip(f"writer not available: {e}")
    path = new_workbook(load_qualification("603/4687/5"), None, tmp_path / "learner.xlsx")
    info = check_workbook_file(path)
    assert len(info.sheets) >= 18
    assert not info.has_macros


def test_limits_and_info_are_frozen(corpus: dict[str, Path]) -> None:
    info = check_workbook_file(corpus["normal.xlsx"])
    with pytest.raises(AttributeError):
        info.has_macros = True  # type: ignore[misc]
    with pytest.raises(AttributeError):
        DEFAULT_LIMITS.max_rows = 1  # type: ignore[misc]
    assert DEFAULT_LIMITS == Limits(
        max_uncompressed_total=200 * 2**20, max_ratio=200, ratio_min_size=2**20,
        max_members=10_000, max_rows=20_000,
    )


# --------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------


def test_too_many_members(corpus: dict[str, Path]) -> None:
    err = _refusal(corpus["normal.xlsx"], Limits(max_members=5))
    assert "internal parts" in err.reason


def test_row_limit_names_the_sheet(corpus: dict[str, Path]) -> None:
    err = _refusal(corpus["normal.xlsx"], Limits(max_rows=10))
    assert err.sheet == "Cover"
    assert "limit 10 rows" in err.reason


def test_rows_without_r_and_with_prefix_are_counted(tmp_path: Path) -> None:
    # The Open XML SDK writes prefixed elements; "r" is optional (each row follows the last).
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rows = "".join(f'<x:row><x:c t="inlineStr"><x:is><x:t>{i * 7919 % 10007}</x:t></x:is></x:c></x:row>'
                   for i in range(25_000))
    sheet = (f'<?xml version="1.0"?><x:worksheet xmlns:x="{ns}"><x:sheetData>{rows}'
             '<x:rowBreaks/></x:sheetData></x:worksheet>').encode()
    path = tmp_path / "sdk.xlsx"
    path.write_bytes(mc._rezip(mc.small_xlsx(), replace={"xl/worksheets/sheet2.xml": sheet}))
    err = _refusal(path)
    assert err.sheet == "Unit 1" and "row 20,001" in err.reason
    assert check_workbook_file(path, Limits(max_rows=30_000)).max_rows[1] == ("Unit 1", 25_000)


def test_entity_declaration_in_any_xml_part(tmp_path: Path) -> None:
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><styleSheet/>'
    for part in ("xl/styles.xml", "xl/workbook.xml", "[Content_Types].xml", "xl/_rels/workbook.xml.rels"):
        path = tmp_path / "styles.xlsx"
        path.write_bytes(mc._rezip(mc.small_xlsx(), replace={part: doctype}))
        err = _refusal(path)
        assert "XML entity declarations" in err.reason and part in err.reason


@pytest.mark.parametrize("padding", [0, 1, 5000, 70_000])
def test_xml_hidden_behind_another_name_is_scanned(tmp_path: Path, padding: int) -> None:
    path = tmp_path / "png.xlsx"
    evil = b" " * padding + b'<!DOCTYPE x SYSTEM "http://example.invalid/x.dtd"><x/>'
    path.write_bytes(mc._rezip(mc.small_xlsx(), add={"xl/media/image1.png": evil}))
    assert "XML entity declarations" in _refusal(path).reason


def test_binary_parts_are_not_scanned_as_xml(tmp_path: Path) -> None:
    # A VBA project or an image may contain any bytes, including "<!DOCTYPE html>".
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100 + b"<!DOCTYPE html>" + b"\x00\x00\x00<"
    vba = mc.cfb({"PROJECT": b'Print "<!DOCTYPE html><!ENTITY x>"'})
    path = tmp_path / "binary.xlsm"
    path.write_bytes(mc._rezip(mc.small_xlsx(vba_project=vba), add={"xl/media/image1.png": png}))
    assert check_workbook_file(path).has_macros


# --------------------------------------------------------------------------------------------
# Zip-level tricks
# --------------------------------------------------------------------------------------------


def _rewrite(src: bytes, members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, method)
    return out.getvalue()


def _members(xlsx: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def test_duplicate_member_names(tmp_path: Path) -> None:
    # Part names are case-insensitive in OPC: two spellings of one part let parsers disagree.
    members = _members(mc.small_xlsx())
    sheet1 = dict(members)["xl/worksheets/sheet1.xml"]
    members.append(("XL/Worksheets/Sheet1.xml", sheet1.replace(b"K1.1", b"K9.9")))
    path = tmp_path / "dup.xlsx"
    path.write_bytes(_rewrite(b"", members))
    assert "two copies" in _refusal(path).reason


def test_exotic_compression_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bzip2.xlsx"
    path.write_bytes(_rewrite(b"", _members(mc.small_xlsx()), zipfile.ZIP_BZIP2))
    assert "compression method" in _refusal(path).reason


def test_zip_encryption_flag_is_refused(tmp_path: Path) -> None:
    data = bytearray(mc.small_xlsx())
    # Set the "encrypted" bit (bit 0 of the general purpose flags) in every central directory entry.
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        data[at + 8] |= 0x01
        at = data.find(b"PK\x01\x02", at + 4)
    path = tmp_path / "zipcrypto.xlsx"
    path.write_bytes(bytes(data))
    assert "zip password" in _refusal(path).reason


def test_overlapping_members_are_refused(tmp_path: Path) -> None:
    # Two directory entries pointing at the same local data (the "non-recursive" zip bomb shape).
    data = bytearray(mc.small_xlsx())
    first = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", first + 4)
    offset_of_first = data[first + 42 : first + 46]
    data[second + 42 : second + 46] = offset_of_first
    path = tmp_path / "overlap.xlsx"
    path.write_bytes(bytes(data))
    err = _refusal(path)
    assert "overlap" in err.reason or "damaged" in err.reason


def test_crc_damage_is_refused(tmp_path: Path) -> None:
    members = _members(mc.small_xlsx())
    stored = bytearray(_rewrite(b"", members, zipfile.ZIP_STORED))
    # Flip one byte inside the (stored, so readable) sheet XML: sizes fine, CRC wrong.
    at = stored.find(b"<sheetData>")
    stored[at + 1] = ord("S")
    path = tmp_path / "crc.xlsx"
    path.write_bytes(bytes(stored))
    assert "integrity check" in _refusal(path).reason


# --------------------------------------------------------------------------------------------
# The XML scan: chunk boundaries, encodings
# --------------------------------------------------------------------------------------------

MARKED = [
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">]><x>&lol;</x>',
    b'<?xml version="1.0"?>\n<x><!ENTITY lol "lol"></x>',
    b'<?xml version="1.0"?>\n<!doctype x><x/>',
]


@pytest.mark.parametrize("doc", MARKED)
def test_markers_are_found_across_every_chunk_boundary(doc: bytes) -> None:
    for split in range(len(doc) + 1):
        with pytest.raises(UnreadableWorkbook):
            scan_xml_chunks([doc[:split], doc[split:]], "t.xml")
    with pytest.raises(UnreadableWorkbook):
        scan_xml_chunks([doc[i : i + 1] for i in range(len(doc))], "t.xml")  # byte by byte


def test_three_way_splits_and_utf16() -> None:
    doc = MARKED[0]
    for a in range(len(doc)):
        for b in range(a, min(len(doc), a + 12)):
            with pytest.raises(UnreadableWorkbook):
                scan_xml_chunks([doc[:a], doc[a:b], doc[b:]], "t.xml")
    utf16 = "\ufeff".encode("utf-16-le") + doc.decode().replace('"1.0"', '"1.0" encoding="UTF-16"').encode("utf-16-le")
    for split in range(len(utf16) + 1):  # odd splits cut a UTF-16 code unit in half
        with pytest.raises(UnreadableWorkbook):
            scan_xml_chunks([utf16[:split], utf16[split:]], "t.xml")


def test_standalone_xml_message_names_what_was_checked() -> None:
    with pytest.raises(UnreadableWorkbook) as caught:
        check_xml_safe(MARKED[0], "register.xml")
    assert str(caught.value).startswith("register.xml: it contains XML entity declarations")


def test_harmless_markup_passes() -> None:
    check_xml_safe(b'<?xml version="1.0" encoding="UTF-8"?><x><!-- note --><![CDATA[<a>]]>'
                   b"<t>Well done! Great!</t></x>", "t.xml")
    check_xml_safe("<x>\u00e9t\u00e9</x>".encode("utf-16"), "t.xml")
    check_xml_safe(b'<?xml version="1.0" encoding="windows-1252"?><x/>', "t.xml")
    check_xml_safe(b"", "t.xml")


def test_many_exclamation_marks_do_not_hide_a_marker() -> None:
    # The scanner switches search strategy after a few dozen "!": the marker must still be found.
    doc = b"<x>" + b"!" * 5000 + b"<!ENTITY a 'b'>" + b"!" * 10 + b"</x>"
    with pytest.raises(UnreadableWorkbook):
        check_xml_safe(doc, "t.xml")


@pytest.mark.parametrize("encoding", ["UTF-7", "cp500", "UTF-32", "x-unknown"])
def test_hiding_encodings_are_refused(encoding: str) -> None:
    with pytest.raises(UnreadableWorkbook) as caught:
        check_xml_safe(f'<?xml version="1.0" encoding="{encoding}"?><x/>'.encode("ascii"), "t.xml")
    assert "unusual text encoding" in caught.value.reason


def test_encoding_declaration_cannot_be_hidden() -> None:
    decl = b'<?xml version="1.0"' + b" " * 5000 + b'encoding="UTF-7"?><x/>'
    bom = b"\xef\xbb\xbf" + b'<?xml version="1.0" encoding="UTF-7"?><x/>'
    for doc in (decl, bom, b'<?xml version="1.0" encoding="UTF-7"' + b" " * 5000):
        with pytest.raises(UnreadableWorkbook) as caught:
            check_xml_safe(doc, "t.xml")
        assert "unusual text encoding" in caught.value.reason
        # ... however the chunks are cut (a crafted deflate stream decides where output splits)
        with pytest.raises(UnreadableWorkbook):
            scan_xml_chunks([doc[i : i + 3] for i in range(0, len(doc), 3)], "t.xml")


def test_marker_straddling_the_read_chunk_inside_a_workbook(tmp_path: Path) -> None:
    # Whitespace before the DOCTYPE is allowed when there is no XML declaration; pad so that the
    # marker straddles the gate's 64 KiB read boundary at every possible offset.
    chunk = safety._CHUNK
    base = mc.small_xlsx()
    for shift in range(1, len("<!DOCTYPE")):
        sheet = b" " * (chunk - shift) + b'<!DOCTYPE worksheet [<!ENTITY a "b">]><worksheet/>'
        path = tmp_path / f"straddle{shift}.xlsx"
        path.write_bytes(mc._rezip(base, replace={"xl/worksheets/sheet1.xml": sheet}))
        assert "XML entity declarations" in _refusal(path).reason


def test_row_count_is_exact_across_chunk_boundaries() -> None:
    rows = b"".join(b'<row r="%d" spans="1:2"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(1, 101))
    doc = b'<worksheet><dimension ref="A1:B100"/><sheetData>' + rows + b"</sheetData></worksheet>"
    for split in range(0, len(doc), 7):
        scanner = safety._XmlScanner("s.xml", sheet="S", max_rows=1000)
        scanner.feed(doc[:split])
        scanner.feed(doc[split:])
        scanner.close()
        assert scanner.last_row == 100
    unnumbered = doc.replace(b' r="', b' q="')  # rows without r count one by one
    scanner = safety._XmlScanner("s.xml", sheet="S", max_rows=1000)
    for i in range(0, len(unnumbered), 5):
        scanner.feed(unnumbered[i : i + 5])
    scanner.close()
    assert scanner.last_row == 100


# --------------------------------------------------------------------------------------------
# Random damage: the gate returns or raises UnreadableWorkbook, never anything else
# --------------------------------------------------------------------------------------------

_SMALL = mc.small_xlsx(sheets=("Cover", "Unit 1"), rows=3)


def _check_bytes(data: bytes) -> None:
    fd, name = tempfile.mkstemp(suffix=".xlsx")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            check_workbook_file(name)
        except UnreadableWorkbook as e:
            assert "\n" not in str(e) and os.path.basename(name) in str(e)
    finally:
        os.unlink(name)


_positions = st.one_of(
    st.integers(0, len(_SMALL) - 1),
    st.integers(max(0, len(_SMALL) - 1500), len(_SMALL) - 1),  # the central directory
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flips=st.lists(st.tuples(_positions, st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.integers(0, len(_SMALL))),
    insert=st.one_of(st.none(), st.tuples(_positions, st.binary(min_size=1, max_size=64))),
)
def test_random_byte_damage(flips: list[tuple[int, int]], cut: int | None,
                            insert: tuple[int, bytes] | None) -> None:
    data = bytearray(_SMALL)
    for pos, value in flips:
        data[pos] = value
    if insert is not None:
        data[insert[0] : insert[0]] = insert[1]
    if cut is not None:
        del data[cut:]
    _check_bytes(bytes(data))


_SMALL_MEMBERS = _members(_SMALL)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, len(_SMALL_MEMBERS) - 1),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
    stored=st.booleans(),
)
def test_random_damage_inside_parts(index: int, flips: list[tuple[int, int]], stored: bool) -> None:
    # Damage the XML itself and re-zip with correct CRCs: this reaches the structure parsing.
    members = list(_SMALL_MEMBERS)
    name, content = members[index]
    part = bytearray(content)
    for pos, value in flips:
        part[pos % len(part)] = value
    members[index] = (name, bytes(part))
    _check_bytes(_rewrite(b"", members, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED))
