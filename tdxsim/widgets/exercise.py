"""Exercises the reader answers (ipywidgets 8): `exercise(id)` asks one question of the answer key, `review(chapter)`
the chapter's three review questions, `problem(seed)` a seeded practice problem.

A widget holds only the question: the verdict, the hint and the explanation are asked of
`tdxsim.lessons.exercises` in the button's callback, so a saved notebook carries no answer before the reader gives
one (tests/test_exercises.py checks the stored widget state).
"""

from __future__ import annotations

import html

import ipywidgets as w

from tdxsim import problems as seeded
from tdxsim.lessons import exercises
from tdxsim.widgets.panel import Panel

RIGHT = "<div style='border-left:4px solid #009E73;padding:4px 10px;background:#E6F5EF'>{}</div>"
WRONG = "<div style='border-left:4px solid #D55E00;padding:4px 10px;background:#FBEDE5'>{}</div>"
PLACEHOLDER = {"errno": "an errno name, or 0", "number": "a number", "state": "an S-EPT state"}


def exercise(exercise_id: str, number: int | None = None) -> Panel:
    """One exercise: its question, an answer box (choices or text), "Check" and "Show the answer"."""
    q = exercises.question(exercise_id)
    title = f"<b>{number}.</b> " if number is not None else ""
    prompt = w.HTML(value=f"<div style='font-size:15px'>{title}{q.prompt}</div>")
    if q.kind == "choice":
        box: w.Widget = w.RadioButtons(options=list(q.choices), value=None, layout=w.Layout(width="max-content"))
    else:
        box = w.Text(value="", placeholder=PLACEHOLDER[q.kind], layout=w.Layout(width="240px"))
    check = w.Button(description="Check", button_style="primary")
    show = w.Button(description="Show the answer", icon="eye")
    feedback = w.HTML(value="")
    panel = Panel([prompt, box, w.HBox([check, show]), feedback], lambda: f"exercise {exercise_id}: {panel.state}")
    panel.state = "not answered"
    panel.controls = {"answer": box, "check": check, "show": show, "feedback": feedback}

    def on_check(_button: object = None) -> None:
        ok, message = exercises.check(exercise_id, box.value if box.value is not None else "")
        feedback.value = (RIGHT if ok else WRONG).format(message)
        panel.state = "right" if ok else "not yet"

    def on_show(_button: object = None) -> None:
        feedback.value = RIGHT.format(exercises.solution(exercise_id))
        panel.state = "shown"

    check.on_click(on_check)
    show.on_click(on_show)
    return panel


def review(chapter: str) -> Panel:
    """The chapter's three-question review, each question answered and explained on its own."""
    items = [exercise(q.id, i) for i, q in enumerate(exercises.review(chapter), 1)]
    head = w.HTML(value=f"<h3 style='margin:4px 0'>Review: chapter {html.escape(chapter)}</h3>")
    panel = Panel([head, *items], lambda: f"review of chapter {chapter}: " + ", ".join(i.state for i in items))
    panel.controls = {"items": items}
    return panel


def problem(seed: int) -> Panel:
    """Seeded problem `seed` (as `python -m tdxsim problem --seed N` prints it) with three answer boxes; the
    simulator replays the scenario only when the reader presses "Check" or "Show the answers"."""
    p = seeded.draw(seed)
    text = w.HTML(value=f"<pre style='font-size:12px;line-height:1.3'>{html.escape(seeded.text(p))}</pre>")
    errno = w.Text(description="1. returns", placeholder="an errno name, or 0", style={"description_width": "150px"})
    count = w.Text(description="2. SEAMCALLs", placeholder="how many", style={"description_width": "150px"})
    state = w.Dropdown(
        description=f"3. GPA {hex(p.gpa)}",
        options=list(exercises.SEPT_STATES),
        value=None,
        style={"description_width": "150px"},
    )
    check = w.Button(description="Check", button_style="primary")
    show = w.Button(description="Show the answers", icon="eye")
    feedback = w.HTML(value="")
    children = [text, errno, count, state, w.HBox([check, show]), feedback]
    panel = Panel(children, lambda: f"problem, seed {seed}: {panel.state}")
    panel.state = "not answered"
    panel.controls = {"errno": errno, "seamcalls": count, "state": state, "check": check, "show": show}

    def on_check(_button: object = None) -> None:
        verdicts = exercises.check_problem(seed, errno.value, count.value, state.value or "")
        lines = "<br>".join(("✔ " if ok else "✘ ") + html.escape(m) for ok, m in verdicts)
        ok = all(v for v, _ in verdicts)
        feedback.value = (RIGHT if ok else WRONG).format(lines)
        panel.state = "right" if ok else "not yet"

    def on_show(_button: object = None) -> None:
        answers = seeded.text(p, with_answer=True).split("Answers (", 1)[1]
        feedback.value = RIGHT.format(f"<pre style='font-size:12px'>Answers ({html.escape(answers)}</pre>")
        panel.state = "shown"

    check.on_click(on_check)
    show.on_click(on_show)
    return panel
