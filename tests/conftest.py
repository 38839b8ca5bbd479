"""Checks that run under the tests of the TDX module and of KVM, on everything they do.

1. Each SEAMCALL records itself, once, as it was made.

The contract's `seamcalls` output (docs/scenario.md "Each step") lists each SEAMCALL with its leaf name, `gpa` and
`level` where they apply, and its status; figures and traces read the same record. So in the module's own tests
every `TdxModule.tdh_*` call is wrapped: it must add exactly one seamcall event (a successful TDH.MR.EXTEND may
extend the previous one instead) named as the leaf is (`tdh_mem_page_add` is TDH.MEM.PAGE.ADD, the TDH_*_LEAF
names of intel/tdx-module include/tdx_api_defs.h), carrying the status and code the call returned and the `gpa`
and `level` it was given; and the record, folded, matches the module's state after the call.

The guest's TDCALLs (`tdg_*`) likewise record one `tdcall` event each, with the leaf, status, code and `gpa`.

2. The record replays to the machine's state (tests/trace_replay.py): under the KVM-level tests, every scenario
replayed through tdxsim.scenario is checked after its last step.
"""

from __future__ import annotations

import functools
import inspect

import pytest
from trace_replay import check_module_record, check_record_matches_state

from tdxsim import scenario
from tdxsim.tdx.module import TdxModule
from tdxsim.tdx.status import status_name

CHECKED_TEST_MODULES = {"test_tdx_module", "test_playground", "test_multi_vm", "test_module_rules"}
REPLAYED_TEST_MODULES = {"test_outcome_matrix", "test_runtime", "test_seed_thread", "test_multi_vm", "test_kvm_rules"}


def _recorded(method):
    signature = inspect.signature(method)
    leaf = method.__name__.upper().replace("_", ".")

    @functools.wraps(method)
    def call(self: TdxModule, *args, **kwargs):
        events = self.trace.events
        before = len(events)
        last_count = events[-1].data.get("count") if events else None
        ret = method(self, *args, **kwargs)
        code = ret[0] if isinstance(ret, tuple) else ret
        if not self.trace.enabled:
            return ret
        new = [ev for ev in events[before:] if ev.kind == "seamcall"]
        if not new and leaf == "TDH.MR.EXTEND" and code == 0:
            new = [events[-1]]  # merged into the previous MR.EXTEND (Trace.seamcall)
            assert events[-1].data["count"] == last_count + 1, "a merged MR.EXTEND must count itself"
        assert [ev.name for ev in new] == [leaf], f"{leaf} recorded {[ev.name for ev in new]}"
        data = new[0].data
        assert (data["status"], data["code"]) == (status_name(code), code), (leaf, data, hex(code))
        bound = signature.bind(self, *args, **kwargs).arguments
        if "gpa" in bound and data["count"] == 1:
            assert data.get("gpa") == bound["gpa"], (leaf, data)
        if "level" in bound:
            assert data.get("level") == bound["level"], (leaf, data)
        check_module_record(self)  # and its state changes are in the record (tests/trace_replay.py)
        return ret

    return call


def _tdcall_recorded(method):
    """The same for the guest's TDCALLs (TdxModule.tdg_*): one `tdcall` event, named as the leaf (TDG_MEM_PAGE_ACCEPT
    of tdx_api_defs.h is TDG.MEM.PAGE.ACCEPT), with the status and code the call returned and the GPA it was given; a
    call that ends in an EPT-violation exit instead has no completion status (EPT_VIOLATION_EXIT, code -1)."""
    leaf = method.__name__.upper().replace("_", ".")

    @functools.wraps(method)
    def call(self: TdxModule, tdr: int, gpa: int):
        before = len(self.trace.events)
        code, ept_violation = method(self, tdr, gpa)
        if self.trace.enabled:
            new = [ev for ev in self.trace.events[before:] if ev.kind == "tdcall"]
            assert [(ev.layer, ev.name) for ev in new] == [("guest", leaf)], new
            status = "EPT_VIOLATION_EXIT" if ept_violation else status_name(code)
            assert new[0].data == {"status": status, "code": code, "gpa": gpa}, (new[0].data, hex(code))
            assert (code == -1) is ept_violation
        return code, ept_violation

    return call


@pytest.fixture(autouse=True)
def seamcall_records_checked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrap every TdxModule.tdh_* for the tests of the module (CHECKED_TEST_MODULES)."""
    if request.module.__name__ not in CHECKED_TEST_MODULES:
        return
    for name, method in vars(TdxModule).items():
        if name.startswith("tdh_") and callable(method):
            monkeypatch.setattr(TdxModule, name, _recorded(method))
        elif name.startswith("tdg_") and callable(method):
            monkeypatch.setattr(TdxModule, name, _tdcall_recorded(method))


@pytest.fixture(autouse=True)
def record_replays_to_state(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """After every scenario the KVM-level tests replay, fold its record and compare (REPLAYED_TEST_MODULES)."""
    if request.module.__name__ not in REPLAYED_TEST_MODULES:
        return
    replay = scenario.replay_scenario

    def checked(doc):
        result = replay(doc)
        check_record_matches_state(result.vmm)
        return result

    monkeypatch.setattr(scenario, "replay_scenario", checked)
