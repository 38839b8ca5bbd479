// tdxsim site: accessible names the theme and the Jupyter widgets leave out (found by axe-core).
(function () {
  var PLAY = ["play", "pause", "stop", "repeat"];
  function name(el, text) {
    if (!el.getAttribute("aria-label") && text) el.setAttribute("aria-label", text.trim());
  }
  function fix(root) {
    // the theme labels its "Search... Ctrl+K" buttons just "Search" (WCAG 2.5.3: the name must include the text)
    root.querySelectorAll("button.search-button-field[aria-label]").forEach(function (b) {
      b.removeAttribute("aria-label");
    });
    // ipywidgets sliders: the handle is the focusable control, named by the slider's description
    root.querySelectorAll(".widget-slider .noUi-handle").forEach(function (h) {
      var label = h.closest(".widget-slider").querySelector(".widget-label");
      name(h, label ? label.textContent : "slider");
    });
    // ipywidgets Play: icon-only buttons
    root.querySelectorAll(".widget-play").forEach(function (p) {
      p.querySelectorAll("button").forEach(function (b, i) { name(b, PLAY[i]); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    fix(document);
    new MutationObserver(function () { fix(document); }).observe(document.body, { childList: true, subtree: true });
  });
})();
