"""The VMM process: its file descriptors and the system calls it makes, one method per scenario op.

Every method takes decoded arguments (integers, flag bits) by the uAPI struct's field names, with QEMU's defaults,
and returns a `tdxsim.result.Result`: a dict with `ret` (0 or -errno) and the op's own results (`fd`, `addr`,
`region`, `error_offset`, `data`, `signal`, `exits`, `exception`), plus the call chain, SEAMCALLs, TDCALLs and state
changes the call caused. Naming a VM, vCPU or guest_memfd that does not exist is -EBADF, as for an fd that is not
open; once KVM has marked the VM dead, every
KVM ioctl is -EIO (kvm_vm_ioctl, kvm_vcpu_ioctl).

One process may create several VMs (each KVM_CREATE_VM returns a new VM fd: kvm_dev_ioctl_create_vm in
virt/kvm/kvm_main.c). They share the machine (physical memory, the one TDX module and its PAMT) and the process's
address space; each has its own KVM state, vCPUs, guest_memfds and, once initialised, its own HKID. `select_vm(n)`
picks the VM (in creation order, 0 first) that the VM, vCPU, guest_memfd and guest methods act on; `kvm` and `guest`
are the selected VM and its guest.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from tdxsim import platform
from tdxsim.errno import EBADF, EINVAL, EIO
from tdxsim.events import Trace
from tdxsim.guest import Guest
from tdxsim.kvm.flavours import DEFAULT_FLAVOUR, FLAVOURS
from tdxsim.kvm.guest_memfd import GuestMemfd
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
from tdxsim.kvm.uapi import (
    FALLOC_FLAGS,
    KVM_MEMORY_ATTRIBUTE_PRIVATE,
    KVM_X86_TDX_VM,
    MADVISE,
    TDX_TD_ATTR_SEPT_VE_DISABLE,
)
from tdxsim.physmem import PhysicalMemory
from tdxsim.result import Result
from tdxsim.tdx.module import OpState, Td, TdxModule
from tdxsim.tdx.sept import SeptState, entry_base
from tdxsim.vmm.ownership import gmem_folios, page_owner

PAGE_SIZE = platform.PAGE_SIZE
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any, Concatenate, ParamSpec

    _P = ParamSpec("_P")


def _api(fn: Callable[Concatenate[Vmm, _P], dict[str, Any]]) -> Callable[Concatenate[Vmm, _P], Result]:
    """Make a method return a `Result`: its values plus the events recorded while it ran (tdxsim/result.py)."""

    @functools.wraps(fn)
    def wrapper(self: Vmm, /, *args: _P.args, **kwargs: _P.kwargs) -> Result:
        mark = len(self.trace.events)
        self._depth += 1  # a call the VMM makes while answering another (a MapGPA exit) is not the reader's
        try:
            values = fn(self, *args, **kwargs)
        finally:
            self._depth -= 1
        if not self._depth:
            self.calls_made.append((fn.__name__, args, kwargs))
        return Result(fn.__name__, values, self.trace.events[mark:])

    return wrapper


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
        self.vms: list[Kvm] = []
        self.guests: list[Guest] = []
        self.selected = 0
        self.kernel = kernel
        #: Every call made on this machine, in order, as (method, positional args, keyword args): what
        #: `tdxsim.calls.code_of` turns back into the Python that makes them again.
        self.calls_made: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._depth = 0  # Vmm calls in progress (only the outermost one is the caller's)

    @property
    def kvm(self) -> Kvm | None:
        """The selected VM (None until it exists)."""
        return self.vms[self.selected] if self.selected < len(self.vms) else None

    @property
    def guest(self) -> Guest | None:
        """The software inside the selected VM's TD."""
        return self.guests[self.selected] if self.selected < len(self.guests) else None

    def select_vm(self, index: int) -> None:
        """Direct the next calls to VM `index` (creation order); a VM not created yet makes them -EBADF."""
        if index < 0:
            raise ValueError(f"VM index {index} is negative")
        self.selected = index
        self.calls_made.append(("select_vm", (index,), {}))

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

    def _gmem(self, number: int) -> tuple[GuestMemfd | None, int]:
        kvm, ret = self._vm()
        if kvm is None:
            return None, ret
        if not 0 <= number < len(kvm.gmems):
            return None, -EBADF
        return kvm.gmems[number], 0

    # -- KVM ioctls ---------------------------------------------------------------------------------------------

    @_api
    def KVM_CREATE_VM(self, type: int = KVM_X86_TDX_VM) -> dict[str, Any]:  # noqa: A002
        """KVM_CREATE_VM(KVM_X86_TDX_VM): tdx_vm_init; the VM gets a split IRQ chip and KVM_CAP_EXIT_HYPERCALL."""
        if type != KVM_X86_TDX_VM:
            return {"ret": -EINVAL}
        kvm = Kvm(self.mem, self.module, self.mm, self.trace, self.flavour, self.in_place, machine_vms=self._all_vms)
        self.vms.append(kvm)
        self.guests.append(Guest(kvm))
        self.trace.state("kvm", "td_state", old=None, new=kvm.tdx.state)
        return {"ret": 0, "vm": len(self.vms) - 1}

    def _all_vms(self) -> list[Kvm]:
        return self.vms

    @_api
    def KVM_TDX_INIT_VM(
        self,
        attributes: int = TDX_TD_ATTR_SEPT_VE_DISABLE,
        gpaw: int = platform.DEFAULT_GPAW,
        hw_error: int = 0,
        cpuid_nent: int = 1,
    ) -> dict[str, Any]:
        """KVM_MEMORY_ENCRYPT_OP(KVM_TDX_INIT_VM) on the VM fd; `cpuid_nent` is kvm_tdx_init_vm.cpuid.nent.
        `attributes` defaults to SEPT_VE_DISABLE, as QEMU's tdx-guest object does (sept-ve-disable defaults on:
        target/i386/kvm/tdx.c tdx_guest_init) and as a scenario step does (docs/scenario.md)."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        cmd = KvmTdxCmd(KVM_TDX_INIT_VM, hw_error=hw_error)
        ret = kvm.tdx.tdx_vm_ioctl(cmd, attributes=attributes, gpaw=gpaw, nent=cpuid_nent)
        return {"ret": ret, "hw_error": cmd.hw_error}

    @_api
    def KVM_CREATE_VCPU(self, id: int) -> dict[str, Any]:  # noqa: A002
        """KVM_CREATE_VCPU on the VM fd."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        return {"ret": kvm.kvm_vm_ioctl_create_vcpu(id)}

    @_api
    def KVM_TDX_INIT_VCPU(self, vcpu: int, hw_error: int = 0, data: int = 0) -> dict[str, Any]:
        """KVM_MEMORY_ENCRYPT_OP(KVM_TDX_INIT_VCPU) on a vCPU fd; `data` is RCX (QEMU: the TD HOB's GPA)."""
        v, ret = self._vcpu(vcpu)
        if v is None or self.kvm is None:
            return {"ret": ret}
        cmd = KvmTdxCmd(KVM_TDX_INIT_VCPU, data=data, hw_error=hw_error)
        return {"ret": self.kvm.tdx.tdx_vcpu_unlocked_ioctl(v, cmd)}

    @_api
    def KVM_CREATE_GUEST_MEMFD(self, size: int, flags: int = 0) -> dict[str, Any]:
        """KVM_CREATE_GUEST_MEMFD on the VM fd; `fd` is the new guest_memfd's number."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        ret = kvm.kvm_gmem_create(size, flags)
        return {"ret": ret} if ret < 0 else {"ret": 0, "fd": ret}

    @_api
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

    @_api
    def KVM_SET_MEMORY_ATTRIBUTES(self, address: int, size: int, attributes: int, flags: int = 0) -> dict[str, Any]:
        """KVM_SET_MEMORY_ATTRIBUTES on the VM fd (per-VM attributes, the out-of-place model)."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        return {"ret": kvm.kvm_vm_ioctl_set_mem_attributes(address, size, attributes, flags)}

    @_api
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

    @_api
    def KVM_TDX_INIT_MEM_REGION(
        self, vcpu: int, source_addr: int, gpa: int, nr_pages: int, flags: int = 0, hw_error: int = 0
    ) -> dict[str, Any]:
        """KVM_MEMORY_ENCRYPT_OP(KVM_TDX_INIT_MEM_REGION) on a vCPU fd; `region` is the struct as written back."""
        v, ret = self._vcpu(vcpu)
        if v is None or self.kvm is None:
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

    @_api
    def KVM_TDX_FINALIZE_VM(self, hw_error: int = 0) -> dict[str, Any]:
        """KVM_MEMORY_ENCRYPT_OP(KVM_TDX_FINALIZE_VM) on the VM fd."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        cmd = KvmTdxCmd(KVM_TDX_FINALIZE_VM, hw_error=hw_error)
        ret = kvm.tdx.tdx_vm_ioctl(cmd)
        return {"ret": ret, "hw_error": cmd.hw_error}

    @_api
    def KVM_TDX_EXTEND_MEMORY(self, gpa: int, nr_pages: int) -> dict[str, Any]:
        """The v19 series' KVM_TDX_EXTEND_MEMORY (not in any modelled kernel flavour; the two-pass loader uses it)."""
        kvm, ret = self._vm()
        if kvm is None:
            return {"ret": ret}
        return {"ret": kvm.tdx.tdx_extend_memory(gpa, nr_pages)}

    # -- memory system calls ------------------------------------------------------------------------------------

    @_api
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

    @_api
    def munmap(self, addr: int, length: int) -> dict[str, Any]:
        """munmap(2)."""
        return {"ret": self.mm.do_munmap(addr, length)}

    @_api
    def write(self, addr: int, data: bytes | memoryview) -> dict[str, Any]:
        """A store by the VMM; a private guest_memfd page raises SIGBUS, an unmapped address SIGSEGV."""
        result, fault_addr = self.mm.access(addr, len(data), data)
        return self._signal(result, fault_addr)

    @_api
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

    @_api
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

    @_api
    def madvise(self, addr: int, length: int, advice: int = MADVISE["MADV_DONTNEED"]) -> dict[str, Any]:
        """madvise(2) MADV_DONTNEED: drop the pages of the range."""
        if advice != MADVISE["MADV_DONTNEED"] or addr % PAGE_SIZE:
            return {"ret": -EINVAL}
        return {"ret": self.mm.zap_anon(addr, length)}

    @_api
    def pin(self, addr: int, length: int) -> dict[str, Any]:
        """A long-term GUP pin of the range (as an IOMMU mapping holds)."""
        return {"ret": self.mm.pin(addr, length)}

    @_api
    def unpin(self, addr: int, length: int) -> dict[str, Any]:
        """Drop a pin taken with `pin`."""
        return {"ret": self.mm.unpin(addr, length)}

    # -- test hooks -----------------------------------------------------------------------------------------------

    @_api
    def signal_pending(self, before_page: int = 0) -> dict[str, Any]:
        """A signal arrives before page `before_page` of the next ioctl's per-page loop."""
        if self.kvm is not None:
            self.kvm.signal_from_page = before_page
        return {"ret": 0}

    def _deliver_signal(self) -> None:
        if self.kvm is not None:
            self.kvm.signal_from_page = None

    @_api
    def memory_failure(self, guest_memfd: int, offset: int) -> dict[str, Any]:
        """memory_failure(): poison the guest_memfd page at `offset` (later use: -EHWPOISON)."""
        gmem, ret = self._gmem(guest_memfd)
        if gmem is None:
            return {"ret": ret}
        gmem.poisoned.add(offset // PAGE_SIZE)
        return {"ret": 0}

    @_api
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

    @_api
    def guest_read(self, gpa: int, length: int, vcpu: int = 0, shared: bool = False) -> dict[str, Any]:
        """The guest loads [gpa, gpa+length) through its private mapping, or the shared alias."""
        v, ret = self._guest_vcpu(vcpu)
        if v is None or self.guest is None:
            return {"ret": ret}
        return self.guest.access(v, gpa, length, None, shared)

    @_api
    def guest_write(self, gpa: int, data: bytes, vcpu: int = 0, shared: bool = False) -> dict[str, Any]:
        """The guest stores `data` at `gpa`."""
        v, ret = self._guest_vcpu(vcpu)
        if v is None or self.guest is None:
            return {"ret": ret}
        return self.guest.access(v, gpa, len(data), data, shared)

    @_api
    def guest_map_gpa(
        self, gpa: int, size: int, shared: bool, vcpu: int = 0, vmm: str = "convert", vmm_ret: int = 0
    ) -> dict[str, Any]:
        """TDG.VP.VMCALL<MapGPA>: one KVM_EXIT_HYPERCALL per chunk of at most 2 MiB; with vmm="convert" each chunk
        is converted as QEMU's kvm_convert_memory does before the reply `vmm_ret`, with "ignore" it is not."""
        v, ret = self._guest_vcpu(vcpu)
        if v is None or self.guest is None:
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

    @_api
    def guest_accept(self, gpa: int, vcpu: int = 0) -> dict[str, Any]:
        """TDG.MEM.PAGE.ACCEPT of one 4 KiB page."""
        v, ret = self._guest_vcpu(vcpu)
        if v is None or self.guest is None:
            return {"ret": ret}
        return self.guest.accept(v, gpa)

    # -- reading the machine --------------------------------------------------------------------------------------
    # Queries: read the selected VM's state as the chapters show it, without reaching into the layers. Each returns
    # plain values (strings are the names the sources use: SeptState, PAMT page types, TD and vCPU states).

    def _td(self) -> Td | None:
        kvm = self.kvm
        if kvm is None or kvm.tdx.tdr is None:
            return None
        return self.module.tds.get(kvm.tdx.tdr)

    def td_state(self) -> str:
        """KVM's kvm_tdx->state of the selected VM (TD_STATE_UNINITIALIZED before KVM_CREATE_VM)."""
        return "TD_STATE_UNINITIALIZED" if self.kvm is None else self.kvm.tdx.state

    def vcpu_state(self, vcpu: int = 0) -> str | None:
        """vcpu_tdx->state of vCPU `vcpu` (VCPU_TD_STATE_UNINITIALIZED / _INITIALIZED), None if it does not exist."""
        v = self.kvm.vcpus.get(vcpu) if self.kvm is not None else None
        return None if v is None else v.tdx_state

    def sept_state(self, gpa: int) -> str:
        """The S-EPT leaf state of the private GPA's 4 KiB page (a SeptState value: FREE, PENDING, MAPPED, BLOCKED,
        …), as the TDX module keeps it; FREE when the TD has no S-EPT yet."""
        td = self._td()
        if td is None:
            return SeptState.FREE.value
        return td.sept.get((0, gpa & ~(PAGE_SIZE - 1)), SeptState.FREE).value

    def sept_walk(self, gpa: int) -> list[dict[str, Any]]:
        """The S-EPT walk for `gpa`, root level first: each level's entry base GPA, state and the page it points to
        (a child S-EPT page or, at level 0, the TD's page); the walk stops at the first entry not NL_MAPPED."""
        td = self._td()
        if td is None:
            return []
        out = []
        for level in range(td.root_level, -1, -1):
            key = (level, entry_base(gpa, level))
            state = td.sept.get(key, SeptState.FREE)
            pfn = td.sept_pfn.get(key)
            out.append({"level": level, "gpa": key[1], "state": state.value, "pfn": pfn})
            if level and state is not SeptState.NL_MAPPED:
                break
        return out

    def private_bytes(self, gpa: int, length: int = PAGE_SIZE) -> bytes | None:
        """What the TD's private page at `gpa` holds from `gpa` on (at most to the page's end), as the TDX module reads
        it with the TD's key; None when no S-EPT leaf maps a page there."""
        td = self._td()
        base = gpa & ~(PAGE_SIZE - 1)
        pfn = None if td is None else td.sept_pfn.get((0, base))
        if pfn is None:
            return None
        return bytes(self.mem.view(pfn)[gpa - base : gpa - base + length])

    def mirror_entry(self, gpa: int) -> int | None:
        """KVM's mirror EPT leaf for the private GPA: the pfn it maps, or None when the leaf is not present."""
        return None if self.kvm is None else self.kvm.mmu.mirror.get(gpa // PAGE_SIZE)

    def mirror_present(self, gpa: int, level: int) -> bool:
        """Whether KVM's mirror EPT has a present entry at `level` on the walk for the private GPA: a non-leaf
        (level > 0) once tdp_mmu_link_sp linked its table (arch/x86/kvm/mmu/tdp_mmu.c; the same link reached the
        S-EPT as TDH.MEM.SEPT.ADD through tdx_sept_link_private_spt), the leaf (level 0) as `mirror_entry`."""
        if self.kvm is None:
            return False
        if level == 0:
            return gpa // PAGE_SIZE in self.kvm.mmu.mirror
        return (level, entry_base(gpa, level)) in self.kvm.mmu.mirror_nonleaf

    def frame(self, pa: int) -> dict[str, Any]:
        """What decides a physical page's role: its owner (tdxsim.physmem.Owner), KeyID, PAMT page type and the TDR
        of the TD that owns it in the PAMT (None for PT_NDA). `pa` is a physical address (HKID bits ignored)."""
        pfn, _ = platform.split_keyid(pa // PAGE_SIZE)
        frame = self.mem.frames.get(pfn)
        if frame is None:
            return {"pfn": pfn, "allocated": False}
        entry = self.module.pamt.get(pfn)
        return {
            "pfn": pfn,
            "allocated": True,
            "owner": page_owner(self.module, pfn, gmem_folios(self.vms)).value,
            "keyid": frame.keyid,
            "pamt": self.module.page_type(pfn).value,
            "pamt_owner": None if entry is None else entry[1],
            "contents": frame.contents,
        }

    def gmem_attributes(self, guest_memfd: int, offset: int) -> int | None:
        """The selected VM's guest_memfd `guest_memfd`: the memory attributes of the page at `offset`
        (KVM_MEMORY_ATTRIBUTE_PRIVATE or 0), None if there is no such guest_memfd."""
        if self.kvm is None or not 0 <= guest_memfd < len(self.kvm.gmems):
            return None
        return self.kvm.gmems[guest_memfd].attributes.get(offset // PAGE_SIZE)

    def mrtd(self) -> bytes | None:
        """The TD's MRTD: the finalized value after KVM_TDX_FINALIZE_VM, before it the SHA-384 of what has been
        measured so far (TDH.MR.FINALIZE only takes the digest); None before TDH.MNG.INIT."""
        td = self._td()
        if td is None or td.op_state is OpState.OP_STATE_UNINITIALIZED:
            return None
        return td.mrtd if td.mrtd is not None else td.sha.copy().digest()

    def describe_pages(self) -> dict[str, dict[str, Any]]:
        """Every allocated physical page: owner, KeyID, where its contents came from, and what maps it."""
        backs: dict[int, dict[str, Any]] = {}
        for number, kvm in enumerate(self.vms):
            # With several VMs, `vm` says whose guest_memfd or GPA it is (guest_memfd numbers are per VM).
            which = {"vm": number} if len(self.vms) > 1 else {}
            for gmem in kvm.gmems:
                for index, pfn in gmem.folios.items():
                    backs.setdefault(pfn, {})["guest_memfd"] = f"guest_memfd:{gmem.number}+{index * PAGE_SIZE:#x}"
                    backs[pfn].update(which)
                    slot_id = gmem.bindings.get(index)
                    if slot_id is not None and slot_id in kvm.memslots:
                        slot = kvm.memslots[slot_id]
                        gfn = slot.base_gfn + index - slot.gmem_offset // PAGE_SIZE
                        backs[pfn]["gpa"] = hex(gfn * PAGE_SIZE)
            for gfn, pfn in kvm.mmu.shared.items():
                backs.setdefault(pfn, {})["shared_gpa"] = hex(gfn * PAGE_SIZE)
                backs[pfn].update(which)
        for vma in self.mm.vmas:
            for vpn, pfn in vma.ptes.items():
                backs.setdefault(pfn, {})["va"] = hex(vpn * PAGE_SIZE)
        out = {}
        folios = gmem_folios(self.vms)
        for pfn in sorted(self.mem.frames):
            frame = self.mem.frames[pfn]
            page = {
                "owner": page_owner(self.module, pfn, folios).value,
                "keyid": frame.keyid,
                "contents": frame.contents,
            }
            pt = self.module.page_type(pfn)
            page["pamt"] = pt.value
            if frame.source_pfn is not None:  # filled by TDH.MEM.PAGE.ADD: its source page, as data
                page["page_add_source"] = hex(frame.source_pfn * PAGE_SIZE)
            page.update(backs.get(pfn, {}))
            out[hex(pfn * PAGE_SIZE)] = page
        return out
