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
}
