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
# 3. that in-place and classic loading give the same MRTD, and single-pass and two-pass loading do not;
# 4. what a real OVMF image measures.
#
# **Time:** about 25 minutes.
#
# ← [04 — building a TD](04-building-a-td.ipynb) · [06 — conversions at runtime](06-conversions-at-runtime.ipynb) →
# · terms: [MRTD](../docs/glossary.md#mrtd), [TDH.MR.EXTEND](../docs/glossary.md#tdh-mr-extend),
# [KVM_TDX_MEASURE_MEMORY_REGION](../docs/glossary.md#kvm-tdx-measure-memory-region), [TDVF](../docs/glossary.md#tdvf),
# [RTMR](../docs/glossary.md#rtmr)

# %%
from IPython.display import Image

from tdxsim import plot
from tdxsim.lessons import measurement
from tdxsim.lessons.measurement import Variant
from tdxsim.widgets import reveal
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
Image(plot.to_png(plot.mrtd_records(two.events, two.chunk, two.out["final"]["mrtd"]), dpi=60), metadata={"alt": "MRTD records for two pages added by hand: a TDH.MEM.PAGE.ADD record (tag and GPA) for GPA 0x1000 and for 0x2000, sixteen TDH.MR.EXTEND records with the bytes only for 0x1000, the running SHA-384 after each, and a check that the replay matches the MRTD the TDX module reported."})

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
# hashes the same records in a different order, so a **different** MRTD.

# %%
image = measurement.small_image()
for name, variant in [
    ("classic, single-pass", Variant()),
    ("in place, single-pass", Variant(in_place=True)),
    ("classic, two-pass", Variant(two_pass=True)),
    ("in place, two-pass", Variant(in_place=True, two_pass=True)),
]:
    print(f"{name:22} {measurement.measure(image, variant).mrtd[:32]}…")

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
# changes. Then leave the bytes alone and switch the load to "in place" (same) and the order to "two-pass"
# (different). If Debian's OVMF is installed, do the same with the real image.

# %%
mrtd_explorer()

# %% [markdown]
# ## What is not modelled
#
# **RTMRs** (the four runtime measurement registers the firmware and the guest extend after boot) are not modelled:
# tdxsim stops at `TDH.MR.FINALIZE`. Nor are MRCONFIGID, MROWNER and MROWNERCONFIG (given in `KVM_TDX_INIT_VM`, not
# part of MRTD), TDREPORT and quotes. Sections with the PAGE.AUG attribute are skipped, as the peer MRTD tools
# do (QEMU itself does not look at the attribute; OVMF images carry none, docs/fidelity.md).

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
# The expected MRTDs below are from `reference/mrtd-worked-examples.json`, computed independently with
# `hashlib` from the record layout of tdx-module.md §4 — not by tdxsim.
#
# **1.** One page at GPA 0x1000, added **without** `MEASURE`, then finalize. What is MRTD?

# %%
one = measurement.pages_by_hand([(0x1000, None)])
assert one.out["final"]["mrtd"] == (
    "fcdabf6fdf38b87d2e3a89b1ab68c242abb261dffa70ef6f1dc2220c2752d2729cdf1be92afc2e0e4297f04e2b629552"
)  # mrtd-worked-examples.json: "one PAGE.ADD at GPA 0x1000, no extend"
reveal(
    "<b>SHA-384 of one 128-byte record</b>: <code>'MEM.PAGE.ADD'</code> zero-padded to 16 bytes, the GPA 0x1000 "
    "as a little-endian u64, 104 zero bytes. The page's contents do not enter."
)

# %% [markdown]
# **2.** The same page holding `bytes(range(256)) * 16`, added **with** `MEASURE` — in place this time.

# %%
measured = measurement.pages_by_hand([(0x1000, content)], in_place=True)
assert measured.out["final"]["mrtd"] == (
    "15a8464628b6214951c4a1b57775507dd950263654e8790e257995b45013c84aba1d87a3bcbc1929b5f7db6d3e92cad6"
)  # mrtd-worked-examples.json: PAGE.ADD at 0x1000, then 16 MR.EXTEND of bytes(range(256))*16
reveal(
    "<b>The worked example's value</b>, although the example assumes nothing about where the source page was: "
    "the PAGE.ADD record, then 16 × (an <code>'MR.EXTEND'</code> record for GPA 0x1000 + 256·i, and the 256 "
    "bytes of that chunk)."
)

# %% [markdown]
# **3.** Two unmeasured pages, 0x0 and 0x1000: does swapping the order of their `PAGE.ADD`s change MRTD?

# %%
ab = measurement.pages_by_hand([(0x0, None), (0x1000, None)]).out["final"]["mrtd"]
ba = measurement.pages_by_hand([(0x1000, None), (0x0, None)]).out["final"]["mrtd"]
assert ab != ba  # a hash chain: the records are hashed in SEAMCALL order (tdx-module.md §4)
reveal("<b>Yes.</b> MRTD is one running SHA-384: the same records in another order are another message.")

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
# Next: [06 — conversions at runtime](06-conversions-at-runtime.ipynb), what happens to private pages after boot.
