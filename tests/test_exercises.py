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
from tdxsim.widgets.seed import Toggles, run_cell

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
    return "0" if run.result["ret"] == 0 else run.result["errno"]


def test_v8_in_place_off_null_is_the_simulators_answer():
    """Row 17 of tests/test_outcome_matrix.py (v8 23/46: `!src_page && !gmem_in_place_conversion` -> -EOPNOTSUPP),
    with VA 0 mapped and holding 'Y' as the prompt says."""
    run = run_cell(Toggles(kernel="v8", in_place=False, source="zero_va0"))
    assert exercises.check("07.v8-in-place-off-null", _errno(run))[0]
    assert exercises.check("07.v8-in-place-off-null", f"-{run.result['errno']}")[0]


def test_double_add_is_the_simulators_answer():
    """Row 23 (RET_PF_SPURIOUS -> -EIO in kvm_tdp_mmu_map_private_pfn; Yan Zhao, akSx0Bx1RKe9DCXw@...)."""
    run = run_cell(Toggles(kernel="v8", in_place=True, source="zero", add_twice=True))
    assert run.result["ret"] < 0
    assert exercises.check("07.double-add", _errno(run))[0]


def test_v13_refusal_place_is_the_simulators_answer():
    """sean-jc/linux 07f26358 tdx_vcpu_init_mem_region: the check is in the first validation, so the replay's call
    chain stops there, before kvm_gmem_populate, and no SEAMCALL is made."""
    run = run_cell(Toggles(kernel="v13", in_place=False, source="zero"))
    fns = [c["fn"] for c in run.result["calls"]]
    assert run.result["ret"] < 0 and run.result["seamcalls"] == []
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
