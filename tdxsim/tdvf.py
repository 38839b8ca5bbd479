"""TDVF firmware metadata: the section table QEMU reads from an OVMF image to lay out a TD's initial private memory.

OVMF ends with a GUIDed table (QEMU hw/i386/pc_sysfw_ovmf.c); its TDX entry points at the TDVF descriptor, whose 32-byte
section records QEMU checks in hw/i386/tdvf.c and turns into one KVM_TDX_INIT_MEM_REGION per section in
target/i386/kvm/tdx.c tdx_init_fw_mem_region (qemu 05caf2690e5a; the same parse as tinfoilsh/tdx-measure@33a8526
src/tdvf.rs). This module only parses and builds images; the MRTD those calls produce comes from the simulated KVM and
TDX module.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from tdxsim.records import record

#: MemoryAddress and MemoryDataSize must be multiples of this (TDVF_ALIGNMENT, QEMU hw/i386/tdvf.c).
TDVF_ALIGNMENT = 0x1000


def _swap_fields(raw: bytes) -> bytes:
    """Between registry (big-endian) and EFI byte order: the u32, u16, u16 fields reversed, the last 8 bytes kept."""
    return raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]


class Guid:
    """An EFI GUID: `bytes_le` is its byte order in an image (the first three fields little-endian, as EFI_GUID and
    Python's uuid.UUID.bytes_le store them), `str()` the registry spelling. (Not uuid.UUID: `tdxsim mrtd` does not
    pay for importing uuid.)"""

    __slots__ = ("bytes_le",)

    def __init__(self, text: str | None = None, *, bytes_le: bytes | None = None) -> None:
        if bytes_le is None:
            if text is None:
                raise TypeError("Guid needs its text or bytes_le")
            bytes_le = _swap_fields(bytes.fromhex(text.replace("-", "")))
        if len(bytes_le) != 16:
            raise ValueError(f"a GUID has 16 bytes, not {len(bytes_le)}")
        self.bytes_le = bytes(bytes_le)

    def __str__(self) -> str:
        h = _swap_fields(self.bytes_le).hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def __repr__(self) -> str:
        return f"Guid({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Guid) and other.bytes_le == self.bytes_le

    def __hash__(self) -> int:
        return hash(self.bytes_le)


OVMF_TABLE_FOOTER_GUID = Guid("96b582de-1fb2-45f7-baea-a366c55a082d")
TDX_METADATA_OFFSET_GUID = Guid("e47a6535-984a-4798-865e-4685a7bf8ec2")
#: The footer GUID ends this many bytes before the end of the image; OVMF keeps its reset vector there.
BYTES_AFTER_TABLE_FOOTER = 32
TDVF_SIGNATURE = b"TDVF"
TDVF_VERSION = 1

# Section types: TDVF_SECTION_TYPE_* in QEMU include/hw/i386/tdvf.h (0-3); 4-6 from the TDVF design guide.
BFV = 0
CFV = 1
TD_HOB = 2
TEMP_MEM = 3
PERM_MEM = 4
PAYLOAD = 5
PAYLOAD_PARAM = 6
SECTION_TYPE_NAMES = {
    BFV: "BFV",
    CFV: "CFV",
    TD_HOB: "TD_HOB",
    TEMP_MEM: "TempMem",
    PERM_MEM: "PermMem",
    PAYLOAD: "Payload",
    PAYLOAD_PARAM: "PayloadParam",
}

# Attribute bits: TDVF_SECTION_ATTRIBUTES_* in QEMU include/hw/i386/tdvf.h.
MR_EXTEND = 1
PAGE_AUG = 2
ATTRIBUTE_NAMES = {MR_EXTEND: "MR.EXTEND", PAGE_AUG: "PAGE.AUG"}

#: The section types QEMU loads (tdvf_parse_and_check_section_entry in hw/i386/tdvf.c, tdx_finalize_vm in tdx.c).
QEMU_LOADABLE_TYPES = frozenset({BFV, CFV, TD_HOB, TEMP_MEM})

_ENTRY_TRAILER = struct.Struct("<H16s")  # every GUIDed-table entry ends with its u16 length and its GUID
_DESCRIPTOR = struct.Struct("<4sIII")  # TdvfMetadata: Signature, Length, Version, NumberOfSectionEntries
_SECTION = struct.Struct("<IIQQII")  # TdvfSectionEntry: DataOffset .. Attributes
_METADATA_OFFSET = struct.Struct("<I")  # the TDX entry's data: descriptor offset counted from the end of the image


class TdvfError(ValueError):
    """Malformed or unsupported TDVF firmware image; the message is one line naming the problem."""


@record(frozen=True)
class TdvfSection:
    """One TDVF section record (TdvfSectionEntry in QEMU hw/i386/tdvf.c, TdvfSection in tinfoilsh/tdx-measure).

    QEMU hands KVM `image[data_offset:]` as the source of all `memory_data_size` bytes of a BFV/CFV section
    (tdx_finalize_vm), and the peer measures MR.EXTEND chunks from the same place, so bytes past `raw_data_size`
    come from the file too; TD_HOB/TempMem sections have no raw data and start as zero pages.
    """

    data_offset: int
    raw_data_size: int
    memory_address: int
    memory_data_size: int
    type: int
    attributes: int

    @property
    def type_name(self) -> str:
        """The TDVF name of the section type, e.g. "BFV" or "TempMem"."""
        return SECTION_TYPE_NAMES.get(self.type, f"type {self.type}")

    @property
    def attribute_names(self) -> list[str]:
        """Names of the attribute bits set, e.g. ["MR.EXTEND"]."""
        return [name for bit, name in ATTRIBUTE_NAMES.items() if self.attributes & bit]

    @property
    def pages(self) -> int:
        """4 KiB pages of guest memory: QEMU's `nr_pages = size >> 12` (tdx_init_fw_mem_region)."""
        return self.memory_data_size // TDVF_ALIGNMENT

    @property
    def measured(self) -> bool:
        """MR.EXTEND set: QEMU passes KVM_TDX_MEASURE_MEMORY_REGION (tdx_init_fw_mem_region)."""
        return bool(self.attributes & MR_EXTEND)

    @property
    def augmented(self) -> bool:
        """PAGE.AUG set: the peers measure no PAGE.ADD for it (tdx-measure compute_mrtd); QEMU ignores the bit."""
        return bool(self.attributes & PAGE_AUG)


@record(frozen=True)
class SectionSpec:
    """A section for `build_tdvf_image`: `size` is MemoryDataSize, `data` the raw bytes (None: no raw data)."""

    type: int
    gpa: int
    size: int
    attributes: int = 0
    data: bytes | None = None


def _section_label(index: int, section: TdvfSection) -> str:
    """Name a section in messages, e.g. "section 2 (TempMem)"."""
    return f"section {index} ({section.type_name})"


def ovmf_table_find(image: bytes, guid: Guid) -> bytes | None:
    """The data of OVMF GUIDed-table entry `guid`, or None (pc_system_ovmf_table_find, QEMU hw/i386/pc_sysfw_ovmf.c)."""
    footer_end = len(image) - BYTES_AFTER_TABLE_FOOTER
    footer_start = footer_end - _ENTRY_TRAILER.size
    if footer_start < 0:
        raise TdvfError(
            f"image too small for an OVMF GUIDed table: {len(image)} bytes, need at least "
            f"{_ENTRY_TRAILER.size + BYTES_AFTER_TABLE_FOOTER}; not an OVMF/TDVF firmware image"
        )
    table_len, footer_guid = _ENTRY_TRAILER.unpack_from(image, footer_start)
    if footer_guid != OVMF_TABLE_FOOTER_GUID.bytes_le:
        raise TdvfError(
            f"no OVMF GUIDed table footer: GUID {OVMF_TABLE_FOOTER_GUID} not found at offset {footer_end - 16:#x} "
            "(48 bytes before the end); not an OVMF/TDVF firmware image"
        )
    # The length covers the whole table including the footer's own u16 and GUID (pc_system_parse_ovmf_flash).
    if not _ENTRY_TRAILER.size <= table_len <= footer_end:
        raise TdvfError(
            f"bad OVMF GUIDed table length {table_len:#x}: must cover the {_ENTRY_TRAILER.size}-byte footer "
            f"and fit in the {footer_end:#x} bytes before the footer's end"
        )
    table_start = footer_end - table_len
    end = footer_start  # entries run backwards from here, each [data][u16 length of the whole entry][GUID]
    while end - table_start >= _ENTRY_TRAILER.size:
        entry_len, entry_guid = _ENTRY_TRAILER.unpack_from(image, end - _ENTRY_TRAILER.size)
        if not _ENTRY_TRAILER.size <= entry_len <= end - table_start:
            raise TdvfError(
                f"OVMF GUIDed table entry {Guid(bytes_le=entry_guid)} ending at {end:#x} has length "
                f"{entry_len:#x}, outside {_ENTRY_TRAILER.size:#x}..{end - table_start:#x}; the table is corrupt"
            )
        if entry_guid == guid.bytes_le:
            return image[end - entry_len : end - _ENTRY_TRAILER.size]
        end -= entry_len
    return None


def parse_tdvf(image: bytes) -> list[TdvfSection]:
    """Parse and validate the TDVF section table of an OVMF image (QEMU tdvf_parse_metadata, hw/i386/tdvf.c).

    Checks follow QEMU's tdvf_get_metadata/tdvf_parse_and_check_section_entry and tinfoilsh/tdx-measure
    src/tdvf.rs `Tdvf::parse`, plus what neither checks: raw data must lie inside the file (QEMU copies from it,
    the peer indexes it), and type and attribute values must be ones the TDVF design guide defines.
    """
    data = ovmf_table_find(image, TDX_METADATA_OFFSET_GUID)
    if data is None:
        raise TdvfError(
            f"no TDX metadata offset entry (GUID {TDX_METADATA_OFFSET_GUID}) in the OVMF GUIDed table: this OVMF "
            "was built without TDX support; use a TDVF build (OvmfPkg/IntelTdx, or Debian's unified OVMF.fd)"
        )
    if len(data) != _METADATA_OFFSET.size:
        raise TdvfError(
            f"TDX metadata offset entry has {len(data)} data bytes, expected {_METADATA_OFFSET.size} "
            "(one u32 offset from the end of the image)"
        )
    (offset_from_end,) = _METADATA_OFFSET.unpack(data)
    desc = len(image) - offset_from_end
    if not 0 <= desc <= len(image) - _DESCRIPTOR.size:
        raise TdvfError(
            f"TDX metadata offset {offset_from_end:#x} out of range: the descriptor must start inside the "
            f"{len(image):#x}-byte image with {_DESCRIPTOR.size} bytes to spare"
        )
    signature, length, version, count = _DESCRIPTOR.unpack_from(image, desc)
    if signature != TDVF_SIGNATURE:
        raise TdvfError(f"bad TDVF descriptor signature {signature!r} at {desc:#x}: expected {TDVF_SIGNATURE!r}")
    if version != TDVF_VERSION:
        raise TdvfError(f"unsupported TDVF descriptor version {version} at {desc:#x}: only version 1 is defined")
    if count == 0:
        raise TdvfError(f"TDVF descriptor at {desc:#x} lists zero sections")
    expected = _DESCRIPTOR.size + count * _SECTION.size
    if length != expected:
        raise TdvfError(
            f"TDVF descriptor length {length:#x} inconsistent with its {count} sections: "
            f"expected {expected:#x} ({_DESCRIPTOR.size} + {_SECTION.size} * {count})"
        )
    if desc + length > len(image):
        raise TdvfError(
            f"TDVF descriptor at {desc:#x} with {count} sections ({length:#x} bytes) runs past the end of "
            f"the file ({len(image):#x})"
        )
    sections = [
        TdvfSection(*_SECTION.unpack_from(image, desc + _DESCRIPTOR.size + i * _SECTION.size)) for i in range(count)
    ]
    for i, s in enumerate(sections):
        _check_section(i, s, len(image))
    return sections


def _check_section(index: int, s: TdvfSection, file_size: int) -> None:
    """Validate one section record (tdvf_parse_and_check_section_entry, QEMU; `Tdvf::parse`, tdx-measure)."""
    label = _section_label(index, s)
    if s.type not in SECTION_TYPE_NAMES:
        raise TdvfError(f"{label} has an unknown type: TDVF defines types 0-{len(SECTION_TYPE_NAMES) - 1}")
    unknown = s.attributes & ~(MR_EXTEND | PAGE_AUG)
    if unknown:
        raise TdvfError(f"{label} has unknown attribute bits {unknown:#x}: TDVF defines only MR.EXTEND and PAGE.AUG")
    if s.memory_address % TDVF_ALIGNMENT:
        raise TdvfError(f"{label} MemoryAddress {s.memory_address:#x} (GPA) is not 4 KiB aligned")
    if s.memory_data_size % TDVF_ALIGNMENT:
        raise TdvfError(f"{label} MemoryDataSize {s.memory_data_size:#x} is not a multiple of 4 KiB")
    if s.raw_data_size > s.memory_data_size:
        raise TdvfError(f"{label} RawDataSize {s.raw_data_size:#x} exceeds its MemoryDataSize {s.memory_data_size:#x}")
    if s.data_offset + s.raw_data_size > file_size:
        raise TdvfError(
            f"{label} runs past the end of the file: data {s.data_offset:#x}+{s.raw_data_size:#x} > file size "
            f"{file_size:#x}; if this is OVMF_CODE.fd, it is only the code half of the unified image: use OVMF.fd"
        )


def check_qemu_loadable(sections: Iterable[TdvfSection]) -> None:
    """Refuse what QEMU refuses (tdvf_parse_and_check_section_entry in hw/i386/tdvf.c; target/i386/kvm/tdx.c).

    QEMU loads only BFV and CFV (copied from the image, so RawDataSize != 0) and TD_HOB and TempMem (fresh zero
    memory, so RawDataSize == 0); it needs at least two sections (tdvf_parse_metadata) and one TD_HOB, whose GPA
    it gives KVM_TDX_INIT_VCPU (tdx_get_hob_entry).
    """
    sections = list(sections)
    for i, s in enumerate(sections):
        if s.type not in QEMU_LOADABLE_TYPES:
            raise TdvfError(
                f"section {i} has type {s.type_name}, which QEMU does not load "
                "(hw/i386/tdvf.c tdvf_parse_and_check_section_entry: unsupported section type)"
            )
        if s.type in (BFV, CFV) and s.raw_data_size == 0:
            raise TdvfError(f"{_section_label(i, s)} has RawDataSize 0: QEMU copies BFV/CFV from the image")
        if s.type in (TD_HOB, TEMP_MEM) and s.raw_data_size != 0:
            raise TdvfError(
                f"{_section_label(i, s)} has RawDataSize {s.raw_data_size:#x}: QEMU loads TD_HOB/TempMem "
                "as zero pages and refuses raw data for them"
            )
    if len(sections) < 2:
        raise TdvfError(f"TDVF lists {len(sections)} section(s): QEMU requires at least 2 (tdvf_parse_metadata)")
    if not any(s.type == TD_HOB for s in sections):
        raise TdvfError("TDVF has no TD_HOB section: QEMU needs one to pass its GPA to KVM_TDX_INIT_VCPU")


def build_tdvf_image(sections: list[SectionSpec], *, size: int | None = None) -> bytes:
    """Lay out a TDVF image with `sections`, the way OVMF's reset-vector area does; deterministic.

    Layout, from offset 0:

    - for each spec with `data`, in order: the raw bytes at a 4 KiB-aligned DataOffset, zero padded to
      max(len(data), spec.size) rounded up to 4 KiB, so the file bytes QEMU copies past RawDataSize are zeros;
      specs without data get DataOffset 0 and RawDataSize 0;
    - zeros up to the metadata tail, which ends the image (total `size`, default: rounded up to 4 KiB);
    - the TDVF descriptor: "TDVF", u32 length 16 + 32*n, u32 version 1, u32 n, then n records <IIQQII;
    - the GUIDed table: [u32 descriptor offset from the end][u16 22][TDX metadata offset GUID], then the footer
      [u16 40 = whole table][OVMF table footer GUID];
    - 32 zero bytes where OVMF keeps its reset vector.

    Field values are written as given, not validated, so tests can build malformed tables for `parse_tdvf`.
    """
    payload = bytearray()
    records: list[bytes] = []
    for spec in sections:
        data_offset = raw_size = 0
        if spec.data is not None:
            data_offset, raw_size = len(payload), len(spec.data)
            reserved = -(-max(raw_size, spec.size) // TDVF_ALIGNMENT) * TDVF_ALIGNMENT
            payload += spec.data.ljust(reserved, b"\0")
        records.append(_SECTION.pack(data_offset, raw_size, spec.gpa, spec.size, spec.type, spec.attributes))
    descriptor = _DESCRIPTOR.pack(
        TDVF_SIGNATURE, _DESCRIPTOR.size + len(records) * _SECTION.size, TDVF_VERSION, len(records)
    ) + b"".join(records)
    entry_len = _METADATA_OFFSET.size + _ENTRY_TRAILER.size
    table_len = entry_len + _ENTRY_TRAILER.size
    offset_from_end = len(descriptor) + table_len + BYTES_AFTER_TABLE_FOOTER
    tail = (
        descriptor
        + _METADATA_OFFSET.pack(offset_from_end)
        + _ENTRY_TRAILER.pack(entry_len, TDX_METADATA_OFFSET_GUID.bytes_le)
        + _ENTRY_TRAILER.pack(table_len, OVMF_TABLE_FOOTER_GUID.bytes_le)
        + bytes(BYTES_AFTER_TABLE_FOOTER)
    )
    needed = len(payload) + len(tail)
    if size is None:
        size = -(-needed // TDVF_ALIGNMENT) * TDVF_ALIGNMENT
    elif size < needed:
        raise ValueError(f"image size {size:#x} too small: sections and metadata need {needed:#x} bytes")
    return bytes(payload) + bytes(size - needed) + tail
