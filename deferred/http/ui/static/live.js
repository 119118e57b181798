// Keeps the UI live without reloads: every element with data-live-src is refreshed from that
// URL (an HTML fragment the server rendered and escaped) about once a second (every
// data-live-every seconds when it says), and relative times ("12 s ago") are kept current. A
// fragment holding data-live-final ends its polling; one marked data-live-paused (bulk.js,
// while tasks are selected) waits.
"use strict";

(function () {
  const POLL_MS = 1000;
  document.documentElement.classList.add("js");

  function durationText(seconds) {
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 10) return seconds.toFixed(1) + " s";
    if (seconds < 60) return Math.round(seconds) + " s";
    const units = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
    const whole = Math.floor(seconds);
    for (let i = 0; i < units.length - 1; i++) {
      const [size, unit] = units[i];
      if (whole >= size) {
        const [nextSize, nextUnit] = units[i + 1];
        const rest = Math.floor((whole % size) / nextSize);
        return Math.floor(whole / size) + " " + unit + (rest ? " " + rest + " " + nextUnit : "");
      }
    }
    return whole + " s";
  }

  function relativeText(iso) {
    const seconds = (Date.now() - Date.parse(iso)) / 1000;
    if (Number.isNaN(seconds)) return null;
    if (Math.abs(seconds) < 1) return "just now";
    const text = durationText(Math.abs(seconds));
    return seconds > 0 ? text + " ago" : "in " + text;
  }

  function refreshRelativeTimes() {
    for (const element of document.querySelectorAll("time[data-relative]")) {
      const text = relativeText(element.getAttribute("datetime"));
      if (text !== null && element.textContent !== text) element.textContent = text;
    }
  }

  function watch(element) {
    const url = element.getAttribute("data-live-src");
    const every = Number(element.getAttribute("data-live-every"));
    const pollMs = every > 0 ? every * 1000 : POLL_MS;
    let last = null;
    async function poll() {
      if (document.hidden || element.hasAttribute("data-live-paused")) {
        setTimeout(poll, pollMs);
        return;
      }
      try {
        const response = await fetch(url, {cache: "no-store", credentials: "same-origin",
                                            headers: {"Accept": "text/html"}});
        if (response.ok) {
          const html = await response.text();
          if (html !== last) {
            last = html;
            element.innerHTML = html;  // rendered and escaped by the server's templates
            element.dispatchEvent(new CustomEvent("deferred:updated", {bubbles: true}));
          }
          if (html.includes("data-live-final")) return;
          element.removeAttribute("data-live-stale");
        } else if (response.status === 401) {
          window.location.reload();  // logged out or the session ended: show the login form
          return;
        } else {
          element.setAttribute("data-live-stale", String(response.status));
        }
      } catch (error) {
        element.setAttribute("data-live-stale", "offline");  // the server is down or restarting
      }
      setTimeout(poll, pollMs);
    }
    setTimeout(poll, pollMs);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-src]").forEach(watch);
    setInterval(refreshRelativeTimes, POLL_MS);
  });
})();
