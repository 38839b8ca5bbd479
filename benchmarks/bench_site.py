"""The static site (tools/build-site): build time, the heaviest page, and how fast a chapter paints from a local server.

1. Build time of `site/build.py OUTDIR` (Sphinx + MyST-NB over the stored outputs, the talk deck, JupyterLite), beside
   its baseline run side by side: `jupyter nbconvert --to html` of the same ten notebooks (what a reader could get
   before, without navigation, search, widgets offline or JupyterLite).
2. Page weight: every page of the site opened in headless Chromium from 127.0.0.1, the bytes of every response it
   loads summed (HTML, CSS, JavaScript, images, fonts, widget state); the heaviest page is reported.
3. First paint of each chapter (Chromium's first-contentful-paint, a fresh browser context per load, so nothing is
   cached) and the time until the saved widgets have rendered; median over --rounds loads. Goal: first paint ≤ 1 s.
   Baseline, measured alongside: the glossary page (same theme, no notebook outputs, no widgets).

Run: python benchmarks/bench_site.py [--rounds N] [--site DIR (skip the build, use a built site)]
Needs what tools/build-site needs, plus Playwright and Debian's chromium.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]


def timed(cmd: list[str]) -> float:
    """Seconds one command takes (its output is discarded)."""
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def build(out: Path) -> tuple[float, float]:
    """(site build seconds, nbconvert --to html seconds) for the same notebooks."""
    timed(["bash", str(ROOT / "tools" / "build-site"), str(out), "--no-lite"])  # first run: installs .venv-site
    site = timed(["bash", str(ROOT / "tools" / "build-site"), str(out)])
    notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        base = timed([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", tmp, *notebooks])
    return site, base


def serve(site: Path) -> str:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/"


def pages(site: Path) -> list[str]:
    """Every page of the site, except the JupyterLite app (an application; its files are checked) and vendored files."""
    skip = {"lite", "_static", "_images", "@jupyter-widgets", "vendor"}
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if not skip & set(p.relative_to(site).parts))


def measure(site: Path, rounds: int) -> None:
    from playwright.sync_api import sync_playwright

    base = serve(site)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        weights = {}
        for rel in pages(site):
            ctx = browser.new_context()
            pg = ctx.new_page()
            sizes: list = []
            pg.on("response", lambda res, sizes=sizes: sizes.append(res))
            pg.goto(base + rel, wait_until="networkidle")
            weights[rel] = sum(len(res.body()) for res in sizes if res.status == 200)
            ctx.close()
        heaviest = max(weights, key=weights.get)
        print(
            f"page weight: heaviest {heaviest} {weights[heaviest] / 1e6:.2f} MB (all it loads); "
            f"median page {statistics.median(weights.values()) / 1e6:.2f} MB over {len(weights)} pages"
        )
        print(f"{'chapter':42} {'first paint':>12} {'widgets shown':>14}  goal first paint ≤ 1000 ms")
        baseline = "docs/glossary.html"  # the same theme without notebook outputs or widgets, measured alongside
        for rel in [baseline, *(r for r in pages(site) if r.startswith("notebooks/"))]:
            paints, ready = [], []
            for _ in range(rounds):
                ctx = browser.new_context()
                pg = ctx.new_page()
                t = time.perf_counter()
                pg.goto(base + rel, wait_until="commit")
                pg.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
                paints.append(pg.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime"))
                if pg.locator("script[type='application/vnd.jupyter.widget-view+json']").count():
                    pg.wait_for_selector(".jupyter-widgets", state="attached")
                ready.append((time.perf_counter() - t) * 1000)
                ctx.close()
            fp = statistics.median(paints)
            verdict = "met" if fp <= 1000 else "MISSED"
            print(f"{rel:42} {fp:10.0f}ms {statistics.median(ready):12.0f}ms  {verdict}")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--site", type=Path, help="a built site: skip the build")
    args = parser.parse_args()
    if args.site:
        measure(args.site, args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "site"
        site_s, base_s = build(out)
        print(
            f"build: site {site_s:.1f} s (Sphinx + talk + JupyterLite); nbconvert --to html of the same notebooks "
            f"{base_s:.1f} s; ratio {site_s / base_s:.1f}×"
        )
        measure(out, args.rounds)


if __name__ == "__main__":
    main()
