"""The event record replays to the machine's state: every state change is recorded, in order, as it happened.

STYLE's rule for the package ("every transition is recorded as an event, so figures and traces are drawn from the
same record that tests check"), as a check: fold the `state` events of a run, each one's `old` equal to what the
fold says at that point, and compare the result with the live objects at the end — frame KeyIDs, PAMT types,
S-EPT entries, TD lifecycle and OP_STATE, KVM's TD and vCPU states, VM death (with its reason), memslots,
guest_memfd folios (and those v8 zeroed are still up to date), the mirror and shared EPT, and the memory attributes.
Used by tests/conftest.py on every scenario the KVM-level tests replay (one VM; with several, KVM's events do not say
which VM they belong to).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE
from tdxsim.vmm.process import Vmm

PAGE = 4096


def _chain(fold: dict, key: Any, ev: Any, default: Any = None) -> None:
    """One transition of `key`: its recorded `old` must be the folded value; then it becomes `new`."""
    assert fold.get(key, default) == ev.data["old"], (ev.layer, ev.name, key, "folded", fold.get(key, default), ev)
    if ev.data["new"] == default:
        fold.pop(key, None)
    else:
        fold[key] = ev.data["new"]


def check_module_record(module: Any) -> None:
    """The TDX module's part alone (frame KeyIDs, PAMT, lifecycle, OP_STATE, TD epoch, vCPUs, and the S-EPT of a
    single TD), for tests that drive the module without KVM."""
    keyids: dict = {}
    pamt: dict = {}
    sept: dict = {}
    lifecycle: dict = {}
    op_state: dict = {}
    epoch: dict = {}
    vps: dict = {}
    sept_events: list = []
    for ev in module.trace.events:
        if ev.kind != "state":
            continue
        d, what = ev.data, (ev.layer, ev.name)
        if what == ("mem", "keyid"):
            _chain(keyids, d["pfn"], ev, 0)
        elif what == ("tdx", "pamt"):
            _chain(pamt, d["pfn"], ev, "PT_NDA")
        elif what == ("tdx", "sept"):
            sept_events.append(ev)  # S-EPT events do not name their TD: folded below only if there was one TD
        elif what == ("tdx", "lifecycle"):
            _chain(lifecycle, d["tdr"], ev)
        elif what == ("tdx", "op_state"):
            _chain(op_state, d["tdr"], ev, "OP_STATE_UNINITIALIZED")
        elif what == ("tdx", "td_epoch"):
            _chain(epoch, d["tdr"], ev, 1)
        elif what == ("tdx", "vp"):  # TDH.VP.INIT: the vCPU and the RCX it hands the guest
            assert isinstance(d["rcx"], int), ev
            _chain(vps, d["tdvpr"], ev, "uninitialized")
    assert keyids == {pfn: f.keyid for pfn, f in module.mem.frames.items() if f.keyid}, "frame KeyIDs"
    assert pamt == {pfn: pt.value for pfn, (pt, _) in module.pamt.items()}, "PAMT"
    for tdr, td in module.tds.items():
        assert lifecycle.get(tdr) == td.lifecycle.value, "TD lifecycle"
        assert op_state.get(tdr, "OP_STATE_UNINITIALIZED") == td.op_state.value, "OP_STATE"
        assert epoch.get(tdr, 1) == td.td_epoch, "TD epoch"
        for tdvpr, vp in td.vps.items():
            assert (vps.get(tdvpr) == "initialized") is vp.initialized, ("vCPU", tdvpr)
    if len(lifecycle) == 1 and len(module.tds) == 1:
        for ev in sept_events:
            _chain(sept, (ev.data["level"], ev.data["gpa"]), ev, "FREE")
        (td,) = module.tds.values()
        assert sept == {key: state.value for key, state in td.sept.items()}, "S-EPT"


def check_record_matches_state(vmm: Vmm) -> None:
    """Fold the run's state events and compare with the machine (see the module docstring)."""
    if not vmm.trace.enabled or len(vmm.vms) > 1:
        return
    keyids: dict = {}
    pamt: dict = {}
    sept: dict = {}
    lifecycle: dict = {}
    op_state: dict = {}
    kvm_state: dict = {}
    vcpus: dict = {}
    memslots: dict = {}
    folios: dict = {}
    uptodate: dict = {}
    mirror: dict = {}
    mirror_nonleaf: dict = {}
    shared: dict = {}
    gmems: list = []
    dead: list = []
    attrs: dict = {}
    gmem_attrs: dict = defaultdict(dict)
    for ev in vmm.trace.events:
        if ev.kind != "state":
            continue
        d, what = ev.data, (ev.layer, ev.name)
        if what == ("mem", "keyid"):
            _chain(keyids, d["pfn"], ev, 0)
        elif what == ("tdx", "pamt"):
            _chain(pamt, d["pfn"], ev, "PT_NDA")
        elif what == ("tdx", "sept"):
            _chain(sept, (d["level"], d["gpa"]), ev, "FREE")
        elif what == ("tdx", "lifecycle"):
            _chain(lifecycle, d["tdr"], ev)
        elif what == ("tdx", "op_state"):
            _chain(op_state, d["tdr"], ev, "OP_STATE_UNINITIALIZED")
        elif what == ("kvm", "td_state"):
            _chain(kvm_state, "td", ev)
        elif what == ("kvm", "vm_dead"):
            assert (d["old"], d["new"]) == (False, True) and isinstance(d["why"], str) and d["why"], ev
            dead.append(d["why"])
        elif what == ("kvm", "vcpu_state"):
            _chain(vcpus, d["vcpu"], ev)
        elif what == ("kvm", "memslot"):
            _chain(memslots, d["slot"], ev)
        elif what == ("kvm", "guest_memfd"):
            assert (d["old"], d["new"]) == (None, "created"), ev
            gmems.append((d["gmem"], d["size"], d["flags"]))
        elif what == ("kvm", "gmem_folio"):
            _chain(folios, (d["gmem"], d["index"]), ev)
            if d["new"] is None:  # the folio is gone, and its up-to-date flag with it
                uptodate.pop((d["gmem"], d["index"]), None)
        elif what == ("kvm", "gmem_uptodate"):
            _chain(uptodate, (d["gmem"], d["index"]), ev, False)
        elif what == ("kvm", "mirror_spte"):
            present = {"present": d.get("pfn", True)}.get(d["new"])
            fold = mirror if d["level"] == 0 else mirror_nonleaf
            key = d["gpa"] >> 12 if d["level"] == 0 else (d["level"], d["gpa"])
            assert d["old"] == ("present" if key in fold else "non-present") and d["new"] != d["old"], ev
            if present is None:
                fold.pop(key)
            else:
                fold[key] = present
        elif what == ("kvm", "shared_spte"):
            assert d["level"] == 0 and d["old"] == ("present" if d["gpa"] >> 12 in shared else "non-present"), ev
            if d["new"] == "present":
                shared[d["gpa"] >> 12] = d["pfn"]
            else:
                del shared[d["gpa"] >> 12]
        elif what == ("kvm", "mem_attributes"):
            assert d["old"] != d["new"] and d["new"] in ("private", "shared"), ev
            gfns = range(d["address"] // PAGE, (d["address"] + d["size"]) // PAGE)
            # `old` is what the range held (a range that already had the new value is not an event at all)
            assert any(attrs.get(gfn, False) == (d["old"] == "private") for gfn in gfns), ev
            for gfn in gfns:
                attrs[gfn] = d["new"] == "private"
        elif what == ("kvm", "gmem_attributes"):
            assert d["old"] != d["new"] and d["new"] in ("private", "shared"), ev
            for index in range(d["offset"] // PAGE, (d["offset"] + d["size"]) // PAGE):
                gmem_attrs[d["gmem"]][index] = d["new"] == "private"
    mem, module, kvm = vmm.mem, vmm.module, vmm.kvm
    assert keyids == {pfn: f.keyid for pfn, f in mem.frames.items() if f.keyid}, "frame KeyIDs"
    assert pamt == {pfn: pt.value for pfn, (pt, _) in module.pamt.items()}, "PAMT"
    for tdr, td in module.tds.items():
        assert lifecycle.get(tdr) == td.lifecycle.value, "TD lifecycle"
        assert op_state.get(tdr, "OP_STATE_UNINITIALIZED") == td.op_state.value, "OP_STATE"
    if len(module.tds) == 1:
        (td,) = module.tds.values()
        assert sept == {key: state.value for key, state in td.sept.items()}, "S-EPT"
    if kvm is None:
        return
    assert kvm_state.get("td") == kvm.tdx.state, "KVM TD state"
    assert bool(dead) == kvm.vm_dead and len(dead) <= 1, ("vm_dead", dead)
    assert vcpus == {vid: v.tdx_state for vid, v in kvm.vcpus.items()}, "vCPU states"
    assert set(memslots) == set(kvm.memslots), "memslots"
    assert gmems == [(g.number, g.size, g.flags) for g in kvm.gmems], "guest_memfds"
    assert folios == {(g.number, i): pfn for g in kvm.gmems for i, pfn in g.folios.items()}, "guest_memfd folios"
    # only v8's zeroing of a folio that is not up to date records the flag (v8 21/46); the other places that mark a
    # folio up to date (a user fault, a populate) do not, so the folded set is a part of the live one
    assert set(uptodate) <= {(g.number, i) for g in kvm.gmems for i in g.uptodate}, "guest_memfd up-to-date folios"
    assert mirror == kvm.mmu.mirror, "mirror EPT leaves"
    assert set(mirror_nonleaf) == set(kvm.mmu.mirror_nonleaf), "mirror EPT tables"
    assert shared == kvm.mmu.shared, "shared EPT"
    for gfn, private in attrs.items():
        assert bool(kvm.mem_attrs.get(gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE) == private, ("attribute", hex(gfn))
    for gmem in kvm.gmems:
        for index, private in gmem_attrs[gmem.number].items():
            assert gmem.is_private(index) == private, ("guest_memfd attribute", gmem.number, index)
