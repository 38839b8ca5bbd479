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
# # 04 — Building a TD: from `KVM_CREATE_VM` to `KVM_TDX_FINALIZE_VM`
#
# **Who it is for:** VMM and kernel developers who want to know what each TDX ioctl asks of KVM and of the TDX
# module, in which order, and what happens when the order is wrong. Chapter [03](03-three-page-tables.ipynb)
# (the page tables) helps for the `INIT_MEM_REGION` step.
#
# **What you will learn:**
# 1. the creation flow of `Documentation/virt/kvm/x86/intel-tdx.rst`, ioctl by ioctl, with the SEAMCALLs each one
#    causes;
# 2. the two state machines behind it: KVM's `TD_STATE_*` and the TDX module's `OP_STATE_*`;
# 3. where the TD's control pages (TDR, TDCS, TDVPR, TDCX, S-EPT tables) come from, and who owns them;
# 4. the two doors into private memory: `PAGE.ADD` while building, `PAGE.AUG` + the guest's `ACCEPT` at runtime;
# 5. what KVM returns when a step is skipped, moved or repeated.
#
# **Time:** about 30 minutes.
#
# ← [03 — three page tables](03-three-page-tables.ipynb) · [05 — what the measurement covers](05-what-the-measurement-covers.ipynb) →
# · terms: [KVM_TDX_INIT_MEM_REGION](../docs/glossary.md#kvm-tdx-init-mem-region),
# [KVM_TDX_FINALIZE_VM](../docs/glossary.md#kvm-tdx-finalize-vm), [TDR / TDCS / TDVPS](../docs/glossary.md#tdr-tdcs-tdvps),
# [TDH.MEM.PAGE.ADD](../docs/glossary.md#tdh-mem-page-add), [TDH.MEM.PAGE.AUG](../docs/glossary.md#tdh-mem-page-aug),
# [TDH.MR.FINALIZE](../docs/glossary.md#tdh-mr-finalize)

# %%
from collections import Counter

import tdxsim
from tdxsim import plot
from tdxsim.kvm.uapi import (
    GUEST_MEMFD_FLAG_INIT_SHARED,
    GUEST_MEMFD_FLAG_MMAP,
    KVM_MEM_GUEST_MEMFD,
    KVM_MEMORY_ATTRIBUTE_PRIVATE,
    KVM_TDX_MEASURE_MEMORY_REGION,
    TDX_TD_ATTR_SEPT_VE_DISABLE,
)
from tdxsim.widgets.exercise import exercise, review
from tdxsim.widgets.lessons import lifecycle_player

# %% [markdown]
# ## The flow, call by call
#
# The v8 in-place model (guest_memfd with `MMAP` and `INIT_SHARED`), in the order QEMU makes the calls: create the
# VM, initialise the TD, create and initialise vCPU 0, create the guest_memfd and its memslot, write the initial
# image while the pages are shared, convert them to private, add the image with `KVM_TDX_INIT_MEM_REGION`
# (`source_addr` 0: the page is its own source, chapter [07](07-source-addr-zero.ipynb)), finalize.
#
# `tdxsim.Vmm` is the whole host: each method is one ioctl or syscall, named as the kernel names it, taking the uAPI
# struct's fields by name. Each returns a `Result`: the return value (`r.ret`, `r.errno`), the SEAMCALLs it caused
# (`r.seamcalls`) and the state changes (`r.changes`); click a result to open it. `run` keeps every result for the
# sequence diagram further down. Change an argument and re-run the cells from here to see what KVM says.

# %%
vmm = tdxsim.Vmm("v8")  # the kernel with guest_memfd in-place conversion
run = []


def call(result):
    run.append(result)
    return result


# %%
vm = call(vmm.KVM_CREATE_VM())
vmm.select_vm(vm["vm"])  # the VM fd the next ioctls go to
vm

# %% [markdown]
# `KVM_TDX_INIT_VM` creates the TD in the TDX module: `TDH.MNG.CREATE` (the TDR), `TDH.MNG.KEY.CONFIG`, six
# `TDH.MNG.ADDCX` (the TDCS pages) and `TDH.MNG.INIT`. `SEPT_VE_DISABLE` is QEMU's default attribute.

# %%
call(vmm.KVM_TDX_INIT_VM(attributes=TDX_TD_ATTR_SEPT_VE_DISABLE))

# %%
call(vmm.KVM_CREATE_VCPU(id=0))

# %%
call(vmm.KVM_TDX_INIT_VCPU(vcpu=0))

# %% [markdown]
# Memory: a 2 MiB guest_memfd that can be mmapped and starts shared, mapped into the VMM and bound as memslot 0 at
# GPA 0. No SEAMCALL: the TDX module does not know about it yet.

# %%
SIZE = 2 << 20
gmem = call(vmm.KVM_CREATE_GUEST_MEMFD(size=SIZE, flags=GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED))
mapping = call(vmm.mmap(length=SIZE, fd=gmem["fd"]))
gmem, mapping

# %%
call(
    vmm.KVM_SET_USER_MEMORY_REGION2(
        slot=0,
        flags=KVM_MEM_GUEST_MEMFD,
        guest_phys_addr=0,
        memory_size=SIZE,
        userspace_addr=mapping["addr"],
        guest_memfd=gmem["fd"],
    )
)

# %% [markdown]
# The image (one page) is written while shared, then the whole guest_memfd becomes private, then KVM adds the page
# from itself and measures it: `TDH.MEM.SEPT.ADD` for the S-EPT tables below the root, `TDH.MEM.PAGE.ADD`, and
# `TDH.MR.EXTEND` sixteen times (256 bytes each). The bytes written while shared survive the conversion to
# private because this is the build-time door, in place (source = target, v8 23/46); the run-time door further down,
# `PAGE.AUG` + the guest's `ACCEPT`, gives a zeroed page instead.

# %%
IMAGE = b"TDVF" * 1024  # one 4 KiB page
call(vmm.write(mapping["addr"], IMAGE))

# %%
call(
    vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=gmem["fd"], offset=0, size=SIZE, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE)
)

# %%
call(vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1, flags=KVM_TDX_MEASURE_MEMORY_REGION))

# %%
call(vmm.KVM_TDX_FINALIZE_VM())

# %%
print(vmm.td_state(), vmm.vcpu_state(0), vmm.sept_state(0), vmm.mrtd().hex()[:32] + "…")

# %% [markdown]
# Two state machines move together. KVM's `kvm_tdx->state` goes `TD_STATE_UNINITIALIZED → INITIALIZED` in
# `KVM_TDX_INIT_VM` and `→ RUNNABLE` in `KVM_TDX_FINALIZE_VM`; the TDX module's TDCS `OP_STATE` goes
# `UNINITIALIZED → INITIALIZED` in `TDH.MNG.INIT` and `→ RUNNABLE` in `TDH.MR.FINALIZE`. KVM's checks read its own
# state, so most misuse is refused before a SEAMCALL is made. The state changes of each call are in its result:

# %%
for r in run:
    print(f"{r.op:28} {r.ret:>4}", [(c["what"], c.get("new")) for c in r.changes if "state" in c["what"]])

# %% [markdown]
# Then the guest runs: it accepts a page it did not have (`PAGE.AUG` + `ACCEPT`) and reads its image back.

# %%
call(vmm.guest_accept(gpa=0x1000))

# %%
read = call(vmm.guest_read(gpa=0, length=8))
read, read["data"]

# %% [markdown]
# ## What each layer did
#
# The whole build, from `KVM_TDX_INIT_VM` to the end of `KVM_TDX_FINALIZE_VM`, as a sequence diagram in three
# phases, one figure each: the TD and its vCPU, then the memory and the initial image, then finalize. Time runs
# down; each arrow is a call from one layer into another (the VMM's ioctls into KVM, SEAMCALLs from KVM into the TDX
# module, page-ownership changes into memory) and each dashed arrow its return or the module's status. Boxes on a
# lifeline are that layer's own functions and state changes. A block repeated for several pages is drawn once, with
# its count: `TDH.MNG.ADDCX ×6` adds the six TDCS pages, `TDH.MR.EXTEND ×16` measures a 4 KiB page 256 bytes at a time.
# The diagrams are drawn from the results in `run`: their events, and where each call starts.

# %%
events, steps = [], []
for r in run:
    steps.append((len(events), {"op": r.op, **r}))
    events += r.events


def phase(first, last):
    """The events from the start of the call `first` in `run` to the end of the call `last`."""
    i = next(k for k, r in enumerate(run) if r.op == first)
    j = next(k for k, r in enumerate(run) if r.op == last)
    return steps[i][0], steps[j][0] + len(run[j].events)


plot.show(
    plot.call_timeline(events, steps, *phase("KVM_TDX_INIT_VM", "KVM_TDX_INIT_VCPU"), title="1 of 3: the TD and its vCPU"),
    alt="Sequence diagram, phase 1 of the TD build, KVM_TDX_INIT_VM to KVM_TDX_INIT_VCPU: the TDR, six TDCS pages " "(TDH.MNG.ADDCX ×6), TDH.MNG.INIT, then the vCPU's TDVPR and five TDCX pages; ioctls and SEAMCALLs as arrows " "down, statuses as dashed arrows back.",
)

# %% [markdown]
# Then the memory: the guest_memfd, its mapping and memslot (no SEAMCALL), the image written while shared, the
# conversion, and the add: three `TDH.MEM.SEPT.ADD` for the empty S-EPT levels, `TDH.MEM.PAGE.ADD` in place, and
# `TDH.MR.EXTEND ×16`.

# %%
plot.show(
    plot.call_timeline(events, steps, *phase("KVM_CREATE_GUEST_MEMFD", "KVM_TDX_INIT_MEM_REGION"), title="2 of 3: memory and the initial image"),
    alt="Sequence diagram, phase 2 of the TD build, KVM_CREATE_GUEST_MEMFD to KVM_TDX_INIT_MEM_REGION: guest_memfd, " "mmap and memslot with no SEAMCALL, the write while shared, the conversion to private, then three " "TDH.MEM.SEPT.ADD, TDH.MEM.PAGE.ADD and TDH.MR.EXTEND ×16.",
)

# %% [markdown]
# And `KVM_TDX_FINALIZE_VM`: one SEAMCALL, and both state machines move to RUNNABLE.

# %%
plot.show(
    plot.call_timeline(events, steps, *phase("KVM_TDX_FINALIZE_VM", "KVM_TDX_FINALIZE_VM"), title="3 of 3: finalize"),
    alt="Sequence diagram, phase 3 of the TD build: KVM_TDX_FINALIZE_VM issues TDH.MR.FINALIZE; the TDX module's " "OP_STATE and KVM's TD state become RUNNABLE.",
)

# %% [markdown]
# ## Who owns the TD's pages
#
# The host allocates every page the TD uses, then hands it over: `TDH.MNG.CREATE` takes the TDR, `TDH.MNG.ADDCX`
# six TDCS pages (one of them the S-EPT root), `TDH.VP.CREATE` the TDVPR and `TDH.VP.ADDCX` five TDCX pages, and each
# `TDH.MEM.SEPT.ADD` one S-EPT table. In the map below those are the purple "TDX module metadata" frames; the
# vermillion ones are the TD's private pages (the image, added; the page the guest accepted). Look at the physical
# view: the host cannot tell the metadata from the TD's memory by address, only the TDX module's PAMT can.
# `plot.machine_view(vmm)` reads the machine's pages and memslots for the map, so it draws any TD you build.

# %%
plot.show(
    plot.ownership_map(*plot.machine_view(vmm), legend=False),
    alt="Ownership map after a full TD build: by guest physical address, the TD's private image pages and the page the guest accepted; by host physical address, those pages among the TDX module's metadata frames (TDR, TDCS, TDVPR, TDCX, S-EPT tables).",
)

# %%
plot.show(plot.ownership_legend(), alt="Legend of the ownership maps: not allocated (white), host memory (orange, hatched //), guest_memfd shared (sky blue, dotted), guest_memfd private but not in the TD (green, hatched), TD-private in the S-EPT (vermillion, crossed), TDX module metadata (purple, plus signs); a solid outline marks a PAGE.ADD target, a dashed one its source.")

# %%
pages = vmm.describe_pages()
print(Counter(page["pamt"] for page in pages.values() if page.get("pamt") not in (None, "PT_NDA")))
print("bytes by owner:", plot.machine_view(vmm)[0]["final"]["memory"])

# %% [markdown]
# The first line counts the frames by their PAMT page type, the TDX module's record of what each frame is
# (intel/tdx-module TDX_1.5.01 `pamt_manager.h`). The names are the module's, not the text's:
#
# * `PT_TDR: 1` is the TDR; `PT_TDVPR: 1` the vCPU's root page.
# * `PT_TDCX: 11` are the **six TDCS pages and the vCPU's five TDCX pages** together. The PAMT has no separate
#   TDCS type: `TDH.MNG.ADDCX` records each TDCS page as `PT_TDCX` (`tdh_mng_add_cx.c`: `pamt_entry_p->pt =
#   PT_TDCX`), and so does `TDH.VP.ADDCX` for a vCPU's extension pages. So where the text says TDCS, the label says
#   `PT_TDCX`.
# * `PT_EPT: 3` are the three S-EPT tables that `TDH.MEM.SEPT.ADD` added (the S-EPT root is one of the TDCS pages).
# * `PT_REG: 2` are the TD's private pages: the image page that `KVM_TDX_INIT_MEM_REGION` added with
#   `TDH.MEM.PAGE.ADD` (`tdh_mem_page_add.c` gives it `PT_REG`), and the page the guest accepted after finalize,
#   by `PAGE.AUG`; they are the two `td_private` pages in the byte count.

# %% [markdown]
# ## Exercises
#
# Predict first, before the player below tries the variants of the flow: answer in the box and press **Check**;
# you are told whether you are right, and why.

# %%
exercise("04.add-after-finalize", 1)

# %%
exercise("04.tdcx-two-vcpus", 2)

# %%
exercise("04.finalize-without-vcpu", 3)

# %% [markdown]
# ## Try it: skip, move or repeat a step
#
# **Try it:** pick a variant of the flow and step through it with *next*: the table marks the step, the timeline
# shows what it did. Start with "skip KVM_TDX_INIT_VCPU" (which step fails first, and what does FINALIZE do
# then?), then "KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM" and watch the guest's read of GPA 0 at the end.

# %%
lifecycle_player()

# %% [markdown]
# What the variants show, all computed above by the simulator:
#
# * a vCPU needs an initialised TD: `KVM_CREATE_VCPU` before `KVM_TDX_INIT_VM` is `-EIO` (`tdx_vcpu_create`);
# * `KVM_TDX_INIT_MEM_REGION` needs an initialised vCPU (`-EINVAL`), a private GPA (`-EINVAL` from
#   `kvm_gmem_populate` when the conversion was skipped) and a TD that is not yet RUNNABLE (`-EINVAL`: "once TD is
#   finalized, the initial guest memory is fixed");
# * a second add of the same GPA is `-EIO`, and the VM lives on (chapter [07](07-source-addr-zero.ipynb));
# * `TDH.MR.FINALIZE` without an initialised vCPU fails in the TDX module (`TDX_NO_VCPUS`); KVM treats that as a
#   bug (`KVM_BUG_ON`), returns `-EIO` and the VM is dead;
# * the guest cannot run before finalize: `KVM_RUN` on an unfinalized TD is `-EINVAL`;
# * after finalize, a page KVM did not add arrives by `PAGE.AUG` as `PENDING`; a guest that touches it without
#   accepting it, with `SEPT_VE_DISABLE` (QEMU's default), gets the VM killed (`-EIO`).
#
# A patch that bugged the VM on a fault before finalize was in RFC v5 of the series and is not in v8, so it is not
# modelled. The `sept_ve_disable` toggle is modelled only as described above (the guest gets a `#VE` without it).

# %% [markdown]
# ## Misconceptions
#
# **"INIT_MEM_REGION is a VM ioctl."** — It is a vCPU ioctl: mapping into the S-EPT reuses the vCPU's MMU fault
# path, "the only way to invoke TDH.MEM.SEPT.ADD before the TD is finalized" (commit c846b45). That is why it
# fails without `KVM_TDX_INIT_VCPU`.
#
# **"PAGE.ADD can add pages any time."** — Only before `TDH.MR.FINALIZE` (commit 012426d: after it "the VMM adding
# TD private pages with arbitrary content is no longer allowed"). Runtime pages come from `TDH.MEM.PAGE.AUG`, zeroed
# and `PENDING`, and the guest must accept them:

# %%
accept = next(r for r in run if r.op == "guest_accept")
print("SEAMCALL:", [c["leaf"] for c in accept.seamcalls])
print("TDCALLs:", [(t["leaf"], t["status"]) for t in accept.tdcalls])

# %% [markdown]
# **"The host can read TD private memory; it's just ciphertext."** — No page the host hands over stays readable to
# it. The TDR is encrypted with the TDX module's global private KeyID (the kernel reserves it as `tdx_global_keyid`
# and flushes the TDR with it, `tdh_phymem_page_wbinvd_tdr` in `arch/x86/virt/vmx/tdx/tdx.c`); every other page
# handed over is encrypted under the TD's HKID. Private KeyIDs work only in SEAM mode, so the host, reading with
# KeyID 0, gets no plaintext of either: zeros in tdxsim, as chapter [01](01-who-owns-this-page.ipynb)'s reader table
# shows.

# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | `KVM_TDX_INIT_VM`: TDH.MNG.CREATE, KEY.CONFIG, ADDCX, INIT | `arch/x86/kvm/vmx/tdx.c` | `tdx_td_init`, `__tdx_td_init` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | `KVM_CREATE_VCPU`'s TDX part | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_create` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | `KVM_TDX_INIT_VCPU`: TDH.VP.CREATE, ADDCX, INIT | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init`, `tdx_td_vcpu_init` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | `KVM_TDX_INIT_MEM_REGION` | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init_mem_region`, `tdx_gmem_post_populate` | [v8 23/46](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com/) |
# | `KVM_TDX_FINALIZE_VM` | `arch/x86/kvm/vmx/tdx.c` | `tdx_td_finalize` | commit 012426d |
# | runtime faults: PAGE.AUG | `arch/x86/kvm/vmx/tdx.c` | `tdx_handle_ept_violation`, `tdx_mem_page_aug` | [TDX MMU part 2](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |

# %% [markdown]
# ## Review
#
# Three questions on the chapter, each explained once you answer it.

# %%
review("04")

# %% [markdown]
# Next: [05 — what the measurement covers](05-what-the-measurement-covers.ipynb): what `TDH.MR.FINALIZE` froze.
