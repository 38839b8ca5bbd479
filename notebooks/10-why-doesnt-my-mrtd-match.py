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
# # 10 — Why doesn't my MRTD match?
#
# **Who it is for:** anyone who computed the MRTD of a TD's firmware offline (with tdx-measure, dstack-mr, a script
# of their own) and got a value the TD's quote does not contain. Read chapter
# [05](05-what-the-measurement-covers.ipynb) (what MRTD covers) first.
#
# **What you will learn:**
# 1. the handful of ways real VMMs have loaded the same firmware — one order per page, one per section, sections
#    measured although the firmware did not ask, and the reverse — and that each builds another MRTD;
# 2. to name the loader from a digest: `tdxsim mrtd FIRMWARE --expect HEX` tries every variant through the simulated
#    KVM and TDX module, and says what a match tells you about the VMM;
# 3. to see *where* two record streams part (section, page, GPA, ADD or EXTEND), which a digest hides;
# 4. to read MRTD, RTMRs, TD attributes and XFAM out of a real TD quote, and what to suspect when nothing matches.
#
# **Time:** about 20 minutes.
#
# ← [05 — what the measurement covers](05-what-the-measurement-covers.ipynb) ·
# [06 — conversions at runtime](06-conversions-at-runtime.ipynb) → · terms: [MRTD](../docs/glossary.md#mrtd),
# [TDH.MR.EXTEND](../docs/glossary.md#tdh-mr-extend),
# [KVM_TDX_MEASURE_MEMORY_REGION](../docs/glossary.md#kvm-tdx-measure-memory-region), [TDVF](../docs/glossary.md#tdvf),
# [RTMR](../docs/glossary.md#rtmr) · the command: [docs/scenario.md](../docs/scenario.md)

# %%
from IPython import display as ipd

from tdxsim import plot
from tdxsim.lessons import doctor
from tdxsim.quote import parse_quote
from tdxsim.tdvf import parse_tdvf
from tdxsim.vmm.variants import diagnose, find_variant, loader_variants, run_variant, transcript, transcript_text
from tdxsim.widgets.doctor import mrtd_doctor

# %% [markdown]
# ## The suspects
#
# An MRTD is one SHA-384 over the TDX module's records in call order: one per `TDH.MEM.PAGE.ADD` (the GPA), one per
# `TDH.MR.EXTEND` (the GPA and 256 bytes). So the same firmware builds another MRTD whenever the VMM issues the
# calls in another order, or extends a section the firmware did not mark, or skips one it did. Here is a small
# firmware image laid out like OVMF — a measured BFV, an unmeasured CFV, temporary memory, a TD HOB — plus one
# section marked PAGE.AUG, and every variant that applies to it. Each changes one thing from the faithful load, so a
# match names one cause.

# %%
image = doctor.demo_image()
sections = parse_tdvf(image)
for v in loader_variants(sections):
    print(f"{v.name:24} {v.summary}")

# %% [markdown]
# ## A mismatch, diagnosed
#
# Suppose a colleague's TD reports the MRTD below, and our calculator says `single-pass` gives something else.
# `diagnose` loads the image once per variant — every record a SEAMCALL made by the simulated KVM, exactly as for
# `tdxsim mrtd` — and compares. (From a shell: `python -m tdxsim mrtd FIRMWARE.fd --expect HEX`.) Edit `td_mrtd` and
# run the cell again.

# %%
td_mrtd = "59c74d56a69c39a8b926ac800bdbaa42986aaed609f7e263fe8e03540e1abe108c89e98ac8d4448f63baa3641f8384c3"
diagnosis = diagnose(image, td_mrtd)
print(diagnosis.report())

# %% [markdown]
# The match is `two-pass`: the VMM added every page of a section before measuring any of it. That is the order
# of older TDX stacks, and the fix people were given in virtee/tdx-measure #18 was exactly tdx-measure's
# `--two-pass-add-pages`. Today's QEMU and KVM extend each page right after adding it (`single-pass`).
#
# ## Where the two streams part
#
# A digest says only "different". The record streams say where: below, the whole single-pass stream above the
# two-pass one, coloured by section, and the records around the first difference. Both start with the PAGE.ADD of
# the BFV's first page; then single-pass extends that page (record 1 is an `EXTEND`, chunk 0) while two-pass adds
# the next page (record 1 is an `ADD`). From there on every hash differs, although the two streams hold exactly the
# same records.

# %%
reference = diagnosis.results[0].measurement.records
two_pass = next(r for r in diagnosis.results if r.variant.name == "two-pass").measurement.records
alt = plot.stream_alt_text(sections, reference, two_pass, "two-pass")
ipd.display(
    plot.show(plot.record_streams(sections, reference, two_pass, "two-pass")),
    metadata={"image/png": {"alt": alt}},
)
print(alt)

# %% [markdown]
# Try another variant in the call above — `"extend-TD_HOB"` parts much later, at the TD HOB's first page, where
# single-pass adds the next page and the variant extends chunk 0 of the first one; `"add-aug"` parts only at the
# very end, where the variant adds the PAGE.AUG section's pages that single-pass leaves to the guest.
#
# The same as a transcript, one line per record, so two runs diff with any diff tool
# (`python -m tdxsim mrtd FIRMWARE.fd --transcript [--variant NAME] [--json]`):

# %%
lines = transcript_text(transcript(run_variant(image, sections, find_variant(sections, "two-pass")))).splitlines()
print("\n".join(lines[:6]))

# %% [markdown]
# ## The doctor, call by call
#
# `diagnose` is a loop you can write yourself: each loader variant is loaded through the simulated KVM by
# `run_variant` (which calls `measure_firmware` with the variant's order and its per-section add and measure
# choices), and its MRTD is compared with the one you have.

# %%
for variant in loader_variants(sections):
    measured = run_variant(image, sections, variant)
    print(f"{variant.name:24} {measured.mrtd[:24]}…  {'MATCH' if measured.mrtd == td_mrtd else ''}")

# %% [markdown]
# ## Measure it yourself, two-pass
#
# And `measure_firmware` is a list of ioctls. Here they are for the demo image, as QEMU's `tdx_finalize_vm` issues
# them: build the TD, give it two memslots backed by guest_memfd (low RAM for the temporary memory and the TD HOB,
# and the window below 4 GiB that holds the firmware volumes), then one `KVM_TDX_INIT_MEM_REGION` per section from a
# source buffer. Two-pass (per section) adds a section without `KVM_TDX_MEASURE_MEMORY_REGION` and then extends it
# with `KVM_TDX_EXTEND_MEMORY` (the v19 series' ioctl); single-pass passes the flag and KVM extends each page right
# after adding it. (QEMU also passes the TD HOB's address to `KVM_TDX_INIT_VCPU`; that does not enter MRTD, and
# `recipes.create_td` passes 0.)
#
# **Try it:** set `TWO_PASS = False` and run the cell: the MRTD becomes single-pass's. Then also replace
# `section.measured` by `True` in both places, so every section is extended: which variant of the list above is
# that?

# %%
import tdxsim
from tdxsim import recipes
from tdxsim.kvm.uapi import KVM_TDX_MEASURE_MEMORY_REGION

TWO_PASS = True
vmm = tdxsim.Vmm(kernel="v8", gmem_in_place_conversion=False)
recipes.create_td(vmm)
recipes.bind_guest_memfd(vmm, 16 << 20, gpa=0, slot=0)  # low RAM: TempMem and the TD HOB
recipes.bind_guest_memfd(vmm, 16 << 20, gpa=0xFF000000, slot=1)  # the firmware window below 4 GiB: BFV, CFV
for section in sections:
    if section.augmented:  # PAGE.AUG: left to the guest, never added by the VMM
        continue
    source = vmm.mmap(length=section.memory_data_size)["addr"]
    if section.type_name in ("BFV", "CFV"):  # the volumes' bytes come from the image; the rest are zeros
        vmm.write(source, image[section.data_offset : section.data_offset + section.memory_data_size])
    flags = KVM_TDX_MEASURE_MEMORY_REGION if section.measured and not TWO_PASS else 0
    r = vmm.KVM_TDX_INIT_MEM_REGION(
        vcpu=0, source_addr=source, gpa=section.memory_address, nr_pages=section.pages, flags=flags
    )
    print(f"{section.type_name:8} {section.memory_address:#12x}  {r}")
    if section.measured and TWO_PASS:
        print(f"{'':8} {'':12}  {vmm.KVM_TDX_EXTEND_MEMORY(gpa=section.memory_address, nr_pages=section.pages)}")
    vmm.munmap(source, section.memory_data_size)  # QEMU drops the source buffer after the add
print(vmm.KVM_TDX_FINALIZE_VM())
print("MRTD", vmm.mrtd().hex())

# %% [markdown]
# The same digest as `measure_firmware(image, two_pass=True)` and as the variant the doctor named above:

# %%
from tdxsim.vmm.firmware import measure_firmware

by_hand = vmm.mrtd().hex()
print(by_hand == measure_firmware(image, two_pass=True).mrtd, by_hand == td_mrtd)

# %% [markdown]
# ## A real quote
#
# The MRTD to compare usually comes from a quote. `parse_quote` reads a TD quote (versions 4 and 5, Intel's DCAP
# layout) with nothing but `struct`; `parse_tdreport` reads the 1024-byte TDREPORT the guest gets from
# `TDG.MR.REPORT`. This one is a production quote from a Sapphire Rapids host, shipped as test data by
# google/go-tdx-guest (Apache-2.0). (`python -m tdxsim mrtd --quote FILE`.)

# %%
quote = parse_quote(doctor.SHIPPED_QUOTE.read_bytes())
print(quote.text())

# %% [markdown]
# That TD ran firmware we do not have, so no variant of our image can match — and the doctor says so, lists what it
# tried and what else can explain a mismatch:

# %%
print(diagnose(image, quote.mrtd).report())

# %% [markdown]
# ## Try it: paste an MRTD
#
# **Try it:** the box holds the digest from above; press **Diagnose**. Then copy another variant's MRTD out of the
# table — the "draw" menu redraws where that variant parts from single-pass. Paste the quote's MRTD (no match, and
# the list of other causes), or change one digit. With Debian's `ovmf` package installed you can pick the real
# `OVMF.fd`: ten variants, about 8200 records each.

# %%
mrtd_doctor(td_mrtd)

# %% [markdown]
# ## What is not modelled
#
# The simulated VMM writes no TD HOB contents (QEMU's `tdvf_hob_create` does, and they depend on the RAM layout),
# so `extend-TD_HOB` measures zero pages here; a real TD whose VMM measured its HOB needs that HOB's bytes. RTMRs are
# read from quotes but not replayed (that needs the TD's event log). TDX module versions that changed the record
# layout are not modelled — if one did, no variant would match.

# %% [markdown]
# ## Misconceptions
#
# **"Different MRTD, so the firmware was tampered with."** — Often it is the loader, not the bytes: the same image
# gives ten MRTDs here. Rule out the loader before suspecting the firmware.
#
# **"Two-pass just means 'measure after adding'."** — Per section and per image are different orders and different
# MRTDs; tdx-measure's `--two-pass-add-pages` is per section.
#
# **"Unmeasured sections don't matter."** — Their pages still enter MRTD through PAGE.ADD records (the GPAs); only
# their contents are left out.

# %% [markdown]
# ## Exercise
#
# A colleague's VMM extends the demo image's TD HOB, which the firmware leaves unmeasured (the `extend-TD_HOB`
# variant above). How long is its record stream? Work it out first; then check with
# `len(run_variant(image, sections, find_variant(sections, "extend-TD_HOB")).records)`.

# %%
from tdxsim.widgets.exercise import exercise, review

exercise("10.records-extend-hob")

# %% [markdown]
# ## Where is this in the kernel / QEMU?
#
# | what | file | function | link |
# |---|---|---|---|
# | one `KVM_TDX_INIT_MEM_REGION` per TDVF section, MEASURE iff MR.EXTEND | QEMU `target/i386/kvm/tdx.c` | `tdx_finalize_vm` | [QEMU TDX docs](https://www.qemu.org/docs/master/system/i386/tdx.html) |
# | PAGE.ADD, then 16 MR.EXTEND per page (single-pass) | `arch/x86/kvm/vmx/tdx.c` | `tdx_gmem_post_populate` | [intel-tdx.rst](https://docs.kernel.org/virt/kvm/x86/intel-tdx.html) |
# | the SEAMCALL wrappers | `arch/x86/virt/vmx/tdx/tdx.c` | `tdh_mem_page_add`, `tdh_mr_extend` | [TDX MMU part 2](https://lore.kernel.org/all/20241112073327.21979-1-yan.y.zhao@intel.com/) |
# | the record each call hashes | intel/tdx-module `src/common/crypto/sha384.h` | `sha384_128B_block_t` | [tdx-module](https://github.com/intel/tdx-module) |
# | the per-section order, as a flag | tinfoilsh/tdx-measure `src/tdvf.rs` | `compute_mrtd`, `PageAddOrder::TwoPass` | [virtee/tdx-measure #18](https://github.com/virtee/tdx-measure/issues/18) |
# | the quote layout | google/go-tdx-guest `abi/abi.go` | `QuoteToProto` | [go-tdx-guest](https://github.com/google/go-tdx-guest) |
#
# ← [05 — what the measurement covers](05-what-the-measurement-covers.ipynb) · Next: [06 — conversions at
# runtime](06-conversions-at-runtime.ipynb), what happens to private pages after boot.

# %% [markdown]
# ## Review
#
# Three questions on the whole chapter; each tells you whether you are right and why.

# %%
review("10")

