"""Notebook 01's figures: the three actors (after Documentation/arch/x86/tdx.rst), a GPA cut into its fields, and two
TDs' pages with who can read which.

Same visual language as the other figures (tdxsim.plot.style): Okabe–Ito colours with a hatch each, talk-size fonts.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from tdxsim.plot.style import FONT, HIGHLIGHT, OKABE_ITO, OWNERS, SMALL, TITLE, figure

_OWNER = {key: (colour, hatch) for key, _label, colour, hatch in OWNERS}

MODULE_TEXT = "SEAM mode, Intel-signed:\nS-EPT, PAMT, MRTD,\nevery private KeyID"
VMCALL_TEXT = "TDG.VP.VMCALL: the TD asks the host (through the module)"

#: The boxes of the architecture picture: key -> (x, y, w, h, title, lines, owner colour key).
BOXES: dict[str, tuple[float, float, float, float, str, str, str]] = {
    "vmm": (0.03, 0.56, 0.24, 0.30, "VMM (userspace)", "QEMU: ioctls, mmap,\nthe TD's shared pages", "host"),
    "kernel": (0.03, 0.14, 0.24, 0.32, "host kernel: KVM", "untrusted: allocates\nthe TD's memory", "host"),
    "module": (
        0.38,
        0.14,
        0.24,
        0.72,
        "TDX module",
        "SEAM mode, Intel-signed:\nS-EPT, PAMT, MRTD,\nevery private KeyID",
        "tdx_metadata",
    ),
    "td": (0.73, 0.14, 0.24, 0.72, "TD (the guest)", "its private pages,\nencrypted with\nits HKID", "td_private"),
}


def three_boxes(highlight: str | None = None) -> Figure:
    """The three actors and the instructions between them: SEAMCALL (host → module), TDCALL (TD → module).

    `highlight` outlines one box (a key of BOXES), e.g. the reader a widget has selected.
    """
    fig = figure(12.0, 4.6)
    ax = fig.add_axes((0, 0, 1, 0.9))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.12)
    ax.axis("off")
    for key, (x, y, w, h, title, lines, owner) in BOXES.items():
        colour, hatch = _OWNER[owner]
        chosen = key == highlight
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0.005,rounding_size=0.02",
                facecolor=colour,
                alpha=0.35,
                hatch=hatch,
                edgecolor="#444444",
                linewidth=1.0,
                gid=f"box:{key}",
            )
        )
        if chosen:
            ax.add_patch(
                Rectangle((x - 0.01, y - 0.02), w + 0.02, h + 0.04, fill=False, edgecolor=HIGHLIGHT, linewidth=3.5)
            )
        ax.text(x + w / 2, y + h - 0.06, title, ha="center", va="top", fontsize=FONT, fontweight="bold")
        ax.text(x + w / 2, y + h / 2 - 0.08, lines, ha="center", va="center", fontsize=SMALL, linespacing=1.3)
    arrows = (
        ((0.27, 0.30), (0.38, 0.30), "SEAMCALL\nTDH.*"),
        ((0.73, 0.30), (0.62, 0.30), "TDCALL\nTDG.*"),
    )
    for start, end, label in arrows:
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=22, linewidth=2.2, color="black"))
        ax.text((start[0] + end[0]) / 2, 0.37, label, ha="center", va="bottom", fontsize=SMALL)
    ax.add_patch(
        FancyArrowPatch((0.15, 0.56), (0.15, 0.46), arrowstyle="-|>", mutation_scale=20, linewidth=2, color="black")
    )
    ax.text(0.16, 0.51, "ioctl", ha="left", va="center", fontsize=SMALL)
    ax.add_patch(
        FancyArrowPatch(
            (0.85, 0.86),
            (0.15, 0.86),
            connectionstyle="arc3,rad=0.1",
            arrowstyle="-|>",
            mutation_scale=20,
            linewidth=1.6,
            linestyle="--",
            color=OKABE_ITO["blue"],
        )
    )
    ax.text(
        0.5, 1.0, "TDG.VP.VMCALL: the TD asks the host (through the module)", ha="center", va="bottom", fontsize=SMALL
    )
    fig.suptitle("Three actors: the host allocates the TD's memory, the TDX module guards it", fontsize=TITLE)
    return fig


def address_bar(gpa: int, gpaw: int) -> Figure:
    """A GPA cut into its fields for a TD of width `gpaw`: the shared bit (GPAW-1), the GFN, the page offset."""
    if gpaw not in (48, 52):
        raise ValueError(f"a TD's GPAW is 48 or 52, not {gpaw}")
    shared_bit = gpaw - 1
    fig = figure(12.0, 2.8)
    ax = fig.add_axes((0.03, 0.22, 0.94, 0.42))
    ax.set_xlim(gpaw, 0)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    fields = (
        (shared_bit, gpaw, "shared bit", OKABE_ITO["sky"] if gpa >> shared_bit & 1 else OKABE_ITO["vermillion"]),
        (12, shared_bit, f"GFN bits {shared_bit - 1}..12", "#EEEEEE"),
        (0, 12, "page offset 11..0", "#FFFFFF"),
    )
    for lo, hi, label, colour in fields:
        ax.add_patch(Rectangle((lo, 0), hi - lo, 1, facecolor=colour, edgecolor="black", linewidth=1.2))
        if hi - lo > 4:
            ax.text((lo + hi) / 2, 0.82, label, ha="center", va="center", fontsize=SMALL, color="#444444")
    for bit in range(gpaw):
        value = gpa >> bit & 1
        ax.text(bit + 0.5, 0.38, str(value), ha="center", va="center", fontsize=SMALL - 2, fontfamily="monospace")
    ax.set_xticks([0, 12, shared_bit])
    ax.set_xticklabels(["0", "12", str(shared_bit)], fontsize=SMALL)
    ax.set_xlabel("bit", fontsize=SMALL)
    ax.annotate(
        f"shared bit ({shared_bit})",
        xy=(shared_bit + 0.5, 1.0),
        xytext=(shared_bit - 3, 1.35),
        fontsize=SMALL,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black"},
        annotation_clip=False,
    )
    alias = "shared alias: shared EPT, host-visible" if gpa >> shared_bit & 1 else "private alias: Secure EPT"
    gfn = (gpa & ((1 << shared_bit) - 1)) >> 12
    fig.suptitle(
        f"GPA {gpa:#x} in a GPAW-{gpaw} TD: bit {shared_bit} is the shared bit → {alias}; GFN {gfn:#x}",
        fontsize=FONT,
    )
    return fig


#: What a reader got from a TD's page (tdxsim.lessons.readers.CrossRead.outcome): (colour, hatch, words).
READ_OUTCOMES: dict[str, tuple[str, str, str]] = {
    "plaintext": (OKABE_ITO["green"], "", "reads the plaintext"),
    "SIGBUS": (OKABE_ITO["orange"], "//", "SIGBUS: no mapping"),
    "zeros": (OKABE_ITO["sky"], "..", "wrong key: zeros"),
    "refused": (OKABE_ITO["yellow"], "xx", "module refuses to map it"),
}


def two_tds(hkids: list[int], rows: list[list[Any]], readers: dict[str, str]) -> Figure:
    """Two TDs' private pages (columns) and what each reader gets from each (rows): a cell per reader and page,
    coloured and hatched by outcome; above each column, the page itself in the TD-private colour with its HKID.

    `rows` are tdxsim.lessons.readers.two_td_reads(vmm, bindings)'s (objects with `reader`, `page`, `outcome`,
    `detail`), read from a machine with two finalized TDs.
    """
    td_colour, td_hatch = _OWNER["td_private"]
    fig = figure(12.0, 6.4)
    ax = fig.add_axes((0, 0, 1, 0.92))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    x0, width, top, height = 0.30, 0.33, 0.80, 0.17
    for page, hkid in enumerate(hkids):
        x = x0 + page * (width + 0.02)
        ax.add_patch(
            Rectangle(
                (x, top + 0.02),
                width,
                0.12,
                facecolor=td_colour,
                alpha=0.55,
                hatch=td_hatch,
                edgecolor="#444444",
                gid=f"page:{page}",
            )
        )
        name = "TD A" if page == 0 else "TD B"
        ax.text(
            x + width / 2,
            top + 0.08,
            f"{name}'s private page\nencrypted with HKID {hkid}",
            ha="center",
            va="center",
            fontsize=SMALL,
            fontweight="bold",
        )
    for r, row in enumerate(rows):
        y = top - (r + 1) * height
        ax.text(x0 - 0.02, y + height / 2, readers[row[0].reader], ha="right", va="center", fontsize=FONT)
        for cell in row:
            colour, hatch, words = READ_OUTCOMES[cell.outcome]
            x = x0 + cell.page * (width + 0.02)
            ax.add_patch(
                Rectangle(
                    (x, y + 0.01),
                    width,
                    height - 0.02,
                    facecolor=colour,
                    alpha=0.45,
                    hatch=hatch,
                    edgecolor="#444444",
                    gid=f"cell:{cell.reader}:{cell.page}:{cell.outcome}",
                )
            )
            ax.text(
                x + width / 2, y + height / 2 + 0.025, words, ha="center", va="center", fontsize=FONT, fontweight="bold"
            )
            ax.text(x + width / 2, y + height / 2 - 0.035, cell.detail, ha="center", va="center", fontsize=SMALL - 1)
    fig.suptitle("Two TDs, one TDX module: each TD reads only its own page", fontsize=TITLE)
    return fig


def two_tds_alt(hkids: list[int], rows: list[list[Any]], readers: dict[str, str]) -> str:
    """The alt text of `two_tds`: the same table in words."""
    names = [f"{'TD A' if page == 0 else 'TD B'}'s page (HKID {hkid})" for page, hkid in enumerate(hkids)]
    parts = [
        f"{readers[cell.reader]} on {names[cell.page]}: {READ_OUTCOMES[cell.outcome][2]}"
        for row in rows
        for cell in row
    ]
    return f"Table of {len(rows)} readers by 2 TD-private pages. " + "; ".join(parts) + "."
