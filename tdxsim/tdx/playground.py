"""A module playground: issue SEAMCALLs by hand, in any order, and watch the TDX module accept or refuse them.

No KVM in between, so nothing enforces KVM's order: call TDH.MEM.PAGE.ADD before TDH.MEM.SEPT.ADD, REMOVE a
running TD's page without BLOCK, and read the module's status. Each method returns the status name.
"""

from __future__ import annotations

from tdxsim import platform
from tdxsim.events import Trace
from tdxsim.physmem import PhysicalMemory
from tdxsim.tdx.module import TdxModule
from tdxsim.tdx.sept import SeptState
from tdxsim.tdx.status import status_name


class PlaygroundError(ValueError):
    """A request the playground cannot turn into a SEAMCALL (no such page, no such level, a TD it cannot build)."""


class Playground:
    """One TD, built as far as `TDH.MNG.INIT` plus one initialised vCPU, and the module to poke at."""

    def __init__(self, gpaw: int = platform.DEFAULT_GPAW) -> None:
        self.trace = Trace()
        self.mem = PhysicalMemory(self.trace)
        self.module = TdxModule(self.mem, self.trace)
        self.tdr = self.mem.alloc(origin="TDR page")
        self.pages: dict[int, int] = {}  # gpa -> the page given to PAGE.ADD/AUG
        steps = [self.module.tdh_mng_create(self.tdr, platform.HKID_RANGE[0]), self.module.tdh_mng_key_config(self.tdr)]
        steps += [self.module.tdh_mng_addcx(self.tdr, self._page("TDCS page")) for _ in range(platform.TDCS_PAGES)]
        if code := self.module.tdh_mng_init(self.tdr, 0, gpaw):
            raise PlaygroundError(f"TDH.MNG.INIT with GPAW {gpaw} failed with {status_name(code)}: GPAW is 48 or 52")
        tdvpr = self._page("TDVPR page")
        steps.append(self.module.tdh_vp_create(self.tdr, tdvpr))
        steps += [self.module.tdh_vp_addcx(tdvpr, self._page("TDCX page")) for _ in range(platform.TDVPX_PAGES)]
        steps.append(self.module.tdh_vp_init(tdvpr, 0))
        if failed := [status_name(code) for code in steps if code]:
            raise PlaygroundError(f"building the playground TD failed: {', '.join(failed)}")

    def _page(self, origin: str) -> int:
        return self.mem.alloc(origin=origin)

    def sept_add(self, gpa: int, level: int) -> str:
        """TDH.MEM.SEPT.ADD with a fresh page."""
        return status_name(self.module.tdh_mem_sept_add(self.tdr, gpa, level, self._page("S-EPT page")))

    def map_path(self, gpa: int) -> list[str]:
        """The SEPT.ADDs a first 4 KiB mapping at `gpa` needs (root level down to level 1)."""
        td = self.module.tds[self.tdr]
        return [self.sept_add(gpa >> (12 + 9 * lvl) << (12 + 9 * lvl), lvl) for lvl in range(td.root_level, 0, -1)]

    def page_add(self, gpa: int, data: bytes = b"") -> str:
        """TDH.MEM.PAGE.ADD of a fresh page holding `data`, copied from a separate source page."""
        source = self._page("PAGE.ADD source")
        if data:
            self.mem.write(source, 0, data[: platform.PAGE_SIZE])
        page = self._page("target")
        self.pages[gpa] = page
        return status_name(self.module.tdh_mem_page_add(self.tdr, gpa, page, source))

    def mr_extend(self, gpa: int) -> str:
        """TDH.MR.EXTEND of one 256-byte chunk."""
        return status_name(self.module.tdh_mr_extend(self.tdr, gpa))

    def finalize(self) -> str:
        """TDH.MR.FINALIZE."""
        return status_name(self.module.tdh_mr_finalize(self.tdr))

    def aug(self, gpa: int) -> str:
        """TDH.MEM.PAGE.AUG of a fresh page."""
        page = self._page("AUG target")
        self.pages[gpa] = page
        return status_name(self.module.tdh_mem_page_aug(self.tdr, gpa, page))

    def accept(self, gpa: int) -> str:
        """TDG.MEM.PAGE.ACCEPT, as the guest would."""
        code, ept_violation = self.module.tdg_mem_page_accept(self.tdr, gpa)
        return "EPT_VIOLATION_EXIT" if ept_violation else status_name(code)

    def block(self, gpa: int, level: int = 0) -> str:
        """TDH.MEM.RANGE.BLOCK."""
        return status_name(self.module.tdh_mem_range_block(self.tdr, gpa, level))

    def unblock(self, gpa: int, level: int = 0) -> str:
        """TDH.MEM.RANGE.UNBLOCK."""
        return status_name(self.module.tdh_mem_range_unblock(self.tdr, gpa, level))

    def track(self) -> str:
        """TDH.MEM.TRACK."""
        return status_name(self.module.tdh_mem_track(self.tdr))

    def remove(self, gpa: int) -> str:
        """TDH.MEM.PAGE.REMOVE."""
        return status_name(self.module.tdh_mem_page_remove(self.tdr, gpa))

    def sept_remove(self, gpa: int, level: int) -> str:
        """TDH.MEM.SEPT.REMOVE."""
        return status_name(self.module.tdh_mem_sept_remove(self.tdr, gpa, level))

    def reclaim(self, gpa: int) -> str:
        """TDH.PHYMEM.PAGE.RECLAIM of the page last added at `gpa` (refused while the TD lives)."""
        if gpa not in self.pages:
            raise PlaygroundError(f"no page was added or AUGed at GPA {gpa:#x}: RECLAIM takes the page given there")
        return status_name(self.module.tdh_phymem_page_reclaim(self.pages[gpa]))

    def state(self, gpa: int, level: int = 0) -> SeptState:
        """The S-EPT entry's state at `level` for `gpa` (FREE when absent)."""
        td = self.module.tds[self.tdr]
        if not isinstance(level, int) or not 0 <= level <= td.root_level:
            raise PlaygroundError(f"level must be 0 (4 KiB leaf) to {td.root_level} (the root), not {level!r}")
        shift = 12 + 9 * level
        return td.sept.get((level, gpa >> shift << shift), SeptState.FREE)
