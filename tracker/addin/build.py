"""Build ``tracker.xlam`` from text sources, on any OS (Excel is not needed).

The package starts from xlwings' own template for custom ribbon add-ins
(``xlwings/quickstart_addin_ribbon.xlam`` of the installed xlwings: a hidden add-in workbook with
a ``_myaddin.conf`` settings sheet) and replaces

* its ribbon part with ``macros/customUI.xml``, stored as ``customUI/customUI14.xml`` (the Office
  2010 ribbon part, namespace 2009/07), related from ``_rels/.rels``;
* its ``xl/vbaProject.bin`` with a source-only project written by :mod:`tracker.addin.ovba` from
  the document modules the workbook names (ThisWorkbook and its sheet), the ``Dictionary`` class
  and the custom-add-in flavour of the xlwings VBA module (``xlwings_custom_addin.bas``, whose
  RunPython works on the *active* workbook) read from the installed xlwings at build time, and
  every ``macros/*.bas`` file.

The xlwings module's ``PROJECT_NAME`` is set to ``xlwings`` so that it reads the interpreter from
the user's ``xlwings.conf`` (``~/.xlwings/xlwings.conf``), where ``tracker addin install`` writes
it. The ``macros/`` folder is found at the root of the source checkout (the package is installed
editable from it); it is not shipped as package data.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from tracker.addin.ovba import (
    WORKBOOK_BASE,
    WORKSHEET_BASE,
    Module,
    OvbaError,
    build_vba_project,
)
from tracker.errors import TrackerError

PROJECT_NAME = "Tracker"
ADDIN_NAME = "tracker.xlam"
TEMPLATE_NAME = "quickstart_addin_ribbon.xlam"
XLWINGS_MODULE_FILE = "xlwings_custom_addin.bas"
DICTIONARY_CLASS_FILE = "addin/Dictionary.cls"
# The settings sheet of the template, renamed after the config name the VBA module uses
# (the leading underscore keeps it inactive, as in the template).
TEMPLATE_CONF_SHEET = "_myaddin.conf"
CONF_SHEET = "_xlwings.conf"
XLWINGS_PROJECT_NAME = "xlwings"

RIBBON_PART = "customUI/customUI14.xml"
RIBBON_NAMESPACE = "http://schemas.microsoft.com/office/2009/07/customui"
RIBBON_REL_TYPE = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
RIBBON_REL_TYPES = {
    RIBBON_REL_TYPE,
    "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility",
}
VBA_PART = "xl/vbaProject.bin"
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaProject"

_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_QUOTE = {'"': "&quot;"}
_PROJECT_NAME_LINE = re.compile(r'^(Public Const PROJECT_NAME As String = )"[^"]*"', re.MULTILINE)


class AddinBuildError(TrackerError):
    """The add-in cannot be built: xlwings or the macros are missing, or a source is invalid."""


def repo_root() -> Path:
    """The root of the source checkout this package runs from."""
    return Path(__file__).resolve().parents[2]


def macros_dir() -> Path:
    """The folder of the add-in's VBA and ribbon sources (``macros/`` of the checkout)."""
    folder = repo_root() / "macros"
    if not (folder / "customUI.xml").is_file():
        raise AddinBuildError(
            f"{folder}: the add-in sources (macros/customUI.xml, macros/*.bas) are not there; "
            "build the add-in from a source checkout of tracker (pip install -e .)"
        )
    return folder


def xlwings_dir() -> Path:
    """The folder of the installed xlwings package (not imported: only its files are read)."""
    spec = importlib.util.find_spec("xlwings")
    if spec is None or not spec.submodule_search_locations:
        raise AddinBuildError(
            "xlwings is not installed; it is needed to build the add-in: "
            "pip install 'tracker[excel]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("cp1252")
    except OSError as e:
        raise AddinBuildError(f"{path}: cannot be read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise AddinBuildError(f"{path}: not in code page 1252") from None


def xlwings_module_source(xlwings: Path | None = None) -> str:
    """The xlwings VBA module as built into the add-in: the installed custom-add-in module
    with ``PROJECT_NAME`` set to "xlwings" (its only change)."""
    path = (xlwings or xlwings_dir()) / XLWINGS_MODULE_FILE
    text = _read_text(path)
    text, count = _PROJECT_NAME_LINE.subn(rf'\1"{XLWINGS_PROJECT_NAME}"', text, count=1)
    if count != 1:
        raise AddinBuildError(f"{path}: no PROJECT_NAME constant (unknown xlwings version?)")
    return text


def _workbook_code_names(package: zipfile.ZipFile) -> tuple[str, list[str]]:
    """The code names of the workbook and of its sheets, in the order of the workbook."""
    workbook = ElementTree.fromstring(package.read("xl/workbook.xml"))
    pr = workbook.find(f"{{{_MAIN_NS}}}workbookPr")
    book_name = (pr.get("codeName") if pr is not None else None) or "ThisWorkbook"
    rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    sheet_names: list[str] = []
    sheets = workbook.find(f"{{{_MAIN_NS}}}sheets")
    for i, sheet in enumerate(sheets if sheets is not None else [], start=1):
        target = targets.get(sheet.get(f"{{{_DOC_REL_NS}}}id"), "")
        part = str(PurePosixPath("xl") / target) if not target.startswith("/") else target[1:]
        xml = ElementTree.fromstring(package.read(part))
        sheet_pr = xml.find(f"{{{_MAIN_NS}}}sheetPr")
        code = sheet_pr.get("codeName") if sheet_pr is not None else None
        sheet_names.append(code or f"Sheet{i}")
    return book_name, sheet_names


def project_modules(template: zipfile.ZipFile, macros: Path, xlwings: Path) -> list[Module]:
    """The modules of the add-in's VBA project, in project order."""
    book, sheets = _workbook_code_names(template)
    modules = [Module.document(book, WORKBOOK_BASE)]
    modules += [Module.document(name, WORKSHEET_BASE) for name in sheets]
    try:
        modules.append(Module.from_cls(_read_text(xlwings / DICTIONARY_CLASS_FILE)))
        modules.append(Module.from_bas(xlwings_module_source(xlwings)))
        for bas in sorted(macros.glob("*.bas")):
            modules.append(Module.from_bas(_read_text(bas)))
    except OvbaError as e:
        raise AddinBuildError(f"VBA sources: {e}") from None
    return modules


def ribbon_xml(macros: Path) -> bytes:
    """``macros/customUI.xml``, checked to be well-formed and in the 2009/07 namespace."""
    path = macros / "customUI.xml"
    data = path.read_bytes()
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        raise AddinBuildError(f"{path}: not well-formed XML ({e})") from None
    if root.tag != f"{{{RIBBON_NAMESPACE}}}customUI":
        raise AddinBuildError(f"{path}: the root must be customUI in {RIBBON_NAMESPACE}")
    return data


def _package_rels(data: bytes) -> bytes:
    """``_rels/.rels`` with its ribbon relationship pointing at the 2009/07 ribbon part."""
    rels = [dict(rel.attrib) for rel in ElementTree.fromstring(data)
            if rel.get("Type") not in RIBBON_REL_TYPES]
    ids = {rel.get("Id") for rel in rels}
    new_id = next(f"rId{n}" for n in range(1, 1000) if f"rId{n}" not in ids)
    rels.append({"Id": new_id, "Type": RIBBON_REL_TYPE, "Target": RIBBON_PART})
    return _flat_xml("Relationships", _PKG_REL_NS, [("Relationship", rel) for rel in rels])


def _content_types(data: bytes) -> bytes:
    """``[Content_Types].xml`` with the VBA project declared (the ribbon part is plain XML,
    covered by the template's Default for the xml extension)."""
    items: list[tuple[str, dict[str, str]]] = []
    for item in ElementTree.fromstring(data):
        tag = item.tag.rsplit("}", 1)[-1]
        part = item.get("PartName", "")
        if part.lower().startswith("/customui/") or part == f"/{VBA_PART}":
            continue
        items.append((tag, dict(item.attrib)))
    items.append(("Override", {"PartName": f"/{VBA_PART}", "ContentType": VBA_CONTENT_TYPE}))
    return _flat_xml("Types", _CT_NS, items)


def _flat_xml(root: str, namespace: str, children: list[tuple[str, dict[str, str]]]) -> bytes:
    """A root element with attribute-only children (the shape of .rels and content types)."""
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
             f'<{root} xmlns="{escape(namespace, _QUOTE)}">']
    for tag, attrs in children:
        text = " ".join(f'{k}="{escape(v, _QUOTE)}"' for k, v in attrs.items())
        lines.append(f"<{tag} {text}/>")
    lines.append(f"</{root}>")
    return "".join(lines).encode("utf-8")


def _workbook_xml(data: bytes) -> bytes:
    text = data.decode("utf-8")
    old = f'name="{TEMPLATE_CONF_SHEET}"'
    if old in text:
        text = text.replace(old, f'name="{CONF_SHEET}"', 1)
    return text.encode("utf-8")


def build_addin(out: Path, macros: Path | None = None) -> Path:
    """Build the add-in into ``out`` (written to a temporary file, then renamed) and return it."""
    macros = macros or macros_dir()
    xlwings = xlwings_dir()
    template_path = xlwings / TEMPLATE_NAME
    if not template_path.is_file():
        raise AddinBuildError(f"{template_path}: xlwings' add-in template is missing")
    ribbon = ribbon_xml(macros)
    try:
        template = zipfile.ZipFile(template_path)
    except (OSError, zipfile.BadZipFile) as e:
        raise AddinBuildError(f"{template_path}: cannot be read ({e})") from None
    with template:
        modules = project_modules(template, macros, xlwings)
        try:
            vba = build_vba_project(modules, PROJECT_NAME)
        except OvbaError as e:
            raise AddinBuildError(f"VBA project: {e}") from None
        parts: dict[str, bytes] = {}
        for info in template.infolist():
            name = info.filename
            if name.lower().startswith("customui/") or name == VBA_PART:
                continue
            data = template.read(info)
            if name == "_rels/.rels":
                data = _package_rels(data)
            elif name == "[Content_Types].xml":
                data = _content_types(data)
            elif name == "xl/workbook.xml":
                data = _workbook_xml(data)
            parts[name] = data
    parts[RIBBON_PART] = ribbon
    parts[VBA_PART] = vba

    out = Path(out)
    target_dir = out.parent if str(out.parent) else Path(".")
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tracker-addin-", suffix=".tmp", dir=target_dir)
    except OSError as e:
        raise AddinBuildError(f"{target_dir}: cannot write there ({e.strerror})") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            # [Content_Types].xml first, as Office writes it.
            for name in sorted(parts, key=lambda n: n != "[Content_Types].xml"):
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, parts[name])
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise AddinBuildError(f"{out}: cannot be written ({e.strerror or e})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
