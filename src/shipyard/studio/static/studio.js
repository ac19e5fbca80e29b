// Shipyard studio: small progressive enhancements over server-rendered pages.
"use strict";
(function () {
  // MLflow's UI links (printed by the mlflow client: "View run at http://HOST/#/experiments/3/runs/…")
  // carry their route after '#', which only the browser sees: map it onto the studio's pages.
  var hash = window.location.hash;
  if (window.location.pathname === "/" && hash.indexOf("#/") === 0) {
    var route = hash.slice(1).split("?")[0];
    var m = route.match(/^\/experiments\/([^/]+)(\/runs\/([^/]+))?/) || route.match(/^\/models\/([^/]+)(\/versions\/([^/]+))?/);
    if (m) {
      var base = route.indexOf("/models/") === 0 ? "/studio/models/" : "/studio/experiments/";
      var target = base + m[1] + (m[3] ? (base === "/studio/models/" ? "/versions/" : "/runs/") + m[3] : "");
      window.location.replace(target);
    }
  }

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }

  // The API, as the page's user: the session cookie goes along; mutations add the CSRF header.
  async function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    var csrf = cookie("shipyard_csrf");
    if (csrf) headers["X-Shipyard-CSRF"] = csrf;
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    var answer = await fetch(path, init);
    var text = await answer.text();
    var data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: { code: "HTTP_" + answer.status, message: text.slice(0, 300) } }; }
    if (!answer.ok) {
      var err = (data && data.error) || { code: (data && data.error_code) || "HTTP_" + answer.status, message: (data && data.message) || answer.statusText };
      var failure = new Error(err.message);
      failure.status = answer.status; failure.code = err.code; failure.details = err.details || {};
      throw failure;
    }
    return data;
  }

  // An API error as the API said it, never a blank panel (403 says which permission is missing).
  function showError(el, error) {
    el.hidden = false;
    el.className = "error";
    el.setAttribute("role", "alert");
    var text = (error.status ? error.status + " " : "") + (error.code ? error.code + ": " : "") + error.message;
    if (error.status === 403 && error.details && error.details.permission) text += " — you need a role with " + error.details.permission;
    el.textContent = text;
  }

  async function signIn(form, token) {
    var message = form.querySelector(".error");
    try {
      await api("POST", "/api/v1/session", { token: token });
      var next = form.dataset.next || "/";
      window.location.replace(next + (window.location.hash || ""));
    } catch (error) { showError(message, error); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("login");
    if (form) {
      var params = new URLSearchParams(window.location.search);
      var token = params.get("token");
      if (token) {
        // The token leaves the address bar (and the history) at once, as Jupyter's does.
        params.delete("token");
        var clean = window.location.pathname + (params.toString() ? "?" + params.toString() : "") + window.location.hash;
        window.history.replaceState(null, "", clean);
        signIn(form, token);
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        signIn(form, form.querySelector("#token").value);
      });
    }
    // The workspace the pages read: a cookie (not a credential) the server's API calls send as
    // the Shipyard-Workspace header. The choices are the workspaces the caller has a role in.
    document.querySelectorAll("[data-action=workspace]").forEach(function (button) {
      button.addEventListener("click", async function () {
        var select = document.createElement("select");
        select.setAttribute("aria-label", "Workspace");
        try {
          var found = await api("GET", "/api/v1/workspaces");
          var names = (found.workspaces || []).map(function (w) { return typeof w === "string" ? w : w.name; });
          if (names.indexOf(button.textContent.trim()) < 0) names.unshift(button.textContent.trim());
          names.forEach(function (name) {
            var option = document.createElement("option");
            option.textContent = name;
            option.selected = name === button.textContent.trim();
            select.appendChild(option);
          });
        } catch (error) { showError(button.parentNode.appendChild(document.createElement("span")), error); return; }
        select.addEventListener("change", function () {
          document.cookie = "shipyard_workspace=" + encodeURIComponent(select.value) + "; path=/; SameSite=Strict";
          window.location.reload();
        });
        button.replaceWith(select);
        select.focus();
      });
    });
    document.querySelectorAll("[data-action=sign-out]").forEach(function (button) {
      button.addEventListener("click", async function () {
        try { await api("DELETE", "/api/v1/session"); } catch (e) { /* signed out already */ }
        window.location.assign("/login");
      });
    });
  });

  window.shipyard = { api: api, showError: showError, cookie: cookie };
})();
