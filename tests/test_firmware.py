"""The QEMU-like TDVF loader and `python -m tdxsim mrtd` (docs/scenario.md "Measurement
from firmware"; QEMU target/i386/kvm/tdx.c tdx_init_fw_mem_region).

Expected MRTDs come from `mrtd_replay`, an independent replay written from the module's record layout that never imports
tdxsim; the OVMF.fd digests it gives were also checked against a port of the peer tool tinfoilsh/tdx-measure
(`Tdvf::parse` + `compute_mrtd`), which agreed for both orders.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import run_cli
from mrtd_replay import mrtd as replay_mrtd
from mrtd_replay import read_sections

from tdxsim.tdvf import BFV, CFV, MR_EXTEND, PAGE_AUG, PERM_MEM, TD_HOB, TEMP_MEM, SectionSpec, build_tdvf_image
from tdxsim.vmm.firmware import measure_firmware

OVMF_FD = Path("/usr/share/ovmf/OVMF.fd")
OVMF_CODE_FD = [Path("/usr/share/OVMF/OVMF_CODE.fd"), Path("/usr/share/ovmf/OVMF_CODE.fd")]
DEBIAN_OVMF = "2022.11-6+deb12u2"
KiB = 1024


def _firmware(bfv_pages: int = 3, cfv_pages: int = 2, aug: bool = False) -> bytes:
    """A small OVMF-like layout: measured BFV and unmeasured CFV below 4 GiB, TD HOB and TempMem low."""
    bfv = bytes((i * 37 + 11) & 0xFF for i in range(bfv_pages * 4 * KiB))
    cfv = bytes((i * 5 + 1) & 0xFF for i in range(cfv_pages * 4 * KiB))
    specs = [
        SectionSpec(BFV, (1 << 32) - len(bfv), len(bfv), MR_EXTEND, bfv),
        SectionSpec(CFV, (1 << 32) - len(bfv) - len(cfv), len(cfv), 0, cfv),
        SectionSpec(TEMP_MEM, 0x810000, 16 * KiB),
        SectionSpec(TD_HOB, 0x809000, 8 * KiB),
    ]
    if aug:
        specs.append(SectionSpec(TEMP_MEM, 0x900000, 8 * KiB, PAGE_AUG))
    return build_tdvf_image(specs)


@pytest.mark.parametrize("two_pass", [False, True])
@pytest.mark.parametrize("source_zero", [False, True])
def test_builder_image_mrtd_and_counts(two_pass: bool, source_zero: bool) -> None:
    """Known layout: 3+2+4+2 = 11 PAGE.ADD, 3 measured pages = 48 MR.EXTEND; MRTD equals the independent replay
    in either order, whether the bytes came from source buffers or each page was its own source (`source_addr` 0;
    tdh_mem_page_add.c: the source never enters MRTD)."""
    image = _firmware()
    result = measure_firmware(image, two_pass=two_pass, source_zero=source_zero)
    assert (result.page_add, result.mr_extend) == (11, 48)
    assert result.mrtd == replay_mrtd(image, read_sections(image), two_pass=two_pass)
    assert result.order == ("two-pass" if two_pass else "single-pass")


def test_orders_differ_and_source_zero_matches_classic() -> None:
    """The two orders give different MRTDs (a hash chain) and adding each page from itself (`source_addr` 0)
    measures exactly what classic loading does."""
    image = _firmware()
    single = measure_firmware(image).mrtd
    assert measure_firmware(image, two_pass=True).mrtd != single
    assert measure_firmware(image, source_zero=True).mrtd == single


def test_the_load_drives_the_kvm_path() -> None:
    """One KVM_TDX_INIT_MEM_REGION per section, through tdx_vcpu_init_mem_region and tdx_gmem_post_populate, with
    the TD HOB's GPA given to KVM_TDX_INIT_VCPU (QEMU target/i386/kvm/tdx.c tdx_post_init_vcpus); the TD ends
    RUNNABLE."""
    result = measure_firmware(_firmware())
    events = result.vmm.trace.events
    ioctls = [e for e in events if e.kind == "call" and e.name == "tdx_vcpu_init_mem_region"]
    assert len(ioctls) == 4
    assert sum(e.name == "tdx_gmem_post_populate" for e in events if e.kind == "call") == 11
    vp_init = [e for e in events if e.kind == "state" and e.name == "vp"]
    assert vp_init and vp_init[0].data["rcx"] == 0x809000
    assert result.vmm.kvm.tdx.state == "TD_STATE_RUNNABLE"


def test_page_aug_section_is_left_to_the_guest() -> None:
    """A PAGE.AUG section gets no PAGE.ADD and no measurement (docs/scenario.md `mrtd`; tinfoilsh/tdx-measure@33a8526
    src/tdvf.rs)."""
    image = _firmware(aug=True)
    result = measure_firmware(image)
    assert (result.page_add, result.mr_extend) == (11, 48)
    assert result.mrtd == measure_firmware(_firmware()).mrtd


def test_flipped_byte_changes_mrtd_only_where_measured() -> None:
    """MR.EXTEND hashes BFV's bytes; CFV is added without MEASURE, so its bytes never reach MRTD (tdh_mem_page_add.c
    hashes the GPA only)."""
    image = _firmware()
    sections = read_sections(image)
    bfv, cfv = (next(s for s in sections if s.type == t) for t in (BFV, CFV))
    base = measure_firmware(image).mrtd

    def flipped(offset: int) -> bytes:
        return image[:offset] + bytes([image[offset] ^ 0xFF]) + image[offset + 1 :]

    assert measure_firmware(flipped(cfv.data_offset + 100)).mrtd == base
    assert measure_firmware(flipped(bfv.data_offset + 100)).mrtd != base


@pytest.fixture(scope="module")
def debian_ovmf() -> bytes:
    """/usr/share/ovmf/OVMF.fd, only from the ovmf package version these digests were computed for."""
    if not OVMF_FD.exists():
        pytest.skip(f"{OVMF_FD} absent: apt-get install ovmf")
    query = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "ovmf"], capture_output=True, text=True)
    if query.stdout != DEBIAN_OVMF:
        pytest.skip(f"ovmf {query.stdout or 'not from a package'}: the digests are for {DEBIAN_OVMF}")
    return OVMF_FD.read_bytes()


def test_debian_ovmf_counts_and_sections(debian_ovmf: bytes) -> None:
    """Debian ovmf 2022.11-6+deb12u2 OVMF.fd: six sections, 538 PAGE.ADD and 7680 MR.EXTEND calls; `--json` lists
    them."""
    out = run_cli("mrtd", str(OVMF_FD), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (doc["page_add"], doc["mr_extend"], doc["order"]) == (538, 7680, "single-pass")
    assert [(s["type"], s["gpa"], s["size"], s["attributes"]) for s in doc["sections"]] == [
        ("BFV", "0xffe20000", 1920 * KiB, ["MR.EXTEND"]),
        ("CFV", "0xffe00000", 128 * KiB, []),
        ("TempMem", "0x810000", 64 * KiB, []),
        ("TempMem", "0x80b000", 8 * KiB, []),
        ("TD_HOB", "0x809000", 8 * KiB, []),
        ("TempMem", "0x800000", 24 * KiB, []),
    ]


@pytest.mark.parametrize("two_pass", [False, True])
def test_debian_ovmf_mrtd_both_orders_both_loaders(debian_ovmf: bytes, two_pass: bool) -> None:
    """The CLI's MRTD equals the independent replay, and the source-zero load gives the same digest as classic."""
    expected = replay_mrtd(debian_ovmf, read_sections(debian_ovmf), two_pass=two_pass)
    out = run_cli("mrtd", str(OVMF_FD), *(["--two-pass"] if two_pass else []), process=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected + "\n"
    assert measure_firmware(debian_ovmf, two_pass=two_pass, source_zero=True).mrtd == expected


def test_any_ovmf_both_loaders_agree() -> None:
    """Whatever ovmf is installed (any version), classic and source-zero loading measure the same."""
    if not OVMF_FD.exists():
        pytest.skip(f"{OVMF_FD} absent: apt-get install ovmf")
    image = OVMF_FD.read_bytes()
    assert measure_firmware(image).mrtd == measure_firmware(image, source_zero=True).mrtd


def _one_line_exit_2(out: subprocess.CompletedProcess, *words: str) -> None:
    assert out.returncode == 2
    assert out.stdout == ""
    assert "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tdxsim: "), out.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_ovmf_code_alone_is_refused() -> None:
    """OVMF_CODE.fd's BFV DataOffset assumes the unified image and runs past the file's end (its TDVF metadata, read
    with the parser)."""
    path = next((p for p in OVMF_CODE_FD if p.exists()), None)
    if path is None:
        pytest.skip("OVMF_CODE.fd absent: apt-get install ovmf")
    _one_line_exit_2(run_cli("mrtd", str(path)), "runs past the end of the file")


def test_truncated_and_bad_images_are_refused(tmp_path: Path) -> None:
    """A truncated image, an empty file, a directory and a missing file: one line, exit 2."""
    image = _firmware()
    truncated = tmp_path / "truncated.fd"
    truncated.write_bytes(image[: len(image) // 2])
    _one_line_exit_2(run_cli("mrtd", str(truncated)), "truncated.fd")
    empty = tmp_path / "empty.fd"
    empty.write_bytes(b"")
    _one_line_exit_2(run_cli("mrtd", str(empty)))
    _one_line_exit_2(run_cli("mrtd", str(tmp_path)), "directory")
    _one_line_exit_2(run_cli("mrtd", str(tmp_path / "missing.fd")), "no such file")


def test_section_type_qemu_does_not_load_is_refused(tmp_path: Path) -> None:
    """QEMU refuses section types other than BFV, CFV, TD_HOB and TempMem (hw/i386/tdvf.c)."""
    image = build_tdvf_image(
        [
            SectionSpec(BFV, 0xFFFFF000, 4 * KiB, MR_EXTEND, bytes(4 * KiB)),
            SectionSpec(TD_HOB, 0x809000, 8 * KiB),
            SectionSpec(PERM_MEM, 0x900000, 8 * KiB),
        ]
    )
    path = tmp_path / "permmem.fd"
    path.write_bytes(image)
    _one_line_exit_2(run_cli("mrtd", str(path)), "PermMem")


def test_cli_path_imports_no_presentation_layer() -> None:
    """`import tdxsim` and the CLI stay pure Python: neither matplotlib nor ipywidgets is imported."""
    code = (
        "import sys, tdxsim, tdxsim.cli, tdxsim.scenario, tdxsim.vmm.firmware; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
