"""Every chapter figure fits its canvas: no text, legend or patch reaches past the figure's edges (chapter 09's
ownership legend was once cropped on both sides), and the stored PNG is crisp (≥ 2× its display width).

Each figure is built as the chapters build it (notebooks/NN-*.py), rendered at the chapters' display scale, and every
visible artist's extent — clipped to its clip box, as drawn — is checked against the figure's box.
"""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image

from tdxsim import plot
from tdxsim.plot.style import CRISP, DISPLAY_DPI, SLIDE_FIGURE_PX, SLIDE_TEXT_PX, for_slide, show, text_artists


def _chapter_figures() -> dict[str, Figure]:
    from test_nb05_measurement import pages_by_hand

    from tdxsim import Vmm, recipes
    from tdxsim.kvm import locking
    from tdxsim.lessons import conversions, doctor, lifecycle, readers
    from tdxsim.lessons.backing import Setup, build
    from tdxsim.plot.actors import address_bar, three_boxes
    from tdxsim.plot.backing import memory_bars
    from tdxsim.plot.locks import interleaving_figure, lock_order_figure
    from tdxsim.seed import Toggles, run_cell, run_matrix
    from tdxsim.tdvf import parse_tdvf
    from tdxsim.vmm.variants import diagnose

    td, _binding = readers.small_td()
    rows = lifecycle.run_variant("as QEMU does it")
    flow_events, flow_steps = lifecycle.timeline_steps(rows)
    labels = [r.label for r in rows]
    first = Vmm("v8")
    recipes.create_td(first)
    binding, _ = recipes.bind_guest_memfd(first, size=2 << 20)
    recipes.load_image(first, binding, gpa=0, data=bytes(4096))
    two = pages_by_hand([(0x1000, bytes(range(256)) * 16), (0x2000, None)])
    to_shared, oop = Vmm("v8"), Vmm("v8", gmem_in_place_conversion=False)
    map_gpa = conversions.convert(to_shared, to_shared=True, pages=1)["MapGPA"]
    conversions.convert(oop, to_shared=True, pages=1)
    in_place = run_cell(Toggles(in_place=True, source="zero"))
    out_of_place = run_cell(Toggles(in_place=False, source="buffer"))
    one_page = run_cell(Toggles(in_place=True, source="zero", image_pages=1))
    backing = [(s.model, *plot.machine_view(build(s))) for s in (Setup(in_place=False, discard=False), Setup())]
    before, _since = locking.ERAS.values()
    deadly = locking.run_schedule([*before, locking.MMAP_WRITER], locking.DEADLY_SCHEDULE)
    image = doctor.demo_image()
    sections = parse_tdvf(image)
    diagnosis = diagnose(image, None)
    reference = diagnosis.results[0].measurement.records
    two_pass = next(r for r in diagnosis.results if r.variant.name == "two-pass").measurement.records
    compare = [
        ("out-of-place, separate buffer", *plot.machine_view(out_of_place.vmm)),
        ("in-place, 0", *plot.machine_view(in_place.vmm)),
    ]
    return {
        "00/01/04 ownership map": plot.ownership_map(*plot.machine_view(td), legend=False),
        "ownership legend": plot.ownership_legend(),
        "01 three boxes": three_boxes(),
        "01 address bar": address_bar(readers.shared_mask(48) | 0xF000, 48),
        "02 ownership compare": plot.ownership_compare(backing),
        "02 memory bars": memory_bars(
            [(s.model, build(s)) for s in (Setup(False, discard=False), Setup(False, discard=True), Setup(True))], 64
        ),
        "03 sept tree": plot.sept_tree(first.trace.events, 0, root_level=3),
        "03 sept state machine": plot.sept_state_machine(first.trace.events, 0, 0),
        **{
            f"04 timeline, phase {n}": plot.call_timeline(
                flow_events,
                flow_steps,
                flow_steps[labels.index(first_call)][0],
                flow_steps[labels.index(last_call) + 1][0],
                title=n,
            )
            for n, first_call, last_call in (
                ("1 of 3", "KVM_TDX_INIT_VM", "KVM_TDX_INIT_VCPU"),
                ("2 of 3", "KVM_CREATE_GUEST_MEMFD", "KVM_TDX_INIT_MEM_REGION"),
                ("3 of 3", "KVM_TDX_FINALIZE_VM", "KVM_TDX_FINALIZE_VM"),
            )
        },
        "05 mrtd records": plot.mrtd_records(
            two.trace.events, lambda gpa: two.private_bytes(gpa, 256), two.mrtd().hex()
        ),
        "06 timeline": plot.call_timeline(map_gpa.events, [(0, {"op": map_gpa.op, "label": "MapGPA", **map_gpa})]),
        "06 sept state machine": plot.sept_state_machine(to_shared.trace.events, 0x1000, 0),
        "06 ownership compare": plot.ownership_compare(
            [("in-place", *plot.machine_view(to_shared)), ("out-of-place", *plot.machine_view(oop))]
        ),
        "07 outcome matrix": plot.outcome_matrix(run_matrix()),
        "07/09 ownership compare": plot.ownership_compare(compare),
        "07/09 ownership map with legend": plot.ownership_map(*plot.machine_view(out_of_place.vmm)),
        "09 ownership map with legend": plot.ownership_map(*plot.machine_view(in_place.vmm)),
        "07 sept tree": plot.sept_tree(one_page.events, 0),
        "07/09 mrtd records": plot.mrtd_records(
            one_page.events, lambda gpa: one_page.vmm.private_bytes(gpa, 256), one_page.vmm.mrtd().hex()
        ),
        "08/09 lock order": lock_order_figure(list(locking.ERAS.items())),
        "08 interleaving": interleaving_figure(deadly, "before 2a62345b3052: the deadly interleaving"),
        "10 record streams": plot.record_streams(sections, reference, two_pass, "two-pass"),
    }


FIGURES = _chapter_figures()


def _outside(fig: Figure, dpi: int) -> list[str]:
    """The visible artists whose drawn extent leaves the canvas by more than one pixel."""
    fig.set_dpi(dpi)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox.padded(1)
    hidden = set()  # the axis machinery of axes drawn with set_axis_off(): never drawn
    for ax in fig.axes:
        if not ax.axison:
            for part in (ax.xaxis, ax.yaxis, *ax.spines.values()):
                hidden.update(id(a) for a in part.findobj())
        else:  # ticks outside the view limits are not drawn
            for axis in (ax.xaxis, ax.yaxis):
                for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                    hidden.update(id(a) for a in tick.findobj())
                for tick in axis._update_ticks():
                    hidden.difference_update(id(a) for a in tick.findobj())
    bad = []
    for artist in fig.findobj(lambda a: a.get_visible() and a is not fig and a is not fig.patch):
        if id(artist) in hidden:
            continue
        if isinstance(artist, Text) and not artist.get_text().strip():
            continue
        try:
            box = artist.get_window_extent(renderer)
        except (NotImplementedError, TypeError, RuntimeError):
            continue
        if box is None or not np.isfinite(box.get_points()).all() or (box.width == 0 and box.height == 0):
            continue
        clip = artist.get_clip_box() if artist.get_clip_on() else None
        if clip is not None:
            box = Bbox.intersection(box, clip)
            if box is None:
                continue
        if box.x0 < canvas.x0 or box.x1 > canvas.x1 or box.y0 < canvas.y0 or box.y1 > canvas.y1:
            label = artist.get_text() if isinstance(artist, Text) else type(artist).__name__
            bad.append(f"{label!r} at {box.bounds}")
    return bad


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_artist_fits_inside_the_canvas(name):
    """At the display scale and at the stored (crisp) scale: text is hinted differently at each dpi."""
    fig = FIGURES[name]
    for dpi in (DISPLAY_DPI, CRISP * DISPLAY_DPI):
        outside = _outside(fig, dpi)
        assert outside == [], (name, dpi, outside)


@pytest.mark.parametrize("name", ["04 timeline, phase 2 of 3", "09 ownership map with legend"])
def test_stored_figures_are_crisp(name):
    """The stored PNG has twice the pixels of its display width, and ≥ 1200 px for a full-width (≥ 10 in) figure."""
    fig = FIGURES[name]
    image = show(fig)
    width, _height = Image.open(io.BytesIO(image.data)).size
    assert width == CRISP * image.width
    if fig.get_figwidth() >= 10:
        assert width >= 1200


def test_the_check_sees_a_cropped_label():
    """The check itself: a legend wider than its figure (chapter 09's old ownership legend) is reported."""
    from matplotlib.patches import Patch

    fig = plot.style.figure(4.0, 1.0)
    fig.legend(handles=[Patch(label=f"a long legend entry {i}") for i in range(4)], loc="lower center", ncol=4)
    assert _outside(fig, DISPLAY_DPI)


def _talk_figures() -> dict[str, Figure]:
    """The figures chapter 09 puts on slides, built as it builds them."""
    from tdxsim.kvm import locking
    from tdxsim.plot.locks import lock_order_figure
    from tdxsim.seed import Toggles, run_cell

    in_place = run_cell(Toggles(in_place=True, source="zero"))
    out_of_place = run_cell(Toggles(in_place=False, source="buffer"))
    runs = [
        ("out-of-place: a separate buffer", *plot.machine_view(out_of_place.vmm)),
        ("in-place: 0", *plot.machine_view(in_place.vmm)),
    ]
    return {
        "three actors": plot.ownership_map(*plot.machine_view(in_place.vmm)),
        "old world, new world": plot.ownership_compare(runs),
        "why GUP moved": lock_order_figure(list(locking.ERAS.items())),
    }


@pytest.mark.parametrize("name", list(_talk_figures()))
def test_talk_figures_fill_the_slide_with_text_a_room_can_read(name):
    """On a 1280 × 720 slide the figure fills its box (one side at the box's size), its smallest text is ≥ 18 px
    there, and every artist still fits the canvas after the text grew."""
    fig = _talk_figures()[name]
    image = for_slide(fig)
    scale = image.width / fig.get_figwidth()  # display px per inch
    height = fig.get_figheight() * scale
    box_w, box_h = SLIDE_FIGURE_PX
    assert image.width == pytest.approx(box_w, abs=2) or height == pytest.approx(box_h, abs=2)
    smallest = min(t.get_fontsize() for t in text_artists(fig)) / 72 * scale
    assert smallest >= SLIDE_TEXT_PX - 0.01, smallest
    assert _outside(fig, scale) == []
