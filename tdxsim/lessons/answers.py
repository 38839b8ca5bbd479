"""The answer key of the chapters' exercises: what the reader is asked, the accepted answer, and why.

Nothing here is shown before the reader answers: the notebooks build their exercises with
`tdxsim.widgets.exercise`, which keeps only the question in the widget and asks `tdxsim.lessons.exercises.check`
for the verdict when the reader submits. Each entry names its source; CI checks every entry through the same
`check` (tests/test_exercises.py), recomputing the simulator facts.

Kinds: `choice` (one of `choices`, by its text or its letter), `errno` (a Linux errno name, with or without the
minus sign, or its negative number, e.g. `-EIO`, `EIO`, `-5`; `0` for success), `number` (decimal or 0x-hex),
`state` (an S-EPT leaf state name, `FREE`, `MAPPED`, `PENDING`, `BLOCKED`, `PENDING_BLOCKED`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One exercise: the question shown, the kind of answer, the accepted answer, a hint for a wrong answer, and the
    explanation shown once the reader is right (or asks to see it)."""

    chapter: str
    prompt: str
    kind: str
    answer: str
    explanation: str
    hint: str
    choices: tuple[str, ...] = ()
    #: Part of the chapter's three-question review, at this position (1-3); 0: not in the review.
    review: int = 0
    #: How a chapter would print the answer, if it did (e.g. "TDH.MNG.ADDCX×6"): tests/test_exercises.py checks that no
    #: cell above the question shows any of these, nor the answer itself when it is an errno, a state or one word.
    tells: tuple[str, ...] = ()


KEY: dict[str, Entry] = {
    # -- chapter 00: start here ---------------------------------------------------------------------------------
    "00.skip-conversion": Entry(
        chapter="00",
        prompt=(
            "Take the tour's recipe (in-place conversion on, <code>Hello</code> written while shared, "
            "<code>source_addr = 0</code>) but leave out the conversion to private. What does "
            "<code>KVM_TDX_INIT_MEM_REGION</code> return?"
        ),
        kind="errno",
        answer="EINVAL",
        hint="KVM adds only private memory to a TD. What is the page's attribute when the add runs?",
        explanation=(
            "<b>-EINVAL</b>, before any SEAMCALL: <code>kvm_gmem_populate()</code> (virt/kvm/guest_memfd.c) adds "
            "only a range whose attribute is private, and the page is still shared. The conversion is what makes "
            "the page the VMM wrote a page KVM may add; it keeps the folio, so the bytes survive it (v8 17/46, "
            "23/46)."
        ),
    ),
    "00.image-extends": Entry(
        chapter="00",
        prompt=(
            "The control panel adds a 4-page image with <code>KVM_TDX_MEASURE_MEMORY_REGION</code>. How many "
            "<code>TDH.MR.EXTEND</code> does that add make?"
        ),
        kind="number",
        answer="64",
        hint="One TDH.MR.EXTEND measures one chunk of a page. How many bytes is a chunk, and how many pages are there?",
        explanation=(
            "<b>64:</b> one per 256-byte chunk (TDX_EXTENDMR_CHUNKSIZE in arch/x86/kvm/vmx/tdx.c; intel/tdx-module "
            "TDX_1.5.01 tdh_mr_extend.c), 4096 / 256 = 16 per page, four pages."
        ),
    ),
    "00.out-of-place-source-zero": Entry(
        chapter="00",
        prompt=(
            "The repository's out-of-place example: in-place conversion off, <code>source_addr = 0</code>. What does "
            "<code>KVM_TDX_INIT_MEM_REGION</code> return?"
        ),
        kind="errno",
        answer="EOPNOTSUPP",
        hint="Without in-place conversion, could the target page hold anything the VMM wrote? Then what is 0?",
        explanation=(
            "<b>-EOPNOTSUPP.</b> 0 means &quot;no source page&quot;, and a source page is required when in-place "
            "conversion isn't enabled (Sean Christopherson, akPEKslqAhygyjhg@google.com; v8 23/46: "
            "<code>!src_page &amp;&amp; !gmem_in_place_conversion</code> in <code>tdx_gmem_post_populate()</code>)."
        ),
        review=2,
    ),
    "00.review-convert-after-finalize": Entry(
        chapter="00",
        prompt=(
            "Change the tour's order: the VMM calls <code>KVM_TDX_FINALIZE_VM</code> first, with nothing added, then "
            "writes <code>Hello</code> into the shared page and converts it to private; the guest accepts GPA 0 and "
            "reads it. What does the guest read?"
        ),
        kind="choice",
        choices=(
            "Hello: the conversion keeps the folio, as in the tour",
            "zeros: the page arrives by PAGE.AUG, and the guest's ACCEPT clears it",
            "SIGBUS: the page is private",
            "nothing: KVM refuses to convert a page after finalize",
        ),
        answer="zeros: the page arrives by PAGE.AUG, and the guest's ACCEPT clears it",
        hint="After finalize, which SEAMCALL gives the TD a page, and does it copy anything?",
        explanation=(
            "<b>Zeros.</b> The tour's bytes survive only because the add happens at build time and in place: "
            "<code>TDH.MEM.PAGE.ADD</code> with the target as its own source (<code>src_page = pfn_to_page(pfn)</code> "
            "in <code>tdx_gmem_post_populate()</code>, v8 23/46). After TDH.MR.FINALIZE that door is closed (commit "
            "012426d): KVM maps the page with TDH.MEM.PAGE.AUG, no copy (<code>tdx_mem_page_aug</code>, "
            "arch/x86/kvm/vmx/tdx.c), and TDG.MEM.PAGE.ACCEPT initialises it to zero (intel/tdx-module TDX_1.5.01 "
            "tdg_mem_page_accept.c)."
        ),
        review=1,
    ),
    "00.review-gmem-source": Entry(
        chapter="00",
        prompt=(
            "In the tour, the VMM passes as <code>source_addr</code> the address of its own mapping of the page, "
            "<code>0x7f0000000000</code>, instead of 0, after converting the page to private. What happens?"
        ),
        kind="choice",
        choices=(
            "the same in-place add as with 0: the source is the target",
            "the call fails before any SEAMCALL: the private page cannot be read through that mapping",
            "the TD gets a page of zeros",
            "the TDX module refuses PAGE.ADD, since source and target overlap",
        ),
        answer="the call fails before any SEAMCALL: the private page cannot be read through that mapping",
        hint="A non-zero source_addr is a user address that KVM pins with get_user_pages. What does a touch of a "
        "private guest_memfd page through the VMM's mapping give?",
        explanation=(
            "<b>It fails, before any SEAMCALL.</b> A non-zero <code>source_addr</code> is GUP'd by "
            "<code>kvm_gmem_populate()</code> (virt/kvm/guest_memfd.c, since 2a62345b3052), and the guest_memfd "
            "fault handler refuses a private page (<code>kvm_gmem_fault_user_mapping</code>, v8 01/46), so the GUP "
            "fails (-EFAULT in tdxsim). Only <code>source_addr = 0</code>, &quot;no source page&quot;, asks for the "
            "in-place add (Sean Christopherson, akPEKslqAhygyjhg@google.com; v8 23/46)."
        ),
        review=3,
    ),
    # -- chapter 01: who owns this page? ------------------------------------------------------------------------
    "01.gpaw52-alias": Entry(
        chapter="01",
        prompt="A TD with GPAW 52 reads GPA <code>0x8_0000_0000_F000</code>. Which page does it read?",
        kind="choice",
        choices=(
            "the private page of GFN 0xF, through the Secure EPT",
            "none: the address is outside the guest's address width",
            "the shared alias of GFN 0xF: the page the VMM wrote, through the shared EPT",
            "the private page of GFN 0x8_0000_0000_F",
        ),
        answer="the shared alias of GFN 0xF: the page the VMM wrote, through the shared EPT",
        hint="Which bit is 0x8_0000_0000_0000, and which bit is the shared bit when GPAW is 52?",
        explanation=(
            "<b>The shared alias of GFN 0xF.</b> 0x8_0000_0000_0000 is bit 51, the shared bit of a GPAW-52 TD "
            "(<code>TDX_SHARED_BIT_PWL_5</code>, arch/x86/kvm/vmx/tdx.c), so the access goes through the shared EPT "
            "to the page the VMM wrote. With GPAW 48 the same GPA would be outside the guest's address width."
        ),
    ),
    "01.vmm-writes-private": Entry(
        chapter="01",
        prompt=(
            "After the conversion to private, the VMM tries to <i>write</i> a patch into the firmware page through "
            "its own mapping. What happens?"
        ),
        kind="choice",
        choices=(
            "the write lands, and the TD sees the patch",
            "the write lands in a copy the TD never sees",
            "SIGBUS",
            "the write is silently dropped",
        ),
        answer="SIGBUS",
        hint="Does the VMM still have a page-table entry for a page that became private? Who handles the next fault?",
        explanation=(
            "<b>SIGBUS</b>, for a store as for a load. Converting to private zapped the VMM's PTEs "
            "(<code>unmap_mapping_pages</code>), and the next fault asks guest_memfd, whose "
            "<code>kvm_gmem_fault_user_mapping()</code> refuses a private page (v8 cover letter, "
            "20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com; v8 01/46). The host cannot patch what it "
            "handed to the TD."
        ),
    ),
    "01.kernel-reads-private": Entry(
        chapter="01",
        prompt=(
            "The host kernel reads the same private frame by its physical address, through its direct map. Does it "
            "see the TD's secret?"
        ),
        kind="choice",
        choices=(
            "yes: the host allocated the page, so it can read it",
            "no: it reads with KeyID 0, not the TD's key, and gets no plaintext",
            "yes, but only as ciphertext it could decrypt with the TD's HKID",
            "no: the read is a SIGBUS",
        ),
        answer="no: it reads with KeyID 0, not the TD's key, and gets no plaintext",
        hint="With which KeyID does the host kernel read, and where can the TD's private KeyID be used?",
        explanation=(
            "<b>No.</b> The kernel reads with KeyID 0; the page is encrypted under the TD's HKID, and private KeyIDs "
            "work only in SEAM mode (Documentation/arch/x86/tdx.rst). The host <i>allocated</i> the page and knows "
            "where it is, but cannot <i>use</i> it. tdxsim returns zeros (docs/fidelity.md)."
        ),
    ),
    "01.cross-td-aug": Entry(
        chapter="01",
        prompt=(
            "The host hands TD B's <code>TDH.MEM.PAGE.AUG</code> the frame that holds TD A's firmware page. What does "
            "the TDX module answer?"
        ),
        kind="choice",
        choices=(
            "TDX_SUCCESS: the page is now in both TDs",
            "TDX_OPERAND_BUSY",
            "TDX_PAGE_METADATA_INCORRECT",
            "TDX_EPT_ENTRY_NOT_PRESENT",
        ),
        answer="TDX_PAGE_METADATA_INCORRECT",
        hint="What does the PAMT record for a frame already given to a TD, and what type does PAGE.AUG require?",
        explanation=(
            "<b>TDX_PAGE_METADATA_INCORRECT.</b> The PAMT records that frame as <code>PT_REG</code>, owned by TD A's "
            "TDR; PAGE.AUG takes only a <code>PT_NDA</code> page (intel/tdx-module TDX_1.5.01 tdh_mem_page_aug.c "
            "&rarr; <code>check_and_lock_free_range_hpa</code>)."
        ),
    ),
    "01.td-b-hkid": Entry(
        chapter="01",
        prompt=(
            "On this machine the TDX module's global private KeyID is 16 and TDs get KeyIDs from [17, 64). TD A is "
            "initialised first, TD B second. Which HKID does TD B get?"
        ),
        kind="number",
        answer="18",
        hint="The kernel hands each new TD the lowest free KeyID of the TD range.",
        explanation=(
            "<b>18.</b> <code>tdx_guest_keyid_alloc()</code> (arch/x86/virt/vmx/tdx/tdx.c) takes the lowest free "
            "KeyID of the TD range: 17 for TD A, 18 for TD B. The first private KeyID is reserved for the TDX "
            "module's own structures (<code>tdx_global_keyid</code>)."
        ),
    ),
    "01.review-bit47-gpaw52": Entry(
        chapter="01",
        prompt=(
            "A TD with GPAW 52 reads GPA <code>0x8000_0000_0000</code>, which has bit 47 set. Through which table "
            "does the access go?"
        ),
        kind="choice",
        choices=(
            "the shared EPT: bit 47 is the shared bit",
            "the Secure EPT: with GPAW 52 bit 47 is an ordinary address bit, so the GPA is private",
            "neither: the GPA is outside the guest's address width",
            "the mirror EPT",
        ),
        answer="the Secure EPT: with GPAW 52 bit 47 is an ordinary address bit, so the GPA is private",
        hint="The shared bit is the top bit of the guest physical address width. Which bit is that with GPAW 52?",
        explanation=(
            "<b>The Secure EPT.</b> With GPAW 52 the shared bit is bit 51 (<code>TDX_SHARED_BIT_PWL_5</code>, "
            "arch/x86/kvm/vmx/tdx.c, used by <code>kvm_gfn_direct_bits</code>); bit 47 is just part of the address, "
            "so <code>0x8000_0000_0000</code> is a private GPA (128 TiB). With GPAW 48 the same GPA would be the "
            "shared alias of GPA 0. The mirror EPT is KVM's copy: the CPU never walks it."
        ),
        review=1,
    ),
    "01.review-who-decides": Entry(
        chapter="01",
        prompt="Who decides whether a physical page may be given to a TD?",
        kind="choice",
        choices=(
            "the host kernel's page allocator",
            "the VMM, through its memslots",
            "the TDX module, by the page's PAMT entry",
            "the guest, by accepting it",
        ),
        answer="the TDX module, by the page's PAMT entry",
        hint="The host allocates every page. Who refuses when the host hands over the wrong one?",
        explanation=(
            "<b>The TDX module.</b> The host allocates every page, but every SEAMCALL that hands one over checks its "
            "PAMT entry first: a page must be <code>PT_NDA</code> (free) to become a TD page (intel/tdx-module "
            "TDX_1.5.01 tdh_mem_page_aug.c, tdh_mem_page_add.c &rarr; <code>check_and_lock_free_range_hpa</code>)."
        ),
        review=2,
    ),
    "01.review-tdr-keyid": Entry(
        chapter="01",
        prompt=(
            "TD A (HKID 17) and TD B (HKID 18) run on one machine. How many different KeyIDs encrypt their two root "
            "pages, the TDRs?"
        ),
        kind="number",
        answer="1",
        hint="The TDR is TDX-module metadata, not TD memory. Whose key protects the module's own structures?",
        explanation=(
            "<b>One</b>: the module's global private KeyID, the same for every TDR. The kernel reserves that KeyID "
            "(<code>tdx_global_keyid</code>) and flushes a TDR with it (<code>tdh_phymem_page_wbinvd_tdr</code>, "
            "arch/x86/virt/vmx/tdx/tdx.c); each TD's own HKID (17, 18) encrypts its private memory. Private KeyIDs "
            "work only in SEAM mode (Documentation/arch/x86/tdx.rst), so the host, reading with KeyID 0, gets no "
            "plaintext of either."
        ),
        review=3,
    ),
    # -- chapter 02: memslots and guest_memfd -------------------------------------------------------------------
    "02.out-of-place-backing": Entry(
        chapter="02",
        prompt=(
            "A 128-page guest shares 40 of its pages. The VMM uses out-of-place conversion and does not discard. How "
            "many 4 KiB pages back the guest at the end (TDX metadata aside)?"
        ),
        kind="number",
        answer="168",
        hint="Out-of-place, every GFN has its guest_memfd page. What else does a shared GFN have?",
        explanation=(
            "<b>168 pages, 1.3 &times; the guest.</b> Every GFN has its guest_memfd page (128); the 40 shared "
            "ones also have an anonymous page behind <code>userspace_addr</code>: out-of-place needs &quot;two "
            "backing sources&quot; (v8 cover letter, 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com). "
            "Scaled up, a 4 GiB guest with a quarter of it shared needs 5 GiB."
        ),
        tells=("→ 168 pages",),
    ),
    "02.in-place-vmm-loads-private": Entry(
        chapter="02",
        prompt="In-place, the VMM loads from its mapping of a private guest_memfd page. What does it get?",
        kind="choice",
        choices=("the page's plaintext", "zeros", "SIGSEGV", "SIGBUS"),
        answer="SIGBUS",
        hint="The VMM has the whole guest_memfd mapped. What does guest_memfd's fault handler do with a private page?",
        explanation=(
            "<b>SIGBUS</b>, from <code>kvm_gmem_fault_user_mapping()</code> (virt/kvm/guest_memfd.c, v8 01/46): a "
            "private page is never mapped to userspace (v8 cover letter)."
        ),
    ),
    "02.in-place-backing": Entry(
        chapter="02",
        prompt=(
            "The same 128-page guest shares the same 40 pages, but with in-place conversion on. How many 4 KiB pages "
            "back the guest at the end (TDX metadata aside)?"
        ),
        kind="number",
        answer="128",
        hint="In place, is a shared GFN's page a different page from its private one?",
        explanation=(
            "<b>128: one page per GFN.</b> In place, shared and private are the same guest_memfd folio and only its "
            "attribute flips (<code>KVM_SET_MEMORY_ATTRIBUTES2</code>, v8 13/46-17/46), so sharing costs no second "
            "page and needs no discard (v8 cover letter, "
            "20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com)."
        ),
        tells=("→ 128 pages",),
    ),
    "02.review-out-of-place-copy": Entry(
        chapter="02",
        prompt=(
            "Out of place, before finalize: the VMM writes its image into a separate buffer, makes the GFNs private "
            "with <code>KVM_SET_MEMORY_ATTRIBUTES</code> and adds them with <code>source_addr</code> = the buffer. "
            "What does the TD's first page hold?"
        ),
        kind="choice",
        choices=(
            "zeros: out of place, the conversion to private loses the bytes",
            "the image: PAGE.ADD copies the source page into the private page",
            "nothing: out of place there is no in-place add, so KVM refuses",
            "the bytes at the GFN's userspace_addr",
        ),
        answer="the image: PAGE.ADD copies the source page into the private page",
        hint="The conversion does lose what was at userspace_addr. But what does TDH.MEM.PAGE.ADD do with a source?",
        explanation=(
            "<b>The image.</b> The conversion makes the guest_memfd page the GFN's private side, which never held "
            "the bytes; but TDH.MEM.PAGE.ADD copies the source page into the new private page (intel/tdx-module "
            "TDX_1.5.01 tdh_mem_page_add.c; <code>tdx_gmem_post_populate()</code>, arch/x86/kvm/vmx/tdx.c). That "
            "is the classic load QEMU does. Only <code>source_addr = 0</code> needs in-place conversion: v8 refuses "
            "it out of place with -EOPNOTSUPP (v8 23/46)."
        ),
        review=1,
    ),
    "02.review-discard-backing": Entry(
        chapter="02",
        prompt=(
            "A 96-page guest shares 30 pages; the VMM converts out of place <b>and</b> discards, as QEMU does. How "
            "many 4 KiB pages back the guest at the end (TDX metadata aside)?"
        ),
        kind="number",
        answer="96",
        hint="What does QEMU's discard free when a GFN becomes shared?",
        explanation=(
            "<b>96: one per GFN.</b> For each GFN that becomes shared, QEMU's <code>kvm_convert_memory</code> "
            "(accel/kvm/kvm-all.c) punches the private page out of guest_memfd, so the GFN keeps only its anonymous "
            "page: the total stays at one page per GFN, paid for with a free and an allocation on every conversion "
            "(v8 cover letter, 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com)."
        ),
        review=2,
    ),
    "02.review-in-place-shared-write": Entry(
        chapter="02",
        prompt=(
            "In place, after finalize: the guest converts GPA 0x1000 to shared (MapGPA); the VMM then writes "
            "<code>ring</code> into that page through its mapping of the guest_memfd, and the guest reads GPA "
            "0x1000 through the shared alias. What does it read?"
        ),
        kind="choice",
        choices=(
            "zeros: a page converted at run time is cleared",
            "SIGBUS",
            "ring: in place, the VMM and the guest's shared alias map the same folio",
            "the guest's old private data",
        ),
        answer="ring: in place, the VMM and the guest's shared alias map the same folio",
        hint="In place, how many pages does the GFN have, and which of them does each side map once it is shared?",
        explanation=(
            "<b>ring.</b> In place the GFN has one guest_memfd folio; once its attribute is shared, the VMM's mmap "
            "of the guest_memfd and the guest's shared-EPT mapping both reach it (v8 cover letter, "
            "20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com). What run time clears is a page going "
            "the other way: to private, by PAGE.AUG and the guest's ACCEPT."
        ),
        review=3,
    ),
    # -- chapter 03: three page tables --------------------------------------------------------------------------
    "03.sept-adds-next-1g": Entry(
        chapter="03",
        prompt=(
            "GPA 0 has been added (three <code>TDH.MEM.SEPT.ADD</code>, then PAGE.ADD), GPAW 48. Before finalize, "
            "KVM adds a second page at GPA <code>0x4000_0000</code> (1 GiB). How many <code>TDH.MEM.SEPT.ADD</code> "
            "does that second add need?"
        ),
        kind="number",
        answer="2",
        hint="A level-3 table covers 512 GiB, a level-2 table 1 GiB, a level-1 table 2 MiB. Which of the first "
        "add's tables also cover GPA 1 GiB?",
        explanation=(
            "<b>Two</b>, at levels 2 and 1. The level-3 table of the first add covers [0, 512 GiB) and so GPA 1 GiB "
            "too, but its level-2 table covers only [0, 1 GiB): the TDP MMU links only the missing tables "
            "(<code>tdp_mmu_link_sp</code>, arch/x86/kvm/mmu/tdp_mmu.c; Documentation/virt/kvm/x86/tdx-tdp-mmu.rst, "
            "&quot;adding a private page&quot;), one TDH.MEM.SEPT.ADD each."
        ),
        tells=("TDH.MEM.SEPT.ADD×2",),
    ),
    "03.sept-adds-next-2m": Entry(
        chapter="03",
        prompt=(
            "GPA 0 has been added (three <code>TDH.MEM.SEPT.ADD</code>, then PAGE.ADD). Before finalize, KVM adds a "
            "second page at GPA <code>0x20_0000</code> (2 MiB). How many <code>TDH.MEM.SEPT.ADD</code> does that "
            "second add need?"
        ),
        kind="number",
        answer="1",
        hint="Which of the tables the first add linked also cover 2 MiB? A level-1 table covers 2 MiB.",
        explanation=(
            "<b>One</b>, at level 1. The level-3 table (512 GiB) and the level-2 table (1 GiB) of the first add also "
            "cover GPA 2 MiB, but the level-1 table covers only [0, 2 MiB): the TDP MMU links only the missing table "
            "(<code>tdp_mmu_link_sp</code>, arch/x86/kvm/mmu/tdp_mmu.c; Documentation/virt/kvm/x86/tdx-tdp-mmu.rst, "
            "&quot;adding a private page&quot;), and TDX's hook turns that into one TDH.MEM.SEPT.ADD."
        ),
    ),
    "03.zap-order": Entry(
        chapter="03",
        prompt="Which SEAMCALLs drop a private 4 KiB page from a running TD, in order?",
        kind="choice",
        choices=(
            "TDH.MEM.PAGE.REMOVE",
            "TDH.MEM.TRACK, TDH.MEM.RANGE.BLOCK, TDH.MEM.PAGE.REMOVE",
            "TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE",
            "TDH.MEM.RANGE.BLOCK, TDH.MEM.PAGE.REMOVE, TDH.MEM.TRACK",
        ),
        answer="TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE",
        hint="A vCPU may still hold the translation. What must happen before the module lets the page go?",
        explanation=(
            "<b>BLOCK, TRACK, REMOVE</b> (Documentation/virt/kvm/x86/tdx-tdp-mmu.rst; "
            "<code>tdx_sept_remove_leaf_spte</code>, <code>tdx_track</code> in arch/x86/kvm/vmx/tdx.c) &mdash; and "
            "KVM then issues <code>TDH.PHYMEM.PAGE.WBINVD</code> on the page. TRACK only happens once the TD is "
            "RUNNABLE: before finalize no vCPU can hold a translation, so <code>tdx_track</code> returns early."
        ),
    ),
    "03.shared-gpa-add": Entry(
        chapter="03",
        prompt=(
            "With GPAW 48, what does <code>KVM_TDX_INIT_MEM_REGION</code> at GPA <code>0x8000_0000_0000</code> return?"
        ),
        kind="errno",
        answer="EINVAL",
        hint="Which bit is 0x8000_0000_0000, and what is that bit with GPAW 48?",
        explanation=(
            "<b>-EINVAL</b>: bit 47 is the shared bit with GPAW 48, so the GPA is the shared alias of GPA 0, and "
            "<code>tdx_vcpu_init_mem_region()</code> refuses a range that is not private "
            "(<code>!vt_is_tdx_private_gpa</code>, arch/x86/kvm/vmx/tdx.c). With GPAW 52 the same GPA is private."
        ),
    ),
    "03.review-aug-gpaw52": Entry(
        chapter="03",
        prompt=(
            "A TD with GPAW 52, finalized with nothing added, without <code>SEPT_VE_DISABLE</code>. The guest reads "
            "GPA 0x1000. How many SEAMCALLs does KVM make to handle that first touch?"
        ),
        kind="number",
        answer="5",
        hint="Which tables below the root are missing in a 5-level S-EPT, and which SEAMCALL maps a page after "
        "finalize?",
        explanation=(
            "<b>Five:</b> four TDH.MEM.SEPT.ADD (levels 4, 3, 2, 1: a 5-level S-EPT has one more level under its "
            "root) and one TDH.MEM.PAGE.AUG, which leaves the leaf PENDING until the guest accepts it "
            "(<code>tdx_sept_link_private_spt</code>, <code>tdx_mem_page_aug</code>, arch/x86/kvm/vmx/tdx.c; "
            "intel/tdx-module TDX_1.5.01 tdh_mem_page_aug.c)."
        ),
        review=1,
        tells=("TDH.MEM.SEPT.ADD×4, TDH.MEM.PAGE.AUG",),
    ),
    "03.review-ept-pages-gpaw52": Entry(
        chapter="03",
        prompt=(
            "After the first 4 KiB add at GPA 0 of a TD with GPAW 52, how many frames does the PAMT record as "
            "<code>PT_EPT</code>?"
        ),
        kind="number",
        answer="4",
        hint="Each TDH.MEM.SEPT.ADD turns one free page into an S-EPT table page. How many did that add need?",
        explanation=(
            "<b>Four.</b> The first touch of a 5-level S-EPT adds tables at levels 4, 3, 2 and 1, and each "
            "TDH.MEM.SEPT.ADD turns a <code>PT_NDA</code> page into a <code>PT_EPT</code> page owned by the TD's "
            "TDR (intel/tdx-module TDX_1.5.01 tdh_mem_sept_add.c). The root is not one of them: it is a TDCS page "
            "(<code>PT_TDCX</code>)."
        ),
        review=2,
        tells=("4 S-EPT pages",),
    ),
    "03.review-gpaw52-add": Entry(
        chapter="03",
        prompt=(
            "With GPAW <b>52</b>, a memslot covering it and the page private: what does "
            "<code>KVM_TDX_INIT_MEM_REGION</code> at GPA <code>0x8000_0000_0000</code> return?"
        ),
        kind="errno",
        answer="0",
        hint="Is bit 47 the shared bit when GPAW is 52?",
        explanation=(
            "<b>0, success.</b> With GPAW 52 the shared bit is bit 51 (<code>TDX_SHARED_BIT_PWL_5</code>), so "
            "<code>0x8000_0000_0000</code> is a private GPA and <code>vt_is_tdx_private_gpa</code> lets "
            "<code>tdx_vcpu_init_mem_region()</code> go on (arch/x86/kvm/vmx/tdx.c). With GPAW 48 the same GPA is "
            "the shared alias of GPA 0, and the call is -EINVAL."
        ),
        review=3,
    ),
    # -- chapter 04: building a TD ------------------------------------------------------------------------------
    "04.add-after-finalize": Entry(
        chapter="04",
        prompt="What does <code>KVM_TDX_INIT_MEM_REGION</code> return after <code>KVM_TDX_FINALIZE_VM</code>?",
        kind="errno",
        answer="EINVAL",
        hint="KVM checks its own record of the TD's state before it makes any SEAMCALL.",
        explanation=(
            "<b>-EINVAL</b>, with no SEAMCALL: <code>tdx_vcpu_init_mem_region()</code> (arch/x86/kvm/vmx/tdx.c) "
            "checks KVM's TD_STATE first, and once the TD is RUNNABLE &quot;the initial guest memory is fixed&quot;."
        ),
    ),
    "04.tdcx-two-vcpus": Entry(
        chapter="04",
        prompt=(
            "Build the same TD with <b>two</b> vCPUs, both initialised with <code>KVM_TDX_INIT_VCPU</code>. At "
            "finalize, how many frames does the PAMT record as <code>PT_TDCX</code>?"
        ),
        kind="number",
        answer="16",
        hint="Which pages are PT_TDCX: the TD's own control pages, a vCPU's, or both? How many of each?",
        explanation=(
            "<b>16:</b> the TD's six TDCS pages (one <code>TDH.MNG.ADDCX</code> each; "
            "<code>MIN_NUM_TDCS_PAGES</code>, intel/tdx-module TDX_1.5.01) and five TDCX pages per vCPU (one "
            "<code>TDH.VP.ADDCX</code> each), 6 + 2 &times; 5. The PAMT has no separate TDCS type: "
            "<code>tdh_mng_add_cx.c</code> and <code>tdh_vp_addcx.c</code> both record <code>PT_TDCX</code>. Each "
            "vCPU also has one <code>PT_TDVPR</code> root page."
        ),
        tells=("'PT_TDCX': 16", "PT_TDCX: 16"),
    ),
    "04.finalize-without-vcpu": Entry(
        chapter="04",
        prompt=(
            "A VMM skips <code>KVM_TDX_INIT_VCPU</code> (vCPU 0 is created, never initialised). Its "
            "<code>KVM_TDX_INIT_MEM_REGION</code> fails, and it calls <code>KVM_TDX_FINALIZE_VM</code> anyway. What "
            "does that return?"
        ),
        kind="errno",
        answer="EIO",
        hint="KVM does not check for vCPUs itself; the TDX module does, in TDH.MR.FINALIZE. How does KVM treat a "
        "SEAMCALL error it did not expect?",
        explanation=(
            "<b>-EIO</b>, and the VM is dead. <code>TDH.MR.FINALIZE</code> refuses a TD without an initialised vCPU "
            "(<code>TDX_NO_VCPUS</code>, intel/tdx-module TDX_1.5.01 tdh_mr_finalize.c), and "
            "<code>tdx_td_finalize()</code> (arch/x86/kvm/vmx/tdx.c) treats any error of it as a KVM bug "
            "(<code>KVM_BUG_ON</code>): -EIO."
        ),
    ),
    "04.review-init-on-vcpu1": Entry(
        chapter="04",
        prompt=(
            "A VMM creates vCPUs 0 and 1 but initialises only vCPU 1 with <code>KVM_TDX_INIT_VCPU</code>. It "
            "issues <code>KVM_TDX_INIT_MEM_REGION</code> on vCPU <b>1</b>. What does it return?"
        ),
        kind="errno",
        answer="0",
        hint="The ioctl needs a vCPU whose MMU fault path can run: every vCPU, or the one it is issued on?",
        explanation=(
            "<b>0.</b> <code>KVM_TDX_INIT_MEM_REGION</code> is a vCPU ioctl because it reuses that vCPU's MMU fault "
            "path, &quot;the only way to invoke TDH.MEM.SEPT.ADD before the TD is finalized&quot; (commit c846b45), "
            "and <code>tdx_vcpu_init_mem_region()</code> checks only that this vCPU is initialised "
            "(arch/x86/kvm/vmx/tdx.c): on vCPU 1 it works, on vCPU 0 it is -EINVAL."
        ),
        review=1,
    ),
    "04.review-pt-reg-count": Entry(
        chapter="04",
        prompt=(
            "Build as this chapter does, but with a <b>3-page</b> image, and let the guest accept <b>2</b> more "
            "pages after finalize. How many frames does the PAMT then record as <code>PT_REG</code>?"
        ),
        kind="number",
        answer="5",
        hint="PT_REG is the type of a TD's own memory pages. Through which two doors do they arrive?",
        explanation=(
            "<b>5:</b> the three pages <code>TDH.MEM.PAGE.ADD</code> added before finalize and the two "
            "<code>TDH.MEM.PAGE.AUG</code> mapped for the guest's accepts; both SEAMCALLs give their page "
            "<code>PT_REG</code> (intel/tdx-module TDX_1.5.01 pamt_manager.h, tdh_mem_page_add.c, "
            "tdh_mem_page_aug.c). The metadata have their own types: PT_TDR, PT_TDCX, PT_TDVPR, PT_EPT."
        ),
        review=2,
    ),
    "04.review-accept-three": Entry(
        chapter="04",
        prompt=(
            "After finalize, the guest of this chapter accepts GPA 0x1000, 0x2000 and 0x3000, one after the other. "
            "How many SEAMCALLs does KVM make for the three?"
        ),
        kind="number",
        answer="3",
        hint="Which S-EPT tables already cover those GPAs, and which SEAMCALL maps a page after finalize?",
        explanation=(
            "<b>Three</b>, one TDH.MEM.PAGE.AUG each (<code>tdx_mem_page_aug</code>, arch/x86/kvm/vmx/tdx.c): "
            "the level-1 table the image's add linked covers [0, 2 MiB), so no TDH.MEM.SEPT.ADD is needed, and "
            "PAGE.ADD is closed after TDH.MR.FINALIZE (commit 012426d)."
        ),
        review=3,
        tells=("TDH.MEM.PAGE.AUG×3",),
    ),
    "07.v13-no-conversion": Entry(
        chapter="07",
        prompt=(
            "Kernel v13, in-place conversion off. The VMM adds its image from a separate buffer, but forgot to make "
            "the GFNs private with <code>KVM_SET_MEMORY_ATTRIBUTES</code>. What happens?"
        ),
        kind="choice",
        choices=(
            "it succeeds: with a separate source the target's attribute does not matter",
            "it is refused before any SEAMCALL: guest_memfd hands out only a private page to populate",
            "the TDX module refuses PAGE.ADD on a shared GPA",
            "the TD gets a page of zeros",
        ),
        answer="it is refused before any SEAMCALL: guest_memfd hands out only a private page to populate",
        hint="Before any SEAMCALL, kvm_gmem_populate() asks guest_memfd for the target's pfn. Under which condition "
        "does it get one?",
        explanation=(
            "<b>Refused, before any SEAMCALL</b> (-EINVAL): <code>kvm_gmem_populate()</code> adds only a range whose "
            "attribute is private, and the lookup of the target folio fails for a shared one "
            "(virt/kvm/guest_memfd.c). The source is fine; the target is not TD memory yet. v13 keeps this from the "
            "populate rework (2a62345b3052)."
        ),
        review=1,
    ),
    "07.double-add-unmeasured": Entry(
        chapter="07",
        prompt=(
            "Kernel v8, in place, <code>source_addr = 0</code>: a 4-page region at GPA 0 of an empty S-EPT, "
            "<b>without</b> MEASURE, added twice. How many SEAMCALLs do the two calls make together?"
        ),
        kind="number",
        answer="7",
        hint="Count the first call's SEAMCALLs. Does the second get as far as the TDX module?",
        explanation=(
            "<b>Seven</b>, all in the first call: three TDH.MEM.SEPT.ADD and four TDH.MEM.PAGE.ADD. The second "
            "finds the mirror SPTE present, the TDP MMU answers <code>RET_PF_SPURIOUS</code> and "
            "<code>kvm_tdp_mmu_map_private_pfn()</code> returns -EIO before any SEAMCALL (arch/x86/kvm/mmu/mmu.c; "
            "Yan Zhao, akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com)."
        ),
        review=2,
    ),
    "07.v13-va0-never-written": Entry(
        chapter="07",
        prompt=(
            "Kernel v13, in-place conversion on, virtual address 0 mapped and holding 'Y', the guest_memfd page "
            "<b>never written</b>, converted to private, <code>source_addr = 0</code>. What does the TD's page hold?"
        ),
        kind="choice",
        choices=(
            "the 'Y' at virtual address 0",
            "-EINVAL: v13 refuses a zero source_addr",
            "a page of zeros",
            "whatever the host page held before",
        ),
        answer="a page of zeros",
        hint="Is 0 an address in v13? And what does guest_memfd do with a folio nobody has written?",
        explanation=(
            "<b>Zeros.</b> v13 keeps v8's meaning of 0 with in-place conversion on: no source page, so the target is "
            "its own source (<code>page_add_src = src_page ?: pfn_to_page(pfn)</code>, sean-jc/linux 07f26358 "
            "arch/x86/kvm/vmx/tdx.c), and the mapping at 0 is irrelevant. The folio was never written, so it is "
            "zeroed when KVM gets its pfn (<code>__kvm_gmem_get_pfn</code>, v8 21/46; tdxsim's v13 keeps v8's "
            "guest_memfd, since the landed guest_memfd.c could not be read): no host data leaks in."
        ),
        review=3,
    ),
    "07.measured-two-pages": Entry(
        chapter="07",
        prompt=(
            "Kernel v8, in place, <code>source_addr = 0</code>: a <b>2-page</b> region at GPA 0 of an empty S-EPT, "
            "with <code>KVM_TDX_MEASURE_MEMORY_REGION</code>. How many SEAMCALLs does the call make in all?"
        ),
        kind="number",
        answer="37",
        hint="Tables for the first page, then per page one PAGE.ADD and one TDH.MR.EXTEND per 256-byte chunk.",
        explanation=(
            "<b>37:</b> three TDH.MEM.SEPT.ADD (the second page shares the tables), then per page one "
            "TDH.MEM.PAGE.ADD and 16 TDH.MR.EXTEND (TDX_EXTENDMR_CHUNKSIZE 256 in arch/x86/kvm/vmx/tdx.c; "
            "intel/tdx-module TDX_1.5.01 tdh_mr_extend.c): 3 + 2 &times; 17."
        ),
    ),
    "07.never-written": Entry(
        chapter="07",
        prompt=(
            "Kernel v8, in-place conversion on, <code>source_addr = 0</code>, and userspace never wrote the image: "
            "the guest_memfd page still holds bytes its previous user left there (a new page-cache folio is not "
            "zeroed). What does the TD's page hold after the add?"
        ),
        kind="choice",
        choices=(
            "the bytes the page's previous user left",
            "a page of zeros",
            "the 'Y' at virtual address 0",
            "nothing: the ioctl fails because there is no source",
        ),
        answer="a page of zeros",
        hint="Before KVM hands out the pfn of a folio nobody has written, what does __kvm_gmem_get_pfn() do to it?",
        explanation=(
            '<b>Zeros.</b> v8 21/46 ("KVM: guest_memfd: Zero page while getting pfn") moves the '
            "<code>if (!folio_test_uptodate(folio)) clear_highpage(...)</code> of <code>kvm_gmem_get_pfn()</code> "
            "into <code>__kvm_gmem_get_pfn()</code>, which <code>kvm_gmem_populate()</code> uses too "
            "(virt/kvm/guest_memfd.c; 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com). The page is "
            "added and measured as zeros: no host data leaks in, and a TD built this way may simply hang."
        ),
    ),
    "07.kvm-x86-buffer-unmeasured": Entry(
        chapter="07",
        prompt=(
            "Kernel <code>kvm-x86-2026-06</code>, in-place conversion off, a 4-page image added from a separate "
            "buffer <b>without</b> <code>KVM_TDX_MEASURE_MEMORY_REGION</code>, into an empty S-EPT. How many "
            "SEAMCALLs does <code>KVM_TDX_INIT_MEM_REGION</code> make?"
        ),
        kind="number",
        answer="7",
        hint="Count the S-EPT tables the first page needs, then one SEAMCALL per page. What does leaving out MEASURE "
        "remove?",
        explanation=(
            "<b>Seven:</b> three TDH.MEM.SEPT.ADD for the empty levels (the four pages share their tables) and one "
            "TDH.MEM.PAGE.ADD per page; without MEASURE no TDH.MR.EXTEND (arch/x86/kvm/vmx/tdx.c "
            "<code>tdx_gmem_post_populate</code>, kvm-x86 09c6f74e). A separate buffer works on every kernel."
        ),
    ),
    "07.pre-rework-va0": Entry(
        chapter="07",
        prompt=(
            "Before commit 2a62345b3052, in-place conversion off (it does not exist yet), virtual address 0 mapped "
            "and holding 'Y', <code>source_addr = 0</code>: what does the TD's page get?"
        ),
        kind="choice",
        choices=(
            "a page of zeros",
            "the 'Y' from virtual address 0",
            "nothing: -EOPNOTSUPP",
            "nothing: -EFAULT",
        ),
        answer="the 'Y' from virtual address 0",
        hint="Before the rework, who called get_user_pages_fast() on source_addr, and did it treat 0 specially?",
        explanation=(
            "<b>The 'Y'.</b> TDX's post-populate callback GUP'd <code>source_addr</code> itself "
            "(arch/x86/kvm/vmx/tdx.c <code>tdx_gmem_post_populate</code> before 2a62345b3052), so 0 was just an "
            "address. 2a62345b3052 moved the GUP into <code>kvm_gmem_populate()</code>, which skips a NULL source: "
            "an accidental uAPI change nobody complained about (Ackerley Tng, "
            "CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com)."
        ),
    ),
    "07.nobody-noticed": Entry(
        chapter="07",
        prompt="Why did nobody notice that 2a62345b3052 changed what <code>source_addr = 0</code> does?",
        kind="choice",
        choices=(
            "the commit documented the change and every VMM adapted",
            "no VMM passes 0: QEMU always hands KVM a separate, mapped buffer",
            "the kernel warned once in dmesg",
            "0 was refused both before and after the commit",
        ),
        answer="no VMM passes 0: QEMU always hands KVM a separate, mapped buffer",
        hint="Which address does QEMU pass as source_addr when it loads the firmware?",
        explanation=(
            "<b>Because no VMM passes 0.</b> QEMU copies the firmware into a separate, mapped buffer and passes its "
            'address (target/i386/kvm/tdx.c <code>tdx_finalize_vm</code>); Ackerley: the uAPI "was perhaps '
            'accidentally changed and no customer complained" '
            "(CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com)."
        ),
    ),
    # -- chapter 05: what the measurement covers ------------------------------------------------------------------
    "05.records-three-pages": Entry(
        chapter="05",
        prompt=(
            "One <code>KVM_TDX_INIT_MEM_REGION</code> adds 3 pages with <code>KVM_TDX_MEASURE_MEMORY_REGION</code>. "
            "How many records does it feed into MRTD (one per SEAMCALL that extends it)?"
        ),
        kind="number",
        answer="51",
        hint="Which SEAMCALLs does a measured add make per page, and which of them extend MRTD?",
        explanation=(
            "<b>51:</b> per page, one TDH.MEM.PAGE.ADD record (the GPA) and sixteen TDH.MR.EXTEND records (the GPA "
            "and 256 bytes each; TDX_EXTENDMR_CHUNKSIZE, arch/x86/kvm/vmx/tdx.c <code>tdx_gmem_post_populate</code>; "
            "intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, tdh_mr_extend.c): 3 &times; 17. The SEPT.ADDs do not "
            "touch MRTD."
        ),
        tells=("51 records",),
    ),
    "05.unmeasured-bytes": Entry(
        chapter="05",
        prompt=(
            "Two builds add the page at GPA 0x2000 <b>without</b> MEASURE: in one it holds zeros, in the other "
            "<code>evil</code>. Do their MRTDs differ?"
        ),
        kind="choice",
        choices=(
            "yes: the bytes differ",
            "no: an unmeasured page enters MRTD by its GPA only",
            "only if one of them is added in place",
        ),
        answer="no: an unmeasured page enters MRTD by its GPA only",
        hint="Which SEAMCALLs does an add without MEASURE make, and which of them reads the page's bytes?",
        explanation=(
            "<b>No.</b> Without MEASURE KVM issues only TDH.MEM.PAGE.ADD, whose record holds "
            "<code>'MEM.PAGE.ADD'</code> and the GPA, nothing of the contents (intel/tdx-module TDX_1.5.01 "
            "tdh_mem_page_add.c, sha384.h); the bytes enter only through TDH.MR.EXTEND, which KVM issues only with "
            "MEASURE (arch/x86/kvm/vmx/tdx.c tdx_gmem_post_populate). That is why a guest must not trust an "
            "unmeasured page."
        ),
    ),
    "05.one-call-or-two": Entry(
        chapter="05",
        prompt=(
            "Two measured pages, 0x1000 and 0x2000, with the same bytes: added by one "
            "<code>KVM_TDX_INIT_MEM_REGION</code> with <code>nr_pages = 2</code>, or by two calls of one page each. "
            "Same MRTD?"
        ),
        kind="choice",
        choices=(
            "no: two calls are two streams",
            "yes: both give PAGE.ADD 0x1000, its 16 MR.EXTENDs, PAGE.ADD 0x2000, its 16 MR.EXTENDs",
            "no: a two-page call adds both pages before it extends either",
        ),
        answer="yes: both give PAGE.ADD 0x1000, its 16 MR.EXTENDs, PAGE.ADD 0x2000, its 16 MR.EXTENDs",
        hint="MRTD hashes the records in SEAMCALL order. In which order does one call handle its pages?",
        explanation=(
            "<b>Yes.</b> MRTD is one running SHA-384 over the records in SEAMCALL order (intel/tdx-module "
            "TDX_1.5.01 tdh_mr_extend.c, tdh_mr_finalize.c), and one call handles its pages one at a time: "
            "<code>kvm_gmem_populate()</code> calls <code>tdx_gmem_post_populate()</code> per page, which adds the "
            "page and then extends it (arch/x86/kvm/vmx/tdx.c). Same records, same order; only the two-pass order "
            "of older stacks changes the stream."
        ),
    ),
    "05.review-records-mixed": Entry(
        chapter="05",
        prompt=(
            "One <code>KVM_TDX_INIT_MEM_REGION</code> adds 2 pages at GPA 0x1000 <b>with</b> "
            "<code>KVM_TDX_MEASURE_MEMORY_REGION</code>, a second adds 3 pages at GPA 0x3000 <b>without</b>. How many "
            "records do the two calls feed into MRTD?"
        ),
        kind="number",
        answer="37",
        hint="Count per page: which SEAMCALLs extend MRTD for a measured page, and which for an unmeasured one?",
        explanation=(
            "<b>37</b> = 2 &times; 17 + 3 &times; 1. A measured page gives one TDH.MEM.PAGE.ADD record (its GPA) and "
            "sixteen TDH.MR.EXTEND records (256 bytes each; TDX_EXTENDMR_CHUNKSIZE, arch/x86/kvm/vmx/tdx.c "
            "<code>tdx_gmem_post_populate</code>); an unmeasured page only its PAGE.ADD record, since KVM issues "
            "TDH.MR.EXTEND only with MEASURE (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, tdh_mr_extend.c)."
        ),
        review=1,
        tells=("37 records",),
    ),
    "05.review-gpa-moves": Entry(
        chapter="05",
        prompt=(
            "Two builds add one page of zeros <b>without</b> MEASURE and nothing else: one at GPA 0x2000, the other "
            "at GPA 0x3000. Do their MRTDs differ?"
        ),
        kind="choice",
        choices=(
            "no: the bytes are the same and nothing is measured",
            "yes: the PAGE.ADD record holds the GPA",
            "only if the page is added in place",
        ),
        answer="yes: the PAGE.ADD record holds the GPA",
        hint="An unmeasured page still makes one SEAMCALL that extends MRTD. What is in its record?",
        explanation=(
            "<b>Yes.</b> TDH.MEM.PAGE.ADD extends MRTD with a 128-byte record of <code>'MEM.PAGE.ADD'</code> and the "
            "GPA (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, sha384.h <code>sha384_128B_block_t</code>), so "
            "the same page at another GPA is another record and another SHA-384: MRTD says where each page went, "
            "even when it says nothing of its contents."
        ),
        review=2,
    ),
    "05.review-order-swapped": Entry(
        chapter="05",
        prompt=(
            "The chapter's two pages in the other order: first 0x2000 (zeros, <b>without</b> MEASURE), then 0x1000 "
            "(the same bytes, <b>with</b> MEASURE). Same MRTD as the chapter's build?"
        ),
        kind="choice",
        choices=(
            "yes: the same pages, the same bytes, the same records",
            "no: the same records in another order hash to another MRTD",
            "no: the unmeasured page is measured when it comes first",
        ),
        answer="no: the same records in another order hash to another MRTD",
        hint="Is MRTD a set of records, or a hash over a sequence?",
        explanation=(
            "<b>No.</b> MRTD is one running SHA-384 over the records in SEAMCALL order (intel/tdx-module TDX_1.5.01 "
            "tdh_mem_page_add.c, tdh_mr_extend.c, tdh_mr_finalize.c): PAGE.ADD 0x2000 first, then PAGE.ADD 0x1000 "
            "and its 16 MR.EXTENDs is the same records in another order, so another digest, as for the two-pass "
            "loaders. The order the VMM adds its pages in is part of what a verifier must reproduce."
        ),
        review=3,
    ),
    # -- chapter 06: conversions at runtime -----------------------------------------------------------------------
    "06.map-gpa-exits": Entry(
        chapter="06",
        prompt=(
            "The guest converts 4 MiB + 4 KiB to shared with one MapGPA. How many <code>KVM_EXIT_HYPERCALL</code>s "
            "does the VMM see?"
        ),
        kind="number",
        answer="3",
        hint="KVM caps the range of one exit. At what size?",
        explanation=(
            "<b>Three</b>: 2 MiB, 2 MiB and 4 KiB. KVM caps each exit at TDX_MAP_GPA_MAX_LEN (2 MiB) so the vCPU can "
            "take interrupts in between, and re-enters userspace for the rest (arch/x86/kvm/vmx/tdx.c "
            "<code>__tdx_map_gpa</code>)."
        ),
    ),
    "06.zap-two-pages": Entry(
        chapter="06",
        prompt=(
            "The guest converts <b>two</b> accepted private pages, 0x1000 and 0x2000, to shared with one MapGPA. How "
            "many SEAMCALLs does KVM make to drop them?"
        ),
        kind="number",
        answer="8",
        hint="How many SEAMCALLs does dropping one accepted page take, and does KVM share any of them between pages?",
        explanation=(
            "<b>Eight:</b> for each page, TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE and "
            "TDH.PHYMEM.PAGE.WBINVD. KVM zaps leaf by leaf: <code>tdx_sept_remove_leaf_spte</code> blocks, tracks "
            "(<code>tdx_track</code>), removes and writes back each 4 KiB page (arch/x86/kvm/vmx/tdx.c; "
            "intel/tdx-module TDX_1.5.01 tdh_mem_page_remove.c needs the leaf BLOCKED and the TLB tracked)."
        ),
        tells=("TDH.PHYMEM.PAGE.WBINVD×2",),
    ),
    "06.oop-host-read": Entry(
        chapter="06",
        prompt=(
            "<b>Out of place</b>: the host wrote <code>hello from the host</code> into a shared page; the guest "
            "converts it to private, accepts it, and the VMM has discarded as QEMU does. The host reads its side, at "
            "<code>userspace_addr</code>, again. What does it get?"
        ),
        kind="choice",
        choices=(
            "'hello from the host': the anonymous page is still there",
            "SIGBUS: the GFN is private now",
            "zeros: QEMU's discard dropped the anonymous page, and a fresh one is zero-filled",
            "the guest's data",
        ),
        answer="zeros: QEMU's discard dropped the anonymous page, and a fresh one is zero-filled",
        hint="Out of place, the host's side is ordinary anonymous memory. What does the VMM do to it when the GFN "
        "becomes private?",
        explanation=(
            "<b>Zeros.</b> Out of place the shared side is an anonymous page behind <code>userspace_addr</code>, not "
            "guest_memfd, so there is no SIGBUS; but on a conversion to private QEMU's "
            "<code>kvm_convert_memory</code> discards it (<code>ram_block_discard_range</code>, "
            "madvise(MADV_DONTNEED); accel/kvm/kvm-all.c), and the next touch of that private anonymous mapping gets "
            "a zero-filled page (madvise(2))."
        ),
    ),
    "06.review-map-gpa-8m": Entry(
        chapter="06",
        prompt=(
            "The guest converts 8 MiB + 4 KiB back to <b>private</b> with one MapGPA (no interrupt pending). How many "
            "<code>KVM_EXIT_HYPERCALL</code>s does the VMM see?"
        ),
        kind="number",
        answer="5",
        hint="Does the cap on one exit depend on the direction of the conversion? How many 2 MiB pieces are there?",
        explanation=(
            "<b>Five</b>: four of 2 MiB and one of 4 KiB. <code>__tdx_map_gpa</code> (arch/x86/kvm/vmx/tdx.c) caps "
            "every exit at TDX_MAP_GPA_MAX_LEN (2 MiB) whatever the direction; only the attribute differs "
            "(<code>KVM_MAP_GPA_RANGE_ENCRYPTED</code> without the shared bit), and the VMM's answer to each chunk "
            "re-enters userspace with the next one (<code>tdx_complete_vmcall_map_gpa</code>)."
        ),
        review=1,
    ),
    "06.review-zap-skipped-page": Entry(
        chapter="06",
        prompt=(
            "The guest accepted 0x1000, 0x2000 and 0x4000 but never touched 0x3000; then it converts the four pages "
            "[0x1000, 0x5000) to shared with one MapGPA. How many SEAMCALLs does KVM make to drop them?"
        ),
        kind="number",
        answer="12",
        hint="Which of the four GFNs have an S-EPT leaf to take down? A page the guest never touched was never AUGed.",
        explanation=(
            "<b>Twelve:</b> BLOCK, TRACK, REMOVE and WBINVD for each of the three accepted pages "
            "(<code>tdx_sept_remove_leaf_spte</code>, arch/x86/kvm/vmx/tdx.c). 0x3000 was never faulted in, so it has "
            "no mirror SPTE and no S-EPT leaf; the TDP MMU zaps only present leaves "
            "(<code>tdp_mmu_zap_leafs</code> skips a non-present SPTE, arch/x86/kvm/mmu/tdp_mmu.c), so it costs "
            "nothing."
        ),
        review=2,
        tells=("TDH.PHYMEM.PAGE.WBINVD×3",),
    ),
    "06.review-map-gpa-unaligned": Entry(
        chapter="06",
        prompt=("The guest asks MapGPA to share 0x1800 bytes (one and a half pages) from GPA 0x1000. What happens?"),
        kind="choice",
        choices=(
            "one exit of two pages: KVM rounds the size up",
            "TDVMCALL_STATUS_ALIGN_ERROR, with no exit to the VMM",
            "one exit of one page, then TDVMCALL_STATUS_SUCCESS",
            "TDVMCALL_STATUS_INVALID_OPERAND, with no exit to the VMM",
        ),
        answer="TDVMCALL_STATUS_ALIGN_ERROR, with no exit to the VMM",
        hint="Conversions work on whole pages. What does KVM check before it builds the first exit?",
        explanation=(
            "<b>ALIGN_ERROR.</b> <code>tdx_map_gpa</code> (arch/x86/kvm/vmx/tdx.c) first checks that the range is "
            "legal and on one side of the shared bit (else INVALID_OPERAND), then <code>!PAGE_ALIGNED(gpa) || "
            "!PAGE_ALIGNED(size)</code> &rarr; <code>TDVMCALL_STATUS_ALIGN_ERROR</code>, with R11 = the GPA, and "
            "returns to the guest without an exit: the VMM never hears of it."
        ),
        review=3,
        tells=("TDVMCALL_STATUS_ALIGN_ERROR",),
    ),
    # -- chapter 08: under the hood of populate -------------------------------------------------------------------
    "08.populate-mmap-only": Entry(
        chapter="08",
        prompt=(
            "Before 2a62345b3052: populate and a VMM thread calling <code>mmap()</code> run at the same time, with "
            "<b>no</b> userspace fault on guest_memfd. Can they hang?"
        ),
        kind="choice",
        choices=(
            "yes: populate holds the invalidate lock and waits for mmap_lock behind the writer",
            "no: the writer needs only mmap_lock, so it gets it, finishes, and populate goes on",
        ),
        answer="no: the writer needs only mmap_lock, so it gets it, finishes, and populate goes on",
        hint="For a cycle, someone must hold mmap_lock while waiting for the invalidate lock. Who does that here?",
        explanation=(
            "<b>No.</b> A hang needs a cycle: populate waits for <code>mmap_lock</code> while holding the invalidate "
            "lock, but the <code>mmap()</code> writer never wants the invalidate lock, so it finishes and populate "
            "gets its read lock. The cycle needs the fault path, which holds <code>mmap_lock</code> and waits for the "
            "invalidate lock (Yan Zhao, 20250703062641.3247-1-yan.y.zhao@intel.com)."
        ),
    ),
    "08.shared-gmem-source": Entry(
        chapter="08",
        prompt=(
            "v8, in-place on: the VMM passes its mapping of the guest_memfd page as <code>source_addr</code> while "
            "the page is still <b>shared</b> (it forgot the conversion). What happens?"
        ),
        kind="choice",
        choices=(
            "SIGBUS in the GUP, as for a private page",
            "the GUP works, then guest_memfd refuses the target: it is not private, so no SEAMCALL is made",
            "an in-place add: the source is the target",
            "a deadlock between the GUP and the invalidate lock",
        ),
        answer="the GUP works, then guest_memfd refuses the target: it is not private, so no SEAMCALL is made",
        hint="A shared page can be GUP'd. What does kvm_gmem_populate() need of the target range?",
        explanation=(
            "<b>The GUP works, the target is refused.</b> Since 2a62345b3052 <code>kvm_gmem_populate()</code> GUPs "
            "the source first, and a shared guest_memfd page faults in fine; then it looks the target folio up, and "
            "only a private range can be populated (virt/kvm/guest_memfd.c): -EINVAL, before any SEAMCALL. Once the "
            "page is private, the GUP itself fails instead."
        ),
    ),
    "08.threads-to-hang": Entry(
        chapter="08",
        prompt=(
            "With the old order, how many threads does it take to hang for real, given that populate and the fault "
            "both take <code>mmap_lock</code> only for read?"
        ),
        kind="number",
        answer="3",
        hint="Two readers of an rw_semaphore do not block each other. What makes a new reader wait?",
        explanation=(
            "<b>Three</b>: the fault (holds <code>mmap_lock</code> for read, waits for the invalidate lock), "
            "populate (holds the invalidate lock, waits for <code>mmap_lock</code>) and a writer such as "
            "<code>mmap()</code> queued between them: a reader queues behind a waiting writer "
            "(kernel/locking/rwsem.c <code>rwsem_down_read_slowpath</code>)."
        ),
    ),
    "08.fault-mmap-only": Entry(
        chapter="08",
        prompt=(
            "Before 2a62345b3052, with the in-place series' fault path: a userspace fault on guest_memfd and a VMM "
            "thread calling <code>mmap()</code> run at the same time, with <b>no</b> populate. Can they hang?"
        ),
        kind="choice",
        choices=(
            "yes: the fault holds mmap_lock and the writer waits for it forever",
            "no: nobody else holds the invalidate lock, so the fault finishes, then the writer runs",
        ),
        answer="no: nobody else holds the invalidate lock, so the fault finishes, then the writer runs",
        hint="The fault holds mmap_lock for read and wants the invalidate lock. Who else could be holding that?",
        explanation=(
            "<b>No.</b> The fault takes <code>mmap_lock</code> for read, then the invalidate lock for read "
            "(<code>kvm_gmem_fault_user_mapping</code> in the in-place series), which only populate takes for write; "
            "without populate it gets it, finishes, and the queued writer runs. The hang needs all three: populate "
            "holding the invalidate lock, the fault holding <code>mmap_lock</code>, and a writer queued between them "
            "(kernel/locking/rwsem.c <code>rwsem_down_read_slowpath</code>)."
        ),
        review=3,
    ),
    "08.review-munmap-writer": Entry(
        chapter="08",
        prompt=(
            "Before 2a62345b3052, with the in-place series' fault path: populate, a userspace fault on guest_memfd and "
            "a third VMM thread calling <code>munmap()</code> (not <code>mmap()</code>). Can they hang?"
        ),
        kind="choice",
        choices=(
            "no: munmap() only removes mappings, it does not compete with a reader",
            "yes: munmap() takes mmap_lock for write, so it queues between the two readers as mmap() does",
            "only if munmap() unmaps the guest_memfd mapping",
        ),
        answer="yes: munmap() takes mmap_lock for write, so it queues between the two readers as mmap() does",
        hint="What closed the circle was not mmap() itself but the mode in which it takes mmap_lock. And munmap()?",
        explanation=(
            "<b>Yes.</b> <code>__vm_munmap()</code> (mm/mmap.c) starts with <code>mmap_write_lock_killable(mm)</code>: "
            "any writer of <code>mmap_lock</code> will do. Queued behind the fault's read lock, it makes populate's "
            "read wait behind it (kernel/locking/rwsem.c <code>rwsem_down_read_slowpath</code>), while the fault waits "
            "for the invalidate lock populate holds (Yan Zhao, 20250703062641.3247-1-yan.y.zhao@intel.com)."
        ),
        review=1,
    ),
    "08.review-two-populates": Entry(
        chapter="08",
        prompt=(
            "Before 2a62345b3052, with the in-place series' fault path: populate, a userspace fault on guest_memfd and "
            "a <b>second populate</b> thread (no <code>mmap()</code>). Can they hang?"
        ),
        kind="choice",
        choices=(
            "yes: a third thread is all the hang needs",
            "no: neither populate ever wants mmap_lock for write, so no reader is made to wait",
            "yes: the two populates deadlock on the invalidate lock",
        ),
        answer="no: neither populate ever wants mmap_lock for write, so no reader is made to wait",
        hint="Which lock does the second populate wait for, and in which mode does any populate take mmap_lock?",
        explanation=(
            "<b>No.</b> Populate takes <code>mmap_lock</code> only for read (the GUP in "
            "<code>tdx_gmem_post_populate</code>), so the second one never queues as a writer there; it waits for "
            "<code>kvm-&gt;lock</code> or the invalidate lock the first one holds. The first gets its read lock next "
            "to the fault's, finishes, and the others follow. The hang needs a writer of <code>mmap_lock</code> "
            "between two readers (kernel/locking/rwsem.c <code>rwsem_down_read_slowpath</code>; Yan Zhao, "
            "20250703062641.3247-1-yan.y.zhao@intel.com)."
        ),
        review=2,
    ),
    # -- chapter 09: the talk -------------------------------------------------------------------------------------
    "09.poll-never-written": Entry(
        chapter="09",
        prompt=(
            "In-place conversion <b>on</b>, <code>source_addr = 0</code>, and userspace <b>never wrote</b> the "
            "image. What does the TD see?"
        ),
        kind="choice",
        choices=("what the host page held before", "zeros", "-EOPNOTSUPP: there is no source"),
        answer="zeros",
        hint="What does guest_memfd do with a folio that is not up to date before KVM gets its pfn?",
        explanation=(
            "<b>Zeros.</b> v8 21/46 zeroes a folio that is not up to date when KVM gets its pfn "
            "(virt/kvm/guest_memfd.c <code>__kvm_gmem_get_pfn</code>; "
            "20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com): no host data leaks in, and Yan saw a TD "
            "hang silently this way."
        ),
    ),
    "09.v13-va0-in-place": Entry(
        chapter="09",
        prompt=(
            "Kernel v13, in-place conversion <b>on</b>, virtual address 0 mapped and holding 'Y', the image written "
            "into the guest_memfd page while shared and converted, <code>source_addr = 0</code>. What does the TD "
            "get?"
        ),
        kind="choice",
        choices=("the 'Y' from virtual address 0", "-EINVAL", "the image written while shared"),
        answer="the image written while shared",
        hint="v13 refuses 0 only without in-place conversion. With it on, what is 0?",
        explanation=(
            "<b>The image.</b> With in-place conversion on, v13 treats 0 as &quot;no source page&quot; and adds the "
            "target in place (<code>page_add_src = src_page ?: pfn_to_page(pfn)</code>, sean-jc/linux 07f26358 "
            "arch/x86/kvm/vmx/tdx.c); the mapping at virtual address 0 is irrelevant "
            "(Sean Christopherson, akMPZePBdwQlD74H@google.com). The up-front -EINVAL is only for in-place off."
        ),
        review=2,
    ),
    "09.double-add-total": Entry(
        chapter="09",
        prompt=(
            "Kernel v13, in place: one measured page at GPA 0 of an empty S-EPT, added twice. How many SEAMCALLs do "
            "the two <code>KVM_TDX_INIT_MEM_REGION</code> calls make together?"
        ),
        kind="number",
        answer="20",
        hint="Count the first add: tables, the add, the measurement. Does the second get to the TDX module?",
        explanation=(
            "<b>20</b>, all in the first: three TDH.MEM.SEPT.ADD, one TDH.MEM.PAGE.ADD, 16 TDH.MR.EXTEND. The second "
            "finds the mirror SPTE present: <code>RET_PF_SPURIOUS</code>, and "
            "<code>kvm_tdp_mmu_map_private_pfn()</code> returns -EIO before any SEAMCALL (arch/x86/kvm/mmu/mmu.c; Yan "
            "Zhao, akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com): MRTD does not move."
        ),
        review=3,
        tells=("SEAMCALLs: 20",),
    ),
    "09.review-second-page": Entry(
        chapter="09",
        prompt=(
            "Kernel v13, in place: after the talk's measured add of GPA 0, the VMM adds a second measured page at GPA "
            "0x1000. How many SEAMCALLs does that second <code>KVM_TDX_INIT_MEM_REGION</code> make?"
        ),
        kind="number",
        answer="17",
        hint="The first add built the S-EPT tables for GPA 0. Does 0x1000 need a table of its own?",
        explanation=(
            "<b>17:</b> one TDH.MEM.PAGE.ADD and 16 TDH.MR.EXTEND. GPA 0x1000 lies under the same S-EPT tables as "
            "GPA 0 (one level-1 table covers 2 MiB), which the first add built with its three TDH.MEM.SEPT.ADD; the "
            "TDP MMU links a table only where the non-leaf SPTE is not present (arch/x86/kvm/mmu/tdp_mmu.c "
            "<code>kvm_tdp_mmu_map</code>, the mirror hook <code>tdx_sept_link_private_spt</code> in "
            "arch/x86/kvm/vmx/tdx.c). A page 2 MiB away would need one more."
        ),
        review=1,
        tells=("SEAMCALLs: 17",),
    ),
    # -- chapter 10: why doesn't my MRTD match? -------------------------------------------------------------------
    "10.records-extend-hob": Entry(
        chapter="10",
        prompt=(
            "The demo image's TD HOB is 2 pages and unmeasured; single-pass hashes 59 records. The "
            "<code>extend-TD_HOB</code> loader also extends the TD HOB. How many records does its MRTD hash?"
        ),
        kind="number",
        answer="91",
        hint="An extended page adds one record per TDH.MR.EXTEND. How many per page?",
        explanation=(
            "<b>91</b> = 59 + 2 &times; 16: every page was already added (one PAGE.ADD record each); extending the "
            "HOB adds 16 TDH.MR.EXTEND records per page (TDX_EXTENDMR_CHUNKSIZE 256, arch/x86/kvm/vmx/tdx.c; "
            "intel/tdx-module TDX_1.5.01 tdh_mr_extend.c). QEMU extends a section only when its TDVF metadata has "
            "the MR.EXTEND attribute (target/i386/kvm/tdx.c); tianocore/edk2 #9545 discusses exactly this mistake."
        ),
        tells=("91 records",),
    ),
    "10.unmeasured-sections": Entry(
        chapter="10",
        prompt="A TDVF section without the MR.EXTEND attribute (the CFV, the TD HOB): does it change MRTD?",
        kind="choice",
        choices=(
            "no: unmeasured sections leave no trace in MRTD",
            "yes: its pages' GPAs enter through PAGE.ADD records, its contents do not",
            "yes: its contents are extended anyway",
        ),
        answer="yes: its pages' GPAs enter through PAGE.ADD records, its contents do not",
        hint="Every page added before FINALIZE goes through TDH.MEM.PAGE.ADD. What does that SEAMCALL hash?",
        explanation=(
            "<b>Yes, its GPAs.</b> Every page goes through TDH.MEM.PAGE.ADD, which extends MRTD with a record "
            "holding the GPA (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c); only the TDH.MR.EXTENDs of the "
            "contents are left out, since QEMU passes MEASURE only for sections with MR.EXTEND "
            "(target/i386/kvm/tdx.c)."
        ),
        review=2,
    ),
    "10.two-pass-one-page": Entry(
        chapter="10",
        prompt=(
            "An image whose every section is <b>one page</b>: does two-pass per section (every PAGE.ADD of a "
            "section, then its MR.EXTENDs) give the same MRTD as single-pass?"
        ),
        kind="choice",
        choices=(
            "no: two-pass always gives another MRTD",
            "yes: with one page per section the two orders are the same call sequence",
            "only if no section is measured",
        ),
        answer="yes: with one page per section the two orders are the same call sequence",
        hint="Write both orders down for a one-page section: ADD, then its EXTENDs…",
        explanation=(
            "<b>Yes.</b> MRTD is one SHA-384 over the records in call order (intel/tdx-module TDX_1.5.01 "
            "tdh_mr_extend.c, tdh_mr_finalize.c). For a one-page section both orders are PAGE.ADD, then that page's "
            "16 MR.EXTENDs, so the streams are identical; they part only where a section has a second page "
            "(tdx-measure's <code>--two-pass-add-pages</code>, virtee/tdx-measure #18)."
        ),
        review=3,
    ),
    "10.review-records-extend-all": Entry(
        chapter="10",
        prompt=(
            "The demo image adds 11 pages (BFV 3, measured; CFV 2, temporary memory 4, TD HOB 2, unmeasured) and "
            "single-pass hashes 59 records. The <code>extend-all</code> loader extends every section it adds. How many "
            "records does its MRTD hash?"
        ),
        kind="number",
        answer="187",
        hint="With every added page extended, how many records does each page give?",
        explanation=(
            "<b>187</b> = 11 &times; 17: every added page gives one TDH.MEM.PAGE.ADD record and, extended, 16 "
            "TDH.MR.EXTEND records (TDX_EXTENDMR_CHUNKSIZE 256, arch/x86/kvm/vmx/tdx.c; intel/tdx-module TDX_1.5.01 "
            "tdh_mem_page_add.c, tdh_mr_extend.c); that is 59 + 8 &times; 16. The PAGE.AUG section is not added, so "
            "it gives none. QEMU sets MEASURE only for sections with the MR.EXTEND attribute (target/i386/kvm/tdx.c)."
        ),
        review=1,
        tells=("187 records",),
    ),
}
