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
# 3. how the answer changed across five kernels (before and after commit 2a62345b3052, kvm-x86 of June 2026, v8,
#    and v13, the version of the series that landed);
# 4. why adding the same GPA twice is `-EIO`, and why that is harmless.
#
# **Time:** about 30 minutes.
#
# ← [06 — conversions at runtime](06-conversions-at-runtime.ipynb) · [08 — under the hood of populate](08-under-the-hood-of-populate.ipynb) →
#
# *The thread is about v8 of the series (June 2026); the series landed as v13 in September 2026, and the last
# section shows what changed. Every result below is computed by running the `tdxsim` simulator; every expected
# value in an `assert` is quoted from the patch, the mails or the kernel source.*

# %%

from tdxsim import errno, plot  # errno: Linux's numbers, whatever the host runs
from tdxsim.seed import Toggles, run_cell, run_matrix, td_gets
from tdxsim.widgets import control_panel, seed_matrix, step_player

# %% [markdown]
# ## The question
#
# Yan Zhao's test program maps virtual address 0 with `MAP_FIXED`, writes `'Y'` there, and calls
# `KVM_TDX_INIT_MEM_REGION` with `source_addr = 0`. Should KVM copy the `'Y'` into the TD? Sean
# Christopherson's answer (29 Jun, https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/): *"KVM's ABI
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
# Each row is one situation from the thread, each column one kernel. Every cell below was
# computed by building that TD in the simulator and calling the ioctl; the small text names where the answer is
# written down. Look at the `source_addr = 0` rows: the answer changes from kernel to kernel.

# %%
cells = run_matrix()
plot.show(plot.outcome_matrix(cells), alt="The seed thread as a table: 14 situations (rows) by 4 kernels (columns), each cell the errno KVM_TDX_INIT_MEM_REGION returned, coloured and hatched by errno; the source_addr = 0 rows change from kernel to kernel.")

# %% [markdown]
# **Reading the columns in time.** `pre-2a62345b3052` is kvm-x86 before January 2026. Commit `2a62345b3052`
# (Michael Roth, January 2026) moved the GUP of the source into `kvm_gmem_populate()`, which skips it for a zero
# `source_addr` and hands TDX's callback `src_page = NULL`; `tdx_gmem_post_populate()` then returns `-EOPNOTSUPP`
# (`if (!src_page) return -EOPNOTSUPP;`, the lines v8 23/46 rewrites), so that column's `-EOPNOTSUPP` comes from
# `tdx.c`, not from guest_memfd. `v8` (18 June 2026) was posted on kvm-x86/next `b7fbe9a1bf9e`, which still had
# that check: with in-place conversion off it keeps `-EOPNOTSUPP`, on it adds the target in place.
# `kvm-x86-2026-06` is kvm-x86 itself later that month (at `09c6f74e`): Sean's change after the "kvm: sev: Fix
# issues reported by Sashiko" thread moved the refusal of a zero `source_addr` into `tdx_vcpu_init_mem_region()`'s
# up-front validation, with another errno; v8's base predates it and v8 does not carry it, and that tree has no
# in-place series. `v13` (September 2026), the series as it landed, is rebased past it and combines the two: the
# up-front refusal when in-place conversion is off, an in-place add when it is on.
#
# **Try it:** pick a scenario and a kernel. The table outlines the cell; below it you get what the ioctl returned,
# the SEAMCALLs it made, what the TD's page holds, the page-ownership map and the S-EPT entry of GPA 0.
# Try "off · 0, VA 0 mapped ('Y')" on `pre-2a62345b3052` and then on `v8`.

# %%
seed_matrix(cells)

# %% [markdown]
# **Predict first**, before the experiment below runs it:

# %%
from tdxsim.widgets.exercise import exercise, review

exercise("07.pre-rework-va0", 1)

# %% [markdown]
# ## The VA-0 experiment, as calls
#
# Every cell of the table is a handful of calls into the simulated machine, the ones QEMU makes. Here is Yan's
# experiment written out: build a TD (`KVM_CREATE_VM`, `KVM_TDX_INIT_VM`, `KVM_CREATE_VCPU`, `KVM_TDX_INIT_VCPU`),
# bind a 2 MiB guest_memfd as memslot 0, map virtual address 0 with `MAP_FIXED` and write `'Y'` there, then add GPA 0
# with `source_addr = 0`. Each call returns a result: `r.ret` and `r.errno` as the system call returns them,
# `r.seamcalls` the TDX-module calls it made with their statuses. `vmm.private_bytes(0, 1)` reads the TD's first
# byte through the TD's key, `vmm.sept_state(0)` the S-EPT leaf of GPA 0.
#
# **Try it:** change `K` to another kernel — `"2a62345b3052"`, `"v8"`, `"v13"` — and run the cell again; set
# `gmem_in_place_conversion=True` on `v8` or `v13` (the kernels that have the parameter) and compare.

# %%
import tdxsim
from tdxsim import recipes
from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_TDX_MEASURE_MEMORY_REGION

K = "pre-2a62345b3052"  # the kernel: one of tdxsim.kvm.flavours.FLAVOURS
vmm = tdxsim.Vmm(kernel=K, gmem_in_place_conversion=False)
recipes.create_td(vmm)
binding, _ = recipes.bind_guest_memfd(vmm, 2 << 20)  # GPA 0 .. 2 MiB
print(vmm.mmap(length=4096, addr=0), vmm.write(0, b"Y"))  # MAP_FIXED at virtual address 0, then store 'Y'
if vmm.in_place:  # in-place conversion: the page must be private before it is added
    vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=binding.guest_memfd, offset=0, size=4096,
                                   attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE)
r = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1, flags=KVM_TDX_MEASURE_MEMORY_REGION)
print(r, r.errno)
for call in r.seamcalls[:4]:
    print(f"  {call['leaf']:18} gpa={call['gpa']:#x} level={call.get('level')}  {call['status']}")
print(f"  ... {len(r.seamcalls)} SEAMCALLs in all")
print("the TD's byte at GPA 0:", vmm.private_bytes(0, 1), " S-EPT leaf of GPA 0:", vmm.sept_state(0))

# %% [markdown]
# On the old kernel the `'Y'` reached the TD: `tdx_gmem_post_populate()` called `get_user_pages_fast()` on
# `source_addr`, and address 0 was just an address (Yan, row 10). The same calls on kvm-x86 of June 2026, where
# `tdx_vcpu_init_mem_region()` refuses a zero `source_addr` up front:

# %%
K = "kvm-x86-2026-06"
vmm = tdxsim.Vmm(kernel=K, gmem_in_place_conversion=False)
recipes.create_td(vmm)
binding, _ = recipes.bind_guest_memfd(vmm, 2 << 20)
print(vmm.mmap(length=4096, addr=0), vmm.write(0, b"Y"))
r = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1, flags=KVM_TDX_MEASURE_MEMORY_REGION)
print(r, r.errno, r.seamcalls)
print("S-EPT leaf of GPA 0:", vmm.sept_state(0))
assert r.ret == -errno.EINVAL and r.seamcalls == []  # kvm-x86 09c6f74e tdx.c: tdx_vcpu_init_mem_region, before any SEAMCALL

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
# | 12a | Sean, 29 Jun | "an address of '0' for the source means NULL"; out-of-place support would be "effectively an obscure zero-page optimization" | [akMPZePBdwQlD74H@google.com](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/) |
# | 13 | Yan, 30 Jun | TDX's in-place add does not depend on gmem in-place conversion | [akMlQ1TuB2qTtKn5@…](https://lore.kernel.org/all/akMlQ1TuB2qTtKn5@yzhao56-desk.sh.intel.com/) |
# | 14 | Yan, 30 Jun | "By 'out-of-place conversion', do you mean using per-VM memory attribute conversion?" | [akMoFqj/8Af2i/Al@…](https://lore.kernel.org/all/akMoFqj%2F8Af2i%2FAl@yzhao56-desk.sh.intel.com/) |
# | **15** | **Sean, 30 Jun (the seed mail)** | "Yep"; the docs say "no source page", required when in-place conversion isn't enabled; "ignore everything from 'Side topic' on" | [akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/) |
# | 16 | Yan, 1 Jul | "Ok." — a double add needs the same GPA twice, and returns `-EIO` | [akSx0Bx1RKe9DCXw@…](https://lore.kernel.org/all/akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com/) |

# %% [markdown]
# ## Toggle it yourself
#
# **Try it:** turn in-place conversion off with `source_addr` 0 (the v8 kernel says `-EOPNOTSUPP`), then pick
# "a separate buffer" (success: the TD gets the buffer's bytes). Then switch the kernel to `pre-2a62345b3052`
# with in-place off and "0, with virtual address 0 mapped": the old kernel really did copy the `'Y'`.
# Combinations that cannot exist (in-place conversion on a kernel without the parameter) say why. Open *Show the
# calls* under the outcome: it is the Python that makes the same calls, to paste into a cell and change.

# %%
control_panel()

# %% [markdown]
# ## One GFN, one page or two?
#
# Out-of-place conversion can back a GFN twice: the private side in guest_memfd, the shared side in the memslot's
# `userspace_addr` (until the VMM discards one of them, chapter [06](06-conversions-at-runtime.ipynb)). In-place
# conversion has one page whose attribute flips. Compare the strips below: which model ever lets userspace write
# into the page that becomes private?

# %%
out_of_place = run_cell(Toggles(in_place=False, source="buffer"))
in_place = run_cell(Toggles(in_place=True, source="zero"))
runs = [("out-of-place, separate buffer", *plot.machine_view(out_of_place.vmm)), ("in-place, 0", *plot.machine_view(in_place.vmm))]
plot.show(plot.ownership_compare(runs), alt="Two ownership maps: out-of-place with a separate buffer, where the TD pages were copied from the buffer and the 4 image GFNs are backed twice (the pages written at userspace_addr and the private guest_memfd pages); in-place with source_addr 0, one page per GFN, each written while shared and then added in place.")

# %% [markdown]
# In the out-of-place map the TD pages were copied from the separate buffer (dashed outlines in the physical
# view below); in-place, each TD page was its own source.

# %%
plot.show(plot.ownership_map(*plot.machine_view(out_of_place.vmm)), alt="Ownership map of the out-of-place build with a separate buffer: the TD-private pages outlined as PAGE.ADD targets, and the buffer pages they were copied from dashed, in the physical view.")

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
# `run_cell` made these calls (`one_page.code`); `one_page["add"]` is the add's result.

# %%
print(one_page.code)

# %% [markdown]
# The S-EPT walk for GPA 0 after that call: which levels the first touch had to create.

# %%
plot.show(plot.sept_tree(one_page.events, 0), alt="The Secure-EPT walk for GPA 0 after a one-page in-place add: the non-leaf levels the first touch created with TDH.MEM.SEPT.ADD and the MAPPED leaf.")

# %% [markdown]
# And the measurement: `PAGE.ADD` extends MRTD with the GPA only; `MEASURE` adds 16 `TDH.MR.EXTEND` records with
# the page's bytes. The replay from the event record must end at the MRTD the TDX module reported.

# %%
mrtd = one_page.vmm.mrtd().hex()
def chunk(gpa):  # the 256 bytes a TDH.MR.EXTEND at `gpa` measured
    return one_page.vmm.private_bytes(gpa, 256)
plot.show(plot.mrtd_records(one_page.events, chunk, mrtd), alt="MRTD records of the one-page add: the TDH.MEM.PAGE.ADD record with the GPA, sixteen TDH.MR.EXTEND records with the page's bytes, the running SHA-384, and the check against the MRTD the TDX module reported.")

# %%
steps = plot.mrtd_steps(one_page.events, chunk)
assert steps[-1].digest == mrtd
print(len(steps), "measurement steps; MRTD", mrtd[:16], "…")

# %% [markdown]
# ## Adding the same GPA twice
#
# Sean wondered in passing (row 12a) whether a second add of the same GPA is a bug, then asked to ignore that tangent
# in the seed mail. Yan Zhao's reply settles it (row 16, akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com): a double add means calling
# `KVM_TDX_INIT_MEM_REGION` on the same GPA twice, and `kvm_tdp_mmu_map_private_pfn()` then returns `-EIO` — the TDP
# MMU answers `RET_PF_SPURIOUS` for a leaf that is already present, and anything but `RET_PF_FIXED` is `-EIO`
# (`arch/x86/kvm/mmu/mmu.c`). The mirror SPTE is already present, so the second call makes no SEAMCALL at all, and
# the measurement does not change.

# %%
vmm = tdxsim.Vmm(kernel="v8", gmem_in_place_conversion=True)
recipes.create_td(vmm)
binding, _ = recipes.bind_guest_memfd(vmm, 2 << 20)
vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=binding.guest_memfd, offset=0, size=4096,
                               attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE)
first = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1, flags=KVM_TDX_MEASURE_MEMORY_REGION)
mrtd_once = vmm.mrtd()
second = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1, flags=KVM_TDX_MEASURE_MEMORY_REGION)
print("first:", first, " second:", second, " SEAMCALLs of the second:", second.seamcalls)
assert (first.ret, second.ret) == (0, -errno.EIO)  # Yan, row 16; mmu.c
assert vmm.mrtd() == mrtd_once  # no PAGE.ADD, no MR.EXTEND: measurement unchanged

# %% [markdown]
# Before Michael Roth's populate rework (commit 2a62345b3052) the second call stopped earlier, in
# `kvm_gmem_populate()`, because the folio was already prepared:

# %%
old = run_cell(Toggles(kernel="pre-2a62345b3052", in_place=False, source="buffer", add_twice=True))
print("pre-2a62345b3052, second add:", old["add_again"].errno)

# %% [markdown]
# ## Misconceptions
#
# **"source_addr is just a pointer; 0 is a valid pointer if mapped."** — The ABI says 0 means NULL (row 12a), "no source
# page" (the seed mail, row 15). The cell below maps VA 0 with `'Y'` on the v8 kernel with in-place conversion on: the `'Y'`
# is ignored, the TD gets the guest_memfd page.
#
# **"In-place conversion and TDX in-place add are the same thing."** — Different layers. In-place *conversion* is
# a guest_memfd property (shared and private are one physical page); in-place *add* is a TDX-module ability
# (PAGE.ADD with source == target). Without in-place conversion the target can only hold zeros, so KVM refuses.
#
# **"Rejecting NULL is like rejecting an unaligned source."** — Sean: an unaligned source is *impossible* (hardware
# converts whole pages), NULL is *possible*; the kernel should not guess what userspace meant.
#
# **"Bytes written while shared always survive the conversion to private."** — Only for this build-time in-place add
# (`PAGE.ADD` with source = target, before finalize). At run time the page arrives by `PAGE.AUG` and the guest's
# `ACCEPT` zeroes it (chapter [06](06-conversions-at-runtime.ipynb)).
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
once = run_cell(Toggles(in_place=True, source="zero"))
no_measure = run_cell(Toggles(in_place=True, source="zero", measure=False))
print("without MEASURE the MRTD changes too:", no_measure.vmm.mrtd().hex()[:16], "vs", once.vmm.mrtd().hex()[:16])

# %% [markdown]
# ## Exercises
#
# Answer in the box and press **Check**: you are told whether you are right, and why, with the source. The
# simulator's answers are checked against the same key in `tests/test_exercises.py`. (Question 1 was asked
# before the VA-0 experiment, which answers it.)

# %%
exercise("07.never-written", 2)

# %%
exercise("07.kvm-x86-buffer-unmeasured", 3)


# %%
exercise("07.nobody-noticed", 4)

# %%
exercise("07.measured-two-pages", 5)

# %% [markdown]
# ## What landed
#
# The series went on to v10, v12 and v13; v13 was applied in September 2026. Its `tdx.c` keeps the meaning the
# thread settled on, 0 is *no source page*, but moves the refusal: without in-place conversion a zero `source_addr`
# is now rejected with `-EINVAL` in the up-front validation, before any guest_memfd page is looked up, and the
# post-populate callback no longer has an error path of its own:
#
# ```c
# if (!PAGE_ALIGNED(region.source_addr) ||
#     (!gmem_in_place_conversion && !region.source_addr) ||      // tdx_vcpu_init_mem_region()
#     !PAGE_ALIGNED(region.gpa) || !region.nr_pages)
#         return -EINVAL;
# ...
# kvm_tdx->page_add_src = src_page ?: pfn_to_page(pfn);           // tdx_gmem_post_populate()
# ```
#
# Compare the `v8` and `v13` columns of the table above: they differ only in the `off · 0` rows.

# %%
results = {}
for conversion in (False, True):
    vmm = tdxsim.Vmm(kernel="v13", gmem_in_place_conversion=conversion)
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, 2 << 20)
    if vmm.in_place:
        vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=binding.guest_memfd, offset=0, size=4096,
                                       attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE)
    results[conversion] = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1)
    print(f"v13, gmem_in_place_conversion={conversion}, source_addr 0 →", results[conversion])
landed, in_place = results[False], results[True]
assert landed.ret == -errno.EINVAL  # (!gmem_in_place_conversion && !region.source_addr) -> -EINVAL
assert landed.seamcalls == []  # refused before the loop: nothing reaches the TDX module
assert in_place.ret == 0  # src_page ?: pfn_to_page(pfn): the target is its own source

# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | the ioctl (a vCPU ioctl since commit c846b45), its validation and the per-page loop | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init_mem_region` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | NULL source → `-EOPNOTSUPP` (since 2a62345b3052, before v8) | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` | the removed lines of [v8 23/46](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com/) |
# | NULL source → in-place add or `-EOPNOTSUPP` | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` | [v8 23/46](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com/) |
# | as landed (v13): `-EINVAL` up front without in-place conversion; `src_page ?: pfn_to_page(pfn)` | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init_mem_region`, `tdx_gmem_post_populate` | [sean-jc/linux 07f26358](https://github.com/sean-jc/linux/blob/07f26358894029ac26441664ce21bd73748903d0/arch/x86/kvm/vmx/tdx.c), [v13 cover letter](https://lore.kernel.org/all/20260910-gmem-inplace-conversion-v13-0-dd6fbf94f4e1@google.com/) |
# | GUP of a non-NULL source (skipped for 0), the private check | `virt/kvm/guest_memfd.c` | `kvm_gmem_populate` | [2a62345b3052](https://lore.kernel.org/all/20260108214622.1084057-7-michael.roth@amd.com/) |
# | zeroing a folio before first use | `virt/kvm/guest_memfd.c` | `__kvm_gmem_get_pfn` | [v8 series](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com/) |
# | double add → `RET_PF_SPURIOUS` → `-EIO` | `arch/x86/kvm/mmu/mmu.c` | `kvm_tdp_mmu_map_private_pfn` | [akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com](https://lore.kernel.org/all/akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com/) |
# | the decision and the doc wording (the seed mail) | — | — | [akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/) |

# %% [markdown]
# ## Workshop: your own problem
#
# Each table takes its own seed: change `SEED` to your table's number and run the cell. The seed draws a kernel, a
# conversion model, a source, a GPA and an order of steps around one `KVM_TDX_INIT_MEM_REGION`; answer the three
# questions in the boxes and press **Check**. The simulator replays the scenario only when you ask, so nothing above
# gives the answer away. The same seed gives the same problem on every machine; in a terminal,
# `python -m tdxsim problem --seed 7` prints it and `--answer` adds the answers.

# %%
from tdxsim.widgets.exercise import problem

SEED = 7  # your table's seed: any whole number from 0 to 4294967295
problem(SEED)

# %% [markdown]
# ## Review
#
# Three questions on the whole chapter; each tells you whether you are right and why.

# %%
review("07")

# %% [markdown]
# ← [06 — conversions at runtime](06-conversions-at-runtime.ipynb) · Next: [08 — under the hood of
# populate](08-under-the-hood-of-populate.ipynb), the locks behind `kvm_gmem_populate()`.
