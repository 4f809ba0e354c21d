// Accessible names for the controls of the widgets embedded in a page (loaded through
// html_js_files in _config.yml). ipywidgets' HTML manager draws a slider's handle and a text
// box without a name a screen reader can announce (axe-core: "label", "aria-input-field-name").
// Each control is named after the label the widget shows beside it, or after its tooltip; an
// image a widget draws gets its tooltip as alt text (ipywidgets' `tooltip` trait).
(function () {
  const CONTROLS = "input, select, textarea, [role='slider']";

  function nameOf(control) {
    const widget = control.closest(".widget-inline-hbox, .jupyter-widgets");
    const label = widget && widget.querySelector(".widget-label");
    const text = label && label.textContent.trim();
    return text || control.getAttribute("title") || (widget && widget.getAttribute("title")) || "value";
  }

  function nameControls() {
    document.querySelectorAll(".widget-subarea img:not([alt])").forEach((img) => {
      img.setAttribute("alt", img.getAttribute("title") || "a picture drawn by a widget");
    });
    document.querySelectorAll(".widget-subarea").forEach((area) => {
      area.querySelectorAll(CONTROLS).forEach((control) => {
        const labelled = Array.from(control.labels || []).some((l) => l.textContent.trim());
        if (!control.getAttribute("aria-label") && !labelled) {
          control.setAttribute("aria-label", nameOf(control));
        }
      });
    });
  }

  // Widgets render after the page loads, and redraw when they change.
  new MutationObserver(nameControls).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", nameControls);
})();
