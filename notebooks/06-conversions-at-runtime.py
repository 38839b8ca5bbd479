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
# # 06 — Conversions at runtime: MapGPA, the zap, SIGBUS
#
# **Who it is for:** VMM and kernel developers who want to follow a guest's request to share or unshare memory
# through KVM, the VMM and the TDX module, in both memory models. Chapters [02](02-memslots-and-guest-memfd.ipynb)
# (the two models) and [03](03-three-page-tables.ipynb) (the page tables) help.
#
# **What you will learn:**
# 1. the path of a conversion: `TDG.VP.VMCALL<MapGPA>` → `KVM_EXIT_HYPERCALL` (`KVM_HC_MAP_GPA_RANGE`) in chunks of
#    at most 2 MiB → the VMM converts → the next fault maps the page the other way;
# 2. what private → shared costs in the S-EPT (BLOCK, TRACK, REMOVE, WBINVD), and shared → private (PAGE.AUG and
#    the guest's ACCEPT);
# 3. why contents do not survive a conversion at run time, the one build-time exception (the in-place `PAGE.ADD`),
#    and what happened to the "content modes" of earlier revisions;
# 4. why the host gets SIGBUS on a private page in the in-place model, and when out-of-place leaves two pages per GFN.
#
# **Time:** about 30 minutes.
#
# ← [10 — why doesn't my MRTD match?](10-why-doesnt-my-mrtd-match.ipynb) · [07 — source_addr = 0](07-source-addr-zero.ipynb) →
# · terms: [MapGPA](../docs/glossary.md#mapgpa), [KVM_HC_MAP_GPA_RANGE](../docs/glossary.md#kvm-hc-map-gpa-range),
# [in-place conversion](../docs/glossary.md#in-place-conversion),
# [out-of-place conversion](../docs/glossary.md#out-of-place-conversion),
# [TDH.MEM.RANGE.BLOCK / TRACK / PAGE.REMOVE](../docs/glossary.md#range-block-track-remove),
# [TDG.MEM.PAGE.ACCEPT](../docs/glossary.md#tdg-mem-page-accept)

# %%
import tdxsim
from tdxsim import plot, recipes
from tdxsim.widgets.lessons import conversion_panel

# %% [markdown]
# ## Private → shared, in place
#
# A finalized TD (v8, in-place conversion on). The guest accepts GPA 0x1000, writes a secret there, then asks for
# the page to be shared: it sets the shared bit in the GPA it passes to MapGPA. KVM checks the range and exits to
# userspace; the VMM converts the chunk with `KVM_SET_MEMORY_ATTRIBUTES2` on the guest_memfd and answers 0.
#
# First the TD, with the recipes of `tdxsim.recipes` (chapter [04](04-building-a-td.ipynb) makes the same calls
# one by one): two pages of guest_memfd, an image at GPA 0, GPA 0x1000 made private before finalize.

# %%
def finalized_td(vmm, accept=True):
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, size=0x2000)
    recipes.load_image(vmm, binding, gpa=0, data=b"image".ljust(4096, b"\0"))
    recipes.convert_range(vmm, 0x1000, 0x1000, private=True)
    recipes.run_guest(vmm, accept=(0x1000,) if accept else ())
    return binding


vmm = tdxsim.Vmm("v8")  # in-place conversion
binding = finalized_td(vmm)
vmm.guest_write(gpa=0x1000, data=b"the guest's secret")
print("GPA 0x1000:", vmm.sept_state(0x1000), "| attributes:", vmm.gmem_attributes(binding.guest_memfd, 0x1000))

# %% [markdown]
# The guest's MapGPA, one call: `shared=True` is the shared bit in the GPA it passes. The result holds the exits
# to the VMM and what the VMM did for each (QEMU's `kvm_convert_memory`), then the SEAMCALLs and the TDVMCALL's
# status.

# %%
map_gpa = vmm.guest_map_gpa(gpa=0x1000, size=0x1000, shared=True)
print("exits:", [(hex(e["gpa"]), e["npages"], e["attributes"].removeprefix("KVM_MAP_GPA_RANGE_")) for e in map_gpa["exits"]])
print("the VMM:", [f"{v['op']} → {v['ret']}" for e in map_gpa["exits"] for v in e["vmm"]])
print("TDVMCALL:", map_gpa.tdcalls[-1]["status"])
map_gpa

# %%
print("GPA 0x1000:", vmm.sept_state(0x1000), "| attributes:", vmm.gmem_attributes(binding.guest_memfd, 0x1000))
print("host reads:", vmm.read(binding.userspace_addr + 0x1000, 18)["data"])
print("guest reads (shared):", vmm.guest_read(gpa=0x1000, length=18, shared=True)["data"])

# %% [markdown]
# **Reading the exit.** Each tuple is one `KVM_EXIT_HYPERCALL` with `nr = KVM_HC_MAP_GPA_RANGE`: the first GPA,
# the number of 4 KiB pages, and the attribute bits of `args[2]` without their `KVM_MAP_GPA_RANGE_` prefix.
# `DECRYPTED` (bit 4 clear) asks the VMM to make the range shared, `ENCRYPTED` (bit 4 set) private
# (Documentation/virt/kvm/x86/hypercalls.rst, `KVM_HC_MAP_GPA_RANGE`; Documentation/virt/kvm/api.rst,
# `KVM_EXIT_HYPERCALL`). A TDX guest never sets the flag itself: it sets the shared bit in the GPA it passes to
# MapGPA, and `__tdx_map_gpa()` (arch/x86/kvm/vmx/tdx.c) translates that into `DECRYPTED` (or, without the bit,
# `ENCRYPTED`) and strips the bit from the GPA.
#
# The attribute change zaps the private mapping: through the mirror EPT's hook, KVM blocks the S-EPT entry, bumps
# the TLB epoch (`TDH.MEM.TRACK`, and a kick of every vCPU), removes the page (the leaf is `FREE` again) and
# writes back its cache lines under the old key (`TDH.PHYMEM.PAGE.WBINVD`). The page leaves the TD and its
# plaintext does not come along: both the host and the guest (through the shared alias) read zeros. The MapGPA step
# as a sequence diagram, from the guest's `TDG.VP.VMCALL<MapGPA>` through KVM's exit to the VMM and the VMM's
# `KVM_SET_MEMORY_ATTRIBUTES2` back to the guest's `TDVMCALL_STATUS_SUCCESS` (dashed arrows are returns):

# %%
plot.show(
    plot.call_timeline(map_gpa.events, [(0, {"op": "guest_map_gpa", "label": "MapGPA", **map_gpa})]),
    alt="Sequence diagram of the guest's MapGPA to shared: the TDCALL from the guest lane, KVM's exit to the VMM, the "
    "VMM's KVM_SET_MEMORY_ATTRIBUTES2, then TDH.MEM.RANGE.BLOCK, TDH.MEM.TRACK, TDH.MEM.PAGE.REMOVE and "
    "TDH.PHYMEM.PAGE.WBINVD in the TDX module lane, and the page leaving the TD.",
)

# %% [markdown]
# The entry's life: `PAGE.AUG` (`FREE → PENDING`), the guest's `ACCEPT` (`→ MAPPED`), `RANGE.BLOCK`
# (`→ BLOCKED`), `PAGE.REMOVE` (`→ FREE`). The diagram also draws `PAGE.REMOVE` straight from `MAPPED` and
# `PENDING`: the TDX module allows that only while the TD is not yet running. Before `TDH.MR.FINALIZE` no vCPU can
# hold a stale translation, so `TDH.MEM.PAGE.REMOVE` frees a mapped page without BLOCK or TRACK; once the TD is
# RUNNABLE it refuses an entry that is not blocked (`TDX_GPA_RANGE_NOT_BLOCKED`) or whose TLB epoch has not moved
# on (`TDX_TLB_TRACKING_NOT_DONE`) — intel/tdx-module TDX_1.5.01 `tdh_mem_page_remove.c`, the
# `op_state_is_tlb_tracking_required()` test. This TD is finalized, so KVM goes BLOCK → TRACK → REMOVE:

# %%
plot.show(
    plot.sept_state_machine(vmm.trace.events, 0x1000, 0),
    alt="State machine of GPA 0x1000's Secure-EPT entry: PAGE.AUG from FREE to PENDING, the guest's ACCEPT to MAPPED, RANGE.BLOCK to BLOCKED and PAGE.REMOVE back to FREE, highlighted.",
)

# %% [markdown]
# ## Contents are not preserved — and the history of "content modes"
#
# In v8, KVM itself does not touch memory on an attribute change (v8 17/46, the api.rst text), but at run time a
# private page leaving the TD is removed and scrubbed by the TDX module, and a page entering it arrives by
# `PAGE.AUG` and is cleared by the guest's `ACCEPT`. So **at run time** a conversion in either direction must be
# treated as losing the contents.
#
# **The one exception is build time, in place.** Before `KVM_TDX_FINALIZE_VM`, with in-place conversion on, the
# folio the VMM wrote while it was shared is still the same folio after the conversion to private, and
# `KVM_TDX_INIT_MEM_REGION` with `source_addr = 0` hands it to `TDH.MEM.PAGE.ADD` as its own source:
# `arch/x86/kvm/vmx/tdx.c:tdx_gmem_post_populate` sets `src_page = pfn_to_page(pfn)` when there is no source page
# and `gmem_in_place_conversion` is on (v8 23/46 on kvm-x86/next `b7fbe9a1bf9e`,
# [20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com/)).
# So those bytes, and only those, survive a shared → private conversion and become the TD's (and are what MEASURE
# hashes). The source must be the target, the conversion in place, and the TD not yet finalized: after
# `TDH.MR.FINALIZE` PAGE.ADD is closed (`tdx_td_finalize`, commit 012426d), KVM maps the page with
# `arch/x86/kvm/vmx/tdx.c:tdx_mem_page_aug` (no copy) and the guest's `TDG.MEM.PAGE.ACCEPT` initialises it to zero
# (intel/tdx-module TDX_1.5.01 `tdg_mem_page_accept.c`): the cells below show that run-time case. Chapters
# [02](02-memslots-and-guest-memfd.ipynb) and [07](07-source-addr-zero.ipynb) show the build-time one.
#
# Earlier revisions of the series
# (RFC v2 to v5) offered opt-in content modes on `KVM_SET_MEMORY_ATTRIBUTES2`: ZERO (private → shared only) and
# PRESERVE ("if the host writes 0xbeef to shared memory and converts the memory to private, the guest will also read
# 0xbeef", Sean, [abLfWHf89TxWqeGZ@google.com](https://lore.kernel.org/all/abLfWHf89TxWqeGZ@google.com/)), later only
# before finalize for TDX and SNP. **v8 dropped them**: `flags` must be 0, anything else is `-EINVAL`, and tdxsim
# does not model the modes.
#
# Shared → private, in place: the host writes into the shared page, the guest converts it back, accepts it and
# reads it; then the host touches its mapping again. The S-EPT state of GPA 0x1000 is read after each step.

# %%
back = tdxsim.Vmm("v8")
binding = finalized_td(back, accept=False)
back.guest_map_gpa(gpa=0x1000, size=0x1000, shared=True)
back.write(binding.userspace_addr + 0x1000, b"hello from the host")
print("shared:   ", back.sept_state(0x1000), back.gmem_attributes(binding.guest_memfd, 0x1000))

# %%
print(back.guest_map_gpa(gpa=0x1000, size=0x1000, shared=False))
print("converted:", back.sept_state(0x1000), back.gmem_attributes(binding.guest_memfd, 0x1000))
accept = back.guest_accept(gpa=0x1000)
print("accepted: ", back.sept_state(0x1000), [(c["old"], c["new"]) for c in accept.changes if c["what"] == "sept"])
print("accept:", [c["leaf"] for c in accept.seamcalls])

# %%
print("guest reads:", back.guest_read(gpa=0x1000, length=19)["data"])
print("host reads: ", back.read(binding.userspace_addr + 0x1000, 19))

# %% [markdown]
# The guest reads zeros, not the host's text, and the host's access is **SIGBUS**: the v8 invariant "a
# guest-private page is never mappable to host userspace" — the page is still in the VMM's mapping of the
# guest_memfd, but the fault handler refuses it.
#
# ## Out of place: two pages per GFN
#
# In the out-of-place model (per-VM `KVM_SET_MEMORY_ATTRIBUTES`, shared pages from the memslot's `userspace_addr`),
# the VMM must also throw away the side no longer used: QEMU's `kvm_convert_memory` punches a hole in the
# guest_memfd (to shared) or `madvise(MADV_DONTNEED)`s the anonymous memory (to private). Until it does, a GFN is
# backed twice. First that moment: the guest shares GPA 0x1000 through a VMM that sets the attribute but has not
# discarded yet (as in chapter [02](02-memslots-and-guest-memfd.ipynb)): the GFN has the guest_memfd page it left
# *and* the anonymous page the guest now writes through the shared alias.

# %%
before = tdxsim.Vmm("v8", gmem_in_place_conversion=False)
finalized_td(before)
before.guest_map_gpa(gpa=0x1000, size=0x1000, shared=True, vmm="ignore")  # the VMM does not convert for it...
before.KVM_SET_MEMORY_ATTRIBUTES(address=0x1000, size=0x1000, attributes=0)  # ...but sets the attribute by hand
before.guest_write(gpa=0x1000, data=b"bounce buffer", shared=True)
plot.show(
    plot.ownership_compare([("out-of-place, before the discard", *plot.machine_view(before))]),
    alt="Two ownership maps before the discard, out-of-place: each converted GFN is backed twice, by a guest_memfd " "page and by an anonymous host page.",
)

# %% [markdown]
# After the discard the GFN is back to one page. Compare the two models after the same private → shared conversion
# of one page, the VMM having done all of QEMU's work:

# %%
oop = tdxsim.Vmm("v8", gmem_in_place_conversion=False)
finalized_td(oop)
r = oop.guest_map_gpa(gpa=0x1000, size=0x1000, shared=True)
print("out-of-place, the VMM:", [f"{v['op']} → {v['ret']}" for e in r["exits"] for v in e["vmm"]])

# %%
runs = [("in-place", *plot.machine_view(vmm)), ("out-of-place", *plot.machine_view(oop))]
plot.show(
    plot.ownership_compare(runs),
    alt="Two ownership maps after the same private-to-shared conversion of one page, the VMM having discarded as QEMU does: in-place, the one page now shared; out-of-place, the private guest_memfd page punched out, so no GFN has two pages.",
)

# %% [markdown]
# ## Try it: convert a range
#
# **Try it:** start with one page, private → shared, in place. Then set *pages* to 513: the 2 MiB limit splits the
# request into two exits. Switch the direction and the model and compare the VMM's ioctls and the SEAMCALLs. Finally
# let the VMM *ignore* the exit: the guest is told the conversion succeeded, but the attribute never changed, and
# its next access to the shared alias exits with `-EFAULT` (`KVM_EXIT_MEMORY_FAULT`).

# %%
conversion_panel()

# %% [markdown]
# Not modelled: interrupts pending between MapGPA chunks (which end the call with `TDVMCALL_STATUS_RETRY`),
# huge pages, several vCPUs, and the SW_PROTECTED VM type.

# %% [markdown]
# ## Misconceptions
#
# **"Conversions keep memory contents."** — Not guaranteed, and at run time under TDX they do not: above, both
# directions read zeros. v8 has no content modes. The only bytes that cross from shared to private are those of a
# build-time in-place add (`PAGE.ADD` with source = target, before finalize); a run-time `AUG` + `ACCEPT` gives a
# zeroed page.
#
# **"The host can read TD private memory; it's just ciphertext."** — In the in-place model it cannot even map it:
# the access is SIGBUS. Protection is mappability, not only encryption.
#
# **"Mirror EPT = S-EPT."** — The zap goes through both: KVM clears its mirror SPTE and its hook issues the
# SEAMCALLs that change the S-EPT (chapter [03](03-three-page-tables.ipynb)).

# %% [markdown]
# ## Exercises
#
# Answer in the box and press **Check**: you are told whether you are right, and why. The panel above lets you
# check yourself.

# %%
from tdxsim.widgets.exercise import exercise, review

exercise("06.map-gpa-exits", 1)

# %%
exercise("06.zap-two-pages", 2)

# %%
exercise("06.oop-host-read", 3)

# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | MapGPA, chunked exits, the reply | `arch/x86/kvm/vmx/tdx.c` | `tdx_map_gpa`, `__tdx_map_gpa`, `tdx_complete_vmcall_map_gpa` | [tdx-tdp-mmu.rst](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |
# | the per-gmem attribute ioctl and the zap | `virt/kvm/guest_memfd.c` | `kvm_gmem_set_attributes`, `kvm_gmem_invalidate_start` | [v8 series](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com/) |
# | SIGBUS on a private page | `virt/kvm/guest_memfd.c` | `kvm_gmem_fault_user_mapping` | [v8 series](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com/) |
# | removal from the S-EPT | `arch/x86/kvm/vmx/tdx.c` | `tdx_sept_remove_leaf_spte`, `tdx_track` | [TDX MMU part 2](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |
# | the VMM's side | QEMU `accel/kvm/kvm-all.c` | `kvm_convert_memory` | — |
# | content modes (history, not in v8) | — | — | [abLfWHf89TxWqeGZ@google.com](https://lore.kernel.org/all/abLfWHf89TxWqeGZ@google.com/) |
#
# Next: [07 — what does `source_addr = 0` mean?](07-source-addr-zero.ipynb)

# %% [markdown]
# ## Review
#
# Three questions on the whole chapter; each tells you whether you are right and why.

# %%
review("06")

