// The launch page: switches between the generated form and the JSON box, keeping them in
// step, and submits through the JSON API so the server's errors land beside their fields.
// Without JavaScript the JSON box and its plain form post still work (POST /launch).
"use strict";

(function () {
  function start(form) {
    const forms = window.deferredForms;
    const root = form.querySelector("[data-form-root]");
    const textarea = form.querySelector("#params");
    const email = form.querySelector("#email");
    const paramsError = form.querySelector("#params-error");
    const emailError = form.querySelector("#email-error");
    const formError = form.querySelector("#form-error");
    const submit = form.querySelector("button[type=submit]");
    let mode = "form";

    function show(slot, message) {
      slot.textContent = message;
      slot.hidden = false;
    }

    function clearErrors() {
      for (const slot of [paramsError, emailError, formError,
                          ...form.querySelectorAll(".more-options .field-error")]) {
        slot.textContent = "";
        slot.hidden = true;
      }
      textarea.removeAttribute("aria-invalid");
      email.removeAttribute("aria-invalid");
      forms.clearErrors(root);
    }

    function parseBox() {
      const text = textarea.value.trim();
      if (!text) return {};
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new Error("params: not valid JSON: " + error.message);
      }
    }

    function setMode(next) {
      clearErrors();
      try {
        if (next === "json" && mode === "form") {
          textarea.value = JSON.stringify(forms.collect(root), null, 2);
        } else if (next === "form" && mode === "json") {
          const value = parseBox();
          const lost = forms.fill(root, value);
          if (lost.length) {
            show(formError, "The form cannot show " + lost.join(", ") +
                 "; these values stay only in the JSON box.");
            return;
          }
        }
      } catch (error) {
        show(mode === "json" ? paramsError : formError, error.message);
        return;
      }
      mode = next;
      showPanels();
    }

    function showPanels() {
      for (const tab of form.querySelectorAll("[data-tab]")) {
        tab.setAttribute("aria-selected", String(tab.dataset.tab === mode));
      }
      for (const panel of form.querySelectorAll("[data-panel]")) {
        panel.hidden = panel.dataset.panel !== mode;
      }
    }

    function showAnswerError(answer) {
      const where = answer.error_where || "";
      const message = answer.error_msg || "the server refused the task";
      if (where.startsWith("$") || where === "params") {
        if (mode === "form") {
          forms.showError(root, where.startsWith("$") ? where : "$", message);
        } else {
          show(paramsError, message);
          textarea.setAttribute("aria-invalid", "true");
        }
      } else if (where === "email") {
        show(emailError, message);
        email.setAttribute("aria-invalid", "true");
      } else if (where === "body.delay_s" || where === "body.priority") {
        const name = where.slice(5);
        form.querySelector(".more-options").open = true;
        show(form.querySelector("#" + name + "-error"), message);
        form.elements[name].setAttribute("aria-invalid", "true");
      } else {
        show(formError, "error " + answer.error_code + ": " + message);
      }
    }

    async function send(event) {
      event.preventDefault();
      clearErrors();
      let params;
      try {
        params = mode === "form" ? forms.collect(root) : parseBox();
      } catch (error) {
        show(mode === "form" ? formError : paramsError, error.message);
        return;
      }
      const body = {task_name: form.elements.task_name.value, params: params, wait: 0};
      if (email.value.trim()) body.email = email.value.trim();
      for (const name of ["delay_s", "priority"]) {
        const input = form.elements[name];
        if (input && input.value.trim() !== "") body[name] = Number(input.value);
      }
      submit.disabled = true;
      try {
        const response = await fetch(form.dataset.api, {
          method: "POST", credentials: "same-origin", body: JSON.stringify(body),
          headers: {"Content-Type": "application/json", "Accept": "application/json"}});
        const answer = await response.json();
        if (answer.status === "ERROR") {
          showAnswerError(answer);
        } else {
          window.location.assign(form.dataset.taskUrl + answer.task_id);
          return;
        }
      } catch (error) {
        show(formError, "The server did not answer: " + error.message);
      }
      submit.disabled = false;
    }

    for (const tab of form.querySelectorAll("[data-tab]")) {
      tab.addEventListener("click", function () { setMode(tab.dataset.tab); });
    }
    form.addEventListener("submit", send);
    // Start on the form. A JSON box that came back filled (the page was re-sent after an
    // error, or restored by the browser) is carried into the form when it fits.
    if (textarea.value.trim()) {
      mode = "json";
      setMode("form");
    } else {
      showPanels();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("launch-form");
    if (form && window.deferredForms) start(form);
  });
})();
