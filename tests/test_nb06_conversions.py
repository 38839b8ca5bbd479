"""tdxsim.lessons.conversions and the chapter 06 widget.

Expected values from the sources: KVM caps a MapGPA exit at TDX_MAP_GPA_MAX_LEN = 2 MiB (tdx.c); the private page
removal sequence (tdx-tdp-mmu.rst, plus WBINVD from tdx_sept_remove_leaf_spte); SIGBUS on a private guest_memfd
page (v8 cover letter); QEMU's kvm_convert_memory per model (docs/scenario.md guest_map_gpa); no content survives.
"""

import pytest

from tdxsim import Vmm
from tdxsim.lessons import conversions

ZAP = ["TDH.MEM.RANGE.BLOCK", "TDH.MEM.TRACK", "TDH.MEM.PAGE.REMOVE", "TDH.PHYMEM.PAGE.WBINVD"]


def convert(in_place: bool, to_shared: bool, pages: int, mode: str = "convert"):
    """(machine, summary, calls) of one conversion on a new machine."""
    vmm = Vmm("v8", gmem_in_place_conversion=in_place)
    calls = conversions.convert(vmm, to_shared, pages, mode)
    return vmm, conversions.summary(vmm, calls), calls


@pytest.mark.parametrize(("pages", "chunks"), [(1, 1), (512, 1), (513, 2), (1025, 3)])
def test_chunks_of_two_mib(pages, chunks):
    _vmm, s, _calls = convert(True, True, pages)
    assert len(s.chunks) == chunks
    assert sum(n for _gpa, n, _a in s.chunks) == pages


@pytest.mark.parametrize("in_place", [True, False])
def test_to_shared_zaps_and_loses_the_secret(in_place):
    vmm, s, _calls = convert(in_place, True, 1)
    assert s.seamcalls == ZAP
    assert s.tdcall_status == "TDVMCALL_STATUS_SUCCESS"
    assert s.reads == {"host reads 0x1000": "zeros", "guest reads 0x1000 (shared)": "zeros"}
    assert conversions.leaf_states(vmm, 1) == ["FREE"]
    expected = ["KVM_SET_MEMORY_ATTRIBUTES2 → 0"] if in_place else ["KVM_SET_MEMORY_ATTRIBUTES → 0", "fallocate → 0"]
    assert s.vmm_ops == expected


@pytest.mark.parametrize(("in_place", "host"), [(True, "SIGBUS"), (False, "zeros")])
def test_to_private_augs_on_accept(in_place, host):
    vmm, s, calls = convert(in_place, False, 1)
    assert s.seamcalls == []
    assert [c["leaf"] for c in calls["guest accepts 0x1000"].seamcalls] == ["TDH.MEM.PAGE.AUG"]
    assert s.reads == {"guest reads 0x1000": "zeros", "host reads 0x1000": host}
    assert conversions.leaf_states(vmm, 1) == ["MAPPED"]


def test_a_vmm_that_ignores_the_exit():
    _vmm, s, _calls = convert(True, True, 1, "ignore")
    assert s.vmm_ops == [] and s.seamcalls == []
    assert s.reads == {"host reads 0x1000": "SIGBUS", "guest reads 0x1000 (shared)": "-EFAULT"}


def test_conversion_panel_every_combination():
    from tdxsim.widgets.lessons import conversion_panel

    box = conversion_panel()
    c = box.controls
    assert (
        repr(box)
        == "<conversion: in-place, to shared, 1 page(s), VMM convert → 1 exit(s), TDVMCALL TDVMCALL_STATUS_SUCCESS>"
    )
    for model in (False, True):
        for direction in (False, True):
            for vmm in ("ignore", "convert"):
                c["model"].value, c["direction"].value, c["vmm"].value = model, direction, vmm
                assert len(box.state.summary.chunks) == 1
                assert box.state.owners.value.tobytes().startswith(b"\x89PNG")
    c["pages"].value = 1025  # the slider's other extreme
    assert len(box.state.summary.chunks) == 3
