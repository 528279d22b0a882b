"""Compare two .xlsx files part by part, the way XlsxWriter's own comparison tests do.

Zip member timestamps and the document's created/modified times change on every save, so they
are normalised away; every other byte of every XML part must match. A difference is shown as a
short unified diff of the part's XML, split at tags so that it is readable.
"""

from __future__ import annotations

import difflib
import re
import zipfile
from pathlib import Path

_VOLATILE = [
    (re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>"), rb"<dcterms:\1/>"),
]


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        out = {}
        for name in z.namelist():
            data = z.read(name)
            for pattern, repl in _VOLATILE:
                data = pattern.sub(repl, data)
            out[name] = data
        return out


def xlsx_differences(got: Path, expected: Path, max_lines: int = 40) -> list[str]:
    """Readable differences between two workbooks ([] when they are the same)."""
    a, b = _parts(got), _parts(expected)
    problems = []
    for name in sorted(set(a) | set(b)):
        if name not in a:
            problems.append(f"missing part {name}")
        elif name not in b:
            problems.append(f"extra part {name}")
        elif a[name] != b[name]:
            la = a[name].decode("utf-8", "replace").replace("><", ">\n<").splitlines()
            lb = b[name].decode("utf-8", "replace").replace("><", ">\n<").splitlines()
            diff = list(difflib.unified_diff(lb, la, f"expected/{name}", f"got/{name}", lineterm="", n=1))
            problems.append("\n".join(diff[:max_lines]))
    return problems
