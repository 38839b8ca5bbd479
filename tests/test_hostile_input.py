"""Hostile input to the command line: every file, value and interruption ends in one line on stderr and
exit status 2 (130 for SIGINT), or a correct answer — never a traceback, a hang or unbounded memory.

The rules are the CLI contract of docs/scenario.md ("Errors", "Limits"): one line `tdxsim: FILE: what is wrong`,
exit 2; the file limits are checked with fstat before reading.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tdxsim.cli import MAX_INPUT_BYTES

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "double-add.json"


def tdxsim(*args: str, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tdxsim", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, **kw
    )


def one_line_exit_2(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("tdxsim: "), proc.stderr
    for needle in needles:
        assert needle in proc.stderr


@pytest.mark.parametrize("command", ["run", "mrtd"])
def test_special_files_are_refused_without_reading(tmp_path: Path, command: str) -> None:
    """A FIFO without a writer, /dev/zero, /dev/urandom and a sparse file over the limit: refused from fstat, so
    none of them blocks or is read (the FIFO would block open(2) without O_NONBLOCK; /dev/zero never ends)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sparse = tmp_path / "sparse.bin"
    with open(sparse, "wb") as f:
        f.truncate(5 << 30)
    cases = {str(fifo): "FIFO", "/dev/zero": "character device", "/dev/urandom": "character device"}
    cases[str(sparse)] = f"the limit is {MAX_INPUT_BYTES}"
    cases[str(tmp_path)] = "directory"
    for path, why in cases.items():
        one_line_exit_2(tdxsim(command, path, timeout=20), why)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"format": 1, "steps": [' + "7" * 5000 + "]}", "an integer of 5000 digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": 1, "kernel": ["v8"], "steps": []}', "unknown kernel a list"),
        ('{"format": 1, "kernel": {"v8": 1}, "steps": []}', "unknown kernel an object"),
        ('{"format": true, "steps": []}', '"format" must be 1, not true'),
        ('{"format": 1.0, "steps": []}', '"format" must be 1, not 1.0'),
        ('{"format": NaN, "steps": []}', "NaN is not a JSON value"),
        ('{"format": 1, "steps": [{"op": "' + "x" * 100_000 + '"}]}', "unknown op"),
    ],
)
def test_json_values_are_typed_before_use(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    proc = tdxsim("run", str(path))
    one_line_exit_2(proc, why)
    assert len(proc.stderr) < 400  # a huge value is shown shortened


def test_too_many_steps(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"format": 1, "steps": [' + ",".join(['{"op": "signal_pending"}'] * 10_001) + "]}")
    one_line_exit_2(tdxsim("run", str(path)), "the limit is 10000")


def test_full_or_closed_stdout() -> None:
    """stdout on /dev/full (ENOSPC at the flush) or closed: one line, exit 2, and no second complaint at exit."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "tdxsim", "run", str(EXAMPLE)], cwd=REPO, stdout=full, stderr=subprocess.PIPE,
            text=True, timeout=30,
        )  # fmt: skip
    one_line_exit_2(proc, "No space left on device")
    proc = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.close(1); sys.argv[1:] = ['run', sys.argv[1]];"
         " import runpy; runpy.run_module('tdxsim', run_name='__main__')", str(EXAMPLE)],
        cwd=REPO, stderr=subprocess.PIPE, text=True, timeout=30,
    )  # fmt: skip
    one_line_exit_2(proc, "stdout")


def test_sigint_at_any_moment() -> None:
    """SIGINT at any moment from start-up to the end: either the run finished (0), or one line and 130. The only
    traceback allowed is Python's own, for an interrupt during the interpreter's start-up (site, runpy), before any
    tdxsim code runs; an interrupt while tdxsim imports is one line."""
    for i in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tdxsim", "run", str(EXAMPLE)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(0.015 * i)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert "tdxsim/" not in err, err
        if proc.returncode == 130:
            assert err == "tdxsim: interrupted\n"
        elif "Traceback" not in err:
            assert proc.returncode in (0, -signal.SIGINT) and err == "", (proc.returncode, err)


# -- work that grows with a number the input gives: bounded (docs/scenario.md "Limits") or done by ranges ----------

TD = [
    {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"},
    {"op": "KVM_TDX_INIT_VM"},
    {"op": "KVM_CREATE_VCPU", "id": 0},
    {"op": "KVM_TDX_INIT_VCPU", "vcpu": 0},
]


def slot(size: int, gpa: int = 0, flags: list[str] | None = None) -> dict:
    return {
        "op": "KVM_SET_USER_MEMORY_REGION2",
        "slot": 0,
        "flags": ["KVM_MEM_GUEST_MEMFD"] if flags is None else flags,
        "guest_phys_addr": hex(gpa),
        "memory_size": hex(size),
        "userspace_addr": "0x7f0000000000",
        "guest_memfd": 0,
        "guest_memfd_offset": 0,
    }


def bounded_run(tmp_path: Path, steps: list[dict]) -> subprocess.CompletedProcess:
    """`run` in a child limited to 2 GiB of address space and 30 s (the issue's bound)."""
    import json
    import resource

    path = tmp_path / "s.json"
    path.write_text(json.dumps({"format": 1, "kernel": "v8", "steps": TD + steps}))

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run(
        [sys.executable, "-m", "tdxsim", "run", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=30, preexec_fn=limit_memory,
    )  # fmt: skip


def test_init_mem_region_of_2_28_pages_over_a_1_tib_memslot(tmp_path: Path) -> None:
    tib = 1 << 40
    proc = bounded_run(
        tmp_path,
        [
            {"op": "KVM_CREATE_GUEST_MEMFD", "size": hex(tib)},
            {"op": "mmap", "length": hex(tib)},
            slot(tib),
            {"op": "KVM_SET_MEMORY_ATTRIBUTES", "address": 0, "size": hex(tib), "attributes": 8},
            {
                "op": "KVM_TDX_INIT_MEM_REGION",
                "vcpu": 0,
                "source_addr": "0x7f0000000000",
                "gpa": 0,
                "nr_pages": 1 << 28,
            },
        ],
    )
    one_line_exit_2(proc, "step 8: KVM_TDX_INIT_MEM_REGION", "events, the limit")


def test_map_gpa_of_2_46_bytes(tmp_path: Path) -> None:
    proc = bounded_run(
        tmp_path,
        [
            {"op": "KVM_CREATE_GUEST_MEMFD", "size": "0x4000"},
            {"op": "mmap", "length": "0x4000"},
            slot(0x4000),
            {"op": "KVM_TDX_FINALIZE_VM"},
            {"op": "guest_map_gpa", "gpa": 0, "size": hex(1 << 46), "shared": True},
        ],
    )
    one_line_exit_2(proc, "step 8: guest_map_gpa", "events, the limit")


def test_madvise_over_64_tib_costs_the_pages_present(tmp_path: Path) -> None:
    """mm/madvise.c walks VMAs, and tdxsim drops the pages present in each: a 64 TiB range with one page answers
    at once, and the page reads as zeros afterwards (MADV_DONTNEED on private anonymous memory)."""
    import json

    size = 1 << 46
    proc = bounded_run(
        tmp_path,
        [
            {"op": "mmap", "addr": "0x100000000000", "length": hex(size)},
            {"op": "write", "addr": "0x100000001000", "data": "aa"},
            {"op": "madvise", "addr": "0x100000000000", "length": hex(size)},
            {"op": "read", "addr": "0x100000001000", "length": 1},
        ],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["steps"]
    assert [s["ret"] for s in out[4:]] == [0, 0, 0, 0] and out[-1]["data"] == "00"


def test_memslot_above_kvm_mmu_max_gfn_is_einval(tmp_path: Path) -> None:
    """arch/x86/kvm/x86.c kvm_arch_prepare_memory_region: `(new->base_gfn + new->npages - 1) > kvm_mmu_max_gfn()`
    -> -EINVAL for KVM_MR_CREATE; kvm_mmu_max_gfn() is 2^(52 - 12) - 1 with a 52-bit host MAXPHYADDR. GPA 2^60 does
    not have the shared bit (47), so only this check refuses it."""
    import json

    proc = bounded_run(tmp_path, [slot(0x1000, gpa=1 << 60, flags=[]), slot(0x1000, gpa=(1 << 52) - 0x1000, flags=[])])
    assert proc.returncode == 0, proc.stderr
    assert [s["errno"] for s in json.loads(proc.stdout)["steps"][4:]] == ["EINVAL", "EINVAL"]


# -- firmware: huge, empty, overlapping and many sections --------------------------------------------------------


def firmware(tmp_path: Path, sections: list) -> str:
    from tdxsim.tdvf import build_tdvf_image

    path = tmp_path / "fw.fd"
    path.write_bytes(build_tdvf_image(sections))
    return str(path)


def test_hostile_firmware_sections(tmp_path: Path) -> None:
    from tdxsim.tdvf import BFV, MR_EXTEND, PAGE_AUG, TD_HOB, TEMP_MEM, SectionSpec

    hob = SectionSpec(TD_HOB, 0, 0x1000)
    bfv = SectionSpec(BFV, 0x100000, 0x2000, MR_EXTEND, b"\x90" * 0x2000)
    cases = {
        "TempMem of 64 GiB": [hob, bfv, SectionSpec(TEMP_MEM, 1 << 32, 64 << 30)],
        "TempMem of 2 TiB": [hob, bfv, SectionSpec(TEMP_MEM, 1 << 32, 2 << 40)],
        "near 2^64": [hob, bfv, SectionSpec(TEMP_MEM, 1 << 32, (1 << 64) - (1 << 32))],
        "PAGE.AUG near 2^64": [hob, bfv, SectionSpec(TEMP_MEM, 1 << 32, (1 << 64) - (1 << 32), PAGE_AUG)],
        "PAGE.AUG of 2 TiB": [hob, bfv, SectionSpec(TEMP_MEM, 1 << 32, 2 << 40, PAGE_AUG)],
        "size 0 inside another": [hob, bfv, SectionSpec(TEMP_MEM, 0x101000, 0)],
        "size 0 right after another": [hob, bfv, SectionSpec(TEMP_MEM, 0x102000, 0)],
        "size 0 before all": [SectionSpec(TEMP_MEM, 0, 0), SectionSpec(TD_HOB, 0x1000, 0x1000), bfv],
        "overlapping": [hob, bfv, SectionSpec(TEMP_MEM, 0x101000, 0x2000)],
    }
    for name, sections in cases.items():
        proc = tdxsim("mrtd", firmware(tmp_path, sections), timeout=30)
        assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr, (name, proc.stderr)
        if proc.returncode:
            one_line_exit_2(proc)
        else:
            assert re.fullmatch(r"[0-9a-f]{96}\n", proc.stdout), name


def test_ten_thousand_one_page_sections(tmp_path: Path) -> None:
    """Loading is linear in the sections: 10,000 separate one-page TempMem sections (10,000 memslots) load."""
    from tdxsim.tdvf import TD_HOB, TEMP_MEM, SectionSpec

    sections = [SectionSpec(TD_HOB, 0, 0x1000)] + [
        SectionSpec(TEMP_MEM, (2 * i + 2) << 12, 0x1000) for i in range(10_000)
    ]
    proc = tdxsim("mrtd", firmware(tmp_path, sections), "--json", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert '"page_add": 10001' in proc.stdout


def test_a_newline_in_the_file_name_stays_one_line(tmp_path: Path) -> None:
    one_line_exit_2(tdxsim("run", str(tmp_path / "a\nb.json")), "no such file")
