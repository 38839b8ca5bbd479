"""The seed thread, as executable facts.

"Re: [PATCH v8 23/46] KVM: TDX: Make source page optional for KVM_TDX_INIT_MEM_REGION": the patch
20260618-gmem-inplace-conversion-v8-23-9d2959357853@google.com, Sean Christopherson's mails akMPZePBdwQlD74H@google.com
(29 Jun 2026) and akPEKslqAhygyjhg@google.com (30 Jun, the seed mail: "Yep, ..."), Yan Zhao's replies and the kernel
code they discuss (arch/x86/kvm/vmx/tdx.c and arch/x86/kvm/mmu/mmu.c at kvm-x86 09c6f74ecb86, virt/kvm/guest_memfd.c
before and after commit 2a62345b3052). Expected values come from those sources, never from tdxsim.
"""

import pytest
from scenario_helpers import (
    GMEM_VA,
    KERNELS,
    PAGE,
    SRC_VA,
    assert_errno,
    assert_no_add,
    assert_ok,
    assert_page_added,
    finalize,
    guest_read,
    init_mem_region,
    mmap_anon,
    mrtd,
    region,
    run,
    set_private,
    source_buffer,
    step,
    td_setup,
    write,
)

HELLO = b"Hello"
IMAGE = bytes((7 * i + 3) % 256 for i in range(PAGE))


def test_mrtd_replay_matches_worked_examples():
    """The helper's replay against tests/data/mrtd-vectors.json (computed with hashlib from the record layout)."""
    assert mrtd([]) == (
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
    )
    assert mrtd([(0x1000, None)]) == (
        "fcdabf6fdf38b87d2e3a89b1ab68c242abb261dffa70ef6f1dc2220c2752d2729cdf1be92afc2e0e4297f04e2b629552"
    )
    assert mrtd([(0x1000, bytes(range(256)) * 16)]) == (
        "15a8464628b6214951c4a1b57775507dd950263654e8790e257995b45013c84aba1d87a3bcbc1929b5f7db6d3e92cad6"
    )


def _yan_seven_steps(data: bytes | None) -> list[dict]:
    """Yan's seven steps (ajjc0hw8PjGw69e9@yzhao56-desk.sh.intel.com): gmem with MMAP (+INIT_SHARED), mmap, shared,
    write the image, convert to private, INIT_MEM_REGION with source_addr = 0, keep the mapping; then finalize and let
    the guest read page 0.
    """
    steps = td_setup(model="in-place")
    if data is not None:
        steps.append(write(GMEM_VA, data))
    return steps + [
        set_private("in-place", 0),
        init_mem_region(0, 0, label="add"),
        finalize(label="fin"),
        guest_read(0, PAGE, label="read"),
    ]


def test_in_place_null_source_guest_reads_what_userspace_wrote():
    """v8 23/46 (`src_page = pfn_to_page(pfn)` when !src_page and gmem_in_place_conversion): source_addr = 0 adds the
    target in place; the guest reads what userspace wrote while the page was shared. source_addr is not advanced.
    """
    out = run(_yan_seven_steps(HELLO))
    st = step(out, "add")
    assert_ok(st)
    assert_page_added(st, 0, measured=True)
    assert st["region"] == region(0, PAGE, 0)
    assert out["gmem_in_place_conversion"] is True  # the contract's default for v8
    assert step(out, "read")["data"] == HELLO.hex() + "00" * (PAGE - len(HELLO))
    assert out["final"]["mrtd"] == mrtd([(0, HELLO)])


def test_in_place_null_source_never_written_reads_zeros():
    """v8 21/46 "Zero page while getting pfn" (Ackerley,
    CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com): nothing written → a measured zero page, no leak
    of host memory. (Sean's "!up-to-date" rejection is only floated, ajnf5Z9nWZxoLS4x@google.com.)
    """
    out = run(_yan_seven_steps(None))
    assert_ok(step(out, "add"))
    assert step(out, "read")["data"] == "00" * PAGE
    assert out["final"]["mrtd"] == mrtd([(0, bytes(PAGE))])


def _va0(steps_before_add: list[dict]) -> list[dict]:
    """Yan's C program (quoted in CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com): mmap virtual
    address 0 with MAP_FIXED and write 'Y' there."""
    return steps_before_add + [mmap_anon(0, PAGE, label="va0"), write(0, b"Y")]


def test_in_place_off_null_source_eopnotsupp_even_with_va0_mapped():
    """v8 with gmem_in_place_conversion off: `!src_page && !gmem_in_place_conversion` → -EOPNOTSUPP (patch 23/46).
    Sean (seed): "an address of '0' for the source means NULL. The fact that userspace could have a valid mapping at
    virtual address '0' is irrelevant." Nothing is added; the struct is copied back unchanged.
    """
    steps = _va0(td_setup("v8", False, "out-of-place")) + [init_mem_region(0, 0, label="add"), finalize()]
    out = run(steps, "v8", False)
    assert step(out, "va0")["addr"] == "0x0"
    st = step(out, "add")
    assert_errno(st, "EOPNOTSUPP")
    assert_no_add(st)
    assert st["region"] == region(0, 0, 1)
    assert out["final"]["sept"] == {}
    assert out["final"]["mrtd"] == mrtd([])


def test_in_place_on_null_source_ignores_va0_mapping():
    """In-place on, source_addr 0, VA 0 mapped with 'Y': v8 23/46 adds the target in place and the 'Y' is silently
    ignored (Yan's case in CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com; Sean,
    akMPZePBdwQlD74H@google.com: "an address of '0' for the source means NULL"): the guest gets the gmem page.
    """
    steps = _va0(td_setup(model="in-place")) + [write(GMEM_VA, HELLO)]
    steps += [set_private("in-place", 0), init_mem_region(0, 0, label="add"), finalize(), guest_read(0, 5, label="r")]
    out = run(steps)
    assert_ok(step(out, "add"))
    assert step(out, "r")["data"] == HELLO.hex()
    assert out["final"]["mrtd"] == mrtd([(0, HELLO)])


@pytest.mark.parametrize("in_place", [True, False], ids=["in-place-on", "in-place-off"])
def test_separate_source_page_is_still_copied(in_place):
    """tdx.c tdx_gmem_post_populate: a real source page is copied by PAGE.ADD and source_addr advances, with in-place
    conversion on or off (an ordinary copy: Roth's RFC, 20251113230759.1562024-1-michael.roth@amd.com). In the in-place
    model the gmem page holds other bytes while shared: the guest still sees the source's bytes.
    """
    model = "in-place" if in_place else "out-of-place"
    steps = td_setup("v8", in_place, model)
    if in_place:
        steps += [write(GMEM_VA, HELLO), set_private(model, 0)]
    steps += source_buffer(IMAGE) + [
        init_mem_region(0, SRC_VA, label="add"),
        finalize(),
        guest_read(0, PAGE, label="r"),
    ]
    out = run(steps, "v8", in_place)
    st = step(out, "add")
    assert_ok(st)
    assert st["region"] == region(SRC_VA + PAGE, PAGE, 0)
    assert step(out, "r")["data"] == IMAGE.hex()
    assert out["final"]["mrtd"] == mrtd([(0, IMAGE)])


def test_in_place_source_pointing_at_private_gmem_page_fails():
    """v8, a source pointing into the gmem mmap of a page that is now private: the userspace mapping faults with SIGBUS
    (v8 01/46 kvm_gmem_fault_user_mapping), so the GUP fails (the errno is not pinned: only the failure is asserted) and
    nothing is added (Roth's RFC, 20251113230759.1562024-1-michael.roth@amd.com: a private source page can't be GUP'd).
    """
    steps = td_setup(model="in-place") + [write(GMEM_VA, HELLO), set_private("in-place", 0)]
    out = run(steps + [init_mem_region(0, GMEM_VA, label="add")])
    st = step(out, "add")
    assert st["ret"] < 0 and st["errno"] is not None
    assert_no_add(st)
    assert out["final"]["sept"] == {}


def test_null_source_does_not_need_the_mmap_flag():
    """Sean, ajnf5Z9nWZxoLS4x@google.com: the MMAP flag is "the wrong predicate"; v8 23/46 tests only
    gmem_in_place_conversion. A guest_memfd created without flags starts all private (v8 01/46, 13/46), so with in-place
    on, source_addr = 0 adds a zero page (v8 21/46). The memslot's userspace side is an anonymous mmap here.
    """
    steps = td_setup("v8", True, "out-of-place", private=False)
    steps += [init_mem_region(0, 0, label="add"), finalize(), guest_read(0, PAGE, label="r")]
    out = run(steps, "v8", True)
    st = step(out, "add")
    assert_ok(st)
    assert st["region"] == region(0, PAGE, 0)
    assert step(out, "r")["data"] == "00" * PAGE


def _one_add(model: str, src: int, data: bytes, twice: bool) -> dict:
    in_place = model == "in-place"
    steps = td_setup("v8", in_place, model)
    if in_place and src == 0:
        steps.append(write(GMEM_VA, data))
    if in_place:
        steps.append(set_private(model, 0))
    if src:
        steps += source_buffer(data)
    steps.append(init_mem_region(0, src, label="add"))
    if twice:
        steps.append(init_mem_region(0, src, label="again"))
    return run(steps + [finalize()], "v8", in_place)


@pytest.mark.parametrize(
    "model,src", [("in-place", 0), ("in-place", SRC_VA), ("out-of-place", SRC_VA)], ids=["null", "src", "oop"]
)
def test_second_add_of_same_gpa_is_eio_and_measures_nothing(model, src):
    """A second INIT_MEM_REGION of the same GPA: the mirror leaf is present, so the TDP MMU answers RET_PF_SPURIOUS
    (tdp_mmu.c tdp_mmu_map_handle_target_level) and kvm_tdp_mmu_map_private_pfn turns anything but RET_PF_FIXED into
    -EIO (mmu.c); Yan Zhao confirms it, akSx0Bx1RKe9DCXw@yzhao56-desk.sh.intel.com (Sean's own "Side topic" in
    akMPZePBdwQlD74H was withdrawn in akPEKslqAhygyjhg). No PAGE.ADD, no MR.EXTEND, measurement unchanged, same in both
    models and for any source_addr. VM not bugged is inferred (no KVM_BUG_ON on this path).
    """
    once = _one_add(model, src, IMAGE, twice=False)
    twice = _one_add(model, src, IMAGE, twice=True)
    again = step(twice, "again")
    assert_errno(again, "EIO")
    assert_no_add(again)
    assert twice["final"]["vm_dead"] is False
    assert twice["final"]["mrtd"] == once["final"]["mrtd"] == mrtd([(0, IMAGE)])


def test_mrtd_same_in_place_or_from_separate_source():
    """intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, tdh_mr_extend.c: the PAGE.ADD record holds only the GPA and
    MR.EXTEND hashes the target after the copy, so the MRTD does not depend on where the source lies: in place (source =
    target), a separate buffer with in-place on, or the out-of-place model all give the independent replay's value.
    """
    results = {
        "in-place, source_addr 0": _one_add("in-place", 0, IMAGE, twice=False),
        "in-place, separate source": _one_add("in-place", SRC_VA, IMAGE, twice=False),
        "out-of-place, separate source": _one_add("out-of-place", SRC_VA, IMAGE, twice=False),
    }
    expected = mrtd([(0, IMAGE)])
    assert {name: out["final"]["mrtd"] for name, out in results.items()} == dict.fromkeys(results, expected)


# source_addr = 0 with in-place OFF, per flavour (docs/scenario.md "Kernel flavours"): (VA 0 unmapped, VA 0 mapped with
# 'Y').
SOURCE_ZERO_OUTCOME = {
    # Yan, quoted in CAEvNRgHb6WmOha6Pct_Tn8Ucuov95L=fj5=2R9gcHfx=b2V_+A@mail.gmail.com: TDX GUPs 0 itself; the -EFAULT
    # of an unmapped VA 0 is inferred (get_user_pages_fast's usual error); mapped, the VA-0 page is the source.
    "pre-2a62345b3052": ("EFAULT", None),
    "2a62345b3052": ("EOPNOTSUPP", "EOPNOTSUPP"),  # 2a62345b3052: `if (!src_page) return -EOPNOTSUPP`
    "kvm-x86-2026-06": ("EINVAL", "EINVAL"),  # tdx.c at kvm-x86 09c6f74ecb86: `!region.source_addr`
    "v8": ("EOPNOTSUPP", "EOPNOTSUPP"),  # v8 23/46 with gmem_in_place_conversion off
    "v13": ("EINVAL", "EINVAL"),  # sean-jc/linux 07f26358: `(!gmem_in_place_conversion && !region.source_addr)`
}


@pytest.mark.parametrize("va0_mapped", [False, True], ids=["va0-unmapped", "va0-mapped"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_source_addr_zero_under_each_kernel_flavour(kernel, va0_mapped):
    """One scenario (out-of-place, gmem_in_place_conversion false) replayed under the five flavours of the contract;
    the source_addr = 0 outcome is that flavour's (SOURCE_ZERO_OUTCOME). None means success with the VA-0 page as
    source.
    """
    steps = td_setup(kernel, False, "out-of-place")
    if va0_mapped:
        steps = _va0(steps)
    expected = SOURCE_ZERO_OUTCOME[kernel][va0_mapped]
    steps += [init_mem_region(0, 0, label="add"), finalize()]
    if expected is None:  # a guest read of a never-added private GPA would AUG it: only read an added page
        steps.append(guest_read(0, 1, label="r"))
    out = run(steps, kernel, False)
    assert out["kernel"] == kernel
    st = step(out, "add")
    if expected is None:
        assert_ok(st)
        assert_page_added(st, 0, measured=True)
        assert step(out, "r")["data"] == b"Y".hex()
        assert out["final"]["mrtd"] == mrtd([(0, b"Y")])
    else:
        assert_errno(st, expected)
        assert_no_add(st)
        assert out["final"]["sept"] == {}
        assert out["final"]["mrtd"] == mrtd([])
