"""Calls on a `Vmm`, recorded as the Python a reader would type to make them again: the one place that turns calls
into code text, for the widgets' "Show the calls".

`Calls` drives a fresh `Vmm` through its methods and `tdxsim.recipes`, and keeps each call's `Result` and its line
of code; `code` is a script that, run in a fresh interpreter, makes the same calls on a new machine (same results:
the simulator is deterministic). `scenario_code(doc)` writes the calls a scenario document makes, decoded exactly as
`tdxsim.scenario.replay_scenario` decodes them; `StepRecorder` goes the other way, keeping the calls made on a `Vmm`
(by a recipe, say) as scenario steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tdxsim.kvm import uapi
from tdxsim.kvm.flavours import DEFAULT_FLAVOUR
from tdxsim.result import Result
from tdxsim.scenario import OPS, REQUIRED, VM_OPS, parse_header, parse_step, step_vm
from tdxsim.vmm.process import Vmm

#: (method, argument) -> the uAPI bits that argument takes, so flags print by name (`uapi.KVM_MEM_GUEST_MEMFD`).
FLAG_NAMES: dict[tuple[str, str], dict[str, int]] = {
    ("KVM_TDX_INIT_VM", "attributes"): {"TDX_TD_ATTR_" + k: v for k, v in uapi.TD_ATTRIBUTES.items()},
    ("KVM_CREATE_GUEST_MEMFD", "flags"): uapi.GUEST_MEMFD_FLAGS,
    ("KVM_SET_USER_MEMORY_REGION2", "flags"): uapi.MEM_FLAGS,
    ("KVM_SET_MEMORY_ATTRIBUTES", "attributes"): uapi.MEMORY_ATTRIBUTES,
    ("KVM_SET_MEMORY_ATTRIBUTES2", "attributes"): uapi.MEMORY_ATTRIBUTES,
    ("KVM_TDX_INIT_MEM_REGION", "flags"): uapi.TDX_INIT_MEM_REGION_FLAGS,
}
#: Arguments that are addresses, and sizes and offsets of a page or more: printed in hex.
ADDRESSES = {"addr", "source_addr", "gpa", "address", "guest_phys_addr", "userspace_addr"}
SIZES = {"size", "memory_size", "length", "offset", "guest_memfd_offset"}


def _defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """A function's keyword defaults (read from its code object: `inspect` reads the host, the model may not)."""
    fn = getattr(fn, "__wrapped__", fn)
    code, defaults = fn.__code__, fn.__defaults__ or ()
    names = code.co_varnames[: code.co_argcount]
    return dict(zip(names[len(names) - len(defaults) :], defaults, strict=True)) | (fn.__kwdefaults__ or {})


def _bytes_expr(data: bytes) -> str:
    """Bytes as a short exact expression: runs of 16 or more zero bytes as `bytes(n)` (an image page is mostly
    zeros), the rest as literals: `b'firmware page 0' + bytes(4081)`."""
    parts, at = [], 0
    for zeros in _zero_runs(data):
        start, end = zeros
        if start > at:
            parts.append(repr(data[at:start]))
        parts.append(f"bytes({end - start})")
        at = end
    if at < len(data) or not parts:
        parts.append(repr(data[at:]))
    return " + ".join(parts)


def _zero_runs(data: bytes, shortest: int = 16) -> list[tuple[int, int]]:
    runs, at = [], data.find(bytes(shortest))
    while at != -1:
        end = len(data) - len(data[at:].lstrip(b"\0"))
        runs.append((at, end))
        at = data.find(bytes(shortest), end)
    return runs


def _value(method: str, name: str, value: Any) -> str:
    if isinstance(value, bytes):
        return _bytes_expr(value)
    bits = FLAG_NAMES.get((method, name))
    if bits and isinstance(value, int) and value:
        named = [k for k, v in bits.items() if value & v and getattr(uapi, k, None) == v]
        if sum(bits[k] for k in named) == value:
            return " | ".join(f"uapi.{k}" for k in named)
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (name in ADDRESSES or (name in SIZES and value >= 4096))
    ):
        return hex(value)
    return repr(value)


def render_call(
    callee: str, method: str, kwargs: dict[str, Any], defaults: dict[str, Any], name: str | None, lead: str = ""
) -> str:
    """One line: `name = callee(lead, arg=value, ...)`, leaving out arguments equal to their default."""
    args = [lead] if lead else []
    args += [f"{k}={_value(method, k, v)}" for k, v in kwargs.items() if k not in defaults or defaults[k] != v]
    return f"{name + ' = ' if name else ''}{callee}({', '.join(args)})"


class Calls:
    """A new machine, the calls made on it (each call's `Result`, by name where given) and the code that makes them."""

    def __init__(self, kernel: str = DEFAULT_FLAVOUR, gmem_in_place_conversion: bool | None = None) -> None:
        self.vmm = Vmm(kernel, gmem_in_place_conversion)
        self.lines = [f"vmm = tdxsim.Vmm(kernel={kernel!r}, gmem_in_place_conversion={self.vmm.in_place})"]
        self.results: dict[str, Result] = {}
        self.history: list[tuple[int, str | None, Result]] = []  # (first event index, name, result) per Vmm call
        self._imports = {"import tdxsim"}

    def __call__(self, method: str, /, name: str | None = None, **kwargs: Any) -> Result:
        """`vmm.<method>(**kwargs)`, recorded; `name` keeps the result (and names it in the code)."""
        mark = len(self.vmm.trace.events)
        fn = getattr(self.vmm, method)
        result = fn(**kwargs)
        line = render_call(f"vmm.{method}", method, kwargs, _defaults(fn), name)
        self._add(line, [(mark, name, result)])
        if name:
            self.results[name] = result
        return result

    def recipe(self, fn: Callable[..., Any], /, name: str | None = None, **kwargs: Any) -> Any:
        """`recipes.<fn>(vmm, **kwargs)`, recorded; its results join `history` in call order."""
        mark = len(self.vmm.trace.events)
        out = fn(self.vmm, **kwargs)
        results = out if isinstance(out, list) else next(x for x in out if isinstance(x, list))
        entries: list[tuple[int, str | None, Result]] = []
        for result in results:
            entries.append((mark, None, result))
            mark += len(result.events)
        self._imports.add("from tdxsim import recipes")
        self._add(render_call(f"recipes.{fn.__name__}", fn.__name__, kwargs, _defaults(fn), name, "vmm"), entries)
        return out

    def select_vm(self, index: int) -> None:
        """`vmm.select_vm(index)`, recorded."""
        self.vmm.select_vm(index)
        self.lines.append(f"vmm.select_vm({index})")

    def _add(self, line: str, entries: list[tuple[int, str | None, Result]]) -> None:
        self.lines.append(line)
        self.history += entries

    def __getitem__(self, name: str) -> Result:
        return self.results[name]

    def last(self, op: str) -> Result:
        """The result of the last call of `op`."""
        return next(r for _m, _n, r in reversed(self.history) if r.op == op)

    @property
    def events(self) -> list:
        """The machine's whole event record (each call's own events are its `Result.events`)."""
        return self.vmm.trace.events

    @property
    def code(self) -> str:
        """The script: imports, then one line per call."""
        return python(self._imports, self.lines)

    @property
    def step_marks(self) -> list[tuple[int, dict[str, Any]]]:
        """(first event index, the call as a step) per Vmm call, for `tdxsim.plot.call_timeline`."""
        return [
            (mark, {"op": r.op, "ret": r.ret, "errno": r.errno, **({"label": n} if n else {}), **r})
            for mark, n, r in self.history
        ]


def python(imports: set[str], lines: list[str]) -> str:
    """A script from its imports and its lines: `import ...` lines first, then `from ...` ones (with `uapi` whenever
    a line names a flag as `uapi.NAME`), a blank line, the lines. The layout of every script this module writes."""
    if any("uapi." in line for line in lines):
        imports = {*imports, "from tdxsim.kvm import uapi"}
    return "\n".join(sorted(imports, key=lambda line: (not line.startswith("import"), line)) + [""] + lines) + "\n"


def script(kernel: str, in_place: bool, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> str:
    """The script that makes `calls` ((method, positional args, keyword args) on a `Vmm`) on a new machine."""
    lines = [f"vmm = tdxsim.Vmm(kernel={kernel!r}, gmem_in_place_conversion={in_place})"]
    for method, args, kwargs in calls:
        if method == "select_vm":
            lines.append(f"vmm.select_vm({args[0]})")
            continue
        fn = getattr(Vmm, method)
        code = getattr(fn, "__wrapped__", fn).__code__
        named = {**dict(zip(code.co_varnames[1 : code.co_argcount], args, strict=False)), **kwargs}
        lines.append(render_call(f"vmm.{method}", method, named, _defaults(fn), None))
    return python({"import tdxsim"}, lines)


def code_of(vmm: Vmm) -> str:
    """The script that makes every call made on `vmm` so far (`Vmm.calls_made`) again, on a new machine: recipes
    and lessons show up as the `Vmm` calls they made."""
    return script(vmm.kernel, vmm.in_place, vmm.calls_made)


def function_call(
    fn: Callable[..., Any], /, *lead: str, name: str | None = None, module: str = "", **kwargs: Any
) -> str:
    """One line calling a function that is not a `Vmm` method (`measure_firmware`, `diagnose`, a lesson's):
    `name = module.fn(lead, arg=value, ...)`, the leading arguments as code, the others as values, defaults left
    out."""
    callee = f"{module}.{fn.__name__}" if module else fn.__name__
    return render_call(callee, fn.__name__, kwargs, _defaults(fn), name, ", ".join(lead))


def step_names(doc: dict[str, Any]) -> list[str | None]:
    """The Python name each step's result gets in `scenario_code`: its label as an identifier ("add again" ->
    add_again), None for a step without a label, or with one that makes no name or repeats one."""
    names: list[str | None] = []
    for raw in doc["steps"]:
        label = raw.get("label") if isinstance(raw, dict) else None
        name = "".join(ch if ch.isalnum() else "_" for ch in str(label or "").lower()).strip("_")
        while "__" in name:
            name = name.replace("__", "_")
        ok = name and not name[0].isdigit() and name not in names and name not in ("vmm", "tdxsim", "recipes", "uapi")
        names.append(name if ok else None)
    return names


def scenario_code(doc: dict[str, Any]) -> str:
    """The calls `replay_scenario(doc)` makes, as a script (labelled steps keep their result, see `step_names`)."""
    kernel, in_place = parse_header(doc)
    lines = [f"vmm = tdxsim.Vmm(kernel={kernel!r}, gmem_in_place_conversion={in_place})"]
    imports, vm = {"import tdxsim"}, 0
    for i, (raw, name) in enumerate(zip(doc["steps"], step_names(doc), strict=True)):
        op, args = parse_step(raw, i)
        if step_vm(raw) != vm:
            vm = step_vm(raw)
            lines.append(f"vmm.select_vm({vm})")
        if op == "mmap":  # as scenario._call_vmm: the mmap flags only choose MAP_SHARED
            flags = args.pop("flags")
            args["shared"] = None if flags is None else bool(flags & uapi.MAP_SHARED)
        lines.append(render_call(f"vmm.{op}", op, args, _defaults(getattr(Vmm, op)), name))
    return python(imports, lines)


#: (op, argument) -> the names a scenario step uses for that argument's bits (docs/scenario.md "Ops").
STEP_BITS: dict[tuple[str, str], dict[str, int]] = {
    ("KVM_TDX_INIT_VM", "attributes"): uapi.TD_ATTRIBUTES,
    ("KVM_CREATE_GUEST_MEMFD", "flags"): uapi.GUEST_MEMFD_FLAGS,
    ("KVM_SET_USER_MEMORY_REGION2", "flags"): uapi.MEM_FLAGS,
    ("KVM_SET_MEMORY_ATTRIBUTES", "attributes"): uapi.MEMORY_ATTRIBUTES,
    ("KVM_SET_MEMORY_ATTRIBUTES2", "attributes"): uapi.MEMORY_ATTRIBUTES,
    ("KVM_TDX_INIT_MEM_REGION", "flags"): uapi.TDX_INIT_MEM_REGION_FLAGS,
    ("fallocate", "mode"): uapi.FALLOC_FLAGS,
}
STEP_ENUMS: dict[tuple[str, str], dict[str, int]] = {
    ("KVM_CREATE_VM", "type"): {"KVM_X86_TDX_VM": uapi.KVM_X86_TDX_VM},
    ("madvise", "advice"): uapi.MADVISE,
}


def as_step(op: str, kwargs: dict[str, Any], vm: int = 0) -> dict[str, Any]:
    """One `Vmm` call as a scenario step: bits and enums by name, addresses in hex, bytes as a hex string,
    arguments equal to the method's default left out unless the format requires them."""
    defaults = _defaults(getattr(Vmm, op))
    required = {k: defaults[k] for k, (_parse, default) in OPS[op].items() if default is REQUIRED and k in defaults}
    kwargs = {**required, **kwargs}
    step: dict[str, Any] = {"op": op}
    if vm and op in VM_OPS:
        step["vm"] = vm
    for name, value in kwargs.items():
        if name == "shared" and op == "mmap":
            if value is not None:
                step["flags"] = ["MAP_SHARED" if value else "MAP_PRIVATE"]
            continue
        if OPS[op][name][1] is not REQUIRED and name in defaults and defaults[name] == value:
            continue
        if (op, name) in STEP_BITS:
            value = [k for k, bit in STEP_BITS[op, name].items() if value & bit]
        elif (op, name) in STEP_ENUMS:
            value = next(k for k, v in STEP_ENUMS[op, name].items() if v == value)
        elif op == "mmap" and name == "fd":
            value = f"guest_memfd:{value}"
        elif isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, int) and not isinstance(value, bool) and name in ADDRESSES:
            value = hex(value)
        step[name] = value
    return step


class StepRecorder:
    """Stands in for a `Vmm` (pass it to a recipe): makes each call on the real machine and keeps it as a step."""

    def __init__(self, vmm: Vmm) -> None:
        self.vmm = vmm
        self.steps: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.vmm, name)
        if name not in OPS:
            return attr

        fn = getattr(getattr(Vmm, name), "__wrapped__", getattr(Vmm, name))
        params = fn.__code__.co_varnames[1 : fn.__code__.co_argcount]  # after self

        def call(*args: Any, **kwargs: Any) -> Result:
            self.steps.append(as_step(name, {**dict(zip(params, args, strict=False)), **kwargs}, self.vmm.selected))
            return attr(*args, **kwargs)

        return call
