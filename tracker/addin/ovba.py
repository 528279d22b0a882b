"""A small writer of source-only VBA projects ([MS-OVBA]) for the Excel add-in.

``build_vba_project`` returns the bytes of a ``vbaProject.bin``: a compound file (OLE/CFB, written
here because olefile only reads, and writes streams of an existing file in place) holding

* ``VBA/_VBA_PROJECT`` -- the 7-byte header of [MS-OVBA] 3.1.1 (version 0xFFFF, no performance
  cache), which tells Office that there is no compiled code: it compiles the modules from source
  when the project is opened;
* ``VBA/dir`` -- the compressed project information, references and module records (2.3.4.2);
* one stream per module, whose source is compressed at offset 0 (no p-code before it);
* ``PROJECT`` (2.3.1) and ``PROJECTwm`` (2.3.3).

``compress`` and ``decompress`` implement the compression of 2.4.1 (4096-byte chunks, flag
bytes, copy tokens whose offset/length split depends on the position in the chunk, raw chunks
when compression does not fit); ``compress`` reproduces the spec's examples (3.2) and streams
written by Excel byte for byte. ``encrypt``/``decrypt`` implement the data encryption of 2.4.3
used by the CMG, DPB and GC lines of the PROJECT stream.
"""

from __future__ import annotations

import enum
import re
import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

CHUNK_SIZE = 4096
# A compressed chunk is at most 4098 bytes including its 2-byte header (2.4.1.1.4).
_MAX_COMPRESSED_CHUNK = 4098
CODE_PAGE = 1252
_ENCODING = "cp1252"
LCID_EN_US = 0x0409

# GUIDs of the document bases and of the class-module base (VB_Base attributes).
WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"
CLASS_BASE = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"

# Type libraries every Excel project references: OLE Automation and the Office library (which
# declares IRibbonControl). Office resolves them by GUID and major version; the path is a hint.
STDOLE_LIBID = (
    "*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#C:\\Windows\\System32\\stdole2.tlb"
    "#OLE Automation"
)
OFFICE_LIBID = (
    "*\\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#C:\\Program Files\\Common Files"
    "\\Microsoft Shared\\OFFICE16\\MSO.DLL#Microsoft Office 16.0 Object Library"
)
DEFAULT_REFERENCES: tuple[tuple[str, str], ...] = (("stdole", STDOLE_LIBID),
                                                   ("Office", OFFICE_LIBID))


class OvbaError(ValueError):
    """Malformed compressed data, or a module that cannot be stored."""


# --------------------------------------------------------------------------------------------
# 2.4.1 Compression and decompression
# --------------------------------------------------------------------------------------------

def _copy_token_help(difference: int) -> tuple[int, int, int]:
    """CopyToken Help (2.4.1.3.19.1) for ``difference`` = position in the decompressed chunk.

    Returns (bit_count, length_mask, maximum_length).
    """
    bit_count = max((difference - 1).bit_length(), 4)  # ceil(log2(difference)), at least 4
    length_mask = 0xFFFF >> bit_count
    return bit_count, length_mask, length_mask + 3


def decompress(data: bytes) -> bytes:
    """Decompress a CompressedContainer (2.4.1.3.1)."""
    if not data or data[0] != 0x01:
        raise OvbaError("not a compressed container: the signature byte is not 0x01")
    out = bytearray()
    pos = 1
    end = len(data)
    while pos < end:
        if pos + 2 > end:
            raise OvbaError(f"truncated chunk header at byte {pos}")
        (header,) = struct.unpack_from("<H", data, pos)
        size = (header & 0x0FFF) + 3
        if (header >> 12) & 0x7 != 0b011:
            raise OvbaError(f"bad chunk signature at byte {pos}")
        chunk_end = min(pos + size, end)
        pos += 2
        chunk_start = len(out)
        if header & 0x8000 == 0:  # raw chunk: 4096 bytes as they are
            if pos + CHUNK_SIZE > end:
                raise OvbaError(f"truncated raw chunk at byte {pos}")
            out += data[pos:pos + CHUNK_SIZE]
            pos += CHUNK_SIZE
            continue
        while pos < chunk_end:
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= chunk_end:
                    break
                if not flags >> bit & 1:
                    out.append(data[pos])
                    pos += 1
                    continue
                if pos + 2 > chunk_end:
                    raise OvbaError(f"truncated copy token at byte {pos}")
                (token,) = struct.unpack_from("<H", data, pos)
                pos += 2
                bit_count, length_mask, _ = _copy_token_help(len(out) - chunk_start)
                length = (token & length_mask) + 3
                offset = (token >> (16 - bit_count)) + 1
                src = len(out) - offset
                if src < chunk_start:
                    raise OvbaError(f"copy token points before its chunk at byte {pos - 2}")
                if offset >= length:
                    out += out[src:src + length]
                else:  # overlapping copy: byte by byte
                    for i in range(length):
                        out.append(out[src + i])
    return bytes(out)


def _match_length(buf: bytes, candidate: int, current: int, limit: int) -> int:
    """Length of the common run of ``buf[candidate:]`` and ``buf[current:]``, at most ``limit``.

    The runs may overlap (candidate + n > current), as in the spec's byte-by-byte comparison;
    slices of ``buf`` compare the same bytes, so the answer is identical.
    """
    # Grow a window exponentially, then bisect: O(log n) slice comparisons done in C.
    lo, step = 0, 8
    while lo < limit:
        hi = min(lo + step, limit)
        if buf[candidate + lo:candidate + hi] == buf[current + lo:current + hi]:
            lo = hi
            step *= 2
            continue
        while hi - lo > 1:  # invariant: prefix of length lo matches, of length hi does not
            mid = (lo + hi) // 2
            if buf[candidate + lo:candidate + mid] == buf[current + lo:current + mid]:
                lo = mid
            else:
                hi = mid
        return lo
    return lo


def _compress_chunk(buf: bytes, start: int, end: int, every_position: bool) -> bytes:
    """Compressing a DecompressedChunk (2.4.1.3.7) of ``buf[start:end]``, header included."""
    out = bytearray(b"\0\0")
    compressed_end = _MAX_COMPRESSED_CHUNK
    current = start
    # Earlier positions in this chunk by their first 3 bytes: a match must share them.
    heads: dict[bytes, list[int]] = {}
    indexed = start

    def index(position: int) -> None:
        if position + 3 <= end:
            heads.setdefault(buf[position:position + 3], []).append(position)

    while current < end and len(out) < compressed_end:
        # Compressing a TokenSequence (2.4.1.3.8)
        flag_index = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if not (current < end and len(out) < compressed_end):
                break
            if every_position:
                while indexed < current:
                    index(indexed)
                    indexed += 1
            # Matching (2.4.1.3.19.4): the longest match, the nearest of equal ones.
            best_length = 0
            best_candidate = 0
            limit = end - current
            if limit >= 3:
                for candidate in reversed(heads.get(buf[current:current + 3], ())):
                    length = _match_length(buf, candidate, current, limit)
                    if length > best_length:
                        best_length, best_candidate = length, candidate
                        if length == limit:
                            break
            token_start = current
            if best_length >= 3:
                bit_count, _, maximum_length = _copy_token_help(current - start)
                length = min(best_length, maximum_length)
                offset = current - best_candidate
                if len(out) + 1 < compressed_end:
                    token = ((offset - 1) << (16 - bit_count)) | (length - 3)
                    out += struct.pack("<H", token)
                    flags |= 1 << bit
                    current += length
                else:
                    out += b"\0" * (compressed_end - len(out))
            else:
                out.append(buf[current])  # literal; room was checked by the loop condition
                current += 1
            if not every_position:
                index(token_start)
        out[flag_index] = flags
    if current < end:
        # Compressing a RawChunk (2.4.1.3.10): the chunk's bytes, padded with 0x00 to 4096.
        raw = buf[start:end]
        header = 0x3000 | (CHUNK_SIZE + 2 - 3)
        return struct.pack("<H", header) + raw + b"\0" * (CHUNK_SIZE - len(raw))
    header = 0xB000 | (len(out) - 3)
    struct.pack_into("<H", out, 0, header)
    return bytes(out)


def compress(data: bytes, *, every_position: bool = False) -> bytes:
    """Compress ``data`` into a CompressedContainer (2.4.1.3.6).

    Matches are searched among the earlier positions of the chunk at which a token started,
    and the longest, nearest one is taken: this reproduces byte for byte the example of
    [MS-OVBA] 3.2.2 (what Office writes). The pseudocode of 2.4.1.3.19.4 searches every earlier
    position instead (``every_position=True``): a different, equally valid encoding, which for
    that example points some copy tokens at nearer bytes. Both decompress to the same data.

    As the spec prescribes, a chunk whose encoding would exceed 4098 bytes is stored raw; a raw
    chunk always holds 4096 bytes, so when that happens to the final, shorter chunk (only for
    data with few repeats, never for source text) it is padded with zero bytes.
    """
    buf = bytes(data)
    out = bytearray(b"\x01")
    for start in range(0, len(buf), CHUNK_SIZE):
        out += _compress_chunk(buf, start, min(start + CHUNK_SIZE, len(buf)), every_position)
    return bytes(out)


def chunk_kinds(container: bytes) -> list[str]:
    """The kinds of the chunks of a container, in order: "compressed" or "raw" (for checks)."""
    kinds: list[str] = []
    pos = 1
    while pos < len(container):
        (header,) = struct.unpack_from("<H", container, pos)
        kinds.append("compressed" if header & 0x8000 else "raw")
        pos += (header & 0x0FFF) + 3
    return kinds


def dir_records(data: bytes) -> list[tuple[int, bytes]]:
    """The records of a decompressed ``dir`` stream as (id, payload), for reading and checks.

    Every record is an id, a 4-byte size and that many bytes, except PROJECTVERSION (0x0009),
    whose size field is a constant 4 followed by 6 bytes. The MBCS/Unicode pairs appear as two
    records (the Unicode half has its own id: 0x0040, 0x003D, 0x003C, 0x003E, 0x0032, 0x0048).
    """
    records: list[tuple[int, bytes]] = []
    pos = 0
    while pos + 6 <= len(data):
        rid, size = struct.unpack_from("<HI", data, pos)
        pos += 6
        if rid == 0x0009:
            size = 6
        if pos + size > len(data):
            raise OvbaError(f"dir record 0x{rid:04X} runs past the end of the stream")
        records.append((rid, bytes(data[pos:pos + size])))
        pos += size
        if rid == 0x0010:
            break
    return records


# --------------------------------------------------------------------------------------------
# 2.4.3 Data encryption (the CMG, DPB and GC values of the PROJECT stream)
# --------------------------------------------------------------------------------------------

def project_key(project_id: str) -> int:
    """The ProjKey of 2.4.3.2: the sum of the bytes of the project's ID string, modulo 256."""
    return sum(project_id.encode(_ENCODING)) & 0xFF


def encrypt(data: bytes, project_id: str, seed: int = 0x5D) -> str:
    """Data Encryption (2.4.3.2), returned as the hex text written to the PROJECT stream."""
    version = 2
    key = project_key(project_id)
    version_enc, key_enc = seed ^ version, seed ^ key
    out = bytearray([seed, version_enc, key_enc])
    unencrypted_1, encrypted_1, encrypted_2 = key, key_enc, version_enc
    ignored_length = (seed & 6) // 2
    plain = bytes([7] * ignored_length) + struct.pack("<I", len(data)) + bytes(data)
    for byte in plain:
        byte_enc = byte ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        out.append(byte_enc)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte_enc, byte
    return out.hex().upper()


def decrypt(text: str) -> bytes:
    """Data Decryption (2.4.3.3) of a hex value of the PROJECT stream: the plain data."""
    raw = bytes.fromhex(text)
    if len(raw) < 7:
        raise OvbaError("encrypted value too short")
    seed, version_enc, key_enc = raw[0], raw[1], raw[2]
    if seed ^ version_enc != 2:
        raise OvbaError("encrypted value has an unknown version")
    key = seed ^ key_enc
    unencrypted_1, encrypted_1, encrypted_2 = key, key_enc, version_enc
    ignored_length = (seed & 6) // 2
    plain = bytearray()
    for byte_enc in raw[3:]:
        byte = byte_enc ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        plain.append(byte)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte_enc, byte
    (length,) = struct.unpack_from("<I", plain, ignored_length)
    data = bytes(plain[ignored_length + 4:])
    if len(data) != length:
        raise OvbaError("encrypted value has the wrong length")
    return data


# --------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------

class ModuleKind(enum.Enum):
    """Standard (procedural) module, class module, or document module (ThisWorkbook, sheets)."""

    STANDARD = "standard"
    CLASS = "class"
    DOCUMENT = "document"


_ATTRIBUTE_LINE = re.compile(r"^Attribute\s+VB_\w+\s*=", re.IGNORECASE)
_NAME_LINE = re.compile(r'^Attribute\s+VB_Name\s*=\s*"([^"]+)"\s*$', re.IGNORECASE)
_VBA_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")


def _lines(text: str) -> list[str]:
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


@dataclass(frozen=True)
class Module:
    """One VBA module as stored in its stream.

    ``header`` holds the module-level ``Attribute VB_...`` lines, starting with VB_Name, exactly
    as Office stores them at the top of the module's source; ``code`` is the rest, as written.
    """

    name: str
    code: str
    kind: ModuleKind = ModuleKind.STANDARD
    header: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not _VBA_IDENTIFIER.match(self.name):
            raise OvbaError(f"{self.name!r} is not a valid VBA module name")
        if not self.header:
            object.__setattr__(self, "header", (f'Attribute VB_Name = "{self.name}"',))

    @classmethod
    def from_bas(cls, text: str) -> Module:
        """A standard module from the text of an exported ``.bas`` file."""
        lines = _lines(text)
        if not lines or not _NAME_LINE.match(lines[0].strip()):
            raise OvbaError('a .bas file must start with Attribute VB_Name = "..."')
        header, body = _split_header(lines)
        name = _module_name(header)
        return cls(name=name, code="\n".join(body), kind=ModuleKind.STANDARD, header=header)

    @classmethod
    def from_cls(cls, text: str) -> Module:
        """A class module from the text of an exported ``.cls`` file.

        The ``VERSION 1.0 CLASS`` / ``BEGIN`` ... ``END`` block of the export is dropped, and the
        attributes the export omits are added where Office puts them in the stream (VB_Base after
        VB_Name, VB_TemplateDerived and VB_Customizable after VB_Exposed).
        """
        lines = _lines(text)
        if lines and lines[0].strip().upper().startswith("VERSION"):
            try:
                end = next(i for i, line in enumerate(lines) if line.strip().upper() == "END")
            except StopIteration:
                raise OvbaError("a .cls file has VERSION ... BEGIN without END") from None
            lines = lines[end + 1:]
        header_list, body = _split_header(lines)
        name = _module_name(header_list)
        keys = [_attribute_key(line) for line in header_list]
        out: list[str] = []
        for line, key in zip(header_list, keys):
            out.append(line)
            if key == "VB_NAME" and "VB_BASE" not in keys:
                out.append(f'Attribute VB_Base = "{CLASS_BASE}"')
            if key == "VB_EXPOSED":
                if "VB_TEMPLATEDERIVED" not in keys:
                    out.append("Attribute VB_TemplateDerived = False")
                if "VB_CUSTOMIZABLE" not in keys:
                    out.append("Attribute VB_Customizable = False")
        return cls(name=name, code="\n".join(body), kind=ModuleKind.CLASS, header=tuple(out))

    @classmethod
    def document(cls, name: str, base: str = WORKSHEET_BASE, code: str = "") -> Module:
        """A document module (``ThisWorkbook`` with WORKBOOK_BASE, a sheet with WORKSHEET_BASE)."""
        header = (
            f'Attribute VB_Name = "{name}"',
            f'Attribute VB_Base = "{base}"',
            "Attribute VB_GlobalNameSpace = False",
            "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = True",
            "Attribute VB_Exposed = True",
            "Attribute VB_TemplateDerived = False",
            "Attribute VB_Customizable = True",
        )
        return cls(name=name, code=code, kind=ModuleKind.DOCUMENT, header=header)

    def source(self) -> bytes:
        """The module's source as stored: header and code, CRLF line ends, code page 1252."""
        lines = list(self.header) + _lines(self.code)
        while lines and lines[-1] == "":
            lines.pop()
        text = "\r\n".join(lines) + "\r\n"
        try:
            return text.encode(_ENCODING)
        except UnicodeEncodeError as e:
            raise OvbaError(
                f"module {self.name}: character {text[e.start]!r} is not in code page 1252"
            ) from None


def _attribute_key(line: str) -> str:
    return line.split("=", 1)[0].split()[-1].upper()


def _split_header(lines: list[str]) -> tuple[tuple[str, ...], list[str]]:
    header: list[str] = []
    i = 0
    while i < len(lines) and _ATTRIBUTE_LINE.match(lines[i].strip()):
        header.append(lines[i].strip())
        i += 1
    return tuple(header), lines[i:]


def _module_name(header: Sequence[str]) -> str:
    for line in header:
        m = _NAME_LINE.match(line)
        if m:
            return m.group(1)
    raise OvbaError('module has no Attribute VB_Name = "..." line')


# --------------------------------------------------------------------------------------------
# dir, PROJECT and PROJECTwm streams
# --------------------------------------------------------------------------------------------

def _mbcs(text: str) -> bytes:
    try:
        return text.encode(_ENCODING)
    except UnicodeEncodeError:
        raise OvbaError(f"{text!r} is not in code page 1252") from None


def _record(rid: int, data: bytes) -> bytes:
    return struct.pack("<HI", rid, len(data)) + data


def _string_pair(rid: int, text: str, unicode_rid: int) -> bytes:
    """A record with an MBCS string followed by its UTF-16 twin (NAME/DOCSTRING style)."""
    return _record(rid, _mbcs(text)) + _record(unicode_rid, text.encode("utf-16-le"))


def dir_stream(project_name: str, modules: Sequence[Module],
               references: Iterable[tuple[str, str]] = DEFAULT_REFERENCES) -> bytes:
    """The decompressed ``dir`` stream (2.3.4.2)."""
    out = bytearray()
    # PROJECTINFORMATION (2.3.4.2.1)
    out += _record(0x0001, struct.pack("<I", 1))  # SYSKIND: 32-bit Windows
    out += _record(0x0002, struct.pack("<I", LCID_EN_US))  # LCID
    out += _record(0x0014, struct.pack("<I", LCID_EN_US))  # LCIDINVOKE
    out += _record(0x0003, struct.pack("<H", CODE_PAGE))  # CODEPAGE
    out += _record(0x0004, _mbcs(project_name))  # NAME
    out += _string_pair(0x0005, "", 0x0040)  # DOCSTRING
    out += _string_pair(0x0006, "", 0x003D)  # HELPFILEPATH (both paths empty)
    out += _record(0x0007, struct.pack("<I", 0))  # HELPCONTEXT
    out += _record(0x0008, struct.pack("<I", 0))  # LIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)  # VERSION: Reserved 4, major 1, minor 0
    out += _string_pair(0x000C, "", 0x003C)  # CONSTANTS
    # PROJECTREFERENCES (2.3.4.2.2): REFERENCENAME + REFERENCEREGISTERED each
    for name, libid in references:
        out += _string_pair(0x0016, name, 0x003E)
        lib = _mbcs(libid)
        body = struct.pack("<I", len(lib)) + lib + struct.pack("<IH", 0, 0)
        out += _record(0x000D, body)
    # PROJECTMODULES (2.3.4.2.3)
    out += _record(0x000F, struct.pack("<H", len(modules)))
    out += _record(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE
    for module in modules:
        out += _record(0x0019, _mbcs(module.name))  # MODULENAME
        out += _record(0x0047, module.name.encode("utf-16-le"))  # MODULENAMEUNICODE
        out += _string_pair(0x001A, module.name, 0x0032)  # MODULESTREAMNAME
        out += _string_pair(0x001C, "", 0x0048)  # MODULEDOCSTRING
        out += _record(0x0031, struct.pack("<I", 0))  # MODULEOFFSET: source at 0, no p-code
        out += _record(0x001E, struct.pack("<I", 0))  # MODULEHELPCONTEXT
        out += _record(0x002C, struct.pack("<H", 0xFFFF))  # MODULECOOKIE
        procedural = module.kind is ModuleKind.STANDARD
        out += _record(0x0021 if procedural else 0x0022, b"")  # MODULETYPE
        out += _record(0x002B, b"")  # Terminator
    out += _record(0x0010, b"")  # end of dir stream
    return bytes(out)


def project_stream(project_name: str, modules: Sequence[Module], project_id: str) -> bytes:
    """The PROJECT stream (2.3.1): module list, name, unprotected state, host extender."""
    lines = [f'ID="{project_id}"']
    for module in modules:
        if module.kind is ModuleKind.DOCUMENT:
            lines.append(f"Document={module.name}/&H00000000")
        elif module.kind is ModuleKind.CLASS:
            lines.append(f"Class={module.name}")
        else:
            lines.append(f"Module={module.name}")
    lines += [
        f'Name="{project_name}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{encrypt(bytes(4), project_id)}"',  # ProjectProtectionState: none
        f'DPB="{encrypt(bytes(1), project_id)}"',  # ProjectPassword: none
        f'GC="{encrypt(bytes([0xFF]), project_id)}"',  # ProjectVisibilityState: visible
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
        "[Workspace]",
    ]
    lines += [f"{module.name}=0, 0, 0, 0, C" for module in modules]
    return _mbcs("\r\n".join(lines) + "\r\n\r\n")


def projectwm_stream(modules: Sequence[Module]) -> bytes:
    """The PROJECTwm stream (2.3.3): each module name in MBCS and UTF-16, then a terminator."""
    out = bytearray()
    for module in modules:
        out += _mbcs(module.name) + b"\0" + module.name.encode("utf-16-le") + b"\0\0"
    return bytes(out + b"\0\0")


# The _VBA_PROJECT stream of [MS-OVBA] 3.1.1: Reserved1 0x61CC, Version 0xFFFF, Reserved2 0x00,
# Reserved3 0x0001, and no PerformanceCache ("MUST NOT be present on write").
VBA_PROJECT_STREAM = struct.pack("<HHBH", 0x61CC, 0xFFFF, 0x00, 0x0001)


def build_vba_project(modules: list[Module], project_name: str = "Tracker",
                      project_id: str | None = None) -> bytes:
    """The bytes of a source-only ``vbaProject.bin`` holding ``modules``.

    ``project_id`` defaults to a GUID derived from the project name, so that builds are
    reproducible.
    """
    if not _VBA_IDENTIFIER.match(project_name):
        raise OvbaError(f"{project_name!r} is not a valid VBA project name")
    names = [m.name.upper() for m in modules]
    if len(set(names)) != len(names):
        raise OvbaError("two modules have the same name")
    if project_name.upper() in names:
        raise OvbaError("a module cannot have the project's name")
    if project_id is None:
        guid = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:tracker:vba-project:{project_name}")
        project_id = "{" + str(guid).upper() + "}"
    streams: dict[str, bytes] = {
        "VBA/_VBA_PROJECT": VBA_PROJECT_STREAM,
        "VBA/dir": compress(dir_stream(project_name, modules)),
    }
    for module in modules:
        streams[f"VBA/{module.name}"] = compress(module.source())
    streams["PROJECT"] = project_stream(project_name, modules, project_id)
    streams["PROJECTwm"] = projectwm_stream(modules)
    return write_compound_file(streams)


# --------------------------------------------------------------------------------------------
# A minimal compound file (CFB, [MS-CFB]) writer: version 3, 512-byte sectors, a mini stream
# for streams under 4096 bytes, no DIFAT sectors (files up to ~7 MB).
# --------------------------------------------------------------------------------------------

_SECTOR = 512
_MINI_SECTOR = 64
_MINI_CUTOFF = 4096
_FREESECT = 0xFFFFFFFF
_ENDOFCHAIN = 0xFFFFFFFE
_FATSECT = 0xFFFFFFFD
_NOSTREAM = 0xFFFFFFFF


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list[_Entry] = field(default_factory=list)
    start: int = _ENDOFCHAIN
    left: int = _NOSTREAM
    right: int = _NOSTREAM
    child: int = _NOSTREAM
    red: bool = False
    sid: int = 0


def _cfb_key(name: str) -> tuple[int, str]:
    # [MS-CFB] 2.6.4: shorter names first, then by upper-cased UTF-16 code units.
    return (len(name), name.upper())


def _pad(data: bytes, size: int) -> bytes:
    return data + b"\0" * (-len(data) % size)


def write_compound_file(streams: dict[str, bytes]) -> bytes:
    """A compound file holding ``streams`` (paths like "VBA/dir"); storages are implied."""
    root = _Entry("Root Entry", 5)
    for path, data in streams.items():
        parts = path.split("/")
        node = root
        for part in parts[:-1]:
            found = next((c for c in node.children if c.name == part and c.kind == 1), None)
            if found is None:
                found = _Entry(part, 1)
                node.children.append(found)
            node = found
        if len(parts[-1]) > 31 or not parts[-1]:
            raise OvbaError(f"bad compound file entry name {parts[-1]!r}")
        node.children.append(_Entry(parts[-1], 2, data=bytes(data)))

    # Directory order: breadth-first from the root, giving each entry its stream id.
    entries: list[_Entry] = [root]
    for entry in entries:
        entry.children.sort(key=lambda e: _cfb_key(e.name))
        for child in entry.children:
            child.sid = len(entries)
            entries.append(child)
    for entry in entries:
        entry.child = _build_tree(entry.children)

    # Sector layout: big streams, mini stream, mini FAT, directory, FAT.
    fat: list[int] = []

    def allocate(data: bytes) -> int:
        count = (len(data) + _SECTOR - 1) // _SECTOR
        if count == 0:
            return _ENDOFCHAIN
        first = len(fat)
        fat.extend(range(first + 1, first + count))
        fat.append(_ENDOFCHAIN)
        return first

    body = bytearray()
    mini = bytearray()
    minifat: list[int] = []
    for entry in entries:
        if entry.kind != 2:
            continue
        if len(entry.data) >= _MINI_CUTOFF:
            entry.start = allocate(entry.data)
            body += _pad(entry.data, _SECTOR)
        elif entry.data:
            first = len(mini) // _MINI_SECTOR
            count = (len(entry.data) + _MINI_SECTOR - 1) // _MINI_SECTOR
            minifat.extend(range(first + 1, first + count))
            minifat.append(_ENDOFCHAIN)
            entry.start = first
            mini += _pad(entry.data, _MINI_SECTOR)
    root.data = bytes(mini)
    root.start = allocate(root.data) if mini else _ENDOFCHAIN
    body += _pad(bytes(mini), _SECTOR)

    minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat)
    minifat_bytes += struct.pack("<I", _FREESECT) * (-len(minifat) % (_SECTOR // 4))
    first_minifat = allocate(minifat_bytes) if minifat else _ENDOFCHAIN
    body += minifat_bytes if minifat else b""

    directory = b"".join(_dir_entry(e) for e in entries)
    directory += _empty_dir_entry() * (-len(entries) % (_SECTOR // 128))
    first_dir = allocate(directory)
    body += directory

    # FAT sectors describe themselves too: find the count that covers everything.
    per_sector = _SECTOR // 4
    fat_count = 1
    while (len(fat) + fat_count + per_sector - 1) // per_sector > fat_count:
        fat_count += 1
    if fat_count > 109:
        raise OvbaError("compound file too large for this writer (needs DIFAT sectors)")
    fat_start = len(fat)
    fat.extend([_FATSECT] * fat_count)
    fat.extend([_FREESECT] * (fat_count * per_sector - len(fat)))
    body += struct.pack(f"<{len(fat)}I", *fat)

    difat = list(range(fat_start, fat_start + fat_count))
    difat += [_FREESECT] * (109 - len(difat))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        bytes.fromhex("D0CF11E0A1B11AE1"),
        bytes(16),
        0x003E,  # minor version
        0x0003,  # major version 3
        0xFFFE,  # little-endian
        9,  # sector shift: 512
        6,  # mini sector shift: 64
        bytes(6),
        0,  # directory sectors (0 in version 3)
        fat_count,
        first_dir,
        0,  # transaction signature
        _MINI_CUTOFF,
        first_minifat,
        len(minifat_bytes) // _SECTOR if minifat else 0,
        _ENDOFCHAIN,  # first DIFAT sector
        0,  # DIFAT sectors
    ) + struct.pack("<109I", *difat)
    assert len(header) == _SECTOR
    return header + bytes(body)


def _build_tree(children: list[_Entry]) -> int:
    """Arrange sorted siblings as a balanced binary tree, coloured as a valid red-black tree.

    Splitting at the median fills every level but the last, so colouring the deepest level red
    (when it is not the root) keeps the black height equal on every path.
    """
    depths: dict[int, int] = {}

    def build(lo: int, hi: int, depth: int) -> int:
        if lo >= hi:
            return _NOSTREAM
        mid = (lo + hi) // 2
        node = children[mid]
        depths[mid] = depth
        node.left = build(lo, mid, depth + 1)
        node.right = build(mid + 1, hi, depth + 1)
        return node.sid

    top = build(0, len(children), 0)
    if depths:
        deepest = max(depths.values())
        for index, depth in depths.items():
            children[index].red = depth == deepest and depth > 0
    return top


def _dir_entry(entry: _Entry) -> bytes:
    name = entry.name.encode("utf-16-le") + b"\0\0"
    size = len(entry.data) if entry.kind != 1 else 0
    start = entry.start if size else (0 if entry.kind == 1 else _ENDOFCHAIN)
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        name,
        len(name),
        entry.kind,
        0 if entry.red else 1,  # colour: 0 red, 1 black
        entry.left,
        entry.right,
        entry.child,
        bytes(16),  # CLSID
        0,  # state bits
        0,  # creation time
        0,  # modification time
        start,
        size,
    )


def _empty_dir_entry() -> bytes:
    return struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, _NOSTREAM, _NOSTREAM, _NOSTREAM,
                       bytes(16), 0, 0, 0, 0, 0)
