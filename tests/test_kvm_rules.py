"""KVM and mm rules that the scenario tests reached only one way: each test below fails if the rule it names were broken
(they were found by mutation testing, tools/mutation). Expected values come from the sources named in each docstring;
the helpers are tests/test_runtime.py's (the TD set-up of Documentation/virt/kvm/x86/intel-tdx.rst in both memory
models).
"""

from __future__ import annotations

import pytest
from scenario_helpers import (
    GMEM_VA,
    PAGE,
    SRC_VA,
    MiB,
    assert_ok,
    finalize,
    init_mem_region,
    mmap_anon,
    op,
    read,
    run,
    set_private,
    step,
    td_setup,
    tdx_error,
    write,
)
from test_runtime import MODELS, add_page, g_read, g_write, in_place, map_gpa, setup, to_shared

from tdxsim.errno import EEXIST, EFAULT, EINVAL, ENOMEM
from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE
from tdxsim.scenario import replay_scenario
from tdxsim.vmm.process import Vmm

VA = 0x7F8000000000


# -- mm: long-term pins, MADV_DONTNEED (mm/gup.c pin_user_pages FOLL_LONGTERM, mm/madvise.c) ----------------------


def anon_page(vmm: Vmm, data: bytes = b"x") -> int:
    assert vmm.mmap(PAGE, VA)["ret"] == 0
    assert vmm.write(VA, data)["ret"] == 0
    return vmm.mm.find_vma(VA).ptes[VA // PAGE]


def test_a_pinned_anonymous_page_outlives_madvise_until_unpin() -> None:
    """A long-term pin is an extra reference: MADV_DONTNEED drops the mapping, the pinned page stays allocated
    (scenario.md pin/unpin); the next touch is a new zero page; unpin drops the last reference and frees it."""
    vmm = Vmm()
    pfn = anon_page(vmm)
    assert vmm.pin(VA, PAGE)["ret"] == 0
    assert vmm.madvise(VA, PAGE)["ret"] == 0
    assert pfn in vmm.mem.frames
    assert vmm.read(VA, 1)["data"] == b"\0"
    assert vmm.unpin(VA, PAGE)["ret"] == 0
    assert pfn not in vmm.mem.frames
    assert vmm.unpin(VA, PAGE)["ret"] == -EINVAL  # no pin left to drop


def test_madvise_frees_an_unpinned_page_at_once() -> None:
    vmm = Vmm()
    pfn = anon_page(vmm)
    assert vmm.madvise(VA, PAGE)["ret"] == 0
    assert pfn not in vmm.mem.frames


def test_a_failed_pin_takes_no_pin_at_all() -> None:
    """pin_user_pages unpins what it pinned when a later page cannot be faulted in (-EFAULT), so nothing holds the
    first page afterwards: MADV_DONTNEED frees it and unpin finds nothing to drop."""
    vmm = Vmm()
    pfn = anon_page(vmm)
    assert vmm.pin(VA, 2 * PAGE)["ret"] == -EFAULT  # the second page is not mapped
    assert vmm.mem.frames[pfn].pins == 0
    assert vmm.unpin(VA, PAGE)["ret"] == -EINVAL
    assert vmm.madvise(VA, PAGE)["ret"] == 0
    assert pfn not in vmm.mem.frames


def test_madvise_of_an_unmapped_range_is_enomem() -> None:
    """madvise(2): ENOMEM, "addresses in the specified range are not currently mapped"."""
    vmm = Vmm()
    anon_page(vmm)
    assert vmm.madvise(VA, 2 * PAGE)["ret"] == -ENOMEM


def test_madvise_zaps_only_the_shared_ept_entries_of_its_own_range() -> None:
    """The MMU notifier range of MADV_DONTNEED is the page range itself (kvm_mmu_notifier_invalidate_range_start):
    the guest's shared mapping of GPA 0 goes, that of GPA 0x1000 stays."""
    model = "out-of-place"
    steps = setup(model) + [finalize(), to_shared(model, 0, 2 * PAGE), write(GMEM_VA + PAGE, b"keep")]
    steps += [g_read(0, 1, shared=True), g_read(PAGE, 4, shared=True), op("madvise", addr=hex(GMEM_VA), length=PAGE)]
    out = run(steps, in_place=False)
    shared = {p.get("shared_gpa") for p in out["final"]["pages"].values()} - {None}
    assert shared == {"0x1000"}


# -- guest_memfd -------------------------------------------------------------------------------------------------


def test_a_user_fault_past_the_end_of_the_guest_memfd_is_sigbus() -> None:
    """kvm_gmem_fault_user_mapping: pgoff >= i_size >> PAGE_SHIFT -> VM_FAULT_SIGBUS; the last page is fine."""
    vmm = Vmm("v8", True)
    vmm.KVM_CREATE_VM()
    gmem = vmm.KVM_CREATE_GUEST_MEMFD(2 * PAGE, flags=0b11)["fd"]  # MMAP | INIT_SHARED
    assert vmm.mmap(3 * PAGE, VA, fd=gmem)["ret"] == 0
    assert "signal" not in vmm.read(VA + PAGE, 1)
    assert vmm.read(VA + 2 * PAGE, 1)["signal"] == "SIGBUS"


def test_in_place_punch_hole_zaps_the_shared_ept_too() -> None:
    """v8 20/46: with in-place conversion the invalidation filter comes from the range's attributes, so a punched
    shared page leaves the shared EPT as well (kvm_gmem_punch_hole -> kvm_gmem_invalidate_begin); the guest's next
    shared read maps a new zero folio."""
    model = "in-place"
    steps = setup(model) + [finalize(), write(GMEM_VA, b"old"), g_read(0, 3, shared=True)]
    steps += [op("fallocate", "punch", guest_memfd=0, offset=0, length=PAGE), g_read(0, 3, "rd", shared=True)]
    out = run(steps)
    assert_ok(step(out, "punch"))
    assert step(out, "rd")["data"] == "000000"


# -- TDX: tdh_do_no_vcpus and the MapGPA exit ----------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_a_busy_range_block_is_retried_once(model: str) -> None:
    """tdh_do_no_vcpus: on TDX_OPERAND_BUSY kick every vCPU out and try once more (arch/x86/kvm/vmx/tdx.c); a second
    busy is an error and TDX_BUG_ON bugs the VM."""
    for busy, dead in ((1, False), (2, True)):
        steps = (
            setup(model) + add_page(model) + [finalize(), tdx_error("TDH.MEM.RANGE.BLOCK", "TDX_OPERAND_BUSY", busy)]
        )
        out = run(steps + [to_shared(model, 0, label="conv")], in_place=in_place(model))
        blocks = [c["status"] for c in step(out, "conv")["seamcalls"] if c["leaf"] == "TDH.MEM.RANGE.BLOCK"]
        assert blocks == ["TDX_OPERAND_BUSY"] * busy + ([] if dead else ["TDX_SUCCESS"])
        assert out["final"]["vm_dead"] is dead
        assert (out["final"]["sept"] == {}) is not dead


def test_map_gpa_exits_are_recorded_per_chunk() -> None:
    """One KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) per chunk of at most 2 MiB (tdx_map_gpa, scenario.md
    guest_map_gpa): 4 MiB is two exits, each in the record as a KVM exit."""
    model = "in-place"
    r = replay_scenario({"format": 1, "kernel": "v8", "steps": [*setup(model), finalize(), map_gpa(0, 4 << 20, True)]})
    exits = [(ev.layer, ev.name) for ev in r.vmm.trace.events if ev.kind == "exit"]
    assert exits == [("kvm", "KVM_EXIT_HYPERCALL")] * 2
    # and each recorded exit carries the payload userspace got (the step's `exits` without the VMM's reply)
    got = [{k: v for k, v in e.items() if k not in ("vmm", "hypercall_ret")} for e in r.output["steps"][-1]["exits"]]
    recorded = [{"reason": ev.name, **ev.data} for ev in r.vmm.trace.events if ev.kind == "exit"]
    assert [{**e, "gpa": hex(e["gpa"])} for e in recorded] == got


# -- memslot deletion and mmap's address choice -------------------------------------------------------------------


def test_deleting_a_memslot_zaps_its_mappings_and_unbinds_the_guest_memfd() -> None:
    """KVM_SET_USER_MEMORY_REGION2 with memory_size 0 is KVM_MR_DELETE: kvm_arch_flush_shadow_memslot zaps the slot's
    GFNs (the guest's shared mapping of GPA 0 goes) and kvm_gmem_unbind frees the guest_memfd range, so a new memslot
    may bind it again (kvm_gmem_bind would say -EEXIST while bound)."""
    model = "in-place"
    slot = {"slot": 0, "flags": ["KVM_MEM_GUEST_MEMFD"], "guest_phys_addr": 0, "userspace_addr": hex(GMEM_VA)}
    slot |= {"guest_memfd": 0, "guest_memfd_offset": 0}
    steps = setup(model) + [finalize(), write(GMEM_VA, b"abc"), g_read(0, 3, shared=True)]
    steps += [op("KVM_SET_USER_MEMORY_REGION2", "delete", **slot, memory_size=0)]
    steps += [op("KVM_SET_USER_MEMORY_REGION2", "again", **{**slot, "slot": 1}, memory_size=PAGE)]
    out = run(steps)
    assert_ok(step(out, "delete"))
    assert_ok(step(out, "again"))
    assert not any("shared_gpa" in p for p in out["final"]["pages"].values())


def test_mmap_without_an_address_takes_the_lowest_free_range() -> None:
    """docs/scenario.md: `mmap` without `addr` picks the lowest free page-aligned range at or above 0x7f0000000000."""
    vmm = Vmm()
    assert vmm.mmap(2 * PAGE)["addr"] == 0x7F0000000000
    assert vmm.mmap(PAGE)["addr"] == 0x7F0000002000
    assert vmm.munmap(0x7F0000000000, PAGE)["ret"] == 0
    assert vmm.mmap(PAGE)["addr"] == 0x7F0000000000  # the hole left by munmap
    assert vmm.mmap(2 * PAGE)["addr"] == 0x7F0000003000  # too big for any hole below


# -- mm: the address space, page by page (mmap(2), munmap(2), madvise(2), mm/gup.c) -------------------------------

BASE = 0x7F0000000000  # docs/scenario.md: mmap without addr starts at 0x7f0000000000


def test_a_load_or_store_spans_pages_byte_for_byte() -> None:
    """A load returns exactly the bytes asked for, and a store across a page boundary lands on both pages: memory,
    read back from the addresses it was written to. A load that ends on the last byte of a mapping does not touch the
    page after it (which is unmapped here: SIGSEGV, scenario.md `read`)."""
    vmm = Vmm()
    assert vmm.mmap(3 * PAGE, VA)["ret"] == 0
    data = bytes(range(256)) * 20  # 5120 bytes, from the middle of page 0 into page 2
    assert vmm.write(VA + PAGE - 7, data) == {"ret": 0}
    assert vmm.read(VA + PAGE - 7, len(data))["data"] == data
    assert vmm.read(VA + PAGE - 1, 3)["data"] == data[6:9]
    whole = vmm.read(VA, 3 * PAGE)
    assert "signal" not in whole and len(whole["data"]) == 3 * PAGE
    assert whole["data"][PAGE - 7 : PAGE - 7 + len(data)] == data
    assert vmm.read(VA + 3 * PAGE - 1, 2) == {"ret": 0, "signal": "SIGSEGV", "addr": VA + 3 * PAGE}


def test_munmap_of_a_hole_changes_nothing_and_munmap_from_below_unmaps() -> None:
    """munmap(2): "It is not an error if the indicated range does not contain any mapped pages", and "further
    references to addresses within the range ... generate invalid memory references" (SIGSEGV)."""
    vmm = Vmm()
    assert vmm.mmap(PAGE, VA)["ret"] == 0
    assert vmm.munmap(VA + 2 * PAGE, PAGE)["ret"] == 0  # a hole one page above the mapping
    assert vmm.read(VA + PAGE, 1)["signal"] == "SIGSEGV"  # the page between stays unmapped
    assert vmm.read(VA, 1)["data"] == b"\0"
    assert vmm.munmap(VA - PAGE, 2 * PAGE)["ret"] == 0  # starts below the (only, lowest) mapping
    assert vmm.read(VA, 1)["signal"] == "SIGSEGV"


def test_mmap_without_an_address_fills_a_gap_a_larger_mapping_skipped() -> None:
    """docs/scenario.md: the lowest free page-aligned range at or above 0x7f0000000000. A one-page gap below a fixed
    mapping is too small for two pages, but the next one-page mmap takes it."""
    vmm = Vmm()
    assert vmm.mmap(PAGE, BASE + PAGE)["ret"] == 0  # MAP_FIXED: leaves [BASE, BASE + PAGE) free
    assert vmm.mmap(2 * PAGE)["addr"] == BASE + 2 * PAGE
    assert vmm.mmap(PAGE)["addr"] == BASE
    assert vmm.mmap(PAGE)["addr"] == BASE + 4 * PAGE


def test_madvise_over_a_hole_is_enomem_and_still_drops_both_sides() -> None:
    """madvise(2): ENOMEM, "Addresses in the specified range are not currently mapped"; mm/madvise.c
    madvise_walk_vmas does not stop at the hole (it remembers -ENOMEM and walks on), so the pages on both sides are
    dropped: the next touch reads zeros."""
    vmm = Vmm()
    assert vmm.mmap(PAGE, VA)["ret"] == 0 and vmm.mmap(PAGE, VA + 2 * PAGE)["ret"] == 0
    assert vmm.write(VA, b"a")["ret"] == 0 and vmm.write(VA + 2 * PAGE, b"b")["ret"] == 0
    assert vmm.madvise(VA, 3 * PAGE)["ret"] == -ENOMEM
    assert vmm.read(VA, 1)["data"] == b"\0" and vmm.read(VA + 2 * PAGE, 1)["data"] == b"\0"


def test_two_pins_need_two_unpins() -> None:
    """pin_user_pages adds a pin per call (mm/gup.c: GUP_PIN_COUNTING_BIAS per pin) and unpin_user_pages drops one, so
    a page pinned twice outlives munmap and one unpin; the second unpin frees it (scenario.md pin/unpin)."""
    vmm = Vmm()
    pfn = anon_page(vmm)
    assert vmm.pin(VA, PAGE)["ret"] == 0 and vmm.pin(VA, PAGE)["ret"] == 0
    assert vmm.munmap(VA, PAGE)["ret"] == 0
    assert vmm.unpin(VA, PAGE)["ret"] == 0
    assert pfn in vmm.mem.frames
    assert vmm.unpin(VA, PAGE)["ret"] == 0
    assert pfn not in vmm.mem.frames


# -- memslots: overlap, lookup, deletion, and the HVA side of the MMU notifier -------------------------------------


def test_a_memslot_overlapping_another_is_eexist_and_its_neighbours_are_not() -> None:
    """virt/kvm/kvm_main.c kvm_set_memory_region: kvm_check_memslot_overlap -> -EEXIST for a new slot whose GFNs
    overlap an existing one; slots that only touch are fine."""
    vmm = Vmm()
    vmm.KVM_CREATE_VM()

    def slot(n: int, gpa: int, size: int) -> int:
        return vmm.KVM_SET_USER_MEMORY_REGION2(n, 0, gpa, size, VA + gpa)["ret"]

    assert slot(0, 2 * MiB, 2 * MiB) == 0
    assert slot(1, 0, 4 * MiB) == -EEXIST  # covers slot 0 from below
    assert slot(1, 3 * MiB, 2 * MiB) == -EEXIST  # starts inside slot 0
    assert slot(1, 0, 2 * MiB) == 0  # ends where slot 0 starts
    assert slot(2, 4 * MiB, 2 * MiB) == 0  # starts where slot 0 ends, above two slots


def test_init_mem_region_outside_every_memslot_is_einval() -> None:
    """virt/kvm/guest_memfd.c kvm_gmem_populate: `slot = gfn_to_memslot(kvm, start_gfn); if
    (!kvm_slot_has_gmem(slot)) return -EINVAL;`: a GPA below the memslot, or just past its end, has no slot, even
    where the guest_memfd's pages are all private (created without INIT_SHARED) and an add would succeed."""
    steps = td_setup("v8", in_place=True, size=2 * MiB, gpa=2 * MiB, init_shared=False)
    steps += [init_mem_region(0, label="below"), init_mem_region(4 * MiB, label="past")]
    steps += [init_mem_region(4 * MiB - PAGE, label="last")]
    out = run(steps)
    assert step(out, "below")["errno"] == "EINVAL"
    assert step(out, "past")["errno"] == "EINVAL"
    assert_ok(step(out, "last"))


@pytest.mark.parametrize("model", MODELS)
def test_deleting_a_memslot_zaps_its_private_mappings(model: str) -> None:
    """arch/x86/kvm/mmu/mmu.c kvm_mmu_zap_memslot: `.attr_filter = KVM_FILTER_PRIVATE | KVM_FILTER_SHARED` (Yan Zhao,
    20241112073426.21997-1-yan.y.zhao@intel.com): deleting a memslot of a TD zaps its private pages too, so the TD's
    page at GPA 0 is blocked and removed (TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE) and the S-EPT holds
    no leaf afterwards."""
    slot = {"slot": 0, "guest_phys_addr": 0, "memory_size": 0, "userspace_addr": hex(GMEM_VA)}
    slot |= {"flags": ["KVM_MEM_GUEST_MEMFD"], "guest_memfd": 0, "guest_memfd_offset": 0}
    steps = setup(model) + add_page(model) + [finalize(), op("KVM_SET_USER_MEMORY_REGION2", "delete", **slot)]
    out = run(steps, in_place=in_place(model))
    st = step(out, "delete")
    assert_ok(st)
    leaves = [c["leaf"] for c in st["seamcalls"]]
    assert {"TDH.MEM.RANGE.BLOCK", "TDH.MEM.TRACK", "TDH.MEM.PAGE.REMOVE"} <= set(leaves)
    assert out["final"]["sept"] == {}


def test_the_mmu_notifier_finds_every_memslot_that_maps_an_address() -> None:
    """kvm_mmu_notifier_invalidate_range_start walks the memslots whose userspace range intersects the invalidated
    one (kvm_handle_hva_range) and zaps the shared mappings of those pages only, so the guest's next shared access
    faults the page in again and reads what the VMM maps there now (a new zero page after MADV_DONTNEED), while the
    others keep reading the old data. Memslots 1-3 are created after memslot 0 but lie below it in the VMM's address
    space; MADV_DONTNEED of memslot 0's second page zaps the guest's mapping of GPA 0x1000 only; memslot 1 aliases
    memslot 2's userspace address (KVM allows it), and both lose their mapping when that page is dropped."""
    model = "out-of-place"
    low, mid = GMEM_VA - 64 * MiB, GMEM_VA - 32 * MiB
    steps = setup(model) + [finalize(), to_shared(model, 0, 2 * PAGE), mmap_anon(low, PAGE), mmap_anon(mid, PAGE)]
    slots = {0: GMEM_VA, PAGE: GMEM_VA + PAGE, 8 * MiB: mid, 16 * MiB: mid, 24 * MiB: low}
    for n, gpa in enumerate((8 * MiB, 16 * MiB, 24 * MiB), start=1):
        steps.append(op("KVM_SET_USER_MEMORY_REGION2", slot=n, flags=[], guest_phys_addr=gpa, memory_size=PAGE,
                         userspace_addr=hex(slots[gpa]), guest_memfd=0, guest_memfd_offset=0))  # fmt: skip
    steps += [write(hva, b"old") for hva in set(slots.values())]
    steps += [g_read(gpa, 3, shared=True) for gpa in slots]
    steps += [op("madvise", addr=hex(GMEM_VA + PAGE), length=PAGE), op("madvise", addr=hex(mid), length=PAGE)]
    steps += [g_read(gpa, 3, f"after {gpa:#x}", shared=True) for gpa in slots]
    out = run(steps, in_place=False)
    after = {gpa: bytes.fromhex(step(out, f"after {gpa:#x}")["data"]) for gpa in slots}
    assert after == {0: b"old", PAGE: bytes(3), 8 * MiB: bytes(3), 16 * MiB: bytes(3), 24 * MiB: b"old"}


def test_a_memslot_without_guest_memfd_follows_the_vm_attributes() -> None:
    """A memslot without a guest_memfd backs shared accesses only; the fault path compares the access with
    kvm_mem_is_private (the VM's KVM_MEMORY_ATTRIBUTE_PRIVATE) and exits to userspace on a mismatch
    (__kvm_faultin_pfn -> kvm_mmu_prepare_memory_fault_exit, -EFAULT with KVM_EXIT_MEMORY_FAULT): a shared read of a
    GFN whose attribute is private exits; deleting the memslot then succeeds."""
    model = "out-of-place"
    slot = {"slot": 1, "flags": [], "guest_phys_addr": hex(8 * MiB), "userspace_addr": hex(SRC_VA)}
    slot |= {"guest_memfd": 0, "guest_memfd_offset": 0}
    steps = setup(model) + [finalize(), mmap_anon(SRC_VA, 2 * PAGE), write(SRC_VA, b"vmm")]
    steps += [op("KVM_SET_USER_MEMORY_REGION2", **slot, memory_size=2 * PAGE)]
    steps += [g_read(8 * MiB, 3, "shared", shared=True), set_private(model, 8 * MiB + PAGE, slot_gpa=0)]
    steps += [g_read(8 * MiB + PAGE, 1, "mismatch", shared=True)]
    steps += [op("KVM_SET_USER_MEMORY_REGION2", "delete", **slot, memory_size=0)]
    out = run(steps, in_place=False)
    assert step(out, "shared")["data"] == b"vmm".hex()
    mismatch = step(out, "mismatch")
    assert mismatch["errno"] == "EFAULT"
    assert [e["reason"] for e in mismatch["exits"]] == ["KVM_EXIT_MEMORY_FAULT"]
    assert_ok(step(out, "delete"))


def test_map_gpa_exit_payload() -> None:
    """arch/x86/kvm/vmx/tdx.c __tdx_map_gpa: `run->hypercall.nr = KVM_HC_MAP_GPA_RANGE`, `args[0] = gpa &
    ~gfn_to_gpa(kvm_gfn_direct_bits(kvm))` (the GPA without the shared bit), `args[1] = size / PAGE_SIZE` with size at
    most TDX_MAP_GPA_MAX_LEN (2 MiB), `args[2] = vt_is_tdx_private_gpa(kvm, gpa) ? KVM_MAP_GPA_RANGE_ENCRYPTED :
    KVM_MAP_GPA_RANGE_DECRYPTED`; docs/scenario.md `exits` names them nr, gpa, npages, attributes. The shared bit of a
    TD with the default 4-level EPT (GPAW 48) is bit 47 (tdx.c: gfn_direct_bits = TDX_SHARED_BIT_PWL_4)."""
    model = "in-place"
    steps = [*setup(model), finalize(), map_gpa(0, 3 << 20, True, "shared"), map_gpa(0, PAGE, False, "private")]
    out = run(steps)
    shared = [{k: e[k] for k in ("reason", "nr", "gpa", "npages", "attributes")} for e in step(out, "shared")["exits"]]
    hc = {"reason": "KVM_EXIT_HYPERCALL", "nr": "KVM_HC_MAP_GPA_RANGE"}
    assert shared == [
        {**hc, "gpa": "0x0", "npages": 512, "attributes": "KVM_MAP_GPA_RANGE_DECRYPTED"},
        {**hc, "gpa": "0x200000", "npages": 256, "attributes": "KVM_MAP_GPA_RANGE_DECRYPTED"},
    ]
    (private,) = step(out, "private")["exits"]
    assert {k: private[k] for k in ("gpa", "npages", "attributes")} == {
        "gpa": "0x0",
        "npages": 1,
        "attributes": "KVM_MAP_GPA_RANGE_ENCRYPTED",
    }


def test_the_shared_bit_of_a_gpaw_48_td_is_bit_47() -> None:
    """arch/x86/kvm/vmx/tdx.c: gfn_direct_bits = TDX_SHARED_BIT_PWL_4 (GPA bit 47) without MAX_GPAW; x86.c
    kvm_arch_prepare_memory_region: a memslot whose last GFN is an alias (kvm_is_gfn_alias) is -EINVAL. Bit 46 is an
    ordinary GPA bit, bit 47 the shared one."""
    vmm = Vmm()
    vmm.KVM_CREATE_VM()
    assert vmm.KVM_TDX_INIT_VM()["ret"] == 0
    assert vmm.KVM_SET_USER_MEMORY_REGION2(0, 0, 1 << 46, PAGE, VA)["ret"] == 0
    assert vmm.KVM_SET_USER_MEMORY_REGION2(1, 0, 1 << 47, PAGE, VA)["ret"] == -EINVAL


def test_before_init_vm_no_gfn_is_an_alias() -> None:
    """arch/x86/kvm/vmx/tdx.c tdx_td_init sets kvm->arch.gfn_direct_bits (TDX_SHARED_BIT_PWL_4) only on success, just
    before TD_STATE_INITIALIZED; until then it is 0 and x86.c kvm_is_gfn_alias (`gfn & kvm_gfn_direct_bits(kvm)`)
    finds no alias, so a memslot of two pages at GPA bit 47 is created. Once KVM_TDX_INIT_VM has run, such a slot
    is -EINVAL (the control)."""
    vmm = Vmm()
    vmm.KVM_CREATE_VM()
    assert vmm.KVM_SET_USER_MEMORY_REGION2(0, 0, 1 << 47, 2 * PAGE, VA)["ret"] == 0
    assert vmm.KVM_TDX_INIT_VM()["ret"] == 0
    assert vmm.KVM_SET_USER_MEMORY_REGION2(1, 0, (1 << 47) + 2 * PAGE, PAGE, VA + 2 * PAGE)["ret"] == -EINVAL


def test_init_mem_region_refuses_a_shared_gpa_before_populating() -> None:
    """tdx.c tdx_vcpu_init_mem_region: `!vt_is_tdx_private_gpa(kvm, region.gpa) || !vt_is_tdx_private_gpa(kvm,
    region.gpa + (region.nr_pages << PAGE_SHIFT) - 1)` -> -EINVAL before the loop, so kvm_gmem_populate is never
    entered (the step's `calls`, docs/scenario.md)."""
    model = "in-place"
    steps = setup(model) + [init_mem_region(1 << 47, label="shared"), init_mem_region((1 << 47) - PAGE, label="end")]
    steps[-1]["nr_pages"] = 2
    out = run(steps)
    for label in ("shared", "end"):
        st = step(out, label)
        assert st["errno"] == "EINVAL"
        assert "kvm_gmem_populate" not in [c["fn"] for c in st["calls"]]


# -- guest_memfd at an offset, conversions and hole punches ---------------------------------------------------------


def offset_setup() -> list[dict]:
    """In-place: a 4-page guest_memfd (MMAP | INIT_SHARED) whose pages 2-3 back GPA 2 MiB (guest_memfd_offset 2
    pages); the VMM maps the guest_memfd twice: whole at GMEM_VA and pages 2-3 at VA (file offset 2 pages), above an
    anonymous mapping."""
    slot = {"slot": 0, "flags": ["KVM_MEM_GUEST_MEMFD"], "guest_phys_addr": hex(2 * MiB), "memory_size": 2 * PAGE}
    slot |= {"userspace_addr": hex(GMEM_VA + 2 * PAGE), "guest_memfd": 0, "guest_memfd_offset": 2 * PAGE}
    return [
        *td_setup("v8", in_place=True, size=2 * MiB)[:4],
        op("KVM_CREATE_GUEST_MEMFD", size=4 * PAGE, flags=["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"]),
        mmap_anon(VA - PAGE),
        op("mmap", addr=hex(GMEM_VA), length=4 * PAGE, fd="guest_memfd:0", offset=0),
        op("mmap", addr=hex(VA), length=2 * PAGE, fd="guest_memfd:0", offset=2 * PAGE),
        op("KVM_SET_USER_MEMORY_REGION2", **slot),
    ]


def test_a_memslot_at_a_guest_memfd_offset_maps_that_offset() -> None:
    """kvm_gmem_get_index: `gfn - slot->base_gfn + slot->gmem.pgoff`: GPA 2 MiB is the guest_memfd's page 2, which the
    VMM wrote through its mapping at file offset 2 pages (mm: a file VMA maps page vma->vm_pgoff + (addr - vm_start) /
    PAGE_SIZE)."""
    steps = offset_setup() + [finalize(), write(VA, b"two"), write(GMEM_VA + 3 * PAGE, b"three")]
    steps += [g_read(2 * MiB, 3, "p2", shared=True), g_read(2 * MiB + PAGE, 5, "p3", shared=True)]
    out = run(steps)
    assert bytes.fromhex(step(out, "p2")["data"]) == b"two"
    assert bytes.fromhex(step(out, "p3")["data"]) == b"three"


def test_converting_at_an_offset_zaps_exactly_the_converted_pages() -> None:
    """v8 13/46 kvm_gmem_set_attributes -> kvm_gmem_invalidate_begin walks the file's bindings for the converted
    indices ([0, 3) here: pages 0-1 are bound to no memslot) and zaps the shared EPT of those GFNs only (page 2 = GPA
    2 MiB; page 3 = GPA 2 MiB + 4 KiB keeps its mapping); unmap_mapping_pages zaps every userspace mapping of the
    indices, in each VMA of the file, so the VMM's next touch of page 2 through either mapping is SIGBUS (a private
    page, kvm_gmem_fault_user_mapping). The guest's next shared access to GPA 2 MiB faults and exits to userspace."""
    steps = offset_setup() + [finalize(), write(VA, b"two"), read(VA, 3), read(GMEM_VA + 2 * PAGE, 3)]
    steps += [g_read(2 * MiB, 3, shared=True), g_read(2 * MiB + PAGE, 3, shared=True)]
    steps += [op("KVM_SET_MEMORY_ATTRIBUTES2", "conv", guest_memfd=0, offset=0, size=3 * PAGE, attributes=PRIVATE)]
    steps += [read(VA, 1, "va"), read(GMEM_VA + 2 * PAGE, 1, "whole"), g_read(2 * MiB, 3, "guest", shared=True)]
    out = run(steps)
    assert_ok(step(out, "conv"))
    assert step(out, "va")["signal"] == step(out, "whole")["signal"] == "SIGBUS"
    assert step(out, "guest")["errno"] == "EFAULT"
    shared = {p.get("shared_gpa") for p in out["final"]["pages"].values()} - {None}
    assert shared == {hex(2 * MiB + PAGE)}


@pytest.mark.parametrize("model", MODELS)
def test_a_hole_punch_removes_exactly_the_punched_private_pages(model: str) -> None:
    """kvm_gmem_punch_hole -> kvm_gmem_invalidate_begin: KVM zaps the private mappings of the punched range (the TD's
    page goes: TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE), and only of that range: the page added next
    to it stays MAPPED."""
    steps = setup(model) + add_page(model, 0) + add_page(model, PAGE, b"next") + [finalize()]
    steps += [op("fallocate", "punch", guest_memfd=0, offset=0, length=PAGE)]
    out = run(steps, in_place=in_place(model))
    st = step(out, "punch")
    assert_ok(st)
    assert {"TDH.MEM.RANGE.BLOCK", "TDH.MEM.TRACK", "TDH.MEM.PAGE.REMOVE"} <= {c["leaf"] for c in st["seamcalls"]}
    assert out["final"]["sept"] == {"0x1000": "MAPPED"}


def test_a_hole_punch_zaps_a_shared_mapping_of_the_guest_memfd() -> None:
    """A guest_memfd with MMAP makes its memslot guest_memfd-only (kvm_gmem_bind sets KVM_MEMSLOT_GMEM_ONLY), so KVM's
    shared EPT maps the guest_memfd's own folio even without in-place conversion (kvm_mmu_faultin_pfn_gmem). Punching
    the hole frees that folio, so the shared mapping must go with it (docs/fidelity.md "A hole punch zaps every
    mapping of the range"): the guest's next shared read maps a new zero folio."""
    steps = td_setup("v8", in_place=False, gmem_flags=["GUEST_MEMFD_FLAG_MMAP"], private=False)
    steps += [finalize(), g_write(0, b"old", shared=True), op("fallocate", guest_memfd=0, offset=0, length=PAGE)]
    steps += [g_read(0, 3, "rd", shared=True)]
    out = run(steps, in_place=False)
    assert step(out, "rd")["data"] == "000000"


def test_a_punched_pinned_folio_is_freed_by_the_last_unpin() -> None:
    """The GUP pin holds the last reference once truncation dropped the page cache's (docs/scenario.md pin/unpin: a
    long-term pin is an extra reference): the folio outlives the punch and is freed by unpin."""
    steps = td_setup("v8") + [write(GMEM_VA, b"dma"), op("pin", addr=hex(GMEM_VA), length=PAGE)]
    before = run(steps)
    (frame,) = [pa for pa, p in before["final"]["pages"].items() if p.get("va") == hex(GMEM_VA)]
    steps += [op("fallocate", guest_memfd=0, offset=0, length=PAGE)]
    assert frame in run(steps)["final"]["pages"]
    steps += [op("unpin", addr=hex(GMEM_VA), length=PAGE)]
    assert frame not in run(steps)["final"]["pages"]


# -- per-VM state: HKIDs and the memory attributes KVM supports ----------------------------------------------------


def test_init_vm_without_a_free_hkid_is_enospc() -> None:
    """tdx_guest_keyid_alloc is ida_alloc_range over the private KeyIDs (arch/x86/virt/vmx/tdx/tdx.c), which returns
    -ENOSPC when no ID is free (lib/idr.c); __tdx_td_init returns it. One TD per KeyID of the platform's range
    (docs/scenario.md final.platform hkid_range), then the next INIT_VM fails."""
    from tdxsim import platform
    from tdxsim.errno import ENOSPC

    first, end = platform.HKID_RANGE
    vmm = Vmm()
    for n in range(end - first):
        assert vmm.KVM_CREATE_VM()["ret"] == 0
        vmm.select_vm(n)
        assert vmm.KVM_TDX_INIT_VM()["ret"] == 0
    vmm.KVM_CREATE_VM()
    vmm.select_vm(end - first)
    assert vmm.KVM_TDX_INIT_VM()["ret"] == -ENOSPC


@pytest.mark.parametrize("model", MODELS)
def test_vm_attributes_other_than_private_are_einval(model: str) -> None:
    """kvm_vm_ioctl_set_mem_attributes: `attrs->attributes & ~kvm_supported_mem_attributes(kvm)` -> -EINVAL. A TD
    supports only KVM_MEMORY_ATTRIBUTE_PRIVATE per VM, and with v8's in-place conversion not even that
    (kvm_supported_vm_mem_attributes returns 0, v8 10/17): bit 0 is refused in both models."""
    vmm = Vmm("v8", in_place(model))
    vmm.KVM_CREATE_VM()
    assert vmm.KVM_SET_MEMORY_ATTRIBUTES(0, PAGE, 1)["ret"] == -EINVAL
    assert vmm.KVM_SET_MEMORY_ATTRIBUTES(0, PAGE, PRIVATE)["ret"] == (-EINVAL if in_place(model) else 0)


def test_setting_the_attributes_a_range_already_has_changes_nothing() -> None:
    """virt/kvm/kvm_main.c kvm_vm_set_mem_attributes: `if (kvm_range_has_memory_attributes(kvm, start, end, ~0,
    attributes)) goto out_unlock;` — a range that already has the attributes (every GFN starts with none) is left
    alone: 0, no zap, no change recorded."""
    steps = td_setup("v8", in_place=False, private=False) + [to_shared("out-of-place", 0, 2 * PAGE, label="same")]
    r = replay_scenario({"format": 1, "kernel": "v8", "gmem_in_place_conversion": False, "steps": steps})
    assert_ok(step(r.output, "same"))
    last = r.vmm.trace.events[r.marks[-2] :]
    assert [ev for ev in last if ev.kind == "state"] == []
