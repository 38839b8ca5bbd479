"""Notebook 02's widget: in-place conversion on or off, how much of the guest is shared, and QEMU's discard.

Each change builds the chosen set-up and the other models at the same share with `tdxsim.lessons.backing.build`
(recipe calls on a fresh machine), and shows each machine's pages per owner (bars, the chosen set-up outlined) above
the chosen machine's ownership map. Updates set `HTML.value` / `Image.value` kernel-side, as every widget of the
suite does.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cache

import ipywidgets as w

from tdxsim.calls import code_of
from tdxsim.lessons.backing import Setup, build, guest_backing, pages_per_owner
from tdxsim.plot import OwnershipView, machine_view, ownership_legend, to_png
from tdxsim.plot.backing import memory_bars
from tdxsim.plot.style import WIDGET_DPI
from tdxsim.vmm.process import Vmm
from tdxsim.widgets.panel import IMAGE_LAYOUT, LEGEND_ALT, OWNERSHIP_ALT, AltImage, Panel, _image, calls_html

DPI = WIDGET_DPI  # 2x the display width, as plot.show renders the stored figures
PAGES = 64
#: The models the bars compare, top to bottom: (in_place, discard).
MODELS = ((False, False), (False, True), (True, True))


@cache
def _legend_png() -> bytes:
    return to_png(ownership_legend(), DPI)


@dataclass
class BackingState:
    """What the widget shows now."""

    setup: Setup = field(default_factory=Setup)
    vmm: Vmm | None = None  # the chosen set-up's machine
    summary: w.HTML = field(default_factory=w.HTML)
    calls: w.HTML = field(default_factory=w.HTML)
    bars: w.Image = field(default_factory=lambda: _image("Pages allocated per GFN for the chosen memory model."))
    ownership: w.Image = field(default_factory=lambda: _image(OWNERSHIP_ALT))
    view: OwnershipView = field(default_factory=lambda: OwnershipView(dpi=DPI))


def summary_html(s: Setup, vmm: Vmm) -> str:
    """The machine's pages per owner, and the guest's backing against its size."""
    rows = "".join(
        f"<tr><td><code>{html.escape(owner)}</code></td><td style='text-align:right'>{n}</td></tr>"
        for owner, n in pages_per_owner(vmm).items()
    )
    backing = guest_backing(vmm)
    return (
        f"<div style='font-size:15px'><p><b>{html.escape(s.label)}</b>: {backing} pages back {s.pages} GFNs "
        f"({backing / s.pages:.2f} per GFN), plus the TDX module's metadata.</p>"
        f"<table><tr><th>owner</th><th>pages</th></tr>{rows}</table></div>"
    )


def backing_panel(in_place: bool = False, shared_pages: int = 16, discard: bool = False) -> w.VBox:
    """The toggles of notebook 02; every change rebuilds the machines (a few milliseconds each) and redraws."""
    state = BackingState()
    style = {"description_width": "190px"}
    c = {
        "in_place": w.ToggleButtons(
            options=[("off (per-VM attributes)", False), ("on (guest_memfd attributes)", True)],
            value=in_place,
            description="in-place conversion",
            style=style,
        ),
        "shared_pages": w.IntSlider(
            value=shared_pages,
            min=0,
            max=PAGES - 2,
            step=2,
            description="pages the guest shares",
            style=style,
            continuous_update=False,
            layout=w.Layout(width="560px"),
        ),
        "discard": w.Checkbox(value=discard, description="VMM discards the unused side (QEMU)", indent=False),
    }

    def update(_change: object = None) -> None:
        s = Setup(c["in_place"].value, PAGES, c["shared_pages"].value, c["discard"].value or c["in_place"].value)
        state.setup = s
        c["discard"].disabled = s.in_place
        setups = [Setup(ip, PAGES, s.shared_pages, d) for ip, d in MODELS]
        machines = [(r.model, build(r)) for r in setups]
        selected = setups.index(s)
        state.vmm = machines[selected][1]
        state.summary.value = summary_html(s, state.vmm)
        state.bars.value = to_png(memory_bars(machines, PAGES, selected), DPI)
        state.ownership.value = state.view.render(*machine_view(state.vmm))
        state.calls.value = calls_html(code_of(state.vmm))

    for ctl in c.values():
        ctl.observe(update, names="value")
    update()
    box = Panel(
        [
            c["in_place"],
            w.HBox([c["shared_pages"], c["discard"]]),
            state.summary,
            state.calls,
            state.bars,
            state.ownership,
            AltImage(value=_legend_png(), format="png", layout=w.Layout(**IMAGE_LAYOUT), alt=LEGEND_ALT),
        ],
        lambda: f"backing: {state.setup.label} → {guest_backing(state.vmm)} pages",
    )
    box.state, box.controls = state, c
    return box
