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
# # 02 — Memslots, guest_memfd, and two ways to convert
#
# [← 01 Who owns this page?](01-who-owns-this-page.ipynb) · [03 Three page tables →](03-three-page-tables.ipynb) ·
# [glossary](../docs/glossary.md)
#
# **Who it is for:** readers of chapter 01, VMM developers, and anyone following the guest_memfd in-place
# conversion series (v8, June 2026) who wants to see what it changes in memory, page by page.
#
# **What you will learn:**
# 1. what a [memslot](../docs/glossary.md#memslot) is: a GFN range, its `userspace_addr`, and a
#    [guest_memfd](../docs/glossary.md#guest-memfd) with an offset;
# 2. the guest_memfd flags [MMAP and INIT_SHARED](../docs/glossary.md#guest-memfd-flags);
# 3. the two conversion models: per-VM [KVM_SET_MEMORY_ATTRIBUTES](../docs/glossary.md#kvm-set-memory-attributes)
#    ([out-of-place](../docs/glossary.md#out-of-place-conversion): two pages per GFN) and per-guest_memfd
#    [KVM_SET_MEMORY_ATTRIBUTES2](../docs/glossary.md#kvm-set-memory-attributes2)
#    ([in-place](../docs/glossary.md#in-place-conversion): one page whose attribute flips);
# 4. what the VMM gets when it touches a private page through its mapping.
#
# **Time:** about 25 minutes.
#
# *Every number and map below comes from running `tdxsim` scenarios; the kernel is the v8 series, with the module
# parameter `gmem_in_place_conversion` off or on.*

# %%

import tdxsim
from tdxsim import errno, plot, recipes  # errno: Linux's numbers, whatever the host runs
from tdxsim.kvm import uapi
from tdxsim.lessons.backing import Setup, build
from tdxsim.platform import PAGE_SIZE
from tdxsim.plot.backing import memory_bars
from tdxsim.vmm.process import Vmm
from tdxsim.widgets.backing import backing_panel
from tdxsim.widgets.exercise import exercise, review

# %% [markdown]
# ## A memslot
#
# KVM maps guest physical memory in slots. `KVM_SET_USER_MEMORY_REGION2` gives a slot its GFN range, the host
# virtual address of its shared side (`userspace_addr`) and, with `KVM_MEM_GUEST_MEMFD`, the guest_memfd (and the
# offset in it) that backs its private side. This is the slot every run of this chapter creates: a 64-page
# (256 KiB) guest at GPA 0, made with the three calls QEMU makes for a RAM block backed by a guest_memfd (in place:
# the guest_memfd is mmapped and is also the slot's shared side). Edit and re-run: another `guest_phys_addr`, size
# or offset.

# %%
host = tdxsim.Vmm("v8")  # the machine, with guest_memfd in-place conversion
recipes.create_td(host)  # KVM_CREATE_VM, KVM_TDX_INIT_VM, one vCPU
size, gmem_flags = 64 * PAGE_SIZE, uapi.GUEST_MEMFD_FLAG_MMAP | uapi.GUEST_MEMFD_FLAG_INIT_SHARED
fd = host.KVM_CREATE_GUEST_MEMFD(size=size, flags=gmem_flags)["fd"]
addr = host.mmap(length=size, fd=fd)["addr"]
slot = dict(slot=0, flags=uapi.KVM_MEM_GUEST_MEMFD, guest_phys_addr=0, memory_size=size, userspace_addr=addr,
            guest_memfd=fd, guest_memfd_offset=0)
print(host.KVM_SET_USER_MEMORY_REGION2(**slot))
for key, value in slot.items():
    print(f"{key:>20}: {value:#x}")

# %% [markdown]
# ## guest_memfd and its flags
#
# guest_memfd is an anonymous file bound to one VM. Originally userspace could not map, read or write it at all;
# `GUEST_MEMFD_FLAG_MMAP` allows `mmap()`, and `GUEST_MEMFD_FLAG_INIT_SHARED` makes every page start shared.
# For a TD, the v8 series accepts INIT_SHARED only when in-place conversion is on (v8 25/46,
# `kvm_arch_supports_gmem_init_shared`); and `mmap()` of a guest_memfd created without MMAP is refused with
# `-ENODEV` (`kvm_gmem_mmap`). The simulator, asked both questions:

# %%
flags = uapi.GUEST_MEMFD_FLAG_MMAP | uapi.GUEST_MEMFD_FLAG_INIT_SHARED
for in_place in (False, True):
    vmm = Vmm(kernel="v8", gmem_in_place_conversion=in_place)
    vmm.KVM_CREATE_VM()
    with_flags = vmm.KVM_CREATE_GUEST_MEMFD(size=64 * 4096, flags=flags)
    plain = vmm.KVM_CREATE_GUEST_MEMFD(size=64 * 4096, flags=0)
    mapped = vmm.mmap(64 * 4096, fd=plain["fd"])
    print(f"in-place {'on ' if in_place else 'off'}: MMAP|INIT_SHARED -> {with_flags['ret']}, "
          f"mmap of a guest_memfd without MMAP -> {mapped['ret']}")

# %% [markdown]
# ## Two ioctls for one attribute
#
# Which GFNs are private? **Out-of-place** (the original model), the VM says so: `KVM_SET_MEMORY_ATTRIBUTES` on the
# VM fd keeps per-VM attributes; shared GFNs are backed by `userspace_addr` (ordinary host memory), private GFNs by
# guest_memfd. **In-place** (v8), the guest_memfd says so: `KVM_SET_MEMORY_ATTRIBUTES2` on the guest_memfd fd keeps
# an attribute per page, and the same page serves both sides. Each model refuses the other's ioctl:

# %%
for in_place in (False, True):
    vmm = Vmm(kernel="v8", gmem_in_place_conversion=in_place)
    vmm.KVM_CREATE_VM()
    gmem = vmm.KVM_CREATE_GUEST_MEMFD(size=64 * 4096)["fd"]
    private = uapi.KVM_MEMORY_ATTRIBUTE_PRIVATE
    per_vm = vmm.KVM_SET_MEMORY_ATTRIBUTES(address=0, size=4096, attributes=private)["ret"]
    per_gmem = vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=gmem, offset=0, size=4096, attributes=private)["ret"]
    print(f"in-place {'on ' if in_place else 'off'}: KVM_SET_MEMORY_ATTRIBUTES -> {per_vm:4}, "
          f"KVM_SET_MEMORY_ATTRIBUTES2 -> {per_gmem:4}")
print(f"(-EINVAL = {-errno.EINVAL}, -ENOTTY = {-errno.ENOTTY})")

# %% [markdown]
# With in-place conversion on, v8 stops tracking PRIVATE per VM (`kvm_supported_vm_mem_attributes` returns 0,
# v8 10/17), so the VM ioctl has no attribute left to set: `-EINVAL`. Without it, the guest_memfd ioctl does not
# exist: `-ENOTTY` (v8 13). v8 has no content modes: `flags` must be 0, and KVM does not change a page's contents
# when its attribute changes.

# %% [markdown]
# ## One GFN, two pages or one
#
# The calls below build a 64-page TD with a 2-page firmware image in each model, finalize it, let the guest accept
# every other page (TDG.MEM.PAGE.ACCEPT: KVM AUGs a zeroed private page for it), then let the guest share its top 16
# pages with TDG.VP.VMCALL&lt;MapGPA&gt; and write a bounce buffer into each through the shared alias. The in-place VMM
# answers each MapGPA exit as QEMU's `kvm_convert_memory` does; the out-of-place one here only sets the attribute
# and does *not discard* the side no longer used (QEMU would). The question: how many physical pages back one GFN?
#
# Out-of-place **without** the discard, the shared GFNs have two pages: the guest_memfd page (green: private, no
# longer in the TD, still allocated) and the anonymous page behind `userspace_addr` (orange). In-place they have
# one, whose attribute flipped to shared (blue). Edit the calls — share fewer pages, let the VMM convert — and re-run.

# %%
machines = {}
for model, in_place in (("out-of-place, no discard", False), ("in-place", True)):
    vmm = Vmm("v8", gmem_in_place_conversion=in_place)
    recipes.create_td(vmm)
    slot, _ = recipes.bind_guest_memfd(vmm, size=64 * PAGE_SIZE)  # out of place: the whole slot made private
    recipes.load_image(vmm, slot, gpa=0, data=b"firmware".ljust(2 * PAGE_SIZE, b"\0"))
    if in_place:  # the rest of the guest_memfd private too
        recipes.convert_range(vmm, 2 * PAGE_SIZE, 62 * PAGE_SIZE, private=True)
    recipes.run_guest(vmm, accept=tuple(range(2 * PAGE_SIZE, 64 * PAGE_SIZE, PAGE_SIZE)))
    top = dict(gpa=48 * PAGE_SIZE, size=16 * PAGE_SIZE)  # the guest shares its top 16 pages
    vmm.guest_map_gpa(**top, shared=True, vmm="convert" if in_place else "ignore")
    if not in_place:  # this VMM sets the attribute and discards nothing
        vmm.KVM_SET_MEMORY_ATTRIBUTES(address=top["gpa"], size=top["size"], attributes=0)
    for gpa in range(48 * PAGE_SIZE, 64 * PAGE_SIZE, PAGE_SIZE):
        vmm.guest_write(gpa=gpa, data=b"bounce buffer", shared=True)
    machines[model] = vmm
runs = [(model, *plot.machine_view(vmm)) for model, vmm in machines.items()]
plot.show(plot.ownership_compare(runs), alt="Two ownership maps side by side after converting one page to shared: out-of-place backs the GFN twice (the private guest_memfd page still allocated, plus the anonymous shared page); in-place has one page whose attribute flipped to shared.")

# %% [markdown]
# The allocated pages of each machine by owner, counted from `vmm.describe_pages()` (the TDX module's metadata —
# TDR, TDCS, vCPU and S-EPT pages — is left out: it is the same in every model), with a third machine whose VMM
# converts and discards as QEMU does: `build(Setup(...))` makes the calls above for any set-up (the widget below
# uses it). The dashed line is one page per GFN.

# %%
machines["out-of-place, discard"] = build(Setup(in_place=False, discard=True))
order = ["out-of-place, no discard", "out-of-place, discard", "in-place"]
plot.show(memory_bars([(model, machines[model]) for model in order], 64), alt="Bar chart of pages allocated per GFN in three memory models: out-of-place without discard holds two pages for converted GFNs, out-of-place with discard and in-place hold one; a dashed line marks one page per GFN.")

# %% [markdown]
# With QEMU's discard the out-of-place total is back to one page per GFN — but only because every conversion
# frees one copy and allocates the other. The v8 cover letter gives the two reasons that is not good enough:
# the copy is wasted work (pKVM, which has no encryption, wants to share pages in place), and punching holes to
# keep the total steady fragments huge pages. **tdxsim does not model huge pages** (every page is 4 KiB, see
# `docs/fidelity.md`), so the fragmentation is not drawn here; chapter 06 follows one conversion call by call.

# %% [markdown]
# ## Toggle it yourself
#
# **Try it:** with in-place conversion off and no discard, drag the slider from 0 to 62 shared pages and watch
# the top bar grow past the dashed line (each shared page costs a second page). Tick "VMM discards": the bar comes
# back to 64, and the green pages in the map become white (freed). Then switch in-place conversion on: one strip,
# blue where shared, and never a host page behind the guest.

# %%
backing_panel()

# %% [markdown]
# **Predict first:** in place, the VMM keeps the whole guest_memfd mapped, private pages included.

# %%
exercise("02.in-place-vmm-loads-private", 1)

# %% [markdown]
# ## SIGBUS on a private page
#
# In-place, the VMM has the whole guest_memfd mapped, private pages included. Its loads of a shared page work;
# a load of a private page faults, guest_memfd's fault handler refuses, and the process gets SIGBUS. Here the VMM
# adds a four-page firmware image to the TD built above (in place: it writes it while shared, makes it private
# and adds it with `source_addr = 0`), finalizes, writes into the last page (never converted: still shared), and
# then touches the firmware page and the last page.

# %%
binding = recipes.Binding(slot=0, guest_memfd=fd, gpa=0, size=size, userspace_addr=addr)  # the slot made above
image = b"".join(f"firmware page {i}".encode().ljust(PAGE_SIZE, b"\0") for i in range(4))
recipes.load_image(host, binding, gpa=0, data=image)
recipes.run_guest(host)  # KVM_TDX_FINALIZE_VM
host.write(binding.userspace_addr + 63 * PAGE_SIZE, b"virtio ring")
base = binding.userspace_addr
for name, va in (("firmware page", base), ("shared page", base + 63 * PAGE_SIZE)):
    result = host.read(va, 16)
    print(f"{name:>13} at VA {va:#x}:", result.get("signal") or result["data"])

# %% [markdown]
# ## Misconceptions
#
# **"In-place conversion and TDX in-place add are the same thing."** Different layers. In-place *conversion* is a
# guest_memfd property: shared and private are one physical page, and only its attribute flips (this chapter).
# In-place *add* is a TDX-module ability: TDH.MEM.PAGE.ADD with the source page equal to the target (chapter 07).
# Yan Zhao: "TDX's in-place add does not rely on gmem in-place conversion"; Sean: without in-place conversion it is
# useless, because userspace can never have written the target.
#
# **"Conversions keep memory contents."** It depends on the model and the direction; v8 promises nothing more
# than that KVM itself does not change contents on an attribute update (v8 17/46, the api.rst text). What tdxsim
# models (`docs/fidelity.md`):
#
# | conversion | out-of-place (per-VM attributes) | in-place (per-guest_memfd attributes) |
# |---|---|---|
# | shared → private | **lost**: the private side is another page (the guest_memfd one); the shared bytes stay in the anonymous page behind `userspace_addr`, which the VMM's discard then frees | **kept in the folio** (only its attribute flips), but they reach the TD only through a build-time in-place `PAGE.ADD` (before finalize); at run time `AUG` + `ACCEPT` gives a zeroed page |
# | private → shared, page in the TD | **lost**: the shared side is the anonymous page, which never held the TD's data (the VMM's discard punches the private page out of guest_memfd) | **lost**: the page leaves the TD (BLOCK, TRACK, PAGE.REMOVE) and what the TD wrote stays under its HKID; v8's api.rst says to treat this direction as losing the contents, since removal has firmware-dependent side effects |
#
# That is why the bytes a VMM writes into a guest_memfd page while it is shared survive the conversion to private
# and reach the TD through an **in-place add**: the folio is the same, and before `KVM_TDX_FINALIZE_VM`
# `KVM_TDX_INIT_MEM_REGION` with `source_addr = 0` makes that very page TD memory with `TDH.MEM.PAGE.ADD`, source =
# target (v8 23/46, chapter [07](07-source-addr-zero.ipynb)). Out of place there is nothing in the private page to
# add, and v8 refuses `source_addr = 0` with `-EOPNOTSUPP`.
#
# The build-time door and the run-time door differ on contents, whatever the model:
#
# * **build time, `TDH.MEM.PAGE.ADD`** (before finalize): the TDX module copies a source page into the new private
#   page, or, in place, keeps the page's own contents; it can measure them (`KVM_TDX_MEASURE_MEMORY_REGION`).
# * **run time, `TDH.MEM.PAGE.AUG` + `TDG.MEM.PAGE.ACCEPT`** (after finalize): AUG maps the page PENDING with no
#   copy and no measurement (`tdx_mem_page_aug`), and the guest's ACCEPT initialises it to zero (intel/tdx-module
#   TDX_1.5.01 `tdg_mem_page_accept.c`). A page the guest converts to private at run time starts as zeros, even
#   in place. Chapter [06](06-conversions-at-runtime.ipynb) follows such a conversion call by call.
#
# In tdxsim the TD's plaintext stays behind the TD's key when a page goes back to shared:
# %%
host.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=binding.guest_memfd, offset=0, size=PAGE_SIZE, attributes=0)
print("firmware page after private -> shared:", host.read(binding.userspace_addr, 16)["data"])
print(host.describe_pages()[hex(host.kvm.gmems[0].folios[0] * PAGE_SIZE)]["contents"])

# %% [markdown]
# ## Exercises
#
# Predict first; the panel above and the simulator are there to try things. Answer in the box and press **Check**:
# you are told whether you are right, and why. (Question 1 was asked earlier, before the cells that answer it.)

# %%
exercise("02.out-of-place-backing", 2)


# %%
exercise("02.in-place-backing", 3)

# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | memslots and their guest_memfd binding | `virt/kvm/kvm_main.c`, `virt/kvm/guest_memfd.c` | `kvm_set_memory_region`, `kvm_gmem_bind` | [api.rst](https://docs.kernel.org/virt/kvm/api.html) |
# | guest_memfd creation, mmap, user faults | `virt/kvm/guest_memfd.c` | `kvm_gmem_create`, `kvm_gmem_mmap`, `kvm_gmem_fault_user_mapping` | [guest_memfd mmap merge](https://git.ipfire.org/?a=object&h=a6ad54137af9&p=thirdparty%2Fkernel%2Fstable.git) |
# | per-VM attributes (out-of-place) | `virt/kvm/kvm_main.c` | `kvm_vm_ioctl_set_mem_attributes` | [guest_memfd merge](https://android-kvm.googlesource.com/linux/+/6c370dc65374db5afbc5c6c64c662f922a2555ad) |
# | per-guest_memfd attributes (in-place) | `virt/kvm/guest_memfd.c` | `kvm_gmem_set_attributes`, `kvm_gmem_is_safe_for_conversion` | [v8 cover](https://lore.kernel.org/all/20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com/) |
# | the VMM's conversion and discard | QEMU `accel/kvm/kvm-all.c` | `kvm_convert_memory` | — |
# | what "out-of-place" means | — | — | [akPEKslqAhygyjhg@google.com](https://lore.kernel.org/all/akPEKslqAhygyjhg@google.com/) |
#
# In tdxsim: `tdxsim/kvm/kvm_main.py`, `tdxsim/kvm/guest_memfd.py`, `Vmm.kvm_convert_memory` in
# `tdxsim/vmm/process.py`, and this chapter's `tdxsim/lessons/backing.py`.

# %% [markdown]
# ## Review
#
# Three questions on the chapter, each explained once you answer it.

# %%
review("02")

# %% [markdown]
# **Next:** [03 — Three page tables](03-three-page-tables.ipynb): how a GFN reaches its page through the shared EPT,
# the mirror EPT and the Secure EPT. Terms: [glossary](../docs/glossary.md).
