"""tdxsim.calls: the code shown for calls makes the same calls.

Run in a fresh namespace, the script `scenario_code(doc)` prints must leave the machine in the state `run_scenario(doc)`
reports (every example of the contract), and a seed-matrix run's `code` must give the same adds; both are checked
against the replay, never against the text itself.
"""

import json
from pathlib import Path

import pytest

from tdxsim.calls import Calls, scenario_code, step_names
from tdxsim.scenario import describe_final, run_scenario
from tdxsim.seed import ROWS, outcome, run_cell

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.json"))


def fresh(code: str) -> dict:
    namespace: dict = {}
    exec(compile(code, "<shown calls>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_scenario_code_reproduces_every_example(path):
    doc = json.loads(path.read_text())
    out = run_scenario(doc)
    ns = fresh(scenario_code(doc))
    assert describe_final(ns["vmm"]) == out["final"]
    for name, step in zip(step_names(doc), out["steps"], strict=True):
        if name is not None:
            assert (ns[name].ret, ns[name].errno) == (step["ret"], step["errno"]), name


@pytest.mark.parametrize("row", ROWS, ids=[r.label for r in ROWS])
def test_seed_code_reproduces_the_cell(row):
    run = run_cell(row.toggles.replace(kernel="v13" if row.toggles.in_place else "pre-2a62345b3052"))
    ns = fresh(run.code)
    last = ns["add_again" if row.toggles.add_twice else "add"]
    assert (last.ret, last.errno, last.seamcalls) == (outcome(run).ret, outcome(run).errno, outcome(run).seamcalls)
    assert ns["vmm"].mrtd() == run.vmm.mrtd()


def test_flags_print_by_name_and_defaults_are_left_out():
    """The uAPI names a reader finds in include/uapi/linux/kvm.h, not numbers; QEMU's defaults are not repeated."""
    calls = Calls("v8")
    calls("KVM_CREATE_VM")
    calls("KVM_TDX_INIT_VM")
    calls("KVM_CREATE_GUEST_MEMFD", size=1 << 20, flags=3)
    assert calls.lines[1:] == [
        "vmm.KVM_CREATE_VM()",
        "vmm.KVM_TDX_INIT_VM()",
        "vmm.KVM_CREATE_GUEST_MEMFD(size=0x100000, "
        "flags=uapi.GUEST_MEMFD_FLAG_MMAP | uapi.GUEST_MEMFD_FLAG_INIT_SHARED)",
    ]
    assert "from tdxsim.kvm import uapi" in calls.code


@pytest.mark.parametrize("in_place", [True, False])
def test_recorded_steps_replay_to_the_recorded_machine(in_place):
    """StepRecorder's steps, replayed by the scenario runner, succeed and leave the machine the recipes built (same
    final state: pages, owners, S-EPT, MRTD)."""
    import tdxsim
    from tdxsim import recipes
    from tdxsim.calls import StepRecorder
    from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE as PRIVATE

    vmm = tdxsim.Vmm("v8", gmem_in_place_conversion=in_place)
    recorder = StepRecorder(vmm)
    recipes.create_td(recorder)
    binding, _ = recipes.bind_guest_memfd(recorder, 1 << 20)
    recipes.load_image(recorder, binding, 0x1000, bytes(range(256)) * 16)
    if in_place:  # the page the guest accepts must be private first (INIT_SHARED made it shared)
        recorder.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=0, offset=0x3000, size=0x1000, attributes=PRIVATE)
    recipes.run_guest(recorder, accept=(0x3000,))
    doc = {"format": 1, "kernel": "v8", "gmem_in_place_conversion": in_place, "steps": recorder.steps}
    out = run_scenario(doc)
    assert all(step["ret"] == 0 for step in out["steps"])
    assert out["final"] == describe_final(vmm)
    ops = [s["op"] for s in recorder.steps]
    assert ops[:4] == ["KVM_CREATE_VM", "KVM_TDX_INIT_VM", "KVM_CREATE_VCPU", "KVM_TDX_INIT_VCPU"]
    assert ops[-2:] == ["KVM_TDX_FINALIZE_VM", "guest_accept"]
