"""Converting a big guest in alternating 2 MiB ranges: does the cost follow the number of ranges, not the bytes?

For each guest size from 1 GiB to 64 GiB (doubling), a TD is built cheaply — one memslot and one guest_memfd of the
full size, no page touched, so nothing is allocated — and then every other 2 MiB range is converted to shared:
- out-of-place: the per-VM `KVM_SET_MEMORY_ATTRIBUTES` (v8 kernel, gmem_in_place_conversion off; the slot starts
  private, as QEMU makes every guest_memfd slot);
- in-place: `KVM_SET_MEMORY_ATTRIBUTES2` on the guest_memfd (v8, in-place on; the file starts private).
A guest of S bytes takes S / 4 MiB ioctls and ends with S / 2 MiB attribute ranges. If the cost follows the number
of ranges, the time per ioctl stays flat and each doubling of the guest doubles the time (ratio ~2.0); a ratio
near 4 would mean a per-call cost that grows with what is already stored.

A second table keeps the guest at 4 GiB and the ioctls the same, but first lets the guest accept T pages that lie in
the ranges *not* converted (AUG + ACCEPT, so they are in the mirror EPT, the S-EPT and the guest_memfd). The kernel's
zap walks only the converted range, so the time per ioctl should not depend on T.

Run: python benchmarks/bench_conversion.py [--max-gib 64] [--repeat 3] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE, TDX_TD_ATTR_SEPT_VE_DISABLE
from tdxsim.vmm.process import Vmm

MiB, GiB = 1 << 20, 1 << 30
CHUNK = 2 * MiB
GMEM_VA = 0x7F0000000000
MODELS = ("out-of-place", "in-place")


def build(model: str, size: int) -> Vmm:
    """A finalized TD with one private memslot of `size` bytes backed by a guest_memfd (nothing touched)."""
    in_place = model == "in-place"
    vmm = Vmm("v8", gmem_in_place_conversion=in_place, record=False)
    results = [
        vmm.KVM_CREATE_VM(),
        vmm.KVM_TDX_INIT_VM(attributes=TDX_TD_ATTR_SEPT_VE_DISABLE),
        vmm.KVM_CREATE_VCPU(id=0),
        vmm.KVM_TDX_INIT_VCPU(vcpu=0),
        vmm.KVM_CREATE_GUEST_MEMFD(size=size),
        vmm.mmap(size, addr=GMEM_VA),
        vmm.KVM_SET_USER_MEMORY_REGION2(0, 1 << 2, 0, size, GMEM_VA, guest_memfd=0, guest_memfd_offset=0),
    ]
    if not in_place:
        results.append(vmm.KVM_SET_MEMORY_ATTRIBUTES(0, size, KVM_MEMORY_ATTRIBUTE_PRIVATE))
    results.append(vmm.KVM_TDX_FINALIZE_VM())
    assert all(r["ret"] == 0 for r in results), results
    return vmm


def convert_alternating(vmm: Vmm, model: str, size: int) -> int:
    """Convert [0, 2M), [4M, 6M), … to shared; returns the number of ioctls."""
    n = 0
    if model == "in-place":
        ioctl = vmm.KVM_SET_MEMORY_ATTRIBUTES2
        for offset in range(0, size, 2 * CHUNK):
            assert ioctl(0, offset, CHUNK, 0)["ret"] == 0
            n += 1
    else:
        ioctl = vmm.KVM_SET_MEMORY_ATTRIBUTES
        for address in range(0, size, 2 * CHUNK):
            assert ioctl(address, CHUNK, 0)["ret"] == 0
            n += 1
    return n


def attribute_ranges(vmm: Vmm, model: str) -> int:
    """How many ranges the attribute store holds afterwards (kvm->mem_attr_array, or the guest_memfd's tree)."""
    return len(vmm.kvm.gmems[0].attributes) if model == "in-place" else len(vmm.kvm.mem_attrs)


def measure(model: str, size: int, repeat: int) -> tuple[int, int, float]:
    """(ioctls, stored ranges, best time in seconds) of converting a fresh guest of `size` bytes."""
    best = float("inf")
    for _ in range(repeat):
        vmm = build(model, size)
        t0 = time.perf_counter()
        n = convert_alternating(vmm, model, size)
        best = min(best, time.perf_counter() - t0)
    return n, attribute_ranges(vmm, model), best


def measure_touched(model: str, size: int, touched: int) -> tuple[int, float]:
    """(ioctls, time) of the alternating conversion after the guest accepted `touched` pages of the other ranges."""
    vmm = build(model, size)
    per_range = CHUNK // 4096
    for k in range(touched):
        gpa = CHUNK + (k // per_range) * 2 * CHUNK + (k % per_range) * 4096
        assert vmm.guest_accept(gpa)["ret"] == 0
    t0 = time.perf_counter()
    n = convert_alternating(vmm, model, size)
    return n, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-gib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="best of N fresh guests per size")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size of each model")
    args = parser.parse_args()
    sizes = []
    gib = 1
    while gib <= args.max_gib:
        sizes.append(gib)
        gib *= 2
    header = f"{'model':13} {'guest':>7} {'ioctls':>7} {'ranges':>7} {'time':>10} {'per ioctl':>10} {'x prev':>7}"
    print(header)
    print("-" * len(header))
    measure(MODELS[0], GiB, 1)  # warm-up
    for model in MODELS:
        prev = None
        for gib in sizes:
            n, ranges, t = measure(model, gib * GiB, args.repeat)
            ratio = f"{t / prev:7.2f}" if prev else f"{'':>7}"
            print(f"{model:13} {gib:>4} GiB {n:>7} {ranges:>7} {t * 1e3:>8.1f}ms {t / n * 1e6:>8.1f}µs {ratio}")
            prev = t
        if args.profile:
            vmm = build(model, sizes[-1] * GiB)
            prof = cProfile.Profile()
            prof.runcall(convert_alternating, vmm, model, sizes[-1] * GiB)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(12)
    print("\nx prev: time relative to the guest half its size (~2.0 = cost follows the number of ranges).\n")
    header = f"{'model':13} {'guest':>7} {'touched':>8} {'ioctls':>7} {'time':>10} {'per ioctl':>10}"
    print(header)
    print("-" * len(header))
    for model in MODELS:
        for touched in (0, 1024, 4096):
            n, t = measure_touched(model, 4 * GiB, touched)
            print(f"{model:13} {4:>4} GiB {touched:>8} {n:>7} {t * 1e3:>8.1f}ms {t / n * 1e6:>8.1f}µs")
    print("\ntouched: pages the guest accepted outside the converted ranges (flat per ioctl = cost follows ranges).")


if __name__ == "__main__":
    main()
