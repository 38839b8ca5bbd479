"""The VMM process: its file descriptors and the system calls it makes, one method per scenario op.

Every method takes decoded arguments (integers, flag bits) and returns a dict with `ret` (0 or -errno) and the op's
own results (`fd`, `addr`, `region`, `error_offset`, `data`, `signal`, `exits`, `exception`). Naming a VM, vCPU or
guest_memfd that does not exist is -EBADF, as for an fd that is not open; once KVM has marked the VM dead, every
KVM ioctl is -EIO (kvm_vm_ioctl, kvm_vcpu_ioctl).
"""

from __future__ import annotations

from typing import Any

from tdxsim import platform
from tdxsim.errno import EBADF, EINVAL, EIO
from tdxsim.events import Trace
from tdxsim.guest import Guest
from tdxsim.kvm.flavours import DEFAULT_FLAVOUR, FLAVOURS
from tdxsim.kvm.kvm_main import Kvm, Vcpu
from tdxsim.kvm.mm import Mm
from tdxsim.kvm.tdx import (
    KVM_TDX_FINALIZE_VM,
    KVM_TDX_INIT_MEM_REGION,
    KVM_TDX_INIT_VCPU,
    KVM_TDX_INIT_VM,
    KvmTdxCmd,
    KvmTdxInitMemRegion,
)
from tdxsim.kvm.uapi import FALLOC_FLAGS, KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_X86_TDX_VM, MADVISE
from tdxsim.physmem import PhysicalMemory
from tdxsim.tdx.module import TdxModule

PAGE_SIZE = platform.PAGE_SIZE


class Vmm:
    """One machine (physical memory, the TDX module, the kernel) and the VMM process that drives it."""

    def __init__(
        self, kernel: str = DEFAULT_FLAVOUR, gmem_in_place_conversion: bool | None = None, record: bool = True
    ) -> None:
        if kernel not in FLAVOURS:
            raise ValueError(f"unknown kernel {kernel!r}; expected one of {', '.join(FLAVOURS)}")
        self.flavour = FLAVOURS[kernel]
        if gmem_in_place_conversion is None:
            gmem_in_place_conversion = self.flavour.has_in_place
        if gmem_in_place_conversion and not self.flavour.has_in_place:
            names = " and ".join(name for name, fl in FLAVOURS.items() if fl.has_in_place)
            raise ValueError(f"kernel {kernel!r} has no gmem_in_place_conversion parameter (only {names} have it)")
        self.in_place = gmem_in_place_conversion
        self.trace = Trace(enabled=record)
        self.mem = PhysicalMemory(self.trace)
        self.module = TdxModule(self.mem, self.trace)
        self.mm = Mm(self.mem, self.trace)
        self.kvm: Kvm | None = None
        self.guest: Guest | None = None

    # -- fds ----------------------------------------------------------------------------------------------------

    def _vm(self) -> tuple[Kvm | None, int]:
        if self.kvm is None:
            return None, -EBADF
        if ret := self.kvm.check_alive():
            return None, ret
        return self.kvm, 0

    def _vcpu(self, vcpu_id: int) -> tuple[Vcpu | None, int]:
        kvm, ret = self._vm()
        if kvm is None:
            return None, ret
        vcpu = kvm.vcpus.get(vcpu_id)
        return (vcpu, 0) if vcpu is not None else (None, -EBADF)

    def _gmem(self, number: int):
        kvm, ret = self._vm()
        if kvm is None:
            return None, ret
        if not 0 <= number < len(kvm.gmems):
            return None, -EBADF
        return kvm.gmems[number], 0

    # -- KVM ioctls ---------------------------------------------------------------------------------------------

    def KVM_CREATE_VM(self, type: int = KVM_X86_TDX_VM) -> dict[str, Any]:  # noqa: A002
        """KVM_CREATE_VM(KVM_X86_TDX_VM): tdx_vm_init; the VM gets a split IRQ chip and KVM_CAP_EXIT_HYPERCALL."""
        if type != KVM_X86_TDX_VM:
            return {"ret": -EINVAL}
        if self.kvm is not None:
            raise RuntimeError("tdxsim models one VM per Vmm: make a new Vmm for a second VM")
        self.kvm = Kvm(
            self.mem, self.module, self.mm, self.trace, self.flavour, self.in_place, machine_vms=lambda: [self.kvm]
        )
        self.guest = Guest(self.kvm)
        self.trace.state("kvm", "td_state", old=None, new=self.kvm.tdx.state)
        return {"ret": 0}

    def KVM_TDX_INIT_VM(
        self, attributes: int, gpaw: int = platform.DEFAULT_GPAW, hw_error: int = 0, cpuid_nent: int = 1
    ) -> dict[str, Any]:
        """KVM_MEMORY_ENCRYPT_OP(KVM_TDX_INIT_VM) on the VM fd; `cpuid_nent` is kvm_tdx_init_vm.cpuid.nent."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        cmd = KvmTdxCmd(KVM_TDX_INIT_VM, hw_error=hw_error)
        ret = kvm.tdx.tdx_vm_ioctl(cmd, attributes=attributes, gpaw=gpaw, nent=cpuid_nent)
        return {"ret": ret, "hw_error": cmd.hw_error}

    def KVM_CREATE_VCPU(self, id: int) -> dict[str, Any]:  # noqa: A002
        """KVM_CREATE_VCPU on the VM fd."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        return {"ret": kvm.kvm_vm_ioctl_create_vcpu(id)}

    def KVM_TDX_INIT_VCPU(self, vcpu: int, hw_error: int = 0, data: int = 0) -> dict[str, Any]:
        """KVM_MEMORY_ENCRYPT_OP(KVM_TDX_INIT_VCPU) on a vCPU fd; `data` is RCX (QEMU: the TD HOB's GPA)."""
        v, ret = self._vcpu(vcpu)
        if v is None:
            return {"ret": ret}
        cmd = KvmTdxCmd(KVM_TDX_INIT_VCPU, data=data, hw_error=hw_error)
        return {"ret": self.kvm.tdx.tdx_vcpu_unlocked_ioctl(v, cmd)}

    def KVM_CREATE_GUEST_MEMFD(self, size: int, flags: int = 0) -> dict[str, Any]:
        """KVM_CREATE_GUEST_MEMFD on the VM fd; `fd` is the new guest_memfd's number."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        ret = kvm.kvm_gmem_create(size, flags)
        return {"ret": ret} if ret < 0 else {"ret": 0, "fd": ret}

    def KVM_SET_USER_MEMORY_REGION2(
        self,
        slot: int,
        flags: int,
        guest_phys_addr: int,
        memory_size: int,
        userspace_addr: int,
        guest_memfd: int = 0,
        guest_memfd_offset: int = 0,
    ) -> dict[str, Any]:
        """KVM_SET_USER_MEMORY_REGION2 on the VM fd."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        return {
            "ret": kvm.kvm_set_memory_region(
                slot, flags, guest_phys_addr, memory_size, userspace_addr, guest_memfd, guest_memfd_offset
            )
        }

    def KVM_SET_MEMORY_ATTRIBUTES(self, address: int, size: int, attributes: int, flags: int = 0) -> dict[str, Any]:
        """KVM_SET_MEMORY_ATTRIBUTES on the VM fd (per-VM attributes, the out-of-place model)."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        return {"ret": kvm.kvm_vm_ioctl_set_mem_attributes(address, size, attributes, flags)}

    def KVM_SET_MEMORY_ATTRIBUTES2(
        self, guest_memfd: int, offset: int, size: int, attributes: int, flags: int = 0, reserved: int = 0
    ) -> dict[str, Any]:
        """KVM_SET_MEMORY_ATTRIBUTES2 on a guest_memfd fd (the in-place model); `error_offset` on failure."""
        gmem, ret = self._gmem(guest_memfd)
        if gmem is None:
            return {"ret": ret}
        ret, error_offset = gmem.kvm_gmem_set_attributes(offset, size, attributes, flags, reserved)
        out: dict[str, Any] = {"ret": ret}
        if error_offset is not None:
            out["error_offset"] = error_offset
        return out

    def KVM_TDX_INIT_MEM_REGION(
        self, vcpu: int, source_addr: int, gpa: int, nr_pages: int, flags: int = 0, hw_error: int = 0
    ) -> dict[str, Any]:
        """KVM_MEMORY_ENCRYPT_OP(KVM_TDX_INIT_MEM_REGION) on a vCPU fd; `region` is the struct as written back."""
        v, ret = self._vcpu(vcpu)
        if v is None:
            self._deliver_signal()
            return {"ret": ret}
        cmd = KvmTdxCmd(KVM_TDX_INIT_MEM_REGION, flags=flags, hw_error=hw_error)
        region = KvmTdxInitMemRegion(source_addr, gpa, nr_pages)
        ret = self.kvm.tdx.tdx_vcpu_unlocked_ioctl(v, cmd, region)
        self._deliver_signal()
        return {
            "ret": ret,
            "region": {"source_addr": region.source_addr, "gpa": region.gpa, "nr_pages": region.nr_pages},
        }

    def KVM_TDX_FINALIZE_VM(self, hw_error: int = 0) -> dict[str, Any]:
        """KVM_MEMORY_ENCRYPT_OP(KVM_TDX_FINALIZE_VM) on the VM fd."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        cmd = KvmTdxCmd(KVM_TDX_FINALIZE_VM, hw_error=hw_error)
        ret = kvm.tdx.tdx_vm_ioctl(cmd)
        return {"ret": ret, "hw_error": cmd.hw_error}

    def KVM_TDX_EXTEND_MEMORY(self, gpa: int, nr_pages: int) -> dict[str, Any]:
        """The v19 series' KVM_TDX_EXTEND_MEMORY (not in any modelled kernel flavour; the two-pass loader uses it)."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        return {"ret": kvm.tdx.tdx_extend_memory(gpa, nr_pages)}

    # -- memory system calls ------------------------------------------------------------------------------------

    def mmap(
        self, length: int, addr: int | None = None, fd: int | None = None, offset: int = 0, shared: bool | None = None
    ) -> dict[str, Any]:
        """mmap(2) of anonymous memory (fd None) or of guest_memfd number `fd`; `addr` given means MAP_FIXED."""
        file = None
        if fd is not None:
            if self.kvm is None or not 0 <= fd < len(self.kvm.gmems):
                return {"ret": -EBADF}
            file = self.kvm.gmems[fd]
        if shared is None:
            shared = fd is not None
        ret = self.mm.do_mmap(addr, length, file, offset, shared)
        return {"ret": ret} if ret < 0 else {"ret": 0, "addr": ret}

    def munmap(self, addr: int, length: int) -> dict[str, Any]:
        """munmap(2)."""
        return {"ret": self.mm.do_munmap(addr, length)}

    def write(self, addr: int, data: bytes) -> dict[str, Any]:
        """A store by the VMM; a private guest_memfd page raises SIGBUS, an unmapped address SIGSEGV."""
        result, fault_addr = self.mm.access(addr, len(data), data)
        return self._signal(result, fault_addr)

    def read(self, addr: int, length: int) -> dict[str, Any]:
        """A load by the VMM."""
        result, fault_addr = self.mm.access(addr, length)
        out = self._signal(result, fault_addr)
        if "signal" not in out:
            out["data"] = result
        return out

    def _signal(self, result: bytes | str, fault_addr: int) -> dict[str, Any]:
        if isinstance(result, str):
            self.trace.emit("signal", "vmm", result, addr=fault_addr)
            return {"ret": 0, "signal": result, "addr": fault_addr}
        return {"ret": 0}

    def fallocate(
        self,
        guest_memfd: int,
        offset: int,
        length: int,
        mode: int = FALLOC_FLAGS["FALLOC_FL_PUNCH_HOLE"] | FALLOC_FLAGS["FALLOC_FL_KEEP_SIZE"],
    ) -> dict[str, Any]:
        """fallocate(2) on a guest_memfd: only PUNCH_HOLE|KEEP_SIZE is modelled (kvm_gmem_fallocate)."""
        gmem, ret = self._gmem(guest_memfd)
        if gmem is None:
            return {"ret": ret}
        if mode != FALLOC_FLAGS["FALLOC_FL_PUNCH_HOLE"] | FALLOC_FLAGS["FALLOC_FL_KEEP_SIZE"]:
            return {"ret": -EINVAL}
        if offset % PAGE_SIZE or length % PAGE_SIZE or length <= 0:
            return {"ret": -EINVAL}
        gmem.punch_hole(offset // PAGE_SIZE, min(offset + length, gmem.size) // PAGE_SIZE)
        return {"ret": 0}

    def madvise(self, addr: int, length: int, advice: int = MADVISE["MADV_DONTNEED"]) -> dict[str, Any]:
        """madvise(2) MADV_DONTNEED: drop the pages of the range."""
        if advice != MADVISE["MADV_DONTNEED"] or addr % PAGE_SIZE:
            return {"ret": -EINVAL}
        return {"ret": self.mm.zap_anon(addr, length)}

    def pin(self, addr: int, length: int) -> dict[str, Any]:
        """A long-term GUP pin of the range (as an IOMMU mapping holds)."""
        return {"ret": self.mm.pin(addr, length)}

    def unpin(self, addr: int, length: int) -> dict[str, Any]:
        """Drop a pin taken with `pin`."""
        return {"ret": self.mm.unpin(addr, length)}

    # -- test hooks -----------------------------------------------------------------------------------------------

    def signal_pending(self, before_page: int = 0) -> dict[str, Any]:
        """A signal arrives before page `before_page` of the next ioctl's per-page loop."""
        if self.kvm is not None:
            self.kvm.signal_from_page = before_page
        return {"ret": 0}

    def _deliver_signal(self) -> None:
        if self.kvm is not None:
            self.kvm.signal_from_page = None

    def memory_failure(self, guest_memfd: int, offset: int) -> dict[str, Any]:
        """memory_failure(): poison the guest_memfd page at `offset` (later use: -EHWPOISON)."""
        gmem, ret = self._gmem(guest_memfd)
        if gmem is None:
            return {"ret": ret}
        gmem.poisoned.add(offset // PAGE_SIZE)
        return {"ret": 0}

    def tdx_error(self, leaf: str, status: str, count: int = 1) -> dict[str, Any]:
        """Make the next `count` calls of a SEAMCALL fail with `status`."""
        self.module.inject(leaf, status, count)
        return {"ret": 0}

    # -- the guest ------------------------------------------------------------------------------------------------

    def _guest_vcpu(self, vcpu: int) -> tuple[Vcpu | None, int]:
        if self.kvm is None:
            return None, -EBADF
        v = self.kvm.vcpus.get(vcpu)
        if v is None:
            return None, -EBADF
        if self.kvm.vm_dead:
            return None, -EIO
        return v, 0

    def guest_read(self, gpa: int, length: int, vcpu: int = 0, shared: bool = False) -> dict[str, Any]:
        """The guest loads [gpa, gpa+length) through its private mapping, or the shared alias."""
        v, ret = self._guest_vcpu(vcpu)
        if v is None:
            return {"ret": ret}
        return self.guest.access(v, gpa, length, None, shared)

    def guest_write(self, gpa: int, data: bytes, vcpu: int = 0, shared: bool = False) -> dict[str, Any]:
        """The guest stores `data` at `gpa`."""
        v, ret = self._guest_vcpu(vcpu)
        if v is None:
            return {"ret": ret}
        return self.guest.access(v, gpa, len(data), data, shared)

    def guest_map_gpa(
        self, gpa: int, size: int, shared: bool, vcpu: int = 0, vmm: str = "convert", vmm_ret: int = 0
    ) -> dict[str, Any]:
        """TDG.VP.VMCALL<MapGPA>: one KVM_EXIT_HYPERCALL per chunk of at most 2 MiB; with vmm="convert" each chunk
        is converted as QEMU's kvm_convert_memory does before the reply `vmm_ret`, with "ignore" it is not."""
        v, ret = self._guest_vcpu(vcpu)
        if v is None:
            return {"ret": ret}
        out, exit_ = self.guest.map_gpa_start(gpa, size, shared)
        exits = []
        while exit_ is not None:
            record = {**exit_, "vmm": []}
            if vmm == "convert":
                to_private = exit_["attributes"] == "KVM_MAP_GPA_RANGE_ENCRYPTED"
                record["vmm"] = self.kvm_convert_memory(exit_["gpa"], exit_["npages"] * PAGE_SIZE, to_private)
            record["hypercall_ret"] = vmm_ret
            exits.append(record)
            exit_ = self.guest.map_gpa_continue(out, vmm_ret)
        out["exits"] = exits
        return out

    def kvm_convert_memory(self, gpa: int, size: int, to_private: bool) -> list[dict[str, Any]]:
        """QEMU accel/kvm/kvm-all.c kvm_convert_memory: set the range's attribute with the active model's ioctl;
        out-of-place, then discard the side no longer used (ram_block_discard_range / guest_memfd punch hole).
        Returns the nested steps with their results."""
        steps: list[dict[str, Any]] = []

        def call(op: str, **args: Any) -> None:
            mark = len(self.trace.events)
            self.trace.emit("ioctl", "vmm", op, **args)  # the nested call, so sequence diagrams show who made it
            result = getattr(self, op)(**args)
            if self.trace.enabled:
                self.trace.events[mark].data["ret"] = result["ret"]
            steps.append({"op": op, **{k: v for k, v in args.items()}, "ret": result["ret"]})

        attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE if to_private else 0
        if self.kvm is None:
            raise RuntimeError("kvm_convert_memory needs a VM: call KVM_CREATE_VM first")
        for slot in self.kvm.memslots_in(gpa // PAGE_SIZE, -(-(gpa + size) // PAGE_SIZE)):
            start = max(gpa, slot.base_gfn * PAGE_SIZE)
            end = min(gpa + size, (slot.base_gfn + slot.npages) * PAGE_SIZE)
            if start >= end or slot.gmem is None:
                continue
            offset = slot.gmem_offset + start - slot.base_gfn * PAGE_SIZE
            if self.kvm.in_place:
                call(
                    "KVM_SET_MEMORY_ATTRIBUTES2",
                    guest_memfd=slot.gmem.number,
                    offset=offset,
                    size=end - start,
                    attributes=attributes,
                )
                continue
            call("KVM_SET_MEMORY_ATTRIBUTES", address=start, size=end - start, attributes=attributes)
            if to_private:
                call("madvise", addr=slot.userspace_addr + start - slot.base_gfn * PAGE_SIZE, length=end - start)
            else:
                call("fallocate", guest_memfd=slot.gmem.number, offset=offset, length=end - start)
        return steps

    def guest_accept(self, gpa: int, vcpu: int = 0) -> dict[str, Any]:
        """TDG.MEM.PAGE.ACCEPT of one 4 KiB page."""
        v, ret = self._guest_vcpu(vcpu)
        if v is None:
            return {"ret": ret}
        return self.guest.accept(v, gpa)

    # -- reading the machine --------------------------------------------------------------------------------------

    def describe_pages(self) -> dict[str, dict[str, Any]]:
        """Every allocated physical page: owner, KeyID, where its contents came from, and what maps it."""
        backs: dict[int, dict[str, Any]] = {}
        if self.kvm is not None:
            for gmem in self.kvm.gmems:
                for index, pfn in gmem.folios.items():
                    backs.setdefault(pfn, {})["guest_memfd"] = f"guest_memfd:{gmem.number}+{index * PAGE_SIZE:#x}"
                    slot_id = gmem.bindings.get(index)
                    if slot_id is not None and slot_id in self.kvm.memslots:
                        slot = self.kvm.memslots[slot_id]
                        gfn = slot.base_gfn + index - slot.gmem_offset // PAGE_SIZE
                        backs[pfn]["gpa"] = hex(gfn * PAGE_SIZE)
            for gfn, pfn in self.kvm.mmu.shared.items():
                backs.setdefault(pfn, {})["shared_gpa"] = hex(gfn * PAGE_SIZE)
        for vma in self.mm.vmas:
            for vpn, pfn in vma.ptes.items():
                backs.setdefault(pfn, {})["va"] = hex(vpn * PAGE_SIZE)
        out = {}
        for pfn in sorted(self.mem.frames):
            frame = self.mem.frames[pfn]
            page = {"owner": frame.owner.value, "keyid": frame.keyid, "contents": frame.origin or "zeros"}
            pt = self.module.page_type(pfn)
            page["pamt"] = pt.value
            page.update(backs.get(pfn, {}))
            out[hex(pfn * PAGE_SIZE)] = page
        return out
