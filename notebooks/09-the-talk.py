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
# *Every number on these slides is computed by the `tdxsim` simulator. State of the thread: 1 July 2026 (v8).
# Offline deck: `tools/export-talk`. Previous chapter: [08 — under the hood](08-under-the-hood-of-populate.ipynb);
# start of the suite: [00 — start here](00-start-here.ipynb).*

# %% slideshow={"slide_type": "skip"}
import errno

from IPython.display import Image

from tdxsim import plot
from tdxsim.kvm import locking
from tdxsim.plot.locks import lock_order_figure
from tdxsim.widgets import control_panel, reveal, seed_matrix, step_player
from tdxsim.widgets.seed import Toggles, run_cell, run_matrix, td_gets

DPI = 64  # figures are 14-16 inches wide: about 1000 pixels, legible from the back row

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The hook: should KVM use this byte?
#
# Yan Zhao's test program (the thread, 25 June 2026):
#
# ```c
# char *p = mmap((void *)0, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
# *p = 'Y';
# struct kvm_tdx_init_mem_region r = { .source_addr = 0, .gpa = 0, .nr_pages = 1 };
# ioctl(vcpu_fd, KVM_MEMORY_ENCRYPT_OP, &cmd);   /* KVM_TDX_INIT_MEM_REGION */
# ```
#
# > "What if 0 uaddr is a valid address? :)" — Yan Zhao

# %% [markdown] slideshow={"slide_type": "fragment"}
# Sean Christopherson's answer, the seed of this talk
# ([akMPZePBdwQlD74H@google.com](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/)):
# **"KVM's ABI (that we're solidifying) is that an address of '0' for the source means NULL"** — the mapping at 0
# "is irrelevant".

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Three actors, one page
#
# The host allocates the TD's memory but cannot use it; the TDX module owns the private page tables; the TD sees
# its pages only. Below: a TD with a 4-page image, every host page by owner (colour **and** hatch).

# %% slideshow={"slide_type": "-"}
in_place = run_cell(Toggles(in_place=True, source="zero"))
Image(plot.to_png(plot.ownership_map(in_place.out, in_place.doc), dpi=DPI), metadata={"alt": "Ownership map of a TD with a 4-page image added in place: by guest physical address the TD-private pages, by host physical address those pages among the TDX module's metadata; owners by colour and hatch."})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Old world, new world
#
# **Out-of-place** (per-VM attributes, being deprecated): shared pages in ordinary memory, private pages in
# guest_memfd — two copies. **In-place conversion** (the v8 series): one page, only the attribute flips, and a
# host touch of a private page is a SIGBUS.

# %% slideshow={"slide_type": "-"}
out_of_place = run_cell(Toggles(in_place=False, source="buffer"))
runs = [("out-of-place: a separate buffer", out_of_place.out, out_of_place.doc), ("in-place: 0", in_place.out, in_place.doc)]
Image(plot.to_png(plot.ownership_compare(runs), dpi=DPI), metadata={"alt": "Two ownership maps: out-of-place with a separate buffer, two copies of the image; in-place with source_addr 0, one page per GFN whose attribute flips."})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Building a TD, one SEAMCALL at a time — live
#
# **Try it:** press *next* (or *play*): `KVM_TDX_INIT_MEM_REGION` walks down to `tdx_gmem_post_populate`, three
# `TDH.MEM.SEPT.ADD` build the empty S-EPT levels, then `TDH.MEM.PAGE.ADD` adds the page with the target as its
# own source.

# %% slideshow={"slide_type": "-"}
one_page = run_cell(Toggles(in_place=True, source="zero", image_pages=1))
step_player(one_page)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ## What the measurement covers
#
# `TDH.MEM.PAGE.ADD` extends MRTD with the **GPA only**; the bytes count only through `TDH.MR.EXTEND` (the
# `MEASURE` flag). So the source of a page is invisible to attestation — only where it went and what it held.

# %% slideshow={"slide_type": "-"}
Image(plot.to_png(plot.mrtd_records(one_page.events, one_page.chunk, one_page.out["final"]["mrtd"]), dpi=DPI), metadata={"alt": "MRTD records of a one-page add: PAGE.ADD extends with the GPA only, sixteen MR.EXTEND records carry the bytes, with the running SHA-384."})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The plumbing: why GUP moved (commit 2a62345b3052)
#
# Populate used to GUP the source *inside* guest_memfd's invalidate lock; an in-place fault takes them the other
# way round. Michael Roth's commit takes the GUP out first
# ([20260108214622.1084057-7-michael.roth@amd.com](https://lore.kernel.org/all/20260108214622.1084057-7-michael.roth@amd.com/)).
# Side effect: a NULL source skips the GUP — and 0 stopped being an address.

# %% slideshow={"slide_type": "-"}
Image(plot.to_png(lock_order_figure(list(locking.ERAS.items())), dpi=DPI), metadata={"alt": "Lock-order graphs before and after commit 2a62345b3052: before, a cycle between guest_memfd's invalidate lock and mmap_lock; after, GUP moved out and the cycle is gone."})

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The whole thread as one table — live
#
# **Try it:** pick "off · 0, VA 0 mapped ('Y')" and step through the kernels: the old kernel copies the `'Y'`,
# v8 refuses. Same ioctl, same arguments.

# %% slideshow={"slide_type": "-"}
cells = run_matrix()
seed_matrix(cells)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Flip the switches yourself — live
#
# **Try it:** in-place conversion off, `source_addr` 0 → `-EOPNOTSUPP`; turn it on → the page is added from
# itself. Then pick a separate buffer: an ordinary copy, either way.

# %% slideshow={"slide_type": "-"}
control_panel()

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
#    ([akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/)).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Side quest: add the same GPA twice
#
# "Ahhh, no, because KVM will return RET_PF_SPURIOUS and kvm_tdp_mmu_map_private_pfn() will then return -EIO."
# The mirror entry already exists, so the second call makes no SEAMCALL and MRTD does not move.

# %% slideshow={"slide_type": "-"}
twice = run_cell(Toggles(in_place=True, source="zero", add_twice=True))
second = twice.step("add again")
print("first add:", twice.add["errno"] or "OK", "· second add:", second["errno"], "· SEAMCALLs:", len(second["seamcalls"]))
assert second["ret"] == -errno.EIO

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Audience poll
#
# In-place conversion **on**, `source_addr = 0`, and userspace **never wrote** the image. What does the TD see?

# %% slideshow={"slide_type": "-"}
poll = run_cell(Toggles(in_place=True, source="zero", written_while_shared=False))
answer = "zeros" if poll.td_bytes(0, 4096) == bytes(4096) else td_gets(poll)
assert answer == "zeros"  # "Zero page while getting pfn" (v8 21/46): no host data leaks in
reveal("<b>Zeros.</b> v8 21/46 zeroes a folio that is not up to date when KVM gets its pfn; Yan saw a TD hang this way.")

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
# - Read: [the seed mail](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/) ·
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
# | NULL source → in-place add or `-EOPNOTSUPP` | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` |
# | GUP before the invalidate lock | `virt/kvm/guest_memfd.c` | `kvm_gmem_populate` |
# | double add → `-EIO` | `arch/x86/kvm/mmu/mmu.c` | `kvm_tdp_mmu_map_private_pfn` |
#
# Lore: [akMPZePBdwQlD74H@google.com](https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/) (seed) ·
# [akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/) (the doc wording).
# Glossary: [KVM_TDX_INIT_MEM_REGION](../docs/glossary.md#kvm-tdx-init-mem-region),
# [in-place add](../docs/glossary.md#in-place-add), [MRTD](../docs/glossary.md#mrtd),
# [GUP](../docs/glossary.md#gup). Previous: [08](08-under-the-hood-of-populate.ipynb) · the suite:
# [00 — start here](00-start-here.ipynb).
