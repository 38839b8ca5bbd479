"""Loading firmware with many sections: does `tdxsim mrtd` cost grow linearly with the number of sections?

A TDVF image with one TD_HOB and N one-page TempMem sections, each in its own memslot (a one-page gap between
them, so no two merge), is loaded as QEMU does (`measure_firmware`, single pass, no event record): per section a
guest_memfd, a mapping, a memslot, the per-VM attribute ioctl, a source buffer, KVM_TDX_INIT_MEM_REGION and the
buffer's munmap. For N from 1,250 to 10,000 (doubling) the time per section should stay flat and each doubling
should about double the total (ratio ~2.0); a ratio near 4 would mean a lookup that scans every memslot or VMA.

Run: python benchmarks/bench_sections.py [--max 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

from tdxsim.tdvf import TD_HOB, TEMP_MEM, SectionSpec, build_tdvf_image
from tdxsim.vmm.firmware import measure_firmware


def image(n: int) -> bytes:
    specs = [SectionSpec(TD_HOB, 0, 0x1000)] + [SectionSpec(TEMP_MEM, (2 * i + 2) << 12, 0x1000) for i in range(n)]
    return build_tdvf_image(specs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, last = 1250, None
    print(f"{'sections':>9} {'best s':>8} {'µs/section':>11} {'ratio':>6}")
    while n <= args.max:
        img = image(n)
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = measure_firmware(img, record=False)
            best = min(best, time.perf_counter() - t)
        assert result.page_add == n + 1, result.page_add
        ratio = f"{best / last:6.2f}" if last else "     -"
        print(f"{n:>9} {best:>8.3f} {best / n * 1e6:>11.1f} {ratio}")
        last, n = best, n * 2


if __name__ == "__main__":
    main()
