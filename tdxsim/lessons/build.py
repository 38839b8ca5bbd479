"""What tdxsim.widgets.seed still builds its scenarios from: the TD set-up steps of a scenario document, one step,
and `Built` (one scenario run: the document, the contract's output and the event record). The chapters and the other
lessons build with `tdxsim.recipes` and read the machine with the `Vmm` queries; this module goes once seed.py's
scenario logic has moved.

Pure Python: no ipywidgets, no matplotlib. The ioctl order is the one of tests/scenario_helpers.py (intel-tdx.rst "KVM
TDX creation flow", QEMU's target/i386/kvm/tdx.c: VM, INIT_VM, vCPU, INIT_VCPU, guest_memfd, mmap, memslot) for both
memory models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tdxsim.events import Event
from tdxsim.platform import MMAP_BASE as GMEM_VA
from tdxsim.vmm.process import Vmm


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
