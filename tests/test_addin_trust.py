"""The add-in never runs code that came with a returned workbook (issue 18; README, Security).

* The built add-in's VBA (read back with oletools) reads no setting from the active workbook or
  its folder, puts nothing on Python's import path, and starts no program but the recorded Python.
* The exact command line the VBA builds (evaluated from the VBA text itself, split as the Windows
  C runtime splits it) and the exact shell command the macOS launcher script builds (evaluated from
  the script) are run here: with a fake ``tracker`` package, ``sitecustomize``, ``xlwings`` and an
  ``xlwings.conf`` file beside the workbook, the workbook's folder as the current folder and on
  ``PYTHONPATH``, the installed package is used (or refuses) and no fake ever runs; the same command
  *without* ``-I`` does run the fake, which shows that the trap is real.
* The user's config file is written as xlwings writes it on Windows (ANSI code page, CRLF).
* The Python side refuses a process that is not isolated or not the recorded installation.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path, PureWindowsPath

import pytest
from oletools.olevba import VBA_Parser

from tracker.addin import build as B
from tracker.addin import config as C
from tracker.addin import install as I
from tracker.addin import launch, trust
from tracker.errors import TrackerError

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tracker"
# A returned workbook's name may hold anything a file name may: spaces, &, quotes, $( ) ...
HOSTILE_WINDOWS_NAME = "return & co 'x' (Zoë) ^!.xlsx"  # no double quote: Windows forbids it in names
HOSTILE_MAC_NAME = "return $(touch PWNED) `touch PWNED2` \"q\" 'x'\n(Zoë).xlsx"


@pytest.fixture(scope="module")
def vba(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Module name -> source, as oletools reads them back from a freshly built add-in."""
    xlam = B.build_addin(tmp_path_factory.mktemp("addin") / "tracker.xlam")
    parser = VBA_Parser(str(xlam))
    try:
        return {stream.split("/")[-1]: code.replace("\r\n", "\n") for _, stream, _, code in parser.extract_macros()}
    finally:
        parser.close()


@pytest.fixture(scope="module")
def ribbon(vba: dict[str, str]) -> str:
    return vba["TrackerRibbon"]


def _code(text: str) -> str:
    """VBA without comments and with line continuations joined (enough for the code we write)."""
    lines = []
    for line in text.replace(" _\n", " ").split("\n"):
        out, in_string = [], False
        for ch in line:
            if ch == '"':
                in_string = not in_string
            if ch == "'" and not in_string:
                break
            out.append(ch)
        lines.append("".join(out).rstrip())
    return "\n".join(lines)


def _constants(text: str) -> dict[str, str]:
    return {name: value.replace('""', '"') for name, value in
            re.findall(r'^Private Const (\w+) As String = "((?:[^"]|"")*)"$', _code(text), re.MULTILINE)}


def _body(text: str, name: str) -> str:
    code = _code(text)
    m = re.search(rf"^(?:Public |Private )?(?:Function|Sub) {name}\(.*?^End (?:Function|Sub)$", code,
                  re.MULTILINE | re.DOTALL)
    assert m, name
    return m.group(0)


# == the VBA reads nothing from the workbook or its folder =========================================


def test_the_add_in_has_no_module_but_its_own(vba: dict[str, str]) -> None:
    # xlwings' module (GetConfig, RunPython, prepare_sys_path ...) is gone; the document modules are empty.
    assert set(vba) == {"ThisWorkbook", "Sheet2", "TrackerRibbon"}
    for name in ("ThisWorkbook", "Sheet2"):
        assert all(line.startswith("Attribute ") or not line.strip() for line in vba[name].split("\n")), name


@pytest.mark.parametrize("pattern", [
    r"\bGetConfig", r"\bRunPython\b", r"prepare_sys_path", r"PYTHONPATH", r"ADD_WORKBOOK_TO_PYTHONPATH",
    r"\.Path\b", r"\.FullName\b", r"\bCurDir\b", r"\bChDir\b", r"\bThisWorkbook\b",
    r"\b(?:Sheets|Worksheets|Range|Cells)\(", r"\.Value\b", r"\bDeclare\b", r"\bShell\(", r"\bMacScript\b",
    r"cmd\.exe", r"CONDA", r"\.py\b",
])
def test_the_vba_has_no_way_to_read_settings_from_the_workbook(ribbon: str, pattern: str) -> None:
    # Each pattern is one of the ways xlwings' VBA reads the active workbook's xlwings.conf sheet or
    # the xlwings.conf file in its folder (via the workbook's path), widens Python's import path, or
    # starts a program; none may come back. (Declare: no Win32 API call, which Defender's attack
    # surface rule "Block Win32 API calls from Office macros" would block.)
    assert not re.search(pattern, _code(ribbon)), pattern


def test_the_active_workbook_is_used_for_its_name_and_protection_only(ribbon: str) -> None:
    uses = re.findall(r"[^\n]{0,30}\bActiveWorkbook\b[^\n]{0,12}", _code(ribbon))
    kinds = set()
    for use in uses:
        m = re.search(r"(ActiveWorkbook Is Nothing|ActiveWorkbook\.Name|UnprotectSheets ActiveWorkbook)", use)
        assert m, use
        kinds.add(m.group(1))
    assert kinds == {"ActiveWorkbook Is Nothing", "ActiveWorkbook.Name", "UnprotectSheets ActiveWorkbook"}


def test_the_only_files_read_are_the_user_config_and_the_log(ribbon: str) -> None:
    code = _code(ribbon)
    assert sorted(re.findall(r"\bOpen (.+?) For (\w+)", code)) == [("UserConfigPath()", "Input"), ("path", "Input")]
    assert re.findall(r"ReadText\((\w+)\)", code) == ["logFile"]  # ReadText's path is ShowLog's log file
    assert re.findall(r"ShowLog \w+, ([^,]+),", code) == ["LogPath()", "LogPath()"]
    assert sorted(set(re.findall(r'Environ\("(\w+)"\)', code))) == ["HOME", "TEMP", "USERPROFILE"]
    # The config path is the one tracker addin install writes (tracker.addin.config.config_file).
    m = re.search(r'UserConfigPath = Environ\("USERPROFILE"\) & "([^"]+)"', code)
    assert m, "UserConfigPath must be the user's profile folder and a fixed path"
    written = C.config_file("windows", home=Path("PROFILE")).relative_to("PROFILE")
    assert PureWindowsPath(m.group(1).lstrip("\\")).parts == written.parts
    assert _constants(ribbon)["INTERPRETER_KEY"] == C.interpreter_key("windows")
    assert _constants(ribbon)["LOG_NAME"] == I.LOG_NAME


def test_the_only_programs_started_are_the_recorded_python_and_the_launcher(ribbon: str) -> None:
    code = _code(ribbon)
    assert re.findall(r'CreateObject\("([\w.]+)"\)\.(\w+)\((\w+)', code) == [("WScript.Shell", "Run", "commandLine")]
    assert re.findall(r"commandLine = (\w+)\(python,", code) == ["PythonCommandLine"]
    assert re.findall(r"^\s*python = (.+)", code, re.MULTILINE) == ["UserConfigValue(INTERPRETER_KEY)"]
    assert re.findall(r"AppleScriptTask (\w+), \"(\w+)\", (.+)", code) == [
        ("LAUNCHER_SCRIPT", "RunTracker", "action & vbLf & ActiveWorkbook.Name")]


def test_python_options_and_code_are_the_packages(ribbon: str) -> None:
    consts = _constants(ribbon)
    assert consts["PYTHON_OPTIONS"] == " ".join(trust.PYTHON_OPTIONS) == "-I"
    assert consts["PYTHON_CODE"] == launch.BOOTSTRAP
    assert consts["LAUNCHER_SCRIPT"] == I.LAUNCHER_NAME


# == the Windows command line, evaluated from the VBA and run ======================================


def _vba_eval(expr: str, names: dict[str, str], functions: dict[str, Callable[[str], str]]) -> str:
    """Evaluate a VBA string expression of literals, names, ``&`` and one-argument calls."""
    tokens = re.findall(r'"(?:[^"]|"")*"|\w+|[&()]', expr)
    assert "".join(tokens).replace(" ", "") == expr.replace(" ", ""), f"unsupported VBA: {expr}"
    pos = 0

    def term() -> str:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok.startswith('"'):
            return tok[1:-1].replace('""', '"')
        if pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            arg = concat()
            assert tokens[pos] == ")"
            pos += 1
            return functions[tok](arg)
        return names[tok]

    def concat() -> str:
        nonlocal pos
        value = term()
        while pos < len(tokens) and tokens[pos] == "&":
            pos += 1
            value += term()
        return value

    out = concat()
    assert pos == len(tokens), expr
    return out


def _vba_quoted(arg: str) -> str:
    # Quoted() of macros/Tracker.bas (checked below): refuse a double quote, double a trailing backslash.
    assert '"' not in arg
    return '"' + (arg + "\\" if arg.endswith("\\") else arg) + '"'


def test_quoted_is_as_the_test_evaluates_it(ribbon: str) -> None:
    body = _body(ribbon, "Quoted")
    assert 'If InStr(arg, Chr(34)) > 0 Then Err.Raise' in body
    assert 'If Right$(arg, 1) = "\\" Then arg = arg & "\\"' in body
    assert "Quoted = Chr(34) & arg & Chr(34)" in body


def split_windows(command_line: str) -> list[str]:
    """argv as the Microsoft C runtime splits a command line (the rules Python's own startup uses).

    The program name ends at the first space outside quotes, without backslash processing; in the
    arguments, 2n backslashes before a quote give n and the quote toggles quoting, 2n+1 give n and a
    literal quote, backslashes elsewhere are literal, and "" inside quotes is one literal quote.
    """
    s, n, i = command_line, len(command_line), 0
    if s.startswith('"'):
        end = s.index('"', 1)
        argv, i = [s[1:end]], end + 1
    else:
        end = s.find(" ")
        argv, i = [s if end < 0 else s[:end]], (n if end < 0 else end)
    while True:
        while i < n and s[i] in " \t":
            i += 1
        if i >= n:
            return argv
        arg: list[str] = []
        quoted = False
        while i < n and (quoted or s[i] not in " \t"):
            if s[i] == "\\":
                j = i
                while j < n and s[j] == "\\":
                    j += 1
                if j < n and s[j] == '"':
                    arg.append("\\" * ((j - i) // 2))
                    if (j - i) % 2:
                        arg.append('"')
                        j += 1
                    i = j
                else:
                    arg.append("\\" * (j - i))
                    i = j
            elif s[i] == '"':
                if quoted and i + 1 < n and s[i + 1] == '"':
                    arg.append('"')
                    i += 2
                else:
                    quoted = not quoted
                    i += 1
            else:
                arg.append(s[i])
                i += 1
        argv.append("".join(arg))


def test_split_windows_follows_the_c_runtime_rules() -> None:
    # Examples of Microsoft's "Parsing C command-line arguments" table.
    assert split_windows('p "a b c" d e') == ["p", "a b c", "d", "e"]
    assert split_windows('p "ab\\"c" "\\\\" d') == ["p", 'ab"c', "\\", "d"]
    assert split_windows('p a\\\\\\b d"e f"g h') == ["p", "a\\\\\\b", "de fg", "h"]
    assert split_windows('p a\\\\\\"b c d') == ["p", 'a\\"b', "c", "d"]
    assert split_windows('p a\\\\\\\\"b c" d e') == ["p", "a\\\\b c", "d", "e"]


def windows_argv(ribbon: str, python: str, log: str, action: str, book: str, hwnd: str) -> list[str]:
    """The argv of the process the VBA starts on Windows, from the VBA text itself."""
    body = _body(ribbon, "PythonCommandLine")
    m = re.search(r"PythonCommandLine = (.+)", body)
    assert m
    names = {**_constants(ribbon), "python": python, "logFile": log, "action": action, "bookName": book,
             "hwnd": hwnd}
    return split_windows(_vba_eval(m.group(1), names, {"Quoted": _vba_quoted}))


def test_the_windows_command_line_passes_every_value_intact(ribbon: str) -> None:
    python = "C:\\Program Files\\Python 3.11\\python.exe"
    log = "C:\\Users\\Zoë\\AppData\\Local\\Temp\\tracker-addin.log"
    assert windows_argv(ribbon, python, log, "validate", HOSTILE_WINDOWS_NAME, "4242") == [
        python, "-I", "-c", launch.BOOTSTRAP, log, "validate", "--wb=" + HOSTILE_WINDOWS_NAME, "--from_xl=1",
        "--hwnd=4242"]


FAKE = "import pathlib; pathlib.Path({marker!r}).write_text('the fake ran')\n"


def trap(folder: Path) -> dict[str, Path]:
    """A returned workbook's folder as an attacker would leave it; returns the marker of each fake."""
    folder.mkdir(parents=True)
    markers = {k: folder / f"RAN-{k}" for k in ("tracker", "xlwings", "sitecustomize", "usercustomize",
                                                 "zip", "interpreter", "startup")}
    for pkg in ("tracker", "xlwings"):
        (folder / pkg).mkdir()
        (folder / pkg / "__init__.py").write_text(FAKE.format(marker=str(markers[pkg])))
    for mod in ("sitecustomize", "usercustomize"):
        (folder / f"{mod}.py").write_text(FAKE.format(marker=str(markers[mod])))
    (folder / "startup.py").write_text(FAKE.format(marker=str(markers["startup"])))
    # xlwings' prepare_sys_path also adds "<workbook>.zip"
    with zipfile.ZipFile(folder / "return.zip", "w") as z:
        z.writestr("tracker/__init__.py", FAKE.format(marker=str(markers["zip"])))
    evil = folder / "evil.sh"
    evil.write_text(f"#!/bin/sh\necho ran > '{markers['interpreter']}'\n")
    evil.chmod(0o755)
    for name in ("xlwings.conf", "tracker.conf"):
        (folder / name).write_text(f'"INTERPRETER_WIN","{evil}"\n"INTERPRETER_MAC","{evil}"\n'
                                   f'"PYTHONPATH","{folder}"\n')
    (folder / "return.xlsx").write_bytes(b"")  # the file's content plays no part before Python refuses
    return markers


def hostile_env(folder: Path, home: Path) -> dict[str, str]:
    """The environment at its worst: every variable that could add modules points at the trap."""
    env = dict(os.environ, HOME=str(home), USERPROFILE=str(home), PYTHONPATH=str(folder),
               PYTHONSTARTUP=str(folder / "startup.py"), PYTHONUSERBASE=str(folder), PYTHONHOME="")
    env.pop("PYTHONHOME")
    return env


def record(home: Path, package: Path) -> None:
    C.set_config_values(C.config_file(None, home), {C.interpreter_key(): sys.executable,
                                                    C.PACKAGE_KEY: str(package)})


def run_windows_command(ribbon: str, folder: Path, home: Path, options_removed: bool = False
                        ) -> tuple[subprocess.CompletedProcess[str], str]:
    log = folder.parent / "log dir" / "tracker-addin.log"
    log.parent.mkdir(exist_ok=True)
    argv = windows_argv(ribbon, sys.executable, str(log), "validate", "return.xlsx", "1")
    if options_removed:
        argv = [a for a in argv if a not in trust.PYTHON_OPTIONS]
    done = subprocess.run(argv, cwd=folder, env=hostile_env(folder, home), capture_output=True, text=True,
                          timeout=300)
    return done, log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


def test_the_command_line_uses_the_installed_package_never_the_fakes(ribbon: str, tmp_path: Path) -> None:
    folder, home = tmp_path / "inbox", tmp_path / "home"
    markers = trap(folder)
    record(home, PACKAGE)
    done, log = run_windows_command(ribbon, folder, home)
    assert not [k for k, m in markers.items() if m.exists()], log
    # It got past the installation check into the real add-in code, and stopped at the one thing Linux
    # lacks: an interactive Excel for xw.Book.caller().
    assert done.returncode == 1, log
    assert str(PACKAGE / "addin" / "excel.py") in log and "interactive mode of xlwings" in log


def test_the_command_line_refuses_another_installation(ribbon: str, tmp_path: Path) -> None:
    folder, home = tmp_path / "inbox", tmp_path / "home"
    markers = trap(folder)
    record(home, folder / "tracker")  # the config names another tracker: refuse, whichever is loaded
    done, log = run_windows_command(ribbon, folder, home)
    assert not [k for k, m in markers.items() if m.exists()], log
    assert done.returncode == launch.EXIT_REFUSED
    assert log.startswith("Tracker refused to run: ") and f"tracker was loaded from {PACKAGE}" in log
    assert "nothing was run" in log


def test_without_isolation_the_trap_would_spring(ribbon: str, tmp_path: Path) -> None:
    # The same command without -I: Python puts the current folder (the workbook's) on sys.path and
    # honours PYTHONPATH, and the fake package runs. This is what -I prevents, and what the tests
    # above would miss if the trap were not real.
    folder, home = tmp_path / "inbox", tmp_path / "home"
    markers = trap(folder)
    record(home, PACKAGE)
    run_windows_command(ribbon, folder, home, options_removed=True)
    assert markers["tracker"].exists() and markers["sitecustomize"].exists()


# == the macOS launcher script, rendered and evaluated =============================================


def _applescript_literal(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _applescript_eval(expr: str, names: dict[str, str]) -> str:
    """Evaluate an AppleScript text expression of literals, names, ``&``, ``quoted form of`` and ( )."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|quoted form of|\w+|[&()]', expr)
    pos = 0

    def term() -> str:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "quoted form of":
            # AppleScript's "quoted form": in single quotes, each ' written as '\''
            return "'" + term().replace("'", "'\\''") + "'"
        if tok == "(":
            value = concat()
            assert tokens[pos] == ")"
            pos += 1
            return value
        if tok.startswith('"'):
            return _applescript_literal(tok[1:-1])
        return names[tok]

    def concat() -> str:
        nonlocal pos
        value = term()
        while pos < len(tokens) and tokens[pos] == "&":
            pos += 1
            value += term()
        return value

    out = concat()
    assert pos == len(tokens), expr
    return out


def launcher(python: str, home: Path) -> tuple[dict[str, str], list[str], str]:
    """(properties, actions, handler text) of the launcher script as install renders it."""
    text = I.launcher_script(python, "macos", home)
    assert not re.search(r"@[A-Z_]+@", text), "a field was left unfilled"
    props = {k: _applescript_literal(v) for k, v in re.findall(r'^property (\w+) : "((?:[^"\\]|\\.)*)"$', text,
                                                                 re.MULTILINE)}
    m = re.search(r"^property knownActions : \{(.*)\}$", text, re.MULTILINE)
    assert m
    actions = [_applescript_literal(a) for a in re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))]
    handler = text[text.index("on RunTracker("):text.index("end RunTracker")].replace("¬\n", " ")
    return props, actions, handler


def mac_commands(python: str, home: Path, action: str, book: str) -> tuple[str, str]:
    """(the Python command, the whole background command) the script hands to the shell."""
    props, _, handler = launcher(python, home)
    names = {**props, "action": action, "bookName": book}
    for var in ("python", "callBack"):
        m = re.search(rf"^\s*set {var} to (.+)$", handler, re.MULTILINE)
        assert m, var
        names[var] = _applescript_eval(m.group(1), names)
    m = re.search(r"^\s*do shell script (.+)$", handler, re.MULTILINE)
    assert m
    return names["python"], _applescript_eval(m.group(1), names)


def test_the_launcher_script_is_the_installation(tmp_path: Path) -> None:
    python = '/Users/Zoë/My "tracker" \\ env/bin/python'
    props, actions, handler = launcher(python, tmp_path)
    assert props["pythonPath"] == python  # escaped for AppleScript, read back intact
    assert props["pythonOptions"] == " ".join(trust.PYTHON_OPTIONS)
    assert props["bootstrap"] == launch.BOOTSTRAP
    assert Path(props["logFile"]) == C.config_file("macos", tmp_path).parent / I.LOG_NAME  # Environ("HOME") in VBA
    assert props["finishedMacro"] == f"'{B.ADDIN_NAME}'!TrackerRibbon.TrackerFinished"
    assert actions == list(launch.ACTIONS)
    # The two values from Excel: the action, checked against the list, and the name, only ever quoted.
    assert "if knownActions does not contain action then error" in handler
    assert handler.index("does not contain action") < handler.index("set python to")
    assert [line.strip() for line in handler.splitlines() if "bookName" in line] == [
        "set bookName to text (splitAt + 1) thru -1 of parameterString",
        next(line.strip() for line in handler.splitlines() if line.strip().startswith("set python to"))]
    assert 'quoted form of ("--wb=" & bookName)' in handler
    assert "bash_profile" not in handler  # xlwings' script runs the user's shell profile first; ours does not


def test_the_vba_calls_the_launcher_and_the_launcher_calls_back(ribbon: str) -> None:
    code = _code(ribbon)
    assert re.search(r"^Public Sub TrackerFinished\(\)$", code, re.MULTILINE)  # no argument: the script passes none
    assert re.search(r'^Attribute VB_Name = "TrackerRibbon"', ribbon)
    script = (REPO / "macros" / I.LAUNCHER_TEMPLATE).read_text(encoding="utf-8")
    assert re.search(r"^on RunTracker\(parameterString\)$", script, re.MULTILINE)


def test_the_macos_shell_command_passes_a_hostile_name_intact(tmp_path: Path) -> None:
    # The script's own shell command, run by /bin/sh with a stand-in interpreter that records its
    # arguments: $( ), backquotes, quotes and a line feed in the workbook's name reach Python as text.
    got = tmp_path / "argv.json"
    stand_in = tmp_path / "bin" / "python"
    stand_in.parent.mkdir()
    stand_in.write_text(f"#!{sys.executable}\nimport json, sys\nopen({str(got)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    stand_in.chmod(0o755)
    python, whole = mac_commands(str(stand_in), tmp_path, "validate", HOSTILE_MAC_NAME)
    subprocess.run(["/bin/sh", "-c", python], cwd=tmp_path, check=True, timeout=120)
    log = str(C.config_file("macos", tmp_path).parent / I.LOG_NAME)
    assert json.loads(got.read_text()) == ["-I", "-c", launch.BOOTSTRAP, log, "validate",
                                           "--wb=" + HOSTILE_MAC_NAME, "--from_xl=1"]
    assert not list(tmp_path.glob("PWNED*"))
    # The whole command: Python with its stderr appended to the log, then the call back, in the
    # background so that the handler returns at once.
    assert whole == f"({python} 2>>'{log}'; osascript -e " \
        f"'tell application id \"com.microsoft.Excel\" to run VB macro \"'\\''tracker.xlam'\\''!" \
        f"TrackerRibbon.TrackerFinished\"') >/dev/null 2>&1 &"


def test_the_macos_shell_command_uses_the_installed_package_never_the_fakes(tmp_path: Path) -> None:
    folder, home = tmp_path / "inbox", tmp_path / "home"
    markers = trap(folder)
    record(home, PACKAGE)
    C.config_file("macos", home).parent.mkdir(parents=True)
    _, whole = mac_commands(sys.executable, home, "validate", "return.xlsx")
    assert whole.endswith(" &")
    # The same command in the foreground (without the final "&"), so that the test can wait for it;
    # osascript is not found here, which only ends the call back.
    subprocess.run(["/bin/sh", "-c", whole[:-2]], cwd=folder, env=hostile_env(folder, home), timeout=300)
    log = (C.config_file("macos", home).parent / I.LOG_NAME).read_text(encoding="utf-8")
    assert not [k for k, m in markers.items() if m.exists()], log
    assert str(PACKAGE / "addin" / "excel.py") in log and "interactive mode of xlwings" in log


# == the user's config file ========================================================================


def test_config_is_written_as_xlwings_writes_it_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Python's text mode on a UK Windows: the ANSI code page cp1252 and CRLF -- what VBA's Input # reads.
    monkeypatch.setattr(C, "ansi_code_page", lambda: "cp1252")
    conf = tmp_path / "xlwings.conf"
    python = "C:\\Users\\Zoë\\tracker\\.venv\\Scripts\\python.exe"
    C.set_config_values(conf, {"INTERPRETER_WIN": python, "TRACKER_PACKAGE": "C:\\Users\\Zoë\\tracker\\tracker"},
                        "windows")
    assert conf.read_bytes() == (b'"INTERPRETER_WIN","C:\\Users\\Zo\xeb\\tracker\\.venv\\Scripts\\python.exe"\r\n'
                                 b'"TRACKER_PACKAGE","C:\\Users\\Zo\xeb\\tracker\\tracker"\r\n')
    assert C.read_config(conf, "windows")["INTERPRETER_WIN"] == python


def test_an_older_utf8_config_is_rewritten_in_the_ansi_code_page(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "ansi_code_page", lambda: "cp1252")
    conf = tmp_path / "xlwings.conf"
    conf.write_bytes('"PYTHONPATH","C:\\Zoë"\n\n"INTERPRETER_WIN","C:\\old.exe"\n'.encode("utf-8"))
    C.set_config_values(conf, {"INTERPRETER_WIN": "C:\\new.exe"}, "windows")
    assert conf.read_bytes() == b'"PYTHONPATH","C:\\Zo\xeb"\r\n"INTERPRETER_WIN","C:\\new.exe"\r\n'


def test_a_path_the_ansi_code_page_cannot_hold_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "ansi_code_page", lambda: "cp1252")
    conf = tmp_path / "xlwings.conf"
    conf.write_bytes(b'"INTERPRETER_WIN","C:\\old.exe"\r\n')
    with pytest.raises(C.AddinConfigError, match=r"'张'.*ANSI code page \(cp1252\)"):
        C.set_config_values(conf, {"INTERPRETER_WIN": "C:\\Users\\张\\python.exe"}, "windows")
    assert conf.read_bytes() == b'"INTERPRETER_WIN","C:\\old.exe"\r\n'  # untouched
    with pytest.raises(C.AddinConfigError, match="double quote"):
        C.set_config_values(conf, {"INTERPRETER_WIN": 'C:\\a"b.exe'}, "windows")


def test_config_on_macos_is_utf8_with_line_feeds(tmp_path: Path) -> None:
    conf = tmp_path / "xlwings.conf"
    C.set_config_values(conf, {"INTERPRETER_MAC": "/Users/Zoë/.venv/bin/python"}, "macos")
    assert conf.read_bytes() == '"INTERPRETER_MAC","/Users/Zoë/.venv/bin/python"\n'.encode("utf-8")


# == the Python side refuses what it cannot trust ===================================================


def test_a_process_not_started_isolated_is_refused(tmp_path: Path) -> None:
    # pytest itself runs without -I: exactly the situation of a Python started by xlwings' RunPython.
    assert not trust.is_isolated()
    record(tmp_path, PACKAGE)
    with pytest.raises(trust.AddinTrustError, match="without isolation"):
        trust.check_installation(home=tmp_path)


@pytest.mark.parametrize("recorded, message", [
    (None, "records no tracker installation"),
    ("elsewhere/tracker", "tracker was loaded from"),
])
def test_a_process_that_is_not_the_recorded_installation_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: str | None, message: str) -> None:
    monkeypatch.setattr(trust, "is_isolated", lambda: True)
    if recorded is not None:
        record(tmp_path, tmp_path / recorded)
    with pytest.raises(trust.AddinTrustError, match=message):
        trust.check_installation(home=tmp_path)
    record(tmp_path, PACKAGE)
    assert trust.check_installation(home=tmp_path) == PACKAGE


def test_a_button_run_from_excel_checks_the_installation_before_touching_the_workbook(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import xlwings

    from tracker.addin import excel

    def caller() -> None:
        raise AssertionError("xw.Book.caller() was reached before the installation was checked")

    monkeypatch.setattr(xlwings.Book, "caller", staticmethod(caller))
    for function in launch.ACTIONS.values():
        with pytest.raises(trust.AddinTrustError):  # not swallowed into a message box: the launcher says it
            getattr(excel, function)()


def test_the_launcher_runs_only_its_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        launch.main("__import__('os').system('x')")
    assert exit_.value.code == launch.EXIT_USAGE and "unknown action" in capsys.readouterr().err


def test_install_checks_the_interpreter_as_the_add_in_starts_it(tmp_path: Path) -> None:
    assert I.check_isolated_import(sys.executable) == PACKAGE
    # A Python that cannot import tracker when isolated (e.g. tracker installed with pip --user):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'tracker'\" >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(TrackerError, match=r"cannot import tracker and xlwings \(ModuleNotFoundError.*--user"):
        I.check_isolated_import(str(fake))
