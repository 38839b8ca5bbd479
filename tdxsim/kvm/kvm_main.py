"""Generic KVM (virt/kvm/kvm_main.c, arch/x86/kvm/x86.c): the VM and its vCPUs, memslots, per-VM memory
attributes and guest_memfd creation; TDX sub-commands go to `tdxsim.kvm.tdx`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from tdxsim import platform
from tdxsim.errno import EBADF, EEXIST, EINVAL, EIO
from tdxsim.events import Trace, traced, untraced
from tdxsim.kvm.flavours import Flavour
from tdxsim.kvm.guest_memfd import GuestMemfd
from tdxsim.kvm.mm import Mm
from tdxsim.kvm.mmu import TdpMmu
from tdxsim.kvm.tdx import VCPU_TD_STATE_UNINITIALIZED, KvmTdx
from tdxsim.kvm.uapi import (
    GUEST_MEMFD_FLAG_INIT_SHARED,
    GUEST_MEMFD_FLAG_MMAP,
    KVM_MEM_GUEST_MEMFD,
    KVM_MEM_LOG_DIRTY_PAGES,
    KVM_MEMORY_ATTRIBUTE_PRIVATE,
    KVM_USER_MEM_SLOTS,
)
from tdxsim.physmem import PhysicalMemory
from tdxsim.ranges import RangeMap
from tdxsim.records import record
from tdxsim.tdx.module import TdxModule

PAGE_SIZE = platform.PAGE_SIZE


@record
class Memslot:
    """struct kvm_memory_slot: GFNs [base_gfn, base_gfn + npages) backed by userspace_addr and/or a guest_memfd."""

    id: int
    base_gfn: int
    npages: int
    userspace_addr: int
    flags: int
    gmem: GuestMemfd | None
    gmem_offset: int

    @property
    def gmem_only(self) -> bool:
        """kvm_memslot_is_gmem_only: a guest_memfd with MMAP backs shared pages too (KVM_MEMSLOT_GMEM_ONLY)."""
        return self.gmem is not None and bool(self.gmem.flags & GUEST_MEMFD_FLAG_MMAP)


@record
class Vcpu:
    """struct kvm_vcpu with its vcpu_tdx part."""

    id: int
    tdx_state: str = VCPU_TD_STATE_UNINITIALIZED
    tdvpr: int | None = None


class Kvm:
    """struct kvm for a KVM_X86_TDX_VM."""

    def __init__(
        self,
        mem: PhysicalMemory,
        module: TdxModule,
        mm: Mm,
        trace: Trace,
        flavour: Flavour,
        in_place: bool,
        machine_vms: Callable[[], list[Kvm]],
    ) -> None:
        self.mem, self.module, self.mm, self.trace = mem, module, mm, trace
        self.flavour = flavour
        #: The gmem_in_place_conversion module parameter (0444: fixed when kvm.ko loads).
        self.in_place = in_place
        self.machine_vms = machine_vms
        self.vcpus: dict[int, Vcpu] = {}
        self.memslots: dict[int, Memslot] = {}
        #: The memslots sorted by base_gfn (they never overlap) and their base GFNs, for bisection (kvm_memslots'
        #: gfn tree); and the memslots that map userspace memory, sorted by userspace_addr (hva tree).
        self._by_gfn: list[Memslot] = []
        self._gfn_starts: list[int] = []
        self._by_hva: list[tuple[int, int, Memslot]] = []
        self._max_hva_len = 0
        self.mem_attrs = RangeMap(default=0)  # kvm->mem_attr_array: gfn -> attributes (out-of-place model)
        self.gmems: list[GuestMemfd] = []
        self.vm_dead = False
        self.signal_from_page: int | None = None
        untraced(self)
        self.tdx = KvmTdx(self)
        self.mmu = TdpMmu(mem, trace, self.tdx.tdx_sept_set_private_spte, lambda: self.vm_dead)
        mm.notifiers.append(self.kvm_mmu_notifier_invalidate_range_start)

    # -- state helpers ------------------------------------------------------------------------------------------

    def kvm_vm_bugged(self, why: str) -> None:
        """KVM_BUG_ON: mark the VM bugged and dead (KVM_REQ_VM_DEAD); every later ioctl returns -EIO."""
        if not self.vm_dead:
            self.trace.state("kvm", "vm_dead", old=False, new=True, why=why)
        self.vm_dead = True

    def signal_pending(self, page: int) -> bool:
        """signal_pending(current) before page `page` of the running ioctl's loop (the scenario op signal_pending)."""
        return self.signal_from_page is not None and page >= self.signal_from_page

    def gfn_to_memslot(self, gfn: int) -> Memslot | None:
        """The memslot containing `gfn` (search_memslots: a tree walk, here a bisection)."""
        i = bisect.bisect_right(self._gfn_starts, gfn) - 1
        if i >= 0 and gfn < self._by_gfn[i].base_gfn + self._by_gfn[i].npages:
            return self._by_gfn[i]
        return None

    def memslots_in(self, start: int, end: int) -> list[Memslot]:
        """The memslots overlapping GFNs [start, end), by base_gfn (kvm_for_each_memslot_in_gfn_range)."""
        i = bisect.bisect_right(self._gfn_starts, start) - 1
        if i < 0 or self._by_gfn[i].base_gfn + self._by_gfn[i].npages <= start:
            i += 1
        return self._by_gfn[i : max(i, bisect.bisect_left(self._gfn_starts, end))]

    def _index_memslot(self, slot: Memslot, add: bool) -> None:
        """Add `slot` to the GFN and HVA indexes, or take it out."""
        i = bisect.bisect_left(self._gfn_starts, slot.base_gfn)
        entry = (slot.userspace_addr, slot.id, slot)
        if add:
            self._by_gfn.insert(i, slot)
            self._gfn_starts.insert(i, slot.base_gfn)
            if not slot.gmem_only:
                bisect.insort(self._by_hva, entry, key=lambda e: (e[0], e[1]))
                self._max_hva_len = max(self._max_hva_len, slot.npages * PAGE_SIZE)
        else:
            del self._by_gfn[i], self._gfn_starts[i]
            if entry in self._by_hva:
                self._by_hva.remove(entry)

    def kvm_supported_mem_attributes(self) -> int:
        """PRIVATE for a VM with private memory, except that v8 with in-place conversion deprecates per-VM
        PRIVATE (kvm_supported_vm_mem_attributes returns 0; v8 10/17)."""
        if self.flavour.has_in_place and self.in_place:
            return 0
        return KVM_MEMORY_ATTRIBUTE_PRIVATE

    def kvm_gmem_range_is_private(self, slot: Memslot, gfn: int) -> bool:
        """v8 kvm_gmem_range_is_private: the guest_memfd's own attribute with in-place conversion, otherwise the
        per-VM attributes (kvm_range_has_memory_attributes upstream)."""
        if self.flavour.has_in_place and self.in_place:
            if slot.gmem is None:
                raise RuntimeError("simulator invariant broken: called for guest_memfd slots only")
            return slot.gmem.is_private(slot.gmem.index_of(slot, gfn))
        return bool(self.mem_attrs.get(gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE)

    def kvm_mem_is_private(self, gfn: int) -> bool:
        """Whether the guest's access to `gfn` should be private (the attribute the fault path compares with)."""
        slot = self.gfn_to_memslot(gfn)
        if slot is not None and slot.gmem is not None:
            return self.kvm_gmem_range_is_private(slot, gfn)
        return bool(self.mem_attrs.get(gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE)

    def kvm_gmem_invalidate(self, gmem: GuestMemfd, first: int, last: int, private: bool, shared: bool) -> None:
        """kvm_gmem_invalidate_start: zap the KVM mappings of file pages [first, last) in every bound memslot (found
        through the file's bindings, as __kvm_gmem_invalidate_begin walks f->bindings), the private (mirror/S-EPT)
        side, the shared side, or both."""
        for lo, hi, slot_id in list(gmem.bindings.items(first, last)):
            slot = self.memslots[slot_id]  # a deleted memslot unbinds its range first (_delete_memslot)
            start = slot.base_gfn + lo - slot.gmem_offset // PAGE_SIZE
            end = start + hi - lo
            if private:
                self.mmu.kvm_tdp_mmu_unmap_gfn_range(start, end, private=True)
            if shared:
                self.mmu.kvm_tdp_mmu_unmap_gfn_range(start, end, private=False)

    @traced("kvm")
    def kvm_mmu_notifier_invalidate_range_start(self, start: int, end: int) -> None:
        """User addresses [start, end) lost their pages (munmap, MADV_DONTNEED): zap the shared-EPT mappings KVM
        made from them (virt/kvm/kvm_main.c; kvm_unmap_gfn_range with KVM_FILTER_SHARED). guest_memfd-only slots
        map nothing through userspace_addr, so they are untouched (and not in the HVA index)."""
        lo_key = start - self._max_hva_len
        i = bisect.bisect_right(self._by_hva, lo_key, key=lambda e: e[0])
        j = bisect.bisect_left(self._by_hva, end, key=lambda e: e[0])
        for hva, _id, slot in self._by_hva[i:j]:
            lo = max(start, hva)
            hi = min(end, hva + slot.npages * PAGE_SIZE)
            if lo < hi:
                first = slot.base_gfn + (lo - hva) // PAGE_SIZE
                self.mmu.kvm_tdp_mmu_unmap_gfn_range(first, first + (hi - lo) // PAGE_SIZE, private=False)

    # -- VM ioctls ----------------------------------------------------------------------------------------------

    @traced("kvm")
    def kvm_vm_ioctl_create_vcpu(self, vcpu_id: int) -> int:
        """KVM_CREATE_VCPU: the TDX part (tdx_vcpu_create) runs first; a duplicate id is -EEXIST."""
        if vcpu_id < 0 or vcpu_id >= 4096:
            return -EINVAL
        vcpu = Vcpu(vcpu_id)
        if ret := self.tdx.tdx_vcpu_create(vcpu):
            return ret
        if vcpu_id in self.vcpus:
            return -EEXIST
        self.vcpus[vcpu_id] = vcpu
        self.trace.state("kvm", "vcpu_state", vcpu=vcpu_id, old=None, new=vcpu.tdx_state)
        return 0

    @traced("kvm")
    def kvm_gmem_create(self, size: int, flags: int) -> int:
        """KVM_CREATE_GUEST_MEMFD: unsupported flags, then a size that is 0 or not page aligned, are -EINVAL.
        MMAP is supported for every VM: "KVM: guest_memfd: Allow mmap() on guest_memfd for x86 VMs with private
        memory" (20251003232606.4070510-6-seanjc@google.com, kvm_gmem_get_supported_flags) replaced the older
        kvm_arch_supports_gmem_mmap() refusal (3d3a04fad25a) before any modelled flavour; INIT_SHARED is supported
        for a VM with private memory only with in-place conversion (kvm_arch_supports_gmem_init_shared; v8 25/46).
        Returns the new guest_memfd's number."""
        supported = GUEST_MEMFD_FLAG_MMAP
        if self.flavour.has_in_place and self.in_place:
            supported |= GUEST_MEMFD_FLAG_INIT_SHARED
        if flags & ~supported:
            return -EINVAL
        if size <= 0 or size % PAGE_SIZE:
            return -EINVAL
        gmem = GuestMemfd(self, len(self.gmems), size, flags)
        self.gmems.append(gmem)
        self.trace.state("kvm", "guest_memfd", gmem=gmem.number, old=None, new="created", size=size, flags=flags)
        return gmem.number

    @traced("kvm")
    def kvm_set_memory_region(
        self,
        slot_id: int,
        flags: int,
        guest_phys_addr: int,
        memory_size: int,
        userspace_addr: int,
        guest_memfd: int,
        guest_memfd_offset: int,
    ) -> int:
        """KVM_SET_USER_MEMORY_REGION2 (kvm_vm_ioctl_set_memory_region, check_memory_region_flags,
        kvm_set_memory_region, kvm_gmem_bind, kvm_arch_prepare_memory_region), checks in the kernel's order."""
        if slot_id < 0 or slot_id >= KVM_USER_MEM_SLOTS:
            return -EINVAL
        valid = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_GUEST_MEMFD
        if flags & KVM_MEM_GUEST_MEMFD:
            valid &= ~KVM_MEM_LOG_DIRTY_PAGES
        if flags & ~valid:
            return -EINVAL
        if memory_size % PAGE_SIZE or guest_phys_addr % PAGE_SIZE or userspace_addr % PAGE_SIZE:
            return -EINVAL
        if flags & KVM_MEM_GUEST_MEMFD and guest_memfd_offset % PAGE_SIZE:
            return -EINVAL
        if guest_phys_addr + memory_size < guest_phys_addr:
            return -EINVAL
        old = self.memslots.get(slot_id)
        if memory_size == 0:
            if old is None:
                return -EINVAL
            return self._delete_memslot(old)
        if old is not None:
            return -EINVAL  # moving or resizing a slot: only deletion is modelled, and never for guest_memfd
        base_gfn, npages = guest_phys_addr // PAGE_SIZE, memory_size // PAGE_SIZE
        if self.memslots_in(base_gfn, base_gfn + npages):
            return -EEXIST
        gmem = None
        if flags & KVM_MEM_GUEST_MEMFD:
            if not 0 <= guest_memfd < len(self.gmems):
                return -EBADF
            gmem = self.gmems[guest_memfd]
            first = guest_memfd_offset // PAGE_SIZE
            if guest_memfd_offset + memory_size > gmem.size:
                return -EINVAL
            if any(v is not None for _, _, v in gmem.bindings.items(first, first + npages)):
                return -EEXIST
        # kvm_arch_prepare_memory_region (arch/x86/kvm/x86.c), for KVM_MR_CREATE: the last GFN above
        # kvm_mmu_max_gfn() (host MAXPHYADDR with TDP, arch/x86/kvm/mmu.h), then one with a bit of
        # kvm_gfn_direct_bits (kvm_is_gfn_alias: the shared bit, once KVM_TDX_INIT_VM has set it), is -EINVAL.
        if base_gfn + npages - 1 > (1 << (platform.HOST_MAXPHYADDR - 12)) - 1:
            return -EINVAL
        if (base_gfn + npages - 1) & self.tdx.kvm_gfn_direct_bits():
            return -EINVAL
        if gmem is not None:
            gmem.bindings.set(first, first + npages, slot_id)
        self.memslots[slot_id] = Memslot(slot_id, base_gfn, npages, userspace_addr, flags, gmem, guest_memfd_offset)
        self._index_memslot(self.memslots[slot_id], add=True)
        self.trace.state("kvm", "memslot", slot=slot_id, old=None, new="created", gpa=guest_phys_addr, size=memory_size)
        return 0

    def _delete_memslot(self, slot: Memslot) -> int:
        """Delete a memslot: zap both sides of its GFNs, unbind the guest_memfd range."""
        end = slot.base_gfn + slot.npages
        self.mmu.kvm_tdp_mmu_unmap_gfn_range(slot.base_gfn, end, private=True)
        self.mmu.kvm_tdp_mmu_unmap_gfn_range(slot.base_gfn, end, private=False)
        if slot.gmem is not None:
            first = slot.gmem_offset // PAGE_SIZE
            slot.gmem.bindings.set(first, first + slot.npages, None)
        del self.memslots[slot.id]
        self._index_memslot(slot, add=False)
        self.trace.state("kvm", "memslot", slot=slot.id, old="created", new=None)
        return 0

    @traced("kvm")
    def kvm_vm_ioctl_set_mem_attributes(self, address: int, size: int, attributes: int, flags: int) -> int:
        """KVM_SET_MEMORY_ATTRIBUTES (per-VM, the out-of-place model): flags, unsupported attributes, size 0 or
        wrap, alignment -> -EINVAL; then zap the side that stops being valid (kvm_arch_pre_set_memory_attributes:
        to private zaps shared mappings, to shared zaps private ones)."""
        if flags:
            return -EINVAL
        if attributes & ~self.kvm_supported_mem_attributes():
            return -EINVAL
        if size == 0 or address + size < address:
            return -EINVAL
        if address % PAGE_SIZE or size % PAGE_SIZE:
            return -EINVAL
        start, end = address // PAGE_SIZE, (address + size) // PAGE_SIZE
        if self.mem_attrs.all_equal(start, end, attributes):
            return 0
        to_private = bool(attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE)
        self.mmu.kvm_tdp_mmu_unmap_gfn_range(start, end, private=not to_private)
        self.mem_attrs.set(start, end, attributes)
        self.trace.state(
            "kvm",
            "mem_attributes",
            address=address,
            size=size,
            old="private" if not to_private else "shared",
            new="private" if to_private else "shared",
        )
        return 0

    def check_alive(self) -> int:
        """kvm_vm_ioctl/kvm_vcpu_ioctl: -EIO once the VM is dead or bugged."""
        return -EIO if self.vm_dead else 0
