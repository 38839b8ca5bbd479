"""Load a TDVF/OVMF image the way QEMU does and measure it through the real KVM_TDX_INIT_MEM_REGION path.

QEMU (target/i386/kvm/tdx.c): `tdx_post_init_vcpus` hands the TD HOB's GPA to KVM_TDX_INIT_VCPU; `tdx_finalize_vm`
issues one KVM_TDX_INIT_MEM_REGION per TDVF section (`tdx_init_fw_mem_region`), with KVM_TDX_MEASURE_MEMORY_REGION
where the section has the MR.EXTEND attribute and `nr_pages = size >> 12`; BFV and CFV come from the firmware image,
TD_HOB and TempMem from fresh zeroed memory; then KVM_TDX_FINALIZE_VM. Sections with PAGE.AUG are left for the
guest to accept, as docs/scenario.md's `mrtd` command specifies (QEMU itself does not look at that attribute; the
peer MRTD tools skip such sections, and OVMF images carry none).

Two ways to feed KVM (the loader's source mode):
- classic (`source_zero=False`): a separate source buffer per section (anonymous memory, as QEMU's flash mapping
  and its mmap'd HOB); the memslots are made private with the per-VM KVM_SET_MEMORY_ATTRIBUTES, as QEMU's
  kvm_set_phys_mem does;
- source zero (`source_zero=True`, which needs kernel v8 with gmem_in_place_conversion on): the guest_memfd has
  MMAP and INIT_SHARED, the image is written through its mapping while shared, converted to private with
  KVM_SET_MEMORY_ATTRIBUTES2, and added with source_addr = 0, the target page its own source (Yan Zhao's seven
  steps, ajjc0hw8PjGw69e9@yzhao56-desk.sh.intel.com). "In place" names the guest_memfd conversion mode only.

Three orders:
- single-pass (upstream KVM): each page's TDH.MEM.PAGE.ADD, then its 16 TDH.MR.EXTENDs;
- two-pass (older stacks): KVM_TDX_INIT_MEM_REGION without MEASURE adds every page of a section, then the v19
  series' KVM_TDX_EXTEND_MEMORY extends them (Isaku Yamahata, "KVM: TDX: Extend memory measurement with initial
  guest memory", KVM TDX v19, 2024; QEMU's "i386/tdx: Add TDVF memory via KVM_TDX_INIT_MEM_REGION" called it for
  every MR.EXTEND section); the order of tinfoilsh/tdx-measure `--two-pass-add-pages`;
- two-pass-image: every section added first, then the measured ones extended; no stack is known to use it, see
  tdxsim.vmm.variants.
"""

from __future__ import annotations

import bisect

from tdxsim import platform
from tdxsim.errno import errno_name
from tdxsim.events import TraceLimitError
from tdxsim.kvm.uapi import (
    GUEST_MEMFD_FLAG_INIT_SHARED,
    GUEST_MEMFD_FLAG_MMAP,
    KVM_MEM_GUEST_MEMFD,
    KVM_MEMORY_ATTRIBUTE_PRIVATE,
    KVM_TDX_MEASURE_MEMORY_REGION,
    KVM_X86_TDX_VM,
    TDX_TD_ATTR_SEPT_VE_DISABLE,
)
from tdxsim.records import field, record
from tdxsim.tdvf import BFV, CFV, TD_HOB, TdvfError, TdvfSection, check_qemu_loadable, parse_tdvf
from tdxsim.vmm.process import Vmm

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any

PAGE_SIZE = platform.PAGE_SIZE
#: The most 4 KiB pages `measure_firmware` adds (docs/scenario.md "Limits"): 256 MiB, 64 times an OVMF image.
MAX_FIRMWARE_PAGES = 1 << 16


@record
class FirmwareMeasurement:
    """What loading a TDVF image cost and measured."""

    mrtd: str
    order: str
    sections: list[TdvfSection]
    page_add: int
    mr_extend: int
    vmm: Vmm = field(repr=False)
    #: The module's record log when asked for (`log=True`): `gpa << 1` per PAGE.ADD, `gpa << 1 | 1` per MR.EXTEND.
    records: list[int] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The `mrtd --json` object of docs/scenario.md."""
        return {
            "mrtd": self.mrtd,
            "order": self.order,
            "page_add": self.page_add,
            "mr_extend": self.mr_extend,
            "sections": [
                {
                    "type": s.type_name,
                    "gpa": hex(s.memory_address),
                    "size": s.memory_data_size,
                    "attributes": s.attribute_names,
                    "pages": s.pages,
                }
                for s in self.sections
            ],
        }


def _regions(sections: list[TdvfSection]) -> list[tuple[int, int]]:
    """Page ranges [start, end) covering every section, touching ranges merged: one memslot each."""
    spans = sorted((s.memory_address, s.memory_address + s.memory_data_size) for s in sections)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


class FirmwareLoadError(RuntimeError):
    """An ioctl of the load failed: a simulator or image problem the CLI reports in one line."""


def _check(step: str, result: dict[str, Any]) -> dict[str, Any]:
    if result["ret"]:
        raise FirmwareLoadError(f"{step} failed with {result['ret']} ({errno_name(result['ret'])})")
    return result


#: The orders a loader can issue the SEAMCALLs in (see the module docstring and tdxsim.vmm.variants).
SINGLE_PASS, TWO_PASS, TWO_PASS_IMAGE = "single-pass", "two-pass", "two-pass-image"
ORDERS = (SINGLE_PASS, TWO_PASS, TWO_PASS_IMAGE)


def load_tdvf(
    vmm: Vmm,
    image: bytes,
    sections: list[TdvfSection],
    *,
    two_pass: bool = False,
    order: str | None = None,
    measure: list[bool] | None = None,
    add: list[bool] | None = None,
) -> None:
    """Build a TD around the firmware and populate its sections as QEMU does, then finalize it.

    By default the load is metadata-faithful: a section is added unless it has PAGE.AUG and measured iff it has
    MR.EXTEND. `measure`/`add` (one bool per section) and `order` describe other loaders (tdxsim.vmm.variants):
    single-pass passes KVM_TDX_MEASURE_MEMORY_REGION (KVM extends each page right after its PAGE.ADD); two-pass
    adds a section without it, then extends it with KVM_TDX_EXTEND_MEMORY; two-pass-image adds every section
    first and extends the measured ones afterwards, in section order. Every record is a SEAMCALL through KVM.
    """
    order = order or (TWO_PASS if two_pass else SINGLE_PASS)
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}: one of {', '.join(ORDERS)}")
    measure = [s.measured for s in sections] if measure is None else measure
    add = [not s.augmented for s in sections] if add is None else add
    source_zero = vmm.in_place  # adding with source_addr 0 needs the in-place conversion model
    hob = next(s for s in sections if s.type == TD_HOB)
    _check("KVM_CREATE_VM", vmm.KVM_CREATE_VM(KVM_X86_TDX_VM))
    _check("KVM_TDX_INIT_VM", vmm.KVM_TDX_INIT_VM(attributes=TDX_TD_ATTR_SEPT_VE_DISABLE))
    _check("KVM_CREATE_VCPU", vmm.KVM_CREATE_VCPU(0))
    gmem_flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED if source_zero else 0
    windows: list[tuple[int, int, int, int]] = []  # (gpa start, gpa end, guest_memfd number, userspace address)
    for slot, (start, end) in enumerate(_regions(sections)):
        fd = _check("KVM_CREATE_GUEST_MEMFD", vmm.KVM_CREATE_GUEST_MEMFD(end - start, gmem_flags))["fd"]
        mapping = _check("mmap", vmm.mmap(end - start, fd=fd if source_zero else None))["addr"]
        _check(
            "KVM_SET_USER_MEMORY_REGION2",
            vmm.KVM_SET_USER_MEMORY_REGION2(slot, KVM_MEM_GUEST_MEMFD, start, end - start, mapping, fd, 0),
        )
        if not source_zero:
            _check(
                "KVM_SET_MEMORY_ATTRIBUTES",
                vmm.KVM_SET_MEMORY_ATTRIBUTES(start, end - start, KVM_MEMORY_ATTRIBUTE_PRIVATE),
            )
        windows.append((start, end, fd, mapping))
    _check("KVM_TDX_INIT_VCPU", vmm.KVM_TDX_INIT_VCPU(0, data=hob.memory_address))

    window_starts = [w[0] for w in windows]
    image_view = memoryview(image)
    extend_later: list[TdvfSection] = []
    for s, added, measured in zip(sections, add, measure, strict=True):
        if not added:
            continue
        # The window holding the section (the last one starting at or below it: windows are sorted and disjoint).
        start, _end, fd, mapping = windows[bisect.bisect_right(window_starts, s.memory_address) - 1]
        data = memoryview(b"")
        if s.type in (BFV, CFV):
            data = image_view[s.data_offset : s.data_offset + s.memory_data_size]  # no copy of the image
        if source_zero:
            offset = s.memory_address - start
            if any(data):
                _check("write", vmm.write(mapping + offset, data))
            _check(
                "KVM_SET_MEMORY_ATTRIBUTES2",
                vmm.KVM_SET_MEMORY_ATTRIBUTES2(fd, offset, s.memory_data_size, KVM_MEMORY_ATTRIBUTE_PRIVATE),
            )
            source = 0
        else:
            source = _check("mmap", vmm.mmap(s.memory_data_size))["addr"] if s.memory_data_size else 0
            if any(data):
                _check("write", vmm.write(source, data))
        flags = KVM_TDX_MEASURE_MEMORY_REGION if measured and order == SINGLE_PASS else 0
        _check("KVM_TDX_INIT_MEM_REGION", vmm.KVM_TDX_INIT_MEM_REGION(0, source, s.memory_address, s.pages, flags))
        if measured and order == TWO_PASS:
            _check("KVM_TDX_EXTEND_MEMORY", vmm.KVM_TDX_EXTEND_MEMORY(s.memory_address, s.pages))
        elif measured and order == TWO_PASS_IMAGE:
            extend_later.append(s)
        if not source_zero and s.memory_data_size:
            vmm.munmap(source, s.memory_data_size)  # QEMU drops the TD HOB / TempMem buffers after the ADD
    for s in extend_later:
        _check("KVM_TDX_EXTEND_MEMORY", vmm.KVM_TDX_EXTEND_MEMORY(s.memory_address, s.pages))
    _check("KVM_TDX_FINALIZE_VM", vmm.KVM_TDX_FINALIZE_VM())


def measure_firmware(
    image: bytes,
    *,
    two_pass: bool = False,
    source_zero: bool = False,
    record: bool = True,
    order: str | None = None,
    measure: list[bool] | None = None,
    add: list[bool] | None = None,
    log: bool = False,
    sections: list[TdvfSection] | None = None,
) -> FirmwareMeasurement:
    """Parse, load and finalize: the MRTD and the SEAMCALL counts. Raises TdvfError for an image QEMU refuses.

    `record=False` keeps no event record (the CLI needs only the MRTD and the module's counters); `log=True` keeps
    the module's record log (`FirmwareMeasurement.records`); `sections` skips parsing (already checked).
    `source_zero` adds every section from itself (`source_addr` 0, on a v8 kernel with gmem_in_place_conversion)
    instead of from a separate buffer. `order`, `measure` and `add` select a loader variant (see `load_tdvf`)."""
    if sections is None:
        sections = parse_tdvf(image)
        check_qemu_loadable(sections)
    added = [not s.augmented for s in sections] if add is None else add
    pages = sum(s.pages for s, a in zip(sections, added, strict=True) if a)
    if pages > MAX_FIRMWARE_PAGES:
        raise TdvfError(
            f"the sections add {pages} pages of guest memory; tdxsim loads at most {MAX_FIRMWARE_PAGES} "
            '(docs/scenario.md "Limits")'
        )
    order = order or (TWO_PASS if two_pass else SINGLE_PASS)
    vmm = Vmm(kernel="v8", gmem_in_place_conversion=source_zero, record=record)
    if log:
        vmm.module.mr_log = []
    try:
        load_tdvf(vmm, image, sections, order=order, measure=measure, add=add)
    except (FirmwareLoadError, TraceLimitError) as exc:
        raise TdvfError(f"loading the image failed: {exc}") from None
    if vmm.kvm is None:
        raise RuntimeError("simulator invariant broken: load_tdvf made the VM or raised")
    td = vmm.module.tds[vmm.kvm.tdx.tdr_pfn]
    if td.mrtd is None:
        raise RuntimeError("simulator invariant broken: and finalized it")
    return FirmwareMeasurement(
        mrtd=td.mrtd.hex(),
        order=order,
        sections=sections,
        page_add=vmm.module.success_count("TDH.MEM.PAGE.ADD"),
        mr_extend=vmm.module.success_count("TDH.MR.EXTEND"),
        vmm=vmm,
        records=vmm.module.mr_log,
    )
