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
    "07.kvm-x86-null": Entry(
        chapter="07",
        prompt=(
            "The kernel of kvm-x86 at 09c6f74e (<code>kvm-x86-2026-06</code>): Sean's early NULL check, but not the "
            "in-place series. <code>source_addr = 0</code>: what does <code>KVM_TDX_INIT_MEM_REGION</code> return?"
        ),
        kind="errno",
        answer="EINVAL",
        hint="This kernel validates source_addr before the per-page loop, together with the alignment checks.",
        explanation=(
            "<b>-EINVAL</b>, from the up-front validation in <code>tdx_vcpu_init_mem_region()</code> "
            "(arch/x86/kvm/vmx/tdx.c, kvm-x86 09c6f74e), before any guest_memfd page is looked up. Sean wanted the "
            "NULL check early and consistent with SEV (\"I don't care which error code is returned, but I do want "
            'KVM to be consistent").'
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
    "05.unmeasured-record": Entry(
        chapter="05",
        prompt=(
            "One page at GPA 0x1000 is added <b>without</b> <code>KVM_TDX_MEASURE_MEMORY_REGION</code>, then the TD "
            "is finalized. What of that page enters MRTD?"
        ),
        kind="choice",
        choices=(
            "its 4096 bytes of contents",
            "its GPA only, in one 128-byte PAGE.ADD record",
            "its GPA and the address of the source buffer",
            "nothing: only MEASURE changes MRTD",
        ),
        answer="its GPA only, in one 128-byte PAGE.ADD record",
        hint="Which SEAMCALLs does an add without MEASURE make, and which of them reads the page's bytes?",
        explanation=(
            "<b>The GPA only.</b> TDH.MEM.PAGE.ADD extends MRTD with one 128-byte record: <code>'MEM.PAGE.ADD'</code> "
            "zero-padded to 16 bytes, the GPA as a little-endian u64, 104 zero bytes (intel/tdx-module TDX_1.5.01, "
            "tdh_mem_page_add.c and sha384.h <code>sha384_128B_block_t</code>). The contents enter only through "
            "TDH.MR.EXTEND, which KVM issues only with MEASURE (arch/x86/kvm/vmx/tdx.c tdx_gmem_post_populate)."
        ),
        review=1,
    ),
    "05.in-place-same-mrtd": Entry(
        chapter="05",
        prompt=(
            "The page at GPA 0x1000 holding <code>bytes(range(256)) * 16</code>, added <b>with</b> MEASURE: once "
            "from a separate source buffer, once in place (the target is its own source). Do the two MRTDs differ?"
        ),
        kind="choice",
        choices=(
            "yes: the source address enters the PAGE.ADD record",
            "yes: a page added in place is not extended",
            "no: the records hold the GPA and the bytes, not where the source page was",
        ),
        answer="no: the records hold the GPA and the bytes, not where the source page was",
        hint="Look at the record layout: which fields does a PAGE.ADD record and an MR.EXTEND record have?",
        explanation=(
            "<b>No.</b> Both runs hash the same records: the PAGE.ADD record, then 16 × (an <code>'MR.EXTEND'</code> "
            "record for GPA 0x1000 + 256·i and the 256 bytes of that chunk). Neither record has a field for the "
            "source page (intel/tdx-module TDX_1.5.01 sha384.h, tdh_mem_page_add.c, tdh_mr_extend.c)."
        ),
        review=2,
    ),
    "05.order-matters": Entry(
        chapter="05",
        prompt=(
            "Two unmeasured pages, 0x0 and 0x1000. Does swapping the order of their <code>PAGE.ADD</code>s change MRTD?"
        ),
        kind="choice",
        choices=(
            "no: MRTD covers a set of pages, in no order",
            "yes: MRTD is one running SHA-384 over the records, in SEAMCALL order",
            "only if the pages are measured",
        ),
        answer="yes: MRTD is one running SHA-384 over the records, in SEAMCALL order",
        hint="Is MRTD a hash of each page combined, or one hash over a stream?",
        explanation=(
            "<b>Yes.</b> TDH.MNG.INIT starts one SHA-384 context, every PAGE.ADD and MR.EXTEND feeds it a record, "
            "TDH.MR.FINALIZE finishes it (intel/tdx-module TDX_1.5.01 tdh_mr_extend.c, tdh_mr_finalize.c): the same "
            "records in another order are another message."
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
        review=1,
    ),
    "06.zap-seamcalls": Entry(
        chapter="06",
        prompt="In order, which SEAMCALLs remove one accepted private page when the guest makes it shared?",
        kind="choice",
        choices=(
            "TDH.MEM.PAGE.REMOVE",
            "TDH.MEM.RANGE.BLOCK, TDH.MEM.PAGE.REMOVE, TDH.MEM.TRACK",
            "TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE, TDH.PHYMEM.PAGE.WBINVD",
            "TDH.MEM.TRACK, TDH.MEM.RANGE.BLOCK, TDH.PHYMEM.PAGE.WBINVD, TDH.MEM.PAGE.REMOVE",
        ),
        answer="TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE, TDH.PHYMEM.PAGE.WBINVD",
        hint="After FINALIZE the TDX module removes only a blocked page whose TLB epoch has moved on.",
        explanation=(
            "<b>BLOCK, TRACK, REMOVE, WBINVD.</b> After FINALIZE, TDH.MEM.PAGE.REMOVE needs the leaf BLOCKED and "
            "the TLB tracked (intel/tdx-module TDX_1.5.01 tdh_mem_page_remove.c); KVM's "
            "<code>tdx_sept_remove_leaf_spte</code> blocks, tracks (<code>tdx_track</code>), removes, then writes "
            "back the page's cache lines under the old key (arch/x86/kvm/vmx/tdx.c; "
            'Documentation/virt/kvm/x86/tdx-tdp-mmu.rst, "dropping a private page").'
        ),
        review=2,
    ),
    "06.host-reads-private": Entry(
        chapter="06",
        prompt=(
            "In-place model, after shared → private: what does the host get when it reads the page through its "
            "mapping of the guest_memfd?"
        ),
        kind="choice",
        choices=("the guest's plaintext", "ciphertext", "zeros", "SIGBUS"),
        answer="SIGBUS",
        hint="Is the private page still mappable to host userspace?",
        explanation=(
            "<b>SIGBUS.</b> v8's cover letter: every page of an mmap()-able guest_memfd may be mapped, but touching a "
            "private one gives SIGBUS (virt/kvm/guest_memfd.c <code>kvm_gmem_fault_user_mapping</code>; "
            "20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com)."
        ),
        review=3,
    ),
    # -- chapter 08: under the hood of populate -------------------------------------------------------------------
    "08.old-lock-order": Entry(
        chapter="08",
        prompt="Before 2a62345b3052, which of the two locks does populate take first?",
        kind="choice",
        choices=("mmap_lock", "the guest_memfd's invalidate lock (filemap_invalidate_lock)"),
        answer="the guest_memfd's invalidate lock (filemap_invalidate_lock)",
        hint="Where was get_user_pages_fast() called from, and what was held around it?",
        explanation=(
            "<b>The invalidate lock.</b> <code>kvm_gmem_populate()</code> took it around the whole loop and called "
            "the post-populate callback inside it; TDX's callback then called <code>get_user_pages_fast()</code>, "
            "which may take <code>mmap_lock</code> (Yan Zhao, 20250703062641.3247-1-yan.y.zhao@intel.com: "
            '"filemap invalidation lock --> mm->mmap_lock").'
        ),
        review=1,
    ),
    "08.cycle-after": Entry(
        chapter="08",
        prompt="Does the lock-order cycle between populate and the in-place fault exist after 2a62345b3052?",
        kind="choice",
        choices=("yes", "no"),
        answer="no",
        hint="Since 2a62345b3052, when does populate GUP the source: before or inside the invalidate lock?",
        explanation=(
            '<b>No.</b> The GUP runs "prior to acquiring" the invalidate lock and drops <code>mmap_lock</code> '
            "before <code>__kvm_gmem_populate()</code> takes it (virt/kvm/guest_memfd.c; "
            "20260108214622.1084057-7-michael.roth@amd.com), so populate never holds both; only the fault path nests "
            "them, in one direction."
        ),
        review=2,
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
        review=3,
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
        review=1,
    ),
    "09.v8-vs-v13": Entry(
        chapter="09",
        prompt=(
            "In-place conversion off, <code>source_addr = 0</code>: v8 says -EOPNOTSUPP. What does v13, the "
            "version that landed, return?"
        ),
        kind="errno",
        answer="EINVAL",
        hint="v13 moved the refusal into the up-front validation, next to the alignment checks.",
        explanation=(
            "<b>-EINVAL</b>, up front: v13's <code>tdx_vcpu_init_mem_region()</code> refuses "
            "<code>(!gmem_in_place_conversion &amp;&amp; !region.source_addr)</code> with its other validation "
            "(sean-jc/linux 07f26358, arch/x86/kvm/vmx/tdx.c), before any guest_memfd page is looked up."
        ),
        review=2,
    ),
    "09.double-add-seamcalls": Entry(
        chapter="09",
        prompt=(
            "The same GPA added twice: how many SEAMCALLs does the second <code>KVM_TDX_INIT_MEM_REGION</code> make?"
        ),
        kind="number",
        answer="0",
        hint="The mirror SPTE is already present. Does KVM get as far as the TDX module?",
        explanation=(
            "<b>None.</b> The TDP MMU answers <code>RET_PF_SPURIOUS</code> for the present leaf and "
            "<code>kvm_tdp_mmu_map_private_pfn()</code> returns -EIO (arch/x86/kvm/mmu/mmu.c; Yan Zhao, "
            "akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com) before any PAGE.ADD: MRTD does not move."
        ),
        review=3,
    ),
    # -- chapter 10: why doesn't my MRTD match? -------------------------------------------------------------------
    "10.mystery-variant": Entry(
        chapter="10",
        prompt=(
            "A colleague's TD, built from the demo image, reports MRTD "
            "<code>9d09662ada3cb144dd043c5b8e96194a771739374e2a5cea39754829e8d9b82b88314b90ad904f469c13e7ec53606f28"
            "</code>. Which loader variant made it?"
        ),
        kind="choice",
        choices=("single-pass", "two-pass", "extend-TD_HOB", "add-aug"),
        answer="extend-TD_HOB",
        hint="Run diagnose(image, mystery) in a cell of your own, or compare where the record streams part.",
        explanation=(
            "<b>extend-TD_HOB</b>: the VMM passed <code>KVM_TDX_MEASURE_MEMORY_REGION</code> for the TD HOB, which "
            "the firmware's metadata leaves unmeasured, so the HOB's pages were extended into MRTD "
            "(tianocore/edk2 #9545 discusses exactly this; QEMU target/i386/kvm/tdx.c measures a section iff its "
            "TDVF MR.EXTEND attribute is set). The stream parts at the HOB's first page: the variant extends its "
            "chunk 0 where single-pass adds the HOB's second page."
        ),
        review=1,
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
    "10.two-pass-differs": Entry(
        chapter="10",
        prompt=(
            "Two loaders add and extend exactly the same pages with the same bytes; one extends each page right "
            "after adding it (single-pass), the other adds a whole section first, then extends it (two-pass). "
            "Same MRTD?"
        ),
        kind="choice",
        choices=(
            "yes: the same records go in",
            "no: the records are hashed in call order, and the order differs",
        ),
        answer="no: the records are hashed in call order, and the order differs",
        hint="MRTD is one running hash: does it care about the order of its records?",
        explanation=(
            "<b>No.</b> MRTD is one SHA-384 over the records in call order (intel/tdx-module TDX_1.5.01 "
            "tdh_mr_extend.c, tdh_mr_finalize.c), so the same records in another order give another digest; "
            "tdx-measure's <code>--two-pass-add-pages</code> exists for exactly this "
            "(virtee/tdx-measure #18)."
        ),
        review=3,
    ),
}
