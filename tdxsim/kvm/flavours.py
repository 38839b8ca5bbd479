"""Kernel flavours: the points on the two branches where the meaning of `source_addr = 0` changed.

Names are the scenario contract's (docs/scenario.md "Kernel flavours"); each flavour's `notes` names its sources
(kernel commits and lore Message-IDs) and says which facts are confirmed there and which inferred.
"""

from __future__ import annotations

from tdxsim.records import record


@record(frozen=True)
class Flavour:
    """What one kernel does differently on the INIT_MEM_REGION and guest_memfd paths."""

    name: str
    summary: str
    #: kvm_gmem_populate() GUPs a non-NULL source before taking the filemap invalidate lock (2a62345b3052).
    gup_in_populate: bool
    #: tdx_vcpu_init_mem_region() rejects source_addr == 0 with -EINVAL up front (Sean's change after the
    #: "kvm: sev: Fix issues reported by Sashiko" thread, Jun 2026; kvm-x86 09c6f74e arch/x86/kvm/vmx/tdx.c:
    #: `!region.source_addr` in the first validation).
    null_source_einval: bool
    #: The series as it landed: the up-front check is `(!gmem_in_place_conversion && !region.source_addr)` -> -EINVAL,
    #: and tdx_gmem_post_populate() takes `src_page ?: pfn_to_page(pfn)`, with no -EOPNOTSUPP left (sean-jc/linux
    #: 07f26358894029ac26441664ce21bd73748903d0 arch/x86/kvm/vmx/tdx.c).
    null_source_needs_in_place: bool
    #: kvm_gmem_populate() refuses an already-prepared folio with -EEXIST (preparation tracking, dropped by the
    #: populate rework that ends in 2a62345b3052).
    populate_checks_prepared: bool
    #: The gmem_in_place_conversion module parameter and KVM_SET_MEMORY_ATTRIBUTES2 exist (the v8 series).
    has_in_place: bool
    #: tdx_complete_vmcall_map_gpa maps hypercall.ret EAGAIN -> TDVMCALL_STATUS_RETRY and EINVAL -> INVALID_OPERAND,
    #: any other non-zero value failing KVM_RUN with -EINVAL (Vishal Annapurve and Sagi Shahar, Feb 2026, reviewed
    #: by Sean); before it, any non-zero value was INVALID_OPERAND.
    map_gpa_ret_eagain: bool
    notes: str


FLAVOURS: dict[str, Flavour] = {
    f.name: f
    for f in (
        Flavour(
            name="pre-2a62345b3052",
            summary="kvm-x86 before Jan 2026: tdx_gmem_post_populate() GUPs source_addr itself, even 0",
            gup_in_populate=False,
            null_source_einval=False,
            null_source_needs_in_place=False,
            populate_checks_prepared=True,
            has_in_place=False,
            map_gpa_ret_eagain=False,
            notes=(
                "The GUP of source_addr inside tdx_gmem_post_populate(), after the private check, is confirmed by "
                "the 2a62345b3052 diff that removes it; so address 0 works when userspace mapped virtual address 0 "
                "(Yan, quoted in CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com). A second add "
                "of the same GPA fails with -EEXIST in kvm_gmem_populate() (the folio is already prepared), not "
                "-EIO: confirmed in the pre-rework guest_memfd.c (the later kernels' -EIO comes from "
                "kvm_tdp_mmu_map_private_pfn)."
            ),
        ),
        Flavour(
            name="2a62345b3052",
            summary="kvm-x86 with Michael Roth's populate rework: a NULL source is -EOPNOTSUPP in post_populate",
            gup_in_populate=True,
            null_source_einval=False,
            null_source_needs_in_place=False,
            populate_checks_prepared=False,
            has_in_place=False,
            map_gpa_ret_eagain=False,
            notes=(
                "Commit 2a62345b3052 (20260108214622.1084057-7-michael.roth@amd.com); confirmed. That this point "
                "predates the Feb 2026 MapGPA hypercall.ret change is inferred from the dates."
            ),
        ),
        Flavour(
            name="kvm-x86-2026-06",
            summary="kvm-x86 at 09c6f74e: source_addr == 0 is -EINVAL in the up-front validation",
            gup_in_populate=True,
            null_source_einval=True,
            null_source_needs_in_place=False,
            populate_checks_prepared=False,
            has_in_place=False,
            map_gpa_ret_eagain=True,
            notes=(
                "Sean's change after the 'kvm: sev: Fix issues reported by Sashiko' thread (Jun 2026), as it stands "
                "in kvm-x86 09c6f74e arch/x86/kvm/vmx/tdx.c; confirmed."
            ),
        ),
        Flavour(
            name="v8",
            summary="the guest_memfd in-place conversion series v8: 0 means 'no source page'",
            gup_in_populate=True,
            null_source_einval=False,
            null_source_needs_in_place=False,
            populate_checks_prepared=False,
            has_in_place=True,
            map_gpa_ret_eagain=True,
            notes=(
                "Proposed, not merged: 20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com on kvm-x86/next "
                "b7fbe9a1bf9e. With gmem_in_place_conversion on, a NULL source makes the target page its own "
                "PAGE.ADD source; off, -EOPNOTSUPP. A never-written page is zeroed in __kvm_gmem_get_pfn() "
                "(v8 21/46) and added as zeros. Superseded by v13 (below)."
            ),
        ),
        Flavour(
            name="v13",
            summary="the in-place conversion series as it landed (v13): 0 without in-place is -EINVAL up front",
            gup_in_populate=True,
            null_source_einval=False,
            null_source_needs_in_place=True,
            populate_checks_prepared=False,
            has_in_place=True,
            map_gpa_ret_eagain=True,
            notes=(
                "Confirmed at sean-jc/linux 07f26358894029ac26441664ce21bd73748903d0 arch/x86/kvm/vmx/tdx.c: "
                "tdx_vcpu_init_mem_region() returns -EINVAL for (!gmem_in_place_conversion && !region.source_addr) "
                "in its first validation, before any folio is looked up; tdx_gmem_post_populate() sets "
                "page_add_src = src_page ?: pfn_to_page(pfn), so a NULL source is always the target page; "
                "source_addr advances only when non-zero; tdx_complete_vmcall_map_gpa maps EAGAIN/EINVAL and fails "
                "other values with -EINVAL; __TDX_BUG_ON bugs the VM on any non-zero status. "
                "Inferred: that this tdx.c is v13 as applied (20260910-gmem-inplace-conversion-v13-0-dd6fbf94f4e1"
                "@google.com, 44 patches, after v10 20260807-gmem-inplace-conversion-v10-0-2fc18ee6d3ba@google.com "
                "and v12 20260830-gmem-inplace-conversion-v12-0-85e5fd25252a@google.com): the cover letters and the "
                "applied commit could not be reached; a lore digest of 24 Sep 2026 reports a b4 'applied' reply to "
                "v13 without naming the tree. Inferred from v8: everything in guest_memfd (per-index attributes, "
                "KVM_SET_MEMORY_ATTRIBUTES2, INIT_SHARED, the zeroing of a folio that is not up to date in "
                "__kvm_gmem_get_pfn, v8 21/46), since no guest_memfd.c of the landed series could be read; and "
                "intel-tdx.rst, whose stored sean-jc/linux copy (1934f0de) still has v8's sentence 'If guest_memfd "
                "in-place conversion is enabled, pass NULL for @source_addr'."
            ),
        ),
    )
}

DEFAULT_FLAVOUR = "v8"
