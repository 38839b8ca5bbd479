"""The call timeline: lanes VMM → KVM → TDX module → memory, one row per event of the record, failures in red.

A failing call shows its errno, a failing SEAMCALL the TDX module's status; a compact run of TDH.MR.EXTENDs is one
row with its count (tdxsim.events keeps them compact).
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tdxsim.errno import errno_name
from tdxsim.events import Event
from tdxsim.plot.style import FAIL, FONT, LANES, LIGHT, SMALL, TITLE, figure

ROW_INCHES = 0.3
MAX_ROWS = 60


def _ret_text(ret: Any) -> tuple[str, bool]:
    if isinstance(ret, int) and ret < 0:
        try:
            return f" → -{errno_name(ret)}", True
        except KeyError:
            return f" → {ret}", True
    if isinstance(ret, int) and ret > 0:
        return f" → {ret}", False
    return "", False


def describe_event(ev: Event) -> tuple[str, bool]:
    """One event as a line of text, and whether it is a failure."""
    d = ev.data
    if ev.kind == "call":
        text, failed = _ret_text(d.get("ret"))
        return f"{ev.name}(){text}", failed
    if ev.kind in ("seamcall", "tdcall"):
        where = f" {d['gpa']:#x}" if "gpa" in d else ""
        level = f" L{d['level']}" if d.get("level") else ""
        count = f" ×{d['count']}" if d.get("count", 1) > 1 else ""
        plain = d["status"] in ("TDX_SUCCESS", "TDVMCALL_STATUS_SUCCESS")
        failed = d.get("code", 0) > 0 and bool(d["code"] >> 63)  # error class: bit 63 (success-class codes clear it)
        return f"{ev.name}{where}{level}{count}" + ("" if plain else f" → {d['status']}"), failed
    if ev.kind == "state" and "pfn" in d:
        text = f"{ev.name} pfn {d['pfn']:#x}: {d.get('old')} → {d.get('new')}"
        return text.replace("guest_memfd_", "gmem_"), False
    if ev.kind == "state" and "gpa" in d and "level" in d:
        name = "S-EPT" if ev.name == "sept" else ev.name.replace("_", " ")
        return f"{name} {d['gpa']:#x} L{d['level']}: {d['old']} → {d['new']}", False
    if ev.kind == "state":
        what = {k: v for k, v in d.items() if k not in ("old", "new")}
        key = ", ".join(
            f"{k}={v:#x}" if isinstance(v, int) and k in ("gpa", "pfn") else f"{k}={v}" for k, v in what.items()
        )
        return f"{ev.name}: {d.get('old')} → {d.get('new')}" + (f" ({key})" if key else ""), False
    return f"{ev.kind} {ev.name}", ev.kind == "signal"


def call_timeline(
    events: list[Event],
    steps: list[tuple[int, dict[str, Any]]] | None = None,
    start: int = 0,
    stop: int | None = None,
    highlight: int | None = None,
    title: str | None = None,
) -> Figure:
    """Draw events[start:stop] as rows in lanes; `steps` (event index, step output) adds the VMM's ioctl rows."""
    stop = len(events) if stop is None else min(stop, len(events))
    rows: list[tuple[str, str, int, bool, int | None]] = []  # (layer, text, depth, failed, event index)
    vmm_rows = {mark: step for mark, step in (steps or [])}
    for i in range(start, stop):
        if i in vmm_rows:
            step = vmm_rows[i]
            failed = step.get("ret", 0) < 0
            rows.append(("vmm", f"{step['op']}" + (f" → -{step['errno']}" if failed else " → 0"), 0, failed, None))
        ev = events[i]
        text, failed = describe_event(ev)
        rows.append((ev.layer, text, ev.depth, failed, i))
    hidden = max(0, len(rows) - MAX_ROWS)
    if hidden and highlight is not None:  # keep the highlighted event in view
        at = next((k for k, r in enumerate(rows) if r[4] == highlight), 0)
        first = min(max(0, at - MAX_ROWS // 2), len(rows) - MAX_ROWS)
        rows = rows[first : first + MAX_ROWS]
    elif hidden:
        rows = rows[:MAX_ROWS]
    lanes = [lane for lane in LANES if lane[0] != "guest" or any(r[0] == "guest" for r in rows)]
    x_of = {layer: k for k, (layer, _name) in enumerate(lanes)}
    n = max(len(rows), 1)
    height = 1.1 + ROW_INCHES * n
    fig = figure(15.0, height)
    ax = fig.add_axes((0.01, 0.15 / height, 0.98, ROW_INCHES * n / height))
    ax.set_xlim(0, len(lanes))
    ax.set_ylim(n, 0)
    ax.set_axis_off()
    for k, (_layer, name) in enumerate(lanes):
        if k % 2:
            ax.add_patch(Rectangle((k, 0), 1, n, facecolor=LIGHT, edgecolor="none", zorder=0))
        ax.text(k + 0.02, -0.25, name, fontsize=FONT, fontweight="bold", va="bottom")
    for y, (layer, text, depth, failed, index) in enumerate(rows):
        x = x_of.get(layer, 0) + 0.02 + min(depth, 6) * 0.03
        if index is not None and index == highlight:
            ax.add_patch(
                Rectangle(
                    (0, y),
                    len(lanes),
                    1,
                    facecolor="#F0E44288",
                    edgecolor="black",
                    zorder=0,
                    gid=f"highlight:event:{index}",
                )
            )
        ax.plot([x - 0.012], [y + 0.5], marker="o", markersize=4, color=FAIL if failed else "#333333")
        limit = 34 if layer == lanes[-1][0] else 46  # the last lane has no room to spill into
        ax.text(
            x + 0.005,
            y + 0.5,
            text if len(text) <= limit else text[: limit - 1] + "…",
            fontsize=SMALL,
            va="center",
            color=FAIL if failed else "black",
            fontweight="bold" if failed or layer == "vmm" else "normal",
            gid=f"row:{index}:{'fail' if failed else 'ok'}",
        )
    note = f" (showing {len(rows)} of {len(rows) + hidden} rows)" if hidden else ""
    fig.suptitle(
        (title or "What each layer did, one row per event") + note, fontsize=TITLE, y=1 - 0.08 / height, va="top"
    )
    return fig
