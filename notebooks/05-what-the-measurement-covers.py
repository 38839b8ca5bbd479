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
# # 05 — What the measurement covers
#
# **Who it is for:** anyone who attests TDs or builds their firmware and wants to know exactly which bytes and
# which choices end up in MRTD — and which do not. Chapter [04](04-building-a-td.ipynb) (the build) helps.
#
# **What you will learn:**
# 1. MRTD, byte for byte: a SHA-384 over 128-byte records, one per `TDH.MEM.PAGE.ADD` (the GPA only) and one per
#    `TDH.MR.EXTEND` (the GPA and 256 bytes of content);
# 2. which of a page's GPA, contents, source and order enter MRTD, and when;
# 3. that in-place (`source_addr` 0) and classic loading give the same MRTD, and single-pass and two-pass (per
#    section) loading do not;
# 4. what a real OVMF image measures.
#
# **Time:** about 25 minutes.
#
# ← [04 — building a TD](04-building-a-td.ipynb) · [10 — why doesn't my MRTD match?](10-why-doesnt-my-mrtd-match.ipynb) →
# · an MRTD that does not match? [10 — why doesn't my MRTD match?](10-why-doesnt-my-mrtd-match.ipynb)
# · terms: [MRTD](../docs/glossary.md#mrtd), [TDH.MR.EXTEND](../docs/glossary.md#tdh-mr-extend),
# [KVM_TDX_MEASURE_MEMORY_REGION](../docs/glossary.md#kvm-tdx-measure-memory-region), [TDVF](../docs/glossary.md#tdvf),
# [RTMR](../docs/glossary.md#rtmr)

# %%
import tdxsim
from tdxsim import plot, recipes
from tdxsim.lessons import measurement
from tdxsim.vmm.firmware import measure_firmware
from tdxsim.widgets.lessons import mrtd_explorer

# %% [markdown]
# ## Two records
#
# We add two pages by hand: GPA 0x1000 with `KVM_TDX_MEASURE_MEMORY_REGION`, GPA 0x2000 without. The recipes of
# `tdxsim.recipes` are QEMU's sequences written as plain `Vmm` calls (chapter [04](04-building-a-td.ipynb) makes
# them one by one): create the TD, bind a guest_memfd, load a page with `KVM_TDX_INIT_MEM_REGION`. `vmm.mrtd()` is
# the SHA-384 of what has been measured so far, then, after `KVM_TDX_FINALIZE_VM`, the MRTD.

# %%
vmm = tdxsim.Vmm("v8")
recipes.create_td(vmm)
binding, _ = recipes.bind_guest_memfd(vmm, size=0x3000)
print("after TDH.MNG.INIT     ", vmm.mrtd().hex()[:32], "…")

# %%
content = bytes(range(256)) * 16
add = recipes.load_image(vmm, binding, gpa=0x1000, data=content, measure=True)[-1]
print(add)
print("after 0x1000, measured ", vmm.mrtd().hex()[:32], "…")

# %%
add = recipes.load_image(vmm, binding, gpa=0x2000, data=bytes(4096), measure=False)[-1]
print(add)
print("after 0x2000, unmeasured", vmm.mrtd().hex()[:32], "…")

# %%
print(recipes.run_guest(vmm)[0])
print("MRTD", vmm.mrtd().hex())

# %% [markdown]
# The figure shows the record layout (a 16-byte tag, the GPA little-endian, zeros) and the running SHA-384 after
# each SEAMCALL, replayed from the machine's event record; the last line checks the replay against the MRTD the TDX
# module reported.

# %%
def chunk(gpa):  # the 256 bytes a TDH.MR.EXTEND at gpa measured
    return vmm.private_bytes(gpa, 256)


plot.show(
    plot.mrtd_records(vmm.trace.events, chunk, vmm.mrtd().hex()),
    alt="MRTD records for two pages added by hand: a TDH.MEM.PAGE.ADD record (tag and GPA) for GPA 0x1000 and for 0x2000, sixteen TDH.MR.EXTEND records with the bytes only for 0x1000, the running SHA-384 after each, and a check that the replay matches the MRTD the TDX module reported.",
)

# %% [markdown]
# `PAGE.ADD` hashes the GPA and nothing else. So a page added without `MEASURE` contributes its address, and any
# bytes could be in it: the guest must not trust such a page's contents, or must measure them itself (into an
# RTMR, at runtime).
#
# ## Same bytes, different ways
#
# The same image loaded several ways. `measure_firmware` parses a TDVF image's sections and loads it as QEMU
# does, one `KVM_TDX_INIT_MEM_REGION` per section, on a fresh machine; then finalizes. The TDX module never sees
# where the source page was: in-place (the target page is its own source, `source_addr` 0) and classic (a separate
# buffer) give the **same** MRTD. The two-pass order of older stacks (all `PAGE.ADD`s of a section, then its
# `MR.EXTEND`s; KVM TDX v19's `KVM_TDX_EXTEND_MEMORY`), two-pass **per section**, hashes the same records in a
# different order, so a **different** MRTD; two-pass over the **whole image** (every section added first, then the
# measured ones extended) is a third order and a third MRTD.

# %%
image = measurement.small_image()  # a four-section TDVF image laid out as OVMF's
single = measure_firmware(image)
print("classic, single-pass          ", single.mrtd[:32], "…")
print("source 0, single-pass         ", measure_firmware(image, source_zero=True).mrtd[:32], "…")

# %%
per_section = measure_firmware(image, two_pass=True)
print("classic, two-pass per section ", per_section.mrtd[:32], "…")
print("source 0, two-pass per section", measure_firmware(image, two_pass=True, source_zero=True).mrtd[:32], "…")
print("classic, two-pass whole image ", measure_firmware(image, order="two-pass-image").mrtd[:32], "…")

# %% [markdown]
# Each result keeps its machine (`.vmm`), so the calls behind an MRTD can be read back: the SEAMCALL counts are the
# same in every order, only their order differs.

# %%
for fw in (single, per_section):
    print(f"{fw.order:12} {fw.page_add} TDH.MEM.PAGE.ADD, {fw.mr_extend} TDH.MR.EXTEND, {fw.vmm.td_state()}")

# %% [markdown]
# ## A real firmware image
#
# With Debian's `ovmf` package installed, the same loader reads `/usr/share/ovmf/OVMF.fd`'s TDVF metadata and loads
# it as QEMU would: one `KVM_TDX_INIT_MEM_REGION` per section, `MEASURE` where the section has the MR.EXTEND
# attribute. Only the boot firmware volume (BFV) is measured; the variable store (CFV), the TD HOB and temporary
# memory are added without. Without the package this cell uses the builder image above (so its output is not
# compared by the notebook tests).

# %%
# NBVAL_IGNORE_OUTPUT
ovmf = measurement.debian_ovmf()
fw = measure_firmware(ovmf if ovmf is not None else image)
for s in fw.sections:
    print(f"{s.type_name:8} GPA {s.memory_address:#010x} {s.pages:4} pages  {'MR.EXTEND' if s.measured else ''}")
print(fw.page_add, "TDH.MEM.PAGE.ADD,", fw.mr_extend, "TDH.MR.EXTEND")

# %% [markdown]
# ## Try it: what changes MRTD?
#
# **Try it:** flip a byte in the CFV (not measured): the MRTD stays the same. Flip one in the BFV (measured): it
# changes. Then leave the bytes alone and switch the load to "in place (source_addr 0)" (same) and the order to
# "two-pass per section" (different). If Debian's OVMF is installed, do the same with the real image.

# %%
mrtd_explorer()

# %% [markdown]
# ## What is not modelled
#
# **RTMRs** (the four runtime measurement registers the firmware and the guest extend after boot) are not modelled:
# tdxsim stops at `TDH.MR.FINALIZE` (chapter [10](10-why-doesnt-my-mrtd-match.ipynb) reads their values, with
# MRTD's, out of a real quote). Nor are MRCONFIGID, MROWNER and MROWNERCONFIG (given in `KVM_TDX_INIT_VM`, not
# part of MRTD). Sections with the PAGE.AUG attribute are skipped, as the peer MRTD tools do (QEMU itself does not
# look at the attribute; OVMF images carry none, docs/fidelity.md).

# %% [markdown]
# ## Misconceptions
#
# **"MRTD covers all initial memory contents."** — Only the chunks given to `TDH.MR.EXTEND`, i.e. the regions added
# with `KVM_TDX_MEASURE_MEMORY_REGION`; QEMU sets it only for sections with the MR.EXTEND attribute. `PAGE.ADD`
# measures the GPA alone (Project Oak's MRTD calculator; intel-tdx.rst).
#
# **"In-place conversion changes the measurement."** — No: the source page is not an input to MRTD, so in-place and
# classic loading of the same bytes agree (above).
#
# **"The host can read TD private memory; it's just ciphertext."** — Measurement says what was loaded, not who can
# read it; who can read it is chapter [01](01-who-owns-this-page.ipynb)'s ownership question.

# %% [markdown]
# ## Exercises
#
# Answer in the box and press **Check**: you are told whether you are right, and why. Then check yourself with
# `recipes.load_image` and `vmm.mrtd()` in a cell of your own; the expected MRTDs are in `tests/data/mrtd-vectors.json`,
# computed with `hashlib` from the TDX module's record layout (intel/tdx-module TDX_1.5.01, `sha384.h`).

# %%
from tdxsim.widgets.exercise import exercise, review

exercise("05.records-three-pages", 1)

# %%
exercise("05.unmeasured-bytes", 2)

# %%
exercise("05.one-call-or-two", 3)

# %% [markdown]
# ## Where is this in the kernel?
#
# | what | file | function | link |
# |---|---|---|---|
# | PAGE.ADD, then 16 MR.EXTEND per page with MEASURE | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | MRTD frozen | `arch/x86/kvm/vmx/tdx.c` | `tdx_td_finalize` (TDH.MR.FINALIZE) | commit 012426d |
# | the SEAMCALL wrappers | `arch/x86/virt/vmx/tdx/tdx.c` | `tdh_mem_page_add`, `tdh_mr_extend`, `tdh_mr_finalize` | [TDX MMU part 2](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |
# | QEMU's firmware load, MEASURE per section | QEMU `target/i386/kvm/tdx.c` | `tdx_init_fw_mem_region` | [i386/tdx: load TDVF](https://git.ipfire.org/?a=commit&h=0dd5fe5ebeabefc7b3d7f043991b1edfe6b8eda9&p=thirdparty%2Fqemu.git) |
#
# ← [04 — building a TD](04-building-a-td.ipynb) · Next: [10 — why doesn't my MRTD match?](10-why-doesnt-my-mrtd-match.ipynb), MRTD against a real TD's quote.

# %% [markdown]
# ## Review
#
# Three questions on the whole chapter; each tells you whether you are right and why.

# %%
review("05")

