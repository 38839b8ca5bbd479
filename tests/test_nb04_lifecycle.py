"""tdxsim.lessons.lifecycle and the chapter 04 widget: the creation flow and its variants.

Expected values from the sources: intel-tdx.rst's creation flow; TDX module 1.5's 6 TDCS pages and 5 TDCX pages
per vCPU (docs/fidelity.md); KVM refusing INIT_MEM_REGION once the TD is RUNNABLE (tdx.c: "Once TD is finalized,
the initial guest memory is fixed") and a vCPU before INIT_VM (tdx_vcpu_create, -EIO); a double add -EIO
(mmu.c kvm_tdp_mmu_map_private_pfn; Yan Zhao, akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com).
"""

import pytest

from tdxsim.lessons import lifecycle

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_flow_as_qemu_runs_it():
    rows = lifecycle.run_variant()
    assert lifecycle.first_failure(rows) is None
    by_label = {r.label: r for r in rows}
    assert by_label["KVM_TDX_INIT_VM"].seamcalls == (
        "TDH.MNG.CREATE, TDH.MNG.KEY.CONFIG, TDH.MNG.ADDCX ×6, TDH.MNG.INIT, TDH.MNG.RD ×2"
    )
    assert by_label["KVM_TDX_INIT_VCPU"].seamcalls.startswith("TDH.VP.CREATE, TDH.VP.ADDCX ×5, TDH.VP.INIT")
    assert (by_label["KVM_TDX_INIT_VM"].td_state, by_label["KVM_TDX_INIT_VM"].op_state) == (
        "TD_STATE_INITIALIZED",
        "OP_STATE_INITIALIZED",
    )
    assert (by_label["KVM_TDX_FINALIZE_VM"].td_state, by_label["KVM_TDX_FINALIZE_VM"].op_state) == (
        "TD_STATE_RUNNABLE",
        "OP_STATE_RUNNABLE",
    )
    # TDR, 6 TDCS + 5 TDCX (both PT_TDCX), TDVPR, 3 S-EPT tables, then the image page and the accepted page
    assert by_label["guest accepts GPA 0x1000"].metadata == {
        "PT_EPT": 3,
        "PT_REG": 2,
        "PT_TDCX": 11,
        "PT_TDR": 1,
        "PT_TDVPR": 1,
    }
    assert by_label["guest accepts GPA 0x1000"].seamcalls == "TDH.MEM.PAGE.AUG"


@pytest.mark.parametrize(
    ("variant", "failure"),
    [
        ("skip KVM_TDX_INIT_VM", ("KVM_CREATE_VCPU", "-EIO")),
        ("KVM_CREATE_VCPU before KVM_TDX_INIT_VM", ("KVM_CREATE_VCPU", "-EIO")),
        ("skip KVM_TDX_INIT_VCPU", ("KVM_TDX_INIT_MEM_REGION", "-EINVAL")),
        ("skip the conversion to private", ("KVM_TDX_INIT_MEM_REGION", "-EINVAL")),
        ("KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM", ("KVM_TDX_INIT_MEM_REGION", "-EINVAL")),
        ("the guest runs before KVM_TDX_FINALIZE_VM", ("guest accepts GPA 0x1000", "-EINVAL")),
        ("KVM_TDX_INIT_MEM_REGION twice", ("KVM_TDX_INIT_MEM_REGION (again)", "-EIO")),
        ("KVM_TDX_FINALIZE_VM twice", ("KVM_TDX_FINALIZE_VM (again)", "-EINVAL")),
    ],
)
def test_variants_fail_where_the_kernel_says(variant, failure):
    assert lifecycle.first_failure(lifecycle.run_variant(variant)) == failure


def test_fold():
    assert lifecycle.fold(["A", "A", "B", "A"]) == "A ×2, B, A"
    assert lifecycle.fold([]) == "—"


def test_lifecycle_player_every_variant_every_step():
    from tdxsim.widgets.lessons import lifecycle_player

    box = lifecycle_player()
    assert repr(box) == "<creation flow (as QEMU does it): step 0 KVM_CREATE_VM → 0>"
    c = box.controls
    for variant in lifecycle.VARIANTS:
        c["variant"].value = variant
        for value in (c["step"].max, 0):  # the extremes of the slider
            c["step"].value = value
            assert box.state.timeline.value.tobytes().startswith(PNG)
            assert "background:#F0E442" in box.state.table.value
        c["step"].value = c["step"].max - 1
        c["next"].click()
        assert c["step"].value == c["step"].max
        c["next"].click()  # stays at the end
        assert c["step"].value == c["step"].max
        c["step"].value = 0
        c["previous"].click()  # stays at the start
        assert c["step"].value == 0
