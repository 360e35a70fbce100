// Callsheet Mini App: the shell loads fragments from the server with Telegram's initData.
// No framework: links with data-view load a fragment into #view, buttons with data-post send
// an action, images with data-src are fetched with the header and shown as blobs.
"use strict";
(function () {
  var view = document.getElementById("view");
  var banner = document.getElementById("error");

  function initData() {
    var tg = window.Telegram && window.Telegram.WebApp;
    if (tg && tg.initData) return tg.initData;
    // Telegram also passes it in the URL fragment: #tgWebAppData=<urlencoded>&tgWebAppVersion=…
    var hash = window.location.hash.replace(/^#/, "");
    var params = new URLSearchParams(hash);
    return params.get("tgWebAppData") || "";
  }

  var auth = "tma " + initData();

  function showError(text) {
    banner.textContent = text;
    banner.hidden = false;
  }

  function request(method, url, body) {
    var headers = { Authorization: auth, Accept: "text/html" };
    if (body) headers["Content-Type"] = "application/x-www-form-urlencoded";
    return fetch(url, { method: method, headers: headers, body: body, credentials: "omit" })
      .then(function (response) {
        return response.text().then(function (text) {
          if (!response.ok) {
            var error = new Error(text || response.statusText);
            error.status = response.status;
            throw error;
          }
          return text;
        });
      });
  }

  function place(target, html) {
    target.innerHTML = html;
    banner.hidden = true;
    wire(target);
    if (target === view) window.scrollTo(0, 0);
  }

  function fail(error) {
    if (error.status === 401 || error.status === 403) {
      // Someone who may not see this sees nothing but why.
      view.innerHTML = "";
    }
    showError(error.message || "Something went wrong. Check your connection and try again.");
  }

  function load(url) {
    view.setAttribute("data-current", url);
    return request("GET", url).then(function (html) { place(view, html); }, fail);
  }

  function wire(root) {
    root.querySelectorAll("[data-view]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        load(link.getAttribute("data-view"));
      });
    });
    root.querySelectorAll("[data-post]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var question = button.getAttribute("data-confirm");
        if (question && !window.confirm(question)) return;
        var form = button.closest("form");
        var body = form ? new URLSearchParams(new FormData(form)).toString() : "";
        var target = document.querySelector(button.getAttribute("data-target") || "#view");
        button.disabled = true;
        request("POST", button.getAttribute("data-post"), body || null)
          .then(function (html) { place(target, html); }, fail)
          .finally(function () { button.disabled = false; });
      });
    });
    root.querySelectorAll("form[data-get]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var query = new URLSearchParams(new FormData(form)).toString();
        load(form.getAttribute("data-get") + (query ? "?" + query : ""));
      });
    });
    root.querySelectorAll("img[data-src]").forEach(function (image) {
      fetch(image.getAttribute("data-src"), { headers: { Authorization: auth } })
        .then(function (response) { return response.ok ? response.blob() : null; })
        .then(function (blob) { if (blob) image.src = URL.createObjectURL(blob); });
    });
  }

  // Tell Telegram the app is ready and may take the whole height. We do not load
  // telegram-web-app.js (no script from another site), so without its WebApp object the
  // events go the ways Telegram's web events documentation lists: the mobile and desktop
  // apps' TelegramWebviewProxy, window.external, or the web client's parent frame.
  function postEvent(type) {
    var tg = window.Telegram && window.Telegram.WebApp;
    var named = { web_app_ready: "ready", web_app_expand: "expand" }[type];
    if (tg && tg[named]) { tg[named](); return; }
    var proxy = window.TelegramWebviewProxy;
    if (proxy && proxy.postEvent) { proxy.postEvent(type, "{}"); return; }
    var message = JSON.stringify({ eventType: type, eventData: {} });
    if (window.external && "notify" in window.external) { window.external.notify(message); return; }
    if (window.parent !== window) window.parent.postMessage(message, "https://web.telegram.org");
  }
  postEvent("web_app_ready");
  postEvent("web_app_expand");
  // "Open board" on a pay sheet or an event card opens that page: /app/?view=/app/view/…
  // (only a path of ours; what it may show is still decided by the server).
  function firstView() {
    var wanted = new URLSearchParams(window.location.search).get("view") || "";
    return /^\/app\/view\/[A-Za-z0-9\/_-]+$/.test(wanted) ? wanted : "/app/view/home";
  }

  load(firstView());
})();
