"""Chapter 04, building a TD: the intel-tdx.rst creation flow as a list of `Vmm` calls, its variants with a step
skipped, moved or repeated, and what each call did to KVM's TD_STATE, the TDX module's OP_STATE and the TD's metadata
pages.

Pure Python. The order is QEMU's (target/i386/kvm/tdx.c, qemu 05caf2690e5a) in the v8 in-place model, the calls of
chapter 04 with fixed numbers (guest_memfd 0, mapped at MMAP_BASE) so that any of them can be skipped or moved;
every errno comes from the simulator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from tdxsim.calls import script
from tdxsim.kvm.uapi import GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_MEM_GUEST_MEMFD
from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE
from tdxsim.kvm.uapi import KVM_TDX_MEASURE_MEMORY_REGION as MEASURE
from tdxsim.platform import MMAP_BASE, PAGE_SIZE
from tdxsim.result import Result
from tdxsim.vmm.process import Vmm

#: The machine every variant runs on: the v8 kernel, with in-place conversion.
KERNEL, IN_PLACE = "v8", True
SIZE = 4 * PAGE_SIZE
IMAGE = b"TDVF would be here"
GMEM_FLAGS = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED
MEMSLOT = {"slot": 0, "flags": KVM_MEM_GUEST_MEMFD, "guest_phys_addr": 0, "memory_size": SIZE}
MEMSLOT |= {"userspace_addr": MMAP_BASE, "guest_memfd": 0}
#: One call of the flow: (label, Vmm method, its arguments by the uAPI field names).
Step = tuple[str, str, dict]
#: The build, in order: create and initialise the TD and its vCPU, back its memory, add the initial image, finalize;
#: then the guest runs: it accepts a runtime page (PAGE.AUG + ACCEPT) and reads its image.
FLOW: list[Step] = [
    ("KVM_CREATE_VM", "KVM_CREATE_VM", {}),
    ("KVM_TDX_INIT_VM", "KVM_TDX_INIT_VM", {}),
    ("KVM_CREATE_VCPU", "KVM_CREATE_VCPU", {"id": 0}),
    ("KVM_TDX_INIT_VCPU", "KVM_TDX_INIT_VCPU", {"vcpu": 0}),
    ("KVM_CREATE_GUEST_MEMFD", "KVM_CREATE_GUEST_MEMFD", {"size": SIZE, "flags": GMEM_FLAGS}),
    ("mmap the guest_memfd", "mmap", {"length": SIZE, "addr": MMAP_BASE, "fd": 0}),
    ("KVM_SET_USER_MEMORY_REGION2", "KVM_SET_USER_MEMORY_REGION2", MEMSLOT),
    ("write the image while shared", "write", {"addr": MMAP_BASE, "data": IMAGE}),
    (
        "convert to private",
        "KVM_SET_MEMORY_ATTRIBUTES2",
        {"guest_memfd": 0, "offset": 0, "size": SIZE, "attributes": PRIVATE},
    ),
    (
        "KVM_TDX_INIT_MEM_REGION",
        "KVM_TDX_INIT_MEM_REGION",
        {"vcpu": 0, "source_addr": 0, "gpa": 0, "nr_pages": 1, "flags": MEASURE},
    ),
    ("KVM_TDX_FINALIZE_VM", "KVM_TDX_FINALIZE_VM", {}),
    ("guest accepts GPA 0x1000", "guest_accept", {"gpa": 0x1000}),
    ("guest reads GPA 0", "guest_read", {"gpa": 0, "length": len(IMAGE)}),
]


def _without(label: str) -> list[Step]:
    return [s for s in FLOW if s[0] != label]


def _move(label: str, after: str) -> list[Step]:
    steps = _without(label)
    at = next(i for i, s in enumerate(steps) if s[0] == after)
    return [*steps[: at + 1], next(s for s in FLOW if s[0] == label), *steps[at + 1 :]]


def _twice(label: str) -> list[Step]:
    at = next(i for i, s in enumerate(FLOW) if s[0] == label)
    return [*FLOW[: at + 1], (label + " (again)", *FLOW[at][1:]), *FLOW[at + 1 :]]


#: What the reader can do to the flow: label -> the steps.
VARIANTS: dict[str, Callable[[], list[Step]]] = {
    "as QEMU does it": lambda: FLOW,
    "skip KVM_TDX_INIT_VM": lambda: _without("KVM_TDX_INIT_VM"),
    "KVM_CREATE_VCPU before KVM_TDX_INIT_VM": lambda: _move("KVM_CREATE_VCPU", "KVM_CREATE_VM"),
    "skip KVM_TDX_INIT_VCPU": lambda: _without("KVM_TDX_INIT_VCPU"),
    "skip the conversion to private": lambda: _without("convert to private"),
    "KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM": lambda: _move(
        "KVM_TDX_INIT_MEM_REGION", "KVM_TDX_FINALIZE_VM"
    ),
    "the guest runs before KVM_TDX_FINALIZE_VM": lambda: _move("KVM_TDX_FINALIZE_VM", "guest reads GPA 0"),
    "KVM_TDX_INIT_MEM_REGION twice": lambda: _twice("KVM_TDX_INIT_MEM_REGION"),
    "KVM_TDX_FINALIZE_VM twice": lambda: _twice("KVM_TDX_FINALIZE_VM"),
}


@dataclass(frozen=True)
class Row:
    """One call of a run: its label and Result, and the states and metadata after it."""

    label: str
    result: Result
    td_state: str  # KVM's kvm_tdx->state after the call
    op_state: str  # the TDX module's TDCS OP_STATE after the call
    metadata: dict[str, int]  # PAMT page type -> frames of that type after the call

    @property
    def ret(self) -> str:
        """ "0" or "-EINVAL"."""
        return "0" if self.result.ret == 0 else f"-{self.result.errno}"

    @property
    def seamcalls(self) -> str:
        """The call's SEAMCALLs, repeats folded, a failed one with its status: "TDH.MNG.ADDCX ×6, TDH.MNG.INIT"."""
        return fold(
            [c["leaf"] + ("" if c["status"] == "TDX_SUCCESS" else f" → {c['status']}") for c in self.result.seamcalls]
        )


def fold(leaves: list[str]) -> str:
    """Consecutive repeats folded: ["A", "A", "B"] -> "A ×2, B"."""
    out: list[list] = []
    for leaf in leaves:
        if out and out[-1][0] == leaf:
            out[-1][1] += 1
        else:
            out.append([leaf, 1])
    return ", ".join(leaf + (f" ×{n}" if n > 1 else "") for leaf, n in out) or "—"


def run_variant(name: str = "as QEMU does it") -> list[Row]:
    """Make the calls of one variant (a key of VARIANTS) on a new v8 machine; one row per call, with the states the
    machine's queries read after it (`td_state`, the PAMT types of `describe_pages`) and OP_STATE from its changes."""
    vmm = Vmm(KERNEL, gmem_in_place_conversion=IN_PLACE)
    op_state = "—"
    table = []
    for label, method, args in VARIANTS[name]():
        result = getattr(vmm, method)(**args)
        op_state = next((c["new"] for c in reversed(result.changes) if c["what"] == "op_state"), op_state)
        metadata = Counter(p["pamt"] for p in vmm.describe_pages().values() if p["pamt"] != "PT_NDA")
        table.append(Row(label, result, vmm.td_state(), op_state, dict(sorted(metadata.items()))))
    return table


def variant_code(name: str = "as QEMU does it") -> str:
    """The calls `run_variant(name)` makes, as a script (tdxsim.calls): what the player's "Show the calls" shows."""
    return script(KERNEL, IN_PLACE, [(method, (), args) for _label, method, args in VARIANTS[name]()])


def first_failure(rows: list[Row]) -> tuple[str, str] | None:
    """(label, ret) of the first call that did not return 0, or None."""
    return next(((r.label, r.ret) for r in rows if r.ret != "0"), None)


def timeline_steps(rows: list[Row]) -> tuple[list, list[tuple[int, dict]]]:
    """The rows' events in one list and (first event index, the call) per row, for plot.call_timeline."""
    events: list = []
    steps = []
    for r in rows:
        steps.append((len(events), {"op": r.result.op, "label": r.label, "errno": r.result.errno, **r.result}))
        events += r.result.events
    return events, steps
