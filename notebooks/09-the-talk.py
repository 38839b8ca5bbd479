# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: title
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   title: A zero that means nothing
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # A zero that means nothing
# ## `source_addr = 0`, guest_memfd and the TDX module — one LKML thread, executable
#
# **For:** a conference audience that knows what a VM is, and speakers who want to give this talk (20 minutes,
# about twelve slides; live toggles on three of them).
# **You will take away:** why the *same* `KVM_TDX_INIT_MEM_REGION` call succeeds or fails depending on a memory
# mode; why 0 means "no source page"; and the deadlock that put the source-page GUP where it is.
#
# *Every number on these slides is computed by the `tdxsim` simulator. The thread: 1 July 2026 (v8); the series
# landed as v13 in September 2026 (the last live slide).
# Offline deck: `tools/export-talk`. Previous chapter: [08 — under the hood](08-under-the-hood-of-populate.ipynb);
# start of the suite: [00 — start here](00-start-here.ipynb).*

# %% slideshow={"slide_type": "skip"}
from tdxsim import errno, plot  # errno: Linux's numbers, whatever the host runs
from tdxsim.kvm import locking
from tdxsim.plot.locks import lock_order_figure
from tdxsim.plot.style import for_slide  # the figure fills the 1280 × 720 slide; its smallest text is 18 px there
from tdxsim.seed import Toggles, run_cell, run_matrix
from tdxsim.widgets.talk import kernel_switch, seamcall_stepper, source_switch

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The hook: should KVM use this byte?
#
# Yan Zhao's test program (the thread, 25 June 2026):
#
# ```c
# char *p = mmap((void *)0, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
# *p = 'Y';
# struct kvm_tdx_init_mem_region r = { .source_addr = 0, .gpa = 0, .nr_pages = 1 };
# struct kvm_tdx_cmd cmd = { .id = KVM_TDX_INIT_MEM_REGION, .data = (__u64)(unsigned long)&r };
# ioctl(vcpu_fd, KVM_MEMORY_ENCRYPT_OP, &cmd);
# ```
#
# > "What if 0 uaddr is a valid address? :)" — Yan Zhao

# %% [markdown] slideshow={"slide_type": "fragment"}
# Sean Christopherson's answer
# ([akMPZePBdwQlD74H@google.com](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/), 29 Jun 2026):
# **"KVM's ABI (that we're solidifying) is that an address of '0' for the source means NULL"** — the mapping at 0
# "is irrelevant".

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three actors, one page: host allocates, TDX module owns, TD uses

# %% slideshow={"slide_type": "-"}
in_place = run_cell(Toggles(in_place=True, source="zero"))
for_slide(plot.ownership_map(*plot.machine_view(in_place.vmm)), alt="Ownership map of a TD with a 4-page image added in place: by guest physical address the TD-private pages, by host physical address those pages among the TDX module's metadata; owners by colour and hatch.")

# %% [markdown] slideshow={"slide_type": "notes"}
# The host allocates the TD's memory but cannot use it; the TDX module owns the private page tables (purple); the TD
# sees its pages only (vermillion). A TD with a 4-page image, every host page by owner (colour **and** hatch).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Old world: two pages per GFN. New world: one page, its attribute flips

# %% slideshow={"slide_type": "-"}
out_of_place = run_cell(Toggles(in_place=False, source="buffer"))
runs = [("out-of-place: a separate buffer", *plot.machine_view(out_of_place.vmm)), ("in-place: 0", *plot.machine_view(in_place.vmm))]
for_slide(plot.ownership_compare(runs), alt="Two ownership maps: out-of-place with a separate buffer, two copies of the image; in-place with source_addr 0, one page per GFN whose attribute flips.")

# %% [markdown] slideshow={"slide_type": "notes"}
# **Out-of-place** (per-VM attributes, being deprecated): shared pages in ordinary memory, private pages in
# guest_memfd — two copies. **In-place conversion** (the v8 series): one page, only the attribute flips, and a
# host touch of a private page is a SIGBUS.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## One page into a TD, SEAMCALL by SEAMCALL — live

# %% slideshow={"slide_type": "-"}
one_page = run_cell(Toggles(in_place=True, source="zero", image_pages=1))
seamcall_stepper(one_page)

# %% [markdown] slideshow={"slide_type": "notes"}
# **Try it:** drag the slider: `KVM_TDX_INIT_MEM_REGION` walks down to `tdx_gmem_post_populate`, three
# `TDH.MEM.SEPT.ADD` build the empty S-EPT levels, then `TDH.MEM.PAGE.ADD` adds the page with the target as its
# own source, and sixteen `TDH.MR.EXTEND` measure it 256 bytes at a time.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## What the measurement covers
#
# - `TDH.MEM.PAGE.ADD` extends MRTD with the **GPA only**
# - the bytes count only through `TDH.MR.EXTEND` (the `MEASURE` flag)
# - so the **source** of a page is invisible to attestation: only where it went and what it held

# %% [markdown] slideshow={"slide_type": "notes"}
# The record by record picture is chapter 05's and 07's figure (`plot.mrtd_records`): too dense for a room.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why GUP moved (2a62345b3052): an AB-BA deadlock

# %% slideshow={"slide_type": "-"}
for_slide(lock_order_figure(list(locking.ERAS.items())), alt="Lock-order graphs before and after commit 2a62345b3052: before, a cycle between guest_memfd's invalidate lock and mmap_lock; after, GUP moved out and the cycle is gone.")

# %% [markdown] slideshow={"slide_type": "notes"}
# Populate used to GUP the source *inside* guest_memfd's invalidate lock; an in-place fault takes them the other
# way round. Michael Roth's commit takes the GUP out first
# ([20260108214622.1084057-7-michael.roth@amd.com](https://lore.kernel.org/all/20260108214622.1084057-7-michael.roth@amd.com/)).
# Side effect: a NULL source skips the GUP — and 0 stopped being an address.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Same ioctl, same arguments, five kernels — live

# %% slideshow={"slide_type": "-"}
cells = run_matrix()
yan = next(row for row in cells if row[0].row.label == "off · 0, VA 0 mapped ('Y')")
kernel_switch(yan)

# %% [markdown] slideshow={"slide_type": "notes"}
# **Try it:** in-place conversion off, `source_addr` 0 with a `'Y'` mapped at virtual address 0; press each kernel:
# the old kernel copies the `'Y'`, v8 refuses with `-EOPNOTSUPP`, v13 (as landed) with `-EINVAL` before touching
# guest_memfd. The whole table (every row, every kernel) is chapter 07's.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Flip one switch — live

# %% slideshow={"slide_type": "-"}
source_switch("v8")

# %% [markdown] slideshow={"slide_type": "notes"}
# **Try it:** in-place conversion off, `source_addr` 0 → `-EOPNOTSUPP`; turn it on → the page is added from
# itself. Then a separate buffer: an ordinary copy. Every switch of the seed thread is in chapter 07's control panel.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What landed: v13
#
# Same meaning — 0 is *no source page* — but the refusal moved up front:
# `(!gmem_in_place_conversion && !region.source_addr)` → `-EINVAL` in `tdx_vcpu_init_mem_region()`, and the
# callback takes `src_page ?: pfn_to_page(pfn)`.

# %% slideshow={"slide_type": "-"}
v8_off = run_cell(Toggles(kernel="v8", in_place=False, source="zero"))
v13_off = run_cell(Toggles(kernel="v13", in_place=False, source="zero"))
print("in-place off, source_addr 0:  v8 →", v8_off["add"].errno, "·  v13 →", v13_off["add"].errno)
assert (v8_off["add"].ret, v13_off["add"].ret) == (-errno.EOPNOTSUPP, -errno.EINVAL)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Sean's three rules
#
# 1. **"0 means NULL."** An ABI decision beats an edge case that is technically possible.

# %% [markdown] slideshow={"slide_type": "fragment"}
# 2. **Can't versus can.** An unaligned source is *impossible* (hardware converts whole pages): reject it. A NULL
#    source is *possible*: don't guess what userspace meant.

# %% [markdown] slideshow={"slide_type": "fragment"}
# 3. **No new features for deprecated paths.** In-place add without in-place conversion would be "effectively an
#    obscure zero-page optimization" — and out-of-place conversion is being deprecated
#    ([akMPZePBdwQlD74H@google.com](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/); "Right." in the seed
#    mail, [akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/)).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Side quest: add the same GPA twice
#
# A double add is the same GPA twice, and "kvm_tdp_mmu_map_private_pfn() returns -EIO" — Yan Zhao
# ([akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com](https://lore.kernel.org/all/akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com/)): the TDP MMU answers
# RET_PF_SPURIOUS for a present leaf. The mirror entry already exists, so the second call makes no SEAMCALL and MRTD does not move.

# %% slideshow={"slide_type": "-"}
twice = run_cell(Toggles(in_place=True, source="zero", add_twice=True))
second = twice["add_again"]
print("first add:", twice["add"].errno or "OK", "· second add:", second.errno, "· SEAMCALLs:", len(second.seamcalls))
assert second.ret == -errno.EIO

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Audience poll
#
# In-place conversion **on**, `source_addr = 0`, and userspace **never wrote** the image. What does the TD see?

# %% slideshow={"slide_type": "-"}
from tdxsim.widgets.exercise import exercise, review

exercise("09.poll-never-written")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Three things people get wrong
#
# - **"0 is a valid pointer if it is mapped."** — 0 means "no source page"; the mapping is irrelevant.
# - **"In-place conversion and TDX in-place add are the same."** — Different layers: a guest_memfd property versus
#   a TDX-module ability (PAGE.ADD with source = target).
# - **"MRTD covers the initial memory."** — PAGE.ADD measures the GPA; contents only with `MEASURE`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Takeaways
#
# - The same ioctl with the same arguments succeeds or fails on a memory-subsystem mode — by design.
# - Once guest_memfd is mmap-able, a private page cannot be a source: "no source" is the only way to say "use
#   what is already there".
# - Read: [the seed mail](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/) ·
#   [v8 23/46](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com/) ·
#   [2a62345b3052](https://lore.kernel.org/all/20260108214622.1084057-7-michael.roth@amd.com/) ·
#   `Documentation/virt/kvm/x86/intel-tdx.rst` · the [glossary](../docs/glossary.md#in-place-conversion).
#
# *Thanks to Ackerley Tng, Sean Christopherson, Yan Zhao, Michael Roth, Ira Weiny, Fuad Tabba, Vishal Annapurve,
# Rick Edgecombe and Xiaoyao Li, whose mails this talk replays.*

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## Where is this in the kernel?
#
# | what | file | function |
# |---|---|---|
# | validation, the per-page loop | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init_mem_region` |
# | NULL source → in-place add or `-EOPNOTSUPP` (v8) | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` |
# | as landed: `-EINVAL` up front without in-place conversion (v13; sean-jc/linux 07f26358) | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init_mem_region` |
# | GUP before the invalidate lock | `virt/kvm/guest_memfd.c` | `kvm_gmem_populate` |
# | double add → `-EIO` | `arch/x86/kvm/mmu/mmu.c` | `kvm_tdp_mmu_map_private_pfn` |
#
# Lore: [akMPZePBdwQlD74H@google.com](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/) ("0 means NULL") ·
# [akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/) (the seed mail: the doc
# wording) · [akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com](https://lore.kernel.org/all/akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com/) (the double add).
# Glossary: [KVM_TDX_INIT_MEM_REGION](../docs/glossary.md#kvm-tdx-init-mem-region),
# [in-place add](../docs/glossary.md#in-place-add), [MRTD](../docs/glossary.md#mrtd),
# [GUP](../docs/glossary.md#gup). Previous: [08](08-under-the-hood-of-populate.ipynb) · the suite:
# [00 — start here](00-start-here.ipynb).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Review
#
# Three questions on the whole chapter; each tells you whether you are right and why.

# %% slideshow={"slide_type": "-"}
review("09")

