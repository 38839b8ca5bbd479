"""The notebook widgets (ipywidgets 8): a control panel over the seed thread's toggles, the seed thread's matrix as
a table to click through, a step player over the event record, and a "reveal the answer" toggle.

Each function builds and returns one widget; every update happens kernel-side by setting `HTML.value` and
`Image.value` (PNG bytes), so notebooks stay testable under strict nbval. The widget's `state` attribute holds what
it shows (the run, the toggles, the figures' data) for tests and readers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import ipywidgets as w
from traitlets import Unicode

from tdxsim.calls import Calls
from tdxsim.events import Event
from tdxsim.kvm.flavours import DEFAULT_FLAVOUR
from tdxsim.plot import (
    OwnershipView,
    call_timeline,
    machine_view,
    ownership_legend,
    sept_state_machine,
    sept_transitions,
    to_png,
)
from tdxsim.plot.style import ERRNO_STYLE, NOT_APPLICABLE, OTHER_ERRNO, WIDGET_DPI, figure
from tdxsim.plot.timeline import describe_event
from tdxsim.result import Result
from tdxsim.seed import (
    KERNELS,
    SOURCES,
    Cell,
    Toggles,
    explain_impossible,
    outcome_text,
    run_cell,
    run_matrix,
    td_gets,
)

DPI = WIDGET_DPI  # 2x the display width, as plot.show renders the stored figures
IMAGE_LAYOUT = {"width": "100%", "max_width": "1100px"}


def require_choice(widget: str, name: str, value: object, choices: list) -> None:
    """Refuse an argument a widget cannot show, with the choices it has, before any control is built."""
    if value not in choices:
        raise ValueError(f"{widget}: {name} must be one of {', '.join(map(repr, choices))}, not {value!r}")


@cache
def _blank_png(message: str) -> bytes:
    """A small placeholder picture that says why there is no figure."""
    fig = figure(10.0, 1.2)
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=14, color="#555555")
    return to_png(fig, DPI)


@cache
def _legend_png() -> bytes:
    return to_png(ownership_legend(), DPI)


class Panel(w.VBox):
    """A VBox whose text form is a one-line summary of what it shows (the text nbval compares), not PNG bytes."""

    def __init__(self, children: list[w.Widget], summary: Any, **kwargs: Any) -> None:
        super().__init__(children, **kwargs)
        self._summary = summary
        self.state: Any = None
        self.controls: dict[str, w.Widget] = {}

    def __repr__(self) -> str:
        return f"<{self._summary()}>"


_SEPT_PNGS: dict[tuple, bytes] = {}


def sept_png(events: list[Event]) -> bytes:
    """The S-EPT state machine for GPA 0's leaf as PNG; pictures are cached by the entry's history."""
    key = tuple((t.old, t.new, t.leaf) for t in sept_transitions(events, 0, 0))
    if key not in _SEPT_PNGS:
        _SEPT_PNGS[key] = to_png(sept_state_machine(events, 0, 0), DPI)
    return _SEPT_PNGS[key]


class AltImage(w.Image):
    """An Image widget that says what it shows. ipywidgets' Image has no alt text (and a `tooltip` stops the widgets'
    HTML manager 1.0 from rendering it), so `alt` travels in the saved widget state: tools/build-site turns each
    picture into an <img> with that alt text."""

    alt = Unicode("").tag(sync=True)


def _image(alt: str = "") -> AltImage:
    """An empty picture; `alt` says what it shows."""
    return AltImage(format="png", layout=w.Layout(**IMAGE_LAYOUT), alt=alt)


LEGEND_ALT = (
    "Legend of the ownership maps: each owner has its own colour and hatch; a solid outline marks a PAGE.ADD "
    "target, a dashed one its source."
)
OWNERSHIP_ALT = "Page ownership map for the settings above, by guest and by host physical address."
SEPT_ALT = "State machine of GPA 0's Secure-EPT entry, with the transitions of this run highlighted."


FAILED_INK = "#A63D00"  # a darker vermillion: 4.5:1 on white (WCAG AA) where #D55E00 is 3.9:1


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of #RRGGBB."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ink_on(face: str) -> str:
    """Black or white text, whichever contrasts more with the badge colour `face` (WCAG 2 contrast ratio)."""
    light = _luminance(face) + 0.05
    return "#000000" if light / 0.05 >= 1.05 / light else "#FFFFFF"


def _errno_badge(errno: str | None, text: str) -> str:
    face, _hatch, _ink = NOT_APPLICABLE if errno is None else ERRNO_STYLE.get(errno, OTHER_ERRNO)
    ink = "#555555" if errno is None else ink_on(face)
    return (
        f'<span style="background:{face};color:{ink};padding:2px 8px;border-radius:4px;'
        f'font-weight:bold;border:1px solid #555">{html.escape(text)}</span>'
    )


def calls_html(code: str) -> str:
    """ "Show the calls": the Python that makes the widget's calls again (`tdxsim.calls`), folded until opened."""
    return (
        "<details class='tdxsim-calls'><summary>Show the calls</summary>"
        f"<pre style='font-size:12px;white-space:pre-wrap'><code>{html.escape(code)}</code></pre></details>"
    )


def seamcall_summary(result: Result) -> str:
    """The call's SEAMCALLs in order, consecutive repeats folded: `TDH.MEM.SEPT.ADD ×3, TDH.MEM.PAGE.ADD`."""
    folded: list[list[Any]] = []
    for call in result.seamcalls:
        key = (call["leaf"], call["status"])
        if folded and folded[-1][0] == key:
            folded[-1][1] += 1
        else:
            folded.append([key, 1])
    parts = []
    for (leaf, status), n in folded:
        text = leaf + (f" ×{n}" if n > 1 else "") + ("" if status == "TDX_SUCCESS" else f" → {status}")
        parts.append(text)
    return ", ".join(parts) or "none"


def _adds(run: Calls) -> list[tuple[str, Result]]:
    return [(name, run[name]) for name in ("add", "add_again") if name in run.results]


def outcome_html(run: Calls) -> str:
    """What the cell's INIT_MEM_REGION returned, the SEAMCALLs it made, what the TD got, and the MRTD."""
    rows = []
    for name, result in _adds(run):
        rows.append(
            f"<tr><td><code>KVM_TDX_INIT_MEM_REGION</code>{' (again)' if name == 'add_again' else ''}</td>"
            f"<td>{_errno_badge(result.errno or 'OK', outcome_text(result))}</td>"
            f"<td>SEAMCALLs: {html.escape(seamcall_summary(result))}</td></tr>"
        )
    transitions = sept_transitions(run.vmm.trace.events, 0, 0)
    sept = "; ".join(f"{t.old} → {t.new} by {t.leaf}" for t in transitions) or "none: the entry stayed FREE"
    mrtd = (run.vmm.mrtd() or b"").hex()
    return (
        f"<div style='font-size:15px'><table>{''.join(rows)}</table>"
        f"<p>The TD's page at GPA 0 holds: <b>{html.escape(td_gets(run))}</b><br>"
        f"S-EPT leaf for GPA 0: {html.escape(sept)}<br>"
        f"MRTD after TDH.MR.FINALIZE: <code>{(mrtd or 'none')[:32]}…</code></p></div>"
    )


def _friendly(message: str) -> str:
    return (
        "<div style='font-size:15px;border-left:4px solid #E69F00;padding:4px 10px;background:#FFF8E6'>"
        f"{html.escape(message)}</div>"
    )


@dataclass
class PanelState:
    """What the control panel shows now."""

    toggles: Toggles
    run: Calls | None = None
    message: str | None = None
    controls: dict[str, w.Widget] = field(default_factory=dict)
    view: OwnershipView = field(default_factory=lambda: OwnershipView(dpi=DPI))
    outcome: w.HTML = field(default_factory=w.HTML)
    calls: w.HTML = field(default_factory=w.HTML)
    ownership: w.Image = field(default_factory=lambda: _image(OWNERSHIP_ALT))
    sept: w.Image = field(default_factory=lambda: _image(SEPT_ALT))
    updates: int = 0


def control_panel(toggles: Toggles | None = None) -> w.VBox:
    """The seed thread's toggles: in-place conversion, source_addr, kernel, MEASURE, written while shared, add twice.

    Every change runs the toggles' calls (tdxsim.seed.run_cell) and shows the outcome, the calls, the ownership map and
    the S-EPT entry.
    """
    t = toggles or Toggles()
    state = PanelState(t)
    style = {"description_width": "190px"}
    wide = w.Layout(width="560px")
    c = state.controls
    c["in_place"] = w.ToggleButtons(
        options=[("off", False), ("on", True)], value=t.in_place, description="in-place conversion", style=style
    )
    c["source"] = w.Dropdown(
        options=[(label, key) for key, label in SOURCES.items()],
        value=t.source if t.source in SOURCES else None,
        description="source_addr",
        style=style,
        layout=wide,
    )
    c["kernel"] = w.Dropdown(
        options=list(KERNELS),
        value=t.kernel if t.kernel in KERNELS else None,
        description="kernel",
        style=style,
        layout=wide,
    )
    c["measure"] = w.Checkbox(value=t.measure, description="MEASURE (KVM_TDX_MEASURE_MEMORY_REGION)", indent=False)
    c["written_while_shared"] = w.Checkbox(
        value=t.written_while_shared, description="image written while shared", indent=False
    )
    c["converted"] = w.Checkbox(value=t.converted, description="converted to private before the add", indent=False)
    c["add_twice"] = w.Checkbox(value=t.add_twice, description="add the same GPA twice", indent=False)

    def update(_change: object = None) -> None:
        state.updates += 1
        state.toggles = t2 = state.toggles.replace(**{name: ctl.value for name, ctl in c.items()})
        state.run = None
        state.message = explain_impossible(t2)
        if state.message is None:
            try:
                state.run = run_cell(t2)
            except Exception as exc:  # never a traceback in the notebook: say what could not be simulated
                state.message = f"The simulator could not run this combination: {exc}"
        if state.run is None:
            state.outcome.value = _friendly(state.message or "")
            state.calls.value = ""
            state.ownership.value = _blank_png("no figure: this combination cannot be built")
            state.sept.value = _blank_png("no S-EPT change")
            return
        state.outcome.value = outcome_html(state.run)
        state.calls.value = calls_html(state.run.code)
        state.ownership.value = state.view.render(*machine_view(state.run.vmm))
        state.sept.value = sept_png(state.run.vmm.trace.events)

    for ctl in c.values():
        ctl.observe(update, names="value")
    update()
    checks = w.HBox([c["measure"], c["written_while_shared"], c["converted"], c["add_twice"]])
    legend = AltImage(value=_legend_png(), format="png", layout=w.Layout(**IMAGE_LAYOUT), alt=LEGEND_ALT)
    box = Panel(
        [
            c["in_place"],
            c["source"],
            c["kernel"],
            checks,
            state.outcome,
            state.calls,
            state.ownership,
            legend,
            state.sept,
        ],
        lambda: f"control panel: {describe_toggles(state.toggles)} → {describe_result(state)}",
    )
    box.state, box.controls = state, c
    return box


def describe_toggles(t: Toggles) -> str:
    """The toggles in one line."""
    return (
        f"kernel {t.kernel}, in-place {'on' if t.in_place else 'off'}, source_addr {SOURCES.get(t.source, t.source)}"
        + ("" if t.measure else ", no MEASURE")
        + ("" if t.written_while_shared else ", nothing written")
        + ("" if t.converted else ", left shared")
        + (", added twice" if t.add_twice else "")
    )


def describe_result(state: PanelState) -> str:
    """The outcome in one line: the INIT_MEM_REGION result(s), or why there is none."""
    if state.run is None:
        return "no run: " + (state.message or "")[:60]
    return ", then ".join(outcome_text(result) for _name, result in _adds(state.run))


# -- the seed thread's matrix as a table -------------------------------------------------------------------------


@dataclass
class MatrixState:
    """The matrix and the selected cell."""

    cells: list[list[Cell]]
    row: int = 0
    column: int = 0
    table: w.HTML = field(default_factory=w.HTML)
    detail: w.HTML = field(default_factory=w.HTML)
    ownership: w.Image = field(default_factory=_image)
    sept: w.Image = field(default_factory=_image)
    view: OwnershipView = field(default_factory=lambda: OwnershipView(dpi=DPI))

    @property
    def cell(self) -> Cell:
        """The selected cell."""
        return self.cells[self.row][self.column]


def matrix_html(cells: list[list[Cell]], selected: tuple[int, int] | None = None) -> str:
    """The matrix as an HTML table: errno badges, what the TD got, and each cell's source with its lore link."""
    head = "".join(f"<th>kernel {html.escape(cell.kernel)}</th>" for cell in cells[0])
    body = []
    for r, row in enumerate(cells):
        tds = []
        for c, cell in enumerate(row):
            border = "outline:4px solid black;" if selected == (r, c) else ""
            if cell.run is None:
                tds.append(f"<td style='{border}color:#595959'>n/a</td>")
                continue
            src = cell.source
            link = html.escape(src.short) if src is not None else ""
            if src is not None and src.url:
                link = f"<a href='{src.url}' target='_blank'>{link}</a>"
            tds.append(
                f"<td style='{border}'>{_errno_badge(cell.errno, cell.text)}<br>"
                f"<small>TD gets: {html.escape(td_gets(cell.run))}</small><br><small>{link}</small></td>"
            )
        body.append(f"<tr><th style='text-align:right'>{html.escape(row[0].row.label)}</th>{''.join(tds)}</tr>")
    return f"<table style='font-size:13px'><tr><th></th>{head}</tr>{''.join(body)}</table>"


LIVE_CLASS = "tdxsim-live"  # works without a kernel: every view is precomputed and switched in the page


def _cell_view(cell: Cell, view: OwnershipView, pictures: dict[bytes, w.Image]) -> w.VBox:
    """One cell's precomputed view: what happened and why (with its source), the ownership map, the S-EPT entry.

    Identical pictures are one Image widget shown in several places (the saved widget state stays small)."""

    def picture(png: bytes, alt: str) -> AltImage:
        if png not in pictures:
            pictures[png] = AltImage(value=png, format="png", layout=w.Layout(**IMAGE_LAYOUT), alt=alt)
        return pictures[png]

    where = f"{cell.row.label}, kernel {cell.kernel}"
    if cell.run is None:
        return w.VBox(
            [
                w.HTML(_friendly(cell.why_not or "This cell does not exist.")),
                picture(
                    _blank_png("no figure: this kernel has no such setting"), f"No figure: no such cell ({where})."
                ),
            ]
        )
    source = cell.source
    ref = "" if source is None else f" — source: {html.escape(source.ref)}"
    if source is not None and source.url:
        ref = f" — source: <a href='{source.url}' target='_blank'>{html.escape(source.ref)}</a>"
    detail = f"<p><b>{html.escape(cell.row.label)}</b>, kernel {cell.kernel}{ref}</p>" + outcome_html(cell.run)
    own_alt = f"Page ownership map after {where}: KVM_TDX_INIT_MEM_REGION returned {cell.text}."
    events = cell.run.vmm.trace.events
    sept = sept_transitions(events, 0, 0)
    sept_alt = "S-EPT state machine of GPA 0's leaf: " + (
        "; ".join(f"{t.old} to {t.new} by {t.leaf}" for t in sept) or "the entry stayed FREE"
    )
    return w.VBox(
        [
            w.HTML(detail + calls_html(cell.run.code)),
            picture(view.render(*machine_view(cell.run.vmm)), own_alt),
            picture(sept_png(events), sept_alt),
        ]
    )


def seed_matrix(cells: list[list[Cell]] | None = None) -> w.VBox:
    """The seed thread as a table: pick a row and a kernel; the selected cell's outcome, ownership map and S-EPT follow.

    Works without a kernel: every cell's view is computed here, and the two pickers are jslinked to the
    `selected_index` of nested Stacks (scenario → kernel), so a static page (nbviewer, the site) switches views in
    the browser. The kernel-side observers only keep `state` in step for tests and readers.
    """
    state = MatrixState(cells or run_matrix())
    row = w.Dropdown(
        options=[(cell_row[0].row.label, i) for i, cell_row in enumerate(state.cells)],
        value=0,
        description="scenario",
        layout=w.Layout(width="520px"),
    )
    column = w.ToggleButtons(
        options=[(k, i) for i, k in enumerate(KERNELS)], value=KERNELS.index(DEFAULT_FLAVOUR), description="kernel"
    )
    pictures: dict[bytes, w.Image] = {}
    inner = [
        w.Stack([_cell_view(cell, state.view, pictures) for cell in cell_row], selected_index=column.index)
        for cell_row in state.cells
    ]
    outer = w.Stack(inner, selected_index=row.index)
    outer.add_class("tdxsim-views")
    w.jslink((row, "index"), (outer, "selected_index"))
    for stack in inner:
        w.jslink((column, "index"), (stack, "selected_index"))
    state.table.value = matrix_html(state.cells)

    def update(_change: object = None) -> None:
        state.row, state.column = row.value, column.value
        outer.selected_index = row.index
        for stack in inner:
            stack.selected_index = column.index
        view = inner[state.row].children[state.column]
        state.detail, state.ownership = view.children[0], view.children[1]
        state.sept = view.children[2] if len(view.children) > 2 else view.children[1]

    row.observe(update, names="value")
    column.observe(update, names="value")
    update()
    note = w.HTML(
        "<p class='tdxsim-live-note'>Live without Python: pick a scenario and a kernel, and the outcome below "
        "follows (every cell was computed by the simulator beforehand).</p>"
    )
    box = Panel(
        [note, row, column, outer, state.table],
        lambda: f"seed matrix: {state.cell.row.label}, kernel {state.cell.kernel} → {state.cell.text}",
    )
    box.add_class(LIVE_CLASS)
    box.state, box.controls = state, {"row": row, "column": column, "views": outer}
    return box


# -- the step player ---------------------------------------------------------------------------------------------


@dataclass
class PlayerState:
    """The event record being played and the current position."""

    events: list[Event]
    steps: list[tuple[int, dict[str, Any]]]
    start: int
    stop: int
    index: int = 0
    text: w.HTML = field(default_factory=w.HTML)
    image: w.Image = field(
        default_factory=lambda: _image("Call timeline around the current event, which is highlighted.")
    )


def step_player(run: Calls, label: str = "add", window: int = 14) -> w.VBox:
    """Step through the events of one named call (default: the INIT_MEM_REGION): previous, next, play."""
    require_choice("step_player", "label", label, list(run.results))
    if window < 1:
        raise ValueError(f"step_player: window must be at least 1, not {window!r}")
    marks = [mark for mark, _name, _result in run.history] + [len(run.vmm.trace.events)]
    i = next(k for k, (_mark, name, _result) in enumerate(run.history) if name == label)
    state = PlayerState(run.vmm.trace.events, run.step_marks, marks[i], max(marks[i + 1], marks[i] + 1))
    last = state.stop - state.start - 1
    slider = w.IntSlider(value=0, min=0, max=max(last, 0), description="event", continuous_update=False)
    play = w.Play(value=0, min=0, max=max(last, 0), interval=700, description="play")
    w.jslink((play, "value"), (slider, "value"))
    prev_b = w.Button(description="◀ previous", layout=w.Layout(width="120px"))
    next_b = w.Button(description="next ▶", layout=w.Layout(width="120px"))

    def show(_change: object = None) -> None:
        state.index = state.start + slider.value
        if not state.events or state.index >= len(state.events):
            state.text.value = _friendly("This step recorded no events.")
            state.image.value = _blank_png("no events")
            return
        ev = state.events[state.index]
        text, failed = describe_event(ev)
        colour = FAILED_INK if failed else "#000000"
        state.text.value = (
            f"<p style='font-size:15px'>event {slider.value + 1} of {last + 1} — layer <b>{ev.layer}</b>, "
            f"{ev.kind}: <span style='color:{colour}'><code>{html.escape(text)}</code></span></p>"
        )
        lo = max(state.start, state.index - window // 2)
        hi = min(state.stop, lo + window)
        fig = call_timeline(state.events, state.steps, lo, hi, highlight=state.index)
        state.image.value = to_png(fig, DPI)

    prev_b.on_click(lambda _b: setattr(slider, "value", max(slider.min, slider.value - 1)))
    next_b.on_click(lambda _b: setattr(slider, "value", min(slider.max, slider.value + 1)))
    slider.observe(show, names="value")
    show()
    box = Panel(
        [w.HBox([prev_b, play, next_b, slider]), state.text, state.image],
        lambda: f"step player: event {state.index - state.start + 1} of {state.stop - state.start}",
    )
    box.state, box.controls = state, {"slider": slider, "play": play, "previous": prev_b, "next": next_b}
    return box


# -- reveal the answer -------------------------------------------------------------------------------------------


def reveal(answer_html: str, label: str = "Reveal the answer") -> w.VBox:
    """A choice that shows the answer to an exercise only when picked (OSTEP's -c).

    Works without a kernel: the buttons are jslinked to a Stack's selected_index (hidden | answer)."""
    button = w.ToggleButtons(options=[("Hide the answer", 0), (label, 1)], index=0, description="answer")
    answer = w.HTML(value=answer_html)
    views = w.Stack([w.HTML(value=""), answer], selected_index=0)
    views.add_class("tdxsim-views")
    w.jslink((button, "index"), (views, "selected_index"))

    def flip(_change: object = None) -> None:
        views.selected_index = button.index

    button.observe(flip, names="index")
    box = Panel([button, views], lambda: f"reveal: {'shown' if views.selected_index == 1 else 'hidden'}")
    box.add_class(LIVE_CLASS)
    box.controls = {"button": button, "answer": answer, "views": views}
    return box
