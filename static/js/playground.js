/* Playground: chat through the public /api/v1/chat/completions with the session's playground key,
   reading the server-sent event stream as it arrives. */
(function () {
  "use strict";
  var root = document.getElementById("playground");
  if (!root) return;

  var log = document.getElementById("pg-log");
  var form = document.getElementById("pg-form");
  var input = document.getElementById("pg-input");
  var send = document.getElementById("pg-send");
  var stop = document.getElementById("pg-stop");
  var modelSelect = document.getElementById("pg-model");
  var priceHelp = document.getElementById("pg-price");
  var totalsEl = document.getElementById("pg-totals");
  // The settings form is never submitted; pressing Enter in it must not reload the page.
  document.getElementById("pg-settings").addEventListener("submit", function (e) { e.preventDefault(); });
  var prices = JSON.parse(document.getElementById("pg-prices").textContent);
  var history = [];
  var key = null;
  var controller = null;
  var totals = { tokens: 0, cost: 0 };

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function fmtUsd(usd) {
    if (usd === 0) return "$0.00";
    if (Math.abs(usd) < 0.01) return "$" + usd.toFixed(6);
    return "$" + usd.toFixed(4);
  }

  function showPrice() {
    var p = prices[modelSelect.value];
    priceHelp.textContent = p ? p.input + " in · " + p.output + " out per million tokens" : "";
  }
  modelSelect.addEventListener("change", showPrice);
  showPrice();

  function getKey() {
    if (key) return Promise.resolve(key);
    return fetch(root.getAttribute("data-key-url"), {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken() },
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) throw new Error("Could not start a playground session (HTTP " + r.status + "). Reload the page and sign in again.");
      return r.json();
    }).then(function (data) { key = data.key; return key; });
  }

  function addMessage(role, text) {
    var empty = document.getElementById("pg-empty");
    if (empty) empty.remove();
    var wrap = document.createElement("div");
    wrap.className = "msg " + role;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    var meta = document.createElement("div");
    meta.className = "meta";
    wrap.appendChild(bubble);
    wrap.appendChild(meta);
    log.appendChild(wrap);
    log.scrollTop = log.scrollHeight;
    return { wrap: wrap, bubble: bubble, meta: meta };
  }

  function busy(on) {
    send.disabled = on;
    stop.hidden = !on;
    input.disabled = on;
    if (!on) input.focus();
  }

  function errorMessage(status, body) {
    var message = body && body.error && body.error.message;
    if (status === 402) return (message || "Not enough credits.") + " Add credits on the Credits page.";
    if (status === 429) return (message || "Rate limited.") + " Wait a moment and try again.";
    return message || "The request failed (HTTP " + status + ").";
  }

  function run(messages, view) {
    var model = modelSelect.value;
    var body = {
      model: model,
      messages: messages,
      stream: true,
      stream_options: { include_usage: true }
    };
    var maxTokens = parseInt(document.getElementById("pg-max").value, 10);
    if (maxTokens > 0) body.max_tokens = maxTokens;
    var temperature = parseFloat(document.getElementById("pg-temp").value);
    if (!isNaN(temperature)) body.temperature = temperature;

    controller = new AbortController();
    var text = "";
    var usage = null;
    var started = performance.now();
    var firstToken = null;
    view.bubble.classList.add("streaming");

    return getKey().then(function (secret) {
      return fetch(root.getAttribute("data-api-url"), {
        method: "POST",
        headers: { "Authorization": "Bearer " + secret, "Content-Type": "application/json", "Accept": "text/event-stream" },
        body: JSON.stringify(body),
        signal: controller.signal
      });
    }).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return null; }).then(function (b) {
          if (response.status === 401) key = null; // the session key was revoked: get a new one next time
          throw new Error(errorMessage(response.status, b));
        });
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function handleEvent(data) {
        if (data === "[DONE]") return;
        var chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message || "The stream ended with an error.");
        (chunk.choices || []).forEach(function (choice) {
          var delta = choice.delta || {};
          if (delta.content) {
            if (firstToken === null) firstToken = performance.now() - started;
            text += delta.content;
            view.bubble.textContent = text;
            log.scrollTop = log.scrollHeight;
          }
          if (delta.tool_calls) {
            delta.tool_calls.forEach(function (call) {
              if (call.function && call.function.name) text += "\n[tool call] " + call.function.name + " ";
              if (call.function && call.function.arguments) text += call.function.arguments;
            });
            view.bubble.textContent = text;
          }
        });
        if (chunk.usage) usage = chunk.usage;
      }
      function pump() {
        return reader.read().then(function (result) {
          if (result.done) return;
          buffer += decoder.decode(result.value, { stream: true });
          var events = buffer.split(/\r?\n\r?\n/);
          buffer = events.pop();
          events.forEach(function (event) {
            var data = event.split(/\r?\n/).filter(function (line) { return line.indexOf("data:") === 0; })
              .map(function (line) { return line.slice(5).trim(); }).join("\n");
            if (data) handleEvent(data);
          });
          return pump();
        });
      }
      return pump();
    }).then(function () {
      view.bubble.classList.remove("streaming");
      if (!text) view.bubble.textContent = "(empty answer)";
      history.push({ role: "assistant", content: text });
      var parts = [model];
      if (usage) {
        var cost = typeof usage.cost === "number" ? usage.cost : null;
        parts.push(usage.prompt_tokens + " in · " + usage.completion_tokens + " out");
        if (cost !== null) {
          parts.push(fmtUsd(cost));
          totals.cost += cost;
        }
        totals.tokens += usage.total_tokens || (usage.prompt_tokens + usage.completion_tokens);
        totalsEl.textContent = totals.tokens.toLocaleString() + " tokens · " + fmtUsd(totals.cost);
      }
      if (firstToken !== null) parts.push("first token " + Math.round(firstToken) + " ms");
      view.meta.textContent = parts.join(" · ");
      view.meta.setAttribute("data-testid", "pg-usage");
    }).catch(function (err) {
      view.bubble.classList.remove("streaming");
      if (err.name === "AbortError") {
        view.meta.textContent = "Stopped. You are charged for what was generated.";
        if (text) history.push({ role: "assistant", content: text });
        return;
      }
      view.wrap.classList.add("error");
      view.bubble.textContent = text ? text + "\n\n" + err.message : err.message;
      history.pop(); // the user message that failed is not part of the conversation
    }).then(function () {
      controller = null;
      busy(false);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var content = input.value.trim();
    if (!content || controller) return;
    input.value = "";
    addMessage("user", content);
    history.push({ role: "user", content: content });
    var system = document.getElementById("pg-system").value.trim();
    var messages = (system ? [{ role: "system", content: system }] : []).concat(history);
    busy(true);
    run(messages, addMessage("assistant", ""));
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  stop.addEventListener("click", function () { if (controller) controller.abort(); });

  document.getElementById("pg-clear").addEventListener("click", function () {
    if (controller) controller.abort();
    history = [];
    totals = { tokens: 0, cost: 0 };
    totalsEl.textContent = "0 tokens · $0.00";
    log.innerHTML = "";
    input.focus();
  });
})();
