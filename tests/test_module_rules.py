"""TDX module rules that the conformance tests reached only one way: each test below fails if the rule it names were
broken (they were found by mutation testing, tools/mutation). Expected values come from the sources: MRTD records
(intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, tdh_mr_extend.c; replayed independently by tests/mrtd_replay.py),
status codes and operand ids (intel/tdx-module TDX_1.5.01 include/auto_gen/tdx_error_codes_defs.h,
include/tdx_api_defs.h: OPERAND_ID_RCX = 1).
"""

from __future__ import annotations

import hashlib

import pytest
from mrtd_replay import record
from scenario_helpers import mrtd

from tdxsim.tdx.playground import Playground
from tdxsim.tdx.sept import SeptState

GPA = 0x1000
PAGE_SIZE = 4096
DATA = bytes(range(256)) * 16
PAGE_METADATA_INCORRECT_RCX = 0xC000030000000000 | 1


def added(data: bytes = DATA) -> Playground:
    pg = Playground()
    assert pg.map_path(GPA) == ["TDX_SUCCESS"] * 3
    assert pg.page_add(GPA, data) == "TDX_SUCCESS"
    return pg


def test_mr_extend_measures_the_same_on_the_checked_path() -> None:
    """TDH.MR.EXTEND hashes its record and the 256 bytes at `gpa` of the page the leaf maps (tdh_mr_extend.c), however
    the simulator reaches it: with a `tdx_error` pending on another leaf every extend takes the checked path."""
    pg = added()
    pg.module.inject("TDH.MEM.TRACK", "TDX_OPERAND_BUSY", 1)  # pending, never consumed: forces the checked path
    assert [pg.mr_extend(GPA + i * 256) for i in range(16)] == ["TDX_SUCCESS"] * 16
    assert pg.finalize() == "TDX_SUCCESS"
    assert pg.module.tds[pg.tdr].mrtd.hex() == mrtd([(GPA, DATA)])


def test_mr_extend_of_one_chunk_inside_the_page() -> None:
    """The chunk at offset 0x300 of the page: its record names GPA + 0x300 and the bytes are DATA[0x300:0x400]."""
    for checked in (False, True):
        pg = added()
        if checked:
            pg.module.inject("TDH.MEM.TRACK", "TDX_OPERAND_BUSY", 1)
        assert pg.mr_extend(GPA + 0x300) == "TDX_SUCCESS"
        assert pg.finalize() == "TDX_SUCCESS"
        expected = hashlib.sha384(
            record(b"MEM.PAGE.ADD", GPA) + record(b"MR.EXTEND", GPA + 0x300) + DATA[0x300:0x400]
        ).hexdigest()
        assert pg.module.tds[pg.tdr].mrtd.hex() == expected, checked


def test_leaf_pfn_covers_every_address_of_the_page() -> None:
    pg = added()
    assert pg.module.leaf_pfn(pg.tdr, GPA + 0x123) == pg.module.leaf_pfn(pg.tdr, GPA) == pg.pages[GPA]
    assert pg.module.leaf_state(pg.tdr, GPA + 0xFFF) is SeptState.MAPPED


def test_vp_wr_needs_a_tdvpr() -> None:
    """TDH.VP.WR checks RCX as a PT_TDVPR page (tdh_vp_wr.c: check_and_lock_explicit_4k_private_hpa(..., PT_TDVPR)):
    an ordinary page or a TD page of another type is TDX_PAGE_METADATA_INCORRECT|RCX."""
    pg = added()
    host_page = pg.mem.alloc()
    assert pg.module.tdh_vp_wr(host_page, "POSTED_INT", 0) == PAGE_METADATA_INCORRECT_RCX
    assert pg.module.tdh_vp_wr(pg.pages[GPA], "POSTED_INT", 0) == PAGE_METADATA_INCORRECT_RCX  # PT_REG
    tdvpr = next(iter(pg.module.tds[pg.tdr].vps))
    assert pg.module.tdh_vp_wr(tdvpr, "POSTED_INT", 0) == 0


# -- TDH.MEM.SEPT.REMOVE (tdh_mem_sept_remove.c): verify_page_info_input(gpa_mappings, LVL_PD, eptp.ept_pwl), so the
# level is 1 (PD) up to the EPT's page-walk level (3 for a 4-level S-EPT, GPAW 48), else TDX_OPERAND_INVALID|RCX;
# the child table must be all FREE, else TDX_EPT_PAGE_NOT_FREE (tdh_mem_sept_remove.c). A level-1 entry covers 2 MiB.


def test_sept_remove_levels_from_pd_up_to_the_root_entries() -> None:
    pg = Playground()
    assert pg.map_path(0) == ["TDX_SUCCESS"] * 3
    assert pg.sept_remove(0, 0) == "TDX_OPERAND_INVALID"  # a 4 KiB leaf is not an S-EPT page
    assert pg.sept_remove(0, 4) == "TDX_OPERAND_INVALID"  # above a 4-level S-EPT's root entries
    assert [pg.sept_remove(0, level) for level in (1, 2, 3)] == ["TDX_SUCCESS"] * 3  # bottom-up, each now empty
    assert [pg.state(0, level) for level in (1, 2, 3)] == [SeptState.FREE] * 3


def test_sept_remove_looks_only_at_its_own_child_table() -> None:
    """Two neighbouring level-1 tables, [0, 2 MiB) empty and [2 MiB, 4 MiB) holding a page at its first GPA: the
    first can go, the second cannot."""
    pg = Playground()
    assert pg.map_path(0) == ["TDX_SUCCESS"] * 3
    assert pg.sept_add(0x200000, 1) == "TDX_SUCCESS"
    assert pg.page_add(0x200000, b"neighbour") == "TDX_SUCCESS"
    assert pg.sept_remove(0x200000, 1) == "TDX_EPT_PAGE_NOT_FREE"
    assert pg.sept_remove(0, 1) == "TDX_SUCCESS"


def test_mr_extend_with_an_unknown_tdr() -> None:
    """The TDR operand of TDH.MR.EXTEND is RDX (tdh_mr_extend.c: check_lock_and_map_explicit_tdr(tdr_pa,
    OPERAND_ID_RDX, ...)); a page that is not a TDR is TDX_PAGE_METADATA_INCORRECT|RDX."""
    pg = added()
    not_a_tdr = pg.mem.alloc()
    assert pg.module.tdh_mr_extend(not_a_tdr, GPA) == 0xC000030000000000 | 2


def test_is_busy_is_the_operand_busy_class_whatever_the_operand() -> None:
    """KVM's tdx_operand_busy(): (err & TDX_SEAMCALL_STATUS_MASK) == TDX_OPERAND_BUSY (0x8000020000000000)."""
    from tdxsim.tdx.status import is_busy

    assert is_busy(0x8000020000000000) and is_busy(0x8000020000000000 | 0x92)
    assert not is_busy(0xC000010000000000) and not is_busy(0)


# -- the playground's own helpers -----------------------------------------------------------------------------------


def test_playground_page_add_copies_the_data_to_the_start_of_the_page() -> None:
    pg = added(b"abc")
    assert bytes(pg.mem.view(pg.pages[GPA])[:4]) == b"abc\0"
    pg2 = Playground()
    pg2.map_path(GPA)
    assert pg2.page_add(GPA) == "TDX_SUCCESS"
    assert not any(pg2.mem.view(pg2.pages[GPA]))  # no data: a zero page


def test_playground_state_reads_every_level() -> None:
    """After the SEPT.ADDs of a path, the entries at levels 3, 2 and 1 are NL_MAPPED (tdh_mem_sept_add.c)."""
    pg = Playground()
    pg.map_path(GPA)
    assert [pg.state(GPA, level) for level in (3, 2, 1, 0)] == [SeptState.NL_MAPPED] * 3 + [SeptState.FREE]
    assert pg.state(0x200000, 1) is SeptState.FREE  # the next 2 MiB has no table yet


# -- more rules the first mutation run showed untested -------------------------------------------------------------


def test_tdx_error_fails_exactly_count_calls() -> None:
    """scenario.md `tdx_error`: the next `count` calls of the leaf fail with the status, then it works again."""
    pg = Playground()
    pg.map_path(GPA)
    pg.finalize()
    pg.module.inject("TDH.MEM.PAGE.AUG", "TDX_OPERAND_BUSY", 2)
    assert [pg.aug(GPA) for _ in range(3)] == ["TDX_OPERAND_BUSY", "TDX_OPERAND_BUSY", "TDX_SUCCESS"]


def test_success_count_counts_successes_only() -> None:
    """`tdxsim mrtd --json` reports how many calls of each leaf succeeded (TdxModule.success_count)."""
    pg = added()
    assert pg.page_add(GPA, DATA) == "TDX_EPT_ENTRY_STATE_INCORRECT"  # the leaf is MAPPED already
    assert pg.module.success_count("TDH.MEM.PAGE.ADD") == 1


def test_keyids_of_the_pages_the_module_takes() -> None:
    """arch/x86/virt/vmx/tdx/tdx.c (tdx_global_keyid): the TDR is encrypted with the module's global private KeyID
    (16 here); S-EPT pages and TD private pages (PAGE.ADD and PAGE.AUG targets) with the TD's HKID."""
    pg = added()
    hkid = pg.module.tds[pg.tdr].hkid
    assert pg.mem.frames[pg.tdr].keyid == 16
    sept_pages = [pfn for pfn, (pt, _) in pg.module.pamt.items() if pt.value == "PT_EPT"]
    assert sept_pages and {pg.mem.frames[p].keyid for p in sept_pages} == {hkid}
    assert pg.mem.frames[pg.pages[GPA]].keyid == hkid
    pg.finalize()
    assert pg.aug(GPA + PAGE_SIZE) == "TDX_SUCCESS"
    assert pg.mem.frames[pg.pages[GPA + PAGE_SIZE]].keyid == hkid


def test_page_add_records_its_source_page_as_data() -> None:
    """TDH.MEM.PAGE.ADD copies the page at R9 into the target (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c), and
    nothing compares source with target (source == target is the in-place add). The frame records the source pfn;
    docs/scenario.md final.pages `contents` says "PAGE.ADD copy of pfn 0x…" or "in-place PAGE.ADD (source = target)"
    and `page_add_source` gives the source page's address (the ownership figure reads that)."""
    pg = added()
    page = pg.pages[GPA]
    source = pg.mem.frames[page].source_pfn
    assert source is not None and source != page and bytes(pg.mem.view(source)[:16]) == DATA[:16]
    assert pg.mem.frames[page].contents == f"PAGE.ADD copy of pfn {source:#x}"
    target = pg.mem.alloc()
    pg.mem.write(target, 0, b"in place")
    assert pg.module.tdh_mem_page_add(pg.tdr, GPA + PAGE_SIZE, target, target) == 0
    assert pg.mem.frames[target].source_pfn == target
    assert pg.mem.frames[target].contents == "in-place PAGE.ADD (source = target)"
    # New contents written later (TDG.MEM.PAGE.ACCEPT zeroes, a write names its origin) are no longer the copy.
    pg.mem.clear(target, "zeroed by TDG.MEM.PAGE.ACCEPT")
    assert pg.mem.frames[target].source_pfn is None
    assert pg.mem.frames[target].contents == "zeroed by TDG.MEM.PAGE.ACCEPT"


def test_walks_use_every_level_of_the_gpa() -> None:
    """x86 EPT geometry: the entry at level L covers 4 KiB << 9L; a GPA with index 1 at every level walks four
    different entries (intel/tdx-module TDX_1.5.01 sept_manager.h)."""
    far = (1 << 39) | (1 << 30) | (1 << 21) | (1 << 12)
    pg = Playground()
    assert pg.map_path(far) == ["TDX_SUCCESS"] * 3
    assert pg.page_add(far, b"far") == "TDX_SUCCESS"
    assert pg.mr_extend(far) == "TDX_SUCCESS"
    assert pg.state(far) is SeptState.MAPPED and pg.state(0, 1) is SeptState.FREE


def test_a_blocked_table_stops_mr_extend_whatever_else_changes() -> None:
    """An NL_BLOCKED entry above a leaf makes the walk fail (TDH.MR.EXTEND: TDX_EPT_ENTRY_NOT_PRESENT), also after
    an unrelated S-EPT change elsewhere."""
    pg = added()
    assert pg.block(0, 1) == "TDX_SUCCESS"  # the level-1 entry above GPA 0x1000
    assert pg.sept_add(0x200000, 1) == "TDX_SUCCESS"  # another table, elsewhere
    assert pg.mr_extend(GPA) == "TDX_EPT_ENTRY_NOT_PRESENT"


def test_a_removed_leaf_maps_no_page() -> None:
    pg = added()
    assert pg.remove(GPA) == "TDX_SUCCESS"  # INITIALIZED: no BLOCK needed (tdh_mem_page_remove.c)
    assert pg.module.leaf_pfn(pg.tdr, GPA) is None


@pytest.mark.parametrize(("gpa", "level"), [(0x1800, 0), (0x1000, 1), (0, 5)])
def test_block_and_sept_add_check_the_gpa_and_level(gpa: int, level: int) -> None:
    """verify_page_info_input (tdh_mem_range_block.c, tdh_mem_sept_add.c): the GPA aligned to its level's entry and
    the level within the walk -> else TDX_OPERAND_INVALID|RCX; tdh_mem_page_aug.c likewise for a 4 KiB GPA."""
    pg = added()
    assert pg.block(gpa, level) == "TDX_OPERAND_INVALID"
    if level:
        assert pg.sept_add(gpa, level) == "TDX_OPERAND_INVALID"
    else:
        pg.finalize()
        assert pg.aug(gpa) == "TDX_OPERAND_INVALID"


def test_addcx_takes_only_pt_nda_pages() -> None:
    """TDH.MNG.ADDCX: the new TDCS page must be PT_NDA (tdh_mng_add_cx.c) -> else TDX_PAGE_METADATA_INCORRECT|RCX."""
    from tdxsim.events import Trace
    from tdxsim.physmem import PhysicalMemory
    from tdxsim.tdx.module import TdxModule

    mem = PhysicalMemory(Trace())
    module = TdxModule(mem, mem.trace)
    tdr, page = mem.alloc(), mem.alloc()
    assert module.tdh_mng_create(tdr, 17) == 0 and module.tdh_mng_key_config(tdr) == 0
    assert module.tdh_mng_addcx(tdr, page) == 0
    assert module.tdh_mng_addcx(tdr, page) == PAGE_METADATA_INCORRECT_RCX


# -- the TDR operand, input checks and injected statuses of the leaves KVM uses when it zaps and tears down -----------

OPERAND_INVALID_RCX = 0xC000010000000000 | 1  # TDX_OPERAND_INVALID with OPERAND_ID_RCX
OPERAND_BUSY = 0x8000020000000000  # TDX_OPERAND_BUSY


def test_vpflushdone_and_key_freeid_on_a_page_that_is_not_a_tdr() -> None:
    """tdh_mng_vpflushdone.c and tdh_mng_key_freeid.c (TDX_1.5.01) start with check_lock_and_map_explicit_tdr(tdr_pa,
    OPERAND_ID_RCX, …, PT_TDR, …): a page whose PAMT type is not PT_TDR is TDX_PAGE_METADATA_INCORRECT with operand id
    RCX, and the TD is left as it was (its lifecycle still allows VPFLUSHDONE afterwards)."""
    pg = added()
    page = pg.pages[GPA]  # a PT_REG page of the TD
    assert pg.module.tdh_mng_vpflushdone(page) == PAGE_METADATA_INCORRECT_RCX
    assert pg.module.tdh_mng_key_freeid(page) == PAGE_METADATA_INCORRECT_RCX
    assert pg.module.tdh_mng_vpflushdone(pg.tdr) == 0


def test_range_unblock_of_an_address_that_is_not_the_entry_base() -> None:
    """tdh_mem_range_unblock.c: the GPA and level in RCX go through verify_page_info_input, which wants the GPA aligned
    to the level's page size: otherwise TDX_OPERAND_INVALID with OPERAND_ID_RCX."""
    pg = added()
    assert pg.block(GPA) == "TDX_SUCCESS"
    assert pg.module.tdh_mem_range_unblock(pg.tdr, GPA + 0x800, 0) == OPERAND_INVALID_RCX
    assert pg.module.tdh_mem_range_unblock(pg.tdr, GPA, 1) == OPERAND_INVALID_RCX  # 2 MiB level, GPA not 2 MiB aligned


@pytest.mark.parametrize("leaf", ["TDH.MEM.RANGE.UNBLOCK", "TDH.MNG.VPFLUSHDONE", "TDH.MNG.KEY.FREEID"])
def test_an_injected_status_is_what_the_next_call_of_that_leaf_returns(leaf: str) -> None:
    """docs/scenario.md `tdx_error`: the next `count` calls of the leaf return the status instead of running (as a
    busy module would: TDX_OPERAND_BUSY is what the real module returns when it loses a lock race); other leaves run."""
    pg = added()
    pg.module.inject(leaf, "TDX_OPERAND_BUSY", 1)
    assert pg.block(GPA) == "TDX_SUCCESS"  # another leaf is not affected
    call = {
        "TDH.MEM.RANGE.UNBLOCK": lambda: pg.module.tdh_mem_range_unblock(pg.tdr, GPA, 0),
        "TDH.MNG.VPFLUSHDONE": lambda: pg.module.tdh_mng_vpflushdone(pg.tdr),
        "TDH.MNG.KEY.FREEID": lambda: pg.module.tdh_mng_key_freeid(pg.tdr),
    }[leaf]
    assert call() == OPERAND_BUSY
    assert call() != OPERAND_BUSY  # only once


def test_inject_refuses_what_is_not_a_leaf_an_error_or_a_count() -> None:
    """docs/scenario.md `tdx_error`: `leaf` is a SEAMCALL name, `status` a TDX error status name (TDX_SUCCESS is not
    an error), `count` at least 1; anything else is refused with a clear error before anything runs."""
    pg = added()
    for args in (("TDH.NO.SUCH", "TDX_OPERAND_BUSY", 1), ("TDH.MEM.TRACK", "TDX_SUCCESS", 1),
                 ("TDH.MEM.TRACK", "NOT_A_STATUS", 1), ("TDH.MEM.TRACK", "TDX_OPERAND_BUSY", 0),
                 ("TDH.MEM.TRACK", "TDX_OPERAND_BUSY", 1.5)):  # fmt: skip
        with pytest.raises(ValueError, match=r"^inject: "):  # a clear error that names the call
            pg.module.inject(*args)
    assert pg.track() == "TDX_SUCCESS"  # nothing was left pending


def tdvpr(pg: Playground) -> int:
    (page,) = pg.module.tds[pg.tdr].vps
    return page


@pytest.mark.parametrize(
    ("leaf", "call"),
    [
        ("TDH.MEM.PAGE.REMOVE", lambda pg: pg.module.tdh_mem_page_remove(pg.tdr, GPA)),
        ("TDH.MEM.RANGE.BLOCK", lambda pg: pg.module.tdh_mem_range_block(pg.tdr, GPA, 0)),
        ("TDH.MEM.SEPT.REMOVE", lambda pg: pg.module.tdh_mem_sept_remove(pg.tdr, GPA, 1)),
        ("TDH.MNG.RD", lambda pg: pg.module.tdh_mng_rd(pg.tdr, "TSC_OFFSET")[0]),
        ("TDH.MEM.PAGE.ADD", lambda pg: pg.module.tdh_mem_page_add(pg.tdr, 2 * GPA, pg._page(""), pg._page(""))),
        ("TDH.MEM.PAGE.AUG", lambda pg: pg.module.tdh_mem_page_aug(pg.tdr, 2 * GPA, pg._page(""))),
        ("TDH.MEM.SEPT.ADD", lambda pg: pg.module.tdh_mem_sept_add(pg.tdr, 1 << 30, 2, pg._page(""))),
        ("TDH.MEM.TRACK", lambda pg: pg.module.tdh_mem_track(pg.tdr)),
        ("TDH.MR.EXTEND", lambda pg: pg.module.tdh_mr_extend(pg.tdr, GPA)),
        ("TDH.VP.CREATE", lambda pg: pg.module.tdh_vp_create(pg.tdr, pg._page(""))),
        ("TDH.VP.ADDCX", lambda pg: pg.module.tdh_vp_addcx(tdvpr(pg), pg._page(""))),
        ("TDH.VP.INIT", lambda pg: pg.module.tdh_vp_init(tdvpr(pg), 0)),
        ("TDH.VP.WR", lambda pg: pg.module.tdh_vp_wr(tdvpr(pg), "TSC_OFFSET", 0)),
        ("TDH.PHYMEM.PAGE.WBINVD", lambda pg: pg.module.tdh_phymem_page_wbinvd(pg.pages[GPA])),
        ("TDH.PHYMEM.PAGE.RECLAIM", lambda pg: pg.module.tdh_phymem_page_reclaim(pg.pages[GPA])),
        ("TDH.PHYMEM.CACHE.WB", lambda pg: pg.module.tdh_phymem_cache_wb()),
        ("TDH.MNG.CREATE", lambda pg: pg.module.tdh_mng_create(pg._page(""), 18)),
    ],
)
def test_an_injected_status_replaces_the_call_and_is_recorded_as_made(leaf: str, call) -> None:
    """docs/scenario.md `tdx_error`: the next call of the leaf returns the status; its record (tests/conftest.py checks
    it) names the leaf and carries the call's `gpa` and `level` like any other."""
    pg = added()
    pg.module.inject(leaf, "TDX_OPERAND_BUSY", 1)
    assert call(pg) == OPERAND_BUSY


def test_page_add_and_remove_are_4k_leaf_operations_in_the_record() -> None:
    """tdh_mem_page_add.c and tdh_mem_page_remove.c act on a 4 KiB leaf (level 0 of the S-EPT; the page_info level
    field of PAGE.REMOVE must be 4K): their records (docs/scenario.md `seamcalls`: `level` where it applies) say level
    0."""
    pg = added()
    assert pg.block(GPA) == "TDX_SUCCESS" and pg.track() == "TDX_SUCCESS" and pg.remove(GPA) == "TDX_SUCCESS"
    assert pg.finalize() == "TDX_SUCCESS" and pg.aug(GPA + PAGE_SIZE) == "TDX_SUCCESS"
    levels = {ev.name: ev.data.get("level") for ev in pg.trace.events if ev.kind == "seamcall"}
    assert (levels["TDH.MEM.PAGE.ADD"], levels["TDH.MEM.PAGE.REMOVE"], levels["TDH.MEM.PAGE.AUG"]) == (0, 0, 0)


@pytest.mark.parametrize("checked", [False, True], ids=["fast", "checked"])
def test_the_mr_log_replays_to_the_mrtd_and_counts_what_succeeded(checked: bool) -> None:
    """The log of MRTD extends that `tdxsim mrtd` explains (PAGE.ADD as gpa << 1, MR.EXTEND as gpa << 1 | 1), replayed
    with tdh_mem_page_add.c's and tdh_mr_extend.c's records (tests/mrtd_replay.py), gives the module's MRTD; and the
    success counts are the calls that succeeded: one PAGE.ADD, 16 MR.EXTENDs, no PAGE.AUG."""
    pg = Playground()
    pg.module.mr_log = []
    if checked:  # a status pending on another leaf sends every MR.EXTEND down the checked path
        pg.module.inject("TDH.MEM.TRACK", "TDX_OPERAND_BUSY", 1)
    assert pg.map_path(GPA) == ["TDX_SUCCESS"] * 3
    assert pg.page_add(GPA, DATA) == "TDX_SUCCESS"
    assert [pg.mr_extend(GPA + i * 256) for i in range(16)] == ["TDX_SUCCESS"] * 16
    assert pg.finalize() == "TDX_SUCCESS"
    h = hashlib.sha384()
    for entry in pg.module.mr_log:
        gpa, extend = entry >> 1, entry & 1
        if extend:
            h.update(record(b"MR.EXTEND", gpa) + DATA[gpa - GPA : gpa - GPA + 256])
        else:
            h.update(record(b"MEM.PAGE.ADD", gpa))
    assert h.hexdigest() == pg.module.tds[pg.tdr].mrtd.hex()
    leaves = ("TDH.MEM.PAGE.ADD", "TDH.MR.EXTEND", "TDH.MEM.PAGE.AUG", "TDH.MEM.SEPT.ADD")
    assert [pg.module.success_count(leaf) for leaf in leaves] == [1, 16, 0, 3]  # map_path added three tables


def test_a_playground_with_an_unsupported_gpaw_says_why() -> None:
    """tdh_mng_init.c accepts GPAW 48 or 52 only (the TD's max GPA width, TD_PARAMS.EXEC_CONTROLS.GPAW); the playground
    refuses another with an error that says so."""
    from tdxsim.tdx.playground import PlaygroundError

    with pytest.raises(PlaygroundError, match=r"GPAW 50 failed .*: GPAW is 48 or 52"):
        Playground(gpaw=50)


def test_the_vcpu_and_key_leaves_refuse_a_second_time() -> None:
    """tdh_vp_init.c: a vCPU already initialised (or without its TDCX pages) is TDX_VCPU_STATE_INCORRECT, and so is
    TDH.VP.ADDCX once it is initialised (tdh_vp_addcx.c); tdh_mng_key_config.c: the one package's key is already
    configured, TDX_KEY_CONFIGURED; tdh_vp_create.c: the TDVPR page must be a free (PT_NDA) page, or
    TDX_PAGE_METADATA_INCORRECT with OPERAND_ID_RCX; a TDH.VP.ADDCX whose RCX is no TDVPR likewise."""
    pg = added()
    vcpu_state_incorrect = 0xC000070000000000  # TDX_VCPU_STATE_INCORRECT
    assert pg.module.tdh_vp_init(tdvpr(pg), 0) == vcpu_state_incorrect
    assert pg.module.tdh_vp_addcx(tdvpr(pg), pg._page("")) == vcpu_state_incorrect
    assert pg.module.tdh_mng_key_config(pg.tdr) == 0x0000081500000000  # TDX_KEY_CONFIGURED (tdx_error_codes_defs.h)
    assert pg.module.tdh_mng_key_config(pg.pages[GPA]) == PAGE_METADATA_INCORRECT_RCX
    assert pg.module.tdh_vp_create(pg.tdr, pg.pages[GPA]) == PAGE_METADATA_INCORRECT_RCX
    assert pg.module.tdh_vp_addcx(pg.pages[GPA], pg._page("")) == PAGE_METADATA_INCORRECT_RCX


def test_a_td_with_gpaw_52_has_its_shared_bit_at_51() -> None:
    """tdh_mng_init.c takes GPAW 48 or 52; the shared bit is GPAW - 1 (TDX module spec, "GPA.SHARED"): with GPAW 52 a
    GPA with bit 47 set is an ordinary private GPA that S-EPT tables can map, bit 51 is the shared one."""
    pg = Playground(gpaw=52)
    assert pg.map_path(1 << 47) == ["TDX_SUCCESS"] * 4  # a 5-level S-EPT: four tables below the root
    assert pg.map_path(1 << 50)[-1] == "TDX_SUCCESS"  # bit 50 is below the shared bit too
    assert pg.sept_add(1 << 51, 3) == "TDX_OPERAND_INVALID"


def test_a_source_on_the_first_page_of_seamrr_is_refused() -> None:
    """helpers.c shared_hpa_check (TDX_1.5.01): "Check that the provided HPA is outside SEAMRR" — SEAMRR starts at
    its base, so a source page there is TDX_OPERAND_INVALID, reported by PAGE.ADD on R9 (OPERAND_ID_R9 = 9)."""
    from tdxsim import platform

    pg = Playground()
    assert pg.map_path(GPA) == ["TDX_SUCCESS"] * 3
    ret = pg.module.tdh_mem_page_add(pg.tdr, GPA, pg._page(""), platform.SEAMRR_BASE >> 12)
    assert ret == OPERAND_INVALID_RCX - 1 + 9


def test_track_on_a_page_that_is_not_a_tdr_names_rcx() -> None:
    """tdh_mem_track.c (TDX_1.5.01): the TDR is RCX, checked by check_lock_and_map_explicit_tdr(tdr_pa, OPERAND_ID_RCX,
    …, PT_TDR, …): a page that is not a TDR is TDX_PAGE_METADATA_INCORRECT with operand id RCX."""
    pg = added()
    assert pg.module.tdh_mem_track(pg.pages[GPA]) == PAGE_METADATA_INCORRECT_RCX


EPT_WALK_FAILED_RCX = 0xC0000B0000000000 | 1  # TDX_EPT_WALK_FAILED with OPERAND_ID_RCX


def test_operands_of_the_input_checks() -> None:
    """The operand id each handler passes to api_error_with_operand_id (intel/tdx-module TDX_1.5.01): the GPA and level
    of PAGE.REMOVE, PAGE.AUG and RANGE.BLOCK/UNBLOCK are RCX (verify_page_info_input and the GPA checks:
    TDX_OPERAND_INVALID; a walk that finds no table: TDX_EPT_WALK_FAILED); the TDR of MNG.RD is RCX;
    the page of WBINVD, RECLAIM and MNG.CREATE is RCX (TDX_PAGE_METADATA_INCORRECT)."""
    pg = added()
    m, tdr = pg.module, pg.tdr
    shared = 1 << 47  # the shared bit of a GPAW-48 TD
    assert m.tdh_mem_page_remove(tdr, GPA + 0x800) == OPERAND_INVALID_RCX
    assert m.tdh_mem_page_remove(tdr, shared | GPA) == OPERAND_INVALID_RCX
    assert m.tdh_mem_range_block(tdr, GPA + 0x800, 0) == OPERAND_INVALID_RCX
    assert m.tdh_mem_range_block(tdr, 1 << 40, 0) == EPT_WALK_FAILED_RCX  # no S-EPT table maps that far
    assert m.tdh_mem_range_unblock(tdr, shared | GPA, 0) == OPERAND_INVALID_RCX
    assert m.tdh_mem_page_aug(tdr, GPA + 0x800, pg._page("")) == OPERAND_INVALID_RCX
    # the TDR of SEPT.REMOVE is RDX (arch/x86/virt/vmx/tdx/tdx.c tdh_mem_sept_remove: .rcx = gpa | level, .rdx = TDR)
    assert m.tdh_mem_sept_remove(pg.pages[GPA], GPA, 1) == PAGE_METADATA_INCORRECT_RCX + 1
    assert m.tdh_mng_rd(pg.pages[GPA], "TSC_OFFSET")[0] == PAGE_METADATA_INCORRECT_RCX
    assert m.tdh_phymem_page_wbinvd(pg.pages[GPA]) == PAGE_METADATA_INCORRECT_RCX  # a PT_REG page, not PT_NDA
    assert m.tdh_phymem_page_reclaim(pg._page("")) == PAGE_METADATA_INCORRECT_RCX  # PT_NDA: not the module's
    assert m.tdh_mng_create(pg.pages[GPA], 18) == PAGE_METADATA_INCORRECT_RCX


def test_playground_arguments_it_cannot_use_are_clear_errors() -> None:
    """The playground's own checks: a level outside 0..root and a RECLAIM of a GPA where nothing was added raise
    PlaygroundError with the reason, not a KeyError."""
    from tdxsim.tdx.playground import PlaygroundError

    pg = added()
    with pytest.raises(PlaygroundError, match="level must be 0"):
        pg.state(GPA, 9)
    with pytest.raises(PlaygroundError, match="level must be 0"):
        pg.state(GPA, "1")  # type: ignore[arg-type]
    with pytest.raises(PlaygroundError, match="no page was added"):
        pg.reclaim(2 * GPA)


def test_a_refused_page_add_is_recorded_as_a_4k_leaf_operation() -> None:
    """TDH.MEM.PAGE.ADD acts on a 4 KiB leaf whatever its outcome (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c
    walks to LVL_PT), so its record says level 0 when the module refuses it too (docs/scenario.md `seamcalls`:
    `level` where it applies): an unaligned GPA, a source at or above MAX_PA (R9) and a target that is not PT_NDA
    (R8) all take the checked path."""
    pg = added()
    module, page = pg.module, pg.mem.alloc()
    assert module.tdh_mem_page_add(pg.tdr, GPA + PAGE_SIZE + 8, page, page) != 0
    assert module.tdh_mem_page_add(pg.tdr, GPA + PAGE_SIZE, page, 1 << 40) != 0
    assert module.tdh_mem_page_add(pg.tdr, GPA + PAGE_SIZE, pg.pages[GPA], page) != 0
    refused = [ev for ev in pg.trace.events if ev.kind == "seamcall" and ev.name == "TDH.MEM.PAGE.ADD"][1:]
    assert len(refused) == 3 and all(ev.data.get("level") == 0 for ev in refused)


def test_page_add_from_a_td_private_frame_named_without_its_keyid_reads_zeros() -> None:
    """The source check of TDH.MEM.PAGE.ADD looks at the HKID bits of the address only, never at the frame's KeyID
    (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, helpers.c shared_hpa_check), so a TD-private page named without
    HKID bits passes and is read through KeyID 0. A TD-owned line read through another KeyID returns zeros (Intel
    TDX module base spec, memory integrity: non-TD reads of TD-private memory return all-zero data). The target's
    `contents` (docs/scenario.md final.pages) says which KeyID the copy read through."""
    pg = added()
    private = pg.pages[GPA]  # PT_REG, encrypted under the TD's HKID
    assert pg.mem.frames[private].keyid != 0
    target = pg.mem.alloc()
    assert pg.module.tdh_mem_page_add(pg.tdr, GPA + PAGE_SIZE, target, private) == 0
    assert pg.mem.frames[target].contents == f"PAGE.ADD copy of pfn {private:#x} (read through KeyID 0: zeros)"
    assert pg.mem.frames[target].source_read_keyid == 0


def test_page_add_with_a_page_that_is_not_a_tdr() -> None:
    """TDH.MEM.PAGE.ADD takes the TDR in RDX (RCX carries the GPA): check_lock_and_map_explicit_tdr(tdr_pa,
    OPERAND_ID_RDX, ...) refuses a page that is not a TDR with TDX_PAGE_METADATA_INCORRECT|RDX (intel/tdx-module
    TDX_1.5.01 tdh_mem_page_add.c; include/tdx_api_defs.h: OPERAND_ID_RDX = 2)."""
    pg = added()
    page, source = pg.mem.alloc(), pg.mem.alloc()
    assert pg.module.tdh_mem_page_add(pg.mem.alloc(), GPA + PAGE_SIZE, page, source) == 0xC000030000000000 | 2


def test_page_add_and_mr_extend_once_the_td_is_blocked() -> None:
    """After TDH.MNG.VPFLUSHDONE the TD's lifecycle is TD_BLOCKED (tdh_mng_vpflushdone.c), also while OP_STATE is
    still INITIALIZED; every TDCS-using leaf then fails check_td_in_correct_build_state with
    TDX_TD_KEYS_NOT_CONFIGURED (intel/tdx-module TDX_1.5.01 helpers.c)."""
    pg = added()
    assert pg.module.tdh_mng_vpflushdone(pg.tdr) == 0
    assert pg.page_add(GPA + PAGE_SIZE, DATA) == "TDX_TD_KEYS_NOT_CONFIGURED"
    assert pg.mr_extend(GPA) == "TDX_TD_KEYS_NOT_CONFIGURED"


def test_page_add_walks_through_the_tables_of_its_own_gpa() -> None:
    """PAGE.ADD walks the S-EPT from the root to the 4 KiB leaf of its GPA (lock_sept_check_and_walk_private_gpa);
    a FREE or NL_BLOCKED entry on that way, whatever the entries elsewhere, stops the walk: TDX_EPT_WALK_FAILED|RCX
    (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, helpers.c lock_sept_check_and_walk_internal). Here the only
    level-1 table covers 4 MiB to 6 MiB: the neighbouring 2 MiB ranges below and above have none, and once the
    level-2 entry above it is blocked, neither has the page under it."""
    pg = Playground()
    assert pg.map_path(0x400000) == ["TDX_SUCCESS"] * 3
    assert pg.page_add(0x200000, DATA) == "TDX_EPT_WALK_FAILED"
    assert pg.page_add(0x800000, DATA) == "TDX_EPT_WALK_FAILED"
    assert pg.page_add(0x400000, DATA) == "TDX_SUCCESS"
    assert pg.block(0, 2) == "TDX_SUCCESS"  # the level-2 entry above 0x400000; the level-1 entry stays NL_MAPPED
    assert pg.state(0x400000, 1) is SeptState.NL_MAPPED
    assert pg.page_add(0x401000, DATA) == "TDX_EPT_WALK_FAILED"


def test_mr_extend_measures_the_page_at_its_own_gpa() -> None:
    """TDH.MR.EXTEND hashes a record with its GPA and the 256 bytes at that GPA (intel/tdx-module TDX_1.5.01
    tdh_mr_extend.c): with four pages added before any is measured (GPA 0, 0x1000, 0x2000 never written, so zeros,
    and 64 GiB, whose page number is 0x1000 << 12), measured page after page in an order that goes back and forth
    and then one chunk of 0x1000 and one of 64 GiB, the MRTD is the replay of exactly those records
    (tests/mrtd_replay.py record, sha384 as TDH.MR.FINALIZE reads it)."""
    far = 1 << 36
    pages = {0: DATA[::-1], 0x1000: DATA, 0x2000: b"", far: DATA[128:] + DATA[:128]}
    pg = Playground()
    assert pg.map_path(0) == ["TDX_SUCCESS"] * 3
    assert [pg.sept_add(far, 2), pg.sept_add(far, 1)] == ["TDX_SUCCESS"] * 2  # the root entry is GPA 0's
    h = hashlib.sha384()
    for gpa, data in pages.items():
        assert pg.page_add(gpa, data) == "TDX_SUCCESS"
        h.update(record(b"MEM.PAGE.ADD", gpa))
    for gpa in (0x1000, 0x2000, 0x1000, 0, far, 0x1000, far):
        for chunk in range(0, PAGE_SIZE, 256):
            assert pg.mr_extend(gpa + chunk) == "TDX_SUCCESS"
            h.update(record(b"MR.EXTEND", gpa + chunk) + (pages[gpa] or bytes(PAGE_SIZE))[chunk : chunk + 256])
    for gpa in (0x1000, far):  # then the first chunk alone of each: GPA 0x1000 << 12 is the page number of `far`
        assert pg.mr_extend(gpa) == "TDX_SUCCESS"
        h.update(record(b"MR.EXTEND", gpa) + pages[gpa][:256])
    assert pg.finalize() == "TDX_SUCCESS"
    assert pg.module.tds[pg.tdr].mrtd.hex() == h.hexdigest()
