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


def test_settings_sheet_renamed_for_the_xlwings_config_name(xlam: Path) -> None:
    with zipfile.ZipFile(xlam) as z:
        workbook = z.read("xl/workbook.xml").decode()
    assert f'name="{B.CONF_SHEET}"' in workbook and "myaddin" not in workbook


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
        "Validate", "Roll up", "New learner workbook", "Open centre folder"}
    assert all(b.get("imageMso") for b in buttons)
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
    assert set(modules) == {"ThisWorkbook", "Sheet2", "Dictionary", "xlwings",
                            *_macros_modules()}


def test_macros_modules_are_stored_as_written(xlam: Path) -> None:
    modules = _olevba_modules(xlam)
    for name, text in _macros_modules().items():
        assert _norm(modules[name]) == _norm(text), name


def test_xlwings_module_is_the_installed_one_with_only_its_project_name_changed(
        xlam: Path) -> None:
    stored = _norm(_olevba_modules(xlam)["xlwings"])
    original = _norm((B.xlwings_dir() / B.XLWINGS_MODULE_FILE).read_bytes().decode("cp1252"))
    assert stored == _norm(B.xlwings_module_source())
    changed = [(a, b) for a, b in zip(original.split("\n"), stored.split("\n")) if a != b]
    assert len(original.split("\n")) == len(stored.split("\n"))
    assert changed == [('Public Const PROJECT_NAME As String = "myaddin"',
                        'Public Const PROJECT_NAME As String = "xlwings"')]


def test_dictionary_class_is_the_installed_one(xlam: Path) -> None:
    stored = _norm(_olevba_modules(xlam)["Dictionary"]).split("\n")
    original = _norm((B.xlwings_dir() / B.DICTIONARY_CLASS_FILE).read_bytes().decode("cp1252"))
    body = [line for line in original.split("\n")[4:] if not line.startswith("Attribute VB_")]
    assert [line for line in stored if not line.startswith("Attribute VB_")] == body


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


RUNPYTHON = re.compile(r'RunPython\s+"import ([\w.]+) as (\w+); (\w+)\.(\w+)\(\)"')


def _runpython_targets() -> list[tuple[str, str]]:
    targets = []
    for text in _macros_modules().values():
        for line in text.splitlines():
            if re.match(r"\s*RunPython\b", line):
                m = RUNPYTHON.search(line)
                assert m, f"RunPython call not of the form 'import M as t; t.f()': {line}"
                module, alias, used, function = m.groups()
                assert used == alias, line
                targets.append((module, function))
    return targets


def test_runpython_calls_name_the_add_in_functions() -> None:
    targets = _runpython_targets()
    assert sorted(f for _, f in targets) == [
        "new_workbook", "open_centre_folder", "rollup", "validate"]
    assert {m for m, _ in targets} == {"tracker.addin.excel"}


def test_runpython_targets_exist() -> None:
    targets = _runpython_targets()
    for module_name, function in targets:
        module = importlib.import_module(module_name)
        assert callable(getattr(module, function, None)), f"{module_name}.{function}"
        # RunPython calls it with no argument: the book defaults to xw.Book.caller().
        params = inspect.signature(getattr(module, function)).parameters.values()
        assert all(p.default is not inspect.Parameter.empty for p in params), f"{module_name}.{function}"


def test_validate_restores_sheet_protection_on_every_path() -> None:
    text = _macros_modules()["TrackerRibbon"]
    validate = text[text.index("Sub TrackerValidate("):]
    validate = validate[:validate.index("End Sub")]
    # the handler is set before anything is unprotected, and every way out passes Cleanup
    assert validate.index("On Error GoTo Failed") < validate.index("UnprotectSheets")
    assert validate.index("RunPython") < validate.index("Cleanup:") < \
        validate.index("ReprotectSheets")
    assert "Resume Cleanup" in validate
    assert validate.count("Exit Sub") == 2  # no workbook (before unprotecting) and after Cleanup
    assert 'ws.Unprotect Password:=""' in text and 'ws.Protect Password:=""' in text


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
        assert names == {"ThisWorkbook", "Sheet2", "Dictionary", "xlwings", *_macros_modules()}
        for name, source in [*_macros_modules().items(), ("xlwings", B.xlwings_module_source())]:
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
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    conf = home / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text('"INTERPRETER_WIN","C:\\old\\python.exe"\n"PYTHONPATH","C:\\x"\n')
    target = I.install(xlam)
    assert target == tmp_path / "roaming" / "Microsoft" / "Excel" / "XLSTART" / "tracker.xlam"
    assert target.read_bytes() == xlam.read_bytes()
    assert conf.read_text().splitlines() == [
        f'"INTERPRETER_WIN","{sys.executable}"', '"PYTHONPATH","C:\\x"']
    info = I.status()
    assert info["installed"] is True and info["interpreter_matches"] is True
    assert info["config_file"] == str(conf)


def test_install_on_macos_layout(xlam: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(I, "_platform", lambda: "macos")
    monkeypatch.setenv("HOME", str(tmp_path))
    target = I.install(xlam)
    assert target == (tmp_path / "Library/Group Containers/UBF8T346G9.Office"
                      / "User Content/Startup/Excel/tracker.xlam")
    conf = tmp_path / "Library/Containers/com.microsoft.Excel/Data/xlwings.conf"
    assert I.read_config(conf) == {"INTERPRETER_MAC": sys.executable}
    scripts = list((tmp_path / "Library/Application Scripts/com.microsoft.Excel").iterdir())
    assert len(scripts) == 1 and scripts[0].name.endswith(".applescript")


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
