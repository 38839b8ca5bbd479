"""Conformance of the TDX module model (tdxsim/tdx/module.py) with the TDX module's source.

Every expected value (post-state, 64-bit status with its operand id, PAMT page type and owner, MRTD) comes from
intel/tdx-module at tag TDX_1.5.01 (branch tdx_1.5); each test names the file whose check it covers: the SEAMCALL
handlers in src/vmm_dispatcher/api_calls/ (tdh_mem_page_add.c, …), TDG.MEM.PAGE.ACCEPT in src/td_dispatcher/vm_exits/,
the state tables in include/auto_gen/ (sept_state_lookup.c, op_state_lookup.c, tdx_error_codes_defs.h), the PAMT in
src/common/memory_handlers/pamt_manager.h, the helpers in src/common/helpers/ (helpers.c, helpers.h) and the MRTD record
in src/common/crypto/sha384.h. Quoted phrases paraphrase that code. None comes from running tdxsim. TDs are built by
calling the SEAMCALLs directly, in the order of KVM's __tdx_td_init and tdx_td_vcpu_init (arch/x86/kvm/vmx/tdx.c at
kvm-x86 09c6f74ecb86), with frames from PhysicalMemory.alloc.

Levels are the module's: 0 is a 4 KiB leaf entry, 1 the 2 MiB entry above it, 3 the root's entries with 4-level S-EPT
(GPAW 48). Of the seven modelled S-EPT states (the non-migration ones of sept_state_lookup.h), NL_MAPPED and NL_BLOCKED
exist only at level >= 1, and MAPPED, BLOCKED, PENDING and PENDING_BLOCKED only as 4 KiB leaves here (no huge pages), so
leaves that act on a 4 KiB entry are parametrized over the leaf states plus the two ways the walk can stop above the
leaf (a missing level-1 table, an NL_BLOCKED level-1 entry).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tdxsim import platform
from tdxsim.events import Trace
from tdxsim.physmem import PhysicalMemory
from tdxsim.tdx import mrtd
from tdxsim.tdx.module import TdxModule
from tdxsim.tdx.sept import SeptState
from tdxsim.tdx.status import status_name
from tdxsim.vmm.ownership import page_owner

# -- the module's constants (include/auto_gen/tdx_error_codes_defs.h) ------------------------------------------------

TDX_SUCCESS = 0x0
TDX_OPERAND_INVALID = 0xC000010000000000
TDX_PAGE_METADATA_INCORRECT = 0xC000030000000000
TDX_TDCS_NOT_ALLOCATED = 0xC000060600000000
TDX_OP_STATE_INCORRECT = 0xC000060800000000
TDX_NO_VCPUS = 0xC000060900000000
TDX_TD_KEYS_NOT_CONFIGURED = 0x8000081000000000
TDX_EPT_WALK_FAILED = 0xC0000B0000000000
TDX_EPT_ENTRY_NOT_PRESENT = 0xC0000B0300000000
TDX_GPA_RANGE_NOT_BLOCKED = 0xC0000B0600000000
TDX_GPA_RANGE_ALREADY_BLOCKED = 0x00000B0700000000
TDX_TLB_TRACKING_NOT_DONE = 0xC0000B0800000000
TDX_PAGE_ALREADY_ACCEPTED = 0x00000B0A00000000
TDX_EPT_ENTRY_STATE_INCORRECT = 0xC0000B0D00000000
TDX_EPT_PAGE_NOT_FREE = 0xC0000B0E00000000
STATUS_MASK = 0xFFFFFFFF00000000  # TDX_SEAMCALL_STATUS_MASK
# operand ids: RCX from arch/x86/kvm/vmx/tdx_errno.h; R8/R9 follow the GPR numbering (RCX=1, RDX=2)
RCX, R8, R9 = 0x01, 0x08, 0x09
#: intel/tdx-module tag TDX_1.5.01 include/auto_gen/tdx_error_codes_defs.h: "#define OPERAND_ID_SEPT_TREE 146ULL".
SEPT_TREE = 146

# -- PAMT page types (pamt_manager.h) and the owners the simulator pairs with them -------------------------------------

PT_NDA, PT_REG, PT_TDR, PT_TDCX, PT_TDVPR, PT_EPT = "PT_NDA", "PT_REG", "PT_TDR", "PT_TDCX", "PT_TDVPR", "PT_EPT"
METADATA_TYPES = (PT_TDR, PT_TDCX, PT_TDVPR, PT_EPT)

HKID = 16  # the first private HKID of Documentation/arch/x86/tdx.rst's example [16, 64)
PAGE = 4096
GPA = 0x1000  # the page under test: its walk is the level-3/2/1 entries at GPA 0
SHARED_BIT = 1 << 47  # GPAW 48: the shared bit is bit 47 (tdh_mem_page_add.c "shared bit clear and inside GPAW")
DATA = bytes(range(256)) * 16  # tests/data/mrtd-vectors.json vector 3's page

LEAF_STATES = ("MAPPED", "BLOCKED", "PENDING", "PENDING_BLOCKED")
#: Where a 4 KiB leaf's walk can end: the leaf entry in one of its five states, or a level-1 entry that stops it.
LEAF_WALK_ENDS = ("FREE", *LEAF_STATES, "NL_BLOCKED_ABOVE", "MISSING_LEVEL")
ALL_STATES = ("FREE", "NL_MAPPED", "NL_BLOCKED", *LEAF_STATES)

WORKED = json.loads((Path(__file__).parent / "data" / "mrtd-vectors.json").read_text(encoding="utf-8"))
VECTORS = WORKED["vectors"]


def base(gpa: int, level: int) -> int:
    """The first GPA the level-`level` entry covering `gpa` maps: 4 KiB << 9*level (x86 EPT geometry)."""
    return gpa & ~((PAGE << (9 * level)) - 1)


class Machine:
    """Physical memory and one TD, driven SEAMCALL by SEAMCALL."""

    def __init__(self) -> None:
        self.trace = Trace()
        self.mem = PhysicalMemory(self.trace)
        self.module = TdxModule(self.mem, self.trace)
        self.tdr = self.page()
        self.tdvpr: int | None = None

    # -- frames and state ----------------------------------------------------------------------------------------

    def page(self, data: bytes = b"") -> int:
        pfn = self.mem.alloc()
        if data:
            self.mem.write(pfn, 0, data)
        return pfn

    @property
    def td(self):
        return self.module.tds[self.tdr]

    def state(self, gpa: int, level: int = 0) -> str:
        return self.td.sept.get((level, base(gpa, level)), SeptState.FREE).value

    def pt(self, pfn: int) -> str:
        return self.module.page_type(pfn).value

    def owner(self, pfn: int) -> str:
        """The derived owner (tdxsim/vmm/ownership.py); no guest_memfd exists here, so a PT_NDA page is the host's."""
        return page_owner(self.module, pfn, {}).value

    def mark(self) -> int:
        return len(self.trace.events)

    def state_events(self, mark: int, name: str) -> list[dict]:
        return [ev.data for ev in self.trace.since(mark) if ev.kind == "state" and ev.name == name]

    # -- building the TD (tdx.c __tdx_td_init, tdx_td_vcpu_init) --------------------------------------------

    def build(
        self, keys: bool = True, tdcs: int = platform.TDCS_PAGES, init: bool = True, vcpu: bool = True
    ) -> Machine:
        assert self.module.tdh_mng_create(self.tdr, HKID) == TDX_SUCCESS
        if keys:
            for _ in range(platform.NR_PACKAGES):
                assert self.module.tdh_mng_key_config(self.tdr) == TDX_SUCCESS
        for _ in range(tdcs):
            assert self.module.tdh_mng_addcx(self.tdr, self.page()) == TDX_SUCCESS
        if init:
            assert self.module.tdh_mng_init(self.tdr, 0, 48) == TDX_SUCCESS
        if vcpu:
            self.add_vcpu()
        return self

    def add_vcpu(self, initialize: bool = True) -> None:
        self.tdvpr = self.page()
        assert self.module.tdh_vp_create(self.tdr, self.tdvpr) == TDX_SUCCESS
        for _ in range(platform.TDVPX_PAGES):
            assert self.module.tdh_vp_addcx(self.tdvpr, self.page()) == TDX_SUCCESS
        if initialize:
            assert self.module.tdh_vp_init(self.tdvpr, 0) == TDX_SUCCESS

    def finalize(self) -> None:
        assert self.module.tdh_mr_finalize(self.tdr) == TDX_SUCCESS

    # -- S-EPT set-up ----------------------------------------------------------------------------------------------

    def sept_path(self, gpa: int = GPA, down_to: int = 1) -> list[int]:
        """SEPT.ADD the root-to-`down_to` tables above `gpa` (KVM's order: level 3, 2, 1); returns their pages."""
        pages = []
        for level in range(3, down_to - 1, -1):
            pages.append(self.page())
            assert self.module.tdh_mem_sept_add(self.tdr, base(gpa, level), level, pages[-1]) == TDX_SUCCESS
        return pages

    def add(self, gpa: int = GPA, data: bytes = DATA) -> int:
        target = self.page()
        assert self.module.tdh_mem_page_add(self.tdr, gpa, target, self.page(data)) == TDX_SUCCESS
        return target

    def aug(self, gpa: int = GPA) -> int:
        target = self.page()
        assert self.module.tdh_mem_page_aug(self.tdr, gpa, target) == TDX_SUCCESS
        return target

    def block(self, gpa: int = GPA, level: int = 0) -> None:
        assert self.module.tdh_mem_range_block(self.tdr, base(gpa, level), level) == TDX_SUCCESS

    def make(self, state: str, gpa: int = GPA) -> int:
        """Put the entry for `gpa` into `state` while INITIALIZED; returns its level (each leaf's tdh_mem_*.c
        transitions).

        Leaf states are made at level 0 (MAPPED by PAGE.ADD, PENDING by PAGE.AUG, which the module allows while
        INITIALIZED: tdh_mem_page_aug.c); NL states at level 1. The 4 KiB walk-end cases: NL_BLOCKED_ABOVE blocks the
        level-1 entry, MISSING_LEVEL leaves out the level-1 table.
        """
        if state == "MISSING_LEVEL":
            self.sept_path(gpa, down_to=2)
            return 1
        if state in ("NL_MAPPED", "NL_BLOCKED", "NL_BLOCKED_ABOVE"):
            self.sept_path(gpa)
            if state != "NL_MAPPED":
                self.block(gpa, 1)
            return 1
        self.sept_path(gpa)
        if state in ("MAPPED", "BLOCKED"):
            self.add(gpa)
        elif state in ("PENDING", "PENDING_BLOCKED"):
            self.aug(gpa)
        if state.endswith("BLOCKED"):
            self.block(gpa)
        return 0


@pytest.fixture
def m() -> Machine:
    """A TD in OP_STATE_INITIALIZED with one initialised vCPU."""
    return Machine().build()


def at_phase(m: Machine, phase: str) -> Machine:
    if phase == "RUNNABLE":
        m.finalize()
    return m


def assert_transition(m: Machine, mark: int, gpa: int, level: int, old: str, new: str, leaf: str) -> None:
    """The entry is in `new` and the call recorded exactly that transition as a "sept" event (the design rule: every
    transition is an event)."""
    assert m.state(gpa, level) == new
    assert [(e["old"], e["new"], e["leaf"]) for e in m.state_events(mark, "sept")] == [(old, new, leaf)]


def assert_untouched(m: Machine, mark: int, gpa: int, level: int, state: str) -> None:
    """A failed SEAMCALL changes no S-EPT entry and no PAMT entry."""
    assert m.state(gpa, level) == state
    assert m.state_events(mark, "sept") == []
    assert m.state_events(mark, "pamt") == []


# == status codes ======================================================================================================


@pytest.mark.parametrize(
    "name,code",
    [
        ("TDX_SUCCESS", TDX_SUCCESS),
        ("TDX_OPERAND_INVALID", TDX_OPERAND_INVALID),
        ("TDX_PAGE_METADATA_INCORRECT", TDX_PAGE_METADATA_INCORRECT),
        ("TDX_TDCS_NOT_ALLOCATED", TDX_TDCS_NOT_ALLOCATED),
        ("TDX_OP_STATE_INCORRECT", TDX_OP_STATE_INCORRECT),
        ("TDX_NO_VCPUS", TDX_NO_VCPUS),
        ("TDX_TD_KEYS_NOT_CONFIGURED", TDX_TD_KEYS_NOT_CONFIGURED),
        ("TDX_EPT_WALK_FAILED", TDX_EPT_WALK_FAILED),
        ("TDX_EPT_ENTRY_NOT_PRESENT", TDX_EPT_ENTRY_NOT_PRESENT),
        ("TDX_GPA_RANGE_NOT_BLOCKED", TDX_GPA_RANGE_NOT_BLOCKED),
        ("TDX_GPA_RANGE_ALREADY_BLOCKED", TDX_GPA_RANGE_ALREADY_BLOCKED),
        ("TDX_TLB_TRACKING_NOT_DONE", TDX_TLB_TRACKING_NOT_DONE),
        ("TDX_PAGE_ALREADY_ACCEPTED", TDX_PAGE_ALREADY_ACCEPTED),
        ("TDX_EPT_ENTRY_STATE_INCORRECT", TDX_EPT_ENTRY_STATE_INCORRECT),
        ("TDX_EPT_PAGE_NOT_FREE", TDX_EPT_PAGE_NOT_FREE),
    ],
)
def test_status_name_ignores_operand_id(name, code):
    """tdx_error_codes_defs.h: the low 32 bits carry the operand id; the name is the class
    (TDX_SEAMCALL_STATUS_MASK)."""
    assert status_name(code) == name
    assert status_name(code | RCX) == name


# == lifecycle and OP_STATE (tdh_mng_init.c) ===========================================================================


def test_mng_create_makes_the_tdr_page_pt_tdr():
    """pamt_manager.h: TDH.MNG.CREATE sets PT_TDR (tdh_mng_create.c L138); td_control_structures.h: lifecycle
    TD_HKID_ASSIGNED."""
    m = Machine()
    assert m.pt(m.tdr) == PT_NDA
    assert m.module.tdh_mng_create(m.tdr, HKID) == TDX_SUCCESS
    assert (m.pt(m.tdr), m.owner(m.tdr)) == (PT_TDR, "tdx_metadata")
    assert m.td.lifecycle.value == "TD_HKID_ASSIGNED"
    assert m.module.tdh_mng_key_config(m.tdr) == TDX_SUCCESS
    # tdh_mng_key_config.c: KEY.CONFIG on all packages (NR_PACKAGES = 1)
    assert m.td.lifecycle.value == "TD_KEYS_CONFIGURED"


def test_mng_create_refuses_a_page_that_is_not_pt_nda():
    """pamt_manager.h: "Only PT_NDA pages can be handed to ADD/AUG/SEPT.ADD/ADDCX/CREATE"; a PAGE_METADATA-class
    error."""
    m = Machine().build()
    tdcs_page = m.td.tdcs[0]
    assert m.module.tdh_mng_create(tdcs_page, HKID + 1) & STATUS_MASK == TDX_PAGE_METADATA_INCORRECT
    assert m.pt(tdcs_page) == PT_TDCX


def test_addcx_pages_become_pt_tdcx():
    """pamt_manager.h: TDH.MNG.ADDCX sets PT_TDCX (TDCS pages, TD HKID), owner the TD (tdx_metadata)."""
    m = Machine().build(init=False, vcpu=False)
    assert len(m.td.tdcs) == platform.TDCS_PAGES
    for pfn in m.td.tdcs:
        assert (m.pt(pfn), m.owner(pfn), m.mem.frames[pfn].keyid) == (PT_TDCX, "tdx_metadata", HKID)


@pytest.mark.parametrize("added", range(platform.TDCS_PAGES))
def test_mng_init_before_every_tdcs_page_is_tdcs_not_allocated(added):
    """helpers.c check_td_in_correct_build_state: not enough TDCX pages -> TDX_TDCS_NOT_ALLOCATED; OP_STATE stays."""
    m = Machine().build(tdcs=added, init=False, vcpu=False)
    assert m.module.tdh_mng_init(m.tdr, 0, 48) == TDX_TDCS_NOT_ALLOCATED
    assert m.td.op_state.value == "OP_STATE_UNINITIALIZED"


def test_mng_init_moves_op_state_to_initialized_once():
    """tdh_mng_init.c, op_state_lookup.c: TDH.MNG.INIT UNINITIALIZED -> INITIALIZED (tdh_mng_init.c L673); MNG.INIT and
    MNG.ADDCX are allowed only while UNINITIALIZED, so both fail afterwards with TDX_OP_STATE_INCORRECT."""
    m = Machine().build(init=False, vcpu=False)
    assert m.module.tdh_mng_init(m.tdr, 0, 48) == TDX_SUCCESS
    assert m.td.op_state.value == "OP_STATE_INITIALIZED"
    assert m.module.tdh_mng_init(m.tdr, 0, 48) == TDX_OP_STATE_INCORRECT
    extra = m.page()
    assert m.module.tdh_mng_addcx(m.tdr, extra) == TDX_OP_STATE_INCORRECT
    assert m.pt(extra) == PT_NDA


def _call(m: Machine, leaf: str, page: int | None = None) -> int:
    """Issue one SEAMCALL of the memory/VP families at GPA with a fresh page where one is needed."""
    page = m.page() if page is None else page
    calls = {
        "TDH.VP.CREATE": lambda: m.module.tdh_vp_create(m.tdr, page),
        "TDH.MEM.SEPT.ADD": lambda: m.module.tdh_mem_sept_add(m.tdr, 0, 3, page),
        "TDH.MEM.PAGE.ADD": lambda: m.module.tdh_mem_page_add(m.tdr, GPA, page, m.page()),
        "TDH.MEM.PAGE.AUG": lambda: m.module.tdh_mem_page_aug(m.tdr, GPA, page),
        "TDH.MEM.RANGE.BLOCK": lambda: m.module.tdh_mem_range_block(m.tdr, GPA, 0),
        "TDH.MEM.RANGE.UNBLOCK": lambda: m.module.tdh_mem_range_unblock(m.tdr, GPA, 0),
        "TDH.MEM.TRACK": lambda: m.module.tdh_mem_track(m.tdr),
        "TDH.MEM.PAGE.REMOVE": lambda: m.module.tdh_mem_page_remove(m.tdr, GPA),
        "TDH.MR.EXTEND": lambda: m.module.tdh_mr_extend(m.tdr, GPA),
        "TDH.MR.FINALIZE": lambda: m.module.tdh_mr_finalize(m.tdr),
    }
    return calls[leaf]()


TDCS_LEAVES = (
    "TDH.VP.CREATE",
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.PAGE.ADD",
    "TDH.MEM.PAGE.AUG",
    "TDH.MEM.RANGE.BLOCK",
    "TDH.MEM.RANGE.UNBLOCK",
    "TDH.MEM.TRACK",
    "TDH.MEM.PAGE.REMOVE",
    "TDH.MR.EXTEND",
    "TDH.MR.FINALIZE",
)


@pytest.mark.parametrize("leaf", TDCS_LEAVES)
def test_tdcs_using_leaf_before_key_config_is_keys_not_configured(leaf):
    """helpers.c: every TDCS-using leaf first calls check_td_in_correct_build_state; lifecycle != TD_KEYS_CONFIGURED ->
    TDX_TD_KEYS_NOT_CONFIGURED (0x8000081000000000), before the TDCS and OP_STATE checks."""
    m = Machine().build(keys=False, tdcs=0, init=False, vcpu=False)
    assert _call(m, leaf) == TDX_TD_KEYS_NOT_CONFIGURED


@pytest.mark.parametrize("leaf", TDCS_LEAVES)
def test_tdcs_using_leaf_before_all_tdcs_pages_is_tdcs_not_allocated(leaf):
    """helpers.c check_td_in_correct_build_state (helpers.c L499-520): keys configured but fewer TDCX pages than
    MIN_NUM_TDCS_PAGES -> TDX_TDCS_NOT_ALLOCATED, checked before OP_STATE (intel/tdx-module helpers.c: `num_tdcx <
    MIN_NUM_TDCS_PAGES` in check_td_in_correct_build_state, called first by check_any_td_state_map_tdcs_and_lock)."""
    m = Machine().build(tdcs=platform.TDCS_PAGES - 1, init=False, vcpu=False)
    assert _call(m, leaf) == TDX_TDCS_NOT_ALLOCATED


@pytest.mark.parametrize("leaf", TDCS_LEAVES)
def test_no_memory_or_vp_leaf_before_mng_init(leaf):
    """op_state_lookup.c seamcall_state_lookup, column UNINIT: only MNG.ADDCX and MNG.INIT are allowed; every other leaf
    -> TDX_OP_STATE_INCORRECT."""
    m = Machine().build(init=False, vcpu=False)
    assert _call(m, leaf) == TDX_OP_STATE_INCORRECT


def test_vp_create_addcx_init_page_types():
    """pamt_manager.h: TDH.VP.CREATE sets PT_TDVPR, TDH.VP.ADDCX PT_TDCX (TDVPS extension pages), both tdx_metadata."""
    m = Machine().build(vcpu=False)
    m.add_vcpu()
    vp = m.td.vps[m.tdvpr]
    assert (m.pt(m.tdvpr), m.owner(m.tdvpr)) == (PT_TDVPR, "tdx_metadata")
    assert len(vp.tdcx) == platform.TDVPX_PAGES
    assert all((m.pt(p), m.owner(p)) == (PT_TDCX, "tdx_metadata") for p in vp.tdcx)
    assert vp.initialized


@pytest.mark.parametrize("victim", ["TDR", "TDCS", "REG"])
def test_vp_addcx_refuses_a_page_that_is_not_pt_nda(victim):
    """pamt_manager.h: "Every SEAMCALL that takes a new page checks for PT_NDA"
    (check_lock_and_map_explicit_private_4k_hpa); the page is rejected with a PAGE_METADATA-class error and keeps its
    type."""
    m = Machine().build(vcpu=False)
    m.tdvpr = m.page()
    assert m.module.tdh_vp_create(m.tdr, m.tdvpr) == TDX_SUCCESS
    m.sept_path()
    page, pt = {"TDR": (m.tdr, PT_TDR), "TDCS": (m.td.tdcs[0], PT_TDCX), "REG": (None, PT_REG)}[victim]
    if page is None:
        page = m.add()
    ret = m.module.tdh_vp_addcx(m.tdvpr, page)
    assert ret & STATUS_MASK == TDX_PAGE_METADATA_INCORRECT
    assert m.pt(page) == pt


def test_finalize_without_any_vcpu_is_no_vcpus():
    """tdh_mr_finalize.c: TDH.MR.FINALIZE needs at least one initialised vCPU, otherwise TDX_NO_VCPUS
    (0xC000060900000000)."""
    m = Machine().build(vcpu=False)
    assert m.module.tdh_mr_finalize(m.tdr) == TDX_NO_VCPUS
    assert m.td.op_state.value == "OP_STATE_INITIALIZED"


def test_finalize_with_an_uninitialised_vcpu_is_no_vcpus():
    """tdh_mr_finalize.c: the vCPU must be *initialised* (TDH.VP.INIT), not just created."""
    m = Machine().build(vcpu=False)
    m.add_vcpu(initialize=False)
    assert m.module.tdh_mr_finalize(m.tdr) == TDX_NO_VCPUS
    assert m.td.op_state.value == "OP_STATE_INITIALIZED"


def test_finalize_moves_op_state_to_runnable_once(m):
    """tdh_mr_finalize.c, op_state_lookup.c: TDH.MR.FINALIZE INITIALIZED -> RUNNABLE (tdh_mr_finalize.c L171); it is
    INITIALIZED-only, so again -> TDX_OP_STATE_INCORRECT."""
    m.finalize()
    assert m.td.op_state.value == "OP_STATE_RUNNABLE"
    assert m.module.tdh_mr_finalize(m.tdr) == TDX_OP_STATE_INCORRECT


@pytest.mark.parametrize("leaf", ["TDH.MEM.PAGE.ADD", "TDH.MR.EXTEND", "TDH.VP.CREATE"])
def test_initialized_only_leaves_after_finalize_are_op_state_incorrect(m, leaf):
    """op_state_lookup.c seamcall_state_lookup: PAGE.ADD, MR.EXTEND, VP.CREATE run only while INITIALIZED;
    tdh_mem_page_add.c: "Otherwise TDX_OP_STATE_INCORRECT 0xC000060800000000" (no operand id)."""
    m.sept_path()
    if leaf == "TDH.MR.EXTEND":
        m.add()
    m.finalize()
    mark = m.mark()
    assert _call(m, leaf) == TDX_OP_STATE_INCORRECT
    assert m.state_events(mark, "sept") == [] and m.state_events(mark, "pamt") == []


def test_vp_addcx_and_vp_init_after_finalize_are_op_state_incorrect(m):
    """op_state_lookup.c seamcall_state_lookup: VP.ADDCX (4) and VP.INIT (22) are INITIALIZED-only."""
    m.add_vcpu(initialize=False)
    late = m.tdvpr
    m.tdvpr = None
    m.add_vcpu()  # a second, initialised vCPU lets FINALIZE succeed
    m.finalize()
    assert m.module.tdh_vp_addcx(late, m.page()) == TDX_OP_STATE_INCORRECT
    assert m.module.tdh_vp_init(late, 0) == TDX_OP_STATE_INCORRECT


# == TDH.MEM.SEPT.ADD (tdh_mem_sept_add.c) =============================================================================


@pytest.mark.parametrize("phase", ["INITIALIZED", "RUNNABLE"])
def test_sept_add_free_to_nl_mapped_at_every_level(m, phase):
    """tdh_mem_sept_add.c: FREE -> NL_MAPPED; the new page PT_NDA -> PT_EPT, owner the TD; CHLDCNT += 1. Allowed while
    INITIALIZED and RUNNABLE (op_state_lookup.c seamcall_state_lookup). Levels 3, 2, 1 exist with 4-level EPT
    (tdh_mem_sept_add.c: level 1..3)."""
    at_phase(m, phase)
    for level in (3, 2, 1):
        page, count, mark = m.page(), m.td.chldcnt, m.mark()
        assert m.module.tdh_mem_sept_add(m.tdr, base(GPA, level), level, page) == TDX_SUCCESS
        assert_transition(m, mark, GPA, level, "FREE", "NL_MAPPED", "TDH.MEM.SEPT.ADD")
        assert (m.pt(page), m.owner(page)) == (PT_EPT, "tdx_metadata")
        assert m.td.chldcnt == count + 1


@pytest.mark.parametrize("state", ["FREE", "NL_MAPPED", "NL_BLOCKED"])
def test_sept_add_pre_states(m, state):
    """seamcall_sept_state_lookup[3]: allowed pre-state FREE (NL_MAPPED only with the 1.5 allow_existing flag, not
    modelled); tdh_mem_sept_add.c: "entry already NL_MAPPED -> EPT_ENTRY_STATE_INCORRECT"; tdh_mem_sept_add.c "Wrong
    state ... with the operand id (RCX = 1)"."""
    if state == "FREE":
        m.sept_path(down_to=2)
    else:
        m.make(state)
    page, mark = m.page(), m.mark()
    ret = m.module.tdh_mem_sept_add(m.tdr, base(GPA, 1), 1, page)
    if state == "FREE":
        assert ret == TDX_SUCCESS
        assert_transition(m, mark, GPA, 1, "FREE", "NL_MAPPED", "TDH.MEM.SEPT.ADD")
    else:
        assert ret == TDX_EPT_ENTRY_STATE_INCORRECT | RCX
        assert_untouched(m, mark, GPA, 1, state)
        assert (m.pt(page), m.owner(page)) == (PT_NDA, "host")


@pytest.mark.parametrize("level", [0, 4, 5])
def test_sept_add_level_outside_1_to_3_is_operand_invalid(m, level):
    """tdh_mem_sept_add.c: "SEPT.ADD level must be 1..3 with 4-level EPT (else OPERAND_INVALID|RCX)"."""
    m.sept_path()
    page, mark = m.page(), m.mark()
    assert m.module.tdh_mem_sept_add(m.tdr, 0, level, page) == TDX_OPERAND_INVALID | RCX
    assert m.pt(page) == PT_NDA and m.state_events(mark, "sept") == []


@pytest.mark.parametrize("parent", ["missing", "NL_BLOCKED"])
def test_sept_add_parent_not_nl_mapped_is_walk_failed(m, parent):
    """tdh_mem_sept_add.c: "parent not NL_MAPPED -> EPT_WALK_FAILED"; tdh_mem_sept_add.c: the walk stopped above the
    requested level."""
    if parent == "missing":
        m.sept_path(down_to=3)
    else:
        m.sept_path(down_to=2)
        m.block(GPA, 2)
    page, mark = m.page(), m.mark()
    assert m.module.tdh_mem_sept_add(m.tdr, base(GPA, 1), 1, page) & STATUS_MASK == TDX_EPT_WALK_FAILED
    assert m.state(GPA, 1) == "FREE" and m.pt(page) == PT_NDA and m.state_events(mark, "pamt") == []


def test_sept_add_new_page_must_be_pt_nda(m):
    """tdh_mem_sept_add.c: "the new page must be PT_NDA" (tdh_mem_sept_add.c L51-56); pamt_manager.h:
    PAGE_METADATA-class error."""
    m.sept_path(down_to=2)
    tdcs_page, mark = m.td.tdcs[0], m.mark()
    assert m.module.tdh_mem_sept_add(m.tdr, base(GPA, 1), 1, tdcs_page) & STATUS_MASK == TDX_PAGE_METADATA_INCORRECT
    assert_untouched(m, mark, GPA, 1, "FREE")
    assert m.pt(tdcs_page) == PT_TDCX


# == TDH.MEM.PAGE.ADD (tdh_mem_page_add.c) =============================================================================


def test_page_add_free_to_mapped(m):
    """tdh_mem_page_add.c: FREE -> MAPPED; target PT_NDA -> PT_REG, owner the TD (td_private under the TD's HKID);
    CHLDCNT += 1; the source is copied into the target with the TD key; the host's KeyID-0 read never returns it
    (pamt_manager.h)."""
    m.sept_path()
    target, source = m.page(), m.page(DATA)
    count, mark = m.td.chldcnt, m.mark()
    assert m.module.tdh_mem_page_add(m.tdr, GPA, target, source) == TDX_SUCCESS
    assert_transition(m, mark, GPA, 0, "FREE", "MAPPED", "TDH.MEM.PAGE.ADD")
    assert (m.pt(target), m.owner(target), m.mem.frames[target].keyid) == (PT_REG, "td_private", HKID)
    assert m.td.chldcnt == count + 1
    assert bytes(m.mem.view(target)) == DATA  # the TDX module's (TD key) view
    assert m.mem.read(target, keyid=0) != DATA
    assert (m.pt(source), m.owner(source), m.mem.read(source)) == (PT_NDA, "host", DATA)  # source untouched


@pytest.mark.parametrize("state", LEAF_WALK_ENDS)
def test_page_add_pre_states(m, state):
    """seamcall_sept_state_lookup[2]: only FREE; tdh_mem_page_add.c: entry not FREE ->
    TDX_EPT_ENTRY_STATE_INCORRECT|RCX;
    missing intermediate level -> TDX_EPT_WALK_FAILED|RCX (a blocked level-1 entry stops the walk too)."""
    level = m.make(state)
    target, mark = m.page(), m.mark()
    ret = m.module.tdh_mem_page_add(m.tdr, GPA, target, m.page(DATA))
    if state == "FREE":
        assert ret == TDX_SUCCESS
        assert_transition(m, mark, GPA, 0, "FREE", "MAPPED", "TDH.MEM.PAGE.ADD")
        return
    expected = TDX_EPT_WALK_FAILED if level else TDX_EPT_ENTRY_STATE_INCORRECT
    assert ret == expected | RCX
    assert_untouched(m, mark, GPA, level, {"NL_BLOCKED_ABOVE": "NL_BLOCKED", "MISSING_LEVEL": "FREE"}.get(state, state))
    assert m.pt(target) == PT_NDA


@pytest.mark.parametrize(
    "gpa", [GPA | SHARED_BIT, 1 << 48, GPA + 0x800], ids=["shared-bit", "beyond-gpaw", "unaligned"]
)
def test_page_add_gpa_not_private_4k_is_operand_invalid(m, gpa):
    """tdh_mem_page_add.c: "GPA must be private (shared bit clear) and inside GPAW -> TDX_OPERAND_INVALID";
    tdh_mem_page_add.c: the
    GPA check (OPERAND_INVALID|RCX) precedes the S-EPT walk, so no S-EPT path is needed to see it."""
    target, mark = m.page(), m.mark()
    assert m.module.tdh_mem_page_add(m.tdr, gpa, target, m.page(DATA)) == TDX_OPERAND_INVALID | RCX
    assert m.pt(target) == PT_NDA and m.state_events(mark, "pamt") == []


def test_page_add_source_check_is_the_address_not_the_frame(m):
    """intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c: "shared_hpa_check_with_pwr_2_alignment(source_pa, …)" then
    "api_error_with_operand_id(return_val, OPERAND_ID_R9)"; helpers.c shared_hpa_check: "Check that HKID bits in
    the HPA are in the range configured for shared HKIDs". The frame's own KeyID is not consulted: a TD-private
    frame named without HKID bits passes, and the copy reads it through KeyID 0 (what the host would read: zeros,
    docs/fidelity.md); the same frame named through its private HKID is refused on R9."""
    m.sept_path()  # GPA and GPA + PAGE share their S-EPT tables
    private_src = m.add(GPA)
    assert m.mem.frames[private_src].keyid == HKID
    target, mark = m.page(), m.mark()
    ret = m.module.tdh_mem_page_add(m.tdr, GPA + PAGE, m.page(), platform.pa_with_keyid(private_src, HKID))
    assert ret == TDX_OPERAND_INVALID | R9 == 0xC000010000000009
    assert_untouched(m, mark, GPA + PAGE, 0, "FREE")
    assert m.module.tdh_mem_page_add(m.tdr, GPA + PAGE, target, private_src) == TDX_SUCCESS
    assert bytes(m.mem.view(target)) == bytes(PAGE) != DATA


@pytest.mark.parametrize(
    "source",
    [1 << (46 - 12), (platform.SEAMRR_BASE >> 12) + 1],
    ids=["bit-at-MAX_PA", "inside-SEAMRR"],
)
def test_page_add_source_beyond_max_pa_or_in_seamrr_is_rejected_on_r9(m, source):
    """helpers.c shared_hpa_check (TDX_1.5.01): "Check that no bits above MAX_PA are set" and "Check that the
    provided HPA is outside SEAMRR", each TDX_OPERAND_INVALID, reported by PAGE.ADD with OPERAND_ID_R9."""
    m.sept_path()
    target, mark = m.page(), m.mark()
    assert m.module.tdh_mem_page_add(m.tdr, GPA, target, source) == TDX_OPERAND_INVALID | R9
    assert_untouched(m, mark, GPA, 0, "FREE")


def test_page_add_target_not_pt_nda_is_rejected_on_r8(m):
    """tdh_mem_page_add.c: "Target must be PT_NDA (R8)"; tdh_mem_page_add.c: the target is the last check."""
    m.sept_path()
    tdcs_page, mark = m.td.tdcs[0], m.mark()
    ret = m.module.tdh_mem_page_add(m.tdr, GPA, tdcs_page, m.page(DATA))
    assert ret >> 63 and ret & ~STATUS_MASK == R8
    assert_untouched(m, mark, GPA, 0, "FREE")
    assert m.pt(tdcs_page) == PT_TDCX


def test_page_add_check_order(m):
    """tdh_mem_page_add.c: TDR, OP_STATE, GPA, S-EPT walk, entry state, source (R9), target (R8). Each pair below fails
    two checks at once and must report the earlier one."""
    bad_target = m.td.tdcs[0]
    m.sept_path()
    private_src = platform.pa_with_keyid(m.add(GPA), HKID)  # a source address with private HKID bits
    # entry state (MAPPED) before source and target
    assert m.module.tdh_mem_page_add(m.tdr, GPA, bad_target, private_src) == TDX_EPT_ENTRY_STATE_INCORRECT | RCX
    # source before target
    ret = m.module.tdh_mem_page_add(m.tdr, GPA + PAGE, bad_target, private_src)
    assert ret & ~STATUS_MASK == R9
    # GPA before the walk: a shared GPA with no S-EPT path under it
    assert m.module.tdh_mem_page_add(m.tdr, SHARED_BIT | 1 << 40, m.page(), m.page()) == TDX_OPERAND_INVALID | RCX
    # walk before the entry state: at 1 GiB the level-2 entry is FREE, so the walk stops above the leaf
    assert m.module.tdh_mem_page_add(m.tdr, 1 << 30, m.page(), m.page()) == TDX_EPT_WALK_FAILED | RCX
    # OP_STATE before the GPA
    m.finalize()
    assert m.module.tdh_mem_page_add(m.tdr, SHARED_BIT, m.page(), m.page()) == TDX_OP_STATE_INCORRECT


def test_page_add_in_place_source_equals_target(m):
    """tdh_mem_page_add.c: nothing compares source and target; PAGE.ADD with source_pa == target_pa is not rejected: the
    page ends PT_REG, MAPPED, its content re-encrypted under the TD key (copied line by line onto itself)."""
    m.sept_path()
    page = m.page(DATA)
    mark = m.mark()
    assert m.module.tdh_mem_page_add(m.tdr, GPA, page, page) == TDX_SUCCESS
    assert_transition(m, mark, GPA, 0, "FREE", "MAPPED", "TDH.MEM.PAGE.ADD")
    assert (m.pt(page), m.owner(page)) == (PT_REG, "td_private")
    assert bytes(m.mem.view(page)) == DATA


def test_page_add_after_finalize_is_op_state_incorrect(m):
    """tdh_mem_page_add.c: PAGE.ADD is INITIALIZED only; after TDH.MR.FINALIZE -> TDX_OP_STATE_INCORRECT; entry stays
    FREE."""
    m.sept_path()
    m.finalize()
    target, mark = m.page(), m.mark()
    assert m.module.tdh_mem_page_add(m.tdr, GPA, target, m.page(DATA)) == TDX_OP_STATE_INCORRECT
    assert_untouched(m, mark, GPA, 0, "FREE")


# == TDH.MR.EXTEND (tdh_mr_extend.c) ===================================================================================


def test_mr_extend_on_mapped_leaves_the_entry_unchanged(m):
    """tdh_mr_extend.c: MR.EXTEND on a MAPPED page extends MRTD with 256 bytes; the entry stays MAPPED."""
    m.sept_path()
    m.add()
    mark = m.mark()
    for i in range(16):
        assert m.module.tdh_mr_extend(m.tdr, GPA + i * 256) == TDX_SUCCESS
    assert m.state(GPA) == "MAPPED" and m.state_events(mark, "sept") == []


@pytest.mark.parametrize("state", LEAF_WALK_ENDS)
def test_mr_extend_pre_states(m, state):
    """seamcall_sept_state_lookup[16]: only MAPPED; tdh_mr_extend.c: "Walk failure or state not MAPPED ->
    TDX_EPT_ENTRY_NOT_PRESENT". tdh_mr_extend.c: a walk
    failure gives EPT_ENTRY_NOT_PRESENT|RCX, a present leaf that is not MAPPED the bare code. tdh_mr_extend.c walks
    with check_and_walk_private_gpa_to_leaf, which fails when the final entry `!rwx` (helpers.c
    lock_sept_check_and_walk_internal, SEPT_WALK_TO_LEAF); FREE, BLOCKED ("TDB set, RWX cleared",
    tdh_mem_range_block.c) and PENDING ("no permissions", tdh_mem_page_aug.c) are not present, so all of them give
    |RCX.
    The bare code is left to leaf states with permissions (BLOCKEDW, EXPORTED_*), which are not modelled."""
    level = m.make(state)
    mark = m.mark()
    ret = m.module.tdh_mr_extend(m.tdr, GPA)
    if state == "MAPPED":
        assert ret == TDX_SUCCESS
        return
    assert ret == TDX_EPT_ENTRY_NOT_PRESENT | RCX
    assert m.state_events(mark, "sept") == []
    assert m.state(GPA, level) == {"NL_BLOCKED_ABOVE": "NL_BLOCKED", "MISSING_LEVEL": "FREE"}.get(state, state)


def test_mr_extend_after_the_leaf_was_removed_is_not_present(m):
    """The walk is per call (tdh_mr_extend.c check_and_walk_private_gpa_to_leaf): a page extended once, then removed
    (PAGE.REMOVE of a MAPPED page is allowed before FINALIZE, tdh_mem_page_remove.c), is no longer present to the
    next MR.EXTEND."""
    m.sept_path()
    m.add()
    assert m.module.tdh_mr_extend(m.tdr, GPA) == TDX_SUCCESS
    assert m.module.tdh_mem_page_remove(m.tdr, GPA) & STATUS_MASK == TDX_SUCCESS
    assert m.module.tdh_mr_extend(m.tdr, GPA + 256) == TDX_EPT_ENTRY_NOT_PRESENT | RCX


@pytest.mark.parametrize("offset", [0x80, 0x1, 0xFF])
def test_mr_extend_not_256_aligned_is_operand_invalid(m, offset):
    """tdh_mr_extend.c: "not 256-aligned -> OPERAND_INVALID|RCX"; tdh_mr_extend.c: "GPA must be 256-byte aligned ->
    OPERAND_INVALID"."""
    m.sept_path()
    m.add()
    assert m.module.tdh_mr_extend(m.tdr, GPA + offset) == TDX_OPERAND_INVALID | RCX


def test_mr_extend_after_finalize_is_op_state_incorrect(m):
    """tdh_mr_extend.c, op_state_lookup.c: MR.EXTEND is INITIALIZED only -> TDX_OP_STATE_INCORRECT after FINALIZE."""
    m.sept_path()
    m.add()
    m.finalize()
    assert m.module.tdh_mr_extend(m.tdr, GPA) == TDX_OP_STATE_INCORRECT


# == TDH.MEM.PAGE.AUG (tdh_mem_page_aug.c) =============================================================================


@pytest.mark.parametrize("phase", ["INITIALIZED", "RUNNABLE"])
@pytest.mark.parametrize("state", LEAF_WALK_ENDS)
def test_page_aug_pre_states(m, phase, state):
    """seamcall_sept_state_lookup[6]: FREE (or REMOVED, not modelled) -> PENDING; target PT_NDA -> PT_REG, owner the
    TD; CHLDCNT += 1;
    no copy, no measurement. tdh_mem_page_aug.c: the module allows AUG while INITIALIZED ("AUG only after finalize" is
    KVM
    policy). Wrong state -> STATE_INCORRECT|RCX; a walk that stops above the leaf -> TDX_EPT_WALK_FAILED."""
    level = m.make(state)
    at_phase(m, phase)
    target, count, mark = m.page(DATA), m.td.chldcnt, m.mark()
    ret = m.module.tdh_mem_page_aug(m.tdr, GPA, target)
    if state == "FREE":
        assert ret == TDX_SUCCESS
        assert_transition(m, mark, GPA, 0, "FREE", "PENDING", "TDH.MEM.PAGE.AUG")
        assert (m.pt(target), m.owner(target)) == (PT_REG, "td_private")
        assert m.td.chldcnt == count + 1
        return
    if level:
        assert ret & STATUS_MASK == TDX_EPT_WALK_FAILED
    else:
        assert ret == TDX_EPT_ENTRY_STATE_INCORRECT | RCX
    assert_untouched(m, mark, GPA, level, {"NL_BLOCKED_ABOVE": "NL_BLOCKED", "MISSING_LEVEL": "FREE"}.get(state, state))
    assert m.pt(target) == PT_NDA


def test_page_aug_checks_the_entry_before_the_target(m):
    """tdh_mem_page_aug.c (TDX_1.5.01): the walk and "sept_state_is_seamcall_leaf_allowed(TDH_MEM_PAGE_AUG_LEAF, …)"
    (TDX_EPT_ENTRY_STATE_INCORRECT, OPERAND_ID_RCX) come before "check_and_lock_free_range_hpa(td_page_pa,
    OPERAND_ID_R8, …)". An AUG of the very page already MAPPED there fails two checks and reports the entry."""
    m.sept_path()
    page = m.add()
    m.finalize()
    assert m.pt(page) == PT_REG
    assert m.module.tdh_mem_page_aug(m.tdr, GPA, page) == TDX_EPT_ENTRY_STATE_INCORRECT | RCX
    # A FREE entry with a target that is not PT_NDA is the target's failure, on R8.
    assert m.module.tdh_mem_page_aug(m.tdr, GPA + PAGE, page) == TDX_PAGE_METADATA_INCORRECT | R8


def test_page_aug_is_not_measured():
    """tdh_mem_page_aug.c: AUG does no measurement, so a TD finalized after AUGs only has the empty MRTD
    (tests/data/mrtd-vectors.json vector 1)."""
    m = Machine().build()
    m.sept_path()
    m.aug()
    m.finalize()
    assert m.td.mrtd.hex() == VECTORS[0]["mrtd"]


# == TDH.MEM.RANGE.BLOCK / TDH.MEM.TRACK / TDH.MEM.RANGE.UNBLOCK (tdh_mem_range_block.c) ===============================

BLOCK_POST = {"NL_MAPPED": "NL_BLOCKED", "MAPPED": "BLOCKED", "PENDING": "PENDING_BLOCKED"}
BLOCKED = ("NL_BLOCKED", "BLOCKED", "PENDING_BLOCKED")


@pytest.mark.parametrize("phase", ["INITIALIZED", "RUNNABLE"])
@pytest.mark.parametrize("state", ALL_STATES)
def test_range_block_pre_states(m, phase, state):
    """tdh_mem_range_block.c: NL_MAPPED -> NL_BLOCKED, MAPPED -> BLOCKED, PENDING -> PENDING_BLOCKED, recording the TD
    epoch as BEPOCH; already blocked -> TDX_GPA_RANGE_ALREADY_BLOCKED 0x00000B0700000000, a success-class status
    (bit 63 clear); anything else -> STATE_INCORRECT|RCX. Allowed INITIALIZED ... LIVE_IMPORT."""
    level = m.make(state)
    at_phase(m, phase)
    mark = m.mark()
    ret = m.module.tdh_mem_range_block(m.tdr, base(GPA, level), level)
    if state in BLOCK_POST:
        assert ret == TDX_SUCCESS
        assert_transition(m, mark, GPA, level, state, BLOCK_POST[state], "TDH.MEM.RANGE.BLOCK")
        assert m.td.bepoch[(level, base(GPA, level))] == m.td.td_epoch
    elif state in BLOCKED:
        assert ret & STATUS_MASK == TDX_GPA_RANGE_ALREADY_BLOCKED and not ret >> 63
        assert_untouched(m, mark, GPA, level, state)
    else:
        assert ret == TDX_EPT_ENTRY_STATE_INCORRECT | RCX
        assert_untouched(m, mark, GPA, level, state)


def test_track_increments_the_td_epoch_and_block_records_it(m):
    """tdh_mem_track.c: increments TDCS td_epoch; RANGE.BLOCK writes the current epoch to BEPOCH (helpers.h
    is_tlb_tracked)."""
    m.sept_path()
    m.add()
    epoch = m.td.td_epoch
    assert m.module.tdh_mem_track(m.tdr) == TDX_SUCCESS
    assert m.module.tdh_mem_track(m.tdr) == TDX_SUCCESS
    assert m.td.td_epoch == epoch + 2
    m.block()
    assert m.td.bepoch[(0, GPA)] == epoch + 2


@pytest.mark.parametrize("phase", ["INITIALIZED", "RUNNABLE"])
def test_track_allowed_while_initialized_and_runnable(m, phase):
    """op_state_lookup.c seamcall_state_lookup: TRACK (38) is allowed INITIALIZED and RUNNABLE."""
    at_phase(m, phase)
    assert m.module.tdh_mem_track(m.tdr) == TDX_SUCCESS


UNBLOCK_POST = {v: k for k, v in BLOCK_POST.items()}


@pytest.mark.parametrize("state", ALL_STATES)
def test_range_unblock_pre_states_while_initialized(m, state):
    """tdh_mem_range_unblock.c: NL_BLOCKED -> NL_MAPPED, BLOCKED -> MAPPED, PENDING_BLOCKED -> PENDING; other states ->
    STATE_INCORRECT|RCX (seamcall_sept_state_lookup[39]). While INITIALIZED no TLB tracking is required
    (op_state_lookup.c state_flags_lookup)."""
    level = m.make(state)
    mark = m.mark()
    ret = m.module.tdh_mem_range_unblock(m.tdr, base(GPA, level), level)
    if state in UNBLOCK_POST:
        assert ret == TDX_SUCCESS
        assert_transition(m, mark, GPA, level, state, UNBLOCK_POST[state], "TDH.MEM.RANGE.UNBLOCK")
    else:
        assert ret == TDX_EPT_ENTRY_STATE_INCORRECT | RCX
        assert_untouched(m, mark, GPA, level, state)


@pytest.mark.parametrize("state", BLOCKED)
def test_range_unblock_when_runnable_needs_tlb_tracking(m, state):
    """tdh_mem_range_unblock.c: "if TLB tracking is required (any state except INITIALIZED) and not done ->
    TDX_TLB_TRACKING_NOT_DONE"; helpers.h is_tlb_tracked: tracked once TRACK has moved td_epoch past the BEPOCH that
    BLOCK recorded (no vCPU in the old epoch)."""
    m.make(UNBLOCK_POST[state])
    m.finalize()
    level = 1 if state == "NL_BLOCKED" else 0
    m.block(GPA, level)
    mark = m.mark()
    ret = m.module.tdh_mem_range_unblock(m.tdr, base(GPA, level), level)
    # tdh_mem_range_unblock.c (TDX_1.5.01): "api_error_with_operand_id(TDX_TLB_TRACKING_NOT_DONE, OPERAND_ID_SEPT_TREE)"
    assert ret == TDX_TLB_TRACKING_NOT_DONE | SEPT_TREE == 0xC0000B0800000092
    assert_untouched(m, mark, GPA, level, state)
    assert m.module.tdh_mem_track(m.tdr) == TDX_SUCCESS
    mark = m.mark()
    assert m.module.tdh_mem_range_unblock(m.tdr, base(GPA, level), level) == TDX_SUCCESS
    assert_transition(m, mark, GPA, level, state, UNBLOCK_POST[state], "TDH.MEM.RANGE.UNBLOCK")


def test_track_before_block_does_not_count(m):
    """helpers.h is_tlb_tracked: BLOCK stores the epoch and TRACK must increment it *afterwards*; a TRACK issued before
    the BLOCK leaves the entry untracked."""
    m.sept_path()
    m.add()
    m.finalize()
    assert m.module.tdh_mem_track(m.tdr) == TDX_SUCCESS
    m.block()
    assert m.module.tdh_mem_range_unblock(m.tdr, GPA, 0) == TDX_TLB_TRACKING_NOT_DONE | SEPT_TREE


# == TDH.MEM.PAGE.REMOVE and TDH.PHYMEM.PAGE.WBINVD (tdh_mem_page_remove.c) ============================================

REMOVABLE = ("MAPPED", "BLOCKED", "PENDING", "PENDING_BLOCKED")


@pytest.mark.parametrize("state", LEAF_WALK_ENDS)
def test_page_remove_pre_states_while_initialized(m, state):
    """tdh_mem_page_remove.c: MAPPED, BLOCKED, PENDING, PENDING_BLOCKED -> FREE; page PT_REG -> PT_NDA; CHLDCNT -= 1.
    "In INITIALIZED (before finalize) a MAPPED page can be removed directly." FREE -> STATE_INCORRECT|RCX; a walk
    that stops above the leaf -> TDX_EPT_WALK_FAILED."""
    level = m.make(state)
    page = m.td.sept_pfn.get((0, GPA))
    count, mark = m.td.chldcnt, m.mark()
    ret = m.module.tdh_mem_page_remove(m.tdr, GPA)
    if state in REMOVABLE:
        assert ret == TDX_SUCCESS
        assert_transition(m, mark, GPA, 0, state, "FREE", "TDH.MEM.PAGE.REMOVE")
        # The module only takes the page back to PT_NDA under KeyID 0; whose page it is then is its allocator's
        # (guest_memfd, for KVM), which this module-level test does not have: the host's here.
        assert (m.pt(page), m.owner(page), m.mem.frames[page].keyid) == (PT_NDA, "host", 0)
        assert m.td.chldcnt == count - 1
        return
    if level:
        assert ret & STATUS_MASK == TDX_EPT_WALK_FAILED
    else:
        assert ret == TDX_EPT_ENTRY_STATE_INCORRECT | RCX
    assert_untouched(m, mark, GPA, level, {"NL_BLOCKED_ABOVE": "NL_BLOCKED", "MISSING_LEVEL": "FREE"}.get(state, state))


@pytest.mark.parametrize("state", REMOVABLE)
def test_page_remove_when_runnable_needs_block_and_track(m, state):
    """tdh_mem_page_remove.c once OP_STATE needs TLB tracking (RUNNABLE): the entry must be *BLOCKED, else
    TDX_GPA_RANGE_NOT_BLOCKED; and tracked, else TDX_TLB_TRACKING_NOT_DONE (helpers.h is_tlb_tracked). The canonical
    sequence BLOCK, TRACK, REMOVE then succeeds (tdx.c tdx_sept_remove_leaf_spte's order)."""
    m.make(state)
    m.finalize()
    page = m.td.sept_pfn[(0, GPA)]
    mark = m.mark()
    ret = m.module.tdh_mem_page_remove(m.tdr, GPA)
    # tdh_mem_page_remove.c (TDX_1.5.01): "api_error_with_operand_id(TDX_GPA_RANGE_NOT_BLOCKED, OPERAND_ID_RCX)" and
    # "api_error_with_operand_id(TDX_TLB_TRACKING_NOT_DONE, OPERAND_ID_RCX)".
    if state in ("MAPPED", "PENDING"):
        assert ret == TDX_GPA_RANGE_NOT_BLOCKED | RCX == 0xC0000B0600000001
        assert_untouched(m, mark, GPA, 0, state)
        m.block()
        state = BLOCK_POST[state]
    else:
        assert ret == TDX_TLB_TRACKING_NOT_DONE | RCX == 0xC0000B0800000001
        assert_untouched(m, mark, GPA, 0, state)
    mark = m.mark()
    assert m.module.tdh_mem_page_remove(m.tdr, GPA) == TDX_TLB_TRACKING_NOT_DONE | RCX
    assert_untouched(m, mark, GPA, 0, state)
    assert m.module.tdh_mem_track(m.tdr) == TDX_SUCCESS
    mark = m.mark()
    assert m.module.tdh_mem_page_remove(m.tdr, GPA) == TDX_SUCCESS
    assert_transition(m, mark, GPA, 0, state, "FREE", "TDH.MEM.PAGE.REMOVE")
    assert m.pt(page) == PT_NDA


def test_removed_page_comes_back_without_the_td_plaintext(m):
    """pamt_manager.h: a page leaving the TD returns to PT_NDA; its plaintext existed only under the TD's key, so the
    host's KeyID-0 view does not show it ("zeros / garbage, never plaintext"); tdh_phymem_page_wbinvd.c: WBINVD works on
    the PT_NDA page."""
    m.sept_path()
    page = m.add(data=DATA)
    assert m.mem.read(page, keyid=0) != DATA
    assert m.module.tdh_mem_page_remove(m.tdr, GPA) == TDX_SUCCESS
    assert (m.pt(page), m.owner(page), m.mem.frames[page].keyid) == (PT_NDA, "host", 0)
    assert m.mem.read(page) != DATA
    assert m.module.tdh_phymem_page_wbinvd(page) == TDX_SUCCESS


@pytest.mark.parametrize("kind", ["REG", "EPT", "TDCX"])
def test_phymem_page_wbinvd_refuses_a_page_the_module_still_owns(m, kind):
    """tdh_phymem_page_wbinvd.c: TDH.PHYMEM.PAGE.WBINVD "works on a page that is already PT_NDA"
    (tdh_phymem_page_wbinvd.c L58-75); a page still assigned to the TD is refused and keeps its type."""
    pages = m.sept_path()
    page = {"REG": lambda: m.add(), "EPT": lambda: pages[-1], "TDCX": lambda: m.td.tdcs[0]}[kind]()
    pt = m.pt(page)
    ret = m.module.tdh_phymem_page_wbinvd(page)
    assert ret >> 63
    assert m.pt(page) == pt


def test_phymem_page_wbinvd_on_a_host_page_succeeds(m):
    """tdh_phymem_page_wbinvd.c: a PT_NDA page is accepted."""
    assert m.module.tdh_phymem_page_wbinvd(m.page()) == TDX_SUCCESS


# == TDH.MEM.SEPT.REMOVE (tdh_mem_sept_remove.c) =======================================================================


@pytest.mark.parametrize("state", ["FREE", "NL_MAPPED", "NL_BLOCKED"])
def test_sept_remove_pre_states_while_initialized(m, state):
    """tdh_mem_sept_remove.c: NL_MAPPED or NL_BLOCKED -> FREE (SEPTE_INIT_VALUE); the S-EPT page PT_EPT -> PT_NDA;
    CHLDCNT -= 1; allowed from INITIALIZED without blocking (tlb_tracking_required = 0, op_state_lookup.c). Other
    states ->
    STATE_INCORRECT|RCX (seamcall_sept_state_lookup[30]; tdh_mem_sept_remove.c "Wrong state ... with the operand id
    (RCX = 1)")."""
    if state == "FREE":
        m.sept_path(down_to=2)
        table = None
    else:
        table = m.sept_path()[-1]  # the level-1 entry's S-EPT page (a table of 4 KiB entries, all FREE)
        if state == "NL_BLOCKED":
            m.block(GPA, 1)
    count, mark = m.td.chldcnt, m.mark()
    ret = m.module.tdh_mem_sept_remove(m.tdr, base(GPA, 1), 1)
    if state == "FREE":
        assert ret == TDX_EPT_ENTRY_STATE_INCORRECT | RCX
        assert_untouched(m, mark, GPA, 1, "FREE")
        return
    assert ret == TDX_SUCCESS
    assert_transition(m, mark, GPA, 1, state, "FREE", "TDH.MEM.SEPT.REMOVE")
    assert (m.pt(table), m.owner(table)) == (PT_NDA, "host")
    assert m.td.chldcnt == count - 1


@pytest.mark.parametrize("child", LEAF_STATES)
def test_sept_remove_needs_every_child_free(m, child):
    """tdh_mem_sept_remove.c: "child page must be all FREE -> TDX_EPT_PAGE_NOT_FREE" (0xC0000B0E00000000); once the
    child leaf is removed (PAGE.REMOVE, allowed directly while INITIALIZED) the table can go."""
    m.make(child, GPA + PAGE)  # a leaf in the level-1 table that also covers GPA
    table = m.td.sept_pfn[(1, base(GPA, 1))]
    mark = m.mark()
    ret = m.module.tdh_mem_sept_remove(m.tdr, base(GPA, 1), 1)
    # tdh_mem_sept_remove.c (TDX_1.5.01): "api_error_with_operand_id(TDX_EPT_PAGE_NOT_FREE, OPERAND_ID_RCX)"
    assert ret == TDX_EPT_PAGE_NOT_FREE | RCX == 0xC0000B0E00000001
    assert_untouched(m, mark, GPA, 1, "NL_MAPPED")
    assert m.pt(table) == PT_EPT
    assert m.module.tdh_mem_page_remove(m.tdr, GPA + PAGE) == TDX_SUCCESS
    assert m.module.tdh_mem_sept_remove(m.tdr, base(GPA, 1), 1) == TDX_SUCCESS
    assert m.pt(table) == PT_NDA


def test_sept_remove_when_runnable_needs_block_and_track(m):
    """tdh_mem_sept_remove.c: "blocked and tracked once running (same errors as REMOVE)": NL_MAPPED ->
    TDX_GPA_RANGE_NOT_BLOCKED; NL_BLOCKED before TRACK -> TDX_TLB_TRACKING_NOT_DONE; after TRACK it goes (helpers.h
    is_tlb_tracked)."""
    table = m.sept_path()[-1]
    m.finalize()
    mark = m.mark()
    ret = m.module.tdh_mem_sept_remove(m.tdr, base(GPA, 1), 1)
    # tdh_mem_sept_remove.c (TDX_1.5.01): TDX_GPA_RANGE_NOT_BLOCKED and TDX_TLB_TRACKING_NOT_DONE, each OPERAND_ID_RCX
    assert ret == TDX_GPA_RANGE_NOT_BLOCKED | RCX
    assert_untouched(m, mark, GPA, 1, "NL_MAPPED")
    m.block(GPA, 1)
    mark = m.mark()
    ret = m.module.tdh_mem_sept_remove(m.tdr, base(GPA, 1), 1)
    assert ret == TDX_TLB_TRACKING_NOT_DONE | RCX
    assert_untouched(m, mark, GPA, 1, "NL_BLOCKED")
    assert m.module.tdh_mem_track(m.tdr) == TDX_SUCCESS
    mark = m.mark()
    assert m.module.tdh_mem_sept_remove(m.tdr, base(GPA, 1), 1) == TDX_SUCCESS
    assert_transition(m, mark, GPA, 1, "NL_BLOCKED", "FREE", "TDH.MEM.SEPT.REMOVE")
    assert m.pt(table) == PT_NDA


# == TDG.MEM.PAGE.ACCEPT (tdg_mem_page_accept.c) =======================================================================


@pytest.mark.parametrize("state", LEAF_WALK_ENDS)
def test_page_accept_outcomes(m, state):
    """tdg_mem_page_accept.c (tdg_mem_page_accept.c L48-131, L194-225): PENDING -> MAPPED with the page zeroed under the
    TD key; already MAPPED -> TDX_PAGE_ALREADY_ACCEPTED (success class); FREE, BLOCKED, PENDING_BLOCKED or a missing
    path -> no error code, an EPT-violation TD exit to the VMM. The guest runs only once RUNNABLE."""
    level = m.make(state)
    m.finalize()
    page = m.td.sept_pfn.get((0, GPA))
    if page is not None:
        m.mem.write(page, 0, b"stale")
    mark = m.mark()
    code, ept_violation = m.module.tdg_mem_page_accept(m.tdr, GPA)
    if state == "PENDING":
        assert (code, ept_violation) == (TDX_SUCCESS, False)
        assert_transition(m, mark, GPA, 0, "PENDING", "MAPPED", "TDG.MEM.PAGE.ACCEPT")
        assert bytes(m.mem.view(page)) == bytes(PAGE)
    elif state == "MAPPED":
        assert (code, ept_violation) == (TDX_PAGE_ALREADY_ACCEPTED, False)
        assert not code >> 63
        assert_untouched(m, mark, GPA, 0, "MAPPED")
    else:
        assert ept_violation
        assert_untouched(
            m, mark, GPA, level, {"NL_BLOCKED_ABOVE": "NL_BLOCKED", "MISSING_LEVEL": "FREE"}.get(state, state)
        )


# == MRTD (sha384.h, tests/data/mrtd-vectors.json) =====================================================================


def test_mrtd_record_layout_matches_the_worked_examples():
    """sha384.h record: 16-byte zero-padded tag, GPA u64 little-endian at 16, zeros to 128
    (tests/data/mrtd-vectors.json)."""
    add = mrtd.record(b"MEM.PAGE.ADD", 0x1000)
    ext = mrtd.record(b"MR.EXTEND", 0x1100)
    assert len(add) == len(ext) == WORKED["record_layout"]["size"]
    assert add[:32].hex() == VECTORS[1]["first_record_hex_first32"]
    assert ext[:32].hex() == VECTORS[2]["second_extend_record_hex_first32"]
    assert add[24:] == bytes(104) and ext[24:] == bytes(104)


def test_mrtd_of_nothing_measured():
    """tests/data/mrtd-vectors.json vector 1: FINALIZE with nothing added is SHA-384 of the empty message."""
    m = Machine().build()
    m.finalize()
    assert m.td.mrtd.hex() == VECTORS[0]["mrtd"]


@pytest.mark.parametrize("content", [DATA, bytes(PAGE), b"\xff" * PAGE], ids=["range", "zeros", "ones"])
def test_mrtd_of_one_page_add(content):
    """Vector 2: one PAGE.ADD at GPA 0x1000, no extend. tdh_mr_extend.c, tdh_mr_finalize.c: PAGE.ADD hashes the GPA
    only, not the contents."""
    m = Machine().build()
    m.sept_path(0x1000)
    m.add(0x1000, content)
    m.finalize()
    assert m.td.mrtd.hex() == VECTORS[1]["mrtd"]


def test_mrtd_of_page_add_and_sixteen_extends():
    """Vector 3: PAGE.ADD at 0x1000 of bytes(range(256))*16, then MR.EXTEND at 0x1000, 0x1100, ... 0x1F00."""
    m = Machine().build()
    m.sept_path(0x1000)
    m.add(0x1000, DATA)
    for i in range(16):
        assert m.module.tdh_mr_extend(m.tdr, 0x1000 + i * 256) == TDX_SUCCESS
    m.finalize()
    assert m.td.mrtd.hex() == VECTORS[2]["mrtd"]


def _records(calls: list[tuple[str, int, bytes]]) -> str:
    """An independent replay of tdh_mr_extend.c, tdh_mr_finalize.c: SHA-384 over the records (and MR.EXTEND chunks) in
    call order."""
    h = hashlib.sha384()
    for tag, gpa, chunk in calls:
        h.update(tag.encode().ljust(16, b"\0") + gpa.to_bytes(8, "little") + bytes(104) + chunk)
    return h.hexdigest()


@pytest.mark.parametrize("in_place", [False, True], ids=["copy", "in-place"])
def test_mrtd_ignores_the_source_and_hashes_the_target_after_the_copy(in_place):
    """tdh_mr_extend.c, tdh_mr_finalize.c: "the source HPA does not" matter; MR.EXTEND hashes the TD page after the ADD
    copy (tdh_mem_page_add.c: MRTD is unaffected by where the source lies). Two pages, order ADD(p0) EXT(p0)x2 ADD(p1):
    single-pass order."""
    m = Machine().build()
    m.sept_path(0)
    for gpa, data in ((0, DATA), (PAGE, DATA[::-1])):
        page = m.page(data)
        source = page if in_place else m.page(data)
        assert m.module.tdh_mem_page_add(m.tdr, gpa, page, source) == TDX_SUCCESS
        if gpa == 0:
            for i in range(2):
                assert m.module.tdh_mr_extend(m.tdr, i * 256) == TDX_SUCCESS
    m.finalize()
    expected = _records(
        [("MEM.PAGE.ADD", 0, b""), ("MR.EXTEND", 0, DATA[:256]), ("MR.EXTEND", 256, DATA[256:512])]
        + [("MEM.PAGE.ADD", PAGE, b"")]
    )
    assert m.td.mrtd.hex() == expected


def test_mrtd_depends_on_call_order():
    """tdh_mr_extend.c, tdh_mr_finalize.c: "Order matters" — ADD(a), ADD(b) and ADD(b), ADD(a) measure differently."""
    digests = []
    for order in ((0, PAGE), (PAGE, 0)):
        m = Machine().build()
        m.sept_path(0)
        for gpa in order:
            m.add(gpa)
        m.finalize()
        digests.append(m.td.mrtd.hex())
        assert digests[-1] == _records([("MEM.PAGE.ADD", g, b"") for g in order])
    assert digests[0] != digests[1]


def test_mrtd_is_not_readable_before_finalize(m):
    """tdh_mr_extend.c, tdh_mr_finalize.c: "Before MR.FINALIZE, MRTD is not readable" (the model keeps it None)."""
    m.sept_path()
    m.add()
    assert m.td.mrtd is None
