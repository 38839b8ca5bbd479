"""Notebook 01's widget: pick a reader and a page, and the simulator tries the read.

Built like the other widgets (tdxsim.widgets.panel): a function returns the widget, every update sets `HTML.value`
and `Image.value` kernel-side, and the widget's text form is a one-line summary of what it shows.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cache

import ipywidgets as w

from tdxsim.calls import code_of
from tdxsim.lessons.readers import ACTORS, PAGES, SHARED_GFN, Read, read_page, shared_mask, small_td
from tdxsim.plot import to_png
from tdxsim.plot.actors import address_bar, three_boxes
from tdxsim.plot.style import WIDGET_DPI
from tdxsim.vmm.process import Vmm
from tdxsim.widgets.panel import Panel, _image, calls_html, ink_on, require_choice

DPI = WIDGET_DPI  # 2x the display width, as plot.show renders the stored figures
#: Badge colours by outcome (Okabe–Ito, as tdxsim.plot.style); the text colour is ink_on(face).
OUTCOME_STYLE = {
    "plaintext": "#009E73",
    "zeros": "#F0E442",
    "SIGBUS": "#D55E00",
    "KVM_EXIT_MEMORY_FAULT": "#E69F00",
    "no address": "#DDDDDD",
}


@cache
def _boxes_png(actor: str) -> bytes:
    return to_png(three_boxes(actor), DPI)


@cache
def _bar_png(gpa: int, gpaw: int) -> bytes:
    return to_png(address_bar(gpa, gpaw), DPI)


def read_html(r: Read) -> str:
    """The read as a card: who, which address, each hop of the path, and what came back."""
    face = OUTCOME_STYLE.get(r.outcome, "#0072B2")
    ink = ink_on(face)
    badge = (
        f"<span style='background:{face};color:{ink};padding:2px 8px;border-radius:4px;font-weight:bold;"
        f"border:1px solid #555'>{html.escape(r.text)}</span>"
    )
    hops = "".join(f"<li>{html.escape(hop)}</li>" for hop in r.path)
    address = html.escape(r.address) if r.address else "none"
    return (
        f"<div style='font-size:15px'><p><b>{html.escape(ACTORS[r.actor])}</b> reads "
        f"<i>{html.escape(PAGES[r.page])}</i> — address used: <code>{address}</code></p>"
        f"<ol>{hops}</ol><p>Result: {badge}</p></div>"
    )


@dataclass
class ReaderState:
    """What the widget shows now."""

    read: Read | None = None
    vmm: Vmm | None = None  # the machine of the last read
    card: w.HTML = field(default_factory=w.HTML)
    calls: w.HTML = field(default_factory=w.HTML)  # the TD's set-up and the read's calls
    boxes: w.Image = field(default_factory=lambda: _image("Host, TDX module and TD; the reader is marked."))
    bar: w.Image = field(default_factory=lambda: _image("The GPA as bits; the shared bit is marked."))


def who_can_read(actor: str = "vmm", page: str = "image", shared_bit: bool = False, gpaw: int = 48) -> w.VBox:
    """Choose a reader, a page, the TD's shared bit and GPAW; each change builds the TD afresh (`small_td`, the
    chapter's recipe calls) and tries the read."""
    require_choice("who_can_read", "actor", actor, list(ACTORS))
    require_choice("who_can_read", "page", page, list(PAGES))
    require_choice("who_can_read", "gpaw", gpaw, [48, 52])
    state = ReaderState()
    style = {"description_width": "120px"}
    c = {
        "actor": w.ToggleButtons(
            options=[(label.split(" (")[0], key) for key, label in ACTORS.items()],
            value=actor,
            description="reader",
            style=style,
        ),
        "page": w.Dropdown(
            options=[(label, key) for key, label in PAGES.items()],
            value=page,
            description="page",
            style=style,
            layout=w.Layout(width="640px"),
        ),
        "shared_bit": w.Checkbox(value=shared_bit, description="the TD sets the shared bit", indent=False),
        "gpaw": w.ToggleButtons(options=[("GPAW 48", 48), ("GPAW 52", 52)], value=gpaw, description="TD", style=style),
    }

    def update(_change: object = None) -> None:
        state.vmm, binding = small_td(c["gpaw"].value)
        r = read_page(state.vmm, binding, c["actor"].value, c["page"].value, c["shared_bit"].value)
        state.read = r
        state.card.value = read_html(r)
        state.calls.value = calls_html(code_of(state.vmm))
        state.boxes.value = _boxes_png(r.actor)
        gfn = 0 if r.page != "shared" else SHARED_GFN
        gpa = gfn * 4096 | (shared_mask(c["gpaw"].value) if c["shared_bit"].value else 0)
        state.bar.value = _bar_png(gpa, c["gpaw"].value)

    for ctl in c.values():
        ctl.observe(update, names="value")
    update()
    box = Panel(
        [c["actor"], c["page"], w.HBox([c["shared_bit"], c["gpaw"]]), state.card, state.calls, state.boxes, state.bar],
        lambda: (
            f"who can read: {state.read.actor} reads {state.read.page} at {state.read.address or 'no address'}"
            f" → {state.read.text}"
        ),
    )
    box.state, box.controls = state, c
    return box
