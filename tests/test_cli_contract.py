"""`python -m tdxsim run FILE` and `run_scenario` against docs/scenario.md (the public contract).

Valid scenarios: exit 0 and one JSON object with the required fields in the required formats. Malformed ones:
exactly one stderr line `tdxsim: FILE: [step N: ]what is wrong`, exit 2, never a traceback.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scenario_helpers import LEAF_STATES, doc, mrtd, td_setup

REPO = Path(__file__).resolve().parents[1]
HEX = re.compile(r"^0x[0-9a-f]+$")
DATA_HEX = re.compile(r"^([0-9a-f]{2})*$")
ERRNO_NAME = re.compile(r"^E[A-Z0-9]+$")

# The contract's own example input, verbatim.
EXAMPLE = {
    "format": 1,
    "kernel": "v8",
    "gmem_in_place_conversion": True,
    "steps": [
        {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"},
        {"op": "KVM_TDX_INIT_VM"},
        {"op": "KVM_CREATE_VCPU", "id": 0},
        {"op": "KVM_TDX_INIT_VCPU", "vcpu": 0},
        {
            "op": "KVM_CREATE_GUEST_MEMFD",
            "size": 2097152,
            "flags": ["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"],
        },
        {"op": "mmap", "addr": "0x7f0000000000", "length": 2097152, "fd": "guest_memfd:0", "offset": 0},
        {
            "op": "KVM_SET_USER_MEMORY_REGION2",
            "slot": 0,
            "flags": ["KVM_MEM_GUEST_MEMFD"],
            "guest_phys_addr": 0,
            "memory_size": 2097152,
            "userspace_addr": "0x7f0000000000",
            "guest_memfd": 0,
            "guest_memfd_offset": 0,
        },
        {"op": "write", "addr": "0x7f0000000000", "data": "48656c6c6f"},
        {
            "op": "KVM_SET_MEMORY_ATTRIBUTES2",
            "guest_memfd": 0,
            "offset": 0,
            "size": 4096,
            "attributes": ["KVM_MEMORY_ATTRIBUTE_PRIVATE"],
        },
        {
            "op": "KVM_TDX_INIT_MEM_REGION",
            "vcpu": 0,
            "source_addr": 0,
            "gpa": 0,
            "nr_pages": 1,
            "flags": ["KVM_TDX_MEASURE_MEMORY_REGION"],
            "label": "add",
        },
        {"op": "KVM_TDX_FINALIZE_VM"},
        {"op": "guest_read", "gpa": 0, "length": 5},
    ],
}


def cli(tmp_path: Path, content: str | None, name: str = "scenario.json") -> tuple[subprocess.CompletedProcess, str]:
    """Write content (unless None) to tmp_path/name and run the CLI on it from the repo root."""
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    proc = subprocess.run(
        [sys.executable, "-m", "tdxsim", "run", str(path)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, str(path)


def cli_json(tmp_path: Path, scenario) -> dict:
    proc, _ = cli(tmp_path, json.dumps(scenario))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def check_formats(out: dict) -> None:
    """The contract's "Field formats" on the fields the output itself defines: addresses and GPAs lowercase 0x hex
    (mmap's addr, region, SEAMCALL gpa), data lowercase hex without 0x, counts integers.
    """
    for s in out["steps"]:
        if s.get("addr") is not None:
            assert isinstance(s["addr"], str) and HEX.match(s["addr"]), s
        if s.get("data") is not None:
            assert isinstance(s["data"], str) and DATA_HEX.match(s["data"]), s
        if s.get("fd") is not None:
            assert isinstance(s["fd"], int), s
        if s.get("region") is not None:
            r = s["region"]
            assert HEX.match(r["source_addr"]) and HEX.match(r["gpa"]), r
            assert isinstance(r["nr_pages"], int) and not isinstance(r["nr_pages"], bool), r
        for call in s["seamcalls"]:
            if "gpa" in call:
                assert isinstance(call["gpa"], str) and HEX.match(call["gpa"]), call
            if "level" in call:
                assert isinstance(call["level"], int), call


def check_required(out: dict, scenario: dict) -> None:
    assert out["format"] == 1
    assert isinstance(out["kernel"], str)
    assert isinstance(out["gmem_in_place_conversion"], bool)
    assert [s["op"] for s in out["steps"]] == [s["op"] for s in scenario["steps"]]
    for s in out["steps"]:
        assert isinstance(s["ret"], int) and s["ret"] <= 0
        assert (s["errno"] is None) == (s["ret"] == 0)
        assert s["errno"] is None or ERRNO_NAME.match(s["errno"])
        for call in s["seamcalls"]:
            assert isinstance(call["leaf"], str) and isinstance(call["status"], str)
    fin = out["final"]
    assert fin["td_state"] in {"TD_STATE_UNINITIALIZED", "TD_STATE_INITIALIZED", "TD_STATE_RUNNABLE"}
    assert isinstance(fin["vm_dead"], bool)
    if fin["td_state"] == "TD_STATE_RUNNABLE":
        assert re.fullmatch(r"[0-9a-f]{96}", fin["mrtd"])
    else:
        assert fin["mrtd"] is None
    for gpa, state in fin["sept"].items():
        assert HEX.match(gpa) and int(gpa, 16) % 4096 == 0, gpa
        assert state in LEAF_STATES, state
    check_formats(out)


def _dedup(leaves: list[str]) -> list[str]:
    return [leaf for i, leaf in enumerate(leaves) if i == 0 or leaves[i - 1] != leaf]


def test_contract_example_runs(tmp_path):
    """The contract's example: every step succeeds (intel-tdx.rst order, v8 in-place flow), the guest reads "Hello",
    the MRTD is the replay of one measured in-place ADD at GPA 0 (intel/tdx-module
    TDX_1.5.01 tdh_mem_page_add.c, tdh_mr_extend.c).
    """
    out = cli_json(tmp_path, EXAMPLE)
    check_required(out, EXAMPLE)
    assert (out["kernel"], out["gmem_in_place_conversion"]) == ("v8", True)
    assert [(s["ret"], s["errno"]) for s in out["steps"]] == [(0, None)] * len(EXAMPLE["steps"])
    steps = out["steps"]
    assert steps[4]["fd"] == 0
    assert steps[5]["addr"] == "0x7f0000000000"
    assert steps[9]["label"] == "add"
    assert steps[9]["region"] == {"source_addr": "0x0", "gpa": "0x1000", "nr_pages": 0}
    assert steps[11]["data"] == "48656c6c6f"
    assert out["final"]["td_state"] == "TD_STATE_RUNNABLE"
    assert out["final"]["vm_dead"] is False
    assert out["final"]["sept"] == {"0x0": "MAPPED"}
    assert out["final"]["mrtd"] == mrtd([(0, b"Hello")])


def test_td_build_seamcalls_follow_section_1(tmp_path):
    """arch/x86/kvm/vmx/tdx.c (kvm-x86 09c6f74ecb86) __tdx_td_init, tdx_td_vcpu_init: INIT_VM issues TDH.MNG.CREATE,
    KEY.CONFIG per package, ADDCX per TDCS page,
    TDH.MNG.INIT (then optionally TDH.MNG.RD); INIT_VCPU issues TDH.VP.CREATE, VP.ADDCX per TDCX page, TDH.VP.INIT
    (then possibly TDH.VP.WR/RD for the posted-interrupt VMCS fields, not asserted: tolerated);
    CREATE_VM, CREATE_VCPU, CREATE_GUEST_MEMFD, memslot and attribute ioctls issue none. Counts are platform constants.
    """
    out = cli_json(tmp_path, EXAMPLE)
    leaves = [[c["leaf"] for c in s["seamcalls"]] for s in out["steps"]]
    init_vm = _dedup(leaves[1])
    assert init_vm[:4] == ["TDH.MNG.CREATE", "TDH.MNG.KEY.CONFIG", "TDH.MNG.ADDCX", "TDH.MNG.INIT"]
    assert set(init_vm[4:]) <= {"TDH.MNG.RD"}
    init_vcpu = _dedup(leaves[3])
    assert init_vcpu[:3] == ["TDH.VP.CREATE", "TDH.VP.ADDCX", "TDH.VP.INIT"]
    assert set(init_vcpu[3:]) <= {"TDH.VP.WR", "TDH.VP.RD"}  # td_vmcs_write*/setbit in tdx_vcpu_init (inferred)
    for i in (0, 2, 4, 5, 6, 7, 8):
        assert leaves[i] == [], out["steps"][i]


def test_unfinalized_td_has_no_mrtd(tmp_path):
    """Contract: final.mrtd is null until the TD is finalized (tdh_mr_finalize.c: MRTD is only written there)."""
    scenario = {**EXAMPLE, "steps": EXAMPLE["steps"][:10]}
    out = cli_json(tmp_path, scenario)
    check_required(out, scenario)
    assert out["final"]["td_state"] == "TD_STATE_INITIALIZED"
    assert out["final"]["mrtd"] is None
    assert out["final"]["sept"] == {"0x0": "MAPPED"}


@pytest.mark.parametrize(
    "kernel,in_place", [("v8", True), ("kvm-x86-2026-06", False), ("2a62345b3052", False), ("pre-2a62345b3052", False)]
)
def test_kernel_and_module_parameter_defaults(tmp_path, kernel, in_place):
    """Contract "Top-level fields": gmem_in_place_conversion defaults to true for v8, false for the others."""
    scenario = {"format": 1, "kernel": kernel, "steps": [{"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"}]}
    out = cli_json(tmp_path, scenario)
    check_required(out, scenario)
    assert (out["kernel"], out["gmem_in_place_conversion"]) == (kernel, in_place)


def test_kernel_defaults_to_v8(tmp_path):
    scenario = {"format": 1, "steps": [{"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"}]}
    out = cli_json(tmp_path, scenario)
    assert (out["kernel"], out["gmem_in_place_conversion"]) == ("v8", True)


def test_numbers_as_hex_or_decimal_strings(tmp_path):
    """Contract "Conventions": numbers are JSON integers or hex/decimal strings; the outcome is the same."""
    from tdxsim.scenario import run_scenario

    def with_size(size):
        steps = td_setup(model="in-place")
        for s in steps:
            if s["op"] in ("KVM_CREATE_GUEST_MEMFD",):
                s["size"] = size
        return doc(steps)

    outs = [run_scenario(with_size(v)) for v in (2097152, "0x200000", "2097152")]
    assert outs[0]["steps"][4]["ret"] == 0
    assert outs[0]["final"] == outs[1]["final"] == outs[2]["final"]
    assert [[(s["ret"], s["errno"]) for s in o["steps"]] for o in outs[1:]] == [
        [(s["ret"], s["errno"]) for s in outs[0]["steps"]]
    ] * 2


VM = {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"}
MALFORMED = {
    "not-json": "{not json",
    "empty-file": "",
    "json-list": "[]",
    "json-string": '"scenario"',
    "wrong-format": json.dumps({"format": 2, "steps": [VM]}),
    "steps-not-a-list": json.dumps({"format": 1, "steps": "KVM_CREATE_VM"}),
    "unknown-kernel": json.dumps({"format": 1, "kernel": "v9", "steps": [VM]}),
    "in-place-on-kvm-x86-2026-06": json.dumps(
        {"format": 1, "kernel": "kvm-x86-2026-06", "gmem_in_place_conversion": True, "steps": [VM]}
    ),
    "in-place-on-2a62345b3052": json.dumps(
        {"format": 1, "kernel": "2a62345b3052", "gmem_in_place_conversion": True, "steps": [VM]}
    ),
    "in-place-on-pre-2a62345b3052": json.dumps(
        {"format": 1, "kernel": "pre-2a62345b3052", "gmem_in_place_conversion": True, "steps": [VM]}
    ),
}
MALFORMED_STEP = {
    "unknown-op": {"op": "KVM_FROBNICATE"},
    "missing-op": {"id": 0},
    "missing-required-argument": {"op": "KVM_CREATE_VCPU"},
    "missing-size": {"op": "KVM_CREATE_GUEST_MEMFD", "flags": []},
    "ill-typed-size": {"op": "KVM_CREATE_GUEST_MEMFD", "size": "banana"},
    "ill-typed-size-list": {"op": "KVM_CREATE_GUEST_MEMFD", "size": [4096]},
    "ill-typed-data": {"op": "write", "addr": "0x7f0000000000", "data": "not hex"},
}


def assert_scenario_error(proc: subprocess.CompletedProcess, path: str, step_level: bool = False) -> None:
    """Exit 2, exactly one stderr line `tdxsim: FILE: …` (with `step N` for a step problem), no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[:200], proc.stderr[:500])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"tdxsim: {path}: "), lines[0]
    assert len(lines[0]) > len(f"tdxsim: {path}: ")
    if step_level:
        assert re.search(r": step \d+: ", lines[0]), lines[0]


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_top_level(tmp_path, case):
    proc, path = cli(tmp_path, MALFORMED[case])
    assert_scenario_error(proc, path)


@pytest.mark.parametrize("case", sorted(MALFORMED_STEP))
def test_malformed_step(tmp_path, case):
    scenario = {"format": 1, "steps": [VM, MALFORMED_STEP[case]]}
    proc, path = cli(tmp_path, json.dumps(scenario))
    assert_scenario_error(proc, path, step_level=True)


def test_nonexistent_file(tmp_path):
    proc, path = cli(tmp_path, None, "missing.json")
    assert_scenario_error(proc, path)


def test_directory(tmp_path):
    (tmp_path / "dir.json").mkdir()
    proc, path = cli(tmp_path, None, "dir.json")
    assert_scenario_error(proc, path)


@pytest.mark.parametrize("case", ["unknown-op", "missing-required-argument", "ill-typed-size"])
def test_run_scenario_raises_scenario_error(case):
    """The API: a malformed scenario raises ScenarioError whose str is the one-line message without the
    "tdxsim: FILE: " prefix.
    """
    from tdxsim.scenario import ScenarioError, run_scenario

    with pytest.raises(ScenarioError) as info:
        run_scenario({"format": 1, "steps": [VM, MALFORMED_STEP[case]]})
    message = str(info.value)
    assert message and "\n" not in message
    assert not message.startswith("tdxsim")


def test_run_scenario_rejects_in_place_on_other_kernels():
    from tdxsim.scenario import ScenarioError, run_scenario

    with pytest.raises(ScenarioError):
        run_scenario({"format": 1, "kernel": "kvm-x86-2026-06", "gmem_in_place_conversion": True, "steps": [VM]})


def test_objects_numbered_and_mmap_placement(tmp_path):
    """Contract "Conventions": guest_memfds are numbered 0, 1, … in creation order; `mmap` without `addr` picks the
    lowest free page-aligned range at or above 0x7f0000000000.
    """
    scenario = {
        "format": 1,
        "steps": [
            VM,
            {"op": "KVM_CREATE_GUEST_MEMFD", "size": 8192, "flags": ["GUEST_MEMFD_FLAG_MMAP"]},
            {"op": "KVM_CREATE_GUEST_MEMFD", "size": 8192, "flags": ["GUEST_MEMFD_FLAG_MMAP"]},
            {"op": "mmap", "length": 4096, "fd": None},
            {"op": "mmap", "length": 8192, "fd": None},
        ],
    }
    out = cli_json(tmp_path, scenario)
    check_required(out, scenario)
    assert [s.get("fd") for s in out["steps"][1:3]] == [0, 1]
    assert [s["addr"] for s in out["steps"][3:]] == ["0x7f0000000000", "0x7f0000001000"]
