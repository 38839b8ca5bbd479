"""The seed thread's toggles as calls: one function runs one set of toggles on a new machine, one the whole matrix.

Pure Python (no ipywidgets, no matplotlib): the widgets, the chapters, the figures' tests and the benchmark all use it.
The toggles are what the thread argues about (patch v8 23/46,
20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com, and the replies in it). Each run is
`recipes.create_td`, then the memory calls of one of the two memory models (in-place: guest_memfd with MMAP +
INIT_SHARED, mmapped, written while shared, converted with KVM_SET_MEMORY_ATTRIBUTES2; out-of-place: anonymous memory
as the memslot's userspace_addr, made private with KVM_SET_MEMORY_ATTRIBUTES), the add and the finalize, made through
`tdxsim.calls.Calls`, so every outcome comes from running the calls, and `run.code` prints them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tdxsim import recipes
from tdxsim.calls import Calls
from tdxsim.kvm.flavours import FLAVOURS
from tdxsim.kvm.uapi import (
    GUEST_MEMFD_FLAG_INIT_SHARED,
    GUEST_MEMFD_FLAG_MMAP,
    KVM_MEM_GUEST_MEMFD,
    KVM_MEMORY_ATTRIBUTE_PRIVATE,
    KVM_TDX_MEASURE_MEMORY_REGION,
)
from tdxsim.platform import MMAP_BASE as GMEM_VA
from tdxsim.platform import PAGE_SIZE
from tdxsim.platform import SOURCE_BUFFER_VA as SRC_VA
from tdxsim.result import Result

GMEM_MMAP_VA = 0x7F8000000000  # out-of-place only: a mapping of the (private) guest_memfd, to try it as a source
UNMAPPED_VA = 0x7FC000000000  # nothing is ever mapped here
IMAGE_TEXT = "image page {i}, written while shared"
SOURCE_TEXT = "image page {i}, from the separate buffer"
VA0_TEXT = "Y"  # Yan's C program: mmap(0, MAP_FIXED) and write 'Y' (quoted in
# CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com)

KERNELS = tuple(FLAVOURS)  # pre-2a62345b3052, 2a62345b3052, kvm-x86-2026-06, v8, v13

#: source_addr choices: key -> what the control panel shows.
SOURCES: dict[str, str] = {
    "buffer": "a separate buffer",
    "zero": "0",
    "zero_va0": "0, with virtual address 0 mapped ('Y')",
    "gmem_page": "the guest_memfd page itself",
    "unmapped": "an unmapped address",
    "misaligned": "a misaligned address",
}


@dataclass(frozen=True)
class Toggles:
    """One cell of the seed thread's matrix: everything the control panel can set."""

    kernel: str = "v8"
    in_place: bool = True
    source: str = "zero"
    measure: bool = True
    written_while_shared: bool = True
    converted: bool = True  # the image range was converted to private before the add (Yan's step 5)
    add_twice: bool = False
    image_pages: int = 4
    td_pages: int = 16

    def replace(self, **changes: Any) -> Toggles:
        """A copy with some toggles changed."""
        return dataclasses.replace(self, **changes)


def explain_impossible(t: Toggles) -> str | None:
    """Why a combination cannot be built (a sentence for the reader), or None when it can."""
    if t.kernel not in FLAVOURS:
        return f"There is no kernel flavour called {t.kernel!r}; pick one of {', '.join(KERNELS)}."
    if t.source not in SOURCES:
        return f"There is no source choice {t.source!r}; pick one of {', '.join(SOURCES)}."
    if t.in_place and not FLAVOURS[t.kernel].has_in_place:
        return (
            f"Kernel {t.kernel} has no gmem_in_place_conversion parameter: in-place conversion is the guest_memfd "
            "series (v8 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com; v13 as it landed). Turn "
            "in-place conversion off, or pick the v8 or v13 kernel."
        )
    if not 1 <= t.image_pages <= t.td_pages:
        return f"The image ({t.image_pages} pages) must be at least one page and fit in the TD ({t.td_pages} pages)."
    return None


def source_addr(t: Toggles) -> int:
    """The source_addr the VMM passes for this choice."""
    return {
        "buffer": SRC_VA,
        "zero": 0,
        "zero_va0": 0,
        "gmem_page": GMEM_VA if t.in_place else GMEM_MMAP_VA,
        "unmapped": UNMAPPED_VA,
        "misaligned": SRC_VA + 0x800,
    }[t.source]


def run_cell(t: Toggles) -> Calls:
    """Run one set of toggles on a new machine: build the TD, add the image, finalize (ValueError for an impossible
    combination, see explain_impossible). The adds are `run["add"]` and, when adding twice, `run["add_again"]`."""
    if why := explain_impossible(t):
        raise ValueError(why)
    size, n = t.td_pages * PAGE_SIZE, t.image_pages
    run = Calls(t.kernel, t.in_place)
    run.recipe(recipes.create_td)
    if t.in_place:
        flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED
    else:
        flags = GUEST_MEMFD_FLAG_MMAP if t.source == "gmem_page" else 0
    run("KVM_CREATE_GUEST_MEMFD", size=size, flags=flags)
    run("mmap", length=size, addr=GMEM_VA, fd=0 if t.in_place else None)
    run(
        "KVM_SET_USER_MEMORY_REGION2",
        slot=0,
        flags=KVM_MEM_GUEST_MEMFD,
        guest_phys_addr=0,
        memory_size=size,
        userspace_addr=GMEM_VA,
        guest_memfd=0,
        guest_memfd_offset=0,
    )
    if t.written_while_shared:
        for i in range(n):
            run("write", addr=GMEM_VA + i * PAGE_SIZE, data=IMAGE_TEXT.format(i=i).encode())
    if t.converted and t.in_place:
        run(
            "KVM_SET_MEMORY_ATTRIBUTES2",
            guest_memfd=0,
            offset=0,
            size=n * PAGE_SIZE,
            attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE,
        )
    elif t.converted:
        run("KVM_SET_MEMORY_ATTRIBUTES", address=0, size=n * PAGE_SIZE, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE)
    if t.source in ("buffer", "misaligned"):
        run("mmap", length=n * PAGE_SIZE, addr=SRC_VA)
        for i in range(n):
            run("write", addr=SRC_VA + i * PAGE_SIZE, data=SOURCE_TEXT.format(i=i).encode())
    elif t.source == "zero_va0":
        run("mmap", length=n * PAGE_SIZE, addr=0)
        run("write", addr=0, data=VA0_TEXT.encode())
    elif t.source == "gmem_page" and not t.in_place:
        run("mmap", length=size, addr=GMEM_MMAP_VA, fd=0)
    add = {
        "vcpu": 0,
        "source_addr": source_addr(t),
        "gpa": 0,
        "nr_pages": n,
        "flags": KVM_TDX_MEASURE_MEMORY_REGION if t.measure else 0,
    }
    run("KVM_TDX_INIT_MEM_REGION", "add", **add)
    if t.add_twice:
        run("KVM_TDX_INIT_MEM_REGION", "add_again", **add)
    run("KVM_TDX_FINALIZE_VM")
    return run


def outcome(run: Calls) -> Result:
    """The KVM_TDX_INIT_MEM_REGION a cell is about: the second add when adding twice, else the only one."""
    return run.last("KVM_TDX_INIT_MEM_REGION")


def outcome_text(result: Result) -> str:
    """`0` or `-EOPNOTSUPP` for a call."""
    return "0" if result.ret == 0 else f"-{result.errno}"


def td_gets(run: Calls) -> str:
    """What the TD's page at GPA 0 holds after the run, in words."""
    data = run.vmm.private_bytes(0, 48)
    if data is None:
        return "nothing: GPA 0 was not added"
    text = data.rstrip(b"\0")
    if not text:
        return "a page of zeros"
    return repr(text.decode("ascii", "replace"))


# -- the seed thread's matrix -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a cell's answer is written down: a kernel file:function and/or a lore Message-ID."""

    short: str
    ref: str

    @property
    def url(self) -> str | None:
        """The lore link when `ref` is a Message-ID."""
        if "@" not in self.ref or " " in self.ref:
            return None
        return "https://lore.kernel.org/all/" + self.ref.replace("/", "%2F") + "/"


V8_23 = Source("tdx.c:tdx_gmem_post_populate", "20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com")
SEED = Source("seed: 0 means NULL", "akMPZePBdwQlD74H@google.com")
# Since 2a62345b3052 kvm_gmem_populate() skips the GUP of a zero source_addr and passes src_page = NULL; it is TDX's
# callback that refuses it: "if (!src_page) return -EOPNOTSUPP;" in tdx_gmem_post_populate, the lines v8 23/46
# rewrites (its diff against kvm-x86/next b7fbe9a1bf9e).
NULL_2A62 = Source("tdx.c:tdx_gmem_post_populate", "20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com")
ROTH_RFC = Source("Roth RFC (B): private source", "20251113230759.1562024-1-michael.roth@amd.com")
YAN_VA0 = Source("Yan: 0 worked if VA 0 mapped", "CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com")
K_TDX_NULL = Source("tdx.c:tdx_vcpu_init_mem_region", "kvm-x86 09c6f74e arch/x86/kvm/vmx/tdx.c")
V13_NULL = Source("tdx.c: !in-place && !source_addr", "sean-jc/linux 07f26358 arch/x86/kvm/vmx/tdx.c")
V13_POP = Source("tdx.c: src_page ?: pfn_to_page", "sean-jc/linux 07f26358 arch/x86/kvm/vmx/tdx.c")
ALIGN = Source("tdx.c:tdx_vcpu_init_mem_region", "arch/x86/kvm/vmx/tdx.c !PAGE_ALIGNED(source_addr)")
GUP = Source("mm/gup.c via kvm_gmem_populate", "virt/kvm/guest_memfd.c kvm_gmem_populate")
# A mapped, shared source page is GUP'd by kvm_gmem_populate() and handed to TDH.MEM.PAGE.ADD as the source.
GUP_SRC = Source("guest_memfd.c: GUP'd source", "virt/kvm/guest_memfd.c kvm_gmem_populate (2a62345b3052)")
GUP_OLD = Source("tdx.c:tdx_gmem_post_populate GUP", "arch/x86/kvm/vmx/tdx.c tdx_gmem_post_populate")
SIGBUS_SRC = Source("kvm_gmem_fault_user_mapping", "virt/kvm/guest_memfd.c kvm_gmem_fault_user_mapping (v8 01/46)")
ZERO = Source("v8 21/46 __kvm_gmem_get_pfn", "virt/kvm/guest_memfd.c __kvm_gmem_get_pfn (v8 21/46)")
SHARED = Source("kvm_gmem_populate: not private", "virt/kvm/guest_memfd.c kvm_gmem_populate (v8 10/16)")
NORMAL = Source("tdx.c:tdx_gmem_post_populate", "arch/x86/kvm/vmx/tdx.c tdx_gmem_post_populate")
DOUBLE = Source("mmu.c:kvm_tdp_mmu_map_private_pfn", "akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com")
EEXIST = Source("guest_memfd.c: folio prepared", "virt/kvm/guest_memfd.c kvm_gmem_populate (before the rework)")


@dataclass(frozen=True)
class Row:
    """One row of the matrix: a label, the toggles (kernel comes from the column) and each column's source."""

    label: str
    toggles: Toggles
    sources: dict[str, Source]  # kernel -> source; "*" for every kernel not named


ROWS: tuple[Row, ...] = (
    Row("off · separate buffer", Toggles(in_place=False, source="buffer"), {"*": NORMAL}),
    Row(
        "off · 0, nothing at VA 0",
        Toggles(in_place=False, source="zero"),
        {
            "pre-2a62345b3052": GUP_OLD,
            "2a62345b3052": NULL_2A62,
            "kvm-x86-2026-06": K_TDX_NULL,
            "v13": V13_NULL,
            "*": V8_23,
        },
    ),
    Row(
        "off · 0, VA 0 mapped ('Y')",
        Toggles(in_place=False, source="zero_va0"),
        {
            "pre-2a62345b3052": YAN_VA0,
            "2a62345b3052": NULL_2A62,
            "kvm-x86-2026-06": K_TDX_NULL,
            "v13": V13_NULL,
            "*": SEED,
        },
    ),
    Row("off · unmapped address", Toggles(in_place=False, source="unmapped"), {"pre-2a62345b3052": GUP_OLD, "*": GUP}),
    Row("off · misaligned address", Toggles(in_place=False, source="misaligned"), {"*": ALIGN}),
    Row("off · the guest_memfd page", Toggles(in_place=False, source="gmem_page"), {"*": ROTH_RFC}),
    Row(
        "off · same GPA added twice",
        Toggles(in_place=False, source="buffer", add_twice=True),
        {"pre-2a62345b3052": EEXIST, "*": DOUBLE},
    ),
    Row("on · separate buffer", Toggles(source="buffer"), {"*": GUP_SRC}),
    Row("on · 0, written while shared", Toggles(source="zero"), {"v13": V13_POP, "*": V8_23}),
    Row("on · 0, never written", Toggles(source="zero", written_while_shared=False), {"*": ZERO}),
    Row("on · 0, VA 0 mapped ('Y')", Toggles(source="zero_va0"), {"*": SEED}),
    Row("on · 0, page left shared", Toggles(source="zero", converted=False), {"*": SHARED}),
    Row("on · the guest_memfd page", Toggles(source="gmem_page"), {"*": SIGBUS_SRC}),
    Row("on · same GPA added twice", Toggles(source="zero", add_twice=True), {"*": DOUBLE}),
)


@dataclass
class Cell:
    """One computed cell: the row, the kernel, the run (None when the combination cannot exist) and its source."""

    row: Row
    kernel: str
    run: Calls | None
    source: Source | None
    why_not: str | None = None

    @property
    def errno(self) -> str | None:
        """The errno name of the cell's INIT_MEM_REGION ("OK" on success, None when the cell does not exist)."""
        if self.run is None:
            return None
        return outcome(self.run).errno or "OK"

    @property
    def text(self) -> str:
        """`0`, `-EIO`, or `n/a`."""
        return "n/a" if self.run is None else outcome_text(outcome(self.run))


def run_matrix(rows: tuple[Row, ...] = ROWS, kernels: tuple[str, ...] = KERNELS, **toggles: Any) -> list[list[Cell]]:
    """Run every cell of the matrix (rows × kernel flavours); toggles override every row's (e.g. measure=False)."""
    table = []
    for row in rows:
        cells = []
        for kernel in kernels:
            t = row.toggles.replace(kernel=kernel, **toggles)
            why = explain_impossible(t)
            if why:
                cells.append(Cell(row, kernel, None, None, why))
                continue
            cells.append(Cell(row, kernel, run_cell(t), row.sources.get(kernel, row.sources["*"])))
        table.append(cells)
    return table
