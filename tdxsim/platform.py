"""The simulated platform's constants, in one place; `describe()` is reported as `final.platform`.

These are the project's choices (the contract, docs/scenario.md, leaves them to us); each says what real value it stands
for.
"""

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
#: The shift of one S-EPT level (512 entries per page): a level-L entry maps 1 << (PAGE_SHIFT + L * LEVEL_SHIFT) bytes.
LEVEL_SHIFT = 9

#: The default user address the mmap allocator starts from (docs/scenario.md, Conventions); the chapters map the
#: memslot's userspace side (the guest_memfd, or anonymous memory) here.
MMAP_BASE = 0x7F0000000000
#: Where the chapters put a separate KVM_TDX_INIT_MEM_REGION source buffer (256 GiB above MMAP_BASE, far from it).
SOURCE_BUFFER_VA = 0x7F4000000000

#: Physical memory the page allocator hands out. Frames are recorded only once allocated, so a large
#: value costs nothing; 1 TiB leaves room for a 64 GiB guest backed twice (out-of-place model).
PHYS_MEM_SIZE = 1 << 40
#: The allocator hands out the lowest free frame at or above this address (the first 1 MiB stays unused, as on a PC).
PHYS_ALLOC_START = 1 << 20

#: Physical address width including the KeyID bits (MK-TME takes the top bits of the physical address): HKIDs
#: 0-63 live in bits [KEYID_SHIFT, MAX_PA). The TDX module refuses any HPA operand with a bit at or above MAX_PA.
MAX_PA = 46
KEYID_SHIFT = 40
#: SEAMRR, the range holding the TDX module: the top 64 MiB of simulated RAM, never handed out by the allocator.
SEAMRR_SIZE = 1 << 26
SEAMRR_BASE = PHYS_MEM_SIZE - SEAMRR_SIZE

#: CPU packages: TDH.MNG.KEY.CONFIG runs once per package (tdx_td_init, arch/x86/kvm/vmx/tdx.c).
NR_PACKAGES = 1
#: Private KeyIDs are [16, 64), the example range of Documentation/arch/x86/tdx.rst. The kernel keeps the first as
#: the TDX module's global private KeyID (tdx_global_keyid, which encrypts TDRs) and hands the rest to TDs
#: (tdx_guest_keyid_alloc in arch/x86/virt/vmx/tdx/tdx.c); KVM takes the lowest free one.
TDX_GLOBAL_KEYID = 16
HKID_RANGE = (17, 64)
#: TDCS pages added with TDH.MNG.ADDCX: tdcs_base_size / PAGE_SIZE = MIN_NUM_TDCS_PAGES, 6 in TDX module 1.5
#: (one of them is the S-EPT root, TDCS page index SEPT_ROOT = 3; intel/tdx-module tdh_sys_info.c).
TDCS_PAGES = 6
#: TDCX pages per vCPU added with TDH.VP.ADDCX: tdvps_base_size / PAGE_SIZE - 1 = MIN_TDVPS_PAGES - 1
#: (KVM's tdcx_nr_pages in arch/x86/kvm/vmx/tdx.c).
TDVPX_PAGES = 5
#: The host's physical address width as KVM sees it (kvm_host.maxphyaddr, boot_cpu_data.x86_phys_bits): with TDP,
#: kvm_mmu_max_gfn() is 2^(MAXPHYADDR - 12) - 1 (arch/x86/kvm/mmu.h); 52 stands for a host with 5-level EPT.
HOST_MAXPHYADDR = 52
#: CPUID.0x80000008.EAX[23:16]: the guest physical address width KVM passes to TDH.MNG.INIT by default.
DEFAULT_GPAW = 48
#: TSC offset and multiplier read back with TDH.MNG.RD after TDH.MNG.INIT (arbitrary, fixed for determinism).
TSC_OFFSET = 0
TSC_MULTIPLIER = 1 << 48


def pa_with_keyid(pfn: int, keyid: int) -> int:
    """A pfn with HKID bits set, as software names a page through a KeyID (the HKID sits in the address)."""
    return pfn | keyid << (KEYID_SHIFT - PAGE_SHIFT)


def split_keyid(pa_pfn: int) -> tuple[int, int]:
    """(pfn, HKID) of a pfn that may carry HKID bits."""
    shift = KEYID_SHIFT - PAGE_SHIFT
    return pa_pfn & ((1 << shift) - 1), pa_pfn >> shift


def describe() -> dict:
    """The platform as reported in a scenario's `final.platform`."""
    return {
        "phys_mem_size": PHYS_MEM_SIZE,
        "phys_alloc_start": hex(PHYS_ALLOC_START),
        "page_allocator": "lowest free 4 KiB frame first (order-0 pages only)",
        "packages": NR_PACKAGES,
        "global_private_keyid": TDX_GLOBAL_KEYID,
        "hkid_range": list(HKID_RANGE),
        "tdcs_pages": TDCS_PAGES,
        "tdvpx_pages": TDVPX_PAGES,
        "default_gpaw": DEFAULT_GPAW,
    }
