/* PromptGrid page behaviour: copy buttons, the theme toggle, live updates over a websocket.
   Pages work without this file; it only adds convenience and live refresh. */
(function () {
  "use strict";

  // ---- Copy buttons: <button class="copy-btn" data-copy="text"> or data-copy-target="#id" ----
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP deployments (and headless tests) have no async clipboard: fall back.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy refused"));
      } catch (err) {
        reject(err);
      } finally {
        document.body.removeChild(area);
      }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-target]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    if (text === null) {
      var target = document.querySelector(button.getAttribute("data-copy-target"));
      text = target ? target.textContent : "";
    }
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    copyText(text).then(
      function () {
        button.classList.add("copied");
        button.textContent = "Copied";
        announce("Copied to clipboard");
      },
      function () {
        button.textContent = "Press Ctrl+C";
      }
    );
    setTimeout(function () {
      button.classList.remove("copied");
      button.textContent = label;
    }, 1600);
  });

  // ---- Toasts (also the screen-reader announcement region) ----
  function announce(text) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var toast = document.createElement("div");
    toast.className = "toast";
    toast.textContent = text;
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 2600);
  }
  window.PromptGrid = { announce: announce, copyText: copyText };

  // ---- Theme toggle, remembered in localStorage (the <head> script applies it before paint) ----
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-theme-toggle]")) return;
    var root = document.documentElement;
    var next = root.getAttribute("data-theme") === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { localStorage.setItem("pg-theme", next); } catch (err) { /* private mode */ }
  });

  // ---- Live updates ----
  // The server pushes small JSON events; each page lists what to refresh through
  // [data-live-refresh] elements (an hx-get URL and target) so rendering stays on the server.
  var socket = null;
  var retry = 1000;
  var timers = {};

  function setIndicator(on) {
    document.querySelectorAll("[data-live-indicator]").forEach(function (el) {
      el.classList.toggle("on", on);
      el.textContent = on ? "Live" : "Reconnecting…";
      el.title = on ? "Updates appear without reloading" : "Live updates paused; retrying";
    });
  }

  function refresh(el) {
    // Debounced per element: a burst of generations costs one request.
    var id = el.id || el.getAttribute("data-live-refresh");
    clearTimeout(timers[id]);
    timers[id] = setTimeout(function () {
      var url = el.getAttribute("data-live-refresh") || window.location.pathname + window.location.search;
      if (window.htmx) {
        window.htmx.ajax("GET", url, { target: el, swap: "outerHTML" });
      }
    }, 250);
  }

  function handle(message) {
    document.dispatchEvent(new CustomEvent("pg:live", { detail: message }));
    var events = ["generation", "balance"];
    if (events.indexOf(message.event) === -1) return;
    // Empty states have nothing to refresh in place: the first event reloads the page.
    if (message.event === "generation" && document.querySelector("[data-live-reload]")) {
      window.location.reload();
      return;
    }
    document.querySelectorAll("[data-live-refresh]").forEach(function (el) {
      var on = (el.getAttribute("data-live-on") || "generation balance").split(" ");
      if (on.indexOf(message.event) !== -1) refresh(el);
    });
  }

  function connect() {
    var path = document.body.getAttribute("data-live-url");
    if (!path || !window.WebSocket) return;
    if (!document.querySelector("[data-live-refresh], [data-live-indicator], [data-live-reload]")) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + path);
    socket.addEventListener("open", function () { retry = 1000; setIndicator(true); });
    socket.addEventListener("message", function (event) {
      try { handle(JSON.parse(event.data)); } catch (err) { /* ignore malformed */ }
    });
    socket.addEventListener("close", function (event) {
      setIndicator(false);
      if (event.code === 4401) return; // logged out: do not retry
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  // Rows that arrive after the page loaded get a short highlight.
  var seen = null;
  function markNewRows() {
    var rows = document.querySelectorAll("tr[data-row-id]");
    if (seen === null) {
      seen = {};
      rows.forEach(function (r) { seen[r.getAttribute("data-row-id")] = true; });
      return;
    }
    rows.forEach(function (r) {
      var id = r.getAttribute("data-row-id");
      if (!seen[id]) { r.classList.add("row-new"); seen[id] = true; }
    });
  }
  document.addEventListener("htmx:afterSettle", markNewRows);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { markNewRows(); connect(); });
  } else {
    markNewRows();
    connect();
  }
})();
