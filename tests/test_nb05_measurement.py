"""tdxsim.lessons.measurement and the chapter 05 widget.

Expected MRTDs are the independent worked examples of tests/data/mrtd-vectors.json (hashlib over the record layout of
intel/tdx-module TDX_1.5.01 sha384.h `sha384_128B_block_t`), written here as literals.
"""

import pytest

from tdxsim import Vmm, recipes
from tdxsim.lessons import measurement
from tdxsim.lessons.measurement import Variant
from tdxsim.platform import PAGE_SIZE

EMPTY = "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
ONE_ADD = "fcdabf6fdf38b87d2e3a89b1ab68c242abb261dffa70ef6f1dc2220c2752d2729cdf1be92afc2e0e4297f04e2b629552"
ADD_EXTEND = "15a8464628b6214951c4a1b57775507dd950263654e8790e257995b45013c84aba1d87a3bcbc1929b5f7db6d3e92cad6"


def pages_by_hand(pages: list[tuple[int, bytes | None]], in_place: bool = False) -> Vmm:
    """Chapter 05's calls: one memslot spanning the pages, each (gpa, content) added with its own
    KVM_TDX_INIT_MEM_REGION in the order given (content None: without KVM_TDX_MEASURE_MEMORY_REGION), finalized."""
    vmm = Vmm("v8", gmem_in_place_conversion=in_place)
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, size=max(gpa for gpa, _ in pages) + PAGE_SIZE)
    for gpa, content in pages:
        recipes.load_image(vmm, binding, gpa, content or bytes(PAGE_SIZE), measure=content is not None)
    recipes.run_guest(vmm)
    return vmm


def mrtd(pages: list[tuple[int, bytes | None]], in_place: bool = False) -> str:
    return pages_by_hand(pages, in_place).mrtd().hex()


@pytest.mark.parametrize("in_place", [False, True])
def test_worked_examples(in_place):
    assert mrtd([(0x1000, None)], in_place) == ONE_ADD
    content = bytes(range(256)) * 16
    assert mrtd([(0x1000, content)], in_place) == ADD_EXTEND
    assert EMPTY != ONE_ADD  # adding a page always changes MRTD


def test_order_matters():
    ab = mrtd([(0x0, None), (0x1000, None)])
    ba = mrtd([(0x1000, None), (0x0, None)])
    assert ab != ba


def test_small_image_variants():
    image = measurement.small_image()
    base = measurement.measure(image).mrtd
    assert measurement.flippable(image) == [(0, "BFV", True), (1, "CFV", False)]
    assert measurement.measure(image, Variant(flip=0)).mrtd != base  # measured section
    assert measurement.measure(image, Variant(flip=1)).mrtd == base  # unmeasured section
    assert measurement.measure(image, Variant(source_zero=True)).mrtd == base  # the source page is not measured
    assert measurement.measure(image, Variant(two_pass=True)).mrtd != base  # another record order


def test_flip_byte_refuses_a_section_without_file_bytes():
    with pytest.raises(ValueError, match="no byte"):
        measurement.flip_byte(measurement.small_image(), 2)


def test_mrtd_explorer_every_choice():
    """Same MRTD exactly when the order is single-pass and no measured byte was flipped, whatever the load."""
    from tdxsim.widgets.lessons import mrtd_explorer

    box = mrtd_explorer()
    c = box.controls
    assert "same MRTD" in repr(box)
    for image in c["image"].options:
        c["image"].value = image
        for label, flip in c["flip"].options:
            for load in (False, True):
                for order in (False, True):
                    c["flip"].value, c["load"].value, c["order"].value = flip, load, order
                    expect_same = not order and (flip is None or "not measured" in label)
                    assert (box.state.mrtd == box.state.baseline) == expect_same, (image, label, load, order)
