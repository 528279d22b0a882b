"""Text from files and file names, made safe to print on a terminal.

Everything tracker prints may hold text it did not write: file names (any bytes the OS allows
except ``/`` and NUL on Linux -- including line breaks and bytes that are not UTF-8) and cell
text quoted in messages. Printed raw, an escape sequence (``ESC [ 2 K``, ``ESC [ 1 A``) can
erase or rewrite lines and so fake an "OK" line; a line break inside a name splits a report
line; Unicode direction overrides (U+202E) make text display in another order than it is; and a
name that is not UTF-8 (Python keeps its bytes as lone surrogates, PEP 383) cannot be encoded
at all. :func:`for_terminal` writes all of these as visible escapes (``\\x1b``, ``\\n``,
``\\u202e``, and ``\\xff`` for an undecodable byte), leaving all other text -- accents, Greek,
CJK, emoji -- as it is. JSON output keeps text exact and needs only :func:`json_bytes`.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["for_terminal", "json_bytes"]

# C0 controls (tab and line breaks included: every message is one line), DEL, C1 controls,
# Unicode bidirectional controls (Trojan Source), line/paragraph separators, and lone surrogates.
_UNSAFE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                            "\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str) -> str:
    """``text`` with control characters, direction overrides and undecodable bytes escaped."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def json_bytes(text: str) -> bytes:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) as UTF-8 bytes.

    ``json.dumps`` already escapes control characters; a file name that is not UTF-8 reaches it
    as lone surrogates, which UTF-8 cannot encode, so each becomes the JSON escape ``\\udcff``
    (Python's ``json.loads`` and ``os.fsencode`` give back the name's original bytes).
    """
    return text.encode("utf-8", "backslashreplace")
