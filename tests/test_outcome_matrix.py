"""The build path of KVM_TDX_INIT_MEM_REGION as an outcome matrix: rows 1-37, one test (or more) per row.

Expected values come from the kernel sources and mails each row names, never from running tdxsim. File names without a
tree are: tdx.c = arch/x86/kvm/vmx/tdx.c at kvm-x86 09c6f74ecb86 (tdx.c@3829d81b6958 is the older torvalds/linux
version, about v6.16); guest_memfd.c = virt/kvm/guest_memfd.c at kvm-x86 5e38e1bd4e7b; mmu.c and tdp_mmu.c =
arch/x86/kvm/mmu/ at kvm-x86 09c6f74ecb86; intel-tdx.rst = Documentation/virt/kvm/x86/intel-tdx.rst. "v8 NN/46" is patch
NN of the guest_memfd in-place conversion series v8 (cover letter
20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com). Unless a row says otherwise the setting is: TD
INITIALIZED, vCPU 0 initialised, a guest_memfd memslot covering the GPA, nr_pages = 1. Rows 26 and 30 cannot be
expressed in the scenario contract; row 34 (private -> shared after ADD) is in tests/test_runtime.py.
"""

import pytest
from scenario_helpers import (
    GMEM_VA,
    MEASURE,
    PAGE,
    PRIVATE,
    SHARED_BIT,
    SRC_VA,
    MiB,
    assert_errno,
    assert_no_add,
    assert_ok,
    assert_page_added,
    assert_region_not_written,
    calls,
    finalize,
    guest_read,
    init_mem_region,
    leaves,
    mmap_anon,
    mrtd,
    read,
    region,
    run,
    set_attributes2,
    set_private,
    source_buffer,
    step,
    td_setup,
    tdx_error,
    write,
)

DATA = bytes(range(256)) * 16
DATA2 = bytes(255 - (i % 256) for i in range(PAGE))
EMPTY_MRTD = mrtd([])  # SHA-384 of nothing: tests/data/mrtd-vectors.json vector 1

# (kernel, gmem_in_place_conversion, memory model)
IN_PLACE = ("v8", True, "in-place")
OUT_OF_PLACE = ("v8", False, "out-of-place")
MODELS = [pytest.param(*IN_PLACE, id="v8-in-place"), pytest.param(*OUT_OF_PLACE, id="v8-out-of-place")]
ALL_FLAVOURS = MODELS + [
    pytest.param("kvm-x86-2026-06", False, "out-of-place", id="kvm-x86-2026-06"),
    pytest.param("2a62345b3052", False, "out-of-place", id="2a62345b3052"),
    pytest.param("pre-2a62345b3052", False, "out-of-place", id="pre-2a62345b3052"),
]


def ready(model: str, pages: int = 1, kernel: str = "v8", in_place: bool | None = None, **kw) -> list[dict]:
    """A TD with the first `pages` pages of slot 0 private in the given model (the default setting of the module
    docstring)."""
    steps = td_setup(kernel, in_place, model, **kw)
    if model == "in-place":
        steps.append(set_private(model, 0, pages * PAGE))
    return steps


def ready_with_source(model, data=DATA, pages=1, kernel="v8", in_place=None):
    return ready(model, pages, kernel, in_place) + source_buffer(data, pages=pages)


def final(out: dict) -> dict:
    return out["final"]


# -- rows 1-2: the normal add ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel,in_place,model", ALL_FLAVOURS)
def test_row01_normal_measured_add(kernel, in_place, model):
    """Row 1 (tdx.c tdx_gmem_post_populate, guest_memfd.c kvm_gmem_populate): src≠0 aligned and mapped, page private,
    MEASURE → 0. SEPT.ADD for each missing level (contract example: 3, 2, 1 at gpaw 48), PAGE.ADD, 16× MR.EXTEND at gpa
    + i·256 (TDX_EXTENDMR_CHUNKSIZE). Region written back as {src+4K, gpa+4K, 0} (tdx_vcpu_init_mem_region advances and
    copies back). A real source page is copied in every flavour. MRTD = SHA-384 of ADD record + 16 (EXTEND record + 256
    bytes) (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, tdh_mr_extend.c).
    """
    steps = ready_with_source(model, kernel=kernel, in_place=in_place) + [
        init_mem_region(0, SRC_VA, label="add"),
        finalize(label="fin"),
        guest_read(0, PAGE, label="read"),
    ]
    out = run(steps, kernel, in_place)
    st = step(out, "add")
    assert_ok(st)
    assert leaves(st) == ["TDH.MEM.SEPT.ADD"] * 3 + ["TDH.MEM.PAGE.ADD"] + ["TDH.MR.EXTEND"] * 16
    assert [c["level"] for c in calls(st, "TDH.MEM.SEPT.ADD")] == [3, 2, 1]
    assert_page_added(st, 0, measured=True)
    assert st["region"] == region(SRC_VA + PAGE, PAGE, 0)
    assert_ok(step(out, "fin"))
    assert leaves(step(out, "fin")) == ["TDH.MR.FINALIZE"]
    assert final(out)["sept"] == {"0x0": "MAPPED"}
    assert final(out)["td_state"] == "TD_STATE_RUNNABLE"
    assert final(out)["vm_dead"] is False
    assert final(out)["mrtd"] == mrtd([(0, DATA)])
    assert step(out, "read")["data"] == DATA.hex()  # PAGE.ADD copied the source into the target


@pytest.mark.parametrize("kernel,in_place,model", MODELS)
@pytest.mark.parametrize("gpa", [PAGE, 2 * MiB - PAGE, 0x12345000 % (2 * MiB)], ids=hex)
def test_row01_first_add_at_a_nonzero_gpa(kernel, in_place, model, gpa):
    """Row 1 at a GPA other than 0, as the first add of a fresh TD (QEMU's TDVF sections sit at 0x800000 and up:
    Debian's OVMF.fd, see tests/test_firmware.py). The S-EPT tables are built on the way (TDH.MEM.SEPT.ADD for each
    missing level, tdx.c tdx_sept_map_nonleaf_spte; the KVM TDP MMU hands each table level-aligned, its iter->gfn) and
    the page is ADDed and measured at its own GPA.
    """
    offset = gpa  # slot 0 starts at GPA 0
    steps = td_setup(model=model, in_place=in_place)
    if model == "in-place":
        steps.append(set_private(model, offset))
    steps += source_buffer(DATA) + [init_mem_region(gpa, SRC_VA, label="add"), finalize()]
    out = run(steps, kernel, in_place)
    st = step(out, "add")
    assert_ok(st)
    assert [c["level"] for c in calls(st, "TDH.MEM.SEPT.ADD")] == [3, 2, 1]
    assert all(c["status"] == "TDX_SUCCESS" for c in st["seamcalls"])
    assert_page_added(st, gpa, measured=True)
    assert st["region"] == region(SRC_VA + PAGE, gpa + PAGE, 0)
    assert final(out)["sept"] == {hex(gpa): "MAPPED"}
    assert final(out)["vm_dead"] is False
    assert final(out)["mrtd"] == mrtd([(gpa, DATA)])


@pytest.mark.parametrize("kernel,in_place,model", MODELS)
def test_row02_add_without_measure(kernel, in_place, model):
    """Row 2 (tdx.c): no MEASURE → PAGE.ADD only, no MR.EXTEND; MRTD holds only the ADD record (tdh_mem_page_add.c
    extends the GPA only). The page is still present with the source's bytes.
    """
    steps = ready_with_source(model) + [
        init_mem_region(0, SRC_VA, measure=False, label="add"),
        finalize(),
        guest_read(0, PAGE, label="read"),
    ]
    out = run(steps, kernel, in_place)
    st = step(out, "add")
    assert_ok(st)
    assert_page_added(st, 0, measured=False)
    assert leaves(st, "TDH.MR.EXTEND") == []
    assert st["region"] == region(SRC_VA + PAGE, PAGE, 0)
    assert final(out)["mrtd"] == mrtd([(0, None)])
    assert step(out, "read")["data"] == DATA.hex()


# -- rows 3-10: up-front validation (tdx_vcpu_init_mem_region) ---------------------------------------------------


def _rejected_up_front(out: dict, st: dict, src: int, gpa: int, nr: int) -> None:
    """-EINVAL before any gmem work: no SEAMCALL, no S-EPT leaf, struct not written back (returns before the copy)."""
    assert_errno(st, "EINVAL")
    assert st["seamcalls"] == []
    assert final(out)["sept"] == {}
    assert final(out)["vm_dead"] is False
    assert_region_not_written(st, src, gpa, nr)


@pytest.mark.parametrize("flags", [2, 3, 1 << 63], ids=["bit1", "bit0+bit1", "bit63"])
def test_row03_unknown_flag_bits(flags):
    """Row 3 (tdx.c tdx_vcpu_init_mem_region): cmd->flags & ~KVM_TDX_MEASURE_MEMORY_REGION → -EINVAL. Bit 1 is Yan's
    proposed KVM_TDX_IN_PLACE_COPY_INITIAL_MEMORY_REGION, which Sean rejected (never merged).
    """
    out = run(ready_with_source("in-place") + [init_mem_region(0, SRC_VA, flags=flags, label="add")])
    _rejected_up_front(out, step(out, "add"), SRC_VA, 0, 1)


@pytest.mark.parametrize("offset", [0x10, 0x800, PAGE - 1])
def test_row04_source_not_page_aligned(offset):
    """Row 4 (tdx.c tdx_vcpu_init_mem_region; 189fd1b059a9 "@source_addr must be PAGE_SIZE-aligned") → -EINVAL."""
    out = run(ready_with_source("in-place") + [init_mem_region(0, SRC_VA + offset, label="add")])
    _rejected_up_front(out, step(out, "add"), SRC_VA + offset, 0, 1)


@pytest.mark.parametrize(
    "gpa,nr_pages",
    [(0x800, 1), (0x10, 1), (0, 0), (PAGE, 1 << 52)],
    ids=["gpa-unaligned", "gpa-unaligned-small", "nr_pages-0", "wrap"],
)
def test_row05_bad_gpa_or_count(gpa, nr_pages):
    """Row 5 (tdx.c tdx_vcpu_init_mem_region): gpa not aligned, nr_pages == 0, or gpa + (nr_pages << 12) wraps (≤ gpa) →
    -EINVAL. 0x1000 + (2^52 << 12) = 0x1000 + 2^64 wraps to 0x1000 ≤ gpa, with no shared bit involved.
    """
    out = run(ready_with_source("in-place") + [init_mem_region(gpa, SRC_VA, nr_pages=nr_pages, label="add")])
    _rejected_up_front(out, step(out, "add"), SRC_VA, gpa, nr_pages)


@pytest.mark.parametrize(
    "gpa,nr_pages", [(SHARED_BIT, 1), (SHARED_BIT - PAGE, 2)], ids=["first-byte-shared", "last-byte-shared"]
)
def test_row06_shared_bit_gpa(gpa, nr_pages):
    """Row 6 (tdx.c vt_is_tdx_private_gpa): first or last byte of the range has the shared bit (bit 47 at the default
    gpaw 48) → -EINVAL.
    """
    out = run(ready_with_source("in-place", pages=2) + [init_mem_region(gpa, SRC_VA, nr_pages=nr_pages, label="add")])
    _rejected_up_front(out, step(out, "add"), SRC_VA, gpa, nr_pages)


def test_row07_vcpu_not_initialised():
    """Row 7 (tdx.c tdx_vcpu_init_mem_region: vCPU state check): INIT_VM done, vCPU 0 created but never got
    KVM_TDX_INIT_VCPU (tdx->state != VCPU_TD_STATE_INITIALIZED) → -EINVAL.
    """
    steps = td_setup(model="in-place", init_vcpu=False) + [set_private("in-place", 0)] + source_buffer(DATA)
    out = run(steps + [init_mem_region(0, SRC_VA, label="add")])
    _rejected_up_front(out, step(out, "add"), SRC_VA, 0, 1)


def test_row08_vcpu_created_before_init_vm():
    """Row 8 (tdx.c@3829d81b6958 tdx_vcpu_create: TD state ≠ INITIALIZED → -EIO): KVM_CREATE_VCPU before KVM_TDX_INIT_VM
    fails with -EIO, so no vCPU 0 exists; INIT_MEM_REGION naming it gets -EBADF (contract "Conventions": naming an
    object that does not exist returns -EBADF). INIT_VM afterwards still works: no vCPU exists, so tdx_td_init's "-EBUSY
    if vCPUs already exist" does not apply.
    """
    steps = [
        {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"},
        {"op": "KVM_CREATE_VCPU", "id": 0, "label": "vcpu"},
        {"op": "KVM_TDX_INIT_VM", "label": "init_vm"},
        *td_setup(model="in-place")[4:],  # gmem, mmap, memslot (skip VM/INIT_VM/vCPU/INIT_VCPU)
        set_private("in-place", 0),
        *source_buffer(DATA),
        init_mem_region(0, SRC_VA, label="add"),
    ]
    assert [s["op"] for s in steps[3:6]] == ["KVM_CREATE_GUEST_MEMFD", "mmap", "KVM_SET_USER_MEMORY_REGION2"]
    out = run(steps)
    assert_errno(step(out, "vcpu"), "EIO")
    assert_ok(step(out, "init_vm"))
    st = step(out, "add")
    assert_errno(st, "EBADF")
    assert_no_add(st)
    assert final(out)["sept"] == {}


def test_row08_init_vm_failed():
    """Row 8, "KVM_TDX_INIT_VM never succeeded" (tdx.c tdx_get_cmd: hw_error ≠ 0 on input → -EINVAL, so no HKID and the
    TD stays UNINITIALIZED): KVM_CREATE_VCPU then fails with -EIO (tdx.c@3829d81b6958 tdx_vcpu_create), INIT_MEM_REGION
    on the missing vCPU gets -EBADF (contract), and FINALIZE gets -EINVAL (row 36, no HKID).
    """
    steps = [
        {"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"},
        {"op": "KVM_TDX_INIT_VM", "hw_error": 1, "label": "init_vm"},
        {"op": "KVM_CREATE_VCPU", "id": 0, "label": "vcpu"},
        init_mem_region(0, SRC_VA, label="add"),
        finalize(label="fin"),
    ]
    out = run(steps)
    assert_errno(step(out, "init_vm"), "EINVAL")
    assert step(out, "init_vm")["seamcalls"] == []
    assert_errno(step(out, "vcpu"), "EIO")
    assert_errno(step(out, "add"), "EBADF")
    assert_errno(step(out, "fin"), "EINVAL")
    assert step(out, "fin")["seamcalls"] == []
    assert final(out)["td_state"] == "TD_STATE_UNINITIALIZED"
    assert final(out)["mrtd"] is None


@pytest.mark.parametrize("kernel,in_place,model", MODELS)
def test_row09_after_finalize(kernel, in_place, model):
    """Row 9 (tdx.c tdx_vcpu_unlocked_ioctl and tdx_vcpu_init_mem_region: "Once TD is finalized, the initial guest
    memory is fixed") → -EINVAL, no SEAMCALL; the MRTD stays that of the pages added before finalize.
    """
    steps = ready_with_source(model, pages=2) + [
        init_mem_region(0, SRC_VA),
        finalize(),
        init_mem_region(PAGE, SRC_VA + PAGE, label="late"),
    ]
    out = run(steps, kernel, in_place)
    st = step(out, "late")
    assert_errno(st, "EINVAL")
    assert st["seamcalls"] == []
    assert_region_not_written(st, SRC_VA + PAGE, PAGE, 1)
    assert final(out)["sept"] == {"0x0": "MAPPED"}
    assert final(out)["mrtd"] == mrtd([(0, DATA)])


def test_row10_hw_error_on_input():
    """Row 10 (tdx.c tdx_get_cmd): cmd.hw_error ≠ 0 on input → -EINVAL, before anything else."""
    out = run(ready_with_source("in-place") + [init_mem_region(0, SRC_VA, hw_error=1, label="add")])
    _rejected_up_front(out, step(out, "add"), SRC_VA, 0, 1)


# -- rows 11-15: failures inside the per-page loop (region is written back) -----------------------------------


def _failed_in_loop(out, st, name, src, gpa, nr):
    """A failure at the first page: no SEAMCALL, no leaf, region copied back unchanged (the copy-back is
    unconditional)."""
    assert_errno(st, name)
    assert st["seamcalls"] == []
    assert final(out)["sept"] == {}
    assert st["region"] == region(src, gpa, nr)


@pytest.mark.parametrize("kernel,in_place,model", MODELS)
def test_row11_no_memslot_at_gpa(kernel, in_place, model):
    """Row 11 (guest_memfd.c kvm_gmem_populate: gfn_to_memslot(gpa) is NULL → -EINVAL): slot 0 covers [0, 2 MiB), the
    GPA is 2 MiB. The failure is inside the per-page loop, so the region is copied back pointing at that page.
    """
    out = run(ready_with_source(model) + [init_mem_region(2 * MiB, SRC_VA, label="add")], kernel, in_place)
    _failed_in_loop(out, step(out, "add"), "EINVAL", SRC_VA, 2 * MiB, 1)


@pytest.mark.parametrize("kernel,in_place,model", MODELS)
def test_row12_memslot_without_guest_memfd(kernel, in_place, model):
    """Row 12 (guest_memfd.c kvm_gmem_populate: !kvm_slot_has_gmem → -EINVAL): slot 1 at 2 MiB is an ordinary anonymous
    memslot without KVM_MEM_GUEST_MEMFD. Out-of-place, the GPA is also made private, so only the missing guest_memfd can
    be the reason.
    """
    slot1_va = GMEM_VA + 0x100000000
    steps = ready_with_source(model) + [
        mmap_anon(slot1_va, 2 * MiB),
        {
            "op": "KVM_SET_USER_MEMORY_REGION2",
            "slot": 1,
            "flags": [],
            "guest_phys_addr": 2 * MiB,
            "memory_size": 2 * MiB,
            "userspace_addr": hex(slot1_va),
            "guest_memfd": 0,
            "guest_memfd_offset": 0,
            "label": "slot1",
        },
    ]
    if model == "out-of-place":
        steps.append({"op": "KVM_SET_MEMORY_ATTRIBUTES", "address": 2 * MiB, "size": PAGE, "attributes": PRIVATE})
    out = run(steps + [init_mem_region(2 * MiB, SRC_VA, label="add")], kernel, in_place)
    assert_ok(step(out, "slot1"))
    _failed_in_loop(out, step(out, "add"), "EINVAL", SRC_VA, 2 * MiB, 1)


@pytest.mark.parametrize("kernel", ["v8", "kvm-x86-2026-06", "2a62345b3052", "pre-2a62345b3052"])
def test_row13_page_not_private_per_vm(kernel):
    """Row 13 (guest_memfd.c: kvm_range_has_memory_attributes / v8 kvm_gmem_range_is_private with in-place OFF → per-VM
    xarray): the slot was never made private with KVM_SET_MEMORY_ATTRIBUTES → -EINVAL, no S-EPT change. The private
    check comes after the GUP, which succeeds here (valid source).
    """
    steps = td_setup(kernel, False, "out-of-place", private=False) + source_buffer(DATA)
    out = run(steps + [init_mem_region(0, SRC_VA, label="add")], kernel, False)
    _failed_in_loop(out, step(out, "add"), "EINVAL", SRC_VA, 0, 1)


def test_row14_page_shared_in_gmem():
    """Row 14 (v8 10/46, 16/46, kvm_gmem_range_is_private on the gmem maple tree): in-place ON, the gmem was created
    INIT_SHARED and never converted → -EINVAL even with a valid separate source.
    """
    steps = td_setup(model="in-place") + source_buffer(DATA)
    out = run(steps + [init_mem_region(0, SRC_VA, label="add")])
    _failed_in_loop(out, step(out, "add"), "EINVAL", SRC_VA, 0, 1)


@pytest.mark.parametrize("kernel,in_place,model", MODELS)
def test_row15_source_unmapped(kernel, in_place, model):
    """Row 15 (guest_memfd.c: get_user_pages_fast error propagated; "-EFAULT typ." — the exact value is inferred, the
    contract names -EFAULT for the GUP error): src ≠ 0 but nothing is mapped there → -EFAULT, nothing added.
    """
    out = run(ready(model) + [init_mem_region(0, SRC_VA, label="add")], kernel, in_place)
    _failed_in_loop(out, step(out, "add"), "EFAULT", SRC_VA, 0, 1)


def test_row15_gup_failure_wins_over_shared_page():
    """The GUP runs before the private check (guest_memfd.c kvm_gmem_populate, since 2a62345b3052), so an unmapped
    source on a *shared* page is still the GUP error (-EFAULT, value inferred), not the private check's -EINVAL.
    """
    out = run(td_setup(model="in-place") + [init_mem_region(0, SRC_VA, label="add")])
    _failed_in_loop(out, step(out, "add"), "EFAULT", SRC_VA, 0, 1)


# -- rows 16-19: source_addr = 0 with in-place OFF, per kernel flavour --------------------------------------


def _va0_scenario(kernel: str, va0_mapped: bool, guest_reads: bool = False) -> dict:
    """Out-of-place TD; optionally Yan's program: mmap VA 0 MAP_FIXED and write 'Y' (Ackerley,
    CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com).

    guest_reads only where the page was added: a guest access to a FREE private GPA would AUG it (contract).
    """
    steps = td_setup(kernel, False, "out-of-place")
    if va0_mapped:
        steps += [mmap_anon(0, PAGE, label="va0"), write(0, b"Y")]
    steps += [init_mem_region(0, 0, label="add"), finalize(label="fin")]
    if guest_reads:
        steps.append(guest_read(0, 1, label="read"))
    out = run(steps, kernel, False)
    if va0_mapped:
        assert_ok(step(out, "va0"))
        assert step(out, "va0")["addr"] == "0x0"
    assert out["gmem_in_place_conversion"] is False
    return out


def _nothing_added(out):
    assert_no_add(step(out, "add"))
    assert final(out)["sept"] == {}
    assert_ok(step(out, "fin"))
    assert final(out)["mrtd"] == EMPTY_MRTD


@pytest.mark.parametrize("va0_mapped", [False, True])
def test_row16_kvm_x86_2026_06_null_source_einval(va0_mapped):
    """Row 16 (tdx.c, Sean in the "kvm: sev: Fix issues reported by Sashiko" thread: Sean's `!region.source_addr`
    pre-check in tdx_vcpu_init_mem_region): kernel kvm-x86-2026-06, source_addr 0, in-place OFF → -EINVAL at validation,
    before any gmem work, whether or not VA 0 is mapped.
    """
    out = _va0_scenario("kvm-x86-2026-06", va0_mapped)
    st = step(out, "add")
    assert_errno(st, "EINVAL")
    assert st["seamcalls"] == []
    assert_region_not_written(st, 0, 0, 1)
    _nothing_added(out)


@pytest.mark.parametrize("va0_mapped", [False, True])
def test_row17_v8_in_place_off_null_source_eopnotsupp(va0_mapped):
    """Row 17 (v8 23/46 tdx_gmem_post_populate: `!src_page && !gmem_in_place_conversion` → -EOPNOTSUPP; Sean,
    akMPZePBdwQlD74H@google.com: "an address of '0' for the source means NULL", a mapping at VA 0 "is irrelevant").
    Kernel v8 with gmem_in_place_conversion=false. The failure is in post_populate, inside the loop: region is written
    back unchanged.
    """
    out = _va0_scenario("v8", va0_mapped)
    st = step(out, "add")
    assert_errno(st, "EOPNOTSUPP")
    assert st["region"] == region(0, 0, 1)
    _nothing_added(out)


@pytest.mark.parametrize("va0_mapped", [False, True])
def test_row18_2a62345b3052_null_source_eopnotsupp(va0_mapped):
    """Row 18 (2a62345b3052: kvm_gmem_populate GUPs only a non-NULL src; TDX `if (!src_page) return -EOPNOTSUPP`;
    Ackerley, CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com: Yan's "accidental uAPI change"):
    kernel 2a62345b3052 → -EOPNOTSUPP whether VA 0 is mapped or not.
    """
    out = _va0_scenario("2a62345b3052", va0_mapped)
    st = step(out, "add")
    assert_errno(st, "EOPNOTSUPP")
    assert st["region"] == region(0, 0, 1)
    _nothing_added(out)


@pytest.mark.parametrize("va0_mapped", [False, True])
def test_v13_in_place_off_null_source_is_einval_up_front(va0_mapped):
    """The series as it landed (sean-jc/linux 07f26358 arch/x86/kvm/vmx/tdx.c tdx_vcpu_init_mem_region):
    "if (!PAGE_ALIGNED(region.source_addr) || (!gmem_in_place_conversion && !region.source_addr) || ...)
    return -EINVAL;" before the loop, so no kvm_gmem_populate, no SEAMCALL and no copy_to_user of the region (v8's
    -EOPNOTSUPP came from post_populate, inside the loop, with the region written back). VA 0 is irrelevant.
    """
    out = _va0_scenario("v13", va0_mapped)
    st = step(out, "add")
    assert_errno(st, "EINVAL")
    assert st["seamcalls"] == []
    assert_region_not_written(st, 0, 0, 1)
    _nothing_added(out)


@pytest.mark.parametrize("nr_pages", [1, 2])
def test_v13_in_place_add_of_written_page(nr_pages):
    """sean-jc/linux 07f26358 tdx_gmem_post_populate: "kvm_tdx->page_add_src = src_page ?: pfn_to_page(pfn);" and
    tdx_vcpu_init_mem_region: "if (region.source_addr) region.source_addr += PAGE_SIZE;": with in-place conversion,
    source_addr 0 adds each page in place from what userspace wrote while it was shared; source_addr stays 0."""
    contents = [DATA, DATA2][:nr_pages]
    steps = td_setup("v13", model="in-place")
    steps += [write(GMEM_VA + i * PAGE, c) for i, c in enumerate(contents)]
    steps += [set_private("in-place", 0, nr_pages * PAGE), init_mem_region(0, 0, nr_pages=nr_pages, label="add")]
    steps += [finalize()] + [guest_read(i * PAGE, PAGE, label=f"read{i}") for i in range(nr_pages)]
    out = run(steps, "v13", True)
    st = step(out, "add")
    assert_ok(st)
    assert leaves(st, "TDH.MEM.PAGE.ADD") == ["TDH.MEM.PAGE.ADD"] * nr_pages
    assert st["region"] == region(0, nr_pages * PAGE, 0)
    for i, c in enumerate(contents):
        assert bytes.fromhex(step(out, f"read{i}")["data"])[: len(c)] == c


def test_row19_pre_2a62345b3052_va0_unmapped():
    """Row 19, VA 0 unmapped (Ackerley, CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com, Yan: before
    2a62345b3052 TDX's post_populate GUP'd source_addr itself): the GUP fails, "-EFAULT typ." (inferred); the contract
    names -EFAULT for this flavour.
    """
    out = _va0_scenario("pre-2a62345b3052", va0_mapped=False)
    st = step(out, "add")
    assert_errno(st, "EFAULT")
    assert st["region"] == region(0, 0, 1)
    _nothing_added(out)


def test_row19_pre_2a62345b3052_va0_mapped():
    """Row 19, VA 0 mapped (Ackerley, CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com, Yan's C
    program writing 'Y' at VA 0): the VA-0 page is the PAGE.ADD source, success; the guest reads 'Y'. source_addr is a
    real address here, so it advances by PAGE_SIZE like any source (tdx_vcpu_init_mem_region; Sean in the "kvm:
    sev: Fix issues reported by Sashiko" thread: advancing turns NULL into 0x1000).
    """
    out = _va0_scenario("pre-2a62345b3052", va0_mapped=True, guest_reads=True)
    st = step(out, "add")
    assert_ok(st)
    assert_page_added(st, 0, measured=True)
    assert st["region"] == region(PAGE, PAGE, 0)
    assert final(out)["sept"] == {"0x0": "MAPPED"}
    assert final(out)["mrtd"] == mrtd([(0, b"Y")])
    assert step(out, "read")["data"] == "59"


# -- rows 20-22: source_addr = 0 with in-place ON (v8) --------------------------------------------------------


@pytest.mark.parametrize("nr_pages", [1, 2])
def test_row20_in_place_add_of_written_page(nr_pages):
    """Row 20 (v8 23/46: `src_page = pfn_to_page(pfn)`, the target is its own PAGE.ADD source): in-place ON, pages
    written while shared then converted to private (Yan's seven steps, ajjc0hw8PjGw69e9@yzhao56-desk.sh.intel.com) → 0,
    measured; the guest reads what userspace wrote; source_addr stays 0 while gpa and nr_pages advance (v8 23/46).
    """
    contents = [DATA, DATA2][:nr_pages]
    steps = td_setup(model="in-place")
    steps += [write(GMEM_VA + i * PAGE, c) for i, c in enumerate(contents)]
    steps += [set_private("in-place", 0, nr_pages * PAGE), init_mem_region(0, 0, nr_pages=nr_pages, label="add")]
    steps += [finalize()] + [guest_read(i * PAGE, PAGE, label=f"read{i}") for i in range(nr_pages)]
    out = run(steps)
    st = step(out, "add")
    assert_ok(st)
    for i in range(nr_pages):
        assert_page_added(st, i * PAGE, measured=True)
    assert leaves(st, "TDH.MEM.PAGE.ADD") == ["TDH.MEM.PAGE.ADD"] * nr_pages
    assert st["region"] == region(0, nr_pages * PAGE, 0)
    assert final(out)["sept"] == {hex(i * PAGE): "MAPPED" for i in range(nr_pages)}
    assert final(out)["mrtd"] == mrtd([(i * PAGE, c) for i, c in enumerate(contents)])
    assert [step(out, f"read{i}")["data"] for i in range(nr_pages)] == [c.hex() for c in contents]


@pytest.mark.parametrize("init_shared", [True, False], ids=["shared-then-converted", "created-private"])
def test_row21_in_place_add_of_never_written_page(init_shared):
    """Row 21 (v8 21/46 "Zero page while getting pfn": __kvm_gmem_get_pfn zeroes a folio that is not up-to-date;
    Ackerley, CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com): in-place ON, src = 0, page private
    and never written → 0, a measured zero page. The v8 behaviour is modelled (Sean's "!up-to-date" rejection,
    ajnf5Z9nWZxoLS4x@google.com, is only an idea).
    """
    steps = td_setup(model="in-place", init_shared=init_shared)
    if init_shared:
        steps.append(set_private("in-place", 0))
    steps += [init_mem_region(0, 0, label="add"), finalize(), guest_read(0, PAGE, label="read")]
    out = run(steps)
    st = step(out, "add")
    assert_ok(st)
    assert_page_added(st, 0, measured=True)
    assert st["region"] == region(0, PAGE, 0)
    assert final(out)["mrtd"] == mrtd([(0, bytes(PAGE))])
    assert step(out, "read")["data"] == bytes(PAGE).hex()


def test_row22_in_place_null_source_on_shared_page():
    """Row 22 (v8 10/46, 16/46: the private check in kvm_gmem_populate fails before post_populate): in-place ON, src =
    0, the page is still shared (written, never converted) → -EINVAL, no S-EPT change.
    """
    steps = td_setup(model="in-place") + [write(GMEM_VA, DATA), init_mem_region(0, 0, label="add")]
    out = run(steps)
    _failed_in_loop(out, step(out, "add"), "EINVAL", 0, 0, 1)


# -- rows 23-25 ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model,in_place,src",
    [("in-place", True, 0), ("in-place", True, SRC_VA), ("out-of-place", False, SRC_VA)],
    ids=["in-place-null-src", "in-place-src", "out-of-place-src"],
)
def test_row23_double_add(model, in_place, src):
    """Row 23 (tdp_mmu.c tdp_mmu_map_handle_target_level: a present leaf on a prefetch fault is RET_PF_SPURIOUS; mmu.c
    kvm_tdp_mmu_map_private_pfn: anything but RET_PF_FIXED is -EIO; Yan Zhao confirms it for a double add,
    akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com): a second INIT_MEM_REGION on an already-ADDed GPA → -EIO in either model
    with any source. The mirror SPTE is present, so no SEAMCALL at all (no SEPT.ADD, PAGE.ADD or MR.EXTEND) and the MRTD
    is unchanged; region written back as not done. "VM not bugged" is inferred (no KVM_BUG_ON on this path): a later add
    and finalize still work.
    """
    steps = td_setup(model=model, in_place=in_place)
    if model == "in-place":
        steps += [write(GMEM_VA, DATA), write(GMEM_VA + PAGE, DATA2), set_private(model, 0, 2 * PAGE)]
    steps += source_buffer(DATA + DATA2, pages=2)
    src2 = src + PAGE if src else 0
    steps += [
        init_mem_region(0, src, label="first"),
        init_mem_region(0, src, label="again"),
        init_mem_region(PAGE, src2, label="next"),
        finalize(label="fin"),
    ]
    out = run(steps, "v8", in_place)
    assert_ok(step(out, "first"))
    st = step(out, "again")
    assert_errno(st, "EIO")
    assert st["seamcalls"] == []
    assert st["region"] == region(src, 0, 1)
    assert final(out)["vm_dead"] is False
    assert_ok(step(out, "next"))
    assert_ok(step(out, "fin"))
    assert final(out)["sept"] == {"0x0": "MAPPED", "0x1000": "MAPPED"}
    assert final(out)["mrtd"] == mrtd([(0, DATA), (PAGE, DATA2)])


def _three_page_td(model: str) -> tuple[list[dict], int]:
    """Three private pages holding DATA, DATA2, DATA; returns the steps and the source_addr to pass."""
    contents = DATA + DATA2 + DATA
    steps = td_setup(model=model)
    if model == "in-place":
        steps += [write(GMEM_VA, contents), set_private(model, 0, 3 * PAGE)]
        return steps, 0
    return steps + source_buffer(contents, pages=3), SRC_VA


THREE = [(0, DATA), (PAGE, DATA2), (2 * PAGE, DATA)]


@pytest.mark.parametrize("kernel,in_place,model", MODELS)
def test_row24_signal_before_a_page(kernel, in_place, model):
    """Row 24 (tdx.c tdx_vcpu_init_mem_region: signal_pending checked before each page → -EINTR, then the unconditional
    copy-back): a signal before page 1 of 3 → -EINTR with page 0 ADDed and the region pointing at page 1. Resuming with
    the written-back struct, as QEMU does on -EINTR (QEMU target/i386/kvm/tdx.c), finishes the job with the
    uninterrupted MRTD.
    """
    steps, src = _three_page_td(model)
    step_src = PAGE if src else 0
    steps += [
        {"op": "signal_pending", "before_page": 1},
        init_mem_region(0, src, nr_pages=3, label="add"),
        init_mem_region(PAGE, src + step_src, nr_pages=2, label="resume"),
        finalize(),
    ]
    out = run(steps, kernel, in_place)
    st = step(out, "add")
    assert_errno(st, "EINTR")
    assert_page_added(st, 0, measured=True)
    assert leaves(st, "TDH.MEM.PAGE.ADD") == ["TDH.MEM.PAGE.ADD"]
    assert st["region"] == region(src + step_src, PAGE, 2)
    resumed = step(out, "resume")
    assert_ok(resumed)
    assert resumed["region"] == region(src + 3 * step_src, 3 * PAGE, 0)
    assert final(out)["mrtd"] == mrtd(THREE)


def test_row24_signal_before_first_page():
    """Row 24 (tdx_vcpu_init_mem_region: signal_pending() is checked before each page, including the first): nothing
    done, region unchanged."""
    steps, src = _three_page_td("in-place")
    steps += [{"op": "signal_pending", "before_page": 0}, init_mem_region(0, src, nr_pages=3, label="add")]
    out = run(steps)
    _failed_in_loop(out, step(out, "add"), "EINTR", 0, 0, 3)


def test_row25_in_place_fails_at_page_k():
    """Row 25 (tdx.c: error of page k, pages 0..k-1 ADDed, region = {0 (source stays NULL), gpa+k·4K, n−k}, copy-back
    always done): in-place, pages 0 and 1 private, page 2 still shared → -EINVAL at k = 2 (row 22's check).
    """
    steps = td_setup(model="in-place") + [write(GMEM_VA, DATA + DATA2 + DATA), set_private("in-place", 0, 2 * PAGE)]
    out = run(steps + [init_mem_region(0, 0, nr_pages=3, label="add"), finalize()])
    st = step(out, "add")
    assert_errno(st, "EINVAL")
    assert_page_added(st, 0, measured=True)
    assert_page_added(st, PAGE, measured=True)
    assert leaves(st, "TDH.MEM.PAGE.ADD") == ["TDH.MEM.PAGE.ADD"] * 2
    assert st["region"] == region(0, 2 * PAGE, 1)
    assert final(out)["sept"] == {"0x0": "MAPPED", "0x1000": "MAPPED"}
    assert final(out)["mrtd"] == mrtd(THREE[:2])


def test_row25_out_of_place_runs_off_the_memslot():
    """Row 25 with row 11's error (tdx.c, guest_memfd.c): 3 pages from 2 MiB − 8K; page 2 lies beyond slot 0 → -EINVAL
    at k = 2, region = {src+2·4K, 2 MiB, 1}.
    """
    steps = td_setup(model="out-of-place", in_place=False) + source_buffer(DATA + DATA2 + DATA, pages=3)
    gpa = 2 * MiB - 2 * PAGE
    out = run(steps + [init_mem_region(gpa, SRC_VA, nr_pages=3, label="add")], "v8", False)
    st = step(out, "add")
    assert_errno(st, "EINVAL")
    assert_page_added(st, gpa, measured=True)
    assert_page_added(st, gpa + PAGE, measured=True)
    assert st["region"] == region(SRC_VA + 2 * PAGE, 2 * MiB, 1)
    assert final(out)["sept"] == {hex(gpa): "MAPPED", hex(gpa + PAGE): "MAPPED"}


@pytest.mark.skip(reason="row 26: a fault while copying the region back cannot be expressed in the scenario contract")
def test_row26_region_write_back_faults():
    """Row 26 (tdx.c: copy_to_user of the region fails → -EFAULT overrides). No contract op makes cmd->data fault."""


# -- rows 27-29: TDX module errors and poison ------------------------------------------------------------------


def test_row27_page_add_operand_busy_is_retried():
    """Row 27 (tdx.c tdx_mem_page_add: TDX_OPERAND_BUSY → -EBUSY from the SPTE hook, the atomic SPTE set fails,
    RET_PF_RETRY, kvm_tdp_mmu_map_private_pfn loops; "transparent retry" is confirmed in tdp_mmu.c, see
    docs/fidelity.md): one busy PAGE.ADD is retried, userspace sees 0 and the MRTD of a single add (a failed PAGE.ADD
    extends nothing).
    """
    steps = ready_with_source("in-place") + [
        tdx_error("TDH.MEM.PAGE.ADD", "TDX_OPERAND_BUSY"),
        init_mem_region(0, SRC_VA, label="add"),
        finalize(),
    ]
    out = run(steps)
    st = step(out, "add")
    assert_ok(st)
    assert [c["status"] for c in calls(st, "TDH.MEM.PAGE.ADD")] == ["TDX_OPERAND_BUSY", "TDX_SUCCESS"]
    assert all(c["gpa"] == "0x0" for c in calls(st, "TDH.MEM.PAGE.ADD"))
    ext = calls(st, "TDH.MR.EXTEND")
    assert len(ext) == 16 and all(c["status"] == "TDX_SUCCESS" for c in ext)
    assert st["seamcalls"].index(calls(st, "TDH.MEM.PAGE.ADD")[1]) < st["seamcalls"].index(ext[0])
    assert st["region"] == region(SRC_VA + PAGE, PAGE, 0)
    assert final(out)["vm_dead"] is False
    assert final(out)["sept"] == {"0x0": "MAPPED"}
    assert final(out)["mrtd"] == mrtd([(0, DATA)])


def test_row28_page_add_hard_error_bugs_the_vm():
    """Row 28 (tdx.c tdx_mem_page_add: any error other than busy → TDX_BUG_ON_2 → -EIO, VM bugged; contract: every later
    ioctl on a bugged VM returns -EIO and final.vm_dead is true): PAGE.ADD fails, no leaf is mapped, nothing is
    extended; the region is still copied back (tdx_vcpu_init_mem_region).
    """
    steps = ready_with_source("in-place", pages=2) + [
        tdx_error("TDH.MEM.PAGE.ADD", "TDX_OPERAND_INVALID"),
        init_mem_region(0, SRC_VA, label="add"),
        init_mem_region(PAGE, SRC_VA + PAGE, label="later"),
        finalize(label="fin"),
    ]
    out = run(steps)
    st = step(out, "add")
    assert_errno(st, "EIO")
    assert [c["status"] for c in calls(st, "TDH.MEM.PAGE.ADD")] == ["TDX_OPERAND_INVALID"]
    assert leaves(st, "TDH.MR.EXTEND") == []
    assert st["region"] == region(SRC_VA, 0, 1)
    assert_errno(step(out, "later"), "EIO")
    assert_errno(step(out, "fin"), "EIO")
    assert final(out)["vm_dead"] is True
    assert final(out)["sept"] == {}
    assert final(out)["mrtd"] is None


def test_row28_mr_extend_hard_error_bugs_the_vm():
    """Row 28 (tdx.c tdx_gmem_post_populate: an MR.EXTEND failure → TDX_BUG_ON_2 → -EIO at once, VM bugged): the
    PAGE.ADD stands (leaf MAPPED, "partial"), the loop stops at the first failing MR.EXTEND, the TD is never finalized.
    """
    steps = ready_with_source("in-place") + [
        tdx_error("TDH.MR.EXTEND", "TDX_OPERAND_INVALID"),
        init_mem_region(0, SRC_VA, label="add"),
        finalize(label="fin"),
    ]
    out = run(steps)
    st = step(out, "add")
    assert_errno(st, "EIO")
    assert [c["status"] for c in calls(st, "TDH.MEM.PAGE.ADD")] == ["TDX_SUCCESS"]
    assert [(c["gpa"], c["status"]) for c in calls(st, "TDH.MR.EXTEND")] == [("0x0", "TDX_OPERAND_INVALID")]
    assert st["seamcalls"][-1]["leaf"] == "TDH.MR.EXTEND"
    assert_errno(step(out, "fin"), "EIO")
    assert final(out)["vm_dead"] is True
    assert final(out)["sept"] == {"0x0": "MAPPED"}
    assert final(out)["mrtd"] is None


def test_row29_poisoned_gmem_page():
    """Row 29 (guest_memfd.c __kvm_gmem_get_pfn: hwpoison → -EHWPOISON): the page was written while shared and
    converted, then poisoned; the in-place add gets -EHWPOISON and nothing is mapped.
    """
    steps = td_setup(model="in-place") + [
        write(GMEM_VA, DATA),
        set_private("in-place", 0),
        {"op": "memory_failure", "guest_memfd": 0, "offset": 0},
        init_mem_region(0, 0, label="add"),
    ]
    out = run(steps)
    _failed_in_loop(out, step(out, "add"), "EHWPOISON", 0, 0, 1)


@pytest.mark.skip(reason="row 30: concurrent vCPU creation (created_vcpus != online_vcpus) has no contract op")
def test_row30_concurrent_vcpu_creation():
    """Row 30 (tdx.c tdx_vm_state_guard → -EBUSY). A scenario is sequential; no op leaves a vCPU half-created."""


# -- rows 31-33: KVM_SET_MEMORY_ATTRIBUTES2 --------------------------------------------------------------------


def _as_int(v) -> int:
    return int(v, 0) if isinstance(v, str) else v


def test_row31_pinned_page_refuses_conversion():
    """Row 31 (v8 14/46 kvm_gmem_is_safe_for_conversion: an unexpected refcount such as a long-term GUP pin → -EAGAIN,
    error_offset = the first bad page; attributes are stored only after the check, so none change): converting 4 pages
    while page 1 is pinned fails at offset 0x1000 and page 0 stays shared (an in-place add of it then fails the private
    check, row 22). After unpin the same conversion succeeds.
    """
    steps = td_setup(model="in-place") + [
        write(GMEM_VA, DATA * 4),
        {"op": "pin", "addr": hex(GMEM_VA + PAGE), "length": PAGE},
        set_attributes2(0, 4 * PAGE, label="convert"),
        init_mem_region(0, 0, label="add_shared"),
        {"op": "unpin", "addr": hex(GMEM_VA + PAGE), "length": PAGE},
        set_attributes2(0, 4 * PAGE, label="convert_again"),
        init_mem_region(0, 0, label="add"),
    ]
    out = run(steps)
    st = step(out, "convert")
    assert_errno(st, "EAGAIN")
    assert st["seamcalls"] == []  # shared → private with nothing mapped in the S-EPT: no zap (v8 13/46)
    assert _as_int(st["error_offset"]) == PAGE
    assert_errno(step(out, "add_shared"), "EINVAL")
    assert_ok(step(out, "convert_again"))
    assert_ok(step(out, "add"))
    assert final(out)["sept"] == {"0x0": "MAPPED"}


def test_row32_attributes2_with_in_place_off():
    """Row 32 (v8 13/46: KVM_SET_MEMORY_ATTRIBUTES2 is only valid with gmem_in_place_conversion, otherwise -ENOTTY):
    kernel v8 with the module parameter off.
    """
    steps = td_setup("v8", False, "out-of-place") + [set_attributes2(0, PAGE, label="convert")]
    out = run(steps, "v8", False)
    assert_errno(step(out, "convert"), "ENOTTY")
    assert step(out, "convert")["seamcalls"] == []


@pytest.mark.parametrize(
    "kw",
    [
        {"offset": 0, "size": PAGE, "flags": 1},
        {"offset": 0, "size": PAGE, "reserved": 1},
        {"offset": 0, "size": PAGE, "attributes": 1},
        {"offset": 0, "size": 0},
        {"offset": 0x800, "size": PAGE},
        {"offset": 0, "size": 0x800},
        {"offset": 2 * MiB, "size": PAGE},
        {"offset": 2 * MiB - PAGE, "size": 2 * PAGE},
    ],
    ids=[
        "flags",
        "reserved",
        "unknown-attribute",
        "size-0",
        "offset-unaligned",
        "size-unaligned",
        "past-i_size",
        "straddles-i_size",
    ],
)
def test_row33_attributes2_invalid_arguments(kw):
    """Row 33 (v8 13/46 kvm_gmem_set_attributes, its validation order): flags ≠ 0, reserved ≠ 0, attributes other than
    PRIVATE, size 0, offset/size not page-aligned, range beyond i_size → -EINVAL; the attributes are unchanged (page 0
    stays shared, so an in-place add of it fails the private check).
    """
    args = {"attributes": PRIVATE, **kw}
    steps = td_setup(model="in-place") + [set_attributes2(label="convert", **args), init_mem_region(0, 0, label="add")]
    out = run(steps)
    assert_errno(step(out, "convert"), "EINVAL")
    assert step(out, "convert")["seamcalls"] == []
    assert_errno(step(out, "add"), "EINVAL")
    assert final(out)["sept"] == {}


# -- row 35 ----------------------------------------------------------------------------------------------------


def test_row35_host_access_to_private_gmem_page_sigbus():
    """Row 35 (v8 01/46 kvm_gmem_fault_user_mapping: a fault on a private index → SIGBUS; the cover letter's invariant
    "a guest-private page is never mappable to host userspace"): after conversion, reading or writing page 0 through the
    gmem mmap raises SIGBUS, while page 1 (still shared) reads back what was written.
    """
    steps = td_setup(model="in-place") + [
        write(GMEM_VA, DATA + DATA2),
        set_private("in-place", 0),
        read(GMEM_VA, 16, label="read_private"),
        write(GMEM_VA, b"\xaa" * 16, label="write_private"),
        read(GMEM_VA + PAGE, 16, label="read_shared"),
    ]
    out = run(steps)
    assert step(out, "read_private")["signal"] == "SIGBUS"
    assert step(out, "write_private")["signal"] == "SIGBUS"
    assert step(out, "read_shared").get("signal") is None
    assert step(out, "read_shared")["data"] == DATA2[:16].hex()
    assert all(s["seamcalls"] == [] for s in out["steps"] if s["op"] in ("read", "write"))


def test_row35_gmem_created_private_sigbus():
    """Row 35 (v8 01/46, 13: without INIT_SHARED every index starts private): the first host read SIGBUSes."""
    out = run(td_setup(model="in-place", init_shared=False) + [read(GMEM_VA, 8, label="read")])
    assert step(out, "read")["signal"] == "SIGBUS"


# -- rows 36-37: KVM_TDX_FINALIZE_VM ----------------------------------------------------------------------------


def test_row36_finalize_twice():
    """Row 36 (tdx.c tdx_td_finalize: already RUNNABLE → -EINVAL): the first FINALIZE issues TDH.MR.FINALIZE, the second
    issues nothing and fails; state and MRTD are those of the first.
    """
    steps = ready_with_source("in-place") + [init_mem_region(0, SRC_VA), finalize(label="fin1"), finalize(label="fin2")]
    out = run(steps)
    first, second = step(out, "fin1"), step(out, "fin2")
    assert_ok(first)
    assert [(c["leaf"], c["status"]) for c in first["seamcalls"]] == [("TDH.MR.FINALIZE", "TDX_SUCCESS")]
    assert_errno(second, "EINVAL")
    assert second["seamcalls"] == []
    assert final(out)["td_state"] == "TD_STATE_RUNNABLE"
    assert final(out)["mrtd"] == mrtd([(0, DATA)])


def test_row36_finalize_before_init_vm():
    """Row 36 (tdx.c tdx_td_finalize: no HKID → -EINVAL): a VM that never ran KVM_TDX_INIT_VM."""
    out = run([{"op": "KVM_CREATE_VM", "type": "KVM_X86_TDX_VM"}, finalize(label="fin")])
    assert_errno(step(out, "fin"), "EINVAL")
    assert step(out, "fin")["seamcalls"] == []
    assert final(out)["td_state"] == "TD_STATE_UNINITIALIZED"
    assert final(out)["mrtd"] is None


def test_vm_op_before_create_vm_is_ebadf():
    """Contract, "Conventions": a VM op issued before KVM_CREATE_VM returns -EBADF (no VM fd is open)."""
    out = run([finalize(label="fin"), {"op": "KVM_TDX_INIT_VM", "label": "init_vm"}])
    assert_errno(step(out, "fin"), "EBADF")
    assert_errno(step(out, "init_vm"), "EBADF")


def test_row37_finalize_while_module_busy():
    """Row 37 (tdx.c tdx_td_finalize: TDX_OPERAND_BUSY → -EBUSY, hw_error carries the status): state unchanged (still
    INITIALIZED, MRTD unreadable), VM alive; a second FINALIZE succeeds with the expected MRTD. The exact hw_error value
    is not pinned by the contract: only "non-zero" is checked, and only if reported.
    """
    steps = ready_with_source("in-place") + [
        init_mem_region(0, SRC_VA),
        tdx_error("TDH.MR.FINALIZE", "TDX_OPERAND_BUSY"),
        finalize(label="busy"),
        guest_read(0, 16, label="too_early"),
        finalize(label="fin"),
    ]
    out = run(steps)
    busy = step(out, "busy")
    assert_errno(busy, "EBUSY")
    assert [(c["leaf"], c["status"]) for c in busy["seamcalls"]] == [("TDH.MR.FINALIZE", "TDX_OPERAND_BUSY")]
    if busy.get("hw_error") is not None:
        assert _as_int(busy["hw_error"]) != 0
    # Guest steps need a finalized TD: KVM_RUN before finalize is refused with -EINVAL (contract, "Guest steps").
    assert_errno(step(out, "too_early"), "EINVAL")
    assert_ok(step(out, "fin"))
    assert final(out)["vm_dead"] is False
    assert final(out)["mrtd"] == mrtd([(0, DATA)])


def test_row37_state_after_busy_finalize():
    """Row 37 "state unchanged": right after the busy FINALIZE the TD is still INITIALIZED, with no MRTD."""
    steps = ready_with_source("in-place") + [
        init_mem_region(0, SRC_VA),
        tdx_error("TDH.MR.FINALIZE", "TDX_OPERAND_BUSY"),
        finalize(label="busy"),
    ]
    out = run(steps)
    assert_errno(step(out, "busy"), "EBUSY")
    assert final(out)["td_state"] == "TD_STATE_INITIALIZED"
    assert final(out)["mrtd"] is None
    assert final(out)["vm_dead"] is False


def test_finalize_hard_error_bugs_the_vm():
    """tdx.c tdx_td_finalize: a TDH.MR.FINALIZE error other than busy → KVM_BUG_ON, -EIO; the VM is bugged and never
    becomes RUNNABLE.
    """
    steps = ready_with_source("in-place") + [
        init_mem_region(0, SRC_VA),
        tdx_error("TDH.MR.FINALIZE", "TDX_OPERAND_INVALID"),
        finalize(label="fin"),
        finalize(label="again"),
    ]
    out = run(steps)
    assert_errno(step(out, "fin"), "EIO")
    assert_errno(step(out, "again"), "EIO")
    assert final(out)["vm_dead"] is True
    assert final(out)["td_state"] != "TD_STATE_RUNNABLE"
    assert final(out)["mrtd"] is None


def test_measure_flag_as_raw_bits_matches_name():
    """Contract "Conventions": flags are uAPI names or raw bits; KVM_TDX_MEASURE_MEMORY_REGION is bit 0
    (arch/x86/include/uapi/asm/kvm.h)."""
    a = run(ready_with_source("in-place") + [init_mem_region(0, SRC_VA, flags=MEASURE), finalize()])
    b = run(ready_with_source("in-place") + [init_mem_region(0, SRC_VA, flags=1), finalize()])
    assert a["final"]["mrtd"] == b["final"]["mrtd"] == mrtd([(0, DATA)])


# -- guest_memfd creation and mmap rules that the rows above rely on ------------------------------------------


def test_init_shared_needs_in_place_conversion():
    """v8 25/46 kvm_arch_supports_gmem_init_shared: on x86, GUEST_MEMFD_FLAG_INIT_SHARED is rejected for a VM with
    private memory unless in-place conversion is on. The errno is not named: only failure.
    """
    flags = ["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"]
    steps = td_setup("v8", False, "out-of-place")[:4] + [
        {"op": "KVM_CREATE_GUEST_MEMFD", "size": 2 * MiB, "flags": flags, "label": "off"}
    ]
    assert step(run(steps, "v8", False), "off")["ret"] < 0
    steps[-1]["label"] = "on"
    assert_ok(step(run(steps, "v8", True), "on"))


@pytest.mark.parametrize(
    "gmem_flags,mmap_flags,expected",
    [
        (["GUEST_MEMFD_FLAG_MMAP", "GUEST_MEMFD_FLAG_INIT_SHARED"], ["MAP_PRIVATE"], "EINVAL"),
        (["GUEST_MEMFD_FLAG_INIT_SHARED"], ["MAP_SHARED"], "ENODEV"),
    ],
    ids=["map-private", "no-mmap-flag"],
)
def test_gmem_mmap_rules(gmem_flags, mmap_flags, expected):
    """guest_memfd.c kvm_gmem_mmap: MAP_SHARED is required, else -EINVAL; without GUEST_MEMFD_FLAG_MMAP, -ENODEV."""
    steps = td_setup(model="in-place")[:4] + [
        {"op": "KVM_CREATE_GUEST_MEMFD", "size": 2 * MiB, "flags": gmem_flags},
        {"op": "mmap", "addr": hex(GMEM_VA), "length": PAGE, "fd": "guest_memfd:0", "flags": mmap_flags, "label": "m"},
    ]
    assert_errno(step(run(steps), "m"), expected)
