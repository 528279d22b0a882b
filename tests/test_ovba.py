"""The MS-OVBA writer: compression against the spec's examples and Office-written streams,
round trips (also through oletools' independent decompressor), PROJECT-stream encryption, the
dir stream and the compound file."""

from __future__ import annotations

import random
import struct
import zipfile
from pathlib import Path

import olefile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oletools.olevba import decompress_stream

from tracker.addin import ovba
from tracker.addin.ovba import (
    Module,
    ModuleKind,
    OvbaError,
    build_vba_project,
    chunk_kinds,
    compress,
    decompress,
    decrypt,
    dir_records,
    encrypt,
)

# [MS-OVBA] 3.2.1 "No Compression Example"
NO_COMPRESSION = b"abcdefghijklmnopqrstuv."
NO_COMPRESSION_C = bytes.fromhex(
    "01 19 B0 00 61 62 63 64 65 66 67 68 00 69 6A 6B 6C 6D 6E 6F 70 00 71 72 73 74 75 76 2E")
# [MS-OVBA] 3.2.2 "Normal Compression Example"
NORMAL = b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa"
NORMAL_C = bytes.fromhex(
    "01 2F B0 00 23 61 61 61 62 63 64 65 82 66 00 70 61 67 68 69 6A 01 38 08 61 6B 6C 00 30"
    " 6D 6E 6F 70 06 71 02 70 04 10 72 73 74 75 76 10 77 78 79 7A 00 3C")
# [MS-OVBA] 3.2.3 "Maximum Compression Example": 73 times "a"
MAXIMUM = b"a" * 73
MAXIMUM_C = bytes.fromhex("01 03 B0 02 61 45 00")
# A module stream written by Excel 2013 whose first copy token is at position 31 (5-bit
# offsets), as published in the tests of the ovba Rust crate.
EXCEL_31 = b'Attribute VB_Name = "a"\r\nabcdefAttribute\r\n'
EXCEL_31_C = bytes.fromhex(
    "01 27 B0 00 41 74 74 72 69 62 75 74 00 65 20 56 42 5F 4E 61 6D 00 65 20 3D 20 22 61 22"
    " 0D 80 0A 61 62 63 64 65 66 06 F0 00 0D 0A")

SPEC_VECTORS = [
    (NO_COMPRESSION, NO_COMPRESSION_C),
    (NORMAL, NORMAL_C),
    (MAXIMUM, MAXIMUM_C),
    (EXCEL_31, EXCEL_31_C),
]


@pytest.mark.parametrize(("plain", "packed"), SPEC_VECTORS)
def test_spec_examples_compress_to_the_exact_bytes(plain: bytes, packed: bytes) -> None:
    assert compress(plain) == packed


@pytest.mark.parametrize(("plain", "packed"), SPEC_VECTORS)
def test_spec_examples_decompress(plain: bytes, packed: bytes) -> None:
    assert decompress(packed) == plain
    assert bytes(decompress_stream(bytearray(packed))) == plain


def test_pseudocode_matching_differs_from_the_example_only_in_copy_offsets() -> None:
    # The pseudocode of 2.4.1.3.19.4 tries every earlier position; the example (what Office
    # writes) only earlier token starts. Same length, same data, nearer offsets.
    every = compress(NORMAL, every_position=True)
    assert every != NORMAL_C
    assert len(every) == len(NORMAL_C)
    assert decompress(every) == NORMAL


@pytest.mark.parametrize(("difference", "bits"), [
    (1, 4), (16, 4), (17, 5), (32, 5), (33, 6), (64, 6), (65, 7), (128, 7), (129, 8),
    (256, 8), (257, 9), (512, 9), (513, 10), (1024, 10), (1025, 11), (2048, 11), (2049, 12),
    (4095, 12),
])
def test_copy_token_bit_count_depends_on_the_position_in_the_chunk(difference: int,
                                                                   bits: int) -> None:
    bit_count, length_mask, maximum_length = ovba._copy_token_help(difference)
    assert bit_count == bits
    assert length_mask == 0xFFFF >> bits
    assert maximum_length == (0xFFFF >> bits) + 3


def test_empty_input() -> None:
    assert compress(b"") == b"\x01"
    assert decompress(b"\x01") == b""


def _no_repeats(n: int) -> bytes:
    """n bytes in which no 3-byte sequence occurs twice (pairs i, j of distinct (i, j))."""
    out = bytearray()
    for i in range(256):
        for j in range(256):
            out += bytes([i, j])
            if len(out) >= n:
                return bytes(out[:n])
    raise AssertionError


def test_incompressible_full_chunk_is_stored_raw() -> None:
    data = _no_repeats(4096) + b"tail"
    packed = compress(data)
    assert chunk_kinds(packed) == ["raw", "compressed"]
    assert struct.unpack_from("<H", packed, 1)[0] == 0x3FFF  # size 4098, flag 0, signature 3
    assert decompress(packed) == data
    assert bytes(decompress_stream(bytearray(packed))) == data


def test_incompressible_final_chunk_is_padded_as_the_spec_says() -> None:
    # 2.4.1.3.10: a raw chunk always holds 4096 bytes, padded with 0x00.
    data = _no_repeats(3728)
    packed = compress(data)
    assert len(packed) == 1 + 2 + 4096
    assert chunk_kinds(packed) == ["raw"]
    assert decompress(packed) == data + bytes(4096 - len(data))


def _roundtrip(data: bytes) -> None:
    packed = compress(data)
    out = decompress(packed)
    expected = data
    if packed != b"\x01" and chunk_kinds(packed)[-1] == "raw":
        expected = data + bytes(-len(data) % 4096)  # the spec's padding of a raw final chunk
    assert out == expected
    assert bytes(decompress_stream(bytearray(packed))) == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=9000))
def test_roundtrip_random_bytes(data: bytes) -> None:
    _roundtrip(data)


_TEXTY = st.lists(
    st.sampled_from(["Dim ", "x", "As String", "\r\n", "    ", "End Sub", "'", "a", "aa", "b",
                     "RunPython \"", "\"", "(", ")", "0", "1"]),
    max_size=3000).map(lambda parts: "".join(parts).encode("ascii"))


@settings(max_examples=200, deadline=None)
@given(_TEXTY)
def test_roundtrip_repetitive_text(data: bytes) -> None:
    packed = compress(data)
    assert "raw" not in chunk_kinds(packed)
    assert decompress(packed) == data
    assert bytes(decompress_stream(bytearray(packed))) == data


@settings(max_examples=10, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=60),
       st.integers(min_value=100_001, max_value=180_000), st.integers(0, 2**32))
def test_roundtrip_large_inputs_over_many_chunks(words: list[bytes], size: int,
                                                 seed: int) -> None:
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += rnd.choice(words)
    data = bytes(out[:size])
    packed = compress(data)
    assert len(chunk_kinds(packed)) == -(-size // 4096)
    _roundtrip(data)


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=100_001, max_value=130_000), st.integers(0, 2**32))
def test_roundtrip_large_random_bytes(size: int, seed: int) -> None:
    _roundtrip(random.Random(seed).randbytes(size))


def test_decompress_rejects_garbage() -> None:
    with pytest.raises(OvbaError):
        decompress(b"")
    with pytest.raises(OvbaError):
        decompress(b"\x02\x00\x00")
    with pytest.raises(OvbaError):
        decompress(b"\x01\xff\x00")  # bad chunk signature
    with pytest.raises(OvbaError):
        decompress(b"\x01\x03\xb0\x01\x00\x00")  # copy token pointing before the chunk


# --- Streams written by Office, shipped inside the installed xlwings --------------------------

def _xlwings_template() -> olefile.OleFileIO:
    import importlib.util

    spec = importlib.util.find_spec("xlwings")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "quickstart_addin_ribbon.xlam"
    with zipfile.ZipFile(path) as z:
        return olefile.OleFileIO(z.read("xl/vbaProject.bin"))


def _module_offsets(ole: olefile.OleFileIO) -> dict[str, int]:
    records = dir_records(decompress(ole.openstream("VBA/dir").read()))
    offsets: dict[str, int] = {}
    stream = ""
    for rid, data in records:
        if rid == 0x001A:
            stream = data.decode("cp1252")
        elif rid == 0x0031:
            offsets[stream] = struct.unpack("<I", data)[0]
    return offsets


def test_recompressing_excel_written_module_streams_gives_the_same_bytes() -> None:
    # ThisWorkbook, Sheet2 and RibbonMyAddin of xlwings' template were saved by Excel (they
    # carry p-code before their source); our compressor reproduces their source containers.
    ole = _xlwings_template()
    offsets = _module_offsets(ole)
    for name in ("ThisWorkbook", "Sheet2", "RibbonMyAddin"):
        container = ole.openstream(f"VBA/{name}").read()[offsets[name]:]
        assert compress(decompress(container)) == container, name


def test_document_and_class_headers_match_what_excel_stores() -> None:
    import importlib.util

    ole = _xlwings_template()
    offsets = _module_offsets(ole)

    def stored_header(name: str) -> list[str]:
        text = decompress(ole.openstream(f"VBA/{name}").read()[offsets[name]:]).decode("cp1252")
        return [line for line in text.split("\r\n") if line.startswith("Attribute VB_")]

    assert list(Module.document("ThisWorkbook", ovba.WORKBOOK_BASE).header) == \
        stored_header("ThisWorkbook")
    assert list(Module.document("Sheet2", ovba.WORKSHEET_BASE).header) == stored_header("Sheet2")
    spec = importlib.util.find_spec("xlwings")
    assert spec is not None and spec.submodule_search_locations
    cls = Path(next(iter(spec.submodule_search_locations))) / "addin" / "Dictionary.cls"
    module = Module.from_cls(cls.read_bytes().decode("cp1252"))
    assert module.kind is ModuleKind.CLASS
    assert list(module.header) == stored_header("Dictionary")


# --- PROJECT stream encryption (2.4.3) ---------------------------------------------------------

def test_decrypt_the_protection_values_excel_wrote() -> None:
    ole = _xlwings_template()
    text = ole.openstream("PROJECT").read().decode("cp1252")
    values = dict(line.split("=", 1) for line in text.split("\r\n") if "=" in line)
    project_id = values["ID"].strip('"')
    assert decrypt(values["CMG"].strip('"')) == bytes(4)  # not protected
    assert decrypt(values["DPB"].strip('"')) == b"\x00"  # no password
    assert decrypt(values["GC"].strip('"')) == b"\xff"  # visible
    raw = bytes.fromhex(values["CMG"].strip('"'))
    assert raw[0] ^ raw[2] == ovba.project_key(project_id)


@given(st.binary(max_size=40), st.integers(0, 255))
def test_encrypt_decrypt_roundtrip(data: bytes, seed: int) -> None:
    assert decrypt(encrypt(data, "{00000000-0000-0000-0000-000000000000}", seed)) == data


# --- Modules, dir stream, compound file -------------------------------------------------------

def test_module_from_bas_keeps_the_name_line_and_uses_crlf() -> None:
    module = Module.from_bas('Attribute VB_Name = "M1"\nSub A()\nEnd Sub\n\n')
    assert module.name == "M1"
    assert module.source() == b'Attribute VB_Name = "M1"\r\nSub A()\r\nEnd Sub\r\n'


def test_module_rejects_bad_sources() -> None:
    with pytest.raises(OvbaError):
        Module.from_bas("Sub A()\nEnd Sub\n")
    with pytest.raises(OvbaError):
        Module(name="1bad", code="")
    with pytest.raises(OvbaError):
        Module.from_bas('Attribute VB_Name = "M"\n\' \u20ac\u0100\n').source()


def test_build_rejects_a_module_named_like_the_project() -> None:
    with pytest.raises(OvbaError):
        build_vba_project([Module.from_bas('Attribute VB_Name = "Tracker"\n')], "Tracker")


def _project(tmp_path: Path) -> tuple[Path, list[Module]]:
    modules = [
        Module.document("ThisWorkbook", ovba.WORKBOOK_BASE),
        Module.document("Sheet1"),
        Module.from_bas('Attribute VB_Name = "Small"\nSub A()\nEnd Sub\n'),
        # Larger than the 4096-byte mini-stream cutoff even compressed: a regular-sector stream.
        Module.from_bas('Attribute VB_Name = "Big"\n' + "".join(
            f"' line {i} {i * 7919 % 10007} {i * 104729 % 1000003}\n" for i in range(3000))),
    ]
    path = tmp_path / "vbaProject.bin"
    path.write_bytes(build_vba_project(modules, "Proj"))
    return path, modules


def test_compound_file_has_the_streams_and_olefile_reads_them(tmp_path: Path) -> None:
    path, modules = _project(tmp_path)
    assert olefile.isOleFile(str(path))
    with olefile.OleFileIO(str(path)) as ole:
        streams = {"/".join(e) for e in ole.listdir()}
        assert streams == {"PROJECT", "PROJECTwm", "VBA/_VBA_PROJECT", "VBA/dir",
                           "VBA/ThisWorkbook", "VBA/Sheet1", "VBA/Small", "VBA/Big"}
        assert ole.openstream("VBA/_VBA_PROJECT").read() == bytes.fromhex("CC61FFFF000100")
        assert ole.get_size("VBA/Big") >= 4096  # really outside the mini stream
        for module in modules:
            assert decompress(ole.openstream(f"VBA/{module.name}").read()) == module.source()
        wm = ole.openstream("PROJECTwm").read()
        assert wm.endswith(b"\x00\x00") and b"Big\x00B\x00i\x00g\x00\x00\x00" in wm
        project = ole.openstream("PROJECT").read().decode("cp1252")
        assert 'Name="Proj"' in project
        assert "Document=ThisWorkbook/&H00000000" in project
        assert "Module=Small" in project and "Module=Big" in project


def test_dir_stream_records(tmp_path: Path) -> None:
    path, modules = _project(tmp_path)
    with olefile.OleFileIO(str(path)) as ole:
        records = dir_records(decompress(ole.openstream("VBA/dir").read()))
    ids = [rid for rid, _ in records]
    assert ids[:4] == [0x0001, 0x0002, 0x0014, 0x0003]
    data = dict(records)
    assert struct.unpack("<H", data[0x0003])[0] == 1252
    assert data[0x0004] == b"Proj"
    assert struct.unpack("<H", data[0x000F])[0] == len(modules)
    names = [d.decode("cp1252") for rid, d in records if rid == 0x0019]
    assert names == [m.name for m in modules]
    offsets = [struct.unpack("<I", d)[0] for rid, d in records if rid == 0x0031]
    assert offsets == [0] * len(modules)  # source only: no p-code before it
    types = [rid for rid, _ in records if rid in (0x0021, 0x0022)]
    assert types == [0x0022, 0x0022, 0x0021, 0x0021]
    assert ids[-1] == 0x0010
    refs = [d.decode("cp1252") for rid, d in records if rid == 0x0016]
    assert refs == ["stdole", "Office"]


def test_directory_tree_is_a_valid_red_black_tree(tmp_path: Path) -> None:
    path, _ = _project(tmp_path)
    data = path.read_bytes()
    first_dir = struct.unpack_from("<I", data, 48)[0]
    with olefile.OleFileIO(str(path)) as ole:
        raw: bytes = ole._open(first_dir).read()  # the directory stream
    entries = [raw[i:i + 128] for i in range(0, len(raw), 128)]

    def field(i: int, fmt: str, at: int) -> int:
        return int(struct.unpack_from(fmt, entries[i], at)[0])

    def name(i: int) -> str:
        length = field(i, "<H", 64)
        return entries[i][:max(length - 2, 0)].decode("utf-16-le")

    def check(node: int, parent_red: bool) -> int:
        """Black height of the subtree; asserts the red-black and ordering rules."""
        if node == 0xFFFFFFFF:
            return 1
        red = entries[node][67] == 0
        assert not (red and parent_red), "red node with a red parent"
        left, right = field(node, "<I", 68), field(node, "<I", 72)
        key = (len(name(node)), name(node).upper())
        if left != 0xFFFFFFFF:
            assert (len(name(left)), name(left).upper()) < key
        if right != 0xFFFFFFFF:
            assert (len(name(right)), name(right).upper()) > key
        hl, hr = check(left, red), check(right, red)
        assert hl == hr, "unequal black heights"
        return hl + (0 if red else 1)

    for i in range(len(entries)):
        if entries[i][66] in (1, 5):  # storage or root: check its children's tree
            child = field(i, "<I", 76)
            if child != 0xFFFFFFFF:
                assert entries[child][67] == 1, "tree root must be black"
                check(child, False)
