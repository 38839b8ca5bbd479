"""The TD at run time, through the scenario runner: AUG and ACCEPT, conversions in both memory models, the zap
sequence, MapGPA, and who can read what.

Expected values come from the sources cited per test, never from running tdxsim:
- KVM: tdx.c = arch/x86/kvm/vmx/tdx.c and mmu.c = arch/x86/kvm/mmu/mmu.c at kvm-x86 09c6f74ecb86 (the zap sequence
  tdx_sept_remove_leaf_spte; the run-time path tdx_map_gpa, tdx_handle_ept_violation, tdx_mem_page_aug,
  tdx_is_sept_violation_unexpected_pending; KVM_EXIT_MEMORY_FAULT from kvm_mmu_prepare_memory_fault_exit);
- guest_memfd in-place conversion v8 (cover letter 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com; its
  patches "v8 NN/46"): the two memory models, kvm_gmem_fault_user_mapping (01), KVM_SET_MEMORY_ATTRIBUTES2 (13-17);
- the TDX module, intel/tdx-module tag TDX_1.5.01: tdh_mem_page_aug.c, tdh_mem_range_block.c, tdh_mem_track.c,
  tdh_mem_page_remove.c, tdg_mem_page_accept.c, helpers.h is_tlb_tracked (TLB tracking);
- docs/scenario.md for the ops and output fields;
- docs/fidelity.md for the facts checked at source: `tdx_sept_remove_leaf_spte` always issues RANGE.BLOCK and
  `tdx_track` returns early unless RUNNABLE (tdx.c), and the Feb 2026 hypercall.ret change;
- Documentation/virt/kvm/api.rst (KVM_EXIT_MEMORY_FAULT: "KVM_RUN returns -EFAULT", i.e. -1 with errno EFAULT).

Two models (scenario_helpers.td_setup): "in-place" (v8, gmem_in_place_conversion on; guest_memfd with MMAP and
INIT_SHARED mapped at GMEM_VA, converted with KVM_SET_MEMORY_ATTRIBUTES2) and "out-of-place" (v8 with it off;
anonymous memory at GMEM_VA as userspace_addr, the slot made private with KVM_SET_MEMORY_ATTRIBUTES).
"""

from __future__ import annotations

import pytest
from scenario_helpers import (
    GMEM_VA,
    PAGE,
    PRIVATE,
    SHARED_BIT,
    SRC_VA,
    MiB,
    assert_errno,
    assert_ok,
    finalize,
    guest_read,
    init_mem_region,
    leaves,
    op,
    read,
    run,
    set_private,
    source_buffer,
    step,
    td_setup,
    tdx_error,
    write,
)

MODELS = ("in-place", "out-of-place")
SECRET = b"TD-private secret bytes"
ZAP_RUNNING = ["TDH.MEM.RANGE.BLOCK", "TDH.MEM.TRACK", "TDH.MEM.PAGE.REMOVE", "TDH.PHYMEM.PAGE.WBINVD"]
ZAP_BUILDING = ["TDH.MEM.RANGE.BLOCK", "TDH.MEM.PAGE.REMOVE", "TDH.PHYMEM.PAGE.WBINVD"]


def in_place(model: str) -> bool:
    return model == "in-place"


def setup(model: str, size: int = 2 * MiB, sept_ve_disable: bool = True) -> list[dict]:
    steps = td_setup("v8", in_place=in_place(model), size=size)
    if not sept_ve_disable:
        steps[1] = op("KVM_TDX_INIT_VM", attributes=[])
    return steps


def add_page(model: str, gpa: int = 0, data: bytes = SECRET) -> list[dict]:
    """Build-time PAGE.ADD of `data` at `gpa`: in-place, write while shared, convert, source_addr 0
    (Yan's seven steps, ajjc0hw8PjGw69e9@yzhao56-desk.sh.intel.com); out-of-place, from a separate anonymous source
    buffer
    (tdx.c tdx_gmem_post_populate)."""
    if in_place(model):
        return [write(GMEM_VA + gpa, data), set_private(model, gpa), init_mem_region(gpa, 0, measure=False)]
    src = SRC_VA + gpa
    return [*source_buffer(data, src), init_mem_region(gpa, src, measure=False)]


def to_shared(model: str, gpa: int, size: int = PAGE, label: str | None = None) -> dict:
    """The active model's conversion ioctl to shared (KVM_SET_MEMORY_ATTRIBUTES on the VM or v8 13/46's
    KVM_SET_MEMORY_ATTRIBUTES2; `attributes: []` is shared)."""
    if in_place(model):
        return op("KVM_SET_MEMORY_ATTRIBUTES2", label, guest_memfd=0, offset=hex(gpa), size=size, attributes=[])
    return op("KVM_SET_MEMORY_ATTRIBUTES", label, address=hex(gpa), size=size, attributes=[])


def to_private(model: str, gpa: int, size: int = PAGE, label: str | None = None) -> dict:
    return set_private(model, gpa, size, label)


def g_read(gpa: int, length: int, label: str | None = None, shared: bool = False) -> dict:
    return op("guest_read", label, gpa=hex(gpa), length=length, shared=shared)


def g_write(gpa: int, data: bytes, label: str | None = None, shared: bool = False) -> dict:
    return op("guest_write", label, gpa=hex(gpa), data=data.hex(), shared=shared)


def g_accept(gpa: int, label: str | None = None) -> dict:
    return op("guest_accept", label, gpa=hex(gpa))


def map_gpa(gpa: int, size: int, shared: bool, label: str | None = None, **kw) -> dict:
    return op("guest_map_gpa", label, gpa=hex(gpa), size=size, shared=shared, **kw)


def private_page_for_runtime(model: str, gpa: int) -> list[dict]:
    """Make `gpa` private after finalize with the model's ioctl (out-of-place: the slot already is)."""
    return [to_private(model, gpa)] if in_place(model) else []


def tdcall_statuses(st: dict, leaf: str) -> list[str]:
    return [c["status"] for c in st["tdcalls"] if c["leaf"] == leaf]


def pages_backing(out: dict, **match: str) -> list[dict]:
    """final.pages entries whose fields equal `match` (e.g. gpa="0x0", va=hex(GMEM_VA))."""
    return [p for p in out["final"]["pages"].values() if all(p.get(k) == v for k, v in match.items())]


# -- private -> shared after ADD (row 34 of the matrix in tests/test_outcome_matrix.py) --------------------------


@pytest.mark.parametrize("model", MODELS)
def test_row34_pre_finalize_block_remove_wbinvd_without_track(model):
    """tdx.c tdx_sept_remove_leaf_spte (BLOCK, tdx_track "only when RUNNABLE", REMOVE, WBINVD); docs/fidelity.md: BLOCK
    is always issued, `tdx_track` returns early before finalize; intel/tdx-module TDX_1.5.01 tdh_mem_page_remove.c
    (direct REMOVE allowed while INITIALIZED, so it succeeds)."""
    out = run(setup(model) + add_page(model) + [to_shared(model, 0, label="conv")], in_place=in_place(model))
    st = step(out, "conv")
    assert_ok(st)
    assert leaves(st) == ZAP_BUILDING
    assert {c["status"] for c in st["seamcalls"]} == {"TDX_SUCCESS"}
    assert [c.get("gpa") for c in st["seamcalls"][:2]] == ["0x0", "0x0"]
    assert "0x0" not in out["final"]["sept"]  # the leaf is FREE (only non-FREE leaves are listed)
    assert out["final"]["td_state"] == "TD_STATE_INITIALIZED"


@pytest.mark.parametrize("model", MODELS)
def test_row34_runtime_block_track_remove_wbinvd(model):
    """tdx.c tdx_sept_remove_leaf_spte: BLOCK, TRACK, REMOVE, WBINVD in that order; intel/tdx-module TDX_1.5.01
    tdh_mem_page_remove.c and helpers.h is_tlb_tracked (REMOVE succeeds because the entry was BLOCKED and TRACK moved
    the epoch on)."""
    steps = setup(model) + add_page(model) + [finalize(), to_shared(model, 0, label="conv")]
    out = run(steps, in_place=in_place(model))
    st = step(out, "conv")
    assert_ok(st)
    assert leaves(st) == ZAP_RUNNING
    assert {c["status"] for c in st["seamcalls"]} == {"TDX_SUCCESS"}
    assert out["final"]["sept"] == {}
    assert not out["final"]["vm_dead"]


@pytest.mark.parametrize("model", MODELS)
def test_row34_runtime_of_an_augmented_accepted_page(model):
    """tdx.c tdx_handle_ept_violation, tdx_mem_page_aug (AUG -> PENDING, ACCEPT -> MAPPED) then
    tdx_sept_remove_leaf_spte: the same zap sequence for a run-time page."""
    steps = setup(model) + [finalize(), *private_page_for_runtime(model, 0x3000), g_accept(0x3000, "acc")]
    steps += [g_write(0x3000, SECRET), to_shared(model, 0x3000, label="conv")]
    out = run(steps, in_place=in_place(model))
    assert_ok(step(out, "acc"))
    st = step(out, "conv")
    assert_ok(st)
    assert leaves(st) == ZAP_RUNNING
    assert "0x3000" not in out["final"]["sept"]


@pytest.mark.parametrize("status", ["TDX_GPA_RANGE_ALREADY_BLOCKED", "TDX_OPERAND_INVALID"])
def test_any_non_zero_block_status_bugs_the_vm(status):
    """arch/x86/kvm/vmx/tdx.c (kvm-x86 09c6f74e, sean-jc/linux 07f26358) tdx_sept_remove_leaf_spte:
    "if (TDX_BUG_ON_2(err, TDH_MEM_RANGE_BLOCK, entry, level_state, kvm)) return -EIO;", and __TDX_BUG_ON's test is
    "bool __ret = !!(__err);": a success-class status (bit 63 clear, TDX_GPA_RANGE_ALREADY_BLOCKED 0x00000B07…)
    bugs the VM exactly as an error does. The zap stops at BLOCK: no TRACK, no REMOVE."""
    model = "in-place"
    steps = setup(model) + add_page(model) + [finalize(), tdx_error("TDH.MEM.RANGE.BLOCK", status)]
    out = run(steps + [to_shared(model, 0, label="conv")], in_place=True)
    st = step(out, "conv")
    assert leaves(st) == ["TDH.MEM.RANGE.BLOCK"]
    assert out["final"]["vm_dead"] is True


def test_runtime_zap_of_a_pending_page():
    """intel/tdx-module TDX_1.5.01 tdh_mem_range_block.c (PENDING -> PENDING_BLOCKED) and tdh_mem_page_remove.c (REMOVE
    accepts
    PENDING_BLOCKED): a page AUGmented but never accepted (the guest took a #VE, SEPT_VE_DISABLE off) is removed by the
    same sequence."""
    model = "in-place"
    steps = setup(model, sept_ve_disable=False) + [finalize(), to_private(model, 0x3000), g_read(0x3000, 8, "ve")]
    steps += [to_shared(model, 0x3000, label="conv")]
    out = run(steps, in_place=True)
    assert step(out, "ve")["exception"] == "#VE"
    st = step(out, "conv")
    assert_ok(st)
    assert leaves(st) == ZAP_RUNNING
    assert out["final"]["sept"] == {}


# -- AUG + ACCEPT ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_runtime_private_page_arrives_by_aug_and_accept_and_reads_zeros(model):
    """tdx.c tdx_handle_ept_violation, tdx_mem_page_aug (EPT violation -> kvm_gmem_get_pfn -> TDH.MEM.PAGE.AUG ->
    PENDING); intel/tdx-module TDX_1.5.01 tdg_mem_page_accept.c (ACCEPT of a FREE leaf exits to the host, which AUGs,
    and the guest retries; PENDING -> MAPPED, zeroed with the TD key). In-place, the page held the VMM's bytes while it
    was shared: ACCEPT zeroes them."""
    gpa = 0x5000
    steps = setup(model) + [finalize()]
    if in_place(model):
        steps += [write(GMEM_VA + gpa, b"shared-era bytes"), to_private(model, gpa)]
    steps += [g_accept(gpa, "acc"), g_read(gpa, 64, "rd")]
    out = run(steps, in_place=in_place(model))
    acc = step(out, "acc")
    assert_ok(acc)
    assert leaves(acc, "TDH.MEM.PAGE.AUG") == ["TDH.MEM.PAGE.AUG"]
    assert [c["gpa"] for c in acc["seamcalls"] if c["leaf"] == "TDH.MEM.PAGE.AUG"] == [hex(gpa)]
    assert "TDH.MEM.PAGE.ADD" not in leaves(acc)
    # No S-EPT table exists yet: SEPT.ADD for each missing level precedes the AUG (tdx.c tdx_sept_map_nonleaf_spte).
    assert leaves(acc) == ["TDH.MEM.SEPT.ADD"] * 3 + ["TDH.MEM.PAGE.AUG"]
    statuses = tdcall_statuses(acc, "TDG.MEM.PAGE.ACCEPT")
    assert statuses[-1] == "TDX_SUCCESS" and statuses.count("TDX_SUCCESS") == 1
    rd = step(out, "rd")
    assert_ok(rd)
    assert rd["data"] == "00" * 64
    assert out["final"]["sept"] == {hex(gpa): "MAPPED"}


def test_accept_twice_reports_already_accepted():
    """intel/tdx-module TDX_1.5.01 tdg_mem_page_accept.c: an already MAPPED page -> TDX_PAGE_ALREADY_ACCEPTED, no
    SEAMCALL."""
    steps = setup("out-of-place") + [finalize(), g_accept(0x1000), g_accept(0x1000, "again")]
    st = step(run(steps, in_place=False), "again")
    assert_ok(st)
    assert tdcall_statuses(st, "TDG.MEM.PAGE.ACCEPT") == ["TDX_PAGE_ALREADY_ACCEPTED"]
    assert st["seamcalls"] == []


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("access", ["read", "write"])
def test_touch_of_free_private_page_with_sept_ve_disable_kills_the_vm(model, access):
    """tdx.c tdx_handle_ept_violation, tdx_mem_page_aug: the access AUGs the page (PENDING) and, with SEPT_VE_DISABLE
    (QEMU's default, docs/scenario.md KVM_TDX_INIT_VM), tdx_is_sept_violation_unexpected_pending -> kvm_vm_dead, -EIO;
    later guest steps are -EIO too (docs/scenario.md "vm_dead")."""
    gpa = 0x2000
    touch = g_read(gpa, 8, "touch") if access == "read" else g_write(gpa, b"x", "touch")
    steps = setup(model) + [finalize(), *private_page_for_runtime(model, gpa), touch, g_accept(gpa, "later")]
    out = run(steps, in_place=in_place(model))
    st = step(out, "touch")
    assert_errno(st, "EIO")
    assert "TDH.MEM.PAGE.AUG" in leaves(st)
    assert out["final"]["vm_dead"] is True
    assert_errno(step(out, "later"), "EIO")


@pytest.mark.parametrize("model", MODELS)
def test_touch_of_free_private_page_without_sept_ve_disable_is_a_ve(model):
    """docs/scenario.md "Guest steps" and tdx.c tdx_handle_ept_violation, tdx_mem_page_aug: without SEPT_VE_DISABLE the
    guest takes a #VE; the page stays PENDING until the guest accepts it (intel/tdx-module TDX_1.5.01
    tdg_mem_page_accept.c), and the VM lives."""
    gpa = 0x2000
    steps = setup(model, sept_ve_disable=False) + [finalize(), *private_page_for_runtime(model, gpa)]
    steps += [g_read(gpa, 8, "touch"), g_accept(gpa, "acc"), g_read(gpa, 8, "rd")]
    out = run(steps, in_place=in_place(model))
    st = step(out, "touch")
    assert_ok(st)
    assert st["exception"] == "#VE"
    assert "TDH.MEM.PAGE.AUG" in leaves(st)
    assert out["final"]["vm_dead"] is False
    acc = step(out, "acc")
    assert tdcall_statuses(acc, "TDG.MEM.PAGE.ACCEPT") == ["TDX_SUCCESS"]
    assert step(out, "rd")["data"] == "00" * 8
    assert out["final"]["sept"] == {hex(gpa): "MAPPED"}


# -- KVM_EXIT_MEMORY_FAULT ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_shared_access_to_a_private_page_exits_with_memory_fault(model):
    """mmu.c kvm_mmu_prepare_memory_fault_exit (a fault that does not match the attribute -> KVM_EXIT_MEMORY_FAULT) and
    api.rst (KVM_RUN returns -EFAULT with it); the shared access carries no PRIVATE flag."""
    gpa = 0x4000
    steps = setup(model) + [finalize(), *private_page_for_runtime(model, gpa), g_read(gpa, 8, "rd", shared=True)]
    st = step(run(steps, in_place=in_place(model)), "rd")
    assert_errno(st, "EFAULT")
    assert [(e["reason"], e["gpa"], e["flags"]) for e in st["exits"]] == [("KVM_EXIT_MEMORY_FAULT", hex(gpa), [])]
    assert st["seamcalls"] == []


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("op", ["read", "accept"])
def test_private_access_to_a_shared_page_exits_with_memory_fault(model, op):
    """mmu.c kvm_mmu_prepare_memory_fault_exit with the private flag (KVM_MEMORY_EXIT_FLAG_PRIVATE); no AUG for a
    shared page."""
    gpa = 0x4000
    steps = setup(model) + [finalize()]
    if not in_place(model):
        steps.append(to_shared(model, gpa))
    steps.append(g_read(gpa, 8, "x") if op == "read" else g_accept(gpa, "x"))
    st = step(run(steps, in_place=in_place(model)), "x")
    assert_errno(st, "EFAULT")
    assert [(e["reason"], e["gpa"], e["flags"]) for e in st["exits"]] == [
        ("KVM_EXIT_MEMORY_FAULT", hex(gpa), ["KVM_MEMORY_EXIT_FLAG_PRIVATE"])
    ]
    assert "TDH.MEM.PAGE.AUG" not in leaves(st)


# -- what the guest's shared view is after conversion ---------------------------------------------------------


def test_out_of_place_shared_view_is_the_separate_shared_page():
    """out-of-place model, v8 cover letter: two physical pages back one GPA; after private -> shared the guest sees the
    separate shared page (userspace_addr, which userspace wrote), and the private guest_memfd page stays allocated until
    userspace punches a hole (final.memory shows both); docs/scenario.md `fallocate`."""
    model = "out-of-place"
    steps = setup(model) + add_page(model) + [finalize(), write(GMEM_VA, b"VMM's shared bytes")]
    steps += [to_shared(model, 0, label="conv"), g_read(0, 18, "rd", shared=True)]
    out_before = run(steps, in_place=False)
    assert leaves(step(out_before, "conv")) == ZAP_RUNNING
    assert step(out_before, "rd")["data"] == b"VMM's shared bytes".hex()
    gmem_pages = pages_backing(out_before, guest_memfd="guest_memfd:0+0x0")
    anon_pages = pages_backing(out_before, va=hex(GMEM_VA))
    assert len(gmem_pages) == 1 and len(anon_pages) == 1
    assert gmem_pages[0]["owner"] == "guest_memfd_private" and gmem_pages[0]["pamt"] == "PT_NDA"
    assert anon_pages[0]["owner"] == "host" and anon_pages[0].get("shared_gpa") == "0x0"
    assert out_before["final"]["memory"].get("guest_memfd_private") == PAGE
    assert out_before["final"]["memory"].get("td_private", 0) == 0

    punched = run(steps + [op("fallocate", "punch", guest_memfd=0, offset=0, length=PAGE)], in_place=False)
    assert_ok(step(punched, "punch"))
    assert pages_backing(punched, guest_memfd="guest_memfd:0+0x0") == []
    assert punched["final"]["memory"].get("guest_memfd_private", 0) == 0
    assert len(pages_backing(punched, va=hex(GMEM_VA))) == 1
    # What the double allocation costs: exactly the one private page.
    host_before = out_before["final"]["memory"]["host"]
    assert punched["final"]["memory"]["host"] == host_before


def test_in_place_conversion_flips_one_page():
    """in-place model, v8 13/46-17/46: one page per GFN whose attribute changes; after private -> shared the VMM's
    mapping and the guest's shared alias reach the same page (docs/scenario.md: a MMAP guest_memfd's slot is
    guest_memfd-only)."""
    model = "in-place"
    steps = setup(model) + add_page(model) + [finalize(), to_shared(model, 0, label="conv")]
    steps += [write(GMEM_VA, b"after conversion"), g_read(0, 16, "rd", shared=True)]
    out = run(steps, in_place=True)
    assert leaves(step(out, "conv")) == ZAP_RUNNING
    assert step(out, "rd")["data"] == b"after conversion".hex()
    backing = pages_backing(out, guest_memfd="guest_memfd:0+0x0")
    assert len(backing) == 1
    assert backing[0]["owner"] == "guest_memfd_shared"
    assert backing[0].get("va") == hex(GMEM_VA) and backing[0].get("shared_gpa") == "0x0"
    assert "guest_memfd_private" not in out["final"]["memory"]


# -- who can read what ----------------------------------------------------------------------------------------


def test_in_place_host_cannot_read_a_private_page():
    """v8 01/46 (faults on private indices -> SIGBUS), for a page the guest wrote after accepting it; and
    after conversion back to shared, the old plaintext is not what the host reads (contents are not preserved, v8
    17/46's api.rst;
    the host has no private KeyID: never plaintext)."""
    model = "in-place"
    gpa = 0x6000
    steps = setup(model) + [finalize(), to_private(model, gpa), g_accept(gpa), g_write(gpa, SECRET)]
    steps += [read(GMEM_VA + gpa, len(SECRET), "rd"), write(GMEM_VA + gpa, b"x", "wr")]
    steps += [map_gpa(gpa, PAGE, shared=True, label="conv"), read(GMEM_VA + gpa, len(SECRET), "after")]
    out = run(steps, in_place=True)
    for label in ("rd", "wr"):
        st = step(out, label)
        assert st["ret"] == 0 and st.get("signal") == "SIGBUS" and "data" not in st
    assert_ok(step(out, "conv"))
    assert leaves(step(out, "conv")) == ZAP_RUNNING
    after = step(out, "after")
    assert "signal" not in after
    assert bytes.fromhex(after["data"]) != SECRET


def test_in_place_host_cannot_read_an_added_page():
    """v8 01/46 kvm_gmem_fault_user_mapping: the build-time private page (PAGE.ADD in place) is SIGBUS to the VMM
    too."""
    model = "in-place"
    out = run(setup(model) + add_page(model) + [finalize(), read(GMEM_VA, 8, "rd")], in_place=True)
    assert step(out, "rd").get("signal") == "SIGBUS"


def test_out_of_place_host_reads_the_shared_page_never_the_private_bytes():
    """out-of-place model, v8 cover letter: the private page is guest_memfd memory, not in the VMM's address space;
    userspace_addr is the separate (zero-filled, never written) anonymous page, so the VMM reads zeros, never the
    guest's secret."""
    model = "out-of-place"
    gpa = 0x6000
    steps = setup(model) + [finalize(), g_accept(gpa), g_write(gpa, SECRET), g_read(gpa, len(SECRET), "g")]
    steps += [read(GMEM_VA + gpa, len(SECRET), "rd")]
    out = run(steps, in_place=False)
    assert step(out, "g")["data"] == SECRET.hex()
    rd = step(out, "rd")
    assert "signal" not in rd
    assert rd["data"] == "00" * len(SECRET)
    td_pages = [p for p in out["final"]["pages"].values() if p["owner"] == "td_private"]
    assert len(td_pages) == 1 and "va" not in td_pages[0]


def test_out_of_place_converted_page_never_shows_the_private_bytes():
    """out-of-place model, v8 cover letter ("content is not carried over") after a run-time private -> shared MapGPA
    handled as QEMU does (kvm_convert_memory: KVM_SET_MEMORY_ATTRIBUTES, then a hole punched in the guest_memfd)."""
    model = "out-of-place"
    gpa = 0x6000
    steps = setup(model) + [finalize(), g_accept(gpa), g_write(gpa, SECRET)]
    steps += [map_gpa(gpa, PAGE, shared=True, label="conv"), read(GMEM_VA + gpa, len(SECRET), "rd")]
    steps += [g_read(gpa, len(SECRET), "g", shared=True)]
    out = run(steps, in_place=False)
    conv = step(out, "conv")
    assert leaves(conv) == ZAP_RUNNING
    assert [s["op"] for s in conv["exits"][0]["vmm"]] == ["KVM_SET_MEMORY_ATTRIBUTES", "fallocate"]
    assert bytes.fromhex(step(out, "rd")["data"]) != SECRET
    assert bytes.fromhex(step(out, "g")["data"]) != SECRET
    assert out["final"]["memory"].get("td_private", 0) == 0


# -- guest_map_gpa ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_map_gpa_chunks_of_at_most_2mib(model):
    """tdx.c tdx_map_gpa, tdx_complete_vmcall_map_gpa: one KVM_EXIT_HYPERCALL (KVM_HC_MAP_GPA_RANGE) per chunk of at
    most TDX_MAP_GPA_MAX_LEN (2 MiB): a 5 MiB range is 512 + 512 + 256 pages; gpa without the shared bit; a reply of 0
    continues, and the call ends with TDVMCALL_STATUS_SUCCESS. The VMM converts each chunk with its model's ioctl
    (docs/scenario.md guest_map_gpa, QEMU's kvm_convert_memory)."""
    shared = not in_place(model)  # in-place starts all shared (INIT_SHARED), out-of-place all private
    steps = setup(model, size=6 * MiB) + [finalize(), map_gpa(0, 5 * MiB, shared=shared, label="map")]
    st = step(run(steps, in_place=in_place(model)), "map")
    assert_ok(st)
    exits = st["exits"]
    assert [e["reason"] for e in exits] == ["KVM_EXIT_HYPERCALL"] * 3
    assert [e["nr"] for e in exits] == ["KVM_HC_MAP_GPA_RANGE"] * 3
    assert [e["npages"] for e in exits] == [512, 512, 256]
    assert [e["gpa"] for e in exits] == ["0x0", "0x200000", "0x400000"]
    direction = "KVM_MAP_GPA_RANGE_DECRYPTED" if shared else "KVM_MAP_GPA_RANGE_ENCRYPTED"
    assert {e["attributes"] for e in exits} == {direction}
    assert [e["hypercall_ret"] for e in exits] == [0, 0, 0]
    ioctl = "KVM_SET_MEMORY_ATTRIBUTES2" if in_place(model) else "KVM_SET_MEMORY_ATTRIBUTES"
    assert [[s["op"] for s in e["vmm"] if s["op"].startswith("KVM")] for e in exits] == [[ioctl]] * 3
    assert all(s["ret"] == 0 for e in exits for s in e["vmm"])
    assert tdcall_statuses(st, "TDG.VP.VMCALL<MapGPA>") == ["TDVMCALL_STATUS_SUCCESS"]


@pytest.mark.parametrize(
    "gpa,size,shared,status",
    [
        (0x800, PAGE, True, "TDVMCALL_STATUS_ALIGN_ERROR"),
        (0, 0x800, True, "TDVMCALL_STATUS_ALIGN_ERROR"),
        (0x1000, PAGE + 1, False, "TDVMCALL_STATUS_ALIGN_ERROR"),
        (0, 0, True, "TDVMCALL_STATUS_INVALID_OPERAND"),
        (SHARED_BIT - PAGE, 2 * PAGE, False, "TDVMCALL_STATUS_INVALID_OPERAND"),
        (1 << 52, PAGE, False, "TDVMCALL_STATUS_INVALID_OPERAND"),
    ],
    ids=["unaligned-gpa", "unaligned-size", "unaligned-size-2", "size-0", "straddles-shared-bit", "beyond-maxphyaddr"],
)
def test_map_gpa_refused_without_exit(gpa, size, shared, status):
    """tdx.c tdx_map_gpa, tdx_complete_vmcall_map_gpa: an illegal, wrapping or shared-bit-straddling range ->
    INVALID_OPERAND (checked first), then 4K alignment -> ALIGN_ERROR; no exit to userspace, nothing converted."""
    steps = setup("in-place") + [finalize(), map_gpa(gpa, size, shared=shared, label="map")]
    st = step(run(steps, in_place=True), "map")
    assert_ok(st)
    assert st["exits"] == []
    assert st["seamcalls"] == []
    assert tdcall_statuses(st, "TDG.VP.VMCALL<MapGPA>") == [status]


@pytest.mark.parametrize(
    "kernel,vmm_ret,status",
    [
        ("v8", 11, "TDVMCALL_STATUS_RETRY"),
        ("kvm-x86-2026-06", 11, "TDVMCALL_STATUS_RETRY"),
        ("v8", 22, "TDVMCALL_STATUS_INVALID_OPERAND"),
        ("pre-2a62345b3052", 11, "TDVMCALL_STATUS_INVALID_OPERAND"),
        ("2a62345b3052", 11, "TDVMCALL_STATUS_INVALID_OPERAND"),
        ("pre-2a62345b3052", 22, "TDVMCALL_STATUS_INVALID_OPERAND"),
    ],
)
def test_map_gpa_vmm_reply(kernel, vmm_ret, status):
    """tdx.c tdx_map_gpa, tdx_complete_vmcall_map_gpa (EAGAIN -> RETRY, EINVAL -> INVALID_OPERAND) as of the Feb 2026
    change, and before it any non-zero hypercall.ret -> INVALID_OPERAND (docs/fidelity.md, docs/scenario.md kernel
    flavours). A non-zero reply ends the call: a 5 MiB range stops after its first chunk."""
    call = map_gpa(0, 5 * MiB, shared=True, label="map", vmm_ret=vmm_ret)
    steps = td_setup(kernel, size=6 * MiB) + [finalize(), call]
    st = step(run(steps, kernel=kernel), "map")
    assert_ok(st)
    assert [e["npages"] for e in st["exits"]] == [512]
    assert st["exits"][0]["hypercall_ret"] == vmm_ret
    assert tdcall_statuses(st, "TDG.VP.VMCALL<MapGPA>") == [status]


def test_map_gpa_other_reply_fails_kvm_run():
    """docs/fidelity.md (the Feb 2026 change): since it, a reply other than 0, EAGAIN or EINVAL fails KVM_RUN with
    -EINVAL."""
    steps = td_setup("v8") + [finalize(), map_gpa(0, PAGE, shared=False, label="map", vmm_ret=5)]
    assert_errno(step(run(steps), "map"), "EINVAL")


@pytest.mark.parametrize("model", MODELS)
def test_map_gpa_vmm_ignore_leaves_attributes_unchanged(model):
    """docs/scenario.md guest_map_gpa `vmm: "ignore"`: the VMM replies without converting; the page stays private and
    MAPPED (no zap), the guest still reads its bytes privately, and a shared access still faults (mmu.c
    kvm_mmu_prepare_memory_fault_exit)."""
    steps = setup(model) + add_page(model) + [finalize(), map_gpa(0, PAGE, shared=True, label="map", vmm="ignore")]
    steps += [g_read(0, len(SECRET), "priv"), g_read(0, 8, "shr", shared=True)]
    out = run(steps, in_place=in_place(model))
    st = step(out, "map")
    assert_ok(st)
    assert st["seamcalls"] == []
    assert [e["vmm"] for e in st["exits"]] == [[]]
    assert tdcall_statuses(st, "TDG.VP.VMCALL<MapGPA>") == ["TDVMCALL_STATUS_SUCCESS"]
    assert out["final"]["sept"] == {"0x0": "MAPPED"}
    assert step(out, "priv")["data"] == SECRET.hex()
    assert_errno(step(out, "shr"), "EFAULT")


@pytest.mark.parametrize("model", MODELS)
def test_map_gpa_round_trip(model):
    """tdx.c tdx_map_gpa, tdx_handle_ept_violation: shared -> private by MapGPA, AUG + ACCEPT; then private -> shared by
    MapGPA zaps with BLOCK, TRACK, REMOVE, WBINVD (tdx_sept_remove_leaf_spte); the shared alias then works."""
    gpa = 0x7000
    steps = setup(model) + [finalize()]
    if not in_place(model):
        steps.append(map_gpa(gpa, PAGE, shared=True))
    steps += [map_gpa(gpa, PAGE, shared=False, label="priv"), g_accept(gpa, "acc"), g_write(gpa, SECRET)]
    steps += [map_gpa(gpa, PAGE, shared=True, label="shr"), g_write(gpa, b"hi", "sw", shared=True)]
    out = run(steps, in_place=in_place(model))
    assert step(out, "priv")["seamcalls"] == []
    assert "TDH.MEM.PAGE.AUG" in leaves(step(out, "acc"))
    assert leaves(step(out, "shr")) == ZAP_RUNNING
    assert_ok(step(out, "sw"))
    assert out["final"]["sept"] == {}


# -- pinned pages (row 31 of the matrix in tests/test_outcome_matrix.py) ----------------------------------------


def test_row31_pinned_page_refuses_conversion_to_private():
    """v8 14/46 (kvm_gmem_is_safe_for_conversion: an elevated refcount -> -EAGAIN with error_offset = the first bad
    page; attributes unchanged); docs/scenario.md pin/unpin."""
    steps = td_setup("v8") + [write(GMEM_VA + PAGE, b"pinned"), op("pin", addr=hex(GMEM_VA + PAGE), length=PAGE)]
    steps += [op("KVM_SET_MEMORY_ATTRIBUTES2", "conv", guest_memfd=0, offset=0, size=2 * PAGE, attributes=PRIVATE)]
    steps += [read(GMEM_VA, 4, "rd0"), read(GMEM_VA + PAGE, 6, "rd1")]
    steps += [op("unpin", addr=hex(GMEM_VA + PAGE), length=PAGE)]
    steps += [op("KVM_SET_MEMORY_ATTRIBUTES2", "again", guest_memfd=0, offset=0, size=2 * PAGE, attributes=PRIVATE)]
    steps += [read(GMEM_VA + PAGE, 6, "rd2")]
    out = run(steps)
    conv = step(out, "conv")
    assert_errno(conv, "EAGAIN")
    assert conv["error_offset"] == hex(PAGE)
    assert "signal" not in step(out, "rd0")  # offset 0 is still shared too: nothing converted
    assert step(out, "rd1")["data"] == b"pinned".hex()
    assert_ok(step(out, "again"))
    assert step(out, "rd2").get("signal") == "SIGBUS"


def test_row31_pinned_page_at_run_time():
    """v8 14/46 kvm_gmem_is_safe_for_conversion at run time: the VMM's conversion to private inside a MapGPA exit fails
    with -EAGAIN and the page stays shared (a private access still exits with KVM_EXIT_MEMORY_FAULT)."""
    steps = td_setup("v8") + [finalize(), write(GMEM_VA, b"dma"), op("pin", addr=hex(GMEM_VA), length=PAGE)]
    steps += [map_gpa(0, PAGE, shared=False, label="map"), g_accept(0, "acc")]
    out = run(steps)
    nested = step(out, "map")["exits"][0]["vmm"]
    assert [(s["op"], s["errno"]) for s in nested] == [("KVM_SET_MEMORY_ATTRIBUTES2", "EAGAIN")]
    acc = step(out, "acc")
    assert_errno(acc, "EFAULT")
    assert acc["exits"][0]["reason"] == "KVM_EXIT_MEMORY_FAULT"


# -- guest steps need a finalized TD ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_guest_steps_before_finalize_are_einval(model):
    """docs/scenario.md "Guest steps need a finalized TD (before finalize, KVM_RUN on a TD is refused: -EINVAL)";
    nothing reaches the TDX module."""
    steps = setup(model) + add_page(model)
    steps += [
        g_read(0, 8, "r"),
        g_write(0, b"x", "w"),
        g_accept(0x1000, "a"),
        map_gpa(0x1000, PAGE, shared=True, label="m"),
        guest_read(0, 8, label="r2"),
    ]
    out = run(steps, in_place=in_place(model))
    for label in ("r", "w", "a", "m", "r2"):
        st = step(out, label)
        assert_errno(st, "EINVAL")
        assert st["seamcalls"] == []
        assert st.get("exits", []) == []
    assert out["final"]["td_state"] == "TD_STATE_INITIALIZED"


# -- deviations found by these tests and fixed since (each guards its fix) ---------------------------------------


def test_attributes2_to_private_keeps_td_owner():
    """intel/tdx-module TDX_1.5.01 pamt_manager.h: a PT_REG page is TD private data, owner = the TDR; docs/scenario.md
    final.pages: owner `td_private` is "a page of the TD's private memory". Converting a range to private that already
    holds an ADDed page (and a shared one next to it) changes nothing for the ADDed page: it stays in the S-EPT,
    PT_REG."""
    model = "in-place"
    steps = setup(model) + add_page(model) + [finalize(), to_private(model, 0, 2 * PAGE, label="conv")]
    out = run(steps, in_place=True)
    assert_ok(step(out, "conv"))
    assert out["final"]["sept"] == {"0x0": "MAPPED"}
    (page,) = pages_backing(out, guest_memfd="guest_memfd:0+0x0")
    assert page["pamt"] == "PT_REG"
    assert page["owner"] == "td_private"


def test_out_of_place_punch_hole_leaves_the_shared_side_mapped():
    """in-place model, v8 13/46-17/46: kvm_gmem_invalidate_start zaps "with a filter computed from the current
    attributes of the range (v8 20)" — upstream kvm_gmem_get_invalidate_filter: KVM_FILTER_PRIVATE unless INIT_SHARED.
    Out-of-place the guest_memfd is all private and the shared side is the anonymous userspace_addr page (out-of-place),
    so punching a hole in the guest_memfd must not unmap the shared EPT entry of that anonymous page."""
    model = "out-of-place"
    steps = setup(model) + [finalize(), to_shared(model, 0), write(GMEM_VA, b"shared"), g_read(0, 6, shared=True)]
    steps += [op("fallocate", "punch", guest_memfd=0, offset=0, length=PAGE)]
    out = run(steps, in_place=False)
    assert_ok(step(out, "punch"))
    (anon,) = pages_backing(out, va=hex(GMEM_VA))
    assert anon.get("shared_gpa") == "0x0"


def test_punched_pinned_folio_is_freed_on_unpin():
    """Linux mm: truncation drops the page cache's reference and the GUP pin holds the last one, so the folio is freed
    by unpin_user_pages (docs/scenario.md pin/unpin: a long-term pin is an extra reference) (inferred). Afterwards no
    page is left that belongs to the guest_memfd's shared side."""
    steps = td_setup("v8") + [write(GMEM_VA, b"dma"), op("pin", addr=hex(GMEM_VA), length=PAGE)]
    steps += [op("fallocate", guest_memfd=0, offset=0, length=PAGE), op("unpin", addr=hex(GMEM_VA), length=PAGE)]
    out = run(steps)
    assert "guest_memfd_shared" not in out["final"]["memory"]


@pytest.mark.parametrize("discard", ["madvise", "munmap"])
def test_discarding_the_shared_side_zaps_the_shared_ept(discard):
    """Linux mm: MADV_DONTNEED and munmap invalidate the range through the MMU notifier, and KVM's
    kvm_mmu_notifier_invalidate_range_start zaps the shared EPT mappings of those pages (out-of-place model, v8 cover
    letter: the shared side is an ordinary mmap; inferred). The guest's next shared access faults again: after
    MADV_DONTNEED it reads a fresh zero page; after munmap there is nothing to map (-EFAULT). Never a stale page, never
    a traceback (docs/scenario.md)."""
    model = "out-of-place"
    steps = setup(model) + [finalize(), to_shared(model, 0), write(GMEM_VA, b"old"), g_read(0, 3, shared=True)]
    if discard == "madvise":
        steps += [op("madvise", addr=hex(GMEM_VA), length=PAGE), g_read(0, 3, "rd", shared=True)]
        out = run(steps, in_place=False)
        assert step(out, "rd")["data"] == "000000"
    else:
        steps += [op("munmap", addr=hex(GMEM_VA), length=PAGE), g_read(0, 3, "rd", shared=True)]
        out = run(steps, in_place=False)
        assert step(out, "rd")["ret"] != 0
