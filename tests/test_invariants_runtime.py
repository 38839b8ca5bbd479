"""Property tests of the run-time path: random sequences of guest and VMM operations on a finalized TD.

Each example starts from a finalized TD in one of the two memory models (kernel v8 with gmem_in_place_conversion on or
off; v8 cover letter, 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com): 8 pages of guest memory at GPA 0,
pages 0 and 1 added at build time (in place from the guest_memfd, or from a separate source buffer), SEPT_VE_DISABLE
drawn on or off. Then Hypothesis draws a mix of guest_read / guest_write (private or through the shared alias),
guest_accept, guest_map_gpa (both directions, vmm convert or ignore, vmm_ret 0, 11 or 22), KVM_SET_MEMORY_ATTRIBUTES and
KVM_SET_MEMORY_ATTRIBUTES2 (either direction, in either model), fallocate, madvise, pin/unpin and the VMM's own
read/write, with arguments from small pools (docs/scenario.md ops). Each step is decoded by the scenario parser and
applied to one `Vmm`; after every step these must hold:

(a) PAMT and owners agree (intel/tdx-module TDX_1.5.01 pamt_manager.h): PT_REG <=> td_private under the TD's HKID;
    PT_TDR/TDCX/TDVPR/EPT <=> tdx_metadata; every other frame is neither and has KeyID 0;
(b) no frame is td_private (or tdx_metadata) and mapped in the VMM's page tables at once (v8 01/46
    kvm_gmem_fault_user_mapping: private indices SIGBUS; out-of-place the private page is not in the VMM's address
    space);
(c) unless the VM is dead, the mirror EPT and the S-EPT 4 KiB leaves map the same GFNs to the same pfns
    (arch/x86/kvm/vmx/tdx.c at kvm-x86 09c6f74ecb86: every mirror change goes through tdx_sept_set_private_spte);
(d) every "sept" state event is a transition of tdxsim.tdx.sept.TRANSITIONS (intel/tdx-module TDX_1.5.01 tdh_mem_*.c);
(e) plaintext never leaks (the host has no private KeyID, Documentation/arch/x86/tdx.rst; v8 17/46's api.rst: contents
    not preserved across conversion): every private guest_write stores a marker unique to its step; that marker must
    never appear in any KeyID-0 frame, in the bytes a VMM `read` returns, or in what the guest reads through the shared
    alias — whatever conversions, hole punches and re-accepts happened in between;
(f) no exception escapes;
(g) no frame is mapped by the guest after it was freed or while it belongs to another owner (see
    tests/mapping_invariant.py). The third model, "out-of-place-gmem-mmap", gives the guest_memfd MMAP without
    INIT_SHARED, so its memslot is guest_memfd-only and the guest's shared accesses map guest_memfd folios.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapping_invariant import stale_guest_mappings
from scenario_helpers import op

from tdxsim.physmem import Owner
from tdxsim.scenario import parse_step
from tdxsim.tdx.module import PageType
from tdxsim.tdx.sept import TRANSITIONS, SeptState
from tdxsim.vmm.ownership import gmem_folios, page_owner
from tdxsim.vmm.process import Vmm

PAGE = 4096
NPAGES = 8
GMEM_VA = 0x7F0000000000
SRC_VA = 0x7F4000000000
PRIVATE = ["KVM_MEMORY_ATTRIBUTE_PRIVATE"]
MAGIC = b"\xc3SECRET\x3c"
MARKER_LEN = len(MAGIC) + 4
IMAGE = b"initial image, not a secret"

MODELS = {"in-place": (True, False), "out-of-place": (False, False), "out-of-place-gmem-mmap": (False, True)}
METADATA = {PageType.PT_TDR, PageType.PT_TDCX, PageType.PT_TDVPR, PageType.PT_EPT}
TD_OWNED = {Owner.TD_PRIVATE, Owner.TDX_METADATA}


def _owner(vmm: Vmm, pfn: int) -> Owner:
    """The derived owner of a frame (tdxsim/vmm/ownership.py)."""
    return page_owner(vmm.module, pfn, gmem_folios(vmm.vms))


def setup(in_place: bool, sept_ve_disable: bool, gmem_mmap: bool = False) -> list[dict]:
    """The intel-tdx.rst order for the model, two pages added at build time, then KVM_TDX_FINALIZE_VM."""
    size = NPAGES * PAGE
    steps = [
        op("KVM_CREATE_VM", type="KVM_X86_TDX_VM"),
        op("KVM_TDX_INIT_VM", attributes=["SEPT_VE_DISABLE"] if sept_ve_disable else []),
        op("KVM_CREATE_VCPU", id=0),
        op("KVM_TDX_INIT_VCPU", vcpu=0),
    ]
    slot = op(
        "KVM_SET_USER_MEMORY_REGION2",
        slot=0,
        flags=["KVM_MEM_GUEST_MEMFD"],
        guest_phys_addr=0,
        memory_size=size,
        userspace_addr=hex(GMEM_VA),
        guest_memfd=0,
        guest_memfd_offset=0,
    )
    if in_place:
        steps += [
            op("KVM_CREATE_GUEST_MEMFD", size=size, flags=["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"]),
            op("mmap", addr=hex(GMEM_VA), length=size, fd="guest_memfd:0"),
            slot,
            op("write", addr=hex(GMEM_VA), data=(IMAGE * 400)[: 2 * PAGE].hex()),
            op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=0, offset=0, size=2 * PAGE, attributes=PRIVATE),
            op("KVM_TDX_INIT_MEM_REGION", vcpu=0, source_addr=0, gpa=0, nr_pages=2),
        ]
    else:
        steps += [
            op("KVM_CREATE_GUEST_MEMFD", size=size, flags=["GUEST_MEMFD_FLAG_MMAP"] if gmem_mmap else []),
            op("mmap", addr=hex(GMEM_VA), length=size, fd="guest_memfd:0" if gmem_mmap else None),
            slot,
            op("KVM_SET_MEMORY_ATTRIBUTES", address=0, size=size, attributes=PRIVATE),
            op("mmap", addr=hex(SRC_VA), length=2 * PAGE, fd=None),
            op("write", addr=hex(SRC_VA), data=(IMAGE * 400)[: 2 * PAGE].hex()),
            op("KVM_TDX_INIT_MEM_REGION", vcpu=0, source_addr=hex(SRC_VA), gpa=0, nr_pages=2),
        ]
    return [*steps, op("KVM_TDX_FINALIZE_VM")]


# -- random run-time steps -------------------------------------------------------------------------------------

s = st.sampled_from
page_gpa = s([k * PAGE for k in range(NPAGES + 1)])  # NPAGES is past the memslot
any_gpa = s([k * PAGE for k in range(NPAGES + 1)] + [0x10, PAGE - 4])
length = s([1, MARKER_LEN, 64, PAGE, PAGE + 100])
va = s([GMEM_VA + k * PAGE for k in range(NPAGES)] + [GMEM_VA + 100])
offset = s([k * PAGE for k in range(NPAGES)] + [0x800])
span = s([PAGE, 2 * PAGE, 4 * PAGE, NPAGES * PAGE, 0x800])
attributes = s([[], PRIVATE])

guest_read = st.builds(
    lambda g, n, sh: op("guest_read", gpa=hex(g), length=n, shared=sh), any_gpa, length, st.booleans()
)
guest_write = st.builds(
    lambda g, n, sh: op("guest_write", gpa=hex(g), length=n, shared=sh), any_gpa, length, st.booleans()
)
guest_accept = st.builds(lambda g: op("guest_accept", gpa=hex(g)), page_gpa)
guest_map_gpa = st.builds(
    lambda g, n, sh, vmm, ret: op("guest_map_gpa", gpa=hex(g), size=n, shared=sh, vmm=vmm, vmm_ret=ret),
    s([0, PAGE, 2 * PAGE, 4 * PAGE, 7 * PAGE, 0x800]),
    s([PAGE, 2 * PAGE, 4 * PAGE, NPAGES * PAGE, 0, 0x800]),
    st.booleans(),
    s(["convert", "convert", "ignore"]),
    s([0, 0, 0, 11, 22]),
)
set_attrs = st.builds(
    lambda a, n, at: op("KVM_SET_MEMORY_ATTRIBUTES", address=hex(a), size=n, attributes=at), offset, span, attributes
)
set_attrs2 = st.builds(
    lambda o, n, at: op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=0, offset=hex(o), size=n, attributes=at),
    offset,
    span,
    attributes,
)
fallocate = st.builds(lambda o, n: op("fallocate", guest_memfd=0, offset=hex(o), length=n), offset, span)
madvise = st.builds(lambda a, n: op("madvise", addr=hex(a), length=n), va, span)
pin = st.builds(lambda a, n: op("pin", addr=hex(a), length=n), va, s([PAGE, 2 * PAGE]))
unpin = st.builds(lambda a, n: op("unpin", addr=hex(a), length=n), va, s([PAGE, 2 * PAGE]))
vmm_read = st.builds(lambda a, n: op("read", addr=hex(a), length=n), va, length)
vmm_write = st.builds(lambda a, n: op("write", addr=hex(a), length=n), va, length)
# Macros that make the interesting paths likely: a page made private (MapGPA), accepted and written with a secret;
# and the same page then handed back to the host (MapGPA to shared, a direct attribute ioctl or a hole punch) and
# read from both sides.
secret_page = st.builds(
    lambda g, n: [
        op("guest_map_gpa", gpa=hex(g), size=PAGE, shared=False),
        op("guest_accept", gpa=hex(g)),
        op("guest_write", gpa=hex(g), length=n, shared=False),
    ],
    page_gpa,
    length,
)
give_back = st.builds(
    lambda g, how: [
        how(g),
        op("read", addr=hex(GMEM_VA + g), length=PAGE),
        op("guest_read", gpa=hex(g), length=PAGE, shared=True),
    ],
    page_gpa,
    s(
        [
            lambda g: op("guest_map_gpa", gpa=hex(g), size=PAGE, shared=True),
            lambda g: op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=0, offset=hex(g), size=PAGE, attributes=[]),
            lambda g: op("KVM_SET_MEMORY_ATTRIBUTES", address=hex(g), size=PAGE, attributes=[]),
            lambda g: op("fallocate", guest_memfd=0, offset=hex(g), length=PAGE),
        ]
    ),
)
# The guest maps a page through the shared alias, then the VMM punches it out of the guest_memfd: with a
# guest_memfd-only memslot the shared EPT maps the guest_memfd's folio, so the punch must zap it too.
shared_then_punch = st.builds(
    lambda g, n: [
        op("guest_map_gpa", gpa=hex(g), size=PAGE, shared=True),
        op("guest_write", gpa=hex(g), length=n, shared=True),
        op("fallocate", guest_memfd=0, offset=hex(g), length=PAGE),
        op("guest_read", gpa=hex(g), length=n, shared=True),
    ],
    page_gpa,
    length,
)

single = st.one_of(
    guest_read,
    guest_write,
    guest_accept,
    guest_map_gpa,
    set_attrs,
    set_attrs2,
    fallocate,
    madvise,
    pin,
    unpin,
    vmm_read,
    vmm_write,
).map(lambda step: [step])
runtime = st.lists(st.one_of(single, secret_page, give_back, shared_then_punch), min_size=1, max_size=15).map(
    lambda chunks: [step for chunk in chunks for step in chunk]
)


def marker(index: int) -> bytes:
    return MAGIC + index.to_bytes(4, "big")


def materialize(steps: list[dict]) -> list[dict]:
    """Give every write its data: the step's own marker, repeated to the drawn length."""
    out = []
    for i, raw in enumerate(steps):
        raw = dict(raw)
        if raw["op"] in ("write", "guest_write") and "length" in raw:
            n = raw.pop("length")
            raw["data"] = (marker(i) * (n // MARKER_LEN + 1))[:n].hex()
        out.append(raw)
    return out


def markers_in(data: bytes | bytearray | memoryview | None) -> set[bytes]:
    found: set[bytes] = set()
    if data is None:
        return found
    data = bytes(data)
    pos = 0
    while (pos := data.find(MAGIC, pos)) >= 0:
        if pos + MARKER_LEN <= len(data):
            found.add(data[pos : pos + MARKER_LEN])
        pos += 1
    return found


# -- the invariants ---------------------------------------------------------------------------------------------


class Checker:
    """(a)-(e), after every step."""

    def __init__(self, vmm: Vmm) -> None:
        self.vmm = vmm
        self.seen = 0
        self.secrets: set[bytes] = set()

    def check(self, where: str, name: str, args: dict, result: dict, index: int) -> None:
        if name == "guest_write" and not args["shared"] and not args["gpa"] >> 47:
            self.secrets.add(marker(index))
        self.pamt_agrees(where)
        self.nothing_private_is_host_mapped(where)
        self.mirror_matches_sept(where)
        self.sept_events_are_transitions(where)
        self.no_plaintext_leak(where, name, args, result)
        assert stale_guest_mappings(self.vmm) == [], where

    def pamt_agrees(self, where: str) -> None:
        """(a) intel/tdx-module TDX_1.5.01 pamt_manager.h."""
        module = self.vmm.module
        hkids = {td.tdr: td.hkid for td in module.tds.values()}
        for pfn, frame in self.vmm.mem.frames.items():
            pt = module.page_type(pfn)
            if pt is PageType.PT_REG:
                assert _owner(self.vmm, pfn) is Owner.TD_PRIVATE, (where, hex(pfn), pt, _owner(self.vmm, pfn))
                assert frame.keyid == hkids[module.pamt[pfn][1]], (where, hex(pfn), frame.keyid)
            elif pt in METADATA:
                assert _owner(self.vmm, pfn) is Owner.TDX_METADATA, (where, hex(pfn), pt, _owner(self.vmm, pfn))
            else:
                assert _owner(self.vmm, pfn) not in TD_OWNED, (where, hex(pfn), pt, _owner(self.vmm, pfn))
                assert frame.keyid == 0, (where, hex(pfn), frame.keyid)
        assert all(pfn in self.vmm.mem.frames for pfn in module.pamt), (where, "PAMT entry for a freed frame")

    def nothing_private_is_host_mapped(self, where: str) -> None:
        """(b) v8 01/46 kvm_gmem_fault_user_mapping."""
        frames = self.vmm.mem.frames
        for vma in self.vmm.mm.vmas:
            for vpn, pfn in vma.ptes.items():
                assert pfn in frames, (where, "PTE to a freed frame", hex(vpn * PAGE))
                assert _owner(self.vmm, pfn) not in TD_OWNED, (where, hex(vpn * PAGE), hex(pfn), _owner(self.vmm, pfn))

    def mirror_matches_sept(self, where: str) -> None:
        """(c) tdx.c tdx_sept_set_private_spte, tdx_sept_remove_leaf_spte."""
        kvm = self.vmm.kvm
        if kvm is None or kvm.tdx.tdr is None or kvm.vm_dead:
            return
        td = self.vmm.module.tds[kvm.tdx.tdr]
        sept = {base >> 12: td.sept_pfn[(0, base)] for (level, base), state in td.sept.items() if level == 0}
        assert kvm.mmu.mirror == sept, (where, "mirror", kvm.mmu.mirror, "S-EPT", sept)

    def sept_events_are_transitions(self, where: str) -> None:
        """(d) intel/tdx-module TDX_1.5.01 tdh_mem_*.c."""
        events = self.vmm.trace.events
        for ev in events[self.seen :]:
            if ev.kind == "state" and ev.name == "sept":
                t = (SeptState(ev.data["old"]), SeptState(ev.data["new"]), ev.data["leaf"])
                assert t in TRANSITIONS, (where, t)
        self.seen = len(events)

    def no_plaintext_leak(self, where: str, name: str, args: dict, result: dict) -> None:
        """(e) no private KeyID for the host; contents not preserved (v8 17/46)."""
        for pfn, frame in self.vmm.mem.frames.items():
            if frame.keyid == 0:
                leaked = markers_in(frame.data) & self.secrets
                assert not leaked, (where, "secret in a KeyID-0 frame", hex(pfn), _owner(self.vmm, pfn), leaked)
        host_view = name == "read" or (name == "guest_read" and args["shared"])
        if host_view and "data" in result:
            leaked = markers_in(result["data"]) & self.secrets
            assert not leaked, (where, f"{name} returned a secret", leaked)


def replay(model: tuple[bool, bool], sept_ve_disable: bool, runtime_steps: list[dict]) -> None:
    in_place, gmem_mmap = model
    steps = materialize(setup(in_place, sept_ve_disable, gmem_mmap) + runtime_steps)
    vmm = Vmm("v8", in_place)
    checker = Checker(vmm)
    for i, raw in enumerate(steps):
        name, args = parse_step(raw, i)
        if name == "mmap":
            args.pop("flags")
            result = vmm.mmap(args["length"], args["addr"], args["fd"], args["offset"])
        else:
            result = getattr(vmm, name)(**args)
        if i == len(steps) - len(runtime_steps) - 1:  # the set-up must work: the runtime phase starts finalized
            assert vmm.kvm.tdx.state == "TD_STATE_RUNNABLE", result
        checker.check(f"after step {i} ({name} {raw})", name, args, result, i)


@pytest.mark.parametrize("model", list(MODELS))
@settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(runtime_steps=runtime, sept_ve_disable=st.sampled_from([False, False, True]))
def test_runtime_invariants_hold_after_every_step(model, runtime_steps, sept_ve_disable):
    """(a)-(f) of the module docstring after every step of a random run-time sequence."""
    replay(MODELS[model], sept_ve_disable, runtime_steps)
