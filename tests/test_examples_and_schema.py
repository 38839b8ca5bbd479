"""examples/*.json and docs/scenario.schema.json against the scenario contract and each other.

Every example validates against the schema and replays through `run_scenario` with the outcome its description
promises. The expected errno of each labelled step comes from the source named beside it (a kernel function at
a commit, a lore Message-ID), not from running the simulator; MRTDs come from the independent replay
in scenario_helpers. The schema and `tdxsim.scenario.OPS` must list the same ops with the same arguments, required
sets and defaults, so neither can drift; malformed documents are refused by both.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from scenario_helpers import assert_errno, assert_no_add, assert_ok, assert_page_added, mrtd, region, step

from tdxsim.kvm import uapi
from tdxsim.kvm.flavours import FLAVOURS
from tdxsim.scenario import OPS, REQUIRED, SEAMCALL_LEAVES, ScenarioError, run_scenario
from tdxsim.tdx.status import STATUS

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SCHEMA = json.loads((REPO / "docs" / "scenario.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
STEP_ONLY = {"op", "label", "comment", "vm"}

# Labelled step -> expected errno name (None: success), per example; every unlabelled step is setup and succeeds.
EXPECTED = {
    # v8 23/46 tdx_gmem_post_populate: no source page + in-place -> the target is the source.
    "seed-thread-in-place.json": {"add": None, "finalize": None, "read": None},
    # tdx_vcpu_init_mem_region / tdx_gmem_post_populate (kvm-x86 09c6f74ecb86): PAGE.ADD copies the source.
    "out-of-place-with-source.json": {"add": None, "finalize": None, "read": None},
    # v8 23/46 tdx_gmem_post_populate: no source page without in-place -> -EOPNOTSUPP.
    "source-zero-out-of-place.json": {"add": "EOPNOTSUPP"},
    # mmu.c kvm_tdp_mmu_map_private_pfn: RET_PF_SPURIOUS -> -EIO, VM not bugged (Yan,
    # akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com).
    "double-add.json": {"first-add": None, "second-add": "EIO", "finalize": None, "read": None},
    # Before 2a62345b3052 TDX GUPs source_addr itself (Yan in
    # CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com);
    # -EFAULT for an unmapped VA 0 is inferred (get_user_pages_fast's usual error).
    "pre-2a62-va0.json": {"va0-unmapped": "EFAULT", "va0-mapped": None, "finalize": None, "read": None},
    # tdx_vcpu_init_mem_region (kvm-x86 09c6f74ecb86): `!region.source_addr` -> -EINVAL up front.
    "kvm-x86-2026-06-null.json": {"null-source": "EINVAL", "with-source": None},
    # Two TDs, each built as seed-thread-in-place.json (v8 23/46: source_addr 0 with in-place conversion on);
    # tests/test_multi_vm.py.
    "two-tds.json": {
        "add-0": None,
        "add-1": None,
        "finalize-0": None,
        "finalize-1": None,
        "read-0": None,
        "read-1": None,
    },
}


def load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def written_text(doc: dict, addr: str | int) -> bytes:
    """The bytes the example's own `write` step stores at `addr` ({"text": ...} form)."""
    (data,) = [s["data"] for s in doc["steps"] if s["op"] == "write" and s["addr"] == addr]
    return data["text"].encode()


@pytest.fixture(scope="module")
def outputs() -> dict[str, dict]:
    return {name: run_scenario(load(name)) for name in EXPECTED}


# -- the examples ----------------------------------------------------------------------------------------------


def test_every_example_has_expectations() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_validates_against_schema(name: str) -> None:
    doc = load(name)
    assert isinstance(doc.get("description"), str) and doc["description"], "an example says what it shows"
    VALIDATOR.validate(doc)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_errno_per_labelled_step(name: str, outputs: dict[str, dict]) -> None:
    out = outputs[name]
    labelled = {s["label"]: s for s in out["steps"] if "label" in s}
    assert sorted(labelled) == sorted(EXPECTED[name])
    for label, errno in EXPECTED[name].items():
        if errno is None:
            assert_ok(labelled[label])
        else:
            assert_errno(labelled[label], errno)
    for s in out["steps"]:
        if "label" not in s:
            assert_ok(s)
            assert "signal" not in s, s


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_from_the_command_line(name: str, outputs: dict[str, dict]) -> None:
    """What a newcomer types: `python -m tdxsim run examples/NAME` exits 0 and prints run_scenario's output."""
    proc = subprocess.run(
        [sys.executable, "-m", "tdxsim", "run", f"examples/{name}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert json.loads(proc.stdout) == outputs[name]


def test_seed_thread_in_place(outputs: dict[str, dict]) -> None:
    out = outputs["seed-thread-in-place.json"]
    add = step(out, "add")
    assert_page_added(add, 0, measured=True)
    assert add["region"] == region(0, 0x1000, 0)  # source_addr 0 is not advanced (v8 23/46)
    assert bytes.fromhex(step(out, "read")["data"]) == b"Hello"
    fin = out["final"]
    assert (fin["td_state"], fin["vm_dead"], fin["sept"]) == ("TD_STATE_RUNNABLE", False, {"0x0": "MAPPED"})
    assert fin["mrtd"] == mrtd([(0, b"Hello")])


def test_out_of_place_with_source(outputs: dict[str, dict]) -> None:
    doc, out = load("out-of-place-with-source.json"), outputs["out-of-place-with-source.json"]
    text = written_text(doc, "0x7f4000000000")
    add = step(out, "add")
    assert_page_added(add, 0, measured=True)
    assert add["region"] == region(0x7F4000001000, 0x1000, 0)  # both advance (tdx_vcpu_init_mem_region)
    assert bytes.fromhex(step(out, "read")["data"]) == text
    assert out["final"]["sept"] == {"0x0": "MAPPED"}
    assert out["final"]["mrtd"] == mrtd([(0, text)])


def test_source_zero_out_of_place(outputs: dict[str, dict]) -> None:
    out = outputs["source-zero-out-of-place.json"]
    assert_no_add(step(out, "add"))
    fin = out["final"]
    assert (fin["td_state"], fin["vm_dead"], fin["mrtd"], fin["sept"]) == ("TD_STATE_INITIALIZED", False, None, {})
    # v8 21/46 and 23/46: the folio was allocated and zeroed, and stays with guest_memfd, outside the TD.
    (page,) = [p for p in fin["pages"].values() if p.get("guest_memfd") == "guest_memfd:0+0x0"]
    assert (page["owner"], page["pamt"]) == ("guest_memfd_private", "PT_NDA")


def test_double_add(outputs: dict[str, dict]) -> None:
    out = outputs["double-add.json"]
    assert_page_added(step(out, "first-add"), 0, measured=True)
    second = step(out, "second-add")
    assert_no_add(second)
    assert second["region"] == region(0, 0, 1)  # written back pointing at the page not done
    fin = out["final"]
    assert (fin["vm_dead"], fin["sept"]) == (False, {"0x0": "MAPPED"})
    assert fin["mrtd"] == mrtd([(0, b"Hello")])  # measurement unchanged by the second call
    assert bytes.fromhex(step(out, "read")["data"]) == b"Hello"


def test_pre_2a62_va0(outputs: dict[str, dict]) -> None:
    doc, out = load("pre-2a62-va0.json"), outputs["pre-2a62-va0.json"]
    text = written_text(doc, 0)
    assert_no_add(step(out, "va0-unmapped"))
    mapped = step(out, "va0-mapped")
    assert_page_added(mapped, 0, measured=True)
    assert mapped["region"] == region(0x1000, 0x1000, 0)  # before v8, source_addr 0 advances like any address
    assert bytes.fromhex(step(out, "read")["data"]) == text
    assert out["final"]["mrtd"] == mrtd([(0, text)])


def test_kvm_x86_2026_06_null(outputs: dict[str, dict]) -> None:
    out = outputs["kvm-x86-2026-06-null.json"]
    null = step(out, "null-source")
    assert null["seamcalls"] == []
    assert null.get("region", region(0, 0, 1)) == region(0, 0, 1)  # rejected before any page work
    with_source = step(out, "with-source")
    assert_page_added(with_source, 0, measured=True)
    assert with_source["region"] == region(0x7F4000001000, 0x1000, 0)
    assert out["final"]["sept"] == {"0x0": "MAPPED"}


# -- schema and OPS cannot drift -------------------------------------------------------------------------------


def op_schemas() -> dict[str, dict]:
    """op -> its schema, following the step's if/then discrimination (each `then` is a $ref to $defs/op.<name>)."""
    out = {}
    for branch in SCHEMA["$defs"]["step"]["allOf"]:
        op = branch["if"]["properties"]["op"]["const"]
        ref = branch["then"]["$ref"]
        assert ref == f"#/$defs/op.{op}" and op not in out, branch
        out[op] = SCHEMA["$defs"][f"op.{op}"]
        assert out[op]["properties"]["op"] == {"const": op}
    return out


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_schema_and_ops_list_the_same_ops() -> None:
    assert sorted(op_schemas()) == sorted(OPS)
    assert sorted(SCHEMA["$defs"]["step"]["properties"]["op"]["enum"]) == sorted(OPS)


@pytest.mark.parametrize("op", sorted(OPS))
def test_schema_and_ops_agree_on_arguments(op: str) -> None:
    schema = op_schemas()[op]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) - STEP_ONLY == set(OPS[op])
    assert set(schema["required"]) - {"op"} == {name for name, (_, default) in OPS[op].items() if default is REQUIRED}
    for name, (_, default) in OPS[op].items():
        prop = schema["properties"][name]
        if default is REQUIRED:
            assert "default" not in prop, name
        elif default is None:
            assert prop.get("default") is None, name
        else:
            assert prop["default"] == default, name


def test_schema_and_code_agree_on_names() -> None:
    defs = SCHEMA["$defs"]
    assert SCHEMA["properties"]["kernel"]["enum"] == list(FLAVOURS)
    assert defs["seamcallLeaf"]["enum"] == list(SEAMCALL_LEAVES)
    assert defs["tdxErrorStatus"]["enum"] == [s for s in STATUS if s != "TDX_SUCCESS"]
    flag_sets = {
        "guestMemfdFlags": uapi.GUEST_MEMFD_FLAGS,
        "memFlags": uapi.MEM_FLAGS,
        "memoryAttributes": uapi.MEMORY_ATTRIBUTES,
        "initMemRegionFlags": uapi.TDX_INIT_MEM_REGION_FLAGS,
        "tdAttributes": uapi.TD_ATTRIBUTES,
        "mmapFlags": uapi.MMAP_FLAGS,
        "fallocFlags": uapi.FALLOC_FLAGS,
    }
    for name, names in flag_sets.items():
        (array,) = [a for a in defs[name]["anyOf"] if a.get("type") == "array"]
        assert sorted(array["items"]["enum"]) == sorted(names), name
    advice = op_schemas()["madvise"]["properties"]["advice"]["anyOf"][0]["enum"]
    assert sorted(advice) == sorted(uapi.MADVISE)


# -- both accept the other spellings, both refuse malformed documents -------------------------------------------


def test_raw_bits_and_number_strings_accepted_by_both() -> None:
    """Flags as raw integers, numbers as decimal/upper-case hex strings, guest_memfd as "guest_memfd:N"."""
    doc = load("seed-thread-in-place.json")
    s = doc["steps"]
    s[4]["flags"] = 3  # GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED
    s[6].update(flags=4, guest_memfd="guest_memfd:0", memory_size="2097152")
    s[8].update(attributes=8, guest_memfd="0", size="0X1000")
    s[9].update(flags=1, nr_pages="1", gpa="0x0")
    VALIDATOR.validate(doc)
    out = run_scenario(doc)
    assert_ok(step(out, "add"))
    assert out["final"]["mrtd"] == mrtd([(0, b"Hello")])


def _set(path: tuple, value: object):
    def mutate(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple):
    def mutate(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _insert(index: int, new_step: dict):
    return lambda doc: doc["steps"].insert(index, new_step)


# (what is wrong, how to make it so from the seed example, the step ScenarioError names or None for top level).
# Seed example steps: 0 CREATE_VM, 2 CREATE_VCPU, 4 CREATE_GUEST_MEMFD, 5 mmap, 7 write, 9 INIT_MEM_REGION, 11 read.
MALFORMED = [
    ("format 2", _set(("format",), 2), None),
    ("format missing", _delete(("format",)), None),
    ("unknown kernel", _set(("kernel",), "v9"), None),
    ("in-place on a kernel without it", _set(("kernel",), "2a62345b3052"), None),
    ("in-place not a boolean", _set(("gmem_in_place_conversion",), "yes"), None),
    ("unknown top-level field", _set(("kernal",), "v8"), None),
    ("steps not a list", _set(("steps",), {"op": "KVM_CREATE_VM"}), None),
    ("step not an object", _set(("steps", 2), "KVM_CREATE_VCPU"), 2),
    ("step without op", _delete(("steps", 2, "op")), 2),
    ("unknown op", _set(("steps", 2, "op"), "KVM_RUN"), 2),
    ("missing required argument", _delete(("steps", 9, "gpa")), 9),
    ("unknown argument", _set(("steps", 9, "source"), 0), 9),
    ("unknown flag name", _set(("steps", 9, "flags"), ["KVM_TDX_MEASURE"]), 9),
    ("flags as a string", _set(("steps", 9, "flags"), "KVM_TDX_MEASURE_MEMORY_REGION"), 9),
    ("bad hex string", _set(("steps", 9, "gpa"), "0xZZ"), 9),
    ("boolean as number", _set(("steps", 9, "nr_pages"), True), 9),
    ("negative number", _set(("steps", 9, "nr_pages"), -1), 9),
    ("vCPU id beyond u32", _set(("steps", 2, "id"), 1 << 32), 2),
    ("bad data hex", _set(("steps", 7, "data"), "4g"), 7),
    ("data object with an extra key", _set(("steps", 7, "data"), {"fill": 1, "length": 2, "text": "x"}), 7),
    ("mmap fd not guest_memfd:N", _set(("steps", 5, "fd"), "3"), 5),
    ("label not a string", _set(("steps", 9, "label"), 7), 9),
    ("guest_read shared not a boolean", _set(("steps", 11, "shared"), "yes"), 11),
    ("tdx_error unknown leaf", _insert(10, {"op": "tdx_error", "leaf": "TDH.MR.FINALISE"}), 10),
    (
        "tdx_error status TDX_SUCCESS",
        _insert(10, {"op": "tdx_error", "leaf": "TDH.MR.FINALIZE", "status": "TDX_SUCCESS"}),
        10,
    ),
]


@pytest.mark.parametrize(("what", "mutate", "step_index"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_refused_by_schema_and_runner(what: str, mutate, step_index: int | None) -> None:
    doc = copy.deepcopy(load("seed-thread-in-place.json"))
    mutate(doc)
    assert not VALIDATOR.is_valid(doc), f"schema accepts: {what}"
    with pytest.raises(ScenarioError) as exc:
        run_scenario(doc)
    assert exc.value.step == step_index, str(exc.value)
