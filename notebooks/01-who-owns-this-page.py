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
# # 01 — Who owns this page?
#
# [← 00 Start here](00-start-here.ipynb) · [02 Memslots and guest_memfd →](02-memslots-and-guest-memfd.ipynb) ·
# [glossary](../docs/glossary.md)
#
# **Who it is for:** anyone who knows what a VM and a page table are, and has never looked inside Intel TDX:
# developers new to confidential computing, reviewers, students. No kernel reading needed.
#
# **What you will learn:**
# 1. the three actors — the host (the VMM in userspace and KVM in the kernel), the TDX module, the TD — and
#    which instruction each uses to reach the module: [SEAMCALL](../docs/glossary.md#seamcall) from the host,
#    [TDCALL](../docs/glossary.md#tdcall) from the TD;
# 2. the two kinds of address: what the guest names ([GPA / GFN](../docs/glossary.md#gpa-gfn)) and what the
#    machine has ([HPA / PFN](../docs/glossary.md#hpa-pfn)), and the TD's [shared bit](../docs/glossary.md#shared-bit)
#    for GPAW 48 and 52;
# 3. who can read a TD's private page, and why the answer is about *who may map it*, not only about encryption;
#    and why, with two TDs on one machine, neither can read the other's pages.
#
# **Time:** about 20 minutes.
#
# *Everything below is computed by the `tdxsim` simulator: a small TD is built with the kernel's own ioctls (the
# v8 in-place series), and each reader really tries the read.*

# %%
from collections import Counter

import tdxsim
from tdxsim import plot, recipes
from tdxsim.lessons import readers
from tdxsim.platform import PAGE_SIZE
from tdxsim.plot.actors import address_bar, three_boxes, two_tds, two_tds_alt
from tdxsim.widgets.exercise import exercise, review
from tdxsim.widgets.readers import who_can_read

# %% [markdown]
# ## Three actors
#
# Documentation/arch/x86/tdx.rst describes "a special module running in a special mode" between the host and the
# guest. The host kernel (KVM) and its VMM are **untrusted**: they allocate the TD's memory and schedule it, but
# cannot read it. The [TDX module](../docs/glossary.md#tdx-module) runs in [SEAM](../docs/glossary.md#seam) mode and
# owns the [S-EPT](../docs/glossary.md#s-ept), the [PAMT](../docs/glossary.md#pamt) and the measurement. The host
# asks it for everything with SEAMCALLs (`TDH.*` leaves); the TD talks to it with TDCALLs (`TDG.*` leaves), and
# reaches the host only through the module (`TDG.VP.VMCALL`).

# %%
plot.show(three_boxes(), alt="Three boxes: the untrusted host (VMM and KVM), the TDX module in SEAM mode owning the S-EPT, PAMT and measurement, and the TD; the host reaches the module with SEAMCALLs, the TD with TDCALLs, and the TD reaches the host only through the module.")

# %% [markdown]
# ## One small TD, built for real
#
# The VMM below follows the seed thread's recipe (Yan Zhao's seven steps): a 16-page
# [guest_memfd](../docs/glossary.md#guest-memfd) that starts shared, mmapped by the VMM; the VMM writes a 4-page
# firmware image while it is shared, converts it to private, adds it with `source_addr = 0`
# ([in-place add](../docs/glossary.md#in-place-add)), finalizes the TD, and writes one more page that it keeps
# shared with the TD. (The image's bytes survive the conversion to private because the add happens before
# finalize, in place: `TDH.MEM.PAGE.ADD` with the page as its own source. After finalize a page made private
# arrives by `PAGE.AUG` and the guest's `ACCEPT` zeroes it: chapter 06.) These are the calls, as QEMU makes them
# (each recipe is a few plain calls on `vmm`; read `tdxsim/recipes.py`). Edit and re-run: more image pages, `gpaw=52`, another page to share.

# %%
vmm = tdxsim.Vmm("v8")  # a kernel with guest_memfd in-place conversion
calls = recipes.create_td(vmm, gpaw=48)  # KVM_CREATE_VM, KVM_TDX_INIT_VM, KVM_CREATE_VCPU, KVM_TDX_INIT_VCPU
gmem, more = recipes.bind_guest_memfd(vmm, size=16 * PAGE_SIZE)  # guest_memfd (MMAP|INIT_SHARED), mmap, memslot
calls += more
image = b"".join(f"firmware page {i}: the TD's secret".encode().ljust(PAGE_SIZE, b"\0") for i in range(4))
calls += recipes.load_image(vmm, gmem, gpa=0, data=image)  # write while shared, make private, add (source_addr 0)
calls += recipes.run_guest(vmm)  # KVM_TDX_FINALIZE_VM
calls.append(vmm.write(gmem.userspace_addr + 15 * PAGE_SIZE, b"virtio ring: shared with the host"))

# %% [markdown]
# Every call returned a result with the SEAMCALLs it made. Which did the host make, and how often?

# %%
for leaf, n in Counter(call["leaf"] for r in calls for call in r.seamcalls).items():
    print(f"{n:3}  {leaf}")
print("TD state:", vmm.td_state())

# %% [markdown]
# Every one of them is a SEAMCALL: the host built the whole TD through the module. There is no TDCALL yet,
# because the TD has not run; it does below, when it reads its pages.

# %% [markdown]
# ## Who owns each page
#
# The same run, page by page. The left map is by guest physical address (one cell per GFN of the guest_memfd);
# the right one by host physical address (every frame the run allocated). Look for the four red firmware pages
# (TD-private, outlined: PAGE.ADD targets), the one blue page the VMM shares with the TD, and the purple TDX-module
# metadata: the TD's root page (TDR), its control pages and the S-EPT pages. The host allocated every one of them.
# `plot.machine_view(vmm)` reads the pages and memslots out of the machine; draw the map of any TD you built.

# %%
out, doc = plot.machine_view(vmm)
plot.show(plot.ownership_map(out, doc, legend=False), alt="Ownership map of a small TD build: by guest physical address, four outlined TD-private firmware pages and one shared page; by host physical address, those pages plus the TDX module's metadata frames (TDR, control pages, S-EPT pages), all allocated by the host.")

# %%
plot.show(plot.ownership_legend(), alt="Legend of the ownership maps: not allocated (white), host memory (orange, hatched //), guest_memfd shared (sky blue, dotted), guest_memfd private but not in the TD (green, hatched), TD-private in the S-EPT (vermillion, crossed), TDX module metadata (purple, plus signs); a solid outline marks a PAGE.ADD target, a dashed one its source.")

# %% [markdown]
# The records behind the map: each frame's owner, KeyID, and the GPA it backs. The GPA is what the guest uses;
# the HPA is where the page really is. A GFN is the GPA without its 12 offset bits, a PFN the HPA's.

# %%
for hpa, page in out["final"]["pages"].items():
    if "gpa" in page:
        gfn, pfn = readers.gpa_to_gfn(int(page["gpa"], 16)), int(hpa, 16) >> 12
        owner = f"{page['owner']:<19} KeyID {page['keyid']}"
        print(f"GPA {page['gpa']:>7} (GFN {gfn:#4x}) -> HPA {hpa} (PFN {pfn:#x})  {owner}")

# %% [markdown]
# ## The shared bit
#
# A TD's guest physical address space has two aliases of every GFN. The top bit of the GPA, bit GPAW−1, says which
# one the access means: clear → the private alias, translated by the Secure EPT, encrypted with the TD's KeyID;
# set → the shared alias, translated by the ordinary (shared) EPT that KVM manages, readable by the host. KVM calls
# the bit `kvm_gfn_direct_bits` and defines it as `TDX_SHARED_BIT_PWL_4` (bit 47, GPAW 48, 4-level EPT) or
# `TDX_SHARED_BIT_PWL_5` (bit 51, GPAW 52, 5-level EPT).

# %%
for gpaw in (48, 52):
    print(f"GPAW {gpaw}: shared bit {gpaw - 1}, mask {readers.shared_mask(gpaw):#x}")
plot.show(address_bar(readers.shared_mask(48) | 0xF000, 48), alt="A 48-bit guest physical address drawn as a bar of bits: bit 47, the shared bit, is set, which selects the shared alias translated by the ordinary EPT instead of the private alias translated by the Secure EPT.")

# %% [markdown]
# **Predict first**, before the readers below try: the firmware page is private now.

# %%
exercise("01.vmm-writes-private", 1)

# %%
exercise("01.kernel-reads-private", 2)

# %% [markdown]
# ## Who can read the page?
#
# **Try it:** start with the VMM reading the firmware page (it gets SIGBUS), then switch the reader to the host
# kernel (zeros) and to the TD (the plaintext). Then pick the shared page with the TD as reader and tick "the TD
# sets the shared bit": the same GFN through the other alias. Switch to GPAW 52 and watch the shared bit move
# from 47 to 51. Each change rebuilds the TD from scratch and tries the read in the simulator.

# %%
who_can_read()

# %% [markdown]
# All readers against all pages of the TD built above, `vmm` (the TD uses each page's natural alias: private for
# the firmware page, shared for the shared page). Each reader makes a call on the machine — `vmm.read(va, n)` for the
# VMM, `vmm.guest_read(gpa, n)` for the TD — or reads the frame with a key; try one yourself.

# %%
for page, row in zip(readers.PAGES, readers.read_table(vmm, gmem), strict=True):
    print(f"{page:>6}: " + " | ".join(f"{r.actor}: {r.text}" for r in row))
print(vmm.read(gmem.userspace_addr, 8), vmm.guest_read(gpa=0, length=8)["data"])

# %% [markdown]
# The `tdr` row is the TD's root page. The TDX module keeps it under its own **global private KeyID** — not KeyID 0,
# and not the TD's HKID: the kernel reserves the first private KeyID for the module (`tdx_global_keyid`) and
# flushes the TDR with it (`tdh_phymem_page_wbinvd_tdr`, `arch/x86/virt/vmx/tdx/tdx.c`). Private KeyIDs work only
# in SEAM mode (Documentation/arch/x86/tdx.rst), so the host kernel, reading through its direct map with KeyID 0,
# gets no plaintext: zeros in tdxsim. The module row reads zeros for another reason: tdxsim keeps the control
# structures as fields, not as bytes (`docs/fidelity.md`). Neither the VMM nor the TD has an address for the TDR.

# %% [markdown]
# ## Two TDs on one machine
#
# One VMM process can create several TDs: each `KVM_CREATE_VM` is a new VM, and each TD gets its own HKID, the
# lowest one free when `KVM_TDX_INIT_VM` runs. The two TDs share everything else — the physical memory, the one TDX
# module and its [PAMT](../docs/glossary.md#pamt). Below, TD A and TD B are each built like the TD above, with one
# firmware page each, both at GPA 0: the same recipes, twice on one machine (`create_td` selects the VM it
# creates, so the calls after it go to that TD). **Can TD B read TD A's page?** Predict two things first, before
# the cells below build the two TDs and let every reader try both pages.

# %%
exercise("01.cross-td-aug", 3)

# %%
exercise("01.td-b-hkid", 4)

# %%
host = tdxsim.Vmm("v8")  # one VMM process
bindings = []
for secret in (b"TD A's secret", b"TD B's secret"):
    recipes.create_td(host)  # a new VM and its TD; selected
    binding, _ = recipes.bind_guest_memfd(host, size=16 * PAGE_SIZE)
    recipes.load_image(host, binding, gpa=0, data=secret.ljust(PAGE_SIZE, b"\0"))
    recipes.run_guest(host)
    bindings.append(binding)
for td, name in enumerate(("TD A", "TD B")):
    host.select_vm(td)
    hpa = host.sept_walk(0)[-1]["pfn"] << 12  # the frame the TD's S-EPT maps at GPA 0
    print(f"{name}: GPA 0 -> HPA {hpa:#x}, KeyID {host.frame(hpa)['keyid']} (its HKID)")

# %% [markdown]
# Now every reader tries both pages of `host`: each row is a reader, each column a TD's page; look at the two
# yellow cells.

# %%
hkids, cross = readers.two_td_reads(host, bindings)
who = readers.two_td_readers(hkids)
plot.show(two_tds(hkids, cross, who), alt=two_tds_alt(hkids, cross, who))

# %% [markdown]
# Each TD reads its own page through its own Secure EPT and its own HKID. It has no guest physical address for the
# other TD's page: its S-EPT does not map that frame, and the host cannot make it. To map a page into a TD, the
# host asks the TDX module (`TDH.MEM.PAGE.AUG`), which first checks the frame in the PAMT: a page already given to a
# TD is `PT_REG` with that TD's TDR as owner, not `PT_NDA` (free), so the module refuses it with
# `TDX_PAGE_METADATA_INCORRECT` (intel/tdx-module, `tdh_mem_page_aug.c` → `check_and_lock_free_range_hpa`). And
# read through the wrong key — KeyID 0 for the host, the other TD's HKID — a frame gives zeros here, never the
# plaintext.

# %%
for row in cross:
    print(f"{who[row[0].reader]:<28}" + " | ".join(f"{c.outcome:<9} {c.detail}" for c in row))

# %% [markdown]
# ## Misconception: "the host can read TD private memory; it is just ciphertext"
#
# No. guest_memfd was built so that private memory is never mapped into host userspace: with TDX, "accessing guest
# private memory can be fatal to the host" (Sean Christopherson's guest_memfd merge text). With in-place conversion
# every guest_memfd page *can* be mmapped, but a touch of a private one is a **SIGBUS** (v8 cover letter): the VMM
# never even gets a mapping. The host kernel can still name the frame by its physical address, but it reads through
# KeyID 0, not the TD's key, and never sees the plaintext. The protection is *ownership and mappability* first,
# encryption second.
#
# What exactly hardware returns to a reader without the key is not pinned down by the sources this suite uses:
# tdxsim returns zeros, and says so (`docs/fidelity.md`).

# %%
vmm_read, kernel_read = (readers.read_page(vmm, gmem, actor, "image") for actor in ("vmm", "kernel"))
print("VMM:", vmm_read.text, "| host kernel:", kernel_read.text)

# %% [markdown]
# ## Exercises
#
# Predict first; the widgets above and the simulator are there to try things. Answer in the box and press
# **Check**: you are told whether you are right, and why. (Questions 1 to 4 were asked on the way, before the
# cells that answer them.)

# %%
exercise("01.gpaw52-alias", 5)


# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | SEAMCALL wrappers (host → module) | `arch/x86/virt/vmx/tdx/tdx.c` | `tdh_mng_create`, `tdh_mem_page_add`, … | [Documentation/arch/x86/tdx.rst](https://docs.kernel.org/arch/x86/tdx.html) |
# | the TD's HKID, TDR and TDCS, GPAW and the shared bit | `arch/x86/kvm/vmx/tdx.c` | `tdx_td_init`, `setup_tdparams`; `kvm_gfn_direct_bits` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | the lowest free HKID for each TD | `arch/x86/virt/vmx/tdx/tdx.c` | `tdx_guest_keyid_alloc` | [Documentation/arch/x86/tdx.rst](https://docs.kernel.org/arch/x86/tdx.html) |
# | private or shared GPA | `arch/x86/kvm/vmx/tdx.c` | `vt_is_tdx_private_gpa` | [TDX MMU Part 2](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |
# | SIGBUS on a private page | `virt/kvm/guest_memfd.c` | `kvm_gmem_fault_user_mapping` | [v8 cover](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com/) |
# | the guest side (TDCALL) | `arch/x86/coco/tdx/tdx.c` | `__tdcall`, `tdx_accept_memory` | [tdx.rst](https://docs.kernel.org/arch/x86/tdx.html) |
#
# In tdxsim: `tdxsim/physmem.py` (frames, owners, KeyIDs), `tdxsim/tdx/module.py` (one method per SEAMCALL),
# `tdxsim/kvm/guest_memfd.py` (`fault`), `tdxsim/guest.py` (the TD's loads), and this chapter's
# `tdxsim/lessons/readers.py`.

# %% [markdown]
# ## Review
#
# Three questions on the chapter, each explained once you answer it.

# %%
review("01")

# %% [markdown]
# **Next:** [02 — Memslots, guest_memfd, and two ways to convert](02-memslots-and-guest-memfd.ipynb): where the
# TD's pages come from, and why one model needs two of them per GFN. Terms: [glossary](../docs/glossary.md).
