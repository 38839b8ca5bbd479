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
# # 03 — Three page tables: shared EPT, mirror EPT, Secure EPT
#
# **Who it is for:** developers and reviewers who know what a page table is and want to see how KVM maps a TD's
# private memory without ever writing the page table the CPU uses for it. Chapter
# [02](02-memslots-and-guest-memfd.ipynb) (memslots and guest_memfd) helps.
#
# **What you will learn:**
# 1. why a TD has three page tables, and which GPAs each one maps;
# 2. which SEAMCALL changes which S-EPT entry: SEPT.ADD, PAGE.ADD / PAGE.AUG, RANGE.BLOCK, TRACK, PAGE.REMOVE;
# 3. how many `TDH.MEM.SEPT.ADD` a first touch of a GPA needs, with GPAW 48 and with GPAW 52;
# 4. that KVM's mirror and the TDX module's S-EPT always agree, and why the mirror exists at all.
# 5. how to read one GPA's S-EPT state yourself, between `PAGE.AUG` and the guest's accept.
#
# **Time:** about 25 minutes.
#
# ← [02 — memslots and guest_memfd](02-memslots-and-guest-memfd.ipynb) · [04 — building a TD](04-building-a-td.ipynb) →
# · terms: [shared EPT](../docs/glossary.md#shared-ept), [S-EPT](../docs/glossary.md#s-ept),
# [mirror EPT](../docs/glossary.md#mirror-ept), [TDP MMU](../docs/glossary.md#tdp-mmu),
# [TDH.MEM.SEPT.ADD](../docs/glossary.md#tdh-mem-sept-add)

# %%
import tdxsim
from tdxsim import plot, recipes
from tdxsim.platform import PAGE_SIZE
from tdxsim.widgets.exercise import exercise, review
from tdxsim.widgets.lessons import sept_walk

# %% [markdown]
# ## Two halves of one address space
#
# A TD's guest physical address space has two halves, told apart by one bit: the **shared bit**, bit GPAW − 1
# (bit 47 with a 48-bit GPAW, bit 51 with 52). Paolo Bonzini's merge text for KVM TDX: *"Private and shared halves
# of the address space are mapped by different EPT roots, and the private half is managed by the TDX module"*.
#
# | table | maps | who writes it | who walks it |
# |---|---|---|---|
# | **shared EPT** | GPAs with the shared bit set, to ordinary host pages (I/O buffers) | KVM, directly | the CPU |
# | **Secure EPT (S-EPT)** | private GPAs, to pages encrypted with the TD's key | the TDX module only, on a SEAMCALL | the CPU |
# | **mirror EPT** | private GPAs, the same as the S-EPT | KVM's TDP MMU | KVM only — never the CPU |
#
# KVM's TDP MMU is written for page tables it can edit. For the private half it edits the mirror, and a hook
# (`set_external_spte`, TDX's `tdx_sept_set_private_spte`) asks the TDX module for the same change in the S-EPT.
# The S-EPT lives in memory the host cannot read; `TDH.MEM.SEPT.RD` exists but is a SEAMCALL per entry, so the
# mirror is how KVM knows cheaply what is mapped.
#
# ## The first touch of one GPA
#
# We build a TD whose memslot starts at GPA 0 and add one page there with `KVM_TDX_INIT_MEM_REGION`. The TD's
# S-EPT has only its root page (a TDCS page), so the walk for GPA 0 finds nothing below the root: each missing
# level costs one `TDH.MEM.SEPT.ADD`, from the top down, and then the leaf is `TDH.MEM.PAGE.ADD`. These are the
# calls; change `gpa` or `gpaw` and re-run.

# %%
vmm = tdxsim.Vmm("v8")
recipes.create_td(vmm, gpaw=48)  # KVM_CREATE_VM, KVM_TDX_INIT_VM, one vCPU
gmem, _ = recipes.bind_guest_memfd(vmm, size=2 << 20, gpa=0)  # a 2 MiB memslot at GPA 0
steps = recipes.load_image(vmm, gmem, gpa=0, data=b"first touch".ljust(PAGE_SIZE, b"\0"))
add = steps[-1]  # KVM_TDX_INIT_MEM_REGION
print(add)
print("SEPT.ADD levels:", [c["level"] for c in add.seamcalls if c["leaf"] == "TDH.MEM.SEPT.ADD"])

# %% [markdown]
# `vmm.sept_walk(gpa)` reads the walk for that GPA back out of the TDX module, root level first: each entry's
# state and the page it points to (a child S-EPT page, and at level 0 the TD's page).

# %%
for entry in vmm.sept_walk(0):
    print(entry)

# %% [markdown]
# The walk for GPA 0 after that call: each box is the entry at one level, coloured and hatched by its state, with
# the SEAMCALL that put it there. Look at the three `NL_MAPPED` levels (a non-leaf entry that links the next
# table) above the `MAPPED` leaf.

# %%
plot.show(plot.sept_tree(vmm.trace.events, 0, root_level=3), alt="The Secure-EPT walk for GPA 0 after the first add: three NL_MAPPED non-leaf entries, each created by TDH.MEM.SEPT.ADD, above a MAPPED leaf created by TDH.MEM.PAGE.ADD; states shown by colour and hatch.")

# %% [markdown]
# A 5-level S-EPT (GPAW 52) has one more level under its root, so the same first touch needs four:

# %%
vmm52 = tdxsim.Vmm("v8")
recipes.create_td(vmm52, gpaw=52)
gmem52, _ = recipes.bind_guest_memfd(vmm52, size=2 << 20)
add52 = recipes.load_image(vmm52, gmem52, gpa=0, data=bytes(PAGE_SIZE))[-1]
print("GPAW 52, SEPT.ADD levels:", [c["level"] for c in add52.seamcalls if c["leaf"] == "TDH.MEM.SEPT.ADD"])

# %% [markdown]
# The next page along shares all three tables: two pages in one call need the three `SEPT.ADD` only once.

# %%
two = tdxsim.Vmm("v8")
recipes.create_td(two)
gmem2, _ = recipes.bind_guest_memfd(two, size=2 << 20)
two_add = recipes.load_image(two, gmem2, gpa=0, data=bytes(2 * PAGE_SIZE))[-1]  # two pages, one ioctl
print([c["leaf"] for c in two_add.seamcalls if c["leaf"] != "TDH.MR.EXTEND"])

# %% [markdown]
# ## Mirror and S-EPT, side by side
#
# KVM changes its mirror entry only after the SEAMCALL for it succeeded, and nothing else can change the S-EPT.
# So the two agree entry for entry. Here is the walk for GPA 0x1000 in both — `sept_walk` reads the TDX module's
# S-EPT, `mirror_present` KVM's mirror EPT — and the check over every entry of both pages' walks:

# %%
for entry in two.sept_walk(0x1000):
    index = 0x1000 >> 12 + 9 * entry["level"] & 0x1FF  # the 9 bits of the GPA that pick this level's entry
    mirror = "present" if two.mirror_present(0x1000, entry["level"]) else "non-present"
    print(f"level {entry['level']}  entry [{index:3}]  mirror: {mirror:11}  S-EPT: {entry['state']}")
for gpa in (0x0, 0x1000):
    assert all(two.mirror_present(gpa, e["level"]) == (e["state"] != "FREE") for e in two.sept_walk(gpa))

# %% [markdown]
# ## Every state an S-EPT entry can be in
#
# The state machine of one entry, as the TDX module keeps it (intel/tdx-module `sept_state_lookup`; the migration
# states are left out). Solid edges are SEAMCALLs from KVM, the dotted one is the guest's `TDG.MEM.PAGE.ACCEPT`.
# The entry for GPA 0 took the `PAGE.ADD` edge, which only exists before the TD is finalized; at runtime a page
# comes in by `PAGE.AUG` (to `PENDING`) and the guest's accept (to `MAPPED`).

# %%
plot.show(plot.sept_state_machine(vmm.trace.events, 0, 0), alt="State machine of one Secure-EPT entry: FREE, MAPPED, PENDING, BLOCKED and their SEAMCALL edges, with the guest's ACCEPT dotted; the edges GPA 0's entry took (FREE to MAPPED by PAGE.ADD) are highlighted.")

# %% [markdown]
# ## PENDING, between AUG and ACCEPT
#
# The runtime edges, one call at a time. A TD without `SEPT_VE_DISABLE` (`attributes=0`), out of place, finalized
# with nothing added: when the guest reads GPA 0x1000, KVM handles the EPT violation with `TDH.MEM.PAGE.AUG` and the
# guest gets a `#VE`, because the page is mapped but still **PENDING** (not yet accepted).

# %%
rt = tdxsim.Vmm("kvm-x86-2026-06")  # out of place: the whole memslot is made private
recipes.create_td(rt, attributes=0)  # no SEPT_VE_DISABLE: a PENDING page gives the guest a #VE
recipes.bind_guest_memfd(rt, size=2 << 20)
recipes.run_guest(rt)  # KVM_TDX_FINALIZE_VM, nothing accepted yet
print("before:", rt.sept_state(0x1000))
print(rt.guest_read(gpa=0x1000, length=8))
print("after AUG:", rt.sept_state(0x1000), rt.sept_walk(0x1000)[-1])

# %% [markdown]
# The guest's `TDG.MEM.PAGE.ACCEPT` takes the leaf from PENDING to MAPPED:

# %%
accept = rt.guest_accept(gpa=0x1000)
print("TDCALLs:", [(c["leaf"], c["status"]) for c in accept.tdcalls])
print("after ACCEPT:", rt.sept_state(0x1000), "· mirror EPT maps pfn", rt.mirror_entry(0x1000))

# %% [markdown]
# ## Try it: walk any GPA
#
# **Try it:** pick a GPA and a GPAW, then drag *change* back to 1 and step forward: the tree fills in from the top,
# and the state machine shows the edge each SEAMCALL took at that level. Try the 512 GiB GPA (a new level-3 entry)
# and then `0x8000_0000_0000` with GPAW 48 and with 52: with 48 that GPA has the shared bit set, so it is not
# private at all and KVM refuses it before any SEAMCALL.

# %%
sept_walk()

# %% [markdown]
# **Predict first:** the guest is about to give GPA 0x1000 back to the host.

# %%
exercise("03.zap-order", 1)

# %% [markdown]
# ## Dropping a private page takes four SEAMCALLs
#
# The guest above accepted GPA 0x1000; now it asks for it to be shared again with MapGPA (the VMM converts the
# range, as QEMU's `kvm_convert_memory` does). Removing it from the S-EPT is not one edit: KVM **blocks** the entry
# (no new TLB entries), **tracks** (bumps the TD's TLB epoch and kicks every vCPU out, so no stale translation
# survives), **removes** the page, and has the cache lines of the old key written back (`TDH.PHYMEM.PAGE.WBINVD`).

# %%
zap = rt.guest_map_gpa(gpa=0x1000, size=PAGE_SIZE, shared=True)
print("zap:", [c["leaf"] for c in zap.seamcalls])
print("after MapGPA to shared:", rt.sept_state(0x1000), "· mirror EPT entry", rt.mirror_entry(0x1000))

# %% [markdown]
# What the simulator does not model here: the cost of `TDH.MEM.SEPT.RD` against a mirror walk, several vCPUs and
# their IPIs on `TDH.MEM.TRACK`, huge pages (every leaf is 4 KiB), and `TDX_OPERAND_BUSY` contention between
# vCPUs (it can be injected with the scenario op `tdx_error`, but nothing races).

# %% [markdown]
# ## Misconceptions
#
# **"Mirror EPT = S-EPT."** — No. The mirror is KVM's software copy, walked only by KVM. The S-EPT is what the CPU
# walks; it lives in TDX-protected memory and changes only through SEAMCALLs that KVM's hooks issue. They hold the
# same mappings (checked above), not the same memory.
#
# **"PAGE.ADD can add pages any time."** — No. `TDH.MEM.PAGE.ADD` is the build-time door, before
# `TDH.MR.FINALIZE`; runtime pages come from `TDH.MEM.PAGE.AUG` plus the guest's `TDG.MEM.PAGE.ACCEPT`
# (chapter [04](04-building-a-td.ipynb)).
#
# **"KVM writes the TD's private page table."** — It writes its mirror and *asks*: the S-EPT pages themselves are
# TDX metadata (PAMT type `PT_EPT`), encrypted with the TD's key.

# %%
out, _ = plot.machine_view(vmm)  # every page of the first TD above, with its derived owner and PAMT type
pt_ept = [page for page in out["final"]["pages"].values() if page["pamt"] == "PT_EPT"]
print(len(pt_ept), "S-EPT pages, owner:", {page["owner"] for page in pt_ept})

# %% [markdown]
# ## Exercises
#
# Predict first; the walk above and the simulator are there to try things. Answer in the box and press **Check**:
# you are told whether you are right, and why. (Question 1 was asked earlier, before the cells that answer it.)

# %%
exercise("03.sept-adds-next-1g", 2)

# %%
exercise("03.sept-adds-next-2m", 3)


# %%
exercise("03.shared-gpa-add", 4)

# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | the mirror walk, linking missing tables | `arch/x86/kvm/mmu/tdp_mmu.c` | `kvm_tdp_mmu_map`, `tdp_mmu_link_sp` | [TDX MMU part 2](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |
# | the hook into the S-EPT | `arch/x86/kvm/vmx/tdx.c` | `tdx_sept_link_private_spt`, `tdx_sept_set_private_spte` | [TDX MMU part 2](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |
# | PAGE.ADD before finalize, PAGE.AUG after | `arch/x86/kvm/vmx/tdx.c` | `tdx_mem_page_add`, `tdx_mem_page_aug` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | the zap: BLOCK, TRACK, REMOVE, WBINVD | `arch/x86/kvm/vmx/tdx.c` | `tdx_sept_remove_leaf_spte`, `tdx_track` | [TDX MMU part 2](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |
# | why INIT_MEM_REGION is a vCPU ioctl | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init_mem_region` | commit c846b45 |

# %% [markdown]
# ## Review
#
# Three questions on the chapter, each explained once you answer it.

# %%
review("03")

# %% [markdown]
# Next: [04 — building a TD](04-building-a-td.ipynb), the whole ioctl sequence around these page tables.
