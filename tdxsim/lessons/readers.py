"""Notebook 01: who can read a page? Four readers try the pages of a TD the chapter built with recipes.

Pure Python (no ipywidgets, no matplotlib). The chapter's TD is `small_td`: the v8 in-place build of the seed thread
(Yan's seven steps, ajjc0hw8PjGw69e9@yzhao56-desk.sh.intel.com) written as recipe calls. Every answer comes from the
machine: the VMM's load goes through mm and guest_memfd's fault handler (`Vmm.read`), the host kernel reads the frame
through KeyID 0 (physical memory, as the direct map does), the TDX module with the TD's key (`Vmm.private_bytes`),
and the TD through its vCPU (`Vmm.guest_read`, S-EPT or shared EPT). Which frame backs a page, its owner and KeyID
are the machine's queries (`sept_walk`, `describe_pages`, `frame`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tdxsim import recipes
from tdxsim.platform import PAGE_SIZE
from tdxsim.recipes import Binding
from tdxsim.tdx.status import status_name
from tdxsim.vmm.process import Vmm

TD_PAGES = 16
IMAGE_PAGES = 4
SHARED_GFN = 15
IMAGE_TEXT = "firmware page {i}: the TD's secret"
SHARED_TEXT = "virtio ring: shared with the host"
READ_LENGTH = 40

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


def small_td(gpaw: int = 48) -> tuple[Vmm, Binding]:
    """The chapter's TD, as its first cell builds it: a 16-page guest_memfd (MMAP|INIT_SHARED) mmapped by the VMM,
    a 4-page firmware image written while shared, converted and added with `source_addr = 0`, the TD finalized, and
    the VMM's write of a last page it keeps shared with the TD. The machine and where its memory is mapped."""
    vmm = Vmm("v8")
    recipes.create_td(vmm, gpaw=gpaw)
    binding, _ = recipes.bind_guest_memfd(vmm, size=TD_PAGES * PAGE_SIZE)
    image = b"".join(IMAGE_TEXT.format(i=i).encode().ljust(PAGE_SIZE, b"\0") for i in range(IMAGE_PAGES))
    recipes.load_image(vmm, binding, gpa=0, data=image)
    recipes.run_guest(vmm)
    vmm.write(binding.userspace_addr + SHARED_GFN * PAGE_SIZE, SHARED_TEXT.encode())
    return vmm, binding


def page_hpa(vmm: Vmm, page: str) -> int:
    """The physical address of one of PAGES in the selected VM: the image page is the one its S-EPT maps at GPA 0
    (Vmm.sept_walk); the shared page the guest_memfd page behind its GPA, the TDR the frame whose PAMT type is PT_TDR
    (Vmm.describe_pages)."""
    if page == "image":
        return vmm.sept_walk(0)[-1]["pfn"] * PAGE_SIZE
    pages = vmm.describe_pages()
    if page == "tdr":
        return int(next(hpa for hpa, p in pages.items() if p["pamt"] == "PT_TDR"), 16)
    return int(next(hpa for hpa, p in pages.items() if p.get("gpa") == hex(SHARED_GFN * PAGE_SIZE)), 16)


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


def read_page(vmm: Vmm, binding: Binding, actor: str, page: str, shared_bit: bool = False) -> Read:
    """Let `actor` read the first bytes of `page` of the TD `small_td` built; the shared bit matters only to the TD.
    `binding` says where the VMM mapped the TD's memory."""
    if actor not in ACTORS:
        raise ValueError(f"unknown actor {actor!r}; expected one of {', '.join(ACTORS)}")
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; expected one of {', '.join(PAGES)}")
    hpa = page_hpa(vmm, page)
    frame = vmm.frame(hpa)
    gfn = 0 if page == "image" else SHARED_GFN
    r = Read(actor, page, "")
    if actor == "vmm":
        if page == "tdr":
            r.path = ["no VMA of the VMM maps a TDX-module page: the VMM has no virtual address for it"]
            r.outcome = "no address"
            return r
        va = binding.userspace_addr + gfn * PAGE_SIZE
        r.address = f"VA {va:#x}"
        result = vmm.read(va, READ_LENGTH)
        r.path = [f"load from {r.address} (the VMM's MAP_SHARED mmap of guest_memfd {binding.guest_memfd})"]
        if "signal" in result:
            r.path.append("page fault → kvm_gmem_fault_user_mapping: the page is private → VM_FAULT_SIGBUS")
            r.outcome = result["signal"]
            return r
        r.path.append(f"page fault → kvm_gmem_fault_user_mapping: the page is shared → maps HPA {hpa:#x}")
        r.data = result["data"]
    elif actor == "kernel":
        r.address = f"HPA {hpa:#x}"
        key = _key(frame["keyid"], page)
        r.path = [f"load from {r.address} through the direct map with KeyID 0 (owner: {frame['owner']}, {key})"]
        r.data = vmm.mem.read(frame["pfn"], 0, READ_LENGTH, keyid=0)
        if frame["keyid"] or page == "tdr":
            r.path.append("KeyID 0 is not the page's key: the reader never sees the plaintext (zeros in tdxsim)")
    elif actor == "module":
        r.address = f"HPA {hpa:#x}"
        r.path = [f"SEAM mode: the module reads {r.address} with the page's own key ({_key(frame['keyid'], page)})"]
        if page == "image":
            r.data = vmm.private_bytes(0, READ_LENGTH)
        else:
            r.data = bytes(vmm.mem.view(frame["pfn"])[:READ_LENGTH])
        if page == "tdr":
            r.path.append("tdxsim keeps the control structures as fields, not as bytes: the page reads as zeros")
    else:
        if page == "tdr":
            r.path = ["no GPA maps the TDR: the TD can name only its own guest physical addresses"]
            r.outcome = "no address"
            return r
        # GPAW 48 is a 4-level S-EPT (root entries at level 3), GPAW 52 a 5-level one (setup_tdparams_eptp_controls)
        gpaw = 48 if vmm.sept_walk(0)[0]["level"] == 3 else 52
        gpa = gfn * PAGE_SIZE | (shared_mask(gpaw) if shared_bit else 0)
        r.address = f"GPA {gpa:#x}"
        alias = "shared (bit {} set): shared EPT" if shared_bit else "private (bit {} clear): Secure EPT"
        r.path = [f"load from {r.address}: {alias.format(gpaw - 1)}"]
        result = vmm.guest_read(gpa, READ_LENGTH)
        if result["ret"]:
            reason = result.exits[0]["reason"] if result.exits else f"ret {result['ret']}"
            r.path.append(
                "EPT violation: the GFN's attribute does not match the alias → "
                f"KVM_RUN returns -EFAULT with {reason} (the VMM is asked to convert)"
            )
            r.outcome = reason
            return r
        key = "KeyID 0 (shared)" if shared_bit else f"the TD's HKID {frame['keyid']}"
        r.path.append(f"→ HPA {hpa:#x}, read with {key}")
        r.data = result["data"]
    r.outcome = _classify(r.data or b"")
    return r


def read_table(vmm: Vmm, binding: Binding) -> list[list[Read]]:
    """Every actor against every page of the machine's TD, rows in PAGES order, columns in ACTORS order; the TD uses
    each page's own alias (private for the image, shared for the shared page). A read changes nothing another
    reader sees (a load that faults maps or refuses; it writes no page)."""
    return [[read_page(vmm, binding, actor, page, page == "shared") for actor in ACTORS] for page in PAGES]


# -- two TDs side by side ----------------------------------------------------------------------------------------

TWO_TD_NAMES = ("TD A", "TD B")
#: A GPA neither TD has added: where one TD's host tries to map the other TD's page.
UNUSED_GPA = IMAGE_PAGES * PAGE_SIZE


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


def two_td_reads(vmm: Vmm, bindings: list[Binding]) -> tuple[list[int], list[list[CrossRead]]]:
    """Every reader against the firmware page at GPA 0 of two finalized TDs in one VMM (VMs 0 and 1; `bindings`:
    where the VMM mapped each one's guest_memfd): (the TDs' HKIDs, rows in `two_td_readers` order, columns TD A's
    page then TD B's).

    A TD reads its own page through its S-EPT and its HKID. It has no GPA for the other TD's page; the only way to
    get one would be for its host to map that frame into its S-EPT, and the TDX module refuses: TDH.MEM.PAGE.AUG
    wants a PT_NDA page and the PAMT says PT_REG, owner the other TDR (check_and_lock_free_range_hpa,
    intel/tdx-module TDX_1.5.01 tdh_mem_page_aug.c). Read through its own HKID, the other TD's frame is not the
    plaintext (zeros in tdxsim).
    """
    frames = []
    for td in range(2):
        vmm.select_vm(td)
        frames.append(vmm.frame(page_hpa(vmm, "image")))
    hkids = [f["keyid"] for f in frames]
    rows: list[list[CrossRead]] = []
    for reader in two_td_readers(hkids):
        row = []
        for page, frame in enumerate(frames):
            pfn = frame["pfn"]
            if reader == "vmm":
                result = vmm.read(bindings[page].userspace_addr, READ_LENGTH)
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
            status = vmm.module.tdh_mem_page_aug(frames[td]["pamt_owner"], UNUSED_GPA, pfn)
            keyed = vmm.mem.read(pfn, 0, READ_LENGTH, keyid=hkids[td])
            outcome = "refused" if status else _classify(keyed)
            row.append(CrossRead(reader, page, outcome, f"PAGE.AUG: {status_name(status)}"))
        rows.append(row)
    vmm.select_vm(0)
    return hkids, rows
