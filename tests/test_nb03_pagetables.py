"""Chapter 03: the S-EPT walk of a first touch, mirror against S-EPT, read with the machine's queries; its widget.

Expected values from the sources: tdx-tdp-mmu.rst's "adding a private page" (SEPT.ADD for the 512G, 1G and 2M
levels, then PAGE.ADD), a 5-level S-EPT for GPAW 52 (docs/scenario.md KVM_TDX_INIT_VM gpaw), the private page
removal sequence BLOCK, TRACK, REMOVE (tdx-tdp-mmu.rst) followed by WBINVD (tdx.c tdx_sept_remove_leaf_spte), and a
mirror entry present exactly when its S-EPT entry is (KVM sets the mirror SPTE only after the SEAMCALL succeeded:
tdp_mmu_link_sp / tdx_sept_link_private_spt, tdx_sept_set_private_spte).
"""

import pytest

from tdxsim import Vmm, errno, recipes
from tdxsim.lessons import pagetables
from tdxsim.platform import PAGE_SIZE
from tdxsim.result import Result

PNG = b"\x89PNG\r\n\x1a\n"


def first_add(gpa: int, gpaw: int = 48, nr_pages: int = 1) -> tuple[Vmm, Result]:
    """A TD with one memslot at `gpa`; `nr_pages` pages added there in one KVM_TDX_INIT_MEM_REGION."""
    vmm = Vmm("v8")
    recipes.create_td(vmm, gpaw=gpaw)
    binding, _ = recipes.bind_guest_memfd(vmm, size=nr_pages * PAGE_SIZE, gpa=gpa)
    return vmm, recipes.load_image(vmm, binding, gpa, bytes(nr_pages * PAGE_SIZE))[-1]


def leaves(result) -> list[str]:
    return [c["leaf"] for c in result.seamcalls]


def mirror_agrees(vmm: Vmm, gpa: int) -> bool:
    return all(vmm.mirror_present(gpa, e["level"]) == (e["state"] != "FREE") for e in vmm.sept_walk(gpa))


@pytest.mark.parametrize(("gpaw", "levels"), [(48, [3, 2, 1]), (52, [4, 3, 2, 1])])
@pytest.mark.parametrize("gpa", [0x0, 0x4000_0000, 0x80_0000_0000, 0x7FFF_FFFF_F000])
def test_first_touch_adds_every_level_below_the_root(gpa, gpaw, levels):
    vmm, add = first_add(gpa, gpaw)
    assert add.ret == 0
    assert pagetables.sept_add_levels(add) == levels
    assert leaves(add)[len(levels)] == "TDH.MEM.PAGE.ADD"
    walk = vmm.sept_walk(gpa)
    assert [e["state"] for e in walk] == ["NL_MAPPED"] * len(levels) + ["MAPPED"]
    assert [e["level"] for e in walk] == [*levels, 0]
    assert all(vmm.mirror_present(gpa, e["level"]) for e in walk) and mirror_agrees(vmm, gpa)
    assert not vmm.mirror_present(gpa + (1 << 39), 3)  # the next 512 GiB: nothing linked there


def test_a_neighbour_page_needs_no_new_table():
    _vmm, add = first_add(0, 48, nr_pages=2)
    assert [x for x in leaves(add) if x != "TDH.MR.EXTEND"] == ["TDH.MEM.SEPT.ADD"] * 3 + ["TDH.MEM.PAGE.ADD"] * 2


def test_the_shared_bit_depends_on_gpaw():
    vmm = Vmm("v8")
    recipes.create_td(vmm, gpaw=48)
    recipes.bind_guest_memfd(vmm, size=PAGE_SIZE)
    shared = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=1 << 47, nr_pages=1)
    assert shared.ret == -errno.EINVAL and shared.seamcalls == []
    assert first_add(1 << 47, 52)[1].ret == 0


def test_runtime_touch_augs_and_the_zap_removes():
    vmm = Vmm("v8")
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, size=4 * PAGE_SIZE)
    recipes.load_image(vmm, binding, 0, pagetables.IMAGE.ljust(PAGE_SIZE, b"\0"))
    recipes.convert_range(vmm, PAGE_SIZE, 3 * PAGE_SIZE, private=True)
    accept = recipes.run_guest(vmm, accept=(0x1000,))[-1]
    assert leaves(accept) == ["TDH.MEM.PAGE.AUG"]
    zap = vmm.guest_map_gpa(gpa=0x1000, size=PAGE_SIZE, shared=True)
    assert leaves(zap) == ["TDH.MEM.RANGE.BLOCK", "TDH.MEM.TRACK", "TDH.MEM.PAGE.REMOVE", "TDH.PHYMEM.PAGE.WBINVD"]
    assert [vmm.sept_state(gpa) for gpa in range(0, 4 * PAGE_SIZE, PAGE_SIZE)] == ["MAPPED", "FREE", "FREE", "FREE"]
    assert vmm.mirror_entry(0x1000) is None and mirror_agrees(vmm, 0) and mirror_agrees(vmm, 0x1000)


def test_sept_walk_widget_every_gpa_gpaw_and_change():
    from tdxsim.widgets.lessons import sept_walk

    box = sept_walk()
    c = box.controls
    assert repr(box) == "<S-EPT walk: GPA 0x0, GPAW 48, change 4 of 4>"
    for gpaw in (52, 48):
        c["gpaw"].value = gpaw
        for gpa in (0x80_0000_0000, 1 << 47, 0x0):  # a new level-3 entry, the shared bit with GPAW 48, the start
            c["gpa"].value = gpa
            s = box.state
            assert s.tree.value.tobytes().startswith(PNG) and s.machine.value.tobytes().startswith(PNG)
            if gpa == 1 << 47 and gpaw == 48:
                assert s.changes == [] and "-EINVAL" in s.text.value
                continue
            assert len(s.changes) == pagetables.root_level(gpaw) + 1  # the non-leaf levels, then the leaf
            for value in (c["change"].max, 0):
                c["change"].value = value
                assert f"change {value + 1} of" in s.text.value
