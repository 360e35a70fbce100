// A stand-in for Telegram's telegram-web-app.js, injected by tests/browser_helpers.py before
// any script of the page runs. Like the real one it reads the launch parameters from the URL
// fragment (#tgWebAppData=…&tgWebAppVersion=…&tgWebAppPlatform=…&tgWebAppThemeParams=…),
// keeps them in sessionStorage for a reload, and sets the theme's CSS variables. What the page
// asks of Telegram (ready, expand, close, the main button, alerts) is recorded in
// window.TelegramStandIn.calls for the tests to read.
(function () {
  "use strict";
  var KEY = "__telegram__initParams";
  var params = {};
  new URLSearchParams(window.location.hash.replace(/^#/, "")).forEach(function (value, key) {
    params[key] = value;
  });
  try {
    if (params.tgWebAppData !== undefined) {
      window.sessionStorage.setItem(KEY, JSON.stringify(params));
    } else {
      params = JSON.parse(window.sessionStorage.getItem(KEY) || "{}");
    }
  } catch (e) {
    // about:blank and opaque origins have no sessionStorage: nothing to keep.
  }

  var calls = [];
  function record(name, args) {
    calls.push({ name: name, args: Array.prototype.slice.call(args || []) });
  }

  var initData = params.tgWebAppData || "";
  var unsafe = {};
  new URLSearchParams(initData).forEach(function (value, key) {
    if (key === "user" || key === "receiver" || key === "chat") {
      try { unsafe[key] = JSON.parse(value); } catch (e) { unsafe[key] = value; }
    } else if (key === "auth_date" || key === "can_send_after") {
      unsafe[key] = Number(value);
    } else {
      unsafe[key] = value;
    }
  });
  var themeParams = {};
  try { themeParams = JSON.parse(params.tgWebAppThemeParams || "{}"); } catch (e) { /* none */ }

  function applyTheme() {
    var style = document.documentElement.style;
    Object.keys(themeParams).forEach(function (name) {
      style.setProperty("--tg-theme-" + name.replace(/_/g, "-"), themeParams[name]);
    });
    style.setProperty("--tg-viewport-height", window.innerHeight + "px");
    style.setProperty("--tg-viewport-stable-height", window.innerHeight + "px");
  }
  if (document.documentElement) applyTheme();
  else document.addEventListener("DOMContentLoaded", applyTheme);

  var handlers = {};
  function emit(type) {
    (handlers[type] || []).slice().forEach(function (handler) { handler.call(webApp); });
  }

  function bottomButton(name, text) {
    var clicks = [];
    var button = {
      text: text, color: themeParams.button_color || "#2481cc",
      textColor: themeParams.button_text_color || "#ffffff",
      isVisible: false, isActive: true, isProgressVisible: false,
      setText: function (value) { record(name + ".setText", arguments); button.text = String(value); return button; },
      show: function () { record(name + ".show"); button.isVisible = true; return button; },
      hide: function () { record(name + ".hide"); button.isVisible = false; return button; },
      enable: function () { record(name + ".enable"); button.isActive = true; return button; },
      disable: function () { record(name + ".disable"); button.isActive = false; return button; },
      showProgress: function () { record(name + ".showProgress"); button.isProgressVisible = true; return button; },
      hideProgress: function () { record(name + ".hideProgress"); button.isProgressVisible = false; return button; },
      setParams: function (given) {
        record(name + ".setParams", arguments);
        if ("text" in given) button.text = String(given.text);
        if ("color" in given) button.color = given.color;
        if ("text_color" in given) button.textColor = given.text_color;
        if ("is_visible" in given) button.isVisible = Boolean(given.is_visible);
        if ("is_active" in given) button.isActive = Boolean(given.is_active);
        return button;
      },
      onClick: function (handler) { clicks.push(handler); return button; },
      offClick: function (handler) {
        var at = clicks.indexOf(handler);
        if (at >= 0) clicks.splice(at, 1);
        return button;
      },
      // What Telegram does when the person taps it: only the tests call this.
      press: function () {
        if (!button.isVisible || !button.isActive) throw new Error(name + " is not there to press");
        clicks.slice().forEach(function (handler) { handler(); });
      },
    };
    return button;
  }

  function versionAtLeast(wanted) {
    var have = String(params.tgWebAppVersion || "6.0").split(".").map(Number);
    var want = String(wanted).split(".").map(Number);
    for (var i = 0; i < Math.max(have.length, want.length); i++) {
      var a = have[i] || 0, b = want[i] || 0;
      if (a !== b) return a > b;
    }
    return true;
  }

  var standIn = { calls: calls, confirmAnswer: true };
  var backButton = {
    isVisible: false,
    show: function () { record("BackButton.show"); backButton.isVisible = true; return backButton; },
    hide: function () { record("BackButton.hide"); backButton.isVisible = false; return backButton; },
    onClick: function (handler) { webApp.onEvent("backButtonClicked", handler); return backButton; },
    offClick: function (handler) { webApp.offEvent("backButtonClicked", handler); return backButton; },
  };
  var webApp = {
    initData: initData,
    initDataUnsafe: unsafe,
    version: params.tgWebAppVersion || "6.0",
    platform: params.tgWebAppPlatform || "unknown",
    colorScheme: themeParams.bg_color && parseInt(themeParams.bg_color.slice(1), 16) < 0x808080 ? "dark" : "light",
    themeParams: themeParams,
    isExpanded: false,
    viewportHeight: window.innerHeight,
    viewportStableHeight: window.innerHeight,
    headerColor: themeParams.header_bg_color || themeParams.bg_color || "#ffffff",
    backgroundColor: themeParams.bg_color || "#ffffff",
    isClosingConfirmationEnabled: false,
    MainButton: bottomButton("MainButton", "Continue"),
    SecondaryButton: bottomButton("SecondaryButton", "Cancel"),
    BackButton: backButton,
    HapticFeedback: {
      impactOccurred: function () { record("HapticFeedback.impactOccurred", arguments); },
      notificationOccurred: function () { record("HapticFeedback.notificationOccurred", arguments); },
      selectionChanged: function () { record("HapticFeedback.selectionChanged"); },
    },
    isVersionAtLeast: versionAtLeast,
    ready: function () { record("ready"); },
    expand: function () { record("expand"); webApp.isExpanded = true; emit("viewportChanged"); },
    close: function () { record("close"); },
    onEvent: function (type, handler) { (handlers[type] = handlers[type] || []).push(handler); },
    offEvent: function (type, handler) {
      var list = handlers[type] || [];
      var at = list.indexOf(handler);
      if (at >= 0) list.splice(at, 1);
    },
    sendData: function () { record("sendData", arguments); },
    openLink: function () { record("openLink", arguments); },
    openTelegramLink: function () { record("openTelegramLink", arguments); },
    setHeaderColor: function (color) { record("setHeaderColor", arguments); webApp.headerColor = color; },
    setBackgroundColor: function (color) { record("setBackgroundColor", arguments); webApp.backgroundColor = color; },
    enableClosingConfirmation: function () { record("enableClosingConfirmation"); webApp.isClosingConfirmationEnabled = true; },
    disableClosingConfirmation: function () { record("disableClosingConfirmation"); webApp.isClosingConfirmationEnabled = false; },
    showAlert: function (message, callback) { record("showAlert", arguments); if (callback) callback(); },
    showConfirm: function (message, callback) { record("showConfirm", arguments); if (callback) callback(standIn.confirmAnswer); },
    showPopup: function (popup, callback) {
      record("showPopup", arguments);
      var buttons = popup.buttons || [{ id: "" }];
      if (callback) callback(standIn.confirmAnswer ? buttons[0].id || "" : "");
    },
  };
  standIn.webApp = webApp;
  window.Telegram = {
    WebApp: webApp,
    WebView: { initParams: params, isIframe: false, postEvent: function () {}, onEvent: function () {}, offEvent: function () {} },
    Utils: {},
  };
  window.TelegramStandIn = standIn;
})();
