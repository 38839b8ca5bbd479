"""Chapter 04, building a TD: the intel-tdx.rst creation flow as one scenario, its variants with a step skipped or
moved, and what each ioctl did to KVM's TD_STATE, the TDX module's OP_STATE and the TD's metadata pages.

Pure Python. The order is QEMU's (target/i386/kvm/tdx.c, qemu 05caf2690e5a) in the v8 in-place model; every errno comes
from the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from tdxsim.lessons.build import Built, add_image, op, run, td_steps
from tdxsim.platform import PAGE_SIZE

SIZE = 4 * PAGE_SIZE
IMAGE = b"TDVF would be here"


def creation_flow() -> list[dict]:
    """The build, in order: create and initialise the TD and its vCPU, back its memory, add the initial image,
    finalize; then the guest runs: it accepts a runtime page (PAGE.AUG + ACCEPT) and reads its image back."""
    steps = td_steps(True, SIZE)
    steps += add_image(True, 0, IMAGE, private_size=SIZE)
    steps += [
        op("KVM_TDX_FINALIZE_VM", "KVM_TDX_FINALIZE_VM"),
        op("guest_accept", "guest accepts GPA 0x1000", gpa="0x1000"),
        op("guest_read", "guest reads GPA 0", gpa="0x0", length=len(IMAGE)),
    ]
    return steps


def _without(label: str) -> list[dict]:
    return [s for s in creation_flow() if s["label"] != label]


def _move(label: str, after: str) -> list[dict]:
    steps = creation_flow()
    moved = next(s for s in steps if s["label"] == label)
    steps.remove(moved)
    at = next(i for i, s in enumerate(steps) if s["label"] == after)
    return [*steps[: at + 1], moved, *steps[at + 1 :]]


def _twice(label: str) -> list[dict]:
    steps = creation_flow()
    at = next(i for i, s in enumerate(steps) if s["label"] == label)
    return [*steps[: at + 1], {**steps[at], "label": label + " (again)"}, *steps[at + 1 :]]


#: What the reader can do to the flow: label -> the steps.
VARIANTS = {
    "as QEMU does it": creation_flow,
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


def run_variant(name: str = "as QEMU does it") -> Built:
    """Run one variant of the creation flow (a key of VARIANTS)."""
    return run(VARIANTS[name](), in_place=True)


@dataclass(frozen=True)
class Row:
    """One ioctl (or guest step) of a run: its result, its SEAMCALLs, and the states and metadata after it."""

    label: str
    result: str  # "0" or "-EINVAL"
    seamcalls: str  # folded: "TDH.MNG.ADDCX ×6, TDH.MNG.INIT"
    td_state: str  # KVM's kvm_tdx->state after the step
    op_state: str  # the TDX module's TDCS OP_STATE after the step
    metadata: dict[str, int]  # PAMT page type -> frames of that type after the step


def fold(leaves: list[str]) -> str:
    """Consecutive repeats folded: ["A", "A", "B"] -> "A ×2, B"."""
    out: list[list] = []
    for leaf in leaves:
        if out and out[-1][0] == leaf:
            out[-1][1] += 1
        else:
            out.append([leaf, 1])
    return ", ".join(leaf + (f" ×{n}" if n > 1 else "") for leaf, n in out) or "—"


def rows(built: Built) -> list[Row]:
    """The run as a table, one row per step, states read from the event record."""
    td_state, op_state = "—", "—"
    pamt: dict[int, str] = {}
    table = []
    for i, step in enumerate(built.out["steps"]):
        for ev in built.events[built.marks[i] : built.marks[i + 1]]:
            if ev.kind != "state":
                continue
            if ev.name == "td_state":
                td_state = ev.data["new"]
            elif ev.name == "op_state":
                op_state = ev.data["new"]
            elif ev.name == "pamt":
                pamt[ev.data["pfn"]] = ev.data["new"]
        counts: dict[str, int] = {}
        for page_type in pamt.values():
            if page_type != "PT_NDA":
                counts[page_type] = counts.get(page_type, 0) + 1
        result = "0" if step["ret"] == 0 else f"-{step['errno']}"
        leaves = [c["leaf"] + ("" if c["status"] == "TDX_SUCCESS" else f" → {c['status']}") for c in step["seamcalls"]]
        table.append(Row(step["label"], result, fold(leaves), td_state, op_state, dict(sorted(counts.items()))))
    return table


def first_failure(built: Built) -> tuple[str, str] | None:
    """(label, result) of the first step that did not return 0, or None."""
    for row in rows(built):
        if row.result != "0":
            return row.label, row.result
    return None
