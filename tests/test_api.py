"""The Python API: `tdxsim.Vmm` calls return one `Result`, and the queries read the state the chapters show.

Expected values come from the sources, not from the simulator's output:
- intel/tdx-module TDX_1.5.01: TDH.MEM.PAGE.AUG maps a free leaf in the PENDING state
  (src/vmm_dispatcher/api_calls/tdh_mem_page_aug.c), TDG.MEM.PAGE.ACCEPT is allowed only on a PENDING leaf
  (include/auto_gen/sept_state_lookup.c `tdcall_sept_state_lookup`) and leaves it MAPPED
  (tdg_mem_page_accept.c); PAGE.AUG/ACCEPT give the page PAMT type PT_REG.
- Linux arch/x86/kvm/vmx/tdx.c tdx_handle_ept_violation: a private fault on a FREE GPA is resolved by KVM with
  TDH.MEM.PAGE.AUG; without SEPT_VE_DISABLE the guest's access to a PENDING page is a #VE (TDX module
  TDX_1.5.01, ept_violation / #VE on a pending page).
- QEMU target/i386/kvm/tdx.c tdx_guest_init: sept-ve-disable defaults on; docs/scenario.md: KVM_TDX_INIT_VM's
  `attributes` default ["SEPT_VE_DISABLE"].
"""

from __future__ import annotations

import hashlib

import tdxsim
from tdxsim.kvm import uapi

MiB = 1 << 20
GPA = 0x1000


def _finalized_td(attributes: int | None = None) -> tdxsim.Vmm:
    """The intel-tdx.rst creation flow, out of place (kvm-x86-2026-06): VM, INIT_VM, vCPU, gmem, memslot made
    private, FINALIZE with nothing added (every page then comes from AUG)."""
    vmm = tdxsim.Vmm("kvm-x86-2026-06")
    vmm.KVM_CREATE_VM()
    r = vmm.KVM_TDX_INIT_VM() if attributes is None else vmm.KVM_TDX_INIT_VM(attributes=attributes)
    assert r.ret == 0, r
    vmm.KVM_CREATE_VCPU(id=0)
    assert vmm.KVM_TDX_INIT_VCPU(vcpu=0).ret == 0
    fd = vmm.KVM_CREATE_GUEST_MEMFD(size=2 * MiB)["fd"]
    addr = vmm.mmap(length=2 * MiB)["addr"]
    r = vmm.KVM_SET_USER_MEMORY_REGION2(
        slot=0,
        flags=uapi.KVM_MEM_GUEST_MEMFD,
        guest_phys_addr=0,
        memory_size=2 * MiB,
        userspace_addr=addr,
        guest_memfd=fd,
        guest_memfd_offset=0,
    )
    assert r.ret == 0, r
    assert vmm.KVM_SET_MEMORY_ATTRIBUTES(address=0, size=2 * MiB, attributes=uapi.KVM_MEMORY_ATTRIBUTE_PRIVATE).ok
    assert vmm.KVM_TDX_FINALIZE_VM().ret == 0
    return vmm


def test_init_vm_defaults_attributes_to_sept_ve_disable_as_qemu() -> None:
    vmm = tdxsim.Vmm()
    vmm.KVM_CREATE_VM()
    vmm.KVM_TDX_INIT_VM()
    assert vmm.kvm is not None
    assert vmm.kvm.tdx.attributes & uapi.TDX_TD_ATTR_SEPT_VE_DISABLE


def test_result_carries_ret_errno_and_seamcalls() -> None:
    vmm = tdxsim.Vmm()
    r = vmm.KVM_TDX_INIT_VM()  # no VM fd yet: -EBADF, as for an fd that is not open
    assert r["ret"] == r.ret < 0
    assert r.errno == "EBADF"
    assert not r.ok
    vmm.KVM_CREATE_VM()
    r = vmm.KVM_TDX_INIT_VM()
    assert r.errno is None
    # tdx_td_init (arch/x86/kvm/vmx/tdx.c) creates the TD with TDH.MNG.CREATE before TDH.MNG.INIT.
    leaves = [c["leaf"] for c in r.seamcalls]
    assert leaves.index("TDH.MNG.CREATE") < leaves.index("TDH.MNG.INIT")
    assert all(c["status"] == "TDX_SUCCESS" for c in r.seamcalls)
    assert "KVM_TDX_INIT_VM" in repr(r) and "TDH.MNG.CREATE" in repr(r)
    assert "<table>" in r._repr_html_()
    assert any(c["fn"] == "tdx_td_init" for c in r.calls)


def test_pending_is_observable_between_aug_and_accept() -> None:
    vmm = _finalized_td(attributes=0)  # no SEPT_VE_DISABLE: the guest gets a #VE on a PENDING page
    assert vmm.sept_state(GPA) == "FREE"
    r = vmm.guest_read(gpa=GPA, length=8)
    assert r.get("exception") == "#VE"
    assert [c["leaf"] for c in r.seamcalls if c["leaf"] == "TDH.MEM.PAGE.AUG"] == ["TDH.MEM.PAGE.AUG"]
    assert vmm.sept_state(GPA) == "PENDING"
    walk = vmm.sept_walk(GPA)
    assert walk[0]["level"] == 3 and walk[-1]["level"] == 0 and walk[-1]["state"] == "PENDING"
    assert all(step["state"] == "NL_MAPPED" for step in walk[:-1])
    pfn = walk[-1]["pfn"]
    assert vmm.mirror_entry(GPA) == pfn
    assert vmm.frame(pfn * 4096)["pamt"] == "PT_REG"
    r = vmm.guest_accept(gpa=GPA)
    assert r.ok
    assert [(c["leaf"], c["status"]) for c in r.tdcalls] == [("TDG.MEM.PAGE.ACCEPT", "TDX_SUCCESS")]
    assert vmm.sept_state(GPA) == "MAPPED"
    assert any(c["what"] == "sept" and c["old"] == "PENDING" and c["new"] == "MAPPED" for c in r.changes)


def test_accept_with_sept_ve_disable_goes_free_pending_mapped_in_one_call() -> None:
    vmm = _finalized_td()
    r = vmm.guest_accept(gpa=GPA)
    assert r.ok
    seq = [(c["old"], c["new"]) for c in r.changes if c["what"] == "sept" and c["level"] == 0]
    assert seq == [("FREE", "PENDING"), ("PENDING", "MAPPED")]
    assert vmm.sept_state(GPA) == "MAPPED"


def test_queries_before_anything_exists() -> None:
    vmm = tdxsim.Vmm()
    assert vmm.td_state() == "TD_STATE_UNINITIALIZED"
    assert vmm.sept_state(0) == "FREE" and vmm.sept_walk(0) == [] and vmm.mirror_entry(0) is None
    assert vmm.mrtd() is None and vmm.vcpu_state(0) is None and vmm.gmem_attributes(0, 0) is None
    vmm.KVM_CREATE_VM()
    vmm.KVM_TDX_INIT_VM()
    # TDH.MNG.INIT starts MRTD as SHA-384 of nothing; FINALIZE takes the digest (TDX module TDX_1.5.01
    # tdh_mng_init.c / tdh_mr_finalize.c).

    assert vmm.mrtd() == hashlib.sha384().digest()
    vmm.KVM_CREATE_VCPU(id=0)
    assert vmm.vcpu_state(0) == "VCPU_TD_STATE_UNINITIALIZED"
    vmm.KVM_TDX_INIT_VCPU(vcpu=0)
    assert vmm.vcpu_state(0) == "VCPU_TD_STATE_INITIALIZED"
