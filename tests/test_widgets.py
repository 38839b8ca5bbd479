"""tdxsim.widgets, headless: every callback over every value (extremes included), asserting from data what the
widget shows, and that no combination ever raises — impossible ones get a friendly sentence instead.

Expected errnos come from the kernel sources and mails of the seed thread, written as literals.
"""

import itertools
from pathlib import Path

import pytest
from scenario_helpers import seed_expected

from tdxsim import errno
from tdxsim.seed import KERNELS, SOURCES, Toggles, explain_impossible, outcome, run_cell
from tdxsim.widgets import control_panel, reveal, seed_matrix, step_player
from tdxsim.widgets import panel as panel_module

PNG = b"\x89PNG\r\n\x1a\n"


def shown_errnos(p) -> list[str]:
    """The errno names the panel's outcome HTML shows (from the badges), in order."""
    html = p.state.outcome.value
    return [name for name in ("EOPNOTSUPP", "EINVAL", "EFAULT", "EIO", "EEXIST") if f"-{name}<" in html]


def check_panel(p) -> None:
    """Whatever is set, the panel shows either the outcome the sources give for its toggles (scenario_helpers
    seed_expected) with its figures, or a friendly sentence for a combination that cannot exist."""
    s = p.state
    assert s.ownership.value.tobytes().startswith(PNG) and s.sept.value.tobytes().startswith(PNG)
    t = s.toggles
    expected = seed_expected(t.kernel, t.in_place, t.source, t.converted, t.add_twice)
    if s.run is None:
        assert expected is None or not 1 <= t.image_pages <= t.td_pages
        assert s.message and "Traceback" not in s.outcome.value
        assert "no run" in repr(p)
        return
    assert expected is not None
    head = s.outcome.value.split("SEAMCALLs")[0]
    assert (f"-{expected}<" in s.outcome.value) if expected != "OK" else ("-E" not in head)
    added = [c for c in s.run["add"].seamcalls if c["leaf"] == "TDH.MEM.PAGE.ADD" and c["status"] == "TDX_SUCCESS"]
    highlighted = {g for g in (x.get_gid() for x in s.view.patches) if g.startswith("highlight:gpa")}
    assert highlighted == ({f"highlight:gpa:0x0:{len(added)}"} if added else set())


def test_default_panel_is_the_seed_threads_in_place_add():
    p = control_panel()
    assert outcome(p.state.run).ret == 0  # v8 23/46: in place, source_addr 0 adds the target in place
    assert repr(p) == "<control panel: kernel v8, in-place on, source_addr 0 → 0>"
    check_panel(p)


@pytest.mark.parametrize("name", ["in_place", "source", "kernel", "measure", "written_while_shared", "converted",
                                  "add_twice"])  # fmt: skip
def test_each_control_over_every_value(name):
    """One control at a time, through all its values and back (Neuromatch's 'extremes' sweep)."""
    p = control_panel()
    ctl = p.controls[name]
    if name == "kernel":
        values = list(KERNELS)
    elif hasattr(ctl, "options"):
        values = [v for _label, v in ctl.options]
    else:
        values = [False, True]
    for value in [*values, *reversed(values)]:
        ctl.value = value
        check_panel(p)


def test_every_in_place_source_kernel_combination():
    p = control_panel()
    c = p.controls
    for in_place, source, kernel in itertools.product([False, True], SOURCES, KERNELS):
        c["kernel"].value, c["in_place"].value, c["source"].value = kernel, in_place, source
        check_panel(p)
        if in_place and kernel not in ("v8", "v13"):  # docs/scenario.md: only these have the parameter
            assert p.state.run is None and "gmem_in_place_conversion" in p.state.message
        else:
            assert p.state.run is not None and (p.state.run.vmm.flavour.name, p.state.run.vmm.in_place) == (
                kernel,
                in_place,
            )


def test_panel_shows_the_threads_answers():
    """The cells the thread argues about, through the controls (values from patch v8 23/46, kvm-x86
    09c6f74e tdx_vcpu_init_mem_region, 2a62345b3052, and Yan's akSx0Bx1RKe9DCXw for the double add)."""
    p = control_panel()
    c = p.controls
    c["in_place"].value = False
    assert outcome(p.state.run).ret == -errno.EOPNOTSUPP and shown_errnos(p) == ["EOPNOTSUPP"]
    c["source"].value = "buffer"
    assert outcome(p.state.run).ret == 0 and "from the separate buffer" in p.state.outcome.value
    c["source"].value = "zero_va0"
    c["kernel"].value = "pre-2a62345b3052"
    assert outcome(p.state.run).ret == 0 and "&#x27;Y&#x27;" in p.state.outcome.value
    c["kernel"].value = "kvm-x86-2026-06"
    assert outcome(p.state.run).ret == -errno.EINVAL
    c["kernel"].value = "v8"
    c["in_place"].value = True
    c["add_twice"].value = True
    assert [p.state.run["add"].ret, p.state.run["add_again"].ret] == [0, -errno.EIO]
    assert shown_errnos(p) == ["EIO"]


def test_switching_to_a_kernel_without_the_parameter_is_explained():
    p = control_panel()
    p.controls["kernel"].value = "2a62345b3052"
    assert p.state.run is None
    assert "Turn in-place conversion off" in p.state.outcome.value
    p.controls["in_place"].value = False
    assert p.state.run is not None and outcome(p.state.run).ret == -errno.EOPNOTSUPP


def test_an_internal_error_is_a_sentence_not_a_traceback(monkeypatch):
    def broken(_t):
        raise RuntimeError("model not finished")

    monkeypatch.setattr(panel_module, "run_cell", broken)
    p = control_panel()
    assert p.state.run is None and "could not run this combination: model not finished" in p.state.outcome.value


@pytest.mark.parametrize(
    "toggles", [Toggles(image_pages=0), Toggles(image_pages=17), Toggles(kernel="v9"), Toggles(source="nowhere")]
)
def test_impossible_sizes_and_names(toggles):
    assert explain_impossible(toggles)
    p = control_panel(toggles)
    assert p.state.run is None and p.state.message


@pytest.mark.parametrize("pages", [1, 16, 4096])
def test_panel_at_td_size_extremes(pages):
    p = control_panel(Toggles(td_pages=pages, image_pages=1))
    check_panel(p)
    p.controls["in_place"].value = False
    check_panel(p)


def shown_calls(html_value: str) -> str:
    """The code of a widget's "Show the calls" disclosure (tdxsim.widgets.panel.calls_html), unescaped."""
    import html

    assert "<summary>Show the calls</summary>" in html_value
    shown = html_value.split("<summary>Show the calls</summary>", 1)[1]
    return html.unescape(shown.split("<code>", 1)[1].split("</code>", 1)[0])


def reproduce(code: str) -> dict:
    """Run shown code in a fresh namespace, as a reader pasting it into a new notebook would."""
    namespace: dict = {}
    exec(compile(code, "<shown calls>", "exec"), namespace)
    return namespace


def same_call(a, b) -> bool:
    """Same return value, errno and SEAMCALLs (leaf, GPA, level, status, in order)."""
    return (a.ret, a.errno, a.seamcalls) == (b.ret, b.errno, b.seamcalls)


@pytest.mark.parametrize(
    "toggles",
    [
        Toggles(),
        Toggles(in_place=False, source="zero_va0", kernel="pre-2a62345b3052"),
        Toggles(in_place=False, source="gmem_page", measure=False),
        Toggles(source="zero", add_twice=True, written_while_shared=False),
        Toggles(kernel="v13", source="misaligned", converted=False),
    ],
)
def test_show_the_calls_reproduces_the_panel(toggles):
    """The panel's "Show the calls", run in a fresh namespace, gives the same adds (errno, SEAMCALL list) and MRTD."""
    p = control_panel(toggles)
    ns = reproduce(shown_calls(p.state.calls.value))
    for name in ("add", "add_again"):
        assert (name in ns) == (name in p.state.run.results)
        if name in ns:
            assert same_call(ns[name], p.state.run[name])
    assert ns["vmm"].mrtd() == p.state.run.vmm.mrtd()
    p.controls["kernel"].value = "2a62345b3052"  # in place on a kernel without the parameter: nothing to show
    assert p.state.run is not None or p.state.calls.value == ""


def test_show_the_calls_reproduces_every_matrix_cell():
    m = seed_matrix()
    for r, cell_row in enumerate(m.state.cells):
        for c, cell in enumerate(cell_row):
            detail = m.controls["views"].children[r].children[c].children[0].value
            if cell.run is None:
                assert "Show the calls" not in detail
                continue
            ns = reproduce(shown_calls(detail))
            assert same_call(ns["add_again" if "add_again" in ns else "add"], outcome(cell.run))


def _same_machine(shown: str, vmm) -> None:
    """Shown code, run fresh, makes the same calls as the widget's machine, with the same SEAMCALLs (leaf, GPA, level,
    status, in order) and the same final state."""
    from tdxsim.result import Result
    from tdxsim.scenario import describe_final

    fresh = reproduce(shown)["vmm"]
    assert [c[0] for c in fresh.calls_made] == [c[0] for c in vmm.calls_made]
    assert Result("all", {}, fresh.trace.events).seamcalls == Result("all", {}, vmm.trace.events).seamcalls
    assert describe_final(fresh) == describe_final(vmm)


def test_show_the_calls_of_the_chapters_widgets():
    """Chapters 01-04 and 06: each widget's "Show the calls", run fresh, makes the calls the widget drew."""
    from tdxsim.result import Result
    from tdxsim.widgets.backing import backing_panel
    from tdxsim.widgets.lessons import conversion_panel, lifecycle_player, sept_walk
    from tdxsim.widgets.readers import who_can_read

    walk = sept_walk()
    walk.controls["gpaw"].value = 52
    conv = conversion_panel()
    conv.controls["model"].value = False
    back = backing_panel(in_place=True)
    for box in (walk, conv, back):
        _same_machine(shown_calls(box.state.calls.value), box.state.vmm)
    readers = who_can_read(gpaw=52)
    readers.controls["actor"].value = "td"
    _same_machine(shown_calls(readers.state.calls.value), readers.state.vmm)
    flow = lifecycle_player(variant="KVM_TDX_INIT_MEM_REGION twice")
    fresh = reproduce(shown_calls(flow.state.calls.value))["vmm"]
    assert [c[0] for c in fresh.calls_made] == [r.result.op for r in flow.state.rows]
    assert Result("all", {}, fresh.trace.events).seamcalls == [c for r in flow.state.rows for c in r.result.seamcalls]


def test_show_the_calls_of_the_mrtd_and_lock_widgets():
    """Chapters 05, 08 and 10: the explorer's, the stepper's and the doctor's "Show the calls", run fresh, give the
    MRTD, the interleaving and the matching variants the widget shows."""
    from tdxsim.lessons.doctor import demo_image
    from tdxsim.vmm.variants import diagnose
    from tdxsim.widgets.doctor import mrtd_doctor
    from tdxsim.widgets.lessons import mrtd_explorer
    from tdxsim.widgets.locks import lock_stepper

    explorer = mrtd_explorer()
    explorer.controls["flip"].value = explorer.controls["flip"].options[1][1]
    explorer.controls["order"].value = True
    ns = reproduce(shown_calls(explorer.state.calls.value))
    assert ns["m"].mrtd == explorer.state.mrtd != explorer.state.baseline
    stepper = lock_stepper()
    stepper.controls["deadly"].click()
    ns = reproduce(shown_calls(stepper.state.calls.value))
    assert ns["run"].deadlock() == stepper.state.run.deadlock() and ns["run"].log == stepper.state.run.log
    assert ns["run"].deadlock()  # the deadly interleaving, replayed
    two_pass = next(r.mrtd for r in diagnose(demo_image(), "0" * 96).results if r.variant.name == "two-pass")
    doc = mrtd_doctor(expected=two_pass)
    ns = reproduce(shown_calls(doc.state.calls.value))
    assert [r.variant.name for r in ns["d"].matches] == [r.variant.name for r in doc.state.diagnosis.matches]
    assert "two-pass" in [r.variant.name for r in ns["d"].matches]


@pytest.mark.skipif(not Path("/usr/share/ovmf/OVMF.fd").exists(), reason="apt-get install ovmf")
def test_the_debian_image_in_the_shown_calls_and_the_shell_line(capsys):
    """Every offered image's shown code gets the bytes the widget loads; with Debian's OVMF.fd chosen, the doctor's
    script names the variants the widget names, and its "from a shell" line, run, says the same with status 0."""
    import shlex

    from tdxsim.cli import main
    from tdxsim.lessons import doctor
    from tdxsim.vmm.variants import diagnose
    from tdxsim.widgets.doctor import mrtd_doctor

    offered = doctor.images(doctor.SMALL, doctor.DEMO, doctor.DEBIAN)
    assert list(offered) == ["small builder image", "demo image (5 sections)", "Debian OVMF.fd"]
    for image in offered.values():
        assert reproduce("\n".join([*image.imports, f"image = {image.expression}"]))["image"] == image.load()
    ovmf = doctor.DEBIAN.load()
    two_pass = next(r.mrtd for r in diagnose(ovmf, "0" * 96).results if r.variant.name == "two-pass")
    doc = mrtd_doctor(expected=two_pass, image_name="Debian OVMF.fd")
    code = shown_calls(doc.state.calls.value)
    ns = reproduce(code)
    assert [r.variant.name for r in ns["d"].matches] == [r.variant.name for r in doc.state.diagnosis.matches]
    shell = code.split("# from a shell: ", 1)[1].splitlines()[0]
    argv = shlex.split(shell)
    assert argv[:3] == ["python", "-m", "tdxsim"]
    capsys.readouterr()
    assert main(argv[3:]) == 0
    matched = [line.split(":")[1].strip() for line in capsys.readouterr().out.splitlines() if line.startswith("MATCH:")]
    assert matched == [r.variant.name for r in doc.state.diagnosis.matches] and "two-pass" in matched


# -- the matrix table --------------------------------------------------------------------------------------------


def test_seed_matrix_every_cell():
    m = seed_matrix()
    row, column = m.controls["row"], m.controls["column"]
    for r, _label in enumerate(row.options):
        row.value = r
        for c in range(len(KERNELS)):
            column.value = c
            cell = m.state.cell
            views = m.controls["views"]
            assert views.selected_index == r and views.children[r].selected_index == c
            assert m.state.ownership.value.tobytes().startswith(PNG)
            assert m.state.ownership.alt.startswith(("Page ownership map after", "No figure"))  # the site's alt text
            if cell.run is None:
                assert "no such" in m.state.detail.value or "gmem_in_place_conversion" in m.state.detail.value
            else:
                assert f">{cell.text}<" in m.state.detail.value
                assert repr(m).endswith(f"→ {cell.text}>")


# -- the step player ---------------------------------------------------------------------------------------------


def test_step_player_previous_next_and_extremes():
    run = run_cell(Toggles(image_pages=1))
    sp = step_player(run)
    s, c = sp.state, sp.controls
    assert s.index == s.start and "event 1 of" in s.text.value
    c["previous"].click()  # at the first event: stays
    assert c["slider"].value == 0
    c["next"].click()
    assert s.index == s.start + 1
    c["slider"].value = c["slider"].max
    assert s.index == s.stop - 1
    c["next"].click()  # at the last event: stays
    assert s.index == s.stop - 1
    assert c["play"].max == c["slider"].max
    for value in range(c["slider"].max + 1):
        c["slider"].value = value
        ev = run.vmm.trace.events[s.index]
        assert ev.layer in s.text.value and s.image.value.tobytes().startswith(PNG)


def test_step_player_on_a_failed_add_shows_the_errno():
    run = run_cell(Toggles(in_place=False, source="zero", image_pages=1))
    sp = step_player(run)
    texts = []
    for value in range(sp.controls["slider"].max + 1):
        sp.controls["slider"].value = value
        texts.append(sp.state.text.value)
    assert any("-EOPNOTSUPP" in t for t in texts)


# -- reveal ------------------------------------------------------------------------------------------------------


def test_reveal_toggles_the_answer():
    r = reveal("<b>-EOPNOTSUPP</b>")
    button, answer, views = r.controls["button"], r.controls["answer"], r.controls["views"]
    assert views.selected_index == 0 and repr(r) == "<reveal: hidden>"
    button.index = 1
    assert views.children[views.selected_index] is answer and answer.value == "<b>-EOPNOTSUPP</b>"
    assert repr(r) == "<reveal: shown>"
    button.index = 0
    assert views.selected_index == 0 and views.children[0].value == ""


def test_the_seed_matrix_and_reveal_switch_without_a_kernel():
    """Static pages have no kernel: each picker must be jslinked to the Stack whose view it selects."""
    import ipywidgets as w
    from ipywidgets.widgets.widget_link import Link

    def links(box):
        return [
            (m.source[0], m.source[1], m.target[0], m.target[1])
            for m in w.Widget.widgets.values()
            if isinstance(m, Link) and m.source[0] in box.controls.values()
        ]

    m = seed_matrix()
    found = links(m)
    outer = m.controls["views"]
    assert (m.controls["row"], "index", outer, "selected_index") in found
    for stack in outer.children:
        assert (m.controls["column"], "index", stack, "selected_index") in found
    r = reveal("x")
    assert (r.controls["button"], "index", r.controls["views"], "selected_index") in links(r)
    assert "tdxsim-live" in m._dom_classes and "tdxsim-live" in r._dom_classes
