"""Physical memory: 4 KiB frames, each with a KeyID; contents kept only for touched frames.

A frame records only what the hardware and the page allocator know of it (KeyID, contents, pins, poison). Who owns it
is not stored: tdxsim/vmm/ownership.py derives it from what decides it in the real system (the PAMT, guest_memfd's
folios and attributes, the KeyID). `Owner` names the outcomes.

Reads through a KeyID other than the frame's own never return the plaintext: the host has no private KeyID, so a
host read of a TD-private page returns zeros here (private KeyIDs are usable only in SEAM mode:
Documentation/arch/x86/tdx.rst, torvalds/linux 165e77353831; the exact pattern on hardware is not pinned by a
source, so "zeros, never plaintext" is the model).
"""

from __future__ import annotations

import heapq
from enum import StrEnum

from tdxsim import platform
from tdxsim.events import Trace
from tdxsim.records import record

PAGE_SIZE = platform.PAGE_SIZE
ZERO_PAGE = bytes(PAGE_SIZE)


class Owner(StrEnum):
    """Who a frame belongs to (the page-ownership map's colours), as tdxsim/vmm/ownership.py derives it."""

    HOST = "host"  # ordinary host memory: userspace (anonymous mmap, a source buffer) or a kernel page
    GMEM_SHARED = "guest_memfd_shared"  # a guest_memfd page whose attribute is shared: host-mappable
    GMEM_PRIVATE = "guest_memfd_private"  # a private guest_memfd page not (or no longer) given to the TD: PT_NDA
    TD_PRIVATE = "td_private"  # PAMT PT_REG: encrypted under the TD's HKID
    TDX_METADATA = "tdx_metadata"  # PAMT PT_TDR / PT_TDCX / PT_TDVPR / PT_EPT


@record(slots=True)
class Frame:
    """One 4 KiB physical page."""

    pfn: int
    keyid: int = 0
    #: None: all zeros. A whole-page write or a page copy stores immutable bytes (or a view of an immutable bytes
    #: object), which a copy then shares, so it costs nothing; a partial write makes a bytearray first (copy on write).
    data: bytearray | bytes | memoryview | None = None
    pins: int = 0  # long-term GUP pins (extra references)
    detached: bool = False  # dropped by its file (hole punched) while pinned: freed with the last unpin
    poisoned: bool = False
    origin: str = ""  # where the contents came from, for readers ("written by userspace at 0x…", "zeroed by …")
    # TDH.MEM.PAGE.ADD filled this frame: the source pfn (R9 without its HKID bits; == pfn for the in-place add) and,
    # when the copy read the source through a KeyID the source is not encrypted under, that KeyID (it read zeros).
    # Any later write, copy or clear of the frame's contents resets both.
    source_pfn: int | None = None
    source_read_keyid: int | None = None

    @property
    def contents(self) -> str:
        """Where the contents came from, in words: docs/scenario.md `final.pages[].contents`, derived here only."""
        if self.source_pfn is None:
            return self.origin or "zeros"
        if self.source_read_keyid is not None:
            return f"PAGE.ADD copy of pfn {self.source_pfn:#x} (read through KeyID {self.source_read_keyid}: zeros)"
        if self.source_pfn == self.pfn:
            return "in-place PAGE.ADD (source = target)"
        return f"PAGE.ADD copy of pfn {self.source_pfn:#x}"

    def _said(self, origin: str) -> None:
        """Record where new contents came from (a PAGE.ADD source no longer applies)."""
        self.origin = origin
        self.source_pfn = self.source_read_keyid = None


def _immutable(data: bytes | memoryview) -> bool:
    """Whether `data` can never change: a bytes object, or a plain byte view of one (a slice of a firmware image)."""
    if type(data) is bytes:
        return True
    return type(data) is memoryview and type(data.obj) is bytes and data.c_contiguous and data.itemsize == 1


class PhysicalMemory:
    """The machine's RAM and its page allocator (lowest free frame first, deterministic)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.frames: dict[int, Frame] = {}
        self._next = platform.PHYS_ALLOC_START // PAGE_SIZE
        self._limit = platform.SEAMRR_BASE // PAGE_SIZE  # SEAMRR is never handed out
        self._freed: list[int] = []

    def alloc(self, origin: str = "") -> int:
        """Allocate a zeroed frame and return its pfn."""
        if self._freed:
            pfn = heapq.heappop(self._freed)
        elif self._next < self._limit:
            pfn = self._next
            self._next += 1
        else:
            raise MemoryError("simulated physical memory exhausted")
        self.frames[pfn] = Frame(pfn, origin=origin)
        if self.trace.enabled:
            self.trace.state("mem", "frame", pfn=pfn, old=None, new="allocated")
        return pfn

    def free(self, pfn: int) -> None:
        """Return a frame to the allocator."""
        del self.frames[pfn]
        heapq.heappush(self._freed, pfn)
        if self.trace.enabled:
            self.trace.state("mem", "frame", pfn=pfn, old="allocated", new=None)

    def set_keyid(self, pfn: int, keyid: int) -> None:
        """The frame is now used through `keyid` (the TDX module assigns the TD's HKID or takes it back to 0)."""
        frame = self.frames[pfn]
        if frame.keyid and not keyid:
            # Leaving the TD: the plaintext existed only under the TD's key, so it does not come back.
            frame.data = None
            frame._said(f"not preserved (was encrypted under HKID {frame.keyid})")
        if frame.keyid != keyid and self.trace.enabled:
            self.trace.state("mem", "keyid", pfn=pfn, old=frame.keyid, new=keyid)
        frame.keyid = keyid

    def read(self, pfn: int, offset: int = 0, length: int = PAGE_SIZE, keyid: int = 0) -> bytes:
        """Read through `keyid`; a reader without the frame's KeyID never sees its plaintext (zeros here)."""
        frame = self.frames[pfn]
        if frame.data is None or frame.keyid != keyid:
            return bytes(length)
        return bytes(frame.data[offset : offset + length])

    def view(self, pfn: int) -> memoryview | bytes:
        """The frame's plaintext, for the TDX module (which holds every KeyID); no copy."""
        data = self.frames[pfn].data
        return ZERO_PAGE if data is None else memoryview(data)

    def write(self, pfn: int, offset: int, data: bytes | memoryview, origin: str = "") -> None:
        """Store `data` into the frame (the writer holds the frame's KeyID)."""
        frame = self.frames[pfn]
        if offset == 0 and len(data) == PAGE_SIZE:
            if frame.data is None and data == ZERO_PAGE:
                return
            frame.data = data if _immutable(data) else bytes(data)
        else:
            if frame.data is None:
                if not any(data):
                    return
                frame.data = bytearray(PAGE_SIZE)
            elif type(frame.data) is not bytearray:
                frame.data = bytearray(frame.data)
            frame.data[offset : offset + len(data)] = data
        if origin:
            frame._said(origin)

    def copy_page(self, dst: int, src: int, origin: str = "") -> None:
        """Copy a whole page (MOVDIR64B line by line; a copy onto itself leaves it unchanged)."""
        if dst != src:
            data = self.frames[src].data
            self.frames[dst].data = bytes(data) if type(data) is bytearray else data  # immutable data is shared
        self.frames[dst]._said(origin)

    def clear(self, pfn: int, origin: str = "zeroed") -> None:
        """Zero a frame."""
        frame = self.frames[pfn]
        frame.data = None
        frame._said(origin)
