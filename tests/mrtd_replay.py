"""An independent MRTD replay of a TDVF image, written from the TDX module's record layout and
the TDVF metadata format alone; it never imports tdxsim.

Sources: intel/tdx-module tag TDX_1.5.01 src/common/crypto/sha384.h `sha384_128B_block_t`, tdh_mem_page_add.c,
tdh_mr_extend.c (the records); the TDVF parse of tinfoilsh/tdx-measure@33a8526 src/tdvf.rs (`Tdvf::parse`,
`compute_mrtd`) and QEMU hw/i386/tdvf.c (the GUIDed table, the descriptor, the 32-byte section records, the
MR.EXTEND and PAGE.AUG attribute bits).

MRTD is SHA-384 over the TDX module's 128-byte records in call order: a 16-byte zero-padded ASCII tag, the GPA as
u64 little-endian at offset 16, zeros to 128; each TDH.MR.EXTEND record is followed by the 256 bytes it measures.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from typing import NamedTuple, Protocol

RECORD_SIZE = 128
CHUNK_SIZE = 256
PAGE_SIZE = 4096
ATTR_MR_EXTEND = 1
ATTR_PAGE_AUG = 2
# GUIDs as they sit in the file (mixed-endian EFI_GUID), written out by hand from their string forms
# (OVMF table footer 96b582de-1fb2-45f7-baea-a366c55a082d, TDX metadata offset e47a6535-984a-4798-865e-4685a7bf8ec2).
FOOTER_GUID = bytes.fromhex("de82b596b21ff745baeaa366c55a082d")  # 96b582de-1fb2-45f7-baea-a366c55a082d
TDX_OFFSET_GUID = bytes.fromhex("35657ae44a989847865e4685a7bf8ec2")  # e47a6535-984a-4798-865e-4685a7bf8ec2


class Section(NamedTuple):
    """One TDVF section record, fields in file order (tdvf.rs `TdvfSection`)."""

    data_offset: int
    raw_data_size: int
    memory_address: int
    memory_data_size: int
    type: int
    attributes: int


class SectionLike(Protocol):
    """What the replay reads from a section; tdxsim's TdvfSection fits too."""

    data_offset: int
    memory_address: int
    memory_data_size: int
    attributes: int


def read_sections(image: bytes) -> list[Section]:
    """The TDVF section table, found from the table footer as tdvf.rs does (no validation beyond finding it)."""
    footer = len(image) - 48
    assert image[footer : footer + 16] == FOOTER_GUID, "no OVMF GUIDed table footer"
    (table_len,) = struct.unpack("<H", image[footer - 2 : footer])
    start, end = footer + 16 - table_len, footer - 2  # the length counts the footer's own 18 bytes
    while end - start >= 18:  # entries run backwards: [data][u16 entry length][GUID]
        (entry_len,) = struct.unpack("<H", image[end - 18 : end - 16])
        assert entry_len >= 18, "corrupt GUIDed table"
        if image[end - 16 : end] == TDX_OFFSET_GUID:
            (from_end,) = struct.unpack("<I", image[end - 22 : end - 18])  # the last 4 bytes of the entry's data
            break
        end -= entry_len
    else:
        raise AssertionError("no TDX metadata offset entry")
    desc = len(image) - from_end
    signature, _length, version, count = struct.unpack("<4sIII", image[desc : desc + 16])
    assert (signature, version) == (b"TDVF", 1), (signature, version)
    return [Section(*struct.unpack("<IIQQII", image[o : o + 32])) for o in range(desc + 16, desc + 16 + 32 * count, 32)]


def record(tag: bytes, gpa: int) -> bytes:
    """One 128-byte measurement record (sha384_128B_block_t, sha384.h)."""
    return tag.ljust(16, b"\0") + struct.pack("<Q", gpa) + bytes(RECORD_SIZE - 24)


def _page_add(section: SectionLike, page: int, add: bool | None = None) -> Iterator[tuple[bytes, int, bytes]]:
    """The PAGE.ADD for one page, unless the section is left to PAGE.AUG (tdvf.rs `compute_mrtd`) or `add` says
    otherwise."""
    if (not section.attributes & ATTR_PAGE_AUG) if add is None else add:
        yield b"MEM.PAGE.ADD", section.memory_address + page * PAGE_SIZE, b""


def _extends(
    image: bytes, section: SectionLike, page: int, measure: bool | None = None
) -> Iterator[tuple[bytes, int, bytes]]:
    """The 16 MR.EXTENDs of one page, content read from the image at DataOffset + page*4K + i*256 (tdvf.rs) for
    sections with raw data (BFV/CFV); sections without raw data (TD HOB, TempMem) are zero pages in the TD."""
    if (section.attributes & ATTR_MR_EXTEND) if measure is None else measure:
        for off in range(page * PAGE_SIZE, (page + 1) * PAGE_SIZE, CHUNK_SIZE):
            if getattr(section, "raw_data_size", 1):
                content = image[section.data_offset + off : section.data_offset + off + CHUNK_SIZE]
            else:
                content = bytes(CHUNK_SIZE)
            assert len(content) == CHUNK_SIZE, "MR.EXTEND chunk runs past the end of the image"
            yield b"MR.EXTEND", section.memory_address + off, content


def calls(
    image: bytes,
    sections: Iterable[SectionLike],
    *,
    two_pass: bool = False,
    order: str | None = None,
    measure: dict[int, bool] | None = None,
    add: dict[int, bool] | None = None,
) -> Iterator[tuple[bytes, int, bytes]]:
    """(tag, gpa, measured bytes) per SEAMCALL in call order (tdx.c tdx_gmem_post_populate): "single-pass" (KVM:
    per page, ADD then its EXTENDs), "two-pass" (per section: all ADDs, then all EXTENDs;
    tdx-measure --two-pass-add-pages) or
    "two-pass-image" (all ADDs of every section, then every EXTEND). `measure`/`add` override, by section index,
    whether a section is extended / added (None: as its attributes say)."""
    order = order or ("two-pass" if two_pass else "single-pass")
    measure, add = measure or {}, add or {}
    sections = list(sections)
    later: list[tuple[int, SectionLike]] = []
    for i, s in enumerate(sections):
        pages = range(s.memory_data_size // PAGE_SIZE)
        if order == "single-pass":
            for page in pages:
                yield from _page_add(s, page, add.get(i))
                yield from _extends(image, s, page, measure.get(i))
        else:
            for page in pages:
                yield from _page_add(s, page, add.get(i))
            if order == "two-pass":
                for page in pages:
                    yield from _extends(image, s, page, measure.get(i))
            else:
                later.append((i, s))
    for i, s in later:
        for page in range(s.memory_data_size // PAGE_SIZE):
            yield from _extends(image, s, page, measure.get(i))


def mrtd(image: bytes, sections: Iterable[SectionLike], **variant: object) -> str:
    """MRTD as 96 hex digits: SHA-384 of every record (and extended chunk) in call order (tdh_mr_finalize.c);
    `variant` as for `calls`."""
    h = hashlib.sha384()
    for tag, gpa, content in calls(image, sections, **variant):  # type: ignore[arg-type]
        h.update(record(tag, gpa) + content)
    return h.hexdigest()
