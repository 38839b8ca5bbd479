"""Several VMs in one scenario: the contract's `vm` selector, one HKID per TD, and what one TD cannot do to another.

Expected values come from the sources, not from running tdxsim:
- KVM_CREATE_VM returns a new VM fd on every call (virt/kvm/kvm_main.c kvm_dev_ioctl_create_vm); each VM has its own
  vCPUs, guest_memfds and memslots (struct kvm), so numbering restarts per VM.
- HKIDs: tdx_guest_keyid_alloc() (arch/x86/virt/vmx/tdx/tdx.c) is ida_alloc_range() over the TD KeyIDs, which hands
  out the lowest free id; tdx_td_init calls it from KVM_TDX_INIT_VM. With private KeyIDs [16, 64) and 16 kept as the
  global KeyID (Documentation/arch/x86/tdx.rst's example; tdxsim/platform.py), the first TD gets 17, the next 18.
- One TDX module, one PAMT (intel/tdx-module TDX_1.5.01, src/common/memory_handlers/pamt_manager.h): a page given
  to a TD is PT_REG with owner = that TD's TDR. TDH.MEM.PAGE.AUG takes its target through
  check_and_lock_free_range_hpa(td_page_pa, OPERAND_ID_R8, ...) (src/vmm_dispatcher/api_calls/tdh_mem_page_aug.c),
  which requires PT_NDA (check_and_lock_explicit_private_hpa(..., PT_NDA, ...), src/common/helpers/helpers.c) and
  otherwise returns api_error_with_operand_id(TDX_PAGE_METADATA_INCORRECT, OPERAND_ID_R8); TDH.MEM.SEPT.ADD's new
  page must be PT_NDA too (tdh_mem_sept_add.c). TDX_PAGE_METADATA_INCORRECT = 0xC000030000000000 and
  OPERAND_ID_R8 = 8 (include/auto_gen/tdx_error_codes_defs.h, include/tdx_api_defs.h).
- A TD's pages are accessed only through its own HKID (map_pa_with_hkid / set_hkid_to_pa with
  tdr_ptr->key_management_fields.hkid in every S-EPT walk); PAGE.ADD reads its source through the shared KeyID
  (cache_aligned_copy_direct from the source mapped with KeyID 0).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scenario_helpers import PAGE, assert_errno, assert_ok, doc, mrtd, run, step

from tdxsim.physmem import Owner
from tdxsim.scenario import OPS, VM_OPS, ScenarioError, replay_scenario, run_scenario
from tdxsim.tdx.module import PageType
from tdxsim.vmm.ownership import page_owner

REPO = Path(__file__).resolve().parents[1]
TWO_TDS = json.loads((REPO / "examples" / "two-tds.json").read_text())
SCHEMA = json.loads((REPO / "docs" / "scenario.schema.json").read_text())
TDX_PAGE_METADATA_INCORRECT_R8 = 0xC000030000000000 | 8
FIRST_HKIDS = [17, 18]


def on_vm(steps: list[dict], vm: int) -> list[dict]:
    """The same steps aimed at VM `vm` (KVM_CREATE_VM takes no selector: it always creates the next VM)."""
    return [{**s, "vm": vm} if s["op"] != "KVM_CREATE_VM" else s for s in steps]


def create_vm(label: str | None = None) -> dict:
    return {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM", **({"label": label} if label else {})}


# -- the contract ------------------------------------------------------------------------------------------------


def test_a_second_create_vm_makes_a_second_vm() -> None:
    out = run([create_vm("first"), create_vm("second"), {"op": "KVM_CREATE_VM", "type": 5, "label": "third"}])
    assert [(step(out, k)["ret"], step(out, k)["vm"]) for k in ("first", "second", "third")] == [(0, 0), (0, 1), (0, 2)]
    assert [vm["td_state"] for vm in out["final"]["vms"]] == ["TD_STATE_UNINITIALIZED"] * 3


def test_one_vm_has_no_vms_list() -> None:
    """final.vms is there only with several VMs, so a one-VM scenario's output is unchanged."""
    assert "vms" not in run([create_vm()])["final"]


def test_each_td_gets_the_lowest_free_hkid_at_init_time() -> None:
    """ida_alloc_range hands out the lowest free id when KVM_TDX_INIT_VM runs, not in KVM_CREATE_VM order."""
    steps = [create_vm(), create_vm(), {"op": "KVM_TDX_INIT_VM", "vm": 1}, {"op": "KVM_TDX_INIT_VM", "vm": 0}]
    out = run(steps)
    assert [vm["hkid"] for vm in out["final"]["vms"]] == [FIRST_HKIDS[1], FIRST_HKIDS[0]]
    tdcs_keyids = {p["keyid"] for p in out["final"]["pages"].values() if p["pamt"] == "PT_TDCX"}
    assert tdcs_keyids == set(FIRST_HKIDS)  # TDCS pages are accessed with their TD's HKID (map_pa_with_hkid)


def test_a_td_whose_init_failed_leaves_its_hkid_free() -> None:
    """__tdx_td_init's `teardown:` runs tdx_mmu_release_hkid (TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB per package,
    TDH.MNG.KEY.FREEID, then tdx_hkid_free) and tdx_reclaim_td_control_pages (TDH.PHYMEM.PAGE.RECLAIM of each added
    TDCS page, then of the TDR, and TDH.PHYMEM.PAGE.WBINVD of the TDR): the HKID is free again, so the next TD takes
    the same lowest one, and no page stays with the module."""
    steps = [
        create_vm(),
        create_vm(),
        {"op": "tdx_error", "leaf": "TDH.MNG.KEY.CONFIG", "status": "TDX_KEY_GENERATION_FAILED"},
        {"op": "KVM_TDX_INIT_VM", "label": "fails"},
        {"op": "KVM_TDX_INIT_VM", "vm": 1, "label": "ok"},
    ]
    out = run(steps)
    fails = step(out, "fails")
    assert_errno(fails, "EIO")
    assert [c["leaf"] for c in fails["seamcalls"]] == [
        "TDH.MNG.CREATE",
        "TDH.MNG.KEY.CONFIG",
        "TDH.MNG.VPFLUSHDONE",
        "TDH.PHYMEM.CACHE.WB",  # one package (platform.NR_PACKAGES)
        "TDH.MNG.KEY.FREEID",
        "TDH.PHYMEM.PAGE.RECLAIM",  # no TDCS page was added yet: only the TDR
        "TDH.PHYMEM.PAGE.WBINVD",
    ]
    assert_ok(step(out, "ok"))
    assert [vm["hkid"] for vm in out["final"]["vms"]] == [None, FIRST_HKIDS[0]]
    owners = sorted(p["owner"] for p in out["final"]["pages"].values())
    assert owners == ["tdx_metadata"] * 7  # VM 1's TDR and six TDCS pages; VM 0 kept none


@pytest.mark.parametrize("leaf", ["TDH.MNG.ADDCX", "TDH.MNG.INIT"])
def test_a_failed_init_reclaims_the_tdcs_pages_it_added(leaf: str) -> None:
    """tdx_reclaim_td_control_pages reclaims every TDCS page TDH.MNG.ADDCX took, then the TDR; the TDCS page whose
    ADDCX failed is freed without a SEAMCALL ("Only free pages not yet added"). Retrying the init on the same VM
    takes the same HKID."""
    steps = [
        create_vm(),
        {"op": "tdx_error", "leaf": leaf, "status": "TDX_OPERAND_INVALID"},
        {"op": "KVM_TDX_INIT_VM", "label": "fails"},
        {"op": "KVM_TDX_INIT_VM", "label": "retry"},
        create_vm(),
    ]
    out = run(steps)
    fails = step(out, "fails")
    added = 0 if leaf == "TDH.MNG.ADDCX" else 6  # TDCS pages added before the failure (platform.TDCS_PAGES)
    assert [c["leaf"] for c in fails["seamcalls"]].count("TDH.PHYMEM.PAGE.RECLAIM") == added + 1
    assert_ok(step(out, "retry"))
    assert out["final"]["vms"][0]["hkid"] == FIRST_HKIDS[0]
    assert len(out["final"]["pages"]) == 7


def test_a_failed_key_freeid_leaks_the_hkid() -> None:
    """tdx_mmu_release_hkid: "tdh_mng_key_freeid() failed. HKID %d is leaked." - KVM_BUG_ON, and the HKID stays
    assigned, so the next TD gets the next one; the control pages are not reclaimed (is_hkid_assigned)."""
    steps = [
        create_vm(),
        create_vm(),
        {"op": "tdx_error", "leaf": "TDH.MNG.INIT", "status": "TDX_OPERAND_INVALID"},
        {"op": "tdx_error", "leaf": "TDH.MNG.KEY.FREEID", "status": "TDX_LIFECYCLE_STATE_INCORRECT"},
        {"op": "KVM_TDX_INIT_VM", "label": "fails"},
        {"op": "KVM_TDX_INIT_VM", "vm": 1, "label": "next"},
    ]
    out = run(steps)
    assert "TDH.PHYMEM.PAGE.RECLAIM" not in [c["leaf"] for c in step(out, "fails")["seamcalls"]]
    assert [(vm["hkid"], vm["vm_dead"]) for vm in out["final"]["vms"]] == [(17, True), (18, False)]


def test_numbers_are_per_vm() -> None:
    """Each VM has its own guest_memfds and vCPUs: VM 1's first guest_memfd is 0 again, its vCPU 0 is its own."""
    steps = [
        create_vm(),
        {"op": "KVM_TDX_INIT_VM"},
        {"op": "KVM_CREATE_GUEST_MEMFD", "size": PAGE},
        create_vm(),
        {"op": "KVM_TDX_INIT_VM", "vm": 1},
        {"op": "KVM_CREATE_GUEST_MEMFD", "vm": 1, "size": PAGE, "label": "gmem"},
        {"op": "KVM_CREATE_VCPU", "vm": 1, "id": 0, "label": "vcpu-1"},
        {"op": "KVM_CREATE_VCPU", "id": 0, "label": "vcpu-0"},
        {"op": "KVM_CREATE_VCPU", "vm": 1, "id": 0, "label": "vcpu-1-again"},
    ]
    out = run(steps)
    assert step(out, "gmem")["fd"] == 0
    assert_ok(step(out, "vcpu-1"))
    assert_ok(step(out, "vcpu-0"))  # VM 0 has no vCPU 0 yet: VM 1's does not count
    assert_errno(step(out, "vcpu-1-again"), "EEXIST")  # kvm_vm_ioctl_create_vcpu: the id exists in this VM


def test_a_vm_not_created_yet_is_ebadf() -> None:
    out = run(
        [
            create_vm(),
            {"op": "KVM_TDX_INIT_VM", "vm": 1, "label": "init"},
            {"op": "guest_read", "vm": 3, "gpa": 0, "length": 1, "label": "read"},
        ]
    )
    assert_errno(step(out, "init"), "EBADF")
    assert_errno(step(out, "read"), "EBADF")
    assert step(out, "init")["vm"] == 1


def test_a_dead_vm_does_not_kill_the_other() -> None:
    """kvm_vm_dead marks one struct kvm: the other VM's ioctls still work (KVM_BUG_ON is per VM)."""
    steps = [
        create_vm(),
        {"op": "KVM_TDX_INIT_VM"},
        create_vm(),
        {"op": "KVM_TDX_INIT_VM", "vm": 1},
        {"op": "KVM_CREATE_VCPU", "id": 0},
        {"op": "KVM_TDX_INIT_VCPU", "vcpu": 0},
        {"op": "tdx_error", "leaf": "TDH.MR.FINALIZE", "status": "TDX_OPERAND_INVALID"},
        {"op": "KVM_TDX_FINALIZE_VM", "label": "bug"},
        {"op": "KVM_CREATE_VCPU", "label": "dead", "id": 1},
        {"op": "KVM_CREATE_VCPU", "vm": 1, "label": "alive", "id": 0},
    ]
    out = run(steps)
    assert_errno(step(out, "bug"), "EIO")
    assert_errno(step(out, "dead"), "EIO")
    assert_ok(step(out, "alive"))
    assert [vm["vm_dead"] for vm in out["final"]["vms"]] == [True, False]
    assert out["final"]["vm_dead"] is True  # the top-level fields describe VM 0


@pytest.mark.parametrize("op", sorted(set(OPS) - VM_OPS))
def test_vm_on_an_op_that_does_not_take_it_is_a_scenario_error(op: str) -> None:
    with pytest.raises(ScenarioError, match=r"^step 0: .* takes no 'vm'"):
        run_scenario(doc([{"op": op, "vm": 0}]))


@pytest.mark.parametrize("value", [-1, 1.5, "one", True, None, (1 << 20) + 1])
def test_an_ill_typed_vm_is_a_scenario_error(value) -> None:
    with pytest.raises(ScenarioError, match=r"^step 1: KVM_TDX_INIT_VM: vm "):
        run_scenario(doc([create_vm(), {"op": "KVM_TDX_INIT_VM", "vm": value}]))


def test_a_bad_vm_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc([{"op": "munmap", "addr": 0, "length": PAGE, "vm": 1}])))
    proc = subprocess.run(
        [sys.executable, "-m", "tdxsim", "run", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr == f"tdxsim: {bad}: step 0: munmap does not act on one VM, so it takes no 'vm'\n"


def test_schema_lists_vm_on_the_same_ops() -> None:
    ops = {name[3:] for name, d in SCHEMA["$defs"].items() if name.startswith("op.") and "vm" in d["properties"]}
    assert ops == VM_OPS


# -- two TDs side by side (examples/two-tds.json) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def two_tds():
    return replay_scenario(TWO_TDS)


def test_two_tds_each_read_their_own_page(two_tds) -> None:
    out = two_tds.output
    for label in ("add-0", "add-1", "finalize-0", "finalize-1"):
        assert_ok(step(out, label))
    assert bytes.fromhex(step(out, "read-0")["data"]) == b"Hello"
    assert bytes.fromhex(step(out, "read-1")["data"]) == b"World"
    vms = out["final"]["vms"]
    assert [vm["hkid"] for vm in vms] == FIRST_HKIDS
    assert [vm["mrtd"] for vm in vms] == [mrtd([(0, b"Hello")]), mrtd([(0, b"World")])]
    assert [vm["sept"] for vm in vms] == [{"0x0": "MAPPED"}, {"0x0": "MAPPED"}]
    private = [p for p in out["final"]["pages"].values() if p["owner"] == "td_private"]
    assert sorted((p["vm"], p["keyid"], p["gpa"]) for p in private) == [(0, 17, "0x0"), (1, 18, "0x0")]


def test_the_two_tds_share_one_module_and_one_pamt(two_tds) -> None:
    vmm = two_tds.vmm
    tdrs = [kvm.tdx.tdr for kvm in vmm.vms]
    assert sorted(vmm.module.tds) == sorted(tdrs)
    owners = {vmm.module.pamt[pfn][1] for pfn in vmm.mem.frames if vmm.module.page_type(pfn) is PageType.PT_REG}
    assert owners == set(tdrs)


def _private_page(vmm, vm: int, gpa: int = 0) -> int:
    kvm = vmm.vms[vm]
    return vmm.module.leaf_pfn(kvm.tdx.tdr, gpa)


def test_a_td_cannot_map_the_other_tds_private_page(two_tds) -> None:
    """TD 1's TDH.MEM.PAGE.AUG and TDH.MEM.SEPT.ADD with TD 0's PT_REG page as the new page: the PAMT says it is not
    PT_NDA, so the module refuses it on R8 (check_and_lock_free_range_hpa / tdh_mem_sept_add.c), and nothing changes."""
    vmm = two_tds.vmm
    module, victim = vmm.module, _private_page(vmm, 0)
    tdr0, tdr1 = (kvm.tdx.tdr for kvm in vmm.vms)
    assert module.pamt[victim] == (PageType.PT_REG, tdr0)
    assert module.tdh_mem_page_aug(tdr1, PAGE, victim) == TDX_PAGE_METADATA_INCORRECT_R8
    assert module.tdh_mem_sept_add(tdr1, 0x200000, 1, victim) == TDX_PAGE_METADATA_INCORRECT_R8
    assert module.pamt[victim] == (PageType.PT_REG, tdr0)
    assert module.leaf_state(tdr1, PAGE).value == "FREE"
    assert (vmm.frame(victim * PAGE)["owner"], vmm.mem.frames[victim].keyid) == (Owner.TD_PRIVATE, FIRST_HKIDS[0])
    vmm.select_vm(0)
    assert bytes(vmm.guest_read(0, 5)["data"]) == b"Hello"


def test_a_td_cannot_read_the_other_tds_private_page() -> None:
    """Through TD 1's key, TD 0's page is not its plaintext (each TD's pages are accessed with its own HKID); and TD
    1's PAGE.ADD with TD 0's page as the source reads it through the shared KeyID: TD 1 never gets 'Hello', whether
    the module refuses the source or copies what KeyID 0 sees."""
    unfinished = {**TWO_TDS, "steps": [s for s in TWO_TDS["steps"] if s.get("label") not in ("finalize-1", "read-1")]}
    vmm = replay_scenario(unfinished).vmm
    victim = _private_page(vmm, 0)
    assert vmm.mem.read(victim, 0, 5, keyid=FIRST_HKIDS[1]) != b"Hello"
    assert vmm.mem.read(victim, 0, 5, keyid=0) != b"Hello"
    target = vmm.mem.alloc(origin="TD 1's new page")
    vmm.module.tdh_mem_page_add(vmm.vms[1].tdx.tdr, PAGE, target, victim)
    assert b"Hello" not in bytes(vmm.mem.view(target))


# -- the module's side of releasing an HKID (intel/tdx-module TDX_1.5.01) -----------------------------------------
# TDH.MNG.VPFLUSHDONE needs TD_HKID_ASSIGNED or TD_KEYS_CONFIGURED and sets TD_BLOCKED (tdh_mng_vpflushdone.c);
# TDH.MNG.KEY.FREEID needs TD_BLOCKED (else TDX_LIFECYCLE_STATE_INCORRECT 0xC000060700000000) and the cache
# write-back (else TDX_WBCACHE_NOT_COMPLETE 0x8000081700000000), and sets TD_TEARDOWN (tdh_mng_key_freeid.c);
# TDH.PHYMEM.PAGE.RECLAIM needs the owner in TD_TEARDOWN and, for the TDR, CHLDCNT = 0 (else
# TDX_TD_ASSOCIATED_PAGES_EXIST 0xC000040000000000) and leaves the page PT_NDA (tdh_phymem_page_reclaim.c).

LIFECYCLE_STATE_INCORRECT = 0xC000060700000000
WBCACHE_NOT_COMPLETE = 0x8000081700000000
TD_ASSOCIATED_PAGES_EXIST = 0xC000040000000000


def test_key_freeid_needs_a_blocked_td_and_the_cache_written_back() -> None:
    from tdxsim.tdx.playground import Playground

    pg = Playground()
    module, tdr = pg.module, pg.tdr
    assert module.tdh_mng_key_freeid(tdr) == LIFECYCLE_STATE_INCORRECT  # still TD_KEYS_CONFIGURED
    assert module.tdh_mng_vpflushdone(tdr) == 0
    assert module.tdh_mng_vpflushdone(tdr) == LIFECYCLE_STATE_INCORRECT  # TD_BLOCKED already
    assert module.tdh_mng_key_freeid(tdr) == WBCACHE_NOT_COMPLETE
    assert module.tdh_phymem_cache_wb() == 0
    assert module.tdh_mng_key_freeid(tdr) == 0
    assert module.tds[tdr].lifecycle.value == "TD_TEARDOWN"
    assert module.tdh_mng_key_freeid(tdr) == LIFECYCLE_STATE_INCORRECT


def test_the_hkid_is_free_again_only_after_key_freeid() -> None:
    """TDH.MNG.CREATE refuses an HKID a TD holds (TDX_HKID_NOT_FREE 0xC000082000000000) until KEY.FREEID."""
    from tdxsim.tdx.playground import Playground

    pg = Playground()
    module, hkid = pg.module, pg.module.tds[pg.tdr].hkid
    assert module.tdh_mng_create(pg.mem.alloc(), hkid) == 0xC000082000000000
    module.tdh_mng_vpflushdone(pg.tdr)
    module.tdh_phymem_cache_wb()
    assert module.tdh_mng_create(pg.mem.alloc(), hkid) == 0xC000082000000000  # TD_BLOCKED still holds it
    module.tdh_mng_key_freeid(pg.tdr)
    assert module.tdh_mng_create(pg.mem.alloc(), hkid) == 0


def test_reclaim_after_teardown_children_first_then_the_tdr() -> None:
    from tdxsim.tdx.playground import Playground

    pg = Playground()
    module, tdr = pg.module, pg.tdr
    tdcs = module.tds[tdr].tdcs[0]
    assert module.tdh_phymem_page_reclaim(tdcs) == LIFECYCLE_STATE_INCORRECT  # the TD lives
    module.tdh_mng_vpflushdone(tdr)
    module.tdh_phymem_cache_wb()
    module.tdh_mng_key_freeid(tdr)
    assert module.tdh_phymem_page_reclaim(tdr) == TD_ASSOCIATED_PAGES_EXIST
    children = [pfn for pfn, (_, owner) in module.pamt.items() if owner == tdr and pfn != tdr]
    assert all(module.tdh_phymem_page_reclaim(pfn) == 0 for pfn in children)
    assert all(module.page_type(pfn) is PageType.PT_NDA for pfn in children)
    assert page_owner(module, tdcs, {}) is Owner.HOST and pg.mem.frames[tdcs].keyid == 0
    assert module.tdh_phymem_page_reclaim(tdr) == 0
    assert module.page_type(tdr) is PageType.PT_NDA and tdr not in module.tds
