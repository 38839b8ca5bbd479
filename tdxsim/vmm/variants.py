"""Why doesn't my MRTD match? The loader variants real stacks have used, each measured through the real call path.

An MRTD is SHA-384 over the TDX module's records in call order (intel/tdx-module TDX_1.5.01
src/common/crypto/sha384.h `sha384_128B_block_t`; tdh_mem_page_add.c, tdh_mr_extend.c), so a VMM that adds or
extends the same firmware in another order, or measures other sections, builds another MRTD. Each variant below
changes one thing from the metadata-faithful single-pass load, so a match names one cause; `diagnose` loads the
image once per variant (PAGE.ADD and MR.EXTEND as SEAMCALLs through KVM, as `measure_firmware` does) and says
where each variant's record stream first parts from the faithful one.
"""

from __future__ import annotations

import hashlib

from tdxsim.records import field, record
from tdxsim.tdvf import TDVF_ALIGNMENT, TdvfSection, check_qemu_loadable, parse_tdvf
from tdxsim.tdx.mrtd import EXTEND_CHUNK
from tdxsim.vmm.firmware import SINGLE_PASS, TWO_PASS, TWO_PASS_IMAGE, FirmwareMeasurement, measure_firmware

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any

#: Where the faithful load comes from (QEMU and KVM as merged upstream).
SOURCES_SINGLE_PASS = (
    "QEMU target/i386/kvm/tdx.c tdx_finalize_vm (v10.1.0): one KVM_TDX_INIT_MEM_REGION per TDVF section, "
    "KVM_TDX_MEASURE_MEMORY_REGION iff the section has MR.EXTEND",
    "Linux arch/x86/kvm/vmx/tdx.c tdx_gmem_post_populate (v6.16): TDH.MEM.PAGE.ADD, then 16 TDH.MR.EXTEND, per page",
    "tinfoilsh/tdx-measure src/tdvf.rs compute_mrtd, PageAddOrder::SinglePass (commit 046ad697), the default",
    "confidential-containers/td-shim PR #320 (fixes #316 'clarify order of MRTD calculation'): per page",
)


@record(frozen=True)
class LoaderVariant:
    """One way a VMM may have loaded the firmware: an order, and which sections it added and extended."""

    name: str
    summary: str
    meaning: str
    sources: tuple[str, ...]
    order: str = SINGLE_PASS
    measure: tuple[bool, ...] = ()
    add: tuple[bool, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The variant as the `mrtd --expect --json` output lists it."""
        return {
            "name": self.name,
            "summary": self.summary,
            "meaning": self.meaning,
            "sources": list(self.sources),
            "order": self.order,
        }


def _label(i: int, s: TdvfSection, sections: list[TdvfSection]) -> str:
    """A section's short name: its type, plus its GPA when another section has the same type."""
    if sum(t.type == s.type for t in sections) == 1:
        return s.type_name
    return f"{s.type_name}@{s.memory_address:#x}"


def loader_variants(sections: list[TdvfSection]) -> list[LoaderVariant]:
    """Every documented variant that applies to this section table, the faithful single-pass load first."""
    measured = tuple(s.measured for s in sections)
    added = tuple(not s.augmented for s in sections)
    out = [
        LoaderVariant(
            SINGLE_PASS,
            "per page: PAGE.ADD, then its 16 MR.EXTENDs; sections as the metadata says (the reference)",
            "the VMM loaded the firmware as upstream QEMU and KVM do",
            SOURCES_SINGLE_PASS,
            SINGLE_PASS,
            measured,
            added,
        ),
        LoaderVariant(
            TWO_PASS,
            "per section: every PAGE.ADD of the section, then its MR.EXTENDs",
            "the VMM added a whole section before measuring it: an older TDX KVM/QEMU pair (KVM_TDX_INIT_MEM_REGION "
            "without MEASURE, then a separate extend), not the merged single-pass KVM",
            (
                "tinfoilsh/tdx-measure `--two-pass-add-pages` (src/tdvf.rs PageAddOrder::TwoPass, commit 046ad697)",
                "virtee/tdx-measure #18 'MRTD measurement not matching': suggested fix `--two-pass-add-pages`",
                "confidential-containers/td-shim #316 / PR #320: the spec text before the fix read per section",
                "KVM TDX v19 (Isaku Yamahata, 2024) 'KVM: TDX: Extend memory measurement with initial guest memory'",
                "intel-staging/qemu-tdx #1 'MRTD value changed in Qemu version 8.2.50'; intel/MigTD #460",
            ),
            TWO_PASS,
            measured,
            added,
        ),
        LoaderVariant(
            TWO_PASS_IMAGE,
            "whole image: every PAGE.ADD of every section, then all MR.EXTENDs",
            "the VMM populated all initial memory before measuring any of it; no upstream stack does this, so "
            "suspect a home-grown VMM or calculator",
            ("no stack known; the other reading of 'two-pass' (td-shim #316 asked which order the spec meant)",),
            TWO_PASS_IMAGE,
            measured,
            added,
        ),
    ]
    for i, s in enumerate(sections):
        if not added[i]:
            continue
        flipped = tuple(not m if j == i else m for j, m in enumerate(measured))
        label = _label(i, s, sections)
        if s.measured:
            out.append(
                LoaderVariant(
                    f"no-extend-{label}",
                    f"section {i} ({label}) added but not extended, although its metadata has MR.EXTEND",
                    f"the VMM did not pass KVM_TDX_MEASURE_MEMORY_REGION for {label}: its contents are not in MRTD",
                    (
                        "QEMU tdx_finalize_vm: the flag comes from the section's MR.EXTEND attribute; a VMM that "
                        "ignores it measures only the GPAs (PAGE.ADD records)",
                    ),
                    SINGLE_PASS,
                    flipped,
                    added,
                )
            )
            continue
        why = {
            "TD_HOB": (
                "tianocore/edk2 #9545 (Bugzilla 4863): the TD HOB would have to be measured by init_memory_region",
                "google/gce-tcb-verifier #46, #51: a VMM measured what the metadata leaves unmeasured",
            ),
            "CFV": ("google/gce-tcb-verifier #46, #51: a VMM measured what the metadata leaves unmeasured",),
        }.get(s.type_name, ("a VMM that sets KVM_TDX_MEASURE_MEMORY_REGION for every section",))
        out.append(
            LoaderVariant(
                f"extend-{label}",
                f"section {i} ({label}) also extended, although its metadata has no MR.EXTEND",
                f"the VMM measured {label}'s contents into MRTD (KVM_TDX_MEASURE_MEMORY_REGION for it)",
                why,
                SINGLE_PASS,
                flipped,
                added,
            )
        )
    if sum(added) > 1 and not all(m for m, a in zip(measured, added, strict=True) if a):
        out.append(
            LoaderVariant(
                "extend-all",
                "every added section extended, whatever its metadata says",
                "the VMM set KVM_TDX_MEASURE_MEMORY_REGION for every section",
                ("a VMM that ignores the MR.EXTEND attribute and measures everything it adds",),
                SINGLE_PASS,
                tuple(a for a in added),
                added,
            )
        )
    if not all(added):
        out.append(
            LoaderVariant(
                "add-aug",
                "PAGE.AUG sections PAGE.ADDed too (one PAGE.ADD record per page)",
                "the VMM ignored the PAGE.AUG attribute and added those sections before finalize",
                (
                    "tinfoilsh/tdx-measure compute_mrtd skips PAGE.ADD for PAGE.AUG sections; a VMM that loads "
                    "every TDVF section with KVM_TDX_INIT_MEM_REGION adds them",
                ),
                SINGLE_PASS,
                measured,
                tuple(True for _ in sections),
            )
        )
    return out


@record(frozen=True)
class RecordInfo:
    """One MRTD record, placed in the section table."""

    index: int
    kind: str  # "ADD" (TDH.MEM.PAGE.ADD) or "EXTEND" (TDH.MR.EXTEND)
    gpa: int
    section: int | None
    section_name: str
    page: int | None
    chunk: int | None

    def describe(self) -> str:
        """One line, e.g. "EXTEND 0xffe20000 (section 0 BFV, page 0, chunk 0)"."""
        where = f"section {self.section} {self.section_name}, page {self.page}"
        if self.kind == "EXTEND":
            where += f", chunk {self.chunk}"
        return f"{self.kind} {self.gpa:#x} ({where})"

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON transcript and diff show it."""
        return {
            "index": self.index,
            "kind": self.kind,
            "gpa": hex(self.gpa),
            "section": self.section,
            "section_type": self.section_name,
            "page": self.page,
            "chunk": self.chunk,
        }


def record_info(sections: list[TdvfSection], index: int, rec: int) -> RecordInfo:
    """Decode a module log entry (`gpa << 1 | is_extend`) and find its section, page and 256-byte chunk."""
    gpa = rec >> 1
    kind = "EXTEND" if rec & 1 else "ADD"
    for i, s in enumerate(sections):
        if s.memory_address <= gpa < s.memory_address + s.memory_data_size:
            off = gpa - s.memory_address
            chunk = (off % TDVF_ALIGNMENT) // EXTEND_CHUNK if rec & 1 else None
            return RecordInfo(index, kind, gpa, i, _label(i, s, sections), off // TDVF_ALIGNMENT, chunk)
    return RecordInfo(index, kind, gpa, None, "outside every section", None, None)


@record(frozen=True)
class Divergence:
    """Where a variant's record stream first differs from the reference stream."""

    index: int
    reference: RecordInfo | None  # None: the reference stream ended here
    variant: RecordInfo | None  # None: the variant's stream ended here

    def describe(self) -> str:
        """One line naming both records at the first difference."""
        ref = self.reference.describe() if self.reference else "nothing (the reference stream ended)"
        var = self.variant.describe() if self.variant else "nothing (this stream ended)"
        return f"record {self.index}: {var} where single-pass has {ref}"

    def to_json(self) -> dict[str, Any]:
        """Both records at the first difference."""
        return {
            "index": self.index,
            "single_pass": self.reference.to_json() if self.reference else None,
            "variant": self.variant.to_json() if self.variant else None,
        }


def first_difference(sections: list[TdvfSection], reference: list[int], other: list[int]) -> Divergence | None:
    """The first record where two logs differ (or where one ends), or None if they are the same stream."""
    n = min(len(reference), len(other))
    lo = next((i for i in range(n) if reference[i] != other[i]), n)
    if lo == n and len(reference) == len(other):
        return None
    ref = record_info(sections, lo, reference[lo]) if lo < len(reference) else None
    var = record_info(sections, lo, other[lo]) if lo < len(other) else None
    return Divergence(lo, ref, var)


@record
class VariantResult:
    """One variant loaded: its MRTD, counts, and where its stream parts from the faithful one."""

    variant: LoaderVariant
    measurement: FirmwareMeasurement = field(repr=False)
    divergence: Divergence | None = None

    @property
    def mrtd(self) -> str:
        """The variant's MRTD, 96 hex digits."""
        return self.measurement.mrtd


#: What can explain a mismatch that no variant reproduces.
OTHER_CAUSES = (
    "another firmware build: the TD ran a different OVMF/TDVF image than this file (compare versions and hashes)",
    "a VMM that added or measured other pages: e.g. a TD HOB filled by QEMU's tdvf_hob_create (its bytes depend on "
    "the RAM layout), extra sections, or a different GPA layout",
    "a different TDX module or KVM that changes what is measured (check the module version in the quote's "
    "TEE_TCB_SVN and the host kernel)",
    "the value compared is not MRTD: a byte-order or field mix-up (MRTD sits at offset 136 of the TD report body)",
)


@record
class Diagnosis:
    """The doctor's answer for one firmware image and one expected MRTD."""

    expected: str
    sections: list[TdvfSection]
    results: list[VariantResult]

    @property
    def matches(self) -> list[VariantResult]:
        """The variants whose MRTD equals the expected one."""
        return [r for r in self.results if r.mrtd == self.expected]

    def to_json(self) -> dict[str, Any]:
        """The `mrtd --expect --json` object."""
        return {
            "expected": self.expected,
            "match": [r.variant.name for r in self.matches],
            "variants": [
                {
                    **r.variant.to_json(),
                    "mrtd": r.mrtd,
                    "match": r.mrtd == self.expected,
                    "page_add": r.measurement.page_add,
                    "mr_extend": r.measurement.mr_extend,
                    "first_difference": r.divergence.to_json() if r.divergence else None,
                }
                for r in self.results
            ],
            "other_causes": [] if self.matches else list(OTHER_CAUSES),
        }

    def report(self) -> str:
        """The text report: the verdict, what it tells about the VMM, and every variant's first difference."""
        lines = [f"expected MRTD {self.expected}"]
        matches = self.matches
        if matches:
            for r in matches:
                lines.append(f"MATCH: {r.variant.name}: {r.variant.summary}")
                lines.append(f"  what it tells: {r.variant.meaning}")
                lines.extend(f"  source: {src}" for src in r.variant.sources)
                if r.divergence:
                    lines.append(f"  parts from single-pass at {r.divergence.describe()}")
        else:
            lines.append(f"NO MATCH: none of the {len(self.results)} variants below gives the expected MRTD")
        lines.append("")
        width = max(len(r.variant.name) for r in self.results)
        for r in self.results:
            mark = "=" if r.mrtd == self.expected else " "
            where = "the reference" if r.variant.order == SINGLE_PASS and r.divergence is None else "same records"
            if r.divergence:
                where = r.divergence.describe()
            lines.append(f"{mark} {r.variant.name:<{width}} {r.mrtd[:16]}…  {where}")
        if not matches:
            lines.append("")
            lines.append("what else could explain it:")
            lines.extend(f"  - {cause}" for cause in OTHER_CAUSES)
        return "\n".join(lines)


def run_variant(image: bytes, sections: list[TdvfSection], variant: LoaderVariant) -> FirmwareMeasurement:
    """Load the image the variant's way through the real path, keeping the module's record log."""
    return measure_firmware(
        image,
        record=False,
        log=True,
        sections=sections,
        order=variant.order,
        measure=list(variant.measure),
        add=list(variant.add),
    )


def parse_mrtd(text: str) -> str | None:
    """An MRTD as a reader types or pastes it: 96 hex digits, `0x`, spaces, colons and upper case allowed
    (docs/scenario.md "Doctor"); the 96 lower-case digits, or None if `text` is not one."""
    digits = text.strip().lower().removeprefix("0x").replace(" ", "").replace(":", "")
    if len(digits) != 96 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return digits


def diagnose(image: bytes, expected: str, sections: list[TdvfSection] | None = None) -> Diagnosis:
    """Load the image under every variant; compare each MRTD with `expected` (96 lower-case hex digits)."""
    if sections is None:
        sections = parse_tdvf(image)
        check_qemu_loadable(sections)
    results = [VariantResult(v, run_variant(image, sections, v)) for v in loader_variants(sections)]
    reference = results[0].measurement.records or []
    for r in results[1:]:
        r.divergence = first_difference(sections, reference, r.measurement.records or [])
    return Diagnosis(expected, sections, results)


def find_variant(sections: list[TdvfSection], name: str) -> LoaderVariant:
    """The variant called `name`; ValueError naming the choices otherwise."""
    variants = loader_variants(sections)
    for v in variants:
        if v.name == name:
            return v
    raise ValueError(f"no loader variant {name!r} for this image: one of {', '.join(v.name for v in variants)}")


def transcript(measurement: FirmwareMeasurement) -> list[dict[str, Any]]:
    """Every record in call order, placed in the section table; MR.EXTENDs carry a SHA-384 prefix of the 256 bytes
    the module measured (read from the TD's page after the load), so two runs diff line by line."""
    sections = measurement.sections
    module = measurement.vmm.module
    kvm = measurement.vmm.kvm
    if kvm is None:
        raise RuntimeError("simulator invariant broken: a measurement without a VM")
    td = module.tds[kvm.tdx.tdr_pfn]
    out = []
    for i, rec in enumerate(measurement.records or []):
        info = record_info(sections, i, rec).to_json()
        if rec & 1:
            gpa = rec >> 1
            page = module.mem.view(td.sept_pfn[(0, gpa & ~0xFFF)])
            off = gpa & 0xFFF
            info["sha384_16"] = hashlib.sha384(page[off : off + EXTEND_CHUNK]).hexdigest()[:16]
        out.append(info)
    return out


def transcript_text(records: list[dict[str, Any]]) -> str:
    """The transcript as text, one record per line."""
    lines = []
    for r in records:
        line = (
            f"{r['index']:>6} {r['kind']:<6} {r['gpa']:>12} section {r['section']} {r['section_type']} page {r['page']}"
        )
        if r["kind"] == "EXTEND":
            line += f" chunk {r['chunk']} sha384 {r['sha384_16']}"
        lines.append(line)
    return "\n".join(lines)
