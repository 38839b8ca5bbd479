"""Build the static site of the whole suite into OUTDIR (run through `bash tools/build-site OUTDIR`).

1. Assemble one Sphinx source tree in a temporary folder: this folder (conf.py, the start page, CSS/JS), the
   chapters from notebooks/ with their stored outputs and widget state (never re-executed), and docs/.
   Each chapter copy gets a launch bar (JupyterLite in this site, Binder); every widget that needs a running
   kernel is marked as a snapshot (controls disabled, with the one-click way to run it live); every figure's alt
   text (the `alt` its notebook output carries) is kept.
2. sphinx-build (MyST-NB, sphinx-book-theme) with require.js and the Jupyter widgets HTML manager served from
   _static/vendor (pinned in talk/package-lock.json, installed by `npm ci`): no page asks another host for anything.
3. The talk deck (tools/export-talk) in OUTDIR/talk; a JupyterLite deployment with the tdxsim wheel and the chapters
   in OUTDIR/lite (skipped with --no-lite).
4. Refuse to finish if a page would fetch a script, stylesheet, image or font from another host, or if a figure
   has no alt text.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zlib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
DOCS = ("glossary.md", "scenario.md", "fidelity.md")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LIVE_CLASS = "tdxsim-live"  # widgets that work without a kernel (their views are precomputed and switched in-page)
DEFAULT_REPO = "tdxsim/tdxsim"
FETCHED = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=\s*["'](https?://[^"']+)""", re.I)
CSS_REMOTE = re.compile(r"""url\(\s*['"]?(https?://[^)'"]+)""")


def _export_talk():
    """tools/export-talk as a module (its npm_ci, vendor table and deck export are reused)."""
    path = ROOT / "tools" / "export-talk"
    loader = importlib.machinery.SourceFileLoader("export_talk", str(path))
    spec = importlib.util.spec_from_loader("export_talk", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def binder_url(repo: str, notebook: str) -> str:
    """mybinder.org builds the repository from environment.yml and opens the chapter in JupyterLab."""
    path = urllib.parse.quote(f"notebooks/{notebook}", safe="")
    return f"https://mybinder.org/v2/gh/{repo}/HEAD?labpath={path}"


def lite_url(depth: int, notebook: str) -> str:
    """The chapter in this site's JupyterLite (a relative link, so the site can live anywhere)."""
    return "../" * depth + f"lite/lab/index.html?path={notebook}"


def _refs(value, out: set[str]) -> None:
    """Every IPY_MODEL_ reference inside a widget's state."""
    if isinstance(value, str) and value.startswith("IPY_MODEL_"):
        out.add(value[len("IPY_MODEL_") :])
    elif isinstance(value, list | tuple):
        for v in value:
            _refs(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _refs(v, out)


def descendants(states: dict, model_id: str) -> set[str]:
    """The model and every model it shows (children, links)."""
    seen, todo = set(), [model_id]
    while todo:
        mid = todo.pop()
        if mid in seen or mid not in states:
            continue
        seen.add(mid)
        found: set[str] = set()
        _refs(states[mid].get("state", {}), found)
        todo.extend(found - seen)
    return seen


CONTROLS = {"module": "@jupyter-widgets/controls", "version": "2.0.0"}
HTML_STYLE_STATE = {
    "_model_module": CONTROLS["module"],
    "_model_module_version": CONTROLS["version"],
    "_model_name": "HTMLStyleModel",
    "_view_count": None,
    "_view_module": "@jupyter-widgets/base",
    "_view_module_version": "2.0.0",
    "_view_name": "StyleView",
    "background": None,
    "description_width": "",
    "font_size": None,
    "text_color": None,
}


def image_to_html(states: dict, model_id: str) -> str | None:
    """Turn a saved Image widget into an HTML widget holding <img alt=...> (ipywidgets' Image has no alt text; the
    tdxsim widgets save theirs as `alt`). Returns a problem, or None."""
    model = states[model_id]
    state = model["state"]
    alt = state.get("alt", "").strip()
    buffers = [b for b in model.get("buffers", []) if b.get("path") == ["value"]]
    if not alt:
        return "a widget picture without alt text (use tdxsim.widgets.panel.AltImage)"
    if not buffers:
        return None  # an empty picture shows nothing
    style_id = model_id + "-style"
    states[style_id] = {
        "model_module": CONTROLS["module"],
        "model_module_version": CONTROLS["version"],
        "model_name": "HTMLStyleModel",
        "state": dict(HTML_STYLE_STATE),
    }
    img = (
        f"<img class='tdxsim-widget-image' src='data:image/{state.get('format', 'png')};base64,{buffers[0]['data']}'"
        f" alt='{html.escape(alt, quote=True)}'>"
    )
    model["model_name"] = "HTMLModel"
    model.pop("buffers")
    model["state"] = {
        "_dom_classes": state.get("_dom_classes", []),
        "_model_module": CONTROLS["module"],
        "_model_module_version": CONTROLS["version"],
        "_model_name": "HTMLModel",
        "_view_count": None,
        "_view_module": CONTROLS["module"],
        "_view_module_version": CONTROLS["version"],
        "_view_name": "HTMLView",
        "description": "",
        "description_allow_html": False,
        "layout": state["layout"],
        "placeholder": "\u200b",
        "style": f"IPY_MODEL_{style_id}",
        "tabbable": None,
        "tooltip": None,
        "value": img,
    }
    return None


def snapshot_note(lite: str) -> dict:
    """The label above a widget that needs a kernel: what it is and the one click that makes it live."""
    text = (
        "<div class='tdxsim-snapshot' role='note'><strong>Snapshot.</strong> These controls need Python running, "
        f"so here they are frozen at their first view. <a href='{html.escape(lite)}'>Run this chapter in your "
        "browser</a> to use them.</div>"
    )
    return nbformat.v4.new_output("display_data", data={"text/html": text})


def launch_cell(name: str, depth: int, repo: str) -> nbformat.NotebookNode:
    """The launch bar under a chapter's title."""
    return nbformat.v4.new_markdown_cell(
        "<div class='tdxsim-launch'>"
        f"<a class='tdxsim-launch-lite' href='{html.escape(lite_url(depth, name))}'>▶ Run this chapter in your "
        "browser</a> (JupyterLite, no install)"
        f" · <a class='tdxsim-launch-binder' href='{html.escape(binder_url(repo, name))}'>Launch on Binder</a>"
        f" · <a href='https://github.com/{repo}/blob/HEAD/notebooks/{name}'>the notebook</a></div>"
    )


def prepare_chapter(
    src: Path, dest: Path, repo: str, alts: dict[str, str], problems: list[str], launch: bool = True
) -> dict:
    """Copy one chapter for the site: launch bar, snapshot labels, disabled kernel-only controls, alt texts."""
    nb = nbformat.read(src, as_version=4)
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    lite = lite_url(1, src.name)
    stats = {"live": 0, "snapshot": 0, "figures": 0}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                model = data[WIDGET_VIEW]["model_id"]
                if model not in states:
                    problems.append(f"{src.name}: a widget without saved state (run tools/regenerate-notebooks)")
                    continue
                shown = descendants(states, model)
                for mid in shown:
                    if states[mid]["model_name"] == "ImageModel" and (problem := image_to_html(states, mid)):
                        problems.append(f"{src.name}: {problem}")
                if LIVE_CLASS in states[model]["state"].get("_dom_classes", []):
                    stats["live"] += 1
                else:
                    stats["snapshot"] += 1
                    outputs.append(snapshot_note(lite))
                    for mid in shown:
                        if "disabled" in states[mid]["state"]:
                            states[mid]["state"]["disabled"] = True
            if "image/png" in data:
                stats["figures"] += 1
                alt = out.get("metadata", {}).get("image/png", {}).get("alt")
                digest = hashlib.sha256(base64.b64decode(data["image/png"])).hexdigest()
                if not alt:
                    problems.append(f"{src.name}: a figure without alt text (Image(..., metadata={{'alt': ...}}))")
                else:
                    alts[digest] = alt
            outputs.append(out)
        cell.outputs = outputs
    if launch:
        first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
        nb.cells.insert(first_md + 1, launch_cell(src.name, 1, repo))
    nbformat.write(nb, dest)
    return stats


def assemble(src: Path, repo: str, problems: list[str]) -> tuple[dict[str, str], dict[str, dict]]:
    """The Sphinx source tree: site/, the chapters, docs/."""
    shutil.copytree(
        SITE,
        src,
        ignore=shutil.ignore_patterns("build.py", "__pycache__", "node_modules", "package*.json", ".gitignore"),
    )
    (src / "notebooks").mkdir()
    (src / "docs").mkdir()
    alts: dict[str, str] = {}
    stats = {}
    for nb in NOTEBOOKS:
        stats[nb.name] = prepare_chapter(nb, src / "notebooks" / nb.name, repo, alts, problems)
    for doc in DOCS:
        shutil.copy2(ROOT / "docs" / doc, src / "docs" / doc)
    return alts, stats


def vendor(static: Path, talk) -> None:
    """require.js and the widgets HTML manager into _static/vendor, from talk/node_modules (npm ci)."""
    talk.npm_ci()
    target = static / "vendor"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(talk.NODE / "requirejs/require.js", target / "require.js")
    shutil.copytree(
        talk.NODE / "@jupyter-widgets/html-manager/dist",
        target / "html-manager",
        ignore=shutil.ignore_patterns("*.map", "embed.js", "libembed-amd.js", "*.esm.js", "*.d.ts"),
    )
    (target / "none.js").write_text("/* no MathJax: no page of this site typesets math */\n")


def widget_fonts(out: Path, talk) -> None:
    """The HTML manager resolves its icon fonts against the page's folder (see tools/export-talk): ship them there."""
    fonts = [f for f in (talk.NODE / "@jupyter-widgets/html-manager/dist").iterdir() if f.suffix in (".woff2", ".woff")]
    for folder in {p.parent for p in out.rglob("*.html") if "lite" not in p.relative_to(out).parts[:1]}:
        for rel in talk.FONT_DIRS:
            target = folder / rel
            target.mkdir(parents=True, exist_ok=True)
            for font in fonts:
                shutil.copy2(font, target / font.name)


def favicon_png(size: int = 16) -> bytes:
    """A one-colour PNG for /favicon.ico (pages without an icon link, e.g. the talk deck, ask for it)."""
    raw = b"".join(b"\x00" + b"\xd5\x5e\x00" * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


IMG = re.compile(r"<img\b[^>]*>")


STATE_SCRIPT = re.compile(r'<script type="application/vnd\.jupyter\.widget-state\+json">.*?</script>', re.S)


def add_alts(out: Path, alts: dict[str, str]) -> None:
    """Give each figure its alt text (MyST-NB names output images by the SHA-256 of their bytes), and move the saved
    widget state from the head to the end of the body (MB of JSON in the head delay the first paint)."""
    for page in out.rglob("*.html"):
        if page.relative_to(out).parts[0] in ("lite", "talk"):
            continue
        text = page.read_text(encoding="utf-8")

        def fix(m: re.Match) -> str:
            tag = m.group(0)
            src = re.search(r'src="[^"]*?([0-9a-f]{64})\.png"', tag)
            if not src or src.group(1) not in alts:
                return tag
            tag = re.sub(r'\salt="[^"]*"', "", tag)
            return tag.replace("<img", f'<img alt="{html.escape(alts[src.group(1)], quote=True)}"', 1)

        new = IMG.sub(fix, text)
        state = STATE_SCRIPT.search(new)
        if state and "</body>" in new:
            new = new[: state.start()] + new[state.end() :]
            new = new.replace("</body>", state.group(0) + "\n</body>", 1)
        if new != text:
            page.write_text(new, encoding="utf-8")


def check_offline(out: Path) -> list[str]:
    """Anything a page or stylesheet would fetch from another host."""
    bad = []
    for page in out.rglob("*.html"):
        if page.relative_to(out).parts[0] == "lite":
            continue
        for url in FETCHED.findall(page.read_text(encoding="utf-8", errors="replace")):
            bad.append(f"{page.relative_to(out)}: {url}")
    for css in out.rglob("*.css"):
        if css.relative_to(out).parts[0] == "lite":
            continue
        for url in CSS_REMOTE.findall(css.read_text(encoding="utf-8", errors="replace")):
            bad.append(f"{css.relative_to(out)}: {url}")
    return bad


def build_lite(out: Path, work: Path, repo: str) -> None:
    """JupyterLite with the pyodide kernel, the tdxsim wheel (built from this checkout) and the chapters."""
    wheels = work / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
    )
    contents = work / "lite-contents"
    contents.mkdir()
    for nb_path in NOTEBOOKS:
        nb = nbformat.read(nb_path, as_version=4)
        setup = nbformat.v4.new_code_cell(
            "# In JupyterLite: install tdxsim (shipped with this site) and the notebook stack from Pyodide's CDN.\n"
            "%pip install -q tdxsim ipywidgets matplotlib"
        )
        nb.cells.insert(0, setup)
        nbformat.write(nb, contents / nb_path.name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lite",
            "build",
            "--contents",
            str(contents),
            "--piplite-wheels",
            str(next(wheels.glob("tdxsim-*.whl"))),
            "--output-dir",
            str(out / "lite"),
            "--lite-dir",
            str(work / "lite-dir"),
        ],
        check=True,
        cwd=work,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the tdxsim site into OUTDIR.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--no-lite", action="store_true", help="skip the JupyterLite deployment")
    parser.add_argument("--no-talk", action="store_true", help="skip the talk deck")
    args = parser.parse_args()
    repo = os.environ.get("TDXSIM_REPO", DEFAULT_REPO)
    start = time.monotonic()
    out = args.outdir.resolve()
    if out.exists():
        shutil.rmtree(out)
    talk = _export_talk()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tdxsim-site-") as tmp:
        work = Path(tmp)
        src = work / "src"
        alts, stats = assemble(src, repo, problems)
        if problems:
            sys.exit("tools/build-site:\n  " + "\n  ".join(sorted(set(problems))))
        vendor(src / "_static", talk)
        subprocess.run(
            [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(work / "doctrees"), str(src), str(out)],
            check=True,
        )
        add_alts(out, alts)
        (out / "favicon.ico").write_bytes(favicon_png())
        widget_fonts(out, talk)
        if not args.no_talk:
            talk_nb = work / "09-the-talk.ipynb"  # the deck's widgets get the same alt texts and snapshot labels
            prepare_chapter(ROOT / "notebooks" / talk_nb.name, talk_nb, repo, {}, problems, launch=False)
            if problems:
                sys.exit("tools/build-site:\n  " + "\n  ".join(sorted(set(problems))))
            deck = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "tools" / "export-talk"),
                    *("--out", str(out / "talk"), "--stored", "--notebook", str(talk_nb)),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            print(deck.stdout.strip())
        if not args.no_lite:
            build_lite(out, work, repo)
    bad = check_offline(out)
    if bad:
        sys.exit("tools/build-site: pages would fetch from another host:\n  " + "\n  ".join(bad))
    (out / "site-manifest.json").write_text(json.dumps({"chapters": stats}, indent=1) + "\n")
    live = sum(s["live"] for s in stats.values())
    snap = sum(s["snapshot"] for s in stats.values())
    figs = sum(s["figures"] for s in stats.values())
    print(
        f"tools/build-site: wrote {out} — {len(NOTEBOOKS)} chapters, {figs} figures with alt text, "
        f"{live} live widget(s), {snap} snapshot(s); {time.monotonic() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
