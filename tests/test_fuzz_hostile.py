"""Bounded fuzzing: the CLI's scenario reader and the TDVF parser/loader on mutated input, and the Python
API on random call sequences with the machine's invariants checked after every call.

Each target ends for every input with a result or the one documented error (one line and exit 2 from the CLI,
ScenarioError/TdvfError from Python); the call-sequence test also holds the stale-mapping invariant
(tests/mapping_invariant.py) and the PAMT/owner agreement. Runs are derandomized and small (a few seconds each);
a failure prints Hypothesis' reproduction blob (print_blob) and, for call sequences, the seed that rebuilds the
sequence with `random.Random(seed)`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapping_invariant import stale_guest_mappings

from tdxsim.cli import main
from tdxsim.events import TraceLimitError
from tdxsim.physmem import Owner
from tdxsim.tdvf import (
    BFV,
    CFV,
    MR_EXTEND,
    PAGE_AUG,
    TD_HOB,
    TEMP_MEM,
    SectionSpec,
    TdvfError,
    build_tdvf_image,
)
from tdxsim.tdx.module import PageType
from tdxsim.vmm.firmware import measure_firmware
from tdxsim.vmm.process import Vmm

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.json"))
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# -- the scenario reader: bytes in, one JSON object or one line with exit 2 out ------------------------------------

SPLICE = st.sampled_from(
    [b"", b"{", b"}", b"[", b"]", b",", b'"', b"\\", b"\\ud800", b"1" * 50, b"-0", b"1e999", b"NaN", b"true",
     b'"0x' + b"f" * 40 + b'"', b"[" * 2000, b"\xff\xfe", b"\x00", b'"steps"', b'"kernel": []', b'"format": 1.0']
)  # fmt: skip


@st.composite
def mutated_scenario(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(EXAMPLES)).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 8))
        data[at : at + cut] = draw(SPLICE | st.binary(max_size=6))
    return bytes(data)


@FUZZ
@given(raw=mutated_scenario())
def test_cli_reader_on_mutated_scenarios(raw: bytes, tmp_path_factory: pytest.TempPathFactory, capsys) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.json"
    path.write_bytes(raw)
    status = main(["run", str(path)])
    out, err = capsys.readouterr()
    assert status in (0, 2), (status, err)
    if status == 0:
        assert err == "" and isinstance(json.loads(out), dict)
    else:
        assert out == "" and err.count("\n") == 1 and err.startswith(f"tdxsim: {path}: "), err


# -- the TDVF parser and loader ----------------------------------------------------------------------------------

SIZES = st.sampled_from([0, 0x1000, 0x3000, 0x10000, 64 << 30, 2 << 40, (1 << 64) - 0x1000])
GPAS = st.sampled_from([0, 0x1000, 0x100000, 0x101000, 0xFFFFF000, 1 << 32, 1 << 52, (1 << 64) - 0x1000, 0x800])


@st.composite
def tdvf_image(draw: st.DrawFn) -> bytes:
    sections = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from([BFV, CFV, TD_HOB, TEMP_MEM, 4, 9]))
        data = (
            b"\x90" * draw(st.sampled_from([1, 0x1000, 0x3000])) if kind in (BFV, CFV) and draw(st.booleans()) else None
        )
        size = draw(st.sampled_from([0, 0x1000, 0x3000]) if data else SIZES)  # the builder stores size bytes for data
        attrs = draw(st.sampled_from([0, MR_EXTEND, PAGE_AUG, MR_EXTEND | PAGE_AUG, 8]))
        sections.append(SectionSpec(kind, draw(GPAS), size, attrs, data))
    image = bytearray(build_tdvf_image(sections))
    for _ in range(draw(st.integers(0, 3))):  # corrupt a few bytes of the metadata tail
        at = len(image) - draw(st.integers(1, min(len(image), 400)))
        image[at] = draw(st.integers(0, 255))
    return bytes(image)


@FUZZ
@given(image=tdvf_image(), two_pass=st.booleans())
def test_firmware_parser_and_loader(image: bytes, two_pass: bool) -> None:
    try:
        result = measure_firmware(image, two_pass=two_pass, record=False)
    except TdvfError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(result.mrtd) == 96


# -- random call sequences on the Python API -----------------------------------------------------------------------

PAGE = 4096
NPAGES = 8
GMEM_VA = 0x7F0000000000
TD_OWNED = {Owner.TD_PRIVATE, Owner.TDX_METADATA}
METADATA = {PageType.PT_TDR, PageType.PT_TDCX, PageType.PT_TDVPR, PageType.PT_EPT}


def build(vmm: Vmm, gmem_flags: int) -> None:
    """A finalized TD with NPAGES of guest memory at GPA 0 (the v8 kernel's either model)."""
    vmm.KVM_CREATE_VM()
    vmm.KVM_TDX_INIT_VM(attributes=0)
    vmm.KVM_CREATE_VCPU(0)
    vmm.KVM_TDX_INIT_VCPU(0)
    vmm.KVM_CREATE_GUEST_MEMFD(NPAGES * PAGE, gmem_flags)
    vmm.mmap(NPAGES * PAGE, GMEM_VA, 0 if gmem_flags else None)
    vmm.KVM_SET_USER_MEMORY_REGION2(0, 4, 0, NPAGES * PAGE, GMEM_VA, 0, 0)
    vmm.KVM_TDX_FINALIZE_VM()


def random_call(rng: random.Random) -> tuple[str, dict]:
    """One API call with arguments from small pools, hostile values included (huge, unaligned, past the end)."""
    gpa = rng.choice([0, PAGE, 3 * PAGE, 7 * PAGE, NPAGES * PAGE, 0x800, 1 << 47, 1 << 60])
    size = rng.choice([PAGE, 2 * PAGE, NPAGES * PAGE, 0x800, 1 << 46, 0])
    va = rng.choice([GMEM_VA, GMEM_VA + PAGE, GMEM_VA + 100, 0x10000, 1 << 46])
    shared = rng.random() < 0.5
    return rng.choice(
        [
            ("guest_read", {"gpa": gpa, "length": rng.choice([1, 64, PAGE]), "shared": shared}),
            ("guest_write", {"gpa": gpa, "data": bytes([rng.randrange(256)]) * 16, "shared": shared}),
            ("guest_accept", {"gpa": gpa}),
            ("guest_map_gpa", {"gpa": gpa, "size": size, "shared": shared, "vmm": rng.choice(["convert", "ignore"])}),
            ("KVM_SET_MEMORY_ATTRIBUTES", {"address": gpa, "size": size, "attributes": rng.choice([0, 8])}),
            ("KVM_SET_MEMORY_ATTRIBUTES2", {"guest_memfd": 0, "offset": gpa, "size": size, "attributes": 8}),
            ("fallocate", {"guest_memfd": 0, "offset": gpa, "length": size}),
            ("madvise", {"addr": va, "length": size}),
            ("munmap", {"addr": va, "length": size}),
            ("mmap", {"length": size or PAGE, "addr": va}),
            ("read", {"addr": va, "length": rng.choice([1, PAGE])}),
            ("write", {"addr": va, "data": b"vmm"}),
            ("pin", {"addr": va, "length": PAGE}),
            ("unpin", {"addr": va, "length": PAGE}),
            ("memory_failure", {"guest_memfd": 0, "offset": gpa}),
            ("KVM_SET_USER_MEMORY_REGION2", {"slot": rng.choice([0, 1]), "flags": 4, "guest_phys_addr": gpa,
                                             "memory_size": rng.choice([0, PAGE]), "userspace_addr": va,
                                             "guest_memfd": 0, "guest_memfd_offset": 0}),
        ]
    )  # fmt: skip


def check(vmm: Vmm, where: str) -> None:
    assert stale_guest_mappings(vmm) == [], where
    dead = vmm.kvm.vm_dead
    for pfn in vmm.mem.frames:
        pt = vmm.module.page_type(pfn)
        if not dead and pt is PageType.PT_REG:
            assert vmm.frame(pfn * PAGE)["owner"] == Owner.TD_PRIVATE, (where, hex(pfn))
        elif not dead and pt not in METADATA:
            assert vmm.frame(pfn * PAGE)["owner"] not in TD_OWNED, (where, hex(pfn))
    for vma in vmm.mm.vmas:
        for vpn, pfn in vma.ptes.items():
            assert pfn in vmm.mem.frames, (where, "PTE to a freed frame", hex(vpn * PAGE))


@settings(max_examples=60, deadline=None, derandomize=True, database=None, print_blob=True)
@given(seed=st.integers(0, 2**32 - 1), in_place=st.booleans(), gmem_flags=st.sampled_from([0, 1, 3]))
def test_random_call_sequences(seed: int, in_place: bool, gmem_flags: int) -> None:
    if gmem_flags & 2 and not in_place:
        gmem_flags = 1  # INIT_SHARED needs in-place conversion for a TD
    rng = random.Random(seed)
    vmm = Vmm("v8", in_place)
    build(vmm, gmem_flags)
    vmm.trace.limit = len(vmm.trace.events) + 20_000  # a huge MapGPA stops here, quickly, as at the real limit
    for i in range(40):
        name, args = random_call(rng)
        where = f"seed {seed}, in_place {in_place}, flags {gmem_flags}: call {i}: {name}({args})"
        try:
            result = getattr(vmm, name)(**args)
        except TraceLimitError:
            return
        assert isinstance(result["ret"], int), where
        check(vmm, where)
