"""tdxsim.plot: each figure is checked from data — which page is highlighted, which S-EPT state is current, which
cell has which errno — and rendered once to a PNG of the expected size that is not blank.

Expected errnos come from the kernel sources and mails named beside them, never from tdxsim.
"""

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scenario_helpers import SEED_KERNELS, seed_expected

import tdxsim
from tdxsim import errno, plot, recipes
from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE, KVM_TDX_MEASURE_MEMORY_REGION
from tdxsim.plot.ownership import OWNER_INDEX, OwnershipView
from tdxsim.plot.style import to_png
from tdxsim.seed import ROWS, Toggles, outcome, run_cell, run_matrix
from tdxsim.tdx.sept import TRANSITIONS


def gids(fig) -> set[str]:
    """Every artist id in a figure (the figures tag what they highlight)."""
    return {a.get_gid() for a in fig.findobj() if a.get_gid()}


def png_ok(png: bytes, width: int, height: int) -> None:
    """A PNG of exactly width × height pixels with more than a handful of colours (not blank)."""
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (width, height)
    colours = np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)
    assert len(colours) > 8


@pytest.mark.parametrize("module", ["tdxsim", "tdxsim.seed", "tdxsim.widgets"])
def test_import_stays_light(module):
    """`import tdxsim` (and the pure seed module) never imports matplotlib or ipywidgets."""
    code = f"import sys, {module}; print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# -- ownership maps ----------------------------------------------------------------------------------------------


def test_in_place_map_one_strip_target_is_its_own_source():
    """v8 23/46: in place, the target page is its own PAGE.ADD source; one backing per GFN."""
    run = run_cell(Toggles(in_place=True, source="zero"))
    data = plot.ownership_data(*plot.machine_view(run.vmm))
    assert [s.name for s in data.strips] == ["guest_memfd (shared and private)"]
    assert data.strips[0].highlight == [0, 1, 2, 3]
    assert data.targets == data.sources and len(data.targets) == 4
    assert list(data.strips[0].owners[:4]) == [OWNER_INDEX["td_private"]] * 4
    assert set(data.strips[0].owners[4:]) == {OWNER_INDEX["none"]}
    fig = plot.ownership_map(*plot.machine_view(run.vmm))
    assert "highlight:gpa:0x0:4" in gids(fig)
    assert not any(g.startswith("highlight:source") for g in gids(fig))


def test_out_of_place_map_two_strips_and_a_separate_source():
    """Out-of-place (v8 cover letter: two backings): two pages per GFN; PAGE.ADD copied from the separate buffer."""
    run = run_cell(Toggles(in_place=False, source="buffer"))
    data = plot.ownership_data(*plot.machine_view(run.vmm))
    assert [s.name for s in data.strips] == ["guest_memfd (private side)", "userspace_addr (shared side)"]
    assert list(data.strips[1].owners[:4]) == [OWNER_INDEX["host"]] * 4  # written while shared, anonymous memory
    assert not set(data.sources) & set(data.targets)
    fig = plot.ownership_map(*plot.machine_view(run.vmm))
    assert sum(g.startswith("highlight:source") for g in gids(fig)) >= 1
    assert "run:td_private" in gids(fig) and "run:host" in gids(fig)


def test_failed_add_highlights_nothing():
    """-EOPNOTSUPP (v8, in-place off, 0): nothing was added, so no page is outlined."""
    run = run_cell(Toggles(in_place=False, source="zero"))
    assert outcome(run).ret == -errno.EOPNOTSUPP
    assert not any(g.startswith("highlight") for g in gids(plot.ownership_map(*plot.machine_view(run.vmm))))


def test_compare_and_legend_render():
    a, b = run_cell(Toggles(in_place=False, source="buffer")), run_cell(Toggles())
    fig = plot.ownership_compare([("out-of-place", *plot.machine_view(a.vmm)), ("in-place", *plot.machine_view(b.vmm))])
    assert len(fig.axes) == 3
    png_ok(to_png(fig, 50), int(fig.get_figwidth() * 50), int(fig.get_figheight() * 50))
    legend = plot.ownership_legend()
    png_ok(to_png(legend, 50), 750, int(legend.get_figheight() * 50))


def _slots_doc(*slots: tuple[int, int]) -> tuple[dict, dict]:
    """A scenario document with one memslot per (gpa, size) and an output in which each was created, no pages."""
    steps = [
        {
            "op": "KVM_SET_USER_MEMORY_REGION2",
            "slot": i,
            "guest_phys_addr": hex(gpa),
            "memory_size": size,
            "userspace_addr": hex(0x7F0000000000 + gpa),
        }
        for i, (gpa, size) in enumerate(slots)
    ]
    return {"steps": steps}, {
        "steps": [{"ret": 0}] * len(steps),
        "final": {"pages": {}},
        "kernel": "v8",
        "gmem_in_place_conversion": True,
    }


def test_gpa_view_draws_a_2mib_memslot_as_512_pages_and_marks_gpas_without_a_memslot():
    """A 2 MiB memslot is 512 4-KiB GFNs: the grid has 512 cells (not a 4 MiB square), and GFNs between two memslots
    (no memslot, so no page can back them: kvm_main.c __gfn_to_memslot finds none) are drawn apart from
    "not allocated"."""
    from tdxsim.plot.ownership import NO_SLOT, _grid

    doc, out = _slots_doc((0, 2 << 20))
    owners = plot.ownership_data(out, doc).strips[0].owners
    assert len(owners) == 512 and _grid(owners).size == 512
    doc, out = _slots_doc((0, 0x4000), (0x10000, 0x4000))
    owners = list(plot.ownership_data(out, doc).strips[0].owners)
    assert owners == [OWNER_INDEX["none"]] * 4 + [NO_SLOT] * 12 + [OWNER_INDEX["none"]] * 4
    assert "run:no_memslot" in gids(plot.ownership_map(out, doc, phys=False))


@pytest.mark.parametrize("pages", [16, 4096, 1 << 20])
def test_ownership_view_scales_and_matches_the_data(pages):
    """The widget's fast redraw: same picture size for any guest size, highlights from the run, 1M pages too."""
    view = OwnershipView(dpi=50)
    for t in (Toggles(td_pages=pages), Toggles(td_pages=pages, in_place=False, source="buffer")):
        run = run_cell(t)
        png = view.render(*plot.machine_view(run.vmm))
        png_ok(png, 500 if t.in_place else 750, 240)
        assert len(view.data.strips[0].owners) == pages
        assert {p.get_gid() for p in view.patches if p.get_gid().startswith("highlight:gpa")} == {"highlight:gpa:0x0:4"}


def test_static_map_png_size():
    run = run_cell(Toggles())
    fig = plot.ownership_map(*plot.machine_view(run.vmm))
    assert tuple(fig.get_size_inches()) == (10.0, 6.0)  # the legend fits below the maps, in the same canvas
    png_ok(to_png(fig, 60), 600, 360)


# -- S-EPT -------------------------------------------------------------------------------------------------------


def test_state_machine_draws_every_transition():
    fig = plot.sept_state_machine([], 0)
    drawn = {g.split(":")[1] for g in gids(fig) if g.startswith("edge:")}
    assert drawn == {f"{pre.value}->{post.value}" for pre, post, _leaf in TRANSITIONS}
    assert "state:FREE:current" in gids(fig)


def test_state_machine_current_state_and_last_transition():
    """A successful add: FREE -> MAPPED by TDH.MEM.PAGE.ADD is the last transition, MAPPED is current."""
    run = run_cell(Toggles(image_pages=1))
    state, last = plot.entry_state(run.vmm.trace.events, 0)
    assert (state, last.old, last.leaf) == ("MAPPED", "FREE", "TDH.MEM.PAGE.ADD")
    g = gids(plot.sept_state_machine(run.vmm.trace.events, 0))
    assert "state:MAPPED:current" in g and "edge:FREE->MAPPED:last" in g
    before = last.index - 1  # one event earlier the leaf was still FREE
    g = gids(plot.sept_state_machine(run.vmm.trace.events, 0, upto=before))
    assert "state:FREE:current" in g and not any(x.endswith(":last") for x in g)


def test_double_add_makes_no_second_transition():
    """Sean (seed): the second add is RET_PF_SPURIOUS -> -EIO; the S-EPT entry does not change again."""
    run = run_cell(Toggles(add_twice=True))
    assert run["add_again"].ret == -errno.EIO
    assert [t.leaf for t in plot.sept_transitions(run.vmm.trace.events, 0)] == ["TDH.MEM.PAGE.ADD"]
    assert plot.sept_transitions(run["add_again"].events, 0) == []


def test_sept_tree_levels():
    """First touch in an empty 4-level tree: three TDH.MEM.SEPT.ADD (levels 3, 2, 1), then the leaf (NB3 quiz)."""
    run = run_cell(Toggles(image_pages=1))
    adds = [c for c in run["add"].seamcalls if c["leaf"] == "TDH.MEM.SEPT.ADD"]
    assert [c["level"] for c in adds] == [3, 2, 1]
    g = gids(plot.sept_tree(run.vmm.trace.events, 0))
    assert {"level:3:NL_MAPPED", "level:2:NL_MAPPED", "level:1:NL_MAPPED", "level:0:MAPPED"} <= g
    failed = run_cell(Toggles(in_place=False, source="zero"))
    assert {"level:3:FREE", "level:0:FREE"} <= gids(plot.sept_tree(failed.events, 0))


# -- timeline ----------------------------------------------------------------------------------------------------


def _row_texts(fig, state: str = "") -> list[str]:
    """The text of every row of a timeline (wrapped lines joined), only failures if state == "fail"."""
    return [
        t.get_text().replace("\n", " ")
        for t in fig.axes[0].texts
        if t.get_gid() and t.get_gid().startswith("row:") and t.get_gid().endswith(state)
    ]


def test_timeline_marks_the_failing_calls():
    """-EOPNOTSUPP travels up from tdx_gmem_post_populate to the VMM's ioctl, whose return arrow carries it."""
    run = run_cell(Toggles(in_place=False, source="zero", image_pages=1))
    i = [name for _mark, name, _result in run.history].index("add")
    start, stop = run.history[i][0], run.history[i + 1][0]
    fig = plot.call_timeline(run.vmm.trace.events, run.step_marks, start, stop)
    assert any("tdx_gmem_post_populate() → -EOPNOTSUPP" in t for t in _row_texts(fig, "fail"))
    assert "arrow:kvm:vmm:return:-EOPNOTSUPP" in gids(fig)
    assert "arrow:vmm:kvm:call:KVM_TDX_INIT_MEM_REGION" in gids(fig)


def test_timeline_shows_module_status_of_a_failed_seamcall():
    """A TDH.MEM.PAGE.ADD that fails with TDX_OPERAND_INVALID bugs the VM (tdx_mem_page_add's TDX_BUG_ON_2): the
    status comes back from the TDX module to KVM as a failed return arrow."""
    vmm = tdxsim.Vmm("v8")
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, 16 * 4096)
    vmm.write(binding.userspace_addr, b"image")
    vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=0, offset=0, size=4096, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE)
    vmm.tdx_error(leaf="TDH.MEM.PAGE.ADD", status="TDX_OPERAND_INVALID")
    start = len(vmm.trace.events)
    add = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1, flags=KVM_TDX_MEASURE_MEMORY_REGION)
    assert add.ret == -errno.EIO
    fig = plot.call_timeline(vmm.trace.events, None, start, len(vmm.trace.events))
    assert "TDX_OPERAND_INVALID" in _row_texts(fig, "fail")
    assert "arrow:tdx:kvm:return:TDX_OPERAND_INVALID" in gids(fig)
    assert "arrow:kvm:tdx:call:TDH.MEM.PAGE.ADD 0x0" in gids(fig)


def test_timeline_build_reaches_finalize_with_folded_repeats():
    """Chapter 04's range, KVM_TDX_INIT_VM to KVM_TDX_FINALIZE_VM, is drawn to its end, with the repeated SEAMCALLs
    folded: one TDH.MNG.ADDCX per TDCS page (kvm tdx.c __tdx_td_init loops over kvm_tdx->td.tdcs_nr_pages =
    tdcs_base_size / PAGE_SIZE, MIN_NUM_TDCS_PAGES = 6 in intel/tdx-module TDX_1.5.01 tdh_sys_info.c), and a 4 KiB page
    measured in 256-byte TDH.MR.EXTEND chunks (tdx-module tdh_mr_extend.c: 256 bytes per call, so 16 per page)."""
    from tdxsim.lessons import lifecycle

    rows = lifecycle.run_variant("as QEMU does it")
    events, steps = lifecycle.timeline_steps(rows)
    labels = [r.label for r in rows]
    start, stop = steps[labels.index("KVM_TDX_INIT_VM")][0], steps[labels.index("KVM_TDX_FINALIZE_VM") + 1][0]
    fig = plot.call_timeline(events, steps, start, stop)
    g = gids(fig)
    assert "arrow:kvm:tdx:call:TDH.MNG.ADDCX ×6" in g
    assert "arrow:kvm:tdx:call:TDH.MR.EXTEND 0x0 ×16" in g
    assert "arrow:kvm:tdx:call:TDH.MR.FINALIZE" in g
    assert "arrow:vmm:kvm:call:KVM_TDX_FINALIZE_VM" in g
    assert not any("…" in t for t in _row_texts(fig))
    # the first touch's three S-EPT tables (levels 3, 2, 1: tdx-tdp-mmu.rst "adding a private page") fold into one
    # block, so the diagram is not three copies of the same eight rows
    assert "arrow:kvm:tdx:call:TDH.MEM.SEPT.ADD 0x0 L3–1 ×3" in g
    assert not any(x.startswith("arrow:kvm:tdx:call:TDH.MEM.SEPT.ADD 0x0 L2") for x in g)


def test_timeline_mapgpa_starts_in_the_guest_and_shows_the_vmm_ioctl():
    """A MapGPA is the guest's TDG.VP.VMCALL (a TD exit to KVM), KVM exits to userspace with KVM_EXIT_HYPERCALL
    (kvm tdx.c tdx_map_gpa), and the VMM converts with KVM_SET_MEMORY_ATTRIBUTES2 (QEMU kvm_convert_memory) before
    the guest gets TDVMCALL_STATUS_SUCCESS."""
    from tdxsim import Vmm
    from tdxsim.lessons import conversions

    map_gpa = conversions.convert(Vmm("v8"), to_shared=True, pages=1)["MapGPA"]
    fig = plot.call_timeline(map_gpa.events, [(0, {"op": map_gpa.op, "label": "MapGPA", **map_gpa})])
    arrows = [a for a in sorted(gids(fig)) if a.startswith("arrow:")]
    assert "arrow:guest:kvm:call:TDG.VP.VMCALL<MapGPA>" in arrows
    assert any(a.startswith("arrow:kvm:vmm:call:KVM_EXIT_HYPERCALL") for a in arrows)
    assert any(a.startswith("arrow:vmm:kvm:call:KVM_SET_MEMORY_ATTRIBUTES2") for a in arrows)
    assert any(a.startswith("arrow:kvm:guest:return:TDG.VP.VMCALL<MapGPA>") for a in arrows)


def test_timeline_highlight_and_size():
    run = run_cell(Toggles(image_pages=1))
    fig = plot.call_timeline(run.vmm.trace.events, run.step_marks, 0, 20, highlight=5)
    assert "highlight:event:5" in gids(fig)
    png_ok(to_png(fig, 40), int(fig.get_figwidth() * 40), int(fig.get_figheight() * 40))
    long = plot.call_timeline(run.vmm.trace.events, run.step_marks)
    assert f"all {len(run.vmm.trace.events)} events" in " ".join(t.get_text() for t in long.texts)


# -- outcome matrix ----------------------------------------------------------------------------------------------


def test_matrix_cells_show_the_sources_answers():
    """Every cell of the figure carries the errno the sources give for its row and kernel (scenario_helpers
    SEED_OFF / SEED_ON / seed_expected, each value cited there), not the run's own answer read back."""
    cells = run_matrix()
    g = gids(plot.outcome_matrix(cells, selected=(1, 3)))
    assert "selected:1:3" in g
    assert [cell.kernel for cell in cells[0]] == list(SEED_KERNELS)
    for r, row in enumerate(cells):
        t = row[0].row.toggles
        for c, cell in enumerate(row):
            expected = seed_expected(cell.kernel, t.in_place, t.source, t.converted, t.add_twice)
            assert f"cell:{r}:{c}:{expected or 'n/a'}" in g, (row[0].row.label, cell.kernel)
            if cell.run is not None:
                assert cell.source is not None and (cell.source.url or "." in cell.source.ref)


def test_matrix_matches_the_references():
    """Spot checks, values from the sources: v8 23/46 tdx_gmem_post_populate (-EOPNOTSUPP without in-place, the target
    as source with it), kvm-x86 09c6f74ecb86 tdx_vcpu_init_mem_region (-EINVAL for 0, misaligned), 2a62345b3052 (VA 0
    was a plain address before), mmu.c kvm_tdp_mmu_map_private_pfn (double add -EIO; akSx0Bx1RKe9DCXw)."""
    cells = {(cell.row.label, cell.kernel): cell for row in run_matrix() for cell in row}
    expect = {
        ("off · 0, nothing at VA 0", "v8"): -errno.EOPNOTSUPP,
        ("off · 0, nothing at VA 0", "2a62345b3052"): -errno.EOPNOTSUPP,
        ("off · 0, nothing at VA 0", "kvm-x86-2026-06"): -errno.EINVAL,
        ("off · 0, VA 0 mapped ('Y')", "v8"): -errno.EOPNOTSUPP,
        ("off · 0, VA 0 mapped ('Y')", "pre-2a62345b3052"): 0,
        ("on · 0, written while shared", "v8"): 0,
        ("on · 0, never written", "v8"): 0,
        ("on · 0, page left shared", "v8"): -errno.EINVAL,
        ("off · misaligned address", "v8"): -errno.EINVAL,
        ("on · same GPA added twice", "v8"): -errno.EIO,
        ("off · same GPA added twice", "v8"): -errno.EIO,
    }
    for key, ret in expect.items():
        assert outcome(cells[key].run).ret == ret, key
    assert all(cells[(r.label, k)].run is None for r in ROWS if r.toggles.in_place for k in ("2a62345b3052",))
    png_ok(to_png(plot.outcome_matrix(run_matrix(kernels=("v8",))), 30), 510, int((1.9 + 0.62 * len(ROWS)) * 30))


def chunk(run):
    """The 256 bytes at a GPA of the TD's private page (what a TDH.MR.EXTEND there measured)."""
    return lambda gpa: run.vmm.private_bytes(gpa, 256) or bytes(256)


# -- MRTD --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "toggles",
    [Toggles(), Toggles(measure=False), Toggles(in_place=False, source="buffer"), Toggles(add_twice=True)],
    ids=["in-place", "no-measure", "out-of-place", "twice"],
)
def test_running_hash_ends_at_the_modules_mrtd(toggles):
    run = run_cell(toggles)
    steps = plot.mrtd_steps(run.vmm.trace.events, chunk(run))
    assert steps[-1].digest == run.vmm.mrtd().hex()
    assert [s.leaf for s in steps[:2]] == (
        ["TDH.MEM.PAGE.ADD", "TDH.MR.EXTEND"] if toggles.measure else ["TDH.MEM.PAGE.ADD", "TDH.MEM.PAGE.ADD"]
    )
    fig = plot.mrtd_records(run.vmm.trace.events, chunk(run), run.vmm.mrtd().hex())
    assert any("= the replay ✓" in t.get_text() for t in fig.texts)


def test_mrtd_of_nothing_is_sha384_of_nothing():
    run = run_cell(Toggles(in_place=False, source="zero"))  # -EOPNOTSUPP: nothing added
    assert plot.mrtd_steps(run.vmm.trace.events, chunk(run)) == []
    fig = plot.mrtd_records(run.vmm.trace.events, chunk(run), run.vmm.mrtd().hex())
    assert any("= the replay ✓" in t.get_text() for t in fig.texts)
    png_ok(to_png(fig, 40), 600, int(fig.get_figheight() * 40))


def test_compare_title_says_what_the_runs_show():
    """The comparison's title is counted from the runs it is given: out of place without the discard, each of the 16
    GFNs the guest shared keeps its guest_memfd page beside the anonymous one (v8 cover letter: out-of-place needs
    "two backing sources"); chapter 07's out-of-place build writes its 4 image pages at `userspace_addr` (the shared
    side, never discarded) and adds them from a separate buffer into 4 guest_memfd pages: 4 GFNs twice; in place,
    none."""
    from tdxsim.lessons.backing import Setup, build
    from tdxsim.plot.ownership import compare_title, machine_view, ownership_data
    from tdxsim.seed import Toggles, run_cell

    setup = Setup(in_place=False, discard=False)
    data = ownership_data(*machine_view(build(setup)))
    assert setup.shared_pages == 16
    assert "16 GFNs backed by two pages" in compare_title([("oop", data)])
    data = ownership_data(*machine_view(build(Setup(in_place=False, discard=True))))
    assert "two pages" not in compare_title([("oop", data)])
    cells = [run_cell(Toggles(in_place=False, source="buffer")), run_cell(Toggles(in_place=True, source="zero"))]
    title = compare_title([(str(i), ownership_data(*machine_view(c.vmm))) for i, c in enumerate(cells)])
    written = [line for line in cells[0].lines if line.startswith("vmm.write(addr=0x7f00")]
    assert len(written) == 4
    assert "0: 4 GFNs backed by two pages" in title and "1: one page per GFN, its attribute flips" in title
