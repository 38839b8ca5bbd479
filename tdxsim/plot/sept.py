"""The Secure-EPT entry state machine (states, SEAMCALL/TDCALL edges from tdxsim.tdx.sept.TRANSITIONS) with the
current state and the last transition of one entry highlighted, and the S-EPT tree one GPA walks.

Both read the `sept` state events of the event record (tdxsim.events): (gpa, level, old, new, leaf).
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from tdxsim.events import Event
from tdxsim.plot.style import FONT, HIGHLIGHT, OKABE_ITO, SEPT_STYLE, SMALL, TITLE, figure
from tdxsim.tdx.sept import TRANSITIONS, SeptState, entry_base, level_shift

#: Where each state sits: leaf states to the right of FREE, non-leaf states to the left.
POSITIONS: dict[str, tuple[float, float]] = {
    "FREE": (0.0, 0.0),
    "NL_MAPPED": (-4.6, 0.0),
    "NL_BLOCKED": (-4.6, -2.8),
    "PENDING": (4.6, 2.4),
    "PENDING_BLOCKED": (9.4, 2.4),
    "MAPPED": (4.6, -2.4),
    "BLOCKED": (9.4, -2.4),
}
#: TDH.MEM.PAGE.REMOVE of a MAPPED or PENDING (unblocked) leaf: the module asks for BLOCKED and TLB-tracked only
#: when sept_state_is_tlb_tracking_required(entry) && op_state_is_tlb_tracking_required(op_state), i.e. once the TD
#: is RUNNABLE (intel/tdx-module tdh_mem_page_remove.c, tag TDX_1.5.01); before TDH.MR.FINALIZE it may go directly.
UNBLOCKED_REMOVE = ("MAPPED", "PENDING")
UNBLOCKED_EDGES = {(pre, "FREE") for pre in UNBLOCKED_REMOVE}
LABEL_NUDGE = {("NL_BLOCKED", "FREE"): (0.7, -0.7)}
LEVEL_NAMES = {0: "4 KiB leaf", 1: "2 MiB", 2: "1 GiB", 3: "512 GiB", 4: "256 TiB"}


@dataclass(frozen=True)
class Transition:
    """One change of one S-EPT entry, as recorded: where in the event record, and by which SEAMCALL/TDCALL."""

    index: int
    gpa: int
    level: int
    old: str
    new: str
    leaf: str


def sept_transitions(events: list[Event], gpa: int | None = None, level: int | None = 0) -> list[Transition]:
    """Every S-EPT state event (for the entry covering `gpa` at `level` when given), in order."""
    out = []
    for i, ev in enumerate(events):
        if ev.kind != "state" or ev.name != "sept":
            continue
        d = ev.data
        if level is not None and d["level"] != level:
            continue
        if gpa is not None and d["gpa"] != entry_base(gpa, d["level"]):
            continue
        out.append(Transition(i, d["gpa"], d["level"], d["old"], d["new"], d["leaf"]))
    return out


def entry_state(
    events: list[Event], gpa: int, level: int = 0, upto: int | None = None
) -> tuple[str, Transition | None]:
    """The entry's state after event `upto` (default: the end) and the transition that led there."""
    history = [t for t in sept_transitions(events, gpa, level) if upto is None or t.index <= upto]
    if not history:
        return SeptState.FREE.value, None
    return history[-1].new, history[-1]


def _edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for pre, post, leaf in sorted(TRANSITIONS):
        edges.setdefault((pre.value, post.value), []).append(leaf)
    return edges


def _short(leaf: str) -> str:
    return leaf.removeprefix("TDH.").removeprefix("MEM.")


def sept_state_machine(events: list[Event], gpa: int = 0, level: int = 0, upto: int | None = None) -> Figure:
    """Draw the S-EPT entry state machine; the entry for (gpa, level)'s current state and last transition are bold."""
    current, last = entry_state(events, gpa, level, upto)
    history = [t for t in sept_transitions(events, gpa, level) if upto is None or t.index <= upto]
    fig = figure(13.0, 6.6)
    ax = fig.add_axes((0.0, 0.16, 1.0, 0.76))
    ax.set_xlim(-7.2, 11.0)
    ax.set_ylim(-4.3, 3.9)
    ax.set_axis_off()
    boxes = {}
    for state, (x, y) in POSITIONS.items():
        colour, hatch = SEPT_STYLE[state]
        is_current = state == current
        boxes[state] = FancyBboxPatch(
            (x - 1.25, y - 0.45),
            2.5,
            0.9,
            boxstyle="round,pad=0.05,rounding_size=0.25",
            facecolor=colour,
            hatch=hatch,
            edgecolor=HIGHLIGHT if is_current else "#666666",
            linewidth=5.0 if is_current else 1.2,
            gid=f"state:{state}" + (":current" if is_current else ""),
            zorder=2,
        )
        ax.add_patch(boxes[state])
        ax.text(
            x,
            y,
            state,
            ha="center",
            va="center",
            fontsize=FONT,
            fontweight="bold" if is_current else "normal",
            zorder=4,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )
    edges = _edges()
    for (pre, post), leaves in edges.items():
        is_last = last is not None and (last.old, last.new) == (pre, post)
        tdcall = all(leaf.startswith("TDG.") for leaf in leaves)
        back = (post, pre) in edges
        rad = 0.2 if back else 0.0
        if post == "FREE" and pre in ("BLOCKED", "PENDING_BLOCKED"):
            rad = -0.5 if pre == "BLOCKED" else 0.5  # around MAPPED / PENDING, not through them
        ax.add_patch(
            FancyArrowPatch(
                POSITIONS[pre],
                POSITIONS[post],
                patchA=boxes[pre],
                patchB=boxes[post],
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>",
                mutation_scale=24 if is_last else 16,
                shrinkA=2,
                shrinkB=2,
                linewidth=4.0 if is_last else 1.4,
                linestyle=":" if tdcall else ((0, (6, 3)) if (pre, post) in UNBLOCKED_EDGES else "-"),
                color=OKABE_ITO["vermillion"] if is_last else "#555555",
                gid=f"edge:{pre}->{post}" + (":last" if is_last else ""),
                zorder=3 if is_last else 1,
            )
        )
        (x0, y0), (x1, y1) = POSITIONS[pre], POSITIONS[post]
        dx, dy = x1 - x0, y1 - y0
        mx, my = (x0 + x1) / 2 + 0.5 * rad * dy, (y0 + y1) / 2 - 0.5 * rad * dx
        if back and abs(dx) < 0.5:  # a vertical pair: put each label beside its own arc
            mx += 1.0 if rad * dy > 0 else -1.0
        if back and abs(dy) < 0.5:
            my += 0.35 if rad * dx < 0 else -0.35
        mx, my = mx + LABEL_NUDGE.get((pre, post), (0, 0))[0], my + LABEL_NUDGE.get((pre, post), (0, 0))[1]
        label = " / ".join(_short(leaf) for leaf in leaves)
        unblocked = "TDH.MEM.PAGE.REMOVE" in leaves and post == "FREE" and pre in UNBLOCKED_REMOVE
        if unblocked:  # legal only while OP_STATE needs no TLB tracking: before TDH.MR.FINALIZE
            label = "PAGE.REMOVE unblocked:\nonly before MR.FINALIZE"
        elif "TDH.MEM.PAGE.REMOVE" in leaves and post == "FREE":
            label = "PAGE.REMOVE\n(after MEM.TRACK)"
        ax.text(
            mx,
            my,
            label,
            ha="center",
            va="center",
            fontsize=SMALL,
            zorder=5,
            fontweight="bold" if is_last else "normal",
            color=OKABE_ITO["vermillion"] if is_last else "black",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
        )
    where = f"GPA {entry_base(gpa, level):#x}, level {level} ({LEVEL_NAMES.get(level, '')})"
    fig.suptitle(f"S-EPT entry state machine — {where}: now {current}", fontsize=TITLE)
    fig.text(
        0.98,
        0.02,
        "solid: SEAMCALL (host → TDX module)\ndotted: TDCALL (guest → TDX module)\n"
        "dashed: only while the TD is not yet RUNNABLE\n(before TDH.MR.FINALIZE)",
        fontsize=SMALL,
        color="#444444",
        ha="right",
        va="bottom",
    )
    lines = [f"{t.old} → {t.new}   by {t.leaf}" for t in history[-4:]] or ["no transition yet: the entry is FREE"]
    if len(history) > 4:
        lines.insert(0, f"… {len(history) - 4} earlier")
    fig.text(
        0.02, 0.02, "this entry's transitions:\n" + "\n".join(lines), fontsize=SMALL, family="monospace", va="bottom"
    )
    return fig


def sept_tree(events: list[Event], gpa: int = 0, root_level: int = 3, upto: int | None = None) -> Figure:
    """Draw the S-EPT walk for one GPA: one box per level, its state, and which TDH.MEM.SEPT.ADD created it."""
    fig = figure(12.0, 6.2)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.84))
    ax.set_xlim(0, 12)
    ax.set_ylim(-0.7, root_level + 1.4)
    ax.set_axis_off()
    adds = 0
    ax.text(
        0.3,
        root_level + 1,
        "S-EPT root page (a TDCS page: TDH.MNG.ADDCX)",
        fontsize=FONT,
        va="center",
        bbox={"boxstyle": "round", "facecolor": "#EEEEEE", "edgecolor": "#666666"},
    )
    for row, level in enumerate(range(root_level, -1, -1)):
        y = root_level - row
        state, last = entry_state(events, gpa, level, upto)
        colour, hatch = SEPT_STYLE[state]
        base = entry_base(gpa, level)
        index = gpa >> level_shift(level) & 0x1FF
        x = 0.6 + row * 0.45
        box = FancyBboxPatch(
            (x, y - 0.32),
            4.2,
            0.64,
            boxstyle="round,pad=0.02",
            facecolor=colour,
            hatch=hatch,
            edgecolor="#444444",
            gid=f"level:{level}:{state}",
        )
        ax.add_patch(box)
        name = LEVEL_NAMES.get(level, f"level {level}")
        ax.text(
            x + 0.15,
            y,
            f"level {level} entry [{index}]  ({name})",
            fontsize=FONT,
            va="center",
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )
        ax.text(x + 4.35, y, state, fontsize=FONT, va="center", fontweight="bold")
        if last is not None and last.leaf == "TDH.MEM.SEPT.ADD":
            adds += 1
            note = f"← TDH.MEM.SEPT.ADD (event {last.index})"
        elif last is not None:
            note = f"← {last.leaf} (event {last.index})"
        else:
            note = "not present" if level else "no page yet"
        ax.text(x + 6.2, y, note, fontsize=SMALL, va="center", color="#333333")
        ax.text(
            x + 0.15,
            y - 0.46,
            f"covers {base:#x}…{base + (1 << level_shift(level)) - 1:#x}",
            fontsize=9,
            color="#555555",
        )
    made = f"{adds} TDH.MEM.SEPT.ADD made levels {root_level}…1" if adds else f"levels {root_level}…1 not present"
    fig.suptitle(f"The S-EPT walk for GPA {gpa:#x}: {made}, then the leaf", fontsize=TITLE)
    return fig
