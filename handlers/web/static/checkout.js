// The checkout page live: state over server-sent events, polling /status when they fail;
// Pay posts without leaving the page. Without this file the page still works (form + Refresh).
(function () {
  "use strict";
  var root = document.getElementById("checkout");
  if (!root) return;
  var key = root.getAttribute("data-key");
  var polling = null;
  var source = null;

  function finished(state) {
    // Everything is paid: nothing more will change, so nothing more is asked.
    if (state !== "done") return false;
    if (source) { source.close(); source = null; }
    if (polling) { window.clearInterval(polling); polling = null; }
    return true;
  }

  function show(data) {
    if (!data || !data.html || data.key === key) return;
    key = data.key;
    var phone = root.querySelector("#phone");
    var typed = phone && document.activeElement === phone ? phone.value : null;
    root.innerHTML = data.html;
    root.setAttribute("data-key", key);
    var fresh = root.querySelector("#phone");
    if (typed !== null && fresh) { fresh.value = typed; fresh.focus(); }
    bind();
    // An answer may arrive after a newer one (Pay's reply after the stream said "paid"):
    // unless all is paid, follow the payment again, and the stream's first event is now.
    if (!finished(data.state) && !source && !polling) listen();
  }

  function say(form, text) {
    var box = form.querySelector("#pay-error");
    if (box) box.textContent = text;
  }

  function bind() {
    var form = root.querySelector("form[data-pay]");
    if (!form) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      if (button) button.disabled = true;
      say(form, "");
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) {
            say(form, data.error || "Something went wrong. Try again.");
            if (button) button.disabled = false;
            return;
          }
          show(data);
        });
      }).catch(function () {
        say(form, "We could not reach the server. Check your connection and try again.");
        if (button) button.disabled = false;
      });
    });
  }

  function poll() {
    if (polling) return;
    polling = window.setInterval(function () {
      fetch(root.getAttribute("data-status"), { headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status === 404 || response.status === 410) {
            window.clearInterval(polling);
            window.location.reload();
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(show)
        .catch(function () { /* offline for a moment: the next round tries again */ });
    }, 3000);
  }

  var heard = 0;
  function listen() {
    if (!window.EventSource) { poll(); return; }
    source = new EventSource(root.getAttribute("data-events"));
    heard = Date.now();
    source.onmessage = function (message) { heard = Date.now(); show(JSON.parse(message.data)); };
    // The server sends "ping" every 15 s. A proxy that holds the stream back delivers
    // nothing: after 40 s of silence, ask /status every 3 s instead.
    source.addEventListener("ping", function () { heard = Date.now(); });
    source.onerror = function () {
      // CONNECTING: the browser retries by itself; CLOSED: it gave up, so poll instead.
      if (source && source.readyState === 2) { source.close(); source = null; poll(); }
    };
    var watchdog = window.setInterval(function () {
      if (!source) { window.clearInterval(watchdog); return; }
      if (Date.now() - heard > 40000) {
        source.close(); source = null; window.clearInterval(watchdog); poll();
      }
    }, 5000);
  }

  bind();
  if (!finished(root.getAttribute("data-state"))) listen();
})();
