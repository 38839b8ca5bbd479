"""QEMU's sequences, written as plain `Vmm` calls: create a TD, bind a guest_memfd, load an image, convert a range,
run the guest.

Each recipe is the order QEMU follows (target/i386/kvm/tdx.c, accel/kvm/kvm-all.c) and Documentation/virt/kvm/x86/
intel-tdx.rst's "KVM TDX creation flow" gives, and returns the `Result`s of the calls it made, so a reader can print
what each did. Read the source of a recipe to see the calls; copy them into a notebook cell to change one.

The two memory models (chosen when the machine is built, `Vmm(kernel, gmem_in_place_conversion=...)`):
- in-place conversion: the guest_memfd has MMAP and INIT_SHARED, is mmapped MAP_SHARED and written while shared;
  a range becomes private with KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, and an image page is added from
  itself (`source_addr` 0);
- out-of-place: the memslot's userspace side is anonymous memory, the whole slot is made private with the VM ioctl
  KVM_SET_MEMORY_ATTRIBUTES (kvm_set_phys_mem), and an image is copied in from a separate source buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from tdxsim.kvm.uapi import (
    GUEST_MEMFD_FLAG_INIT_SHARED,
    GUEST_MEMFD_FLAG_MMAP,
    KVM_MEM_GUEST_MEMFD,
    KVM_MEMORY_ATTRIBUTE_PRIVATE,
    KVM_TDX_MEASURE_MEMORY_REGION,
    TDX_TD_ATTR_SEPT_VE_DISABLE,
)
from tdxsim.platform import DEFAULT_GPAW, PAGE_SIZE
from tdxsim.result import Result
from tdxsim.vmm.process import Vmm


class RecipeError(RuntimeError):
    """A call of a recipe failed; `result` is its Result (ret, errno, SEAMCALLs)."""

    def __init__(self, result: Result) -> None:
        super().__init__(repr(result))
        self.result = result


def _ok(result: Result) -> Result:
    if not result.ok:
        raise RecipeError(result)
    return result


@dataclass
class Binding:
    """A memslot backed by a guest_memfd: where its guest memory is and where the VMM sees it."""

    slot: int
    guest_memfd: int
    gpa: int
    size: int
    userspace_addr: int  # the guest_memfd's mmap (in place) or the anonymous memory (out of place)


def create_td(
    vmm: Vmm, attributes: int = TDX_TD_ATTR_SEPT_VE_DISABLE, gpaw: int = DEFAULT_GPAW, vcpus: int = 1
) -> list[Result]:
    """KVM_CREATE_VM, KVM_TDX_INIT_VM, then KVM_CREATE_VCPU and KVM_TDX_INIT_VCPU per vCPU (tdx_kvm_init_vm,
    tdx_pre_create_vcpu and tdx_init_vcpu in QEMU's target/i386/kvm/tdx.c). Selects the new VM."""
    out = [_ok(vmm.KVM_CREATE_VM())]
    vmm.select_vm(out[0]["vm"])
    out.append(_ok(vmm.KVM_TDX_INIT_VM(attributes=attributes, gpaw=gpaw)))
    for vcpu in range(vcpus):
        out.append(_ok(vmm.KVM_CREATE_VCPU(id=vcpu)))
        out.append(_ok(vmm.KVM_TDX_INIT_VCPU(vcpu=vcpu)))
    return out


def bind_guest_memfd(vmm: Vmm, size: int, gpa: int = 0, slot: int = 0) -> tuple[Binding, list[Result]]:
    """A guest_memfd of `size` bytes as memslot `slot` at `gpa`, as QEMU's kvm_set_phys_mem does for a RAM block
    with guest_memfd: in place, the guest_memfd (MMAP|INIT_SHARED) is also the shared side; out of place, anonymous
    memory is, and the whole slot is made private with KVM_SET_MEMORY_ATTRIBUTES."""
    in_place = vmm.in_place
    flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED if in_place else 0
    out = [_ok(vmm.KVM_CREATE_GUEST_MEMFD(size=size, flags=flags))]
    fd = out[0]["fd"]
    out.append(_ok(vmm.mmap(length=size, fd=fd if in_place else None)))
    addr = out[-1]["addr"]
    out.append(
        _ok(
            vmm.KVM_SET_USER_MEMORY_REGION2(
                slot=slot,
                flags=KVM_MEM_GUEST_MEMFD,
                guest_phys_addr=gpa,
                memory_size=size,
                userspace_addr=addr,
                guest_memfd=fd,
                guest_memfd_offset=0,
            )
        )
    )
    if not in_place:
        out.append(_ok(vmm.KVM_SET_MEMORY_ATTRIBUTES(address=gpa, size=size, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE)))
    return Binding(slot, fd, gpa, size, addr), out


def load_image(vmm: Vmm, binding: Binding, gpa: int, data: bytes, measure: bool = True) -> list[Result]:
    """Add `data` (whole pages) at `gpa` with KVM_TDX_INIT_MEM_REGION, measured or not. In place: write it through
    the guest_memfd mmap while shared, convert it to private, add it from itself (`source_addr` 0). Out of place:
    write it into a fresh source buffer, add from there, drop the buffer (QEMU's tdx_finalize_vm)."""
    nr_pages = -(-len(data) // PAGE_SIZE)
    flags = KVM_TDX_MEASURE_MEMORY_REGION if measure else 0
    out: list[Result] = []
    if vmm.in_place:
        offset = gpa - binding.gpa
        out.append(_ok(vmm.write(binding.userspace_addr + offset, data)))
        out.append(
            _ok(
                vmm.KVM_SET_MEMORY_ATTRIBUTES2(
                    guest_memfd=binding.guest_memfd,
                    offset=offset,
                    size=nr_pages * PAGE_SIZE,
                    attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE,
                )
            )
        )
        source = 0
    else:
        out.append(_ok(vmm.mmap(length=nr_pages * PAGE_SIZE)))
        source = out[-1]["addr"]
        out.append(_ok(vmm.write(source, data)))
    out.append(_ok(vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=source, gpa=gpa, nr_pages=nr_pages, flags=flags)))
    if source:
        out.append(_ok(vmm.munmap(source, nr_pages * PAGE_SIZE)))
    return out


def convert_range(vmm: Vmm, gpa: int, size: int, private: bool) -> list[dict]:
    """Convert [gpa, gpa+size) as QEMU's kvm_convert_memory does on a MapGPA exit (the model's ioctl, then the
    discard of the side no longer used); the steps with their return values."""
    return vmm.kvm_convert_memory(gpa, size, private)


def run_guest(vmm: Vmm, accept: tuple[int, ...] = ()) -> list[Result]:
    """KVM_TDX_FINALIZE_VM, then the guest accepts each GPA in `accept` (TDG.MEM.PAGE.ACCEPT; KVM AUGs the page on
    the EPT-violation exit)."""
    out = [_ok(vmm.KVM_TDX_FINALIZE_VM())]
    out += [_ok(vmm.guest_accept(gpa=gpa)) for gpa in accept]
    return out
