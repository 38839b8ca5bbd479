"""Chapter 06, conversions at runtime: the guest's MapGPA, the KVM_EXIT_HYPERCALL chunks the VMM answers, what the
conversion does to the S-EPT (the zap: BLOCK, TRACK, REMOVE, WBINVD; or AUG + ACCEPT on the way back), who owns
each page afterwards and what each side reads.

Pure Python. The TD is built with the recipes; the VMM converts each chunk as QEMU's kvm_convert_memory does
(tdxsim.vmm.process.Vmm.guest_map_gpa): KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd in the in-place model;
KVM_SET_MEMORY_ATTRIBUTES plus a discard of the side no longer used (madvise or a hole punch) out of place.
"""

from __future__ import annotations

from dataclasses import dataclass

from tdxsim import recipes
from tdxsim.lessons.backing import pages_per_owner
from tdxsim.platform import PAGE_SIZE
from tdxsim.result import Result
from tdxsim.vmm.process import Vmm

FIRST = 0x1000  # the converted range starts at GPA 0x1000 (GPA 0 holds the image)
SECRET = b"the guest's secret"
HOST_TEXT = b"hello from the host"
ACCEPTED = 4  # the guest accepts (and so backs) at most this many pages before converting them to shared


def convert(vmm: Vmm, to_shared: bool = True, pages: int = 1, mode: str = "convert") -> dict[str, Result]:
    """On a new machine `vmm`, build a finalized TD and convert [0x1000, 0x1000 + pages*4 KiB) with the guest's
    MapGPA, the VMM answering as `mode` says ("convert" or "ignore"); the calls from the MapGPA on, by label.

    To shared: the guest first accepts (at most ACCEPTED) pages of the range and writes SECRET at 0x1000; after the
    conversion the host and the guest read 0x1000 through the shared side. To private: the range is first made
    shared, the host writes HOST_TEXT at 0x1000; after the conversion the guest accepts and reads 0x1000 and the
    host reads its side again."""
    size = pages * PAGE_SIZE
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, size=FIRST + size)
    recipes.load_image(vmm, binding, gpa=0, data=b"image".ljust(PAGE_SIZE, b"\0"))
    recipes.convert_range(vmm, FIRST, size, private=True)
    accepted = min(pages, ACCEPTED) if to_shared else 0
    recipes.run_guest(vmm, accept=tuple(FIRST + i * PAGE_SIZE for i in range(accepted)))
    host_va, n = binding.userspace_addr + FIRST, len(SECRET)
    if to_shared:
        vmm.guest_write(gpa=FIRST, data=SECRET)
        return {
            "MapGPA": vmm.guest_map_gpa(gpa=FIRST, size=size, shared=True, vmm=mode),
            "host reads 0x1000": vmm.read(host_va, n),
            "guest reads 0x1000 (shared)": vmm.guest_read(gpa=FIRST, length=n, shared=True),
        }
    vmm.guest_map_gpa(gpa=FIRST, size=size, shared=True)
    vmm.write(host_va, HOST_TEXT)
    return {
        "MapGPA": vmm.guest_map_gpa(gpa=FIRST, size=size, shared=False, vmm=mode),
        "guest accepts 0x1000": vmm.guest_accept(gpa=FIRST),
        "guest reads 0x1000": vmm.guest_read(gpa=FIRST, length=n),
        "host reads 0x1000": vmm.read(host_va, n),
    }


@dataclass(frozen=True)
class Summary:
    """What one conversion did, in words a table can show."""

    chunks: list[tuple[str, int, str]]  # each KVM_EXIT_HYPERCALL: (gpa, npages, attributes)
    vmm_ops: list[str]  # the VMM's nested steps, "OP → ret"
    seamcalls: list[str]  # the SEAMCALLs of the MapGPA, in order
    tdcall_status: str
    reads: dict[str, str]  # label -> what it read, the signal, or the errno
    memory: dict[str, int]  # pages per owner at the end


def shown(result: Result) -> str:
    """What a read returned, in a few words: the signal, -ERRNO, "zeros" or the text."""
    if "signal" in result:
        return result["signal"]
    if result.ret:
        return f"-{result.errno}"
    data = result["data"]
    return repr(data.decode("ascii", "replace")) if data.strip(b"\0") else "zeros"


def summary(vmm: Vmm, calls: dict[str, Result]) -> Summary:
    """The MapGPA and the reads after it (`convert`'s calls), and the machine's pages at the end."""
    step = calls["MapGPA"]
    chunks = [(hex(e["gpa"]), e["npages"], e["attributes"].removeprefix("KVM_MAP_GPA_RANGE_")) for e in step["exits"]]
    vmm_ops = [f"{v['op']} → {v['ret']}" for e in step["exits"] for v in e["vmm"]]
    reads = {label: shown(r) for label, r in calls.items() if " reads " in label}
    status = step.tdcalls[-1]["status"] if step.tdcalls else "—"
    return Summary(chunks, vmm_ops, [c["leaf"] for c in step.seamcalls], status, reads, pages_per_owner(vmm))


def leaf_states(vmm: Vmm, pages: int) -> list[str]:
    """The S-EPT leaf state of each page of the converted range (`Vmm.sept_state`)."""
    return [vmm.sept_state(FIRST + i * PAGE_SIZE) for i in range(pages)]
