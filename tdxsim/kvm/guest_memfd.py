"""guest_memfd (virt/kvm/guest_memfd.c): the file that backs a TD's private memory, and in the v8 in-place model
its shared memory too, with per-page shared/private attributes.

Pre-v8 (and v8 with gmem_in_place_conversion off) a TDX VM's guest_memfd is private-only: GUEST_MEMFD_FLAG_MMAP
may be set but INIT_SHARED may not, so every userspace fault is SIGBUS, and the per-VM attributes say what is
private. With in-place conversion on, each index carries its own attribute (a maple tree in the kernel, v8 01/13).
"""

from __future__ import annotations

from tdxsim import platform
from tdxsim.errno import EAGAIN, EEXIST, EHWPOISON, EINVAL, ENODEV, ENOTTY
from tdxsim.events import traced
from tdxsim.kvm.mm import SIGBUS
from tdxsim.kvm.uapi import GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_MEMORY_ATTRIBUTE_PRIVATE
from tdxsim.ranges import RangeMap, keys_in_range

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from collections.abc import Callable

    from tdxsim.kvm.kvm_main import Kvm, Memslot

PAGE_SIZE = platform.PAGE_SIZE
PRIVATE = KVM_MEMORY_ATTRIBUTE_PRIVATE


class GuestMemfd:
    """One guest_memfd file: its folios (one 4 KiB page each here), attributes and memslot bindings."""

    def __init__(self, kvm: Kvm, number: int, size: int, flags: int) -> None:
        self.kvm = kvm
        self.trace = kvm.trace
        self.number = number
        self.size = size
        self.flags = flags
        self.folios: dict[int, int] = {}  # page index -> pfn
        self.uptodate: set[int] = set()  # folio_test_uptodate / "prepared"
        self.poisoned: set[int] = set()
        initial = 0 if flags & GUEST_MEMFD_FLAG_INIT_SHARED else PRIVATE
        self.attributes = RangeMap(default=initial)  # per-index attributes (v8 in-place model)
        self.bindings = RangeMap(default=None)  # page index -> memslot id (kvm_gmem_bind)

    @property
    def npages(self) -> int:
        return self.size // PAGE_SIZE

    def is_private(self, index: int) -> bool:
        """The index's own attribute: meaningful with in-place conversion (kvm_gmem_is_private, v8)."""
        return bool(self.attributes.get(index) & PRIVATE)

    def is_shared_for_mmap(self, index: int) -> bool:
        """Whether a userspace fault may map the page: INIT_SHARED upstream, the index's attribute in v8 in-place."""
        if self.kvm.in_place:
            return not self.is_private(index)
        # upstream asks for INIT_SHARED, which a TD's guest_memfd cannot have without in-place conversion
        # (kvm_arch_supports_gmem_init_shared; Kvm.kvm_gmem_create refuses the flag)
        return False

    def kvm_gmem_get_folio(self, index: int) -> int:
        """Find or allocate the folio at `index` (filemap_grab_folio)."""
        pfn = self.folios.get(index)
        if pfn is None:
            pfn = self.kvm.mem.alloc(origin="new guest_memfd folio")
            self.folios[index] = pfn
            if self.trace.enabled:
                self.trace.state("kvm", "gmem_folio", gmem=self.number, index=index, old=None, new=pfn)
        return pfn

    # -- userspace mmap --------------------------------------------------------------------------------------

    def mmap_check(self, shared: bool) -> int:
        """kvm_gmem_mmap: -ENODEV without GUEST_MEMFD_FLAG_MMAP, -EINVAL unless MAP_SHARED."""
        if not self.flags & GUEST_MEMFD_FLAG_MMAP:
            return -ENODEV
        if not shared:
            return -EINVAL
        return 0

    def fault(self, pgoff: int) -> int | str:
        """kvm_gmem_fault_user_mapping: SIGBUS past EOF or on a private page, else the (zeroed on first use) folio."""
        if pgoff >= self.npages or not self.is_shared_for_mmap(pgoff) or pgoff in self.poisoned:
            return SIGBUS
        pfn = self.kvm_gmem_get_folio(pgoff)
        self.uptodate.add(pgoff)
        return pfn

    # -- KVM's side ------------------------------------------------------------------------------------------

    def index_of(self, slot: Memslot, gfn: int) -> int:
        """The file index that backs `gfn` in `slot`."""
        return gfn - slot.base_gfn + slot.gmem_offset // PAGE_SIZE

    def punch_hole(self, first: int, last: int) -> None:
        """kvm_gmem_punch_hole: zap every mapping of this file's pages [first, last) — KVM's private side (mirror and
        S-EPT), KVM's shared side wherever it maps this file's folios, and userspace's — then drop the folios; a
        pinned folio lives on until its last pin goes.

        KVM's shared EPT maps this file's folios when its memslots are guest_memfd-only, i.e. when the file has MMAP
        (kvm_gmem_bind sets KVM_MEMSLOT_GMEM_ONLY; the shared fault goes kvm_mmu_faultin_pfn ->
        kvm_mmu_faultin_pfn_gmem) or in-place conversion is on; otherwise the shared side is the VMM's anonymous
        memory, which the punch leaves alone. Upstream's kvm_gmem_get_invalidate_filter asks for the shared side
        only with INIT_SHARED, but a TD may have MMAP without INIT_SHARED (20251003232606.4070510-6-seanjc@google.com):
        zapping only the private side there would leave the guest a mapping of a freed frame (docs/fidelity.md
        "Choices the sources leave open")."""
        maps_shared = self.kvm.in_place or bool(self.flags & (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED))
        self.kvm.kvm_gmem_invalidate(self, first, last, private=True, shared=maps_shared)
        self.kvm.mm.unmap_mapping_pages(self, first, last)
        for index in keys_in_range(self.folios, first, last):
            pfn = self.folios.pop(index)
            self.uptodate.discard(index)
            frame = self.kvm.mem.frames[pfn]
            if frame.pins == 0:
                self.kvm.mem.free(pfn)
            else:
                frame.detached = True
            self.trace.state("kvm", "gmem_folio", gmem=self.number, index=index, old=pfn, new=None)

    @traced("kvm")
    def kvm_gmem_set_attributes(
        self, offset: int, size: int, attributes: int, flags: int, reserved: int
    ) -> tuple[int, int | None]:
        """KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd (v8 13/14/16/17): validate, then convert in place.
        Returns (ret, error_offset)."""
        if not self.kvm.in_place:
            return -ENOTTY, None
        if flags or reserved:
            return -EINVAL, None
        if attributes & ~PRIVATE:
            return -EINVAL, None
        if size == 0 or offset + size < offset or offset % PAGE_SIZE or size % PAGE_SIZE:
            return -EINVAL, None
        if offset + size > self.size:
            return -EINVAL, None
        first, last = offset // PAGE_SIZE, (offset + size) // PAGE_SIZE
        if self.attributes.all_equal(first, last, attributes):
            return 0, None
        to_private = bool(attributes & PRIVATE)
        if to_private:
            self.kvm.mm.unmap_mapping_pages(self, first, last)
            # kvm_gmem_is_safe_for_conversion: an elevated refcount (a GUP pin) refuses the conversion.
            for index in keys_in_range(self.folios, first, last):
                if self.kvm.mem.frames[self.folios[index]].pins:
                    return -EAGAIN, index * PAGE_SIZE
        # kvm_gmem_invalidate_start: zap KVM mappings, filtered by the range's current attributes (v8 20).
        self.kvm.kvm_gmem_invalidate(self, first, last, private=not to_private, shared=to_private)
        old = "private" if not to_private else "shared"
        self.attributes.set(first, last, attributes)
        self.trace.state(
            "kvm",
            "gmem_attributes",
            gmem=self.number,
            offset=offset,
            size=size,
            old=old,
            new="private" if to_private else "shared",
        )
        return 0, None


@traced("kvm")
def __kvm_gmem_get_pfn(file: GuestMemfd, index: int) -> tuple[int, int | None]:
    """Get the folio for KVM: -EHWPOISON if poisoned; in v8 a folio that is not up to date is zeroed here
    ("zero before first use", v8 21/46)."""
    if index in file.poisoned:
        return -EHWPOISON, None
    pfn = file.kvm_gmem_get_folio(index)
    if index not in file.uptodate and file.kvm.flavour.has_in_place:
        file.kvm.mem.clear(pfn, origin="zeroed by __kvm_gmem_get_pfn (v8 21/46)")
        file.uptodate.add(index)
        if file.trace.enabled:
            file.trace.state("kvm", "gmem_uptodate", gmem=file.number, index=index, old=False, new=True)
    return 0, pfn


@traced("kvm")
def kvm_gmem_populate(kvm: Kvm, gfn: int, src: int, post_populate: Callable, arg: object) -> int:
    """Populate one private page (TDX passes npages = 1, may_writeback_src = false). Returns 1 or -errno.

    Order (virt/kvm/guest_memfd.c): memslot with a guest_memfd, else -EINVAL; since 2a62345b3052 GUP of a non-NULL
    source before the filemap invalidate lock; the folio (__kvm_gmem_get_pfn); before the rework an already
    prepared folio is -EEXIST; not PRIVATE -> -EINVAL; then post_populate, which gets the source page (since
    2a62345b3052, NULL when src is 0) or the user address (before it).
    """
    slot = kvm.gfn_to_memslot(gfn)
    if slot is None or slot.gmem is None:
        return -EINVAL
    file = slot.gmem
    source: int | None = src
    if kvm.flavour.gup_in_populate:
        source = None
        if src:
            ret, source = kvm.mm.get_user_pages_fast(src)
            if ret < 0:
                return ret
    index = file.index_of(slot, gfn)
    ret, pfn = __kvm_gmem_get_pfn(file, index)
    if ret:
        return ret
    if kvm.flavour.populate_checks_prepared and index in file.uptodate:
        return -EEXIST
    if not kvm.kvm_gmem_range_is_private(slot, gfn):
        return -EINVAL
    ret = post_populate(gfn, pfn, source, arg)
    if ret:
        return ret
    file.uptodate.add(index)
    return 1
