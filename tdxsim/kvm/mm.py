"""The slice of Linux mm that a VMM and KVM use: VMAs, page faults, get_user_pages_fast and long-term pins.

A file mapping's faults go to the file's `fault` method (the `vm_operations_struct` of mm/memory.c), so guest_memfd
serves its own mmap faults without mm knowing about KVM.
"""

from __future__ import annotations

import bisect

from tdxsim import platform
from tdxsim.errno import EFAULT, EINVAL, ENOMEM
from tdxsim.events import Trace, traced, untraced
from tdxsim.kvm.uapi import MMAP_BASE, TASK_SIZE
from tdxsim.physmem import PhysicalMemory
from tdxsim.ranges import keys_in_range
from tdxsim.records import field, record

PAGE_SIZE = platform.PAGE_SIZE
SIGBUS = "SIGBUS"
SIGSEGV = "SIGSEGV"


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Protocol

    class MappedFile(Protocol):
        """What mm needs from a file it maps (guest_memfd is the only file in this model)."""

        def fault(self, pgoff: int) -> int | str:
            """Return the pfn at page offset `pgoff`, or "SIGBUS"."""

        def mmap_check(self, shared: bool) -> int:
            """0, or the negative errno the file's ->mmap returns."""


@record
class Vma:
    """One mapping [start, end) of an anonymous region or of a file from `pgoff`."""

    start: int
    end: int
    file: MappedFile | None
    pgoff: int
    shared: bool
    ptes: dict[int, int] = field(default_factory=dict)  # virtual page number -> pfn, for faulted-in pages


class Mm:
    """One process's address space (the VMM's)."""

    def __init__(self, mem: PhysicalMemory, trace: Trace) -> None:
        self.mem = mem
        self.trace = trace
        #: The VMAs, sorted by start and never overlapping (mm's maple tree); `_starts` mirrors their starts for bisect.
        self.vmas: list[Vma] = []
        self._starts: list[int] = []
        #: No free gap below this address (at or above MMAP_BASE): where the search for an unmapped area begins.
        self._free_hint = MMAP_BASE
        self.pinned: dict[int, list[int]] = {}  # virtual page -> pfns pinned through it (the pinner's page list)
        #: MMU notifiers (mmu_notifier_invalidate_range_start): called with [start, end) of user addresses whose
        #: mappings go away; KVM registers one to zap what it mapped from them
        #: (kvm_mmu_notifier_invalidate_range_start).
        self.notifiers: list = []
        untraced(self)

    def _overlapping(self, start: int, end: int) -> tuple[int, int]:
        """The index range [i, j) of the VMAs that overlap [start, end), found by bisection."""
        i = bisect.bisect_right(self._starts, start) - 1
        if i < 0 or self.vmas[i].end <= start:
            i += 1
        return i, max(i, bisect.bisect_left(self._starts, end))

    def find_vma(self, addr: int) -> Vma | None:
        """The VMA containing `addr`."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self.vmas[i].end:
            return self.vmas[i]
        return None

    def _get_unmapped_area(self, length: int) -> int:
        """The lowest free range at or above MMAP_BASE (docs/scenario.md), searched from the first gap on."""
        addr = self._free_hint
        first_gap = None
        i, _ = self._overlapping(addr, addr + 1)
        for vma in self.vmas[i:]:
            if vma.start >= addr + length:
                break
            if vma.start > addr and first_gap is None:
                first_gap = addr
            addr = max(addr, vma.end)
        self._free_hint = addr if first_gap is None else first_gap
        return addr

    @traced("kvm")
    def do_mmap(self, addr: int | None, length: int, file: MappedFile | None, offset: int, shared: bool) -> int:
        """mmap(2): map anonymous memory or a file; `addr` given means MAP_FIXED. Returns the address or -errno."""
        if length <= 0 or offset % PAGE_SIZE or (addr is not None and addr % PAGE_SIZE):
            return -EINVAL
        length = -(-length // PAGE_SIZE) * PAGE_SIZE
        if file is not None and (err := file.mmap_check(shared)):
            return err
        if addr is None:
            addr = self._get_unmapped_area(length)
        if addr + length > TASK_SIZE:
            return -ENOMEM
        self.do_munmap(addr, length)
        i = bisect.bisect_left(self._starts, addr)
        self.vmas.insert(i, Vma(addr, addr + length, file, offset // PAGE_SIZE, shared))
        self._starts.insert(i, addr)
        self.trace.state("vmm", "vma", start=addr, end=addr + length, file=file is not None, old=None, new="mapped")
        return addr

    @traced("kvm")
    def do_munmap(self, addr: int, length: int) -> int:
        """munmap(2): drop every mapping in [addr, addr+length); anonymous pages not pinned are freed."""
        if addr % PAGE_SIZE or length <= 0:
            return -EINVAL
        end = addr + -(-length // PAGE_SIZE) * PAGE_SIZE
        i, j = self._overlapping(addr, end)
        kept: list[Vma] = []
        for vma in self.vmas[i:j]:
            for part_start, part_end in ((vma.start, addr), (end, vma.end)):
                if part_start < part_end:
                    part = Vma(
                        part_start, part_end, vma.file, vma.pgoff + (part_start - vma.start) // PAGE_SIZE, vma.shared
                    )
                    part.ptes = {v: p for v, p in vma.ptes.items() if part_start <= v * PAGE_SIZE < part_end}
                    kept.append(part)
            for vpn in keys_in_range(vma.ptes, addr // PAGE_SIZE, end // PAGE_SIZE):
                self._drop(vma, vma.ptes[vpn])
        self._invalidate(addr, end)
        self.vmas[i:j] = kept
        self._starts[i:j] = [vma.start for vma in kept]
        if j > i:
            self._free_hint = max(MMAP_BASE, min(self._free_hint, addr))
        return 0

    def _invalidate(self, start: int, end: int) -> None:
        for notifier in self.notifiers:
            notifier(start, end)

    def _drop(self, vma: Vma, pfn: int) -> None:
        """An anonymous page loses its only mapping: free it unless a long-term pin holds it."""
        if vma.file is None:
            frame = self.mem.frames[pfn]
            if frame.pins == 0:
                self.mem.free(pfn)
            else:
                frame.detached = True

    def handle_mm_fault(self, addr: int) -> int | str:
        """Fault a page in: anonymous memory gets a zeroed page, a file mapping asks the file (may be SIGBUS)."""
        vma = self.find_vma(addr)
        if vma is None:
            return SIGSEGV
        vpn = addr // PAGE_SIZE
        pfn = vma.ptes.get(vpn)
        if pfn is not None:
            return pfn
        if vma.file is None:
            pfn = self.mem.alloc(origin="zero-filled anonymous page")
        else:
            fault = vma.file.fault(vma.pgoff + vpn - vma.start // PAGE_SIZE)
            if isinstance(fault, str):  # SIGBUS
                return fault
            pfn = fault
        vma.ptes[vpn] = pfn
        return pfn

    def access(self, addr: int, length: int, data: bytes | memoryview | None = None) -> tuple[bytes | str, int]:
        """A userspace load (data None) or store, page by page: (bytes read or "", 0) or (signal, faulting address)."""
        out = bytearray()
        pos = 0
        while pos < length:
            cur = addr + pos
            pfn = self.handle_mm_fault(cur)
            if isinstance(pfn, str):
                return pfn, cur
            off = cur % PAGE_SIZE
            n = min(PAGE_SIZE - off, length - pos)
            if data is None:
                out += self.mem.read(pfn, off, n)
            else:
                self.mem.write(pfn, off, data[pos : pos + n], origin=f"written by userspace at {cur - off:#x}")
            pos += n
        return bytes(out), 0

    @traced("kvm")
    def get_user_pages_fast(self, addr: int) -> tuple[int, int | None]:
        """GUP one page (mm/gup.c): (1, pfn), or (-EFAULT, None) for an unmapped address or a fault that fails
        with SIGBUS, as a private guest_memfd page does (VM_FAULT_SIGBUS -> -EFAULT)."""
        pfn = self.handle_mm_fault(addr)
        if isinstance(pfn, str):
            return -EFAULT, None
        return 1, pfn

    def pin(self, addr: int, length: int) -> int:
        """pin_user_pages(FOLL_LONGTERM) over a range: each page gets an extra reference."""
        taken: list[tuple[int, int]] = []  # (virtual page, pfn)
        for vpn in range(addr // PAGE_SIZE, -(-(addr + length) // PAGE_SIZE)):
            ret, pfn = self.get_user_pages_fast(vpn * PAGE_SIZE)
            if pfn is None:  # -EFAULT: unpin what was pinned
                for _, p in taken:
                    self.mem.frames[p].pins -= 1
                return ret
            self.mem.frames[pfn].pins += 1
            taken.append((vpn, pfn))
        for vpn, pfn in taken:
            self.pinned.setdefault(vpn, []).append(pfn)
        return 0

    def unpin(self, addr: int, length: int) -> int:
        """unpin_user_pages on the pages a former `pin` of the same addresses took (whatever maps them now)."""
        vpns = range(addr // PAGE_SIZE, -(-(addr + length) // PAGE_SIZE))
        if not all(self.pinned.get(vpn) for vpn in vpns):
            return -EINVAL
        for vpn in vpns:
            pfn = self.pinned[vpn].pop()
            frame = self.mem.frames[pfn]
            frame.pins -= 1
            if frame.pins == 0 and frame.detached:  # the pin was the last reference
                self.mem.free(pfn)
        return 0

    def unmap_mapping_pages(self, file: MappedFile, first: int, last: int) -> None:
        """Zap every userspace PTE that maps pages [first, last) of `file` (mm/memory.c)."""
        for vma in self.vmas:
            if vma.file is not file:
                continue
            base = vma.start // PAGE_SIZE - vma.pgoff  # vpn = base + file page index
            for vpn in keys_in_range(vma.ptes, base + first, base + last):
                del vma.ptes[vpn]

    def zap_anon(self, addr: int, length: int) -> int:
        """madvise(MADV_DONTNEED): drop the pages of every VMA in the range, by ranges (the cost follows the pages
        present, not the length); the next touch reads zeros. As mm/madvise.c madvise_walk_vmas, a hole in the
        range does not stop the walk but makes the result -ENOMEM."""
        start, end = addr // PAGE_SIZE * PAGE_SIZE, -(-(addr + length) // PAGE_SIZE) * PAGE_SIZE
        i, j = self._overlapping(start, end)
        ret, pos = 0, start
        for vma in self.vmas[i:j]:
            if vma.start > pos:
                ret = -ENOMEM
            lo, hi = max(pos, vma.start), min(end, vma.end)
            for vpn in keys_in_range(vma.ptes, lo // PAGE_SIZE, hi // PAGE_SIZE):
                self._drop(vma, vma.ptes.pop(vpn))
            self._invalidate(lo, hi)
            pos = hi
        return -ENOMEM if pos < end else ret
