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


class Fold:
    """A run's `state` events folded, in order, into the state they say: each one's `old` must be what the fold says
    at that point. KVM's events are folded only when `kvm` is set (they do not name their VM); S-EPT events do not
    name their TD, so they are kept, and folded by `sept()` once the caller knows there was one TD."""

    def __init__(self, events: list, kvm: bool) -> None:
        self.keyids: dict = {}
        self.pamt: dict = {}
        self.lifecycle: dict = {}
        self.op_state: dict = {}
        self.epoch: dict = {}
        self.vps: dict = {}
        self.sept_events: list = []
        self.kvm_state: dict = {}
        self.vcpus: dict = {}
        self.memslots: dict = {}
        self.folios: dict = {}
        self.uptodate: dict = {}
        self.mirror: dict = {}
        self.mirror_nonleaf: dict = {}
        self.shared: dict = {}
        self.gmems: list = []
        self.dead: list = []
        self.attrs: dict = {}
        self.gmem_attrs: dict = defaultdict(dict)
        for ev in events:
            if ev.kind == "state" and (kvm or ev.layer != "kvm"):
                self._fold(ev)

    def _fold(self, ev: Any) -> None:
        d, what = ev.data, (ev.layer, ev.name)
        if what == ("mem", "keyid"):
            _chain(self.keyids, d["pfn"], ev, 0)
        elif what == ("tdx", "pamt"):
            _chain(self.pamt, d["pfn"], ev, "PT_NDA")
        elif what == ("tdx", "sept"):
            self.sept_events.append(ev)
        elif what == ("tdx", "lifecycle"):
            _chain(self.lifecycle, d["tdr"], ev)
        elif what == ("tdx", "op_state"):
            _chain(self.op_state, d["tdr"], ev, "OP_STATE_UNINITIALIZED")
        elif what == ("tdx", "td_epoch"):
            _chain(self.epoch, d["tdr"], ev, 1)
        elif what == ("tdx", "vp"):  # TDH.VP.INIT: the vCPU and the RCX it hands the guest
            assert isinstance(d["rcx"], int), ev
            _chain(self.vps, d["tdvpr"], ev, "uninitialized")
        elif what == ("kvm", "td_state"):
            _chain(self.kvm_state, "td", ev)
        elif what == ("kvm", "vm_dead"):
            assert (d["old"], d["new"]) == (False, True) and isinstance(d["why"], str) and d["why"], ev
            self.dead.append(d["why"])
        elif what == ("kvm", "vcpu_state"):
            _chain(self.vcpus, d["vcpu"], ev)
        elif what == ("kvm", "memslot"):
            _chain(self.memslots, d["slot"], ev)
        elif what == ("kvm", "guest_memfd"):
            assert (d["old"], d["new"]) == (None, "created"), ev
            self.gmems.append((d["gmem"], d["size"], d["flags"]))
        elif what == ("kvm", "gmem_folio"):
            _chain(self.folios, (d["gmem"], d["index"]), ev)
            if d["new"] is None:  # the folio is gone, and its up-to-date flag with it
                self.uptodate.pop((d["gmem"], d["index"]), None)
        elif what == ("kvm", "gmem_uptodate"):
            _chain(self.uptodate, (d["gmem"], d["index"]), ev, False)
        elif what == ("kvm", "mirror_spte"):
            present = {"present": d.get("pfn", True)}.get(d["new"])
            fold = self.mirror if d["level"] == 0 else self.mirror_nonleaf
            key = d["gpa"] >> 12 if d["level"] == 0 else (d["level"], d["gpa"])
            assert d["old"] == ("present" if key in fold else "non-present") and d["new"] != d["old"], ev
            if present is None:
                fold.pop(key)
            else:
                fold[key] = present
        elif what == ("kvm", "shared_spte"):
            assert d["level"] == 0 and d["old"] == ("present" if d["gpa"] >> 12 in self.shared else "non-present"), ev
            if d["new"] == "present":
                self.shared[d["gpa"] >> 12] = d["pfn"]
            else:
                del self.shared[d["gpa"] >> 12]
        elif what == ("kvm", "mem_attributes"):
            assert d["old"] != d["new"] and d["new"] in ("private", "shared"), ev
            gfns = range(d["address"] // PAGE, (d["address"] + d["size"]) // PAGE)
            # `old` is what the range held (a range that already had the new value is not an event at all)
            assert any(self.attrs.get(gfn, False) == (d["old"] == "private") for gfn in gfns), ev
            for gfn in gfns:
                self.attrs[gfn] = d["new"] == "private"
        elif what == ("kvm", "gmem_attributes"):
            assert d["old"] != d["new"] and d["new"] in ("private", "shared"), ev
            for index in range(d["offset"] // PAGE, (d["offset"] + d["size"]) // PAGE):
                self.gmem_attrs[d["gmem"]][index] = d["new"] == "private"

    def sept(self) -> dict:
        """The S-EPT events folded as one TD's: (level, GPA) -> state."""
        sept: dict = {}
        for ev in self.sept_events:
            _chain(sept, (ev.data["level"], ev.data["gpa"]), ev, "FREE")
        return sept


def _check_module(fold: Fold, module: Any) -> None:
    """The TDX module's part of the fold equals the live module: frame KeyIDs, PAMT, each TD's lifecycle, OP_STATE,
    epoch and vCPUs."""
    assert fold.keyids == {pfn: f.keyid for pfn, f in module.mem.frames.items() if f.keyid}, "frame KeyIDs"
    assert fold.pamt == {pfn: pt.value for pfn, (pt, _) in module.pamt.items()}, "PAMT"
    for tdr, td in module.tds.items():
        assert fold.lifecycle.get(tdr) == td.lifecycle.value, "TD lifecycle"
        assert fold.op_state.get(tdr, "OP_STATE_UNINITIALIZED") == td.op_state.value, "OP_STATE"
        assert fold.epoch.get(tdr, 1) == td.td_epoch, "TD epoch"
        for tdvpr, vp in td.vps.items():
            assert (fold.vps.get(tdvpr) == "initialized") is vp.initialized, ("vCPU", tdvpr)


def _check_sept(sept: dict, module: Any) -> None:
    """The folded S-EPT equals the live one of the module's only TD."""
    (td,) = module.tds.values()
    assert sept == {key: state.value for key, state in td.sept.items()}, "S-EPT"


def check_module_record(module: Any) -> None:
    """The TDX module's part alone (frame KeyIDs, PAMT, lifecycle, OP_STATE, TD epoch, vCPUs, and the S-EPT of a
    single TD), for tests that drive the module without KVM."""
    fold = Fold(module.trace.events, kvm=False)
    _check_module(fold, module)
    if len(fold.lifecycle) == 1 and len(module.tds) == 1:
        _check_sept(fold.sept(), module)


def check_record_matches_state(vmm: Vmm) -> None:
    """Fold the run's state events and compare with the machine (see the module docstring)."""
    if not vmm.trace.enabled or len(vmm.vms) > 1:
        return
    fold = Fold(vmm.trace.events, kvm=True)
    sept = fold.sept()  # one VM: every S-EPT event is its TD's
    module, kvm = vmm.module, vmm.kvm
    _check_module(fold, module)
    if len(module.tds) == 1:
        _check_sept(sept, module)
    if kvm is None:
        return
    assert fold.kvm_state.get("td") == kvm.tdx.state, "KVM TD state"
    assert bool(fold.dead) == kvm.vm_dead and len(fold.dead) <= 1, ("vm_dead", fold.dead)
    assert fold.vcpus == {vid: v.tdx_state for vid, v in kvm.vcpus.items()}, "vCPU states"
    assert set(fold.memslots) == set(kvm.memslots), "memslots"
    assert fold.gmems == [(g.number, g.size, g.flags) for g in kvm.gmems], "guest_memfds"
    assert fold.folios == {(g.number, i): pfn for g in kvm.gmems for i, pfn in g.folios.items()}, "guest_memfd folios"
    # only v8's zeroing of a folio that is not up to date records the flag (v8 21/46); the other places that mark a
    # folio up to date (a user fault, a populate) do not, so the folded set is a part of the live one
    assert set(fold.uptodate) <= {(g.number, i) for g in kvm.gmems for i in g.uptodate}, "guest_memfd up-to-date folios"
    assert fold.mirror == kvm.mmu.mirror, "mirror EPT leaves"
    assert set(fold.mirror_nonleaf) == set(kvm.mmu.mirror_nonleaf), "mirror EPT tables"
    assert fold.shared == kvm.mmu.shared, "shared EPT"
    for gfn, private in fold.attrs.items():
        assert bool(kvm.mem_attrs.get(gfn) & KVM_MEMORY_ATTRIBUTE_PRIVATE) == private, ("attribute", hex(gfn))
    for gmem in kvm.gmems:
        for index, private in fold.gmem_attrs[gmem.number].items():
            assert gmem.is_private(index) == private, ("guest_memfd attribute", gmem.number, index)
