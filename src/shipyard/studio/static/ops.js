// Shipyard studio: an online endpoint's traffic form, live request figures and try-it form,
// and a monitor's charts. Everything goes to the public API as the signed-in user
// (window.shipyard.api: session cookie + CSRF header), so the API's checks and errors apply.
"use strict";
(function () {
  var COLOURS = ["#0b63c5", "#1a7f37", "#9a6700", "#cf222e", "#8250df", "#0a7d8c", "#bc4c00", "#57606a"];
  var POLL_MS = 5000;
  var KEEP = 120; // points per live series: 10 minutes at one poll per 5 s

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

  // -- live figures from /metrics -------------------------------------------------------
  // Prometheus text: name{labels} value. Only this endpoint's series are kept.
  function parseMetrics(text, endpoint) {
    var found = { requests: {}, errors: {}, buckets: {} };
    text.split("\n").forEach(function (line) {
      if (!line || line[0] === "#") return;
      var m = line.match(/^(shipyard_endpoint_requests_total|shipyard_endpoint_errors_total|shipyard_endpoint_request_duration_seconds_bucket)\{([^}]*)\}\s+(\S+)/);
      if (!m) return;
      var labels = {};
      m[2].replace(/(\w+)="((?:[^"\\]|\\.)*)"/g, function (_, k, v) { labels[k] = v; return ""; });
      if (labels.endpoint !== endpoint) return;
      var series = labels.deployment + (labels.mirror === "true" ? " (mirror)" : "");
      var value = Number(m[3]);
      if (m[1] === "shipyard_endpoint_requests_total") found.requests[series] = (found.requests[series] || 0) + value;
      else if (m[1] === "shipyard_endpoint_errors_total") found.errors[series] = (found.errors[series] || 0) + value;
      else {
        var le = labels.le === "+Inf" ? Infinity : Number(labels.le);
        (found.buckets[series] = found.buckets[series] || {})[le] = value;
      }
    });
    return found;
  }

  // A percentile of the requests between two scrapes, interpolated in its bucket as
  // Prometheus' histogram_quantile does; the open bucket reads as its lower edge.
  function quantile(q, now, before) {
    var edges = Object.keys(now).map(Number).sort(function (a, b) { return a - b; });
    var total = (now[Infinity] || 0) - ((before || {})[Infinity] || 0);
    if (total <= 0) return null;
    var rank = q * total, lower = 0, below = 0;
    for (var i = 0; i < edges.length; i++) {
      var count = now[edges[i]] - ((before || {})[edges[i]] || 0);
      if (count >= rank) {
        if (edges[i] === Infinity) return lower * 1000;
        var inBucket = count - below;
        return (lower + (edges[i] - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
      }
      below = count; lower = edges[i];
    }
    return null;
  }

  function liveCharts(config) {
    var box = document.querySelector(".live-charts");
    if (!box || !window.uPlot) return;
    var error = document.querySelector(".live-error");
    var previous = null, times = [], series = {}; // series[name] = {rate:[], p50:[], p99:[], errors:[]}
    var charts = {};

    // One chart: a line per name, its points from column(name).
    function draw(id, names, column, unit) {
      var target = document.getElementById(id);
      var data = [times].concat(names.map(column));
      var key = names.join("|");
      if (charts[id] && charts[id].key === key) { charts[id].plot.setData(data); return; }
      if (charts[id]) charts[id].plot.destroy();
      target.textContent = "";
      var opts = {
        width: Math.max(200, target.clientWidth || 320), height: 180,
        series: [{}].concat(names.map(function (n, i) {
          return { label: n, stroke: COLOURS[i % COLOURS.length], width: 1.5, dash: /p99/.test(n) ? [4, 3] : undefined, value: function (u, v) { return v == null ? "—" : v.toFixed(2) + unit; } };
        })),
        axes: [{}, { size: 50 }],
        legend: { live: true },
      };
      charts[id] = { key: key, plot: new window.uPlot(opts, data, target) };
    }

    async function poll() {
      var answer;
      try {
        answer = await fetch("/metrics", { credentials: "same-origin", headers: { "Accept": "text/plain" } });
        if (!answer.ok) {
          var body = await answer.json().catch(function () { return {}; });
          var err = (body && body.error) || { code: "HTTP_" + answer.status, message: answer.statusText };
          var failure = new Error(err.message); failure.status = answer.status; failure.code = err.code; failure.details = err.details || {};
          throw failure;
        }
      } catch (e) {
        window.shipyard.showError(error, e);
        // No permission, or no scoring on this server: say so once, do not poll again.
        return e.status === 403 || e.status === 401 || e.status === 404 ? "stop" : null;
      }
      error.hidden = true;
      var now = { at: Date.now() / 1000, figures: parseMetrics(await answer.text(), config.endpoint) };
      if (previous) {
        var minutes = (now.at - previous.at) / 60;
        times.push(now.at);
        var names = Object.keys(now.figures.requests);
        names.forEach(function (n) {
          if (!series[n]) series[n] = { rate: times.slice(0, -1).map(function () { return null; }), p50: [], p99: [], errors: [] };
          var s = series[n];
          while (s.p50.length < s.rate.length) { s.p50.push(null); s.p99.push(null); s.errors.push(null); }
          var done = now.figures.requests[n] - (previous.figures.requests[n] || 0);
          var failed = (now.figures.errors[n] || 0) - (previous.figures.errors[n] || 0);
          s.rate.push(done / minutes);
          s.errors.push(done > 0 ? failed / done : null);
          s.p50.push(quantile(0.5, now.figures.buckets[n] || {}, previous.figures.buckets[n]));
          s.p99.push(quantile(0.99, now.figures.buckets[n] || {}, previous.figures.buckets[n]));
        });
        Object.keys(series).forEach(function (n) {
          var s = series[n];
          ["rate", "p50", "p99", "errors"].forEach(function (k) {
            while (s[k].length < times.length) s[k].push(null);
            if (s[k].length > KEEP) s[k].splice(0, s[k].length - KEEP);
          });
        });
        if (times.length > KEEP) times.splice(0, times.length - KEEP);
        var all = Object.keys(series).sort();
        if (all.length) {
          draw("chart-rate", all, function (n) { return series[n].rate; }, "/min");
          var latency = {};
          all.forEach(function (n) { latency[n + " p50"] = series[n].p50; latency[n + " p99"] = series[n].p99; });
          draw("chart-latency", Object.keys(latency), function (n) { return latency[n]; }, " ms");
          draw("chart-errors", all, function (n) { return series[n].errors; }, "");
        } else {
          document.querySelectorAll(".live-charts .chart").forEach(function (c) {
            if (!c.textContent) c.textContent = "No requests to this endpoint since this server started.";
          });
        }
      }
      previous = now;
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
