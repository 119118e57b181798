// The task list's selection (its form works without this): "Select all on this page" ticks
// every row, the action buttons wait for a selection, and live updates pause while tasks are
// selected, so that the rows do not change under the boxes. Sets only text and attributes.
"use strict";

(function () {
  function rowBoxes() {
    return Array.from(document.querySelectorAll("input[data-select-row]"));
  }

  function update() {
    const boxes = rowBoxes();
    const ticked = boxes.filter(function (box) { return box.checked; }).length;
    const page = document.querySelector("input[data-select-page]");
    if (page) {
      page.checked = boxes.length > 0 && ticked === boxes.length;
      page.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    const matching = document.querySelector("input[data-select-matching]");
    const all = matching !== null && matching.checked;
    const any = ticked > 0 || all;
    const count = document.querySelector("[data-selected-count]");
    if (count) count.textContent = all ? "" : (ticked ? ticked + " selected" : "Select tasks to act on");
    for (const button of document.querySelectorAll("button[data-bulk-action]")) {
      button.disabled = !any;
    }
    const live = document.querySelector("[data-bulk-live]");
    if (live) {
      if (any) live.setAttribute("data-live-paused", "");
      else live.removeAttribute("data-live-paused");
    }
    const note = document.querySelector("[data-paused-note]");
    if (note && live && live.hasAttribute("data-live-src")) note.hidden = !any;
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.hasAttribute("data-select-page")) {
      for (const box of rowBoxes()) box.checked = target.checked;
    }
    update();
  });
  document.addEventListener("deferred:updated", update);
  document.addEventListener("DOMContentLoaded", update);
})();
