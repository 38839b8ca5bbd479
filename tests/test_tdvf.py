"""tdxsim.tdvf: parser, builder and QEMU rules, checked against the independent replay in mrtd_replay.py.

The replay is checked first against the worked vectors (tests/data/mrtd-vectors.json); the parser against builder images
(every field), one malformed image per check, and Debian's OVMF.

For Debian's OVMF.fd (ovmf 2022.11-6+deb12u2) the independent replay gives, for the record (not asserted here):
  single-pass MRTD 4c7206f0f483c524f12c366c711e9049030a8d47c471ee5aa9c4999a08de4057fb887fed0744d5631a212967fb231c47
  two-pass MRTD    acccbcc870a381adab0d3919d90a7f268ac3b0364771f202ed4bb4e892d045b33db3b32e6924cba830a724eed443f7e1
Both agreed with a std-only Rust port of tinfoilsh/tdx-measure src/tdvf.rs (Tdvf::parse, compute_mrtd), hashed by
coreutils sha384sum.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import mrtd_replay
import pytest

from tdxsim import tdvf
from tdxsim.tdvf import SectionSpec, TdvfError, TdvfSection, build_tdvf_image, check_qemu_loadable, parse_tdvf

VECTORS = Path(__file__).resolve().parent / "data" / "mrtd-vectors.json"
OVMF_FD = Path("/usr/share/ovmf/OVMF.fd")
OVMF_CODE_FD = [Path("/usr/share/OVMF/OVMF_CODE.fd"), Path("/usr/share/ovmf/OVMF_CODE.fd")]
OVMF_CODE_4M_FD = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
DEBIAN_OVMF = "2022.11-6+deb12u2"
KiB = 1024
PAGE = 4096

BFV_DATA = bytes(range(256)) * 32  # two pages
CFV_DATA = b"VARS" * 1000  # 4000 bytes: one page, zero padded
SPECS = [
    SectionSpec(tdvf.BFV, 0xFFFFE000, 2 * PAGE, tdvf.MR_EXTEND, BFV_DATA),
    SectionSpec(tdvf.CFV, 0xFFFFD000, PAGE, 0, CFV_DATA),
    SectionSpec(tdvf.TD_HOB, 0x809000, 2 * PAGE),
    SectionSpec(tdvf.TEMP_MEM, 0x800000, 6 * PAGE),
]


def _image(*specs: SectionSpec) -> bytes:
    """A builder image of `specs`, or of SPECS."""
    return build_tdvf_image(list(specs or SPECS))


def _descriptor(image: bytes) -> int:
    """Where the builder put the descriptor: the u32 just before the 40-byte table's entry trailer and footer."""
    return len(image) - struct.unpack_from("<I", image, len(image) - 32 - 40)[0]


def _patch(image: bytes, offset: int, fmt: str, *values: int | bytes) -> bytes:
    """A copy of `image` with `values` packed at `offset`."""
    out = bytearray(image)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def _raises(image: bytes, *words: str) -> str:
    """parse_tdvf must refuse `image` with a one-line message containing every word."""
    with pytest.raises(TdvfError) as exc:
        parse_tdvf(image)
    message = str(exc.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    return message


# --- the independent replay against the worked vectors (tests/data/mrtd-vectors.json) ---


def test_replay_matches_worked_vectors() -> None:
    vectors = json.loads(VECTORS.read_text())["vectors"]
    page = bytes(range(256)) * 16
    one_page = [mrtd_replay.Section(0, PAGE, 0x1000, PAGE, 0, 0)]
    measured = [one_page[0]._replace(attributes=mrtd_replay.ATTR_MR_EXTEND)]
    assert mrtd_replay.mrtd(b"", []) == vectors[0]["mrtd"]
    assert mrtd_replay.mrtd(page, one_page) == vectors[1]["mrtd"]
    assert mrtd_replay.mrtd(page, measured) == vectors[2]["mrtd"]
    assert mrtd_replay.record(b"MEM.PAGE.ADD", 0x1000)[:32].hex() == vectors[1]["first_record_hex_first32"]
    assert mrtd_replay.record(b"MR.EXTEND", 0x1100)[:32].hex() == vectors[2]["second_extend_record_hex_first32"]


def test_replay_orders_agree_on_one_page_and_differ_on_two() -> None:
    image = _image()
    bfv = parse_tdvf(image)[:1]
    one = [TdvfSection(**{**vars(bfv[0]), "memory_data_size": PAGE})]
    assert mrtd_replay.mrtd(image, one) == mrtd_replay.mrtd(image, one, two_pass=True)
    assert mrtd_replay.mrtd(image, bfv) != mrtd_replay.mrtd(image, bfv, two_pass=True)


def test_replay_skips_page_add_for_page_aug_sections() -> None:
    aug = mrtd_replay.Section(0, 0, 0x1000, 4 * PAGE, tdvf.TEMP_MEM, mrtd_replay.ATTR_PAGE_AUG)
    assert list(mrtd_replay.calls(b"", [aug])) == []


# --- builder and parser ---


def test_builder_round_trips_every_field() -> None:
    specs = [*SPECS, SectionSpec(tdvf.PERM_MEM, 0x1000000, 16 * PAGE, tdvf.PAGE_AUG)]
    image = _image(*specs)
    sections = parse_tdvf(image)
    assert len(sections) == len(specs)
    for spec, s in zip(specs, sections, strict=True):
        raw = spec.data or b""
        assert (s.type, s.memory_address, s.memory_data_size, s.attributes) == (
            spec.type,
            spec.gpa,
            spec.size,
            spec.attributes,
        )
        assert (s.raw_data_size, image[s.data_offset : s.data_offset + s.raw_data_size]) == (len(raw), raw)
        assert s.data_offset % PAGE == 0 and (spec.data is not None or s.data_offset == 0)
    assert [tuple(vars(s).values()) for s in sections] == mrtd_replay.read_sections(image)


def test_builder_zero_fills_memory_past_raw_data() -> None:
    image = _image()
    cfv = parse_tdvf(image)[1]
    assert cfv.raw_data_size < cfv.memory_data_size
    assert image[cfv.data_offset + cfv.raw_data_size : cfv.data_offset + cfv.memory_data_size] == bytes(
        cfv.memory_data_size - cfv.raw_data_size
    )


def test_builder_is_deterministic_and_page_sized() -> None:
    assert _image() == _image()
    assert len(_image()) % PAGE == 0


def test_builder_honours_size_and_refuses_too_small() -> None:
    image = build_tdvf_image(SPECS, size=64 * KiB)
    assert len(image) == 64 * KiB
    assert parse_tdvf(image) == parse_tdvf(_image())
    with pytest.raises(ValueError, match="too small"):
        build_tdvf_image(SPECS, size=3 * PAGE)


def test_section_properties() -> None:
    bfv, cfv, hob, temp = parse_tdvf(_image())
    assert [s.type_name for s in (bfv, cfv, hob, temp)] == ["BFV", "CFV", "TD_HOB", "TempMem"]
    assert bfv.attribute_names == ["MR.EXTEND"] and bfv.measured and not bfv.augmented
    assert cfv.attribute_names == [] and not cfv.measured
    assert [s.pages for s in (bfv, cfv, hob, temp)] == [2, 1, 2, 6]
    both = tdvf.TdvfSection(0, 0, 0, PAGE, tdvf.PAYLOAD_PARAM, tdvf.MR_EXTEND | tdvf.PAGE_AUG)
    assert both.type_name == "PayloadParam" and both.attribute_names == ["MR.EXTEND", "PAGE.AUG"] and both.augmented
    assert [tdvf.SECTION_TYPE_NAMES[t] for t in (tdvf.PERM_MEM, tdvf.PAYLOAD)] == ["PermMem", "Payload"]


# --- malformed images: one check each ---


def test_refuses_image_too_small() -> None:
    _raises(bytes(49), "too small", "49 bytes")


def test_refuses_missing_footer() -> None:
    image = _image()
    _raises(_patch(image, len(image) - 48, "16s", bytes(16)), "no OVMF GUIDed table footer", "96b582de")


def test_refuses_table_length_below_footer() -> None:
    image = _image()
    _raises(_patch(image, len(image) - 50, "<H", 17), "bad OVMF GUIDed table length 0x11")


def test_refuses_table_length_past_start_of_image() -> None:
    image = _image(SectionSpec(tdvf.TD_HOB, 0, PAGE))
    _raises(_patch(image, len(image) - 50, "<H", 0xFFFF), "bad OVMF GUIDed table length 0xffff")


def test_refuses_entry_length_out_of_range() -> None:
    image = _image()
    _raises(_patch(image, len(image) - 50 - 18, "<H", 0x17), "entry e47a6535", "length 0x17", "corrupt")


def test_refuses_image_without_tdx_entry() -> None:
    image = _image()
    _raises(_patch(image, len(image) - 50 - 16, "16s", bytes(16)), "no TDX metadata offset entry", "TDX support")


def test_refuses_tdx_entry_with_wrong_data_size() -> None:
    image = _image()
    # Grow the TDX entry by 4 data bytes and the table with it: same bytes, entry now starts 4 bytes earlier.
    grown = _patch(_patch(image, len(image) - 50 - 18, "<H", 26), len(image) - 50, "<H", 44)
    _raises(grown, "8 data bytes, expected 4")


@pytest.mark.parametrize("offset", [0, 8, 0x7FFFFFFF])
def test_refuses_metadata_offset_out_of_range(offset: int) -> None:
    image = _image()
    _raises(_patch(image, len(image) - 72, "<I", offset), f"TDX metadata offset {offset:#x} out of range")


def test_refuses_bad_signature() -> None:
    image = _image()
    _raises(_patch(image, _descriptor(image), "4s", b"TDVX"), "bad TDVF descriptor signature b'TDVX'")


def test_refuses_bad_version() -> None:
    image = _image()
    _raises(_patch(image, _descriptor(image) + 8, "<I", 2), "unsupported TDVF descriptor version 2")


def test_refuses_zero_sections() -> None:
    image = _image()
    desc = _descriptor(image)
    _raises(_patch(_patch(image, desc + 4, "<I", 16), desc + 12, "<I", 0), "zero sections")


def test_refuses_descriptor_length_inconsistent_with_count() -> None:
    image = _image()
    _raises(_patch(image, _descriptor(image) + 12, "<I", 3), "length 0x90 inconsistent with its 3 sections")


def test_refuses_descriptor_running_past_end_of_file() -> None:
    image = _image()
    desc = _descriptor(image)
    _raises(_patch(_patch(image, desc + 4, "<I", 16 + 32 * 7), desc + 12, "<I", 7), "runs past the end of the file")


def test_refuses_raw_data_past_end_of_file() -> None:
    image = _image()
    message = _raises(_patch(image, _descriptor(image) + 16, "<I", len(image)), "section 0 (BFV)", "past the end")
    assert f"> file size {len(image):#x}" in message and "use OVMF.fd" in message


def test_refuses_unaligned_gpa() -> None:
    _raises(_image(SectionSpec(tdvf.TD_HOB, 0x809010, PAGE)), "section 0 (TD_HOB)", "0x809010", "not 4 KiB aligned")


def test_refuses_unaligned_memory_size() -> None:
    _raises(_image(SectionSpec(tdvf.TEMP_MEM, 0x800000, 100)), "section 0 (TempMem)", "0x64", "multiple of 4 KiB")


def test_refuses_raw_data_larger_than_memory() -> None:
    _raises(_image(SectionSpec(tdvf.BFV, 0, PAGE, 0, bytes(PAGE + 1))), "RawDataSize 0x1001 exceeds")


def test_refuses_unknown_type() -> None:
    _raises(_image(SectionSpec(7, 0, PAGE)), "section 0 (type 7) has an unknown type")


def test_refuses_unknown_attribute_bits() -> None:
    _raises(_image(SectionSpec(tdvf.CFV, 0, PAGE, 0x5, bytes(PAGE))), "unknown attribute bits 0x4")


# --- QEMU's rules (hw/i386/tdvf.c, target/i386/kvm/tdx.c) ---


def test_qemu_loads_bfv_cfv_hob_and_tempmem() -> None:
    check_qemu_loadable(parse_tdvf(_image()))


@pytest.mark.parametrize("kind", [tdvf.PERM_MEM, tdvf.PAYLOAD, tdvf.PAYLOAD_PARAM])
def test_qemu_refuses_other_types(kind: int) -> None:
    sections = parse_tdvf(_image(*SPECS[:2], SectionSpec(kind, 0x1000000, PAGE), *SPECS[2:]))
    name = tdvf.SECTION_TYPE_NAMES[kind]
    with pytest.raises(TdvfError, match=f"section 2 has type {name}, which QEMU does not load"):
        check_qemu_loadable(sections)


def test_qemu_refuses_bfv_without_raw_data() -> None:
    with pytest.raises(TdvfError, match=r"section 0 \(BFV\) has RawDataSize 0"):
        check_qemu_loadable(parse_tdvf(_image(SectionSpec(tdvf.BFV, 0, PAGE), *SPECS[1:])))


def test_qemu_refuses_hob_with_raw_data() -> None:
    sections = parse_tdvf(_image(*SPECS[:2], SectionSpec(tdvf.TD_HOB, 0x809000, PAGE, 0, b"hob"), SPECS[3]))
    with pytest.raises(TdvfError, match=r"section 2 \(TD_HOB\) has RawDataSize 0x3"):
        check_qemu_loadable(sections)


def test_qemu_refuses_a_single_section() -> None:
    with pytest.raises(TdvfError, match="at least 2"):
        check_qemu_loadable(parse_tdvf(_image(SPECS[2])))


def test_qemu_refuses_firmware_without_td_hob() -> None:
    with pytest.raises(TdvfError, match="no TD_HOB"):
        check_qemu_loadable(parse_tdvf(_image(SPECS[0], SPECS[1], SPECS[3])))


# --- Debian's OVMF ---


@pytest.fixture(scope="module")
def debian_ovmf() -> bytes:
    """/usr/share/ovmf/OVMF.fd, only from the ovmf package version the digests were computed for."""
    if not OVMF_FD.exists():
        pytest.skip(f"{OVMF_FD} absent: apt-get install ovmf")
    if shutil.which("dpkg-query") is None:
        pytest.skip("no dpkg-query to tell the ovmf version")
    query = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "ovmf"], check=False, capture_output=True, text=True)
    if query.stdout != DEBIAN_OVMF:
        pytest.skip(f"ovmf {query.stdout or 'not from a package'}: the digests are for {DEBIAN_OVMF}")
    return OVMF_FD.read_bytes()


def test_debian_ovmf_section_table(debian_ovmf: bytes) -> None:
    table = [(s.type_name, s.memory_address, s.memory_data_size, s.attribute_names) for s in parse_tdvf(debian_ovmf)]
    assert table == [
        ("BFV", 0xFFE20000, 1920 * KiB, ["MR.EXTEND"]),
        ("CFV", 0xFFE00000, 128 * KiB, []),
        ("TempMem", 0x810000, 64 * KiB, []),
        ("TempMem", 0x80B000, 8 * KiB, []),
        ("TD_HOB", 0x809000, 8 * KiB, []),
        ("TempMem", 0x800000, 24 * KiB, []),
    ]


def test_debian_ovmf_matches_independent_parser_and_loads(debian_ovmf: bytes) -> None:
    sections = parse_tdvf(debian_ovmf)
    assert [tuple(vars(s).values()) for s in sections] == mrtd_replay.read_sections(debian_ovmf)
    check_qemu_loadable(sections)


def test_debian_ovmf_call_counts_and_orders(debian_ovmf: bytes) -> None:
    sections = parse_tdvf(debian_ovmf)
    counts = Counter(tag for tag, _, _ in mrtd_replay.calls(debian_ovmf, sections))
    assert counts == {b"MEM.PAGE.ADD": 538, b"MR.EXTEND": 7680}
    assert sum(s.pages for s in sections) == 538
    assert sum(s.pages for s in sections if s.measured) * 16 == 7680
    assert mrtd_replay.mrtd(debian_ovmf, sections) != mrtd_replay.mrtd(debian_ovmf, sections, two_pass=True)


def test_ovmf_code_alone_is_refused() -> None:
    path = next((p for p in OVMF_CODE_FD if p.exists()), None)
    if path is None:
        pytest.skip("no OVMF_CODE.fd installed")
    _raises(path.read_bytes(), "section 0 (BFV) runs past the end of the file", "use OVMF.fd")


def test_ovmf_4m_build_has_no_tdx_metadata() -> None:
    if not OVMF_CODE_4M_FD.exists():
        pytest.skip(f"{OVMF_CODE_4M_FD} absent")
    _raises(OVMF_CODE_4M_FD.read_bytes(), "no TDX metadata offset entry")
