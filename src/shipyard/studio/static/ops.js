// Shipyard studio: an online endpoint's traffic form, live request figures and try-it form,
// and a monitor's charts. Everything goes to the public API as the signed-in user
// (window.shipyard.api: session cookie + CSRF header), so the API's checks and errors apply.
"use strict";
(function () {
  var COLOURS = ["#0b63c5", "#1a7f37", "#9a6700", "#cf222e", "#8250df", "#0a7d8c", "#bc4c00", "#57606a"];
  var POLL_MS = 15000; // the figures are per minute: polling faster shows nothing new
  var WINDOW_MINUTES = 60;

  function el(root, selector) { return root.querySelector(selector); }

  // -- traffic form ---------------------------------------------------------------------
  function trafficForm(config) {
    var form = document.getElementById("traffic-form");
    if (!form) return;
    var inputs = Array.prototype.slice.call(form.querySelectorAll("input[data-deployment]"));
    var sum = el(form, ".traffic-sum");
    var message = el(form, ".form-error");
    function read() {
      var split = {}, total = 0, bad = null;
      inputs.forEach(function (input) {
        var text = input.value.trim();
        var value = Number(text);
        if (text === "" || !Number.isInteger(value) || value < 0 || value > 100) {
          bad = bad || input.dataset.deployment + ": a whole number from 0 to 100";
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
          split[input.dataset.deployment] = value;
          total += value;
        }
      });
      return { split: split, total: total, bad: bad };
    }
    function update() {
      var state = read();
      sum.textContent = "Total: " + state.total + "%";
      sum.className = "traffic-sum" + (state.total === 100 || state.total === 0 ? "" : " bad");
    }
    inputs.forEach(function (input) { input.addEventListener("input", update); });
    update();
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      message.hidden = true;
      var state = read();
      if (state.bad) { showMessage(message, state.bad); return; }
      // The API's rule (docs/endpoints.md): integers summing to 100, or all 0.
      if (state.total !== 100 && state.total !== 0) {
        showMessage(message, "The shares add up to " + state.total + "%: they must add up to 100% (or all be 0).");
        return;
      }
      var button = el(form, "button[type=submit]");
      button.disabled = true;
      try {
        await window.shipyard.api("PATCH", "/api/v1/online-endpoints/" + encodeURIComponent(config.endpoint), { traffic: state.split });
        window.location.reload(); // the bars are drawn by the server from the API's answer
      } catch (error) {
        window.shipyard.showError(message, error);
      } finally {
        button.disabled = false;
      }
    });
  }

  function showMessage(box, text) {
    box.hidden = false;
    box.className = "error form-error";
    box.setAttribute("role", "alert");
    box.textContent = text;
  }

  // -- live figures: each deployment's per-minute rows ---------------------------------
  // GET …/deployments/<d>/system answers the minutes every scoring server wrote, added up
  // (requests, errors, latency p50/p99), oldest first; a minute nobody wrote is absent, and
  // is drawn as a gap, not as zero.
  function systemPath(config, deployment) {
    return "/api/v1/online-endpoints/" + encodeURIComponent(config.endpoint) + "/deployments/" +
      encodeURIComponent(deployment) + "/system?minutes=" + WINDOW_MINUTES;
  }

  // One x value per minute of the window (uPlot's time axis is in seconds), and per
  // deployment its rows placed on that axis.
  function toSeries(answers, nowMs) {
    var minuteMs = 60000;
    var last = Math.floor(nowMs / minuteMs) * minuteMs;
    var first = last - (WINDOW_MINUTES - 1) * minuteMs;
    var times = [];
    for (var at = first; at <= last; at += minuteMs) times.push(at / 1000);
    var series = {}, total = 0;
    Object.keys(answers).forEach(function (name) {
      var s = { rate: [], p50: [], p99: [], errors: [] };
      var byMinute = {};
      answers[name].minutes.forEach(function (m) { byMinute[m.at] = m; });
      times.forEach(function (t) {
        var m = byMinute[t * 1000];
        if (!m) { s.rate.push(null); s.p50.push(null); s.p99.push(null); s.errors.push(null); return; }
        total += m.requests;
        s.rate.push(m.requests);
        s.p50.push(m.latency_p50_ms);
        s.p99.push(m.latency_p99_ms);
        s.errors.push(m.requests > 0 ? m.errors / m.requests : null);
      });
      series[name] = s;
    });
    return { times: times, series: series, total: total };
  }

  function liveCharts(config) {
    var box = document.querySelector(".live-charts");
    if (!box) return;
    var error = document.querySelector(".live-error");
    var charts = {};

    function say(text) {
      Object.keys(charts).forEach(function (id) { charts[id].plot.destroy(); delete charts[id]; });
      box.querySelectorAll(".chart").forEach(function (c) {
        c.textContent = "";
        var p = document.createElement("p");
        p.className = "empty";
        p.textContent = text;
        c.appendChild(p);
      });
    }

    // One chart: a line per name, its points from column(name).
    function draw(id, times, names, column, unit) {
      var target = document.getElementById(id);
      var data = [times].concat(names.map(column));
      var key = names.join("|");
      if (charts[id] && charts[id].key === key) { charts[id].plot.setData(data); return; }
      if (charts[id]) charts[id].plot.destroy();
      target.textContent = "";
      var opts = {
        width: Math.max(200, target.clientWidth || 320), height: 180,
        series: [{}].concat(names.map(function (n, i) {
          return { label: n, stroke: COLOURS[i % COLOURS.length], width: 1.5, dash: / p99$/.test(n) ? [4, 3] : undefined, value: function (u, v) { return v == null ? "—" : v.toFixed(2) + unit; } };
        })),
        axes: [{}, { size: 50 }],
        legend: { live: true },
      };
      charts[id] = { key: key, plot: new window.uPlot(opts, data, target) };
    }

    if (!config.deployments.length) { say("No deployments: nothing to count."); return; }
    if (!window.uPlot) { say("The chart library did not load."); return; }

    async function poll() {
      var answers = {};
      try {
        var found = await Promise.all(config.deployments.map(function (d) {
          return window.shipyard.api("GET", systemPath(config, d));
        }));
        config.deployments.forEach(function (d, i) { answers[d] = found[i]; });
      } catch (e) {
        window.shipyard.showError(error, e);
        // Not allowed, or the deployment is gone: say so once, do not poll again.
        return e.status === 403 || e.status === 401 || e.status === 404 ? "stop" : null;
      }
      error.hidden = true;
      var drawn = toSeries(answers, Date.now());
      if (drawn.total === 0) { say("No requests in the last hour."); return null; }
      var names = Object.keys(drawn.series).sort();
      var s = drawn.series;
      draw("chart-rate", drawn.times, names, function (n) { return s[n].rate; }, "/min");
      var latency = {};
      names.forEach(function (n) { latency[n + " p50"] = s[n].p50; latency[n + " p99"] = s[n].p99; });
      draw("chart-latency", drawn.times, Object.keys(latency), function (n) { return latency[n]; }, " ms");
      draw("chart-errors", drawn.times, names, function (n) { return s[n].errors; }, "");
      return null;
    }

    (async function loop() {
      if ((await poll()) === "stop") return;
      if (!document.hidden) setTimeout(loop, POLL_MS); else document.addEventListener("visibilitychange", function again() {
        if (!document.hidden) { document.removeEventListener("visibilitychange", again); loop(); }
      });
    })();
  }

  // -- try it ---------------------------------------------------------------------------
  function tryForm(config) {
    var form = document.getElementById("try-form");
    if (!form) return;
    var error = el(form, ".try-error"), answerBox = el(form, ".try-answer");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      error.hidden = true; answerBox.hidden = true;
      var body = el(form, "#try-body").value;
      try { JSON.parse(body); } catch (e) { showMessage(error, "The request body is not valid JSON: " + e.message); return; }
      var headers = { "Content-Type": "application/json" };
      if (config.workspace && config.workspace !== "default") headers["Shipyard-Workspace"] = config.workspace;
      var deployment = el(form, "#try-deployment").value;
      if (deployment) headers["azureml-model-deployment"] = deployment;
      var button = el(form, "button[type=submit]");
      button.disabled = true;
      try {
        if (config.auth_mode === "key") {
          // Scoring takes the endpoint's key, not the session: read it as this user may (endpoints:keys).
          var keys = await window.shipyard.api("POST", "/api/v1/online-endpoints/" + encodeURIComponent(config.endpoint) + "/keys");
          headers["Authorization"] = "Bearer " + keys.primaryKey;
        }
        var started = performance.now();
        var answer = await fetch("/endpoints/" + encodeURIComponent(config.endpoint) + "/score", {
          method: "POST", headers: headers, body: body, credentials: "omit",
        });
        var took = performance.now() - started;
        var text = await answer.text();
        var shown = text;
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: as it came */ }
        answerBox.hidden = false;
        el(form, ".try-status").textContent = answer.status + " " + answer.statusText + " in " + took.toFixed(0) + " ms" +
          (answer.headers.get("azureml-model-deployment") ? " · served by " + answer.headers.get("azureml-model-deployment") : "") +
          (answer.headers.get("x-request-id") ? " · request " + answer.headers.get("x-request-id") : "");
        el(form, ".try-status").className = "try-status" + (answer.ok ? "" : " bad");
        el(form, ".try-output").textContent = shown;
      } catch (e) {
        window.shipyard.showError(error, e);
      } finally {
        button.disabled = false;
      }
    });
  }

  // -- monitor charts -------------------------------------------------------------------
  // Each .monitor-chart holds its series as JSON (x: seconds, values, threshold, breached).
  function monitorCharts() {
    document.querySelectorAll(".monitor-chart[data-series]").forEach(function (box) {
      if (!window.uPlot) return;
      var s = JSON.parse(box.dataset.series);
      var breachedPoints = s.values.map(function (v, i) { return s.breached[i] ? v : null; });
      var opts = {
        width: Math.max(200, box.clientWidth || 320), height: 180,
        series: [
          {},
          { label: s.metric, stroke: COLOURS[0], width: 1.5, points: { show: true } },
          { label: "threshold (" + s.breach_when + ")", stroke: COLOURS[3], width: 1, dash: [6, 4], points: { show: false } },
          { label: "breached", stroke: COLOURS[3], width: 0, paths: function () { return null; }, points: { show: true, size: 9, fill: COLOURS[3] } },
        ],
        axes: [{}, { size: 56 }],
      };
      box.textContent = "";
      new window.uPlot(opts, [s.x, s.values, s.threshold, breachedPoints], box);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("endpoint");
    if (root) {
      var config = JSON.parse(root.dataset.config);
      trafficForm(config);
      liveCharts(config);
      tryForm(config);
    }
    monitorCharts();
  });
})();
