"""Rows spliced into a written .xlsx as ready-compressed pieces: the incremental master's zip step.

The master's Criteria sheet is about 87% of the master's bytes (39 MB of XML for 1,000 learners)
and compressing it was the largest single cost left once its rows were cached (0.4 s of a
re-roll-up). So each learner's rows are compressed on their own, once, into a :class:`Segment`
(raw deflate ended by a *sync flush*: the output stops on a byte boundary after an empty stored
block, with no final block); the master cache keeps them, and :func:`splice_rows` puts them in
the place of a marker the row writer left in the sheet.

Why that is a valid zip member: a deflate stream is a sequence of blocks and a sync-flushed
stream from a fresh compressor is a complete sequence of non-final blocks that refers to nothing
before it, so pieces can be concatenated (as ``pigz`` does); the member is the compressed head,
the pieces, then the compressed tail, which alone ends with a final block. The member's CRC-32 is
combined from the pieces' CRCs (:func:`crc32_combine`), since the uncompressed rows are not kept.

Every other member of the archive is copied as it is, compressed bytes and all. The archive is
rewritten with its members in their order and a new central directory; a member past the 4 GiB
of a plain zip entry (not expected: the Criteria sheet splits at Excel's row limit first) is
written by :mod:`zipfile` with its Zip64 extension instead.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = b"<!--tracker:rows-->"  # left in the sheet by the row writer; learner text never holds "<"
_ZIP32_LIMIT = 0xFFFFFFFF  # the largest size a zip entry without Zip64 can state
_LOCAL = struct.Struct("<IHHHHHIIIHH")  # local file header, 30 bytes
_LOCAL_SIG = 0x04034B50
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")  # central directory entry, 46 bytes
_CENTRAL_SIG = 0x02014B50
_END = struct.Struct("<IHHHHIIH")  # end of central directory, 22 bytes
_END_SIG = 0x06054B50
_DATA_DESCRIPTOR = 0x08  # general-purpose flag: sizes follow the data (zipfile sets it only unseekable)
_ZEROS = bytes(1 << 16)


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a worksheet's XML, compressed on its own.

    ``data``: raw deflate ending in a sync flush (no final block); ``crc``: CRC-32 of the
    uncompressed text; ``size``: its length in bytes; ``zero_crc``: CRC-32 of ``size`` zero bytes
    (kept so that combining CRCs feeds zeros once, not twice)."""

    data: bytes
    crc: int
    size: int
    zero_crc: int


def _zeros_crc(n: int, crc: int) -> int:
    """CRC-32 continued from ``crc`` over ``n`` zero bytes."""
    while n > 0:
        k = min(n, len(_ZEROS))
        crc = zlib.crc32(_ZEROS[:k] if k < len(_ZEROS) else _ZEROS, crc)
        n -= k
    return crc


def deflate_segment(text: bytes) -> Segment:
    """``text`` compressed as a segment (zip's default level, as the rest of the archive)."""
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    data = c.compress(text) + c.flush(zlib.Z_SYNC_FLUSH)
    return Segment(data, zlib.crc32(text), len(text), _zeros_crc(len(text), 0))


def crc32_combine(crc1: int, crc2: int, len2: int, zero_crc2: int | None = None) -> int:
    """The CRC-32 of A + B from ``crc1`` = crc(A), ``crc2`` = crc(B) and ``len2`` = len(B).

    CRC-32 is affine over GF(2): continuing a CRC over B from a start value s gives
    ``M(s) ^ crc(B)`` with M linear and fixed by len(B), and ``M(s)`` is the continuation from
    s over len(B) zero bytes minus (xor) that of 0 -- so zeros stand in for the text.
    ``zero_crc2``: crc of len2 zeros, when the caller has it."""
    z = _zeros_crc(len2, 0) if zero_crc2 is None else zero_crc2
    return _zeros_crc(len2, crc1) ^ z ^ crc2


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = date_time
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


def splice_rows(path: str | Path, member: str, segments: Sequence[Segment]) -> None:
    """Rewrite the .xlsx at ``path`` with :data:`MARKER` in ``member`` replaced by ``segments``.

    The marker must occur exactly once in the member (a ValueError otherwise: the writer and the
    splice disagree, and no master is better than a wrong one)."""
    p = Path(path)
    with open(p, "rb") as f:
        raw = f.read()  # the archive without the rows: small, read once for the index and the copy
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        infos = zf.infolist()
        text = zf.read(member)
    if text.count(MARKER) != 1:
        raise ValueError(f"{member}: expected the row marker once, found it {text.count(MARKER)} times")
    head, tail = text.split(MARKER)
    size = len(head) + sum(s.size for s in segments) + len(tail)
    if size > _ZIP32_LIMIT or len(raw) + sum(len(s.data) for s in segments) > _ZIP32_LIMIT:
        _splice_zip64(p, infos, member, head, tail, segments)
        return
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_SYNC_FLUSH)
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    last = c.compress(tail) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for s in segments:
        crc = crc32_combine(crc, s.crc, s.size, s.zero_crc)
    crc = zlib.crc32(tail, crc)
    csize = len(first) + sum(len(s.data) for s in segments) + len(last)

    central = bytearray()
    with open(p, "wb") as out:
        offset = 0
        for info in infos:
            name = info.filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
            t, d = _dos_time(info.date_time)
            start = offset
            if info.filename == member:
                flags, method, version = 0, zipfile.ZIP_DEFLATED, 20
                entry_crc, entry_csize, entry_size = crc, csize, size
                offset += out.write(_LOCAL.pack(_LOCAL_SIG, version, flags, method, t, d, crc, csize, size,
                                                len(name), 0))
                offset += out.write(name)
                offset += out.write(first)
                for s in segments:
                    offset += out.write(s.data)
                offset += out.write(last)
            else:
                sig, *_, n_len, e_len = _LOCAL.unpack_from(raw, info.header_offset)
                if sig != _LOCAL_SIG or info.flag_bits & _DATA_DESCRIPTOR:
                    raise ValueError(f"{p.name}: unexpected zip layout at {info.filename}")
                begin = info.header_offset
                offset += out.write(raw[begin:begin + _LOCAL.size + n_len + e_len + info.compress_size])
                flags, method, version = info.flag_bits, info.compress_type, info.extract_version
                entry_crc, entry_csize, entry_size = info.CRC, info.compress_size, info.file_size
            central += _CENTRAL.pack(_CENTRAL_SIG, info.create_version | (info.create_system << 8), version,
                                     flags, method, t, d, entry_crc, entry_csize, entry_size, len(name), 0, 0, 0,
                                     info.internal_attr, info.external_attr, start)
            central += name
        out.write(central)
        out.write(_END.pack(_END_SIG, 0, 0, len(infos), len(infos), len(central), offset, 0))


def _splice_zip64(p: Path, infos: list[zipfile.ZipInfo], member: str, head: bytes, tail: bytes,
                  segments: Sequence[Segment]) -> None:
    """The same archive written by :mod:`zipfile`, the spliced member with Zip64 sizes."""
    tmp = p.with_name(p.name + ".zip64")
    with zipfile.ZipFile(p) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in infos:
            if info.filename != member:
                dst.writestr(info, src.read(info))
                continue
            entry = zipfile.ZipInfo(member, info.date_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(entry, "w", force_zip64=True) as out:
                out.write(head)
                for s in segments:
                    out.write(zlib.decompressobj(-15).decompress(s.data))
                out.write(tail)
    tmp.replace(p)


__all__ = ["MARKER", "Segment", "crc32_combine", "deflate_segment", "splice_rows"]
