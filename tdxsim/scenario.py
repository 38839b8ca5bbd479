"""The scenario runner: replay a scenario document (docs/scenario.md, format 1) through the
simulator and describe what happened in the contract's output format.

`run_scenario(doc)` takes the parsed JSON and returns the output object; a scenario that cannot be replayed raises
`ScenarioError` whose message is the one line the CLI prints. Steps are numbered from 0, as in `steps[N]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tdxsim.errno import errno_name
from tdxsim.events import TraceLimitError, expand_seamcalls
from tdxsim.kvm import uapi
from tdxsim.kvm.flavours import DEFAULT_FLAVOUR, FLAVOURS
from tdxsim.kvm.kvm_main import Kvm
from tdxsim.tdx.sept import SeptState
from tdxsim.tdx.status import STATUS, status_name
from tdxsim.vmm.process import Vmm

FORMAT = 1
#: The most bytes one read, write, pin or guest access may touch (64 MiB): enough for any lesson, small enough to
#: stay quick. docs/scenario.md "Limits" has every limit, and tests/test_limits.py checks that table against the code.
MAX_ACCESS = 64 << 20
#: The most bytes all the accesses of one scenario may touch together (128 MiB): a `read` returns its bytes as hex.
MAX_TOTAL_ACCESS = 128 << 20
#: The ops whose cost grows with the bytes they touch, and the argument that says how many.
_ACCESS_OPS = {"read": "length", "guest_read": "length", "pin": "length", "unpin": "length", "write": "data"}
_ACCESS_OPS["guest_write"] = "data"
#: The longest number written as a string ("0x1000", "4096"): no 4300-digit conversion inside int().
MAX_NUMBER_CHARS = 40
#: The most steps one scenario may have (docs/scenario.md "Limits").
MAX_STEPS = 10_000
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")
_HEX_BYTES = re.compile(r"(?:[0-9a-fA-F]{2})*")
U64 = (1 << 64) - 1
REQUIRED = object()

#: SEAMCALL leaves a scenario may name in `tdx_error` (the ones this model issues).
SEAMCALL_LEAVES = (
    "TDH.MNG.CREATE",
    "TDH.MNG.KEY.CONFIG",
    "TDH.MNG.ADDCX",
    "TDH.MNG.INIT",
    "TDH.MNG.RD",
    "TDH.VP.CREATE",
    "TDH.VP.ADDCX",
    "TDH.VP.INIT",
    "TDH.VP.WR",
    "TDH.MEM.SEPT.ADD",
    "TDH.MEM.PAGE.ADD",
    "TDH.MR.EXTEND",
    "TDH.MR.FINALIZE",
    "TDH.MEM.PAGE.AUG",
    "TDH.MEM.RANGE.BLOCK",
    "TDH.MEM.RANGE.UNBLOCK",
    "TDH.MEM.TRACK",
    "TDH.MEM.PAGE.REMOVE",
    "TDH.PHYMEM.PAGE.WBINVD",
    "TDH.MNG.VPFLUSHDONE",
    "TDH.PHYMEM.CACHE.WB",
    "TDH.MNG.KEY.FREEID",
    "TDH.PHYMEM.PAGE.RECLAIM",
)


class ScenarioError(ValueError):
    """A scenario that cannot be replayed; `str()` is the message without the CLI's `tdxsim: FILE: ` prefix."""

    def __init__(self, message: str, step: int | None = None) -> None:
        super().__init__(message if step is None else f"step {step}: {message}")
        self.step = step


# -- argument types ----------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A short, one-line rendering of a JSON value for a message, whatever its size or depth."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any, what: str, lo: int = 0, hi: int = U64) -> int:
    """A JSON integer, or a string in hex ("0x1000") or decimal."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, not {_show(value)}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and len(value) > MAX_NUMBER_CHARS:
        raise ValueError(f"{what}: a number string has at most {MAX_NUMBER_CHARS} characters, not {len(value)}")
    elif isinstance(value, str) and _NUMBER.fullmatch(value):
        n = int(value, 16) if value[:2] in ("0x", "0X") else int(value, 10)
    elif isinstance(value, str):
        raise ValueError(f'{what} must be a number, or a string such as "0x1000" or "4096", not {_show(value)}')
    else:
        raise ValueError(f"{what} must be a number, not {_show(value)}")
    if not lo <= n <= hi:
        raise ValueError(f"{what} = {n} is out of range [{lo}, {hi:#x}]")
    return n


def _bits(names: dict[str, int]) -> Callable[[Any, str], int]:
    """A flags argument: a list of the uAPI constant names, or an integer of raw bits."""

    def parse(value: Any, what: str) -> int:
        if isinstance(value, list):
            bits = 0
            for name in value:
                if not isinstance(name, str) or name not in names:
                    raise ValueError(f"{what}: unknown name {_show(name)}; known: {', '.join(names)}")
                bits |= names[name]
            return bits
        return _number(value, what)

    return parse


def _enum(names: dict[str, int]) -> Callable[[Any, str], int]:
    """One constant, by name or as an integer."""

    def parse(value: Any, what: str) -> int:
        if isinstance(value, str) and value in names:
            return names[value]
        if isinstance(value, str) and not value[:1].isdigit():
            raise ValueError(f"{what}: unknown name {_show(value)}; known: {', '.join(names)}")
        return _number(value, what)

    return parse


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, what: str) -> str:
        if value not in choices:
            raise ValueError(f"{what} must be one of {', '.join(choices)}, not {_show(value)}")
        return value

    return parse


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, not {_show(value)}")
    return value


def _data(value: Any, what: str) -> bytes:
    """Bytes: a hex string, {"fill": "0xab", "length": N} or {"text": "..."}."""
    if isinstance(value, str):
        if len(value) > 2 * MAX_ACCESS:
            raise ValueError(f"{what} is {len(value) // 2} bytes; the limit is {MAX_ACCESS}")
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise ValueError(f'{what} must be a hex string such as "48656c6c6f", not {_show(value)}') from None
    if isinstance(value, dict) and set(value) == {"fill", "length"}:
        fill = _number(value["fill"], f"{what}.fill", 0, 255)
        return bytes([fill]) * _number(value["length"], f"{what}.length", 0, MAX_ACCESS)
    if isinstance(value, dict) and set(value) == {"text"} and isinstance(value["text"], str):
        try:
            data = value["text"].encode()
        except UnicodeEncodeError:
            raise ValueError(f"{what}.text has a lone surrogate, which UTF-8 cannot encode") from None
        if len(data) > MAX_ACCESS:
            raise ValueError(f"{what} is {len(data)} bytes; the limit is {MAX_ACCESS}")
        return data
    raise ValueError(f'{what} must be a hex string, {{"fill": …, "length": …}} or {{"text": …}}')


def _gmem_ref(value: Any, what: str) -> int:
    """A guest_memfd by number: N or "guest_memfd:N"."""
    if isinstance(value, str) and value.startswith("guest_memfd:"):
        return _number(value.split(":", 1)[1], what, 0, 1 << 20)
    return _number(value, what, 0, 1 << 20)


def _mmap_fd(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.startswith("guest_memfd:"):
        return _gmem_ref(value, what)
    raise ValueError(f'{what} must be null (anonymous) or "guest_memfd:N", not {_show(value)}')


def _status(value: Any, what: str) -> str:
    if not isinstance(value, str) or value not in STATUS or value == "TDX_SUCCESS":
        raise ValueError(f'{what} must be a TDX status name such as "TDX_OPERAND_BUSY", not {_show(value)}')
    return value


_num = _number
_int32 = lambda v, w: _number(v, w, 0, (1 << 32) - 1)  # noqa: E731
_pages = lambda v, w: _number(v, w, 0, 1 << 30)  # noqa: E731
_access = lambda v, w: _number(v, w, 0, MAX_ACCESS)  # noqa: E731

#: op -> {argument: (parser, default)}; REQUIRED marks a required argument (docs/scenario.md "Ops").
OPS: dict[str, dict[str, tuple[Callable, Any]]] = {
    "KVM_CREATE_VM": {"type": (_enum({"KVM_X86_TDX_VM": uapi.KVM_X86_TDX_VM}), REQUIRED)},
    "KVM_TDX_INIT_VM": {
        "attributes": (_bits(uapi.TD_ATTRIBUTES), ["SEPT_VE_DISABLE"]),
        "gpaw": (_num, 48),
        "hw_error": (_num, 0),
        "cpuid_nent": (_int32, 1),
    },
    "KVM_CREATE_VCPU": {"id": (_int32, REQUIRED)},
    "KVM_TDX_INIT_VCPU": {"vcpu": (_int32, REQUIRED), "hw_error": (_num, 0), "data": (_num, 0)},
    "KVM_CREATE_GUEST_MEMFD": {"size": (_num, REQUIRED), "flags": (_bits(uapi.GUEST_MEMFD_FLAGS), [])},
    "KVM_SET_USER_MEMORY_REGION2": {
        "slot": (_int32, REQUIRED),
        "flags": (_bits(uapi.MEM_FLAGS), REQUIRED),
        "guest_phys_addr": (_num, REQUIRED),
        "memory_size": (_num, REQUIRED),
        "userspace_addr": (_num, REQUIRED),
        "guest_memfd": (_gmem_ref, REQUIRED),
        "guest_memfd_offset": (_num, REQUIRED),
    },
    "KVM_SET_MEMORY_ATTRIBUTES": {
        "address": (_num, REQUIRED),
        "size": (_num, REQUIRED),
        "attributes": (_bits(uapi.MEMORY_ATTRIBUTES), REQUIRED),
        "flags": (_bits({}), 0),
    },
    "KVM_SET_MEMORY_ATTRIBUTES2": {
        "guest_memfd": (_gmem_ref, REQUIRED),
        "offset": (_num, REQUIRED),
        "size": (_num, REQUIRED),
        "attributes": (_bits(uapi.MEMORY_ATTRIBUTES), REQUIRED),
        "flags": (_bits({}), 0),
        "reserved": (_num, 0),
    },
    "KVM_TDX_INIT_MEM_REGION": {
        "vcpu": (_int32, REQUIRED),
        "source_addr": (_num, REQUIRED),
        "gpa": (_num, REQUIRED),
        "nr_pages": (_num, REQUIRED),
        "flags": (_bits(uapi.TDX_INIT_MEM_REGION_FLAGS), []),
        "hw_error": (_num, 0),
    },
    "KVM_TDX_FINALIZE_VM": {"hw_error": (_num, 0)},
    "mmap": {
        "addr": (_num, None),
        "length": (_num, REQUIRED),
        "fd": (_mmap_fd, None),
        "offset": (_num, 0),
        "flags": (_bits(uapi.MMAP_FLAGS), None),
    },
    "munmap": {"addr": (_num, REQUIRED), "length": (_num, REQUIRED)},
    "write": {"addr": (_num, REQUIRED), "data": (_data, REQUIRED)},
    "read": {"addr": (_num, REQUIRED), "length": (_access, REQUIRED)},
    "fallocate": {
        "guest_memfd": (_gmem_ref, REQUIRED),
        "offset": (_num, REQUIRED),
        "length": (_num, REQUIRED),
        "mode": (_bits(uapi.FALLOC_FLAGS), ["FALLOC_FL_PUNCH_HOLE", "FALLOC_FL_KEEP_SIZE"]),
    },
    "madvise": {"addr": (_num, REQUIRED), "length": (_num, REQUIRED), "advice": (_enum(uapi.MADVISE), "MADV_DONTNEED")},
    "pin": {"addr": (_num, REQUIRED), "length": (_access, REQUIRED)},
    "unpin": {"addr": (_num, REQUIRED), "length": (_access, REQUIRED)},
    "signal_pending": {"before_page": (_pages, 0)},
    "memory_failure": {"guest_memfd": (_gmem_ref, REQUIRED), "offset": (_num, REQUIRED)},
    "tdx_error": {
        "leaf": (_choice(SEAMCALL_LEAVES), REQUIRED),
        "status": (_status, "TDX_OPERAND_BUSY"),
        "count": (lambda v, w: _number(v, w, 1, 1 << 20), 1),
    },
    "guest_read": {
        "gpa": (_num, REQUIRED),
        "length": (_access, REQUIRED),
        "vcpu": (_int32, 0),
        "shared": (_bool, False),
    },
    "guest_write": {"gpa": (_num, REQUIRED), "data": (_data, REQUIRED), "vcpu": (_int32, 0), "shared": (_bool, False)},
    "guest_accept": {"gpa": (_num, REQUIRED), "vcpu": (_int32, 0)},
    "guest_map_gpa": {
        "gpa": (_num, REQUIRED),
        "size": (_num, REQUIRED),
        "shared": (_bool, REQUIRED),
        "vcpu": (_int32, 0),
        "vmm": (_choice(("convert", "ignore")), "convert"),
        "vmm_ret": (_int32, 0),
    },
}
STEP_KEYS = {"op", "label", "comment"}
#: Ops that act on a VM, its vCPUs, guest_memfds or guest: they take the optional step field `vm`, the index of the VM
#: in creation order (default 0, the first). The others act on the process or the machine, shared by every VM.
VM_OPS = frozenset(
    {
        "KVM_TDX_INIT_VM",
        "KVM_CREATE_VCPU",
        "KVM_TDX_INIT_VCPU",
        "KVM_CREATE_GUEST_MEMFD",
        "KVM_SET_USER_MEMORY_REGION2",
        "KVM_SET_MEMORY_ATTRIBUTES",
        "KVM_SET_MEMORY_ATTRIBUTES2",
        "KVM_TDX_INIT_MEM_REGION",
        "KVM_TDX_FINALIZE_VM",
        "mmap",
        "fallocate",
        "signal_pending",
        "memory_failure",
        "guest_read",
        "guest_write",
        "guest_accept",
        "guest_map_gpa",
    }
)
MAX_VM = 1 << 20


def parse_step(step: Any, index: int) -> tuple[str, dict[str, Any]]:
    """Validate one step and decode its arguments; raises ScenarioError."""
    if not isinstance(step, dict):
        raise ScenarioError('a step must be a JSON object with an "op"', index)
    op = step.get("op")
    if not isinstance(op, str):
        raise ScenarioError('missing "op"', index)
    if op not in OPS:
        raise ScenarioError(f"unknown op {_show(op)}; see the Ops table of docs/scenario.md", index)
    if "label" in step and not isinstance(step["label"], str):
        raise ScenarioError('"label" must be a string', index)
    spec = OPS[op]
    if "vm" in step:
        if op not in VM_OPS:
            raise ScenarioError(f"{op} does not act on one VM, so it takes no 'vm'", index)
        try:
            _number(step["vm"], "vm", 0, MAX_VM)
        except ValueError as exc:
            raise ScenarioError(f"{op}: {exc}", index) from None
    for key in step:
        if key not in spec and key not in STEP_KEYS and key != "vm":
            raise ScenarioError(f"{op} has no argument {_show(key)}; it takes {', '.join(spec) or 'none'}", index)
    args: dict[str, Any] = {}
    for name, (parse, default) in spec.items():
        if name in step:
            try:
                args[name] = parse(step[name], name)
            except ValueError as exc:
                raise ScenarioError(f"{op}: {exc}", index) from None
        elif default is REQUIRED:
            raise ScenarioError(f"{op}: missing required argument {name!r}", index)
        elif isinstance(default, (list, str)) and default is not None:
            args[name] = parse(default, name)
        else:
            args[name] = default
    return op, args


def step_vm(step: dict[str, Any]) -> int:
    """The VM a validated step targets: its `vm` field, or 0 (the first VM)."""
    return _number(step.get("vm", 0), "vm", 0, MAX_VM)


def parse_header(doc: Any) -> tuple[str, bool]:
    """Check the top level; returns (kernel flavour, gmem_in_place_conversion)."""
    if not isinstance(doc, dict):
        raise ScenarioError('a scenario must be a JSON object with "format" and "steps"')
    unknown = set(doc) - {"format", "kernel", "gmem_in_place_conversion", "steps", "description", "comment"}
    if unknown:
        raise ScenarioError(f"unknown top-level field {_show(sorted(unknown)[0])}")
    fmt = doc.get("format")
    if type(fmt) is not int or fmt != FORMAT:  # true and 1.0 compare equal to 1 in Python, not in the format
        raise ScenarioError(f'"format" must be {FORMAT}, not {_show(fmt)}')
    kernel = doc.get("kernel", DEFAULT_FLAVOUR)
    if not isinstance(kernel, str) or kernel not in FLAVOURS:
        raise ScenarioError(f"unknown kernel {_show(kernel)}; expected one of {', '.join(FLAVOURS)}")
    in_place = doc.get("gmem_in_place_conversion", FLAVOURS[kernel].has_in_place)
    if not isinstance(in_place, bool):
        raise ScenarioError('"gmem_in_place_conversion" must be true or false')
    if in_place and not FLAVOURS[kernel].has_in_place:
        names = " and ".join(f'"{name}"' for name, fl in FLAVOURS.items() if fl.has_in_place)
        raise ScenarioError(f"kernel {kernel!r} has no gmem_in_place_conversion parameter (only {names} have it)")
    if not isinstance(doc.get("steps"), list):
        raise ScenarioError('"steps" must be a list of steps')
    if len(doc["steps"]) > MAX_STEPS:
        raise ScenarioError(
            f'"steps" has {len(doc["steps"])} steps; the limit is {MAX_STEPS} (docs/scenario.md "Limits")'
        )
    return kernel, in_place


# -- running -------------------------------------------------------------------------------------------------------


def _call_vmm(vmm: Vmm, op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Dispatch one decoded step to the VMM."""
    if op == "mmap":
        flags = args.pop("flags")
        shared = None if flags is None else bool(flags & uapi.MAP_SHARED)
        return vmm.mmap(args["length"], args["addr"], args["fd"], args["offset"], shared)
    if op == "madvise":
        return vmm.madvise(args["addr"], args["length"], args["advice"])
    return getattr(vmm, op)(**args)


def _hex_region(region: dict[str, int]) -> dict[str, Any]:
    return {"source_addr": hex(region["source_addr"]), "gpa": hex(region["gpa"]), "nr_pages": region["nr_pages"]}


def _describe_exit(exit_: dict[str, Any]) -> dict[str, Any]:
    """An exit to userspace with its payload and the nested VMM steps it caused."""
    out = {k: (hex(v) if k == "gpa" else v) for k, v in exit_.items() if k != "vmm"}
    if "vmm" not in exit_:
        return out
    out["vmm"] = [
        {
            **{k: (hex(v) if k in ("address", "offset", "size", "addr", "length") else v) for k, v in s.items()},
            "errno": errno_name(s["ret"]) if s["ret"] < 0 else None,
        }
        for s in exit_["vmm"]
    ]
    return out


def _describe_step(op: str, label: str | None, result: dict[str, Any], events: list) -> dict[str, Any]:
    """The contract's per-step output."""
    result = dict(result)
    ret = result.pop("ret")
    out: dict[str, Any] = {"op": op}
    if label is not None:
        out["label"] = label
    if "vm" in result:
        out["vm"] = result.pop("vm")
    out["ret"] = ret
    out["errno"] = errno_name(ret) if ret < 0 else None
    out["seamcalls"] = [
        {k: (hex(v) if k in ("gpa", "code") else v) for k, v in call.items()} for call in expand_seamcalls(events)
    ]
    for key, value in result.items():
        if key == "region":
            out["region"] = _hex_region(value)
        elif key in ("addr", "error_offset"):
            out[key] = hex(value)
        elif key == "data":
            out["data"] = value.hex()
        elif key == "hw_error":
            if value:
                out["hw_error"] = {"status": status_name(value), "code": hex(value)}
        elif key == "exits":
            out["exits"] = [_describe_exit(e) for e in value]
        else:
            out[key] = value
    if op.startswith("guest_"):
        out["tdcalls"] = [
            {"leaf": ev.name, "gpa": hex(ev.data["gpa"]), "status": ev.data["status"]}
            for ev in events
            if ev.kind == "tdcall"
        ]
        out.setdefault("exits", [_describe_exit({"reason": ev.name, **ev.data}) for ev in events if ev.kind == "exit"])
    out["calls"] = [
        {"layer": ev.layer, "fn": ev.name, "depth": ev.depth, **({"ret": ev.data["ret"]} if "ret" in ev.data else {})}
        for ev in events
        if ev.kind == "call"
    ]
    return out


def _describe_vm(vmm: Vmm, kvm: Kvm | None) -> dict[str, Any]:
    """One VM's part of `final`: TD state, VM death, MRTD and S-EPT leaves."""
    out: dict[str, Any] = {
        "td_state": "TD_STATE_UNINITIALIZED" if kvm is None else kvm.tdx.state,
        "vm_dead": bool(kvm and kvm.vm_dead),
        "mrtd": None,
        "sept": {},
    }
    td = vmm.module.tds.get(kvm.tdx.tdr) if kvm is not None and kvm.tdx.tdr is not None else None
    if td is not None:
        if td.mrtd is not None:
            out["mrtd"] = td.mrtd.hex()
        out["sept"] = {
            hex(base): state.value
            for (level, base), state in sorted(td.sept.items(), key=lambda kv: kv[0][1])
            if level == 0 and state is not SeptState.FREE
        }
    return out


def describe_final(vmm: Vmm) -> dict[str, Any]:
    """The contract's `final` object: TD state, VM death, MRTD, S-EPT leaves, pages, memory, platform."""
    from tdxsim import platform

    final = _describe_vm(vmm, vmm.vms[0] if vmm.vms else None)
    if len(vmm.vms) > 1:
        final["vms"] = [
            {**_describe_vm(vmm, kvm), "hkid": kvm.tdx.hkid if kvm.tdx.is_hkid_assigned() else None} for kvm in vmm.vms
        ]
    final["pages"] = vmm.describe_pages()
    memory: dict[str, int] = {}
    for page in final["pages"].values():
        memory[page["owner"]] = memory.get(page["owner"], 0) + platform.PAGE_SIZE
    final["memory"] = dict(sorted(memory.items()))
    final["platform"] = platform.describe()
    return final


@dataclass
class Replay:
    """A replayed scenario: the contract's output, the machine it ran on, and where each step's events start."""

    output: dict[str, Any]
    vmm: Vmm
    #: Index into vmm.trace.events where each step began, plus one last entry: the end of the record.
    marks: list[int]


def replay_scenario(doc: Any) -> Replay:
    """Validate the whole scenario first, then replay it; raises ScenarioError for a malformed one."""
    kernel, in_place = parse_header(doc)
    parsed, total = [], 0
    for i, step in enumerate(doc["steps"]):
        parsed.append(parse_step(step, i))
        op, args = parsed[-1]
        if op in _ACCESS_OPS:
            n = args[_ACCESS_OPS[op]]
            total += n if isinstance(n, int) else len(n)
            if total > MAX_TOTAL_ACCESS:
                raise ScenarioError(
                    f"{op}: the scenario's reads, writes and pins add up to more than {MAX_TOTAL_ACCESS} bytes, "
                    'the limit (docs/scenario.md "Limits")',
                    i,
                )
    vmm = Vmm(kernel, in_place)
    steps_out, marks = [], []
    for i, ((op, args), raw) in enumerate(zip(parsed, doc["steps"], strict=True)):
        marks.append(len(vmm.trace.events))
        vmm.select_vm(step_vm(raw))
        try:
            result = _call_vmm(vmm, op, args)
        except TraceLimitError as exc:
            raise ScenarioError(f"{op}: {exc}", i) from None
        if "vm" in raw:
            result = {"vm": step_vm(raw), **result}
        steps_out.append(_describe_step(op, raw.get("label"), result, vmm.trace.since(marks[-1])))
    marks.append(len(vmm.trace.events))
    vmm.select_vm(0)
    output = {
        "format": FORMAT,
        "kernel": kernel,
        "gmem_in_place_conversion": in_place,
        "steps": steps_out,
        "final": describe_final(vmm),
    }
    return Replay(output, vmm, marks)


def run_scenario(doc: Any) -> dict[str, Any]:
    """Replay a scenario document and return the contract's output; raises ScenarioError for a malformed one."""
    return replay_scenario(doc).output
