"""Install the add-in for the current user, the way ``xlwings addin install`` does.

``install`` copies ``tracker.xlam`` into the user's Excel startup folder, so Excel opens it
(hidden) on start, and records in the user's config file (:mod:`tracker.addin.config`) this Python
interpreter (``INTERPRETER_WIN`` / ``INTERPRETER_MAC``) and this ``tracker`` package
(``TRACKER_PACKAGE``, checked by :func:`tracker.addin.trust.check_installation` at every run):

* Windows: ``%APPDATA%\\Microsoft\\Excel\\XLSTART`` and ``%USERPROFILE%\\.xlwings\\xlwings.conf``
  (written in the ANSI code page with CRLF, as xlwings writes it there). XLSTART is one of
  Office's default trusted locations, so the add-in's macros run without a prompt unless macros
  are turned off by policy.
* macOS: ``~/Library/Group Containers/UBF8T346G9.Office/User Content/Startup/Excel`` and
  ``~/Library/Containers/com.microsoft.Excel/Data/xlwings.conf``; and the add-in's launcher,
  ``macros/tracker.applescript`` with this interpreter written into it, goes to
  ``~/Library/Application Scripts/com.microsoft.Excel`` (the only place from which Excel's VBA may
  start a program).

Before anything is written, this interpreter is started the way the add-in starts it (isolated,
``-I``) to confirm that it then still imports this ``tracker`` and xlwings: a package installed
with ``pip install --user`` is invisible in isolated mode, and the add-in would fail at every click.

xlwings asks a running Excel for its startup folder; without starting Excel, this module uses
the default folder of a per-user Office install. Elsewhere (Linux), ``install`` fails with a
clear message and ``status`` still answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tracker.addin.build import ADDIN_NAME, build_addin, macros_dir
from tracker.addin.config import (
    PACKAGE_KEY,
    AddinConfigError,
    config_file,
    current_platform,
    interpreter_key,
    read_config,
    set_config_values,
)
from tracker.addin.launch import ACTIONS, BOOTSTRAP
from tracker.addin.trust import PYTHON_OPTIONS, package_dir
from tracker.errors import TrackerError

__all__ = ["AddinInstallError", "config_file", "install", "interpreter_key", "read_config", "startup_dir",
           "status"]

_MAC_STARTUP_PARENT = Path("Library/Group Containers/UBF8T346G9.Office")
_MAC_STARTUP_CHOICES = ("User Content/Startup/Excel",
                        "User Content.localized/Startup.localized/Excel")
LAUNCHER_TEMPLATE = "tracker.applescript"
LAUNCHER_NAME = "tracker.applescript"  # the name macros/Tracker.bas passes to AppleScriptTask
LOG_NAME = "tracker-addin.log"  # in Excel's container on macOS, where the VBA reads it


class AddinInstallError(TrackerError):
    """The add-in cannot be installed here, or its files cannot be written."""


def _platform() -> str:
    return current_platform()


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
    package = check_isolated_import(sys.executable)
    launcher = launcher_script(sys.executable, platform) if platform == "macos" else None
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
    set_config_values(config_file(platform),
                      {interpreter_key(platform): sys.executable, PACKAGE_KEY: str(package)}, platform)
    if launcher is not None:
        _write_launcher(launcher)
    return target


def check_isolated_import(python: str) -> Path:
    """Start ``python`` as the add-in starts it (isolated, from a neutral folder) and return the
    ``tracker`` package folder it imports; refuse unless that is this package and xlwings imports too."""
    here = package_dir()
    code = "import sys, tracker, xlwings; sys.stdout.write(tracker.__file__)"
    with tempfile.TemporaryDirectory() as neutral:
        try:
            done = subprocess.run([python, *PYTHON_OPTIONS, "-c", code], cwd=neutral, capture_output=True,
                                  text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise AddinInstallError(f"{python} could not be started to check it ({e})") from None
    found = Path(done.stdout.strip()).parent if done.returncode == 0 and done.stdout.strip() else None
    if found is None:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise AddinInstallError(
            f"{python}, started isolated ({' '.join(PYTHON_OPTIONS)}) as the add-in starts it, cannot import "
            f"tracker and xlwings ({last}). Install them into a virtual environment -- "
            "python -m venv .venv, then .venv's pip install -e \".[excel]\" -- not with pip install --user")
    if os.path.normcase(found.resolve()) != os.path.normcase(here):
        raise AddinInstallError(f"{python}, started isolated as the add-in starts it, imports tracker from {found}, "
                                f"not from {here}: install from the environment that should run the add-in")
    return here


def _applescript_text(value: str) -> str:
    """``value`` inside an AppleScript string literal (backslash and double quote escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def launcher_script(python: str, platform: str = "macos", home: Path | None = None) -> str:
    """The macOS launcher (``macros/tracker.applescript``) with this installation written into it."""
    path = macros_dir() / LAUNCHER_TEMPLATE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise AddinInstallError(f"{path}: cannot be read ({e})") from None
    fields = {
        "@PYTHON@": _applescript_text(python),
        "@PYTHON_OPTIONS@": _applescript_text(" ".join(PYTHON_OPTIONS)),
        "@BOOTSTRAP@": _applescript_text(BOOTSTRAP),
        "@LOG_FILE@": _applescript_text(str(config_file(platform, home).parent / LOG_NAME)),
        "@ADDIN_NAME@": _applescript_text(ADDIN_NAME),
        "@ACTIONS@": ", ".join(f'"{_applescript_text(a)}"' for a in ACTIONS),
    }
    for field, value in fields.items():
        if field not in text:
            raise AddinInstallError(f"{path}: the field {field} is missing")
        text = text.replace(field, value)
    return text


def launcher_folder(home: Path | None = None) -> Path:
    """macOS: the folder of scripts Excel's VBA may run (AppleScriptTask)."""
    return (home or Path.home()) / "Library" / "Application Scripts" / "com.microsoft.Excel"


def _write_launcher(text: str) -> None:
    folder = launcher_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # UTF-8 is what AppleScriptTask reads a .applescript text file as.
        (folder / LAUNCHER_NAME).write_text(text, encoding="utf-8")
    except OSError as e:
        raise AddinInstallError(f"{folder}: cannot write {LAUNCHER_NAME} there ({e.strerror})") from None


def status() -> dict[str, object]:
    """Where the add-in is (or would be) installed, what interpreter and package it will run."""
    platform = _platform()
    target_dir = startup_dir(platform)
    addin = target_dir / ADDIN_NAME if target_dir is not None else None
    conf = config_file(platform)
    key = interpreter_key(platform)
    try:
        settings = read_config(conf, platform)
    except AddinConfigError:
        settings = {}
    configured = settings.get(key)
    recorded = settings.get(PACKAGE_KEY)
    here = package_dir()
    info: dict[str, object] = {
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
        "recorded_package": recorded,
        "this_package": str(here),
        "package_matches": recorded is not None and os.path.normcase(recorded) == os.path.normcase(str(here)),
    }
    if platform == "macos":
        info["launcher"] = str(launcher_folder() / LAUNCHER_NAME)
        info["launcher_installed"] = (launcher_folder() / LAUNCHER_NAME).is_file()
    return info
