"""Who owns a physical page, derived in one place from what decides it in the real system.

No layer stores or sets an owner. A page's role follows from:
- the TDX module's PAMT (intel/tdx-module TDX_1.5.01 src/common/memory_handlers/pamt_manager.h): PT_REG is a TD's
  private page (encrypted under the TD's HKID), PT_TDR / PT_TDCX / PT_TDVPR / PT_EPT are the module's metadata;
- otherwise (PT_NDA), the page cache: a folio of a guest_memfd file (its folio->mapping is the guest_memfd inode,
  virt/kvm/guest_memfd.c kvm_gmem_get_folio) is shared or private by that file's attributes as userspace faults
  see them (kvm_gmem_fault_user_mapping); any other page is the host's (anonymous memory, a kernel page).
The KeyID (physmem.Frame.keyid) agrees with the PAMT: the TD's HKID for PT_REG, 0 for PT_NDA.
"""

from __future__ import annotations

from collections.abc import Iterable

from tdxsim.kvm.guest_memfd import GuestMemfd
from tdxsim.kvm.kvm_main import Kvm
from tdxsim.physmem import Owner
from tdxsim.tdx.module import PageType, TdxModule


def gmem_folios(vms: Iterable[Kvm]) -> dict[int, tuple[GuestMemfd, int]]:
    """pfn -> (guest_memfd, page index) for every folio in every VM's guest_memfds (the page cache's mapping)."""
    return {pfn: (gmem, index) for kvm in vms for gmem in kvm.gmems for index, pfn in gmem.folios.items()}


def page_owner(module: TdxModule, pfn: int, folios: dict[int, tuple[GuestMemfd, int]]) -> Owner:
    """The owner of frame `pfn`; `folios` is `gmem_folios(vms)` (empty when no VM exists)."""
    pt = module.page_type(pfn)
    if pt is PageType.PT_REG:
        return Owner.TD_PRIVATE
    if pt is not PageType.PT_NDA:
        return Owner.TDX_METADATA
    folio = folios.get(pfn)
    if folio is None:
        return Owner.HOST
    gmem, index = folio
    return Owner.GMEM_SHARED if gmem.is_shared_for_mmap(index) else Owner.GMEM_PRIVATE
