"""Builders for tdxsim scenario documents, so a test reads like the VMM's ioctl sequence.

The TD's set-up (`td_setup`) is the recipes' (tdxsim.recipes: the order in which QEMU, target/i386/kvm/tdx.c, and
Documentation/virt/kvm/x86/intel-tdx.rst's "KVM TDX creation flow" build a TD), recorded as steps; the other builders
write one step each, from docs/scenario.md (the contract), not from the simulator's output.

Two memory models (v8 cover letter, 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com):
- "in-place" (kernel v8, gmem_in_place_conversion on): the guest_memfd is created with GUEST_MEMFD_FLAG_MMAP
  (+ INIT_SHARED), mmapped MAP_SHARED at GMEM_VA, written while shared, converted with KVM_SET_MEMORY_ATTRIBUTES2
  on the guest_memfd.
- "out-of-place": the memslot's userspace_addr is an anonymous mmap at GMEM_VA, the guest_memfd has no mmap, and
  the slot is made private with the VM ioctl KVM_SET_MEMORY_ATTRIBUTES, as QEMU does for every gmem slot
  (accel/kvm/kvm-all.c kvm_set_phys_mem).
Separate PAGE.ADD source buffers are anonymous mmaps at SRC_VA.
"""

from __future__ import annotations

import copy
import functools
import hashlib

from mrtd_replay import record

import tdxsim
from tdxsim import errno as linux_errno
from tdxsim import recipes
from tdxsim.calls import StepRecorder
from tdxsim.platform import MMAP_BASE, SOURCE_BUFFER_VA
from tdxsim.platform import PAGE_SIZE as PAGE

MiB = 1 << 20
GMEM_VA = MMAP_BASE  # where the memslot's userspace side lives (gmem mmap or anonymous; docs/scenario.md)
SRC_VA = SOURCE_BUFFER_VA  # separate source buffers
SHARED_BIT = 1 << 47  # gpaw 48 (the default): TDX_SHARED_BIT_PWL_4 (arch/x86/kvm/vmx/tdx.c, kvm-x86 09c6f74ecb86)
MEASURE = ["KVM_TDX_MEASURE_MEMORY_REGION"]
PRIVATE = ["KVM_MEMORY_ATTRIBUTE_PRIVATE"]
KERNELS = ("pre-2a62345b3052", "2a62345b3052", "kvm-x86-2026-06", "v8", "v13")
LEAF_STATES = {"MAPPED", "PENDING", "BLOCKED", "PENDING_BLOCKED"}


def _hex(n: int) -> str:
    return hex(n)


def op(name: str, label: str | None = None, **args) -> dict:
    s = {"op": name, **args}
    if label is not None:
        s["label"] = label
    return s


def default_in_place(kernel: str) -> bool:
    """The contract: gmem_in_place_conversion defaults to true for v8 and v13 and false for every other flavour."""
    return kernel in ("v8", "v13")


def td_setup(
    kernel: str = "v8",
    in_place: bool | None = None,
    model: str | None = None,
    size: int = 2 * MiB,
    gpa: int = 0,
    init_shared: bool = True,
    private: bool = True,
    init_vcpu: bool = True,
    gmem_flags: list[str] | None = None,
) -> list[dict]:
    """The TD up to its memory attributes as the recipes build it (tdxsim.recipes.create_td, bind_guest_memfd: the
    intel-tdx.rst order, VM, INIT_VM, vCPU 0, INIT_VCPU, gmem, mmap, memslot), as scenario steps.

    in-place: gmem with MMAP (+ INIT_SHARED unless init_shared=False, then every page starts private), mapped at
    GMEM_VA; pages are left as created, the test writes and converts them (Yan's seven steps,
    ajjc0hw8PjGw69e9@yzhao56-desk.sh.intel.com).
    out-of-place: anonymous memory at GMEM_VA as userspace_addr; with private=True the whole slot is made private
    with KVM_SET_MEMORY_ATTRIBUTES, as QEMU's kvm_set_phys_mem does.
    The model is the test's choice (`model`), whatever the kernel; init_vcpu=False leaves KVM_TDX_INIT_VCPU out and
    `gmem_flags` replaces the guest_memfd's flags.
    """
    if in_place is None:
        in_place = default_in_place(kernel)
    if model is None:
        model = "in-place" if in_place else "out-of-place"
    if model not in ("in-place", "out-of-place"):
        raise ValueError(model)
    steps = copy.deepcopy(_recipe_steps(model == "in-place", size, gpa))
    gmem = next(s for s in steps if s["op"] == "KVM_CREATE_GUEST_MEMFD")
    if model == "in-place":
        gmem["flags"] = ["GUEST_MEMFD_FLAG_MMAP"] + (["GUEST_MEMFD_FLAG_INIT_SHARED"] if init_shared else [])
    if gmem_flags is not None:
        gmem["flags"] = gmem_flags
    drop = {"KVM_TDX_INIT_VCPU"} if not init_vcpu else set()
    drop |= {"KVM_SET_MEMORY_ATTRIBUTES"} if not private else set()
    return [s for s in steps if s["op"] not in drop]


@functools.cache
def _recipe_steps(in_place: bool, size: int, gpa: int) -> list[dict]:
    """The calls of recipes.create_td and recipes.bind_guest_memfd, recorded as steps (the sequence depends only on
    the memory model, not on the kernel: recorded on v8, which has both)."""
    recorder = StepRecorder(tdxsim.Vmm("v8", gmem_in_place_conversion=in_place))
    recipes.create_td(recorder)
    recipes.bind_guest_memfd(recorder, size, gpa)
    return recorder.steps


def set_private(model: str, offset: int, size: int = PAGE, label: str | None = None, slot_gpa: int = 0) -> dict:
    """Convert [offset, offset+size) of slot 0 to private with the active model's ioctl (KVM_SET_MEMORY_ATTRIBUTES on
    the VM, or v8 13/46's KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd)."""
    if model == "in-place":
        return op("KVM_SET_MEMORY_ATTRIBUTES2", label, guest_memfd=0, offset=offset, size=size, attributes=PRIVATE)
    return op("KVM_SET_MEMORY_ATTRIBUTES", label, address=slot_gpa + offset, size=size, attributes=PRIVATE)


def set_attributes2(offset: int, size: int = PAGE, attributes=PRIVATE, label: str | None = None, **kw) -> dict:
    return op("KVM_SET_MEMORY_ATTRIBUTES2", label, guest_memfd=0, offset=offset, size=size, attributes=attributes, **kw)


def mmap_anon(addr: int, length: int = PAGE, label: str | None = None) -> dict:
    return op("mmap", label, addr=_hex(addr), length=length, fd=None)


def write(addr: int, data: bytes, label: str | None = None) -> dict:
    return op("write", label, addr=_hex(addr), data=data.hex())


def read(addr: int, length: int, label: str | None = None) -> dict:
    return op("read", label, addr=_hex(addr), length=length)


def source_buffer(data: bytes, addr: int = SRC_VA, pages: int = 1) -> list[dict]:
    """A separate anonymous source buffer holding data, as QEMU's TDVF copy (out-of-place source)."""
    return [mmap_anon(addr, pages * PAGE), write(addr, data)]


def init_mem_region(
    gpa: int,
    source_addr: int = 0,
    nr_pages: int = 1,
    measure: bool = True,
    vcpu: int = 0,
    label: str | None = None,
    **kw,
) -> dict:
    """KVM_TDX_INIT_MEM_REGION on vcpu (a vCPU ioctl, Documentation/virt/kvm/x86/intel-tdx.rst)."""
    args = {"vcpu": vcpu, "source_addr": _hex(source_addr), "gpa": _hex(gpa), "nr_pages": nr_pages}
    args["flags"] = MEASURE if measure else []
    args.update(kw)
    return op("KVM_TDX_INIT_MEM_REGION", label, **args)


def finalize(label: str | None = None, **kw) -> dict:
    return op("KVM_TDX_FINALIZE_VM", label, **kw)


def guest_read(gpa: int, length: int, label: str | None = None) -> dict:
    return op("guest_read", label, gpa=_hex(gpa), length=length)


def tdx_error(leaf: str, status: str, count: int = 1) -> dict:
    return op("tdx_error", leaf=leaf, status=status, count=count)


def doc(steps: list[dict], kernel: str = "v8", in_place: bool | None = None) -> dict:
    d = {"format": 1, "kernel": kernel, "steps": steps}
    if in_place is not None:
        d["gmem_in_place_conversion"] = in_place
    return d


def run(steps: list[dict], kernel: str = "v8", in_place: bool | None = None) -> dict:
    """Replay steps through tdxsim.scenario.run_scenario and return the contract's output object."""
    from tdxsim.scenario import run_scenario

    return run_scenario(doc(steps, kernel, in_place))


def step(out: dict, label: str) -> dict:
    """The one output step whose label is label."""
    found = [s for s in out["steps"] if s.get("label") == label]
    assert len(found) == 1, f"expected one step labelled {label!r}, found {len(found)}"
    return found[0]


# -- assertions on one step ------------------------------------------------------------------------------------


def assert_ok(st: dict) -> None:
    assert (st["ret"], st["errno"]) == (0, None), st


def errno_value(name: str) -> int:
    """Linux's number for an errno name (tdxsim.errno, never the host's errno module; tests/test_portable.py checks
    it against include/uapi/asm-generic/errno-base.h and errno.h)."""
    return getattr(linux_errno, name)


def assert_errno(st: dict, name: str) -> None:
    """ret is the negative errno (Linux numbering) and errno its name."""
    assert (st["ret"], st["errno"]) == (-errno_value(name), name), {k: st.get(k) for k in ("op", "ret", "errno")}


def leaves(st: dict, leaf: str | None = None) -> list[str]:
    """The leaf names of the step's SEAMCALLs, in order (only leaf if given)."""
    return [c["leaf"] for c in st["seamcalls"] if leaf is None or c["leaf"] == leaf]


def calls(st: dict, leaf: str) -> list[dict]:
    return [c for c in st["seamcalls"] if c["leaf"] == leaf]


def assert_page_added(st: dict, gpa: int, measured: bool) -> None:
    """One page's ADD: SEPT.ADDs for missing levels, PAGE.ADD, then 16 MR.EXTEND if MEASURE.

    Order per tdx_gmem_post_populate (arch/x86/kvm/vmx/tdx.c, kvm-x86 09c6f74ecb86): the S-EPT path ends with PAGE.ADD;
    MR.EXTEND at gpa + i*256 follow.
    """
    adds = [c for c in calls(st, "TDH.MEM.PAGE.ADD") if c["gpa"] == _hex(gpa)]
    assert [c["status"] for c in adds] == ["TDX_SUCCESS"], st["seamcalls"]
    page_ext = [c for c in calls(st, "TDH.MR.EXTEND") if gpa <= int(c["gpa"], 16) < gpa + PAGE]
    if measured:
        assert [c["gpa"] for c in page_ext] == [_hex(gpa + i * 256) for i in range(16)]
        assert all(c["status"] == "TDX_SUCCESS" for c in page_ext)
        seq = st["seamcalls"]
        assert seq.index(adds[0]) < seq.index(page_ext[0]), "MR.EXTEND must follow the page's PAGE.ADD"
    else:
        assert page_ext == []


def assert_no_add(st: dict) -> None:
    assert leaves(st, "TDH.MEM.PAGE.ADD") == [] and leaves(st, "TDH.MR.EXTEND") == [], st["seamcalls"]


def region(source_addr: int, gpa: int, nr_pages: int) -> dict:
    return {"source_addr": _hex(source_addr), "gpa": _hex(gpa), "nr_pages": nr_pages}


def assert_region_not_written(st: dict, source_addr: int, gpa: int, nr_pages: int) -> None:
    """Validation failures return before the copy-back (tdx_vcpu_init_mem_region returns before its copy_to_user):
    userspace's struct is as passed.

    The contract's `region` is "the struct as written back"; absent or equal to the input are both faithful.
    """
    if st.get("region") is not None:
        assert st["region"] == region(source_addr, gpa, nr_pages)


# -- MRTD: an independent replay of the TDX module's records (tests/mrtd_replay.py) ----------------------------------


def mrtd(pages: list[tuple[int, bytes | None]]) -> str:
    """SHA-384 over the records of INIT_MEM_REGION pages in call order (single-pass, as tdx_gmem_post_populate issues
    them).

    Each item is (gpa, content): PAGE.ADD record, then, when content is not None (MEASURE), 16 x (MR.EXTEND record
    + the 256 content bytes of that chunk).
    """
    h = hashlib.sha384()
    for gpa, content in pages:
        h.update(record(b"MEM.PAGE.ADD", gpa))
        if content is not None:
            content = content.ljust(PAGE, b"\0")
            assert len(content) == PAGE
            for i in range(0, PAGE, 256):
                h.update(record(b"MR.EXTEND", gpa + i) + content[i : i + 256])
    return h.hexdigest()


# -- the seed thread's answers (tdxsim.seed toggles), from the sources ----------------------------------------------

#: Out-of-place (in-place conversion off), per source_addr choice, per kernel flavour, in the flavours' order
#: (pre-2a62345b3052, 2a62345b3052, kvm-x86-2026-06, v8, v13). Sources: a separate buffer is the normal copy
#: (tdx_gmem_post_populate); 0 is GUP'd as an address before 2a62345b3052 (EFAULT unmapped, the 'Y' when VA 0 is
#: mapped: Yan, CAEvNRgHb6WmOha6…), -EOPNOTSUPP after it and in v8 (`if (!src_page) return -EOPNOTSUPP`, v8 23/46),
#: -EINVAL up front in kvm-x86 09c6f74e (`!region.source_addr`) and v13 (`!gmem_in_place_conversion &&
#: !region.source_addr`, sean-jc/linux 07f26358); an unmapped address and a private guest_memfd page fail the GUP
#: (-EFAULT; kvm_gmem_fault_user_mapping refuses private pages); a misaligned one is -EINVAL (`!PAGE_ALIGNED`).
SEED_OFF = {
    "buffer": ("OK", "OK", "OK", "OK", "OK"),
    "zero": ("EFAULT", "EOPNOTSUPP", "EINVAL", "EOPNOTSUPP", "EINVAL"),
    "zero_va0": ("OK", "EOPNOTSUPP", "EINVAL", "EOPNOTSUPP", "EINVAL"),
    "unmapped": ("EFAULT",) * 5,
    "misaligned": ("EINVAL",) * 5,
    "gmem_page": ("EFAULT",) * 5,
}
#: In-place conversion on (v8 and v13 only): 0 is the target page itself (v8 23/46; v13 `src_page ?: pfn_to_page`),
#: also when VA 0 is mapped (seed mail: the mapping "is irrelevant"); a page left shared is -EINVAL (not private,
#: kvm_gmem_populate); the guest_memfd page as a source faults private (-EFAULT); unmapped -EFAULT; misaligned
#: -EINVAL; a separate buffer is copied.
SEED_ON = {
    "buffer": "OK",
    "zero": "OK",
    "zero_va0": "OK",
    "unmapped": "EFAULT",
    "misaligned": "EINVAL",
    "gmem_page": "EFAULT",
}
SEED_KERNELS = KERNELS


def seed_expected(
    kernel: str, in_place: bool, source: str, converted: bool = True, add_twice: bool = False
) -> str | None:
    """The errno name (or "OK") the sources give for one set of seed toggles; None when the kernel has no in-place
    conversion. A second add of the same GPA is -EIO (kvm_tdp_mmu_map_private_pfn, RET_PF_SPURIOUS; Yan,
    akSx0Bx1RKe9DCXw…), -EEXIST before 2a62345b3052 (the folio is already prepared); a page never converted to
    private is -EINVAL whatever the source (kvm_gmem_populate's private check)."""
    if in_place and kernel not in ("v8", "v13"):
        return None
    first = SEED_ON[source] if in_place else SEED_OFF[source][SEED_KERNELS.index(kernel)]
    if in_place and not converted and first == "OK":
        return "EINVAL"
    if add_twice and first == "OK":
        return "EEXIST" if kernel == "pre-2a62345b3052" else "EIO"
    return first
