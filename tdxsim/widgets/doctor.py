"""Chapter 10's widget: paste a TD's MRTD, pick the firmware, and see which loader variant made it and where its
record stream parts from the single-pass one (tdxsim.vmm.variants; figure from tdxsim.plot.streams)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import ipywidgets as w

from tdxsim.calls import function_call, python
from tdxsim.lessons import doctor
from tdxsim.plot import record_streams, stream_alt_text, to_png
from tdxsim.vmm.variants import OTHER_CAUSES, Diagnosis, diagnose, parse_mrtd
from tdxsim.widgets.lessons import DPI, _blank, _image, _table
from tdxsim.widgets.panel import Panel, calls_html


@dataclass
class DoctorState:
    """What the widget last diagnosed."""

    image_name: str = ""
    expected: str = ""
    diagnosis: Diagnosis | None = None
    shown: str = ""  # the variant drawn against single-pass
    error: str = ""
    text: w.HTML = field(default_factory=w.HTML)
    figure: w.Image = field(
        default_factory=lambda: _image(
            "Where a loader variant's MRTD record stream parts from single-pass (after Diagnose)"
        )
    )
    caption: w.HTML = field(default_factory=w.HTML)  # the figure's text alternative, shown under it
    calls: w.HTML = field(default_factory=w.HTML)


def doctor_code(image: doctor.Image, expected: str) -> str:
    """The call the doctor makes, as a script (and, for a firmware file, the same from a shell)."""
    lines = [f"image = {image.expression}", function_call(diagnose, "image", repr(expected), name="d")]
    lines.append("print([r.variant.name for r in d.matches])")
    if image.path:
        lines.append(f"# from a shell: python -m tdxsim mrtd {image.path} --expect {expected}")
    return python({"from tdxsim.vmm.variants import diagnose", *image.imports}, lines)


def mrtd_doctor(expected: str = "", image_name: str | None = None) -> w.VBox:
    """A text box for an MRTD, the firmware to try, and a Diagnose button; the verdict, every variant's MRTD and
    first difference, and the figure of where the chosen variant's stream parts from single-pass."""
    offered = doctor.images(doctor.DEMO, doctor.DEBIAN)
    images = {name: image.load() for name, image in offered.items()}
    state = DoctorState(image_name or next(iter(images)))
    image_ctl = w.Dropdown(options=list(images), value=state.image_name, description="firmware")
    mrtd_ctl = w.Text(value=expected, description="TD's MRTD", layout=w.Layout(width="95%"))
    go = w.Button(description="Diagnose", icon="stethoscope")
    shown_ctl = w.Dropdown(description="draw", layout=w.Layout(width="420px"))
    busy: list[bool] = []

    def draw(_change: object = None) -> None:
        if busy or state.diagnosis is None or shown_ctl.value is None:
            return
        d = state.diagnosis
        state.shown = shown_ctl.value
        ref = d.results[0].measurement.records or []
        other = next(r for r in d.results if r.variant.name == state.shown).measurement.records or []
        alt = stream_alt_text(d.sections, ref, other, state.shown)
        state.figure.value = to_png(record_streams(d.sections, ref, other, state.shown), DPI)
        state.figure.alt = alt
        state.caption.value = f"<p><i>{html.escape(alt)}</i></p>"

    def run(_button: object = None) -> None:
        state.image_name = image_ctl.value
        cleaned = parse_mrtd(mrtd_ctl.value)
        if cleaned is None:
            state.error = "an MRTD is 96 hex digits (48 bytes); paste one, or copy a variant's from the table"
            state.diagnosis = None
            state.text.value = f"<p><b>Not an MRTD.</b> {html.escape(state.error)}</p>"
            state.figure.value = _blank("no diagnosis yet")
            state.caption.value = ""
            return
        state.error, state.expected = "", cleaned
        d = state.diagnosis = diagnose(images[state.image_name], cleaned)
        state.calls.value = calls_html(doctor_code(offered[state.image_name], cleaned))
        matches = d.matches
        if matches:
            m = matches[0].variant
            verdict = f"<p><b>Match: {html.escape(m.name)}</b> — {html.escape(m.summary)}.<br>"
            verdict += f"What it tells about the VMM: {html.escape(m.meaning)}.</p>"
        else:
            verdict = (
                "<p><b>No variant matches.</b> What else could explain it:</p><ul>"
                + "".join(f"<li>{html.escape(c)}</li>" for c in OTHER_CAUSES)
                + "</ul>"
            )
        rows = [
            [
                ("✔ " if r.mrtd == cleaned else "") + html.escape(r.variant.name),
                f"<code>{r.mrtd[:24]}…</code>",
                html.escape(r.divergence.describe()) if r.divergence else "the reference",
            ]
            for r in d.results
        ]
        state.text.value = verdict + _table(["variant", "MRTD", "first difference from single-pass"], rows)
        busy.append(True)
        names = [r.variant.name for r in d.results[1:]]
        shown_ctl.options = names
        shown_ctl.value = matches[0].variant.name if matches and matches[0].variant.name in names else names[0]
        busy.clear()
        draw()

    go.on_click(run)
    shown_ctl.observe(draw, names="value")
    run()
    box = Panel(
        [image_ctl, mrtd_ctl, go, state.text, state.calls, shown_ctl, state.figure, state.caption],
        lambda: (
            f"MRTD doctor: {state.image_name}; "
            + (state.error or ", ".join(r.variant.name for r in state.diagnosis.matches) or "no match")
            if state.diagnosis or state.error
            else "MRTD doctor"
        ),
    )
    box.state = state
    box.controls = {"image": image_ctl, "mrtd": mrtd_ctl, "diagnose": go, "draw": shown_ctl}
    return box
