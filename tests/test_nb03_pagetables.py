"""tdxsim.lessons.pagetables and the chapter 03 widget: the S-EPT walk of a first touch, mirror against S-EPT.

Expected values from the sources: tdx-tdp-mmu.rst's "adding a private page" (SEPT.ADD for the 512G, 1G and 2M
levels, then PAGE.ADD), a 5-level S-EPT for GPAW 52 (docs/scenario.md KVM_TDX_INIT_VM gpaw), and the private
page removal sequence BLOCK, TRACK, REMOVE (tdx-tdp-mmu.rst) followed by WBINVD (tdx.c tdx_sept_remove_leaf_spte).
"""

import pytest

from tdxsim import errno
from tdxsim.lessons import pagetables
from tdxsim.lessons.build import leaves

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("gpaw", "levels"), [(48, [3, 2, 1]), (52, [4, 3, 2, 1])])
@pytest.mark.parametrize("gpa", [0x0, 0x4000_0000, 0x80_0000_0000, 0x7FFF_FFFF_F000])
def test_first_touch_adds_every_level_below_the_root(gpa, gpaw, levels):
    built = pagetables.first_add(gpa, gpaw)
    step = built.step("KVM_TDX_INIT_MEM_REGION")
    assert step["ret"] == 0
    assert pagetables.sept_add_levels(step) == levels
    assert leaves(step)[len(levels)] == "TDH.MEM.PAGE.ADD"
    assert pagetables.mirror_disagreements(built) == []
    walk = pagetables.walk(built, gpa)
    assert [r.sept for r in walk] == ["NL_MAPPED"] * len(levels) + ["MAPPED"]
    assert {r.mirror for r in walk} == {"present"}


def test_a_neighbour_page_needs_no_new_table():
    step = pagetables.first_add(0, 48, nr_pages=2).step("KVM_TDX_INIT_MEM_REGION")
    assert [x for x in leaves(step) if x != "TDH.MR.EXTEND"] == ["TDH.MEM.SEPT.ADD"] * 3 + ["TDH.MEM.PAGE.ADD"] * 2


def test_the_shared_bit_depends_on_gpaw():
    assert pagetables.first_add(1 << 47, 48).step("KVM_TDX_INIT_MEM_REGION")["ret"] == -errno.EINVAL
    assert pagetables.first_add(1 << 47, 52).step("KVM_TDX_INIT_MEM_REGION")["ret"] == 0


def test_runtime_touch_augs_and_the_zap_removes():
    built = pagetables.runtime_touch(0x1000)
    assert leaves(built.step("guest accepts")) == ["TDH.MEM.PAGE.AUG"]
    assert leaves(built.step("MapGPA to shared")) == [
        "TDH.MEM.RANGE.BLOCK",
        "TDH.MEM.TRACK",
        "TDH.MEM.PAGE.REMOVE",
        "TDH.PHYMEM.PAGE.WBINVD",
    ]
    assert pagetables.mirror_disagreements(built) == []
    assert built.out["final"]["sept"] == {"0x0": "MAPPED"}


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
