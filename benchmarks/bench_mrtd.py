"""Benchmark: `tdxsim mrtd` against a bare hashlib replay of the same records, run side by side.

For Debian's OVMF.fd (when installed) and a 64 MiB measured synthetic image, alternate the two (N rounds) and
report the median and best times and their ratio. The goal (the measurement issue): at most 1.3x on the 64 MiB
image. Run: python benchmarks/bench_mrtd.py [--rounds N]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tdxsim.tdvf import BFV, MR_EXTEND, PAGE_AUG, TD_HOB, SectionSpec, build_tdvf_image, parse_tdvf
from tdxsim.vmm.firmware import measure_firmware

OVMF = Path("/usr/share/ovmf/OVMF.fd")
PAD = bytes(104)


def bare_replay(image: bytes, sections: list) -> str:
    """The baseline: SHA-384 over the same 128-byte records and chunks, single-pass, nothing else."""
    h = hashlib.sha384()
    view = memoryview(image)
    for s in sections:
        if s.attributes & PAGE_AUG:
            continue
        for page in range(s.memory_data_size // 4096):
            gpa = s.memory_address + page * 4096
            h.update(b"MEM.PAGE.ADD\0\0\0\0" + gpa.to_bytes(8, "little") + PAD)
            if s.attributes & MR_EXTEND:
                src = s.data_offset + page * 4096
                for i in range(0, 4096, 256):
                    h.update(b"MR.EXTEND\0\0\0\0\0\0\0" + (gpa + i).to_bytes(8, "little") + PAD)
                    h.update(view[src + i : src + i + 256])
    return h.hexdigest()


def synthetic(size: int) -> bytes:
    """A TDVF image with one measured BFV of `size` bytes ending at 4 GiB, and a TD HOB."""
    data = bytes(range(256)) * (size // 256)
    return build_tdvf_image(
        [SectionSpec(BFV, (1 << 32) - size, size, MR_EXTEND, data), SectionSpec(TD_HOB, 0x800000, 0x2000)]
    )


def compare(name: str, image: bytes, rounds: int) -> None:
    sections = parse_tdvf(image)
    model, bare = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        result = measure_firmware(image, record=False)
        model.append(time.perf_counter() - t)
        t = time.perf_counter()
        digest = bare_replay(image, sections)
        bare.append(time.perf_counter() - t)
        assert digest == result.mrtd, "the model and the bare replay disagree"
    m, b = statistics.median(model), statistics.median(bare)
    print(
        f"{name:<22} tdxsim mrtd {m * 1e3:8.1f} ms (best {min(model) * 1e3:.1f})   bare hashlib {b * 1e3:8.1f} ms "
        f"(best {min(bare) * 1e3:.1f})   ratio {m / b:.2f}x (best/best {min(model) / min(bare):.2f}x)   "
        f"{result.page_add} PAGE.ADD, {result.mr_extend} MR.EXTEND"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if OVMF.exists():
        compare("OVMF.fd", OVMF.read_bytes(), args.rounds)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tdxsim", "mrtd", str(OVMF)], check=True, capture_output=True)
        print(f"{'':<22} the CLI end to end, interpreter start included: {(time.perf_counter() - t) * 1e3:.0f} ms")
    else:
        print("OVMF.fd: not installed (apt-get install ovmf), skipped")
    compare("64 MiB measured image", synthetic(64 << 20), args.rounds)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, tdxsim.cli, tdxsim.vmm.firmware; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets')))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    print(f"modules of matplotlib/ipywidgets the CLI path imports: {out.stdout.strip()}")


if __name__ == "__main__":
    main()
