"""The widgets of chapters 03-06 (ipywidgets 8): each function builds and returns one widget that re-runs the
simulator on every change and shows the result kernel-side (HTML.value, Image.value with PNG bytes), so the
notebooks pass strict nbval. The widget's `state` holds what it shows, for tests.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from tdxsim import recipes
from tdxsim.calls import code_of, function_call, python
from tdxsim.lessons import conversions, doctor, lifecycle, measurement, pagetables
from tdxsim.platform import PAGE_SIZE
from tdxsim.plot import (
    call_timeline,
    machine_view,
    ownership_legend,
    ownership_map,
    sept_state_machine,
    sept_transitions,
    sept_tree,
    to_png,
)
from tdxsim.plot.style import WIDGET_DPI, figure
from tdxsim.result import Result
from tdxsim.vmm.firmware import measure_firmware
from tdxsim.vmm.process import Vmm
from tdxsim.widgets.panel import FAILED_INK, LEGEND_ALT, AltImage, Panel, calls_html, require_choice

DPI = WIDGET_DPI  # 2x the display width, as plot.show renders the stored figures
IMAGE_LAYOUT = {"width": "100%", "max_width": "1000px"}
NOTE = "<div style='font-size:15px;border-left:4px solid #E69F00;padding:4px 10px;background:#FFF8E6'>{}</div>"


def _image(alt: str) -> w.Image:
    """An empty picture; `alt` says what it shows (the site's alt text)."""
    return AltImage(format="png", layout=w.Layout(**IMAGE_LAYOUT), alt=alt)


def _blank(message: str) -> bytes:
    fig = figure(10.0, 1.0)
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=14, color="#555555")
    return to_png(fig, DPI)


def _table(header: list[str], rows: list[list[str]], bold: int | None = None) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        style = "background:#F0E442;font-weight:bold" if i == bold else ""
        cells = "".join(f"<td style='padding:2px 8px'>{c}</td>" for c in row)
        body.append(f"<tr style='{style}'>{cells}</tr>")
    return f"<table style='font-size:14px;border-collapse:collapse'><tr>{head}</tr>{''.join(body)}</table>"


#: PNGs of the S-EPT figures, by what they show (the same first add draws the same pictures every time).
_PNGS: dict[tuple, bytes] = {}


# -- chapter 03: the S-EPT walk of a first add ------------------------------------------------------------------


@dataclass
class WalkState:
    """The TD built for the chosen GPA and GPAW, and the S-EPT change being shown."""

    gpa: int = 0
    gpaw: int = 48
    vmm: Vmm | None = None
    add: Result | None = None  # the KVM_TDX_INIT_MEM_REGION, or the call that failed before it
    changes: list = field(default_factory=list)  # the S-EPT transitions of the INIT_MEM_REGION, in order
    position: int = 0
    text: w.HTML = field(default_factory=w.HTML)
    calls: w.HTML = field(default_factory=w.HTML)
    tree: w.Image = field(default_factory=lambda: _image("The Secure-EPT walk for the chosen GPA, level by level."))
    machine: w.Image = field(default_factory=lambda: _image("State machine of the chosen GPA's Secure-EPT entry."))


def sept_walk(gpa: int = 0, gpaw: int = 48) -> w.VBox:
    """Pick a GPA and a GPAW; step through the S-EPT changes of the first KVM_TDX_INIT_MEM_REGION there."""
    require_choice("sept_walk", "gpa", gpa, list(pagetables.GPAS.values()))
    require_choice("sept_walk", "gpaw", gpaw, [48, 52])
    state = WalkState(gpa, gpaw)
    gpa_ctl = w.Dropdown(
        options=list(pagetables.GPAS.items()), value=gpa, description="GPA", layout=w.Layout(width="560px")
    )
    gpaw_ctl = w.ToggleButtons(options=[("GPAW 48 (4-level)", 48), ("GPAW 52 (5-level)", 52)], value=gpaw)
    slider = w.IntSlider(value=0, min=0, max=0, description="change", continuous_update=False)

    def build(_change: object = None) -> None:
        state.gpa, state.gpaw = gpa_ctl.value, gpaw_ctl.value
        state.vmm = vmm = Vmm("v8")
        recipes.create_td(vmm, gpaw=state.gpaw)
        try:
            binding, _ = recipes.bind_guest_memfd(vmm, size=PAGE_SIZE, gpa=state.gpa)
            state.add = recipes.load_image(vmm, binding, state.gpa, pagetables.IMAGE.ljust(PAGE_SIZE, b"\0"))[-1]
        except recipes.RecipeError as error:
            state.add = error.result
        state.calls.value = calls_html(code_of(vmm))
        start = len(vmm.trace.events) - len(state.add.events)
        state.changes = [t for t in sept_transitions(vmm.trace.events, level=None) if t.index >= start]
        slider.unobserve(show, names="value")
        slider.max = max(len(state.changes) - 1, 0)
        slider.value = slider.max
        slider.observe(show, names="value")
        show()

    def show(_change: object = None) -> None:
        vmm, add = state.vmm, state.add
        state.position = slider.value
        if not state.changes:
            state.text.value = NOTE.format(
                f"<code>{add.op}</code> at {state.gpa:#x} with GPAW {state.gpaw} returned <b>-{add.errno}</b>: "
                f"bit {state.gpaw - 1} is the shared bit, so this GPA is the shared alias, not private: KVM refuses "
                "a memslot there (kvm_is_gfn_alias) and an add there (vt_is_tdx_private_gpa) before any SEAMCALL."
            )
            state.tree.value = _blank("no S-EPT walk: the GPA is not private")
            state.machine.value = _blank("no S-EPT change")
            return
        t = state.changes[state.position]
        levels = pagetables.sept_add_levels(add)
        state.text.value = (
            f"<p style='font-size:15px'>change {state.position + 1} of {len(state.changes)}: level {t.level} entry "
            f"for {t.gpa:#x}: <b>{t.old} → {t.new}</b> by <code>{t.leaf}</code><br>"
            f"this first add needed {len(levels)} TDH.MEM.SEPT.ADD (levels {', '.join(map(str, levels))}), "
            f"then TDH.MEM.PAGE.ADD</p>"
        )
        root = pagetables.root_level(state.gpaw)
        done = tuple((c.level, c.new) for c in state.changes[: state.position + 1])
        key = ("tree", state.gpa, root, done)
        if key not in _PNGS:
            _PNGS[key] = to_png(sept_tree(vmm.trace.events, state.gpa, root, upto=t.index), DPI)
        state.tree.value = _PNGS[key]
        key = ("machine", t.gpa, t.level, t.old, t.new, t.leaf)
        if key not in _PNGS:
            _PNGS[key] = to_png(sept_state_machine(vmm.trace.events, state.gpa, t.level, upto=t.index), DPI)
        state.machine.value = _PNGS[key]

    gpa_ctl.observe(build, names="value")
    gpaw_ctl.observe(build, names="value")
    slider.observe(show, names="value")
    build()
    box = Panel(
        [gpa_ctl, gpaw_ctl, slider, state.text, state.calls, state.tree, state.machine],
        lambda: (
            f"S-EPT walk: GPA {state.gpa:#x}, GPAW {state.gpaw}, change {state.position + 1} of {len(state.changes)}"
        ),
    )
    box.state, box.controls = state, {"gpa": gpa_ctl, "gpaw": gpaw_ctl, "change": slider}
    return box


# -- chapter 04: the creation flow, step by step -----------------------------------------------------------------


@dataclass
class FlowState:
    """The variant being played, its rows (one per call) and the call shown."""

    variant: str = "as QEMU does it"
    rows: list = field(default_factory=list)
    position: int = 0
    table: w.HTML = field(default_factory=w.HTML)
    calls: w.HTML = field(default_factory=w.HTML)
    timeline: w.Image = field(default_factory=lambda: _image("Call timeline of the chosen step, one row per event."))


def lifecycle_player(variant: str = "as QEMU does it") -> w.VBox:
    """Pick a variant of the creation flow (a step skipped, moved or repeated); step through its ioctls and see each
    one's result, SEAMCALLs, TD_STATE, OP_STATE and the TD's metadata pages, with its call timeline."""
    require_choice("lifecycle_player", "variant", variant, list(lifecycle.VARIANTS))
    state = FlowState(variant)
    choice = w.Dropdown(
        options=list(lifecycle.VARIANTS), value=variant, description="the flow", layout=w.Layout(width="560px")
    )
    slider = w.IntSlider(value=0, min=0, max=0, description="step", continuous_update=False)
    prev_b = w.Button(description="◀ previous", layout=w.Layout(width="120px"))
    next_b = w.Button(description="next ▶", layout=w.Layout(width="120px"))
    timeline: dict = {}

    def build(_change: object = None) -> None:
        state.variant = choice.value
        state.rows = lifecycle.run_variant(state.variant)
        state.calls.value = calls_html(lifecycle.variant_code(state.variant))
        timeline["events"], timeline["steps"] = lifecycle.timeline_steps(state.rows)
        slider.unobserve(show, names="value")
        slider.max = len(state.rows) - 1
        slider.value = 0
        slider.observe(show, names="value")
        show()

    def show(_change: object = None) -> None:
        state.position = slider.value
        body = []
        for r in state.rows:
            result = f"<span style='color:{FAILED_INK}'>{r.ret}</span>" if r.ret != "0" else r.ret
            meta = ", ".join(f"{k.removeprefix('PT_')} {v}" for k, v in r.metadata.items()) or "—"
            body.append([html.escape(r.label), result, html.escape(r.seamcalls), r.td_state, r.op_state, meta])
        header = ["step", "ret", "SEAMCALLs", "KVM TD_STATE", "module OP_STATE", "metadata pages (PAMT)"]
        state.table.value = _table(header, body, bold=state.position)
        row, (lo, _step) = state.rows[state.position], timeline["steps"][state.position]
        hi = lo + len(row.result.events)
        title = f"step {state.position}: {row.label} → {row.ret}"
        state.timeline.value = to_png(
            call_timeline(timeline["events"], timeline["steps"], lo, max(hi, lo + 1), title=title), DPI
        )

    prev_b.on_click(lambda _b: setattr(slider, "value", max(0, slider.value - 1)))
    next_b.on_click(lambda _b: setattr(slider, "value", min(slider.max, slider.value + 1)))
    choice.observe(build, names="value")
    slider.observe(show, names="value")
    build()
    box = Panel(
        [choice, w.HBox([prev_b, next_b, slider]), state.table, state.calls, state.timeline],
        lambda: (
            f"creation flow ({state.variant}): step {state.position} {state.rows[state.position].label} → "
            f"{state.rows[state.position].ret}"
        ),
    )
    box.state, box.controls = state, {"variant": choice, "step": slider, "previous": prev_b, "next": next_b}
    return box


# -- chapter 05: what changes the MRTD --------------------------------------------------------------------------


@dataclass
class MrtdState:
    """The image, the baseline measurement and the variant's."""

    image_name: str = "small"
    baseline: str = ""
    variant: measurement.Variant = field(default_factory=measurement.Variant)
    mrtd: str = ""
    table: w.HTML = field(default_factory=w.HTML)
    calls: w.HTML = field(default_factory=w.HTML)


def explorer_code(image: doctor.Image, variant: measurement.Variant) -> str:
    """The calls the explorer makes for one variant, as a script."""
    imports = {"from tdxsim.vmm.firmware import measure_firmware", *image.imports}
    lines = [f"image = {image.expression}"]
    if variant.flip is not None:
        imports.add("from tdxsim.lessons import measurement")
        lines.append(
            function_call(measurement.flip_byte, "image", str(variant.flip), name="image", module="measurement")
        )
    kwargs = {"two_pass": variant.two_pass, "source_zero": variant.source_zero}
    lines += [function_call(measure_firmware, "image", name="m", **kwargs), "print(m.mrtd)"]
    return python(imports, lines)


def mrtd_explorer() -> w.VBox:
    """Flip a byte in a measured or an unmeasured section, load in place or classically, single-pass or two-pass
    per section, and compare the MRTD with the baseline (the image loaded as QEMU does, untouched)."""
    offered = doctor.images(doctor.SMALL, doctor.DEBIAN)
    images = {name: image.load() for name, image in offered.items()}
    state = MrtdState(next(iter(images)))
    image_ctl = w.Dropdown(options=list(images), value=state.image_name, description="image")
    flip_ctl = w.Dropdown(description="flip a byte in", layout=w.Layout(width="420px"))
    load_ctl = w.ToggleButtons(options=[("classic (source buffer)", False), ("in place (source_addr 0)", True)])
    order_ctl = w.ToggleButtons(options=[("single-pass", False), ("two-pass per section", True)])
    baselines: dict[str, str] = {}
    busy: list[bool] = []  # set while the flip options are replaced, so update runs once, afterwards

    def options(_change: object = None) -> None:
        state.image_name = image_ctl.value
        image = images[state.image_name]
        opts = [("nothing", None)]
        for index, name, measured in measurement.flippable(image):
            opts.append((f"section {index}: {name} ({'measured' if measured else 'not measured'})", index))
        busy.append(True)
        flip_ctl.options = opts
        flip_ctl.value = None
        busy.clear()
        if state.image_name not in baselines:
            baselines[state.image_name] = measurement.measure(image).mrtd
        update()

    def update(_change: object = None) -> None:
        if busy:
            return
        image = images[state.image_name]
        state.baseline = baselines[state.image_name]
        state.variant = measurement.Variant(flip_ctl.value, load_ctl.value, order_ctl.value)
        m = measurement.measure(image, state.variant)
        state.mrtd = m.mrtd
        same = state.mrtd == state.baseline
        badge = (
            "<span style='background:#009E73;color:#000000;padding:2px 8px'>same MRTD</span>"
            if same
            else "<span style='background:#D55E00;color:#000000;padding:2px 8px'>different MRTD</span>"
        )
        rows = [
            ["baseline: as QEMU loads it", f"<code>{state.baseline[:48]}…</code>"],
            ["your variant", f"<code>{state.mrtd[:48]}…</code> {badge}"],
            ["SEAMCALLs", f"{m.page_add} TDH.MEM.PAGE.ADD, {m.mr_extend} TDH.MR.EXTEND"],
        ]
        sections = ", ".join(
            f"{s.type_name} {s.memory_address:#x} ({s.pages} pages{', MR.EXTEND' if s.measured else ''})"
            for s in m.sections
        )
        state.table.value = _table(["", ""], rows) + f"<p>sections: {html.escape(sections)}</p>"
        state.calls.value = calls_html(explorer_code(offered[state.image_name], state.variant))

    image_ctl.observe(options, names="value")
    for ctl in (flip_ctl, load_ctl, order_ctl):
        ctl.observe(update, names="value")
    options()
    box = Panel(
        [image_ctl, flip_ctl, load_ctl, order_ctl, state.table, state.calls],
        lambda: (
            f"MRTD explorer: {state.image_name}, {state.variant} → "
            f"{'same' if state.mrtd == state.baseline else 'different'} MRTD"
        ),
    )
    box.state, box.controls = state, {"image": image_ctl, "flip": flip_ctl, "load": load_ctl, "order": order_ctl}
    return box


# -- chapter 06: a conversion --------------------------------------------------------------------------------------


@dataclass
class ConversionState:
    """The conversion asked for and what it did."""

    in_place: bool = True
    to_shared: bool = True
    pages: int = 1
    vmm_mode: str = "convert"
    vmm: Vmm | None = None
    results: dict[str, Result] = field(default_factory=dict)  # conversions.convert's calls, by label
    summary: Any = None
    text: w.HTML = field(default_factory=w.HTML)
    calls: w.HTML = field(default_factory=w.HTML)
    owners: w.Image = field(default_factory=lambda: _image("Page ownership map after the chosen conversion."))
    timeline: w.Image = field(default_factory=lambda: _image("Call timeline of the chosen step, one row per event."))


def conversion_panel() -> w.VBox:
    """Convert a range at runtime in either direction, in either memory model, with a VMM that converts or ignores
    the exits: the chunks, the VMM's ioctls, the SEAMCALLs, the S-EPT states, who reads what, the owners."""
    state = ConversionState()
    model = w.ToggleButtons(options=[("in-place", True), ("out-of-place", False)], description="model")
    direction = w.ToggleButtons(options=[("private → shared", True), ("shared → private", False)], description="MapGPA")
    pages = w.SelectionSlider(options=[1, 2, 512, 513, 1025], value=1, description="pages", continuous_update=False)
    vmm = w.ToggleButtons(options=[("converts", "convert"), ("ignores the exit", "ignore")], description="the VMM")

    def update(_change: object = None) -> None:
        state.in_place, state.to_shared, state.pages = model.value, direction.value, pages.value
        state.vmm_mode = vmm.value
        state.vmm = machine = Vmm("v8", gmem_in_place_conversion=state.in_place)
        state.results = conversions.convert(machine, state.to_shared, state.pages, state.vmm_mode)
        s = state.summary = conversions.summary(machine, state.results)
        state.calls.value = calls_html(code_of(machine))
        chunks = "".join(f"<li>KVM_EXIT_HYPERCALL gpa {g}, {n} pages, {a}</li>" for g, n, a in s.chunks)
        states = conversions.leaf_states(machine, min(state.pages, 4))
        reads = "".join(f"<li>{html.escape(k)}: <b>{html.escape(v)}</b></li>" for k, v in s.reads.items())
        memory = ", ".join(f"{k} {v}" for k, v in s.memory.items())
        state.text.value = (
            f"<div style='font-size:14px'><p>{len(s.chunks)} exit(s) to the VMM:</p><ul>{chunks}</ul>"
            f"<p>the VMM did: {html.escape(', '.join(s.vmm_ops) or 'nothing')}<br>"
            f"SEAMCALLs of the MapGPA step: {html.escape(lifecycle.fold(s.seamcalls))}<br>"
            f"the guest's TDVMCALL returned {s.tdcall_status}<br>"
            f"S-EPT leaves of the first pages after everything: {', '.join(states)}</p>"
            f"<p>afterwards:</p><ul>{reads}</ul><p>pages per owner at the end: {memory}</p></div>"
        )
        state.owners.value = to_png(ownership_map(*machine_view(machine), legend=False), DPI)
        map_gpa = state.results["MapGPA"]
        steps = [(0, {"op": map_gpa.op, "label": "MapGPA", **map_gpa})]
        state.timeline.value = to_png(
            call_timeline(map_gpa.events, steps, 0, max(len(map_gpa.events), 1), title="The MapGPA step, call by call"),
            DPI,
        )

    for ctl in (model, direction, pages, vmm):
        ctl.observe(update, names="value")
    update()
    legend = AltImage(
        value=to_png(ownership_legend(), DPI), format="png", layout=w.Layout(**IMAGE_LAYOUT), alt=LEGEND_ALT
    )
    box = Panel(
        [model, direction, pages, vmm, state.text, state.calls, state.owners, legend, state.timeline],
        lambda: (
            f"conversion: {'in-place' if state.in_place else 'out-of-place'}, "
            f"{'to shared' if state.to_shared else 'to private'}, {state.pages} page(s), VMM {state.vmm_mode} → "
            f"{len(state.summary.chunks)} exit(s), TDVMCALL {state.summary.tdcall_status}"
        ),
    )
    box.state = state
    box.controls = {"model": model, "direction": direction, "pages": pages, "vmm": vmm}
    return box
