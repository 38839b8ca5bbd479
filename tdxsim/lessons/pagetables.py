"""Chapter 03, three page tables: the S-EPT walk a first touch of one GPA needs, and the mirror EPT beside it.

Pure Python. Every answer comes from running a scenario (tdxsim.lessons.build): KVM's TDP MMU links the missing
levels of its mirror EPT top-down and each link reaches the S-EPT as one TDH.MEM.SEPT.ADD (tdx_sept_link_private_spt
in arch/x86/kvm/vmx/tdx.c), then the leaf is TDH.MEM.PAGE.ADD before finalize or TDH.MEM.PAGE.AUG after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tdxsim.lessons.build import Built, add_image, make_private, op, run, td_steps
from tdxsim.platform import PAGE_SIZE
from tdxsim.tdx.sept import entry_base, level_shift

#: GPAs worth walking, by what they show (labels for a dropdown).
GPAS: dict[str, int] = {
    "0x0 — the first page": 0x0,
    "0x4000_0000 — 1 GiB: a new level-2 entry": 0x4000_0000,
    "0x80_0000_0000 — 512 GiB: a new level-3 entry": 0x80_0000_0000,
    "0x7fff_ffff_f000 — the last private page with GPAW 48": 0x7FFF_FFFF_F000,
    "0x8000_0000_0000 — bit 47: shared with GPAW 48, private with 52": 0x8000_0000_0000,
}
IMAGE = b"first touch"


def root_level(gpaw: int) -> int:
    """Level of the root S-EPT page's entries: 3 for a 4-level S-EPT (GPAW 48), 4 for 5-level (GPAW 52)."""
    return 3 if gpaw == 48 else 4


def first_add(gpa: int = 0, gpaw: int = 48, nr_pages: int = 1, in_place: bool = True) -> Built:
    """Build a TD whose only memslot starts at `gpa`, add `nr_pages` image pages there, and finalize."""
    size = max(nr_pages, 1) * PAGE_SIZE
    steps = td_steps(in_place, size, gpa=gpa, gpaw=gpaw)
    if not in_place:
        steps.append(make_private(False, 0, size, gpa))
    steps += add_image(in_place, gpa, IMAGE, private_size=size)
    steps[-1]["nr_pages"] = nr_pages
    steps.append(op("KVM_TDX_FINALIZE_VM", "KVM_TDX_FINALIZE_VM"))
    return run(steps, in_place=in_place)


def runtime_touch(gpa: int = 0x1000, convert_back: bool = True) -> Built:
    """A finalized TD (image page at GPA 0); the guest accepts `gpa` (EPT violation -> TDH.MEM.PAGE.AUG, then
    TDG.MEM.PAGE.ACCEPT), and, with `convert_back`, asks for it to be shared again (MapGPA -> the zap)."""
    size = 4 * PAGE_SIZE
    steps = td_steps(True, size)
    steps += add_image(True, 0, IMAGE, private_size=size)
    steps.append(op("KVM_TDX_FINALIZE_VM", "KVM_TDX_FINALIZE_VM"))
    steps.append(op("guest_accept", "guest accepts", gpa=hex(gpa)))
    if convert_back:
        steps.append(op("guest_map_gpa", "MapGPA to shared", gpa=hex(gpa), size=PAGE_SIZE, shared=True))
    return run(steps, in_place=True)


def sept_add_levels(step: dict) -> list[int]:
    """The levels of the step's successful TDH.MEM.SEPT.ADDs, in order."""
    return [c["level"] for c in step["seamcalls"] if c["leaf"] == "TDH.MEM.SEPT.ADD" and c["status"] == "TDX_SUCCESS"]


@dataclass(frozen=True)
class WalkRow:
    """One level of the walk for a GPA: the entry's index, what it covers, the mirror's and the S-EPT's view."""

    level: int
    index: int
    base: int
    mirror: str  # "present" / "non-present"
    sept: str  # the S-EPT entry state (FREE when absent)


def walk(built: Built, gpa: int) -> list[WalkRow]:
    """The walk for `gpa` from the root level down to the 4 KiB leaf, in both the mirror EPT and the S-EPT."""
    kvm = built.vmm.kvm
    td = built.vmm.module.tds[kvm.tdx.tdr]
    rows = []
    for level in range(td.root_level, -1, -1):
        base = entry_base(gpa, level)
        if level:
            present = (level, base) in kvm.mmu.mirror_nonleaf
        else:
            present = gpa >> 12 in kvm.mmu.mirror
        state = td.sept.get((level, base))
        rows.append(
            WalkRow(
                level,
                gpa >> level_shift(level) & 0x1FF,
                base,
                "present" if present else "non-present",
                state.value if state is not None else "FREE",
            )
        )
    return rows


def mirror_disagreements(built: Built) -> list[tuple[int, int, str, str]]:
    """Every (level, base GPA) where the mirror EPT and the S-EPT disagree on presence: (level, base, mirror, S-EPT).

    A mirror entry is present exactly when the S-EPT entry is not FREE (KVM changes the mirror only after the
    SEAMCALL succeeded; the S-EPT cannot be changed any other way)."""
    kvm = built.vmm.kvm
    td = built.vmm.module.tds[kvm.tdx.tdr]
    mirror = set(kvm.mmu.mirror_nonleaf) | {(0, gfn << 12) for gfn in kvm.mmu.mirror}
    sept = set(td.sept)
    return [
        (level, base, "present" if (level, base) in mirror else "non-present", td.sept.get((level, base), "FREE"))
        for level, base in sorted(mirror ^ sept)
    ]
