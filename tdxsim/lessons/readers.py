"""Notebook 01: who can read a page? One small TD built as in the seed thread, and four readers that try.

Pure Python (no ipywidgets, no matplotlib). The TD is the v8 in-place build (Yan's seven steps,
ajjc0hw8PjGw69e9@yzhao56-desk.sh.intel.com): a 16-page guest_memfd with MMAP and INIT_SHARED, mmapped by the VMM; the
VMM writes a 4-page firmware image while it is shared, converts it to private, adds it with `source_addr = 0`,
finalizes, and writes a last page it keeps shared with the TD. Every answer comes from the simulator: the VMM's load
goes through mm and guest_memfd's fault handler, the host kernel reads the frame through KeyID 0, the TDX module through
the TD's HKID, and the TD through its vCPU (S-EPT or shared EPT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tdxsim.platform import MMAP_BASE as GMEM_VA
from tdxsim.platform import PAGE_SIZE
from tdxsim.scenario import replay_scenario, run_scenario
from tdxsim.tdx.status import status_name
from tdxsim.vmm.process import Vmm

TD_PAGES = 16
IMAGE_PAGES = 4
SHARED_GFN = 15
IMAGE_TEXT = "firmware page {i}: the TD's secret"
SHARED_TEXT = "virtio ring: shared with the host"
READ_LENGTH = 40
GMEM_FLAGS = ["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"]

#: Who reads, in the words the notebook uses.
ACTORS: dict[str, str] = {
    "vmm": "the VMM (userspace, through its mmap)",
    "kernel": "the host kernel (direct map, KeyID 0)",
    "module": "the TDX module (SEAM, the TD's key)",
    "td": "the TD (its vCPU, by guest physical address)",
}

#: Which page, in the words the notebook uses.
PAGES: dict[str, str] = {
    "image": "GPA 0x0: firmware page the VMM wrote, then added (TD-private)",
    "shared": f"GPA {SHARED_GFN * PAGE_SIZE:#x}: a page the VMM and the TD share",
    "tdr": "the TDR: the TD's root control page (TDX module metadata)",
}


def shared_mask(gpaw: int) -> int:
    """The TD's shared bit as a GPA mask: bit GPAW-1, i.e. bit 47 (GPAW 48) or 51 (GPAW 52).

    KVM: `kvm_gfn_direct_bits` after `tdx_td_init`, TDX_SHARED_BIT_PWL_4 / TDX_SHARED_BIT_PWL_5 (arch/x86/kvm/vmx/tdx.c
    at kvm-x86 09c6f74ecb86).
    """
    if gpaw not in (48, 52):
        raise ValueError(f"a TD's GPAW is 48 or 52, not {gpaw}")
    return 1 << (gpaw - 1)


def gpa_to_gfn(gpa: int) -> int:
    """Guest frame number: the GPA without its 12 offset bits (the shared bit, if set, stays in the GFN)."""
    return gpa >> 12


def is_shared_gpa(gpa: int, gpaw: int) -> bool:
    """Whether a GPA names the shared alias (its shared bit is set); `vt_is_tdx_private_gpa` is the negation."""
    return bool(gpa & shared_mask(gpaw))


def build_scenario(gpaw: int = 48) -> dict[str, Any]:
    """The scenario document: the seed thread's in-place build of a small TD, plus one page kept shared."""
    size = TD_PAGES * PAGE_SIZE
    private = ["KVM_MEMORY_ATTRIBUTE_PRIVATE"]
    steps: list[dict[str, Any]] = [
        {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"},
        {"op": "KVM_TDX_INIT_VM", "gpaw": gpaw},
        {"op": "KVM_CREATE_VCPU", "id": 0},
        {"op": "KVM_TDX_INIT_VCPU", "vcpu": 0},
        {"op": "KVM_CREATE_GUEST_MEMFD", "size": size, "flags": GMEM_FLAGS},
        {"op": "mmap", "addr": hex(GMEM_VA), "length": size, "fd": "guest_memfd:0", "offset": 0},
        {
            "op": "KVM_SET_USER_MEMORY_REGION2",
            "slot": 0,
            "flags": ["KVM_MEM_GUEST_MEMFD"],
            "guest_phys_addr": 0,
            "memory_size": size,
            "userspace_addr": hex(GMEM_VA),
            "guest_memfd": 0,
            "guest_memfd_offset": 0,
        },
    ]
    steps += [
        {"op": "write", "addr": hex(GMEM_VA + i * PAGE_SIZE), "data": {"text": IMAGE_TEXT.format(i=i)}}
        for i in range(IMAGE_PAGES)
    ]
    steps += [
        {
            "op": "KVM_SET_MEMORY_ATTRIBUTES2",
            "label": "convert",
            "guest_memfd": 0,
            "offset": 0,
            "size": IMAGE_PAGES * PAGE_SIZE,
            "attributes": private,
        },
        {
            "op": "KVM_TDX_INIT_MEM_REGION",
            "label": "add",
            "vcpu": 0,
            "source_addr": 0,
            "gpa": 0,
            "nr_pages": IMAGE_PAGES,
            "flags": ["KVM_TDX_MEASURE_MEMORY_REGION"],
        },
        {"op": "KVM_TDX_FINALIZE_VM", "label": "finalize"},
        {"op": "write", "label": "share", "addr": hex(GMEM_VA + SHARED_GFN * PAGE_SIZE), "data": {"text": SHARED_TEXT}},
    ]
    return {"format": 1, "kernel": "v8", "gmem_in_place_conversion": True, "steps": steps}


@cache
def tour_output(gpaw: int = 48) -> dict[str, Any]:
    """The contract's output of `build_scenario(gpaw)` (cached: the figures read it, nobody changes it)."""
    return run_scenario(build_scenario(gpaw))


def machine(gpaw: int = 48) -> Vmm:
    """A fresh simulated machine after `build_scenario(gpaw)`: every read starts from the same state."""
    return replay_scenario(build_scenario(gpaw)).vmm


def page_pfn(vmm: Vmm, page: str) -> int:
    """The physical frame behind one of PAGES."""
    kvm = vmm.kvm
    if page == "tdr":
        return kvm.tdx.tdr
    gfn = 0 if page == "image" else SHARED_GFN
    return kvm.gmems[0].folios[gfn]


@dataclass
class Read:
    """One attempt to read a page: who, what address they used, the path it took and what came back."""

    actor: str
    page: str
    address: str  # the address as the reader names it (VA, HPA or GPA), or "" when the reader has none
    path: list[str] = field(default_factory=list)
    outcome: str = ""  # "plaintext", "zeros", "SIGBUS", "KVM_EXIT_MEMORY_FAULT" or "no address"
    data: bytes | None = None

    @property
    def text(self) -> str:
        """What came back, in a few words."""
        if self.outcome == "plaintext" and self.data is not None:
            return repr(self.data.rstrip(b"\0").decode("ascii", "replace"))
        return self.outcome


def _key(keyid: int, page: str) -> str:
    """The page's key in words. The TDR is encrypted with the module's global private KeyID (intel/tdx-module TDX_1.5.01
    tdh_mng_create.c; the kernel's tdx_global_keyid);
    tdxsim does not model that KeyID, so it is named rather than numbered."""
    if page == "tdr":
        return "the TDX module's global private KeyID"
    return f"KeyID {keyid}" + (" = the TD's HKID" if keyid else "")


def _classify(data: bytes) -> str:
    return "plaintext" if any(data) else "zeros"


def read_page(actor: str, page: str, shared_bit: bool = False, gpaw: int = 48) -> Read:
    """Let `actor` read the first bytes of `page` on a fresh machine; the shared bit matters only to the TD."""
    if actor not in ACTORS:
        raise ValueError(f"unknown actor {actor!r}; expected one of {', '.join(ACTORS)}")
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; expected one of {', '.join(PAGES)}")
    vmm = machine(gpaw)
    pfn = page_pfn(vmm, page)
    frame = vmm.mem.frames[pfn]
    hpa = pfn * PAGE_SIZE
    owner = vmm.frame(pfn * PAGE_SIZE)["owner"]
    r = Read(actor, page, "")
    if actor == "vmm":
        if page == "tdr":
            r.path = ["no VMA of the VMM maps a TDX-module page: the VMM has no virtual address for it"]
            r.outcome = "no address"
            return r
        va = GMEM_VA + (0 if page == "image" else SHARED_GFN) * PAGE_SIZE
        r.address = f"VA {va:#x}"
        result = vmm.read(va, READ_LENGTH)
        r.path = [f"load from {r.address} (the VMM's MAP_SHARED mmap of guest_memfd 0)"]
        if "signal" in result:
            r.path.append("page fault → kvm_gmem_fault_user_mapping: the page is private → VM_FAULT_SIGBUS")
            r.outcome = result["signal"]
            return r
        r.path.append(f"page fault → kvm_gmem_fault_user_mapping: the page is shared → maps HPA {hpa:#x}")
        r.data = result["data"]
    elif actor == "kernel":
        r.address = f"HPA {hpa:#x}"
        key = _key(frame.keyid, page)
        r.path = [f"load from {r.address} through the direct map with KeyID 0 (owner: {owner}, {key})"]
        r.data = vmm.mem.read(pfn, 0, READ_LENGTH, keyid=0)
        if frame.keyid or page == "tdr":
            r.path.append("KeyID 0 is not the page's key: the reader never sees the plaintext (zeros in tdxsim)")
    elif actor == "module":
        r.address = f"HPA {hpa:#x}"
        r.path = [f"SEAM mode: the module reads {r.address} with the page's own key ({_key(frame.keyid, page)})"]
        r.data = bytes(vmm.mem.view(pfn)[:READ_LENGTH])
        if page == "tdr":
            r.path.append("tdxsim keeps the control structures as fields, not as bytes: the page reads as zeros")
    else:
        if page == "tdr":
            r.path = ["no GPA maps the TDR: the TD can name only its own guest physical addresses"]
            r.outcome = "no address"
            return r
        gpa = (0 if page == "image" else SHARED_GFN * PAGE_SIZE) | (shared_mask(gpaw) if shared_bit else 0)
        r.address = f"GPA {gpa:#x}"
        alias = "shared (bit {} set): shared EPT" if shared_bit else "private (bit {} clear): Secure EPT"
        r.path = [f"load from {r.address}: {alias.format(gpaw - 1)}"]
        mark = len(vmm.trace.events)
        result = vmm.guest_read(gpa, READ_LENGTH)
        exits = [ev for ev in vmm.trace.since(mark) if ev.kind == "exit"]
        if result["ret"]:
            reason = exits[0].name if exits else f"ret {result['ret']}"
            r.path.append(
                "EPT violation: the GFN's attribute does not match the alias → "
                f"KVM_RUN returns -EFAULT with {reason} (the VMM is asked to convert)"
            )
            r.outcome = reason
            return r
        key = "KeyID 0 (shared)" if shared_bit else f"the TD's HKID {vmm.kvm.tdx.hkid}"
        r.path.append(f"→ HPA {hpa:#x}, read with {key}")
        r.data = result["data"]
    r.outcome = _classify(r.data or b"")
    return r


def read_table(gpaw: int = 48) -> list[list[Read]]:
    """Every actor against every page, rows in PAGES order, columns in ACTORS order; the TD uses each page's own
    alias (private for the image, shared for the shared page)."""
    return [[read_page(actor, page, page == "shared", gpaw) for actor in ACTORS] for page in PAGES]


# -- two TDs side by side ----------------------------------------------------------------------------------------

#: The two TDs' firmware texts and where the VMM maps each TD's guest_memfd (one process, two VMs).
TWO_TD_NAMES = ("TD A", "TD B")
TWO_TD_TEXT = ("TD A's secret", "TD B's secret")
TWO_TD_VA = (GMEM_VA, GMEM_VA + (1 << 32))
#: A GPA neither TD has added: where one TD's host tries to map the other TD's page.
UNUSED_GPA = IMAGE_PAGES * PAGE_SIZE


def two_tds_scenario() -> dict[str, Any]:
    """Two TDs in one VMM process (the step field `vm`), each built as `build_scenario` builds its TD: a 16-page
    guest_memfd mapped at its own address, one firmware page written while shared, converted, added in place, and
    the TD finalized. KVM_TDX_INIT_VM gives each the lowest free HKID (tdx_guest_keyid_alloc)."""
    size = TD_PAGES * PAGE_SIZE
    steps: list[dict[str, Any]] = []
    for vm, (text, va) in enumerate(zip(TWO_TD_TEXT, TWO_TD_VA, strict=True)):
        on = {"vm": vm} if vm else {}
        steps.append({"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"})
        steps += [
            {**on, **step}
            for step in (
                {"op": "KVM_TDX_INIT_VM"},
                {"op": "KVM_CREATE_VCPU", "id": 0},
                {"op": "KVM_TDX_INIT_VCPU", "vcpu": 0},
                {"op": "KVM_CREATE_GUEST_MEMFD", "size": size, "flags": GMEM_FLAGS},
                {"op": "mmap", "addr": hex(va), "length": size, "fd": "guest_memfd:0", "offset": 0},
                {
                    "op": "KVM_SET_USER_MEMORY_REGION2",
                    "slot": 0,
                    "flags": ["KVM_MEM_GUEST_MEMFD"],
                    "guest_phys_addr": 0,
                    "memory_size": size,
                    "userspace_addr": hex(va),
                    "guest_memfd": 0,
                    "guest_memfd_offset": 0,
                },
            )
        ]
        steps.append({"op": "write", "addr": hex(va), "data": {"text": text}})
        steps += [
            {**on, **step}
            for step in (
                {
                    "op": "KVM_SET_MEMORY_ATTRIBUTES2",
                    "guest_memfd": 0,
                    "offset": 0,
                    "size": PAGE_SIZE,
                    "attributes": ["KVM_MEMORY_ATTRIBUTE_PRIVATE"],
                },
                {"op": "KVM_TDX_INIT_MEM_REGION", "vcpu": 0, "source_addr": 0, "gpa": 0, "nr_pages": 1},
                {"op": "KVM_TDX_FINALIZE_VM"},
            )
        ]
    return {"format": 1, "kernel": "v8", "gmem_in_place_conversion": True, "steps": steps}


@dataclass
class CrossRead:
    """One reader against one of the two TDs' firmware pages."""

    reader: str  # "vmm", "kernel", "td0" or "td1"
    page: int  # whose page: 0 (TD A) or 1 (TD B)
    outcome: str  # "plaintext", "SIGBUS", "zeros" or "refused"
    detail: str  # what happened, in a few words


def two_td_readers(hkids: list[int]) -> dict[str, str]:
    """The readers of the two-TD table, in its row order."""
    return {
        "vmm": "the VMM (its mmap)",
        "kernel": "the host kernel (KeyID 0)",
        **{f"td{i}": f"{name} (HKID {hkid})" for i, (name, hkid) in enumerate(zip(TWO_TD_NAMES, hkids, strict=True))},
    }


def two_td_reads() -> tuple[list[int], list[list[CrossRead]]]:
    """Every reader against both TDs' firmware pages, on one machine: (the TDs' HKIDs, rows in `two_td_readers`
    order, columns TD A's page then TD B's).

    A TD reads its own page through its S-EPT and its HKID. It has no GPA for the other TD's page; the only way to
    get one would be for its host to map that frame into its S-EPT, and the TDX module refuses: TDH.MEM.PAGE.AUG
    wants a PT_NDA page and the PAMT says PT_REG, owner the other TDR (check_and_lock_free_range_hpa,
    intel/tdx-module TDX_1.5.01 tdh_mem_page_aug.c). Read through its own HKID, the other TD's frame is not the
    plaintext (zeros in tdxsim).
    """
    vmm = replay_scenario(two_tds_scenario()).vmm
    pfns = [kvm.gmems[0].folios[0] for kvm in vmm.vms]
    hkids = [kvm.tdx.hkid for kvm in vmm.vms]
    rows: list[list[CrossRead]] = []
    for reader in two_td_readers(hkids):
        row = []
        for page, pfn in enumerate(pfns):
            if reader == "vmm":
                result = vmm.read(TWO_TD_VA[page], READ_LENGTH)
                if "signal" in result:
                    row.append(CrossRead(reader, page, result["signal"], "kvm_gmem_fault_user_mapping: private"))
                else:
                    row.append(CrossRead(reader, page, _classify(result["data"]), "mapped"))
                continue
            if reader == "kernel":
                data = vmm.mem.read(pfn, 0, READ_LENGTH, keyid=0)
                row.append(CrossRead(reader, page, _classify(data), f"HPA {pfn * PAGE_SIZE:#x} through KeyID 0"))
                continue
            td = int(reader[2:])
            vmm.select_vm(td)
            if td == page:
                data = vmm.guest_read(0, READ_LENGTH)["data"]
                row.append(CrossRead(reader, page, _classify(data), repr(data.rstrip(b"\0").decode())))
                continue
            status = vmm.module.tdh_mem_page_aug(vmm.kvm.tdx.tdr, UNUSED_GPA, pfn)
            keyed = vmm.mem.read(pfn, 0, READ_LENGTH, keyid=hkids[td])
            outcome = "refused" if status else _classify(keyed)
            row.append(CrossRead(reader, page, outcome, f"PAGE.AUG: {status_name(status)}"))
        rows.append(row)
    vmm.select_vm(0)
    return hkids, rows
