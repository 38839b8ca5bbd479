"""The outcome matrix: scenarios × kernel flavours, each cell coloured (and hatched) by the errno the simulator
returned for that cell's scenario, and naming the source (kernel file:function or lore Message-ID) of the answer.

Cells are whatever `tdxsim.seed.run_matrix` computed: every cell was run, none is typed in.
"""

from __future__ import annotations

from typing import Protocol

from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from tdxsim.plot.style import ERRNO_STYLE, FONT, HIGHLIGHT, NOT_APPLICABLE, OTHER_ERRNO, SMALL, TITLE, figure


class _Source(Protocol):
    short: str


class _Row(Protocol):
    label: str


class MatrixCell(Protocol):
    """What the figure reads from a cell (tdxsim.seed.Cell fits)."""

    row: _Row
    kernel: str
    source: _Source | None

    @property
    def errno(self) -> str | None: ...

    @property
    def text(self) -> str: ...


def errno_style(errno: str | None) -> tuple[str, str, str]:
    """(face colour, hatch, text colour) for an outcome; None means the cell does not exist."""
    if errno is None:
        return NOT_APPLICABLE
    return ERRNO_STYLE.get(errno, OTHER_ERRNO)


def outcome_matrix(cells: list[list[MatrixCell]], selected: tuple[int, int] | None = None) -> Figure:
    """Draw the matrix: one row per scenario, one column per kernel flavour; `selected` (row, column) is outlined."""
    nrows, ncols = len(cells), len(cells[0]) if cells else 0
    fig = figure(17.0, 1.9 + 0.62 * nrows)
    label_w = 0.22
    ax = fig.add_axes((label_w, 0.9 / fig.get_figheight(), 0.99 - label_w, 0.62 * nrows / fig.get_figheight()))
    ax.set_xlim(0, ncols)
    ax.set_ylim(nrows, 0)
    ax.set_axis_off()
    seen: dict[str, tuple[str, str, str]] = {}
    column_inches = fig.get_figwidth() * (0.99 - label_w) / max(ncols, 1)
    for r, row in enumerate(cells):
        fig.text(
            label_w - 0.005,
            1 - (1.0 + 0.62 * (r + 0.5)) / fig.get_figheight(),
            row[0].row.label,
            ha="right",
            va="center",
            fontsize=FONT,
        )
        for c, cell in enumerate(row):
            face, hatch, ink = errno_style(cell.errno)
            seen[cell.errno or "n/a"] = (face, hatch, ink)
            ax.add_patch(
                Rectangle(
                    (c + 0.02, r + 0.04),
                    0.96,
                    0.92,
                    facecolor=face,
                    hatch=hatch,
                    edgecolor="#555555",
                    linewidth=0.8,
                    gid=f"cell:{r}:{c}:{cell.errno or 'n/a'}",
                )
            )
            ax.text(
                c + 0.05,
                r + 0.33,
                cell.text,
                fontsize=FONT,
                fontweight="bold",
                va="center",
                color=ink,
                bbox={"boxstyle": "round,pad=0.12", "facecolor": face, "edgecolor": "none"},
            )
            note = cell.source.short if cell.source is not None else "this kernel has no such setting"
            ax.text(
                c + 0.05,
                r + 0.72,
                note,
                fontsize=min(10.0, 10.0 * 0.9 * column_inches / (len(note) * 0.6 * 10 / 72)),  # stays in its cell
                va="center",
                ha="left",
                color="#000000",
                bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            )
    if selected is not None:
        r, c = selected
        ax.add_patch(Rectangle((c, r), 1, 1, fill=False, edgecolor=HIGHLIGHT, linewidth=4, gid=f"selected:{r}:{c}"))
    for c, cell in enumerate(cells[0] if cells else []):
        ax.text(c + 0.5, -0.12, f"kernel {cell.kernel}", ha="center", va="bottom", fontsize=FONT, fontweight="bold")
    handles = [
        Patch(facecolor=face, hatch=hatch, edgecolor="#555555", label="0 (success)" if name == "OK" else name)
        for name, (face, hatch, _ink) in sorted(seen.items())
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=SMALL, frameon=False)
    fig.suptitle("KVM_TDX_INIT_MEM_REGION: what each kernel returns (every cell was run)", fontsize=TITLE)
    return fig
