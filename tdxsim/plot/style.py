"""The one visual language: Okabe–Ito colours plus a hatch per state (greyscale projectors), fonts for talk size.

Figures are built with `matplotlib.figure.Figure` (no pyplot), so they carry no global state and never display
themselves; `to_png` renders one to PNG bytes of exactly figsize × dpi pixels.
"""

from __future__ import annotations

import io
import textwrap
from typing import Any

from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image as PILImage

#: Okabe & Ito (2008), "Color Universal Design": safe for the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
GREY = "#DDDDDD"
LIGHT = "#F4F4F4"
FONT = 13  # base font size: legible on a projector at figure widths of 12-16 inches
SMALL = 11
TITLE = 15

#: Page owners (tdxsim.physmem.Owner values) in legend order: (key, label, colour, hatch).
OWNERS: tuple[tuple[str, str, str, str], ...] = (
    ("none", "not allocated", "#FFFFFF", ""),
    ("host", "host memory (userspace, KVM)", OKABE_ITO["orange"], "//"),
    ("guest_memfd_shared", "guest_memfd, shared", OKABE_ITO["sky"], ".."),
    ("guest_memfd_private", "guest_memfd, private (not in the TD)", OKABE_ITO["green"], "\\\\"),
    ("td_private", "TD-private (in the S-EPT)", OKABE_ITO["vermillion"], "xx"),
    ("tdx_metadata", "TDX module metadata", OKABE_ITO["purple"], "++"),
)
OWNER_INDEX = {key: i for i, (key, *_rest) in enumerate(OWNERS)}
#: A GPA no memslot covers (so no page can back it): grey and cross-ruled, unlike a GFN whose page is not allocated.
NO_MEMSLOT: tuple[str, str, str, str] = ("no_memslot", "no memslot at this GPA", "#AAAAAA", "--")

#: Outcome of an ioctl, by errno name: (colour, hatch, text colour).
ERRNO_STYLE: dict[str, tuple[str, str, str]] = {
    "OK": (OKABE_ITO["green"], "", "#FFFFFF"),
    "EOPNOTSUPP": (OKABE_ITO["orange"], "//", "#000000"),
    "EINVAL": (OKABE_ITO["vermillion"], "\\\\", "#FFFFFF"),
    "EFAULT": (OKABE_ITO["purple"], "xx", "#000000"),
    "EIO": (OKABE_ITO["yellow"], "..", "#000000"),
    "EEXIST": (OKABE_ITO["sky"], "++", "#000000"),
}
OTHER_ERRNO = (OKABE_ITO["blue"], "oo", "#FFFFFF")
NOT_APPLICABLE = ("#FFFFFF", "", "#777777")

#: S-EPT entry states (tdxsim.tdx.sept.SeptState values): (colour, hatch).
SEPT_STYLE: dict[str, tuple[str, str]] = {
    "FREE": ("#FFFFFF", ""),
    "NL_MAPPED": (OKABE_ITO["sky"], ".."),
    "NL_BLOCKED": (OKABE_ITO["blue"], "oo"),
    "MAPPED": (OKABE_ITO["vermillion"], "xx"),
    "BLOCKED": (OKABE_ITO["purple"], "++"),
    "PENDING": (OKABE_ITO["yellow"], "//"),
    "PENDING_BLOCKED": (OKABE_ITO["orange"], "\\\\"),
}

#: Event-timeline lanes, left to right, by event layer.
LANES: tuple[tuple[str, str], ...] = (
    ("vmm", "VMM (userspace)"),
    ("guest", "guest (TD)"),
    ("kvm", "KVM"),
    ("tdx", "TDX module"),
    ("mem", "memory"),
)
FAIL = OKABE_ITO["vermillion"]
HIGHLIGHT = OKABE_ITO["black"]


def figure(width: float, height: float) -> Figure:
    """A new Figure of the given size in inches, with an Agg canvas and a white background."""
    fig = Figure(figsize=(width, height), facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def fit_legend(fig: Figure, handles: list[Artist], most: int = 5) -> float:
    """A legend at the bottom centre with as many columns (≤ most) as fit inside the canvas; returns its height in
    inches (callers keep their axes above it)."""
    renderer = fig.canvas.get_renderer()
    legend = None
    for ncol in range(min(most, len(handles)), 0, -1):
        if legend is not None:
            legend.remove()
        legend = fig.legend(
            handles=handles, loc="lower center", ncol=ncol, fontsize=SMALL, frameon=False, bbox_to_anchor=(0.5, 0.0)
        )
        box = legend.get_window_extent(renderer)
        if box.width <= 0.94 * fig.bbox.width:  # a margin: text is relatively wider at low dpi (hinting)
            break
    if legend is None:  # the loop runs at least once; this is for the type checker and survives python -O
        raise RuntimeError("fit_legend drew no legend")
    return legend.get_window_extent(renderer).height / fig.dpi


def to_png(fig: Figure, dpi: float = 80) -> bytes:
    """Render a Figure to PNG bytes (exactly figsize × dpi pixels; no timestamps, so the bytes are repeatable)."""
    buf = io.BytesIO()
    fig.savefig(
        buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None}, pil_kwargs={"compress_level": 1}
    )
    return buf.getvalue()


#: Stored chapter figures are shown at DISPLAY_DPI pixels per inch (a 16-inch figure: 960 px, the notebook's width)
#: and rendered at CRISP times that (1920 px): sharp at 2x zoom, on a HiDPI laptop and on a 1080p projector. PNG, not
#: SVG: nbval compares image/svg+xml outputs as text (it skips only image/png and image/jpeg), and an SVG's text would
#: take the reader's fonts, so the fit checked by the tests would no longer be the fit the reader sees.
DISPLAY_DPI = 60
CRISP = 2
#: Live widgets render their PNGs as `show` does, at CRISP × DISPLAY_DPI, and the browser scales them to the widget's
#: width: sharp at 2x zoom like the stored figures (they were rendered at 60-72 dpi, soft on a HiDPI screen).
WIDGET_DPI = CRISP * DISPLAY_DPI


def show(fig: Figure, display_dpi: float = DISPLAY_DPI, alt: str = "") -> Any:
    """A figure as an IPython Image: PNG rendered at CRISP × `display_dpi`, displayed at `display_dpi`; `alt` (what the
    figure shows, for readers who cannot see it) is stored in the output's metadata, where the site's pages read it."""
    from IPython.display import Image  # only when a notebook asks: `import tdxsim.plot` works without IPython

    png = to_png(fig, round(CRISP * display_dpi))
    # 256 colours (median cut, no dithering: deterministic) keep text and hatching sharp at about a third of the bytes
    buf = io.BytesIO()
    rgb = PILImage.open(io.BytesIO(png)).convert("RGB")
    palette = rgb.quantize(256, PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE)
    palette.save(buf, format="png", optimize=True)
    metadata = {"alt": alt} if alt else None
    return Image(data=buf.getvalue(), format="png", width=round(fig.get_figwidth() * display_dpi), metadata=metadata)


#: The talk's slide (reveal.js at 1280 × 720) leaves this much room for a figure under a one-line title.
SLIDE_FIGURE_PX = (1200, 580)
#: The smallest text a room can read on a 1280 × 720 slide.
SLIDE_TEXT_PX = 18


def text_artists(fig: Figure) -> list[Text]:
    """The visible, non-empty texts of a figure as drawn (tick labels of hidden axes excluded)."""
    fig.canvas.draw()
    hidden = set()
    for ax in fig.axes:
        if not ax.axison:
            hidden.update(id(t) for t in ax.xaxis.findobj(Text) + ax.yaxis.findobj(Text))
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and id(t) not in hidden and t.get_figure() is fig
    ]


def slide_scale(fig: Figure, box: tuple[int, int] = SLIDE_FIGURE_PX) -> float:
    """Display pixels per inch when the figure fills `box` (keeping its aspect)."""
    return min(box[0] / fig.get_figwidth(), box[1] / fig.get_figheight())


def for_slide(
    fig: Figure, box: tuple[int, int] = SLIDE_FIGURE_PX, smallest_px: float = SLIDE_TEXT_PX, alt: str = ""
) -> Any:
    """A figure for a talk slide: it fills `box`, and every text is scaled up so that the smallest is at least
    `smallest_px` there; returned as `show` returns it (rendered at CRISP × the display scale)."""
    scale = slide_scale(fig, box)
    if fig._suptitle is not None:  # the slide's heading says what the figure shows; its room goes to the figure
        fig._suptitle.remove()
        fig._suptitle = None
    texts = text_artists(fig)
    smallest = min((t.get_fontsize() for t in texts), default=SMALL)
    factor = max(1.0, smallest_px / (smallest / 72 * scale))
    for t in texts:
        t.set_fontsize(t.get_fontsize() * factor)
    _refit_legends(fig)
    _wrap_overflowing(fig, texts)
    return show(fig, display_dpi=scale, alt=alt)


def _wrap_overflowing(fig: Figure, texts: list[Text]) -> None:
    """Break each text that now runs past the canvas into lines of about half its length."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for t in texts:
        box = t.get_window_extent(renderer)
        if box.x0 < 0 or box.x1 > fig.bbox.width:  # first shrink it back, as far as the smallest text's size
            floor = min(x.get_fontsize() for x in texts)
            over = max(-box.x0, box.x1 - fig.bbox.width)
            factor = min(1.0, (box.width - 2 * over) / max(box.width, 1.0) * 0.97)  # as if shrunk about its centre
            t.set_fontsize(max(floor, t.get_fontsize() * factor))
            box = t.get_window_extent(renderer)
        if box.x0 < 0 or box.x1 > fig.bbox.width:
            longest = max(len(line) for line in t.get_text().split("\n"))
            width = max(12, longest // 2 + 2)
            t.set_text("\n".join(textwrap.fill(line, width) for line in t.get_text().split("\n")))


def _refit_legends(fig: Figure) -> None:
    """After text grew: give each legend as many columns as fit the canvas, and keep the axes above a figure legend."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for legend in list(fig.legends):
        ncols = legend._ncols
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.texts]
        size = legend.texts[0].get_fontsize() if legend.texts else SMALL
        while ncols > 1 and legend.get_window_extent(renderer).width > 0.94 * fig.bbox.width:
            ncols -= 1  # a legend lays itself out when made: make it again with fewer columns
            legend.remove()
            legend = fig.legend(handles, labels, loc="lower center", ncol=ncols, fontsize=size, frameon=False)
            fig.canvas.draw()
        top = legend.get_window_extent(renderer).y1 / fig.bbox.height
        lowest = min((ax.get_tightbbox(renderer).y0 / fig.bbox.height for ax in fig.axes), default=1.0)
        if lowest < top + 0.01:
            for ax in fig.axes:  # move every axes up and squeeze it by the same amount
                box = ax.get_position()
                shift = top + 0.01 - lowest
                ax.set_position((box.x0, box.y0 + shift, box.width, max(0.05, box.height - shift)))


class Blitter:
    """Re-render a figure whose static parts never change: draw them once, then redraw only the changing artists.

    Artists passed to `png` must have been created with `animated=True` before the first call, so the first full
    draw leaves them out of the saved background. The PNG is identical in size to `to_png(fig, dpi)`.
    """

    def __init__(self, fig: Figure, dpi: int = 80) -> None:
        self.fig = fig
        fig.set_dpi(dpi)
        self._background = None

    def png(self, changing: list[Artist]) -> bytes:
        """Draw the changing artists over the cached background and return the PNG bytes."""
        canvas = self.fig.canvas
        if self._background is None:
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        canvas.restore_region(self._background)
        renderer = canvas.get_renderer()
        for artist in changing:
            artist.draw(renderer)
        buf = io.BytesIO()
        image = PILImage.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        image.convert("RGB").save(buf, format="png", compress_level=1)
        return buf.getvalue()
