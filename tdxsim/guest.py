"""The TD guest: loads, stores and TDG.MEM.PAGE.ACCEPT through its own vCPU, with the exits they cause.

The guest runs only in a finalized TD (KVM_RUN before finalize is refused with -EINVAL). A private access walks the
S-EPT: MAPPED reads or writes the page under the TD's key; FREE exits to KVM, which AUGs the page (PENDING); a
PENDING page is an EPT violation the TD did not expect: without SEPT_VE_DISABLE the TDX module injects a #VE; with
it the TD exits to KVM, whose tdx_handle_ept_violation kills the VM (kvm_vm_dead). A shared access goes
through the shared EPT to the shared backing (docs/scenario.md, `guest_read` / `guest_write`).
"""

from __future__ import annotations

from tdxsim import platform
from tdxsim.errno import EINVAL, EIO
from tdxsim.kvm.kvm_main import Kvm, Vcpu
from tdxsim.kvm.tdx import TD_STATE_RUNNABLE, TDVMCALL_STATUS, TdxMapGpa, TdxRuntime
from tdxsim.kvm.uapi import TDX_TD_ATTR_SEPT_VE_DISABLE
from tdxsim.tdx.sept import SeptState

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any

PAGE_SIZE = platform.PAGE_SIZE


class Guest:
    """The software inside the TD, driving one vCPU at a time."""

    def __init__(self, kvm: Kvm) -> None:
        self.kvm = kvm
        self.trace = kvm.trace
        self.runtime = TdxRuntime(kvm)
        self.map_gpa = TdxMapGpa(kvm)

    def _can_run(self) -> int:
        if self.kvm.vm_dead:
            return -EIO
        if self.kvm.tdx.state != TD_STATE_RUNNABLE:
            return -EINVAL  # KVM_RUN on a TD before KVM_TDX_FINALIZE_VM
        return 0

    def _private_page(self, vcpu: Vcpu, gpa: int, out: dict[str, Any]) -> int | None:
        """Make a private page accessible: its pfn, or None with `out` holding why not (exit, #VE, VM killed)."""
        tdx, module = self.kvm.tdx, self.kvm.module
        for _ in range(2):
            state = module.leaf_state(tdx.tdr_pfn, gpa)
            if state is SeptState.MAPPED:
                return module.leaf_pfn(tdx.tdr_pfn, gpa)
            pending = state in (SeptState.PENDING, SeptState.PENDING_BLOCKED)
            if pending and not tdx.attributes & TDX_TD_ATTR_SEPT_VE_DISABLE:
                # The TDX module injects a #VE into the TD itself; KVM never sees the access.
                out["exception"] = "#VE"
                return None
            # Otherwise an EPT-violation TD exit (for a PENDING page with the PENDING_EPT_VIOLATION qualification):
            # what KVM does with it is KVM's policy, in tdx_handle_ept_violation.
            ret, exit_ = self.runtime.tdx_handle_ept_violation(vcpu, gpa, private=True, pending=pending)
            if ret:
                out["ret"] = ret
                if exit_:
                    self.trace.emit("exit", "kvm", exit_["reason"], **exit_)
                return None
        out["ret"] = -EIO
        return None

    def _shared_page(self, vcpu: Vcpu, gpa: int, out: dict[str, Any]) -> int | None:
        gfn = gpa >> 12
        pfn = self.kvm.mmu.shared.get(gfn)
        if pfn is not None:
            return pfn
        ret, exit_ = self.runtime.tdx_handle_ept_violation(vcpu, gpa, private=False)
        if ret:
            out["ret"] = ret
            if exit_:
                self.trace.emit("exit", "kvm", exit_["reason"], **exit_)
            return None
        return self.kvm.mmu.shared[gfn]

    def access(self, vcpu: Vcpu, gpa: int, length: int, data: bytes | None, shared: bool) -> dict[str, Any]:
        """guest_read (data None) / guest_write of [gpa, gpa+length) through the private or the shared alias."""
        out: dict[str, Any] = {"ret": self._can_run()}
        if out["ret"]:
            return out
        shared_bit = 1 << self.kvm.tdx.shared_bit()
        shared = shared or bool(gpa & shared_bit)
        gpa &= ~shared_bit
        buf = bytearray()
        pos = 0
        while pos < length:
            cur = gpa + pos
            page = cur & ~(PAGE_SIZE - 1)
            pfn = (self._shared_page if shared else self._private_page)(vcpu, page, out)
            if pfn is None:
                return out
            keyid = 0 if shared else self.kvm.tdx.hkid
            off, n = cur - page, min(PAGE_SIZE - (cur - page), length - pos)
            if data is None:
                buf += self.kvm.mem.read(pfn, off, n, keyid=keyid)
            else:
                self.kvm.mem.write(pfn, off, data[pos : pos + n], origin=f"written by the guest at GPA {page:#x}")
            pos += n
        if data is None:
            out["data"] = bytes(buf)
        return out

    def accept(self, vcpu: Vcpu, gpa: int) -> dict[str, Any]:
        """TDG.MEM.PAGE.ACCEPT of one 4 KiB page; an EPT-violation exit lets KVM AUG the page, then it retries."""
        out: dict[str, Any] = {"ret": self._can_run()}
        if out["ret"]:
            return out
        tdx = self.kvm.tdx
        gpa &= ~(PAGE_SIZE - 1)
        for _ in range(2):
            _code, ept_violation = self.kvm.module.tdg_mem_page_accept(tdx.tdr_pfn, gpa)
            if not ept_violation:
                return out
            ret, exit_ = self.runtime.tdx_handle_ept_violation(vcpu, gpa, private=True)
            if ret:
                out["ret"] = ret
                if exit_:
                    self.trace.emit("exit", "kvm", exit_["reason"], **exit_)
                return out
        return out

    def map_gpa_start(self, gpa: int, size: int, shared: bool) -> tuple[dict[str, Any], dict | None]:
        """TDG.VP.VMCALL<MapGPA>: ask the host to make [gpa, gpa+size) shared (shared bit set) or private.
        Returns (the step's result so far, the first KVM_EXIT_HYPERCALL for the VMM or None)."""
        out: dict[str, Any] = {"ret": self._can_run()}
        if out["ret"]:
            return out, None
        if shared:
            gpa |= 1 << self.kvm.tdx.shared_bit()
        self.map_gpa.start = gpa
        status, exit_ = self.map_gpa.tdx_map_gpa(gpa, size)
        return self._map_gpa_status(out, status), exit_

    def map_gpa_continue(self, out: dict[str, Any], hypercall_ret: int) -> dict | None:
        """The VMM's reply to the last exit; the next exit, or None once the TDVMCALL has completed."""
        status, exit_ = self.map_gpa.tdx_complete_vmcall_map_gpa(hypercall_ret)
        self._map_gpa_status(out, status)
        return exit_

    def _map_gpa_status(self, out: dict[str, Any], status: str | int | None) -> dict[str, Any]:
        if isinstance(status, int):  # KVM_RUN itself failed
            out["ret"] = status
        elif status is not None:
            self.trace.tdcall("TDG.VP.VMCALL<MapGPA>", status, TDVMCALL_STATUS[status], gpa=self.map_gpa.start)
        return out
