"""Chapter 06, conversions at runtime: the guest's MapGPA, the KVM_EXIT_HYPERCALL chunks the VMM answers, what the
conversion does to the S-EPT (the zap: BLOCK, TRACK, REMOVE, WBINVD; or AUG + ACCEPT on the way back), who owns
each page afterwards and what each side reads.

Pure Python. The VMM converts each chunk as QEMU's kvm_convert_memory does (tdxsim.vmm.process.Vmm.guest_map_gpa):
KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd in the in-place model; KVM_SET_MEMORY_ATTRIBUTES plus a discard of
the side no longer used (madvise or a hole punch) out of place.
"""

from __future__ import annotations

from dataclasses import dataclass

from tdxsim.lessons.build import GMEM_VA, Built, add_image, make_private, op, run, td_steps
from tdxsim.platform import PAGE_SIZE

FIRST = 0x1000  # the converted range starts at GPA 0x1000 (GPA 0 holds the image)
SECRET = b"the guest's secret"
HOST_TEXT = b"hello from the host"
ACCEPTED = 4  # the guest accepts (and so backs) at most this many pages before converting them to shared


def _setup(in_place: bool, size: int, accepted: int) -> list[dict]:
    steps = td_steps(in_place, size)
    if in_place:
        steps += add_image(True, 0, b"image", private_size=size)
    else:
        steps.append(make_private(False, 0, size))
        steps += add_image(False, 0, b"image")
    steps.append(op("KVM_TDX_FINALIZE_VM", "KVM_TDX_FINALIZE_VM"))
    for i in range(accepted):
        steps.append(op("guest_accept", f"guest accepts {FIRST + i * PAGE_SIZE:#x}", gpa=hex(FIRST + i * PAGE_SIZE)))
    if accepted:
        steps.append(op("guest_write", "guest writes its secret", gpa=hex(FIRST), data=SECRET.hex()))
    return steps


def convert(in_place: bool = True, to_shared: bool = True, pages: int = 1, vmm: str = "convert") -> Built:
    """Run one conversion of [0x1000, 0x1000 + pages*4 KiB) in a finalized TD, labelled "MapGPA".

    To shared: the guest first accepts (at most ACCEPTED) pages of the range and writes SECRET at 0x1000; after the
    conversion the host and the guest read 0x1000 through the shared side. To private: the range is first made
    shared, the host writes HOST_TEXT at 0x1000; after the conversion the guest accepts and reads 0x1000 and the
    host reads its side again."""
    size = (pages + 1) * PAGE_SIZE
    host_va = hex(GMEM_VA + FIRST)
    n = len(SECRET)
    if to_shared:
        steps = _setup(in_place, size, min(pages, ACCEPTED))
        steps += [
            op("guest_map_gpa", "MapGPA", gpa=hex(FIRST), size=pages * PAGE_SIZE, shared=True, vmm=vmm),
            op("read", "host reads 0x1000", addr=host_va, length=n),
            op("guest_read", "guest reads 0x1000 (shared)", gpa=hex(FIRST), length=n, shared=True),
        ]
    else:
        steps = _setup(in_place, size, 0)
        steps += [
            op("guest_map_gpa", "setup: MapGPA to shared", gpa=hex(FIRST), size=pages * PAGE_SIZE, shared=True),
            op("write", "host writes 0x1000", addr=host_va, data=HOST_TEXT.hex()),
            op("guest_map_gpa", "MapGPA", gpa=hex(FIRST), size=pages * PAGE_SIZE, shared=False, vmm=vmm),
            op("guest_accept", "guest accepts 0x1000", gpa=hex(FIRST)),
            op("guest_read", "guest reads 0x1000", gpa=hex(FIRST), length=n),
            op("read", "host reads 0x1000", addr=host_va, length=n),
        ]
    return run(steps, in_place=in_place)


@dataclass(frozen=True)
class Summary:
    """What one conversion did, in words a table can show."""

    chunks: list[tuple[str, int, str]]  # each KVM_EXIT_HYPERCALL: (gpa, npages, attributes)
    vmm_ops: list[str]  # the VMM's nested steps, "OP → ret"
    seamcalls: list[str]  # the SEAMCALLs of the MapGPA step, in order
    tdcall_status: str
    reads: dict[str, str]  # step label -> what it read, the signal, or the errno
    memory: dict[str, int]  # bytes per owner at the end


def _shown(step: dict) -> str:
    if "signal" in step:
        return step["signal"]
    if step["ret"]:
        return f"-{step['errno']}"
    data = bytes.fromhex(step.get("data", ""))
    return repr(data.decode("ascii", "replace")) if data.strip(b"\0") else "zeros"


def summary(built: Built) -> Summary:
    """The MapGPA step and the reads after it, from the contract's output."""
    step = built.step("MapGPA")
    chunks = [(e["gpa"], e["npages"], e["attributes"].removeprefix("KVM_MAP_GPA_RANGE_")) for e in step["exits"]]
    vmm_ops = [f"{v['op']} → {v['ret']}" for e in step["exits"] for v in e["vmm"]]
    after = built.out["steps"][built.index("MapGPA") + 1 :]
    reads = {s["label"]: _shown(s) for s in after if s["op"] in ("read", "guest_read")}
    status = step["tdcalls"][-1]["status"] if step["tdcalls"] else "—"
    return Summary(chunks, vmm_ops, [c["leaf"] for c in step["seamcalls"]], status, reads, built.out["final"]["memory"])


def leaf_states(built: Built, pages: int) -> list[str]:
    """The S-EPT leaf state of each page of the converted range at the end (FREE when not in final.sept)."""
    sept = built.out["final"]["sept"]
    return [sept.get(hex(FIRST + i * PAGE_SIZE), "FREE") for i in range(pages)]
