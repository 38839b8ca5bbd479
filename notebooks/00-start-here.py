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
# # 00 — Start here
#
# [01 Who owns this page? →](01-who-owns-this-page.ipynb) · [glossary](../docs/glossary.md)
#
# **Who it is for:** everyone who opens this suite: newcomers to confidential computing, kernel and VMM
# developers, reviewers of the guest_memfd in-place conversion series, and speakers who want the short story.
#
# **What you will get:** a map of the ten chapters (who each is for, what it teaches, in which order), and a
# five-minute tour: one real run of the simulator, one page-ownership map, one outcome, and one toggle that
# changes it; then ten lines that drive the machine yourself.
#
# **Time:** 5 minutes for the tour, plus however long you spend choosing a chapter.
#
# *The suite runs on `tdxsim`, a small pure-Python simulator of how Linux KVM and the Intel TDX module build a
# TD's private memory: the kernel's ioctls, errnos and SEAMCALLs, and a byte-exact MRTD. No TDX hardware needed.
# State of the LKML thread as of 1 July 2026 (v8 of the series).*

# %% [markdown]
# ## The map
#
# | chapter | for whom | what it teaches | time |
# |---|---|---|---|
# | [01 — Who owns this page?](01-who-owns-this-page.ipynb) | newcomers | the host, the TDX module and the TD; SEAMCALL vs TDCALL; GPA vs HPA and the shared bit; who can read a private page | 20 min |
# | [02 — Memslots and guest_memfd](02-memslots-and-guest-memfd.ipynb) | newcomers, VMM developers | memslots, guest_memfd, per-VM vs per-guest_memfd attributes; out-of-place (two pages per GFN) vs in-place (one); SIGBUS | 25 min |
# | [03 — Three page tables](03-three-page-tables.ipynb) | readers of KVM's MMU | shared EPT, mirror EPT, Secure EPT; which SEAMCALL edits which entry; the S-EPT state machine | 25 min |
# | [04 — Building a TD](04-building-a-td.ipynb) | VMM developers | the creation flow ioctl by ioctl; PAGE.ADD (build time) vs PAGE.AUG + ACCEPT (runtime); what FINALIZE locks | 30 min |
# | [05 — What the measurement covers](05-what-the-measurement-covers.ipynb) | attestation and firmware people | MRTD replayed record by record; PAGE.ADD measures the GPA only; MEASURE_MEMORY_REGION | 25 min |
# | [10 — Why doesn't my MRTD match?](10-why-doesnt-my-mrtd-match.ipynb) | attestation people with a mismatch | which loader variant made a TD's MRTD, where two record streams part, MRTD out of a real quote | 20 min |
# | [06 — Conversions at runtime](06-conversions-at-runtime.ipynb) | KVM and VMM developers | MapGPA → exit → attributes → zap → fault; what happens to contents in v8 | 30 min |
# | [07 — What does `source_addr = 0` mean?](07-source-addr-zero.ipynb) | reviewers, speakers | the seed thread as an executable table: the in-place add and its refusals across five kernels (v13 as landed), the double add | 30 min |
# | [08 — Under the hood of populate](08-under-the-hood-of-populate.ipynb) | kernel developers | `kvm_gmem_populate()`, GUP, and the lock-order deadlock that commit 2a62345b3052 removed | 25 min |
# | [09 — The talk](09-the-talk.ipynb) | speakers and their audiences | "A zero that means nothing": about twelve slides with live toggles | 20 min |
#
# **Reading order.** One order, the order of the table: 01 → 02 → 03 → 04 → 05 → 10 → 06 → 07 → 08 → 09. It takes
# you from zero to the seed thread; every chapter's "next" link follows it. Chapter 10 may be skipped by whoever
# has no MRTD to match.
# Chapter 07 also stands alone after 02 and 04, and 09 reuses the figures of all the others. Every term the
# chapters use has an entry in the [glossary](../docs/glossary.md), with where it lives in the kernel.

# %%
import json
from pathlib import Path

from tdxsim import plot
from tdxsim.scenario import run_scenario
from tdxsim.widgets import control_panel
from tdxsim.widgets.exercise import exercise, review

# %% [markdown]
# ## The five-minute tour
#
# ### 1. A scenario
#
# A scenario is the VMM's side of the story as data: the ioctls and system calls it makes, in order. This one is
# the seed thread's recipe: guest_memfd in-place conversion on; the VMM writes `Hello` into a guest_memfd page
# while it is shared, converts it to private, and asks KVM to add it to the TD with `source_addr = 0` — "no source
# page: the target is its own source". The bytes survive the conversion only because this happens at build time,
# before `KVM_TDX_FINALIZE_VM`, and in place (`TDH.MEM.PAGE.ADD` with source = target); a page converted to private
# at run time arrives by `PAGE.AUG` and the guest's `ACCEPT` zeroes it (chapter 06).

# %%
doc = json.loads(Path("../examples/seed-thread-in-place.json").read_text())
for step in doc["steps"]:
    args = ", ".join(f"{k}={v}" for k, v in step.items() if k not in ("op", "comment", "label"))
    print(f"{step['op']}({args[:100]}{'…' if len(args) > 100 else ''})")

# %% [markdown]
# ### 2. Run it
#
# `run_scenario` replays it through the simulated VMM, KVM and TDX module. The outcome of the interesting step,
# `KVM_TDX_INIT_MEM_REGION`: what it returned, and the SEAMCALLs it made.

# %%
out = run_scenario(doc)
add = next(step for step in out["steps"] if step.get("label") == "add")
read = next(step for step in out["steps"] if step.get("label") == "read")
print("KVM_TDX_INIT_MEM_REGION returned", add["ret"])
print("SEAMCALLs:", ", ".join(f"{leaf} ×{[c['leaf'] for c in add['seamcalls']].count(leaf)}"
                              for leaf in dict.fromkeys(c["leaf"] for c in add["seamcalls"])))
print("the guest reads back:", bytes.fromhex(read["data"]))
print("TD state:", out["final"]["td_state"], "· MRTD", out["final"]["mrtd"][:24], "…")

# %% [markdown]
# ### 3. Who owns each page
#
# The same run as a map. Left: the guest's 2 MiB by guest physical address; only one page was ever allocated,
# the outlined red cell in the top-left corner at GPA 0: PAGE.ADD filled it from itself, in place. Right: every
# physical frame the run allocated; most are the TDX module's metadata (purple: the TD's root and control pages,
# the vCPU's pages, the S-EPT), and exactly one, outlined, is TD-private.

# %%
plot.show(plot.ownership_map(out, doc, legend=False), alt="Ownership map of the seed-thread run: left, the guest's 2 MiB by guest physical address with one outlined TD-private page at GPA 0, added in place; right, every physical frame the run allocated, mostly TDX module metadata, exactly one of them TD-private.")

# %%
plot.show(plot.ownership_legend(), alt="Legend of the ownership maps: not allocated (white), host memory (orange, hatched //), guest_memfd shared (sky blue, dotted), guest_memfd private but not in the TD (green, hatched), TD-private in the S-EPT (vermillion, crossed), TDX module metadata (purple, plus signs); a solid outline marks a PAGE.ADD target, a dashed one its source.")

# %% [markdown]
# ### 4. Flip one toggle
#
# **Try it:** predict first, then switch in-place conversion **off**: what does the same ioctl with the same
# `source_addr = 0` return now, and what is left in the map? Without in-place conversion the private page is not
# the page the VMM wrote. Then pick "a separate buffer" as `source_addr`: success again, the classic copy. That
# difference is what chapter 07 is about.

# %%
control_panel()

# %% [markdown]
# ## Drive it yourself
#
# The same add, as plain calls on the machine: each method is named as the kernel names the ioctl and returns a
# result with `ret`, `errno`, `seamcalls` and `changes`. Edit and re-run: the kernel `"v13"` (the series as
# landed) or `"kvm-x86-2026-06"` (before it), `tdxsim.Vmm("v8", gmem_in_place_conversion=False)` (the toggle above),
# or `flags=0` (no measurement), and watch the SEAMCALLs and the MRTD change.

# %%
import tdxsim
from tdxsim import recipes
from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE
from tdxsim.kvm.uapi import KVM_TDX_MEASURE_MEMORY_REGION as MEASURE

vmm = tdxsim.Vmm("v8")  # a kernel with guest_memfd in-place conversion
recipes.create_td(vmm)  # KVM_CREATE_VM, KVM_TDX_INIT_VM, KVM_CREATE_VCPU, KVM_TDX_INIT_VCPU
gmem, _ = recipes.bind_guest_memfd(vmm, size=2 << 20)  # guest_memfd, mmap, memslot at GPA 0
vmm.write(gmem.userspace_addr, b"Hello".ljust(4096, b"\0"))  # write the page while it is shared
vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=gmem.guest_memfd, offset=0, size=4096, attributes=PRIVATE)
add = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1, flags=MEASURE)
print(add)
vmm.KVM_TDX_FINALIZE_VM()
print("MRTD", vmm.mrtd().hex())

# %% [markdown]
# ## Frequently asked
#
# **"`source_addr` is just a pointer; 0 is a valid pointer if it is mapped."** Not for this ioctl. Sean
# Christopherson, on 29 Jun 2026: "KVM's ABI (that we're solidifying) is that an address of '0' for the source
# means NULL"; a mapping at virtual address 0 "is irrelevant" (https://lore.kernel.org/all/akMPZePBdwQlD74H@google.com/).
# His next mail, the thread's seed (https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/), words the docs: "no
# source page", and a source page is required when in-place conversion isn't enabled.
# Chapter 07 runs every variant.
#
# **"Do I need TDX hardware?"** No. tdxsim models semantics only (no cryptography except SHA-384 for the
# measurement); `docs/fidelity.md` lists what is modelled, from which source, and what is not.

# %% [markdown]
# ## Check yourself
#
# Answer in the box and press **Check**: you are told whether you are right, and why. Try things in the control
# panel above first, if you like.

# %%
exercise("00.skip-conversion", 1)

# %%
exercise("00.image-extends", 2)

# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | the ioctl | `arch/x86/kvm/vmx/tdx.c` | `tdx_vcpu_init_mem_region` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | NULL source → in-place add, or a refusal without in-place conversion | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` | [v8 23/46](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com/) |
# | the populate loop | `virt/kvm/guest_memfd.c` | `kvm_gmem_populate` | [2a62345b3052](https://lore.kernel.org/all/20260108214622.1084057-7-michael.roth@amd.com/) |
# | in-place conversion | `virt/kvm/guest_memfd.c` | `kvm_gmem_set_attributes` | [v8 cover](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com/) |
#
# The scenario format is documented in `docs/scenario.md`; the same run from a shell:
# `python -m tdxsim run examples/seed-thread-in-place.json`.

# %% [markdown]
# ## Review
#
# Three questions on the whole tour, each explained once you answer it.

# %%
review("00")

# %% [markdown]
# **Next:** [01 — Who owns this page?](01-who-owns-this-page.ipynb) Terms: [glossary](../docs/glossary.md).
