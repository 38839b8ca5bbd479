"""Lock figures for notebook 08: the lock-order graph of two paths (the AB-BA cycle outlined), and the state of an
interleaving (each thread's steps, who holds what, who waits for whom).

Locks are boxes coloured and hatched by kind (mutex, rw_semaphore, rwlock); an arrow A → B means "B was taken while
A was held", drawn from the innermost held lock (the checker in tdxsim.kvm.locking uses every held lock).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.text import Text

from tdxsim.kvm.locking import LOCKS, Interleaving, Op, Path, dependencies, find_cycle
from tdxsim.plot.style import FAIL, FONT, LIGHT, OKABE_ITO, SMALL, TITLE, figure

#: Lock kind -> (face colour, hatch).
KIND_STYLE = {
    "mutex": ("#FFFFFF", ""),
    "rw_semaphore": (OKABE_ITO["sky"], "//"),
    "rwlock": (OKABE_ITO["yellow"], ".."),
}
#: Path role -> (colour, line style): populate solid blue, the fault dashed orange.
PATH_STYLE = {"populate": (OKABE_ITO["blue"], "-"), "fault": (OKABE_ITO["orange"], "--")}
POSITIONS = {
    "kvm->lock": (0.0, 4.0),
    "vcpu->mutex": (0.0, 3.0),
    "kvm->slots_lock": (0.0, 2.0),
    "filemap_invalidate_lock": (-1.25, 0.8),
    "mmap_lock": (1.25, 0.8),
    "kvm->mmu_lock": (0.0, -0.4),
}
#: Step state -> (face colour, hatch, text colour).
STEP_STYLE = {
    "done": (OKABE_ITO["green"], "", "#FFFFFF"),
    "waits": (FAIL, "xx", "#000000"),
    "next": ("#FFFFFF", "", "#000000"),
    "later": (LIGHT, "", "#777777"),
}


def innermost_edges(path: Path) -> list[tuple[str, str]]:
    """The path's nesting as drawn: innermost held lock -> the lock taken next (no duplicates)."""
    held: list[str] = []
    edges: list[tuple[str, str]] = []
    for op in path.ops:
        if op.action == "acquire" and op.lock:
            if held and (held[-1], op.lock) not in edges:
                edges.append((held[-1], op.lock))
            held.append(op.lock)
        elif op.action == "release" and op.lock:
            held.remove(op.lock)
    return edges


def _node(ax: Axes, name: str, on_cycle: bool) -> Text:
    """A lock box: the kind's colour and hatch around a white label; a thick vermillion outline on the cycle."""
    x, y = POSITIONS[name]
    face, hatch = KIND_STYLE[LOCKS[name].kind]
    box = ax.text(
        x,
        y,
        name,
        ha="center",
        va="center",
        fontsize=FONT,
        color=(0, 0, 0, 0),
        zorder=3,
        bbox={
            "boxstyle": "round,pad=0.6",
            "facecolor": face,
            "hatch": hatch,
            "edgecolor": FAIL if on_cycle else "#333333",
            "linewidth": 3.5 if on_cycle else 1.2,
        },
    )
    ax.text(
        x,
        y,
        name,
        ha="center",
        va="center",
        fontsize=FONT,
        fontweight="bold" if on_cycle else "normal",
        zorder=3.5,
        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
    )
    return box


def _panel(ax: Axes, title: str, paths: Sequence[Path]) -> str:
    cycle = find_cycle(paths)
    on_cycle = {e.held for e in cycle or []}
    cycle_pairs = {(e.held, e.acquired) for e in cycle or []}
    boxes = {name: _node(ax, name, name in on_cycle) for name in POSITIONS}
    drawn: set[tuple[str, str]] = set()
    for path in paths:
        colour, style = PATH_STYLE[path.thread]
        for a, b in innermost_edges(path):
            both_ways = (b, a) in {e for p in paths for e in innermost_edges(p)}
            hot = (a, b) in cycle_pairs
            ax.add_patch(
                FancyArrowPatch(
                    POSITIONS[a],
                    POSITIONS[b],
                    arrowstyle="-|>,head_length=10,head_width=6",
                    connectionstyle=f"arc3,rad={0.35 if both_ways else 0.0}",
                    patchA=boxes[a].get_bbox_patch(),
                    patchB=boxes[b].get_bbox_patch(),
                    color=FAIL if hot else colour,
                    linestyle=style,
                    linewidth=4.0 if hot else 2.0,
                    zorder=4,
                )
            )
            drawn.add((a, b))
    if cycle and len(cycle) == 2:
        verdict = f"AB-BA cycle:\n{cycle[0].held} ⇄ {cycle[1].held}"
    elif cycle:
        verdict = "cycle: " + " → ".join([*[e.held for e in cycle], cycle[0].held])
    else:
        verdict = "no cycle: no deadlock"
    ax.set_title(title, fontsize=TITLE)
    ax.text(
        0.0,
        -1.1,
        verdict,
        ha="center",
        va="top",
        fontsize=FONT,
        color=FAIL if cycle else OKABE_ITO["green"],
        fontweight="bold",
    )
    ax.set_xlim(-2.6, 2.6)
    ax.set_ylim(-1.7, 4.6)
    ax.axis("off")
    return verdict


def lock_order_figure(panels: Sequence[tuple[str, Sequence[Path]]]) -> Figure:
    """One lock-order graph per (title, paths); the cycle, if any, in thick vermillion."""
    fig = figure(7.0 * len(panels), 7.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, paths) in zip(axes, panels, strict=True):
        _panel(ax, title, paths)
    handles = [
        Line2D([], [], color=PATH_STYLE["populate"][0], linestyle="-", linewidth=2, label="populate (INIT_MEM_REGION)"),
        Line2D([], [], color=PATH_STYLE["fault"][0], linestyle="--", linewidth=2, label="userspace fault on gmem"),
        Line2D([], [], color=FAIL, linewidth=4, label="edge on the cycle"),
        *[
            Patch(facecolor=face, hatch=hatch, edgecolor="#333333", label=kind)
            for kind, (face, hatch) in KIND_STYLE.items()
        ],
    ]
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=SMALL, frameon=False)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.1, wspace=0.05)
    return fig


def _step_lines(op: Op) -> tuple[str, str]:
    """A step as a headline (what) and a detail line (where)."""
    if op.action == "call":
        return op.function.split(" (")[0], op.function[len(op.function.split(" (")[0]) :].strip(" ()")
    verb = "take" if op.action == "acquire" else "drop"
    mode = f" ({op.mode})" if op.action == "acquire" else ""
    return f"{verb} {op.lock}{mode}", f"in {op.function}"


def interleaving_figure(run: Interleaving, title: str = "") -> Figure:
    """Each thread's steps as a column (done, waiting, next, later), then who holds which lock and who waits."""
    threads = list(run.paths)
    rows = max(len(p.ops) for p in run.paths.values())
    fig = figure(15.0, 0.46 * rows + 3.2)
    top = 1 - 1.5 / (0.46 * rows + 3.2)
    bottom = 1.3 / (0.46 * rows + 3.2)
    ax = fig.add_axes((0.01, bottom, 0.98, top - bottom))
    width = 1.0 / len(threads)
    for col, thread in enumerate(threads):
        path = run.paths[thread]
        x = col * width
        head = textwrap.fill(path.title, 48)
        ax.text(x + width / 2, rows + 0.15, head, ha="center", va="bottom", fontsize=SMALL, fontweight="bold")
        waiting = run.waiting_for(thread)
        for i, op in enumerate(path.ops):
            if i < run.pc[thread]:
                state = "done"
            elif i == run.pc[thread]:
                state = "waits" if waiting else "next"
            else:
                state = "later"
            face, hatch, ink = STEP_STYLE[state]
            y = rows - 1 - i
            ax.add_patch(
                Rectangle(
                    (x + 0.004, y + 0.06),
                    width - 0.008,
                    0.88,
                    facecolor=face,
                    hatch=hatch,
                    edgecolor="#000000" if state in ("next", "waits") else "#BBBBBB",
                    linewidth=2.5 if state in ("next", "waits") else 0.8,
                )
            )
            what, where = _step_lines(op)
            box = {"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"} if hatch else None
            if state == "waits":
                what += "  — SLEEPS"
            ax.text(x + 0.01, y + 0.66, what, va="center", fontsize=11, color=ink, fontweight="bold", bbox=box)
            ax.text(x + 0.01, y + 0.28, where, va="center", fontsize=9, color=ink, bbox=box)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.05, rows + 1.1)
    ax.axis("off")
    held = []
    for name, st in sorted(run.locks.items()):
        if st.holders or st.waiters:
            holders = ", ".join(f"{t} ({m})" for t, m in st.holders.items()) or "nobody"
            queue = ", ".join(f"{t} ({m})" for t, m in st.waiters)
            held.append(f"{name:24} held by {holders}" + (f"; waiting: {queue}" if queue else ""))
    cycle = run.deadlock()
    if cycle:
        verdict = "DEADLOCK: " + " waits for ".join([*cycle, cycle[0]])
    elif all(run.finished(t) for t in threads):
        verdict = "every thread finished"
    else:
        verdict = "no deadlock: " + ", ".join(t for t in threads if run.can_step(t)) + " can run"
    lines = held or ["no lock is held"]
    fig.text(0.01, bottom - 0.01, "\n".join(lines[:6]), fontsize=10, va="top", family="monospace")
    fig.text(
        0.5,
        top + 0.45 / (0.46 * rows + 3.2),
        verdict,
        ha="center",
        fontsize=FONT,
        fontweight="bold",
        color=FAIL if cycle else "#000000",
    )
    if title:
        fig.suptitle(title, fontsize=TITLE, y=0.995)
    return fig


def legend_entries() -> list[tuple[str, str]]:
    """Step states and their meaning, for a caption."""
    return [
        ("done", "the step has run"),
        ("waits", "the thread sleeps on this lock"),
        ("next", "the step runs on the next press"),
        ("later", "not reached yet"),
    ]


__all__ = ["dependencies", "innermost_edges", "interleaving_figure", "legend_entries", "lock_order_figure"]
