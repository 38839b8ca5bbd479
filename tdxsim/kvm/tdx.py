"""KVM's TDX code (arch/x86/kvm/vmx/tdx.c): the TD and vCPU sub-commands of KVM_MEMORY_ENCRYPT_OP, the
KVM_TDX_INIT_MEM_REGION path and the S-EPT hooks the TDP MMU calls.

Unless a docstring says otherwise the source is arch/x86/kvm/vmx/tdx.c at kvm-x86 09c6f74ecb86, with the flavour
differences of `tdxsim.kvm.flavours`.
"""

from __future__ import annotations

from collections.abc import Callable

from tdxsim import platform
from tdxsim.errno import E2BIG, EAGAIN, EBUSY, EFAULT, EHWPOISON, EINTR, EINVAL, EIO, ENOMEM, ENOSPC, EOPNOTSUPP
from tdxsim.events import traced, untraced
from tdxsim.kvm.guest_memfd import kvm_gmem_populate
from tdxsim.kvm.uapi import KVM_TDX_MEASURE_MEMORY_REGION, TDX_TD_ATTR_SEPT_VE_DISABLE
from tdxsim.records import record
from tdxsim.tdx.mrtd import EXTEND_CHUNK
from tdxsim.tdx.status import STATUS, is_busy, status_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from tdxsim.kvm.kvm_main import Kvm, Memslot, Vcpu

PAGE_SIZE = platform.PAGE_SIZE

KVM_TDX_CAPABILITIES, KVM_TDX_INIT_VM, KVM_TDX_INIT_VCPU, KVM_TDX_INIT_MEM_REGION, KVM_TDX_FINALIZE_VM = range(5)
TD_STATE_UNINITIALIZED = "TD_STATE_UNINITIALIZED"
TD_STATE_INITIALIZED = "TD_STATE_INITIALIZED"
TD_STATE_RUNNABLE = "TD_STATE_RUNNABLE"
VCPU_TD_STATE_UNINITIALIZED = "VCPU_TD_STATE_UNINITIALIZED"
VCPU_TD_STATE_INITIALIZED = "VCPU_TD_STATE_INITIALIZED"

#: KVM_SUPPORTED_TDX_TD_ATTRS: KVM lets userspace set only SEPT_VE_DISABLE (tdx.c, tdx_get_supported_attrs).
KVM_SUPPORTED_TDX_TD_ATTRS = TDX_TD_ATTR_SEPT_VE_DISABLE
KVM_MAX_CPUID_ENTRIES = 256


@record
class KvmTdxCmd:
    """struct kvm_tdx_cmd {id, flags, data, hw_error}; KVM writes hw_error back."""

    id: int
    flags: int = 0
    data: int = 0
    hw_error: int = 0


@record
class KvmTdxInitMemRegion:
    """struct kvm_tdx_init_mem_region {source_addr, gpa, nr_pages}: in/out, advanced page by page."""

    source_addr: int
    gpa: int
    nr_pages: int


class KvmTdx:
    """struct kvm_tdx: the TD as KVM sees it."""

    def __init__(self, kvm: Kvm) -> None:
        self.kvm = kvm
        self.trace = kvm.trace
        self.module = kvm.module
        self.state = TD_STATE_UNINITIALIZED
        self.hkid = -1
        self.tdr: int | None = None
        self.tdcs_pages: list[int] = []  # kvm_tdx->td.tdcs_pages: the TDCS pages TDH.MNG.ADDCX took
        self.attributes = 0
        self.gpaw = platform.DEFAULT_GPAW
        self.page_add_src: int | None = None
        self.pre_fault_allowed = False
        untraced(self)

    @property
    def tdr_pfn(self) -> int:
        """`tdr` once TDH.MNG.CREATE has succeeded, for the SEAMCALLs on the TD (kvm_tdx->td.tdr_page)."""
        if self.tdr is None:
            raise RuntimeError("a SEAMCALL on the TD before KVM_TDX_INIT_VM created it")  # a bug in the simulator
        return self.tdr

    def is_hkid_assigned(self) -> bool:
        """is_hkid_assigned(): TDH.MNG.CREATE succeeded and the HKID was not released."""
        return self.hkid > 0

    def _set_state(self, new: str) -> None:
        self.trace.state("kvm", "td_state", old=self.state, new=new)
        self.state = new

    def shared_bit(self) -> int:
        """kvm_gfn_direct_bits as a GPA bit: 47 with GPAW 48, 51 with GPAW 52."""
        return self.gpaw - 1

    def kvm_gfn_direct_bits(self) -> int:
        """kvm->arch.gfn_direct_bits, a GFN mask: 0 until tdx_td_init sets it to TDX_SHARED_BIT_PWL_4 or _5 just
        before TD_STATE_INITIALIZED (arch/x86/kvm/vmx/tdx.c), so before KVM_TDX_INIT_VM no GFN is an alias."""
        if self.state == TD_STATE_UNINITIALIZED:
            return 0
        return 1 << (self.shared_bit() - 12)

    def vt_is_tdx_private_gpa(self, gpa: int) -> bool:
        """A GPA is private when its shared bit is clear."""
        return not gpa >> self.shared_bit() & 1

    def _bug(self, leaf: str, err: int) -> int:
        """TDX_BUG_ON / KVM_BUG_ON: a SEAMCALL status the caller did not expect bugs the VM; the caller returns -EIO.
        `__TDX_BUG_ON` tests `!!(__err)`: every non-zero status, not only those with error bit 63."""
        self.kvm.kvm_vm_bugged(f"{leaf} failed: {status_name(err)}")
        return -EIO

    # -- VM sub-commands ----------------------------------------------------------------------------------------

    def tdx_get_cmd(self, cmd: KvmTdxCmd) -> int:
        """Copy the command in; a non-zero hw_error on input is -EINVAL."""
        return -EINVAL if cmd.hw_error else 0

    @traced("kvm")
    def tdx_vm_ioctl(self, cmd: KvmTdxCmd, **args: int) -> int:
        """KVM_MEMORY_ENCRYPT_OP on the VM fd: INIT_VM and FINALIZE_VM under tdx_vm_state_guard."""
        if ret := self.tdx_get_cmd(cmd):
            return ret
        if cmd.id == KVM_TDX_INIT_VM:
            return self.tdx_td_init(cmd, **args)
        if cmd.id == KVM_TDX_FINALIZE_VM:
            return self.tdx_td_finalize(cmd)
        return -EINVAL

    @traced("kvm")
    def tdx_td_init(self, cmd: KvmTdxCmd, attributes: int, gpaw: int, nent: int) -> int:
        """KVM_TDX_INIT_VM: checks in tdx_td_init and setup_tdparams order, then __tdx_td_init's SEAMCALLs.

        `nent` is `kvm_tdx_init_vm.cpuid.nent`, which tdx_td_init reads with get_user() first: above
        KVM_MAX_CPUID_ENTRIES it is -E2BIG before anything else is copied. The entries themselves are QEMU's; the one
        modelled is CPUID 0x80000008, whose EAX[23:16] is `gpaw`: with nent 0 there is none, and
        setup_tdparams_eptp_controls returns -EINVAL. setup_tdparams' `kvm->created_vcpus` -> -EBUSY is not
        modelled: a vCPU exists only once the TD is INITIALIZED (tdx_vcpu_create), and then the first check fails.
        """
        if self.state != TD_STATE_UNINITIALIZED:
            return -EINVAL
        if cmd.flags:
            return -EINVAL
        if nent > KVM_MAX_CPUID_ENTRIES:
            return -E2BIG
        # setup_tdparams
        if attributes & ~KVM_SUPPORTED_TDX_TD_ATTRS:
            return -EINVAL
        if not nent or gpaw not in (48, 52):  # setup_tdparams_eptp_controls: no 0x80000008 entry, or its GPAW
            return -EINVAL
        return self.__tdx_td_init(cmd, attributes, gpaw)

    def tdx_guest_keyid_alloc(self) -> int:
        """The lowest free private HKID (arch/x86/virt/vmx/tdx/tdx.c, an IDA over the private KeyID range)."""
        used = {vm.tdx.hkid for vm in self.kvm.machine_vms()}
        for hkid in range(*platform.HKID_RANGE):
            if hkid not in used:
                return hkid
        return -1

    @traced("kvm")
    def __tdx_td_init(self, cmd: KvmTdxCmd, attributes: int, gpaw: int) -> int:
        """TDH.MNG.CREATE, TDH.MNG.KEY.CONFIG per package, TDH.MNG.ADDCX per TDCS page, TDH.MNG.INIT, TDH.MNG.RD.

        On a failure after TDH.MNG.CREATE the kernel tears the TD down (`teardown:`): the TDCS page that was not
        added is freed, then tdx_mmu_release_hkid and tdx_reclaim_td_control_pages.
        """
        module, mem = self.module, self.kvm.mem
        hkid = self.tdx_guest_keyid_alloc()
        if hkid < 0:
            return -ENOSPC
        tdr = mem.alloc(origin="TDR page")
        err = module.tdh_mng_create(tdr, hkid)
        if err:
            mem.free(tdr)
            return -EAGAIN if status_name(err) == "TDX_RND_NO_ENTROPY" else -EIO
        self.tdr, self.hkid = tdr, hkid
        self.gpaw, self.attributes = gpaw, attributes
        for _ in range(platform.NR_PACKAGES):
            if module.tdh_mng_key_config(tdr):
                return self._td_init_failed()
        for _ in range(platform.TDCS_PAGES):
            page = mem.alloc(origin="TDCS page")
            if err := module.tdh_mng_addcx(tdr, page):
                mem.free(page)  # "Only free pages not yet added"
                return self._td_init_failed(-EAGAIN if status_name(err) == "TDX_RND_NO_ENTROPY" else -EIO)
            self.tdcs_pages.append(page)
        err = module.tdh_mng_init(tdr, attributes, gpaw)
        if err:
            cmd.hw_error = err
            return self._td_init_failed(-EINVAL if status_name(err) == "TDX_OPERAND_INVALID" else -EIO)
        for field_name in ("TSC_OFFSET", "TSC_MULTIPLIER"):
            if module.tdh_mng_rd(tdr, field_name)[0]:
                return self._td_init_failed()
        self.kvm.mmu.root_level = 3 if gpaw == 48 else 4
        self._set_state(TD_STATE_INITIALIZED)
        return 0

    def _td_init_failed(self, ret: int = -EIO) -> int:
        """__tdx_td_init's `teardown:` label: release the HKID, then reclaim the control pages."""
        self.tdx_mmu_release_hkid()
        self.tdx_reclaim_td_control_pages()
        return ret

    @traced("kvm")
    def tdx_mmu_release_hkid(self) -> None:
        """TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB on every package, TDH.MNG.KEY.FREEID, then tdx_hkid_free
        (arch/x86/kvm/vmx/tdx.c tdx_mmu_release_hkid). A failed VPFLUSHDONE or KEY.FREEID bugs the VM and leaks the
        HKID ("HKID %d is leaked"); TDX_FLUSHVP_NOT_DONE just leaves it assigned."""
        if not self.is_hkid_assigned():
            return
        module = self.module
        err = module.tdh_mng_vpflushdone(self.tdr_pfn)
        if status_name(err) == "TDX_FLUSHVP_NOT_DONE":
            return
        if err:
            self._bug("TDH.MNG.VPFLUSHDONE", err)
            return
        for _ in range(platform.NR_PACKAGES):
            module.tdh_phymem_cache_wb()  # an error here is TDX_BUG_ON(err, ..., NULL): no VM; FREEID then fails
        err = module.tdh_mng_key_freeid(self.tdr_pfn)
        if err:
            self._bug("TDH.MNG.KEY.FREEID", err)
            return
        self.hkid = -1  # tdx_hkid_free

    @traced("kvm")
    def tdx_reclaim_td_control_pages(self) -> None:
        """Reclaim each TDCS page, then the TDR (TDH.PHYMEM.PAGE.RECLAIM, then TDH.PHYMEM.PAGE.WBINVD of the TDR
        under the global KeyID) and free them (arch/x86/kvm/vmx/tdx.c tdx_reclaim_td_control_pages). Nothing if
        the HKID could not be released; a page whose reclaim fails is leaked (tdx_reclaim_control_page)."""
        if self.is_hkid_assigned():
            return
        module, mem = self.module, self.kvm.mem
        for page in self.tdcs_pages:
            if not module.tdh_phymem_page_reclaim(page):
                mem.free(page)
        self.tdcs_pages = []
        if self.tdr is None:
            return
        if module.tdh_phymem_page_reclaim(self.tdr):
            return
        if err := module.tdh_phymem_page_wbinvd(self.tdr):
            self._bug("TDH.PHYMEM.PAGE.WBINVD", err)
            return
        mem.free(self.tdr)
        self.tdr = None

    @traced("kvm")
    def tdx_td_finalize(self, cmd: KvmTdxCmd) -> int:
        """KVM_TDX_FINALIZE_VM: TDH.MR.FINALIZE; busy -> -EBUSY, another error bugs the VM (-EIO);
        TD_STATE_RUNNABLE, then pre_fault_allowed."""
        if not self.is_hkid_assigned() or self.state == TD_STATE_RUNNABLE:
            return -EINVAL
        err = self.module.tdh_mr_finalize(self.tdr_pfn)
        cmd.hw_error = err
        if is_busy(err):
            return -EBUSY
        if err:
            return self._bug("TDH.MR.FINALIZE", err)
        self._set_state(TD_STATE_RUNNABLE)
        self.pre_fault_allowed = True
        return 0

    # -- vCPU sub-commands --------------------------------------------------------------------------------------

    @traced("kvm")
    def tdx_vcpu_create(self, vcpu: Vcpu) -> int:
        """KVM_CREATE_VCPU's TDX part: the TD must be INITIALIZED, else -EIO (the split IRQ chip is given)."""
        if self.state != TD_STATE_INITIALIZED:
            return -EIO
        return 0

    @traced("kvm")
    def tdx_vcpu_unlocked_ioctl(self, vcpu: Vcpu, cmd: KvmTdxCmd, region: KvmTdxInitMemRegion | None = None) -> int:
        """KVM_MEMORY_ENCRYPT_OP on a vCPU fd: tdx_get_cmd, the VM state guard, then INIT_VCPU or INIT_MEM_REGION."""
        if ret := self.tdx_get_cmd(cmd):
            return ret
        if not self.is_hkid_assigned() or self.state == TD_STATE_RUNNABLE:
            return -EINVAL
        if cmd.id == KVM_TDX_INIT_MEM_REGION:
            if region is None:
                raise RuntimeError("simulator invariant broken: the VMM passes the struct with this command")
            return self.tdx_vcpu_init_mem_region(vcpu, cmd, region)
        if cmd.id == KVM_TDX_INIT_VCPU:
            return self.tdx_vcpu_init(vcpu, cmd)
        return -EINVAL

    @traced("kvm")
    def tdx_vcpu_init(self, vcpu: Vcpu, cmd: KvmTdxCmd) -> int:
        """KVM_TDX_INIT_VCPU: flags must be 0 and the vCPU not yet initialised; then tdx_td_vcpu_init and the
        posted-interrupt set-up in the TD VMCS (three TDH.VP.WR)."""
        if cmd.flags:
            return -EINVAL
        if vcpu.tdx_state != VCPU_TD_STATE_UNINITIALIZED:
            return -EINVAL
        if ret := self.tdx_td_vcpu_init(vcpu, cmd.data):
            return ret
        if vcpu.tdvpr is None:
            raise RuntimeError("simulator invariant broken: tdx_td_vcpu_init set it")
        for field_name in ("POSTED_INTR_NV", "POSTED_INTR_DESC_ADDR", "PIN_BASED_VM_EXEC_CONTROL"):
            if err := self.module.tdh_vp_wr(vcpu.tdvpr, field_name, 0):
                return self._bug("TDH.VP.WR", err)
        self.trace.state("kvm", "vcpu_state", vcpu=vcpu.id, old=vcpu.tdx_state, new=VCPU_TD_STATE_INITIALIZED)
        vcpu.tdx_state = VCPU_TD_STATE_INITIALIZED
        return 0

    @traced("kvm")
    def tdx_td_vcpu_init(self, vcpu: Vcpu, rcx: int) -> int:
        """TDH.VP.CREATE, TDH.VP.ADDCX per TDCX page, TDH.VP.INIT with RCX (QEMU: the TD HOB's GPA)."""
        mem, module = self.kvm.mem, self.module
        tdvpr = mem.alloc(origin="TDVPR page")
        if err := module.tdh_vp_create(self.tdr_pfn, tdvpr):
            mem.free(tdvpr)
            return self._bug("TDH.VP.CREATE", err)
        vcpu.tdvpr = tdvpr
        for _ in range(platform.TDVPX_PAGES):
            page = mem.alloc(origin="TDCX page")
            if err := module.tdh_vp_addcx(tdvpr, page):
                mem.free(page)
                return self._bug("TDH.VP.ADDCX", err)
        if err := module.tdh_vp_init(tdvpr, rcx):
            return self._bug("TDH.VP.INIT", err)
        return 0

    # -- KVM_TDX_INIT_MEM_REGION --------------------------------------------------------------------------------

    @traced("kvm")
    def tdx_vcpu_init_mem_region(self, vcpu: Vcpu, cmd: KvmTdxCmd, region: KvmTdxInitMemRegion) -> int:
        """KVM_TDX_INIT_MEM_REGION: validate (tdx_vcpu_init_mem_region's checks), then one kvm_gmem_populate per page;
        the region is written back whatever the result, pointing at the first page not done (tdx.c
        tdx_vcpu_init_mem_region). A zero source_addr is -EINVAL in the validation on kvm-x86 09c6f74e, and on v13
        when gmem_in_place_conversion is off (`(!gmem_in_place_conversion && !region.source_addr)`, sean-jc/linux
        07f26358)."""
        if vcpu.tdx_state != VCPU_TD_STATE_INITIALIZED:
            return -EINVAL
        if self.state == TD_STATE_RUNNABLE:
            return -EINVAL  # "Once TD is finalized, the initial guest memory is fixed"
        if cmd.flags & ~KVM_TDX_MEASURE_MEMORY_REGION:
            return -EINVAL
        end = region.gpa + (region.nr_pages << 12)
        flavour = self.kvm.flavour
        if (
            region.source_addr % PAGE_SIZE
            or (flavour.null_source_einval and not region.source_addr)
            or (flavour.null_source_needs_in_place and not self.kvm.in_place and not region.source_addr)
            or region.gpa % PAGE_SIZE
            or not region.nr_pages
            or end <= region.gpa
            or not self.vt_is_tdx_private_gpa(region.gpa)
            or not self.vt_is_tdx_private_gpa(end - 1)
        ):
            return -EINVAL
        ret = 0
        page = 0
        while region.nr_pages:
            if self.kvm.signal_pending(page):
                ret = -EINTR
                break
            gmem_ret = kvm_gmem_populate(
                self.kvm, region.gpa >> 12, region.source_addr, self.tdx_gmem_post_populate, (vcpu, cmd.flags)
            )
            if gmem_ret < 0:
                ret = gmem_ret
                break
            if gmem_ret != 1:
                ret = -EIO
                break
            # v8 23/46 and v13 advance a NULL source no further; before them, source_addr always moves on.
            if region.source_addr or not flavour.has_in_place:
                region.source_addr += PAGE_SIZE
            region.gpa += PAGE_SIZE
            region.nr_pages -= 1
            page += 1
        self.trace.annotate(region={"source_addr": region.source_addr, "gpa": region.gpa, "nr_pages": region.nr_pages})
        return ret

    @traced("kvm")
    def tdx_gmem_post_populate(self, gfn: int, pfn: int, src: int | None, arg: tuple[Vcpu, int]) -> int:
        """Map the page into the S-EPT with TDH.MEM.PAGE.ADD from the source page, then, with MEASURE, extend MRTD
        with 16 TDH.MR.EXTEND (TDX_EXTENDMR_CHUNKSIZE = 256); an EXTEND failure bugs the VM.

        `src` is the source page (since 2a62345b3052; None for source_addr 0) or, before it, the user address this
        function GUPs itself. With v8 and gmem_in_place_conversion, no source means "use the target page"
        (20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com); on v13 always, the caller having
        refused a zero source_addr without in-place conversion.
        """
        _vcpu, flags = arg
        kvm, flavour = self.kvm, self.kvm.flavour
        if self.page_add_src is not None:
            return self._bug("re-entrant tdx_gmem_post_populate", STATUS["TDX_OPERAND_INVALID"])
        if not flavour.gup_in_populate:
            if src is None:
                raise RuntimeError("simulator invariant broken: before 2a62345b3052 `src` is the user address")
            ret, src = kvm.mm.get_user_pages_fast(src)
            if ret < 0:
                return ret
            if ret != 1:
                return -ENOMEM
        elif src is None:
            # v13: `src_page ?: pfn_to_page(pfn)` (sean-jc/linux 07f26358); v8 23/46: only with in-place on.
            if not (flavour.null_source_needs_in_place or (flavour.has_in_place and kvm.in_place)):
                return -EOPNOTSUPP
            src = pfn
        self.page_add_src = src
        ret = kvm.mmu.kvm_tdp_mmu_map_private_pfn(gfn, pfn)
        self.page_add_src = None
        if ret or not flags & KVM_TDX_MEASURE_MEMORY_REGION:
            return ret
        gpa, tdr, tdh_mr_extend = gfn << 12, self.tdr_pfn, self.module.tdh_mr_extend
        for offset in range(0, PAGE_SIZE, EXTEND_CHUNK):
            if err := tdh_mr_extend(tdr, gpa + offset):
                return self._bug("TDH.MR.EXTEND", err)
        return 0

    @traced("kvm")
    def tdx_extend_memory(self, gpa: int, nr_pages: int) -> int:
        """KVM_TDX_EXTEND_MEMORY of the KVM TDX v19 series (Isaku Yamahata, 2024; never merged): 16 TDH.MR.EXTEND
        per already-added page. Older stacks measured a section this way after adding all of it (two-pass);
        only the firmware loader's two-pass order uses it, no kernel flavour of the scenario format has it."""
        if not self.is_hkid_assigned() or self.state != TD_STATE_INITIALIZED:
            return -EINVAL
        if gpa % PAGE_SIZE or not nr_pages:
            return -EINVAL
        tdr, tdh_mr_extend = self.tdr_pfn, self.module.tdh_mr_extend
        for page_gpa in range(gpa, gpa + nr_pages * PAGE_SIZE, PAGE_SIZE):
            for offset in range(0, PAGE_SIZE, EXTEND_CHUNK):
                if err := tdh_mr_extend(tdr, page_gpa + offset):
                    return self._bug("TDH.MR.EXTEND", err)
        return 0

    # -- S-EPT hooks (kvm_x86_ops.set_external_spte) ------------------------------------------------------------

    def tdx_sept_set_private_spte(self, gfn: int, level: int, old_pfn: int | None, new_pfn: int | None) -> int:
        """The TDP MMU changed a mirror SPTE: link a table, map a leaf, or remove a leaf in the S-EPT."""
        if old_pfn is None:
            if new_pfn is None:
                raise RuntimeError("simulator invariant broken: non-present -> present: a new table or a new leaf")
            if level:
                return self.tdx_sept_map_nonleaf_spte(gfn, level, new_pfn)
            return self.tdx_sept_map_leaf_spte(gfn, level, new_pfn)
        return self.tdx_sept_remove_leaf_spte(gfn, level, old_pfn)

    @traced("kvm")
    def tdx_sept_map_nonleaf_spte(self, gfn: int, level: int, page: int) -> int:
        """TDH.MEM.SEPT.ADD for a missing S-EPT table; busy -> -EBUSY (the TDP MMU retries), else -EIO + bug."""
        err = self.module.tdh_mem_sept_add(self.tdr_pfn, gfn << 12, level, page)
        if is_busy(err):
            return -EBUSY
        if err:
            return self._bug("TDH.MEM.SEPT.ADD", err)
        return 0

    @traced("kvm")
    def tdx_sept_map_leaf_spte(self, gfn: int, level: int, pfn: int) -> int:
        """A 4 KiB leaf: TDH.MEM.PAGE.ADD before finalize, TDH.MEM.PAGE.AUG after."""
        if level:
            return self._bug("huge leaf", STATUS["TDX_OPERAND_INVALID"])
        if self.state != TD_STATE_RUNNABLE:
            return self.tdx_mem_page_add(gfn, pfn)
        return self.tdx_mem_page_aug(gfn, pfn)

    @traced("kvm")
    def tdx_mem_page_add(self, gfn: int, pfn: int) -> int:
        """TDH.MEM.PAGE.ADD(gpa, target pfn, kvm_tdx->page_add_src); busy -> -EBUSY, another error bugs the VM."""
        if self.pre_fault_allowed or self.page_add_src is None:
            return self._bug("tdx_mem_page_add without a source", STATUS["TDX_OPERAND_INVALID"])
        err = self.module.tdh_mem_page_add(self.tdr_pfn, gfn << 12, pfn, self.page_add_src)
        if is_busy(err):
            return -EBUSY
        if err:
            return self._bug("TDH.MEM.PAGE.ADD", err)
        return 0

    @traced("kvm")
    def tdx_mem_page_aug(self, gfn: int, pfn: int) -> int:
        """TDH.MEM.PAGE.AUG: the page arrives PENDING, for the guest to accept."""
        err = self.module.tdh_mem_page_aug(self.tdr_pfn, gfn << 12, pfn)
        if is_busy(err):
            return -EBUSY
        if err:
            return self._bug("TDH.MEM.PAGE.AUG", err)
        return 0

    def _tdh_do_no_vcpus(self, call: Callable[..., int], *args: object) -> int:
        """tdh_do_no_vcpus: on busy, kick every vCPU out of the guest and try once more."""
        err = call(*args)
        if is_busy(err):
            err = call(*args)
        return err

    @traced("kvm")
    def tdx_sept_remove_leaf_spte(self, gfn: int, level: int, pfn: int) -> int:
        """Remove a private page: TDH.MEM.RANGE.BLOCK, tdx_track, TDH.MEM.PAGE.REMOVE, TDH.PHYMEM.PAGE.WBINVD,
        tdx_quirk_reset_paddr (a no-op on parts without X86_BUG_TDX_PW_MCE, as the simulated one). Any non-zero
        status bugs the VM, a success-class one such as TDX_GPA_RANGE_ALREADY_BLOCKED included: `TDX_BUG_ON_2` is
        `__TDX_BUG_ON`, whose test is `!!(__err)` (tdx.c in kvm-x86 09c6f74e and sean-jc/linux 07f26358)."""
        module, gpa = self.module, gfn << 12
        err = self._tdh_do_no_vcpus(module.tdh_mem_range_block, self.tdr, gpa, level)
        if err:
            return self._bug("TDH.MEM.RANGE.BLOCK", err)
        self.tdx_track()
        err = self._tdh_do_no_vcpus(module.tdh_mem_page_remove, self.tdr, gpa)
        if err:
            return self._bug("TDH.MEM.PAGE.REMOVE", err)
        if err := module.tdh_phymem_page_wbinvd(pfn):
            return self._bug("TDH.PHYMEM.PAGE.WBINVD", err)
        return 0

    @traced("kvm")
    def tdx_track(self) -> None:
        """TDH.MEM.TRACK and a kick of every vCPU; returns early unless the TD is RUNNABLE."""
        if self.state != TD_STATE_RUNNABLE:
            return
        if err := self._tdh_do_no_vcpus(self.module.tdh_mem_track, self.tdr):
            self._bug("TDH.MEM.TRACK", err)


class TdxRuntime:
    """The TD's run-time memory faults as KVM handles them (tdx_handle_ept_violation -> kvm_mmu_page_fault ->
    kvm_tdp_page_fault), for the guest steps of a scenario."""

    def __init__(self, kvm: Kvm) -> None:
        self.kvm = kvm
        self.trace = kvm.trace

    @traced("kvm")
    def tdx_handle_ept_violation(
        self, vcpu: Vcpu, gpa: int, private: bool, pending: bool = False
    ) -> tuple[int, dict | None]:
        """Fault `gpa` in: (0, None) once mapped, or (-EFAULT, KVM_EXIT_MEMORY_FAULT exit) when the access does not
        match the page's attribute or no memslot backs it (kvm_faultin_pfn -> kvm_mmu_prepare_memory_fault_exit).

        `pending`: the TD exit's extended exit qualification is TDX_EXT_EXIT_QUAL_TYPE_PENDING_EPT_VIOLATION (the
        TDX module exits instead of injecting a #VE when the TD has SEPT_VE_DISABLE). KVM's policy
        (arch/x86/kvm/vmx/tdx.c tdx_handle_ept_violation): a guest access before accepting the page is a guest bug
        it cannot recover from, so it kills the VM (kvm_vm_dead) and returns -EIO."""
        kvm = self.kvm
        if private and pending:
            self.tdx_is_sept_violation_unexpected_pending(gpa)
            return -EIO, None
        gfn = gpa >> 12
        slot = kvm.gfn_to_memslot(gfn)
        if slot is None or private != kvm.kvm_mem_is_private(gfn) or (private and slot.gmem is None):
            exit_ = {
                "reason": "KVM_EXIT_MEMORY_FAULT",
                "gpa": gfn << 12,
                "size": PAGE_SIZE,
                "flags": ["KVM_MEMORY_EXIT_FLAG_PRIVATE"] if private else [],
            }
            return -EFAULT, exit_
        if private:
            ret, pfn = self.kvm_gmem_get_pfn(slot, gfn)
            if ret:
                return ret, None
            if pfn is None:
                raise RuntimeError("simulator invariant broken: ret 0: the folio's pfn")
            while kvm.mmu.kvm_tdp_mmu_map(gfn, pfn, prefetch=False) == "RET_PF_RETRY":
                if kvm.vm_dead:
                    return -EIO, None
            return 0, None
        if slot.gmem_only:
            ret, pfn = self.kvm_gmem_get_pfn(slot, gfn)
            if ret:
                return ret, None
        else:
            ret, pfn = kvm.mm.get_user_pages_fast(slot.userspace_addr + (gfn - slot.base_gfn) * PAGE_SIZE)
            if ret < 0:
                return ret, None
        if pfn is None:
            raise RuntimeError("simulator invariant broken: ret 0 or 1: the page's pfn")
        kvm.mmu.map_shared(gfn, pfn)
        return 0, None

    @traced("kvm")
    def tdx_is_sept_violation_unexpected_pending(self, gpa: int) -> None:
        """An access to a PENDING page with SEPT_VE_DISABLE: KVM kills the VM (kvm_vm_dead)."""
        self.kvm.kvm_vm_bugged(f"guest touched PENDING private page {gpa:#x} with SEPT_VE_DISABLE")

    @traced("kvm")
    def kvm_gmem_get_pfn(self, slot: Memslot, gfn: int) -> tuple[int, int | None]:
        """The fault path's folio lookup: zeroes a folio that is not up to date (kvm_gmem_get_pfn upstream)."""
        gmem = slot.gmem
        if gmem is None:
            raise RuntimeError("simulator invariant broken: the fault path asks only for guest_memfd slots")
        index = gmem.index_of(slot, gfn)
        if index in gmem.poisoned:
            return -EHWPOISON, None
        pfn = gmem.kvm_gmem_get_folio(index)
        if index not in gmem.uptodate:
            self.kvm.mem.clear(pfn, origin="zeroed by kvm_gmem_get_pfn")
            gmem.uptodate.add(index)
        return 0, pfn


#: TDG.VP.VMCALL status codes (arch/x86/include/asm/shared/tdx.h).
TDVMCALL_STATUS = {
    "TDVMCALL_STATUS_SUCCESS": 0x0,
    "TDVMCALL_STATUS_RETRY": 0x1,
    "TDVMCALL_STATUS_INVALID_OPERAND": 0x8000000000000000,
    "TDVMCALL_STATUS_ALIGN_ERROR": 0x8000000000000002,
    "TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED": 0x8000000000000003,
}
TDX_MAP_GPA_MAX_LEN = 2 << 20
KVM_HC_MAP_GPA_RANGE = 12
KVM_MAP_GPA_RANGE_ENCRYPTED = 1 << 4
KVM_MAP_GPA_RANGE_DECRYPTED = 0 << 4


class TdxMapGpa:
    """TDG.VP.VMCALL<MapGPA> as KVM handles it (tdx_map_gpa, __tdx_map_gpa, tdx_complete_vmcall_map_gpa): the range
    goes to userspace as KVM_EXIT_HYPERCALL(KVM_HC_MAP_GPA_RANGE) exits of at most TDX_MAP_GPA_MAX_LEN each.
    Interrupts pending between chunks (which end the call with RETRY) are not modelled."""

    def __init__(self, kvm: Kvm) -> None:
        self.kvm = kvm
        self.trace = kvm.trace
        self.start = self.next = self.end = 0

    @traced("kvm")
    def tdx_map_gpa(self, gpa: int, size: int) -> tuple[str | None, dict | None]:
        """Validate the guest's range; (status, None) when the call ends here, else (None, the first exit)."""
        tdx = self.kvm.tdx
        shared_bit = 1 << tdx.shared_bit()
        legal = 1 << tdx.gpaw
        if (
            gpa + size <= gpa
            or gpa >= legal
            or gpa + size - 1 >= legal
            or bool(gpa & shared_bit) != bool((gpa + size - 1) & shared_bit)
        ):
            return "TDVMCALL_STATUS_INVALID_OPERAND", None
        if gpa % PAGE_SIZE or size % PAGE_SIZE:
            return "TDVMCALL_STATUS_ALIGN_ERROR", None
        self.start = self.next = gpa
        self.end = gpa + size
        return None, self.__tdx_map_gpa()

    def __tdx_map_gpa(self) -> dict:
        """The next chunk as a KVM_EXIT_HYPERCALL: args = {GPA without the shared bit, pages, direction}."""
        shared_bit = 1 << self.kvm.tdx.shared_bit()
        size = min(self.end - self.next, TDX_MAP_GPA_MAX_LEN)
        to_shared = bool(self.next & shared_bit)
        exit_ = {
            "reason": "KVM_EXIT_HYPERCALL",
            "nr": "KVM_HC_MAP_GPA_RANGE",
            "gpa": self.next & ~shared_bit,
            "npages": size // PAGE_SIZE,
            "attributes": "KVM_MAP_GPA_RANGE_DECRYPTED" if to_shared else "KVM_MAP_GPA_RANGE_ENCRYPTED",
        }
        self.trace.emit("exit", "kvm", "KVM_EXIT_HYPERCALL", **exit_)
        return exit_

    @traced("kvm")
    def tdx_complete_vmcall_map_gpa(self, hypercall_ret: int) -> tuple[str | int | None, dict | None]:
        """Userspace answered: 0 moves on to the next chunk (or ends with SUCCESS); EAGAIN -> RETRY and EINVAL ->
        INVALID_OPERAND (R11 = the next GPA); with the Feb 2026 change any other value fails KVM_RUN with -EINVAL,
        before it any non-zero value is INVALID_OPERAND."""
        if hypercall_ret:
            if not self.kvm.flavour.map_gpa_ret_eagain:
                return "TDVMCALL_STATUS_INVALID_OPERAND", None
            if hypercall_ret == EAGAIN:
                return "TDVMCALL_STATUS_RETRY", None
            if hypercall_ret == EINVAL:
                return "TDVMCALL_STATUS_INVALID_OPERAND", None
            return -EINVAL, None
        self.next += min(self.end - self.next, TDX_MAP_GPA_MAX_LEN)
        if self.next >= self.end:
            return "TDVMCALL_STATUS_SUCCESS", None
        return None, self.__tdx_map_gpa()
