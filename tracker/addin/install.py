"""Install the add-in for the current user, the way ``xlwings addin install`` does.

``install`` copies ``tracker.xlam`` into the user's Excel startup folder, so Excel opens it
(hidden) on start, and records this Python interpreter in xlwings' user configuration file, where
the add-in's xlwings module looks it up (key ``INTERPRETER_WIN`` or ``INTERPRETER_MAC``):

* Windows: ``%APPDATA%\\Microsoft\\Excel\\XLSTART`` and ``%USERPROFILE%\\.xlwings\\xlwings.conf``.
  XLSTART is one of Office's default trusted locations, so the add-in's macros run without a
  prompt unless macros are turned off by policy.
* macOS: ``~/Library/Group Containers/UBF8T346G9.Office/User Content/Startup/Excel`` and
  ``~/Library/Containers/com.microsoft.Excel/Data/xlwings.conf``; as xlwings does, the
  AppleScript that RunPython calls on macOS is copied to
  ``~/Library/Application Scripts/com.microsoft.Excel``.

xlwings asks a running Excel for its startup folder; without starting Excel, this module uses
the default folder of a per-user Office install. Elsewhere (Linux), ``install`` fails with a
clear message and ``status`` still answers.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from tracker.addin.build import ADDIN_NAME, build_addin, xlwings_dir
from tracker.errors import TrackerError
from tracker.files import write_bytes_atomically

_MAC_STARTUP_PARENT = Path("Library/Group Containers/UBF8T346G9.Office")
_MAC_STARTUP_CHOICES = ("User Content/Startup/Excel",
                        "User Content.localized/Startup.localized/Excel")


class AddinInstallError(TrackerError):
    """The add-in cannot be installed here, or its files cannot be written."""


def _platform() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return sys.platform


def startup_dir(platform: str | None = None, home: Path | None = None) -> Path | None:
    """Excel's per-user startup folder on this platform, or None where there is no Excel."""
    platform = platform or _platform()
    home = home or Path.home()
    if platform == "windows":
        appdata = os.environ.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return base / "Microsoft" / "Excel" / "XLSTART"
    if platform == "macos":
        parent = home / _MAC_STARTUP_PARENT
        for choice in _MAC_STARTUP_CHOICES:
            if (parent / choice).is_dir():
                return parent / choice
        return parent / _MAC_STARTUP_CHOICES[0]
    return None


def config_file(platform: str | None = None, home: Path | None = None) -> Path:
    """xlwings' user configuration file (the same path as ``xlwings.USER_CONFIG_FILE``)."""
    platform = platform or _platform()
    home = home or Path.home()
    if platform == "macos":
        return home / "Library" / "Containers" / "com.microsoft.Excel" / "Data" / "xlwings.conf"
    return home / ".xlwings" / "xlwings.conf"


def interpreter_key(platform: str | None = None) -> str:
    """The xlwings.conf key the add-in reads the interpreter from on this platform."""
    return "INTERPRETER_MAC" if (platform or _platform()) == "macos" else "INTERPRETER_WIN"


_CONF_LINE = re.compile(r'^\s*"([^"]*)"\s*,\s*"([^"]*)"')


def read_config(path: Path) -> dict[str, str]:
    """The settings of an xlwings.conf file (lines ``"KEY","VALUE"``), keys upper-cased."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise AddinInstallError(f"{path}: cannot be read ({e.strerror})") from None
    settings: dict[str, str] = {}
    for line in text.splitlines():
        m = _CONF_LINE.match(line)
        if m:
            settings[m.group(1).upper()] = m.group(2)
    return settings


def set_config_value(path: Path, key: str, value: str) -> None:
    """Set one setting of an xlwings.conf file, keeping its other lines as they are."""
    if '"' in value:
        raise AddinInstallError(f"cannot record {value!r} in {path}: it contains a quote")
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    except (OSError, UnicodeDecodeError) as e:
        raise AddinInstallError(f"{path}: cannot be read ({e})") from None
    entry = f'"{key}","{value}"'
    replaced = False
    for i, line in enumerate(lines):
        m = _CONF_LINE.match(line)
        if m and m.group(1).upper() == key.upper():
            lines[i] = entry
            replaced = True
    if not replaced:
        lines.append(entry)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(path, ("\n".join(lines) + "\n").encode("utf-8"))
    except OSError as e:
        raise AddinInstallError(f"{path}: cannot be written ({e.strerror or e})") from None




def install(xlam: Path | None = None) -> Path:
    """Install the add-in (``xlam``, or a freshly built one) for this user; return its path."""
    platform = _platform()
    target_dir = startup_dir(platform)
    if target_dir is None:
        raise AddinInstallError(
            f"the Excel add-in can only be installed on Windows or macOS, not on {platform}; "
            "build it with `tracker addin build` and install it on a computer with Excel"
        )
    if xlam is not None and not Path(xlam).is_file():
        raise AddinInstallError(f"{xlam}: no such add-in file")
    target = target_dir / ADDIN_NAME
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AddinInstallError(f"{target_dir}: cannot be created ({e.strerror})") from None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(xlam) if xlam is not None else build_addin(Path(tmp) / ADDIN_NAME)
        try:
            shutil.copyfile(source, target)
        except PermissionError:
            raise AddinInstallError(
                f"{target}: cannot be replaced; quit Excel (it keeps the add-in open) and retry"
            ) from None
        except OSError as e:
            raise AddinInstallError(f"{target}: cannot be written ({e.strerror})") from None
    set_config_value(config_file(platform), interpreter_key(platform), sys.executable)
    if platform == "macos":
        _install_applescript()
    return target


def _install_applescript() -> None:
    """macOS: RunPython calls xlwings' AppleScript, which must be in Excel's script folder."""
    import xlwings  # the version in the script's name must match the VBA module's

    source = xlwings_dir() / f"xlwings-{xlwings.__version__}.applescript"
    folder = Path.home() / "Library" / "Application Scripts" / "com.microsoft.Excel"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / source.name)
    except OSError as e:
        raise AddinInstallError(f"{folder}: cannot copy {source.name} there ({e.strerror})")


def status() -> dict[str, object]:
    """Where the add-in is (or would be) installed and what interpreter it will run."""
    platform = _platform()
    target_dir = startup_dir(platform)
    addin = target_dir / ADDIN_NAME if target_dir is not None else None
    conf = config_file(platform)
    key = interpreter_key(platform)
    configured = read_config(conf).get(key)
    return {
        "platform": platform,
        "supported": target_dir is not None,
        "addin_path": str(addin) if addin is not None else None,
        "installed": bool(addin is not None and addin.is_file()),
        "config_file": str(conf),
        "interpreter_key": key,
        "configured_interpreter": configured,
        "this_interpreter": sys.executable,
        "interpreter_matches": configured is not None
        and os.path.normcase(configured) == os.path.normcase(sys.executable),
    }
