"""The call timeline as a sequence diagram: one lifeline per layer (VMM, guest, KVM, TDX module, memory).

Drawn from the one event record (tdxsim.events): the VMM's ioctls and the guest's TDCALLs are arrows into the layer
below, SEAMCALLs arrows from KVM into the TDX module, page-owner changes arrows into memory; every call comes back as
a dashed arrow with its return value or the module's status (errors in vermillion, bold). State changes are notes on
their layer's lifeline. Repeated blocks of rows are folded into one (`TDH.MNG.ADDCX ×6`, pfns as a range); a compact
run of TDH.MR.EXTENDs is one arrow with its count. Nothing is cut: long labels wrap inside their lane.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, replace
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from tdxsim.errno import errno_name
from tdxsim.events import Event
from tdxsim.plot.style import FAIL, FONT, LANES, LIGHT, SMALL, TITLE, figure

LANE_INCHES = 3.2  # width of one lifeline's lane
LINE_INCHES = 0.2  # one line of SMALL text
CHAR_INCHES = 0.1  # a generous average character width at SMALL points, for wrapping
HEAD_INCHES = 1.0  # title, window line and lane names
SUCCESS = ("TDX_SUCCESS", "TDVMCALL_STATUS_SUCCESS")
OWNER_NAMES = {
    None: "unallocated",
    "host": "host",
    "guest_memfd_shared": "gmem shared",
    "guest_memfd_private": "gmem private",
    "td_private": "TD-private",
    "tdx_metadata": "TDX metadata",
}


def _ret_text(ret: Any) -> tuple[str, bool]:
    if isinstance(ret, int) and ret < 0:
        try:
            return f" → -{errno_name(ret)}", True
        except KeyError:
            return f" → {ret}", True
    if isinstance(ret, int) and ret > 0:
        return (f" → {ret}" if ret < 0x10000 else f" → {ret:#x}"), False
    return "", False


def describe_event(ev: Event) -> tuple[str, bool]:
    """One event as a line of text, and whether it is a failure."""
    d = ev.data
    if ev.kind == "call":
        text, failed = _ret_text(d.get("ret"))
        return f"{ev.name}(){text}", failed
    if ev.kind == "ioctl":
        text, failed = _ret_text(d.get("ret"))
        return f"{ev.name}{text or ' → 0'}", failed
    if ev.kind in ("seamcall", "tdcall"):
        where = f" {d['gpa']:#x}" if "gpa" in d else ""
        level = f" L{d['level']}" if d.get("level") else ""
        count = f" ×{d['count']}" if d.get("count", 1) > 1 else ""
        plain = d["status"] in SUCCESS
        return f"{ev.name}{where}{level}{count}" + ("" if plain else f" → {d['status']}"), _failed(d)
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


def _failed(d: dict[str, Any]) -> bool:
    """A TDX status of the error class: bit 63 set (success-class codes such as TDX_SUCCESS clear it)."""
    return d.get("code", 0) > 0 and bool(d["code"] >> 63)


@dataclass(frozen=True)
class Row:
    """One row of the diagram: an arrow src → dst (dashed if a return), or a note on src's lifeline if dst is None."""

    src: str
    dst: str | None
    text: str
    failed: bool = False
    ret: bool = False
    index: int | None = None
    bold: bool = False


def _note_text(ev: Event) -> str:
    """A state change in the fewest words (the lane says whose state it is)."""
    d = ev.data
    if ev.name == "pamt":
        return f"PAMT pfn {d['pfn']:#x}: {d['old']} → {d['new']}"
    if ev.name in ("op_state", "td_state", "vcpu_state"):
        prefix = {"op_state": "OP_STATE_", "td_state": "TD_STATE_", "vcpu_state": "VCPU_TD_STATE_"}[ev.name]
        old, new = (str(v).removeprefix(prefix) if v is not None else "none" for v in (d.get("old"), d.get("new")))
        label = {"op_state": "TDCS OP_STATE", "td_state": "kvm_tdx->state", "vcpu_state": "vCPU state"}[ev.name]
        return f"{label}: {old} → {new}"
    return describe_event(ev)[0]


def _rows(events: list[Event], steps: dict[int, dict[str, Any]], start: int, stop: int) -> list[Row]:
    """The events start..stop as rows, with the steps' calls and returns and each SEAMCALL's status."""
    rows: list[Row] = []
    pending: list[list[Any]] = []  # returns still owed: [depth they come back at, row, entered the kernel yet]
    step_end: Row | None = None
    last_layer = "kvm"
    i = start
    while i < stop:
        ev = events[i]
        if i in steps:
            if step_end is not None:
                rows.extend(p[1] for p in reversed(pending))
                pending.clear()
                rows.append(step_end)
            step = steps[i]
            guest = str(step["op"]).startswith("guest_")
            src = "guest" if guest else "vmm"
            inside = events[i : min(stop, min((m for m in steps if m > i), default=stop))]
            dst = "kvm"
            label = str(step.get("label") or step["op"]) if guest else str(step["op"])
            tdcall = next((e for e in inside if e.kind == "tdcall"), None)
            if guest and tdcall is not None:
                dst = "kvm" if tdcall.name.startswith("TDG.VP.VMCALL") else "tdx"
                label = f"{tdcall.name} ({label})" if label not in tdcall.name else tdcall.name
            elif guest and not any(e.kind == "call" for e in inside):
                dst = "mem"
            rows.append(Row(src, dst, label, bold=True, index=i))
            ret = step.get("ret", 0)
            failed = isinstance(ret, int) and ret < 0
            text = f"-{step['errno']}" if failed and step.get("errno") else _ret_text(ret)[0].lstrip(" →") or "0"
            if "signal" in step:
                text, failed = str(step["signal"]), True
            step_end = None if guest and tdcall is not None else Row(dst, src, text, failed, True, bold=True)
        if pending and not pending[-1][2] and ev.kind == "call" and ev.depth == pending[-1][0]:
            pending[-1][2] = True  # the kernel's entry point of the VMM's ioctl
        elif pending and ev.kind in ("call", "ioctl", "exit", "tdcall") and ev.depth <= pending[-1][0]:
            while pending and ev.depth <= pending[-1][0]:
                rows.append(pending.pop()[1])
        d = ev.data
        if ev.kind == "call":
            chain = [ev]
            while (
                i + 1 < stop
                and i + 1 not in steps
                and events[i + 1].kind == "call"
                and events[i + 1].layer == ev.layer
                and events[i + 1].depth == chain[-1].depth + 1
            ):
                i += 1
                chain.append(events[i])
            texts = [describe_event(e) for e in chain]
            text = " → ".join(t for t, _f in texts)
            rows.append(Row(ev.layer, None, text, any(f for _t, f in texts), index=i))
        elif ev.kind == "ioctl":
            args = ", ".join(f"{k} {v:#x}" if isinstance(v, int) and v > 9 else f"{k} {v}" for k, v in d.items())
            rows.append(Row("vmm", "kvm", f"{ev.name}({args.replace(', ret ' + str(d.get('ret')), '')})", index=i))
            text, failed = _ret_text(d.get("ret"))
            pending.append([ev.depth, Row("kvm", "vmm", text.lstrip(" →") or "0", failed, True, index=i), False])
        elif ev.kind == "seamcall":
            where = f" {d['gpa']:#x}" if "gpa" in d else ""
            level = f" L{d['level']}" if d.get("level") else ""
            count = f" ×{d['count']}" if d.get("count", 1) > 1 else ""
            rows.append(Row("kvm", "tdx", f"{ev.name}{where}{level}{count}", index=i))
            rows.append(Row("tdx", "kvm", d["status"], _failed(d), True, index=i))
        elif ev.kind == "tdcall":
            failed = _failed(d)
            if ev.name.startswith("TDG.VP.VMCALL"):
                rows.append(Row("kvm", "guest", f"{ev.name} → {d['status']}", failed, True, index=i, bold=True))
            else:
                where = f" {d['gpa']:#x}" if "gpa" in d else ""
                rows.append(Row("guest", "tdx", f"{ev.name}{where}", index=i))
                rows.append(Row("tdx", "guest", d["status"], failed, True, index=i))
        elif ev.kind == "exit":
            what = " ".join(
                str(v).removeprefix("KVM_HC_").removeprefix("KVM_MAP_GPA_RANGE_")
                if not isinstance(v, int)
                else (f"{v:#x}" if k == "gpa" else f"{k} {v}")
                for k, v in d.items()
                if k != "reason"
            )
            rows.append(Row("kvm", "vmm", f"{ev.name} {what}".strip(), index=i, bold=True))
        elif ev.kind == "state" and ev.layer == "mem" and "pfn" in d:
            old, new = OWNER_NAMES.get(d.get("old"), d.get("old")), OWNER_NAMES.get(d.get("new"), d.get("new"))
            src = last_layer if last_layer in ("kvm", "tdx", "vmm", "guest") else "kvm"
            rows.append(Row(src, "mem", f"pfn {d['pfn']:#x}: {old} → {new}", index=i))
        elif ev.kind == "state":
            rows.append(Row(ev.layer, None, _note_text(ev), index=i))
        else:
            text, failed = describe_event(ev)
            rows.append(Row(ev.layer, None, text, failed, index=i, bold=failed))
        if ev.layer != "mem":
            last_layer = ev.layer
        i += 1
    rows.extend(p[1] for p in reversed(pending))
    if step_end is not None:
        rows.append(step_end)
    return rows


#: The numbers a folded block may differ in: addresses, counts, and S-EPT levels ("L3"), so the three SEPT.ADDs of a
#: first touch fold into one block "L3–1 ×3".
_NUMBER = re.compile(r"0x[0-9a-f]+|\b\d+\b|(?<=\bL)\d+\b")


def _fold(rows: list[Row], longest: int = 8) -> list[tuple[Row, int, list[int | None]]]:
    """Fold consecutive repeats of a block of rows that differ only in their numbers: (row, times, event indices)."""
    keys = [(r.src, r.dst, _NUMBER.sub("#", r.text), r.failed, r.ret) for r in rows]
    out: list[tuple[Row, int, list[int | None]]] = []
    i = 0
    while i < len(rows):
        best_p, best_n = 1, 1
        for p in range(1, longest + 1 if not rows[i].ret else 1):  # a block starts with a call, not a return
            n = 1
            while keys[i + n * p : i + (n + 1) * p] == keys[i : i + p] and i + (n + 1) * p <= len(rows):
                n += 1
            if n > 1 and p * n > best_p * best_n:
                best_p, best_n = p, n
        for k in range(best_p):
            group = [rows[i + j * best_p + k] for j in range(best_n)]
            out.append((_merge(group), best_n, [r.index for r in group]))
        i += best_p * best_n
    return out


def _merge(group: list[Row]) -> Row:
    """One row for several that differ only in their numbers: differing numbers become a range first–last."""
    if len(group) == 1:
        return group[0]
    firsts, lasts = _NUMBER.findall(group[0].text), _NUMBER.findall(group[-1].text)
    parts = iter(f"{a}–{b}" if a != b else a for a, b in zip(firsts, lasts, strict=True))
    return replace(group[0], text=_NUMBER.sub(lambda _m: next(parts), group[0].text))


def _wrap(text: str, inches: float) -> list[str]:
    return textwrap.wrap(text, max(8, int(inches / CHAR_INCHES)), break_on_hyphens=False, break_long_words=False) or [
        ""
    ]


def call_timeline(
    events: list[Event],
    steps: list[tuple[int, dict[str, Any]]] | None = None,
    start: int = 0,
    stop: int | None = None,
    highlight: int | None = None,
    title: str | None = None,
) -> Figure:
    """Draw events[start:stop] as a sequence diagram; `steps` (event index, step output) adds the steps' calls."""
    stop = len(events) if stop is None else min(stop, len(events))
    rows = _fold(_rows(events, dict(steps or []), start, stop))
    used = {r.src for r, _n, _i in rows} | {r.dst for r, _n, _i in rows}
    lanes = [lane for lane in LANES if lane[0] != "guest" or "guest" in used]
    x_of = {layer: k + 0.5 for k, (layer, _name) in enumerate(lanes)}
    laid: list[tuple[Row, int, list[int | None], list[str], float]] = []
    y = 0.15
    for row, times, indices in rows:
        text = row.text + (f" ×{times}" if times > 1 else "")
        edge = row.src in (lanes[0][0], lanes[-1][0])  # a note on the first or last lifeline must stay inside
        span = abs(x_of[row.dst] - x_of[row.src]) if row.dst else (0.95 if edge else 1.5)
        lines = _wrap(text, span * LANE_INCHES - 0.2)
        laid.append((row, times, indices, lines, y))
        y += LINE_INCHES * len(lines) + (0.2 if row.dst else 0.1)
    body = y + 0.1
    width = LANE_INCHES * len(lanes)
    height = HEAD_INCHES + body
    fig = figure(width, height)
    ax = fig.add_axes((0, 0, 1, body / height))
    ax.set_xlim(0, len(lanes))
    ax.set_ylim(body, 0)
    ax.set_axis_off()
    for k, (_layer, name) in enumerate(lanes):
        if k % 2:
            ax.add_patch(Rectangle((k, 0), 1, body, facecolor=LIGHT, edgecolor="none", zorder=0))
        ax.plot([k + 0.5, k + 0.5], [0, body], color="#777777", linewidth=1, zorder=1)
        fig.text((k + 0.5) / len(lanes), (body + 0.12) / height, name, fontsize=FONT, fontweight="bold", ha="center")
    for row, _times, indices, lines, top in laid:
        colour = FAIL if row.failed else "black"
        weight = "bold" if row.failed or row.bold else "normal"
        gid = f"row:{indices[0]}:{'fail' if row.failed else 'ok'}"
        rows_height = LINE_INCHES * len(lines)
        if highlight is not None and highlight in indices:
            ax.add_patch(
                Rectangle(
                    (0, top - 0.05),
                    len(lanes),
                    rows_height + (0.2 if row.dst else 0.1),
                    facecolor="#F0E44288",
                    edgecolor="black",
                    zorder=0,
                    gid=f"highlight:event:{highlight}",
                )
            )
        if row.dst is None:
            ax.text(
                x_of[row.src],
                top + rows_height / 2,
                "\n".join(lines),
                fontsize=SMALL,
                ha="center",
                va="center",
                color=colour,
                fontweight=weight,
                gid=gid,
                zorder=3,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "#999999", "linewidth": 0.6},
            )
            continue
        x0, x1 = x_of[row.src], x_of[row.dst]
        arrow_y = top + rows_height + 0.06
        ax.text(
            (x0 + x1) / 2,
            top + rows_height,
            "\n".join(lines),
            fontsize=SMALL,
            ha="center",
            va="bottom",
            color=colour,
            fontweight=weight,
            gid=gid,
            zorder=3,
        )
        ax.add_patch(
            FancyArrowPatch(
                (x0, arrow_y),
                (x1, arrow_y),
                arrowstyle="-|>",
                mutation_scale=12,
                linestyle="--" if row.ret else "-",
                color=colour,
                linewidth=1.4 if row.failed else 1.0,
                zorder=2,
                gid=f"arrow:{row.src}:{row.dst}:{'return' if row.ret else 'call'}:{lines[0]}",
            )
        )
    shown = f"events {start + 1}–{stop} of {len(events)} in the record" if (start, stop) != (0, len(events)) else ""
    shown = shown or f"all {len(events)} events of the record"
    fig.suptitle(title or "What each layer did", fontsize=TITLE, y=1 - 0.1 / height, va="top")
    fig.text(0.5, 1 - 0.42 / height, shown + "; repeated blocks folded (×n)", fontsize=SMALL, ha="center", va="top")
    return fig
