"""The TDX module: TD lifecycle, PAMT, the Secure-EPT and MRTD, one method per SEAMCALL leaf.

Every method returns the 64-bit completion status (0 = TDX_SUCCESS) and records the call in the trace. Sources:
intel/tdx-module TDX_1.5.01 (tag on branch tdx_1.5: `src/vmm_dispatcher/api_calls/<leaf>.c`,
`include/auto_gen/*_lookup.c`); each method names its own.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from enum import StrEnum

from tdxsim import platform
from tdxsim.events import Trace
from tdxsim.physmem import Frame, PhysicalMemory
from tdxsim.records import field, record
from tdxsim.tdx import mrtd
from tdxsim.tdx.sept import ALLOWED_PRE_STATES, BLOCK, BLOCKED_STATES, UNBLOCK, SeptState, entry_base
from tdxsim.tdx.status import (
    OPERAND_R8,
    OPERAND_R9,
    OPERAND_RCX,
    OPERAND_RDX,
    OPERAND_SEPT,
    STATUS,
    status_name,
)

S = SeptState
# Members bound to plain names: Enum attribute access costs a descriptor call on every use in the hot paths.
FREE, NL_MAPPED, NL_BLOCKED, MAPPED = S.FREE, S.NL_MAPPED, S.NL_BLOCKED, S.MAPPED
SUCCESS = 0


class PageType(StrEnum):
    """PAMT page types (src/common/memory_handlers/pamt_manager.h)."""

    PT_NDA = "PT_NDA"
    PT_REG = "PT_REG"
    PT_TDR = "PT_TDR"
    PT_TDCX = "PT_TDCX"
    PT_TDVPR = "PT_TDVPR"
    PT_EPT = "PT_EPT"


class Lifecycle(StrEnum):
    """TDR lifecycle_state (src/common/data_structures/td_control_structures.h)."""

    TD_HKID_ASSIGNED = "TD_HKID_ASSIGNED"
    TD_KEYS_CONFIGURED = "TD_KEYS_CONFIGURED"
    TD_BLOCKED = "TD_BLOCKED"
    TD_TEARDOWN = "TD_TEARDOWN"


class OpState(StrEnum):
    """TDCS op_state, the non-migration values (include/auto_gen/op_state_lookup.h)."""

    OP_STATE_UNINITIALIZED = "OP_STATE_UNINITIALIZED"
    OP_STATE_INITIALIZED = "OP_STATE_INITIALIZED"
    OP_STATE_RUNNABLE = "OP_STATE_RUNNABLE"


#: One 128-byte MRTD record (sha384_128B_block_t: the tag zero-padded to 16 bytes, the GPA u64 LE, zeros), as
#: `mrtd.record` spells it, packed in one call.
_RECORD = struct.Struct(f"<16sQ{mrtd.RECORD_SIZE - 24}x")
_TAG_MR_EXTEND = mrtd.TAG_MR_EXTEND
_ZERO_CHUNK = bytes(mrtd.EXTEND_CHUNK)
_TDR_IN_RCX = frozenset({"TDH.MNG.INIT", "TDH.MNG.RD", "TDH.MR.FINALIZE", "TDH.MEM.TRACK"})
KEYS_CONFIGURED = Lifecycle.TD_KEYS_CONFIGURED
UNINIT, INIT, RUNNABLE = OpState.OP_STATE_UNINITIALIZED, OpState.OP_STATE_INITIALIZED, OpState.OP_STATE_RUNNABLE
BUILD = (INIT,)
LIVE = (INIT, RUNNABLE)


def shared_hpa_check(pa: int) -> bool:
    """helpers.c shared_hpa_check (tag TDX_1.5.01), on a pfn that may carry HKID bits: no bit at or above MAX_PA,
    no overlap with SEAMRR, and the address's HKID below the first private KeyID (`private_hkid_min`)."""
    if pa >> (platform.MAX_PA - platform.PAGE_SHIFT):
        return False
    pfn, keyid = platform.split_keyid(pa)
    if platform.SEAMRR_BASE <= pfn << platform.PAGE_SHIFT < platform.SEAMRR_BASE + platform.SEAMRR_SIZE:
        return False
    return keyid < platform.TDX_GLOBAL_KEYID


@record
class Vp:
    """A vCPU's TDVPR and TDCX pages."""

    tdvpr: int
    tdcx: list[int] = field(default_factory=list)
    initialized: bool = False


@record
class Td:
    """One TD: its TDR and TDCS state, the S-EPT and the measurement."""

    tdr: int
    hkid: int
    lifecycle: Lifecycle = Lifecycle.TD_HKID_ASSIGNED
    packages_configured: int = 0
    packages_written_back: int = 0  # TDH.PHYMEM.CACHE.WBs since TDH.MNG.VPFLUSHDONE blocked the TD
    op_state: OpState = UNINIT
    tdcs: list[int] = field(default_factory=list)
    gpaw: int = platform.DEFAULT_GPAW
    attributes: int = 0
    vps: dict[int, Vp] = field(default_factory=dict)
    #: (level, base GPA) -> entry state; absent means FREE. The root page's entries are at level `root_level`.
    sept: dict[tuple[int, int], SeptState] = field(default_factory=dict)
    #: (level, base GPA) -> the HPA (pfn) the entry points to: a child S-EPT page or a leaf page.
    sept_pfn: dict[tuple[int, int], int] = field(default_factory=dict)
    bepoch: dict[tuple[int, int], int] = field(default_factory=dict)
    nl_blocked: int = 0  # how many non-leaf entries are NL_BLOCKED (0: a present leaf's walk cannot fail)
    td_epoch: int = 1
    chldcnt: int = 0
    sha: hashlib._Hash = field(default_factory=hashlib.sha384)  # typeshed's name for a hash object (annotation only)
    mrtd: bytes | None = None
    #: (GPA >> 12, its frame, the SHA-384's update) of the leaf the last MR.EXTEND measured, while no S-EPT entry
    #: changed since.
    ext_page: tuple[int, Frame, Callable[[memoryview | bytes | bytearray], None]] | None = None

    @property
    def root_level(self) -> int:
        """Level of the root S-EPT page's entries: 3 with GPAW 48 (4-level), 4 with GPAW 52 (5-level)."""
        return 3 if self.gpaw == 48 else 4

    @property
    def shared_bit(self) -> int:
        """The GPA bit that selects the shared alias: GPAW - 1 (47 or 51)."""
        return self._shared_bit

    def __post_init__(self) -> None:
        self._shared_bit = self.gpaw - 1


class TdxModule:
    """The module: a PAMT over physical memory and the TDs it manages."""

    def __init__(self, mem: PhysicalMemory, trace: Trace) -> None:
        self.mem = mem
        self.trace = trace
        self.pamt: dict[int, tuple[PageType, int]] = {}  # pfn -> (page type, owner TDR); absent: PT_NDA
        self.tds: dict[int, Td] = {}
        self.injected: dict[str, list] = {}  # leaf -> [status name, remaining count]
        #: Successful calls per leaf (what `tdxsim mrtd --json` counts); see `success_count`.
        self.successes: dict[str, int] = {}
        self.extends = 0  # successful TDH.MR.EXTENDs taken by the fast path
        #: When a list: every MRTD extend in call order, `gpa << 1` for PAGE.ADD, `gpa << 1 | 1` for MR.EXTEND. The
        #: real module keeps no such log (only the SHA-384 state); tools that explain an MRTD switch it on.
        self.mr_log: list[int] | None = None

    # -- helpers -----------------------------------------------------------------------------------------------

    def _ret(self, leaf: str, code: int, **data: object) -> int:
        if not code:
            self.successes[leaf] = self.successes.get(leaf, 0) + 1
        if self.trace.enabled:  # the status name only matters to the record
            self.trace.seamcall(leaf, status_name(code), code, **data)
        return code

    def _fail(self, leaf: str, name: str, operand: int = 0, /, **data: object) -> int:
        return self._ret(leaf, STATUS[name] | operand, **data)

    def inject(self, leaf: str, status: str, count: int) -> None:
        """Make the next `count` calls of `leaf` fail with `status` (the scenario op `tdx_error`); an unknown leaf or
        status, TDX_SUCCESS or a count below 1 is refused here, not at the SEAMCALL it would have broken."""
        if leaf not in LEAVES:
            raise ValueError(f"inject: unknown leaf {leaf!r}; the module has {', '.join(sorted(LEAVES))}")
        if status not in STATUS or status == "TDX_SUCCESS":
            raise ValueError(f"inject: {status!r} is not a TDX error status name such as 'TDX_OPERAND_BUSY'")
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"inject: count must be a positive integer, not {count!r}")
        self.injected[leaf] = [status, count]

    def _injected(self, leaf: str, data: dict) -> int | None:
        slot = self.injected.get(leaf)
        if slot is None:
            return None
        slot[1] -= 1
        if slot[1] <= 0:
            del self.injected[leaf]
        return self._fail(leaf, slot[0], **data)

    def success_count(self, leaf: str) -> int:
        """How many calls of `leaf` succeeded so far."""
        return self.successes.get(leaf, 0) + (self.extends if leaf == "TDH.MR.EXTEND" else 0)

    def page_type(self, pfn: int) -> PageType:
        """The PAMT page type of a frame (PT_NDA when the module does not own it)."""
        entry = self.pamt.get(pfn)
        return PageType.PT_NDA if entry is None else entry[0]

    def _assign(self, pfn: int, pt: PageType, td: Td, keyid: int) -> None:
        """PAMT: PT_NDA -> `pt`, owner = the TD's TDR, and the frame is used through `keyid` from now on."""
        if self.trace.enabled:
            self.trace.state("tdx", "pamt", pfn=pfn, old="PT_NDA", new=pt.value)
        self.pamt[pfn] = (pt, td.tdr)
        self.mem.set_keyid(pfn, keyid)

    def _release(self, pfn: int) -> None:
        """PAMT: back to PT_NDA under KeyID 0 (its plaintext is not carried over). Whose page it is then is not the
        module's to say: the kernel's page still belongs to whoever allocated it (guest_memfd, the kernel)."""
        pt, _ = self.pamt.pop(pfn)
        self.trace.state("tdx", "pamt", pfn=pfn, old=pt.value, new=PageType.PT_NDA.value)
        self.mem.set_keyid(pfn, 0)

    def _set_sept(self, td: Td, level: int, gpa: int, new: SeptState, leaf: str) -> None:
        key = (level, entry_base(gpa, level))
        td.ext_page = None  # the MR.EXTEND fast path re-walks after any S-EPT change
        old = td.sept.get(key, FREE)
        td.nl_blocked += (new is NL_BLOCKED) - (old is NL_BLOCKED)
        if new is FREE:
            td.sept.pop(key, None)
            td.sept_pfn.pop(key, None)
        else:
            td.sept[key] = new
        if self.trace.enabled:
            self.trace.state("tdx", "sept", gpa=key[1], level=level, old=old.value, new=new.value, leaf=leaf)

    def _td(
        self, tdr: int, leaf: str, op_states: tuple[OpState, ...], need_tdcs: bool = True, /, **data: object
    ) -> tuple[Td | None, int]:
        # The TDR is RDX where RCX carries a GPA or a new page (PAGE.ADD/AUG, SEPT.ADD/REMOVE, BLOCK, UNBLOCK, REMOVE,
        # MR.EXTEND, MNG.ADDCX, VP.CREATE: check_lock_and_map_explicit_tdr(tdr_pa, OPERAND_ID_RDX, ...)), else RCX.
        """Check the TDR operand, the lifecycle and OP_STATE (helpers.c check_td_in_correct_build_state and
        include/auto_gen/op_state_lookup.c `seamcall_state_lookup`)."""
        td = self.tds.get(tdr)
        if td is None:
            operand = OPERAND_RCX if leaf in _TDR_IN_RCX else OPERAND_RDX
            return None, self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", operand, **data)
        if td.lifecycle is not Lifecycle.TD_KEYS_CONFIGURED:
            return None, self._fail(leaf, "TDX_TD_KEYS_NOT_CONFIGURED", **data)
        if need_tdcs and len(td.tdcs) < platform.TDCS_PAGES:
            return None, self._fail(leaf, "TDX_TDCS_NOT_ALLOCATED", **data)
        if td.op_state not in op_states:
            return None, self._fail(leaf, "TDX_OP_STATE_INCORRECT", **data)
        return td, SUCCESS

    def _private_gpa(self, td: Td, gpa: int) -> bool:
        """The GPA lies inside GPAW and has the shared bit (GPAW - 1) clear, i.e. is below 2^(GPAW-1)."""
        return not gpa >> td.shared_bit

    def _walk(self, td: Td, gpa: int, level: int) -> tuple[SeptState | None, int]:
        """Walk the S-EPT from the root to `level`: (the entry's state, level) or (None, level the walk stopped)."""
        sept = td.sept
        for lvl in range(td.root_level, level, -1):
            shift = 12 + 9 * lvl
            if sept.get((lvl, gpa >> shift << shift)) is not NL_MAPPED:
                return None, lvl
        shift = 12 + 9 * level
        return sept.get((level, gpa >> shift << shift), FREE), level

    def _walk_for(self, td: Td, leaf: str, gpa: int, level: int, data: dict) -> tuple[SeptState | None, int]:
        """Walk to the entry `leaf` acts on and check it against the module's allowed pre-states
        (`seamcall_sept_state_lookup`): (state, 0), or (None, TDX_EPT_WALK_FAILED | TDX_EPT_ENTRY_STATE_INCORRECT)."""
        state, _ = self._walk(td, gpa, level)
        if state is None:
            return None, self._fail(leaf, "TDX_EPT_WALK_FAILED", OPERAND_RCX, **data)
        if state not in ALLOWED_PRE_STATES[leaf]:
            return None, self._fail(leaf, "TDX_EPT_ENTRY_STATE_INCORRECT", OPERAND_RCX, **data)
        return state, SUCCESS

    def _is_tlb_tracked(self, td: Td, key: tuple[int, int]) -> bool:
        """helpers.h is_tlb_tracked: BLOCK's epoch is older than the current one (no vCPU lingers in the old epoch
        in this model, because KVM kicks every vCPU out before TDH.MEM.TRACK returns)."""
        return td.bepoch.get(key, td.td_epoch) < td.td_epoch

    # -- TD creation -------------------------------------------------------------------------------------------

    def tdh_mng_create(self, tdr: int, hkid: int) -> int:
        """TDH.MNG.CREATE: the TDR page PT_NDA -> PT_TDR, HKID assigned (tdh_mng_create.c)."""
        leaf = "TDH.MNG.CREATE"
        if (err := self._injected(leaf, {})) is not None:
            return err
        if self.page_type(tdr) is not PageType.PT_NDA:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        if any(td.hkid == hkid and td.lifecycle is not Lifecycle.TD_TEARDOWN for td in self.tds.values()):
            return self._fail(leaf, "TDX_HKID_NOT_FREE")  # TDH.MNG.KEY.FREEID frees it (TD_TEARDOWN)
        td = Td(tdr=tdr, hkid=hkid)
        self.tds[tdr] = td
        self._assign(tdr, PageType.PT_TDR, td, platform.TDX_GLOBAL_KEYID)  # TDRs use the global private KeyID
        self.trace.state("tdx", "lifecycle", tdr=tdr, old=None, new=td.lifecycle.value)
        return self._ret(leaf, SUCCESS)

    def tdh_mng_key_config(self, tdr: int) -> int:
        """TDH.MNG.KEY.CONFIG: program the HKID on this package; TD_KEYS_CONFIGURED once every package is done."""
        leaf = "TDH.MNG.KEY.CONFIG"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td = self.tds.get(tdr)
        if td is None:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        if td.lifecycle is not Lifecycle.TD_HKID_ASSIGNED:
            return self._fail(leaf, "TDX_KEY_CONFIGURED")
        td.packages_configured += 1
        if td.packages_configured == platform.NR_PACKAGES:
            td.lifecycle = Lifecycle.TD_KEYS_CONFIGURED
            self.trace.state("tdx", "lifecycle", tdr=tdr, old="TD_HKID_ASSIGNED", new=td.lifecycle.value)
        return self._ret(leaf, SUCCESS)

    def tdh_mng_addcx(self, tdr: int, page: int) -> int:
        """TDH.MNG.ADDCX: add one TDCS page (PT_NDA -> PT_TDCX); only while OP_STATE is UNINITIALIZED."""
        leaf = "TDH.MNG.ADDCX"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td, err = self._td(tdr, leaf, (UNINIT,), False)  # need_tdcs
        if td is None:
            return err
        if self.page_type(page) is not PageType.PT_NDA:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        if len(td.tdcs) >= platform.TDCS_PAGES:
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RDX)
        td.tdcs.append(page)
        self._assign(page, PageType.PT_TDCX, td, td.hkid)
        return self._ret(leaf, SUCCESS)

    def tdh_mng_init(self, tdr: int, attributes: int, gpaw: int) -> int:
        """TDH.MNG.INIT: OP_STATE UNINITIALIZED -> INITIALIZED, MRTD's SHA-384 context started (tdh_mng_init.c)."""
        leaf = "TDH.MNG.INIT"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td, err = self._td(tdr, leaf, (UNINIT,))
        if td is None:
            return err
        if gpaw not in (48, 52):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RDX)
        td.gpaw, td.attributes = gpaw, attributes
        td._shared_bit = gpaw - 1
        td.sha = hashlib.sha384()
        td.op_state = INIT
        self.trace.state("tdx", "op_state", tdr=tdr, old=UNINIT.value, new=INIT.value)
        return self._ret(leaf, SUCCESS)

    def tdh_mng_rd(self, tdr: int, field_name: str) -> tuple[int, int]:
        """TDH.MNG.RD: read a TDCS field (KVM reads the TSC offset and multiplier); returns (status, value)."""
        leaf = "TDH.MNG.RD"
        if (err := self._injected(leaf, {})) is not None:
            return err, 0
        td, err = self._td(tdr, leaf, LIVE)
        if td is None:
            return err, 0
        value = {"TSC_OFFSET": platform.TSC_OFFSET, "TSC_MULTIPLIER": platform.TSC_MULTIPLIER}[field_name]
        return self._ret(leaf, SUCCESS, field=field_name), value

    def tdh_vp_create(self, tdr: int, tdvpr: int) -> int:
        """TDH.VP.CREATE: the TDVPR page PT_NDA -> PT_TDVPR; only while OP_STATE is INITIALIZED."""
        leaf = "TDH.VP.CREATE"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td, err = self._td(tdr, leaf, BUILD)
        if td is None:
            return err
        if self.page_type(tdvpr) is not PageType.PT_NDA:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        td.vps[tdvpr] = Vp(tdvpr)
        self._assign(tdvpr, PageType.PT_TDVPR, td, td.hkid)
        return self._ret(leaf, SUCCESS)

    def _vp(self, tdvpr: int, leaf: str) -> tuple[Td | None, Vp | None, int]:
        entry = self.pamt.get(tdvpr)
        if entry is None or entry[0] is not PageType.PT_TDVPR:
            return None, None, self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        td, err = self._td(entry[1], leaf, BUILD)
        if td is None:
            return None, None, err
        return td, td.vps[tdvpr], SUCCESS

    def tdh_vp_addcx(self, tdvpr: int, page: int) -> int:
        """TDH.VP.ADDCX: add one TDCX page to a vCPU (PT_NDA -> PT_TDCX)."""
        leaf = "TDH.VP.ADDCX"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td, vp, err = self._vp(tdvpr, leaf)
        if td is None or vp is None:
            return err
        if vp.initialized or len(vp.tdcx) >= platform.TDVPX_PAGES:
            return self._fail(leaf, "TDX_VCPU_STATE_INCORRECT")
        # every new page must be PT_NDA (check_lock_and_map_explicit_private_4k_hpa)
        if self.page_type(page) is not PageType.PT_NDA:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        vp.tdcx.append(page)
        self._assign(page, PageType.PT_TDCX, td, td.hkid)
        return self._ret(leaf, SUCCESS)

    def tdh_vp_init(self, tdvpr: int, rcx: int) -> int:
        """TDH.VP.INIT: initialise the vCPU; RCX is handed to the guest (QEMU: the TD HOB's GPA)."""
        leaf = "TDH.VP.INIT"
        if (err := self._injected(leaf, {})) is not None:
            return err
        _, vp, err = self._vp(tdvpr, leaf)
        if vp is None:
            return err
        if vp.initialized or len(vp.tdcx) < platform.TDVPX_PAGES:
            return self._fail(leaf, "TDX_VCPU_STATE_INCORRECT")
        vp.initialized = True
        self.trace.state("tdx", "vp", tdvpr=tdvpr, old="uninitialized", new="initialized", rcx=rcx)
        return self._ret(leaf, SUCCESS)

    def tdh_vp_wr(self, tdvpr: int, field_name: str, value: int) -> int:
        """TDH.VP.WR: write a TD VMCS field (KVM sets up posted interrupts this way)."""
        leaf = "TDH.VP.WR"
        if (err := self._injected(leaf, {})) is not None:
            return err
        entry = self.pamt.get(tdvpr)
        if entry is None or entry[0] is not PageType.PT_TDVPR:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        return self._ret(leaf, SUCCESS, field=field_name)

    # -- building private memory -------------------------------------------------------------------------------

    def tdh_mem_sept_add(self, tdr: int, gpa: int, level: int, page: int) -> int:
        """TDH.MEM.SEPT.ADD: entry at `level` FREE -> NL_MAPPED pointing at a new S-EPT page (PT_NDA -> PT_EPT);
        the walk above must be NL_MAPPED (tdh_mem_sept_add.c)."""
        leaf = "TDH.MEM.SEPT.ADD"
        data = {"gpa": gpa, "level": level}
        if (err := self._injected(leaf, data)) is not None:
            return err
        td, err = self._td(tdr, leaf, LIVE, **data)
        if td is None:
            return err
        if not 1 <= level <= td.root_level or not self._private_gpa(td, gpa) or gpa != entry_base(gpa, level):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RCX, **data)
        state, err = self._walk_for(td, leaf, gpa, level, data)
        if state is None:
            return err
        if self.page_type(page) is not PageType.PT_NDA:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_R8, **data)
        self._assign(page, PageType.PT_EPT, td, td.hkid)
        self._set_sept(td, level, gpa, NL_MAPPED, leaf)
        td.sept_pfn[(level, entry_base(gpa, level))] = page
        td.chldcnt += 1
        return self._ret(leaf, SUCCESS, **data)

    def tdh_mem_page_add(self, tdr: int, gpa: int, page: int, source: int) -> int:
        """TDH.MEM.PAGE.ADD: 4 KiB leaf FREE -> MAPPED, copy `source` into `page` under the TD's key (PT_NDA ->
        PT_REG) and extend MRTD with the GPA only. Only while OP_STATE is INITIALIZED (tdh_mem_page_add.c).
        Check order as the module's: TDR, OP_STATE, GPA, S-EPT walk and entry state, source (R9), target (R8).

        The source (R9) passes `shared_hpa_check_with_pwr_2_alignment` only (helpers.c, tag TDX_1.5.01): below MAX_PA,
        outside SEAMRR, and the HKID bits *of the address* below the first private KeyID. The frame's current owner
        or KeyID is not looked at, and nothing compares source with target, so source == target is the in-place
        add. `source` is a pfn that may carry HKID bits (`platform.pa_with_keyid`); the copy reads the frame through
        that KeyID, so a frame encrypted under another key copies as what that read returns (zeros here).

        The common case is checked first and cheaply, as in `tdh_mr_extend`: nothing injected, the TD's keys
        configured and OP_STATE INITIALIZED (TDH.MNG.INIT needs every TDCS page, helpers.c
        check_td_in_correct_build_state, and TDH.PHYMEM.PAGE.RECLAIM gives one back only in TD_TEARDOWN,
        tdh_phymem_page_reclaim.c), an aligned private GPA, no NL_BLOCKED entry and a NL_MAPPED level-1 entry above
        a FREE leaf (then the walk from the root succeeds: an entry above cannot be FREE while it has a child, as
        TDH.MEM.SEPT.REMOVE needs an empty table, tdh_mem_sept_remove.c), a source that passes shared_hpa_check and
        a PT_NDA target. Anything else takes every check
        in the module's order (`_tdh_mem_page_add_checked`); both end in the same `_page_add`.
        """
        td = self.tds.get(tdr)
        if (
            self.injected
            or td is None
            or td.op_state is not INIT
            or td.lifecycle is not KEYS_CONFIGURED
            or gpa & 0xFFF
            or gpa >> td._shared_bit
            or td.nl_blocked
            or td.sept.get((1, gpa >> 21 << 21)) is not NL_MAPPED
            or (0, gpa) in td.sept
            or page in self.pamt
            or not shared_hpa_check(source)
        ):
            return self._tdh_mem_page_add_checked(tdr, gpa, page, source)
        return self._page_add(td, gpa, page, source)

    def _tdh_mem_page_add_checked(self, tdr: int, gpa: int, page: int, source: int) -> int:
        leaf = "TDH.MEM.PAGE.ADD"
        data = {"gpa": gpa, "level": 0}
        if (err := self._injected(leaf, data)) is not None:
            return err
        td, err = self._td(tdr, leaf, BUILD, **data)
        if td is None:
            return err
        if gpa & 0xFFF or not self._private_gpa(td, gpa):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RCX, **data)
        state, err = self._walk_for(td, leaf, gpa, 0, data)
        if state is None:
            return err
        if not shared_hpa_check(source):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_R9, **data)
        if self.page_type(page) is not PageType.PT_NDA:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_R8, **data)
        return self._page_add(td, gpa, page, source)

    def _page_add(self, td: Td, gpa: int, page: int, source: int) -> int:
        """TDH.MEM.PAGE.ADD once every check passed: the copy, PAMT, S-EPT, MRTD (tdh_mem_page_add.c)."""
        src_pfn, src_keyid = platform.split_keyid(source)
        mem = self.mem
        frame = mem.frames.get(src_pfn)
        if frame is None or frame.keyid != src_keyid:  # read through a KeyID the frame is not encrypted under
            mem.clear(page)
            read_keyid = src_keyid
        else:
            mem.copy_page(page, src_pfn)
            read_keyid = None
        target = mem.frames[page]
        target.source_pfn, target.source_read_keyid = src_pfn, read_keyid  # the copy's source, as data
        self._assign(page, PageType.PT_REG, td, td.hkid)
        self._set_sept(td, 0, gpa, MAPPED, "TDH.MEM.PAGE.ADD")
        td.sept_pfn[(0, gpa)] = page
        td.chldcnt += 1
        td.sha.update(_RECORD.pack(mrtd.TAG_PAGE_ADD, gpa))
        if self.mr_log is not None:
            self.mr_log.append(gpa << 1)
        return self._ret("TDH.MEM.PAGE.ADD", SUCCESS, gpa=gpa, level=0)

    def tdh_mr_extend(self, tdr: int, gpa: int) -> int:
        """TDH.MR.EXTEND: extend MRTD with a record and the 256 bytes at `gpa`, read under the TD's key
        (tdh_mr_extend.c). Only while INITIALIZED; no present leaf (the walk to a leaf fails on FREE, PENDING and the
        BLOCKED states, which have no RWX) -> TDX_EPT_ENTRY_NOT_PRESENT|RCX (intel/tdx-module TDX_1.5.01
        tdh_mr_extend.c, helpers.c).

        The common case is checked first and cheaply (16 of these per measured page): OP_STATE INITIALIZED with the
        keys configured implies the TDCS check passed, and a MAPPED leaf with no NL_BLOCKED entry anywhere implies
        the walk to it succeeds (remembered for the page, with its frame, until an S-EPT entry changes:
        `_set_sept` forgets it); anything else takes the full checks in the module's order. The chunk is read from
        the frame at each call, so a page whose contents changed is measured as it is now.
        """
        td = self.tds.get(tdr)
        if (
            self.injected
            or td is None
            or td.op_state is not INIT
            or td.lifecycle is not KEYS_CONFIGURED
            or gpa & 0xFF
            or gpa >> td._shared_bit
        ):
            return self._tdh_mr_extend_checked(tdr, gpa)
        page = td.ext_page
        if page is None or page[0] != gpa >> 12:
            key = (0, gpa & ~0xFFF)
            if td.nl_blocked or td.sept.get(key) is not MAPPED:
                return self._tdh_mr_extend_checked(tdr, gpa)
            page = td.ext_page = (gpa >> 12, self.mem.frames[td.sept_pfn[key]], td.sha.update)
        offset = gpa & 0xFFF
        update = page[2]
        update(_RECORD.pack(_TAG_MR_EXTEND, gpa))
        data = page[1].data  # the page's plaintext now, as PhysicalMemory.view reads it (None: zeros)
        update(_ZERO_CHUNK if data is None else data[offset : offset + 256])  # mrtd.EXTEND_CHUNK bytes
        self.extends += 1
        if self.mr_log is not None:
            self.mr_log.append(gpa << 1 | 1)
        if self.trace.enabled:
            self.trace.seamcall("TDH.MR.EXTEND", "TDX_SUCCESS", SUCCESS, gpa=gpa)
        return SUCCESS

    def _tdh_mr_extend_checked(self, tdr: int, gpa: int) -> int:
        leaf = "TDH.MR.EXTEND"
        if self.injected and (err := self._injected(leaf, {"gpa": gpa})) is not None:
            return err
        td, err = self._td(tdr, leaf, BUILD, gpa=gpa)
        if td is None:
            return err
        if gpa & 0xFF or not self._private_gpa(td, gpa):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RCX, gpa=gpa)
        base = gpa & ~0xFFF
        state, _ = self._walk(td, base, 0)
        if state is not MAPPED:
            # SEPT_WALK_TO_LEAF fails on an entry without RWX (FREE, PENDING, BLOCKED…): TDX_EPT_WALK_FAILED, which
            # MR.EXTEND reports as TDX_EPT_ENTRY_NOT_PRESENT|RCX (helpers.c lock_sept_check_and_walk_internal). The
            # bare code is for leaves with RWX that are not MAPPED: migration states, not modelled.
            return self._fail(leaf, "TDX_EPT_ENTRY_NOT_PRESENT", OPERAND_RCX, gpa=gpa)
        offset = gpa & 0xFFF
        td.sha.update(_RECORD.pack(_TAG_MR_EXTEND, gpa))
        td.sha.update(self.mem.view(td.sept_pfn[(0, base)])[offset : offset + mrtd.EXTEND_CHUNK])
        if self.mr_log is not None:
            self.mr_log.append(gpa << 1 | 1)
        return self._ret(leaf, SUCCESS, gpa=gpa)

    def tdh_mr_finalize(self, tdr: int) -> int:
        """TDH.MR.FINALIZE: MRTD = the SHA-384 so far; OP_STATE INITIALIZED -> RUNNABLE (tdh_mr_finalize.c)."""
        leaf = "TDH.MR.FINALIZE"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td, err = self._td(tdr, leaf, BUILD)
        if td is None:
            return err
        if not any(vp.initialized for vp in td.vps.values()):
            return self._fail(leaf, "TDX_NO_VCPUS")
        td.mrtd = td.sha.digest()
        td.op_state = RUNNABLE
        self.trace.state("tdx", "op_state", tdr=tdr, old=INIT.value, new=RUNNABLE.value)
        return self._ret(leaf, SUCCESS)

    # -- runtime and removal -----------------------------------------------------------------------------------

    def tdh_mem_page_aug(self, tdr: int, gpa: int, page: int) -> int:
        """TDH.MEM.PAGE.AUG: 4 KiB leaf FREE -> PENDING, PT_NDA -> PT_REG, no copy, no measurement
        (tdh_mem_page_aug.c, tag TDX_1.5.01). Check order as the module's: TDR, OP_STATE, GPA, S-EPT walk and entry
        state, then the target page (R8). The module allows it while INITIALIZED too; "AUG after finalize" is KVM's
        policy."""
        leaf = "TDH.MEM.PAGE.AUG"
        data = {"gpa": gpa, "level": 0}
        if (err := self._injected(leaf, data)) is not None:
            return err
        td, err = self._td(tdr, leaf, LIVE, **data)
        if td is None:
            return err
        if gpa & 0xFFF or not self._private_gpa(td, gpa):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RCX, **data)
        state, err = self._walk_for(td, leaf, gpa, 0, data)
        if state is None:
            return err
        if self.page_type(page) is not PageType.PT_NDA:  # check_and_lock_free_range_hpa(td_page_pa, OPERAND_ID_R8, …)
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_R8, **data)
        self._assign(page, PageType.PT_REG, td, td.hkid)
        self._set_sept(td, 0, gpa, S.PENDING, leaf)
        td.sept_pfn[(0, gpa)] = page
        td.chldcnt += 1
        return self._ret(leaf, SUCCESS, **data)

    def tdh_mem_range_block(self, tdr: int, gpa: int, level: int) -> int:
        """TDH.MEM.RANGE.BLOCK: MAPPED -> BLOCKED, PENDING -> PENDING_BLOCKED, NL_MAPPED -> NL_BLOCKED; records the
        TD epoch in the entry's BEPOCH (tdh_mem_range_block.c)."""
        leaf = "TDH.MEM.RANGE.BLOCK"
        data = {"gpa": gpa, "level": level}
        if (err := self._injected(leaf, data)) is not None:
            return err
        td, err = self._td(tdr, leaf, LIVE, **data)
        if td is None:
            return err
        if not 0 <= level <= td.root_level or not self._private_gpa(td, gpa) or gpa != entry_base(gpa, level):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RCX, **data)  # verify_page_info_input
        state, _ = self._walk(td, gpa, level)
        if state is None:
            return self._fail(leaf, "TDX_EPT_WALK_FAILED", OPERAND_RCX, **data)
        if state in BLOCKED_STATES:
            # A success-class status; intel/tdx-module TDX_1.5.01 tdh_mem_range_block.c ORs in the operand id.
            return self._fail(leaf, "TDX_GPA_RANGE_ALREADY_BLOCKED", OPERAND_RCX, **data)
        if state not in ALLOWED_PRE_STATES[leaf]:
            return self._fail(leaf, "TDX_EPT_ENTRY_STATE_INCORRECT", OPERAND_RCX, **data)
        self._set_sept(td, level, gpa, BLOCK[state], leaf)
        td.bepoch[(level, entry_base(gpa, level))] = td.td_epoch
        return self._ret(leaf, SUCCESS, **data)

    def tdh_mem_range_unblock(self, tdr: int, gpa: int, level: int) -> int:
        """TDH.MEM.RANGE.UNBLOCK: undo a BLOCK; once the TD runs, only after TLB tracking, else
        TDX_TLB_TRACKING_NOT_DONE|OPERAND_ID_SEPT_TREE (0x92) (tdh_mem_range_unblock.c, tag TDX_1.5.01)."""
        leaf = "TDH.MEM.RANGE.UNBLOCK"
        data = {"gpa": gpa, "level": level}
        if (err := self._injected(leaf, data)) is not None:
            return err
        td, err = self._td(tdr, leaf, LIVE, **data)
        if td is None:
            return err
        if not 0 <= level <= td.root_level or not self._private_gpa(td, gpa) or gpa != entry_base(gpa, level):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RCX, **data)  # verify_page_info_input
        state, err = self._walk_for(td, leaf, gpa, level, data)
        if state is None:
            return err
        key = (level, entry_base(gpa, level))
        if td.op_state is RUNNABLE and not self._is_tlb_tracked(td, key):
            # The only status in this leaf whose operand id is the S-EPT tree, not RCX.
            return self._fail(leaf, "TDX_TLB_TRACKING_NOT_DONE", OPERAND_SEPT, **data)
        self._set_sept(td, level, gpa, UNBLOCK[state], leaf)
        td.bepoch.pop(key, None)
        return self._ret(leaf, SUCCESS, **data)

    def tdh_mem_track(self, tdr: int) -> int:
        """TDH.MEM.TRACK: increment the TD's TLB epoch (tdh_mem_track.c)."""
        leaf = "TDH.MEM.TRACK"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td, err = self._td(tdr, leaf, LIVE)
        if td is None:
            return err
        td.td_epoch += 1
        self.trace.state("tdx", "td_epoch", tdr=tdr, old=td.td_epoch - 1, new=td.td_epoch)
        return self._ret(leaf, SUCCESS)

    def tdh_mem_page_remove(self, tdr: int, gpa: int) -> int:
        """TDH.MEM.PAGE.REMOVE: leaf -> FREE, PT_REG -> PT_NDA. Once RUNNABLE the
        entry must be blocked (else TDX_GPA_RANGE_NOT_BLOCKED|RCX) and TLB-tracked (else TDX_TLB_TRACKING_NOT_DONE|RCX);
        while INITIALIZED a MAPPED page may go directly (tdh_mem_page_remove.c, tag TDX_1.5.01;
        `op_state_is_tlb_tracking_required`)."""
        leaf = "TDH.MEM.PAGE.REMOVE"
        data = {"gpa": gpa, "level": 0}
        if (err := self._injected(leaf, data)) is not None:
            return err
        td, err = self._td(tdr, leaf, LIVE, **data)
        if td is None:
            return err
        if gpa & 0xFFF or not self._private_gpa(td, gpa):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RCX, **data)  # verify_page_info_input, GPA check
        state, err = self._walk_for(td, leaf, gpa, 0, data)
        if state is None:
            return err
        key = (0, gpa)
        if td.op_state is RUNNABLE:
            if state not in BLOCKED_STATES:
                return self._fail(leaf, "TDX_GPA_RANGE_NOT_BLOCKED", OPERAND_RCX, **data)
            if not self._is_tlb_tracked(td, key):
                return self._fail(leaf, "TDX_TLB_TRACKING_NOT_DONE", OPERAND_RCX, **data)
        page = td.sept_pfn[key]
        self._set_sept(td, 0, gpa, FREE, leaf)
        td.bepoch.pop(key, None)
        td.chldcnt -= 1
        self._release(page)
        return self._ret(leaf, SUCCESS, **data)

    def tdh_mem_sept_remove(self, tdr: int, gpa: int, level: int) -> int:
        """TDH.MEM.SEPT.REMOVE: a non-leaf entry NL_MAPPED/NL_BLOCKED -> FREE and its S-EPT page PT_EPT -> PT_NDA
        (back to PT_NDA); once RUNNABLE the entry must be blocked and TLB-tracked, then the child table must be all
        FREE; each refusal carries OPERAND_ID_RCX (tdh_mem_sept_remove.c, tag TDX_1.5.01)."""
        leaf = "TDH.MEM.SEPT.REMOVE"
        data = {"gpa": gpa, "level": level}
        if (err := self._injected(leaf, data)) is not None:
            return err
        td, err = self._td(tdr, leaf, LIVE, **data)
        if td is None:
            return err
        if not 1 <= level <= td.root_level or not self._private_gpa(td, gpa):
            return self._fail(leaf, "TDX_OPERAND_INVALID", OPERAND_RCX, **data)
        state, err = self._walk_for(td, leaf, gpa, level, data)
        if state is None:
            return err
        key = (level, entry_base(gpa, level))
        if td.op_state is RUNNABLE:
            if state is not NL_BLOCKED:
                return self._fail(leaf, "TDX_GPA_RANGE_NOT_BLOCKED", OPERAND_RCX, **data)
            if not self._is_tlb_tracked(td, key):
                return self._fail(leaf, "TDX_TLB_TRACKING_NOT_DONE", OPERAND_RCX, **data)
        end = key[1] + (1 << (12 + 9 * level))
        if any(lvl == level - 1 and key[1] <= base < end for lvl, base in td.sept):
            return self._fail(leaf, "TDX_EPT_PAGE_NOT_FREE", OPERAND_RCX, **data)
        page = td.sept_pfn[key]
        self._set_sept(td, level, gpa, FREE, leaf)
        td.bepoch.pop(key, None)
        td.chldcnt -= 1
        self._release(page)
        return self._ret(leaf, SUCCESS, **data)

    def tdh_phymem_page_wbinvd(self, pfn: int) -> int:
        """TDH.PHYMEM.PAGE.WBINVD: write back and invalidate the page's cache lines under the TD's HKID
        (tdh_phymem_page_wbinvd.c); the page must already be PT_NDA."""
        leaf = "TDH.PHYMEM.PAGE.WBINVD"
        if (err := self._injected(leaf, {})) is not None:
            return err
        if self.page_type(pfn) is not PageType.PT_NDA:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        return self._ret(leaf, SUCCESS)

    def tdh_phymem_page_reclaim(self, pfn: int) -> int:
        """TDH.PHYMEM.PAGE.RECLAIM: give a TD's page back to the host after teardown (tdh_phymem_page_reclaim.c). A
        PT_NDA page is TDX_PAGE_METADATA_INCORRECT; a page whose TD is not in TD_TEARDOWN is
        TDX_LIFECYCLE_STATE_INCORRECT; the TDR goes last: while the TD owns other pages (CHLDCNT),
        TDX_TD_ASSOCIATED_PAGES_EXIST. On success the page is PT_NDA again; reclaiming the TDR ends the TD."""
        leaf = "TDH.PHYMEM.PAGE.RECLAIM"
        if (err := self._injected(leaf, {})) is not None:
            return err
        entry = self.pamt.get(pfn)
        if entry is None:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        pt, tdr = entry
        td = self.tds[tdr]
        if td.lifecycle is not Lifecycle.TD_TEARDOWN:
            return self._fail(leaf, "TDX_LIFECYCLE_STATE_INCORRECT")
        if pt is PageType.PT_TDR and any(owner == tdr for page, (_, owner) in self.pamt.items() if page != tdr):
            return self._fail(leaf, "TDX_TD_ASSOCIATED_PAGES_EXIST")
        self._release(pfn)
        if pt is PageType.PT_TDR:
            del self.tds[tdr]
            self.trace.state("tdx", "lifecycle", tdr=tdr, old=td.lifecycle.value, new=None)  # the TD is gone
        return self._ret(leaf, SUCCESS)

    # -- teardown: releasing the HKID --------------------------------------------------------------------------

    def tdh_mng_vpflushdone(self, tdr: int) -> int:
        """TDH.MNG.VPFLUSHDONE: no vCPU is associated any more; lifecycle HKID_ASSIGNED or KEYS_CONFIGURED ->
        TD_BLOCKED (tdh_mng_vpflushdone.c). KVM flushes every vCPU first (TDH.VP.FLUSH), so the module's
        TDX_FLUSHVP_NOT_DONE for a still-associated vCPU cannot happen here."""
        leaf = "TDH.MNG.VPFLUSHDONE"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td = self.tds.get(tdr)
        if td is None:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        if td.lifecycle not in (Lifecycle.TD_HKID_ASSIGNED, Lifecycle.TD_KEYS_CONFIGURED):
            return self._fail(leaf, "TDX_LIFECYCLE_STATE_INCORRECT")
        self.trace.state("tdx", "lifecycle", tdr=tdr, old=td.lifecycle.value, new=Lifecycle.TD_BLOCKED.value)
        td.lifecycle, td.packages_written_back = Lifecycle.TD_BLOCKED, 0
        return self._ret(leaf, SUCCESS)

    def tdh_phymem_cache_wb(self) -> int:
        """TDH.PHYMEM.CACHE.WB on one package: write back and invalidate the cache lines of the HKIDs being freed,
        i.e. of every TD_BLOCKED TD (tdh_phymem_cache_wb.c)."""
        leaf = "TDH.PHYMEM.CACHE.WB"
        if (err := self._injected(leaf, {})) is not None:
            return err
        for td in self.tds.values():
            if td.lifecycle is Lifecycle.TD_BLOCKED:
                td.packages_written_back += 1
        return self._ret(leaf, SUCCESS)

    def tdh_mng_key_freeid(self, tdr: int) -> int:
        """TDH.MNG.KEY.FREEID: free the TD's HKID; TD_BLOCKED -> TD_TEARDOWN, after a cache write-back on every
        package (tdh_mng_key_freeid.c: TDX_LIFECYCLE_STATE_INCORRECT, TDX_WBCACHE_NOT_COMPLETE)."""
        leaf = "TDH.MNG.KEY.FREEID"
        if (err := self._injected(leaf, {})) is not None:
            return err
        td = self.tds.get(tdr)
        if td is None:
            return self._fail(leaf, "TDX_PAGE_METADATA_INCORRECT", OPERAND_RCX)
        if td.lifecycle is not Lifecycle.TD_BLOCKED:
            return self._fail(leaf, "TDX_LIFECYCLE_STATE_INCORRECT")
        if td.packages_written_back < platform.NR_PACKAGES:
            return self._fail(leaf, "TDX_WBCACHE_NOT_COMPLETE")
        self.trace.state("tdx", "lifecycle", tdr=tdr, old=td.lifecycle.value, new=Lifecycle.TD_TEARDOWN.value)
        td.lifecycle = Lifecycle.TD_TEARDOWN
        return self._ret(leaf, SUCCESS)

    # -- the guest's TDCALL ------------------------------------------------------------------------------------

    def tdg_mem_page_accept(self, tdr: int, gpa: int) -> tuple[int, bool]:
        """TDG.MEM.PAGE.ACCEPT (4 KiB): PENDING -> MAPPED with the page zeroed under the TD key. Returns (status,
        ept_violation): FREE, BLOCKED or a missing path exits to the host instead (tdg_mem_page_accept.c)."""
        leaf = "TDG.MEM.PAGE.ACCEPT"
        td = self.tds[tdr]
        state, _ = self._walk(td, gpa, 0)
        if state is S.PENDING:
            self.mem.clear(td.sept_pfn[(0, gpa)], "zeroed by TDG.MEM.PAGE.ACCEPT")
            self._set_sept(td, 0, gpa, MAPPED, leaf)
            self.trace.tdcall(leaf, "TDX_SUCCESS", 0, gpa=gpa)
            return 0, False
        if state is MAPPED:
            code = STATUS["TDX_PAGE_ALREADY_ACCEPTED"]
            self.trace.tdcall(leaf, "TDX_PAGE_ALREADY_ACCEPTED", code, gpa=gpa)
            return code, False
        # No completion status: the guest takes an EPT-violation TD exit (exit qualification VMX_EEQ_ACCEPT).
        self.trace.tdcall(leaf, "EPT_VIOLATION_EXIT", -1, gpa=gpa)
        return -1, True

    # -- reading state -----------------------------------------------------------------------------------------

    def leaf_state(self, tdr: int, gpa: int) -> SeptState:
        """The 4 KiB leaf entry's state for a private GPA (FREE when absent)."""
        return self.tds[tdr].sept.get((0, gpa & ~0xFFF), FREE)

    def leaf_pfn(self, tdr: int, gpa: int) -> int | None:
        """The HPA (pfn) a present 4 KiB leaf maps."""
        return self.tds[tdr].sept_pfn.get((0, gpa & ~0xFFF))


#: The leaves this module implements, by their TDX names ("TDH.MEM.PAGE.ADD" for `tdh_mem_page_add`).
LEAVES = frozenset(n.upper().replace("_", ".") for n in vars(TdxModule) if n.startswith(("tdh_", "tdg_")))
