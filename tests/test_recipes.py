"""tdxsim.recipes (QEMU's sequences as plain Vmm calls) and the derived page ownership (tdxsim/vmm/ownership.py).

Expected values from the sources:
- KVM_TDX_INIT_MEM_REGION with KVM_TDX_MEASURE_MEMORY_REGION: tdx_gmem_post_populate (arch/x86/kvm/vmx/tdx.c) issues
  TDH.MEM.PAGE.ADD, then TDH.MR.EXTEND for each 256-byte chunk of the page (16 per 4 KiB).
- MRTD (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, tdh_mr_extend.c, tdh_mr_finalize.c): SHA-384 over one
  128-byte record per PAGE.ADD (tag "MEM.PAGE.ADD", GPA) and per MR.EXTEND (tag "MR.EXTEND", GPA, then the 256 bytes);
  the source page is not part of it, so in-place (`source_addr` 0) and copied loads measure the same.
- Ownership: a page the PAMT gives PT_REG is the TD's, under its HKID (pamt_manager.h); a guest_memfd folio
  (virt/kvm/guest_memfd.c) is shared or private by its attribute; anonymous memory is the host's.
"""

from __future__ import annotations

import hashlib

import pytest
from mrtd_replay import record

import tdxsim
from tdxsim import recipes

MiB = 1 << 20
IMAGE = bytes(range(256)) * 16  # one page


def _expected_mrtd(gpa: int, page: bytes) -> bytes:
    chunks = b"".join(record(b"MR.EXTEND", gpa + off) + page[off : off + 256] for off in range(0, 4096, 256))
    return hashlib.sha384(record(b"MEM.PAGE.ADD", gpa) + chunks).digest()


@pytest.mark.parametrize("kernel", ["kvm-x86-2026-06", "v8"])
def test_recipes_build_and_measure_a_td(kernel: str) -> None:
    vmm = tdxsim.Vmm(kernel)
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, 2 * MiB)
    results = recipes.load_image(vmm, binding, 0, IMAGE)
    add = next(r for r in results if r.op == "KVM_TDX_INIT_MEM_REGION")
    assert add["region"]["source_addr"] == 0 if vmm.in_place else add["region"]["source_addr"] != 0
    leaves = [c["leaf"] for c in add.seamcalls]
    # The first page also links the S-EPT tables below the root (a TDCS page): levels 3, 2 and 1 with 4-level EPT
    # (GPAW 48), one TDH.MEM.SEPT.ADD each, before the PAGE.ADD (tdp_mmu_link_sp -> tdx_sept_link_private_spt).
    assert leaves == ["TDH.MEM.SEPT.ADD"] * 3 + ["TDH.MEM.PAGE.ADD"] + ["TDH.MR.EXTEND"] * 16
    # In place the rest of the guest_memfd is still shared (INIT_SHARED): the guest's MapGPA makes 0x1000 private
    # first, or its ACCEPT ends in a KVM_EXIT_MEMORY_FAULT (kvm_mmu_prepare_memory_fault_exit).
    assert all(step["ret"] == 0 for step in recipes.convert_range(vmm, 0x1000, 0x1000, private=True))
    recipes.run_guest(vmm, accept=(0x1000,))
    assert vmm.td_state() == "TD_STATE_RUNNABLE"
    assert vmm.mrtd() == _expected_mrtd(0, IMAGE)
    assert vmm.sept_state(0) == "MAPPED" and vmm.sept_state(0x1000) == "MAPPED"


def test_recipe_failure_names_the_call() -> None:
    vmm = tdxsim.Vmm()
    recipes.create_td(vmm)
    vmm.select_vm(5)  # no such VM: its fd is not open
    with pytest.raises(recipes.RecipeError) as info:
        recipes.bind_guest_memfd(vmm, 2 * MiB)
    assert info.value.result.errno == "EBADF"
    assert info.value.result.op == "KVM_CREATE_GUEST_MEMFD"


def test_ownership_is_derived_from_pamt_and_guest_memfd_attributes() -> None:
    vmm = tdxsim.Vmm("v8")  # in-place conversion
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, 2 * MiB)
    vmm.write(binding.userspace_addr + 0x1000, b"shared data")
    pa = vmm.read(binding.userspace_addr + 0x1000, 1)  # faulted in: a guest_memfd folio, INIT_SHARED
    folio = vmm.kvm.gmems[0].folios[1]  # type: ignore[union-attr]
    assert pa.ok and vmm.frame(folio * 4096)["owner"] == "guest_memfd_shared"
    vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=0, offset=0x1000, size=0x1000, attributes=8)
    assert vmm.gmem_attributes(0, 0x1000) == 8
    assert vmm.frame(folio * 4096)["owner"] == "guest_memfd_private"
    assert vmm.frame(folio * 4096)["pamt"] == "PT_NDA"
    recipes.load_image(vmm, binding, 0, IMAGE)
    page = vmm.sept_walk(0)[-1]["pfn"]
    frame = vmm.frame(page * 4096)
    assert (frame["owner"], frame["pamt"], frame["keyid"]) == ("td_private", "PT_REG", vmm.kvm.tdx.hkid)  # type: ignore[union-attr]
    tdr = vmm.kvm.tdx.tdr  # type: ignore[union-attr]
    assert (vmm.frame(tdr * 4096)["owner"], vmm.frame(tdr * 4096)["pamt"]) == ("tdx_metadata", "PT_TDR")


def test_ownership_map_of_a_machine_driven_by_calls() -> None:
    pytest.importorskip("matplotlib")
    from tdxsim import plot
    from tdxsim.plot.style import OWNER_INDEX

    vmm = tdxsim.Vmm("v8")
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, 16 * 4096)
    recipes.load_image(vmm, binding, 0, IMAGE)
    data = plot.ownership_data(*plot.machine_view(vmm))
    # GPA 0 was added (PT_REG: the TD's); an in-place add is its own source (source_addr 0).
    assert data.strips[0].owners[0] == OWNER_INDEX["td_private"]
    assert data.targets == data.sources == [vmm.sept_walk(0)[-1]["pfn"]]
