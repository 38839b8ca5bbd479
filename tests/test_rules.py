"""Rules that no other test would miss if they broke: each test below fails when its rule is removed or changed
(checked by deleting the rule). Expected values are quoted from the kernel source named in each docstring.
"""

from __future__ import annotations

import pytest
from scenario_helpers import (
    GMEM_VA,
    PAGE,
    MiB,
    _hex,
    assert_errno,
    assert_ok,
    finalize,
    guest_read,
    init_mem_region,
    op,
    run,
    set_private,
    step,
    td_setup,
)

from tdxsim.scenario import parse_step, replay_scenario

SHARED_GPA = 1 << 47  # GPAW 48: the shared bit is GPA bit 47 (tdx_set_mirror_root_level: BIT_ULL(47))


def _slot(slot: int, gpa: int, size: int, offset: int = 0, label: str | None = None) -> dict:
    return op(
        "KVM_SET_USER_MEMORY_REGION2",
        label,
        slot=slot,
        flags=["KVM_MEM_GUEST_MEMFD"],
        guest_phys_addr=_hex(gpa),
        memory_size=size,
        userspace_addr=_hex(GMEM_VA + offset),
        guest_memfd=0,
        guest_memfd_offset=offset,
    )


def _td_with_gmem(size: int = 2 * MiB) -> list[dict]:
    """An initialised TD and one in-place guest_memfd, mapped at GMEM_VA, with no memslot yet."""
    return td_setup("v8", model="in-place", size=size)[:-1]


# -- KVM_SET_USER_MEMORY_REGION2 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "gpa,npages,expected",
    [
        (SHARED_GPA - PAGE, 1, None),  # the last GFN is the last private one
        (SHARED_GPA - PAGE, 2, "EINVAL"),  # the last GFN carries the shared bit
        (SHARED_GPA, 1, "EINVAL"),  # wholly in the shared half
    ],
    ids=["last-private-gfn", "straddles-the-shared-bit", "shared-half"],
)
def test_memslot_whose_last_gfn_has_the_shared_bit_is_refused(gpa, npages, expected):
    """arch/x86/kvm/x86.c kvm_arch_prepare_memory_region: "if (kvm_is_gfn_alias(kvm, new->base_gfn + new->npages
    - 1)) return -EINVAL;" — for a TD the alias bits are kvm_gfn_direct_bits, the shared bit (bit 47 of the GPA with
    GPAW 48). Only the last GFN is tested, so a slot ending right below the bit is accepted."""
    out = run(_td_with_gmem() + [_slot(0, gpa, npages * PAGE, label="slot")])
    st = step(out, "slot")
    if expected is None:
        assert_ok(st)
    else:
        assert_errno(st, expected)


@pytest.mark.parametrize(
    "first,second,expected",
    [(0, PAGE, "EEXIST"), (0, 2 * PAGE, None), (2 * PAGE, PAGE, "EEXIST"), (2 * PAGE, 0, None)],
    ids=["overlaps-the-end", "right-after", "overlaps-the-start", "right-before"],
)
def test_guest_memfd_range_bound_twice_is_eexist(first, second, expected):
    """virt/kvm/guest_memfd.c kvm_gmem_bind (kvm-x86 5e38e1bd): "start = offset >> PAGE_SHIFT; end = start +
    slot->npages; if (!xa_empty(&f->bindings) && xa_find(&f->bindings, &start, end - 1, XA_PRESENT)) { r = -EEXIST;
    ...": a second memslot (at another GPA) that binds any page of the guest_memfd already bound is -EEXIST; the
    pages right before and right after the first binding are free."""
    steps = _td_with_gmem() + [_slot(0, 0, 2 * PAGE, offset=first)]
    steps.append(_slot(1, 1 * MiB, 2 * PAGE, offset=second, label="second"))
    st = step(run(steps), "second")
    if expected is None:
        assert_ok(st)
    else:
        assert_errno(st, expected)


# -- v8 21/46: zero a folio that is not up to date -----------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["v8", "v13"])
def test_a_folio_that_is_not_up_to_date_is_zeroed_before_the_in_place_add(kernel):
    """v8 21/46 "KVM: guest_memfd: Zero page while getting pfn" (20260618-gmem-inplace-conversion-v8-0-…): the
    "if (!folio_test_uptodate(folio)) { clear_highpage(...); folio_mark_uptodate(folio); }" of kvm_gmem_get_pfn
    (kvm-x86 5e38e1bd) moves into __kvm_gmem_get_pfn, which kvm_gmem_populate uses too. A folio the page cache
    allocates is not zeroed (kvm_gmem_get_folio: __filemap_get_folio_mpol with GFP_HIGHUSER, no __GFP_ZERO) and
    not up to date until someone marks it: here it holds what the page's previous user left. The in-place add
    of that never-written page must give the TD zeros, not the stale bytes."""
    steps = td_setup(kernel, model="in-place") + [set_private("in-place", 0)]
    replay = replay_scenario({"format": 1, "kernel": kernel, "steps": steps})
    vmm = replay.vmm
    gmem = vmm.kvm.gmems[0]
    pfn = gmem.kvm_gmem_get_folio(0)  # filemap_grab_folio: allocated, not up to date
    assert 0 not in gmem.uptodate
    vmm.mem.write(pfn, 0, b"left by the page's previous user")
    results = {}
    for i, raw in enumerate([init_mem_region(0, 0, label="add"), finalize(), guest_read(0, 64, label="read")]):
        op, args = parse_step(raw, i)
        results[raw.get("label")] = getattr(vmm, op)(**args)
    assert results["add"]["ret"] == 0
    assert results["read"]["data"] == bytes(64)


# -- KVM_TDX_INIT_VM: the CPUID count ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nent,expected",
    [(0, "EINVAL"), (1, None), (256, None), (257, "E2BIG")],
)
def test_init_vm_cpuid_nent(nent, expected):
    """arch/x86/kvm/vmx/tdx.c tdx_td_init: "if (get_user(nr_user_entries, &user_data->cpuid.nent)) return
    -EFAULT; if (nr_user_entries > KVM_MAX_CPUID_ENTRIES) return -E2BIG;" (KVM_MAX_CPUID_ENTRIES is 256,
    arch/x86/include/asm/kvm_host.h); setup_tdparams_eptp_controls: "entry = kvm_find_cpuid_entry2(cpuid->entries,
    cpuid->nent, 0x80000008, 0); if (!entry) return -EINVAL;" — with no entries there is no GPAW."""
    steps = [op("KVM_CREATE_VM", type="KVM_X86_TDX_VM"), op("KVM_TDX_INIT_VM", label="init", cpuid_nent=nent)]
    out = run(steps)
    st = step(out, "init")
    if expected is None:
        assert_ok(st)
        assert out["final"]["td_state"] == "TD_STATE_INITIALIZED"
    else:
        assert_errno(st, expected)
        assert st["seamcalls"] == []  # refused before TDH.MNG.CREATE
