"""The TDP MMU's view of a TD (arch/x86/kvm/mmu/tdp_mmu.c, mmu.c): the mirror EPT of private GPAs, whose changes
reach the S-EPT through the `set_external_spte` hook, and the shared EPT of the shared alias.

Only what the TDX paths need is modelled: 4 KiB leaves, the non-leaf entries above them, and the return codes.
"""

from __future__ import annotations

from collections.abc import Callable

from tdxsim.errno import EIO
from tdxsim.events import Trace, traced, untraced
from tdxsim.physmem import PhysicalMemory
from tdxsim.ranges import keys_in_range
from tdxsim.tdx.sept import entry_base

RET_PF_RETRY = "RET_PF_RETRY"
RET_PF_FIXED = "RET_PF_FIXED"
RET_PF_SPURIOUS = "RET_PF_SPURIOUS"

#: kvm_x86_ops.set_external_spte (TDX: tdx_sept_set_private_spte): (gfn, level, old pfn, new pfn) -> 0 or -errno;
#: None stands for a non-present entry, and a non-leaf entry's pfn is the S-EPT page it links.
SetExternalSpte = Callable[[int, int, "int | None", "int | None"], int]


class TdpMmu:
    """Mirror EPT (private GFNs, mirrored into the S-EPT) and shared EPT (shared GFNs) of one VM."""

    def __init__(
        self, mem: PhysicalMemory, trace: Trace, set_external_spte: SetExternalSpte, is_dead: Callable[[], bool]
    ) -> None:
        self.mem = mem
        self.trace = trace
        self.set_external_spte = set_external_spte
        self.is_dead = is_dead
        self.root_level = 3
        self.mirror: dict[int, int] = {}  # gfn -> pfn of present private leaves
        self.mirror_nonleaf: set[tuple[int, int]] = set()  # (level, base GPA) of present non-leaf entries
        self.shared: dict[int, int] = {}  # gfn -> pfn of present shared-EPT leaves
        untraced(self)

    @traced("kvm")
    def kvm_tdp_mmu_map(self, gfn: int, pfn: int, prefetch: bool) -> str:
        """Map a private 4 KiB GFN: link missing levels (the hook gets each entry's base GFN, iter->gfn), then the
        leaf. A present leaf with a prefetch fault is RET_PF_SPURIOUS (tdp_mmu_map_handle_target_level); a failed
        hook restores the old entry -> RET_PF_RETRY."""
        gpa = gfn << 12
        # Tables are linked top-down and not freed while the TD lives, so a present level-1 entry means the
        # whole path is present.
        levels = () if (1, gpa >> 21 << 21) in self.mirror_nonleaf else range(self.root_level, 0, -1)
        for level in levels:
            key = (level, entry_base(gpa, level))
            if key in self.mirror_nonleaf:
                continue
            external_spt = self.mem.alloc(origin="KVM page for an S-EPT table (sp->external_spt)")
            if self.set_external_spte(
                key[1] >> 12, level, None, external_spt
            ):  # tdp_mmu_link_sp failed: free sp, retry
                self.mem.free(external_spt)
                return RET_PF_RETRY
            self.mirror_nonleaf.add(key)
            self.trace.state("kvm", "mirror_spte", gpa=key[1], level=level, old="non-present", new="present")
        if gfn in self.mirror and prefetch:
            return RET_PF_SPURIOUS
        if self.set_external_spte(gfn, 0, None, pfn):  # tdp_mmu_set_spte_atomic failed: old SPTE restored
            return RET_PF_RETRY
        self.mirror[gfn] = pfn
        if self.trace.enabled:
            self.trace.state("kvm", "mirror_spte", gpa=gpa, level=0, old="non-present", new="present", pfn=pfn)
        return RET_PF_FIXED

    @traced("kvm")
    def kvm_tdp_mmu_map_private_pfn(self, gfn: int, pfn: int) -> int:
        """Map `pfn` at a private GFN as a prefetch fault, retrying on RET_PF_RETRY; anything but RET_PF_FIXED,
        RET_PF_SPURIOUS included, is -EIO (arch/x86/kvm/mmu/mmu.c at kvm-x86 09c6f74ecb86;
        for a double add Yan Zhao confirms it in akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com)."""
        while True:
            if self.is_dead():  # KVM_REQ_VM_DEAD pending
                return -EIO
            r = self.kvm_tdp_mmu_map(gfn, pfn, prefetch=True)
            if self.trace.enabled:
                self.trace.annotate(ret_pf=r)
            if r != RET_PF_RETRY:
                break
        return 0 if r == RET_PF_FIXED else -EIO

    @traced("kvm")
    def kvm_tdp_mmu_unmap_gfn_range(self, start: int, end: int, private: bool) -> None:
        """Zap leaves in [start, end) of the mirror EPT (private; each through the S-EPT hook) or the shared EPT."""
        if private:
            for gfn in keys_in_range(self.mirror, start, end):
                pfn = self.mirror.pop(gfn)
                self.trace.state("kvm", "mirror_spte", gpa=gfn << 12, level=0, old="present", new="non-present")
                self.set_external_spte(gfn, 0, pfn, None)
        else:
            for gfn in keys_in_range(self.shared, start, end):
                del self.shared[gfn]
                self.trace.state("kvm", "shared_spte", gpa=gfn << 12, level=0, old="present", new="non-present")

    def map_shared(self, gfn: int, pfn: int) -> None:
        """Install a shared-EPT leaf (the fault path for a shared GPA)."""
        self.shared[gfn] = pfn
        self.trace.state("kvm", "shared_spte", gpa=gfn << 12, level=0, old="non-present", new="present", pfn=pfn)
