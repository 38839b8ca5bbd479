"""Issue 12's worst failure, kept as a regression: a guest mapping that outlived its frame.

With in-place conversion off, a guest_memfd with GUEST_MEMFD_FLAG_MMAP but not INIT_SHARED (allowed for a TD since
20251003232606.4070510-6-seanjc@google.com) backs a guest_memfd-only memslot (kvm_gmem_bind sets
KVM_MEMSLOT_GMEM_ONLY when the file supports mmap), so the guest's shared access maps the guest_memfd's folio into
the shared EPT (kvm_mmu_faultin_pfn -> kvm_mmu_faultin_pfn_gmem). A hole punch drops the folio; before the fix it
zapped only the private side, so the guest went on reading and writing the freed frame after the VMM got it back for
its own anonymous memory, and a later conversion made that frame TD-private while it was still mapped shared.
"""

from __future__ import annotations

import pytest
from mapping_invariant import stale_guest_mappings

from tdxsim.kvm.flavours import FLAVOURS
from tdxsim.scenario import replay_scenario

SECRET = b"VMM-private-data"
SCRIBBLE = b"guest-scribble!!"


def fourteen_steps() -> list[dict]:
    return [
        {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"},
        {"op": "KVM_TDX_INIT_VM"},
        {"op": "KVM_CREATE_VCPU", "id": 0},
        {"op": "KVM_TDX_INIT_VCPU", "vcpu": 0},
        {"op": "KVM_CREATE_GUEST_MEMFD", "size": "0x4000", "flags": ["GUEST_MEMFD_FLAG_MMAP"], "label": "gmem"},
        {
            "op": "KVM_SET_USER_MEMORY_REGION2",
            "slot": 0,
            "flags": ["KVM_MEM_GUEST_MEMFD"],
            "guest_phys_addr": 0,
            "memory_size": "0x4000",
            "userspace_addr": "0x7f0000000000",
            "guest_memfd": 0,
            "guest_memfd_offset": 0,
        },
        {"op": "KVM_TDX_FINALIZE_VM"},
        {"op": "guest_write", "gpa": "0x1000", "data": {"text": "guest-shared"}, "shared": True, "label": "map"},
        {"op": "fallocate", "guest_memfd": 0, "offset": "0x1000", "length": "0x1000", "label": "punch"},
        {"op": "mmap", "length": "0x1000", "label": "vmm-mmap"},
        {"op": "write", "addr": "0x7f0000000000", "data": {"text": SECRET.decode()}},
        {"op": "guest_read", "gpa": "0x1000", "length": 16, "shared": True, "label": "guest-read"},
        {"op": "guest_write", "gpa": "0x1000", "data": {"text": SCRIBBLE.decode()}, "shared": True},
        {"op": "read", "addr": "0x7f0000000000", "length": 16, "label": "vmm-read"},
    ]


@pytest.mark.parametrize("kernel", list(FLAVOURS))
def test_a_punched_folio_is_unmapped_from_the_guest(kernel: str) -> None:
    doc = {"format": 1, "kernel": kernel, "steps": fourteen_steps()}
    if FLAVOURS[kernel].has_in_place:
        doc["gmem_in_place_conversion"] = False
    replay = replay_scenario(doc)
    steps = {s.get("label"): s for s in replay.output["steps"]}
    assert steps["gmem"]["ret"] == 0  # MMAP without INIT_SHARED is allowed for a TD (kvm_gmem_get_supported_flags)
    assert all(s["ret"] == 0 for s in replay.output["steps"])
    # The guest's shared page after the punch is a fresh, zeroed folio (kvm_gmem_get_pfn zeroes a new folio), not
    # the VMM's page; and the guest's store does not reach the VMM's memory.
    assert bytes.fromhex(steps["guest-read"]["data"]) == bytes(16)
    assert bytes.fromhex(steps["vmm-read"]["data"]) == SECRET
    assert stale_guest_mappings(replay.vmm) == []


def test_converting_after_the_punch_leaves_no_shared_alias_of_a_td_page() -> None:
    """One more conversion (to private, then the guest's private access AUGs the page): the frame the TD gets is
    mapped by the mirror only."""
    steps = fourteen_steps() + [
        {"op": "KVM_SET_MEMORY_ATTRIBUTES", "address": "0x1000", "size": "0x1000", "attributes": 8},
        {"op": "guest_accept", "gpa": "0x1000"},
        {"op": "guest_write", "gpa": "0x1000", "data": {"text": "td-private"}},
    ]
    replay = replay_scenario({"format": 1, "kernel": "kvm-x86-2026-06", "steps": steps})
    assert [s["ret"] for s in replay.output["steps"]][-3:] == [0, 0, 0]
    assert 0x1 not in replay.vmm.kvm.mmu.shared and 0x1 in replay.vmm.kvm.mmu.mirror
    assert stale_guest_mappings(replay.vmm) == []
