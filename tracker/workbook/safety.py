"""The safety gate: decide, before any parser touches it, whether a returned workbook may be opened.

Learner workbooks come back from assessors by email, USB stick and shared drives, having passed
through Excel, LibreOffice or Google Sheets. Before python-calamine (reading) or openpyxl
(editing) opens one, :func:`check_workbook_file` looks at it cheaply, with bounded time and
memory, and either returns a :class:`SafeInfo` or raises
:class:`tracker.errors.UnreadableWorkbook` with a one-line message for a person: what the file is
and what to do about it.

What it looks at, in order:

1. the file itself: missing, a folder, empty, far too large;
2. the first bytes ("magic"): an OLE2 compound file (an old ``.xls``, or a password-protected
   ``.xlsx``: Office wraps encrypted OOXML in OLE2), a zip (what ``.xlsx`` really is), or anything
   else (a CSV or web page renamed ``.xlsx``, a PDF, random bytes);
3. for a zip: its central directory, without decompressing anything: too many members, declared
   sizes that unpack to too much (a zip bomb), members overlapping each other (the "non-recursive"
   zip bomb), zip-level encryption, exotic compression methods, duplicate part names, what kind of
   document it is (an ``.ods``, a Word file, an ``.xlsb``, an arbitrary zip);
4. ``xl/workbook.xml`` and its relationships, after an entity scan, parsed with the standard
   library's C parser (safe once the scan found no DTD) to map
   each sheet's name to its part;
5. every member, decompressed in 64 KiB chunks, never more than its declared size: the CRC of
   every member (so a damaged file is caught here, not half-way through a roll-up), XML entity
   declarations in every XML part (billion laughs, XXE), odd text encodings, and the number of rows
   of every worksheet (from ``<dimension>`` and from the ``<row>`` elements); and, in worksheets,
   the cells that hold a formula error (``t="e"``: ``#REF!``, ``#VALUE!`` ...), which readers such
   as python-calamine would otherwise show as blanks (:attr:`SafeInfo.error_cells`);
6. in worksheets, what the parser will trust (:mod:`tracker.workbook.gridscan`): every cell
   reference inside Excel's grid and in its own row, the dimension and merged ranges valid, and
   -- over all worksheets -- the cells a parser allocates (rows x columns) under
   :attr:`Limits.max_cells`; numbers it cannot convert are collected, not refused
   (:attr:`SafeInfo.bad_numbers`: the reader leaves them out, the checks report them).

Macros (an ``.xlsm``'s ``xl/vbaProject.bin``, Excel 4.0 macro sheets) are not a reason to refuse:
the readers never run them. :attr:`SafeInfo.has_macros` tells the caller, who may warn.

Cost: every member is decompressed once (that is what checks the CRCs and the XML), so the time
is about that of inflating the file. Measured on a 53 KB Level 2 learner workbook from
:mod:`tracker.workbook.writer` (31 members, 250 KB unpacked, 22 sheets): 2.2 ms best, ~3 ms
median on a busy machine (Python 3.11); the 46 KB Level 3 template: 1.7 ms. Looking for error
cells costs a one-byte search for "#" per piece (interleaved A/B timing: 1.99 -> 2.04 ms best on
the blank Level 2 workbook, 2.10 -> 2.12 ms on a filled one). Peak memory is the
file itself (up to 8 MiB, read once so that the zip checks make no further reads; a larger one is
read piece by piece) plus a few hundred KiB, whatever the file claims to hold (tests assert
< 50 MiB on the bombs, which are small files; measured: under 0.4 MiB).
"""

from __future__ import annotations

import codecs
import io
import os
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, NoReturn

from tracker.errors import UnreadableWorkbook
from tracker.workbook.gridscan import GridRefused, SheetGrid, date_styles
from tracker.workbook.layout import col_letter

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "SafeInfo",
    "check_ods_file",
    "check_spreadsheet_file",
    "check_workbook_file",
    "check_xls_file",
    "check_xml_safe",
    "scan_xml_chunks",
]

_KiB: Final = 1024
_MiB: Final = 1024 * _KiB


@dataclass(frozen=True)
class Limits:
    """How much a workbook may contain before the gate refuses it.

    The defaults are generous: a learner workbook is ~50 KB, unpacks to well under 1 MB and has
    fewer than 100 rows per sheet.
    """

    #: the file on disk (a learner workbook with pasted photos may reach a few MB)
    max_file_size: int = 100 * _MiB
    #: the sum of the declared uncompressed sizes of all zip members
    max_uncompressed_total: int = 200 * _MiB
    #: the largest compression ratio allowed for a member bigger than ``ratio_min_size``
    max_ratio: float = 200.0
    #: members smaller than this are not ratio-checked (tiny XML parts compress very well)
    ratio_min_size: int = 1 * _MiB
    #: zip members (a workbook has 10-30; each costs memory to list)
    max_members: int = 10_000
    #: rows in any one worksheet, from ``<dimension>``, the ``<row>`` elements or the cells
    max_rows: int = 20_000
    #: cells a parser must allocate, summed over the worksheets (each sheet's rows x columns,
    #: from A1 to its furthest cell); also the cap on merged cells. A learner workbook has ~20,000
    max_cells: int = 2_000_000


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True)
class SafeInfo:
    """What the gate learnt about a workbook it let through."""

    #: the file checked
    path: Path
    #: its size on disk, in bytes
    size: int
    #: it contains a VBA project (``xl/vbaProject.bin``) or Excel 4.0 macro sheets; never run
    has_macros: bool
    #: every sheet in workbook order: (sheet name, zip part path such as ``xl/worksheets/sheet1.xml``)
    sheets: tuple[tuple[str, str], ...]
    #: the sum of the uncompressed sizes of all members (verified while reading)
    uncompressed_total: int
    #: number of zip members
    members: int = 0
    #: for each worksheet (by name) the highest row number seen in its dimension or rows
    max_rows: tuple[tuple[str, int], ...] = ()
    #: cells holding a formula error (``t="e"``: ``#REF!``, ``#VALUE!`` ...) as (sheet name, A1
    #: reference, error text), in file order, at most ``MAX_ERROR_CELLS``. Readers such as
    #: python-calamine turn these into empty strings, which would make ``#REF!`` look like a blank
    #: cell; the reader puts the text back (see :mod:`tracker.workbook.reader`).
    error_cells: tuple[tuple[str, str, str], ...] = ()
    #: what the file is, by its content: "xlsx" (also .xlsm), "ods" or "xls"
    format: str = "xlsx"
    #: for each worksheet (by name): the rows and columns a parser allocates (A1 to the furthest cell)
    grid: tuple[tuple[str, int, int], ...] = ()
    #: numeric cells whose value a parser cannot use (NaN, infinity, 15 digits or more, or outside
    #: Excel's dates in a date or time cell) as (sheet name, A1 reference or "", the value as
    #: written, why). Not a reason to refuse the file: the reader leaves these values out and the
    #: checks report each one at its cell (see :mod:`tracker.workbook.gridscan`).
    bad_numbers: tuple[tuple[str, str, str, str], ...] = ()
    #: for each worksheet with hidden rows or columns: (sheet name, 1-based hidden row numbers,
    #: 1-based inclusive hidden column ranges), from the sheet XML (``.xlsx`` only: the parser does
    #: not tell, and the checks warn of sign-offs in them; see :mod:`tracker.workbook.gridscan`)
    hidden: tuple[tuple[str, tuple[int, ...], tuple[tuple[int, int], ...]], ...] = ()


# ---------------------------------------------------------------------------------------------
# Messages. Each says what the file is and what to do, in words an admin understands. The file
# name is added in front by UnreadableWorkbook.
# ---------------------------------------------------------------------------------------------

_ASK_AGAIN: Final = "ask for the workbook to be sent again"
_MSG_DAMAGED: Final = (
    "the file is damaged or incomplete (it may have been cut short while being copied or "
    f"emailed); {_ASK_AGAIN}"
)
_MSG_CRC: Final = (
    "the file is damaged (part of it fails its integrity check, so it was probably corrupted "
    f"while being copied or emailed); {_ASK_AGAIN}"
)
_MSG_ENCRYPTED: Final = (
    "this workbook is password-protected; remove the password in Excel (File > Info > "
    "Protect Workbook > Encrypt with Password, clear the password, save) and send it again"
)
_MSG_XLS: Final = (
    "this is an old Excel 97-2003 .xls file; open it in Excel and save it as .xlsx "
    "(File > Save As > Excel Workbook)"
)
_MSG_OLE_OTHER: Final = (
    "this is an old-format Microsoft Office file (for example a Word .doc), not an Excel "
    "workbook; send the learner's .xlsx workbook instead"
)
_MSG_ODS: Final = (
    "this is an OpenDocument spreadsheet (.ods, for example from LibreOffice) with an .xlsx "
    "name; open it and save it as an Excel 2007-365 .xlsx workbook"
)
_MSG_ODF_OTHER: Final = (
    "this is an OpenDocument file (for example a LibreOffice text document), not a workbook; "
    "send the learner's .xlsx workbook instead"
)
_MSG_DOCX: Final = (
    "this is a Word document, not an Excel workbook; send the learner's .xlsx workbook instead"
)
_MSG_PPTX: Final = (
    "this is a PowerPoint presentation, not an Excel workbook; send the learner's .xlsx "
    "workbook instead"
)
_MSG_XLSB: Final = (
    "this is an Excel binary workbook (.xlsb); open it in Excel and save it as .xlsx "
    "(File > Save As > Excel Workbook)"
)
_MSG_ZIP_OTHER: Final = (
    "this is a zip archive that is not an Excel workbook; send the learner's .xlsx workbook "
    "instead"
)
_MSG_NO_CONTENT_TYPES: Final = (
    "this is a zip archive that is not a complete Excel workbook (it has no [Content_Types].xml "
    "part); open it in Excel and save it as .xlsx, or send the learner's original workbook"
)
_MSG_ENTITIES: Final = (
    "contains XML entity declarations, which spreadsheet files never need; it may be malicious, "
    "so it was not opened - ask for the original workbook"
)
_MSG_TEXT: Final = (
    "this is a text file (for example CSV), not an Excel workbook, despite its name; open it in "
    "Excel and save it as .xlsx"
)
_MSG_HTML: Final = (
    "this is a web page (HTML) with a spreadsheet name, not a real Excel workbook; open it in "
    "Excel and save it as .xlsx"
)
_MSG_XML2003: Final = (
    "this is an 'XML Spreadsheet 2003' file, not a real .xlsx workbook; open it in Excel and "
    "save it as .xlsx"
)
_MSG_PDF: Final = (
    "this is a PDF document, not an Excel workbook; send the learner's .xlsx workbook instead"
)
_MSG_UNKNOWN: Final = (
    "this is not an Excel workbook (its contents match no spreadsheet format; it may be damaged "
    "or be another kind of file); send the learner's .xlsx workbook"
)
_MSG_STRUCTURE: Final = (
    "the workbook's internal list of sheets is damaged; open it in Excel and save it again, or "
    f"{_ASK_AGAIN}"
)


def _mb(n: int) -> str:
    """A size in megabytes, for messages."""
    return f"{n / _MiB:,.0f} MB" if n >= 10 * _MiB else f"{n / _MiB:,.1f} MB"


class _Refuse(Exception):
    """Internal: a refusal before the file name is attached (see UnreadableWorkbook)."""

    def __init__(self, reason: str, sheet: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sheet = sheet


def _refuse(reason: str, sheet: str | None = None) -> NoReturn:
    raise _Refuse(reason, sheet)


def _printable(text: str, limit: int = 80) -> str:
    """A name taken from the file, made safe for a one-line message."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# XML scanning
# ---------------------------------------------------------------------------------------------

#: size of the pieces members are decompressed in; also the unit of memory use
_CHUNK: Final = 64 * _KiB
#: files up to this size are read into memory whole before the zip checks (actual bytes, not
#: what the file claims: bombs stay bounded by the chunked inflate)
_IN_MEMORY_MAX: Final = 8 * _MiB
#: an unfinished tag longer than this is scanned as it is instead of being carried over
_MAX_CARRY: Final = 4 * _KiB
#: the first bytes of a part are held until there are this many (or the part ends), so that the
#: XML declaration is seen whole however the decompressor happens to cut its output
_HEAD_WINDOW: Final = 4 * _KiB
_ENCODING_ATTR_RE: Final = re.compile(r"""\sencoding\s*=\s*["']([^"']{0,60})["']""")
# Encodings in which every ASCII character, and so every marker we look for, is the same single
# byte as in ASCII. (An encoding such as UTF-7 or EBCDIC could spell "<!DOCTYPE" in other bytes
# and slip past a byte scan, and then be decoded by an XML parser that honours the declaration.)
_ASCII_SAFE_ENCODINGS: Final = frozenset({"utf-8", "utf-8-sig", "ascii", "iso8859-1", "cp1252"})
_UTF16_ENCODINGS: Final = frozenset({"utf-16", "utf-16-le", "utf-16-be"})

#: at most this many error cells are reported per workbook (a sheet of #REF! is one problem)
MAX_ERROR_CELLS: Final = 1000
# A cell element whose type is "e" (a formula error), with or without a namespace prefix. Only
# run on a segment that holds a "#" at all: every error text starts with one (#REF!, #N/A ...),
# and so does a character reference that could spell it (&#35;).
_ERROR_CELL_RE: Final = re.compile(
    rb"""<(?:[A-Za-z_][\w.\-]{0,40}:)?c\s[^>]{0,512}?(?<=\s)t\s*=\s*["']e["'][^>]{0,512}>"""
)
_REF_ATTR_RE: Final = re.compile(rb"""(?:^|\s)r\s*=\s*["']\s*([A-Za-z]{1,3}[0-9]{1,7})\s*["']""")
# After an error cell's start tag: its cached value (``<v>#REF!</v>``), or the end of the cell.
_ERROR_VALUE_RE: Final = re.compile(
    rb"<(?:[A-Za-z_][\w.\-]{0,40}:)?v(?:\s[^>]*)?>([^<]{0,64})</|</(?:[A-Za-z_][\w.\-]{0,40}:)?c\s*>"
)
#: how far after an error cell's start tag its value is looked for (the formula comes first)
_ERROR_VALUE_WINDOW: Final = 16 * _KiB


class _XmlScanner:
    """Scans one XML part fed in chunks, in bounded memory.

    It refuses a part with a ``<!DOCTYPE`` or ``<!ENTITY`` declaration (an internal DTD is how
    "billion laughs" and external-entity (XXE) attacks are written; spreadsheet XML never has one)
    and a part declared in an encoding where such a marker could hide. For worksheets it also
    tracks the highest row number.

    Chunk boundaries: a marker or a ``<row ...>`` tag may be split between two chunks. Every
    marker starts with ``<`` and contains no other ``<``, so the scanner holds back the text from
    the last ``<`` of a chunk when no ``>`` follows it (an unfinished tag), and scans it with the
    next chunk. Everything before that point contains only complete tags, so nothing is scanned
    twice (row counts stay exact) and nothing is missed.

    UTF-16 parts (allowed by Open Packaging Conventions, written by no spreadsheet program we
    know) are decoded incrementally and re-encoded as UTF-8 so the same byte scan applies.
    """

    def __init__(self, what: str, *, sheet: str | None = None, max_rows: int = 0) -> None:
        self.what = what
        self.sheet = sheet
        # A worksheet's rows, cells, dimension, merged ranges and numbers (gridscan).
        self.grid = SheetGrid(max_rows) if sheet is not None else None
        self.count_rows = sheet is not None
        self._carry = b""
        self._started = False
        self._head = b""  # the first bytes, until there are enough to tell the encoding
        self._decoder: codecs.IncrementalDecoder | None = None
        self.error_cells: list[tuple[str, str]] = []  # (A1 reference, error text), worksheets only
        self._err_ref: str | None = None  # an error cell whose value has not been seen yet
        self._err_buf = b""
        self._prev = b""  # the end of the segments not searched for error cells since the last one that was

    # -- input ---------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Scan the next piece of the part."""
        if not data:
            return
        if not self._started:
            # The encoding is told by the first bytes and the XML declaration: collect the first
            # 4 KiB (or the whole part, if shorter) before deciding, however the chunks are cut.
            self._head += data
            if len(self._head) < _HEAD_WINDOW:
                return
            data, self._head = self._head, b""
            self._started = True
            self._detect_encoding(data)
        if self._decoder is not None:
            data = self._decoder.decode(data).encode("utf-8", "surrogatepass")
        buf = self._carry + data if self._carry else data
        cut = buf.rfind(b"<")
        # In a worksheet the text after the last tag is carried over too, so that a cell's
        # value (``<v>-1e20</v>``) is never cut from its start tag (gridscan reads it whole).
        if cut >= 0 and (self.grid is not None or buf.find(b">", cut) < 0) and len(buf) - cut <= _MAX_CARRY:
            self._carry = buf[cut:]
            buf = buf[:cut]
        else:
            self._carry = b""
        self._scan(buf)

    def close(self) -> None:
        """Scan what is left at the end of the part."""
        if not self._started and self._head:
            head, self._head = self._head, b""
            self._started = True
            self._detect_encoding(head)
            self._carry = self._decoder.decode(head).encode("utf-8", "surrogatepass") if self._decoder else head
        rest = self._carry
        if self._decoder is not None:
            rest += self._decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")
        self._carry = b""
        self._scan(rest)

    # -- checks --------------------------------------------------------------------------------

    def _detect_encoding(self, head: bytes) -> None:
        """Choose how to read the part from its first bytes, and vet its declared encoding.

        XML is self-describing: a byte order mark or the bytes of ``<?xml`` tell UTF-8 from
        UTF-16 (UTF-32 is refused: no producer writes it and a byte scan would miss markers),
        then the declaration's ``encoding=`` names the rest. ``head`` is the first 4 KiB (or
        the whole part): a declaration that does not end within it is refused, so padding the
        declaration with spaces cannot push ``encoding=`` out of sight.
        """
        if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\x00\x00\x00<", b"<\x00\x00\x00")):
            self._refuse_encoding("UTF-32")
        if head.startswith((b"\xff\xfe", b"<\x00")):
            self._decoder = codecs.getincrementaldecoder("utf-16-le")("replace")
            text = head.decode("utf-16-le", "replace")
            allowed = _UTF16_ENCODINGS
        elif head.startswith((b"\xfe\xff", b"\x00<")):
            self._decoder = codecs.getincrementaldecoder("utf-16-be")("replace")
            text = head.decode("utf-16-be", "replace")
            allowed = _UTF16_ENCODINGS
        else:
            # ASCII-compatible: latin-1 maps every byte to one character, so this never fails.
            text = head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
            allowed = _ASCII_SAFE_ENCODINGS
        text = text.removeprefix("\ufeff")
        if not text.startswith("<?xml"):
            return  # no declaration: UTF-8 (or UTF-16 by its byte order mark), both fine
        end = text.find("?>")
        if end < 0:
            self._refuse_encoding("declaration without an end")
        m = _ENCODING_ATTR_RE.search(text, 0, end)
        if m is None:
            return
        declared = m.group(1)
        try:
            name = codecs.lookup(declared).name
        except LookupError:
            self._refuse_encoding(declared)
        if name not in allowed:
            self._refuse_encoding(declared)

    @property
    def last_row(self) -> int:
        """A worksheet's highest row number seen (its dimension, rows and cells); 0 otherwise."""
        return self.grid.last_row if self.grid is not None else 0

    @property
    def subject(self) -> str:
        """How messages name the XML: "part xl/styles.xml" inside a workbook, "it" on its own.

        Built only when a message needs it (every member of every file would pay otherwise).
        """
        return f"part {_printable(self.what)}" if self.what else "it"

    def _refuse_encoding(self, encoding: str) -> NoReturn:
        _refuse(
            f"{self.subject} is written in an unusual text encoding "
            f"({_printable(encoding, 40)}) that spreadsheet programs never use; it may be "
            "malicious, so it was not opened - ask for the original workbook"
        )

    def _scan(self, seg: bytes) -> None:
        # Find "<!" by looking for "!" (a one-byte search runs at memchr speed, ~40x faster than
        # a two-byte one) and checking the byte before; after a few dozen "!" in one segment
        # (text full of exclamation marks, or a hostile file) switch to the two-byte search so
        # the Python loop stays short.
        i = seg.find(b"!")
        bangs = 0
        while i >= 0:
            if i > 0 and seg[i - 1] == 0x3C:  # "<!"
                # Comments (<!--) and CDATA (<![CDATA[) are harmless; a declaration is not. XML
                # keywords are upper case, but some parsers accept any case, so compare folded.
                word = seg[i + 1 : i + 8].upper()
                if word.startswith((b"DOCTYPE", b"ENTITY")):
                    _refuse(f"{self.subject} {_MSG_ENTITIES}")
            bangs += 1
            if bangs < 32:
                i = seg.find(b"!", i + 1)
            else:
                j = seg.find(b"<!", i)
                i = j + 1 if j >= 0 else -1
        if self.grid is not None and seg:
            try:
                self.grid.feed(seg)
            except GridRefused as e:
                _refuse(e.reason, sheet=self.sheet)
            # Error cells are rare: a one-byte search (memchr speed, ~3 us per 64 KiB) rules
            # them out; a three-byte one such as '"e"' would cost ~15% of the whole gate.
            if self._err_ref is not None or b"#" in seg:
                if self._prev:
                    # An error cell's start tag may end the previous segment, its "#" begin this.
                    seg_with_prev = self._prev[-_ERROR_VALUE_WINDOW:] + seg
                    self._prev = b""
                    self._find_error_cells(seg_with_prev)
                else:
                    self._find_error_cells(seg)
            elif len(seg) >= _ERROR_VALUE_WINDOW or not self._prev:
                self._prev = seg
            else:  # short pieces: keep the last window's worth of them
                self._prev = (self._prev[-_ERROR_VALUE_WINDOW:] + seg)[-_ERROR_VALUE_WINDOW:]

    def _find_error_cells(self, seg: bytes) -> None:
        """Note cells of type "e" with their cached error text.

        Start tags are never split between segments (see the class docstring), but the value
        after one may be, so an error cell whose value has not been seen yet stays pending and
        the next segment continues it (up to ``_ERROR_VALUE_WINDOW`` bytes).
        """
        if self._err_ref is not None:
            self._take_error_value(seg)
        for m in _ERROR_CELL_RE.finditer(seg):
            if len(self.error_cells) >= MAX_ERROR_CELLS:
                self._err_ref = None
                return
            tag = m.group(0)
            ref = _REF_ATTR_RE.search(tag)
            if tag.endswith(b"/>") or ref is None:
                continue  # no value, or no reference to put it at (Excel always writes r)
            self._err_ref, self._err_buf = ref.group(1).decode("ascii").upper(), b""
            self._take_error_value(seg[m.end() : m.end() + _ERROR_VALUE_WINDOW])

    def _take_error_value(self, data: bytes) -> None:
        buf = self._err_buf + data[: _ERROR_VALUE_WINDOW - len(self._err_buf)]
        m = _ERROR_VALUE_RE.search(buf)
        if m is None:
            if len(buf) >= _ERROR_VALUE_WINDOW:
                self._err_ref, self._err_buf = None, b""  # gave up: no value in sight
            else:
                self._err_buf = buf
            return
        ref, self._err_ref, self._err_buf = self._err_ref, None, b""
        if m.group(1) is not None and ref is not None:
            text = _unescape_xml(m.group(1).decode("utf-8", "replace")).strip()
            if text:
                self.error_cells.append((ref, _printable(text, 32)))


_XML_ESCAPE_RE: Final = re.compile(r"&(?:#x([0-9A-Fa-f]{1,6})|#([0-9]{1,7})|(amp|lt|gt|quot|apos));")
_NAMED_ESCAPES: Final = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _unescape_xml(text: str) -> str:
    """Undo XML escapes in a short value (named entities and character references, in one pass)."""
    if "&" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        if m.group(3):
            return _NAMED_ESCAPES[m.group(3)]
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        return chr(code) if 0 < code <= 0x10FFFF else "?"

    return _XML_ESCAPE_RE.sub(one, text)


def scan_xml_chunks(chunks: Iterable[bytes], what: str) -> None:
    """Check an XML document given in pieces; raise :class:`UnreadableWorkbook` if hostile.

    ``what`` names the document in the message (a file name, or "file.xlsx: xl/styles.xml").
    Memory use is bounded by the largest chunk, whatever the total length.
    """
    scanner = _XmlScanner("")
    try:
        for chunk in chunks:
            scanner.feed(chunk)
        scanner.close()
    except _Refuse as r:
        raise UnreadableWorkbook(what, r.reason) from None


def check_xml_safe(data: bytes, what: str) -> None:
    """Check one XML document in memory for entity declarations and hiding encodings.

    Raises :class:`UnreadableWorkbook` naming ``what``. For XML from untrusted files that a
    caller is about to parse itself (for example a part read with ``zipfile``).
    """
    scan_xml_chunks((data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)), what)


# ---------------------------------------------------------------------------------------------
# Sniffing the first bytes
# ---------------------------------------------------------------------------------------------

#: OLE2 / Compound File Binary: old .xls/.doc, and the wrapper of password-protected .xlsx
_CFB_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: a zip starts with a local file header, or with the end record when it is empty
_ZIP_MAGICS: Final = (b"PK\x03\x04", b"PK\x05\x06")
_HEAD_SIZE: Final = 4 * _KiB


def _identify_other(head: bytes) -> NoReturn:
    """Refuse a file that is neither zip nor OLE2, saying what it most likely is."""
    if head.startswith(b"%PDF"):
        _refuse(_MSG_PDF)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", "replace")  # Excel's "Unicode Text" export is UTF-16
    else:
        # Cut at most 3 bytes of a UTF-8 sequence split by the 4 KiB window.
        text = head.decode("utf-8", "replace")
    low = text.lstrip("\ufeff \t\r\n").lower()
    if low.startswith("<?xml") and "urn:schemas-microsoft-com:office:spreadsheet" in low:
        _refuse(_MSG_XML2003)
    if low.startswith(("<!doctype html", "<html", "<table", "<meta")) or "<html" in low[:1024]:
        _refuse(_MSG_HTML)
    if text and "\x00" not in text:
        printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
        if printable >= 0.95 * len(text):
            _refuse(_MSG_TEXT)
    _refuse(_MSG_UNKNOWN)


# ---------------------------------------------------------------------------------------------
# OLE2 compound files
# ---------------------------------------------------------------------------------------------


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def _check_ole(f: BinaryIO, size: int) -> NoReturn:
    """An OLE2 file is never parsed by us; say which kind it is.

    Office saves a password-protected .xlsx as an OLE2 container holding ``EncryptionInfo`` and
    ``EncryptedPackage`` streams (MS-OFFCRYPTO); an old .xls keeps its BIFF records in a
    ``Workbook`` stream (``Book`` for Excel 5/95). Word and PowerPoint use ``WordDocument`` and
    ``PowerPoint Document``.
    """
    names = _ole_names_with_olefile(f)
    if names is None:
        names = _scan_ole_names(f, size)
    if "encryptedpackage" in names:
        _refuse(_MSG_ENCRYPTED)
    if "workbook" in names or "book" in names:
        _refuse(_MSG_XLS)
    if "worddocument" in names or "powerpoint document" in names:
        _refuse(_MSG_OLE_OTHER)
    # An OLE2 file we cannot place: most such files that arrive named .xlsx are old workbooks.
    _refuse(_MSG_XLS)


def _ole_names_with_olefile(f: BinaryIO) -> set[str] | None:
    """Stream and storage names (lower case) read with olefile, or None if it cannot tell."""
    try:
        import olefile
    except ImportError:  # olefile comes with msoffcrypto-tool and oletools, but is optional
        return None
    try:
        f.seek(0)
        ole = olefile.OleFileIO(f)
        try:
            return {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)}
        finally:
            ole.close()
    except Exception:  # noqa: BLE001 - a third-party parser on hostile bytes: use the byte scan
        return None


def _scan_ole_names(f: BinaryIO, size: int) -> set[str]:
    """Find well-known stream names by a bounded byte scan (when olefile is missing or fails).

    Directory entries hold names in UTF-16LE; the directory may be anywhere in the file, so the
    whole file (already capped by ``Limits.max_file_size``) is read in chunks with an overlap as
    long as the longest name, so that a name split by a chunk boundary is still found.
    """
    wanted = {n.lower(): _utf16(n) for n in ("EncryptedPackage", "Workbook", "WordDocument", "PowerPoint Document")}
    overlap = max(len(b) for b in wanted.values())
    found: set[str] = set()
    f.seek(0)
    prev = b""
    remaining = size
    while remaining > 0:
        chunk = f.read(min(_MiB, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        buf = prev + chunk
        for key, pattern in wanted.items():
            if pattern in buf:
                found.add(key)
        prev = buf[-overlap:]
    return found


# ---------------------------------------------------------------------------------------------
# Zip structure
# ---------------------------------------------------------------------------------------------

_EOCD: Final = struct.Struct("<4s4H2LH")  # end of central directory record
_ZIP64_LOCATOR: Final = struct.Struct("<4sLQL")
_ZIP64_EOCD: Final = struct.Struct("<4sQ2H2L4Q")
_LOCAL_HEADER: Final = struct.Struct("<4s5H3L2H")
#: a central directory entry is 46 bytes plus its name; 256 bytes per allowed member is generous
_CD_BYTES_PER_MEMBER: Final = 256
#: Office uses only these: stored and deflated
_STORED: Final = zipfile.ZIP_STORED
_DEFLATED: Final = zipfile.ZIP_DEFLATED

#: errors zipfile may raise on a damaged or hostile archive
_ZIP_ERRORS: Final = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    ValueError,
    EOFError,
    OSError,
    struct.error,
    UnicodeDecodeError,
    IndexError,
    KeyError,
    OverflowError,
)


def _precheck_central_directory(f: BinaryIO, size: int, limits: Limits) -> None:
    """Read the end-of-central-directory record ourselves before zipfile lists the members.

    zipfile reads the whole central directory into memory and makes one ZipInfo per entry,
    however many there are (it ignores the declared count), so a hostile directory is refused
    here by its declared count and byte size. A zip whose end record is missing was cut short.
    """
    tail_len = min(size, _EOCD.size + 65535)  # the record, plus a comment of up to 64 KiB
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        _refuse(_MSG_DAMAGED)
    _sig, _disk, _cd_disk, _n_disk, entries, cd_size, cd_offset, _clen = _EOCD.unpack_from(tail, at)
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        # Zip64: the real figures are in a Zip64 end record found through a locator that sits
        # just before the classic end record.
        loc_at = at - _ZIP64_LOCATOR.size
        if loc_at < 0:
            _refuse(_MSG_DAMAGED)
        lsig, _d, z64_offset, _nd = _ZIP64_LOCATOR.unpack_from(tail, loc_at)
        if lsig != b"PK\x06\x07" or z64_offset > size - _ZIP64_EOCD.size:
            _refuse(_MSG_DAMAGED)
        f.seek(z64_offset)
        rec = f.read(_ZIP64_EOCD.size)
        if len(rec) < _ZIP64_EOCD.size:
            _refuse(_MSG_DAMAGED)
        zsig, _s, _vm, _vn, _dk, _cdk, _nd2, entries, cd_size, cd_offset = _ZIP64_EOCD.unpack(rec)
        if zsig != b"PK\x06\x06":
            _refuse(_MSG_DAMAGED)
    if entries > limits.max_members:
        _refuse(
            f"the file holds {entries:,} internal parts, far more than any workbook (limit "
            f"{limits.max_members:,}); it may be malicious, so it was not opened - ask for the "
            "original workbook"
        )
    if cd_size > size:
        _refuse(_MSG_DAMAGED)
    if cd_size > limits.max_members * _CD_BYTES_PER_MEMBER:
        _refuse(
            f"the file's table of contents is {_mb(cd_size)}, far larger than any workbook's; it "
            "is damaged or malicious, so it was not opened - ask for the original workbook"
        )


def _read_local_data_start(f: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where a member's data begins, after checking its local header against the directory.

    A local header whose name differs from the central directory's is how some parser-confusion
    tricks work (a streaming reader sees one file, a directory reader another), so it is refused.
    """
    f.seek(info.header_offset)
    raw = f.read(_LOCAL_HEADER.size)
    if len(raw) < _LOCAL_HEADER.size:
        _refuse(_MSG_DAMAGED)
    sig, _v, _flags, _method, _t, _d, _crc, _cs, _us, name_len, extra_len = _LOCAL_HEADER.unpack(raw)
    if sig != b"PK\x03\x04":
        _refuse(_MSG_DAMAGED)
    name = f.read(name_len)
    expected = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
    if name != expected:
        _refuse(_MSG_DAMAGED)
    return info.header_offset + _LOCAL_HEADER.size + int(name_len) + int(extra_len)


def _iter_member(f: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """Yield a member's uncompressed bytes in chunks of at most 64 KiB, verifying its CRC.

    This does not trust the declared uncompressed size: output beyond it is refused as soon as
    it appears (never more than one chunk past it), and so is a deflate stream that ends early,
    runs on past its compressed size, or has trailing data. ``zipfile.ZipExtFile`` silently stops
    at the declared size, which would let a lying member through to a parser that does not.
    """
    start = _read_local_data_start(f, info)
    f.seek(start)
    left_in = info.compress_size
    produced = 0
    crc = 0
    declared = info.file_size
    if info.compress_type == _STORED:
        while left_in > 0:
            piece = f.read(min(_CHUNK, left_in))
            if not piece:
                _refuse(_MSG_DAMAGED)
            left_in -= len(piece)
            produced += len(piece)
            crc = zlib.crc32(piece, crc)
            yield piece
    else:
        d = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as zip stores it
        pending = b""
        # Some writers store an empty member as "deflated" with no compressed bytes at all.
        while not d.eof and (left_in > 0 or pending or declared > 0):
            if not pending and left_in > 0:
                pending = f.read(min(_CHUNK, left_in))
                if not pending:
                    _refuse(_MSG_DAMAGED)
                left_in -= len(pending)
            try:
                # At most one chunk of output per call; input not yet used waits in
                # unconsumed_tail, so memory stays bounded whatever the compression ratio.
                out = d.decompress(pending, _CHUNK)
            except zlib.error:
                _refuse(_MSG_CRC)
            pending = d.unconsumed_tail
            if not out:
                if not pending and left_in <= 0 and not d.eof:
                    _refuse(_MSG_DAMAGED)  # the compressed data ended before the stream did
                continue
            produced += len(out)
            if produced > declared:
                _refuse(
                    f"part {_printable(info.filename)} unpacks to more than its declared size; "
                    "the file is damaged or malicious, so it was not opened - ask for the "
                    "original workbook"
                )
            crc = zlib.crc32(out, crc)
            yield out
        # Bytes after the end of the deflate stream are ignored, as zipfile and Excel do.
    if produced != declared or crc != info.CRC:
        _refuse(_MSG_CRC)


def _read_member(f: BinaryIO, info: zipfile.ZipInfo, cap: int, too_big: str = _MSG_STRUCTURE) -> bytes:
    """A whole (small) member in memory; refuses one declared larger than ``cap`` bytes."""
    if info.file_size > cap:
        _refuse(too_big)
    return b"".join(_iter_member(f, info))


def _identify_zip(f: BinaryIO, by_name: dict[str, zipfile.ZipInfo]) -> NoReturn:
    """Refuse a zip without ``xl/workbook.xml``, saying what it is."""
    mimetype = by_name.get("mimetype")
    if mimetype is not None:
        # OpenDocument: the first member, stored, named "mimetype", holding the media type.
        kind = _read_member(f, mimetype, 256, _MSG_ZIP_OTHER).strip()
        if kind.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            _refuse(_MSG_ODS)
        if kind.startswith(b"application/vnd.oasis.opendocument."):
            _refuse(_MSG_ODF_OTHER)
    if "xl/workbook.bin" in by_name:
        _refuse(_MSG_XLSB)
    if "word/document.xml" in by_name:
        _refuse(_MSG_DOCX)
    if "ppt/presentation.xml" in by_name:
        _refuse(_MSG_PPTX)
    if "content.xml" in by_name and "meta-inf/manifest.xml" in by_name:
        _refuse(_MSG_ODS)  # an .ods whose mimetype member was lost
    _refuse(_MSG_ZIP_OTHER)


def _check_members(infos: list[zipfile.ZipInfo], limits: Limits) -> int:
    """Checks on the central directory alone; returns the total uncompressed size."""
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            _refuse(
                "parts of the file are encrypted with a zip password, which Excel never does; "
                "it is not a normal workbook - ask for the original workbook"
            )
        if info.compress_type not in (_STORED, _DEFLATED):
            _refuse(
                "the file uses a compression method that spreadsheet programs do not use; open "
                "it in Excel and save it as .xlsx again, or ask for the original workbook"
            )
        # Sizes that cannot be true: stored data is as long as the original, and deflate never
        # grows data by more than a few bytes per 16 KiB block (15% leaves room for any encoder).
        if info.compress_type == _STORED and info.compress_size != info.file_size:
            _refuse(_MSG_DAMAGED)
        if info.compress_size > info.file_size * 1.15 + 1024:
            _refuse(_MSG_DAMAGED)
        total += info.file_size
    if total > limits.max_uncompressed_total:
        _refuse(
            f"the file would unpack to {_mb(total)}, far more than any learner workbook (limit "
            f"{_mb(limits.max_uncompressed_total)}); it may be a 'zip bomb', so it was not "
            "opened - ask for the original workbook"
        )
    for info in infos:
        if info.file_size > limits.ratio_min_size:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                _refuse(
                    f"part {_printable(info.filename)} is compressed {ratio:,.0f} to 1, far beyond "
                    "any real workbook (a 'zip bomb'); it may be malicious, so it was not opened "
                    "- ask for the original workbook"
                )
    # Members must not share bytes. The "non-recursive zip bomb" points many directory entries
    # at one highly compressed block; each entry's data ends at least 30 bytes (the local header)
    # plus its compressed size after its header, before the next member's header begins.
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for this, nxt in zip(ordered, ordered[1:]):
        if this.header_offset + _LOCAL_HEADER.size + this.compress_size > nxt.header_offset:
            _refuse(
                "the file's internal parts overlap, which real workbooks never do; it is "
                "damaged or malicious, so it was not opened - ask for the original workbook"
            )
    return total


# ---------------------------------------------------------------------------------------------
# Workbook structure: sheet names -> parts
# ---------------------------------------------------------------------------------------------

#: the structural parts are parsed whole, so they are capped (a real workbook.xml is ~2 KB)
_STRUCTURE_CAP: Final = 16 * _MiB
_SHEET_REL_SUFFIXES: Final = ("/worksheet", "/chartsheet", "/dialogsheet", "/xlmacrosheet", "/xlintlmacrosheet")
_ROW_CHECKED_SUFFIXES: Final = ("/worksheet", "/xlmacrosheet", "/xlintlmacrosheet")


def _local(tag: str) -> str:
    """The local name of an ElementTree tag or attribute name (``{ns}name`` -> ``name``)."""
    return tag.rsplit("}", 1)[-1]


def _parse_sheets(workbook_xml: bytes, rels_xml: bytes) -> list[tuple[str, str, bool]]:
    """(sheet name, part path, is a worksheet) for every sheet, in workbook order.

    Namespaces are matched by local name only, so both Transitional (``schemas.openxmlformats``)
    and Strict (``purl.oclc.org``) files work. Relationship targets are relative to ``xl/``
    unless they start with ``/`` (absolute part names, written by some producers).
    """
    # The C parser of the standard library, not defusedxml's pure-Python one (5x slower): both
    # parts have already passed the entity scan, and without a DOCTYPE expat can neither define
    # nor expand an entity, so there is nothing left for defusedxml to refuse.
    from xml.etree.ElementTree import fromstring

    try:
        wb = fromstring(workbook_xml)
        rels = fromstring(rels_xml)
    except Exception:  # noqa: BLE001 - ParseError, or worse on bad bytes
        _refuse(_MSG_STRUCTURE)
    targets: dict[str, tuple[str, str]] = {}
    for rel in rels.iter():
        if _local(rel.tag) != "Relationship" or rel.get("TargetMode") == "External":
            continue
        rid, target, rtype = rel.get("Id"), rel.get("Target"), rel.get("Type", "")
        if not rid or not target:
            continue
        part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        targets[rid] = (posixpath.normpath(part), rtype.lower())
    sheets: list[tuple[str, str, bool]] = []
    for el in wb.iter():
        if _local(el.tag) != "sheet":
            continue
        name = el.get("name")
        rid = next((v for k, v in el.attrib.items() if _local(k) == "id" and k.startswith("{")), None)
        if name is None or rid is None or rid not in targets:
            _refuse(_MSG_STRUCTURE)
        part, rtype = targets[rid]
        if not rtype.endswith(_SHEET_REL_SUFFIXES):
            _refuse(_MSG_STRUCTURE)
        sheets.append((name, part, rtype.endswith(_ROW_CHECKED_SUFFIXES)))
    if not sheets:
        _refuse(_MSG_STRUCTURE)
    return sheets


# ---------------------------------------------------------------------------------------------
# The gate
# ---------------------------------------------------------------------------------------------


def check_workbook_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> SafeInfo:
    """Decide whether ``path`` may be handed to a spreadsheet parser.

    Returns what was learnt (:class:`SafeInfo`), or raises
    :class:`tracker.errors.UnreadableWorkbook` whose message names the file, says what it is and
    what to do, on one line. Never raises anything else for any file content. Time and memory
    are bounded: members are read in 64 KiB chunks, never beyond ``limits``.
    """
    p = Path(path)
    try:
        return _check(p, limits)
    except _Refuse as r:
        sheet = _printable(r.sheet) if r.sheet is not None else None
        raise UnreadableWorkbook(p, r.reason, sheet=sheet) from None


def _check(p: Path, limits: Limits) -> SafeInfo:
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        _refuse("file not found; check the file name and the folder it is in")
    except PermissionError:
        _refuse("the file cannot be read (permission denied); check you are allowed to open it")
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the name
        _refuse(f"the file cannot be opened ({_printable(str(e))}); check the file name")
    if stat.S_ISDIR(st.st_mode):
        _refuse("this is a folder, not a workbook file; choose the .xlsx file inside it")
    if not stat.S_ISREG(st.st_mode):
        _refuse("this is not an ordinary file (it may be a device or a pipe); choose the .xlsx workbook file")
    size = st.st_size
    if size == 0:
        _refuse(f"the file is empty (0 bytes), so it was not saved or copied completely; {_ASK_AGAIN}")
    if size > limits.max_file_size:
        _refuse(
            f"the file is {_mb(size)}, far larger than any learner workbook (limit "
            f"{_mb(limits.max_file_size)}); check it is the right file"
        )
    try:
        f = open(p, "rb")  # noqa: SIM115 - closed below, after the checks that need it
    except PermissionError:
        _refuse(
            "the file cannot be opened (permission denied, or it is open in another program); "
            "close it and check you are allowed to read it"
        )
    except OSError as e:
        _refuse(f"the file cannot be opened ({_printable(str(e))}); check the file name")
    with f:
        try:
            head = f.read(_HEAD_SIZE)
        except OSError:
            _refuse(_MSG_DAMAGED)
        if not head.startswith(_ZIP_MAGICS + (_CFB_MAGIC,)):
            _identify_other(head)
        try:
            if head.startswith(_CFB_MAGIC):
                _check_ole(f, size)
            if size <= _IN_MEMORY_MAX:
                # A workbook of ordinary size is read once: the ~150 seeks and small reads of the
                # zip checks (headers, names, members) then cost nothing (-0.2 ms of ~4 ms).
                f.seek(0)
                return _check_zip(p, io.BytesIO(f.read(size)), size, limits)
            return _check_zip(p, f, size, limits)
        except _ZIP_ERRORS:  # including OSError: a read error half-way (a USB stick pulled out)
            _refuse(_MSG_DAMAGED)


def _check_zip(p: Path, f: BinaryIO, size: int, limits: Limits) -> SafeInfo:
    _precheck_central_directory(f, size, limits)
    f.seek(0)
    with zipfile.ZipFile(f) as zf:  # reads the central directory only
        infos = zf.infolist()
    if len(infos) > limits.max_members:
        _refuse(
            f"the file holds {len(infos):,} internal parts, far more than any workbook (limit "
            f"{limits.max_members:,}); it may be malicious, so it was not opened - ask for the "
            "original workbook"
        )
    # Part names in Open Packaging Conventions are case-insensitive; two members whose names
    # differ only in case (or are identical) let different parsers read different data.
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        key = info.filename.lower()
        if key in by_name:
            _refuse(
                f"the file holds two copies of its internal part {_printable(info.filename)}, which "
                "real workbooks never do; it may be malicious - ask for the original workbook"
            )
        by_name[key] = info
    if "xl/workbook.xml" not in by_name:
        _identify_zip(f, by_name)
    if "[content_types].xml" not in by_name:
        _refuse(_MSG_NO_CONTENT_TYPES)
    total = _check_members(infos, limits)

    # Structure first (small parts, whole in memory, entity-scanned before the parser sees them).
    wb_info = by_name["xl/workbook.xml"]
    rels_info = by_name.get("xl/_rels/workbook.xml.rels")
    if rels_info is None:
        _refuse(_MSG_STRUCTURE)
    structure: dict[str, bytes] = {}
    for info in (wb_info, rels_info):
        data = _read_member(f, info, _STRUCTURE_CAP)
        structure_scan = _XmlScanner(info.filename)
        structure_scan.feed(data)
        structure_scan.close()
        structure[info.filename.lower()] = data
    sheets = _parse_sheets(structure["xl/workbook.xml"], structure["xl/_rels/workbook.xml.rels"])
    row_checked: dict[str, str] = {}
    for name, part, is_worksheet in sheets:
        if part.lower() not in by_name:
            _refuse(f"the sheet is listed in the workbook but its contents are missing; {_MSG_DAMAGED}", sheet=name)
        if is_worksheet:
            row_checked[part.lower()] = name

    # Then every member, in file order: CRC always, entity scan for XML, rows for worksheets.
    max_rows: list[tuple[str, int]] = []
    error_cells: list[tuple[str, str, str]] = []
    grids: list[tuple[str, SheetGrid]] = []
    for info in sorted(infos, key=lambda i: i.header_offset):
        key = info.filename.lower()
        if key in structure or info.is_dir():
            continue
        sheet = row_checked.get(key)
        scanner: _XmlScanner | None = None
        if sheet is not None:
            scanner = _XmlScanner(info.filename, sheet=sheet, max_rows=limits.max_rows)
        # Any part that looks like XML is scanned, whatever its name: a relationship can point a
        # parser at "xl/media/image1.png" as well as at "sheet1.xml". Whether it looks like XML
        # is decided on its first 4 KiB (a crafted deflate stream can make the first piece of
        # output a single space), held back until then.
        held: list[bytes] = []
        held_len = 0
        decided = scanner is not None
        for chunk in _iter_member(f, info):
            if not decided:
                held.append(chunk)
                held_len += len(chunk)
                if held_len < _HEAD_WINDOW:
                    continue
                decided = True
                chunk = b"".join(held)
                held = []
                if _looks_like_xml(key, chunk):
                    scanner = _XmlScanner(info.filename)
            if scanner is not None:
                scanner.feed(chunk)
        if not decided and held:
            head = b"".join(held)
            if _looks_like_xml(key, head):
                scanner = _XmlScanner(info.filename)
                scanner.feed(head)
        if scanner is not None:
            scanner.close()
            if sheet is not None and scanner.grid is not None:
                grids.append((sheet, scanner.grid))
                max_rows.append((sheet, scanner.grid.last_row))
                room = MAX_ERROR_CELLS - len(error_cells)
                error_cells.extend((sheet, ref, text) for ref, text in scanner.error_cells[:room])
    _check_grid_size(grids, limits)
    bad_numbers = _bad_numbers(f, by_name, structure["xl/_rels/workbook.xml.rels"], grids)

    has_macros = any(k.endswith("vbaproject.bin") or k.startswith("xl/macrosheets/") for k in by_name)
    return SafeInfo(
        path=p,
        size=size,
        has_macros=has_macros,
        sheets=tuple((name, part) for name, part, _ in sheets),
        uncompressed_total=total,
        members=len(infos),
        max_rows=tuple(max_rows),
        error_cells=tuple(error_cells),
        grid=tuple((name, g.last_row, g.last_col) for name, g in grids),
        bad_numbers=bad_numbers,
        hidden=tuple((name, tuple(g.hidden_rows), tuple(g.hidden_cols)) for name, g in grids
                     if g.hidden_rows or g.hidden_cols),
    )


def _check_grid_size(grids: list[tuple[str, SheetGrid]], limits: Limits) -> None:
    """Refuse worksheets whose cells, all together, are more than a parser should allocate.

    python-calamine builds each sheet as one rectangle from A1 to its furthest cell (the reader
    then holds every sheet as a grid of Python values), so a sheet of two cells, A1 and
    XFD20000, costs 327 million cells: legal row by row, fatal as a whole.
    """
    total = sum(g.last_row * g.last_col for _, g in grids)
    if total > limits.max_cells:
        name, g = max(grids, key=lambda item: item[1].last_row * item[1].last_col)
        _refuse(
            f"the sheets span {total:,} cells (this one {g.last_row:,} rows x {g.last_col:,} columns), "
            f"far more than any learner workbook (limit {limits.max_cells:,}); it may be damaged or "
            "malicious - ask for the original workbook, or delete unused rows and columns in Excel and "
            "save it again", sheet=name)
    merged = sum(g.merged_cells for _, g in grids)
    if merged > limits.max_cells:
        name, _g = max(grids, key=lambda item: item[1].merged_cells)
        _refuse(
            f"the sheets merge {merged:,} cells, far more than any learner workbook (limit "
            f"{limits.max_cells:,}); it may be damaged or malicious - ask for the original workbook",
            sheet=name)


_NUMBER_REASONS: Final = {
    "special": "which is not a number a spreadsheet can hold (not-a-number or infinity)",
    "extreme": "a number too large for Excel to hold exactly (15 digits or more)",
    "range": "but the cell is formatted as a date or time and no date has that number (Excel shows ####)",
}


def _bad_numbers(f: BinaryIO, by_name: dict[str, zipfile.ZipInfo], rels_xml: bytes,
                 grids: list[tuple[str, SheetGrid]]) -> tuple[tuple[str, str, str, str], ...]:
    """The trapped numbers of every sheet that a parser would choke on (see SafeInfo).

    A number outside Excel's dates matters only in a cell formatted as a date or time, so the
    workbook's styles are read -- only then, and only when there is such a number (a learner
    workbook has none). Styles that cannot be read make every cell count as a date cell.
    """
    traps = [(name, t) for name, g in grids for t in g.numbers]
    if not traps:
        return ()
    dated: frozenset[int] | None = frozenset()
    if any(t.kind == "range" for _, t in traps):
        dated = _date_styles(f, by_name, rels_xml)
    out: list[tuple[str, str, str, str]] = []
    for name, t in traps:
        if t.kind == "range" and dated is not None and t.style >= 0 and t.style not in dated:
            continue
        out.append((name, t.ref, _printable(t.text, 40), _NUMBER_REASONS[t.kind]))
    return tuple(out)


def _date_styles(f: BinaryIO, by_name: dict[str, zipfile.ZipInfo], rels_xml: bytes) -> frozenset[int] | None:
    """Date/time style indices of the styles part(s): the one the workbook's relationships
    name and ``xl/styles.xml`` (parsers differ in which they read); None when unreadable."""
    from xml.etree.ElementTree import fromstring

    names = {"xl/styles.xml"}
    try:
        for rel in fromstring(rels_xml).iter():
            if _local(rel.tag) == "Relationship" and rel.get("Type", "").lower().endswith("/styles"):
                target = rel.get("Target") or ""
                part = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
                names.add(posixpath.normpath(part).lower())
    except Exception:  # noqa: BLE001 - already parsed once by _parse_sheets; be safe anyway
        return None
    dated: set[int] = set()
    for key in names:
        info = by_name.get(key)
        if info is None:
            continue
        try:
            found = date_styles(_read_member(f, info, _STRUCTURE_CAP))
        except _Refuse:
            return None
        if found is None:
            return None
        dated |= found
    return frozenset(dated)


_XML_SUFFIXES: Final = (".xml", ".rels", ".vml")


def _looks_like_xml(name: str, head: bytes) -> bool:
    """An XML part by name, or by content: ``<`` first (after a BOM and spaces), in UTF-8/16.

    A head of nothing but white space counts as XML: better scanned than guessed. Binary parts
    (images, ``vbaProject.bin``, printer settings) are not scanned, so bytes that happen to
    spell ``<!DOCTYPE`` inside them (a macro that writes HTML) are no reason to refuse.
    """
    if name.endswith(_XML_SUFFIXES):
        return True
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return not start or start.startswith((b"<", b"\xff\xfe", b"\xfe\xff", b"\x00<"))


# ---------------------------------------------------------------------------------------------
# OpenDocument spreadsheets (.ods) and old Excel workbooks (.xls)
#
# LibreOffice saves .ods by default and many centres still have Excel 97-2003 .xls files;
# python-calamine reads both. They get gates of their own, with the same limits as an .xlsx:
# an .ods is a zip of XML (so the zip checks, the CRCs and the entity scan apply to every part,
# and content.xml is walked for rows, columns and formula errors), an .xls is an OLE2 compound
# file holding a stream of BIFF8 records (walked for sheets, rows, encryption and formula errors).
# :func:`check_spreadsheet_file` tells the three formats apart by their bytes, not their names.
# ---------------------------------------------------------------------------------------------

_ODS_MIMETYPE: Final = b"application/vnd.oasis.opendocument.spreadsheet"
_NS_TABLE: Final = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_NS_OFFICE: Final = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_NS_CALCEXT: Final = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
_NS_TEXT: Final = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
#: Excel's widest sheet; a cell with content beyond it is no workbook's
_MAX_COLUMNS: Final = 16_384
#: cells a reader would have to hold, counting repeats (``number-rows-repeated`` and
#: ``number-columns-repeated`` let a few bytes stand for millions of cells: the ODS "repeat
#: bomb"). A filled Level 2 workbook is about 90,000.
_MAX_GRID_CELLS: Final = 5_000_000
_MSG_ODS_ENCRYPTED: Final = (
    "this spreadsheet is password-protected; open it in LibreOffice, choose File > Save As, "
    "untick 'Save with password', save, and send it again"
)
_MSG_XLS_ENCRYPTED: Final = (
    "this old Excel .xls workbook is password-protected; open it in Excel, remove the password "
    "(File > Info > Protect Workbook > Encrypt with Password), save it as .xlsx and send it again"
)
_MSG_XLS_OLD: Final = (
    "this is an Excel 5.0/95 workbook, older than tracker can read; open it in Excel or "
    "LibreOffice and save it as .xlsx (File > Save As > Excel Workbook)"
)
_MSG_GRID_BOMB: Final = (
    "the sheet repeats cells so often that it would fill {cells:,} cells, far beyond any learner "
    "workbook; it may be damaged or malicious - ask for the original workbook"
)


def check_spreadsheet_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> SafeInfo:
    """The gate for any returned workbook: .xlsx/.xlsm, .ods or .xls, told apart by content.

    An OpenDocument spreadsheet goes to :func:`check_ods_file`, an OLE2 compound file (an .xls,
    or an encrypted .xlsx, which Office wraps in OLE2) to :func:`check_xls_file`, everything else
    to :func:`check_workbook_file` (which refuses what is not an .xlsx with its own messages).
    ``SafeInfo.format`` says which it was.
    """
    kind = _sniff(Path(path))
    if kind == "ods":
        return check_ods_file(path, limits)
    if kind == "ole":
        return check_xls_file(path, limits)
    return check_workbook_file(path, limits)


def _sniff(p: Path) -> str:
    """'ods', 'ole' or 'other' from the first bytes; any failure is 'other' (reported later)."""
    try:
        with open(p, "rb") as f:
            head = f.read(_LOCAL_HEADER.size + 8 + len(_ODS_MIMETYPE))
    except (OSError, ValueError):
        return "other"
    if head.startswith(_CFB_MAGIC):
        return "ole"
    # OpenDocument puts a stored member named "mimetype" first, holding the media type, so that
    # a file's kind shows in its first bytes (ODF 1.2 part 3, section 3.3).
    if head.startswith(b"PK\x03\x04") and head[_LOCAL_HEADER.size:].startswith(b"mimetype" + _ODS_MIMETYPE):
        return "ods"
    return "other"


def _basic_stat(p: Path, limits: Limits) -> int:
    """The checks every format shares on the file itself; returns its size."""
    try:
        st = os.stat(p)
    except (OSError, ValueError):
        _refuse("file not found; check the file name and the folder it is in")
    if not stat.S_ISREG(st.st_mode):
        _refuse("this is not an ordinary file; choose the workbook file")
    if st.st_size == 0:
        _refuse(f"the file is empty (0 bytes), so it was not saved or copied completely; {_ASK_AGAIN}")
    if st.st_size > limits.max_file_size:
        _refuse(
            f"the file is {_mb(st.st_size)}, far larger than any learner workbook (limit "
            f"{_mb(limits.max_file_size)}); check it is the right file"
        )
    return st.st_size


def check_ods_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> SafeInfo:
    """Decide whether the OpenDocument spreadsheet at ``path`` may be handed to calamine.

    The zip checks of an .xlsx (central directory, member count, sizes, ratios, overlaps, zip
    encryption, CRCs) and the XML entity scan of every part, then, walking ``content.xml`` as it
    is inflated: sheet names, the last row and column holding content (counting repeats), the
    cells a reader would expand repeats into, and formula-error cells (calamine reads an ODS
    error as an empty string, as it does in an .xlsx). Refuses a password-protected document.
    """
    p = Path(path)
    try:
        size = _basic_stat(p, limits)
        with open(p, "rb") as f:
            try:
                return _check_ods(p, f, size, limits)
            except _ZIP_ERRORS:
                _refuse(_MSG_DAMAGED)
    except _Refuse as r:
        raise UnreadableWorkbook(p, r.reason, sheet=_printable(r.sheet) if r.sheet else None) from None
    except OSError:
        raise UnreadableWorkbook(p, "the file cannot be opened; check you are allowed to read it") from None


def _check_ods(p: Path, f: BinaryIO, size: int, limits: Limits) -> SafeInfo:
    _precheck_central_directory(f, size, limits)
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
    if len(infos) > limits.max_members:
        _refuse(f"the file holds {len(infos):,} internal parts, far more than any workbook; it may be "
                "malicious, so it was not opened - ask for the original workbook")
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        key = info.filename.lower()
        if key in by_name:
            _refuse(f"the file holds two copies of its internal part {_printable(info.filename)}, which "
                    "real spreadsheets never do; it may be malicious - ask for the original workbook")
        by_name[key] = info
    total = _check_members(infos, limits)
    content = by_name.get("content.xml")
    manifest = by_name.get("meta-inf/manifest.xml")
    if content is None:
        _refuse(_MSG_DAMAGED)
    if manifest is not None:
        data = _read_member(f, manifest, _STRUCTURE_CAP, _MSG_DAMAGED)
        check_xml_safe(data, manifest.filename)
        # An encrypted document keeps its parts as ciphertext and says so in the manifest.
        if b"encryption-data" in data:
            _refuse(_MSG_ODS_ENCRYPTED)
    walker = _OdsWalker(limits)
    for info in sorted(infos, key=lambda i: i.header_offset):
        key = info.filename.lower()
        if info.is_dir() or info is manifest:
            continue
        scanner = _XmlScanner(info.filename) if key.endswith(".xml") or key.endswith(".rdf") else None
        for chunk in _iter_member(f, info):
            if scanner is not None:
                # Entity scan first: the walker's parser only ever gets bytes the scanner has
                # passed (a declaration split across chunks is completed, and refused, by the
                # scanner before expat could act on it).
                scanner.feed(chunk)
                if info is content:
                    walker.feed(chunk)
        if scanner is not None:
            scanner.close()
    walker.close()
    has_macros = any(k.startswith(("basic/", "scripts/")) for k in by_name)
    return SafeInfo(
        path=p, size=size, has_macros=has_macros,
        sheets=tuple((name, "content.xml") for name in walker.sheets),
        uncompressed_total=total, members=len(infos), max_rows=tuple(walker.max_rows),
        error_cells=tuple(walker.error_cells), format="ods",
    )


class _OdsWalker:
    """Walks ``content.xml`` as it is inflated: tables, repeated rows and cells, error cells.

    Memory stays bounded: each element is cleared once its end is seen, and the root's children
    (the tables' finished rows) are dropped as they complete.
    """

    def __init__(self, limits: Limits) -> None:
        from xml.etree.ElementTree import XMLPullParser

        self.limits = limits
        self.parser: Any = XMLPullParser(events=("start", "end"))  # events are (str, Element) here
        self.sheets: list[str] = []
        self.max_rows: list[tuple[str, int]] = []
        self.error_cells: list[tuple[str, str, str]] = []
        self.cells = 0  # cells a reader holds, repeats counted
        self._sheet: str | None = None
        self._row = 0  # rows of the current table before the current row element
        self._row_repeat = 1
        self._col = 0
        self._last_content_row = 0
        self._row_last_col = 0  # last column holding content in the current row
        self._depth_in_cell = 0

    def feed(self, data: bytes) -> None:
        """Parse the next piece of content.xml."""
        try:
            self.parser.feed(data)
        except Exception:  # noqa: BLE001 - a ParseError (or worse) on broken XML
            _refuse(_MSG_DAMAGED)
        self._events()

    def close(self) -> None:
        """The end of content.xml."""
        try:
            self.parser.close()
        except Exception:  # noqa: BLE001
            _refuse(_MSG_DAMAGED)
        self._events()
        if not self.sheets:
            _refuse(_MSG_STRUCTURE)

    def _events(self) -> None:
        table, row, cell = f"{{{_NS_TABLE}}}table", f"{{{_NS_TABLE}}}table-row", f"{{{_NS_TABLE}}}table-cell"
        covered = f"{{{_NS_TABLE}}}covered-table-cell"
        for event, el in self.parser.read_events():
            tag = el.tag
            if event == "start":
                if tag == table:
                    self._sheet = el.get(f"{{{_NS_TABLE}}}name", f"Sheet{len(self.sheets) + 1}")
                    self.sheets.append(self._sheet)
                    self._row, self._last_content_row = 0, 0
                elif tag == row:
                    self._row_repeat = _repeat(el.get(f"{{{_NS_TABLE}}}number-rows-repeated"))
                    self._col, self._row_last_col = 0, 0
                continue
            if tag in (cell, covered):
                self._end_cell(el)
            elif tag == row:
                self._end_row()
                el.clear()
            elif tag == table and self._sheet is not None:
                self.max_rows.append((self._sheet, self._last_content_row))
                self._sheet = None
                el.clear()

    def _end_cell(self, el: Any) -> None:
        repeat = _repeat(el.get(f"{{{_NS_TABLE}}}number-columns-repeated"))
        has_content = el.get(f"{{{_NS_OFFICE}}}value-type") is not None or len(el) > 0
        if has_content:
            last = self._col + repeat
            if last > _MAX_COLUMNS:
                _refuse(f"the sheet has content beyond column {_MAX_COLUMNS:,}, which no spreadsheet "
                        "program writes; it may be damaged or malicious - ask for the original workbook",
                        sheet=self._sheet)
            self._row_last_col = last
            if el.get(f"{{{_NS_CALCEXT}}}value-type") == "error" and len(self.error_cells) < MAX_ERROR_CELLS:
                text = "".join(el.itertext()).strip()
                if text and self._sheet is not None:
                    ref = f"{col_letter(self._col)}{self._row + 1}"
                    self.error_cells.append((self._sheet, ref, _printable(text, 32)))
        self._col += repeat
        el.clear()

    def _end_row(self) -> None:
        if self._row_last_col:
            last_row = self._row + self._row_repeat
            if last_row > self.limits.max_rows:
                _refuse(
                    f"the sheet reaches row {last_row:,}, far beyond any learner workbook (limit "
                    f"{self.limits.max_rows:,} rows); it may be damaged or malicious - ask for the "
                    "original workbook, or delete the unused rows below the table and save it again",
                    sheet=self._sheet,
                )
            self._last_content_row = last_row
            self.cells += self._row_last_col * self._row_repeat
            if self.cells > _MAX_GRID_CELLS:
                _refuse(_MSG_GRID_BOMB.format(cells=self.cells), sheet=self._sheet)
        self._row += self._row_repeat


def _repeat(text: str | None) -> int:
    """A ``number-*-repeated`` attribute (1 when absent or not a sane number)."""
    if text is None:
        return 1
    try:
        n = int(text)
    except ValueError:
        _refuse(_MSG_DAMAGED)
    if n < 1:
        _refuse(_MSG_DAMAGED)
    return n


# -- .xls: BIFF8 records in an OLE2 compound file -----------------------------------------------

_BIFF_BOF: Final = 0x0809
_BIFF_EOF: Final = 0x000A
_BIFF_FILEPASS: Final = 0x002F
_BIFF_BOUNDSHEET: Final = 0x0085
_BIFF_FORMULA: Final = 0x0006
_BIFF_BOOLERR: Final = 0x0205
#: records whose data starts with the cell's row and column (u16 each) [MS-XLS 2.4]
_BIFF_CELL_RECORDS: Final = frozenset({0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x00BD, 0x00BE, 0x0208})
#: BErr values [MS-XLS 2.5.10]
_BIFF_ERRORS: Final = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?",
                       0x24: "#NUM!", 0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
_BIFF_RECORD: Final = struct.Struct("<HH")


def check_xls_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> SafeInfo:
    """Decide whether the OLE2 file at ``path`` is an Excel 97-2003 workbook calamine may read.

    The container is listed with olefile (a password-protected .xlsx, a Word file or an Excel
    5.0/95 book are refused, each with its own message); the ``Workbook`` stream (at most the
    file's size) is then walked record by record: a FILEPASS record (a password) is refused, the
    BOUNDSHEET records give the sheets, and each sheet's cell records give its last row (against
    ``limits.max_rows``) and its formula-error cells (calamine reads them as empty strings).
    """
    p = Path(path)
    try:
        size = _basic_stat(p, limits)
        return _check_xls(p, size, limits)
    except _Refuse as r:
        raise UnreadableWorkbook(p, r.reason, sheet=_printable(r.sheet) if r.sheet else None) from None


def _check_xls(p: Path, size: int, limits: Limits) -> SafeInfo:
    import olefile

    try:
        ole = olefile.OleFileIO(str(p))
    except Exception:  # noqa: BLE001 - a third-party parser on hostile bytes
        _refuse(_MSG_DAMAGED)
    try:
        names = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)}
        if "encryptedpackage" in names:
            _refuse(_MSG_ENCRYPTED)
        if "workbook" not in names:
            if "book" in names:
                _refuse(_MSG_XLS_OLD)
            _refuse(_MSG_OLE_OTHER)
        try:
            if ole.get_size("Workbook") > size:
                _refuse(_MSG_DAMAGED)
            stream = ole.openstream("Workbook").read()
        except _Refuse:
            raise
        except Exception:  # noqa: BLE001
            _refuse(_MSG_DAMAGED)
        has_macros = any(n.startswith("_vba_project_cur") for n in names)
    finally:
        ole.close()
    sheets, macro_sheets = _biff_globals(stream)
    max_rows: list[tuple[str, int]] = []
    errors: list[tuple[str, str, str]] = []
    for name, offset in sheets:
        max_rows.append((name, _biff_sheet(stream, offset, name, limits, errors)))
    return SafeInfo(
        path=p, size=size, has_macros=has_macros or macro_sheets,
        sheets=tuple((name, "Workbook") for name, _ in sheets), uncompressed_total=len(stream),
        members=1, max_rows=tuple(max_rows), error_cells=tuple(errors), format="xls",
    )


def _biff_records(stream: bytes, pos: int) -> Iterator[tuple[int, int, int]]:
    """(record type, data start, data length) from ``pos`` to the end of the substream."""
    end = len(stream)
    while pos + _BIFF_RECORD.size <= end:
        rtype, length = _BIFF_RECORD.unpack_from(stream, pos)
        start = pos + _BIFF_RECORD.size
        if start + length > end:
            _refuse(_MSG_DAMAGED)
        yield rtype, start, length
        if rtype == _BIFF_EOF:
            return
        pos = start + length
    _refuse(_MSG_DAMAGED)  # no EOF record: the stream was cut short


def _biff_globals(stream: bytes) -> tuple[list[tuple[str, int]], bool]:
    """The sheets (name, offset of their BOF) and whether there is an Excel 4.0 macro sheet."""
    records = _biff_records(stream, 0)
    first = next(records, None)
    if first is None or first[0] != _BIFF_BOF or first[2] < 4:
        _refuse(_MSG_DAMAGED)
    version = struct.unpack_from("<H", stream, first[1])[0]
    if version != 0x0600:  # BIFF8; Excel 5.0/95 wrote BIFF5 (0x0500)
        _refuse(_MSG_XLS_OLD)
    sheets: list[tuple[str, int]] = []
    macro = False
    for rtype, start, length in records:
        if rtype == _BIFF_FILEPASS:
            _refuse(_MSG_XLS_ENCRYPTED)
        if rtype != _BIFF_BOUNDSHEET:
            continue
        if length < 8:
            _refuse(_MSG_STRUCTURE)
        offset, _state, kind, cch, high = struct.unpack_from("<IBBBB", stream, start)
        raw = stream[start + 8 : start + length]
        name = raw[: cch * 2].decode("utf-16-le", "replace") if high & 1 else raw[:cch].decode("latin-1")
        if kind == 1:
            macro = True
        if kind == 0 and offset < len(stream):  # worksheets; charts and VBA modules hold no cells
            sheets.append((name, offset))
    if not sheets:
        _refuse(_MSG_STRUCTURE)
    return sheets, macro


def _biff_sheet(stream: bytes, offset: int, name: str, limits: Limits, errors: list[tuple[str, str, str]]) -> int:
    """Walk one sheet's records: its last row (refused past the limit); error cells appended."""
    last = 0
    records = _biff_records(stream, offset)
    first = next(records, None)
    if first is None or first[0] != _BIFF_BOF:
        _refuse(_MSG_STRUCTURE, sheet=name)
    for rtype, start, length in records:
        if rtype not in _BIFF_CELL_RECORDS or length < 4:
            continue
        row, col = struct.unpack_from("<HH", stream, start)
        if row + 1 > last:
            last = row + 1
            if last > limits.max_rows:
                _refuse(
                    f"the sheet reaches row {last:,}, far beyond any learner workbook (limit "
                    f"{limits.max_rows:,} rows); it may be damaged or malicious - ask for the "
                    "original workbook, or delete the unused rows below the table and save it again",
                    sheet=name,
                )
        code: int | None = None
        if rtype == _BIFF_BOOLERR and length >= 8 and stream[start + 7] == 1:
            code = stream[start + 6]
        elif rtype == _BIFF_FORMULA and length >= 14 and stream[start + 12 : start + 14] == b"\xff\xff" \
                and stream[start + 6] == 2:
            code = stream[start + 8]  # FormulaValue of an error result: 02 00 BErr 00 00 00 FF FF
        if code is not None and len(errors) < MAX_ERROR_CELLS:
            errors.append((name, f"{col_letter(col)}{row + 1}", _BIFF_ERRORS.get(code, "#ERROR")))
    return last
