"""The talk's offline export (tools/export-talk) renders in headless Chromium with every http(s) request blocked.

Builds the deck from the committed notebook into a temporary directory, opens it from file:// with Playwright for
Python and Debian's chromium, aborts every http/https request, and checks: no failed request and no console error
beyond the allowlist, the deck's title, at least 10 slides, every image decoded, and the saved widget views
rendered by the widgets' HTML manager. Skipped with the reason when chromium, npm or Playwright is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "tools" / "export-talk"
# Console messages that are not the deck's fault. Keep it short; say why each one is harmless.
CONSOLE_ALLOWLIST = [
    # Chromium warns that the file:// page has no favicon; the deck does not need one.
    re.compile(r"favicon\.ico"),
]
TIMEOUT_MS = 60_000
SLIDE = (1280, 720)  # the deck's size (talk/template: Reveal.initialize width/height) and the browser's viewport
# What the present slide shows, in screen pixels: its figures (<img> outputs, not widget images) and the smallest
# font of its visible text.
MEASURE_SLIDE = """() => {
  const slide = document.querySelector('.reveal .slides section.present:not(.stack)')
    || document.querySelector('.reveal .slides section.present');
  const scale = slide.getBoundingClientRect().width / slide.offsetWidth || 1;
  const figures = [...slide.querySelectorAll('.jp-OutputArea-output img')].map(i => {
    const r = i.getBoundingClientRect(); return [r.width, r.height]; });
  let smallest = 1e9;
  const walk = document.createTreeWalker(slide, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const e = n.parentElement;
    if (!n.textContent.trim() || !e || !e.getClientRects().length || e.closest('aside.notes')) continue;
    smallest = Math.min(smallest, parseFloat(getComputedStyle(e).fontSize) * scale);
  }
  return {title: (slide.querySelector('h1, h2') || {}).textContent || '', figures, smallest, scale};
}"""

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(bool(os.environ.get("TDXSIM_SKIP_BROWSER")), reason="TDXSIM_SKIP_BROWSER is set"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not found: apt-get install -y chromium"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm not found: tools/export-talk fetches its JavaScript"),
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed: pip install playwright"),
]


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tools/export-talk into a temporary directory; the path of the HTML."""
    out = tmp_path_factory.mktemp("talk")
    subprocess.run([sys.executable, str(EXPORT), "--out", str(out)], check=True, cwd=ROOT, timeout=900)
    return out / "09-the-talk.html"


@pytest.fixture(scope="module")
def deck_page(deck: Path) -> Iterator[dict]:
    """The deck open in Chromium with the network blocked; yields the page and what went wrong while loading."""
    assert sync_playwright is not None
    failed: list[str] = []
    blocked: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": SLIDE[0], "height": SLIDE[1]})

        def route(r) -> None:
            if r.request.url.startswith(("http://", "https://")):
                blocked.append(r.request.url)
                r.abort()
            else:
                r.continue_()

        pg.route("**/*", route)
        pg.on("requestfailed", lambda req: failed.append(f"{req.url} {req.failure}"))
        pg.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
        pg.on("pageerror", lambda exc: console.append(f"page error: {exc}"))
        pg.goto(deck.as_uri(), wait_until="load", timeout=TIMEOUT_MS)
        pg.wait_for_selector(".reveal.ready, .reveal .slides section.present", timeout=TIMEOUT_MS)
        pg.wait_for_selector(".widget-image, .widget-html", state="attached", timeout=TIMEOUT_MS)
        pg.wait_for_timeout(500)
        pg.screenshot(path=str(deck.parent / "first-slide.png"))
        # visit every slide, so fonts and images that only load when shown are requested too; screenshot each and
        # measure what it shows
        total = pg.locator(".reveal .slides section").count()
        slides = []
        for k in range(total):
            pg.wait_for_timeout(150)
            pg.screenshot(path=str(deck.parent / f"slide-{k:02d}.png"))
            slides.append(pg.evaluate(MEASURE_SLIDE))
            pg.keyboard.press("Space")  # reveal.js: next slide, vertical ones included
        pg.wait_for_timeout(500)
        yield {"page": pg, "failed": failed, "blocked": blocked, "console": console, "slides": slides}
        browser.close()


def test_no_network_and_no_errors(deck_page: dict) -> None:
    assert deck_page["blocked"] == [], "the deck asked for remote files"
    assert deck_page["failed"] == []
    errors = [m for m in deck_page["console"] if not any(a.search(m) for a in CONSOLE_ALLOWLIST)]
    assert errors == []


def test_title_and_slides(deck_page: dict) -> None:
    pg = deck_page["page"]
    assert pg.title() == "A zero that means nothing slides"
    assert pg.locator(".reveal .slides > section").count() >= 10
    assert "A zero that means nothing" in pg.locator(".reveal .slides > section").first.text_content()


def test_images_render(deck_page: dict) -> None:
    """The three figure slides (three actors; old world, new world; why GUP moved) show decoded images."""
    sizes = deck_page["page"].eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) >= 3
    assert all(complete and width > 0 for complete, width in sizes), sizes


def test_saved_widget_views_render(deck_page: dict) -> None:
    """The live slides render from the saved widget state: one control and one big result each, and the control
    still switches the result without a kernel (the jslink runs in the page)."""
    pg = deck_page["page"]
    assert pg.locator(".tdxsim-talk-live").count() == 3
    assert pg.locator(".tdxsim-talk-control.widget-toggle-buttons").count() == 2
    assert pg.locator(".tdxsim-talk-control.widget-slider, .tdxsim-talk-control .widget-slider").count() >= 1
    live = pg.locator(".tdxsim-talk-live").filter(has_text="kvm-x86-2026-06")
    index = live.evaluate(
        "e => [...document.querySelectorAll('.reveal .slides > section')]"
        ".indexOf(e.closest('.reveal .slides > section'))"
    )
    pg.evaluate(f"location.hash = '#/{index}'")  # reveal.js (history: true) shows that slide
    pg.wait_for_timeout(500)
    live.locator("button", has_text="v13").click()
    pg.wait_for_timeout(300)
    shown = live.evaluate(
        "e => [...e.querySelectorAll('.widget-html')].filter(h => h.offsetParent).map(h => h.innerText)"
    )
    # v13 refuses in-place off with source 0 with -EINVAL (tdx_vcpu_init_mem_region, v13 as landed)
    assert len(shown) == 1 and "-EINVAL" in shown[0], shown


def test_every_slide_figure_fills_the_slide(deck_page: dict) -> None:
    """A figure on a slide is at least 85 % of the slide's width or 75 % of its height (screenshots: slide-NN.png
    beside the deck)."""
    small = [
        (s["title"], fig)
        for s in deck_page["slides"]
        for fig in s["figures"]
        if fig[0] < 0.85 * SLIDE[0] * s["scale"] and fig[1] < 0.75 * SLIDE[1] * s["scale"]
    ]
    assert sum(len(s["figures"]) for s in deck_page["slides"]) >= 3
    assert small == []


def test_slide_text_is_readable_from_the_back(deck_page: dict) -> None:
    """The HTML text of every slide is at least 18 px at 1280 × 720 (the figures' own text: tests/test_figure_fit)."""
    small = [(s["title"], round(s["smallest"], 1)) for s in deck_page["slides"] if s["smallest"] < 18 * s["scale"]]
    assert small == []
