"""Chapter 05, what the measurement covers: MRTD of a firmware image loaded the way QEMU loads it, with one byte
flipped, the load done in place or classically, single-pass or two-pass per section. (Pages added by hand are the
chapter's own recipe calls, `recipes.load_image`.)

Pure Python. Every MRTD is the simulated TDX module's (tdxsim.vmm.firmware.measure_firmware); nothing here hashes on
its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tdxsim.platform import PAGE_SIZE
from tdxsim.tdvf import BFV, CFV, MR_EXTEND, TD_HOB, TEMP_MEM, SectionSpec, build_tdvf_image, parse_tdvf
from tdxsim.vmm.firmware import FirmwareMeasurement, measure_firmware

#: Where Debian's `ovmf` package installs the unified image (docs/fidelity.md: OVMF_CODE.fd alone is half of it).
DEBIAN_OVMF = "/usr/share/ovmf/OVMF.fd"


def small_image() -> bytes:
    """A TDVF image with four sections, as OVMF lays them out: a measured BFV (code), an unmeasured CFV
    (variables), a TD HOB and temporary memory (no bytes in the file: they start as zero pages)."""
    code = b"".join(f"BFV code page {i} ".encode().ljust(PAGE_SIZE, b"\x90") for i in range(2))
    return build_tdvf_image(
        [
            SectionSpec(BFV, 0xFFFFE000, 2 * PAGE_SIZE, MR_EXTEND, code),
            SectionSpec(CFV, 0xFFFFD000, PAGE_SIZE, 0, b"CFV: UEFI variables".ljust(PAGE_SIZE, b"\0")),
            SectionSpec(TD_HOB, 0x809000, PAGE_SIZE),
            SectionSpec(TEMP_MEM, 0x800000, PAGE_SIZE),
        ]
    )


def debian_ovmf() -> bytes | None:
    """The bytes of Debian's OVMF.fd, or None when the `ovmf` package is not installed."""
    if not os.path.exists(DEBIAN_OVMF):
        return None
    with open(DEBIAN_OVMF, "rb") as f:
        return f.read()


def flip_byte(image: bytes, section: int, offset: int = 0x10) -> bytes:
    """The image with one byte of section `section`'s file data inverted (the section must have raw data)."""
    s = parse_tdvf(image)[section]
    if offset >= s.raw_data_size:
        raise ValueError(f"section {section} ({s.type_name}) has no byte {offset:#x} in the file")
    at = s.data_offset + offset
    return image[:at] + bytes([image[at] ^ 0xFF]) + image[at + 1 :]


def flippable(image: bytes) -> list[tuple[int, str, bool]]:
    """The sections that have bytes in the file: (index, type name, measured with MR.EXTEND)."""
    return [(i, s.type_name, s.measured) for i, s in enumerate(parse_tdvf(image)) if s.raw_data_size]


@dataclass(frozen=True)
class Variant:
    """One way to load an image: which byte is flipped (section index or None); `source_zero`: each section is
    converted in place and added from itself (`source_addr` 0), else copied from a separate buffer; `two_pass`: each
    section's PAGE.ADDs, then its MR.EXTENDs (two-pass per section, KVM_TDX_EXTEND_MEMORY), else single-pass."""

    flip: int | None = None
    source_zero: bool = False
    two_pass: bool = False


def measure(image: bytes, variant: Variant = Variant(), record: bool = False) -> FirmwareMeasurement:
    """Load and finalize `image` as the variant says; the MRTD the TDX module reported."""
    if variant.flip is not None:
        image = flip_byte(image, variant.flip)
    return measure_firmware(image, two_pass=variant.two_pass, source_zero=variant.source_zero, record=record)
