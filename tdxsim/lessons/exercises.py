"""Exercises the reader answers: `check(exercise_id, answer) -> (ok, explanation)` against the answer key
(`tdxsim.lessons.answers`), `question()` for what may be shown beforehand, and `review(chapter)` for a chapter's
three-question review. Pure Python; the widgets are in `tdxsim.widgets.exercise`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tdxsim import errno as linux_errno
from tdxsim.lessons.answers import KEY, Entry

KINDS = ("choice", "errno", "number", "state")
SEPT_STATES = ("FREE", "MAPPED", "PENDING", "BLOCKED", "PENDING_BLOCKED")
LETTERS = "abcdefgh"


@dataclass(frozen=True)
class Question:
    """What an exercise shows before it is answered: never the answer, the hint or the explanation."""

    id: str
    chapter: str
    prompt: str
    kind: str
    choices: tuple[str, ...]


def _entry(exercise_id: str) -> Entry:
    try:
        return KEY[exercise_id]
    except (KeyError, TypeError):
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(sorted(KEY))}") from None


def question(exercise_id: str) -> Question:
    """The public part of an exercise; raises KeyError for an unknown id."""
    e = _entry(exercise_id)
    return Question(exercise_id, e.chapter, e.prompt, e.kind, e.choices)


def normalize(kind: str, text: object, choices: tuple[str, ...] = ()) -> str | None:
    """An answer in its canonical spelling (errno name, decimal number, state name, choice text), or None if it
    cannot be read as that kind."""
    if not isinstance(text, (str, int)) or isinstance(text, bool):
        return None
    t = str(text).strip()
    if kind == "errno":
        u = t.upper().removeprefix("-")
        if u in ("0", "SUCCESS"):
            return "0"
        if u.isascii() and u.isdigit() and len(u) < 5:
            try:
                return linux_errno.errno_name(int(u)) if t.startswith("-") else None
            except ValueError:
                return u  # an errno the simulator never returns: readable, and wrong
        return u if u.isascii() and u[:1] == "E" and u[1:].isalnum() and len(u) < 20 else None
    if kind == "number":
        t = t.lower().replace("_", "")
        try:
            return str(int(t, 16 if t.startswith("0x") else 10))
        except ValueError:
            return None
    if kind == "state":
        u = t.upper().replace(" ", "_")
        return u if u in SEPT_STATES else None
    if kind == "choice":
        if t in choices:
            return t
        if len(t) == 1 and t.lower() in LETTERS[: len(choices)]:
            return choices[LETTERS.index(t.lower())]
        return None
    raise ValueError(f"unknown exercise kind {kind!r}")


def check(exercise_id: str, answer: object) -> tuple[bool, str]:
    """Whether `answer` is right, and what to tell the reader: the explanation when right, a hint when wrong, or how
    to write the answer when it cannot be read. Raises KeyError for an unknown exercise."""
    e = _entry(exercise_id)
    got = normalize(e.kind, answer, e.choices)
    if got is None:
        return False, _how_to_answer(e)
    if got == normalize(e.kind, e.answer, e.choices):
        return True, "Right. " + e.explanation
    return False, "Not yet. " + e.hint


def solution(exercise_id: str) -> str:
    """The explanation, for a reader who gives up."""
    return _entry(exercise_id).explanation


def _how_to_answer(e: Entry) -> str:
    return {
        "errno": "Answer with an errno name such as EINVAL (or -EINVAL, or -22), or 0 for success.",
        "number": "Answer with a number, in decimal or 0x-hex.",
        "state": f"Answer with an S-EPT state: {', '.join(SEPT_STATES)}.",
        "choice": "Pick one of the answers.",
    }[e.kind]


def review(chapter: str) -> list[Question]:
    """The chapter's end-of-chapter review: its three review questions, in order; raises KeyError if it has none."""
    found = sorted((e.review, i) for i, e in KEY.items() if e.chapter == chapter and e.review)
    if not found:
        raise KeyError(f"chapter {chapter!r} has no review questions")
    return [question(i) for _, i in found]


def check_problem(seed: int, errno: object, seamcalls: object, state: object) -> list[tuple[bool, str]]:
    """Check a reader's answers to seeded problem `seed` (`tdxsim.problems`) against the simulator's replay: the
    asked step's errno (or 0), how many SEAMCALLs it issues, and the final S-EPT state of the asked GPA. One
    (ok, message) per question; the answers are computed here, when the reader submits, never before."""
    from tdxsim import problems

    p = problems.draw(seed)
    a = problems.answer(p)
    want_errno = "0" if a["ret"] == 0 else a["errno"]
    want_count = str(len(a["seamcalls"]))
    want_state = a["sept"].get(hex(p.gpa), "FREE")
    out = []
    for kind, given, want, what in (
        ("errno", errno, want_errno, "the return value"),
        ("number", seamcalls, want_count, "the number of SEAMCALLs"),
        ("state", state, want_state, f"the S-EPT state of GPA {hex(p.gpa)}"),
    ):
        got = normalize(kind, given)
        if got is None:
            out.append((False, f"{what}: " + _how_to_answer(Entry("", "", kind, "", "", ""))))
        else:
            out.append((got == want, f"{what}: {'right' if got == want else 'not yet'}"))
    return out
