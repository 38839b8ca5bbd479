"""Sphinx configuration of the tdxsim site (tools/build-site copies this folder, the notebooks and docs/ into one
source tree and builds it). Sphinx + MyST-NB + sphinx-book-theme: everything comes from PyPI and builds offline."""

project = "tdxsim"
author = "tdxsim contributors"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "notebooks/*.py"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.header", "myst.xref_missing", "mystnb.unknown_mime_type", "misc.highlighting_failure"]

# The stored outputs are the product: never re-execute while building the site.
nb_execution_mode = "off"
nb_merge_streams = True
# Widgets render from the saved widget state with the HTML manager shipped in _static (no CDN at view time).
# Deferred (in order), so the 3.6 MB bundle does not hold up the first paint; tools/build-site moves the saved state
# to the end of the page for the same reason.
nb_ipywidgets_js = {
    "vendor/require.js": {"defer": "defer"},
    "vendor/html-manager/embed-amd.js": {"defer": "defer"},
}

html_theme = "sphinx_book_theme"
html_title = "tdxsim: what KVM does to a page when it builds an Intel TDX guest"
html_static_path = ["_static"]
html_css_files = ["tdxsim.css"]
html_js_files = [("tdxsim.js", {"defer": "defer"})]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "home_page_in_toc": True,
    "navigation_with_keys": True,
}
# No web fonts, no analytics, no MathJax from a CDN: the site must work with the network off.
mathjax_path = "vendor/none.js"
html_context = {"default_mode": "light"}
html_favicon = "_static/favicon.svg"
