"""Scenario documents for the chapters, built step by step, and one run of each (the contract's output plus the
event record of the same replay), so a chapter's figures and its asserts read the same record.

Pure Python: no ipywidgets, no matplotlib. The ioctl order is the one of tests/scenario_helpers.py (intel-tdx.rst "KVM
TDX creation flow", QEMU's target/i386/kvm/tdx.c: VM, INIT_VM, vCPU, INIT_VCPU, guest_memfd, mmap, memslot) for both
memory models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tdxsim.events import Event
from tdxsim.platform import MMAP_BASE as GMEM_VA
from tdxsim.platform import PAGE_SIZE
from tdxsim.platform import SOURCE_BUFFER_VA as SRC_VA
from tdxsim.scenario import replay_scenario
from tdxsim.vmm.process import Vmm

PRIVATE = ["KVM_MEMORY_ATTRIBUTE_PRIVATE"]
MEASURE = ["KVM_TDX_MEASURE_MEMORY_REGION"]


def op(op_name: str, label: str | None = None, **args: Any) -> dict[str, Any]:
    """One scenario step (docs/scenario.md), with an optional label."""
    step: dict[str, Any] = {"op": op_name, **args}
    if label is not None:
        step["label"] = label
    return step


def td_setup_steps(
    in_place: bool, size: int, gpa: int = 0, gpaw: int = 48, gmem_flags: list[str] | None = None
) -> list[dict[str, Any]]:
    """Create the TD up to its memslot, in intel-tdx.rst's order: VM, INIT_VM, vCPU 0, INIT_VCPU, a guest_memfd of
    `size` bytes, its userspace side at GMEM_VA (the guest_memfd mapped in place, else anonymous memory), the
    memslot at `gpa`. `gmem_flags` overrides the guest_memfd's flags (default: MMAP|INIT_SHARED in place, none
    otherwise)."""
    if gmem_flags is None:
        gmem_flags = ["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"] if in_place else []
    mapping = {"fd": "guest_memfd:0", "offset": 0} if in_place else {"fd": None}
    return [
        {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"},
        {"op": "KVM_TDX_INIT_VM", "gpaw": gpaw},
        {"op": "KVM_CREATE_VCPU", "id": 0},
        {"op": "KVM_TDX_INIT_VCPU", "vcpu": 0},
        {"op": "KVM_CREATE_GUEST_MEMFD", "size": size, "flags": gmem_flags},
        {"op": "mmap", "addr": hex(GMEM_VA), "length": size, **mapping},
        {
            "op": "KVM_SET_USER_MEMORY_REGION2",
            "slot": 0,
            "flags": ["KVM_MEM_GUEST_MEMFD"],
            "guest_phys_addr": hex(gpa),
            "memory_size": size,
            "userspace_addr": hex(GMEM_VA),
            "guest_memfd": 0,
            "guest_memfd_offset": 0,
        },
    ]


def td_steps(in_place: bool, size: int, gpa: int = 0, gpaw: int = 48) -> list[dict[str, Any]]:
    """td_setup_steps with a label on every step (the chapters' tables and timelines name steps by label)."""
    labels = [
        "KVM_CREATE_VM",
        "KVM_TDX_INIT_VM",
        "KVM_CREATE_VCPU",
        "KVM_TDX_INIT_VCPU",
        "KVM_CREATE_GUEST_MEMFD",
        "mmap the guest_memfd" if in_place else "mmap anonymous memory",
        "KVM_SET_USER_MEMORY_REGION2",
    ]
    return [
        {**step, "label": label} for step, label in zip(td_setup_steps(in_place, size, gpa, gpaw), labels, strict=True)
    ]


def make_private(in_place: bool, offset: int, size: int, gpa: int = 0, label: str = "convert to private") -> dict:
    """Set [offset, offset+size) of the slot private with the model's ioctl (per-gmem in-place, per-VM otherwise)."""
    if in_place:
        return op("KVM_SET_MEMORY_ATTRIBUTES2", label, guest_memfd=0, offset=hex(offset), size=size, attributes=PRIVATE)
    return op("KVM_SET_MEMORY_ATTRIBUTES", label, address=hex(gpa + offset), size=size, attributes=PRIVATE)


def add_image(
    in_place: bool, gpa: int, data: bytes, private_size: int = PAGE_SIZE, label: str = "KVM_TDX_INIT_MEM_REGION"
) -> list[dict]:
    """Write one image page at the slot's start and add it with MEASURE: in place with source_addr 0 (Yan's seven
    steps: write while shared, convert the first `private_size` bytes to private, add), or from a separate source
    buffer (the classic flow; the slot is already private)."""
    add = {"vcpu": 0, "gpa": hex(gpa), "nr_pages": 1, "flags": MEASURE}
    if in_place:
        return [
            op("write", "write the image while shared", addr=hex(GMEM_VA), data=data.hex()),
            make_private(True, 0, private_size, gpa, "convert to private"),
            op("KVM_TDX_INIT_MEM_REGION", label, source_addr="0x0", **add),
        ]
    return [
        op("mmap", "mmap a source buffer", addr=hex(SRC_VA), length=PAGE_SIZE, fd=None),
        op("write", "write the image into it", addr=hex(SRC_VA), data=data.hex()),
        op("KVM_TDX_INIT_MEM_REGION", label, source_addr=hex(SRC_VA), **add),
    ]


@dataclass
class Built:
    """One scenario run: the document, the contract's output, and the event record with each step's first event."""

    doc: dict[str, Any]
    out: dict[str, Any]
    events: list[Event]
    marks: list[int]  # marks[i]: index of step i's first event; marks[-1] == len(events)
    vmm: Vmm = field(repr=False)

    def index(self, label: str) -> int:
        """The number of the step with this label."""
        return next(i for i, s in enumerate(self.out["steps"]) if s.get("label") == label)

    def step(self, label: str) -> dict[str, Any]:
        """The output of the step with this label."""
        return self.out["steps"][self.index(label)]

    def step_events(self, label: str) -> list[Event]:
        """The events the labelled step caused."""
        i = self.index(label)
        return self.events[self.marks[i] : self.marks[i + 1]]

    def chunk(self, gpa: int) -> bytes:
        """The 256 bytes at `gpa` of the TD's private page there (what a TDH.MR.EXTEND at `gpa` measured)."""
        return self.vmm.private_bytes(gpa, 256) or bytes(256)

    @property
    def step_marks(self) -> list[tuple[int, dict[str, Any]]]:
        """(first event index, output) of each step, for the call timeline's VMM rows."""
        return list(zip(self.marks, self.out["steps"], strict=False))


def run(steps: list[dict[str, Any]], kernel: str = "v8", in_place: bool | None = None) -> Built:
    """Replay the steps through run_scenario (the contract's output) and through a Vmm (the event record)."""
    doc: dict[str, Any] = {"format": 1, "kernel": kernel, "steps": steps}
    if in_place is not None:
        doc["gmem_in_place_conversion"] = in_place
    r = replay_scenario(doc)
    return Built(doc, r.output, r.vmm.trace.events, r.marks, r.vmm)


def leaves(step: dict[str, Any]) -> list[str]:
    """The SEAMCALL leaves of one output step, in order."""
    return [c["leaf"] for c in step["seamcalls"]]
