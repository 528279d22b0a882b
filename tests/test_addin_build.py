"""The Excel add-in built on Linux: a valid macro-enabled add-in package whose VBA project
oletools (and LibreOffice) read back module by module, whose ribbon calls existing Subs, and
whose Subs call existing Python functions; plus the install/status logic and the CLI."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

import olefile
import pytest
from libreoffice import convert
from oletools.olevba import VBA_Parser

from tracker.addin import build as B
from tracker.addin import config as C
from tracker.addin import install as I
from tracker.addin.ovba import decompress, decrypt, dir_records
from tracker.errors import TrackerError

REPO = Path(__file__).resolve().parents[1]
MACROS = REPO / "macros"
CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
UI_NS = "{http://schemas.microsoft.com/office/2009/07/customui}"


@pytest.fixture(scope="module")
def xlam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return B.build_addin(tmp_path_factory.mktemp("addin") / "tracker.xlam")


def _norm(text: str) -> str:
    """Line ends normalised, trailing blank lines dropped."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n") + "\n"


def _macros_modules() -> dict[str, str]:
    """VB_Name -> source text of each macros/*.bas."""
    out = {}
    for bas in sorted(MACROS.glob("*.bas")):
        text = bas.read_bytes().decode("cp1252")
        m = re.match(r'Attribute VB_Name = "(\w+)"', text)
        assert m, f"{bas.name} must start with its Attribute VB_Name line"
        out[m.group(1)] = text
    return out


def _subs(text: str) -> set[str]:
    return set(re.findall(r"^(?:Public |Private )?Sub (\w+)\(", text, re.MULTILINE))


# --- The package ----------------------------------------------------------------------------

def test_is_a_valid_zip(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        assert z.testzip() is None
        assert z.namelist()[0] == "[Content_Types].xml"


def _content_type(types: ElementTree.Element, part: str) -> str | None:
    for item in types.findall(f"{CT_NS}Override"):
        if item.get("PartName") == "/" + part:
            return item.get("ContentType")
    ext = part.rsplit("/", 1)[-1].rsplit(".", 1)[-1].lower()  # ".rels" has extension "rels"
    for item in types.findall(f"{CT_NS}Default"):
        if item.get("Extension", "").lower() == ext:
            return item.get("ContentType")
    return None


def test_every_part_has_a_content_type(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        types = ElementTree.fromstring(z.read("[Content_Types].xml"))
        for part in z.namelist():
            if part != "[Content_Types].xml":
                assert _content_type(types, part), part
        assert _content_type(types, "xl/vbaProject.bin") == "application/vnd.ms-office.vbaProject"
        assert _content_type(types, "customUI/customUI14.xml") == "application/xml"
        assert _content_type(types, "xl/workbook.xml") == \
            "application/vnd.ms-excel.addin.macroEnabled.main+xml"
        overrides = [i.get("PartName") for i in types.findall(f"{CT_NS}Override")]
        assert all(p and p[1:] in z.namelist() for p in overrides), overrides


def test_relationships_point_to_existing_parts(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        names = set(z.namelist())
        seen_types = set()
        for rels_name in [n for n in names if n.endswith(".rels")]:
            rels_path = PurePosixPath(rels_name)
            source_dir = rels_path.parent.parent  # "_rels/x.rels" describes its parent folder
            for rel in ElementTree.fromstring(z.read(rels_name)).findall(f"{REL_NS}Relationship"):
                if rel.get("TargetMode") == "External":
                    continue
                target = rel.get("Target", "")
                part = target[1:] if target.startswith("/") else \
                    os.path.normpath(str(source_dir / target)).replace("\\", "/").lstrip("./")
                assert part in names, f"{rels_name}: {target} does not exist"
                seen_types.add((rel.get("Type"), part))
        assert (B.RIBBON_REL_TYPE, "customUI/customUI14.xml") in seen_types
        assert ("http://schemas.microsoft.com/office/2006/relationships/vbaProject",
                "xl/vbaProject.bin") in seen_types
        assert not any(p.startswith("customUI/") and p != "customUI/customUI14.xml"
                       for p in names)


def test_build_is_reproducible(xlam: Path, tmp_path: Path) -> None:
    again = B.build_addin(tmp_path / "again.xlam")
    assert again.read_bytes() == xlam.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["again.xlam"]  # no temporary file left


# The setting names on the sheet of xlwings' add-in template (read by xlwings' VBA, never by ours).
TEMPLATE_SETTINGS = ("Interpreter_Win", "Interpreter_Mac", "PYTHONPATH", "Conda Path", "UDF Modules")


def test_the_add_in_sheet_is_no_settings_sheet(xlam: Path) -> None:
    # Catches a build that keeps the template's "_myaddin.conf" sheet and its setting names: the
    # add-in's one sheet only says that no settings are taken from sheets.
    with zipfile.ZipFile(xlam) as z:
        workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
        sheets = [e.get("name") for e in workbook.iter("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet")]
        xml = b"".join(z.read(n) for n in z.namelist() if n.endswith(".xml"))
    assert sheets == ["Tracker add-in"]
    assert b".conf" not in xml
    for name in TEMPLATE_SETTINGS:
        assert name.encode() not in xml, name
    assert b"takes no settings from any sheet" in xml


# --- The ribbon -----------------------------------------------------------------------------

def _ribbon(xlam: Path) -> ElementTree.Element:
    with zipfile.ZipFile(xlam) as z:
        data = z.read("customUI/customUI14.xml")
    assert data == (MACROS / "customUI.xml").read_bytes()
    return ElementTree.fromstring(data)


def test_ribbon_has_the_tracker_tab_and_its_buttons(xlam: Path) -> None:
    root = _ribbon(xlam)
    assert root.tag == f"{UI_NS}customUI"
    tabs = root.findall(f".//{UI_NS}tab")
    assert [t.get("label") for t in tabs] == ["Tracker"]
    buttons = tabs[0].findall(f".//{UI_NS}button")
    assert {b.get("label") for b in buttons} == {
        "Validate", "Roll up", "Report", "New learner workbook", "Open centre folder", "Issue workbooks"}
    assert all(b.get("imageMso") for b in buttons)
    # Icons from Excel's own list of control identifiers (Microsoft's excelcontrols.xlsx of
    # OfficeDev/office-fluent-ui-command-identifiers, Microsoft 365 Current Channel): each name with
    # the place Excel shows it. "AcceptInvitation", used before, is in Outlook's list, not Excel's.
    excel_controls = {"DataValidation": "Data > Data Tools", "Consolidate": "Data > Data Tools",
                      "FileNew": "(not on the ribbon)", "FileOpen": "(not on the ribbon)", "Copy": "Home > Clipboard",
                      "PivotTableInsert": "Insert > Tables", "ErrorChecking": "Formulas > Formula Auditing"}
    assert {b.get("imageMso") for b in buttons} <= set(excel_controls)
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))


def test_every_on_action_names_a_sub_of_the_macros(xlam: Path) -> None:
    subs: set[str] = set()
    for text in _macros_modules().values():
        subs |= _subs(text)
        # ribbon callbacks take the control
        for name in re.findall(r"Sub (\w+)\(control As IRibbonControl\)", text):
            subs.add(name)
    actions = [e.get("onAction") for e in _ribbon(xlam).iter() if e.get("onAction")]
    assert actions
    for action in actions:
        assert action is not None
        assert action.split(".")[-1] in subs, action
    texts = "".join(_macros_modules().values())
    for action in actions:
        assert re.search(rf"Sub {action}\(control As IRibbonControl\)", texts), action


# --- The VBA project ------------------------------------------------------------------------

def _olevba_modules(xlam: Path) -> dict[str, str]:
    parser = VBA_Parser(str(xlam))
    try:
        assert parser.detect_vba_macros()
        return {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros()}
    finally:
        parser.close()


def _vba_bin(xlam: Path) -> bytes:
    with zipfile.ZipFile(xlam) as z:
        return z.read("xl/vbaProject.bin")


def test_olevba_extracts_every_module(xlam: Path) -> None:
    modules = _olevba_modules(xlam)
    # No xlwings VBA module (nor its Dictionary class): its RunPython reads settings from the active
    # workbook and its folder (README, Security).
    assert set(modules) == {"ThisWorkbook", "Sheet2", *_macros_modules()}


def test_macros_modules_are_stored_as_written(xlam: Path) -> None:
    modules = _olevba_modules(xlam)
    for name, text in _macros_modules().items():
        assert _norm(modules[name]) == _norm(text), name


def test_document_modules_match_the_workbook_code_names(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        book, sheets = B._workbook_code_names(z)
    modules = _olevba_modules(xlam)
    assert modules[book].startswith(
        f'Attribute VB_Name = "{book}"\r\n'
        'Attribute VB_Base = "0{00020819-0000-0000-C000-000000000046}"')
    for sheet in sheets:
        assert 'Attribute VB_Base = "0{00020820-0000-0000-C000-000000000046}"' in modules[sheet]


def test_project_is_source_only_unprotected_and_named_tracker(xlam: Path) -> None:
    ole = olefile.OleFileIO(_vba_bin(xlam))
    try:
        assert ole.openstream("VBA/_VBA_PROJECT").read() == bytes.fromhex("CC61FFFF000100")
        records = dir_records(decompress(ole.openstream("VBA/dir").read()))
        project = ole.openstream("PROJECT").read().decode("cp1252")
    finally:
        ole.close()
    assert dict(records)[0x0004] == b"Tracker"
    assert all(int.from_bytes(d, "little") == 0 for rid, d in records if rid == 0x0031)
    values = dict(line.split("=", 1) for line in project.split("\r\n") if "=" in line)
    assert values["Name"] == '"Tracker"'
    assert decrypt(values["CMG"].strip('"')) == bytes(4)
    assert decrypt(values["DPB"].strip('"')) == b"\x00"
    assert decrypt(values["GC"].strip('"')) == b"\xff"


BUTTON = re.compile(r'Public Sub (\w+)\(control As IRibbonControl\)\s*\n(?:\s*\'[^\n]*\n)*\s*RunButton "([\w-]+)"')


def _button_actions() -> dict[str, str]:
    """Ribbon callback -> the action it runs (the first argument of its RunButton call)."""
    text = _macros_modules()["TrackerRibbon"]
    return dict(BUTTON.findall(text))


def test_every_button_runs_an_action_of_the_launcher() -> None:
    from tracker.addin.launch import ACTIONS

    callbacks = _button_actions()
    actions = [e.get("onAction") for e in ElementTree.parse(MACROS / "customUI.xml").iter() if e.get("onAction")]
    assert sorted(callbacks) == sorted(actions)  # every button's Sub starts with its RunButton call
    assert sorted(callbacks.values()) == sorted(ACTIONS)  # and each action is one the launcher knows


def test_launcher_actions_name_the_add_in_functions() -> None:
    from tracker.addin import excel
    from tracker.addin.launch import ACTIONS

    assert sorted(ACTIONS.values()) == ["issue_workbooks", "new_workbook", "open_centre_folder", "report",
                                          "rollup", "validate"]
    for function in ACTIONS.values():
        fn = getattr(excel, function)
        # Called with no argument: the book defaults to xw.Book.caller().
        params = inspect.signature(fn).parameters.values()
        assert all(p.default is not inspect.Parameter.empty for p in params), function


def _body(text: str, header: str) -> str:
    start = text.index(header)
    return text[start:text.index("\nEnd ", start)]


def test_every_button_restores_sheet_protection_on_every_path() -> None:
    text = _macros_modules()["TrackerRibbon"]
    run = _body(text, "Private Sub RunButton(")
    # the handler is set before anything is unprotected, and every way out after it passes Cleanup
    assert run.index("On Error GoTo Failed") < run.index("UnprotectSheets") < run.index("StartPython")
    assert run.index("StartPython") < run.index("Cleanup:") < run.index("ReprotectSheets")
    assert "Resume Cleanup" in run
    assert run.count("Exit Sub") == 3  # no earlier run finished, no workbook (nothing unprotected), after Cleanup
    # on macOS a started Python ends later: then TrackerFinished protects the sheets
    assert "If Not (started And IsMac()) Then" in run
    assert "ReprotectSheets" in _body(text, "Public Sub TrackerFinished()")
    assert 'ws.Unprotect Password:=""' in text and 'ws.Protect Password:=""' in text


def test_every_error_in_the_vba_is_handled_or_passed_to_a_handler() -> None:
    # Catches a Sub or Function reached from a button that raises with no handler up the chain: every
    # button goes through RunButton, whose handler catches what StartPython and its helpers raise;
    # TrackerFinished (called by the macOS launcher, outside any button) ignores errors itself.
    text = _macros_modules()["TrackerRibbon"]
    for sub in re.findall(r"Public Sub (Tracker\w+)\(control As IRibbonControl\)", text):
        body = _body(text, f"Public Sub {sub}(")
        calls = [line.strip() for line in body.splitlines()[1:] if line.strip() and not line.strip().startswith("'")]
        assert calls and calls[0].startswith("RunButton "), sub
    assert "On Error Resume Next" in _body(text, "Public Sub TrackerFinished()")


# --- LibreOffice reads the VBA project (an independent MS-OVBA reader) ------------------------

@pytest.mark.libreoffice
def test_libreoffice_imports_every_module(xlam: Path, tmp_path: Path) -> None:
    # LibreOffice does not open add-ins (.xlam); the same package as a visible .xlsm it does.
    xlsm = tmp_path / "tracker.xlsm"
    with zipfile.ZipFile(xlam) as src, zipfile.ZipFile(xlsm, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"application/vnd.ms-excel.addin.macroEnabled.main+xml",
                                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
            elif info.filename == "xl/workbook.xml":
                data = data.replace(b'visibility="hidden"', b"")
            dst.writestr(info, data)
    ods = convert(xlsm, tmp_path / "out", "ods")
    with zipfile.ZipFile(ods) as z:
        library = ElementTree.fromstring(z.read("Basic/Tracker/script-lb.xml"))
        names = {e.get("{http://openoffice.org/2000/library}name") for e in library}
        assert names == {"ThisWorkbook", "Sheet2", *_macros_modules()}
        for name, source in _macros_modules().items():
            module = ElementTree.fromstring(z.read(f"Basic/Tracker/{name}.xml"))
            code = _norm(module.text or "").split("\n")
            assert code[:2] == ["Rem Attribute VBA_ModuleType=VBAModule", "Option VBASupport 1"]
            expected = [line for line in _norm(source).split("\n")
                        if not line.startswith("Attribute VB_")]
            assert code[2:] == expected, name


# --- Install and status ---------------------------------------------------------------------

def test_install_fails_clearly_where_there_is_no_excel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(I, "_platform", lambda: "linux")
    with pytest.raises(TrackerError, match="only be installed on Windows or macOS"):
        I.install(None)
    info = I.status()
    assert info["supported"] is False and info["installed"] is False
    assert info["addin_path"] is None


def test_install_on_windows_layout(xlam: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setattr(I, "_platform", lambda: "windows")
    monkeypatch.setattr(C, "ansi_code_page", lambda: "cp1252")  # the ANSI code page of a UK Windows
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    conf = home / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir(parents=True)
    conf.write_bytes(b'"INTERPRETER_WIN","C:\\old\\python.exe"\r\n"PYTHONPATH","C:\\x"\r\n')
    target = I.install(xlam)
    assert target == tmp_path / "roaming" / "Microsoft" / "Excel" / "XLSTART" / "tracker.xlam"
    assert target.read_bytes() == xlam.read_bytes()
    # The interpreter replaced in place, the user's other line kept, the package recorded; CRLF.
    package = REPO / "tracker"
    assert conf.read_bytes() == (f'"INTERPRETER_WIN","{sys.executable}"\r\n"PYTHONPATH","C:\\x"\r\n'
                                 f'"TRACKER_PACKAGE","{package}"\r\n').encode("cp1252")
    info = I.status()
    assert info["installed"] is True and info["interpreter_matches"] is True
    assert info["package_matches"] is True and info["recorded_package"] == str(package)
    assert info["config_file"] == str(conf)
    assert not (home / "Library").exists()  # no macOS launcher on Windows


def test_install_on_macos_layout(xlam: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(I, "_platform", lambda: "macos")
    monkeypatch.setenv("HOME", str(tmp_path))
    target = I.install(xlam)
    assert target == (tmp_path / "Library/Group Containers/UBF8T346G9.Office"
                      / "User Content/Startup/Excel/tracker.xlam")
    conf = tmp_path / "Library/Containers/com.microsoft.Excel/Data/xlwings.conf"
    assert conf.read_bytes() == (f'"INTERPRETER_MAC","{sys.executable}"\n'
                                 f'"TRACKER_PACKAGE","{REPO / "tracker"}"\n').encode("utf-8")
    scripts = list((tmp_path / "Library/Application Scripts/com.microsoft.Excel").iterdir())
    assert [p.name for p in scripts] == ["tracker.applescript"]  # the name the VBA passes to AppleScriptTask
    assert f'property pythonPath : "{sys.executable}"' in scripts[0].read_text(encoding="utf-8")
    assert I.status()["launcher_installed"] is True


def test_install_rejects_a_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(I, "_platform", lambda: "windows")
    monkeypatch.setenv("APPDATA", str(tmp_path))
    with pytest.raises(TrackerError, match="no such add-in file"):
        I.install(tmp_path / "nope.xlam")


# --- CLI ------------------------------------------------------------------------------------

def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=str(home))
    return subprocess.run([sys.executable, "-m", "tracker", "addin", *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd=home)


def test_cli_build(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "X.xlam"
    result = _cli("build", "-o", str(out), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and zipfile.is_zipfile(out)
    assert str(out) in result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="would really install")
def test_cli_install_fails_cleanly_on_linux(tmp_path: Path) -> None:
    result = _cli("install", home=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracker: "), result.stderr
    assert "Traceback" not in result.stderr


def test_cli_status(tmp_path: Path) -> None:
    result = _cli("status", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "installed:" in result.stdout and "config_file:" in result.stdout


def test_cli_needs_an_action(tmp_path: Path) -> None:
    assert _cli(home=tmp_path).returncode == 2
