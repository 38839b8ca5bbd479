"""Where two MRTD record streams part: the whole streams as section-coloured bars, and the records around the first
difference as labelled boxes (tdxsim.vmm.variants; the records are the TDX module's, tdx/mrtd.py)."""

from __future__ import annotations

from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tdxsim.plot.style import OKABE_ITO, SMALL, TITLE, figure
from tdxsim.tdvf import TdvfSection
from tdxsim.vmm.variants import record_info

_SECTION_COLOURS = ("blue", "orange", "green", "purple", "sky", "yellow", "vermillion")


def _colour(section: int | None) -> str:
    return "#BBBBBB" if section is None else OKABE_ITO[_SECTION_COLOURS[section % len(_SECTION_COLOURS)]]


def stream_alt_text(sections: list[TdvfSection], reference: list[int], other: list[int], name: str) -> str:
    """A sentence saying what `record_streams` draws, for the figure's alt text."""
    n = min(len(reference), len(other))
    first = next((i for i in range(n) if reference[i] != other[i]), n)
    if first == n and len(reference) == len(other):
        return f"The single-pass and {name} record streams are identical: {len(reference)} records each."
    ref = record_info(sections, first, reference[first]).describe() if first < len(reference) else "the end"
    var = record_info(sections, first, other[first]).describe() if first < len(other) else "the end"
    return (
        f"Two bars of MRTD records, single-pass ({len(reference)} records) above {name} ({len(other)} records), "
        f"coloured by section; they agree up to record {first}, where single-pass has {ref} and {name} has {var}. "
        "Below, the records around that point as boxes, the differing ones outlined."
    )


def record_streams(
    sections: list[TdvfSection], reference: list[int], other: list[int], name: str, window: int = 4
) -> Figure:
    """Top: both streams, record by record, coloured by section (PAGE.ADD records darker); a line at the first
    difference. Bottom: `window` records either side of it, ADD/EXTEND with GPA, section, page and chunk."""
    fig = figure(14.0, 6.2)
    top = fig.add_axes((0.12, 0.6, 0.86, 0.26))
    bottom = fig.add_axes((0.12, 0.02, 0.86, 0.44))
    n = min(len(reference), len(other))
    first = next((i for i in range(n) if reference[i] != other[i]), n)
    total = max(len(reference), len(other), 1)
    for row, (label, log) in enumerate((("single-pass", reference), (name, other))):
        y = 1 - row
        start = 0
        while start < len(log):  # runs of records of one section and kind
            info = record_info(sections, start, log[start])
            end = start + 1
            while end < len(log) and (log[end] & 1) == (log[start] & 1):
                nxt = record_info(sections, end, log[end])
                if nxt.section != info.section:
                    break
                end += 1
            top.add_patch(Rectangle((start, y - 0.35), end - start, 0.7, color=_colour(info.section)))
            if not log[start] & 1:  # PAGE.ADD records: a black tick above the bar
                top.add_patch(Rectangle((start, y + 0.35), end - start, 0.18, color="black", linewidth=0))
            start = end
        top.text(-total * 0.005, y, label, ha="right", va="center", fontsize=SMALL)
    top.axvline(first, color="black", linestyle="--", linewidth=1.5)
    right = first > total / 2
    label = f"first difference: record {first} "
    top.text(first, 1.5, label if right else " " + label, fontsize=SMALL, va="bottom", ha="right" if right else "left")
    top.set_xlim(0, total)
    top.set_ylim(-0.6, 1.9)
    top.set_yticks([])
    top.set_xlabel("record index (call order); black ticks above a bar: PAGE.ADD records", fontsize=SMALL)
    handles = [Rectangle((0, 0), 1, 1, color=_colour(i), label=f"{i} {s.type_name}") for i, s in enumerate(sections)]
    top.legend(
        handles=handles,
        loc="upper right",
        fontsize=SMALL - 2,
        ncol=len(sections),
        frameon=False,
        bbox_to_anchor=(1.0, 1.45),
    )
    fig.text(0.01, 0.97, f"MRTD records: single-pass vs {name}", fontsize=TITLE, va="top")

    lo, hi = max(0, first - window), first + window + 1
    for row, log in enumerate((reference, other)):
        y = 1 - row
        for k, i in enumerate(range(lo, hi)):
            if i >= len(log):
                continue
            info = record_info(sections, i, log[i])
            differs = i >= first and (i >= len(reference) or i >= len(other) or reference[i] != other[i])
            bottom.add_patch(
                Rectangle(
                    (k, y - 0.4),
                    0.92,
                    0.8,
                    facecolor=to_rgba(_colour(info.section), 0.35),
                    edgecolor=OKABE_ITO["vermillion"] if differs else "#666666",
                    linewidth=3 if differs else 1,
                )
            )
            where = f"page {info.page}" + (f" c{info.chunk}" if info.kind == "EXTEND" else "")
            sec = "-" if info.section is None else f"s{info.section} {sections[info.section].type_name}"
            bottom.text(k + 0.46, y + 0.2, f"#{i} {info.kind}", ha="center", fontsize=SMALL - 1)
            bottom.text(k + 0.46, y + 0.02, f"{info.gpa:#x}", ha="center", fontsize=SMALL - 2, family="monospace")
            bottom.text(k + 0.46, y - 0.14, sec, ha="center", fontsize=SMALL - 2)
            bottom.text(k + 0.46, y - 0.3, where, ha="center", fontsize=SMALL - 2)
    bottom.set_xlim(-1.6, hi - lo)
    bottom.set_ylim(-0.6, 1.6)
    bottom.text(-0.1, 1, "single-pass", ha="right", va="center", fontsize=SMALL)
    bottom.text(-0.1, 0, name, ha="right", va="center", fontsize=SMALL)
    bottom.axis("off")
    bottom.set_title(f"records {lo}-{hi - 1}: outlined red where the streams differ", fontsize=SMALL, loc="left")
    return fig
