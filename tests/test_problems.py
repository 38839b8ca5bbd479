"""`python -m tdxsim problem --seed N` (docs/scenario.md "Practice problems"): reproducible draws, answers that agree
with the kernel sources, one-line errors.

The expected answers below come from the rows of tests/test_outcome_matrix.py and the sources they quote, never from
running tdxsim: tdx.c = arch/x86/kvm/vmx/tdx.c at kvm-x86 09c6f74ecb86, guest_memfd.c = virt/kvm/guest_memfd.c, "v8
NN/46" a patch of 20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com, v13's tdx.c = sean-jc/linux
07f26358894029ac26441664ce21bd73748903d0.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tdxsim import problems
from tdxsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SEEDS = range(160)


def _first_add(p: problems.Problem) -> str | None:
    """The errno of the first INIT_MEM_REGION made in order (None: it succeeds)."""
    if p.source == "buffer":
        return None  # row 1: a mapped source page is copied by PAGE.ADD in every flavour (v13: `src_page ?: ...`)
    if p.kernel == "pre-2a62345b3052":
        # row 19: tdx_gmem_post_populate GUPs address 0 itself (Yan, quoted in CAEvNRgHb6WmOha6...): the VA-0 page is
        # the source when mapped, else the GUP fails with -EFAULT
        return None if p.source == "zero-va0-mapped" else "EFAULT"
    if p.kernel == "2a62345b3052":
        return "EOPNOTSUPP"  # row 18: `if (!src_page) return -EOPNOTSUPP`, whether VA 0 is mapped or not
    if p.kernel == "kvm-x86-2026-06":
        return "EINVAL"  # row 16: `!region.source_addr` in tdx_vcpu_init_mem_region's first validation
    if p.in_place:
        return None  # rows 20-21 (v8 23/46) and v13's `src_page ?: pfn_to_page(pfn)`: the target is its own source
    # v8 23/46: `!src_page && !gmem_in_place_conversion` -> -EOPNOTSUPP (row 17); v13: -EINVAL up front
    return "EOPNOTSUPP" if p.kernel == "v8" else "EINVAL"


def expected(p: problems.Problem) -> tuple[str | None, bool] | None:
    """(errno of the asked step, whether it adds the page), or None where no source gives the answer."""
    if p.order == "add after finalize":
        return "EINVAL", False  # row 9: tdx.c "Once TD is finalized, the initial guest memory is fixed"
    if p.order == "add before memslot":
        return "EINVAL", False  # row 11: guest_memfd.c kvm_gmem_populate, gfn_to_memslot() is NULL
    if p.order == "add before attributes":
        # rows 13, 14 and 22: the page is not private (per-VM attributes, or the guest_memfd's own with in-place
        # conversion); the source rules of rows 16-19 come no earlier than this check or are -EINVAL too
        return "EINVAL", False
    first = _first_add(p)
    if p.order == "in order":
        return first, first is None
    if first == "EINVAL":
        return "EINVAL", False  # rows 16 and v13's: refused in the up-front validation, whatever came before
    if first is not None:
        return None  # a double add whose first add failed inside the loop: no row covers the second
    if p.kernel == "pre-2a62345b3052":
        # docs/fidelity.md: before the populate rework, kvm_gmem_populate refuses the already-prepared folio
        return "EEXIST", False
    # row 23: the mirror SPTE is present, RET_PF_SPURIOUS, kvm_tdp_mmu_map_private_pfn -> -EIO (Yan Zhao,
    # akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com)
    return "EIO", False


def expected_seamcalls(p: problems.Problem) -> list[tuple[str, int | None]]:
    """Row 1: a first add into a fresh TD builds the S-EPT tables (TDH.MEM.SEPT.ADD at levels 3, 2, 1 at gpaw 48),
    then TDH.MEM.PAGE.ADD and, with MEASURE, 16 TDH.MR.EXTEND of 256 bytes (row 2: none without)."""
    calls = [("TDH.MEM.SEPT.ADD", level) for level in (3, 2, 1)] + [("TDH.MEM.PAGE.ADD", 0)]
    return calls + [("TDH.MR.EXTEND", None)] * (16 if p.measure else 0)


def test_the_seeds_cover_every_kernel_source_and_order():
    drawn = [problems.draw(s) for s in SEEDS]
    assert {p.kernel for p in drawn} == set(problems.KERNELS)
    assert {p.source for p in drawn} == set(problems.SOURCES)
    assert {p.order for p in drawn} == set(problems.ORDERS)
    assert {(p.kernel, p.in_place) for p in drawn if p.kernel in ("v8", "v13")} == {
        (k, b) for k in ("v8", "v13") for b in (True, False)
    }
    assert sum(expected(p) is not None for p in drawn) > 0.9 * len(drawn)


@pytest.mark.parametrize("seed", SEEDS)
def test_answer_agrees_with_the_sources(seed):
    p = problems.draw(seed)
    want = expected(p)
    if want is None:
        pytest.skip(f"seed {seed}: {p.order} on {p.kernel} with source {p.source}: no source gives the answer")
    errno, adds = want
    got = problems.answer(p)
    assert got["errno"] == errno, p.parameters()
    assert (got["ret"] == 0) == (errno is None)
    if adds:
        assert [(c["leaf"], c.get("level")) for c in got["seamcalls"]] == expected_seamcalls(p)
        assert all(c["status"] == "TDX_SUCCESS" for c in got["seamcalls"])
        assert got["seamcalls"][3]["gpa"] == hex(p.gpa)
    else:
        assert got["seamcalls"] == []  # every refusal above happens before any SEAMCALL (rows 9-23)
    page_in_td = adds or (p.order == "double add" and _first_add(p) is None)
    assert got["sept"] == ({hex(p.gpa): "MAPPED"} if page_in_td else {})


def test_in_place_only_where_the_parameter_exists():
    """docs/scenario.md: gmem_in_place_conversion exists only in the series (v8, v13)."""
    for s in SEEDS:
        p = problems.draw(s)
        assert p.scenario["gmem_in_place_conversion"] is p.in_place
        assert not p.in_place or p.kernel in ("v8", "v13")


def _cli(*args: str, hashseed: str = "0") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": hashseed}
    return subprocess.run([sys.executable, "-m", "tdxsim", *args], capture_output=True, env=env, cwd=ROOT)


@pytest.mark.parametrize("args", [("--seed", "41", "--answer", "--json"), ("--seed", "41", "--answer")])
def test_same_seed_same_bytes_in_two_processes(args):
    """Two interpreters with different hash seeds print the same bytes (the draw must not depend on set or dict
    iteration order, the clock or the host)."""
    a, b = _cli("problem", *args, hashseed="1"), _cli("problem", *args, hashseed="2")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and a.stdout
    assert a.stderr == b.stderr == b""


def test_the_documented_example_is_what_the_command_prints():
    """docs/scenario.md shows `python -m tdxsim problem --seed 4 --answer` verbatim: a change to the draw (which
    would give readers other problems for the same seed) must change the contract too."""
    doc = (ROOT / "docs" / "scenario.md").read_text()
    section = doc[doc.index("## Practice problems") :]
    shown = re.search(r"```text\n\$ python -m tdxsim problem --seed 4 --answer\n(.*?)```", section, re.S)
    assert shown, "the example is missing from docs/scenario.md"
    assert _cli("problem", "--seed", "4", "--answer").stdout.decode() == shown.group(1)


def test_json_has_every_parameter_and_a_runnable_scenario(tmp_path, capsys):
    assert main(["problem", "--seed", "12", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"parameters", "scenario", "asked_step", "questions"}  # no answer without --answer
    assert set(out["parameters"]) == {
        "seed",
        "kernel",
        "gmem_in_place_conversion",
        "model",
        "source",
        "source_addr",
        "gpa",
        "measure",
        "order",
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(out["scenario"]))
    assert main(["run", str(path)]) == 0
    replay = json.loads(capsys.readouterr().out)
    assert main(["problem", "--seed", "12", "--json", "--answer"]) == 0
    answer = json.loads(capsys.readouterr().out)["answer"]
    assert replay["steps"][out["asked_step"]]["errno"] == answer["errno"]
    assert replay["final"]["sept"] == answer["sept"]


def test_text_prints_every_parameter_and_hides_the_answer(capsys):
    p = problems.draw(5)
    assert main(["problem", "--seed", "5"]) == 0
    text = capsys.readouterr().out
    for value in (p.kernel, hex(p.gpa), hex(p.source_addr), p.order, p.model):
        assert value in text
    assert "Answers (" not in text
    assert "--seed 5 --answer" in text


def test_the_largest_seed_is_a_problem(capsys):
    """Seeds run from 0 to 2^32-1 (docs/scenario.md "Practice problems"): the last one is drawn, one more is not."""
    assert main(["problem", "--seed", "4294967295"]) == 0 and capsys.readouterr().out
    assert main(["problem", "--seed", "4294967296"]) == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["problem"],
        ["problem", "--seed"],
        ["problem", "--seed", "-1"],
        ["problem", "--seed", "x"],
        ["problem", "--seed", "4294967296"],
        ["problem", "--seed", "1_0"],
        ["problem", "--seed", "\u0663"],  # an Arabic-Indic digit: int() would take it
        ["problem", "--seed", "1" * 5000],
        ["problem", "--seed", "1", "--bogus"],
    ],
)
def test_bad_arguments_one_line_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        status = main(argv)
        raise SystemExit(status)
    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("tdxsim: ")


@pytest.mark.parametrize("seed", [-1, problems.MAX_SEED + 1, True, 1.0, "1"])
def test_draw_refuses_a_bad_seed(seed):
    with pytest.raises(problems.ProblemError):
        problems.draw(seed)


def test_seed_bounds_are_accepted():
    assert problems.draw(0).seed == 0
    assert problems.draw(problems.MAX_SEED).seed == problems.MAX_SEED
