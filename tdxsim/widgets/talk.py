"""Live slides for a room (chapter 09): one control, one big result.

Every answer is computed when the slide is built and the control picks which one shows through a `jslink`, so the
slide also works in the exported deck, where no kernel runs. Sizes are for a 1280 × 720 slide: the result at 96 px,
its one-line explanation at 30 px, the control's labels at 24 px.
"""

from __future__ import annotations

import html

import ipywidgets as w

from tdxsim.calls import Calls
from tdxsim.plot.style import OKABE_ITO
from tdxsim.seed import Cell, Toggles, outcome, outcome_text, run_cell, td_gets

BIG_PX = 96
LINE_PX = 30
CONTROL_PX = 24


def _card(big: str, line: str, ok: bool) -> w.HTML:
    colour = OKABE_ITO["green"] if ok else OKABE_ITO["vermillion"]
    return w.HTML(
        f"<div style='text-align:center;margin-top:24px'>"
        f"<div style='font-size:{BIG_PX}px;font-weight:bold;line-height:1.1;color:{colour}'>{html.escape(big)}</div>"
        f"<div style='font-size:{LINE_PX}px;line-height:1.3;margin-top:12px'>{html.escape(line)}</div></div>"
    )


def _switch(labels: list[str], cards: list[w.HTML], value: int = 0) -> w.VBox:
    """One row of buttons and the card of the pressed one."""
    control = w.ToggleButtons(
        options=labels,
        index=value,
        style={"button_width": f"{max(160, 1100 // max(len(labels), 1))}px", "font_weight": "bold"},
        layout=w.Layout(justify_content="center"),
    )
    control.add_class("tdxsim-talk-control")
    stack = w.Stack(cards, selected_index=value)
    w.jslink((control, "index"), (stack, "selected_index"))
    box = w.VBox([control, stack], layout=w.Layout(align_items="center", width="100%", overflow="visible"))
    box.add_class("tdxsim-talk-live")
    return box


def kernel_switch(row: list[Cell], value: int = 0) -> w.VBox:
    """One matrix row, one kernel at a time: the kernel is the control, its errno the result."""
    cards = []
    for cell in row:
        line = f"kernel {cell.kernel}, {cell.row.label}"
        if cell.run is None:
            cards.append(_card("n/a", cell.why_not or line, False))
            continue
        ok = outcome(cell.run).ok
        gets = td_gets(cell.run) if ok else "nothing is added"
        cards.append(_card(cell.text, f"{line} → the TD's page: {gets}", ok))
    return _switch([cell.kernel for cell in row], cards, value)


def source_switch(kernel: str = "v8") -> w.VBox:
    """KVM_TDX_INIT_MEM_REGION on one kernel: the (in-place, source) setting is the control, the outcome the result."""
    choices = [
        ("in-place off · 0", Toggles(kernel=kernel, in_place=False, source="zero")),
        ("in-place on · 0", Toggles(kernel=kernel, in_place=True, source="zero")),
        ("a separate buffer", Toggles(kernel=kernel, in_place=True, source="buffer")),
    ]
    cards = []
    for label, toggles in choices:
        run = run_cell(toggles)
        ok = outcome(run).ok
        cards.append(
            _card(outcome_text(outcome(run)), f"{kernel}, {label}: " + (td_gets(run) if ok else "refused"), ok)
        )
    return _switch([label for label, _t in choices], cards)


def seamcall_stepper(run: Calls) -> w.VBox:
    """The SEAMCALLs of one KVM_TDX_INIT_MEM_REGION, one at a time: a slider is the control, the call the result."""
    calls = run["add"].seamcalls
    cards = []
    for call in calls:
        level = f", level {call['level']}" if "level" in call else ""
        where = f"GPA {hex(call['gpa'])}{level}" if "gpa" in call else "the TD"
        cards.append(_card(call["leaf"], f"{where} → {call['status']}", call["status"] == "TDX_SUCCESS"))
    slider = w.IntSlider(
        value=0,
        min=0,
        max=max(len(calls) - 1, 0),
        description="SEAMCALL",
        readout=False,
        layout=w.Layout(width="900px"),
    )
    slider.add_class("tdxsim-talk-control")
    stack = w.Stack(cards, selected_index=0)
    w.jslink((slider, "value"), (stack, "selected_index"))
    box = w.VBox([slider, stack], layout=w.Layout(align_items="center", width="100%", overflow="visible"))
    box.add_class("tdxsim-talk-live")
    return box
