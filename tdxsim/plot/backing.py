"""Notebook 02's figure: how much physical memory each owner holds (`Vmm.describe_pages`), one stacked bar per machine.

Same visual language as the ownership maps (tdxsim.plot.style.OWNERS: colour plus hatch per owner).
"""

from __future__ import annotations

from collections import Counter

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tdxsim.plot.style import FONT, HIGHLIGHT, OWNERS, SMALL, TITLE, figure
from tdxsim.vmm.process import Vmm


def memory_bars(
    runs: list[tuple[str, Vmm]], guest_pages: int, selected: int | None = None, metadata: bool = False
) -> Figure:
    """One horizontal stacked bar per (label, machine): its allocated pages per owner (`Vmm.describe_pages`).

    `guest_pages` draws a dashed line at the guest's size (one page per GFN); `selected` outlines one bar; the TDX
    module's metadata is left out unless `metadata` (it is the same in every run of one TD shape).
    """
    owners = [o for o in OWNERS if o[0] != "none" and (metadata or o[0] != "tdx_metadata")]
    height = 2.2 + 0.6 * len(runs)
    fig = figure(12.0, height)
    ax = fig.add_axes((0.2, 1.5 / height, 0.76, (0.6 * len(runs)) / height))
    most = guest_pages
    for row, (_name, vmm) in enumerate(runs):
        memory = Counter(page["owner"] for page in vmm.describe_pages().values())
        left = 0
        for key, _label, colour, hatch in owners:
            n = memory.get(key, 0)
            if not n:
                continue
            ax.barh(row, n, left=left, color=colour, hatch=hatch, edgecolor="#444444", linewidth=0.8, height=0.6)
            if n >= max(3, guest_pages // 16):
                ax.text(left + n / 2, row, str(n), ha="center", va="center", fontsize=SMALL, fontweight="bold")
            left += n
        most = max(most, left)
        ax.text(left + most * 0.01, row, f"{left} pages", ha="left", va="center", fontsize=SMALL)
        if row == selected:
            ax.barh(row, left, color="none", edgecolor=HIGHLIGHT, linewidth=3.0, height=0.72)
    ax.axvline(guest_pages, color="black", linestyle="--", linewidth=1.5)
    ax.text(
        guest_pages + most * 0.01,
        -0.72,
        f"guest size: {guest_pages} GFNs",
        ha="left",
        va="center",
        fontsize=FONT,
        color="#333333",
    )
    ax.set_yticks(range(len(runs)))
    ax.set_yticklabels([label for label, _vmm in runs], fontsize=SMALL)
    ax.set_ylim(len(runs) - 0.5, -1.0)
    ax.set_xlim(0, most * 1.18)
    ax.set_xlabel("4 KiB pages allocated at the end of the run", fontsize=SMALL)
    ax.tick_params(axis="x", labelsize=SMALL)
    handles = [
        Patch(facecolor=colour, hatch=hatch, edgecolor="#444444", label=label) for _k, label, colour, hatch in owners
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=SMALL, frameon=False)
    fig.suptitle("Physical pages behind the guest, by owner", fontsize=TITLE)
    return fig
