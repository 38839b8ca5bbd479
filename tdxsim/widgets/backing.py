"""Notebook 02's widget: in-place conversion on or off, how much of the guest is shared, and QEMU's discard.

Each change runs the scenario of tdxsim.lessons.backing for the chosen set-up and for the other models at the same
share, and shows `final.memory` per owner (bars, the chosen set-up outlined) above the chosen run's ownership map.
Updates set `HTML.value` / `Image.value` kernel-side, as every widget of the suite does.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cache

import ipywidgets as w

from tdxsim.lessons.backing import Setup, failed_steps, guest_backing, pages_per_owner, run
from tdxsim.plot import OwnershipView, ownership_legend, to_png
from tdxsim.plot.backing import memory_bars
from tdxsim.plot.style import WIDGET_DPI
from tdxsim.widgets.panel import IMAGE_LAYOUT, LEGEND_ALT, OWNERSHIP_ALT, AltImage, Panel, _image

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
    summary: w.HTML = field(default_factory=w.HTML)
    bars: w.Image = field(default_factory=lambda: _image("Pages allocated per GFN for the chosen memory model."))
    ownership: w.Image = field(default_factory=lambda: _image(OWNERSHIP_ALT))
    view: OwnershipView = field(default_factory=lambda: OwnershipView(dpi=DPI))


def summary_html(s: Setup) -> str:
    """The chosen run's `final.memory` in pages, and the guest's backing against its size."""
    _doc, out = run(s)
    rows = "".join(
        f"<tr><td><code>{html.escape(owner)}</code></td><td style='text-align:right'>{n}</td></tr>"
        for owner, n in pages_per_owner(out).items()
    )
    backing = guest_backing(out) // 4096
    failed = failed_steps(out)
    warn = f"<p style='color:#A63D00'>failed steps: {html.escape(str(failed))}</p>" if failed else ""
    return (
        f"<div style='font-size:15px'><p><b>{html.escape(s.label)}</b>: {backing} pages back {s.pages} GFNs "
        f"({backing / s.pages:.2f} per GFN), plus the TDX module's metadata.</p>"
        f"<table><tr><th>owner (final.memory)</th><th>pages</th></tr>{rows}</table>{warn}</div>"
    )


def backing_panel(in_place: bool = False, shared_pages: int = 16, discard: bool = False) -> w.VBox:
    """The toggles of notebook 02; every change reruns the scenarios (a few milliseconds each) and redraws."""
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
        runs = [Setup(ip, PAGES, s.shared_pages, d) for ip, d in MODELS]
        selected = runs.index(s)
        state.summary.value = summary_html(s)
        state.bars.value = to_png(memory_bars([(r.model, run(r)[1]) for r in runs], PAGES, selected), DPI)
        doc, out = run(s)
        state.ownership.value = state.view.render(out, doc)

    for ctl in c.values():
        ctl.observe(update, names="value")
    update()
    box = Panel(
        [
            c["in_place"],
            w.HBox([c["shared_pages"], c["discard"]]),
            state.summary,
            state.bars,
            state.ownership,
            AltImage(value=_legend_png(), format="png", layout=w.Layout(**IMAGE_LAYOUT), alt=LEGEND_ALT),
        ],
        lambda: f"backing: {state.setup.label} → {guest_backing(run(state.setup)[1]) // 4096} pages",
    )
    box.state, box.controls = state, c
    return box
