# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 — What does `source_addr = 0` mean?
#
# **Who it is for:** kernel and VMM developers, reviewers and speakers who know what a VM and a page table are,
# and want to follow the LKML thread "[PATCH v8 23/46] KVM: TDX: Make source page optional for
# KVM_TDX_INIT_MEM_REGION" without reading forty mails. Notebooks 02 (memslots and guest_memfd) and 04
# (building a TD) help, but are not required.
#
# **What you will learn:**
# 1. what `KVM_TDX_INIT_MEM_REGION` does with `source_addr`, and why `0` means *no source page*;
# 2. why the same ioctl with the same arguments succeeds or fails depending on guest_memfd in-place conversion;
# 3. how the answer changed across four kernels (before and after commit 2a62345b3052, kvm-x86 of June 2026, v8);
# 4. why adding the same GPA twice is `-EIO`, and why that is harmless.
#
# **Time:** about 30 minutes.
#
# *State of the thread as of 1 July 2026 (v8 of the series). Every result below is computed by running the
# `tdxsim` simulator; every expected value in an `assert` is quoted from the patch or the mails.*

# %%
import errno

from IPython.display import Image

from tdxsim import plot
from tdxsim.widgets import control_panel, reveal, seed_matrix, step_player
from tdxsim.widgets.seed import Toggles, run_cell, run_matrix, td_gets

# %% [markdown]
# ## The question
#
# Yan Zhao's test program maps virtual address 0 with `MAP_FIXED`, writes `'Y'` there, and calls
# `KVM_TDX_INIT_MEM_REGION` with `source_addr = 0`. Should KVM copy the `'Y'` into the TD? Sean
# Christopherson's answer (seed mail, https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/): *"KVM's ABI
# (that we're solidifying) is that an address of '0' for the source means NULL"* — the mapping at 0 *"is
# irrelevant"*. What the v8 patch makes of a NULL source:
#
# ```c
# if (!src_page) {                          // source_addr == 0  ⇒ "no source page"
#     if (!gmem_in_place_conversion)        // out-of-place (per-VM attributes): source required
#         return -EOPNOTSUPP;
#     src_page = pfn_to_page(pfn);          // in-place add: target is its own source
# }
# ```

# %% [markdown]
# ## The whole thread as one table
#
# Each row is one situation from the thread (kvm-uapi.md §2.5), each column one kernel. Every cell below was
# computed by building that TD in the simulator and calling the ioctl; the small text names where the answer is
# written down. Look at the `source_addr = 0` rows: the answer changes from kernel to kernel.

# %%
cells = run_matrix()
Image(plot.to_png(plot.outcome_matrix(cells), dpi=60), metadata={"alt": "The seed thread as a table: 14 situations (rows) by 4 kernels (columns), each cell the errno KVM_TDX_INIT_MEM_REGION returned, coloured and hatched by errno; the source_addr = 0 rows change from kernel to kernel."})

# %% [markdown]
# **Try it:** pick a scenario and a kernel. Right below the pickers you get what the ioctl returned, the SEAMCALLs
# it made, what the TD's page holds, the page-ownership map and the S-EPT entry of GPA 0; the whole table follows.
# Try "off · 0, VA 0 mapped ('Y')" on `pre-2a62345b3052` and then on `v8`.

# %%
seed_matrix(cells)

# %% [markdown]
# ## The thread, position by position
#
# | # | who, when | the position, in a few words | link |
# |---|---|---|---|
# | P | Ackerley Tng, 18 Jun (the patch) | "If guest_memfd in-place conversion is enabled, pass NULL for @source_addr to initialize the memory region using memory contents already populated in guest_memfd memory." | [20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com/) |
# | 2 | Sean, 22 Jun | MMAP is the wrong test; getting the seven steps right is userspace's job | [ajnf5Z9nWZxoLS4x@google.com](https://lore.kernel.org/all/ajnf5Z9nWZxoLS4x@google.com/) |
# | 3 | Sean to Fuad, 22 Jun | he renamed the module parameter to `gmem_in_place_conversion` | [ajngYb3aNTvtXkwl@google.com](https://lore.kernel.org/all/ajngYb3aNTvtXkwl@google.com/) |
# | 8 | Yan, 25 Jun | "What if 0 uaddr is a valid address? :)" | quoted in #10 |
# | 10 | Ackerley, 26 Jun | the uAPI "was perhaps accidentally changed and no customer complained": treat 0 as invalid | [CAEvNRgHb6WmOha6…@mail.gmail.com](https://lore.kernel.org/all/CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com/) |
# | 12 | Ackerley, 29 Jun | the `-EOPNOTSUPP` lines must stay: without in-place conversion 0 would silently load a zero page | [CAEvNRgHO3T6pKDP…@mail.gmail.com](https://lore.kernel.org/all/CAEvNRgHO3T6pKDP7ye-RdqbGhAzVC7a=8uBUyaPxwbSuj9khqA@mail.gmail.com/) |
# | **S** | **Sean, 29 Jun (seed)** | "an address of '0' for the source means NULL"; out-of-place support would be "effectively an obscure zero-page optimization" | [akMPZePBdwQlD74H@google.com](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/) |
# | 13 | Yan, 30 Jun | TDX's in-place add does not depend on gmem in-place conversion | [akMlQ1TuB2qTtKn5@…](https://lore.kernel.org/all/akMlQ1TuB2qTtKn5@yzhao56-desk.sh.intel.com/) |
# | 14 | Yan, 30 Jun | "By 'out-of-place conversion', do you mean using per-VM memory attribute conversion?" | [akMoFqj/8Af2i/Al@…](https://lore.kernel.org/all/akMoFqj%2F8Af2i%2FAl@yzhao56-desk.sh.intel.com/) |
# | 15 | Sean, 30 Jun | "Yep"; the docs say "no source page", required when in-place conversion isn't enabled | [akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/) |
# | 16 | Yan, 1 Jul | "Ok." — a double add needs the same GPA twice, and returns `-EIO` | [akSx0Bx1RKe9DCXw@…](https://lore.kernel.org/all/akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com/) |

# %% [markdown]
# ## Toggle it yourself
#
# **Try it:** turn in-place conversion off with `source_addr` 0 (the v8 kernel says `-EOPNOTSUPP`), then pick
# "a separate buffer" (success: the TD gets the buffer's bytes). Then switch the kernel to `pre-2a62345b3052`
# with in-place off and "0, with virtual address 0 mapped": the old kernel really did copy the `'Y'`.
# Combinations that cannot exist (in-place conversion on a kernel without the parameter) say why.

# %%
control_panel()

# %% [markdown]
# ## One GFN, one page or two?
#
# Out-of-place conversion backs each GFN twice: the private side in guest_memfd, the shared side in the memslot's
# `userspace_addr`. In-place conversion has one page whose attribute flips. Compare the strips below: which model
# ever lets userspace write into the page that becomes private?

# %%
out_of_place = run_cell(Toggles(in_place=False, source="buffer"))
in_place = run_cell(Toggles(in_place=True, source="zero"))
runs = [("out-of-place, separate buffer", out_of_place.out, out_of_place.doc), ("in-place, 0", in_place.out, in_place.doc)]
Image(plot.to_png(plot.ownership_compare(runs), dpi=60), metadata={"alt": "Two ownership maps: out-of-place with a separate buffer, where userspace wrote the buffer and the TD pages were copied from it; in-place with source_addr 0, where each TD page was written while shared and then added in place."})

# %% [markdown]
# In the out-of-place map the TD pages were copied from the separate buffer (dashed outlines in the physical
# view below); in-place, each TD page was its own source.

# %%
Image(plot.to_png(plot.ownership_map(out_of_place.out, out_of_place.doc), dpi=60), metadata={"alt": "Ownership map of the out-of-place build with a separate buffer: the TD-private pages outlined as PAGE.ADD targets, and the buffer pages they were copied from dashed, in the physical view."})

# %% [markdown]
# ## What happened, call by call
#
# The in-place add of one page: KVM walks down to `tdx_gmem_post_populate`, the TDP MMU needs three
# `TDH.MEM.SEPT.ADD` for the empty S-EPT levels, then `TDH.MEM.PAGE.ADD` with the target as its own source.
# **Try it:** press *next* or *play* and watch the S-EPT entry go `FREE → MAPPED`.

# %%
one_page = run_cell(Toggles(in_place=True, source="zero", image_pages=1))
step_player(one_page)

# %% [markdown]
# The S-EPT walk for GPA 0 after that call: which levels the first touch had to create.

# %%
Image(plot.to_png(plot.sept_tree(one_page.events, 0), dpi=60), metadata={"alt": "The Secure-EPT walk for GPA 0 after a one-page in-place add: the non-leaf levels the first touch created with TDH.MEM.SEPT.ADD and the MAPPED leaf."})

# %% [markdown]
# And the measurement: `PAGE.ADD` extends MRTD with the GPA only; `MEASURE` adds 16 `TDH.MR.EXTEND` records with
# the page's bytes. The replay from the event record must end at the MRTD the TDX module reported.

# %%
Image(plot.to_png(plot.mrtd_records(one_page.events, one_page.chunk, one_page.out["final"]["mrtd"]), dpi=60), metadata={"alt": "MRTD records of the one-page add: the TDH.MEM.PAGE.ADD record with the GPA, sixteen TDH.MR.EXTEND records with the page's bytes, the running SHA-384, and the check against the MRTD the TDX module reported."})

# %%
steps = plot.mrtd_steps(one_page.events, one_page.chunk)
assert steps[-1].digest == one_page.out["final"]["mrtd"]
print(len(steps), "measurement steps; MRTD", one_page.out["final"]["mrtd"][:16], "…")

# %% [markdown]
# ## Side topic: adding the same GPA twice
#
# Sean, in the seed mail: *"Ahhh, no, because KVM will return RET_PF_SPURIOUS and kvm_tdp_mmu_map_private_pfn()
# will then return -EIO."* The mirror SPTE is already present, so the second call makes no SEAMCALL at all, and
# the measurement does not change.

# %%
once = run_cell(Toggles(in_place=True, source="zero"))
twice = run_cell(Toggles(in_place=True, source="zero", add_twice=True))
second = twice.step("add again")
print("first:", twice.add["errno"] or 0, " second:", second["errno"], " SEAMCALLs of the second:", second["seamcalls"])
assert (twice.add["ret"], second["ret"]) == (0, -errno.EIO)  # akMPZePBdwQlD74H@google.com, Yan #16
assert twice.out["final"]["mrtd"] == once.out["final"]["mrtd"]  # measurement unchanged (kvm-uapi.md §2.6)

# %% [markdown]
# Before Michael Roth's populate rework (commit 2a62345b3052) the second call stopped earlier, in
# `kvm_gmem_populate()`, because the folio was already prepared:

# %%
old = run_cell(Toggles(kernel="pre-2a62345b3052", in_place=False, source="buffer", add_twice=True))
print("pre-2a62345b3052, second add:", old.step("add again")["errno"])

# %% [markdown]
# ## Misconceptions
#
# **"source_addr is just a pointer; 0 is a valid pointer if mapped."** — The ABI says 0 means NULL, "no source
# page" (seed mail). The cell below maps VA 0 with `'Y'` on the v8 kernel with in-place conversion on: the `'Y'`
# is ignored, the TD gets the guest_memfd page.
#
# **"In-place conversion and TDX in-place add are the same thing."** — Different layers. In-place *conversion* is
# a guest_memfd property (shared and private are one physical page); in-place *add* is a TDX-module ability
# (PAGE.ADD with source == target). Without in-place conversion the target can only hold zeros, so KVM refuses.
#
# **"Rejecting NULL is like rejecting an unaligned source."** — Sean: an unaligned source is *impossible* (hardware
# converts whole pages), NULL is *possible*; the kernel should not guess what userspace meant.
#
# **"A double add corrupts the TD."** — KVM rejects it with `-EIO` before any SEAMCALL (above).
#
# **"MRTD covers all initial memory contents."** — PAGE.ADD measures the GPA only; contents are measured only with
# `KVM_TDX_MEASURE_MEMORY_REGION`.
#
# **"INIT_MEM_REGION is a VM ioctl."** — It is a vCPU ioctl: mapping into the S-EPT reuses the vCPU's MMU fault
# path (commit c846b45).

# %%
va0 = run_cell(Toggles(in_place=True, source="zero_va0"))
print("v8, in-place on, VA 0 holds 'Y' → the TD's page holds", td_gets(va0))
no_measure = run_cell(Toggles(in_place=True, source="zero", measure=False))
print("without MEASURE the MRTD changes too:", no_measure.out["final"]["mrtd"][:16], "vs", once.out["final"]["mrtd"][:16])

# %% [markdown]
# ## Exercises
#
# Predict the answer, then run the cell: the `assert` checks the simulator against the source quoted beside it.
# The toggle reveals the reasoning.
#
# **1.** v8 kernel, in-place conversion **off**, `source_addr = 0`, and VA 0 mapped with `'Y'`. What does
# `KVM_TDX_INIT_MEM_REGION` return?

# %%
ex1 = run_cell(Toggles(kernel="v8", in_place=False, source="zero_va0"))
assert ex1.result["ret"] == -errno.EOPNOTSUPP  # v8 23/46: !src_page && !gmem_in_place_conversion
reveal(
    "<b>-EOPNOTSUPP.</b> 0 means NULL whatever is mapped there (Sean, akMPZePBdwQlD74H@google.com), and without "
    "in-place conversion a NULL source is refused (patch v8 23/46)."
)

# %% [markdown]
# **2.** v8, in-place **on**, `source_addr = 0`, but userspace never wrote the image. What does the TD see?

# %%
ex2 = run_cell(Toggles(in_place=True, source="zero", written_while_shared=False))
assert ex2.result["ret"] == 0
assert ex2.td_bytes(0, 4096) == bytes(4096)  # zeros: "Zero page while getting pfn" (v8 21/46)
reveal(
    "<b>A page of zeros</b>, added and measured. v8 21/46 zeroes a folio that is not up to date in "
    "<code>__kvm_gmem_get_pfn()</code>, so no host data leaks in; Yan saw a TD hang silently this way."
)

# %% [markdown]
# **3.** Same `source_addr = 0` on the kernel of kvm-x86 at 09c6f74e (`kvm-x86-2026-06`), which has Sean's early
# check but not the series.

# %%
ex3 = run_cell(Toggles(kernel="kvm-x86-2026-06", in_place=False, source="zero"))
assert ex3.result["ret"] == -errno.EINVAL  # kvm-uapi.md §2.5: -EINVAL at validation (K-TDX, L-SEV)
reveal(
    "<b>-EINVAL</b>, from the up-front validation in <code>tdx_vcpu_init_mem_region()</code>: Sean wanted the "
    "NULL check early and consistent with SEV (\"I don't care which error code is returned, but I do want KVM to "
    "be consistent\")."
)

# %% [markdown]
# **4.** Before commit 2a62345b3052, with VA 0 mapped and holding `'Y'`: what does the TD get?

# %%
ex4 = run_cell(Toggles(kernel="pre-2a62345b3052", in_place=False, source="zero_va0"))
assert ex4.result["ret"] == 0
assert ex4.td_bytes(0, 1) == b"Y"  # Yan, quoted in CAEvNRgHb6WmOha6…: 0 worked when VA 0 was mapped
reveal(
    "<b>The 'Y'.</b> TDX's post-populate callback GUP'd <code>source_addr</code> itself, so 0 was just an address. "
    "2a62345b3052 moved the GUP into <code>kvm_gmem_populate()</code>, which skips a NULL source: an accidental "
    "uAPI change nobody complained about (Ackerley #10)."
)

# %% [markdown]
# **5.** Open question: why did nobody notice that 2a62345b3052 changed the uAPI?

# %%
reveal("Because no VMM passes 0: QEMU always hands KVM a separate, mapped buffer (Ackerley, #10).")

# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | the ioctl (a vCPU ioctl since commit c846b45), its validation and the per-page loop | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init_mem_region` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | NULL source → in-place add or `-EOPNOTSUPP` | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` | [v8 23/46](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com/) |
# | GUP of a non-NULL source, the private check | `virt/kvm/guest_memfd.c` | `kvm_gmem_populate` | [2a62345b3052](https://lore.kernel.org/all/20260108214622.1084057-7-michael.roth@amd.com/) |
# | zeroing a folio before first use | `virt/kvm/guest_memfd.c` | `__kvm_gmem_get_pfn` | [v8 series](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com/) |
# | double add → `RET_PF_SPURIOUS` → `-EIO` | `arch/x86/kvm/mmu/mmu.c` | `kvm_tdp_mmu_map_private_pfn` | [seed mail](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/) |
# | the decision and the doc wording | — | — | [akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/) |
