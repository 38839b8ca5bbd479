"""Seeded practice problems, as in the OSTEP homework simulators: a seed draws a situation around one
`KVM_TDX_INIT_MEM_REGION`, the reader predicts what it returns, and `answer()` replays it through the scenario runner.

`python -m tdxsim problem --seed N [--answer] [--json]` is the door (docs/scenario.md "Practice problems").

Same seed, same problem, on every machine and Python version: the draw uses only `random.Random(seed).random()`,
whose sequence for an integer seed the Python documentation promises to keep ("the generator's random() method
will continue to produce the same sequence when the compatible seeder is given the same seed"); `randrange`,
`choice` and `shuffle` carry no such promise, so every pick is `int(rng.random() * len(options))` over a fixed tuple.
The answers are never stored: `answer()` runs the drawn scenario through `tdxsim.scenario.run_scenario` and reads the
errno, the SEAMCALLs and the final S-EPT state off its output.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tdxsim.kvm.flavours import FLAVOURS
from tdxsim.platform import MMAP_BASE, PAGE_SIZE, SOURCE_BUFFER_VA

#: The largest seed accepted (seeds are 0 .. MAX_SEED).
MAX_SEED = (1 << 32) - 1
PAGE = PAGE_SIZE
SLOT_SIZE = 2 << 20
SLOT_PAGES = SLOT_SIZE // PAGE
#: Where the memslot's userspace side is mapped (the contract's example) and where a separate source buffer lives.
GMEM_VA = MMAP_BASE
SRC_VA = SOURCE_BUFFER_VA

#: The kernel flavours, in the contract's order (docs/scenario.md "Kernel flavours").
KERNELS: tuple[str, ...] = tuple(FLAVOURS)
#: What source_addr points at.
SOURCES: tuple[str, ...] = ("buffer", "zero", "zero-va0-mapped")
#: The order of steps around the asked INIT_MEM_REGION.
ORDERS: tuple[str, ...] = (
    "in order",
    "double add",
    "add after finalize",
    "add before attributes",
    "add before memslot",
)

#: Which tree each flavour is, without saying what it does (that is the question).
KERNEL_TEXT = {
    "pre-2a62345b3052": "kvm-x86 before Michael Roth's populate rework (before Jan 2026)",
    "2a62345b3052": "kvm-x86 with Michael Roth's populate rework (commit 2a62345b3052, Jan 2026)",
    "kvm-x86-2026-06": "kvm-x86 at 09c6f74e (Jun 2026), without the in-place conversion series",
    "v8": "the guest_memfd in-place conversion series v8 (Jun 2026, proposed)",
    "v13": "the in-place conversion series as it landed (v13, Sep 2026)",
}
SOURCE_TEXT = {
    "buffer": "a separate source buffer at {src} holding the page's bytes",
    "zero": "0, with nothing mapped at virtual address 0",
    "zero-va0-mapped": "0, with userspace having mapped virtual address 0 and written 'Y' there",
}
ORDER_TEXT = {
    "in order": "the intel-tdx.rst order: memslot, attributes private, one INIT_MEM_REGION, FINALIZE",
    "double add": "the same INIT_MEM_REGION twice; the question is about the second",
    "add after finalize": "KVM_TDX_FINALIZE_VM first, then the INIT_MEM_REGION",
    "add before attributes": "the INIT_MEM_REGION before the page is made private",
    "add before memslot": "the INIT_MEM_REGION before KVM_SET_USER_MEMORY_REGION2 binds the guest_memfd",
}
QUESTIONS = (
    "What does the asked step return: 0 or which errno?",
    "Which SEAMCALLs does the asked step issue, in order, and with what status?",
    "What is the final S-EPT state: which private GPAs have a leaf that is not FREE, and in which state?",
)


class ProblemError(ValueError):
    """A seed that is not in 0 .. MAX_SEED."""


@dataclass(frozen=True)
class Problem:
    """One drawn situation: every parameter, the scenario it makes, and which step the questions are about."""

    seed: int
    kernel: str
    in_place: bool
    source: str
    gpa: int
    measure: bool
    order: str
    scenario: dict[str, Any]
    asked: int

    @property
    def model(self) -> str:
        """The memory model: guest_memfd attributes converted in place, or per-VM attributes (out-of-place)."""
        return "in-place" if self.in_place else "out-of-place"

    @property
    def source_addr(self) -> int:
        return SRC_VA if self.source == "buffer" else 0

    def parameters(self) -> dict[str, Any]:
        """Every drawn parameter, as printed and as in `--json`."""
        return {
            "seed": self.seed,
            "kernel": self.kernel,
            "gmem_in_place_conversion": self.in_place,
            "model": self.model,
            "source": self.source,
            "source_addr": hex(self.source_addr),
            "gpa": hex(self.gpa),
            "measure": self.measure,
            "order": self.order,
        }


def _pick(rng: random.Random, options: tuple) -> Any:
    """One of `options`, from `rng.random()` only (the one method whose sequence Python promises to keep)."""
    return options[int(rng.random() * len(options))]


def _op(op: str, **args: Any) -> dict[str, Any]:
    return {"op": op, **args}


def draw(seed: int) -> Problem:
    """The problem of `seed`; raises ProblemError for a seed outside 0 .. MAX_SEED."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ProblemError(f"seed must be an integer from 0 to {MAX_SEED}, not {seed!r}")
    rng = random.Random(seed)
    kernel = _pick(rng, KERNELS)
    # the gmem_in_place_conversion parameter exists only in the series (flavours.py has_in_place)
    in_place = _pick(rng, (True, False)) if FLAVOURS[kernel].has_in_place else False
    source = _pick(rng, SOURCES)
    gpa = int(rng.random() * SLOT_PAGES) * PAGE
    measure = _pick(rng, (True, False))
    order = _pick(rng, ORDERS)
    scenario, asked = _scenario(kernel, in_place, source, gpa, measure, order)
    return Problem(seed, kernel, in_place, source, gpa, measure, order, scenario, asked)


def _scenario(
    kernel: str, in_place: bool, source: str, gpa: int, measure: bool, order: str
) -> tuple[dict[str, Any], int]:
    """The scenario document (docs/scenario.md, format 1) and the index of the asked step.

    The TD is built in the order of Documentation/virt/kvm/x86/intel-tdx.rst ("KVM TDX creation flow"); in-place, the
    guest_memfd is mmap-able and starts shared, the page is written while shared and converted with
    KVM_SET_MEMORY_ATTRIBUTES2 (the v8 cover letter's model); out-of-place, the memslot's GPA range is made private
    with the per-VM KVM_SET_MEMORY_ATTRIBUTES, as QEMU does for every guest_memfd slot.
    """
    data = {"fill": 0x5A, "length": PAGE}
    private = ["KVM_MEMORY_ATTRIBUTE_PRIVATE"]
    setup = [
        _op("KVM_CREATE_VM", type="KVM_X86_TDX_VM"),
        _op("KVM_TDX_INIT_VM"),
        _op("KVM_CREATE_VCPU", id=0),
        _op("KVM_TDX_INIT_VCPU", vcpu=0),
    ]
    if in_place:
        setup += [
            _op(
                "KVM_CREATE_GUEST_MEMFD",
                size=SLOT_SIZE,
                flags=["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"],
            ),
            _op("mmap", addr=hex(GMEM_VA), length=SLOT_SIZE, fd="guest_memfd:0"),
        ]
    else:
        setup += [_op("KVM_CREATE_GUEST_MEMFD", size=SLOT_SIZE), _op("mmap", addr=hex(GMEM_VA), length=SLOT_SIZE)]
    memslot = [
        _op(
            "KVM_SET_USER_MEMORY_REGION2",
            slot=0,
            flags=["KVM_MEM_GUEST_MEMFD"],
            guest_phys_addr=0,
            memory_size=SLOT_SIZE,
            userspace_addr=hex(GMEM_VA),
            guest_memfd=0,
            guest_memfd_offset=0,
        )
    ]
    if in_place:
        memslot.append(_op("write", addr=hex(GMEM_VA + gpa), data=data))
        attributes = [_op("KVM_SET_MEMORY_ATTRIBUTES2", guest_memfd=0, offset=hex(gpa), size=PAGE, attributes=private)]
    else:
        attributes = [_op("KVM_SET_MEMORY_ATTRIBUTES", address=0, size=SLOT_SIZE, attributes=private)]
    sources = []
    if source == "buffer":
        sources = [_op("mmap", addr=hex(SRC_VA), length=PAGE), _op("write", addr=hex(SRC_VA), data=data)]
    elif source == "zero-va0-mapped":
        sources = [_op("mmap", addr="0x0", length=PAGE), _op("write", addr="0x0", data={"text": "Y"})]
    src = SRC_VA if source == "buffer" else 0
    add = _op(
        "KVM_TDX_INIT_MEM_REGION",
        vcpu=0,
        source_addr=hex(src),
        gpa=hex(gpa),
        nr_pages=1,
        flags=["KVM_TDX_MEASURE_MEMORY_REGION"] if measure else [],
    )
    finalize = [_op("KVM_TDX_FINALIZE_VM")]
    if order == "double add":
        steps = setup + memslot + attributes + sources + [add, dict(add, label="asked")] + finalize
    elif order == "add after finalize":
        steps = setup + memslot + attributes + sources + finalize + [dict(add, label="asked")]
    elif order == "add before attributes":
        steps = setup + memslot + sources + [dict(add, label="asked")] + attributes + finalize
    elif order == "add before memslot":
        steps = setup + sources + [dict(add, label="asked")] + memslot + attributes + finalize
    else:
        steps = setup + memslot + attributes + sources + [dict(add, label="asked")] + finalize
    doc = {"format": 1, "kernel": kernel, "gmem_in_place_conversion": in_place, "steps": steps}
    asked = next(i for i, s in enumerate(steps) if s.get("label") == "asked")
    return doc, asked


def answer(problem: Problem) -> dict[str, Any]:
    """The simulator's answers: the asked step's `ret` and `errno`, its SEAMCALLs (leaf, gpa, level, status), and
    the final S-EPT leaves (docs/scenario.md "Output"), from one replay through `run_scenario`."""
    from tdxsim.scenario import run_scenario

    out = run_scenario(problem.scenario)
    step = out["steps"][problem.asked]
    calls = [{k: c[k] for k in ("leaf", "gpa", "level", "status") if k in c} for c in step["seamcalls"]]
    return {"ret": step["ret"], "errno": step["errno"], "seamcalls": calls, "sept": out["final"]["sept"]}


def fold_seamcalls(calls: list[dict[str, Any]]) -> list[str]:
    """SEAMCALLs as lines, runs of the same leaf and status folded (`TDH.MR.EXTEND ×16 TDX_SUCCESS`)."""
    lines: list[tuple[str, str, int, list[str]]] = []
    for c in calls:
        where = f"gpa {c['gpa']}" if "gpa" in c else ""
        if "level" in c:
            where += f" level {c['level']}"
        if lines and lines[-1][0] == c["leaf"] and lines[-1][1] == c["status"] and c["leaf"] == "TDH.MR.EXTEND":
            leaf, status, n, wheres = lines[-1]
            lines[-1] = (leaf, status, n + 1, wheres)
        else:
            lines.append((c["leaf"], c["status"], 1, [where.strip()]))
    out = []
    for leaf, status, n, wheres in lines:
        count = f" ×{n}" if n > 1 else ""
        where = f" ({wheres[0]}{', …' if n > 1 else ''})" if wheres[0] else ""
        out.append(f"{leaf}{count}{where} → {status}")
    return out


def _value(v: Any) -> str:
    """An argument as the reader would write it: flags OR-ed, data as what it holds."""
    if isinstance(v, list):
        return "|".join(v) or "0"
    if isinstance(v, dict):
        return repr(v["text"]) if "text" in v else f"{v['length']}×{v['fill']:#04x}"
    return str(v)


def _describe(step: dict[str, Any]) -> str:
    args = " ".join(f"{k}={_value(v)}" for k, v in step.items() if k not in ("op", "label"))
    return f"{step['op']} {args}".rstrip()


def text(problem: Problem, with_answer: bool = False) -> str:
    """The problem as OSTEP prints one: every parameter, the steps, the questions, and with_answer the answers."""
    p = problem
    lines = [
        f"tdxsim problem, seed {p.seed}",
        "",
        f"  kernel                    {p.kernel}: {KERNEL_TEXT[p.kernel]}",
        f"  gmem_in_place_conversion  {'on' if p.in_place else 'off'}",
        f"  memory model              {p.model}",
        f"  source_addr               {hex(p.source_addr)}: " + SOURCE_TEXT[p.source].format(src=hex(SRC_VA)),
        f"  gpa                       {hex(p.gpa)} (page {p.gpa // PAGE} of a {SLOT_SIZE >> 20} MiB memslot at GPA 0)",
        f"  flags                     {'KVM_TDX_MEASURE_MEMORY_REGION' if p.measure else '(none)'}",
        f"  order                     {p.order}: {ORDER_TEXT[p.order]}",
        "",
        "Steps (the VMM's calls, in order):",
    ]
    for i, s in enumerate(p.scenario["steps"]):
        mark = "   <- asked" if i == p.asked else ""
        lines.append(f"  {i:2}  {_describe(s)}{mark}")
    lines += ["", f"Questions about step {p.asked}:"]
    lines += [f"  {i}. {q}" for i, q in enumerate(QUESTIONS, 1)]
    if not with_answer:
        lines += ["", f"Answers: python -m tdxsim problem --seed {p.seed} --answer"]
        return "\n".join(lines)
    a = answer(p)
    ret = "0" if a["ret"] == 0 else f"-{a['errno']} ({a['ret']})"
    sept = ", ".join(f"{gpa} {state}" for gpa, state in a["sept"].items()) or "every leaf FREE (nothing listed)"
    lines += ["", "Answers (replayed by tdxsim's scenario runner):", f"  1. {ret}"]
    calls = fold_seamcalls(a["seamcalls"])
    lines.append("  2. " + ("none" if not calls else calls[0]))
    lines += [f"     {c}" for c in calls[1:]]
    lines.append(f"  3. {sept}")
    return "\n".join(lines)


def to_json(problem: Problem, with_answer: bool = False) -> dict[str, Any]:
    """The problem as `--json` prints it: parameters, the scenario document, the asked step, the questions, and
    with_answer the answers."""
    out: dict[str, Any] = {
        "parameters": problem.parameters(),
        "scenario": problem.scenario,
        "asked_step": problem.asked,
        "questions": list(QUESTIONS),
    }
    if with_answer:
        out["answer"] = answer(problem)
    return out
