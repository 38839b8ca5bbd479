"""Chapter 03, three page tables: the GPAs worth walking, and the levels a first touch links.

Pure Python. The walks themselves are the machine's queries (`Vmm.sept_walk`, `Vmm.mirror_present`): KVM's TDP MMU
links the missing levels of its mirror EPT top-down and each link reaches the S-EPT as one TDH.MEM.SEPT.ADD
(tdx_sept_link_private_spt in arch/x86/kvm/vmx/tdx.c), then the leaf is TDH.MEM.PAGE.ADD before finalize or
TDH.MEM.PAGE.AUG after it.
"""

from __future__ import annotations

from tdxsim.result import Result

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


def sept_add_levels(result: Result) -> list[int]:
    """The levels of the call's successful TDH.MEM.SEPT.ADDs, in order."""
    return [c["level"] for c in result.seamcalls if c["leaf"] == "TDH.MEM.SEPT.ADD" and c["status"] == "TDX_SUCCESS"]
