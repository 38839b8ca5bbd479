"""Notebook 08's widget: step the populate path, a userspace fault on guest_memfd and (optionally) a third VMM
thread calling mmap(), one lock operation at a time, before or since commit 2a62345b3052, and see who sleeps on
what. Updates are kernel-side only (HTML.value, Image.value with PNG bytes), as in tdxsim.widgets.panel.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import ipywidgets as w

from tdxsim.calls import python
from tdxsim.kvm.locking import DEADLY_SCHEDULE, ERAS, MMAP_WRITER, Interleaving, run_schedule
from tdxsim.plot.locks import interleaving_figure
from tdxsim.plot.style import FAIL, WIDGET_DPI, to_png
from tdxsim.widgets.panel import Panel, _image, calls_html, require_choice

DPI = WIDGET_DPI  # 2x the display width, as plot.show renders the stored figures


@dataclass
class StepperState:
    """The era, whether the mmap() thread runs, and the interleaving so far."""

    era: str
    writer: bool
    run: Interleaving
    text: w.HTML = field(default_factory=w.HTML)
    image: w.Image = field(
        default_factory=lambda: _image("The two threads' steps so far, with the locks each holds and waits for.")
    )
    presses: list[str] = field(default_factory=list)
    calls: w.HTML = field(default_factory=w.HTML)


def stepper_code(era: str, writer: bool, presses: list[str]) -> str:
    """The interleaving the stepper shows, as calls on the lock-order model (tdxsim.kvm.locking)."""
    paths = "[populate, fault, locking.MMAP_WRITER]" if writer else "[populate, fault]"
    lines = [f"populate, fault = locking.ERAS[{era!r}]", f"run = locking.run_schedule({paths}, {presses!r})"]
    lines.append("print(run.deadlock() or 'no deadlock')")
    return python({"from tdxsim.kvm import locking"}, lines)


def _new_run(era: str, writer: bool) -> Interleaving:
    populate, fault = ERAS[era]
    return Interleaving([populate, fault, MMAP_WRITER] if writer else [populate, fault])


def status_html(state: StepperState) -> str:
    """The last step and the verdict in two lines."""
    run = state.run
    cycle = run.deadlock()
    last = ""
    if run.log:
        thread, op, what = run.log[-1]
        last = f"last step: <b>{html.escape(thread)}</b> — {html.escape(op.describe())}" + (
            " — <b>sleeps</b>" if what == "waits" else ""
        )
    if cycle:
        verdict = f"<b style='color:{FAIL}'>Deadlock:</b> " + " waits for ".join(
            html.escape(t) for t in [*cycle, cycle[0]]
        )
    elif all(run.finished(t) for t in run.paths):
        verdict = "<b>Every thread finished.</b>"
    else:
        verdict = "can run: " + ", ".join(f"<b>{html.escape(t)}</b>" for t in run.paths if run.can_step(t))
    return f"<div style='font-size:15px'>{verdict}<br>{last}</div>"


def lock_stepper(era: str = "before 2a62345b3052", writer: bool = True) -> w.VBox:
    """Buttons that run one thread one step; the era and the mmap() thread are toggles; "the deadly interleaving"
    replays DEADLY_SCHEDULE. Returns the widget; `.state` holds the interleaving."""
    require_choice("lock_stepper", "era", era, list(ERAS))
    state = StepperState(era, writer, _new_run(era, writer))
    era_ctl = w.ToggleButtons(options=list(ERAS), value=era, description="kernel")
    writer_ctl = w.Checkbox(
        value=writer, description="a third VMM thread calls mmap() (mmap_lock for write)", indent=False
    )
    buttons = {
        thread: w.Button(description=f"step {thread}", layout=w.Layout(width="160px"))
        for thread in ("populate", "fault", "mmap()")
    }
    deadly = w.Button(description="the deadly interleaving", layout=w.Layout(width="200px"))
    reset = w.Button(description="reset", layout=w.Layout(width="100px"))

    def show() -> None:
        state.text.value = status_html(state)
        state.calls.value = calls_html(stepper_code(state.era, state.writer, state.presses))
        state.image.value = to_png(interleaving_figure(state.run), DPI)
        for thread, button in buttons.items():
            button.disabled = thread not in state.run.paths or not state.run.can_step(thread)

    def restart(_change: object = None) -> None:
        state.era, state.writer = era_ctl.value, writer_ctl.value
        state.run = _new_run(state.era, state.writer)
        state.presses = []
        show()

    def press(thread: str) -> None:
        state.presses.append(thread)
        state.run.step(thread)
        show()

    def replay(_b: object = None) -> None:
        populate, fault = ERAS[state.era]
        paths = [populate, fault, MMAP_WRITER] if state.writer else [populate, fault]
        state.presses = list(DEADLY_SCHEDULE)
        state.run = run_schedule(paths, DEADLY_SCHEDULE)
        show()

    for thread, button in buttons.items():
        button.on_click(lambda _b, t=thread: press(t))
    deadly.on_click(replay)
    reset.on_click(restart)
    era_ctl.observe(restart, names="value")
    writer_ctl.observe(restart, names="value")
    show()

    def summary() -> str:
        cycle = state.run.deadlock()
        verdict = "deadlock" if cycle else "no deadlock"
        return f"lock stepper: {state.era}, {'with' if state.writer else 'without'} mmap(), {verdict}"

    box = Panel(
        [era_ctl, writer_ctl, w.HBox([*buttons.values(), deadly, reset]), state.text, state.calls, state.image],
        summary,
    )
    box.state = state
    box.controls = {"era": era_ctl, "writer": writer_ctl, "deadly": deadly, "reset": reset, **buttons}
    return box
