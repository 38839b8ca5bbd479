"""The module playground (tdxsim.tdx.playground): SEAMCALLs issued by hand, in the wrong order too, and the module's
answers.

Every expected status and post-state comes from the TDX module's source, intel/tdx-module tag TDX_1.5.01 (branch
tdx_1.5): each test names the file whose check it covers (the SEAMCALL handlers in src/vmm_dispatcher/api_calls/,
TDG.MEM.PAGE.ACCEPT in src/td_dispatcher/vm_exits/, the state tables in include/auto_gen/); quoted phrases paraphrase
that code. Never from running tdxsim. The playground TD is built up to TDH.MNG.INIT plus one initialised vCPU, so
OP_STATE is INITIALIZED until `finalize()` makes it RUNNABLE (tdh_mng_init.c, tdh_mr_finalize.c, op_state_lookup.c).
Levels: 0 is the 4 KiB leaf, 1 the 2 MiB entry above it, 3 the root's entries (GPAW 48).
"""

from __future__ import annotations

import pytest

from tdxsim.tdx.module import PageType
from tdxsim.tdx.playground import Playground
from tdxsim.tdx.sept import SeptState

GPA = 0x1000
OTHER = 0x2000  # a second 4 KiB page under the same level-1 table


def built(gpa: int = GPA, finalize: bool = False) -> Playground:
    """A TD whose `gpa` is MAPPED by PAGE.ADD (after the SEPT.ADDs of its path), finalized if asked."""
    pg = Playground()
    assert pg.map_path(gpa) == ["TDX_SUCCESS"] * 3
    assert pg.page_add(gpa, b"secret") == "TDX_SUCCESS"
    if finalize:
        assert pg.finalize() == "TDX_SUCCESS"
    return pg


def runnable_pending(gpa: int = GPA) -> Playground:
    """A RUNNABLE TD with `gpa` PENDING (AUG after finalize, tdh_mem_page_aug.c)."""
    pg = Playground()
    pg.map_path(gpa)
    assert pg.finalize() == "TDX_SUCCESS"
    assert pg.aug(gpa) == "TDX_SUCCESS"
    return pg


# -- the wrong orders ------------------------------------------------------------------------------------------


def test_page_add_before_sept_add_is_walk_failed():
    """helpers.c lock_sept_check_and_walk_internal: "If the walk stops above the requested level, the result is
    TDX_EPT_WALK_FAILED"."""
    pg = Playground()
    assert pg.page_add(GPA) == "TDX_EPT_WALK_FAILED"
    assert pg.state(GPA) is SeptState.FREE


def test_page_add_with_a_partial_path_is_walk_failed():
    """helpers.c lock_sept_check_and_walk_internal: the walk stops at the first missing level, whichever it is."""
    pg = Playground()
    assert pg.sept_add(0, 3) == "TDX_SUCCESS"
    assert pg.page_add(GPA) == "TDX_EPT_WALK_FAILED"


def test_second_page_add_is_entry_state_incorrect():
    """sept_state_lookup.c (PAGE.ADD allowed pre-state: FREE only) and helpers.c (the walk) ("Wrong state" is
    TDX_EPT_ENTRY_STATE_INCORRECT)."""
    pg = built()
    assert pg.page_add(GPA) == "TDX_EPT_ENTRY_STATE_INCORRECT"
    assert pg.state(GPA) is SeptState.MAPPED


def test_page_add_after_finalize_is_op_state_incorrect():
    """tdh_mem_page_add.c: PAGE.ADD is "INITIALIZED only ... Otherwise TDX_OP_STATE_INCORRECT"."""
    pg = built(finalize=True)
    assert pg.page_add(OTHER) == "TDX_OP_STATE_INCORRECT"


def test_remove_of_mapped_page_of_runnable_td_without_block():
    """tdh_mem_page_remove.c: once OP_STATE needs TLB tracking (RUNNABLE) the entry must be *BLOCKED, "else
    TDX_GPA_RANGE_NOT_BLOCKED"."""
    pg = built(finalize=True)
    assert pg.remove(GPA) == "TDX_GPA_RANGE_NOT_BLOCKED"
    assert pg.state(GPA) is SeptState.MAPPED


def test_remove_of_pending_page_of_runnable_td_without_block():
    """tdh_mem_page_remove.c: the same rule for a PENDING leaf (an allowed pre-state, but not blocked)."""
    pg = runnable_pending()
    assert pg.remove(GPA) == "TDX_GPA_RANGE_NOT_BLOCKED"


def test_block_then_remove_without_track():
    """tdh_mem_page_remove.c ("and tracked -> else TDX_TLB_TRACKING_NOT_DONE") with helpers.h is_tlb_tracked (BLOCK
    stores the epoch, only TRACK moves it on)."""
    pg = built(finalize=True)
    assert pg.block(GPA) == "TDX_SUCCESS"
    assert pg.state(GPA) is SeptState.BLOCKED
    assert pg.remove(GPA) == "TDX_TLB_TRACKING_NOT_DONE"
    assert pg.state(GPA) is SeptState.BLOCKED


def test_track_before_block_does_not_count():
    """helpers.h is_tlb_tracked: the page's BEPOCH is the epoch at BLOCK; a TRACK issued before the BLOCK leaves BEPOCH
    == td_epoch, which is not tracked."""
    pg = built(finalize=True)
    assert pg.track() == "TDX_SUCCESS"
    assert pg.block(GPA) == "TDX_SUCCESS"
    assert pg.remove(GPA) == "TDX_TLB_TRACKING_NOT_DONE"


def test_block_twice_is_already_blocked():
    """tdh_mem_range_block.c: "already blocked -> TDX_GPA_RANGE_ALREADY_BLOCKED (a success-class status)"."""
    pg = built(finalize=True)
    assert pg.block(GPA) == "TDX_SUCCESS"
    assert pg.block(GPA) == "TDX_GPA_RANGE_ALREADY_BLOCKED"
    assert pg.state(GPA) is SeptState.BLOCKED


def test_block_twice_of_pending_is_already_blocked():
    """tdh_mem_range_block.c: PENDING -> PENDING_BLOCKED, and a second BLOCK is TDX_GPA_RANGE_ALREADY_BLOCKED."""
    pg = runnable_pending()
    assert pg.block(GPA) == "TDX_SUCCESS"
    assert pg.state(GPA) is SeptState.PENDING_BLOCKED
    assert pg.block(GPA) == "TDX_GPA_RANGE_ALREADY_BLOCKED"


def test_block_of_free_leaf_is_entry_state_incorrect():
    """tdh_mem_range_block.c ("anything else -> STATE_INCORRECT"); FREE is not in BLOCK's pre-states
    (sept_state_lookup.c)."""
    pg = built(finalize=True)
    assert pg.block(OTHER) == "TDX_EPT_ENTRY_STATE_INCORRECT"


def test_sept_remove_of_table_with_live_child():
    """tdh_mem_sept_remove.c: SEPT.REMOVE's "child page must be all FREE -> TDX_EPT_PAGE_NOT_FREE". Before finalize, so
    the blocked-and-tracked rule (same file) does not apply."""
    pg = built()
    assert pg.sept_remove(0, 1) == "TDX_EPT_PAGE_NOT_FREE"
    assert pg.state(0, 1) is SeptState.NL_MAPPED


def test_sept_remove_once_the_child_is_gone():
    """tdh_mem_page_remove.c, tdh_mem_sept_remove.c: REMOVE the leaf directly (INITIALIZED), then the table goes:
    NL_MAPPED -> FREE and its S-EPT page PT_EPT -> PT_NDA."""
    pg = built()
    assert pg.remove(GPA) == "TDX_SUCCESS"
    table = pg.module.tds[pg.tdr].sept_pfn[(1, 0)]
    assert pg.module.page_type(table) is PageType.PT_EPT
    assert pg.sept_remove(0, 1) == "TDX_SUCCESS"
    assert pg.state(0, 1) is SeptState.FREE
    assert pg.module.page_type(table) is PageType.PT_NDA


def test_sept_remove_of_a_running_td_needs_block():
    """tdh_mem_sept_remove.c: "blocked and tracked once running (same errors as REMOVE)"."""
    pg = Playground()
    pg.map_path(GPA)
    pg.finalize()
    assert pg.sept_remove(0, 1) == "TDX_GPA_RANGE_NOT_BLOCKED"
    assert pg.block(0, 1) == "TDX_SUCCESS"
    assert pg.state(0, 1) is SeptState.NL_BLOCKED
    assert pg.sept_remove(0, 1) == "TDX_TLB_TRACKING_NOT_DONE"
    assert pg.track() == "TDX_SUCCESS"
    assert pg.sept_remove(0, 1) == "TDX_SUCCESS"


def test_unblock_before_track_once_runnable():
    """tdh_mem_range_unblock.c: UNBLOCK "if TLB tracking is required (any state except INITIALIZED) and not done ->
    TDX_TLB_TRACKING_NOT_DONE"."""
    pg = built(finalize=True)
    pg.block(GPA)
    assert pg.unblock(GPA) == "TDX_TLB_TRACKING_NOT_DONE"
    assert pg.state(GPA) is SeptState.BLOCKED
    assert pg.track() == "TDX_SUCCESS"
    assert pg.unblock(GPA) == "TDX_SUCCESS"
    assert pg.state(GPA) is SeptState.MAPPED


def test_unblock_before_finalize_needs_no_track():
    """tdh_mem_range_unblock.c and op_state_lookup.c state_flags_lookup: INITIALIZED has tlb_tracking_required = 0, so
    UNBLOCK undoes the BLOCK directly."""
    pg = built()
    assert pg.block(GPA) == "TDX_SUCCESS"
    assert pg.unblock(GPA) == "TDX_SUCCESS"
    assert pg.state(GPA) is SeptState.MAPPED


def test_unblock_of_unblocked_entry_is_entry_state_incorrect():
    """sept_state_lookup.c (UNBLOCK pre-states: NL_BLOCKED, BLOCKED, PENDING_BLOCKED) and helpers.c (the walk)."""
    pg = built(finalize=True)
    assert pg.unblock(GPA) == "TDX_EPT_ENTRY_STATE_INCORRECT"


def test_accept_twice_is_already_accepted():
    """tdg_mem_page_accept.c (PENDING -> MAPPED) and tdg_mem_page_accept.c (already accessible ->
    TDX_PAGE_ALREADY_ACCEPTED)."""
    pg = runnable_pending()
    assert pg.accept(GPA) == "TDX_SUCCESS"
    assert pg.state(GPA) is SeptState.MAPPED
    assert pg.accept(GPA) == "TDX_PAGE_ALREADY_ACCEPTED"


@pytest.mark.parametrize("how", ["free leaf", "missing path", "blocked", "pending_blocked"])
def test_accept_without_pending_page_is_an_ept_violation(how):
    """tdg_mem_page_accept.c: "FREE, BLOCKED, PENDING_BLOCKED or a missing path -> no error code. The guest takes an
    EPT-violation TD exit"."""
    if how == "free leaf":
        pg = built(finalize=True)
        gpa = OTHER
    elif how == "missing path":
        pg = built(finalize=True)
        gpa = 1 << 30
    elif how == "blocked":
        pg = built(finalize=True)
        pg.block(GPA)
        gpa = GPA
    else:
        pg = runnable_pending()
        pg.block(GPA)
        gpa = GPA
    before = pg.state(gpa)
    assert pg.accept(gpa) == "EPT_VIOLATION_EXIT"
    assert pg.state(gpa) is before


def test_accept_zeroes_the_page():
    """tdg_mem_page_accept.c: ACCEPT makes the page MAPPED, "the page is zeroed with the TD key first"."""
    pg = Playground()
    pg.map_path(GPA)
    pg.finalize()
    pg.aug(GPA)
    page = pg.pages[GPA]
    pg.mem.write(page, 0, b"stale bytes")
    assert pg.accept(GPA) == "TDX_SUCCESS"
    assert bytes(pg.mem.view(page)[:11]) == bytes(11)


# -- the right orders ----------------------------------------------------------------------------------------------


def test_canonical_unmap_of_a_running_td():
    """tdh_mem_range_block.c, tdh_mem_track.c, tdh_mem_page_remove.c: BLOCK (-> BLOCKED), TRACK, PAGE.REMOVE (-> FREE,
    page -> PT_NDA)."""
    pg = built(finalize=True)
    page = pg.pages[GPA]
    assert pg.module.page_type(page) is PageType.PT_REG
    assert [pg.block(GPA), pg.track(), pg.remove(GPA)] == ["TDX_SUCCESS"] * 3
    assert pg.state(GPA) is SeptState.FREE
    assert pg.module.page_type(page) is PageType.PT_NDA


def test_remove_before_finalize_needs_no_block():
    """tdh_mem_page_remove.c: "In INITIALIZED (before finalize) a MAPPED page can be removed directly"."""
    pg = built()
    assert pg.remove(GPA) == "TDX_SUCCESS"
    assert pg.state(GPA) is SeptState.FREE


def test_aug_then_accept_then_remove_pending_blocked():
    """tdh_mem_page_aug.c (AUG: FREE -> PENDING, PT_REG), tdh_mem_range_block.c (PENDING -> PENDING_BLOCKED),
    tdh_mem_page_remove.c (REMOVE of PENDING_BLOCKED once tracked)."""
    pg = runnable_pending()
    assert pg.state(GPA) is SeptState.PENDING
    assert pg.module.page_type(pg.pages[GPA]) is PageType.PT_REG
    assert pg.block(GPA) == "TDX_SUCCESS"
    assert pg.track() == "TDX_SUCCESS"
    assert pg.remove(GPA) == "TDX_SUCCESS"
    assert pg.state(GPA) is SeptState.FREE


def test_aug_of_a_mapped_page_is_entry_state_incorrect():
    """sept_state_lookup.c (AUG pre-states FREE, REMOVED) and helpers.c (the walk)."""
    pg = built(finalize=True)
    assert pg.aug(GPA) == "TDX_EPT_ENTRY_STATE_INCORRECT"


def test_aug_before_finalize_is_allowed_by_the_module():
    """tdh_mem_page_aug.c: "The module itself does not require finalize" (AUG-after-finalize is KVM's policy)."""
    pg = Playground()
    pg.map_path(GPA)
    assert pg.aug(GPA) == "TDX_SUCCESS"
    assert pg.state(GPA) is SeptState.PENDING


def test_track_increments_the_epoch():
    """tdh_mem_track.c: TRACK "increments TDCS td_epoch"."""
    pg = built(finalize=True)
    td = pg.module.tds[pg.tdr]
    epoch = td.td_epoch
    assert pg.track() == "TDX_SUCCESS"
    assert td.td_epoch == epoch + 1


def test_reclaim_is_refused_while_the_td_lives() -> None:
    """tdh_phymem_page_reclaim.c: RECLAIM needs the owner TDR in TD_TEARDOWN, else TDX_LIFECYCLE_STATE_INCORRECT; a
    PT_NDA page is TDX_PAGE_METADATA_INCORRECT."""
    pg = Playground()
    pg.map_path(0x1000)
    assert pg.page_add(0x1000) == "TDX_SUCCESS"
    assert pg.reclaim(0x1000) == "TDX_LIFECYCLE_STATE_INCORRECT"
    assert pg.remove(0x1000) == "TDX_SUCCESS"
    assert pg.reclaim(0x1000) == "TDX_PAGE_METADATA_INCORRECT"
