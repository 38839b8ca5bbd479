"""Page-ownership maps: who owns each page, by GPA (one strip per backing) and by physical frame.

Drawn from a scenario's output (`final.pages`, the contract's per-page owner list) and its document (the memslots).
Large maps are images (`imshow` of an owner-index array); hatching is drawn once per run of equal pages in a row,
never per page, so a 1M-page guest stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text

from tdxsim.platform import PAGE_SIZE
from tdxsim.plot.style import (
    FONT,
    HIGHLIGHT,
    NO_MEMSLOT,
    OWNER_INDEX,
    OWNERS,
    SMALL,
    TITLE,
    Blitter,
    figure,
    fit_legend,
)
from tdxsim.scenario import describe_final
from tdxsim.vmm.process import Vmm

NONE = OWNER_INDEX["none"]
PAD = -1  # cells past the end of the physical range (drawn white, never hatched)
NO_SLOT = len(OWNERS)  # GPA view: a GFN no memslot covers, and the cells past the last slot
STYLES = (*OWNERS, NO_MEMSLOT)
MAX_HATCHED_RUNS = 1500
_CMAP = ListedColormap([colour for _k, _l, colour, _h in STYLES])


@dataclass
class Strip:
    """One row of the GPA view: the owner index of the page backing each GFN of [base_gfn, base_gfn + len)."""

    name: str
    base_gfn: int
    owners: np.ndarray
    highlight: list[int] = field(default_factory=list)  # GFN offsets in this strip


@dataclass
class OwnershipData:
    """What an ownership map shows: GPA strips, the physical frames, and the pages PAGE.ADD used."""

    in_place: bool
    strips: list[Strip]
    phys_base_pfn: int
    phys: np.ndarray
    targets: list[int]  # pfns PAGE.ADD filled
    sources: list[int]  # pfns PAGE.ADD copied from (== targets for an in-place add)


def _memslots(doc: dict[str, Any], out: dict[str, Any]) -> list[tuple[int, int, int]]:
    """(base gfn, npages, userspace_addr) of each memslot the scenario created successfully."""
    slots = []
    for raw, step in zip(doc["steps"], out["steps"], strict=True):
        if raw["op"] == "KVM_SET_USER_MEMORY_REGION2" and step["ret"] == 0:
            gpa, size = int(str(raw["guest_phys_addr"]), 0), int(str(raw["memory_size"]), 0)
            slots.append((gpa // PAGE_SIZE, size // PAGE_SIZE, int(str(raw["userspace_addr"]), 0)))
    return slots


def ownership_data(out: dict[str, Any], doc: dict[str, Any]) -> OwnershipData:
    """Owner arrays for the GPA view and the physical view, from a run's output and its scenario document."""
    pages = out["final"]["pages"]
    in_place = bool(out["gmem_in_place_conversion"])
    slots = _memslots(doc, out)
    strips: list[Strip] = []
    if slots:
        base = min(s[0] for s in slots)
        npages = max(s[0] + s[1] for s in slots) - base
        gmem = Strip(
            "guest_memfd (private side)" if not in_place else "guest_memfd (shared and private)",
            base,
            np.full(npages, NO_SLOT, dtype=np.int8),
        )
        strips.append(gmem)
        shared = None
        if not in_place:
            shared = Strip("userspace_addr (shared side)", base, np.full(npages, NO_SLOT, dtype=np.int8))
            strips.append(shared)
        for strip in strips:
            for gfn, n, _uaddr in slots:
                strip.owners[gfn - base : gfn - base + n] = NONE
        for page in pages.values():
            owner = OWNER_INDEX[page["owner"]]
            if "gpa" in page:
                gmem.owners[int(page["gpa"], 16) // PAGE_SIZE - base] = owner
            elif shared is not None and "va" in page:
                va = int(page["va"], 16)
                for gfn, n, uaddr in slots:
                    if uaddr <= va < uaddr + n * PAGE_SIZE:
                        shared.owners[gfn + (va - uaddr) // PAGE_SIZE - base] = owner
    targets, sources = [], []
    for addr, page in pages.items():
        if "page_add_source" not in page:
            continue
        targets.append(int(addr, 16) // PAGE_SIZE)
        sources.append(int(page["page_add_source"], 16) // PAGE_SIZE)
        if strips and "gpa" in page:
            strips[0].highlight.append(int(page["gpa"], 16) // PAGE_SIZE - strips[0].base_gfn)
    pfns = [int(a, 16) // PAGE_SIZE for a in pages]
    lo = min(pfns) if pfns else 0
    phys = np.full((max(pfns) - lo + 1) if pfns else 0, NONE, dtype=np.int8)
    for addr, page in pages.items():
        phys[int(addr, 16) // PAGE_SIZE - lo] = OWNER_INDEX[page["owner"]]
    return OwnershipData(in_place, strips, lo, phys, sorted(targets), sorted(set(sources)))


def _capacity(n: int) -> int:
    """Cells a map of n pages is drawn with: the next power of 2 (at least 16), so a 2 MiB memslot is drawn as
    512 cells, not a 4 MiB grid, and the layout stays the same while a toggle changes n a little."""
    cap = 16
    while cap < n:
        cap *= 2
    return cap


def _width(n: int) -> int:
    """Pages per image row: a power of 2, √capacity rounded up (16 pages: 4 per row; 512: 32 × 16 rows; 1M: 1024)."""
    cap = _capacity(n)
    return 1 << -(-(cap.bit_length() - 1) // 2)


def _grid(owners: np.ndarray, pad: int = PAD) -> np.ndarray:
    cap = _capacity(len(owners))
    grid = np.full(cap, pad, dtype=np.int8)
    grid[: len(owners)] = owners
    return grid.reshape(-1, _width(len(owners)))


def _row_runs(grid: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(row, start column, length, owner) of each run of equal owners within a row, pads and "none" excluded."""
    starts = np.ones(grid.shape, dtype=bool)
    starts[:, 1:] = grid[:, 1:] != grid[:, :-1]
    ends = np.ones(grid.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    runs = []
    for (r, c), (_r2, e) in zip(np.argwhere(starts), np.argwhere(ends), strict=True):
        owner = int(grid[r, c])
        if owner not in (PAD, NONE):
            runs.append((int(r), int(c), int(e - c + 1), owner))
    return runs


def _cell_runs(cells: list[int], width: int) -> list[tuple[int, int, int]]:
    """(row, column, length) of each run of consecutive cells within one row."""
    runs: list[tuple[int, int, int]] = []
    for i in sorted(set(cells)):
        r, c = divmod(i, width)
        if runs and runs[-1][0] == r and runs[-1][1] + runs[-1][2] == c:
            runs[-1] = (r, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((r, c, 1))
    return runs


def _setup_axes(ax: Axes, n: int, base: int, title: str, animated: bool = False) -> AxesImage:
    """Axes for a map of n pages starting at page `base`: limits, address ticks and an (empty) owner image."""
    width = _width(n)
    rows = _capacity(n) // width
    image = ax.imshow(
        np.ma.masked_all((rows, width)),
        cmap=_CMAP,
        vmin=-0.5,
        vmax=len(STYLES) - 0.5,
        interpolation="nearest",
        aspect="equal",
        animated=animated,
    )
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    step = max(1, rows // 4)
    ax.set_yticks(range(0, rows, step))
    ax.set_yticklabels([f"{(base + r * width) * PAGE_SIZE:#x}" for r in range(0, rows, step)], fontsize=SMALL)
    xstep = max(1, width // 4)
    ax.set_xticks(range(0, width, xstep))
    ax.set_xticklabels([f"+{c}" for c in range(0, width, xstep)], fontsize=SMALL)
    ax.set_title(title, fontsize=FONT)
    if width <= 16:  # small maps: a light grid shows where each page is, allocated or not
        ax.set_xticks(np.arange(-0.5, width), minor=True)
        ax.set_yticks(np.arange(-0.5, rows), minor=True)
        ax.grid(which="minor", color="#BBBBBB", linewidth=0.6)
        ax.tick_params(which="minor", length=0)
    return image


def _fill(
    ax: Axes,
    image: AxesImage,
    owners: np.ndarray,
    base: int,
    unit: str,
    solid: list[int],
    dashed: list[int],
    animated: bool = False,
) -> list[Artist]:
    """Put the owners into the image and add the hatched runs and the highlighted pages; returns the new patches."""
    grid = _grid(owners, NO_SLOT if unit == "gpa" else PAD)
    width = grid.shape[1]
    image.set_data(np.ma.masked_equal(grid, PAD))
    patches: list[Artist] = []
    runs = _row_runs(grid)
    if len(runs) > MAX_HATCHED_RUNS:  # keep the longest runs: the map stays an image, hatching marks the bulk
        runs = sorted(runs, key=lambda run: -run[2])[:MAX_HATCHED_RUNS]
    for r, c, n, owner in runs:
        patches.append(
            Rectangle(
                (c - 0.5, r - 0.5),
                n,
                1,
                fill=False,
                hatch=STYLES[owner][3],
                edgecolor="#00000099",
                linewidth=0.6 if width <= 64 else 0.0,
                gid=f"run:{STYLES[owner][0]}",
                animated=animated,
            )
        )
    pad = 0.42 if width <= 16 else 0.5
    for kind, cells, style in ((unit, solid, "-"), ("source", dashed, "--")):
        for r, c, n in _cell_runs(cells, width):
            patches.append(
                Rectangle(
                    (c - pad, r - pad),
                    n - 1 + 2 * pad,
                    2 * pad,
                    fill=False,
                    edgecolor=HIGHLIGHT,
                    linewidth=3.5 if width <= 16 else 2.0,
                    linestyle=style,
                    gid=f"highlight:{kind}:{(base + r * width + c):#x}:{n}",
                    animated=animated,
                )
            )
    for patch in patches:
        ax.add_patch(patch)
    return patches


def _panels(data: OwnershipData, phys: bool) -> list[tuple[str, np.ndarray, int, str, list[int], list[int]]]:
    """(title, owners, base page, unit, solid highlights, dashed highlights) of each panel."""
    panels = [(f"GPA view: {s.name}", s.owners, s.base_gfn, "gpa", s.highlight, []) for s in data.strips]
    if phys:
        lo = data.phys_base_pfn
        copied = [p - lo for p in data.sources if p not in data.targets]
        panels.append(("physical view: allocated frames", data.phys, lo, "pfn", [p - lo for p in data.targets], copied))
    return panels


def _title(out: dict[str, Any], data: OwnershipData) -> str:
    model = "in-place conversion" if data.in_place else "out-of-place conversion"
    return f"Who owns each page ({model}, kernel {out['kernel']})"


def _legend(fig: Figure) -> float:
    """The owners' legend at the bottom of the figure; returns its height in inches."""
    handles = [
        Patch(facecolor=colour, hatch=hatch, edgecolor="#444444", label=label) for _k, label, colour, hatch in STYLES
    ]
    handles.append(Patch(facecolor="white", edgecolor=HIGHLIGHT, linewidth=3, label="PAGE.ADD target"))
    handles.append(Patch(facecolor="white", edgecolor=HIGHLIGHT, linewidth=3, linestyle="--", label="PAGE.ADD source"))
    return fit_legend(fig, handles)


def machine_view(vmm: Vmm) -> tuple[dict[str, Any], dict[str, Any]]:
    """(out, doc) for the figures from a machine driven by calls rather than a scenario: the contract's `final`
    (pages with their derived owners) and the selected VM's memslots. `ownership_map(*machine_view(vmm))` draws it."""
    kvm = vmm.kvm
    slots = [] if kvm is None else sorted(kvm.memslots.values(), key=lambda slot: slot.id)
    doc = {
        "steps": [
            {
                "op": "KVM_SET_USER_MEMORY_REGION2",
                "guest_phys_addr": slot.base_gfn * PAGE_SIZE,
                "memory_size": slot.npages * PAGE_SIZE,
                "userspace_addr": slot.userspace_addr,
            }
            for slot in slots
        ]
    }
    out = {
        "kernel": vmm.flavour.name,
        "gmem_in_place_conversion": vmm.in_place,
        "steps": [{"ret": 0} for _ in slots],
        "final": describe_final(vmm),
    }
    return out, doc


def ownership_map(
    out: dict[str, Any], doc: dict[str, Any], title: str | None = None, phys: bool = True, legend: bool = True
) -> Figure:
    """Draw the page-ownership map: GPA view (a strip per backing) and, with `phys`, the physical frames.

    Without `legend` the figure is shorter (widgets show `ownership_legend()` once instead).
    """
    data = ownership_data(out, doc)
    panels = _panels(data, phys)
    fig = figure(5.0 * max(len(panels), 2), 6.0 if legend else 4.8)
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
    for ax, (name, owners, base, unit, solid, dashed) in zip(axes, panels, strict=False):
        image = _setup_axes(ax, len(owners), base, name)
        _fill(ax, image, owners, base, unit, solid, dashed)
        ax.set_ylabel("guest physical address" if unit == "gpa" else "host physical address", fontsize=SMALL)
    fig.suptitle(title or _title(out, data), fontsize=TITLE)
    below = _legend(fig) + 0.2 if legend else 0.0
    fig.subplots_adjust(left=0.12, right=0.98, top=0.86, bottom=(below + 0.4) / fig.get_figheight(), wspace=0.55)
    return fig


class OwnershipView:
    """The ownership map as a widget redraws it: one figure per layout, only the pages redrawn on each update."""

    def __init__(self, phys: bool = True, dpi: int = 80) -> None:
        self.phys = phys
        self.dpi = dpi
        self._layouts: dict[tuple, tuple[Blitter, list[tuple[Axes, AxesImage]], Text, list[Artist]]] = {}
        self.data: OwnershipData | None = None
        self.patches: list[Artist] = []

    def render(self, out: dict[str, Any], doc: dict[str, Any]) -> bytes:
        """The map of this run as PNG bytes (same picture as `ownership_map(..., legend=False)`)."""
        self.data = data = ownership_data(out, doc)
        panels = _panels(data, self.phys)
        key = tuple((name, _capacity(len(owners)), base) for name, owners, base, *_rest in panels)
        if key not in self._layouts:
            fig = figure(5.0 * max(len(panels), 2), 4.8)
            axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
            slots = []
            for ax, (name, owners, base, unit, *_rest) in zip(axes, panels, strict=False):
                slots.append((ax, _setup_axes(ax, len(owners), base, name, animated=True)))
                ax.set_ylabel("guest physical address" if unit == "gpa" else "host physical address", fontsize=SMALL)
            title = fig.suptitle("", fontsize=TITLE, animated=True)
            fig.subplots_adjust(left=0.12, right=0.98, top=0.86, bottom=0.08, wspace=0.55)
            self._layouts[key] = (Blitter(fig, self.dpi), slots, title, [])
        blitter, slots, title, old = self._layouts[key]
        for patch in old:
            patch.remove()
        old.clear()
        changing: list[Artist] = [title]
        for (ax, image), (_name, owners, base, unit, solid, dashed) in zip(slots, panels, strict=True):
            old.extend(_fill(ax, image, owners, base, unit, solid, dashed, animated=True))
            changing.append(image)
            changing.extend(t.gridline for t in (*ax.xaxis.get_minor_ticks(), *ax.yaxis.get_minor_ticks()))
            changing.extend(ax.spines.values())
        changing.extend(old)
        title.set_text(_title(out, data))
        self.patches = list(old)
        return blitter.png(changing)


def ownership_legend() -> Figure:
    """Draw the ownership maps' legend alone (colours, hatches, the PAGE.ADD target and source outlines)."""
    fig = figure(15.0, 1.0)
    fig.set_figheight(_legend(fig) + 0.1)
    return fig


def backed_twice(data: OwnershipData) -> int:
    """How many GFNs have two pages at once: a guest_memfd page and, out of place, a page behind `userspace_addr`."""
    if len(data.strips) < 2:
        return 0  # in place, shared and private are one folio
    gmem, shared = data.strips[0].owners, data.strips[1].owners
    allocated = (gmem != NONE) & (gmem != NO_SLOT) & (shared != NONE) & (shared != NO_SLOT)
    return int(np.count_nonzero(allocated))


def compare_title(datas: list[tuple[str, OwnershipData]]) -> str:
    """The comparison's title, from what the runs show: the GFNs each run backs twice, or one page per GFN."""
    parts = []
    for label, data in datas:
        n = backed_twice(data)
        if n:
            parts.append(f"{label}: {n} GFN{'s' if n > 1 else ''} backed by two pages")
        elif data.in_place:
            parts.append(f"{label}: one page per GFN, its attribute flips")
        else:
            parts.append(f"{label}: one page per GFN")
    return "Pages per GFN — " + " · ".join(parts)


def ownership_compare(runs: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> Figure:
    """Draw GPA views side by side, e.g. out-of-place (two backing pages per GFN) beside in-place (one page); the title
    says, per run, how many GFNs are backed twice, as counted in the runs it is given (`compare_title`)."""
    panels = []
    datas = [(label, ownership_data(out, doc)) for label, out, doc in runs]
    for label, data in datas:
        for name, owners, base, unit, solid, dashed in _panels(data, phys=False):
            panels.append((f"{label}\n{name.removeprefix('GPA view: ')}", owners, base, unit, solid, dashed))
    fig = figure(4.6 * max(len(panels), 2), 5.8)
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
    for ax, (name, owners, base, unit, solid, dashed) in zip(axes, panels, strict=False):
        _fill(ax, _setup_axes(ax, len(owners), base, name), owners, base, unit, solid, dashed)
    axes[0].set_ylabel("guest physical address", fontsize=SMALL)
    fig.suptitle(compare_title(datas), fontsize=TITLE)
    below = _legend(fig) + 0.2
    fig.subplots_adjust(left=0.1, right=0.98, top=0.80, bottom=(below + 0.4) / fig.get_figheight(), wspace=0.55)
    return fig
