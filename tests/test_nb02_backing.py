"""Notebook 02's set-ups (tdxsim.lessons.backing), figure (tdxsim.plot.backing) and widget (tdxsim.widgets.backing).

Expected values come from the sources: out-of-place, one GFN is backed by two different physical pages, the
guest_memfd page and the memslot's userspace_addr page, until the VMM discards one (v8 cover letter,
20260618-gmem-inplace-conversion-v8-0-9d2959357853@google.com); in-place, shared and private use the same page and only
the attribute flips (the same cover letter).
"""

import pytest

from tdxsim.lessons.backing import Setup, build, guest_backing, pages_per_owner


@pytest.mark.parametrize("in_place,discard", [(True, True), (False, True), (False, False)])
@pytest.mark.parametrize("shared", [0, 2, 16, 62])
def test_every_setup_runs_cleanly(in_place, discard, shared):
    vmm = build(Setup(in_place, 64, shared, discard))  # a failed call would raise RecipeError
    assert vmm.td_state() == "TD_STATE_RUNNABLE"
    assert [vmm.sept_state(gfn * 4096) for gfn in (0, 63 - shared)] == ["MAPPED", "MAPPED"]


def test_out_of_place_without_discard_backs_a_shared_gfn_twice():
    vmm = build(Setup(in_place=False, pages=64, shared_pages=16, discard=False))
    assert guest_backing(vmm) == 64 + 16
    pages = pages_per_owner(vmm)
    assert pages["guest_memfd_private"] == 16  # the private side, no longer in the TD, still allocated
    assert pages["host"] == 16  # the shared side: anonymous memory behind userspace_addr


def test_discard_and_in_place_back_each_gfn_once():
    for s in (Setup(False, 64, 16, True), Setup(True, 64, 16, True)):
        assert guest_backing(build(s)) == 64, s


def test_in_place_has_no_host_pages_behind_the_guest():
    pages = pages_per_owner(build(Setup(True, 64, 16)))
    assert "host" not in pages
    assert pages["guest_memfd_shared"] == 16
    assert pages["td_private"] == 48


def test_setup_is_validated():
    with pytest.raises(ValueError):
        Setup(pages=1)
    with pytest.raises(ValueError):
        Setup(pages=64, shared_pages=63)
    assert Setup(False, 64, 16, False).model == "out-of-place, no discard"


def test_memory_bars_size_and_bars():
    from tdxsim.plot.backing import memory_bars

    runs = [(s.model, build(s)) for s in (Setup(False, 64, 16, False), Setup(True, 64, 16))]
    fig = memory_bars(runs, 64, selected=0)
    assert tuple(fig.get_size_inches()) == (12.0, 2.2 + 0.6 * 2)
    assert len(fig.axes[0].patches) >= 5


def test_widget_extremes():
    from tdxsim.widgets.backing import backing_panel

    box = backing_panel()
    c = box.controls
    assert "80 pages" in repr(box)
    for in_place in (True, False):
        c["in_place"].value = in_place
        for discard in (True, False):
            c["discard"].value = discard
            for shared in (c["shared_pages"].min, c["shared_pages"].max):
                c["shared_pages"].value = shared  # a failed call would raise RecipeError here
                assert box.state.bars.value[:4] == b"\x89PNG"
                assert box.state.vmm.td_state() == "TD_STATE_RUNNABLE"
    c["in_place"].value = True
    assert c["discard"].disabled
