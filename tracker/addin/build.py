"""Build ``tracker.xlam`` from text sources, on any OS (Excel is not needed).

The package starts from xlwings' own template for custom ribbon add-ins
(``xlwings/quickstart_addin_ribbon.xlam`` of the installed xlwings: a hidden add-in workbook with
one sheet) and replaces

* its ribbon part with ``macros/customUI.xml``, stored as ``customUI/customUI14.xml`` (the Office
  2010 ribbon part, namespace 2009/07), related from ``_rels/.rels``;
* its ``xl/vbaProject.bin`` with a source-only project written by :mod:`tracker.addin.ovba` from
  the document modules the workbook names (ThisWorkbook and its sheet) and every ``macros/*.bas``
  file;
* its settings sheet ``_myaddin.conf`` (setting names for xlwings' VBA) with a sheet
  :data:`ADDIN_SHEET` that only says the add-in takes no settings from any sheet.

xlwings' VBA module is **not** part of the add-in (README, Security): its ``RunPython`` takes the
interpreter and Python's import path from the active workbook's ``xlwings.conf`` sheet and from a
file in its folder before the user's config, and puts the workbook's folder first on
``sys.path``. ``macros/Tracker.bas`` starts Python itself, with settings only from the user's own
config file. The ``macros/`` folder is found at the root of the source checkout (the package is
installed editable from it); it is not shipped as package data.
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
# The template's settings sheet, and what it becomes: an add-in workbook needs one sheet, and a
# sheet listing xlwings setting names would suggest that settings are taken from it.
TEMPLATE_CONF_SHEET = "_myaddin.conf"
TEMPLATE_SHEET_PART = "xl/worksheets/sheet1.xml"
TEMPLATE_STRINGS_PART = "xl/sharedStrings.xml"
ADDIN_SHEET = "Tracker add-in"
ADDIN_SHEET_TEXT = ("The Tracker add-in takes no settings from any sheet, of this workbook or any other "
                    "(see the README of tracker, Security).")

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


def project_modules(template: zipfile.ZipFile, macros: Path) -> list[Module]:
    """The modules of the add-in's VBA project, in project order."""
    book, sheets = _workbook_code_names(template)
    modules = [Module.document(book, WORKBOOK_BASE)]
    modules += [Module.document(name, WORKSHEET_BASE) for name in sheets]
    try:
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
    if old not in text:
        raise AddinBuildError(f"xlwings' add-in template has no sheet {TEMPLATE_CONF_SHEET} (unknown xlwings version?)")
    return text.replace(old, f'name="{escape(ADDIN_SHEET, _QUOTE)}"', 1).encode("utf-8")


_SHEET_DATA = re.compile(rb"<sheetData>.*</sheetData>|<sheetData\s*/>", re.DOTALL)
_DIMENSION = re.compile(rb'<dimension ref="[^"]*"\s*/>')


def _sheet_xml(data: bytes) -> bytes:
    """The template's sheet with its cells replaced by A1 = :data:`ADDIN_SHEET_TEXT` (shared string 0)."""
    cells = b'<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
    new, count = _SHEET_DATA.subn(cells, data, count=1)
    if count != 1:
        raise AddinBuildError(f"{TEMPLATE_SHEET_PART} of xlwings' add-in template has no cells (unknown xlwings version?)")
    return _DIMENSION.sub(b'<dimension ref="A1"/>', new, count=1)


def _shared_strings() -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="{_MAIN_NS}" count="1" '
            f'uniqueCount="1"><si><t>{escape(ADDIN_SHEET_TEXT)}</t></si></sst>').encode("utf-8")


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
        modules = project_modules(template, macros)
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
            elif name == TEMPLATE_SHEET_PART:
                data = _sheet_xml(data)
            elif name == TEMPLATE_STRINGS_PART:
                data = _shared_strings()
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
