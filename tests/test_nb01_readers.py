"""Notebook 01's readers (tdxsim.lessons.readers), figures (tdxsim.plot.actors) and widget (tdxsim.widgets.readers).

Expected values come from the sources, not from the code: SIGBUS for a host touch of a private guest_memfd page
(v8 cover letter; v8 01/46 kvm_gmem_fault_user_mapping), the shared bit at GPAW-1 (TDX_SHARED_BIT_PWL_4 = bit 47,
TDX_SHARED_BIT_PWL_5 = bit 51; arch/x86/kvm/vmx/tdx.c), "never plaintext" for a reader without the TD's KeyID
(private KeyIDs work only in SEAM mode, Documentation/arch/x86/tdx.rst; tdxsim returns zeros,
docs/fidelity.md).
"""

import pytest

from tdxsim import Vmm, recipes
from tdxsim.lessons import readers
from tdxsim.lessons.readers import IMAGE_TEXT, SHARED_TEXT, read_table, shared_mask
from tdxsim.platform import PAGE_SIZE

SECRET = IMAGE_TEXT.format(i=0).encode()


def read_page(actor, page, shared_bit=False, gpaw=48):
    """One reader on a fresh copy of the chapter's TD."""
    return readers.read_page(*readers.small_td(gpaw), actor, page, shared_bit)


def test_shared_bit_is_gpaw_minus_one():
    assert shared_mask(48) == 1 << 47
    assert shared_mask(52) == 1 << 51
    assert readers.is_shared_gpa(0x8_0000_0000_1000, 52)
    assert not readers.is_shared_gpa(0x1000, 48)
    assert readers.gpa_to_gfn(0x3000) == 3
    with pytest.raises(ValueError):
        shared_mask(50)


def test_the_recipes_build_the_td_cleanly():
    vmm, _binding = readers.small_td()
    assert vmm.td_state() == "TD_STATE_RUNNABLE"
    owners = {p["owner"] for p in vmm.describe_pages().values()}
    assert {"td_private", "guest_memfd_shared", "tdx_metadata"} <= owners
    assert [vmm.sept_state(i * PAGE_SIZE) for i in range(5)] == ["MAPPED"] * 4 + ["FREE"]


def test_vmm_touch_of_a_private_page_is_sigbus():
    r = read_page("vmm", "image")
    assert (r.outcome, r.data) == ("SIGBUS", None)


def test_host_kernel_never_sees_the_private_plaintext():
    r = read_page("kernel", "image")
    assert r.outcome == "zeros"
    assert SECRET not in (r.data or b"")


@pytest.mark.parametrize("actor", ["module", "td"])
def test_module_and_td_read_the_plaintext(actor):
    r = read_page(actor, "image")
    assert r.outcome == "plaintext"
    assert r.data.startswith(SECRET)


@pytest.mark.parametrize("gpaw", [48, 52])
def test_td_reads_the_shared_page_through_the_shared_alias_only(gpaw):
    shared = read_page("td", "shared", shared_bit=True, gpaw=gpaw)
    assert shared.data.startswith(SHARED_TEXT.encode())
    assert shared.address == f"GPA {(1 << (gpaw - 1)) | 0xF000:#x}"
    private_alias = read_page("td", "shared", shared_bit=False, gpaw=gpaw)
    assert private_alias.outcome == "KVM_EXIT_MEMORY_FAULT"


def test_shared_alias_of_a_private_page_exits_to_the_vmm():
    assert read_page("td", "image", shared_bit=True).outcome == "KVM_EXIT_MEMORY_FAULT"


def test_nobody_outside_the_host_names_the_tdr():
    assert read_page("vmm", "tdr").outcome == "no address"
    assert read_page("td", "tdr").outcome == "no address"
    assert read_page("kernel", "tdr").outcome == "zeros"


def test_read_table_shape_and_reads_are_independent():
    table = read_table(*readers.small_td())
    assert [len(row) for row in table] == [4, 4, 4]
    assert table[0][0].outcome == "SIGBUS"  # the VMM's failed read did not change the next reader's machine
    assert table[0][3].outcome == "plaintext"
    fresh = [[read_page(r.actor, r.page, r.page == "shared") for r in row] for row in table]
    assert [[(r.outcome, r.data) for r in row] for row in table] == [
        [(r.outcome, r.data) for r in row] for row in fresh
    ]


def test_unknown_names_are_refused():
    with pytest.raises(ValueError):
        read_page("hypervisor", "image")
    with pytest.raises(ValueError):
        read_page("vmm", "page 42")


def test_figures_have_their_size():
    from tdxsim.plot.actors import address_bar, three_boxes

    fig = three_boxes("module")
    assert tuple(fig.get_size_inches()) == (12.0, 4.6)
    assert any(p.get_gid() == "box:module" for p in fig.axes[0].patches)
    bar = address_bar(1 << 47, 48)
    assert "private" not in bar._suptitle.get_text()
    assert "shared alias" in bar._suptitle.get_text()
    with pytest.raises(ValueError):
        address_bar(0, 50)


def test_widget_every_combination():
    from tdxsim.widgets.readers import who_can_read

    box = who_can_read()
    c = box.controls
    assert "SIGBUS" in repr(box)
    for gpaw in (52, 48):
        c["gpaw"].value = gpaw
        for actor in readers.ACTORS:
            c["actor"].value = actor
            for page in readers.PAGES:
                c["page"].value = page
                for bit in (True, False):
                    c["shared_bit"].value = bit
                    assert box.state.read.outcome in {
                        "plaintext",
                        "zeros",
                        "SIGBUS",
                        "KVM_EXIT_MEMORY_FAULT",
                        "no address",
                    }
                    assert box.state.bar.value[:4] == b"\x89PNG"


# -- two TDs (tdxsim.lessons.readers.two_td_reads, tdxsim.plot.actors.two_tds) ------------------------------------
# Expected: each TD reads only its own page (Documentation/arch/x86/tdx.rst: each TD has its own private KeyID); the
# host's PAGE.AUG of the other TD's PT_REG frame is TDX_PAGE_METADATA_INCORRECT (intel/tdx-module TDX_1.5.01
# tdh_mem_page_aug.c: check_and_lock_free_range_hpa wants PT_NDA); HKIDs 17 and 18 (tdx_guest_keyid_alloc, lowest
# free of [17, 64)); SIGBUS and zeros for the host as for one TD (above).


TWO_TD_TEXT = (b"TD A's secret", b"TD B's secret")


@pytest.fixture(scope="module")
def cross():
    """Two TDs in one VMM, each built as the chapter builds them: one firmware page at GPA 0, added in place."""
    vmm, bindings = Vmm("v8"), []
    for text in TWO_TD_TEXT:
        recipes.create_td(vmm)
        binding, _ = recipes.bind_guest_memfd(vmm, size=16 * PAGE_SIZE)
        recipes.load_image(vmm, binding, gpa=0, data=text.ljust(PAGE_SIZE, b"\0"))
        recipes.run_guest(vmm)
        bindings.append(binding)
    return readers.two_td_reads(vmm, bindings)


def test_each_td_reads_only_its_own_page(cross):
    hkids, rows = cross
    assert hkids == [17, 18]
    outcome = {(c.reader, c.page): c.outcome for row in rows for c in row}
    assert outcome == {
        ("vmm", 0): "SIGBUS",
        ("vmm", 1): "SIGBUS",
        ("kernel", 0): "zeros",
        ("kernel", 1): "zeros",
        ("td0", 0): "plaintext",
        ("td0", 1): "refused",
        ("td1", 0): "refused",
        ("td1", 1): "plaintext",
    }
    own = {c.page: c.detail for row in rows for c in row if c.outcome == "plaintext"}
    assert own == {0: repr(TWO_TD_TEXT[0].decode()), 1: repr(TWO_TD_TEXT[1].decode())}
    assert {c.detail for row in rows for c in row if c.outcome == "refused"} == {
        "PAGE.AUG: TDX_PAGE_METADATA_INCORRECT"
    }


def test_two_tds_figure_has_a_cell_per_reader_and_page_and_alt_text(cross):
    from tdxsim.plot.actors import READ_OUTCOMES, two_tds, two_tds_alt

    hkids, rows = cross
    who = readers.two_td_readers(hkids)
    fig = two_tds(hkids, rows, who)
    gids = {p.get_gid() for p in fig.axes[0].patches}
    assert {g for g in gids if g.startswith("cell:")} == {
        f"cell:{c.reader}:{c.page}:{c.outcome}" for row in rows for c in row
    }
    assert {"page:0", "page:1"} <= gids
    hatches = {p.get_gid(): p.get_hatch() for p in fig.axes[0].patches}
    assert hatches["cell:td1:0:refused"] == READ_OUTCOMES["refused"][1] != READ_OUTCOMES["plaintext"][1]
    alt = two_tds_alt(hkids, rows, who)
    assert "TD B (HKID 18) on TD A's page (HKID 17): module refuses to map it" in alt
    assert alt.count(";") == 7  # eight cells, all described
