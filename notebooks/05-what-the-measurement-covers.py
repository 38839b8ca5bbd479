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
# 2. that a page's GPA and order matter, its contents only when measured, its source page never;
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

from tdxsim import plot
from tdxsim.lessons import measurement
from tdxsim.lessons.measurement import Variant
from tdxsim.widgets.lessons import mrtd_explorer

# %% [markdown]
# ## Two records
#
# We add two pages by hand: GPA 0x1000 with `KVM_TDX_MEASURE_MEMORY_REGION`, GPA 0x2000 without. The figure shows
# the record layout (a 16-byte tag, the GPA little-endian, zeros) and the running SHA-384 after each SEAMCALL,
# replayed from the event record; the last line checks the replay against the MRTD the TDX module reported.

# %%
content = bytes(range(256)) * 16
two = measurement.pages_by_hand([(0x1000, content), (0x2000, None)])
plot.show(plot.mrtd_records(two.events, two.chunk, two.out["final"]["mrtd"]), alt="MRTD records for two pages added by hand: a TDH.MEM.PAGE.ADD record (tag and GPA) for GPA 0x1000 and for 0x2000, sixteen TDH.MR.EXTEND records with the bytes only for 0x1000, the running SHA-384 after each, and a check that the replay matches the MRTD the TDX module reported.")

# %% [markdown]
# `PAGE.ADD` hashes the GPA and nothing else. So a page added without `MEASURE` contributes its address, and any
# bytes could be in it: the guest must not trust such a page's contents, or must measure them itself (into an
# RTMR, at runtime).
#
# ## Same bytes, different ways
#
# The same image loaded four ways. The TDX module never sees where the source page was: in-place (the target page
# is its own source, `source_addr` 0) and classic (a separate buffer) give the **same** MRTD. The two-pass order
# of older stacks (all `PAGE.ADD`s of a section, then its `MR.EXTEND`s; KVM TDX v19's `KVM_TDX_EXTEND_MEMORY`)
# (two-pass per section) hashes the same records in a different order, so a **different** MRTD.

# %%
image = measurement.small_image()
for name, variant in [
    ("classic, single-pass", Variant()),
    ("source 0, single-pass", Variant(source_zero=True)),
    ("classic, two-pass per section", Variant(two_pass=True)),
    ("source 0, two-pass per section", Variant(source_zero=True, two_pass=True)),
]:
    print(f"{name:31} {measurement.measure(image, variant).mrtd[:32]}…")

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
fw = measurement.measure(ovmf if ovmf is not None else image)
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
# `measurement.pages_by_hand` in a cell of your own; the expected MRTDs are in `tests/data/mrtd-vectors.json`,
# computed with `hashlib` from the TDX module's record layout (intel/tdx-module TDX_1.5.01, `sha384.h`).

# %%
from tdxsim.widgets.exercise import exercise, review

exercise("05.unmeasured-record", 1)

# %%
exercise("05.in-place-same-mrtd", 2)

# %%
exercise("05.order-matters", 3)

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
# ← [04 — building a TD](04-building-a-td.ipynb) · # Next: [10 — why doesn't my MRTD match?](10-why-doesnt-my-mrtd-match.ipynb), MRTD against a real TD's quote.

# %% [markdown]
# ## Review
#
# Three questions on the whole chapter; each tells you whether you are right and why.

# %%
review("05")

