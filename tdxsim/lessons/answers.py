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
    "00.review-which-seamcall": Entry(
        chapter="00",
        prompt="In the tour, which SEAMCALL turned the VMM's page into TD-private memory?",
        kind="choice",
        choices=(
            "TDH.MEM.PAGE.AUG, then the guest's TDG.MEM.PAGE.ACCEPT",
            "TDH.MEM.PAGE.ADD, with the target page as its own source",
            "TDH.MEM.PAGE.ADD, copying from the VMM's page at virtual address 0",
            "TDH.MR.EXTEND",
        ),
        answer="TDH.MEM.PAGE.ADD, with the target page as its own source",
        hint="The TD is not finalized yet when the page is added. Which door is open before TDH.MR.FINALIZE?",
        explanation=(
            "<b>TDH.MEM.PAGE.ADD, in place.</b> Before finalize KVM adds initial memory with PAGE.ADD; with "
            "<code>source_addr = 0</code> and in-place conversion on, v8's <code>tdx_gmem_post_populate()</code> "
            "passes the target page as the source (<code>src_page = pfn_to_page(pfn)</code>, v8 23/46). PAGE.AUG + "
            "ACCEPT is the run-time door, after finalize, and gives the TD a zeroed page; TDH.MR.EXTEND only "
            "measures (TDX_EXTENDMR_CHUNKSIZE, arch/x86/kvm/vmx/tdx.c)."
        ),
        review=1,
    ),
    "00.review-null-mapped": Entry(
        chapter="00",
        prompt=(
            "The VMM maps a page at virtual address 0 and passes <code>source_addr = 0</code>. What does KVM make of "
            "that address?"
        ),
        kind="choice",
        choices=(
            "a pointer to the page mapped at virtual address 0",
            "an error: KVM refuses every source address of 0",
            "'no source page': the mapping at 0 is irrelevant",
            "the physical address 0",
        ),
        answer="'no source page': the mapping at 0 is irrelevant",
        hint="Read the first answer of &quot;Frequently asked&quot; again.",
        explanation=(
            "<b>No source page.</b> &quot;KVM's ABI (that we're solidifying) is that an address of '0' for the source "
            "means NULL&quot;; a mapping at virtual address 0 &quot;is irrelevant&quot; (Sean Christopherson, "
            "akMPZePBdwQlD74H@google.com). With in-place conversion that means an in-place add; without it, "
            "-EOPNOTSUPP (v8 23/46)."
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
    "01.review-shared-bit": Entry(
        chapter="01",
        prompt="Which bit of a guest physical address is the shared bit of a TD with GPAW 48?",
        kind="number",
        answer="47",
        hint="The shared bit is the top bit of the guest physical address width.",
        explanation=(
            "<b>Bit 47</b> (GPAW &minus; 1): <code>TDX_SHARED_BIT_PWL_4</code> in arch/x86/kvm/vmx/tdx.c, used by "
            "<code>kvm_gfn_direct_bits</code>. Set, the GPA is the shared alias (shared EPT); clear, the private "
            "alias (Secure EPT). With GPAW 52 it is bit 51."
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
    "01.review-tdr": Entry(
        chapter="01",
        prompt=(
            "The host kernel reads a TD's root page, the TDR, by its physical address, through its direct map. What "
            "does it get?"
        ),
        kind="choice",
        choices=(
            "the TDR's plaintext: the TDR is a host-KeyID page",
            "SIGBUS",
            "no plaintext: the TDR is encrypted with the TDX module's global private KeyID",
            "the TD's HKID and nothing else",
        ),
        answer="no plaintext: the TDR is encrypted with the TDX module's global private KeyID",
        hint="The TDR is TDX-module metadata. Under which key does the module keep it?",
        explanation=(
            "<b>No plaintext.</b> The TDR is encrypted with the TDX module's global private KeyID, not the TD's HKID "
            "and not KeyID 0: the kernel reserves that KeyID (<code>tdx_global_keyid</code>) and flushes the TDR "
            "with it (<code>tdh_phymem_page_wbinvd_tdr</code>, arch/x86/virt/vmx/tdx/tdx.c). Private KeyIDs work "
            "only in SEAM mode (Documentation/arch/x86/tdx.rst), so the host reading with KeyID 0 gets no "
            "plaintext: zeros in tdxsim (docs/fidelity.md)."
        ),
        review=3,
    ),
    # -- chapter 02: memslots and guest_memfd -------------------------------------------------------------------
    "02.out-of-place-backing": Entry(
        chapter="02",
        prompt=(
            "A 64-page guest shares 16 of its pages. The VMM uses out-of-place conversion and does not discard. How "
            "many 4 KiB pages back the guest at the end (TDX metadata aside)?"
        ),
        kind="number",
        answer="80",
        hint="Out-of-place, every GFN has its guest_memfd page. What else does a shared GFN have?",
        explanation=(
            "<b>80 pages (320 KiB), 1.25 &times; the guest.</b> Every GFN has its guest_memfd page; the 16 shared "
            "ones also have an anonymous page behind <code>userspace_addr</code>: out-of-place needs &quot;two "
            "backing sources&quot; (v8 cover letter, 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com). "
            "Scaled up, a 4 GiB guest with a quarter of it shared needs 5 GiB."
        ),
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
            "The same 64-page guest shares the same 16 pages, but with in-place conversion on. How many 4 KiB pages "
            "back the guest at the end (TDX metadata aside)?"
        ),
        kind="number",
        answer="64",
        hint="In place, is a shared GFN's page a different page from its private one?",
        explanation=(
            "<b>64: one page per GFN.</b> In place, shared and private are the same guest_memfd folio and only its "
            "attribute flips (<code>KVM_SET_MEMORY_ATTRIBUTES2</code>, v8 13/46-17/46), so sharing costs no second "
            "page and needs no discard (v8 cover letter, "
            "20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com)."
        ),
    ),
    "02.review-shared-bytes-in-place": Entry(
        chapter="02",
        prompt=(
            "Before finalize, the VMM writes bytes into a guest_memfd page while it is shared, converts it to private "
            "and adds it with <code>source_addr = 0</code>. In which memory model does the TD see those bytes?"
        ),
        kind="choice",
        choices=(
            "out-of-place (per-VM attributes): the private page is a copy of the shared one",
            "in both: a conversion never changes contents",
            "in-place (per-guest_memfd attributes): the conversion keeps the folio",
            "in neither: a conversion to private always zeroes the page",
        ),
        answer="in-place (per-guest_memfd attributes): the conversion keeps the folio",
        hint="Out-of-place, is the private page the same physical page as the shared one?",
        explanation=(
            "<b>In-place.</b> Shared and private are one folio whose attribute flips, and KVM does not change "
            "contents on an attribute update (v8 17/46, api.rst), so the in-place PAGE.ADD finds the bytes "
            "(v8 23/46). Out-of-place the shared side is a different, anonymous page behind "
            "<code>userspace_addr</code>; the private guest_memfd page never held those bytes, and v8 refuses "
            "<code>source_addr = 0</code> there with -EOPNOTSUPP."
        ),
        review=1,
    ),
    "02.review-private-to-shared": Entry(
        chapter="02",
        prompt=(
            "In-place, a page the TD has been using (added by PAGE.ADD) is converted back to shared. What does the "
            "VMM read from it?"
        ),
        kind="choice",
        choices=(
            "the TD's plaintext: the folio is the same",
            "SIGBUS, forever",
            "the TD's data, re-encrypted with KeyID 0",
            "not the TD's data: the contents are lost (zeros in tdxsim)",
        ),
        answer="not the TD's data: the contents are lost (zeros in tdxsim)",
        hint="The page leaves the TD first (PAGE.REMOVE). What happens to data written under the TD's key?",
        explanation=(
            "<b>The contents are lost.</b> The page leaves the TD (BLOCK, TRACK, PAGE.REMOVE) and what the TD wrote "
            "is under its HKID; v8's api.rst text says a private&rarr;shared conversion must be treated as losing "
            "the contents, since removal has firmware-dependent side effects (v8 17/46). tdxsim reads zeros and "
            "marks the page &quot;not preserved&quot; (docs/fidelity.md)."
        ),
        review=2,
    ),
    "02.review-add-vs-aug": Entry(
        chapter="02",
        prompt=(
            "After <code>KVM_TDX_FINALIZE_VM</code>, the guest converts a page to private and accepts it. What does "
            "the page hold?"
        ),
        kind="choice",
        choices=(
            "what the VMM last wrote there while it was shared",
            "zeros: PAGE.AUG adds it without a copy and ACCEPT zeroes it",
            "a copy of the image that PAGE.ADD measured",
            "whatever the frame held before: nothing clears it",
        ),
        answer="zeros: PAGE.AUG adds it without a copy and ACCEPT zeroes it",
        hint="After finalize, PAGE.ADD is closed. Which SEAMCALLs give a running TD a page?",
        explanation=(
            "<b>Zeros.</b> PAGE.ADD (with a copy or in place) is the build-time door, closed by TDH.MR.FINALIZE "
            "(commit 012426d). At run time KVM maps the page with TDH.MEM.PAGE.AUG (no copy, no measurement, "
            "<code>tdx_mem_page_aug</code>, arch/x86/kvm/vmx/tdx.c) and the guest's TDG.MEM.PAGE.ACCEPT "
            "initialises it to zero (intel/tdx-module TDX_1.5.01 tdg_mem_page_accept.c), so bytes written while "
            "shared never reach a run-time private page, in either model."
        ),
        review=3,
    ),
    # -- chapter 03: three page tables --------------------------------------------------------------------------
    "03.sept-adds-4-level": Entry(
        chapter="03",
        prompt=(
            "How many <code>TDH.MEM.SEPT.ADD</code> does the first 4 KiB page of an empty 4-level S-EPT (GPAW 48) need?"
        ),
        kind="number",
        answer="3",
        hint="The root table already exists. Which tables between the root and the leaf are missing?",
        explanation=(
            "<b>Three</b>, at levels 3, 2 and 1 (tables covering 512 GiB, 1 GiB and 2 MiB; "
            "Documentation/virt/kvm/x86/tdx-tdp-mmu.rst, &quot;adding a private page&quot;). The root table is a "
            "TDCS page added by TDH.MNG.ADDCX in KVM_TDX_INIT_VM; the leaf at level 0 is the page itself."
        ),
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
    "03.review-who-walks-mirror": Entry(
        chapter="03",
        prompt="Who walks the mirror EPT?",
        kind="choice",
        choices=("the CPU, on every guest access", "the TDX module", "KVM only, never the CPU", "the guest"),
        answer="KVM only, never the CPU",
        hint="Which of the three tables does the CPU use for a private GPA?",
        explanation=(
            "<b>KVM only.</b> The mirror is KVM's software copy of the S-EPT, edited by the TDP MMU; a hook "
            "(<code>set_external_spte</code>, TDX's <code>tdx_sept_set_private_spte</code>) asks the TDX module for "
            "the same change in the S-EPT, which is what the CPU walks (Documentation/virt/kvm/x86/tdx-tdp-mmu.rst)."
        ),
        review=1,
    ),
    "03.review-aug-state": Entry(
        chapter="03",
        prompt=(
            "After finalize, KVM maps a page the guest touched with <code>TDH.MEM.PAGE.AUG</code>. In which S-EPT "
            "state is the leaf before the guest accepts it?"
        ),
        kind="state",
        answer="PENDING",
        hint="PAGE.ADD leaves the leaf MAPPED. What does PAGE.AUG leave, waiting for the guest?",
        explanation=(
            "<b>PENDING.</b> TDH.MEM.PAGE.AUG maps the page in the PENDING state; the guest's TDG.MEM.PAGE.ACCEPT "
            "moves it to MAPPED, zeroing it (intel/tdx-module TDX_1.5.01 tdh_mem_page_aug.c, "
            "tdg_mem_page_accept.c)."
        ),
        review=2,
    ),
    "03.review-sept-page-type": Entry(
        chapter="03",
        prompt="What PAMT page type do the S-EPT's own table pages have?",
        kind="choice",
        choices=("PT_REG", "PT_NDA", "PT_TDCX", "PT_EPT"),
        answer="PT_EPT",
        hint="S-EPT table pages are TDX-module metadata, with a type of their own.",
        explanation=(
            "<b>PT_EPT.</b> TDH.MEM.SEPT.ADD turns a free (<code>PT_NDA</code>) page into an S-EPT table page of "
            "type <code>PT_EPT</code> (intel/tdx-module TDX_1.5.01 tdh_mem_sept_add.c; pamt_manager.h), owned by the "
            "TD's TDR: KVM never writes it, it asks."
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
    "04.tdcs-pages": Entry(
        chapter="04",
        prompt=(
            "How many TDCS pages does <code>KVM_TDX_INIT_VM</code> hand to the TDX module (one "
            "<code>TDH.MNG.ADDCX</code> each)?"
        ),
        kind="number",
        answer="6",
        hint="KVM learns the number from the module (TDH.SYS.INFO). What does TDX module 1.5 ask for?",
        explanation=(
            "<b>6</b> with TDX module 1.5 (<code>MIN_NUM_TDCS_PAGES</code>, intel/tdx-module TDX_1.5.01; KVM reads "
            "the size with TDH.SYS.INFO). One TDCS page is the root of the S-EPT. The PAMT records each as "
            "<code>PT_TDCX</code> (tdh_mng_add_cx.c), as it does the vCPU's 5 TDCX pages."
        ),
    ),
    "04.runnable": Entry(
        chapter="04",
        prompt="Which ioctl moves the TDX module's OP_STATE to <code>OP_STATE_RUNNABLE</code>?",
        kind="choice",
        choices=("KVM_TDX_INIT_VM", "KVM_TDX_INIT_VCPU", "KVM_TDX_INIT_MEM_REGION", "KVM_TDX_FINALIZE_VM"),
        answer="KVM_TDX_FINALIZE_VM",
        hint="Which step freezes the measurement?",
        explanation=(
            "<b>KVM_TDX_FINALIZE_VM</b>, through <code>TDH.MR.FINALIZE</code>, which also freezes MRTD "
            "(<code>tdx_td_finalize</code>, arch/x86/kvm/vmx/tdx.c, commit 012426d)."
        ),
    ),
    "04.review-init-mem-region-needs": Entry(
        chapter="04",
        prompt="<code>KVM_TDX_INIT_MEM_REGION</code> is a vCPU ioctl. Why?",
        kind="choice",
        choices=(
            "to measure the page with the vCPU's registers",
            "it reuses the vCPU's MMU fault path, the only way to invoke TDH.MEM.SEPT.ADD before finalize",
            "the TDX module adds pages per vCPU",
            "it is a VM ioctl; the vCPU is not needed",
        ),
        answer="it reuses the vCPU's MMU fault path, the only way to invoke TDH.MEM.SEPT.ADD before finalize",
        hint="What does KVM need to map a page into the S-EPT, and where does that code live?",
        explanation=(
            "<b>The MMU fault path.</b> Mapping into the S-EPT reuses the vCPU's MMU fault path, &quot;the only way "
            "to invoke TDH.MEM.SEPT.ADD before the TD is finalized&quot; (commit c846b45). That is why it fails with "
            "-EINVAL without <code>KVM_TDX_INIT_VCPU</code>."
        ),
        review=1,
    ),
    "04.review-pt-reg": Entry(
        chapter="04",
        prompt=("At finalize the PAMT counts read <code>PT_REG: 1</code>. Which page is that?"),
        kind="choice",
        choices=(
            "the TDR",
            "the S-EPT root",
            "the one page KVM_TDX_INIT_MEM_REGION added: the TD's first private page",
            "the vCPU's TDVPR",
        ),
        answer="the one page KVM_TDX_INIT_MEM_REGION added: the TD's first private page",
        hint="PT_REG is the type of a TD's own memory pages. How many did the flow add before finalize?",
        explanation=(
            "<b>The added page.</b> <code>PT_REG</code> is the PAMT type of a TD's private memory page "
            "(intel/tdx-module TDX_1.5.01 pamt_manager.h); TDH.MEM.PAGE.ADD gives it to the page it adds "
            "(tdh_mem_page_add.c). The metadata have their own types: PT_TDR, PT_TDCX (TDCS and TDCX pages), "
            "PT_TDVPR, PT_EPT. The page the guest accepts later, by PAGE.AUG, is the second PT_REG."
        ),
        review=2,
    ),
    "04.review-aug-state": Entry(
        chapter="04",
        prompt=(
            "After finalize the guest touches GPA 0x1000, which KVM did not add. Through which SEAMCALL does the "
            "page arrive?"
        ),
        kind="choice",
        choices=("TDH.MEM.PAGE.ADD", "TDH.MEM.PAGE.AUG", "TDH.MEM.SEPT.ADD only", "TDH.MR.EXTEND"),
        answer="TDH.MEM.PAGE.AUG",
        hint="PAGE.ADD is closed after finalize. Which SEAMCALL adds a page without a copy?",
        explanation=(
            "<b>TDH.MEM.PAGE.AUG</b> (<code>tdx_mem_page_aug</code>, arch/x86/kvm/vmx/tdx.c): the page arrives "
            "zeroed and PENDING, and the guest accepts it with TDG.MEM.PAGE.ACCEPT. After TDH.MR.FINALIZE "
            "&quot;the VMM adding TD private pages with arbitrary content is no longer allowed&quot; "
            "(commit 012426d)."
        ),
        review=3,
    ),
    "07.v8-in-place-off-null": Entry(
        chapter="07",
        prompt=(
            "Kernel v8 with <code>gmem_in_place_conversion</code> off. The VMM maps virtual address 0, writes 'Y' "
            "there, and calls <code>KVM_TDX_INIT_MEM_REGION</code> with <code>source_addr = 0</code>. What does the "
            "ioctl return?"
        ),
        kind="errno",
        answer="EOPNOTSUPP",
        hint="In v8, what does an address of 0 stand for, and does a mapping at virtual address 0 change that?",
        explanation=(
            "<b>-EOPNOTSUPP.</b> In v8, 0 means <i>no source page</i>, whatever is mapped at virtual address 0 "
            '(Sean: a mapping there "is irrelevant", akMPZePBdwQlD74H@google.com). Without in-place conversion '
            "there is nothing to add in place, so <code>tdx_gmem_post_populate()</code> refuses the NULL source "
            "(v8 23/46: <code>!src_page &amp;&amp; !gmem_in_place_conversion</code>), after the folio lookup."
        ),
        review=1,
    ),
    "07.double-add": Entry(
        chapter="07",
        prompt=(
            "Kernel v8, in-place conversion on: the same page is added twice with <code>source_addr = 0</code>. "
            "What does the second <code>KVM_TDX_INIT_MEM_REGION</code> return?"
        ),
        kind="errno",
        answer="EIO",
        hint="The first add left a present S-EPT leaf at that GPA. What does the TDP MMU make of a fault on it?",
        explanation=(
            "<b>-EIO.</b> The mirror SPTE is already present, so the TDP MMU answers <code>RET_PF_SPURIOUS</code> "
            "and <code>kvm_tdp_mmu_map_private_pfn()</code> turns anything but <code>RET_PF_FIXED</code> into -EIO "
            "(arch/x86/kvm/mmu/mmu.c; Yan Zhao, akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com). No SEAMCALL is made, "
            "the measurement is unchanged and the VM lives on. Before the populate rework (2a62345b3052) the same "
            "call failed earlier, with -EEXIST, on the already-prepared folio."
        ),
        review=2,
    ),
    "07.v13-where-refused": Entry(
        chapter="07",
        prompt=(
            "In the series as it landed (v13), without in-place conversion, <code>source_addr = 0</code> is refused. "
            "Where?"
        ),
        kind="choice",
        choices=(
            "in tdx_gmem_post_populate(), after the guest_memfd folio is looked up",
            "in kvm_gmem_populate(), when it fails to GUP address 0",
            "in tdx_vcpu_init_mem_region()'s up-front validation, before any guest_memfd page is looked up",
            "nowhere: the target page becomes its own source",
        ),
        answer="in tdx_vcpu_init_mem_region()'s up-front validation, before any guest_memfd page is looked up",
        hint='Look at the condition quoted under "What landed": which function holds it, and what runs before it?',
        explanation=(
            "<b>Up front.</b> v13's <code>tdx_vcpu_init_mem_region()</code> returns -EINVAL for "
            "<code>(!gmem_in_place_conversion &amp;&amp; !region.source_addr)</code> in its first validation "
            "(sean-jc/linux 07f26358, arch/x86/kvm/vmx/tdx.c), before the per-page loop: no "
            "<code>kvm_gmem_populate()</code>, no SEAMCALL, and the region is not written back. v8 refused the "
            "same call later, in <code>tdx_gmem_post_populate()</code>, with -EOPNOTSUPP."
        ),
        review=3,
    ),
    "07.extends-per-page": Entry(
        chapter="07",
        prompt=(
            "A measured add of one 4 KiB page (<code>KVM_TDX_MEASURE_MEMORY_REGION</code>): how many "
            "<code>TDH.MR.EXTEND</code> SEAMCALLs does KVM issue?"
        ),
        kind="number",
        answer="16",
        hint="Each TDH.MR.EXTEND measures one chunk of the page. How big is a chunk?",
        explanation=(
            "<b>16.</b> TDH.MR.EXTEND measures 256 bytes (TDX_EXTENDMR_CHUNKSIZE in arch/x86/kvm/vmx/tdx.c; the TDX "
            "module's tdh_mr_extend.c, intel/tdx-module TDX_1.5.01), and 4096 / 256 = 16."
        ),
    ),
}
