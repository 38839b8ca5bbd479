"""MRTD, record by record: the 128-byte record layout, and the running SHA-384 after each successful TDH.MEM.PAGE.ADD /
TDH.MR.EXTEND of the event record (intel/tdx-module TDX_1.5.01 tdh_mem_page_add.c, tdh_mr_extend.c; tdxsim.tdx.mrtd)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tdxsim.events import Event
from tdxsim.plot.style import FONT, OKABE_ITO, SMALL, TITLE, figure
from tdxsim.tdx import mrtd

MAX_ROWS = 18


@dataclass(frozen=True)
class MrtdStep:
    """One line of the running hash: which SEAMCALL(s), the GPA, bytes hashed, and the digest so far."""

    index: int
    leaf: str
    gpa: int
    count: int
    nbytes: int
    digest: str


def mrtd_steps(events: list[Event], chunk: Callable[[int], bytes]) -> list[MrtdStep]:
    """Replay MRTD from the event record; `chunk(gpa)` gives the 256 bytes an MR.EXTEND at `gpa` measured."""
    sha = hashlib.sha384()
    steps = []
    for i, ev in enumerate(events):
        if ev.kind != "seamcall" or ev.data["code"] != 0:
            continue
        gpa = ev.data.get("gpa", 0)
        if ev.name == "TDH.MEM.PAGE.ADD":
            sha.update(mrtd.record(mrtd.TAG_PAGE_ADD, gpa))
            steps.append(MrtdStep(i, ev.name, gpa, 1, mrtd.RECORD_SIZE, sha.hexdigest()))
        elif ev.name == "TDH.MR.EXTEND":
            count = ev.data["count"]
            for k in range(count):
                at = gpa + k * mrtd.EXTEND_CHUNK
                sha.update(mrtd.record(mrtd.TAG_MR_EXTEND, at))
                sha.update(chunk(at))
            steps.append(
                MrtdStep(i, ev.name, gpa, count, count * (mrtd.RECORD_SIZE + mrtd.EXTEND_CHUNK), sha.hexdigest())
            )
    return steps


def _record(ax, y: float, tag: bytes, gpa: int, extend: bool) -> None:
    """One 128-byte record as a bar (1 unit = 1 byte), plus the 256 content bytes for MR.EXTEND."""
    parts = [(0, 16, OKABE_ITO["sky"], ".."), (16, 8, OKABE_ITO["orange"], "//"), (24, 104, "#FFFFFF", "")]
    if extend:
        parts.append((128, 256, OKABE_ITO["vermillion"], "xx"))
    for x, w, colour, hatch in parts:
        ax.add_patch(Rectangle((x, y), w, 0.7, facecolor=colour, hatch=hatch, edgecolor="#333333"))
    box = {"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.9}
    ax.text(0, y - 0.05, f"bytes 0-15: {tag.decode()!r}, zero-padded", fontsize=SMALL, va="bottom")
    ax.text(16, y + 0.75, f"bytes 16-23: GPA {gpa:#x} (u64 little-endian)", fontsize=SMALL, va="top")
    ax.text(76, y + 0.35, "bytes 24-127: zeros", ha="center", va="center", fontsize=SMALL, bbox=box)
    if extend:
        ax.text(
            256,
            y + 0.35,
            "+ the 256 bytes of the chunk (2 more blocks)",
            ha="center",
            va="center",
            fontsize=SMALL,
            bbox=box,
        )
    ax.text(-4, y + 0.35, tag.decode(), ha="right", va="center", fontsize=FONT, fontweight="bold")


def mrtd_records(events: list[Event], chunk: Callable[[int], bytes], final_mrtd: str | None = None) -> Figure:
    """Draw the record layout and the running hash call by call; the last line is checked against `final_mrtd`."""
    steps = mrtd_steps(events, chunk)
    shown = steps[:MAX_ROWS]
    fig = figure(15.0, 3.6 + 0.26 * (len(shown) + 3))
    h = fig.get_figheight()
    top = fig.add_axes((0.16, 1 - 3.1 / h, 0.82, 2.5 / h))
    top.set_xlim(0, 384)
    top.set_ylim(3.2, -0.5)
    top.set_axis_off()
    gpa = steps[0].gpa if steps else 0
    _record(top, 0, mrtd.TAG_PAGE_ADD, gpa, extend=False)
    _record(top, 1.9, mrtd.TAG_MR_EXTEND, gpa, extend=True)
    for x in (0, 16, 24, 128, 384):
        top.text(x, 3.15, str(x), ha="center", fontsize=9, color="#555555")
    lines = ["  #  SEAMCALL            GPA           bytes  running SHA-384 (first 32 hex digits)"]
    for k, st in enumerate(shown):
        what = st.leaf + (f" ×{st.count}" if st.count > 1 else "")
        lines.append(f"{k + 1:3}  {what:19} {st.gpa:#12x} {st.nbytes:6}  {st.digest[:32]}…")
    if len(steps) > len(shown):
        lines.append(f"     … {len(steps) - len(shown)} more")
    if final_mrtd is not None:
        replayed = steps[-1].digest if steps else hashlib.sha384().hexdigest()
        ok = replayed == final_mrtd
        lines.append(f"     TDH.MR.FINALIZE: MRTD = {final_mrtd[:32]}…  {'= the replay ✓' if ok else '≠ the replay ✗'}")
    fig.text(0.02, 1 - 3.3 / h, "\n".join(lines), family="monospace", fontsize=SMALL, va="top")
    fig.suptitle(
        "MRTD: SHA-384 over 128-byte records, in SEAMCALL order (PAGE.ADD measures the GPA only)", fontsize=TITLE
    )
    return fig
