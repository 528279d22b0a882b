"""The user's add-in config file, ``xlwings.conf``: where it is, and reading and writing it.

It is the one settings file the add-in trusts (README, Security): it is in the user's own profile
and written by ``tracker addin install``. Lines are ``"KEY","VALUE"`` pairs, the format xlwings
uses for the same file:

* ``INTERPRETER_WIN`` / ``INTERPRETER_MAC`` -- the Python the add-in starts (the Windows VBA reads
  it; on macOS the launcher script has it built in, see :mod:`tracker.addin.install`);
* ``TRACKER_PACKAGE`` -- the folder of the ``tracker`` package that was installed, which
  :func:`tracker.addin.trust.check_installation` compares with the one actually imported.

**Bytes as xlwings writes them.** On Windows, xlwings writes the file with Python's default text
mode there -- the ANSI code page, CRLF line ends -- and VBA's ``Input #`` reads it in the ANSI code
page, so a UTF-8 path such as ``C:\\Users\\Zoë\\...`` would arrive garbled. The file is therefore
written in the ANSI code page with CRLF on Windows, and a value the code page cannot hold is
refused with a message (the VBA could not read it back). On macOS, where xlwings writes UTF-8 and
LF, so does this module. Reading accepts either encoding: a file that is valid UTF-8 is read as
UTF-8 (an older tracker wrote UTF-8 everywhere), any other in the ANSI code page.
"""

from __future__ import annotations

import locale
import re
import sys
from pathlib import Path

from tracker.errors import TrackerError
from tracker.files import write_bytes_atomically

PACKAGE_KEY = "TRACKER_PACKAGE"
_INTERPRETER_KEYS = {"windows": "INTERPRETER_WIN", "macos": "INTERPRETER_MAC"}
_CONF_LINE = re.compile(r'^\s*"([^"]*)"\s*,\s*"([^"]*)"')


class AddinConfigError(TrackerError):
    """The user's add-in config file cannot be read or written, or cannot hold a value."""


def current_platform() -> str:
    """``windows``, ``macos``, or ``sys.platform`` elsewhere (where there is no Excel)."""
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return sys.platform


def config_file(platform: str | None = None, home: Path | None = None) -> Path:
    """The user's xlwings.conf (the same path as ``xlwings.USER_CONFIG_FILE``).

    On macOS it is in Excel's sandbox container, where Excel's VBA may read files.
    """
    platform = platform or current_platform()
    home = home or Path.home()
    if platform == "macos":
        return home / "Library" / "Containers" / "com.microsoft.Excel" / "Data" / "xlwings.conf"
    return home / ".xlwings" / "xlwings.conf"


def interpreter_key(platform: str | None = None) -> str:
    """The key of the Python interpreter on this platform."""
    return _INTERPRETER_KEYS.get(platform or current_platform(), _INTERPRETER_KEYS["windows"])


def ansi_code_page() -> str:
    """The Windows ANSI code page (e.g. ``cp1252``): what VBA's file statements read and write.

    ``locale.getencoding()`` is it on Windows even in Python's UTF-8 mode (where the default text
    encoding, which xlwings uses, would be UTF-8 and VBA would misread the file).
    """
    return locale.getencoding()


def _encoding(platform: str) -> tuple[str, str]:
    """(encoding, line end) of the file on ``platform``."""
    if platform == "windows":
        return ansi_code_page(), "\r\n"
    return "utf-8", "\n"


def _decode(data: bytes, platform: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode(_encoding(platform)[0], errors="replace")


def read_config(path: Path, platform: str | None = None) -> dict[str, str]:
    """The settings of an xlwings.conf file, keys upper-cased ({} when there is no file)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise AddinConfigError(f"{path}: cannot be read ({e.strerror})") from None
    settings: dict[str, str] = {}
    for line in _decode(data, platform or current_platform()).splitlines():
        m = _CONF_LINE.match(line)
        if m:
            settings[m.group(1).upper()] = m.group(2)
    return settings


def set_config_values(path: Path, values: dict[str, str], platform: str | None = None) -> None:
    """Set ``values`` in an xlwings.conf file, keeping its other lines, in the platform's bytes."""
    platform = platform or current_platform()
    encoding, newline = _encoding(platform)
    for key, value in values.items():
        if '"' in value or '"' in key:
            # VBA's Input # ends a field at a double quote: there is no way to write one.
            raise AddinConfigError(f"cannot record {value!r} in {path}: it contains a double quote")
    try:
        old = _decode(path.read_bytes(), platform).splitlines() if path.exists() else []
    except OSError as e:
        raise AddinConfigError(f"{path}: cannot be read ({e.strerror})") from None
    pending = {k.upper(): (k, v) for k, v in values.items()}
    lines: list[str] = []
    for line in old:
        m = _CONF_LINE.match(line)
        if m and m.group(1).upper() in pending:
            key, value = pending.pop(m.group(1).upper())
            line = f'"{key}","{value}"'
        elif not line.strip():
            continue  # xlwings drops blank lines too
        lines.append(line)
    lines += [f'"{k}","{v}"' for k, v in pending.values()]
    text = "".join(line + newline for line in lines)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as e:
        bad = e.object[e.start:e.end]
        raise AddinConfigError(
            f"cannot record the settings in {path}: {bad!r} has no place in this computer's ANSI code "
            f"page ({encoding}), in which Excel's VBA reads the file. Install Python and tracker in a "
            "folder whose path has only such characters (for example C:\\tracker\\.venv)") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(path, data)
    except OSError as e:
        raise AddinConfigError(f"{path}: cannot be written ({e.strerror or e})") from None
