"""The answer key and the exercise widgets (tdxsim.lessons.exercises, tdxsim.widgets.exercise): every entry's answer
is accepted and a wrong one refused through the same `check` the widgets use; the simulator facts are recomputed
here from a replay (not copied from the key), with the source each one rests on; and no widget, nor the saved
chapter, carries an answer before the reader gives one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

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


def test_v13_without_the_conversion_is_refused_by_guest_memfd():
    """kvm_gmem_populate (virt/kvm/guest_memfd.c) populates only a private range: with a separate source but the
    GFNs left shared, the target's pfn lookup fails, before any SEAMCALL; the control converts and succeeds."""
    refused = run_cell(Toggles(kernel="v13", in_place=False, source="buffer", converted=False))
    control = run_cell(Toggles(kernel="v13", in_place=False, source="buffer"))
    fns = [c["fn"] for c in outcome(refused).calls]
    assert outcome(control).ret == 0 and outcome(refused).ret < 0 and outcome(refused).seamcalls == []
    assert "kvm_gmem_populate" in fns and fns[-1] == "__kvm_gmem_get_pfn"
    assert exercises.check("07.v13-no-conversion", _choice("07.v13-no-conversion", "it is refused before"))[0]


def test_double_add_unmeasured_total_is_the_simulators_answer():
    """Row 23 (RET_PF_SPURIOUS -> -EIO in kvm_tdp_mmu_map_private_pfn before any SEAMCALL; Yan Zhao,
    akSx0Bx1RKe9DCXw@...): the two calls together make only the first's SEAMCALLs."""
    run = run_cell(Toggles(kernel="v8", in_place=True, source="zero", image_pages=4, measure=False, add_twice=True))
    first, second = run["add"], run["add_again"]
    assert second.ret < 0 and second.seamcalls == []
    assert [c["leaf"] for c in first.seamcalls].count("TDH.MEM.PAGE.ADD") == 4
    total = len(first.seamcalls) + len(second.seamcalls)
    assert exercises.check("07.double-add-unmeasured", str(total))[0]


def test_v13_in_place_va0_never_written_is_zeros():
    """sean-jc/linux 07f26358 tdx_gmem_post_populate: page_add_src = src_page ?: pfn_to_page(pfn), so with
    in-place conversion on a zero source_addr adds the target, whatever is at VA 0; v8 21/46 zeroes a folio nobody
    wrote (__kvm_gmem_get_pfn). The control writes the page while shared and gets those bytes."""
    never = run_cell(Toggles(kernel="v13", in_place=True, source="zero_va0", written_while_shared=False))
    written = run_cell(Toggles(kernel="v13", in_place=True, source="zero_va0"))
    assert outcome(never).ret == 0 and written.vmm.private_bytes(0, 5) == b"image"
    picked = _choice(
        "07.v13-va0-never-written", "a page of zeros" if never.vmm.private_bytes(0, 4096) == bytes(4096) else "the"
    )
    assert exercises.check("07.v13-va0-never-written", picked)[0]


def test_measured_two_pages_is_the_simulators_answer():
    """TDX_EXTENDMR_CHUNKSIZE 256 (arch/x86/kvm/vmx/tdx.c): 16 TDH.MR.EXTEND per page, one PAGE.ADD per page, and
    three SEPT.ADD for the empty levels of a 4-level S-EPT, shared by the two pages."""
    leaves = [c["leaf"] for c in outcome(run_cell(Toggles(kernel="v8", in_place=True, image_pages=2))).seamcalls]
    assert leaves.count("TDH.MEM.SEPT.ADD") == 3 and leaves.count("TDH.MR.EXTEND") == 2 * 4096 // 256
    assert exercises.check("07.measured-two-pages", str(len(leaves)))[0]
    assert exercises.check("07.measured-two-pages", hex(len(leaves)))[0]


# -- reading answers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["EIO", "-EIO", " eio ", "-5"])
def test_errno_spellings(text):
    assert exercises.normalize("errno", text) == "EIO"


@pytest.mark.parametrize("text", ["", "EIO!", "5", "x", None, True, 3.0, "E" * 40])
def test_unreadable_errno_is_not_right_and_says_how(text):
    ok, message = exercises.check("04.finalize-without-vcpu", text)
    assert not ok and "errno name" in message


def test_choice_by_letter():
    entry = KEY["07.v13-no-conversion"]
    letter = "abcd"[entry.choices.index(entry.answer)]
    assert exercises.check("07.v13-no-conversion", letter)[0]
    assert exercises.check("07.v13-no-conversion", letter.upper())[0]


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


def test_00_conversion_after_finalize_gives_zeros():
    """v8 23/46: before finalize, source_addr 0 and in-place conversion make the target its own PAGE.ADD source, and
    the guest reads what was written while shared (the tour, the control). After TDH.MR.FINALIZE (commit 012426d)
    the page arrives by TDH.MEM.PAGE.AUG (tdx_mem_page_aug) and TDG.MEM.PAGE.ACCEPT zeroes it
    (tdg_mem_page_accept.c)."""
    import tdxsim
    from tdxsim import recipes
    from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE
    from tdxsim.scenario import run_scenario

    out = run_scenario(_scenario("seed-thread-in-place.json"))
    assert bytes.fromhex(_step(out, "read")["data"]).startswith(b"Hello")
    leaves = [c["leaf"] for c in _step(out, "add")["seamcalls"]]
    assert "TDH.MEM.PAGE.ADD" in leaves and "TDH.MEM.PAGE.AUG" not in leaves
    vmm = tdxsim.Vmm("v8")
    recipes.create_td(vmm)
    gmem, _ = recipes.bind_guest_memfd(vmm, size=2 << 20)
    assert vmm.KVM_TDX_FINALIZE_VM()["ret"] == 0
    vmm.write(gmem.userspace_addr, b"Hello")
    vmm.KVM_SET_MEMORY_ATTRIBUTES2(
        guest_memfd=gmem.guest_memfd, offset=0, size=4096, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE
    )
    accept = vmm.guest_accept(gpa=0)
    aug = [c["leaf"] for c in accept.seamcalls]
    assert aug[-1] == "TDH.MEM.PAGE.AUG" and "TDH.MEM.PAGE.ADD" not in aug
    seen = vmm.guest_read(gpa=0, length=5)["data"]
    picked = _choice("00.review-convert-after-finalize", "zeros" if seen == bytes(5) else "Hello")
    assert exercises.check("00.review-convert-after-finalize", picked)[0]


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


def test_00_the_pages_own_mapping_is_no_source():
    """v8 01/46 kvm_gmem_fault_user_mapping refuses a private page, so kvm_gmem_populate's GUP of the VMM's own
    mapping of it fails before any SEAMCALL; source_addr 0 (the tour, the control) adds it in place."""
    own = run_cell(Toggles(kernel="v8", in_place=True, source="gmem_page"))
    assert outcome(run_cell(Toggles(kernel="v8", in_place=True, source="zero"))).ret == 0
    fns = [c["fn"] for c in outcome(own).calls]
    assert outcome(own).ret < 0 and outcome(own).seamcalls == [] and fns[-1] == "get_user_pages_fast"
    assert exercises.check("00.review-gmem-source", _choice("00.review-gmem-source", "the call fails"))[0]


def test_01_gpaw52_alias_is_the_shared_page():
    """TDX_SHARED_BIT_PWL_5 (arch/x86/kvm/vmx/tdx.c): bit 51 is the shared bit with GPAW 52."""
    from tdxsim.lessons import readers

    assert readers.shared_mask(52) == 1 << 51
    r = readers.read_page(*readers.small_td(52), "td", "shared", shared_bit=True)
    assert r.address == "GPA 0x800000000f000" and r.data.startswith(b"virtio ring")
    answer = "the shared alias of GFN 0xF: the page the VMM wrote, through the shared EPT"
    assert exercises.check("01.gpaw52-alias", answer)[0]


def test_01_bit47_is_private_with_gpaw52():
    """TDX_SHARED_BIT_PWL_5: bit 51 is the shared bit with GPAW 52, so a GPA with bit 47 set is private there (and
    can be added as private memory), while with GPAW 48 (TDX_SHARED_BIT_PWL_4, bit 47) it is the shared alias."""
    from tdxsim.lessons import readers

    gpa = 0x8000_0000_0000
    assert gpa & readers.shared_mask(52) == 0 and gpa & readers.shared_mask(48)
    assert _first_add(gpa, 52)[2].ret == 0
    assert exercises.check("01.review-bit47-gpaw52", _choice("01.review-bit47-gpaw52", "the Secure EPT"))[0]


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


def test_01_every_tdr_is_under_the_global_keyid():
    """The TDR is under the module's global private KeyID (tdh_phymem_page_wbinvd_tdr flushes it with
    tdx_global_keyid, arch/x86/virt/vmx/tdx/tdx.c), not the TD's HKID: two TDs, HKIDs 17 and 18, both TDRs under
    the one global KeyID; the host reads no plaintext of it."""
    import tdxsim
    from tdxsim import recipes
    from tdxsim.lessons import readers

    assert readers.read_page(*readers.small_td(), "kernel", "tdr").outcome == "zeros"
    vmm = tdxsim.Vmm("v8")
    recipes.create_td(vmm)
    recipes.create_td(vmm)
    pages = vmm.describe_pages().values()
    tdrs = {p["keyid"] for p in pages if p.get("pamt") == "PT_TDR"}
    private = {p["keyid"] for p in pages if p.get("pamt") == "PT_TDCX"}
    hkids = set(readers.two_td_reads(*_two_tds())[0])
    assert len(tdrs) == 1 and not tdrs & hkids
    # the control: the TDCS pages come after TDH.MNG.KEY.CONFIG and are under each TD's own HKID (tdh_mng_add_cx.c)
    assert private == hkids
    assert exercises.check("01.review-tdr-keyid", str(len(tdrs)))[0]


def _two_tds():
    """Two finalized TDs in one VMM, each with a firmware page at GPA 0: (vmm, where each guest_memfd is mapped)."""
    from tdxsim import Vmm, recipes

    vmm, bindings = Vmm("v8"), []
    for text in (b"TD A's secret", b"TD B's secret"):
        recipes.create_td(vmm)
        binding, _ = recipes.bind_guest_memfd(vmm, size=16 * 4096)
        recipes.load_image(vmm, binding, gpa=0, data=text.ljust(4096, b"\0"))
        recipes.run_guest(vmm)
        bindings.append(binding)
    return vmm, bindings


def test_01_two_tds():
    """tdh_mem_page_aug.c -> check_and_lock_free_range_hpa: a PT_REG frame is TDX_PAGE_METADATA_INCORRECT;
    tdx_guest_keyid_alloc: lowest free KeyID after the global one (16 on tdxsim's platform)."""
    from tdxsim.lessons import readers

    hkids, cross = readers.two_td_reads(*_two_tds())
    aug = cross[3][0]  # TD B's host, TD A's page
    assert aug.outcome == "refused"
    status = next(c for c in KEY["01.cross-td-aug"].choices if c in aug.detail)
    assert exercises.check("01.cross-td-aug", status)[0]
    assert exercises.check("01.td-b-hkid", str(hkids[1]))[0]
    assert hkids[0] < hkids[1]


def test_02_out_of_place_backing():
    """v8 cover letter: out-of-place needs "two backing sources": 128 guest_memfd pages plus 40 anonymous ones."""
    from tdxsim.lessons.backing import Setup, build, guest_backing

    vmm = build(Setup(in_place=False, pages=128, shared_pages=40, discard=False))
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

    in_place = guest_backing(build(Setup(in_place=True, pages=128, shared_pages=40)))
    two = guest_backing(build(Setup(in_place=False, pages=128, shared_pages=40, discard=False)))
    assert two == in_place + 40
    assert exercises.check("02.in-place-backing", str(in_place))[0]


def test_02_a_separate_source_carries_the_bytes_out_of_place():
    """tdh_mem_page_add.c: PAGE.ADD copies the source page into the private page, so out of place a separate
    buffer's bytes reach the TD; the NULL source (the control) is refused out of place (v8 23/46)."""
    copied = run_cell(Toggles(kernel="v8", in_place=False, source="buffer"))
    null = run_cell(Toggles(kernel="v8", in_place=False, source="zero"))
    assert outcome(null).ret < 0
    got = copied.vmm.private_bytes(0, 38)
    assert got == b"image page 0, from the separate buffer"
    picked = _choice("02.review-out-of-place-copy", "the image" if got.startswith(b"image") else "zeros")
    assert exercises.check("02.review-out-of-place-copy", picked)[0]


def test_02_discard_keeps_one_page_per_gfn():
    """QEMU kvm_convert_memory: out of place, the conversion to shared punches the private page out of
    guest_memfd, so each GFN keeps one page; the control is the same run without the discard."""
    from tdxsim.lessons.backing import Setup, build, guest_backing

    kept = guest_backing(build(Setup(in_place=False, pages=96, shared_pages=30, discard=True)))
    two = guest_backing(build(Setup(in_place=False, pages=96, shared_pages=30, discard=False)))
    assert two == kept + 30
    assert exercises.check("02.review-discard-backing", str(kept))[0]


def test_02_in_place_shared_write_reaches_the_guest():
    """v8 cover letter: in place, the VMM's mmap of the guest_memfd and the guest's shared alias reach the same
    folio once its attribute is shared; the control reads before the VMM writes (zeros: the page left the TD)."""
    import tdxsim
    from tdxsim import recipes

    vmm = tdxsim.Vmm("v8")
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, size=0x2000)
    recipes.load_image(vmm, binding, gpa=0, data=b"image".ljust(4096, b"\0"))
    recipes.convert_range(vmm, 0x1000, 0x1000, private=True)
    recipes.run_guest(vmm, accept=(0x1000,))
    assert vmm.guest_map_gpa(gpa=0x1000, size=0x1000, shared=True)["ret"] == 0
    assert vmm.guest_read(gpa=0x1000, length=4, shared=True)["data"] == bytes(4)
    vmm.write(binding.userspace_addr + 0x1000, b"ring")
    seen = vmm.guest_read(gpa=0x1000, length=4, shared=True)["data"]
    picked = _choice("02.review-in-place-shared-write", "ring" if seen == b"ring" else "zeros")
    assert exercises.check("02.review-in-place-shared-write", picked)[0]


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
    PENDING -> MAPPED, page zeroed; the level-1 table of the image's add covers [0, 2 MiB), so three accepts in it
    are three PAGE.AUG and no SEPT.ADD, and each AUG'd page is PT_REG like each added one (pamt_manager.h)."""
    import tdxsim
    from tdxsim import recipes
    from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE

    touched = _runtime_td()
    accept = touched.guest_accept(gpa=0x1000)
    aug = [c for c in accept.changes if c["what"] == "sept" and c["leaf"] == "TDH.MEM.PAGE.AUG"]
    assert len(aug) == 1 and aug[0]["new"] == "PENDING"
    assert touched.private_bytes(0x1000, 256) == bytes(256)

    def chapter_04(image_pages: int) -> tdxsim.Vmm:
        vmm = tdxsim.Vmm("v8")
        recipes.create_td(vmm)
        gmem, _ = recipes.bind_guest_memfd(vmm, size=2 << 20)
        vmm.write(gmem.userspace_addr, b"TDVF" * 1024 * image_pages)
        private = KVM_MEMORY_ATTRIBUTE_PRIVATE
        vmm.KVM_SET_MEMORY_ATTRIBUTES2(guest_memfd=gmem.guest_memfd, offset=0, size=2 << 20, attributes=private)
        vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=image_pages, flags=0)
        assert vmm.KVM_TDX_FINALIZE_VM()["ret"] == 0
        return vmm

    vmm = chapter_04(1)
    calls = [c["leaf"] for gpa in (0x1000, 0x2000, 0x3000) for c in vmm.guest_accept(gpa=gpa).seamcalls]
    assert set(calls) == {"TDH.MEM.PAGE.AUG"}
    assert exercises.check("04.review-accept-three", str(len(calls)))[0]
    vmm = chapter_04(3)
    for gpa in (0x3000, 0x4000):
        assert vmm.guest_accept(gpa=gpa)["ret"] == 0
    regular = [p for p in vmm.describe_pages().values() if p.get("pamt") == "PT_REG"]
    assert exercises.check("04.review-pt-reg-count", str(len(regular)))[0]


def test_03_sept_adds_and_shared_gpa():
    """tdx-tdp-mmu.rst "adding a private page": 512G, 1G, 2M tables for a 4-level S-EPT, one more at 5 levels;
    tdp_mmu_link_sp links only the missing ones, so GPA 1 GiB after GPA 0 needs new 1G and 2M tables;
    !vt_is_tdx_private_gpa -> -EINVAL for bit 47 set with GPAW 48, while with GPAW 52 the same GPA is private."""
    from tdxsim import recipes
    from tdxsim.lessons import pagetables

    vmm, binding, add = _first_add(0, 48, size=0x4000_0000 + 4096)
    four = pagetables.sept_add_levels(add)
    assert four == [3, 2, 1]
    second = recipes.load_image(vmm, binding, 0x4000_0000, bytes(4096), measure=False)[-1]
    assert second.ret == 0
    levels = pagetables.sept_add_levels(second)
    assert levels == [2, 1]
    assert exercises.check("03.sept-adds-next-1g", str(len(levels)))[0]
    ret = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0x8000_0000_0000, nr_pages=1).ret
    assert exercises.check("03.shared-gpa-add", str(ret))[0]
    ret52 = _first_add(0x8000_0000_0000, 52)[2].ret
    assert exercises.check("03.review-gpaw52-add", str(ret52))[0]


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


def test_03_zap_order_and_the_gpaw52_first_touch():
    """tdx_sept_remove_leaf_spte: BLOCK, TRACK, REMOVE; a 5-level S-EPT adds tables at levels 4..1 on a first touch
    (tdx-tdp-mmu.rst), each a PT_EPT page (tdh_mem_sept_add.c), and after finalize the leaf comes by PAGE.AUG."""
    import tdxsim
    from tdxsim import recipes
    from tdxsim.lessons import pagetables

    vmm = _runtime_td()
    vmm.guest_accept(gpa=0x1000)
    zap = [c["leaf"] for c in vmm.guest_map_gpa(gpa=0x1000, size=4096, shared=True).seamcalls]
    assert exercises.check("03.zap-order", ", ".join(zap[:3]))[0]
    first, _binding, add = _first_add(0, 52)
    added = [c for c in add.seamcalls if c["leaf"] == "TDH.MEM.SEPT.ADD"]
    ept = [p for p in first.describe_pages().values() if p["pamt"] == "PT_EPT"]
    assert len(ept) == len(added) == len(pagetables.sept_add_levels(add))
    assert exercises.check("03.review-ept-pages-gpaw52", str(len(ept)))[0]
    rt = tdxsim.Vmm("kvm-x86-2026-06")
    recipes.create_td(rt, attributes=0, gpaw=52)
    recipes.bind_guest_memfd(rt, size=2 << 20)
    recipes.run_guest(rt)
    touch = [c["leaf"] for c in rt.guest_read(gpa=0x1000, length=8).seamcalls]
    assert touch == ["TDH.MEM.SEPT.ADD"] * 4 + ["TDH.MEM.PAGE.AUG"]
    assert exercises.check("03.review-aug-gpaw52", str(len(touch)))[0]


def test_04_build_flow_facts():
    """tdx_vcpu_init_mem_region: -EINVAL once RUNNABLE; MIN_NUM_TDCS_PAGES 6 (TDX module 1.5) and 5 TDCX pages per
    vCPU, each PT_TDCX (tdh_mng_add_cx.c); TDH.MR.FINALIZE refuses a TD without an initialised vCPU (TDX_NO_VCPUS),
    which tdx_td_finalize turns into -EIO (KVM_BUG_ON)."""
    from collections import Counter

    import tdxsim
    from tdxsim import recipes
    from tdxsim.lessons import lifecycle

    late = {r.label: r.result for r in lifecycle.run_variant("KVM_TDX_INIT_MEM_REGION after KVM_TDX_FINALIZE_VM")}
    step = late["KVM_TDX_INIT_MEM_REGION"]
    assert step.seamcalls == [] and exercises.check("04.add-after-finalize", str(step.ret))[0]
    flow = lifecycle.run_variant("as QEMU does it")
    rows = {r.label: r.result for r in flow}
    per_td = [c["leaf"] for c in rows["KVM_TDX_INIT_VM"].seamcalls].count("TDH.MNG.ADDCX")
    per_vcpu = [c["leaf"] for c in rows["KVM_TDX_INIT_VCPU"].seamcalls].count("TDH.VP.ADDCX")
    vmm = tdxsim.Vmm("v8")
    recipes.create_td(vmm, vcpus=2)
    tdcx = Counter(p.get("pamt") for p in vmm.describe_pages().values())["PT_TDCX"]
    assert tdcx == per_td + 2 * per_vcpu
    assert exercises.check("04.tdcx-two-vcpus", str(tdcx))[0]
    skipped = {r.label: r.result for r in lifecycle.run_variant("skip KVM_TDX_INIT_VCPU")}["KVM_TDX_FINALIZE_VM"]
    assert [(c["leaf"], c["status"]) for c in skipped.seamcalls] == [("TDH.MR.FINALIZE", "TDX_NO_VCPUS")]
    assert exercises.check("04.finalize-without-vcpu", skipped.errno)[0]


def test_04_init_mem_region_needs_its_own_vcpu_initialised():
    """commit c846b45: the ioctl runs the MMU fault path of the vCPU it is issued on, and tdx_vcpu_init_mem_region
    checks that vCPU's state: on the initialised vCPU 1 it succeeds, on the uninitialised vCPU 0 (the control) it
    is -EINVAL."""
    import tdxsim
    from tdxsim import recipes
    from tdxsim.kvm.uapi import KVM_MEMORY_ATTRIBUTE_PRIVATE, TDX_TD_ATTR_SEPT_VE_DISABLE

    vmm = tdxsim.Vmm("v8")
    vmm.KVM_CREATE_VM()
    vmm.KVM_TDX_INIT_VM(attributes=TDX_TD_ATTR_SEPT_VE_DISABLE)
    vmm.KVM_CREATE_VCPU(id=0)
    vmm.KVM_CREATE_VCPU(id=1)
    assert vmm.KVM_TDX_INIT_VCPU(vcpu=1)["ret"] == 0
    gmem, _ = recipes.bind_guest_memfd(vmm, size=2 << 20)
    vmm.write(gmem.userspace_addr, b"image")
    vmm.KVM_SET_MEMORY_ATTRIBUTES2(
        guest_memfd=gmem.guest_memfd, offset=0, size=4096, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE
    )
    assert vmm.KVM_TDX_INIT_MEM_REGION(vcpu=0, source_addr=0, gpa=0, nr_pages=1, flags=0)["ret"] < 0
    on_1 = vmm.KVM_TDX_INIT_MEM_REGION(vcpu=1, source_addr=0, gpa=0, nr_pages=1, flags=0)
    assert exercises.check("04.review-init-on-vcpu1", str(on_1["ret"]))[0]


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


def test_kvm_x86_buffer_unmeasured_is_the_simulators_answer():
    """Row 1 without MEASURE on kvm-x86 09c6f74e: three SEPT.ADD and one PAGE.ADD per page, no MR.EXTEND."""
    run = run_cell(Toggles(kernel="kvm-x86-2026-06", in_place=False, source="buffer", measure=False))
    leaves = [c["leaf"] for c in outcome(run).seamcalls]
    assert outcome(run).ret == 0 and "TDH.MR.EXTEND" not in leaves and leaves.count("TDH.MEM.PAGE.ADD") == 4
    assert exercises.check("07.kvm-x86-buffer-unmeasured", str(len(leaves)))[0]


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
    """sha384.h: an unmeasured page's only record is its PAGE.ADD record, GPA and no contents: two builds whose
    unmeasured page holds different bytes have one MRTD, the PAGE.ADD record's hash."""
    import hashlib

    import tdxsim
    from tdxsim import recipes

    def build(content: bytes) -> str:
        vmm = tdxsim.Vmm("v8")
        recipes.create_td(vmm)
        binding, _ = recipes.bind_guest_memfd(vmm, size=0x3000)
        recipes.load_image(vmm, binding, gpa=0x2000, data=content.ljust(4096, b"\0"), measure=False)
        recipes.run_guest(vmm)
        return vmm.mrtd().hex()

    zeros, evil = build(b""), build(b"evil")
    assert zeros == hashlib.sha384(_page_add_record(0x2000)).hexdigest()
    picked = _choice("05.unmeasured-bytes", "no" if zeros == evil else "yes")
    assert exercises.check("05.unmeasured-bytes", picked)[0]


def test_measured_add_records_and_one_call_or_two():
    """tdx_gmem_post_populate runs per page (PAGE.ADD, then 16 MR.EXTEND with MEASURE), so a 3-page measured add
    feeds 3 x 17 records, and one 2-page call hashes what two 1-page calls do (mrtd-vectors.json's layout)."""
    import tdxsim
    from tdxsim import recipes

    def vmm_with(size: int) -> tuple[tdxsim.Vmm, object]:
        vmm = tdxsim.Vmm("v8")
        recipes.create_td(vmm)
        return vmm, recipes.bind_guest_memfd(vmm, size=size)[0]

    vmm, binding = vmm_with(0x4000)
    add = recipes.load_image(vmm, binding, gpa=0x1000, data=bytes(range(256)) * 48)[-1]
    extending = [c["leaf"] for c in add.seamcalls if c["leaf"] in ("TDH.MEM.PAGE.ADD", "TDH.MR.EXTEND")]
    assert extending.count("TDH.MEM.PAGE.ADD") == 3
    assert exercises.check("05.records-three-pages", str(len(extending)))[0]
    content = bytes(range(256)) * 16
    one, b1 = vmm_with(0x3000)
    recipes.load_image(one, b1, gpa=0x1000, data=content * 2)
    two, b2 = vmm_with(0x3000)
    recipes.load_image(two, b2, gpa=0x1000, data=content)
    recipes.load_image(two, b2, gpa=0x2000, data=content)
    for vmm in (one, two):
        recipes.run_guest(vmm)
    picked = _choice("05.one-call-or-two", "yes" if one.mrtd() == two.mrtd() else "no: two calls")
    assert exercises.check("05.one-call-or-two", picked)[0]


def test_order_of_adds_changes_mrtd():
    """The control for the exercises above: MRTD is one running hash, so the same records in another order differ."""
    import hashlib

    from test_nb05_measurement import mrtd

    ab = mrtd([(0x0, None), (0x1000, None)])
    ba = mrtd([(0x1000, None), (0x0, None)])
    assert ab == hashlib.sha384(_page_add_record(0) + _page_add_record(0x1000)).hexdigest()
    assert ab != ba


def test_map_gpa_exits_are_the_simulators_answer():
    """TDX_MAP_GPA_MAX_LEN = 2 MiB per exit (arch/x86/kvm/vmx/tdx.c __tdx_map_gpa): 4 MiB + 4 KiB is 3 exits."""
    from tdxsim import Vmm
    from tdxsim.lessons import conversions

    vmm = Vmm("v8")
    s = conversions.summary(vmm, conversions.convert(vmm, to_shared=True, pages=1025))
    assert [n for _, n, _ in s.chunks] == [512, 512, 1]
    assert exercises.check("06.map-gpa-exits", str(len(s.chunks)))[0]


def test_zap_seamcalls_are_the_simulators_answer():
    """tdx.c tdx_sept_remove_leaf_spte: BLOCK, tdx_track (TRACK), REMOVE, then WBINVD, per 4 KiB leaf
    (tdx-tdp-mmu.rst); the control is the one-page zap."""
    from tdxsim import Vmm
    from tdxsim.lessons import conversions

    def zap(pages: int) -> list[str]:
        vmm = Vmm("v8", gmem_in_place_conversion=True)
        return conversions.summary(vmm, conversions.convert(vmm, to_shared=True, pages=pages)).seamcalls

    one, two = zap(1), zap(2)
    assert one == ["TDH.MEM.RANGE.BLOCK", "TDH.MEM.TRACK", "TDH.MEM.PAGE.REMOVE", "TDH.PHYMEM.PAGE.WBINVD"]
    assert exercises.check("06.zap-two-pages", str(len(two)))[0]


def test_out_of_place_host_read_after_private_is_the_simulators_answer():
    """QEMU kvm_convert_memory discards the anonymous shared side on a conversion to private (MADV_DONTNEED), and a
    fresh anonymous page is zero-filled (madvise(2)); in place (the control) the host's touch is SIGBUS
    (kvm_gmem_fault_user_mapping)."""
    from tdxsim import Vmm
    from tdxsim.lessons import conversions

    def reads(in_place: bool) -> dict[str, str]:
        vmm = Vmm("v8", gmem_in_place_conversion=in_place)
        return conversions.summary(vmm, conversions.convert(vmm, to_shared=False, pages=1)).reads

    oop, inp = reads(False), reads(True)
    assert inp["host reads 0x1000"] == "SIGBUS"
    got = oop["host reads 0x1000"]
    picked = _choice("06.oop-host-read", "zeros" if got == "zeros" else "SIGBUS" if got == "SIGBUS" else "'hello")
    assert exercises.check("06.oop-host-read", picked)[0]


def test_lock_exercises_are_the_simulators_answers():
    """Yan Zhao, 20250703062641.3247-1-yan.y.zhao@intel.com ("filemap invalidation lock --> mm->mmap_lock" against
    "mm->mmap_lock --> filemap invalidation lock"); rwsem_down_read_slowpath (a reader queues behind a waiting
    writer): before 2a62345b3052 the hang needs populate, the fault and a writer; any two of them finish."""
    from tdxsim.kvm import locking

    populate, fault = next(iter(locking.ERAS.values()))  # the first era: before 2a62345b3052
    assert locking.reachable_deadlocks([populate, fault]) == []
    cycles = locking.reachable_deadlocks([populate, fault, locking.MMAP_WRITER])
    assert exercises.check("08.threads-to-hang", str(len(cycles[0])))[0]
    alone = locking.reachable_deadlocks([populate, locking.MMAP_WRITER])
    assert exercises.check("08.populate-mmap-only", _choice("08.populate-mmap-only", "no" if not alone else "yes"))[0]
    faulting = locking.reachable_deadlocks([fault, locking.MMAP_WRITER])
    assert exercises.check("08.fault-mmap-only", _choice("08.fault-mmap-only", "no" if not faulting else "yes"))[0]


def test_shared_gmem_source_is_refused_at_the_target():
    """2a62345b3052: kvm_gmem_populate GUPs the source first (a shared guest_memfd page faults in), then only a
    private target can be populated; converted first (the control), the GUP of the now private page fails."""
    shared = run_cell(Toggles(kernel="v8", in_place=True, source="gmem_page", converted=False))
    private = run_cell(Toggles(kernel="v8", in_place=True, source="gmem_page"))
    fns = [c["fn"] for c in outcome(shared).calls]
    assert outcome(shared).seamcalls == [] and fns[-2:] == ["get_user_pages_fast", "__kvm_gmem_get_pfn"]
    assert [c["fn"] for c in outcome(private).calls][-1] == "get_user_pages_fast"
    assert exercises.check("08.shared-gmem-source", _choice("08.shared-gmem-source", "the GUP works"))[0]


def test_talk_poll_and_review_are_the_simulators_answers():
    never = run_cell(Toggles(in_place=True, source="zero", written_while_shared=False))
    assert exercises.check(
        "09.poll-never-written", "zeros" if never.vmm.private_bytes(0, 4096) == bytes(4096) else "a"
    )[0]
    va0 = run_cell(Toggles(kernel="v13", in_place=True, source="zero_va0"))
    got = va0.vmm.private_bytes(0, 5)
    assert exercises.check(
        "09.v13-va0-in-place", _choice("09.v13-va0-in-place", "the image" if got == b"image" else "the")
    )[0]
    twice = run_cell(Toggles(kernel="v13", in_place=True, source="zero", image_pages=1, add_twice=True))
    assert twice["add_again"].ret < 0
    total = len(twice["add"].seamcalls) + len(twice["add_again"].seamcalls)
    assert exercises.check("09.double-add-total", str(total))[0]


def test_mrtd_doctor_exercises_are_the_simulators_answers():
    from test_nb05_measurement import mrtd

    from tdxsim.lessons import doctor
    from tdxsim.platform import PAGE_SIZE
    from tdxsim.tdvf import BFV, CFV, MR_EXTEND, TD_HOB, SectionSpec, build_tdvf_image, parse_tdvf
    from tdxsim.vmm.variants import find_variant, run_variant

    image = doctor.demo_image()
    sections = parse_tdvf(image)
    hob = run_variant(image, sections, find_variant(sections, "extend-TD_HOB"))
    single = run_variant(image, sections, find_variant(sections, "single-pass"))
    assert len(hob.records) - len(single.records) == 2 * PAGE_SIZE // 256  # the HOB's 2 pages, 16 chunks each
    assert exercises.check("10.records-extend-hob", str(len(hob.records)))[0]
    # an unmeasured page still moves MRTD: its PAGE.ADD record (tdh_mem_page_add.c)
    none = mrtd([(0x1000, None)])
    assert none != "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
    assert exercises.check("10.unmeasured-sections", _choice("10.unmeasured-sections", "yes: its pages' GPAs"))[0]
    one_page = build_tdvf_image(
        [
            SectionSpec(BFV, (1 << 32) - PAGE_SIZE, PAGE_SIZE, MR_EXTEND, b"BFV".ljust(PAGE_SIZE, b"\x90")),
            SectionSpec(CFV, (1 << 32) - 2 * PAGE_SIZE, PAGE_SIZE, 0, bytes(PAGE_SIZE)),
            SectionSpec(TD_HOB, 0x809000, PAGE_SIZE),
        ]
    )
    small = parse_tdvf(one_page)
    a, b = (run_variant(one_page, small, find_variant(small, n)) for n in ("single-pass", "two-pass"))
    c, d = (run_variant(image, sections, find_variant(sections, n)) for n in ("single-pass", "two-pass"))
    assert c.mrtd != d.mrtd  # the control: with a 3-page BFV the orders part
    picked = _choice("10.two-pass-one-page", "yes" if a.mrtd == b.mrtd else "no")
    assert exercises.check("10.two-pass-one-page", picked)[0]


# -- the reviews of chapters 05, 06, 08, 09 and 10: the simulator facts, recomputed ---------------------------------


def _td_with_pages(kernel: str = "v8", size: int = 0x6000):
    import tdxsim
    from tdxsim import recipes

    vmm = tdxsim.Vmm(kernel)
    recipes.create_td(vmm)
    return vmm, recipes.bind_guest_memfd(vmm, size=size)[0]


def _mrtd_records(*results) -> list[str]:
    """The SEAMCALLs of `results` that extend MRTD (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c,
    tdh_mr_extend.c): PAGE.ADD and MR.EXTEND, not SEPT.ADD."""
    return [c["leaf"] for r in results for c in r.seamcalls if c["leaf"] in ("TDH.MEM.PAGE.ADD", "TDH.MR.EXTEND")]


def test_05_review_measured_and_unmeasured_records():
    """tdx_gmem_post_populate (arch/x86/kvm/vmx/tdx.c): one TDH.MEM.PAGE.ADD per page, and 4096 / 256
    (TDX_EXTENDMR_CHUNKSIZE) TDH.MR.EXTEND per page only with KVM_TDX_MEASURE_MEMORY_REGION: 2 measured pages and 3
    unmeasured ones are 2 x 17 + 3 records. The control: the same five pages all measured give 5 x 17."""
    from tdxsim import recipes

    vmm, binding = _td_with_pages()
    measured = recipes.load_image(vmm, binding, gpa=0x1000, data=bytes(range(256)) * 32, measure=True)[-1]
    plain = recipes.load_image(vmm, binding, gpa=0x3000, data=bytes(3 * 4096), measure=False)[-1]
    assert _mrtd_records(plain) == ["TDH.MEM.PAGE.ADD"] * 3
    assert exercises.check("05.review-records-mixed", str(len(_mrtd_records(measured, plain))))[0]
    control, b = _td_with_pages()
    every = recipes.load_image(control, b, gpa=0x1000, data=bytes(range(256)) * 80, measure=True)[-1]
    assert len(_mrtd_records(every)) == 5 * (1 + 4096 // 256)
    assert not exercises.check("05.review-records-mixed", str(len(_mrtd_records(every))))[0]


def test_05_review_an_unmeasured_page_at_another_gpa_is_another_mrtd():
    """sha384.h sha384_128B_block_t: the PAGE.ADD record is 'MEM.PAGE.ADD' and the GPA, so one unmeasured page of zeros
    at 0x2000 and at 0x3000 hash to sha384(record(0x2000)) and sha384(record(0x3000)); the control: the same GPA with
    other bytes is the same MRTD (tdh_mem_page_add.c reads no contents)."""
    import hashlib

    from tdxsim import recipes

    def build(gpa: int, content: bytes = b"") -> str:
        vmm, binding = _td_with_pages(size=0x4000)
        recipes.load_image(vmm, binding, gpa=gpa, data=content.ljust(4096, b"\0"), measure=False)
        recipes.run_guest(vmm)
        return vmm.mrtd().hex()

    at2, at3 = build(0x2000), build(0x3000)
    assert at2 == hashlib.sha384(_page_add_record(0x2000)).hexdigest()
    assert at3 == hashlib.sha384(_page_add_record(0x3000)).hexdigest()
    assert build(0x2000, b"evil") == at2
    picked = _choice("05.review-gpa-moves", "no" if at2 == at3 else "yes")
    assert exercises.check("05.review-gpa-moves", picked)[0]


def test_05_review_the_chapters_pages_in_the_other_order():
    """tdh_mr_extend.c / tdh_mr_finalize.c: MRTD is one running SHA-384 in SEAMCALL order. The chapter's build (0x1000
    measured, then 0x2000 unmeasured) against the other order: the same records (the control: each build's records
    are a permutation of the other's), another digest."""
    from tdxsim import recipes

    content = bytes(range(256)) * 16

    def build(order: list[int]) -> tuple[str, list[tuple[str, int]]]:
        vmm, binding = _td_with_pages(size=0x3000)
        records = []
        for gpa in order:
            data, measure = (content, True) if gpa == 0x1000 else (bytes(4096), False)
            add = recipes.load_image(vmm, binding, gpa=gpa, data=data, measure=measure)[-1]
            records += [(c["leaf"], c["gpa"]) for c in add.seamcalls if c["leaf"] != "TDH.MEM.SEPT.ADD"]
        recipes.run_guest(vmm)
        return vmm.mrtd().hex(), records

    chapter, chapter_records = build([0x1000, 0x2000])
    swapped, swapped_records = build([0x2000, 0x1000])
    assert sorted(chapter_records) == sorted(swapped_records) and chapter_records != swapped_records
    picked = _choice("05.review-order-swapped", "yes" if chapter == swapped else "no: the same records")
    assert exercises.check("05.review-order-swapped", picked)[0]


def test_06_review_map_gpa_to_private_is_capped_as_to_shared():
    """arch/x86/kvm/vmx/tdx.c __tdx_map_gpa: every exit is at most TDX_MAP_GPA_MAX_LEN (2 MiB), whatever the
    direction; 8 MiB + 4 KiB back to private is 4 x 512 pages + 1, each with KVM_MAP_GPA_RANGE_ENCRYPTED. The
    control: exactly 8 MiB is one exit fewer."""
    from tdxsim import Vmm
    from tdxsim.lessons import conversions

    def chunks(pages: int) -> list[tuple[str, int, str]]:
        vmm = Vmm("v8")
        return conversions.summary(vmm, conversions.convert(vmm, to_shared=False, pages=pages)).chunks

    odd = chunks(2049)
    assert [n for _, n, _ in odd] == [512, 512, 512, 512, 1] and {a for _, _, a in odd} == {"ENCRYPTED"}
    assert len(chunks(2048)) == 4
    assert exercises.check("06.review-map-gpa-8m", str(len(odd)))[0]


def _finalized_td(accept: tuple[int, ...], size: int):
    """Chapter 06's TD: the image at GPA 0, [0x1000, size) private before finalize, the guest accepting `accept`."""
    from tdxsim import Vmm, recipes

    vmm = Vmm("v8")
    recipes.create_td(vmm)
    binding, _ = recipes.bind_guest_memfd(vmm, size=size)
    recipes.load_image(vmm, binding, gpa=0, data=b"image".ljust(4096, b"\0"))
    recipes.convert_range(vmm, 0x1000, size - 0x1000, private=True)
    recipes.run_guest(vmm, accept=accept)
    return vmm


def test_06_review_a_never_touched_page_costs_no_seamcall():
    """tdp_mmu_zap_leafs (arch/x86/kvm/mmu/tdp_mmu.c) skips a non-present SPTE, and tdx_sept_remove_leaf_spte
    (arch/x86/kvm/vmx/tdx.c) issues BLOCK, TRACK, REMOVE, WBINVD per present 4 KiB leaf: of four pages, the three
    accepted cost 4 each and the untouched one (S-EPT leaf FREE) none. The control: all four accepted is 16."""
    skipped = _finalized_td(accept=(0x1000, 0x2000, 0x4000), size=0x5000)
    assert skipped.sept_state(0x3000) == "FREE"
    leaves = [c["leaf"] for c in skipped.guest_map_gpa(gpa=0x1000, size=0x4000, shared=True).seamcalls]
    assert leaves.count("TDH.PHYMEM.PAGE.WBINVD") == 3 and leaves.count("TDH.MEM.RANGE.BLOCK") == 3
    assert exercises.check("06.review-zap-skipped-page", str(len(leaves)))[0]
    every = _finalized_td(accept=(0x1000, 0x2000, 0x3000, 0x4000), size=0x5000)
    assert len(every.guest_map_gpa(gpa=0x1000, size=0x4000, shared=True).seamcalls) == 16


def test_06_review_an_unaligned_map_gpa_never_reaches_the_vmm():
    """arch/x86/kvm/vmx/tdx.c tdx_map_gpa: after the legality and shared-bit checks (INVALID_OPERAND),
    "if (!PAGE_ALIGNED(gpa) || !PAGE_ALIGNED(size)) { ret = TDVMCALL_STATUS_ALIGN_ERROR; goto error; }", before
    __tdx_map_gpa builds an exit. The controls: the aligned page converts with one exit; a range that crosses the
    shared bit is INVALID_OPERAND even when misaligned (the first check wins)."""
    vmm = _finalized_td(accept=(0x1000,), size=0x3000)
    odd = vmm.guest_map_gpa(gpa=0x1000, size=0x1800, shared=True)
    assert odd["exits"] == [] and odd.seamcalls == [] and vmm.sept_state(0x1000) == "MAPPED"
    status = odd.tdcalls[-1]["status"]
    picked = _choice("06.review-map-gpa-unaligned", status)
    assert exercises.check("06.review-map-gpa-unaligned", picked)[0]
    aligned = _finalized_td(accept=(0x1000,), size=0x3000).guest_map_gpa(gpa=0x1000, size=0x1000, shared=True)
    assert aligned.tdcalls[-1]["status"] == "TDVMCALL_STATUS_SUCCESS" and len(aligned["exits"]) == 1
    machine = _finalized_td(accept=(), size=0x2000)
    top = 1 << machine.kvm.tdx.shared_bit()
    crossing = machine.guest_map_gpa(gpa=top - 0x1000, size=0x1800, shared=False)
    assert crossing.tdcalls[-1]["status"] == "TDVMCALL_STATUS_INVALID_OPERAND"


def test_08_review_any_writer_of_mmap_lock_closes_the_circle():
    """mm/mmap.c __vm_munmap: "if (mmap_write_lock_killable(mm)) return -EINTR;" -- munmap() takes mmap_lock for
    write as vm_mmap_pgoff does, so with populate and the in-place fault before 2a62345b3052 it closes the same
    three-thread cycle (rwsem_down_read_slowpath: a reader queues behind a waiting writer). The control: since
    2a62345b3052 the same three threads finish."""
    from tdxsim.kvm import locking

    where = "mm/mmap.c __vm_munmap"  # not one of locking.SOURCES: the simulator has no munmap() path of its own
    munmap = locking.Path(
        "munmap",
        "another VMM thread calls munmap()",
        "munmap()",
        (
            locking.Op("acquire", "mmap_lock", locking.EXCLUSIVE, "__vm_munmap", where),
            locking.Op("release", "mmap_lock", "", "__vm_munmap", where),
        ),
    )
    before, since = locking.ERAS.values()
    cycles = locking.reachable_deadlocks([*before, munmap])
    assert locking.reachable_deadlocks([*since, munmap]) == []
    picked = _choice("08.review-munmap-writer", "yes" if cycles and "munmap()" in cycles[0] else "no")
    assert exercises.check("08.review-munmap-writer", picked)[0]


def test_08_review_a_second_populate_is_no_writer():
    """Populate takes mmap_lock only for read (get_user_pages_fast in tdx_gmem_post_populate before 2a62345b3052);
    a second populate waits for kvm->lock (the state guard) or the invalidate lock, never as a writer of mmap_lock, so
    no reader queues behind it (rwsem_down_read_slowpath). The control: with an mmap() writer instead, it hangs."""
    import dataclasses

    from tdxsim.kvm import locking

    populate, fault = next(iter(locking.ERAS.values()))
    second = dataclasses.replace(populate, thread="populate 2")
    assert all(op.mode != locking.EXCLUSIVE for op in populate.ops if op.lock == "mmap_lock")
    two = locking.reachable_deadlocks([populate, fault, second])
    assert locking.reachable_deadlocks([populate, fault, locking.MMAP_WRITER]) != []
    picked = _choice("08.review-two-populates", "no" if not two else "yes: a third")
    assert exercises.check("08.review-two-populates", picked)[0]


def test_09_review_a_second_page_under_the_same_tables():
    """kvm_tdp_mmu_map (arch/x86/kvm/mmu/tdp_mmu.c) links a table (TDH.MEM.SEPT.ADD through tdx_sept_link_private_spt)
    only where the non-leaf SPTE is not present: after GPA 0's add (three SEPT.ADD for the empty levels of a 4-level
    S-EPT) a measured page at 0x1000, under the same 2 MiB table, needs PAGE.ADD and 16 MR.EXTEND. The control: a
    page 2 MiB away needs one more table."""
    from tdxsim import recipes

    page = b"image".ljust(4096, b"\0")
    vmm, binding = _td_with_pages("v13", size=0x400000)
    first = recipes.load_image(vmm, binding, gpa=0, data=page)[-1]
    second = recipes.load_image(vmm, binding, gpa=0x1000, data=page)[-1]
    far = recipes.load_image(vmm, binding, gpa=0x200000, data=page)[-1]
    assert [c["leaf"] for c in first.seamcalls].count("TDH.MEM.SEPT.ADD") == 3
    assert "TDH.MEM.SEPT.ADD" not in [c["leaf"] for c in second.seamcalls]
    assert [c["leaf"] for c in far.seamcalls].count("TDH.MEM.SEPT.ADD") == 1
    assert exercises.check("09.review-second-page", str(len(second.seamcalls)))[0]


def test_10_review_extend_all_records():
    """Every added page gives a PAGE.ADD record, and extended 4096 / 256 MR.EXTEND records (TDX_EXTENDMR_CHUNKSIZE,
    arch/x86/kvm/vmx/tdx.c; tdh_mr_extend.c): extend-all hashes 17 per added page; the PAGE.AUG section is not
    added. The control: single-pass hashes 1 per page plus 16 per page of the measured sections only."""
    from tdxsim.lessons import doctor
    from tdxsim.platform import PAGE_SIZE
    from tdxsim.tdvf import parse_tdvf
    from tdxsim.vmm.variants import find_variant, run_variant

    image = doctor.demo_image()
    sections = parse_tdvf(image)
    added = [s for s in sections if not s.augmented]
    pages = sum(s.pages for s in added)
    every = run_variant(image, sections, find_variant(sections, "extend-all"))
    single = run_variant(image, sections, find_variant(sections, "single-pass"))
    chunks = PAGE_SIZE // 256
    assert len(every.records) == pages * (1 + chunks)
    assert len(single.records) == pages + chunks * sum(s.pages for s in added if s.measured)
    assert exercises.check("10.review-records-extend-all", str(len(every.records)))[0]


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


# -- no answer readable before the question ---------------------------------------------------------------------------


def _cell_text(cell: dict) -> str:
    """What a reader sees of a saved cell: a markdown cell's text, any cell's text outputs (stream, plain, HTML)."""
    parts = ["".join(cell["source"])] if cell["cell_type"] == "markdown" else []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        for mime in ("text/plain", "text/html", "text/markdown"):
            parts.append("".join(out.get("data", {}).get(mime, "")))
    return "\n".join(parts)


def _asked(cell: dict) -> list[str]:
    """The exercise ids a saved code cell asks, `exercise(id)` or the questions of `review("NN")`."""
    if cell["cell_type"] != "code":
        return []
    source = "".join(cell["source"])
    ids = re.findall(r'\bexercise\("([^"]+)"', source)
    for chapter in re.findall(r'\breview\("(\d\d)"\)', source):
        ids += [q.id for q in exercises.review(chapter)]
    return ids


def _tells(entry) -> list[str]:
    """The strings that would give `entry`'s answer away if the reader saw them first: the answer itself for an errno
    (but not success, "0", which every chapter prints), a state or a choice of one word (a sentence-long choice is
    never printed as such), plus the entry's `tells`, the forms a chapter prints a number or a choice in (e.g.
    "TDH.MNG.ADDCX×6")."""
    found = list(entry.tells)
    one_word = entry.kind == "choice" and " " not in entry.answer and len(entry.answer) > 3
    if (entry.kind in ("errno", "state") and entry.answer != "0") or one_word:
        found.append(entry.answer)
    return found


def _shown(tell: str, text: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(tell) + r"(?!\w)", text) is not None


def _leaks(path: Path) -> list[str]:
    """Each exercise of the saved chapter whose answer is readable before it is asked: in a markdown cell or an
    output above it, or in its own prompt and choices."""
    found, above = [], ""
    for cell in json.loads(path.read_text())["cells"]:
        for exercise_id in _asked(cell):
            entry = KEY[exercise_id]
            own = entry.prompt + "\n" + "\n".join(c for c in entry.choices if c != entry.answer)
            for tell in _tells(entry):
                where = "above it" if _shown(tell, above) else "in its question" if _shown(tell, own) else ""
                if where:
                    found.append(f"{path.name}: {exercise_id}: {tell!r} is readable {where}")
        if not _asked(cell):
            above += "\n" + _cell_text(cell)
    return found


def test_leak_check_finds_an_answer_printed_above(tmp_path):
    """The control: a chapter whose output prints an exercise's errno before asking for it is caught."""
    cells = [
        {"cell_type": "code", "source": ["r"], "outputs": [{"output_type": "stream", "text": ["<ret=-5 EIO>\n"]}]},
        {"cell_type": "code", "source": ['exercise("04.finalize-without-vcpu")'], "outputs": []},
    ]
    fake = tmp_path / "leaky.ipynb"
    fake.write_text(json.dumps({"cells": cells}))
    assert _leaks(fake) == ["leaky.ipynb: 04.finalize-without-vcpu: 'EIO' is readable above it"]
    cells[0]["outputs"] = []
    fake.write_text(json.dumps({"cells": cells}))
    assert _leaks(fake) == []


@pytest.mark.parametrize("chapter", [f"{n:02}" for n in range(11)])
def test_no_answer_is_readable_before_its_question(chapter):
    """Every exercise and review question asks what the chapter has not yet printed: its answer (or the form a
    chapter prints it in) appears in no markdown or output above it, nor in its own question."""
    path = next((ROOT / "notebooks").glob(f"{chapter}-*.ipynb"))
    assert _leaks(path) == []


@pytest.mark.parametrize("chapter", [f"{n:02}" for n in range(11)])
def test_review_asks_nothing_the_chapter_asked_before(chapter):
    """A reader who answered a chapter's exercises has seen their explanations: the review's three questions are
    others."""
    path = next((ROOT / "notebooks").glob(f"{chapter}-*.py"))
    asked = set(re.findall(r'\bexercise\("([^"]+)"', path.read_text()))
    reviewed = {q.id for q in exercises.review(chapter)}
    assert len(reviewed) == 3 and not asked & reviewed
