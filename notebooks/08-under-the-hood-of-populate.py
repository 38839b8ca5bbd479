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
# # 08 — Under the hood of `kvm_gmem_populate()`: two locks, one GUP, and an AB-BA deadlock
#
# **Who it is for:** readers who followed notebook 07 and want to know *why* commit 2a62345b3052 moved the
# [GUP](../docs/glossary.md#gup) of the source page out of TDX's callback — kernel developers, reviewers, and
# anyone who has met lockdep's "possible circular locking dependency" and wants to see one built from sources.
# Notebook [07](07-source-addr-zero.ipynb) helps; [00](00-start-here.ipynb) has the map of the suite.
#
# **What you will learn:**
# 1. which locks `KVM_TDX_INIT_MEM_REGION` takes, in which order, before and since 2a62345b3052;
# 2. why `mmap_lock` against guest_memfd's filemap invalidate lock is an AB-BA pair once guest_memfd can be
#    mmap'd and converted in place — and why the commit message still says "not currently clear whether this
#    issue is reachable";
# 3. why the two threads alone slip past each other, and what it takes to close the circle;
# 4. why a private guest_memfd page can never be a GUP source, which is what makes "no source page" the only
#    way to say "use what is already there".
#
# **Time:** about 25 minutes.
#
# *The model is data in `tdxsim/kvm/locking.py`: every lock operation names the mail, commit or kernel function it
# comes from, and says so where an order is inferred. Previous: [07 — source_addr = 0](07-source-addr-zero.ipynb);
# next: [09 — the talk](09-the-talk.ipynb).*

# %%

from tdxsim.kvm import locking
from tdxsim.kvm.flavours import FLAVOURS
from tdxsim.plot.locks import interleaving_figure, lock_order_figure
from tdxsim.plot.style import show
from tdxsim.widgets.locks import lock_stepper

# %% [markdown]
# ## The populate path, lock by lock
#
# `KVM_TDX_INIT_MEM_REGION` is a vCPU ioctl. Since Sean Christopherson's "Guard VM state transitions with "all"
# the locks" it first takes `kvm->lock`, every vCPU's mutex and `kvm->slots_lock` (in that order: "vcpu->mutex
# must be taken outside kvm->slots_lock!"). Then, for each page, [`kvm_gmem_populate()`](../docs/glossary.md#kvm-gmem-populate)
# gets the [guest_memfd](../docs/glossary.md#guest-memfd) folio under the file's *invalidate lock* and calls TDX's
# callback, which issues `TDH.MEM.PAGE.ADD`. The question is where the GUP of the source page sits:

# %%
for path in (locking.POPULATE_BEFORE, locking.POPULATE_AFTER):
    print(path.title)
    for op in path.acquisitions():
        print(f"   {op.lock:24} {op.mode:9}  {op.function}  [{op.source}]")

# %% [markdown]
# Before the commit, `filemap_invalidate_lock` (taken for write) is held while `get_user_pages_fast()` may take
# `mmap_lock`. Since the commit, the GUP runs first and drops `mmap_lock` before the invalidate lock is taken: the
# two are never held together. The brackets name the source of each step:

# %%
for key in sorted({op.source for op in locking.POPULATE_BEFORE.ops + locking.POPULATE_AFTER.ops}):
    print(f"[{key}] {locking.SOURCES[key].ref}")

# %% [markdown]
# ## The competing path: a userspace fault on guest_memfd
#
# With in-place conversion, the VMM `mmap()`s guest_memfd and writes the image while the pages are shared. A
# touch of that mapping faults; the page-fault handler holds `mmap_lock` and calls guest_memfd's
# `kvm_gmem_fault_user_mapping()`, which in the in-place series checks the page's shared/private attribute under
# `filemap_invalidate_lock_shared()` ("Introduce per-gmem attributes, use to guard user mappings"). Yan Zhao wrote
# the two orders side by side in July 2025: "filemap invalidation lock --> mm->mmap_lock" in populate,
# "mm->mmap_lock --> filemap invalidation lock" in the fault, and "This creates an AB-BA deadlock issue".

# %%
print(locking.FAULT_IN_PLACE.title, "→", locking.FAULT_IN_PLACE.order())
print(locking.FAULT_UPSTREAM.title, "→", locking.FAULT_UPSTREAM.order())

# %% [markdown]
# ## The lock-order graph
#
# An arrow A → B means "B was taken while A was held" (drawn from the innermost held lock). Blue is populate,
# dashed orange the fault. Which picture has a way round from a lock back to itself? Look at the two rw_semaphore
# boxes (hatched).

# %%
show(lock_order_figure(list(locking.ERAS.items())), alt="Lock-order graphs before and after commit 2a62345b3052: before, populate takes mmap_lock inside guest_memfd's invalidate lock while a fault takes them the other way, a cycle; after, the GUP happens first and the cycle is gone. The rw_semaphores are hatched.")

# %% [markdown]
# The checker is lockdep's idea in twenty lines: collect every held → acquired pair of both paths and look for a
# cycle. It finds the AB-BA pair in the old order and nothing since the commit:

# %%
for era, paths in locking.ERAS.items():
    cycle = locking.find_cycle(paths)
    found = " and ".join(f"{e.held} → {e.acquired} ({e.path})" for e in cycle) if cycle else "no cycle"
    print(f"{era:22} {found}")

# %% [markdown]
# **Predict first:** both paths take `mmap_lock` only for read.

# %%
from tdxsim.widgets.exercise import exercise, review

exercise("08.threads-to-hang", 1)

# %% [markdown]
# ## Two readers slip past each other; what closes the circle
#
# Both paths take `mmap_lock` for *read*, and two readers do not block each other. So populate (holding the
# invalidate lock) gets its `mmap_lock`, finishes, and the fault simply waits its turn. The hang needs a writer:
# any other VMM thread calling `mmap()` takes `mmap_lock` for write (`vm_mmap_pgoff`). It queues behind the
# fault's read lock, and a new reader queues behind *it* (kernel/locking/rwsem.c: "To prevent a constant stream of
# readers from starving a sleeping writer, don't attempt optimistic lock stealing if the lock is very likely owned
# by readers"). lockdep reports the cycle either way. Every interleaving, explored exhaustively:

# %%
before, since = locking.ERAS.values()
print("before, populate + fault:          ", locking.reachable_deadlocks(before))
print("before, populate + fault + mmap(): ", locking.reachable_deadlocks([*before, locking.MMAP_WRITER]))
print("since,  populate + fault + mmap(): ", locking.reachable_deadlocks([*since, locking.MMAP_WRITER]))

# %% [markdown]
# **Try it:** press *step fault* once, then *step populate* four times (it now holds the invalidate lock), then
# *step mmap()* and *step populate*: populate sleeps behind the writer. Now *step fault*: the verdict turns red.
# Switch the kernel to "since 2a62345b3052" and try to build the same hang — or untick the mmap() thread in the
# old kernel and see the two threads finish. *The deadly interleaving* replays the schedule for you.

# %%
lock_stepper()

# %% [markdown]
# The end state of that schedule before the commit: the vermillion, cross-hatched steps are where each thread
# sleeps; the table at the bottom says who holds what.

# %%
deadly = locking.run_schedule([*before, locking.MMAP_WRITER], locking.DEADLY_SCHEDULE)
show(interleaving_figure(deadly, "before 2a62345b3052: the deadly interleaving"), alt="The deadly interleaving before 2a62345b3052: two threads' steps in columns, the cross-hatched steps where each sleeps waiting for a lock the other holds, and a table of who holds what.")

# %% [markdown]
# ## Was it a real bug in any released kernel?
#
# Not in the kernels tdxsim simulates: without the in-place series, `kvm_gmem_fault_user_mapping()` takes no
# invalidate lock, so there is no second edge. That is why the commit message says "It's not currently clear
# whether this issue is reachable with the current implementation of guest_memfd" and the 6.20 pull calls it "a
# looming deadlock bug". The commit landed *before* the in-place series needed it:

# %%
for name in FLAVOURS:
    populate, fault = locking.paths_for(name)
    cycle = locking.find_cycle([populate, fault])
    print(f"{name:18} {populate.key:16} + {fault.key:15} → {'cycle' if cycle else 'no cycle'}")

# %% [markdown]
# ## Why a private page cannot be the GUP source
#
# Once GUP runs in common code, what happens if the source address *is* the guest_memfd page that is about to be
# added? After conversion it is private, and the in-place fault path refuses private pages (SIGBUS), so the GUP
# fails before any lock of populate is taken. Michael Roth's RFC put it this way: "userspace has no choice but to
# populate pages in-place *prior* to setting … PRIVATE … and passing in NULL for the source". The simulator, v8,
# in-place on, source = the guest_memfd page itself, as calls: build the TD, bind a guest_memfd (in place it is
# also mmapped, at `binding.userspace_addr`), write the image while the page is shared, convert it to private, read
# it back (SIGBUS), then add GPA 0 with that address as `source_addr`. `r.calls` is the call chain inside the ioctl.
#
# **Try it:** then call `vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1)` in a new cell: with
# no source page the same page is added in place, and `vmm.private_bytes(0, 12)` shows the TD got the image.

# %%
import tdxsim
from tdxsim import recipes
from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_TDX_MEASURE_MEMORY_REGION

vmm = tdxsim.Vmm(kernel="v8", gmem_in_place_conversion=True)
recipes.create_td(vmm)
binding, _ = recipes.bind_guest_memfd(vmm, 2 << 20)
gmem_va = binding.userspace_addr  # the guest_memfd's MAP_SHARED mapping
print(vmm.write(gmem_va, b"kernel image"))  # shared: the VMM may write it
print(vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=binding.guest_memfd, offset=0, size=4096,
                                     attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE))
print(vmm.read(gmem_va, 1))  # private now: the fault path refuses it
r = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=gmem_va, gpa=0, nr_pages=1, flags=KVM_TDX_MEASURE_MEMORY_REGION)
print(r, r.errno, "SEAMCALLs made:", r.seamcalls)
for call in r.calls:
    print("  " * call["depth"], call["fn"], call.get("ret", ""))
assert r.ret < 0 and r.seamcalls == []  # the GUP fails before PAGE.ADD

# %% [markdown]
# (The exact errno of a GUP that hits a SIGBUS fault is not confirmed from a source; tdxsim returns
# `-EFAULT`, as `get_user_pages_fast()` does for a failed fault.) So "no source page" — `source_addr = 0` — is not
# a convenience: it is the only coherent way to say "add what is already in the target".
#
# **Side note, SEV-SNP.** The same hoisted GUP broke one SNP case: for a CPUID page the firmware writes corrected
# values back into the *source*, so the GUP needs write access. "KVM: guest_memfd: Use write permissions when
# GUP-ing source pages" (Fixes: 2a62345b3052) adds `may_writeback_src`; TDX passes false, since the TDX module
# never writes the source (that patch, May 2026).

# %% [markdown]
# ## Misconceptions
#
# **"2a62345b3052 fixed a deadlock people were hitting."** — No: the AB-BA pair only exists once the fault path
# takes the invalidate lock, which is the in-place series. The commit made the order safe first ("looming").
#
# **"Two threads that both take mmap_lock for read cannot deadlock on it."** — They can, with a third: a queued
# writer makes the next reader wait (above). That is why lockdep counts read acquisitions of an rw_semaphore.
#
# **"The host can read TD private memory through its mmap of guest_memfd."** — With in-place conversion a host
# touch of a private page is a SIGBUS (v8 cover letter); that is also what stops a GUP of it.
#
# **"source_addr is just a pointer; 0 is a valid pointer if mapped."** — The ABI says 0 means "no source page"
# (Sean's seed mail, akPEKslqAhygyjhg@google.com; notebook 07); with GUP in common code, a NULL source simply skips the GUP.
#
# **"INIT_MEM_REGION is a VM ioctl."** — It is a vCPU ioctl, and the state guard takes *every* vCPU's mutex
# before `kvm->slots_lock`, as the lock list at the top shows.

# %% [markdown]
# ## Exercises
#
# Answer in the box and press **Check**: you are told whether you are right, and why. The lock stepper above lets
# you check yourself. (Question 1 was asked before the interleavings that answer it.)

# %%
exercise("08.populate-mmap-only", 2)

# %%
exercise("08.shared-gmem-source", 3)


# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | the state guard: `kvm->lock`, all `vcpu->mutex`, `kvm->slots_lock` | `arch/x86/kvm/vmx/tdx.c` | `tdx_acquire_vm_state_locks`, `tdx_vcpu_unlocked_ioctl` | [20251017003244.186495-25-seanjc@google.com](https://lore.kernel.org/all/20251017003244.186495-25-seanjc@google.com/) |
# | GUP of the source before the invalidate lock | `virt/kvm/guest_memfd.c` | `kvm_gmem_populate`, `__kvm_gmem_populate` | [2a62345b3052 (v3 6/6)](https://lore.kernel.org/all/20260108214622.1084057-7-michael.roth@amd.com/) |
# | the GUP it removed from TDX | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` | [v2 5/5](https://lore.kernel.org/all/20251215153411.3613928-6-michael.roth@amd.com/) |
# | the AB-BA, first described | — | — | [Yan Zhao, July 2025](https://lore.kernel.org/all/20250703062641.3247-1-yan.y.zhao@intel.com/); Sean's hoisting sketch [aHEwT4X0RcfZzHlt@google.com](https://lore.kernel.org/all/aHEwT4X0RcfZzHlt@google.com/) |
# | the fault path taking the invalidate lock | `virt/kvm/guest_memfd.c` | `kvm_gmem_fault_user_mapping` | [per-gmem attributes](https://lore.kernel.org/all/638600e19c6e23959bad60cf61582f387dff6445.1760731772.git.ackerleytng@google.com/) |
# | `mmu_lock` for read while mapping | `arch/x86/kvm/mmu/mmu.c` | `kvm_tdp_mmu_map_private_pfn` | [aG_pLUlHdYIZ2luh@google.com](https://lore.kernel.org/all/aG_pLUlHdYIZ2luh@google.com/) |
# | readers queue behind a waiting writer | `kernel/locking/rwsem.c` | `rwsem_down_read_slowpath` | — |
#
# Glossary: [GUP](../docs/glossary.md#gup), [guest_memfd](../docs/glossary.md#guest-memfd),
# [kvm_gmem_populate()](../docs/glossary.md#kvm-gmem-populate),
# [in-place conversion](../docs/glossary.md#in-place-conversion),
# [KVM_TDX_INIT_MEM_REGION](../docs/glossary.md#kvm-tdx-init-mem-region).
# Previous: [07 — source_addr = 0](07-source-addr-zero.ipynb) · Next: [09 — the talk](09-the-talk.ipynb).

# %% [markdown]
# ## Review
#
# Three questions on the whole chapter; each tells you whether you are right and why.

# %%
review("08")

