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
