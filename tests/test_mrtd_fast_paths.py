"""The module's cheap common-case checks for TDH.MEM.PAGE.ADD and TDH.MR.EXTEND give the statuses of the full checks.

Both leaves take a short path when every check would pass (tdxsim/tdx/module.py) and the full checks, in the module's
order, otherwise. These tests put a TD in a state the short path has to notice and compare with what the sources say.
"""

from __future__ import annotations

import hashlib

import pytest
from test_tdx_module import DATA, GPA, PAGE, TDX_SUCCESS, TDX_TD_KEYS_NOT_CONFIGURED, Machine

from tdxsim.vmm.firmware import measure_firmware


def _blocked_during_build() -> Machine:
    """A TD in OP_STATE_INITIALIZED with one page added and its first chunk extended, then TDH.MNG.VPFLUSHDONE:
    lifecycle TD_BLOCKED while OP_STATE stays INITIALIZED (tdh_mng_vpflushdone.c changes only the lifecycle)."""
    m = Machine().build()
    m.sept_path(GPA)
    m.add(GPA, DATA)
    assert m.module.tdh_mr_extend(m.tdr, GPA) == TDX_SUCCESS  # the page is now the extend path's remembered one
    assert m.module.tdh_mng_vpflushdone(m.tdr) == TDX_SUCCESS
    assert (m.td.lifecycle.value, m.td.op_state.value) == ("TD_BLOCKED", "OP_STATE_INITIALIZED")
    return m


def test_mr_extend_of_a_blocked_td_is_keys_not_configured() -> None:
    """helpers.c check_td_in_correct_build_state (intel/tdx-module TDX_1.5.01), called first by every TDCS-using
    leaf: a lifecycle other than TD_KEYS_CONFIGURED is TDX_TD_KEYS_NOT_CONFIGURED, whatever OP_STATE says; so the
    next chunk of a page just extended is refused and MRTD's hash state does not move."""
    m = _blocked_during_build()
    before = m.td.sha.copy().digest()
    assert m.module.tdh_mr_extend(m.tdr, GPA + 256) == TDX_TD_KEYS_NOT_CONFIGURED
    assert m.td.sha.digest() == before


def test_page_add_to_a_blocked_td_is_keys_not_configured() -> None:
    """The same check for TDH.MEM.PAGE.ADD (tdh_mem_page_add.c, helpers.c check_td_in_correct_build_state): the
    target page stays PT_NDA and its S-EPT entry FREE."""
    m = _blocked_during_build()
    target = m.page()
    assert m.module.tdh_mem_page_add(m.tdr, GPA + PAGE, target, m.page(DATA)) == TDX_TD_KEYS_NOT_CONFIGURED
    assert (m.pt(target), m.state(GPA + PAGE)) == ("PT_NDA", "FREE")


@pytest.mark.parametrize("record", [True, False])
def test_recording_off_changes_no_call(record: bool) -> None:
    """With recording off the traced KVM functions run unwrapped (tdxsim.events.untraced): the same SEAMCALLs
    succeed and the same MRTD comes out as with recording on (here a two-section image: 2 PAGE.ADD, 16 MR.EXTEND)."""
    from tdxsim.tdvf import BFV, MR_EXTEND, TD_HOB, SectionSpec, build_tdvf_image

    image = build_tdvf_image(
        [SectionSpec(BFV, (1 << 32) - PAGE, PAGE, MR_EXTEND, DATA), SectionSpec(TD_HOB, 0x809000, PAGE)]
    )
    result = measure_firmware(image, record=record)
    assert (result.page_add, result.mr_extend) == (2, 16)
    assert result.mrtd == measure_firmware(image, record=not record).mrtd
    assert bool(result.vmm.trace.events) == record
    kvm = result.vmm.kvm
    assert kvm is not None
    unwrapped = "tdx_gmem_post_populate" in vars(kvm.tdx)
    assert unwrapped == (not record)


def _record(tag: bytes, gpa: int) -> bytes:
    """intel/tdx-module TDX_1.5.01 src/common/crypto/sha384.h sha384_128B_block_t: the tag zero-padded to 16 bytes,
    the GPA as u64 little-endian, zeros to 128 bytes."""
    return tag.ljust(16, b"\0") + gpa.to_bytes(8, "little") + bytes(104)


def test_mr_extend_reads_the_page_as_it_is_at_each_call() -> None:
    """tdh_mr_extend.c hashes the 256 bytes at the GPA when it is called: after the page's first chunk is extended
    and its contents change (no S-EPT entry changes), the next chunk is the new contents, not a remembered copy."""
    m = Machine().build()
    m.sept_path(GPA)
    target = m.add(GPA, DATA)
    assert m.module.tdh_mr_extend(m.tdr, GPA) == TDX_SUCCESS
    new = bytes(reversed(DATA))
    m.mem.write(target, 0, new)
    assert m.module.tdh_mr_extend(m.tdr, GPA + 256) == TDX_SUCCESS
    expected = hashlib.sha384(
        _record(b"MEM.PAGE.ADD", GPA)
        + _record(b"MR.EXTEND", GPA)
        + DATA[:256]
        + _record(b"MR.EXTEND", GPA + 256)
        + new[256:512]
    )
    assert m.td.sha.digest() == expected.digest()
