"""Property tests: invariants of the whole machine over random operation sequences.

Hypothesis draws a scenario (docs/scenario.md, format 1) for each kernel flavour and both gmem_in_place_conversion
settings the contract allows: a usual TD set-up (intel-tdx.rst order, each step kept with high probability), a build
phase, usually KVM_TDX_FINALIZE_VM, and a run-time phase, each a random mix of every op of the contract, with
arguments drawn from small pools so they hit the interesting values (page 0, unaligned, past the end, the shared
bit, NULL), and short macros that make adding, accepting and converting the same pages likely. A second family draws
scenarios with two or three VMs (the step field `vm`): each VM gets its own set-up at its own virtual addresses, and
every chunk of steps is aimed at one of them. Each step is decoded with the scenario parser and applied to one `Vmm`;
after every step these must hold:

(a) every frame has one owner, and, unless KVM has bugged the VM, it agrees with the PAMT (intel/tdx-module TDX_1.5.01
    pamt_manager.h): PT_REG <=> td_private, PT_TDR/TDCX/TDVPR/EPT <=> tdx_metadata, PT_NDA <=> neither; the PAMT names
    only allocated frames;
(b) unless the VM is dead, KVM's mirror EPT and the S-EPT map the same private GFNs to the same pfns, through the same
    tables (arch/x86/kvm/vmx/tdx.c tdx_sept_set_private_spte at kvm-x86 09c6f74ecb86: every mirror change goes through
    the S-EPT hook), and KVM maps a GFN privately (shared) only while its attribute is private (shared)
    (kvm_gmem_invalidate_start and KVM_SET_MEMORY_ATTRIBUTES: conversion zaps the other side);
(c) every S-EPT state change recorded in the trace is a transition of tdxsim.tdx.sept.TRANSITIONS (intel/tdx-module
    TDX_1.5.01 tdh_mem_*.c);
(d) no Python exception escapes, and replaying the whole scenario with run_scenario gives the same returns;
(e) no freed frame and, unless KVM has bugged the VM, no td_private (or tdx_metadata) page is mapped in the VMM's
    address space (in-place model, v8 13/46-17/46: private indices SIGBUS; pamt_manager.h: the host must not touch a
    page that is not PT_NDA);
(f) the VMM never sees TD-private plaintext (the host has no private KeyID: Documentation/arch/x86/tdx.rst): every write
    stores a unique marker; a marker that at some point existed only under a TD's key (in a td_private page and in no
    KeyID-0 page) must never again appear in KeyID-0 memory nor in the bytes a `read` returns.
(g) no frame is mapped by the guest after it was freed or while it belongs to another owner
    (tests/mapping_invariant.py).
(h) with several VMs, a TD never sees another TD's private plaintext (each TD has its own private KeyID,
    Documentation/arch/x86/tdx.rst; the TDX module maps a TD's pages only with its HKID): a marker sealed under one
    HKID never appears in a page under another HKID, nor in what another TD's `guest_read` returns; and every VM's
    mirror EPT matches its own TD's S-EPT ((b) per VM).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapping_invariant import stale_guest_mappings
from scenario_helpers import op

from tdxsim.kvm.uapi import MAP_SHARED
from tdxsim.physmem import Owner
from tdxsim.scenario import SEAMCALL_LEAVES, VM_OPS, parse_step, run_scenario, step_vm
from tdxsim.tdx.module import PageType
from tdxsim.tdx.sept import TRANSITIONS, SeptState
from tdxsim.vmm.ownership import gmem_folios, page_owner
from tdxsim.vmm.process import Vmm

PAGE = 4096
NPAGES = 8  # the guest_memfd and memslot 0 cover GPAs [0, NPAGES pages)
GMEM_VA = 0x7F0000000000
SRC_VA = 0x7F4000000000
SHARED_BIT = 1 << 47
PRIVATE = ["KVM_MEMORY_ATTRIBUTE_PRIVATE"]
MEASURE = ["KVM_TDX_MEASURE_MEMORY_REGION"]

#: (kernel, gmem_in_place_conversion): every flavour of the contract, in-place only where it exists (v8).
SETTINGS = [
    ("pre-2a62345b3052", False),
    ("2a62345b3052", False),
    ("kvm-x86-2026-06", False),
    ("v8", False),
    ("v8", True),
]

MAGIC = b"\xa5TDXSIM\x5a"  # marker prefix; a marker is MAGIC + a 4-byte id, unique per write step
MARKER_LEN = len(MAGIC) + 4

METADATA = {PageType.PT_TDR, PageType.PT_TDCX, PageType.PT_TDVPR, PageType.PT_EPT}
TD_OWNED = {Owner.TD_PRIVATE, Owner.TDX_METADATA}


def _owner(vmm: Vmm, pfn: int) -> Owner:
    """The derived owner of a frame (tdxsim/vmm/ownership.py)."""
    return page_owner(vmm.module, pfn, gmem_folios(vmm.vms))


# -- argument pools ------------------------------------------------------------------------------------------------

VAS = [GMEM_VA + k * PAGE for k in range(NPAGES + 1)] + [SRC_VA + k * PAGE for k in range(3)] + [0, GMEM_VA + 1]
GPAS = [k * PAGE for k in range(NPAGES + 2)] + [SHARED_BIT, SHARED_BIT | PAGE, 0x123, 1 << 40]
OFFSETS = [k * PAGE for k in range(NPAGES + 1)] + [0x800]
SIZES = [PAGE, 2 * PAGE, 4 * PAGE, NPAGES * PAGE, (NPAGES + 1) * PAGE, 0, 0x800]
LENGTHS = [1, MARKER_LEN, 100, PAGE, PAGE + 100, 2 * PAGE, 3 * PAGE]
SOURCES = [0, SRC_VA, SRC_VA + PAGE, GMEM_VA, GMEM_VA + PAGE, SRC_VA + 1, PAGE]
NR_PAGES = [1, 2, 3, 0, NPAGES, 1 << 36]
STATUSES = [
    "TDX_OPERAND_BUSY",
    "TDX_OPERAND_INVALID",
    "TDX_EPT_ENTRY_STATE_INCORRECT",
    "TDX_RND_NO_ENTROPY",
    "TDX_GPA_RANGE_ALREADY_BLOCKED",
]


def s(*choices: Any) -> st.SearchStrategy:
    return st.sampled_from(choices)


def often(p_false: int = 10) -> st.SearchStrategy[bool]:
    """True except about once in `p_false` draws (shrinks towards True)."""
    return st.sampled_from([True] * (p_false - 1) + [False])


def rarely(p_true: int = 10) -> st.SearchStrategy[bool]:
    """False except about once in `p_true` draws (shrinks towards False)."""
    return st.sampled_from([False] * (p_true - 1) + [True])


# -- one random step, or a short macro that makes the interesting paths likely ---------------------------------

va, gpa, offset, size, length = s(*VAS), s(*GPAS), s(*OFFSETS), s(*SIZES), s(*LENGTHS)
page_index = st.integers(0, 3)  # the macros revisit a few pages, so add, use and convert meet


def weighted(*pairs: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, drawn in proportion to its weight."""
    return st.sampled_from([strategy for weight, strategy in pairs for _ in range(weight)]).flatmap(lambda x: x)


write = st.builds(lambda a, n: [op("write", addr=hex(a), length=n)], va, length)
read = st.builds(lambda a, n: [op("read", addr=hex(a), length=n)], va, length)
mmap = st.builds(
    lambda a, n, fd, off, priv: [
        op("mmap", addr=hex(a), length=n, fd=fd, offset=off, **({"flags": ["MAP_PRIVATE"]} if priv else {}))
    ],
    va,
    s(PAGE, 2 * PAGE, NPAGES * PAGE),
    s(None, "guest_memfd:0", "guest_memfd:1"),
    s(0, PAGE),
    rarely(),
)
munmap = st.builds(lambda a, n: [op("munmap", addr=hex(a), length=n)], va, s(PAGE, 2 * PAGE, NPAGES * PAGE))
memslot = st.builds(
    lambda slot, g, n, fd, off: [
        op(
            "KVM_SET_USER_MEMORY_REGION2",
            slot=slot,
            flags=["KVM_MEM_GUEST_MEMFD"],
            guest_phys_addr=hex(g),
            memory_size=n,
            userspace_addr=hex(GMEM_VA),
            guest_memfd=fd,
            guest_memfd_offset=off,
        )
    ],
    s(0, 1),
    s(0, NPAGES * PAGE, 2 * NPAGES * PAGE),
    s(0, PAGE, 2 * PAGE, NPAGES * PAGE),
    s(0, 1),
    s(0, PAGE, 0x800),
)
attributes = st.builds(
    lambda g, n, attrs: [op("KVM_SET_MEMORY_ATTRIBUTES", address=hex(g), size=n, attributes=attrs)],
    gpa,
    size,
    s(PRIVATE, [], 9),
)
attributes2 = st.builds(
    lambda fd, off, n, attrs, flags: [
        op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=fd, offset=off, size=n, attributes=attrs, flags=flags)
    ],
    s(0, 1),
    offset,
    size,
    s(PRIVATE, [], 9),
    s(0, 0, 0, 1),
)
init_mem_region = st.builds(
    lambda vcpu, src, g, n, flags, hw: [
        op(
            "KVM_TDX_INIT_MEM_REGION",
            vcpu=vcpu,
            source_addr=hex(src),
            gpa=hex(g),
            nr_pages=n,
            flags=flags,
            hw_error=hw,
        )
    ],
    s(0, 0, 0, 1),
    s(*SOURCES),
    gpa,
    s(*NR_PAGES),
    s(1, 0, 2, 3),
    s(0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
)
finalize = st.builds(lambda hw: [op("KVM_TDX_FINALIZE_VM", hw_error=hw)], s(0, 0, 0, 0, 1))
pin = st.builds(lambda a, n: [op("pin", addr=hex(a), length=n)], va, s(PAGE, 2 * PAGE))
unpin = st.builds(lambda a, n: [op("unpin", addr=hex(a), length=n)], va, s(PAGE, 2 * PAGE))
fallocate = st.builds(
    lambda fd, off, n: [op("fallocate", guest_memfd=fd, offset=off, length=n)], s(0, 1), offset, s(*SIZES[:-2])
)
madvise = st.builds(lambda a, n: [op("madvise", addr=hex(a), length=n)], va, s(PAGE, 2 * PAGE))
signal = st.builds(lambda k: [op("signal_pending", before_page=k)], s(0, 1, 2))
memory_failure = st.builds(lambda fd, off: [op("memory_failure", guest_memfd=fd, offset=off)], s(0, 1), offset)
tdx_error = st.builds(
    lambda leaf, status, n: [op("tdx_error", leaf=leaf, status=status, count=n)],
    s(*SEAMCALL_LEAVES),
    s(*STATUSES),
    s(1, 2, 3),
)
guest_read = st.builds(lambda g, n, sh: [op("guest_read", gpa=hex(g), length=n, shared=sh)], gpa, length, often(4))
guest_write = st.builds(lambda g, n, sh: [op("guest_write", gpa=hex(g), length=n, shared=sh)], gpa, length, often(4))
guest_accept = st.builds(lambda g: [op("guest_accept", gpa=hex(g))], gpa)
map_gpa = st.builds(
    lambda g, n, sh, how, ret: [op("guest_map_gpa", gpa=hex(g), size=n, shared=sh, vmm=how, vmm_ret=ret)],
    gpa,
    s(*SIZES, 3 << 20),
    st.booleans(),
    s("convert", "convert", "ignore"),
    s(0, 0, 0, 11, 22),
)
vcpu = st.builds(
    lambda create, i: [op("KVM_CREATE_VCPU", id=i) if create else op("KVM_TDX_INIT_VCPU", vcpu=i)],
    st.booleans(),
    s(1, 0),
)
new_gmem = st.builds(
    lambda n, flags: [op("KVM_CREATE_GUEST_MEMFD", size=n, flags=flags)], size, s([], ["GUEST_MEMFD_FLAG_MMAP"])
)
init_vm = st.builds(lambda gpaw, hw: [op("KVM_TDX_INIT_VM", gpaw=gpaw, hw_error=hw)], s(48, 52, 50), s(0, 1))

#: Macros, in both memory models' words (the other model's ioctl just fails): write a page's image, make it private,
#: add it; let the guest accept, write and read a page; convert a page back to shared and read it from userspace.
populate = st.builds(
    lambda k, src, flags: [
        op("write", addr=hex(GMEM_VA + k * PAGE), length=PAGE),
        op("write", addr=hex(SRC_VA), length=PAGE),
        op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=0, offset=k * PAGE, size=PAGE, attributes=PRIVATE),
        op("KVM_SET_MEMORY_ATTRIBUTES", address=hex(k * PAGE), size=PAGE, attributes=PRIVATE),
        op("KVM_TDX_INIT_MEM_REGION", vcpu=0, source_addr=hex(src), gpa=hex(k * PAGE), nr_pages=1, flags=flags),
    ],
    page_index,
    s(0, SRC_VA),
    s(MEASURE, []),
)


def use_page_steps(k: int, n: int, map_first: bool) -> list[dict]:
    """The guest makes page k private (MapGPA), accepts it, writes its marker and reads it back."""
    return [
        *([op("guest_map_gpa", gpa=hex(k * PAGE), size=PAGE, shared=False)] if map_first else []),
        op("guest_accept", gpa=hex(k * PAGE)),
        op("guest_write", gpa=hex(k * PAGE), length=n),
        op("guest_read", gpa=hex(k * PAGE), length=n),
    ]


def to_shared_steps(k: int, by_guest: bool) -> list[dict]:
    """Page k goes back to shared (the guest's MapGPA, or the VMM's own ioctl) and userspace reads it."""
    if by_guest:
        convert = [op("guest_map_gpa", gpa=hex(k * PAGE), size=PAGE, shared=True)]
    else:
        convert = [
            op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=0, offset=k * PAGE, size=PAGE, attributes=[]),
            op("KVM_SET_MEMORY_ATTRIBUTES", address=hex(k * PAGE), size=PAGE, attributes=[]),
        ]
    return [*convert, op("read", addr=hex(GMEM_VA + k * PAGE), length=PAGE)]


use_page = st.builds(use_page_steps, page_index, s(MARKER_LEN, PAGE), st.booleans())
to_shared = st.builds(to_shared_steps, page_index, st.booleans())
use_then_share = st.builds(
    lambda k, n, map_first, by_guest: use_page_steps(k, n, map_first) + to_shared_steps(k, by_guest),
    page_index,
    s(MARKER_LEN, PAGE),
    st.booleans(),
    st.booleans(),
)

#: Ops both phases share, with their weights; each phase then leans towards its own macros.
COMMON = [
    (4, write),
    (4, read),
    (3, attributes),
    (3, attributes2),
    *((2, strategy) for strategy in (mmap, munmap, memslot, pin, unpin, fallocate, madvise, signal)),
    *((2, strategy) for strategy in (memory_failure, tdx_error, vcpu)),
    (1, finalize),
    (1, new_gmem),
    (1, init_vm),
]
build_steps = weighted(*COMMON, (12, populate), (4, init_mem_region), (3, to_shared), (1, use_page), (1, guest_accept))
run_steps = weighted(
    *COMMON,
    (10, use_page),
    (5, to_shared),
    (4, use_then_share),
    (3, populate),
    (2, init_mem_region),
    (3, guest_read),
    (3, guest_write),
    (3, guest_accept),
    (3, map_gpa),
)


MMAP, INIT_SHARED = "GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"


@st.composite
def set_up(draw: st.DrawFn, in_place: bool) -> list[dict]:
    """intel-tdx.rst "KVM TDX creation flow" (and scenario_helpers.td_setup's two models): each step kept with high
    probability; the guest_memfd flags lean towards the model's usual ones (in-place: MMAP + INIT_SHARED; out-of-place:
    none)."""
    if in_place:
        flags = draw(s([MMAP, INIT_SHARED], [MMAP, INIT_SHARED], [MMAP, INIT_SHARED], [MMAP], []))
    else:
        flags = draw(s([], [], [MMAP], [MMAP, INIT_SHARED]))
    gmem_mmap = MMAP in flags and draw(often(4))
    steps = [
        op("KVM_CREATE_VM", type="KVM_X86_TDX_VM"),
        op("KVM_TDX_INIT_VM", attributes=draw(s(["SEPT_VE_DISABLE"], []))),
        op("KVM_CREATE_VCPU", id=0),
        op("KVM_TDX_INIT_VCPU", vcpu=0),
        op("KVM_CREATE_GUEST_MEMFD", size=NPAGES * PAGE, flags=flags),
        op("mmap", addr=hex(GMEM_VA), length=NPAGES * PAGE, fd="guest_memfd:0" if gmem_mmap else None),
        op("mmap", addr=hex(SRC_VA), length=3 * PAGE, fd=None),
        op(
            "KVM_SET_USER_MEMORY_REGION2",
            slot=0,
            flags=["KVM_MEM_GUEST_MEMFD"],
            guest_phys_addr=0,
            memory_size=NPAGES * PAGE,
            userspace_addr=hex(GMEM_VA),
            guest_memfd=0,
            guest_memfd_offset=0,
        ),
        op("KVM_SET_MEMORY_ATTRIBUTES", address=0, size=NPAGES * PAGE, attributes=PRIVATE),
    ]
    return [step for step in steps if draw(often(40))]


@st.composite
def scenarios(draw: st.DrawFn, in_place: bool) -> list[dict]:
    """Set-up, a build phase, usually KVM_TDX_FINALIZE_VM, then a run-time phase; any op may appear anywhere."""
    build = draw(st.lists(build_steps, max_size=12))
    fin = draw(st.sampled_from([True, True, True, False]))
    run = draw(st.lists(run_steps, max_size=12))
    chunks = [*build, *([[op("KVM_TDX_FINALIZE_VM")]] if fin else []), *run]
    return draw(set_up(in_place)) + [step for chunk in chunks for step in chunk]


def marker(index: int) -> bytes:
    return MAGIC + index.to_bytes(4, "big")


def materialize(steps: list[dict]) -> list[dict]:
    """Give every write/guest_write its data: the step's own marker, repeated to the drawn length."""
    out = []
    for i, raw in enumerate(steps):
        raw = dict(raw)
        if raw["op"] in ("write", "guest_write"):
            n = raw.pop("length")
            raw["data"] = (marker(i) * (n // MARKER_LEN + 1))[:n].hex()
        out.append(raw)
    return out


# -- the invariants ---------------------------------------------------------------------------------------------


def markers_in(data: bytes | bytearray | memoryview) -> set[bytes]:
    found, pos = set(), 0
    data = bytes(data)
    while (pos := data.find(MAGIC, pos)) >= 0:
        if pos + MARKER_LEN <= len(data):
            found.add(data[pos : pos + MARKER_LEN])
        pos += 1
    return found


class Checker:
    """The invariants (a)-(f), checked after every step."""

    def __init__(self, vmm: Vmm) -> None:
        self.vmm = vmm
        self.seen_events = 0
        self.sealed: set[bytes] = set()
        self.sealed_by: dict[bytes, int] = {}  # marker -> the HKID it was first seen under

    def check(self, index: int, op_name: str, result: dict) -> None:
        where = f"after step {index} ({op_name})"
        self.ownership(where)
        self.mirror_matches_sept(where)
        self.sept_events_are_transitions(where)
        self.nothing_private_is_mapped(where)
        self.no_private_plaintext(where, op_name, result)
        assert stale_guest_mappings(self.vmm) == [], where  # (g)
        self.no_cross_td_plaintext(where, op_name, result)  # (h)

    def any_dead(self) -> bool:
        return any(kvm.vm_dead for kvm in self.vmm.vms)

    def ownership(self, where: str) -> None:
        """(a) intel/tdx-module TDX_1.5.01 pamt_manager.h. Once KVM has bugged the VM after a failed S-EPT zap, the
        kernel gives no such guarantee: it holds no reference on private pages, so "a private page mapped in the S-EPT
        could be reallocated and used outside the VM" (Yan Zhao, "KVM: TDX: Drop superfluous page pinning in S-EPT
        management", 20251030200951.3402865-9-seanjc@google.com); only the one-owner part is checked then."""
        mem, module = self.vmm.mem, self.vmm.module
        dead = self.any_dead()
        hkids = {td.tdr: td.hkid for td in module.tds.values()}
        for pfn, frame in mem.frames.items():
            assert isinstance(_owner(self.vmm, pfn), Owner), (where, pfn, _owner(self.vmm, pfn))
            if dead:
                continue
            pt = module.page_type(pfn)
            if pt is PageType.PT_REG:
                assert _owner(self.vmm, pfn) is Owner.TD_PRIVATE, (where, hex(pfn), pt, _owner(self.vmm, pfn))
                assert frame.keyid == hkids[module.pamt[pfn][1]], (where, hex(pfn), frame.keyid)
            elif pt in METADATA:
                assert _owner(self.vmm, pfn) is Owner.TDX_METADATA, (where, hex(pfn), pt, _owner(self.vmm, pfn))
            else:
                assert _owner(self.vmm, pfn) not in TD_OWNED, (where, hex(pfn), pt, _owner(self.vmm, pfn))
                assert frame.keyid == 0, (where, hex(pfn), frame.keyid)
        stale = [hex(pfn) for pfn in module.pamt if pfn not in mem.frames]
        assert dead or not stale, (where, "PAMT entries for freed frames", stale)

    def mirror_matches_sept(self, where: str) -> None:
        """(b) tdx.c tdx_sept_set_private_spte, tdx_sept_remove_leaf_spte: each VM's mirror EPT and its TD's S-EPT
        agree on the private 4 KiB leaves."""
        for kvm in self.vmm.vms:
            if not kvm.vm_dead:
                self.vm_mirror_matches_sept(where, kvm)

    def vm_mirror_matches_sept(self, where: str, kvm) -> None:
        td = self.vmm.module.tds.get(kvm.tdx.tdr) if kvm.tdx.tdr is not None else None
        sept = {}
        if td is not None:
            sept = {base >> 12: td.sept_pfn[(0, base)] for (level, base), state in td.sept.items() if level == 0}
        assert kvm.mmu.mirror == sept, (where, "mirror", kvm.mmu.mirror, "S-EPT", sept)
        for key in kvm.mmu.mirror_nonleaf:  # the tables above them too: each linked one is an NL_MAPPED entry
            assert td is not None and td.sept.get(key) is SeptState.NL_MAPPED, (where, "non-leaf", key)
        for gfn in kvm.mmu.mirror:  # and KVM maps privately only what is private now (conversion zaps)
            assert kvm.kvm_mem_is_private(gfn), (where, "private mapping of a shared GFN", hex(gfn))
        for gfn in kvm.mmu.shared:
            assert not kvm.kvm_mem_is_private(gfn), (where, "shared mapping of a private GFN", hex(gfn))

    def sept_events_are_transitions(self, where: str) -> None:
        """(c) every recorded S-EPT change is one the module makes (intel/tdx-module TDX_1.5.01 tdh_mem_*.c)."""
        events = self.vmm.trace.events
        for ev in events[self.seen_events :]:
            if ev.kind == "state" and ev.name == "sept":
                t = (SeptState(ev.data["old"]), SeptState(ev.data["new"]), ev.data["leaf"])
                assert t in TRANSITIONS, (where, t)
        self.seen_events = len(events)

    def nothing_private_is_mapped(self, where: str) -> None:
        """(e) no freed frame is mapped in the VMM's address space, and no TD page either unless KVM has bugged the VM:
        after a failed TDH.MEM.PAGE.REMOVE the conversion still completes and nothing stops userspace from faulting the
        page in (tdx.c tdx_sept_set_private_spte, tdx_sept_remove_leaf_spte: "Any SEAMCALL failure -> TDX_BUG_ON"; the
        page stays with the TD)."""
        frames = self.vmm.mem.frames
        dead = self.any_dead()
        for vma in self.vmm.mm.vmas:
            for vpn, pfn in vma.ptes.items():
                assert pfn in frames, (where, "PTE to a freed frame", hex(vpn * PAGE), hex(pfn))
                if not dead:
                    assert _owner(self.vmm, pfn) not in TD_OWNED, (
                        where,
                        hex(vpn * PAGE),
                        hex(pfn),
                        _owner(self.vmm, pfn),
                    )

    def no_private_plaintext(self, where: str, op_name: str, result: dict) -> None:
        """(f) a marker that lived only under a TD key never reappears in KeyID-0 memory or in a `read`."""
        host, td = set(), set()
        for frame in self.vmm.mem.frames.values():
            if frame.data is not None:
                (td if frame.keyid else host).update(markers_in(frame.data))
        leaked = host & self.sealed
        assert not leaked, (where, "sealed markers back in KeyID-0 memory", leaked)
        if op_name == "read" and "data" in result:
            leaked = markers_in(result["data"]) & self.sealed
            assert not leaked, (where, "read returned TD-private plaintext", leaked)
        self.sealed |= td - host

    def no_cross_td_plaintext(self, where: str, op_name: str, result: dict) -> None:
        """(h) a marker first seen under one TD's HKID never shows up under another, nor in another TD's read."""
        for frame in self.vmm.mem.frames.values():
            if frame.data is None or not frame.keyid:
                continue
            for m in markers_in(frame.data):
                first = self.sealed_by.setdefault(m, frame.keyid)
                assert first == frame.keyid, (where, "marker moved between TDs", m, first, frame.keyid)
        if op_name == "guest_read" and "data" in result and self.vmm.kvm is not None:
            own = self.vmm.kvm.tdx.hkid
            foreign = {m for m in markers_in(result["data"]) if self.sealed_by.get(m, own) != own}
            assert not foreign, (where, "a TD read another TD's private plaintext", foreign)


def call(vmm: Vmm, name: str, args: dict[str, Any]) -> dict:
    """Apply one decoded step to the VMM (the scenario runner's dispatch: mmap's flags decide MAP_SHARED)."""
    if name == "mmap":
        flags = args.pop("flags")
        shared = None if flags is None else bool(flags & MAP_SHARED)
        return vmm.mmap(args["length"], args["addr"], args["fd"], args["offset"], shared)
    return getattr(vmm, name)(**args)


def replay(kernel: str, in_place: bool, steps: list[dict]) -> None:
    steps = materialize(steps)
    vmm = Vmm(kernel, in_place)
    checker = Checker(vmm)
    rets = []
    for i, raw in enumerate(steps):
        name, args = parse_step(raw, i)
        vmm.select_vm(step_vm(raw))
        result = call(vmm, name, args)
        rets.append(result["ret"])
        checker.check(i, name, result)
    # (d) through the contract's door: the same scenario, replayed in one go, gives the same returns.
    doc = {"format": 1, "kernel": kernel, "gmem_in_place_conversion": in_place, "steps": steps}
    out = run_scenario(doc)
    json.dumps(out)
    assert [st_["ret"] for st_ in out["steps"]] == rets
    if len(vmm.vms) > 1:  # and replaying it again gives the same output, byte for byte (deterministic)
        assert json.dumps(run_scenario(doc)) == json.dumps(out)


@pytest.mark.parametrize("kernel,in_place", SETTINGS, ids=[f"{k}-{'in' if p else 'out-of'}-place" for k, p in SETTINGS])
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_invariants_hold_after_every_step(kernel, in_place, data):
    """(a)-(f) of the module docstring, after every step of a random scenario."""
    replay(kernel, in_place, data.draw(scenarios(in_place), label="steps"))


# -- several VMs -----------------------------------------------------------------------------------------------------

#: VM n's set-up and steps use the virtual addresses of VM 0 moved up by n * VM_VA_STRIDE, so each VM has its own
#: guest_memfd mapping and source buffers in the one VMM address space.
VM_VA_STRIDE = 1 << 36
VA_ARGS = ("addr", "userspace_addr", "source_addr")


def on_vm(steps: list[dict], vm: int) -> list[dict]:
    """The steps aimed at VM `vm`: `vm` on the ops that take it, and VM 0's virtual addresses moved to VM `vm`'s."""
    out = []
    for raw in steps:
        raw = dict(raw)
        if vm and raw["op"] in VM_OPS:
            raw["vm"] = vm
        for key in VA_ARGS:
            value = raw.get(key)
            if value is not None and int(str(value), 0) >= GMEM_VA:
                raw[key] = hex(int(str(value), 0) + vm * VM_VA_STRIDE)
        out.append(raw)
    return out


@st.composite
def multi_vm_scenarios(draw: st.DrawFn, in_place: bool) -> list[dict]:
    """Two or three VMs, each with its own set-up, then build and run-time chunks each aimed at one VM, and usually
    a KVM_TDX_FINALIZE_VM per VM in between."""
    nvms = draw(s(2, 2, 3))
    vm = st.integers(0, nvms - 1)
    steps = [step for v in range(nvms) for step in on_vm(draw(set_up(in_place)), v)]
    build = draw(st.lists(st.tuples(vm, build_steps), max_size=10))
    fin = [v for v in range(nvms) if draw(st.sampled_from([True, True, True, False]))]
    run = draw(st.lists(st.tuples(vm, run_steps), max_size=10))
    chunks = [*build, *((v, [op("KVM_TDX_FINALIZE_VM")]) for v in fin), *run]
    return steps + [step for v, chunk in chunks for step in on_vm(chunk, v)]


@pytest.mark.parametrize("kernel,in_place", SETTINGS, ids=[f"{k}-{'in' if p else 'out-of'}-place" for k, p in SETTINGS])
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_invariants_hold_with_several_vms(kernel, in_place, data):
    """(a)-(g) after every step of a random scenario with two or three VMs, and a deterministic replay."""
    replay(kernel, in_place, data.draw(multi_vm_scenarios(in_place), label="steps"))


# -- regressions: minimal sequences the property test once failed on ---------------------------------------------------


def test_converting_a_range_to_private_keeps_the_td_pages_td_private():
    """(a) on the smallest sequence that broke it (GuestMemfd.kvm_gmem_set_attributes re-coloured every folio of the
    range; fixed in 706ffba): in-place, page 0 converted and added (source_addr 0), then [0, 8 KiB) converted to
    private. Page 0 is already private, so nothing may change for it (in-place model, v8 13/46-17/46: the conversion
    zaps and re-attributes; it does not take pages from the TD), and its frame stays td_private (intel/tdx-module
    TDX_1.5.01 pamt_manager.h: PT_REG, owner the TD)."""
    steps = [
        op("KVM_CREATE_VM", type="KVM_X86_TDX_VM"),
        op("KVM_TDX_INIT_VM"),
        op("KVM_CREATE_VCPU", id=0),
        op("KVM_TDX_INIT_VCPU", vcpu=0),
        op("KVM_CREATE_GUEST_MEMFD", size=2 * PAGE, flags=["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"]),
        op(
            "KVM_SET_USER_MEMORY_REGION2",
            slot=0,
            flags=["KVM_MEM_GUEST_MEMFD"],
            guest_phys_addr=0,
            memory_size=2 * PAGE,
            userspace_addr=hex(GMEM_VA),
            guest_memfd=0,
            guest_memfd_offset=0,
        ),
        op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=0, offset=0, size=PAGE, attributes=PRIVATE),
        op("KVM_TDX_INIT_MEM_REGION", vcpu=0, source_addr=0, gpa=0, nr_pages=1),
        op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=0, offset=0, size=2 * PAGE, attributes=PRIVATE),
    ]
    replay("v8", True, steps)
