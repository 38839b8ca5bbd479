"""The answer key and the exercise widgets (tdxsim.lessons.exercises, tdxsim.widgets.exercise): every entry's answer
is accepted and a wrong one refused through the same `check` the widgets use; the simulator facts are recomputed
here from a replay (not copied from the key), with the source each one rests on; and no widget, nor the saved
chapter, carries an answer before the reader gives one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tdxsim import problems
from tdxsim.lessons import exercises
from tdxsim.lessons.answers import KEY
from tdxsim.seed import Toggles, outcome, run_cell

ROOT = Path(__file__).resolve().parents[1]
WRONG = {"errno": "EPERM", "number": "4097", "state": "PENDING_BLOCKED"}


def _wrong(entry) -> str:
    if entry.kind == "choice":
        return next(c for c in entry.choices if c != entry.answer)
    return WRONG[entry.kind]


@pytest.mark.parametrize("exercise_id", sorted(KEY))
def test_every_entry_accepts_its_answer_and_refuses_a_wrong_one(exercise_id):
    entry = KEY[exercise_id]
    assert entry.kind in exercises.KINDS
    ok, message = exercises.check(exercise_id, entry.answer)
    assert ok and entry.explanation in message
    ok, message = exercises.check(exercise_id, _wrong(entry))
    assert not ok and entry.explanation not in message and entry.hint in message
    if entry.kind == "choice":
        assert entry.answer in entry.choices and len(set(entry.choices)) == len(entry.choices)
        assert entry.choices[0] != entry.answer  # the first choice is not always the right one


# -- the simulator facts, recomputed ------------------------------------------------------------------------------


def _errno(run) -> str:
    return "0" if outcome(run).ret == 0 else outcome(run).errno


def test_v8_in_place_off_null_is_the_simulators_answer():
    """Row 17 of tests/test_outcome_matrix.py (v8 23/46: `!src_page && !gmem_in_place_conversion` -> -EOPNOTSUPP),
    with VA 0 mapped and holding 'Y' as the prompt says."""
    run = run_cell(Toggles(kernel="v8", in_place=False, source="zero_va0"))
    assert exercises.check("07.v8-in-place-off-null", _errno(run))[0]
    assert exercises.check("07.v8-in-place-off-null", f"-{outcome(run).errno}")[0]


def test_double_add_is_the_simulators_answer():
    """Row 23 (RET_PF_SPURIOUS -> -EIO in kvm_tdp_mmu_map_private_pfn; Yan Zhao, akSx0Bx1RKe9DCXw@...)."""
    run = run_cell(Toggles(kernel="v8", in_place=True, source="zero", add_twice=True))
    assert outcome(run).ret < 0
    assert exercises.check("07.double-add", _errno(run))[0]


def test_v13_refusal_place_is_the_simulators_answer():
    """sean-jc/linux 07f26358 tdx_vcpu_init_mem_region: the check is in the first validation, so the replay's call
    chain stops there, before kvm_gmem_populate, and no SEAMCALL is made."""
    run = run_cell(Toggles(kernel="v13", in_place=False, source="zero"))
    fns = [c["fn"] for c in outcome(run).calls]
    assert outcome(run).ret < 0 and outcome(run).seamcalls == []
    refused_in = fns[-1]
    picked = next(c for c in KEY["07.v13-where-refused"].choices if c.startswith(f"in {refused_in}()"))
    assert exercises.check("07.v13-where-refused", picked)[0]
    assert "kvm_gmem_populate" not in fns


def test_extends_per_page_is_the_simulators_answer():
    """Row 1: a measured add issues one TDH.MR.EXTEND per 256-byte chunk (TDX_EXTENDMR_CHUNKSIZE)."""
    p = problems.draw(4)  # docs/scenario.md's example: a measured add that succeeds
    assert p.measure
    calls = problems.answer(p)["seamcalls"]
    n = sum(c["leaf"] == "TDH.MR.EXTEND" for c in calls)
    assert exercises.check("07.extends-per-page", str(n))[0]
    assert exercises.check("07.extends-per-page", hex(n))[0]


# -- reading answers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["EIO", "-EIO", " eio ", "-5"])
def test_errno_spellings(text):
    assert exercises.normalize("errno", text) == "EIO"


@pytest.mark.parametrize("text", ["", "EIO!", "5", "x", None, True, 3.0, "E" * 40])
def test_unreadable_errno_is_not_right_and_says_how(text):
    ok, message = exercises.check("07.double-add", text)
    assert not ok and "errno name" in message


def test_choice_by_letter():
    entry = KEY["07.v13-where-refused"]
    letter = "abcd"[entry.choices.index(entry.answer)]
    assert exercises.check("07.v13-where-refused", letter)[0]
    assert exercises.check("07.v13-where-refused", letter.upper())[0]


def test_unknown_ids_and_chapters():
    with pytest.raises(KeyError):
        exercises.check("99.nothing", "EIO")
    with pytest.raises(KeyError):
        exercises.review("99")


def test_review_is_three_questions_without_answers():
    questions = exercises.review("07")
    assert [q.id for q in questions] == sorted(
        (i for i, e in KEY.items() if e.chapter == "07" and e.review), key=lambda i: KEY[i].review
    )
    assert len(questions) == 3
    for q in questions:
        assert not hasattr(q, "answer") and not hasattr(q, "explanation")


def test_check_problem_against_the_outcome_matrix():
    """Seed 4 (docs/scenario.md's example) is a measured first add with a separate source: row 1 says 0, three
    SEPT.ADD + PAGE.ADD + 16 MR.EXTEND = 20 SEAMCALLs, and the leaf MAPPED."""
    assert [ok for ok, _ in exercises.check_problem(4, "0", "20", "MAPPED")] == [True, True, True]
    assert [ok for ok, _ in exercises.check_problem(4, "EIO", "4", "FREE")] == [False, False, False]


# -- nothing leaks before the reader answers ----------------------------------------------------------------------


def _j(text: str) -> str:
    """`text` as it appears inside a JSON string."""
    return json.dumps(text)[1:-1]


def _state(widget) -> str:
    """Every stored state of `widget` and its descendants, as the notebook would save it."""
    import ipywidgets as w

    seen, todo, states = set(), [widget], []
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        states.append(x.get_state())
        todo += [c for c in getattr(x, "children", ()) if isinstance(c, w.Widget)]
    return json.dumps(states, default=str)


@pytest.mark.parametrize("exercise_id", sorted(KEY))
def test_exercise_widget_holds_no_answer_until_checked(exercise_id):
    pytest.importorskip("ipywidgets")
    from tdxsim.widgets.exercise import exercise

    entry = KEY[exercise_id]
    widget = exercise(exercise_id)
    before = _state(widget)
    assert _j(entry.explanation) not in before and _j(entry.hint) not in before
    if entry.kind != "choice":
        assert json.dumps(entry.answer) not in before
    widget.controls["answer"].value = entry.answer
    widget.controls["check"].click()
    assert _j(entry.explanation) in _state(widget)  # the control: the state does carry it once answered
    assert repr(widget) == f"<exercise {exercise_id}: right>"


def test_review_widget_holds_no_answer():
    pytest.importorskip("ipywidgets")
    from tdxsim.widgets.exercise import review

    state = _state(review("07"))
    for q in exercises.review("07"):
        assert _j(KEY[q.id].explanation) not in state and _j(KEY[q.id].hint) not in state


def test_problem_widget_holds_no_answer_until_asked():
    pytest.importorskip("ipywidgets")
    from tdxsim.widgets.exercise import problem

    seed = 9  # kvm-x86-2026-06, source_addr 0, in order: row 16 says -EINVAL
    widget = problem(seed)
    assert "EINVAL" not in _state(widget) and "Answers (" not in _state(widget)
    widget.controls["show"].click()
    assert "EINVAL" in _state(widget)


def test_saved_chapter_07_has_no_answer_text():
    """The stored notebook (outputs and widget state) carries none of chapter 07's hints or explanations."""
    saved = (ROOT / "notebooks" / "07-source-addr-zero.ipynb").read_text()
    for entry in KEY.values():
        if entry.chapter == "07":
            assert _j(entry.explanation) not in saved and _j(entry.hint) not in saved
    assert "<problem, seed " in saved  # the workshop cell ran and was saved unanswered ...
    assert "Answers (" not in saved and ": right>" not in saved and ": shown>" not in saved


# -- chapters 00-04: the simulator facts, recomputed ----------------------------------------------------------------
# Each test replays what the exercise describes and picks the reader's answer from the replay; the expected value
# it must land on is the one the quoted source gives.

INTRO = ("00", "01", "02", "03", "04")


def _scenario(name: str) -> dict:
    return json.loads((ROOT / "examples" / name).read_text())


def _step(out: dict, label: str) -> dict:
    return next(s for s in out["steps"] if s.get("label") == label)


def test_00_tour_adds_in_place_by_page_add():
    """v8 23/46: with source_addr 0 and in-place conversion on, the target page is its own source (src_page =
    pfn_to_page(pfn)), through PAGE.ADD before finalize, and the guest reads what was written while shared."""
    from tdxsim.scenario import run_scenario

    out = run_scenario(_scenario("seed-thread-in-place.json"))
    assert bytes.fromhex(_step(out, "read")["data"]).startswith(b"Hello")
    leaves = [c["leaf"] for c in _step(out, "add")["seamcalls"]]
    assert "TDH.MEM.PAGE.ADD" in leaves and "TDH.MEM.PAGE.AUG" not in leaves
    private = [p for p in out["final"]["pages"].values() if p["owner"] == "td_private"]
    assert [p["contents"] for p in private] == ["in-place PAGE.ADD (source = target)"]
    assert exercises.check("00.review-which-seamcall", "TDH.MEM.PAGE.ADD, with the target page as its own source")[0]


def test_00_skipping_the_conversion_is_refused_before_any_seamcall():
    """kvm_gmem_populate (virt/kvm/guest_memfd.c) adds only a private range: -EINVAL, no SEAMCALL; the control
    is the same recipe with the conversion, which succeeds."""
    skipped = run_cell(Toggles(kernel="v8", in_place=True, source="zero", converted=False))
    assert outcome(run_cell(Toggles(kernel="v8", in_place=True, source="zero"))).ret == 0
    assert outcome(skipped).seamcalls == [] and "kvm_gmem_populate" in [c["fn"] for c in outcome(skipped).calls]
    assert exercises.check("00.skip-conversion", _errno(skipped))[0]


def test_00_image_extends():
    """TDX_EXTENDMR_CHUNKSIZE 256 (arch/x86/kvm/vmx/tdx.c): 16 TDH.MR.EXTEND per 4 KiB page, for each page of the
    control panel's 4-page image; none without the measure flag."""
    t = Toggles(kernel="v8", in_place=True, source="zero")
    assert t.image_pages == 4 and t.measure
    n = [c["leaf"] for c in outcome(run_cell(t)).seamcalls].count("TDH.MR.EXTEND")
    unmeasured = [c["leaf"] for c in outcome(run_cell(t.replace(measure=False))).seamcalls]
    assert "TDH.MR.EXTEND" not in unmeasured
    assert exercises.check("00.image-extends", str(n))[0]


def test_00_out_of_place_source_zero():
    """v8 23/46: !src_page && !gmem_in_place_conversion -> -EOPNOTSUPP."""
    from tdxsim.scenario import run_scenario

    add = _step(run_scenario(_scenario("source-zero-out-of-place.json")), "add")
    assert add["ret"] < 0
    assert exercises.check("00.out-of-place-source-zero", str(add["ret"]))[0]


def test_00_mapped_va0_is_still_no_source():
    """Sean, akMPZePBdwQlD74H: a mapping at VA 0 "is irrelevant": with VA 0 mapped and holding 'Y', v8 without
    in-place conversion still refuses the NULL source, as with nothing mapped."""
    mapped = run_cell(Toggles(kernel="v8", in_place=False, source="zero_va0"))
    unmapped = run_cell(Toggles(kernel="v8", in_place=False, source="zero"))
    assert outcome(mapped).ret == outcome(unmapped).ret < 0
    assert exercises.check("00.review-null-mapped", "'no source page': the mapping at 0 is irrelevant")[0]


def test_01_gpaw52_alias_is_the_shared_page():
    """TDX_SHARED_BIT_PWL_5 (arch/x86/kvm/vmx/tdx.c): bit 51 is the shared bit with GPAW 52."""
    from tdxsim.lessons import readers

    assert readers.shared_mask(52) == 1 << 51
    r = readers.read_page(*readers.small_td(52), "td", "shared", shared_bit=True)
    assert r.address == "GPA 0x800000000f000" and r.data.startswith(b"virtio ring")
    answer = "the shared alias of GFN 0xF: the page the VMM wrote, through the shared EPT"
    assert exercises.check("01.gpaw52-alias", answer)[0]


def test_01_shared_bit_gpaw48():
    """TDX_SHARED_BIT_PWL_4: bit 47."""
    from tdxsim.lessons import readers

    mask = readers.shared_mask(48)
    assert mask & (mask - 1) == 0
    assert exercises.check("01.review-shared-bit", str(mask.bit_length() - 1))[0]


def test_01_readers_of_a_private_page():
    """v8 01/46 kvm_gmem_fault_user_mapping: SIGBUS for the VMM; Documentation/arch/x86/tdx.rst: private KeyIDs work
    only in SEAM mode, so the kernel's KeyID-0 read holds no plaintext."""
    from tdxsim.lessons import readers

    machine, binding = readers.small_td(48)
    store = machine.write(binding.userspace_addr, b"patch")  # the firmware page, private
    shared_va = binding.userspace_addr + readers.SHARED_GFN * 4096
    assert machine.write(shared_va, b"ok").get("signal") is None  # the control
    assert exercises.check("01.vmm-writes-private", store["signal"])[0]
    kernel = readers.read_page(*readers.small_td(), "kernel", "image")
    secret = readers.IMAGE_TEXT.format(i=0).encode()
    assert readers.read_page(*readers.small_td(), "td", "image").data.startswith(
        secret
    )  # the control: the TD does read it
    assert secret not in kernel.data
    assert exercises.check(
        "01.kernel-reads-private", "no: it reads with KeyID 0, not the TD's key, and gets no plaintext"
    )[0]


def test_01_host_reads_no_tdr_plaintext():
    """The TDR is under the module's global private KeyID (tdh_phymem_page_wbinvd_tdr flushes it with
    tdx_global_keyid, arch/x86/virt/vmx/tdx/tdx.c); the host reads with KeyID 0 and gets no plaintext."""
    from tdxsim.lessons import readers

    r = readers.read_page(*readers.small_td(), "kernel", "tdr")
    assert r.outcome == "zeros" and "global private KeyID" in r.path[0]
    answer = "no plaintext: the TDR is encrypted with the TDX module's global private KeyID"
    assert exercises.check("01.review-tdr", answer)[0]


def test_01_two_tds():
    """tdh_mem_page_aug.c -> check_and_lock_free_range_hpa: a PT_REG frame is TDX_PAGE_METADATA_INCORRECT;
    tdx_guest_keyid_alloc: lowest free KeyID after the global one (16 on tdxsim's platform)."""
    from tdxsim import Vmm, recipes
    from tdxsim.lessons import readers

    vmm, bindings = Vmm("v8"), []
    for text in (b"TD A's secret", b"TD B's secret"):
        recipes.create_td(vmm)
        binding, _ = recipes.bind_guest_memfd(vmm, size=16 * 4096)
        recipes.load_image(vmm, binding, gpa=0, data=text.ljust(4096, b"\0"))
        recipes.run_guest(vmm)
        bindings.append(binding)
    hkids, cross = readers.two_td_reads(vmm, bindings)
    aug = cross[3][0]  # TD B's host, TD A's page
    assert aug.outcome == "refused"
    status = next(c for c in KEY["01.cross-td-aug"].choices if c in aug.detail)
    assert exercises.check("01.cross-td-aug", status)[0]
    assert exercises.check("01.td-b-hkid", str(hkids[1]))[0]
    assert hkids[0] < hkids[1]


def test_02_out_of_place_backing():
    """v8 cover letter: out-of-place needs "two backing sources": 64 guest_memfd pages plus 16 anonymous ones."""
    from tdxsim.lessons.backing import Setup, build, guest_backing

    vmm = build(Setup(in_place=False, pages=64, shared_pages=16, discard=False))
    assert exercises.check("02.out-of-place-backing", str(guest_backing(vmm)))[0]


def test_02_private_page_sigbus():
    """v8 01/46 kvm_gmem_fault_user_mapping: SIGBUS on a private page."""
    from tdxsim.lessons.backing import Setup, build
    from tdxsim.platform import MMAP_BASE

    vmm = build(Setup(in_place=True))  # the guest_memfd is the process's first mmap: at MMAP_BASE
    assert exercises.check("02.in-place-vmm-loads-private", vmm.read(MMAP_BASE, 1)["signal"])[0]


def test_02_in_place_backing_is_one_page_per_gfn():
    """v8 cover letter: in place, shared and private are one page; the control is the out-of-place run without
    discard, which needs a second page for each shared GFN."""
    from tdxsim.lessons.backing import Setup, build, guest_backing

    in_place = guest_backing(build(Setup(in_place=True, pages=64, shared_pages=16)))
    two = guest_backing(build(Setup(in_place=False, pages=64, shared_pages=16, discard=False)))
    assert two == in_place + 16
    assert exercises.check("02.in-place-backing", str(in_place))[0]


def test_02_bytes_written_while_shared_reach_the_td_only_in_place():
    """v8 23/46 (in-place add of what userspace wrote) and v8 17/46 (no content change on an attribute update):
    in place the TD's page holds the image written while shared; out of place the NULL source is refused."""
    in_place = run_cell(Toggles(kernel="v8", in_place=True, source="zero", written_while_shared=True))
    out_of_place = run_cell(Toggles(kernel="v8", in_place=False, source="zero", written_while_shared=True))
    assert outcome(in_place).ret == 0 and any(in_place.vmm.private_bytes(0, 16))
    assert outcome(out_of_place).ret < 0 and out_of_place.vmm.private_bytes(0, 16) is None
    answer = "in-place (per-guest_memfd attributes): the conversion keeps the folio"
    assert exercises.check("02.review-shared-bytes-in-place", answer)[0]


def test_02_private_to_shared_loses_the_tds_data():
    """v8 17/46 (api.rst): private->shared must be treated as losing the contents; docs/fidelity.md: a page that
    leaves the TD reads as zeros."""
    from tdxsim.lessons.backing import Setup, build
    from tdxsim.platform import MMAP_BASE

    vmm = build(Setup(in_place=True))
    vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=0, offset=0, size=4096, attributes=0)
    data = vmm.read(MMAP_BASE, 16)["data"]
    assert data == bytes(16)
    assert exercises.check("02.review-private-to-shared", "not the TD's data: the contents are lost (zeros in tdxsim)")[
        0
    ]


def _runtime_td(pages: int = 4):
    """A finalized in-place TD: image page at GPA 0, the rest of the slot private and not yet accepted."""
    from tdxsim import Vmm, recipes
    from tdxsim.platform import PAGE_SIZE

    vmm = Vmm("v8")
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, size=pages * PAGE_SIZE)
    recipes.load_image(vmm, binding, 0, b"first touch".ljust(PAGE_SIZE, b"\0"))
    recipes.convert_range(vmm, PAGE_SIZE, (pages - 1) * PAGE_SIZE, private=True)
    recipes.run_guest(vmm)
    return vmm


def _first_add(gpa: int, gpaw: int, size: int = 4096):
    """A TD with one memslot of `size` bytes at `gpa`, its first page added: (vmm, binding, the add's Result)."""
    from tdxsim import Vmm, recipes

    vmm = Vmm("v8")
    recipes.create_td(vmm, gpaw=gpaw)
    binding, _ = recipes.bind_guest_memfd(vmm, size=size, gpa=gpa)
    return vmm, binding, recipes.load_image(vmm, binding, gpa, bytes(4096))[-1]


def test_runtime_page_arrives_by_aug_pending_then_zeroed():
    """tdx_mem_page_aug (arch/x86/kvm/vmx/tdx.c); tdh_mem_page_aug.c: FREE -> PENDING; tdg_mem_page_accept.c:
    PENDING -> MAPPED, page zeroed."""
    vmm = _runtime_td()
    accept = vmm.guest_accept(gpa=0x1000)
    aug = [c for c in accept.changes if c["what"] == "sept" and c["leaf"] == "TDH.MEM.PAGE.AUG"]
    assert len(aug) == 1
    assert exercises.check("03.review-aug-state", aug[0]["new"])[0]
    leaves = [c["leaf"] for c in accept.seamcalls]
    assert leaves == ["TDH.MEM.PAGE.AUG"] and exercises.check("04.review-aug-state", leaves[0])[0]
    assert vmm.private_bytes(0x1000, 256) == bytes(256)
    assert exercises.check("02.review-add-vs-aug", "zeros: PAGE.AUG adds it without a copy and ACCEPT zeroes it")[0]


def test_03_sept_adds_and_shared_gpa():
    """tdx-tdp-mmu.rst "adding a private page": 512G, 1G, 2M tables for a 4-level S-EPT, one more at 5 levels;
    !vt_is_tdx_private_gpa -> -EINVAL for bit 47 set with GPAW 48."""
    from tdxsim.lessons import pagetables

    vmm, _binding, add = _first_add(0, 48)
    four = pagetables.sept_add_levels(add)
    assert four == [3, 2, 1]
    assert exercises.check("03.sept-adds-4-level", str(len(four)))[0]
    ret = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0x8000_0000_0000, nr_pages=1).ret
    assert exercises.check("03.shared-gpa-add", str(ret))[0]


def test_03_a_second_page_2m_away_needs_one_table():
    """tdp_mmu_link_sp links only missing tables; a level-1 table covers 2 MiB, so GPA 0x200000 after GPA 0 needs a
    new level-1 table and nothing above it (tdx-tdp-mmu.rst "adding a private page")."""
    from tdxsim import recipes
    from tdxsim.lessons import pagetables

    vmm, binding, _add = _first_add(0, 48, size=0x20_0000 + 4096)
    second = recipes.load_image(vmm, binding, 0x20_0000, bytes(4096))[-1]
    assert second.ret == 0
    levels = pagetables.sept_add_levels(second)
    assert levels == [1]
    assert exercises.check("03.sept-adds-next-2m", str(len(levels)))[0]


def test_03_zap_order_and_sept_page_type():
    """tdx_sept_remove_leaf_spte: BLOCK, TRACK, REMOVE; tdh_mem_sept_add.c: S-EPT table pages are PT_EPT."""
    vmm = _runtime_td()
    vmm.guest_accept(gpa=0x1000)
    zap = [c["leaf"] for c in vmm.guest_map_gpa(gpa=0x1000, size=4096, shared=True).seamcalls]
    assert exercises.check("03.zap-order", ", ".join(zap[:3]))[0]
    first, _binding, add = _first_add(0, 48)
    added = [c for c in add.seamcalls if c["leaf"] == "TDH.MEM.SEPT.ADD"]
    pages = first.describe_pages().values()
    types = {p["pamt"] for p in pages if p["owner"] == "tdx_metadata"}
    ept = [p for p in pages if p["pamt"] == "PT_EPT"]
    assert len(ept) == len(added) and "PT_EPT" in types
    assert exercises.check("03.review-sept-page-type", ept[0]["pamt"])[0]


def test_04_build_flow_facts():
    """tdx_vcpu_init_mem_region: -EINVAL once RUNNABLE; MIN_NUM_TDCS_PAGES 6 (TDX module 1.5), each PT_TDCX
    (tdh_mng_add_cx.c); TDH.MR.FINALIZE makes the TD RUNNABLE (commit 012426d); PAGE.ADD makes one PT_REG page."""
    from tdxsim.lessons import lifecycle

    late = {r.label: r.result for r in lifecycle.run_variant("KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM")}
    step = late["KVM_TDX_INIT_MEM_REGION"]
    assert step.seamcalls == [] and exercises.check("04.add-after-finalize", str(step.ret))[0]
    flow = lifecycle.run_variant("as QEMU does it")
    rows = {r.label: r for r in flow}
    n_tdcs = [c["leaf"] for c in rows["KVM_TDX_INIT_VM"].result.seamcalls].count("TDH.MNG.ADDCX")
    assert rows["KVM_TDX_INIT_VM"].metadata["PT_TDCX"] == n_tdcs  # every TDCS page is PT_TDCX
    assert exercises.check("04.tdcs-pages", str(n_tdcs))[0]
    runnable = next(r for r in flow if r.op_state == "OP_STATE_RUNNABLE")
    assert runnable.seamcalls == "TDH.MR.FINALIZE"
    assert exercises.check("04.runnable", runnable.label)[0]
    before, at = rows["convert to private"].metadata, rows["KVM_TDX_INIT_MEM_REGION"].metadata
    assert before.get("PT_REG", 0) == 0 and at["PT_REG"] == rows["KVM_TDX_FINALIZE_VM"].metadata["PT_REG"] == 1
    answer = "the one page KVM_TDX_INIT_MEM_REGION added: the TD's first private page"
    assert exercises.check("04.review-pt-reg", answer)[0]


def test_04_init_mem_region_needs_the_vcpu():
    """commit c846b45: the vCPU's MMU fault path is the only way to SEPT.ADD before finalize; without
    KVM_TDX_INIT_VCPU the ioctl fails."""
    from tdxsim.lessons import lifecycle

    rows = {r.label: r for r in lifecycle.run_variant("skip KVM_TDX_INIT_VCPU")}
    assert rows["KVM_TDX_INIT_MEM_REGION"].result.ret < 0
    answer = "it reuses the vCPU's MMU fault path, the only way to invoke TDH.MEM.SEPT.ADD before finalize"
    assert exercises.check("04.review-init-mem-region-needs", answer)[0]


@pytest.mark.parametrize("chapter", INTRO)
def test_intro_chapters_have_a_review(chapter):
    assert len(exercises.review(chapter)) == 3


@pytest.mark.parametrize("chapter", INTRO)
def test_saved_intro_chapter_has_no_answer_text(chapter):
    """The stored notebook (sources, outputs and widget state) carries none of the chapter's hints or explanations,
    and calls no reveal() with an answer."""
    path = next((ROOT / "notebooks").glob(f"{chapter}-*.ipynb"))
    saved = path.read_text()
    ids = [i for i, e in KEY.items() if e.chapter == chapter]
    assert ids
    for i in ids:
        assert _j(KEY[i].explanation) not in saved and _j(KEY[i].hint) not in saved
    assert "reveal(" not in saved and ": right>" not in saved and ": shown>" not in saved
    assert f'review(\\"{chapter}\\")' in saved


# -- chapters 05-10: the simulator facts, recomputed ----------------------------------------------------------------


def _choice(exercise_id: str, starts: str) -> str:
    """The choice of `exercise_id` that begins with `starts` (the test picks it from what the simulator did)."""
    return next(c for c in KEY[exercise_id].choices if c.startswith(starts))


def test_never_written_page_is_zeroed_not_stale():
    """v8 21/46 "KVM: guest_memfd: Zero page while getting pfn" (20260618-gmem-inplace-conversion-v8-0-…): a folio
    the page cache allocates is not zeroed (kvm_gmem_get_folio: GFP_HIGHUSER, no __GFP_ZERO), so the page first
    holds what its previous user left, as in tests/test_rules.py; the in-place add of that never-written page must
    give the TD zeros. Without the zeroing in __kvm_gmem_get_pfn the TD would read the stale bytes and this fails."""
    from scenario_helpers import finalize, guest_read, init_mem_region, set_private, td_setup

    from tdxsim.scenario import parse_step, replay_scenario

    stale = b"left by the page's previous user"
    steps = td_setup("v8", model="in-place") + [set_private("in-place", 0)]
    vmm = replay_scenario({"format": 1, "kernel": "v8", "steps": steps}).vmm
    gmem = vmm.kvm.gmems[0]
    pfn = gmem.kvm_gmem_get_folio(0)  # allocated, not up to date
    assert 0 not in gmem.uptodate
    vmm.mem.write(pfn, 0, stale)
    results = {}
    for i, raw in enumerate([init_mem_region(0, 0, label="add"), finalize(), guest_read(0, 64, label="read")]):
        op, args = parse_step(raw, i)
        results[raw.get("label")] = getattr(vmm, op)(**args)
    assert results["add"]["ret"] == 0
    seen = results["read"]["data"]
    picked = _choice("07.never-written", "a page of zeros" if seen == bytes(64) else "the bytes")
    assert seen[: len(stale)] != stale
    assert exercises.check("07.never-written", picked)[0]


def test_kvm_x86_null_is_the_simulators_answer():
    """Row 16 of tests/test_outcome_matrix.py: kvm-x86 09c6f74e tdx_vcpu_init_mem_region, -EINVAL up front."""
    run = run_cell(Toggles(kernel="kvm-x86-2026-06", in_place=False, source="zero"))
    assert outcome(run).seamcalls == []
    assert exercises.check("07.kvm-x86-null", _errno(run))[0]


def test_pre_rework_va0_is_the_simulators_answer():
    """Yan, quoted in CAEvNRgHb6WmOha6…: before 2a62345b3052 a source_addr of 0 worked when VA 0 was mapped."""
    run = run_cell(Toggles(kernel="pre-2a62345b3052", in_place=False, source="zero_va0"))
    assert outcome(run).ret == 0
    got = run.vmm.private_bytes(0, 1)
    picked = _choice("07.pre-rework-va0", "the 'Y'" if got == b"Y" else "a page of zeros")
    assert exercises.check("07.pre-rework-va0", picked)[0]


def _page_add_record(gpa: int) -> bytes:
    """intel/tdx-module TDX_1.5.01 sha384.h sha384_128B_block_t: 'MEM.PAGE.ADD' padded to 16, GPA u64 LE, zeros."""
    return b"MEM.PAGE.ADD".ljust(16, b"\0") + gpa.to_bytes(8, "little") + bytes(104)


def test_unmeasured_page_enters_mrtd_by_its_gpa_only():
    import hashlib

    from test_nb05_measurement import mrtd

    plain = mrtd([(0x1000, None)])
    assert plain == hashlib.sha384(_page_add_record(0x1000)).hexdigest()  # the GPA's record, nothing else
    assert exercises.check("05.unmeasured-record", _choice("05.unmeasured-record", "its GPA only"))[0]


def test_in_place_and_separate_source_measure_alike():
    """mrtd-vectors.json: PAGE.ADD at 0x1000, then 16 MR.EXTEND of bytes(range(256))*16 — whatever the source."""
    from test_nb05_measurement import mrtd

    content = bytes(range(256)) * 16
    want = "15a8464628b6214951c4a1b57775507dd950263654e8790e257995b45013c84aba1d87a3bcbc1929b5f7db6d3e92cad6"
    got = {mrtd([(0x1000, content)], in_place=p) for p in (False, True)}
    assert got == {want}
    assert exercises.check("05.in-place-same-mrtd", _choice("05.in-place-same-mrtd", "no"))[0]


def test_order_of_adds_changes_mrtd():
    import hashlib

    from test_nb05_measurement import mrtd

    ab = mrtd([(0x0, None), (0x1000, None)])
    ba = mrtd([(0x1000, None), (0x0, None)])
    assert ab == hashlib.sha384(_page_add_record(0) + _page_add_record(0x1000)).hexdigest()
    assert ab != ba
    assert exercises.check("05.order-matters", _choice("05.order-matters", "yes"))[0]


def test_map_gpa_exits_are_the_simulators_answer():
    """TDX_MAP_GPA_MAX_LEN = 2 MiB per exit (arch/x86/kvm/vmx/tdx.c __tdx_map_gpa): 4 MiB + 4 KiB is 3 exits."""
    from tdxsim import Vmm
    from tdxsim.lessons import conversions

    vmm = Vmm("v8")
    s = conversions.summary(vmm, conversions.convert(vmm, to_shared=True, pages=1025))
    assert [n for _, n, _ in s.chunks] == [512, 512, 1]
    assert exercises.check("06.map-gpa-exits", str(len(s.chunks)))[0]


def test_zap_seamcalls_are_the_simulators_answer():
    """tdx.c tdx_sept_remove_leaf_spte: BLOCK, tdx_track (TRACK), REMOVE, then WBINVD (tdx-tdp-mmu.rst)."""
    from tdxsim import Vmm
    from tdxsim.lessons import conversions

    vmm = Vmm("v8")
    s = conversions.summary(vmm, conversions.convert(vmm, to_shared=True, pages=1))
    assert exercises.check("06.zap-seamcalls", ", ".join(s.seamcalls))[0]


def test_host_read_of_private_page_is_the_simulators_answer():
    """v8 cover letter / kvm_gmem_fault_user_mapping: a host touch of a private page is SIGBUS."""
    from tdxsim import Vmm
    from tdxsim.lessons import conversions

    vmm = Vmm("v8")
    reads = conversions.summary(vmm, conversions.convert(vmm, to_shared=False, pages=1)).reads
    assert exercises.check("06.host-reads-private", reads["host reads 0x1000"])[0]


def test_lock_exercises_are_the_simulators_answers():
    """Yan Zhao, 20250703062641.3247-1-yan.y.zhao@intel.com ("filemap invalidation lock --> mm->mmap_lock");
    2a62345b3052 (GUP "prior to acquiring"); rwsem_down_read_slowpath (a reader queues behind a waiting writer)."""
    from tdxsim.kvm import locking

    order = [x for x in locking.POPULATE_BEFORE.order() if x in ("filemap_invalidate_lock", "mmap_lock")]
    first = "mmap" if order[0] == "mmap_lock" else "the guest_memfd"
    assert exercises.check("08.old-lock-order", _choice("08.old-lock-order", first))[0]
    after = locking.find_cycle(locking.ERAS["since 2a62345b3052"])
    assert exercises.check("08.cycle-after", "no" if after is None else "yes")[0]
    before = next(iter(locking.ERAS.values()))  # the first era: before 2a62345b3052
    assert locking.reachable_deadlocks(before) == []  # two readers alone do not hang
    cycles = locking.reachable_deadlocks([*before, locking.MMAP_WRITER])
    assert exercises.check("08.threads-to-hang", str(len(cycles[0])))[0]


def test_talk_poll_and_review_are_the_simulators_answers():
    never = run_cell(Toggles(in_place=True, source="zero", written_while_shared=False))
    assert exercises.check(
        "09.poll-never-written", "zeros" if never.vmm.private_bytes(0, 4096) == bytes(4096) else "a"
    )[0]
    v13 = run_cell(Toggles(kernel="v13", in_place=False, source="zero"))
    assert exercises.check("09.v8-vs-v13", _errno(v13))[0]
    second = run_cell(Toggles(in_place=True, source="zero", add_twice=True))["add_again"]
    assert second["ret"] < 0
    assert exercises.check("09.double-add-seamcalls", str(len(second.seamcalls)))[0]


def test_mrtd_doctor_exercises_are_the_simulators_answers():
    from test_nb05_measurement import mrtd

    from tdxsim.lessons import doctor
    from tdxsim.tdvf import parse_tdvf
    from tdxsim.vmm.variants import diagnose, find_variant, run_variant

    image = doctor.demo_image()
    mystery = KEY["10.mystery-variant"].prompt.split("<code>")[1].split("</code>")[0]
    (found,) = diagnose(image, mystery).matches
    assert exercises.check("10.mystery-variant", found.variant.name)[0]
    # an unmeasured page still moves MRTD: its PAGE.ADD record (tdh_mem_page_add.c)
    none = mrtd([(0x1000, None)])
    assert none != "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
    assert exercises.check("10.unmeasured-sections", _choice("10.unmeasured-sections", "yes: its pages' GPAs"))[0]
    sections = parse_tdvf(image)
    one, two = (run_variant(image, sections, find_variant(sections, n)) for n in ("single-pass", "two-pass"))
    assert sorted(map(repr, one.records)) == sorted(map(repr, two.records)) and one.mrtd != two.mrtd
    assert exercises.check("10.two-pass-differs", _choice("10.two-pass-differs", "no"))[0]


@pytest.mark.parametrize("chapter", ["05", "06", "07", "08", "09", "10"])
def test_saved_chapters_have_no_answer_text_and_end_with_a_review(chapter):
    """Every chapter 05-10 stores its exercises and its review unanswered: no hint, no explanation saved."""
    nb = next((ROOT / "notebooks").glob(f"{chapter}-*.ipynb"))
    saved = nb.read_text()
    for entry in KEY.values():
        if entry.chapter == chapter:
            assert _j(entry.explanation) not in saved and _j(entry.hint) not in saved
    assert f"<review of chapter {chapter}: " in saved and ": right" not in saved and ": shown" not in saved
    assert "reveal(" not in saved


def test_chapter_07_matrix_cites_where_each_answer_comes_from():
    """The 2a62345b3052 column's -EOPNOTSUPP for a zero source_addr comes from tdx_gmem_post_populate ("if
    (!src_page) return -EOPNOTSUPP;", the lines v8 23/46 rewrites), not from guest_memfd; and the successful
    "on · separate buffer" cell does not share its citation with any -EFAULT cell."""
    from tdxsim.seed import run_matrix

    cells = {(c.row.label, c.kernel): c for row in run_matrix() for c in row}
    for label in ("off · 0, nothing at VA 0", "off · 0, VA 0 mapped ('Y')"):
        cell = cells[(label, "2a62345b3052")]
        assert cell.errno == "EOPNOTSUPP" and cell.source.short.startswith("tdx.c:tdx_gmem_post_populate")
        assert [c["fn"] for c in outcome(cell.run).calls][-1] == "tdx_gmem_post_populate"
    efault = {c.source for c in cells.values() if c.errno == "EFAULT"}
    ok = {c.source for (label, _), c in cells.items() if label == "on · separate buffer" and c.run}
    assert ok and {c.errno for (label, _), c in cells.items() if label == "on · separate buffer" and c.run} == {"OK"}
    assert not ok & efault
