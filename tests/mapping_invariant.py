"""The stale-mapping invariant: no frame is mapped by the guest after it was freed, or while it belongs
to another owner.

The guest's mappings are KVM's: the shared EPT (`TdpMmu.shared`) and the mirror EPT (`TdpMmu.mirror`, equal to the
S-EPT leaves while the VM lives). Each leaf must map a live frame that still backs its GFN, the way the kernel's
invalidation rules promise (kvm_mmu_notifier_invalidate_range_start for userspace memory, kvm_gmem_invalidate_begin
for guest_memfd, kvm_arch_pre_set_memory_attributes for conversions):

- a shared-EPT leaf maps, for a guest_memfd-only memslot (kvm_memslot_is_gmem_only), the guest_memfd's current folio
  at that index, and otherwise the page the VMM's page table has at the memslot's userspace address; never a
  TD-owned frame (td_private, tdx_metadata);
- a mirror leaf maps the memslot's guest_memfd's current folio at that index, and that frame is td_private —
  while the VM lives: once KVM has bugged it after a failed S-EPT zap, the kernel gives no such guarantee ("a
  private page mapped in the S-EPT could be reallocated and used outside the VM", Yan Zhao in
  20251030200951.3402865-9-seanjc@google.com), and the VM never runs again.
"""

from __future__ import annotations

from tdxsim import platform
from tdxsim.kvm.kvm_main import Kvm
from tdxsim.physmem import Owner
from tdxsim.vmm.ownership import gmem_folios, page_owner
from tdxsim.vmm.process import Vmm

PAGE = platform.PAGE_SIZE
TD_OWNED = {Owner.TD_PRIVATE, Owner.TDX_METADATA}


def stale_guest_mappings(vmm: Vmm) -> list[str]:
    """Every guest mapping of every VM that breaks the invariant, described; [] when it holds."""
    return [bad for number, kvm in enumerate(vmm.vms) for bad in _stale_in(vmm, kvm, f"VM {number}: ")]


def _stale_in(vmm: Vmm, kvm: Kvm, vm: str) -> list[str]:
    """The broken mappings of one VM."""
    frames = vmm.mem.frames
    folios = gmem_folios(vmm.vms)

    def owner(pfn: int) -> Owner:
        return page_owner(vmm.module, pfn, folios)

    bad = []
    for gfn, pfn in sorted(kvm.mmu.shared.items()):
        where = f"{vm}shared EPT GPA {gfn * PAGE:#x} -> pfn {pfn:#x}"
        if pfn not in frames:
            bad.append(f"{where}: the frame was freed")
            continue
        if owner(pfn) in TD_OWNED:
            bad.append(f"{where}: the frame is {owner(pfn).value}")
        slot = kvm.gfn_to_memslot(gfn)
        if slot is None:
            bad.append(f"{where}: no memslot backs the GPA any more")
            continue
        if slot.gmem_only:
            backing = slot.gmem.folios.get(slot.gmem.index_of(slot, gfn))
        else:
            hva = slot.userspace_addr + (gfn - slot.base_gfn) * PAGE
            vma = vmm.mm.find_vma(hva)
            backing = None if vma is None else vma.ptes.get(hva // PAGE)
        if backing != pfn:
            bad.append(f"{where}: the GPA is now backed by {backing}")
    for gfn, pfn in [] if kvm.vm_dead else sorted(kvm.mmu.mirror.items()):
        where = f"{vm}mirror EPT GPA {gfn * PAGE:#x} -> pfn {pfn:#x}"
        if pfn not in frames:
            bad.append(f"{where}: the frame was freed")
            continue
        slot = kvm.gfn_to_memslot(gfn)
        if slot is None or slot.gmem is None:
            bad.append(f"{where}: no guest_memfd memslot backs the GPA any more")
            continue
        if slot.gmem.folios.get(slot.gmem.index_of(slot, gfn)) != pfn:
            bad.append(f"{where}: the guest_memfd no longer holds the frame")
        if owner(pfn) is not Owner.TD_PRIVATE:
            bad.append(f"{where}: the frame is {owner(pfn).value}")
    return bad
